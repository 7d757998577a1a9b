#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# What two ndkd nodes put on the wire, read by someone else's decoder:
# tcpdump on both ends of a veth pair (af_packet's TX bypasses the sender's
# taps, so each end shows what it received) while ndk-perf runs writes,
# reads and sends of one packet and of several; tshark must decode every
# frame as RoCEv2 with no malformed or error-level frame and see every
# opcode used, and shared/rxe-peer/checkicrc.py (an independent ICRC
# checker), when it is beside the tree, must find every ICRC right.
# Needs root, iproute2, tcpdump and tshark (exit 77 otherwise).
set -uo pipefail
root=${NDKD_SOURCE_ROOT:?}
ndkd=${NDKD_BIN:-$root/build/daemon/ndkd}
perf=${NDK_PERF_BIN:-$root/build/tools/ndk-perf}
checkicrc=$root/../shared/rxe-peer/checkicrc.py
[ "$(id -u)" -eq 0 ] || { echo "skipped: needs root"; exit 77; }
for t in ip tcpdump tshark; do
    command -v $t >/dev/null || { echo "skipped: no $t"; exit 77; }
done

work=$(mktemp -d /tmp/ndkt-capture.XXXXXX)
va=ndkca$$ vb=ndkcb$$ pids=() caps=()
cleanup() {
    for p in "${caps[@]}" "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
    wait 2>/dev/null
    ip link del "$va" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; tail -5 "$work"/*.log 2>/dev/null; exit 1; }

ip link add "$va" type veth peer name "$vb" || { echo "skipped: no veth"; exit 77; }
sysctl -qw "net.ipv6.conf.$va.disable_ipv6=1" "net.ipv6.conf.$vb.disable_ipv6=1"
ip link set "$va" up && ip link set "$vb" up
# ndkd on $2 as node $1 ($3: its index). DPDK's af_packet PMD names its
# PACKET_FANOUT group pid ^ ifindex, so the two ends of one veth may draw the
# same group and the second daemon is refused: another try is another pid.
start_node() {
    local end=$1 iface=$2 i=$3 try
    for try in 1 2 3; do
        "$ndkd" --socket "$work/$end.sock" --file-prefix "ndkt-cap$end-$$" --no-huge --mem 256 \
            --port "net_af_packet$i,iface=$iface" --addr "10.99.7.$((i + 1))/24" \
            >"$work/$end.log" 2>&1 &
        local pid=$!
        for _ in $(seq 100); do
            [ -S "$work/$end.sock" ] && { pids+=($pid); return 0; }
            kill -0 $pid 2>/dev/null || break
            sleep 0.1
        done
        kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null
    done
    fail "ndkd $end did not start"
}
start_node a "$va" 0
start_node b "$vb" 1
for end in a b; do
    iface=$va; [ $end = b ] && iface=$vb
    tcpdump -i "$iface" -U -w "$work/$end.pcap" udp port 4791 2>"$work/tcpdump-$end.log" &
    caps+=($!)
done
sleep 1 # tcpdump listening

# $1 test, $2 size: the server over b, the client over a
perf_run() {
    "$perf" "$1" -s "$2" -n 20 -p 18600 -S "$work/b.sock" >"$work/srv.log" 2>&1 &
    local srv=$!
    sleep 0.3
    timeout 60 "$perf" "$1" -s "$2" -n 20 -p 18600 -S "$work/a.sock" 127.0.0.1 >"$work/cli.log" 2>&1 ||
        fail "ndk-perf $1 -s $2"
    wait $srv || fail "ndk-perf $1 -s $2 (server)"
}
for size in 64 3000; do # one packet; three, the last short
    perf_run write_bw $size
    perf_run read_bw $size
    perf_run send_lat $size
done
sleep 2 # tcpdump shares the CPUs with two polling daemons: let it read the last frames
kill -TERM "${caps[@]}"; wait "${caps[@]}" 2>/dev/null; caps=()

for end in a b; do
    n=$(tshark -r "$work/$end.pcap" 2>/dev/null | wc -l)
    roce=$(tshark -r "$work/$end.pcap" -Y infiniband 2>/dev/null | wc -l)
    bad=$(tshark -r "$work/$end.pcap" -Y '_ws.malformed || _ws.expert.severity >= 8388608' \
        2>/dev/null | wc -l)
    echo "$end received $n frames: $roce decoded as RoCEv2 by tshark, $bad malformed or in error"
    [ "$n" -gt 0 ] && [ "$roce" -eq "$n" ] && [ "$bad" -eq 0 ] || fail "tshark on $end's capture"
    tshark -r "$work/$end.pcap" 2>/dev/null >>"$work/decoded.txt"
    if [ -f "$checkicrc" ]; then
        python3 "$checkicrc" "$work/$end.pcap" || fail "ICRC of $end's capture"
    fi
done
[ -f "$checkicrc" ] || echo "note: $checkicrc not here; ICRCs not checked independently"
for op in "Acknowledge" "RDMA Write Only" "RDMA Write First" "RDMA Write Middle" \
    "RDMA Write Last" "RDMA Read Request" "RDMA Read Response Only" \
    "RDMA Read Response First" "RDMA Read Response Middle" "RDMA Read Response Last" \
    "Send Only" "Send First" "Send Middle" "Send Last"; do
    grep -q "RC $op " "$work/decoded.txt" || fail "no RC $op seen on the wire"
done
cat "$work"/tcpdump-*.log | grep -h "captured\|dropped" | tr "\n" " "; echo
echo "ok: every frame decoded by tshark as RoCEv2, 14 RC opcodes seen"
