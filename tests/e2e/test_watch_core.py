"""End-to-end tests of the emulator's core semantics: `cargo-lambda watch` running
fixtures/functions/probe.lua, driven over HTTP (http.client) and with our own `invoke`."""

import base64
import json
import os
import signal
import socket
import subprocess
import ssl
import threading
import time
import unittest

from certs import make_certs
from harness import ScratchTestCase
from watchharness import (TAG_VARIABLE, Emulator, descendants, free_port, probe_argv,
                          tagged_processes)

# Generous bounds: "at once" means well under the 30 s an HTTP client would wait, even in the
# sanitizer build on a loaded machine.
AT_ONCE = 5.0


class Background(threading.Thread):
    """One invocation on its own thread: .result is (status, headers, body) or the exception."""

    def __init__(self, emu, name, payload, headers=None):
        super().__init__(daemon=True)
        self._call = (emu, name, payload, headers)
        self.result = None

    def run(self):
        emu, name, payload, headers = self._call
        try:
            self.result = emu.invoke(name, payload, headers)
        except Exception as problem:  # reported by answer()
            self.result = problem

    def answer(self, timeout=30):
        self.join(timeout)
        if self.is_alive():
            raise AssertionError("the invocation got no answer within %ss" % timeout)
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


def wait_for(condition, timeout=5):
    """Whether condition() came true within timeout seconds (checked every 20 ms)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            return handle.read().replace(b"\0", b" ")
    except OSError:
        return b""


def send_invocation(emu, name, payload):
    """Sends an invocation and returns its connection, to read the answer from later."""
    connection = emu.connection()
    connection.request("POST", "/2015-03-31/functions/%s/invocations" % name,
                       json.dumps(payload).encode())
    return connection


def body_json(body):
    return json.loads(body.decode("utf-8"))


class WatchTestCase(ScratchTestCase):
    def emulator(self, *argv, flags=(), env=None, cwd=None):
        env = dict({"HOME": self.home}, **(env or {}))
        return Emulator(*(argv or probe_argv()), flags=flags, env=env, cwd=cwd or self.scratch)

    def assertOk(self, answer):
        status, headers, body = answer
        self.assertEqual(status, 200, body)
        self.assertNotIn("x-amz-function-error", headers, body)
        return body_json(body)

    def assertFunctionError(self, answer, error_type):
        status, headers, body = answer
        self.assertEqual(status, 200, body)
        self.assertEqual(headers.get("x-amz-function-error"), "Unhandled", body)
        document = body_json(body)
        self.assertEqual(document.get("errorType"), error_type, document)
        self.assertIsInstance(document.get("errorMessage"), str)
        return document

    def timed(self, call, *args, **kwargs):
        started = time.monotonic()
        result = call(*args, **kwargs)
        return result, time.monotonic() - started

    def invocations_in(self, directory):
        """[(request id, tag)] the probe recorded, in the order it ran them."""
        path = os.path.join(directory, "invocations")
        if not os.path.exists(path):
            return []
        with open(path) as handle:
            return [tuple((line.split(" ", 1) + [""])[:2]) for line in handle.read().splitlines()]


class InvokeApiTest(WatchTestCase):
    def test_success_carries_the_request_id_the_function_saw(self):
        with self.emulator() as emu:
            status, headers, body = emu.invoke("probe", {"action": "echo", "n": 7})
            answer = self.assertOk((status, headers, body))
            self.assertEqual(answer["event"], {"action": "echo", "n": 7})
            self.assertEqual(headers.get("x-amz-executed-version"), "$LATEST")
            self.assertRegex(answer["request_id"], r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-")
            self.assertEqual(headers.get("x-amzn-requestid"), answer["request_id"])
            self.assertEqual(answer["function_name"], "probe")
            self.assertEqual(answer["invoked_function_arn"],
                             "arn:aws:lambda:us-east-1:012345678912:function:probe")
            # The deadline is the real one: now + the default 900 s timeout, in epoch ms.
            self.assertAlmostEqual(answer["deadline_ms"] / 1000, time.time() + 900, delta=60)
            # A second invocation gets a new id and reuses the warm instance.
            second = self.assertOk(emu.invoke("probe", {}))
            self.assertNotEqual(second["request_id"], answer["request_id"])
            self.assertEqual(second["instance"], answer["instance"])

    def test_streaming_header_on_an_invoke_request_keeps_its_payload(self):
        # Only a runtime's /response is read as a stream; an Invoke request carrying the
        # header by mistake still delivers its whole payload.
        with self.emulator() as emu:
            answer = self.assertOk(emu.invoke("probe", {"action": "echo", "n": 8}, headers={
                "Lambda-Runtime-Function-Response-Mode": "streaming"}))
            self.assertEqual(answer["event"], {"action": "echo", "n": 8})

    def test_function_error_is_200_with_function_error_header(self):
        with self.emulator() as emu:
            document = self.assertFunctionError(
                emu.invoke("probe", {"action": "fail", "message": "boom 42"}),
                "Runtime.HandlerError")
            self.assertEqual(document["errorMessage"], "boom 42")
            # The instance survives a handler error.
            self.assertOk(emu.invoke("probe", {}))
            result = self.cli("invoke", "-P", str(emu.port), "-A",
                              '{"action": "fail", "message": "via invoke"}', "probe")
            self.assertExit(result, 1)
            self.assertIn(b"via invoke", result.stdout + result.stderr)
            result = self.cli("invoke", "-P", str(emu.port), "-A", '{"n": 1}', "probe")
            self.assertExit(result, 0)
            self.assertEqual(json.loads(result.stdout)["event"], {"n": 1})

    def test_event_answers_202_and_runs_later(self):
        record = os.path.join(self.scratch, "record")
        os.makedirs(record)
        with self.emulator(env={"PROBE_WRITE_DIR": record}) as emu:
            (status, headers, body), took = self.timed(
                emu.invoke, "probe", {"action": "sleep", "seconds": 3, "tag": "event"},
                {"X-Amz-Invocation-Type": "Event"})
            self.assertEqual(status, 202, body)
            self.assertEqual(body, b"")
            request_id = headers.get("x-amzn-requestid")
            self.assertTrue(request_id)
            print("\n  Event answered in %.3f s" % took)
            self.assertLess(took, 2.5, "Event waited for the function")
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and not self.invocations_in(record):
                time.sleep(0.05)
            self.assertEqual(self.invocations_in(record), [(request_id, "event")])
            # The function is busy sleeping; a RequestResponse call queues behind it and works.
            self.assertOk(emu.invoke("probe", {"tag": "after"}))

    def test_dry_run_answers_204_and_runs_nothing(self):
        record = os.path.join(self.scratch, "record")
        os.makedirs(record)
        with self.emulator(env={"PROBE_WRITE_DIR": record}) as emu:
            status, headers, body = emu.invoke("probe", {"tag": "dry"},
                                               {"X-Amz-Invocation-Type": "DryRun"})
            self.assertEqual(status, 204, body)
            self.assertEqual(body, b"")
            self.assertOk(emu.invoke("probe", {"tag": "real"}))
            self.assertEqual([tag for _, tag in self.invocations_in(record)], ["real"])
            status, headers, body = emu.invoke("probe", {}, {"X-Amz-Invocation-Type": "Later"})
            self.assertEqual(status, 400, body)
            self.assertEqual(headers.get("x-amzn-errortype"), "InvalidParameterValueException")

    def test_qualifier_is_accepted(self):
        with self.emulator() as emu:
            for qualifier in ("$LATEST", "prod", "3"):
                status, headers, body = emu.request(
                    "POST", "/2015-03-31/functions/probe/invocations?Qualifier=" + qualifier,
                    b'{"q": 1}')
                answer = self.assertOk((status, headers, body))
                self.assertEqual(answer["event"], {"q": 1})
                self.assertEqual(headers.get("x-amzn-requestid"), answer["request_id"])

    def test_log_tail_is_the_last_4kb_with_the_function_output(self):
        with self.emulator() as emu:
            status, headers, body = emu.invoke(
                "probe", {"action": "log", "lines": ["first line", "second line"]},
                {"X-Amz-Log-Type": "Tail"})
            answer = self.assertOk((status, headers, body))
            tail = base64.b64decode(headers["x-amz-log-result"]).decode()
            self.assertIn("first line\n", tail)
            self.assertIn("err: second line\n", tail)
            self.assertIn("START RequestId: %s" % answer["request_id"], tail)
            self.assertIn("END RequestId: %s" % answer["request_id"], tail)
            self.assertIn("REPORT RequestId: %s" % answer["request_id"], tail)
            # Without Tail there is no log; with a long log only the last 4 KB come back.
            _, headers, _ = emu.invoke("probe", {"action": "log", "lines": ["x"]})
            self.assertNotIn("x-amz-log-result", headers)
            lines = ["line %04d %s" % (i, "y" * 60) for i in range(200)]
            _, headers, _ = emu.invoke("probe", {"action": "log", "lines": lines},
                                       {"X-Amz-Log-Type": "Tail"})
            tail = base64.b64decode(headers["x-amz-log-result"]).decode()
            self.assertLessEqual(len(tail), 4096)
            self.assertGreater(len(tail), 3500)
            self.assertIn(lines[-1], tail)
            self.assertNotIn(lines[0], tail)
            # The previous invocation's lines belong to it, not to this one.
            _, headers, _ = emu.invoke("probe", {"action": "log", "lines": ["only me"]},
                                       {"X-Amz-Log-Type": "Tail"})
            tail = base64.b64decode(headers["x-amz-log-result"]).decode()
            self.assertIn("only me", tail)
            self.assertNotIn("line 0199", tail)

    def test_client_context_reaches_the_function_as_json(self):
        context = {"client": {"app_title": "probe-test"}, "custom": {"k": "v"}, "env": {}}
        encoded = base64.b64encode(json.dumps(context).encode()).decode()
        with self.emulator() as emu:
            answer = self.assertOk(emu.invoke("probe", {}, {"X-Amz-Client-Context": encoded}))
            self.assertEqual(answer["client_context"], context)
            answer = self.assertOk(emu.invoke(
                "probe", {}, {"lambda-runtime-client-context": json.dumps(context)}))
            self.assertEqual(answer["client_context"], context)
            answer = self.assertOk(emu.invoke("probe", {}))
            self.assertNotIn("client_context", answer)
            status, headers, body = emu.invoke("probe", {}, {"X-Amz-Client-Context": "%%%"})
            self.assertEqual(status, 400, body)
            self.assertEqual(headers.get("x-amzn-errortype"), "InvalidParameterValueException")
            self.assertIn("X-Amz-Client-Context", body_json(body)["message"])

    def test_cognito_identity_reaches_the_function(self):
        identity = {"cognitoIdentityId": "us-east-1:1234", "cognitoIdentityPoolId": "pool"}
        with self.emulator() as emu:
            answer = self.assertOk(emu.invoke(
                "probe", {}, {"lambda-runtime-cognito-identity": json.dumps(identity)}))
            self.assertEqual(answer["identity"], identity)
            self.assertNotIn("identity", self.assertOk(emu.invoke("probe", {})))


class ProjectFunctionsTest(WatchTestCase):
    """A Cargo project with two bins that never get built: only the 404 paths are used."""

    def make_project(self):
        root = os.path.join(self.scratch, "project")
        os.makedirs(os.path.join(root, "src", "bin"))
        with open(os.path.join(root, "Cargo.toml"), "w") as handle:
            handle.write('[package]\nname = "two"\nversion = "0.1.0"\nedition = "2021"\n')
        for name in ("alpha", "beta"):
            with open(os.path.join(root, "src", "bin", name + ".rs"), "w") as handle:
                handle.write("fn main() {}\n")
        return root

    def no_cargo(self):
        # CARGO points nowhere: were anything built, the test would see a start error instead.
        return {"HOME": self.home, "CARGO": "/nonexistent/cargo"}

    def assertNotFound(self, answer, *fragments):
        status, headers, body = answer
        self.assertEqual(status, 404, body)
        self.assertEqual(headers.get("x-amzn-errortype"), "ResourceNotFoundException")
        self.assertTrue(headers.get("x-amzn-requestid"))
        self.assertEqual(headers.get("content-type"), "application/json")
        document = body_json(body)
        self.assertEqual(document.get("Type"), "User", document)
        for fragment in fragments:
            self.assertIn(fragment, document.get("message", ""))
        return document

    def test_unknown_function_is_404_in_aws_shape(self):
        root = self.make_project()
        with Emulator(flags=["--ignore-changes"], cwd=root,
                      env=self.no_cargo()) as emu:
            self.assertIn("alpha, beta", emu.wait_for_output("functions: "))
            self.assertNotFound(emu.invoke("gamma", {}),
                                "arn:aws:lambda:us-east-1:012345678912:function:gamma")
            # Percent-decoded (%3A) before the lookup, which is by function name.
            self.assertNotFound(emu.invoke("gamma:live", {}), "function:gamma ")
            document = self.assertNotFound(emu.invoke("_", {}), "alpha", "beta")
            self.assertIn("several functions", document["message"])
            # The same through our own client: a non-zero exit naming the problem.
            result = self.cli("invoke", "-P", str(emu.port), "-A", "{}", "gamma")
            self.assertNotEqual(result.returncode, 0)
            self.assertIn(b"gamma", result.stderr)

    def test_bin_flag_limits_the_functions(self):
        root = self.make_project()
        with Emulator(flags=["--ignore-changes", "--bin", "beta"], cwd=root,
                      env=self.no_cargo()) as emu:
            self.assertNotFound(emu.invoke("alpha", {}), "function:alpha")


class FailureTest(WatchTestCase):
    def test_crash_mid_invocation_answers_at_once_and_next_works(self):
        with self.emulator() as emu:
            first = self.assertOk(emu.invoke("probe", {}))
            answer, took = self.timed(emu.invoke, "probe", {"action": "crash", "code": 3})
            document = self.assertFunctionError(answer, "Runtime.ExitError")
            self.assertIn("exit status 3", document["errorMessage"])
            self.assertEqual(answer[1].get("x-amzn-requestid"),
                             document["errorMessage"].split()[1])
            self.assertLess(took, AT_ONCE)
            print("\n  crash answered in %.3f s" % took)
            after = self.assertOk(emu.invoke("probe", {}))
            self.assertNotEqual(after["instance"], first["instance"], "not a new instance")

    # A background process that inherited the function's stdout and stderr keeps the pipes
    # open after the function died: the exit must be reported anyway (src/event/process.c).
    def test_crash_answers_at_once_even_when_a_grandchild_holds_the_output(self):
        argv = ["sh", "-c", 'sleep 60 & exec "$@"', "sh"] + probe_argv()
        with self.emulator(*argv, flags=["--timeout", "8"]) as emu:
            self.assertOk(emu.invoke("probe", {}))
            answer, took = self.timed(emu.invoke, "probe", {"action": "crash"})
            print("\n  crash beside a grandchild answered in %.3f s" % took)
            self.assertFunctionError(answer, "Runtime.ExitError")
            self.assertLess(took, AT_ONCE)

    def test_timeout_answers_sandbox_timedout_and_replaces_the_instance(self):
        with self.emulator(flags=["--timeout", "1"]) as emu:
            first = self.assertOk(emu.invoke("probe", {}))
            self.assertAlmostEqual(first["deadline_ms"] / 1000, time.time() + 1, delta=2)
            answer, took = self.timed(emu.invoke, "probe", {"action": "sleep", "seconds": 20})
            document = self.assertFunctionError(answer, "Sandbox.Timedout")
            self.assertIn("timed out after 1.00 seconds", document["errorMessage"])
            print("\n  timeout answered in %.3f s (--timeout 1)" % took)
            self.assertGreaterEqual(took, 0.9)
            self.assertLess(took, 3.0)
            # The stuck instance is replaced, not waited for.
            answer, took = self.timed(emu.invoke, "probe", {})
            after = self.assertOk(answer)
            self.assertNotEqual(after["instance"], first["instance"], "not a new instance")
            self.assertLess(took, AT_ONCE)

    def test_init_error_answers_the_waiting_invocation(self):
        with self.emulator(env={"PROBE_INIT_ERROR": "config is missing"}) as emu:
            for _ in range(2):
                answer, took = self.timed(emu.invoke, "probe", {})
                document = self.assertFunctionError(answer, "Runtime.ProbeInitError")
                self.assertEqual(document["errorMessage"], "config is missing")
                self.assertLess(took, AT_ONCE)

    def test_a_stopping_instance_gets_no_more_work(self):
        # The instance reports an init error, ignores SIGTERM (so it lingers for the 2 s grace)
        # and asks for work anyway: the next invocation must wait for a fresh instance instead
        # of going to the dying one.
        argv = ["sh", "-c", 'trap "" TERM; exec "$@"', "sh"] + probe_argv()
        env = {"PROBE_INIT_ERROR": "broken", "PROBE_SERVE_AFTER_INIT_ERROR": "1"}
        with self.emulator(*argv, env=env) as emu:
            self.assertFunctionError(emu.invoke("probe", {}), "Runtime.ProbeInitError")
            time.sleep(0.3)  # the lingering instance is waiting on /next by now
            document = self.assertFunctionError(emu.invoke("probe", {}), "Runtime.ProbeInitError")
            self.assertEqual(document["errorMessage"], "broken")

    def test_command_that_cannot_start_answers_at_once(self):
        missing = os.path.join(self.scratch, "no-such-program")
        with self.emulator(missing, "arg") as emu:
            answer, took = self.timed(emu.invoke, "probe", {})
            document = self.assertFunctionError(answer, "Runtime.StartError")
            self.assertIn("no-such-program", document["errorMessage"])
            self.assertLess(took, AT_ONCE)

    def test_command_that_exits_before_ready_answers_with_its_output(self):
        with self.emulator("sh", "-c", "echo cannot load handler >&2; exit 7") as emu:
            answer, took = self.timed(emu.invoke, "probe", {})
            document = self.assertFunctionError(answer, "Runtime.ExitError")
            self.assertIn("exit status 7", document["errorMessage"])
            self.assertIn("cannot load handler", document["errorMessage"])
            self.assertLess(took, AT_ONCE)


class ConcurrencyTest(WatchTestCase):
    def run_two_sleepers(self, concurrency):
        with self.emulator(flags=["--concurrency", str(concurrency)]) as emu:
            started = time.monotonic()
            calls = [Background(emu, "probe", {"action": "sleep", "seconds": 1}) for _ in range(2)]
            for call in calls:
                call.start()
            answers = [self.assertOk(call.answer()) for call in calls]
            took = time.monotonic() - started
        print("\n  two 1 s invocations with --concurrency %d: %.3f s" % (concurrency, took))
        return sorted(answers, key=lambda answer: answer["started"]), took

    def test_two_instances_run_in_parallel(self):
        first, second = self.run_two_sleepers(2)[0]
        self.assertNotEqual(first["instance"], second["instance"])
        self.assertLess(second["started"], first["finished"], "the invocations did not overlap")

    def test_one_instance_runs_in_turn(self):
        (first, second), took = self.run_two_sleepers(1)
        self.assertEqual(first["instance"], second["instance"])
        self.assertGreaterEqual(second["started"], first["finished"])
        self.assertGreaterEqual(took, 2.0)

    def test_queue_is_fifo(self):
        record = os.path.join(self.scratch, "record")
        os.makedirs(record)
        tags = ["t%d" % i for i in range(6)]
        with self.emulator(env={"PROBE_WRITE_DIR": record}) as emu:
            self.assertOk(emu.invoke("probe", {}))  # warm: the queue forms behind a busy one
            blocker = Background(emu, "probe", {"action": "sleep", "seconds": 2, "tag": "block"})
            blocker.start()
            deadline = time.monotonic() + 10
            while len(self.invocations_in(record)) < 2 and time.monotonic() < deadline:
                time.sleep(0.02)
            # Sent one after the other from this thread, so the order they reach it is known.
            pending = []
            for tag in tags:
                pending.append(send_invocation(emu, "probe", {"tag": tag}))
                time.sleep(0.05)
            self.assertOk(blocker.answer())
            for connection in pending:
                response = connection.getresponse()
                self.assertOk((response.status, {}, response.read()))
                connection.close()
        ran = [tag for _, tag in self.invocations_in(record)]
        self.assertEqual(ran, ["", "block"] + tags)

    def test_a_slow_function_does_not_stall_another(self):
        with self.emulator() as emu:
            slow = Background(emu, "slow", {"action": "sleep", "seconds": 5})
            slow.start()
            time.sleep(0.3)
            answer, took = self.timed(emu.invoke, "fast", {"action": "echo"})
            self.assertEqual(self.assertOk(answer)["function_name"], "fast")
            self.assertTrue(slow.is_alive(), "the fast function waited for the slow one")
            print("\n  fast function answered in %.3f s beside a slow one" % took)
            self.assertEqual(self.assertOk(slow.answer())["function_name"], "slow")

    def test_invoker_that_disconnects_while_queued_is_dropped(self):
        record = os.path.join(self.scratch, "record")
        os.makedirs(record)
        with self.emulator(env={"PROBE_WRITE_DIR": record}) as emu:
            self.assertOk(emu.invoke("probe", {}))
            blocker = Background(emu, "probe", {"action": "sleep", "seconds": 2, "tag": "block"})
            blocker.start()
            time.sleep(0.3)
            payload = b'{"tag": "gone"}'
            quitter = socket.create_connection((emu.host, emu.port))
            quitter.sendall(b"POST /2015-03-31/functions/probe/invocations HTTP/1.1\r\n"
                            b"Host: x\r\nContent-Length: %d\r\n\r\n%s" % (len(payload), payload))
            time.sleep(0.2)
            quitter.close()
            after = Background(emu, "probe", {"tag": "after"})
            after.start()
            self.assertOk(blocker.answer())
            self.assertOk(after.answer())
            self.assertOk(emu.invoke("probe", {"tag": "last"}))
        ran = [tag for _, tag in self.invocations_in(record)]
        self.assertEqual(ran, ["", "block", "after", "last"])

    def test_invoker_that_disconnects_while_running_does_not_break_the_instance(self):
        with self.emulator() as emu:
            first = self.assertOk(emu.invoke("probe", {}))
            payload = b'{"action": "sleep", "seconds": 0.5}'
            quitter = socket.create_connection((emu.host, emu.port))
            quitter.sendall(b"POST /2015-03-31/functions/probe/invocations HTTP/1.1\r\n"
                            b"Host: x\r\nContent-Length: %d\r\n\r\n%s" % (len(payload), payload))
            time.sleep(0.2)
            quitter.close()
            time.sleep(0.6)
            after = self.assertOk(emu.invoke("probe", {}))
            self.assertEqual(after["instance"], first["instance"])


class ProcessTest(WatchTestCase):
    def stop_mid_invocation(self, sig):
        with self.emulator(flags=["--concurrency", "2"]) as emu:
            self.assertOk(emu.invoke("probe", {}))
            busy = Background(emu, "probe", {"action": "sleep", "seconds": 60})
            busy.start()
            queued = [Background(emu, "other", {"action": "sleep", "seconds": 60})]
            queued[0].start()
            time.sleep(0.5)
            started = time.monotonic()
            self.assertEqual(emu.stop(sig), 0)  # asserts that no process is left
            took = time.monotonic() - started
            print("\n  %s stopped watch in %.3f s" % (signal.Signals(sig).name, took))
            for call in [busy] + queued:
                status, headers, body = call.answer(AT_ONCE)
                self.assertEqual(status, 200)
                self.assertEqual(headers.get("x-amz-function-error"), "Unhandled")
                self.assertEqual(body_json(body)["errorType"], "Runtime.Shutdown")
            self.assertIn("stopping", emu.output())

    def test_sigterm_exits_0_leaving_no_process(self):
        self.stop_mid_invocation(signal.SIGTERM)

    def test_sigint_exits_0_leaving_no_process(self):
        self.stop_mid_invocation(signal.SIGINT)

    def test_grandchildren_in_the_instance_group_are_stopped_too(self):
        # The function leaves a background child behind, in its own process group.
        argv = ["sh", "-c", 'sleep 300 & exec "$@"', "sh"] + probe_argv()
        with self.emulator(*argv) as emu:
            self.assertOk(emu.invoke("probe", {}))
            self.assertTrue(any(b"sleep" in _cmdline(pid) for pid in descendants(emu.pid)))
        # Leaving the block checked that nothing is left.

    def test_a_process_that_escaped_with_setsid_is_still_ended(self):
        # A daemon in a session of its own leaves the instance's process group; watch is its
        # subreaper, so it is still watch's to end when watch stops.
        argv = ["sh", "-c", 'setsid sleep 300 & exec "$@"', "sh"] + probe_argv()
        with self.emulator(*argv) as emu:
            self.assertOk(emu.invoke("probe", {}))
            self.assertTrue(wait_for(lambda: any(b"sleep" in _cmdline(pid)
                                                 for pid in tagged_processes(emu.tag))))
        # Leaving the block checked that nothing is left.

    def test_a_process_that_escaped_is_ended_at_a_restart(self):
        # The function (here started by a stand-in cargo) leaves a setsid daemon behind; a
        # change to the project restarts the functions, and the daemon goes with them.
        root = os.path.join(self.scratch, "project")
        os.makedirs(os.path.join(root, "src", "bin"))
        with open(os.path.join(root, "Cargo.toml"), "w") as handle:
            handle.write('[package]\nname = "escape"\nversion = "0.1.0"\nedition = "2021"\n')
        source = os.path.join(root, "src", "bin", "escape.rs")
        with open(source, "w") as handle:
            handle.write("fn main() {}\n")
        cargo = os.path.join(self.scratch, "fake-cargo")
        with open(cargo, "w") as handle:
            handle.write("#!/bin/sh\necho '     Running `target/debug/escape`' >&2\n"
                         "setsid sleep 300 </dev/null >/dev/null 2>&1 &\n"
                         "exec %s\n" % " ".join(probe_argv()))
        os.chmod(cargo, 0o755)

        def sleepers():
            return [pid for pid in tagged_processes(emu.tag) if b"sleep" in _cmdline(pid)]

        with Emulator(env={"HOME": self.home, "CARGO": cargo}, cwd=root) as emu:
            self.assertOk(emu.invoke("escape", {}))
            self.assertTrue(wait_for(lambda: len(sleepers()) == 1))
            self.assertIn(sleepers()[0], descendants(emu.pid), "watch adopted the daemon")
            with open(source, "a") as handle:
                handle.write("// changed\n")
            self.assertTrue(wait_for(lambda: not sleepers(), timeout=10),
                            "the daemon outlived the restart: %s" % sleepers())
            self.assertOk(emu.invoke("escape", {}))  # the next instance starts as usual

    def test_the_harness_sees_a_process_left_behind(self):
        # A process carrying the emulator's tag that watch cannot reach (started here, outside
        # watch's tree): the check at the end must name it.
        emu = self.emulator(*probe_argv())
        outsider = subprocess.Popen(["sleep", "300"], env=dict(os.environ, **{TAG_VARIABLE: emu.tag}))
        try:
            self.assertOk(emu.invoke("probe", {}))
            with self.assertRaisesRegex(AssertionError, r"left processes behind.*sleep 300"):
                emu.stop()
        finally:
            outsider.kill()
            outsider.wait()
            emu.__exit__(None, None, None)
        self.assertEqual(tagged_processes(emu.tag), [])

    def test_port_in_use_is_a_one_line_error_naming_it(self):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen(1)
            port = taken.getsockname()[1]
            result = self.cli("watch", "--invoke-address", "127.0.0.1", "-P", str(port), "--",
                              "true", timeout=20)
        self.assertNotEqual(result.returncode, 0)
        self.assertOneLineError(result, str(port))

    def test_timeouts_past_the_emulators_bound_are_usage_errors(self):
        # lambda.emulator.start's bound (4294967295 s, the original's u32): past it the
        # Runtime API's deadline could not be written; watch says so in its own terms.
        for flag in ("--timeout", "--init-timeout"):
            result = self.cli("watch", "--invoke-address", "127.0.0.1", "-P", str(free_port()),
                              flag, "4294967296", "--", "true", timeout=20)
            self.assertExit(result, 2)
            self.assertOneLineError(result, flag, "at most 4294967295 seconds")

    def test_output_is_prefixed_with_the_function_name(self):
        with self.emulator(flags=["-v"]) as emu:
            self.assertOk(emu.invoke("probe", {"action": "log", "lines": ["hello from probe"]}))
            output = emu.wait_for_output("[probe] err: hello from probe")
            self.assertIn("[probe] hello from probe\n", output)
            self.assertRegex(output, r"starting probe: \S*cargo-lambda run \S*probe.lua")
        with self.emulator() as emu:
            self.assertOk(emu.invoke("quiet", {"action": "log", "lines": ["hi"]}))
            output = emu.wait_for_output("[quiet] hi")
            self.assertNotIn("starting quiet", output)


class HarnessTest(WatchTestCase):
    """watchharness itself, as the other emulator tests use it: IPv6 and TLS."""

    def test_ipv6_loopback(self):
        if not socket.has_ipv6:
            self.skipTest("no IPv6")
        with self.emulator(flags=["--invoke-address", "::1"]) as emu:
            self.assertEqual(emu.url("/x"), "http://[::1]:%d/x" % emu.port)
            self.assertOk(emu.invoke("probe", {}))

    def test_tls(self):
        paths = make_certs(self.scratch)
        context = ssl.create_default_context(cafile=paths["ca"])
        flags = ["--tls-cert", paths["server_cert"], "--tls-key", paths["server_key"]]
        with self.emulator(flags=flags) as emu:
            self.assertTrue(emu.url("/").startswith("https://127.0.0.1:"))
            self.assertOk(emu.invoke("probe", {}))
        with Emulator(*probe_argv(), flags=flags, tls_context=context) as emu:
            self.assertEqual(self.assertOk(emu.invoke("probe", {"n": 2}))["event"], {"n": 2})


class EnvironmentTest(WatchTestCase):
    def environment(self, emu, name="probe"):
        answer = self.assertOk(emu.invoke(name, {"action": "env"}))
        self.assertIsInstance(answer, dict)
        return answer

    def test_env_var_and_env_file_reach_the_function(self):
        env_file = os.path.join(self.scratch, "function.env")
        with open(env_file, "w") as handle:
            handle.write('# settings\nFROM_FILE=file value\nexport QUOTED="a # b"\nBOTH=file\n')
        flags = ["--env-file", env_file, "--env-var", "BOTH=flag", "--env-var", "ONE=1,TWO=2"]
        with self.emulator(flags=flags) as emu:
            env = self.environment(emu)
        self.assertEqual(env.get("FROM_FILE"), "file value")
        self.assertEqual(env.get("QUOTED"), "a # b")
        self.assertEqual(env.get("BOTH"), "flag")
        self.assertEqual((env.get("ONE"), env.get("TWO")), ("1", "2"))

    def test_bad_env_file_is_a_one_line_error(self):
        env_file = os.path.join(self.scratch, "bad.env")
        with open(env_file, "w") as handle:
            handle.write("GOOD=1\nnot a setting\n")
        result = self.cli("watch", "--invoke-address", "127.0.0.1", "-P", str(free_port()),
                          "--env-file", env_file, "--", "true", timeout=20)
        self.assertNotEqual(result.returncode, 0)
        self.assertOneLineError(result, "bad.env", "line 2")

    def test_bad_env_var_names_the_flag_and_the_item(self):
        result = self.cli("watch", "--invoke-address", "127.0.0.1", "-P", str(free_port()),
                          "--env-var", "GOOD=1,=oops", "--", "true", timeout=20)
        self.assertExit(result, 2)
        self.assertOneLineError(result, "error: --env-var: '=oops' is not KEY=VALUE")

    def test_runtime_api_address_and_aws_variables(self):
        with self.emulator(flags=["--region", "eu-west-2"]) as emu:
            env = self.environment(emu, "my-function")
            other = self.environment(emu, "second")
        self.assertRegex(env["AWS_LAMBDA_RUNTIME_API"], r"^127\.0\.0\.1:\d{1,5}$")
        self.assertNotEqual(env["AWS_LAMBDA_RUNTIME_API"], other["AWS_LAMBDA_RUNTIME_API"])
        self.assertEqual(env["AWS_LAMBDA_FUNCTION_NAME"], "my-function")
        self.assertEqual(other["AWS_LAMBDA_FUNCTION_NAME"], "second")
        self.assertEqual(env["AWS_LAMBDA_FUNCTION_VERSION"], "$LATEST")
        self.assertRegex(env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], r"^[1-9]\d*$")
        self.assertEqual(env["AWS_LAMBDA_LOG_GROUP_NAME"], "/aws/lambda/my-function")
        self.assertRegex(env["AWS_LAMBDA_LOG_STREAM_NAME"],
                         r"^\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}$")
        self.assertEqual(env["AWS_REGION"], "eu-west-2")
        # The rest of watch's own environment is passed on.
        self.assertEqual(env.get("HOME"), self.home)

    def test_user_variables_cannot_override_the_instance_identity(self):
        flags = ["--env-var", "AWS_LAMBDA_RUNTIME_API=1.2.3.4:1",
                 "--env-var", "AWS_LAMBDA_FUNCTION_NAME=other", "--env-var", "AWS_REGION=x-1"]
        with self.emulator(flags=flags) as emu:
            env = self.environment(emu)
        self.assertRegex(env["AWS_LAMBDA_RUNTIME_API"], r"^127\.0\.0\.1:\d+$")
        self.assertEqual(env["AWS_LAMBDA_FUNCTION_NAME"], "probe")
        self.assertEqual(env["AWS_REGION"], "x-1")  # an ordinary setting the user may change


if __name__ == "__main__":
    unittest.main()
