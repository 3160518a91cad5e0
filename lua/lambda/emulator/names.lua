-- Internal to lambda.emulator (not part of the public API; see docs/scripting.md).
-- Function names as the Invoke API takes them: `name`, `name:qualifier`, the partial ARN
-- `123456789012:function:name[:qualifier]` and the full ARN
-- `arn:aws[-x]:lambda:<region>:<account>:function:name[:qualifier]`. Everything else is
-- refused at the door, in AWS's words: the name reaches a process environment, a log line and
-- HTTP headers, where a NUL, a line break or a colon would do harm.
local M = {}

M.MAX_LENGTH = 170 -- the whole FunctionName, an ARN included (AWS's Invoke model)
M.MAX_NAME = 64
M.MAX_QUALIFIER = 128

-- The pattern AWS names in its ValidationException for FunctionName.
local AWS_PATTERN = "(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?"
  .. "(\\d{12}:)?(function:)?([a-zA-Z0-9-_\\.]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?"
local QUALIFIER_PATTERN = "(|[a-zA-Z0-9$_-]+)"

local function validation(value, field, constraint)
  return nil, 400, "ValidationException", string.format("1 validation error detected: Value "
    .. "'%s' at '%s' failed to satisfy constraint: %s", value, field, constraint)
end

local function bad_name(text)
  return validation(text, "functionName", "Member must satisfy regular expression pattern: "
    .. AWS_PATTERN)
end

local function valid_name(name)
  return #name >= 1 and #name <= M.MAX_NAME and name:find("^[A-Za-z0-9_%-]+$") ~= nil
end

local function valid_qualifier(qualifier)
  return #qualifier >= 1 and #qualifier <= M.MAX_QUALIFIER
    and qualifier:find("^[A-Za-z0-9$_%-]+$") ~= nil
end

-- text: the FunctionName (already percent-decoded); qualifier: the Qualifier parameter or nil;
-- region: the emulator's. Returns {name, qualifier (nil for none), region, account} or
-- nil, status, error type, message.
function M.parse(text, qualifier, region)
  if qualifier == "" then
    qualifier = nil
  end
  if qualifier and not valid_qualifier(qualifier) then
    return validation(qualifier, "qualifier", "Member must satisfy regular expression pattern: "
      .. QUALIFIER_PATTERN)
  end
  if #text > M.MAX_LENGTH then
    return validation(text, "functionName", "Member must have length less than or equal to "
      .. M.MAX_LENGTH)
  end
  local partition, arn_region, account, rest = text:match(
    "^arn:(aws[a-z%-]*):lambda:([a-z][a-z0-9%-]*):(%d+):function:(.*)$")
  if not partition then
    account, rest = text:match("^(%d+):function:(.*)$")
  elseif not arn_region:find("%d$") then
    return bad_name(text)
  end
  if account and #account ~= 12 then
    return bad_name(text)
  end
  rest = rest or text
  local name, suffix = rest:match("^([^:]*):([^:]*)$")
  name = name or rest
  if not valid_name(name) or (suffix and not valid_qualifier(suffix)) then
    if #name > M.MAX_NAME and name:find("^[A-Za-z0-9_%-]+$") then
      return validation(text, "functionName", "Member must have a function name of at most "
        .. M.MAX_NAME .. " characters")
    end
    return bad_name(text)
  end
  if suffix and qualifier and suffix ~= qualifier then
    return nil, 400, "InvalidParameterValueException",
      "The derived qualifier from the function name does not match the specified qualifier."
  end
  if arn_region and region and arn_region ~= region then
    return nil, 404, "ResourceNotFoundException", string.format(
      "Functions from '%s' are not reachable in this region ('%s')", arn_region, region)
  end
  return { name = name, qualifier = suffix or qualifier, region = arn_region, account = account }
end

-- The value of one query parameter (percent-decoded), or nil.
function M.query_parameter(query, wanted)
  for pair in (query or ""):gmatch("[^&]+") do
    local key, value = pair:match("^([^=]*)=?(.*)$")
    if key == wanted then
      return (value:gsub("%%(%x%x)", function(hex)
        return string.char(tonumber(hex, 16))
      end))
    end
  end
  return nil
end

return M
