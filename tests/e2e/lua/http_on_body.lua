-- Test driver for lambda.http's on_body option: `cargo-lambda run http_on_body.lua SPEC`, SPEC
-- being JSON:
--   url        where to send a GET
--   task       true: from a task (the request goes on the event loop), else blocking
--   on_body    what the function does with each piece:
--                "print"          prints {"piece", "status", "type", "same"} as one JSON line
--                                 at once (same: the response table is the one of the first
--                                 piece)
--                "raise_string", "raise_table"    raises on the first piece
--                "request"        calls http.request from inside (must raise)
--                "close_own"      (task) closes the coroutine of its own task
--                "close_other"    (task) closes the coroutine of another task whose request
--                                 to other_url is under way
--   other_url  for close_other
-- Every line printed is flushed at once; the last one is {"done": ...} with what request()
-- returned or raised.
local http = require("lambda.http")
local json = require("lambda.json")
local task = require("lambda.task")

local spec = json.decode(assert(arg[1], "usage: http_on_body.lua SPEC"))

local function say(value)
  io.stdout:write(json.encode(value), "\n")
  io.stdout:flush()
end

local first_response
local own_thread, other_thread

local behaviours = {
  print = function(piece, response)
    first_response = first_response or response
    say({ piece = piece, status = response.status, type = response.headers["content-type"],
      same = first_response == response })
  end,
  raise_string = function()
    error("stop here", 0)
  end,
  raise_table = function()
    error({ code = "stopped" })
  end,
  request = function()
    http.request({ url = spec.url })
  end,
  close_own = function(piece)
    say({ piece = piece })
    coroutine.close(own_thread)
  end,
  close_other = function(piece)
    say({ piece = piece, closing = coroutine.status(other_thread) })
    coroutine.close(other_thread)
  end,
}

local function send()
  local ok, response, message, kind = pcall(http.request, { url = spec.url, timeout = 20,
    on_body = assert(behaviours[spec.on_body], "unknown on_body") })
  if not ok then
    return { raised = type(response) == "table" and response or tostring(response) }
  elseif not response then
    return { message = message, kind = kind }
  end
  return { status = response.status, body = response.body }
end

if not spec.task then
  say({ done = send() })
  return 0
end

if spec.on_body == "close_other" then
  local other = task.spawn(function()
    other_thread = coroutine.running()
    return http.request({ url = spec.other_url, timeout = 20 })
  end)
  local _ = other
end
local closed_own = false
local main = task.spawn(function()
  own_thread = coroutine.running()
  local outcome = send()
  return outcome
end)
if spec.on_body == "close_own" then
  -- The task will never end: wait for its request to be let go, then for a moment of the loop.
  local function over()
    return own_thread ~= nil and coroutine.status(own_thread) == "dead"
  end
  local deadline = require("lambda.time").monotonic() + 20
  while not over() and require("lambda.time").monotonic() < deadline do
    task.await(task.spawn(function() task.sleep(0.01) end))
  end
  closed_own = over()
  -- Another request after it: the state is sound.
  local after = task.spawn(function()
    return http.request({ url = spec.after_url, timeout = 20 })
  end):wait()
  say({ done = { closed_own = closed_own, after = after and after.body } })
  return 0
end
say({ done = main:wait() })
return 0
