/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Attach refusals get a clear status and message: bad magic, other ABI
 * versions, short hellos, uids outside the allowed set, the client limit,
 * no daemon at all. The daemon keeps serving others throughout.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ndk/ndk.h>

#include "testlib.h"

#define NOBODY 65534

static struct tdaemon d;

static uint32_t
hello_status(const void *hello, size_t len, char *msg, size_t msglen)
{
	struct raw_client rc = { .memfd = -1 };
	uint32_t st;

	rc.sock = raw_connect(d.sock);
	if (rc.sock < 0)
		return UINT32_MAX;
	st = raw_hello_bytes(&rc, hello, len);
	snprintf(msg, msglen, "%s", rc.reply.message);
	CHECK(st == NDK_STATUS_SUCCESS || rc.region == NULL, "no channel with a refusal");
	/* A refused connection is closed by the daemon. */
	if (st != NDK_STATUS_SUCCESS)
		CHECK(raw_wait_hangup(&rc, 2000), "refused connection closed");
	raw_close(&rc);
	return st;
}

static bool
daemon_serves(void)
{
	struct ndk_adapter *ad;
	bool ok = ndk_adapter_open(d.sock, NULL, &ad) == NDK_STATUS_SUCCESS;

	if (ok)
		ndk_adapter_close(ad);
	return ok && tdaemon_alive(&d);
}

static void
test_bad_hellos(void)
{
	struct ndk_abi_hello h = { .magic = NDK_ABI_MAGIC, .abi_version = NDK_ABI_VERSION };
	uint64_t refused = tel_status_u64(&d, "attach_refused");
	char msg[NDK_ABI_MSG_LEN];
	uint32_t st;

	h.abi_version = NDK_ABI_VERSION + 1;
	st = hello_status(&h, sizeof(h), msg, sizeof(msg));
	CHECK_STATUS(st, NDK_STATUS_REVISION_MISMATCH);
	CHECK(strstr(msg, "ABI") != NULL, "message names the ABI: '%s'", msg);

	h.abi_version = NDK_ABI_VERSION;
	h.magic = 0x12345678;
	st = hello_status(&h, sizeof(h), msg, sizeof(msg));
	CHECK_STATUS(st, NDK_STATUS_INVALID_PARAMETER);
	CHECK(strstr(msg, "magic") != NULL, "message names the magic: '%s'", msg);

	h.magic = NDK_ABI_MAGIC;
	st = hello_status(&h, 10, msg, sizeof(msg));
	CHECK_STATUS(st, NDK_STATUS_INVALID_PARAMETER);
	CHECK(msg[0] != '\0', "message for a short hello");

	h.flags = 4;
	st = hello_status(&h, sizeof(h), msg, sizeof(msg));
	CHECK_STATUS(st, NDK_STATUS_INVALID_PARAMETER);

	CHECK(tel_status_u64(&d, "attach_refused") == refused + 4, "four refusals counted");
	CHECK(daemon_serves(), "daemon still serves");
}

static void
test_silent_connection_times_out(void)
{
	int fd = raw_connect(d.sock);
	struct raw_client rc = { .sock = fd, .memfd = -1 };

	CHECK(fd >= 0, "connect");
	/* Never say hello: the daemon must not wait forever, nor stall others meanwhile. */
	CHECK(daemon_serves(), "others served while a connection is silent");
	CHECK(raw_wait_hangup(&rc, 8000), "silent connection dropped after the hello timeout");
	raw_close(&rc);
}

static int
count_hung(struct raw_client *rc, int n)
{
	int i, hung = 0;

	for (i = 0; i < n; i++)
		hung += rc[i].sock >= 0 && raw_wait_hangup(&rc[i], 0);
	return hung;
}

static void
test_connection_flood(void)
{
	struct raw_client rc[200];
	uint64_t deadline;
	int i, dropped, first;

	/*
	 * 128 connections may wait for their hello; each one past that (first,
	 * then 200 more) makes
	 * the oldest waiting one of the uid holding the most (here, all ours)
	 * give way, with a refusal it can read.
	 */
	first = raw_connect(d.sock);
	for (i = 0; i < 200; i++) {
		rc[i].sock = raw_connect(d.sock);
		rc[i].memfd = -1;
		rc[i].region = NULL;
	}
	deadline = t_deadline_ms(2000);
	while ((dropped = count_hung(rc, 200)) < 72 && t_now_ns() < deadline)
		usleep(10000);
	CHECK(dropped == 72, "exactly the connections over the limit dropped (%d)", dropped);
	CHECK(rc[0].sock >= 0 && raw_wait_hangup(&rc[0], 0) && !raw_wait_hangup(&rc[199], 0),
	      "the oldest gave way, the newest waits");
	{
		struct ndk_abi_hello_reply r;

		CHECK(recv(first, &r, sizeof(r), MSG_DONTWAIT) == (ssize_t)sizeof(r) &&
			      r.status == NDK_STATUS_INSUFFICIENT_RESOURCES,
		      "the first to give way was told why");
		close(first);
	}
	/* A newcomer of the same uid finds a place the same way. */
	CHECK(daemon_serves(), "a real client attaches during the flood");
	for (i = 0; i < 200; i++)
		raw_close(&rc[i]);
	deadline = t_deadline_ms(2000);
	while (!daemon_serves() && t_now_ns() < deadline)
		usleep(10000);
	CHECK(daemon_serves(), "a real client attaches once the flood is gone");
}

static void
test_no_daemon(void)
{
	struct ndk_adapter_opts o;
	struct ndk_adapter *ad = NULL;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char err[200] = "", path[64];
	uint64_t t0;
	ndk_status st;
	int fd;

	ndk_adapter_opts_init(&o, sizeof(o));
	o.errbuf = err;
	o.errbuf_len = sizeof(err);
	t0 = t_now_ns();
	st = ndk_adapter_open("/tmp/ndk-no-such-dir/ndkd.sock", &o, &ad);
	CHECK_STATUS(st, NDK_STATUS_OBJECT_NAME_NOT_FOUND);
	CHECK(strstr(err, "ndkd") != NULL, "message: '%s'", err);
	CHECK(t_now_ns() - t0 < 1000000000ull, "fails fast");

	/* A socket file with nobody listening: a daemon that died. */
	snprintf(path, sizeof(path), "/tmp/ndkt-stale-%d.sock", (int)getpid());
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	CHECK(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "bind");
	close(fd);
	t0 = t_now_ns();
	st = ndk_adapter_open(path, &o, &ad);
	CHECK_STATUS(st, NDK_STATUS_CONNECTION_REFUSED);
	CHECK(t_now_ns() - t0 < 1000000000ull, "fails fast");
	unlink(path);

	/* NDK_SOCKET is honoured when no path is given. */
	setenv("NDK_SOCKET", d.sock, 1);
	st = ndk_adapter_open(NULL, NULL, &ad);
	CHECK_STATUS(st, NDK_STATUS_SUCCESS);
	if (st == NDK_STATUS_SUCCESS)
		ndk_adapter_close(ad);
	unsetenv("NDK_SOCKET");
}

/* Open as uid/gid nobody in a child; returns the status it got. */
static ndk_status
open_as_nobody(const char *sock, char *err, size_t errlen)
{
	int p[2];
	pid_t pid;
	struct {
		ndk_status st;
		char err[160];
	} res = { NDK_STATUS_UNSUCCESSFUL, "" };

	if (pipe(p) != 0)
		return NDK_STATUS_UNSUCCESSFUL;
	pid = fork();
	if (pid == 0) {
		struct ndk_adapter_opts o;
		struct ndk_adapter *ad;

		close(p[0]);
		if (setgroups(0, NULL) != 0 || setgid(NOBODY) != 0 || setuid(NOBODY) != 0)
			_exit(1);
		ndk_adapter_opts_init(&o, sizeof(o));
		o.errbuf = res.err;
		o.errbuf_len = sizeof(res.err);
		res.st = ndk_adapter_open(sock, &o, &ad);
		if (res.st == NDK_STATUS_SUCCESS)
			ndk_adapter_close(ad);
		if (write(p[1], &res, sizeof(res)) != (ssize_t)sizeof(res))
			_exit(2);
		_exit(0);
	}
	close(p[1]);
	if (read(p[0], &res, sizeof(res)) != (ssize_t)sizeof(res))
		res.st = NDK_STATUS_UNSUCCESSFUL;
	close(p[0]);
	waitpid(pid, NULL, 0);
	snprintf(err, errlen, "%s", res.err);
	return res.st;
}

static void
test_uid_refused(void)
{
	static const char *const args[] = { "--socket-mode", "0666", NULL };
	static const char *const allow[] = { "--socket-mode", "0666", "--allow-gid", "65534",
					     NULL };
	struct tdaemon d2;
	char err[160];
	ndk_status st;

	if (getuid() != 0) {
		printf("  (skipped: needs root to run a client under another uid)\n");
		return;
	}
	if (tdaemon_start(&d2, "uid", args) != 0) {
		CHECK(0, "start");
		return;
	}
	st = open_as_nobody(d2.sock, err, sizeof(err));
	CHECK_STATUS(st, NDK_STATUS_ACCESS_DENIED);
	CHECK(strstr(err, "65534") != NULL && strstr(err, "not allowed") != NULL,
	      "message names the uid: '%s'", err);
	CHECK(tel_status_u64(&d2, "attach_refused") == 1, "refusal counted");
	CHECK(tel_status_u64(&d2, "clients_total") == 0, "nobody attached");
	CHECK(tdaemon_stop(&d2) == 0, "clean stop");

	/* The same client is let in once its gid is allowed. */
	if (tdaemon_start(&d2, "gid", allow) != 0) {
		CHECK(0, "start");
		return;
	}
	st = open_as_nobody(d2.sock, err, sizeof(err));
	CHECK_STATUS(st, NDK_STATUS_SUCCESS);
	CHECK(tdaemon_stop(&d2) == 0, "clean stop");
}

/*
 * Under args, two clients attach and a third is refused with a message
 * holding want (and want2, when not NULL); a freed place is usable again
 * once the daemon has cleaned the first client up. uid: the telemetry of
 * the per-uid limit shows this uid with its 2 clients.
 */
static void
two_then_refused(const char *name, const char *const *args, const char *want, const char *want2,
		 bool uid)
{
	struct ndk_adapter *a, *b, *c;
	struct ndk_adapter_opts o;
	struct tdaemon d2;
	char err[160] = "";

	if (tdaemon_start(&d2, name, args) != 0) {
		CHECK(0, "start");
		return;
	}
	ndk_adapter_opts_init(&o, sizeof(o));
	o.errbuf = err;
	o.errbuf_len = sizeof(err);
	CHECK_STATUS(ndk_adapter_open(d2.sock, NULL, &a), NDK_STATUS_SUCCESS);
	CHECK_STATUS(ndk_adapter_open(d2.sock, NULL, &b), NDK_STATUS_SUCCESS);
	CHECK_STATUS(ndk_adapter_open(d2.sock, &o, &c), NDK_STATUS_INSUFFICIENT_RESOURCES);
	CHECK(strstr(err, want) != NULL && (want2 == NULL || strstr(err, want2) != NULL),
	      "message: '%s'", err);
	if (uid)
		CHECK(tel_query_u64(&d2, "/ndkd/uids", "uids") == 1 &&
			      tel_query_elem_u64(&d2, "/ndkd/uids", "uid", 0) == getuid() &&
			      tel_query_elem_u64(&d2, "/ndkd/uids", "clients", 0) == 2,
		      "telemetry: one uid, with 2 clients");
	ndk_adapter_close(a);
	CHECK(tel_wait_u64(&d2, "clients_attached", 1, 2000) == 1, "one left");
	CHECK_STATUS(ndk_adapter_open(d2.sock, NULL, &c), NDK_STATUS_SUCCESS);
	ndk_adapter_close(b);
	ndk_adapter_close(c);
	CHECK(tdaemon_stop(&d2) == 0, "clean stop");
}

static void
test_client_limit(void)
{
	/* one uid may have them all here: the per-uid limit is tested below */
	static const char *const args[] = { "--max-clients", "2", "--max-clients-per-uid", "2",
					    NULL };

	two_then_refused("limit", args, "limit", NULL, false);
}

/* One uid's clients count together: past its limit it is refused. */
static void
test_uid_client_limit(void)
{
	static const char *const args[] = { "--max-clients", "8", "--max-clients-per-uid", "2",
					    NULL };

	two_then_refused("uidlimit", args, "uid", "limit of 2", true);
}

static void
test_second_daemon_refused(void)
{
	char cmd[512];
	int rc;

	/* Same socket path as a running daemon: the newcomer must not steal it. */
	snprintf(cmd, sizeof(cmd),
		 "%s --socket %s --file-prefix ndkt-dup-%d --no-huge --mem 64 "
		 ">/dev/null 2>&1",
		 getenv("NDKD_BIN"), d.sock, (int)getpid());
	rc = system(cmd);
	CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) != 0, "second daemon on the same socket fails");
	CHECK(daemon_serves(), "first daemon still serves");
}

int
main(void)
{
	if (tdaemon_start(&d, "attach", NULL) != 0)
		return 1;
	RUN(test_bad_hellos);
	RUN(test_no_daemon);
	RUN(test_second_daemon_refused);
	RUN(test_silent_connection_times_out);
	RUN(test_connection_flood);
	RUN(test_client_limit);
	RUN(test_uid_client_limit);
	RUN(test_uid_refused);
	CHECK(tdaemon_stop_signal(&d, SIGINT) == 0, "ndkd exits 0 on SIGINT");
	return t_done();
}
