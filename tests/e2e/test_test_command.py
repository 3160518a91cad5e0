"""`cargo-lambda test`: scenario specs run by busted inside the binary. Exit statuses, busted's
options passed through, TAP and JUnit output read by real consumers (Perl's TAP::Parser,
Python's XML parser), the lambda.test assertions and their messages, a spec file whose setup
fails while the others run, missing busted, and --remote with --alias against a fake Lambda
endpoint."""

import os
import shutil
import signal
import subprocess
import time
import unittest
import xml.etree.ElementTree as ElementTree

from fakelambda import ACCESS_KEY, SECRET_KEY, FakeLambda
from harness import BIN, SOURCE_DIR, ScratchTestCase

HAS_BUSTED = os.path.exists("/usr/share/lua/5.4/busted/runner.lua")
HAS_PERL_TAP = shutil.which("perl") is not None and subprocess.run(
    ["perl", "-MTAP::Parser", "-e", "1"], capture_output=True).returncode == 0

PASSING = '''
describe("arithmetic", function()
  it("adds", function() assert.are.equal(2, 1 + 1) end)
  it("uses the library", function()
    assert.same({a = 1}, require("lambda").json.decode('{"a":1}'))
  end)
end)
'''

FAILING = '''
describe("broken", function()
  it("fails", function() assert.are.equal(3, 1 + 1) end)
  it("passes", function() assert.is_true(true) end)
end)
'''

ASSERTIONS = '''
local lambda = require("lambda")
local function result(fields)
  -- A result as lambda.client makes them, without an invocation.
  local r = setmetatable(fields, getmetatable(
    lambda.client{address = "127.0.0.1", port = 1, tls = false}:invoke("f", {})))
  return r
end
describe("assertions", function()
  it("invoked", function()
    assert.invoked(result{ok = true, status = 200, body = "{}", duration = 0.01})
    assert.is_not.invoked(result{ok = false, error = {source = "function", type = "T", line = "T: m"}})
  end)
  it("function and service errors", function()
    local failed = result{ok = false, error = {source = "function", type = "Boom", line = "Boom: x"}}
    assert.function_error(failed)
    assert.function_error(failed, "Boom")
    assert.is_not.function_error(failed, "Other")
    assert.service_error(result{ok = false, error = {source = "service", type = "Throttled"}},
      "Throttled")
  end)
  it("json_equal", function()
    assert.json_equal({a = {1, 2}}, result{ok = true, body = '{"a":[1,2]}'})
    assert.json_equal('{"b": true}', {b = true})
    assert.json_equal({n = 1}, '{"n": 1.0}')
    assert.json_equal('{"n": 1.0}', {n = 1})
    assert.is_not.json_equal({n = 1}, '{"n": 1.5}')
  end)
  it("faster_than", function()
    assert.faster_than(1, result{ok = true, duration = 0.2})
    assert.is_not.faster_than(0.1, result{ok = true, duration = 0.2})
  end)
  it("shows a diff", function()
    assert.json_equal({name = "Ada", age = 36, tags = {"a"}},
      result{ok = true, body = '{"name":"Ada","age":37,"tags":["a"]}'})
  end)
  it("names the error of a failed invocation", function()
    assert.invoked(result{ok = false, error = {source = "transport", type = "transport",
      line = "connection refused"}})
  end)
end)
'''


@unittest.skipUnless(HAS_BUSTED, "busted is not installed (apt-get install lua-busted)")
class TestCommand(ScratchTestCase):
    def write(self, name, text):
        path = os.path.join(self.scratch, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as handle:
            handle.write(text)
        return path

    def test_all_passing_exits_0(self):
        self.write("spec/math_spec.lua", PASSING)
        result = self.cli("test")  # spec/ of the current directory by default
        self.assertExit(result, 0)
        self.assertIn(b"2 successes / 0 failures / 0 errors", result.stdout)

    def test_a_failure_exits_1_and_the_others_still_run(self):
        self.write("spec/broken_spec.lua", FAILING)
        self.write("spec/math_spec.lua", PASSING)
        result = self.cli("test", "spec")
        self.assertExit(result, 1)
        self.assertIn(b"3 successes / 1 failure / 0 errors", result.stdout)

    def test_a_spec_file_whose_setup_fails_fails_alone(self):
        self.write("spec/a_setup_spec.lua", 'setup(function() error("no database") end)\n'
                   'describe("x", function() it("never runs", function() end) end)\n')
        self.write("spec/b_math_spec.lua", PASSING)
        result = self.cli("test", "spec")
        self.assertExit(result, 1)
        self.assertIn(b"no database", result.stdout)
        self.assertIn(b"2 successes", result.stdout)

    def test_busted_options_pass_through(self):
        self.write("spec/math_spec.lua", PASSING)
        result = self.cli("test", "--filter", "adds", "spec", "-o", "TAP")
        self.assertExit(result, 0)
        self.assertEqual(result.stdout.decode().split(), ["ok", "1", "-", "arithmetic", "adds",
                                                           "1..1"])

    @unittest.skipUnless(HAS_PERL_TAP, "Perl's TAP::Parser is not installed")
    def test_tap_output_read_by_perls_tap_parser(self):
        self.write("spec/broken_spec.lua", FAILING)
        self.write("spec/math_spec.lua", PASSING)
        result = self.cli("test", "spec", "-o", "TAP")
        self.assertExit(result, 1)
        tap = self.write("out.tap", result.stdout.decode())
        parsed = subprocess.run(
            ["perl", "-MTAP::Parser", "-e",
             'my $p = TAP::Parser->new({source => $ARGV[0]}); 1 while $p->next;'
             'print join(" ", scalar $p->passed, scalar $p->failed, $p->tests_planned,'
             ' $p->is_good_plan ? "good" : "bad"), "\\n";', tap],
            capture_output=True, text=True, check=True)
        self.assertEqual(parsed.stdout.split(), ["3", "1", "4", "good"])

    def test_junit_output_read_by_an_xml_parser(self):
        self.write("spec/broken_spec.lua", FAILING)
        self.write("spec/math_spec.lua", PASSING)
        result = self.cli("test", "spec", "-o", "junit")
        self.assertExit(result, 1)
        root = ElementTree.fromstring(result.stdout)
        suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
        self.assertEqual(sum(int(s.get("tests")) for s in suites), 4)
        self.assertEqual(sum(int(s.get("failures")) for s in suites), 1)
        cases = list(root.iter("testcase"))
        self.assertEqual(len(cases), 4)
        failed = [c.get("name") for c in cases if c.find("failure") is not None]
        self.assertEqual(len(failed), 1)
        self.assertIn("fails", failed[0])

    def test_lambda_assertions_and_their_messages(self):
        self.write("spec/assertions_spec.lua", ASSERTIONS)
        result = self.cli("test", "spec", "-o", "TAP")
        self.assertExit(result, 1)
        out = result.stdout.decode()
        for name in ("invoked", "function and service errors", "json_equal", "faster_than"):
            self.assertIn("ok ", [line for line in out.splitlines() if name in line][0][:3])
        self.assertIn("The JSON documents differ (- expected, + actual)", out)
        self.assertIn('-   "age": 36,', out)
        self.assertIn('+   "age": 37,', out)
        self.assertIn("Expected the invocation to succeed, but transport error: "
                      "connection refused", out)

    def test_usage_errors_exit_2(self):
        self.write("spec/math_spec.lua", PASSING)
        for args, fragment in ((["spec", "--no-such-busted-flag"], b"--no-such-busted-flag"),
                               (["--remote", "--invoke-port", "9000"], b"--remote"),
                               (["--region", "eu-west-1"], b"--remote")):
            result = self.cli("test", *args)
            self.assertExit(result, 2)
            self.assertIn(fragment, result.stderr + result.stdout)

    def test_no_specs_is_a_usage_error(self):
        result = self.cli("test")
        self.assertExit(result, 2)
        self.assertOneLineError(result, "no specs to run", "spec")

    def test_missing_busted_names_the_package(self):
        self.write("spec/math_spec.lua", PASSING)
        result = self.cli("test", "spec", env=self.env(LUA_PATH_5_4="./?.lua",
                                                       LUA_CPATH_5_4="./?.so"))
        self.assertExit(result, 2)
        self.assertOneLineError(result, "busted", "lua-busted")

    def test_help_shows_ours_and_busteds(self):
        result = self.cli("test", "--help")
        self.assertExit(result, 0)
        self.assertIn(b"--remote", result.stdout)
        self.assertIn(b"--output=LIBRARY", result.stdout)

    def test_remote_with_alias_goes_to_the_deployed_function(self):
        self.write("spec/remote_spec.lua", '''
local lambda = require("lambda")
local fixture = lambda.test.fixture()
describe("deployed", function()
  it("answers", function()
    assert.is_true(fixture.remote)
    local result = lambda.invoke{name = "greeter", payload = {name = "Ada"}}
    assert.invoked(result)
    assert.json_equal({hello = "Ada"}, result)
  end)
end)
''')
        with FakeLambda() as fake:
            fake.respond_json(200, {"hello": "Ada"})
            env = self.env(AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY,
                           AWS_ENDPOINT_URL_LAMBDA="http://127.0.0.1:%d" % fake.port)
            result = self.cli("test", "spec", "--remote", "--alias", "live", "--region",
                              "eu-west-1", env=env)
            self.assertExit(result, 0)
            request = fake.requests[0]
            self.assertEqual(request.path,
                             "/2015-03-31/functions/greeter/invocations?Qualifier=live")
            self.assertTrue(fake.verdicts[0][0], fake.verdicts[0])
            self.assertEqual(fake.verdicts[0][3], "eu-west-1")

    def fixture_spec(self, marker, body):
        probe = os.path.join(SOURCE_DIR, "fixtures", "functions", "probe.lua")
        return self.write("spec/fixture_spec.lua", """
local lambda = require("lambda")
local fixture = lambda.test.fixture{command = {%r, "run", %r}, env = {CLC_MARKER = %r}}
describe("the emulator fixture", function()
%s
end)
""" % (BIN, probe, marker, body))

    def processes_with(self, marker):
        """Processes whose environment holds marker (the fixture's functions)."""
        found = []
        needle = ("CLC_MARKER=" + marker).encode()
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open("/proc/%s/environ" % pid, "rb") as handle:
                    if needle in handle.read().split(b"\0"):
                        found.append(int(pid))
            except OSError:
                pass
        return found

    def test_fixture_starts_the_emulator_and_lambda_invoke_goes_to_it(self):
        marker = "fixture-%d" % os.getpid()
        self.fixture_spec(marker, """
  it("invokes the function through the default client", function()
    assert.is_false(fixture.remote)
    local result = lambda.invoke{name = "probe", payload = {action = "echo", n = 7}}
    assert.invoked(result)
    assert.json_equal({action = "echo", n = 7}, lambda.json.encode(result:json().event))
  end)
  it("reports a function error", function()
    local result = fixture.client:invoke("probe", {payload = {action = "fail", message = "no"}})
    assert.function_error(result, "Runtime.HandlerError")
  end)
""")
        result = self.cli("test", "spec", "-o", "TAP", timeout=120)
        self.assertExit(result, 0)
        self.assertIn(b"ok 2", result.stdout)
        self.assertEqual(self.processes_with(marker), [])

    def test_ctrl_c_stops_the_run_with_the_emulator_and_its_functions(self):
        marker = "interrupt-%d" % os.getpid()
        ready = os.path.join(self.scratch, "ready")
        self.fixture_spec(marker, """
  it("waits for Ctrl-C", function()
    assert.invoked(lambda.invoke{name = "probe", payload = {action = "echo"}})
    local file = assert(io.open(%r, "w"))
    file:close()
    lambda.sleep(120)
  end)
""" % ready)
        process = subprocess.Popen([BIN, "test", "spec"], cwd=self.scratch, env=self.env(),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while not os.path.exists(ready) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertTrue(os.path.exists(ready), "the spec never reached its wait")
        self.assertNotEqual(self.processes_with(marker), [])
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=20)
        self.assertEqual(process.returncode, 130, err)
        self.assertIn(b"interrupted", err)
        deadline = time.monotonic() + 10
        while self.processes_with(marker) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(self.processes_with(marker), [])


if __name__ == "__main__":
    unittest.main()
