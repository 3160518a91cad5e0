#!/usr/bin/env bash
# invoke_all against hey: N invocations of a trivial Lua function (bench/emulator_function.lua)
# at concurrency C from one script (client:invoke_all, bench/invoke_all_client.lua), and
# `hey -n N -c C` sending the same request to the same emulator (watch --concurrency C) in the
# same run. Prints invocations/s and wall time of each, the median of R rounds. Target: at least
# hey's rate. Prints numbers; asserts nothing.
# Usage: bench/invoke_all.sh [build dir] [N] [C] [R]   (needs hey: apt-get install hey)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
total=${2:-1000}
concurrency=${3:-32}
rounds=${4:-5}
bin=$(cd "$build" 2>/dev/null && pwd)/cargo-lambda || true
[ -x "$bin" ] || { echo "build first: $build/cargo-lambda not found" >&2; exit 2; }
command -v hey >/dev/null || { echo "hey is needed (apt-get install hey)" >&2; exit 2; }

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin" watch --invoke-address 127.0.0.1 -P "$port" --concurrency "$concurrency" \
  -- "$bin" run bench/emulator_function.lua >/dev/null 2>&1 &
watch=$!
trap 'kill -TERM $watch 2>/dev/null; wait $watch 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  kill -0 "$watch" 2>/dev/null || { echo "watch did not start" >&2; exit 1; }
  sleep 0.05
done
url="http://127.0.0.1:$port/2015-03-31/functions/bench/invocations"
payload='{"command":"bench","n":[1,2,3]}'
# Warm-up: every function instance started before anything is timed.
"$bin" run bench/invoke_all_client.lua "$port" "$concurrency" "$concurrency" >/dev/null
hey -n "$concurrency" -c "$concurrency" -m POST -d "$payload" "$url" >/dev/null

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
hey_rates=() ours_rates=()
for _ in $(seq "$rounds"); do
  hey_rates+=("$(hey -n "$total" -c "$concurrency" -m POST -d "$payload" "$url" |
    awk '/Requests\/sec:/ { printf "%.0f", $2 }')")
  read -r rate _ failures < <("$bin" run bench/invoke_all_client.lua "$port" "$total" "$concurrency")
  [ "$failures" = 0 ] || echo "invoke_all: $failures failed invocations" >&2
  ours_rates+=("$rate")
done
echo "$total invocations at concurrency $concurrency against watch, median of $rounds rounds:"
report() { printf '  %-34s %6s/s  (%s)\n' "$1" "$(printf '%s\n' "${@:2}" | median)" "${*:2}"; }
report "hey -n $total -c $concurrency" "${hey_rates[@]}"
report "client:invoke_all, concurrency $concurrency" "${ours_rates[@]}"
