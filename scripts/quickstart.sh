#!/usr/bin/env bash
# Quickstart on a fresh Debian machine: install, build, start the emulator (`watch`) on the
# bundled Lua example function, invoke it with an inline payload and with a bundled example
# event, print the answers, stop the emulator.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends build-essential cmake pkg-config \
  ca-certificates liblua5.4-dev lua-cjson-dev libcurl4-openssl-dev libssl-dev \
  libevent-dev libexpat1-dev lua-busted >/dev/null
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null

port=${PORT:-9000}
bin=./build/cargo-lambda
$bin watch --invoke-address 127.0.0.1 -P "$port" -- "$bin" run fixtures/functions/echo.lua &
emulator=$!
trap 'kill -TERM $emulator 2>/dev/null; wait $emulator 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break || sleep 0.1
done

set -x
$bin invoke -P "$port" --data-ascii '{"command": "hi"}' hello
CARGO_LAMBDA_EXAMPLES_URL="file://$PWD/fixtures/events" \
  $bin invoke -P "$port" --data-example hello --output-format json hello
