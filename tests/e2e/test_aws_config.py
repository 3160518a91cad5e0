"""lambda.aws: the shared files, profile and region selection, endpoints and redaction, run in
the real binary through lua/aws_probe.lua with a private HOME and an explicit environment."""

import os
import unittest

from awsfakes import AwsProbeCase


class OriginalTable(AwsProbeCase):
    """The original's test data (cargo-lambda-remote: aws_config / aws_credentials) and its
    table of expectations, row by row. Where we differ it is on purpose: we always end with a
    region (us-east-1 when nothing names one), and we read AWS_REGION even with --profile."""

    def setUp(self):
        super().setUp()
        self.config = os.path.join(self.scratch, "aws_config")
        self.credentials = os.path.join(self.scratch, "aws_credentials")
        with open(self.config, "w") as out:
            out.write("[default]\nregion = af-south-1\n\n"
                      "[profile apple]\nregion = ca-central-1\n\n"
                      "[profile banana]\noutput = json\n")
        self.keys = {}
        with open(self.credentials, "w") as out:
            for name, letter in (("default", "D"), ("apple", "A"), ("banana", "B"),
                                 ("cherry", "C")):
                self.keys[name] = (letter * 20, self.secret(name))
                out.write("[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n\n"
                          % ((name,) + self.keys[name]))

    def files_env(self, **extra):
        env = {"AWS_CONFIG_FILE": self.config, "AWS_SHARED_CREDENTIALS_FILE": self.credentials}
        env.update(extra)
        return env

    def test_undefined_profile_is_an_error_naming_it_and_both_files(self):
        message = self.resolve_error(self.files_env(), profile="durian")
        self.assertIn("'durian'", message)
        # A library message names the field, never a command's flag; the kind says what failed.
        self.assertTrue(message.startswith("profile: "), message)
        self.assertNotIn("--profile", message)
        self.assertEqual((self.last["kind"], self.last["field"]), ("not_found", "profile"))
        self.assertIn(self.config, message)
        self.assertIn(self.credentials, message)

    def test_profile_only_in_credentials_file_gets_the_default_region(self):
        # The original leaves the region unset here.
        settings = self.resolve(self.files_env(), profile="cherry")
        self.assertEqual(settings["profile"], "cherry")
        self.assertEqual(settings["region"], "us-east-1")
        self.assertEqual(settings["origin"]["region"], "default")
        self.assertKeys(settings["credentials"], *self.keys["cherry"], source="profile")

    def test_profile_with_region(self):
        settings = self.resolve(self.files_env(), profile="apple")
        self.assertEqual(settings["region"], "ca-central-1")
        self.assertKeys(settings["credentials"], *self.keys["apple"], source="profile")

    def test_profile_without_region_gets_the_default_region(self):
        # The original leaves the region unset here.
        settings = self.resolve(self.files_env(), profile="banana")
        self.assertEqual(settings["region"], "us-east-1")
        self.assertKeys(settings["credentials"], *self.keys["banana"])

    def test_default_profile(self):
        settings = self.resolve(self.files_env())
        self.assertEqual(settings["profile"], "default")
        self.assertEqual(settings["region"], "af-south-1")
        self.assertKeys(settings["credentials"], *self.keys["default"], source="profile")

    def test_environment_region_beats_the_named_profile(self):
        # The original, given --profile, reads only the profile's region.
        settings = self.resolve(self.files_env(AWS_REGION="eu-west-1"), profile="apple")
        self.assertEqual(settings["region"], "eu-west-1")
        self.assertEqual(settings["origin"]["region"], "AWS_REGION")

    def test_aws_profile_selects_like_the_flag(self):
        settings = self.resolve(self.files_env(AWS_PROFILE="apple"))
        self.assertEqual(settings["profile"], "apple")
        self.assertEqual(settings["origin"]["profile"], "AWS_PROFILE")
        self.assertKeys(settings["credentials"], *self.keys["apple"])

    def test_flag_beats_aws_profile(self):
        settings = self.resolve(self.files_env(AWS_PROFILE="apple"), profile="banana")
        self.assertEqual(settings["profile"], "banana")
        self.assertKeys(settings["credentials"], *self.keys["banana"])

    def test_aws_profile_naming_a_missing_profile_is_an_error(self):
        message = self.resolve_error(self.files_env(AWS_PROFILE="durian"))
        self.assertIn("'durian'", message)
        self.assertIn("AWS_PROFILE", message)

    def test_explicit_profile_skips_environment_keys(self):
        env = self.files_env(AWS_ACCESS_KEY_ID="ENVKEY", AWS_SECRET_ACCESS_KEY=self.secret("env"))
        settings = self.resolve(env, profile="apple")
        self.assertKeys(settings["credentials"], *self.keys["apple"], source="profile")

    def test_profile_from_aws_profile_does_not_skip_environment_keys(self):
        env_secret = self.secret("env")
        env = self.files_env(AWS_PROFILE="apple", AWS_ACCESS_KEY_ID="ENVKEY",
                             AWS_SECRET_ACCESS_KEY=env_secret)
        settings = self.resolve(env)
        self.assertKeys(settings["credentials"], "ENVKEY", env_secret, source="environment")
        # The profile still gives the region.
        self.assertEqual(settings["region"], "ca-central-1")


class SharedFiles(AwsProbeCase):
    def test_files_default_to_home(self):
        self.home_file(".aws/config", "[profile work]\nregion = eu-north-1\n")
        secret = self.secret("work")
        self.home_file(".aws/credentials",
                       "[work]\naws_access_key_id = AKIDWORK\naws_secret_access_key = %s\n"
                       "aws_session_token = %s\n" % (secret, "work-token"))
        settings = self.resolve(profile="work")
        self.assertEqual(settings["region"], "eu-north-1")
        self.assertKeys(settings["credentials"], "AKIDWORK", secret, "work-token")

    def test_tilde_in_file_variables_is_home(self):
        self.home_file("elsewhere/conf", "[profile x]\nregion = sa-east-1\n"
                       "aws_access_key_id = AKIDX\naws_secret_access_key = sx\n")
        settings = self.resolve({"AWS_CONFIG_FILE": "~/elsewhere/conf"}, profile="x")
        self.assertEqual(settings["region"], "sa-east-1")
        self.assertEqual(settings["credentials"]["access_key_id"], "AKIDX")

    def test_same_profile_merges_key_by_key_and_credentials_file_wins(self):
        self.home_file(".aws/config", "[profile m]\nregion = eu-west-3\noutput = json\n"
                       "credential_process = false\n")
        credentials_secret = self.secret("credentials")
        self.home_file(".aws/credentials", "[m]\nregion = eu-north-1\naws_access_key_id = CK\n"
                       "aws_secret_access_key = %s\n" % credentials_secret)
        settings = self.resolve(profile="m")
        self.assertEqual(settings["region"], "eu-north-1")
        self.assertKeys(settings["credentials"], "CK", credentials_secret, source="profile")

    def test_key_pair_split_across_the_files_is_an_error_as_in_the_aws_cli(self):
        # botocore reads each file's static keys on their own: the credentials file's half
        # pair is a partial-credentials error, whatever the config file holds.
        config_secret = self.secret("config")
        self.home_file(".aws/config",
                       "[profile m]\nregion = eu-west-3\naws_access_key_id = CONFIGKEY\n"
                       "aws_secret_access_key = %s\n" % config_secret)
        self.home_file(".aws/credentials", "[m]\naws_access_key_id = CREDENTIALSKEY\n")
        message = self.resolve_error(profile="m")
        self.assertIn("profile 'm' in %s" % os.path.join(self.home, ".aws", "credentials"),
                      message)
        self.assertIn("no aws_secret_access_key", message)

    def test_missing_files_and_missing_default_profile_are_fine(self):
        secret = self.secret("env")
        settings = self.resolve({"AWS_ACCESS_KEY_ID": "ENVKEY", "AWS_SECRET_ACCESS_KEY": secret})
        self.assertEqual(settings["profile"], "default")
        self.assertEqual(settings["region"], "us-east-1")
        self.assertKeys(settings["credentials"], "ENVKEY", secret, source="environment")

    def test_malformed_config_names_file_and_line(self):
        path = self.home_file(".aws/config", "[default]\nregion = us-west-2\nthis line has no "
                              "equals sign\n")
        message = self.resolve_error({"AWS_ACCESS_KEY_ID": "K", "AWS_SECRET_ACCESS_KEY": "S"})
        self.assertIn("config", message)
        self.assertIn(path, message)
        self.assertIn("line 3", message)

    def test_malformed_credentials_file_does_not_quote_the_secret(self):
        secret = self.secret("typo")
        path = self.home_file(".aws/credentials",
                              "[default]\naws_access_key_id = K\naws_secret_access_key %s\n"
                              % secret)
        message = self.resolve_error()
        self.assertIn(path, message)
        self.assertIn("line 3", message)

    def test_unreadable_config_is_an_error_naming_it(self):
        path = os.path.join(self.home, ".aws", "config")
        os.makedirs(path)
        message = self.resolve_error({"AWS_ACCESS_KEY_ID": "K", "AWS_SECRET_ACCESS_KEY": "S"})
        self.assertIn(path, message)

    def test_session_token_continued_over_lines_is_an_error(self):
        # A continuation line makes the value two lines, which no HTTP header can carry.
        self.home_file(".aws/credentials", "[default]\naws_access_key_id = K\n"
                       "aws_secret_access_key = %s\naws_session_token = %s\n  %s\n"
                       % (self.secret("s"), self.secret("t1"), self.secret("t2")))
        message = self.resolve_error()
        self.assertIn("'default'", message)
        self.assertIn("aws_session_token", message)

    def test_half_a_key_pair_is_an_error_naming_the_missing_key(self):
        self.home_file(".aws/credentials", "[default]\naws_access_key_id = ONLYID\n")
        message = self.resolve_error()
        self.assertIn("'default'", message)
        self.assertIn("aws_secret_access_key", message)


class Regions(AwsProbeCase):
    def setUp(self):
        super().setUp()
        self.home_file(".aws/config", "[default]\nregion = ap-south-1\naws_access_key_id = K\n"
                       "aws_secret_access_key = S\n")

    def region(self, env=None, **options):
        settings = self.resolve(env, **options)
        return settings["region"], settings["origin"]["region"]

    def test_profile_region(self):
        self.assertEqual(self.region(), ("ap-south-1", "region of profile 'default'"))

    def test_aws_default_region_beats_profile(self):
        self.assertEqual(self.region({"AWS_DEFAULT_REGION": "eu-central-1"}),
                         ("eu-central-1", "AWS_DEFAULT_REGION"))

    def test_aws_region_beats_aws_default_region(self):
        self.assertEqual(self.region({"AWS_DEFAULT_REGION": "eu-central-1",
                                      "AWS_REGION": "us-west-1"}), ("us-west-1", "AWS_REGION"))

    def test_flag_beats_environment(self):
        self.assertEqual(self.region({"AWS_DEFAULT_REGION": "eu-central-1",
                                      "AWS_REGION": "us-west-1"}, region="me-south-1"),
                         ("me-south-1", "region"))

    def test_empty_variable_counts_as_unset(self):
        self.assertEqual(self.region({"AWS_REGION": ""}), ("ap-south-1", "region of profile 'default'"))

    def test_default_when_nothing_names_one(self):
        os.remove(os.path.join(self.home, ".aws", "config"))
        self.assertEqual(self.region({"AWS_ACCESS_KEY_ID": "K", "AWS_SECRET_ACCESS_KEY": "S"}),
                         ("us-east-1", "default"))

    def test_region_that_cannot_be_a_host_name_is_an_error(self):
        message = self.resolve_error({"AWS_REGION": "us-east-1.evil.example/x"})
        self.assertIn("AWS_REGION", message)
        self.assertIn("us-east-1.evil.example/x", message)


class Endpoints(AwsProbeCase):
    KEYS = {"AWS_ACCESS_KEY_ID": "K", "AWS_SECRET_ACCESS_KEY": "S"}

    def endpoint(self, env=None, **options):
        environment = dict(self.KEYS)
        environment.update(env or {})
        settings = self.resolve(environment, **options)
        return settings["endpoint"], settings["origin"]["endpoint"]

    def endpoint_call(self, service, region, flag=None, env=None):
        out, _ = self.probe({"call": "endpoint", "service": service, "region": region,
                             "flag": flag}, env)
        return out

    def test_default_is_the_regional_service_host(self):
        self.assertEqual(self.endpoint(region="us-west-2"),
                         ("https://lambda.us-west-2.amazonaws.com", "default"))

    def test_china_regions_use_their_own_domain(self):
        self.assertEqual(self.endpoint(region="cn-north-1")[0],
                         "https://lambda.cn-north-1.amazonaws.com.cn")

    def test_global_variable(self):
        self.assertEqual(self.endpoint({"AWS_ENDPOINT_URL": "http://127.0.0.1:4566"}),
                         ("http://127.0.0.1:4566", "AWS_ENDPOINT_URL"))

    def test_service_variable_beats_global(self):
        env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:4566",
               "AWS_ENDPOINT_URL_LAMBDA": "http://127.0.0.1:9001"}
        self.assertEqual(self.endpoint(env), ("http://127.0.0.1:9001", "AWS_ENDPOINT_URL_LAMBDA"))

    def test_flag_beats_variables(self):
        env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:4566",
               "AWS_ENDPOINT_URL_LAMBDA": "http://127.0.0.1:9001"}
        self.assertEqual(self.endpoint(env, endpoint_url="https://localhost:9443"),
                         ("https://localhost:9443", "endpoint_url"))

    def test_other_services_variable_does_not_apply(self):
        self.assertEqual(self.endpoint({"AWS_ENDPOINT_URL_STS": "http://127.0.0.1:1"},
                                       region="eu-west-1")[0],
                         "https://lambda.eu-west-1.amazonaws.com")

    def test_ignore_configured_endpoint_urls(self):
        env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:4566",
               "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"}
        self.assertEqual(self.endpoint(env)[0], "https://lambda.us-east-1.amazonaws.com")
        self.assertEqual(self.endpoint(env, endpoint_url="http://127.0.0.1:1")[0],
                         "http://127.0.0.1:1")

    def test_not_a_url_is_an_error_naming_its_source(self):
        message = self.resolve_error(dict(self.KEYS, AWS_ENDPOINT_URL_LAMBDA="localhost:9000"))
        self.assertIn("AWS_ENDPOINT_URL_LAMBDA", message)
        self.assertIn("localhost:9000", message)

    def test_sts_and_sso_defaults(self):
        self.assertEqual(self.endpoint_call("sts", "eu-west-1")["url"],
                         "https://sts.eu-west-1.amazonaws.com")
        self.assertEqual(self.endpoint_call("sso", "eu-west-1")["url"],
                         "https://portal.sso.eu-west-1.amazonaws.com")
        self.assertEqual(self.endpoint_call("sso", "cn-northwest-1")["url"],
                         "https://portal.sso.cn-northwest-1.amazonaws.com.cn")

    def test_endpoint_function_precedence(self):
        env = {"AWS_ENDPOINT_URL_STS": "http://127.0.0.1:7000"}
        self.assertEqual(self.endpoint_call("sts", "eu-west-1", env=env)["url"],
                         "http://127.0.0.1:7000")
        self.assertEqual(self.endpoint_call("sts", "eu-west-1", "http://127.0.0.1:8000",
                                            env=env)["url"], "http://127.0.0.1:8000")
        self.assertEqual(self.endpoint_call("sso", "eu-west-1", env=env)["url"],
                         "https://portal.sso.eu-west-1.amazonaws.com")
        self.assertFalse(self.endpoint_call("sts", "eu-west-1", "ftp://x")["ok"])


class Redaction(AwsProbeCase):
    def redact(self, text, secrets=None):
        out, _ = self.probe({"call": "redact", "text": text, "secrets": secrets or {}}, None)
        return out["text"]

    def test_known_secrets_and_their_encoded_forms(self):
        credentials = {"access_key_id": "AKIDKEEP", "secret_access_key": "s3cr/t+key",
                       "session_token": "tok/en=="}
        text = self.redact("a s3cr/t+key b tok%2Fen%3D%3D c AKIDKEEP", credentials)
        self.assertEqual(text, "a <redacted> b <redacted> c AKIDKEEP")

    def test_extra_secret_strings(self):
        self.assertEqual(self.redact("x sso-token y", ["sso-token"]), "x <redacted> y")

    def test_request_head(self):
        head = ("POST /2015-03-31/functions/f/invocations HTTP/1.1\r\n"
                "Host: lambda.us-east-1.amazonaws.com\r\n"
                "X-Amz-Date: 20260101T000000Z\r\n"
                "x-amz-security-token: FQoGZXIvYXdzEXAMPLETOKEN\r\n"
                "Authorization: AWS4-HMAC-SHA256 Credential=AKIDKEEP/20260101/us-east-1/lambda/"
                "aws4_request, SignedHeaders=host;x-amz-date;x-amz-security-token, "
                "Signature=" + "ab" * 32 + "\r\n\r\n")
        text = self.redact(head)
        self.assertNotIn("FQoGZXIvYXdzEXAMPLETOKEN", text)
        self.assertNotIn("ab" * 32, text)
        self.assertIn("x-amz-security-token: <redacted>\r\n", text)
        self.assertIn("Credential=AKIDKEEP/20260101/us-east-1/lambda/aws4_request", text)
        self.assertIn("Signature=<redacted>", text)
        self.assertIn("Host: lambda.us-east-1.amazonaws.com\r\n", text)

    def test_other_authorization_schemes_and_bearer_headers(self):
        text = self.redact("GET /creds\nAuthorization: container-token-value\n"
                           "x-amz-sso_bearer_token: sso-value\n"
                           "X-aws-ec2-metadata-token: imds-value\nAccept: */*\n")
        for value in ("container-token-value", "sso-value", "imds-value"):
            self.assertNotIn(value, text)
        self.assertIn("Accept: */*", text)

    def test_documents(self):
        text = self.redact('{"AccessKeyId":"AKIDKEEP","SecretAccessKey":"json-secret",'
                           '"Token":"json-token","sessionToken":"json-session"} '
                           '<SecretAccessKey>xml-secret</SecretAccessKey>'
                           '<SessionToken>xml-token</SessionToken> '
                           '/?X-Amz-Signature=qsig&X-Amz-Security-Token=qtok&A=keep '
                           'WebIdentityToken=form-token&RoleArn=keep')
        for value in ("json-secret", "json-token", "json-session", "xml-secret", "xml-token",
                      "qsig", "qtok", "form-token"):
            self.assertNotIn(value, text)
        self.assertIn('"AccessKeyId":"AKIDKEEP"', text)
        self.assertIn("A=keep", text)
        self.assertIn("RoleArn=keep", text)


if __name__ == "__main__":
    unittest.main()
