#!/usr/bin/env python3
"""Test server run inside containers: answers every TCP connection and UDP datagram
with "<port> <client address> <data>", so tests see which container port was reached and
which client address the container saw; --stream ports echo every byte back for as long
as the connection lasts; --ipv6 listens on IPv6 (::) instead of IPv4.
Usage: echo.py [--ipv6] [--tcp PORT]... [--udp PORT]... [--stream PORT]..."""
import argparse
import selectors
import socket
import threading

parser = argparse.ArgumentParser()
parser.add_argument("--tcp", type=int, action="append", default=[])
parser.add_argument("--udp", type=int, action="append", default=[])
parser.add_argument("--stream", type=int, action="append", default=[])
parser.add_argument("--ipv6", action="store_true")
args = parser.parse_args()
FAMILY, ANY = (socket.AF_INET6, "::") if args.ipv6 else (socket.AF_INET, "0.0.0.0")


def echo_forever(conn):
    with conn:
        while data := conn.recv(65536):
            conn.sendall(data)


def serve_stream(listener):
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=echo_forever, args=(conn,), daemon=True).start()


for port in args.stream:
    s = socket.socket(FAMILY, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((ANY, port))
    s.listen(64)
    threading.Thread(target=serve_stream, args=(s,), daemon=True).start()

selector = selectors.DefaultSelector()
for port in args.tcp:
    s = socket.socket(FAMILY, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((ANY, port))
    s.listen(64)
    selector.register(s, selectors.EVENT_READ, ("tcp", port))
for port in args.udp:
    s = socket.socket(FAMILY, socket.SOCK_DGRAM)
    s.bind((ANY, port))
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
