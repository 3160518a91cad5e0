-- Identifiers the emulator hands out: request ids (UUID v4), X-Ray trace headers, ARNs.
local crypto = require("lambda.crypto")

local M = {}

function M.uuid()
  local b = { crypto.random_bytes(16):byte(1, 16) }
  b[7] = (b[7] & 0x0f) | 0x40 -- version 4
  b[9] = (b[9] & 0x3f) | 0x80 -- RFC 4122 variant
  return string.format("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
    table.unpack(b))
end

-- Root=1-<8 hex epoch seconds>-<24 hex random>;Parent=<16 hex>;Sampled=0, as X-Ray writes it.
function M.trace_id(now)
  local random = crypto.random_bytes(20)
  local hex = random:gsub(".", function(c)
    return string.format("%02x", c:byte())
  end)
  return string.format("Root=1-%08x-%s;Parent=%s;Sampled=0", math.floor(now), hex:sub(1, 24),
    hex:sub(25, 40))
end

M.ACCOUNT_ID = "012345678912"

function M.function_arn(region, name)
  return string.format("arn:aws:lambda:%s:%s:function:%s", region, M.ACCOUNT_ID, name)
end

return M
