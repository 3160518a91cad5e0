#!/usr/bin/env bash
# A scenario suite of N `it` blocks (default 200), each invoking the emulator once, run by
# `cargo-lambda test` with its fixture (the emulator started in the test process on a Lua
# function, examples/functions/greeter.lua): total wall time of the whole command, R rounds.
# Target (issue: scenario tests): under 2 s for 200. Prints numbers; asserts nothing.
# Usage: bench/spec_suite.sh [build dir] [N] [R]   (needs lua-busted)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
count=${2:-200}
rounds=${3:-5}
bin=$(cd "$build" 2>/dev/null && pwd)/cargo-lambda || true
[ -x "$bin" ] || { echo "build first: $build/cargo-lambda not found" >&2; exit 2; }
[ -f /usr/share/lua/5.4/busted/runner.lua ] || { echo "lua-busted is needed" >&2; exit 2; }

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir "$dir/spec"
{
  echo 'local lambda = require("lambda")'
  echo "lambda.test.fixture({ command = { lambda.executable, \"run\", \"$PWD/examples/functions/greeter.lua\" } })"
  echo 'describe("greeter", function()'
  for i in $(seq "$count"); do
    echo "  it(\"greets caller $i\", function()"
    echo "    local result = lambda.invoke({ name = \"greeter\", payload = { name = \"caller $i\" } })"
    echo '    assert.invoked(result)'
    echo "    assert.are.equal(\"Hello, caller $i\", result:json().message)"
    echo '  end)'
  done
  echo 'end)'
} >"$dir/spec/greeter_spec.lua"

times=()
for _ in $(seq "$rounds"); do
  start=$(date +%s.%N)
  out=$(cd "$dir" && "$bin" test spec -o TAP)
  end=$(date +%s.%N)
  passed=$(grep -c '^ok ' <<<"$out" || true)
  [ "$passed" = "$count" ] || { echo "only $passed of $count passed:" >&2; echo "$out" | grep -v '^ok ' >&2; exit 1; }
  times+=("$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.3f", e - s }')")
done
median=$(printf '%s\n' "${times[@]}" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
echo "cargo-lambda test: $count its each invoking the emulator, median of $rounds rounds:" \
  "$median s (${times[*]}) (target < 2 s)"
