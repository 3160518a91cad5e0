-- lambda.client: one way to invoke a function, on the local emulator or on AWS Lambda, for the
-- invoke command and for scripts alike. Documented in docs/scripting.md.
--
--   local c = lambda.client{port = 9000}                       -- the local emulator
--   local c = lambda.client{remote = true, region = "eu-west-1"} -- AWS Lambda
--   local result = c:invoke("my-function", {payload = {n = 1}})
--   if result.ok then print(result:json().answer) else print(result.error.message) end
--
-- With stream (true, or a function given each chunk as it arrives) the invocation goes through
-- InvokeWithResponseStream (lambda.client.stream reads the event stream); the result is the
-- same, with first_byte (seconds from sending to the first chunk) and the joined chunks as its
-- body when no function took them.
--
-- Function, service and transport failures come back in the result (result.ok false,
-- result.error = {source = "function" | "service" | "transport", type, message, line}; a
-- transport error's type is lambda.http's kind ("transport", "timeout", "tls") and its detail
-- how the connection failed ("refused", "resolve")).
-- Problems found before anything is sent (a bad value, a payload over the limit, no function
-- in the project) are nil, message, kind ("input" or "not_found"), field. Misuse (a wrong type,
-- an unknown field) raises, naming the field.
local json = require("lambda.json")
local monotonic = require("lambda.time").monotonic
local interpret = require("lambda.client.result").interpret

local M = {}

M.DEFAULT_ADDRESS = "localhost"
M.DEFAULT_PORT = 9000
-- The emulator's default function: the project's single one, or any command's.
M.DEFAULT_FUNCTION = "_"
M.INVOCATION_TYPES = { RequestResponse = true, Event = true, DryRun = true }
M.LOG_TYPES = { None = true, Tail = true }
-- Lambda's payload quotas, checked before sending, locally as on AWS: 6 MB for synchronous
-- invocations (RequestResponse, DryRun), 1 MB for Event.
M.MAX_SYNC_PAYLOAD = 6 * 1024 * 1024
M.MAX_EVENT_PAYLOAD = 1024 * 1024
-- AWS's limit on X-Amz-Client-Context, in base64.
M.MAX_CLIENT_CONTEXT = 3583


-- What each field of lambda.client{...} may be.
local CLIENT_FIELDS = {
  address = "string", port = "integer", tls = "table|boolean", timeout = "number",
  connect_timeout = "number", remote = "boolean", region = "string", profile = "string",
  endpoint_url = "string", credentials = "table", retry_attempts = "integer",
  mfa_token = "string",
}
-- What each field of client:invoke(name, {...}) may be.
local INVOKE_FIELDS = {
  payload = "string|table", qualifier = "string", invocation_type = "string",
  log_type = "string", client_context = "string|table", identity = "table",
  timeout = "number", manifest = "string", trace = "boolean", on_retry = "function",
  stream = "boolean|function",
}

local function value_type(value)
  local kind = type(value)
  if kind == "number" and math.type(value) == "integer" then
    return "integer", "number"
  end
  return kind
end

-- The types a field spec allows ("string|table"), as a set, worked out once per spec.
local allowed_types = setmetatable({}, { __index = function(cache, spec)
  local set = {}
  for allowed in spec:gmatch("[^|]+") do
    set[allowed] = true
  end
  cache[spec] = set
  return set
end })

-- Raises, naming the field, when options holds an unknown field or one of the wrong type.
local function check_fields(what, options, fields, level)
  if type(options) ~= "table" then
    error(string.format("%s: options must be a table, got %s", what, type(options)), level + 1)
  end
  for key, value in pairs(options) do
    local wanted = type(key) == "string" and fields[key]
    if not wanted then
      error(string.format("%s: unknown field '%s'", what, tostring(key)), level + 1)
    end
    local kind, also = value_type(value)
    local allowed = allowed_types[wanted]
    if not (allowed[kind] or (also and allowed[also])) then
      local expected = wanted:gsub("|", " or ")
      error(string.format("%s: field '%s' must be %s %s, got %s", what, key,
        expected:find("^[aeiou]") and "an" or "a", expected, kind), level + 1)
    end
  end
end

local function input_error(field, format, ...)
  return nil, field .. ": " .. string.format(format, ...), "input", field
end

-- The payload limit in bytes for an invocation type (nil: RequestResponse).
function M.payload_limit(invocation_type)
  return invocation_type == "Event" and M.MAX_EVENT_PAYLOAD or M.MAX_SYNC_PAYLOAD
end

-- "<subject> is over the 6 MB limit (6291456 bytes) for RequestResponse invocations"
function M.payload_limit_message(subject, invocation_type)
  local limit = M.payload_limit(invocation_type)
  return string.format("%s is over the %d MB limit (%d bytes) for %s invocations", subject,
    limit // (1024 * 1024), limit, invocation_type or "RequestResponse")
end

-- ---- what is sent -----------------------------------------------------------------------

-- The payload as bytes: a string as it is, a table as JSON.
local function payload_bytes(invocation)
  local payload = invocation.payload
  if type(payload) == "table" then
    return json.encode(payload)
  end
  return payload or ""
end

-- The client context as one line of JSON, or nil, message, kind, field.
local function client_context_text(context)
  if type(context) == "table" then
    return json.encode(context)
  end
  local ok, message = json.valid(context)
  if not ok then
    return input_error("client_context", "not JSON: %s", message)
  end
  -- JSON allows raw line breaks only between tokens: removing them changes nothing.
  return (context:gsub("^%s+", ""):gsub("%s+$", ""):gsub("%s*[\r\n]%s*", ""))
end

-- Where cargo finds bin targets, for the message of a project that has none.
M.BIN_TARGETS = "src/main.rs, src/bin/<name>.rs, src/bin/<name>/main.rs or [[bin]]"

-- The function a nil name means: the single function of the Cargo project around the
-- current directory (or of `manifest`); outside a project, the emulator's default.
local function default_name(invocation, remote)
  local cargo = require("lambda.cargo")
  local manifest = invocation.manifest
  if manifest then
    local info = require("lambda.fs").stat(manifest)
    if not info or info.type ~= "file" then
      return nil, "manifest: " .. manifest .. " does not exist", "not_found", "manifest"
    end
  else
    manifest = cargo.find_manifest()
  end
  if not manifest then
    if remote then
      return nil, "name: give the name of the deployed function (no Cargo project here to "
        .. "take it from)", "input", "name"
    end
    return M.DEFAULT_FUNCTION
  end
  local functions, message, kind = cargo.functions(manifest)
  if not functions then
    return nil, message, kind, "manifest"
  elseif #functions == 1 then
    return functions[1]
  elseif #functions == 0 then
    -- A package without a bin target is not a function (cargo builds nothing to run).
    return nil, string.format("name: %s has no bin targets (%s): no function to invoke; name "
      .. "the function", manifest, M.BIN_TARGETS), "not_found", "name"
  end
  return nil, string.format("name: %s has several functions (%s): name the one to invoke",
    manifest, table.concat(functions, ", ")), "input", "name"
end

-- Checks an invocation and fills in what is derived; returns it or nil, message, kind, field.
-- what: how misuse is told ("invoke", "invoke_all: request 3").
local function prepare(client, name, options, level, what)
  options = options or {}
  what = what or "invoke"
  check_fields(what, options, INVOKE_FIELDS, level + 1)
  if name ~= nil and type(name) ~= "string" then
    error(string.format("%s: the function name must be a string or nil, got %s", what,
      type(name)), level + 1)
  end
  if options.identity ~= nil then
    if type(options.identity.id) ~= "string" or type(options.identity.pool_id) ~= "string" then
      error(what .. ": field 'identity' must be {id = string, pool_id = string}", level + 1)
    end
    if client.remote then
      error(what .. ": field 'identity' is for the local emulator (AWS's Invoke API has no "
        .. "Cognito identity)", level + 1)
    end
  end
  local invocation = {}
  for key, value in pairs(options) do
    invocation[key] = value
  end
  if invocation.invocation_type and not M.INVOCATION_TYPES[invocation.invocation_type] then
    return input_error("invocation_type", "'%s' is not RequestResponse, Event or DryRun",
      invocation.invocation_type)
  end
  if invocation.log_type and not M.LOG_TYPES[invocation.log_type] then
    return input_error("log_type", "'%s' is not None or Tail", invocation.log_type)
  end
  if invocation.stream == false then
    invocation.stream = nil
  end
  if invocation.stream ~= nil and invocation.invocation_type == "Event" then
    return input_error("stream", "an Event invocation has no answer to stream "
      .. "(InvokeWithResponseStream takes RequestResponse or DryRun)")
  end
  invocation.on_chunk = type(invocation.stream) == "function" and invocation.stream or nil
  if name == "" then
    return input_error("name", "the function name is empty")
  end
  if name == nil then
    local found, message, kind, field = default_name(invocation, client.remote)
    if not found then
      return nil, message, kind, field
    end
    name = found
  end
  if client.remote and name == M.DEFAULT_FUNCTION then
    return input_error("name", "'_' is the local emulator's default function: give the name "
      .. "of the deployed function (a name, name:alias or ARN)")
  end
  invocation.name = name
  invocation.body = payload_bytes(invocation)
  if #invocation.body > M.payload_limit(invocation.invocation_type) then
    return nil, M.payload_limit_message(string.format("payload: %d bytes", #invocation.body),
      invocation.invocation_type), "input", "payload"
  end
  if invocation.client_context ~= nil then
    local text, message, kind, field = client_context_text(invocation.client_context)
    if not text then
      return nil, message, kind, field
    end
    invocation.client_context_text = text
    if client.remote then
      local encoded, problem, problem_kind, problem_field =
        require("lambda.client.aws").client_context_header(text)
      if not encoded then
        return nil, problem, problem_kind, problem_field
      end
    end
  end
  invocation.timeout = invocation.timeout or client.timeout
  return invocation
end

-- Internal (lambda.load): checks an invocation as client:invoke would, sending nothing.
function M._prepare(client, name, options)
  return prepare(client, name, options, 2)
end

-- ---- clients ----------------------------------------------------------------------------

local Client = {}
Client.__index = Client
Client.__name = "lambda.client"

-- client(options) -> client | nil, message, "input", field
function M.new(options)
  options = options or {}
  check_fields("client", options, CLIENT_FIELDS, 2)
  local client = setmetatable({ timeout = options.timeout, remote = options.remote == true },
    Client)
  if client.remote then
    for _, field in ipairs({ "address", "port", "tls" }) do
      if options[field] ~= nil then
        error(string.format("client: field '%s' is for the local emulator, not remote = true",
          field), 2)
      end
    end
    client.target = require("lambda.client.aws").new(options)
  else
    for _, field in ipairs({ "region", "profile", "endpoint_url", "credentials",
      "retry_attempts", "mfa_token" }) do
      if options[field] ~= nil then
        error(string.format("client: field '%s' needs remote = true", field), 2)
      end
    end
    local target, message, kind, field = require("lambda.client.emulator").new(options)
    if not target then
      return nil, message, kind, field
    end
    client.target = target
  end
  return client
end

-- client:describe() -> a line saying where invocations go ("http://[::1]:9000",
-- "AWS Lambda in eu-west-1 (profile dev, credentials from environment)").
function Client:describe()
  return self.target:describe()
end

-- client:settings() -> the AWS settings in use (remote clients; resolved once):
-- {profile, region, endpoint, credentials = {..., source}} | nil, message, kind
function Client:settings()
  if not self.remote then
    return nil, "settings: a local client has no AWS settings", "input"
  end
  return self.target:settings()
end

-- client:invoke(name, options) -> result | nil, message, kind, field (see the header comment)
-- Internal (lambda.load): sends an invocation M._prepare checked, from a task; the same
-- invocation may be sent again and again.
function Client:_send(invocation)
  local started = monotonic()
  local outcome, problem, problem_kind, problem_field = self.target:send(invocation)
  if not outcome then
    return nil, problem, problem_kind, problem_field
  end
  return interpret(self.target, invocation, outcome, started)
end

function Client:invoke(name, options)
  local invocation, message, kind, field = prepare(self, name, options, 2)
  if not invocation then
    return nil, message, kind, field
  end
  -- Without lambda.event loaded there is no loop, so nothing that could go on meanwhile and no
  -- task to be in: the request simply blocks. (A one-shot invoke from the command line so
  -- neither loads the loop nor creates it.)
  if not package.loaded["lambda.event"] then
    return self:_send(invocation)
  end
  local task = require("lambda.task")
  local function run()
    return self:_send(invocation)
  end
  if task.in_task() then
    return run()
  end
  -- Outside a task the invocation runs as one, on the loop, so that whatever else the script
  -- has on the loop (an emulator of its own, a mock server) goes on meanwhile.
  return task.spawn(run):wait()
end

-- client:invoke_all(requests, {concurrency = 8}) -> {result, ...} in request order
--   | nil, message, kind, field (nothing was sent: request N is not valid)
-- Each request is {name = ..., <invocation fields>}.
function Client:invoke_all(requests, options)
  if type(requests) ~= "table" then
    error("invoke_all: requests must be a list of {name = ..., ...}", 2)
  end
  options = options or {}
  check_fields("invoke_all", options, { concurrency = "integer" }, 2)
  local concurrency = options.concurrency or 8
  if concurrency < 1 then
    error("invoke_all: field 'concurrency' must be at least 1", 2)
  end
  local invocations = {}
  for i, request in ipairs(requests) do
    if type(request) ~= "table" then
      error(string.format("invoke_all: request %d must be a table", i), 2)
    end
    local fields = {}
    for key, value in pairs(request) do
      if key ~= "name" then
        fields[key] = value
      end
    end
    local invocation, message, kind, field = prepare(self, request.name, fields, 2,
      string.format("invoke_all: request %d", i))
    if not invocation then
      return nil, string.format("request %d: %s", i, message), kind, field
    end
    invocations[i] = invocation
  end
  -- A remote client's settings are the same for every request: resolved before any is sent,
  -- and a failure is invoke's (nil, message, kind, field), not a result per request.
  if self.remote and #invocations > 0 then
    local settings, message, kind, field = self.target:settings()
    if not settings then
      return nil, message, kind, field
    end
  end
  local task = require("lambda.task")
  local results, next_index = {}, 1
  local function worker()
    while next_index <= #invocations do
      local index = next_index
      next_index = next_index + 1
      local invocation = invocations[index]
      local started = monotonic()
      local outcome, message, kind = self.target:send(invocation)
      if not outcome then
        -- Settings and inputs were checked before: only signing can fail here (libcrypto
        -- missing, an endpoint URL it cannot parse), once others may have been sent.
        outcome = { message = message, kind = kind }
      end
      results[index] = interpret(self.target, invocation, outcome, started)
    end
  end
  local workers = {}
  for i = 1, math.min(concurrency, #invocations) do
    workers[i] = worker
  end
  local function run()
    task.all(workers)
    return results
  end
  if task.in_task() then
    return run()
  end
  return task.spawn(run):wait()
end

function Client:__tostring()
  return "lambda.client (" .. self:describe() .. ")"
end

-- What lambda.invoke{} uses for the fields it is not given (the test command sets them from
-- its flags; lambda.test's fixture to its emulator).
local client_defaults, invocation_defaults = {}, {}

-- set_defaults(client_fields[, invocation_fields]): the defaults of lambda.invoke{}.
function M.set_defaults(client_fields, invocation_fields)
  check_fields("set_defaults", client_fields or {}, CLIENT_FIELDS, 2)
  check_fields("set_defaults", invocation_fields or {}, INVOKE_FIELDS, 2)
  client_defaults, invocation_defaults = client_fields or {}, invocation_fields or {}
end

-- defaults() -> a copy of the client fields lambda.invoke{} starts from.
function M.defaults()
  local copy = {}
  for key, value in pairs(client_defaults) do
    copy[key] = value
  end
  return copy
end

-- invoke{name = ..., <client fields>, <invocation fields>} -> as client:invoke. Fields it is
-- not given come from the defaults (set_defaults): given client fields replace them all.
function M.invoke(options)
  if type(options) ~= "table" then
    error(string.format("invoke: options must be a table, got %s", type(options)), 2)
  end
  local client_options, invocation = {}, {}
  local names_a_target = false
  for key, value in pairs(options) do
    if CLIENT_FIELDS[key] and key ~= "timeout" then
      client_options[key] = value
      names_a_target = true
    elseif key ~= "name" then
      invocation[key] = value
    end
  end
  if not names_a_target then
    client_options = M.defaults()
  end
  for key, value in pairs(invocation_defaults) do
    if invocation[key] == nil then
      invocation[key] = value
    end
  end
  local client, message, kind, field = M.new(client_options)
  if not client then
    return nil, message, kind, field
  end
  return client:invoke(options.name, invocation)
end

return M
