/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ndk-bench: ndkd's figures next to the machine's own limits, measured in the
 * same run. The client runs on one core, the peer (ndkd's engine, or the
 * baseline's responder thread) on another.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ndk/ndk.h>

#include "mrt.h"
#include "ndkd.h" /* NDKD_CHUNK_BYTES: what one chunk costs */
#include "rdma_util.h"
#include "blocks.h"
#include "shim.h"
#include "testlib.h"

static int client_cpu = -1, peer_cpu = -1;

static bool
hugepages_free(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[128];
	unsigned long n = 0;

	while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "HugePages_Free: %lu", &n) == 1)
			break;
	}
	if (f != NULL)
		fclose(f);
	return n >= 64;
}

static void
pick_cpus(void)
{
	const char *env = getenv("NDK_BENCH_CPUS");
	cpu_set_t set;
	int cpu;

	if (env != NULL && sscanf(env, "%d,%d", &client_cpu, &peer_cpu) == 2)
		return;
	if (sched_getaffinity(0, sizeof(set), &set) != 0)
		return;
	for (cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (!CPU_ISSET(cpu, &set))
			continue;
		if (client_cpu < 0)
			client_cpu = cpu;
		else if (peer_cpu < 0)
			peer_cpu = cpu;
	}
}

static int
pin_self(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

/* ---------------------------------------------------------------------------
 * Baseline: a request/response over a unix socket, busy-polled both ends.
 * ------------------------------------------------------------------------ */

struct sock_rpc {
	int fd;
	_Atomic bool stop;
};

static void *
rpc_server(void *arg)
{
	struct sock_rpc *r = arg;
	char buf[64];

	pin_self(peer_cpu);
	while (!atomic_load_explicit(&r->stop, memory_order_relaxed)) {
		if (recv(r->fd, buf, sizeof(buf), MSG_DONTWAIT) == (ssize_t)sizeof(buf))
			send(r->fd, buf, sizeof(buf), 0);
	}
	return NULL;
}

static void
bm_unix_socket_rpc(struct nb_state *st)
{
	struct sock_rpc r = { 0 };
	char buf[64] = { 1 };
	pthread_t th;
	int sv[2];

	if (peer_cpu < 0 || socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) != 0) {
		nb_skip(st, "needs two CPUs and socketpair");
		return;
	}
	r.fd = sv[1];
	pin_self(client_cpu);
	pthread_create(&th, NULL, rpc_server, &r);
	while (nb_keep_running(st)) {
		send(sv[0], buf, sizeof(buf), 0);
		while (recv(sv[0], buf, sizeof(buf), MSG_DONTWAIT) != (ssize_t)sizeof(buf))
			;
	}
	atomic_store(&r.stop, true);
	pthread_join(th, NULL);
	close(sv[0]);
	close(sv[1]);
}

/* ---------------------------------------------------------------------------
 * ndkd: a daemon started once for the whole run, engine on the peer core.
 * ------------------------------------------------------------------------ */

static struct tdaemon daemon_fx;
static bool daemon_up;

static void
stop_daemon(void)
{
	if (daemon_up)
		tdaemon_stop(&daemon_fx);
}

static struct ndk_adapter *bench_adapter(struct nb_state *st);

/*
 * ndkd's arguments beside testlib's: hugepages when the machine has some
 * free, as ndkd would choose itself; then poll (NULL: ndkd's default).
 */
static const char *const *
daemon_args(const char *poll)
{
	static const char *args[4];
	int n = 0;

	if (hugepages_free())
		args[n++] = "--huge";
	if (poll != NULL) {
		args[n++] = "--poll";
		args[n++] = poll;
	}
	args[n] = NULL;
	return args;
}

/* Make sure the daemon runs; returns a non-NULL token when it does. */
static void *
bench_adapter_daemon(struct nb_state *st)
{
	struct ndk_adapter *ad = bench_adapter(st);

	if (ad == NULL)
		return NULL;
	ndk_adapter_close(ad);
	return &daemon_fx;
}

/*
 * Each ndk benchmark attaches for its own run and detaches after it: an
 * engine with no client naps instead of polling, so it does not steal the
 * peer core from the baselines that run between ndk benchmarks.
 */
static struct ndk_adapter *
bench_adapter(struct nb_state *st)
{
	static char lcores[32];
	struct ndk_adapter *adapter;

	if (peer_cpu < 0) {
		nb_skip(st, "needs two CPUs");
		return NULL;
	}
	if (!daemon_up) {
		/* main lcore (sleeps in epoll) beside the client, engine alone on the peer core */
		snprintf(lcores, sizeof(lcores), "%d,%d", client_cpu, peer_cpu);
		setenv("NDKD_TEST_LCORES", lcores, 1);
		if (tdaemon_start(&daemon_fx, "bench", daemon_args(NULL)) != 0) {
			nb_skip(st, "ndkd did not start (set NDKD_BIN)");
			return NULL;
		}
		daemon_up = true;
		atexit(stop_daemon);
	}
	if (ndk_adapter_open(daemon_fx.sock, NULL, &adapter) != NDK_STATUS_SUCCESS) {
		nb_skip(st, "cannot attach to ndkd");
		return NULL;
	}
	return adapter;
}

static void
count_cb(void *ctx, ndk_status s)
{
	(void)s;
	(*(uint64_t *)ctx)++;
}

static void
bm_nop_batch(struct nb_state *st)
{
	struct ndk_adapter *ad = bench_adapter(st);
	uint64_t done = 0, want = 0;
	int64_t batch = nb_arg(st), i;

	if (ad == NULL)
		return;
	pin_self(client_cpu);
	while (nb_keep_running(st)) {
		for (i = 0; i < batch; i++)
			ndk_adapter_nop(ad, i + 1 < batch ? NDK_OP_FLAG_DEFER : 0, count_cb, &done);
		want += (uint64_t)batch;
		while (done != want)
			ndk_adapter_progress(ad, 0);
	}
	nb_set_items(st, nb_iterations(st) * batch);
	ndk_adapter_close(ad);
}

struct cb_wait {
	int calls;
	struct ndk_object_header *obj;
};

static void
cb_req(void *ctx, ndk_status st)
{
	(void)st;
	((struct cb_wait *)ctx)->calls++;
}

static void
cb_create(void *ctx, ndk_status st, struct ndk_object_header *obj)
{
	(void)st;
	((struct cb_wait *)ctx)->calls++;
	((struct cb_wait *)ctx)->obj = obj;
}

static void
cb_close(void *ctx)
{
	((struct cb_wait *)ctx)->calls++;
}

static void
wait_cb(struct ndk_adapter *ad, struct cb_wait *w)
{
	while (w->calls == 0)
		ndk_adapter_progress(ad, 0);
	w->calls = 0;
}

/*
 * The control path as an app drives it: create an MR, register an arena
 * buffer of the given size, deregister, close. Create and close are served
 * from the PD's pool; register and deregister are one ring round trip each.
 */
static void
bm_mr_cycle(struct nb_state *st)
{
	struct ndk_adapter *ad = bench_adapter(st);
	size_t size = (size_t)nb_arg(st);
	struct cb_wait w = { 0 };
	struct ndk_pd *pd;
	char *buf;

	if (ad == NULL)
		return;
	pin_self(client_cpu);
	if (ndk_pd_create(ad, cb_create, &w, &pd) != NDK_STATUS_PENDING) {
		nb_skip(st, "PD create failed");
		ndk_adapter_close(ad);
		return;
	}
	wait_cb(ad, &w);
	pd = (struct ndk_pd *)w.obj;
	/* A hugetlb arena cannot grow past the free hugepages: say so, not hang. */
	buf = ndk_mem_alloc(ad, size, 4096);
	if (buf == NULL)
		nb_skip(st, "arena allocation failed (too few free hugepages?)");
	while (buf != NULL && nb_keep_running(st)) {
		struct ndk_mr *mr;

		if (ndk_mr_create(pd, false, cb_create, &w, &mr) == NDK_STATUS_PENDING) {
			wait_cb(ad, &w);
			mr = (struct ndk_mr *)w.obj;
		}
		if (ndk_mr_register(mr, buf, size, NDK_MR_FLAG_ALLOW_REMOTE_WRITE, cb_req, &w) !=
		    NDK_STATUS_PENDING) {
			nb_skip(st, "MR register refused");
			if (ndk_mr_close(mr, cb_close, &w) == NDK_STATUS_PENDING)
				wait_cb(ad, &w);
			break;
		}
		wait_cb(ad, &w);
		ndk_mr_deregister(mr, cb_req, &w);
		wait_cb(ad, &w);
		if (ndk_mr_close(mr, cb_close, &w) == NDK_STATUS_PENDING)
			wait_cb(ad, &w);
	}
	if (buf != NULL)
		ndk_mem_free(ad, buf);
	if (ndk_pd_close(pd, cb_close, &w) == NDK_STATUS_PENDING)
		wait_cb(ad, &w);
	ndk_adapter_close(ad);
}

/*
 * Fairness: a client's NOP round trip on an engine where another client
 * keeps a 16 MiB write going on each of 64 QPs, against the same NOP with
 * that client idle, and a chunk-sized memcpy (what one chunk costs), in
 * alternating blocks in this process. Counters: the medians over blocks of
 * the idle and flooded p50 and p99, of the chunk time, and of the per-block
 * excess of the flooded p99 over the idle one in chunk times.
 */
#define FLOOD_QPS   64
#define FLOOD_BYTES (16u << 20)
#define FAIR_BLOCKS 9
#define FAIR_NOPS   400

struct flooder {
	struct side s;
	struct ndk_qp *qp[FLOOD_QPS];
	bool busy[FLOOD_QPS];
	_Atomic bool on, stop;
	_Atomic unsigned int outstanding;
	bool ok;
};

static void *
flooder_main(void *arg)
{
	struct flooder *f = arg;
	struct ndk_sge sge = { .virtual_address = f->s.buf,
			       .length = FLOOD_BYTES,
			       .memory_region_token = f->s.token };
	struct ndk_result_ex r[64];
	unsigned int i, n;

	while (!atomic_load(&f->stop)) {
		ndk_adapter_progress(f->s.ad, 0);
		n = ndk_cq_get_results_ex(f->s.cq, r, 64);
		for (i = 0; i < n; i++) {
			f->busy[(uintptr_t)r[i].request_context] = false;
			atomic_fetch_sub(&f->outstanding, 1);
		}
		for (i = 0; i < FLOOD_QPS && atomic_load(&f->on); i++) {
			if (f->busy[i] || ndk_qp_write(f->qp[i], (void *)(uintptr_t)i, &sge, 1,
						       (uintptr_t)f->s.buf + FLOOD_BYTES,
						       f->s.token, 0) != NDK_STATUS_SUCCESS)
				continue;
			f->busy[i] = true;
			atomic_fetch_add(&f->outstanding, 1);
		}
		usleep(200); /* the engine has plenty queued: leave the cores to it and the victim
			      */
	}
	return NULL;
}

static bool
flooder_open(struct flooder *f)
{
	unsigned int i;

	memset(f, 0, sizeof(*f));
	if (!side_open(&f->s, daemon_fx.sock, 2 * (size_t)FLOOD_BYTES,
		       NDK_MR_FLAG_ALLOW_LOCAL_WRITE | NDK_MR_FLAG_ALLOW_REMOTE_WRITE))
		return false;
	f->qp[0] = f->s.qp;
	for (i = 1; i < FLOOD_QPS; i++) {
		if (side_qp(&f->s) != NDK_STATUS_SUCCESS)
			return false;
		f->qp[i] = f->s.qp;
	}
	for (i = 0; i < FLOOD_QPS; i += 2) {
		if (qp_connect_to(f->s.ad, f->qp[i], qp_qpn(f->qp[i + 1])) != NDK_STATUS_SUCCESS ||
		    qp_connect_to(f->s.ad, f->qp[i + 1], qp_qpn(f->qp[i])) != NDK_STATUS_SUCCESS)
			return false;
	}
	return true;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t
median_u64(uint64_t *v, unsigned int n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	return v[n / 2];
}

/* FAIR_NOPS NOP round trips of ad; their p50 and p99 in ns. */
static void
nop_block(struct ndk_adapter *ad, uint64_t *p50, uint64_t *p99)
{
	static uint64_t t[FAIR_NOPS];
	uint64_t done = 0, want = 0;
	unsigned int i;

	for (i = 0; i < FAIR_NOPS; i++) {
		uint64_t t0 = t_now_ns();

		ndk_adapter_nop(ad, 0, count_cb, &done);
		want++;
		while (done != want)
			ndk_adapter_progress(ad, 0);
		t[i] = t_now_ns() - t0;
	}
	qsort(t, FAIR_NOPS, sizeof(t[0]), cmp_u64);
	*p50 = t[FAIR_NOPS / 2];
	*p99 = t[FAIR_NOPS * 99 / 100];
}

/*
 * Median time of one chunk's memcpy, in ns, walking 16 MiB
 * buffers as the flood's chunks do (a hot buffer would flatter it).
 */
static uint64_t
chunk_ns(void)
{
	static char *src, *dst;
	static size_t off;
	uint64_t t[64];
	unsigned int i;

	if (src == NULL) {
		src = malloc(FLOOD_BYTES);
		dst = malloc(FLOOD_BYTES);
		if (src == NULL || dst == NULL)
			return 1;
		memset(src, 1, FLOOD_BYTES);
		memset(dst, 2, FLOOD_BYTES);
	}
	for (i = 0; i < 64; i++) {
		uint64_t t0 = t_now_ns();

		memcpy(dst + off, src + off, NDKD_CHUNK_BYTES);
		__asm__ volatile("" : : "r"(dst) : "memory");
		t[i] = t_now_ns() - t0;
		off = (off + NDKD_CHUNK_BYTES) % FLOOD_BYTES;
	}
	return median_u64(t, 64);
}

static void
bm_nop_beside_large_writes(struct nb_state *st)
{
	uint64_t i50[FAIR_BLOCKS], i99[FAIR_BLOCKS], f50[FAIR_BLOCKS], f99[FAIR_BLOCKS];
	uint64_t chunk[FAIR_BLOCKS], excess[FAIR_BLOCKS];
	struct ndk_adapter *ad = bench_adapter(st);
	struct flooder f;
	pthread_t th;
	unsigned int b;

	if (ad == NULL)
		return;
	if (!flooder_open(&f) || pthread_create(&th, NULL, flooder_main, &f) != 0) {
		nb_skip(st, "cannot set up the flooding client");
		return;
	}
	pin_self(client_cpu);
	while (nb_keep_running(st)) {
		for (b = 0; b < FAIR_BLOCKS; b++) {
			atomic_store(&f.on, false);
			while (atomic_load(&f.outstanding) != 0)
				usleep(1000);
			nop_block(ad, &i50[b], &i99[b]);
			chunk[b] = chunk_ns();
			atomic_store(&f.on, true);
			while (atomic_load(&f.outstanding) < FLOOD_QPS)
				usleep(1000);
			usleep(5000);
			nop_block(ad, &f50[b], &f99[b]);
			/* in tenths of a chunk time, so the counter keeps a digit */
			excess[b] = f99[b] > i99[b] ? (f99[b] - i99[b]) * 10 / chunk[b] : 0;
		}
	}
	nb_counter(st, "idle_p50_ns", (double)median_u64(i50, FAIR_BLOCKS));
	nb_counter(st, "idle_p99_ns", (double)median_u64(i99, FAIR_BLOCKS));
	nb_counter(st, "flooded_p50_ns", (double)median_u64(f50, FAIR_BLOCKS));
	nb_counter(st, "flooded_p99_ns", (double)median_u64(f99, FAIR_BLOCKS));
	nb_counter(st, "chunk_memcpy_ns", (double)median_u64(chunk, FAIR_BLOCKS));
	nb_counter(st, "p99_excess_chunks", (double)median_u64(excess, FAIR_BLOCKS) / 10.0);
	atomic_store(&f.on, false);
	atomic_store(&f.stop, true);
	pthread_join(th, NULL);
	ndk_adapter_close(f.s.ad);
	ndk_adapter_close(ad);
}

/*
 * Two clients of an ndkd (the one listening on sock; NULL: the bench's),
 * connected: a writes into b's buffer.
 */
static bool
rdma_pair_at(struct nb_state *st, const char *sock, struct side *a, struct side *b, size_t len,
	     uint32_t b_flags)
{
	if (sock == NULL && bench_adapter_daemon(st) == NULL)
		return false;
	if (sock == NULL)
		sock = daemon_fx.sock;
	if (!side_open(a, sock, len, NDK_MR_FLAG_ALLOW_LOCAL_WRITE) ||
	    !side_open(b, sock, len, b_flags) ||
	    side_connect(a, side_qpn(b)) != NDK_STATUS_SUCCESS ||
	    side_connect(b, side_qpn(a)) != NDK_STATUS_SUCCESS) {
		nb_skip(st, "cannot set up two connected QPs");
		return false;
	}
	return true;
}

static bool
rdma_pair(struct nb_state *st, struct side *a, struct side *b, size_t len, uint32_t b_flags)
{
	return rdma_pair_at(st, NULL, a, b, len, b_flags);
}

/* RDMA write: post, poll the completion. Arg: bytes. Latency and bandwidth. */
static void
rdma_rw(struct nb_state *st, bool write)
{
	uint32_t len = (uint32_t)nb_arg(st);
	struct side a, b;
	struct ndk_sge sge;
	struct ndk_result_ex r;

	if (!rdma_pair(st, &a, &b, len,
		       NDK_MR_FLAG_ALLOW_REMOTE_WRITE | NDK_MR_FLAG_ALLOW_REMOTE_READ))
		return;
	pin_self(client_cpu);
	sge = (struct ndk_sge){ .virtual_address = a.buf,
				.length = len,
				.memory_region_token = a.token };
	while (nb_keep_running(st)) {
		if (write)
			ndk_qp_write(a.qp, NULL, &sge, 1, (uintptr_t)b.buf, b.token, 0);
		else
			ndk_qp_read(a.qp, NULL, &sge, 1, (uintptr_t)b.buf, b.token, 0);
		while (ndk_cq_get_results_ex(a.cq, &r, 1) == 0)
			;
	}
	nb_set_bytes(st, nb_iterations(st) * (int64_t)len);
	side_close(&a);
	side_close(&b);
}

static void
bm_rdma_write(struct nb_state *st)
{
	rdma_rw(st, true);
}

static void
bm_rdma_read(struct nb_state *st)
{
	rdma_rw(st, false);
}

/*
 * a sends len bytes to a receive b posted (on srq, when not NULL) and waits
 * for both results: a one-way message, acknowledged.
 */
static void
send_receive_loop(struct nb_state *st, struct side *a, struct side *b, uint32_t len,
		  struct ndk_srq *srq)
{
	struct ndk_sge out = { .virtual_address = a->buf,
			       .length = len,
			       .memory_region_token = a->token };
	struct ndk_sge in = { .virtual_address = b->buf,
			      .length = len,
			      .memory_region_token = b->token };
	struct ndk_result_ex r;

	pin_self(client_cpu);
	while (nb_keep_running(st)) {
		if (srq != NULL)
			ndk_srq_receive(srq, NULL, &in, 1);
		else
			ndk_qp_receive(b->qp, NULL, &in, 1);
		ndk_qp_send(a->qp, NULL, &out, 1, 0);
		while (ndk_cq_get_results_ex(b->cq, &r, 1) == 0)
			;
		while (ndk_cq_get_results_ex(a->cq, &r, 1) == 0)
			;
	}
	nb_set_bytes(st, nb_iterations(st) * (int64_t)len);
}

static void
bm_send(struct nb_state *st)
{
	struct side a, b;

	if (!rdma_pair(st, &a, &b, (uint32_t)nb_arg(st), NDK_MR_FLAG_ALLOW_LOCAL_WRITE))
		return;
	send_receive_loop(st, &a, &b, (uint32_t)nb_arg(st), NULL);
	side_close(&a);
	side_close(&b);
}

/*
 * The same through a shared receive queue: b's QP takes its receives from an
 * SRQ (the price of one ring shared by many QPs against a QP's own).
 */
static void
bm_send_srq(struct nb_state *st)
{
	uint32_t len = (uint32_t)nb_arg(st);
	struct side a, b;
	struct ndk_srq *srq = NULL;
	struct ndk_qp *q = NULL;
	struct ndk_qp_opts o;
	struct wait w = { 0 };

	if (!rdma_pair(st, &a, &b, len, NDK_MR_FLAG_ALLOW_LOCAL_WRITE))
		return;
	if (w_finish(b.ad, &w, ndk_srq_create(b.pd, 64, 1, 0, NULL, NULL, w_create, &w, &srq)) !=
	    NDK_STATUS_SUCCESS) {
		nb_skip(st, "cannot create an SRQ");
		goto out;
	}
	srq = (struct ndk_srq *)w.obj;
	ndk_qp_opts_init(&o, sizeof(o));
	o.receive_cq = o.initiator_cq = b.cq;
	o.srq = srq;
	w = (struct wait){ 0 };
	if (w_finish(b.ad, &w, ndk_qp_create_with_opts(b.pd, &o, w_create, &w, &q)) !=
	    NDK_STATUS_SUCCESS) {
		nb_skip(st, "cannot create a QP with an SRQ");
		goto out;
	}
	q = (struct ndk_qp *)w.obj;
	/* a moves from b's own QP to the one on the SRQ */
	sync_close_qp(a.ad, a.qp);
	if (side_qp(&a) != NDK_STATUS_SUCCESS ||
	    side_connect(&a, qp_qpn(q)) != NDK_STATUS_SUCCESS ||
	    qp_connect_to(b.ad, q, side_qpn(&a)) != NDK_STATUS_SUCCESS) {
		nb_skip(st, "cannot connect");
		goto out;
	}
	send_receive_loop(st, &a, &b, len, srq);
out:
	side_close(&a);
	side_close(&b);
}

/*
 * Two connected clients, and b's fast-register MR for n pages of its buffer,
 * whose page list goes to pages.
 */
static bool
fr_pair(struct nb_state *st, const char *sock, struct side *a, struct side *b, uint32_t n,
	struct ndk_mr **fr, ndk_logical_address *pages)
{
	uint32_t i;

	if (!rdma_pair_at(st, sock, a, b, (size_t)n * 4096, 0))
		return false;
	if (sync_mr(b->ad, b->pd, true, fr) != NDK_STATUS_SUCCESS ||
	    sync_init_fr(b->ad, *fr, n, true) != NDK_STATUS_SUCCESS) {
		nb_skip(st, "fast-register MR");
		side_close(a);
		side_close(b);
		return false;
	}
	for (i = 0; i < n; i++)
		pages[i] = (uintptr_t)b->buf + (uint64_t)i * 4096;
	return true;
}

/* Attach and detach: the one syscall-bound path. */
static void
bm_attach(struct nb_state *st)
{
	struct ndk_adapter *ad;

	if (bench_adapter_daemon(st) == NULL)
		return;
	pin_self(client_cpu);
	while (nb_keep_running(st)) {
		if (ndk_adapter_open(daemon_fx.sock, NULL, &ad) != NDK_STATUS_SUCCESS) {
			nb_skip(st, "attach failed");
			return;
		}
		ndk_adapter_close(ad);
	}
}

/* NOPs from N clients on one engine: batches of 8 each, round robin. Arg: clients. */
static void
bm_nop_clients(struct nb_state *st)
{
	int n = (int)nb_arg(st), i, k;
	struct ndk_adapter **ads = calloc((size_t)n, sizeof(*ads));
	uint64_t done = 0, want = 0;

	if (ads == NULL || bench_adapter_daemon(st) == NULL) {
		free(ads);
		return;
	}
	for (i = 0; i < n; i++) {
		if (ndk_adapter_open(daemon_fx.sock, NULL, &ads[i]) != NDK_STATUS_SUCCESS) {
			nb_skip(st, "attach failed");
			n = i;
			goto out;
		}
	}
	pin_self(client_cpu);
	while (nb_keep_running(st)) {
		for (i = 0; i < n; i++)
			for (k = 0; k < 8; k++)
				ndk_adapter_nop(ads[i], k < 7 ? NDK_OP_FLAG_DEFER : 0, count_cb,
						&done);
		want += (uint64_t)n * 8;
		while (done != want)
			for (i = 0; i < n; i++)
				ndk_adapter_progress(ads[i], 0);
	}
	nb_set_items(st, nb_iterations(st) * n * 8);
out:
	for (i = 0; i < n; i++)
		ndk_adapter_close(ads[i]);
	free(ads);
}

/*
 * The naive alternative for the MR control path: the same four requests
 * (create, register, deregister, close) as RPCs over a busy-polled unix
 * socket to a thread that keeps an MR table, as a daemon without shared
 * rings would.
 */
struct mr_rpc_req {
	uint32_t op, handle;
	uint64_t addr, len;
};

struct mr_rpc {
	int fd;
	_Atomic bool stop;
	struct {
		uint64_t addr, len;
		uint8_t state, variant;
	} table[1024];
};

static void *
mr_rpc_server(void *arg)
{
	struct mr_rpc *r = arg;
	struct mr_rpc_req q;
	uint32_t next = 1;

	pin_self(peer_cpu);
	while (!atomic_load_explicit(&r->stop, memory_order_relaxed)) {
		uint32_t reply = 0;

		if (recv(r->fd, &q, sizeof(q), MSG_DONTWAIT) != (ssize_t)sizeof(q))
			continue;
		switch (q.op) {
		case 0: /* create */
			reply = next;
			next = next % 1023 + 1;
			r->table[reply].state = 1;
			break;
		case 1: /* register */
			r->table[q.handle & 1023].addr = q.addr;
			r->table[q.handle & 1023].len = q.len;
			r->table[q.handle & 1023].state = 2;
			reply = (q.handle << 8) | ++r->table[q.handle & 1023].variant;
			break;
		default: /* deregister, close */
			r->table[q.handle & 1023].state = q.op == 2 ? 3 : 0;
			break;
		}
		send(r->fd, &reply, sizeof(reply), 0);
	}
	return NULL;
}

static uint32_t
mr_rpc_call(int fd, uint32_t op, uint32_t handle, uint64_t addr, uint64_t len)
{
	struct mr_rpc_req q = { op, handle, addr, len };
	uint32_t reply;

	send(fd, &q, sizeof(q), 0);
	while (recv(fd, &reply, sizeof(reply), MSG_DONTWAIT) != (ssize_t)sizeof(reply))
		;
	return reply;
}

static void
bm_socket_mr_cycle(struct nb_state *st)
{
	static struct mr_rpc r;
	uint64_t len = (uint64_t)nb_arg(st);
	pthread_t th;
	int sv[2];

	if (peer_cpu < 0 || socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) != 0) {
		nb_skip(st, "needs two CPUs and socketpair");
		return;
	}
	memset(&r, 0, sizeof(r));
	r.fd = sv[1];
	pin_self(client_cpu);
	pthread_create(&th, NULL, mr_rpc_server, &r);
	while (nb_keep_running(st)) {
		uint32_t h = mr_rpc_call(sv[0], 0, 0, 0, 0);

		mr_rpc_call(sv[0], 1, h, 0x10000, len);
		mr_rpc_call(sv[0], 2, h, 0, 0);
		mr_rpc_call(sv[0], 3, h, 0, 0);
	}
	atomic_store(&r.stop, true);
	pthread_join(th, NULL);
	close(sv[0]);
	close(sv[1]);
}

/* ---------------------------------------------------------------------------
 * Ratios (blocks.h): each figure against its baseline in alternating blocks
 * of the same process. Baselines that stand for the engine's work run on the
 * engine's CPU, in a helper thread, while the engine sleeps (it falls asleep
 * in the quiet before each baseline block and wakes for the figure's).
 * ------------------------------------------------------------------------- */

#define ENGINE_QUIET_US 1000 /* ten idle spells of the default --poll-idle-us */

static struct helper *helper;

static void
stop_helper(void)
{
	helper_stop(helper);
	helper = NULL;
}

static bool
bench_helper(struct nb_state *st)
{
	if (helper == NULL) {
		helper = helper_start(peer_cpu);
		if (helper == NULL) {
			nb_skip(st, "no helper thread");
			return false;
		}
		atexit(stop_helper);
	}
	return true;
}

static struct block_side
pingpong_on_engine_cpu(void)
{
	struct block_side s = helper_pingpong_side;

	s.ctx = helper;
	s.quiet_us = ENGINE_QUIET_US;
	return s;
}

/*
 * A baseline on the engine's CPU: before each block, after the quiet, ask
 * ndkd whether its engine sleeps; blocks where it did not are counted, so a
 * baseline that shared its CPU with a polling engine shows.
 */
struct on_engine_cpu {
	struct block_side inner;
	uint64_t blocks, awake;
	int tel; /* one telemetry connection for the run: no thread made per query */
};

static void
oec_before(void *ctx)
{
	struct on_engine_cpu *o = ctx;

	o->blocks++;
	if (tel_on_elem_u64(o->tel, "/ndkd/stats", "engine_asleep", 0) != 1)
		o->awake++;
	if (o->inner.before != NULL)
		o->inner.before(o->inner.ctx);
}

static uint64_t
oec_run(void *ctx, uint32_t n)
{
	struct on_engine_cpu *o = ctx;

	return o->inner.run(o->inner.ctx, n);
}

static void
oec_after(void *ctx)
{
	struct on_engine_cpu *o = ctx;

	if (o->inner.after != NULL)
		o->inner.after(o->inner.ctx);
}

/* Measure fig against base, a baseline on the engine's CPU (blocks.h). */
static void
measure_on_engine_cpu(struct nb_state *st, const struct block_side *fig,
		      const struct block_side *base, uint32_t n, const char *why)
{
	struct on_engine_cpu o = { .inner = *base, .tel = tel_open(&daemon_fx) };
	struct block_side b = { .quiet_us = base->quiet_us,
				.before = oec_before,
				.run = oec_run,
				.after = oec_after,
				.ctx = &o };

	if (o.tel < 0) {
		nb_skip(st, "no telemetry");
		return;
	}
	if (blocks_measure(st, fig, &b, n, why) && o.blocks != 0)
		nb_counter(st, "base_engine_awake", (double)o.awake / (double)o.blocks);
	close(o.tel);
}

static uint64_t
nop_run(void *ctx, uint32_t n)
{
	struct ndk_adapter *ad = ctx;
	uint64_t done = 0, t0 = t_now_ns();

	for (uint32_t i = 0; i < n; i++) {
		ndk_adapter_nop(ad, 0, count_cb, &done);
		while (done != i + 1)
			ndk_adapter_progress(ad, 0);
	}
	return t_now_ns() - t0;
}

/* A figure's untimed start: a few operations, so the engine is awake and polling. */
static void
nop_warm(void *ctx)
{
	nop_run(ctx, 16);
}

static void
bm_ratio_nop(struct nb_state *st)
{
	struct ndk_adapter *ad = bench_adapter(st);
	struct block_side fig = { .before = nop_warm, .run = nop_run, .ctx = ad }, base;

	if (ad == NULL || !bench_helper(st))
		goto out;
	base = pingpong_on_engine_cpu();
	pin_self(client_cpu);
	measure_on_engine_cpu(st, &fig, &base, 2048, "NOP failed");
out:
	if (ad != NULL)
		ndk_adapter_close(ad);
}

/* Two connected clients; b has a fast-register MR over `pages` of its buffer. */
struct fr_bench {
	struct side a, b;
	struct ndk_mr *fr;
	uint32_t pages;
	ndk_logical_address page[256];
	bool failed;
};

/*
 * Fast register + its completion, one at a time. The invalidate that makes
 * the next one possible is posted SILENT and DEFERred: it rides with the
 * next fast register's doorbell and costs no round trip of its own.
 */
static uint64_t
fr_run(void *ctx, uint32_t n)
{
	struct fr_bench *f = ctx;
	struct ndk_result_ex r;
	uint64_t t0 = t_now_ns();

	for (uint32_t i = 0; i < n; i++) {
		ndk_qp_fast_register(f->b.qp, NULL, f->fr, f->pages, f->page, 0,
				     (size_t)f->pages * 4096, f->b.buf,
				     NDK_OP_FLAG_ALLOW_REMOTE_WRITE);
		while (ndk_cq_get_results_ex(f->b.cq, &r, 1) == 0)
			;
		if (r.status != NDK_STATUS_SUCCESS)
			return 0;
		ndk_qp_invalidate(f->b.qp, NULL, f->fr,
				  NDK_OP_FLAG_SILENT_SUCCESS | NDK_OP_FLAG_DEFER);
	}
	return t_now_ns() - t0;
}

static void
fr_warm(void *ctx)
{
	fr_run(ctx, 4);
}

/*
 * Fast register + invalidate pairs in batches of 32 pairs (DEFER, one
 * doorbell a batch), every result reaped: n pairs, n a multiple of 32.
 */
static uint64_t
fr_pairs_run(void *ctx, uint32_t n)
{
	struct fr_bench *f = ctx;
	struct ndk_result_ex r[64];
	uint64_t t0 = t_now_ns();

	for (uint32_t k = 0; k < n; k += 32) {
		uint32_t got = 0;

		for (int i = 0; i < 32; i++) {
			ndk_qp_fast_register(f->b.qp, NULL, f->fr, f->pages, f->page, 0,
					     (size_t)f->pages * 4096, f->b.buf,
					     NDK_OP_FLAG_ALLOW_REMOTE_WRITE | NDK_OP_FLAG_DEFER);
			ndk_qp_invalidate(f->b.qp, NULL, f->fr, i < 31 ? NDK_OP_FLAG_DEFER : 0);
		}
		while (got < 64) {
			uint32_t m = (uint32_t)ndk_cq_get_results_ex(f->b.cq, r, 64);

			for (uint32_t j = 0; j < m; j++)
				if (r[j].status != NDK_STATUS_SUCCESS)
					f->failed = true;
			got += m;
		}
	}
	return f->failed ? 0 : t_now_ns() - t0;
}

static void
fr_pairs_warm(void *ctx)
{
	fr_pairs_run(ctx, 32);
}

static bool
fr_bench_open(struct nb_state *st, const char *sock, struct fr_bench *f, uint32_t pages)
{
	*f = (struct fr_bench){ .pages = pages };
	if (!fr_pair(st, sock, &f->a, &f->b, f->pages, &f->fr, f->page))
		return false;
	pin_self(client_cpu);
	return true;
}

static void
bm_ratio_fast_register(struct nb_state *st)
{
	struct fr_bench f;
	struct block_side fig = { .before = fr_warm, .run = fr_run, .ctx = &f }, base;

	if (!bench_helper(st) || !fr_bench_open(st, NULL, &f, (uint32_t)nb_arg(st)))
		return;
	base = pingpong_on_engine_cpu();
	measure_on_engine_cpu(st, &fig, &base, 1024, "fast register failed");
	side_close(&f.a);
	side_close(&f.b);
}

static void
bm_ratio_fast_register_pairs(struct nb_state *st)
{
	struct fr_bench f;
	struct block_side fig = { .before = fr_pairs_warm, .run = fr_pairs_run, .ctx = &f }, base;

	if (!bench_helper(st) || !fr_bench_open(st, NULL, &f, (uint32_t)nb_arg(st)))
		return;
	base = pingpong_on_engine_cpu();
	measure_on_engine_cpu(st, &fig, &base, 4096, "fast register or invalidate failed");
	side_close(&f.a);
	side_close(&f.b);
}

/* a writes into b: len bytes each, one at a time or kept in a window. */
struct write_bench {
	struct side a, b;
	uint32_t len;
};

static uint64_t
write_run(void *ctx, uint32_t n)
{
	struct write_bench *w = ctx;
	struct ndk_sge sge = { .virtual_address = w->a.buf,
			       .length = w->len,
			       .memory_region_token = w->a.token };
	struct ndk_result_ex r;
	uint64_t t0 = t_now_ns();

	for (uint32_t i = 0; i < n; i++) {
		ndk_qp_write(w->a.qp, NULL, &sge, 1, (uintptr_t)w->b.buf, w->b.token, 0);
		while (ndk_cq_get_results_ex(w->a.cq, &r, 1) == 0)
			;
		if (r.status != NDK_STATUS_SUCCESS)
			return 0;
	}
	return t_now_ns() - t0;
}

static void
write_warm(void *ctx)
{
	write_run(ctx, 4);
}

/*
 * Message rate: 64-byte writes kept up to 32 in flight, published 8 at a
 * time, completions reaped as they come, so posting, copying and reaping
 * overlap on the two cores as a storage target's stream of small writes.
 * n writes, n a multiple of 8; all completed when it returns.
 */
static uint64_t
write_window_run(void *ctx, uint32_t n)
{
	struct write_bench *w = ctx;
	struct ndk_sge sge = { .virtual_address = w->a.buf,
			       .length = 64,
			       .memory_region_token = w->a.token };
	struct ndk_result_ex r[32];
	uint64_t t0 = t_now_ns();
	int inflight = 0;

	for (uint32_t k = 0; k < n; k += 8) {
		while (inflight > 24)
			inflight -= (int)ndk_cq_get_results_ex(w->a.cq, r, 32);
		for (int i = 0; i < 8; i++)
			ndk_qp_write(w->a.qp, NULL, &sge, 1, (uintptr_t)w->b.buf + (uint64_t)i * 64,
				     w->b.token, i < 7 ? NDK_OP_FLAG_DEFER : 0);
		inflight += 8;
	}
	while (inflight > 0)
		inflight -= (int)ndk_cq_get_results_ex(w->a.cq, r, 32);
	return t_now_ns() - t0;
}

static void
write_window_warm(void *ctx)
{
	write_window_run(ctx, 64);
}

static bool
write_bench_open(struct nb_state *st, const char *sock, struct write_bench *w, uint32_t len)
{
	*w = (struct write_bench){ .len = len };
	if (!rdma_pair_at(st, sock, &w->a, &w->b, len < 4096 ? 4096 : len,
			  NDK_MR_FLAG_ALLOW_REMOTE_WRITE))
		return false;
	pin_self(client_cpu);
	return true;
}

static void
bm_ratio_write_window(struct nb_state *st)
{
	struct write_bench w;
	struct block_side fig = { .before = write_window_warm, .run = write_window_run, .ctx = &w },
			  base;

	if (!bench_helper(st) || !write_bench_open(st, NULL, &w, 64))
		return;
	base = pingpong_on_engine_cpu();
	measure_on_engine_cpu(st, &fig, &base, 8192, "write failed");
	side_close(&w.a);
	side_close(&w.b);
}

/* A write of len bytes, post to completion, against memcpy of len on the engine's CPU. */
static void
bm_ratio_write_memcpy(struct nb_state *st)
{
	uint32_t len = (uint32_t)nb_arg(st);
	struct write_bench w;
	struct block_side fig = { .before = write_warm, .run = write_run, .ctx = &w }, base;

	if (!bench_helper(st) || !write_bench_open(st, NULL, &w, len))
		return;
	base = helper_memcpy_side(helper, len);
	base.quiet_us = ENGINE_QUIET_US;
	if (base.run == NULL)
		nb_skip(st, "memory");
	else
		measure_on_engine_cpu(st, &fig, &base,
				      len >= (1u << 20) ? 16
				      : len >= 65536	? 256
							: 2048,
				      "write failed");
	side_close(&w.a);
	side_close(&w.b);
}

/*
 * The MR table's lookup as an engine does it, at a given number of live
 * entries, each lookup a uniformly random live token: the working set is
 * the whole table (64 MiB at 1M entries, twice the L3 here). Its baseline:
 * one random 64-byte line of an array as large, with the same random
 * numbers: what the memory hierarchy costs at that size, with no table logic.
 */
struct lookup_bench {
	struct mrt t;
	uint32_t n;
	bool copy; /* mrt_read(): the whole entry copied (telemetry's read, resolve's copy) */
	uint64_t x, y, hits, lookups;
	struct line {
		alignas(64) uint64_t w[8];
	} * lines;
};

static uint64_t
lookup_run(void *ctx, uint32_t k)
{
	struct lookup_bench *l = ctx;
	uint64_t t0 = t_now_ns(), hits = 0;

	if (l->copy) {
		struct mrt_entry e;

		for (uint32_t i = 0; i < k; i++) {
			uint32_t token = MRT_TOKEN(1 + t_rand(&l->x) % l->n, 1);

			hits += mrt_read(&l->t, token, &e) && mrt_entry_live(&e, token);
		}
	} else {
		for (uint32_t i = 0; i < k; i++)
			hits += mrt_token_live(&l->t, MRT_TOKEN(1 + t_rand(&l->x) % l->n, 1));
	}
	l->hits += hits;
	l->lookups += k;
	return t_now_ns() - t0;
}

static uint64_t
line_run(void *ctx, uint32_t k)
{
	struct lookup_bench *l = ctx;
	struct line copy;
	uint64_t t0 = t_now_ns(), sum = 0;

	for (uint32_t i = 0; i < k; i++) {
		memcpy(&copy, &l->lines[1 + t_rand(&l->y) % l->n], sizeof(copy));
		sum += copy.w[0];
	}
	__asm__ volatile("" : : "r"(sum));
	return t_now_ns() - t0;
}

static void
mr_lookup_against_line(struct nb_state *st, bool copy)
{
	struct lookup_bench l = { .n = (uint32_t)nb_arg(st), .copy = copy, .x = 1, .y = 1 };
	struct block_side fig = { .run = lookup_run, .ctx = &l };
	struct block_side base = { .run = line_run, .ctx = &l };
	struct mrt_cache cache = { 0 };
	size_t bytes = (size_t)(l.n + 1) * sizeof(*l.lines);

	l.lines = aligned_alloc(64, bytes);
	if (l.lines == NULL || mrt_create(&l.t, l.n + 1) != 0) {
		nb_skip(st, "memory");
		free(l.lines);
		return;
	}
	/* the same transparent hugepages the MR table asks for */
	madvise(l.lines, bytes, MADV_HUGEPAGE);
	for (uint32_t i = 0; i <= l.n; i++)
		l.lines[i].w[0] = i;
	/* every index 1..n live with variant 1, so any index in range is a live token */
	for (uint32_t i = 0; i < l.n; i++) {
		struct mrt_entry *ent = mrt_entry(&l.t, mrt_alloc(&l.t, &cache, 1, 1, i));

		mrt_write_begin(ent);
		ent->variant = 1;
		ent->state = MRT_VALID;
		mrt_write_end(ent);
	}
	pin_self(client_cpu);
	if (blocks_measure(st, &fig, &base, 4096, "lookup"))
		/* 1.0 or the benchmark measured something else */
		nb_counter(st, "hit_ratio",
			   (double)l.hits / (double)(l.lookups != 0 ? l.lookups : 1));
	mrt_destroy(&l.t);
	free(l.lines);
}

static void
bm_ratio_mr_lookup(struct nb_state *st)
{
	mr_lookup_against_line(st, false);
}

/* The lookup with the whole entry copied out, as resolving a range does next. */
static void
bm_ratio_mr_read_copy(struct nb_state *st)
{
	mr_lookup_against_line(st, true);
}

/*
 * Loaded figures with --poll adaptive (the bench's ndkd) against a second
 * ndkd with --poll always, in alternating blocks. Their engines share the
 * peer CPU: the one not measured is stopped (SIGSTOP) during the other's
 * block, so each has that CPU alone. Arg: 0 NOP round trip, 1 64-byte
 * writes in a window of 32, 2 fast register of 16 pages + completion.
 */
static struct tdaemon always_fx;
static bool always_up;

static void
stop_always(void)
{
	if (always_up)
		tdaemon_stop(&always_fx);
}

struct poll_side {
	pid_t run, stop; /* the ndkd measured, the one stopped meanwhile */
	struct block_side inner;
};

static void
poll_before(void *ctx)
{
	struct poll_side *p = ctx;

	kill(p->stop, SIGSTOP);
	kill(p->run, SIGCONT);
	p->inner.before(p->inner.ctx);
}

static uint64_t
poll_run(void *ctx, uint32_t n)
{
	struct poll_side *p = ctx;

	return p->inner.run(p->inner.ctx, n);
}

struct poll_load {
	struct ndk_adapter *ad;
	struct write_bench w;
	struct fr_bench f;
	bool w_open, f_open;
};

static bool
poll_load_open(struct nb_state *st, const struct tdaemon *d, int kind, struct poll_load *l,
	       struct block_side *side)
{
	*l = (struct poll_load){ 0 };
	switch (kind) {
	case 0:
		if (ndk_adapter_open(d->sock, NULL, &l->ad) != NDK_STATUS_SUCCESS) {
			nb_skip(st, "cannot attach");
			return false;
		}
		*side = (struct block_side){ .before = nop_warm, .run = nop_run, .ctx = l->ad };
		return true;
	case 1:
		l->w_open = write_bench_open(st, d->sock, &l->w, 64);
		*side = (struct block_side){ .before = write_window_warm,
					     .run = write_window_run,
					     .ctx = &l->w };
		return l->w_open;
	default:
		l->f_open = fr_bench_open(st, d->sock, &l->f, 16);
		*side = (struct block_side){ .before = fr_warm, .run = fr_run, .ctx = &l->f };
		return l->f_open;
	}
}

static void
poll_load_close(struct poll_load *l)
{
	if (l->ad != NULL)
		ndk_adapter_close(l->ad);
	if (l->w_open) {
		side_close(&l->w.a);
		side_close(&l->w.b);
	}
	if (l->f_open) {
		side_close(&l->f.a);
		side_close(&l->f.b);
	}
}

static void
bm_ratio_adaptive_vs_always(struct nb_state *st)
{
	static const uint32_t block[] = { 2048, 8192, 1024 };
	int kind = (int)nb_arg(st);
	struct poll_load la = { 0 }, lb = { 0 };
	struct poll_side fa, fb;
	struct block_side fig = { .before = poll_before, .run = poll_run, .ctx = &fa };
	struct block_side base = { .before = poll_before, .run = poll_run, .ctx = &fb };

	if (bench_adapter_daemon(st) == NULL)
		return;
	if (!always_up) {
		if (tdaemon_start(&always_fx, "bench-always", daemon_args("always")) != 0) {
			nb_skip(st, "the second ndkd did not start");
			return;
		}
		always_up = true;
		atexit(stop_always);
	}
	fa = (struct poll_side){ .run = daemon_fx.pid, .stop = always_fx.pid };
	fb = (struct poll_side){ .run = always_fx.pid, .stop = daemon_fx.pid };
	if (poll_load_open(st, &daemon_fx, kind, &la, &fa.inner) &&
	    poll_load_open(st, &always_fx, kind, &lb, &fb.inner)) {
		pin_self(client_cpu);
		blocks_measure(st, &fig, &base, block[kind], "request failed");
	}
	/* both run again before anything else talks to them */
	kill(daemon_fx.pid, SIGCONT);
	kill(always_fx.pid, SIGCONT);
	poll_load_close(&la);
	poll_load_close(&lb);
}

/* ---------------------------------------------------------------------------
 * The first request after an idle spell (the engine asleep) against the
 * host's thread wake-up: a thread on the peer core blocked in epoll_wait on
 * an eventfd, woken by the client, answering through a cache line. Both
 * after the same 2 ms of quiet, in alternating blocks of 16 (blocks.h);
 * each block's median against the other's, and the median of those ratios.
 * ------------------------------------------------------------------------- */

#define WAKE_BLOCK 16

struct waker {
	int efd, ep;
	alignas(64) _Atomic uint64_t pong;
	_Atomic bool stop;
};

static void *
waker_main(void *arg)
{
	struct waker *w = arg;
	struct epoll_event ev;
	uint64_t v;

	pin_self(peer_cpu);
	while (!atomic_load(&w->stop)) {
		if (epoll_wait(w->ep, &ev, 1, 100) == 1 && read(w->efd, &v, sizeof(v)) == sizeof(v))
			atomic_fetch_add_explicit(&w->pong, 1, memory_order_release);
	}
	return NULL;
}

/*
 * A side's block: n operations, each after 2 ms of quiet (the engine falls
 * asleep after 100 us of it). Returns n times the block's median, so that
 * blocks_measure()'s ratio of two blocks is the ratio of their medians: a
 * wake-up now and then of the idle vCPU's own (~60 us) weighs nothing.
 */
static uint64_t
after_idle(void *ctx, uint32_t n, uint64_t (*op)(void *ctx))
{
	uint64_t t[WAKE_BLOCK];

	if (n > WAKE_BLOCK)
		return 0;
	for (uint32_t i = 0; i < n; i++) {
		usleep(2000);
		t[i] = op(ctx);
		if (t[i] == 0)
			return 0;
	}
	return median_u64(t, n) * n;
}

static uint64_t
idle_nop(void *ctx)
{
	uint64_t done = 0, t0 = t_now_ns();

	ndk_adapter_nop(ctx, 0, count_cb, &done);
	while (done == 0)
		ndk_adapter_progress(ctx, 0);
	return t_now_ns() - t0;
}

static uint64_t
idle_wake(void *ctx)
{
	struct waker *w = ctx;
	uint64_t one = 1, p = atomic_load(&w->pong), t0 = t_now_ns();

	if (write(w->efd, &one, sizeof(one)) != sizeof(one))
		return 0;
	while (atomic_load_explicit(&w->pong, memory_order_acquire) == p)
		;
	return t_now_ns() - t0;
}

static uint64_t
idle_nop_run(void *ctx, uint32_t n)
{
	return after_idle(ctx, n, idle_nop);
}

static uint64_t
idle_wake_run(void *ctx, uint32_t n)
{
	return after_idle(ctx, n, idle_wake);
}

static void
bm_wake_after_idle(struct nb_state *st)
{
	struct ndk_adapter *ad = bench_adapter(st);
	struct waker w = { .efd = -1, .ep = -1 };
	struct epoll_event ev = { .events = EPOLLIN };
	struct block_side fig = { .run = idle_nop_run, .ctx = ad };
	struct block_side base = { .run = idle_wake_run, .ctx = &w };
	pthread_t t;

	if (ad == NULL)
		return;
	w.efd = eventfd(0, EFD_NONBLOCK);
	w.ep = epoll_create1(0);
	if (w.efd < 0 || w.ep < 0 || epoll_ctl(w.ep, EPOLL_CTL_ADD, w.efd, &ev) != 0 ||
	    pthread_create(&t, NULL, waker_main, &w) != 0) {
		nb_skip(st, "no eventfd or thread");
		ndk_adapter_close(ad);
		return;
	}
	pin_self(client_cpu);
	blocks_measure(st, &fig, &base, WAKE_BLOCK, "NOP or eventfd write failed");
	atomic_store(&w.stop, true);
	pthread_join(t, NULL);
	close(w.efd);
	close(w.ep);
	ndk_adapter_close(ad);
}

int
main(int argc, char **argv)
{
	static const int64_t batches[] = { 1, 8, 32 };
	static const int64_t mr_sizes[] = { 4096, 65536, 1 << 20, 64 << 20, 1 << 30 };
	static const int64_t rdma_sizes[] = { 64, 4096, 65536, 1 << 20, 4 << 20 };
	static const int64_t copy_sizes[] = { 64, 4096, 65536, 1 << 20 };
	static const int64_t fr_pages[] = { 1, 16, 256 };
	static const int64_t clients[] = { 1, 8, 64 };
	static const int64_t table_sizes[] = { 1024, 65536, 1 << 20 };
	static const int64_t poll_loads[] = { 0, 1, 2 };

	/* Find the ndkd of this build tree unless told otherwise. */
	setenv("NDKD_BIN", NDKD_BUILD_BIN, 0);
	pick_cpus();
	/* the figures DESIGN section 7 sets targets for: figure and baseline in alternating blocks
	 */
	nb_register("ratio/nop_round_trip_vs_pingpong", bm_ratio_nop, NULL, 0);
	nb_register("ratio/fast_register_vs_pingpong_pages", bm_ratio_fast_register, fr_pages, 3);
	nb_register("ratio/fast_register_invalidate_pairs_batch32_vs_pingpong_pages",
		    bm_ratio_fast_register_pairs, fr_pages, 3);
	nb_register("ratio/rdma_write_64B_window32_vs_pingpong", bm_ratio_write_window, NULL, 0);
	nb_register("ratio/rdma_write_vs_engine_cpu_memcpy", bm_ratio_write_memcpy, copy_sizes, 4);
	nb_register("ratio/mr_table_lookup_vs_random_line_read_entries", bm_ratio_mr_lookup,
		    table_sizes, 3);
	nb_register("ratio/mr_table_read_copy_vs_random_line_read_entries", bm_ratio_mr_read_copy,
		    table_sizes, 3);
	nb_register("ratio/nop_after_idle_vs_thread_wakeup", bm_wake_after_idle, NULL, 0);
	nb_register("ratio/adaptive_vs_always_load", bm_ratio_adaptive_vs_always, poll_loads, 3);
	/* figures on their own, for scale */
	nb_register("baseline/unix_socket_rpc_busy_poll", bm_unix_socket_rpc, NULL, 0);
	nb_register("ndk/nop_batch", bm_nop_batch, batches, 3);
	nb_register("ndk/mr_create_register_deregister_close", bm_mr_cycle, mr_sizes, 5);
	nb_register("baseline/socket_rpc_mr_create_register_deregister_close", bm_socket_mr_cycle,
		    mr_sizes, 5);
	nb_register("ndk/rdma_write", bm_rdma_write, rdma_sizes, 5);
	nb_register("ndk/rdma_read", bm_rdma_read, rdma_sizes, 5);
	nb_register("ndk/send_receive", bm_send, rdma_sizes, 5);
	nb_register("ndk/send_receive_srq", bm_send_srq, rdma_sizes, 1);
	nb_register("ndk/nop_beside_large_writes_64qps", bm_nop_beside_large_writes, NULL, 0);
	nb_register("ndk/attach_detach", bm_attach, NULL, 0);
	nb_register("ndk/nop_batch8_clients", bm_nop_clients, clients, 3);
	return nb_main(argc, argv);
}
