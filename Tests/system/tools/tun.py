#!/usr/bin/env python3
"""The far end of a tunnel, for uplinks without an Ethernet header (the kernel has no ipip
or WireGuard here; a tun device carries the same bare IP packets).

  tun.py udp DEVICE SRC DST PORT [--payload TEXT]
      writes an IPv4/UDP datagram SRC -> DST:PORT into the tun device DEVICE (made with
      `ip tuntap add DEVICE mode tun`): the host receives it on DEVICE as from a tunnel.
      Then reads what the host sends out of DEVICE for 2 s and prints the payload of the
      first UDP datagram to SRC, or "no answer" (exit 1).
"""
import argparse
import fcntl
import os
import select
import socket
import struct
import sys
import time

from inet import ip_header, udp_segment

TUNSETIFF = 0x400454CA
IFF_TUN, IFF_NO_PI = 0x0001, 0x1000

parser = argparse.ArgumentParser()
sub = parser.add_subparsers(dest="kind", required=True)
u = sub.add_parser("udp")
u.add_argument("device")
u.add_argument("src")
u.add_argument("dst")
u.add_argument("port", type=int)
u.add_argument("--payload", default="tunnelled")
args = parser.parse_args()

fd = os.open("/dev/net/tun", os.O_RDWR)
fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", args.device.encode(), IFF_TUN | IFF_NO_PI))
sport = 40000 + os.getpid() % 20000
segment = udp_segment(args.src, args.dst, sport, args.port, args.payload.encode())
os.write(fd, ip_header(args.src, args.dst, len(segment)) + segment)

deadline = time.monotonic() + 2
while (left := deadline - time.monotonic()) > 0:
    if not select.select([fd], [], [], left)[0]:
        break
    packet = os.read(fd, 65536)
    ihl = (packet[0] & 0x0F) * 4
    if packet[0] >> 4 == 4 and packet[9] == socket.IPPROTO_UDP and packet[16:20] == socket.inet_aton(args.src):
        print(packet[ihl + 8:].decode(errors="replace"))
        sys.exit(0)
print("no answer")
sys.exit(1)
