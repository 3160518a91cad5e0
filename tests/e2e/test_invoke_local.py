"""End-to-end tests of `cargo-lambda invoke` against a recording server on loopback."""

import base64
import json
import os
import re
import signal
import socket
import subprocess
import time
import unittest

from harness import BIN, ScratchTestCase, SOURCE_DIR
from testserver import TestServer

INVOKE_PATH = "/2015-03-31/functions/%s/invocations"
SYNC_LIMIT = 6 * 1024 * 1024
EVENT_LIMIT = 1024 * 1024


def closed_port():
    """A loopback port with nothing listening on it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class InvokeTestCase(ScratchTestCase):
    def setUp(self):
        super().setUp()
        self.server = TestServer(host="127.0.0.1")
        self.server.__enter__()
        self.addCleanup(self.server.__exit__, None, None, None)

    def invoke(self, *args, server=None, **kwargs):
        server = server or self.server
        return self.cli("invoke", "--invoke-address", server.host, "-P", str(server.port),
                        *args, **kwargs)

    def only_request(self, server=None):
        requests = (server or self.server).requests
        self.assertEqual(len(requests), 1, "expected exactly one request")
        return requests[0]


class RequestShape(InvokeTestCase):
    def test_default_function_and_exact_body(self):
        self.server.respond(200, body=b'{"ok":true}')
        result = self.invoke("--data-ascii", '{"command": "hi"}')
        self.assertExit(result, 0)
        self.assertEqual(result.stdout, b'{"ok":true}\n')
        self.assertEqual(result.stderr, b"")
        request = self.only_request()
        self.assertEqual(request.method, "POST")
        self.assertEqual(request.path, INVOKE_PATH % "_")
        self.assertEqual(request.body, b'{"command": "hi"}')
        self.assertIsNone(request.header("content-type"))
        self.assertIsNone(request.header("expect"))
        self.assertIsNone(request.header("lambda-runtime-client-context"))
        self.assertIsNone(request.header("lambda-runtime-cognito-identity"))

    def test_cargo_subcommand_form(self):
        result = self.cli("lambda", "invoke", "--invoke-address", "127.0.0.1", "-P",
                          str(self.server.port), "-A", "{}", "fn")
        self.assertExit(result, 0)
        self.assertEqual(self.only_request().path, INVOKE_PATH % "fn")

    def test_name_is_percent_encoded(self):
        result = self.invoke("-A", "{}", "my fn:live/x")
        self.assertExit(result, 0)
        self.assertEqual(self.only_request().path, INVOKE_PATH % "my%20fn%3Alive%2Fx")

    def test_data_file_bytes_sent_exactly(self):
        payload = bytes(range(256)) * 4 + b"\r\n\x00tail"
        path = os.path.join(self.scratch, "payload.bin")
        with open(path, "wb") as f:
            f.write(payload)
        self.assertExit(self.invoke("--data-file", path), 0)
        self.assertEqual(self.only_request().body, payload)

    def test_data_file_from_stdin(self):
        self.assertExit(self.invoke("-F", "-", input=b'{"from":"stdin"}\n'), 0)
        self.assertEqual(self.only_request().body, b'{"from":"stdin"}\n')

    def test_six_megabyte_payload(self):
        payload = b'{"blob":"' + b"x" * (6 * 1024 * 1024 - 11) + b'"}'
        self.assertEqual(len(payload), SYNC_LIMIT)
        path = os.path.join(self.scratch, "big.json")
        with open(path, "wb") as f:
            f.write(payload)
        self.server.respond(200, body=payload)
        result = self.invoke("-F", path)
        self.assertExit(result, 0)
        self.assertEqual(self.only_request().body, payload)
        self.assertEqual(result.stdout, payload + b"\n")

    def test_client_context_header(self):
        self.assertExit(self.invoke("-A", "{}", "--client-context-ascii", '{"custom":{"a":1}}'), 0)
        self.assertEqual(self.only_request().header("lambda-runtime-client-context"),
                         '{"custom":{"a":1}}')

    def test_client_context_file_is_put_on_one_line_and_wins(self):
        path = os.path.join(self.scratch, "ctx.json")
        with open(path, "w") as f:
            f.write('{\n  "custom": {\n    "k": "a b"\n  }\n}\n')
        result = self.invoke("-A", "{}", "--client-context-file", path,
                             "--client-context-ascii", '{"ignored":1}')
        self.assertExit(result, 0)
        value = self.only_request().header("lambda-runtime-client-context")
        self.assertEqual(value, '{"custom": {"k": "a b"}}')

    def test_client_context_must_be_json(self):
        result = self.invoke("-A", "{}", "--client-context-ascii", "{not json")
        self.assertExit(result, 2)
        self.assertOneLineError(result, "--client-context-ascii", "byte")
        self.assertEqual(self.server.requests, [])

    def test_client_context_file_missing(self):
        result = self.invoke("-A", "{}", "--client-context-file", "/nonexistent/ctx.json")
        self.assertExit(result, 2)
        self.assertOneLineError(result, "--client-context-file", "/nonexistent/ctx.json")

    def test_cognito_identity_header(self):
        result = self.invoke("-A", "{}", "--identity-id", "us-east-1:abc",
                             "--identity-pool-id", "us-east-1:pool/\"q\"")
        self.assertExit(result, 0)
        value = self.only_request().header("lambda-runtime-cognito-identity")
        self.assertEqual(json.loads(value), {"cognitoIdentityId": "us-east-1:abc",
                                             "cognitoIdentityPoolId": 'us-east-1:pool/"q"'})
        self.assertTrue(value.startswith('{"cognitoIdentityId":"us-east-1:abc",'))

    def test_identity_flags_go_together(self):
        for flag in ("--identity-id", "--identity-pool-id"):
            result = self.invoke("-A", "{}", flag, "x")
            self.assertExit(result, 2)
            self.assertOneLineError(result, "--identity-id", "--identity-pool-id")
        self.assertEqual(self.server.requests, [])


class PayloadLimits(InvokeTestCase):
    """AWS's payload limits, refused before sending and while reading (never past limit + 1
    bytes); FIFOs and standard input within --timeout."""

    def write_file(self, name, size):
        path = os.path.join(self.scratch, name)
        with open(path, "wb") as f:
            f.write(b"x" * size)
        return path

    def test_over_six_megabytes_is_refused_before_sending(self):
        path = self.write_file("big.json", SYNC_LIMIT + 1)
        for args in ([], ["--invocation-type", "DryRun"]):
            result = self.invoke("-F", path, *args)
            self.assertExit(result, 2)
            self.assertOneLineError(result, "--data-file: %s is over the 6 MB limit (6291456 "
                                    "bytes)" % path)
        self.assertEqual(self.server.requests, [])

    def test_event_limit_is_one_megabyte(self):
        self.server.respond(202, body=b"")
        result = self.invoke("-F", self.write_file("one.json", EVENT_LIMIT),
                             "--invocation-type", "Event")
        self.assertExit(result, 0)
        self.assertEqual(len(self.only_request().body), EVENT_LIMIT)
        result = self.invoke("-F", self.write_file("over.json", EVENT_LIMIT + 1),
                             "--invocation-type", "Event")
        self.assertExit(result, 2)
        self.assertOneLineError(result, "over.json is over the 1 MB limit (1048576 bytes) for "
                                "Event invocations")
        self.assertEqual(len(self.server.requests), 1)

    def test_huge_files_are_refused_at_once(self):
        # 100 MB made a broken pipe (exit 3) and 50 MB a 413 (exit 1); both are too large.
        for size in (50 * 1024 * 1024, 100 * 1024 * 1024):
            path = os.path.join(self.scratch, "sparse-%d" % size)
            with open(path, "wb") as f:
                f.truncate(size)
            started = time.monotonic()
            result = self.invoke("-F", path)
            self.assertLess(time.monotonic() - started, 10)
            self.assertExit(result, 2)
            self.assertOneLineError(result, path, "6 MB")
        self.assertEqual(self.server.requests, [])

    def test_endless_device_is_refused_while_reading(self):
        started = time.monotonic()
        result = self.invoke("-F", "/dev/zero", timeout=30)
        self.assertLess(time.monotonic() - started, 20)
        self.assertExit(result, 2)
        self.assertOneLineError(result, "--data-file: /dev/zero is over the 6 MB limit")
        self.assertEqual(self.server.requests, [])

    def test_standard_input_over_the_limit(self):
        result = self.invoke("-F", "-", "--invocation-type", "Event",
                             input=b"x" * (EVENT_LIMIT + 1))
        self.assertExit(result, 2)
        self.assertOneLineError(result, "--data-file: standard input is over the 1 MB limit")
        self.assertEqual(self.server.requests, [])

    def test_standard_input_that_never_ends_honours_timeout(self):
        process = subprocess.Popen(
            [BIN, "invoke", "--invoke-address", "127.0.0.1", "-P", str(self.server.port),
             "-F", "-", "--timeout", "0.5"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, env=self.env(), cwd=self.scratch)
        self.addCleanup(lambda: process.poll() is None and process.kill())
        self.addCleanup(process.stdin.close)
        # Standard input stays open and empty: communicate() would close it.
        process.wait(timeout=20)
        stderr = process.stderr.read()
        process.stdout.close()
        process.stderr.close()
        self.assertEqual(process.returncode, 2, stderr)
        self.assertIn(b"--data-file: standard input: timed out after 0.5 s", stderr)
        self.assertEqual(self.server.requests, [])

    def fifo(self):
        path = os.path.join(self.scratch, "payload.fifo")
        os.mkfifo(path)
        return path

    def test_fifo_without_writer_honours_timeout(self):
        path = self.fifo()
        started = time.monotonic()
        result = self.invoke("-F", path, "--timeout", "0.5", timeout=20)
        self.assertLess(time.monotonic() - started, 10)
        self.assertExit(result, 2)
        self.assertOneLineError(result, "--data-file: %s: timed out after 0.5 s" % path)
        self.assertEqual(self.server.requests, [])

    def start_reading(self, path, *args):
        """Starts invoke -F path and returns it once it has the FIFO open."""
        process = subprocess.Popen(
            [BIN, "invoke", "--invoke-address", "127.0.0.1", "-P", str(self.server.port),
             "-F", path] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=self.env(), cwd=self.scratch,
            # SIGINT as at a terminal, even when the tests run with it ignored (in background).
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        self.addCleanup(lambda: process.poll() is None and process.kill())
        fd_dir = "/proc/%d/fd" % process.pid
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if any(os.readlink(os.path.join(fd_dir, fd)) == path
                       for fd in os.listdir(fd_dir)):
                    return process
            except OSError:
                pass
            time.sleep(0.02)
        self.fail("invoke did not open %s" % path)

    def test_fifo_without_timeout_waits_for_its_writer(self):
        path = self.fifo()
        process = self.start_reading(path)
        with open(path, "wb") as writer:
            writer.write(b'{"late": true}')
        stdout, stderr = process.communicate(timeout=20)
        self.assertEqual(process.returncode, 0, stderr)
        self.assertEqual(self.only_request().body, b'{"late": true}')

    def test_ctrl_c_ends_the_wait_for_a_fifo(self):
        process = self.start_reading(self.fifo())
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=10)
        self.assertEqual(process.returncode, -signal.SIGINT)
        self.assertEqual(self.server.requests, [])

    def test_client_context_file_is_bounded(self):
        path = self.write_file("context.json", 64 * 1024 + 1)
        result = self.invoke("-A", "{}", "--client-context-file", path)
        self.assertExit(result, 2)
        self.assertOneLineError(result, "--client-context-file: %s is larger than 65536 bytes"
                                % path)
        self.assertEqual(self.server.requests, [])


class Output(InvokeTestCase):
    def test_json_output_is_pretty_and_keeps_numbers(self):
        self.server.respond(200, body=b'{"b":12345678901234567890,"a":[1.0e+2,{}],"c":[]}')
        result = self.invoke("-A", "{}", "-o", "json")
        self.assertExit(result, 0)
        self.assertEqual(result.stdout.decode(),
                         '{\n  "b": 12345678901234567890,\n  "a": [\n    1.0e+2,\n    {}\n  ],\n'
                         '  "c": []\n}\n')

    def test_output_format_is_case_insensitive(self):
        self.server.respond(200, body=b"[1]")
        result = self.invoke("-A", "{}", "--output-format", "JSON")
        self.assertExit(result, 0)
        self.assertEqual(result.stdout, b"[\n  1\n]\n")

    def test_json_output_of_non_json_answer(self):
        self.server.respond(200, body=b"hello")
        result = self.invoke("-A", "{}", "-o", "json")
        self.assertExit(result, 1)
        self.assertOneLineError(result, "not JSON")
        self.assertEqual(result.stdout, b"")

    def test_function_error_marker(self):
        self.server.respond(200, headers={"X-Amz-Function-Error": "Unhandled"},
                            body=b'{"errorType":"&str","errorMessage":"boom"}')
        result = self.invoke("-A", "{}")
        self.assertExit(result, 1)
        self.assertEqual(result.stderr, b"Error: str: boom\n")
        self.assertEqual(result.stdout, b"")

    def test_non_200_is_a_function_error(self):
        self.server.respond(500, body=b'{"errorType":"Panic","errorMessage":"it broke"}')
        result = self.invoke("-A", "{}")
        self.assertExit(result, 1)
        self.assertEqual(result.stderr, b"Error: Panic: it broke\n")

    def test_problem_json_aliases(self):
        self.server.respond(404, body=b'{"title":"Missing function","detail":"no fn x"}')
        result = self.invoke("-A", "{}", "x")
        self.assertExit(result, 1)
        self.assertEqual(result.stderr, b"Error: Missing function: no fn x\n")

    def test_unparseable_error_body(self):
        self.server.respond(502, body=b"<html>Bad gateway</html>" + b"z" * 500)
        result = self.invoke("-A", "{}")
        self.assertExit(result, 1)
        self.assertOneLineError(result, "502", "<html>Bad gateway</html>")
        self.assertLess(len(result.stderr), 400)

    def test_empty_error_body(self):
        self.server.respond(503, body=b"")
        result = self.invoke("-A", "{}")
        self.assertExit(result, 1)
        self.assertOneLineError(result, "503", "empty body")

    def test_invocation_and_log_types(self):
        self.server.respond(202, body=b"")
        result = self.invoke("-A", "{}", "--invocation-type", "Event")
        self.assertExit(result, 0)
        self.assertEqual(result.stdout, b"")
        self.assertEqual(self.server.requests[-1].header("x-amz-invocation-type"), "Event")
        self.server.respond(204, body=b"")
        self.assertExit(self.invoke("-A", "{}", "--invocation-type", "DryRun"), 0)
        log = base64.b64encode(b"START\nprinted by the function\nEND\n").decode()
        self.server.respond(200, headers={"X-Amz-Log-Result": log}, body=b'{"ok":1}')
        result = self.invoke("-A", "{}", "--log-type", "Tail")
        self.assertExit(result, 0)
        self.assertEqual(result.stdout, b'{"ok":1}\n')
        self.assertEqual(result.stderr, b"START\nprinted by the function\nEND\n")
        self.assertEqual(self.server.requests[-1].header("x-amz-log-type"), "Tail")
        # An Event answered 200 is not what was asked for: reported, not printed.
        self.server.respond(200, body=b"")
        self.assertExit(self.invoke("-A", "{}", "--invocation-type", "Event"), 1)

    def test_verbose(self):
        self.server.respond(200, headers=[("X-Trace", "one"), ("X-Trace", "two")], body=b"ok")
        result = self.invoke("-A", "{}", "-v", "named")
        self.assertExit(result, 0)
        self.assertEqual(result.stdout, b"ok\n")
        err = result.stderr.decode()
        self.assertIn("> POST http://127.0.0.1:%d%s" % (self.server.port, INVOKE_PATH % "named"), err)
        self.assertIn("> Content-Length: 2", err)
        self.assertIn("< HTTP 200", err)
        self.assertIn("< X-Trace: one", err)
        self.assertIn("< X-Trace: two", err)
        self.assertRegex(err, r"\* 2 bytes in [0-9.]+ ms")


class Transport(InvokeTestCase):
    def test_connection_refused(self):
        port = closed_port()
        result = self.cli("invoke", "--invoke-address", "127.0.0.1", "-P", str(port), "-A", "{}")
        self.assertExit(result, 3)
        self.assertOneLineError(result, "http://127.0.0.1:%d%s" % (port, INVOKE_PATH % "_"),
                                "cargo lambda watch")

    def test_timeout(self):
        self.server.respond(200, body=b"late", delay=5)
        started = time.monotonic()
        result = self.invoke("-A", "{}", "--timeout", "0.5")
        self.assertExit(result, 3)
        self.assertLess(time.monotonic() - started, 4)
        self.assertOneLineError(result, "timed out")

    def test_server_closes_without_answer(self):
        self.server.respond(close=True)
        result = self.invoke("-A", "{}")
        self.assertExit(result, 3)
        self.assertOneLineError(result, str(self.server.port))

    def test_ipv6_literal(self):
        with TestServer(host="::1") as server6:
            server6.respond(200, body=b"six")
            result = self.cli("invoke", "--invoke-address", "::1", "-P", str(server6.port),
                              "-A", "{}")
            self.assertExit(result, 0)
            self.assertEqual(result.stdout, b"six\n")

    def test_localhost_reaches_either_family(self):
        for host in ("::1", "127.0.0.1"):
            with TestServer(host=host) as server:
                server.respond(200, body=host.encode())
                result = self.cli("invoke", "-P", str(server.port), "-A", "{}")
                self.assertExit(result, 0)
                self.assertEqual(result.stdout, host.encode() + b"\n")

    def test_bad_address(self):
        result = self.cli("invoke", "--invoke-address", "http://x/", "-A", "{}")
        self.assertExit(result, 2)
        self.assertOneLineError(result, "--invoke-address")


class BadValues(InvokeTestCase):
    """Bad flag values are usage errors (exit 2) found before anything is sent, and every
    message that echoes a value stays on one line."""

    def test_invalid_addresses(self):
        cases = [
            ("::::", "not a valid IPv6 address"),
            ("1:2:3:4:5:6:7:8:9", "not a valid IPv6 address"),
            ("999.1.1.1", "not a valid IPv4 address"),
            ("127.0.0.1:%d" % self.server.port, "use -P for the port"),
            ("[::1]:9000", "use -P for the port"),
            ("localhost:9000", "use -P for the port"),
        ]
        for address, reason in cases:
            result = self.cli("invoke", "--invoke-address", address, "-A", "{}", timeout=20)
            self.assertExit(result, 2)
            self.assertOneLineError(result, "--invoke-address: invalid value '%s'" % address,
                                    reason)
        self.assertEqual(self.server.requests, [])

    def test_valid_address_forms(self):
        for address in ("127.0.0.1", "localhost"):
            self.assertExit(self.cli("invoke", "--invoke-address", address, "-P",
                                     str(self.server.port), "-A", "{}"), 0)
        self.assertEqual(len(self.server.requests), 2)

    def test_invalid_example_names_are_refused_before_any_url(self):
        env = self.env(CARGO_LAMBDA_EXAMPLES_URL=self.server.url("/"))
        for name in ("a b", "a?b", "a#b", "%2e%2e", "x" * 241):
            result = self.invoke("-E", name, "--skip-cache", env=env)
            self.assertExit(result, 2)
            self.assertOneLineError(result, "--data-example: invalid example name")
        self.assertEqual(self.server.requests, [])

    def test_control_characters_are_escaped_in_every_message(self):
        env = self.env(AWS_CONFIG_FILE=os.path.join(self.scratch, "none"),
                       AWS_SHARED_CREDENTIALS_FILE=os.path.join(self.scratch, "none"),
                       AWS_EC2_METADATA_DISABLED="true")
        cases = [
            (["-E", "a\r\nb"], "'a\\r\\nb'"),
            (["-A", "{}", "--invoke-address", "a\nb"], "'a\\nb'"),
            (["-A", "{}", "-o", "x\ny"], "'x\\ny'"),
            (["-A", "{}", "-P", "1\n2"], "'1\\n2'"),
            (["-A", "{}", "--timeout", "1\n"], "'1\\n'"),
            (["-A", "{}", "--invocation-type", "E\x1b[2Jvent"], "'E\\x1b[2Jvent'"),
            (["-A", "{}", "fn", "extra\nargument"], "'extra\\nargument'"),
            (["-A", "{}", "--bogus\nflag"], "'--bogus\\nflag'"),
            (["-F", "/no/such\nfile"], "/no/such\\nfile"),
            (["-A", "{}", "--client-context-file", "/no\nfile"], "/no\\nfile"),
            (["-A", "{}", "--manifest-path", "/no\nCargo.toml"], "/no\\nCargo.toml"),
            (["-A", "{}", "--tls-cert", "a\nb", "--tls-key", "k"], "a\\nb"),
            (["-A", "{}", "f", "--remote", "-p", "p\nq"], "'p\\nq'"),
            (["-A", "{}", "f", "--remote", "-r", "us\neast"], "us\\neast"),
        ]
        for args, shown in cases:
            if "--invoke-address" not in args:
                args = ["--invoke-address", "127.0.0.1", "-P", str(self.server.port)] + args
            result = self.cli("invoke", *args, env=env)
            self.assertExit(result, 2)
            self.assertOneLineError(result, shown)
        self.assertEqual(self.server.requests, [])


class Usage(ScratchTestCase):
    def test_every_command_s_errors_are_one_escaped_line(self):
        # cli.print_error: the other commands' errors as invoke's above, raw bytes never shown.
        cases = [
            (["watch", "--env-file", "no\nsuch\x1b[31m"], "--env-file: no\\nsuch\\x1b[31m:"),
            (["watch", "--manifest-path", "/no\nCargo.toml"], "--manifest-path: /no\\nCargo.toml"),
            (["watch", "--bo\ngus"], "unknown flag '--bo\\ngus' (see 'cargo-lambda watch --help')"),
            (["run", "/no/such\n.lua"], "cannot open /no/such\\n.lua"),
            (["test", "--invoke-port", "0\n"], "invalid value '0\\n' for --invoke-port"),
        ]
        for args, shown in cases:
            with self.subTest(args=args):
                result = self.cli(*args, timeout=20)
                self.assertExit(result, 2)
                self.assertOneLineError(result, "error: " + shown)
                self.assertNotIn(b"\x1b", result.stderr)

    def test_help_and_version(self):
        for args in (["--help"], ["help", "invoke"], ["invoke", "--help"], ["lambda", "invoke", "-h"]):
            result = self.cli(*args)
            self.assertExit(result, 0)
        self.assertIn(b"--data-ascii", self.cli("help", "invoke").stdout)
        result = self.cli("--version")
        self.assertExit(result, 0)
        # The one version string is CMake's project version.
        with open(os.path.join(SOURCE_DIR, "CMakeLists.txt")) as cmake:
            version = re.search(r"project\(cargo-lambda-c VERSION ([0-9.]+)", cmake.read()).group(1)
        self.assertEqual(result.stdout.decode(), "cargo-lambda %s\n" % version)
        script = os.path.join(self.scratch, "version.lua")
        with open(script, "w") as handle:
            handle.write('io.write(require("lambda.build").version)')
        self.assertEqual(self.cli("run", script).stdout.decode(), version)

    def test_usage_errors(self):
        cases = [
            (["frobnicate"], "frobnicate"),
            (["invoke", "--bogus", "-A", "{}"], "--bogus"),
            (["invoke", "-Z"], "-Z"),
            (["invoke", "-A"], "--data-ascii"),
            (["invoke", "-A", "{}", "-o", "yaml"], "yaml"),
            (["invoke", "-A", "{}", "-P", "70000"], "--invoke-port"),
            (["invoke", "-A", "{}", "-P", "abc"], "--invoke-port"),
            (["invoke", "-A", "{}", "--timeout", "-1"], "--timeout"),
            (["invoke", "-A", "{}", "a", "b"], "'b'"),
            (["invoke", "-A", "{}", "-A", "{}"], "--data-ascii"),
            (["invoke", "-A", "{}", "--remote=x"], "--remote"),
            (["invoke"], "--data-ascii"),
            (["invoke", "-A", "{}", "-E", "x"], "--data-example"),
        ]
        for args, fragment in cases:
            result = self.cli(*args)
            self.assertExit(result, 2)
            self.assertOneLineError(result, fragment)

    def test_missing_data_file(self):
        result = self.cli("invoke", "-F", "/nonexistent/payload.json")
        self.assertExit(result, 2)
        self.assertOneLineError(result, "--data-file", "/nonexistent/payload.json")


class FunctionNameFromManifest(InvokeTestCase):
    fixtures = os.path.join(SOURCE_DIR, "fixtures", "manifests")

    def test_no_manifest_sends_default(self):
        self.assertExit(self.invoke("-A", "{}"), 0)
        self.assertEqual(self.only_request().path, INVOKE_PATH % "_")

    def write_project(self, manifest, files=()):
        project = os.path.join(self.scratch, "project")
        os.makedirs(os.path.join(project, "src", "bin"), exist_ok=True)
        with open(os.path.join(project, "Cargo.toml"), "w") as f:
            f.write(manifest)
        for name in files:
            path = os.path.join(project, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            open(path, "w").close()
        return project

    def test_single_function_from_nested_directory(self):
        project = self.write_project('[package]\nname = "basic-lambda"\nversion = "0.1.0"\n',
                                     ["src/main.rs"])
        nested = os.path.join(project, "src", "bin")
        result = self.invoke("-A", "{}", cwd=nested)
        self.assertExit(result, 0)
        self.assertEqual(self.only_request().path, INVOKE_PATH % "basic-lambda")

    def test_several_functions_is_an_error(self):
        project = self.write_project('[package]\nname = "p"\nversion = "0.1.0"\n',
                                     ["src/main.rs", "src/bin/beta.rs", "src/bin/alpha.rs"])
        result = self.invoke("-A", "{}", cwd=project)
        self.assertExit(result, 2)
        self.assertOneLineError(result, "alpha, beta, p", "Cargo.toml")
        self.assertEqual(self.server.requests, [])

    def test_manifest_path_flag(self):
        project = self.write_project('[package]\nname = "p"\nversion = "0.1.0"\n\n[[bin]]\n'
                                     'name = "renamed"\npath = "src/main.rs"\n', ["src/main.rs"])
        result = self.invoke("-A", "{}", "--manifest-path", os.path.join(project, "Cargo.toml"))
        self.assertExit(result, 0)
        self.assertEqual(self.only_request().path, INVOKE_PATH % "renamed")

    def test_missing_manifest_path(self):
        result = self.invoke("-A", "{}", "--manifest-path", "/nonexistent/Cargo.toml")
        self.assertExit(result, 2)
        self.assertOneLineError(result, "/nonexistent/Cargo.toml")

    def test_malformed_manifest(self):
        project = self.write_project('[package]\nname = "p\n', ["src/main.rs"])
        result = self.invoke("-A", "{}", cwd=project)
        self.assertExit(result, 2)
        self.assertOneLineError(result, "Cargo.toml", "line 2")
        self.assertEqual(self.server.requests, [])

    def test_positional_name_skips_manifest(self):
        project = self.write_project("not toml at all [", [])
        self.assertExit(self.invoke("-A", "{}", "given", cwd=project), 0)
        self.assertEqual(self.only_request().path, INVOKE_PATH % "given")


if __name__ == "__main__":
    unittest.main()
