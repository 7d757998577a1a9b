#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# ndkd's verbs provider on a real kernel verbs device: this build of ndkd,
# run inside the rdma_rxe guest (shared/rxe-peer's host-root mode, two
# vCPUs) with --provider verbs on the guest's rxe0.
#  1. integration tests, unchanged, against ndkd on the verbs provider
#     (NDK_TEST_PROVIDER=verbs): clients in processes of their own, the
#     bytes moved by rxe;
#  2. across nodes: ndkd on verbs in the guest against ndkd's soft RoCEv2
#     transport on the host (the tap), tools/ndk-pingpong on each, each
#     side as server; the two RoCEv2 implementations check each other;
#  3. ndk-pingpong over ndkd on verbs against rdma-core's ibv_rc_pingpong
#     on the same rxe0;
#  4. a second guest on a bridge, with nothing of ndkd's in it: its
#     ibv_rc_pingpong and perftest (ib_write_bw, ib_read_lat, ib_send_lat)
#     against ndk-pingpong and ndk-perf over ndkd on verbs in the first,
#     each side serving once.
# Needs root and shared/rxe-peer beside the source tree (exit 77).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
pingpong=${NDK_PINGPONG_BIN:-$root/build/tools/ndk-pingpong}
trap 'cleanup; "$rxe/stop" --name 1 >/dev/null 2>&1' EXIT
# the integration tests that run on the verbs provider (docs/providers.md),
# and the cases of test_rdma that need nothing it lacks (docs/providers.md)
tests=${NDK_VERBS_TESTS:-nop attach mr close conformance mem clients isolation garbage shutdown ndkctl}
rdma_cases=write_read_two_processes,send_receive_ping_pong,flush_and_close,cq_arm,access_checks
rdma_cases=$rdma_cases,inline,fast_register_token_at_post,read_local_invalidate,result_after_close
rdma_cases=$rdma_cases,deregistered_mid,flush_mid,peer_killed,initiator_killed
# the host's ndkd (part 2) only once the guest's own tests are done: its
# polling engine would take a CPU from the emulated guest
interop_guest_up --host-root --cpus 2 --mem 2048
gsock=/tmp/ndkt-verbs.sock
# the build this run tests (build/ or build-asan/), as a path from the source root
bdir=$(realpath --relative-to="$root" "$(dirname "$ndkd")/..")
gpid=

# A command of this tree, run in the guest from the source root.
gexec() {
    local t=$1
    shift
    (cd "$root" && "$rxe/exec" --name 0 --host --timeout "$t" -- "$@")
}

# SIGTERM inside the guest (killing exec would kill ndkd outright); its log follows.
stop_guest_ndkd() {
    [ -n "$gpid" ] || return 0
    gexec 60 pkill -TERM -f "file-prefix ndkt-verbs"
    wait "$gpid"
    gpid=
}

# 1. the integration tests, in the guest
# an emulated CPU (and ASan on it) starts ndkd slowly: the tests' waits stretched
scale=NDK_TEST_TIME_SCALE=${NDK_TEST_TIME_SCALE:-4}
gexec 1500 env NDK_TEST_PROVIDER=verbs $scale meson test -C "$bdir" --no-rebuild --num-processes 1 \
    --timeout-multiplier 4 --print-errorlogs $tests >"$work/suite.log" 2>&1
st=$?
grep -E "^ *[0-9]+/[0-9]+ " "$work/suite.log"
[ "$st" -eq 0 ] || { tail -60 "$work/suite.log"; fail "integration tests on the verbs provider"; }
# What the tests left running in the guest would slow what follows: say so.
gexec 60 sh -c 'pgrep -a ndkd || true; free -m' >"$work/left.log" 2>&1
if grep -q ndkd "$work/left.log"; then
    echo "left running in the guest after the integration tests:"
    cat "$work/left.log"
fi
gexec 900 env NDK_TEST_PROVIDER=verbs $scale NDK_TEST_ONLY=$rdma_cases NDKD_BIN="$bdir/daemon/ndkd" \
    "$bdir/tests/test_rdma" >"$work/rdma.log" 2>&1
st=$?
grep -E "^(ok|not ok) " "$work/rdma.log"
if [ "$st" -ne 0 ]; then
    grep -v "^FAIL.*p\\[" "$work/rdma.log" | tail -30
    gexec 60 sh -c 'uptime; free -m; ps -eo pid,pcpu,rss,etime,args --sort=-pcpu | head -12'
    fail "test_rdma on the verbs provider (exit $st)"
fi

# 2. and 3. ndkd on verbs in the guest, serving ndk-pingpong there; soft on the host
interop_ndkd_up
gexec 900 sh -c "rm -f $gsock; exec $bdir/daemon/ndkd --socket $gsock --file-prefix ndkt-verbs \
    --provider verbs --device rxe0 --no-huge --mem 256" >"$work/gndkd.log" 2>&1 &
gpid=$!
gexec 120 sh -c "until [ -S $gsock ]; do sleep 0.2; done" || fail "ndkd on verbs did not start"
gexec 60 "$bdir/tools/ndkctl" --file-prefix ndkt-verbs provider >"$work/prov.log" 2>&1
cat "$work/prov.log"
grep -q "^device *rxe0" "$work/prov.log" || fail "ndkd not on the verbs provider's rxe0"

# One exchange: $1 = server side (guest|host), $2 = size, $3 = iterations.
cross() {
    local server=$1 size=$2 iters=$3 st1 st2 srv
    if [ "$server" = guest ]; then
        gexec 180 env NDK_SOCKET=$gsock "$pingpong" -c -s "$size" -n "$iters" >"$work/srv.log" 2>&1 &
        srv=$!
        # a program starting in the emulated guest takes seconds to listen
        for _ in $(seq 60); do
            sleep 1
            timeout 150 "$pingpong" -c -s "$size" -n "$iters" 10.77.0.2 >"$work/cli.log" 2>&1
            st2=$?
            grep -q "Couldn't connect to" "$work/cli.log" || break
        done
    else
        timeout 180 "$pingpong" -c -s "$size" -n "$iters" >"$work/srv.log" 2>&1 &
        srv=$!
        sleep 0.5
        gexec 150 env NDK_SOCKET=$gsock "$pingpong" -c -s "$size" -n "$iters" 10.77.0.1 \
            >"$work/cli.log" 2>&1
        st2=$?
    fi
    wait $srv
    st1=$?
    echo "--- verbs (guest) <-> soft (host), the $server serving, $size bytes x $iters:" \
        "server exit $st1, client exit $st2"
    pingpong_check "$st1" "$st2" "$iters" "with the $server serving"
}

cross guest 64 50
cross host 64 50
cross guest 4096 50 # four packets per message at rxe's MTU 1024
cross host 10000 20

# 3. rdma-core's ibv_rc_pingpong (the guest's own) against ndk-pingpong on verbs
"$rxe/exec" --name 0 --timeout 150 -- ibv_rc_pingpong -d rxe0 -g 1 -c -s 4096 -n 50 \
    >"$work/srv.log" 2>&1 &
srv=$!
sleep 2
gexec 120 env NDK_SOCKET=$gsock "$pingpong" -c -s 4096 -n 50 10.77.0.2 >"$work/cli.log" 2>&1
st2=$?
wait $srv
st1=$?
echo "--- ibv_rc_pingpong serving ndk-pingpong on verbs: exits $st1 $st2"
pingpong_check "$st1" "$st2" 50 "of ibv_rc_pingpong against ndkd on verbs"

stop_guest_ndkd
grep -q "stopped" "$work/gndkd.log" || { cat "$work/gndkd.log"; fail "ndkd on verbs did not stop cleanly"; }
interop_down

# 4. two guests on a bridge: 0 (this build, ndkd on verbs) and 1 (rdma-core's tools only)
"$rxe/stop" --name 0 >/dev/null 2>&1
for g in 0 1; do
    args=(--name "$g" --bridge br-rxepeer)
    [ "$g" = 0 ] && args+=(--host-root --cpus 2 --mem 2048)
    "$rxe/start" "${args[@]}" >"$work/start$g.log" 2>&1 || { cat "$work/start$g.log"; fail "guest $g on the bridge"; }
done
gexec 900 sh -c "rm -f $gsock; exec $bdir/daemon/ndkd --socket $gsock --file-prefix ndkt-verbs \
    --provider verbs --device rxe0 --no-huge --mem 256" >"$work/gndkd.log" 2>&1 &
gpid=$!
gexec 120 sh -c "until [ -S $gsock ]; do sleep 0.2; done" || fail "ndkd on verbs did not start (bridge)"

# $1 = who serves (ndkd|rdma), $2 = ndkd's tool and its arguments, $3 = guest 1's tool and its
# arguments (the server's address is added to the client's); $4 = the result line to find
# (extended regex) in the client's log, and in the server's unless $5 is "client".
g1() {
    local server=$1 ours=$2 theirs=$3 want=$4 only=${5:-} st1 st2=1 srv
    if [ "$server" = ndkd ]; then
        gexec 240 env NDK_SOCKET=$gsock $ours >"$work/srv.log" 2>&1 &
    else
        "$rxe/exec" --name 1 --timeout 240 -- $theirs >"$work/srv.log" 2>&1 &
    fi
    srv=$!
    # a program starting in an emulated guest takes seconds to listen: the client tries again
    for _ in $(seq 30); do
        sleep 2
        if [ "$server" = ndkd ]; then
            "$rxe/exec" --name 1 --timeout 150 -- $theirs 10.77.0.2 >"$work/cli.log" 2>&1
        else
            gexec 150 env NDK_SOCKET=$gsock $ours 10.77.0.3 >"$work/cli.log" 2>&1
        fi
        st2=$?
        grep -qi "couldn't connect\|connection refused" "$work/cli.log" || break
    done
    wait $srv
    st1=$?
    echo "--- guest 1's '$theirs' and ndkd's '$ours', $server serving: exits $st1 $st2"
    cat "$work/srv.log" "$work/cli.log"
    [ "$st1" -eq 0 ] && [ "$st2" -eq 0 ] || fail "'$theirs' against ndkd on verbs"
    grep -Eq "$want" "$work/cli.log" || fail "'$theirs' against ndkd on verbs: no result line"
    [ "$only" = client ] || grep -Eq "$want" "$work/srv.log" ||
        fail "'$theirs' against ndkd on verbs: no result line at the server"
}
pp="$bdir/tools/ndk-pingpong -c -s 4096 -n 50"
g1 ndkd "$pp" "ibv_rc_pingpong -d rxe0 -g 1 -c -s 4096 -n 50" "^50 iters in"
g1 rdma "$pp" "ibv_rc_pingpong -d rxe0 -g 1 -c -s 4096 -n 50" "^50 iters in"
perf="$bdir/tools/ndk-perf"
g1 rdma "$perf write_bw -s 65536 -n 100" "ib_write_bw -F -d rxe0 -x 1 -s 65536 -n 100" "^ 65536 +100 "
g1 ndkd "$perf write_bw -s 65536 -n 100" "ib_write_bw -F -d rxe0 -x 1 -s 65536 -n 100" "^ 65536 +100 "
g1 rdma "$perf read_lat -s 2 -n 100" "ib_read_lat -F -d rxe0 -x 1 -s 2 -n 100" "^ 2 +100 " client
g1 ndkd "$perf send_lat -s 2 -n 100" "ib_send_lat -F -d rxe0 -x 1 -s 2 -n 100" "^ 2 +100 "
grep -q "invalid data" "$work"/*.log && fail "data did not validate"
stop_guest_ndkd
grep -q "stopped" "$work/gndkd.log" || { cat "$work/gndkd.log"; fail "ndkd on verbs did not stop cleanly (bridge)"; }
echo "ok: integration tests on the verbs provider (rxe0); ndkd verbs <-> ndkd soft both ways; ibv_rc_pingpong <-> ndkd verbs on one guest and across two; perftest <-> ndk-perf on verbs across two"
