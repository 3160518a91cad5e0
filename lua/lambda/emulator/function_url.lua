-- Internal to lambda.emulator (not part of the public API; see docs/scripting.md).
-- Function URLs: an HTTP request to /lambda-url/<function>/<path> becomes an API Gateway
-- HTTP API v2 (payload format 2.0) event, and the function's answer becomes the HTTP response,
-- as AWS Lambda function URLs do. Unlike the original emulator: the real method, timeEpoch in
-- milliseconds, and every value of repeated headers (joined with commas, as AWS does).
local crypto = require("lambda.crypto")
local json = require("lambda.json")

local M = {}

local MONTHS = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
  "Dec" }

local function percent_decode(text)
  return (text:gsub("+", " "):gsub("%%(%x%x)", function(hex)
    return string.char(tonumber(hex, 16))
  end))
end

-- "/lambda-url/<name>" or "/lambda-url/<name>/<rest>" -> name (percent-decoded), "/<rest>".
function M.split_path(path)
  local name, rest = path:match("^/lambda%-url/([^/?]*)(.*)$")
  if not name then
    return nil
  end
  if rest == "" then
    rest = "/"
  end
  return percent_decode(name), rest
end

local function query_parameters(query)
  if not query or query == "" then
    return nil
  end
  local parameters, any = {}, false
  for pair in query:gmatch("[^&]+") do
    local key, value = pair:match("^([^=]*)=?(.*)$")
    key, value = percent_decode(key), percent_decode(value)
    parameters[key] = parameters[key] and (parameters[key] .. "," .. value) or value
    any = true
  end
  return any and parameters or nil
end

local function is_text(content_type)
  if not content_type then
    return true
  end
  content_type = content_type:lower()
  return content_type:find("^text/") or content_type:find("json") or content_type:find("xml")
    or content_type:find("x%-www%-form%-urlencoded") or content_type:find("javascript")
end

-- request: {method, path (after the function prefix), query, header_list, body, peer};
-- returns the event as JSON text.
function M.event(request, function_name, request_id, now)
  local headers, cookies = {}, nil
  for _, pair in ipairs(request.header_list) do
    local name = pair[1]:lower()
    if name == "cookie" then
      cookies = cookies or {}
      for cookie in pair[2]:gmatch("[^;]+") do
        cookies[#cookies + 1] = cookie:match("^%s*(.-)%s*$")
      end
    else
      headers[name] = headers[name] and (headers[name] .. "," .. pair[2]) or pair[2]
    end
  end
  local seconds = math.floor(now)
  local date = os.date("!*t", seconds)
  local event = {
    version = "2.0",
    routeKey = "$default",
    rawPath = request.path,
    rawQueryString = request.query or "",
    cookies = cookies,
    headers = headers,
    queryStringParameters = query_parameters(request.query),
    requestContext = {
      accountId = "anonymous",
      apiId = function_name,
      domainName = headers.host or "localhost",
      domainPrefix = function_name,
      http = {
        method = request.method,
        path = request.path,
        protocol = "HTTP/1.1",
        sourceIp = (request.peer or ""):match("^%[?([^%]]*)%]?:%d+$") or "127.0.0.1",
        userAgent = headers["user-agent"] or "",
      },
      requestId = request_id,
      routeKey = "$default",
      stage = "$default",
      time = string.format("%02d/%s/%04d:%02d:%02d:%02d +0000", date.day, MONTHS[date.month],
        date.year, date.hour, date.min, date.sec),
      timeEpoch = math.floor(now * 1000),
    },
    isBase64Encoded = false,
  }
  local body = request.body or ""
  if body ~= "" then
    if is_text(headers["content-type"]) and utf8.len(body) then
      event.body = body
    else
      event.body = crypto.base64_encode(body)
      event.isBase64Encoded = true
    end
  end
  return json.encode(event)
end

-- A statusCode as an integer, or nil when it is not a whole number (a function may write
-- 200.0, which decodes as a float).
function M.status_code(value)
  if type(value) ~= "number" then
    return nil
  end
  return math.tointeger(value)
end

-- A header value as text: a whole number written as a float (5.0) is written as 5.
function M.header_value(value)
  return tostring(type(value) == "number" and math.tointeger(value) or value)
end

-- The function's answer -> status, header pairs, body. A JSON object with statusCode is an
-- API Gateway v2 response; anything else is the body of a 200 application/json answer, as
-- function URLs treat it.
function M.response(body)
  local decoded = json.decode(body)
  local status = type(decoded) == "table" and M.status_code(decoded.statusCode)
  if not status then
    return 200, { { "Content-Type", "application/json" } }, body
  end
  if status < 100 or status > 599 then
    return 502, { { "Content-Type", "application/json" } },
      '{"message":"the function returned an invalid statusCode"}'
  end
  local headers = {}
  if type(decoded.headers) == "table" then
    for name, value in pairs(decoded.headers) do
      if type(value) == "string" or type(value) == "number" or type(value) == "boolean" then
        headers[#headers + 1] = { tostring(name), M.header_value(value) }
      end
    end
  end
  if type(decoded.multiValueHeaders) == "table" then
    for name, values in pairs(decoded.multiValueHeaders) do
      if type(values) == "table" then
        for _, value in ipairs(values) do
          headers[#headers + 1] = { tostring(name), M.header_value(value) }
        end
      end
    end
  end
  if type(decoded.cookies) == "table" then
    for _, cookie in ipairs(decoded.cookies) do
      headers[#headers + 1] = { "Set-Cookie", tostring(cookie) }
    end
  end
  local answer = type(decoded.body) == "string" and decoded.body or ""
  if decoded.isBase64Encoded == true then
    local raw = crypto.base64_decode(answer)
    if not raw then
      return 502, { { "Content-Type", "application/json" } },
        '{"message":"the function returned a body that is not valid base64"}'
    end
    answer = raw
  end
  return status, headers, answer
end

return M
