#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# perftest (ib_write_bw, ib_read_bw, ib_write_lat, ib_read_lat, ib_send_lat;
# RC, the TCP exchange, default options but the iteration count; then three
# of them with -R, connected through the CM) on Linux's
# rdma_rxe in a QEMU guest (shared/rxe-peer) against tools/ndk-perf over
# ndkd on the host, each side as server once. Both sides must finish with
# their result line; ndkd's port must refuse no rxe frame and stop cleanly.
# Needs root and shared/rxe-peer beside the source tree (exit 77).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
perf=${NDK_PERF_BIN:-$root/build/tools/ndk-perf}
interop_up

# $1 = test, $2 = which side serves (guest|ndkd), $3 = size, $4 = iterations,
# $5 = -R to connect through the CM (rdma_cm), or nothing. perftest in the
# guest runs with -F: its clock check fails now and then under TCG
# ("Correlation coefficient r^2 < 0.9"), and its figures are functional only.
run() {
    local t=$1 server=$2 size=$3 iters=$4 cm=${5:-} st1 st2 srv to=10.77.0.1
    # with -R there is no TCP: perftest's client connects to ndkd's address
    [ -n "$cm" ] && to=10.77.0.5
    if [ "$server" = guest ]; then
        "$rxe/exec" --name 0 --timeout 180 -- "ib_$t" $cm -F -d rxe0 -x 1 -s "$size" -n "$iters" \
            >"$work/srv.log" 2>&1 &
        srv=$!
        sleep 3
        timeout 180 "$perf" "$t" $cm -s "$size" -n "$iters" 10.77.0.2 >"$work/cli.log" 2>&1
        st2=$?
    else
        timeout 180 "$perf" "$t" $cm -s "$size" -n "$iters" >"$work/srv.log" 2>&1 &
        srv=$!
        sleep 0.5
        "$rxe/exec" --name 0 --timeout 180 -- "ib_$t" $cm -F -d rxe0 -x 1 -s "$size" -n "$iters" \
            "$to" >"$work/cli.log" 2>&1
        st2=$?
    fi
    wait $srv; st1=$?
    echo "--- ib_$t $cm, $server serves, $size bytes x $iters: server exit $st1, client exit $st2"
    cat "$work/srv.log" "$work/cli.log"
    [ "$st1" -eq 0 ] && [ "$st2" -eq 0 ] || fail "ib_$t with the $server serving"
    # a result line on each side that prints one (the BW server prints the client's)
    grep -Eq "^ $size +$iters " "$work/cli.log" || fail "ib_$t: no result line at the client"
    case $t in
    *_bw | write_lat | send_lat)
        grep -Eq "^ $size +$iters " "$work/srv.log" || fail "ib_$t: no result line at the server" ;;
    esac
}

for side in guest ndkd; do
    run write_bw "$side" 65536 200
    run read_bw "$side" 65536 200
    run write_lat "$side" 2 200
    run read_lat "$side" 2 200
    run send_lat "$side" 2 200
done
run send_lat guest 4096 50 # messages of four packets
run write_lat ndkd 5000 50 # five packets, a short last one
# perftest's -R: the exchange and the test's QP through the CM, each side as server
for side in guest ndkd; do
    run write_bw "$side" 65536 200 -R
    run read_bw "$side" 65536 200 -R
    run send_lat "$side" 2 200 -R
done

interop_down
echo "ok: perftest (rdma_rxe) and ndk-perf (ndkd), five tests in both roles, three with -R (rdma_cm); $rx_roce frames from rxe, none refused; $mad_rx MADs in, $mad_tx out"
