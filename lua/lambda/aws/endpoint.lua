-- Internal to lambda.aws (not part of the public API; see docs/scripting.md).
-- Service endpoints, as the AWS SDKs resolve them:
--   1. the endpoint_url field (a command's --endpoint-url);
--   2. AWS_ENDPOINT_URL_<SERVICE>, then AWS_ENDPOINT_URL;
--   3. endpoint_url under the service in the [services NAME] section the profile names with
--      `services = NAME`, then the profile's own endpoint_url (for every service);
--   4. AWS's own host for the service in the region.
-- Steps 2 and 3 are skipped when AWS_IGNORE_CONFIGURED_ENDPOINT_URLS, else the profile's
-- ignore_configured_endpoint_urls, is true. Services are named by their config key: lambda,
-- sts, sso, sso_oidc ("sso-oidc" is accepted too); the variable is the key in upper case.
local env = require("lambda.aws.env")

local M = {}

local function dns_suffix(region)
  return region:match("^cn%-") and "amazonaws.com.cn" or "amazonaws.com"
end

-- The config key of a service: lower case, "-" and spaces as "_".
function M.key(service)
  return (service:lower():gsub("[%s%-]", "_"))
end

function M.default(service, region)
  local key = M.key(service)
  if key == "sso" then
    return string.format("https://portal.sso.%s.%s", region, dns_suffix(region))
  elseif key == "sso_oidc" then
    return string.format("https://oidc.%s.%s", region, dns_suffix(region))
  end
  return string.format("https://%s.%s.%s", service, region, dns_suffix(region))
end

-- AWS_ENDPOINT_URL_<SERVICE>: the service's key in upper case, other characters as "_".
function M.variable(service)
  return "AWS_ENDPOINT_URL_" .. M.key(service):upper():gsub("[^%w]", "_")
end

local function check(url, source)
  if type(url) ~= "string" or not url:match("^[Hh][Tt][Tt][Pp][Ss]?://[^/%s?#]+")
      or url:find("%s") then
    return nil, string.format("%s: '%s' is not an http:// or https:// URL", source,
      tostring(url)), "input"
  end
  return url, source
end

-- Whether configured endpoints are ignored: the variable when it is set, else the profile's
-- setting; "true" in any case is true, anything else false (botocore's ensure_boolean).
function M.ignored(profile)
  local value = env.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
  if value == nil then
    value = profile and profile.keys and profile.keys.ignore_configured_endpoint_urls
  end
  return env.is_true(value)
end

-- From the config file: the services section's endpoint_url, else the profile's.
local function from_config(key, context)
  local profile = context and context.profile
  local settings = profile and profile.keys
  if not settings then
    return nil
  end
  local section_name = settings.services
  if type(section_name) == "string" and section_name ~= "" then
    local section = context.files.services[section_name]
    local service = section and section[key]
    local url = type(service) == "table" and service.endpoint_url or nil
    if url ~= nil then
      return check(url, string.format("[services %s] %s.endpoint_url in %s", section_name, key,
        context.files.config_path))
    end
  end
  if settings.endpoint_url ~= nil then
    return check(settings.endpoint_url, string.format("endpoint_url of profile '%s'",
      profile.name))
  end
  return nil
end

-- given: the endpoint_url field (nil: none). context: {files, profile = {name, keys}} for the
-- config file's settings, or nil. Returns url, source (where it came from) or
-- nil, message, "input".
function M.resolve(service, region, given, context)
  if given ~= nil then
    return check(given, "endpoint_url")
  end
  if not M.ignored(context and context.profile) then
    local variable = M.variable(service)
    local url = env.get(variable)
    if url then
      return check(url, variable)
    end
    url = env.get("AWS_ENDPOINT_URL")
    if url then
      return check(url, "AWS_ENDPOINT_URL")
    end
    local problem, kind
    url, problem, kind = from_config(M.key(service), context)
    if url or problem then
      return url, problem, kind
    end
  end
  return M.default(service, region), "default"
end

return M
