-- Internal to lambda.aws (not part of the public API; see docs/scripting.md).
-- The two STS actions the credential chain needs: AssumeRole (signed with the previous link's
-- keys) and AssumeRoleWithWebIdentity (unsigned: the token is the proof). STS speaks the AWS
-- query protocol: a form-encoded POST, an XML answer.
local sigv4 = require("lambda.sigv4")
local xml = require("lambda.xml")
local endpoint = require("lambda.aws.endpoint")
local keys = require("lambda.aws.keys")
local request = require("lambda.aws.request")
local timestamp = require("lambda.aws.timestamp")

local M = {}

M.API_VERSION = "2011-06-15"
M.CONTENT_TYPE = "application/x-www-form-urlencoded; charset=utf-8"
M.CONNECT_TIMEOUT = 5
M.TIMEOUT = 30

local function form_encode(text)
  return (text:gsub("[^%w%-%._~]", function(c)
    return string.format("%%%02X", c:byte())
  end))
end

-- params: an array of {name, value}, in the order sent.
local function form_body(params)
  local parts = {}
  for _, pair in ipairs(params) do
    parts[#parts + 1] = form_encode(pair[1]) .. "=" .. form_encode(pair[2])
  end
  return table.concat(parts, "&")
end

-- "Code: Message" of an STS error document, or what can be said without one.
local function error_text(status, body)
  local root = xml.decode(body)
  local function field(name)
    local value = root and xml.find(root, "Error", name)
    return value and value:match("^%s*(.-)%s*$")
  end
  local code, message = field("Code"), field("Message")
  if code and message then
    return code .. ": " .. message
  end
  return string.format("HTTP %d%s", status, code and (" " .. code) or "")
end

-- Returns {credentials, assumed_role_user = {id, arn} | nil, request_id} or nil, problem.
local function parse_answer(body, result_element, source)
  local root, problem = xml.decode(body)
  if not root then
    return nil, "the answer is not XML: " .. tostring(problem)
  end
  local function trimmed(value)
    return type(value) == "string" and value:match("^%s*(.-)%s*$") or nil
  end
  local function field(name)
    return trimmed(xml.find(root, result_element, "Credentials", name))
  end
  local id, secret, token = field("AccessKeyId"), field("SecretAccessKey"), field("SessionToken")
  if not (id and secret and token) then
    return nil, "the answer has no " .. result_element .. "/Credentials with AccessKeyId, "
      .. "SecretAccessKey and SessionToken"
  end
  local expiration = field("Expiration")
  local expires_at = expiration and timestamp.parse(expiration)
  if expiration and not expires_at then
    return nil, "the answer's Expiration is not a timestamp"
  end
  local credentials, bad_field = keys.check(keys.new(source, id, secret, token, expires_at))
  if not credentials then
    return nil, "the answer's " .. bad_field .. " has a control character in it"
  end
  local user_id = trimmed(xml.find(root, result_element, "AssumedRoleUser", "AssumedRoleId"))
  local user_arn = trimmed(xml.find(root, result_element, "AssumedRoleUser", "Arn"))
  return {
    credentials = credentials,
    assumed_role_user = (user_id or user_arn) and { id = user_id, arn = user_arn } or nil,
    request_id = trimmed(xml.find(root, "ResponseMetadata", "RequestId")),
  }
end

-- describe: how the call is named in messages ("STS AssumeRole for <role arn>"). Returns the
-- response or nil, message, kind.
local function call(context, action, params, signer, describe)
  local region = context.region
  local base, problem, kind = endpoint.resolve("sts", region, nil, context)
  if not base then
    return nil, describe .. ": " .. problem, kind
  end
  local target = base:gsub("/+$", "") .. "/"
  table.insert(params, 1, { "Version", M.API_VERSION })
  table.insert(params, 1, { "Action", action })
  local body = form_body(params)
  local headers = { { "Content-Type", M.CONTENT_TYPE } }
  if signer then
    local signed, sign_problem = sigv4.sign({
      method = "POST",
      url = target,
      headers = headers,
      body = body,
      service = "sts",
      region = region,
      credentials = signer,
    })
    if not signed then
      return nil, describe .. ": cannot sign the request: " .. tostring(sign_problem), "input"
    end
    for _, pair in ipairs(signed.headers) do
      headers[#headers + 1] = pair
    end
  end
  local response
  response, problem, kind = request.send(context, {
    method = "POST",
    url = target,
    headers = headers,
    body = body,
    connect_timeout = M.CONNECT_TIMEOUT,
    timeout = M.TIMEOUT,
  }, describe)
  if not response then
    return nil, problem, kind
  end
  if response.status ~= 200 then
    return nil, describe .. ": " .. error_text(response.status, response.body), "service"
  end
  return response
end

-- Returns the answer (see parse_answer, with headers) or nil, message, kind.
local function exchange(context, action, params, signer, describe, result_element, source)
  local response, problem, kind = call(context, action, params, signer, describe)
  if not response then
    return nil, problem, kind
  end
  local answer
  answer, problem = parse_answer(response.body, result_element, source)
  if not answer then
    return nil, describe .. ": " .. problem, "service"
  end
  answer.headers = request.header_map(response)
  return answer
end

-- link: {role_arn, session_name, external_id, duration_seconds, mfa_serial}; signer: the
-- credentials of the previous link; token_code: the MFA code when the link has mfa_serial.
-- Returns the answer ({credentials (source "assume-role"), assumed_role_user, request_id,
-- headers}) or nil, message, kind.
function M.assume_role(context, link, signer, token_code)
  local params = { { "RoleArn", link.role_arn }, { "RoleSessionName", link.session_name } }
  if link.external_id then
    params[#params + 1] = { "ExternalId", link.external_id }
  end
  if link.duration_seconds then
    params[#params + 1] = { "DurationSeconds", tostring(link.duration_seconds) }
  end
  if link.mfa_serial then
    params[#params + 1] = { "SerialNumber", link.mfa_serial }
    params[#params + 1] = { "TokenCode", token_code }
  end
  return exchange(context, "AssumeRole", params, signer, "STS AssumeRole for " .. link.role_arn,
    "AssumeRoleResult", "assume-role")
end

-- Returns the answer (credentials of source "web-identity") or nil, message, kind.
function M.assume_role_with_web_identity(context, role_arn, session_name, token)
  local params = {
    { "RoleArn", role_arn },
    { "RoleSessionName", session_name },
    { "WebIdentityToken", token },
  }
  return exchange(context, "AssumeRoleWithWebIdentity", params, nil,
    "STS AssumeRoleWithWebIdentity for " .. role_arn, "AssumeRoleWithWebIdentityResult",
    "web-identity")
end

-- A session name when the profile gives none; STS wants 2-64 of [\w+=,.@-].
function M.default_session_name()
  return "cargo-lambda-" .. os.time()
end

return M
