-- Tasks: functions running concurrently on the one lambda.event loop, as coroutines. Public
-- through `require "lambda"` (lambda.spawn, lambda.sleep, lambda.all, lambda.await).
--
-- A task suspends by yielding one *awaitable*: a value with a method `await(self, resume)`
-- that arranges for `resume(...)` to be called exactly once, later, with the values the wait
-- returns. Timers, other tasks, HTTP requests made from a task (lambda.http) and processes are
-- awaitables. Everything that waits goes through one function (wait, M.await's body), which
-- works anywhere:
--   - in a task's own thread it yields to the scheduler;
--   - elsewhere (the main chunk of a script, a coroutine of the script's own) it runs the
--     loop until the awaitable completes;
--   - in a callback of a loop that is already running, where neither is possible, it raises.
--
-- The tasks' threads are registered in the registry table "lambda.tasks" (weak keys), so
-- that C primitives (lambda.http) can tell a task's thread from any other coroutine.
local event = require("lambda.event")

local M = {}

local REGISTRY_KEY = "lambda.tasks"

local registry = debug.getregistry()
local threads = registry[REGISTRY_KEY]
if not threads then
  threads = setmetatable({}, { __mode = "k" })
  registry[REGISTRY_KEY] = threads
end

-- Whether this module is running the loop on behalf of a wait outside any task.
local driving = false

-- wait(awaitable, level): every wait's body (below, after the tasks).
local wait

local Task = {}
Task.__index = Task
Task.__name = "lambda.task"

local function await_method(value)
  return value.await
end

local function is_awaitable(value)
  local kind = type(value)
  if kind ~= "table" and kind ~= "userdata" then
    return false
  end
  -- Protected: indexing a userdata without __index raises. (No closure: this runs on every
  -- wait of every task.)
  local ok, method = pcall(await_method, value)
  return ok and type(method) == "function"
end

-- A task's error travels to whoever waits: its value and the task's traceback.
local function raise(failure)
  if type(failure.value) == "string" then
    error(failure.value .. "\n" .. failure.traceback, 0)
  end
  error(failure.value, 0)
end

local function finish(task, ok, ...)
  task.done = true
  threads[task.thread] = nil
  if ok then
    task.results = table.pack(...)
  else
    local value = ...
    task.failure = { value = value, traceback = debug.traceback(task.thread,
      "in task " .. task.name .. ":", 0) }
  end
  local waiters = task.waiters
  task.waiters = nil
  for _, resume in ipairs(waiters) do
    resume()
  end
end

local step

-- What the task's resume gave: its end, or the awaitable it waits on. (Values passed along,
-- not packed into a table: this runs on every wait of every task.)
local function resumed_with(task, ok, ...)
  if not ok then
    finish(task, false, (...))
    return
  end
  if coroutine.status(task.thread) == "dead" then
    finish(task, true, ...)
    return
  end
  local count, awaitable = select("#", ...), ...
  if count ~= 1 or not is_awaitable(awaitable) then
    local problem = "a task may only yield an awaitable (use lambda.await, lambda.sleep, "
      .. "task:wait); it yielded " .. (count == 0 and "nothing" or type(awaitable))
    finish(task, false, problem)
    return
  end
  local resumed = false
  awaitable:await(function(...)
    if resumed then
      error("an awaitable resumed its task twice", 2)
    end
    resumed = true
    step(task, ...)
  end)
end

-- Runs the task until it yields or ends; values are what its current wait returns.
function step(task, ...)
  return resumed_with(task, coroutine.resume(task.thread, ...))
end

-- spawn(fn, ...) -> task; fn(...) starts on the loop's next turn.
function M.spawn(fn, ...)
  if type(fn) ~= "function" then
    error(string.format("bad argument #1 to 'spawn' (function expected, got %s)", type(fn)), 2)
  end
  local arguments = table.pack(...)
  local task = setmetatable({
    thread = coroutine.create(function()
      return fn(table.unpack(arguments, 1, arguments.n))
    end),
    waiters = {},
    name = tostring(fn):gsub("^function: ", ""),
  }, Task)
  threads[task.thread] = task
  event.timer(0, function()
    step(task)
  end)
  return task
end

-- The awaitable protocol for a task: resume once it has ended.
function Task:await(resume)
  if self.done then
    event.timer(0, resume) -- later, as the protocol says, never from inside the caller
  else
    self.waiters[#self.waiters + 1] = resume
  end
end

-- task:wait() -> what the task's function returned; raises its error.
function Task:wait()
  if not self.done then
    wait(self, 2)
  end
  self.waited = true
  if self.failure then
    raise(self.failure)
  end
  return table.unpack(self.results, 1, self.results.n)
end

-- task:done() -> whether it has ended (either way).
function Task:is_done()
  return self.done == true
end

function Task:__tostring()
  return "lambda.task (" .. self.name .. (self.done and ", done)" or ")")
end

-- An error nobody waited for is not lost: said on stderr when the task is collected.
function Task:__gc()
  if self.failure and not self.waited then
    io.stderr:write("lambda: error in a task nobody waited for: "
      .. tostring(self.failure.value) .. "\n" .. self.failure.traceback .. "\n")
  end
end

-- Whether the running code is a task's own thread.
function M.in_task()
  local thread = coroutine.running()
  return threads[thread] ~= nil
end

-- Whether a wait can happen here: in a task, or where the loop is not running yet.
function M.can_wait()
  return M.in_task() or (not driving and not event.running())
end

local CANNOT_WAIT = "cannot wait here: the event loop is running (this is one of its "
  .. "callbacks); wait from a task (lambda.spawn) instead"
M.CANNOT_WAIT = CANNOT_WAIT

-- Waits for an awaitable (see the header comment). A wait that cannot happen here raises at
-- `level`, counted as error() counts from the function that called wait: each public
-- function passes the level of its own caller, so that the message points at the script's
-- line, not at this file. Callers must not tail-call it (that would drop their frame).
function wait(awaitable, level)
  if M.in_task() then
    return coroutine.yield(awaitable)
  end
  if driving then
    error("cannot wait here: a wait outside any task is already running the loop; "
      .. "wait from a task (lambda.spawn) instead", level + 1)
  end
  -- Refused before the awaitable is asked to arrange anything (a timer, a signal handler).
  if event.running() then
    error(CANNOT_WAIT, level + 1)
  end
  local results, abandoned
  awaitable:await(function(...)
    if abandoned then
      return
    end
    results = table.pack(...)
    if driving then
      event.stop()
    end
  end)
  if not results then
    driving = true
    local ran, problem = pcall(event.run)
    driving = false
    if not ran then
      abandoned = true
      if tostring(problem):find("already running", 1, true) then
        error(CANNOT_WAIT, level + 1)
      end
      error(problem, 0)
    end
    if not results then
      abandoned = true
      error("the event loop stopped before the wait was over (event.stop() was called, or "
        .. "nothing was left that could end it)", level + 1)
    end
  end
  return table.unpack(results, 1, results.n)
end

-- await(awaitable) -> the values it completes with (see the header comment).
function M.await(awaitable)
  if not is_awaitable(awaitable) then
    error(string.format("bad argument #1 to 'await' (awaitable expected, got %s)",
      type(awaitable)), 2)
  end
  local results = table.pack(wait(awaitable, 2))
  return table.unpack(results, 1, results.n)
end

-- A timer as an awaitable.
local Sleep = {}
Sleep.__index = Sleep

function Sleep:await(resume)
  event.timer(self.seconds, function()
    resume()
  end)
end

-- sleep(seconds): in a task, lets the others run meanwhile.
function M.sleep(seconds)
  if type(seconds) ~= "number" or seconds ~= seconds or seconds < 0 then
    error("bad argument #1 to 'sleep' (a non-negative number of seconds expected)", 2)
  end
  wait(setmetatable({ seconds = seconds }, Sleep), 2)
end

-- A signal as an awaitable: resumes with the name of the first of its signals that arrives.
local Signal = {}
Signal.__index = Signal

function Signal:await(resume)
  local handlers = {}
  for _, name in ipairs(self.names) do
    handlers[#handlers + 1] = event.on_signal(name, function(arrived)
      for _, handler in ipairs(handlers) do
        handler:cancel()
      end
      resume(arrived)
    end)
  end
end

-- wait_signal(name, ...) -> the name of the first of these signals to arrive ("INT", ...).
function M.wait_signal(...)
  local names = { ... }
  if #names == 0 then
    error("bad argument #1 to 'wait_signal' (a signal name expected)", 2)
  end
  local arrived = wait(setmetatable({ names = names }, Signal), 2)
  return arrived
end

-- all{fn, ...} -> {first result of each, in order}: runs them as tasks at once and waits for
-- every one; then raises the first error in list order, if any.
function M.all(functions)
  if type(functions) ~= "table" then
    error(string.format("bad argument #1 to 'all' (table of functions expected, got %s)",
      type(functions)), 2)
  end
  local started = {}
  for i, fn in ipairs(functions) do
    if type(fn) ~= "function" then
      error(string.format("bad argument #1 to 'all' (item %d is a %s, not a function)", i,
        type(fn)), 2)
    end
    started[i] = M.spawn(fn)
  end
  local firsts, failure = {}, nil
  for i, task in ipairs(started) do
    if not task.done then
      wait(task, 2)
    end
    task.waited = true
    if task.failure then
      failure = failure or task.failure
    else
      firsts[i] = task.results[1]
    end
  end
  if failure then
    raise(failure)
  end
  return firsts
end

return M
