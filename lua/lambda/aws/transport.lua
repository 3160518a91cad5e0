-- Internal to lambda.aws (not part of the public API; see docs/scripting.md).
-- The transport settings users set for the AWS CLI, each from its variable first, then the
-- selected profile (the AWS CLI's order):
--   ca_bundle        AWS_CA_BUNDLE, else ca_bundle: the CA certificates (PEM) trusted instead
--                    of the system's, for every https call (Lambda, STS, SSO, SSO OIDC);
--   max_attempts     AWS_MAX_ATTEMPTS, else max_attempts: attempts in all (1 or more);
--   retry_mode       AWS_RETRY_MODE, else retry_mode: legacy, standard or adaptive. Set without
--                    max_attempts it means the AWS CLI v2's 3 attempts;
--   read_timeout     cli_read_timeout (profile only), seconds; 0 is no limit;
--   connect_timeout  cli_connect_timeout (profile only), seconds; 0 is no limit.
local fs = require("lambda.fs")
local env = require("lambda.aws.env")
local files = require("lambda.aws.files")

local M = {}

M.RETRY_MODES = { legacy = true, standard = true, adaptive = true }
M.MODE_ATTEMPTS = 3

local function setting(profile, variable, key)
  local value = variable and env.get(variable)
  if value then
    return value, variable
  end
  value = profile.keys and profile.keys[key]
  if value ~= nil then
    return value, string.format("%s of profile '%s'", key, profile.name)
  end
  return nil
end

local function whole_number(value, origin, minimum)
  local digits = type(value) == "string" and value:match("^%s*(%d+)%s*$")
  local number = digits and math.tointeger(tonumber(digits))
  if not number or number < minimum then
    return nil, string.format("%s: '%s' is not a whole number of %d or more", origin,
      type(value) == "string" and value or "(a block)", minimum)
  end
  return number
end

local function seconds(value, origin)
  local number = type(value) == "string" and tonumber((value:match("^%s*(.-)%s*$")))
  if not number or number < 0 or number ~= number or number == math.huge then
    return nil, string.format("%s: '%s' is not a number of seconds", origin,
      type(value) == "string" and value or "(a block)")
  end
  return number > 0 and number or nil -- 0: no limit
end

-- profile: {name, keys}. Returns {ca_bundle, max_attempts, retry_mode, read_timeout,
-- connect_timeout, origin = {name = where it came from}} or nil, message, kind.
function M.resolve(profile)
  local out = { origin = {} }
  local value, origin = setting(profile, "AWS_CA_BUNDLE", "ca_bundle")
  if value ~= nil then
    if type(value) ~= "string" then
      return nil, string.format("%s: not a path", origin), "input"
    end
    local path, problem = files.expand_home(value)
    if not path then
      return nil, string.format("%s: %s", origin, problem), "input"
    end
    local info, message, kind = fs.stat(path)
    if not info then
      return nil, string.format("%s: cannot use the CA bundle %s", origin, message), kind
    end
    out.ca_bundle, out.origin.ca_bundle = path, origin
  end
  value, origin = setting(profile, "AWS_MAX_ATTEMPTS", "max_attempts")
  if value ~= nil then
    local attempts, problem = whole_number(value, origin, 1)
    if not attempts then
      return nil, problem, "input"
    end
    out.max_attempts, out.origin.max_attempts = attempts, origin
  end
  value, origin = setting(profile, "AWS_RETRY_MODE", "retry_mode")
  if value ~= nil then
    if type(value) ~= "string" or not M.RETRY_MODES[value] then
      return nil, string.format("%s: '%s' is not legacy, standard or adaptive", origin,
        tostring(type(value) == "string" and value or "(a block)")), "input"
    end
    out.retry_mode, out.origin.retry_mode = value, origin
    if not out.max_attempts then
      out.max_attempts, out.origin.max_attempts = M.MODE_ATTEMPTS, origin
    end
  end
  for _, pair in ipairs({ { "read_timeout", "cli_read_timeout" },
    { "connect_timeout", "cli_connect_timeout" } }) do
    value, origin = setting(profile, nil, pair[2])
    if value ~= nil then
      local limit, problem = seconds(value, origin)
      if problem then
        return nil, problem, "input"
      end
      out[pair[1]], out.origin[pair[1]] = limit, origin
    end
  end
  return out
end

return M
