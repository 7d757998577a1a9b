/* SPDX-License-Identifier: BSD-3-Clause */
/* Someone else's XDP program, for tests: ndkd must not replace it. */
#include <linux/bpf.h>

#include <bpf/bpf_helpers.h>

SEC("xdp")
int
other_xdp(struct xdp_md *ctx)
{
	(void)ctx;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
