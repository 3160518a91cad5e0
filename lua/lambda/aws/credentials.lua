-- Internal to lambda.aws (not part of the public API; see docs/scripting.md).
-- The default credential chain, in the AWS CLI's order (botocore's), stopping at the first
-- provider that yields keys; a provider that is configured but fails stops the chain with its
-- error.
--   1. environment (AWS_ACCESS_KEY_ID...), skipped when the profile field names a profile
--   2. assume-role profile (role_arn with source_profile or credential_source), its results
--      cached in ~/.aws/cli/cache as the AWS CLI caches them
--   3. web identity (AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN, skipped when the profile
--      field names a profile; or the profile's web_identity_token_file + role_arn), cached too
--   4. IAM Identity Center (sso_session or sso_start_url in the profile)
--   5. the profile's static keys in the credentials file
--   6. the profile's credential_process
--   7. the profile's static keys in the config file
--   8. the container credentials endpoint
--   9. EC2 instance metadata
-- When nothing yields keys, the message lists where the chain looked.
local container = require("lambda.aws.container")
local environment = require("lambda.aws.environment")
local files = require("lambda.aws.files")
local imds = require("lambda.aws.imds")
local profile_providers = require("lambda.aws.profile_providers")
local role_chain = require("lambda.aws.role_chain")
local web_identity = require("lambda.aws.web_identity")

local M = {}

-- What the profile's own providers (steps 3-7) make of it: credentials, false, note (nothing
-- there), or nil, message, kind[, field].
local function from_profile(context)
  local name, profile = context.profile.name, context.profile.keys
  if not profile then
    return false, string.format("profile '%s' (not in %s)", name, files.describe(context.files))
  end
  local credentials, problem, kind, field = profile_providers.load(context, name, profile)
  if credentials == false then
    return false, string.format("profile '%s' (no role_arn, web_identity_token_file, "
      .. "sso_session, aws_access_key_id or credential_process)", name)
  end
  return credentials, problem, kind, field
end

local function skipped_by_profile_field(what)
  return false, what .. " (skipped: a profile was named explicitly)"
end

-- context: {files, profile = {name, explicit, keys}, region, secrets = {}, warnings = {},
-- timeout (for a credential_process and a typed MFA code), mfa_token, ca_bundle}. Each step
-- returns credentials, or false and a note for the message listing where the chain looked, or
-- nil, message, kind[, field]. Returns credentials or nil, message, kind[, field].
function M.resolve(context)
  local steps = {
    function()
      if context.profile.explicit then
        return skipped_by_profile_field(environment.LOOKED)
      end
      return environment.load()
    end,
    function()
      if role_chain.is_link(context.profile.keys) then
        return role_chain.load(context, context.profile.name)
      end
      return false
    end,
    function()
      if context.profile.explicit then
        return skipped_by_profile_field(web_identity.LOOKED)
      end
      return web_identity.from_environment(context)
    end,
    function()
      return from_profile(context)
    end,
    function()
      return container.load(context)
    end,
    function()
      return imds.load(context)
    end,
  }
  local looked = {}
  for _, step in ipairs(steps) do
    local credentials, note, kind, field = step()
    if credentials then
      return credentials
    end
    if credentials == nil then
      return nil, note, kind or "input", field
    end
    looked[#looked + 1] = note -- nil for a step that does not apply
  end
  return nil, "no AWS credentials found; looked in: " .. table.concat(looked, "; "), "not_found"
end

return M
