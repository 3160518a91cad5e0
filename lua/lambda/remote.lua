-- The Lambda Invoke API on AWS (or any endpoint that speaks it): the request, its SigV4
-- signature, the retry policy, and the answer taken apart. `invoke --remote` is a thin layer
-- over this module; scripts call it the same way.
local crypto = require("lambda.crypto")
local http = require("lambda.http")
local invoke = require("lambda.invoke")
local json = require("lambda.json")
local sigv4 = require("lambda.sigv4")
local time = require("lambda.time")
local url = require("lambda.url")
local function_error = require("lambda.function_error")

local M = {}

M.INVOCATION_TYPES = { "RequestResponse", "Event", "DryRun" }
M.LOG_TYPES = { "None", "Tail" }
-- Lambda's quotas: the request limits are checked before sending so that a user learns the
-- limit instead of a 413. The payload limits are lambda.invoke's.
M.MAX_SYNC_PAYLOAD = invoke.MAX_SYNC_PAYLOAD
M.MAX_EVENT_PAYLOAD = invoke.MAX_EVENT_PAYLOAD
M.MAX_CLIENT_CONTEXT = 3583
-- Exponential back-off for retried attempts: full jitter below min(cap, base * 2^n).
M.BACKOFF_BASE = 0.5
M.BACKOFF_CAP = 20
M.RETRY_AFTER_CAP = 60

function M.invoke_url(endpoint, name, qualifier)
  local target = endpoint:gsub("/+$", "") .. "/2015-03-31/functions/" .. url.encode_segment(name)
    .. "/invocations"
  if qualifier then
    target = target .. "?Qualifier=" .. url.encode_segment(qualifier)
  end
  return target
end

-- Checks what can be checked before anything is sent. Returns the headers or nil, message.
local function build_headers(options)
  local fits, too_large = invoke.check_payload(options.payload or "", options.invocation_type)
  if not fits then
    return nil, too_large
  end
  local headers = invoke.type_headers(options)
  if options.client_context then
    local encoded = crypto.base64_encode(options.client_context)
    if #encoded > M.MAX_CLIENT_CONTEXT then
      return nil, string.format("the client context is %d bytes in base64, over Lambda's "
        .. "limit of %d", #encoded, M.MAX_CLIENT_CONTEXT)
    end
    headers[#headers + 1] = { "X-Amz-Client-Context", encoded }
  end
  return headers
end

-- A service error's type: header x-amzn-ErrorType (minus a ":url" suffix and a "namespace#"
-- prefix), else the body's __type / code; its message: the body's message / Message.
function M.service_error(status, headers, body)
  local decoded = body ~= "" and json.decode(body) or nil
  if type(decoded) ~= "table" then
    decoded = {}
  end
  local kind = headers["x-amzn-errortype"] or decoded.__type or decoded.code or decoded.Code
  if type(kind) == "string" then
    kind = kind:gsub(":.*$", ""):gsub("^.*#", "")
  else
    kind = nil
  end
  local message = decoded.message or decoded.Message or decoded.errorMessage
  if type(message) ~= "string" then
    message = nil
  end
  if message then
    -- One line on the terminal, whatever the service put in its message.
    message = message:gsub("%s*[%c]+%s*", " "):gsub("^%s+", ""):gsub("%s+$", "")
  end
  local line
  if kind and message then
    line = kind .. ": " .. message
  elseif kind or message then
    line = string.format("HTTP %d: %s", status, kind or message)
  else
    local _, described = function_error.describe(status, body)
    line = described
  end
  return { status = status, type = kind, message = message }, line
end

-- Answers that prove the function did not run: throttling and the service's own failures.
local function is_retryable_status(status)
  return status == 429 or (status >= 500 and status <= 599)
end

-- Seconds to wait before attempt number `attempt` (2, 3, ...), honouring Retry-After.
local function backoff(attempt, response)
  local retry_after = response and tonumber(response.headers["retry-after"] or "")
  if retry_after and retry_after >= 0 then
    return math.min(retry_after, M.RETRY_AFTER_CAP)
  end
  local ceiling = math.min(M.BACKOFF_CAP, M.BACKOFF_BASE * 2 ^ (attempt - 2))
  local bytes = crypto.random_bytes(4)
  local fraction = string.unpack(">I4", bytes) / 4294967296
  return ceiling * fraction
end

-- options: name, qualifier, payload, invocation_type, log_type, client_context (JSON text),
--   endpoint, region, credentials {access_key_id, secret_access_key, session_token},
--   timeout (s), retry_attempts (default 1 = no retry), trace, on_retry(attempt, delay, why).
-- Returns a result:
--   {url, status, body, headers, response, attempts, executed_version, log_result (decoded),
--    function_error = nil | {type, message, ...}, function_error_line,
--    service_error = nil | {status, type, message}, service_error_line}
-- or nil, message, kind ("input" before sending, else the HTTP client's kinds).
function M.invoke(options)
  local headers, problem = build_headers(options)
  if not headers then
    return nil, problem, "input"
  end
  local target = M.invoke_url(options.endpoint, options.name, options.qualifier)
  local attempts_allowed = math.max(1, options.retry_attempts or 1)
  local attempt = 0
  while true do
    attempt = attempt + 1
    local signature, sign_error = sigv4.sign({
      method = "POST",
      url = target,
      headers = headers,
      body = options.payload or "",
      service = "lambda",
      region = options.region,
      credentials = options.credentials,
    })
    if not signature then
      return nil, sign_error, "input"
    end
    local request_headers = { table.unpack(headers) }
    for _, pair in ipairs(signature.headers) do
      request_headers[#request_headers + 1] = pair
    end
    local response, message, kind = http.request({
      method = "POST",
      url = target,
      headers = request_headers,
      body = options.payload or "",
      timeout = options.timeout,
      tls = options.tls,
      trace = options.trace,
    })
    local retry_why
    if not response then
      -- Only a refused connection proves nothing was sent; a timeout or a dropped connection
      -- may have run the function already.
      if kind ~= "refused" or attempt >= attempts_allowed then
        return nil, message, kind
      end
      retry_why = message
    elseif is_retryable_status(response.status) and attempt < attempts_allowed then
      retry_why = string.format("HTTP %d", response.status)
    else
      return M.interpret(target, response, attempt)
    end
    local delay = backoff(attempt + 1, response)
    if options.on_retry then
      options.on_retry(attempt + 1, delay, retry_why)
    end
    time.sleep(delay)
  end
end

-- Takes an Invoke answer apart.
function M.interpret(target, response, attempts)
  local result = {
    url = target,
    status = response.status,
    body = response.body,
    headers = response.headers,
    response = response,
    attempts = attempts,
    executed_version = response.headers["x-amz-executed-version"],
  }
  result.log_result = invoke.log_result(response.headers)
  if response.status == 200 or response.status == 202 or response.status == 204 then
    if response.headers["x-amz-function-error"] then
      result.function_error, result.function_error_line =
        function_error.describe(response.status, response.body)
    end
  else
    result.service_error, result.service_error_line =
      M.service_error(response.status, response.headers, response.body)
  end
  return result
end

return M
