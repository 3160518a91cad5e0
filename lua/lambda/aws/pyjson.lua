-- Internal to lambda.aws (not part of the public API; see docs/scripting.md).
-- JSON written byte for byte as Python's json.dumps writes it with its defaults, which is how
-- botocore and the AWS CLI write their caches and hash their cache keys: ", " between items,
-- ": " after keys, every character outside printable ASCII escaped as \uXXXX (UTF-16
-- surrogate pairs above U+FFFF). Objects are either plain tables, written with their keys
-- sorted (json.dumps(sort_keys=True)), or M.object{{key, value}, ...}, written in that order
-- (a dict's insertion order). M.encode(value, true) writes "," and ":" without spaces
-- (separators=(',', ':')), as botocore hashes its SSO cache keys.
local M = {}

local ORDERED = {}

function M.object(pairs_list)
  return setmetatable({ pairs = pairs_list }, ORDERED)
end

local SHORT_ESCAPES = {
  ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f", ["\n"] = "\\n",
  ["\r"] = "\\r", ["\t"] = "\\t",
}

local function code_unit(value)
  return string.format("\\u%04x", value)
end

-- A byte that is not part of valid UTF-8 is written as the code point of the same value (what
-- Python does with text decoded as Latin-1); such bytes do not occur in AWS's own values.
local function encode_string(text)
  local out, position = { '"' }, 1
  while position <= #text do
    local byte = text:byte(position)
    local char = text:sub(position, position)
    if SHORT_ESCAPES[char] then
      out[#out + 1] = SHORT_ESCAPES[char]
      position = position + 1
    elseif byte >= 0x20 and byte < 0x7f then
      out[#out + 1] = char
      position = position + 1
    else
      local code, length
      if byte >= 0xc2 and byte <= 0xf4 then
        length = byte >= 0xf0 and 4 or byte >= 0xe0 and 3 or 2
        local ok, value = pcall(utf8.codepoint, text, position)
        if ok and #utf8.char(value) == length then
          code = value
        end
      end
      if not code then
        code, length = byte, 1
      end
      if code > 0xffff then
        code = code - 0x10000
        out[#out + 1] = code_unit(0xd800 + (code >> 10)) .. code_unit(0xdc00 + (code & 0x3ff))
      else
        out[#out + 1] = code_unit(code)
      end
      position = position + length
    end
  end
  out[#out + 1] = '"'
  return table.concat(out)
end

function M.encode(value, compact)
  local kind = type(value)
  if kind == "string" then
    return encode_string(value)
  elseif kind == "number" then
    if math.type(value) ~= "integer" then
      error("pyjson: only integers are written", 2)
    end
    return tostring(value)
  elseif kind == "boolean" then
    return value and "true" or "false"
  elseif kind == "table" then
    local item_separator, key_separator = ", ", ": "
    if compact then
      item_separator, key_separator = ",", ":"
    end
    local items = {}
    if getmetatable(value) == ORDERED then
      for _, pair in ipairs(value.pairs) do
        if pair[2] ~= nil then
          items[#items + 1] = encode_string(pair[1]) .. key_separator
            .. M.encode(pair[2], compact)
        end
      end
    else
      local keys = {}
      for key in pairs(value) do
        keys[#keys + 1] = key
      end
      -- Python sorts str keys by code point, which is UTF-8's byte order.
      table.sort(keys)
      for _, key in ipairs(keys) do
        items[#items + 1] = encode_string(key) .. key_separator .. M.encode(value[key], compact)
      end
    end
    return "{" .. table.concat(items, item_separator) .. "}"
  end
  error("pyjson: cannot write a " .. kind, 2)
end

return M
