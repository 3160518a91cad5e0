#!/usr/bin/env bash
# Prints the decode throughput of lambda.eventstream on a 100 MiB event stream fed in 64 KiB
# reads (bench/eventstream_decode.lua). Asserts nothing.
# Usage: bench/eventstream.sh [build dir] [mebibytes]   (defaults: build, 100)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build}/cargo-lambda
[ -x "$bin" ] || { echo "build first: $bin not found" >&2; exit 2; }
exec "$bin" run bench/eventstream_decode.lua "${2:-100}"
