-- Internal to lambda.aws (not part of the public API; see docs/scripting.md).
-- Keys from the environment: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (both), with
-- a session token and AWS_CREDENTIAL_EXPIRATION. The token is botocore's: the legacy
-- AWS_SECURITY_TOKEN when it is set, else AWS_SESSION_TOKEN.
local env = require("lambda.aws.env")
local keys = require("lambda.aws.keys")

local M = {}

M.LOOKED = "environment"

-- Returns credentials, or false, note when unset, or nil, message, "input" when half set.
function M.load()
  local id, secret = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
  if not id and not secret then
    return false, M.LOOKED .. " (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY not set)"
  end
  if not id then
    return nil, "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not", "input"
  end
  if not secret then
    return nil, "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not", "input"
  end
  local expiration, problem = keys.check_expiration(env.get("AWS_CREDENTIAL_EXPIRATION"),
    "AWS_CREDENTIAL_EXPIRATION")
  if problem then
    return nil, "environment credentials: " .. problem, "input"
  end
  local token_variable = env.get("AWS_SECURITY_TOKEN") and "AWS_SECURITY_TOKEN"
    or "AWS_SESSION_TOKEN"
  local token = env.get(token_variable)
  local credentials, field = keys.check(keys.new("environment", id, secret, token, expiration))
  if not credentials then
    local variable = field == "session_token" and token_variable or ("AWS_" .. field:upper())
    return nil, variable .. " has a control character in it", "input"
  end
  return credentials
end

return M
