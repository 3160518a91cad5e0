"""`cargo-lambda test`: scenario specs run by busted inside the binary. Exit statuses, busted's
options passed through, TAP and JUnit output read by real consumers (Perl's TAP::Parser,
Python's XML parser), the lambda.test assertions and their messages, a spec file whose setup
fails while the others run, missing busted, and --remote with --alias against a fake Lambda
endpoint."""

import os
import shutil
import subprocess
import unittest
import xml.etree.ElementTree as ElementTree

from fakelambda import ACCESS_KEY, SECRET_KEY, FakeLambda
from harness import ScratchTestCase

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


if __name__ == "__main__":
    unittest.main()
