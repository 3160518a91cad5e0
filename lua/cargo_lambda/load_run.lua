-- `invoke --repeat N | --duration S`: a load run from this machine (lambda.load), or spread
-- over load workers on AWS Lambda (or an emulator) with --workers. Prints a progress line on a
-- terminal and the summary (text, or JSON with -o json); the exit status is 0 when the run
-- completed whatever the errors, 1 past a threshold (--max-error-rate, --max-p99), 130 when
-- Ctrl-C ended it (the summary of what ran is printed first).
local cli = require("cargo_lambda.cli")

local M = {}

-- What a load worker needs to reach the target (never credentials: a worker on AWS uses its
-- own execution role).
local function target_of(options)
  if options.remote then
    return { remote = true, region = options.region, endpoint_url = options.endpoint_url,
      retry_attempts = options.retry_attempts }
  end
  local tls = false
  if options.tls_cert or options.tls_key or options.tls_ca then
    tls = { cert = options.tls_cert, key = options.tls_key, ca = options.tls_ca }
  end
  return { address = options.invoke_address, port = options.invoke_port, tls = tls }
end

local function worker_client(options, target_client)
  local lambda = require("lambda")
  if options.remote then
    local settings = target_client:settings()
    return lambda.client({ remote = true, profile = options.profile,
      region = options.worker_region or (settings and settings.region) or options.region,
      endpoint_url = options.endpoint_url, retry_attempts = options.retry_attempts })
  end
  return lambda.client({ address = options.worker_address or options.invoke_address,
    port = options.worker_port or options.invoke_port, tls = false })
end

-- The run spread over W workers: each runs the same loop on its share (repeat: N split as
-- evenly as it goes; duration: all of it; rate: split), the summaries merge into one.
local function run_on_workers(options, client, name, fields)
  local lambda = require("lambda")
  local workers = options.workers
  local workers_client, message = worker_client(options, client)
  if not workers_client then
    return nil, message
  end
  local requests = {}
  local total = options["repeat"]
  for i = 1, workers do
    local job = {
      target = target_of(options),
      name = name,
      fields = { payload = fields.payload, qualifier = fields.qualifier,
        invocation_type = fields.invocation_type, log_type = fields.log_type,
        client_context = fields.client_context },
      concurrency = options.concurrency or 1,
      rate = options.rate and options.rate / workers or nil,
      duration = options.duration,
    }
    if total then
      job["repeat"] = total // workers + (i <= total % workers and 1 or 0)
    end
    if not total or job["repeat"] > 0 then
      requests[#requests + 1] = { name = options.worker_function, payload = job,
        timeout = options.duration and options.duration + 120 or nil }
    end
  end
  local results, problem = workers_client:invoke_all(requests, { concurrency = #requests })
  if not results then
    return nil, problem
  end
  local parts = {}
  for i, result in ipairs(results) do
    if not result.ok then
      return nil, string.format("load worker %d (%s) failed: %s", i, options.worker_function,
        result.error.line)
    end
    local part, decode_problem = result:json()
    if type(part) ~= "table" or type(part.histogram) ~= "string" then
      return nil, string.format("load worker %d answered something that is not a load summary%s",
        i, decode_problem and (": " .. decode_problem) or "")
    end
    local histogram, histogram_problem = lambda.histogram.decode(part.histogram)
    if not histogram then
      return nil, string.format("load worker %d: %s", i, histogram_problem)
    end
    part.histogram = histogram
    parts[#parts + 1] = part
  end
  return require("lambda.load").merge(parts)
end

-- Returns the exit status, or status, message, field for a problem found before the run.
function M.run(options, client, name, fields)
  if options["repeat"] and options.duration then
    cli.usage_error("invoke", "--repeat and --duration cannot be used together")
  end
  if (options.workers ~= nil) ~= (options.worker_function ~= nil) then
    cli.usage_error("invoke", "--workers and --worker-function must be given together")
  end
  if options["repeat"] == 0 or options.concurrency == 0 or options.workers == 0 then
    cli.usage_error("invoke", "--repeat, --concurrency and --workers must be at least 1")
  end
  local report = require("cargo_lambda.load_report")
  local lambda = require("lambda")
  local event = require("lambda.event")
  local interrupted = false
  local on_interrupt = event.on_signal("INT", function()
    interrupted = true
  end)
  local show, clear
  if require("lambda.fs").isatty("stderr") and not options.workers then
    show, clear = report.progress(options["repeat"])
  end
  local summary, message, kind, field
  if options.workers then
    summary, message = run_on_workers(options, client, name, fields)
    kind = "service"
  else
    local settings = {
      client = client, name = name, concurrency = options.concurrency or 1, rate = options.rate,
      duration = options.duration, should_stop = function()
        return interrupted
      end, on_progress = show,
    }
    settings["repeat"] = options["repeat"]
    for key, value in pairs(fields) do
      settings[key] = value
    end
    summary, message, kind, field = lambda.load(settings)
  end
  on_interrupt:cancel()
  if clear then
    clear()
  end
  if not summary then
    local status = (kind == "input" or kind == "not_found") and cli.EXIT_USAGE
      or cli.EXIT_TRANSPORT
    return status, message, field
  end
  if options.output_format == "json" then
    io.stdout:write(report.json(summary), "\n")
  else
    io.stdout:write(report.text(summary))
  end
  io.stdout:flush()
  if summary.interrupted or interrupted then
    return 130
  end
  local crossed = report.threshold(summary, options)
  if crossed then
    io.stderr:write("error: ", crossed, "\n")
    return cli.EXIT_FUNCTION_ERROR
  end
  return cli.EXIT_OK
end

return M
