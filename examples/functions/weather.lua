-- A Lua function for the examples: asks a weather service (WEATHER_URL, which the
-- mock_dependency example serves itself) for the event's city and answers with a sentence.
local http = require("lambda.http")
local json = require("lambda.json")
local runtime = require("lambda.runtime")

local service = assert(os.getenv("WEATHER_URL"), "WEATHER_URL is not set")

local _, problem = runtime.start(function(event)
  local response, message = http.request({ url = service .. "/forecast?city=" .. event.city,
    timeout = 5 })
  if not response then
    error("the weather service cannot be reached: " .. message, 0)
  end
  if response.status ~= 200 then
    error(string.format("the weather service answered %d", response.status), 0)
  end
  local forecast = json.decode(response.body)
  return { city = event.city, sentence = string.format("%s: %s, %d°C", event.city,
    forecast.sky, forecast.temperature) }
end)
io.stderr:write("weather: ", tostring(problem), "\n")
return 1
