-- Internal to lambda.aws (not part of the public API; see docs/scripting.md).
-- Which profile and which region a command uses.
--   profile: --profile, else AWS_PROFILE, else "default"; a profile named explicitly must
--            exist, the implicit default need not.
--   region:  --region, else AWS_REGION, else AWS_DEFAULT_REGION, else the profile's region,
--            else us-east-1. Unlike the original (which, given --profile, reads neither the
--            environment nor falls back), every case ends with a region.
local env = require("lambda.aws.env")
local files_module = require("lambda.aws.files")

local M = {}

M.DEFAULT_PROFILE = "default"
M.DEFAULT_REGION = "us-east-1"

-- Returns {name, explicit (the flag), source ("--profile" | "AWS_PROFILE" | nil), keys (the
-- merged profile, or nil when an implicit default is absent)} or nil, message.
function M.select(flag, files)
  local name, source = flag, "--profile"
  if name == nil then
    name, source = env.get("AWS_PROFILE"), "AWS_PROFILE"
  end
  if name == nil then
    name, source = M.DEFAULT_PROFILE, nil
  end
  if name == "" then
    return nil, "the profile name given with --profile is empty"
  end
  local keys = files.profiles[name]
  if keys == nil and source ~= nil then
    return nil, string.format("AWS profile '%s' (from %s) not found in %s", name, source,
      files_module.describe(files))
  end
  return { name = name, explicit = source == "--profile", source = source, keys = keys }
end

-- Region names end up in host names, so only what a region name can contain is accepted.
local function check_region(region, source)
  if not region:match("^[%w][%w%-]*$") then
    return nil, string.format("region '%s' (from %s) is not a valid region name", region, source)
  end
  return region, source
end

-- Returns region, source (where it came from, for messages and -v) or nil, message.
function M.region(flag, profile)
  if flag ~= nil then
    return check_region(flag, "--region")
  end
  for _, variable in ipairs({ "AWS_REGION", "AWS_DEFAULT_REGION" }) do
    local value = env.get(variable)
    if value then
      return check_region(value, variable)
    end
  end
  local configured = profile.keys and profile.keys.region
  if type(configured) == "string" and configured ~= "" then
    return check_region(configured, "profile '" .. profile.name .. "'")
  end
  return M.DEFAULT_REGION, "default"
end

return M
