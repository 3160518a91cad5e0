-- Internal to lambda.aws (not part of the public API; see docs/scripting.md).
-- Web identity: a token file (an OIDC token that EKS, GitHub Actions and the like write) traded
-- for role credentials with STS AssumeRoleWithWebIdentity. Configured by AWS_ROLE_ARN and
-- AWS_WEB_IDENTITY_TOKEN_FILE (+ AWS_ROLE_SESSION_NAME), or by a profile's role_arn and
-- web_identity_token_file (+ role_session_name). The answer is cached as the AWS CLI v2 caches
-- it (role_cache.lua; key: RoleArn, and RoleSessionName when one is configured), and a cached
-- answer that is still good is used without reading the token or calling STS.
local fs = require("lambda.fs")
local env = require("lambda.aws.env")
local files = require("lambda.aws.files")
local role_cache = require("lambda.aws.role_cache")
local sts = require("lambda.aws.sts")

local M = {}

M.LOOKED = "web identity"

-- Returns credentials or nil, message, kind.
local function exchange(context, token_file, origin, role_arn, session_name)
  local cache_key = role_cache.key({ RoleArn = role_arn, RoleSessionName = session_name })
  local cached = role_cache.read(cache_key, "web-identity")
  if cached then
    return cached
  end
  local path, problem = files.expand_home(token_file)
  if not path then
    return nil, "web identity token file (" .. origin .. "): " .. problem, "input"
  end
  local token, message, kind = fs.read(path)
  if not token then
    return nil, string.format("cannot read the web identity token file (%s): %s", origin,
      message), kind
  end
  token = token:match("^%s*(.-)%s*$")
  if token == "" then
    return nil, string.format("the web identity token file %s (%s) is empty", path, origin),
      "input"
  end
  context.secrets[#context.secrets + 1] = token
  local answer
  answer, problem, kind = sts.assume_role_with_web_identity(context, role_arn,
    session_name or sts.default_session_name(), token)
  if not answer then
    return nil, problem, kind
  end
  if answer.credentials.expiration then
    local written, why = role_cache.write(cache_key, answer)
    if not written then
      context.warnings[#context.warnings + 1] = why
    end
  end
  return answer.credentials
end

-- Returns credentials, or false, note when the variables are not set, or nil, message.
function M.from_environment(context)
  local token_file, role_arn = env.get("AWS_WEB_IDENTITY_TOKEN_FILE"), env.get("AWS_ROLE_ARN")
  if not token_file and not role_arn then
    return false, M.LOOKED .. " (AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN not set)"
  end
  if not token_file then
    return nil, "AWS_ROLE_ARN is set but AWS_WEB_IDENTITY_TOKEN_FILE is not", "input"
  end
  if not role_arn then
    return nil, "AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not", "input"
  end
  return exchange(context, token_file, "AWS_WEB_IDENTITY_TOKEN_FILE", role_arn,
    env.get("AWS_ROLE_SESSION_NAME"))
end

function M.configured(profile)
  return profile.web_identity_token_file ~= nil
end

-- Returns credentials or nil, message.
function M.from_profile(context, name, profile)
  local token_file, role_arn = profile.web_identity_token_file, profile.role_arn
  if type(token_file) ~= "string" or token_file == "" then
    return nil, string.format("profile '%s' has an empty web_identity_token_file", name), "input"
  end
  if type(role_arn) ~= "string" or role_arn == "" then
    return nil, string.format("profile '%s' has web_identity_token_file but no role_arn", name),
      "input"
  end
  local session_name = profile.role_session_name
  return exchange(context, token_file, "profile '" .. name .. "'", role_arn,
    type(session_name) == "string" and session_name ~= "" and session_name or nil)
end

return M
