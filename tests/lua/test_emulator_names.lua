-- Function names as the emulator takes them (lambda.emulator.names): AWS's four forms, and
-- AWS's errors for the rest.
local t = require("testing")
local names = require("lambda.emulator.names")

local function parsed(text, qualifier, region)
  local ref, status, kind, message = names.parse(text, qualifier, region or "us-east-1")
  if not ref then
    return { status = status, kind = kind, message = message }
  end
  return ref
end

t.case("the four forms name the function", function()
  t.eq(parsed("my-fn_1"), { name = "my-fn_1" })
  t.eq(parsed("f:live"), { name = "f", qualifier = "live" })
  t.eq(parsed("f:$LATEST"), { name = "f", qualifier = "$LATEST" })
  t.eq(parsed("123456789012:function:f"), { name = "f", account = "123456789012" })
  t.eq(parsed("123456789012:function:f:7"), { name = "f", qualifier = "7",
    account = "123456789012" })
  t.eq(parsed("arn:aws:lambda:us-east-1:123456789012:function:f"),
    { name = "f", region = "us-east-1", account = "123456789012" })
  t.eq(parsed("arn:aws-cn:lambda:cn-north-1:123456789012:function:f:blue", nil, "cn-north-1"),
    { name = "f", qualifier = "blue", region = "cn-north-1", account = "123456789012" })
end)

t.case("the Qualifier parameter", function()
  t.eq(parsed("f", "live"), { name = "f", qualifier = "live" })
  t.eq(parsed("f", ""), { name = "f" })
  t.eq(parsed("f:live", "live"), { name = "f", qualifier = "live" })
  local conflict = parsed("f:live", "prod")
  t.eq({ conflict.status, conflict.kind }, { 400, "InvalidParameterValueException" })
  t.eq(conflict.message,
    "The derived qualifier from the function name does not match the specified qualifier.")
  local bad = parsed("f", "a b")
  t.eq({ bad.status, bad.kind }, { 400, "ValidationException" })
  t.matches(bad.message, "^1 validation error detected: Value 'a b' at 'qualifier' failed to "
    .. "satisfy constraint: Member must satisfy regular expression pattern: ", "message")
end)

t.case("lengths: 64 for a name, 128 for a qualifier, 170 in all", function()
  t.eq(parsed(string.rep("n", 64)), { name = string.rep("n", 64) })
  t.eq(parsed(string.rep("n", 65)).kind, "ValidationException")
  t.eq(parsed("f", string.rep("q", 128)).qualifier, string.rep("q", 128))
  t.eq(parsed("f", string.rep("q", 129)).kind, "ValidationException")
  local long = "f:" .. string.rep("q", 169)
  t.matches(parsed(long).message, "Member must have length less than or equal to 170$")
end)

t.case("everything else is a ValidationException naming the value", function()
  for _, text in ipairs({ "a\0b", "a\r\nb", "a b", "a/b", "a.b", "f:", ":f", "f:a:b",
    "f:a b", "12345678901:function:f", "arn:aws:lambda:us-east-1:1:function:f",
    "arn:aws:lambda:us-east:123456789012:function:f", "arn:aws:s3:::bucket",
    "arn:aws:lambda:us-east-1:123456789012:layer:f", "" }) do
    local result = parsed(text)
    t.eq({ result.status, result.kind }, { 400, "ValidationException" }, text)
    t.eq(result.message:find("Value '" .. text .. "' at 'functionName'", 1, true) ~= nil, true,
      text)
  end
end)

t.case("an ARN of another region is not found, as AWS answers", function()
  local result = parsed("arn:aws:lambda:eu-west-1:123456789012:function:f")
  t.eq(result, { status = 404, kind = "ResourceNotFoundException",
    message = "Functions from 'eu-west-1' are not reachable in this region ('us-east-1')" })
end)

t.case("query_parameter", function()
  t.eq(names.query_parameter("a=1&Qualifier=live%241", "Qualifier"), "live$1")
  t.eq(names.query_parameter("Qualifier", "Qualifier"), "")
  t.eq(names.query_parameter(nil, "Qualifier"), nil)
  t.eq(names.query_parameter("qualifier=x", "Qualifier"), nil)
end)

return t.run()
