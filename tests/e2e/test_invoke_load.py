"""`invoke --repeat/--duration`: load runs against the emulator (watch with the probe
function). The summary's counts against the function's own count, errors by source and type,
-o json with its documented keys, --rate pacing and latency measured from each scheduled start,
the thresholds, Ctrl-C, and the run spread over load workers (a second emulator running
`cargo-lambda load-worker`), whose merged count must equal what the target served."""

import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
import unittest

from harness import BIN, SOURCE_DIR, ScratchTestCase, clean_env
from watchharness import Emulator, probe_argv

SUMMARY_KEYS = {"count", "successes", "errors", "duration", "throughput", "latency",
                "histogram", "interrupted"}
LATENCY_KEYS = {"min", "mean", "p50", "p90", "p99", "p999", "max"}


class LoadRuns(ScratchTestCase):
    def setUp(self):
        super().setUp()
        self.written = os.path.join(self.scratch, "written")
        os.makedirs(self.written)

    def target(self, concurrency=4):
        return Emulator(*probe_argv(), flags=["--concurrency", str(concurrency)],
                        env={"PROBE_WRITE_DIR": self.written, "HOME": self.home})

    def served(self):
        path = os.path.join(self.written, "invocations")
        if not os.path.exists(path):
            return 0
        with open(path) as handle:
            return len(handle.read().splitlines())

    def load(self, emu, *args, payload='{"action":"echo"}', timeout=120):
        return self.cli("invoke", "--invoke-address", "127.0.0.1", "-P", str(emu.port),
                        "-A", payload, *args, "probe", timeout=timeout)

    def summary(self, result):
        return self.summary_with(result, SUMMARY_KEYS)

    def summary_with(self, result, keys):
        self.assertExit(result, 0)
        document = json.loads(result.stdout)
        self.assertEqual(set(document), keys)
        self.assertEqual(set(document["latency"]), LATENCY_KEYS)
        return document

    def test_repeat_counts_what_the_function_served(self):
        with self.target() as emu:
            document = self.summary(self.load(emu, "--repeat", "200", "--concurrency", "8",
                                              "-o", "json"))
            self.assertEqual(document["count"], 200)
            self.assertEqual(document["successes"], 200)
            self.assertEqual(document["errors"]["total"], 0)
            self.assertEqual(self.served(), 200)
            latency = document["latency"]
            self.assertTrue(0 < latency["min"] <= latency["p50"] <= latency["p90"]
                            <= latency["p99"] <= latency["p999"] <= latency["max"], latency)
            self.assertGreater(document["throughput"], 0)
            self.assertIsInstance(document["histogram"], str)
            self.assertFalse(document["interrupted"])

    def test_text_summary(self):
        with self.target() as emu:
            result = self.load(emu, "--repeat", "20")
            self.assertExit(result, 0)
            out = result.stdout.decode()
            self.assertRegex(out, r"invocations: 20 in [0-9.]+ s \([0-9.]+/s\), 20 succeeded, "
                                  r"0 failed")
            self.assertRegex(out, r"latency \(ms\): min [0-9.]+, p50 [0-9.]+, p90 [0-9.]+, "
                                  r"p99 [0-9.]+, p99.9 [0-9.]+, max [0-9.]+, mean [0-9.]+")

    def test_errors_by_source_and_type_and_the_error_rate_threshold(self):
        with self.target() as emu:
            failing = '{"action":"fail","message":"no"}'
            document = self.summary(self.load(emu, "--repeat", "10", "-o", "json",
                                              payload=failing))
            self.assertEqual(document["count"], 10)
            self.assertEqual(document["errors"]["total"], 10)
            self.assertEqual(document["errors"]["function"], {"Runtime.HandlerError": 10})
            # Completed runs exit 0 whatever the errors; a threshold crossed exits 1.
            result = self.load(emu, "--repeat", "10", "--max-error-rate", "0.5", payload=failing)
            self.assertExit(result, 1)
            self.assertIn(b"error rate 1.0000 is over --max-error-rate 0.5", result.stderr)
            result = self.load(emu, "--repeat", "5", "--max-p99", "0.000001")
            self.assertExit(result, 1)
            self.assertIn(b"over --max-p99", result.stderr)

    def test_duration_awaits_what_is_in_flight(self):
        with self.target() as emu:
            started = time.monotonic()
            document = self.summary(self.load(emu, "--duration", "1", "--concurrency", "2",
                                              "-o", "json",
                                              payload='{"action":"sleep","seconds":0.3}'))
            took = time.monotonic() - started
            self.assertGreaterEqual(document["count"], 4)
            self.assertEqual(document["count"], document["successes"])
            self.assertEqual(self.served(), document["count"])
            self.assertLess(took, 5)
            self.assertGreaterEqual(document["duration"], 1.0)

    def test_rate_paces_starts_and_measures_from_the_scheduled_start(self):
        with self.target(concurrency=1) as emu:
            # 25 starts at 50/s take about 0.5 s with a fast function.
            started = time.monotonic()
            document = self.summary(self.load(emu, "--repeat", "25", "--rate", "50",
                                              "-o", "json"))
            took = time.monotonic() - started
            self.assertEqual(document["count"], 25)
            self.assertGreaterEqual(document["duration"], 0.45)
            self.assertLess(took, 5)
            # A function that takes 0.1 s cannot keep up with 50/s on one connection: the later
            # invocations start late, and their latency counts the wait (no coordinated
            # omission): the last ones wait about 2 s - 0.4 s.
            document = self.summary(self.load(emu, "--repeat", "20", "--rate", "50", "-o", "json",
                                              payload='{"action":"sleep","seconds":0.1}'))
            self.assertGreater(document["latency"]["max"], 1.0, document["latency"])
            self.assertLess(document["latency"]["min"], 0.5, document["latency"])

    def test_ctrl_c_prints_the_summary_of_what_ran(self):
        with self.target() as emu:
            process = subprocess.Popen(
                [BIN, "invoke", "--invoke-address", "127.0.0.1", "-P", str(emu.port), "-A",
                 '{"action":"sleep","seconds":0.05}', "--duration", "60", "-o", "json", "probe"],
                env=self.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            deadline = time.monotonic() + 20
            while self.served() < 3 and time.monotonic() < deadline:
                time.sleep(0.05)
            process.send_signal(signal.SIGINT)
            out, err = process.communicate(timeout=20)
            self.assertEqual(process.returncode, 130, err)
            document = json.loads(out)
            self.assertTrue(document["interrupted"])
            self.assertGreaterEqual(document["count"], 3)
            self.assertEqual(document["count"], self.served())

    def test_progress_line_on_a_terminal_is_rewritten_in_place_then_cleared(self):
        with self.target() as emu:
            leader, follower = pty.openpty()
            try:
                process = subprocess.Popen(
                    [BIN, "invoke", "--invoke-address", "127.0.0.1", "-P", str(emu.port), "-A",
                     '{"action":"sleep","seconds":0.05}', "--repeat", "20", "probe"],
                    env=self.env(), stdout=subprocess.PIPE, stderr=follower)
                os.close(follower)
                follower = None
                shown = b""
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    ready, _, _ = select.select([leader], [], [], 1)
                    if not ready:
                        continue
                    try:
                        piece = os.read(leader, 4096)
                    except OSError:
                        break
                    if not piece:
                        break
                    shown += piece
                out, _ = process.communicate(timeout=30)
            finally:
                os.close(leader)
                if follower is not None:
                    os.close(follower)
            self.assertEqual(process.returncode, 0)
            self.assertRegex(shown, rb"\r\x1b\[K\d+/20 done, 0 errors, [0-9.]+/s")
            self.assertTrue(shown.endswith(b"\r\x1b[K"), shown[-40:])
            self.assertIn(b"invocations: 20", out)

    def test_streaming_runs_report_the_first_chunk_apart(self):
        stream_function = os.path.join(SOURCE_DIR, "fixtures", "functions", "stream_function.py")
        with Emulator(sys.executable, stream_function, flags=["--concurrency", "2"],
                      env={"HOME": self.home}) as emu:
            # The first chunk at once, the second 0.2 s later: the first chunk's latency must be
            # well under the whole answer's.
            payload = json.dumps({"mode": "stream", "chunks": ["a", "b"], "pause": 0.2})
            result = self.cli("invoke", "--invoke-address", "127.0.0.1", "-P", str(emu.port),
                              "-A", payload, "--stream", "--repeat", "6", "-c", "2", "-o", "json",
                              "function", timeout=120)
            document = self.summary_with(result, SUMMARY_KEYS | {"first_byte",
                                                                 "first_byte_histogram"})
            self.assertEqual(document["successes"], 6)
            self.assertGreaterEqual(document["latency"]["min"], 0.2)
            # (The first invocations also wait for the instances to start: the median.)
            self.assertLess(document["first_byte"]["p50"], 0.15, document["first_byte"])
            self.assertLess(document["first_byte"]["p50"] + 0.1, document["latency"]["p50"])
            self.assertEqual(set(document["first_byte"]), LATENCY_KEYS)
            text = self.cli("invoke", "--invoke-address", "127.0.0.1", "-P", str(emu.port),
                            "-A", payload, "--stream", "--repeat", "2", "function", timeout=120)
            self.assertExit(text, 0)
            self.assertRegex(text.stdout.decode(), r"first chunk \(ms\): min [0-9.]+, p50")
            # Without --stream, the same function's answer comes whole: no first_byte.
            document = self.summary(self.cli(
                "invoke", "--invoke-address", "127.0.0.1", "-P", str(emu.port), "-A", payload,
                "--repeat", "2", "-o", "json", "function", timeout=120))
            self.assertNotIn("first_byte", document)

    def test_bad_combinations_are_usage_errors(self):
        with self.target() as emu:
            for args in (["--repeat", "5", "--duration", "1"], ["--repeat", "0"],
                         ["--repeat", "5", "--workers", "2"], ["--max-error-rate", "2",
                                                                "--repeat", "1"]):
                result = self.load(emu, *args)
                self.assertExit(result, 2)

    def test_workers_spread_the_run_and_their_summaries_merge(self):
        with self.target(concurrency=4) as emu:
            with Emulator(BIN, "load-worker", flags=["--concurrency", "3"],
                          env={"HOME": self.home}) as workers:
                document = self.summary(self.load(
                    emu, "--repeat", "100", "--concurrency", "2", "--workers", "3",
                    "--worker-function", "worker", "--worker-port", str(workers.port),
                    "-o", "json"))
                self.assertEqual(document["count"], 100)
                self.assertEqual(document["successes"], 100)
                self.assertEqual(self.served(), 100)


if __name__ == "__main__":
    unittest.main()
