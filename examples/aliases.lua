-- Invoke one function through several aliases and compare the answers, as a check before
-- moving the live alias to a new version. Here the emulator stands in for AWS Lambda; with
-- lambda.client{remote = true, region = "..."} the same code compares deployed aliases.
-- Run: cargo-lambda run examples/aliases.lua [name]
-- Exit status: 0 when both aliases give the same answer, 1 when they differ (they do here: v2
-- greets differently).
local lambda = require("lambda")

local folder = arg[0]:match("^(.*)/[^/]*$") or "."
local emulator = assert(lambda.emulator.start({
  command = { lambda.executable, "run", folder .. "/functions/greeter.lua" },
  on_output = false,
}))
local client = emulator:client()
local payload = { name = arg[1] or "Grace" }

local answers = {}
for _, alias in ipairs({ "v1", "v2" }) do
  local result = client:invoke("greeter", { payload = payload, qualifier = alias })
  assert(result.ok, result.error and result.error.line)
  answers[alias] = result:json().message
  print(string.format("%-3s %s", alias, answers[alias]))
end
emulator:stop()

if answers.v1 == answers.v2 then
  print("same answer through both aliases")
  return 0
end
print("the aliases answer differently")
return 1
