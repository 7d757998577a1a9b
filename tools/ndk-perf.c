/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ndk-perf: perftest's ib_write_bw, ib_write_lat, ib_read_bw, ib_read_lat
 * and ib_send_lat over ndkd, RC, speaking perftest's TCP exchange (the one
 * of its 4.5 releases: version string, page and cache line sizes, MTU, then
 * "LID:OUT_READS:QPN:PSN:RKEY:VADDR:GID:SRQN" messages as the handshakes,
 * the bandwidth report and "done"), so that either side may be perftest on
 * a Linux host with a RoCE device and the other ndk-perf on an ndkd node.
 * The test is the first argument, or the program's name (a link named
 * ib_write_bw runs write_bw). With -R, as perftest's -R, there is no TCP:
 * a control connection through the connection manager (rdma_cm's port
 * space, the -p port) carries the same exchange as SENDs, the key messages
 * as perftest's struct pingpong_dest (56 bytes, big-endian), and the test's
 * QP connects through the CM too.
 */
#include <arpa/inet.h>
#include <byteswap.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <netdb.h>

#include <ndk/ndk.h>

#include "be.h"
#include "oob.h"

/*
 * The perftest version this side announces: perftest refuses peers older
 * than 5.70, and from 5.33 on sends its iteration count in 8 bytes.
 */
#define PERFTEST_VERSION "6.06"
#define VERSION_LEN	 16
#define KEY_LEN		 108 /* the GID form of the key message, its NUL included */
#define LINE                                                                                       \
	"---------------------------------------------------------------------------------------"  \
	"\n"
#define OUR_IRD	     16 /* the reads ndkd's responder takes at once (docs/roce.md) */
#define MAX_SIZE_ALL (1u << 23)

enum test { WRITE_BW, READ_BW, WRITE_LAT, READ_LAT, SEND_LAT };

static const struct {
	const char *name, *title;
	bool bw, read, send;
} tests[] = {
	[WRITE_BW] = { "write_bw", "RDMA_Write BW Test", true, false, false },
	[READ_BW] = { "read_bw", "RDMA_Read BW Test", true, true, false },
	[WRITE_LAT] = { "write_lat", "RDMA_Write Latency Test", false, false, false },
	[READ_LAT] = { "read_lat", "RDMA_Read Latency Test", false, true, false },
	[SEND_LAT] = { "send_lat", "Send Latency Test", false, false, true },
};

/* One side's key message. */
struct dest {
	uint32_t lid, out_reads, qpn, psn, rkey, srqn;
	uint64_t vaddr;
	uint8_t gid[16];
};

struct perf {
	enum test test;
	const char *server; /* NULL: this side is the server */
	unsigned int port;
	uint64_t size, iters;
	uint32_t tx_depth, rx_depth, mtu;
	bool all;
	bool rdma_cm;	      /* -R: connect through the CM */
	bool events;	      /* -e: sleep on the CQ's notification instead of polling */
	const char *lat_file; /* -L: every iteration's time goes there */
	uint32_t gid_index;   /* -x: the local port, announced and sent from */
	uint32_t cycle, line; /* perftest's cycle buffer and cache line, agreed */
	int fd;
	struct ndk_adapter *ad;
	struct ndk_pd *pd;
	struct ndk_cq *cq;
	struct ndk_qp *qp;
	struct ndk_mr *mr;
	/* -R: the control connection, then the test's */
	struct ndk_listener *listener; /* server */
	struct ndk_connector *incoming[2];
	int n_incoming;
	struct ndk_connector *ctl_conn, *conn;
	struct ndk_cq *ctl_cq;
	struct ndk_qp *ctl_qp;
	struct ndk_mr *ctl_mr;
	uint8_t *ctl_buf; /* 64 bytes to send from, 64 to receive into */
	uint8_t *buf;
	uint64_t buff; /* perftest's BUFF_SIZE: the buffer is two of them */
	uint32_t token;
	struct dest my, rem;
	uint64_t *tposted, *tcompleted;
};

static inline uint64_t
max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

static inline uint64_t
min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

struct bw_report {
	uint64_t size, iters;
	double bw_peak, bw_avg, msg_rate;
};

static void
usage(const char *argv0)
{
	printf("Usage:\n"
	       "  %s TEST [options]          start a server and wait for connection\n"
	       "  %s TEST [options] <host>   connect to server at <host>\n"
	       "TEST: write_bw, read_bw, write_lat, read_lat, send_lat (or ib_<test>; or run\n"
	       "  through a link named ib_<test>)\n"
	       "\n"
	       "Options (perftest's; RC only):\n"
	       "  -p, --port=<port>        listen on/connect to port <port> (default 18515)\n"
	       "  -s, --size=<size>        message size (default 65536 for BW, 2 for latency)\n"
	       "  -n, --iters=<iters>      iterations (default 5000 write_bw, else 1000)\n"
	       "  -a, --all                run sizes from 2 till 2^23\n"
	       "  -t, --tx-depth=<dep>     requests in flight for BW tests (default 128)\n"
	       "  -m, --mtu=<mtu>          path MTU (default: the port's)\n"
	       "  -e, --events             sleep on CQ events instead of polling\n"
	       "  -L, --latency-file=<f>   latency tests: write each iteration's time to <f>\n"
	       "                           (ns, one per line, unsorted; halved for ping-pongs, as "
	       "the\n"
	       "                           table's figures)\n"
	       "  -x, --gid-index=<n>      use ndkd's port n (GID index n: its n-th --port, from\n"
	       "                           0; default 0): its GID is announced, frames go from it\n"
	       "  -R, --rdma_cm            connect the QPs through the connection manager "
	       "(rdma_cm)\n"
	       "  -d, -i, -F, -c RC        accepted: ndkd owns the ports\n"
	       "  -S, --socket=<path>      ndkd's socket (default: NDK_SOCKET, then ndkd's own)\n",
	       argv0, argv0);
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- perftest's exchange ------------------------------------------------ */

static bool ctl_send(struct perf *p, const void *msg, size_t len);
static bool ctl_recv(struct perf *p, void *msg, size_t len);

/* The client writes first, the server reads first, as perftest does. */
static bool
xchg(struct perf *p, const void *mine, void *theirs, size_t len)
{
	if (p->rdma_cm)
		return p->server != NULL ? ctl_send(p, mine, len) && ctl_recv(p, theirs, len)
					 : ctl_recv(p, theirs, len) && ctl_send(p, mine, len);
	if (p->server != NULL)
		return full_io(p->fd, (void *)mine, len, true) &&
		       full_io(p->fd, theirs, len, false);
	return full_io(p->fd, theirs, len, false) && full_io(p->fd, (void *)mine, len, true);
}

static void
key_msg(const struct dest *d, char msg[KEY_LEN])
{
	int n = snprintf(msg, KEY_LEN, "%04x:%04x:%06x:%06x:%08x:%016" PRIx64 ":", d->lid,
			 d->out_reads, d->qpn, d->psn, d->rkey, d->vaddr);
	int i;

	for (i = 0; i < 16; i++)
		n += snprintf(msg + n, (size_t)(KEY_LEN - n), "%02x:", d->gid[i]);
	snprintf(msg + n, (size_t)(KEY_LEN - n), "%08x:", d->srqn);
}

static bool
msg_key(char msg[KEY_LEN], struct dest *d)
{
	unsigned int g[16];
	int i;

	msg[KEY_LEN - 1] = '\0';
	if (sscanf(msg,
		   "%x:%x:%x:%x:%x:%" SCNx64 ":%x:%x:%x:%x:%x:%x:%x:%x:%x:%x:%x:%x:%x:%x:%x:%x:%x",
		   &d->lid, &d->out_reads, &d->qpn, &d->psn, &d->rkey, &d->vaddr, &g[0], &g[1],
		   &g[2], &g[3], &g[4], &g[5], &g[6], &g[7], &g[8], &g[9], &g[10], &g[11], &g[12],
		   &g[13], &g[14], &g[15], &d->srqn) != 23)
		return false;
	for (i = 0; i < 16; i++) {
		if (g[i] > 0xff)
			return false;
		d->gid[i] = (uint8_t)g[i];
	}
	return d->qpn <= 0xffffff && d->psn <= 0xffffff;
}

/*
 * -R: perftest's struct pingpong_dest as its rdma_write_keys() sends it:
 * lid, out_reads, qpn, psn, rkey (4 bytes each), 4 of padding, vaddr (8),
 * the GID, srqn, gid_index (4 each); big-endian.
 */
#define KEY_BIN_LEN 56

static void
key_bin(const struct dest *d, uint8_t m[KEY_BIN_LEN])
{
	memset(m, 0, KEY_BIN_LEN);
	put_be(m, d->lid, 4);
	put_be(m + 4, d->out_reads, 4);
	put_be(m + 8, d->qpn, 4);
	put_be(m + 12, d->psn, 4);
	put_be(m + 16, d->rkey, 4);
	put_be(m + 24, d->vaddr, 8);
	memcpy(m + 32, d->gid, 16);
	put_be(m + 48, d->srqn, 4);
}

static void
bin_key(const uint8_t m[KEY_BIN_LEN], struct dest *d)
{
	d->lid = (uint32_t)get_be(m, 4);
	d->out_reads = (uint32_t)get_be(m + 4, 4);
	d->qpn = (uint32_t)get_be(m + 8, 4) & 0xffffff;
	d->psn = (uint32_t)get_be(m + 12, 4) & 0xffffff;
	d->rkey = (uint32_t)get_be(m + 16, 4);
	d->vaddr = get_be(m + 24, 8);
	memcpy(d->gid, m + 32, 16);
	d->srqn = (uint32_t)get_be(m + 48, 4);
}

/* ctx_hand_shake: key messages both ways; every sync point of perftest is one. */
static bool
hand_shake(struct perf *p)
{
	char mine[KEY_LEN], theirs[KEY_LEN];

	if (p->rdma_cm) {
		uint8_t bm[KEY_BIN_LEN], bt[KEY_BIN_LEN];

		key_bin(&p->my, bm);
		if (!xchg(p, bm, bt, KEY_BIN_LEN)) {
			fprintf(stderr, " Failed to exchange data between server and clients\n");
			return false;
		}
		bin_key(bt, &p->rem);
		return true;
	}
	key_msg(&p->my, mine);
	if (!xchg(p, mine, theirs, KEY_LEN) || !msg_key(theirs, &p->rem)) {
		fprintf(stderr, " Failed to exchange data between server and clients\n");
		return false;
	}
	return true;
}

/* Versions, page and cache line sizes, MTU: what perftest swaps first. */
static bool
preamble(struct perf *p, uint32_t port_mtu)
{
	char mine[VERSION_LEN] = PERFTEST_VERSION, theirs[VERSION_LEN];
	uint32_t v[2] = { htonl(p->cycle), htonl(p->line) }, r[2];
	char mtu_mine[2], mtu_theirs[2];
	int e = 0;
	long rem;

	if (!xchg(p, mine, theirs, sizeof(mine)))
		return false;
	theirs[VERSION_LEN - 1] = '\0';
	if (atof(theirs) < 5.70) {
		fprintf(stderr, "ndk-perf: the peer's perftest version \"%s\" is older than 5.70\n",
			theirs);
		return false;
	}
	if (!xchg(p, &v[0], &r[0], 4) || !xchg(p, &v[1], &r[1], 4))
		return false;
	/* perftest takes the larger of the two */
	p->cycle = (uint32_t)max_u64(p->cycle, ntohl(r[0]));
	p->line = (uint32_t)max_u64(p->line, ntohl(r[1]));
	if (p->cycle == 0 || p->cycle > (1u << 24) || p->line == 0 || p->line > p->cycle) {
		fprintf(stderr, "ndk-perf: the peer's page/cache line sizes make no sense\n");
		return false;
	}
	/* the MTU as verbs' enum ibv_mtu (1: 256 ... 5: 4096) in a 2-byte string */
	for (e = 1; (256u << (e - 1)) < port_mtu && e < 5; e++)
		;
	mtu_mine[0] = (char)('0' + e);
	mtu_mine[1] = '\0';
	if (!xchg(p, mtu_mine, mtu_theirs, 2))
		return false;
	mtu_theirs[1] = '\0';
	rem = strtol(mtu_theirs, NULL, 10);
	if (rem >= 1 && rem < e)
		e = (int)rem;
	p->mtu = 256u << (e - 1);
	return true;
}

/* xchg_bw_reports: size, iterations, peak, average, message rate; big-endian. */
static bool
xchg_report(struct perf *p, const struct bw_report *mine, struct bw_report *theirs)
{
	uint64_t m[5], t[5];
	int i;

	m[0] = bswap_64(mine->size);
	m[1] = bswap_64(mine->iters);
	memcpy(&m[2], &mine->bw_peak, 8);
	memcpy(&m[3], &mine->bw_avg, 8);
	memcpy(&m[4], &mine->msg_rate, 8);
	for (i = 2; i < 5; i++)
		m[i] = bswap_64(m[i]);
	for (i = 0; i < 5; i++)
		if (!xchg(p, &m[i], &t[i], 8))
			return false;
	for (i = 0; i < 5; i++)
		t[i] = bswap_64(t[i]);
	theirs->size = t[0];
	theirs->iters = t[1];
	memcpy(&theirs->bw_peak, &t[2], 8);
	memcpy(&theirs->bw_avg, &t[3], 8);
	memcpy(&theirs->msg_rate, &t[4], 8);
	return true;
}

/* ctx_close_connection: a last handshake, then "done" (not with -R). */
static bool
close_connection(struct perf *p)
{
	bool ok = hand_shake(p) && (p->rdma_cm || full_io(p->fd, "done", sizeof("done"), true));

	if (p->rdma_cm)
		return ok;
	close(p->fd);
	p->fd = -1;
	return ok;
}

/* ---- ndkd side ---------------------------------------------------------- */

static void
cq_notified(void *ctx, ndk_status st)
{
	(void)ctx;
	(void)st;
}

static int
open_ndk(struct perf *p, const char *sock)
{
	struct ndk_adapter_opts ao;
	struct done d = { 0 };
	ndk_status st;

	ndk_adapter_opts_init(&ao, sizeof(ao));
	ao.name = "ndk-perf";
	st = ndk_adapter_open(sock, &ao, &p->ad);
	if (st == NDK_STATUS_SUCCESS)
		st = finish(p->ad, &d, ndk_pd_create(p->ad, create_done, &d, &p->pd));
	if (st == NDK_STATUS_SUCCESS) {
		p->pd = (struct ndk_pd *)d.obj;
		d = (struct done){ 0 };
		st = finish(p->ad, &d,
			    ndk_cq_create_with_notification(p->ad, p->tx_depth + p->rx_depth + 2,
							    cq_notified, NULL, create_done, &d,
							    &p->cq));
	}
	if (st == NDK_STATUS_SUCCESS) {
		p->cq = (struct ndk_cq *)d.obj;
		d = (struct done){ 0 };
		st = finish(p->ad, &d,
			    ndk_qp_create(p->pd, p->cq, p->cq, p, p->rx_depth, p->tx_depth, 1, 1, 0,
					  create_done, &d, &p->qp));
	}
	if (st != NDK_STATUS_SUCCESS) {
		fprintf(stderr, "ndk-perf: cannot set up over ndkd: %s\n", ndk_status_str(st));
		return 1;
	}
	p->qp = (struct ndk_qp *)d.obj;
	return 0;
}

/* perftest's buffer: two BUFF_SIZEs, the peer's target the second. */
static int
open_buffer(struct perf *p)
{
	struct done d = { 0 };
	ndk_status st;

	p->buff = max_u64(p->all ? MAX_SIZE_ALL : p->size, p->cycle);
	p->buf = ndk_mem_alloc(p->ad, 2 * p->buff, 4096);
	st = p->buf != NULL
		     ? finish(p->ad, &d, ndk_mr_create(p->pd, false, create_done, &d, &p->mr))
		     : NDK_STATUS_NO_MEMORY;
	if (st == NDK_STATUS_SUCCESS) {
		if (d.obj != NULL) /* else ndk_mr_create() took one from the pool at once */
			p->mr = (struct ndk_mr *)d.obj;
		d = (struct done){ 0 };
		st = finish(p->ad, &d,
			    ndk_mr_register(p->mr, p->buf, 2 * p->buff,
					    NDK_MR_FLAG_ALLOW_LOCAL_WRITE |
						    NDK_MR_FLAG_ALLOW_REMOTE_WRITE |
						    NDK_MR_FLAG_ALLOW_REMOTE_READ,
					    req_done, &d));
	}
	if (st != NDK_STATUS_SUCCESS) {
		fprintf(stderr, "ndk-perf: cannot register %" PRIu64 " bytes: %s\n", 2 * p->buff,
			ndk_status_str(st));
		return 1;
	}
	memset(p->buf, 0, 2 * p->buff);
	p->token = ndk_mr_get_local_token(p->mr);
	p->my.rkey = ndk_mr_get_remote_token(p->mr);
	p->my.vaddr = (uintptr_t)(p->buf + p->buff);
	return 0;
}

/* One result: false on an error (printed). */
static bool
poll_one(struct perf *p, struct ndk_result_ex *r)
{
	while (ndk_cq_get_results_ex(p->cq, r, 1) == 0) {
		if (p->events) {
			/* armed, then looked at again: a result that came meanwhile wakes us anyway
			 */
			struct pollfd pfd = { .fd = ndk_adapter_event_fd(p->ad), .events = POLLIN };

			ndk_cq_arm(p->cq, NDK_CQ_NOTIFY_ANY);
			if (ndk_cq_get_results_ex(p->cq, r, 1) != 0)
				break;
			if (pfd.fd >= 0)
				(void)poll(&pfd, 1, 1000);
		}
		ndk_adapter_progress(p->ad, 0);
	}
	if (r->status != NDK_STATUS_SUCCESS) {
		fprintf(stderr, " Completion with error: %s (0x%08x)\n", ndk_status_str(r->status),
			r->status);
		return false;
	}
	return true;
}

static ndk_status
post_rdma(struct perf *p, uint8_t *local, uint64_t remote)
{
	struct ndk_sge sge = { .virtual_address = local,
			       .length = (uint32_t)p->size,
			       .memory_region_token = p->token };

	return tests[p->test].read ? ndk_qp_read(p->qp, NULL, &sge, 1, remote, p->rem.rkey, 0)
				   : ndk_qp_write(p->qp, NULL, &sge, 1, remote, p->rem.rkey, 0);
}

static bool
post_recv(struct perf *p)
{
	struct ndk_sge sge = { .virtual_address = p->buf + p->buff,
			       .length = (uint32_t)p->size,
			       .memory_region_token = p->token };

	return ndk_qp_receive(p->qp, NULL, &sge, 1) == NDK_STATUS_SUCCESS;
}

/* ---- the tests ---------------------------------------------------------- */

/* Iteration i of a latency test: its post time, one write or read of the buffer, its result. */
static bool
rdma_once(struct perf *p, uint64_t i)
{
	struct ndk_result_ex r;

	p->tposted[i] = now_ns();
	if (post_rdma(p, p->buf, p->rem.vaddr) != NDK_STATUS_SUCCESS) {
		fprintf(stderr, "Couldn't post send: scnt=%" PRIu64 "\n", i);
		return false;
	}
	return poll_one(p, &r);
}

/*
 * The client's bandwidth run: iters requests, tx_depth in flight; the
 * peer's address cycles through its cycle buffer as perftest's does when
 * the size allows.
 */
static bool
run_bw(struct perf *p)
{
	uint64_t inc = (p->size + p->line - 1) / p->line * p->line, slots = 1;
	uint64_t scnt = 0, ccnt = 0;

	if (p->size <= p->cycle / 2)
		slots = p->cycle / inc;
	while (ccnt < p->iters) {
		struct ndk_result_ex r;

		while (scnt < p->iters && scnt - ccnt < p->tx_depth) {
			uint64_t off = (scnt % slots) * inc;

			p->tposted[scnt] = now_ns();
			if (post_rdma(p, p->buf + off, p->rem.vaddr + off) != NDK_STATUS_SUCCESS) {
				fprintf(stderr, "Couldn't post send: scnt=%" PRIu64 "\n", scnt);
				return false;
			}
			scnt++;
		}
		if (!poll_one(p, &r))
			return false;
		p->tcompleted[ccnt++] = now_ns();
	}
	return true;
}

/*
 * Peak: the best run of 100 requests, from the first one's post to the
 * last one's result (perftest's is the best of its CQ-moderation windows);
 * average: all of it, first post to last result.
 */
static struct bw_report
bw_figures(const struct perf *p)
{
	const uint64_t w = 100;
	struct bw_report b = { .size = p->size, .iters = p->iters };
	double total = (double)(p->tcompleted[p->iters - 1] - p->tposted[0]) / 1e9;
	double best = total / (double)p->iters;
	uint64_t j;

	for (j = w - 1; j < p->iters; j++) {
		double t = (double)(p->tcompleted[j] - p->tposted[j - w + 1]) / 1e9 / (double)w;

		if (t > 0 && t < best)
			best = t;
	}
	b.bw_avg = (double)p->size * (double)p->iters / total / 1048576.0;
	b.bw_peak = (double)p->size / best / 1048576.0;
	b.msg_rate = (double)p->iters / total / 1e6;
	return b;
}

static void
print_bw(const struct bw_report *b)
{
	printf(" %-7" PRIu64 "    %-10" PRIu64 "       %-7.2f            %-7.2f\t\t   %-7.6f\n",
	       b->size, b->iters, b->bw_peak, b->bw_avg, b->msg_rate);
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * perftest's latency line: the gaps between consecutive posts, halved for
 * the ping-pongs (a round trip each), whole for reads; sorted, less the
 * two largest.
 */
static void
print_lat(const struct perf *p)
{
	double f = tests[p->test].read ? 1000.0 : 2000.0, sum = 0, var = 0, avg;
	uint64_t n = p->iters - 1, i, mid, *d;

	if (p->iters < 4) {
		printf(" %-7" PRIu64 " %" PRIu64 "  (too few iterations for figures)\n", p->size,
		       p->iters);
		return;
	}
	d = calloc(n, sizeof(*d));
	if (d == NULL)
		return;
	for (i = 0; i < n; i++)
		d[i] = p->tposted[i + 1] - p->tposted[i];
	if (p->lat_file != NULL) {
		FILE *lf = fopen(p->lat_file, "w");

		for (i = 0; lf != NULL && i < n; i++)
			fprintf(lf, "%.0f\n", (double)d[i] * 1000.0 / f);
		if (lf == NULL || fclose(lf) != 0)
			fprintf(stderr, "ndk-perf: %s: %s\n", p->lat_file, strerror(errno));
	}
	qsort(d, n, sizeof(*d), cmp_u64);
	n -= 2;
	mid = n / 2;
	for (i = 0; i < n; i++)
		sum += (double)d[i] / f;
	avg = sum / (double)n;
	for (i = 0; i < n; i++)
		var += ((double)d[i] / f - avg) * ((double)d[i] / f - avg);
	printf(" %-7" PRIu64 " %" PRIu64 "          %-7.2f        %-7.2f      %-7.2f  \t       "
	       "%-7.2f     \t%-7.2f\t\t%-7.2f \t\t%-7.2f\n",
	       p->size, p->iters, (double)d[0] / f, (double)d[n] / f, (double)d[mid] / f, avg,
	       sqrt(var / (double)n), (double)d[(uint64_t)ceil((double)n * 0.99) - 1] / f,
	       (double)d[(uint64_t)ceil((double)n * 0.999) - 1] / f);
	free(d);
}

/*
 * write_lat: each side writes size bytes into the other's buffer, the last
 * carrying the iteration number, and waits for the peer's write to bring
 * the next one; the server goes first.
 */
static bool
run_write_lat(struct perf *p)
{
	volatile uint8_t *poll = p->buf + p->buff + p->size - 1;
	uint64_t scnt = 0, rcnt = 0;

	while (scnt < p->iters || rcnt < p->iters) {
		if (rcnt < p->iters && !(scnt < 1 && p->server == NULL)) {
			rcnt++;
			while (*poll != (uint8_t)rcnt)
				ndk_adapter_progress(p->ad, 0);
		}
		if (scnt < p->iters) {
			p->buf[p->size - 1] = (uint8_t)(scnt + 1);
			if (!rdma_once(p, scnt++))
				return false;
		}
	}
	return true;
}

/* read_lat: the client reads, one at a time. */
static bool
run_read_lat(struct perf *p)
{
	uint64_t i;

	for (i = 0; i < p->iters; i++)
		if (!rdma_once(p, i))
			return false;
	return true;
}

/* send_lat: sends ping-pong, the client first; receives posted ahead (rx_depth). */
static bool
run_send_lat(struct perf *p)
{
	struct ndk_sge sge = { .virtual_address = p->buf,
			       .length = (uint32_t)p->size,
			       .memory_region_token = p->token };
	uint64_t scnt = 0, sdone = 0, rcnt = 0, posted = p->rx_depth;
	struct ndk_result_ex r;

	while (scnt < p->iters || rcnt < p->iters) {
		if (rcnt < p->iters && !(scnt < 1 && p->server != NULL)) {
			for (;;) {
				if (!poll_one(p, &r))
					return false;
				if (r.type == NDK_OP_TYPE_RECEIVE)
					break;
				sdone++;
			}
			rcnt++;
			if (posted < p->iters) {
				if (!post_recv(p)) {
					fprintf(stderr, "Couldn't post recv: rcnt=%" PRIu64 "\n",
						rcnt);
					return false;
				}
				posted++;
			}
		}
		if (scnt < p->iters) {
			p->tposted[scnt++] = now_ns();
			if (ndk_qp_send(p->qp, NULL, &sge, 1, 0) != NDK_STATUS_SUCCESS) {
				fprintf(stderr, "Couldn't post send: scnt=%" PRIu64 "\n", scnt);
				return false;
			}
		}
	}
	while (sdone < scnt) /* the last sends' own results */
		if (poll_one(p, &r))
			sdone++;
		else
			return false;
	return true;
}

static bool
post_receives(struct perf *p)
{
	uint32_t i;

	for (i = 0; i < p->rx_depth; i++)
		if (!post_recv(p)) {
			fprintf(stderr, "Couldn't post receive (%u)\n", i);
			return false;
		}
	return true;
}

static void
print_addr(const char *side, const struct perf *p, const struct dest *d)
{
	char gid[INET6_ADDRSTRLEN];

	printf(" %s address: LID %#04x QPN %#06x PSN %#06x", side, d->lid, d->qpn, d->psn);
	if (tests[p->test].read)
		printf(" OUT %#04x", d->out_reads);
	if (!tests[p->test].send)
		printf(" RKey %#08x VAddr %#016" PRIx64, d->rkey, d->vaddr);
	inet_ntop(AF_INET6, d->gid, gid, sizeof(gid));
	printf("\n GID: %s\n", gid);
}

static void
print_head(const struct perf *p)
{
	printf(LINE "                    %s\n", tests[p->test].title);
	printf(" Connection type : RC\t\tUsing SRQ      : OFF\n");
	printf(" Mtu             : %u[B]\n", p->mtu);
	printf(" Link type       : Ethernet (RoCEv2 over ndkd)\n");
	if (tests[p->test].bw)
		printf(" TX depth        : %u\n", p->tx_depth);
	if (tests[p->test].read)
		printf(" Outstand reads  : %u\n", (uint32_t)min_u64(p->rem.out_reads, OUR_IRD));
	printf(LINE);
}

/* Everything after the exchange of keys: the runs, the reports, the close. */
static bool
run(struct perf *p)
{
	const bool bw = tests[p->test].bw, client = p->server != NULL;
	uint64_t size = p->all ? 2 : p->size, last = p->all ? MAX_SIZE_ALL : p->size;
	bool ok = true;

	if (bw && !client) {
		/* the server waits for the client's end, and prints its figures */
		struct bw_report mine = { 0 }, theirs;

		if (!hand_shake(p) || !xchg_report(p, &mine, &theirs))
			return false;
		printf(LINE " #bytes     #iterations    BW peak[MB/sec]    BW average[MB/sec]   "
			    "MsgRate[Mpps]\n");
		print_bw(&theirs);
		printf(LINE);
		return close_connection(p);
	}
	if (p->test == READ_LAT && !client)
		return close_connection(p);
	printf(LINE "%s\n",
	       bw ? " #bytes     #iterations    BW peak[MB/sec]    BW average[MB/sec]   "
		    "MsgRate[Mpps]"
		  : " #bytes #iterations    t_min[usec]    t_max[usec]  t_typical[usec]    "
		    "t_avg[usec]    t_stdev[usec]   99% percentile[usec]   99.9% "
		    "percentile[usec] ");
	for (; ok && size <= last; size *= 2) {
		struct bw_report b;

		p->size = size;
		switch (p->test) {
		case WRITE_BW:
		case READ_BW:
			ok = run_bw(p);
			if (ok) {
				b = bw_figures(p);
				print_bw(&b);
			}
			break;
		case WRITE_LAT:
			ok = run_write_lat(p);
			break;
		case READ_LAT:
			ok = run_read_lat(p);
			break;
		case SEND_LAT:
			ok = post_receives(p) && hand_shake(p) && run_send_lat(p);
			break;
		}
		if (ok && !bw)
			print_lat(p);
	}
	printf(LINE);
	if (!ok)
		return false;
	if (bw) {
		struct bw_report b = bw_figures(p), theirs;

		return hand_shake(p) && xchg_report(p, &b, &theirs) && close_connection(p);
	}
	if (p->test == WRITE_LAT) /* perftest closes nothing after write_lat */
		return true;
	return close_connection(p);
}

/* ---- -R: connections through the CM ----------------------------------- */

static void
on_connect(void *ctx, struct ndk_connector *c)
{
	struct perf *p = ctx;

	if (p->n_incoming < 2)
		p->incoming[p->n_incoming++] = c; /* the control connection, then the test's */
	else
		ndk_connector_close(c, NULL, NULL);
}

/* The next result of the control QP: its status. */
static ndk_status
ctl_wait(struct perf *p, void *ctx)
{
	uint64_t deadline = now_ns() + 60000000000ull;
	struct ndk_result_ex r;

	while (now_ns() < deadline) {
		if (ndk_cq_get_results_ex(p->ctl_cq, &r, 1) == 0) {
			ndk_adapter_progress(p->ad, 0);
			continue;
		}
		return r.request_context == ctx ? r.status : NDK_STATUS_UNSUCCESSFUL;
	}
	return NDK_STATUS_IO_TIMEOUT;
}

static bool
ctl_send(struct perf *p, const void *msg, size_t len)
{
	struct ndk_sge sge = { .virtual_address = p->ctl_buf,
			       .length = (uint32_t)len,
			       .memory_region_token = ndk_mr_get_local_token(p->ctl_mr) };
	ndk_status st;

	memcpy(p->ctl_buf, msg, len);
	st = ndk_qp_send(p->ctl_qp, p->ctl_buf, &sge, 1, 0);
	if (st == NDK_STATUS_SUCCESS)
		st = ctl_wait(p, p->ctl_buf);
	if (st != NDK_STATUS_SUCCESS)
		fprintf(stderr, " Unable to write to rdma_cm: %s\n", ndk_status_str(st));
	return st == NDK_STATUS_SUCCESS;
}

/*
 * The message the posted receive brought (len bytes of it; msg NULL: only
 * post the first receive), then the next receive posted, as perftest's
 * rdma_read_keys() does: the peer may send as soon as it has read.
 */
static bool
ctl_recv(struct perf *p, void *msg, size_t len)
{
	struct ndk_sge sge = { .virtual_address = p->ctl_buf + 64,
			       .length = 64,
			       .memory_region_token = ndk_mr_get_local_token(p->ctl_mr) };
	ndk_status st = NDK_STATUS_SUCCESS;

	if (msg != NULL) {
		st = ctl_wait(p, p->ctl_buf + 64);
		if (st == NDK_STATUS_SUCCESS)
			memcpy(msg, p->ctl_buf + 64, len);
	}
	if (st == NDK_STATUS_SUCCESS)
		st = ndk_qp_receive(p->ctl_qp, p->ctl_buf + 64, &sge, 1);
	if (st != NDK_STATUS_SUCCESS)
		fprintf(stderr, " Unable to read from rdma_cm: %s\n", ndk_status_str(st));
	return st == NDK_STATUS_SUCCESS;
}

/* The control QP (a CQ of its own) and its two 64-byte buffers, a receive posted. */
static bool
ctl_open(struct perf *p)
{
	struct done d = { 0 };
	ndk_status st;

	st = finish(p->ad, &d, ndk_cq_create(p->ad, 8, create_done, &d, &p->ctl_cq));
	if (st == NDK_STATUS_SUCCESS) {
		p->ctl_cq = (struct ndk_cq *)d.obj;
		d = (struct done){ 0 };
		st = finish(p->ad, &d,
			    ndk_qp_create(p->pd, p->ctl_cq, p->ctl_cq, p, 2, 2, 1, 1, 0,
					  create_done, &d, &p->ctl_qp));
	}
	if (st == NDK_STATUS_SUCCESS) {
		p->ctl_qp = (struct ndk_qp *)d.obj;
		d = (struct done){ 0 };
		p->ctl_buf = ndk_mem_alloc(p->ad, 128, 64);
		st = p->ctl_buf != NULL
			     ? finish(p->ad, &d,
				      ndk_mr_create(p->pd, false, create_done, &d, &p->ctl_mr))
			     : NDK_STATUS_NO_MEMORY;
	}
	if (st == NDK_STATUS_SUCCESS) {
		if (d.obj != NULL) /* else ndk_mr_create() took one from the pool at once */
			p->ctl_mr = (struct ndk_mr *)d.obj;
		d = (struct done){ 0 };
		st = finish(p->ad, &d,
			    ndk_mr_register(p->ctl_mr, p->ctl_buf, 128,
					    NDK_MR_FLAG_ALLOW_LOCAL_WRITE, req_done, &d));
	}
	if (st == NDK_STATUS_SUCCESS)
		st = ndk_connector_create(p->ad, &p->ctl_conn);
	if (st == NDK_STATUS_SUCCESS)
		st = ndk_connector_create(p->ad, &p->conn);
	if (st != NDK_STATUS_SUCCESS) {
		fprintf(stderr, "ndk-perf: cannot set up the control QP: %s\n", ndk_status_str(st));
		return false;
	}
	return ctl_recv(p, NULL, 0);
}

/* Server: listen on the port, for the control connection and then the test's. */
static bool
cm_listen(struct perf *p)
{
	struct ndk_qp_address a = { .family = NDK_ADDRESS_ROCEV2, .port = (uint16_t)p->port };
	struct done d = { 0 };
	ndk_status st = ndk_listener_create(p->ad, on_connect, p, &p->listener);

	if (st == NDK_STATUS_SUCCESS)
		st = finish(p->ad, &d, ndk_listener_listen(p->listener, &a, req_done, &d));
	if (st != NDK_STATUS_SUCCESS)
		fprintf(stderr, "ndk-perf: cannot listen on port %u: %s\n", p->port,
			ndk_status_str(st));
	return st == NDK_STATUS_SUCCESS;
}

/* IRD, as perftest asks: reads only for reads, as many as ndkd's responder takes. */
static uint32_t
reads(const struct perf *p)
{
	return tests[p->test].read ? OUR_IRD : 0;
}

/* ORD: as perftest asks, the device's most (ndkd's requester has 16 out, whatever is granted). */
static uint32_t
reads_out(const struct perf *p)
{
	struct ndk_adapter_info info = { 0 };
	uint32_t size = sizeof(info);

	if (!tests[p->test].read ||
	    ndk_adapter_query_info(p->ad, &info, &size) != NDK_STATUS_SUCCESS)
		return 0;
	return info.max_outbound_read_limit;
}

/* Server: connection n (0: control, 1: the test's), accepted on qp. */
static bool
cm_accept(struct perf *p, int n, struct ndk_qp *qp, struct ndk_connector **c)
{
	uint64_t deadline = now_ns() + 60000000000ull;
	struct done d = { 0 };
	ndk_status st;

	while (p->n_incoming <= n && now_ns() < deadline)
		ndk_adapter_progress(p->ad, 0);
	if (p->n_incoming <= n) {
		fprintf(stderr, "ndk-perf: no connection came\n");
		return false;
	}
	ndk_connector_close(*c, NULL, NULL);
	*c = p->incoming[n];
	st = finish(p->ad, &d,
		    ndk_connector_accept(*c, qp, reads(p), reads_out(p), NULL, 0, req_done, &d));
	if (st != NDK_STATUS_SUCCESS)
		fprintf(stderr, "ndk-perf: accept: %s\n", ndk_status_str(st));
	return st == NDK_STATUS_SUCCESS;
}

/*
 * Client: connect qp to the server's address; refused while the server is
 * not listening yet (perftest listens anew for the test's connection), try
 * again, as perftest's own client does.
 */
static bool
cm_connect(struct perf *p, struct ndk_qp *qp, struct ndk_connector *c)
{
	struct ndk_qp_address a = { .family = NDK_ADDRESS_ROCEV2,
				    .port = (uint16_t)p->port,
				    .sgid = p->gid_index + 1 };
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *ai;
	ndk_status st = NDK_STATUS_CONNECTION_REFUSED;
	int tries;

	if (getaddrinfo(p->server, NULL, &hints, &ai) != 0) {
		fprintf(stderr, "ndk-perf: no IPv4 address for %s\n", p->server);
		return false;
	}
	a.ip[10] = a.ip[11] = 0xff;
	memcpy(a.ip + 12, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, 4);
	freeaddrinfo(ai);
	for (tries = 0; tries < 100 && st == NDK_STATUS_CONNECTION_REFUSED; tries++) {
		struct done d = { 0 };

		if (tries > 0)
			usleep(100000);
		st = finish(p->ad, &d,
			    ndk_connector_connect(c, qp, &a, reads(p), reads_out(p), NULL, 0,
						  req_done, &d));
	}
	if (st != NDK_STATUS_SUCCESS)
		fprintf(stderr, " Failed to connect through RDMA CM: %s\n", ndk_status_str(st));
	return st == NDK_STATUS_SUCCESS;
}

/* The control connection, where the TCP one would be. */
static bool
cm_control(struct perf *p)
{
	if (!ctl_open(p))
		return false;
	if (p->server != NULL)
		return cm_connect(p, p->ctl_qp, p->ctl_conn);
	return cm_listen(p) && cm_accept(p, 0, p->ctl_qp, &p->ctl_conn);
}

/* After the test, as perftest ends: the server disconnects, the client waits for it. */
static void
cm_end(struct perf *p)
{
	uint64_t deadline = now_ns() + 5000000000ull;
	struct done d = { 0 };
	ndk_status st;

	st = p->server == NULL ? ndk_connector_disconnect(p->conn, req_done, &d)
			       : ndk_connector_notify_disconnect(p->conn, req_done, &d);
	while (st == NDK_STATUS_PENDING && d.calls == 0 && now_ns() < deadline)
		ndk_adapter_progress(p->ad, 0);
}

/* The test, once the options are read: 0 or 1, main's exit status. */
static int
session(struct perf *p, const char *sock, uint32_t want_mtu)
{
	struct ndk_qp_address la;
	ndk_status st;

	if (open_ndk(p, sock) != 0)
		return 1;
	st = ndk_qp_get_rocev2_address_at(p->qp, p->gid_index, &la);
	if (st != NDK_STATUS_SUCCESS) {
		fprintf(stderr, "ndk-perf: no RoCEv2 address: %s (does ndkd have a --port?)\n",
			ndk_status_str(st));
		return 1;
	}
	if (want_mtu != 0 && want_mtu < la.mtu)
		la.mtu = want_mtu;
	if (p->server == NULL)
		printf("\n************************************\n"
		       "* Waiting for client to connect... *\n"
		       "************************************\n");
	if (p->rdma_cm) {
		if (!cm_control(p))
			return 1;
	} else {
		p->fd = tcp_socket(p->server, p->port);
		if (p->fd >= 0 && p->server == NULL)
			p->fd = tcp_accept_one(p->fd);
		if (p->fd < 0)
			return 1;
	}
	if (!preamble(p, la.mtu) || open_buffer(p) != 0)
		return 1;
	p->my.out_reads = OUR_IRD;
	p->my.qpn = la.qpn;
	p->my.psn = la.psn;
	memcpy(p->my.gid, la.ip, 16);
	print_head(p);
	/* -R: a handshake, the CM's connection, a handshake */
	if (p->rdma_cm && (!hand_shake(p) ||
			   !(p->server != NULL ? cm_connect(p, p->qp, p->conn)
					       : cm_accept(p, 1, p->qp, &p->conn)) ||
			   !hand_shake(p)))
		return 1;
	/*
	 * perftest's handshakes: one before the connect (two in write_lat and
	 * read_lat), two after it.
	 */
	if (!hand_shake(p) || ((p->test == WRITE_LAT || p->test == READ_LAT) && !hand_shake(p)))
		return 1;
	st = p->rdma_cm ? NDK_STATUS_SUCCESS
			: qp_connect_rocev2(p->ad, p->qp, p->rem.gid, p->rem.qpn, p->rem.psn,
					    p->mtu, (int)p->gid_index);
	if (st != NDK_STATUS_SUCCESS) {
		fprintf(stderr, " Unable to Connect the HCA's through the link: %s\n",
			ndk_status_str(st));
		return 1;
	}
	print_addr("local", p, &p->my);
	if (!hand_shake(p))
		return 1;
	print_addr("remote", p, &p->rem);
	if (!hand_shake(p))
		return 1;
	if (!run(p))
		return 1;
	if (p->rdma_cm)
		cm_end(p);
	return 0;
}

static int
test_by_name(const char *s)
{
	size_t i;

	if (strncmp(s, "ib_", 3) == 0)
		s += 3;
	for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
		if (strcmp(s, tests[i].name) == 0)
			return (int)i;
	return -1;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "port", 1, NULL, 'p' },	  { "size", 1, NULL, 's' },
		{ "iters", 1, NULL, 'n' },	  { "all", 0, NULL, 'a' },
		{ "tx-depth", 1, NULL, 't' },	  { "mtu", 1, NULL, 'm' },
		{ "ib-dev", 1, NULL, 'd' },	  { "ib-port", 1, NULL, 'i' },
		{ "gid-index", 1, NULL, 'x' },	  { "connection", 1, NULL, 'c' },
		{ "CPU-freq", 0, NULL, 'F' },	  { "rdma_cm", 0, NULL, 'R' },
		{ "socket", 1, NULL, 'S' },	  { "help", 0, NULL, 'h' },
		{ "latency-file", 1, NULL, 'L' }, { NULL, 0, NULL, 0 },
	};
	const char *base = strrchr(argv[0], '/') != NULL ? strrchr(argv[0], '/') + 1 : argv[0];
	const char *sock = getenv("NDK_SOCKET");
	struct perf p = { .port = 18515, .tx_depth = 128, .cycle = 4096, .line = 64, .fd = -1 };
	uint64_t size = 0, iters = 0;
	uint32_t want_mtu = 0;
	int c, t = test_by_name(base);

	if (t < 0 && argc > 1 && argv[1][0] != '-') {
		t = test_by_name(argv[1]);
		if (t < 0) {
			fprintf(stderr, "ndk-perf: unknown test \"%s\"\n", argv[1]);
			usage(base);
			return 1;
		}
		argv[1] = argv[0];
		argv++;
		argc--;
	}
	while ((c = getopt_long(argc, argv, "p:s:n:at:m:d:i:x:c:eFRS:L:h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			p.port = (unsigned int)strtoul(optarg, NULL, 0);
			break;
		case 's':
			size = strtoull(optarg, NULL, 0);
			break;
		case 'n':
			iters = strtoull(optarg, NULL, 0);
			break;
		case 'a':
			p.all = true;
			break;
		case 't':
			p.tx_depth = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 'm':
			want_mtu = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 'c':
			if (strcmp(optarg, "RC") != 0) {
				fprintf(stderr, "ndk-perf: connection type %s: only RC\n", optarg);
				return 1;
			}
			break;
		case 'e':
			p.events = true;
			break;
		case 'R':
			p.rdma_cm = true;
			break;
		case 'S':
			sock = optarg;
			break;
		case 'L':
			p.lat_file = optarg;
			break;
		case 'x':
			p.gid_index = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 'd':
		case 'i':
		case 'F':
			break;
		case 'h':
			usage(base);
			return 0;
		default:
			usage(base);
			return 1;
		}
	}
	if (t < 0) {
		usage(base);
		return 1;
	}
	p.test = (enum test)t;
	if (optind == argc - 1)
		p.server = argv[optind];
	else if (optind < argc) {
		usage(base);
		return 1;
	}
	p.size = size != 0 ? size : tests[t].bw ? 65536 : 2;
	p.iters = iters != 0 ? iters : t == WRITE_BW ? 5000 : 1000;
	if (!tests[t].bw) /* one at a time; a ping-pong's unreaped send results need room */
		p.tx_depth = tests[t].send ? 16 : 1;
	p.rx_depth = tests[t].send ? (uint32_t)min_u64(p.iters, 512) : 1;
	if (p.port == 0 || p.port > 65535 || p.size > (1u << 24) || p.iters < 2 ||
	    p.iters > 100000000 || p.tx_depth == 0 || p.tx_depth > 4096 ||
	    (want_mtu != 0 && (want_mtu < 256 || want_mtu > 4096 || (want_mtu & (want_mtu - 1))))) {
		usage(base);
		return 1;
	}
	p.tposted = calloc(p.iters, sizeof(uint64_t));
	p.tcompleted = calloc(p.iters, sizeof(uint64_t));
	c = p.tposted != NULL && p.tcompleted != NULL ? session(&p, sock, want_mtu) : 1;
	if (p.conn != NULL)
		ndk_connector_close(p.conn, NULL, NULL);
	if (p.ctl_conn != NULL)
		ndk_connector_close(p.ctl_conn, NULL, NULL);
	if (p.ad != NULL)
		ndk_adapter_close(p.ad); /* the listener and the rest with it */
	if (p.fd >= 0)
		close(p.fd);
	free(p.tposted);
	free(p.tcompleted);
	return c;
}
