#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Linux's own RoCEv2 (rdma_rxe in a QEMU guest, shared/rxe-peer) against
# ndkd's RC transport on the guest's tap: rdma-core's ibv_rc_pingpong in
# the guest and tools/ndk-pingpong over ndkd on the host, each side as
# server once, data validated (-c), sizes that take one packet and several.
# ndkd's port counters must show no bad ICRC or header, and ndkd must stop
# cleanly. Needs root and shared/rxe-peer beside the source tree (exit 77).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
pingpong=${NDK_PINGPONG_BIN:-$root/build/tools/ndk-pingpong}
interop_up

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
    pingpong_check "$st1" "$st2" "$iters" "with the $server serving"
}

run guest 64 50
run ndkd 64 50
run guest 4096 50  # four packets per message at MTU 1024
run ndkd 10000 20  # ten packets, a short last one

interop_down
echo "ok: ibv_rc_pingpong (rdma_rxe) and ndk-pingpong (ndkd) in both roles; $rx_roce frames from rxe, none refused"
