-- Internal to lambda.emulator (not part of the public API; see docs/scripting.md).
-- The pool's instances: starting them through the launcher, the Init clock, their exit, and
-- stopping them (one, a function's, all of them for a restart or a shutdown). Methods of the
-- pool (pool.lua), kept apart so that each file has one concern.
local capacity = require("lambda.emulator.capacity")
local event = require("lambda.event")
local ids = require("lambda.emulator.ids")

return function(Pool, M)
  function Pool:start_instance(state)
    local instance = {
      id = ids.uuid(),
      function_name = state.name,
      state = "starting",
      startup_output = {},
    }
    state.instances[instance.id] = instance
    self.instances[instance.id] = instance
    self.live = self.live + 1
    local ok, message = self.launcher.start(self, instance)
    if not ok then
      instance.state = "dead"
      state.instances[instance.id] = nil
      self.instances[instance.id] = nil
      self.live = self.live - 1
      self:fail_queue(state, "Runtime.StartError", message)
      self:forget_if_unused(state)
    end
  end

  -- The Init phase's clock, started by the launcher when the function's own process runs (a
  -- build before it does not count): an instance that has not asked for work when it runs out
  -- fails what waits for it and is stopped.
  function Pool:start_init_clock(instance)
    if instance.init_timer or instance.ready or instance.state == "dead" or instance.stopping then
      return
    end
    instance.init_timer = event.timer(self.init_timeout, function()
      instance.init_timer = nil
      if not instance.ready and instance.state ~= "dead" and not instance.stopping then
        self:init_timed_out(instance)
      end
    end)
  end

  -- AWS gives the Init phase 10 s; when it runs out the sandbox's time is up (Sandbox.Timedout).
  -- AWS then tries Init once more inside the invocation, under the function's timeout; a
  -- function that hangs before /next would hang again, so the emulator fails at once.
  function Pool:init_timed_out(instance)
    local state = self:function_state(instance.function_name)
    local queue = state.queue
    state.queue = {}
    for _, invocation in ipairs(queue) do
      self:fail(invocation, "Sandbox.Timedout", string.format("RequestId: %s Error: Init phase "
        .. "timed out after %.2f seconds (--init-timeout): the function never asked for an "
        .. "invocation", invocation.id, self.init_timeout))
    end
    self.print(instance.function_name, string.format("no request for work within %.2f s of "
      .. "starting (--init-timeout): stopping the instance", self.init_timeout))
    self:stop_instance(instance, "init timeout")
  end

  -- The launcher reports that the instance's process ended.
  function Pool:instance_exited(instance, code, signal)
    if instance.exited then
      return
    end
    instance.exited = true
    local state = self:function_state(instance.function_name)
    local was_ready = instance.ready
    instance.state = "dead"
    state.instances[instance.id] = nil
    self.instances[instance.id] = nil
    self.live = self.live - 1
    if instance.init_timer then
      instance.init_timer:cancel()
      instance.init_timer = nil
    end
    for i = #state.waiters, 1, -1 do
      if state.waiters[i].instance == instance then
        table.remove(state.waiters, i)
      end
    end
    if instance.on_dead then
      instance.on_dead()
    end
    local how = signal and ("signal " .. signal) or ("exit status " .. tostring(code))
    if instance.current then
      self:fail(instance.current, "Runtime.ExitError", string.format(
        "RequestId: %s Error: Runtime exited with error: %s", instance.current.id, how))
    end
    if instance.stopping then
      self:dispatch(state)
    elseif not was_ready then
      -- It never asked for work: a failed build or a crash at start. Its output says why.
      local output = table.concat(instance.startup_output, "\n")
      self:fail_queue(state, "Runtime.ExitError", string.format(
        "%s exited before it was ready (%s)%s", instance.function_name, how,
        output ~= "" and (": " .. output) or ""))
    else
      self:dispatch(state)
    end
    self:forget_if_unused(state)
    capacity.serve(self)
  end

  -- A function with no instance, nothing queued and no runtime waiting is forgotten: thousands
  -- of names invoked once (or throttled, or that failed to start) must not keep a record each.
  function Pool:forget_if_unused(state)
    if self.functions[state.name] == state and next(state.instances) == nil and #state.queue == 0
      and #state.waiters == 0 then
      self.functions[state.name] = nil
    end
  end

  -- An /init/error: the function cannot start, so its queued invocations cannot run either.
  function Pool:init_error(instance, error_type, body)
    local state = self:function_state(instance.function_name)
    local queue = state.queue
    state.queue = {}
    for _, invocation in ipairs(queue) do
      self:finish(invocation, { ok = false, body = body, error_type = error_type })
    end
    self:stop_instance(instance, "init error")
  end

  function Pool:stop_instance(instance, reason)
    if instance.state == "dead" or instance.stopping then
      return
    end
    instance.stopping = reason
    -- Its pending /next, if any, must not be handed an invocation while it shuts down (it is
    -- left unanswered: the process is on its way out).
    local waiters = self:function_state(instance.function_name).waiters
    for i = #waiters, 1, -1 do
      if waiters[i].instance == instance then
        table.remove(waiters, i)
      end
    end
    if self.extensions then
      self.extensions:shutdown(instance, reason)
    end
    if instance.process and instance.process:running() then
      instance.process:kill("TERM")
      local process = instance.process
      event.timer(2, function()
        if process:running() then
          process:kill("KILL")
        end
      end)
    else
      self:instance_exited(instance, nil, nil)
    end
  end

  -- Stops every instance (shutdown, or a rebuild after a file change). On shutdown nothing new
  -- starts and every pending invocation is answered.
  function Pool:shutdown(reason)
    self.closing = true
    if self.extensions then
      self.extensions:shutdown_by_hand(reason)
    end
    for _, state in pairs(self.functions) do
      self:fail_queue(state, "Runtime.Shutdown", "the emulator is shutting down")
    end
    for _, invocation in pairs(self.running) do
      self:fail(invocation, "Runtime.Shutdown", "the emulator is shutting down")
    end
    self:stop_all(reason)
  end

  function Pool:stop_all(reason, function_name)
    for _, instance in pairs(self.instances) do
      if not function_name or instance.function_name == function_name then
        self:stop_instance(instance, reason)
      end
    end
  end

  -- After a change to the project: instances stop now, or when their invocation ends, and the
  -- next invocation starts (and so rebuilds) a fresh one.
  function Pool:restart_all(reason)
    for _, instance in pairs(self.instances) do
      if instance.current then
        instance.restart_after = reason
      else
        self:stop_instance(instance, reason)
      end
    end
  end

  -- SIGKILL to every instance's process group (the last step of a shutdown).
  function Pool:kill_all()
    for _, instance in pairs(self.instances) do
      if instance.process and instance.process:running() then
        instance.process:kill("KILL")
      end
    end
  end

  function Pool:has_instances()
    return next(self.instances) ~= nil
  end
end
