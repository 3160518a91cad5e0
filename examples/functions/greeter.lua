-- A Lua function for the examples: greets the event's name. Its answer depends on the alias it
-- was invoked through (the qualifier at the end of its invokedFunctionArn), as two deployed
-- versions of a function would differ.
-- Run it under the emulator: cargo-lambda watch -- cargo-lambda run examples/functions/greeter.lua
local runtime = require("lambda.runtime")

local _, problem = runtime.start(function(event, context)
  local alias = context.invoked_function_arn:match(":function:[^:]+:([^:]+)$") or "$LATEST"
  if type(event) ~= "table" or type(event.name) ~= "string" then
    error("the event needs a name", 0)
  end
  local greeting = alias == "v2" and "Hi" or "Hello"
  return { alias = alias, message = greeting .. ", " .. event.name }
end)
io.stderr:write("greeter: ", tostring(problem), "\n")
return 1
