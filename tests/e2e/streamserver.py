"""A loopback HTTP/1.1 server whose answers are sent step by step under the test's control,
for the tests of streamed answers (standard library only).

    with StreamServer() as srv:
        sent = threading.Event()
        srv.answer([head(200, [("Content-Type", "text/plain")]), chunk(b"one"),
                    wait(seen_one), chunk(b"two"), end()])
        ... run the binary against srv.url("/path"); set seen_one once "one" is on its stdout ...

Each request gets the next queued answer (a list of steps) and is recorded first
(testserver.Request). The steps:
    head(status, headers, chunked=True)  the status line and headers; chunked adds
                                         Transfer-Encoding: chunked, else the headers given are
                                         sent as they are (give a Content-Length, or close)
    chunk(data)                          one HTTP chunk carrying data, sent at once
    raw(data)                            bytes as they are (a body with Content-Length)
    wait(event, timeout=20)              waits for a threading.Event the test sets; a wait that
                                         times out is recorded in .errors and ends the answer
    end()                                the last chunk (0-size) of a chunked body
    close()                              closes the connection
A gate, gate(request) -> None or a list of steps, may answer instead (a signature check).
Every connection is closed after its answer: one request per connection.
"""

import socket
import socketserver
import threading

from testserver import Request

__all__ = ["StreamServer", "head", "chunk", "raw", "wait", "end", "close"]

IDLE_TIMEOUT = 30.0


def head(status, headers=(), chunked=True):
    return ("head", status, list(headers), chunked)


def chunk(data):
    return ("chunk", data)


def raw(data):
    return ("raw", data)


def wait(event, timeout=20):
    return ("wait", event, timeout)


def end():
    return ("end",)


def close():
    return ("close",)


class _Handler(socketserver.StreamRequestHandler):
    def setup(self):
        self.request.settimeout(IDLE_TIMEOUT)
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().setup()

    def handle(self):
        request = self._read_request()
        if request is None:
            return
        server = self.server.owner
        server._record(request)
        steps = (server.gate(request) if server.gate else None) or server._next_answer()
        for step in steps:
            kind = step[0]
            if kind == "head":
                _, status, headers, chunked = step
                lines = ["HTTP/1.1 %d Answer" % status]
                lines += ["%s: %s" % (name, value) for name, value in headers]
                if chunked:
                    lines.append("Transfer-Encoding: chunked")
                lines.append("Connection: close")
                self._write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
            elif kind == "chunk":
                data = step[1]
                self._write(b"%x\r\n%s\r\n" % (len(data), data))
            elif kind == "raw":
                self._write(step[1])
            elif kind == "wait":
                if not step[1].wait(step[2]):
                    server._note("a wait of the answer to %s timed out" % request.path)
                    return
            elif kind == "end":
                self._write(b"0\r\n\r\n")
            elif kind == "close":
                return

    def _write(self, data):
        self.wfile.write(data)
        self.wfile.flush()

    def _read_request(self):
        line = self.rfile.readline(65537)
        if not line:
            return None
        method, path, version = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
        headers = []
        while True:
            line = self.rfile.readline(65537)
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").rstrip("\r\n").partition(":")
            headers.append((name, value.strip()))
        request = Request(method, path, version, headers, b"", None)
        length = int(request.header("Content-Length") or 0)
        request.body = self.rfile.read(length) if length else b""
        return request


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class StreamServer:
    __test__ = False

    def __init__(self, host="127.0.0.1"):
        if host not in ("127.0.0.1", "::1"):
            raise ValueError("StreamServer serves on loopback only")
        _Server.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.host = host
        self._server = _Server((host, 0), _Handler)
        self._server.owner = self
        self.port = self._server.server_address[1]
        self._lock = threading.Lock()
        self._answers = []
        self._requests = []
        self._errors = []
        self.gate = None
        self._thread = None

    def start(self):
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._thread is not None:
            self._server.shutdown()
            self._thread = None
        self._server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def url(self, path="/"):
        host = "[%s]" % self.host if ":" in self.host else self.host
        return "http://%s:%d%s" % (host, self.port, path)

    def answer(self, steps):
        """Queues the answer to the next request."""
        with self._lock:
            self._answers.append(list(steps))

    @property
    def requests(self):
        with self._lock:
            return list(self._requests)

    @property
    def errors(self):
        with self._lock:
            return list(self._errors)

    def _record(self, request):
        with self._lock:
            self._requests.append(request)

    def _note(self, text):
        with self._lock:
            self._errors.append(text)

    def _next_answer(self):
        with self._lock:
            if self._answers:
                return self._answers.pop(0)
        return [head(500, [("Content-Length", "0")], chunked=False)]
