-- Internal to lambda.emulator (not part of the public API; see docs/scripting.md).
-- Identifiers the emulator hands out: request ids (UUID v4), X-Ray trace headers, ARNs.
local crypto = require("lambda.crypto")

local M = {}

-- Random bytes are drawn from libcrypto 4 KiB at a time: one call per invocation cost more
-- than the rest of making its ids (the call, and the fork check libcrypto makes on each).
local POOL_BYTES = 4096
local pool, used = "", POOL_BYTES

local function random_bytes(count)
  if used + count > #pool then
    pool = assert(crypto.random_bytes(POOL_BYTES))
    used = 0
  end
  local bytes = pool:sub(used + 1, used + count)
  used = used + count
  return bytes
end

function M.uuid()
  local b = { random_bytes(16):byte(1, 16) }
  b[7] = (b[7] & 0x0f) | 0x40 -- version 4
  b[9] = (b[9] & 0x3f) | 0x80 -- RFC 4122 variant
  return string.format("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
    table.unpack(b))
end

-- Root=1-<8 hex epoch seconds>-<24 hex random>;Parent=<16 hex>;Sampled=0, as X-Ray writes it.
function M.trace_id(now)
  -- One unpack of 20 random bytes as five 32-bit words: cheaper than a per-byte gsub on the
  -- invocation path.
  local a, b, c, d, e = string.unpack(">I4I4I4I4I4", random_bytes(20))
  return string.format("Root=1-%08x-%08x%08x%08x;Parent=%08x%08x;Sampled=0", math.floor(now), a,
    b, c, d, e)
end

M.ACCOUNT_ID = "012345678912"

-- The qualifier (an alias or version) is part of the ARN, except $LATEST, as AWS writes the
-- invokedFunctionArn of an unqualified invocation.
function M.function_arn(region, name, qualifier)
  local arn = string.format("arn:aws:lambda:%s:%s:function:%s", region, M.ACCOUNT_ID, name)
  if qualifier and qualifier ~= "$LATEST" then
    arn = arn .. ":" .. qualifier
  end
  return arn
end

return M
