#!/usr/bin/env python3
"""How long after its emission each chunk of a streamed answer is on `invoke --stream`'s
stdout, for a function that sends a chunk every 100 ms. Two paths, each through both HTTP
engines (the plain one, and libcurl with CARGO_LAMBDA_HTTP=curl):

  emulator  cargo-lambda watch running bench/stream_ticks_function.py (a Runtime API client
            that streams its answer), invoked on the emulator's InvokeWithResponseStream route
  remote    invoke --remote against a fake Lambda endpoint in this script, which sends each
            chunk as an event-stream PayloadChunk message (signature not checked)

Each chunk is a line "<index> <time.monotonic_ns() at emission>"; this script reads invoke's
stdout as it comes and takes the delay from emission to the moment the line is read (the
monotonic clock is the same in every process). Prints, per path and engine, the first chunk's
delay and the median and max over all chunks. Asserts nothing.

Usage: bench/stream_first_chunk.py [build dir] [chunks]   (defaults: build, 30)
"""

import json
import os
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BUILD = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build")
CHUNKS = int(sys.argv[2]) if len(sys.argv) > 2 else 30
INTERVAL = 0.1
BIN = os.path.join(BUILD, "cargo-lambda")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def delays(args, env):
    """Runs invoke; returns the delays (seconds) of the lines it printed, in order."""
    process = subprocess.Popen([BIN] + args, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    found, pending = [], b""
    while True:
        data = os.read(process.stdout.fileno(), 65536)
        now = time.monotonic_ns()
        if not data:
            break
        pending += data
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            if line:
                found.append((now - int(line.split()[1])) / 1e9)
    stderr = process.stderr.read()
    if process.wait() != 0:
        sys.exit("invoke failed: %s" % stderr.decode(errors="replace"))
    if len(found) != CHUNKS:
        sys.exit("expected %d lines, got %d" % (CHUNKS, len(found)))
    return found


def report(name, found):
    print("%-34s first %6.2f ms   median %6.2f ms   max %6.2f ms   (%d chunks)" % (
        name, found[0] * 1000, statistics.median(found) * 1000, max(found) * 1000, len(found)))


# -- the fake remote endpoint -------------------------------------------------------------------

def message(headers, payload):
    encoded = b"".join(struct.pack(">B", len(n)) + n + b"\x07" + struct.pack(">H", len(v)) + v
                       for n, v in headers)
    prelude = struct.pack(">II", 16 + len(encoded) + len(payload), len(encoded))
    body = prelude + struct.pack(">I", zlib.crc32(prelude)) + encoded + payload
    return body + struct.pack(">I", zlib.crc32(body))


CHUNK_HEADERS = [(b":event-type", b"PayloadChunk"), (b":content-type", b"application/octet-stream"),
                 (b":message-type", b"event")]
COMPLETE = message([(b":event-type", b"InvokeComplete"), (b":content-type", b"application/json"),
                    (b":message-type", b"event")], b"{}")


def serve_streams(listener):
    while True:
        try:
            connection, _ = listener.accept()
        except OSError:
            return
        with connection:
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            received = b""
            while b"\r\n\r\n" not in received:
                received += connection.recv(65536)
            head, body = received.split(b"\r\n\r\n", 1)
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            while len(body) < length:
                body += connection.recv(65536)
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/vnd.amazon."
                               b"eventstream\r\nTransfer-Encoding: chunked\r\n"
                               b"Connection: close\r\n\r\n")
            start = time.monotonic()
            for index in range(CHUNKS):
                delay = start + index * INTERVAL - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                data = message(CHUNK_HEADERS, b"%d %d\n" % (index, time.monotonic_ns()))
                connection.sendall(b"%x\r\n%s\r\n" % (len(data), data))
            connection.sendall(b"%x\r\n%s\r\n0\r\n\r\n" % (len(COMPLETE), COMPLETE))


def main():
    if not os.access(BIN, os.X_OK):
        sys.exit("build first: %s not found" % BIN)
    base_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get(
        "HOME", "/tmp"), "LANG": "C.UTF-8"}
    engines = [("plain engine", {}), ("libcurl", {"CARGO_LAMBDA_HTTP": "curl"})]
    event = json.dumps({"chunks": CHUNKS, "interval": INTERVAL})
    print("a chunk every %d ms; delay from its emission to invoke's stdout" % (INTERVAL * 1000))

    port = free_port()
    watch = subprocess.Popen([BIN, "watch", "-P", str(port), "--invoke-address", "127.0.0.1",
                              "--", sys.executable, os.path.join(HERE, "stream_ticks_function.py")],
                             env=base_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    sys.exit("the emulator did not start")
                time.sleep(0.05)
        local = ["invoke", "-P", str(port), "--invoke-address", "127.0.0.1", "ticks", "--stream"]
        # A first invocation starts the function.
        subprocess.run([BIN] + local + ["-A", json.dumps({"chunks": 1})], env=base_env,
                       capture_output=True, check=True, timeout=60)
        for name, extra in engines:
            report("emulator, " + name, delays(local + ["-A", event], dict(base_env, **extra)))
    finally:
        watch.terminate()
        watch.wait(15)

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    threading.Thread(target=serve_streams, args=(listener,), daemon=True).start()
    remote_env = dict(base_env, AWS_ACCESS_KEY_ID="AKIDBENCH", AWS_SECRET_ACCESS_KEY="secret",
                      AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null",
                      AWS_EC2_METADATA_DISABLED="true")
    remote = ["invoke", "--remote", "--endpoint-url", "http://127.0.0.1:%d" %
              listener.getsockname()[1], "--region", "us-east-1", "ticks", "--stream", "-A", "{}"]
    for name, extra in engines:
        report("fake remote endpoint, " + name, delays(remote, dict(remote_env, **extra)))
    listener.close()


if __name__ == "__main__":
    main()
