-- The benchmark's client (bench/http_tasks.sh): `cargo-lambda run http_tasks_client.lua URL N C`
-- sends N GET requests to URL from C tasks, each sending its share one after the other, and
-- prints "<requests/s> <failures>", timed from the first task's start to the last one's end
-- (as hey times its own run: process start-up not included).
local http = require("lambda.http")
local task = require("lambda.task")
local time = require("lambda.time")

local url, total, concurrency = arg[1], tonumber(arg[2]), tonumber(arg[3])
assert(url and total and concurrency, "usage: http_tasks_client.lua URL N C")

local failures = 0
local function worker(count)
  for _ = 1, count do
    local response = http.request({ url = url })
    if not response or response.status ~= 200 then
      failures = failures + 1
    end
  end
end

local started = time.monotonic()
local jobs = {}
for i = 1, concurrency do
  -- The first total % concurrency workers send one more.
  local share = total // concurrency + (i <= total % concurrency and 1 or 0)
  jobs[i] = task.spawn(worker, share)
end
for _, job in ipairs(jobs) do
  job:wait()
end
local took = time.monotonic() - started
io.write(string.format("%.0f %d\n", total / took, failures))
