-- Serve a mock HTTP dependency in this process while the function calls it: the function
-- (examples/functions/weather.lua) asks WEATHER_URL for a forecast; this script answers as the
-- weather service would, counts the calls, and checks the function's answer.
-- Run: cargo-lambda run examples/mock_dependency.lua
local lambda = require("lambda")

local calls = {}
local mock = assert(lambda.event.http_server({
  address = "127.0.0.1",
  port = 0, -- any free port
  handler = function(request)
    local city = request.query and request.query:match("city=([^&]*)")
    calls[#calls + 1] = city
    if city == "Atlantis" then
      request:respond(404, { ["Content-Type"] = "application/json" }, '{"error":"no such city"}')
      return
    end
    request:respond(200, { ["Content-Type"] = "application/json" },
      lambda.json.encode({ sky = "sunny", temperature = 21 }))
  end,
}))
local mock_url = "http://127.0.0.1:" .. mock:port()
print("mock weather service on " .. mock_url)

local folder = arg[0]:match("^(.*)/[^/]*$") or "."
local emulator = assert(lambda.emulator.start({
  command = { lambda.executable, "run", folder .. "/functions/weather.lua" },
  env = { WEATHER_URL = mock_url },
  on_output = false,
}))
local client = emulator:client()

local paris = client:invoke("weather", { payload = { city = "Paris" } })
assert(paris.ok, paris.error and paris.error.line)
print("Paris: " .. paris:json().sentence)

local atlantis = client:invoke("weather", { payload = { city = "Atlantis" } })
print("Atlantis: " .. (atlantis.ok and "answered?!" or atlantis.error.line))

emulator:stop()
mock:close()
print(string.format("the mock served %d calls: %s", #calls, table.concat(calls, ", ")))
return (#calls == 2 and not atlantis.ok) and 0 or 1
