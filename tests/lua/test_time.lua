-- lambda.time: clocks and sleep.
local t = require("testing")
local time = require("lambda.time")

t.case("now is the wall clock", function()
  local now = time.now()
  t.eq(math.abs(now - os.time()) < 2, true, "close to os.time()")
  t.eq(math.type(now), "float")
end)

t.case("sleep waits at least as long as asked, monotonic measures it", function()
  local start = time.monotonic()
  time.sleep(0.05)
  local elapsed = time.monotonic() - start
  t.eq(elapsed >= 0.05 and elapsed < 1, true, "elapsed " .. elapsed)
  time.sleep(0)
end)

t.case("bad arguments raise", function()
  t.matches(tostring(t.raises(time.sleep, -1)), "bad argument #1")
  t.matches(tostring(t.raises(time.sleep, "soon")), "number expected")
end)

return t.run()
