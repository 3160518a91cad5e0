-- Internal to lambda.aws (not part of the public API; see docs/scripting.md).
-- Service endpoints: --endpoint-url, else AWS_ENDPOINT_URL_<SERVICE>, else AWS_ENDPOINT_URL
-- (both ignored with AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true), else AWS's own host for the
-- service in the region.
local env = require("lambda.aws.env")

local M = {}

local function dns_suffix(region)
  return region:match("^cn%-") and "amazonaws.com.cn" or "amazonaws.com"
end

function M.default(service, region)
  if service == "sso" then
    return string.format("https://portal.sso.%s.%s", region, dns_suffix(region))
  end
  return string.format("https://%s.%s.%s", service, region, dns_suffix(region))
end

-- AWS_ENDPOINT_URL_<SERVICE>: the service id in upper case, other characters as "_".
function M.variable(service)
  return "AWS_ENDPOINT_URL_" .. service:upper():gsub("[^%w]", "_")
end

local function check(url, source)
  if not url:match("^[Hh][Tt][Tt][Pp][Ss]?://[^/%s?#]+") or url:find("%s") then
    return nil, string.format("%s: '%s' is not an http:// or https:// URL", source, url)
  end
  return url, source
end

-- Returns url, source or nil, message.
function M.resolve(service, region, flag)
  if flag ~= nil then
    return check(flag, "--endpoint-url")
  end
  if not env.is_true(env.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")) then
    local variable = M.variable(service)
    local url = env.get(variable)
    if url then
      return check(url, variable)
    end
    url = env.get("AWS_ENDPOINT_URL")
    if url then
      return check(url, "AWS_ENDPOINT_URL")
    end
  end
  return M.default(service, region), "default"
end

return M
