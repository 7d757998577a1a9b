#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""The kernel side of tests/test_ports.c, run inside its network namespace:
make the kernel ARP for ndkd's address (a UDP datagram to port 9), then send
RoCEv2 frames on the raw interface: one good, one with a bad ICRC, one
with a bad IPv4 checksum. The frames come from tests/fuzz/make-seeds, a
second encoder, not ndkd's.

usage: ports-peer.py IFACE DST_IP DST_MAC"""
import importlib.machinery
import os
import socket
import sys
import time

here = os.path.dirname(os.path.abspath(__file__))
seeds = importlib.machinery.SourceFileLoader(
    "make_seeds", os.path.join(here, "fuzz", "make-seeds")).load_module()

iface, dst_ip, dst_mac = sys.argv[1], sys.argv[2], bytes.fromhex(sys.argv[3].replace(":", ""))
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.sendto(b"arp for it", (dst_ip, 9))  # not 4791: not a RoCEv2 frame to count
time.sleep(0.3)

raw = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
raw.bind((iface, 0))
# to ndkd's address: a port takes RoCEv2 frames for its own address only
good = bytearray(seeds.roce(0x0A, bytes(16), bytes(range(64)), dst=socket.inet_aton(dst_ip)))
good[0:6] = dst_mac
bad_icrc = bytearray(good)
bad_icrc[-1] ^= 0xFF
bad_ip = bytearray(good)
bad_ip[14 + 10] ^= 0x01
for f in (good, bad_icrc, bad_ip):
    raw.send(bytes(f))
time.sleep(0.3)
print("sent 3 frames")
