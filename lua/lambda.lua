-- lambda: the entry point of the public Lua library, documented in docs/scripting.md.
--
--   local lambda = require("lambda")
--   local result = lambda.invoke{name = "my-function", payload = {n = 1}}
--   local client = lambda.client{port = 9000}        -- or {remote = true, region = ...}
--   local task = lambda.spawn(fn, ...)                 -- tasks on the event loop
--   local emulator = lambda.emulator.start{command = {...}}
--
-- The library's modules (lambda.http, lambda.json, ...) are fields of this table too, loaded
-- when first used, so a script pays only for what it touches.
local M = {}

M.version = require("lambda.build").version

-- client{...} -> a target to invoke functions on (lambda.client)
function M.client(options)
  return require("lambda.client").new(options)
end

-- invoke{name = ..., <client fields>, <invocation fields>} -> result | nil, message, kind
function M.invoke(options)
  return require("lambda.client").invoke(options)
end

-- Tasks (lambda.task).
function M.spawn(fn, ...)
  return require("lambda.task").spawn(fn, ...)
end

function M.sleep(seconds)
  return require("lambda.task").sleep(seconds)
end

function M.all(functions)
  return require("lambda.task").all(functions)
end

function M.await(awaitable)
  return require("lambda.task").await(awaitable)
end

-- load{...} -> summary: a load run (lambda.load)
function M.load(options)
  return require("lambda.load").run(options)
end

function M.wait_signal(...)
  return require("lambda.task").wait_signal(...)
end

-- The public modules, by field name.
local MODULES = {
  http = true, json = true, toml = true, ini = true, xml = true, fs = true, time = true,
  crypto = true, sigv4 = true, cache = true, event = true, cargo = true, aws = true,
  examples = true, runtime = true, emulator = true, task = true, test = true,
  histogram = true, eventstream = true,
}

return setmetatable(M, {
  __index = function(self, key)
    -- This program's path: what starts a Lua function (`{lambda.executable, "run", "f.lua"}`),
    -- read when first asked for.
    if key == "executable" then
      return require("lambda.build").executable
    end
    if MODULES[key] then
      local module = require("lambda." .. key)
      rawset(self, key, module)
      return module
    end
  end,
})
