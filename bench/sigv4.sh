#!/usr/bin/env bash
# Prints the CPU time lambda.sigv4 takes to sign a Lambda Invoke (1 KB and 6 MB bodies), with
# the derived signing key cached and derived afresh. Asserts nothing.
# Usage: bench/sigv4.sh [build dir] [iterations]   (defaults: build, 20000)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build}/cargo-lambda
[ -x "$bin" ] || { echo "build first: $bin not found" >&2; exit 2; }
exec "$bin" run bench/sigv4_sign.lua "${2:-20000}"
