#!/usr/bin/env python3
"""Test client: sends MESSAGE over tcp or udp to HOST:PORT and prints the answer.
Exits 1 (printing the error) when nothing answers within 3 seconds.
HOST may be IPv6. --no-checksum: UDP over IPv4 sent with a checksum of 0 (none).
Usage: probe.py tcp|udp HOST PORT [MESSAGE] [--no-checksum]"""
import socket
import sys

SO_NO_CHECK = 11  # Linux: UDP over IPv4 without a checksum

arguments = [a for a in sys.argv[1:] if a != "--no-checksum"]
no_checksum = len(arguments) < len(sys.argv) - 1
kind, host, port = arguments[0], arguments[1], int(arguments[2])
message = (arguments[3] if len(arguments) > 3 else "ping").encode()
try:
    if kind == "tcp":
        with socket.create_connection((host, port), timeout=3) as s:
            s.sendall(message)
            answer = s.recv(65536)
    else:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(3)
            if no_checksum:
                s.setsockopt(socket.SOL_SOCKET, SO_NO_CHECK, 1)
            s.sendto(message, (host, port))
            answer, peer = s.recvfrom(65536)
            if peer[:2] != (host, port):
                print(f"answer came from {peer[0]}:{peer[1]}, not {host}:{port}", file=sys.stderr)
                sys.exit(1)
    print(answer.decode())
except OSError as error:
    print(f"{kind} {host}:{port}: {error}", file=sys.stderr)
    sys.exit(1)
