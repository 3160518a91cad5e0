-- Test server for lambda.event's HTTP server: `cargo-lambda run event_server.lua CONFIG`.
-- CONFIG (JSON) is a list of server options (address, port, tls, max_body, max_headers) plus
-- a `name` for each; every server gets the same handler. With `choose_limits`, max_body is a
-- function: the request's ?limit=N (100 without; ?limit=bad makes it raise), and too_large
-- logs "too_large <path> <limit> <size>" and answers 413 with {path, limit, size, handled}
-- (handled: whether the handler had seen the request), unless the query has plain=1.
-- Prints one line per server, `READY <name> <port> <address>`, or `FAILED <name> <message>`
-- (and exits 1), then serves until a request to /stop. The routes:
--   /echo...      answers JSON describing the request (fields, headers, body, trailers)
--   /raw          answers the request body as it came (binary)
--   /later?ms=N   answers after N ms, from a timer
--   /stream?n=N   streams chunk-1 at once, the rest (up to chunk-N) once /release is requested
--   /release      lets the waiting streams go on
--   /hold         never answers (on_close is logged)
--   /upload...    stream_body: logs each piece as it arrives, answers with the pieces and the
--                 trailers at the end; /upload-early answers 202 before the body has arrived
--   /error        raises an error in the handler
--   /misuse       answers how wrong calls of the request methods failed (JSON)
--   /twice        streams an empty answer, then logs how answering again fails
--   /headers      answers with repeated and list-form headers, and any ?connection=close
--   /status?code=N  answers status N with a body
--   /log          answers the log (JSON list) and clears it
--   /close-server closes the server that got it
--   /stop         stops the loop; the script prints `LOG <json>` with what is left of the log
local event = require("lambda.event")
local json = require("cjson")

local log = {}
local waiting_streams = {}
local servers = {}

local function note(text)
  log[#log + 1] = text
end

local function query_value(request, name)
  return request.query and request.query:match(name .. "=([^&]*)")
end

local function describe(request, server_name)
  return json.encode({
    server = server_name,
    method = request.method,
    uri = request.uri,
    path = request.path,
    query = request.query or json.null,
    headers = request.headers,
    header_list = request.header_list,
    body = request.body,
    trailers = request.trailers or json.null,
    peer = request.peer,
    is_open = request:is_open(),
  })
end

local function stream(request)
  local count = tonumber(query_value(request, "n")) or 3
  assert(request:start_stream(200, { ["Content-Type"] = "text/plain", ["X-Stream"] = "yes" }))
  assert(request:send_chunk("chunk-1\n"))
  assert(request:send_chunk(""))
  request:on_close(function()
    note("closed " .. request.path)
  end)
  waiting_streams[#waiting_streams + 1] = function()
    for i = 2, count do
      local ok, message = request:send_chunk("chunk-" .. i .. "\n")
      if not ok then
        note("send_chunk: " .. message)
        return
      end
    end
    request:finish_stream()
  end
end

local function upload(request, early)
  local pieces = {}
  if early then
    assert(request:respond(202, nil, "accepted early"))
  end
  request:on_chunk(function(data)
    pieces[#pieces + 1] = data
    note("piece " .. #pieces .. " " .. #data)
  end)
  request:on_end(function(trailers)
    note("end " .. #pieces)
    if not early then
      request:respond(200, { ["Content-Type"] = "application/json" }, json.encode({
        pieces = pieces,
        trailers = trailers,
        body = request.body or json.null,
      }))
    end
  end)
  request:on_close(function()
    note("closed " .. request.path)
  end)
end

local function choose_limits(config)
  config.choose_limits = nil
  config.max_body = function(request)
    local limit = query_value(request, "limit")
    if limit == "bad" then
      return "not a number"
    end
    return tonumber(limit) or 100
  end
  config.too_large = function(request, limit, size)
    note(string.format("too_large %s %d %d", request.path, limit, size))
    if not query_value(request, "plain") then
      request:respond(413, { ["Content-Type"] = "application/json" }, json.encode({
        path = request.path, limit = limit, size = size, handled = request.handled == true }))
    end
  end
end

local function handler_for(server_name)
  return function(request)
    request.handled = true
    local path = request.path
    if path:sub(1, 5) == "/echo" then
      request:respond(200, { ["Content-Type"] = "application/json" }, describe(request, server_name))
    elseif path == "/raw" then
      request:respond(200, { ["Content-Type"] = "application/octet-stream" }, request.body)
    elseif path == "/later" then
      event.timer((tonumber(query_value(request, "ms")) or 50) / 1000, function()
        request:respond(200, nil, "later " .. request.query)
      end)
    elseif path == "/stream" then
      stream(request)
    elseif path == "/release" then
      local streams = waiting_streams
      waiting_streams = {}
      for _, go_on in ipairs(streams) do
        go_on()
      end
      request:respond(200, nil, "released " .. #streams)
    elseif path == "/hold" then
      request:on_close(function(closed)
        assert(closed == request and not closed:is_open())
        local ok, message = closed:respond(200, nil, "too late")
        note("closed /hold " .. tostring(ok) .. " " .. message)
      end)
    elseif path == "/upload" or path == "/upload-early" then
      upload(request, path == "/upload-early")
    elseif path == "/error" then
      error("handler failed on purpose")
    elseif path == "/headers" then
      request:respond(201, {
        ["Set-Cookie"] = { "a=1", "b=2" },
        ["Content-Length"] = "999",
        ["X-Number"] = 42,
        Connection = query_value(request, "connection"),
      }, "with headers")
    elseif path == "/list-headers" then
      request:respond(200, { { "X-Order", "1" }, { "x-order", "2" }, { "X-Other", "3" } }, "")
    elseif path == "/status" then
      request:respond(tonumber(query_value(request, "code")), nil, "status body")
    elseif path == "/misuse" then
      local results = {}
      local function try(name, method, ...)
        local ok, message = pcall(method, request, ...)
        results[name] = ok and "no error" or message
      end
      try("status", request.respond, 99)
      try("header_name", request.respond, 200, { ["bad name"] = "x" })
      try("header_value", request.respond, 200, { ["X-Bad"] = "a\r\nb" })
      try("header_pair", request.respond, 200, { "not a pair" })
      try("header_type", request.respond, 200, { X = true })
      try("body_type", request.respond, 200, nil, {})
      try("chunk_before_start", request.send_chunk, "x")
      try("finish_before_start", request.finish_stream)
      try("on_chunk_unstreamed", request.on_chunk, function() end)
      try("on_close_type", request.on_close, 42)
      results.still_open = request:is_open()
      request:respond(200, { ["Content-Type"] = "application/json" }, json.encode(results))
    elseif path == "/twice" then
      request:start_stream(200)
      request:finish_stream()
      for _, method in ipairs({ "respond", "start_stream", "send_chunk", "finish_stream" }) do
        local ok, message = pcall(request[method], request, 200)
        note(method .. " " .. tostring(ok) .. " " .. message)
      end
    elseif path == "/log" then
      local copy = log
      log = {}
      request:respond(200, { ["Content-Type"] = "application/json" }, json.encode(copy))
    elseif path == "/close-server" then
      request:respond(200, nil, "closing")
      servers[server_name]:close()
    elseif path == "/stop" then
      request:respond(200, nil, "stopping")
      event.stop()
    else
      request:respond(404, nil, "no route " .. path)
    end
  end
end

local config_text = assert(arg[1], "usage: event_server.lua CONFIG")
local configs = json.decode(config_text)
for _, config in ipairs(configs) do
  local name = config.name or "main"
  config.name = nil
  config.handler = handler_for(name)
  config.stream_body = function(request)
    return request.path:sub(1, 7) == "/upload"
  end
  if config.choose_limits then
    choose_limits(config)
  end
  local server, message = event.http_server(config)
  if not server then
    io.stdout:write("FAILED ", name, " ", message, "\n")
    io.stdout:flush()
    os.exit(1)
  end
  servers[name] = server
  io.stdout:write("READY ", name, " ", server:port(), " ", server:address(), "\n")
end
io.stdout:flush()
event.run()
io.stdout:write("LOG ", json.encode(log), "\n")
