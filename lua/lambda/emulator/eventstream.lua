-- Internal to lambda.emulator (not part of the public API; see docs/scripting.md).
-- AWS event-stream framing (application/vnd.amazon.eventstream), as InvokeWithResponseStream
-- answers: each message is
--   total length u32 | headers length u32 | prelude CRC32 u32 | headers | payload | CRC32 u32
-- (big-endian; CRC-32 with the zlib polynomial), each header
--   name length u8 | name | type u8 (7 = string) | value length u16 | value.
local crypto = require("lambda.crypto")

local M = {}

local STRING_TYPE = 7

local function encode_headers(headers)
  local parts = {}
  for _, pair in ipairs(headers) do
    parts[#parts + 1] = string.pack(">s1B>s2", pair[1], STRING_TYPE, pair[2])
  end
  return table.concat(parts)
end

function M.message(headers, payload)
  local encoded_headers = encode_headers(headers)
  local total = 16 + #encoded_headers + #payload
  local prelude = string.pack(">I4I4", total, #encoded_headers)
  local body = prelude .. string.pack(">I4", crypto.crc32(prelude)) .. encoded_headers .. payload
  return body .. string.pack(">I4", crypto.crc32(body))
end

function M.payload_chunk(data)
  return M.message({
    { ":event-type", "PayloadChunk" },
    { ":content-type", "application/octet-stream" },
    { ":message-type", "event" },
  }, data)
end

-- fields: {ErrorCode =, ErrorDetails =, LogResult =}, each left out when nil.
function M.invoke_complete(fields)
  local json = require("lambda.json")
  local object = {}
  for _, key in ipairs({ "ErrorCode", "ErrorDetails", "LogResult" }) do
    if fields and fields[key] then
      object[#object + 1] = json.encode(key) .. ":" .. json.encode(fields[key])
    end
  end
  return M.message({
    { ":event-type", "InvokeComplete" },
    { ":content-type", "application/json" },
    { ":message-type", "event" },
  }, "{" .. table.concat(object, ",") .. "}")
end

-- Splits a byte string into messages: a list of {headers = {name = value}, payload = ...},
-- or nil, message for a damaged stream (used by tests and by clients written in Lua).
function M.decode(data)
  local messages, position = {}, 1
  while position <= #data do
    if #data - position + 1 < 16 then
      return nil, "truncated message at byte " .. (position - 1)
    end
    local total, headers_length, prelude_crc = string.unpack(">I4I4I4", data, position)
    if crypto.crc32(data:sub(position, position + 7)) ~= prelude_crc then
      return nil, "prelude CRC mismatch at byte " .. (position - 1)
    end
    if total < 16 + headers_length or position + total - 1 > #data then
      return nil, "bad message length at byte " .. (position - 1)
    end
    local message_crc = string.unpack(">I4", data, position + total - 4)
    if crypto.crc32(data:sub(position, position + total - 5)) ~= message_crc then
      return nil, "message CRC mismatch at byte " .. (position - 1)
    end
    local headers, cursor = {}, position + 12
    local headers_end = cursor + headers_length
    while cursor < headers_end do
      local name, kind
      name, kind, cursor = string.unpack(">s1B", data, cursor)
      if kind ~= STRING_TYPE then
        return nil, "unsupported header type " .. kind
      end
      headers[name], cursor = string.unpack(">s2", data, cursor)
    end
    messages[#messages + 1] = { headers = headers,
      payload = data:sub(headers_end, position + total - 5) }
    position = position + total
  end
  return messages
end

return M
