-- `cargo-lambda run SCRIPT [ARGS...]`: runs a user's Lua script on the same API the built-in
-- commands use (require "lambda.http", "lambda.json", ...). The script sees its arguments as
-- `...` and in the table `arg` (arg[0] = the script), as with the stand-alone lua interpreter;
-- an integer it returns becomes the exit status.
local cli = require("cargo_lambda.cli")

local M = {
  name = "run",
  summary = "Run a Lua script with the cargo-lambda API",
  description = "The script can require \"lambda\", the public library documented in "
    .. "docs/scripting.md (clients, the emulator, tasks, and modules such as lambda.http, "
    .. "lambda.json and lambda.cargo), and Lua modules in its own folder. Exit status: the "
    .. "integer the script returns, 0 when it returns nothing, 1 when it raises an error.",
  positionals = { { name = "SCRIPT", help = "Path of the Lua script ('-' reads standard input)" } },
  rest = { name = "ARGS", help = "Arguments passed to the script" },
  flags = {},
}

function M.run(_, positionals, rest)
  local script = positionals[1]
  if not script then
    cli.usage_error(M.name, "missing the script to run")
  end
  local chunk, message = loadfile(script ~= "-" and script or nil)
  if not chunk then
    cli.print_error(message)
    return cli.EXIT_USAGE
  end
  -- The script's own folder comes first on package.path, so that it can require the modules
  -- beside it (the program's modules are cargo_lambda.* and the library's lambda.*: neither
  -- can take a script module's name, nor the script theirs).
  if script ~= "-" then
    local folder = script:match("^(.*)/[^/]*$") or "."
    package.path = folder .. "/?.lua;" .. folder .. "/?/init.lua;" .. package.path
  end
  local script_arg = { [0] = script }
  for i, value in ipairs(rest) do
    script_arg[i] = value
  end
  -- The stand-alone interpreter's convention, which script authors expect.
  _G.arg = script_arg
  local ok, result = xpcall(chunk, function(e)
    return debug.traceback(tostring(e), 2)
  end, table.unpack(rest))
  if not ok then
    -- A traceback has lines of its own: written as it is, in one call.
    io.stderr:write("error: " .. tostring(result) .. "\n")
    return cli.EXIT_FUNCTION_ERROR
  end
  io.stdout:flush()
  return math.type(result) == "integer" and result or cli.EXIT_OK
end

return M
