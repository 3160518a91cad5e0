-- Internal to lambda.aws (not part of the public API; see docs/scripting.md).
-- Which profile and which region a command uses, as the AWS CLI v2 chooses them.
--   profile: the profile field, else AWS_PROFILE, else AWS_DEFAULT_PROFILE, else "default"; a
--            profile named explicitly must exist, the implicit default need not. Only the field
--            makes it explicit (and so skips the environment's keys); a variable does not.
--   region:  the region field, else AWS_REGION, else AWS_DEFAULT_REGION, else the profile's
--            region, else us-east-1. Unlike the original (which, given --profile, reads
--            neither the environment nor falls back), every case ends with a region.
-- Messages and origins name the field ("profile", "region"), the variable or the profile,
-- never a command's flag.
local env = require("lambda.aws.env")
local files_module = require("lambda.aws.files")

local M = {}

M.DEFAULT_PROFILE = "default"
M.DEFAULT_REGION = "us-east-1"

-- Returns {name, explicit (given in the field), source ("profile" | "AWS_PROFILE" |
-- "AWS_DEFAULT_PROFILE" | nil), keys (the merged profile, or nil when an implicit default is
-- absent)} or nil, message, kind, field.
function M.select(given, files)
  local name, source = given, "profile"
  for _, variable in ipairs({ "AWS_PROFILE", "AWS_DEFAULT_PROFILE" }) do
    if name == nil then
      name, source = env.get(variable), variable
    end
  end
  if name == nil then
    name, source = M.DEFAULT_PROFILE, nil
  end
  if name == "" then
    return nil, "profile: the profile name is empty", "input", "profile"
  end
  local keys = files.profiles[name]
  if keys == nil and source ~= nil then
    return nil, string.format("%s: AWS profile '%s' not found in %s", source, name,
      files_module.describe(files)), "not_found", source == "profile" and "profile" or nil
  end
  return { name = name, explicit = source == "profile", source = source, keys = keys }
end

-- Region names end up in host names, so only what a region name can contain is accepted.
local function check_region(region, source, field)
  if not region:match("^[%w][%w%-]*$") then
    return nil, string.format("%s: '%s' is not a valid region name", source, region), "input",
      field
  end
  return region, source
end

-- Returns region, source (where it came from, for messages and -v) or nil, message, kind,
-- field.
function M.region(given, profile)
  if given ~= nil then
    return check_region(given, "region", "region")
  end
  for _, variable in ipairs({ "AWS_REGION", "AWS_DEFAULT_REGION" }) do
    local value = env.get(variable)
    if value then
      return check_region(value, variable)
    end
  end
  local configured = profile.keys and profile.keys.region
  if type(configured) == "string" and configured ~= "" then
    return check_region(configured, "region of profile '" .. profile.name .. "'")
  end
  return M.DEFAULT_REGION, "default"
end

return M
