"""End-to-end tests of lambda.http.request made from tasks (lambda.task): the request goes on
the lambda.event loop instead of blocking it, so many run at once in one process, and a script
can request its own server. The binary runs lua/http_tasks.lua against loopback servers;
what a task gets back must be what the blocking call gets for the same request. Every test
runs twice, the second time through libcurl's multi interface (CARGO_LAMBDA_HTTP=curl)."""

import hashlib
import json
import os
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from certs import make_certs  # noqa: E402
from harness import ScratchTestCase, ThroughCurl  # noqa: E402
from test_http_module import UNRESOLVABLE, unused_port  # noqa: E402
from testserver import TestServer  # noqa: E402

SCRIPT = os.path.join(HERE, "lua", "http_tasks.lua")


def comparable(result):
    """A result without what differs between two runs of the same request (timings)."""
    result = json.loads(json.dumps(result))
    response = result.get("response")
    if response:
        response.pop("elapsed")
        response.pop("connect_elapsed")
        response.pop("received_at")
    return result


class TaskTests(ScratchTestCase):
    def run_script(self, spec, timeout=60):
        result = self.cli("run", SCRIPT, json.dumps(spec), cwd=HERE, timeout=timeout)
        self.assertExit(result, 0)
        # Nothing on stderr: no callback error, no sanitizer report under the ASan build.
        self.assertEqual(result.stderr.decode(errors="replace"), "")
        return json.loads(result.stdout)

    def server(self, **options):
        server = TestServer(**options).start()
        self.addCleanup(server.stop)
        return server

    def both_ways(self, requests, mode="tasks"):
        """The results from tasks (mode) and from blocking calls, which must be the same."""
        in_tasks = self.run_script({"requests": requests, "mode": mode})["results"]
        blocking = self.run_script({"requests": requests, "mode": "blocking"})["results"]
        self.assertEqual([comparable(r) for r in in_tasks], [comparable(r) for r in blocking])
        return in_tasks

    def test_fifty_slow_requests_run_at_once(self):
        server = self.server()
        delay = {"seconds": 0.5}

        def answer(request):
            time.sleep(delay["seconds"])
            return 200, {"X-Path": request.path}, "answer " + request.path

        server.set_gate(answer)
        requests = [{"url": server.url("/n/%d" % i), "trace": True,
                     "headers": {"X-Index": str(i)}} for i in range(50)]
        out = self.run_script({"requests": requests})
        # One after the other they would take 25 s.
        self.assertGreaterEqual(out["took"], 0.5)
        self.assertLess(out["took"], 5.0)
        self.assertEqual([r["response"]["body"] for r in out["results"]],
                         ["answer /n/%d" % i for i in range(50)])
        self.assertEqual(sorted(int(r.header("X-Index")) for r in server.requests),
                         list(range(50)))
        delay["seconds"] = 0
        blocking = self.run_script({"requests": requests, "mode": "blocking"})
        self.assertEqual([comparable(r) for r in out["results"]],
                         [comparable(r) for r in blocking["results"]])

    def test_connections_of_requests_at_once_are_kept(self):
        # Three rounds of eight requests at once: the connections the first round opens carry
        # the next rounds (one request at a time on each), none more are opened.
        server = self.server()

        def answer(request):
            time.sleep(0.05)
            return 200, {}, request.path

        server.set_gate(answer)
        requests = [{"url": server.url("/t/%d" % i)} for i in range(8)]
        out = self.run_script({"requests": requests, "rounds": 3})
        self.assertEqual([r["response"]["body"] for r in out["results"]],
                         ["/t/%d" % i for i in range(8)])
        self.assertEqual(len(server.requests), 24)
        self.assertEqual(len({request.peer for request in server.requests}), 8)

    def test_script_requests_its_own_server(self):
        requests = [{"url": "{self}/a"}, {"url": "{self}/b", "method": "POST", "body": "payload"},
                    {"url": "{self}/c", "method": "HEAD"}] * 4
        out = self.run_script({"serve": True, "self_blocking": True, "requests": requests})
        # The blocking call cannot be answered: the script's own loop does not run meanwhile.
        self.assertEqual(out["self_blocking"]["kind"], "timeout", out["self_blocking"])
        self.assertEqual([(r["response"]["status"], r["response"]["body"])
                          for r in out["results"]],
                         [(200, "GET /a "), (200, "POST /b payload"), (200, "")] * 4)
        self.assertEqual(out["results"][0]["response"]["headers"]["x-path"], "/a")

    def test_failures_are_the_same_in_a_task(self):
        slow = self.server()
        slow.respond(200, {}, "late", delay=2)
        slow.respond(200, {}, "late", delay=2)
        refused = unused_port("127.0.0.1")
        requests = [
            {"url": "http://127.0.0.1:%d/" % refused},
            {"url": "http://localhost:%d/" % refused},
            {"url": slow.url("/slow"), "timeout": 0.3},
            {"url": "http://exa mple.com/"},
            {"url": "http://127.0.0.1:99999/"},
            {"url": "ftp://127.0.0.1/"},
            {"url": "http://%s/" % UNRESOLVABLE, "timeout": 20},
            {"url": "http://127.0.0.1:1/", "timeout": -1},
            {"url": "http://127.0.0.1:1/", "headers": {"X-A": "1\r\nX-B: 2"}},
            {"url": "http://127.0.0.1:1/", "timout": 1},
        ]
        results = self.both_ways(requests)
        # URLs that cannot be sent are the caller's input, refused before anything is sent.
        self.assertEqual([(r.get("kind"), r.get("detail")) for r in results],
                         [("transport", "refused"), ("transport", "refused"), ("timeout", None),
                          ("input", "url"), ("input", "url"), ("input", "url"),
                          ("transport", "resolve"), (None, None), (None, None), (None, None)])
        self.assertEqual(results[2]["message"], slow.url("/slow") + ": timed out after 0.3 s")
        self.assertEqual(results[5]["message"], "ftp://127.0.0.1/: scheme must be http or https")
        self.assertIn("'timeout'", results[7]["raised"])
        self.assertIn("line break", results[8]["raised"])
        self.assertIn("unknown field 'timout'", results[9]["raised"])

    def test_localhost_is_tried_on_ipv6_then_ipv4(self):
        for host, expected_ip in (("127.0.0.1", "127.0.0.1"), ("::1", "::1")):
            with self.subTest(host=host):
                server = self.server(host=host)
                server.default = (200, {}, "from " + host)
                results = self.both_ways([{"url": "http://localhost:%d/l" % server.port}])
                self.assertEqual(results[0]["response"]["body"], "from " + host)
                self.assertEqual(results[0]["response"]["primary_ip"], expected_ip)

    def test_tls_in_a_task(self):
        directory = tempfile.TemporaryDirectory()
        self.addCleanup(directory.cleanup)
        certs = make_certs(directory.name)
        tls = {"certfile": certs["server_cert"], "keyfile": certs["server_key"],
               "cafile": certs["ca"], "require_client_cert": False}
        server = self.server(tls=tls)
        server.default = (200, {}, "secret")
        requests = [{"url": server.url("/ok"), "tls": {"ca": certs["ca"]}},
                    {"url": server.url("/wrong"), "tls": {"ca": certs["other_ca"]}},
                    {"url": server.url("/none")},
                    {"url": server.url("/missing"),
                     "tls": {"ca": os.path.join(directory.name, "missing.pem")}}]
        results = self.both_ways(requests)
        self.assertEqual(results[0]["response"]["body"], "secret")
        self.assertEqual([r.get("kind") for r in results[1:]], ["tls"] * 3)
        self.assertTrue(results[1]["message"].startswith(
            server.url("/wrong") + ": TLS: certificate verify failed ("), results[1])

    def test_kept_connection_found_closed_is_retried_once(self):
        server = self.server()
        server.respond(200, {}, "one")
        server.respond(close=True)  # reads the second request, then drops the connection
        server.respond(200, {}, "two")
        url = server.url("/k")
        out = self.run_script({"requests": [{"url": url}, {"url": url}], "mode": "sequence"})
        self.assertEqual([r["response"]["body"] for r in out["results"]], ["one", "two"])
        peers = [request.peer for request in server.requests]
        self.assertEqual(len(peers), 3)
        self.assertEqual(peers[0], peers[1], "the second request went on the kept connection")
        self.assertNotEqual(peers[1], peers[2], "and again on a new one")

    def test_connect_timeout_ends_with_the_connection(self):
        # Connected at once, answered after longer than connect_timeout: the connect deadline
        # no longer applies, and without a timeout the request waits for its answer.
        server = self.server()
        server.respond(200, {}, "late", delay=0.8)
        server.respond(200, {}, "late", delay=0.8)
        results = self.both_ways([{"url": server.url("/late"), "connect_timeout": 0.3}])
        self.assertEqual(results[0]["response"]["body"], "late", results[0])

    def test_large_bodies_both_ways_at_once(self):
        server = self.server()
        download = os.urandom(6 * 1024 * 1024 + 13)
        for _ in range(3):
            server.respond(200, {"Content-Type": "application/octet-stream"}, download)
        upload = (b"\x00\x01binary\xff" * 700_000)[: 6 * 1024 * 1024 + 7]
        body_file = os.path.join(self.scratch, "upload")
        with open(body_file, "wb") as out:
            out.write(upload)
        requests = [{"url": server.url("/big/%d" % i), "method": "PUT", "body_file": body_file}
                    for i in range(3)]
        out = self.run_script({"requests": requests})
        for result in out["results"]:
            self.assertEqual(result["response"]["body_length"], len(download))
            self.assertEqual(result["response"]["body_sha256"],
                             hashlib.sha256(download).hexdigest())
        self.assertEqual([request.body == upload for request in server.requests], [True] * 3)

    def test_requests_under_way_when_the_script_ends(self):
        requests = [{"url": "{self}/hold"}] * 5 + [{"url": "{self}/quick", "timeout": 5}]
        for ending in ("return", "exit", "exit_close", "exit_in_task", "close"):
            with self.subTest(ending=ending):
                out = self.run_script({"serve": True, "requests": requests, "ending": ending})
                self.assertTrue(out["all_held"], out)
                if ending == "close":
                    # Closing a waiting task's coroutine cancels its request: the connection
                    # is closed, which the server sees.
                    self.assertEqual(out["gone"], 5, out)

    def test_outside_a_task_the_call_blocks_and_needs_no_loop(self):
        server = self.server()
        server.default = (200, {}, "plain")
        requests = [{"url": server.url("/p")}]
        out = self.run_script({"requests": requests, "mode": "blocking"})
        self.assertEqual(out["results"][0]["response"]["body"], "plain")
        self.assertFalse(out["loop_created"])
        # A coroutine of the script's own is not a task: request() must not yield to it.
        out = self.run_script({"requests": requests, "mode": "coroutine"})
        self.assertEqual(out["results"][0]["response"]["body"], "plain")
        self.assertFalse(out["loop_created"])
        # In a task, but where a yield is impossible (inside a C call): blocking too.
        out = self.run_script({"requests": requests, "mode": "unyieldable"})
        self.assertEqual(out["results"][0]["response"]["body"], "plain")


class CurlTaskTests(ThroughCurl, TaskTests):
    pass


if __name__ == "__main__":
    unittest.main()
