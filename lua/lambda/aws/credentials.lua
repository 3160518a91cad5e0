-- Internal to lambda.aws (not part of the public API; see docs/scripting.md).
-- The default credential chain, in the AWS CLI's order, stopping at the first provider that
-- yields keys; a provider that is configured but fails stops the chain with its error.
--   1. environment (AWS_ACCESS_KEY_ID...), skipped when --profile names a profile
--   2. assume-role profile (role_arn with source_profile or credential_source)
--   3. web identity (AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN, skipped when --profile names
--      a profile; or the profile's web_identity_token_file + role_arn)
--   4. IAM Identity Center (sso_session or sso_start_url in the profile)
--   5. the profile's static keys
--   6. the profile's credential_process
--   7. the container credentials endpoint
--   8. EC2 instance metadata
-- When nothing yields keys, the message lists where the chain looked.
local container = require("lambda.aws.container")
local environment = require("lambda.aws.environment")
local files = require("lambda.aws.files")
local imds = require("lambda.aws.imds")
local profile_providers = require("lambda.aws.profile_providers")
local role_chain = require("lambda.aws.role_chain")
local web_identity = require("lambda.aws.web_identity")

local M = {}

-- What the profile's own providers (steps 3-6) make of it: credentials, false, note (nothing
-- there), or nil, message.
local function from_profile(context)
  local name, profile = context.profile.name, context.profile.keys
  if not profile then
    return false, string.format("profile '%s' (not in %s)", name, files.describe(context.files))
  end
  local credentials, problem = profile_providers.load(context, name, profile)
  if credentials == false then
    return false, string.format("profile '%s' (no role_arn, web_identity_token_file, "
      .. "sso_session, aws_access_key_id or credential_process)", name)
  end
  return credentials, problem
end

local function skipped_by_profile_flag(what)
  return false, what .. " (skipped: --profile given)"
end

-- context: {files, profile = {name, explicit, keys}, region, secrets = {}, timeout (for a
-- credential_process)}. Each step returns credentials, or false and a note for the message
-- listing where the chain looked, or nil, message. Returns credentials or nil, message.
function M.resolve(context)
  local steps = {
    function()
      if context.profile.explicit then
        return skipped_by_profile_flag(environment.LOOKED)
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
        return skipped_by_profile_flag(web_identity.LOOKED)
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
    local credentials, note = step()
    if credentials then
      return credentials
    end
    if credentials == nil then
      return nil, note
    end
    looked[#looked + 1] = note -- nil for a step that does not apply
  end
  return nil, "no AWS credentials found; looked in: " .. table.concat(looked, "; ")
end

return M
