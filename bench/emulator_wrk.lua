-- wrk script for bench/emulator.sh: POSTs a small JSON event to the Invoke API and, at the
-- end, prints the figures in a form the shell script reads.
wrk.method = "POST"
wrk.body = '{"bench":true,"n":[1,2,3]}'
wrk.headers["Content-Type"] = "application/json"

function done(summary, latency, _)
  local seconds = summary.duration / 1e6
  local failed = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format("requests=%d rate=%.0f median_ms=%.3f p99_ms=%.3f failed=%d\n",
    summary.requests, summary.requests / seconds, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, failed))
end
