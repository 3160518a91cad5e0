-- The benchmark's fixed-answer server (bench/http_tasks.sh): lambda.event's HTTP server on
-- 127.0.0.1, answering every request 200 "ok". Prints "PORT <n>" once listening.
local event = require("lambda.event")
local server = assert(event.http_server({
  address = "127.0.0.1",
  port = tonumber(arg[1]) or 0,
  handler = function(request)
    request:respond(200, { ["Content-Type"] = "text/plain" }, "ok")
  end,
}))
io.write("PORT ", server:port(), "\n")
io.stdout:flush()
event.on_signal("TERM", function()
  event.stop()
end)
event.run()
