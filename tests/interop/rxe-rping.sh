#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Linux's connection manager and librdmacm's rping (rdma_rxe in a QEMU
# guest, shared/rxe-peer) against ndkd's CM and ndk-rping, both ways:
#  1. rping -c to ndkd's address with nobody listening: ndkd refuses the REQ
#     at once, as a CM with no listener does (REJ, invalid service ID).
#  2. rping -c (guest) against ndk-rping -s (host): 5 pings; ndk-rping's
#     READs bring rping's ping data, byte for byte, and rping (-V) checks
#     what ndk-rping WRITEs back; its disconnect ends ndk-rping cleanly.
#  3. rping -s (guest) against ndk-rping -c (host): 5 pings, ndk-rping -V
#     checks what rping read and wrote back; ndk-rping's disconnect ends it.
# Needs root and shared/rxe-peer beside the source tree (exit 77).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
rping_bin=${NDK_RPING_BIN:-$root/build/tools/ndk-rping}
interop_up

start=$(date +%s%N)
# rping aborts in the guest on its way out (pthread_exit wants libgcc_s,
# which the guest image lacks): its messages, not its exit status, say how
# the connection went.
"$rxe/exec" --name 0 --timeout 60 -- rping -c -a 10.77.0.5 -p 7174 -C 1 -v >"$work/rping.log" 2>&1
ms=$((($(date +%s%N) - start) / 1000000))
cat "$work/rping.log"
echo "rping ended after $ms ms"
grep -q "RDMA_CM_EVENT_REJECTED" "$work/rping.log" || fail "rping was not rejected"
# reason 8 is ndkd's REJ: an unanswered REQ ends UNREACHABLE, after retries
grep -q "error 8" "$work/rping.log" || fail "not for an invalid service ID (reason 8)"

# rping's ping data: "rdma-ping-N: ", then letters from 'A' + N on (65..122), NUL last
expected() {
    python3 - "$1" "$2" <<'PY'
import sys
n, size = int(sys.argv[1]), int(sys.argv[2])
s = "rdma-ping-%d: " % n
c = 65 + n % 58
while len(s) < size - 1:
    s += chr(c)
    c = 65 if c == 122 else c + 1
print(s)
PY
}

# 2: Linux's rping client, ndk-rping the server
timeout 120 "$rping_bin" -s -p 7174 -S 100 -v >"$work/srv.log" 2>&1 &
srv=$!
sleep 0.5
"$rxe/exec" --name 0 --timeout 90 -- rping -c -a 10.77.0.5 -p 7174 -C 5 -S 100 -v -V \
    >"$work/rping2.log" 2>&1
wait $srv
st=$?
cat "$work/srv.log" "$work/rping2.log"
[ "$st" -eq 0 ] || fail "ndk-rping -s exited $st"
for n in 0 1 2 3 4; do
    grep -qxF "server ping data: $(expected $n 100)" "$work/srv.log" ||
        fail "ping $n: ndk-rping did not read rping's data"
done
grep -q "data mismatch" "$work/rping2.log" && fail "rping found ndk-rping's write-back wrong"

# 3: Linux's rping server, ndk-rping the client
"$rxe/exec" --name 0 --timeout 90 -- rping -s -a 10.77.0.2 -p 7175 -S 100 -v \
    >"$work/rping3.log" 2>&1 &
guest=$!
ok=
for _ in $(seq 30); do
    sleep 1
    # until rping listens, its REQ is refused (REJ 8): try again
    if timeout 60 "$rping_bin" -c -a 10.77.0.2 -p 7175 -C 5 -S 100 -v -V >"$work/cli.log" 2>&1; then
        ok=1
        break
    fi
    grep -q "CONNECTION_REFUSED" "$work/cli.log" || break
done
wait $guest
cat "$work/cli.log" "$work/rping3.log"
[ -n "$ok" ] || fail "ndk-rping -c against rping -s failed"
for n in 0 1 2 3 4; do
    grep -qxF "ping data: $(expected $n 100)" "$work/cli.log" ||
        fail "ping $n: rping's write-back is not what ndk-rping sent"
done

interop_down
[ "$mad_rx" -ge 6 ] && [ "$mad_tx" -ge 6 ] || fail "MADs: $mad_rx in, $mad_tx out"
echo "ok: rping (rdma_cm, rdma_rxe) refused by ndkd's CM in $ms ms; rping -c against ndk-rping -s and ndk-rping -c -V against rping -s, 5 pings each, data checked both ways; $mad_rx MADs in, $mad_tx out"
