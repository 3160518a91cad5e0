-- lambda.http.request from a task's thread, driven by hand instead of by lambda.task's
-- scheduler: the awaitable it yields, the protocol the scheduler relies on, misuse, an end
-- that comes before await is called, and cancellation by closing the coroutine.
local t = require("testing")
local http = require("lambda.http")
local event = require("lambda.event")
require("lambda.task") -- creates the registry table of the tasks' threads

local tasks = debug.getregistry()["lambda.tasks"]
local held, gone, answered = 0, 0, 0
local server = assert(event.http_server({
  address = "127.0.0.1",
  port = 0,
  handler = function(request)
    if request.path == "/hold" then
      held = held + 1
      request:on_close(function()
        gone = gone + 1
      end)
      return
    end
    request:respond(200, {}, "hi " .. request.path)
    answered = answered + 1
  end,
}))
local base = "http://127.0.0.1:" .. server:port()

-- A coroutine lambda.http takes for a task's thread, started: returns it and what it yielded.
local function fake_task(fn)
  local thread = coroutine.create(fn)
  tasks[thread] = true
  local ok, yielded = coroutine.resume(thread)
  assert(ok, yielded)
  return thread, yielded
end

-- Runs the loop until condition() holds, for at most 5 s.
local function run_until(condition)
  local give_up = event.timer(5, function()
    event.stop()
  end)
  local poll = event.every(0.005, function()
    if condition() then
      event.stop()
    end
  end)
  event.run()
  give_up:cancel()
  poll:cancel()
  t.eq(condition(), true, "condition within 5 s")
end

t.case("request yields one awaitable; the values given to resume are request's", function()
  local results
  local thread, awaitable = fake_task(function()
    results = table.pack(http.request({ url = base .. "/a" }))
  end)
  t.eq(type(awaitable), "userdata")
  t.eq(coroutine.status(thread), "suspended")
  local given
  awaitable:await(function(...)
    given = table.pack(...)
    assert(coroutine.resume(thread, ...))
  end)
  t.eq(given, nil, "resume is called later, from the loop")
  run_until(function()
    return results ~= nil
  end)
  t.eq(given.n, 1)
  t.eq(given[1].status, 200)
  t.eq(given[1].body, "hi /a")
  t.eq(results.n, 1)
  t.eq(results[1], given[1])
end)

t.case("await takes a function, once, while the request is under way", function()
  local done = false
  local thread, awaitable = fake_task(function()
    http.request({ url = base .. "/b" })
    done = true
  end)
  t.matches(t.raises(awaitable.await, awaitable, "not a function"), "function expected")
  awaitable:await(function(...)
    assert(coroutine.resume(thread, ...))
  end)
  t.matches(t.raises(awaitable.await, awaitable, print), "already awaited")
  run_until(function()
    return done
  end)
  t.matches(t.raises(awaitable.await, awaitable, print), "not under way")
end)

t.case("an end that comes before await is delivered on a later turn", function()
  local results
  local thread, awaitable = fake_task(function()
    results = table.pack(http.request({ url = base .. "/early" }))
  end)
  -- The answer arrives while nobody awaits it: once it is sent, the loop turns a while more
  -- for the client to read it.
  local before = answered
  run_until(function()
    return answered > before
  end)
  event.timer(0.2, function()
    event.stop()
  end)
  event.run()
  local resumed = false
  awaitable:await(function(...)
    resumed = true
    assert(coroutine.resume(thread, ...))
  end)
  t.eq(resumed, false, "not from inside await")
  run_until(function()
    return results ~= nil
  end)
  t.eq(results[1].body, "hi /early")
end)

t.case("closing the task's coroutine cancels its request and closes the connection", function()
  local threads = {}
  for i = 1, 3 do
    local awaitable
    threads[i], awaitable = fake_task(function()
      http.request({ url = base .. "/hold" })
      error("a cancelled request never returns")
    end)
    awaitable:await(function()
      error("a cancelled request is never resumed")
    end)
  end
  run_until(function()
    return held == 3
  end)
  for _, thread in ipairs(threads) do
    t.eq(coroutine.close(thread), true)
  end
  run_until(function()
    return gone == 3
  end)
end)

local status = t.run()
server:close()
return status
