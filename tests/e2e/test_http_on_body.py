"""lambda.http's on_body: the body handed over piece by piece as it arrives, by both engines
(the plain one, and libcurl with CARGO_LAMBDA_HTTP=curl), blocking and from a task.

The server (streamserver.py) sends a piece, then waits until the test has read that piece on
the script's stdout before it sends the next: the script can only see the pieces in time if
the engine hands each over as soon as it arrives. An error raised by on_body must come out of
request() (never through the engine), and a request closed from inside on_body must be let go
safely, libcurl's multi handle included."""

import json
import os
import subprocess
import threading
import unittest

from streamserver import StreamServer, chunk, close, end, head, raw, wait

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.environ.get("CARGO_LAMBDA_BIN")
SCRIPT = os.path.join(HERE, "lua", "http_on_body.lua")
PROXY_VARIABLES = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
                   "ALL_PROXY", "no_proxy", "NO_PROXY", "CARGO_LAMBDA_HTTP")


class Script:
    """The driver script running; its JSON lines read one at a time."""

    def __init__(self, spec, env):
        environment = {k: v for k, v in os.environ.items() if k not in PROXY_VARIABLES}
        environment.update(env)
        self.process = subprocess.Popen([BIN, "run", SCRIPT, json.dumps(spec)], cwd=HERE,
                                        env=environment, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.lines = []
        self.available = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.process.stdout:
            with self.available:
                self.lines.append(json.loads(line))
                self.available.notify_all()
        with self.available:
            self.lines.append(None)
            self.available.notify_all()

    def line(self, index, timeout=20):
        """Line number index (from 0), waiting for it; None once the output has ended."""
        with self.available:
            if not self.available.wait_for(lambda: len(self.lines) > index or
                                           (self.lines and self.lines[-1] is None),
                                           timeout):
                raise AssertionError("no line %d within %s s; got %r" % (index, timeout,
                                                                           self.lines))
            return self.lines[index] if index < len(self.lines) else None

    def finish(self, timeout=30):
        self.process.wait(timeout)
        self.reader.join(timeout)
        stderr = self.process.stderr.read().decode(errors="replace")
        self.process.stderr.close()
        self.process.stdout.close()
        if self.process.returncode != 0:
            raise AssertionError("script exited %d: %s" % (self.process.returncode, stderr))
        return [line for line in self.lines if line is not None]


class OnBody(unittest.TestCase):
    ENV = {}

    def setUp(self):
        if not BIN:
            self.skipTest("CARGO_LAMBDA_BIN is not set (run through ctest)")
        self.server = StreamServer().start()
        self.addCleanup(self.server.stop)

    def start(self, **spec):
        spec.setdefault("url", self.server.url("/stream"))
        script = Script(spec, self.ENV)
        self.addCleanup(lambda: script.process.poll() is None and script.process.kill())
        return script

    def progressive(self, task):
        seen = [threading.Event() for _ in range(3)]
        self.server.answer([head(200, [("Content-Type", "text/plain")]), chunk(b"one"),
                            wait(seen[0]), chunk(b"two\x00"), wait(seen[1]), chunk(b"three"),
                            end()])
        script = self.start(on_body="print", task=task)
        for index, piece in enumerate(["one", "two\u0000", "three"]):
            line = script.line(index)
            self.assertEqual(line["piece"], piece)
            self.assertEqual((line["status"], line["type"], line["same"]),
                             (200, "text/plain", True))
            seen[index].set()
        lines = script.finish()
        self.assertEqual(lines[-1], {"done": {"status": 200, "body": ""}})
        self.assertEqual(self.server.errors, [])

    def test_pieces_arrive_as_sent_blocking(self):
        self.progressive(task=False)

    def test_pieces_arrive_as_sent_in_a_task(self):
        self.progressive(task=True)

    def test_a_body_with_content_length_and_an_error_status(self):
        for task in (False, True):
            with self.subTest(task=task):
                seen = threading.Event()
                self.server.answer([head(404, [("Content-Type", "application/json"),
                                               ("Content-Length", "9")], chunked=False),
                                    raw(b'{"a":'), wait(seen), raw(b"1}\n\n"), close()])
                script = self.start(on_body="print", task=task)
                self.assertEqual(script.line(0)["piece"], '{"a":')
                self.assertEqual(script.line(0)["status"], 404)
                seen.set()
                lines = script.finish()
                self.assertEqual(lines[1]["piece"], "1}\n\n")
                self.assertEqual(lines[-1], {"done": {"status": 404, "body": ""}})

    def test_an_error_in_on_body_is_raised_by_request(self):
        for task in (False, True):
            for kind, expected in (("raise_string", "stop here"),
                                   ("raise_table", {"code": "stopped"})):
                with self.subTest(task=task, kind=kind):
                    held = threading.Event()
                    self.addCleanup(held.set)
                    # The rest never comes: request() must not wait for it.
                    self.server.answer([head(200), chunk(b"first"), wait(held, 30)])
                    lines = self.start(on_body=kind, task=task).finish()
                    self.assertEqual(lines, [{"done": {"raised": expected}}])

    def test_no_request_from_inside_on_body(self):
        for count, task in enumerate((False, True), 1):
            with self.subTest(task=task):
                self.server.answer([head(200), chunk(b"x"), end()])
                lines = self.start(on_body="request", task=task).finish()
                self.assertIn("cannot be called from an on_body function",
                              lines[-1]["done"]["raised"])
                self.assertEqual(len(self.server.requests), count, "nothing more was sent")

    def test_closing_its_own_task_from_on_body(self):
        held = threading.Event()
        self.addCleanup(held.set)
        self.server.answer([head(200), chunk(b"only"), wait(held, 30)])
        self.server.answer([head(200), chunk(b"after"), end()])
        lines = self.start(on_body="close_own", task=True,
                           after_url=self.server.url("/after")).finish()
        self.assertEqual(lines[0], {"piece": "only"})
        self.assertEqual(lines[-1], {"done": {"closed_own": True, "after": "after"}})

    def test_closing_another_task_from_on_body(self):
        other = StreamServer().start()
        self.addCleanup(other.stop)
        held = threading.Event()
        self.addCleanup(held.set)
        other.answer([head(200), chunk(b"other"), wait(held, 30)])
        seen = threading.Event()
        self.server.answer([head(200), chunk(b"first"), wait(seen), chunk(b"second"), end()])
        script = self.start(on_body="close_other", task=True, other_url=other.url("/other"))
        self.assertEqual(script.line(0), {"piece": "first", "closing": "suspended"})
        seen.set()
        lines = script.finish()
        self.assertEqual(lines[1], {"piece": "second", "closing": "dead"})
        self.assertEqual(lines[-1], {"done": {"status": 200, "body": ""}})


class OnBodyThroughCurl(OnBody):
    ENV = {"CARGO_LAMBDA_HTTP": "curl"}


if __name__ == "__main__":
    unittest.main()
