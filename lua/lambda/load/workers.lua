-- Internal to lambda.load: a load run spread over load workers (Lambda functions running
-- `cargo-lambda load-worker`, or lambda.load.worker in a function of one's own). The
-- controller sends each worker its share of the run as a job, invokes them all at once and
-- merges their summaries; the job names the target by its client fields, never credentials,
-- so a worker on AWS invokes with its own execution role.
local M = {}

-- Lambda's longest invocation, and the margin a worker gets to answer after it.
local LAMBDA_MAX_SECONDS = 900
local ANSWER_MARGIN = 60

local TARGET_FIELDS = { address = true, port = true, tls = true, remote = true, region = true,
  endpoint_url = true, retry_attempts = true, timeout = true }

-- The invocation fields a job carries (what lambda.load passes on to client:invoke).
local INVOCATION_FIELDS = { payload = true, qualifier = true, invocation_type = true,
  log_type = true, client_context = true, identity = true, stream = true }

local function check(workers)
  if type(workers) ~= "table" then
    error("load: field 'workers' must be a table {count, name, client, target}", 4)
  end
  local count = workers.count
  if math.type(count) ~= "integer" or count < 1 then
    error("load: field 'workers.count' must be an integer of at least 1", 4)
  end
  if type(workers.name) ~= "string" or workers.name == "" then
    error("load: field 'workers.name' must be the workers' function name", 4)
  end
  if type(workers.target) ~= "table" then
    error("load: field 'workers.target' must be the target's lambda.client fields", 4)
  end
  for key in pairs(workers.target) do
    if key == "credentials" or key == "profile" then
      error("load: field 'workers.target." .. tostring(key) .. "' cannot be sent to a worker "
        .. "(a worker invokes with its own role)", 4)
    elseif not TARGET_FIELDS[key] then
      error("load: unknown field 'workers.target." .. tostring(key) .. "'", 4)
    end
  end
end

-- The jobs: `repeat` split as evenly as it goes (workers with no share get no job), a
-- duration given to every worker, a rate split.
local function jobs(options, workers)
  local fields = {}
  for key in pairs(INVOCATION_FIELDS) do
    fields[key] = options[key]
  end
  -- A worker reads streamed answers and drops them; a function cannot travel in a job.
  fields.stream = fields.stream and true or nil
  local total = options["repeat"]
  local list = {}
  for i = 1, workers.count do
    local job = {
      target = workers.target, name = options.name, fields = fields,
      concurrency = options.concurrency or 1,
      rate = options.rate and options.rate / workers.count or nil,
      duration = options.duration,
    }
    if total then
      job["repeat"] = total // workers.count + (i <= total % workers.count and 1 or 0)
    end
    if not total or job["repeat"] > 0 then
      list[#list + 1] = job
    end
  end
  return list
end

-- run(options, load) -> merged summary | nil, message, kind
function M.run(options, load)
  local workers = options.workers
  check(workers)
  if options.request or options.payloads then
    error("load: 'workers' takes one 'payload' (a job cannot carry a function or a list)", 3)
  end
  local client = workers.client
  if client == nil then
    local message, kind
    client, message, kind = require("lambda").client(require("lambda.client").defaults())
    if not client then
      return nil, message, kind
    end
  end
  local timeout = (options.duration or LAMBDA_MAX_SECONDS) + ANSWER_MARGIN
  local requests = {}
  for i, job in ipairs(jobs(options, workers)) do
    requests[i] = { name = workers.name, payload = job, timeout = timeout }
  end
  local results, message, kind = client:invoke_all(requests, { concurrency = #requests })
  if not results then
    return nil, message, kind
  end
  local parts = {}
  for i, result in ipairs(results) do
    if not result.ok then
      return nil, string.format("load worker %d (%s) failed: %s", i, workers.name,
        result.error.line), "service"
    end
    local answer = result:json()
    local part, problem = load.decode(answer)
    if not part then
      return nil, string.format("load worker %d (%s): %s", i, workers.name, problem), "service"
    end
    parts[#parts + 1] = part
  end
  return load.merge(parts)
end

local JOB_FIELDS = { target = "table", name = "string", fields = "table",
  concurrency = "number", rate = "number", ["repeat"] = "number", duration = "number" }

local function check_job(job)
  if type(job) ~= "table" then
    return nil, "a load job must be a JSON object (from lambda.load's workers)"
  end
  for key, value in pairs(job) do
    if JOB_FIELDS[key] == nil then
      return nil, "unknown load job field '" .. tostring(key) .. "'"
    elseif type(value) ~= JOB_FIELDS[key] then
      return nil, string.format("load job field '%s' must be a %s", key, JOB_FIELDS[key])
    end
  end
  if job.target == nil or (job["repeat"] == nil) == (job.duration == nil) then
    return nil, "a load job needs a target and exactly one of repeat and duration"
  end
  for key in pairs(job.target) do
    if not TARGET_FIELDS[key] then
      return nil, "unknown load job field 'target." .. tostring(key) .. "'"
    end
  end
  for key in pairs(job.fields or {}) do
    if not INVOCATION_FIELDS[key] then
      return nil, "unknown load job field 'fields." .. tostring(key) .. "'"
    end
  end
  return true
end

-- handle(job, load) -> the encoded summary of the job's share (a worker's answer); raises a
-- one-line error for a job that is not one (the worker's invocation fails with it).
function M.handle(job, load)
  local ok, problem = check_job(job)
  if not ok then
    error(problem, 0)
  end
  local client, message = require("lambda").client(job.target)
  if not client then
    error("the load job's target: " .. message, 0)
  end
  local options = {
    client = client, name = job.name, concurrency = math.tointeger(job.concurrency) or 1,
    rate = job.rate, duration = job.duration,
  }
  options["repeat"] = job["repeat"] and math.tointeger(job["repeat"])
  for key, value in pairs(job.fields or {}) do
    options[key] = value
  end
  local summary, failure = load.run(options)
  if not summary then
    error("the load job: " .. failure, 0)
  end
  return load.encode(summary)
end

return M
