-- Internal to lambda.aws (not part of the public API; see docs/scripting.md).
-- EC2 instance metadata: the instance role's credentials. IMDSv2 (a session token from
-- PUT /latest/api/token) first; IMDSv1 only when the token call answers 403, 404 or 405 and v1
-- is not disabled. Off EC2 nothing answers, so the timeouts are short and an unreachable
-- service means "not here" rather than an error.
local http = require("lambda.http")
local json = require("lambda.json")
local env = require("lambda.aws.env")
local keys = require("lambda.aws.keys")

local M = {}

M.IPV4_ENDPOINT = "http://169.254.169.254"
M.IPV6_ENDPOINT = "http://[fd00:ec2::254]"
M.CONNECT_TIMEOUT = 1
M.TIMEOUT = 2
M.TOKEN_TTL = "21600"
M.LOOKED = "EC2 instance metadata"

local CREDENTIALS_PATH = "/latest/meta-data/iam/security-credentials/"

local function setting(profile, variable, key)
  local value = env.get(variable)
  if value then
    return value, variable
  end
  value = profile and profile[key]
  if type(value) == "string" and value ~= "" then
    return value, "profile key " .. key
  end
  return nil
end

-- Returns the base URL or nil, message.
function M.endpoint(profile)
  local url = setting(profile, "AWS_EC2_METADATA_SERVICE_ENDPOINT", "ec2_metadata_service_endpoint")
  if url then
    return (url:gsub("/+$", ""))
  end
  local mode, origin = setting(profile, "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
    "ec2_metadata_service_endpoint_mode")
  if mode == nil or mode:lower() == "ipv4" then
    return M.IPV4_ENDPOINT
  end
  if mode:lower() == "ipv6" then
    return M.IPV6_ENDPOINT
  end
  return nil, string.format("%s is '%s'; expected IPv4 or IPv6", origin, mode), "input"
end

local function get(url, headers)
  return http.request({
    url = url,
    headers = headers,
    connect_timeout = M.CONNECT_TIMEOUT,
    timeout = M.TIMEOUT,
  })
end

-- Returns credentials (source "imds"), or false, note when there is no instance role to be
-- had, or nil, message.
function M.load(context)
  local profile = context.profile.keys
  if env.is_true(env.get("AWS_EC2_METADATA_DISABLED")) then
    return false, M.LOOKED .. " (disabled by AWS_EC2_METADATA_DISABLED)"
  end
  local base, problem, problem_kind = M.endpoint(profile)
  if not base then
    return nil, problem, problem_kind
  end
  local function unavailable(why)
    return false, string.format("%s at %s (%s)", M.LOOKED, base, why)
  end
  local v1_disabled = env.is_true(setting(profile, "AWS_EC2_METADATA_V1_DISABLED",
    "ec2_metadata_v1_disabled"))

  local response, message = http.request({
    method = "PUT",
    url = base .. "/latest/api/token",
    headers = { { "X-aws-ec2-metadata-token-ttl-seconds", M.TOKEN_TTL } },
    connect_timeout = M.CONNECT_TIMEOUT,
    timeout = M.TIMEOUT,
  })
  if not response then
    return unavailable(message)
  end
  local headers = {}
  if response.status == 200 then
    if response.body == "" or response.body:find("%c") then
      return unavailable("the token request was answered with something that is not a token")
    end
    context.secrets[#context.secrets + 1] = response.body
    headers[1] = { "X-aws-ec2-metadata-token", response.body }
  elseif response.status == 403 or response.status == 404 or response.status == 405 then
    if v1_disabled then
      return unavailable(string.format("the token request was answered with HTTP %d and "
        .. "IMDSv1 is disabled", response.status))
    end
  else
    return unavailable(string.format("the token request was answered with HTTP %d",
      response.status))
  end

  response, message = get(base .. CREDENTIALS_PATH, headers)
  if not response then
    return unavailable(message)
  end
  if response.status ~= 200 then
    return unavailable(string.format("no instance role: HTTP %d", response.status))
  end
  local role = response.body:match("^%s*([^\r\n]-)%s*\n") or response.body:match("^%s*(.-)%s*$")
  if role == "" then
    return unavailable("no instance role")
  end
  local describe = string.format("EC2 instance metadata credentials of role %s", role)
  local kind
  response, message, kind = get(base .. CREDENTIALS_PATH .. role, headers)
  if not response then
    return nil, describe .. ": " .. message, kind or "transport"
  end
  if response.status ~= 200 then
    return nil, string.format("%s: HTTP %d", describe, response.status), "service"
  end
  local document = json.decode(response.body)
  if type(document) == "table" and type(document.Code) == "string"
    and document.Code ~= "Success" then
    return nil, string.format("%s: %s%s", describe, document.Code,
      type(document.Message) == "string" and (": " .. document.Message) or ""), "service"
  end
  local credentials
  credentials, problem = keys.from_document(document, keys.ENDPOINT_FIELDS, "imds", describe)
  if not credentials then
    return nil, problem, "service"
  end
  return credentials
end

return M
