-- Internal to lambda.aws (not part of the public API; see docs/scripting.md).
-- The two STS actions the credential chain needs: AssumeRole (signed with the previous link's
-- keys) and AssumeRoleWithWebIdentity (unsigned: the token is the proof). STS speaks the AWS
-- query protocol: a form-encoded POST, an XML answer.
local http = require("lambda.http")
local sigv4 = require("lambda.sigv4")
local xml = require("lambda.xml")
local endpoint = require("lambda.aws.endpoint")
local keys = require("lambda.aws.keys")
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

local function parse_credentials(body, result_element, source)
  local root, problem = xml.decode(body)
  if not root then
    return nil, "the answer is not XML: " .. tostring(problem)
  end
  local function field(name)
    local value = xml.find(root, result_element, "Credentials", name)
    return value and value:match("^%s*(.-)%s*$")
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
  return keys.new(source, id, secret, token, expires_at)
end

-- describe: how the call is named in messages ("STS AssumeRole for <role arn>").
local function call(action, params, region, signer, describe)
  local base, problem = endpoint.resolve("sts", region)
  if not base then
    return nil, describe .. ": " .. problem
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
      return nil, describe .. ": cannot sign the request: " .. tostring(sign_problem)
    end
    for _, pair in ipairs(signed.headers) do
      headers[#headers + 1] = pair
    end
  end
  local response, message = http.request({
    method = "POST",
    url = target,
    headers = headers,
    body = body,
    connect_timeout = M.CONNECT_TIMEOUT,
    timeout = M.TIMEOUT,
  })
  if not response then
    return nil, describe .. ": " .. message
  end
  if response.status ~= 200 then
    return nil, describe .. ": " .. error_text(response.status, response.body)
  end
  return response.body
end

-- link: {role_arn, session_name, external_id, duration_seconds}; signer: the credentials of
-- the previous link. Returns credentials (source "assume-role") or nil, message.
function M.assume_role(link, signer, region)
  local params = { { "RoleArn", link.role_arn }, { "RoleSessionName", link.session_name } }
  if link.external_id then
    params[#params + 1] = { "ExternalId", link.external_id }
  end
  if link.duration_seconds then
    params[#params + 1] = { "DurationSeconds", tostring(link.duration_seconds) }
  end
  local describe = "STS AssumeRole for " .. link.role_arn
  local body, problem = call("AssumeRole", params, region, signer, describe)
  if not body then
    return nil, problem
  end
  local credentials
  credentials, problem = parse_credentials(body, "AssumeRoleResult", "assume-role")
  if not credentials then
    return nil, describe .. ": " .. problem
  end
  return credentials
end

-- Returns credentials (source "web-identity") or nil, message.
function M.assume_role_with_web_identity(role_arn, session_name, token, region)
  local params = {
    { "RoleArn", role_arn },
    { "RoleSessionName", session_name },
    { "WebIdentityToken", token },
  }
  local describe = "STS AssumeRoleWithWebIdentity for " .. role_arn
  local body, problem = call("AssumeRoleWithWebIdentity", params, region, nil, describe)
  if not body then
    return nil, problem
  end
  local credentials
  credentials, problem = parse_credentials(body, "AssumeRoleWithWebIdentityResult",
    "web-identity")
  if not credentials then
    return nil, describe .. ": " .. problem
  end
  return credentials
end

-- A session name when the profile gives none; STS wants 2-64 of [\w+=,.@-].
function M.default_session_name()
  return "cargo-lambda-" .. os.time()
end

return M
