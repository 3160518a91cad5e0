"""`watch` against independent real clients: Debian's awscli and our own `invoke` as invokers;
the official Node.js runtime client (npm aws-lambda-ric), a plain-Python Runtime API client
and our Lua runtime as functions, launched by the emulator or started by hand; a raw Runtime
API client checking every header; extensions registering for INVOKE and SHUTDOWN."""

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import test_watch_streaming as streaming
from harness import BIN, clean_env, run_cli
from watchharness import Emulator

SOURCE = streaming.SOURCE
FUNCTIONS = os.path.join(SOURCE, "fixtures", "functions")
ECHO = os.path.join(FUNCTIONS, "echo.lua")
EXTENSION = os.path.join(FUNCTIONS, "extension.py")
NODE_DIR = os.path.join(SOURCE, "tests", "node")
NODE_RIC = os.path.join(NODE_DIR, "node_modules", ".bin", "aws-lambda-ric")
AWS = streaming.AWS
ARN = re.compile(r"^arn:aws:lambda:[a-z]{2}(-[a-z]+)+-\d:\d{12}:function:([A-Za-z0-9_-]+)$")
TRACE_ID = re.compile(r"^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=[01]$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def skip_saying_why(reason):
    """Skips a whole class, printing why (ctest shows stderr; unittest only counts skips)."""
    print("skipped: %s" % reason, file=sys.stderr)
    raise unittest.SkipTest(reason)


class ScratchDir:
    def make_scratch(self):
        scratch = tempfile.mkdtemp(prefix="clc-clients-")
        self.addCleanup(shutil.rmtree, scratch, True)
        return scratch


# -- Debian's awscli ------------------------------------------------------------------------------

class AwsCli(unittest.TestCase, ScratchDir):
    @classmethod
    def setUpClass(cls):
        if not os.path.exists(AWS):
            skip_saying_why("%s is not installed (Debian package awscli)" % AWS)
        cls.emu = Emulator(*streaming.stream_function_argv(), flags=["--timeout", "60"])
        cls.addClassCleanup(cls.emu.stop)

    def setUp(self):
        self.scratch = self.make_scratch()

    def aws_invoke(self, *args, payload=None):
        """Runs `aws lambda invoke`; returns (its JSON output, the bytes of the outfile)."""
        env = {"PATH": "/usr/bin:/bin", "HOME": self.scratch, "LANG": "C.UTF-8",
               "AWS_ACCESS_KEY_ID": "AKIDEXAMPLETEST", "AWS_SECRET_ACCESS_KEY": "not-a-secret",
               "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
               "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
               "AWS_PAGER": ""}
        outfile = os.path.join(self.scratch, "out.json")
        argv = [AWS, "lambda", "invoke", "--endpoint-url", self.emu.url(""),
                "--cli-binary-format", "raw-in-base64-out", "--output", "json"]
        if payload is not None:
            payload_file = os.path.join(self.scratch, "payload.json")
            with open(payload_file, "w") as handle:
                json.dump(payload, handle)
            argv += ["--payload", "file://" + payload_file]
        result = subprocess.run(argv + list(args) + [outfile], env=env, capture_output=True,
                                timeout=120)
        self.assertEqual(result.returncode, 0, "aws failed: %r" % result.stderr)
        with open(outfile, "rb") as handle:
            return json.loads(result.stdout), handle.read()

    def test_success_with_payload_file(self):
        payload = {"mode": "buffered", "list": [1, 2, 3], "text": "héllo"}
        output, body = self.aws_invoke("--function-name", "cli-fn", payload=payload)
        self.assertEqual(output["StatusCode"], 200)
        self.assertEqual(output["ExecutedVersion"], "$LATEST")
        self.assertNotIn("FunctionError", output)
        answer = json.loads(body)
        self.assertEqual(answer["event"], payload)
        self.assertTrue(ARN.match(answer["next_headers"]["lambda-runtime-invoked-function-arn"]))
        self.assertTrue(answer["next_headers"]["lambda-runtime-invoked-function-arn"]
                        .endswith(":function:cli-fn"))

    def test_function_error(self):
        output, body = self.aws_invoke("--function-name", "cli-fn", payload={
            "mode": "fail", "error_type": "Cli.Failure", "error_message": "failed for the cli"})
        self.assertEqual(output["StatusCode"], 200)
        self.assertEqual(output["FunctionError"], "Unhandled")
        self.assertEqual(json.loads(body), {"errorType": "Cli.Failure",
                                            "errorMessage": "failed for the cli"})

    def test_event_is_202_and_runs(self):
        marker = "event-ran-%d" % time.monotonic_ns()
        output, body = self.aws_invoke("--function-name", "cli-fn", "--invocation-type", "Event",
                                       payload={"mode": "print", "lines": [marker]})
        self.assertEqual(output["StatusCode"], 202)
        self.assertEqual(body, b"")
        self.emu.wait_for_output(marker)

    def test_dry_run_is_204_and_does_not_run(self):
        skipped = "dry-run-%d" % time.monotonic_ns()
        output, body = self.aws_invoke("--function-name", "cli-fn", "--invocation-type", "DryRun",
                                       payload={"mode": "print", "lines": [skipped]})
        self.assertEqual(output["StatusCode"], 204)
        self.assertEqual(body, b"")
        # Invocations of a function run in order: once a later one has answered, a dry run
        # that had (wrongly) run would have printed already.
        later = "after-dry-run-%d" % time.monotonic_ns()
        self.aws_invoke("--function-name", "cli-fn", payload={"mode": "print", "lines": [later],
                                                              "settle": 0.2})
        self.assertNotIn(skipped, self.emu.wait_for_output(later))

    def test_log_tail(self):
        marker = "tail-line-%d" % time.monotonic_ns()
        output, body = self.aws_invoke("--function-name", "cli-fn", "--log-type", "Tail",
                                       payload={"mode": "print", "lines": [marker],
                                                "settle": 0.2})
        log = base64.b64decode(output["LogResult"]).decode()
        request_id = json.loads(body)["next_headers"]["lambda-runtime-aws-request-id"]
        self.assertIn(marker + "\n", log)
        self.assertIn("START RequestId: %s" % request_id, log)
        self.assertIn("END RequestId: %s" % request_id, log)
        self.assertLess(log.index("START"), log.index(marker))
        self.assertLess(log.index(marker), log.index("END"))

    def test_qualifier(self):
        output, body = self.aws_invoke("--function-name", "cli-fn", "--qualifier", "$LATEST",
                                       payload={"mode": "buffered", "q": 1})
        self.assertEqual(output["StatusCode"], 200)
        self.assertEqual(output["ExecutedVersion"], "$LATEST")
        self.assertEqual(json.loads(body)["event"], {"mode": "buffered", "q": 1})

    def test_client_context_reaches_the_function(self):
        context = {"client": {"app_title": "clc"}, "custom": {"k": "v"}, "env": {"a": "b"}}
        encoded = base64.b64encode(json.dumps(context).encode()).decode()
        output, body = self.aws_invoke("--function-name", "cli-fn", "--client-context", encoded,
                                       payload={"mode": "buffered"})
        received = json.loads(body)["next_headers"]["lambda-runtime-client-context"]
        self.assertEqual(json.loads(received), context)


# -- our own invoke -------------------------------------------------------------------------------

class OwnInvoke(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.emu = Emulator(*streaming.stream_function_argv())
        cls.addClassCleanup(cls.emu.stop)

    def invoke(self, *args):
        return run_cli(["invoke", "--invoke-address", "127.0.0.1", "-P", str(self.emu.port)]
                       + list(args))

    def test_success(self):
        result = self.invoke("-A", '{"mode": "buffered", "n": 5}', "own-fn")
        self.assertEqual(result.returncode, 0, result.stderr)
        answer = json.loads(result.stdout)
        self.assertEqual(answer["event"], {"mode": "buffered", "n": 5})
        self.assertTrue(answer["next_headers"]["lambda-runtime-invoked-function-arn"]
                        .endswith(":function:own-fn"))

    def test_function_error(self):
        result = self.invoke("-A", '{"mode": "fail", "error_type": "Own.Failure"}', "own-fn")
        self.assertEqual(result.returncode, 1, result.stdout)
        self.assertIn(b"Own.Failure", result.stderr)

    def test_client_context(self):
        result = self.invoke("-A", '{"mode": "buffered"}', "--client-context-ascii",
                             '{"custom": {"from": "invoke"}}', "own-fn")
        self.assertEqual(result.returncode, 0, result.stderr)
        received = json.loads(result.stdout)["next_headers"]["lambda-runtime-client-context"]
        self.assertEqual(json.loads(received)["custom"], {"from": "invoke"})

    def test_streaming_function(self):
        result = self.invoke("-A", '{"mode": "stream", "chunks": ["s1 ", "s2"]}', "own-fn")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout, b"s1 s2\n")


# -- the official Node.js runtime client ----------------------------------------------------------

class NodeRuntimeClient(unittest.TestCase):
    """tests/node: `npm ci` there installs aws-lambda-ric (as .ci/run does)."""

    @classmethod
    def setUpClass(cls):
        if shutil.which("node") is None:
            skip_saying_why("node is not installed: the Node.js runtime client tests need it")
        if not os.access(NODE_RIC, os.X_OK):
            skip_saying_why("%s is missing: run 'npm ci' in %s (as .ci/run does)"
                            % (NODE_RIC, NODE_DIR))

    @classmethod
    def emulator(cls, handler):
        # The client needs LAMBDA_TASK_ROOT (where index.js is) and _HANDLER.
        return Emulator(NODE_RIC, handler, cwd=NODE_DIR, flags=[
            "--env-var", "LAMBDA_TASK_ROOT=" + NODE_DIR, "--env-var", "_HANDLER=" + handler])

    def test_success_and_thrown_error(self):
        with self.emulator("index.handler") as emu:
            status, headers, body = emu.invoke("node-fn", {"hello": "node"})
            self.assertEqual(status, 200, body)
            self.assertNotIn("x-amz-function-error", headers)
            answer = json.loads(body)
            self.assertEqual(answer["echo"], {"hello": "node"})
            self.assertEqual(answer["requestId"], headers["x-amzn-requestid"])
            self.assertEqual(answer["functionName"], "node-fn")
            self.assertTrue(ARN.match(answer["invokedFunctionArn"]), answer["invokedFunctionArn"])
            # The client computes this from Lambda-Runtime-Deadline-Ms (900 s by default).
            self.assertGreater(answer["remainingMs"], 890000)
            self.assertLessEqual(answer["remainingMs"], 900000)

            status, headers, body = emu.invoke("node-fn", {"fail": "on purpose"})
            self.assertEqual(status, 200)
            self.assertEqual(headers["x-amz-function-error"], "Unhandled")
            error = json.loads(body)
            self.assertEqual(error["errorType"], "AskedToFail")
            self.assertEqual(error["errorMessage"], "asked to fail: on purpose")

            # The instance survived the thrown error.
            status, _, body = emu.invoke("node-fn", {"again": True})
            self.assertEqual(json.loads(body)["echo"], {"again": True})
            emu.wait_for_output("node handler got")

    def test_client_context(self):
        with self.emulator("index.handler") as emu:
            context = {"custom": {"k": "v"}}
            status, _, body = emu.invoke("node-fn", {}, headers={
                "X-Amz-Client-Context": base64.b64encode(json.dumps(context).encode()).decode()})
            self.assertEqual(status, 200, body)
            self.assertEqual(json.loads(body)["clientContext"], context)

    def test_streaming_handler(self):
        with self.emulator("index.stream") as emu:
            invocation = streaming.StreamingInvocation(emu, "node-fn",
                                                       {"chunks": ["alpha ", "beta ", "gamma"]})
            self.addCleanup(invocation.close)
            messages = invocation.all_messages()
            chunks = [data for headers, data in messages
                      if headers[":event-type"] == "PayloadChunk"]
            self.assertEqual(b"".join(chunks), b"alpha beta gamma")
            self.assertEqual(messages[-1][0][":event-type"], "InvokeComplete")
            self.assertNotIn("ErrorCode", json.loads(messages[-1][1]))

            invocation = streaming.StreamingInvocation(emu, "node-fn",
                                                       {"chunks": ["half"], "fail": "midway"})
            self.addCleanup(invocation.close)
            complete = json.loads(invocation.all_messages()[-1][1])
            self.assertEqual(complete["ErrorCode"], "Error")
            self.assertIn("asked to fail mid-stream: midway", complete["ErrorDetails"])

            # The buffered Invoke API gets the whole streamed body.
            status, headers, body = emu.invoke("node-fn", {"chunks": ["x", "y", "z"]})
            self.assertEqual(status, 200)
            self.assertEqual(body, b"xyz")
            self.assertEqual(headers["content-type"], "text/plain")


# -- runtimes started by hand against the main port -----------------------------------------------

class HandStartedTestCase(unittest.TestCase, ScratchDir):
    """`watch` with no project and no command; functions come and go by hand."""

    TIMEOUT = 30

    def setUp(self):
        # No Cargo.toml here or above: the emulator has no project.
        self.scratch = self.make_scratch()
        self.emu = Emulator(cwd=self.scratch, flags=["--timeout", str(self.TIMEOUT)])
        self.addCleanup(self.emu.stop)

    def start_by_hand(self, argv, runtime_api):
        """A process that is not the emulator's child, with its own clean environment."""
        env = clean_env({"AWS_LAMBDA_RUNTIME_API": runtime_api})
        process = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

        def stop():
            if process.poll() is None:
                process.kill()
            process.wait(10)
            process.stdout.close()

        self.addCleanup(stop)
        return process

    def runtime_request(self, method, path, body=b"", headers=None, timeout=30):
        return self.emu.request(method, path, body, headers, timeout)

    def invoke_in_background(self, name, payload, headers=None):
        """Starts an invocation; returns a function that waits for its answer."""
        outcome = {}

        def run():
            outcome["answer"] = self.emu.invoke(name, payload, headers)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()

        def wait(timeout=30):
            """The answer, or None when there is none within `timeout` seconds."""
            thread.join(timeout)
            return outcome.get("answer")

        return wait


class HandStarted(HandStartedTestCase):
    def answered(self, wait):
        answer = wait()
        self.assertIsNotNone(answer, "the invocation got no answer")
        return answer

    def test_runtime_api_headers_and_answers(self):
        prefix = "/.rt/raw-fn/2018-06-01/runtime"
        context = {"custom": {"who": "raw"}}
        wait = self.invoke_in_background("raw-fn", {"n": 1}, {
            "X-Amz-Client-Context": base64.b64encode(json.dumps(context).encode()).decode()})
        status, headers, body = self.runtime_request("GET", prefix + "/invocation/next")
        now_ms = time.time() * 1000
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body), {"n": 1})
        request_id = headers["lambda-runtime-aws-request-id"]
        self.assertRegex(request_id, UUID)
        deadline = int(headers["lambda-runtime-deadline-ms"])
        # Epoch milliseconds of the real deadline: about now plus --timeout.
        self.assertLess(abs(deadline - (now_ms + self.TIMEOUT * 1000)), 3000)
        arn = ARN.match(headers["lambda-runtime-invoked-function-arn"])
        self.assertTrue(arn, headers["lambda-runtime-invoked-function-arn"])
        self.assertEqual(arn.group(2), "raw-fn")
        self.assertRegex(headers["lambda-runtime-trace-id"], TRACE_ID)
        self.assertEqual(json.loads(headers["lambda-runtime-client-context"]), context)

        status, _, _ = self.runtime_request("POST", prefix + "/invocation/%s/response"
                                            % request_id, b'{"answered":"by hand"}')
        self.assertEqual(status, 202)
        status, answer_headers, answer = self.answered(wait)
        self.assertEqual(status, 200)
        self.assertEqual(answer, b'{"answered":"by hand"}')
        self.assertEqual(answer_headers["x-amzn-requestid"], request_id)

        # /error: the invoker gets the function error.
        wait = self.invoke_in_background("raw-fn", {"n": 2})
        _, headers, _ = self.runtime_request("GET", prefix + "/invocation/next")
        error = b'{"errorType":"Raw.Error","errorMessage":"by hand"}'
        status, _, _ = self.runtime_request(
            "POST", prefix + "/invocation/%s/error" % headers["lambda-runtime-aws-request-id"],
            error, {"Lambda-Runtime-Function-Error-Type": "Raw.Error"})
        self.assertEqual(status, 202)
        status, answer_headers, answer = self.answered(wait)
        self.assertEqual(answer_headers["x-amz-function-error"], "Unhandled")
        self.assertEqual(answer, error)

        # An unknown request id is refused, not accepted.
        status, _, _ = self.runtime_request("POST", prefix + "/invocation/no-such-id/response",
                                            b"{}")
        self.assertEqual(status, 400)

    def test_init_error_answers_the_waiting_invocation(self):
        wait = self.invoke_in_background("broken-fn", {})
        # The init error answers what is queued at that moment: report it until the
        # invocation, sent from another thread, has been queued and answered.
        answer = None
        for _ in range(50):
            status, _, _ = self.runtime_request(
                "POST", "/.rt/broken-fn/2018-06-01/runtime/init/error",
                b'{"errorType":"Runtime.BadInit","errorMessage":"cannot start"}',
                {"Lambda-Runtime-Function-Error-Type": "Runtime.BadInit"})
            self.assertEqual(status, 202)
            answer = wait(0.2)
            if answer:
                break
        self.assertIsNotNone(answer, "the init error never answered the invocation")
        status, headers, body = answer
        self.assertEqual(status, 200)
        self.assertEqual(headers["x-amz-function-error"], "Unhandled")
        self.assertEqual(json.loads(body)["errorType"], "Runtime.BadInit")

    def test_lua_runtime_with_a_url(self):
        # Our Lua runtime accepts a URL in AWS_LAMBDA_RUNTIME_API.
        self.start_by_hand([BIN, "run", ECHO], "http://127.0.0.1:%d/.rt/lua-fn" % self.emu.port)
        for n in range(3):
            status, headers, body = self.emu.invoke("lua-fn", {"n": n})
            self.assertEqual(status, 200, body)
            answer = json.loads(body)
            self.assertEqual(answer["echo"], {"n": n})
            self.assertEqual(answer["request_id"], headers["x-amzn-requestid"])

    def test_bare_paths_serve_the_default_function(self):
        self.start_by_hand(streaming.stream_function_argv(), "127.0.0.1:%d" % self.emu.port)
        result = run_cli(["invoke", "--invoke-address", "127.0.0.1", "-P", str(self.emu.port),
                          "-A", '{"mode": "buffered", "via": "bare"}'], cwd=self.scratch)
        self.assertEqual(result.returncode, 0, result.stderr)
        answer = json.loads(result.stdout)
        self.assertEqual(answer["event"], {"mode": "buffered", "via": "bare"})
        self.assertTrue(answer["next_headers"]["lambda-runtime-invoked-function-arn"]
                        .endswith(":function:_"))
        # Streaming through the hand-started runtime too.
        invocation = streaming.StreamingInvocation(self.emu, "_", {"mode": "stream",
                                                                   "chunks": ["b1", "b2"]})
        self.addCleanup(invocation.close)
        chunks = [data for headers, data in invocation.all_messages()
                  if headers[":event-type"] == "PayloadChunk"]
        self.assertEqual(chunks, [b"b1", b"b2"])

    def test_function_names_do_not_mix(self):
        self.start_by_hand([BIN, "run", ECHO], "127.0.0.1:%d/.rt/first" % self.emu.port)
        self.start_by_hand(streaming.stream_function_argv(),
                           "127.0.0.1:%d/.rt/second" % self.emu.port)
        for _ in range(2):
            _, _, body = self.emu.invoke("first", {"to": "first"})
            self.assertEqual(json.loads(body)["echo"], {"to": "first"})
            _, _, body = self.emu.invoke("second", {"to": "second"})
            self.assertEqual(json.loads(body)["event"], {"to": "second"})


# -- extensions -----------------------------------------------------------------------------------

def read_log(path):
    try:
        with open(path) as handle:
            return [json.loads(line) for line in handle if line.strip()]
    except OSError:
        return []


def wait_for_log(path, predicate, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        entries = read_log(path)
        if predicate(entries):
            return entries
        time.sleep(0.02)
    raise AssertionError("the extension log never matched; it holds %r" % read_log(path))


def events_of(entries, kind):
    return [entry["event"] for entry in entries
            if entry["step"] == "event" and entry["event"]["eventType"] == kind]


class Extensions(HandStartedTestCase):
    def test_extension_started_by_the_function(self):
        log = os.path.join(self.scratch, "internal.log")
        with Emulator(*streaming.stream_function_argv("--extension", log)) as emu:
            started = time.monotonic()
            ids = []
            for n in range(2):
                status, headers, body = emu.invoke("ext-fn", {"mode": "buffered", "n": n})
                self.assertEqual(status, 200, body)
                ids.append(headers["x-amzn-requestid"])
            # An extension waiting for its next event does not hold the function up.
            self.assertLess(time.monotonic() - started, 10)
            entries = wait_for_log(log, lambda e: len(events_of(e, "INVOKE")) == 2)
            registered = entries[0]
            self.assertEqual(registered["step"], "registered")
            self.assertRegex(registered["id"], UUID)
            self.assertEqual(registered["answer"]["functionName"], "ext-fn")
            invokes = events_of(entries, "INVOKE")
            self.assertEqual([event["requestId"] for event in invokes], ids)
            for event in invokes:
                self.assertTrue(event["invokedFunctionArn"].endswith(":function:ext-fn"))
                self.assertGreater(event["deadlineMs"], time.time() * 1000)
                self.assertRegex(event["tracing"]["value"], TRACE_ID)
        # Stopping the emulator stops the instance: its extension got SHUTDOWN first.
        entries = read_log(log)
        shutdowns = events_of(entries, "SHUTDOWN")
        self.assertEqual(len(shutdowns), 1, entries)
        self.assertEqual(shutdowns[0]["shutdownReason"], "spindown")
        self.assertEqual(entries[-1]["step"], "exit")

    def test_extension_started_by_hand(self):
        log = os.path.join(self.scratch, "external.log")
        extension = self.start_by_hand([sys.executable, EXTENSION, log],
                                       "127.0.0.1:%d/.rt/hand-fn" % self.emu.port)
        wait_for_log(log, lambda e: e and e[0]["step"] == "registered")
        self.start_by_hand(streaming.stream_function_argv(),
                           "127.0.0.1:%d/.rt/hand-fn" % self.emu.port)
        status, headers, _ = self.emu.invoke("hand-fn", {"mode": "buffered"})
        self.assertEqual(status, 200)
        entries = wait_for_log(log, lambda e: events_of(e, "INVOKE"))
        self.assertEqual([event["requestId"] for event in events_of(entries, "INVOKE")],
                         [headers["x-amzn-requestid"]])
        # Another function's invocations are not its business.
        self.start_by_hand([BIN, "run", ECHO], "127.0.0.1:%d/.rt/other-fn" % self.emu.port)
        self.emu.invoke("other-fn", {})
        # When the emulator stops, the extension gets SHUTDOWN and ends by itself.
        self.emu.stop()
        self.assertEqual(extension.wait(10), 0)
        entries = read_log(log)
        self.assertEqual(len(events_of(entries, "INVOKE")), 1, entries)
        self.assertEqual(len(events_of(entries, "SHUTDOWN")), 1, entries)
        self.assertEqual(entries[-1]["step"], "exit")

    def test_extensions_api_refuses_unknown_identifiers(self):
        status, _, body = self.emu.request("GET", "/.rt/x/2020-01-01/extension/event/next",
                                           headers={"Lambda-Extension-Identifier": "nope"})
        self.assertEqual(status, 403)
        self.assertIn(b"Extension.UnknownExtensionIdentifier", body)
        status, _, _ = self.emu.request("POST", "/.rt/x/2020-01-01/extension/register",
                                        b'{"no": "events"}')
        self.assertEqual(status, 400)


if __name__ == "__main__":
    unittest.main()
