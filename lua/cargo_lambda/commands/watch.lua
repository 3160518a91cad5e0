-- `cargo-lambda watch`: the local emulator. Serves the Lambda Invoke API, function URLs and the
-- Runtime API; starts a function (cargo run --bin <name>, or the command after --) on its first
-- invocation; restarts it when the project changes.
local cli = require("cargo_lambda.cli")

local M = {
  name = "watch",
  summary = "Run the local Lambda emulator (Invoke API, Runtime API, function URLs)",
  description = "In a Cargo project the functions are its bin targets, built and started with "
    .. "'cargo run' on their first invocation and restarted when files change. After '--', "
    .. "any command runs as the function instead (any language: it finds the Runtime API in "
    .. "AWS_LAMBDA_RUNTIME_API). Stop with Ctrl-C.",
  rest = { name = "COMMAND", after_double_dash = true,
    help = "Command to run as the function instead of cargo run" },
  flags = {
    { long = "invoke-address", value = "ADDRESS", default = "localhost",
      help = "Address to listen on: localhost is 127.0.0.1 and ::1 (this machine only); "
        .. ":: or 0.0.0.0 is every interface, which lets anyone who reaches the port run "
        .. "your functions" },
    { long = "invoke-port", short = "P", value = "PORT", type = "port", default = 9000,
      help = "Port to listen on" },
    { long = "concurrency", value = "N", type = "uint", default = 1,
      help = "Instances per function; invocations beyond wait in order" },
    { long = "timeout", value = "SECONDS", type = "seconds", default = 900,
      help = "Time an invocation may run before it fails with AWS's timeout error" },
    { long = "init-timeout", value = "SECONDS", type = "seconds", default = 10,
      help = "Time a started function has to ask for work (AWS's Init phase; a build does "
        .. "not count) before its invocations fail and it is stopped" },
    { long = "max-instances", value = "N", type = "uint", default = 64,
      help = "Function instances alive at once, all functions together; at the cap an idle "
        .. "one is stopped, and with none idle invocations get TooManyRequestsException" },
    { long = "env-var", value = "KEY=VALUE", multiple = true, aliases = { "env-vars" },
      help = "Environment variable for the function (repeatable; also a comma-separated list)" },
    { long = "env-file", value = "PATH", help = "KEY=VALUE lines for the function's environment" },
    { long = "ignore-changes", aliases = { "no-reload" }, help = "Do not restart on file changes" },
    { long = "manifest-path", value = "PATH", help = "Cargo.toml of the project" },
    { long = "bin", value = "NAME", multiple = true, help = "Only these functions (repeatable)" },
    { long = "release", short = "r", help = "Build in release mode (cargo run --release)" },
    { long = "features", short = "F", value = "FEATURES", multiple = true,
      help = "Cargo features to enable (repeatable)" },
    { long = "all-features", help = "Enable every Cargo feature" },
    { long = "no-default-features", help = "Do not enable the default Cargo features" },
    { long = "region", value = "REGION", default = "us-east-1",
      help = "Region in the functions' ARNs and AWS_REGION" },
    { long = "tls-cert", value = "PATH", help = "Serve https with this certificate (PEM)" },
    { long = "tls-key", value = "PATH", help = "Key of --tls-cert (PEM)" },
    { long = "verbose", short = "v", type = "count",
      help = "Log every invocation on stderr (function, request id, outcome, duration), and "
        .. "the start of a command's instances" },
  },
}

local function fail(message)
  cli.print_error(message)
  return cli.EXIT_USAGE
end

local function say(text)
  io.stderr:write("cargo-lambda watch: " .. text .. "\n")
end

-- The flag behind each field of lambda.emulator's messages.
local FIELD_FLAGS = {
  project = "--manifest-path", bins = "--bin", address = "--invoke-address",
  port = "--invoke-port",
}

local function in_flag_terms(message, field)
  local flag = field and FIELD_FLAGS[field]
  if flag and message:sub(1, #field + 1) == field .. ":" then
    return flag .. message:sub(#field + 1)
  end
  return message
end

-- "12.3 ms", "3.0 s".
local function seconds_text(seconds)
  if seconds < 1 then
    return string.format("%.1f ms", seconds * 1000)
  end
  return string.format("%.1f s", seconds)
end

-- -v's line for one invocation (lambda.emulator's on_invocation record), e.g.
-- "invoke greeter 6f1c...: ok 12.3 ms", "url greeter ...: function error Handled.ValueError
-- 3.1 ms", "invoke greeter ...: timeout after 3.0 s", "event greeter ...: error
-- Runtime.ExitError, never ran (queued 1.2 s)".
local function invocation_line(record)
  local status
  if record.outcome == "ok" then
    status = "ok"
  elseif record.outcome == "function_error" then
    status = "function error " .. tostring(record.error_type)
  elseif record.outcome == "timeout" then
    status = "timeout"
  elseif record.outcome == "cancelled" then
    status = "cancelled: the invoker went away"
  else
    status = "error " .. tostring(record.error_type)
  end
  local timing
  if record.duration then
    timing = (record.outcome == "timeout" and " after " or " ") .. seconds_text(record.duration)
    if record.queued >= 0.001 then
      timing = timing .. " (queued " .. seconds_text(record.queued) .. ")"
    end
  else
    timing = ", never ran (queued " .. seconds_text(record.queued) .. ")"
  end
  -- The name comes from the request and the error type from the function: escaped, so that
  -- neither can break the line.
  return require("lambda.text").escape(string.format("%s %s %s: %s%s", record.route,
    record.function_name, record.request_id, status, timing))
end

local function user_environment(options)
  local emulator = require("lambda.emulator")
  local env = {}
  if options.env_file then
    local text, message = require("lambda.fs").read(options.env_file)
    if not text then
      return nil, "--env-file: " .. message
    end
    local values, problem = emulator.parse_env_file(text)
    if not values then
      return nil, string.format("--env-file: %s: %s", options.env_file, problem)
    end
    for k, v in pairs(values) do
      env[k] = v
    end
  end
  for _, item in ipairs(options.env_var or {}) do
    for piece in item:gmatch("[^,]+") do
      local key, value = emulator.parse_env_var(piece)
      if not key then
        return nil, "--env-var: " .. value
      end
      env[key] = value
    end
  end
  return env
end

function M.run(options, _, rest)
  if (options.tls_cert == nil) ~= (options.tls_key == nil) then
    cli.usage_error(M.name, "--tls-cert and --tls-key must be given together")
  end
  if options.concurrency < 1 then
    cli.usage_error(M.name, "--concurrency must be at least 1")
  end
  if options.max_instances < 1 then
    cli.usage_error(M.name, "--max-instances must be at least 1")
  end
  -- lambda.emulator.start's bounds (it raises on anything else).
  local max_seconds = require("lambda.emulator.limits").MAX_SECONDS
  for _, flag in ipairs({ "timeout", "init_timeout" }) do
    if options[flag] > max_seconds then
      cli.usage_error(M.name, string.format("--%s must be at most %d seconds",
        (flag:gsub("_", "-")), max_seconds))
    end
  end
  local env, env_error = user_environment(options)
  if not env then
    return fail(env_error)
  end
  local lambda = require("lambda")
  local project
  if #rest == 0 then
    project = options.manifest_path
    if project then
      local info = lambda.fs.stat(project)
      -- Like cargo, which wants the manifest itself, not the directory holding it.
      if info and info.type ~= "file" then
        return fail(string.format("--manifest-path: %s is %s, not a Cargo.toml file", project,
          info.type == "directory" and "a directory" or "a special file"))
      end
    else
      project = lambda.cargo.find_manifest() and true or nil
    end
  end
  local verbose = (options.verbose or 0) > 0
  local emulator, message, _, field = lambda.emulator.start({
    project = project,
    bins = options.bin,
    cargo = { release = options.release, features = options.features,
      all_features = options.all_features, no_default_features = options.no_default_features },
    watch = not options.ignore_changes,
    command = #rest > 0 and rest or nil,
    address = options.invoke_address,
    port = options.invoke_port,
    concurrency = options.concurrency,
    timeout = options.timeout,
    init_timeout = options.init_timeout,
    max_instances = options.max_instances,
    region = options.region,
    env = env,
    tls = options.tls_cert and { cert = options.tls_cert, key = options.tls_key } or nil,
    on_invocation = verbose and function(record)
      say(invocation_line(record))
    end or nil,
    on_status = function(text)
      -- Building and starting a project's functions is always said; a command's start only
      -- with -v.
      if verbose or not (#rest > 0 and text:match("^starting ")) then
        say(text)
      end
    end,
  })
  if not emulator then
    return fail(in_flag_terms(message, field))
  end
  local host = emulator.address == "localhost" and "localhost"
    or require("lambda.url").format_host(emulator.address)
  local scheme = options.tls_cert and "https" or "http"
  if emulator.project then
    say(string.format("serving %s on %s://%s:%d (functions: %s)", emulator.project, scheme,
      host, emulator.port, table.concat(emulator:functions(), ", ")))
  elseif #rest > 0 then
    say(string.format("serving '%s' on %s://%s:%d", table.concat(rest, " "), scheme, host,
      emulator.port))
  else
    say(string.format("no Cargo project and no command: functions started by hand find the "
      .. "Runtime API at AWS_LAMBDA_RUNTIME_API=%s:%d/.rt/<name>", emulator.reachable,
      emulator.port))
  end
  lambda.spawn(function()
    lambda.wait_signal("INT", "TERM")
    say("stopping")
    emulator:stop()
  end):wait()
  return cli.EXIT_OK
end

return M
