#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""The TCP half of an ibv_rc_pingpong server (rdma-core's exchange: one
"LID:QPN:PSN:GID" message each way, then "done"), naming a QP at GID
::ffff:A.B.C.D that nobody has. The client's RC SENDs then go to that
address: ndkd's port, whose decoder is what the test looks at.

usage: fake-pingpong.py LISTEN_IP PORT TARGET_IPV4"""
import socket
import sys

listen_ip, port, target = sys.argv[1], int(sys.argv[2]), sys.argv[3]
gid = "0000000000000000" "0000ffff" + socket.inet_aton(target).hex()
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((listen_ip, port))
s.listen(1)
s.settimeout(60)
c, _ = s.accept()
print("client:", c.recv(52).rstrip(b"\0").decode(), flush=True)
c.send(("%04x:%06x:%06x:%s" % (0, 0x123, 0x1000, gid)).encode() + b"\0")
print("client then:", c.recv(8).rstrip(b"\0").decode(), flush=True)
