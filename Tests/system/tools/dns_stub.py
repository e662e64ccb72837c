#!/usr/bin/env python3
"""An upstream DNS server for the DNS tests and benchmark: UDP and TCP on ADDRESS:PORT in
the namespace it runs in (stdlib only). It answers, with the query's ID and question:

  upstream.test.   A 203.0.113.7, AAAA 2001:db8::7
  other.test.      A 203.0.113.8
  NAME (--a)       A IP
  missing.test.    NXDOMAIN
  refused.test.    REFUSED
  slow.test.       never (what a forwarder's timeout is for)
  anything else    NXDOMAIN

(a name above asked for another type: NOERROR, no answer). Each query is appended to
--log as "NAME TYPE udp|tcp" (NAME lower case, with the final dot), so a test sees which
queries reached it; "ready" is printed when it listens. Responses (QR set) and what does
not parse get nothing.
Usage: dns_stub.py [--address 127.0.0.53] [--port 53] [--log FILE] [--a NAME=IP]..."""
import argparse
import ipaddress
import socket
import struct
import threading

parser = argparse.ArgumentParser()
parser.add_argument("--address", default="127.0.0.53")
parser.add_argument("--port", type=int, default=53)
parser.add_argument("--log")
parser.add_argument("--a", action="append", default=[], metavar="NAME=IP")
args = parser.parse_args()

A, AAAA = 1, 28
TYPES = {1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 15: "MX", 16: "TXT", 28: "AAAA", 33: "SRV", 255: "ANY"}
NOERROR, NXDOMAIN, REFUSED = 0, 3, 5
RECORDS = {
    ("upstream.test.", A): ipaddress.ip_address("203.0.113.7").packed,
    ("upstream.test.", AAAA): ipaddress.ip_address("2001:db8::7").packed,
    ("other.test.", A): ipaddress.ip_address("203.0.113.8").packed,
}
for spec in args.a:
    name, ip = spec.split("=")
    RECORDS[(name.lower().rstrip(".") + ".", A)] = ipaddress.ip_address(ip).packed
KNOWN = {name for name, _ in RECORDS}
RCODES = {"missing.test.": NXDOMAIN, "refused.test.": REFUSED}
SILENT = {"slow.test."}

log = open(args.log, "a", buffering=1) if args.log else None
log_lock = threading.Lock()


def question(query):
    """(name, type, end of the question) of a query, or None when it is none."""
    if len(query) < 12:
        return None
    flags, qdcount = struct.unpack("!2xHH", query[:6])
    if flags & 0x8000 or qdcount != 1:
        return None
    labels, at = [], 12
    while True:
        if at >= len(query):
            return None
        length = query[at]
        if length == 0:
            break
        if length > 63 or at + 1 + length > len(query):
            return None
        labels.append(query[at + 1:at + 1 + length].decode("ascii", "replace").lower())
        at += 1 + length
    if at + 5 > len(query):
        return None
    qtype, = struct.unpack("!H", query[at + 1:at + 3])
    return ".".join(labels) + ".", qtype, at + 5


def answer(query, transport):
    """The response to a query (bytes), or None for no response."""
    parsed = question(query)
    if parsed is None:
        return None
    name, qtype, end = parsed
    if log:
        with log_lock:
            log.write(f"{name} {TYPES.get(qtype, f'TYPE{qtype}')} {transport}\n")
    if name in SILENT:
        return None
    rdata = RECORDS.get((name, qtype))
    rcode = RCODES.get(name, NOERROR if name in KNOWN else NXDOMAIN)
    flags = 0x8000 | (struct.unpack("!H", query[2:4])[0] & 0x7900) | 0x0080 | rcode  # QR, opcode and RD kept, RA
    header = query[:2] + struct.pack("!HHHHH", flags, 1, 1 if rdata else 0, 0, 0)
    response = header + query[12:end]
    if rdata:
        response += struct.pack("!HHHIH", 0xC00C, qtype, 1, 60, len(rdata)) + rdata
    return response


def serve_tcp(conn):
    """Length-prefixed queries on one connection, until the client closes it."""
    conn.settimeout(30)
    with conn:
        try:
            while True:
                prefix = conn.recv(2, socket.MSG_WAITALL)
                if len(prefix) < 2:
                    return
                query = conn.recv(struct.unpack("!H", prefix)[0], socket.MSG_WAITALL)
                response = answer(query, "tcp")
                if response is not None:
                    conn.sendall(struct.pack("!H", len(response)) + response)
        except OSError:
            pass


def accept_forever(listener):
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve_tcp, args=(conn,), daemon=True).start()


family = socket.AF_INET6 if ":" in args.address else socket.AF_INET
listener = socket.socket(family, socket.SOCK_STREAM)
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind((args.address, args.port))
listener.listen(128)
threading.Thread(target=accept_forever, args=(listener,), daemon=True).start()
udp = socket.socket(family, socket.SOCK_DGRAM)
udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
udp.bind((args.address, args.port))
print("ready", flush=True)

while True:
    query, peer = udp.recvfrom(65535)
    response = answer(query, "udp")
    if response is not None:
        udp.sendto(response, peer)
