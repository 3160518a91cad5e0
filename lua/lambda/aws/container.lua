-- Internal to lambda.aws (not part of the public API; see docs/scripting.md).
-- The container credentials endpoint (ECS tasks, EKS Pod Identity). The URL comes from
-- AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (on the ECS agent's address) or
-- AWS_CONTAINER_CREDENTIALS_FULL_URI; the Authorization value from the file named by
-- AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE, else AWS_CONTAINER_AUTHORIZATION_TOKEN.
local fs = require("lambda.fs")
local http = require("lambda.http")
local json = require("lambda.json")
local env = require("lambda.aws.env")
local keys = require("lambda.aws.keys")

local M = {}

M.ECS_HOST = "http://169.254.170.2"
M.CONNECT_TIMEOUT = 1
M.TIMEOUT = 5
M.LOOKED = "container endpoint"

-- Plain http could hand the token and the keys to anyone on the path, so it is only allowed
-- to the hosts a container's credentials actually come from. Host names are not resolved here:
-- of names, only "localhost" is accepted.
local ALLOWED_HTTP_HOSTS = {
  ["localhost"] = true,
  ["169.254.170.2"] = true,
  ["169.254.170.23"] = true,
  ["fd00:ec2::23"] = true,
  ["::1"] = true,
}

local function host_of(url)
  local authority = url:match("^%a+://([^/?#]*)")
  if not authority then
    return nil
  end
  authority = authority:gsub("^.*@", "")
  local bracketed = authority:match("^%[([^%]]*)%]")
  if bracketed then
    return bracketed:lower()
  end
  return (authority:gsub(":%d*$", "")):lower()
end

local function is_loopback_ipv4(host)
  local a, b, c, d = host:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
  return a == "127" and tonumber(b) < 256 and tonumber(c) < 256 and tonumber(d) < 256
end

function M.allowed(url)
  local scheme = url:match("^(%a+)://")
  scheme = scheme and scheme:lower()
  if scheme == "https" then
    return true
  end
  if scheme ~= "http" then
    return false
  end
  local host = host_of(url)
  return host ~= nil and (ALLOWED_HTTP_HOSTS[host] or is_loopback_ipv4(host))
end

-- Returns the Authorization value (nil when none is configured) or nil, message.
local function authorization(context)
  local token_file = env.get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
  local token, origin
  if token_file then
    local content, message, kind = fs.read(token_file)
    if not content then
      return nil, "cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE " .. message, kind
    end
    token, origin = content:match("^%s*(.-)%s*$"), "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"
  else
    origin = "AWS_CONTAINER_AUTHORIZATION_TOKEN"
    token = env.get(origin)
  end
  if token == nil then
    return nil
  end
  context.secrets[#context.secrets + 1] = token
  if token:find("%c") then
    return nil, "the token in " .. origin .. " has a control character in it", "input"
  end
  return token
end

-- Returns the configured URL and where it came from, or nil when none is.
function M.url()
  local relative = env.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
  if relative then
    return M.ECS_HOST .. relative, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"
  end
  local full = env.get("AWS_CONTAINER_CREDENTIALS_FULL_URI")
  if full then
    return full, "AWS_CONTAINER_CREDENTIALS_FULL_URI"
  end
  return nil
end

-- Returns credentials (source "container"), or false, note when not configured, or
-- nil, message, kind. A configured endpoint that fails is an error, not a reason to look
-- further.
function M.load(context)
  local target, origin = M.url()
  if not target then
    return false, M.LOOKED .. " (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and "
      .. "AWS_CONTAINER_CREDENTIALS_FULL_URI not set)"
  end
  local describe = "container credentials from " .. target .. " (" .. origin .. ")"
  if not M.allowed(target) then
    return nil, describe .. ": plain http is only allowed to loopback, 169.254.170.2, "
      .. "169.254.170.23 or fd00:ec2::23; use https", "input"
  end
  local token, problem, problem_kind = authorization(context)
  if problem then
    return nil, describe .. ": " .. problem, problem_kind or "input"
  end
  local headers = { { "Accept", "application/json" } }
  if token then
    headers[#headers + 1] = { "Authorization", token }
  end
  local response, message, kind = http.request({
    url = target,
    headers = headers,
    connect_timeout = M.CONNECT_TIMEOUT,
    timeout = M.TIMEOUT,
  })
  if not response then
    return nil, describe .. ": " .. message, kind or "transport"
  end
  local document = json.decode(response.body)
  if response.status ~= 200 then
    local line = string.format("%s: HTTP %d", describe, response.status)
    if type(document) == "table" then
      local code, detail = document.code or document.Code, document.message or document.Message
      if type(code) == "string" then
        line = line .. " " .. code
      end
      if type(detail) == "string" then
        line = line .. ": " .. detail
      end
    end
    return nil, line, "service"
  end
  local credentials
  credentials, problem = keys.from_document(document, keys.ENDPOINT_FIELDS, "container", describe)
  if not credentials then
    return nil, problem, "service"
  end
  return credentials
end

return M
