/* SPDX-License-Identifier: BSD-3-Clause */
/* Many client processes at once; a client SIGKILLed mid-stream is cleaned up at once. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ndk/ndk.h>

#include "testlib.h"

#define N_CLIENTS 64

static struct tdaemon d;

static void
done_cb(void *ctx, ndk_status st)
{
	uint64_t *n = ctx;

	if (st == NDK_STATUS_SUCCESS)
		(*n)++;
}

/* Child body: attach, NOPs, report, wait for the go byte, more NOPs, detach. */
static int
client_child(int ready_fd, int go_fd, int nops)
{
	struct ndk_adapter *ad;
	uint64_t ok = 0;
	char b = 0;
	int i;

	if (ndk_adapter_open(d.sock, NULL, &ad) != NDK_STATUS_SUCCESS)
		return 10;
	for (i = 0; i < nops; i++) {
		while (ndk_adapter_nop(ad, 0, done_cb, &ok) != NDK_STATUS_PENDING)
			ndk_adapter_progress(ad, 0);
	}
	while (ok < (uint64_t)nops)
		ndk_adapter_progress(ad, 0);
	if (write(ready_fd, "r", 1) != 1)
		return 11;
	if (read(go_fd, &b, 1) != 1)
		return 12;
	for (i = 0; i < nops; i++) {
		while (ndk_adapter_nop(ad, 0, done_cb, &ok) != NDK_STATUS_PENDING)
			ndk_adapter_progress(ad, 0);
	}
	if (ndk_adapter_close(ad) != NDK_STATUS_SUCCESS)
		return 13;
	return ok == 2ull * (uint64_t)nops ? 0 : 14;
}

static void
test_64_clients(void)
{
	int ready[2], go[2], i, st, good = 0;
	pid_t pids[N_CLIENTS];
	uint64_t base_total = tel_status_u64(&d, "clients_total");
	uint64_t base_clean = tel_status_u64(&d, "clients_cleaned_up");
	char b;

	CHECK(pipe(ready) == 0 && pipe(go) == 0, "pipes");
	for (i = 0; i < N_CLIENTS; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			close(ready[0]);
			close(go[1]);
			_exit(client_child(ready[1], go[0], 1000));
		}
	}
	close(ready[1]);
	close(go[0]);
	for (i = 0; i < N_CLIENTS; i++)
		CHECK(read(ready[0], &b, 1) == 1, "client %d ready", i);
	/* All 64 attached at the same moment. */
	CHECK(tel_status_u64(&d, "clients_attached") == N_CLIENTS, "64 attached at once (%llu)",
	      (unsigned long long)tel_status_u64(&d, "clients_attached"));
	for (i = 0; i < N_CLIENTS; i++)
		CHECK(write(go[1], "g", 1) == 1, "go");
	for (i = 0; i < N_CLIENTS; i++) {
		waitpid(pids[i], &st, 0);
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
			good++;
		else
			CHECK(0, "client %d exited with %d", i,
			      WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	}
	CHECK(good == N_CLIENTS, "all clients succeeded");
	CHECK(tel_wait_u64(&d, "clients_cleaned_up", base_clean + N_CLIENTS, 5000) ==
		      base_clean + N_CLIENTS,
	      "64 cleaned up");
	CHECK(tel_status_u64(&d, "clients_total") == base_total + N_CLIENTS, "64 attached in all");
	CHECK(tel_status_u64(&d, "clients_attached") == 0, "none left attached");
	close(ready[0]);
	close(go[1]);
}

/* Child: attach and post NOPs forever, progressing, until killed. */
static void
streaming_child(int ready_fd)
{
	struct ndk_adapter *ad;
	uint64_t ok = 0;
	int signalled = 0;

	if (ndk_adapter_open(d.sock, NULL, &ad) != NDK_STATUS_SUCCESS)
		_exit(10);
	for (;;) {
		/* deferred batches so requests sit in the ring when the kill lands */
		(void)ndk_adapter_nop(ad, (ok & 7) ? NDK_OP_FLAG_DEFER : 0, done_cb, &ok);
		ndk_adapter_progress(ad, 16);
		if (!signalled && ok > 10000) {
			signalled = 1;
			if (write(ready_fd, "r", 1) != 1)
				_exit(11);
		}
	}
}

static void
test_sigkill_client(void)
{
	uint64_t clean = tel_status_u64(&d, "clients_cleaned_up");
	uint64_t served;
	int ready[2], k;
	pid_t pid;
	char b;

	for (k = 0; k < 5; k++) {
		CHECK(pipe(ready) == 0, "pipe");
		pid = fork();
		if (pid == 0) {
			close(ready[0]);
			streaming_child(ready[1]);
		}
		close(ready[1]);
		CHECK(read(ready[0], &b, 1) == 1, "child streaming");
		close(ready[0]);
		CHECK(tel_status_u64(&d, "clients_attached") == 1, "attached");
		served = tel_status_u64(&d, "requests_served");
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		clean++;
		CHECK(tel_wait_u64(&d, "clients_cleaned_up", clean, 2000) == clean,
		      "killed client %d cleaned up", k);
		CHECK(tel_status_u64(&d, "clients_attached") == 0, "nothing attached");
		CHECK(served > 10000, "it was mid-stream (%llu served)",
		      (unsigned long long)served);
	}
	CHECK(tdaemon_alive(&d), "daemon alive");

	/* A new client still works. */
	{
		struct ndk_adapter *ad;
		uint64_t ok = 0;

		CHECK_STATUS(ndk_adapter_open(d.sock, NULL, &ad), NDK_STATUS_SUCCESS);
		CHECK_STATUS(ndk_adapter_nop(ad, 0, done_cb, &ok), NDK_STATUS_PENDING);
		while (ok == 0)
			ndk_adapter_progress(ad, 0);
		CHECK_STATUS(ndk_adapter_close(ad), NDK_STATUS_SUCCESS);
	}
}

int
main(void)
{
	if (tdaemon_start(&d, "clients", NULL) != 0)
		return 1;
	RUN(test_64_clients);
	RUN(test_sigkill_client);
	CHECK(tdaemon_stop(&d) == 0, "ndkd exits 0 on SIGTERM");
	return t_done();
}
