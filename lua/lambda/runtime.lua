-- A Lambda Runtime API client: runs a Lua handler as a Lambda function, against AWS's Runtime
-- API or the emulator's (AWS_LAMBDA_RUNTIME_API=host:port).
--
--   local runtime = require("lambda.runtime")
--   runtime.start(function(event, context)
--     return { hello = event.name }          -- encoded as JSON (a string is sent as is)
--   end)
--
-- The event is the decoded JSON payload (the raw text is context.payload). A handler that
-- raises reports the error to the Runtime API as {errorType, errorMessage, stackTrace} and
-- the loop goes on to the next invocation, as the official runtimes do.
local http = require("lambda.http")
local json = require("lambda.json")

local M = {}

M.API_VERSION = "2018-06-01"

local function api_base()
  local address = os.getenv("AWS_LAMBDA_RUNTIME_API")
  if not address or address == "" then
    return nil, "AWS_LAMBDA_RUNTIME_API is not set: run this function under the emulator "
      .. "(cargo-lambda watch -- ...) or on AWS Lambda", "input"
  end
  -- AWS's form is host:port; accept a URL too, as the original emulator sets one.
  if not address:match("^https?://") then
    address = "http://" .. address
  end
  return address:gsub("/+$", "") .. "/" .. M.API_VERSION .. "/runtime"
end

local function post(url, body, headers)
  local response, message, kind = http.request({
    method = "POST",
    url = url,
    body = body,
    headers = headers or {},
  })
  if not response then
    return nil, message, kind
  end
  if response.status >= 300 then
    return nil, string.format("%s answered HTTP %d: %s", url, response.status, response.body),
      "service"
  end
  return true
end

local function error_document(kind, message, traceback)
  -- array_mt: with no traceback (init errors) the Runtime API still gets "stackTrace": [].
  local trace = setmetatable({}, json.array_mt)
  for line in (traceback or ""):gmatch("[^\n]+") do
    trace[#trace + 1] = line
  end
  return json.encode({ errorType = kind, errorMessage = message, stackTrace = trace })
end

-- The context a handler gets: the invocation's metadata as the Runtime API gave it.
local function new_context(response)
  local headers = response.headers
  local deadline = tonumber(headers["lambda-runtime-deadline-ms"] or "")
  local context = {
    aws_request_id = headers["lambda-runtime-aws-request-id"],
    invoked_function_arn = headers["lambda-runtime-invoked-function-arn"],
    trace_id = headers["lambda-runtime-trace-id"],
    deadline_ms = deadline,
    function_name = os.getenv("AWS_LAMBDA_FUNCTION_NAME"),
    function_version = os.getenv("AWS_LAMBDA_FUNCTION_VERSION"),
    memory_limit_in_mb = tonumber(os.getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE") or ""),
    log_group_name = os.getenv("AWS_LAMBDA_LOG_GROUP_NAME"),
    log_stream_name = os.getenv("AWS_LAMBDA_LOG_STREAM_NAME"),
    payload = response.body,
  }
  local client_context = headers["lambda-runtime-client-context"]
  if client_context then
    context.client_context = json.decode(client_context)
  end
  local identity = headers["lambda-runtime-cognito-identity"]
  if identity then
    context.identity = json.decode(identity)
  end
  function context.remaining_time_ms()
    if not deadline then
      return nil
    end
    return deadline - require("lambda.time").now() * 1000
  end
  return context
end

-- Runs one invocation: true, or nil, message, kind when the Runtime API is gone (the loop
-- ends).
function M.handle_next(base, handler)
  local response, message, failure = http.request({ method = "GET",
    url = base .. "/invocation/next" })
  if not response then
    return nil, message, failure
  end
  if response.status ~= 200 then
    return nil, string.format("%s/invocation/next answered HTTP %d", base, response.status),
      "service"
  end
  local context = new_context(response)
  local id = context.aws_request_id
  if not id then
    return nil, "the Runtime API sent an invocation without Lambda-Runtime-Aws-Request-Id",
      "service"
  end
  local event = response.body
  if event ~= "" then
    local decoded = json.decode(event)
    if decoded ~= nil then
      event = decoded
    end
  end
  local ok, result = xpcall(handler, debug.traceback, event, context)
  if ok then
    local body = result
    if body == nil then
      body = "null"
    elseif type(body) ~= "string" then
      body = json.encode(body)
    end
    return post(base .. "/invocation/" .. id .. "/response", body)
  end
  local message_text = tostring(result):match("^[^\n]*")
  return post(base .. "/invocation/" .. id .. "/error",
    error_document("Runtime.HandlerError", message_text, tostring(result)),
    { { "Lambda-Runtime-Function-Error-Type", "Runtime.HandlerError" } })
end

-- Reports a failure to start (the handler could not be loaded) to /init/error.
function M.init_error(kind, message)
  local base, problem, failure = api_base()
  if not base then
    return nil, problem, failure
  end
  return post(base .. "/init/error", error_document(kind, message),
    { { "Lambda-Runtime-Function-Error-Type", kind } })
end

-- Serves invocations until the Runtime API goes away; returns nil, the reason it stopped and
-- its kind.
function M.start(handler)
  if type(handler) ~= "function" then
    error("bad argument #1 to 'start' (a handler function expected)", 2)
  end
  local base, problem, kind = api_base()
  if not base then
    return nil, problem, kind
  end
  while true do
    local ok, failure, failure_kind = M.handle_next(base, handler)
    if not ok then
      return nil, failure, failure_kind
    end
  end
end

return M
