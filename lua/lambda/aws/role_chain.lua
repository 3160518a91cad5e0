-- Internal to lambda.aws (not part of the public API; see docs/scripting.md).
-- Assume-role profiles: a profile with role_arn (and no web_identity_token_file) is a link
-- whose keys come from assuming its role with the keys of its source: source_profile (another
-- profile, followed until a profile yields keys of its own) or credential_source
-- (Environment, Ec2InstanceMetadata, EcsContainer). The rules follow the cross-SDK behaviour:
--   * in the selected profile role_arn wins over static keys; in a source profile static keys
--     end the chain and are used as they are;
--   * a profile naming itself as source_profile uses its own static keys as the base;
--   * a profile reached twice is a loop, reported with the path that closes it.
-- The roles are then assumed from the base upwards, each call signed with the previous keys.
local container = require("lambda.aws.container")
local environment = require("lambda.aws.environment")
local files = require("lambda.aws.files")
local imds = require("lambda.aws.imds")
local keys = require("lambda.aws.keys")
local profile_providers = require("lambda.aws.profile_providers")
local sts = require("lambda.aws.sts")

local M = {}

function M.is_link(profile)
  return profile ~= nil and profile.role_arn ~= nil and profile.web_identity_token_file == nil
end

local function text(value)
  return type(value) == "string" and value ~= "" and value or nil
end

local CREDENTIAL_SOURCES = {
  Environment = function(_)
    return environment.load()
  end,
  EcsContainer = function(context)
    return container.load(context)
  end,
  Ec2InstanceMetadata = function(context)
    return imds.load(context)
  end,
}

-- The settings of one link, checked. Returns {profile, role_arn, session_name, external_id,
-- duration_seconds} or nil, message.
local function link_of(name, profile)
  local role_arn = text(profile.role_arn)
  if not role_arn then
    return nil, string.format("profile '%s' has an empty role_arn", name)
  end
  if profile.mfa_serial ~= nil then
    return nil, string.format("profile '%s' sets mfa_serial: roles that need an MFA code are "
      .. "not supported", name)
  end
  local duration = profile.duration_seconds
  if duration ~= nil then
    duration = type(duration) == "string" and duration:match("^%s*(%d+)%s*$")
    if not duration then
      return nil, string.format("profile '%s': duration_seconds must be a whole number of "
        .. "seconds", name)
    end
    duration = tonumber(duration)
  end
  return {
    profile = name,
    role_arn = role_arn,
    session_name = text(profile.role_session_name) or sts.default_session_name(),
    external_id = text(profile.external_id),
    duration_seconds = duration,
  }
end

-- Keys of a source profile that is not a link. Returns credentials or nil, message.
local function base_of(context, name, profile, via)
  local credentials, problem = profile_providers.load(context, name, profile)
  if credentials == false then
    return nil, string.format("profile '%s' (source_profile of '%s') has no credentials: no "
      .. "aws_access_key_id, role_arn, web_identity_token_file, sso_session or "
      .. "credential_process", name, via)
  end
  return credentials, problem
end

local function from_credential_source(context, name, source)
  local provider = CREDENTIAL_SOURCES[source]
  if not provider then
    return nil, string.format("profile '%s': credential_source '%s' is not one of Environment, "
      .. "Ec2InstanceMetadata or EcsContainer", name, source)
  end
  local credentials, problem = provider(context)
  if credentials == false then
    return nil, string.format("profile '%s' has credential_source %s, which found no "
      .. "credentials: %s", name, source, problem)
  end
  return credentials, problem
end

-- Walks from the selected profile to the base. Returns the base credentials and the links
-- (selected profile first), or nil, message.
local function walk(context, start)
  local visited, path, links = {}, {}, {}
  local name = start
  while true do
    local profile = context.files.profiles[name]
    if visited[name] then
      path[#path + 1] = name
      return nil, "the source_profile settings form a loop: " .. table.concat(path, " -> ")
    end
    visited[name] = true
    path[#path + 1] = name
    if #path > 1 then
      local static, problem = keys.from_profile(name, profile)
      if static ~= false then
        return static, problem, links
      end
    end
    if not M.is_link(profile) then
      local credentials, problem = base_of(context, name, profile, path[#path - 1])
      return credentials, problem, links
    end
    local link, problem = link_of(name, profile)
    if not link then
      return nil, problem
    end
    links[#links + 1] = link
    local source_profile, credential_source = text(profile.source_profile),
      text(profile.credential_source)
    if source_profile and credential_source then
      return nil, string.format("profile '%s' sets both source_profile and credential_source",
        name)
    end
    if credential_source then
      local credentials
      credentials, problem = from_credential_source(context, name, credential_source)
      return credentials, problem, links
    end
    if not source_profile then
      return nil, string.format("profile '%s' has role_arn but neither source_profile nor "
        .. "credential_source", name)
    end
    if source_profile == name then
      local static
      static, problem = keys.from_profile(name, profile)
      if static == false then
        return nil, string.format("profile '%s' is its own source_profile but has no "
          .. "aws_access_key_id and aws_secret_access_key", name)
      end
      return static, problem, links
    end
    if not context.files.profiles[source_profile] then
      return nil, string.format("profile '%s' names source_profile '%s', which is not in %s",
        name, source_profile, files.describe(context.files))
    end
    name = source_profile
  end
end

-- Returns credentials (source "assume-role") or nil, message.
function M.load(context, start)
  local credentials, problem, links = walk(context, start)
  if not credentials then
    return nil, problem
  end
  for i = #links, 1, -1 do
    context.secrets[#context.secrets + 1] = credentials.secret_access_key
    context.secrets[#context.secrets + 1] = credentials.session_token
    credentials, problem = sts.assume_role(links[i], credentials, context.region)
    if not credentials then
      return nil, problem
    end
  end
  return credentials
end

return M
