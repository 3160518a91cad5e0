-- Internal to lambda.emulator (not part of the public API; see docs/scripting.md).
-- The messages the emulator streams to an InvokeWithResponseStream caller: PayloadChunk events
-- with the function's bytes, then one InvokeComplete. The framing is lambda.eventstream's
-- (application/vnd.amazon.eventstream), which also decodes it.
local eventstream = require("lambda.eventstream")

local M = {}

-- A message is at most 16 MB (what the AWS SDKs accept): larger data goes out in several
-- chunks, whose payloads the caller joins. 1 KiB is left for the headers.
M.MAX_CHUNK = 16 * 1024 * 1024 - 1024

local PAYLOAD_CHUNK = {
  { ":event-type", 7, "PayloadChunk" },
  { ":content-type", 7, "application/octet-stream" },
  { ":message-type", 7, "event" },
}

local INVOKE_COMPLETE = {
  { ":event-type", 7, "InvokeComplete" },
  { ":content-type", 7, "application/json" },
  { ":message-type", 7, "event" },
}

-- The bytes of one PayloadChunk message carrying data, or of as many as data needs.
function M.payload_chunk(data)
  if #data <= M.MAX_CHUNK then
    return eventstream.encode(PAYLOAD_CHUNK, data)
  end
  local messages = {}
  for first = 1, #data, M.MAX_CHUNK do
    messages[#messages + 1] = eventstream.encode(PAYLOAD_CHUNK,
      data:sub(first, first + M.MAX_CHUNK - 1))
  end
  return table.concat(messages)
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
  return eventstream.encode(INVOKE_COMPLETE, "{" .. table.concat(object, ",") .. "}")
end

return M
