-- Pure helpers behind invoke: URL building, error bodies, example names.
local t = require("testing")
local url = require("lambda.url")
local function_error = require("lambda.function_error")
local invoke = require("lambda.invoke")

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

t.case("local invoke URL", function()
  t.eq(invoke.local_url({ name = "f n", port = 9001, address = "::1" }),
    "http://[::1]:9001/2015-03-31/functions/f%20n/invocations")
  t.eq(invoke.local_url({ https = true }),
    "https://localhost:9000/2015-03-31/functions/_/invocations")
end)

t.case("function error bodies", function()
  local _, line = function_error.describe(200, '{"errorType":"&&str","errorMessage":"boom"}')
  t.eq(line, "str: boom")
  _, line = function_error.describe(404, '{"title":"Missing function","detail":"x"}')
  t.eq(line, "Missing function: x")
  _, line = function_error.describe(500, '{"errorMessage":"only a message"}')
  t.eq(line, "only a message")
  _, line = function_error.describe(500, "")
  t.eq(line, "HTTP 500 with an empty body")
  _, line = function_error.describe(502, "line1\nline2")
  t.eq(line, "HTTP 502 with a body that is not a Lambda error: line1 line2")
  _, line = function_error.describe(500, '["not", "an", "object"]')
  t.matches(line, "^HTTP 500")
  _, line = function_error.describe(500, string.rep("x", 500))
  t.eq(#line < 300, true, "excerpt is short")
end)

t.case("example names", function()
  local examples = require("lambda.examples")
  for _, name in ipairs({ "apigw-request", "apigw-request.json", "example-apigw-request",
    "example-apigw-request.json" }) do
    t.eq(examples.normalize(name), "example-apigw-request.json", name)
  end
  t.eq(examples.normalize("sqs_event"), "example-sqs_event.json")
end)

return t.run()
