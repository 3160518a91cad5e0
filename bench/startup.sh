#!/usr/bin/env bash
# How close a local `cargo-lambda invoke` comes to the floor: hyperfine runs, against the same
# local server, of /bin/true (starting a process), bench/floor_client.c (the same request on a
# plain socket, libc only), `cargo-lambda --version` (starting the binary and its Lua state),
# the local invoke and curl, in ROUNDS rounds (default 10) of 40 runs each; then the medians,
# invoke/floor, and peak RSS (GNU time). Prints numbers; asserts nothing.
# Usage: [ROUNDS=N] bench/startup.sh [build dir]   (needs hyperfine, curl, python3, /usr/bin/time)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
bin=$build/cargo-lambda
floor=$build/floor_client
for program in "$bin" "$floor"; do
  [ -x "$program" ] || { echo "build first: $program not found" >&2; exit 2; }
done
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 fixtures/stand_in_emulator.py --host 127.0.0.1 --port "$port" 2>/dev/null &
server=$!
results=$(mktemp)
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true; rm -f "$results" "$results".*' EXIT
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break || sleep 0.1; done

payload='{"command":"bench","n":[1,2,3]}'
floor_cmd="$floor 127.0.0.1 $port bench '$payload'"
version_cmd="$bin --version"
invoke_cmd="$bin invoke --invoke-address 127.0.0.1 -P $port -A '$payload' bench"
curl_cmd="curl -sS -X POST --data-binary '$payload' -H 'Content-Type:' http://127.0.0.1:$port/2015-03-31/functions/bench/invocations"
# The floor must send what invoke sends and get the same answer, or the comparison is void.
[ "$(eval "$floor_cmd")" = "$(eval "$invoke_cmd")" ] ||
  { echo "floor_client and invoke disagree" >&2; exit 1; }

# Rounds, each a short hyperfine pass over all five: the machine's speed drifts over a run (a
# shared 2-core VM), and one long pass per command would put that drift between the floor and
# the invoke. The ratio is taken within each round, then its median over the rounds.
rounds=${ROUNDS:-10}
for round in $(seq "$rounds"); do
  hyperfine -N --warmup 5 --runs 40 --export-json "$results.$round" \
    -n true /bin/true -n floor "$floor_cmd" -n version "$version_cmd" -n invoke "$invoke_cmd" \
    -n curl "$curl_cmd" >/dev/null
done
python3 - "$results" "$rounds" <<'PY'
import json, statistics, sys
base, rounds = sys.argv[1], int(sys.argv[2])
medians = {}
for r in range(1, rounds + 1):
    for result in json.load(open("%s.%d" % (base, r)))["results"]:
        medians.setdefault(result["command"], []).append(result["median"] * 1e3)
for name in ("true", "floor", "version", "invoke", "curl"):
    m = medians[name]
    print("%-8s median %6.2f ms  (rounds %.2f-%.2f)" % (name, statistics.median(m), min(m), max(m)))
ratios = [i / f for i, f in zip(medians["invoke"], medians["floor"])]
print("invoke/floor %.2fx (target <= 1.6x; rounds %.2f-%.2f), invoke - floor %.2f ms" % (
    statistics.median(ratios), min(ratios), max(ratios),
    statistics.median(i - f for i, f in zip(medians["invoke"], medians["floor"]))))
PY
peak() { /usr/bin/time -f %M sh -c "exec $1 >/dev/null" 2>&1 | tail -n 1; }
echo "peak RSS: invoke $(peak "$invoke_cmd") KB (target < 5120 KB), floor $(peak "$floor_cmd") KB," \
  "version $(peak "$version_cmd") KB"
