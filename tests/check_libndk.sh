#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# libndk links no DPDK and exports nothing but ndk_* (its symbol map works).
set -eu
lib="$1"
fail=0
needed=$(readelf -d "$lib" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p')
echo "NEEDED: $needed"
if echo "$needed" | grep -q 'librte_'; then
    echo "FAIL: libndk depends on DPDK"
    fail=1
fi
exported=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBR]$/ { sub(/@.*/, "", $3); print $3 }')
echo "exported: $(echo $exported)"
bad=$(echo "$exported" | grep -v '^ndk_' || true)
if [ -n "$bad" ]; then
    echo "FAIL: exported outside ndk_*: $bad"
    fail=1
fi
if ! echo "$exported" | grep -q '^ndk_adapter_open$'; then
    echo "FAIL: ndk_adapter_open is not exported"
    fail=1
fi
exit $fail
