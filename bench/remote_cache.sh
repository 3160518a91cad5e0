#!/usr/bin/env bash
# A first and a second `invoke --remote` with an assume-role profile, against a fake STS and a
# fake Lambda on loopback (tests/e2e/awsfakes.py, fakelambda.py): the first calls STS
# AssumeRole and writes ~/.aws/cli/cache, the second reads it and calls Lambda alone. Each
# round has a fresh HOME. When the AWS CLI is installed, `aws lambda invoke` with the same
# profile runs third, to show it reading the entry we wrote (no STS call either).
# Prints numbers; asserts nothing. Usage: bench/remote_cache.sh [build dir] [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "${1:-build}")/cargo-lambda
rounds=${2:-15}
[ -x "$bin" ] || { echo "build first: $bin not found" >&2; exit 2; }
exec python3 - "$bin" "$rounds" <<'PY'
import os, shutil, statistics, subprocess, sys, tempfile, time
sys.path.insert(0, os.path.join(os.getcwd(), "tests", "e2e"))
from awsfakes import FakeSTS
from fakelambda import FakeLambda

binary, rounds = sys.argv[1], int(sys.argv[2])
aws = shutil.which("aws")
role = "arn:aws:iam::123456789012:role/bench"
sts = FakeSTS().start()
sts.add_identity("AKIDBENCHBASE", "bench-base-secret")
sts.add_role(role, ("ASIABENCHROLE", "bench-role-secret", "bench-role-token"))
fake_lambda = FakeLambda(secrets={"AKIDBENCHBASE": "unused",
                                  "ASIABENCHROLE": "bench-role-secret"})
fake_lambda.__enter__()
fake_lambda.default = (200, [], b"{}")

def run(argv, env):
    started = time.monotonic()
    result = subprocess.run(argv, env=env, capture_output=True)
    elapsed = time.monotonic() - started
    if result.returncode != 0:
        sys.exit("failed: %s\n%s" % (" ".join(argv), result.stderr.decode(errors="replace")))
    return elapsed

first, second, third, calls = [], [], [], []
for _ in range(rounds):
    home = tempfile.mkdtemp(prefix="clc-bench-")
    os.makedirs(os.path.join(home, ".aws"))
    with open(os.path.join(home, ".aws", "config"), "w") as out:
        out.write("[profile bench]\nrole_arn = %s\nsource_profile = base\nregion = us-east-1\n"
                  "[profile base]\naws_access_key_id = AKIDBENCHBASE\n"
                  "aws_secret_access_key = bench-base-secret\n" % role)
    env = {"PATH": os.environ["PATH"], "HOME": home, "AWS_EC2_METADATA_DISABLED": "true",
           "AWS_ENDPOINT_URL_STS": sts.url()}
    invoke = [binary, "invoke", "--remote", "--profile", "bench", "--endpoint-url",
              fake_lambda.url(""), "-A", "{}", "bench"]
    before = len(sts.calls)
    first.append(run(invoke, env))
    after_first = len(sts.calls)
    second.append(run(invoke, env))
    after_second = len(sts.calls)
    if aws:
        third.append(run([aws, "lambda", "invoke", "--profile", "bench", "--endpoint-url",
                          fake_lambda.url(""), "--function-name", "bench", os.devnull], env))
    calls.append((after_first - before, after_second - after_first,
                  len(sts.calls) - after_second))
    shutil.rmtree(home)
sts.stop()
fake_lambda.__exit__(None, None, None)

ms = lambda values: statistics.median(values) * 1e3
print("rounds: %d; STS calls per round (first, second%s): %s" % (
    rounds, ", aws" if aws else "", sorted(set(calls))))
print("median wall: first invoke --remote %.2f ms, second (cached) %.2f ms (%.2f ms less)"
      % (ms(first), ms(second), ms(first) - ms(second)))
if aws:
    print("aws lambda invoke with the same profile afterwards: %.1f ms" % ms(third))
PY
