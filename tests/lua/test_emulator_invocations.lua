-- lambda.emulator's on_invocation hook: one record per invocation once it has been answered,
-- with the function, the request id, the route, the outcome and its timing, for every route.
local t = require("testing")
local lambda = require("lambda")

local BIN = os.getenv("CARGO_LAMBDA_BIN")
local PROBE = "../../fixtures/functions/probe.lua"

local records = {}
local emulator = assert(lambda.emulator.start({ command = { BIN, "run", PROBE },
  on_output = false, timeout = 1,
  on_invocation = function(record)
    records[#records + 1] = record
  end }))
local client = emulator:client({ timeout = 10 })

-- The record of request id, waiting for it (the hook runs once the invocation is answered;
-- an Event invocation is answered before it runs), for 10 s at most.
local function record_of(request_id)
  local deadline = lambda.time.monotonic() + 10
  repeat
    for _, record in ipairs(records) do
      if record.request_id == request_id then
        return record
      end
    end
    lambda.sleep(0.01)
  until lambda.time.monotonic() > deadline
  error("no record for " .. tostring(request_id), 2)
end

local function check_timing(record)
  t.eq(type(record.queued), "number", "queued")
  t.eq(record.queued >= 0 and record.queued < 10, true, "queued " .. record.queued)
  t.eq(type(record.duration), "number", "duration")
  t.eq(record.duration >= 0 and record.duration < 10, true, "duration " .. record.duration)
end

t.case("an answer: ok, the route, the request id the invoker saw", function()
  local result = assert(client:invoke("probe", { payload = { action = "echo" } }))
  t.eq(result.ok, true, tostring(result))
  local record = record_of(result.request_id)
  t.eq({ record.function_name, record.route, record.outcome, record.error_type },
    { "probe", "invoke", "ok", nil })
  check_timing(record)
end)

t.case("the function's error and the emulator's timeout", function()
  local failed = assert(client:invoke("probe", { payload = { action = "fail" } }))
  local record = record_of(failed.request_id)
  t.eq({ record.outcome, record.error_type }, { "function_error", "Runtime.HandlerError" })
  check_timing(record)
  local slow = assert(client:invoke("probe", { payload = { action = "sleep", seconds = 30 } }))
  record = record_of(slow.request_id)
  t.eq({ record.outcome, record.error_type }, { "timeout", "Sandbox.Timedout" })
  t.eq(record.duration >= 0.9 and record.duration < 5, true, "ran about 1 s: " .. record.duration)
end)

t.case("Event and function URL routes", function()
  local queued = assert(client:invoke("probe", { payload = {}, invocation_type = "Event" }))
  t.eq(queued.status, 202)
  local record = record_of(queued.request_id)
  t.eq({ record.route, record.outcome }, { "event", "ok" })
  local response = lambda.spawn(function()
    return lambda.http.request({ url = emulator.url .. "/lambda-url/probe/path", timeout = 10 })
  end):wait()
  t.eq(response.status, 200, response.body)
  record = record_of(lambda.json.decode(response.body).request_id)
  t.eq({ record.route, record.outcome, record.function_name }, { "url", "ok", "probe" })
end)

t.case("one record per invocation", function()
  local seen = {}
  for _, record in ipairs(records) do
    t.eq(seen[record.request_id], nil, "a second record for " .. record.request_id)
    seen[record.request_id] = true
  end
  t.eq(#records, 5)
end)

local status = t.run()
emulator:stop()
return status
