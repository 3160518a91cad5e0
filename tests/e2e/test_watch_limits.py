"""The emulator's limits, as AWS Lambda's: live instances (--max-instances, with throttling),
the Init phase (--init-timeout), request and response payload sizes; and where it listens
(loopback by default). `cargo-lambda watch` runs fixtures/functions/probe.lua, or the test
itself plays the function through the Runtime API on the main port."""

import http.client
import json
import os
import re
import socket
import stat
import threading
import time
import unittest

from harness import ScratchTestCase
from test_watch_streaming import STREAMING_PATH, EventStreamDecoder, RawResponse
from watchharness import Emulator, descendants, probe_argv

AT_ONCE = 5.0
REQUEST_LIMIT = 6291456
EVENT_LIMIT = 1048576
RESPONSE_LIMIT = 6291556
STREAMED_LIMIT = 200 * 1024 * 1024
RUNTIME = "/.rt/%s/2018-06-01/runtime"


def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


def wait_until(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("%s did not happen within %ss" % (what, timeout))


class Background(threading.Thread):
    """A call on its own thread: .answer() is its result, or raises what it raised."""

    def __init__(self, call, *args, **kwargs):
        super().__init__(daemon=True)
        self._call = (call, args, kwargs)
        self.result = None
        self.start()

    def run(self):
        call, args, kwargs = self._call
        try:
            self.result = call(*args, **kwargs)
        except Exception as problem:  # reported by answer()
            self.result = problem

    def answer(self, timeout=30):
        self.join(timeout)
        if self.is_alive():
            raise AssertionError("no answer within %ss" % timeout)
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


class LimitsTestCase(ScratchTestCase):
    def emulator(self, *argv, flags=(), env=None, cwd=None, default_address=False):
        return Emulator(*argv, flags=flags, cwd=cwd or self.scratch,
                        env=dict({"HOME": self.home}, **(env or {})),
                        default_address=default_address)

    def assertOk(self, answer):
        status, headers, body = answer
        self.assertEqual(status, 200, body[:300])
        self.assertNotIn("x-amz-function-error", headers, body[:300])
        return json.loads(body)

    def assertFunctionError(self, answer, error_type):
        status, headers, body = answer
        self.assertEqual(status, 200, body[:300])
        self.assertEqual(headers.get("x-amz-function-error"), "Unhandled", body[:300])
        document = json.loads(body)
        self.assertEqual(document.get("errorType"), error_type, document)
        return document

    def assertServiceError(self, answer, status, kind, message=None):
        got, headers, body = answer
        self.assertEqual(got, status, body[:300])
        self.assertEqual(headers.get("x-amzn-errortype"), kind, body[:300])
        self.assertTrue(headers.get("x-amzn-requestid"))
        document = json.loads(body)
        self.assertEqual(document.get("Type"), "User", document)
        if message is not None:
            self.assertEqual(document.get("message"), message)
        return document

    def function_processes(self, emu, marker="probe.lua"):
        return [pid for pid in descendants(emu.pid) if marker in cmdline(pid)]

    def record_dir(self):
        path = os.path.join(self.scratch, "record")
        os.makedirs(path, exist_ok=True)
        return path

    def recorded(self, directory):
        path = os.path.join(directory, "invocations")
        if not os.path.exists(path):
            return []
        with open(path) as handle:
            return [line.split(" ", 1)[1] for line in handle.read().splitlines()]


class InstanceCapTest(LimitsTestCase):
    def test_live_instances_never_pass_the_cap(self):
        with self.emulator(*probe_argv(), flags=["--max-instances", "3"]) as emu:
            for i in range(8):
                self.assertEqual(self.assertOk(emu.invoke("f%d" % i, {}))["function_name"],
                                 "f%d" % i)
                self.assertLessEqual(len(self.function_processes(emu)), 3, "after f%d" % i)
            self.assertEqual(len(self.function_processes(emu)), 3)

    def test_the_idle_instance_of_the_least_recently_used_function_is_reclaimed(self):
        with self.emulator(*probe_argv(), flags=["--max-instances", "2"]) as emu:
            a = self.assertOk(emu.invoke("a", {}))["instance"]
            b = self.assertOk(emu.invoke("b", {}))["instance"]
            self.assertEqual(self.assertOk(emu.invoke("a", {}))["instance"], a)
            self.assertOk(emu.invoke("c", {}))  # b was used longest ago: its slot goes to c
            self.assertEqual(self.assertOk(emu.invoke("a", {}))["instance"], a)
            self.assertNotEqual(self.assertOk(emu.invoke("b", {}))["instance"], b)

    def test_with_no_instance_idle_a_new_function_is_throttled_at_once(self):
        record = self.record_dir()
        with self.emulator(*probe_argv(), flags=["--max-instances", "1"],
                           env={"PROBE_WRITE_DIR": record}) as emu:
            busy = Background(emu.invoke, "busy", {"action": "sleep", "seconds": 2,
                                                   "tag": "busy"})
            wait_until(lambda: "busy" in self.recorded(record), 15, "the busy invocation")
            started = time.monotonic()
            status, headers, body = emu.invoke("other", {"tag": "other"})
            took = time.monotonic() - started
            self.assertLess(took, AT_ONCE)
            document = self.assertServiceError((status, headers, body), 429,
                                               "TooManyRequestsException", "Rate Exceeded.")
            self.assertEqual(document.get("Reason"), "ConcurrentInvocationLimitExceeded")
            self.assertEqual(headers.get("retry-after"), "1")
            # The streaming route and function URLs are throttled alike.
            self.assertServiceError(emu.request(
                "POST", STREAMING_PATH % "other", b"{}"), 429, "TooManyRequestsException")
            self.assertServiceError(emu.request("GET", "/lambda-url/other/x"), 429,
                                    "TooManyRequestsException")
            # The busy function's own next invocation waits for its instance instead.
            again = Background(emu.invoke, "busy", {"tag": "busy again"})
            self.assertOk(busy.answer())
            self.assertOk(again.answer())
            # Once an instance is idle, its slot can be taken.
            self.assertEqual(self.assertOk(emu.invoke("other", {"tag": "other"}))
                             ["function_name"], "other")
            self.assertIn("throttled", emu.output())
        self.assertEqual(self.recorded(record), ["busy", "busy again", "other"])

    def test_an_event_waits_for_a_slot_instead(self):
        record = self.record_dir()
        with self.emulator(*probe_argv(), flags=["--max-instances", "1"],
                           env={"PROBE_WRITE_DIR": record}) as emu:
            busy = Background(emu.invoke, "busy", {"action": "sleep", "seconds": 1,
                                                   "tag": "busy"})
            wait_until(lambda: "busy" in self.recorded(record), 15, "the busy invocation")
            status, _, body = emu.invoke("later", {"tag": "event"},
                                         {"X-Amz-Invocation-Type": "Event"})
            self.assertEqual(status, 202, body)
            self.assertOk(busy.answer())
            wait_until(lambda: "event" in self.recorded(record), 15, "the Event invocation")

    def test_max_instances_must_be_at_least_one(self):
        result = self.cli("watch", "--invoke-address", "127.0.0.1", "--max-instances", "0",
                          "--", "true", timeout=20)
        self.assertExit(result, 2)
        self.assertOneLineError(result, "--max-instances")


class StartFailureTest(LimitsTestCase):
    def test_an_environment_no_process_can_take(self):
        # From --env-file: refused at once, naming the file and line.
        env_file = os.path.join(self.scratch, "nul.env")
        with open(env_file, "wb") as handle:
            handle.write(b"GOOD=1\nBAD=a\x00b\n")
        result = self.cli("watch", "--invoke-address", "127.0.0.1", "--env-file", env_file,
                          "--", "true", timeout=20)
        self.assertExit(result, 2)
        self.assertOneLineError(result, "nul.env", "line 2", "NUL")
        # From the manifest (TOML can spell one): every invocation fails to start, at once.
        root = os.path.join(self.scratch, "project")
        os.makedirs(os.path.join(root, "src", "bin"))
        with open(os.path.join(root, "Cargo.toml"), "w") as handle:
            handle.write('[package]\nname = "nul"\nversion = "0.1.0"\nedition = "2021"\n\n'
                         '[package.metadata.lambda.env]\nBAD = "a\\u0000b"\n')
        with open(os.path.join(root, "src", "bin", "nul.rs"), "w") as handle:
            handle.write("fn main() {}\n")
        with self.emulator(flags=["--ignore-changes"], cwd=root,
                           env={"CARGO": "/nonexistent/cargo"}) as emu:
            for _ in range(2):
                document = self.assertFunctionError(emu.invoke("nul", {}, timeout=AT_ONCE),
                                                    "Runtime.StartError")
                self.assertIn("NUL byte", document["errorMessage"])
            self.assertNotIn("traceback", emu.output())


class InitTimeoutTest(LimitsTestCase):
    def test_a_function_that_never_asks_for_work_fails_and_is_killed(self):
        # A background child in its process group must go too.
        argv = ["sh", "-c", "sleep 1001 & exec sleep 1000"]
        with self.emulator(*argv, flags=["--init-timeout", "1"]) as emu:
            for _ in range(2):
                started = time.monotonic()
                answer = emu.invoke("stuck", {}, timeout=20)
                took = time.monotonic() - started
                document = self.assertFunctionError(answer, "Sandbox.Timedout")
                self.assertRegex(document["errorMessage"], r"^RequestId: [0-9a-f-]{36} Error: "
                                 r"Init phase timed out after 1\.00 seconds")
                self.assertGreaterEqual(took, 0.9)
                self.assertLess(took, AT_ONCE)
                wait_until(lambda: not self.function_processes(emu, "sleep 10"), AT_ONCE,
                           "the stuck instance's processes ending")

    def test_an_instance_that_asked_in_time_keeps_running(self):
        with self.emulator(*probe_argv(), flags=["--init-timeout", "1"]) as emu:
            # Running longer than the Init limit is fine once the instance asked for work.
            first = self.assertOk(emu.invoke("probe", {"action": "sleep", "seconds": 1.5}))
            self.assertEqual(self.assertOk(emu.invoke("probe", {}))["instance"],
                             first["instance"])

    def make_project(self, run):
        """A project whose `cargo` is a script: it "builds" for FAKE_BUILD_SECONDS, says
        Running as cargo does (unless CARGO_TERM_QUIET=true, as cargo), then runs `run`."""
        root = os.path.join(self.scratch, "project")
        os.makedirs(os.path.join(root, "src", "bin"))
        with open(os.path.join(root, "Cargo.toml"), "w") as handle:
            handle.write('[package]\nname = "slow"\nversion = "0.1.0"\nedition = "2021"\n')
        with open(os.path.join(root, "src", "bin", "slow.rs"), "w") as handle:
            handle.write("fn main() {}\n")
        cargo = os.path.join(self.scratch, "fake-cargo")
        with open(cargo, "w") as handle:
            handle.write("#!/bin/sh\necho '   Compiling slow v0.1.0' >&2\n"
                         "sleep \"$FAKE_BUILD_SECONDS\"\n"
                         "[ \"$CARGO_TERM_QUIET\" = true ] || "
                         "echo '     Running `target/debug/slow`' >&2\n"
                         "exec %s\n" % run)
        os.chmod(cargo, os.stat(cargo).st_mode | stat.S_IXUSR)
        return root, {"CARGO": cargo, "FAKE_BUILD_SECONDS": "2"}

    def test_the_clock_starts_when_cargo_runs_the_function_not_at_the_build(self):
        root, env = self.make_project("sleep 1000")
        with self.emulator(flags=["--init-timeout", "1", "--ignore-changes"], cwd=root,
                           env=env) as emu:
            started = time.monotonic()
            answer = emu.invoke("slow", {}, timeout=20)
            took = time.monotonic() - started
            self.assertFunctionError(answer, "Sandbox.Timedout")
            self.assertGreaterEqual(took, 2.9, "the 2 s build counted against the Init phase")
            self.assertLess(took, 2 + AT_ONCE)

    def test_a_quiet_cargo_still_starts_the_clock(self):
        root, env = self.make_project("sleep 1000")
        env["CARGO_TERM_QUIET"] = "true"
        with self.emulator(flags=["--init-timeout", "1", "--ignore-changes"], cwd=root,
                           env=env) as emu:
            self.assertFunctionError(emu.invoke("slow", {}, timeout=20), "Sandbox.Timedout")

    def test_a_build_longer_than_the_init_timeout_is_no_failure(self):
        root, env = self.make_project('"$PROBE_COMMAND" run "$PROBE_SCRIPT"')
        env.update({"PROBE_COMMAND": probe_argv()[0], "PROBE_SCRIPT": probe_argv()[2]})
        with self.emulator(flags=["--init-timeout", "1", "--ignore-changes"], cwd=root,
                           env=env) as emu:
            self.assertEqual(self.assertOk(emu.invoke("slow", {}, timeout=20))["function_name"],
                             "slow")


class RequestSizeTest(LimitsTestCase):
    def payload(self, size, tag):
        """A JSON event of exactly `size` bytes that makes probe answer small."""
        head = '{"action": "big", "bytes": 2, "tag": "%s", "pad": "' % tag
        return (head + "p" * (size - len(head) - 2) + '"}').encode()

    def test_invoke_payloads_are_held_to_aws_s_limits(self):
        record = self.record_dir()
        with self.emulator(*probe_argv(), env={"PROBE_WRITE_DIR": record}) as emu:
            self.assertOk(emu.invoke("probe", self.payload(REQUEST_LIMIT, "at limit")))
            message = "Request must be smaller than 6291456 bytes for the InvokeFunction operation"
            for path in ("/2015-03-31/functions/probe/invocations", STREAMING_PATH % "probe",
                         "/lambda-url/probe/upload"):
                self.assertServiceError(
                    emu.request("POST", path, self.payload(REQUEST_LIMIT + 1, "over")), 413,
                    "RequestEntityTooLargeException", message)
            event = {"X-Amz-Invocation-Type": "Event"}
            status, _, body = emu.invoke("probe", self.payload(EVENT_LIMIT, "event at limit"),
                                         event)
            self.assertEqual(status, 202, body)
            self.assertServiceError(
                emu.invoke("probe", self.payload(EVENT_LIMIT + 1, "event over"), event), 413,
                "RequestEntityTooLargeException", "1048577 byte payload is too large for the "
                "Event invocation type (limit 1048576 bytes)")
            wait_until(lambda: "event at limit" in self.recorded(record), 15, "the Event")
            # A chunked upload is stopped as it passes the limit.
            connection = emu.connection()
            pieces = (b"x" * 1048576 for _ in range(7))
            connection.request("POST", "/2015-03-31/functions/probe/invocations", body=pieces,
                               encode_chunked=True)
            response = connection.getresponse()
            self.assertEqual(response.status, 413)
            self.assertEqual(json.loads(response.read())["message"], message)
            connection.close()
            self.assertEqual(self.assertOk(emu.invoke("probe", {"tag": "after"}))["event"]
                             ["tag"], "after")
        self.assertEqual(sorted(self.recorded(record)), ["after", "at limit", "event at limit"])


class ResponseSizeTest(LimitsTestCase):
    def test_an_answer_over_6mb_fails_the_invocation(self):
        with self.emulator(*probe_argv()) as emu:
            # probe answers a JSON string: the bytes asked for and two quotes.
            status, headers, body = emu.invoke("probe", {"action": "big",
                                                         "bytes": RESPONSE_LIMIT - 2})
            self.assertEqual((status, len(body)), (200, RESPONSE_LIMIT))
            self.assertNotIn("x-amz-function-error", headers)
            document = self.assertFunctionError(
                emu.invoke("probe", {"action": "big", "bytes": RESPONSE_LIMIT - 1}),
                "Function.ResponseSizeTooLarge")
            self.assertEqual(document["errorMessage"], "Response payload size (6291557 bytes) "
                             "exceeded maximum allowed payload size (6291556 bytes).")
            self.assertOk(emu.invoke("probe", {}))

    def next_invocation(self, emu, name):
        status, headers, body = emu.request("GET", RUNTIME % name + "/invocation/next")
        self.assertEqual(status, 200, body)
        return headers["lambda-runtime-aws-request-id"]

    def post(self, emu, path, body, headers=None, chunked=False):
        connection = emu.connection()
        try:
            connection.request("POST", path, body=body, headers=headers or {},
                               encode_chunked=chunked)
            response = connection.getresponse()
            return response.status, json.loads(response.read())
        finally:
            connection.close()

    def test_the_runtime_gets_aws_s_413_and_the_invoker_the_function_error(self):
        # No project and no command: the test is the function, on the main port.
        with self.emulator() as emu:
            too_large = {"errorType": "RequestEntityTooLarge",
                         "errorMessage": "Exceeded maximum allowed payload size (6291556 bytes)."}
            cases = [
                ("length", b"r" * (RESPONSE_LIMIT + 1), {}, False),
                ("chunked", (b"r" * 1048576 for _ in range(7)), {}, True),
                ("streamed", (b"r" * 1048576 for _ in range(7)),
                 {"Lambda-Runtime-Function-Response-Mode": "streaming"}, True),
            ]
            for how, body, headers, chunked in cases:
                with self.subTest(how=how):
                    invoker = Background(emu.invoke, "byhand", {})
                    request_id = self.next_invocation(emu, "byhand")
                    path = RUNTIME % "byhand" + "/invocation/%s/response" % request_id
                    self.assertEqual(self.post(emu, path, body, headers, chunked),
                                     (413, too_large))
                    document = self.assertFunctionError(invoker.answer(),
                                                        "Function.ResponseSizeTooLarge")
                    size = re.match(r"^Response payload size \((\d+) bytes\) exceeded maximum "
                                    r"allowed payload size \(6291556 bytes\)\.$",
                                    document["errorMessage"])
                    self.assertIsNotNone(size, document)
                    if how == "length":
                        self.assertEqual(int(size.group(1)), RESPONSE_LIMIT + 1)
                    else:  # known up to the point it passed the limit
                        self.assertGreater(int(size.group(1)), RESPONSE_LIMIT)
            self.assertNotIn("traceback", emu.output())

    def test_a_streamed_answer_over_200mb_ends_with_an_error(self):
        with self.emulator() as emu:
            def read_stream():
                invoker = RawResponse(emu.port, "POST", STREAMING_PATH % "flood", b"{}",
                                      timeout=60)
                decoder, payload, complete = EventStreamDecoder(), 0, None
                try:
                    while True:
                        piece = invoker.next_piece()
                        if piece is None:
                            return payload, complete
                        for headers, data in decoder.feed(piece):
                            if headers[":event-type"] == "PayloadChunk":
                                payload += len(data)
                            else:
                                complete = json.loads(data)
                finally:
                    invoker.close()

            reader = Background(read_stream)
            request_id = self.next_invocation(emu, "flood")
            megabyte = b"s" * 1048576
            path = RUNTIME % "flood" + "/invocation/%s/response" % request_id
            status, answer = self.post(emu, path, (megabyte for _ in range(201)),
                                       {"Lambda-Runtime-Function-Response-Mode": "streaming"},
                                       chunked=True)
            self.assertEqual(status, 413, answer)
            self.assertEqual(answer["errorType"], "RequestEntityTooLarge")
            payload, complete = reader.answer(60)
            self.assertLessEqual(payload, STREAMED_LIMIT)
            self.assertGreater(payload, STREAMED_LIMIT - 2 * 1048576)
            self.assertEqual(complete["ErrorCode"], "Function.ResponseSizeTooLarge")
            self.assertIn("exceeded maximum allowed payload size (209715200 bytes)",
                          complete["ErrorDetails"])


def listening_addresses(port):
    """The local addresses with a socket listening on `port`, from /proc/net/tcp{,6}."""
    found = set()
    for table, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6",
                                                               socket.AF_INET6)):
        try:
            with open(table) as handle:
                lines = handle.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            address, port_hex = fields[1].split(":")
            if fields[3] != "0A" or int(port_hex, 16) != port:
                continue
            raw = bytes.fromhex(address)
            # The kernel writes each 32-bit word in host (little-endian) order.
            raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
            found.add(socket.inet_ntop(family, raw))
    return found


def has_ipv6():
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False


class ListenAddressTest(LimitsTestCase):
    def test_by_default_only_this_machine_reaches_it(self):
        with self.emulator(*probe_argv(), default_address=True) as emu:
            expected = {"127.0.0.1", "::1"} if has_ipv6() else {"127.0.0.1"}
            self.assertEqual(listening_addresses(emu.port), expected)
            for host in sorted(expected):
                connection = http.client.HTTPConnection(host, emu.port, timeout=30)
                connection.request("POST", "/2015-03-31/functions/probe/invocations", b"{}")
                response = connection.getresponse()
                self.assertEqual(response.status, 200, host)
                self.assertEqual(json.loads(response.read())["function_name"], "probe")
                connection.close()
            self.assertIn("on http://localhost:%d" % emu.port if has_ipv6()
                          else "on http://127.0.0.1:%d" % emu.port, emu.output())

    def test_every_interface_only_when_asked(self):
        for address, listening in (("0.0.0.0", "0.0.0.0"), ("::", "::")):
            if address == "::" and not has_ipv6():
                continue
            with self.subTest(address=address):
                with self.emulator(*probe_argv(), flags=["--invoke-address", address]) as emu:
                    self.assertEqual(listening_addresses(emu.port), {listening})
                    self.assertOk(emu.invoke("probe", {}))


if __name__ == "__main__":
    unittest.main()
