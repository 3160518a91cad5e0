-- The trivial function bench/emulator.sh measures the emulator with: it answers with the
-- payload it got, untouched, so the figures are the emulator's and the runtime client's cost.
local runtime = require("lambda.runtime")

local _, failure = runtime.start(function(_, context)
  return context.payload
end)
io.stderr:write("emulator_function: ", tostring(failure), "\n")
return 1
