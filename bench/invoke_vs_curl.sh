#!/usr/bin/env bash
# Compares a local `cargo-lambda invoke` with curl sending the same request to the same local
# server: wall time (hyperfine) and peak memory (GNU time). Prints numbers; asserts nothing.
# Usage: bench/invoke_vs_curl.sh [build dir]   (needs hyperfine, curl, python3, /usr/bin/time)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build}/cargo-lambda
[ -x "$bin" ] || { echo "build first: $bin not found" >&2; exit 2; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 fixtures/stand_in_emulator.py --host 127.0.0.1 --port "$port" 2>/dev/null &
server=$!
results=$(mktemp)
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true; rm -f "$results"' EXIT
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break || sleep 0.1; done

payload='{"command":"bench","n":[1,2,3]}'
url="http://127.0.0.1:$port/2015-03-31/functions/bench/invocations"
curl_cmd="curl -sS -X POST --data-binary '$payload' -H 'Content-Type:' $url"
ours_cmd="$bin invoke --invoke-address 127.0.0.1 -P $port -A '$payload' bench"
# The same invoke with lambda.http's libcurl engine instead of its own loopback one.
through_curl_cmd="env CARGO_LAMBDA_HTTP=curl $ours_cmd"

hyperfine -N --warmup 20 --min-runs 200 --export-json "$results" \
  "$curl_cmd" "$ours_cmd" "$through_curl_cmd"
python3 - "$results" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
curl, ours, through_curl = r[0], r[1], r[2]
print("median wall: curl %.2f ms, cargo-lambda %.2f ms, ratio %.2fx (target <= 1.2x)" % (
    curl["median"] * 1e3, ours["median"] * 1e3, ours["median"] / curl["median"]))
print("median wall with CARGO_LAMBDA_HTTP=curl: %.2f ms, ratio %.2fx" % (
    through_curl["median"] * 1e3, through_curl["median"] / curl["median"]))
PY
peak() { /usr/bin/time -f %M sh -c "$1 >/dev/null" 2>&1 | tail -n 1; }
echo "peak RSS: curl $(peak "$curl_cmd") KB, cargo-lambda $(peak "$ours_cmd") KB (target < 10240 KB)," \
  "with CARGO_LAMBDA_HTTP=curl $(peak "$through_curl_cmd") KB"
