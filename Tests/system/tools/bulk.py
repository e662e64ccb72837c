#!/usr/bin/env python3
"""Test client: sends BYTES bytes over one TCP connection to HOST:PORT (an echo server,
echo.py --stream) and reads them back, all within SECONDS. Prints "ok BYTES bytes" or
how far it got, and exits non-zero on error. Large echoes make the server send full-size
segments: a path with a smaller MTU needs path-MTU discovery to let them through.
Usage: bulk.py HOST PORT BYTES SECONDS"""
import socket
import sys
import threading
import time

host, port, total, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
data = bytes((i * 7) % 251 for i in range(total))
received = bytearray()
try:
    with socket.create_connection((host, port), timeout=seconds) as s:
        deadline = time.monotonic() + seconds
        sender = threading.Thread(target=s.sendall, args=(data,), daemon=True)
        sender.start()
        while len(received) < total:
            s.settimeout(max(0.1, deadline - time.monotonic()))
            chunk = s.recv(65536)
            if not chunk:
                raise OSError("connection closed by the server")
            received += chunk
    if bytes(received) != data:
        raise OSError("the echo differs from what was sent")
    print(f"ok {total} bytes")
except OSError as error:
    print(f"bulk {host}:{port}: {error or 'timed out'} after {len(received)} of {total} bytes", file=sys.stderr)
    sys.exit(1)
