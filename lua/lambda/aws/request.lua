-- Internal to lambda.aws (not part of the public API; see docs/scripting.md).
-- The HTTP calls the credential chain makes to AWS (STS, the IAM Identity Center portal, SSO
-- OIDC): the CA bundle of the settings (AWS_CA_BUNDLE / ca_bundle) and the library's failure
-- kinds ("transport", "timeout", "tls" from lambda.http).
local http = require("lambda.http")

local M = {}

-- options: lambda.http.request's. Returns the response or nil, "<describe>: <message>", kind.
function M.send(context, options, describe)
  if context.ca_bundle then
    options.tls = { ca = context.ca_bundle }
  end
  local response, message, kind = http.request(options)
  if not response then
    return nil, describe .. ": " .. message, kind or "transport"
  end
  return response
end

-- Lower-case header name -> value, for the AWS CLI's cache documents.
function M.header_map(response)
  local map = {}
  for name, value in pairs(response.headers or {}) do
    map[name:lower()] = value
  end
  return map
end

return M
