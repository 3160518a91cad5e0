"""End-to-end tests of compile on demand: `cargo-lambda watch` in a copy of
fixtures/rust-function (a Cargo project with no dependencies and two bins, `hello` and
`goodbye`, that speak the Runtime API by hand), built by the real cargo.

The whole file is skipped, saying so, where `cargo` is not on PATH. Builds go to one shared
target directory (under CARGO_LAMBDA_BUILD_DIR), built once before the tests; a test that edits
the sources builds in its own copy of it, so that no edited build is ever taken for the
fixture's."""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

from harness import SOURCE_DIR, ScratchTestCase, clean_env, run_cli
from watchharness import Emulator, descendants, free_port

CARGO = shutil.which("cargo")
FIXTURE = os.path.join(os.path.abspath(SOURCE_DIR), "fixtures", "rust-function")
# A build failure answers at once; the build itself may take a while on a loaded machine.
BUILD_SECONDS = 120
# How long a change that should not restart anything is given to do so (the watcher reports a
# change 0.3 s after the tree goes quiet).
SETTLE_SECONDS = 1.5

_module = {"temporary": None, "target": None, "build_output": ""}


def copy_fixture(destination):
    # copytree keeps the modification times, so cargo finds the shared build up to date for
    # every pristine copy (its fingerprints name files relative to the package).
    shutil.copytree(FIXTURE, destination, ignore=shutil.ignore_patterns("target"))
    return destination


def cargo_environment(target_dir):
    """What cargo needs in harness.clean_env's private environment: the toolchain (rustup
    finds it through RUSTUP_HOME, which defaults to the real HOME), the shared build, no
    network."""
    env = {"CARGO_TARGET_DIR": target_dir, "CARGO_NET_OFFLINE": "true", "CARGO_TERM_COLOR": "never"}
    real_home = os.path.expanduser("~")
    for name, default in (("RUSTUP_HOME", ".rustup"), ("CARGO_HOME", ".cargo")):
        value = os.environ.get(name) or os.path.join(real_home, default)
        if os.path.isdir(value):
            env[name] = value
    for name in ("RUSTUP_TOOLCHAIN", "RUSTC", "RUSTC_WRAPPER"):
        if os.environ.get(name):
            env[name] = os.environ[name]
    return env


def cargo(args, cwd, target_dir, timeout=BUILD_SECONDS):
    return subprocess.run([CARGO] + args, cwd=cwd, env=clean_env(cargo_environment(target_dir)),
                          capture_output=True, text=True, timeout=timeout)


def setUpModule():
    if not CARGO:
        print("test_watch_cargo: skipped: cargo is not on PATH", file=sys.stderr)
        raise unittest.SkipTest("cargo is not on PATH")
    build_dir = os.environ.get("CARGO_LAMBDA_BUILD_DIR")
    if build_dir:
        # Named .../target so that paths look like a project's own (target/release/hello).
        target = os.path.join(os.path.abspath(build_dir), "e2e-rust-function", "target")
    else:
        _module["temporary"] = tempfile.mkdtemp(prefix="clc-rust-function-")
        target = os.path.join(_module["temporary"], "target")
    _module["target"] = target
    project = tempfile.mkdtemp(prefix="clc-rust-function-build-")
    try:
        result = cargo(["build", "--bins"], copy_fixture(os.path.join(project, "p")), target)
    finally:
        shutil.rmtree(project, True)
    if result.returncode != 0:
        raise RuntimeError("the fixture does not build:\n" + result.stderr)
    _module["build_output"] = result.stderr


def tearDownModule():
    if _module["temporary"]:
        shutil.rmtree(_module["temporary"], True)


def body_json(body):
    return json.loads(body.decode("utf-8"))


class CargoWatchTestCase(ScratchTestCase):
    def setUp(self):
        super().setUp()
        self.project = copy_fixture(os.path.join(self.scratch, "project"))
        self.manifest = os.path.join(self.project, "Cargo.toml")
        self.target = _module["target"]

    def private_target(self, seeded=True):
        """A target directory of this test's own, for builds of edited sources; seeded with
        the shared debug build, so that an edit recompiles only the package."""
        target = os.path.join(self.scratch, "target")
        if seeded:
            shutil.copytree(os.path.join(self.target, "debug"), os.path.join(target, "debug"),
                            symlinks=True)
        self.target = target
        return target

    def emulator(self, flags=(), cwd=None, env=None):
        environment = cargo_environment(self.target)
        environment["HOME"] = self.home
        environment.update(env or {})
        return Emulator(flags=flags, env=environment, cwd=cwd or self.project)

    def edit(self, relative, old, new):
        path = os.path.join(self.project, relative)
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        self.assertIn(old, text)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text.replace(old, new))

    def write(self, relative, text):
        path = os.path.join(self.project, relative)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)

    def answer(self, result):
        status, headers, body = result
        self.assertEqual(status, 200, body)
        self.assertNotIn("x-amz-function-error", headers, body)
        return body_json(body)

    def hello(self, emu, name="Ada", timeout=BUILD_SECONDS):
        return self.answer(emu.invoke("hello", {"name": name}, timeout=timeout))

    def wait_for_count(self, emu, fragment, count, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if emu.output().count(fragment) >= count:
                return
            time.sleep(0.02)
        self.fail("watch wrote %r fewer than %d times; output:\n%s" % (fragment, count,
                                                                      emu.output()))

    def starts(self, emu, name):
        return emu.output().count("cargo-lambda watch: starting %s: " % name)

    def function_processes(self, emu):
        """{pid: executable} of the processes under watch (cargo run execs the function)."""
        found = {}
        for pid in descendants(emu.pid):
            try:
                found[pid] = os.readlink("/proc/%d/exe" % pid)
            except OSError:
                pass
        return found


class CompileOnDemandTest(CargoWatchTestCase):
    def test_fixture_builds_without_warnings(self):
        # cargo replays the warnings of an up-to-date build, so a cached build says it too.
        self.assertNotIn("warning", _module["build_output"])

    def test_fixture_unit_tests_pass(self):
        result = cargo(["test", "--lib"], self.project, self.target)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertRegex(result.stdout, r"test result: ok\. [1-9]\d* passed")

    def test_first_invocation_builds_and_starts_the_function(self):
        self.private_target(seeded=False)
        with self.emulator() as emu:
            startup = emu.wait_for_output("cargo-lambda watch: serving")
            self.assertIn("cargo-lambda watch: serving %s on http://127.0.0.1:%d (functions: "
                          "goodbye, hello)\n" % (self.manifest, emu.port), startup)
            self.assertEqual(self.function_processes(emu), {}, "nothing runs before an invocation")

            status, headers, body = emu.invoke("hello", {"name": "Ada"}, timeout=BUILD_SECONDS)
            self.assertEqual(self.answer((status, headers, body)),
                             {"message": "Hello, Ada!", "function": "hello", "version": "1"})
            # The function's log line travels through a pipe while its answer travels over
            # HTTP, so the answer can arrive first: wait for the line, then read everything.
            output = emu.wait_for_output("[hello] hello: greeting Ada for %s\n"
                                         % headers["x-amzn-requestid"])
            self.assertIn("cargo-lambda watch: starting hello: cargo run --manifest-path %s "
                          "--bin hello\n" % self.manifest, output)
            # cargo's progress, then the function's own log line, under the function's name.
            self.assertRegex(output, r"\[hello\] +Compiling rust-function v0\.1\.0 \(%s\)"
                             % re.escape(self.project))
            self.assertRegex(output, r"\[hello\] +Running `%s`"
                             % re.escape(os.path.join(self.target, "debug", "hello")))
            self.assertIn("[hello] hello: greeting Ada for %s\n" % headers["x-amzn-requestid"],
                          output)
            self.assertNotIn("[goodbye]", output)

    def test_the_next_invocations_reuse_the_running_function(self):
        with self.emulator() as emu:
            self.hello(emu)
            running = self.function_processes(emu)
            self.assertEqual(self.hello(emu, "Grace")["message"], "Hello, Grace!")
            self.assertEqual(self.function_processes(emu), running)
            self.assertEqual(self.starts(emu, "hello"), 1)

    def test_each_bin_is_a_separate_function(self):
        with self.emulator() as emu:
            self.assertEqual(self.hello(emu)["function"], "hello")
            goodbye = self.answer(emu.invoke("goodbye", {"name": "Ada"}, timeout=BUILD_SECONDS))
            self.assertEqual(goodbye, {"message": "Goodbye, Ada.", "function": "goodbye"})
            executables = sorted(self.function_processes(emu).values())
            self.assertEqual(executables, [os.path.join(self.target, "debug", "goodbye"),
                                           os.path.join(self.target, "debug", "hello")])
            emu.wait_for_output("[goodbye] goodbye: taking leave of Ada for ")

    def test_a_function_error_is_reported_as_unhandled(self):
        with self.emulator() as emu:
            status, headers, body = emu.invoke("hello", {"error": "no \"name\" today"},
                                               timeout=BUILD_SECONDS)
            self.assertEqual(status, 200, body)
            self.assertEqual(headers.get("x-amz-function-error"), "Unhandled")
            self.assertEqual(body_json(body), {"errorType": "HelloError",
                                               "errorMessage": "no \"name\" today"})
            self.assertEqual(self.hello(emu)["message"], "Hello, Ada!")

    def test_default_function_with_two_bins_is_a_404_listing_them(self):
        with self.emulator() as emu:
            status, headers, body = emu.invoke("_", {})
            self.assertEqual(status, 404, body)
            self.assertEqual(headers.get("x-amzn-errortype"), "ResourceNotFoundException")
            self.assertIn("goodbye, hello", body_json(body)["message"])
            status, _, body = emu.invoke("nope", {})
            self.assertEqual(status, 404, body)
            self.assertIn("(functions: goodbye, hello)", body_json(body)["message"])
            self.assertEqual(self.function_processes(emu), {})

    def test_default_function_with_one_bin_selected_is_that_bin(self):
        with self.emulator(flags=["--bin", "hello"]) as emu:
            self.assertIn("(functions: hello)", emu.wait_for_output("serving"))
            answer = self.answer(emu.invoke("_", {"name": "Ada"}, timeout=BUILD_SECONDS))
            self.assertEqual(answer["message"], "Hello, Ada!")
            self.assertEqual(answer["function"], "hello")
            status, _, body = emu.invoke("goodbye", {})
            self.assertEqual(status, 404, body)

    def test_release_is_forwarded_to_cargo(self):
        with self.emulator(flags=["--release"]) as emu:
            self.assertEqual(self.hello(emu)["message"], "Hello, Ada!")
            release_binary = os.path.join(self.target, "release", "hello")
            self.assertIn("/target/release/hello", release_binary)
            emu.wait_for_output("starting hello: cargo run --manifest-path %s --release --bin hello"
                                % self.manifest)
            emu.wait_for_output("Running `%s`" % release_binary)
            self.assertEqual(list(self.function_processes(emu).values()), [release_binary])

    def test_manifest_environment_reaches_the_functions(self):
        # The functions' own defaults are "Hi" and "Bye": these words come from Cargo.toml.
        with self.emulator() as emu:
            self.assertEqual(self.hello(emu)["message"], "Hello, Ada!")
            goodbye = self.answer(emu.invoke("goodbye", {"name": "Ada"}, timeout=BUILD_SECONDS))
            self.assertEqual(goodbye["message"], "Goodbye, Ada.")
        with self.emulator(flags=["--env-var", "GREETING=Howdy"]) as emu:
            self.assertEqual(self.hello(emu)["message"], "Howdy, Ada!")

    def test_manifest_environment_is_read_again_after_an_edit(self):
        self.private_target()
        with self.emulator() as emu:
            self.assertEqual(self.hello(emu)["message"], "Hello, Ada!")
            self.edit("Cargo.toml", 'GREETING = "Hello"', 'GREETING = "Bonjour"')
            emu.wait_for_output("Cargo.toml changed")
            self.assertEqual(self.hello(emu)["message"], "Bonjour, Ada!")

    def test_manifest_path_from_another_directory(self):
        elsewhere = os.path.join(self.scratch, "elsewhere")
        os.makedirs(elsewhere)
        relative = os.path.join("..", "project", "Cargo.toml")
        with self.emulator(flags=["--manifest-path", relative], cwd=elsewhere) as emu:
            self.assertIn("serving %s on" % self.manifest, emu.wait_for_output("serving"))
            self.assertEqual(self.hello(emu)["message"], "Hello, Ada!")
            # The function runs in its project, wherever watch was started.
            (pid,) = self.function_processes(emu)
            self.assertEqual(os.readlink("/proc/%d/cwd" % pid), self.project)


class RebuildTest(CargoWatchTestCase):
    def test_source_change_rebuilds_and_restarts(self):
        self.private_target()
        with self.emulator() as emu:
            self.assertEqual(self.hello(emu)["version"], "1")
            before = self.function_processes(emu)
            self.edit("src/bin/hello.rs", 'VERSION: &str = "1"', 'VERSION: &str = "2"')
            emu.wait_for_output("src/bin/hello.rs changed: restarting functions")
            self.assertEqual(self.hello(emu)["version"], "2")
            self.assertEqual(self.starts(emu, "hello"), 2)
            after_change = emu.output().split("src/bin/hello.rs changed", 1)[1]
            self.assertRegex(after_change, r"\[hello\] +Compiling rust-function")
            self.assertNotEqual(self.function_processes(emu), before)

    def test_bin_added_while_watching_can_be_invoked(self):
        self.private_target()
        with self.emulator() as emu:
            status, _, body = emu.invoke("added", {"name": "Ada"})
            self.assertEqual(status, 404, body)
            with open(os.path.join(self.project, "src", "bin", "goodbye.rs"),
                      encoding="utf-8") as source:
                self.write("src/bin/added.rs", source.read())
            emu.wait_for_output("functions now: added, goodbye, hello\n")
            answer = self.answer(emu.invoke("added", {"name": "Ada"}, timeout=BUILD_SECONDS))
            self.assertEqual(answer["function"], "added")
            os.remove(os.path.join(self.project, "src", "bin", "added.rs"))
            emu.wait_for_output("functions now: goodbye, hello\n")
            status, _, body = emu.invoke("added", {"name": "Ada"})
            self.assertEqual(status, 404, body)

    def test_changes_under_target_and_ignored_paths_do_not_restart(self):
        self.write(".gitignore", "/target\nnotes/\n*.log\n")
        with self.emulator() as emu:
            self.hello(emu)
            running = self.function_processes(emu)
            self.write("target/debug/stale.rs", "fn main() {}\n")
            self.write("notes/todo.md", "- nothing\n")
            self.write("build.log", "log\n")
            self.write("src/trace.log", "log\n")
            time.sleep(SETTLE_SECONDS)
            self.assertNotIn("changed", emu.output())
            self.hello(emu)
            self.assertEqual(self.function_processes(emu), running)
            # The control: the same watcher does react to a file that is not ignored.
            self.write("README.md", "A function.\n")
            emu.wait_for_output("README.md changed: restarting functions")
            self.hello(emu)
            self.assertEqual(self.starts(emu, "hello"), 2)

    def test_an_edited_gitignore_applies_at_once(self):
        with self.emulator() as emu:
            self.hello(emu)
            self.write(".gitignore", "/target\nscratch.txt\n")
            emu.wait_for_output(".gitignore changed: restarting functions")
            self.hello(emu)
            settled = len(emu.output())
            self.write("scratch.txt", "draft\n")
            time.sleep(SETTLE_SECONDS)
            self.assertNotIn("changed", emu.output()[settled:])
            self.assertEqual(self.starts(emu, "hello"), 2)

    def test_a_build_directory_inside_the_project_does_not_restart_it_again(self):
        # Every build writes to it: were it watched, each build would restart the functions,
        # which would build again, forever. cargo makes the directory under a temporary name
        # and renames it: that first appearance may still count as one change (a known gap).
        with self.emulator(env={"CARGO_TARGET_DIR": os.path.join(self.project, "out")}) as emu:
            self.hello(emu)
            settled = len(emu.output())
            time.sleep(SETTLE_SECONDS)
            self.hello(emu, "Grace")
            time.sleep(SETTLE_SECONDS)
            self.assertNotIn("changed", emu.output()[settled:])
            self.assertLessEqual(self.starts(emu, "hello"), 2)

    def test_ignore_changes_disables_restarts(self):
        self.private_target()
        with self.emulator(flags=["--ignore-changes"]) as emu:
            self.assertEqual(self.hello(emu)["version"], "1")
            self.edit("src/bin/hello.rs", 'VERSION: &str = "1"', 'VERSION: &str = "2"')
            time.sleep(SETTLE_SECONDS)
            self.assertEqual(self.hello(emu)["version"], "1")
            self.assertNotIn("changed", emu.output())
            self.assertEqual(self.starts(emu, "hello"), 1)

    def test_build_error_answers_waiting_invocations_and_a_fix_recovers(self):
        self.private_target()
        with self.emulator() as emu:
            self.hello(emu)
            self.edit("src/bin/hello.rs", 'VERSION: &str = "1";', 'VERSION: &str = "1"')
            emu.wait_for_output("src/bin/hello.rs changed")

            # Two invocations wait for the same failing build; both get its error.
            results = [None, None]

            def call(index):
                results[index] = emu.invoke("hello", {"name": "Ada"}, timeout=BUILD_SECONDS)

            threads = [threading.Thread(target=call, args=(i,)) for i in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(BUILD_SECONDS + 5)
            for status, headers, body in results:
                self.assertEqual(status, 200, body)
                self.assertEqual(headers.get("x-amz-function-error"), "Unhandled", body)
                error = body_json(body)
                self.assertEqual(error["errorType"], "Runtime.ExitError", error)
                # rustc's own diagnostic: what it expected, and where.
                self.assertRegex(error["errorMessage"], r"error: expected `;`")
                self.assertIn("src/bin/hello.rs", error["errorMessage"])
            self.assertEqual(self.starts(emu, "hello"), 2, "one build for both invocations")

            # The other function does not use the broken file.
            goodbye = self.answer(emu.invoke("goodbye", {"name": "Ada"}, timeout=BUILD_SECONDS))
            self.assertEqual(goodbye["message"], "Goodbye, Ada.")

            self.edit("src/bin/hello.rs", 'VERSION: &str = "1"', 'VERSION: &str = "1";')
            self.wait_for_count(emu, "src/bin/hello.rs changed", 2)
            self.assertEqual(self.hello(emu)["message"], "Hello, Ada!")


class StartupMessagesTest(CargoWatchTestCase):
    def watch(self, *args, cwd=None):
        env = clean_env(cargo_environment(self.target), home=self.home)
        return run_cli(["watch", "--invoke-address", "127.0.0.1", "-P", str(free_port())]
                       + list(args), env=env, cwd=cwd or self.project, timeout=30)

    def test_project_without_bins_is_a_one_line_error(self):
        library = os.path.join(self.scratch, "library")
        os.makedirs(os.path.join(library, "src"))
        with open(os.path.join(library, "Cargo.toml"), "w") as handle:
            handle.write('[package]\nname = "library"\nversion = "0.1.0"\nedition = "2021"\n')
        open(os.path.join(library, "src", "lib.rs"), "w").close()
        result = self.watch(cwd=library)
        self.assertExit(result, 2)
        self.assertOneLineError(result, os.path.join(library, "Cargo.toml"), "no bin targets")

    def test_broken_manifest_is_a_one_line_error_naming_it(self):
        self.write("Cargo.toml", "[package\n")
        result = self.watch()
        self.assertExit(result, 2)
        self.assertOneLineError(result, self.manifest, "line 1")

    def test_bad_manifest_path_is_a_one_line_error(self):
        missing = os.path.join(self.scratch, "nowhere", "Cargo.toml")
        result = self.watch("--manifest-path", missing)
        self.assertExit(result, 2)
        self.assertOneLineError(result, "--manifest-path", missing, "does not exist")
        result = self.watch("--manifest-path", self.project)
        self.assertExit(result, 2)
        self.assertOneLineError(result, "--manifest-path", self.project, "directory")

    def test_unknown_bin_is_a_one_line_error_listing_the_functions(self):
        result = self.watch("--bin", "nope")
        self.assertExit(result, 2)
        self.assertOneLineError(result, "--bin", "nope", "goodbye, hello")

    def test_without_project_or_command_a_function_started_by_hand_is_served(self):
        empty = os.path.join(self.scratch, "empty")
        os.makedirs(empty)
        parent = empty
        while parent != os.path.dirname(parent):
            parent = os.path.dirname(parent)
            if os.path.exists(os.path.join(parent, "Cargo.toml")):
                self.skipTest("%s has a Cargo.toml above it" % empty)
        with self.emulator(cwd=empty) as emu:
            line = "cargo-lambda watch: no Cargo project and no command: functions started by " \
                   "hand find the Runtime API at AWS_LAMBDA_RUNTIME_API=127.0.0.1:%d/.rt/<name>" \
                   % emu.port
            emu.wait_for_output(line + "\n")  # the whole line, its newline included
            # The fixture's client takes the address with the original's /.rt/<name> prefix.
            env = dict(cargo_environment(self.target), AWS_LAMBDA_FUNCTION_NAME="hello",
                       AWS_LAMBDA_RUNTIME_API="127.0.0.1:%d/.rt/hello" % emu.port)
            by_hand = subprocess.Popen([os.path.join(self.target, "debug", "hello")],
                                       env=clean_env(env, home=self.home),
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.addCleanup(by_hand.wait, 5)
            self.addCleanup(by_hand.kill)
            answer = self.answer(emu.invoke("hello", {"name": "Ada"}))
            self.assertEqual(answer, {"message": "Hi, Ada!", "function": "hello", "version": "1"})


if __name__ == "__main__":
    unittest.main()
