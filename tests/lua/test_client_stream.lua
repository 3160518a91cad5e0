-- client:invoke's stream option (InvokeWithResponseStream): chunks to a function as they
-- arrive or joined into the body, first_byte, how a stream ends (InvokeComplete with or without
-- ErrorCode, an exception message), a damaged stream as a transport failure, and the
-- invoke_all checks made before anything is sent. The functions run under an emulator started
-- here (fixtures/functions/stream_function.py); damaged streams come from a server of this
-- script (lambda.event).
local t = require("testing")
local lambda = require("lambda")
local eventstream = require("lambda.eventstream")

local STREAM_FUNCTION = "../../fixtures/functions/stream_function.py"

local emulator

local function client()
  if not emulator then
    emulator = assert(lambda.emulator.start({ command = { "python3", STREAM_FUNCTION },
      on_output = false, concurrency = 2 }))
  end
  return emulator:client()
end

t.case("chunks go to the function in order, as they come; body is nil", function()
  local chunks = {}
  local result = client():invoke("streamer", {
    payload = { mode = "stream", chunks = { "first ", "second ", "last" }, pause = 0.05 },
    stream = function(chunk)
      chunks[#chunks + 1] = chunk
    end,
  })
  t.eq(result.ok, true, tostring(result))
  t.eq(table.concat(chunks), "first second last")
  t.eq(#chunks >= 2, true, "several chunks")
  t.eq(result.body, nil)
  t.eq(result.status, 200)
  t.eq(type(result.request_id), "string")
  t.eq(result.executed_version, "$LATEST")
  t.eq(type(result.first_byte), "number")
  -- The first chunk came before the two pauses of the function were over.
  t.eq(result.first_byte < result.duration - 0.05, true,
    string.format("first_byte %.3f, duration %.3f", result.first_byte, result.duration))
  t.eq(result.url:match("/2021%-11%-15/functions/streamer/response%-streaming%-invocations$")
    ~= nil, true, result.url)
end)

t.case("stream = true joins the chunks into the body", function()
  local result = client():invoke("streamer", {
    payload = { mode = "stream", chunks = { "a", "b", "c" } }, stream = true })
  t.eq(result.ok, true, tostring(result))
  t.eq(result.body, "abc")
  t.eq(result:json(), nil)
end)

t.case("a function that does not stream still answers, as one chunk", function()
  local result = client():invoke("streamer", { payload = { mode = "buffered", tag = "whole" },
    stream = true })
  t.eq(result.ok, true, tostring(result))
  t.eq(result:json().event, { mode = "buffered", tag = "whole" })
end)

t.case("InvokeComplete with an ErrorCode is the function's error; chunks before it stay", function()
  local result = client():invoke("streamer", { stream = true, payload = {
    mode = "stream_error", chunks = { "partial " }, error_type = "Stream.Broke",
    error_message = "the stream broke\nhalfway" } })
  t.eq(result.ok, false)
  t.eq(result.status, 200)
  t.eq(result.body, "partial ")
  t.eq(result.error.source, "function")
  t.eq(result.error.type, "Stream.Broke")
  t.matches(result.error.message, "the stream broke halfway")
  t.eq(result.error.line, "Stream.Broke: " .. result.error.message)
  result = client():invoke("streamer", { stream = true, payload = { mode = "fail",
    error_type = "Plain.Failure", error_message = "no stream at all" } })
  t.eq({ result.ok, result.error.type, result.body, result.first_byte },
    { false, "Plain.Failure", "", nil })
end)

t.case("the log tail comes from InvokeComplete", function()
  local marker = "streamedlog" .. tostring(os.time())
  local result = client():invoke("streamer", { stream = true, log_type = "Tail",
    payload = { mode = "print", lines = { marker }, settle = 0.2 } })
  t.eq(result.ok, true, tostring(result))
  t.matches(result.log, marker)
end)

t.case("a service error before the stream is a service error", function()
  local result = client():invoke("bad name!", { stream = true })
  t.eq(result.ok, false)
  t.eq({ result.status, result.error.source, result.error.type },
    { 400, "service", "ValidationException" })
end)

t.case("an error in the chunk function is raised by invoke", function()
  local err = t.raises(client().invoke, client(), "streamer", {
    payload = { mode = "stream", chunks = { "x", "y" } },
    stream = function()
      error({ stopped = true })
    end,
  })
  t.eq(err, { stopped = true })
end)

t.case("Event cannot stream; misuse raises", function()
  local result, message, kind, field = client():invoke("streamer", { stream = true,
    invocation_type = "Event" })
  t.eq({ result, kind, field }, { nil, "input", "stream" })
  t.matches(message, "^stream: an Event invocation")
  t.matches(tostring(t.raises(client().invoke, client(), "f", { stream = "yes" })),
    "field 'stream' must be a boolean or function")
end)

-- A server of this script answering every request with the given bytes as an event stream.
local function serve(bytes)
  local server = assert(lambda.event.http_server({ handler = function(request)
    request:start_stream(200, { { "Content-Type", "application/vnd.amazon.eventstream" } })
    request:send_chunk(bytes)
    request:finish_stream()
  end }))
  return server, assert(lambda.client({ address = "127.0.0.1", port = server:port(),
    tls = false }))
end

local CHUNK = eventstream.encode({ { ":event-type", 7, "PayloadChunk" },
  { ":message-type", 7, "event" } }, "hello")
local COMPLETE = eventstream.encode({ { ":event-type", 7, "InvokeComplete" },
  { ":message-type", 7, "event" } }, "{}")

t.case("a damaged stream is a transport failure naming the fault", function()
  local damaged = CHUNK:sub(1, -2) .. string.char(CHUNK:byte(-1) ~ 1)
  local cases = {
    { damaged .. COMPLETE, "corrupt event stream: message CRC mismatch at byte 0" },
    { CHUNK .. COMPLETE:sub(1, 20), "corrupt event stream: the stream ended inside a message" },
    { CHUNK, "corrupt event stream: the stream ended without an InvokeComplete message" },
    { CHUNK .. eventstream.encode({ { ":event-type", 7, "InvokeComplete" } }, "not json"),
      "corrupt event stream: InvokeComplete does not hold a JSON object" },
  }
  for index, case in ipairs(cases) do
    local server, c = serve(case[1])
    local result = c:invoke("f", { stream = true })
    server:close()
    t.eq(result.ok, false, "case " .. index)
    t.eq({ result.error.source, result.error.type }, { "transport", "transport" })
    t.matches(result.error.message, "^http://127%.0%.0%.1:%d+/2021%-11%-15/functions/f/"
      .. "response%-streaming%-invocations: ", "names the URL")
    t.matches(result.error.message, case[2], "the fault")
  end
end)

t.case("an exception message is a service error", function()
  local exception = eventstream.encode({ { ":message-type", 7, "exception" },
    { ":exception-type", 7, "ServiceException" } }, '{"message":"it broke"}')
  local server, c = serve(CHUNK .. exception)
  local result = c:invoke("f", { stream = true })
  server:close()
  t.eq({ result.ok, result.error.source, result.error.type, result.error.line, result.body },
    { false, "service", "ServiceException", "ServiceException: it broke", "hello" })
end)

t.case("invoke_all: misuse names the request; input problems before sending", function()
  local c = client()
  t.matches(tostring(t.raises(c.invoke_all, c, { { name = "a" }, { name = "b", colour = 1 } })),
    "invoke_all: request 2: unknown field 'colour'")
  t.matches(tostring(t.raises(c.invoke_all, c, { { name = "a" }, { name = 7 } })),
    "invoke_all: request 2: the function name must be")
  local remote = assert(lambda.client({ remote = true, region = "us-east-1",
    endpoint_url = "http://127.0.0.1:1", credentials = { access_key_id = "AKID",
      secret_access_key = "secret" } }))
  local big = { custom = { k = string.rep("x", 2700) } }
  local results, message, kind, field = remote:invoke_all({ { name = "f" },
    { name = "f", client_context = big } })
  t.eq({ results, kind, field }, { nil, "input", "client_context" })
  t.matches(message, "^request 2: client_context: the client context is %d+ bytes in base64")
  local result
  result, message, kind, field = remote:invoke("f", { client_context = big })
  t.eq({ result, kind, field }, { nil, "input", "client_context" })
end)

local outcome = t.run()
if emulator then
  emulator:stop()
end
return outcome
