-- Internal to lambda.aws (not part of the public API; see docs/scripting.md).
-- Assume-role profiles: a profile with role_arn (and no web_identity_token_file) is a link
-- whose keys come from assuming its role with the keys of its source: source_profile (another
-- profile, followed until a profile yields keys of its own) or credential_source
-- (Environment, Ec2InstanceMetadata, EcsContainer). The rules follow the cross-SDK behaviour:
--   * in the selected profile role_arn wins over static keys; a source profile with static
--     keys (or without role_arn) ends the chain: its keys come from its own providers, in the
--     chain's order (web identity, SSO, credentials-file keys, credential_process, config-file
--     keys), as botocore resolves a source profile;
--   * a profile naming itself as source_profile uses its own static keys as the base;
--   * a profile reached twice is a loop, reported with the path that closes it.
-- The roles are then assumed from the base upwards, each call signed with the previous keys.
-- Each link's answer is cached as the AWS CLI caches it (role_cache.lua), and the links are
-- looked up there first, from the selected profile down: a link found there needs neither the
-- links below it nor the base (no STS call, no credential_process, no MFA code).
-- A link with mfa_serial sends the code from mfa.lua (SerialNumber and TokenCode).
local container = require("lambda.aws.container")
local environment = require("lambda.aws.environment")
local files = require("lambda.aws.files")
local imds = require("lambda.aws.imds")
local keys = require("lambda.aws.keys")
local mfa = require("lambda.aws.mfa")
local profile_providers = require("lambda.aws.profile_providers")
local role_cache = require("lambda.aws.role_cache")
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
-- duration_seconds, mfa_serial, cache_key} or nil, message, "input".
local function link_of(name, profile)
  local role_arn = text(profile.role_arn)
  if not role_arn then
    return nil, string.format("profile '%s' has an empty role_arn", name), "input"
  end
  local mfa_serial = profile.mfa_serial
  if mfa_serial ~= nil and not text(mfa_serial) then
    return nil, string.format("profile '%s' has an empty mfa_serial", name), "input"
  end
  local duration = profile.duration_seconds
  if duration ~= nil then
    duration = type(duration) == "string" and duration:match("^%s*(%d+)%s*$")
    if not duration then
      return nil, string.format("profile '%s': duration_seconds must be a whole number of "
        .. "seconds", name), "input"
    end
    duration = math.tointeger(tonumber(duration))
  end
  local link = {
    profile = name,
    role_arn = role_arn,
    session_name = text(profile.role_session_name),
    external_id = text(profile.external_id),
    duration_seconds = duration,
    mfa_serial = mfa_serial,
  }
  -- botocore's key: the generated session name is left out, the configured one is not.
  link.cache_key = role_cache.key({
    RoleArn = link.role_arn,
    RoleSessionName = link.session_name,
    ExternalId = link.external_id,
    SerialNumber = link.mfa_serial,
    DurationSeconds = link.duration_seconds,
  })
  link.session_name = link.session_name or sts.default_session_name()
  return link
end

-- Keys of a source profile that ends the chain. Returns credentials or nil, message, kind.
local function base_of(context, name, profile, via)
  local credentials, problem, kind, field = profile_providers.load(context, name, profile)
  if credentials == false then
    return nil, string.format("profile '%s' (source_profile of '%s') has no credentials: no "
      .. "aws_access_key_id, role_arn, web_identity_token_file, sso_session or "
      .. "credential_process", name, via), "input"
  end
  return credentials, problem, kind, field
end

local function from_credential_source(context, name, source)
  local provider = CREDENTIAL_SOURCES[source]
  if not provider then
    return nil, string.format("profile '%s': credential_source '%s' is not one of Environment, "
      .. "Ec2InstanceMetadata or EcsContainer", name, source), "input"
  end
  local credentials, problem, kind = provider(context)
  if credentials == false then
    return nil, string.format("profile '%s' has credential_source %s, which found no "
      .. "credentials: %s", name, source, problem), "not_found"
  end
  return credentials, problem, kind
end

-- Walks from the selected profile to the base, checking every link's settings. Returns the
-- links (selected profile first) and a function that resolves the base credentials
-- (-> credentials | nil, message, kind), or nil, message, kind.
local function walk(context, start)
  local visited, path, links = {}, {}, {}
  local name = start
  while true do
    local profile = context.files.profiles[name]
    if visited[name] then
      path[#path + 1] = name
      return nil, "the source_profile settings form a loop: " .. table.concat(path, " -> "),
        "input"
    end
    visited[name] = true
    path[#path + 1] = name
    if #path > 1 and (keys.has_static(profile) or not M.is_link(profile)) then
      local source, via = name, path[#path - 1]
      return links, function()
        return base_of(context, source, profile, via)
      end
    end
    local link, problem, kind = link_of(name, profile)
    if not link then
      return nil, problem, kind
    end
    links[#links + 1] = link
    local source_profile, credential_source = text(profile.source_profile),
      text(profile.credential_source)
    if source_profile and credential_source then
      return nil, string.format("profile '%s' sets both source_profile and credential_source",
        name), "input"
    end
    if credential_source then
      local linked = name
      return links, function()
        return from_credential_source(context, linked, credential_source)
      end
    end
    if not source_profile then
      return nil, string.format("profile '%s' has role_arn but neither source_profile nor "
        .. "credential_source", name), "input"
    end
    if source_profile == name then
      if not keys.has_static(profile) then
        return nil, string.format("profile '%s' is its own source_profile but has no "
          .. "aws_access_key_id and aws_secret_access_key", name), "input"
      end
      local own = name
      return links, function()
        return keys.from_profile(own, profile)
      end
    end
    if not context.files.profiles[source_profile] then
      return nil, string.format("profile '%s' names source_profile '%s', which is not in %s",
        name, source_profile, files.describe(context.files)), "not_found"
    end
    name = source_profile
  end
end

-- Assumes one link's role with the previous keys and caches the answer. Returns credentials
-- or nil, message, kind, field.
local function assume(context, link, signer)
  context.secrets[#context.secrets + 1] = signer.secret_access_key
  context.secrets[#context.secrets + 1] = signer.session_token
  local code, problem, kind, field
  if link.mfa_serial then
    code, problem, kind, field = mfa.code(context, link.profile, link.mfa_serial)
    if not code then
      return nil, problem, kind, field
    end
  end
  local answer
  answer, problem, kind = sts.assume_role(context, link, signer, code)
  if not answer then
    return nil, problem, kind
  end
  if answer.credentials.expiration then
    local written, why = role_cache.write(link.cache_key, answer)
    if not written then
      context.warnings[#context.warnings + 1] = why
    end
  end
  return answer.credentials
end

-- Returns credentials (source "assume-role") or nil, message, kind[, field].
function M.load(context, start)
  local links, base, walk_kind = walk(context, start)
  if not links then
    return nil, base, walk_kind -- base is the message here
  end
  local credentials, first = nil, #links
  for i, link in ipairs(links) do
    credentials = role_cache.read(link.cache_key, "assume-role")
    if credentials then
      first = i - 1
      break
    end
  end
  local problem, kind, field
  if not credentials then
    credentials, problem, kind, field = base()
    if not credentials then
      return nil, problem, kind, field
    end
  end
  for i = first, 1, -1 do
    credentials, problem, kind, field = assume(context, links[i], credentials)
    if not credentials then
      return nil, problem, kind, field
    end
  end
  return credentials
end

return M
