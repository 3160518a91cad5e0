-- Internal to lambda.client: invocations sent to AWS Lambda (or any endpoint that speaks its
-- Invoke API): the settings (region, endpoint, credentials) resolved once per client as the
-- AWS CLI resolves them, the SigV4 signature, and the retry policy.
local crypto = require("lambda.crypto")
local http = require("lambda.http")
local sigv4 = require("lambda.sigv4")
local url = require("lambda.url")

local M = {}

-- AWS's limit on X-Amz-Client-Context, in base64.
M.MAX_CLIENT_CONTEXT = 3583
-- Exponential back-off for retried attempts: full jitter below min(cap, base * 2^n).
M.BACKOFF_BASE = 0.5
M.BACKOFF_CAP = 20
M.RETRY_AFTER_CAP = 60

local Target = { remote = true }
Target.__index = Target

-- options: region, profile, endpoint_url, credentials ({access_key_id, secret_access_key,
-- session_token}: else the credential chain), mfa_token, retry_attempts (default: the
-- settings' max_attempts, else 1: no retry), timeout (also the time a credential_process may
-- take; default: the settings' read_timeout), connect_timeout (default: the settings').
function M.new(options)
  local credentials = options.credentials
  if credentials ~= nil and (type(credentials.access_key_id) ~= "string"
      or type(credentials.secret_access_key) ~= "string"
      or (credentials.session_token ~= nil and type(credentials.session_token) ~= "string")) then
    error("client: field 'credentials' must be {access_key_id = string, secret_access_key = "
      .. "string, session_token = string or nil}", 3)
  end
  return setmetatable({
    options = options,
    connect_timeout = options.connect_timeout,
  }, Target)
end

-- The settings, resolved on first use: {profile, region, endpoint, credentials, origin,
-- warnings, ...} | nil, message, kind, field.
function Target:settings()
  if self.resolved then
    return self.resolved
  end
  local options = self.options
  local settings, message, kind, field = require("lambda.aws").resolve({
    profile = options.profile,
    region = options.region,
    endpoint_url = options.endpoint_url,
    service = "lambda",
    timeout = options.timeout,
    credentials = options.credentials,
    mfa_token = options.mfa_token,
  })
  if not settings then
    return nil, message, kind or "input", field
  end
  self.resolved = settings
  -- The settings give the defaults of what the caller did not set.
  self.retry_attempts = math.max(1, options.retry_attempts or settings.max_attempts or 1)
  self.connect_timeout = options.connect_timeout or settings.connect_timeout
  self.read_timeout = settings.read_timeout
  self.tls = settings.ca_bundle and { ca = settings.ca_bundle } or nil
  return settings
end

function Target:describe()
  local settings = self.resolved
  if not settings then
    return "AWS Lambda (settings not resolved yet)"
  end
  return string.format("AWS Lambda at %s (profile %s, region %s, credentials from %s)",
    settings.endpoint, settings.profile, settings.region,
    settings.credentials.source or "?")
end

-- Invoke's URL, or InvokeWithResponseStream's with streaming.
function M.invoke_url(endpoint, name, qualifier, streaming)
  local target = endpoint:gsub("/+$", "") .. (streaming and "/2021-11-15/functions/"
    or "/2015-03-31/functions/") .. url.encode_segment(name)
    .. (streaming and "/response-streaming-invocations" or "/invocations")
  if qualifier then
    target = target .. "?Qualifier=" .. url.encode_segment(qualifier)
  end
  return target
end

-- Answers that prove the function did not run: throttling and the service's own failures.
local function is_retryable_status(status)
  return status == 429 or (status >= 500 and status <= 599)
end

-- Seconds to wait before attempt number `attempt` (2, 3, ...), honouring Retry-After.
function M.backoff(attempt, response)
  local retry_after = response and tonumber(response.headers["retry-after"] or "")
  if retry_after and retry_after >= 0 then
    return math.min(retry_after, M.RETRY_AFTER_CAP)
  end
  local ceiling = math.min(M.BACKOFF_CAP, M.BACKOFF_BASE * 2 ^ (attempt - 2))
  local fraction = string.unpack(">I4", crypto.random_bytes(4)) / 4294967296
  return ceiling * fraction
end

-- The client context as sent (base64), or nil, message, "input", "client_context" when it is
-- over Lambda's limit: checked before anything is sent.
function M.client_context_header(text)
  local encoded = crypto.base64_encode(text)
  if #encoded > M.MAX_CLIENT_CONTEXT then
    return nil, string.format("client_context: the client context is %d bytes in base64, "
      .. "over Lambda's limit of %d", #encoded, M.MAX_CLIENT_CONTEXT), "input", "client_context"
  end
  return encoded
end

-- send(invocation) -> {response | message, kind; url, attempts; stream (with
-- invocation.stream)} | nil, message, kind
function Target:send(invocation)
  local settings, problem, kind, field = self:settings()
  if not settings then
    return nil, problem, kind, field
  end
  local headers = {}
  if invocation.invocation_type then
    headers[#headers + 1] = { "X-Amz-Invocation-Type", invocation.invocation_type }
  end
  if invocation.log_type then
    headers[#headers + 1] = { "X-Amz-Log-Type", invocation.log_type }
  end
  if invocation.client_context_text then
    headers[#headers + 1] = { "X-Amz-Client-Context",
      assert(M.client_context_header(invocation.client_context_text)) }
  end
  local streaming = invocation.stream ~= nil
  local target = M.invoke_url(settings.endpoint, invocation.name, invocation.qualifier, streaming)
  local attempt = 0
  while true do
    attempt = attempt + 1
    local signature, sign_error = sigv4.sign({
      method = "POST",
      url = target,
      headers = headers,
      body = invocation.body,
      service = "lambda",
      region = settings.region,
      credentials = settings.credentials,
    })
    if not signature then
      return nil, sign_error, "input"
    end
    local request_headers = { table.unpack(headers) }
    for _, pair in ipairs(signature.headers) do
      request_headers[#request_headers + 1] = pair
    end
    local options = {
      method = "POST",
      url = target,
      headers = request_headers,
      body = invocation.body,
      timeout = invocation.timeout or self.read_timeout,
      connect_timeout = self.connect_timeout,
      tls = self.tls,
      trace = invocation.trace,
    }
    local reader, response, message, failure, detail
    if streaming then -- a reader per attempt: a retried answer is a service error, kept whole
      local stream = require("lambda.client.stream")
      reader = stream.reader(invocation.on_chunk)
      response, message, failure, detail = stream.request(reader, options)
    else
      response, message, failure, detail = http.request(options)
    end
    local retry_why
    if not response then
      -- Only a refused connection proves nothing was sent; a timeout or a dropped connection
      -- may have run the function already.
      if detail ~= "refused" or attempt >= self.retry_attempts then
        return { message = message, kind = failure, detail = detail, url = target,
          attempts = attempt }
      end
      retry_why = message
    elseif is_retryable_status(response.status) and attempt < self.retry_attempts then
      retry_why = string.format("HTTP %d", response.status)
    else
      return { response = response, url = target, attempts = attempt, stream = reader }
    end
    local delay = M.backoff(attempt + 1, response)
    if invocation.on_retry then
      invocation.on_retry(attempt + 1, delay, retry_why, self.retry_attempts)
    end
    require("lambda.task").sleep(delay)
  end
end

return M
