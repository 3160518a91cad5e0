-- Decode throughput of lambda.eventstream: a 100 MiB stream of PayloadChunk messages (as
-- InvokeWithResponseStream answers) fed to d:feed in 64 KiB reads, as a connection delivers
-- it; MB/s of stream bytes, CPU time, the best of 5 rounds. Three shapes of message: 64 KiB
-- payloads (every message spans reads, so it is buffered), 1 KiB payloads (most lie inside
-- one read and are read where they are), and 16 MiB payloads (the largest there are).
-- Usage: cargo-lambda run bench/eventstream_decode.lua [MEBIBYTES]   (bench/eventstream.sh)
local eventstream = require("lambda.eventstream")

local megabytes = math.tointeger(tonumber(arg[1] or "")) or 100
local READ = 64 * 1024
local ROUNDS = 5
local HEADERS = {
  { ":event-type", 7, "PayloadChunk" },
  { ":content-type", 7, "application/octet-stream" },
  { ":message-type", 7, "event" },
}

-- The stream as its 64 KiB reads, and how many messages it holds.
local function reads_of(payload_size)
  local message = eventstream.encode(HEADERS, string.rep("p", payload_size))
  local count = (megabytes * 1024 * 1024) // #message
  local stream = string.rep(message, count)
  local reads = {}
  for first = 1, #stream, READ do
    reads[#reads + 1] = stream:sub(first, first + READ - 1)
  end
  return reads, count, #stream
end

local function decode(reads)
  local d, messages, bytes = eventstream.decoder(), 0, 0
  for i = 1, #reads do
    local decoded = assert(d:feed(reads[i]))
    for j = 1, #decoded do
      bytes = bytes + #decoded[j].payload
    end
    messages = messages + #decoded
  end
  assert(d:finish())
  return messages, bytes
end

local function report(label, payload_size)
  local reads, count, length = reads_of(payload_size)
  local best = math.huge
  for _ = 1, ROUNDS do
    collectgarbage()
    local started = os.clock()
    local messages = decode(reads)
    best = math.min(best, os.clock() - started)
    assert(messages == count)
  end
  print(string.format("%-16s %7d messages, %6.1f MB in 64 KiB reads: %7.1f ms, %7.0f MB/s", label,
    count, length / 1e6, best * 1e3, length / 1e6 / best))
end

report("64 KiB payloads", 64 * 1024)
report("1 KiB payloads", 1024)
report("16 MiB payloads", 16 * 1024 * 1024 - 1024)
