-- Internal to lambda.client: invocations sent to a local emulator (cargo-lambda watch, or the
-- original's), over http or https (tls), with the Invoke API's own headers as AWS takes them.
local http = require("lambda.http")
local url = require("lambda.url")

local M = {}

local Target = {}
Target.__index = Target

-- A JSON string literal with only the escapes JSON requires.
local function json_string(text)
  return '"' .. text:gsub('[%c"\\]', function(c)
    local named = { ['"'] = '\\"', ["\\"] = "\\\\", ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }
    return named[c] or string.format("\\u%04x", c:byte())
  end) .. '"'
end

-- options: address, port, tls ({cert, key, ca}, true for the config directory's files only,
-- false for none; nil: the config directory's files when there are some), timeout.
function M.new(options)
  local address = options.address or "localhost"
  local checked, problem = url.check_host(address)
  if not checked then
    return nil, string.format("address: invalid value %s: %s", require("lambda.text").quote(
      address), problem), "input", "address"
  end
  local port = options.port or 9000
  if port < 1 or port > 65535 then
    return nil, string.format("port: %d is not a port number (1 to 65535)", port), "input",
      "port"
  end
  local tls
  if options.tls ~= false then
    local given = type(options.tls) == "table" and options.tls or {}
    for _, field in ipairs({ "cert", "key", "ca" }) do
      if given[field] ~= nil and type(given[field]) ~= "string" then
        error(string.format("client: field 'tls.%s' must be a path", field), 3)
      end
    end
    local resolved, message, field = require("lambda.client.tls").resolve(given)
    if not resolved then
      return nil, message, "input", field
    end
    if resolved.https then
      tls = { cert = resolved.cert, key = resolved.key, ca = resolved.ca }
    end
  end
  return setmetatable({
    address = checked,
    port = port,
    tls = tls,
    scheme = tls and "https" or "http",
    connect_timeout = options.connect_timeout,
  }, Target)
end

-- The Invoke API's URL, or InvokeWithResponseStream's (AWS's path, which the built-in emulator
-- serves; the original's serves only /2015-03-31/functions/NAME/response-streaming-invocations).
function Target:url(name, streaming)
  local path = streaming and "/2021-11-15/functions/%s/response-streaming-invocations"
    or "/2015-03-31/functions/%s/invocations"
  return string.format("%s://%s:%d" .. path, self.scheme, url.format_host(self.address),
    self.port, url.encode_segment(name))
end

function Target:describe()
  return string.format("%s://%s:%d", self.scheme, url.format_host(self.address), self.port)
end

-- send(invocation) -> {response | message, kind; url; stream (with invocation.stream)}
-- The request for an invocation, built once: a load run sends the same invocation again and
-- again (lambda.http does not change the table it is given).
local function request_of(self, invocation)
  local cached = invocation.emulator_request
  if cached and cached.target == self then
    return cached.options, cached.url
  end
  local target = self:url(invocation.name, invocation.stream ~= nil)
  local headers = {}
  if invocation.invocation_type then
    headers[#headers + 1] = { "X-Amz-Invocation-Type", invocation.invocation_type }
  end
  if invocation.log_type then
    headers[#headers + 1] = { "X-Amz-Log-Type", invocation.log_type }
  end
  if invocation.qualifier then
    target = target .. "?Qualifier=" .. url.encode_segment(invocation.qualifier)
  end
  -- The original emulator takes the client context as JSON in this header; the built-in one
  -- takes it there too (and base64 in X-Amz-Client-Context, as AWS).
  if invocation.client_context_text then
    headers[#headers + 1] = { "lambda-runtime-client-context", invocation.client_context_text }
  end
  if invocation.identity then
    headers[#headers + 1] = {
      "lambda-runtime-cognito-identity",
      '{"cognitoIdentityId":' .. json_string(invocation.identity.id)
        .. ',"cognitoIdentityPoolId":' .. json_string(invocation.identity.pool_id) .. "}",
    }
  end
  local options = {
    method = "POST",
    url = target,
    headers = headers,
    body = invocation.body,
    timeout = invocation.timeout,
    connect_timeout = self.connect_timeout,
    tls = self.tls,
    trace = invocation.trace,
  }
  invocation.emulator_request = { target = self, options = options, url = target }
  return options, target
end

function Target:send(invocation)
  local options, target = request_of(self, invocation)
  local reader, response, message, kind, detail
  if invocation.stream then
    local stream = require("lambda.client.stream")
    reader = stream.reader(invocation.on_chunk)
    -- The reader's callback goes into the options: a copy of its own for each send.
    local own = {}
    for key, value in pairs(options) do
      own[key] = value
    end
    response, message, kind, detail = stream.request(reader, own)
  else
    response, message, kind, detail = http.request(options)
  end
  return { response = response, message = message, kind = kind, detail = detail, url = target,
    stream = reader }
end

return M
