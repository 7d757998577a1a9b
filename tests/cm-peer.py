#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""A requester of tests/test_roce.c's test_cm_states, run in node b's
network namespace with raw frames on its interface (MADs built by
tests/fuzz/make-seeds, a second encoder, not ndkd's): a REQ to PORT at
ndkd's address, the same REQ again 300 ms later (a resend), waits for the
REP (the app accepts meanwhile) and for it to come again (no RTU yet),
sends the RTU, then a DREQ, then the first REQ once more (stale: that
connection has ended). Prints what ndkd sent back, in order: MRA, REP,
REJ <reason>, DREP ...

usage: cm-peer.py IFACE SRC_IP DST_IP DST_MAC PORT"""
import importlib.machinery
import os
import select
import socket
import struct
import sys
import time

here = os.path.dirname(os.path.abspath(__file__))
seeds = importlib.machinery.SourceFileLoader(
    "make_seeds", os.path.join(here, "fuzz", "make-seeds")).load_module()

iface, src_ip, dst_ip = sys.argv[1], socket.inet_aton(sys.argv[2]), socket.inet_aton(sys.argv[3])
dst_mac, port = bytes.fromhex(sys.argv[4].replace(":", "")), int(sys.argv[5])
raw = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
raw.bind((iface, 0))
src_mac = raw.getsockname()[4][:6]
NAMES = {0x10: "REQ", 0x11: "MRA", 0x12: "REJ", 0x13: "REP", 0x14: "RTU", 0x15: "DREQ",
         0x16: "DREP"}
seen = []
rep_comm = 0


def send(payload):
    f = bytearray(seeds.roce(0x64, struct.pack("!II", 0x80010000, 1), payload, qpn=1,
                             src=src_ip, dst=dst_ip))
    f[0:6] = dst_mac
    f[6:12] = src_mac
    raw.send(bytes(f))


def listen(seconds, until=None):
    """Collect ndkd's MADs to us for a while (or until one of attr 'until' came)."""
    global rep_comm
    end = time.time() + seconds
    while time.time() < end:
        if not select.select([raw], [], [], max(0.0, end - time.time()))[0]:
            break
        data, addr = raw.recvfrom(2048)
        if addr[2] == socket.PACKET_OUTGOING or data[30:34] != src_ip or len(data) < 14 + 20 + 8 + 20 + 256:
            continue
        if data[23] != 17 or struct.unpack("!H", data[36:38])[0] != 4791 or data[42] != 0x64:
            continue
        mad = data[14 + 20 + 8 + 12 + 8:][:256]
        attr = struct.unpack("!H", mad[16:18])[0]
        what = NAMES.get(attr, hex(attr))
        if attr == 0x12:
            what += " %d" % struct.unpack("!H", mad[24 + 10:24 + 12])[0]
        if attr == 0x13:
            rep_comm = struct.unpack("!I", mad[24:28])[0]
        seen.append(what)
        if until is not None and attr == until:
            return


gid = lambda ip: bytes(10) + b"\xff\xff" + ip
path = (struct.pack("!HH", 0xFFFF, 0xFFFF) + gid(src_ip) + gid(dst_ip)
        + struct.pack("!IBBBB", 0, 0, 64, 0, 18 << 3))
COMM = 0x5151
req = (struct.pack("!I4xQQ4xI", COMM, 0x0000000001060000 | port, 0x525400FFFE770009, 0)
       + struct.pack("!I", 0x000033 << 8 | 16) + struct.pack("!I", 16)
       + struct.pack("!I", 0 << 8 | (20 << 3)) + struct.pack("!I", 0x0ABCDE << 8 | (20 << 3 | 7))
       + struct.pack("!HBB", 0xFFFF, 3 << 4 | 7, 15 << 4) + path + bytes(44)
       + seeds.cma_hdr(src_ip, dst_ip, 40001) + b"from cm-peer")
send(seeds.mad(0x10, req, tid=1))
listen(0.3)
send(seeds.mad(0x10, req, tid=1))          # a resend: the app has not answered
listen(10, until=0x13)                     # the app accepts: REP
listen(2, until=0x13)                      # no RTU: the REP again
send(seeds.mad(0x14, struct.pack("!II", COMM, rep_comm)))
listen(0.3)
send(seeds.mad(0x15, struct.pack("!III", COMM, rep_comm, 0x0ABCDE << 8)))
listen(2, until=0x16)
send(seeds.mad(0x10, req, tid=2))          # the ended connection's REQ: stale
listen(2, until=0x12)
print(" ".join(seen))
