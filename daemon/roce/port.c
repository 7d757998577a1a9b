/* SPDX-License-Identifier: BSD-3-Clause */
/* NIC ports (port.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_bus.h>
#include <rte_dev.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include "../log.h"
#include "port.h"

#define PORT_RING      1024
#define PORT_MBUFS     4095 /* per queue pair */
#define PORT_BURST     32
#define ARP_FRAME_LEN  42 /* Ethernet 14 + ARP for IPv4 28 */
#define ETHERTYPE_ARP  0x0806
#define ETHERTYPE_IPV4 0x0800

static struct roce_ports *active;

static uint16_t
be16(const uint8_t *b)
{
	return (uint16_t)(b[0] << 8 | b[1]);
}

static uint32_t
be32(const uint8_t *b)
{
	return (uint32_t)be16(b) << 16 | be16(b + 2);
}

static void
put_be32(uint8_t *b, uint32_t v)
{
	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
}

static int
port_open(struct roce_port *p, const struct ndkd_port_cfg *c, unsigned int nq, unsigned int idx)
{
	const char *comma = strchr(c->devargs, ',');
	size_t n = comma != NULL ? (size_t)(comma - c->devargs) : strlen(c->devargs);
	struct rte_eth_conf conf;
	struct rte_eth_dev_info info;
	char pool[RTE_MEMPOOL_NAMESIZE];
	int rc, socket;
	unsigned int q;

	snprintf(p->name, sizeof(p->name), "%.*s", (int)n, c->devargs);
	p->ip = c->ip;
	p->prefix = c->prefix;
	/* an EAL -a/--vdev argument may have probed it already */
	rc = rte_dev_probe(c->devargs);
	if (rc != 0 && rc != -EEXIST) {
		NDKD_LOG(ERR, main, "port %s: cannot probe '%s': %s", p->name, c->devargs,
			 strerror(-rc));
		return rc;
	}
	if (rte_eth_dev_get_port_by_name(p->name, &p->id) != 0) {
		NDKD_LOG(ERR, main, "port %s: no ethdev of that name after probing '%s'", p->name,
			 c->devargs);
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
	snprintf(pool, sizeof(pool), "ndkd_port%u", idx);
	p->mp = rte_pktmbuf_pool_create(pool, PORT_MBUFS * nq, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
					socket);
	p->stats = rte_zmalloc_socket("ndkd_port_stats", nq * sizeof(*p->stats),
				      RTE_CACHE_LINE_SIZE, socket);
	if (p->mp == NULL || p->stats == NULL) {
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
	if (rc == 0)
		rc = rte_eth_dev_get_mtu(p->id, &p->mtu);
	if (rc != 0) {
		NDKD_LOG(ERR, main, "port %s: cannot set up: %s", p->name, strerror(-rc));
		return rc;
	}
	NDKD_LOG(INFO, main,
		 "port %s (ethdev %u): %u.%u.%u.%u/%u, MAC %02x:%02x:%02x:%02x:%02x:%02x, "
		 "MTU %u, %u queue pairs",
		 p->name, p->id, p->ip >> 24, (p->ip >> 16) & 255, (p->ip >> 8) & 255, p->ip & 255,
		 p->prefix, p->mac[0], p->mac[1], p->mac[2], p->mac[3], p->mac[4], p->mac[5],
		 p->mtu, nq);
	return 0;
}

int
roce_ports_open(struct roce_ports *rp, const struct ndkd_opts *o, unsigned int n_engines)
{
	unsigned int i;
	int rc;

	memset(rp, 0, sizeof(*rp));
	rp->n_engines = n_engines;
	for (i = 0; o != NULL && i < o->n_ports; i++) { /* unit tests init without options */
		rc = port_open(&rp->port[i], &o->ports[i], n_engines, i);
		rp->n = i + 1; /* closed again even when half set up */
		if (rc != 0) {
			roce_ports_close(rp);
			return rc;
		}
	}
	active = rp;
	return 0;
}

void
roce_ports_close(struct roce_ports *rp)
{
	unsigned int i;

	if (active == rp)
		active = NULL;
	for (i = 0; i < rp->n; i++) {
		struct roce_port *p = &rp->port[i];

		if (p->stats != NULL) {
			rte_eth_dev_stop(p->id);
			rte_eth_dev_close(p->id);
		}
		rte_mempool_free(p->mp);
		rte_free(p->stats);
	}
	rp->n = 0;
}

const struct roce_ports *
roce_ports_get(void)
{
	return active;
}

/*
 * An ARP request for p's address, turned into its reply in place. False
 * for any other frame.
 */
static bool
arp_reply(const struct roce_port *p, uint8_t *f, uint32_t len)
{
	uint8_t *a = f + 14;

	if (len < ARP_FRAME_LEN || be16(f + 12) != ETHERTYPE_ARP || be16(a) != 1 ||
	    be16(a + 2) != ETHERTYPE_IPV4 || a[4] != 6 || a[5] != 4 || be16(a + 6) != 1 ||
	    be32(a + 24) != p->ip)
		return false;
	memcpy(f, a + 8, 6); /* to the asker */
	memcpy(f + 6, p->mac, 6);
	a[7] = 2;		   /* reply */
	memcpy(a + 18, a + 8, 10); /* target: the asker's MAC and address */
	memcpy(a + 8, p->mac, 6);
	put_be32(a + 14, p->ip);
	return true;
}

unsigned int
roce_ports_poll(struct roce_ports *rp, unsigned int e)
{
	struct rte_mbuf *m[PORT_BURST];
	unsigned int i, k, total = 0;

	for (i = 0; i < rp->n; i++) {
		struct roce_port *p = &rp->port[i];
		struct roce_port_stats *st = &p->stats[e];
		uint16_t n = rte_eth_rx_burst(p->id, (uint16_t)e, m, PORT_BURST);

		stat_add(&st->rx, n);
		total += n;
		for (k = 0; k < n; k++) {
			uint8_t *f = rte_pktmbuf_mtod(m[k], uint8_t *);
			uint32_t len = rte_pktmbuf_data_len(m[k]);
			struct roce_pkt pkt;
			enum roce_verdict v;

			if (m[k]->nb_segs == 1 && arp_reply(p, f, len)) {
				stat_add(&st->rx_arp, 1);
				rte_pktmbuf_data_len(m[k]) = ARP_FRAME_LEN;
				rte_pktmbuf_pkt_len(m[k]) = ARP_FRAME_LEN;
				if (rte_eth_tx_burst(p->id, (uint16_t)e, &m[k], 1) == 1) {
					stat_add(&st->tx_arp, 1);
					stat_add(&st->tx, 1);
				} else {
					stat_add(&st->tx_full, 1);
					rte_pktmbuf_free(m[k]);
				}
				continue;
			}
			v = m[k]->nb_segs == 1 ? roce_decode(f, len, &pkt) : ROCE_NOT_ROCE;
			if (v == ROCE_OK) {
				stat_add(&st->rx_roce, 1);
				stat_add(&st->rx_no_qp, 1); /* no RC transport to hand it to yet */
			} else if (v == ROCE_NOT_ROCE) {
				stat_add(&st->rx_other, 1);
			} else {
				stat_add(&st->rx_bad[v], 1);
			}
			rte_pktmbuf_free(m[k]);
		}
	}
	return total;
}
