-- Internal to lambda.cargo (not part of the public API; see docs/scripting.md).
-- How lambda.cargo fails: expected failures (bad manifests, missing files) are raised as
-- errors carrying the Failure metatable and turned into nil, message, kind by protect at the
-- public functions; and the shape checks of manifest values that raise them.
local toml = require("lambda.toml")

local M = {}

-- Expected failures (bad manifests, missing files) travel as errors carrying this metatable
-- up to the public functions, which turn them into nil, message, kind; anything else is a bug
-- and propagates unchanged.
local Failure = {}

local function fail_as(kind, format, ...)
  error(setmetatable({ message = string.format(format, ...), kind = kind }, Failure), 0)
end

-- Most failures are a manifest cargo refuses: "input".
local function fail(format, ...)
  fail_as("input", format, ...)
end

local function protect(body, ...)
  local ok, result = pcall(body, ...)
  if ok then
    return result
  end
  if getmetatable(result) == Failure then
    return nil, result.message, result.kind
  end
  error(result, 0)
end

local function kind_of(value)
  local t = type(value)
  if t == "number" then
    return math.type(value)
  elseif t == "table" then
    if toml.is_array(value) then
      return "array"
    end
    return toml.is_datetime(value) and "date-time" or "table"
  end
  return t
end

local WITH_ARTICLE = { string = "a string", table = "a table", boolean = "a boolean" }

local function check_kind(manifest_path, field, value, wanted)
  if value ~= nil and kind_of(value) ~= wanted then
    fail("%s: %s: expected %s, got %s", manifest_path, field, WITH_ARTICLE[wanted], kind_of(value))
  end
  return value
end

local function string_list(manifest_path, field, value)
  if value == nil then
    return nil
  end
  if kind_of(value) ~= "array" then
    fail("%s: %s: expected an array of strings, got %s", manifest_path, field, kind_of(value))
  end
  for i, item in ipairs(value) do
    if type(item) ~= "string" then
      fail("%s: %s[%d]: expected a string, got %s", manifest_path, field, i, kind_of(item))
    end
  end
  return value
end

M.Failure, M.fail_as, M.fail, M.protect = Failure, fail_as, fail, protect
M.kind_of, M.check_kind, M.string_list = kind_of, check_kind, string_list

return M
