#!/usr/bin/env python3
"""bench/stream_first_chunk.py's function: speaks the Runtime API by hand (stdlib only) and
streams its answer (Lambda-Runtime-Function-Response-Mode: streaming, chunked), one line every
`interval` seconds: "<index> <time.monotonic_ns() at emission>\\n", the clock read just before
the line is written to the socket. The event: {"chunks": N, "interval": seconds}.

    cargo-lambda watch -- python3 bench/stream_ticks_function.py
"""

import http.client
import json
import os
import socket
import sys
import time
import urllib.parse


def main():
    address = os.environ.get("AWS_LAMBDA_RUNTIME_API")
    if not address:
        sys.exit("stream_ticks_function: AWS_LAMBDA_RUNTIME_API is not set")
    if "://" not in address:
        address = "http://" + address
    parts = urllib.parse.urlsplit(address)
    prefix = parts.path.rstrip("/") + "/2018-06-01/runtime/invocation/"
    connection = http.client.HTTPConnection(parts.hostname, parts.port or 80)
    while True:
        connection.request("GET", prefix + "next")
        response = connection.getresponse()
        event = json.loads(response.read() or b"{}")
        request_id = response.headers["Lambda-Runtime-Aws-Request-Id"]
        count, interval = int(event.get("chunks", 10)), float(event.get("interval", 0.1))
        connection.putrequest("POST", prefix + request_id + "/response")
        connection.putheader("Lambda-Runtime-Function-Response-Mode", "streaming")
        connection.putheader("Transfer-Encoding", "chunked")
        connection.putheader("Content-Type", "text/plain")
        connection.endheaders()
        connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        start = time.monotonic()
        for index in range(count):
            # Absolute times: the pace does not drift with the time a write takes.
            delay = start + index * interval - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            line = b"%d %d\n" % (index, time.monotonic_ns())
            connection.send(b"%x\r\n%s\r\n" % (len(line), line))
        connection.send(b"0\r\n\r\n")
        connection.getresponse().read()


if __name__ == "__main__":
    main()
