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
#include <sys/socket.h>
#include <unistd.h>

#include <ndk/ndk.h>

#include "shim.h"
#include "testlib.h"

static int client_cpu = -1, peer_cpu = -1;

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
 * Baseline: one cache line bounced between the two cores.
 * ------------------------------------------------------------------------ */

struct pingpong {
	alignas(64) _Atomic uint64_t ping;
	alignas(64) _Atomic uint64_t pong;
	alignas(64) _Atomic bool stop;
};

static void *
pong_thread(void *arg)
{
	struct pingpong *pp = arg;
	uint64_t seen = 0;

	pin_self(peer_cpu);
	while (!atomic_load_explicit(&pp->stop, memory_order_relaxed)) {
		uint64_t v = atomic_load_explicit(&pp->ping, memory_order_acquire);

		if (v != seen) {
			seen = v;
			atomic_store_explicit(&pp->pong, v, memory_order_release);
		}
	}
	return NULL;
}

static void
bm_cacheline_pingpong(struct nb_state *st)
{
	static struct pingpong pp;
	pthread_t th;
	uint64_t seq = 0;

	if (peer_cpu < 0) {
		nb_skip(st, "needs two CPUs");
		return;
	}
	atomic_store(&pp.ping, 0);
	atomic_store(&pp.pong, 0);
	atomic_store(&pp.stop, false);
	pin_self(client_cpu);
	pthread_create(&th, NULL, pong_thread, &pp);
	while (nb_keep_running(st)) {
		seq++;
		atomic_store_explicit(&pp.ping, seq, memory_order_release);
		while (atomic_load_explicit(&pp.pong, memory_order_acquire) != seq)
			;
	}
	atomic_store(&pp.stop, true);
	pthread_join(th, NULL);
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
		if (tdaemon_start(&daemon_fx, "bench", NULL) != 0) {
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
bm_nop_round_trip(struct nb_state *st)
{
	struct ndk_adapter *ad = bench_adapter(st);
	uint64_t done = 0, want = 0;

	if (ad == NULL)
		return;
	pin_self(client_cpu);
	while (nb_keep_running(st)) {
		ndk_adapter_nop(ad, 0, count_cb, &done);
		want++;
		while (done != want)
			ndk_adapter_progress(ad, 0);
	}
	ndk_adapter_close(ad);
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
	buf = ndk_mem_alloc(ad, size, 4096);
	while (nb_keep_running(st)) {
		struct ndk_mr *mr;

		if (ndk_mr_create(pd, false, cb_create, &w, &mr) == NDK_STATUS_PENDING) {
			wait_cb(ad, &w);
			mr = (struct ndk_mr *)w.obj;
		}
		ndk_mr_register(mr, buf, size, NDK_MR_FLAG_ALLOW_REMOTE_WRITE, cb_req, &w);
		wait_cb(ad, &w);
		ndk_mr_deregister(mr, cb_req, &w);
		wait_cb(ad, &w);
		if (ndk_mr_close(mr, cb_close, &w) == NDK_STATUS_PENDING)
			wait_cb(ad, &w);
	}
	ndk_mem_free(ad, buf);
	if (ndk_pd_close(pd, cb_close, &w) == NDK_STATUS_PENDING)
		wait_cb(ad, &w);
	ndk_adapter_close(ad);
}

int
main(int argc, char **argv)
{
	static const int64_t batches[] = { 1, 8, 32 };
	static const int64_t mr_sizes[] = { 4096, 65536, 1 << 20 };

	/* Find the ndkd of this build tree unless told otherwise. */
	setenv("NDKD_BIN", NDKD_BUILD_BIN, 0);
	pick_cpus();
	nb_register("baseline/cacheline_pingpong", bm_cacheline_pingpong, NULL, 0);
	nb_register("baseline/unix_socket_rpc_busy_poll", bm_unix_socket_rpc, NULL, 0);
	nb_register("ndk/nop_round_trip", bm_nop_round_trip, NULL, 0);
	nb_register("ndk/nop_batch", bm_nop_batch, batches, 3);
	nb_register("ndk/mr_create_register_deregister_close", bm_mr_cycle, mr_sizes, 3);
	return nb_main(argc, argv);
}
