-- AWS settings for commands that call AWS: the profile, the region, the service endpoint and
-- the credentials, resolved from flags, the environment and the shared files the way the AWS
-- CLI does (see lambda/aws/*.lua for each rule).
--
--   local settings, message = aws.resolve({profile =, region =, endpoint_url =, service =,
--                                          timeout =, credentials =})
--   settings = {profile, region, endpoint, credentials = {access_key_id, secret_access_key,
--               session_token, expiration, source}, origin = {profile, region, endpoint},
--               warnings = {...}}
local credentials = require("lambda.aws.credentials")
local endpoint = require("lambda.aws.endpoint")
local files = require("lambda.aws.files")
local profile = require("lambda.aws.profile")
local redact = require("lambda.aws.redact")

local M = {}

-- Messages may carry text from a server (STS puts the whole canonical request in its
-- SignatureDoesNotMatch message); a message of ours is one line.
local function one_line(text)
  return (text:gsub("%s*[\r\n]+%s*", " "))
end

M.DEFAULT_REGION = profile.DEFAULT_REGION

-- options: profile (--profile), region (--region), endpoint_url (--endpoint-url), service
-- (default "lambda"), timeout (seconds a credential_process may take; default
-- lambda.aws.process.DEFAULT_TIMEOUT, 60), credentials ({access_key_id, secret_access_key,
-- session_token}: used as they are instead of the credential chain). Returns settings or nil,
-- message (one line, no secrets).
function M.resolve(options)
  options = options or {}
  local service = options.service or "lambda"
  local loaded, problem = files.load()
  if not loaded then
    return nil, problem
  end
  local selected
  selected, problem = profile.select(options.profile, loaded)
  if not selected then
    return nil, problem
  end
  local region, region_origin = profile.region(options.region, selected)
  if not region then
    return nil, region_origin
  end
  local url, url_origin = endpoint.resolve(service, region, options.endpoint_url)
  if not url then
    return nil, url_origin
  end
  local found
  if options.credentials then
    -- Keys the caller gives: the region and the endpoint still come from the usual places.
    found = {}
    for key, value in pairs(options.credentials) do
      found[key] = value
    end
    found.source = "given"
  else
    local context = { files = loaded, profile = selected, region = region, secrets = {},
      timeout = options.timeout }
    found, problem = credentials.resolve(context)
    if not found then
      return nil, one_line(redact.redact(problem, context.secrets))
    end
  end
  return {
    profile = selected.name,
    region = region,
    endpoint = url,
    credentials = found,
    origin = { profile = selected.source or "default", region = region_origin,
      endpoint = url_origin },
    warnings = loaded.warnings,
  }
end

-- The endpoint of `service` in `region` (flag: an --endpoint-url for it). Returns url or
-- nil, message.
function M.endpoint(service, region, flag)
  local url, origin = endpoint.resolve(service, region, flag)
  if not url then
    return nil, origin
  end
  return url
end

-- text with every secret, token and signature replaced by "<redacted>". secrets: the
-- credentials in use (or nil), and/or an array of further secret strings.
function M.redact(text, secrets)
  return redact.redact(text, secrets)
end

return M
