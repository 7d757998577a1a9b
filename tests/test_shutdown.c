/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The daemon stops (SIGTERM) or dies (SIGKILL) under load: every client gets
 * exactly one callback for every request it had pending, new posts fail with
 * DEVICE_REMOVED, nobody hangs, and a restarted daemon serves again.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ndk/ndk.h>

#include "testlib.h"

#define N_CLIENTS 4

struct tally {
	uint64_t ok;
	uint64_t removed;
	uint64_t other;
};

static void
tally_cb(void *ctx, ndk_status st)
{
	struct tally *t = ctx;

	if (st == NDK_STATUS_SUCCESS)
		t->ok++;
	else if (st == NDK_STATUS_DEVICE_REMOVED)
		t->removed++;
	else
		t->other++;
}

/*
 * Stream NOPs until a post says DEVICE_REMOVED, then progress until every
 * posted request has had its callback. Exit codes say what went wrong;
 * SIGALRM (a hang) kills the child.
 */
static int
client_child(const char *sock, int ready_fd)
{
	struct ndk_adapter *ad;
	struct tally t = { 0 };
	uint64_t posted = 0;
	ndk_status st;
	bool told = false;

	alarm(20);
	if (ndk_adapter_open(sock, NULL, &ad) != NDK_STATUS_SUCCESS)
		return 10;
	for (;;) {
		st = ndk_adapter_nop(ad, (posted & 3) ? NDK_OP_FLAG_DEFER : 0, tally_cb, &t);
		if (st == NDK_STATUS_PENDING)
			posted++;
		else if (st == NDK_STATUS_DEVICE_REMOVED)
			break;
		else if (st != NDK_STATUS_INSUFFICIENT_RESOURCES)
			return 11;
		/* Reap slowly, so requests are queued when the daemon goes. */
		if (st == NDK_STATUS_INSUFFICIENT_RESOURCES || (posted & 63) == 0)
			ndk_adapter_progress(ad, 8);
		if (!told && t.ok > 1000) {
			told = true;
			if (write(ready_fd, "r", 1) != 1)
				return 12;
		}
	}
	while (t.ok + t.removed + t.other < posted)
		ndk_adapter_progress(ad, 0);
	if (t.ok + t.removed + t.other != posted)
		return 13; /* more callbacks than requests */
	if (t.other != 0)
		return 14;
	if (ndk_adapter_nop(ad, 0, tally_cb, &t) != NDK_STATUS_DEVICE_REMOVED)
		return 15;
	if (ndk_adapter_close(ad) != NDK_STATUS_SUCCESS)
		return 16;
	printf("  client %d: %llu posted, %llu ok, %llu DEVICE_REMOVED\n", (int)getpid(),
	       (unsigned long long)posted, (unsigned long long)t.ok, (unsigned long long)t.removed);
	fflush(stdout);
	return 0;
}

static void
run_under_load(bool sigkill)
{
	struct tdaemon d;
	pid_t pids[N_CLIENTS];
	int ready[2], i, st;
	char b;

	if (tdaemon_start(&d, sigkill ? "kill9" : "term", NULL) != 0) {
		CHECK(0, "start");
		return;
	}
	CHECK(pipe(ready) == 0, "pipe");
	for (i = 0; i < N_CLIENTS; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			close(ready[0]);
			fflush(stdout);
			_exit(client_child(d.sock, ready[1]));
		}
	}
	close(ready[1]);
	for (i = 0; i < N_CLIENTS; i++)
		CHECK(read(ready[0], &b, 1) == 1, "client %d busy", i);
	close(ready[0]);
	if (sigkill) {
		kill(d.pid, SIGKILL);
		waitpid(d.pid, NULL, 0);
		d.pid = -1;
	} else {
		CHECK(tdaemon_stop(&d) == 0, "SIGTERM under load: exit status 0");
	}
	for (i = 0; i < N_CLIENTS; i++) {
		waitpid(pids[i], &st, 0);
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "client %d: %s %d", i,
		      WIFEXITED(st) ? "exit" : "signal",
		      WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	}

	/* A daemon started again on the same socket serves new clients. */
	{
		struct tdaemon d2;
		struct ndk_adapter *ad;
		struct tally t = { 0 };
		char sock[128];

		snprintf(sock, sizeof(sock), "%s", d.sock);
		if (tdaemon_start_at(&d2, sigkill ? "kill9b" : "termb", sock, NULL) != 0) {
			CHECK(0, "restart on %s", sock);
		} else {
			CHECK_STATUS(ndk_adapter_open(sock, NULL, &ad), NDK_STATUS_SUCCESS);
			CHECK_STATUS(ndk_adapter_nop(ad, 0, tally_cb, &t), NDK_STATUS_PENDING);
			while (t.ok + t.removed + t.other == 0)
				ndk_adapter_progress(ad, 0);
			CHECK(t.ok == 1, "served after restart");
			ndk_adapter_close(ad);
			CHECK(tdaemon_stop(&d2) == 0, "clean stop");
		}
		unlink(sock);
	}
	tdaemon_kill(&d);
}

static void
test_sigterm_under_load(void)
{
	run_under_load(false);
}

static void
test_sigkill_under_load(void)
{
	run_under_load(true);
}

int
main(void)
{
	RUN(test_sigterm_under_load);
	RUN(test_sigkill_under_load);
	return t_done();
}
