"""A Cargo package with no build target (`[package]` alone: no src/main.rs, no src/bin/, no
[[bin]]) is not a function, nor is a library: `invoke` without a name says so in one line
naming the manifest (exit 2) and sends nothing; `watch` lists no function for it (a project
made of nothing else is a one-line error; in a workspace, only the members with bin targets
are functions); lambda.cargo and lambda.emulator say the same to scripts.

Cargo's target auto-discovery is what decides: src/main.rs is a bin named after the package,
src/bin/<x>.rs and src/bin/<x>/main.rs are bins <x>, [[bin]] tables add theirs, and
`autobins = false` turns the discovery off. The real manifest of cargo-lambda's
missing-binary-package fixture (../shared/acceptance) is used in place when it is there."""

import json
import os
import unittest

from harness import ScratchTestCase, shared_path
from testserver import TestServer
from watchharness import Emulator, free_port

PACKAGE = '[package]\nname = "%s"\nversion = "0.1.0"\nedition = "2021"\n'
BIN_TARGETS = "src/main.rs, src/bin/<name>.rs, src/bin/<name>/main.rs or [[bin]]"


class NoTargetTestCase(ScratchTestCase):
    def setUp(self):
        super().setUp()
        self.server = TestServer(host="127.0.0.1")
        self.server.__enter__()
        self.addCleanup(self.server.__exit__, None, None, None)

    def tree(self, name, files):
        """Writes {relative path: text} under scratch/name; returns that folder."""
        root = os.path.join(self.scratch, name)
        for path, text in files.items():
            full = os.path.join(root, path)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "w") as handle:
                handle.write(text)
        return root

    def invoke(self, *args, cwd=None):
        return self.cli("invoke", "--invoke-address", "127.0.0.1", "-P", str(self.server.port),
                        "-A", "{}", *args, cwd=cwd)

    def watch(self, *args, cwd=None):
        return self.cli("watch", "--invoke-address", "127.0.0.1", "-P", str(free_port()),
                        *args, cwd=cwd, timeout=30)

    def assertNotAFunction(self, result, manifest, what):
        self.assertExit(result, 2)
        self.assertOneLineError(result, manifest, "has no bin targets", BIN_TARGETS, what)

    def script(self, text, *args, cwd=None):
        path = os.path.join(self.scratch, "script.lua")
        with open(path, "w") as handle:
            handle.write(text)
        result = self.cli("run", path, *args, cwd=cwd)
        self.assertExit(result, 0)
        return json.loads(result.stdout)


class InvokeWithoutName(NoTargetTestCase):
    def test_package_without_any_target_is_not_a_function(self):
        project = self.tree("empty", {"Cargo.toml": PACKAGE % "empty"})
        manifest = os.path.join(project, "Cargo.toml")
        self.assertNotAFunction(self.invoke(cwd=project), manifest, "no function to invoke")
        # From a folder below it, and with --manifest-path from elsewhere: the same.
        os.makedirs(os.path.join(project, "docs"))
        self.assertNotAFunction(self.invoke(cwd=os.path.join(project, "docs")), manifest,
                                "no function to invoke")
        self.assertNotAFunction(self.invoke("--manifest-path", manifest), manifest,
                                "no function to invoke")
        self.assertEqual(self.server.requests, [])

    def test_a_script_invoking_without_a_name_is_told_the_same(self):
        project = self.tree("empty", {"Cargo.toml": PACKAGE % "empty"})
        answer = self.script(
            'local lambda = require("lambda")\n'
            'local client = assert(lambda.client{ address = "127.0.0.1", port = %d, tls = false })\n'
            'local none, message, kind, field = client:invoke(nil, { payload = "{}" })\n'
            'io.write(lambda.json.encode{ message = message, kind = kind, field = field })\n'
            % self.server.port, cwd=project)
        self.assertEqual((answer["kind"], answer["field"]), ("not_found", "name"))
        self.assertIn(os.path.join(project, "Cargo.toml") + " has no bin targets",
                      answer["message"])
        self.assertEqual(self.server.requests, [])

    def test_targets_cargo_does_not_discover_make_no_function(self):
        layouts = {
            # A library is a target, but not a function.
            "library": {"Cargo.toml": PACKAGE % "library", "src/lib.rs": ""},
            # autobins = false: src/main.rs and src/bin/ are not bins without [[bin]].
            "autobins-off": {"Cargo.toml": PACKAGE % "quiet" + "autobins = false\n",
                             "src/main.rs": "", "src/bin/tool.rs": ""},
            # Files cargo does not look at: a main.rs outside src/, a .txt in src/bin, a
            # folder in src/bin without main.rs.
            "stray-files": {"Cargo.toml": PACKAGE % "stray", "main.rs": "",
                            "src/bin/notes.txt": "", "src/bin/helper/mod.rs": ""},
        }
        for name, files in layouts.items():
            project = self.tree(name, files)
            with self.subTest(layout=name):
                self.assertNotAFunction(self.invoke(cwd=project),
                                        os.path.join(project, "Cargo.toml"), "no function")
        self.assertEqual(self.server.requests, [])

    def test_discovered_targets_are_functions_and_never_the_package_name(self):
        layouts = {
            "main": ({"Cargo.toml": PACKAGE % "pkg", "src/main.rs": ""}, "pkg"),
            "bin-file": ({"Cargo.toml": PACKAGE % "pkg", "src/bin/only.rs": ""}, "only"),
            "bin-folder": ({"Cargo.toml": PACKAGE % "pkg", "src/bin/tool/main.rs": ""}, "tool"),
            "explicit": ({"Cargo.toml": PACKAGE % "pkg" + '\n[[bin]]\nname = "named"\n'
                          'path = "handlers/run.rs"\n', "handlers/run.rs": ""}, "named"),
        }
        for name, (files, function) in layouts.items():
            project = self.tree(name, files)
            with self.subTest(layout=name):
                self.assertExit(self.invoke(cwd=project), 0)
                self.assertEqual(self.server.requests[-1].path,
                                 "/2015-03-31/functions/%s/invocations" % function)

    def test_a_name_given_is_sent_as_it_is(self):
        project = self.tree("empty", {"Cargo.toml": PACKAGE % "empty"})
        self.assertExit(self.invoke("other-function", cwd=project), 0)
        self.assertEqual([r.path for r in self.server.requests],
                         ["/2015-03-31/functions/other-function/invocations"])

    def test_acceptance_missing_binary_package(self):
        folder = shared_path("acceptance", "manifests", "cl-missing-binary-package")
        if not folder:
            self.skipTest("../shared/acceptance/manifests is absent: the real manifest of "
                          "cargo-lambda's missing-binary-package fixture is not checked")
        manifest = os.path.normpath(os.path.join(os.path.abspath(folder), "Cargo.toml"))
        self.assertNotAFunction(self.invoke("--manifest-path", manifest), manifest,
                                "no function to invoke")
        self.assertNotAFunction(self.watch("--manifest-path", manifest), manifest,
                                "nothing to run as a function")
        self.assertEqual(self.server.requests, [])


class WatchAndScripts(NoTargetTestCase):
    def test_watch_refuses_a_package_without_target(self):
        project = self.tree("empty", {"Cargo.toml": PACKAGE % "empty"})
        self.assertNotAFunction(self.watch(cwd=project), os.path.join(project, "Cargo.toml"),
                                "nothing to run as a function")

    def workspace(self):
        return self.tree("workspace", {
            "Cargo.toml": '[workspace]\nmembers = ["function", "empty", "library"]\n',
            "function/Cargo.toml": PACKAGE % "function",
            "function/src/main.rs": "",
            "empty/Cargo.toml": PACKAGE % "empty",
            "library/Cargo.toml": PACKAGE % "library",
            "library/src/lib.rs": "",
        })

    def test_watch_lists_only_members_with_bin_targets(self):
        workspace = self.workspace()
        with Emulator(cwd=workspace) as emu:
            output = emu.wait_for_output("(functions: ")
            self.assertIn("(functions: function)\n", output)
            for name in ("empty", "library"):
                status, headers, body = emu.invoke(name, {})
                self.assertEqual(status, 404, body)
                self.assertEqual(headers.get("x-amzn-errortype"), "ResourceNotFoundException")
                self.assertIn(b"(functions: function)", body)

    def test_scripts_see_the_same(self):
        workspace = self.workspace()
        alone = self.tree("alone", {"Cargo.toml": PACKAGE % "alone"})
        answer = self.script(
            'local lambda = require("lambda")\n'
            'local project = assert(lambda.cargo.project(arg[1] .. "/Cargo.toml"))\n'
            'local bins = {}\n'
            'for _, package in ipairs(project.packages) do\n'
            '  bins[package.name] = #package.bins\n'
            'end\n'
            'local functions = assert(lambda.cargo.functions(arg[1] .. "/empty/Cargo.toml"))\n'
            'local emulator = assert(lambda.emulator.start{ project = arg[1], watch = false,\n'
            '  on_output = false })\n'
            'local served = emulator:functions()\n'
            'emulator:stop()\n'
            'local none, message, kind, field = lambda.emulator.start{\n'
            '  project = arg[2], watch = false }\n'
            'io.write(lambda.json.encode{ bins = bins, functions = functions, served = served,\n'
            '  refused = { message = message, kind = kind, field = field } })\n',
            workspace, alone)
        self.assertEqual(answer["bins"], {"function": 1, "empty": 0, "library": 0})
        # A member's manifest gives the functions of its whole workspace, as cargo metadata
        # does: the package without targets adds none.
        self.assertEqual(answer["functions"], ["function"])
        self.assertEqual(answer["served"], ["function"])
        refused = answer["refused"]
        self.assertEqual((refused["kind"], refused["field"]), ("not_found", "project"))
        self.assertIn(os.path.join(alone, "Cargo.toml") + " has no bin targets",
                      refused["message"])


if __name__ == "__main__":
    unittest.main()
