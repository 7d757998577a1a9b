/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ndkd under a service manager, with a fake one: NOTIFY_SOCKET is a datagram
 * socket this test reads. READY=1 only once the socket accepts, WATCHDOG=1
 * while the engines make passes and not once one is stuck, STOPPING=1 on
 * SIGTERM, a bounded stop even with a stuck engine, and log lines with
 * journal priorities when stderr is the journal.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <ndk/ndk.h>

#include "ndk_sync.h"
#include "testlib.h"

static char dir[] = "/tmp/ndkt-service-XXXXXX";

struct fake_systemd {
	int fd;
	char path[108];
};

static bool
fake_open(struct fake_systemd *f, const char *name)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	snprintf(f->path, sizeof(f->path), "%s/%s", dir, name);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->path);
	f->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (f->fd < 0 || bind(f->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		return false;
	setenv("NOTIFY_SOCKET", f->path, 1);
	return true;
}

static void
fake_close(struct fake_systemd *f)
{
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	close(f->fd);
	unlink(f->path);
}

/* The next notification within timeout_ms, into msg; false when none came. */
static bool
fake_next(struct fake_systemd *f, char *msg, size_t len, int timeout_ms)
{
	struct pollfd p = { .fd = f->fd, .events = POLLIN };
	ssize_t n;

	if (poll(&p, 1, timeout_ms) != 1)
		return false;
	n = recv(f->fd, msg, len - 1, 0);
	if (n < 0)
		return false;
	msg[n] = '\0';
	return true;
}

/* Wait for a notification containing want; count the WATCHDOG=1 seen on the way. */
static bool
fake_wait_for(struct fake_systemd *f, const char *want, int timeout_ms, unsigned int *pings)
{
	uint64_t deadline = t_deadline_ms((uint64_t)timeout_ms);
	char msg[256];

	while (t_now_ns() < deadline) {
		if (!fake_next(f, msg, sizeof(msg), 50))
			continue;
		if (pings != NULL && strstr(msg, "WATCHDOG=1") != NULL)
			(*pings)++;
		if (strstr(msg, want) != NULL)
			return true;
	}
	return false;
}

static bool
can_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	bool ok;

	if (strlen(path) >= sizeof(sa.sun_path))
		return false;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

static void
test_notify_and_watchdog(void)
{
	struct fake_systemd f;
	struct tdaemon d;
	unsigned int pings = 0;
	struct stat st;

	CHECK(fake_open(&f, "notify-ok"), "fake NOTIFY_SOCKET: %s", strerror(errno));
	setenv("WATCHDOG_USEC", "300000", 1);
	CHECK(tdaemon_start(&d, "service", NULL) == 0, "ndkd starts");
	CHECK(fake_wait_for(&f, "READY=1", 5000, NULL), "READY=1");
	CHECK(can_connect(d.sock), "the socket accepts once READY=1 was sent");
	/* 300 ms watchdog: a ping at least every 150 ms, so 1 s holds several */
	CHECK(!fake_wait_for(&f, "no such state", 1000, &pings) && pings >= 5,
	      "WATCHDOG=1 while the engine runs: %u in 1 s", pings);
	CHECK(kill(d.pid, SIGTERM) == 0, "SIGTERM");
	CHECK(fake_wait_for(&f, "STOPPING=1", 5000, NULL), "STOPPING=1");
	CHECK(tdaemon_stop(&d) == 0, "exit 0");
	CHECK(stat(d.sock, &st) != 0 && errno == ENOENT, "socket file unlinked");
	fake_close(&f);
}

/*
 * An engine that stops making passes: the watchdog goes unfed (systemd would
 * restart ndkd), clients of the stopping daemon get an error, not a hang, and
 * the daemon exits within its stop timeout, with status 1.
 */
static void
test_stuck_engine(void)
{
	struct fake_systemd f;
	struct tdaemon d;
	struct ndk_adapter *ad;
	struct wait w = { 0 };
	unsigned int pings = 0;
	uint64_t t0;
	char msg[256];
	int st;

	CHECK(fake_open(&f, "notify-stuck"), "fake NOTIFY_SOCKET");
	setenv("WATCHDOG_USEC", "300000", 1);
	setenv("NDKD_FAULT_ENGINE_STALL_MS", "700", 1);
	CHECK(tdaemon_start(&d, "stuck", NULL) == 0, "ndkd starts");
	unsetenv("NDKD_FAULT_ENGINE_STALL_MS");
	CHECK(fake_wait_for(&f, "READY=1", 5000, NULL), "READY=1");
	CHECK_STATUS(ndk_adapter_open(d.sock, NULL, &ad), NDK_STATUS_SUCCESS);
	/* pings go on up to the stall, then stop for good */
	sleep(1);
	while (fake_next(&f, msg, sizeof(msg), 0))
		;
	CHECK(!fake_wait_for(&f, "WATCHDOG=1", 1500, &pings) && pings == 0,
	      "no WATCHDOG=1 for 1.5 s once the engine is stuck (%u seen)", pings);

	/* a request into the stuck engine, then SIGTERM: the client hears of it */
	CHECK_STATUS(ndk_adapter_nop(ad, 0, w_req, &w), NDK_STATUS_PENDING);
	t0 = t_now_ns();
	CHECK(kill(d.pid, SIGTERM) == 0, "SIGTERM");
	{
		/* the stuck engine never answers: ndkd's exit (after its 5 s stop timeout) does */
		uint64_t deadline = t_deadline_ms(10000);

		while (w.calls == 0 && t_now_ns() < deadline)
			ndk_adapter_progress(ad, 0);
	}
	CHECK(w.calls == 1 && w.status == NDK_STATUS_DEVICE_REMOVED,
	      "the pending request completes with DEVICE_REMOVED (%u calls, %s)", w.calls,
	      ndk_status_str(w.status));
	st = tdaemon_stop(&d);
	CHECK(st == 1, "ndkd gives up on the engine and exits 1 (got %d)", st);
	CHECK(t_now_ns() - t0 < 8000000000ull, "within its 5 s stop timeout (%.1f s)",
	      (double)(t_now_ns() - t0) / 1e9);
	ndk_adapter_close(ad);
	fake_close(&f);
}

/* With JOURNAL_STREAM naming stderr, each line carries its syslog priority. */
static void
test_journal_priorities(void)
{
	struct tdaemon d;
	char line[512];
	bool notice = false, info = false, bare = false;
	FILE *f;

	/* read while it runs: a clean stop removes the log */
	setenv("NDKD_TEST_JOURNAL", "1", 1);
	CHECK(tdaemon_start(&d, "journal", NULL) == 0, "ndkd starts");
	unsetenv("NDKD_TEST_JOURNAL");
	f = fopen(d.log, "r");
	CHECK(f != NULL, "log readable");
	while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "<5>ndkd.main: listening on ", 27) == 0)
			notice = true;
		if (strncmp(line, "<6>ndkd.engine: engine 0 polling", 32) == 0)
			info = true;
		if (strncmp(line, "ndkd.", 5) == 0)
			bare = true;
	}
	if (f != NULL)
		fclose(f);
	CHECK(notice && info, "NOTICE as <5>, INFO as <6>");
	CHECK(!bare, "no ndkd line without its priority");
	CHECK(tdaemon_stop(&d) == 0, "stops");

	/* and without the journal, plain lines */
	CHECK(tdaemon_start(&d, "nojournal", NULL) == 0, "ndkd starts");
	f = fopen(d.log, "r");
	notice = false;
	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		notice |= strncmp(line, "ndkd.main: listening on ", 24) == 0;
	if (f != NULL)
		fclose(f);
	CHECK(notice, "plain lines when stderr is not the journal");
	CHECK(tdaemon_stop(&d) == 0, "stops");
}

int
main(void)
{
	char cmd[64];

	if (mkdtemp(dir) == NULL)
		return 1;
	RUN(test_notify_and_watchdog);
	RUN(test_stuck_engine);
	RUN(test_journal_priorities);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return t_done();
}
