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
    { long = "verbose", short = "v", type = "count", help = "Log every invocation" },
  },
}

local function fail(message)
  io.stderr:write("error: ", message, "\n")
  return cli.EXIT_USAGE
end

local function say(text)
  io.stderr:write("cargo-lambda watch: ", text, "\n")
end

local function user_environment(options)
  local launcher = require("lambda.emulator.launcher")
  local env = {}
  if options.env_file then
    local text, message = require("lambda.fs").read(options.env_file)
    if not text then
      return nil, "--env-file: " .. message
    end
    local values, problem = launcher.parse_env_file(text)
    if not values then
      return nil, string.format("--env-file: %s: %s", options.env_file, problem)
    end
    for k, v in pairs(values) do
      env[k] = v
    end
  end
  for _, item in ipairs(options.env_var or {}) do
    for piece in item:gmatch("[^,]+") do
      local key, value = launcher.parse_env_var(piece)
      if not key then
        return nil, value
      end
      env[key] = value
    end
  end
  return env
end

-- The manifest's [package.metadata.lambda.env] and [package.metadata.lambda.bin.<name>.env].
-- Read again at every start of an instance, as the original does: an edit of Cargo.toml
-- restarts the functions, and the restarted ones must see the new values.
local function manifest_environment(project)
  local toml = require("lambda.toml")
  local manifest_of = {}
  for _, package in ipairs(project.packages) do
    for _, bin in ipairs(package.bins) do
      manifest_of[bin] = manifest_of[bin] or package.manifest
    end
  end
  return function(name)
    local env = {}
    local text = manifest_of[name] and require("lambda.fs").read(manifest_of[name])
    -- A manifest made unreadable by an edit gives no values; cargo run reports its error.
    local doc = text and toml.decode(text)
    local lambda = type(doc) == "table" and type(doc.package) == "table"
      and type(doc.package.metadata) == "table" and doc.package.metadata.lambda
    if type(lambda) ~= "table" then
      return env
    end
    local bins = type(lambda.bin) == "table" and lambda.bin or {}
    local own = type(bins[name]) == "table" and bins[name].env or nil
    for _, source in ipairs({ lambda.env, own }) do
      if type(source) == "table" then
        for k, v in pairs(source) do
          -- Strings, numbers and booleans; a table has no sensible text form.
          if type(v) ~= "table" then
            env[k] = tostring(v)
          end
        end
      end
    end
    return env
  end
end

-- Which names may be invoked, and what `_` means.
local function new_registry(functions, any_name, region)
  local registry = {}
  local known = {}
  -- The project's functions, again after a change to it (a bin added or removed).
  function registry.set_functions(list)
    functions, known = list, {}
    for _, name in ipairs(list) do
      known[name] = true
    end
  end
  registry.set_functions(functions)
  function registry.default_name()
    if #functions == 1 then
      return functions[1]
    end
    return "_"
  end
  function registry.resolve(name)
    if name == "" then
      name = "_"
    end
    if any_name then
      return name
    end
    if name == "_" then
      if #functions == 1 then
        return functions[1]
      end
      return nil, 404, "ResourceNotFoundException", string.format("Function not found: the "
        .. "project has several functions, name one of them: %s", table.concat(functions, ", "))
    end
    if known[name] then
      return name
    end
    local arn = require("lambda.emulator.ids").function_arn(region, name)
    return nil, 404, "ResourceNotFoundException", string.format("Function not found: %s "
      .. "(functions: %s)", arn, #functions > 0 and table.concat(functions, ", ") or "none")
  end
  return registry
end

local function cargo_arguments(options)
  local args = {}
  if options.release then
    args[#args + 1] = "--release"
  end
  for _, features in ipairs(options.features or {}) do
    args[#args + 1] = "--features"
    args[#args + 1] = features
  end
  if options.all_features then
    args[#args + 1] = "--all-features"
  end
  if options.no_default_features then
    args[#args + 1] = "--no-default-features"
  end
  return args
end

local function load_project(options)
  local cargo = require("lambda.cargo")
  local manifest = options.manifest_path
  if manifest then
    local info = require("lambda.fs").stat(manifest)
    if not info then
      return nil, string.format("--manifest-path: %s does not exist", manifest)
    elseif info.type ~= "file" then
      -- Like cargo, which wants the manifest itself, not the directory holding it.
      return nil, string.format("--manifest-path: %s is %s, not a Cargo.toml file", manifest,
        info.type == "directory" and "a directory" or "a special file")
    end
  else
    manifest = cargo.find_manifest()
    if not manifest then
      return false
    end
  end
  local project, message = cargo.project(manifest)
  if not project then
    return nil, message
  end
  if options.bin then
    local wanted, chosen = {}, {}
    for _, name in ipairs(options.bin) do
      wanted[name] = true
    end
    for _, name in ipairs(project.functions) do
      if wanted[name] then
        chosen[#chosen + 1] = name
        wanted[name] = nil
      end
    end
    local missing = next(wanted)
    if missing then
      return nil, string.format("--bin: %s is not a function of %s (functions: %s)", missing,
        project.manifest, table.concat(project.functions, ", "))
    end
    project.functions = chosen
  end
  if #project.functions == 0 then
    return nil, project.manifest .. " has no bin targets: nothing to run as a function"
  end
  return project
end

-- Restarts the functions when files under root change, then calls after_change (which
-- re-reads the project).
local function start_watching(event, pool, root, after_change)
  local ignored = require("lambda.emulator.ignore").new(root)
  return event.watch_tree(root, { ignore = ignored, debounce = 0.3 }, function(reported)
    -- Asked again once things settled: a directory cargo has just created is known to be a
    -- build directory only by the CACHEDIR.TAG it writes a moment later.
    local changes = {}
    for _, change in ipairs(reported) do
      if change.kind == "overflow" or not ignored(change.path, change.is_dir) then
        changes[#changes + 1] = change
      end
    end
    if #changes == 0 then
      return
    end
    local first = changes[1]
    say(string.format("%s changed%s: restarting functions", first and first.path or "a file",
      #changes > 1 and string.format(" (and %d more)", #changes - 1) or ""))
    pool:restart_all("recompiling function")
    after_change()
  end)
end

local function same_names(a, b)
  return table.concat(a, "\0") == table.concat(b, "\0")
end

-- Errors that mean "this machine has no IPv6 loopback" rather than a real problem with ::1.
local function no_ipv6(message)
  return message:find("Cannot assign requested address", 1, true)
    or message:find("Address family not supported", 1, true)
end

-- The main servers: `localhost` is 127.0.0.1 and ::1 on the same port, one handler (so every
-- client that resolves localhost either way reaches it; ::1 is left out, silently, when the
-- machine has no IPv6); any other address is one server. Returns a list or nil, message.
function M.listen(event, config, address, port)
  local function on(host, chosen_port)
    local settings = {}
    for key, value in pairs(config) do
      settings[key] = value
    end
    settings.address, settings.port = host, chosen_port
    return event.http_server(settings)
  end
  if address ~= "localhost" then
    local server, problem = on(address, port)
    return server and { server } or nil, problem
  end
  local v4, problem = on("127.0.0.1", port)
  if not v4 then
    return nil, problem
  end
  local v6, v6_problem = on("::1", v4:port())
  if v6 then
    return { v4, v6 }
  elseif no_ipv6(v6_problem) then
    return { v4 }
  end
  v4:close()
  return nil, v6_problem
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
  local env, env_error = user_environment(options)
  if not env then
    return fail(env_error)
  end
  local event = require("lambda.event")
  local launcher_module = require("lambda.emulator.launcher")
  local pool_module = require("lambda.emulator.pool")
  -- Descendants that leave their process group (setsid, a double fork) are reparented to
  -- watch instead of init, so that a restart or Ctrl-C still ends them. Old kernels lack it:
  -- then they escape, as before.
  event.subreaper()

  local function print_line(name, line)
    io.stdout:write("[", name, "] ", line, "\n")
    io.stdout:flush()
  end

  local project, functions, launcher_options = nil, {}, nil
  local cwd = require("lambda.fs").cwd()
  if #rest > 0 then
    launcher_options = { command = rest, cwd = cwd }
  else
    local problem
    project, problem = load_project(options)
    if project == nil then
      return fail(problem)
    end
    if project then
      functions = project.functions
      launcher_options = {
        cargo = { program = os.getenv("CARGO") or "cargo", manifest = project.manifest,
          args = cargo_arguments(options) },
        function_env = manifest_environment(project),
        cwd = project.workspace_root,
      }
    end
  end
  if launcher_options then
    launcher_options.env = env
    launcher_options.region = options.region
    launcher_options.on_start = function(instance, argv)
      if (options.verbose or 0) > 0 or not launcher_options.command then
        say(string.format("starting %s: %s", instance.function_name, table.concat(argv, " ")))
      end
    end
  end

  local pool = pool_module.new({
    concurrency = options.concurrency,
    timeout = options.timeout,
    init_timeout = options.init_timeout,
    max_instances = options.max_instances,
    region = options.region,
    print = print_line,
    launcher = launcher_options and launcher_module.new(launcher_options) or nil,
  })
  pool.extensions = require("lambda.emulator.extensions").new()
  local emulator = {
    pool = pool,
    print = print_line,
    region = options.region,
    -- Any name is a function unless a Cargo project lists them (project is false, not nil,
    -- when there is neither a project nor a command: functions are then started by hand).
    registry = new_registry(functions, not project, options.region),
  }
  local server_module = require("lambda.emulator.server")
  local servers, listen_error = M.listen(event, {
    handler = server_module.handler(emulator),
    -- Only a runtime's /response is read as it arrives; an Invoke request that happens to
    -- carry the streaming header is still a whole payload.
    stream_body = function(request)
      local runtime_path = request.path:find("/2018-06-01/runtime/", 1, true)
      return runtime_path ~= nil and require("lambda.emulator.runtime_api").streams_body(request)
    end,
    max_body = server_module.max_body(emulator),
    too_large = server_module.too_large(emulator),
    tls = options.tls_cert and { cert = options.tls_cert, key = options.tls_key } or nil,
  }, options.invoke_address, options.invoke_port)
  if not servers then
    return fail(listen_error)
  end
  local server = servers[1]
  local host = require("lambda.url").format_host(server:address())
  if #servers > 1 then
    host = "localhost"
  end
  local scheme = options.tls_cert and "https" or "http"
  if project then
    say(string.format("serving %s on %s://%s:%d (functions: %s)", project.manifest, scheme, host,
      server:port(), table.concat(functions, ", ")))
  elseif launcher_options then
    say(string.format("serving '%s' on %s://%s:%d", table.concat(rest, " "), scheme, host,
      server:port()))
  else
    -- A wildcard address is no address to connect to; loopback reaches it from this machine.
    local address = server:address()
    local reachable = (address == "::" or address == "0.0.0.0") and "127.0.0.1" or host
    say(string.format("no Cargo project and no command: functions started by hand find the "
      .. "Runtime API at AWS_LAMBDA_RUNTIME_API=%s:%d/.rt/<name>", reachable, server:port()))
  end

  local watcher
  if project and not options.ignore_changes then
    watcher = start_watching(event, pool, project.workspace_root, function()
      -- A bin added (or removed) while watch runs can be invoked (or is gone) at once. A
      -- manifest caught half edited keeps the functions known so far.
      local fresh, problem = load_project(options)
      if not fresh then
        say(string.format("cannot read the project again, keeping its functions (%s): %s",
          table.concat(functions, ", "), problem or "no Cargo.toml found"))
      elseif not same_names(fresh.functions, functions) then
        functions = fresh.functions
        emulator.registry.set_functions(functions)
        say("functions now: " .. table.concat(functions, ", "))
      end
    end)
  end

  local stopping = false
  local function shut_down()
    if stopping then
      return
    end
    stopping = true
    say("stopping")
    if watcher then
      watcher:close()
    end
    pool:shutdown("shutdown")
    event.kill_adopted("TERM")
    for _, listening in ipairs(servers) do
      listening:close()
    end
    -- Children get a moment to exit on TERM; then whatever is left is killed.
    local deadline = event.now() + 3
    event.every(0.05, function()
      local done = not pool:has_instances() and #event.adopted() == 0
      if done or event.now() > deadline then
        event.kill_all("KILL")
        event.kill_adopted("KILL")
        event.stop()
      end
    end)
  end
  event.on_signal("INT", shut_down)
  event.on_signal("TERM", shut_down)
  event.run()
  return cli.EXIT_OK
end

return M
