"""lambda.aws: every source of the credential chain, against loopback fakes of STS, the IAM
Identity Center portal, the container endpoint and EC2 instance metadata (awsfakes.py). Each
failing case also checks that no secret of the test shows in the output."""

import hashlib
import json
import os
import stat
import time
import unittest

from awsfakes import (AwsProbeCase, FakeContainerEndpoint, FakeIMDS, FakeSSOPortal, FakeSTS,
                      expiration_in, unused_port)
from harness import ThroughCurl
from sigv4_verify import verify

try:
    import botocore.credentials as botocore_credentials
    import botocore.utils as botocore_utils
except ImportError:  # botocore is optional: its cross-check is skipped without it
    botocore_credentials = None

ROLE_A = "arn:aws:iam::123456789012:role/alpha"
ROLE_B = "arn:aws:iam::123456789012:role/beta"
# A DNS label may have at most 63 characters, so the resolver fails on this name without
# sending a query: the tests stay on loopback.
UNRESOLVABLE = "a" * 64 + ".invalid"


def keys_section(header, access_key_id, secret, token=None):
    text = "%s\naws_access_key_id = %s\naws_secret_access_key = %s\n" % (header, access_key_id,
                                                                         secret)
    if token:
        text += "aws_session_token = %s\n" % token
    return text


class ChainCase(AwsProbeCase):
    def config(self, text):
        return self.home_file(".aws/config", text)

    def credentials(self, text):
        return self.home_file(".aws/credentials", text)

    def start(self, fake):
        fake.start()
        self.addCleanup(fake.stop)
        return fake

    def sts(self):
        return self.start(FakeSTS())


class Environment(ChainCase):
    def test_keys_and_session_token(self):
        secret = self.secret("env")
        settings = self.resolve({"AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": secret,
                                 "AWS_SESSION_TOKEN": "env-token"})
        self.assertKeys(settings["credentials"], "AKIDENV", secret, "env-token", "environment")

    def test_environment_beats_the_default_profile(self):
        self.credentials(keys_section("[default]", "AKIDFILE", self.secret("file")))
        secret = self.secret("env")
        settings = self.resolve({"AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": secret})
        self.assertKeys(settings["credentials"], "AKIDENV", secret, source="environment")

    def test_half_a_pair_is_an_error(self):
        message = self.resolve_error({"AWS_SECRET_ACCESS_KEY": self.secret("env")})
        self.assertIn("AWS_ACCESS_KEY_ID", message)

    def test_expired_credentials_are_an_error(self):
        message = self.resolve_error({"AWS_ACCESS_KEY_ID": "AKIDENV",
                                      "AWS_SECRET_ACCESS_KEY": self.secret("env"),
                                      "AWS_CREDENTIAL_EXPIRATION": expiration_in(-60)})
        self.assertIn("expired", message)


class AssumeRole(ChainCase):
    def setUp(self):
        super().setUp()
        self.fake = self.sts()
        self.base_secret = self.secret("base")
        self.fake.add_identity("AKIDBASE", self.base_secret)
        self.credentials(keys_section("[base]", "AKIDBASE", self.base_secret))
        self.role_a = ("ASIAALPHA", self.secret("alpha"), self.secret("alpha-token"))
        self.role_b = ("ASIABETA", self.secret("beta"), self.secret("beta-token"))

    def env(self, **extra):
        extra.setdefault("AWS_ENDPOINT_URL_STS", self.fake.url())
        return super().env(**extra)

    def test_source_profile_keys_sign_the_call(self):
        self.config("[profile dev]\nrole_arn = %s\nsource_profile = base\n" % ROLE_A)
        self.fake.add_role(ROLE_A, self.role_a, trusted={"AKIDBASE"})
        settings = self.resolve(profile="dev", region="eu-west-2")
        credentials = settings["credentials"]
        self.assertKeys(credentials, *self.role_a, source="assume-role")
        self.assertAlmostEqual(credentials["expiration"], time.time() + 3600, delta=120)
        [call] = self.fake.calls
        self.assertIsNone(call["error"])
        self.assertEqual(call["action"], "AssumeRole")
        self.assertEqual(call["signed_by"], "AKIDBASE")
        self.assertEqual((call["region"], call["service"]), ("eu-west-2", "sts"))
        self.assertEqual(call["params"]["RoleArn"], ROLE_A)
        self.assertEqual(call["params"]["Version"], "2011-06-15")
        self.assertRegex(call["params"]["RoleSessionName"], r"^[\w+=,.@-]{2,64}$")
        self.assertEqual(call["content_type"],
                         "application/x-www-form-urlencoded; charset=utf-8")
        self.assertNotIn("ExternalId", call["params"])
        self.assertNotIn("DurationSeconds", call["params"])

    def test_role_beats_static_keys_of_the_selected_profile(self):
        self.config(keys_section("[profile dev]", "AKIDOWN", self.secret("own"))
                    + "role_arn = %s\nsource_profile = base\n" % ROLE_A)
        self.fake.add_role(ROLE_A, self.role_a)
        settings = self.resolve(profile="dev")
        self.assertKeys(settings["credentials"], *self.role_a, source="assume-role")
        self.assertEqual(self.fake.calls[0]["signed_by"], "AKIDBASE")

    def test_two_links_each_signed_by_the_previous(self):
        self.config("[profile top]\nrole_arn = %s\nsource_profile = middle\n"
                    "[profile middle]\nrole_arn = %s\nsource_profile = base\n" % (ROLE_A, ROLE_B))
        self.fake.add_role(ROLE_B, self.role_b, trusted={"AKIDBASE"})
        self.fake.add_role(ROLE_A, self.role_a, trusted={"ASIABETA"})
        settings = self.resolve(profile="top")
        self.assertKeys(settings["credentials"], *self.role_a, source="assume-role")
        first, second = self.fake.calls
        self.assertEqual((first["params"]["RoleArn"], first["signed_by"], first["token"]),
                         (ROLE_B, "AKIDBASE", None))
        self.assertEqual((second["params"]["RoleArn"], second["signed_by"], second["token"]),
                         (ROLE_A, "ASIABETA", self.role_b[2]))
        self.assertIsNone(second["error"])

    def test_static_keys_of_a_source_profile_end_the_chain(self):
        self.config("[profile top]\nrole_arn = %s\nsource_profile = middle\n" % ROLE_A
                    + keys_section("[profile middle]", "AKIDMIDDLE", "middle-secret")
                    + "role_arn = %s\nsource_profile = base\n" % ROLE_B)
        self.fake.add_identity("AKIDMIDDLE", "middle-secret")
        self.fake.add_role(ROLE_A, self.role_a)
        self.fake.add_role(ROLE_B, self.role_b)
        settings = self.resolve(profile="top")
        self.assertKeys(settings["credentials"], *self.role_a)
        [call] = self.fake.calls
        self.assertEqual((call["params"]["RoleArn"], call["signed_by"]), (ROLE_A, "AKIDMIDDLE"))

    def test_self_referencing_source_profile_uses_its_own_keys(self):
        self.config(keys_section("[profile self]", "AKIDSELF", "self-secret")
                    + "role_arn = %s\nsource_profile = self\n" % ROLE_A)
        self.fake.add_identity("AKIDSELF", "self-secret")
        self.fake.add_role(ROLE_A, self.role_a, trusted={"AKIDSELF"})
        settings = self.resolve(profile="self")
        self.assertKeys(settings["credentials"], *self.role_a)
        self.assertEqual(self.fake.calls[0]["signed_by"], "AKIDSELF")

    def test_source_profile_with_credential_process(self):
        secret = self.secret("proc")
        self.fake.add_identity("AKIDPROC", secret)
        script = self.home_file("helper.sh", "#!/bin/sh\necho '%s'\n" % json.dumps(
            {"Version": 1, "AccessKeyId": "AKIDPROC", "SecretAccessKey": secret}))
        os.chmod(script, 0o700)
        self.config("[profile dev]\nrole_arn = %s\nsource_profile = helper\n"
                    "[profile helper]\ncredential_process = %s\n" % (ROLE_A, script))
        self.fake.add_role(ROLE_A, self.role_a, trusted={"AKIDPROC"})
        settings = self.resolve(profile="dev")
        self.assertKeys(settings["credentials"], *self.role_a, source="assume-role")
        self.assertEqual(self.fake.calls[0]["signed_by"], "AKIDPROC")

    def test_source_profile_without_credentials(self):
        self.config("[profile dev]\nrole_arn = %s\nsource_profile = empty\n"
                    "[profile empty]\nregion = eu-west-1\n" % ROLE_A)
        message = self.resolve_error(profile="dev")
        self.assertIn("profile 'empty' (source_profile of 'dev') has no credentials", message)

    def test_credential_source_environment_even_with_profile_flag(self):
        env_secret = self.secret("env")
        self.fake.add_identity("AKIDENV", env_secret, "env-token")
        self.config("[profile ci]\nrole_arn = %s\ncredential_source = Environment\n" % ROLE_A)
        self.fake.add_role(ROLE_A, self.role_a, trusted={"AKIDENV"})
        settings = self.resolve({"AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY":
                                 env_secret, "AWS_SESSION_TOKEN": "env-token"}, profile="ci")
        self.assertKeys(settings["credentials"], *self.role_a, source="assume-role")
        self.assertEqual((self.fake.calls[0]["signed_by"], self.fake.calls[0]["token"]),
                         ("AKIDENV", "env-token"))

    def test_credential_source_ecs_container(self):
        task = ("ASIATASK", self.secret("task"), self.secret("task-token"))
        self.fake.add_identity(task[0], task[1], task[2])
        endpoint = self.start(FakeContainerEndpoint("/v2/credentials/x", task))
        self.config("[profile ecs]\nrole_arn = %s\ncredential_source = EcsContainer\n" % ROLE_A)
        self.fake.add_role(ROLE_A, self.role_a, trusted={"ASIATASK"})
        settings = self.resolve({"AWS_CONTAINER_CREDENTIALS_FULL_URI":
                                 endpoint.url("/v2/credentials/x")}, profile="ecs")
        self.assertKeys(settings["credentials"], *self.role_a)
        self.assertEqual(self.fake.calls[0]["signed_by"], "ASIATASK")

    def test_external_id_duration_and_session_name_are_sent(self):
        self.config("[profile dev]\nrole_arn = %s\nsource_profile = base\nexternal_id = ext-42\n"
                    "duration_seconds = 1800\nrole_session_name = alice@example\n" % ROLE_A)
        self.fake.add_role(ROLE_A, self.role_a)
        self.resolve(profile="dev")
        params = self.fake.calls[0]["params"]
        self.assertEqual(params["ExternalId"], "ext-42")
        self.assertEqual(params["DurationSeconds"], "1800")
        self.assertEqual(params["RoleSessionName"], "alice@example")

    def test_loop_is_reported_with_its_path(self):
        self.config("[profile a]\nrole_arn = %s\nsource_profile = b\n"
                    "[profile b]\nrole_arn = %s\nsource_profile = a\n" % (ROLE_A, ROLE_B))
        message = self.resolve_error(profile="a")
        self.assertIn("loop", message)
        self.assertIn("a -> b -> a", message)
        self.assertEqual(self.fake.calls, [])

    def test_missing_source_profile_is_named(self):
        self.config("[profile a]\nrole_arn = %s\nsource_profile = ghost\n" % ROLE_A)
        message = self.resolve_error(profile="a")
        self.assertIn("'ghost'", message)
        self.assertIn("'a'", message)

    def test_source_profile_and_credential_source_together_are_an_error(self):
        self.config("[profile a]\nrole_arn = %s\nsource_profile = base\n"
                    "credential_source = Environment\n" % ROLE_A)
        message = self.resolve_error(profile="a")
        self.assertIn("source_profile", message)
        self.assertIn("credential_source", message)

    def test_unknown_credential_source(self):
        self.config("[profile a]\nrole_arn = %s\ncredential_source = Magic\n" % ROLE_A)
        self.assertIn("'Magic'", self.resolve_error(profile="a"))

    def test_bad_duration_is_an_error(self):
        self.config("[profile a]\nrole_arn = %s\nsource_profile = base\n"
                    "duration_seconds = an hour\n" % ROLE_A)
        self.assertIn("duration_seconds", self.resolve_error(profile="a"))

    def test_access_denied_names_role_code_and_message(self):
        self.config("[profile dev]\nrole_arn = %s\nsource_profile = base\n" % ROLE_A)
        self.fake.add_role(ROLE_A, self.role_a, trusted={"SOMEONEELSE"})
        message = self.resolve_error(profile="dev")
        self.assertTrue(message.startswith("STS AssumeRole for %s: AccessDenied: " % ROLE_A),
                        message)

    def test_signature_made_with_the_wrong_secret_is_rejected(self):
        # The fake knows another secret for AKIDBASE: its verification must catch it.
        self.fake.add_identity("AKIDBASE", "not-the-secret-in-the-file")
        self.config("[profile dev]\nrole_arn = %s\nsource_profile = base\n" % ROLE_A)
        self.fake.add_role(ROLE_A, self.role_a)
        message = self.resolve_error(profile="dev")
        self.assertIn("SignatureDoesNotMatch", message)

    def test_sts_unreachable(self):
        self.config("[profile dev]\nrole_arn = %s\nsource_profile = base\n" % ROLE_A)
        message = self.resolve_error({"AWS_ENDPOINT_URL_STS": "http://127.0.0.1:%d"
                                      % unused_port()}, profile="dev")
        self.assertIn("STS AssumeRole for %s" % ROLE_A, message)
        self.assertIn("refused", message)

    def test_sts_error_without_error_document(self):
        self.config("[profile dev]\nrole_arn = %s\nsource_profile = base\n" % ROLE_A)
        self.fake.fail_next(503, "ServiceUnavailable", "try later")
        message = self.resolve_error(profile="dev")
        self.assertIn("ServiceUnavailable: try later", message)


class WebIdentity(ChainCase):
    def setUp(self):
        super().setUp()
        self.fake = self.sts()
        self.token = self.secret("oidc")
        self.token_file = self.home_file("token", self.token + "\n")
        self.role = ("ASIAWEB", self.secret("web"), self.secret("web-token"))
        self.fake.add_role(ROLE_A, self.role, web_identity_token=self.token)

    def test_from_environment(self):
        settings = self.resolve({"AWS_ENDPOINT_URL_STS": self.fake.url(),
                                 "AWS_WEB_IDENTITY_TOKEN_FILE": self.token_file,
                                 "AWS_ROLE_ARN": ROLE_A, "AWS_ROLE_SESSION_NAME": "ci-run-7"})
        self.assertKeys(settings["credentials"], *self.role, source="web-identity")
        [call] = self.fake.calls
        self.assertEqual(call["action"], "AssumeRoleWithWebIdentity")
        self.assertIsNone(call["error"])
        self.assertIsNone(self.fake.requests[0].header("Authorization"))
        self.assertEqual(call["params"]["WebIdentityToken"], self.token)
        self.assertEqual(call["params"]["RoleSessionName"], "ci-run-7")

    def test_from_profile(self):
        self.config("[profile eks]\nrole_arn = %s\nweb_identity_token_file = %s\n"
                    "role_session_name = pod-1\n" % (ROLE_A, self.token_file))
        settings = self.resolve({"AWS_ENDPOINT_URL_STS": self.fake.url()}, profile="eks")
        self.assertKeys(settings["credentials"], *self.role, source="web-identity")
        self.assertEqual(self.fake.calls[0]["params"]["RoleSessionName"], "pod-1")

    def test_environment_web_identity_beats_profile_keys(self):
        self.credentials(keys_section("[default]", "AKIDFILE", self.secret("file")))
        settings = self.resolve({"AWS_ENDPOINT_URL_STS": self.fake.url(),
                                 "AWS_WEB_IDENTITY_TOKEN_FILE": self.token_file,
                                 "AWS_ROLE_ARN": ROLE_A})
        self.assertEqual(settings["credentials"]["source"], "web-identity")

    def test_environment_web_identity_is_skipped_with_profile_flag(self):
        secret = self.secret("file")
        self.credentials(keys_section("[work]", "AKIDWORK", secret))
        settings = self.resolve({"AWS_ENDPOINT_URL_STS": self.fake.url(),
                                 "AWS_WEB_IDENTITY_TOKEN_FILE": self.token_file,
                                 "AWS_ROLE_ARN": ROLE_A}, profile="work")
        self.assertKeys(settings["credentials"], "AKIDWORK", secret, source="profile")
        self.assertEqual(self.fake.calls, [])

    def test_missing_token_file(self):
        message = self.resolve_error({"AWS_ENDPOINT_URL_STS": self.fake.url(),
                                      "AWS_WEB_IDENTITY_TOKEN_FILE": self.token_file + ".gone",
                                      "AWS_ROLE_ARN": ROLE_A})
        self.assertIn("AWS_WEB_IDENTITY_TOKEN_FILE", message)
        self.assertIn(self.token_file + ".gone", message)

    def test_rejected_token(self):
        self.home_file("token", self.secret("stale-oidc"))
        message = self.resolve_error({"AWS_ENDPOINT_URL_STS": self.fake.url(),
                                      "AWS_WEB_IDENTITY_TOKEN_FILE": self.token_file,
                                      "AWS_ROLE_ARN": ROLE_A})
        self.assertIn("STS AssumeRoleWithWebIdentity for %s: InvalidIdentityToken" % ROLE_A,
                      message)

    def test_role_without_token_file_is_an_error(self):
        message = self.resolve_error({"AWS_ROLE_ARN": ROLE_A})
        self.assertIn("AWS_WEB_IDENTITY_TOKEN_FILE", message)


class IdentityCenter(ChainCase):
    START_URL = "https://d-1234567890.awsapps.com/start"

    def setUp(self):
        super().setUp()
        self.portal = self.start(FakeSSOPortal())
        self.access_token = self.secret("sso-access")
        self.role = ("ASIASSO", self.secret("sso"), self.secret("sso-token"))
        self.portal.grant(self.access_token, "111122223333", "Developer", self.role,
                          expiration_ms=4102444800123)

    def cache(self, key, expires_at, token=None):
        name = hashlib.sha1(key.encode()).hexdigest() + ".json"
        return self.home_file(os.path.join(".aws", "sso", "cache", name), json.dumps({
            "startUrl": self.START_URL, "region": "eu-west-1",
            "accessToken": token or self.access_token, "expiresAt": expires_at,
            "refreshToken": self.secret("refresh"), "clientSecret": self.secret("client")}))

    def new_form(self):
        self.config("[profile dev]\nsso_session = corp\nsso_account_id = 111122223333\n"
                    "sso_role_name = Developer\nregion = us-west-2\n"
                    "[sso-session corp]\nsso_start_url = %s\nsso_region = eu-west-1\n"
                    "sso_registration_scopes = sso:account:access\n" % self.START_URL)

    def legacy_form(self):
        self.config("[profile old]\nsso_start_url = %s\nsso_region = eu-west-1\n"
                    "sso_account_id = 111122223333\nsso_role_name = Developer\n"
                    % self.START_URL)

    def env(self, **extra):
        extra.setdefault("AWS_ENDPOINT_URL_SSO", self.portal.url())
        return super().env(**extra)

    def test_sso_session_profile(self):
        self.new_form()
        self.cache("corp", expiration_in(3600))
        settings = self.resolve(profile="dev")
        self.assertKeys(settings["credentials"], *self.role, source="sso")
        self.assertEqual(settings["credentials"]["expiration"], 4102444800)
        self.assertEqual(settings["region"], "us-west-2")
        [request] = self.portal.requests
        self.assertEqual(request.method, "GET")
        self.assertEqual(request.path,
                         "/federation/credentials?account_id=111122223333&role_name=Developer")
        self.assertEqual(request.header("x-amz-sso_bearer_token"), self.access_token)

    def test_legacy_profile_uses_the_start_url_as_cache_key(self):
        self.legacy_form()
        self.cache(self.START_URL, expiration_in(3600))
        settings = self.resolve(profile="old")
        self.assertKeys(settings["credentials"], *self.role, source="sso")

    def test_expired_token_says_to_log_in(self):
        self.new_form()
        self.cache("corp", expiration_in(-60))
        message = self.resolve_error(profile="dev")
        self.assertIn("expired", message)
        self.assertIn("aws sso login --profile dev", message)
        self.assertEqual(self.portal.requests, [])

    def test_missing_token_says_to_log_in_with_the_profile(self):
        self.legacy_form()
        self.cache("corp", expiration_in(3600))  # the new form's key: not this profile's
        message = self.resolve_error(profile="old")
        self.assertIn("aws sso login --profile old", message)

    def test_token_rejected_by_the_portal(self):
        self.new_form()
        self.cache("corp", expiration_in(3600), token=self.secret("revoked"))
        message = self.resolve_error(profile="dev")
        self.assertIn("UnauthorizedException", message)
        self.assertIn("aws sso login --profile dev", message)

    # The role credentials are cached as the AWS CLI caches them: ~/.aws/cli/cache/<key>.json,
    # the key botocore's SSOCredentialFetcher computes (SHA-1 of the compact JSON of
    # accountId, roleName and sessionName or startUrl), the layout it writes.
    def sso_entry_path(self, **args):
        key = hashlib.sha1(json.dumps(dict(accountId="111122223333", roleName="Developer",
                                           **args), sort_keys=True,
                                      separators=(",", ":")).encode()).hexdigest()
        return os.path.join(self.home, ".aws", "cli", "cache", key + ".json")

    def write_sso_entry(self, path, credentials, expires_in):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as out:
            json.dump({"ProviderType": "sso", "Credentials": {
                "AccessKeyId": credentials[0], "SecretAccessKey": credentials[1],
                "SessionToken": credentials[2],
                "Expiration": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                            time.gmtime(time.time() + expires_in)),
                "AccountId": "111122223333"}}, out)

    def test_role_credentials_are_cached_as_the_aws_cli_caches_them(self):
        self.new_form()
        self.cache("corp", expiration_in(3600))
        self.resolve(profile="dev")
        path = self.sso_entry_path(sessionName="corp")
        self.assertTrue(os.path.isfile(path), os.listdir(os.path.dirname(path)))
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        with open(path) as f:
            text = f.read()
        entry = json.loads(text)
        self.assertEqual(text, json.dumps(entry))  # Python's json.dumps layout, as botocore's
        self.assertEqual(entry, {"ProviderType": "sso", "Credentials": {
            "AccessKeyId": self.role[0], "SecretAccessKey": self.role[1],
            "SessionToken": self.role[2], "Expiration": "2100-01-01T00:00:00Z",
            "AccountId": "111122223333"}})
        self.assertEqual(list(entry["Credentials"]), ["AccessKeyId", "SecretAccessKey",
                                                      "SessionToken", "Expiration", "AccountId"])
        second = self.resolve(profile="dev")
        self.assertKeys(second["credentials"], *self.role, source="sso")
        self.assertEqual(len(self.portal.requests), 1, "the second resolve asked the portal")

    def test_legacy_profile_caches_under_its_start_url(self):
        self.legacy_form()
        self.cache(self.START_URL, expiration_in(3600))
        self.resolve(profile="old")
        self.assertTrue(os.path.isfile(self.sso_entry_path(startUrl=self.START_URL)))

    def test_cached_role_credentials_need_no_token(self):
        # An entry the AWS CLI wrote is used before the token is even looked for: no token
        # cache at all here, and the portal is not asked.
        self.new_form()
        cached = ("ASIACACHED", self.secret("cached"), self.secret("cached-token"))
        self.write_sso_entry(self.sso_entry_path(sessionName="corp"), cached, 3600)
        settings = self.resolve(profile="dev")
        self.assertKeys(settings["credentials"], *cached, source="sso")
        self.assertEqual(self.portal.requests, [])

    def test_cached_role_credentials_expiring_within_five_minutes_are_replaced(self):
        self.new_form()
        self.cache("corp", expiration_in(3600))
        path = self.sso_entry_path(sessionName="corp")
        self.write_sso_entry(path, ("ASIAOLD", self.secret("old"), self.secret("old-t")), 240)
        settings = self.resolve(profile="dev")
        self.assertKeys(settings["credentials"], *self.role, source="sso")
        self.assertEqual(len(self.portal.requests), 1)
        with open(path) as f:
            self.assertEqual(json.load(f)["Credentials"]["AccessKeyId"], self.role[0])

    @unittest.skipIf(botocore_credentials is None, "botocore is not installed")
    def test_botocore_reads_our_entry(self):
        self.new_form()
        self.cache("corp", expiration_in(3600))
        self.resolve(profile="dev")

        def no_call(*_args, **_kwargs):
            raise AssertionError("botocore asked the portal instead of using the cache")

        fetcher = botocore_credentials.SSOCredentialFetcher(
            self.START_URL, "eu-west-1", "Developer", "111122223333", no_call,
            token_loader=no_call, token_provider=None, sso_session_name="corp",
            cache=botocore_utils.JSONFileCache(os.path.dirname(
                self.sso_entry_path(sessionName="corp"))))
        credentials = fetcher.fetch_credentials()
        self.assertEqual((credentials["access_key"], credentials["secret_key"],
                          credentials["token"]), self.role)

    def test_missing_sso_session_section(self):
        self.config("[profile dev]\nsso_session = nowhere\nsso_account_id = 1\n"
                    "sso_role_name = r\n")
        message = self.resolve_error(profile="dev")
        self.assertIn("[sso-session nowhere]", message)

    def test_missing_role_name(self):
        self.config("[profile dev]\nsso_session = corp\nsso_account_id = 1\n"
                    "[sso-session corp]\nsso_start_url = %s\nsso_region = eu-west-1\n"
                    % self.START_URL)
        self.assertIn("sso_role_name", self.resolve_error(profile="dev"))


class CredentialProcess(ChainCase):
    def script(self, body, name="creds helper.sh"):
        path = self.home_file(os.path.join("bin", name), "#!/bin/sh\n" + body)
        os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)
        return path

    def profile(self, command):
        self.config("[profile proc]\ncredential_process = %s\n" % command)

    def document(self, **fields):
        document = {"Version": 1, "AccessKeyId": "AKIDPROC",
                    "SecretAccessKey": self.secret("proc"), "SessionToken": "proc-token",
                    "Expiration": expiration_in(3600)}
        document.update(fields)
        return document

    def printing(self, document, status=0, stderr=""):
        return self.script("cat <<'EOF'\n%s\nEOF\n%sexit %d\n" % (
            json.dumps(document), "echo '%s' >&2\n" % stderr if stderr else "", status))

    def test_good_process_with_quoted_path_and_arguments(self):
        document = self.document()
        path = self.script("[ \"$1\" = --account ] && [ \"$2\" = 'a b' ] || exit 9\n"
                           "cat <<'EOF'\n%s\nEOF\n" % json.dumps(document))
        self.profile("\"%s\" --account 'a b'" % path)
        settings = self.resolve(profile="proc")
        credentials = settings["credentials"]
        self.assertKeys(credentials, "AKIDPROC", document["SecretAccessKey"], "proc-token",
                        "process")
        self.assertAlmostEqual(credentials["expiration"], time.time() + 3600, delta=120)

    def test_no_expiration_means_none(self):
        document = self.document()
        del document["Expiration"]
        del document["SessionToken"]
        self.profile("'%s'" % self.printing(document))
        credentials = self.resolve(profile="proc")["credentials"]
        self.assertNotIn("expiration", credentials)
        self.assertNotIn("session_token", credentials)

    def test_failure_shows_status_and_stderr_but_not_stdout(self):
        self.profile("'%s'" % self.printing(self.document(), status=3,
                                            stderr="vault: permission denied"))
        message = self.resolve_error(profile="proc")
        self.assertIn("credential_process", message)
        self.assertIn("'proc'", message)
        self.assertIn("status 3", message)
        self.assertIn("vault: permission denied", message)

    def test_expired(self):
        self.profile("'%s'" % self.printing(self.document(Expiration=expiration_in(-30))))
        self.assertIn("expired", self.resolve_error(profile="proc"))

    def test_bad_json(self):
        self.profile("'%s'" % self.script("echo 'AccessKeyId=%s'\n" % self.secret("raw")))
        self.assertIn("JSON", self.resolve_error(profile="proc"))

    def test_wrong_version(self):
        self.profile("'%s'" % self.printing(self.document(Version=2)))
        self.assertIn("Version", self.resolve_error(profile="proc"))

    def test_control_character_in_a_key(self):
        self.profile("'%s'" % self.printing(self.document(SessionToken="two\nlines")))
        self.assertIn("session_token", self.resolve_error(profile="proc"))

    def test_missing_secret_field(self):
        document = self.document()
        del document["SecretAccessKey"]
        self.profile("'%s'" % self.printing(document))
        self.assertIn("SecretAccessKey", self.resolve_error(profile="proc"))

    def pid_files(self):
        return [os.path.join(self.scratch, name) for name in ("main.pid", "child.pid")]

    def hanging(self):
        """A process that never answers and leaves a background child in its group."""
        main, child = self.pid_files()
        return self.script("echo $$ > '%s'\nsleep 300 &\necho $! > '%s'\nwait\n" % (main, child))

    def assertGone(self, pid_file):
        """The process whose id pid_file holds has ended (a zombie counts as ended)."""
        with open(pid_file) as f:
            pid = int(f.read())
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with open("/proc/%d/stat" % pid) as f:
                    state = f.read().rsplit(")", 1)[1].split()[0]
            except FileNotFoundError:
                return
            if state in ("Z", "X"):
                return
            time.sleep(0.05)
        self.fail("process %d (%s) still runs" % (pid, os.path.basename(pid_file)))

    def test_timeout_kills_the_process_group_and_names_the_profile(self):
        self.profile("'%s'" % self.hanging())
        started = time.monotonic()
        message = self.resolve_error(profile="proc", timeout=1)
        self.assertLess(time.monotonic() - started, 10)
        self.assertIn("credential_process of profile 'proc' timed out after 1 s", message)
        self.assertIn("default 60 s", message)
        for pid_file in self.pid_files():
            self.assertGone(pid_file)

    def test_without_timeout_a_slow_process_still_answers(self):
        document = self.document()
        self.profile("'%s'" % self.script("sleep 1.5\ncat <<'EOF'\n%s\nEOF\n"
                                          % json.dumps(document)))
        credentials = self.resolve(profile="proc")["credentials"]
        self.assertKeys(credentials, "AKIDPROC", document["SecretAccessKey"], "proc-token",
                        "process")

    def test_endless_output_is_cut_off(self):
        self.profile("'%s'" % self.script("yes '%s'\n" % self.secret("spam")))
        started = time.monotonic()
        message = self.resolve_error(profile="proc")
        self.assertLess(time.monotonic() - started, 10)
        self.assertIn("'proc' printed more than 65536 bytes", message)

    def test_long_output_on_one_line_is_cut_off(self):
        self.profile("'%s'" % self.script("head -c 1000000 /dev/zero | tr '\\0' x\n"))
        message = self.resolve_error(profile="proc")
        self.assertIn("printed more than 65536 bytes", message)

    def test_endless_stderr_is_cut_to_an_excerpt(self):
        self.profile("'%s'" % self.script(
            "head -c 5000000 /dev/zero | tr '\\0' e >&2\nexit 7\n"))
        message = self.resolve_error(profile="proc")
        self.assertIn("exited with status 7: eeee", message)
        self.assertLess(len(message), 600)

    def test_inside_a_running_event_loop_fails_without_starting_it(self):
        marker = os.path.join(self.scratch, "started")
        self.profile("'%s'" % self.script("touch '%s'\ncat <<'EOF'\n%s\nEOF\n"
                                          % (marker, json.dumps(self.document()))))
        out, _ = self.probe({"call": "resolve", "options": {"profile": "proc"},
                             "in_callback": True}, None)
        self.assertFalse(out["ok"])
        self.assertIn("credential_process of profile 'proc'", out["message"])
        self.assertIn("cannot wait here", out["message"])
        self.assertIn("wait from a task (lambda.spawn)", out["message"])
        self.assertFalse(os.path.exists(marker))

    def test_plain_script_with_pending_handles_gets_its_answer(self):
        document = self.document()
        self.profile("'%s'" % self.printing(document))
        started = time.monotonic()
        out, _ = self.probe({"call": "resolve", "options": {"profile": "proc"},
                             "pending_timer": 30}, None)
        self.assertLess(time.monotonic() - started, 10)
        self.assertTrue(out["ok"], out.get("message"))
        self.assertFalse(out["timer_fired"])
        self.assertKeys(out["settings"]["credentials"], "AKIDPROC",
                        document["SecretAccessKey"], "proc-token", "process")

    def test_process_comes_before_the_config_files_static_keys(self):
        # botocore's order: credentials-file keys, credential_process, config-file keys.
        document = self.document()
        self.config(keys_section("[profile both]", "AKIDSTATIC", self.secret("static"))
                    + "credential_process = '%s'\n" % self.printing(document))
        settings = self.resolve(profile="both")
        self.assertKeys(settings["credentials"], "AKIDPROC", document["SecretAccessKey"],
                        "proc-token", "process")

    def test_credentials_files_static_keys_come_before_the_process(self):
        secret = self.secret("static")
        marker = os.path.join(self.scratch, "ran")
        self.config("[profile both]\ncredential_process = touch '%s'\n" % marker)
        self.credentials(keys_section("[both]", "AKIDSTATIC", secret))
        settings = self.resolve(profile="both")
        self.assertKeys(settings["credentials"], "AKIDSTATIC", secret, source="profile")
        self.assertFalse(os.path.exists(marker))


class Container(ChainCase):
    PATH = "/v1/credentials/task"

    def setUp(self):
        super().setUp()
        self.task = ("ASIATASK", self.secret("task"), self.secret("task-token"))
        self.auth = self.secret("container-auth")
        self.endpoint = self.start(FakeContainerEndpoint(self.PATH, self.task, self.auth))

    def test_full_uri_with_token(self):
        settings = self.resolve({"AWS_CONTAINER_CREDENTIALS_FULL_URI": self.endpoint.url(self.PATH),
                                 "AWS_CONTAINER_AUTHORIZATION_TOKEN": self.auth})
        self.assertKeys(settings["credentials"], *self.task, source="container")
        self.assertEqual(self.endpoint.requests[0].header("Authorization"), self.auth)

    def test_token_file_is_preferred(self):
        token_file = self.home_file("pod-token", self.auth + "\n")
        settings = self.resolve({"AWS_CONTAINER_CREDENTIALS_FULL_URI": self.endpoint.url(self.PATH),
                                 "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": token_file,
                                 "AWS_CONTAINER_AUTHORIZATION_TOKEN": self.secret("other")})
        self.assertEqual(settings["credentials"]["source"], "container")
        self.assertEqual(self.endpoint.requests[0].header("Authorization"), self.auth)

    def test_wrong_token_is_an_error_with_the_endpoints_reason(self):
        message = self.resolve_error({
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": self.endpoint.url(self.PATH),
            "AWS_CONTAINER_AUTHORIZATION_TOKEN": self.secret("wrong")})
        self.assertIn("HTTP 401", message)
        self.assertIn("AccessDenied", message)

    def test_plain_http_to_other_hosts_is_refused(self):
        message = self.resolve_error({
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://192.0.2.10:%d%s"
            % (self.endpoint.port, self.PATH),
            "AWS_CONTAINER_AUTHORIZATION_TOKEN": self.auth})
        self.assertIn("plain http", message)
        self.assertIn("https", message)
        self.assertEqual(self.endpoint.requests, [])

    def test_https_is_allowed_to_any_host(self):
        message = self.resolve_error({
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": "https://%s/creds" % UNRESOLVABLE})
        self.assertNotIn("plain http", message)
        self.assertIn(UNRESOLVABLE, message)

    def test_profile_keys_come_before_the_container(self):
        secret = self.secret("static")
        self.credentials(keys_section("[default]", "AKIDSTATIC", secret))
        settings = self.resolve({"AWS_CONTAINER_CREDENTIALS_FULL_URI":
                                 self.endpoint.url(self.PATH)})
        self.assertKeys(settings["credentials"], "AKIDSTATIC", secret, source="profile")
        self.assertEqual(self.endpoint.requests, [])


class InstanceMetadata(ChainCase):
    def imds(self, token_status=200):
        self.role = ("ASIAEC2", self.secret("ec2"), self.secret("ec2-token"))
        return self.start(FakeIMDS("web-server-role", self.role, token_status=token_status))

    def imds_env(self, fake, **extra):
        env = {"AWS_EC2_METADATA_DISABLED": "false",
               "AWS_EC2_METADATA_SERVICE_ENDPOINT": fake.url("/")}
        env.update(extra)
        return env

    def test_imdsv2(self):
        fake = self.imds()
        settings = self.resolve(self.imds_env(fake))
        self.assertKeys(settings["credentials"], *self.role, source="imds")
        token_request, list_request, role_request = fake.requests
        self.assertEqual((token_request.method, token_request.path), ("PUT", "/latest/api/token"))
        self.assertTrue(token_request.header("X-aws-ec2-metadata-token-ttl-seconds").isdigit())
        self.assertEqual(list_request.path, "/latest/meta-data/iam/security-credentials/")
        self.assertEqual(role_request.path,
                         "/latest/meta-data/iam/security-credentials/web-server-role")
        for request in (list_request, role_request):
            self.assertEqual(request.header("X-aws-ec2-metadata-token"), FakeIMDS.TOKEN)

    def test_falls_back_to_imdsv1(self):
        for status in (403, 404, 405):
            with self.subTest(status=status):
                fake = self.imds(token_status=status)
                settings = self.resolve(self.imds_env(fake))
                self.assertKeys(settings["credentials"], *self.role, source="imds")
                self.assertEqual(len(fake.requests), 3)
                for request in fake.requests[1:]:
                    self.assertIsNone(request.header("X-aws-ec2-metadata-token"))

    def test_no_fallback_when_v1_is_disabled(self):
        fake = self.imds(token_status=403)
        message = self.resolve_error(self.imds_env(fake, AWS_EC2_METADATA_V1_DISABLED="true"))
        self.assertIn("no AWS credentials found", message)
        self.assertIn("IMDSv1 is disabled", message)
        self.assertEqual(len(fake.requests), 1)

    def test_disabled(self):
        fake = self.imds()
        message = self.resolve_error(self.imds_env(fake, AWS_EC2_METADATA_DISABLED="TRUE"))
        self.assertIn("disabled by AWS_EC2_METADATA_DISABLED", message)
        self.assertEqual(fake.requests, [])

    def test_endpoint_from_profile(self):
        fake = self.imds()
        self.config("[default]\nec2_metadata_service_endpoint = %s\n" % fake.url())
        settings = self.resolve({"AWS_EC2_METADATA_DISABLED": "false"})
        self.assertEqual(settings["credentials"]["source"], "imds")

    def test_bad_endpoint_mode(self):
        message = self.resolve_error({"AWS_EC2_METADATA_DISABLED": "false",
                                      "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE": "IPv5"})
        self.assertIn("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", message)

    def test_container_comes_before_instance_metadata(self):
        fake = self.imds()
        task = ("ASIATASK", self.secret("task"), "t")
        endpoint = self.start(FakeContainerEndpoint("/c", task))
        settings = self.resolve(self.imds_env(
            fake, AWS_CONTAINER_CREDENTIALS_FULL_URI=endpoint.url("/c")))
        self.assertEqual(settings["credentials"]["source"], "container")
        self.assertEqual(fake.requests, [])


class NothingFound(ChainCase):
    def test_one_message_lists_where_it_looked(self):
        self.config("[default]\nregion = eu-west-1\n")
        port = unused_port()
        started = time.monotonic()
        message = self.resolve_error({
            "AWS_EC2_METADATA_DISABLED": "false",
            "AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:%d" % port})
        self.assertLess(time.monotonic() - started, 10)
        self.assertTrue(message.startswith("no AWS credentials found"), message)
        for place in ("environment", "AWS_ACCESS_KEY_ID", "web identity",
                      "AWS_WEB_IDENTITY_TOKEN_FILE", "profile 'default'",
                      "container endpoint", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                      "EC2 instance metadata at http://127.0.0.1:%d" % port, "refused"):
            self.assertIn(place, message)

    def test_profile_flag_changes_what_is_skipped(self):
        self.config("[profile bare]\nregion = eu-west-1\n")
        message = self.resolve_error(profile="bare")
        self.assertIn("environment (skipped: a profile was named explicitly)", message)
        self.assertIn("profile 'bare'", message)


class SigV4Verifier(unittest.TestCase):
    """The checker the fakes rely on, against AWS's published examples and tampered copies."""

    SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"

    def vanilla(self, signature, query=""):
        headers = [("Host", "example.amazonaws.com"), ("X-Amz-Date", "20150830T123600Z"),
                   ("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/"
                    "us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, "
                    "Signature=" + signature)]
        return verify("GET", "/" + query, headers, b"", {"AKIDEXAMPLE": self.SECRET})

    def test_published_get_vanilla(self):
        self.assertEqual(
            self.vanilla("5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
            (True, "", "AKIDEXAMPLE", "us-east-1", "service"))

    def test_published_query_order(self):
        ok, reason = self.vanilla(
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
            "?Param2=value2&Param1=value1")[:2]
        self.assertTrue(ok, reason)

    def test_published_s3_example_with_content_hash(self):
        headers = [("Host", "examplebucket.s3.amazonaws.com"), ("Range", "bytes=0-9"),
                   ("x-amz-content-sha256", hashlib.sha256(b"").hexdigest()),
                   ("x-amz-date", "20130524T000000Z"),
                   ("Authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/"
                    "us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;"
                    "x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd9103"
                    "9c6036bdb41")]
        secrets = {"AKIAIOSFODNN7EXAMPLE": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}
        ok, reason = verify("GET", "/test.txt", headers, b"", secrets)[:2]
        self.assertTrue(ok, reason)

    def test_tampering_is_caught(self):
        good = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        self.assertFalse(self.vanilla(good, "?extra=1")[0])
        self.assertFalse(self.vanilla("0" + good[1:])[0])
        headers = [("Host", "example.amazonaws.com"), ("X-Amz-Date", "20150830T123600Z"),
                   ("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/"
                    "us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, "
                    "Signature=" + good)]
        self.assertFalse(verify("GET", "/", headers, b"body", {"AKIDEXAMPLE": self.SECRET})[0])
        self.assertFalse(verify("GET", "/", headers, b"", {"AKIDEXAMPLE": "other"})[0])
        ok, reason = verify("GET", "/", headers, b"", {})[:2]
        self.assertFalse(ok)
        self.assertIn("unknown access key id", reason)
        unsigned_token = headers + [("X-Amz-Security-Token", "t")]
        self.assertFalse(verify("GET", "/", unsigned_token, b"", {"AKIDEXAMPLE": self.SECRET})[0])
        # Headers outside SignedHeaders may change freely.
        extra = headers + [("User-Agent", "anything")]
        self.assertTrue(verify("GET", "/", extra, b"", {"AKIDEXAMPLE": self.SECRET})[0])


class CurlAssumeRole(ThroughCurl, AssumeRole):
    pass


class CurlWebIdentity(ThroughCurl, WebIdentity):
    pass


class CurlIdentityCenter(ThroughCurl, IdentityCenter):
    pass


class CurlContainer(ThroughCurl, Container):
    pass


class CurlInstanceMetadata(ThroughCurl, InstanceMetadata):
    pass


if __name__ == "__main__":
    unittest.main()
