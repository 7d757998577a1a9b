#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""A hostile peer of tests/test_roce.c's test_cm_flood, run in node b's
network namespace: from the raw interface, MADs to QP1 of ndkd's address,
built by tests/fuzz/make-seeds (a second encoder, not ndkd's): N REQs,
each a new connection (a new communication ID) for a port nobody listens
on, then REP, RTU, REJ, MRA, DREQ and DREP naming IDs that do not exist,
and garbage: random bytes, short MADs, other classes and attributes, a
wrong Q_Key. Prints how many frames it sent.

usage: cm-flood.py IFACE SRC_IP DST_IP DST_MAC N"""
import importlib.machinery
import os
import random
import socket
import struct
import sys
import time

here = os.path.dirname(os.path.abspath(__file__))
seeds = importlib.machinery.SourceFileLoader(
    "make_seeds", os.path.join(here, "fuzz", "make-seeds")).load_module()

iface, src_ip, dst_ip = sys.argv[1], socket.inet_aton(sys.argv[2]), socket.inet_aton(sys.argv[3])
dst_mac, n = bytes.fromhex(sys.argv[4].replace(":", "")), int(sys.argv[5])
raw = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
raw.bind((iface, 0))
src_mac = raw.getsockname()[4][:6]
rng = random.Random(15)
SCALE = max(1, int(os.environ.get("NDK_TEST_TIME_SCALE", "1") or 1))  # slow (sanitized) runs
sent = 0


def send(payload, qkey=0x80010000):
    global sent
    deth = struct.pack("!II", qkey, 1)
    f = bytearray(seeds.roce(0x64, deth, payload, psn=rng.randrange(1 << 24), qpn=1, src=src_ip,
                             dst=dst_ip))
    f[0:6] = dst_mac
    f[6:12] = src_mac
    raw.send(bytes(f))
    sent += 1
    if sent % 64 == 0:  # a flood ndkd's receive ring holds: counted, not lost on the way
        time.sleep(0.002 * SCALE)


gid = lambda ip: bytes(10) + b"\xff\xff" + ip
path = (struct.pack("!HH", 0xFFFF, 0xFFFF) + gid(src_ip) + gid(dst_ip)
        + struct.pack("!IBBBB", 0, 0, 64, 0, 18 << 3))


def req(comm_id, port):
    sid = 0x0000000001060000 | port
    return (struct.pack("!I4xQQ4xI", comm_id, sid, 0x525400FFFE770002, 0)
            + struct.pack("!I", 0x000011 << 8 | 16) + struct.pack("!I", 16)
            + struct.pack("!I", 0 << 8 | (20 << 3)) + struct.pack("!I", 0xABCDEF << 8 | (20 << 3 | 7))
            + struct.pack("!HBB", 0xFFFF, 3 << 4 | 7, 15 << 4) + path + bytes(44)
            + seeds.cma_hdr(src_ip, dst_ip, 40000))


for i in range(n):
    send(seeds.mad(0x10, req(0x10000 + i, 7009), tid=i))
for i in range(n // 8):
    other = rng.getrandbits(32)
    send(seeds.mad(0x13, struct.pack("!IIIIIIBBBBQ", 0x9000 + i, other, 0, 0x22 << 8, 0,
                                     0x123456 << 8, 16, 16, 0, 7 << 5, 1)))
    send(seeds.mad(0x14, struct.pack("!II", 0x9000 + i, other)))
    send(seeds.mad(0x12, struct.pack("!IIBBH", 0x9000 + i, other, 0, 0, 28)))
    send(seeds.mad(0x11, struct.pack("!IIBB", 0x9000 + i, other, 0, 31 << 3)))
    send(seeds.mad(0x15, struct.pack("!III", 0x9000 + i, other, 0x22 << 8)))
    send(seeds.mad(0x16, struct.pack("!II", 0x9000 + i, other)))
    send(bytes(rng.getrandbits(8) for _ in range(256)))
    send(bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 255))))
    send(seeds.mad(rng.choice([0x17, 0x18, 0x19, 0x1A, 0x10]), bytes(rng.getrandbits(8)
                                                                      for _ in range(232))))
    send(seeds.mad(0x10, req(0x20000 + i, 7009)), qkey=0x1234)
print(sent)
