-- `cargo-lambda test`: scenario specs (*_spec.lua) run by busted, Lua's test framework, inside
-- this program, with the lambda library and lambda.test's assertions and fixture.
local cli = require("cargo_lambda.cli")

local M = {
  name = "test",
  summary = "Run scenario specs (busted) against the emulator or the deployed functions",
  description = "Runs the *_spec.lua files under PATH (default: spec/ or tests/lambda/ of the "
    .. "Cargo project around the current directory) with busted, Lua's test framework. Specs "
    .. "require \"lambda\"; lambda.invoke{} goes to the emulator the spec's "
    .. "lambda.test.fixture() starts, or with --remote to the deployed functions. Every other "
    .. "argument is busted's (-o TAP, -o junit, --filter, --tags, --shuffle, -v, ...). Exit "
    .. "status: 0 all passed, 1 a test failed or errored, 2 usage error.",
  rest = { name = "PATH | BUSTED_OPTION", help = "Spec files or folders, and busted's options" },
  pass_through = true,
  flags = {
    { long = "remote", help = "Invoke the functions deployed on AWS Lambda instead" },
    { long = "alias", value = "ALIAS", aliases = { "qualifier" },
      help = "Alias or version every invocation names (Qualifier)" },
    { long = "region", value = "REGION", help = "AWS region with --remote" },
    { long = "profile", value = "PROFILE", help = "AWS profile with --remote" },
    { long = "invoke-address", value = "ADDRESS",
      help = "An emulator already running at this address (no fixture starts one)" },
    { long = "invoke-port", short = "P", value = "PORT", type = "port",
      help = "Port of that emulator" },
  },
}

local BUSTED_PACKAGE = "lua-busted"

local function fail(message)
  cli.print_error(message)
  return cli.EXIT_USAGE
end

-- busted's own options, as its --help prints them.
local function busted_help()
  local ok, busted_cli = pcall(require, "busted.modules.cli")
  if not ok then
    return "  (busted is not installed: apt-get install " .. BUSTED_PACKAGE .. ")\n"
  end
  local parser = busted_cli(require("busted.options"))
  parser:set_name("cargo-lambda test")
  local _, text = parser:parse({ "--help" })
  return ((text or ""):match("OPTIONS:.*$") or text or "") .. "\n"
end

function M.help()
  return cli.help(M) .. "\nbusted's " .. busted_help()
end

-- Whether an argument names a spec file or folder (so no default one is added).
local function names_a_path(argument)
  local info = argument:sub(1, 1) ~= "-" and require("lambda.fs").stat(argument)
  return info and (info.type == "file" or info.type == "directory")
end

-- spec/ or tests/lambda/ of the project around the current directory.
local function default_root()
  local manifest = require("lambda.cargo").find_manifest()
  local root = manifest and manifest:match("^(.*)/[^/]+$") or "."
  for _, candidate in ipairs({ root .. "/spec", root .. "/tests/lambda" }) do
    local info = require("lambda.fs").stat(candidate)
    if info and info.type == "directory" then
      return candidate
    end
  end
  return nil, string.format("no specs to run: give a PATH, or put *_spec.lua files in %s/spec "
    .. "or %s/tests/lambda", root, root)
end

-- Runs busted's runner over args; returns the exit status. busted ends with os.exit (status
-- 0 or 1); it is intercepted so that the fixtures stop first and a usage error (busted's
-- arguments refused before any test ran) is 2.
local function run_busted(args)
  local executed = false
  local original_execute = require("busted.execute")
  package.loaded["busted.execute"] = function(busted)
    executed = true
    -- Each spec file's fixtures stop when its tests are over, whatever happened.
    busted.subscribe({ "file", "end" }, function()
      require("lambda.test").stop_fixtures()
      return nil, true
    end)
    return original_execute(busted)
  end
  local exit_signal = {}
  local real_exit = os.exit
  os.exit = function(code) -- luacheck: ignore (busted's way out, taken back here)
    error(setmetatable({ code = code }, exit_signal), 0)
  end
  _G.arg = { [0] = "cargo-lambda test", table.unpack(args) }
  local ok, problem = pcall(require("busted.runner"), { standalone = false })
  os.exit = real_exit
  package.loaded["busted.execute"] = original_execute
  require("lambda.test").stop_fixtures()
  io.stdout:flush()
  if ok then
    return cli.EXIT_OK
  end
  if getmetatable(problem) ~= exit_signal then
    error(problem, 0)
  end
  local code = math.tointeger(problem.code) or (problem.code == true and 0) or 1
  if code == 0 then
    return cli.EXIT_OK
  end
  return executed and cli.EXIT_FUNCTION_ERROR or cli.EXIT_USAGE
end

function M.run(options, _, rest)
  if options.help then
    io.stdout:write(M.help())
    return cli.EXIT_OK
  end
  if not pcall(require, "busted.runner") then
    return fail(string.format("cargo-lambda test needs busted, Lua's test framework: install "
      .. "the Debian package %s (apt-get install %s)", BUSTED_PACKAGE, BUSTED_PACKAGE))
  end
  if options.remote and (options.invoke_address or options.invoke_port) then
    cli.usage_error(M.name, "--invoke-address and --invoke-port cannot be used with --remote")
  end
  if not options.remote and (options.region or options.profile) then
    cli.usage_error(M.name, "--region and --profile need --remote")
  end
  local target
  if options.remote then
    target = { remote = true, region = options.region, profile = options.profile }
  else
    target = { address = options.invoke_address, port = options.invoke_port }
    if target.address == nil and target.port == nil then
      target = { remote = false }
    end
  end
  target.qualifier = options.alias
  local lambda_test = require("lambda.test")
  lambda_test.set_target(target)
  lambda_test.register_assertions()

  local args = { table.unpack(rest) }
  local has_path = false
  for _, argument in ipairs(args) do
    has_path = has_path or names_a_path(argument)
  end
  if not has_path then
    local root, problem = default_root()
    if not root then
      return fail(problem)
    end
    args[#args + 1] = root
  end
  -- Ctrl-C: the fixtures stop (their functions and whatever those left) before the exit. The
  -- loop runs the handler at the next wait of a spec (an invocation, a sleep).
  -- os.exit is taken now: while busted runs, os.exit raises (busted's way out, caught above).
  local event = require("lambda.event")
  local exit = os.exit
  event.on_signal("INT", function()
    io.stderr:write("\ncargo-lambda test: interrupted\n")
    lambda_test.stop_fixtures(true)
    io.stdout:flush()
    exit(130, true)
  end)
  return run_busted(args)
end

return M
