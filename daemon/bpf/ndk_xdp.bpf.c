/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ndkd's XDP program for a port shared with the kernel (docs/roce.md): a
 * RoCEv2 frame to the port's address goes to ndkd's AF_XDP socket on the
 * queue it arrived on (the map DPDK's af_xdp PMD fills, "xsks_map");
 * everything else, ARP included, goes on to the kernel, which keeps the
 * interface's address and its neighbours. The verifier proves every read
 * in bounds; a frame too short for what is read next passes.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "ndk_xdp.h"

/* One AF_XDP socket per queue; the PMD puts them in by queue index. */
struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
} xsks_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ndk_xdp_cfg);
} ndk_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NDK_XDP_CTRS);
	__type(key, __u32);
	__type(value, __u64);
} ndk_ctrs SEC(".maps");

static __always_inline int
count(__u32 what, int action)
{
	__u64 *c = bpf_map_lookup_elem(&ndk_ctrs, &what);

	if (c != NULL)
		*c += 1;
	return action;
}

/*
 * IPv4 without options, not a fragment (DF allowed), UDP to 4791, to the
 * port's address: the frames ndkd's decoder takes (roce/wire.c).
 */
static __always_inline int
is_roce_to(void *data, void *end, __u32 ip)
{
	struct ethhdr *eth = data;
	struct iphdr *iph = (void *)(eth + 1);
	struct udphdr *udp = (void *)(iph + 1);

	if ((void *)(udp + 1) > end)
		return 0;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return 0; /* ARP, IPv6, VLAN tags: the kernel's */
	if (*(__u8 *)iph != 0x45 || (iph->frag_off & bpf_htons(0xbfff)) != 0 ||
	    iph->protocol != IPPROTO_UDP || iph->daddr != ip)
		return 0;
	return udp->dest == bpf_htons(NDK_XDP_ROCE_PORT);
}

SEC("xdp")
int
ndk_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u32 zero = 0;
	struct ndk_xdp_cfg *cfg = bpf_map_lookup_elem(&ndk_cfg, &zero);

	if (cfg == NULL || cfg->ip == 0 || !is_roce_to(data, end, cfg->ip))
		return count(NDK_XDP_PASS, XDP_PASS);
	/* XDP_REDIRECT, or XDP_DROP when ndkd has no socket on this queue */
	if (bpf_redirect_map(&xsks_map, ctx->rx_queue_index, XDP_DROP) == XDP_REDIRECT)
		return count(NDK_XDP_REDIRECT, XDP_REDIRECT);
	return count(NDK_XDP_DROP, XDP_DROP);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
