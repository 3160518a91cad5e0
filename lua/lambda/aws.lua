-- AWS settings for commands that call AWS: the profile, the region, the service endpoint, the
-- credentials and the transport settings, resolved from the caller's fields, the environment
-- and the shared files the way the AWS CLI v2 does (see lambda/aws/*.lua for each rule).
--
--   local settings, message, kind, field = aws.resolve({profile =, region =, endpoint_url =,
--     service =, timeout =, credentials =, mfa_token =})
--   settings = {profile, region, endpoint, credentials = {access_key_id, secret_access_key,
--               session_token, expiration, source}, ca_bundle, max_attempts, retry_mode,
--               read_timeout, connect_timeout, origin = {profile, region, endpoint, ...},
--               warnings = {...}}
--
-- Messages name the field, the variable, the file or the profile at fault, never a command's
-- flag: a command that has flags for the fields translates (a message about a field starts
-- with "<field>: " and the field comes back as the fourth value).
local credentials = require("lambda.aws.credentials")
local endpoint = require("lambda.aws.endpoint")
local files = require("lambda.aws.files")
local profile = require("lambda.aws.profile")
local redact = require("lambda.aws.redact")
local transport = require("lambda.aws.transport")

local M = {}

-- Messages may carry text from a server (STS puts the whole canonical request in its
-- SignatureDoesNotMatch message); a message of ours is one line.
local function one_line(text)
  return (text:gsub("%s*[\r\n]+%s*", " "))
end

M.DEFAULT_REGION = profile.DEFAULT_REGION

-- options: profile, region, endpoint_url, service (default "lambda"), timeout (seconds a
-- credential_process or a typed MFA code may take; default 60), credentials
-- ({access_key_id, secret_access_key, session_token}: used as they are instead of the
-- credential chain), mfa_token (the MFA code for a role with mfa_serial). Returns settings or
-- nil, message (one line, no secrets), kind, field.
function M.resolve(options)
  options = options or {}
  local service = options.service or "lambda"
  local loaded, problem, kind = files.load()
  if not loaded then
    return nil, problem, kind
  end
  local selected, field
  selected, problem, kind, field = profile.select(options.profile, loaded)
  if not selected then
    return nil, problem, kind, field
  end
  local region, region_origin
  region, region_origin, kind, field = profile.region(options.region, selected)
  if not region then
    return nil, region_origin, kind, field
  end
  local config_context = { files = loaded, profile = selected }
  local url, url_origin
  url, url_origin, kind = endpoint.resolve(service, region, options.endpoint_url, config_context)
  if not url then
    return nil, url_origin, kind, options.endpoint_url ~= nil and "endpoint_url" or nil
  end
  local settings
  settings, problem, kind = transport.resolve(selected)
  if not settings then
    return nil, problem, kind
  end
  local warnings = loaded.warnings
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
      warnings = warnings, timeout = options.timeout, mfa_token = options.mfa_token,
      ca_bundle = settings.ca_bundle }
    found, problem, kind, field = credentials.resolve(context)
    if not found then
      return nil, one_line(redact.redact(problem, context.secrets)), kind or "input", field
    end
  end
  local origin = settings.origin
  origin.profile = selected.source or "default"
  origin.region = region_origin
  origin.endpoint = url_origin
  settings.profile = selected.name
  settings.region = region
  settings.endpoint = url
  settings.credentials = found
  settings.warnings = warnings
  return settings
end

-- The endpoint of `service` in `region` (endpoint_url: one given for it), from the
-- environment (the shared files' settings need a profile: use resolve). Returns url or
-- nil, message, kind.
function M.endpoint(service, region, endpoint_url)
  local url, origin, kind = endpoint.resolve(service, region, endpoint_url)
  if not url then
    return nil, origin, kind
  end
  return url
end

-- text with every secret, token and signature replaced by "<redacted>". secrets: the
-- credentials in use (or nil), and/or an array of further secret strings.
function M.redact(text, secrets)
  return redact.redact(text, secrets)
end

return M
