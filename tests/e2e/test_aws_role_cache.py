"""lambda.aws and the AWS CLI's cache of assumed-role credentials (~/.aws/cli/cache), and MFA
codes for roles with mfa_serial, against a loopback fake STS (awsfakes.py). The cache key is
checked against an independent computation of botocore's rule (SHA-1 of the arguments as
Python's json.dumps(sort_keys=True) writes them) and, when botocore is installed, against
botocore itself, which must also accept the entries written here."""

import fcntl
import hashlib
import json
import os
import select
import stat
import subprocess
import termios
import time
import unittest

import test_aws_credentials as base
from awsfakes import PROBE, expiration_in
from harness import BIN, ThroughCurl

try:
    import botocore.credentials as botocore_credentials
    import botocore.utils as botocore_utils
except ImportError:  # botocore is optional: its cross-checks are skipped without it
    botocore_credentials = None

ROLE_A, ROLE_B = base.ROLE_A, base.ROLE_B
MFA_SERIAL = "arn:aws:iam::123456789012:mfa/me"


def botocore_key(args):
    """botocore's cache key, computed here the way botocore computes it."""
    return hashlib.sha1(json.dumps(args, sort_keys=True).encode("utf-8")).hexdigest()


class CacheCase(base.ChainCase):
    def setUp(self):
        super().setUp()
        self.fake = self.sts()
        self.base_secret = self.secret("base")
        self.fake.add_identity("AKIDBASE", self.base_secret)
        self.credentials(base.keys_section("[base]", "AKIDBASE", self.base_secret))
        self.role_a = ("ASIAALPHA", self.secret("alpha"), self.secret("alpha-token"))
        self.role_b = ("ASIABETA", self.secret("beta"), self.secret("beta-token"))

    def env(self, **extra):
        extra.setdefault("AWS_ENDPOINT_URL_STS", self.fake.url())
        return super().env(**extra)

    def cache_dir(self):
        return os.path.join(self.home, ".aws", "cli", "cache")

    def entry_path(self, args):
        return os.path.join(self.cache_dir(), botocore_key(args) + ".json")

    def write_entry(self, args, credentials, expires_in):
        """An entry as the AWS CLI writes it (Expiration with botocore's "UTC" suffix)."""
        access_key_id, secret, token = credentials
        moment = time.gmtime(time.time() + expires_in)
        path = self.entry_path(args)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as out:
            json.dump({"Credentials": {
                "AccessKeyId": access_key_id, "SecretAccessKey": secret, "SessionToken": token,
                "Expiration": time.strftime("%Y-%m-%dT%H:%M:%SUTC", moment)},
                "AssumedRoleUser": {"AssumedRoleId": "AROA:x", "Arn": "arn:aws:sts::1:x"},
                "ResponseMetadata": {"RequestId": "r", "HTTPStatusCode": 200,
                                     "HTTPHeaders": {}, "RetryAttempts": 0}}, out)
        return path

    def chain(self, extra=""):
        self.config("[profile dev]\nrole_arn = %s\nsource_profile = base\n%s" % (ROLE_A, extra))
        self.fake.add_role(ROLE_A, self.role_a, trusted={"AKIDBASE"})


class RoleCache(CacheCase):
    def test_first_resolve_writes_the_aws_cli_entry_the_second_reads_it(self):
        self.chain()
        first = self.resolve(profile="dev")
        self.assertKeys(first["credentials"], *self.role_a, source="assume-role")
        path = self.entry_path({"RoleArn": ROLE_A})
        self.assertTrue(os.path.isfile(path), os.listdir(self.cache_dir()))
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        # ~/.aws was there already (the test's files); the two folders below it were made.
        for folder in (".aws/cli", ".aws/cli/cache"):
            mode = stat.S_IMODE(os.stat(os.path.join(self.home, folder)).st_mode)
            self.assertEqual(mode, 0o700, folder)
        self.assertEqual(os.listdir(self.cache_dir()), [os.path.basename(path)],
                         "a temporary file was left behind")
        with open(path) as f:
            text = f.read()
        entry = json.loads(text)
        # The layout of Python's json.dumps, which botocore uses to write the entry.
        self.assertEqual(text, json.dumps(entry))
        self.assertEqual(list(entry), ["Credentials", "AssumedRoleUser", "ResponseMetadata"])
        stored = entry["Credentials"]
        self.assertEqual((stored["AccessKeyId"], stored["SecretAccessKey"],
                          stored["SessionToken"]), self.role_a)
        self.assertRegex(stored["Expiration"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dUTC$")
        self.assertEqual(stored["AccountId"], "123456789012")
        self.assertTrue(entry["AssumedRoleUser"]["Arn"].startswith(
            "arn:aws:sts::123456789012:assumed-role/alpha/"))
        self.assertEqual(entry["ResponseMetadata"]["HTTPStatusCode"], 200)

        second = self.resolve(profile="dev")
        self.assertKeys(second["credentials"], *self.role_a, source="assume-role")
        self.assertEqual(len(self.fake.calls), 1, "the second resolve called STS")

    def test_configured_arguments_are_in_the_key(self):
        self.chain("role_session_name = ci-run\nexternal_id = ext-1\nduration_seconds = 900\n")
        self.resolve(profile="dev")
        args = {"RoleArn": ROLE_A, "RoleSessionName": "ci-run", "ExternalId": "ext-1",
                "DurationSeconds": 900}
        self.assertTrue(os.path.isfile(self.entry_path(args)), os.listdir(self.cache_dir()))

    def test_entry_of_the_aws_cli_is_used_without_calling_sts(self):
        self.chain()
        marker = os.path.join(self.scratch, "process-ran")
        self.credentials("[base]\ncredential_process = touch '%s'\n" % marker)
        cached = ("ASIACACHED", self.secret("cached"), self.secret("cached-token"))
        self.write_entry({"RoleArn": ROLE_A}, cached, 3600)
        settings = self.resolve(profile="dev")
        self.assertKeys(settings["credentials"], *cached, source="assume-role")
        self.assertAlmostEqual(settings["credentials"]["expiration"], time.time() + 3600,
                               delta=5)
        self.assertEqual(self.fake.calls, [])
        self.assertFalse(os.path.exists(marker), "the source profile was resolved")

    def test_entry_expiring_within_five_minutes_is_replaced(self):
        self.chain()
        self.write_entry({"RoleArn": ROLE_A}, ("ASIAOLD", "old", "old-token"), 240)
        settings = self.resolve(profile="dev")
        self.assertKeys(settings["credentials"], *self.role_a, source="assume-role")
        self.assertEqual(len(self.fake.calls), 1)
        with open(self.entry_path({"RoleArn": ROLE_A})) as f:
            self.assertEqual(json.load(f)["Credentials"]["AccessKeyId"], "ASIAALPHA")

    def test_corrupt_entry_is_a_miss(self):
        self.chain()
        path = self.write_entry({"RoleArn": ROLE_A}, ("A", "B", "C"), 3600)
        with open(path, "w") as f:
            f.write("{not json")
        self.assertKeys(self.resolve(profile="dev")["credentials"], *self.role_a)
        self.assertEqual(len(self.fake.calls), 1)

    def test_existing_folder_keeps_its_mode(self):
        self.chain()
        os.makedirs(self.cache_dir())
        os.chmod(self.cache_dir(), 0o755)
        self.resolve(profile="dev")
        self.assertEqual(stat.S_IMODE(os.stat(self.cache_dir()).st_mode), 0o755)

    def test_unwritable_cache_is_a_warning_not_a_failure(self):
        self.chain()
        self.home_file(".aws/cli", "a file where the folder should be")
        settings = self.resolve(profile="dev")
        self.assertKeys(settings["credentials"], *self.role_a, source="assume-role")
        self.assertTrue(any("cache" in w or ".aws/cli" in w for w in settings["warnings"]),
                        settings["warnings"])

    def test_each_link_is_cached_and_a_cached_middle_link_skips_the_base(self):
        self.config("[profile top]\nrole_arn = %s\nsource_profile = middle\n"
                    "[profile middle]\nrole_arn = %s\nsource_profile = base\n" % (ROLE_A, ROLE_B))
        self.fake.add_role(ROLE_B, self.role_b, trusted={"AKIDBASE"})
        self.fake.add_role(ROLE_A, self.role_a, trusted={"ASIABETA"})
        self.resolve(profile="top")
        self.assertTrue(os.path.isfile(self.entry_path({"RoleArn": ROLE_B})))
        os.remove(self.entry_path({"RoleArn": ROLE_A}))
        settings = self.resolve(profile="top")
        self.assertKeys(settings["credentials"], *self.role_a, source="assume-role")
        # Only the top link was assumed again, signed with the cached middle link's keys.
        self.assertEqual([c["signed_by"] for c in self.fake.calls],
                         ["AKIDBASE", "ASIABETA", "ASIABETA"])

    def test_web_identity_is_cached_too(self):
        token_file = self.home_file("token", self.secret("oidc"))
        with open(token_file) as f:
            self.fake.add_role(ROLE_A, self.role_a, web_identity_token=f.read())
        env = {"AWS_WEB_IDENTITY_TOKEN_FILE": token_file, "AWS_ROLE_ARN": ROLE_A}
        self.resolve(env)
        self.assertTrue(os.path.isfile(self.entry_path({"RoleArn": ROLE_A})))
        settings = self.resolve(env)
        self.assertKeys(settings["credentials"], *self.role_a, source="web-identity")
        self.assertEqual(len(self.fake.calls), 1)

    @unittest.skipIf(botocore_credentials is None, "botocore is not installed")
    def test_botocore_computes_the_same_keys_and_reads_our_entries(self):
        self.chain("role_session_name = s1\nexternal_id = e\nduration_seconds = 1200\n"
                   "mfa_serial = %s\n" % MFA_SERIAL)
        self.resolve(profile="dev", mfa_token="123456")
        args = {"RoleSessionName": "s1", "ExternalId": "e", "DurationSeconds": 1200,
                "SerialNumber": MFA_SERIAL}

        def no_client(*_args, **_kwargs):
            raise AssertionError("botocore called STS instead of using the cache")

        fetcher = botocore_credentials.AssumeRoleCredentialFetcher(
            client_creator=no_client, source_credentials=None, role_arn=ROLE_A,
            extra_args=args, cache=botocore_utils.JSONFileCache(self.cache_dir()),
            mfa_prompter=no_client, expiry_window_seconds=300)
        credentials = fetcher.fetch_credentials()
        self.assertEqual((credentials["access_key"], credentials["secret_key"],
                          credentials["token"]), self.role_a)
        self.assertEqual(os.listdir(self.cache_dir()),
                         [botocore_key(dict(args, RoleArn=ROLE_A)) + ".json"])


class Mfa(CacheCase):
    def setUp(self):
        super().setUp()
        self.chain("mfa_serial = %s\n" % MFA_SERIAL)

    def probe_without_terminal(self, options):
        """The probe in a new session: no controlling terminal, whatever runs the tests."""
        env = self.env(AWS_EC2_METADATA_DISABLED="true")
        result = subprocess.run([BIN, "run", PROBE, json.dumps(
            {"call": "resolve", "options": options})], env=env, capture_output=True,
            timeout=60, start_new_session=True, cwd=self.scratch)
        self.assertExit(result, 0)
        return json.loads(result.stdout)

    def test_given_code_is_sent_with_the_serial(self):
        settings = self.resolve(profile="dev", mfa_token="123456")
        self.assertKeys(settings["credentials"], *self.role_a, source="assume-role")
        [call] = self.fake.calls
        self.assertEqual(call["params"]["SerialNumber"], MFA_SERIAL)
        self.assertEqual(call["params"]["TokenCode"], "123456")

    def test_code_that_is_not_six_digits_is_refused_before_sts(self):
        out = self.probe_without_terminal({"profile": "dev", "mfa_token": "12a456"})
        self.assertFalse(out["ok"])
        self.assertEqual((out["kind"], out["field"]), ("input", "mfa_token"))
        self.assertEqual(self.fake.calls, [])

    def test_without_terminal_or_code_one_line_names_the_profile(self):
        out = self.probe_without_terminal({"profile": "dev"})
        self.assertFalse(out["ok"])
        self.assertIn("profile 'dev'", out["message"])
        self.assertIn(MFA_SERIAL, out["message"])
        self.assertNotIn("\n", out["message"])
        self.assertEqual((out["kind"], out["field"]), ("input", "mfa_token"))
        self.assertEqual(self.fake.calls, [])

    def test_cached_role_needs_no_code(self):
        cached = ("ASIACACHED", self.secret("cached"), "t")
        self.write_entry({"RoleArn": ROLE_A, "SerialNumber": MFA_SERIAL}, cached, 3600)
        out = self.probe_without_terminal({"profile": "dev"})
        self.assertTrue(out["ok"], out.get("message"))
        self.assertKeys(out["settings"]["credentials"], *cached)
        self.assertEqual(self.fake.calls, [])

    def test_code_typed_on_the_terminal(self):
        prompt = b"Enter MFA code for %s: " % MFA_SERIAL.encode()
        code, _, stderr, screen = run_on_terminal(
            [BIN, "run", PROBE, json.dumps({"call": "resolve", "options": {"profile": "dev"}})],
            self.env(AWS_EC2_METADATA_DISABLED="true"), self.scratch, prompt, b"654321")
        self.assertEqual(code, 0, stderr)
        self.assertIn(prompt, screen)
        [call] = self.fake.calls
        self.assertEqual(call["params"]["TokenCode"], "654321")

    def test_invoke_says_which_flag_gives_the_code(self):
        result = subprocess.run(
            [BIN, "invoke", "--remote", "--profile", "dev", "--endpoint-url",
             "http://127.0.0.1:9", "-A", "{}", "f"],
            env=self.env(AWS_EC2_METADATA_DISABLED="true"), capture_output=True, timeout=60,
            start_new_session=True, cwd=self.scratch)
        self.assertExit(result, 2)
        self.assertOneLineError(result, "--mfa-token:", "profile 'dev'")


class CredentialProcessTerminal(base.ChainCase):
    def test_a_process_that_reads_the_terminal_fails_at_once(self):
        script = self.home_file("ask.sh", "#!/bin/sh\nIFS= read -r line </dev/tty || "
                                "{ echo 'no terminal input' >&2; exit 5; }\n")
        os.chmod(script, 0o755)
        self.config("[profile p]\ncredential_process = '%s'\n" % script)
        started = time.monotonic()
        code, stdout, _, _ = run_on_terminal(
            [BIN, "run", PROBE, json.dumps({"call": "resolve", "options": {"profile": "p"}})],
            self.env(AWS_EC2_METADATA_DISABLED="true"), self.scratch)
        self.assertLess(time.monotonic() - started, 20, "the process waited for the terminal")
        self.assertEqual(code, 0)
        out = json.loads(stdout)
        self.assertFalse(out["ok"])
        self.assertIn("exited with status 5: no terminal input", out["message"])


def run_on_terminal(args, env, cwd, expect=None, answer=None, timeout=30):
    """Runs args with a new pseudo-terminal as its controlling terminal. Once the terminal
    shows `expect`, types answer and Enter. Returns (exit status, stdout, stderr, what the
    terminal showed)."""
    master, slave = os.openpty()

    def take_terminal():
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)

    process = subprocess.Popen(args, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               preexec_fn=take_terminal, pass_fds=(slave,))
    os.close(slave)
    screen = b""
    deadline = time.monotonic() + timeout
    try:
        while answer is not None and time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    screen += os.read(master, 4096)
                except OSError:
                    break
                if expect in screen:
                    os.write(master, answer + b"\n")
                    break
            elif process.poll() is not None:
                break
        stdout, stderr = process.communicate(timeout=max(1, deadline - time.monotonic()))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(master)
    return process.returncode, stdout, stderr, screen


class CurlRoleCache(ThroughCurl, RoleCache):
    pass


class CurlMfa(ThroughCurl, Mfa):
    pass


if __name__ == "__main__":
    unittest.main()
