"""The Lua Runtime API client (lambda.runtime) against a scripted Runtime API."""

import json
import os
import unittest

from harness import SOURCE_DIR, ScratchTestCase
from testserver import TestServer

ECHO = os.path.join(SOURCE_DIR, "fixtures", "functions", "echo.lua")
NEXT = "/2018-06-01/runtime/invocation/next"


class LuaRuntime(ScratchTestCase):
    def run_function(self, server, **env):
        return self.cli("run", ECHO, env=self.env(
            AWS_LAMBDA_RUNTIME_API="127.0.0.1:%d" % server.port,
            AWS_LAMBDA_FUNCTION_NAME="echo", **env), timeout=30)

    def invocation(self, server, request_id, payload, extra_headers=()):
        headers = [("Lambda-Runtime-Aws-Request-Id", request_id),
                   ("Lambda-Runtime-Deadline-Ms", "9999999999999"),
                   ("Lambda-Runtime-Invoked-Function-Arn",
                    "arn:aws:lambda:us-east-1:012345678912:function:echo")] + list(extra_headers)
        server.respond(200, headers=headers, body=payload)
        server.respond(202, body=b'{"status":"OK"}')

    def test_invocations_responses_and_errors(self):
        with TestServer() as server:
            self.invocation(server, "req-1", b'{"n": 1}', [
                ("Lambda-Runtime-Client-Context", '{"custom":{"k":"v"}}')])
            self.invocation(server, "req-2", b'{"fail": "on purpose"}')
            server.respond(500, body=b"gone")  # the API going away ends the loop
            result = self.run_function(server)
            self.assertExit(result, 1)
            paths = [r.path for r in server.requests]
            self.assertEqual(paths, [NEXT, "/2018-06-01/runtime/invocation/req-1/response",
                                     NEXT, "/2018-06-01/runtime/invocation/req-2/error", NEXT])
            answer = json.loads(server.requests[1].body)
            self.assertEqual(answer["echo"], {"n": 1})
            self.assertEqual(answer["function_name"], "echo")
            self.assertEqual(answer["request_id"], "req-1")
            self.assertEqual(answer["client_context"], {"custom": {"k": "v"}})
            error = json.loads(server.requests[3].body)
            self.assertEqual(error["errorType"], "Runtime.HandlerError")
            self.assertEqual(error["errorMessage"], "asked to fail: on purpose")
            self.assertEqual(server.requests[3].header("lambda-runtime-function-error-type"),
                             "Runtime.HandlerError")

    def test_a_returned_table_keeps_numbers_and_empty_arrays(self):
        # The handler hands back the decoded event; the runtime encodes it. Nothing may change
        # on the way: integers beyond 2^53, 17-digit floats, [] versus {}.
        handler = os.path.join(self.scratch, "identity.lua")
        with open(handler, "w") as out:
            out.write('local _, failure = require("lambda.runtime").start(function(event)\n'
                      '  return event\n'
                      'end)\n'
                      'io.stderr:write(tostring(failure), "\\n")\n'
                      'return 1\n')
        event = (b'{"big": 9007199254740993, "min": -9223372036854775808, "n": 200, '
                 b'"pi": 3.141592653589793, "tiny": 5e-324, "list": [], "map": {}, '
                 b'"nested": [[], [1, 2.5, null, "a/b"]]}')
        with TestServer() as server:
            self.invocation(server, "req-1", event)
            server.respond(500, body=b"gone")
            result = self.cli("run", handler, env=self.env(
                AWS_LAMBDA_RUNTIME_API="127.0.0.1:%d" % server.port), timeout=30)
            self.assertExit(result, 1)
            self.assertEqual(server.requests[1].path,
                             "/2018-06-01/runtime/invocation/req-1/response")
            answer = server.requests[1].body
        self.assertEqual(json.loads(answer), json.loads(event))
        for literal in (b'"big":9007199254740993', b'"n":200,', b'"pi":3.141592653589793',
                        b'"list":[]', b'"map":{}', b'"a/b"'):
            self.assertIn(literal, answer)

    def test_without_runtime_api(self):
        result = self.cli("run", ECHO)
        self.assertExit(result, 1)
        self.assertIn(b"AWS_LAMBDA_RUNTIME_API", result.stderr)


if __name__ == "__main__":
    unittest.main()
