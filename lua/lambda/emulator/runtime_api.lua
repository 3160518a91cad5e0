-- Internal to lambda.emulator (not part of the public API; see docs/scripting.md).
-- The Runtime API (2018-06-01) and the Extensions API (2020-01-01) as a function process sees
-- them. Each instance the emulator starts gets its own server on 127.0.0.1, so the runtime
-- finds it at AWS_LAMBDA_RUNTIME_API=host:port exactly as on AWS; functions started by hand
-- use the main port, with the original's /.rt/<name> prefix or the bare paths.
local json = require("lambda.json")
local limits = require("lambda.emulator.limits")
local pool_module = require("lambda.emulator.pool")

local M = {}

local ACCEPTED = '{"status":"OK"}'
local JSON = { { "Content-Type", "application/json" } }

local function answer_error(request, status, kind, message)
  request:respond(status, JSON, pool_module.error_body(kind, message))
end

-- /2018-06-01/runtime/invocation/<id>/<action> -> id, action
local function invocation_action(rest)
  return rest:match("^/2018%-06%-01/runtime/invocation/([^/]+)/(%a+)$")
end

-- Whether a request's body should be read as it arrives: a streamed /response.
function M.streams_body(request)
  local mode = request.headers["lambda-runtime-function-response-mode"]
  return mode ~= nil and mode:lower() == "streaming"
end

local function lookup(pool, request, id)
  local invocation = pool:running_invocation(id)
  if not invocation then
    answer_error(request, 400, "InvalidRequestID", "no running invocation has id " .. id)
    return nil
  end
  return invocation
end

-- A buffered or streamed success answer.
local function on_response(pool, request, invocation)
  if not M.streams_body(request) then
    pool:finish(invocation, { ok = true, body = request.body,
      content_type = request.headers["content-type"] })
    request:respond(202, JSON, ACCEPTED)
    return
  end
  -- Streamed: chunks go to the invoker as they arrive when it can take them, else they are
  -- collected and sent whole. Errors come in the trailers.
  local stream = not invocation.sink.closed() and invocation.sink.begin_stream
    and invocation.sink.begin_stream(invocation)
  local parts = {}
  invocation.stream = stream or nil
  request:on_chunk(function(data)
    if stream then
      stream.chunk(data)
    else
      parts[#parts + 1] = data
    end
  end)
  request:on_end(function(trailers)
    trailers = trailers or {}
    local error_type = trailers["lambda-runtime-function-error-type"]
    local outcome
    if error_type then
      local body = trailers["lambda-runtime-function-error-body"]
      if body then
        body = require("lambda.crypto").base64_decode(body) or body
      end
      outcome = { ok = false, error_type = error_type,
        body = body or pool_module.error_body(error_type, "the function failed while streaming") }
    else
      -- The stream's own Content-Type, for an invoker that gets the body whole (the
      -- buffered Invoke API on a streaming function).
      outcome = { ok = true, body = table.concat(parts),
        content_type = request.headers["content-type"] }
    end
    pool:finish(invocation, outcome)
    request:respond(202, JSON, ACCEPTED)
  end)
end

-- Routes one Runtime/Extensions API request. `rest` is the path after any prefix;
-- `state` the function; `instance` the instance whose own server received it (nil on the
-- main port). Returns false when the path is not a Runtime API path.
function M.route(pool, request, rest, state, instance)
  local method = request.method
  if rest == "/2018-06-01/runtime/invocation/next" and method == "GET" then
    pool:next_waiter(state, request, instance)
    return true
  end
  local id, action = invocation_action(rest)
  if id and method == "POST" and (action == "response" or action == "error") then
    local invocation = lookup(pool, request, id)
    if not invocation then
      return true
    end
    if action == "response" then
      on_response(pool, request, invocation)
    else
      local error_type = request.headers["lambda-runtime-function-error-type"]
      local decoded = json.decode(request.body)
      if not error_type and type(decoded) == "table" and type(decoded.errorType) == "string" then
        error_type = decoded.errorType
      end
      pool:finish(invocation, { ok = false, body = request.body,
        error_type = error_type or "Unhandled" })
      request:respond(202, JSON, ACCEPTED)
    end
    return true
  end
  if rest == "/2018-06-01/runtime/init/error" and method == "POST" then
    local error_type = request.headers["lambda-runtime-function-error-type"] or "Runtime.InitError"
    local body = request.body ~= "" and request.body
      or pool_module.error_body(error_type, "the function failed to initialise")
    request:respond(202, JSON, ACCEPTED)
    if instance then
      pool:init_error(instance, error_type, body)
    else
      pool:fail_queue_with(state, { ok = false, body = body, error_type = error_type })
    end
    return true
  end
  if rest:match("^/2020%-01%-01/extension/") or rest == "/2020-08-15/logs"
    or rest == "/2022-07-01/telemetry" then
    return pool:route_extension(request, rest, state, instance)
  end
  return false
end

-- Whether a streamed answer goes on to its invoker as it arrives (so AWS's streaming limit
-- applies) or is collected for one that takes it whole (the buffered limit).
local function streams_to_invoker(invocation)
  return invocation ~= nil and invocation.sink.begin_stream ~= nil and not invocation.sink.closed()
end

-- The body limit of a Runtime API request (the http_server's max_body): a function's answer is
-- held to AWS's response limits.
function M.max_body(pool, request, rest)
  local id, action = invocation_action(rest)
  if action == "response" and M.streams_body(request) and streams_to_invoker(pool:running_invocation(id)) then
    return limits.STREAMED_RESPONSE_BYTES
  elseif action == "response" or action == "error" then
    return limits.RESPONSE_BYTES
  end
  return limits.OTHER_BYTES
end

-- An answer over its limit (the http_server's too_large): the invocation fails with AWS's
-- Function.ResponseSizeTooLarge (a streamed one ends with it), and the runtime gets the 413
-- AWS's Runtime API answers.
function M.too_large(pool, request, rest, limit, size)
  local id, action = invocation_action(rest)
  local invocation = (action == "response" or action == "error") and pool:running_invocation(id)
  if invocation then
    local kind = "Function.ResponseSizeTooLarge"
    pool:finish(invocation, { ok = false, error_type = kind, by_emulator = true,
      body = pool_module.error_body(kind, string.format("Response payload size (%d bytes) "
        .. "exceeded maximum allowed payload size (%d bytes).", size, limit)) })
  end
  answer_error(request, 413, "RequestEntityTooLarge", string.format(
    "Exceeded maximum allowed payload size (%d bytes).", limit))
end

-- Main-port paths: "/.rt/<name>/2018-06-01/..." and "/2018-06-01/..." (the default function).
-- Returns the function name and the rest of the path, or nil.
function M.split_main_port_path(path, default_name)
  local name, rest = path:match("^/%.rt/([^/]+)(/20%d%d%-%d%d%-%d%d/.*)$")
  if name then
    return name, rest
  end
  rest = path:match("^/%.rt(/20%d%d%-%d%d%-%d%d/.*)$") or path:match("^(/20%d%d%-%d%d%-%d%d/.*)$")
  if rest and (rest:match("^/2018%-06%-01/runtime/") or rest:match("^/2020%-01%-01/extension/")
    or rest == "/2020-08-15/logs" or rest == "/2022-07-01/telemetry") then
    return default_name, rest
  end
  return nil
end

return M
