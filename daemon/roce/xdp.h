/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * af_xdp ports shared with the kernel (--xdp steer, the default for
 * net_af_xdp): DPDK's af_xdp PMD loads ndkd's XDP program
 * (bpf/ndk_xdp.bpf.c) instead of its own, which takes everything; ndkd then
 * finds it on the interface, tells it the port's address, reads its
 * counters, and learns neighbours from the kernel, which keeps the
 * interface's address and answers ARP (docs/roce.md).
 */
#ifndef NDKD_ROCE_XDP_H
#define NDKD_ROCE_XDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct roce_port;
struct roce_ports;

/* What ndkd holds of a port's XDP program. */
struct roce_xdp {
	unsigned int ifindex;
	uint32_t prog_id;
	int cfg_fd, ctrs_fd; /* its maps; -1 when not found */
};

/* The interface devargs name ("iface=..."), into buf. False when there is none. */
bool xdp_devargs_iface(const char *devargs, char *buf, size_t len);

/*
 * Before the port is probed: devargs (of interface ifname) as the PMD is to
 * get them (ndkd's program added as xdp_prog=), into out; a program of
 * ndkd's a process before left on the interface is taken off (the PMD would
 * not attach over it). 0, or -errno with why in err.
 */
int xdp_prepare(const char *devargs, const char *ifname, char *out, size_t len, char *err,
		size_t errlen);

/*
 * An IPv4 address of the interface and its prefix length: want (host
 * order) when it has that one, else its first. 0, or -errno.
 */
int xdp_iface_addr(const char *ifname, uint32_t want, uint32_t *ip, uint8_t *prefix);

/*
 * After the port started: ndkd's program on ifname found and told to
 * steer RoCEv2 to ip (host order). 0, or -errno (logged).
 */
int xdp_attach(struct roce_xdp *x, const char *ifname, uint32_t ip);
/* Steer nothing any more and let go of the maps (the PMD detaches the program). */
void xdp_detach(struct roce_xdp *x);
/* The program's counters (NDK_XDP_PASS, ...), summed over CPUs. False when unknown. */
bool xdp_counters(const struct roce_xdp *x, uint64_t c[3]);

/*
 * Neighbours from the kernel for the shared ports of rp: their current
 * table, then every change, on a thread of their own. 0, or -errno.
 */
int xdp_neigh_start(struct roce_ports *rp);
void xdp_neigh_stop(void);
/* Ask the kernel to resolve ip on p's interface (it sends the ARP request). */
void xdp_neigh_resolve(const struct roce_port *p, uint32_t ip);

#endif /* NDKD_ROCE_XDP_H */
