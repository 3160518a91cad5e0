#!/usr/bin/env bash
# The emulator's own cost with a trivial function (bench/emulator_function.lua): (1) the round
# trip of sequential invocations over one keep-alive connection (median and p99), (2)
# invocations per second with 1, 4 and 16 clients, watch --concurrency matching.
# Targets: median round trip under 1 ms; at least 6,000 invocations/s at concurrency 4.
# Prints numbers; asserts nothing.
# Usage: bench/emulator.sh [build dir] [seconds per run]   (needs wrk, python3)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
seconds=${2:-10}
bin=$(cd "$build" 2>/dev/null && pwd)/cargo-lambda || true
[ -x "$bin" ] || { echo "build first: $build/cargo-lambda not found" >&2; exit 2; }
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)" >&2; exit 2; }

watch_pid=
stop_watch() {
  if [ -n "$watch_pid" ]; then
    kill -TERM "$watch_pid" 2>/dev/null || true
    wait "$watch_pid" 2>/dev/null || true
    watch_pid=
  fi
}
trap stop_watch EXIT

# Starts watch with N instances, checks that the function answers, and warms every instance up
# so that start-up is not timed.
start_watch() {
  local concurrency=$1
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$bin" watch --invoke-address 127.0.0.1 -P "$port" --concurrency "$concurrency" \
    -- "$bin" run bench/emulator_function.lua >/dev/null 2>&1 &
  watch_pid=$!
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    kill -0 "$watch_pid" 2>/dev/null || { echo "watch did not start" >&2; exit 1; }
    sleep 0.05
  done
  local answer
  answer=$("$bin" invoke --invoke-address 127.0.0.1 -P "$port" -A '{"check":1}' bench) || true
  [ "$answer" = '{"check":1}' ] || { echo "the function answered: $answer" >&2; exit 1; }
  url="http://127.0.0.1:$port/2015-03-31/functions/bench/invocations"
  wrk -c "$concurrency" -t "$(( concurrency < 2 ? concurrency : 2 ))" -d 2s \
    -s bench/emulator_wrk.lua "$url" >/dev/null
}

# wrk's figures for one run: "requests=.. rate=.. median_ms=.. p99_ms=.. failed=.."
measure() {
  local clients=$1
  wrk -c "$clients" -t "$(( clients < 2 ? clients : 2 ))" -d "${seconds}s" \
    -s bench/emulator_wrk.lua "$url" | grep '^requests='
}

field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$2"; }

echo "emulator benchmark: $bin, ${seconds}s per run, $(nproc) cores"
start_watch 1
line=$(measure 1)
echo "round trip, 1 client, keep-alive: median $(field median_ms "$line") ms," \
  "p99 $(field p99_ms "$line") ms (target: median < 1 ms)"
echo "invocations/s at concurrency 1: $(field rate "$line") (failed: $(field failed "$line"))"
stop_watch
for concurrency in 4 16; do
  start_watch "$concurrency"
  line=$(measure "$concurrency")
  echo "invocations/s at concurrency $concurrency: $(field rate "$line")" \
    "(median $(field median_ms "$line") ms, p99 $(field p99_ms "$line") ms," \
    "failed: $(field failed "$line"))$([ "$concurrency" = 4 ] && echo ' (target >= 6000)' || true)"
  stop_watch
done
