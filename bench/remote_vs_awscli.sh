#!/usr/bin/env bash
# `invoke --remote` (SigV4-signed Invoke) against a local endpoint, compared with the AWS CLI
# (`aws lambda invoke --endpoint-url`) on the same endpoint. Prints numbers; asserts nothing.
# Usage: bench/remote_vs_awscli.sh [build dir]   (needs hyperfine, python3, Debian's awscli)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build}/cargo-lambda
[ -x "$bin" ] || { echo "build first: $bin not found" >&2; exit 2; }
aws=$(command -v /usr/bin/aws || command -v aws || true)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 fixtures/stand_in_emulator.py --host 127.0.0.1 --port "$port" 2>/dev/null &
server=$!
results=$(mktemp)
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true; rm -f "$results"' EXIT
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break || sleep 0.1; done

export AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY
export AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
endpoint="http://127.0.0.1:$port"
ours="$bin invoke --remote --endpoint-url $endpoint -A '{\"n\":1}' bench"
commands=("$ours")
if [ -n "$aws" ]; then
  commands+=("$aws lambda invoke --endpoint-url $endpoint --function-name bench \
--cli-binary-format raw-in-base64-out --payload '{\"n\":1}' /dev/null")
else
  echo "awscli not installed: measuring cargo-lambda only" >&2
fi
hyperfine -N --warmup 3 --min-runs 20 --export-json "$results" "${commands[@]}"
python3 - "$results" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
print("median wall: cargo-lambda --remote %.2f ms" % (r[0]["median"] * 1e3), end="")
if len(r) > 1:
    print(", aws lambda invoke %.1f ms (%.0fx slower)" % (r[1]["median"] * 1e3,
          r[1]["median"] / r[0]["median"]), end="")
print()
PY
