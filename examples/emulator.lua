-- Start the emulator in this process on a Lua handler, invoke it, stop it.
-- Run: cargo-lambda run examples/emulator.lua
local lambda = require("lambda")

local folder = arg[0]:match("^(.*)/[^/]*$") or "."
local emulator = assert(lambda.emulator.start({
  command = { lambda.executable, "run", folder .. "/functions/greeter.lua" },
  on_output = false, -- the function's own output is not part of this example's
}))
print("emulator listening on " .. emulator.url)

local client = emulator:client()
local result = client:invoke("greeter", { payload = { name = "Ada" } })
if not result.ok then
  error("the invocation failed: " .. result.error.line)
end
print(string.format("greeter answered in %.1f ms: %s", result.duration * 1000,
  result:json().message))

-- A function error comes back in the result, never as a Lua error.
local failed = client:invoke("greeter", { payload = { nobody = true } })
print(string.format("without a name: %s error, %s", failed.error.source, failed.error.line))

emulator:stop()
