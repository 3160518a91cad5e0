"""Runs `cargo-lambda watch` for a test: on a free loopback port, ready before the test talks to
it, and always stopped with SIGTERM afterwards, checking that it exits 0 and leaves no process.

    with Emulator(*probe_argv(), flags=["--concurrency", "2"]) as emu:
        status, headers, body = emu.invoke("probe", {"action": "echo"})

Emulator(*function_argv, flags=(), env=None, cwd=None, ready_timeout=30, tls_context=None,
         default_address=False)
    function_argv  the command run as the function (after `--`); none for a Cargo project (cwd)
    flags          extra watch flags; -P (a free port) and --invoke-address 127.0.0.1 are added
                   unless given (default_address=True leaves the address to watch's default,
                   localhost); with --tls-cert the client speaks HTTPS (tls_context, or one
                   that does not verify)
    env            extra variables on top of a clean environment (harness.clean_env)
  .port, .host (where to connect), .pid, .url(path), .connection(timeout=30) (a new
  http.client connection), .output() (stdout+stderr so far, text),
  .wait_for_output(fragment, timeout=10) -> output, or AssertionError,
  .request(method, path, body=b"", headers=None, timeout=30) -> (status, headers, body),
  .invoke(name, payload, headers=None, timeout=30) -> (status, headers, body): the Invoke API;
     payload is bytes, str, or anything json.dumps takes; headers come back lower-cased,
  .stop(sig=signal.SIGTERM, timeout=15) -> exit code; raises AssertionError when the exit is
     not 0 or a process the emulator started is still alive. Leaving the `with` calls it.

Also: PROBE (fixtures/functions/probe.lua) and probe_argv(), free_port(), descendants(pid)
-> {pid: start time}, tagged_processes(tag) -> [pid] (Emulator.tag is its marker).

Orphans are found two ways: every descendant of watch seen just before the signal must be gone
(same pid and start time), and no process may still carry this emulator's private marker
variable (CLC_WATCH_HARNESS_TAG) in its environment: children lead their own process groups,
so the process group of watch cannot be used to find them.
"""

import http.client
import json
import os
import select
import signal
import socket
import ssl
import subprocess
import threading
import time
import urllib.parse
import uuid

from harness import BIN, SOURCE_DIR, clean_env

PROBE = os.path.join(os.path.abspath(SOURCE_DIR), "fixtures", "functions", "probe.lua")
TAG_VARIABLE = "CLC_WATCH_HARNESS_TAG"


def probe_argv():
    """The command that runs fixtures/functions/probe.lua as a function."""
    return [BIN, "run", PROBE]


def free_port():
    """A loopback port nobody listens on right now (bound to port 0, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _read(path):
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return None


def _process_table():
    """{pid: (ppid, start time, state)} of every process we can see."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        stat = _read("/proc/%s/stat" % entry)
        if not stat:
            continue
        # The command name is in parentheses and may hold spaces: split after the last ')'.
        fields = stat[stat.rfind(b")") + 2:].split()
        table[int(entry)] = (int(fields[1]), int(fields[19]), fields[0].decode())
    return table


def descendants(pid):
    """{pid: start time} of every living descendant of pid."""
    table = _process_table()
    found, frontier = {}, [pid]
    while frontier:
        parent = frontier.pop()
        for child, (ppid, start, state) in table.items():
            if ppid == parent and child not in found and state != "Z":
                found[child] = start
                frontier.append(child)
    return found


def tagged_processes(tag):
    """Pids of living processes whose environment carries this marker."""
    needle = ("%s=%s" % (TAG_VARIABLE, tag)).encode() + b"\0"
    found = []
    for pid, (_, _, state) in _process_table().items():
        if pid == os.getpid() or state == "Z":
            continue
        environ = _read("/proc/%d/environ" % pid)
        if environ and needle in environ + b"\0":
            found.append(pid)
    return found


def _describe(pid):
    cmdline = _read("/proc/%d/cmdline" % pid) or b""
    return "%d (%s)" % (pid, cmdline.replace(b"\0", b" ").decode("utf-8", "replace").strip())


def _flag_value(flags, *names):
    for name in names:
        if name in flags:
            return flags[flags.index(name) + 1]
    return None


class Emulator:
    def __init__(self, *function_argv, flags=(), env=None, cwd=None, ready_timeout=30,
                 tls_context=None, default_address=False):
        flags = list(flags)
        self.tag = uuid.uuid4().hex
        port = _flag_value(flags, "-P", "--invoke-port")
        if port is None:
            port = free_port()
            flags = ["-P", str(port)] + flags
        self.port = int(port)
        address = _flag_value(flags, "--invoke-address")
        if address is None and default_address:
            address = "127.0.0.1"  # watch listens on localhost: 127.0.0.1 and ::1
        elif address is None:
            address = "127.0.0.1"
            flags = ["--invoke-address", address] + flags
        # Where to connect: a wildcard address is reached on loopback.
        self.host = {"::": "::1", "0.0.0.0": "127.0.0.1"}.get(address, address)
        self.tls = "--tls-cert" in flags
        if self.tls and tls_context is None:
            tls_context = ssl.create_default_context()
            tls_context.check_hostname = False
            tls_context.verify_mode = ssl.CERT_NONE
        self.tls_context = tls_context
        self.argv = [BIN, "watch"] + flags + (["--"] + list(function_argv) if function_argv else [])
        environment = clean_env(env)
        environment[TAG_VARIABLE] = self.tag
        self._chunks = []
        self._lock = threading.Lock()
        self._stopped = False
        self.returncode = None
        self.process = subprocess.Popen(
            self.argv, env=environment, cwd=cwd, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        self.pid = self.process.pid
        os.set_blocking(self.process.stdout.fileno(), False)
        self._output_done = False
        self._reader = threading.Thread(target=self._collect, daemon=True)
        self._reader.start()
        try:
            self._wait_ready(ready_timeout)
        except BaseException:
            self._kill_everything()
            raise

    # -- output -------------------------------------------------------------------------
    # A reader thread keeps the pipe from filling up, and output() drains the pipe itself: a
    # line watch wrote before it sent an answer is in the pipe when the test has that answer,
    # but the thread may not have read it yet on a loaded machine.
    def _collect(self):
        fd = self.process.stdout.fileno()
        while True:
            try:
                select.select([fd], [], [], 0.5)
            except (OSError, ValueError):
                pass  # closed by _close_output, which _drain reports
            with self._lock:
                if not self._drain():
                    return

    def _drain(self):
        """Appends what the pipe holds now; False once it is at its end or closed. The caller
        holds the lock."""
        while not self._output_done:
            try:
                chunk = os.read(self.process.stdout.fileno(), 65536)
            except BlockingIOError:
                return True
            if not chunk:
                self._output_done = True
                break
            self._chunks.append(chunk)
        return False

    def output(self):
        """Everything watch and its functions wrote so far (stdout and stderr interleaved)."""
        with self._lock:
            self._drain()
            return b"".join(self._chunks).decode("utf-8", "replace")

    def wait_for_output(self, fragment, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.output()
            if fragment in text:
                return text
            time.sleep(0.02)
        raise AssertionError("watch never wrote %r; output:\n%s" % (fragment, self.output()))

    # -- start and stop -------------------------------------------------------------------
    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self._reader.join(5)
                raise AssertionError("watch exited with %d before it was ready:\n%s"
                                     % (self.process.returncode, self.output()))
            try:
                socket.create_connection((self.host, self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.02)
        raise AssertionError("watch did not listen on port %d within %ss:\n%s"
                             % (self.port, timeout, self.output()))

    def _kill_everything(self):
        """Last resort cleanup: nothing this emulator started may outlive the test."""
        for pid in [self.pid] + list(descendants(self.pid)) + tagged_processes(self.tag):
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            pass
        deadline = time.monotonic() + 5
        while tagged_processes(self.tag) and time.monotonic() < deadline:
            time.sleep(0.02)
        self._stopped = True
        self._close_output()

    def _close_output(self):
        self._reader.join(5)
        with self._lock:
            self._drain()
            self._output_done = True
            self.process.stdout.close()

    def stop(self, sig=signal.SIGTERM, timeout=15):
        """Signals watch, waits for it, and checks exit 0 and that no process is left."""
        if self._stopped:
            return self.returncode
        self._stopped = True
        before = descendants(self.pid)
        self.process.send_signal(sig)
        try:
            self.returncode = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self._kill_everything()
            raise AssertionError("watch did not exit within %ss of %s:\n%s"
                                 % (timeout, signal.Signals(sig).name, self.output()))
        self._close_output()
        # A child killed as watch exits may take a moment to disappear.
        deadline = time.monotonic() + 1.0
        while True:
            now = _process_table()
            left = sorted(set(pid for pid, start in before.items()
                              if pid in now and now[pid][1] == start and now[pid][2] != "Z")
                          | set(tagged_processes(self.tag)))
            if not left or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        if left:
            described = ", ".join(_describe(pid) for pid in left)
            self._kill_everything()
            raise AssertionError("watch left processes behind after %s: %s\n%s"
                                 % (signal.Signals(sig).name, described, self.output()))
        if self.returncode != 0:
            raise AssertionError("watch exited with %d after %s, expected 0:\n%s"
                                 % (self.returncode, signal.Signals(sig).name, self.output()))
        return self.returncode

    def __enter__(self):
        return self

    def __exit__(self, kind, value, traceback):
        if kind is None:
            self.stop()
        else:
            # The test already failed: clean up without hiding its error.
            try:
                self.stop()
            except AssertionError:
                pass
            finally:
                if self.process.poll() is None or tagged_processes(self.tag):
                    self._kill_everything()
        return False

    # -- HTTP -----------------------------------------------------------------------------
    def url(self, path):
        host = "[%s]" % self.host if ":" in self.host else self.host
        return "%s://%s:%d%s" % ("https" if self.tls else "http", host, self.port, path)

    def connection(self, timeout=30):
        """A new http.client connection to the emulator (HTTPS with --tls-cert)."""
        if self.tls:
            return http.client.HTTPSConnection(self.host, self.port, timeout=timeout,
                                               context=self.tls_context)
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def request(self, method, path, body=b"", headers=None, timeout=30):
        """One HTTP request on a fresh connection: (status, lower-cased headers, body bytes)."""
        connection = self.connection(timeout)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            data = response.read()
            answer = {}
            for name, value in response.getheaders():
                name = name.lower()
                answer[name] = answer[name] + ", " + value if name in answer else value
            return response.status, answer, data
        finally:
            connection.close()

    def invoke(self, name, payload, headers=None, timeout=30):
        """POST /2015-03-31/functions/{name}/invocations."""
        if isinstance(payload, str):
            payload = payload.encode()
        elif not isinstance(payload, (bytes, bytearray)):
            payload = json.dumps(payload).encode()
        path = "/2015-03-31/functions/%s/invocations" % urllib.parse.quote(name, safe="")
        return self.request("POST", path, payload, headers, timeout)
