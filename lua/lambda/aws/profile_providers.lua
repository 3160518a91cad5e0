-- Internal to lambda.aws (not part of the public API; see docs/scripting.md).
-- The providers a profile configures for its own keys, in botocore's order: web identity
-- (role_arn + web_identity_token_file), IAM Identity Center, the credentials file's static
-- keys, credential_process (from either file), the config file's static keys. So a config-file
-- profile with both static keys and a credential_process uses the process, and keys in the
-- credentials file win over both. Shared by the selected profile and by the source profile
-- that ends an assume-role chain.
local keys = require("lambda.aws.keys")
local process = require("lambda.aws.process")
local sso = require("lambda.aws.sso")
local web_identity = require("lambda.aws.web_identity")

local M = {}

local function file_keys(context, name, which)
  local section = context.files[which .. "_profiles"]
  section = section and section[name]
  if not section then
    return false
  end
  local path = context.files[which .. "_path"]
  return keys.from_profile(name, section, string.format("profile '%s' in %s", name, path))
end

-- profile: the merged profile. Returns credentials, or false when the profile configures none
-- of them, or nil, message, kind[, field].
function M.load(context, name, profile)
  if web_identity.configured(profile) then
    return web_identity.from_profile(context, name, profile)
  end
  if sso.configured(profile) then
    return sso.load(context, name, profile)
  end
  local static, problem = file_keys(context, name, "credentials")
  if static ~= false then
    return static, problem, "input"
  end
  if profile.credential_process ~= nil then
    return process.load(name, profile, context.timeout)
  end
  static, problem = file_keys(context, name, "config")
  if static ~= false then
    return static, problem, "input"
  end
  return false
end

return M
