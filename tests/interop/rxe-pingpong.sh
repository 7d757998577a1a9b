#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Linux's own RoCEv2 (rdma_rxe in a QEMU guest, shared/rxe-peer) against
# ndkd's RC transport on the guest's tap: rdma-core's ibv_rc_pingpong in
# the guest and tools/ndk-pingpong over ndkd on the host, each side as
# server once, data validated (-c), sizes that take one packet and several.
# ndkd's port counters must show no bad ICRC or header, and ndkd must stop
# cleanly. Needs root and shared/rxe-peer beside the source tree (exit 77).
set -uo pipefail
root=${NDKD_SOURCE_ROOT:?}
rxe=$root/../shared/rxe-peer
ndkd=${NDKD_BIN:-$root/build/daemon/ndkd}
pingpong=${NDK_PINGPONG_BIN:-$root/build/tools/ndk-pingpong}
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
fail() { echo "FAIL: $*"; tail -20 "$work/ndkd.log" 2>/dev/null; exit 1; }

"$rxe/setup" >"$work/setup.log" 2>&1 || { tail "$work/setup.log"; fail "rxe-peer setup"; }
"$rxe/stop" --name 0 >/dev/null 2>&1
"$rxe/start" --name 0 >"$work/start.log" 2>&1 || { cat "$work/start.log"; fail "guest start"; }

"$ndkd" --socket "$work/ndkd.sock" --file-prefix "$prefix" --no-huge --mem 256 \
    --port net_af_packet0,iface=rxepeer0 --addr 10.77.0.5/24 >"$work/ndkd.log" 2>&1 &
pid=$!
for _ in $(seq 100); do [ -S "$work/ndkd.sock" ] && break; sleep 0.1; done
[ -S "$work/ndkd.sock" ] || fail "ndkd did not start"
export NDK_SOCKET=$work/ndkd.sock

# One exchange: $1 = which side serves (guest|ndkd), $2 = size, $3 = iterations.
run() {
    local server=$1 size=$2 iters=$3 st1 st2
    if [ "$server" = guest ]; then
        "$rxe/exec" --name 0 --timeout 120 -- ibv_rc_pingpong -d rxe0 -g 1 -c -s "$size" \
            -n "$iters" >"$work/srv.log" 2>&1 &
        local srv=$!
        sleep 2
        timeout 120 "$pingpong" -c -s "$size" -n "$iters" 10.77.0.2 >"$work/cli.log" 2>&1
        st2=$?
        wait $srv; st1=$?
    else
        timeout 120 "$pingpong" -c -s "$size" -n "$iters" >"$work/srv.log" 2>&1 &
        local srv=$!
        sleep 0.5
        "$rxe/exec" --name 0 --timeout 120 -- ibv_rc_pingpong -d rxe0 -g 1 -c -s "$size" \
            -n "$iters" 10.77.0.1 >"$work/cli.log" 2>&1
        st2=$?
        wait $srv; st1=$?
    fi
    echo "--- $server serves, $size bytes x $iters: server exit $st1, client exit $st2"
    cat "$work/srv.log" "$work/cli.log"
    [ "$st1" -eq 0 ] && [ "$st2" -eq 0 ] || fail "ping-pong with the $server serving"
    grep -q "invalid data" "$work/srv.log" "$work/cli.log" && fail "data did not validate"
    grep -q "^$iters iters in" "$work/srv.log" || fail "server did not finish"
    grep -q "^$iters iters in" "$work/cli.log" || fail "client did not finish"
}

run guest 64 50
run ndkd 64 50
run guest 4096 50  # four packets per message at MTU 1024
run ndkd 10000 20  # ten packets, a short last one

tel=$(python3 - "$prefix" <<'PY'
import glob, json, socket, sys
path = glob.glob(f"/run/dpdk/{sys.argv[1]}/dpdk_telemetry.v2")[0]
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(path)
s.recv(4096)
s.send(b"/ndkd/ports")
p = json.loads(s.recv(65536))["/ndkd/ports"]
print(" ".join(f"{k}={p[k][0]}" for k in
               ("rx_arp", "tx_arp", "rx_roce", "rx_bad_icrc", "rx_bad_header", "retransmits",
                "nak_tx", "nak_rx", "rnr_nak_tx", "rnr_nak_rx")))
PY
) || fail "telemetry"
echo "ndkd's port: $tel"
eval "$tel"
[ "$rx_roce" -ge 1 ] || fail "no RoCEv2 frame from rxe"
[ "$rx_bad_icrc" -eq 0 ] && [ "$rx_bad_header" -eq 0 ] || fail "rxe's frames refused by ndkd's decoder"
kill -TERM "$pid"; wait "$pid"; st=$?; pid=
[ "$st" -eq 0 ] || fail "ndkd exited $st on SIGTERM"
echo "ok: ibv_rc_pingpong (rdma_rxe) and ndk-pingpong (ndkd) in both roles; $rx_roce frames from rxe, none refused"
