-- Internal to lambda.client: what an answer (or a failed transfer) means, in the one result
-- shape that local and remote invocations share: ok, status, body, headers, request_id,
-- executed_version, log, duration, attempts, first_byte (streams), and error = {source, type,
-- message, line} when not ok.
local json = require("lambda.json")
local monotonic = require("lambda.time").monotonic

local M = {}

local EXPECTED_STATUS = { RequestResponse = 200, Event = 202, DryRun = 204 }

local Result = {}
Result.__index = Result
Result.__name = "lambda.result"

-- result:json() -> the decoded body (cached) | nil, message, "input", offset
function Result:json()
  if self.decoded == nil then
    local value, message, _, offset = json.decode(self.body or "")
    if value == nil and message then
      return nil, "the answer is not JSON: " .. message, "input", offset
    end
    self.decoded = { value = value }
  end
  return self.decoded.value
end

function Result:__tostring()
  if self.ok then
    return string.format("lambda.result (ok, %s)", tostring(self.status))
  end
  return "lambda.result (" .. self.error.source .. " error: " .. self.error.line .. ")"
end

local function log_tail(encoded)
  return encoded and require("lambda.crypto").base64_decode(encoded) or nil
end

-- One line for a terminal, whatever the service or function put in a message.
local function one_line(text)
  return (text:gsub("%s*[%c]+%s*", " "):gsub("^%s+", ""):gsub("%s+$", ""))
end

-- A streamed answer (lambda.client.stream's reader): the chunks, then how it ended.
local function interpret_stream(result, reader)
  result.first_byte = reader.first_byte
  result.body = not reader.on_chunk and table.concat(reader.parts) or nil
  local complete = reader.complete or {}
  if type(complete.LogResult) == "string" then
    result.log = log_tail(complete.LogResult)
  end
  local problem = reader.exception
  if problem then -- the service broke the stream off
    local errors = require("lambda.client.errors")
    local headers = { ["x-amzn-errortype"] = problem.type }
    result.error = problem.body and errors.service(result.status, headers, problem.body)
      or { type = problem.type, message = problem.message and one_line(problem.message),
        status = result.status }
    result.error.line = result.error.line or table.concat({ problem.type or "ServiceException",
      result.error.message }, ": ")
    result.error.source = "service"
  elseif type(complete.ErrorCode) == "string" then
    local details = type(complete.ErrorDetails) == "string" and one_line(complete.ErrorDetails)
      or nil
    result.error = { source = "function", type = complete.ErrorCode, message = details,
      line = details and details ~= "" and (complete.ErrorCode .. ": " .. details)
        or complete.ErrorCode, status = result.status }
  else
    result.ok = true
  end
  return result
end

-- What an answer (or a failed transfer) means, in the one result shape.
function M.interpret(target, invocation, outcome, started)
  local response = outcome.response
  if not response then
    return setmetatable({
      name = invocation.name,
      url = outcome.url,
      attempts = outcome.attempts or 1,
      duration = monotonic() - started,
      ok = false,
      error = { source = "transport", type = outcome.kind, detail = outcome.detail,
        message = outcome.message, line = outcome.message },
    }, Result)
  end
  local headers = response.headers
  -- Every field in one constructor, which sizes the table once (a load run makes one an
  -- invocation; grown a field at a time, it was reallocated on the way).
  local result = setmetatable({
    name = invocation.name,
    url = outcome.url,
    attempts = outcome.attempts or 1,
    -- until the engine had the whole answer (not until this code ran)
    duration = (response.received_at or monotonic()) - started,
    ok = false,
    error = nil, -- (a slot for it)
    response = response,
    status = response.status,
    body = response.body,
    headers = headers,
    request_id = headers["x-amzn-requestid"],
    executed_version = headers["x-amz-executed-version"],
    log = log_tail(headers["x-amz-log-result"]),
  }, Result)
  local reader = outcome.stream
  if reader and reader.streaming then
    return interpret_stream(result, reader)
  end
  local expected = EXPECTED_STATUS[invocation.invocation_type or "RequestResponse"]
  local two_hundred = response.status >= 200 and response.status <= 299
  if headers["x-amzn-errortype"] or (target.remote and not two_hundred) then
    result.error = require("lambda.client.errors").service(response.status, headers,
      response.body)
    result.error.source = "service"
  elseif headers["x-amz-function-error"] or response.status ~= expected then
    -- Lambda answers a function's failure with 200 and X-Amz-Function-Error; the original
    -- emulator with a status other than 200.
    result.error = require("lambda.client.errors").describe(response.status, response.body)
    result.error.source = "function"
  else
    result.ok = true
    if reader then -- asked to stream, answered whole: the whole answer is the one chunk
      result.first_byte = reader.first_byte
      if reader.on_chunk then
        if response.body ~= "" then
          reader.on_chunk(response.body)
        end
        result.body = nil
      end
    end
  end
  return result
end

return M
