"""End-to-end tests of lambda.http: the binary runs lua/http_probe.lua against loopback
servers (testserver.py) and the tests compare what the server received with what was asked,
and what the script got back with what the server sent.

lambda.http has two engines: its own for plain http to loopback, libcurl for the rest. The
loopback tests run twice, the second time with CARGO_LAMBDA_HTTP=curl, which sends every
request through libcurl: both engines must send the same bytes and read the same answers."""

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from certs import make_certs  # noqa: E402
from testserver import TestServer  # noqa: E402

BIN = os.environ.get("CARGO_LAMBDA_BIN")
PROBE = os.path.join(HERE, "lua", "http_probe.lua")
# A DNS label may have at most 63 characters, so the resolver fails on this name without
# sending a query: the tests stay on loopback.
UNRESOLVABLE = "a" * 64 + ".invalid"
PROXY_VARIABLES = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
                   "ALL_PROXY", "no_proxy", "NO_PROXY", "CARGO_LAMBDA_HTTP")
# Set by ProbesThroughCurl for the tests of its subclasses.
ENGINE_ENV = {}


def probe(spec, env=None, timeout=60):
    """Runs the probe with spec; returns (decoded output, seconds the process took)."""
    if not BIN:
        raise unittest.SkipTest("CARGO_LAMBDA_BIN is not set (run through ctest)")
    environment = {k: v for k, v in os.environ.items() if k not in PROXY_VARIABLES}
    environment.update(ENGINE_ENV)
    environment.update(env or {})
    started = time.monotonic()
    result = subprocess.run([BIN, "run", PROBE, json.dumps(spec)], cwd=HERE, env=environment,
                            stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    took = time.monotonic() - started
    if result.returncode != 0:
        raise AssertionError("probe exited with %d\nstdout: %s\nstderr: %s" % (
            result.returncode, result.stdout.decode(errors="replace"),
            result.stderr.decode(errors="replace")))
    return json.loads(result.stdout), took


def request(**opts):
    """http.request(opts); returns the response table, failing the test on nil, message."""
    out, _ = probe({"request": opts})
    if not out.get("ok"):
        raise AssertionError("request failed: %r" % (out,))
    return out["response"]


def failure(**opts):
    """http.request(opts), which must return nil, message, kind; returns the output."""
    out, _ = probe({"request": opts})
    if out.get("ok") is not False or out.get("response_type") != "nil":
        raise AssertionError("expected nil, message, kind; got %r" % (out,))
    return out


def unused_port(host):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class RequestTests(unittest.TestCase):
    def setUp(self):
        self.server = TestServer(host="127.0.0.1").start()
        self.addCleanup(self.server.stop)

    def only_request(self):
        requests = self.server.requests
        self.assertEqual(len(requests), 1, requests)
        return requests[0]

    def test_get_sends_only_host_and_accept(self):
        self.server.respond(200, {"Content-Type": "text/plain"}, "hello")
        response = request(url=self.server.url("/path?q=1"))
        self.assertEqual(response["status"], 200)
        self.assertEqual(response["body"], "hello")
        received = self.only_request()
        self.assertEqual((received.method, received.path), ("GET", "/path?q=1"))
        self.assertEqual(received.headers, [("Host", "127.0.0.1:%d" % self.server.port),
                                            ("Accept", "*/*")])

    def test_post_body_without_curl_additions(self):
        request(method="POST", url=self.server.url("/invoke"), body='{"a": 1}')
        received = self.only_request()
        self.assertEqual(received.method, "POST")
        self.assertEqual(received.body, b'{"a": 1}')
        self.assertEqual(received.header("Content-Length"), "8")
        self.assertIsNone(received.header("Content-Type"))
        self.assertIsNone(received.header("Expect"))
        self.assertIsNone(received.header("User-Agent"))

    def test_post_empty_body_has_zero_length(self):
        request(method="POST", url=self.server.url(), body="")
        received = self.only_request()
        self.assertEqual(received.header("Content-Length"), "0")
        self.assertEqual(received.body, b"")

    def test_caller_content_type_and_user_agent_are_sent_once(self):
        request(method="POST", url=self.server.url(), body="{}",
                headers={"Content-Type": "application/json", "User-Agent": "probe/1"})
        received = self.only_request()
        self.assertEqual(received.header_all("Content-Type"), ["application/json"])
        self.assertEqual(received.header_all("User-Agent"), ["probe/1"])

    def test_put_large_binary_body_both_ways(self):
        # 6 MB+ with NUL bytes: more than curl's Expect threshold, and not a C string.
        upload = (b"\x00\x01binary\xff\x00" * 700_000)[: 6 * 1024 * 1024 + 7]
        download = os.urandom(6 * 1024 * 1024 + 13) + b"\x00tail\x00"
        self.server.respond(200, {"Content-Type": "application/octet-stream"}, download)
        with tempfile.TemporaryDirectory() as directory:
            body_file = os.path.join(directory, "upload")
            response_file = os.path.join(directory, "download")
            with open(body_file, "wb") as out:
                out.write(upload)
            out, _ = probe({"request": {"method": "PUT", "url": self.server.url("/big")},
                            "body_file": body_file, "response_body_file": response_file})
            self.assertTrue(out["ok"], out)
            with open(response_file, "rb") as received_file:
                self.assertEqual(received_file.read(), download)
        self.assertEqual(out["response"]["body_length"], len(download))
        received = self.only_request()
        self.assertEqual(received.method, "PUT")
        self.assertEqual(len(received.body), len(upload))
        self.assertEqual(received.body, upload)
        self.assertIsNone(received.header("Expect"))
        self.assertIsNone(received.header("Content-Type"))

    def test_headers_map(self):
        request(url=self.server.url(), headers={"X-One": "1", "x-two": "two words"})
        received = self.only_request()
        self.assertEqual(received.header_all("X-One"), ["1"])
        self.assertEqual(received.header_all("x-two"), ["two words"])
        self.assertIn(("x-two", "two words"), received.headers)  # name spelled as given

    def test_header_list_keeps_order_and_duplicates(self):
        request(url=self.server.url(),
                headers=[["X-B", "1"], ["X-A", "2"], ["X-B", "3"], ["X-Empty", ""]])
        extra = [h for h in self.only_request().headers if h[0].startswith("X-")]
        self.assertEqual(extra, [("X-B", "1"), ("X-A", "2"), ("X-B", "3"), ("X-Empty", "")])

    def test_response_headers_map_and_list(self):
        self.server.respond(200, [("X-Rep", "a"), ("Content-Type", "text/plain"),
                                  ("X-Rep", "b"), ("X-Folded", "first\r\n  second")], "ok")
        response = request(url=self.server.url())
        self.assertEqual(response["header_list"], [
            ["X-Rep", "a"], ["Content-Type", "text/plain"], ["X-Rep", "b"],
            ["X-Folded", "first second"], ["Content-Length", "2"]])
        self.assertEqual(response["headers"], {
            "x-rep": "a, b", "content-type": "text/plain", "x-folded": "first second",
            "content-length": "2"})

    def test_error_statuses_are_answers(self):
        for status, body in ((200, "fine"), (404, "no such function"), (500, "boom")):
            with self.subTest(status=status):
                self.server.respond(status, {}, body)
                response = request(url=self.server.url())
                self.assertEqual((response["status"], response["body"]), (status, body))

    def test_other_methods(self):
        for method in ("DELETE", "PATCH", "OPTIONS"):
            with self.subTest(method=method):
                request(method=method, url=self.server.url(), body="x")
                self.assertEqual(self.server.requests[-1].method, method)
                self.assertEqual(self.server.requests[-1].body, b"x")

    def test_head_does_not_wait_for_the_announced_body(self):
        self.server.respond(200, {"Content-Length": "1000"}, b"")
        response = request(method="HEAD", url=self.server.url(), timeout=5)
        self.assertEqual((response["status"], response["body"]), (200, ""))
        self.assertEqual(response["headers"]["content-length"], "1000")
        self.assertEqual(self.only_request().method, "HEAD")

    def test_timing_and_peer(self):
        before = time.monotonic()  # CLOCK_MONOTONIC, the clock of received_at
        response = request(url=self.server.url())
        after = time.monotonic()
        self.assertEqual(response["primary_ip"], "127.0.0.1")
        self.assertEqual(response["primary_port"], self.server.port)
        self.assertGreater(response["elapsed"], 0)
        self.assertGreater(response["connect_elapsed"], 0)
        self.assertLessEqual(response["connect_elapsed"], response["elapsed"])
        self.assertLess(before, response["received_at"] - response["elapsed"])
        self.assertLess(response["received_at"], after)
        self.assertNotIn("request_head", response)

    def test_trace_gives_the_exact_head_sent(self):
        response = request(method="POST", url=self.server.url("/t"), body="abc", trace=True,
                           headers=[["X-Trace", "yes"], ["Content-Type", "text/plain"]])
        received = self.only_request()
        expected = "POST /t HTTP/1.1\r\n" + "".join(
            "%s: %s\r\n" % header for header in received.headers) + "\r\n"
        self.assertEqual(response["request_head"], expected)
        self.assertIn("X-Trace: yes\r\n", expected)

    def test_repeated_requests_share_one_connection(self):
        for body in ("one", "two", "three"):
            self.server.respond(200, {}, body)
        out, _ = probe({"request": {"url": self.server.url("/k")}, "repeat": 3, "each": True})
        self.assertEqual([each["body"] for each in out["each"]], ["one", "two", "three"])
        peers = {request.peer for request in self.server.requests}
        self.assertEqual(len(self.server.requests), 3)
        self.assertEqual(len(peers), 1, "kept alive: one connection for all three")

    def test_many_requests_are_quick(self):
        # A stall per request (Expect, a slow address fallback) would show up here.
        with tempfile.NamedTemporaryFile() as body_file:
            body_file.write(b"x" * 2_000_000)
            body_file.flush()
            out, took = probe({"request": {"url": "http://localhost:%d/" % self.server.port,
                                           "method": "POST"},
                               "body_file": body_file.name, "repeat": 20})
        self.assertTrue(out["ok"], out)
        self.assertEqual(len(self.server.requests), 20)
        self.assertLess(took, 4.0)


class AddressTests(unittest.TestCase):
    def check(self, server_host, url_host, expected_ip):
        with TestServer(host=server_host) as server:
            server.respond(200, {}, "from " + server_host)
            response = request(url="http://%s:%d/a" % (url_host, server.port))
            self.assertEqual(response["body"], "from " + server_host)
            self.assertEqual(response["primary_ip"], expected_ip)
            self.assertEqual(len(server.requests), 1)
            self.assertLess(response["elapsed"], 1.0)

    def test_ipv4_literal(self):
        self.check("127.0.0.1", "127.0.0.1", "127.0.0.1")

    def test_ipv6_literal(self):
        self.check("::1", "[::1]", "::1")

    def test_localhost_reaches_ipv6_only_server(self):
        self.check("::1", "localhost", "::1")

    def test_localhost_reaches_ipv4_only_server(self):
        self.check("127.0.0.1", "localhost", "127.0.0.1")


class FailureTests(unittest.TestCase):
    def test_connection_refused_names_the_url(self):
        for host, url_host in (("127.0.0.1", "127.0.0.1"), ("::1", "[::1]"),
                               ("127.0.0.1", "localhost")):
            with self.subTest(host=url_host):
                url = "http://%s:%d/x" % (url_host, unused_port(host))
                out = failure(url=url)
                self.assertEqual((out["kind"], out["detail"]), ("transport", "refused"))
                self.assertEqual(out["message"], url + ": connection refused")

    def test_timeout_within_the_time_set(self):
        with TestServer() as server:
            server.respond(200, {}, "late", delay=10)
            url = server.url("/slow")
            started = time.monotonic()
            out = failure(url=url, timeout=1)
            took = time.monotonic() - started
        self.assertEqual(out["kind"], "timeout")
        self.assertEqual(out["message"], url + ": timed out after 1 s")
        self.assertGreaterEqual(took, 0.9)
        self.assertLess(took, 4)

    def test_connect_timeout(self):
        # A listener whose accept queue is full drops new SYNs, so connecting hangs.
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen(0)
            port = listener.getsockname()[1]
            queued = []
            self.addCleanup(lambda: [sock.close() for sock in queued])
            for _ in range(4):
                sock = socket.socket()
                sock.setblocking(False)
                sock.connect_ex(("127.0.0.1", port))
                queued.append(sock)
            with socket.socket() as check:
                check.settimeout(0.3)
                if check.connect_ex(("127.0.0.1", port)) == 0:
                    self.skipTest("this kernel accepts connections beyond the listen backlog")
            url = "http://127.0.0.1:%d/" % port
            started = time.monotonic()
            out = failure(url=url, connect_timeout=0.5, timeout=5)
            took = time.monotonic() - started
        self.assertEqual(out["kind"], "timeout")
        self.assertEqual(out["message"], url + ": connect timed out after 0.5 s")
        self.assertLess(took, 3)

    def test_fractional_timeout(self):
        with TestServer() as server:
            server.respond(delay=10)
            out = failure(url=server.url(), timeout=0.3)
        self.assertEqual(out["message"], server.url() + ": timed out after 0.3 s")

    def test_server_closing_without_answer(self):
        with TestServer() as server:
            server.respond(close=True)
            out = failure(method="POST", url=server.url("/c"), body="payload")
            self.assertEqual(server.requests[0].body, b"payload")
        self.assertEqual(out["kind"], "transport")
        self.assertTrue(out["message"].startswith(server.url("/c") + ": "), out)
        self.assertIn("empty reply", out["message"])

    def test_unresolvable_host(self):
        url = "http://%s/" % UNRESOLVABLE
        out = failure(url=url, timeout=20)
        self.assertEqual((out["kind"], out["detail"]), ("transport", "resolve"))
        self.assertTrue(out["message"].startswith(url + ": "), out)

    def test_a_url_that_cannot_be_sent_is_input(self):
        """Refused before anything is sent, whichever engine would have taken it, naming the
        URL; the detail is the field at fault."""
        cases = [
            ("ftp//x", "ftp//x: not an absolute URL (scheme://host/path expected)"),
            ("file:///etc/passwd", "file:///etc/passwd: scheme must be http or https"),
            ("http://127.0.0.1:99999/", "http://127.0.0.1:99999/: port is out of range"),
            ("http://user@127.0.0.1/",
             "http://user@127.0.0.1/: user information (user@host) is not supported"),
        ]
        for url, message in cases:
            with self.subTest(url=url):
                out = failure(url=url)
                self.assertEqual((out["message"], out["kind"], out["detail"]),
                                 (message, "input", "url"))

    def test_a_url_libcurl_refuses_is_input(self):
        # A space in the path: common/url.c leaves the path to the engine, libcurl refuses it.
        url = "http://%s/a b" % UNRESOLVABLE
        out = failure(url=url)
        self.assertEqual((out["kind"], out["detail"]), ("input", "url"))
        self.assertTrue(out["message"].startswith(url + ": "), out)

    def test_proxy_from_environment_skips_loopback(self):
        with TestServer() as server:
            proxy = "http://127.0.0.1:%d" % unused_port("127.0.0.1")
            out, _ = probe({"request": {"url": server.url()}},
                           env={"http_proxy": proxy, "HTTPS_PROXY": proxy})
            self.assertTrue(out["ok"], out)
            self.assertEqual(len(server.requests), 1)

    def test_proxy_from_environment_still_used_for_other_hosts(self):
        with TestServer() as proxy:
            proxy.respond(200, {}, "via proxy")
            out, _ = probe({"request": {"url": "http://function.invalid/run"}},
                           env={"http_proxy": proxy.url().rstrip("/")})
            self.assertTrue(out["ok"], out)
            self.assertEqual(out["response"]["body"], "via proxy")
            self.assertEqual(proxy.requests[0].path, "http://function.invalid/run")

    def test_user_no_proxy_still_applies(self):
        with TestServer() as proxy:
            out, _ = probe({"request": {"url": "http://%s/run" % UNRESOLVABLE, "timeout": 20}},
                           env={"http_proxy": proxy.url().rstrip("/"),
                                "no_proxy": "example.com," + UNRESOLVABLE})
            self.assertEqual((out.get("kind"), out.get("detail")), ("transport", "resolve"), out)
            self.assertEqual(proxy.requests, [])


class ArgumentTests(unittest.TestCase):
    """Wrong types and shapes are programming errors: http.request raises."""

    def raised(self, argument):
        out, _ = probe({"argument": argument})
        self.assertIn("raised", out, out)
        self.assertIn("bad argument #1", out["raised"])
        return out["raised"]

    def test_bad_arguments(self):
        url = "http://127.0.0.1:1/"
        cases = [
            ("not a table", "table expected"),
            ({}, "'url'"),
            ({"url": 5}, "'url'"),
            ({"url": url, "method": 1}, "'method'"),
            ({"url": url, "method": "GE T"}, "invalid method"),
            ({"url": url, "headers": "X: y"}, "'headers'"),
            ({"url": url, "headers": [["X-A"]]}, "header 'X-A' must have a string value"),
            ({"url": url, "headers": ["X-A: 1"]}, "headers[1]"),
            ({"url": url, "headers": {"Bad Name": "1"}}, "invalid header name 'Bad Name'"),
            ({"url": url, "headers": {"X-A:": "1"}}, "invalid header name"),
            ({"url": url, "headers": {"X-A": "1\r\nX-Injected: 1"}}, "line break"),
            ({"url": url, "headers": {"X-A": True}}, "header 'X-A'"),
            ({"url": url, "body": 5}, "'body'"),
            ({"url": url, "timeout": "soon"}, "'timeout'"),
            ({"url": url, "timeout": -1}, "'timeout'"),
            ({"url": url, "connect_timeout": []}, "'connect_timeout'"),
            ({"url": url, "tls": "yes"}, "'tls'"),
            ({"url": url, "tls": {"ca": 5}}, "'tls.ca'"),
            ({"url": url, "method": "HEAD", "body": "x"}, "HEAD"),
            # A misspelt option is not ignored.
            ({"url": url, "timout": 1}, "unknown field 'timout'"),
            ({"url": url, "tls": {"cret": "c.pem"}}, "unknown field 'tls.cret'"),
        ]
        for argument, expected in cases:
            with self.subTest(argument=argument):
                self.assertIn(expected, self.raised(argument))


class TLSTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.directory = tempfile.TemporaryDirectory()
        cls.certs = make_certs(cls.directory.name)

    @classmethod
    def tearDownClass(cls):
        cls.directory.cleanup()

    def server(self, host="127.0.0.1", require_client_cert=False):
        tls = {"certfile": self.certs["server_cert"], "keyfile": self.certs["server_key"],
               "cafile": self.certs["ca"], "require_client_cert": require_client_cert}
        server = TestServer(host=host, tls=tls).start()
        self.addCleanup(server.stop)
        return server

    def test_verified_with_the_ca(self):
        for host, url_host in (("127.0.0.1", "127.0.0.1"), ("::1", "[::1]"),
                               ("127.0.0.1", "localhost")):
            with self.subTest(host=url_host):
                server = self.server(host)
                server.respond(200, {}, "secret")
                url = "https://%s:%d/s" % (url_host, server.port)
                response = request(url=url, tls={"ca": self.certs["ca"]})
                self.assertEqual((response["status"], response["body"]), (200, "secret"))
                self.assertIsNone(server.requests[0].client_cert)

    def test_wrong_ca_fails_verification(self):
        server = self.server()
        url = server.url("/s")
        out = failure(url=url, tls={"ca": self.certs["other_ca"]})
        self.assertEqual(out["kind"], "tls")
        self.assertTrue(out["message"].startswith(url + ": TLS: certificate verify failed ("),
                        out)
        self.assertEqual(server.requests, [])

    def test_verification_is_on_without_a_ca(self):
        server = self.server()
        out = failure(url=server.url())
        self.assertEqual(out["kind"], "tls")
        self.assertEqual(server.requests, [])

    def test_missing_ca_file(self):
        server = self.server()
        missing = os.path.join(self.directory.name, "missing.pem")
        out = failure(url=server.url(), tls={"ca": missing})
        self.assertEqual(out["kind"], "tls")
        self.assertIn(missing, out["message"])
        self.assertNotIn("\n", out["message"])

    def test_client_certificate_presented(self):
        server = self.server(require_client_cert=True)
        response = request(url=server.url("/c"), tls={
            "ca": self.certs["ca"], "cert": self.certs["client_cert"],
            "key": self.certs["client_key"]})
        self.assertEqual(response["status"], 200)
        subject = dict(pair[0] for pair in server.requests[0].client_cert["subject"])
        self.assertEqual(subject["commonName"], "cargo-lambda test client")

    def test_client_certificate_required_but_missing(self):
        server = self.server(require_client_cert=True)
        out = failure(url=server.url("/c"), tls={"ca": self.certs["ca"]})
        # With TLS 1.3 the server's refusal can arrive as a TLS alert or as a closed socket.
        self.assertIn(out["kind"], ("tls", "transport"))
        self.assertTrue(out["message"].startswith(server.url("/c") + ": "), out)
        self.assertEqual(server.requests, [])


class TestServerTests(unittest.TestCase):
    """The server every e2e test relies on, driven by Python's own client."""

    def test_chunked_body_keep_alive_and_queue(self):
        import http.client
        with TestServer(host="::1") as server:
            server.respond(201, [("X-Rep", "1"), ("X-Rep", "2")], "first")
            connection = http.client.HTTPConnection("::1", server.port, timeout=10)
            self.addCleanup(connection.close)
            # An iterable body without a length: http.client sends it chunked.
            connection.request("POST", "/a", body=iter([b"ab", b"\x00c"]))
            first = connection.getresponse()
            self.assertEqual((first.status, first.read()), (201, b"first"))
            self.assertEqual(first.getheader("X-Rep"), "1, 2")
            connection.request("GET", "/b")  # same connection: keep-alive
            second = connection.getresponse()
            self.assertEqual((second.status, second.read()), (200, b""))
        self.assertEqual([(r.method, r.path, r.body) for r in server.requests],
                         [("POST", "/a", b"ab\x00c"), ("GET", "/b", b"")])
        self.assertEqual(server.requests[0].header("transfer-encoding"), "chunked")


class RawServer:
    """A loopback server that answers each request with scripted bytes, for answers
    TestServer never sends (folded headers, interim answers, truncated bodies). answers:
    (bytes to send, whether to close the connection after them[, bytes sent 20 ms later, once
    the client has read the answer]), one per request."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.connections = 0
        self.requests = 0
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def url(self, path="/"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def close(self):
        self.listener.close()

    def _serve(self):
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._answer, args=(connection,), daemon=True).start()

    def _answer(self, connection):
        try:
            self._answer_each(connection)
        except OSError:
            pass  # the client went away (a test that drops connections)

    def _answer_each(self, connection):
        with connection:
            connection.settimeout(10)
            data = b""
            while self.answers:
                while b"\r\n\r\n" not in data:
                    chunk = connection.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                head, _, data = data.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                while len(data) < length:
                    data += connection.recv(65536)
                data = data[length:]
                self.requests += 1
                answer, close, *later = self.answers.pop(0)
                connection.sendall(answer)
                if later:
                    time.sleep(0.02)
                    connection.sendall(later[0])
                if close:
                    return


class EarlyAnswerServer(RawServer):
    """Answers a first request (read whole) with 200 "one" and keeps the connection; answers
    the second after reading only its head, with 413, then reads nothing for `hold` seconds."""

    def __init__(self, hold):
        self.hold = hold
        super().__init__([])

    def _answer_each(self, connection):
        with connection:
            connection.settimeout(30)
            data = b""
            while b"\r\n\r\n" not in data:
                data += connection.recv(65536)
            head, _, data = data.partition(b"\r\n\r\n")
            length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:"))
            left = length - len(data)  # read and dropped
            data = b""
            while left > 0:
                chunk = connection.recv(min(left, 1 << 20))
                if not chunk:
                    return
                left -= len(chunk)
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none")
            while b"\r\n\r\n" not in data:
                data += connection.recv(65536)
            connection.sendall(b"HTTP/1.1 413 Too Large\r\nContent-Length: 0\r\n\r\n")
            time.sleep(self.hold)


class ResponseFormTests(unittest.TestCase):
    """Answers in the forms HTTP/1.1 allows, read the same way by both engines."""

    def exchange(self, answers, repeat=1, method="GET", pause=0, task=False, fds=False):
        server = RawServer(answers)
        self.addCleanup(server.close)
        out, _ = probe({"request": {"url": server.url("/r"), "method": method},
                        "repeat": repeat, "each": True, "pause": pause, "task": task,
                        "fds": fds})
        return server, out

    def test_chunked_body_with_extensions_and_trailers(self):
        _, out = self.exchange([(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                                 b"X-A: 1\r\n\r\n3;name=value\r\nabc\r\n2\r\n\x00d\r\n"
                                 b"0\r\nX-Trailer: t\r\n\r\n", False)])
        self.assertTrue(out["ok"], out)
        self.assertEqual(out["response"]["body"], "abc\u0000d")
        self.assertEqual(out["response"]["headers"],
                         {"transfer-encoding": "chunked", "x-a": "1"})

    def test_folded_header_is_joined_with_one_space(self):
        _, out = self.exchange([(b"HTTP/1.1 200 OK\r\nX-Fold: one\r\n   two\r\n"
                                 b"Content-Length: 2\r\n\r\nok", False)])
        self.assertEqual(out["response"]["headers"]["x-fold"], "one two")
        self.assertEqual(out["response"]["header_list"],
                         [["X-Fold", "one two"], ["Content-Length", "2"]])

    def test_interim_answer_is_skipped(self):
        _, out = self.exchange([(b"HTTP/1.1 100 Continue\r\nX-Interim: 1\r\n\r\n"
                                 b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok",
                                 False)])
        self.assertEqual(out["response"]["status"], 201)
        self.assertEqual(out["response"]["body"], "ok")
        self.assertEqual(out["response"]["headers"], {"content-length": "2"})

    def test_body_up_to_the_close(self):
        _, out = self.exchange([(b"HTTP/1.1 200 OK\r\nX-B: 1\r\n\r\nall of it", True)])
        self.assertEqual(out["response"]["body"], "all of it")

    def test_head_answer_has_no_body_whatever_its_length(self):
        server, out = self.exchange([(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", False),
                                     (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", False)],
                                    repeat=2, method="HEAD")
        self.assertEqual(out["each"], [{"status": 200, "body": ""}] * 2)
        self.assertEqual(server.connections, 1)

    def test_http_1_0_answer_closes_the_connection(self):
        server, out = self.exchange([(b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\none", True),
                                     (b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\ntwo", True)],
                                    repeat=2)
        self.assertEqual([each["body"] for each in out["each"]], ["one", "two"])
        self.assertEqual(server.connections, 2)

    def test_connection_the_server_closed_while_idle_is_replaced(self):
        # Kept alive by the answer, then closed by the server: the next request must not
        # fail for it, whether it comes at once (the plain engine takes a connection given
        # back under 10 ms ago without checking it, and sends again on a new one when the
        # first turns out closed) or later (checked before use; from a task, dropped as soon
        # as the loop sees it close).
        for task in (False, True):
            for pause in (0, 0.2):
                with self.subTest(task=task, pause=pause):
                    server, out = self.exchange(
                        [(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none", True),
                         (b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\ntwo", False)],
                        repeat=2, pause=pause, task=task)
                    self.assertEqual(out["each"], [{"status": 200, "body": "one"},
                                                   {"status": 200, "body": "two"}])
                    self.assertEqual(server.connections, 2)

    def test_connection_given_bytes_while_idle_is_not_reused(self):
        # Stray bytes after a whole answer, arriving while the connection sits idle: read as
        # the start of the next answer, they would corrupt it; the connection must be
        # dropped instead.
        for task in (False, True):
            with self.subTest(task=task):
                server, out = self.exchange(
                    [(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none", False,
                      b"HTTP/1.1 500 Stray\r\nContent-Length: 0\r\n\r\n"),
                     (b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\ntwo", False)],
                    repeat=2, pause=0.2, task=task)
                self.assertEqual(out["each"], [{"status": 200, "body": "one"},
                                               {"status": 200, "body": "two"}])
                self.assertEqual(server.connections, 2)

    def test_in_a_task_a_connection_the_server_closes_while_idle_is_let_go_at_once(self):
        # The plain engine watches a kept connection on the loop: closed by the server, it is
        # closed here while the loop runs, not kept until a request finds it dead.
        _, out = self.exchange(
            [(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none", True),
             (b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\ntwo", False)],
            repeat=2, pause=0.3, task=True, fds=True)
        before_first, before_second, after = out["open_fds"]
        self.assertEqual(before_second, before_first, out)
        self.assertEqual(after, before_first + 1, out)  # the second connection, kept

    def test_a_kept_connection_waiting_to_send_does_not_spin_on_an_early_answer(self):
        # The server answers the second request (413) after reading its head and reads no
        # more: the client, unable to send the rest of the body, waits (CPU idle) until its
        # timeout, although the answer makes the connection readable all the while.
        server = EarlyAnswerServer(hold=3)
        self.addCleanup(server.close)
        body = os.path.join(tempfile.mkdtemp(), "body")
        self.addCleanup(os.remove, body)
        with open(body, "wb") as out:
            out.write(b"x" * (48 * 1024 * 1024))
        out, took = probe({"request": {"url": server.url("/r"), "method": "PUT",
                                       "timeout": 1.5},
                           "body_file": body, "repeat": 2, "each": True, "task": True,
                           "cpu": True})
        first, second = out["each"]
        self.assertEqual((first["status"], first["body"]), (200, "one"))
        self.assertEqual(second["kind"], "timeout", second)
        # Spinning, it took all of the 1.5 s; waiting, what filling the socket's buffers takes.
        self.assertLess(second["cpu"], 0.5, "CPU seconds while waiting 1.5 s to send")
    def test_truncated_body_is_an_error(self):
        server, out = self.exchange([(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
                                      True)])
        self.assertEqual(out["kind"], "transport")
        self.assertEqual(out["message"],
                         server.url("/r") + ": transfer closed with 7 bytes remaining to read")

    def test_malformed_answer_is_an_error(self):
        server, out = self.exchange([(b"SMTP ready\r\n\r\n", True)])
        self.assertEqual(out["kind"], "transport")
        self.assertTrue(out["message"].startswith(server.url("/r") + ": "), out)


class EngineChoiceTests(unittest.TestCase):
    """Plain loopback http never loads libcurl (the point of the plain engine: memory);
    anything else does."""

    def loaded(self, url, env=None):
        out, _ = probe({"request": {"url": url}, "maps": True}, env=env)
        self.assertTrue(out["ok"], out)
        return out["libcurl_loaded"]

    def test_loopback_http_does_not_load_libcurl(self):
        with TestServer() as server:
            self.assertFalse(self.loaded(server.url("/a?b=c")))
        with TestServer(host="::1") as server:
            self.assertFalse(self.loaded("http://[::1]:%d/" % server.port))
            self.assertFalse(self.loaded("http://localhost:%d" % server.port))

    def test_curl_engine_can_be_chosen(self):
        with TestServer() as server:
            self.assertTrue(self.loaded(server.url(), env={"CARGO_LAMBDA_HTTP": "curl"}))

    def test_dot_segments_go_to_libcurl_which_removes_them(self):
        with TestServer() as server:
            self.assertTrue(self.loaded("http://127.0.0.1:%d/a/../b/./c" % server.port))
            self.assertEqual(server.requests[0].path, "/b/c")

    def test_https_loads_libcurl(self):
        with tempfile.TemporaryDirectory() as directory:
            certs = make_certs(directory)
            tls = {"certfile": certs["server_cert"], "keyfile": certs["server_key"],
                   "cafile": certs["ca"], "require_client_cert": False}
            with TestServer(tls=tls) as server:
                out, _ = probe({"request": {"url": "https://127.0.0.1:%d/" % server.port,
                                            "tls": {"ca": certs["ca"]}}, "maps": True})
                self.assertTrue(out["ok"], out)
                self.assertTrue(out["libcurl_loaded"])


class MissingLibcurlTests(unittest.TestCase):
    """libcurl that cannot be loaded (a file that is not a library, found first through
    LD_LIBRARY_PATH under the name the binary loads): a request that needs it fails with kind
    "io", this machine's failure rather than the connection's; loopback http needs none."""

    def test_requests_that_need_libcurl_say_so(self):
        soname = os.environ.get("CLC_LIBCURL_SONAME")
        if not soname:
            self.skipTest("CLC_LIBCURL_SONAME is not set (run through ctest)")
        with tempfile.TemporaryDirectory() as directory:
            with open(os.path.join(directory, soname), "w") as broken:
                broken.write("not a library\n")
            env = {"LD_LIBRARY_PATH": directory}
            url = "https://127.0.0.1:%d/" % unused_port("127.0.0.1")
            out, _ = probe({"request": {"url": url}}, env=env)
            self.assertEqual(out.get("kind"), "io", out)
            self.assertIsNone(out.get("detail"), out)
            self.assertTrue(out["message"].startswith(url + ": cannot load libcurl: "), out)
            self.assertIn(soname, out["message"])
            with TestServer() as server:
                server.respond(200, {}, "plain")
                out, _ = probe({"request": {"url": server.url()}}, env=env)
                self.assertEqual(out["response"]["body"], "plain", out)


class ProbesThroughCurl:
    """Mixed into a test class: its tests again, with every request sent by libcurl. (probe()
    is a module function, so this sets ENGINE_ENV rather than overriding env() as
    harness.ThroughCurl does.)"""

    def setUp(self):
        ENGINE_ENV["CARGO_LAMBDA_HTTP"] = "curl"
        self.addCleanup(ENGINE_ENV.clear)
        super().setUp()


class CurlRequestTests(ProbesThroughCurl, RequestTests):
    pass


class CurlAddressTests(ProbesThroughCurl, AddressTests):
    pass


class CurlFailureTests(ProbesThroughCurl, FailureTests):
    pass


class CurlResponseFormTests(ProbesThroughCurl, ResponseFormTests):
    def test_connection_given_bytes_while_idle_is_not_reused(self):
        self.skipTest("libcurl (7.88) reuses such a connection and reads the stray bytes as "
                      "the next answer; only the plain engine checks")

    def test_in_a_task_a_connection_the_server_closes_while_idle_is_let_go_at_once(self):
        self.skipTest("libcurl keeps its idle connections off the loop; only the plain engine "
                      "watches them")

    def test_a_kept_connection_waiting_to_send_does_not_spin_on_an_early_answer(self):
        self.skipTest("libcurl sends a large PUT with Expect: 100-continue and waits for it; "
                      "the test is of the plain engine's watch")


if __name__ == "__main__":
    unittest.main()
