#!/usr/bin/env python3
"""Test client: keeps one TCP connection to HOST:PORT for SECONDS, sending a numbered
line every 50 ms and checking that every byte comes back in order. Prints
"ok LINES lines" or the first error, and exits non-zero on error.
Usage: stream.py HOST PORT SECONDS"""
import socket
import sys
import time

host, port, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
sent = received = b""
lines = 0
try:
    with socket.create_connection((host, port), timeout=5) as s:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            line = b"line %06d\n" % lines
            s.sendall(line)
            sent += line
            lines += 1
            while len(received) < len(sent):
                chunk = s.recv(65536)
                if not chunk:
                    raise OSError("connection closed by the server")
                received += chunk
            time.sleep(0.05)
    if received != sent:
        raise OSError(f"echo mismatch after {len(received)} bytes")
    print(f"ok {lines} lines")
except OSError as error:
    print(f"stream {host}:{port}: {error} after {lines} lines", file=sys.stderr)
    sys.exit(1)
