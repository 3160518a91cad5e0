-- lambda.emulator: the local Lambda emulator, in the script's own process (the watch command
-- is a thin layer over it). Documented in docs/scripting.md.
--
--   local emulator = assert(lambda.emulator.start{command = {"cargo-lambda", "run", "f.lua"}})
--   local result = emulator:client():invoke("f", {payload = {n = 1}})
--   emulator:stop()
--
-- It serves the Invoke API (buffered and streaming), function URLs, the Runtime API and a
-- minimal Extensions API on one port, on the lambda.event loop: it runs while the script
-- waits (task:wait, client:invoke from the main chunk, lambda.sleep, ...).
--
-- start{...} options (all optional; docs/scripting.md, section 4, has the details):
--   project = path | true   a Cargo project (its Cargo.toml or folder; true: the project around
--                           the current directory): its bin targets are the functions, built
--                           and started with cargo run on their first invocation
--   bins = {name, ...}      only these functions of the project
--   cargo = {release, features = {...}, all_features, no_default_features, program}
--   watch = false           a project is watched by default (its functions restart when its
--                           files change); false turns that off. bins, cargo and watch only
--                           matter with a project: without one they are ignored
--   command = {argv...}     run this command as every function instead (any name is one)
--   (neither project nor command: functions are started by hand, finding the Runtime API at
--   AWS_LAMBDA_RUNTIME_API=host:port/.rt/<name>)
--   address = "127.0.0.1"   "localhost" is 127.0.0.1 and ::1 on one port; "::" every interface
--   port = 0                0: any free port (emulator.port says which); at most 65535
--   concurrency = 1, max_instances = 64      whole numbers, at least 1
--   timeout = 900, init_timeout = 10         seconds, above 0 and at most limits.MAX_SECONDS
--   region = "us-east-1"
--   env = {NAME = value}    the functions' environment, on top of the manifest's
--   tls = {cert = path, key = path}   serve https (both files; there is no other form)
--   on_output(name, line)   a function's output (default: "[name] line" on stdout; false: drop)
--   on_status(text)         what the emulator does (building, restarting); default: nothing
--   on_invocation(record)   once per invocation, when it has been answered (or its invoker
--                           went away first): {function_name, request_id, route, outcome,
--                           error_type, queued, duration}; see Pool:report in pool.lua
-- Returns the emulator, or nil, message, kind, field. Misuse raises, naming the field: an
-- unknown field, a wrong type, a number out of its bounds, project with command.
local M = {}

local limits = require("lambda.emulator.limits")

local FIELDS = {
  project = "string|boolean", bins = "table", cargo = "table", watch = "boolean",
  command = "table", address = "string", port = "integer", concurrency = "integer",
  timeout = "number", init_timeout = "number", max_instances = "integer", region = "string",
  env = "table", tls = "table", on_output = "function|boolean", on_status = "function",
  on_invocation = "function",
}

-- The bounds of the numeric fields: watch's flags have the same (--invoke-port leaves out 0,
-- "any free port", which a script may want).
local BOUNDS = {
  port = { min = 0, max = 65535, text = "from 0 to 65535" },
  concurrency = { min = 1, text = "at least 1" },
  max_instances = { min = 1, text = "at least 1" },
  timeout = { above = 0, max = limits.MAX_SECONDS,
    text = string.format("above 0 and at most %d seconds", limits.MAX_SECONDS) },
  init_timeout = { above = 0, max = limits.MAX_SECONDS,
    text = string.format("above 0 and at most %d seconds", limits.MAX_SECONDS) },
}

local function with_article(kinds)
  return (kinds:gsub("[^|]+", function(kind)
    return (kind:match("^[aeiou]") and "an " or "a ") .. kind
  end):gsub("|", " or "))
end

local function check_bounds(field, value)
  local bounds = BOUNDS[field]
  -- Written so that NaN fails every comparison, and so every bound.
  local fits = (bounds.min == nil or value >= bounds.min)
    and (bounds.above == nil or value > bounds.above)
    and (bounds.max == nil or value <= bounds.max)
  if not fits then
    error(string.format("emulator.start: field '%s' must be %s, got %s", field, bounds.text,
      tostring(value)), 4)
  end
end

local function check_fields(options)
  for key, value in pairs(options) do
    local wanted = type(key) == "string" and FIELDS[key]
    if not wanted then
      error(string.format("emulator.start: unknown field '%s'", tostring(key)), 3)
    end
    local kind = type(value)
    if kind == "number" and math.type(value) == "integer" then
      kind = wanted:find("integer", 1, true) and "integer" or "number"
    end
    local fits = false
    for allowed in wanted:gmatch("[^|]+") do
      fits = fits or allowed == kind
    end
    if not fits then
      error(string.format("emulator.start: field '%s' must be %s, got %s", key,
        with_article(wanted), math.type(value) == "float" and "a float" or type(value)), 3)
    end
    if BOUNDS[key] then
      check_bounds(key, value)
    end
  end
  if options.project ~= nil and options.command ~= nil then
    error("emulator.start: give either 'project' or 'command', not both", 3)
  end
  if options.tls and (type(options.tls.cert) ~= "string" or type(options.tls.key) ~= "string") then
    error("emulator.start: field 'tls' must be {cert = path, key = path}", 3)
  end
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

local Emulator = {}
Emulator.__index = Emulator
Emulator.__name = "lambda.emulator"

-- Restarts the functions when files under the project change, then reads the project again
-- (a bin added or removed while it runs can be invoked, or is gone, at once).
local function watch_project(self, options)
  local event = require("lambda.event")
  local root = self.project_info.workspace_root
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
    self.status(string.format("%s changed%s: restarting functions", changes[1].path,
      #changes > 1 and string.format(" (and %d more)", #changes - 1) or ""))
    self.pool:restart_all("recompiling function")
    local fresh, problem = require("lambda.emulator.project").load(self.project, options.bins)
    local known = self.registry.functions()
    if not fresh then
      self.status(string.format("cannot read the project again, keeping its functions (%s): "
        .. "%s", table.concat(known, ", "), problem or "no Cargo.toml found"))
    elseif table.concat(fresh.functions, "\0") ~= table.concat(known, "\0") then
      self.registry.set_functions(fresh.functions)
      self.status("functions now: " .. table.concat(fresh.functions, ", "))
    end
  end)
end

-- start{...} -> emulator | nil, message, kind, field (see the header comment)
function M.start(options)
  options = options or {}
  if type(options) ~= "table" then
    error("emulator.start: options must be a table", 2)
  end
  check_fields(options)
  local event = require("lambda.event")
  local project_module = require("lambda.emulator.project")
  local launcher_module = require("lambda.emulator.launcher")
  local region = options.region or "us-east-1"
  local status = options.on_status or function() end
  local on_output = options.on_output
  if on_output == nil or on_output == true then
    on_output = function(name, line)
      io.stdout:write("[", name, "] ", line, "\n")
      io.stdout:flush()
    end
  elseif on_output == false then
    on_output = function() end
  end

  local self = setmetatable({ status = status, region = region }, Emulator)
  local functions, launcher_options = {}, nil
  if options.command then
    if #options.command == 0 then
      error("emulator.start: field 'command' must be a list of strings (the program first)", 2)
    end
    self.command = options.command
    launcher_options = { command = options.command, cwd = require("lambda.fs").cwd() }
  elseif options.project ~= nil and options.project ~= false then
    local project, message, kind, field = project_module.load(options.project, options.bins)
    if not project then
      return nil, message or "project: no Cargo project around the current directory",
        kind or "not_found", field or "project"
    end
    self.project, self.project_info = project.manifest, project
    functions = project.functions
    local cargo = options.cargo or {}
    launcher_options = {
      cargo = { program = cargo.program or os.getenv("CARGO") or "cargo",
        manifest = project.manifest, args = project_module.cargo_arguments(cargo) },
      function_env = project_module.manifest_environment(project),
      cwd = project.workspace_root,
    }
  end
  if launcher_options then
    launcher_options.env = options.env or {}
    launcher_options.region = region
    launcher_options.on_start = function(instance, argv)
      status(string.format("starting %s: %s", instance.function_name, table.concat(argv, " ")))
    end
  end
  -- Descendants that leave their process group (setsid, a double fork) are reparented to this
  -- process instead of init, so that a restart or stop still ends them (old kernels lack it:
  -- then they escape).
  event.subreaper()

  self.pool = require("lambda.emulator.pool").new({
    concurrency = options.concurrency,
    timeout = options.timeout,
    init_timeout = options.init_timeout,
    max_instances = options.max_instances,
    region = region,
    print = on_output,
    on_invocation = options.on_invocation,
    launcher = launcher_options and launcher_module.new(launcher_options) or nil,
    extensions = require("lambda.emulator.extensions").new(),
  })
  -- Any name is a function unless a Cargo project lists them.
  self.registry = project_module.registry(functions, self.project == nil, region)
  local context = { pool = self.pool, print = on_output, region = region,
    registry = self.registry }
  local server_module = require("lambda.emulator.server")
  local servers, listen_error = M.listen(event, {
    handler = server_module.handler(context),
    -- Only a runtime's /response is read as it arrives; an Invoke request that happens to
    -- carry the streaming header is still a whole payload.
    stream_body = function(request)
      local runtime_path = request.path:find("/2018-06-01/runtime/", 1, true)
      return runtime_path ~= nil and require("lambda.emulator.runtime_api").streams_body(request)
    end,
    max_body = server_module.max_body(context),
    too_large = server_module.too_large(context),
    tls = options.tls,
  }, options.address or "127.0.0.1", options.port or 0)
  if not servers then
    self.pool:shutdown("shutdown")
    return nil, listen_error, "transport", "address"
  end
  self.servers = servers
  self.port = servers[1]:port()
  self.address = #servers > 1 and "localhost" or servers[1]:address()
  local scheme = options.tls and "https" or "http"
  -- A wildcard address is no address to connect to; loopback reaches it from this machine.
  local reachable = self.address
  if reachable == "::" or reachable == "0.0.0.0" then
    reachable = "127.0.0.1"
  end
  self.reachable = reachable
  self.tls = options.tls
  self.url = string.format("%s://%s:%d", scheme, require("lambda.url").format_host(reachable),
    self.port)
  if self.project and options.watch ~= false then
    self.watcher = watch_project(self, options)
  end
  return self
end

-- emulator:functions() -> the names it serves: a project's functions, else the names invoked
-- so far.
function Emulator:functions()
  if self.project then
    return self.registry.functions()
  end
  return self.pool:function_names()
end

-- emulator:client() -> a lambda.client for this emulator.
function Emulator:client(options)
  local settings = { address = self.reachable, port = self.port, tls = false }
  if self.tls then
    settings.tls = { ca = self.tls.cert }
  end
  for key, value in pairs(options or {}) do
    settings[key] = value
  end
  return require("lambda.client").new(settings)
end

-- emulator:stop(): answers every pending invocation with Runtime.Shutdown, stops the
-- functions (SIGTERM, SIGKILL to what is left after 3 s, what they left behind included) and
-- closes the port. Waits for it (lambda.task's way: in a task the others run meanwhile).
function Emulator:stop()
  if self.stopped then
    return
  end
  local event = require("lambda.event")
  local task = require("lambda.task")
  -- Refused before anything is stopped, at the caller's line.
  if not task.can_wait() then
    error("emulator:stop: " .. task.CANNOT_WAIT .. " (emulator:kill() stops at once)", 2)
  end
  self.stopped = true
  if self.watcher then
    self.watcher:close()
  end
  self.pool:shutdown("shutdown")
  event.kill_adopted("TERM")
  for _, server in ipairs(self.servers) do
    server:close()
  end
  -- Closed servers still deliver the answers already given (Runtime.Shutdown, an extension's
  -- SHUTDOWN event) before the functions and what they left behind are waited for.
  local deadline = require("lambda.time").monotonic() + 3
  while event.http_draining() > 0 and require("lambda.time").monotonic() < deadline do
    task.sleep(0.01)
  end
  while self.pool:has_instances() or #event.adopted() > 0 do
    if require("lambda.time").monotonic() > deadline then
      self.pool:kill_all()
      event.kill_adopted("KILL")
      break
    end
    task.sleep(0.05)
  end
end

-- emulator:kill(): stops everything now, without waiting (for an interrupt handler, where
-- nothing can wait): the functions and what they left get SIGKILL, the port closes.
function Emulator:kill()
  if self.killed then
    return
  end
  self.killed, self.stopped = true, true
  local event = require("lambda.event")
  if self.watcher then
    self.watcher:close()
  end
  self.pool:shutdown("shutdown")
  self.pool:kill_all()
  event.kill_adopted("KILL")
  for _, server in ipairs(self.servers) do
    server:close()
  end
end

function Emulator:__tostring()
  return "lambda.emulator (" .. self.url .. ")"
end

-- Environment files as the emulator reads them: KEY=VALUE lines (`export`, quotes, comments).
-- Returns {K = V} or nil, "line N: ...".
function M.parse_env_file(text)
  return require("lambda.emulator.launcher").parse_env_file(text)
end

-- "K=V": key, value or nil, message.
function M.parse_env_var(item)
  return require("lambda.emulator.launcher").parse_env_var(item)
end

return M
