/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The NIC ports RoCEv2 runs on (--port, --addr): opened on the main lcore
 * through DPDK (any ethdev: af_packet, af_xdp, memif, tap, a PCI NIC), one
 * RX/TX queue pair per engine, polled by the engines. What a port answers
 * by itself: ARP for its address; it learns peers' MACs from ARP. RoCEv2
 * frames are decoded, checked and handed to the RC transport
 * (providers/soft/rc.c); frames it builds leave in bursts (docs/roce.md).
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
#include "xdp.h"

struct rte_mbuf;
struct rte_mempool;

/* Counters of one port on one engine (roce_ctr_names for telemetry). */
enum roce_ctr {
	ROCE_C_RX,
	ROCE_C_TX,
	ROCE_C_RX_ARP, /* requests for our address, answered, and replies to ours */
	ROCE_C_TX_ARP,
	ROCE_C_RX_ROCE,	    /* RoCEv2 frames that decoded */
	ROCE_C_RX_NO_QP,    /* ... to a QP nobody has, or not from its peer: dropped */
	ROCE_C_RX_BAD_ICRC, /* dropped */
	ROCE_C_RX_BAD_HEADER,
	ROCE_C_RX_OTHER,    /* neither ARP nor RoCEv2 */
	ROCE_C_TX_FULL,	    /* frames the TX queue or the mbuf pool had no room for */
	ROCE_C_RETRANSMITS, /* packets sent again (timeout, NAK, RNR) */
	ROCE_C_TIMEOUTS,    /* retransmit timer expiries */
	ROCE_C_NAK_TX,	    /* NAKs sent: sequence, access, invalid request */
	ROCE_C_NAK_RX,
	ROCE_C_RNR_TX, /* RNR NAKs sent: a send found no receive */
	ROCE_C_RNR_RX,
	ROCE_C_RX_OUT_OF_SEQ, /* requests or responses ahead of the expected PSN */
	ROCE_C_RX_DUPLICATE,  /* requests behind it: answered again */
	ROCE_C_FAULTS,	      /* test knob (--roce-fault): frames mistreated on purpose */
	ROCE_C_MAD_RX,	      /* datagrams to QP1 (the connection manager's) */
	ROCE_C_MAD_TX,
	ROCE_C_TIMEOUT_RECOVERIES,  /* losses the retransmit timer found, then recovered */
	ROCE_C_TIMEOUT_RECOVERY_US, /* their times, summed: from the timer's start to the
				       acknowledgement or response past the loss */
	ROCE_CTRS,
};
extern const char *const roce_ctr_names[ROCE_CTRS];

struct roce_port_stats {
	alignas(RTE_CACHE_LINE_SIZE) _Atomic uint64_t c[ROCE_CTRS];
};

/*
 * Frames an engine has built for a port, sent in bursts. What the port's TX
 * ring has no room for stays here for the next flush; requests and
 * responses wait (roce_tx_ready) while a burst is queued, so only
 * acknowledgements and ARP fill the rest, and past that are dropped.
 */
#define ROCE_TX_BURST 32
#define ROCE_TX_QCAP  (4 * ROCE_TX_BURST)
struct roce_txq {
	uint16_t n;
	uint8_t held_flushes;
	struct rte_mbuf *held; /* --roce-fault reorder: sent after the next frame */
	struct rte_mbuf *m[ROCE_TX_QCAP + 2];
};

/*
 * Peers' MACs by IPv4 address, learnt from ARP: any engine writes (an
 * address takes a slot once, by compare-and-swap; its MAC is one word),
 * any reads. Entries stay for the port's life.
 */
#define ROCE_NEIGH_SLOTS 256
#define ROCE_NEIGH_KNOWN (1ull << 63)
struct roce_neigh {
	_Atomic uint32_t ip;
	_Atomic uint64_t mac; /* ROCE_NEIGH_KNOWN | the MAC's 48 bits */
};

struct roce_port {
	uint16_t id; /* DPDK port id */
	char name[64];
	uint32_t ip;
	uint8_t prefix;
	uint8_t mac[6];
	uint16_t mtu;
	uint32_t path_mtu; /* the largest IB MTU whose frames fit mtu */
	struct rte_mempool *mp;
	struct roce_port_stats *stats; /* one per engine */
	struct roce_txq *txq;	       /* one per engine */
	struct roce_neigh *neigh;
	struct ndkd_roce_fault fault;
	bool faulty;
	uint8_t xdp;	     /* enum ndkd_xdp_mode */
	struct roce_xdp bpf; /* NDKD_XDP_STEER: ndkd's program on the interface */
};

struct roce_ports {
	unsigned int n;
	unsigned int n_engines;
	struct roce_port port[NDKD_MAX_PORTS];
};

static inline void
roce_count(struct roce_port *p, unsigned int e, enum roce_ctr c, uint64_t v)
{
	stat_add(&p->stats[e].c[c], v);
}

/*
 * What takes the RoCEv2 frames a port receives (the RC transport): m is
 * its own from then on; pkt is m decoded and checked.
 */
typedef void (*roce_rx_fn)(void *arg, struct roce_port *p, struct rte_mbuf *m,
			   struct roce_pkt *pkt);

/* Open and start o's ports, a queue pair per engine. 0, or -errno (logged). */
int roce_ports_open(struct roce_ports *rp, const struct ndkd_opts *o, unsigned int n_engines);
void roce_ports_close(struct roce_ports *rp);
/*
 * Engine e's pass over its queues: frames in, ARP answered and learnt,
 * RoCEv2 frames to rx. Returns frames handled.
 */
unsigned int roce_ports_poll(struct roce_ports *rp, unsigned int e, roce_rx_fn rx, void *arg);
/* The largest IB MTU (256 ... 4096) whose RoCEv2 frames fit an IP MTU, or 0. */
uint32_t roce_path_mtu(uint16_t mtu);
/*
 * True when engine e may queue a request or response frame on p now:
 * less than a burst is waiting for the port's TX ring (a full one is
 * tried again first). False: build it later, the ring is full.
 */
bool roce_tx_ready(struct roce_port *p, unsigned int e);
/* The port of rp whose subnet holds ip, or NULL. */
struct roce_port *roce_port_for(struct roce_ports *rp, uint32_t ip);
/* p, when ip is another address on its subnet; else NULL. */
struct roce_port *roce_port_on(struct roce_port *p, uint32_t ip);
/* An empty frame of p's pool, or NULL (counted). */
struct rte_mbuf *roce_frame_alloc(struct roce_port *p, unsigned int e);
/* Queue m on engine e's TX queue of p; sent when the burst fills or at roce_tx_flush. */
void roce_tx(struct roce_port *p, unsigned int e, struct rte_mbuf *m);
void roce_tx_flush(struct roce_ports *rp, unsigned int e);
/* ip's MAC in mac when known. */
bool roce_neigh_lookup(const struct roce_port *p, uint32_t ip, uint8_t mac[6]);
/* Ask for ip's MAC: an ARP request from engine e, or the kernel asked (xdp steer). */
void roce_arp_request(struct roce_port *p, unsigned int e, uint32_t ip);
/* Learn (or correct) ip's MAC; any thread. */
void roce_neigh_learn(struct roce_port *p, uint32_t ip, const uint8_t mac[6]);
/* The ports ndkd opened (for telemetry), or NULL. */
const struct roce_ports *roce_ports_get(void);

#endif /* NDKD_ROCE_PORT_H */
