"""`cargo-lambda run SCRIPT`: user scripts on the same API the commands use."""

import os
import unittest

from harness import ScratchTestCase
from testserver import TestServer


class RunScript(ScratchTestCase):
    def script(self, text):
        path = os.path.join(self.scratch, "script.lua")
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_script_invokes_through_the_library(self):
        with TestServer(host="127.0.0.1") as server:
            server.respond(200, body=b'{"b":1,"a":[true]}')
            path = self.script(
                'local invoke = require("lambda.invoke")\n'
                'local json = require("lambda.json")\n'
                'local port, name = ...\n'
                'local r = assert(invoke.invoke_local({name = name, payload = "{\\"x\\":1}",\n'
                '  address = "127.0.0.1", port = math.tointeger(tonumber(port))}))\n'
                'io.write(r.status, "\\n", json.pretty(r.body), "\\n")\n'
                'return 7\n')
            result = self.cli("run", path, str(server.port), "scripted")
            self.assertExit(result, 7)
            self.assertEqual(result.stdout, b'200\n{\n  "b": 1,\n  "a": [\n    true\n  ]\n}\n')
            self.assertEqual(server.requests[0].path,
                             "/2015-03-31/functions/scripted/invocations")
            self.assertEqual(server.requests[0].body, b'{"x":1}')

    def test_arg_table_and_flags_pass_through(self):
        path = self.script('io.write(table.concat(arg, "|"), ";", select("#", ...))\n')
        result = self.cli("run", path, "--verbose", "-x", "plain")
        self.assertExit(result, 0)
        self.assertEqual(result.stdout, b"--verbose|-x|plain;3")

    def test_script_error_exits_1(self):
        result = self.cli("run", self.script('error("scenario failed")\n'))
        self.assertExit(result, 1)
        self.assertIn(b"scenario failed", result.stderr)

    def test_missing_script(self):
        result = self.cli("run", os.path.join(self.scratch, "absent.lua"))
        self.assertExit(result, 2)
        self.assertIn(b"absent.lua", result.stderr)

    def test_script_from_stdin(self):
        result = self.cli("run", "-", "a", input=b"io.write(select('#', ...), ...)\n")
        self.assertExit(result, 0)
        self.assertEqual(result.stdout, b"1a")


if __name__ == "__main__":
    unittest.main()
