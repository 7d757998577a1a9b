#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""A TCP transfer through the kernel, for the tests of ports ndkd shares
with it: `server ADDR PORT` takes one connection and prints the bytes it
received and their SHA-256; `client ADDR PORT MIB` sends MIB MiB of
pseudo-random bytes and prints the same of what it sent."""
import hashlib
import socket
import sys


def main():
    mode, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    h, n = hashlib.sha256(), 0
    if mode == "server":
        with socket.create_server((addr, port)) as srv:
            srv.settimeout(60)
            conn, _ = srv.accept()
            conn.settimeout(60)
            with conn:
                while True:
                    b = conn.recv(1 << 16)
                    if not b:
                        break
                    h.update(b)
                    n += len(b)
    else:
        block = hashlib.sha256(b"ndkd").digest() * 2048  # 64 KiB
        with socket.create_connection((addr, port), timeout=60) as c:
            for _ in range(int(sys.argv[4]) * 16):
                c.sendall(block)
                h.update(block)
                n += len(block)
    print(n, h.hexdigest())


if __name__ == "__main__":
    main()
