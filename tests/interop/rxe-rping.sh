#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Linux's connection manager (rdma_rxe in a QEMU guest, shared/rxe-peer)
# against ndkd's QP1: librdmacm's rping in the guest connects to ndkd's
# address. With nobody listening on its port, ndkd must refuse the REQ the
# way a CM with no listener does (REJ, invalid service ID), at once: rping
# reports the rejection (no CM timeout). Then an app on ndkd listens
# there and accepts (below). Needs root and shared/rxe-peer beside the
# source tree (exit 77).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
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

# An app on ndkd listening on rping's port accepts: the REQ goes to it, its
# accept connects its QP and answers with a REP, rping's RTU completes the
# connection, and the first SEND rping makes on it (its buffer's address,
# rkey and size) arrives in the app's receive over the RC QP. The app plays
# no more of rping, so the guest's rping is stopped by its timeout.
accept=${CM_ACCEPT_BIN:-$root/build/tests/cm_accept}
"$accept" 7174 60 >"$work/accept.log" 2>&1 &
acc=$!
for _ in $(seq 50); do grep -q listening "$work/accept.log" && break; sleep 0.1; done
"$rxe/exec" --name 0 --timeout 15 -- rping -c -a 10.77.0.5 -p 7174 -C 1 -S 100 -v -d \
    >"$work/rping2.log" 2>&1
wait $acc
st=$?
cat "$work/accept.log"
# (what rping printed is lost when the guest's timeout kills it: the message
# it sends once established is the proof)
[ "$st" -eq 0 ] || fail "the app on ndkd got no message from rping"
grep -q "received 16 bytes: .* size 100" "$work/accept.log" || fail "rping's first message did not say its buffer"

interop_down
[ "$mad_rx" -ge 3 ] && [ "$mad_tx" -ge 2 ] || fail "MADs: $mad_rx in, $mad_tx out"
echo "ok: rping (rdma_cm, rdma_rxe) refused by ndkd's CM in $ms ms, then accepted by an app on ndkd (REQ, REP, RTU) and its first SEND received; $mad_rx MADs in, $mad_tx out"
