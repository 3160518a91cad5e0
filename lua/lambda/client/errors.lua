-- Internal to lambda.client: what an error answer says, as {type, message, line, status,
-- body} (line: "<type>: <message>", one line for a terminal).
--   describe: a function's error. Lambda runtimes answer {"errorType", "errorMessage"}; the
--     original's emulator answers problem+json {"title", "detail"}; anything else is told by
--     its status and the start of its body.
--   service: a service error (restJson1): the type from x-amzn-ErrorType (minus a ":url"
--     suffix and a "namespace#" prefix), else the body's __type / code; the message from the
--     body's message / Message.
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

local function excerpt_line(status, body)
  if body == "" then
    return string.format("HTTP %d with an empty body", status)
  end
  local excerpt = body:sub(1, BODY_EXCERPT):gsub("[%c]+", " ")
  if #body > BODY_EXCERPT then
    excerpt = excerpt .. "..."
  end
  return string.format("HTTP %d with a body that is not a Lambda error: %s", status, excerpt)
end

function M.describe(status, body)
  local decoded = body ~= "" and json.decode(body) or nil
  if type(decoded) == "table" then
    local kind = text_field(decoded, "errorType", "title")
    local message = text_field(decoded, "errorMessage", "detail")
    if kind or message then
      -- The Rust runtime names string errors "&str"; the original strips the ampersands.
      kind = kind and kind:gsub("^&+", "")
      local line = kind and message and (kind .. ": " .. message) or kind or message
      return { type = kind, message = message, line = line, status = status, body = body }
    end
  end
  return { status = status, body = body, line = excerpt_line(status, body) }
end

function M.service(status, headers, body)
  local decoded = body ~= "" and json.decode(body) or nil
  if type(decoded) ~= "table" then
    decoded = {}
  end
  local kind = headers["x-amzn-errortype"] or decoded.__type or decoded.code or decoded.Code
  if type(kind) == "string" then
    kind = kind:gsub(":.*$", ""):gsub("^.*#", "")
  else
    kind = nil
  end
  local message = decoded.message or decoded.Message or decoded.errorMessage
  if type(message) ~= "string" then
    message = nil
  end
  if message then
    -- One line on the terminal, whatever the service put in its message.
    message = message:gsub("%s*[%c]+%s*", " "):gsub("^%s+", ""):gsub("%s+$", "")
  end
  local line
  if kind and message then
    line = kind .. ": " .. message
  elseif kind or message then
    line = string.format("HTTP %d: %s", status, kind or message)
  else
    line = M.describe(status, body).line
  end
  return { type = kind, message = message, line = line, status = status, body = body }
end

return M
