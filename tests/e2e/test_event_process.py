"""End-to-end tests of lambda.event child processes as a whole program: no child outlives
the cargo-lambda process however it ends (os.exit, normal return, SIGKILL), a script can shut
its children down from a signal handler, and a child without on_stdout writes straight to
cargo-lambda's standard output. The script is lua/event_children.lua."""

import os
import select
import signal
import subprocess
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.environ.get("CARGO_LAMBDA_BIN")
SCRIPT = os.path.join(HERE, "lua", "event_children.lua")


def running(pid):
    """Whether pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


class ChildrenTests(unittest.TestCase):
    def start(self, mode):
        if not BIN:
            raise unittest.SkipTest("CARGO_LAMBDA_BIN is not set (run through ctest)")
        process = subprocess.Popen([BIN, "run", SCRIPT, mode], cwd=HERE,
                                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE)
        self.addCleanup(self.cleanup, process)
        ready, _, _ = select.select([process.stdout], [], [], 10)
        line = process.stdout.readline().decode() if ready else ""
        if not line.startswith("PIDS "):
            process.kill()
            os.set_blocking(process.stderr.fileno(), False)
            self.fail("no PIDS line: %r, stderr %r" % (line, process.stderr.read()))
        pids = [int(pid) for pid in line.split()[1:]]
        if mode in ("wait", "signal"):  # the others end right after printing
            for pid in pids:
                self.assertTrue(running(pid), pid)
        return process, pids

    def cleanup(self, process):
        if process.poll() is None:
            process.kill()
        process.wait()
        process.stdout.close()
        process.stderr.close()

    def assert_gone(self, pids, timeout=5):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(running(pid) for pid in pids):
            time.sleep(0.02)
        self.assertEqual([pid for pid in pids if running(pid)], [])

    def test_os_exit_ends_children(self):
        process, pids = self.start("exit")
        self.assertEqual(process.wait(timeout=10), 0)
        self.assert_gone(pids, timeout=0.1)

    def test_returning_ends_children(self):
        process, pids = self.start("return")
        self.assertEqual(process.wait(timeout=10), 0)
        self.assert_gone(pids, timeout=0.1)

    def test_killed_host_takes_children_along(self):
        process, pids = self.start("wait")
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        self.assert_gone(pids)

    def test_signal_handler_shuts_down(self):
        for name in ("TERM", "INT"):
            process, pids = self.start("signal")
            process.send_signal(getattr(signal, "SIG" + name))
            out, err = process.communicate(timeout=10)
            self.assertEqual(process.returncode, 0, err)
            self.assertEqual(out.decode(), "GOT %s\nEXITED KILL TERM\n" % name)
            self.assert_gone(pids, timeout=0.1)

    def test_inherited_standard_output(self):
        if not BIN:
            raise unittest.SkipTest("CARGO_LAMBDA_BIN is not set (run through ctest)")
        result = subprocess.run([BIN, "run", SCRIPT, "inherit"], cwd=HERE, capture_output=True,
                                stdin=subprocess.DEVNULL, timeout=30)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout, b"straight to stdout\nEXIT 0\n")


if __name__ == "__main__":
    unittest.main()
