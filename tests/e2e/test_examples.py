"""The runnable examples under examples/: each starts the emulator it needs in its own
process, on a free port, and must run as its header's Run line says, with the answers it
prints."""

import os
import re
import unittest

from harness import SOURCE_DIR, ScratchTestCase

EXAMPLES = os.path.join(SOURCE_DIR, "examples")


class Examples(ScratchTestCase):
    def run_example(self, name, *args, status=0):
        path = os.path.join(EXAMPLES, name)
        with open(path) as handle:
            header = handle.read(2000)
        self.assertIn("-- Run: cargo-lambda run examples/%s" % name, header)
        result = self.cli("run", path, *args, cwd=SOURCE_DIR, timeout=120)
        self.assertExit(result, status)
        return result.stdout.decode()

    def test_every_example_is_tested_here(self):
        scripts = sorted(f for f in os.listdir(EXAMPLES) if f.endswith(".lua"))
        with open(__file__) as handle:
            tests = handle.read()
        for script in scripts:
            self.assertIn('"%s"' % script, tests, script + " has no test")

    def test_spec_runs_against_the_emulator(self):
        path = os.path.join(EXAMPLES, "spec", "greeter_spec.lua")
        with open(path) as handle:
            self.assertIn("-- Run: cargo-lambda test examples/spec", handle.read(2000))
        result = self.cli("test", "examples/spec", "-o", "TAP", cwd=SOURCE_DIR, timeout=120)
        self.assertExit(result, 0)
        out = result.stdout.decode()
        self.assertIn("1..5", out)
        self.assertEqual(len(re.findall(r"^ok \d+", out, re.M)), 5, out)
        self.assertNotIn("not ok", out)
        # From elsewhere, by path, it finds its function all the same.
        result = self.cli("test", path, cwd=self.scratch, timeout=120)
        self.assertExit(result, 0)

    def test_emulator(self):
        out = self.run_example("emulator.lua")
        self.assertRegex(out, r"emulator listening on http://127\.0\.0\.1:\d+")
        self.assertRegex(out, r"greeter answered in [0-9.]+ ms: Hello, Ada")
        self.assertIn("without a name: function error, Runtime.HandlerError: the event needs "
                      "a name", out)

    def test_aliases(self):
        out = self.run_example("aliases.lua", "Linus", status=1)
        self.assertIn("v1  Hello, Linus", out)
        self.assertIn("v2  Hi, Linus", out)
        self.assertIn("the aliases answer differently", out)

    def test_replay(self):
        out = self.run_example("replay.lua", status=1)
        self.assertRegex(out, r"ada\.json\s+ok\s+[0-9.]+\s+Hello, Ada")
        self.assertRegex(out, r"broken\.json\s+function\s+[0-9.]+\s+Runtime\.HandlerError")
        self.assertIn("5 events, 1 failed", out)
        # A folder of events that all succeed.
        events = os.path.join(self.scratch, "events")
        os.makedirs(events)
        for name in ("a", "b"):
            with open(os.path.join(events, name + ".json"), "w") as handle:
                handle.write('{"name": "%s"}' % name)
        out = self.run_example("replay.lua", events)
        self.assertIn("2 events, 0 failed", out)

    def test_fan_out(self):
        out = self.run_example("fan_out.lua", "60", "8")
        self.assertRegex(out, r"60 invocations, 8 in flight: [0-9.]+ s, \d+/s, 0 failed")
        match = re.search(r"p50 ([0-9.]+)\s+p90 ([0-9.]+)\s+p99 ([0-9.]+)\s+max ([0-9.]+)", out)
        self.assertIsNotNone(match, out)
        values = [float(v) for v in match.groups()]
        self.assertEqual(values, sorted(values))

    def test_mock_dependency(self):
        out = self.run_example("mock_dependency.lua")
        self.assertIn("Paris: Paris: sunny, 21°C", out)
        self.assertIn("Atlantis: Runtime.HandlerError: the weather service answered 404", out)
        self.assertIn("the mock served 2 calls: Paris, Atlantis", out)


if __name__ == "__main__":
    unittest.main()
