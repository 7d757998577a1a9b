/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Load: NDK_SOAK_CLIENTS processes (default 64), each for NDK_SOAK_SECONDS
 * (default 5; scripts/soak runs minutes) doing create MR, register, fast
 * register, an RDMA write through the new token with its data checked,
 * invalidate, deregister and close, over and over. ndkd's counters are
 * sampled while they run (the MR table must not grow without bound) and
 * checked at the end: every client attached and cleaned up, no malformed
 * request, no broken ring, the MR table back to empty.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rdma_util.h"

static struct tdaemon d;

/* One client's loop; exit status 0 and the cycle count through the pipe. */
static void __attribute__((noreturn)) worker(int out, unsigned int seconds, uint64_t seed)
{
	struct side a, b;
	struct ndk_mr *fr;
	ndk_logical_address pages[8];
	uint64_t cycles = 0, end;
	void *rc = NULL;
	unsigned int i;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* the clients poll; let ndkd's engine have the CPU when it wants it */
	if (nice(5) == -1)
		(void)0;
	if (!side_open(&a, d.sock, 1 << 16, NDK_MR_FLAG_ALLOW_LOCAL_WRITE) ||
	    !side_open(&b, d.sock, 1 << 16, 0) ||
	    side_connect(&a, side_qpn(&b)) != NDK_STATUS_SUCCESS ||
	    side_connect(&b, side_qpn(&a)) != NDK_STATUS_SUCCESS)
		_exit(2);
	for (i = 0; i < 8; i++)
		pages[i] = (uintptr_t)b.buf + i * 4096;
	end = t_now_ns() + (uint64_t)seconds * 1000000000ull;
	while (t_now_ns() < end) {
		struct ndk_mr *mr;
		uint32_t len = 1 + (uint32_t)(t_rand(&seed) % 32768), token;
		uint8_t v = (uint8_t)(cycles + 1);

		/* create, register and (at the end) close a normal MR on b */
		if (sync_mr(b.ad, b.pd, false, &mr) != NDK_STATUS_SUCCESS ||
		    sync_register(b.ad, mr, b.buf + 32768, 32768, NDK_MR_FLAG_ALLOW_REMOTE_READ) !=
			    NDK_STATUS_SUCCESS)
			_exit(3);
		/* a fast-register MR: initialise, map b's first 32 KiB, write through it */
		if (sync_mr(b.ad, b.pd, true, &fr) != NDK_STATUS_SUCCESS ||
		    sync_init_fr(b.ad, fr, 8, true) != NDK_STATUS_SUCCESS)
			_exit(4);
		if (ndk_qp_fast_register(b.qp, &rc, fr, 8, pages, 0, 8 * 4096,
					 (void *)0x6000000000ull,
					 NDK_OP_FLAG_ALLOW_REMOTE_WRITE) != NDK_STATUS_SUCCESS ||
		    side_result(&b).status != NDK_STATUS_SUCCESS)
			_exit(5);
		token = ndk_mr_get_remote_token(fr);
		memset(a.buf, v, len);
		if (side_rdma(&a, true, 0, len, a.token, 0x6000000000ull, token).status !=
			    NDK_STATUS_SUCCESS ||
		    b.buf[0] != v || b.buf[len - 1] != v)
			_exit(6);
		if (ndk_qp_invalidate(b.qp, &rc, fr, 0) != NDK_STATUS_SUCCESS ||
		    side_result(&b).status != NDK_STATUS_SUCCESS)
			_exit(7);
		/* the token is dead: a write through it fails, and a's QP needs replacing */
		if (cycles % 64 == 0) {
			if (side_rdma(&a, true, 0, 8, a.token, 0x6000000000ull, token).status ==
			    NDK_STATUS_SUCCESS)
				_exit(8);
			if (!pair_reset(&a, &b))
				_exit(9);
		}
		if (sync_close_mr(b.ad, fr) != NDK_STATUS_SUCCESS ||
		    sync_deregister(b.ad, mr) != NDK_STATUS_SUCCESS ||
		    sync_close_mr(b.ad, mr) != NDK_STATUS_SUCCESS)
			_exit(10);
		cycles++;
	}
	if (write(out, &cycles, sizeof(cycles)) != sizeof(cycles))
		_exit(11);
	side_close(&a);
	side_close(&b);
	_exit(0);
}

static unsigned int
env_uint(const char *name, unsigned int def)
{
	const char *v = getenv(name);

	return v != NULL && atoi(v) > 0 ? (unsigned int)atoi(v) : def;
}

static void
test_soak(void)
{
	unsigned int n = env_uint("NDK_SOAK_CLIENTS", 64),
		     seconds = env_uint("NDK_SOAK_SECONDS", 5);
	uint64_t total = 0, peak = 0, base_cleaned = tel_status_u64(&d, "clients_cleaned_up");
	pid_t *pids = calloc(n, sizeof(*pids));
	unsigned int i, ok = 0;
	uint64_t t0 = t_now_ns();
	int p[2];

	CHECK(pids != NULL && pipe(p) == 0, "set-up");
	for (i = 0; i < n; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			close(p[0]);
			worker(p[1], seconds, 1000 + i);
		}
	}
	close(p[1]);
	/* sample the table while they run: bounded, not creeping */
	while (t_now_ns() - t0 < (uint64_t)seconds * 1000000000ull) {
		uint64_t v = tel_status_u64(&d, "mr_entries_in_use");

		if (v != UINT64_MAX && v > peak)
			peak = v;
		usleep(200000);
	}
	for (i = 0; i < n; i++) {
		int st;

		if (waitpid(pids[i], &st, 0) == pids[i] && WIFEXITED(st) && WEXITSTATUS(st) == 0)
			ok++;
		else
			CHECK(false, "client %u exited with status %d", i,
			      WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st));
	}
	for (i = 0; i < n; i++) {
		uint64_t c;

		if (read(p[0], &c, sizeof(c)) == sizeof(c))
			total += c;
	}
	close(p[0]);
	printf("  %u clients x %u s: %llu cycles (%.0f/s), MR table peak %llu entries\n", n,
	       seconds, (unsigned long long)total,
	       (double)total / ((double)(t_now_ns() - t0) / 1e9), (unsigned long long)peak);
	CHECK(ok == n, "every client finished cleanly (%u of %u)", ok, n);
	CHECK(total > 0, "work was done");
	/* each client: two PDs' privileged tokens, pooled MRs (up to 32 a kind), a few live */
	CHECK(peak <= (uint64_t)n * 2 * (2 + 64 + 4), "MR table bounded while loaded (peak %llu)",
	      (unsigned long long)peak);
	CHECK(tel_wait_u64(&d, "clients_attached", 0, 10000) == 0, "all detached");
	CHECK(tel_status_u64(&d, "clients_cleaned_up") - base_cleaned == 2ull * n,
	      "every adapter cleaned up");
	CHECK(tel_wait_u64(&d, "mr_entries_in_use", 0, 10000) == 0, "MR table empty");
	CHECK(tel_status_u64(&d, "bad_requests") == 0 && tel_status_u64(&d, "clients_broken") == 0,
	      "no malformed request, no broken ring");
	free(pids);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	if (tdaemon_start(&d, "soak", NULL) != 0)
		return 1;
	RUN(test_soak);
	CHECK(tdaemon_stop(&d) == 0, "ndkd exits 0");
	return t_done();
}
