-- Internal to lambda.emulator (not part of the public API; see docs/scripting.md).
-- The emulator's heart: per-function FIFO queues of invocations, the instances that run them,
-- and the rule that nothing ever leaves an invoker waiting (a crash, a failed start, an init
-- error or a timeout answers at once).
--
-- An invocation carries a sink that knows how to answer whoever asked (the Invoke API, the
-- streaming Invoke API, a function URL, or nobody for Event):
--   sink.complete(invocation, outcome)   outcome = {ok = bool, body = string, error_type = s}
--   sink.begin_stream(invocation) -> {chunk = fn(data), finish = fn(outcome)} | nil
--   sink.closed() -> true when the invoker went away
-- The Runtime API side calls pool:next_waiter/respond/fail; see runtime_api.lua.
-- Instances are capped across all functions: see capacity.lua.
local capacity = require("lambda.emulator.capacity")
local crypto = require("lambda.crypto")
local event = require("lambda.event")
local ids = require("lambda.emulator.ids")
local limits = require("lambda.emulator.limits")

local M = {}

M.LOG_TAIL_BYTES = 4096
M.STARTUP_OUTPUT_BYTES = 16384
-- How long a Tail answer waits for output still in the function's pipe.
M.LOG_SETTLE_SECONDS = 0.005

local Pool = {}
Pool.__index = Pool

-- options: concurrency, timeout (seconds), init_timeout (seconds), max_instances, region,
--   launcher = {start = fn(pool, instance) -> true | nil, message} or nil (functions started by
--   hand; the launcher calls pool:start_init_clock(instance) once the function's own process
--   runs), print(name, line), extensions, on_invocation(record) (see Pool:report).
function M.new(options)
  return setmetatable({
    concurrency = options.concurrency or 1,
    timeout = options.timeout or 900,
    init_timeout = options.init_timeout or limits.INIT_TIMEOUT,
    max_instances = options.max_instances or limits.MAX_INSTANCES,
    region = options.region or "us-east-1",
    launcher = options.launcher,
    extensions = options.extensions,
    print = options.print or function() end,
    on_invocation = options.on_invocation,
    functions = {},
    running = {}, -- request id -> invocation, for /response and /error
    instances = {},
    live = 0, -- instances in `instances`, stopping ones included: each is a process
    capacity_waiters = {}, -- function states waiting for an instance slot, in order
  }, Pool)
end

function Pool:function_state(name)
  local state = self.functions[name]
  if not state then
    state = { name = name, queue = {}, waiters = {}, instances = {} }
    self.functions[name] = state
  end
  return state
end

local function trim_to(buffer, limit)
  local total = 0
  for i = #buffer, 1, -1 do
    total = total + #buffer[i] + 1
    if total > limit then
      return table.move(buffer, i + 1, #buffer, 1, {})
    end
  end
  return buffer
end

-- Output of an instance: printed with the function's name, and kept for the invocation it is
-- running (X-Amz-Log-Result) or, before its first /next, for start-up failures.
function Pool:output(instance, line)
  self.print(instance.function_name, line)
  -- The running invocation, or the one whose log tail is about to be sent (see finish).
  local owner = instance.current or instance.log_owner
  local target = owner and owner.log or instance.startup_output
  target[#target + 1] = line
  if #target > 256 then
    local trimmed = trim_to(target, owner and M.LOG_TAIL_BYTES or M.STARTUP_OUTPUT_BYTES)
    if owner then
      owner.log = trimmed
    else
      instance.startup_output = trimmed
    end
  end
end

function Pool:new_invocation(fields)
  local now = event.now()
  local invocation = {
    id = fields.id or ids.uuid(),
    function_name = fields.function_name,
    payload = fields.payload or "",
    qualifier = fields.qualifier,
    client_context = fields.client_context,
    identity = fields.identity,
    trace_id = fields.trace_id or ids.trace_id(now),
    invocation_type = fields.invocation_type or "RequestResponse",
    route = fields.route or "invoke",
    log_type = fields.log_type,
    sink = fields.sink,
    log = {},
    state = "new",
    created = now,
  }
  invocation.arn = ids.function_arn(self.region, invocation.function_name, invocation.qualifier)
  return invocation
end

-- The tail AWS puts in X-Amz-Log-Result: the last 4 KB of the invocation's log, base64.
function M.log_tail(invocation)
  local lines = { "START RequestId: " .. invocation.id .. " Version: $LATEST" }
  table.move(invocation.log, 1, #invocation.log, 2, lines)
  lines[#lines + 1] = "END RequestId: " .. invocation.id
  lines[#lines + 1] = string.format("REPORT RequestId: %s\tDuration: %.2f ms", invocation.id,
    ((invocation.finished or event.now()) - (invocation.started or invocation.created)) * 1000)
  local text = table.concat(lines, "\n") .. "\n"
  return crypto.base64_encode(text:sub(-M.LOG_TAIL_BYTES))
end

local function error_body(kind, message)
  local json = require("lambda.json")
  return json.encode({ errorType = kind, errorMessage = message })
end
M.error_body = error_body

-- What became of an invocation, as on_invocation's record says it: "ok", "function_error"
-- (the function reported it: /error, /init/error, a streamed error), "timeout", "error" (the
-- emulator's: the instance exited or could not start, a throttle, a shutdown, an answer over
-- the limit), "cancelled" (the invoker went away before it ran).
local function outcome_name(outcome)
  if outcome.ok then
    return "ok"
  elseif outcome.error_type == "Sandbox.Timedout" then
    return "timeout"
  elseif outcome.by_emulator or outcome.service_error then
    return "error"
  end
  return "function_error"
end

-- Tells on_invocation, once per invocation, what became of it:
--   {function_name, request_id, route = "invoke" | "stream" | "event" | "url",
--    outcome (see outcome_name) | "cancelled", error_type (nil when ok),
--    queued = seconds before an instance took it (a build and a start included),
--    duration = seconds it ran, or nil when it never ran}
-- A hook that raises is reported on stderr; the emulator goes on.
function Pool:report(invocation, outcome_text, error_type)
  local hook = self.on_invocation
  if not hook then
    return
  end
  local finished = invocation.finished or event.now()
  local started = invocation.started
  local record = {
    function_name = invocation.function_name,
    request_id = invocation.id,
    route = invocation.route,
    outcome = outcome_text,
    error_type = error_type,
    queued = math.max(0, (started or finished) - invocation.created),
    duration = started and math.max(0, finished - started) or nil,
  }
  local ok, problem = xpcall(hook, debug.traceback, record)
  if not ok then
    io.stderr:write("lambda.emulator: error in on_invocation: " .. tostring(problem) .. "\n")
  end
end

-- Ends an invocation once: stops its timer, forgets it, answers its sink.
function Pool:finish(invocation, outcome)
  if invocation.state == "done" then
    return
  end
  invocation.state = "done"
  invocation.finished = event.now()
  if invocation.timer then
    invocation.timer:cancel()
    invocation.timer = nil
  end
  self.running[invocation.id] = nil
  local instance = invocation.instance
  if instance and instance.current == invocation then
    instance.current = nil
  end
  local function answer()
    if invocation.stream then
      invocation.stream.finish(outcome)
    elseif not invocation.sink.closed() then
      invocation.sink.complete(invocation, outcome)
    end
  end
  if invocation.log_type == "Tail" and instance and instance.process then
    -- What the function printed just before answering may still sit in its output pipe:
    -- answer a moment later, after the loop has read it, so the log tail holds it.
    instance.log_owner = invocation
    event.timer(M.LOG_SETTLE_SECONDS, function()
      if instance.log_owner == invocation then
        instance.log_owner = nil
      end
      answer()
    end)
  else
    answer()
  end
  if instance and instance.restart_after then
    self:stop_instance(instance, instance.restart_after)
  end
  self:report(invocation, outcome_name(outcome), outcome.error_type
    or (outcome.service_error and outcome.service_error.kind) or nil)
end

-- Ends an invocation with an error of the emulator's own (not the function's).
function Pool:fail(invocation, kind, message)
  self:finish(invocation, { ok = false, body = error_body(kind, message), error_type = kind,
    by_emulator = true })
end

-- Queues an invocation and gets it running as soon as an instance can take it.
function Pool:enqueue(invocation)
  local state = self:function_state(invocation.function_name)
  invocation.state = "queued"
  state.queue[#state.queue + 1] = invocation
  self:dispatch(state)
end

-- Drops a queued invocation whose invoker went away.
function Pool:cancel(invocation)
  if invocation.state ~= "queued" then
    return
  end
  local state = self:function_state(invocation.function_name)
  for i, queued in ipairs(state.queue) do
    if queued == invocation then
      table.remove(state.queue, i)
      break
    end
  end
  invocation.state = "done"
  invocation.finished = event.now()
  self:forget_if_unused(state)
  self:report(invocation, "cancelled", nil)
end

local function alive_instances(state)
  local alive, starting = 0, 0
  for _, instance in pairs(state.instances) do
    if instance.state ~= "dead" then
      alive = alive + 1
      if instance.state == "starting" then
        starting = starting + 1
      end
    end
  end
  return alive, starting
end

function Pool:dispatch(state)
  if self.closing then
    return
  end
  while #state.queue > 0 and #state.waiters > 0 do
    local invocation = table.remove(state.queue, 1)
    local waiter = table.remove(state.waiters, 1)
    state.last_used = event.now()
    self:deliver(invocation, waiter)
  end
  if #state.queue == 0 or not self.launcher then
    return
  end
  local alive, starting = alive_instances(state)
  local wanted = #state.queue - starting
  while wanted > 0 and alive < self.concurrency do
    local slot = capacity.claim(self, state)
    if slot == "wait" then
      return
    elseif slot == "throttle" then
      -- A function with instances of its own queues behind them, as --concurrency says.
      if alive == 0 then
        capacity.throttle(self, state)
      end
      return
    end
    self:start_instance(state)
    alive, wanted = alive + 1, wanted - 1
  end
end

-- Hands an invocation to a runtime's waiting /next request.
function Pool:deliver(invocation, waiter)
  local now = event.now()
  invocation.state = "running"
  invocation.started = now
  invocation.instance = waiter.instance
  invocation.deadline_ms = math.floor((now + self.timeout) * 1000)
  self.running[invocation.id] = invocation
  if waiter.instance then
    waiter.instance.current = invocation
    waiter.instance.state = "busy"
  end
  invocation.timer = event.timer(self.timeout, function()
    invocation.timer = nil
    self:timed_out(invocation)
  end)
  local headers = {
    { "Lambda-Runtime-Aws-Request-Id", invocation.id },
    { "Lambda-Runtime-Deadline-Ms", string.format("%d", invocation.deadline_ms) },
    { "Lambda-Runtime-Invoked-Function-Arn", invocation.arn },
    { "Lambda-Runtime-Trace-Id", invocation.trace_id },
    { "Content-Type", "application/json" },
  }
  if invocation.client_context then
    headers[#headers + 1] = { "Lambda-Runtime-Client-Context", invocation.client_context }
  end
  if invocation.identity then
    headers[#headers + 1] = { "Lambda-Runtime-Cognito-Identity", invocation.identity }
  end
  waiter.request:respond(200, headers, invocation.payload)
  if self.extensions then
    self.extensions:invoke(waiter.instance, invocation)
  end
end

function Pool:timed_out(invocation)
  if invocation.state ~= "running" then
    return
  end
  local instance = invocation.instance
  self:fail(invocation, "Sandbox.Timedout", string.format("%s Task timed out after %.2f seconds",
    invocation.id, self.timeout))
  -- The instance may be stuck in the handler: replace it.
  if instance then
    self:stop_instance(instance, "timeout")
  end
end

-- A runtime asks for work: the waiter is answered now or when work arrives.
function Pool:next_waiter(state, request, instance)
  if instance then
    if instance.state == "dead" then
      request:respond(410, {}, error_body("InstanceStopped", "this instance was stopped"))
      return
    end
    -- A stopping instance (timeout, init error, restart after a change) must get no more work:
    -- an invocation handed to it would die with it. Its /next just waits, as on AWS, until
    -- the process is gone.
    if instance.stopping then
      return
    end
    -- Asking for the next event ends whatever the instance was doing.
    if instance.current then
      self:fail(instance.current, "Runtime.InvalidResponse",
        "the runtime asked for the next invocation without answering this one")
    end
    instance.state = "idle"
    instance.ready = true
    if instance.init_timer then
      instance.init_timer:cancel()
      instance.init_timer = nil
    end
  end
  local waiter = { request = request, instance = instance }
  state.waiters[#state.waiters + 1] = waiter
  request:on_close(function()
    for i, queued in ipairs(state.waiters) do
      if queued == waiter then
        table.remove(state.waiters, i)
        break
      end
    end
    self:forget_if_unused(state)
  end)
  self:dispatch(state)
  -- An instance with nothing to do may be what a function waiting for a slot needs.
  if instance and instance.state == "idle" then
    capacity.serve(self)
  end
end

-- Every queued invocation of the function gets the same error (a failed build or start).
function Pool:fail_queue(state, kind, message)
  local queue = state.queue
  state.queue = {}
  for _, invocation in ipairs(queue) do
    self:fail(invocation, kind, message)
  end
end

-- The invocation a runtime answers for (by request id), while it runs.
function Pool:running_invocation(id)
  return self.running[id]
end

-- Every queued invocation of the function ends with the same outcome (an init error reported
-- on the main port, where no instance of ours is known).
function Pool:fail_queue_with(state, outcome)
  local queue = state.queue
  state.queue = {}
  for _, invocation in ipairs(queue) do
    self:finish(invocation, outcome)
  end
end

-- The Extensions API, Logs and Telemetry paths; false when the emulator serves none.
function Pool:route_extension(request, rest, state, instance)
  if not self.extensions then
    return false
  end
  return self.extensions:route(request, rest, state, instance)
end

function Pool:forget_extensions(instance)
  if self.extensions then
    self.extensions:forget(instance)
  end
end

-- The names of the functions invoked so far (those still known).
function Pool:function_names()
  local names = {}
  for name in pairs(self.functions) do
    names[#names + 1] = name
  end
  table.sort(names)
  return names
end

-- The instances' life (start, Init clock, exit, stop, restart) is in instances.lua.
require("lambda.emulator.instances")(Pool, M)

return M
