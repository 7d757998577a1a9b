#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Linux's own RoCEv2 (rdma_rxe in a QEMU guest, shared/rxe-peer) against
# ndkd's port on the guest's tap: the kernel must find ndkd's MAC by ARP,
# and every RC frame its ibv_rc_pingpong sends to ndkd's address must
# decode (no bad ICRC, no bad header). ndkd has no RC transport yet, so the
# client times out; the frames are what is checked. Needs root and
# shared/rxe-peer beside the source tree (exit 77 otherwise).
set -uo pipefail
root=${NDKD_SOURCE_ROOT:?}
rxe=$root/../shared/rxe-peer
ndkd=${NDKD_BIN:-$root/build/daemon/ndkd}
[ "$(id -u)" -eq 0 ] && [ -x "$rxe/start" ] || { echo "skipped: needs root and shared/rxe-peer"; exit 77; }

work=$(mktemp -d /tmp/ndkt-interop.XXXXXX)
prefix=ndkt-interop-$$
pid=
cleanup() {
    [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid"
    "$rxe/stop" --name 0 >/dev/null 2>&1
    rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; cat "$work/ndkd.log" 2>/dev/null | tail -20; exit 1; }

"$rxe/setup" >"$work/setup.log" 2>&1 || { tail "$work/setup.log"; fail "rxe-peer setup"; }
"$rxe/stop" --name 0 >/dev/null 2>&1
"$rxe/start" --name 0 >"$work/start.log" 2>&1 || { cat "$work/start.log"; fail "guest start"; }

"$ndkd" --socket "$work/ndkd.sock" --file-prefix "$prefix" --no-huge --mem 256 \
    --port net_af_packet0,iface=rxepeer0 --addr 10.77.0.5/24 >"$work/ndkd.log" 2>&1 &
pid=$!
for _ in $(seq 100); do [ -S "$work/ndkd.sock" ] && break; sleep 0.1; done
[ -S "$work/ndkd.sock" ] || fail "ndkd did not start"

python3 "$root/tests/interop/fake-pingpong.py" 10.77.0.1 18515 10.77.0.5 >"$work/pp.log" 2>&1 &
pp=$!
sleep 0.5
"$rxe/exec" --name 0 --timeout 15 -- ibv_rc_pingpong -d rxe0 -g 1 -s 64 -n 3 10.77.0.1 \
    >"$work/client.log" 2>&1
wait $pp
cat "$work/pp.log"

tel=$(python3 - "$prefix" <<'PY'
import glob, json, socket, sys
path = glob.glob(f"/run/dpdk/{sys.argv[1]}/dpdk_telemetry.v2")[0]
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(path)
s.recv(4096)
s.send(b"/ndkd/ports")
p = json.loads(s.recv(65536))["/ndkd/ports"]
print(" ".join(f"{k}={p[k][0]}" for k in
               ("rx_arp", "tx_arp", "rx_roce", "rx_bad_icrc", "rx_bad_header", "rx_other")))
PY
) || fail "telemetry"
echo "ndkd's port: $tel"
eval "$tel"
[ "$rx_arp" -ge 1 ] && [ "$tx_arp" -ge 1 ] || fail "the guest's ARP for ndkd went unanswered"
[ "$rx_roce" -ge 1 ] || fail "no RoCEv2 frame from rxe decoded"
[ "$rx_bad_icrc" -eq 0 ] && [ "$rx_bad_header" -eq 0 ] || fail "rxe's frames refused by ndkd's decoder"
kill -TERM "$pid"; wait "$pid"; st=$?; pid=
[ "$st" -eq 0 ] || fail "ndkd exited $st on SIGTERM"
echo "ok: $rx_roce frames from rdma_rxe decoded, none refused"
