-- lambda.test: what scenario specs run by `cargo-lambda test` (busted) get besides the
-- library: assertions about invocations, and a fixture that starts the emulator for the
-- project's functions once per spec file. Documented in docs/testing.md.
--
--   local lambda = require("lambda")
--   local fixture = lambda.test.fixture()      -- the emulator, or the deployed functions
--   describe("hello", function()
--     it("greets", function()
--       local result = lambda.invoke{name = "hello", payload = {name = "Ada"}}
--       assert.invoked(result)
--       assert.json_equal({message = "Hello, Ada"}, result)
--     end)
--   end)
--
-- Assertions (luassert; each also has its `is_not` form):
--   assert.invoked(result)                   the invocation succeeded
--   assert.function_error(result[, type])    the function failed (with this errorType)
--   assert.service_error(result[, type])     the service refused it (with this type)
--   assert.json_equal(expected, actual)      the same JSON value; expected and actual are a
--                                            table, JSON text or a result (its body);
--                                            a failure shows both documents and where they differ
--   assert.faster_than(seconds, result)      result.duration below seconds
local M = {}

local function describe_result(result)
  if type(result) ~= "table" then
    return "not an invocation result: " .. tostring(result)
  elseif result.ok then
    return string.format("it succeeded (status %s): %s", tostring(result.status),
      (result.body or ""):sub(1, 200))
  elseif result.error then
    return string.format("%s error: %s", result.error.source, result.error.line or "")
  end
  return "a result without an outcome"
end

-- The JSON value of a table, JSON text or result; or nil, why.
local function json_value(value)
  local json = require("lambda.json")
  if type(value) == "table" and getmetatable(value) and getmetatable(value).__name == "lambda.result" then
    local decoded, message = value:json()
    if decoded == nil and message then
      return nil, message
    end
    return decoded
  elseif type(value) == "string" then
    local decoded, message = json.decode(value)
    if decoded == nil and message then
      return nil, "not JSON: " .. message
    end
    return decoded
  end
  return value
end

-- Pretty JSON lines of a value (keys in order, so that two documents line up).
local function pretty_lines(value)
  local json = require("lambda.json")
  local ok, text = pcall(json.encode, value)
  if not ok then
    return { tostring(value) }
  end
  local lines = {}
  for line in (json.pretty(text) or text):gmatch("[^\n]+") do
    lines[#lines + 1] = line
  end
  return lines
end

-- A short diff of two line lists: the common lines around the first difference, then the
-- lines of each side that differ ("-" expected, "+" actual).
function M.diff(expected_lines, actual_lines)
  local first = 1
  while first <= #expected_lines and first <= #actual_lines
    and expected_lines[first] == actual_lines[first] do
    first = first + 1
  end
  local last_e, last_a = #expected_lines, #actual_lines
  while last_e >= first and last_a >= first and expected_lines[last_e] == actual_lines[last_a] do
    last_e, last_a = last_e - 1, last_a - 1
  end
  local out = {}
  for i = math.max(1, first - 3), first - 1 do
    out[#out + 1] = "  " .. expected_lines[i]
  end
  for i = first, last_e do
    out[#out + 1] = "- " .. expected_lines[i]
  end
  for i = first, last_a do
    out[#out + 1] = "+ " .. actual_lines[i]
  end
  for i = last_e + 1, math.min(#expected_lines, last_e + 3) do
    out[#out + 1] = "  " .. expected_lines[i]
  end
  return table.concat(out, "\n")
end

local function deep_equal(a, b)
  if type(a) ~= type(b) then
    return false
  end
  if type(a) ~= "table" then
    return a == b -- numbers by value: the JSON numbers 1 and 1.0 are equal, as in Lua
  end
  for k, v in pairs(a) do
    if not deep_equal(v, b[k]) then
      return false
    end
  end
  for k in pairs(b) do
    if a[k] == nil then
      return false
    end
  end
  return true
end

-- Registers the assertions with luassert (the test command does it before the specs run).
function M.register_assertions()
  local assert = require("luassert")
  local say = require("say")

  local function register(name, check, positive, negative)
    say:set("assertion." .. name .. ".positive", positive)
    say:set("assertion." .. name .. ".negative", negative)
    assert:register("assertion", name, check, "assertion." .. name .. ".positive",
      "assertion." .. name .. ".negative")
  end

  register("invoked", function(state, arguments)
    local result = arguments[1]
    state.failure_message = arguments[2]
      or ("Expected the invocation to succeed, but " .. describe_result(result))
    return type(result) == "table" and result.ok == true
  end, "Expected the invocation to succeed", "Expected the invocation to fail")

  local function error_check(source)
    return function(state, arguments)
      local result, wanted = arguments[1], arguments[2]
      local problem = type(result) == "table" and result.error
      local matched = problem and problem.source == source
        and (wanted == nil or problem.type == wanted)
      state.failure_message = arguments[3] or string.format("Expected a %s error%s, but %s",
        source, wanted and (" of type " .. tostring(wanted)) or "", describe_result(result))
      return matched and true or false
    end
  end
  register("function_error", error_check("function"), "Expected a function error",
    "Expected no function error")
  register("service_error", error_check("service"), "Expected a service error",
    "Expected no service error")

  register("json_equal", function(state, arguments)
    local expected, problem = json_value(arguments[1])
    if problem then
      state.failure_message = "the expected value is " .. problem
      return false
    end
    local actual, actual_problem = json_value(arguments[2])
    if actual_problem then
      state.failure_message = "the actual value is " .. actual_problem
      return false
    end
    local same = deep_equal(expected, actual)
    if not same then
      state.failure_message = arguments[3] or ("The JSON documents differ (- expected, + actual):\n"
        .. M.diff(pretty_lines(expected), pretty_lines(actual)))
    end
    return same
  end, "Expected the JSON documents to be equal", "Expected the JSON documents to differ")

  register("faster_than", function(state, arguments)
    local seconds, result = arguments[1], arguments[2]
    local took = type(result) == "table" and result.duration
    state.failure_message = arguments[3] or string.format(
      "Expected the invocation to take less than %.6g s, it took %s", tonumber(seconds) or 0,
      took and string.format("%.6f s", took) or "(no duration: " .. describe_result(result) .. ")")
    return type(took) == "number" and took < seconds
  end, "Expected the invocation to be faster", "Expected the invocation to be slower")
end

-- What the test command chose for the specs (set_target): remote or local, and how to reach it.
local target = { remote = false }
-- Fixtures started and not stopped yet.
local running = {}

-- The test command's flags: {remote = true, region, profile, qualifier} or {address, port}.
function M.set_target(options)
  target = options
  local defaults = {}
  for key, value in pairs(options) do
    if key ~= "qualifier" then
      defaults[key] = value
    end
  end
  require("lambda.client").set_defaults(defaults, { qualifier = options.qualifier })
end

-- fixture([emulator options]) -> {client, emulator, remote}: in a spec file, the functions to
-- test. Against the deployed functions (--remote) nothing starts; against a running emulator
-- (--invoke-address/--invoke-port) neither; else the emulator starts now for the project
-- around the current directory (or as the options say), and stops when the file's tests are
-- over, whatever happened (the test command stops it at the end of the file). lambda.invoke{}
-- calls without an address then go to it.
function M.fixture(options)
  local lambda = require("lambda")
  if target.remote or target.address or target.port then
    return { client = assert(lambda.client(require("lambda.client").defaults())),
      remote = target.remote }
  end
  local settings = { on_output = false }
  for key, value in pairs(options or {}) do
    settings[key] = value
  end
  if settings.project == nil and settings.command == nil then
    settings.project = true
  end
  local emulator, message = lambda.emulator.start(settings)
  if not emulator then
    error("lambda.test.fixture: cannot start the emulator: " .. message, 2)
  end
  local previous = require("lambda.client").defaults()
  require("lambda.client").set_defaults({ address = emulator.reachable, port = emulator.port,
    tls = false }, { qualifier = target.qualifier })
  local fixture = { client = emulator:client(), emulator = emulator, remote = false }
  function fixture.stop()
    if not fixture.stopped then
      fixture.stopped = true
      require("lambda.client").set_defaults(previous)
      emulator:stop()
    end
  end
  running[#running + 1] = fixture
  return fixture
end

-- Stops the fixtures still running: the test command calls it at the end of each spec file
-- and of the run. now: without waiting (Ctrl-C, from a signal handler of the loop).
function M.stop_fixtures(now)
  local list = running
  running = {}
  for i = #list, 1, -1 do
    if now then
      list[i].emulator:kill()
    else
      list[i].stop()
    end
  end
end

return M
