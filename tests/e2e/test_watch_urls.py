"""Function URLs through `watch`: /lambda-url/<fn>/path?query becomes an API Gateway v2 event
(checked field by field as the function received it), and the function's API Gateway v2
answer, buffered or streamed with a prelude, becomes the HTTP response.

Functions: fixtures/functions/url_function.lua (buffered answers, run by our Lua runtime) and
fixtures/functions/stream_function.py (streamed answers)."""

import base64
import http.client
import json
import os
import shutil
import tempfile
import time
import unittest

import test_watch_streaming as streaming
from harness import BIN
from watchharness import Emulator

URL_FUNCTION = os.path.join(streaming.SOURCE, "fixtures", "functions", "url_function.lua")
ALL_BYTES = bytes(range(256))


def get(emu, method, path, body=b"", headers=()):
    """One request with headers given as a list of pairs (so a name may repeat)."""
    connection = http.client.HTTPConnection("127.0.0.1", emu.port, timeout=30)
    try:
        connection.putrequest(method, path)
        for name, value in headers:
            connection.putheader(name, value)
        connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, [(n.lower(), v) for n, v in response.getheaders()], response.read()
    finally:
        connection.close()


def header(pairs, name):
    values = [value for key, value in pairs if key == name]
    return values[0] if len(values) == 1 else values


class BufferedAnswers(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.emu = Emulator(BIN, "run", URL_FUNCTION)
        cls.addClassCleanup(cls.emu.stop)

    def event_for(self, method, path, body=b"", headers=()):
        """The request as the function saw it, with the HTTP answer it turned into."""
        before = time.time()
        status, answer_headers, answer = get(self.emu, method, path, body, headers)
        after = time.time()
        self.assertEqual(status, 200, answer)
        received = json.loads(answer)
        event = received["event"]
        context = event["requestContext"]
        self.assertGreaterEqual(context["timeEpoch"], int(before * 1000) - 1)
        self.assertLessEqual(context["timeEpoch"], int(after * 1000) + 1)
        self.assertEqual(context["requestId"], received["request_id"])
        return event, answer_headers

    def test_get_with_query_headers_and_cookies(self):
        event, answer_headers = self.event_for(
            "GET", "/lambda-url/urlfn/some/path%20x?a=1&b=x%20y&a=2&flag",
            headers=[("X-Repeated", "one"), ("X-Repeated", "two"), ("User-Agent", "clc-test/1"),
                     ("Cookie", "c1=v1; c2=v2"), ("Accept", "text/html")])
        self.assertEqual(event["version"], "2.0")
        self.assertEqual(event["routeKey"], "$default")
        self.assertEqual(event["rawPath"], "/some/path%20x")
        self.assertEqual(event["rawQueryString"], "a=1&b=x%20y&a=2&flag")
        self.assertEqual(event["queryStringParameters"], {"a": "1,2", "b": "x y", "flag": ""})
        self.assertEqual(event["cookies"], ["c1=v1", "c2=v2"])
        headers = event["headers"]
        self.assertEqual(headers["x-repeated"], "one,two")
        self.assertEqual(headers["user-agent"], "clc-test/1")
        self.assertEqual(headers["accept"], "text/html")
        self.assertEqual(headers["host"], "127.0.0.1:%d" % self.emu.port)
        self.assertNotIn("cookie", headers)
        for name in headers:
            self.assertEqual(name, name.lower())
        http_context = event["requestContext"]["http"]
        self.assertEqual(http_context["method"], "GET")
        self.assertEqual(http_context["path"], "/some/path%20x")
        self.assertEqual(http_context["sourceIp"], "127.0.0.1")
        self.assertEqual(http_context["userAgent"], "clc-test/1")
        self.assertEqual(http_context["protocol"], "HTTP/1.1")
        self.assertRegex(event["requestContext"]["time"],
                         r"^\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000$")
        self.assertEqual(event["requestContext"]["stage"], "$default")
        self.assertFalse(event["isBase64Encoded"])
        self.assertNotIn("body", event)
        # ... and the function's answer became the HTTP response.
        self.assertEqual(header(answer_headers, "content-type"), "application/json")
        self.assertEqual(header(answer_headers, "x-function"), "url_function")
        self.assertEqual(header(answer_headers, "x-count"), "42")
        self.assertEqual(sorted(header(answer_headers, "set-cookie")),
                         ["session=abc123; Path=/; HttpOnly", "theme=dark"])

    def test_post_text_body(self):
        text = "plain text body, ünïcode"
        event, _ = self.event_for("POST", "/lambda-url/urlfn/submit", text.encode(),
                                  [("Content-Type", "text/plain; charset=utf-8")])
        self.assertEqual(event["requestContext"]["http"]["method"], "POST")
        self.assertEqual(event["body"], text)
        self.assertFalse(event["isBase64Encoded"])
        self.assertEqual(event["rawQueryString"], "")
        self.assertNotIn("queryStringParameters", event)

    def test_json_body_stays_text(self):
        event, _ = self.event_for("PUT", "/lambda-url/urlfn/items/7", b'{"k": [1, 2]}',
                                  [("Content-Type", "application/json")])
        self.assertEqual(event["requestContext"]["http"]["method"], "PUT")
        self.assertEqual(event["body"], '{"k": [1, 2]}')
        self.assertFalse(event["isBase64Encoded"])

    def test_binary_body_is_base64(self):
        event, _ = self.event_for("POST", "/lambda-url/urlfn/upload", ALL_BYTES,
                                  [("Content-Type", "application/octet-stream")])
        self.assertTrue(event["isBase64Encoded"])
        self.assertEqual(base64.b64decode(event["body"]), ALL_BYTES)

    def test_name_alone_and_with_slash_are_the_root(self):
        for path in ("/lambda-url/urlfn", "/lambda-url/urlfn/", "/lambda-url/urlfn?x=1"):
            event, _ = self.event_for("GET", path)
            self.assertEqual(event["rawPath"], "/", path)
            self.assertEqual(event["requestContext"]["http"]["path"], "/", path)
        self.assertEqual(event["rawQueryString"], "x=1")

    def test_binary_answer(self):
        status, headers, body = get(self.emu, "GET", "/lambda-url/urlfn/binary")
        self.assertEqual(status, 200)
        self.assertEqual(header(headers, "content-type"), "application/octet-stream")
        self.assertEqual(body, ALL_BYTES)

    def test_status_code_of_the_answer(self):
        for code in (201, 404, 418, 503):
            status, headers, body = get(self.emu, "GET", "/lambda-url/urlfn/status/%d" % code)
            self.assertEqual(status, code)
            self.assertEqual(body, b"status %d" % code)
            self.assertEqual(header(headers, "content-type"), "text/plain")

    def test_answer_without_status_code_is_the_body(self):
        status, headers, body = get(self.emu, "GET", "/lambda-url/urlfn/plain")
        self.assertEqual(status, 200)
        self.assertEqual(header(headers, "content-type"), "application/json")
        self.assertTrue(json.loads(body)["plain"])

    def test_function_error_is_502(self):
        status, _, body = get(self.emu, "GET", "/lambda-url/urlfn/fail")
        self.assertEqual(status, 502)
        self.assertIn(b"Internal Server Error", body)
        # The function is still there for the next request.
        status, _, _ = get(self.emu, "GET", "/lambda-url/urlfn/status/200")
        self.assertEqual(status, 200)


class StreamedAnswers(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.emu = Emulator(*streaming.stream_function_argv())
        cls.addClassCleanup(cls.emu.stop)
        cls.scratch = tempfile.mkdtemp(prefix="clc-url-")
        cls.addClassCleanup(shutil.rmtree, cls.scratch, True)

    def test_prelude_sets_status_headers_and_cookies(self):
        response = streaming.RawResponse(self.emu.port, "GET",
                                         "/lambda-url/streamer/report?status=201&chunks=3")
        self.addCleanup(response.close)
        self.assertEqual(response.status, 201)
        self.assertEqual(response.headers["content-type"], "text/plain")
        self.assertEqual(response.headers["x-streamed"], "yes")
        self.assertEqual(sorted(v for n, v in response.header_list if n == "set-cookie"),
                         ["flavour=oat; Path=/", "size=large"])
        self.assertEqual(response.read_all(), b"part 1 of 3 for /report\npart 2 of 3 for /report\n"
                         b"part 3 of 3 for /report\n")

    def test_body_arrives_as_it_is_written(self):
        gate = os.path.join(self.scratch, "gate")
        response = streaming.RawResponse(self.emu.port, "GET",
                                         "/lambda-url/streamer/slow?chunks=2&gate=" + gate,
                                         timeout=8)
        self.addCleanup(response.close)
        self.assertEqual(response.status, 200)
        self.assertTrue(response.chunked)
        # The function holds its last part until the gate exists (10 s): the first part must
        # come before that.
        received = b""
        while b"part 1 of 2" not in received:
            received += response.next_piece()
        self.assertNotIn(b"part 2", received)
        with open(gate, "w"):
            pass
        received += response.read_all()
        self.assertEqual(received, b"part 1 of 2 for /slow\npart 2 of 2 for /slow\n[gate opened]")


if __name__ == "__main__":
    unittest.main()
