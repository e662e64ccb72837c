#!/usr/bin/env python3
"""Raw Ethernet frames from inside a container, as one with CAP_NET_RAW can send them
(no dependencies). The frame is IPv4/UDP from the interface's own MAC and address to
DST:PORT, sent to the broadcast MAC.

  frames.py send IFACE DST PORT PAYLOAD [--tag TPID:VID] [--ethertype TYPE] [--cut N]
      through an AF_PACKET socket; --tag puts an 802.1Q/802.1ad tag in front of IPv4,
      --ethertype says TYPE (e.g. 0x88b5) where the IPv4 one would be, --cut keeps the
      first N bytes after the Ethernet header (a cut IPv4 header: N < 20)
  frames.py txring IFACE DST PORT PAYLOAD
      through a PACKET_TX_RING: the kernel hands on the frame with only its Ethernet header
      in the skb's linear data, the IPv4 header in a page fragment of the ring
  frames.py listen PORT SECONDS
      prints every UDP datagram that arrives on PORT within SECONDS, one per line
"""
import argparse
import fcntl
import mmap
import socket
import struct
import sys
import time

from inet import checksum

SIOCGIFHWADDR = 0x8927
SIOCGIFADDR = 0x8915
SOL_PACKET = 263
PACKET_TX_RING = 13
PACKET_VERSION = 10
TPACKET_V2 = 1
TP_STATUS_SEND_REQUEST = 1
TP_STATUS_AVAILABLE = 0


def interface(name):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    request = struct.pack("256s", name.encode()[:15])
    mac = fcntl.ioctl(s.fileno(), SIOCGIFHWADDR, request)[18:24]
    address = fcntl.ioctl(s.fileno(), SIOCGIFADDR, request)[20:24]
    return mac, address


def frame(iface, dst, port, payload, tag=None, ethertype=0x0800, cut=None):
    mac, src = interface(iface)
    daddr = socket.inet_aton(dst)
    udp = struct.pack("!HHHH", 40000, port, 8 + len(payload), 0) + payload
    pseudo = src + daddr + struct.pack("!BBH", 0, socket.IPPROTO_UDP, len(udp))
    udp = udp[:6] + struct.pack("!H", checksum(pseudo + udp) or 0xFFFF) + udp[8:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0x4000, 64, socket.IPPROTO_UDP, 0, src, daddr)
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    ethernet = b"\xff" * 6 + mac
    if tag:
        tpid, vid = tag
        ethernet += struct.pack("!HH", tpid, vid)
    return ethernet + struct.pack("!H", ethertype) + (ip + udp)[:cut]


def send(args):
    tag = None
    if args.tag:
        tpid, vid = args.tag.split(":")
        tag = (int(tpid, 0), int(vid))
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((args.iface, 0))
    s.send(frame(args.iface, args.dst, args.port, args.payload.encode(), tag, int(args.ethertype, 0), args.cut))


def txring(args):
    data = frame(args.iface, args.dst, args.port, args.payload.encode())
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.setsockopt(SOL_PACKET, PACKET_VERSION, TPACKET_V2)
    block, count = 4096, 4
    s.setsockopt(SOL_PACKET, PACKET_TX_RING, struct.pack("IIII", block, count, block, count))
    s.bind((args.iface, 0))
    ring = mmap.mmap(s.fileno(), block * count, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
    # struct tpacket2_hdr: status, len, snaplen, mac, net, sec, nsec, vlan_tci, vlan_tpid, padding
    header_len = 32
    ring[header_len:header_len + len(data)] = data
    ring[0:16] = struct.pack("IIIHH", TP_STATUS_SEND_REQUEST, len(data), len(data), header_len, 0)
    s.send(b"")
    for _ in range(100):
        if struct.unpack("I", ring[0:4])[0] == TP_STATUS_AVAILABLE:
            break
        time.sleep(0.01)
    status = struct.unpack("I", ring[0:4])[0]
    if status != TP_STATUS_AVAILABLE:
        sys.exit("the ring's frame was not sent (status %d)" % status)


def listen(args):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", args.port))
    print("ready", flush=True)
    end = time.monotonic() + args.seconds
    while (left := end - time.monotonic()) > 0:
        s.settimeout(left)
        try:
            data, peer = s.recvfrom(65536)
        except socket.timeout:
            break
        print("%s %s" % (peer[0], data.decode(errors="replace")), flush=True)


parser = argparse.ArgumentParser()
commands = parser.add_subparsers(dest="command", required=True)
for name, run in (("send", send), ("txring", txring)):
    command = commands.add_parser(name)
    command.add_argument("iface")
    command.add_argument("dst")
    command.add_argument("port", type=int)
    command.add_argument("payload")
    if name == "send":
        command.add_argument("--tag")
        command.add_argument("--ethertype", default="0x0800")
        command.add_argument("--cut", type=int)
    command.set_defaults(run=run)
command = commands.add_parser("listen")
command.add_argument("port", type=int)
command.add_argument("seconds", type=float)
command.set_defaults(run=listen)
arguments = parser.parse_args()
arguments.run(arguments)
