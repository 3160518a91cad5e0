-- Internal to lambda.aws (not part of the public API; see docs/scripting.md).
-- Reading the process environment the way the AWS tools do: a variable set to the empty string
-- counts as unset, and boolean switches are spelled "true" in any case.
local M = {}

function M.get(name)
  local value = os.getenv(name)
  if value == nil or value == "" then
    return nil
  end
  return value
end

function M.is_true(value)
  return type(value) == "string" and value:lower() == "true"
end

return M
