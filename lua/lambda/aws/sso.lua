-- Internal to lambda.aws (not part of the public API; see docs/scripting.md).
-- IAM Identity Center (SSO) profiles. `aws sso login` leaves an access token in
-- ~/.aws/sso/cache/<sha1 hex of the key>.json, the key being the sso-session name (profiles
-- with sso_session) or the start URL (the legacy sso_start_url/sso_region profiles); the portal
-- trades it for role credentials. Logging in is left to the AWS CLI; an sso-session token about
-- to expire is refreshed (sso_token.lua). The role credentials are cached as the AWS CLI
-- caches them (role_cache.lua), so that neither tool asks the portal again while they last.
local json = require("lambda.json")
local endpoint = require("lambda.aws.endpoint")
local keys = require("lambda.aws.keys")
local request = require("lambda.aws.request")
local role_cache = require("lambda.aws.role_cache")
local sso_token = require("lambda.aws.sso_token")

local M = {}

M.CONNECT_TIMEOUT = 5
M.TIMEOUT = 30

local SSO_KEYS = { "sso_session", "sso_start_url", "sso_region", "sso_account_id", "sso_role_name" }

function M.configured(profile)
  for _, key in ipairs(SSO_KEYS) do
    if profile[key] ~= nil then
      return true
    end
  end
  return false
end

local function text(value)
  return type(value) == "string" and value ~= "" and value or nil
end

-- Where the token comes from: {cache_key, region, start_url, session, login_hint, describe} or
-- nil, message, kind.
local function token_source(context, name, profile)
  local session_name = text(profile.sso_session)
  if session_name then
    local session = context.files.sso_sessions[session_name]
    if not session then
      return nil, string.format("profile '%s' names sso_session '%s', but %s has no "
        .. "[sso-session %s] section", name, session_name, context.files.config_path, session_name),
        "not_found"
    end
    local start_url, region = text(session.sso_start_url), text(session.sso_region)
    if not start_url or not region then
      return nil, string.format("[sso-session %s] in %s needs sso_start_url and sso_region",
        session_name, context.files.config_path), "input"
    end
    -- The legacy keys may be repeated in the profile, but must then agree.
    for _, key in ipairs({ "sso_start_url", "sso_region" }) do
      if text(profile[key]) and profile[key] ~= session[key] then
        return nil, string.format("profile '%s' sets %s differently from [sso-session %s]", name,
          key, session_name), "input"
      end
    end
    return {
      cache_key = session_name,
      region = region,
      start_url = start_url,
      session = session_name,
      login_hint = "aws sso login --profile " .. name,
      describe = "sso-session '" .. session_name .. "'",
    }
  end
  local start_url, region = text(profile.sso_start_url), text(profile.sso_region)
  if not start_url or not region then
    return nil, string.format("profile '%s' needs sso_session, or sso_start_url and sso_region",
      name), "input"
  end
  return {
    cache_key = start_url,
    region = region,
    start_url = start_url,
    login_hint = "aws sso login --profile " .. name,
    describe = "start URL " .. start_url,
  }
end

local function query_encode(value)
  return (value:gsub("[^%w%-%._~]", function(c)
    return string.format("%%%02X", c:byte())
  end))
end

-- Returns credentials (source "sso") or nil, message, kind.
function M.load(context, name, profile)
  local source, problem, kind = token_source(context, name, profile)
  if not source then
    return nil, problem, kind
  end
  local account_id, role_name = text(profile.sso_account_id), text(profile.sso_role_name)
  if not account_id or not role_name then
    return nil, string.format("profile '%s' needs sso_account_id and sso_role_name", name),
      "input"
  end
  local cache_key = role_cache.sso_key({ accountId = account_id, roleName = role_name,
    sessionName = source.session, startUrl = not source.session and source.start_url or nil })
  local cached = role_cache.read(cache_key, "sso")
  if cached then
    return cached
  end
  local token
  token, problem, kind = sso_token.get(context, source)
  if not token then
    return nil, problem, kind
  end
  local base
  base, problem, kind = endpoint.resolve("sso", source.region, nil, context)
  if not base then
    return nil, problem, kind
  end
  local target = string.format("%s/federation/credentials?account_id=%s&role_name=%s",
    base:gsub("/+$", ""), query_encode(account_id), query_encode(role_name))
  local describe = string.format("IAM Identity Center credentials for account %s role %s",
    account_id, role_name)
  local response
  response, problem, kind = request.send(context, {
    url = target,
    headers = { { "x-amz-sso_bearer_token", token }, { "Accept", "application/json" } },
    connect_timeout = M.CONNECT_TIMEOUT,
    timeout = M.TIMEOUT,
  }, describe)
  if not response then
    return nil, problem, kind
  end
  local document = json.decode(response.body)
  if response.status ~= 200 then
    local kind = response.headers["x-amzn-errortype"]
    kind = kind and kind:gsub(":.*$", "")
    local detail = type(document) == "table" and (document.message or document.Message)
    local line = string.format("%s: HTTP %d", describe, response.status)
    if kind then
      line = line .. " " .. kind
    end
    if type(detail) == "string" then
      line = line .. ": " .. detail
    end
    if response.status == 401 or response.status == 403 then
      line = line .. "; run `" .. source.login_hint .. "`"
    end
    return nil, line, "service"
  end
  local role = type(document) == "table" and document.roleCredentials
  local credentials
  credentials, problem = keys.from_document(role, {
    access_key_id = "accessKeyId",
    secret_access_key = "secretAccessKey",
    session_token = "sessionToken",
  }, "sso")
  if not credentials then
    return nil, describe .. ": " .. problem, "service"
  end
  -- The portal gives milliseconds since the epoch.
  if type(role.expiration) == "number" then
    credentials.expiration = math.floor(role.expiration / 1000)
    local written, why = role_cache.write_sso(cache_key, credentials, account_id)
    if not written then
      context.warnings[#context.warnings + 1] = why
    end
  end
  return credentials
end

return M
