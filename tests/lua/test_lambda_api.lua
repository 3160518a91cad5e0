-- The public entry point, require "lambda": clients on an emulator started in this process,
-- the one result shape (ok, function, service and transport errors), input problems as
-- nil, message, kind, field, invoke_all in request order, and misuse raising.
local t = require("testing")
local lambda = require("lambda")

local BIN = os.getenv("CARGO_LAMBDA_BIN")
local PROBE = "../../fixtures/functions/probe.lua"

local emulator

local function started()
  if not emulator then
    emulator = assert(lambda.emulator.start({ command = { BIN, "run", PROBE },
      on_output = false, concurrency = 4 }))
  end
  return emulator
end

t.case("the entry point loads its modules on first use", function()
  t.eq(type(lambda.version), "string")
  t.eq(lambda.json, require("lambda.json"))
  t.eq(lambda.http, require("lambda.http"))
  t.eq(lambda.nothing_like_this, nil)
end)

t.case("lambda.executable is this binary, read when first asked for", function()
  local build = require("lambda.build")
  t.eq(rawget(build, "executable"), nil)
  local executable = lambda.executable
  t.eq(rawget(build, "executable"), executable)
  t.eq(lambda.executable, executable)
  local version = assert(io.popen("'" .. executable .. "' --version"))
  t.eq(version:read("l"), "cargo-lambda " .. lambda.version)
  version:close()
end)

t.case("an emulator in this process: address, port, url, client, invoke", function()
  local emu = started()
  t.eq(emu.address, "127.0.0.1")
  t.eq(math.type(emu.port), "integer")
  t.eq(emu.url, "http://127.0.0.1:" .. emu.port)
  local client = emu:client()
  local before = require("lambda.time").monotonic()
  local result = client:invoke("probe", { payload = { action = "echo", n = 1 } })
  local after = require("lambda.time").monotonic()
  t.eq(result.ok, true, tostring(result))
  -- duration ends when the engine had the whole answer
  local received = result.response.received_at
  t.eq(before <= received - result.duration and received <= after, true)
  t.eq(result.status, 200)
  t.eq(result:json().event, { action = "echo", n = 1 })
  t.eq(result:json() == result:json(), true, "decoded once, cached")
  t.eq(type(result.request_id), "string")
  t.eq(result.executed_version, "$LATEST")
  t.eq(result.duration > 0 and result.duration < 10, true)
  t.eq(result.error, nil)
  t.eq(emu:functions(), { "probe" })
end)

t.case("one-shot lambda.invoke with a string payload and a log tail", function()
  local emu = started()
  local result = lambda.invoke({ name = "probe", address = "127.0.0.1", port = emu.port,
    tls = false, payload = '{"action":"log","lines":["hello"]}', log_type = "Tail" })
  t.eq(result.ok, true, tostring(result))
  t.matches(result.log, "hello")
end)

t.case("a function error is a result, with its type and message", function()
  local result = started():client():invoke("probe", { payload = { action = "fail",
    message = "no way" } })
  t.eq(result.ok, false)
  t.eq(result.status, 200)
  t.eq(result.error.source, "function")
  t.eq(result.error.type, "Runtime.HandlerError")
  t.matches(result.error.message, "no way")
  t.matches(result.error.line, "^Runtime.HandlerError: ")
end)

t.case("a service error is a result: a name AWS would refuse", function()
  local result = started():client():invoke("bad name!", {})
  t.eq(result.ok, false)
  t.eq(result.status, 400)
  t.eq(result.error.source, "service")
  t.eq(result.error.type, "ValidationException")
end)

t.case("a transport error is a result: nothing listens there", function()
  local client = assert(lambda.client({ address = "127.0.0.1", port = 1, tls = false }))
  local result = client:invoke("f", {})
  t.eq(result.ok, false)
  t.eq(result.status, nil)
  t.eq(result.error.source, "transport")
  t.eq({ result.error.type, result.error.detail }, { "transport", "refused" })
end)

t.case("input problems are nil, message, kind, field; nothing is sent", function()
  local client = started():client()
  local result, message, kind, field = client:invoke("probe", { client_context = "{oops" })
  t.eq({ result, kind, field }, { nil, "input", "client_context" })
  t.matches(message, "^client_context: not JSON")
  result, message, kind, field = client:invoke("probe", { invocation_type = "Later" })
  t.eq({ result, kind, field }, { nil, "input", "invocation_type" })
  result, message, kind, field = client:invoke("", {})
  t.eq({ result, kind, field }, { nil, "input", "name" })
  result, message, kind, field = lambda.client({ address = "no such host name..", tls = false })
  t.eq({ result, kind, field }, { nil, "input", "address" })
  result, message, kind, field = client:invoke(nil, { manifest = "/nonexistent/Cargo.toml" })
  t.eq({ result, kind, field }, { nil, "not_found", "manifest" })
  result, message, kind, field = lambda.emulator.start({ project = "/nonexistent" })
  t.eq({ result, kind, field }, { nil, "not_found", "project" })
end)

t.case("invoke_all answers in request order, several at a time", function()
  local requests = {}
  for i = 1, 12 do
    requests[i] = { name = "probe", payload = { action = "echo", i = i } }
  end
  local results = assert(started():client():invoke_all(requests, { concurrency = 4 }))
  t.eq(#results, 12)
  for i, result in ipairs(results) do
    t.eq(result.ok, true, tostring(result))
    t.eq(result:json().event.i, i)
  end
  local none, message, kind = started():client():invoke_all({ { name = "probe" },
    { name = "probe", invocation_type = "Never" } })
  t.eq(none, nil)
  t.eq(kind, "input")
  t.matches(message, "^request 2: invocation_type")
end)

t.case("misuse raises, naming the field", function()
  t.matches(tostring(t.raises(lambda.client, { port = "9000" })), "field 'port' must be an integer")
  t.matches(tostring(t.raises(lambda.client, { colour = "red" })), "unknown field 'colour'")
  t.matches(tostring(t.raises(lambda.client, { remote = true, port = 1 })),
    "field 'port' is for the local emulator")
  local client = assert(lambda.client({ tls = false }))
  t.matches(tostring(t.raises(client.invoke, client, "f", { payload = 42 })),
    "field 'payload' must be a string or table")
  t.matches(tostring(t.raises(client.invoke, client, "f", { identity = { id = "x" } })),
    "field 'identity'")
  t.matches(tostring(t.raises(lambda.emulator.start, { command = {}, project = "x" })),
    "either 'project' or 'command'")
end)

t.case("stop ends the functions and closes the port", function()
  local emu = started()
  emu:stop()
  local result = lambda.invoke({ name = "probe", address = "127.0.0.1", port = emu.port,
    tls = false })
  t.eq(result.error.source, "transport")
  emulator = nil
end)

return t.run()
