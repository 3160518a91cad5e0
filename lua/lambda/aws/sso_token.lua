-- Internal to lambda.aws (not part of the public API; see docs/scripting.md).
-- The IAM Identity Center access token that `aws sso login` leaves in
-- ~/.aws/sso/cache/<sha1 hex of the key>.json, and its refresh, as botocore's
-- SSOTokenProvider does it: for an sso-session (not the legacy sso_start_url profiles), a token
-- that expires within REFRESH_WINDOW seconds is refreshed through SSO OIDC CreateToken when the
-- cache holds a refresh token and a client registration that has not expired; the new token is
-- written back in the AWS CLI's format (startUrl, region, accessToken, expiresAt, clientId,
-- clientSecret, registrationExpiresAt, refreshToken), atomically and with mode 0600. A failed
-- refresh leaves a token that has not expired yet in use; an expired one is an error telling
-- to log in again, with the refresh's failure.
local crypto = require("lambda.crypto")
local fs = require("lambda.fs")
local json = require("lambda.json")
local endpoint = require("lambda.aws.endpoint")
local files = require("lambda.aws.files")
local private_file = require("lambda.aws.private_file")
local pyjson = require("lambda.aws.pyjson")
local request = require("lambda.aws.request")
local timestamp = require("lambda.aws.timestamp")

local M = {}

M.REFRESH_WINDOW = 15 * 60
M.CONNECT_TIMEOUT = 5
M.TIMEOUT = 30
local MAX_CACHE_FILE = 64 * 1024

local function text(value)
  return type(value) == "string" and value ~= "" and value or nil
end

-- source: {cache_key, region, start_url, session (the sso-session name, nil for a legacy
-- profile), login_hint, describe}. Returns a new cache table or nil, message, kind.
local function create_token(context, source, cache)
  local base, problem, kind = endpoint.resolve("sso_oidc", source.region, nil, context)
  if not base then
    return nil, problem, kind
  end
  local describe = "SSO OIDC CreateToken"
  local response
  response, problem, kind = request.send(context, {
    method = "POST",
    url = base:gsub("/+$", "") .. "/token",
    headers = { { "Content-Type", "application/json" }, { "Accept", "application/json" } },
    body = json.encode({
      clientId = cache.clientId,
      clientSecret = cache.clientSecret,
      grantType = "refresh_token",
      refreshToken = cache.refreshToken,
    }),
    connect_timeout = M.CONNECT_TIMEOUT,
    timeout = M.TIMEOUT,
  }, describe)
  if not response then
    return nil, problem, kind
  end
  local answer = json.decode(response.body)
  if response.status ~= 200 then
    local line = string.format("%s: HTTP %d", describe, response.status)
    local error_type = response.headers["x-amzn-errortype"]
    if error_type then
      line = line .. " " .. error_type:gsub(":.*$", "")
    end
    if type(answer) == "table" and type(answer.error) == "string" then
      line = line .. ": " .. answer.error
      if type(answer.error_description) == "string" then
        line = line .. " (" .. answer.error_description .. ")"
      end
    end
    return nil, line, "service"
  end
  local token = type(answer) == "table" and answer.accessToken
  local lifetime = type(answer) == "table" and math.tointeger(answer.expiresIn)
  if type(token) ~= "string" or token == "" or token:find("%c") or not lifetime then
    return nil, describe .. ": the answer has no accessToken and expiresIn", "service"
  end
  context.secrets[#context.secrets + 1] = token
  local refresh = text(answer.refreshToken)
  if refresh then
    context.secrets[#context.secrets + 1] = refresh
  end
  return {
    startUrl = source.start_url,
    region = source.region,
    accessToken = token,
    expiresAt = timestamp.format(os.time() + lifetime),
    clientId = cache.clientId,
    clientSecret = cache.clientSecret,
    registrationExpiresAt = cache.registrationExpiresAt,
    refreshToken = refresh,
  }
end

local function write_back(path, token)
  return private_file.write(path, pyjson.encode(pyjson.object({
    { "startUrl", token.startUrl },
    { "region", token.region },
    { "accessToken", token.accessToken },
    { "expiresAt", token.expiresAt },
    { "clientId", token.clientId },
    { "clientSecret", token.clientSecret },
    { "registrationExpiresAt", token.registrationExpiresAt },
    { "refreshToken", token.refreshToken },
  })))
end

-- Why a cached token cannot be refreshed, or nil when it can.
local function not_refreshable(source, cache)
  if not source.session then
    return "a legacy sso_start_url profile's token cannot be refreshed"
  end
  for _, key in ipairs({ "refreshToken", "clientId", "clientSecret", "registrationExpiresAt" }) do
    if not text(cache[key]) then
      return "the cache has no " .. key
    end
  end
  local registration = timestamp.parse(cache.registrationExpiresAt)
  if not registration or registration <= os.time() then
    return "the client registration expired"
  end
  return nil
end

-- The access token, or nil, message, kind.
function M.get(context, source)
  local folder, problem = files.expand_home("~/.aws/sso/cache")
  if not folder then
    return nil, problem, "input"
  end
  local path = folder .. "/" .. crypto.sha1_hex(source.cache_key) .. ".json"
  local content, message, kind = fs.read(path, { max_bytes = MAX_CACHE_FILE })
  if not content then
    return nil, string.format("no IAM Identity Center token for %s (%s); run `%s`",
      source.describe, message, source.login_hint), kind
  end
  local cache = json.decode(content)
  if type(cache) ~= "table" or not text(cache.accessToken) or cache.accessToken:find("%c") then
    return nil, string.format("the IAM Identity Center token cache %s has no accessToken; run "
      .. "`%s`", path, source.login_hint), "input"
  end
  for _, key in ipairs({ "accessToken", "refreshToken", "clientSecret" }) do
    if text(cache[key]) then
      context.secrets[#context.secrets + 1] = cache[key]
    end
  end
  local expires_at = timestamp.parse(cache.expiresAt)
  if not expires_at then
    return nil, string.format("the IAM Identity Center token cache %s has no valid expiresAt; "
      .. "run `%s`", path, source.login_hint), "input"
  end
  local now = os.time()
  if expires_at - now >= M.REFRESH_WINDOW then
    return cache.accessToken
  end
  local why = not_refreshable(source, cache)
  local refresh_kind = "input"
  if not why then
    local fresh
    fresh, why, refresh_kind = create_token(context, source, cache)
    if fresh then
      local written, write_problem = write_back(path, fresh)
      if not written then
        context.warnings[#context.warnings + 1] = write_problem
      end
      return fresh.accessToken
    end
  end
  if expires_at > now then
    return cache.accessToken -- still good for a while; the next run tries again
  end
  return nil, string.format("the IAM Identity Center token for %s expired at %s and was not "
    .. "refreshed (%s); run `%s`", source.describe, timestamp.format(expires_at), why,
    source.login_hint), refresh_kind
end

return M
