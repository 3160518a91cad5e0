-- Internal to lambda.emulator (not part of the public API; see docs/scripting.md).
-- The cap on live instances across all functions (pool.max_instances, --max-instances). At the
-- cap, a function that needs an instance takes the slot of an idle instance of the function
-- used least recently, which is stopped; when no instance is idle, its invocations are
-- throttled at once, as AWS throttles at its concurrency limit (Event invocations wait
-- instead, as AWS keeps them queued). The pool calls these with itself; it keeps the count
-- (pool.live: instances with a process, stopping ones included) and the waiting functions
-- (pool.capacity_waiters: function states, in order).
local M = {}

-- AWS's answer when an invocation cannot get an instance.
M.THROTTLED = {
  status = 429,
  kind = "TooManyRequestsException",
  message = "Rate Exceeded.",
  fields = { Reason = "ConcurrentInvocationLimitExceeded" },
  headers = { { "Retry-After", "1" } },
}

-- The idle instance of the function used least recently, other than `state`'s. Idle: it has
-- started and runs no invocation (waiting on /next, or about to ask: its last invocation is
-- answered, so stopping it loses nothing).
function M.least_recently_used_idle(pool, state)
  local best, best_used
  for _, instance in pairs(pool.instances) do
    if instance.ready and not instance.current and not instance.stopping
      and not instance.restart_after and instance.function_name ~= state.name then
      local owner = pool.functions[instance.function_name]
      local used = owner and owner.last_used or 0
      if not best or used < best_used then
        best, best_used = instance, used
      end
    end
  end
  return best
end

local function wait(pool, state)
  for _, waiting in ipairs(pool.capacity_waiters) do
    if waiting == state then
      return
    end
  end
  pool.capacity_waiters[#pool.capacity_waiters + 1] = state
end

-- Whether `state` may start an instance now ("start"), will get a slot when an instance on its
-- way out is gone ("wait"), or cannot have one ("throttle").
function M.claim(pool, state)
  if pool.live < pool.max_instances then
    return "start"
  end
  for _, instance in pairs(pool.instances) do
    if instance.stopping then
      wait(pool, state)
      return "wait"
    end
  end
  local victim = M.least_recently_used_idle(pool, state)
  if not victim then
    return "throttle"
  end
  -- Registered first: stopping may report the exit at once, which serves the waiters.
  wait(pool, state)
  pool:stop_instance(victim, "reclaimed")
  return "wait"
end

-- No slot and no idle instance: synchronous invocations get TooManyRequestsException at once;
-- Event invocations stay queued until an instance can be had.
function M.throttle(pool, state)
  local kept, throttled = {}, 0
  for _, invocation in ipairs(state.queue) do
    if invocation.invocation_type == "Event" then
      kept[#kept + 1] = invocation
    else
      throttled = throttled + 1
      pool:finish(invocation, { ok = false, service_error = M.THROTTLED })
    end
  end
  state.queue = kept
  if #kept > 0 then
    wait(pool, state)
  else
    pool:forget_if_unused(state)
  end
  if throttled > 0 then
    pool.print(state.name, string.format("throttled %d invocation(s): %d instances live "
      .. "(--max-instances) and none idle", throttled, pool.live))
  end
end

-- Gives the waiting functions another chance at a slot (an instance went, or became idle).
function M.serve(pool)
  if #pool.capacity_waiters == 0 or pool.closing then
    return
  end
  local waiting = pool.capacity_waiters
  pool.capacity_waiters = {}
  for _, state in ipairs(waiting) do
    pool:dispatch(state)
  end
end

return M
