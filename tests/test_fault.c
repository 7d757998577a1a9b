/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fault injection with real processes: clients SIGKILLed at random points of
 * a busy workload (attach, object set-up, fast register, writes in flight,
 * MR cycles), hundreds of times; after each, ndkd's tables are back to their
 * baseline, every token the dead client reported is refused, and a client
 * that stayed keeps being served. Then a client that takes every resource it
 * can until refused, next to one that keeps working.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rdma_util.h"

static struct tdaemon d;

static void
report(int fd, uint32_t token)
{
	if (token != 0 && write(fd, &token, sizeof(token)) != (ssize_t)sizeof(token))
		_exit(3);
}

/* A client that never stops on its own: whatever it is doing when killed is the test. */
static void __attribute__((noreturn)) victim(int tfd, uint64_t seed)
{
	struct side a, b;
	struct ndk_mr *fr = NULL;
	ndk_logical_address pages[16];
	unsigned int i;
	void *rc = NULL;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (!side_open(&a, d.sock, 1 << 16, NDK_MR_FLAG_ALLOW_LOCAL_WRITE) ||
	    !side_open(&b, d.sock, 1 << 16, NDK_MR_FLAG_ALLOW_REMOTE_WRITE) ||
	    side_connect(&a, side_qpn(&b)) != NDK_STATUS_SUCCESS ||
	    side_connect(&b, side_qpn(&a)) != NDK_STATUS_SUCCESS)
		_exit(2);
	report(tfd, a.token);
	report(tfd, b.token);
	if (sync_mr(b.ad, b.pd, true, &fr) != NDK_STATUS_SUCCESS ||
	    sync_init_fr(b.ad, fr, 16, true) != NDK_STATUS_SUCCESS)
		_exit(2);
	for (i = 0; i < 16; i++)
		pages[i] = (uintptr_t)b.buf + i * 4096;
	for (;;) {
		switch (t_rand(&seed) % 4) {
		case 0: { /* fast register, a write through it, invalidate */
			struct ndk_result_ex r;

			if (ndk_qp_fast_register(
				    b.qp, &rc, fr, 16, pages, 0, 16 * 4096, (void *)0x7000000000ull,
				    NDK_OP_FLAG_ALLOW_REMOTE_WRITE) != NDK_STATUS_SUCCESS)
				_exit(4);
			r = side_result(&b);
			if (r.status != NDK_STATUS_SUCCESS)
				_exit(5);
			report(tfd, ndk_mr_get_remote_token(fr));
			r = side_rdma(&a, true, 0, 4096, a.token, 0x7000000000ull,
				      ndk_mr_get_remote_token(fr));
			if (r.status != NDK_STATUS_SUCCESS)
				_exit(6);
			/* killed before this, the victim dies with a live mapping */
			if (ndk_qp_invalidate(b.qp, &rc, fr, 0) != NDK_STATUS_SUCCESS ||
			    side_result(&b).status != NDK_STATUS_SUCCESS)
				_exit(7);
			break;
		}
		case 1: { /* an MR cycle, sometimes left registered */
			struct ndk_mr *mr;

			if (sync_mr(a.ad, a.pd, false, &mr) != NDK_STATUS_SUCCESS ||
			    sync_register(a.ad, mr, a.buf, 8192, NDK_MR_FLAG_ALLOW_REMOTE_READ) !=
				    NDK_STATUS_SUCCESS)
				_exit(8);
			report(tfd, ndk_mr_get_remote_token(mr));
			if (t_rand(&seed) % 4 != 0 && sync_close_mr(a.ad, mr) != NDK_STATUS_SUCCESS)
				_exit(9);
			break;
		}
		case 2: { /* writes in flight (a kill lands among them), then their results */
			struct ndk_sge sge = { .logical_address = (uintptr_t)a.buf,
					       .length = 32768,
					       .memory_region_token = a.token };
			unsigned int posted = 0;

			for (i = 0; i < 8; i++)
				posted += ndk_qp_write(a.qp, NULL, &sge, 1, (uintptr_t)b.buf,
						       b.rtoken, 0) == NDK_STATUS_SUCCESS;
			while (posted-- > 0)
				if (side_result(&a).status != NDK_STATUS_SUCCESS)
					_exit(10);
			break;
		}
		default: { /* a batch of NOPs, not waited for (their callbacks outlive this block)
			    */
			static struct wait w;

			for (i = 0; i < 16; i++)
				ndk_adapter_nop(a.ad, 0, w_req, &w);
			break;
		}
		}
	}
}

/* ndkd's mappings of client memory (channel and arena memfds), from its maps file */
static unsigned int
daemon_memfd_maps(void)
{
	char path[64], line[512];
	unsigned int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)d.pid);
	f = fopen(path, "r");
	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		n += strstr(line, "/memfd:") != NULL;
	if (f != NULL)
		fclose(f);
	return n;
}

static void
test_random_kills(void)
{
	const char *env = getenv("NDK_FAULT_ITERATIONS");
	unsigned int iterations = env != NULL ? (unsigned int)atoi(env) : 200, it;
	uint64_t seed = 20261121, base_entries, killed_tokens = 0, checked = 0;
	unsigned int base_maps;
	struct ndk_adapter *stay;
	struct ndk_pd *pd;
	int p[2];

	CHECK_STATUS(ndk_adapter_open(d.sock, NULL, &stay), NDK_STATUS_SUCCESS);
	CHECK_STATUS(sync_pd(stay, &pd), NDK_STATUS_SUCCESS);
	base_entries = tel_status_u64(&d, "mr_entries_in_use");
	base_maps = daemon_memfd_maps();
	/* the counting sees client memory: EAL's own, and the staying client's channel */
	CHECK(base_maps >= 2, "ndkd's memfd mappings counted (%u)", base_maps);
	for (it = 0; it < iterations && t_failures == 0; it++) {
		uint32_t tokens[4096];
		struct wait w = { 0 };
		ssize_t n;
		pid_t pid;
		int st, i;

		CHECK(pipe2(p, O_CLOEXEC) == 0, "pipe");
		pid = fork();
		if (pid == 0) {
			close(p[0]);
			victim(p[1], seed + it);
		}
		close(p[1]);
		/* 0-20 ms: attach, set-up, or deep in the loop */
		usleep((useconds_t)(t_rand(&seed) % 20000));
		kill(pid, SIGKILL);
		CHECK(waitpid(pid, &st, 0) == pid && WIFSIGNALED(st),
		      "iteration %u: the victim died of SIGKILL, not of a failure (status %d)", it,
		      st);
		n = read(p[0], tokens, sizeof(tokens));
		close(p[0]);
		/* ndkd notices the hang-up and frees everything the victim had */
		CHECK(tel_wait_u64(&d, "clients_attached", 1, 5000) == 1,
		      "iteration %u: only the staying client left", it);
		CHECK(tel_wait_u64(&d, "mr_entries_in_use", base_entries, 5000) == base_entries,
		      "iteration %u: MR table back to its baseline (%llu)", it,
		      (unsigned long long)tel_status_u64(&d, "mr_entries_in_use"));
		/* the last tokens it reported (the first ones too, every tenth round) */
		for (i = (int)(n > 0 ? n / 4 : 0) - 1; i >= 0 && i >= (int)(n / 4) - 8; i--) {
			CHECK(!tel_token_live(&d, tokens[i]),
			      "iteration %u: token 0x%x of the dead client refused", it, tokens[i]);
			checked++;
		}
		if (it % 10 == 0) {
			for (i = 0; i < (int)(n > 0 ? n / 4 : 0) && i < 4; i++)
				CHECK(!tel_token_live(&d, tokens[i]), "first tokens refused too");
		}
		killed_tokens += n > 0 ? (uint64_t)n / 4 : 0;
		/* the client that stayed is served as before */
		CHECK_STATUS(w_finish(stay, &w, ndk_adapter_nop(stay, 0, w_req, &w)),
			     NDK_STATUS_SUCCESS);
	}
	/*
	 * every channel and arena region of every victim unmapped (the last
	 * one's just after its detach shows: after a grace period)
	 */
	for (int k = 0; k < 200 && daemon_memfd_maps() != base_maps; k++)
		usleep(10 * 1000);
	CHECK(daemon_memfd_maps() == base_maps,
	      "ndkd maps %u memfd ranges, as before the kills (%u)", daemon_memfd_maps(),
	      base_maps);
	printf("  %u victims killed; %llu tokens reported, %llu checked dead\n", it,
	       (unsigned long long)killed_tokens, (unsigned long long)checked);
	CHECK(tel_status_u64(&d, "clients_broken") == 0, "no client was cut off as broken");
	CHECK_STATUS(sync_close_pd(stay, pd), NDK_STATUS_SUCCESS);
	ndk_adapter_close(stay);
}

/*
 * A greedy client takes MRs, PDs, CQs, QPs and arena memory until each is
 * refused with INSUFFICIENT_RESOURCES (or NULL from the allocator); a client
 * beside it keeps working throughout; closing the greedy one gives it all back.
 */
static void
test_exhaustion(void)
{
	static const char *const limits[] = { "--max-mrs-per-client",
					      "300",
					      "--max-pds-per-client",
					      "8",
					      "--max-cqs-per-client",
					      "6",
					      "--max-qps-per-client",
					      "5",
					      "--max-region-mb-per-client",
					      "256",
					      NULL };
	struct ndk_adapter *greedy, *good;
	struct ndk_pd *pd, *gpd;
	struct ndk_mr *mr;
	ndk_status st = NDK_STATUS_SUCCESS;
	unsigned int n_mr = 0, n_pd = 0, n_cq = 0, n_qp = 0, n_mb = 0;
	uint64_t base;
	struct ndk_cq *cq = NULL;
	void *buf;

	if (tdaemon_start(&d, "exhaust", limits) != 0) {
		CHECK(false, "ndkd with small limits");
		return;
	}
	CHECK_STATUS(ndk_adapter_open(d.sock, NULL, &good), NDK_STATUS_SUCCESS);
	CHECK_STATUS(sync_pd(good, &pd), NDK_STATUS_SUCCESS);
	buf = ndk_mem_alloc(good, 65536, 4096);
	CHECK(buf != NULL, "good client's buffer");
	CHECK_STATUS(ndk_adapter_open(d.sock, NULL, &greedy), NDK_STATUS_SUCCESS);

	/* the good client's check: a whole MR cycle and a NOP */
#define GOOD_STILL_SERVED(what)                                                                    \
	do {                                                                                       \
		struct ndk_mr *m_;                                                                 \
		int before_ = t_failures;                                                          \
		CHECK_STATUS(sync_mr(good, pd, false, &m_), NDK_STATUS_SUCCESS);                   \
		CHECK_STATUS(sync_register(good, m_, buf, 65536, NDK_MR_FLAG_ALLOW_LOCAL_WRITE),   \
			     NDK_STATUS_SUCCESS);                                                  \
		CHECK_STATUS(sync_close_mr(good, m_), NDK_STATUS_SUCCESS);                         \
		CHECK(t_failures == before_, "good client served while the greedy one hit %s",     \
		      what);                                                                       \
	} while (0)

	/* once first: the good client's PD fills its MR pool, part of the baseline */
	GOOD_STILL_SERVED("nothing yet");
	base = tel_status_u64(&d, "mr_entries_in_use");
	CHECK_STATUS(sync_pd(greedy, &gpd), NDK_STATUS_SUCCESS);
	n_pd = 1;
	while (n_mr < 100000 && (st = sync_mr(greedy, gpd, false, &mr)) == NDK_STATUS_SUCCESS)
		n_mr++;
	CHECK_STATUS(st, NDK_STATUS_INSUFFICIENT_RESOURCES);
	GOOD_STILL_SERVED("its MR limit");
	while (n_pd < 100000 && (st = sync_pd(greedy, &gpd)) == NDK_STATUS_SUCCESS)
		n_pd++;
	CHECK_STATUS(st, NDK_STATUS_INSUFFICIENT_RESOURCES);
	GOOD_STILL_SERVED("its PD limit");
	for (;;) {
		struct wait w = { 0 };

		st = w_finish(greedy, &w, ndk_cq_create(greedy, 64, w_create, &w, &cq));
		if (st != NDK_STATUS_SUCCESS || ++n_cq > 100000)
			break;
		cq = (struct ndk_cq *)w.obj;
	}
	CHECK_STATUS(st, NDK_STATUS_INSUFFICIENT_RESOURCES);
	GOOD_STILL_SERVED("its CQ limit");
	for (;;) {
		struct wait w = { 0 };
		struct ndk_qp *qp;

		st = w_finish(greedy, &w,
			      ndk_qp_create(gpd, cq, cq, NULL, 8, 8, 1, 1, 0, w_create, &w, &qp));
		if (st != NDK_STATUS_SUCCESS || ++n_qp > 100000)
			break;
	}
	CHECK_STATUS(st, NDK_STATUS_INSUFFICIENT_RESOURCES);
	GOOD_STILL_SERVED("its QP limit");
	while (n_mb < 100000 && ndk_mem_alloc(greedy, 16 << 20, 4096) != NULL)
		n_mb += 16;
	CHECK(n_mb > 0 && n_mb < 100000, "arena refused past the region limit (%u MiB)", n_mb);
	GOOD_STILL_SERVED("its memory limit");
	printf("  greedy client refused after %u MRs, %u PDs, %u CQs, %u QPs, %u MiB\n", n_mr, n_pd,
	       n_cq, n_qp, n_mb);

	ndk_adapter_close(greedy);
	{
		/* the good client's pool may be short of a few MRs, never over */
		uint64_t deadline = t_deadline_ms(5000);

		while (tel_status_u64(&d, "mr_entries_in_use") > base && t_now_ns() < deadline)
			usleep(1000);
	}
	CHECK(tel_status_u64(&d, "mr_entries_in_use") <= base &&
		      tel_status_u64(&d, "clients_attached") == 1,
	      "everything the greedy client held is back (%llu in use, %llu before)",
	      (unsigned long long)tel_status_u64(&d, "mr_entries_in_use"),
	      (unsigned long long)base);
	GOOD_STILL_SERVED("nothing");
	ndk_mem_free(good, buf);
	CHECK_STATUS(sync_close_pd(good, pd), NDK_STATUS_SUCCESS);
	ndk_adapter_close(good);
	CHECK(tdaemon_stop(&d) == 0, "ndkd exits 0");
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	if (tdaemon_start(&d, "fault", NULL) != 0)
		return 1;
	RUN(test_random_kills);
	CHECK(tdaemon_stop(&d) == 0, "ndkd exits 0");
	RUN(test_exhaustion);
	return t_done();
}
