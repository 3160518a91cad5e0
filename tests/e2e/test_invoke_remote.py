"""`invoke --remote` against a fake Lambda endpoint that checks every signature."""

import base64
import json
import os
import socket
import time
import unittest

from fakelambda import ACCESS_KEY, SECRET_KEY, SESSION_TOKEN, FakeLambda
from harness import ScratchTestCase, ThroughCurl

ARN = "arn:aws:lambda:us-west-2:123456789012:function:my-function"


class RemoteTestCase(ScratchTestCase):
    def setUp(self):
        super().setUp()
        self.lambda_ = FakeLambda()
        self.lambda_.__enter__()
        self.addCleanup(self.lambda_.__exit__, None, None, None)

    def env(self, **extra):
        base = {
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": os.path.join(self.scratch, "no-config"),
            "AWS_SHARED_CREDENTIALS_FILE": os.path.join(self.scratch, "no-credentials"),
        }
        base.update(extra)
        return super().env(**base)

    def remote(self, *args, env=None, **kwargs):
        return self.cli("invoke", "--remote", "--endpoint-url", self.lambda_.url(""), *args,
                        env=env if env is not None else self.env(), **kwargs)

    def only_request(self):
        requests = self.lambda_.requests
        self.assertEqual(len(requests), 1, "expected exactly one request")
        ok, reason = self.lambda_.verdicts[0][:2]
        self.assertTrue(ok, "signature rejected: %s" % reason)
        return requests[0]

    def assertNoSecrets(self, result):
        for secret in (SECRET_KEY, SESSION_TOKEN):
            self.assertNotIn(secret.encode(), result.stdout + result.stderr)


class Requests(RemoteTestCase):
    def test_signed_invoke_and_payload(self):
        self.lambda_.respond(200, body=b'{"ok":1}')
        result = self.remote("-A", '{"a": 1}', "my-function", "--region", "eu-west-1")
        self.assertExit(result, 0)
        self.assertEqual(result.stdout, b'{"ok":1}\n')
        request = self.only_request()
        self.assertEqual(request.method, "POST")
        self.assertEqual(request.path, "/2015-03-31/functions/my-function/invocations")
        self.assertEqual(request.body, b'{"a": 1}')
        self.assertIsNone(request.header("content-type"))
        authorization = request.header("authorization")
        self.assertIn("Credential=%s/" % ACCESS_KEY, authorization)
        self.assertIn("/eu-west-1/lambda/aws4_request", authorization)
        self.assertEqual(self.lambda_.verdicts[0][3:], ("eu-west-1", "lambda"))

    def test_names_qualifiers_and_arns(self):
        cases = [
            (["my-function:live"], "/2015-03-31/functions/my-function%3Alive/invocations"),
            ([ARN], "/2015-03-31/functions/" + ARN.replace(":", "%3A") + "/invocations"),
            (["123456789012:function:f"], "/2015-03-31/functions/123456789012%3Afunction%3Af/invocations"),
            (["f", "--alias", "live"], "/2015-03-31/functions/f/invocations?Qualifier=live"),
            (["f", "--qualifier", "$LATEST"], "/2015-03-31/functions/f/invocations?Qualifier=%24LATEST"),
            (["f", "-a", "7"], "/2015-03-31/functions/f/invocations?Qualifier=7"),
        ]
        for args, path in cases:
            self.lambda_.respond(200, body=b"{}")
            result = self.remote("-A", "{}", *args)
            self.assertExit(result, 0)
            request = self.lambda_.requests[-1]
            self.assertEqual(request.path, path)
            ok, reason = self.lambda_.verdicts[-1][:2]
            self.assertTrue(ok, "%s: %s" % (args, reason))

    def test_default_function_is_refused(self):
        result = self.remote("-A", "{}")
        self.assertExit(result, 2)
        self.assertOneLineError(result, "FUNCTION_NAME", "deployed")
        self.assertEqual(self.lambda_.requests, [])

    def test_client_context_is_base64(self):
        context = '{"custom": {"k": "v"}}'
        self.assertExit(self.remote("-A", "{}", "f", "--client-context-ascii", context), 0)
        header = self.only_request().header("x-amz-client-context")
        self.assertEqual(base64.b64decode(header).decode(), context)
        signed = self.only_request().header("authorization")
        self.assertIn("x-amz-client-context", signed)

    def test_client_context_over_the_limit(self):
        big = json.dumps({"custom": {"k": "x" * 2700}})
        result = self.remote("-A", "{}", "f", "--client-context-ascii", big)
        self.assertExit(result, 2)
        self.assertOneLineError(result, "client context", "3583")
        self.assertEqual(self.lambda_.requests, [])

    def test_session_token_is_sent_and_signed(self):
        env = self.env(AWS_SESSION_TOKEN=SESSION_TOKEN)
        result = self.remote("-A", "{}", "f", "-v", env=env)
        self.assertExit(result, 0)
        request = self.only_request()
        self.assertEqual(request.header("x-amz-security-token"), SESSION_TOKEN)
        self.assertIn("x-amz-security-token", request.header("authorization"))
        self.assertNoSecrets(result)
        signature = request.header("authorization").split("Signature=")[1]
        self.assertNotIn(signature.encode(), result.stderr)

    def test_payload_limits_are_checked_before_sending(self):
        path = os.path.join(self.scratch, "big.json")
        with open(path, "wb") as f:
            f.write(b'"' + b"x" * (6 * 1024 * 1024) + b'"')
        result = self.remote("-F", path, "f")
        self.assertExit(result, 2)
        self.assertOneLineError(result, "6 MB")
        with open(path, "wb") as f:
            f.write(b'"' + b"x" * (1024 * 1024) + b'"')
        result = self.remote("-F", path, "f", "--invocation-type", "Event")
        self.assertExit(result, 2)
        self.assertOneLineError(result, "1 MB", "Event")
        self.assertEqual(self.lambda_.requests, [])

    def test_tls_flags_conflict_with_remote(self):
        result = self.remote("-A", "{}", "f", "--tls-cert", "x.pem")
        self.assertExit(result, 2)
        self.assertOneLineError(result, "--tls-cert", "--remote")


class Answers(RemoteTestCase):
    def test_empty_payload_prints_ok(self):
        self.lambda_.respond(200, body=b"")
        result = self.remote("-A", "{}", "f")
        self.assertExit(result, 0)
        self.assertEqual(result.stdout, b"OK\n")

    def test_json_output(self):
        self.lambda_.respond(200, body=b'{"b":1.50,"a":[]}')
        result = self.remote("-A", "{}", "f", "-o", "json")
        self.assertExit(result, 0)
        self.assertEqual(result.stdout, b'{\n  "b": 1.50,\n  "a": []\n}\n')

    def test_function_error_with_log_tail(self):
        log = "START RequestId: 1\nsomething broke\nEND RequestId: 1\n"
        self.lambda_.respond(200, headers=[
            ("X-Amz-Function-Error", "Unhandled"),
            ("X-Amz-Log-Result", base64.b64encode(log.encode()).decode()),
            ("X-Amz-Executed-Version", "$LATEST"),
        ], body=b'{"errorType":"Error","errorMessage":"boom","trace":[]}')
        result = self.remote("-A", "{}", "f", "--log-type", "Tail")
        self.assertExit(result, 1)
        self.assertEqual(result.stdout, b"")
        self.assertEqual(result.stderr.decode(), log + "Error: Error: boom\n")
        self.assertEqual(self.only_request().header("x-amz-log-type"), "Tail")

    def test_event_and_dry_run(self):
        for kind, status in (("Event", 202), ("DryRun", 204)):
            self.lambda_.respond(status, body=b"")
            result = self.remote("-A", "{}", "f", "--invocation-type", kind.lower())
            self.assertExit(result, 0)
            self.assertEqual(result.stdout, b"")
            self.assertEqual(self.lambda_.requests[-1].header("x-amz-invocation-type"), kind)

    def test_service_errors(self):
        self.lambda_.respond_service_error(404, "ResourceNotFoundException",
                                           "Function not found: " + ARN)
        result = self.remote("-A", "{}", ARN)
        self.assertExit(result, 3)
        self.assertEqual(result.stderr.decode(),
                         "Error: ResourceNotFoundException: Function not found: %s\n" % ARN)
        self.lambda_.respond(400, headers=[("x-amzn-ErrorType",
                                            "InvalidRequestContentException:http://internal/")],
                             body=b'{"Type":"User","message":"Could not parse request body"}')
        result = self.remote("-A", "not json", "f")
        self.assertExit(result, 3)
        self.assertEqual(result.stderr,
                         b"Error: InvalidRequestContentException: Could not parse request body\n")
        self.lambda_.respond(409, body=b'{"__type":"ResourceConflictException","message":"busy"}')
        result = self.remote("-A", "{}", "f")
        self.assertExit(result, 3)
        self.assertEqual(result.stderr, b"Error: ResourceConflictException: busy\n")

    def test_bad_signature_is_reported(self):
        env = self.env(AWS_SECRET_ACCESS_KEY="not-the-right-secret")
        result = self.remote("-A", "{}", "f", env=env)
        self.assertExit(result, 3)
        self.assertOneLineError(result, "InvalidSignatureException")
        self.assertNotIn(b"not-the-right-secret", result.stderr)


class Retries(RemoteTestCase):
    def test_throttling_honours_retry_after(self):
        self.lambda_.respond_service_error(429, "TooManyRequestsException", "Rate exceeded",
                                           headers=[("Retry-After", "1")])
        self.lambda_.respond(200, body=b"done")
        started = time.monotonic()
        result = self.remote("-A", "{}", "f", "--retry-attempts", "3")
        self.assertExit(result, 0)
        self.assertGreaterEqual(time.monotonic() - started, 1.0)
        self.assertEqual(result.stdout, b"done\n")
        self.assertEqual(len(self.lambda_.requests), 2)
        self.assertIn(b"attempt 2 of 3", result.stderr)

    def test_no_retry_by_default(self):
        self.lambda_.respond_service_error(429, "TooManyRequestsException", "Rate exceeded")
        result = self.remote("-A", "{}", "f")
        self.assertExit(result, 3)
        self.assertOneLineError(result, "TooManyRequestsException: Rate exceeded")
        self.assertEqual(len(self.lambda_.requests), 1)

    def test_service_failures_retried_up_to_the_limit(self):
        for _ in range(3):
            self.lambda_.respond_service_error(500, "ServiceException", "internal")
        result = self.remote("-A", "{}", "f", "--retry-attempts", "3")
        self.assertExit(result, 3)
        self.assertEqual(len(self.lambda_.requests), 3)
        self.assertIn(b"Error: ServiceException: internal", result.stderr)

    def test_function_errors_and_client_errors_are_not_retried(self):
        self.lambda_.respond(200, headers=[("X-Amz-Function-Error", "Unhandled")],
                             body=b'{"errorType":"E","errorMessage":"m"}')
        self.assertExit(self.remote("-A", "{}", "f", "--retry-attempts", "5"), 1)
        self.lambda_.respond_service_error(404, "ResourceNotFoundException", "nope")
        self.assertExit(self.remote("-A", "{}", "f", "--retry-attempts", "5"), 3)
        self.assertEqual(len(self.lambda_.requests), 2)

    def test_timeout_after_sending_is_never_retried(self):
        self.lambda_.respond(200, body=b"late", delay=3)
        result = self.remote("-A", "{}", "f", "--retry-attempts", "5", "--timeout", "0.5")
        self.assertExit(result, 3)
        self.assertOneLineError(result, "timed out")
        time.sleep(0.2)
        self.assertEqual(len(self.lambda_.requests), 1)


class Configuration(RemoteTestCase):
    def write(self, name, text):
        path = os.path.join(self.scratch, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_region_flag_beats_environment(self):
        env = self.env(AWS_REGION="us-east-1", AWS_DEFAULT_REGION="us-east-2")
        self.assertExit(self.remote("-A", "{}", "f", "--region", "ap-south-1", env=env), 0)
        self.assertEqual(self.lambda_.verdicts[-1][3], "ap-south-1")
        self.assertExit(self.remote("-A", "{}", "f", env=env), 0)
        self.assertEqual(self.lambda_.verdicts[-1][3], "us-east-1")

    def test_profile_keys_and_region(self):
        config = self.write("config", "[profile apple]\nregion = ca-central-1\n")
        credentials = self.write("credentials", "[apple]\naws_access_key_id = %s\n"
                                 "aws_secret_access_key = %s\n" % (ACCESS_KEY, SECRET_KEY))
        env = self.env(AWS_CONFIG_FILE=config, AWS_SHARED_CREDENTIALS_FILE=credentials,
                       AWS_ACCESS_KEY_ID="AKIDENVIRONMENT00000", AWS_SECRET_ACCESS_KEY="x")
        result = self.remote("-A", "{}", "f", "--profile", "apple", env=env)
        self.assertExit(result, 0)
        ok, reason, key_id, region, _ = self.lambda_.verdicts[-1]
        self.assertTrue(ok, reason)
        self.assertEqual((key_id, region), (ACCESS_KEY, "ca-central-1"))

    def test_endpoint_from_environment(self):
        env = self.env(AWS_ENDPOINT_URL_LAMBDA=self.lambda_.url(""),
                       AWS_ENDPOINT_URL="http://127.0.0.1:1")
        result = self.cli("invoke", "--remote", "-A", "{}", "f", env=env)
        self.assertExit(result, 0)
        self.assertEqual(len(self.lambda_.requests), 1)

    def test_dev_null_config_files(self):
        env = self.env(AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null")
        self.assertExit(self.remote("-A", "{}", "f", env=env), 0)
        directory = self.env(AWS_CONFIG_FILE=self.scratch)
        result = self.remote("-A", "{}", "f", env=directory)
        self.assertExit(result, 2)
        self.assertOneLineError(result, self.scratch)

    def test_no_credentials(self):
        env = self.env()
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            del env[name]
        result = self.remote("-A", "{}", "f", env=env)
        self.assertExit(result, 2)
        self.assertOneLineError(result, "credentials")
        self.assertEqual(self.lambda_.requests, [])

    def test_hanging_credential_process_honours_timeout(self):
        script = self.write("hang.sh", "#!/bin/sh\nsleep 300\n")
        os.chmod(script, 0o755)
        config = self.write("config", "[profile stuck]\ncredential_process = '%s'\n" % script)
        env = self.env(AWS_CONFIG_FILE=config)
        started = time.monotonic()
        result = self.remote("-A", "{}", "f", "--profile", "stuck", "--timeout", "1", env=env)
        self.assertLess(time.monotonic() - started, 10)
        self.assertExit(result, 2)
        self.assertOneLineError(result, "credential_process of profile 'stuck' timed out after 1 s")
        self.assertEqual(self.lambda_.requests, [])

    def role_profile(self, sts_url):
        """A role profile whose source has keys, its STS at sts_url: the credentials need STS."""
        config = self.write("role-config", "[profile role]\nrole_arn = "
                            "arn:aws:iam::123456789012:role/r\nsource_profile = base\n")
        credentials = self.write("role-credentials", "[base]\naws_access_key_id = %s\n"
                                 "aws_secret_access_key = %s\n" % (ACCESS_KEY, SECRET_KEY))
        return self.env(AWS_CONFIG_FILE=config, AWS_SHARED_CREDENTIALS_FILE=credentials,
                        AWS_ENDPOINT_URL_STS=sts_url)

    def test_sts_out_of_reach_exits_3(self):
        # AWS could not be reached, as for Lambda itself: exit 3, for a plain invoke and a
        # load run alike; not 2, which says that what was given is wrong.
        closed = socket.socket()
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        closed.close()
        env = self.role_profile("http://127.0.0.1:%d" % port)
        for extra in ([], ["--repeat", "3"]):
            result = self.remote("-A", "{}", "f", "--profile", "role", *extra, env=env)
            self.assertExit(result, 3)
            self.assertOneLineError(result, "STS AssumeRole", "refused")
        self.assertEqual(self.lambda_.requests, [])

    def test_sts_that_does_not_answer_exits_3(self):
        silent = socket.socket()  # accepts connections (the backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        self.addCleanup(silent.close)
        env = self.role_profile("http://127.0.0.1:%d" % silent.getsockname()[1])
        started = time.monotonic()
        result = self.remote("-A", "{}", "f", "--profile", "role", "--timeout", "1", env=env)
        self.assertLess(time.monotonic() - started, 10)
        self.assertExit(result, 3)
        self.assertOneLineError(result, "STS AssumeRole", "timed out")
        self.assertEqual(self.lambda_.requests, [])

    def test_verbose_redacts_secrets(self):
        env = self.env(AWS_SESSION_TOKEN=SESSION_TOKEN)
        self.lambda_.respond(200, headers=[("X-Echo", SESSION_TOKEN)], body=b"{}")
        result = self.remote("-A", "{}", "f", "-v", env=env)
        self.assertExit(result, 0)
        self.assertIn(b"> Authorization: AWS4-HMAC-SHA256 Credential=", result.stderr)
        self.assertIn(b"<redacted>", result.stderr)
        self.assertNoSecrets(result)


class CurlRequests(ThroughCurl, Requests):
    pass


class CurlAnswers(ThroughCurl, Answers):
    pass


class CurlRetries(ThroughCurl, Retries):
    pass


if __name__ == "__main__":
    unittest.main()
