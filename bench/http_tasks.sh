#!/usr/bin/env bash
# lambda.http from tasks against hey: N requests at concurrency C (C tasks in one script, each
# sending its share one after the other; hey -n N -c C) to the same fixed-answer loopback
# server (bench/http_tasks_server.lua, lambda.event's server in a process of its own), in the
# same run. Prints requests/s of each, for lambda.http's plain engine and for libcurl
# (CARGO_LAMBDA_HTTP=curl), the median of R rounds. Target: at least hey's rate.
# Prints numbers; asserts nothing.
# Usage: bench/http_tasks.sh [build dir] [N] [C] [R]   (needs hey: apt-get install hey)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
total=${2:-1000}
concurrency=${3:-32}
rounds=${4:-5}
bin=$(cd "$build" 2>/dev/null && pwd)/cargo-lambda || true
[ -x "$bin" ] || { echo "build first: $build/cargo-lambda not found" >&2; exit 2; }
command -v hey >/dev/null || { echo "hey is needed (apt-get install hey)" >&2; exit 2; }

output=$(mktemp)
"$bin" run bench/http_tasks_server.lua >"$output" 2>&1 &
server=$!
trap 'kill -TERM $server 2>/dev/null; wait $server 2>/dev/null || true; rm -f "$output"' EXIT
for _ in $(seq 100); do
  grep -q '^PORT ' "$output" && break
  kill -0 "$server" 2>/dev/null || { cat "$output" >&2; exit 1; }
  sleep 0.05
done
port=$(sed -n 's/^PORT //p' "$output")
[ -n "$port" ] || { echo "the server did not start" >&2; exit 1; }
url="http://127.0.0.1:$port/"

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
hey_rates=() plain_rates=() curl_rates=()
for _ in $(seq "$rounds"); do
  hey_rates+=("$(hey -n "$total" -c "$concurrency" "$url" | awk '/Requests\/sec:/ { printf "%.0f", $2 }')")
  read -r rate failures < <("$bin" run bench/http_tasks_client.lua "$url" "$total" "$concurrency")
  [ "$failures" = 0 ] || echo "lambda.http (plain): $failures failed requests" >&2
  plain_rates+=("$rate")
  read -r rate failures < <(CARGO_LAMBDA_HTTP=curl "$bin" run bench/http_tasks_client.lua \
    "$url" "$total" "$concurrency")
  [ "$failures" = 0 ] || echo "lambda.http (libcurl): $failures failed requests" >&2
  curl_rates+=("$rate")
done
echo "$total requests at concurrency $concurrency, median of $rounds rounds (requests/s):"
report() { printf '  %-40s %6s  (%s)\n' "$1" "$(printf '%s\n' "${@:2}" | median)" "${*:2}"; }
report "hey -c $concurrency" "${hey_rates[@]}"
report "lambda.http, $concurrency tasks (plain engine)" "${plain_rates[@]}"
report "lambda.http, $concurrency tasks (libcurl)" "${curl_rates[@]}"
