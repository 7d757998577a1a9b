#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Linux's connection manager (rdma_rxe in a QEMU guest, shared/rxe-peer)
# against ndkd's QP1: librdmacm's rping in the guest connects to ndkd's
# address. ndkd takes no connection from another node yet, so it must
# refuse the REQ the way a CM with no listener does (REJ, invalid service
# ID), at once: rping reports the rejection, with no CM timeout. A DREQ
# for no connection gets its DREP (checked by the counters: a MAD out for
# every MAD in). Needs root and shared/rxe-peer beside the source tree
# (exit 77).
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
grep -q "error 8" "$work/rping.log" || fail "not for an invalid service ID (reason 8)"
# the CM's own retries take seconds (ib_cm's first REQ timeout is about 4 s)
[ "$ms" -lt 4000 ] || fail "the rejection took $ms ms: a timeout, not a REJ"

interop_down
[ "$mad_rx" -ge 1 ] && [ "$mad_tx" -ge 1 ] || fail "no MAD in or out ($mad_rx, $mad_tx)"
echo "ok: rping (rdma_cm, rdma_rxe) refused by ndkd's CM in $ms ms; $mad_rx MADs in, $mad_tx out"
