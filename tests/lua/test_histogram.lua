-- lambda.histogram: the Lua API, its rules for empty histograms and out-of-range values,
-- misuse raising, and the text form inside a JSON payload.
local t = require("testing")
local histogram = require("lambda.histogram")
local json = require("lambda.json")

t.case("an empty histogram: count 0, no statistics", function()
  local h = histogram.new()
  t.eq(h:count(), 0, "count")
  t.eq(h:clamped(), 0, "clamped")
  t.eq(h:min(), nil, "min")
  t.eq(h:max(), nil, "max")
  t.eq(h:mean(), nil, "mean")
  t.eq(h:stddev(), nil, "stddev")
  t.eq(h:percentile(50), nil, "p50")
  t.eq(h:buckets(), {}, "buckets")
  t.eq(tostring(h), "histogram (0 values)")
end)

t.case("values below 2 ms are exact to the microsecond", function()
  local h = histogram.new()
  for us = 1, 1000 do
    h:record(us / 1e6)
  end
  t.eq(h:count(), 1000, "count")
  t.eq(h:min(), 1e-6, "min")
  t.eq(h:max(), 0.001, "max")
  t.eq(h:percentile(0), 1e-6, "p0 is min")
  t.eq(h:percentile(50), 500e-6, "p50")
  t.eq(h:percentile(90), 900e-6, "p90")
  -- 99.9 / 100 * 1000 is 999.0000000000001 in doubles; the rank stays 999.
  t.eq(h:percentile(99.9), 999e-6, "p99.9")
  t.eq(h:percentile(100), 0.001, "p100 is max")
  t.eq(math.abs(h:mean() - 500.5e-6) < 1e-15, true, "mean " .. h:mean())
  t.eq(math.type(h:count()), "integer")
  t.eq(tostring(h), "histogram (1000 values)")
end)

t.case("larger values keep 3 significant digits; min and max stay exact", function()
  local h = histogram.new()
  h:record(0.123456789)
  h:record(1.5, 3)
  h:record(2.718281828)
  t.eq(h:count(), 5, "count with a repeat count")
  t.eq(h:min(), 0.123456789, "exact min")
  t.eq(h:max(), 2.718281828, "exact max")
  local p50 = h:percentile(50)
  t.eq(p50 >= 1.5 and p50 < 1.5 * 1.001, true, "p50 " .. p50)
  -- The highest value of the bucket, but never above max nor below min.
  t.eq(h:percentile(99), 2.718281828, "p99 kept at max")
  local low = histogram.new()
  low:record(0.0012344) -- 1234 µs, whose bucket's highest value is below it
  low:record(0.5)
  t.eq(low:percentile(10), 0.0012344, "p10 kept at min")
  t.eq(math.abs(h:mean() - (0.123456789 + 4.5 + 2.718281828) / 5) < 1e-3, true, "mean")
  local one = histogram.new()
  one:record(42.5, 10)
  t.eq(one:stddev(), 0.0, "one value has no spread")
  t.eq(one:mean(), 42.5, "mean of one value")
end)

t.case("values above the range are clamped to the highest one and counted", function()
  t.eq(histogram.highest, 4294.967295, "the highest trackable value")
  t.eq(histogram.highest >= 3600, true, "at least an hour")
  local h = histogram.new()
  h:record(0.01)
  h:record(7200, 2)
  h:record(histogram.highest)
  t.eq(h:count(), 4, "count")
  t.eq(h:clamped(), 2, "clamped")
  t.eq(h:max(), histogram.highest, "max")
  t.eq(h:percentile(100), histogram.highest, "p100")
end)

t.case("merge adds the other histogram's values", function()
  local a, b, all = histogram.new(), histogram.new(), histogram.new()
  for i = 1, 2000 do
    local value = (i * 7919 % 1000) / 100 + i / 1e6
    all:record(value)
    if i % 3 == 0 then a:record(value) else b:record(value) end
  end
  a:merge(b)
  t.eq(b:count(), 1334, "the other is unchanged")
  t.eq(a:encode(), all:encode(), "merged equals recorded together")
  for _, p in ipairs({ 0, 1, 50, 90, 99, 99.9, 100 }) do
    t.eq(a:percentile(p), all:percentile(p), "p" .. p)
  end
  t.eq(a:min(), all:min(), "min")
  t.eq(a:max(), all:max(), "max")
  a:merge(a)
  t.eq(a:count(), 4000, "merged with itself")
  t.eq(a:percentile(50), all:percentile(50), "same percentiles after doubling")
  a:merge(histogram.new())
  t.eq(a:count(), 4000, "merging an empty histogram")
end)

t.case("reset empties", function()
  local h = histogram.new()
  h:record(1, 5)
  h:record(9999)
  h:reset()
  t.eq(h:count(), 0, "count")
  t.eq(h:clamped(), 0, "clamped")
  t.eq(h:max(), nil, "max")
  t.eq(h:encode(), histogram.new():encode(), "same as new")
end)

t.case("encode: printable text that rides in JSON and decodes to the same histogram", function()
  local h = histogram.new()
  for i = 1, 500 do
    h:record(i ^ 2 / 1e4, i)
  end
  h:record(1e6)
  local text = h:encode()
  t.matches(text, "^[A-Za-z0-9+/]+=*$", "base64")
  local payload = json.encode({ worker = 3, histogram = text })
  local back = histogram.decode(json.decode(payload).histogram)
  t.eq(back:encode(), text, "round trip")
  t.eq(back:count(), h:count(), "count")
  t.eq(back:clamped(), 1, "clamped")
  t.eq(back:min(), h:min(), "min")
  t.eq(back:max(), h:max(), "max")
  t.eq(back:percentile(99.9), h:percentile(99.9), "p99.9")
  t.eq(back:stddev(), h:stddev(), "stddev")
  local empty = histogram.decode(histogram.new():encode())
  t.eq(empty:count(), 0, "an empty histogram round trips")
end)

t.case("decode failures are nil, message, 'input'", function()
  local cases = {
    { "", "it is empty" },
    { "not base64!", "is not a multiple of 4" },
    { "SA==", "ends inside the header" },
    { "SAI=", "version 2, this build reads version 1" },
    { "SAIAAA==", "version 2, this build reads version 1" },
    { "AAAA", "no histogram" },
  }
  for _, case in ipairs(cases) do
    local h, message, kind = histogram.decode(case[1])
    t.eq(h, nil, "decoded " .. case[1])
    t.matches(message, "^invalid histogram text: ", "message")
    t.eq(message:find(case[2], 1, true) ~= nil, true, message)
    t.eq(kind, "input", "kind")
  end
end)

t.case("buckets lists the buckets holding values, in order", function()
  local h = histogram.new()
  h:record(0.000005, 2)
  h:record(0.000007)
  h:record(1.0)
  local buckets = h:buckets()
  t.eq(#buckets, 3, "three buckets")
  t.eq(buckets[1], { 5e-6, 2 }, "first")
  t.eq(buckets[2], { 7e-6, 1 }, "second")
  t.eq(buckets[3][2], 1, "third's count")
  local upper = buckets[3][1]
  t.eq(upper >= 1.0 and upper < 1.001, true, "third's upper bound " .. upper)
end)

t.case("misuse raises", function()
  local h = histogram.new()
  local function raises(pattern, f, ...)
    t.matches(tostring(t.raises(f, ...)), pattern)
  end
  raises("bad argument #1 .*lambda.histogram expected, got table", h.record, {}, 1)
  raises("number expected, got string", h.record, h, "0.5")
  raises("number expected, got no value", h.record, h)
  raises("finite number of seconds >= 0", h.record, h, -0.001)
  raises("finite number of seconds >= 0", h.record, h, 0 / 0)
  raises("finite number of seconds >= 0", h.record, h, math.huge)
  raises("integer >= 1", h.record, h, 1, 0)
  raises("integer >= 1", h.record, h, 1, -3)
  raises("number has no integer representation", h.record, h, 1, 1.5)
  raises("number expected, got string", h.record, h, 1, "2")
  raises("from 0 to 100", h.percentile, h, 100.5)
  raises("from 0 to 100", h.percentile, h, -1)
  raises("from 0 to 100", h.percentile, h, 0 / 0)
  raises("number expected", h.percentile, h, "50")
  raises("lambda.histogram expected", h.merge, h, {})
  raises("lambda.histogram expected", h.count, io.stdout)
  raises("string expected", histogram.decode, 12)
  t.eq(h:count(), 0, "nothing was recorded")
  h:record(1, math.maxinteger)
  raises("over 2%^63 %- 1", h.record, h, 1)
  local other = histogram.new()
  other:record(2)
  raises("over 2%^63 %- 1", h.merge, h, other)
  t.eq(h:count(), math.maxinteger, "the count is unchanged")
  t.eq(h:max(), 1.0, "max unchanged")
end)

return t.run()
