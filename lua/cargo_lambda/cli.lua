-- Command-line front end. Each command module (lua/cargo_lambda/commands/<name>.lua) declares
-- one flag table; from it this module derives the parser and the usage errors, and
-- cargo_lambda.help the --help text, so the three can never disagree.
--
-- A command spec:
--   name, summary, description (optional, shown by --help)
--   positionals = { {name = "FUNCTION_NAME", help = "..."}, ... }
--   rest = {name = "ARGS", help = "...", after_double_dash = bool}
--          -- optional: the arguments after the positionals (or after "--") kept verbatim
--   pass_through = true  -- optional: flags the spec does not know, and every other argument,
--          go to rest in order (another program's arguments); the spec's own flags are taken
--          wherever they are
--   help = function() -> text  -- optional: the command's own --help
--   flags = { {long = "data-file", short = "F", value = "PATH", help = "...",
--              type = "string"|"port"|"count"|"uint"|"seconds"|"fraction"|"boolean",
--              choices = {"text", "json"}, default = ..., aliases = {"qualifier"},
--              multiple = true (repeatable: the values come as a list)}, ... }
--   run = function(options, positionals, rest) -> exit status
-- Flags without `value` are booleans (or counters with type = "count").
local text = require("lambda.text")

local M = {}

M.PROGRAM = "cargo-lambda"
M.VERSION = require("lambda.build").version -- CMake's project version
M.EXIT_OK = 0
M.EXIT_FUNCTION_ERROR = 1
M.EXIT_USAGE = 2
M.EXIT_TRANSPORT = 3

-- The exit status of a failure found before anything was invoked (the library's nil, message,
-- kind, field): 3 when the emulator or AWS (Lambda, or STS, IAM Identity Center and the
-- metadata endpoints while credentials are looked up) could not be reached or did not answer
-- in time; 2 for the rest: a bad value, no credentials, a credential_process or an MFA prompt
-- that timed out (those name the field that bounds or avoids them).
function M.exit_status_for(kind, field)
  if kind == "transport" or kind == "tls" or (kind == "timeout" and field == nil) then
    return M.EXIT_TRANSPORT
  end
  return M.EXIT_USAGE
end

local COMMANDS = { "invoke", "watch", "run", "test", "load-worker" }
-- The original's visible alias: `cargo lambda start` is `cargo lambda watch`.
local COMMAND_ALIASES = { start = "watch" }

-- A usage error travels as a table so that run() can tell it from an internal failure.
local UsageError = {}
UsageError.__index = UsageError
UsageError.__tostring = function(e)
  return e.message
end

function M.usage_error(command, message)
  error(setmetatable({ command = command, message = message }, UsageError), 0)
end

function M.is_usage_error(value)
  return getmetatable(value) == UsageError
end

local function flag_label(flag)
  return "--" .. flag.long
end

local function convert(command, flag, value)
  local kind = flag.type or "string"
  if flag.choices then
    -- Case-insensitive, as the original's --output-format; the canonical spelling comes back.
    local lowered = value:lower()
    for _, choice in ipairs(flag.choices) do
      if choice:lower() == lowered then
        return choice
      end
    end
    M.usage_error(command, string.format("invalid value %s for %s: expected one of %s",
      text.quote(value), flag_label(flag), table.concat(flag.choices, ", ")))
  end
  if kind == "port" or kind == "uint" then
    local n = value:match("^%d+$") and math.tointeger(tonumber(value))
    if not n or (kind == "port" and (n < 1 or n > 65535)) then
      M.usage_error(command, string.format("invalid value %s for %s: expected %s",
        text.quote(value), flag_label(flag),
        kind == "port" and "a port number from 1 to 65535" or "a whole number"))
    end
    return n
  elseif kind == "seconds" then
    local n = value:match("^%d+%.?%d*$") and tonumber(value)
    if not n or n <= 0 or n ~= n or n == math.huge then
      M.usage_error(command, string.format("invalid value %s for %s: expected a positive " ..
        "number of seconds", text.quote(value), flag_label(flag)))
    end
    return n
  elseif kind == "fraction" then
    local n = value:match("^%d*%.?%d+$") and tonumber(value)
    if not n or n < 0 or n > 1 then
      M.usage_error(command, string.format("invalid value %s for %s: expected a fraction from "
        .. "0 to 1", text.quote(value), flag_label(flag)))
    end
    return n
  end
  return value
end

-- A value that looks like another flag means the user forgot the value. "-" (standard input)
-- and negative numbers are values.
local function looks_like_flag(arg)
  return arg:sub(1, 2) == "--" or (arg:match("^%-%a") ~= nil)
end

local function index_flags(spec)
  local by_long, by_short = {}, {}
  for _, flag in ipairs(spec.flags or {}) do
    by_long[flag.long] = flag
    for _, alias in ipairs(flag.aliases or {}) do
      by_long[alias] = flag
    end
    if flag.short then
      by_short[flag.short] = flag
    end
  end
  by_long.help = by_long.help or { long = "help", help_flag = true }
  by_short.h = by_short.h or by_long.help
  return by_long, by_short
end

-- Parses args[first..] against spec. Returns options (keyed by long name with '-' turned into
-- '_'), the positionals and the rest arguments; raises a usage error on bad input.
function M.parse(spec, args, first)
  local by_long, by_short = index_flags(spec)
  local options, seen, positionals, rest = {}, {}, {}, nil
  local command = spec.name
  local i = first or 1

  local function set(flag, value)
    if flag.help_flag then
      options.help = true
      return
    end
    local key = flag.long:gsub("-", "_")
    if flag.type == "count" then
      options[key] = (options[key] or 0) + 1
      return
    end
    if flag.multiple then
      options[key] = options[key] or {}
      table.insert(options[key], value)
      return
    end
    if seen[flag] then
      M.usage_error(command, string.format("%s was given more than once", flag_label(flag)))
    end
    seen[flag] = true
    options[key] = value
  end

  local function take_value(flag, inline)
    if inline then
      return convert(command, flag, inline)
    end
    local value = args[i + 1]
    if value == nil or looks_like_flag(value) then
      M.usage_error(command, string.format("%s needs a value (%s)", flag_label(flag), flag.value))
    end
    i = i + 1
    return convert(command, flag, value)
  end

  local only_positionals = false
  local pass_through = {}
  while i <= #args do
    local arg = args[i]
    if not rest and spec.rest and not spec.rest.after_double_dash and not spec.pass_through
      and #positionals >= #(spec.positionals or {}) then
      rest = {}
    end
    local unknown_flag = false
    if spec.pass_through and not rest and arg:sub(1, 1) == "-" and arg ~= "-" and arg ~= "--" then
      if arg:sub(1, 2) == "--" then
        unknown_flag = not by_long[arg:match("^%-%-([^=]+)")]
      else
        for letter in arg:sub(2):gmatch(".") do
          unknown_flag = unknown_flag or not by_short[letter]
        end
      end
    end
    if rest then
      rest[#rest + 1] = arg
    elseif spec.pass_through and (unknown_flag or (arg:sub(1, 1) ~= "-" and #positionals
      >= #(spec.positionals or {}))) then
      -- Another program's arguments (busted's, for test), kept in order.
      pass_through[#pass_through + 1] = arg
    elseif only_positionals or arg == "-" or arg:sub(1, 1) ~= "-" then
      if #positionals < #(spec.positionals or {}) then
        positionals[#positionals + 1] = arg
      else
        M.usage_error(command, string.format("unexpected argument %s", text.quote(arg)))
      end
    elseif arg == "--" then
      if spec.rest and spec.rest.after_double_dash then
        rest = {}
      else
        only_positionals = true
      end
    elseif arg:sub(1, 2) == "--" then
      local name, inline = arg:match("^%-%-([^=]+)=(.*)$")
      name = name or arg:sub(3)
      local flag = by_long[name]
      if not flag then
        M.usage_error(command, string.format("unknown flag %s", text.quote("--" .. name)))
      end
      if flag.value then
        set(flag, take_value(flag, inline))
      elseif inline then
        M.usage_error(command, string.format("%s takes no value", flag_label(flag)))
      else
        set(flag, true)
      end
    else
      -- One or more short flags: -Rv, -P9000, -P 9000.
      local j = 2
      while j <= #arg do
        local letter = arg:sub(j, j)
        local flag = by_short[letter]
        if not flag then
          M.usage_error(command, string.format("unknown flag %s", text.quote("-" .. letter)))
        end
        if flag.value then
          local inline = arg:sub(j + 1)
          set(flag, take_value(flag, inline ~= "" and inline or nil))
          break
        end
        set(flag, true)
        j = j + 1
      end
    end
    i = i + 1
  end

  for _, flag in ipairs(spec.flags or {}) do
    local key = flag.long:gsub("-", "_")
    if options[key] == nil and flag.default ~= nil then
      options[key] = flag.default
    end
  end
  if spec.pass_through then
    table.move(rest or {}, 1, #(rest or {}), #pass_through + 1, pass_through)
    rest = pass_through
  end
  return options, positionals, rest or {}
end

-- A command's --help text, from its spec (cargo_lambda.help: loaded only to print help).
function M.help(spec)
  return require("cargo_lambda.help").command(spec)
end

local function load_command(name)
  name = COMMAND_ALIASES[name] or name
  for _, known in ipairs(COMMANDS) do
    if known == name then
      return require("cargo_lambda.commands." .. name:gsub("-", "_"))
    end
  end
  return nil
end

local function top_help()
  return require("cargo_lambda.help").top(COMMANDS, load_command)
end

-- "error: MESSAGE" on stderr, one line whatever the message echoes of the user's input (a
-- file name, a value: its control bytes are escaped), written in one call so that output of a
-- function or a progress line cannot land inside it.
function M.print_error(message)
  io.stderr:write("error: " .. text.escape(tostring(message)) .. "\n")
end

local function report_usage(e)
  local where = e.command and (M.PROGRAM .. " " .. e.command) or M.PROGRAM
  M.print_error(string.format("%s (see '%s --help')", e.message, where))
  return M.EXIT_USAGE
end

local function dispatch(argv)
  local args = {}
  for i = 1, #argv do
    args[i] = argv[i]
  end
  -- `cargo lambda invoke` runs `cargo-lambda lambda invoke`.
  if args[1] == "lambda" then
    table.remove(args, 1)
  end
  local first = args[1]
  if first == nil or first == "-h" or first == "--help" then
    io.stdout:write(top_help())
    return first == nil and M.EXIT_USAGE or M.EXIT_OK
  end
  if first == "-V" or first == "--version" then
    io.stdout:write(M.PROGRAM .. " " .. M.VERSION .. "\n")
    return M.EXIT_OK
  end
  if first == "help" then
    if args[2] == nil then
      io.stdout:write(top_help())
      return M.EXIT_OK
    end
    local command = load_command(args[2])
    if not command then
      M.usage_error(nil, string.format("unknown command %s", text.quote(args[2])))
    end
    io.stdout:write(command.help and command.help() or M.help(command))
    return M.EXIT_OK
  end
  local command = load_command(first)
  if not command then
    M.usage_error(nil, string.format("unknown command %s", text.quote(first)))
  end
  local options, positionals, rest = M.parse(command, args, 2)
  if options.help then
    io.stdout:write(command.help and command.help() or M.help(command))
    return M.EXIT_OK
  end
  return command.run(options, positionals, rest)
end

-- Runs the CLI; returns the exit status. Usage errors become one line on stderr and status 2;
-- anything else that escapes a command is a bug and is reported as such by the host.
function M.run(argv)
  local ok, result = xpcall(dispatch, function(e)
    if M.is_usage_error(e) then
      return e
    end
    return debug.traceback(tostring(e), 2)
  end, argv)
  if ok then
    return result or M.EXIT_OK
  end
  if M.is_usage_error(result) then
    return report_usage(result)
  end
  error(result, 0)
end

return M
