-- Internal to lambda.emulator (not part of the public API; see docs/scripting.md).
-- How an invocation's outcome reaches whoever asked for it (see pool.lua for the interface):
-- the Invoke API (as AWS answers it), the streaming Invoke API (an event stream), a function
-- URL (an HTTP response), or nobody (Event invocations).
local eventstream = require("lambda.emulator.eventstream")
local function_url = require("lambda.emulator.function_url")
local pool_module = require("lambda.emulator.pool")

local M = {}

-- A Lambda service error (not the function's): status, x-amzn-ErrorType and the JSON body
-- {"Type":"User","message":...} AWS answers with; fields adds members (Reason), headers adds
-- headers (Retry-After).
function M.service_error(request, status, kind, message, fields, headers)
  local list = {
    { "Content-Type", "application/json" },
    { "x-amzn-ErrorType", kind },
    { "x-amzn-RequestId", require("lambda.emulator.ids").uuid() },
  }
  for _, header in ipairs(headers or {}) do
    list[#list + 1] = header
  end
  local body = { Type = "User", message = message }
  for key, value in pairs(fields or {}) do
    body[key] = value
  end
  return request:respond(status, list, require("lambda.json").encode(body))
end

-- An outcome that is a service error (outcome.service_error = {status, kind, message, fields,
-- headers}, e.g. throttling) answers as one, whichever API the invoker used.
local function answer_service_error(request, outcome)
  local problem = outcome.service_error
  M.service_error(request, problem.status, problem.kind, problem.message, problem.fields,
    problem.headers)
end

local function common_headers(invocation)
  local headers = {
    { "X-Amz-Executed-Version", "$LATEST" },
    { "x-amzn-RequestId", invocation.id },
    { "X-Amzn-Trace-Id", invocation.trace_id },
  }
  if invocation.log_type == "Tail" then
    headers[#headers + 1] = { "X-Amz-Log-Result", pool_module.log_tail(invocation) }
  end
  return headers
end

local function closed_by(request)
  return function()
    return not request:is_open()
  end
end

-- The Invoke API: 200 with the payload, or 200 with X-Amz-Function-Error and the error JSON.
function M.invoke(request)
  return {
    closed = closed_by(request),
    complete = function(invocation, outcome)
      if outcome.service_error then
        answer_service_error(request, outcome)
        return
      end
      local headers = common_headers(invocation)
      headers[#headers + 1] = { "Content-Type", outcome.content_type or "application/json" }
      if not outcome.ok then
        headers[#headers + 1] = { "X-Amz-Function-Error", "Unhandled" }
      end
      request:respond(200, headers, outcome.body or "")
    end,
  }
end

-- InvokeWithResponseStream: PayloadChunk messages as the function writes, then InvokeComplete.
function M.streaming_invoke(request)
  local sink = { closed = closed_by(request) }
  local function start(invocation)
    local headers = common_headers(invocation)
    headers[#headers + 1] = { "Content-Type", "application/vnd.amazon.eventstream" }
    headers[#headers + 1] = { "X-Amzn-Remapped-Content-Type", "application/octet-stream" }
    request:start_stream(200, headers)
  end
  local function complete_fields(invocation, outcome)
    if outcome.ok then
      return { LogResult = invocation.log_type == "Tail" and pool_module.log_tail(invocation) or nil }
    end
    local details = outcome.body
    local decoded = require("lambda.json").decode(outcome.body or "")
    if type(decoded) == "table" and type(decoded.errorMessage) == "string" then
      details = decoded.errorMessage
    end
    return { ErrorCode = outcome.error_type or "Unhandled", ErrorDetails = details,
      LogResult = invocation.log_type == "Tail" and pool_module.log_tail(invocation) or nil }
  end
  function sink.begin_stream(invocation)
    start(invocation)
    return {
      chunk = function(data)
        if data ~= "" and request:is_open() then
          request:send_chunk(eventstream.payload_chunk(data))
        end
      end,
      finish = function(outcome)
        if request:is_open() then
          request:send_chunk(eventstream.invoke_complete(complete_fields(invocation, outcome)))
          request:finish_stream()
        end
      end,
    }
  end
  function sink.complete(invocation, outcome)
    if outcome.service_error then
      answer_service_error(request, outcome)
      return
    end
    start(invocation)
    if outcome.ok and outcome.body and outcome.body ~= "" then
      request:send_chunk(eventstream.payload_chunk(outcome.body))
    end
    request:send_chunk(eventstream.invoke_complete(complete_fields(invocation, outcome)))
    request:finish_stream()
  end
  return sink
end

-- A function URL: the function's answer as an HTTP response. A streamed answer starts with a
-- JSON prelude {statusCode, headers, cookies} and eight NUL bytes, then the body.
function M.function_url(request)
  local sink = { closed = closed_by(request) }
  function sink.complete(_, outcome)
    if outcome.service_error then
      answer_service_error(request, outcome)
      return
    end
    if not outcome.ok then
      request:respond(502, { { "Content-Type", "application/json" } },
        '{"message":"Internal Server Error"}')
      return
    end
    local status, headers, body = function_url.response(outcome.body or "")
    request:respond(status, headers, body)
  end
  function sink.begin_stream()
    local pending, started = {}, false
    local function start_from_prelude(prelude)
      local decoded = require("lambda.json").decode(prelude)
      local status, headers = 200, {}
      if type(decoded) == "table" then
        -- Accept whole numbers written as floats (200.0) too.
        status = function_url.status_code(decoded.statusCode) or 200
        for name, value in pairs(type(decoded.headers) == "table" and decoded.headers or {}) do
          headers[#headers + 1] = { tostring(name), function_url.header_value(value) }
        end
        for _, cookie in ipairs(type(decoded.cookies) == "table" and decoded.cookies or {}) do
          headers[#headers + 1] = { "Set-Cookie", tostring(cookie) }
        end
      end
      request:start_stream(status, headers)
      started = true
    end
    return {
      chunk = function(data)
        if not request:is_open() then
          return
        end
        if started then
          request:send_chunk(data)
          return
        end
        pending[#pending + 1] = data
        local buffered = table.concat(pending)
        local separator = buffered:find("\0\0\0\0\0\0\0\0", 1, true)
        if separator then
          pending = {}
          start_from_prelude(buffered:sub(1, separator - 1))
          local rest = buffered:sub(separator + 8)
          if rest ~= "" then
            request:send_chunk(rest)
          end
        end
      end,
      finish = function(outcome)
        if not request:is_open() then
          return
        end
        if not started then
          -- No prelude came: the whole stream is the body.
          request:respond(outcome.ok and 200 or 502, {}, table.concat(pending))
        else
          request:finish_stream()
        end
      end,
    }
  end
  return sink
end

-- Event invocations: the invoker already has its 202; outcomes are only logged.
function M.detached(print)
  return {
    closed = function()
      return false
    end,
    complete = function(invocation, outcome)
      if outcome.service_error then
        print(invocation.function_name, string.format("Event %s failed: %s: %s", invocation.id,
          outcome.service_error.kind, outcome.service_error.message))
      elseif not outcome.ok then
        print(invocation.function_name, string.format("Event %s failed: %s", invocation.id,
          outcome.body or outcome.error_type or "error"))
      end
    end,
  }
end

return M
