/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The NIC ports RoCEv2 runs on (--port, --addr): opened on the main lcore
 * through DPDK (any ethdev: af_packet, af_xdp, memif, tap, a PCI NIC), one
 * RX/TX queue pair per engine, polled by the engines. What a port answers
 * by itself: ARP for its address. RoCEv2 frames are decoded and counted;
 * the RC transport that takes them is not there yet (docs/roce.md).
 */
#ifndef NDKD_ROCE_PORT_H
#define NDKD_ROCE_PORT_H

#include <stdalign.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdint.h>

#include <rte_config.h>

#include "../ndkd.h"
#include "wire.h"

/* Counters of one port on one engine: written by that engine only. */
struct roce_port_stats {
	alignas(RTE_CACHE_LINE_SIZE) _Atomic uint64_t rx;
	_Atomic uint64_t tx;
	_Atomic uint64_t rx_arp; /* requests for our address, answered */
	_Atomic uint64_t tx_arp;
	_Atomic uint64_t rx_roce;		/* RoCEv2 frames that decoded */
	_Atomic uint64_t rx_no_qp;		/* ... to a QP nobody has: dropped */
	_Atomic uint64_t rx_bad[ROCE_VERDICTS]; /* dropped, by why (ROCE_OK unused) */
	_Atomic uint64_t rx_other;		/* neither ARP for us nor RoCEv2 */
	_Atomic uint64_t tx_full;		/* frames the TX queue had no room for */
};

struct roce_port {
	uint16_t id; /* DPDK port id */
	char name[64];
	uint32_t ip;
	uint8_t prefix;
	uint8_t mac[6];
	uint16_t mtu;
	struct rte_mempool *mp;
	struct roce_port_stats *stats; /* one per engine */
};

struct roce_ports {
	unsigned int n;
	unsigned int n_engines;
	struct roce_port port[NDKD_MAX_PORTS];
};

/* Open and start o's ports, a queue pair per engine. 0, or -errno (logged). */
int roce_ports_open(struct roce_ports *rp, const struct ndkd_opts *o, unsigned int n_engines);
void roce_ports_close(struct roce_ports *rp);
/* Engine e's pass over its queues: frames in, ARP answered. Returns frames handled. */
unsigned int roce_ports_poll(struct roce_ports *rp, unsigned int e);
/* The ports ndkd opened (for telemetry), or NULL. */
const struct roce_ports *roce_ports_get(void);

#endif /* NDKD_ROCE_PORT_H */
