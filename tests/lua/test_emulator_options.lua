-- lambda.emulator's door: start's options checked before anything starts (misuse raises naming
-- the field, numbers within watch's bounds), its expected failures with their kinds, the
-- environment parsers' kinds and messages, and stop refused where nothing can wait.
local t = require("testing")
local lambda = require("lambda")
local emulator = require("lambda.emulator")
local fs = require("lambda.fs")

local source_dir = os.getenv("CARGO_LAMBDA_SOURCE_DIR") or (assert(fs.cwd()) .. "/../..")
local FIXTURES = source_dir .. "/fixtures/manifests"

local function start_error(options)
  return tostring(t.raises(emulator.start, options))
end

t.case("every numeric option is checked at the door, naming the field", function()
  local cases = {
    { { port = -1 }, "field 'port' must be from 0 to 65535, got %-1" },
    { { port = 65536 }, "field 'port' must be from 0 to 65535, got 65536" },
    { { port = 9000.5 }, "field 'port' must be an integer, got a float" },
    { { concurrency = 0 }, "field 'concurrency' must be at least 1, got 0" },
    { { max_instances = -3 }, "field 'max_instances' must be at least 1, got %-3" },
    { { timeout = 0 }, "field 'timeout' must be above 0 and at most 4294967295 seconds, got 0" },
    { { timeout = -1 }, "field 'timeout' must be above 0" },
    { { timeout = 0 / 0 }, "field 'timeout' must be above 0" },
    { { timeout = math.huge }, "field 'timeout' must be above 0 and at most 4294967295 seconds" },
    { { timeout = 1e30 }, "field 'timeout' must be above 0 and at most 4294967295 seconds" },
    { { init_timeout = -1 }, "field 'init_timeout' must be above 0 and at most 4294967295" },
    { { init_timeout = 0 }, "field 'init_timeout' must be above 0" },
    { { timeout = "3" }, "field 'timeout' must be a number, got string" },
    { { concurrency = 2.5 }, "field 'concurrency' must be an integer, got a float" },
  }
  for _, case in ipairs(cases) do
    t.matches(start_error(case[1]), "emulator.start: " .. case[2], t.show(case[1]))
  end
end)

t.case("misuse is raised at the caller's line", function()
  local line = debug.getinfo(1, "l").currentline + 1
  local ok, message = pcall(function() emulator.start({ init_timeout = -1 }) end)
  t.eq(ok, false)
  local where = debug.getinfo(1, "S").short_src .. ":" .. line .. ": "
  t.eq(message:sub(1, #where), where, "position of " .. message)
end)

t.case("the header's forms: tls is {cert, key} only, unknown fields raise", function()
  t.matches(start_error({ tls = true }), "field 'tls' must be a table, got boolean")
  t.matches(start_error({ tls = { cert = "c.pem" } }), "field 'tls' must be {cert = path, key")
  t.matches(start_error({ watch = "yes" }), "field 'watch' must be a boolean")
  t.matches(start_error({ on_invocation = true }), "field 'on_invocation' must be a function")
  t.matches(start_error({ timout = 3 }), "unknown field 'timout'")
end)

t.case("numbers within the bounds start an emulator", function()
  local emu = assert(emulator.start({ timeout = 0.5, init_timeout = 4294967295, concurrency = 1,
    max_instances = 1, port = 0, on_output = false }))
  t.eq(math.type(emu.port), "integer")
  emu:stop()
end)

t.case("a project's failures carry lambda.cargo's kind and the field", function()
  local none, message, kind, field = emulator.start({
    project = FIXTURES .. "/missing-member/Cargo.toml" })
  t.eq({ none, kind, field }, { nil, "not_found", "project" })
  t.matches(message, "crates/docs/Cargo.toml: cannot read: No such file or directory")
  none, message, kind, field = emulator.start({ project = FIXTURES .. "/malformed" })
  t.eq({ none, kind, field }, { nil, "input", "project" })
  t.matches(message, "malformed/Cargo.toml: line 3")
end)

t.case("parse_env_file: nil, 'line N: ...', input, N", function()
  t.eq({ emulator.parse_env_file("A=1\nexport B='x y'\n# c\n") }, { { A = "1", B = "x y" } })
  t.eq({ emulator.parse_env_file("A=1\n\nnot a pair\n") },
    { nil, "line 3: expected KEY=VALUE", "input", 3 })
  t.eq({ emulator.parse_env_file('A="open\n') }, { nil, 'line 1: unterminated " quote', "input", 1 })
  t.eq({ emulator.parse_env_file("A=x\0y\n") },
    { nil, "line 1: a NUL byte in the value of A", "input", 1 })
  t.matches(tostring(t.raises(emulator.parse_env_file, 42)),
    "bad argument #1 to 'parse_env_file' %(string expected, got number%)")
end)

t.case("parse_env_var: the item named, no flag; kind input", function()
  t.eq({ emulator.parse_env_var(" A = b ") }, { "A", "b" })
  t.eq({ emulator.parse_env_var("=b") }, { nil, "'=b' is not KEY=VALUE", "input" })
  t.eq({ emulator.parse_env_var("no\nvalue") }, { nil, "'no\\nvalue' is not KEY=VALUE", "input" })
  t.eq({ emulator.parse_env_var("A=x\0") }, { nil, "a NUL byte in the value of A", "input" })
  t.matches(tostring(t.raises(emulator.parse_env_var)),
    "bad argument #1 to 'parse_env_var' %(string expected, got no value%)")
end)

t.case("stop in a loop callback is refused at the caller's line; stop later works", function()
  local emu = assert(emulator.start({ on_output = false }))
  local ok, message, line
  lambda.event.timer(0, function()
    line = debug.getinfo(1, "l").currentline + 1
    ok, message = pcall(function() emu:stop() end)
  end)
  lambda.sleep(0.02)
  t.eq(ok, false)
  local where = debug.getinfo(1, "S").short_src .. ":" .. line .. ": emulator:stop: cannot wait"
  t.eq(message:sub(1, #where), where, "position of " .. tostring(message))
  -- Refused before anything was stopped: the emulator still serves.
  local result = assert(emu:client({ timeout = 5 }):invoke("f", { invocation_type = "DryRun" }))
  t.eq(result.status, 204)
  emu:stop()
end)

return t.run()
