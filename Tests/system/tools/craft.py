#!/usr/bin/env python3
"""Crafted packets for the hostile-traffic tests (raw sockets, no dependencies).

  craft.py udp DST PORT [--ttl N] [--options] [--payload TEXT] [--fragments N [--overlap]]
      an IPv4/UDP datagram to DST:PORT from this namespace's address toward DST (with
      four NOP options if asked), whole or in N fragments (--overlap: the second one
      starts 8 bytes early, over the first, with other bytes); waits 2 s for an answer
      and prints it, or "no answer" (exit 1)
  craft.py arp-claim IFACE IP
      a gratuitous ARP reply claiming IP for IFACE's MAC
  craft.py vxlan HOST VNI INNER_SRC INNER_DST INNER_MAC PORT [--payload TEXT]
      a VXLAN datagram to HOST:4789 carrying, on VNI, an Ethernet frame to INNER_MAC with a
      UDP datagram INNER_SRC -> INNER_DST:PORT (what a host outside the cluster could inject)
"""
import argparse
import fcntl
import random
import socket
import struct
import sys

from inet import ip_header, udp_segment


def source_for(dst):
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.connect((dst, 9))
    return probe.getsockname()[0]


def udp(args):
    src = source_for(args.dst)
    answer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    answer.bind((src, 0))
    answer.settimeout(2)
    sport = answer.getsockname()[1]
    segment = udp_segment(src, args.dst, sport, args.port, args.payload.encode())
    options = b"\x01\x01\x01\x01" if args.options else b""  # four NOPs: a header with options
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    ident = random.randrange(1, 65535)
    if args.fragments <= 1:
        raw.sendto(ip_header(src, args.dst, len(segment), args.ttl, options, ident) + segment, (args.dst, 0))
    else:
        size = max(8, len(segment) // args.fragments // 8 * 8)
        pieces = [(off, segment[off:off + size]) for off in range(0, len(segment), size)]
        for i, (off, piece) in enumerate(pieces):
            if args.overlap and i == 1:
                off, piece = off - 8, b"X" * 8 + piece
            more = 0x2000 if i < len(pieces) - 1 else 0
            raw.sendto(ip_header(src, args.dst, len(piece), args.ttl, options, ident, more | off // 8) + piece, (args.dst, 0))
    try:
        data, peer = answer.recvfrom(65536)
        print(data.decode(errors="replace"))
    except socket.timeout:
        print("no answer")
        sys.exit(1)


def arp_claim(args):
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    sock.bind((args.iface, 0))
    mac = fcntl.ioctl(sock.fileno(), 0x8927, struct.pack("256s", args.iface.encode()[:15]))[18:24]  # SIOCGIFHWADDR
    ip = socket.inet_aton(args.ip)
    arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 2, mac, ip, b"\xff" * 6, ip)
    for _ in range(3):
        sock.send(b"\xff" * 6 + mac + b"\x08\x06" + arp)


def vxlan(args):
    segment = udp_segment(args.inner_src, args.inner_dst, 40000, args.port, args.payload.encode())
    packet = ip_header(args.inner_src, args.inner_dst, len(segment), 64, b"", random.randrange(1, 65535)) + segment
    frame = bytes.fromhex(args.inner_mac.replace(":", "")) + b"\x02\x00\x00\x00\x00\x66" + b"\x08\x00" + packet
    header = struct.pack("!B3xI", 0x08, args.vni << 8)  # flags: a valid VNI
    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(header + frame, (args.host, 4789))


parser = argparse.ArgumentParser()
sub = parser.add_subparsers(dest="kind", required=True)
u = sub.add_parser("udp")
u.add_argument("dst")
u.add_argument("port", type=int)
u.add_argument("--ttl", type=int, default=64)
u.add_argument("--options", action="store_true")
u.add_argument("--payload", default="crafted")
u.add_argument("--fragments", type=int, default=1)
u.add_argument("--overlap", action="store_true")
a = sub.add_parser("arp-claim")
a.add_argument("iface")
a.add_argument("ip")
v = sub.add_parser("vxlan")
v.add_argument("host")
v.add_argument("vni", type=int)
v.add_argument("inner_src")
v.add_argument("inner_dst")
v.add_argument("inner_mac")
v.add_argument("port", type=int)
v.add_argument("--payload", default="injected")
args = parser.parse_args()
{"udp": udp, "arp-claim": arp_claim, "vxlan": vxlan}[args.kind](args)
