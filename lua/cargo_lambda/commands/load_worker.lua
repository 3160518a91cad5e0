-- `cargo-lambda load-worker`: this binary as a Lambda function (a custom runtime's bootstrap)
-- that runs its share of a load run (`invoke --repeat/--duration --workers W
-- --worker-function NAME`) and answers with its summary and histogram, for the controller to
-- merge. On AWS it invokes the target with the function's own execution role; the job carries
-- no credentials.
local cli = require("cargo_lambda.cli")

local M = {
  name = "load-worker",
  summary = "Run as a Lambda function that runs load for `invoke --workers` (bootstrap)",
  description = "Serves the Lambda Runtime API found in AWS_LAMBDA_RUNTIME_API: each "
    .. "invocation is a job {target, name, fields, concurrency, rate, repeat | duration} from "
    .. "`cargo-lambda invoke --workers`, answered with the load summary of that share and its "
    .. "latency histogram. Deploy this binary as the bootstrap of a custom runtime "
    .. "(provided.al2023), or run it under `cargo-lambda watch -- cargo-lambda load-worker`.",
  flags = {},
}

local JOB_FIELDS = { target = "table", name = "string", fields = "table",
  concurrency = "number", rate = "number", ["repeat"] = "number", duration = "number" }

local function check_job(job)
  if type(job) ~= "table" then
    return nil, "the job must be a JSON object from `cargo-lambda invoke --workers`"
  end
  for key, value in pairs(job) do
    if JOB_FIELDS[key] == nil then
      return nil, "unknown job field '" .. tostring(key) .. "'"
    elseif type(value) ~= JOB_FIELDS[key] then
      return nil, string.format("job field '%s' must be a %s", key, JOB_FIELDS[key])
    end
  end
  if job.target == nil or (job["repeat"] == nil) == (job.duration == nil) then
    return nil, "the job needs a target and exactly one of repeat and duration"
  end
  return true
end

-- One job: the load run of this share, its summary with the histogram encoded.
function M.handle(job)
  local ok, problem = check_job(job)
  if not ok then
    error(problem, 0)
  end
  local lambda = require("lambda")
  local client, message = lambda.client(job.target)
  if not client then
    error("the job's target: " .. message, 0)
  end
  local settings = {
    client = client, name = job.name, concurrency = math.tointeger(job.concurrency) or 1,
    rate = job.rate, duration = job.duration,
  }
  settings["repeat"] = job["repeat"] and math.tointeger(job["repeat"])
  for key, value in pairs(job.fields or {}) do
    settings[key] = value
  end
  local summary, failure = lambda.load(settings)
  if not summary then
    error(failure, 0)
  end
  local answer = {}
  for key, value in pairs(summary) do
    answer[key] = value
  end
  answer.histogram = summary.histogram:encode()
  return answer
end

function M.run()
  local _, problem = require("lambda.runtime").start(function(event)
    return M.handle(event)
  end)
  io.stderr:write("cargo-lambda load-worker: ", tostring(problem), "\n")
  return cli.EXIT_TRANSPORT
end

return M
