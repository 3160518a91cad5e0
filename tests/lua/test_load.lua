-- lambda.load from a script: runs against an emulator in this process (counts, payload lists,
-- a request function, stopping, progress), the summary's encoding and merge, the load worker's
-- handler, a run spread over workers on a second emulator, input problems and misuse.
local t = require("testing")
local lambda = require("lambda")
local load = require("lambda.load")

local BIN = os.getenv("CARGO_LAMBDA_BIN")
local PROBE = "../../fixtures/functions/probe.lua"

local target = assert(lambda.emulator.start({ command = { BIN, "run", PROBE },
  on_output = false, concurrency = 4 }))
local client = target:client()

local function ordered(latency)
  return latency.min > 0 and latency.min <= latency.p50 and latency.p50 <= latency.p90
    and latency.p90 <= latency.p99 and latency.p99 <= latency.p999
    and latency.p999 <= latency.max
end

t.case("repeat: every invocation counted, in the histogram and the latency block", function()
  local summary = assert(lambda.load({ client = client, name = "probe",
    payload = { action = "echo" }, concurrency = 4, ["repeat"] = 40 }))
  t.eq(summary.count, 40)
  t.eq(summary.successes, 40)
  t.eq(summary.errors.total, 0)
  t.eq(summary.histogram:count(), 40)
  t.eq(summary.interrupted, false)
  t.eq(ordered(summary.latency), true, t.show(summary.latency))
  t.eq(summary.latency.max, summary.histogram:max())
  t.eq(summary.throughput > 0, true)
end)

t.case("payloads taken in turn; errors by source and type", function()
  local summary = assert(lambda.load({ client = client, name = "probe",
    payloads = { { action = "echo" }, { action = "fail", message = "no" } }, ["repeat"] = 10 }))
  t.eq(summary.count, 10)
  t.eq(summary.successes, 5)
  t.eq(summary.errors.total, 5)
  t.eq(summary.errors["function"], { ["Runtime.HandlerError"] = 5 })
end)

t.case("a request function gives the i-th request, its name included", function()
  local seen = {}
  local summary = assert(lambda.load({ client = client, ["repeat"] = 6, request = function(i)
    seen[#seen + 1] = i
    return { name = i % 2 == 0 and "probe" or "bad name!", payload = { n = i } }
  end }))
  t.eq(summary.count, 6)
  t.eq(summary.successes, 3)
  t.eq(summary.errors.service, { ValidationException = 3 })
  table.sort(seen)
  t.eq(seen[#seen], 6)
end)

t.case("should_stop ends the run early; on_progress is called while it runs", function()
  local progress = {}
  local summary = assert(lambda.load({ client = client, name = "probe",
    payload = { action = "sleep", seconds = 0.02 }, duration = 30, progress_interval = 0.02,
    on_progress = function(p)
      progress[#progress + 1] = p
    end, should_stop = function()
      return #progress >= 3
    end }))
  t.eq(summary.interrupted, true)
  t.eq(summary.count >= 1 and summary.duration < 10, true, t.show(summary.count))
  t.eq(type(progress[1].done), "number")
  t.eq(type(progress[1].rate), "number")
end)

t.case("encode, decode and merge: counts add up, histograms merge", function()
  local a = assert(lambda.load({ client = client, name = "probe", ["repeat"] = 3 }))
  local b = assert(lambda.load({ client = client, name = "probe", ["repeat"] = 4,
    payload = { action = "fail" } }))
  local data = load.encode(b)
  t.eq(type(data.histogram), "string")
  local json = lambda.json
  local back = assert(load.decode(assert(json.decode(json.encode(data)))))
  t.eq(back.histogram:count(), 4)
  local merged = load.merge({ a, back })
  t.eq(merged.count, 7)
  t.eq(merged.successes, 3)
  t.eq(merged.errors.total, 4)
  t.eq(merged.errors["function"]["Runtime.HandlerError"], 4)
  t.eq(merged.histogram:count(), 7)
  local none, message, kind = load.decode({ count = 1 })
  t.eq({ none, kind }, { nil, "input" })
  t.matches(message, "needs 'successes'")
  none, message, kind = load.decode(json.decode(json.encode(
    (function() data.histogram = "not a histogram"; return data end)())))
  t.eq({ none, kind }, { nil, "input" })
  t.matches(message, "histogram")
end)

t.case("stream: the time to the first chunk apart, kept through encode, decode and merge",
  function()
    local summary = assert(lambda.load({ client = client, name = "probe", stream = true,
      payload = { action = "echo" }, ["repeat"] = 8, concurrency = 2 }))
    t.eq(summary.successes, 8)
    t.eq(summary.first_byte_histogram:count(), 8)
    t.eq(summary.first_byte.max <= summary.latency.max, true)
    local back = assert(load.decode(lambda.json.decode(lambda.json.encode(load.encode(summary)))))
    t.eq(back.first_byte_histogram:count(), 8)
    local merged = load.merge({ back, summary })
    t.eq(merged.first_byte_histogram:count(), 16)
    t.eq(type(merged.first_byte.p99), "number")
    local plain = assert(lambda.load({ client = client, name = "probe", ["repeat"] = 1 }))
    t.eq(plain.first_byte, nil)
  end)

t.case("the worker's handler runs a job's share and answers its encoded summary", function()
  local answer = load.worker({ target = { address = "127.0.0.1", port = target.port,
    tls = false }, name = "probe", fields = { payload = { action = "echo" } },
    concurrency = 2, ["repeat"] = 5 })
  local summary = assert(load.decode(answer))
  t.eq(summary.count, 5)
  t.eq(summary.successes, 5)
  t.matches(tostring(t.raises(load.worker, { name = "probe", ["repeat"] = 1 })),
    "needs a target")
  t.matches(tostring(t.raises(load.worker, { target = {}, name = "probe", ["repeat"] = 1,
    secret = "x" })), "unknown load job field 'secret'")
end)

t.case("a run spread over load workers on a second emulator merges to the target's count",
  function()
    local workers = assert(lambda.emulator.start({ command = { BIN, "load-worker" },
      on_output = false, concurrency = 3 }))
    local summary, message = lambda.load({ name = "probe", payload = { action = "echo" },
      concurrency = 2, ["repeat"] = 31, workers = { count = 3, name = "worker",
        client = workers:client(), target = { address = "127.0.0.1", port = target.port,
          tls = false } } })
    workers:stop()
    t.eq(message, nil)
    t.eq(summary.count, 31)
    t.eq(summary.successes, 31)
    t.eq(summary.histogram:count(), 31)
  end)

t.case("a payload over the limit is refused before the run starts", function()
  local none, message, kind = lambda.load({ client = client, name = "probe",
    payload = string.rep("x", 6 * 1024 * 1024 + 1), ["repeat"] = 1 })
  t.eq({ none, kind }, { nil, "input" })
  t.matches(message, "payload")
end)

t.case("misuse raises, naming the field", function()
  t.matches(tostring(t.raises(lambda.load, { client = client, name = "probe" })),
    "exactly one of 'repeat' and 'duration'")
  t.matches(tostring(t.raises(lambda.load, { client = client, name = "probe", ["repeat"] = 1,
    concurrency = 0 })), "'concurrency'")
  t.matches(tostring(t.raises(lambda.load, { client = client, name = "probe", ["repeat"] = 1,
    rate = -1 })), "'rate'")
  t.matches(tostring(t.raises(lambda.load, { name = "probe", ["repeat"] = 1,
    workers = { count = 2, name = "w", target = { credentials = {} } } })),
    "workers.target.credentials")
end)

local status = t.run()
target:stop()
return status
