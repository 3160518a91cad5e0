-- Internal to lambda.emulator (not part of the public API; see docs/scripting.md).
-- A minimal Extensions API, enough that functions with internal or external extensions do not
-- hang: register, next event (INVOKE and SHUTDOWN, queued until the extension asks), init and
-- exit errors, and Logs/Telemetry subscriptions accepted without delivering anything.
local json = require("lambda.json")
local ids = require("lambda.emulator.ids")

local M = {}

local Extensions = {}
Extensions.__index = Extensions

function M.new()
  return setmetatable({ registered = {} }, Extensions)
end

local JSON = { { "Content-Type", "application/json" } }
local MAX_QUEUED_EVENTS = 1000

local function deliver(extension)
  local waiter = extension.waiter
  if waiter and #extension.events > 0 then
    extension.waiter = nil
    local item = table.remove(extension.events, 1)
    waiter:respond(200, {
      { "Content-Type", "application/json" },
      { "Lambda-Extension-Event-Identifier", ids.uuid() },
    }, json.encode(item))
  end
end

-- Queues an event for every registered extension that `wanted` picks and that subscribed to
-- its kind.
local function emit(self, wanted, kind, fields)
  fields.eventType = kind
  for _, extension in pairs(self.registered) do
    if extension.subscribed[kind] and not extension.shut_down and wanted(extension) then
      extension.events[#extension.events + 1] = fields
      if #extension.events > MAX_QUEUED_EVENTS then
        -- An extension that stopped asking (it died, or was started again and registered
        -- anew) must not make the emulator grow without bound: the oldest event goes.
        table.remove(extension.events, 1)
      end
      if kind == "SHUTDOWN" then
        extension.shut_down = true
      end
      deliver(extension)
    end
  end
end

-- INVOKE goes to the extensions of the function: those registered through the instance's own
-- Runtime API, and those registered on the main port (extensions started by hand).
function Extensions:invoke(instance, invocation)
  -- The common case, no extension at all, costs nothing on the invocation path.
  if next(self.registered) == nil then
    return
  end
  emit(self, function(extension)
    return extension.function_name == invocation.function_name
      and (not extension.instance or extension.instance == instance)
  end, "INVOKE", {
    requestId = invocation.id,
    invokedFunctionArn = invocation.arn,
    deadlineMs = invocation.deadline_ms,
    tracing = { type = "X-Amzn-Trace-Id", value = invocation.trace_id },
  })
end

-- AWS's shutdownReason: spindown, timeout or failure.
local SHUTDOWN_REASONS = { timeout = "timeout", ["init timeout"] = "timeout",
  ["init error"] = "failure" }

local function shutdown_fields(reason)
  return {
    shutdownReason = SHUTDOWN_REASONS[reason] or "spindown",
    -- Extensions get two seconds to finish, as the instance gets before SIGKILL.
    deadlineMs = math.floor((require("lambda.event").now() + 2) * 1000),
  }
end

-- SHUTDOWN goes only to the extensions of the instance that stops. Extensions started by hand
-- belong to no instance: a replaced instance must not end them (they would miss every later
-- INVOKE); they get theirs from shutdown_by_hand when the emulator stops.
function Extensions:shutdown(instance, reason)
  emit(self, function(extension)
    return extension.instance == instance
  end, "SHUTDOWN", shutdown_fields(reason))
end

-- The emulator stops: SHUTDOWN to every extension registered on the main port.
function Extensions:shutdown_by_hand(reason)
  emit(self, function(extension)
    return extension.instance == nil
  end, "SHUTDOWN", shutdown_fields(reason))
end

local function identify(self, request)
  local id = request.headers["lambda-extension-identifier"]
  local extension = id and self.registered[id]
  if not extension then
    request:respond(403, JSON, json.encode({ errorType = "Extension.UnknownExtensionIdentifier",
      errorMessage = "unknown or missing Lambda-Extension-Identifier" }))
  end
  return extension
end

function Extensions:route(request, rest, state, instance)
  if rest == "/2020-01-01/extension/register" and request.method == "POST" then
    local body = json.decode(request.body)
    local events = type(body) == "table" and body.events
    if type(events) ~= "table" then
      request:respond(400, JSON, json.encode({ errorType = "InvalidRequest",
        errorMessage = "the body must be JSON with an events list" }))
      return true
    end
    local extension = {
      id = ids.uuid(),
      name = request.headers["lambda-extension-name"] or "extension",
      function_name = state.name,
      instance = instance,
      subscribed = {},
      events = {},
    }
    for _, kind in ipairs(events) do
      extension.subscribed[tostring(kind)] = true
    end
    self.registered[extension.id] = extension
    request:respond(200, {
      { "Content-Type", "application/json" },
      { "Lambda-Extension-Identifier", extension.id },
    }, json.encode({ functionName = state.name, functionVersion = "$LATEST",
      handler = "bootstrap" }))
    return true
  end
  if rest == "/2020-01-01/extension/event/next" and request.method == "GET" then
    local extension = identify(self, request)
    if extension then
      extension.waiter = request
      request:on_close(function()
        if extension.waiter == request then
          extension.waiter = nil
        end
      end)
      deliver(extension)
    end
    return true
  end
  if (rest == "/2020-01-01/extension/init/error" or rest == "/2020-01-01/extension/exit/error")
    and request.method == "POST" then
    if identify(self, request) then
      request:respond(202, JSON, '{"status":"OK"}')
    end
    return true
  end
  if (rest == "/2020-08-15/logs" or rest == "/2022-07-01/telemetry")
    and request.method == "PUT" then
    if identify(self, request) then
      request:respond(200, JSON, '{"status":"OK"}')
    end
    return true
  end
  return false
end

-- Forgets the extensions of an instance that ended.
function Extensions:forget(instance)
  for id, extension in pairs(self.registered) do
    if extension.instance == instance then
      self.registered[id] = nil
    end
  end
end

return M
