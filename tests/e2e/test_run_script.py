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
                'local lambda = require("lambda")\n'
                'local port, name = ...\n'
                'local r = assert(lambda.invoke({name = name, payload = {x = 1},\n'
                '  address = "127.0.0.1", port = math.tointeger(tonumber(port))}))\n'
                'assert(r.ok, tostring(r))\n'
                'io.write(r.status, "\\n", lambda.json.pretty(r.body), "\\n")\n'
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

    def test_warnings_are_off_until_turned_on(self):
        # The state is made with lua_newstate (its own allocator, src/host/lua_pool.c), so the
        # host sets what luaL_newstate would: warn() prints nothing until "@on", then one
        # "Lua warning: " line per warning (pieces joined), until "@off".
        path = self.script('warn("hidden") warn("@on") warn("shown ", "in ", "pieces")\n'
                           'warn("@unknown") warn("again") warn("@off") warn("hidden too")\n'
                           'io.write("done")\n')
        result = self.cli("run", path)
        self.assertExit(result, 0)
        self.assertEqual(result.stdout, b"done")
        self.assertEqual(result.stderr,
                         b"Lua warning: shown in pieces\nLua warning: again\n")

    def test_a_script_that_churns_memory_runs_on_the_state_allocator(self):
        # Tables, strings and closures of every small size and past the pooled sizes, made
        # and collected over and over, growing and shrinking (realloc across size classes).
        path = self.script(
            'local kept, sum = {}, 0\n'
            'for round = 1, 200 do\n'
            '  local t = {}\n'
            '  for i = 1, (round % 40) + 1 do t[i] = string.rep("x", i * 7 + round % 13) end\n'
            '  for i = #t, 1, -1 do t[i] = nil end\n'
            '  t.f = function() return round end\n'
            '  kept[round % 17 + 1] = { t, t.f() }\n'
            '  sum = sum + kept[round % 17 + 1][2]\n'
            '  if round % 50 == 0 then collectgarbage() end\n'
            'end\n'
            'io.write(sum)\n')
        result = self.cli("run", path)
        self.assertExit(result, 0)
        self.assertEqual(result.stdout, str(sum(range(1, 201))).encode())

    def test_help_points_at_the_public_library(self):
        # The program's own modules are internal (docs/scripting.md, section 8): the help
        # names the library a script is meant to use, and where it is documented.
        text = self.cli("help", "run").stdout.decode()
        self.assertIn('require "lambda"', text)
        self.assertIn("docs/scripting.md", text)
        self.assertNotIn("own modules", text)

    def test_a_lua_c_module_from_debian_loads(self):
        # Lua is linked into the binary; a C module on package.cpath (here lua-filesystem,
        # which busted depends on) must find the Lua API in it, and share its state.
        path = self.script(
            'if not package.searchpath("lfs", package.cpath) then io.write("absent") return end\n'
            'local lfs = require("lfs")\n'
            'io.write(lfs.currentdir() == require("lambda").fs.cwd() and "same" or "differs")\n')
        result = self.cli("run", path)
        self.assertExit(result, 0)
        if result.stdout == b"absent":
            self.skipTest("lua-filesystem is not installed (apt-get install lua-filesystem)")
        self.assertEqual(result.stdout, b"same")

    def test_missing_script(self):
        result = self.cli("run", os.path.join(self.scratch, "absent.lua"))
        self.assertExit(result, 2)
        self.assertIn(b"absent.lua", result.stderr)

    def test_modules_beside_the_script_are_found_and_never_mixed_with_ours(self):
        # A script folder with modules named like the program's own (cli, main, commands.run)
        # and a script run from elsewhere: its requires find its own modules, and the program
        # (which is running the very `run` command) is not replaced by them.
        folder = os.path.join(self.scratch, "scenario")
        os.makedirs(os.path.join(folder, "commands"))
        for name, text in (("cli.lua", 'return {who = "user cli"}\n'),
                           ("main.lua", 'return {who = "user main"}\n'),
                           (os.path.join("commands", "run.lua"), 'return {who = "user run"}\n')):
            with open(os.path.join(folder, name), "w") as handle:
                handle.write(text)
        with open(os.path.join(folder, "script.lua"), "w") as handle:
            handle.write('io.write(require("cli").who, ";", require("main").who, ";",\n'
                         '  require("commands.run").who, ";",\n'
                         '  type(require("cargo_lambda.cli").parse), ";",\n'
                         '  type(require("lambda.json").decode))\n'
                         'return 3\n')
        result = self.cli("run", os.path.join("scenario", "script.lua"), cwd=self.scratch)
        self.assertExit(result, 3)
        self.assertEqual(result.stdout, b"user cli;user main;user run;function;function")

    def test_script_from_stdin(self):
        result = self.cli("run", "-", "a", input=b"io.write(select('#', ...), ...)\n")
        self.assertExit(result, 0)
        self.assertEqual(result.stdout, b"1a")


if __name__ == "__main__":
    unittest.main()
