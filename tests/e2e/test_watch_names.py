"""Function names at the emulator's door: only AWS's forms (name, name:qualifier, partial and
full ARN) get in, every other name is a 400 in the Lambda service's shape on each route that
takes one, and an ARN or an alias means the function it names, with the qualifier in the
invokedFunctionArn the function sees (`cargo-lambda watch` running fixtures/functions/probe.lua)."""

import json
import os
import time
import unittest
import urllib.parse

from harness import ScratchTestCase
from watchharness import Emulator, probe_argv

ARN = "arn:aws:lambda:us-east-1:012345678912:function:"
# Well under the 30 s an HTTP client waits: a name must never leave its invoker waiting.
AT_ONCE = 5.0

BAD_NAMES = [
    "a\0b",                                   # a NUL byte: once a 500 and a hung name
    "a\r\nb",                                 # CRLF: once a misleading Runtime.ExitError
    "gam ma",
    "a/b",
    "na.me",
    "f:",                                     # empty qualifier
    "f:a:b",
    "f:bad qualifier",
    ":f",
    "x" * 65,                                 # a name is at most 64 characters
    "f:" + "q" * 129,                         # a qualifier at most 128
    "12345678901:function:f",                 # an account is 12 digits
    "arn:aws:lambda:us-east-1:012345678912:function:",
    "arn:aws:s3:us-east-1:012345678912:function:f",
    "arn:aws:lambda:us-east-1:012345678912:layer:f",
    "arn:aws:lambda:us-east-1:012345678912:function:f:a:b",
    "arn:aws:lambda:" + "r" * 100 + "-1:012345678912:function:" + "f" * 50,  # over 170
    "\u00e9t\u00e9",
]


def quoted(name):
    return urllib.parse.quote(name, safe="")


class NamesTestCase(ScratchTestCase):
    def emulator(self, *argv, env=None, flags=()):
        return Emulator(*(argv or probe_argv()), flags=flags, cwd=self.scratch,
                        env=dict({"HOME": self.home}, **(env or {})))

    def assertServiceError(self, answer, status, kind, *fragments):
        status_got, headers, body = answer
        self.assertEqual(status_got, status, body)
        self.assertEqual(headers.get("x-amzn-errortype"), kind, body)
        self.assertTrue(headers.get("x-amzn-requestid"))
        self.assertEqual(headers.get("content-type"), "application/json")
        document = json.loads(body)
        self.assertEqual(document.get("Type"), "User", document)
        for fragment in fragments:
            self.assertIn(fragment, document.get("message", ""))
        return document

    def assertOk(self, answer):
        status, headers, body = answer
        self.assertEqual(status, 200, body)
        self.assertNotIn("x-amz-function-error", headers, body)
        return json.loads(body)

    def assertNoTraceback(self, emu):
        output = emu.output()
        self.assertNotIn("traceback", output)
        self.assertNotIn("error in callback", output)


class BadNamesTest(NamesTestCase):
    def test_every_bad_name_is_a_400_at_once_on_every_route(self):
        with self.emulator(flags=["-v"]) as emu:
            for name in BAD_NAMES:
                with self.subTest(name=name):
                    started = time.monotonic()
                    answer = emu.invoke(name, {}, timeout=AT_ONCE)
                    self.assertServiceError(answer, 400, "ValidationException",
                                            "at 'functionName' failed to satisfy constraint")
                    # The name is echoed as AWS does (in the JSON body only, escaped there).
                    self.assertIn(name, json.loads(answer[2])["message"])
                    path = ("/2021-11-15/functions/%s/response-streaming-invocations"
                            % quoted(name))
                    self.assertServiceError(emu.request("POST", path, b"{}", timeout=AT_ONCE),
                                            400, "ValidationException")
                    self.assertServiceError(emu.request("GET", "/lambda-url/%s/x" % quoted(name),
                                                        timeout=AT_ONCE),
                                            400, "ValidationException")
                    self.assertServiceError(emu.request(
                        "GET", "/.rt/%s/2018-06-01/runtime/invocation/next" % quoted(name),
                        timeout=AT_ONCE), 400, "ValidationException")
                    self.assertLess(time.monotonic() - started, AT_ONCE)
            # Asked again, the worst of them is still answered at once: nothing was left behind.
            self.assertServiceError(emu.invoke("a\0b", {}, timeout=AT_ONCE), 400,
                                    "ValidationException")
            # No function started for any of them, and good names still work.
            self.assertNotIn("starting ", emu.output())
            self.assertEqual(self.assertOk(emu.invoke("probe", {}))["function_name"], "probe")
            self.assertEqual(emu.output().count("starting "), 1)
            self.assertNoTraceback(emu)

    def test_the_longest_names_aws_takes_are_accepted(self):
        # 64 characters of name, 170 in all (the qualifier parameter may have 128).
        name = "n" * 64
        qualifier = "Q" * 105
        with self.emulator() as emu:
            answer = self.assertOk(emu.invoke(name + ":" + qualifier, {}))
            self.assertEqual(answer["function_name"], name)
            self.assertEqual(answer["invoked_function_arn"], ARN + name + ":" + qualifier)
            path = "/2015-03-31/functions/probe/invocations?Qualifier=" + "L" * 128
            self.assertEqual(self.assertOk(emu.request("POST", path, b"{}"))
                             ["invoked_function_arn"], ARN + "probe:" + "L" * 128)
            full = "arn:aws-us-gov:lambda:us-east-1:012345678912:function:" + "g" * 50 + ":v1"
            self.assertEqual(self.assertOk(emu.invoke(full, {}))["function_name"], "g" * 50)

    def test_a_bad_qualifier_parameter_is_a_400(self):
        with self.emulator() as emu:
            for qualifier in ("a b", "a:b", "q" * 129):
                path = "/2015-03-31/functions/probe/invocations?Qualifier=" + quoted(qualifier)
                self.assertServiceError(emu.request("POST", path, b"{}"), 400,
                                        "ValidationException", "at 'qualifier'")
            self.assertNoTraceback(emu)

    def test_two_different_qualifiers_are_aws_s_400(self):
        with self.emulator() as emu:
            path = "/2015-03-31/functions/%s/invocations?Qualifier=prod" % quoted("probe:live")
            self.assertServiceError(
                emu.request("POST", path, b"{}"), 400, "InvalidParameterValueException",
                "The derived qualifier from the function name does not match the specified "
                "qualifier.")
            # The same one twice is no conflict.
            path = "/2015-03-31/functions/%s/invocations?Qualifier=live" % quoted("probe:live")
            self.assertEqual(self.assertOk(emu.request("POST", path, b"{}"))
                             ["invoked_function_arn"], ARN + "probe:live")

    def test_an_arn_of_another_region_is_not_found(self):
        with self.emulator(flags=["--region", "eu-west-2"]) as emu:
            self.assertServiceError(
                emu.invoke("arn:aws:lambda:us-east-1:012345678912:function:probe", {}), 404,
                "ResourceNotFoundException",
                "Functions from 'us-east-1' are not reachable in this region ('eu-west-2')")
            answer = self.assertOk(
                emu.invoke("arn:aws:lambda:eu-west-2:012345678912:function:probe", {}))
            self.assertEqual(answer["invoked_function_arn"],
                             "arn:aws:lambda:eu-west-2:012345678912:function:probe")


class QualifiedNamesTest(NamesTestCase):
    def test_arns_and_aliases_mean_the_function_and_share_its_instance(self):
        with self.emulator() as emu:
            plain = self.assertOk(emu.invoke("probe", {"action": "echo"}))
            self.assertEqual(plain["invoked_function_arn"], ARN + "probe")
            cases = [
                ("probe:live", ARN + "probe:live"),
                ("probe:$LATEST", ARN + "probe"),
                ("probe:7", ARN + "probe:7"),
                ("123456789012:function:probe", ARN + "probe"),
                ("123456789012:function:probe:v2", ARN + "probe:v2"),
                ("arn:aws:lambda:us-east-1:123456789012:function:probe", ARN + "probe"),
                ("arn:aws:lambda:us-east-1:123456789012:function:probe:live", ARN + "probe:live"),
            ]
            for name, arn in cases:
                with self.subTest(name=name):
                    status, headers, body = emu.invoke(name, {"action": "echo"})
                    answer = self.assertOk((status, headers, body))
                    self.assertEqual(answer["function_name"], "probe")
                    self.assertEqual(answer["invoked_function_arn"], arn)
                    self.assertEqual(headers.get("x-amz-executed-version"), "$LATEST")
                    # One instance pool per function: the alias reached the same process.
                    self.assertEqual(answer["instance"], plain["instance"])
            env = self.assertOk(emu.invoke(cases[-1][0], {"action": "env"}))
            self.assertEqual(env["AWS_LAMBDA_FUNCTION_NAME"], "probe")
            self.assertEqual(env["AWS_LAMBDA_LOG_GROUP_NAME"], "/aws/lambda/probe")

    def test_the_qualifier_parameter_reaches_the_arn(self):
        with self.emulator() as emu:
            for qualifier, arn in (("live", ARN + "probe:live"), ("$LATEST", ARN + "probe"),
                                   ("", ARN + "probe")):
                path = "/2015-03-31/functions/probe/invocations?Qualifier=" + quoted(qualifier)
                status, headers, body = emu.request("POST", path, b"{}")
                self.assertEqual(self.assertOk((status, headers, body))["invoked_function_arn"],
                                 arn)
                self.assertEqual(headers.get("x-amz-executed-version"), "$LATEST")

    def test_function_urls_and_the_streaming_route_take_qualified_names(self):
        with self.emulator() as emu:
            status, _, body = emu.request("GET", "/lambda-url/%s/hi" % quoted("probe:live"))
            self.assertEqual(status, 200, body)
            self.assertEqual(json.loads(body)["invoked_function_arn"], ARN + "probe:live")
            path = "/2021-11-15/functions/%s/response-streaming-invocations" % quoted(
                "arn:aws:lambda:us-east-1:012345678912:function:probe:blue")
            status, headers, body = emu.request("POST", path, b"{}")
            self.assertEqual(status, 200, body)
            self.assertIn(b"function:probe:blue", body)


class ProjectNamesTest(NamesTestCase):
    def test_an_arn_names_a_project_function(self):
        root = os.path.join(self.scratch, "project")
        os.makedirs(os.path.join(root, "src", "bin"))
        with open(os.path.join(root, "Cargo.toml"), "w") as handle:
            handle.write('[package]\nname = "two"\nversion = "0.1.0"\nedition = "2021"\n')
        for name in ("alpha", "beta"):
            with open(os.path.join(root, "src", "bin", name + ".rs"), "w") as handle:
                handle.write("fn main() {}\n")
        # CARGO points nowhere: a known function gets a start error, an unknown one a 404.
        with Emulator(flags=["--ignore-changes"], cwd=root,
                      env={"HOME": self.home, "CARGO": "/nonexistent/cargo"}) as emu:
            emu.wait_for_output("functions: ")
            status, headers, body = emu.invoke(ARN + "alpha:live", {})
            self.assertEqual(status, 200, body)
            self.assertEqual(json.loads(body)["errorType"], "Runtime.StartError")
            self.assertServiceError(emu.invoke(ARN + "gamma", {}), 404,
                                    "ResourceNotFoundException", ARN + "gamma")


if __name__ == "__main__":
    unittest.main()
