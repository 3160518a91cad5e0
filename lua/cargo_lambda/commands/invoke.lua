-- `cargo-lambda invoke`: send a payload to a function and print its answer.
local cli = require("cargo_lambda.cli")
local text = require("lambda.text")

local M = {
  name = "invoke",
  summary = "Send a payload to a Lambda function and print its answer",
  description = "Invokes FUNCTION_NAME on the local emulator (cargo lambda watch). Without a "
    .. "name, the single function of the Cargo project around the current directory is "
    .. "invoked, or the emulator's default function '_' outside a project. Exactly one of "
    .. "--data-ascii, --data-file and --data-example gives the payload. Exit status: 0 "
    .. "success, 1 the function returned an error, 2 usage or input error, 3 the emulator "
    .. "could not be reached.",
  positionals = {
    { name = "FUNCTION_NAME", help = "Name of the function to invoke" },
  },
  flags = {
    { long = "data-ascii", short = "A", value = "DATA", help = "Payload given inline" },
    { long = "data-file", short = "F", value = "PATH",
      help = "Payload read from a file, FIFO or device ('-' reads standard input); more than "
        .. "6 MB (1 MB with --invocation-type Event) is refused while reading" },
    { long = "data-example", short = "E", value = "NAME",
      help = "Name of an example event (e.g. apigw-request: letters, digits, '-', '_', '.'), "
        .. "downloaded once and cached" },
    { long = "skip-cache", help = "Download --data-example again; neither read nor write the cache" },
    { long = "invoke-address", value = "ADDRESS", default = "localhost",
      help = "Address of the emulator (a host name or an IP address, without port: see -P); "
        .. "localhost tries ::1 and 127.0.0.1" },
    { long = "invoke-port", short = "P", value = "PORT", type = "port", default = 9000,
      help = "Port of the emulator" },
    { long = "manifest-path", value = "PATH",
      help = "Cargo.toml that names the function when FUNCTION_NAME is left out" },
    { long = "client-context-ascii", value = "JSON", help = "Client context given inline" },
    { long = "client-context-file", value = "PATH",
      help = "Client context read from a file (wins over --client-context-ascii)" },
    { long = "identity-id", value = "ID", help = "Cognito identity id (needs --identity-pool-id)" },
    { long = "identity-pool-id", value = "ID", help = "Cognito identity pool id (needs --identity-id)" },
    { long = "output-format", short = "o", value = "FORMAT", choices = { "text", "json" },
      default = "text", help = "How to print the answer; json pretty-prints it" },
    { long = "remote", short = "R", help = "Invoke the function deployed on AWS Lambda" },
    { long = "profile", short = "p", value = "PROFILE",
      help = "AWS profile for --remote (default: AWS_PROFILE, else default)" },
    { long = "region", short = "r", value = "REGION",
      help = "AWS region for --remote (default: AWS_REGION, AWS_DEFAULT_REGION, the profile's, us-east-1)" },
    { long = "alias", short = "a", value = "ALIAS", aliases = { "qualifier" },
      help = "Alias or version to invoke with --remote" },
    { long = "endpoint-url", value = "URL",
      help = "Lambda endpoint for --remote (default: AWS_ENDPOINT_URL_LAMBDA, AWS_ENDPOINT_URL, AWS's)" },
    { long = "retry-attempts", value = "N", type = "uint",
      help = "Attempts for --remote when Lambda throttles (429) or fails (5xx) (default: "
        .. "AWS_MAX_ATTEMPTS, the profile's max_attempts or retry_mode, else 1 = no retry)" },
    { long = "mfa-token", value = "CODE",
      help = "MFA code for --remote with a profile whose role has mfa_serial (default: asked "
        .. "on the terminal)" },
    { long = "invocation-type", value = "TYPE", choices = { "RequestResponse", "Event", "DryRun" },
      help = "Event runs asynchronously (202, payload limit 1 MB instead of 6 MB), DryRun only "
        .. "checks access (204); nothing is printed" },
    { long = "log-type", value = "TYPE", choices = { "None", "Tail" },
      help = "Tail prints the end of the function's log (X-Amz-Log-Result) on stderr" },
    { long = "stream", help = "Invoke with InvokeWithResponseStream and print each chunk of the "
      .. "answer as it arrives (with -o json: the whole answer, pretty-printed at the end)" },
    { long = "timeout", value = "SECONDS", type = "seconds",
      help = "Give up when the answer takes longer (default: wait for it); also bounds the wait "
        .. "for --data-file from a FIFO or standard input, and for a credential_process or a "
        .. "typed MFA code with --remote (default 60 s there)" },
    { long = "tls-cert", value = "PATH", help = "Client certificate (PEM) for https" },
    { long = "tls-key", value = "PATH", help = "Key of the client certificate (PEM)" },
    { long = "tls-ca", value = "PATH", help = "CA certificates (PEM) that vouch for the emulator" },
    { long = "verbose", short = "v", type = "count",
      help = "Print the request, the answer's headers and timing on stderr" },
    -- Load runs (cargo_lambda/load_run.lua).
    { long = "repeat", value = "N", type = "uint",
      help = "Load run: invoke N times and print a summary (count, errors, throughput, latency)" },
    { long = "duration", value = "SECONDS", type = "seconds",
      help = "Load run: invoke for this long and print a summary" },
    { long = "concurrency", short = "c", value = "N", type = "uint",
      help = "Load run: invocations in flight at once (default 1; per worker with --workers)" },
    { long = "rate", value = "PER_SECOND", type = "seconds",
      help = "Load run: start this many invocations per second, latency measured from each "
        .. "scheduled start" },
    { long = "max-error-rate", value = "FRACTION", type = "fraction",
      help = "Load run: exit 1 when the share of failed invocations is over this (e.g. 0.01)" },
    { long = "max-p99", value = "SECONDS", type = "seconds",
      help = "Load run: exit 1 when the p99 latency is over this" },
    { long = "workers", value = "W", type = "uint",
      help = "Load run spread over W invocations of a load worker function (--worker-function)" },
    { long = "worker-function", value = "NAME",
      help = "The function running `cargo-lambda load-worker` that --workers invokes" },
    { long = "worker-address", value = "ADDRESS",
      help = "Emulator of the workers (default: the target's)" },
    { long = "worker-port", value = "PORT", type = "port",
      help = "Port of the workers' emulator (default: the target's)" },
    { long = "worker-region", value = "REGION",
      help = "Region of the workers with --remote (default: the target's)" },
  },
}

local function fail(status, message)
  cli.print_error(message)
  return status
end

-- Client contexts travel in a header; the emulator takes 64 KiB of headers, AWS 3,583 bytes
-- of base64 (checked by lambda.client).
local MAX_CLIENT_CONTEXT_FILE = 64 * 1024

-- Reads a file given to flag ('-': standard input) without reading more than max_bytes + 1
-- bytes, and within timeout (nil: no bound) when it comes from a FIFO, pipe or terminal.
-- Returns the data or nil, message, kind ("too_large", "timeout", "not_found", "io", "input").
local function read_file(flag, path, max_bytes, timeout)
  local fs = require("lambda.fs")
  local limits = { max_bytes = max_bytes, timeout = timeout, special = true }
  local data, message, kind
  if path == "-" then
    data, message, kind = fs.read_stdin(limits)
  else
    data, message, kind = fs.read(path, limits)
  end
  if data then
    return data
  end
  if kind == "timeout" then
    return nil, string.format("%s: %s (--timeout)", flag, message), kind
  elseif kind ~= "too_large" then
    return nil, string.format("%s: cannot read %s", flag, message), kind
  end
  return nil, message, kind
end

-- The payload and the flag it came from, or nil, message, exit status. Payloads over the
-- invocation type's limit are refused before anything is sent; files are not read past it.
local function read_payload(options)
  local given = {}
  for _, flag in ipairs({ "data_ascii", "data_file", "data_example" }) do
    if options[flag] then
      given[#given + 1] = flag
    end
  end
  if #given ~= 1 then
    cli.usage_error(M.name, (#given == 0 and "no payload given" or "more than one payload given")
      .. ": use exactly one of --data-ascii, --data-file or --data-example")
  end
  local invoke = require("lambda.client")
  local limit = invoke.payload_limit(options.invocation_type)
  local function too_large(subject)
    return nil, invoke.payload_limit_message(subject, options.invocation_type), cli.EXIT_USAGE
  end
  if options.data_ascii then
    if #options.data_ascii > limit then
      return too_large(string.format("--data-ascii: the payload (%d bytes)",
        #options.data_ascii))
    end
    return options.data_ascii
  elseif options.data_file then
    local path = options.data_file
    local data, message, kind = read_file("--data-file", path, limit, options.timeout)
    if kind == "too_large" then
      return too_large("--data-file: " .. (path == "-" and "standard input" or path))
    elseif not data then
      return nil, message, cli.EXIT_USAGE
    end
    return data
  end
  local examples = require("lambda.examples")
  local data, message, kind = examples.fetch(options.data_example, {
    skip_cache = options.skip_cache,
    timeout = options.timeout,
    max_bytes = limit,
    on_warning = function(warning)
      io.stderr:write("warning: ", text.escape(warning), "\n")
    end,
  })
  if kind == "too_large" or (data and #data > limit) then
    local file = examples.normalize(options.data_example)
    return too_large(data and string.format("--data-example: %s (%d bytes)", file, #data)
      or ("--data-example: " .. file))
  elseif not data then
    local unreachable = kind == "transport" or kind == "timeout" or kind == "service"
    return nil, "--data-example: " .. message, unreachable and cli.EXIT_TRANSPORT or cli.EXIT_USAGE
  end
  return data
end

-- The client context's text and the flag it came from (lambda.client checks it is JSON).
local function read_client_context(options)
  local context, flag
  if options.client_context_file then
    flag = "--client-context-file"
    local message, kind
    context, message, kind = read_file(flag, options.client_context_file,
      MAX_CLIENT_CONTEXT_FILE, options.timeout)
    if kind == "too_large" then
      return nil, string.format("%s: %s is larger than %d bytes", flag,
        options.client_context_file, MAX_CLIENT_CONTEXT_FILE)
    elseif not context then
      return nil, message
    end
  elseif options.client_context_ascii then
    flag, context = "--client-context-ascii", options.client_context_ascii
  else
    return false
  end
  return context, flag
end

-- -v output. Everything goes through redact() first: with --remote the request head carries
-- a signature and possibly a session token.
local function print_verbose_request(target, trace, redact)
  io.stderr:write("> POST ", target, "\n")
  for line in (trace or ""):gmatch("[^\r\n]+") do
    if not line:match("^POST ") then
      io.stderr:write("> ", redact(line), "\n")
    end
  end
end

-- streamed: {bytes, first_byte} of a streamed answer, whose body the response does not hold.
local function print_verbose_response(response, redact, streamed)
  io.stderr:write(string.format("< HTTP %d from %s port %s\n", response.status,
    tostring(response.primary_ip), tostring(response.primary_port)))
  for _, pair in ipairs(response.header_list or {}) do
    io.stderr:write("< ", pair[1], ": ", redact(pair[2]), "\n")
  end
  if streamed then
    io.stderr:write(string.format("* %d bytes streamed in %.3f ms (connect %.3f ms, first "
      .. "chunk %s)\n", streamed.bytes, (response.elapsed or 0) * 1000,
      (response.connect_elapsed or 0) * 1000, streamed.first_byte
        and string.format("%.3f ms", streamed.first_byte * 1000) or "none"))
    return
  end
  io.stderr:write(string.format("* %d bytes in %.3f ms (connect %.3f ms)\n", #response.body,
    (response.elapsed or 0) * 1000, (response.connect_elapsed or 0) * 1000))
end

local function no_redaction(text)
  return text
end

-- Prints a successful answer: nothing for Event (202) and DryRun (204), else the body.
local function print_answer(options, status, body)
  if status == 202 or status == 204 then
    return cli.EXIT_OK
  end
  if options.output_format == "json" then
    local pretty, json_error = require("lambda.json").pretty(body)
    if not pretty then
      return fail(cli.EXIT_FUNCTION_ERROR, "--output-format json: the function's answer is "
        .. "not JSON: " .. json_error)
    end
    body = pretty
  end
  io.stdout:write(body, "\n")
  return cli.EXIT_OK
end

local function print_log(log_result)
  if log_result and log_result ~= "" then
    io.stderr:write(log_result)
    if log_result:sub(-1) ~= "\n" then
      io.stderr:write("\n")
    end
  end
end

-- The flag behind each field of lambda.client's messages (nil, message, kind, field).
local FIELD_FLAGS = {
  address = "--invoke-address", port = "--invoke-port", ["tls.cert"] = "--tls-cert",
  ["tls.key"] = "--tls-key", ["tls.ca"] = "--tls-ca", manifest = "--manifest-path",
  name = "FUNCTION_NAME", invocation_type = "--invocation-type", log_type = "--log-type",
  stream = "--stream",
  profile = "--profile", region = "--region", endpoint_url = "--endpoint-url",
  timeout = "--timeout", mfa_token = "--mfa-token",
}

-- A library message "<field>: problem" told in the user's terms: "<flag>: problem".
local function in_flag_terms(message, field, flags)
  local flag = field and (flags[field] or FIELD_FLAGS[field])
  if flag and message:sub(1, #field + 1) == field .. ":" then
    message = flag .. message:sub(#field + 1)
  end
  -- Fields named inside the message too ("tls.cert needs tls.key").
  message = message:gsub("tls%.(%a+)", function(which)
    return FIELD_FLAGS["tls." .. which] or ("tls." .. which)
  end)
  return (message:gsub("give the port on its own$", "use -P for the port"))
end

local function new_client(options)
  if options.remote then
    return require("lambda").client({
      remote = true,
      profile = options.profile,
      region = options.region,
      endpoint_url = options.endpoint_url,
      retry_attempts = options.retry_attempts,
      timeout = options.timeout,
      mfa_token = options.mfa_token,
    })
  end
  local tls
  if options.tls_cert or options.tls_key or options.tls_ca then
    tls = { cert = options.tls_cert, key = options.tls_key, ca = options.tls_ca }
  end
  return require("lambda").client({
    address = options.invoke_address,
    port = options.invoke_port,
    tls = tls,
    timeout = options.timeout,
  })
end

-- What --stream has written on stdout so far, chunk by chunk as they arrive.
local function stdout_stream()
  local written = { bytes = 0, last = "" }
  function written.write(chunk)
    io.stdout:write(chunk)
    io.stdout:flush()
    written.bytes = written.bytes + #chunk
    written.last = chunk:sub(-1)
  end
  -- Ends the output with a line break, unless it is empty or has one.
  function written.close_line()
    if written.bytes > 0 and written.last ~= "\n" then
      io.stdout:write("\n")
    end
  end
  return written
end

-- Prints the outcome of an invocation and returns the exit status. written: stdout_stream()
-- when the chunks were printed as they came.
local function report(options, client, result, written)
  local redact = no_redaction
  if options.remote then
    local settings = client:settings()
    redact = function(line)
      return require("lambda.aws").redact(line, settings and settings.credentials)
    end
    if options.verbose > 0 and settings then
      io.stderr:write(string.format("* profile %s, region %s, credentials from %s\n",
        settings.profile, settings.region, settings.credentials.source or "?"))
    end
  end
  if written then
    written.close_line()
  end
  if options.verbose > 0 then
    print_verbose_request(result.url, result.response and result.response.request_head, redact)
    if result.response then
      local streamed = options.stream and result.status == 200 and {
        bytes = written and written.bytes or #(result.body or ""),
        first_byte = result.first_byte } or nil
      print_verbose_response(result.response, redact, streamed)
    end
  end
  print_log(result.log)
  local problem = result.error
  if problem and problem.source == "transport" then
    if problem.detail == "refused" and not options.remote then
      return fail(cli.EXIT_TRANSPORT, string.format("%s: connection refused: is the emulator "
        .. "running? Start it with 'cargo lambda watch'", result.url))
    end
    return fail(cli.EXIT_TRANSPORT, redact(problem.message))
  elseif problem then
    io.stderr:write("Error: ", redact(problem.line), "\n")
    return problem.source == "service" and cli.EXIT_TRANSPORT or cli.EXIT_FUNCTION_ERROR
  end
  if written then -- printed already
    return cli.EXIT_OK
  end
  local body = result.body
  -- The original prints OK when a synchronous invoke on AWS answers without a payload.
  if options.remote and not options.stream and result.status == 200 and body == "" then
    io.stdout:write("OK\n")
    return cli.EXIT_OK
  end
  return print_answer(options, result.status, body)
end

-- Where a Cargo project's bin targets come from (lambda.cargo follows cargo's rules).
function M.run(options, positionals)
  options.verbose = options.verbose or 0
  if (options.identity_id == nil) ~= (options.identity_pool_id == nil) then
    cli.usage_error(M.name, "--identity-id and --identity-pool-id must be given together")
  end
  if options.stream and options.invocation_type == "Event" then
    cli.usage_error(M.name, "--stream cannot be used with --invocation-type Event (an Event "
      .. "invocation has no answer to stream)")
  end
  if options.mfa_token and not options.remote then
    cli.usage_error(M.name, "--mfa-token needs --remote")
  end
  if options.remote then
    for _, flag in ipairs({ "tls_cert", "tls_key", "tls_ca", "identity_id" }) do
      if options[flag] then
        cli.usage_error(M.name, string.format("--%s cannot be used with --remote",
          (flag:gsub("_", "-"))))
      end
    end
  end
  -- The client (and so the address and the TLS files) is checked before the payload is
  -- read: reading may wait (a FIFO).
  local client, message, kind, field = new_client(options)
  if not client then
    return fail(cli.EXIT_USAGE, in_flag_terms(message, field, {}))
  end
  local payload, payload_error, payload_status = read_payload(options)
  if not payload then
    return fail(payload_status, payload_error)
  end
  local client_context, context_flag = read_client_context(options)
  if client_context == nil then
    return fail(cli.EXIT_USAGE, context_flag)
  end
  local payload_flag = options.data_ascii and "--data-ascii" or options.data_file
    and "--data-file" or "--data-example"
  local name = positionals[1]
  local fields = {
    payload = payload,
    client_context = client_context or nil,
    identity = options.identity_id and { id = options.identity_id,
      pool_id = options.identity_pool_id } or nil,
    qualifier = options.alias,
    invocation_type = options.invocation_type,
    log_type = options.log_type,
    manifest = options.manifest_path,
    trace = options.verbose > 0,
    on_retry = function(attempt, delay, why, attempts)
      local settings = client:settings()
      io.stderr:write(string.format("warning: %s; attempt %d of %d in %.1f s\n",
        require("lambda.aws").redact(why, settings and settings.credentials), attempt,
        attempts or options.retry_attempts, delay))
    end,
  }
  local flags = { payload = payload_flag, client_context = context_flag }
  if options["repeat"] or options.duration then
    fields.trace = nil
    fields.stream = options.stream or nil
    local status, problem, problem_field = require("cargo_lambda.load_run").run(options, client,
      name, fields)
    if problem then
      return fail(status, in_flag_terms(problem, problem_field, flags))
    end
    return status
  end
  local written
  if options.stream then
    -- Text: each chunk on stdout as it arrives; json: the whole answer first.
    written = options.output_format ~= "json" and stdout_stream() or nil
    fields.stream = written and written.write or true
  end
  local result
  result, message, kind, field = client:invoke(name, fields)
  if not result then
    return fail(cli.exit_status_for(kind, field), in_flag_terms(message, field, flags))
  end
  return report(options, client, result, written)
end

return M
