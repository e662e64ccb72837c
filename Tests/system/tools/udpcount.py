#!/usr/bin/env python3
"""Test client: sends COUNT UDP datagrams of SIZE bytes from one socket to HOST:PORT,
one at a time, waiting for each answer. Prints the number of answers and their bytes.
Usage: udpcount.py HOST PORT COUNT SIZE"""
import socket
import sys

host, port, count, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
answers = answer_bytes = 0
with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
    s.settimeout(2)
    for _ in range(count):
        s.sendto(b"x" * size, (host, port))
        data, _ = s.recvfrom(65536)
        answers += 1
        answer_bytes += len(data)
print(answers, answer_bytes)
