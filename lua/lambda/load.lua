-- lambda.load: load runs, for `invoke --repeat/--duration` and for scripts. Documented in
-- docs/load.md.
--
--   local summary = lambda.load{name = "f", payload = {n = 1}, concurrency = 32, ["repeat"] = 10000}
--   print(summary.throughput, summary.latency.p99)
--
-- options:
--   client = lambda.client{...}      where to invoke (default: the client lambda.invoke{} uses)
--   name, <invocation fields>        what to invoke (qualifier, invocation_type, log_type, ...)
--   payload = string | table         the same payload every time, or
--   payloads = {p1, p2, ...}         taken in turn, or
--   request = fn(i) -> {name = ..., payload = ..., <invocation fields>}   the i-th request
--   concurrency = 1                  invocations in flight at once
--   rate = nil                       invocations started per second: starts are paced, and each
--                                    latency is measured from its scheduled start, so a slow
--                                    answer delays the next starts and counts against them too
--                                    (no coordinated omission); nil: back to back
--   ["repeat"] = N | duration = s    how many invocations, or for how long (invocations in
--                                    flight at the end are awaited and counted)
--   stream = true                    invoke with InvokeWithResponseStream, the chunks read and
--                                    dropped (a function is given each chunk); the summary
--                                    then also has first_byte: the time to the first chunk
--   workers = {count = W, name = "load-worker", client = c, target = {address, port, ...}}
--                                    spread the run over W invocations of a load worker
--                                    function (`cargo-lambda load-worker`, or lambda.load.worker
--                                    in a function of one's own) invoked through `client`
--                                    (default: the default client); `target` is the lambda.client
--                                    fields by which the workers reach the function (no
--                                    credentials: a worker on AWS uses its own role); `repeat`
--                                    and `rate` are split among them, `duration` is each one's
--   should_stop = fn() -> bool       asked before each start (an interrupt)
--   on_progress = fn(progress)       called every progress_interval seconds (default 0.25)
--                                    with {done, errors, elapsed, rate}
-- Returns the summary (the keys `invoke -o json` prints):
--   {count, successes, errors = {total, ["function"] = {[type] = n}, service = {[type] = n},
--    throttled = n, transport = {[type] = n}}, duration, throughput,
--    latency = {min, mean, p50, p90, p99, p999, max}, histogram, interrupted}, and with stream:
--    first_byte = {min, ..., max} (from the start, as latency) and first_byte_histogram
-- or nil, message, kind (a request refused before anything was sent; a worker that failed).
--
-- load.encode(summary) -> the summary as plain data for JSON (the histogram as its text)
-- load.decode(data) -> summary | nil, message, "input"   (encode's inverse)
-- load.merge(summaries) -> one summary: counts add up, histograms merge
-- load.worker(job) -> the encoded summary of a worker's share (the load worker's handler)
local M = {}

local THROTTLED = { TooManyRequestsException = true, ThrottlingException = true }

local function check(options)
  if type(options) ~= "table" then
    error("load: options must be a table", 3)
  end
  local given = (options.payload ~= nil and 1 or 0) + (options.payloads ~= nil and 1 or 0)
    + (options.request ~= nil and 1 or 0)
  if given > 1 then
    error("load: give one of 'payload', 'payloads' or 'request'", 3)
  end
  if (options["repeat"] == nil) == (options.duration == nil) then
    error("load: give exactly one of 'repeat' and 'duration'", 3)
  end
  if options["repeat"] ~= nil and (math.type(options["repeat"]) ~= "integer" or options["repeat"] < 1) then
    error("load: field 'repeat' must be an integer of at least 1", 3)
  end
  if options.duration ~= nil and (type(options.duration) ~= "number" or options.duration <= 0) then
    error("load: field 'duration' must be a positive number of seconds", 3)
  end
  local concurrency = options.concurrency or 1
  if math.type(concurrency) ~= "integer" or concurrency < 1 then
    error("load: field 'concurrency' must be an integer of at least 1", 3)
  end
  if options.rate ~= nil and (type(options.rate) ~= "number" or options.rate <= 0) then
    error("load: field 'rate' must be a positive number of invocations per second", 3)
  end
  if options.payloads ~= nil and (type(options.payloads) ~= "table" or #options.payloads == 0) then
    error("load: field 'payloads' must be a non-empty list", 3)
  end
  return concurrency
end

-- The fields of an invocation, copied from options (everything but the load's own).
local OWN = { client = true, name = true, payload = true, payloads = true, request = true,
  concurrency = true, rate = true, ["repeat"] = true, duration = true, should_stop = true,
  on_progress = true, progress_interval = true, workers = true }

local function new_counts()
  return { total = 0, ["function"] = {}, service = {}, throttled = 0, transport = {} }
end

local function count_error(errors, problem)
  errors.total = errors.total + 1
  if problem.source == "service" and THROTTLED[problem.type or ""] then
    errors.throttled = errors.throttled + 1
    return
  end
  local by_type = errors[problem.source]
  local key = problem.type or "unknown"
  by_type[key] = (by_type[key] or 0) + 1
end

-- The summary's latency block from a histogram.
function M.latency(histogram)
  if histogram:count() == 0 then
    return { min = 0, mean = 0, p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0 }
  end
  return {
    min = histogram:min(), mean = histogram:mean(), p50 = histogram:percentile(50),
    p90 = histogram:percentile(90), p99 = histogram:percentile(99),
    p999 = histogram:percentile(99.9), max = histogram:max(),
  }
end

-- Merges summaries (load workers' parts) into one: counts add up, histograms merge, the
-- duration is the longest.
function M.merge(summaries)
  local histogram = require("lambda.histogram").new()
  local merged = { count = 0, successes = 0, errors = new_counts(), duration = 0,
    interrupted = false }
  for _, part in ipairs(summaries) do
    merged.count = merged.count + part.count
    merged.successes = merged.successes + part.successes
    merged.errors.total = merged.errors.total + part.errors.total
    merged.errors.throttled = merged.errors.throttled + part.errors.throttled
    for _, source in ipairs({ "function", "service", "transport" }) do
      for kind, n in pairs(part.errors[source] or {}) do
        merged.errors[source][kind] = (merged.errors[source][kind] or 0) + n
      end
    end
    merged.duration = math.max(merged.duration, part.duration)
    merged.interrupted = merged.interrupted or part.interrupted
    histogram:merge(part.histogram)
    if part.first_byte_histogram then
      merged.first_byte_histogram = merged.first_byte_histogram
        or require("lambda.histogram").new()
      merged.first_byte_histogram:merge(part.first_byte_histogram)
    end
  end
  merged.histogram = histogram
  merged.throughput = merged.duration > 0 and merged.count / merged.duration or 0
  merged.latency = M.latency(histogram)
  if merged.first_byte_histogram then
    merged.first_byte = M.latency(merged.first_byte_histogram)
  end
  return merged
end

local SUMMARY_KEYS = { { "count", "number" }, { "successes", "number" }, { "errors", "table" },
  { "duration", "number" }, { "throughput", "number" }, { "latency", "table" },
  { "histogram", "string" }, { "interrupted", "boolean" } }

-- encode(summary) -> a copy for JSON, the histogram as its text
function M.encode(summary)
  local copy = {}
  for key, value in pairs(summary) do
    copy[key] = value
  end
  copy.histogram = summary.histogram:encode()
  if summary.first_byte_histogram then
    copy.first_byte_histogram = summary.first_byte_histogram:encode()
  end
  return copy
end

-- decode(data) -> summary | nil, message, "input": a summary from encode (a worker's answer)
function M.decode(data)
  if type(data) ~= "table" then
    return nil, "a load summary must be an object", "input"
  end
  for _, entry in ipairs(SUMMARY_KEYS) do
    local key, kind = entry[1], entry[2]
    if type(data[key]) ~= kind then
      return nil, string.format("a load summary needs '%s' (a %s)", key, kind), "input"
    end
  end
  local errors = data.errors
  if type(errors.total) ~= "number" or type(errors.throttled) ~= "number" then
    return nil, "a load summary's 'errors' needs 'total' and 'throttled'", "input"
  end
  local histogram, problem = require("lambda.histogram").decode(data.histogram)
  if not histogram then
    return nil, problem, "input"
  end
  local summary = {}
  for key, value in pairs(data) do
    summary[key] = value
  end
  for _, source in ipairs({ "function", "service", "transport" }) do
    if type(errors[source]) ~= "table" then
      errors[source] = {}
    end
  end
  summary.histogram = histogram
  if data.first_byte_histogram ~= nil then
    local first, first_problem = type(data.first_byte_histogram) == "string"
      and require("lambda.histogram").decode(data.first_byte_histogram)
    if not first then
      return nil, "a load summary's 'first_byte_histogram': "
        .. (first_problem or "not a histogram's text"), "input"
    end
    summary.first_byte_histogram = first
  end
  return summary
end

-- worker(job) -> encoded summary (see lambda.load.workers)
function M.worker(job)
  return require("lambda.load.workers").handle(job, M)
end

-- load{...} -> summary | nil, message, kind (see the header comment)
function M.run(options)
  local concurrency = check(options)
  if options.workers ~= nil then
    return require("lambda.load.workers").run(options, M)
  end
  local lambda = require("lambda")
  local task = require("lambda.task")
  local time = require("lambda.time")
  local client = options.client
  if client == nil then
    local message, kind
    client, message, kind = lambda.client(require("lambda.client").defaults())
    if not client then
      return nil, message, kind
    end
  end
  local base = {}
  for key, value in pairs(options) do
    if not OWN[key] then
      base[key] = value
    end
  end
  if base.stream == true then
    -- Streamed answers are read and dropped: a run keeps no bodies.
    base.stream = function() end
  end
  local function request_for(i)
    local fields = {}
    for key, value in pairs(base) do
      fields[key] = value
    end
    local name = options.name
    if options.request then
      local given = options.request(i)
      if type(given) ~= "table" then
        error("load: 'request' must return a table of invocation fields", 0)
      end
      for key, value in pairs(given) do
        if key == "name" then
          name = value
        else
          fields[key] = value
        end
      end
    elseif options.payloads then
      fields.payload = options.payloads[(i - 1) % #options.payloads + 1]
    else
      fields.payload = options.payload
    end
    return name, fields
  end
  -- A request refused before sending (a payload over the limit) is refused for the whole run,
  -- before it starts.
  local prepare = require("lambda.client")._prepare
  local first_name, first_fields = request_for(1)
  local checked, message, kind, field = prepare(client, first_name, first_fields)
  if not checked then
    return nil, message, kind, field
  end
  -- So are a remote client's settings (credentials above all), the same for every request:
  -- one failure, not as many transport errors as there are requests.
  if client.remote then
    local settings
    settings, message, kind, field = client:settings()
    if not settings then
      return nil, message, kind, field
    end
  end
  -- Requests that do not change (one payload, or a list taken in turn) are checked and built
  -- once; a request function's are made as they start.
  local prepared
  if not options.request then
    prepared = { checked }
    for i = 2, options.payloads and #options.payloads or 1 do
      local invocation, problem, problem_kind, problem_field = prepare(client, request_for(i))
      if not invocation then
        return nil, string.format("payloads[%d]: %s", i, problem), problem_kind, problem_field
      end
      prepared[i] = invocation
    end
  end

  local histogram = require("lambda.histogram").new()
  local first_byte = base.stream and require("lambda.histogram").new() or nil
  local errors = new_counts()
  local summary = { count = 0, successes = 0, errors = errors, histogram = histogram,
    first_byte_histogram = first_byte, interrupted = false }
  local limit = options["repeat"]
  local started = time.monotonic()
  local deadline = options.duration and started + options.duration
  local interval = options.rate and 1 / options.rate
  local next_index = 1
  local running = true

  -- The next invocation to start, and when it was due; nil when the run is over.
  local function claim()
    if not running then
      return nil
    end
    if options.should_stop and options.should_stop() then
      summary.interrupted = true
      running = false
      return nil
    end
    if limit and next_index > limit then
      return nil
    end
    local due = interval and started + (next_index - 1) * interval or nil
    if deadline and (due or time.monotonic()) >= deadline then
      return nil
    end
    local index = next_index
    next_index = next_index + 1
    return index, due
  end

  local function worker()
    while true do
      local index, due = claim()
      if not index then
        return
      end
      if due then
        local wait = due - time.monotonic()
        if wait > 0 then
          task.sleep(wait)
        end
      end
      local now = time.monotonic()
      local sent = due or now
      local result
      if prepared then
        result = client:_send(prepared[(index - 1) % #prepared + 1])
      else
        result = client:invoke(request_for(index))
      end
      -- Until the answer was whole, as the engine saw it: resuming this task and building the
      -- result (and any collection step on the way) are the run's own time, not the answer's.
      local response = result and result.response
      local latency = (response and response.received_at or time.monotonic()) - sent
      summary.count = summary.count + 1
      if result and result.ok then
        summary.successes = summary.successes + 1
      elseif result then
        count_error(errors, result.error)
      else
        count_error(errors, { source = "transport", type = "input" })
      end
      histogram:record(latency)
      if first_byte and result and result.first_byte then
        first_byte:record(now - sent + result.first_byte)
      end
    end
  end

  local function run()
    local progress
    if options.on_progress then
      local every = options.progress_interval or 0.25
      progress = require("lambda.event").every(every, function()
        local elapsed = time.monotonic() - started
        options.on_progress({ done = summary.count, errors = errors.total, elapsed = elapsed,
          rate = elapsed > 0 and summary.count / elapsed or 0 })
      end)
    end
    local workers = {}
    for i = 1, concurrency do
      workers[i] = worker
    end
    local ok, problem = pcall(task.all, workers)
    if progress then
      progress:cancel()
    end
    if not ok then
      error(problem, 0)
    end
    summary.duration = time.monotonic() - started
    summary.throughput = summary.duration > 0 and summary.count / summary.duration or 0
    summary.latency = M.latency(histogram)
    if first_byte then
      summary.first_byte = M.latency(first_byte)
    end
    return summary
  end
  if task.in_task() then
    return run()
  end
  return task.spawn(run):wait()
end

return M
