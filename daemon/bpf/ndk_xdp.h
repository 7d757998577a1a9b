/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What ndkd's XDP program (ndk_xdp.bpf.c) and ndkd share: its
 * configuration and its counters, each a BPF map found by name.
 */
#ifndef NDKD_BPF_NDK_XDP_H
#define NDKD_BPF_NDK_XDP_H

#define NDK_XDP_ROCE_PORT 4791 /* RoCEv2's UDP destination port */

/* Map "ndk_cfg", one entry (key 0), written by ndkd once its port has started. */
struct ndk_xdp_cfg {
	unsigned int ip; /* the port's IPv4 address, network order; 0: steer nothing */
	unsigned int pad;
};

/* Map "ndk_ctrs", per CPU, indexed by these. */
enum ndk_xdp_ctr {
	NDK_XDP_PASS,	  /* to the kernel's stack */
	NDK_XDP_REDIRECT, /* RoCEv2 to the port's address: to ndkd's socket on the queue */
	NDK_XDP_DROP,	  /* ... but no socket of ndkd's on that queue */
	NDK_XDP_CTRS,
};

#endif /* NDKD_BPF_NDK_XDP_H */
