-- Internal to lambda.emulator (not part of the public API; see docs/scripting.md).
-- Starting function instances: the command (cargo run --bin <name> for a Cargo project, or
-- the user's own command), its environment, its own Runtime API server, and its output.
local event = require("lambda.event")
local runtime_api = require("lambda.emulator.runtime_api")

local M = {}

local function check_text(value, function_name)
  if type(value) ~= "string" then
    error(string.format("bad argument #1 to '%s' (string expected, got %s)", function_name,
      value == nil and "no value" or type(value)), 3)
  end
end

-- Parses dotenv-style text: KEY=VALUE lines, optional `export`, single or double quotes,
-- `#` comments. Returns a table or nil, "line N: ...", "input", N.
function M.parse_env_file(text)
  check_text(text, "parse_env_file")
  local values, number = {}, 0
  local function refuse(format, ...)
    return nil, string.format("line %d: " .. format, number, ...), "input", number
  end
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    number = number + 1
    line = line:gsub("\r$", ""):match("^%s*(.-)%s*$")
    if line ~= "" and line:sub(1, 1) ~= "#" then
      line = line:gsub("^export%s+", "")
      local key, value = line:match("^([%a_][%w_]*)%s*=%s*(.*)$")
      if not key then
        return refuse("expected KEY=VALUE")
      end
      if value:find("\0", 1, true) then
        -- No process environment can hold one.
        return refuse("a NUL byte in the value of %s", key)
      end
      local quote = value:sub(1, 1)
      if (quote == '"' or quote == "'") then
        local closing = value:find(quote, 2, true)
        if not closing then
          return refuse("unterminated %s quote", quote)
        end
        value = value:sub(2, closing - 1)
        if quote == '"' then
          value = value:gsub("\\n", "\n"):gsub('\\"', '"')
        end
      else
        value = value:gsub("%s+#.*$", "")
      end
      values[key] = value
    end
  end
  return values
end

-- "K=V" (one item of watch's --env-var): returns key, value or nil, message, "input". The
-- message names the item, not the flag: the command that read it adds that.
function M.parse_env_var(item)
  check_text(item, "parse_env_var")
  local key, value = item:match("^%s*([^=]-)%s*=%s*(.-)%s*$")
  if not key or key == "" or not key:match("^[%a_][%w_]*$") then
    return nil, require("lambda.text").quote(item) .. " is not KEY=VALUE", "input"
  end
  if value:find("\0", 1, true) then
    return nil, string.format("a NUL byte in the value of %s", key), "input"
  end
  return key, value
end

local function merge(into, from)
  for key, value in pairs(from or {}) do
    into[key] = value
  end
  return into
end

-- What an instance left running in a session of its own (a daemon: setsid, a double fork)
-- was reparented to watch, its subreaper (event.subreaper()), when the instance ended. It
-- carries the instance's environment: TERM now, KILL 2 s later to what is still there.
local function end_left_behind(entry)
  if event.kill_adopted("TERM", entry) > 0 then
    event.timer(2, function()
      event.kill_adopted("KILL", entry)
    end)
  end
end

-- options:
--   command = {argv...} (any language) | nil for cargo
--   cargo = {program = "cargo", manifest = path, args = {forwarded flags}, single = name|nil}
--   env = {K = V} (user: env file, --env-var), function_env = fn(name) -> {K = V} (manifest)
--   region, memory, cwd, print = fn(name, line)
function M.new(options)
  local launcher = {}

  local function argv_for(name)
    if options.command then
      return options.command
    end
    local cargo = options.cargo
    local argv = { cargo.program or "cargo", "run", "--manifest-path", cargo.manifest }
    for _, arg in ipairs(cargo.args or {}) do
      argv[#argv + 1] = arg
    end
    argv[#argv + 1] = "--bin"
    argv[#argv + 1] = name
    return argv
  end

  local function environment(name, runtime_address)
    local env = merge({}, event.environ())
    merge(env, {
      AWS_LAMBDA_FUNCTION_VERSION = "$LATEST",
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE = tostring(options.memory or 128),
      AWS_REGION = options.region,
      AWS_DEFAULT_REGION = options.region,
    })
    merge(env, options.function_env and options.function_env(name))
    merge(env, options.env)
    if not options.command then
      -- cargo's "Running" line starts the Init clock (see launcher.start): a quiet cargo
      -- (term.quiet in a config file, CARGO_TERM_QUIET) would leave the clock unstarted.
      env.CARGO_TERM_QUIET = "false"
    end
    -- What identifies the instance comes last: the user cannot break it by accident.
    return merge(env, {
      AWS_LAMBDA_FUNCTION_NAME = name,
      AWS_LAMBDA_LOG_GROUP_NAME = "/aws/lambda/" .. name,
      AWS_LAMBDA_LOG_STREAM_NAME = os.date("!%Y/%m/%d") .. "/[$LATEST]" .. require(
        "lambda.emulator.ids").uuid():gsub("-", ""),
      AWS_LAMBDA_RUNTIME_API = runtime_address,
      AWS_LAMBDA_INITIALIZATION_TYPE = "on-demand",
      _HANDLER = env._HANDLER or "bootstrap",
    })
  end

  function launcher.start(pool, instance)
    local state = pool:function_state(instance.function_name)
    local server, problem = event.http_server({
      address = "127.0.0.1",
      port = 0,
      stream_body = runtime_api.streams_body,
      max_body = function(request)
        return runtime_api.max_body(pool, request, request.path)
      end,
      too_large = function(request, limit, size)
        runtime_api.too_large(pool, request, request.path, limit, size)
      end,
      handler = function(request)
        if not runtime_api.route(pool, request, request.path, state, instance) then
          request:respond(404, { { "Content-Type", "application/json" } },
            '{"errorType":"NotFound","errorMessage":"not a Runtime API path"}')
        end
      end,
    })
    if not server then
      return nil, "cannot start the Runtime API for " .. instance.function_name .. ": " .. problem
    end
    local function on_line(line)
      pool:output(instance, line)
    end
    local on_stderr = on_line
    if not options.command then
      -- The Init clock starts when cargo starts the function (the build does not count); cargo
      -- says so on stderr: "     Running `target/debug/name`".
      on_stderr = function(line)
        if not instance.ready and line:gsub("\27%[[%d;]*%a", ""):find("^%s*Running `") then
          pool:start_init_clock(instance)
        end
        on_line(line)
      end
    end
    local argv = argv_for(instance.function_name)
    local runtime_address = "127.0.0.1:" .. server:port()
    -- spawn raises on values no process can take (a NUL byte in the manifest's env, which
    -- TOML can spell): that must fail this start, not leave an instance that never comes.
    local ok, process, message = pcall(event.spawn, {
      argv = argv,
      env = environment(instance.function_name, runtime_address),
      cwd = options.cwd,
      on_stdout = on_line,
      on_stderr = on_stderr,
      kill_group = true,
      on_exit = function(code, signal)
        server:close()
        end_left_behind("AWS_LAMBDA_RUNTIME_API=" .. runtime_address)
        pool:forget_extensions(instance)
        pool:instance_exited(instance, code, signal)
      end,
    })
    if not ok or not process then
      server:close()
      return nil, ok and message or tostring(process)
    end
    instance.process = process
    instance.server = server
    if options.command then
      pool:start_init_clock(instance)
    end
    if options.on_start then
      options.on_start(instance, argv)
    end
    return true
  end

  return launcher
end

return M
