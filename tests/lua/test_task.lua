-- lambda.task: tasks on the event loop (spawn, wait, sleep, all, await) in and out of tasks.
local t = require("testing")
local task = require("lambda.task")
local event = require("lambda.event")
local time = require("lambda.time")

t.case("a task's results come back through wait, from the main chunk", function()
  local job = task.spawn(function(a, b)
    return a + b, "second", nil
  end, 2, 3)
  t.eq(job:is_done(), false, "it starts on the loop's next turn")
  t.eq({ job:wait() }, { 5, "second" })
  t.eq(job:is_done(), true)
  t.eq(select("#", job:wait()), 3, "every value, trailing nil included, and again")
end)

t.case("tasks run at once: three sleeps of 0.2 s take 0.2 s", function()
  local started = time.monotonic()
  local jobs = {}
  for i = 1, 3 do
    jobs[i] = task.spawn(function()
      task.sleep(0.2)
      return i
    end)
  end
  for i = 1, 3 do
    t.eq(jobs[i]:wait(), i)
  end
  local took = time.monotonic() - started
  t.eq(took >= 0.19 and took < 0.45, true, "took " .. took)
end)

t.case("a task waits for another from inside; all keeps the order", function()
  local results = task.all({
    function()
      task.sleep(0.05)
      return "slow"
    end,
    function()
      local inner = task.spawn(function()
        return "inner"
      end)
      return inner:wait() .. "+outer"
    end,
    function()
      return "fast", "ignored"
    end,
  })
  t.eq(results, { "slow", "inner+outer", "fast" })
end)

t.case("an error raised in a task is raised by wait, with the task's traceback", function()
  local job = task.spawn(function()
    local function deep()
      error("boom")
    end
    deep()
  end)
  local ok, message = pcall(job.wait, job)
  t.eq(ok, false)
  t.matches(message, "boom")
  t.matches(message, "in task")
  t.matches(message, "in local 'deep'")
  -- A table error is raised as it is.
  local failing = task.spawn(function()
    error({ code = 7 })
  end)
  local _, value = pcall(failing.wait, failing)
  t.eq(value, { code = 7 })
end)

t.case("all raises the first error in list order after every task has ended", function()
  local finished = false
  local ok, message = pcall(task.all, {
    function()
      task.sleep(0.05)
      finished = true
    end,
    function()
      error("second fails")
    end,
  })
  t.eq(ok, false)
  t.matches(message, "second fails")
  t.eq(finished, true, "the other task was waited for")
end)

t.case("yielding something that is not an awaitable fails the task, saying so", function()
  local job = task.spawn(function()
    coroutine.yield(42)
  end)
  local ok, message = pcall(job.wait, job)
  t.eq(ok, false)
  t.matches(message, "may only yield an awaitable")
end)

t.case("a coroutine of the script's own inside a task keeps its own yields", function()
  local job = task.spawn(function()
    local generator = coroutine.wrap(function()
      coroutine.yield(1)
      coroutine.yield(2)
    end)
    return generator() + generator()
  end)
  t.eq(job:wait(), 3)
end)

t.case("waiting from a callback of a loop the script runs itself is refused", function()
  local message
  event.timer(0, function()
    local ok, problem = pcall(task.sleep, 0.01)
    message = not ok and problem
    event.stop()
  end)
  event.run()
  t.matches(message, "cannot wait here")
end)

-- Each of these waits once, on the line where it is defined (so that linedefined is the line
-- of the call). None is a tail call: that would hide the caller's frame.
local lambda = require("lambda")
local function waits()
  local idle = function() end
  return {
    { "lambda.sleep", function() lambda.sleep(0.01) end },
    { "task.sleep", function() task.sleep(0.01) end },
    { "task:wait", function() task.spawn(idle):wait() end },
    { "lambda.await", function() lambda.await(task.spawn(idle)) end },
    { "lambda.all", function() lambda.all({ idle }) end },
    { "lambda.wait_signal", function() lambda.wait_signal("USR2") end },
  }
end

-- Calls every wait from a loop callback; returns the messages that do not start at the line
-- of the call in this file, and how many were checked.
local function misplaced(message_start)
  local here, wrong, checked = debug.getinfo(1, "S").short_src, {}, 0
  for _, wait in ipairs(waits()) do
    local name, fn = wait[1], wait[2]
    local ok, message = pcall(fn)
    local expected = string.format("%s:%d: %s", here, debug.getinfo(fn, "S").linedefined,
      message_start)
    checked = checked + 1
    if ok or message:sub(1, #expected) ~= expected then
      wrong[#wrong + 1] = string.format("%s: expected %q..., got %s", name, expected,
        ok and "no error" or string.format("%q", message))
    end
  end
  return wrong, checked
end

t.case("cannot wait here is raised at the caller's line, not in the library", function()
  -- A loop the script runs itself.
  local wrong, checked
  event.timer(0, function()
    wrong, checked = misplaced("cannot wait here: the event loop is running")
    event.stop()
  end)
  event.run()
  t.eq(checked, 6)
  t.eq(wrong, {}, "loop run by the script")
  -- The loop run by a wait of the main chunk.
  wrong, checked = nil, nil
  event.timer(0, function()
    wrong, checked = misplaced("cannot wait here: a wait outside any task")
  end)
  task.sleep(0.05)
  t.eq(checked, 6)
  t.eq(wrong, {}, "loop run by a wait of the main chunk")
end)

t.case("await takes any awaitable; in_task tells where the code runs", function()
  local manual = {}
  function manual.await(_, resume)
    event.timer(0.01, function()
      resume("value", 2)
    end)
  end
  t.eq({ task.await(manual) }, { "value", 2 })
  t.eq(task.in_task(), false)
  t.eq(task.spawn(task.in_task):wait(), true)
end)

t.case("misuse raises naming the argument", function()
  t.matches(tostring(t.raises(task.spawn, 42)), "bad argument #1 to 'spawn'")
  t.matches(tostring(t.raises(task.sleep, -1)), "bad argument #1 to 'sleep'")
  t.matches(tostring(t.raises(task.all, { 1 })), "item 1 is a number")
  t.matches(tostring(t.raises(task.await, "x")), "awaitable expected")
end)

return t.run()
