-- Internal to lambda.aws (not part of the public API; see docs/scripting.md).
-- The HTTP calls the credential chain makes to AWS (STS, the IAM Identity Center portal, SSO
-- OIDC): the CA bundle of the settings (AWS_CA_BUNDLE / ca_bundle) and the library's failure
-- kinds ("transport", "timeout", "tls" from lambda.http).
local http = require("lambda.http")

local M = {}

-- options: lambda.http.request's. Returns the response or nil, "<describe>: <message>", kind.
-- The caller's timeout (the client's `timeout`, invoke's --timeout) caps the call's own, so
-- that a silent STS cannot hold an invocation longer than the caller allowed.
function M.send(context, options, describe)
  if context.ca_bundle then
    options.tls = { ca = context.ca_bundle }
  end
  if context.timeout then
    options.timeout = math.min(options.timeout, context.timeout)
    options.connect_timeout = math.min(options.connect_timeout or options.timeout,
      context.timeout)
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
