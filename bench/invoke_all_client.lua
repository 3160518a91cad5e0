-- bench/invoke_all.sh's client: N invocations of the function through one client's invoke_all
-- at concurrency C against the emulator at PORT. Prints "<invocations/s> <wall s> <failures>".
local lambda = require("lambda")
local port, total, concurrency = tonumber(arg[1]), tonumber(arg[2]), tonumber(arg[3])
local client = assert(lambda.client({ address = "127.0.0.1", port = math.tointeger(port),
  tls = false }))
local requests = {}
for i = 1, math.tointeger(total) do
  requests[i] = { name = "bench", payload = '{"command":"bench","n":[1,2,3]}' }
end
local started = lambda.time.monotonic()
local results = assert(client:invoke_all(requests, { concurrency = math.tointeger(concurrency) }))
local wall = lambda.time.monotonic() - started
local failures = 0
for _, result in ipairs(results) do
  failures = failures + (result.ok and 0 or 1)
end
print(string.format("%.0f %.3f %d", #results / wall, wall, failures))
