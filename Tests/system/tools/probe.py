#!/usr/bin/env python3
"""Test client: sends MESSAGE over tcp or udp to HOST:PORT and prints the answer.
Exits 1 (printing the error) when nothing answers within 3 seconds.
HOST may be IPv6. Usage: probe.py tcp|udp HOST PORT [MESSAGE]"""
import socket
import sys

kind, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
message = (sys.argv[4] if len(sys.argv) > 4 else "ping").encode()
try:
    if kind == "tcp":
        with socket.create_connection((host, port), timeout=3) as s:
            s.sendall(message)
            answer = s.recv(65536)
    else:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(3)
            s.sendto(message, (host, port))
            answer, peer = s.recvfrom(65536)
            if peer[:2] != (host, port):
                print(f"answer came from {peer[0]}:{peer[1]}, not {host}:{port}", file=sys.stderr)
                sys.exit(1)
    print(answer.decode())
except OSError as error:
    print(f"{kind} {host}:{port}: {error}", file=sys.stderr)
    sys.exit(1)
