-- Fan out 100 invocations with invoke_all, 16 at a time, and print latency percentiles.
-- Run: cargo-lambda run examples/fan_out.lua [count] [concurrency]
local lambda = require("lambda")

local count = math.tointeger(tonumber(arg[1] or "100"))
local concurrency = math.tointeger(tonumber(arg[2] or "16"))
local folder = arg[0]:match("^(.*)/[^/]*$") or "."
local emulator = assert(lambda.emulator.start({
  command = { lambda.executable, "run", folder .. "/functions/greeter.lua" },
  on_output = false,
  concurrency = concurrency, -- as many function instances as invocations in flight
}))

local client = emulator:client()
local requests = {}
for i = 1, count do
  requests[i] = { name = "greeter", payload = { name = "caller " .. i } }
end
-- The first round starts the function instances; warm them up before timing anything.
assert(client:invoke_all({ table.unpack(requests, 1, concurrency) }, { concurrency = concurrency }))
local started = lambda.time.monotonic()
local results = assert(client:invoke_all(requests, { concurrency = concurrency }))
local wall = lambda.time.monotonic() - started
emulator:stop()

local latencies, failed = {}, 0
for _, result in ipairs(results) do
  latencies[#latencies + 1] = result.duration
  failed = failed + (result.ok and 0 or 1)
end
table.sort(latencies)
local function percentile(p)
  return latencies[math.max(1, math.ceil(#latencies * p / 100))] * 1000
end
print(string.format("%d invocations, %d in flight: %.2f s, %.0f/s, %d failed", count,
  concurrency, wall, count / wall, failed))
print(string.format("latency (ms): p50 %.2f  p90 %.2f  p99 %.2f  max %.2f", percentile(50),
  percentile(90), percentile(99), percentile(100)))
return failed == 0 and 0 or 1
