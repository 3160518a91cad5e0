"""`invoke --data-example`: download from CARGO_LAMBDA_EXAMPLES_URL, cache, --skip-cache."""

import os
import socket
import unittest

from harness import ScratchTestCase, shared_path
from testserver import TestServer

EXAMPLE = b'{"resource": "/{proxy+}", "path": "/hello/world", "httpMethod": "POST"}'


class ExampleTestCase(ScratchTestCase):
    def setUp(self):
        super().setUp()
        self.examples = TestServer(host="127.0.0.1")
        self.examples.__enter__()
        self.addCleanup(self.examples.__exit__, None, None, None)
        self.emulator = TestServer(host="127.0.0.1")
        self.emulator.__enter__()
        self.addCleanup(self.emulator.__exit__, None, None, None)
        self.cache_home = os.path.join(self.scratch, "xdg-cache")

    def run_example(self, *args):
        env = self.env(CARGO_LAMBDA_EXAMPLES_URL=self.examples.url("/events/"),
                       XDG_CACHE_HOME=self.cache_home)
        return self.cli("invoke", "--invoke-address", "127.0.0.1", "-P", str(self.emulator.port),
                        *args, env=env)

    def cache_file(self, name):
        return os.path.join(self.cache_home, "cargo-lambda", "invoke-fixtures", name)


class DataExample(ExampleTestCase):
    def test_download_then_cache(self):
        self.examples.respond(200, body=EXAMPLE)
        result = self.run_example("--data-example", "apigw-request")
        self.assertExit(result, 0)
        self.assertEqual([r.path for r in self.examples.requests],
                         ["/events/example-apigw-request.json"])
        self.assertEqual(self.examples.requests[0].method, "GET")
        self.assertEqual(self.emulator.requests[0].body, EXAMPLE)
        with open(self.cache_file("example-apigw-request.json"), "rb") as f:
            self.assertEqual(f.read(), EXAMPLE)
        for directory in (os.path.dirname(self.cache_file("x")),
                          os.path.join(self.cache_home, "cargo-lambda")):
            self.assertEqual(os.stat(directory).st_mode & 0o777, 0o700)
        # Every spelling of the name hits the cache: no second download.
        for spelling in ("apigw-request.json", "example-apigw-request",
                         "example-apigw-request.json"):
            self.assertExit(self.run_example("-E", spelling), 0)
        self.assertEqual(len(self.examples.requests), 1)
        self.assertEqual([r.body for r in self.emulator.requests], [EXAMPLE] * 4)

    def test_skip_cache_neither_reads_nor_writes(self):
        os.makedirs(os.path.dirname(self.cache_file("x")))
        with open(self.cache_file("example-sqs-event.json"), "wb") as f:
            f.write(b'{"stale": true}')
        self.examples.respond(200, body=b'{"fresh": true}')
        result = self.run_example("-E", "sqs-event", "--skip-cache")
        self.assertExit(result, 0)
        self.assertEqual(self.emulator.requests[0].body, b'{"fresh": true}')
        with open(self.cache_file("example-sqs-event.json"), "rb") as f:
            self.assertEqual(f.read(), b'{"stale": true}')
        self.examples.respond(200, body=b'{"other": 1}')
        self.assertExit(self.run_example("-E", "new-event", "--skip-cache"), 0)
        self.assertFalse(os.path.exists(self.cache_file("example-new-event.json")))

    def test_symlinked_cache_file_is_a_miss_never_read(self):
        os.makedirs(os.path.dirname(self.cache_file("x")))
        secret = os.path.join(self.scratch, "secret.json")
        with open(secret, "wb") as f:
            f.write(b'{"private": "not an example"}')
        os.symlink(secret, self.cache_file("example-linked.json"))
        self.examples.respond(200, body=EXAMPLE)
        result = self.run_example("-E", "linked")
        self.assertExit(result, 0)
        self.assertEqual(self.emulator.requests[0].body, EXAMPLE)
        self.assertOneLineError(result, "warning: ignoring the cached example: cannot read %s: "
                                "it is a symbolic link (not followed)"
                                % self.cache_file("example-linked.json"))
        self.assertTrue(os.path.islink(self.cache_file("example-linked.json")))
        with open(secret, "rb") as f:
            self.assertEqual(f.read(), b'{"private": "not an example"}')

    def test_cache_folder_open_to_others_is_made_private_once(self):
        folder = os.path.dirname(self.cache_file("x"))
        os.makedirs(folder)
        os.chmod(folder, 0o777)
        self.examples.respond(200, body=EXAMPLE)
        result = self.run_example("-E", "apigw-request")
        self.assertExit(result, 0)
        self.assertOneLineError(result, "warning: cache folder %s was writable by group or "
                                "others (mode 0777); changed it to 0700" % folder)
        self.assertEqual(os.stat(folder).st_mode & 0o777, 0o700)
        result = self.run_example("-E", "apigw-request")
        self.assertExit(result, 0)
        self.assertEqual(result.stderr, b"")
        self.assertEqual(len(self.examples.requests), 1)

    def test_failed_download_names_url_and_status_and_leaves_no_file(self):
        self.examples.respond(404, body=b"not found")
        result = self.run_example("-E", "no-such-event")
        self.assertExit(result, 2)
        self.assertOneLineError(result, self.examples.url("/events/example-no-such-event.json"),
                                "404")
        self.assertEqual(self.emulator.requests, [])
        directory = os.path.dirname(self.cache_file("x"))
        leftovers = os.listdir(directory) if os.path.isdir(directory) else []
        self.assertEqual(leftovers, [])

    def test_examples_site_unreachable(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = self.env(CARGO_LAMBDA_EXAMPLES_URL="http://127.0.0.1:%d" % port,
                       XDG_CACHE_HOME=self.cache_home)
        result = self.cli("invoke", "-P", str(self.emulator.port), "-E", "x", env=env)
        self.assertExit(result, 3)
        self.assertOneLineError(result, "http://127.0.0.1:%d/example-x.json" % port)

    def test_file_url_serves_a_local_folder(self):
        folder = os.path.join(self.scratch, "events")
        os.makedirs(folder)
        with open(os.path.join(folder, "example-local.json"), "wb") as f:
            f.write(EXAMPLE)
        env = self.env(CARGO_LAMBDA_EXAMPLES_URL="file://" + folder + "/",
                       XDG_CACHE_HOME=self.cache_home)
        result = self.cli("invoke", "--invoke-address", "127.0.0.1", "-P",
                          str(self.emulator.port), "-E", "local", env=env)
        self.assertExit(result, 0)
        self.assertEqual(self.emulator.requests[0].body, EXAMPLE)
        self.assertFalse(os.path.exists(self.cache_home))
        result = self.cli("invoke", "-P", str(self.emulator.port), "-E", "missing", env=env)
        self.assertExit(result, 2)
        self.assertOneLineError(result, os.path.join(folder, "example-missing.json"))

    def test_names_that_escape_are_refused(self):
        for name in ("../etc/passwd", "a/b", "..", ""):
            result = self.run_example("-E", name)
            self.assertExit(result, 2)
            self.assertOneLineError(result, "--data-example")
        self.assertEqual(self.examples.requests, [])

    def test_example_over_the_payload_limit_is_not_sent(self):
        self.examples.respond(200, body=b"x" * (1024 * 1024 + 1))
        result = self.run_example("-E", "big", "--invocation-type", "Event")
        self.assertExit(result, 2)
        self.assertOneLineError(result, "--data-example: example-big.json (1048577 bytes) is "
                                "over the 1 MB limit (1048576 bytes) for Event invocations")
        self.assertEqual(self.emulator.requests, [])

    def test_local_example_over_the_limit_is_not_read(self):
        folder = os.path.join(self.scratch, "events")
        os.makedirs(folder)
        with open(os.path.join(folder, "example-huge.json"), "wb") as f:
            f.truncate(100 * 1024 * 1024)
        env = self.env(CARGO_LAMBDA_EXAMPLES_URL="file://" + folder,
                       XDG_CACHE_HOME=self.cache_home)
        result = self.cli("invoke", "--invoke-address", "127.0.0.1", "-P",
                          str(self.emulator.port), "-E", "huge", env=env)
        self.assertExit(result, 2)
        self.assertOneLineError(result, "--data-example: example-huge.json is over the 6 MB "
                                "limit (6291456 bytes)")
        self.assertEqual(self.emulator.requests, [])

    def test_home_cache_when_xdg_unset(self):
        self.examples.respond(200, body=EXAMPLE)
        env = self.env(CARGO_LAMBDA_EXAMPLES_URL=self.examples.url("/"))
        result = self.cli("invoke", "-P", str(self.emulator.port), "-E", "s3-event", env=env)
        self.assertExit(result, 0)
        self.assertTrue(os.path.isfile(os.path.join(
            self.home, ".cache", "cargo-lambda", "invoke-fixtures", "example-s3-event.json")))

    def test_real_event_fixtures_are_sent_byte_for_byte(self):
        folder = shared_path("acceptance", "event-fixtures")
        if folder is None:
            self.skipTest("../shared/acceptance/event-fixtures is absent")
        names = sorted(n for n in os.listdir(folder) if n.startswith("example-"))[:25]
        self.assertTrue(names)
        for name in names:
            with open(os.path.join(folder, name), "rb") as f:
                data = f.read()
            self.examples.respond(200, body=data)
            result = self.run_example("-E", name, "--skip-cache")
            self.assertExit(result, 0)
            self.assertEqual(self.emulator.requests[-1].body, data, name)
        print("sent %d real event fixtures" % len(names))


class OldCacheFolder(ExampleTestCase):
    """The original cargo-lambda cached examples in ~/.cargo/lambda/invoke-fixtures
    ($CARGO_HOME/lambda/invoke-fixtures): an example found there is read when the cache has
    none, with the cache's rules, and nothing there is ever written or changed."""

    def old_folder(self, cargo_home=None):
        return os.path.join(cargo_home or os.path.join(self.home, ".cargo"), "lambda",
                            "invoke-fixtures")

    def put_old(self, name, data, cargo_home=None):
        folder = self.old_folder(cargo_home)
        os.makedirs(folder, mode=0o755, exist_ok=True)
        path = os.path.join(folder, name)
        with open(path, "wb") as handle:
            handle.write(data)
        return path

    def snapshot(self, folder):
        """{name: (mode, size, mtime_ns)} of everything under folder, folder included."""
        found = {}
        for root, dirs, files in os.walk(folder):
            for name in [""] + dirs + files:
                info = os.lstat(os.path.join(root, name))
                found[os.path.join(root, name)] = (info.st_mode, info.st_size, info.st_mtime_ns)
        return found

    def test_an_example_there_is_read_when_the_cache_has_none(self):
        self.put_old("example-legacy.json", b'{"from": "old cache"}')
        before = self.snapshot(os.path.join(self.home, ".cargo"))
        result = self.run_example("-E", "legacy")
        self.assertExit(result, 0)
        self.assertEqual(result.stderr, b"")
        self.assertEqual(self.emulator.requests[0].body, b'{"from": "old cache"}')
        self.assertEqual(self.examples.requests, [])
        # Read, not moved nor copied: the old folder is as it was, the cache has no entry.
        self.assertEqual(self.snapshot(os.path.join(self.home, ".cargo")), before)
        self.assertFalse(os.path.exists(self.cache_file("example-legacy.json")))

    def test_cargo_home_is_where_the_old_folder_is(self):
        cargo_home = os.path.join(self.scratch, "cargo-home")
        self.put_old("example-legacy.json", b'{"in": "CARGO_HOME"}', cargo_home)
        env = self.env(CARGO_LAMBDA_EXAMPLES_URL=self.examples.url("/events/"),
                       XDG_CACHE_HOME=self.cache_home, CARGO_HOME=cargo_home)
        result = self.cli("invoke", "--invoke-address", "127.0.0.1", "-P",
                          str(self.emulator.port), "-E", "legacy", env=env)
        self.assertExit(result, 0)
        self.assertEqual(self.emulator.requests[0].body, b'{"in": "CARGO_HOME"}')

    def test_the_cache_comes_first_and_skip_cache_reads_neither(self):
        self.put_old("example-both.json", b'{"from": "old"}')
        os.makedirs(os.path.dirname(self.cache_file("x")))
        with open(self.cache_file("example-both.json"), "wb") as handle:
            handle.write(b'{"from": "new"}')
        self.assertExit(self.run_example("-E", "both"), 0)
        self.examples.respond(200, body=b'{"from": "site"}')
        self.assertExit(self.run_example("-E", "both", "--skip-cache"), 0)
        self.assertEqual([r.body for r in self.emulator.requests],
                         [b'{"from": "new"}', b'{"from": "site"}'])

    def test_a_link_there_is_never_followed(self):
        secret = os.path.join(self.scratch, "secret.json")
        with open(secret, "wb") as handle:
            handle.write(b'{"private": true}')
        folder = os.path.dirname(self.put_old("example-other.json", b"{}"))
        os.symlink(secret, os.path.join(folder, "example-linked.json"))
        self.examples.respond(200, body=EXAMPLE)
        result = self.run_example("-E", "linked")
        self.assertExit(result, 0)
        self.assertEqual(self.emulator.requests[0].body, EXAMPLE)
        self.assertOneLineError(result, "warning: ignoring the example in the old cache folder: "
                                "cannot read %s: it is a symbolic link (not followed)"
                                % os.path.join(folder, "example-linked.json"))
        self.assertTrue(os.path.islink(os.path.join(folder, "example-linked.json")))

    def test_one_over_the_payload_limit_is_not_read_past_it(self):
        # An Event invocation's limit is 1 MiB: a larger file is refused from its size, and
        # the example is downloaded instead.
        self.put_old("example-big.json", b"x" * (1024 * 1024 + 1))
        self.examples.respond(200, body=EXAMPLE)
        self.emulator.respond(202)
        result = self.run_example("-E", "big", "--invocation-type", "Event")
        self.assertExit(result, 0)
        self.assertOneLineError(result, "warning: ignoring the example in the old cache folder",
                                "larger than 1048576 bytes")
        self.assertEqual(self.emulator.requests[0].body, EXAMPLE)

    def test_a_folder_others_may_write_to_is_not_used_nor_changed(self):
        folder = os.path.dirname(self.put_old("example-open.json", b'{"planted": true}'))
        os.chmod(folder, 0o777)
        self.examples.respond(200, body=EXAMPLE)
        result = self.run_example("-E", "open")
        self.assertExit(result, 0)
        self.assertEqual(self.emulator.requests[0].body, EXAMPLE)
        self.assertOneLineError(result, "warning: ignoring the example in the old cache folder: "
                                "cache folder %s is writable by group or others (mode 0777); "
                                "not using it" % folder)
        self.assertEqual(os.stat(folder).st_mode & 0o777, 0o777)


if __name__ == "__main__":
    unittest.main()
