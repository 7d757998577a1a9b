/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * raw-port: the baselines ndkd's RoCEv2 figures are measured against. Two
 * of these, one on each end of a link (memif between two processes, or
 * af_packet/af_xdp on the two ends of a veth pair), moving plain Ethernet
 * frames with nothing on top:
 *   raw-port [EAL args] -- echo                       answer every frame
 *   raw-port [EAL args] -- ping SIZE COUNT            COUNT round trips
 *   raw-port [EAL args] -- sink                       count what arrives
 *   raw-port [EAL args] -- blast SIZE SECONDS         send as fast as it can
 * ping prints "rtt_ns median mean"; sink prints "rx_pps rx_Bps" over the
 * time frames arrived; echo and sink stop a second after the last frame
 * (or on SIGTERM, SIGINT). One lcore, port 0, one queue pair.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "../daemon/eal_cleanup.h"

#define BURST	32
#define RING	1024
#define ETHTYPE 0x88b5 /* IEEE local experimental */

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static struct rte_mempool *pool;

static int
port_up(uint16_t port)
{
	struct rte_eth_conf conf;

	memset(&conf, 0, sizeof(conf));
	if (rte_eth_dev_configure(port, 1, 1, &conf) != 0 ||
	    rte_eth_rx_queue_setup(port, 0, RING, rte_eth_dev_socket_id(port), NULL, pool) != 0 ||
	    rte_eth_tx_queue_setup(port, 0, RING, rte_eth_dev_socket_id(port), NULL) != 0 ||
	    rte_eth_dev_start(port) != 0)
		return -1;
	rte_eth_promiscuous_enable(port);
	return 0;
}

static struct rte_mbuf *
frame(uint32_t size, uint64_t seq)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	uint8_t *d;

	if (m == NULL)
		return NULL;
	d = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)size);
	if (d == NULL) {
		rte_pktmbuf_free(m);
		return NULL;
	}
	memset(d, 0xff, 6); /* broadcast: no address to learn */
	memset(d + 6, 0x02, 6);
	d[12] = ETHTYPE >> 8;
	d[13] = ETHTYPE & 0xff;
	memcpy(d + 14, &seq, sizeof(seq));
	return m;
}

static void
send_all(uint16_t port, struct rte_mbuf **m, uint16_t n)
{
	uint16_t sent = 0;

	while (sent < n && !stop)
		sent += rte_eth_tx_burst(port, 0, m + sent, (uint16_t)(n - sent));
	if (sent < n)
		rte_pktmbuf_free_bulk(m + sent, n - sent);
}

static bool
ours(const struct rte_mbuf *m)
{
	const uint8_t *d = rte_pktmbuf_mtod(m, const uint8_t *);

	return rte_pktmbuf_data_len(m) >= 22 && d[12] == ETHTYPE >> 8 && d[13] == (ETHTYPE & 0xff);
}

static void
echo(uint16_t port)
{
	struct rte_mbuf *m[BURST];
	uint64_t hz = rte_get_tsc_hz(), last = 0;

	while (!stop) {
		uint16_t n = rte_eth_rx_burst(port, 0, m, BURST), i, k = 0;

		if (n != 0)
			last = rte_rdtsc();
		else if (last != 0 && rte_rdtsc() - last > hz)
			break; /* the pinger is done */

		for (i = 0; i < n; i++) {
			if (ours(m[i]))
				m[k++] = m[i];
			else
				rte_pktmbuf_free(m[i]);
		}
		if (k != 0)
			send_all(port, m, k);
	}
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int
ping(uint16_t port, uint32_t size, uint32_t count)
{
	uint64_t *rtt = calloc(count, sizeof(*rtt)), hz = rte_get_tsc_hz(), sum = 0;
	uint32_t i;

	if (rtt == NULL)
		return 1;
	for (i = 0; i < count && !stop; i++) {
		struct rte_mbuf *m = frame(size, i), *r[BURST];
		uint64_t t0 = rte_rdtsc(), deadline = t0 + hz;
		bool back = false;

		if (m == NULL)
			return 1;
		send_all(port, &m, 1);
		while (!back && !stop && rte_rdtsc() < deadline) {
			uint16_t n = rte_eth_rx_burst(port, 0, r, BURST), k;

			for (k = 0; k < n; k++) {
				uint64_t seq;

				if (ours(r[k])) {
					memcpy(&seq, rte_pktmbuf_mtod(r[k], uint8_t *) + 14, 8);
					back = back || seq == i;
				}
				rte_pktmbuf_free(r[k]);
			}
		}
		if (!back) {
			fprintf(stderr, "raw-port: no echo of frame %u within a second\n", i);
			return 1;
		}
		rtt[i] = (rte_rdtsc() - t0) * 1000000000ull / hz;
		sum += rtt[i];
	}
	qsort(rtt, count, sizeof(*rtt), cmp_u64);
	printf("rtt_ns %" PRIu64 " %" PRIu64 "\n", rtt[count / 2], sum / count);
	free(rtt);
	return 0;
}

static void
sink(uint16_t port)
{
	struct rte_mbuf *m[BURST];
	uint64_t hz = rte_get_tsc_hz(), first = 0, last = 0, pkts = 0, bytes = 0;

	while (!stop) {
		uint16_t n = rte_eth_rx_burst(port, 0, m, BURST), i;
		uint64_t now = rte_rdtsc();

		for (i = 0; i < n; i++) {
			if (ours(m[i])) {
				if (pkts++ == 0)
					first = now;
				last = now;
				bytes += rte_pktmbuf_pkt_len(m[i]);
			}
			rte_pktmbuf_free(m[i]);
		}
		if (pkts > 1 && n == 0 && now - last > hz)
			break;
	}
	if (pkts < 2 || last == first) {
		printf("rx_pps 0 0\n");
		return;
	}
	printf("rx_pps %.0f %.0f\n", (double)(pkts - 1) * (double)hz / (double)(last - first),
	       (double)bytes * (double)hz / (double)(last - first));
}

static void
blast(uint16_t port, uint32_t size, double seconds)
{
	uint64_t end = rte_rdtsc() + (uint64_t)(seconds * (double)rte_get_tsc_hz()), seq = 0;

	while (!stop && rte_rdtsc() < end) {
		struct rte_mbuf *m[BURST];
		uint16_t n = 0, sent;

		while (n < BURST && (m[n] = frame(size, seq)) != NULL) {
			n++;
			seq++;
		}
		sent = rte_eth_tx_burst(port, 0, m, n);
		if (sent < n)
			rte_pktmbuf_free_bulk(m + sent, n - sent);
	}
}

int
main(int argc, char **argv)
{
	int k = rte_eal_init(argc, argv), rc = 0;

	if (k < 0) {
		fprintf(stderr, "raw-port: EAL init failed\n");
		return 1;
	}
	argc -= k;
	argv += k;
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	pool = rte_pktmbuf_pool_create("raw", 8191, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
				       (int)rte_socket_id());
	if (argc < 2 || pool == NULL || rte_eth_dev_count_avail() == 0 || port_up(0) != 0) {
		fprintf(stderr, "usage: raw-port [EAL args, one port] -- echo | sink | ping SIZE "
				"COUNT | blast SIZE SECONDS\n");
		return 1;
	}
	if (argc == 4 && (strtoul(argv[2], NULL, 0) < 60 || strtoul(argv[2], NULL, 0) > 1514)) {
		fprintf(stderr, "raw-port: SIZE is a frame's bytes, 60 ... 1514\n");
		rc = 1;
	} else if (strcmp(argv[1], "echo") == 0)
		echo(0);
	else if (strcmp(argv[1], "sink") == 0)
		sink(0);
	else if (strcmp(argv[1], "ping") == 0 && argc == 4)
		rc = ping(0, (uint32_t)strtoul(argv[2], NULL, 0),
			  (uint32_t)strtoul(argv[3], NULL, 0));
	else if (strcmp(argv[1], "blast") == 0 && argc == 4)
		blast(0, (uint32_t)strtoul(argv[2], NULL, 0), strtod(argv[3], NULL));
	else
		rc = 1;
	rte_eth_dev_stop(0);
	rte_eth_dev_close(0);
	eal_cleanup_all();
	return rc;
}
