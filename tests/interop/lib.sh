# SPDX-License-Identifier: BSD-3-Clause
# Sourced by the interop scripts: a rdma_rxe guest (shared/rxe-peer) on tap
# rxepeer0 and ndkd on that tap with an address of its own (10.77.0.5), the
# guest at 10.77.0.2 and the host kernel at 10.77.0.1. Needs root and
# shared/rxe-peer beside the source tree (exit 77 otherwise).
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
fail() { echo "FAIL: $*"; tail -20 "$work/ndkd.log" 2>/dev/null; exit 1; }

# Boot the guest (with rxe-peer's start options in $@) and start ndkd on its
# tap; NDK_SOCKET names ndkd's socket.
interop_up() {
    interop_guest_up "$@"
    interop_ndkd_up
}

# The guest alone (start's arguments).
interop_guest_up() {
    "$rxe/setup" >"$work/setup.log" 2>&1 || { tail "$work/setup.log"; fail "rxe-peer setup"; }
    "$rxe/stop" --name 0 >/dev/null 2>&1
    "$rxe/start" --name 0 "$@" >"$work/start.log" 2>&1 || { cat "$work/start.log"; fail "guest start"; }
}

# ndkd on the host's end of the tap. Its engine polls the port and takes a
# host CPU from then on: an emulated guest with two vCPUs then has one.
interop_ndkd_up() {
    "$ndkd" --socket "$work/ndkd.sock" --file-prefix "$prefix" --no-huge --mem 256 \
        --port net_af_packet0,iface=rxepeer0 --addr 10.77.0.5/24 >"$work/ndkd.log" 2>&1 &
    pid=$!
    for _ in $(seq 100); do [ -S "$work/ndkd.sock" ] && break; sleep 0.1; done
    [ -S "$work/ndkd.sock" ] || fail "ndkd did not start"
    export NDK_SOCKET=$work/ndkd.sock
}

# A ping-pong's verdict: exits $1 (server) and $2 (client), $3 iterations,
# $4 what it was; the logs in $work/srv.log and $work/cli.log.
pingpong_check() {
    cat "$work/srv.log" "$work/cli.log"
    [ "$1" -eq 0 ] && [ "$2" -eq 0 ] || fail "ping-pong $4"
    grep -q "invalid data" "$work/srv.log" "$work/cli.log" && fail "data did not validate"
    grep -q "^$3 iters in" "$work/srv.log" || fail "server did not finish"
    grep -q "^$3 iters in" "$work/cli.log" || fail "client did not finish"
}

# ndkd's port counters: sets rx_roce, rx_bad_icrc, ... and prints them.
port_counters() {
    local tel
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
                "nak_tx", "nak_rx", "rnr_nak_tx", "rnr_nak_rx", "mad_rx", "mad_tx")))
PY
) || fail "telemetry"
    echo "ndkd's port: $tel"
    eval "$tel"
}

# rxe's frames all decoded, then ndkd stopped cleanly.
interop_down() {
    local st
    port_counters
    [ "$rx_roce" -ge 1 ] || fail "no RoCEv2 frame from rxe"
    [ "$rx_bad_icrc" -eq 0 ] && [ "$rx_bad_header" -eq 0 ] || fail "rxe's frames refused by ndkd's decoder"
    kill -TERM "$pid"; wait "$pid"; st=$?; pid=
    [ "$st" -eq 0 ] || fail "ndkd exited $st on SIGTERM"
}
