/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Adaptive polling: an engine whose clients are idle sleeps, and every
 * request wakes it: a control request, a work request on a QP's ring, a
 * receive, a new client's attach (main's bell), after idle spells of every
 * length around the engine's. ndkd runs with a 2 s longest sleep, so a
 * lost wake-up shows as a request that takes seconds; none may take 500
 * ms. And 64 idle clients cost the engine no core: its CPU time over a second
 * is compared with 'poll always' on the same machine.
 */
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ndk/internal/abi.h>
#include <ndk/ndk.h>

#include "rdma_util.h"
#include "testlib.h"

static const char *const adaptive[] = { "--poll", "adaptive",	     "--poll-idle-us",
					"200",	  "--poll-sleep-ms", "2000",
					NULL };

static struct ndk_adapter *
open_adapter(const struct tdaemon *d, const char *name)
{
	struct ndk_adapter *ad = NULL;
	struct ndk_adapter_opts o;

	ndk_adapter_opts_init(&o, sizeof(o));
	o.name = name;
	CHECK_STATUS(ndk_adapter_open(d->sock, &o, &ad), NDK_STATUS_SUCCESS);
	return ad;
}

/* Until engine 0 says it sleeps (true), or 3 s. */
static bool
wait_asleep(const struct tdaemon *d)
{
	uint64_t deadline = t_deadline_ms(3000);

	while (t_now_ns() < deadline) {
		if (tel_query_elem_u64(d, "/ndkd/stats", "engine_asleep", 0) == 1)
			return true;
		usleep(1000);
	}
	return false;
}

static void
nop_done(void *ctx, ndk_status st)
{
	*(ndk_status *)ctx = st;
}

/* One NOP round trip; its time in ns (UINT64_MAX: no answer in 5 s). */
static uint64_t
nop_ns(struct ndk_adapter *ad)
{
	ndk_status st = UINT32_MAX;
	uint64_t t0 = t_now_ns(), deadline = t_deadline_ms(5000);

	if (ndk_adapter_nop(ad, 0, nop_done, &st) != NDK_STATUS_PENDING)
		return UINT64_MAX;
	while (st == UINT32_MAX && t_now_ns() < deadline)
		ndk_adapter_progress(ad, 0);
	return st == NDK_STATUS_SUCCESS ? t_now_ns() - t0 : UINT64_MAX;
}

/* Idle spells from 0 to 4 ms (the engine sleeps after 0.2 ms of them), then one request. */
static uint32_t
spell_us(int i)
{
	return (uint32_t)((i * 7919) % 4000);
}

static void
test_requests_wake_it(void)
{
	struct tdaemon d;
	struct ndk_adapter *ad;
	uint64_t worst = 0, t, sleeps, wakeups;
	int i;

	if (tdaemon_start(&d, "poll-wake", adaptive) != 0) {
		CHECK(0, "ndkd up");
		return;
	}
	ad = open_adapter(&d, "test-poll");
	if (ad == NULL) {
		tdaemon_kill(&d);
		return;
	}
	CHECK(wait_asleep(&d), "an engine whose one client is idle goes to sleep");
	for (i = 0; i < 300; i++) {
		usleep(spell_us(i));
		t = nop_ns(ad);
		if (t > worst)
			worst = t;
	}
	sleeps = tel_query_elem_u64(&d, "/ndkd/stats", "engine_sleeps", 0);
	wakeups = tel_query_elem_u64(&d, "/ndkd/stats", "engine_bell_wakeups", 0);
	printf("# 300 NOPs after idle spells: the slowest %" PRIu64 " us\n", worst / 1000);
	CHECK(worst < 500000000ull, "300 NOPs after idle spells, the slowest %" PRIu64 " us",
	      worst / 1000);
	CHECK(sleeps > 50 && wakeups > 50 && sleeps != UINT64_MAX,
	      "the engine slept between them and doorbells woke it (%" PRIu64 " sleeps, %" PRIu64
	      " woken)",
	      sleeps, wakeups);
	ndk_adapter_close(ad);
	CHECK(tdaemon_stop(&d) == 0, "ndkd stops");
}

/* Work requests and receives on a QP's rings ring too; so does another client's attach. */
static void
test_data_path_wakes_it(void)
{
	struct tdaemon d;
	struct side a = { 0 }, b = { 0 };
	struct ndk_result_ex r;
	struct ndk_sge sge;
	struct ndk_adapter *late;
	uint64_t t0, worst = 0;
	int i;

	if (tdaemon_start(&d, "poll-qp", adaptive) != 0) {
		CHECK(0, "ndkd up");
		return;
	}
	if (!side_open(&a, d.sock, 8u << 20, NDK_MR_FLAG_ALLOW_REMOTE_WRITE) ||
	    !side_open(&b, d.sock, 8u << 20, NDK_MR_FLAG_ALLOW_REMOTE_WRITE) ||
	    side_connect(&a, side_qpn(&b)) != NDK_STATUS_SUCCESS ||
	    side_connect(&b, side_qpn(&a)) != NDK_STATUS_SUCCESS) {
		CHECK(0, "two connected sides");
		tdaemon_kill(&d);
		return;
	}
	for (i = 0; i < 100; i++) {
		usleep(spell_us(i * 3));
		t0 = t_now_ns();
		memset(a.buf, i, 64);
		r = side_rdma(&a, true, 0, 64, a.token, (uintptr_t)b.buf, b.rtoken);
		CHECK(r.status == NDK_STATUS_SUCCESS && b.buf[63] == (uint8_t)i, "write %d", i);
		if (t_now_ns() - t0 > worst)
			worst = t_now_ns() - t0;
	}
	CHECK(worst < 500000000ull, "100 writes after idle spells, the slowest %" PRIu64 " us",
	      worst / 1000);

	/*
	 * A write that takes many passes to copy: the engine is busy all along,
	 * and must not fall asleep between two of its turns.
	 */
	CHECK(wait_asleep(&d), "asleep before the large write");
	memset(a.buf, 0x5a, 8u << 20);
	t0 = t_now_ns();
	r = side_rdma(&a, true, 0, 8u << 20, a.token, (uintptr_t)b.buf, b.rtoken);
	t0 = t_now_ns() - t0;
	CHECK(r.status == NDK_STATUS_SUCCESS && b.buf[(8u << 20) - 1] == 0x5a && t0 < 1000000000ull,
	      "an 8 MiB write after a sleep, in %" PRIu64 " us (one doorbell)", t0 / 1000);

	/* a receive posted while it sleeps, then the send for it from the other side */
	worst = 0;
	for (i = 0; i < 50; i++) {
		usleep(spell_us(i * 5));
		sge = (struct ndk_sge){ .logical_address = (uintptr_t)b.buf,
					.length = 64,
					.memory_region_token = b.token };
		t0 = t_now_ns();
		CHECK_STATUS(ndk_qp_receive(b.qp, &r, &sge, 1), NDK_STATUS_SUCCESS);
		usleep(spell_us(i * 11));
		sge = (struct ndk_sge){ .logical_address = (uintptr_t)a.buf,
					.length = 64,
					.memory_region_token = a.token };
		CHECK_STATUS(ndk_qp_send(a.qp, &r, &sge, 1, 0), NDK_STATUS_SUCCESS);
		r = side_result(&a);
		CHECK(r.status == NDK_STATUS_SUCCESS, "send %d", i);
		r = side_result(&b);
		CHECK(r.status == NDK_STATUS_SUCCESS && r.type == NDK_OP_TYPE_RECEIVE, "receive %d",
		      i);
		if (t_now_ns() - t0 > worst)
			worst = t_now_ns() - t0;
	}
	CHECK(worst < 1000000000ull, "50 receive + send pairs, the slowest %" PRIu64 " us",
	      worst / 1000);

	CHECK(wait_asleep(&d), "asleep again");
	t0 = t_now_ns();
	late = open_adapter(&d, "test-poll-late");
	CHECK(late != NULL && nop_ns(late) != UINT64_MAX && t_now_ns() - t0 < 1000000000ull,
	      "a client attached to a sleeping engine is served at once (%" PRIu64 " us)",
	      (t_now_ns() - t0) / 1000);
	if (late != NULL)
		ndk_adapter_close(late);
	side_close(&a);
	side_close(&b);
	CHECK(tdaemon_stop(&d) == 0, "ndkd stops");
}

/* ndkd's CPU time (user + system) in clock ticks, from /proc. */
static uint64_t
cpu_ticks(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;
	int i;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	p = p != NULL ? strrchr(buf, ')') : NULL; /* the name may hold spaces */
	for (i = 0; p != NULL && i < 12; i++)
		p = strchr(p + 1, ' ');
	if (p == NULL || sscanf(p + 1, "%lu %lu", &ut, &st) != 2)
		return 0;
	return ut + st;
}

/* Share of one core ndkd used over a second with n idle clients attached (0..1). */
static double
idle_share(const char *const *mode, int n)
{
	struct ndk_adapter *ad[64] = { 0 };
	struct tdaemon d;
	uint64_t c0;
	double share = -1;
	int i;

	if (tdaemon_start(&d, "poll-cpu", mode) != 0)
		return -1;
	for (i = 0; i < n; i++)
		ad[i] = open_adapter(&d, "test-poll-idle");
	usleep(200000);
	c0 = cpu_ticks(d.pid);
	usleep(1000000);
	share = (double)(cpu_ticks(d.pid) - c0) / (double)sysconf(_SC_CLK_TCK);
	for (i = 0; i < n; i++) {
		if (ad[i] != NULL)
			ndk_adapter_close(ad[i]);
	}
	CHECK(tdaemon_stop(&d) == 0, "ndkd stops");
	return share;
}

static void
test_idle_costs_no_core(void)
{
	static const char *const always[] = { "--poll", "always", NULL };
	double a = idle_share(adaptive, 64), p = idle_share(always, 64);

	/* functional, not a figure: docs/PERFORMANCE.md has the measured ones */
	printf("# ndkd with 64 idle clients: %.1f%% of a core adaptive, %.1f%% always\n", a * 100,
	       p * 100);
	/* the control: a loaded host gives a polling engine less than a core, never nothing */
	CHECK(p > a + 0.1, "polling always, 64 idle clients: %.0f%% of a core", p * 100);
	CHECK(a >= 0 && a < 0.25, "adaptive, 64 idle clients: %.0f%% of a core", a * 100);
}

/*
 * An engine that never sleeps tells its clients so (POLLS in kengine), and
 * they skip the fence a publish otherwise pays; an adaptive one never does.
 */
static void
test_always_says_so(void)
{
	static const char *const always[] = { "--poll", "always", NULL };
	const char *const *modes[] = { adaptive, always };

	for (int m = 0; m < 2; m++) {
		struct raw_client rc;
		struct tdaemon p;
		uint32_t k;

		if (tdaemon_start(&p, "poll-mode", modes[m]) != 0) {
			CHECK(false, "ndkd starts");
			return;
		}
		CHECK(raw_attach(&rc, p.sock) == 0 && rc.region != NULL, "raw attach");
		if (rc.region != NULL) {
			CHECK(raw_call(&rc, NDK_ABI_OP_NOP, 0, 0, 0, 0) == NDK_STATUS_SUCCESS,
			      "served");
			k = atomic_load((_Atomic uint32_t *)&rc.hdr->kengine);
			if (m == 0)
				CHECK((k & NDK_ABI_ENGINE_POLLS) == 0,
				      "an adaptive engine does not say it polls (%u)", k);
			else
				CHECK(k == NDK_ABI_ENGINE_POLLS, "--poll always says so (%u)", k);
		}
		raw_close(&rc);
		CHECK(tdaemon_stop(&p) == 0, "ndkd stops");
	}
}

/* A socket request of a raw client; its status, and the fd that came back (or -1). */
static uint32_t
raw_sock_req(struct raw_client *rc, const struct ndk_abi_sock_req *q, int *fd)
{
	struct ndk_abi_sock_reply r;

	return raw_exchange(rc->sock, q, sizeof(*q), &r, sizeof(r), fd, 2000) ? r.status
									      : UINT32_MAX;
}

struct flood {
	int fd;
	_Atomic uint32_t *kengine;
	atomic_bool stop;
	uint64_t sent;
};

/* A tenant that rings all the time and keeps telling its engine "awake". */
static void *
flood_main(void *arg)
{
	struct flood *f = arg;
	char b[64] = { 0 };

	while (!atomic_load(&f->stop)) {
		atomic_store(f->kengine, 0);
		if (send(f->fd, b, sizeof(b), MSG_DONTWAIT | MSG_NOSIGNAL) > 0)
			f->sent++;
	}
	return NULL;
}

/*
 * A hostile tenant: bad doorbell requests are refused, a second one too;
 * then it floods its doorbell and overwrites its kengine, while an honest
 * client's requests after idle spells are still served at once.
 */
static void
test_hostile_doorbell(void)
{
	struct ndk_abi_sock_req q = { .magic = NDK_ABI_MAGIC, .op = NDK_ABI_SOCK_DOORBELL };
	struct flood f = { .fd = -1 };
	struct raw_client rc;
	struct ndk_adapter *honest;
	struct tdaemon d;
	uint64_t worst = 0, t;
	pthread_t th;
	int fd, i;

	if (tdaemon_start(&d, "poll-hostile", adaptive) != 0) {
		CHECK(0, "ndkd up");
		return;
	}
	honest = open_adapter(&d, "test-poll-honest");
	CHECK(raw_attach(&rc, d.sock) == 0 && honest != NULL, "raw tenant and honest client");
	if (rc.region == NULL || honest == NULL) {
		tdaemon_kill(&d);
		return;
	}
	q.flags = 1;
	CHECK_STATUS(raw_sock_req(&rc, &q, &fd), NDK_STATUS_INVALID_PARAMETER);
	CHECK(fd < 0, "no socket for a bad request");
	q.flags = 0;
	CHECK_STATUS(raw_sock_req(&rc, &q, &f.fd), NDK_STATUS_SUCCESS);
	CHECK(f.fd >= 0, "a doorbell");
	CHECK_STATUS(raw_sock_req(&rc, &q, &fd), NDK_STATUS_INVALID_DEVICE_STATE);
	CHECK(fd < 0, "one doorbell per client");
	f.kengine = (_Atomic uint32_t *)&rc.hdr->kengine;
	if (f.fd < 0 || pthread_create(&th, NULL, flood_main, &f) != 0) {
		raw_close(&rc);
		tdaemon_kill(&d);
		return;
	}
	for (i = 0; i < 100; i++) {
		usleep(spell_us(i * 13));
		t = nop_ns(honest);
		if (t > worst)
			worst = t;
	}
	atomic_store(&f.stop, true);
	pthread_join(th, NULL);
	printf("# beside a doorbell flood (%" PRIu64 " sends): the slowest NOP %" PRIu64 " us\n",
	       f.sent, worst / 1000);
	CHECK(worst < 500000000ull,
	      "the honest client's NOPs beside a doorbell flood: %" PRIu64 " us", worst / 1000);
	CHECK(tdaemon_alive(&d), "ndkd alive");
	close(f.fd);
	raw_close(&rc);
	ndk_adapter_close(honest);
	CHECK(tdaemon_stop(&d) == 0, "ndkd stops");
}

int
main(void)
{
	RUN(test_requests_wake_it);
	RUN(test_data_path_wakes_it);
	RUN(test_idle_costs_no_core);
	RUN(test_always_says_so);
	RUN(test_hostile_doorbell);
	return t_done();
}
