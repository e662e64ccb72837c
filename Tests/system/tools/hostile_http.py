#!/usr/bin/env python3
"""Hostile HTTP clients for the metrics and API servers.

  hostile_http.py garbage HOST PORT          a request line that is not HTTP: prints the status or "closed"
  hostile_http.py big-header HOST PORT KIB   a header of KIB KiB: prints the status or "closed"
  hostile_http.py slow HOST PORT N SECONDS   N connections each trickling a request one byte a second
                                             while scrapes run alongside; prints how many scrapes
                                             succeeded and the slowest one in ms
"""
import socket
import sys
import threading
import time


def status_of(sock):
    """The status code of the answer, or "closed" if the server hung up without one."""
    sock.settimeout(5)
    data = b""
    try:
        while b"\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    except (ConnectionResetError, socket.timeout):
        pass
    line = data.split(b"\r\n", 1)[0].decode(errors="replace")
    return line.split(" ")[1] if line.startswith("HTTP/1.") else "closed"


def send(host, port, payload):
    with socket.create_connection((host, port), timeout=5) as s:
        try:
            s.sendall(payload)
        except (BrokenPipeError, ConnectionResetError):
            return "closed"
        return status_of(s)


def scrape(host, port):
    with socket.create_connection((host, port), timeout=5) as s:
        s.sendall(f"GET /metrics HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        return status_of(s)


def slow(host, port, count, seconds):
    stop = time.monotonic() + seconds
    request = f"GET /metrics HTTP/1.1\r\nHost: {host}\r\nX-Slow: {'a' * 64}\r\n\r\n".encode()

    def trickle():
        try:
            with socket.create_connection((host, port), timeout=seconds + 5) as s:
                for byte in request:
                    if time.monotonic() > stop:
                        return
                    s.sendall(bytes([byte]))
                    time.sleep(1)
        except OSError:
            pass

    threads = [threading.Thread(target=trickle, daemon=True) for _ in range(count)]
    for t in threads:
        t.start()
    ok, slowest, total = 0, 0.0, 0
    while time.monotonic() < stop:
        start = time.monotonic()
        total += 1
        try:
            ok += scrape(host, port) == "200"
        except OSError:
            pass
        slowest = max(slowest, time.monotonic() - start)
        time.sleep(0.1)
    print(f"{ok}/{total} scrapes answered 200, slowest {slowest * 1000:.0f} ms")


kind, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
if kind == "garbage":
    print(send(host, port, b"\x16\x03\x01 NOT HTTP AT ALL \xff\xfe\r\n\r\n"))
elif kind == "big-header":
    print(send(host, port, f"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: {'a' * (int(sys.argv[4]) * 1024)}\r\n\r\n".encode()))
elif kind == "slow":
    slow(host, port, int(sys.argv[4]), float(sys.argv[5]))
else:
    sys.exit(__doc__)
