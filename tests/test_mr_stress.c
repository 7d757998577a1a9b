/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * MRs at volume and under attack: a million create/register/deregister/close
 * cycles leave nothing behind; a client killed with 10,000 registered MRs
 * leaves no entry and no live token; a client forging handles in its ring
 * reaches nothing of another client's.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ndk/ndk.h>

#include "ndk_sync.h"

static struct tdaemon d;

static void
test_million_cycles(void)
{
	const int cycles = getenv("NDK_TEST_QUICK") != NULL ? 100000 : 1000000;
	uint64_t base = tel_status_u64(&d, "mr_entries_in_use");
	struct ndk_adapter *ad;
	struct ndk_pd *pd = NULL;
	char *buf;
	int i, bad = 0;

	CHECK_STATUS(ndk_adapter_open(d.sock, NULL, &ad), NDK_STATUS_SUCCESS);
	CHECK_STATUS(sync_pd(ad, &pd), NDK_STATUS_SUCCESS);
	buf = ndk_mem_alloc(ad, 65536, 4096);
	for (i = 0; i < cycles && bad < 10; i++) {
		struct ndk_mr *mr = NULL;

		if (sync_mr(ad, pd, false, &mr) != NDK_STATUS_SUCCESS ||
		    sync_register(ad, mr, buf, 65536, NDK_MR_FLAG_ALLOW_REMOTE_WRITE) !=
			    NDK_STATUS_SUCCESS) {
			bad++;
			continue;
		}
		/* half deregister then close (back to the pool), half close registered */
		if ((i & 1) && sync_deregister(ad, mr) != NDK_STATUS_SUCCESS)
			bad++;
		if (sync_close_mr(ad, mr) != NDK_STATUS_SUCCESS)
			bad++;
	}
	CHECK(bad == 0, "%d cycles failed", bad);
	printf("  %d cycles\n", i);
	ndk_mem_free(ad, buf);
	CHECK_STATUS(sync_close_pd(ad, pd), NDK_STATUS_SUCCESS);
	CHECK_STATUS(ndk_adapter_close(ad), NDK_STATUS_SUCCESS);
	CHECK(tel_wait_u64(&d, "mr_entries_in_use", base, 2000) == base,
	      "MR table back to where it was");
	CHECK(tel_wait_u64(&d, "clients_attached", 0, 2000) == 0, "client gone");
}

#define KILL_MRS 10000

/* Child: register KILL_MRS MRs, send their tokens, then wait to be killed. */
static void
many_mrs_child(int fd)
{
	struct ndk_adapter *ad;
	struct ndk_pd *pd = NULL;
	static uint32_t tokens[KILL_MRS];
	char *buf;
	int i;

	if (ndk_adapter_open(d.sock, NULL, &ad) != NDK_STATUS_SUCCESS ||
	    sync_pd(ad, &pd) != NDK_STATUS_SUCCESS)
		_exit(10);
	buf = ndk_mem_alloc(ad, KILL_MRS * 64, 4096);
	for (i = 0; i < KILL_MRS; i++) {
		struct ndk_mr *mr = NULL;

		if (sync_mr(ad, pd, false, &mr) != NDK_STATUS_SUCCESS ||
		    sync_register(ad, mr, buf + i * 64, 64, NDK_MR_FLAG_ALLOW_REMOTE_READ) !=
			    NDK_STATUS_SUCCESS)
			_exit(11);
		tokens[i] = ndk_mr_get_remote_token(mr);
	}
	if (write(fd, tokens, sizeof(tokens)) != (ssize_t)sizeof(tokens))
		_exit(12);
	for (;;)
		pause();
}

static void
test_killed_with_10k_mrs(void)
{
	static uint32_t tokens[KILL_MRS];
	uint64_t base, clean;
	size_t got = 0;
	int p[2], i, live = 0;
	pid_t pid;

	CHECK(tel_settle(&d, 0, 3000), "earlier clients cleaned up");
	base = tel_status_u64(&d, "mr_entries_in_use");
	clean = tel_status_u64(&d, "clients_cleaned_up");

	CHECK(pipe(p) == 0, "pipe");
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		many_mrs_child(p[1]);
	}
	close(p[1]);
	while (got < sizeof(tokens)) {
		ssize_t n = read(p[0], (char *)tokens + got, sizeof(tokens) - got);

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(p[0]);
	CHECK(got == sizeof(tokens), "child registered %d MRs", KILL_MRS);
	CHECK(tel_status_u64(&d, "mr_entries_in_use") >= base + KILL_MRS, "entries in use");
	for (i = 0; i < KILL_MRS; i += 97)
		live += tel_token_live(&d, tokens[i]);
	CHECK(live == (KILL_MRS + 96) / 97, "sampled tokens live before the kill (%d)", live);

	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	CHECK(tel_wait_u64(&d, "clients_cleaned_up", clean + 1, 3000) == clean + 1, "cleaned up");
	CHECK(tel_wait_u64(&d, "mr_entries_in_use", base, 3000) == base,
	      "every entry freed (%llu in use, %llu before)",
	      (unsigned long long)tel_status_u64(&d, "mr_entries_in_use"),
	      (unsigned long long)base);
	live = 0;
	for (i = 0; i < KILL_MRS; i++)
		live += tel_token_live(&d, tokens[i]);
	CHECK(live == 0, "%d of %d old tokens still live", live, KILL_MRS);
}

static void
test_forged_handles(void)
{
	struct ndk_adapter *a;
	struct ndk_pd *pd = NULL;
	struct ndk_mr *mr = NULL;
	struct raw_client b;
	uint32_t token, h, refused = 0, st;
	char *buf;

	/* client A: a PD and a registered MR */
	CHECK_STATUS(ndk_adapter_open(d.sock, NULL, &a), NDK_STATUS_SUCCESS);
	CHECK_STATUS(sync_pd(a, &pd), NDK_STATUS_SUCCESS);
	CHECK_STATUS(sync_mr(a, pd, false, &mr), NDK_STATUS_SUCCESS);
	buf = ndk_mem_alloc(a, 4096, 4096);
	CHECK_STATUS(sync_register(a, mr, buf, 4096, NDK_MR_FLAG_ALLOW_REMOTE_WRITE),
		     NDK_STATUS_SUCCESS);
	token = ndk_mr_get_remote_token(mr);

	/* client B, speaking the ABI by hand, tries every handle A could have */
	CHECK(raw_attach(&b, d.sock) == 0, "raw attach");
	for (h = 0; h < 200 && b.region != NULL; h++) {
		refused += raw_call(&b, NDK_ABI_OP_MR_DESTROY, h, 0, 0, 0) != 0;
		refused += raw_call(&b, NDK_ABI_OP_MR_DEREGISTER, h, 0, 0, 0) != 0;
		refused += raw_call(&b, NDK_ABI_OP_PD_DESTROY, h, 0, 0, 0) != 0;
		refused += raw_call(&b, NDK_ABI_OP_MR_CREATE, h, 0, 0, 0) != 0;
		/* register A's buffer through any handle: B has no region there either */
		refused += raw_call(&b, NDK_ABI_OP_MR_REGISTER, h, (uintptr_t)buf, 4096, 0) != 0;
	}
	CHECK(refused == 5 * 200, "every forged call refused (%u of %u)", refused, 5 * 200);
	CHECK(tel_token_live(&d, token), "A's token untouched");

	/* within B: its own PD handle used as an MR handle, and the reverse */
	st = raw_call(&b, NDK_ABI_OP_PD_CREATE, 0, 0, 0, 0);
	CHECK_STATUS(st, NDK_STATUS_SUCCESS);
	CHECK_STATUS(raw_call(&b, NDK_ABI_OP_MR_DESTROY, 1, 0, 0, 0), NDK_STATUS_INVALID_HANDLE);
	CHECK_STATUS(raw_call(&b, NDK_ABI_OP_MR_CREATE, 1, 7, 0, 0), NDK_STATUS_INVALID_PARAMETER);
	raw_close(&b);

	CHECK_STATUS(sync_close_mr(a, mr), NDK_STATUS_SUCCESS);
	CHECK(!tel_token_live(&d, token), "A's own close still works and kills the token");
	ndk_mem_free(a, buf);
	CHECK_STATUS(sync_close_pd(a, pd), NDK_STATUS_SUCCESS);
	CHECK_STATUS(ndk_adapter_close(a), NDK_STATUS_SUCCESS);
}

int
main(void)
{
	if (tdaemon_start(&d, "mrstress", NULL) != 0)
		return 1;
	RUN(test_forged_handles);
	RUN(test_killed_with_10k_mrs);
	RUN(test_million_cycles);
	CHECK(tel_wait_u64(&d, "mr_entries_in_use", 0, 2000) == 0, "MR table empty at the end");
	CHECK(tdaemon_stop(&d) == 0, "ndkd exits 0 on SIGTERM");
	return t_done();
}
