-- Helpers behind invoke: URL building and address checks, error bodies, example names, payload
-- limits, quoting of user input in messages.
local t = require("testing")
local url = require("lambda.url")
local errors = require("lambda.client.errors")
local client = require("lambda.client")

t.case("path segments keep only unreserved characters", function()
  t.eq(url.encode_segment("basic-lambda_1.x~"), "basic-lambda_1.x~")
  t.eq(url.encode_segment("fn:alias"), "fn%3Aalias")
  t.eq(url.encode_segment("a b/c%"), "a%20b%2Fc%25")
  t.eq(url.encode_segment("arn:aws:lambda:us-east-1:123456789012:function:f"),
    "arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Af")
end)

t.case("hosts", function()
  t.eq(url.format_host("::1"), "[::1]")
  t.eq(url.format_host("127.0.0.1"), "127.0.0.1")
  t.eq(url.check_host("[::1]"), "::1")
  t.eq(url.check_host("localhost"), "localhost")
  t.eq(select(2, url.check_host("a/b")) ~= nil, true)
  t.eq(select(2, url.check_host("")) ~= nil, true)
  t.eq(select(2, url.check_host("::g")) ~= nil, true)
end)

t.case("IPv6 and IPv4 literals are checked, ports are refused", function()
  for _, good in ipairs({ "::", "::1", "1::", "fe80::1", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7::",
    "::2:3:4:5:6:7:8", "::ffff:192.0.2.1", "1:2:3:4:5:6:192.0.2.1", "::1:9000" }) do
    t.eq(url.check_host(good), good, good)
    t.eq(url.check_host("[" .. good .. "]"), good, "[" .. good .. "]")
  end
  local function reason(address)
    return select(2, url.check_host(address))
  end
  for _, bad in ipairs({ "::::", ":::", "1:::2", "1::2::3", "1:2:3:4:5:6:7:8:9",
    "1:2:3:4:5:6:7:8::", "12345::1", "::1.2.3", "::256.1.1.1", "[::g]" }) do
    t.eq(reason(bad), "it is not a valid IPv6 address", bad)
  end
  t.eq(reason("fe80::1%eth0"), "IPv6 zone ids (%...) are not supported")
  for _, bad in ipairs({ "999.1.1.1", "1.2.3", "01.2.3.4", "1.2.3.4.5", "12345" }) do
    t.eq(reason(bad), "it is not a valid IPv4 address", bad)
  end
  for _, with_port in ipairs({ "127.0.0.1:9102", "localhost:9000", "[::1]:9000",
    "example.com:80" }) do
    t.eq(reason(with_port), "it has a port: give the port on its own", with_port)
  end
  for _, bad in ipairs({ "http://x/", "a b", "-a.com", "a..b", "a_b", "[localhost]",
    string.rep("a", 64) .. ".com" }) do
    t.matches(reason(bad), "^", bad)
    t.eq(url.check_host(bad), nil, bad)
  end
  t.eq(url.check_host("a-b.example.com."), "a-b.example.com.")
  t.eq(url.check_host("192.0.2.1"), "192.0.2.1")
end)

t.case("user input is escaped in messages", function()
  local text = require("lambda.text")
  t.eq(text.quote("a\r\nb"), "'a\\r\\nb'")
  t.eq(text.quote("tab\there\0\27[2J\127"), "'tab\\there\\x00\\x1b[2J\\x7f'")
  t.eq(text.escape("plain 'text' \195\169"), "plain 'text' \195\169")
  t.eq(text.quote(""), "''")
end)

t.case("payload limits are AWS's, refused before anything is sent", function()
  t.eq(client.MAX_SYNC_PAYLOAD, 6291456)
  t.eq(client.MAX_EVENT_PAYLOAD, 1048576)
  t.eq(client.payload_limit(nil), 6291456)
  t.eq(client.payload_limit("DryRun"), 6291456)
  t.eq(client.payload_limit("Event"), 1048576)
  -- Port 1 is closed: had anything been sent, the result would be a transport error.
  local local_client = assert(client.new({ address = "127.0.0.1", port = 1, tls = false }))
  local result, problem, kind, field = local_client:invoke("f",
    { payload = string.rep("x", 6291457) })
  t.eq({ result, kind, field }, { nil, "input", "payload" })
  t.eq(problem, "payload: 6291457 bytes is over the 6 MB limit (6291456 bytes) for "
    .. "RequestResponse invocations")
  result, problem, kind = local_client:invoke("f", { payload = string.rep("x", 1048577),
    invocation_type = "Event" })
  t.eq(kind, "input")
  t.matches(problem, "1 MB limit %(1048576 bytes%) for Event")
  local at_limit = local_client:invoke("f", { payload = string.rep("x", 1048576),
    invocation_type = "Event" })
  t.eq(at_limit.error.source, "transport", "at the limit it is sent")
  local remote = assert(client.new({ remote = true, endpoint_url = "http://127.0.0.1:1",
    region = "us-east-1", credentials = { access_key_id = "AKID", secret_access_key = "s" } }))
  result, problem, kind = remote:invoke("f", { payload = string.rep("x", 1048577),
    invocation_type = "Event" })
  t.eq(result, nil)
  t.eq(kind, "input")
  t.matches(problem, "1 MB limit %(1048576 bytes%) for Event")
end)

t.case("--data-ascii over the limit exits 2 before connecting", function()
  local command = require("cargo_lambda.commands.invoke")
  local options = { data_ascii = string.rep("x", 1048577), invocation_type = "Event",
    invoke_address = "127.0.0.1", invoke_port = 1, output_format = "text" }
  t.eq(command.run(options, {}), 2)
  options.data_ascii = "{}"
  t.eq(command.run(options, {}), 3, "the same flags with a small payload reach the port")
end)

t.case("local invoke URL", function()
  local emulator = require("lambda.client.emulator")
  t.eq(assert(emulator.new({ port = 9001, address = "::1", tls = false })):url("f n"),
    "http://[::1]:9001/2015-03-31/functions/f%20n/invocations")
end)

t.case("function error bodies", function()
  local function line(status, body)
    return errors.describe(status, body).line
  end
  t.eq(line(200, '{"errorType":"&&str","errorMessage":"boom"}'), "str: boom")
  t.eq(errors.describe(200, '{"errorType":"&&str","errorMessage":"boom"}').type, "str")
  t.eq(line(404, '{"title":"Missing function","detail":"x"}'), "Missing function: x")
  t.eq(line(500, '{"errorMessage":"only a message"}'), "only a message")
  t.eq(line(500, ""), "HTTP 500 with an empty body")
  t.eq(line(502, "line1\nline2"), "HTTP 502 with a body that is not a Lambda error: line1 line2")
  t.matches(line(500, '["not", "an", "object"]'), "^HTTP 500")
  t.eq(#line(500, string.rep("x", 500)) < 300, true, "excerpt is short")
end)

t.case("service error answers", function()
  local service = errors.service(404, { ["x-amzn-errortype"] = "ResourceNotFoundException:http://x" },
    '{"Type":"User","message":"Function not found:\\n f"}')
  t.eq({ service.type, service.message, service.line }, { "ResourceNotFoundException",
    "Function not found: f", "ResourceNotFoundException: Function not found: f" })
  t.eq(errors.service(400, {}, '{"__type":"ns#Bad","Message":"m"}').line, "Bad: m")
  t.eq(errors.service(503, {}, "").line, "HTTP 503 with an empty body")
end)

t.case("example names", function()
  local examples = require("lambda.examples")
  for _, name in ipairs({ "apigw-request", "apigw-request.json", "example-apigw-request",
    "example-apigw-request.json" }) do
    t.eq(examples.normalize(name), "example-apigw-request.json", name)
  end
  t.eq(examples.normalize("sqs_event"), "example-sqs_event.json")
  for _, good in ipairs({ "apigw-request", "sqs_event.json", "v2.0", string.rep("n", 240) }) do
    t.eq(examples.name_problem(good), nil, good)
  end
  for _, bad in ipairs({ "", "a b", "a/b", "a\\b", "..", "a..b", "a?b", "%2e", "a\nb",
    string.rep("n", 241) }) do
    t.matches(examples.name_problem(bad), ".", bad)
    local data, message, kind = examples.fetch(bad, { skip_cache = true })
    t.eq(data, nil, bad)
    t.eq(kind, "input", bad)
    t.eq(message:find("[\r\n]"), nil, "one line for " .. bad)
  end
end)

return t.run()
