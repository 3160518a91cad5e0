-- Internal helper of the library (not part of the public API; see docs/scripting.md).
-- User input in one-line messages. A value echoed in an error (a flag's value, a file name)
-- may hold line breaks or terminal escapes; shown raw it would split the message or drive the
-- terminal. These helpers show such bytes as escapes instead.
local M = {}

local NAMED = { ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }

local function escape_byte(c)
  return NAMED[c] or string.format("\\x%02x", c:byte())
end

-- text with its control bytes (C0 and DEL) written as \n, \r, \t or \xNN.
function M.escape(text)
  return (text:gsub("[%c\127]", escape_byte))
end

-- 'text', escaped as above: how messages show a value the user gave.
function M.quote(text)
  return "'" .. M.escape(text) .. "'"
end

return M
