-- Internal to lambda.aws (not part of the public API; see docs/scripting.md).
-- The providers a profile configures for its own keys, in the chain's order: web identity
-- (role_arn + web_identity_token_file), IAM Identity Center, static keys, credential_process.
-- Shared by the selected profile and by the last profile of an assume-role chain.
local keys = require("lambda.aws.keys")
local process = require("lambda.aws.process")
local sso = require("lambda.aws.sso")
local web_identity = require("lambda.aws.web_identity")

local M = {}

-- Returns credentials, or false when the profile configures none of them, or nil, message.
function M.load(context, name, profile)
  if web_identity.configured(profile) then
    return web_identity.from_profile(context, name, profile)
  end
  if sso.configured(profile) then
    return sso.load(context, name, profile)
  end
  local static, problem = keys.from_profile(name, profile)
  if static ~= false then
    return static, problem
  end
  if profile.credential_process ~= nil then
    return process.load(name, profile, context.timeout)
  end
  return false
end

return M
