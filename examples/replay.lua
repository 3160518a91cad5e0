-- Replay a folder of event payloads against a function and print a summary table: one row per
-- event file with its status, time and answer (or error).
-- Run: cargo-lambda run examples/replay.lua [folder of *.json events]
-- Exit status: 1 when an event failed (examples/events/broken.json does, on purpose).
local lambda = require("lambda")

local folder = arg[0]:match("^(.*)/[^/]*$") or "."
local events = arg[1] or (folder .. "/events")
local emulator = assert(lambda.emulator.start({
  command = { lambda.executable, "run", folder .. "/functions/greeter.lua" },
  on_output = false,
}))
local client = emulator:client()

local files = assert(lambda.fs.list(events))
local requests, names = {}, {}
for _, file in ipairs(files) do
  if file:match("%.json$") then
    local payload = assert(lambda.fs.read(events .. "/" .. file))
    names[#names + 1] = file
    requests[#requests + 1] = { name = "greeter", payload = payload }
  end
end
local results = assert(client:invoke_all(requests, { concurrency = 4 }))
emulator:stop()

print(string.format("%-14s %-8s %9s  %s", "event", "outcome", "time (ms)", "answer"))
local failures = 0
for i, result in ipairs(results) do
  local outcome, answer = "ok", result.ok and result:json().message
  if not result.ok then
    outcome, answer, failures = result.error.source, result.error.line, failures + 1
  end
  print(string.format("%-14s %-8s %9.1f  %s", names[i], outcome, result.duration * 1000,
    answer))
end
print(string.format("%d events, %d failed", #results, failures))
return failures == 0 and 0 or 1
