-- The instance cap (lambda.emulator.capacity through the pool): the least recently used idle
-- instance makes room, with none idle invocations are throttled (Events wait), and functions
-- left with nothing are forgotten. The launcher, processes and requests are stand-ins, so
-- every step is the test's to take.
local t = require("testing")
local pool_module = require("lambda.emulator.pool")

local function new_pool(max_instances, fail_start)
  local launched, killed = {}, {}
  local launcher = {
    start = function(_, instance)
      if fail_start then
        return nil, "cannot run it"
      end
      launched[#launched + 1] = instance
      instance.process = {
        running = function()
          return true
        end,
        kill = function(_, signal)
          killed[#killed + 1] = instance.function_name .. " " .. signal
        end,
      }
      return true
    end,
  }
  local pool = pool_module.new({ max_instances = max_instances, launcher = launcher })
  return pool, launched, killed
end

local function sink()
  return {
    closed = function()
      return false
    end,
    complete = function(invocation, outcome)
      invocation.outcome = outcome
    end,
  }
end

local function invoke(pool, name, invocation_type)
  local invocation = pool:new_invocation({ function_name = name, sink = sink(),
    invocation_type = invocation_type })
  pool:enqueue(invocation)
  return invocation
end

-- The instance asks for work (GET /next); returns the stand-in request.
local function ask(pool, instance)
  local request = {
    respond = function(self, status, _, body)
      self.answer = { status = status, body = body }
    end,
    on_close = function() end,
  }
  pool:next_waiter(pool:function_state(instance.function_name), request, instance)
  return request
end

-- The instance starts, runs the queued invocation and answers it.
local function serve_one(pool, instance, invocation)
  local request = ask(pool, instance)
  t.eq(request.answer and request.answer.status, 200, "delivered to " .. instance.function_name)
  pool:finish(invocation, { ok = true, body = "{}" })
end

local function count(map)
  local n = 0
  for _ in pairs(map) do
    n = n + 1
  end
  return n
end

t.case("at the cap the least recently used idle instance makes room", function()
  local pool, launched, killed = new_pool(2)
  local a = invoke(pool, "a")
  serve_one(pool, launched[1], a)
  local b = invoke(pool, "b")
  serve_one(pool, launched[2], b)
  local a2 = invoke(pool, "a")
  serve_one(pool, launched[1], a2) -- a is now the more recent
  local c = invoke(pool, "c")
  t.eq(#launched, 2, "no third instance while b's is on its way out")
  t.eq(killed, { "b TERM" })
  t.eq(pool.live, 2)
  pool:instance_exited(launched[2], nil, "TERM")
  t.eq(#launched, 3)
  t.eq(launched[3].function_name, "c")
  t.eq(pool.live, 2)
  t.eq(pool.functions.b, nil, "b is forgotten")
  serve_one(pool, launched[3], c)
  t.eq(c.outcome.ok, true)
end)

t.case("with nothing idle a call is throttled at once and an Event waits", function()
  local pool, launched, killed = new_pool(1)
  local a = invoke(pool, "a") -- its instance is starting: not idle
  local b = invoke(pool, "b")
  t.eq(b.outcome and b.outcome.service_error and b.outcome.service_error.status, 429)
  t.eq(b.outcome.service_error.fields, { Reason = "ConcurrentInvocationLimitExceeded" })
  t.eq(pool.functions.b, nil, "a throttled function leaves no record")
  local event = invoke(pool, "e", "Event")
  t.eq(event.outcome, nil, "the Event waits")
  t.eq(#launched, 1)
  serve_one(pool, launched[1], a)
  ask(pool, launched[1]) -- idle now: the Event's function takes its slot
  t.eq(killed, { "a TERM" })
  pool:instance_exited(launched[1], nil, "TERM")
  t.eq(#launched, 2)
  t.eq(launched[2].function_name, "e")
  serve_one(pool, launched[2], event)
  t.eq(event.outcome.ok, true)
end)

t.case("a function with an instance of its own queues behind it instead", function()
  local pool, launched = new_pool(1)
  local first = invoke(pool, "a")
  local second = invoke(pool, "a")
  t.eq(second.outcome, nil)
  serve_one(pool, launched[1], first)
  serve_one(pool, launched[1], second)
  t.eq(second.outcome.ok, true)
  t.eq(#launched, 1)
end)

t.case("a start that fails answers at once and leaves no record", function()
  local pool = new_pool(4, true)
  for i = 1, 50 do
    local invocation = invoke(pool, "f" .. i)
    t.eq(invocation.outcome.error_type, "Runtime.StartError")
  end
  t.eq(count(pool.functions), 0)
  t.eq(pool.live, 0)
end)

return t.run()
