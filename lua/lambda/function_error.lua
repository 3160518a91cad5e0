-- Turns an error answer into the type and message shown to the user. Lambda runtimes answer
-- {"errorType": ..., "errorMessage": ...}; the original's emulator answers problem+json
-- {"title": ..., "detail": ...}; anything else is reported by status and the start of the body.
local json = require("lambda.json")

local M = {}

local BODY_EXCERPT = 200

local function text_field(object, primary, alias)
  local value = object[primary]
  if type(value) ~= "string" then
    value = object[alias]
  end
  return type(value) == "string" and value or nil
end

-- Returns {type = string|nil, message = string|nil, status = n, body = raw} and a one-line
-- description: "<type>: <message>".
function M.describe(status, body)
  local decoded = body ~= "" and json.decode(body) or nil
  if type(decoded) == "table" then
    local kind = text_field(decoded, "errorType", "title")
    local message = text_field(decoded, "errorMessage", "detail")
    if kind or message then
      -- The Rust runtime names string errors "&str"; the original strips the ampersands.
      kind = kind and kind:gsub("^&+", "")
      local line = kind and message and (kind .. ": " .. message) or kind or message
      return { type = kind, message = message, status = status, body = body }, line
    end
  end
  local excerpt = body:sub(1, BODY_EXCERPT):gsub("[%c]+", " ")
  if #body > BODY_EXCERPT then
    excerpt = excerpt .. "..."
  end
  local line
  if body == "" then
    line = string.format("HTTP %d with an empty body", status)
  else
    line = string.format("HTTP %d with a body that is not a Lambda error: %s", status, excerpt)
  end
  return { status = status, body = body }, line
end

return M
