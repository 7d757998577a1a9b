#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The integration tests on a ConnectX: ndkd on the verbs provider, then on
# the mlx5 provider (UMR fast register), over the first mlx5 device this
# machine has (NDK_HW_DEVICE names another). Skips
# (77) when there is none, as on every machine this project is built on:
# docs/providers.md lists what has therefore never run on that hardware.
set -uo pipefail
root=${NDKD_SOURCE_ROOT:?}
build=$(dirname "${NDKD_BIN:?}")/..
dev=${NDK_HW_DEVICE:-}
if [ -z "$dev" ]; then
    for d in /sys/class/infiniband/mlx5_*; do
        [ -e "$d" ] && dev=$(basename "$d") && break
    done
fi
[ -n "$dev" ] || { echo "skipped: no mlx5 device"; exit 77; }
status=0
for prov in verbs mlx5; do
    for t in nop attach mr close conformance mem clients isolation garbage shutdown ndkctl rdma; do
        echo "== test_$t on $dev ($prov)"
        NDK_TEST_PROVIDER=$prov NDK_TEST_DEVICE=$dev "$build/tests/test_$t" || status=1
    done
done
exit $status
