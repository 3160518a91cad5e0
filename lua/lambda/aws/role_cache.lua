-- Internal to lambda.aws (not part of the public API; see docs/scripting.md).
-- The AWS CLI's cache of assumed-role credentials, shared with it: ~/.aws/cli/cache/<key>.json,
-- where <key> is botocore's: the SHA-1 (hex) of the JSON (as Python's json.dumps writes it,
-- keys sorted) of the call's arguments, RoleArn and those the profile sets (RoleSessionName,
-- ExternalId, SerialNumber, DurationSeconds as a number), never the token or code sent with
-- them. The file holds STS's answer as botocore keeps it: {"Credentials": {AccessKeyId,
-- SecretAccessKey, SessionToken, Expiration, AccountId}, "AssumedRoleUser": {...},
-- "ResponseMetadata": {...}}, Expiration written "2024-05-26T12:34:56UTC". AssumeRole and
-- AssumeRoleWithWebIdentity results share it (the AWS CLI v2 caches both), and so do the role
-- credentials of IAM Identity Center (SSO) profiles, under botocore's other key (M.sso_key) and
-- in its other layout: {"ProviderType": "sso", "Credentials": {..., "Expiration":
-- "2024-05-26T12:34:56Z", "AccountId"}}.
--
-- An entry is used until EARLY seconds before its Expiration; one that cannot be read or
-- parsed is a miss. Writing is best effort: a failure becomes a warning, the credentials are
-- used all the same.
local crypto = require("lambda.crypto")
local fs = require("lambda.fs")
local json = require("lambda.json")
local files = require("lambda.aws.files")
local keys = require("lambda.aws.keys")
local private_file = require("lambda.aws.private_file")
local pyjson = require("lambda.aws.pyjson")
local timestamp = require("lambda.aws.timestamp")

local M = {}

M.EARLY = 5 * 60
-- Cache entries are small; anything larger is not one of them.
local MAX_ENTRY = 64 * 1024

-- args: {RoleArn = s, RoleSessionName = s|nil, ExternalId = s|nil, SerialNumber = s|nil,
-- DurationSeconds = integer|nil}. Returns the file name without ".json".
function M.key(args)
  return crypto.sha1_hex(pyjson.encode(args))
end

-- args: {accountId = s, roleName = s, sessionName = s (profiles with sso_session) | startUrl
-- = s (the legacy form)}. botocore hashes these without spaces after "," and ":".
function M.sso_key(args)
  return crypto.sha1_hex(pyjson.encode(args, true))
end

-- The folder, or nil when HOME is not set (then nothing is cached).
function M.folder()
  return (files.expand_home("~/.aws/cli/cache"))
end

local function path_of(key)
  local folder = M.folder()
  return folder and (folder .. "/" .. key .. ".json")
end

-- Cached credentials for key that are good for EARLY seconds more, or nil.
function M.read(key, source)
  local path = path_of(key)
  local text = path and fs.read(path, { max_bytes = MAX_ENTRY })
  local document = text and json.decode(text)
  local stored = type(document) == "table" and document.Credentials
  if type(stored) ~= "table" then
    return nil
  end
  local expires_at = timestamp.parse(stored.Expiration)
  if not expires_at or expires_at - os.time() < M.EARLY then
    return nil
  end
  local id, secret, token = stored.AccessKeyId, stored.SecretAccessKey, stored.SessionToken
  if type(id) ~= "string" or type(secret) ~= "string" or id == "" or secret == "" then
    return nil
  end
  if type(token) ~= "string" or token == "" then
    token = nil
  end
  return keys.check(keys.new(source, id, secret, token, expires_at))
end

-- answer: what sts.lua made of STS's answer ({credentials, assumed_role_user = {id, arn},
-- request_id, headers}). Returns true or nil, message.
function M.write(key, answer)
  local path = path_of(key)
  if not path then
    return nil, "cannot cache the role's credentials: HOME is not set"
  end
  local credentials, user = answer.credentials, answer.assumed_role_user
  local account = user and user.arn and user.arn:match("^arn:[^:]+:[^:]*:[^:]*:(%d+):")
  local document = pyjson.object({
    { "Credentials", pyjson.object({
      { "AccessKeyId", credentials.access_key_id },
      { "SecretAccessKey", credentials.secret_access_key },
      { "SessionToken", credentials.session_token },
      { "Expiration", credentials.expiration
        and os.date("!%Y-%m-%dT%H:%M:%SUTC", credentials.expiration) },
      { "AccountId", account },
    }) },
    { "AssumedRoleUser", user and pyjson.object({
      { "AssumedRoleId", user.id },
      { "Arn", user.arn },
    }) },
    { "ResponseMetadata", pyjson.object({
      { "RequestId", answer.request_id },
      { "HTTPStatusCode", 200 },
      { "HTTPHeaders", answer.headers or {} },
      { "RetryAttempts", 0 },
    }) },
  })
  return private_file.write(path, pyjson.encode(document))
end

-- credentials: what sso.lua made of the portal's answer (expiration in seconds). Returns true
-- or nil, message.
function M.write_sso(key, credentials, account_id)
  local path = path_of(key)
  if not path then
    return nil, "cannot cache the role's credentials: HOME is not set"
  end
  return private_file.write(path, pyjson.encode(pyjson.object({
    { "ProviderType", "sso" },
    { "Credentials", pyjson.object({
      { "AccessKeyId", credentials.access_key_id },
      { "SecretAccessKey", credentials.secret_access_key },
      { "SessionToken", credentials.session_token },
      { "Expiration", os.date("!%Y-%m-%dT%H:%M:%SZ", credentials.expiration) },
      { "AccountId", account_id },
    }) },
  })))
end

return M
