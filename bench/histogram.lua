-- The cost of lambda.histogram's h:record(seconds) from Lua, in ns per call, beside the cost
-- of the loop and of a method call that does nothing (h:count()), which it includes.
--   cargo-lambda run bench/histogram.lua [CALLS]
local histogram = require("lambda.histogram")
local time = require("lambda.time")

local calls = math.tointeger(tonumber((...) or "")) or 10000000
local rounds = 5

-- 4,096 latencies spread log-uniformly over 1 µs to 1 hour, visited in a scrambled order, so
-- that the records land in slots all over the layout.
local values = {}
for i = 1, 4096 do
  local position = (i * 2654435761 % 4096) / 4096
  values[i] = math.exp(math.log(1e-6) + position * math.log(3.6e9))
end

local h = histogram.new()
local function loop_only()
  local sink = 0
  for i = 1, calls do
    sink = sink + values[(i & 4095) + 1]
  end
  return sink
end
local function count_calls()
  for i = 1, calls do
    h:count(values[(i & 4095) + 1])
  end
end
local function record_calls()
  for i = 1, calls do
    h:record(values[(i & 4095) + 1])
  end
end

-- The median of a few rounds, in ns per call.
local function measure(f)
  local samples = {}
  for round = 1, rounds do
    local start = time.monotonic()
    f()
    samples[round] = (time.monotonic() - start) / calls * 1e9
  end
  table.sort(samples)
  return samples[(rounds + 1) // 2]
end

local loop = measure(loop_only)
local count = measure(count_calls)
local record = measure(record_calls)
print(string.format("%d calls, median of %d rounds", calls, rounds))
print(string.format("loop alone        %6.1f ns", loop))
print(string.format("h:count()         %6.1f ns (a method call doing nothing)", count))
print(string.format("h:record(seconds) %6.1f ns (%.1f ns more than h:count())", record, record - count))
assert(h:count() == calls * rounds)
