#!/usr/bin/env python3
"""Traffic for the flow-table tests (no dependencies).

  flowtool.py serve-udp PORT
      answers every datagram with "<source ip>:<source port> <data>": what the
      peer's address looked like after translation (prints "ready" once bound)
  flowtool.py count-udp PORT IDLE
      counts datagrams until IDLE seconds pass without one (after the first); prints
      "<datagrams> <distinct payloads> <distinct source ports>" (prints "ready" once bound)
  flowtool.py send-udp HOST PORT COUNT
      sends COUNT datagrams to HOST:PORT, each from a new socket (a new flow), payload
      its number; paced so that the receiver's buffer never overflows
  flowtool.py ask-udp SPORT HOST PORT MESSAGE
      sends MESSAGE from source port SPORT and prints the answer (exit 1 after 3 s)
  flowtool.py ask-pair SPORT HOST PORT1 PORT2
      from one socket on SPORT, sends "a" to PORT1 and "b" to PORT2; prints each answer
      as "<answering port> <answer>", sorted
  flowtool.py tcp-close SPORT HOST PORT fin|rst
      one TCP exchange from source port SPORT, closed by FIN (close) or RST (linger 0)
  flowtool.py tcp-echo SPORT HOST PORT BYTES
      one TCP connection from source port SPORT to an echoing server: sends BYTES, closes
      its side, reads until the server closes; prints the bytes that came back
  flowtool.py syn-flood DST PORT COUNT
      COUNT TCP SYNs to DST:PORT from random sources in 198.18.128.0/17 (raw socket)
"""
import random
import socket
import struct
import sys
import time

from inet import checksum


def serve_udp(port):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("0.0.0.0", port))
        print("ready", flush=True)
        while True:
            data, peer = s.recvfrom(65536)
            s.sendto(b"%s:%d %s" % (peer[0].encode(), peer[1], data), peer)


def count_udp(port, idle):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 20)
        s.bind(("0.0.0.0", port))
        print("ready", flush=True)
        datagrams, payloads, ports = 0, set(), set()
        while True:
            try:
                data, peer = s.recvfrom(65536)
            except socket.timeout:
                break
            datagrams += 1
            payloads.add(data)
            ports.add(peer[1])
            s.settimeout(idle)
        print(datagrams, len(payloads), len(ports), flush=True)


def send_udp(host, port, count):
    for i in range(count):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(b"%d" % i, (host, port))
        if i % 200 == 199:
            time.sleep(0.01)


def ask_udp(sport, host, port, message):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", sport))
        s.settimeout(3)
        s.sendto(message.encode(), (host, port))
        try:
            answer, _ = s.recvfrom(65536)
        except socket.timeout:
            print("no answer", file=sys.stderr)
            sys.exit(1)
        print(answer.decode())


def ask_pair(sport, host, port1, port2):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("0.0.0.0", sport))
        s.settimeout(3)
        s.sendto(b"a", (host, port1))
        s.sendto(b"b", (host, port2))
        answers = []
        try:
            for _ in range(2):
                answer, peer = s.recvfrom(65536)
                answers.append("%d %s" % (peer[1], answer.decode()))
        except socket.timeout:
            pass
        print("\n".join(sorted(answers)))


def tcp_close(sport, host, port, how):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", sport))
    s.settimeout(3)
    s.connect((host, port))
    s.sendall(b"bye")
    print(s.recv(65536).decode())
    if how == "rst":
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def tcp_echo(sport, host, port, size):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", sport))
        s.settimeout(3)
        s.connect((host, port))
        s.sendall(b"x" * size)
        s.shutdown(socket.SHUT_WR)
        received = 0
        while data := s.recv(65536):
            received += len(data)
        print(received)


def syn_flood(dst, port, count):
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    daddr = socket.inet_aton(dst)
    for i in range(count):
        saddr = struct.pack("!I", (198 << 24) | (18 << 16) | 0x8000 | random.randrange(1, 0x7FFF))
        sport = random.randrange(1024, 65535)
        tcp = struct.pack("!HHIIBBHHH", sport, port, random.getrandbits(32), 0, 5 << 4, 0x02, 64240, 0, 0)
        pseudo = saddr + daddr + struct.pack("!BBH", 0, socket.IPPROTO_TCP, len(tcp))
        tcp = tcp[:16] + struct.pack("!H", checksum(pseudo + tcp)) + tcp[18:]
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), random.randrange(65536), 0x4000, 64,
                         socket.IPPROTO_TCP, 0, saddr, daddr)
        ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
        raw.sendto(ip + tcp, (dst, 0))
        if i % 500 == 499:
            time.sleep(0.005)


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    if command == "serve-udp":
        serve_udp(int(args[0]))
    elif command == "count-udp":
        count_udp(int(args[0]), float(args[1]))
    elif command == "send-udp":
        send_udp(args[0], int(args[1]), int(args[2]))
    elif command == "ask-udp":
        ask_udp(int(args[0]), args[1], int(args[2]), args[3])
    elif command == "ask-pair":
        ask_pair(int(args[0]), args[1], int(args[2]), int(args[3]))
    elif command == "tcp-close":
        tcp_close(int(args[0]), args[1], int(args[2]), args[3])
    elif command == "tcp-echo":
        tcp_echo(int(args[0]), args[1], int(args[2]), int(args[3]))
    elif command == "syn-flood":
        syn_flood(args[0], int(args[1]), int(args[2]))
    else:
        sys.exit(__doc__)
