-- Invoking a function through the local emulator's Invoke API. The invoke command is a thin
-- layer over this module, and user scripts call it the same way.
local http = require("lambda.http")
local url = require("lambda.url")
local function_error = require("lambda.function_error")

local M = {}

M.DEFAULT_ADDRESS = "localhost"
M.DEFAULT_PORT = 9000
M.DEFAULT_FUNCTION = "_"

local EXPECTED_STATUS = { RequestResponse = 200, Event = 202, DryRun = 204 }

-- Lambda's payload quotas, enforced before sending, locally as on AWS: 6 MB for synchronous
-- invocations (RequestResponse, DryRun), 1 MB for Event.
M.MAX_SYNC_PAYLOAD = 6 * 1024 * 1024
M.MAX_EVENT_PAYLOAD = 1024 * 1024

-- The payload limit in bytes for an invocation type (nil: RequestResponse).
function M.payload_limit(invocation_type)
  return invocation_type == "Event" and M.MAX_EVENT_PAYLOAD or M.MAX_SYNC_PAYLOAD
end

-- "<subject> is over the 6 MB limit (6291456 bytes) for RequestResponse invocations"
function M.payload_limit_message(subject, invocation_type)
  local limit = M.payload_limit(invocation_type)
  return string.format("%s is over the %d MB limit (%d bytes) for %s invocations", subject,
    limit // (1024 * 1024), limit, invocation_type or "RequestResponse")
end

-- true, or nil and a message when payload (a string) is over its invocation type's limit.
function M.check_payload(payload, invocation_type)
  if #payload > M.payload_limit(invocation_type) then
    return nil, M.payload_limit_message(string.format("the payload (%d bytes)", #payload),
      invocation_type)
  end
  return true
end

-- A JSON string literal with only the escapes JSON requires (cjson would also escape '/').
local function json_string(text)
  return '"' .. text:gsub('[%c"\\]', function(c)
    local named = { ['"'] = '\\"', ["\\"] = "\\\\", ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }
    return named[c] or string.format("\\u%04x", c:byte())
  end) .. '"'
end

function M.local_url(options)
  local scheme = options.https and "https" or "http"
  return string.format("%s://%s:%d/2015-03-31/functions/%s/invocations", scheme,
    url.format_host(options.address or M.DEFAULT_ADDRESS), options.port or M.DEFAULT_PORT,
    url.encode_segment(options.name or M.DEFAULT_FUNCTION))
end

-- X-Amz-Invocation-Type and X-Amz-Log-Type, for local and remote invocations alike.
function M.type_headers(options)
  local headers = {}
  if options.invocation_type then
    headers[#headers + 1] = { "X-Amz-Invocation-Type", options.invocation_type }
  end
  if options.log_type then
    headers[#headers + 1] = { "X-Amz-Log-Type", options.log_type }
  end
  return headers
end

-- The decoded X-Amz-Log-Result of an answer (the log tail asked for with Tail), or nil.
function M.log_result(headers)
  local encoded = headers["x-amz-log-result"]
  return encoded and require("lambda.crypto").base64_decode(encoded) or nil
end

-- options: name, payload (string), address, port, https, tls = {cert, key, ca},
--   client_context (JSON text, one line), identity = {id =, pool_id =}, invocation_type,
--   log_type, timeout (s), trace.
-- Returns a result {url, status, body, headers, response, log_result, error = nil |
-- {type, message, ...}, error_line} or nil, message, kind: "input" before sending (a payload
-- over the limit), else the HTTP client's failure kinds.
function M.invoke_local(options)
  local fits, too_large = M.check_payload(options.payload or "", options.invocation_type)
  if not fits then
    return nil, too_large, "input"
  end
  local target = M.local_url(options)
  -- The built-in emulator understands the Invoke API's own headers as AWS does.
  local headers = M.type_headers(options)
  if options.client_context then
    headers[#headers + 1] = { "lambda-runtime-client-context", options.client_context }
  end
  if options.identity then
    headers[#headers + 1] = {
      "lambda-runtime-cognito-identity",
      '{"cognitoIdentityId":' .. json_string(options.identity.id) .. ',"cognitoIdentityPoolId":'
        .. json_string(options.identity.pool_id) .. "}",
    }
  end
  local response, message, kind = http.request({
    method = "POST",
    url = target,
    headers = headers,
    body = options.payload or "",
    timeout = options.timeout,
    tls = options.tls,
    trace = options.trace,
  })
  if not response then
    return nil, message, kind
  end
  local result = {
    url = target,
    status = response.status,
    body = response.body,
    headers = response.headers,
    response = response,
  }
  result.log_result = M.log_result(response.headers)
  -- Lambda answers a function's failure with 200 and X-Amz-Function-Error; the original's
  -- emulator with a non-200 status. Either is the function's error. Event and DryRun are
  -- answered 202 and 204.
  local expected = EXPECTED_STATUS[options.invocation_type or "RequestResponse"]
  if response.status ~= expected or response.headers["x-amz-function-error"] then
    result.error, result.error_line = function_error.describe(response.status, response.body)
  end
  return result
end

return M
