"""`watch -v` logs one line per invocation on stderr, from lambda.emulator's on_invocation hook:
`cargo-lambda watch: <route> <function> <request id>: <outcome> <duration>`, e.g.
`invoke probe 6f1c...: ok 12.3 ms`, `... : function error Runtime.HandlerError 3.1 ms`,
`... : timeout after 1.0 s`, `... : error Runtime.ExitError, never ran (queued 52.0 ms)`.
Without -v there is no such line. Every wait is on a condition, with a bound."""

import json
import os
import re
import unittest

from harness import ScratchTestCase
from watchharness import PROBE, Emulator, probe_argv

PREFIX = "cargo-lambda watch: "
DURATION = r"\d+\.\d (?:ms|s)"
QUEUED = r"(?: \(queued %s\))?" % DURATION


class VerboseTestCase(ScratchTestCase):
    def emulator(self, flags=("-v",), env=None):
        env = dict({"HOME": self.home}, **(env or {}))
        return Emulator(*probe_argv(), flags=list(flags), env=env, cwd=self.scratch)

    def line_for(self, emu, request_id, timeout=10):
        """The one -v line about this request id, once watch has written it."""
        output = emu.wait_for_output(" %s: " % request_id, timeout=timeout)
        lines = [line for line in output.splitlines() if " %s: " % request_id in line]
        self.assertEqual(len(lines), 1, output)
        return lines[0]


class InvocationLines(VerboseTestCase):
    def test_ok_and_function_error(self):
        with self.emulator() as emu:
            status, headers, _ = emu.invoke("probe", {"action": "echo"})
            self.assertEqual(status, 200)
            ok = self.line_for(emu, headers["x-amzn-requestid"])
            self.assertRegex(ok, r"^%sinvoke probe [0-9a-f-]{36}: ok %s%s$"
                             % (re.escape(PREFIX), DURATION, QUEUED))
            status, headers, body = emu.invoke("probe", {"action": "fail", "message": "no"})
            self.assertEqual(headers.get("x-amz-function-error"), "Unhandled", body)
            failed = self.line_for(emu, headers["x-amzn-requestid"])
            self.assertRegex(failed, r"^%sinvoke probe [0-9a-f-]{36}: function error "
                             r"Runtime\.HandlerError %s%s$" % (re.escape(PREFIX), DURATION, QUEUED))

    def test_timeout_says_after_how_long(self):
        with self.emulator(flags=("-v", "--timeout", "1")) as emu:
            status, headers, body = emu.invoke("probe", {"action": "sleep", "seconds": 30})
            self.assertEqual(json.loads(body)["errorType"], "Sandbox.Timedout")
            line = self.line_for(emu, headers["x-amzn-requestid"])
            self.assertRegex(line, r": timeout after 1\.\d s%s$" % QUEUED)

    def test_routes_and_errors_of_the_emulator(self):
        with self.emulator() as emu:
            # A function URL.
            status, _, body = emu.request("GET", "/lambda-url/probe/hello")
            self.assertEqual(status, 200, body)
            request_id = json.loads(body)["request_id"]
            self.assertRegex(self.line_for(emu, request_id), r"^%surl probe %s: ok "
                             % (re.escape(PREFIX), request_id))
            # The streaming Invoke API.
            status, headers, _ = emu.request(
                "POST", "/2021-11-15/functions/probe/response-streaming-invocations", b"{}")
            self.assertEqual(status, 200)
            self.assertRegex(self.line_for(emu, headers["x-amzn-requestid"]),
                             r"^%sstream probe [0-9a-f-]{36}: ok " % re.escape(PREFIX))
            # An Event invocation: nobody waits for it, it is logged all the same.
            status, headers, _ = emu.invoke("probe", {"action": "echo"},
                                            headers={"X-Amz-Invocation-Type": "Event"})
            self.assertEqual(status, 202)
            self.assertRegex(self.line_for(emu, headers["x-amzn-requestid"]),
                             r"^%sevent probe [0-9a-f-]{36}: ok " % re.escape(PREFIX))
            # The instance dies mid-invocation: the emulator's error, with its type.
            status, headers, body = emu.invoke("probe", {"action": "crash"})
            self.assertEqual(json.loads(body)["errorType"], "Runtime.ExitError")
            self.assertRegex(self.line_for(emu, headers["x-amzn-requestid"]),
                             r"invoke probe [0-9a-f-]{36}: error Runtime\.ExitError %s%s$"
                             % (DURATION, QUEUED))

    def test_an_invocation_that_never_ran(self):
        # The function reports an init error: its invocation fails before it ever ran.
        with self.emulator(env={"PROBE_INIT_ERROR": "no config"}) as emu:
            status, headers, body = emu.invoke("probe", {})
            self.assertEqual(json.loads(body)["errorType"], "Runtime.ProbeInitError")
            self.assertRegex(self.line_for(emu, headers["x-amzn-requestid"]),
                             r": function error Runtime\.ProbeInitError, never ran \(queued %s\)$"
                             % DURATION)

    def test_an_invoker_that_goes_away_while_queued(self):
        with self.emulator() as emu:
            busy = emu.connection()
            busy.request("POST", "/2015-03-31/functions/probe/invocations",
                         json.dumps({"action": "sleep", "seconds": 1}).encode())
            emu.wait_for_output("starting probe")
            # Queued behind it (--concurrency 1), then abandoned: the emulator reads the
            # request before the end of the connection that follows it.
            waiting = emu.connection()
            waiting.request("POST", "/2015-03-31/functions/probe/invocations", b"{}")
            waiting.close()
            output = emu.wait_for_output(": cancelled: the invoker went away, never ran")
            self.assertRegex(output, r"%sinvoke probe [0-9a-f-]{36}: cancelled: the invoker "
                             r"went away, never ran \(queued %s\)" % (re.escape(PREFIX), DURATION))
            answer = busy.getresponse()
            self.assertEqual(answer.status, 200)
            answer.read()
            busy.close()

    def test_without_verbose_no_invocation_line(self):
        with self.emulator(flags=()) as emu:
            status, headers, _ = emu.invoke("probe", {"action": "echo"})
            self.assertEqual(status, 200)
            # A line about the first invocation would be written when it was answered, so
            # before anything the function prints during the second.
            status, _, _ = emu.invoke("probe", {"action": "log", "lines": ["marker"]})
            self.assertEqual(status, 200)
            output = emu.wait_for_output("[probe] err: marker")
            self.assertNotIn(headers["x-amzn-requestid"], output)
            self.assertNotIn(": ok ", output)


class LibraryHook(ScratchTestCase):
    def test_a_hook_that_raises_is_reported_and_the_emulator_goes_on(self):
        script = os.path.join(self.scratch, "hook.lua")
        with open(script, "w") as handle:
            handle.write(
                'local lambda = require("lambda")\n'
                'local emulator = assert(lambda.emulator.start{\n'
                '  command = { lambda.executable, "run", arg[1] }, on_output = false,\n'
                '  on_invocation = function(record) error("hook broke on " .. record.outcome) end })\n'
                'local client = emulator:client{ timeout = 10 }\n'
                'for _ = 1, 2 do\n'
                '  local result = assert(client:invoke("probe", { payload = {} }))\n'
                '  assert(result.ok, tostring(result))\n'
                'end\n'
                'emulator:stop()\n'
                'print("served")\n')
        result = self.cli("run", script, PROBE, timeout=60)
        self.assertExit(result, 0)
        self.assertEqual(result.stdout, b"served\n")
        stderr = result.stderr.decode()
        self.assertEqual(stderr.count("lambda.emulator: error in on_invocation: "), 2, stderr)
        self.assertEqual(stderr.count("hook broke on ok"), 2, stderr)


if __name__ == "__main__":
    unittest.main()
