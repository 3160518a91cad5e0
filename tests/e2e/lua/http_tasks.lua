-- Test driver for lambda.http.request made from tasks: `cargo-lambda run http_tasks.lua SPEC`,
-- SPEC being JSON:
--   requests    list of option tables for http.request; "{self}" in a url stands for the
--               script's own server (serve); a request's body_file is read into its body
--   mode        "tasks" (default): one task per request, all started at once;
--               "sequence": one task sends them one after the other;
--               "blocking": one after the other from the main chunk, without loading
--               lambda.task (nor lambda.event, unless serve);
--               "coroutine": each from a coroutine of the script's own (not a task, and
--               without loading lambda.task either);
--               "unyieldable": each from a task, but inside a string.gsub callback (a C
--               call that cannot yield)
--   rounds      in mode "tasks", how many times to send them all at once, each round
--               once the last has ended (the last round's results count)
--   serve       start a lambda.event.http_server on 127.0.0.1 first; its routes:
--                 /hold   never answered (counted in `held`; counted in `gone` when the client
--                         goes away)
--                 else    200 with the body "<method> <path> <body>" and X-Path: <path>
--   self_blocking  before the loop runs, one blocking request to the own server with a 0.5 s
--               timeout (which cannot be answered: nothing serves while it blocks)
--   ending      how the script ends once every request to /hold has arrived (without it,
--               it waits for every task): "return" (returns, tasks still waiting), "exit"
--               (os.exit(0)), "exit_close" (os.exit(0, true)), "exit_in_task" (os.exit(0)
--               from a task), "close" (coroutine.close on every waiting task, then waits up
--               to 5 s for the server to see the connections go, and reports)
-- Prints one JSON object: {"results": [...], "took": seconds for the requests,
-- "loop_created": whether lambda.event's loop exists at the end, ...} with each result
-- {"ok": true, "response": {...}} (a body over 1000 bytes given as body_length and
-- body_sha256), {"ok": false, "message": ..., "kind": ..., "detail": ...} or {"raised": first
-- line}.
local http = require("lambda.http")
local time = require("lambda.time")
local json = require("cjson")

local spec = json.decode((assert(arg[1], "usage: http_tasks.lua SPEC")))
local mode = spec.mode or "tasks"
local out = {}

local function read_file(path)
  local file = assert(io.open(path, "rb"))
  local data = file:read("a")
  file:close()
  return data
end

local event, task, server, base
local held, gone = 0, 0
if spec.serve then
  event = require("lambda.event")
  server = assert(event.http_server({
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
      request:respond(200, { ["X-Path"] = request.path },
        request.method .. " " .. request.path .. " " .. (request.body or ""))
    end,
  }))
  base = "http://127.0.0.1:" .. server:port()
end
if mode ~= "blocking" and mode ~= "coroutine" then
  task = require("lambda.task")
end

local requests = spec.requests or {}
for _, options in ipairs(requests) do
  if base then
    options.url = options.url:gsub("{self}", base)
  end
  if options.body_file then
    options.body = read_file(options.body_file)
    options.body_file = nil
  end
end

-- What request() returned (or raised), in a form JSON can carry.
local function describe(ok, response, message, kind, detail)
  if not ok then
    return { raised = tostring(response):match("^[^\n]*") }
  end
  if not response then
    return { ok = false, response_type = type(response), message = message, kind = kind,
      detail = detail }
  end
  if #response.body > 1000 then
    response.body_length = #response.body
    response.body_sha256 = require("lambda.crypto").sha256_hex(response.body)
    response.body = nil
  end
  return { ok = true, response = response }
end

local function send(options)
  return describe(pcall(http.request, options))
end

if spec.self_blocking then
  out.self_blocking = send({ url = base .. "/blocking", timeout = 0.5 })
end

-- One task per request, all at once (modes "tasks" and "unyieldable").
local function start_tasks()
  local started_jobs = {}
  for i, options in ipairs(requests) do
    started_jobs[i] = task.spawn(function()
      if mode == "unyieldable" then
        local result
        string.gsub("x", "x", function()
          result = send(options)
        end)
        return result
      end
      return send(options)
    end)
  end
  return started_jobs
end

local started = time.monotonic()
local results = {}
local jobs = {}
if mode == "blocking" then
  for i, options in ipairs(requests) do
    results[i] = send(options)
  end
elseif mode == "coroutine" then
  for i, options in ipairs(requests) do
    results[i] = coroutine.wrap(send)(options)
  end
elseif mode == "sequence" then
  jobs[1] = task.spawn(function()
    local list = {}
    for i, options in ipairs(requests) do
      list[i] = send(options)
    end
    return list
  end)
else
  jobs = start_tasks()
end

-- Waits (running the loop) until condition() holds, for at most `seconds`.
local function wait_until(condition, seconds)
  local deadline = time.monotonic() + seconds
  while not condition() and time.monotonic() < deadline do
    task.sleep(0.01)
  end
  return condition()
end

local function emit()
  out.took = time.monotonic() - started
  out.results = results
  out.held, out.gone = held, gone
  out.loop_created = debug.getregistry()["lambda.event.instance"] ~= nil
  io.write(json.encode(out), "\n")
  io.stdout:flush()
end

local ending = spec.ending
if ending then
  local holds = 0
  for _, options in ipairs(requests) do
    holds = holds + (options.url:find("/hold$") and 1 or 0)
  end
  out.all_held = wait_until(function()
    return held == holds
  end, 10)
  if ending == "close" then
    for _, job in ipairs(jobs) do
      coroutine.close(job.thread)
    end
    collectgarbage()
    wait_until(function()
      return gone == holds
    end, 5)
  end
  emit()
  if ending == "exit" then
    os.exit(0)
  elseif ending == "exit_close" then
    os.exit(0, true)
  elseif ending == "exit_in_task" then
    task.spawn(function()
      os.exit(0)
    end)
    task.sleep(5)
    error("os.exit from a task did not end the script")
  end
  return 0
end

if mode == "sequence" then
  results = jobs[1]:wait()
elseif #jobs > 0 then
  for round = 1, spec.rounds or 1 do
    if round > 1 then
      jobs = start_tasks()
    end
    for i, job in ipairs(jobs) do
      results[i] = job:wait()
    end
  end
end
if server then
  server:close()
end
emit()
