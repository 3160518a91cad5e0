-- The declarative flag parser in lua/cli.lua.
local t = require("testing")
local cli = require("cargo_lambda.cli")

local spec = {
  name = "demo",
  summary = "Demo command",
  positionals = { { name = "NAME", help = "A name" } },
  flags = {
    { long = "data", short = "d", value = "DATA", help = "Data" },
    { long = "port", short = "P", value = "PORT", type = "port", default = 9000, help = "Port" },
    { long = "format", short = "o", value = "FMT", choices = { "text", "json" }, default = "text",
      help = "Format" },
    { long = "remote", short = "R", help = "Remote" },
    { long = "verbose", short = "v", type = "count", help = "Louder" },
    { long = "alias", short = "a", value = "ALIAS", aliases = { "qualifier" }, help = "Alias" },
    { long = "timeout", value = "SECONDS", type = "seconds", help = "Timeout" },
  },
}

local function parse(...)
  return cli.parse(spec, { ... }, 1)
end

local function usage_message(...)
  local err = t.raises(parse, ...)
  assert(cli.is_usage_error(err), "expected a usage error, got " .. tostring(err))
  return err.message
end

t.case("defaults", function()
  local options, positionals = parse()
  t.eq(options.port, 9000, "port default")
  t.eq(options.format, "text", "format default")
  t.eq(options.remote, nil, "boolean unset")
  t.eq(positionals, {}, "positionals")
end)

t.case("long, inline, short, attached and bundled forms", function()
  local options, positionals = parse("--data", "x", "--port=9001", "-Rvv", "-oJSON", "name")
  t.eq(options.data, "x")
  t.eq(options.port, 9001)
  t.eq(options.remote, true)
  t.eq(options.verbose, 2)
  t.eq(options.format, "json", "choices are case-insensitive")
  t.eq(positionals, { "name" })
  t.eq(parse("-P", "1").port, 1)
  t.eq(parse("-dvalue").data, "value")
end)

t.case("alias spelling and values that look like stdin or numbers", function()
  t.eq(parse("--qualifier", "live").alias, "live")
  t.eq(parse("-d", "-").data, "-")
  t.eq(parse("-d", "-1").data, "-1")
  t.eq(parse("--timeout", "1.5").timeout, 1.5)
end)

t.case("double dash ends the flags", function()
  local _, positionals = parse("--", "-R")
  t.eq(positionals, { "-R" })
end)

t.case("usage errors name the flag", function()
  t.matches(usage_message("--nope"), "unknown flag '%-%-nope'")
  t.matches(usage_message("-x"), "unknown flag '%-x'")
  t.matches(usage_message("--data"), "%-%-data needs a value")
  t.matches(usage_message("--data", "--remote"), "%-%-data needs a value")
  t.matches(usage_message("-o", "yaml"), "invalid value 'yaml' for %-%-format")
  t.matches(usage_message("-P", "0"), "%-%-port")
  t.matches(usage_message("-P", "65536"), "%-%-port")
  t.matches(usage_message("-P", "12x"), "%-%-port")
  t.matches(usage_message("--timeout", "0"), "%-%-timeout")
  t.matches(usage_message("--timeout", "nan"), "%-%-timeout")
  t.matches(usage_message("--remote=yes"), "%-%-remote takes no value")
  t.matches(usage_message("a", "b"), "unexpected argument 'b'")
  t.matches(usage_message("-d", "1", "--data", "2"), "%-%-data was given more than once")
end)

t.case("help is generated from the same table", function()
  local text = cli.help(spec)
  t.matches(text, "Usage: cargo%-lambda demo %[OPTIONS%] %[NAME%]")
  t.matches(text, "%-P, %-%-port <PORT>%s+Port %[default: 9000%]")
  t.matches(text, "%[possible values: text, json%]")
  t.matches(text, "%[alias: %-%-qualifier%]")
  t.matches(text, "%-h, %-%-help")
end)

t.case("help flag", function()
  t.eq(parse("--help").help, true)
  t.eq(parse("-h").help, true)
end)

return t.run()
