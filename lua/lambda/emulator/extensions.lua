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

-- Events go to the extensions of the function: those registered through the instance's own
-- Runtime API, and those registered on the main port (extensions started by hand).
local function emit(self, function_name, instance, kind, fields)
  for _, extension in pairs(self.registered) do
    if extension.function_name == function_name
      and (not extension.instance or extension.instance == instance)
      and extension.subscribed[kind] then
      fields.eventType = kind
      extension.events[#extension.events + 1] = fields
      deliver(extension)
    end
  end
end

function Extensions:invoke(instance, invocation)
  emit(self, invocation.function_name, instance, "INVOKE", {
    requestId = invocation.id,
    invokedFunctionArn = invocation.arn,
    deadlineMs = invocation.deadline_ms,
    tracing = { type = "X-Amzn-Trace-Id", value = invocation.trace_id },
  })
end

function Extensions:shutdown(instance, reason)
  emit(self, instance.function_name, instance, "SHUTDOWN", {
    shutdownReason = reason == "timeout" and "timeout" or "spindown",
    deadlineMs = math.floor((require("lambda.event").now() + 2) * 1000),
  })
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
  if (rest == "/2020-08-15/logs" or rest == "/2022-07-01/telemetry") and request.method == "PUT" then
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
