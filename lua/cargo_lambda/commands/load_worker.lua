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

function M.run()
  local _, problem = require("lambda.runtime").start(require("lambda.load").worker)
  io.stderr:write("cargo-lambda load-worker: " .. tostring(problem) .. "\n")
  return cli.EXIT_TRANSPORT
end

return M
