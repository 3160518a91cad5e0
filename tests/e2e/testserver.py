"""A scripted HTTP/1.1 server on loopback for the end-to-end tests (standard library only).

    with TestServer(host="::1") as srv:
        srv.respond(200, {"Content-Type": "application/json"}, b'{"ok": true}')
        ... run the binary against srv.url("/2015-03-31/functions/f/invocations") ...
        assert srv.requests[0].method == "POST"

Answers are queued with respond() and given out in order, one per request, whatever the
method or path; when the queue is empty the server answers `default`. Every request is recorded,
exactly as received, before it is answered. Responses carry only the headers scripted (plus
Content-Length when none is given), so tests can compare them byte for byte.
"""

import collections
import http
import http.server
import socket
import socketserver
import ssl
import sys
import threading

__all__ = ["Request", "TestServer"]

# How long a connection may sit idle before the server gives up on it, so that a stuck client
# cannot keep a test (or the server's shutdown) waiting.
IDLE_TIMEOUT = 30.0
MAX_LINE = 65536


class Request:
    """One request as received: method, path (the request target), headers as (name, value)
    pairs in order with the names as sent, body bytes (chunked bodies decoded), and the
    client's certificate as ssl.getpeercert() gives it (None without one), and peer, the
    client's (address, port): requests sent over one kept-alive connection share it."""

    def __init__(self, method, path, version, headers, body, client_cert):
        self.method = method
        self.path = path
        self.version = version
        self.headers = headers
        self.body = body
        self.client_cert = client_cert
        self.peer = None

    def header(self, name, default=None):
        """The first value of header `name` (case-insensitive), or `default`."""
        name = name.lower()
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return default

    def header_all(self, name):
        """Every value of header `name` (case-insensitive), in order."""
        name = name.lower()
        return [value for key, value in self.headers if key.lower() == name]

    def __repr__(self):
        return "Request(%r, %r, headers=%r, body=%d bytes)" % (
            self.method, self.path, self.headers, len(self.body))


Answer = collections.namedtuple("Answer", "status headers body delay close")


class _BadRequest(Exception):
    pass


class _Handler(socketserver.StreamRequestHandler):
    """Parses requests itself, since BaseHTTPRequestHandler's parser caps the number of
    headers and normalises what it reads, and answers from the server's queue."""

    def setup(self):
        self.request.settimeout(IDLE_TIMEOUT)
        self.server.track(self.request)
        context = self.server.ssl_context
        if context is not None:
            # The handshake happens here, in the connection's own thread, so a client that
            # never completes it cannot block the accepting thread.
            raw = self.request
            try:
                self.request = context.wrap_socket(raw, server_side=True)
            finally:
                self.server.untrack(raw)
            self.server.track(self.request)
        super().setup()

    def finish(self):
        try:
            super().finish()
        finally:
            self.server.untrack(self.request)
            self.request.close()

    def handle(self):
        while not self.server.closing.is_set():
            try:
                request = self._read_request()
            except _BadRequest as error:
                self.server.note_error("bad request: %s" % error)
                self._write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                            b"Connection: close\r\n\r\n")
                return
            if request is None:
                return
            self.server.record(request)
            answer = self.server.gate_answer(request) or self.server.next_answer()
            if answer.delay and self.server.closing.wait(answer.delay):
                return
            if answer.close:
                return
            self._send(request, answer)
            if not self._keep_alive(request):
                return

    def _readline(self):
        line = self.rfile.readline(MAX_LINE + 1)
        if len(line) > MAX_LINE:
            raise _BadRequest("line too long")
        return line

    def _read_request(self):
        line = self._readline()
        while line in (b"\r\n", b"\n"):  # tolerated before a request line (RFC 9112 2.2)
            line = self._readline()
        if not line:
            return None
        parts = line.rstrip(b"\r\n").split(b" ")
        if len(parts) != 3 or not parts[2].startswith(b"HTTP/"):
            raise _BadRequest("request line %r" % line)
        method, path, version = (part.decode("latin-1") for part in parts)
        headers = []
        while True:
            line = self._readline()
            if not line:
                raise _BadRequest("connection closed inside the head")
            if line in (b"\r\n", b"\n"):
                break
            name, colon, value = line.rstrip(b"\r\n").partition(b":")
            if not colon or not name:
                raise _BadRequest("header line %r" % line)
            headers.append((name.decode("latin-1"), value.strip(b" \t").decode("latin-1")))
        request = Request(method, path, version, headers, b"", self._client_cert())
        request.peer = tuple(self.client_address[:2])
        request.body = self._read_body(request)
        return request

    def _read_body(self, request):
        encoding = request.header("Transfer-Encoding")
        if encoding is not None:
            if encoding.lower() != "chunked":
                raise _BadRequest("transfer encoding %r" % encoding)
            return self._read_chunked()
        length = request.header("Content-Length")
        if length is None:
            return b""
        if not length.isdigit():
            raise _BadRequest("Content-Length %r" % length)
        return self._read_exactly(int(length))

    def _read_exactly(self, length):
        data = self.rfile.read(length)
        if len(data) != length:
            raise _BadRequest("body cut short: %d of %d bytes" % (len(data), length))
        return data

    def _read_chunked(self):
        chunks = []
        while True:
            size_line = self._readline().split(b";", 1)[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError:
                raise _BadRequest("chunk size %r" % size_line) from None
            if size == 0:
                break
            chunks.append(self._read_exactly(size))
            if self._readline() not in (b"\r\n", b"\n"):
                raise _BadRequest("chunk not followed by CRLF")
        while self._readline() not in (b"\r\n", b"\n", b""):  # trailers
            pass
        return b"".join(chunks)

    def _client_cert(self):
        if isinstance(self.request, ssl.SSLSocket):
            return self.request.getpeercert() or None
        return None

    def _keep_alive(self, request):
        connection = (request.header("Connection") or "").lower()
        if request.version == "HTTP/1.0":
            return connection == "keep-alive"
        return connection != "close"

    def _send(self, request, answer):
        try:
            reason = http.HTTPStatus(answer.status).phrase
        except ValueError:
            reason = "Unknown"
        head = ["HTTP/1.1 %d %s\r\n" % (answer.status, reason)]
        names = set()
        for name, value in answer.headers:
            head.append("%s: %s\r\n" % (name, value))
            names.add(name.lower())
        if not names & {"content-length", "transfer-encoding"}:
            head.append("Content-Length: %d\r\n" % len(answer.body))
        head.append("\r\n")
        data = "".join(head).encode("latin-1")
        if request.method != "HEAD":
            data += answer.body
        self._write(data)

    def _write(self, data):
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:
            pass  # the client went away: its own test notices


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    # Clients that open many connections at once (tasks) must not overflow the listen backlog
    # (socketserver's default is 5), or their connections wait for SYN retransmissions.
    request_queue_size = 128

    def __init__(self, address, family, ssl_context):
        self.address_family = family
        self.ssl_context = ssl_context
        self.closing = threading.Event()
        self.lock = threading.Lock()
        self.requests = []
        self.answers = collections.deque()
        self.default = Answer(200, [], b"", 0.0, False)
        self.gate = None
        self.errors = []
        self.connections = set()
        super().__init__(address, _Handler)

    def server_bind(self):
        # HTTPServer.server_bind looks up the host's FQDN, which can take seconds without DNS.
        if self.address_family == socket.AF_INET6:
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def track(self, connection):
        with self.lock:
            self.connections.add(connection)

    def untrack(self, connection):
        with self.lock:
            self.connections.discard(connection)

    def handle_error(self, request, client_address):
        # Silent on stderr: a failed TLS handshake is what some tests are about.
        self.note_error("%s: %s" % (client_address, sys.exc_info()[1]))

    def note_error(self, text):
        with self.lock:
            self.errors.append(text)

    def record(self, request):
        with self.lock:
            self.requests.append(request)

    def gate_answer(self, request):
        gate = self.gate
        if gate is None:
            return None
        verdict = gate(request)
        if verdict is None:
            return None
        status, headers, body = verdict
        return Answer(status, _normalise_headers(headers), _normalise_body(body), 0.0, False)

    def next_answer(self):
        with self.lock:
            return self.answers.popleft() if self.answers else self.default

    def drop_connections(self):
        with self.lock:
            connections = list(self.connections)
        for connection in connections:
            try:
                # socket.socket's shutdown, not SSLSocket's, which would unwrap the TLS
                # object under the thread reading from it.
                socket.socket.shutdown(connection, socket.SHUT_RDWR)
            except OSError:
                pass


def _normalise_headers(headers):
    if headers is None:
        return []
    if isinstance(headers, dict):
        headers = headers.items()
    return [(str(name), str(value)) for name, value in headers]


def _normalise_body(body):
    return body.encode("utf-8") if isinstance(body, str) else bytes(body)


class TestServer:
    """Serves on host ("127.0.0.1" or "::1") and port (0 = any free one) in background threads.

    tls: dict(certfile=..., keyfile=..., cafile=None, require_client_cert=False) to serve
    https; with require_client_cert the client must present a certificate signed by cafile.
    """

    __test__ = False  # not a unittest/pytest test class despite the name

    def __init__(self, host="127.0.0.1", port=0, tls=None):
        if host not in ("127.0.0.1", "::1"):
            raise ValueError("TestServer serves on loopback only: 127.0.0.1 or ::1, not %r"
                             % host)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.host = host
        self.tls = tls
        self._server = _Server((host, port), family, self._ssl_context(tls))
        self.port = self._server.server_address[1]
        self._thread = None

    @staticmethod
    def _ssl_context(tls):
        if tls is None:
            return None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tls["certfile"], tls["keyfile"])
        if tls.get("cafile"):
            context.load_verify_locations(tls["cafile"])
        if tls.get("require_client_cert"):
            context.verify_mode = ssl.CERT_REQUIRED
        elif tls.get("cafile"):
            context.verify_mode = ssl.CERT_OPTIONAL
        return context

    # -- lifecycle --

    def start(self):
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._server.closing.is_set():
            return
        self._server.closing.set()
        if self._thread is not None:
            self._server.shutdown()
            self._thread = None
        self._server.drop_connections()
        self._server.server_close()  # joins the connection threads

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- scripting and inspection --

    def url(self, path="/"):
        if not path.startswith("/"):
            path = "/" + path
        scheme = "https" if self.tls else "http"
        host = "[%s]" % self.host if ":" in self.host else self.host
        return "%s://%s:%d%s" % (scheme, host, self.port, path)

    def respond(self, status=200, headers=None, body=b"", delay=0.0, close=False):
        """Queues the answer to one request. headers: dict or list of (name, value) pairs
        (repeats allowed); body: bytes or str; delay: seconds to wait before answering;
        close: read the request, then drop the connection without answering."""
        answer = Answer(status, _normalise_headers(headers), _normalise_body(body),
                        float(delay), bool(close))
        with self._server.lock:
            self._server.answers.append(answer)

    @property
    def default(self):
        """The answer when the queue is empty, as (status, headers, body)."""
        answer = self._server.default
        return (answer.status, answer.headers, answer.body)

    @default.setter
    def default(self, value):
        status, headers, body = value
        self._server.default = Answer(status, _normalise_headers(headers),
                                      _normalise_body(body), 0.0, False)

    def set_gate(self, gate):
        """gate(request) runs before the scripted answers: returning (status, headers, body)
        answers the request with that (e.g. 403 for a bad signature), returning None lets the
        queue answer. The request is recorded either way."""
        self._server.gate = gate

    @property
    def requests(self):
        """The requests received so far, in order of arrival (a copy)."""
        with self._server.lock:
            return list(self._server.requests)

    @property
    def errors(self):
        """What went wrong on the server's side (failed TLS handshakes, malformed requests)."""
        with self._server.lock:
            return list(self._server.errors)
