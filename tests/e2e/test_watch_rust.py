"""End-to-end tests of `cargo-lambda watch` with functions on the official Rust runtime crate,
lambda_runtime 0.8.0: fixtures/rust-runtime-function (bins `probe` and `revision`), run by watch
with `cargo run` on the first invocation, invoked over HTTP and with our own `invoke`.

The runtime's sources and the script that builds such a function offline from Debian's crate
packages are in ../shared/rust-runtime (CARGO_LAMBDA_SHARED_DIR); the whole file is skipped,
saying why, where that folder or `cargo` is missing. cargo's target directory is
$CARGO_LAMBDA_BUILD_DIR/rust-target and the runtime's unpacked sources
$CARGO_LAMBDA_BUILD_DIR/rust-runtime-deps, kept between runs: the first build compiles the
runtime and its dependencies (about 75 s on 2 cores), later ones find them built.
CARGO_LAMBDA_RUST_CACHE names another folder for both (CI shares one between its builds)."""

import base64
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

import test_watch_cargo as cargo_tests
import test_watch_clients as clients
import test_watch_core as core
from harness import SHARED_DIR, SOURCE_DIR, clean_env, shared_path
from watchharness import Emulator, descendants

FIXTURE = os.path.join(os.path.abspath(SOURCE_DIR), "fixtures", "rust-runtime-function")
# Stands in the fixture's Cargo.toml for the path `build-function.sh --deps-dir` prints.
RUNTIME_PATH_PLACEHOLDER = "@LAMBDA_RUNTIME_PATH@"
# The first build compiles the runtime and its dependencies; on 2 shared cores it may take
# several times its usual 75 s.
FIRST_BUILD_SECONDS = 600
# Later: cargo checks that the build is up to date, or compiles one bin again.
BUILD_SECONDS = 300
# AWS's limit on a synchronous invocation's answer (6 MB and a little), as its error names it.
RESPONSE_LIMIT = 6291556
# How lambda_runtime 0.8.0 names the type of an error (std::any::type_name of a reference to
# it), as regular expressions: a handler's `lambda_runtime::Error`, and a panic's payload. The
# spelling depends on rustc: Debian 12's 1.63 writes `+` without spaces and
# `std::error::Error`, which later releases moved to core.
BOXED_ERROR_TYPE = (r"alloc::boxed::Box<dyn (?:core|std)::error::Error ?\+ ?core::marker::Send"
                    r" ?\+ ?core::marker::Sync>")
PANIC_TYPE = r"alloc::boxed::Box<dyn core::any::Any ?\+ ?core::marker::Send>"

_module = {"temporary": None, "target": None, "deps": None, "runtime_path": None}


def build_environment():
    """cargo's environment (test_watch_cargo's), with the runtime's sources where they are
    kept between runs."""
    env = cargo_tests.cargo_environment(_module["target"])
    env["RUST_RUNTIME_DEPS"] = _module["deps"]
    return env


def run_build_script(*args, timeout):
    script = shared_path("rust-runtime", "build-function.sh")
    return subprocess.run(["bash", script] + list(args), env=clean_env(build_environment()),
                          capture_output=True, text=True, timeout=timeout)


def setUpModule():
    if shared_path("rust-runtime", "build-function.sh") is None:
        clients.skip_saying_why("%s is absent (CARGO_LAMBDA_SHARED_DIR): it holds the official "
                                "Rust runtime these tests build functions on"
                                % os.path.join(SHARED_DIR, "rust-runtime", "build-function.sh"))
    if not cargo_tests.CARGO:
        clients.skip_saying_why("cargo is not on PATH")
    build_dir = (os.environ.get("CARGO_LAMBDA_RUST_CACHE")
                 or os.environ.get("CARGO_LAMBDA_BUILD_DIR"))
    if not build_dir:
        build_dir = _module["temporary"] = tempfile.mkdtemp(prefix="clc-rust-runtime-build-")
    _module["target"] = os.path.join(os.path.abspath(build_dir), "rust-target")
    _module["deps"] = os.path.join(os.path.abspath(build_dir), "rust-runtime-deps")
    # Installs the Debian crate packages when they are missing, then unpacks the runtime.
    result = run_build_script("--deps-dir", timeout=FIRST_BUILD_SECONDS)
    if result.returncode != 0:
        raise RuntimeError("build-function.sh --deps-dir failed:\n" + result.stdout
                           + result.stderr)
    _module["runtime_path"] = result.stdout.strip().splitlines()[-1]


def tearDownModule():
    if _module["temporary"]:
        shutil.rmtree(_module["temporary"], True)


def build_crate(destination):
    """Copies the fixture to destination, points it at the runtime and builds it (which writes
    its .cargo/config.toml: Debian's crates in place of crates.io)."""
    shutil.copytree(FIXTURE, destination, ignore=shutil.ignore_patterns("target", ".cargo"))
    manifest = os.path.join(destination, "Cargo.toml")
    with open(manifest, encoding="utf-8") as handle:
        text = handle.read()
    with open(manifest, "w", encoding="utf-8") as handle:
        handle.write(text.replace(RUNTIME_PATH_PLACEHOLDER, _module["runtime_path"]))
    result = run_build_script(destination, timeout=FIRST_BUILD_SECONDS)
    if result.returncode != 0:
        raise RuntimeError("the fixture does not build:\n" + result.stderr[-4000:])


class RustRuntimeTestCase(core.WatchTestCase):
    """Tests against one copy of the fixture, built once for the class."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        root = tempfile.mkdtemp(prefix="clc-rust-runtime-")
        cls.addClassCleanup(shutil.rmtree, root, True)
        cls.crate = os.path.join(root, "function")
        started = time.monotonic()
        build_crate(cls.crate)
        print("\n  %s: fixture built in %.1f s" % (cls.__name__, time.monotonic() - started))

    def emulator(self, *flags, cwd=None):
        env = cargo_tests.cargo_environment(_module["target"])
        env["HOME"] = self.home
        return Emulator(flags=list(flags), env=env, cwd=cwd or self.crate)

    def call(self, emu, name, payload, headers=None):
        """An invocation over HTTP, given the time cargo may need to start the function."""
        return emu.invoke(name, payload, headers, timeout=BUILD_SECONDS)

    def invoke_cli(self, emu, *args):
        return self.cli("invoke", "--invoke-address", emu.host, "-P", str(emu.port), *args,
                        timeout=BUILD_SECONDS)

    def context(self, emu, headers=None):
        """What the probe saw: {"context": the typed Context as JSON, "now_ms", "pid"}."""
        return self.assertOk(self.call(emu, "probe", {"action": "context"}, headers))

    def assertRuntimeError(self, answer):
        """A function error as lambda_runtime posts it: only errorType and errorMessage."""
        status, headers, body = answer
        self.assertEqual(status, 200, body)
        self.assertEqual(headers.get("x-amz-function-error"), "Unhandled", body)
        document = core.body_json(body)
        self.assertEqual(sorted(document), ["errorMessage", "errorType"], document)
        return document

    def assertStderr(self, result, pattern):
        """Exit 1 and exactly one line on stderr, matching pattern (a regular expression)."""
        self.assertExit(result, 1)
        self.assertRegex(result.stderr.decode("utf-8", "replace"), "^%s\n\\Z" % pattern)


# A client context in the AWS Mobile SDK's shape: lambda_runtime 0.8.0's ClientContext needs
# every one of the `client` fields (snake_case, as the SDK sends them) and string values in
# `custom` and `env`: anything else fails the parse and the runtime exits.
MOBILE_CLIENT_CONTEXT = {
    "client": {"installation_id": "install-42", "app_title": "Probe App",
               "app_version_name": "1.2.3", "app_version_code": "123",
               "app_package_name": "com.example.probe"},
    "custom": {"tenant": "blue", "note": "caf\u00e9 \"quoted\""},
    "env": {"platform": "Android", "locale": "en_GB"},
}
# ...and as the runtime's typed struct serializes it: camelCase fields. 0.8.0 calls its
# environment map `environment` and reads no `env` key, so AWS's `env` does not reach it.
TYPED_CLIENT_CONTEXT = {
    "client": {"installationId": "install-42", "appTitle": "Probe App",
               "appVersionName": "1.2.3", "appVersionCode": "123",
               "appPackageName": "com.example.probe"},
    "custom": {"tenant": "blue", "note": "caf\u00e9 \"quoted\""},
    "environment": {},
}


class ContextTest(RustRuntimeTestCase):
    def test_client_context_and_identity_from_invoke_arrive_in_the_typed_structs(self):
        with self.emulator() as emu:
            result = self.invoke_cli(
                emu, "--client-context-ascii", json.dumps(MOBILE_CLIENT_CONTEXT),
                "--identity-id", "eu-west-1:6a9c1f7e-0d2b-4c55-9c1e-5f1b2d3e4a50",
                "--identity-pool-id", "eu-west-1:pool-0f7d", "-A", '{"action": "context"}',
                "probe")
            self.assertExit(result, 0)
            context = json.loads(result.stdout)["context"]
            self.assertEqual(context["client_context"], TYPED_CLIENT_CONTEXT)
            self.assertEqual(context["identity"], {
                "identityId": "eu-west-1:6a9c1f7e-0d2b-4c55-9c1e-5f1b2d3e4a50",
                "identityPoolId": "eu-west-1:pool-0f7d"})

    def test_client_context_from_the_invoke_apis_base64_header(self):
        encoded = base64.b64encode(json.dumps(MOBILE_CLIENT_CONTEXT).encode()).decode()
        with self.emulator() as emu:
            answer = self.context(emu, {"X-Amz-Client-Context": encoded})
            self.assertEqual(answer["context"]["client_context"], TYPED_CLIENT_CONTEXT)
            self.assertIsNone(answer["context"]["identity"])
            # Nothing sent, nothing arrives; the same instance serves both.
            after = self.context(emu)
            self.assertIsNone(after["context"]["client_context"])
            self.assertIsNone(after["context"]["identity"])
            self.assertEqual(after["pid"], answer["pid"])

    def test_deadline_arn_and_configuration(self):
        with self.emulator("--timeout", "45", "--region", "eu-west-3") as emu:
            status, headers, body = self.call(emu, "probe", {"action": "context"})
            answer = self.assertOk((status, headers, body))
            context = answer["context"]
            # The deadline is the function's own: about 45 s after it got the invocation, by
            # its clock, and by ours.
            remaining = context["deadline"] - answer["now_ms"]
            self.assertGreater(remaining, 40000, context)
            self.assertLessEqual(remaining, 45000, context)
            self.assertAlmostEqual(context["deadline"] / 1000, time.time() + 45, delta=15)
            self.assertEqual(context["invoked_function_arn"],
                             "arn:aws:lambda:eu-west-3:012345678912:function:probe")
            self.assertRegex(context["request_id"], clients.UUID)
            self.assertEqual(context["request_id"], headers.get("x-amzn-requestid"))
            self.assertRegex(context["xray_trace_id"], clients.TRACE_ID)
            config = context["env_config"]
            self.assertEqual(config["function_name"], "probe")
            self.assertEqual(config["version"], "$LATEST")
            self.assertEqual(config["log_group"], "/aws/lambda/probe")
            self.assertGreater(config["memory"], 0)
            # Each invocation has a deadline and an id of its own: one invoked 200 ms later
            # has a deadline at least 200 ms later.
            time.sleep(0.2)
            second = self.context(emu)["context"]
            self.assertGreaterEqual(second["deadline"] - context["deadline"], 200)
            self.assertNotEqual(second["request_id"], context["request_id"])


class FailureTest(RustRuntimeTestCase):
    def test_an_err_is_a_function_error_with_the_runtimes_type_and_message(self):
        with self.emulator() as emu:
            first = self.context(emu)
            document = self.assertRuntimeError(self.call(
                emu, "probe", {"action": "fail", "message": "order 7 is not valid"}))
            # The runtime names the type of a reference to the error; `invoke` strips the `&`.
            self.assertRegex(document["errorType"], "^&%s$" % BOXED_ERROR_TYPE)
            self.assertEqual(document["errorMessage"], "order 7 is not valid")
            result = self.invoke_cli(emu, "-A", '{"action": "fail", "message": "no stock"}',
                                     "probe")
            self.assertStderr(result, "Error: %s: no stock" % BOXED_ERROR_TYPE)
            self.assertEqual(result.stdout, b"")
            self.assertEqual(self.context(emu)["pid"], first["pid"])

    def test_a_panic_is_a_function_error_and_the_instance_keeps_serving(self):
        with self.emulator() as emu:
            first = self.context(emu)
            document = self.assertRuntimeError(self.call(emu, "probe", {"action": "panic"}))
            self.assertRegex(document["errorType"], "^&%s$" % PANIC_TYPE)
            self.assertEqual(document["errorMessage"],
                             "Lambda panicked: the probe panics on purpose")
            emu.wait_for_output("the probe panics on purpose")
            # A formatted message is a String, which the runtime does not report.
            result = self.invoke_cli(emu, "-A", '{"action": "panic", "message": "at 3"}',
                                     "probe")
            self.assertStderr(result, "Error: %s: Lambda panicked" % PANIC_TYPE)
            emu.wait_for_output("the probe panics: at 3")
            # The runtime caught both panics: the same process answers the next invocation.
            self.assertEqual(self.context(emu)["pid"], first["pid"])
            self.assertEqual(emu.output().count("cargo-lambda watch: starting probe: "), 1)

    def test_a_timeout_is_sandbox_timedout_and_a_fresh_instance_serves_the_next(self):
        with self.emulator("--timeout", "2") as emu:
            first = self.context(emu)
            remaining = first["context"]["deadline"] - first["now_ms"]
            self.assertGreater(remaining, 1000, first)
            self.assertLessEqual(remaining, 2000, first)
            answer, took = self.timed(self.call, emu, "probe", {"action": "sleep", "ms": 60000})
            print("\n  timeout answered in %.3f s (--timeout 2)" % took)
            document = self.assertFunctionError(answer, "Sandbox.Timedout")
            self.assertIn(answer[1].get("x-amzn-requestid"), document["errorMessage"])
            self.assertTrue(document["errorMessage"].endswith(
                "Task timed out after 2.00 seconds"), document)
            self.assertGreaterEqual(took, 1.9)
            self.assertLess(took, 2 + core.AT_ONCE)
            after = self.context(emu)
            self.assertNotEqual(after["pid"], first["pid"], "not a fresh instance")
            deadline = time.monotonic() + 10
            while first["pid"] in descendants(emu.pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertNotIn(first["pid"], descendants(emu.pid), "the timed-out instance runs")


class ResponseLimitTest(RustRuntimeTestCase):
    def test_an_answer_of_exactly_the_limit_is_delivered(self):
        with self.emulator() as emu:
            status, headers, body = self.call(emu, "probe",
                                              {"action": "big", "bytes": RESPONSE_LIMIT})
            self.assertEqual(status, 200, body[:200])
            self.assertNotIn("x-amz-function-error", headers)
            self.assertEqual(len(body), RESPONSE_LIMIT)
            self.assertEqual(body[:3] + body[-3:], b'"xxxx"')

    def test_an_answer_over_the_limit_is_function_response_size_too_large(self):
        size = RESPONSE_LIMIT + 1
        message = ("Response payload size (%d bytes) exceeded maximum allowed payload size "
                   "(%d bytes)." % (size, RESPONSE_LIMIT))
        with self.emulator() as emu:
            answer = self.call(emu, "probe", {"action": "big", "bytes": size})
            status, headers, body = answer
            # (Not the whole body in the message: it is 6 MB.)
            self.assertEqual(headers.get("x-amz-function-error"), "Unhandled",
                             "answered %d with %d bytes: %r..." % (status, len(body), body[:80]))
            document = self.assertFunctionError(answer, "Function.ResponseSizeTooLarge")
            self.assertEqual(document["errorMessage"], message)
            result = self.invoke_cli(emu, "-A", json.dumps({"action": "big", "bytes": size}),
                                     "probe")
            self.assertStderr(result, re.escape("Error: Function.ResponseSizeTooLarge: "
                                                + message))
            self.context(emu)


class ConcurrencyTest(RustRuntimeTestCase):
    SLEEP_MS = 3000

    def test_three_instances_serve_three_slow_invocations_at_once(self):
        with self.emulator("--concurrency", "3") as emu:
            self.context(emu)  # one instance is up; the others start for the slow invocations
            started = time.monotonic()
            calls = [core.Background(emu, "probe", {"action": "sleep", "ms": self.SLEEP_MS})
                     for _ in range(3)]
            for call in calls:
                call.start()
            answers = [self.assertOk(call.answer(BUILD_SECONDS)) for call in calls]
            took = time.monotonic() - started
        print("\n  three %.1f s invocations with --concurrency 3: %.3f s"
              % (self.SLEEP_MS / 1000, took))
        self.assertEqual(len(set(answer["pid"] for answer in answers)), 3, answers)
        self.assertLess(max(answer["started_ms"] for answer in answers),
                        min(answer["finished_ms"] for answer in answers),
                        "the three invocations did not all run at the same time")
        # About one slow invocation, not three (two allow for starting two instances).
        self.assertLess(took, 2 * self.SLEEP_MS / 1000)


class RebuildTest(RustRuntimeTestCase):
    """Edits `revision` in a copy of the class's crate while watch runs."""

    edit = cargo_tests.CargoWatchTestCase.edit
    wait_for_count = cargo_tests.CargoWatchTestCase.wait_for_count

    def setUp(self):
        super().setUp()
        self.project = os.path.join(self.scratch, "project")
        shutil.copytree(self.crate, self.project)
        # Newer than any build of it in the shared target directory (an edited one of an
        # earlier test included), so the first invocation compiles it.
        os.utime(os.path.join(self.project, "src", "bin", "revision.rs"))

    def revision(self, emu):
        return self.assertOk(self.call(emu, "revision", {}))["revision"]

    def test_the_first_invocation_compiles_and_a_change_rebuilds(self):
        with self.emulator(cwd=self.project) as emu:
            self.assertEqual(self.revision(emu), 1)
            emu.wait_for_output("[revision]    Compiling rust-runtime-function v0.1.0 (%s)"
                                % self.project)
            self.assertIn("cargo-lambda watch: starting revision: cargo run --manifest-path "
                          "%s --bin revision\n" % os.path.join(self.project, "Cargo.toml"),
                          emu.output())
            self.edit("src/bin/revision.rs", "REVISION: u32 = 1;", "REVISION: u32 = 2;")
            emu.wait_for_output("src/bin/revision.rs changed: restarting functions")
            self.assertEqual(self.revision(emu), 2)
            after_change = emu.output().split("src/bin/revision.rs changed", 1)[1]
            self.assertIn("Compiling rust-runtime-function", after_change)

    def test_a_compile_error_fails_the_invocation_and_a_fix_recovers(self):
        with self.emulator(cwd=self.project) as emu:
            self.assertEqual(self.revision(emu), 1)
            self.edit("src/bin/revision.rs", "REVISION: u32 = 1;", "REVISION: u32 = 1")
            emu.wait_for_output("src/bin/revision.rs changed")
            result = self.invoke_cli(emu, "-A", "{}", "revision")
            self.assertExit(result, 1)
            stderr = result.stderr.decode("utf-8", "replace")
            self.assertTrue(stderr.startswith("Error: Runtime.ExitError: "), stderr)
            # rustc's own diagnostic: what it expected, and where.
            self.assertIn("expected `;`", stderr)
            self.assertIn("src/bin/revision.rs", stderr)
            self.edit("src/bin/revision.rs", "REVISION: u32 = 1", "REVISION: u32 = 3;")
            self.wait_for_count(emu, "src/bin/revision.rs changed", 2)
            result = self.invoke_cli(emu, "-A", "{}", "revision")
            self.assertExit(result, 0)
            self.assertEqual(json.loads(result.stdout), {"revision": 3})


if __name__ == "__main__":
    unittest.main()
