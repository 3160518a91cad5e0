-- `invoke --repeat N | --duration S`: a load run from this machine (lambda.load), or spread
-- over load workers on AWS Lambda (or an emulator) with --workers. Prints a progress line on a
-- terminal and the summary (text, or JSON with -o json); the exit status is 0 when the run
-- completed whatever the errors, 1 past a threshold (--max-error-rate, --max-p99), 130 when
-- Ctrl-C ended it (the summary of what ran is printed first).
local cli = require("cargo_lambda.cli")

local M = {}

-- The lambda.client fields by which load workers reach the target (never credentials: a
-- worker on AWS uses its own execution role).
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

-- Where the workers are invoked: where the target is, unless --worker-address/--worker-port
-- (local) or --worker-region (remote) say otherwise.
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
  if options.workers then
    local workers, message, kind, field = worker_client(options, client)
    if not workers then
      return cli.exit_status_for(kind, field), message
    end
    settings.workers = { count = options.workers, name = options.worker_function,
      client = workers, target = target_of(options) }
    settings.client = nil
  end
  local summary, message, kind, field = lambda.load(settings)
  on_interrupt:cancel()
  if clear then
    clear()
  end
  if not summary then
    return cli.exit_status_for(kind, field), message, field
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
    cli.print_error(crossed)
    return cli.EXIT_FUNCTION_ERROR
  end
  return cli.EXIT_OK
end

return M
