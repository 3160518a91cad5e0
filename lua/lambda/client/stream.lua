-- Internal to lambda.client: an InvokeWithResponseStream answer, read as it arrives.
--
-- A 200 whose Content-Type is application/vnd.amazon.eventstream is decoded message by
-- message (lambda.eventstream) as lambda.http hands the body over (its on_body option): each
-- PayloadChunk goes at once to the caller's function (or is kept, to be joined), InvokeComplete
-- says how the function ended, and an exception or error message is the service's. A damaged
-- stream stops the transfer and is a transport failure naming the decoder's fault. Any other
-- answer (a service error sent before the stream began, a DryRun's 204, an endpoint that does
-- not stream) is kept whole, as the buffered Invoke API's.
local eventstream = require("lambda.eventstream")
local http = require("lambda.http")
local json = require("lambda.json")
local time = require("lambda.time")

local M = {}

M.CONTENT_TYPE = "application/vnd.amazon.eventstream"

-- What a reader raises from on_body to stop a damaged stream; request() below catches it.
local FAULT = setmetatable({}, {
  __tostring = function()
    return "lambda.client: damaged event stream"
  end,
})

local Reader = {}
Reader.__index = Reader

-- A reader for one attempt; on_chunk(bytes) is called for each PayloadChunk, or nil to join
-- them into the result's body.
function M.reader(on_chunk)
  local reader = setmetatable({ on_chunk = on_chunk, parts = {}, raw = {}, chunks = 0 }, Reader)
  function reader.on_body(piece, response)
    reader:take(piece, response)
  end
  return reader
end

local function is_event_stream(response)
  local content_type = (response.headers["content-type"] or ""):lower():match("^%s*([^;%s]+)")
  return response.status == 200 and content_type == M.CONTENT_TYPE
end

local function stop(reader, problem)
  reader.fault = problem
  error(FAULT, 0)
end

function Reader:message(message)
  if self.complete or self.exception then
    return -- nothing counts after the end
  end
  local headers = message.headers
  local kind = headers[":message-type"]
  if kind == "exception" then
    self.exception = { type = headers[":exception-type"], body = message.payload }
  elseif kind == "error" then
    self.exception = { type = headers[":error-code"], message = headers[":error-message"] }
  elseif kind == nil or kind == "event" then -- the original emulator sends no :message-type
    local event = headers[":event-type"]
    if event == "PayloadChunk" and message.payload ~= "" then
      self.chunks = self.chunks + 1
      if self.chunks == 1 then
        self.first_byte = time.monotonic() - self.sent
      end
      if self.on_chunk then
        self.on_chunk(message.payload)
      else
        self.parts[#self.parts + 1] = message.payload
      end
    elseif event == "InvokeComplete" then
      local fields = json.decode(message.payload)
      if type(fields) ~= "table" then
        stop(self, "InvokeComplete does not hold a JSON object")
      end
      self.complete = fields
    end
  end
end

-- lambda.http's on_body.
function Reader:take(piece, response)
  if self.streaming == nil then
    self.streaming = is_event_stream(response)
    self.decoder = self.streaming and eventstream.decoder() or nil
  end
  if not self.streaming then
    if #self.raw == 0 then
      self.first_byte = time.monotonic() - self.sent
    end
    self.raw[#self.raw + 1] = piece
    return
  end
  local messages, problem, _, before = self.decoder:feed(piece)
  for _, message in ipairs(messages or before) do
    self:message(message)
  end
  if not messages then
    stop(self, problem)
  end
end

-- Once the answer is over: nil, or what is wrong with the stream.
function Reader:finish(response)
  if self.streaming == nil then -- no body at all
    self.streaming = is_event_stream(response)
  end
  if not self.streaming then
    response.body = table.concat(self.raw)
    return nil
  end
  if self.decoder then
    local ended, problem = self.decoder:finish()
    if not ended then
      return problem
    end
  end
  if not self.complete and not self.exception then
    return "the stream ended without an InvokeComplete message"
  end
  return nil
end

-- lambda.http.request(options) with the reader taking the body: the same values, but a
-- damaged stream is nil, "<url>: corrupt event stream: <fault>", "transport". What on_chunk
-- raises is raised.
function M.request(reader, options)
  options.on_body = reader.on_body
  reader.sent = time.monotonic()
  local ok, response, message, kind, detail = pcall(http.request, options)
  if not ok then
    if response == FAULT then
      return nil, options.url .. ": corrupt event stream: " .. reader.fault, "transport"
    end
    error(response, 0)
  end
  if response then
    local problem = reader:finish(response)
    if problem then
      return nil, options.url .. ": corrupt event stream: " .. problem, "transport"
    end
  end
  return response, message, kind, detail
end

return M
