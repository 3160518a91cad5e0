#!/usr/bin/env python3
"""The emulator under pressure (issue 8's figures). Prints numbers; asserts nothing.

1. Idle connections: N clients connect to watch and stay silent; meanwhile `cargo-lambda
   invoke` sends a normal invocation: its wall time (median of 20), against the same with no
   idle connection, and `curl` for the same request as the peer.
2. Out of descriptors: watch with a limit of 128 open files and 300 silent connections: the CPU
   it uses in 2 s (a busy loop on accept would be ~2 s), the lines it writes about it, and the
   time a real invocation takes to be answered meanwhile.
3. Many names: 1,000 distinct function names invoked one after the other with the default
   --max-instances: watch's resident memory after, and the function processes left.

Usage: bench/emulator_pressure.py [build dir] [idle connections, default 2000]
"""
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build"))
IDLE = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
BIN = os.path.join(BUILD, "cargo-lambda")
FUNCTION = os.path.join(ROOT, "bench", "emulator_function.lua")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_watch(port, open_files=None, extra=()):
    def limit():
        if open_files:
            resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, open_files))
    process = subprocess.Popen(
        [BIN, "watch", "--invoke-address", "127.0.0.1", "-P", str(port), *extra, "--",
         BIN, "run", FUNCTION],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=limit)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process
        except OSError:
            time.sleep(0.05)
    raise SystemExit("watch did not start")


def stop(process):
    process.terminate()
    try:
        _, stderr = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        _, stderr = process.communicate()
    return stderr.decode(errors="replace")


def invoke_ms(port, name="bench"):
    started = time.monotonic()
    result = subprocess.run([BIN, "invoke", "--invoke-address", "127.0.0.1", "-P", str(port),
                             "-A", '{"n":1}', name], capture_output=True, timeout=30)
    took = (time.monotonic() - started) * 1000
    if result.returncode != 0:
        raise SystemExit("invoke failed: %r" % result.stderr)
    return took


def curl_ms(port):
    started = time.monotonic()
    subprocess.run(["curl", "-s", "-o", "/dev/null", "-d", '{"n":1}',
                    "http://127.0.0.1:%d/2015-03-31/functions/bench/invocations" % port],
                   check=True, timeout=30)
    return (time.monotonic() - started) * 1000


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def children(pid):
    with open("/proc/%d/task/%d/children" % (pid, pid)) as listing:
        return listing.read().split()


def idle_connections():
    port = free_port()
    watch = start_watch(port)
    try:
        invoke_ms(port)  # the function instance starts here, not in the figures
        quiet = statistics.median(invoke_ms(port) for _ in range(20))
        peer = shutil.which("curl") and statistics.median(curl_ms(port) for _ in range(20))
        held = [socket.create_connection(("127.0.0.1", port)) for _ in range(IDLE)]
        time.sleep(0.5)
        busy = statistics.median(invoke_ms(port) for _ in range(20))
        peer_busy = shutil.which("curl") and statistics.median(curl_ms(port) for _ in range(20))
        for sock in held:
            sock.close()
    finally:
        stop(watch)
    print("1. idle connections: invoke median %.1f ms with %d idle connections held "
          "(%.1f ms with none); curl %s ms (%s ms with none); target < 50 ms"
          % (busy, IDLE, quiet, "%.1f" % peer_busy if peer else "-",
             "%.1f" % peer if peer else "-"))


def out_of_descriptors():
    port = free_port()
    watch = start_watch(port, open_files=128)
    try:
        invoke_ms(port)
        held = [socket.create_connection(("127.0.0.1", port)) for _ in range(300)]
        time.sleep(0.5)
        before = cpu_seconds(watch.pid)
        time.sleep(2)
        used = cpu_seconds(watch.pid) - before
        answered = invoke_ms(port)
        for sock in held:
            sock.close()
    finally:
        stderr = stop(watch)
    lines = sum("cannot accept connections" in line for line in stderr.splitlines())
    print("2. out of descriptors (limit 128, 300 silent connections): %.2f s of CPU in 2 s, "
          "%d line(s) on stderr about it, a real invocation answered in %.0f ms"
          % (used, lines, answered))


def many_names():
    port = free_port()
    watch = start_watch(port)
    try:
        start_rss = rss_kb(watch.pid)
        url = "http://127.0.0.1:%d/2015-03-31/functions/%%s/invocations" % port
        started = time.monotonic()
        for i in range(1000):
            request = urllib.request.Request(url % ("f%d" % i), data=b"{}", method="POST")
            with urllib.request.urlopen(request, timeout=30) as answer:
                answer.read()
        took = time.monotonic() - started
        time.sleep(1)
        rss, processes = rss_kb(watch.pid), len(children(watch.pid))
    finally:
        stop(watch)
    print("3. 1,000 distinct names in %.1f s (default --max-instances): watch RSS %.1f MB "
          "(%.1f MB at start), %d function processes left"
          % (took, rss / 1024, start_rss / 1024, processes))


if __name__ == "__main__":
    if not os.access(BIN, os.X_OK):
        raise SystemExit("build first: %s not found" % BIN)
    print("emulator under pressure: %s, %d cores" % (BIN, os.cpu_count()))
    idle_connections()
    out_of_descriptors()
    many_names()
