#!/usr/bin/env bash
# invoke --repeat N --concurrency C (a load run) against wrk and hey, all three against the same
# fixed-answer loopback server (bench/http_tasks_server.lua: lambda.event's server in a process
# of its own, answering 200 at once), in the same run, R rounds in turn. Prints requests/s and
# p99 of each (medians of the rounds), and invoke's ratios to them: the median of the rounds'
# ratios, with their range. (A ratio is taken within a round, whose three runs follow each other
# within seconds; this machine's speed drifts by up to 50% over minutes, and a ratio of the
# medians would compare runs of different rounds.)
# Targets (issue: load runs): at least 0.8x wrk's requests/s and at least hey's; p99 within 20%
# of wrk's. Prints numbers; asserts nothing.
# Usage: bench/load_vs_wrk.sh [build dir] [N] [C] [R]   (R rounds, default 5; needs wrk and hey:
# apt-get install wrk hey)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
total=${2:-20000}
concurrency=${3:-32}
rounds=${4:-5}
bin=$(cd "$build" 2>/dev/null && pwd)/cargo-lambda || true
[ -x "$bin" ] || { echo "build first: $build/cargo-lambda not found" >&2; exit 2; }
for tool in wrk hey; do
  command -v $tool >/dev/null || { echo "$tool is needed (apt-get install $tool)" >&2; exit 2; }
done

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
body='{"bench":true,"n":[1,2,3]}'
url="http://127.0.0.1:$port/2015-03-31/functions/bench/invocations"

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
wrk_rates=() wrk_p99=() hey_rates=() hey_p99=() our_rates=() our_p99=()
for _ in $(seq "$rounds"); do
  # wrk runs for a duration: about as long as the others take for N.
  read -r rate p99 < <(wrk -t2 -c"$concurrency" -d3s -s bench/emulator_wrk.lua "$url" \
    | sed -n 's/.*rate=\([0-9.]*\) median_ms=[0-9.]* p99_ms=\([0-9.]*\).*/\1 \2/p')
  wrk_rates+=("$rate") wrk_p99+=("$p99")
  hey_out=$(hey -n "$total" -c "$concurrency" -m POST -T application/json -d "$body" "$url")
  hey_rates+=("$(awk '/Requests\/sec:/ { printf "%.0f", $2 }' <<<"$hey_out")")
  hey_p99+=("$(awk '/99% in/ { printf "%.3f", $3 * 1000 }' <<<"$hey_out")")
  summary=$("$bin" invoke --invoke-address 127.0.0.1 -P "$port" -A "$body" bench \
    --repeat "$total" --concurrency "$concurrency" -o json)
  our_rates+=("$(python3 -c 'import json,sys; print("%.0f" % json.load(sys.stdin)["throughput"])' <<<"$summary")")
  our_p99+=("$(python3 -c 'import json,sys; print("%.3f" % (json.load(sys.stdin)["latency"]["p99"] * 1000))' <<<"$summary")")
done

echo "$total requests at concurrency $concurrency (wrk: -t2, 3 s), medians of $rounds rounds:"
report() {
  local name=$1 rates=$2 p99s=$3
  printf '  %-44s %7s req/s   p99 %7s ms   (%s | %s)\n' "$name" \
    "$(tr ' ' '\n' <<<"$rates" | median)" "$(tr ' ' '\n' <<<"$p99s" | median)" "$rates" "$p99s"
}
report "wrk" "${wrk_rates[*]}" "${wrk_p99[*]}"
report "hey" "${hey_rates[*]}" "${hey_p99[*]}"
report "cargo-lambda invoke --repeat" "${our_rates[*]}" "${our_p99[*]}"
# invoke's ratios to wrk's and hey's, round by round: "median (rounds lowest-highest)"
ratios() {
  local -n ours_ref=$1 theirs_ref=$2
  local i
  for i in "${!ours_ref[@]}"; do
    awk -v o="${ours_ref[$i]}" -v t="${theirs_ref[$i]}" 'BEGIN { printf "%.3f\n", o / t }'
  done | sort -g | awk '{ v[NR] = $1 }
    END { printf "%.3fx (rounds %.2f-%.2f)", v[int((NR + 1) / 2)], v[1], v[NR] }'
}
echo "invoke/wrk requests/s $(ratios our_rates wrk_rates) (target >= 0.8)"
echo "invoke/hey requests/s $(ratios our_rates hey_rates) (target >= 1)"
echo "p99 invoke/wrk $(ratios our_p99 wrk_p99) (target <= 1.2)"
