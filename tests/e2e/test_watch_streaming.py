"""Response streaming through `watch`, read by clients that share no code with the emulator.

The function is fixtures/functions/stream_function.py (plain Python speaking the Runtime API
and streaming its answers with chunked POSTs); the invoker is a raw socket client here that
reads the chunked HTTP answer piece by piece and decodes the AWS event stream with its own
decoder (CRC-32 of prelude and message checked, zlib's CRC being the one the format uses).
"""

import base64
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest
import zlib

from watchharness import Emulator

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.abspath(os.environ.get("CARGO_LAMBDA_SOURCE_DIR", os.path.join(HERE, "..", "..")))
STREAM_FUNCTION = os.path.join(SOURCE, "fixtures", "functions", "stream_function.py")
AWS = "/usr/bin/aws"
STREAMING_PATH = "/2021-11-15/functions/%s/response-streaming-invocations"


def stream_function_argv(*extra):
    return [sys.executable, STREAM_FUNCTION] + list(extra)


# -- a raw HTTP/1.1 client that hands out the body as its chunks arrive -----------------------

class RawResponse:
    """One request on its own connection; the status and headers are read at once, the body
    piece by piece (chunked or Content-Length)."""

    def __init__(self, port, method, path, body=b"", headers=None, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buffer = b""
        lines = ["%s %s HTTP/1.1" % (method, path), "Host: 127.0.0.1:%d" % port,
                 "Content-Length: %d" % len(body), "Connection: close"]
        for name, value in (headers or {}).items():
            lines.append("%s: %s" % (name, value))
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        status_line = self._line()
        self.status = int(status_line.split(b" ")[1])
        self.headers = {}
        self.header_list = []
        while True:
            line = self._line()
            if not line:
                break
            name, _, value = line.decode("latin-1").partition(":")
            self.header_list.append((name.strip().lower(), value.strip()))
            self.headers[name.strip().lower()] = value.strip()
        self.chunked = "chunked" in self.headers.get("transfer-encoding", "").lower()
        self.remaining = int(self.headers.get("content-length", "0"))
        self.done = False

    def close(self):
        self.sock.close()

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise AssertionError("the connection closed in the middle of the answer")
        self.buffer += data

    def _line(self):
        while b"\r\n" not in self.buffer:
            self._fill()
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def _exactly(self, count):
        while len(self.buffer) < count:
            self._fill()
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def next_piece(self):
        """The next HTTP chunk of the body (bytes), or None at its end."""
        if self.done:
            return None
        if not self.chunked:
            self.done = True
            return self._exactly(self.remaining)
        size = int(self._line().split(b";")[0], 16)
        if size == 0:
            while self._line():  # trailers, then the empty line
                pass
            self.done = True
            return None
        data = self._exactly(size)
        if self._exactly(2) != b"\r\n":
            raise AssertionError("a chunk does not end with CRLF")
        return data

    def read_all(self):
        parts = []
        while True:
            piece = self.next_piece()
            if piece is None:
                return b"".join(parts)
            parts.append(piece)


# -- an independent AWS event-stream decoder ----------------------------------------------------

class FrameError(Exception):
    pass


class EventStreamDecoder:
    """Fed bytes in any pieces; gives back whole messages as (headers dict, payload bytes).

    Message: total length u32 | headers length u32 | prelude CRC u32 | headers | payload |
    message CRC u32, big-endian; header: name length u8, name, type u8, value."""

    def __init__(self):
        self.buffer = b""

    def feed(self, data):
        self.buffer += data
        messages = []
        while len(self.buffer) >= 12:
            total, headers_length, prelude_crc = struct.unpack(">III", self.buffer[:12])
            if zlib.crc32(self.buffer[:8]) != prelude_crc:
                raise FrameError("prelude CRC mismatch")
            if total < 16 + headers_length:
                raise FrameError("message length %d too small" % total)
            if len(self.buffer) < total:
                break
            message, self.buffer = self.buffer[:total], self.buffer[total:]
            (message_crc,) = struct.unpack(">I", message[-4:])
            if zlib.crc32(message[:-4]) != message_crc:
                raise FrameError("message CRC mismatch")
            headers = self._headers(message[12:12 + headers_length])
            messages.append((headers, message[12 + headers_length:-4]))
        return messages

    @staticmethod
    def _headers(data):
        headers, at = {}, 0
        while at < len(data):
            name_length = data[at]
            name = data[at + 1:at + 1 + name_length].decode()
            at += 1 + name_length
            kind = data[at]
            at += 1
            if kind != 7:
                raise FrameError("header %s has type %d, expected 7 (string)" % (name, kind))
            (value_length,) = struct.unpack(">H", data[at:at + 2])
            headers[name] = data[at + 2:at + 2 + value_length].decode()
            at += 2 + value_length
        return headers


def encode_message(headers, payload):
    """The encoder for the decoder's own test (and nothing else)."""
    encoded = b"".join(struct.pack(">B", len(n)) + n.encode() + b"\x07"
                       + struct.pack(">H", len(v)) + v.encode() for n, v in headers.items())
    prelude = struct.pack(">II", 16 + len(encoded) + len(payload), len(encoded))
    body = prelude + struct.pack(">I", zlib.crc32(prelude)) + encoded + payload
    return body + struct.pack(">I", zlib.crc32(body))


class StreamingInvocation:
    """A streaming invocation read message by message as the bytes arrive."""

    def __init__(self, emu, name, event, path=STREAMING_PATH, headers=None, timeout=10):
        self.response = RawResponse(emu.port, "POST", path % name, json.dumps(event).encode(),
                                    headers, timeout)
        self.decoder = EventStreamDecoder()
        self.pending = []

    def next_message(self):
        while not self.pending:
            piece = self.response.next_piece()
            if piece is None:
                if self.decoder.buffer:
                    raise AssertionError("%d bytes after the last whole message"
                                         % len(self.decoder.buffer))
                return None
            self.pending.extend(self.decoder.feed(piece))
        return self.pending.pop(0)

    def all_messages(self):
        messages = []
        while True:
            message = self.next_message()
            if message is None:
                return messages
            messages.append(message)

    def close(self):
        self.response.close()


class DecoderSelfTest(unittest.TestCase):
    """The decoder used below must be able to say no."""

    def test_round_trip_in_small_pieces(self):
        data = encode_message({":event-type": "PayloadChunk"}, b"abc") \
            + encode_message({":event-type": "InvokeComplete"}, b"{}")
        decoder, messages = EventStreamDecoder(), []
        for index in range(len(data)):
            messages.extend(decoder.feed(data[index:index + 1]))
        self.assertEqual(messages, [({":event-type": "PayloadChunk"}, b"abc"),
                                    ({":event-type": "InvokeComplete"}, b"{}")])

    def test_damaged_messages_are_refused(self):
        good = encode_message({":event-type": "PayloadChunk"}, b"payload")
        payload_flipped = good[:-6] + bytes([good[-6] ^ 1]) + good[-5:]
        with self.assertRaisesRegex(FrameError, "message CRC"):
            EventStreamDecoder().feed(payload_flipped)
        length_flipped = bytes([good[0] ^ 1]) + good[1:]
        with self.assertRaisesRegex(FrameError, "prelude CRC"):
            EventStreamDecoder().feed(length_flipped)


class StreamingTestCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.emu = Emulator(*stream_function_argv(), flags=["--timeout", "30"])
        cls.addClassCleanup(cls.emu.stop)
        cls.scratch = tempfile.mkdtemp(prefix="clc-stream-")
        cls.addClassCleanup(shutil.rmtree, cls.scratch, True)

    def stream(self, event, name="streamer", **kwargs):
        invocation = StreamingInvocation(self.emu, name, event, **kwargs)
        self.addCleanup(invocation.close)
        return invocation

    def assertPayloadChunk(self, message, payload):
        headers, data = message
        self.assertEqual(headers, {":event-type": "PayloadChunk", ":message-type": "event",
                                   ":content-type": "application/octet-stream"})
        self.assertEqual(data, payload)

    def assertInvokeComplete(self, message):
        headers, data = message
        self.assertEqual(headers[":event-type"], "InvokeComplete")
        self.assertEqual(headers[":message-type"], "event")
        self.assertEqual(headers[":content-type"], "application/json")
        return json.loads(data)


class StreamingInvoke(StreamingTestCase):
    def test_first_chunk_arrives_before_the_function_writes_the_last(self):
        gate = os.path.join(self.scratch, "gate-first")
        invocation = self.stream({"mode": "stream", "chunks": ["first ", "second ", "last"],
                                  "gate": gate, "gate_timeout": 20}, timeout=8)
        response = invocation.response
        self.assertEqual(response.status, 200)
        self.assertEqual(response.headers["content-type"], "application/vnd.amazon.eventstream")
        self.assertEqual(response.headers["x-amzn-remapped-content-type"],
                         "application/octet-stream")
        self.assertTrue(response.chunked, "a streamed answer must be chunked")
        self.assertRegex(response.headers["x-amzn-requestid"], r"^[0-9a-f-]{36}$")
        # The function holds its last chunk until the gate file exists: these two messages can
        # only come now if the emulator forwards chunks as they are written (the socket
        # timeout, 8 s, is well below the function's 20 s wait).
        self.assertPayloadChunk(invocation.next_message(), b"first ")
        self.assertPayloadChunk(invocation.next_message(), b"second ")
        self.assertFalse(os.path.exists(gate))
        with open(gate, "w"):
            pass
        self.assertPayloadChunk(invocation.next_message(), b"last[gate opened]")
        self.assertEqual(self.assertInvokeComplete(invocation.next_message()), {})
        self.assertIsNone(invocation.next_message())

    def test_chunks_keep_their_bytes_and_order(self):
        chunks = ["x" * 100000, "é ü 中", "", "tail"]
        messages = self.stream({"mode": "stream", "chunks": chunks}).all_messages()
        payloads = [data for headers, data in messages[:-1]]
        self.assertEqual(b"".join(payloads), "".join(chunks).encode())
        # An empty write is no message.
        self.assertNotIn(b"", payloads)
        for message in messages[:-1]:
            self.assertEqual(message[0][":event-type"], "PayloadChunk")
        self.assertEqual(self.assertInvokeComplete(messages[-1]), {})

    def test_error_in_trailers_becomes_invoke_complete_error(self):
        invocation = self.stream({"mode": "stream_error", "chunks": ["partial "],
                                  "error_type": "Stream.Broke",
                                  "error_message": "the stream broke halfway"})
        messages = invocation.all_messages()
        self.assertEqual(len(messages), 2, messages)
        self.assertPayloadChunk(messages[0], b"partial ")
        complete = self.assertInvokeComplete(messages[1])
        self.assertEqual(complete["ErrorCode"], "Stream.Broke")
        self.assertIn("the stream broke halfway", complete["ErrorDetails"])

    def test_buffered_function_on_the_streaming_route(self):
        invocation = self.stream({"mode": "buffered", "tag": "whole"})
        messages = invocation.all_messages()
        self.assertEqual(len(messages), 2, messages)
        answer = json.loads(messages[0][1])
        self.assertEqual(answer["event"], {"mode": "buffered", "tag": "whole"})
        self.assertEqual(answer["next_headers"]["lambda-runtime-aws-request-id"],
                         invocation.response.headers["x-amzn-requestid"])
        self.assertEqual(self.assertInvokeComplete(messages[1]), {})

    def test_function_error_on_the_streaming_route(self):
        messages = self.stream({"mode": "fail", "error_type": "Plain.Failure",
                                "error_message": "no stream at all"}).all_messages()
        self.assertEqual(len(messages), 1, messages)
        complete = self.assertInvokeComplete(messages[0])
        self.assertEqual(complete["ErrorCode"], "Plain.Failure")
        self.assertIn("no stream at all", complete["ErrorDetails"])

    def test_original_spelling_of_the_route(self):
        messages = self.stream({"mode": "stream", "chunks": ["a", "b"]},
                               path="/2015-03-31/functions/%s/response-streaming-invocations"
                               ).all_messages()
        self.assertEqual([data for _, data in messages[:-1]], [b"a", b"b"])

    def test_log_tail_in_invoke_complete(self):
        marker = "streamed-log-%d" % time.monotonic_ns()
        # settle: output (a pipe) and answer (a socket) reach the emulator apart, and a line
        # written just before the answer can still be in the pipe; this checks the tail itself.
        invocation = self.stream({"mode": "print", "lines": [marker], "settle": 0.2},
                                 headers={"X-Amz-Log-Type": "Tail"})
        complete = self.assertInvokeComplete(invocation.all_messages()[-1])
        log = base64.b64decode(complete["LogResult"]).decode()
        self.assertIn(marker, log)
        self.assertIn("END RequestId: " + invocation.response.headers["x-amzn-requestid"], log)


class BufferedInvokeOfStreamingFunction(StreamingTestCase):
    def test_whole_body_with_the_streams_content_type(self):
        status, headers, body = self.emu.invoke("streamer", {
            "mode": "stream", "chunks": ["one ", "two ", "three"], "pause": 0.05,
            "content_type": "text/plain; charset=utf-8"})
        self.assertEqual(status, 200)
        self.assertEqual(body, b"one two three")
        self.assertEqual(headers["content-type"], "text/plain; charset=utf-8")
        self.assertNotIn("x-amz-function-error", headers)

    def test_error_in_trailers_is_a_function_error(self):
        status, headers, body = self.emu.invoke("streamer", {
            "mode": "stream_error", "chunks": ["lost"], "error_type": "Stream.Broke",
            "error_message": "broken"})
        self.assertEqual(status, 200)
        self.assertEqual(headers["x-amz-function-error"], "Unhandled")
        self.assertEqual(json.loads(body), {"errorType": "Stream.Broke", "errorMessage": "broken"})


def aws_cli_has_streaming():
    """Whether this awscli knows invoke-with-response-stream (Debian's 2.9 does not)."""
    if not os.path.exists(AWS):
        return False, "%s is not installed" % AWS
    probe = subprocess.run([AWS, "lambda", "invoke-with-response-stream", "help"],
                           env={"PATH": "/usr/bin:/bin", "AWS_CONFIG_FILE": "/dev/null",
                                "HOME": tempfile.gettempdir(), "PAGER": "cat"},
                           capture_output=True, timeout=60)
    if probe.returncode != 0:
        version = subprocess.run([AWS, "--version"], capture_output=True, timeout=60)
        return False, "%s has no 'lambda invoke-with-response-stream' (%s)" % (
            AWS, (version.stdout or version.stderr).decode().strip())
    return True, ""


class AwsCliStreaming(StreamingTestCase):
    def test_invoke_with_response_stream(self):
        available, reason = aws_cli_has_streaming()
        if not available:
            print("skipped: %s" % reason, file=sys.stderr)
            self.skipTest(reason)
        env = {"PATH": "/usr/bin:/bin", "HOME": self.scratch, "AWS_ACCESS_KEY_ID": "AKIDTEST",
               "AWS_SECRET_ACCESS_KEY": "test-secret", "AWS_DEFAULT_REGION": "us-east-1",
               "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": "/dev/null",
               "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_PAGER": ""}
        result = subprocess.run(
            [AWS, "lambda", "invoke-with-response-stream", "--endpoint-url",
             self.emu.url(""), "--cli-binary-format", "raw-in-base64-out", "--function-name",
             "streamer", "--payload", json.dumps({"mode": "stream", "chunks": ["p1", "p2"]}),
             os.path.join(self.scratch, "streamed.out")],
            env=env, capture_output=True, timeout=60)
        self.assertEqual(result.returncode, 0, result.stderr)
        with open(os.path.join(self.scratch, "streamed.out"), "rb") as handle:
            self.assertEqual(handle.read(), b"p1p2")


if __name__ == "__main__":
    unittest.main()
