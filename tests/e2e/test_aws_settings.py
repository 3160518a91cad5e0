"""lambda.aws and `invoke --remote` with the settings AWS CLI users keep in their config: the
IAM Identity Center token refreshed through SSO OIDC, endpoints from [services] sections and
profiles, AWS_CA_BUNDLE, proxies, max_attempts/retry_mode, cli_read_timeout, and botocore's
precedence (AWS_DEFAULT_PROFILE, aws_security_token). Loopback fakes only (awsfakes.py)."""

import hashlib
import json
import os
import stat
import time
import unittest

import test_aws_credentials as base
from awsfakes import FakeProxy, FakeSSOOIDC, FakeSSOPortal, FakeSTS, expiration_in
from certs import make_certs
from fakelambda import ACCESS_KEY, SECRET_KEY, FakeLambda
from harness import ScratchTestCase, ThroughCurl
from testserver import TestServer

START_URL = "https://d-1234567890.awsapps.com/start"


class SsoRefresh(base.ChainCase):
    def setUp(self):
        super().setUp()
        self.portal = self.start(FakeSSOPortal())
        self.oidc = self.start(FakeSSOOIDC())
        self.role = ("ASIASSO", self.secret("sso"), self.secret("sso-token"))
        self.old_token = self.secret("old-access")
        self.new_token = self.secret("new-access")
        self.refresh_token = self.secret("refresh")
        self.client_secret = self.secret("client-secret")
        self.portal.grant(self.new_token, "111122223333", "Developer", self.role)
        self.config("[profile dev]\nsso_session = corp\nsso_account_id = 111122223333\n"
                    "sso_role_name = Developer\n"
                    "[sso-session corp]\nsso_start_url = %s\nsso_region = eu-west-1\n"
                    % START_URL)

    def env(self, **extra):
        extra.setdefault("AWS_ENDPOINT_URL_SSO", self.portal.url())
        extra.setdefault("AWS_ENDPOINT_URL_SSO_OIDC", self.oidc.url())
        return super().env(**extra)

    def token_path(self):
        name = hashlib.sha1(b"corp").hexdigest() + ".json"
        return os.path.join(self.home, ".aws", "sso", "cache", name)

    def login(self, expires_in, **overrides):
        """The token cache as `aws sso login` leaves it."""
        document = {"startUrl": START_URL, "region": "eu-west-1",
                    "accessToken": self.old_token, "expiresAt": expiration_in(expires_in),
                    "clientId": "client-id-1", "clientSecret": self.client_secret,
                    "registrationExpiresAt": expiration_in(86400),
                    "refreshToken": self.refresh_token}
        document.update(overrides)
        return self.home_file(self.token_path(), json.dumps(document))

    def test_expired_token_is_refreshed_and_written_back_as_the_aws_cli_writes_it(self):
        self.login(-60)
        self.oidc.allow("client-id-1", self.client_secret, self.refresh_token, self.new_token,
                        expires_in=3600, new_refresh_token="rotated-refresh")
        settings = self.resolve(profile="dev")
        self.assertKeys(settings["credentials"], *self.role, source="sso")
        [call] = self.oidc.calls
        self.assertEqual(call["body"], {"clientId": "client-id-1",
                                        "clientSecret": self.client_secret,
                                        "grantType": "refresh_token",
                                        "refreshToken": self.refresh_token})
        self.assertFalse(call["signed"])
        self.assertEqual(call["content_type"], "application/json")
        self.assertEqual(self.portal.requests[0].header("x-amz-sso_bearer_token"),
                         self.new_token)
        with open(self.token_path()) as f:
            text = f.read()
        written = json.loads(text)
        self.assertEqual(text, json.dumps(written))  # Python's json.dumps layout
        self.assertEqual(list(written), ["startUrl", "region", "accessToken", "expiresAt",
                                         "clientId", "clientSecret", "registrationExpiresAt",
                                         "refreshToken"])
        self.assertEqual((written["accessToken"], written["refreshToken"]),
                         (self.new_token, "rotated-refresh"))
        self.assertRegex(written["expiresAt"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertEqual(stat.S_IMODE(os.stat(self.token_path()).st_mode), 0o600)

    def test_token_far_from_expiry_is_not_refreshed(self):
        self.login(3600, accessToken=self.new_token)
        self.assertKeys(self.resolve(profile="dev")["credentials"], *self.role)
        self.assertEqual(self.oidc.calls, [])

    def test_failed_refresh_of_an_expired_token_says_to_log_in(self):
        self.login(-60)
        message = self.resolve_error(profile="dev")
        self.assertIn("InvalidGrantException", message)
        self.assertIn("run `aws sso login --profile dev`", message)
        self.assertEqual(self.last["kind"], "service")
        self.assertEqual(self.portal.requests, [])

    def test_failed_refresh_of_a_token_still_valid_keeps_it(self):
        self.portal.grant(self.old_token, "111122223333", "Developer", self.role)
        self.login(300)
        self.assertKeys(self.resolve(profile="dev")["credentials"], *self.role)
        self.assertEqual(len(self.oidc.calls), 1)

    def test_expired_registration_is_not_used(self):
        self.login(-60, registrationExpiresAt=expiration_in(-10))
        message = self.resolve_error(profile="dev")
        self.assertIn("client registration expired", message)
        self.assertEqual(self.oidc.calls, [])

    def test_oidc_endpoint_from_a_services_section(self):
        self.config("[profile dev]\nsso_session = corp\nsso_account_id = 111122223333\n"
                    "sso_role_name = Developer\nservices = local\n"
                    "[sso-session corp]\nsso_start_url = %s\nsso_region = eu-west-1\n"
                    "[services local]\nsso_oidc =\n  endpoint_url = %s\n"
                    % (START_URL, self.oidc.url()))
        self.login(-60)
        self.oidc.allow("client-id-1", self.client_secret, self.refresh_token, self.new_token)
        # An empty variable counts as unset: the section's endpoint is the one left.
        self.resolve({"AWS_ENDPOINT_URL_SSO_OIDC": ""}, profile="dev")
        self.assertEqual(len(self.oidc.calls), 1)


class Endpoints(base.ChainCase):
    def endpoint_of(self, config, env=None, **options):
        self.config(config)
        return self.resolve(env, **options)

    def test_services_section_then_profile_endpoint_url(self):
        config = ("[profile dev]\nendpoint_url = http://127.0.0.1:1111\nservices = local\n"
                  "aws_access_key_id = A\naws_secret_access_key = s\n"
                  "[services local]\nlambda =\n  endpoint_url = http://127.0.0.1:2222\n")
        settings = self.endpoint_of(config, profile="dev")
        self.assertEqual(settings["endpoint"], "http://127.0.0.1:2222")
        self.assertIn("[services local]", settings["origin"]["endpoint"])
        # The profile's endpoint_url is every other service's.
        settings = self.resolve(profile="dev", service="sts")
        self.assertEqual(settings["endpoint"], "http://127.0.0.1:1111")
        self.assertEqual(settings["origin"]["endpoint"], "endpoint_url of profile 'dev'")

    def test_environment_and_field_come_first(self):
        config = ("[profile dev]\nendpoint_url = http://127.0.0.1:1111\n"
                  "aws_access_key_id = A\naws_secret_access_key = s\n")
        settings = self.endpoint_of(config, {"AWS_ENDPOINT_URL": "http://127.0.0.1:3333"},
                                    profile="dev")
        self.assertEqual(settings["endpoint"], "http://127.0.0.1:3333")
        settings = self.resolve({"AWS_ENDPOINT_URL": "http://127.0.0.1:3333"}, profile="dev",
                                endpoint_url="http://127.0.0.1:4444")
        self.assertEqual(settings["endpoint"], "http://127.0.0.1:4444")

    def test_ignore_configured_endpoint_urls(self):
        config = ("[profile dev]\nendpoint_url = http://127.0.0.1:1111\nregion = eu-west-1\n"
                  "ignore_configured_endpoint_urls = true\n"
                  "aws_access_key_id = A\naws_secret_access_key = s\n")
        settings = self.endpoint_of(config, {"AWS_ENDPOINT_URL": "http://127.0.0.1:3333"},
                                    profile="dev")
        self.assertEqual(settings["endpoint"], "https://lambda.eu-west-1.amazonaws.com")
        settings = self.resolve({"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "false"}, profile="dev")
        self.assertEqual(settings["endpoint"], "http://127.0.0.1:1111")

    def test_bad_configured_url_names_its_section(self):
        self.config("[profile dev]\nservices = s\n[services s]\nlambda =\n  endpoint_url = x\n")
        message = self.resolve_error(profile="dev")
        self.assertIn("[services s] lambda.endpoint_url", message)
        self.assertEqual(self.last["kind"], "input")

    def test_sts_endpoint_of_an_assume_role_profile_from_its_services_section(self):
        sts = self.start(FakeSTS())
        secret = self.secret("base")
        sts.add_identity("AKIDBASE", secret)
        sts.add_role(base.ROLE_A, ("ASIAA", self.secret("a"), self.secret("t")))
        self.credentials(base.keys_section("[base]", "AKIDBASE", secret))
        self.config("[profile dev]\nrole_arn = %s\nsource_profile = base\nservices = s\n"
                    "[services s]\nsts =\n  endpoint_url = %s\n" % (base.ROLE_A, sts.url()))
        settings = self.resolve(profile="dev")
        self.assertEqual(settings["credentials"]["source"], "assume-role")
        self.assertEqual(len(sts.calls), 1)


class Precedence(base.ChainCase):
    def test_aws_default_profile_after_aws_profile(self):
        self.config("[profile one]\nregion = eu-west-1\n[profile two]\nregion = eu-west-2\n")
        env = {"AWS_DEFAULT_PROFILE": "two", "AWS_ACCESS_KEY_ID": "AKIDENV",
               "AWS_SECRET_ACCESS_KEY": self.secret("env")}
        settings = self.resolve(env)
        self.assertEqual((settings["profile"], settings["region"]), ("two", "eu-west-2"))
        self.assertEqual(settings["origin"]["profile"], "AWS_DEFAULT_PROFILE")
        # Like AWS_PROFILE, it does not set the environment's keys aside.
        self.assertEqual(settings["credentials"]["source"], "environment")
        settings = self.resolve(dict(env, AWS_PROFILE="one"))
        self.assertEqual(settings["profile"], "one")

    def test_legacy_security_token_keys_come_first_as_in_botocore(self):
        secret = self.secret("file")
        self.credentials(base.keys_section("[default]", "AKIDFILE", secret)
                         + "aws_session_token = new-style\naws_security_token = old-style\n")
        self.assertEqual(self.resolve()["credentials"]["session_token"], "old-style")
        env = {"AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": self.secret("env"),
               "AWS_SESSION_TOKEN": "new-env", "AWS_SECURITY_TOKEN": "old-env"}
        self.assertEqual(self.resolve(env)["credentials"]["session_token"], "old-env")

    def test_source_profile_uses_its_process_before_its_config_keys(self):
        sts = self.start(FakeSTS())
        sts.add_identity("AKIDPROC", "proc-secret")
        sts.add_role(base.ROLE_A, ("ASIAA", self.secret("a"), self.secret("t")),
                     trusted={"AKIDPROC"})
        script = self.home_file("proc.sh", "#!/bin/sh\necho '%s'\n" % json.dumps(
            {"Version": 1, "AccessKeyId": "AKIDPROC", "SecretAccessKey": "proc-secret"}))
        os.chmod(script, 0o755)
        self.config("[profile dev]\nrole_arn = %s\nsource_profile = src\n"
                    "[profile src]\naws_access_key_id = AKIDCONFIG\n"
                    "aws_secret_access_key = %s\ncredential_process = '%s'\n"
                    % (base.ROLE_A, self.secret("config"), script))
        settings = self.resolve({"AWS_ENDPOINT_URL_STS": sts.url()}, profile="dev")
        self.assertEqual(settings["credentials"]["source"], "assume-role")
        self.assertEqual(sts.calls[0]["signed_by"], "AKIDPROC")

    def test_transport_settings_from_the_profile_and_their_variables(self):
        keys = base.keys_section("", "A", "s")
        self.config("[default]\nmax_attempts = 4\ncli_read_timeout = 2.5\n"
                    "cli_connect_timeout = 0\nretry_mode = standard\n" + keys)
        settings = self.resolve()
        self.assertEqual((settings["max_attempts"], settings["retry_mode"]), (4, "standard"))
        self.assertEqual(settings["read_timeout"], 2.5)
        self.assertNotIn("connect_timeout", settings)  # 0: no limit
        settings = self.resolve({"AWS_MAX_ATTEMPTS": "6", "AWS_RETRY_MODE": "legacy"})
        self.assertEqual((settings["max_attempts"], settings["retry_mode"]), (6, "legacy"))
        self.assertEqual(settings["origin"]["max_attempts"], "AWS_MAX_ATTEMPTS")
        self.config("[default]\nretry_mode = adaptive\n" + keys)
        self.assertEqual(self.resolve()["max_attempts"], 3)
        for env, fragment in (({"AWS_MAX_ATTEMPTS": "0"}, "AWS_MAX_ATTEMPTS"),
                              ({"AWS_RETRY_MODE": "eager"}, "AWS_RETRY_MODE"),
                              ({"AWS_CA_BUNDLE": "/nonexistent/ca.pem"}, "AWS_CA_BUNDLE")):
            self.assertIn(fragment, self.resolve_error(env))


class RemoteCase(ScratchTestCase):
    """invoke --remote against a fake Lambda, with a config file of the test's."""

    def setUp(self):
        super().setUp()
        self.lambda_ = FakeLambda()
        self.lambda_.__enter__()
        self.addCleanup(self.lambda_.__exit__, None, None, None)
        self.config_path = os.path.join(self.scratch, "config")
        self.write_config("")

    def write_config(self, text):
        with open(self.config_path, "w") as out:
            out.write(text)

    def env(self, **extra):
        values = {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
                  "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": self.config_path,
                  "AWS_SHARED_CREDENTIALS_FILE": os.path.join(self.scratch, "none")}
        values.update(extra)
        return super().env(**values)

    def remote(self, *args, env=None, endpoint=None, **kwargs):
        return self.cli("invoke", "--remote", "--endpoint-url", endpoint or self.lambda_.url(""),
                        "-A", "{}", "f", *args, env=env or self.env(), **kwargs)

    def mkdir(self, name):
        path = os.path.join(self.scratch, name)
        os.makedirs(path)
        return path


class RemoteInvoke(RemoteCase):
    """The transport settings as defaults of invoke's flags."""

    def test_max_attempts_is_the_default_of_retry_attempts(self):
        self.write_config("[default]\nmax_attempts = 3\n")
        for _ in range(3):
            self.lambda_.respond_service_error(500, "ServiceException", "internal")
        result = self.remote()
        self.assertExit(result, 3)
        self.assertEqual(len(self.lambda_.requests), 3)
        self.assertIn(b"attempt 2 of 3", result.stderr)
        self.lambda_.respond_service_error(500, "ServiceException", "internal")
        self.assertExit(self.remote("--retry-attempts", "1"), 3)
        self.assertEqual(len(self.lambda_.requests), 4, "the flag did not win")

    def test_retry_mode_alone_means_three_attempts_and_a_timeout_is_never_retried(self):
        self.lambda_.respond(429, body=b"{}")
        self.lambda_.respond(200, body=b"done")
        result = self.remote(env=self.env(AWS_RETRY_MODE="standard"))
        self.assertExit(result, 0)
        self.assertIn(b"attempt 2 of 3", result.stderr)
        self.lambda_.respond(200, body=b"late", delay=3)
        result = self.remote("--timeout", "0.5", env=self.env(AWS_MAX_ATTEMPTS="5"))
        self.assertExit(result, 3)
        time.sleep(0.2)
        self.assertEqual(len(self.lambda_.requests), 3)

    def test_cli_read_timeout_is_the_default_timeout(self):
        self.write_config("[default]\ncli_read_timeout = 0.5\n")
        self.lambda_.respond(200, body=b"late", delay=3)
        started = time.monotonic()
        result = self.remote()
        self.assertExit(result, 3)
        self.assertLess(time.monotonic() - started, 2.5)
        self.assertOneLineError(result, "timed out")

    def test_bad_setting_names_where_it_came_from(self):
        result = self.remote(env=self.env(AWS_MAX_ATTEMPTS="many"))
        self.assertExit(result, 2)
        self.assertOneLineError(result, "AWS_MAX_ATTEMPTS: 'many'")
        self.assertEqual(self.lambda_.requests, [])

    def test_unknown_profile_names_the_flag(self):
        result = self.remote("--profile", "nope")
        self.assertExit(result, 2)
        self.assertOneLineError(result, "--profile: AWS profile 'nope' not found")

    def test_ca_bundle_is_trusted_for_https(self):
        certs = make_certs(self.mkdir("certs"))
        server = TestServer(tls={"certfile": certs["server_cert"],
                                 "keyfile": certs["server_key"]})
        server.__enter__()
        self.addCleanup(server.__exit__, None, None, None)
        server.respond(200, body=b"over tls")
        endpoint = "https://localhost:%d" % server.port
        result = self.remote(endpoint=endpoint)
        self.assertExit(result, 3)  # the system's store does not know the test CA
        result = self.remote(endpoint=endpoint, env=self.env(AWS_CA_BUNDLE=certs["ca"]))
        self.assertExit(result, 0)
        self.assertEqual(result.stdout, b"over tls\n")
        self.write_config("[default]\nca_bundle = %s\n" % certs["ca"])
        server.respond(200, body=b"over tls")
        self.assertExit(self.remote(endpoint=endpoint), 0)
        # Plain http (a local stand-in such as LocalStack) is not affected by the bundle.
        self.lambda_.respond(200, body=b"plain")
        result = self.remote()
        self.assertExit(result, 0)
        self.assertEqual(result.stdout, b"plain\n")


class Proxies(RemoteCase):
    """libcurl's proxy variables; loopback is never proxied, by either engine."""

    UNRESOLVABLE = base.UNRESOLVABLE

    def setUp(self):
        super().setUp()
        self.proxy = FakeProxy(status=200, body=b"via the proxy")
        self.proxy.start()
        self.addCleanup(self.proxy.stop)

    def test_http_proxy_is_used_for_other_hosts(self):
        result = self.remote(endpoint="http://%s" % self.UNRESOLVABLE,
                             env=self.env(http_proxy=self.proxy.url()))
        self.assertExit(result, 0)
        self.assertEqual(result.stdout, b"via the proxy\n")
        [request] = self.proxy.requests
        self.assertEqual(request.path, "http://%s/2015-03-31/functions/f/invocations"
                         % self.UNRESOLVABLE)

    def test_no_proxy_sends_directly(self):
        result = self.remote(endpoint="http://%s" % self.UNRESOLVABLE,
                             env=self.env(http_proxy=self.proxy.url(),
                                          NO_PROXY=self.UNRESOLVABLE))
        self.assertExit(result, 3)  # direct: the name does not resolve
        self.assertEqual(self.proxy.requests, [])

    def test_https_proxy_gets_a_connect(self):
        self.proxy.status = 403
        result = self.remote(endpoint="https://%s" % self.UNRESOLVABLE,
                             env=self.env(HTTPS_PROXY=self.proxy.url()))
        self.assertExit(result, 3)
        [request] = self.proxy.requests
        self.assertEqual((request.method, request.path), ("CONNECT",
                                                          "%s:443" % self.UNRESOLVABLE))

    def test_loopback_is_never_proxied(self):
        self.lambda_.respond(200, body=b"direct")
        result = self.remote(env=self.env(http_proxy=self.proxy.url(),
                                          HTTPS_PROXY=self.proxy.url()))
        self.assertExit(result, 0)
        self.assertEqual(result.stdout, b"direct\n")
        self.assertEqual(self.proxy.requests, [])


class CurlSsoRefresh(ThroughCurl, SsoRefresh):
    pass


class CurlRemoteInvoke(ThroughCurl, RemoteInvoke):
    pass


class CurlProxies(ThroughCurl, Proxies):
    pass


if __name__ == "__main__":
    unittest.main()
