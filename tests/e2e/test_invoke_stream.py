"""`invoke --stream`: InvokeWithResponseStream, locally (the emulator running
fixtures/functions/stream_function.py) and with --remote (a fake endpoint here that checks
every signature and sends its event stream step by step), through both HTTP engines.

Progressive output is shown without fixed sleeps: the answer's next chunk is only sent once
the test has read the previous one on the binary's stdout (remote), or the function holds its
last chunk until the test, having read the first ones, opens a gate file (local)."""

import base64
import json
import os
import struct
import subprocess
import sys
import threading
import unittest
import zlib

from fakelambda import ACCESS_KEY, SECRET_KEY, SESSION_TOKEN
from harness import BIN, SOURCE_DIR, ScratchTestCase, ThroughCurl
from sigv4_verify import verify
from streamserver import StreamServer, chunk, close, end, head, raw, wait
from watchharness import Emulator

STREAM_FUNCTION = os.path.join(os.path.abspath(SOURCE_DIR), "fixtures", "functions",
                               "stream_function.py")
EVENT_STREAM = "application/vnd.amazon.eventstream"


def message(headers, payload):
    """One event-stream message (string headers), encoded here, independently of the project."""
    encoded = b"".join(struct.pack(">B", len(n)) + n.encode() + b"\x07"
                       + struct.pack(">H", len(v)) + v.encode() for n, v in headers)
    prelude = struct.pack(">II", 16 + len(encoded) + len(payload), len(encoded))
    body = prelude + struct.pack(">I", zlib.crc32(prelude)) + encoded + payload
    return body + struct.pack(">I", zlib.crc32(body))


def payload_chunk(data):
    return message([(":event-type", "PayloadChunk"), (":content-type", "application/octet-stream"),
                    (":message-type", "event")], data)


def invoke_complete(**fields):
    return message([(":event-type", "InvokeComplete"), (":content-type", "application/json"),
                    (":message-type", "event")], json.dumps(fields).encode())


STREAM_HEAD = [("Content-Type", EVENT_STREAM), ("x-amzn-RequestId", "req-1"),
               ("X-Amz-Executed-Version", "7")]


class Running:
    """The binary running, its stdout read as it comes."""

    def __init__(self, args, env, cwd):
        self.process = subprocess.Popen([BIN] + list(args), env=env, cwd=cwd,
                                        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE)
        self.stdout = b""
        self.changed = threading.Condition()
        self.ended = False
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        while True:
            data = os.read(self.process.stdout.fileno(), 65536)
            with self.changed:
                if not data:
                    self.ended = True
                else:
                    self.stdout += data
                self.changed.notify_all()
            if not data:
                return

    def wait_for_stdout(self, expected, timeout=20, exact=True):
        """Waits until stdout is `expected` so far (bytes; or starts with it, exact=False)."""
        with self.changed:
            if not self.changed.wait_for(lambda: len(self.stdout) >= len(expected) or self.ended,
                                         timeout):
                raise AssertionError("stdout is %r after %s s, waiting for %r"
                                     % (self.stdout, timeout, expected))
            got = self.stdout if exact else self.stdout[:len(expected)]
            if got != expected:
                raise AssertionError("stdout is %r, expected %r (stderr: %r)" % (
                    self.stdout, expected, self.process.stderr.read() if self.ended else b""))

    def stop(self):
        """Kills the binary if it still runs (a failed test); its pipes are closed."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.reader.join(10)
        for pipe in (self.process.stdout, self.process.stderr):
            if not pipe.closed:
                pipe.close()

    def finish(self, timeout=30):
        self.process.wait(timeout)
        self.reader.join(timeout)
        result = subprocess.CompletedProcess(self.process.args, self.process.returncode,
                                             self.stdout, self.process.stderr.read())
        self.process.stdout.close()
        self.process.stderr.close()
        return result


# -- locally, through the emulator --------------------------------------------------------------

class Local(ScratchTestCase):
    @classmethod
    def setUpClass(cls):
        cls.emu = Emulator(sys.executable, STREAM_FUNCTION, flags=["--timeout", "30"])
        cls.addClassCleanup(cls.emu.stop)

    def invoke(self, event, *args):
        return self.cli("invoke", "-P", str(self.emu.port), "--invoke-address", "127.0.0.1",
                        "streamer", "--stream", "-A", json.dumps(event), *args)

    def test_chunks_appear_as_the_function_writes_them(self):
        gate = os.path.join(self.scratch, "gate")
        running = Running(["invoke", "-P", str(self.emu.port), "--invoke-address", "127.0.0.1",
                           "streamer", "--stream", "-A", json.dumps({
                               "mode": "stream", "chunks": ["first ", "second ", "last"],
                               "gate": gate, "gate_timeout": 20})], self.env(), self.scratch)
        self.addCleanup(running.stop)
        # The function writes its last chunk only once the gate exists: these two can only be
        # on stdout now if invoke printed them as they came.
        running.wait_for_stdout(b"first second ")
        self.assertIsNone(running.process.poll())
        with open(gate, "w"):
            pass
        result = running.finish()
        self.assertExit(result, 0)
        self.assertEqual(result.stdout, b"first second last[gate opened]\n")
        self.assertEqual(result.stderr, b"")

    def test_error_in_invoke_complete(self):
        result = self.invoke({"mode": "stream_error", "chunks": ["partial"],
                              "error_type": "Stream.Broke", "error_message": "it broke"})
        self.assertExit(result, 1)
        self.assertEqual(result.stdout, b"partial\n")
        self.assertEqual(result.stderr, b"Error: Stream.Broke: it broke\n")
        result = self.invoke({"mode": "fail", "error_type": "Plain.Failure",
                              "error_message": "nothing streamed"})
        self.assertExit(result, 1)
        self.assertEqual(result.stdout, b"")
        self.assertEqual(result.stderr, b"Error: Plain.Failure: nothing streamed\n")

    def test_log_tail(self):
        marker = "stream-log-marker"
        result = self.invoke({"mode": "print", "lines": [marker], "settle": 0.2},
                             "--log-type", "Tail")
        self.assertExit(result, 0)
        log = result.stderr.decode()
        self.assertIn(marker + "\n", log)
        self.assertRegex(log, r"^START RequestId: [0-9a-f-]{36} Version: \$LATEST\n")
        self.assertIn("\nEND RequestId: ", log)

    def test_a_function_that_does_not_stream(self):
        result = self.invoke({"mode": "buffered", "tag": "whole"})
        self.assertExit(result, 0)
        self.assertEqual(json.loads(result.stdout)["event"], {"mode": "buffered", "tag": "whole"})
        self.assertTrue(result.stdout.endswith(b"}\n"))

    def test_json_output_is_pretty_printed_at_the_end(self):
        result = self.invoke({"mode": "stream", "chunks": ['{"b": [1', ", 2]", ', "a": {}}']},
                             "-o", "json")
        self.assertExit(result, 0)
        self.assertEqual(result.stdout, b'{\n  "b": [\n    1,\n    2\n  ],\n  "a": {}\n}\n')
        result = self.invoke({"mode": "stream", "chunks": ["not ", "json"]}, "-o", "json")
        self.assertExit(result, 1)
        self.assertOneLineError(result, "--output-format json", "not JSON")

    def test_service_error_and_usage(self):
        result = self.cli("invoke", "-P", str(self.emu.port), "--invoke-address", "127.0.0.1",
                          "bad name!", "--stream", "-A", "{}")
        self.assertExit(result, 3)
        self.assertOneLineError(result, "Error: ValidationException")
        result = self.invoke({}, "--invocation-type", "Event")
        self.assertExit(result, 2)
        self.assertOneLineError(result, "--stream", "Event")
        # A load run of streamed invocations (its first chunk reported apart).
        result = self.invoke({"mode": "stream", "chunks": ["x"]}, "--repeat", "3")
        self.assertExit(result, 0)
        self.assertIn(b"invocations: 3 ", result.stdout)
        self.assertIn(b"first chunk (ms): ", result.stdout)

    def test_verbose_names_the_streaming_route_and_first_chunk(self):
        result = self.invoke({"mode": "stream", "chunks": ["x"]}, "-v")
        self.assertExit(result, 0)
        self.assertEqual(result.stdout, b"x\n")
        stderr = result.stderr.decode()
        self.assertIn("> POST http://127.0.0.1:%d/2021-11-15/functions/streamer/"
                      "response-streaming-invocations\n" % self.emu.port, stderr)
        self.assertRegex(stderr, r"\* 1 bytes streamed in [0-9.]+ ms \(connect [0-9.]+ ms, "
                                 r"first chunk [0-9.]+ ms\)")


class LocalThroughCurl(ThroughCurl, Local):
    pass


# -- remote, against a fake endpoint ------------------------------------------------------------

class Remote(ScratchTestCase):
    def setUp(self):
        super().setUp()
        self.endpoint = StreamServer().start()
        self.addCleanup(self.endpoint.stop)
        self.verdicts = []
        self.endpoint.gate = self._check_signature
        self.released = []  # events set at the end, so that no answer waits for nothing

    def tearDown(self):
        for event in self.released:
            event.set()
        super().tearDown()

    def _check_signature(self, request):
        verdict = verify(request.method, request.path, request.headers, request.body,
                         {ACCESS_KEY: SECRET_KEY}.get)
        self.verdicts.append(verdict)
        if verdict[0] and verdict[4] == "lambda":
            return None
        body = json.dumps({"Type": "User", "message": "signature rejected: %s" % verdict[1]})
        return [head(403, [("x-amzn-ErrorType", "InvalidSignatureException"),
                           ("Content-Length", str(len(body)))], chunked=False),
                raw(body.encode()), close()]

    def env(self, **extra):
        base = {
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_SESSION_TOKEN": SESSION_TOKEN,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": os.path.join(self.scratch, "no-config"),
            "AWS_SHARED_CREDENTIALS_FILE": os.path.join(self.scratch, "no-credentials"),
        }
        base.update(extra)
        return super().env(**base)

    def args(self, *extra):
        return ["invoke", "--remote", "--endpoint-url", self.endpoint.url(""), "--region",
                "eu-west-1", "--stream", *extra]

    def event(self):
        event = threading.Event()
        self.released.append(event)
        return event

    def only_request(self):
        self.assertEqual(len(self.endpoint.requests), 1)
        self.assertTrue(self.verdicts[0][0], "signature rejected: %s" % self.verdicts[0][1])
        self.assertEqual(self.verdicts[0][3:], ("eu-west-1", "lambda"))
        return self.endpoint.requests[0]

    def test_signed_request_and_chunks_as_they_come(self):
        seen = [self.event() for _ in range(3)]
        self.endpoint.answer([head(200, STREAM_HEAD), chunk(payload_chunk(b"one ")),
                              wait(seen[0]), chunk(payload_chunk(b"two ")), wait(seen[1]),
                              chunk(payload_chunk(b"three") + invoke_complete()), end()])
        running = Running(self.args("my-function", "--alias", "live", "-A", '{"n": 1}'),
                          self.env(), self.scratch)
        self.addCleanup(running.stop)
        # Until the test has seen a chunk, the next is not sent: stdout is exactly this.
        for index, so_far in enumerate([b"one ", b"one two ", b"one two three"]):
            running.wait_for_stdout(so_far, exact=index < 2)
            seen[index].set()
        result = running.finish()
        self.assertExit(result, 0)
        self.assertEqual(result.stdout, b"one two three\n")
        self.assertEqual(result.stderr, b"")
        request = self.only_request()
        self.assertEqual(request.method, "POST")
        self.assertEqual(request.path, "/2021-11-15/functions/my-function/"
                                       "response-streaming-invocations?Qualifier=live")
        self.assertEqual(request.body, b'{"n": 1}')
        self.assertEqual(request.header("x-amz-security-token"), SESSION_TOKEN)
        self.assertEqual(self.endpoint.errors, [])

    def test_a_message_split_across_http_chunks(self):
        whole = payload_chunk(b"split") + invoke_complete()
        seen = self.event()
        self.endpoint.answer([head(200, STREAM_HEAD), chunk(whole[:9]), chunk(whole[9:30]),
                              chunk(whole[30:]), end()])
        result = self.cli(*self.args("f", "-A", "{}"), env=self.env())
        seen.set()
        self.assertExit(result, 0)
        self.assertEqual(result.stdout, b"split\n")

    def test_error_code_and_log_tail(self):
        log = "START RequestId: req-1\nit went wrong\nEND RequestId: req-1\n"
        self.endpoint.answer([head(200, STREAM_HEAD), chunk(payload_chunk(b"half")),
                              chunk(invoke_complete(ErrorCode="Function.Crashed",
                                                    ErrorDetails="it went\nwrong",
                                                    LogResult=base64.b64encode(
                                                        log.encode()).decode())), end()])
        result = self.cli(*self.args("f", "-A", "{}", "--log-type", "Tail"), env=self.env())
        self.assertExit(result, 1)
        self.assertEqual(result.stdout, b"half\n")
        self.assertEqual(result.stderr.decode(), log + "Error: Function.Crashed: it went wrong\n")
        self.assertEqual(self.only_request().header("x-amz-log-type"), "Tail")

    def test_service_error_before_the_stream(self):
        arn = "arn:aws:lambda:eu-west-1:123456789012:function:gone"
        body = json.dumps({"Type": "User", "Message": "Function not found: " + arn}).encode()
        self.endpoint.answer([head(404, [("x-amzn-ErrorType", "ResourceNotFoundException"),
                                         ("Content-Type", "application/json"),
                                         ("Content-Length", str(len(body)))], chunked=False),
                              raw(body), close()])
        result = self.cli(*self.args(arn, "-A", "{}"), env=self.env())
        self.assertExit(result, 3)
        self.assertEqual(result.stdout, b"")
        self.assertEqual(result.stderr.decode(),
                         "Error: ResourceNotFoundException: Function not found: %s\n" % arn)
        self.assertEqual(self.only_request().path, "/2021-11-15/functions/"
                         + arn.replace(":", "%3A") + "/response-streaming-invocations")

    def test_corrupt_streams_are_transport_failures(self):
        good = payload_chunk(b"fine ")
        flipped = bytearray(payload_chunk(b"damaged"))
        flipped[-8] ^= 0x20  # in the payload: the message CRC no longer matches
        cases = [
            (good + bytes(flipped), b"fine ", "message CRC mismatch at byte %d" % len(good)),
            (good + invoke_complete()[:-3], b"fine ", "the stream ended inside a message"),
            (bytes([0xff]) + good[1:], b"", "prelude CRC mismatch at byte 0"),
            (good, b"fine ", "the stream ended without an InvokeComplete message"),
        ]
        for body, printed, fault in cases:
            with self.subTest(fault=fault):
                self.endpoint.answer([head(200, STREAM_HEAD), chunk(body), end()])
                result = self.cli(*self.args("f", "-A", "{}"), env=self.env())
                self.assertExit(result, 3)
                self.assertEqual(result.stdout, printed + b"\n" if printed else b"")
                self.assertOneLineError(result, "error: http://127.0.0.1:%d/2021-11-15/"
                                        % self.endpoint.port, "corrupt event stream: " + fault)

    def test_json_output(self):
        self.endpoint.answer([head(200, STREAM_HEAD), chunk(payload_chunk(b'{"z":1,')),
                              chunk(payload_chunk(b'"a":[]}') + invoke_complete()), end()])
        result = self.cli(*self.args("f", "-A", "{}", "-o", "json"), env=self.env())
        self.assertExit(result, 0)
        self.assertEqual(result.stdout, b'{\n  "z": 1,\n  "a": []\n}\n')

    def test_an_endpoint_that_answers_whole(self):
        self.endpoint.answer([head(200, [("Content-Type", "application/json"),
                                         ("Content-Length", "8")], chunked=False),
                              raw(b'{"ok":1}'), close()])
        result = self.cli(*self.args("f", "-A", "{}"), env=self.env())
        self.assertExit(result, 0)
        self.assertEqual(result.stdout, b'{"ok":1}\n')

    def test_bad_signature_is_a_service_error(self):
        result = self.cli(*self.args("f", "-A", "{}"),
                          env=self.env(AWS_SECRET_ACCESS_KEY="not-the-secret"))
        self.assertExit(result, 3)
        self.assertOneLineError(result, "Error: InvalidSignatureException")
        self.assertNotIn(b"not-the-secret", result.stderr)


class RemoteThroughCurl(ThroughCurl, Remote):
    pass


# -- invoke_all's checks before sending ----------------------------------------------------------

INVOKE_ALL_SCRIPT = """
local lambda = require("lambda")
local client = assert(lambda.client({ remote = true, profile = "nowhere" }))
local results, message, kind = client:invoke_all({ { name = "f" }, { name = "g" } })
io.stdout:write(tostring(results), "|", tostring(message), "|", tostring(kind), "\\n")
"""


class InvokeAll(ScratchTestCase):
    def test_settings_that_cannot_be_resolved_are_invokes_failure(self):
        script = os.path.join(self.scratch, "all.lua")
        with open(script, "w") as handle:
            handle.write(INVOKE_ALL_SCRIPT)
        config = os.path.join(self.scratch, "config")
        with open(config, "w") as handle:
            handle.write("[profile other]\nregion = eu-west-1\n")
        result = self.cli("run", script, env=self.env(
            AWS_CONFIG_FILE=config, AWS_EC2_METADATA_DISABLED="true",
            AWS_SHARED_CREDENTIALS_FILE=os.path.join(self.scratch, "none")))
        self.assertExit(result, 0)
        results, message, kind = result.stdout.decode().rstrip("\n").split("|")
        # An unknown profile: not_found, as lambda.aws says it, before anything is sent.
        self.assertEqual((results, kind), ("nil", "not_found"))
        self.assertIn("nowhere", message)


if __name__ == "__main__":
    unittest.main()
