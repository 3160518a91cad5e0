-- Internal to lambda.aws (not part of the public API; see docs/scripting.md).
-- Web identity: a token file (an OIDC token that EKS, GitHub Actions and the like write) traded
-- for role credentials with STS AssumeRoleWithWebIdentity. Configured by AWS_ROLE_ARN and
-- AWS_WEB_IDENTITY_TOKEN_FILE (+ AWS_ROLE_SESSION_NAME), or by a profile's role_arn and
-- web_identity_token_file (+ role_session_name).
local fs = require("lambda.fs")
local env = require("lambda.aws.env")
local files = require("lambda.aws.files")
local sts = require("lambda.aws.sts")

local M = {}

M.LOOKED = "web identity"

local function exchange(context, token_file, origin, role_arn, session_name)
  local path, problem = files.expand_home(token_file)
  if not path then
    return nil, "web identity token file (" .. origin .. "): " .. problem
  end
  local token, message = fs.read(path)
  if not token then
    return nil, string.format("cannot read the web identity token file (%s): %s", origin, message)
  end
  token = token:match("^%s*(.-)%s*$")
  if token == "" then
    return nil, string.format("the web identity token file %s (%s) is empty", path, origin)
  end
  context.secrets[#context.secrets + 1] = token
  return sts.assume_role_with_web_identity(role_arn, session_name or sts.default_session_name(),
    token, context.region)
end

-- Returns credentials, or false, note when the variables are not set, or nil, message.
function M.from_environment(context)
  local token_file, role_arn = env.get("AWS_WEB_IDENTITY_TOKEN_FILE"), env.get("AWS_ROLE_ARN")
  if not token_file and not role_arn then
    return false, M.LOOKED .. " (AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN not set)"
  end
  if not token_file then
    return nil, "AWS_ROLE_ARN is set but AWS_WEB_IDENTITY_TOKEN_FILE is not"
  end
  if not role_arn then
    return nil, "AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not"
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
    return nil, string.format("profile '%s' has an empty web_identity_token_file", name)
  end
  if type(role_arn) ~= "string" or role_arn == "" then
    return nil, string.format("profile '%s' has web_identity_token_file but no role_arn", name)
  end
  local session_name = profile.role_session_name
  return exchange(context, token_file, "profile '" .. name .. "'", role_arn,
    type(session_name) == "string" and session_name ~= "" and session_name or nil)
end

return M
