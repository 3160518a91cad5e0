-- How `invoke --repeat/--duration` shows a load run: the progress line on a terminal, the
-- summary as text or JSON, and the thresholds for CI.
local M = {}

local function ms(seconds)
  return string.format("%.3f", seconds * 1000)
end

-- A progress function for lambda.load: one line on stderr, rewritten in place.
function M.progress(total)
  local shown = false
  return function(progress)
    shown = true
    local done = total and string.format("%d/%d", progress.done, total)
      or string.format("%d in %.1f s", progress.done, progress.elapsed)
    io.stderr:write(string.format("\r\27[K%s done, %d errors, %.1f/s", done, progress.errors,
      progress.rate))
    io.stderr:flush()
  end, function()
    if shown then
      io.stderr:write("\r\27[K")
      io.stderr:flush()
    end
  end
end

local function sorted_counts(counts)
  local keys = {}
  for key in pairs(counts) do
    keys[#keys + 1] = key
  end
  table.sort(keys)
  local parts = {}
  for _, key in ipairs(keys) do
    parts[#parts + 1] = string.format("%s %d", key, counts[key])
  end
  return parts
end

-- The summary as text lines.
function M.text(summary)
  local lines = {}
  lines[#lines + 1] = string.format("invocations: %d in %.2f s (%.1f/s), %d succeeded, %d failed%s",
    summary.count, summary.duration, summary.throughput, summary.successes,
    summary.errors.total, summary.interrupted and " (interrupted)" or "")
  if summary.errors.total > 0 then
    local parts = {}
    for _, source in ipairs({ "function", "service", "transport" }) do
      local counts = sorted_counts(summary.errors[source])
      if #counts > 0 then
        parts[#parts + 1] = source .. ": " .. table.concat(counts, ", ")
      end
    end
    if summary.errors.throttled > 0 then
      parts[#parts + 1] = string.format("throttled: %d", summary.errors.throttled)
    end
    lines[#lines + 1] = "errors: " .. table.concat(parts, "; ")
  end
  local function block(title, latency)
    lines[#lines + 1] = string.format("%s (ms): min %s, p50 %s, p90 %s, p99 %s, p99.9 %s, "
      .. "max %s, mean %s", title, ms(latency.min), ms(latency.p50), ms(latency.p90),
      ms(latency.p99), ms(latency.p999), ms(latency.max), ms(latency.mean))
  end
  block("latency", summary.latency)
  if summary.first_byte then
    block("first chunk", summary.first_byte)
  end
  return table.concat(lines, "\n") .. "\n"
end

-- The summary as JSON (docs/load.md lists the keys): the histogram as its encoded text.
function M.json(summary)
  local json = require("lambda.json")
  return json.pretty(json.encode(require("lambda.load").encode(summary)))
end

-- nil, or the line saying which threshold the run crossed.
function M.threshold(summary, options)
  if options.max_error_rate then
    local rate = summary.count > 0 and summary.errors.total / summary.count or 0
    if rate > options.max_error_rate then
      return string.format("error rate %.4f is over --max-error-rate %g", rate,
        options.max_error_rate)
    end
  end
  if options.max_p99 and summary.latency.p99 > options.max_p99 then
    return string.format("p99 latency %.4f s is over --max-p99 %g", summary.latency.p99,
      options.max_p99)
  end
  return nil
end

return M
