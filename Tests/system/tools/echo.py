#!/usr/bin/env python3
"""Test server run inside containers: answers every TCP connection and UDP datagram
with "<port> <client address> <data>", so tests see which container port was reached and
which client address the container saw. Usage: echo.py [--tcp PORT]... [--udp PORT]..."""
import argparse
import selectors
import socket

parser = argparse.ArgumentParser()
parser.add_argument("--tcp", type=int, action="append", default=[])
parser.add_argument("--udp", type=int, action="append", default=[])
args = parser.parse_args()

selector = selectors.DefaultSelector()
for port in args.tcp:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(64)
    selector.register(s, selectors.EVENT_READ, ("tcp", port))
for port in args.udp:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", port))
    selector.register(s, selectors.EVENT_READ, ("udp", port))
print("ready", flush=True)

while True:
    for key, _ in selector.select():
        kind, port = key.data
        if kind == "tcp":
            conn, peer = key.fileobj.accept()
            conn.settimeout(5)
            try:
                data = conn.recv(65536)
                conn.sendall(b"%d %s " % (port, peer[0].encode()) + data)
            except OSError:
                pass
            conn.close()
        else:
            data, peer = key.fileobj.recvfrom(65536)
            key.fileobj.sendto(b"%d %s " % (port, peer[0].encode()) + data, peer)
