/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Hostile tenants. Each case runs an attack from its own process against a
 * fresh ndkd and has a well-behaved client on the same engine measure what
 * it suffers: its NOP round trips (each must complete, within a bound far
 * above any honest wait, and all of them within another, or the case fails)
 * and a new client's attach.
 * The latencies are printed, not asserted: figures belong to benchmarks.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/falloc.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../lib/ndk_priv.h" /* to post on the control ring as a hostile library would */
#include "rdma_util.h"

#define VICTIM_DEADLINE_MS 2000
#define VICTIM_TOTAL_MS	   10000 /* for a victim's 1,000 NOPs */

/* One NOP round trip of ad: its time in ns, or UINT64_MAX past the deadline. */
static uint64_t
nop_ns(struct ndk_adapter *ad)
{
	struct wait w = { 0 };
	uint64_t t0 = t_now_ns(), deadline = t_deadline_ms(VICTIM_DEADLINE_MS);

	if (ndk_adapter_nop(ad, 0, w_req, &w) != NDK_STATUS_PENDING)
		return UINT64_MAX;
	while (w.calls == 0 && t_now_ns() < deadline)
		ndk_adapter_progress(ad, 0);
	return w.calls == 1 ? t_now_ns() - t0 : UINT64_MAX;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * n NOP round trips of the victim; the p50 and p99 printed under label.
 * False when one did not come back within the deadline.
 */
static bool
victim_nops(struct ndk_adapter *ad, const char *label, unsigned int n)
{
	uint64_t *t = calloc(n, sizeof(*t)), total_deadline = t_deadline_ms(VICTIM_TOTAL_MS);
	unsigned int i;
	bool ok = true;

	if (t == NULL)
		return false;
	for (i = 0; i < n && ok; i++) {
		t[i] = nop_ns(ad);
		ok = t[i] != UINT64_MAX && t_now_ns() < total_deadline;
	}
	if (ok) {
		qsort(t, n, sizeof(*t), cmp_u64);
		printf("# %s: victim NOP p50 %" PRIu64 " ns, p99 %" PRIu64 " ns (%u round trips)\n",
		       label, t[n / 2], t[n * 99 / 100], n);
	} else {
		printf("# %s: victim NOP %u did not complete within %d ms, or all of them within "
		       "%d ms\n",
		       label, i, VICTIM_DEADLINE_MS, VICTIM_TOTAL_MS);
	}
	free(t);
	return ok;
}

/* A new client's attach under attack: its time in ms, or -1. */
static long
attach_ms(const char *sock)
{
	struct ndk_adapter_opts o;
	struct ndk_adapter *ad = NULL;
	uint64_t t0 = t_now_ns();
	char err[200] = "";
	long ms;

	ndk_adapter_opts_init(&o, sizeof(o));
	o.errbuf = err;
	o.errbuf_len = sizeof(err);
	if (ndk_adapter_open(sock, &o, &ad) != NDK_STATUS_SUCCESS) {
		printf("# attach failed: %s\n", err);
		return -1;
	}
	ms = (long)((t_now_ns() - t0) / 1000000);
	ndk_adapter_close(ad);
	return ms;
}

/*
 * Run attack() in a child, as uid (and the same gid) unless it is -1;
 * returns once it wrote its byte on the pipe, or -1 when it died first.
 */
static pid_t
spawn_attacker_as(void (*attack)(const char *sock, int ready), const char *sock, uid_t uid)
{
	int p[2];
	pid_t pid;
	char c;

	if (pipe(p) != 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		if (uid != (uid_t)-1 && (setgid(uid) != 0 || setuid(uid) != 0))
			_exit(1);
		attack(sock, p[1]);
		_exit(0);
	}
	close(p[1]);
	if (read(p[0], &c, 1) != 1) {
		printf("# attacker gave no ready signal\n");
		waitpid(pid, NULL, 0);
		pid = -1;
	}
	close(p[0]);
	return pid;
}

static pid_t
spawn_attacker(void (*attack)(const char *sock, int ready), const char *sock)
{
	return spawn_attacker_as(attack, sock, (uid_t)-1);
}

/*
 * 1. The wake fd. The attacker makes every fd of its own blocking and fills
 * every eventfd it holds to the brim (with an eventfd shared with ndkd, the
 * engine's next kick then blocks in the kernel), arms 16 CQs and makes a
 * result land on each (16 kicks, more than a datagram queue of 10 holds), never
 * reading anything. Then it exits.
 */
static void
attack_wake_fd(const char *sock, int ready)
{
	struct side s[16];
	unsigned int i, fd;
	char path[64], link[64];
	ssize_t n;

	for (i = 0; i < 16; i++) {
		if (!side_open(&s[i], sock, 4096,
			       NDK_MR_FLAG_ALLOW_LOCAL_WRITE | NDK_MR_FLAG_ALLOW_REMOTE_WRITE))
			_exit(1);
	}
	for (i = 0; i < 16; i += 2) {
		if (side_connect(&s[i], side_qpn(&s[i + 1])) != NDK_STATUS_SUCCESS ||
		    side_connect(&s[i + 1], side_qpn(&s[i])) != NDK_STATUS_SUCCESS)
			_exit(1);
	}
	for (i = 0; i < 16; i++)
		ndk_cq_arm(s[i].cq, NDK_CQ_NOTIFY_ANY); /* asks for the wake fd */
	for (fd = 0; fd < 1024; fd++) {
		int fl = fcntl((int)fd, F_GETFL);

		if (fl < 0)
			continue;
		fcntl((int)fd, F_SETFL, fl & ~O_NONBLOCK);
		snprintf(path, sizeof(path), "/proc/self/fd/%u", fd);
		n = readlink(path, link, sizeof(link) - 1);
		if (n > 0 && (link[n] = '\0', strcmp(link, "anon_inode:[eventfd]") == 0)) {
			uint64_t v = UINT64_MAX - 1;

			if (write((int)fd, &v, sizeof(v)) != sizeof(v))
				printf("# attacker: could not fill fd %u\n", fd);
		}
	}
	for (i = 0; i < 16; i++) {
		struct ndk_sge sge = { .logical_address = (uintptr_t)s[i].buf,
				       .length = 8,
				       .memory_region_token = s[i].token };

		ndk_qp_write(s[i].qp, NULL, &sge, 1, (uintptr_t)s[i ^ 1].buf, s[i ^ 1].rtoken, 0);
	}
	usleep(100 * 1000); /* the engine has written every result by now */
	if (write(ready, "r", 1) != 1)
		_exit(1);
	_exit(0); /* without closing anything: the kernel does */
}

static void
test_wake_fd(void)
{
	struct tdaemon d;
	struct ndk_adapter *victim = NULL;
	pid_t pid;
	int status = 0;

	if (tdaemon_start(&d, "chaos-wake", NULL) != 0)
		return;
	CHECK_STATUS(ndk_adapter_open(d.sock, NULL, &victim), NDK_STATUS_SUCCESS);
	if (victim == NULL)
		return;
	CHECK(victim_nops(victim, "wake fd, idle", 1000), "victim before the attack");
	pid = spawn_attacker(attack_wake_fd, d.sock);
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
		      WEXITSTATUS(status) == 0,
	      "the attacker ran and exited");
	CHECK(victim_nops(victim, "wake fd, after the attack", 1000),
	      "the victim's engine still serves it");
	CHECK(attach_ms(d.sock) >= 0, "a new client attaches");
	ndk_adapter_close(victim);
	CHECK(tdaemon_stop(&d) == 0, "ndkd stops on SIGTERM, exit 0");
}

/*
 * 2. A CONNECT flood: 10,000 CONNECTs on one QP, written straight into the
 * control ring (libndk sends one at a time), to a port the attacker listens
 * on itself and never answers. With one engine, sender and listener are the
 * same thread.
 */
/* The attacker's listener: it never accepts nor rejects what comes. */
static void
on_connect_event(void *ctx, struct ndk_connector *c)
{
	(void)ctx, (void)c;
}

static void
attack_connect_flood(const char *sock, int ready)
{
	struct side s;
	struct adapter *ad;
	struct ndk_listener *l = NULL;
	struct ndk_qp_address port = { .family = NDK_ADDRESS_LOCAL, .port = 4000 };
	struct ndk_abi_conn *blk;
	struct wait w = { 0 };
	uint32_t sent = 0, i, space;
	bool broken = false;

	if (!side_open(&s, sock, 4096, 0))
		_exit(1);
	if (ndk_listener_create(s.ad, on_connect_event, NULL, &l) != NDK_STATUS_SUCCESS ||
	    w_finish(s.ad, &w, ndk_listener_listen(l, &port, w_req, &w)) != NDK_STATUS_SUCCESS)
		_exit(1);
	ad = (struct adapter *)s.ad;
	/* the connection data every CONNECT names: in arena memory, as ndkd wants it */
	blk = (struct ndk_abi_conn *)s.buf;
	memset(blk, 0, sizeof(*blk));
	blk->family = NDK_ADDRESS_LOCAL;
	blk->port = 4000;
	while (sent < 10000) {
		space = ndk_ring_prod_space(&ad->sq, &broken);
		for (i = 0; i < space && sent < 10000; i++, sent++) {
			struct ndk_abi_sqe e = { .opcode = NDK_ABI_OP_CONNECT,
						 .handle = ((struct qp *)s.qp)->handle,
						 .user_data = UINT64_MAX,
						 .args = { (uintptr_t)blk } };

			memcpy(ndk_ring_prod_next(&ad->sq), &e, sizeof(e));
		}
		ndk_ring_prod_publish(&ad->sq);
		if (broken || ad->gone)
			break;
		ndk_adapter_progress(s.ad, 0); /* answers to nobody: counted as strays */
	}
	if (write(ready, "r", 1) != 1)
		_exit(1);
	_exit(0);
}

static void
test_connect_flood(void)
{
	static const char *const one_engine[] = { "--lcores", "0,1", NULL };
	struct tdaemon d;
	struct ndk_adapter *victim = NULL;
	pid_t pid;
	int status = 0;

	if (tdaemon_start(&d, "chaos-connect", one_engine) != 0)
		return;
	CHECK_STATUS(ndk_adapter_open(d.sock, NULL, &victim), NDK_STATUS_SUCCESS);
	if (victim == NULL)
		return;
	CHECK(victim_nops(victim, "CONNECT flood, idle", 1000), "victim before the attack");
	pid = spawn_attacker(attack_connect_flood, d.sock);
	CHECK(victim_nops(victim, "CONNECT flood, attacker attached", 1000),
	      "the engine still serves the victim");
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
		      WEXITSTATUS(status) == 0,
	      "the attacker ran and exited");
	CHECK(victim_nops(victim, "CONNECT flood, attacker gone", 1000),
	      "and after the attacker left");
	CHECK(attach_ms(d.sock) >= 0, "a new client attaches");
	ndk_adapter_close(victim);
	CHECK(tdaemon_stop(&d) == 0, "ndkd stops on SIGTERM, exit 0");
}

/*
 * 3. Lingering sockets. A TCP socket with SO_LINGER 30 s, unsent data and a
 * peer that never reads: whoever drops the last reference to it waits out
 * the linger time. The attacker passes such sockets with a hello and as a
 * region's fd, closes its own copies at once, and keeps the peers open.
 */
#define LINGER_S 30

/* Such a socket; *peer is the end that never reads. -1 on failure. */
static int
lingering_socket(int *peer)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	struct linger lg = { .l_onoff = 1, .l_linger = LINGER_S };
	int small = 4096, l, fd;
	char junk[4096] = { 0 };

	l = socket(AF_INET, SOCK_STREAM, 0);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (l < 0 || fd < 0 || setsockopt(l, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)) != 0 ||
	    bind(l, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(l, 1) != 0 ||
	    getsockname(l, (struct sockaddr *)&a, &alen) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)) != 0 ||
	    connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
		return -1;
	*peer = accept(l, NULL, NULL);
	close(l);
	if (*peer < 0 || fcntl(fd, F_SETFL, O_NONBLOCK) != 0)
		return -1;
	while (write(fd, junk, sizeof(junk)) > 0)
		;
	if (errno != EAGAIN || setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) != 0)
		return -1;
	return fd;
}

/* msg on sock with fd as SCM_RIGHTS. */
static bool
send_with_fd(int sock, const void *msg, size_t len, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = (void *)msg, .iov_len = len };
	struct msghdr m = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = ctl.buf,
		.msg_controllen = sizeof(ctl.buf),
	};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&m);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(sock, &m, MSG_NOSIGNAL) == (ssize_t)len;
}

static void
attack_linger(const char *sock, int ready)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct ndk_abi_hello h = { .magic = NDK_ABI_MAGIC, .abi_version = NDK_ABI_VERSION };
	struct ndk_abi_sock_req q = { .magic = NDK_ABI_MAGIC, .op = NDK_ABI_SOCK_ADD_REGION };
	struct ndk_adapter *ad = NULL;
	int peers[6], i, fd, raw[3];

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	/* attached first: its own hellos would hold up its attach on a stuck ndkd */
	if (ndk_adapter_open(sock, NULL, &ad) != NDK_STATUS_SUCCESS)
		_exit(1);
	snprintf(h.name, sizeof(h.name), "lingering hello");
	for (i = 0; i < 3; i++) {
		raw[i] = socket(AF_UNIX, SOCK_SEQPACKET, 0);
		fd = lingering_socket(&peers[i]);
		if (raw[i] < 0 || fd < 0 ||
		    connect(raw[i], (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
		    !send_with_fd(raw[i], &h, sizeof(h), fd))
			_exit(1);
		close(fd); /* in flight, ndkd holds the last reference */
	}
	for (i = 3; i < 6; i++) {
		q.size = 4096;
		q.client_addr = 4096;
		fd = lingering_socket(&peers[i]);
		if (fd < 0 || !send_with_fd(((struct adapter *)ad)->sock, &q, sizeof(q), fd))
			_exit(1);
		close(fd);
	}
	if (write(ready, "r", 1) != 1)
		_exit(1);
	pause(); /* peers stay open, never reading, until the test kills us */
	_exit(0);
}

static void
test_linger(void)
{
	struct tdaemon d;
	struct ndk_adapter *victim = NULL;
	long ms[5];
	unsigned int i;
	pid_t pid;
	int status = 0;

	if (tdaemon_start(&d, "chaos-linger", NULL) != 0)
		return;
	CHECK_STATUS(ndk_adapter_open(d.sock, NULL, &victim), NDK_STATUS_SUCCESS);
	if (victim == NULL)
		return;
	pid = spawn_attacker(attack_linger, d.sock);
	CHECK(pid > 0, "the attacker passed its sockets");
	for (i = 0; i < 5; i++)
		ms[i] = attach_ms(d.sock);
	printf("# lingering sockets: new clients attach in %ld %ld %ld %ld %ld ms\n", ms[0], ms[1],
	       ms[2], ms[3], ms[4]);
	for (i = 0; i < 5; i++)
		CHECK(ms[i] >= 0 && ms[i] < VICTIM_DEADLINE_MS, "attach %u within %d ms", i,
		      VICTIM_DEADLINE_MS);
	CHECK(victim_nops(victim, "lingering sockets", 1000), "the victim is served");
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	ndk_adapter_close(victim);
	CHECK(tdaemon_stop(&d) == 0, "ndkd stops on SIGTERM, exit 0");
}

/*
 * 5. A hello flood: 160 connections that never say hello, each reopened as
 * soon as ndkd closes it, from a uid ndkd allows and from one it refuses,
 * while root attaches.
 */
#define FLOOD_CONNS 160

static void
attack_hello_flood(const char *sock, int ready)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct pollfd p[FLOOD_CONNS];
	bool told = false;
	unsigned int i;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	for (i = 0; i < FLOOD_CONNS; i++)
		p[i] = (struct pollfd){ .fd = -1, .events = POLLIN };
	for (;;) {
		for (i = 0; i < FLOOD_CONNS; i++) {
			if (p[i].fd >= 0)
				continue;
			p[i].fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0);
			if (p[i].fd >= 0 &&
			    connect(p[i].fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
				close(p[i].fd); /* the backlog is full: next round */
				p[i].fd = -1;
			}
		}
		if (!told && write(ready, "r", 1) == 1)
			told = true;
		if (poll(p, FLOOD_CONNS, 100) <= 0)
			continue;
		for (i = 0; i < FLOOD_CONNS; i++) {
			if (p[i].fd >= 0 && p[i].revents != 0) {
				close(p[i].fd);
				p[i].fd = -1;
			}
		}
	}
}

static void
test_hello_flood(void)
{
	static const char *const args[] = { "--socket-mode", "0666", "--allow-uid", "0,65534",
					    NULL };
	struct tdaemon d;
	pid_t allowed, refused;
	long ms[5];
	unsigned int i;

	if (tdaemon_start(&d, "chaos-hello", args) != 0)
		return;
	allowed = spawn_attacker_as(attack_hello_flood, d.sock, 65534);
	refused = spawn_attacker_as(attack_hello_flood, d.sock, 65533);
	CHECK(allowed > 0 && refused > 0, "both floods running");
	usleep(200 * 1000);
	for (i = 0; i < 5; i++)
		ms[i] = attach_ms(d.sock);
	printf("# hello flood: root attaches in %ld %ld %ld %ld %ld ms\n", ms[0], ms[1], ms[2],
	       ms[3], ms[4]);
	for (i = 0; i < 5; i++)
		CHECK(ms[i] >= 0 && ms[i] < VICTIM_DEADLINE_MS, "attach %u within %d ms", i,
		      VICTIM_DEADLINE_MS);
	if (allowed > 0) {
		kill(allowed, SIGKILL);
		waitpid(allowed, NULL, 0);
	}
	if (refused > 0) {
		kill(refused, SIGKILL);
		waitpid(refused, NULL, 0);
	}
	CHECK(tdaemon_stop(&d) == 0, "ndkd stops on SIGTERM, exit 0");
}

/*
 * 4. Large writes: one client, 64 QPs in loopback pairs, each keeping 15
 * writes of 16 MiB posted, on the victim's engine.
 */
#define BIG_QPS	   64
#define BIG_WRITE  (16u << 20)
#define BIG_POSTED 15

static void
attack_large_writes(const char *sock, int ready)
{
	struct side s;
	struct ndk_qp *qp[BIG_QPS];
	struct ndk_sge sge;
	struct ndk_result_ex r[64];
	unsigned int i, k, n;

	if (!side_open(&s, sock, 2 * (size_t)BIG_WRITE,
		       NDK_MR_FLAG_ALLOW_LOCAL_WRITE | NDK_MR_FLAG_ALLOW_REMOTE_WRITE))
		_exit(1);
	qp[0] = s.qp;
	for (i = 1; i < BIG_QPS; i++) {
		if (side_qp(&s) != NDK_STATUS_SUCCESS)
			_exit(1);
		qp[i] = s.qp;
	}
	for (i = 0; i < BIG_QPS; i += 2) {
		if (qp_connect_to(s.ad, qp[i], qp_qpn(qp[i + 1])) != NDK_STATUS_SUCCESS ||
		    qp_connect_to(s.ad, qp[i + 1], qp_qpn(qp[i])) != NDK_STATUS_SUCCESS)
			_exit(1);
	}
	sge = (struct ndk_sge){ .logical_address = (uintptr_t)s.buf,
				.length = BIG_WRITE,
				.memory_region_token = ndk_mr_get_local_token(s.mr) };
	for (i = 0; i < BIG_QPS; i++) {
		for (k = 0; k < BIG_POSTED; k++) {
			if (ndk_qp_write(qp[i], qp[i], &sge, 1, (uintptr_t)s.buf + BIG_WRITE,
					 s.rtoken, 0) != NDK_STATUS_SUCCESS)
				_exit(1);
		}
	}
	if (write(ready, "r", 1) != 1)
		_exit(1);
	for (;;) { /* each result, another write on its QP */
		ndk_adapter_progress(s.ad, 0);
		n = ndk_cq_get_results_ex(s.cq, r, 64);
		for (i = 0; i < n; i++)
			ndk_qp_write(r[i].request_context, r[i].request_context, &sge, 1,
				     (uintptr_t)s.buf + BIG_WRITE, s.rtoken, 0);
	}
}

static void
test_large_writes(void)
{
	static const char *const one_engine[] = { "--lcores", "0,1", NULL };
	struct tdaemon d;
	struct ndk_adapter *victim = NULL;
	pid_t pid;

	if (tdaemon_start(&d, "chaos-writes", one_engine) != 0)
		return;
	CHECK_STATUS(ndk_adapter_open(d.sock, NULL, &victim), NDK_STATUS_SUCCESS);
	if (victim == NULL)
		return;
	CHECK(victim_nops(victim, "large writes, idle", 1000), "victim before the attack");
	pid = spawn_attacker(attack_large_writes, d.sock);
	CHECK(pid > 0, "the attacker keeps its writes posted");
	CHECK(victim_nops(victim, "large writes on 64 QPs", 1000), "the victim is served");
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	ndk_adapter_close(victim);
	CHECK(tdaemon_stop(&d) == 0, "ndkd stops on SIGTERM, exit 0");
}

/*
 * 6. One uid takes everything: as many clients as it may open, each with
 * MRs, QPs and listeners until refused, the listeners from port 1 up. Then
 * root must still attach and get a PD, an MR, a CQ, a QP and its service's
 * privileged port.
 */
static void
attack_take_all(const char *sock, int ready)
{
	struct side s;
	struct ndk_adapter *ad;
	struct ndk_pd *pd;
	struct ndk_mr *mr;
	struct ndk_listener *l;
	struct ndk_qp_address port = { .family = NDK_ADDRESS_LOCAL };
	unsigned int k, mrs = 0, qps = 1, ports = 0, clients = 1;

	if (!side_open(&s, sock, 4096, 0))
		_exit(1);
	while (qps < 300 && side_qp(&s) == NDK_STATUS_SUCCESS)
		qps++;
	for (port.port = 1; port.port < 2000 && ports < 64; port.port++) {
		struct wait w = { 0 };

		if (ndk_listener_create(s.ad, on_connect_event, NULL, &l) == NDK_STATUS_SUCCESS &&
		    w_finish(s.ad, &w, ndk_listener_listen(l, &port, w_req, &w)) ==
			    NDK_STATUS_SUCCESS)
			ports++;
	}
	for (k = 0; k < 2000 && sync_mr(s.ad, s.pd, false, &mr) == NDK_STATUS_SUCCESS; k++)
		mrs++;
	/* more clients, each a PD and MRs until refused */
	while (clients < 16 && ndk_adapter_open(sock, NULL, &ad) == NDK_STATUS_SUCCESS) {
		clients++;
		if (sync_pd(ad, &pd) != NDK_STATUS_SUCCESS)
			continue;
		for (k = 0; k < 2000 && sync_mr(ad, pd, false, &mr) == NDK_STATUS_SUCCESS; k++)
			mrs++;
	}
	printf("# the attacker holds %u clients, %u MRs, %u QPs, %u ports\n", clients, mrs, qps,
	       ports);
	fflush(stdout);
	if (write(ready, "r", 1) != 1)
		_exit(1);
	pause();
	_exit(0);
}

static void
test_take_all(void)
{
	static const char *const args[] = { "--socket-mode",
					    "0666",
					    "--allow-uid",
					    "0,65534",
					    "--max-clients",
					    "16",
					    "--mr-table-entries",
					    "4096",
					    "--max-mrs-per-client",
					    "1024",
					    NULL };
	struct tdaemon d;
	struct side v;
	struct ndk_listener *l = NULL;
	struct ndk_qp_address port = { .family = NDK_ADDRESS_LOCAL, .port = 100 };
	struct wait w = { 0 };
	pid_t pid;

	if (tdaemon_start(&d, "chaos-all", args) != 0)
		return;
	pid = spawn_attacker_as(attack_take_all, d.sock, 65534);
	CHECK(pid > 0, "the attacker took what it could");
	CHECK(side_open(&v, d.sock, 4096, NDK_MR_FLAG_ALLOW_REMOTE_WRITE),
	      "root attaches and gets a PD, a registered MR, a CQ and a QP");
	if (v.ad != NULL) {
		CHECK_STATUS(ndk_listener_create(v.ad, on_connect_event, NULL, &l),
			     NDK_STATUS_SUCCESS);
		if (l != NULL)
			CHECK_STATUS(w_finish(v.ad, &w, ndk_listener_listen(l, &port, w_req, &w)),
				     NDK_STATUS_SUCCESS);
		side_close(&v);
	}
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	CHECK(tdaemon_stop(&d) == 0, "ndkd stops on SIGTERM, exit 0");
}

/*
 * 7, 8. Memory ndkd would be charged for, and hugetlb holes. A region whose
 * pages are not all there is refused (an engine's first touch of a hole
 * would allocate the page in ndkd's name: a 2 GiB sparse memfd grew ndkd's
 * memory by 2 GiB); one that is taken cannot have holes punched in it later
 * (on hugetlbfs that hands the page back to the pool, and the next touch
 * would be ndkd's SIGBUS).
 */

/* ADD_REGION as a hostile library sends it; the status, and ndkd's reason in msg. */
static uint32_t
raw_add_region(struct ndk_adapter *ad, int fd, void *addr, uint64_t size, char *msg, size_t len)
{
	struct ndk_abi_sock_req q = { .magic = NDK_ABI_MAGIC,
				      .op = NDK_ABI_SOCK_ADD_REGION,
				      .size = size,
				      .client_addr = (uintptr_t)addr };
	struct ndk_abi_sock_reply r = { .status = UINT32_MAX };
	int sock = ((struct adapter *)ad)->sock;

	struct pollfd pfd = { .fd = sock, .events = POLLIN };

	if (!send_with_fd(sock, &q, sizeof(q), fd) || poll(&pfd, 1, 5000) != 1 ||
	    recv(sock, &r, sizeof(r), 0) != sizeof(r))
		return UINT32_MAX;
	snprintf(msg, len, "%.*s", (int)sizeof(r.message), r.message);
	return r.status;
}

/* A memfd of size bytes sealed against shrinking, mapped, populated when asked. */
static int
sealed_memfd(unsigned int flags, uint64_t size, bool populate, void **map)
{
	int fd = memfd_create("chaos", MFD_ALLOW_SEALING | flags);

	*map = MAP_FAILED;
	if (fd < 0 || ftruncate(fd, (off_t)size) != 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) != 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (*map == MAP_FAILED || (populate && madvise(*map, size, MADV_POPULATE_WRITE) != 0)) {
		if (*map != MAP_FAILED)
			munmap(*map, size);
		close(fd);
		return -1;
	}
	return fd;
}

/* Both ways to punch a hole must fail once ndkd holds the region. */
static bool
cannot_punch(int fd, void *map, uint64_t size)
{
	return fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, (off_t)size) != 0 &&
	       errno == EPERM && madvise(map, size, MADV_REMOVE) != 0 && errno == EPERM;
}

static void
test_region_holes(void)
{
	struct tdaemon d;
	struct ndk_adapter *ad = NULL;
	char msg[NDK_ABI_MSG_LEN] = "";
	void *map, *addr = NULL;
	uint32_t st;
	int fd;

	if (tdaemon_start(&d, "chaos-holes", NULL) != 0)
		return;
	CHECK_STATUS(ndk_adapter_open(d.sock, NULL, &ad), NDK_STATUS_SUCCESS);
	if (ad == NULL)
		return;
	/* 2 GiB, not one page allocated */
	fd = sealed_memfd(0, 2ull << 30, false, &map);
	CHECK(fd >= 0, "a sparse 2 GiB memfd");
	if (fd >= 0) {
		st = raw_add_region(ad, fd, map, 2ull << 30, msg, sizeof(msg));
		CHECK(st == NDK_STATUS_INVALID_PARAMETER && strstr(msg, "allocated") != NULL,
		      "refused: 0x%x '%s'", st, msg);
		munmap(map, 2ull << 30);
		close(fd);
	}
	/* populated: taken, and sealed against holes */
	fd = sealed_memfd(0, 4u << 20, true, &map);
	CHECK(fd >= 0, "a populated 4 MiB memfd");
	if (fd >= 0) {
		munmap(map, 4u << 20);
		CHECK_STATUS(ndk_mem_attach_fd(ad, fd, 4u << 20, &addr), NDK_STATUS_SUCCESS);
		CHECK(addr != NULL && cannot_punch(fd, addr, 4u << 20),
		      "no hole can be punched in it any more");
		close(fd);
	}
	/* the same on hugetlbfs, when there are free hugepages */
	fd = sealed_memfd(MFD_HUGETLB, 2u << 20, true, &map);
	if (fd < 0) {
		printf("# no free 2 MiB hugepage: the hugetlb case is skipped\n");
	} else {
		munmap(map, 2u << 20);
		CHECK_STATUS(ndk_mem_attach_fd(ad, fd, 2u << 20, &addr), NDK_STATUS_SUCCESS);
		CHECK(addr != NULL && cannot_punch(fd, addr, 2u << 20),
		      "no hugepage can be handed back to the pool");
		close(fd);
	}
	CHECK(victim_nops(ad, "region holes", 1000), "served as before");
	ndk_adapter_close(ad);
	CHECK(tdaemon_stop(&d) == 0, "ndkd stops on SIGTERM, exit 0");
}

/* With "root": the cases that run attackers under other uids. */
int
main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "root") == 0) {
		if (getuid() != 0) {
			printf("# skipped: needs root to run attackers under other uids\n");
			return 77;
		}
		RUN(test_hello_flood);
		RUN(test_take_all);
		return t_done();
	}
	RUN(test_wake_fd);
	RUN(test_connect_flood);
	RUN(test_linger);
	RUN(test_large_writes);
	RUN(test_region_holes);
	return t_done();
}
