-- Help texts of the command line (cargo_lambda.cli): the top-level --help and each command's,
-- derived from the command's flag table. Apart from the parser so that a command that is run,
-- not asked for help, does not load them.
local cli = require("cargo_lambda.cli")

local M = {}

local function wrap(text, indent, width)
  local lines, line = {}, ""
  for word in text:gmatch("%S+") do
    if #line > 0 and #line + 1 + #word > width then
      lines[#lines + 1] = line
      line = word
    else
      line = #line > 0 and (line .. " " .. word) or word
    end
  end
  lines[#lines + 1] = line
  return table.concat(lines, "\n" .. string.rep(" ", indent))
end

function M.command(spec)
  local out = {}
  local usage = cli.PROGRAM .. " " .. spec.name .. " [OPTIONS]"
  for _, p in ipairs(spec.positionals or {}) do
    usage = usage .. " [" .. p.name .. "]"
  end
  if spec.rest then
    usage = usage .. (spec.rest.after_double_dash and " [-- " or " [") .. spec.rest.name .. "]..."
  end
  out[#out + 1] = spec.summary
  if spec.description then
    out[#out + 1] = ""
    out[#out + 1] = wrap(spec.description, 0, 90)
  end
  out[#out + 1] = ""
  out[#out + 1] = "Usage: " .. usage
  if spec.positionals or spec.rest then
    out[#out + 1] = ""
    out[#out + 1] = "Arguments:"
    local list = { table.unpack(spec.positionals or {}) }
    list[#list + 1] = spec.rest
    for _, p in ipairs(list) do
      out[#out + 1] = string.format("  %-30s %s", "[" .. p.name .. "]", wrap(p.help, 33, 66))
    end
  end
  out[#out + 1] = ""
  out[#out + 1] = "Options:"
  local flags = { table.unpack(spec.flags or {}) }
  flags[#flags + 1] = { long = "help", short = "h", help = "Print help" }
  for _, flag in ipairs(flags) do
    local left = (flag.short and ("-" .. flag.short .. ", ") or "    ") .. "--" .. flag.long
    if flag.value then
      left = left .. " <" .. flag.value .. ">"
    end
    local text = flag.help
    if flag.choices then
      text = text .. " [possible values: " .. table.concat(flag.choices, ", ") .. "]"
    end
    if flag.default ~= nil and flag.type ~= "count" then
      text = text .. " [default: " .. tostring(flag.default) .. "]"
    end
    if flag.aliases then
      text = text .. " [alias: --" .. table.concat(flag.aliases, ", --") .. "]"
    end
    if #left > 30 then
      out[#out + 1] = "  " .. left
      out[#out + 1] = string.rep(" ", 33) .. wrap(text, 33, 66)
    else
      out[#out + 1] = string.format("  %-30s %s", left, wrap(text, 33, 66))
    end
  end
  return table.concat(out, "\n") .. "\n"
end

-- The top-level --help: the program, its commands (load(name) gives a command's spec) and
-- their summaries.
function M.top(commands, load)
  local lines = {
    cli.PROGRAM .. " " .. cli.VERSION .. ": invoke AWS Lambda functions, locally or on AWS",
    "",
    "Usage: " .. cli.PROGRAM .. " [lambda] <COMMAND> [OPTIONS]",
    "       cargo lambda <COMMAND> [OPTIONS]   (as a cargo subcommand)",
    "",
    "Commands:",
  }
  for _, name in ipairs(commands) do
    lines[#lines + 1] = string.format("  %-12s %s", name, load(name).summary)
  end
  lines[#lines + 1] = string.format("  %-10s %s", "help", "Print this message or the help of a command")
  lines[#lines + 1] = ""
  lines[#lines + 1] = "Options:"
  lines[#lines + 1] = "  -h, --help     Print help"
  lines[#lines + 1] = "  -V, --version  Print version"
  lines[#lines + 1] = ""
  lines[#lines + 1] = "Run '" .. cli.PROGRAM .. " <COMMAND> --help' for a command's options."
  return table.concat(lines, "\n") .. "\n"
end

return M
