"""End-to-end tests of lambda.event's HTTP server: the binary runs lua/event_server.lua and
these tests talk HTTP/1.1 to it over loopback with raw sockets (to control and observe the
bytes and their timing), http.client and ssl."""

import json
import os
import resource
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from certs import make_certs  # noqa: E402

BIN = os.environ.get("CARGO_LAMBDA_BIN")
SCRIPT = os.path.join(HERE, "lua", "event_server.lua")
SANITIZED = "ASAN_OPTIONS" in os.environ or "asan" in (BIN or "")


def has_ipv6():
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False


class Server:
    """lua/event_server.lua running with the given server configurations."""

    def __init__(self, *configs, context=None, open_files=None):
        self.context = context  # to reach a TLS server for /stop
        if not BIN:
            raise unittest.SkipTest("CARGO_LAMBDA_BIN is not set (run through ctest)")
        limit = None
        if open_files:  # soft and hard limit, so that the server cannot raise it
            def limit():
                resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, open_files))
        self.process = subprocess.Popen(
            [BIN, "run", SCRIPT, json.dumps(list(configs))], cwd=HERE, preexec_fn=limit,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.ports, self.addresses, self.failure = {}, {}, None
        for _ in configs:
            line = self.process.stdout.readline().decode().strip()
            if line.startswith("READY "):
                _, name, port, address = line.split(" ", 3)
                self.ports[name] = int(port)
                self.addresses[name] = address
            else:
                self.failure = line
                break
        self.port = self.ports.get("main")
        self.stderr = b""
        self.log = None

    def stop(self):
        """Asks the loop to stop (when it still runs); returns the exit status."""
        if self.process.poll() is None and self.port:
            try:
                conn = Conn(self.port, self.host(), self.context)
                # The loop stops before the answer is written: no answer to wait for.
                conn.send(b"GET /stop HTTP/1.1\r\nHost: t\r\n\r\n")
                conn.closed_by_server()
                conn.close()
            except OSError:
                pass
        try:
            out, self.stderr = self.process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, self.stderr = self.process.communicate()
        for line in out.decode().splitlines():
            if line.startswith("LOG "):
                self.log = json.loads(line[4:])
        return self.process.returncode

    def host(self):
        address = self.addresses.get("main", "127.0.0.1")
        return "127.0.0.1" if address in ("::", "0.0.0.0") else address


class Conn:
    """One client connection reading responses byte-exactly."""

    def __init__(self, port, host="127.0.0.1", context=None, timeout=10):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if context:
            self.sock = context.wrap_socket(self.sock, server_hostname="localhost")
        self.buffer = b""

    def close(self):
        self.sock.close()

    def __del__(self):
        if hasattr(self, "sock"):
            self.sock.close()

    def send(self, data):
        self.sock.sendall(data)

    def request(self, method, target, headers=(), body=b"", version="HTTP/1.1"):
        head = "%s %s %s\r\nHost: test\r\n" % (method, target, version)
        for name, value in headers:
            head += "%s: %s\r\n" % (name, value)
        if body or method in ("POST", "PUT"):
            head += "Content-Length: %d\r\n" % len(body)
        self.send(head.encode() + b"\r\n" + body)
        return self.response(head_only=method == "HEAD")

    def _fill(self):
        data = self.sock.recv(1 << 20)
        if not data:
            raise EOFError("connection closed by the server")
        self.buffer += data

    def read_until(self, marker):
        while marker not in self.buffer:
            self._fill()
        data, _, self.buffer = self.buffer.partition(marker)
        return data

    def read_exact(self, length):
        while len(self.buffer) < length:
            self._fill()
        data, self.buffer = self.buffer[:length], self.buffer[length:]
        return data

    def head(self):
        lines = self.read_until(b"\r\n\r\n").decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = [tuple(part.strip() for part in line.split(":", 1)) for line in lines[1:]]
        return lines[0], status, headers

    def chunk(self):
        """One chunk of a chunked body: its data (b"" for the last one)."""
        size = int(self.read_until(b"\r\n"), 16)
        data = self.read_exact(size)
        if size == 0:
            self.read_until(b"\r\n")  # no trailers
        else:
            assert self.read_exact(2) == b"\r\n"
        return data

    def response(self, head_only=False):
        status_line, status, headers = self.head()
        fields = {name.lower(): value for name, value in headers}
        if head_only or status in (204, 304) or status < 200:
            body = b""
        elif fields.get("transfer-encoding") == "chunked":
            body = b""
            while True:
                data = self.chunk()
                if not data:
                    break
                body += data
        elif "content-length" in fields:
            body = self.read_exact(int(fields["content-length"]))
        else:
            while True:
                try:
                    self._fill()
                except EOFError:
                    break
            body, self.buffer = self.buffer, b""
        return Response(status_line, status, headers, body)

    def closed_by_server(self, timeout=5):
        """Whether the server closes the connection (after any data) within timeout."""
        self.sock.settimeout(timeout)
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    return True
                self.buffer += data
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False


class Response:
    def __init__(self, status_line, status, headers, body):
        self.status_line, self.status, self.headers, self.body = status_line, status, headers, body

    def header(self, name):
        values = [v for n, v in self.headers if n.lower() == name.lower()]
        return values[0] if values else None

    def json(self):
        return json.loads(self.body)


class ServerTestCase(unittest.TestCase):
    expected_errors = 0

    def start(self, *configs, context=None, open_files=None):
        server = Server(*(configs or ({"name": "main", "address": "127.0.0.1"},)), context=context,
                        open_files=open_files)
        self.addCleanup(self.finish, server)
        if server.failure:
            self.fail("server did not start: %s" % server.failure)
        return server

    def finish(self, server):
        status = server.stop()
        stderr = server.stderr.decode(errors="replace")
        self.assertEqual(status, 0, stderr)
        self.assertEqual(stderr.count("lambda.event: error in callback:"), self.expected_errors,
                         stderr)

    def poll_log(self, server, wanted, timeout=5):
        """Reads /log until an entry starting with wanted shows up; returns all entries."""
        seen = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            conn = Conn(server.port)
            seen += conn.request("GET", "/log").json()
            conn.close()
            if any(entry.startswith(wanted) for entry in seen):
                return seen
            time.sleep(0.01)
        self.fail("log never showed %r: %r" % (wanted, seen))


class RequestTests(ServerTestCase):
    def test_request_fields(self):
        server = self.start()
        conn = Conn(server.port)
        response = conn.request("POST", "/echo/a%20b/../c?x=1&y=%2F", body=b"hello",
                                headers=[("X-Multi", "one"), ("x-multi", "two"),
                                         ("X-Spaces", "  padded  ")])
        self.assertEqual(response.status, 200)
        self.assertEqual(response.header("Content-Type"), "application/json")
        got = response.json()
        self.assertEqual(got["method"], "POST")
        self.assertEqual(got["uri"], "/echo/a%20b/../c?x=1&y=%2F")
        self.assertEqual(got["path"], "/echo/a%20b/../c")
        self.assertEqual(got["query"], "x=1&y=%2F")
        self.assertEqual(got["body"], "hello")
        self.assertEqual(got["headers"]["x-multi"], "one, two")
        self.assertEqual(got["headers"]["x-spaces"], "padded")
        self.assertEqual(got["headers"]["content-length"], "5")
        self.assertEqual(got["header_list"], [["Host", "test"], ["X-Multi", "one"],
                                              ["x-multi", "two"], ["X-Spaces", "padded"],
                                              ["Content-Length", "5"]])
        self.assertEqual(got["peer"], "127.0.0.1:%d" % conn.sock.getsockname()[1])
        self.assertIs(got["is_open"], True)
        self.assertIsNone(got["trailers"])
        # No query, an empty query, any method token, absolute form.
        got = conn.request("GET", "/echo").json()
        self.assertIsNone(got["query"])
        self.assertEqual(got["body"], "")
        self.assertEqual(conn.request("GET", "/echo?").json()["query"], "")
        self.assertEqual(conn.request("PURGE", "/echo").json()["method"], "PURGE")
        got = conn.request("GET", "http://example.test/echo/x?q").json()
        self.assertEqual((got["path"], got["query"]), ("/echo/x", "q"))

    def test_binary_body(self):
        server = self.start()
        body = bytes(range(256)) * 4000 + b"\0end"
        response = Conn(server.port).request("POST", "/raw", body=body)
        self.assertEqual(response.status, 200)
        self.assertEqual(response.body, body)

    def test_answer_from_a_timer_while_others_are_served(self):
        server = self.start()
        slow = Conn(server.port)
        started = time.monotonic()
        slow.send(b"GET /later?ms=300 HTTP/1.1\r\nHost: t\r\n\r\n")
        fast = Conn(server.port).request("GET", "/echo")
        self.assertEqual(fast.status, 200)
        self.assertLess(time.monotonic() - started, 0.25)
        response = slow.response()
        self.assertGreaterEqual(time.monotonic() - started, 0.3)
        self.assertEqual(response.body, b"later ms=300")

    def test_keep_alive_and_pipelining(self):
        server = self.start()
        conn = Conn(server.port)
        peers = {conn.request("GET", "/echo/%d" % i).json()["peer"] for i in range(5)}
        self.assertEqual(len(peers), 1)
        # Three requests in one write: answered in order, the slow one first.
        conn.send(b"GET /later?ms=100 HTTP/1.1\r\nHost: t\r\n\r\n"
                  b"POST /echo/2 HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc"
                  b"\r\nGET /echo/3 HTTP/1.1\r\nHost: t\r\n\r\n")
        self.assertEqual(conn.response().body, b"later ms=100")
        second = conn.response().json()
        self.assertEqual((second["path"], second["body"]), ("/echo/2", "abc"))
        self.assertEqual(conn.response().json()["path"], "/echo/3")
        # HTTP/1.0: closed after the answer unless keep-alive is asked for.
        old = Conn(server.port)
        response = old.request("GET", "/echo", version="HTTP/1.0")
        self.assertEqual(response.header("Connection"), "close")
        self.assertTrue(old.closed_by_server())
        old = Conn(server.port)
        response = old.request("GET", "/echo", [("Connection", "keep-alive")], version="HTTP/1.0")
        self.assertEqual(response.header("Connection"), "keep-alive")
        self.assertEqual(old.request("GET", "/echo", version="HTTP/1.0").status, 200)
        # Connection: close from a 1.1 client.
        closing = Conn(server.port)
        self.assertEqual(closing.request("GET", "/echo", [("Connection", "close")]).status, 200)
        self.assertTrue(closing.closed_by_server())

    def test_expect_continue(self):
        server = self.start()
        conn = Conn(server.port)
        conn.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n"
                  b"Expect: 100-continue\r\n\r\n")
        self.assertEqual(conn.read_until(b"\r\n\r\n"), b"HTTP/1.1 100 Continue")
        conn.send(b"body")
        self.assertEqual(conn.response().json()["body"], "body")

    def test_buffered_chunked_body_with_trailers(self):
        server = self.start()
        conn = Conn(server.port)
        conn.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                  b"4\r\nWiki\r\n6;ext=1\r\npedia \r\n0\r\n"
                  b"X-Checksum: abc\r\nx-checksum: def\r\n\r\n")
        got = conn.response().json()
        self.assertEqual(got["body"], "Wikipedia ")
        self.assertEqual(got["trailers"], {"x-checksum": "abc, def"})
        self.assertEqual(conn.request("GET", "/echo").json()["trailers"], None)


class StreamingTests(ServerTestCase):
    def test_streamed_response_arrives_incrementally(self):
        server = self.start()
        conn = Conn(server.port)
        conn.send(b"GET /stream?n=3 HTTP/1.1\r\nHost: t\r\n\r\n")
        _, status, headers = conn.head()
        self.assertEqual(status, 200)
        self.assertIn(("Transfer-Encoding", "chunked"), headers)
        self.assertIn(("X-Stream", "yes"), headers)
        self.assertNotIn("Content-Length", [name for name, _ in headers])
        # The first chunk is here before the server has even been asked for the others.
        self.assertEqual(conn.chunk(), b"chunk-1\n")
        released = Conn(server.port).request("GET", "/release")
        self.assertEqual(released.body, b"released 1")
        self.assertEqual(conn.chunk(), b"chunk-2\n")
        self.assertEqual(conn.chunk(), b"chunk-3\n")
        self.assertEqual(conn.chunk(), b"")
        # The connection is reusable after the stream.
        self.assertEqual(conn.request("GET", "/echo").status, 200)

    def test_streamed_response_to_http10_client(self):
        server = self.start()
        conn = Conn(server.port)
        conn.send(b"GET /stream?n=2 HTTP/1.0\r\n\r\n")
        _, status, headers = conn.head()
        self.assertNotIn("Transfer-Encoding", [name for name, _ in headers])
        self.assertIn(("Connection", "close"), headers)
        Conn(server.port).request("GET", "/release")
        self.assertTrue(conn.closed_by_server())
        self.assertEqual(conn.buffer, b"chunk-1\nchunk-2\n")

    def test_chunked_request_body_read_incrementally(self):
        server = self.start()
        conn = Conn(server.port)
        conn.send(b"POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
                  b"Trailer: Lambda-Runtime-Function-Error-Type\r\n\r\n"
                  b"3\r\nabc\r\n")
        self.assertIn("piece 1 3", self.poll_log(server, "piece 1"))
        conn.send(b"5\r\nde")
        self.poll_log(server, "piece 2 2")
        conn.send(b"fgh\r\n")
        self.poll_log(server, "piece 3 3")
        conn.send(b"0\r\nLambda-Runtime-Function-Error-Type: Runtime.Panic\r\n"
                  b"Lambda-Runtime-Function-Error-Body: eyJlIjoxfQ==\r\n\r\n")
        got = conn.response().json()
        self.assertEqual(got["pieces"], ["abc", "de", "fgh"])
        self.assertEqual(got["trailers"], {
            "lambda-runtime-function-error-type": "Runtime.Panic",
            "lambda-runtime-function-error-body": "eyJlIjoxfQ==",
        })
        self.assertIsNone(got["body"])
        # A Content-Length body is streamed too, and a request without a body ends at once.
        response = conn.request("POST", "/upload", body=b"0123456789")
        self.assertEqual(response.json()["pieces"], ["0123456789"])
        self.assertEqual(response.json()["trailers"], {})
        self.assertEqual(conn.request("GET", "/upload").json()["pieces"], {})

    def test_answer_before_the_streamed_body_ends(self):
        server = self.start()
        conn = Conn(server.port)
        conn.send(b"POST /upload-early HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
        response = conn.response()
        self.assertEqual((response.status, response.body), (202, b"accepted early"))
        conn.send(b"2\r\nxy\r\n0\r\n\r\n")
        self.assertEqual(conn.request("GET", "/echo").status, 200)
        log = self.poll_log(server, "end 1")
        self.assertIn("piece 1 2", log)


class CloseTests(ServerTestCase):
    def test_on_close_when_the_client_goes_away(self):
        server = self.start()
        conn = Conn(server.port)
        conn.send(b"GET /hold HTTP/1.1\r\nHost: t\r\n\r\n")
        time.sleep(0.05)
        conn.close()
        self.assertIn("closed /hold nil connection closed", self.poll_log(server, "closed /hold"))

    def test_on_close_during_a_stream(self):
        server = self.start()
        conn = Conn(server.port)
        conn.send(b"GET /stream?n=3 HTTP/1.1\r\nHost: t\r\n\r\n")
        conn.head()
        self.assertEqual(conn.chunk(), b"chunk-1\n")
        conn.close()
        self.poll_log(server, "closed /stream")
        # Going on with the stream now reports the closed connection instead of failing.
        Conn(server.port).request("GET", "/release")
        self.poll_log(server, "send_chunk: connection closed")

    def test_on_close_during_a_streamed_body(self):
        server = self.start()
        conn = Conn(server.port)
        conn.send(b"POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                  b"1\r\na\r\n")
        self.poll_log(server, "piece 1")
        conn.close()
        self.poll_log(server, "closed /upload")

    def test_server_close(self):
        server = self.start()
        held = Conn(server.port)
        held.send(b"GET /hold HTTP/1.1\r\nHost: t\r\n\r\n")
        time.sleep(0.05)
        self.assertEqual(Conn(server.port).request("GET", "/close-server").body, b"closing")
        self.assertTrue(held.closed_by_server())
        with self.assertRaises(ConnectionRefusedError):
            Conn(server.port)
        # Nothing is left to wait for: the loop ends by itself.
        self.assertEqual(server.process.wait(timeout=10), 0)
        server.stop()
        self.assertIn("closed /hold nil connection closed", server.log)


class ErrorTests(ServerTestCase):
    def test_handler_error_answers_500_and_the_server_goes_on(self):
        self.expected_errors = 1
        server = self.start()
        conn = Conn(server.port)
        response = conn.request("GET", "/error")
        self.assertEqual(response.status, 500)
        self.assertEqual(response.header("Connection"), "close")
        self.assertTrue(conn.closed_by_server())
        self.assertEqual(Conn(server.port).request("GET", "/echo").status, 200)
        server.stop()
        stderr = server.stderr.decode()
        self.assertIn("lambda.event: error in callback:", stderr)
        self.assertIn("handler failed on purpose", stderr)
        self.assertIn("stack traceback:", stderr)

    def test_request_methods_check_their_arguments(self):
        server = self.start()
        conn = Conn(server.port)
        got = conn.request("GET", "/misuse").json()
        expected = {
            "status": "status must be from 200 to 999",
            "header_name": "invalid header name 'bad name'",
            "header_value": "invalid character in the value of header 'X-Bad'",
            "header_pair": "header list entry 1 must be a {name, value} pair",
            "header_type": "header 'X' must have a string value",
            "body_type": "(string expected, got table)",
            "chunk_before_start": "the response stream has not been started",
            "finish_before_start": "the response stream has not been started",
            "on_chunk_unstreamed": "the request body is not streamed",
            "on_close_type": "(function expected, got number)",
        }
        for name, fragment in expected.items():
            self.assertIn(fragment, got[name], name)
        self.assertIs(got["still_open"], True)
        response = conn.request("GET", "/twice")
        self.assertEqual((response.status, response.body), (200, b""))
        log = self.poll_log(server, "finish_stream")
        self.assertEqual(log, ["respond false request already answered",
                               "start_stream false request already answered",
                               "send_chunk false the response is already complete",
                               "finish_stream false the response is already complete"])

    def test_malformed_requests(self):
        server = self.start({"name": "main", "address": "127.0.0.1", "max_headers": 1024})
        cases = [
            (b"NOT A REQUEST\r\n\r\n", 400),
            (b"GET / HTTP/2.0\r\n\r\n", 505),
            (b"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n", 400),
            (b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
            (b"POST / HTTP/1.1\r\nExpect: nothing\r\n\r\n", 417),
            (b"GET / HTTP/1.1\r\nX-Big: " + b"x" * 2000 + b"\r\n\r\n", 431),
            (b"GET / HTTP/1.1\r\nX-Endless: " + b"x" * 2000, 431),
            (b"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
        ]
        for request, status in cases:
            conn = Conn(server.port)
            conn.send(request)
            response = conn.response()
            self.assertEqual(response.status, status, request[:40])
            self.assertEqual(response.header("Connection"), "close")
            self.assertTrue(conn.closed_by_server(), request[:40])
        self.assertEqual(Conn(server.port).request("GET", "/echo").status, 200)

    def test_body_limits(self):
        server = self.start({"name": "main", "address": "127.0.0.1", "max_body": 1000})
        conn = Conn(server.port)
        self.assertEqual(conn.request("POST", "/raw", body=b"x" * 1000).body, b"x" * 1000)
        # Over the limit by its length: answered without reading the body, which the client
        # can still finish sending.
        conn.send(b"POST /raw HTTP/1.1\r\nHost: t\r\nContent-Length: 200000\r\n\r\n")
        conn.send(b"y" * 200000)
        self.assertEqual(conn.response().status, 413)
        self.assertTrue(conn.closed_by_server())
        # A chunked body found over the limit while arriving.
        conn = Conn(server.port)
        conn.send(b"POST /raw HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                  + b"200\r\n" + b"z" * 512 + b"\r\n" + b"200\r\n" + b"z" * 512 + b"\r\n")
        self.assertEqual(conn.response().status, 413)
        # Streamed bodies have the same limit; the handler learns the request ended.
        conn = Conn(server.port)
        conn.send(b"POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                  + b"3e8\r\n" + b"z" * 1000 + b"\r\n1\r\nz\r\n")
        self.assertEqual(conn.response().status, 413)
        self.poll_log(server, "closed /upload")

    def test_body_limit_chosen_per_request_and_answered_by_too_large(self):
        self.expected_errors = 1  # the failing max_body function at the end
        server = self.start({"name": "main", "address": "127.0.0.1", "choose_limits": True})
        conn = Conn(server.port)
        self.assertEqual(conn.request("POST", "/raw?limit=10", body=b"x" * 10).body, b"x" * 10)
        self.assertEqual(conn.request("POST", "/raw", body=b"x" * 100).body, b"x" * 100)
        # Over by its Content-Length: too_large answers before the handler sees the request;
        # the client can still send its whole body, which is thrown away.
        conn.send(b"POST /raw?limit=10 HTTP/1.1\r\nHost: t\r\nContent-Length: 300000\r\n\r\n")
        conn.send(b"y" * 300000)
        response = conn.response()
        self.assertEqual(response.status, 413)
        self.assertEqual(response.json(), {"path": "/raw", "limit": 10, "size": 300000,
                                           "handled": False})
        self.assertTrue(conn.closed_by_server())
        # With Expect: 100-continue the client is told at once and never asked for the body.
        conn = Conn(server.port)
        conn.send(b"POST /raw?limit=5 HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\n"
                  b"Expect: 100-continue\r\n\r\n")
        response = conn.response()
        self.assertEqual((response.status, response.json()["size"]), (413, 6))
        # A chunked body: too_large gets the bytes received when it passed the limit.
        conn = Conn(server.port)
        conn.send(b"POST /raw?limit=1000 HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
                  b"\r\n" + b"200\r\n" + b"z" * 512 + b"\r\n" + b"200\r\n" + b"z" * 512 + b"\r\n")
        response = conn.response()
        self.assertEqual(response.json(), {"path": "/raw", "limit": 1000, "size": 1024,
                                           "handled": False})
        # A streamed body: the handler has the request; too_large answers it, so it is not
        # reported closed, and the handler's pieces stop at the limit.
        conn = Conn(server.port)
        conn.send(b"POST /upload?limit=1000 HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked"
                  b"\r\n\r\n" + b"3e8\r\n" + b"z" * 1000 + b"\r\n1\r\nz\r\n")
        response = conn.response()
        self.assertEqual(response.json(), {"path": "/upload", "limit": 1000, "size": 1001,
                                           "handled": True})
        log = self.poll_log(server, "too_large /upload 1000 1001")
        self.assertNotIn("closed /upload", log)
        # Left unanswered by too_large: the server's own 413.
        conn = Conn(server.port)
        response = conn.request("POST", "/raw?limit=3&plain=1", body=b"abcd")
        self.assertEqual((response.status, response.body), (413, b"Content Too Large\n"))
        self.poll_log(server, "too_large /raw 3 4")
        # A max_body function that fails is the server's 500, and the server goes on.
        conn = Conn(server.port)
        self.assertEqual(conn.request("POST", "/raw?limit=bad", body=b"x").status, 500)
        self.assertEqual(Conn(server.port).request("POST", "/raw", body=b"ok").body, b"ok")
        server.stop()
        self.assertIn(b"max_body must return a byte count", server.stderr)

    def test_default_body_limit_takes_an_invoke_payload(self):
        server = self.start()
        body = b"p" * (6 * 1024 * 1024 + 100)
        self.assertEqual(Conn(server.port).request("POST", "/raw", body=body).body, body)
        conn = Conn(server.port)
        conn.send(b"POST /raw HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n"
                  % (8 * 1024 * 1024 + 1))
        self.assertEqual(conn.response().status, 413)


class ResponseTests(ServerTestCase):
    def test_response_headers(self):
        server = self.start()
        conn = Conn(server.port)
        response = conn.request("GET", "/headers")
        self.assertEqual(response.status_line, "HTTP/1.1 201 Created")
        self.assertEqual(sorted(v for n, v in response.headers if n == "Set-Cookie"),
                         ["a=1", "b=2"])
        self.assertEqual(response.header("X-Number"), "42")
        # The body's own length, whatever the script said.
        self.assertEqual(response.header("Content-Length"), "12")
        self.assertEqual(response.body, b"with headers")
        response = conn.request("GET", "/list-headers")
        self.assertEqual([h for h in response.headers if h[0].lower().startswith("x-")],
                         [("X-Order", "1"), ("x-order", "2"), ("X-Other", "3")])
        response = conn.request("GET", "/headers?connection=close")
        self.assertEqual(response.header("Connection"), "close")
        self.assertTrue(conn.closed_by_server())

    def test_bodyless_answers(self):
        server = self.start()
        conn = Conn(server.port)
        response = conn.request("HEAD", "/echo")
        self.assertEqual(response.status, 200)
        self.assertGreater(int(response.header("Content-Length")), 0)
        response = conn.request("GET", "/status?code=204")
        self.assertEqual(response.status, 204)
        self.assertIsNone(response.header("Content-Length"))
        response = conn.request("GET", "/status?code=304")
        self.assertEqual(response.status, 304)
        # Nothing extra was sent: the next answer parses.
        self.assertEqual(conn.request("GET", "/status?code=418").body, b"status body")
        self.assertEqual(conn.request("GET", "/status?code=418").status_line,
                         "HTTP/1.1 418 Unknown")


class AddressTests(ServerTestCase):
    def test_port_in_use(self):
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            server = Server({"name": "main", "address": "127.0.0.1", "port": port})
            self.assertEqual(server.failure, "FAILED main cannot listen on 127.0.0.1:%d: "
                             "Address already in use" % port)
            self.assertEqual(server.stop(), 1)
        if has_ipv6():
            with socket.socket(socket.AF_INET6) as taken:
                taken.bind(("::", 0))
                taken.listen()
                port = taken.getsockname()[1]
                server = Server({"name": "main", "address": "::", "port": port})
                self.assertEqual(server.failure, "FAILED main cannot listen on [::]:%d: "
                                 "Address already in use" % port)
                self.assertEqual(server.stop(), 1)
        server = Server({"name": "main", "address": "localhost"})
        self.assertEqual(server.failure, "FAILED main invalid address 'localhost': expected "
                         "an IPv4 or IPv6 address")
        server.stop()

    @unittest.skipUnless(has_ipv6(), "no IPv6 loopback")
    def test_dual_stack(self):
        server = self.start({"name": "main", "address": "::"})
        self.assertEqual(server.addresses["main"], "::")
        v4 = Conn(server.port, "127.0.0.1")
        self.assertEqual(v4.request("GET", "/echo").json()["peer"],
                         "127.0.0.1:%d" % v4.sock.getsockname()[1])
        v6 = Conn(server.port, "::1")
        self.assertEqual(v6.request("GET", "/echo").json()["peer"],
                         "[::1]:%d" % v6.sock.getsockname()[1])

    @unittest.skipUnless(has_ipv6(), "no IPv6 loopback")
    def test_same_port_on_both_loopbacks(self):
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
            port = probe.getsockname()[1]
        server = self.start({"name": "main", "address": "127.0.0.1", "port": port},
                            {"name": "six", "address": "[::1]", "port": port})
        self.assertEqual(server.ports, {"main": port, "six": port})
        self.assertEqual(server.addresses["six"], "::1")
        self.assertEqual(Conn(port, "127.0.0.1").request("GET", "/echo").json()["server"], "main")
        self.assertEqual(Conn(port, "::1").request("GET", "/echo").json()["server"], "six")


class TlsTests(ServerTestCase):
    def setUp(self):
        self.directory = tempfile.mkdtemp(prefix="clc-event-tls-")
        self.certs = make_certs(self.directory)
        self.context = ssl.create_default_context(cafile=self.certs["ca"])

    def tearDown(self):
        for name in os.listdir(self.directory):
            os.remove(os.path.join(self.directory, name))
        os.rmdir(self.directory)

    def test_tls(self):
        server = self.start({"name": "main", "address": "127.0.0.1",
                             "tls": {"cert": self.certs["server_cert"],
                                     "key": self.certs["server_key"]}}, context=self.context)
        conn = Conn(server.port, context=self.context)
        self.assertEqual(conn.request("POST", "/echo", body=b"secret").json()["body"], "secret")
        self.assertEqual(conn.request("GET", "/echo/again").status, 200)  # keep-alive
        conn.send(b"GET /stream?n=2 HTTP/1.1\r\nHost: t\r\n\r\n")
        conn.head()
        self.assertEqual(conn.chunk(), b"chunk-1\n")
        Conn(server.port, context=self.context).request("GET", "/release")
        self.assertEqual(conn.chunk(), b"chunk-2\n")
        self.assertEqual(conn.chunk(), b"")
        # A client that does not speak TLS is dropped, and the server goes on.
        plain = Conn(server.port)
        plain.send(b"GET /echo HTTP/1.1\r\nHost: t\r\n\r\n")
        self.assertTrue(plain.closed_by_server())
        untrusted = ssl.create_default_context(cafile=self.certs["other_ca"])
        with self.assertRaises(ssl.SSLError):
            Conn(server.port, context=untrusted)
        self.assertEqual(Conn(server.port, context=self.context).request("GET", "/echo").status,
                         200)

    def test_tls_configuration_errors(self):
        missing = os.path.join(self.directory, "missing.pem")
        server = Server({"name": "main", "tls": {"cert": missing,
                                                 "key": self.certs["server_key"]}})
        self.assertEqual(server.failure, "FAILED main cannot load TLS certificate '%s': "
                         "No such file or directory" % missing)
        server.stop()
        server = Server({"name": "main", "tls": {"cert": self.certs["server_cert"],
                                                 "key": self.certs["client_key"]}})
        self.assertEqual(server.failure, "FAILED main cannot load TLS key '%s': key values "
                         "mismatch" % self.certs["client_key"])
        server.stop()


def cpu_seconds(pid):
    """User plus system CPU time the process has used."""
    with open("/proc/%d/stat" % pid) as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class TimeoutTests(ServerTestCase):
    def test_an_idle_connection_is_closed_after_idle_timeout(self):
        server = self.start({"name": "main", "address": "127.0.0.1", "idle_timeout": 0.3})
        fresh = Conn(server.port)
        started = time.monotonic()
        self.assertTrue(fresh.closed_by_server(timeout=5))
        self.assertGreater(time.monotonic() - started, 0.25)
        self.assertEqual(fresh.buffer, b"")  # closed without a word: no request was pending
        used = Conn(server.port)
        self.assertEqual(used.request("GET", "/echo").status, 200)
        self.assertTrue(used.closed_by_server(timeout=5))  # idle again after its answer

    def test_a_request_waiting_for_its_answer_is_not_idle(self):
        server = self.start({"name": "main", "address": "127.0.0.1", "idle_timeout": 0.2})
        held = Conn(server.port)
        held.send(b"GET /hold HTTP/1.1\r\nHost: t\r\n\r\n")
        self.assertFalse(held.closed_by_server(timeout=1))  # five idle timeouts later
        held.close()
        self.poll_log(server, "closed /hold")

    def test_a_head_that_does_not_finish_gets_408(self):
        server = self.start({"name": "main", "address": "127.0.0.1", "head_timeout": 0.3,
                             "idle_timeout": 30})
        slow = Conn(server.port)
        slow.send(b"GET /echo HTTP/1.1\r\nHost: t")
        started = time.monotonic()
        self.assertEqual(slow.response().status, 408)
        self.assertGreater(time.monotonic() - started, 0.25)
        self.assertTrue(slow.closed_by_server(timeout=5))
        # Bytes arriving do not extend the deadline (a trickling client gets no more time).
        trickle = Conn(server.port)
        trickle.send(b"G")
        started = time.monotonic()
        for piece in (b"E", b"T", b" ", b"/"):
            time.sleep(0.1)
            trickle.send(piece)
        self.assertEqual(trickle.response().status, 408)
        self.assertLess(time.monotonic() - started, 1.5)

    def test_timeout_options_are_checked(self):
        server = self.start({"name": "main", "address": "127.0.0.1", "idle_timeout": 0})
        idle = Conn(server.port)
        self.assertFalse(idle.closed_by_server(timeout=0.5))  # 0: no idle timeout
        bad = Server({"name": "bad", "address": "127.0.0.1", "head_timeout": -1})
        self.assertNotEqual(bad.stop(), 0)  # misuse raises
        self.assertIn(b"'head_timeout' must be a number of seconds (0: none)", bad.stderr)


class DescriptorTests(ServerTestCase):
    def test_out_of_descriptors_the_server_neither_spins_nor_stops_answering(self):
        # 64 descriptors in all; 150 clients that connect and say nothing: the server runs
        # out. It must not busy-loop on accept, must say so once, and must still answer a
        # client with a real request, by closing idle connections to make room.
        server = self.start({"name": "main", "address": "127.0.0.1", "idle_timeout": 60},
                            open_files=64)
        idle = []
        for _ in range(150):
            idle.append(socket.create_connection(("127.0.0.1", server.port), timeout=5))
        time.sleep(0.2)  # let the server reach its limit
        before = cpu_seconds(server.process.pid)
        time.sleep(1.0)
        used = cpu_seconds(server.process.pid) - before
        self.assertLess(used, 0.3, "the server used %.2f s of CPU in 1 s while out of "
                        "descriptors" % used)
        started = time.monotonic()
        conn = Conn(server.port, timeout=10)
        self.assertEqual(conn.request("GET", "/echo").status, 200)
        self.assertLess(time.monotonic() - started, 3.0)
        conn.close()
        for sock in idle:
            sock.close()
        status = server.stop()
        self.assertEqual(status, 0)
        stderr = server.stderr.decode(errors="replace")
        self.assertEqual(stderr.count("cannot accept connections"), 1, stderr[:2000])
        self.assertIn("Too many open files", stderr)


class SpeedTests(ServerTestCase):
    def test_round_trips_are_fast(self):
        """Sequential requests on one connection: catches Nagle-style stalls (40 ms each)."""
        server = self.start()
        conn = Conn(server.port)
        request = (b"POST /raw HTTP/1.1\r\nHost: t\r\nContent-Length: 17\r\n\r\n"
                   b'{"payload": true}')
        conn.send(request)
        conn.response()
        count = 2000
        started = time.monotonic()
        for _ in range(count):
            conn.send(request)
            conn.response()
        per_request = (time.monotonic() - started) / count
        limit = 0.01 if SANITIZED else 0.002
        self.assertLess(per_request, limit, "%.1f us per round trip" % (per_request * 1e6))


if __name__ == "__main__":
    unittest.main()
