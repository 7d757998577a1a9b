/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Isolation between clients, with two processes: A (a child) fills its
 * buffers with canaries and hands B (this process) every token and address
 * it has: a local-only MR, a remote MR with a mailbox, a fast-register MR,
 * its PD's privileged token, its buffers' addresses, its QP number. B then
 * tries every way in: A's tokens as its own local SGEs, A's privileged token,
 * A's addresses under B's privileged token, A's tokens through a QP whose
 * peer is B itself, A's local-only and out-of-range and stale tokens over a
 * QP connected to A. Each attempt must fail with an error completion, no
 * byte of A's memory may change or reach B, and A must be served throughout.
 * (Forged handle numbers in raw ring entries: test_mr_stress.)
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rdma_util.h"

#define LEN	  65536
#define CANARY	  0xa5
#define B_PATTERN 0x3c

static struct tdaemon d;

struct a_info {
	uint32_t qpn, tok_local, tok_remote, tok_fr, tok_priv;
	uint64_t va_local, va_remote;
};

enum { CMD_CONNECT = 1, CMD_CHECK, CMD_DEREGISTER, CMD_DONE };

static void
xwrite(int fd, const void *p, size_t n)
{
	if (write(fd, p, n) != (ssize_t)n)
		_exit(10);
}

static void
xread(int fd, void *p, size_t n)
{
	if (read(fd, p, n) != (ssize_t)n)
		_exit(11);
}

static bool
all(const uint8_t *p, size_t n, uint8_t v)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] != v)
			return false;
	}
	return true;
}

/* Client A: owns the canaries, answers B's commands, checks its memory. */
static void __attribute__((noreturn)) client_a(int in, int out)
{
	struct side s;
	struct ndk_mr *remote, *fr;
	struct a_info ai;
	ndk_logical_address pages[4];
	uint8_t *rbuf;
	void *rc = NULL;
	uint32_t cmd, peer, i, fr_token = 0;
	bool fr_done = false;
	int32_t verdict;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* s.buf, under a local-write-only MR: nobody else may touch it */
	if (!side_open(&s, d.sock, LEN, NDK_MR_FLAG_ALLOW_LOCAL_WRITE))
		_exit(20);
	rbuf = ndk_mem_alloc(s.ad, LEN, 4096);
	if (rbuf == NULL || sync_mr(s.ad, s.pd, false, &remote) != NDK_STATUS_SUCCESS ||
	    sync_register(s.ad, remote, rbuf, LEN,
			  NDK_MR_FLAG_ALLOW_REMOTE_READ | NDK_MR_FLAG_ALLOW_REMOTE_WRITE) !=
		    NDK_STATUS_SUCCESS)
		_exit(21);
	if (sync_mr(s.ad, s.pd, true, &fr) != NDK_STATUS_SUCCESS ||
	    sync_init_fr(s.ad, fr, 4, true) != NDK_STATUS_SUCCESS)
		_exit(22);
	memset(s.buf, CANARY, LEN);
	memset(rbuf, CANARY, LEN);
	for (i = 0; i < 4; i++)
		pages[i] = (uintptr_t)s.buf + i * 4096;
	ai = (struct a_info){
		.qpn = side_qpn(&s),
		.tok_local = ndk_mr_get_local_token(s.mr),
		.tok_remote = ndk_mr_get_remote_token(remote),
		.tok_priv = ndk_pd_get_privileged_token(s.pd),
		.va_local = (uintptr_t)s.buf,
		.va_remote = (uintptr_t)rbuf,
	};
	xwrite(out, &ai, sizeof(ai));
	for (;;) {
		xread(in, &cmd, sizeof(cmd));
		verdict = 0;
		switch (cmd) {
		case CMD_CONNECT: {
			/* a fresh QP each time (B's last attempt may have failed it), connected
			 * to B's; the answer is its qpn, then the stale FR token */
			uint32_t reply[2] = { 0, 0 };

			xread(in, &peer, sizeof(peer));
			if (sync_close_qp(s.ad, s.qp) != NDK_STATUS_SUCCESS ||
			    side_qp(&s) != NDK_STATUS_SUCCESS ||
			    side_connect(&s, peer) != NDK_STATUS_SUCCESS)
				_exit(25);
			reply[0] = side_qpn(&s);
			if (fr_done) {
				reply[1] = fr_token;
				xwrite(out, reply, sizeof(reply));
				continue;
			}
			/* once: a fast register of the canary buffer, then invalidated;
			 * B gets the (now stale) token */
			if (ndk_qp_fast_register(
				    s.qp, &rc, fr, 4, pages, 0, 4 * 4096, (void *)0x5000000000ull,
				    NDK_OP_FLAG_ALLOW_REMOTE_WRITE) != NDK_STATUS_SUCCESS ||
			    side_result(&s).status != NDK_STATUS_SUCCESS)
				_exit(23);
			fr_token = ndk_mr_get_remote_token(fr);
			if (ndk_qp_invalidate(s.qp, &rc, fr, 0) != NDK_STATUS_SUCCESS ||
			    side_result(&s).status != NDK_STATUS_SUCCESS)
				_exit(24);
			fr_done = true;
			reply[1] = fr_token;
			xwrite(out, reply, sizeof(reply));
			continue;
		}
		case CMD_CHECK:
			/* the first 64 bytes of rbuf are the mailbox B may write */
			verdict = (all(s.buf, LEN, CANARY) ? 0 : 2) |
				  (all(rbuf + 64, LEN - 64, CANARY) ? 0 : 4) |
				  (all(rbuf, 64, B_PATTERN) ? 0 : 8);
			break;
		case CMD_DEREGISTER:
			verdict = sync_close_mr(s.ad, remote) == NDK_STATUS_SUCCESS ? 0 : 1;
			break;
		case CMD_DONE: {
			struct wait w = { 0 };

			/* A is still served: a NOP, and a write of its own buffer */
			verdict = w_finish(s.ad, &w, ndk_adapter_nop(s.ad, 0, w_req, &w)) ==
						  NDK_STATUS_SUCCESS
					  ? 0
					  : 16;
			xwrite(out, &verdict, sizeof(verdict));
			side_close(&s);
			_exit(0);
		}
		}
		xwrite(out, &verdict, sizeof(verdict));
	}
}

static int32_t
ask(int to, int from, uint32_t cmd, const uint32_t *arg)
{
	int32_t v = -1;

	if (write(to, &cmd, sizeof(cmd)) != sizeof(cmd) ||
	    (arg != NULL && write(to, arg, sizeof(*arg)) != sizeof(*arg)) ||
	    read(from, &v, sizeof(v)) != sizeof(v))
		return -1;
	return v;
}

/* B's QP replaced by a fresh one, connected to a fresh QP of A's, both ways. */
static void
connect_to_a(struct side *b, int to, int from, struct a_info *ai)
{
	uint32_t cmd = CMD_CONNECT, qpn, reply[2];

	CHECK_STATUS(sync_close_qp(b->ad, b->qp), NDK_STATUS_SUCCESS);
	CHECK_STATUS(side_qp(b), NDK_STATUS_SUCCESS);
	qpn = side_qpn(b);
	CHECK(write(to, &cmd, sizeof(cmd)) == sizeof(cmd) &&
		      write(to, &qpn, sizeof(qpn)) == sizeof(qpn) &&
		      read(from, reply, sizeof(reply)) == sizeof(reply),
	      "A reconnects");
	ai->qpn = reply[0];
	ai->tok_fr = reply[1];
	CHECK_STATUS(side_connect(b, ai->qpn), NDK_STATUS_SUCCESS);
}

/* One attempt that must fail: an error completion, B's QP reset afterwards. */
static void
refused(struct side *b, struct side *peer, struct ndk_result_ex r, const char *what)
{
	CHECK(r.status != NDK_STATUS_SUCCESS && r.status != UINT32_MAX,
	      "%s: refused with an error completion (%s)", what, ndk_status_str(r.status));
	CHECK(all(b->buf, LEN, B_PATTERN), "%s: B's buffer holds nothing of A's", what);
	if (peer != NULL) {
		CHECK(pair_reset(b, peer), "%s: B's QPs reset", what);
	}
}

static void
test_isolation(void)
{
	int to_a[2], from_a[2], st;
	struct side b, b2;
	struct a_info ai;
	pid_t pid;

	CHECK(pipe2(to_a, O_CLOEXEC) == 0 && pipe2(from_a, O_CLOEXEC) == 0, "pipes");
	pid = fork();
	if (pid == 0) {
		close(to_a[1]);
		close(from_a[0]);
		client_a(to_a[0], from_a[1]);
	}
	/* only A holds these ends: if A dies, B's reads see it */
	close(to_a[0]);
	close(from_a[1]);
	if (read(from_a[0], &ai, sizeof(ai)) != sizeof(ai)) {
		waitpid(pid, &st, 0);
		CHECK(false, "A did not set up (exit status %d)", WEXITSTATUS(st));
		return;
	}

	/* B: two sides of its own, connected to each other */
	CHECK(side_open(&b, d.sock, LEN, NDK_MR_FLAG_ALLOW_LOCAL_WRITE) &&
		      side_open(&b2, d.sock, LEN, NDK_MR_FLAG_ALLOW_REMOTE_WRITE) &&
		      side_connect(&b, side_qpn(&b2)) == NDK_STATUS_SUCCESS &&
		      side_connect(&b2, side_qpn(&b)) == NDK_STATUS_SUCCESS,
	      "B's QPs");
	memset(b.buf, B_PATTERN, LEN);
	memset(b2.buf, B_PATTERN, LEN);

	/* A's tokens as B's local SGEs: reading A's memory out through B's own write */
	refused(&b, &b2, side_rdma(&b, true, 0, 4096, ai.tok_local, (uintptr_t)b2.buf, b2.rtoken),
		"A's local token in B's SGE");
	CHECK(all(b2.buf, LEN, B_PATTERN), "nothing of A's reached B's peer");
	refused(&b, &b2, side_rdma(&b, true, 0, 4096, ai.tok_remote, (uintptr_t)b2.buf, b2.rtoken),
		"A's remote token in B's SGE");
	refused(&b, &b2, side_rdma(&b, false, 0, 4096, ai.tok_priv, (uintptr_t)b2.buf, b2.rtoken),
		"A's privileged token in B's SGE");
	{
		/* A's address under B's own privileged token (read from B2 into it) */
		struct ndk_sge sge = { .logical_address = ai.va_local,
				       .length = 4096,
				       .memory_region_token = ndk_pd_get_privileged_token(b.pd) };
		struct ndk_result_ex r = { .status = UINT32_MAX };

		if (ndk_qp_read(b.qp, &r, &sge, 1, (uintptr_t)b2.buf, b2.rtoken, 0) ==
		    NDK_STATUS_SUCCESS)
			r = side_result(&b);
		/* if that address happens to be B's own memory too, it is B's to write */
		if (r.status == NDK_STATUS_SUCCESS)
			printf("  (A's address is inside B's own arena here: B wrote its own "
			       "memory)\n");
		else
			refused(&b, &b2, r, "A's address under B's privileged token");
	}
	/* A's remote token through a QP whose peer is B: the peer's client decides */
	refused(&b, &b2, side_rdma(&b, true, 0, 64, b.token, ai.va_remote, ai.tok_remote),
		"A's remote token at B's own peer (write)");
	refused(&b, &b2, side_rdma(&b, false, 0, 64, b.token, ai.va_remote, ai.tok_remote),
		"A's remote token at B's own peer (read)");

	/* now B's QP connected to A's, both ways; A answers with its stale FR token */
	connect_to_a(&b, to_a[1], from_a[0], &ai);
	CHECK(ai.tok_fr != 0, "A's fast-register token");
	refused(&b, NULL, side_rdma(&b, true, 0, 64, b.token, ai.va_local, ai.tok_local),
		"A's local-only token, remotely");
	/* B's QP is in error now: a new one, reconnected on both sides */
#define RECONNECT() connect_to_a(&b, to_a[1], from_a[0], &ai)
	RECONNECT();
	refused(&b, NULL, side_rdma(&b, false, 0, 64, b.token, ai.va_local, ai.tok_local),
		"reading A's local-only MR remotely");
	RECONNECT();
	refused(&b, NULL, side_rdma(&b, true, 0, 64, b.token, 0x5000000000ull, ai.tok_fr),
		"A's invalidated fast-register token");
	RECONNECT();
	refused(&b, NULL,
		side_rdma(&b, true, 0, 128, b.token, ai.va_remote + LEN - 64, ai.tok_remote),
		"past the end of A's remote MR");
	RECONNECT();
	refused(&b, NULL, side_rdma(&b, true, 0, 64, b.token, ai.va_remote - 64, ai.tok_remote),
		"before the start of A's remote MR");
	RECONNECT();
	/* the control: what A granted works, into the mailbox only */
	CHECK_STATUS(side_rdma(&b, true, 0, 64, b.token, ai.va_remote, ai.tok_remote).status,
		     NDK_STATUS_SUCCESS);
	CHECK(ask(to_a[1], from_a[0], CMD_CHECK, NULL) == 0,
	      "A's canaries intact, the granted 64 bytes arrived (verdict bits)");
	/* A deregisters: the token B holds is stale at once */
	CHECK(ask(to_a[1], from_a[0], CMD_DEREGISTER, NULL) == 0, "A deregisters");
	refused(&b, NULL, side_rdma(&b, true, 0, 64, b.token, ai.va_remote, ai.tok_remote),
		"A's deregistered token");
	CHECK(!tel_token_live(&d, ai.tok_remote) && !tel_token_live(&d, ai.tok_fr),
	      "ndkd agrees those tokens are dead");
	CHECK(ask(to_a[1], from_a[0], CMD_DONE, NULL) == 0, "A still served at the end");
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "A exits cleanly (%d)", st);
	side_close(&b);
	side_close(&b2);
}

/* What the docs promise of the socket's mode; a uid not allowed cannot attach. */
static void
test_modes_and_uid(void)
{
	struct tdaemon strict;
	struct stat st;
	char cmd[512], out[4096];
	const char *demo = getenv("NDK_DEMO_BIN");

	CHECK(stat(d.sock, &st) == 0 && (st.st_mode & 0777) == 0660 && S_ISSOCK(st.st_mode),
	      "socket mode 0660 by default (%o)", st.st_mode & 0777);
	CHECK(tdaemon_start(&strict, "strict",
			    (const char *const[]){ "--socket-mode", "0600", NULL }) == 0,
	      "ndkd with --socket-mode 0600");
	CHECK(stat(strict.sock, &st) == 0 && (st.st_mode & 0777) == 0600, "socket mode 0600");
	if (demo != NULL) {
		/* nobody: the socket's mode stops it before the uid check would */
		snprintf(cmd, sizeof(cmd), "runuser -u nobody -- %s --socket %s --count 1 2>&1",
			 demo, strict.sock);
		CHECK(t_run(cmd, out, sizeof(out)) != 0 && strstr(out, "open failed") != NULL,
		      "nobody cannot attach: %s", out);
	}
	CHECK(tdaemon_stop(&strict) == 0, "stops");
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	if (tdaemon_start(&d, "isolation", NULL) != 0)
		return 1;
	RUN(test_isolation);
	RUN(test_modes_and_uid);
	CHECK(tel_status_u64(&d, "clients_broken") == 0, "no client broken along the way");
	CHECK(tdaemon_stop(&d) == 0, "ndkd exits 0");
	return t_done();
}
