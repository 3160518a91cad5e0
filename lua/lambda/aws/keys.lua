-- Internal to lambda.aws (not part of the public API; see docs/scripting.md).
-- The credentials table every provider returns, and the checks shared by the providers that
-- receive keys as JSON (credential_process, container endpoint, instance metadata).
local timestamp = require("lambda.aws.timestamp")

local M = {}

function M.new(source, access_key_id, secret_access_key, session_token, expiration)
  return {
    access_key_id = access_key_id,
    secret_access_key = secret_access_key,
    session_token = session_token,
    expiration = expiration,
    source = source,
  }
end

-- Keys travel in HTTP headers, where a line break would end the header (and lambda.http
-- refuses it outright). Returns the credentials, or nil and the field at fault.
function M.check(credentials)
  for _, field in ipairs({ "access_key_id", "secret_access_key", "session_token" }) do
    local value = credentials[field]
    if value ~= nil and value:find("%c") then
      return nil, field
    end
  end
  return credentials
end

local function non_empty_string(value)
  return type(value) == "string" and value ~= ""
end

-- Checks an expiration given as text. Returns epoch seconds (nil when absent) or
-- nil, problem. Expired credentials would only fail later, with a less helpful message.
function M.check_expiration(text, field)
  if text == nil then
    return nil
  end
  local expiration = type(text) == "string" and timestamp.parse(text)
  if not expiration then
    return nil, string.format("%s is not an RFC 3339 timestamp", field)
  end
  if expiration <= os.time() then
    return nil, string.format("the credentials expired at %s", timestamp.format(expiration))
  end
  return expiration
end

-- The field names of the JSON documents that carry temporary keys, for from_document: the
-- container endpoint and instance metadata call the session token "Token", credential_process
-- calls it "SessionToken".
local function temporary_key_fields(session_token)
  return {
    access_key_id = "AccessKeyId",
    secret_access_key = "SecretAccessKey",
    session_token = session_token,
    expiration = "Expiration",
  }
end
M.ENDPOINT_FIELDS = temporary_key_fields("Token")
M.PROCESS_FIELDS = temporary_key_fields("SessionToken")

-- Credentials from a decoded JSON document; `names` maps access_key_id, secret_access_key,
-- session_token and expiration to the document's field names. Returns credentials or
-- nil, problem (the problem names fields, never values).
local function read_document(document, names, source)
  if type(document) ~= "table" then
    return nil, "the answer is not a JSON object"
  end
  local id = document[names.access_key_id]
  local secret = document[names.secret_access_key]
  local token = document[names.session_token]
  if not non_empty_string(id) then
    return nil, "the answer has no " .. names.access_key_id
  end
  if not non_empty_string(secret) then
    return nil, "the answer has no " .. names.secret_access_key
  end
  if token ~= nil and type(token) ~= "string" then
    -- JSON null reads as a non-string value: treat it as absent.
    token = nil
  end
  local raw_expiration = document[names.expiration]
  if raw_expiration ~= nil and type(raw_expiration) ~= "string" then
    raw_expiration = nil
  end
  local expiration, problem = M.check_expiration(raw_expiration, names.expiration)
  if problem then
    return nil, problem
  end
  local credentials, field = M.check(M.new(source, id, secret, token ~= "" and token or nil,
    expiration))
  if not credentials then
    return nil, "the answer's " .. field .. " has a control character in it"
  end
  return credentials
end

-- What read_document answers; with `describe`, a problem comes back as "<describe>: <problem>".
function M.from_document(document, names, source, describe)
  local credentials, problem = read_document(document, names, source)
  if credentials then
    return credentials
  end
  return nil, describe and (describe .. ": " .. problem) or problem
end

-- The key a profile's session token is read from: botocore reads the legacy
-- aws_security_token before aws_session_token, whichever is present first.
local function session_token_key(profile)
  if profile.aws_security_token ~= nil then
    return "aws_security_token"
  end
  return "aws_session_token"
end

-- Whether a profile sets either static key (botocore's test for "has static credentials").
function M.has_static(profile)
  return profile ~= nil and (profile.aws_access_key_id ~= nil
    or profile.aws_secret_access_key ~= nil)
end

-- Static keys of a profile (one file's section, or both files' merged). Returns credentials,
-- false when the profile has none, or nil, message, "input" when only half of a key pair is
-- there. where: how messages name the profile (default "profile '<name>'").
function M.from_profile(name, profile, where)
  where = where or string.format("profile '%s'", name)
  local id, secret = profile.aws_access_key_id, profile.aws_secret_access_key
  if id == nil and secret == nil then
    return false
  end
  if not non_empty_string(id) then
    return nil, string.format("%s has aws_secret_access_key but no aws_access_key_id", where),
      "input"
  end
  if not non_empty_string(secret) then
    return nil, string.format("%s has aws_access_key_id but no aws_secret_access_key", where),
      "input"
  end
  local token_key = session_token_key(profile)
  local token = profile[token_key]
  if not non_empty_string(token) then
    token = nil
  end
  local credentials, field = M.check(M.new("profile", id, secret, token, nil))
  if not credentials then
    local key = field == "session_token" and token_key or ("aws_" .. field)
    return nil, string.format("%s: %s has a line break or control character in it", where, key),
      "input"
  end
  return credentials
end

return M
