"""What the packet-crafting test tools share: the Internet checksum (RFC 1071), IPv4 and
UDP headers."""
import socket
import struct


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ip_header(src, dst, payload_len, ttl=64, options=b"", ident=1, frag_field=0x4000, proto=socket.IPPROTO_UDP):
    opts = options + b"\0" * (-len(options) % 4)
    ihl = 5 + len(opts) // 4
    header = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, ihl * 4 + payload_len, ident, frag_field, ttl,
                         proto, 0, socket.inet_aton(src), socket.inet_aton(dst)) + opts
    return header[:10] + struct.pack("!H", checksum(header)) + header[12:]


def udp_segment(src, dst, sport, dport, payload):
    length = 8 + len(payload)
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, socket.IPPROTO_UDP, length)
    segment = struct.pack("!HHHH", sport, dport, length, 0) + payload
    return segment[:6] + struct.pack("!H", checksum(pseudo + segment) or 0xFFFF) + segment[8:]
