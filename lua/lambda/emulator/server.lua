-- Internal to lambda.emulator (not part of the public API; see docs/scripting.md).
-- The emulator's main port: the Invoke API (buffered and streaming), function URLs, and the
-- Runtime API for functions started by hand.
local crypto = require("lambda.crypto")
local json = require("lambda.json")
local function_url = require("lambda.emulator.function_url")
local limits = require("lambda.emulator.limits")
local names = require("lambda.emulator.names")
local runtime_api = require("lambda.emulator.runtime_api")
local sinks = require("lambda.emulator.sinks")

local M = {}

local INVOCATION_TYPES = { RequestResponse = true, Event = true, DryRun = true }

local function percent_decode(text)
  return (text:gsub("%%(%x%x)", function(hex)
    return string.char(tonumber(hex, 16))
  end))
end

local service_error = sinks.service_error

-- The function a request names, checked at the door (see names.lua): name, qualifier, or nil
-- once the request has been answered with the error.
local function function_of(emulator, request, text, qualifier)
  local ref, status, kind, message = names.parse(text, qualifier, emulator.region)
  local name
  if ref then
    name, status, kind, message = emulator.registry.resolve(ref.name)
  end
  if not name then
    service_error(request, status, kind, message)
    return nil
  end
  return name, ref.qualifier
end

local function invoke_path_name(path)
  return path:match("^/2015%-03%-31/functions/([^/]+)/invocations$")
end

local function streaming_path_name(path)
  return path:match("^/2021%-11%-15/functions/([^/]+)/response%-streaming%-invocations$")
    or path:match("^/2015%-03%-31/functions/([^/]+)/response%-streaming%-invocations$")
end

-- The client context reaches the function as JSON: from X-Amz-Client-Context (base64, the
-- Invoke API's form) or lambda-runtime-client-context (JSON, the original client's form).
local function client_context_of(request)
  local encoded = request.headers["x-amz-client-context"]
  if encoded then
    local decoded = crypto.base64_decode(encoded)
    if not decoded or not json.valid(decoded) then
      return nil, "X-Amz-Client-Context must be base64-encoded JSON"
    end
    return decoded
  end
  local raw = request.headers["lambda-runtime-client-context"]
  if raw then
    -- Tolerate the base64 form here too; the runtime needs JSON either way.
    if not json.valid(raw) then
      local decoded = crypto.base64_decode(raw)
      if decoded and json.valid(decoded) then
        return decoded
      end
      return nil, "lambda-runtime-client-context must be JSON"
    end
    return raw
  end
  return false
end

-- emulator: {pool, registry = {resolve(name) -> name | nil, status, kind, message}, print}
local function invoke(emulator, request, raw_name, streaming)
  local name, qualifier = function_of(emulator, request, percent_decode(raw_name),
    names.query_parameter(request.query, "Qualifier"))
  if not name then
    return
  end
  local invocation_type = request.headers["x-amz-invocation-type"] or "RequestResponse"
  if not INVOCATION_TYPES[invocation_type] then
    service_error(request, 400, "InvalidParameterValueException",
      "X-Amz-Invocation-Type must be RequestResponse, Event or DryRun")
    return
  end
  local log_type = request.headers["x-amz-log-type"]
  if log_type and log_type ~= "None" and log_type ~= "Tail" then
    service_error(request, 400, "InvalidParameterValueException", "X-Amz-Log-Type must be None or Tail")
    return
  end
  local client_context, context_error = client_context_of(request)
  if client_context == nil then
    service_error(request, 400, "InvalidParameterValueException", context_error)
    return
  end
  if invocation_type == "DryRun" then
    request:respond(204, { { "x-amzn-RequestId", require("lambda.emulator.ids").uuid() } }, "")
    return
  end
  local pool = emulator.pool
  local sink
  if invocation_type == "Event" then
    sink = sinks.detached(emulator.print)
  elseif streaming then
    sink = sinks.streaming_invoke(request)
  else
    sink = sinks.invoke(request)
  end
  local invocation = pool:new_invocation({
    function_name = name,
    qualifier = qualifier,
    payload = request.body,
    client_context = client_context or nil,
    identity = request.headers["lambda-runtime-cognito-identity"],
    invocation_type = invocation_type,
    route = invocation_type == "Event" and "event" or streaming and "stream" or "invoke",
    log_type = log_type,
    sink = sink,
  })
  if invocation_type == "Event" then
    request:respond(202, { { "x-amzn-RequestId", invocation.id } }, "")
  else
    request:on_close(function()
      pool:cancel(invocation)
    end)
  end
  pool:enqueue(invocation)
end

local function function_url_request(emulator, request, raw_name, rest)
  local name, qualifier = function_of(emulator, request, raw_name ~= "" and raw_name or "_")
  if not name then
    return
  end
  local pool = emulator.pool
  local path, query = rest:match("^([^?]*)%??(.*)$")
  local invocation = pool:new_invocation({ function_name = name, qualifier = qualifier,
    route = "url", sink = sinks.function_url(request) })
  invocation.payload = function_url.event({
    method = request.method,
    path = path ~= "" and path or "/",
    query = query ~= "" and query or nil,
    header_list = request.header_list,
    body = request.body,
    peer = request.peer,
  }, name, invocation.id, require("lambda.event").now())
  request:on_close(function()
    pool:cancel(invocation)
  end)
  pool:enqueue(invocation)
end

-- The request handler of the main server.
function M.handler(emulator)
  return function(request)
    local path = request.path
    local raw_name = invoke_path_name(path)
    if raw_name then
      if request.method ~= "POST" then
        service_error(request, 405, "MethodNotAllowed", "use POST")
      else
        invoke(emulator, request, raw_name, false)
      end
      return
    end
    raw_name = streaming_path_name(path)
    if raw_name then
      invoke(emulator, request, raw_name, true)
      return
    end
    local name, rest = function_url.split_path(request.uri)
    if name then
      function_url_request(emulator, request, name, rest)
      return
    end
    local function_name
    function_name, rest = runtime_api.split_main_port_path(path, emulator.registry.default_name())
    if function_name then
      local ref, status, kind, message = names.parse(percent_decode(function_name), nil,
        emulator.region)
      if not ref then
        service_error(request, status, kind, message)
        return
      end
      local resolved = emulator.registry.resolve(ref.name) or ref.name
      local state = emulator.pool:function_state(resolved)
      local routed = runtime_api.route(emulator.pool, request, rest, state, nil)
      -- A runtime that asked for work is waiting; anything else leaves no record behind.
      emulator.pool:forget_if_unused(state)
      if routed then
        return
      end
    end
    service_error(request, 404, "ResourceNotFoundException", "no route for " .. request.method
      .. " " .. path)
  end
end

local function is_invoke_path(path)
  return invoke_path_name(path) ~= nil or streaming_path_name(path) ~= nil
end

-- The main port's body limits (the http_server's max_body), chosen from the request's head.
function M.max_body(emulator)
  return function(request)
    local path = request.path
    if is_invoke_path(path) then
      local event = request.headers["x-amz-invocation-type"] == "Event"
      return event and limits.EVENT_REQUEST_BYTES or limits.REQUEST_BYTES
    elseif function_url.split_path(path) then
      return limits.REQUEST_BYTES
    end
    local _, rest = runtime_api.split_main_port_path(path, "_")
    if rest then
      return runtime_api.max_body(emulator.pool, request, rest)
    end
    return limits.OTHER_BYTES
  end
end

-- Answers a request whose body is over its limit (the http_server's too_large), as AWS does.
function M.too_large(emulator)
  return function(request, limit, size)
    local path = request.path
    if is_invoke_path(path) or function_url.split_path(path) then
      local message
      local event = request.headers["x-amz-invocation-type"] == "Event"
      if event and size <= limits.REQUEST_BYTES then
        -- A chunked body's size is known only up to the point it passed the limit.
        message = string.format("%s is too large for the Event invocation type (limit %d bytes)",
          request.headers["content-length"] and string.format("%d byte payload", size)
            or "Request payload", limit)
      else
        message = string.format("Request must be smaller than %d bytes for the InvokeFunction "
          .. "operation", limits.REQUEST_BYTES)
      end
      service_error(request, 413, "RequestEntityTooLargeException", message)
      return
    end
    local _, rest = runtime_api.split_main_port_path(path, "_")
    if rest then
      runtime_api.too_large(emulator.pool, request, rest, limit, size)
    end
  end
end

return M
