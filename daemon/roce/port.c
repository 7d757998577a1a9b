/* SPDX-License-Identifier: BSD-3-Clause */
/* NIC ports (port.h). */
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

#include <rte_bus.h>
#include <rte_dev.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_random.h>

#include "../log.h"
#include "bytes.h"
#include "port.h"

#define PORT_RING      1024
#define PORT_MBUFS     4095 /* per queue pair */
#define PORT_BURST     32
#define ARP_FRAME_LEN  42 /* Ethernet 14 + ARP for IPv4 28 */
#define ETHERTYPE_ARP  0x0806
#define ETHERTYPE_IPV4 0x0800

static struct roce_ports *active;

const char *const roce_ctr_names[ROCE_CTRS] = {
	[ROCE_C_RX] = "rx",
	[ROCE_C_TX] = "tx",
	[ROCE_C_RX_ARP] = "rx_arp",
	[ROCE_C_TX_ARP] = "tx_arp",
	[ROCE_C_RX_ROCE] = "rx_roce",
	[ROCE_C_RX_NO_QP] = "rx_no_qp",
	[ROCE_C_RX_BAD_ICRC] = "rx_bad_icrc",
	[ROCE_C_RX_BAD_HEADER] = "rx_bad_header",
	[ROCE_C_RX_OTHER] = "rx_other",
	[ROCE_C_TX_FULL] = "tx_full",
	[ROCE_C_RETRANSMITS] = "retransmits",
	[ROCE_C_TIMEOUTS] = "timeouts",
	[ROCE_C_NAK_TX] = "nak_tx",
	[ROCE_C_NAK_RX] = "nak_rx",
	[ROCE_C_RNR_TX] = "rnr_nak_tx",
	[ROCE_C_RNR_RX] = "rnr_nak_rx",
	[ROCE_C_RX_OUT_OF_SEQ] = "rx_out_of_seq",
	[ROCE_C_RX_DUPLICATE] = "rx_duplicate",
	[ROCE_C_FAULTS] = "faults_injected",
	[ROCE_C_MAD_RX] = "mad_rx",
	[ROCE_C_MAD_TX] = "mad_tx",
	[ROCE_C_TIMEOUT_RECOVERIES] = "timeout_recoveries",
	[ROCE_C_TIMEOUT_RECOVERY_US] = "timeout_recovery_us",
};

/*
 * A port shared with the kernel (xdp steer): its interface's name into
 * ifname, its devargs with ndkd's XDP program, its address one of the
 * interface's (the one given, if any). 0, or -errno (logged).
 */
static int
share_prepare(struct roce_port *p, const struct ndkd_port_cfg *c, char ifname[IF_NAMESIZE],
	      char *devargs, size_t len)
{
#ifdef NDKD_HAVE_XDP
	char err[256];
	uint32_t ip;
	uint8_t prefix;
	int rc;

	if (!xdp_devargs_iface(c->devargs, ifname, IF_NAMESIZE)) {
		NDKD_LOG(ERR, main, "port %s: no iface= in '%s'", p->name, c->devargs);
		return -EINVAL;
	}
	rc = xdp_prepare(c->devargs, ifname, devargs, len, err, sizeof(err));
	if (rc != 0) {
		NDKD_LOG(ERR, main, "port %s: %s", p->name, err);
		return rc;
	}
	rc = xdp_iface_addr(ifname, c->ip, &ip, &prefix);
	if (rc != 0) {
		NDKD_LOG(ERR, main,
			 "port %s: %s has no IPv4 address: a port shared with the kernel uses "
			 "the interface's",
			 p->name, ifname);
		return rc;
	}
	if (c->ip != 0 && (c->ip != ip || c->prefix != prefix)) {
		NDKD_LOG(ERR, main,
			 "port %s: --addr %u.%u.%u.%u/%u is not %s's address (%u.%u.%u.%u/%u is)",
			 p->name, c->ip >> 24, (c->ip >> 16) & 255, (c->ip >> 8) & 255, c->ip & 255,
			 c->prefix, ifname, ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255,
			 prefix);
		return -EINVAL;
	}
	p->ip = ip;
	p->prefix = prefix;
	return 0;
#else
	(void)ifname;
	(void)devargs;
	(void)len;
	(void)c;
	NDKD_LOG(ERR, main,
		 "port %s: ndkd was built without libbpf, so without its XDP program; give the "
		 "port xdp = all (every frame to ndkd)",
		 p->name);
	return -ENOTSUP;
#endif
}

static int
port_open(struct roce_port *p, const struct ndkd_opts *o, const struct ndkd_port_cfg *c,
	  unsigned int nq, unsigned int idx)
{
	const char *comma = strchr(c->devargs, ',');
	size_t n = comma != NULL ? (size_t)(comma - c->devargs) : strlen(c->devargs);
	char devargs[512 + PATH_MAX], ifname[IF_NAMESIZE] = "";
	struct rte_eth_conf conf;
	struct rte_eth_dev_info info;
	char pool[RTE_MEMPOOL_NAMESIZE];
	int rc, socket;
	unsigned int q;
	uint32_t room;

	snprintf(p->name, sizeof(p->name), "%.*s", (int)n, c->devargs);
	p->ip = c->ip;
	p->prefix = c->prefix;
	p->xdp = c->xdp;
	p->bpf = (struct roce_xdp){ .cfg_fd = -1, .ctrs_fd = -1 };
	snprintf(devargs, sizeof(devargs), "%s", c->devargs);
	if (p->xdp == NDKD_XDP_STEER) {
		rc = share_prepare(p, c, ifname, devargs, sizeof(devargs));
		if (rc != 0)
			return rc;
	}
	p->fault = o->roce_fault;
	p->faulty = p->fault.drop + p->fault.dup + p->fault.reorder + p->fault.icrc != 0;
	if (p->faulty)
		NDKD_LOG(WARNING, main,
			 "port %s mistreats frames on purpose (--roce-fault): per 1000, %u "
			 "dropped, %u sent twice, %u sent late, %u with a bad ICRC",
			 p->name, p->fault.drop, p->fault.dup, p->fault.reorder, p->fault.icrc);
	/* an EAL -a/--vdev argument may have probed it already */
	rc = rte_dev_probe(devargs);
	if (rc != 0 && rc != -EEXIST) {
		NDKD_LOG(ERR, main, "port %s: cannot probe '%s': %s", p->name, devargs,
			 strerror(-rc));
		return rc;
	}
	if (rte_eth_dev_get_port_by_name(p->name, &p->id) != 0) {
		NDKD_LOG(ERR, main, "port %s: no ethdev of that name after probing '%s'", p->name,
			 devargs);
		return -ENODEV;
	}
	rc = rte_eth_dev_info_get(p->id, &info);
	if (rc != 0)
		return rc;
	if (info.max_rx_queues < nq || info.max_tx_queues < nq) {
		NDKD_LOG(ERR, main,
			 "port %s has %u RX and %u TX queues; ndkd needs %u of each (one per "
			 "engine; af_packet: qpairs=%u)",
			 p->name, info.max_rx_queues, info.max_tx_queues, nq, nq);
		return -EINVAL;
	}
	socket = rte_eth_dev_socket_id(p->id);
	if (socket < 0)
		socket = SOCKET_ID_ANY;
	rc = rte_eth_dev_get_mtu(p->id, &p->mtu);
	if (rc != 0)
		p->mtu = 1500;
	/* a frame in one mbuf: the MTU, Ethernet and a VLAN tag's worth of slack */
	room = RTE_MAX((uint32_t)RTE_MBUF_DEFAULT_DATAROOM, (uint32_t)p->mtu + 32u);
	snprintf(pool, sizeof(pool), "ndkd_port%u", idx);
	p->mp = rte_pktmbuf_pool_create(pool, PORT_MBUFS * nq, 256, 0,
					(uint16_t)(room + RTE_PKTMBUF_HEADROOM), socket);
	p->stats = rte_zmalloc_socket("ndkd_port_stats", nq * sizeof(*p->stats),
				      RTE_CACHE_LINE_SIZE, socket);
	p->txq = rte_zmalloc_socket("ndkd_port_txq", nq * sizeof(*p->txq), RTE_CACHE_LINE_SIZE,
				    socket);
	p->neigh = rte_zmalloc_socket("ndkd_port_neigh", ROCE_NEIGH_SLOTS * sizeof(*p->neigh),
				      RTE_CACHE_LINE_SIZE, socket);
	if (p->mp == NULL || p->stats == NULL || p->txq == NULL || p->neigh == NULL) {
		NDKD_LOG(ERR, main, "port %s: no memory for its mbufs", p->name);
		return -ENOMEM;
	}
	memset(&conf, 0, sizeof(conf));
	rc = rte_eth_dev_configure(p->id, (uint16_t)nq, (uint16_t)nq, &conf);
	for (q = 0; rc == 0 && q < nq; q++) {
		rc = rte_eth_rx_queue_setup(p->id, (uint16_t)q, PORT_RING, (unsigned int)socket,
					    NULL, p->mp);
		if (rc == 0)
			rc = rte_eth_tx_queue_setup(p->id, (uint16_t)q, PORT_RING,
						    (unsigned int)socket, NULL);
	}
	if (rc == 0)
		rc = rte_eth_dev_start(p->id);
	if (rc == 0)
		rc = rte_eth_macaddr_get(p->id, (struct rte_ether_addr *)p->mac);
	if (rc != 0) {
		NDKD_LOG(ERR, main, "port %s: cannot set up: %s", p->name, strerror(-rc));
		return rc;
	}
#ifdef NDKD_HAVE_XDP
	if (p->xdp == NDKD_XDP_STEER) {
		rc = xdp_attach(&p->bpf, ifname, p->ip);
		if (rc != 0)
			return rc;
	}
#endif
	p->path_mtu = roce_path_mtu(p->mtu);
	if (p->path_mtu == 0) {
		NDKD_LOG(ERR, main, "port %s: MTU %u is below RoCE's smallest (256 and headers)",
			 p->name, p->mtu);
		return -EINVAL;
	}
	NDKD_LOG(INFO, main,
		 "port %s (ethdev %u): %u.%u.%u.%u/%u, MAC %02x:%02x:%02x:%02x:%02x:%02x, "
		 "MTU %u (RoCE path MTU %u), %u queue pairs%s",
		 p->name, p->id, p->ip >> 24, (p->ip >> 16) & 255, (p->ip >> 8) & 255, p->ip & 255,
		 p->prefix, p->mac[0], p->mac[1], p->mac[2], p->mac[3], p->mac[4], p->mac[5],
		 p->mtu, p->path_mtu, nq,
		 p->xdp == NDKD_XDP_STEER ? ", shared with the kernel (ndkd's XDP program)" : "");
	return 0;
}

int
roce_ports_open(struct roce_ports *rp, const struct ndkd_opts *o, unsigned int n_engines)
{
	unsigned int i;
	bool shared = false;
	int rc;

	memset(rp, 0, sizeof(*rp));
	rp->n_engines = n_engines;
	for (i = 0; o != NULL && i < o->n_ports; i++) { /* unit tests init without options */
		rc = port_open(&rp->port[i], o, &o->ports[i], n_engines, i);
		rp->n = i + 1; /* closed again even when half set up */
		if (rc != 0) {
			roce_ports_close(rp);
			return rc;
		}
		shared |= rp->port[i].xdp == NDKD_XDP_STEER;
	}
#ifdef NDKD_HAVE_XDP
	rc = shared ? xdp_neigh_start(rp) : 0;
	if (rc != 0) {
		NDKD_LOG(ERR, main, "neighbours from the kernel: %s", strerror(-rc));
		roce_ports_close(rp);
		return rc;
	}
#else
	(void)shared; /* without the program no port opens shared */
#endif
	active = rp;
	return 0;
}

void
roce_ports_close(struct roce_ports *rp)
{
	unsigned int i, e;

	if (active == rp)
		active = NULL;
#ifdef NDKD_HAVE_XDP
	xdp_neigh_stop();
#endif
	for (i = 0; i < rp->n; i++) {
		struct roce_port *p = &rp->port[i];

#ifdef NDKD_HAVE_XDP
		xdp_detach(&p->bpf);
#endif
		if (p->stats != NULL) {
			rte_eth_dev_stop(p->id);
			rte_eth_dev_close(p->id);
		}
		for (e = 0; p->txq != NULL && e < rp->n_engines; e++) {
			rte_pktmbuf_free_bulk(p->txq[e].m, p->txq[e].n);
			rte_pktmbuf_free(p->txq[e].held);
		}
		rte_mempool_free(p->mp);
		rte_free(p->stats);
		rte_free(p->txq);
		rte_free(p->neigh);
	}
	rp->n = 0;
}

const struct roce_ports *
roce_ports_get(void)
{
	return active;
}

uint32_t
roce_path_mtu(uint16_t mtu)
{
	/* IPv4, UDP, BTH, RETH, ImmDt and ICRC around the payload */
	uint32_t hdrs = ROCE_IP_LEN + ROCE_UDP_LEN + ROCE_BTH_LEN + ROCE_RETH_LEN + ROCE_IMM_LEN +
			ROCE_ICRC_LEN;
	uint32_t m;

	for (m = 4096; m >= 256; m /= 2)
		if (m + hdrs <= mtu)
			return m;
	return 0;
}

struct roce_port *
roce_port_on(struct roce_port *p, uint32_t ip)
{
	uint32_t mask = p->prefix == 0 ? 0 : ~0u << (32 - p->prefix);

	return (ip & mask) == (p->ip & mask) && ip != p->ip ? p : NULL;
}

struct roce_port *
roce_port_for(struct roce_ports *rp, uint32_t ip)
{
	unsigned int i;

	for (i = 0; i < rp->n; i++)
		if (roce_port_on(&rp->port[i], ip) != NULL)
			return &rp->port[i];
	return NULL;
}

static unsigned int
neigh_slot(uint32_t ip)
{
	return (ip * 2654435761u) >> 24; /* Fibonacci hashing: 256 slots */
}

bool
roce_neigh_lookup(const struct roce_port *p, uint32_t ip, uint8_t mac[6])
{
	unsigned int i, s = neigh_slot(ip);

	for (i = 0; i < ROCE_NEIGH_SLOTS; i++) {
		const struct roce_neigh *n = &p->neigh[(s + i) % ROCE_NEIGH_SLOTS];
		uint32_t a = atomic_load_explicit(&n->ip, memory_order_acquire);
		uint64_t m;

		if (a == 0)
			return false;
		if (a != ip)
			continue;
		m = atomic_load_explicit(&n->mac, memory_order_acquire);
		if (!(m & ROCE_NEIGH_KNOWN))
			return false;
		for (s = 0; s < 6; s++)
			mac[s] = (uint8_t)(m >> (40 - 8 * s));
		return true;
	}
	return false;
}

void
roce_neigh_learn(struct roce_port *p, uint32_t ip, const uint8_t mac[6])
{
	unsigned int i, k, s = neigh_slot(ip);
	uint64_t m = ROCE_NEIGH_KNOWN;

	if (ip == 0 || ip == p->ip || (mac[0] & 1) != 0)
		return;
	for (k = 0; k < 6; k++)
		m |= (uint64_t)mac[k] << (40 - 8 * k);
	for (i = 0; i < ROCE_NEIGH_SLOTS; i++) {
		struct roce_neigh *n = &p->neigh[(s + i) % ROCE_NEIGH_SLOTS];
		uint32_t a = atomic_load_explicit(&n->ip, memory_order_acquire);

		/* a free slot is claimed once; a lost race may have claimed it for ip */
		if (a == 0 && atomic_compare_exchange_strong(&n->ip, &a, ip))
			a = ip;
		if (a == ip) {
			atomic_store_explicit(&n->mac, m, memory_order_release);
			return;
		}
	}
	/* full: the peer stays unresolved, and its QPs fail as unreachable */
}

struct rte_mbuf *
roce_frame_alloc(struct roce_port *p, unsigned int e)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(p->mp);

	if (m == NULL)
		roce_count(p, e, ROCE_C_TX_FULL, 1);
	return m;
}

static void
txq_flush(struct roce_port *p, unsigned int e)
{
	struct roce_txq *q = &p->txq[e];
	uint16_t sent;

	if (q->n == 0)
		return;
	sent = rte_eth_tx_burst(p->id, (uint16_t)e, q->m, q->n);
	roce_count(p, e, ROCE_C_TX, sent);
	/* the ring is full: the rest go at the next flush, in order */
	if (sent != 0 && sent < q->n)
		memmove(q->m, q->m + sent, (size_t)(q->n - sent) * sizeof(q->m[0]));
	q->n = (uint16_t)(q->n - sent);
}

bool
roce_tx_ready(struct roce_port *p, unsigned int e)
{
	struct roce_txq *q = &p->txq[e];

	if (q->n >= ROCE_TX_BURST)
		txq_flush(p, e);
	return q->n < ROCE_TX_BURST;
}

static bool
roll(uint16_t per_mille)
{
	return per_mille != 0 && rte_rand_max(1000) < per_mille;
}

/* --roce-fault: what the knob does to m before it goes. False: m is gone or held. */
static bool
mistreat(struct roce_port *p, unsigned int e, struct roce_txq *q, struct rte_mbuf *m)
{
	if (roll(p->fault.drop)) {
		roce_count(p, e, ROCE_C_FAULTS, 1);
		rte_pktmbuf_free(m);
		return false;
	}
	if (roll(p->fault.icrc)) {
		rte_pktmbuf_mtod(m, uint8_t *)[m->data_len - 1] ^= 0x5a;
		roce_count(p, e, ROCE_C_FAULTS, 1);
	}
	if (roll(p->fault.dup)) {
		struct rte_mbuf *c = rte_pktmbuf_copy(m, p->mp, 0, UINT32_MAX);

		if (c != NULL) {
			q->m[q->n++] = c;
			roce_count(p, e, ROCE_C_FAULTS, 1);
		}
	}
	if (q->held == NULL && roll(p->fault.reorder)) {
		q->held = m;
		q->held_flushes = 0;
		roce_count(p, e, ROCE_C_FAULTS, 1);
		return false;
	}
	return true;
}

void
roce_tx(struct roce_port *p, unsigned int e, struct rte_mbuf *m)
{
	struct roce_txq *q = &p->txq[e];
	struct rte_mbuf *held = q->held;

	if (q->n >= ROCE_TX_QCAP) {
		txq_flush(p, e);
		if (q->n >= ROCE_TX_QCAP) {
			/* dropped as a network would: RC's retransmission makes up for it */
			roce_count(p, e, ROCE_C_TX_FULL, 1);
			rte_pktmbuf_free(m);
			return;
		}
	}
	if (p->faulty && !mistreat(p, e, q, m))
		return;
	q->m[q->n++] = m;
	if (held != NULL && q->held == held) { /* after the frame that overtook it */
		q->m[q->n++] = held;
		q->held = NULL;
	}
	if (q->n >= ROCE_TX_BURST)
		txq_flush(p, e);
}

void
roce_tx_flush(struct roce_ports *rp, unsigned int e)
{
	unsigned int i;

	for (i = 0; i < rp->n; i++) {
		struct roce_txq *q = &rp->port[i].txq[e];

		/* a frame held back for reordering goes after two passes without another */
		if (q->held != NULL && ++q->held_flushes > 2) {
			q->m[q->n++] = q->held;
			q->held = NULL;
		}
		txq_flush(&rp->port[i], e);
	}
}

void
roce_arp_request(struct roce_port *p, unsigned int e, uint32_t ip)
{
	struct rte_mbuf *m;
	uint8_t *f, *a;

#ifdef NDKD_HAVE_XDP
	/* the kernel owns the interface's ARP: it asks, and tells ndkd the answer */
	if (p->xdp == NDKD_XDP_STEER) {
		xdp_neigh_resolve(p, ip);
		return;
	}
#endif
	m = roce_frame_alloc(p, e);
	if (m == NULL)
		return;
	f = (uint8_t *)rte_pktmbuf_append(m, ARP_FRAME_LEN);
	if (f == NULL) {
		rte_pktmbuf_free(m);
		return;
	}
	a = f + 14;
	memset(f, 0xff, 6);
	memcpy(f + 6, p->mac, 6);
	f[12] = ETHERTYPE_ARP >> 8;
	f[13] = ETHERTYPE_ARP & 0xff;
	a[0] = 0, a[1] = 1; /* Ethernet */
	a[2] = ETHERTYPE_IPV4 >> 8, a[3] = ETHERTYPE_IPV4 & 0xff;
	a[4] = 6, a[5] = 4, a[6] = 0, a[7] = 1; /* request */
	memcpy(a + 8, p->mac, 6);
	put32(a + 14, p->ip);
	memset(a + 18, 0, 6);
	put32(a + 24, ip);
	roce_count(p, e, ROCE_C_TX_ARP, 1);
	roce_tx(p, e, m);
}

/*
 * ARP: a request for p's address is turned into its reply in place (true:
 * send it back); a request or reply from a peer teaches its MAC. False
 * when the frame is not to be sent.
 */
static bool
arp_input(struct roce_port *p, uint8_t *f, uint32_t len, bool *was_arp)
{
	uint8_t *a = f + 14;
	uint16_t op;

	*was_arp = len >= ARP_FRAME_LEN && get16(f + 12) == ETHERTYPE_ARP && get16(a) == 1 &&
		   get16(a + 2) == ETHERTYPE_IPV4 && a[4] == 6 && a[5] == 4;
	if (!*was_arp)
		return false;
	op = get16(a + 6);
	if ((op == 1 || op == 2) && get32(a + 24) == p->ip)
		roce_neigh_learn(p, get32(a + 14), a + 8);
	/* a shared port's address is the kernel's, and so is its answer */
	if (op != 1 || get32(a + 24) != p->ip || p->xdp == NDKD_XDP_STEER)
		return false;
	memcpy(f, a + 8, 6); /* to the asker */
	memcpy(f + 6, p->mac, 6);
	a[7] = 2;		   /* reply */
	memcpy(a + 18, a + 8, 10); /* target: the asker's MAC and address */
	memcpy(a + 8, p->mac, 6);
	put32(a + 14, p->ip);
	return true;
}

unsigned int
roce_ports_poll(struct roce_ports *rp, unsigned int e, roce_rx_fn rx, void *arg)
{
	struct rte_mbuf *m[PORT_BURST];
	unsigned int i, k, total = 0;

	for (i = 0; i < rp->n; i++) {
		struct roce_port *p = &rp->port[i];
		uint16_t n = rte_eth_rx_burst(p->id, (uint16_t)e, m, PORT_BURST);

		roce_count(p, e, ROCE_C_RX, n);
		total += n;
		for (k = 0; k < n; k++) {
			uint8_t *f = rte_pktmbuf_mtod(m[k], uint8_t *);
			uint32_t len = rte_pktmbuf_data_len(m[k]);
			struct roce_pkt pkt;
			enum roce_verdict v;
			bool arp;

			if (m[k]->nb_segs != 1) {
				roce_count(p, e, ROCE_C_RX_OTHER, 1);
				rte_pktmbuf_free(m[k]);
				continue;
			}
			if (arp_input(p, f, len, &arp)) {
				rte_pktmbuf_data_len(m[k]) = ARP_FRAME_LEN;
				rte_pktmbuf_pkt_len(m[k]) = ARP_FRAME_LEN;
				roce_count(p, e, ROCE_C_RX_ARP, 1);
				roce_count(p, e, ROCE_C_TX_ARP, 1);
				roce_tx(p, e, m[k]);
				continue;
			}
			if (arp) {
				roce_count(p, e, ROCE_C_RX_ARP, 1);
				rte_pktmbuf_free(m[k]);
				continue;
			}
			v = roce_decode(f, len, &pkt);
			if (v == ROCE_OK && pkt.dst_ip == p->ip) {
				roce_count(p, e, ROCE_C_RX_ROCE, 1);
				rx(arg, p, m[k], &pkt);
				continue;
			}
			if (v == ROCE_OK || v == ROCE_NOT_ROCE)
				roce_count(p, e, ROCE_C_RX_OTHER, 1);
			else
				roce_count(p, e,
					   v == ROCE_BAD_ICRC ? ROCE_C_RX_BAD_ICRC
							      : ROCE_C_RX_BAD_HEADER,
					   1);
			rte_pktmbuf_free(m[k]);
		}
	}
	return total;
}
