"""Shared helpers for the end-to-end tests: run the real binary, make scratch directories."""

import os
import shutil
import subprocess
import tempfile
import unittest

BIN = os.path.abspath(os.environ.get("CARGO_LAMBDA_BIN", os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "cargo-lambda")))
SOURCE_DIR = os.environ.get(
    "CARGO_LAMBDA_SOURCE_DIR", os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
)
SHARED_DIR = os.environ.get("CARGO_LAMBDA_SHARED_DIR", os.path.join(SOURCE_DIR, "..", "shared"))


def clean_env(extra=None, home=None):
    """An environment that cannot reach the user's real cache, config or proxies."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": home or tempfile.gettempdir(),
        "LANG": "C.UTF-8",
    }
    for name in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", "CARGO_LAMBDA_LUA_DIR"):
        if name in os.environ:
            env[name] = os.environ[name]
    if extra:
        env.update(extra)
    return env


def run_cli(args, env=None, input=None, cwd=None, timeout=60):
    """Runs the binary; returns CompletedProcess with bytes stdout/stderr."""
    return subprocess.run(
        [BIN] + list(args),
        env=env if env is not None else clean_env(),
        input=input,
        cwd=cwd,
        capture_output=True,
        timeout=timeout,
    )


class ScratchTestCase(unittest.TestCase):
    """A test case with a private temporary HOME (so cache and config start empty)."""

    def setUp(self):
        self.scratch = tempfile.mkdtemp(prefix="clc-e2e-")
        self.home = os.path.join(self.scratch, "home")
        os.makedirs(self.home)
        self.addCleanup(shutil.rmtree, self.scratch, True)

    def env(self, **extra):
        return clean_env(extra, home=self.home)

    def cli(self, *args, env=None, input=None, cwd=None, timeout=60):
        return run_cli(args, env=env if env is not None else self.env(), input=input,
                       cwd=cwd or self.scratch, timeout=timeout)

    def assertExit(self, result, code):
        self.assertEqual(
            result.returncode,
            code,
            "exit %d, expected %d\nstdout: %r\nstderr: %r"
            % (result.returncode, code, result.stdout[:2000], result.stderr[:2000]),
        )

    def assertOneLineError(self, result, *fragments):
        text = result.stderr.decode("utf-8", "replace")
        lines = [line for line in text.splitlines() if line.strip()]
        self.assertEqual(len(lines), 1, "expected one line on stderr, got %r" % text)
        for fragment in fragments:
            self.assertIn(fragment, lines[0])


def shared_path(*parts):
    """A path under ../shared, or None when that folder is absent (a user's clone)."""
    path = os.path.join(SHARED_DIR, *parts)
    return path if os.path.exists(path) else None


class ThroughCurl:
    """Mixed in before a ScratchTestCase subclass: its tests again with lambda.http's libcurl
    engine (CARGO_LAMBDA_HTTP=curl). Test fakes listen on loopback http, which the plain engine
    would otherwise take, while real use (https to AWS, http to 169.254.x) goes through
    libcurl."""

    def env(self, **extra):
        extra.setdefault("CARGO_LAMBDA_HTTP", "curl")
        return super().env(**extra)
