/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The same-node data path: RDMA write and read of 1 B to 4 MiB between two
 * processes with the data checked; every access check of DESIGN section 4
 * refusing (and nothing written outside the MR); fast register and
 * invalidate ordered with writes; a peer killed mid-transfer.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rdma_util.h"

#define BIG (4u << 20)
#define RW  (NDK_MR_FLAG_ALLOW_REMOTE_READ | NDK_MR_FLAG_ALLOW_REMOTE_WRITE)

static struct tdaemon d;

struct hello {
	uint32_t qpn;
	uint32_t token;
	uint64_t addr;
};

static uint8_t
pattern(uint64_t i, uint32_t size)
{
	return (uint8_t)(i * 31 + size);
}

/* Child: the passive side. Reports its QP, MR and buffer; checks what it is told to. */
static int
passive_child(int to_parent, int from_parent)
{
	struct side b;
	struct hello h, peer;
	uint32_t size;
	uint64_t i;

	if (!side_open(&b, d.sock, BIG + 4096, RW))
		return 10;
	h = (struct hello){ side_qpn(&b), b.rtoken, (uintptr_t)b.buf };
	if (write(to_parent, &h, sizeof(h)) != sizeof(h) ||
	    read(from_parent, &peer, sizeof(peer)) != sizeof(peer) ||
	    side_connect(&b, peer.qpn) != NDK_STATUS_SUCCESS)
		return 11;
	if (write(to_parent, &h, sizeof(h)) != sizeof(h))
		return 12;
	/* for each size the parent wrote: check every byte, and the canary after it */
	while (read(from_parent, &size, sizeof(size)) == sizeof(size) && size != 0) {
		uint8_t ok = 1;

		for (i = 0; i < size; i++)
			ok &= b.buf[i] == pattern(i, size);
		ok &= b.buf[size] == 0xee;
		/* fill for the parent's read back */
		for (i = 0; i < size; i++)
			b.buf[i] = (uint8_t)~pattern(i, size);
		b.buf[size + 1] = 0xee;
		if (write(to_parent, &ok, 1) != 1)
			return 13;
	}
	side_close(&b);
	return 0;
}

/*
 * Fork child(to_parent, from_parent) as the peer process, open side a (its
 * buffer len bytes under an MR with mr_flags), trade hellos over two pipes
 * and connect a to the peer's QP. The peer's hello is in *peer.
 */
static pid_t
peer_start(int (*child)(int, int), int up[2], int down[2], struct side *a, size_t len,
	   uint32_t mr_flags, struct hello *peer)
{
	struct hello me;
	pid_t pid;

	CHECK(pipe(up) == 0 && pipe(down) == 0, "pipes");
	pid = fork();
	if (pid == 0)
		_exit(child(up[1], down[0]));
	CHECK(side_open(a, d.sock, len, mr_flags), "open");
	CHECK(read(up[0], peer, sizeof(*peer)) == sizeof(*peer), "peer's hello");
	me = (struct hello){ side_qpn(a), a->rtoken, (uintptr_t)a->buf };
	CHECK(write(down[1], &me, sizeof(me)) == sizeof(me), "hello");
	CHECK_STATUS(side_connect(a, peer->qpn), NDK_STATUS_SUCCESS);
	return pid;
}

static void
test_write_read_two_processes(void)
{
	static const uint32_t sizes[] = { 1,	2,    3,     63,     64,      65,      4095,
					  4096, 4097, 65536, 100000, 1 << 20, 3 << 20, BIG };
	int up[2], down[2], st;
	struct side a;
	struct hello peer;
	pid_t pid;
	size_t k;

	pid = peer_start(passive_child, up, down, &a, BIG + 4096, NDK_MR_FLAG_ALLOW_LOCAL_WRITE,
			 &peer);
	CHECK(read(up[0], &peer, sizeof(peer)) == sizeof(peer), "peer connected");

	for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		uint32_t size = sizes[k];
		struct ndk_result_ex r;
		uint8_t ok = 0, canary = 0xee;
		uint64_t i, bad = 0;

		for (i = 0; i < size; i++)
			a.buf[i] = pattern(i, size);
		/* the byte after the range must survive: write it first */
		a.buf[size] = canary;
		r = side_rdma(&a, true, 0, size + 1, a.token, peer.addr, peer.token);
		CHECK_STATUS(r.status, NDK_STATUS_SUCCESS);
		r = side_rdma(&a, true, 0, size, a.token, peer.addr, peer.token);
		CHECK(r.status == NDK_STATUS_SUCCESS && r.bytes_transferred == size &&
			      r.type == NDK_OP_TYPE_WRITE && r.request_context != NULL,
		      "write %u: %s, %u bytes", size, ndk_status_str(r.status),
		      r.bytes_transferred);
		CHECK(write(down[1], &size, sizeof(size)) == sizeof(size) &&
			      read(up[0], &ok, 1) == 1 && ok == 1,
		      "peer saw the %u bytes written, and not one more", size);
		memset(a.buf, 0, size + 2);
		r = side_rdma(&a, false, 0, size, a.token, peer.addr, peer.token);
		CHECK(r.status == NDK_STATUS_SUCCESS && r.bytes_transferred == size &&
			      r.type == NDK_OP_TYPE_READ,
		      "read %u: %s", size, ndk_status_str(r.status));
		for (i = 0; i < size; i++) {
			uint8_t want = (uint8_t)(0xffu ^ pattern(i, size));

			bad += a.buf[i] != want;
		}
		CHECK(bad == 0 && a.buf[size] == 0, "read %u bytes back intact (%llu wrong)", size,
		      (unsigned long long)bad);
	}
	uint32_t zero = 0;
	CHECK(write(down[1], &zero, sizeof(zero)) == sizeof(zero), "done");
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "peer exit %d", WEXITSTATUS(st));
	side_close(&a);
}

/* Two clients in this process, connected, len-byte buffers; b's registered with flags. */
static bool
pair_open_len(struct side *a, struct side *b, size_t len, uint32_t b_flags)
{
	return side_open(a, d.sock, len, NDK_MR_FLAG_ALLOW_LOCAL_WRITE) &&
	       side_open(b, d.sock, len, b_flags) &&
	       side_connect(a, side_qpn(b)) == NDK_STATUS_SUCCESS &&
	       side_connect(b, side_qpn(a)) == NDK_STATUS_SUCCESS;
}

static bool
pair_open(struct side *a, struct side *b, uint32_t b_flags)
{
	return pair_open_len(a, b, 1 << 16, b_flags);
}

static void
expect_refused_then_flushed(struct side *a, struct ndk_result_ex r, const char *what)
{
	CHECK(r.status == NDK_STATUS_ACCESS_VIOLATION, "%s: %s, want ACCESS_VIOLATION", what,
	      ndk_status_str(r.status));
	/* the QP is in error now: the next request is flushed */
	r = side_rdma(a, true, 0, 8, a->token, 0x1000, 1);
	CHECK(r.status == NDK_STATUS_CANCELLED, "%s: then CANCELLED, got %s", what,
	      ndk_status_str(r.status));
}

static void
test_access_checks(void)
{
	struct side a, b;
	uint64_t base;
	uint32_t i, canary_bad = 0;

	CHECK(pair_open(&a, &b, NDK_MR_FLAG_ALLOW_REMOTE_WRITE), "pair");
	base = (uintptr_t)b.buf;
	memset(b.buf, 0x77, b.len);

	/* out of bounds by one byte, at either end */
	expect_refused_then_flushed(&a, side_rdma(&a, true, 0, 1, a.token, base + b.len, b.rtoken),
				    "one byte past the end");
	CHECK(pair_reset(&a, &b), "reset");
	expect_refused_then_flushed(&a, side_rdma(&a, true, 0, 2, a.token, base - 1, b.rtoken),
				    "one byte before the start");
	CHECK(pair_reset(&a, &b), "reset");
	expect_refused_then_flushed(
		&a, side_rdma(&a, true, 0, 64, a.token, base + b.len - 63, b.rtoken),
		"a range straddling the end");
	for (i = 0; i < b.len; i++)
		canary_bad += b.buf[i] != 0x77;
	CHECK(canary_bad == 0, "nothing written by refused writes (%u bytes changed)", canary_bad);

	/* remote read without REMOTE_READ */
	CHECK(pair_reset(&a, &b), "reset");
	expect_refused_then_flushed(&a, side_rdma(&a, false, 0, 8, a.token, base, b.rtoken),
				    "read without REMOTE_READ");

	/* the privileged token as a remote token */
	CHECK(pair_reset(&a, &b), "reset");
	expect_refused_then_flushed(
		&a, side_rdma(&a, true, 0, 8, a.token, base, ndk_pd_get_privileged_token(b.pd)),
		"privileged token used remotely");

	/* a token of another PD of the peer's */
	{
		struct ndk_pd *pd2 = NULL;
		struct ndk_mr *mr2 = NULL;

		CHECK_STATUS(sync_pd(b.ad, &pd2), NDK_STATUS_SUCCESS);
		CHECK_STATUS(sync_mr(b.ad, pd2, false, &mr2), NDK_STATUS_SUCCESS);
		CHECK_STATUS(sync_register(b.ad, mr2, b.buf, 4096, NDK_MR_FLAG_ALLOW_REMOTE_WRITE),
			     NDK_STATUS_SUCCESS);
		CHECK(pair_reset(&a, &b), "reset");
		expect_refused_then_flushed(
			&a, side_rdma(&a, true, 0, 8, a.token, base, ndk_mr_get_remote_token(mr2)),
			"token of a PD other than the peer QP's");
		CHECK_STATUS(sync_close_mr(b.ad, mr2), NDK_STATUS_SUCCESS);
		CHECK_STATUS(sync_close_pd(b.ad, pd2), NDK_STATUS_SUCCESS);
	}

	/* a stale token after deregister and re-register */
	{
		uint32_t old = b.rtoken;

		CHECK(pair_reset(&a, &b), "reset");
		CHECK_STATUS(sync_deregister(b.ad, b.mr), NDK_STATUS_SUCCESS);
		CHECK_STATUS(
			sync_register(b.ad, b.mr, b.buf, b.len, NDK_MR_FLAG_ALLOW_REMOTE_WRITE),
			NDK_STATUS_SUCCESS);
		b.token = ndk_mr_get_local_token(b.mr);
		b.rtoken = ndk_mr_get_remote_token(b.mr);
		CHECK(b.rtoken != old, "new token");
		CHECK_STATUS(side_rdma(&a, true, 0, 8, a.token, base, b.rtoken).status,
			     NDK_STATUS_SUCCESS);
		expect_refused_then_flushed(&a, side_rdma(&a, true, 0, 8, a.token, base, old),
					    "stale token after re-register");
	}

	/* a local SGE under the peer's token: local tokens are checked too */
	CHECK(pair_reset(&a, &b), "reset");
	expect_refused_then_flushed(&a, side_rdma(&a, true, 0, 8, b.token, base, b.rtoken),
				    "another client's token in a local SGE");

	/* before the peer connects back: CONNECTION_INVALID, QP unharmed */
	{
		struct side c;

		CHECK(side_open(&c, d.sock, 4096, 0), "third side");
		CHECK_STATUS(side_connect(&c, side_qpn(&b)), NDK_STATUS_SUCCESS);
		c.token = ndk_pd_get_privileged_token(c.pd);
		CHECK_STATUS(side_rdma(&c, true, 0, 8, c.token, base, b.rtoken).status,
			     NDK_STATUS_CONNECTION_INVALID);
		side_close(&c);
	}
	side_close(&a);
	side_close(&b);
}

static void
test_fast_register_ordering(void)
{
	struct side a, b;
	struct ndk_mr *fr = NULL;
	ndk_logical_address pages[4];
	struct ndk_result_ex r;
	uint32_t t1, t2, i;
	void *rc = NULL;

	CHECK(pair_open(&a, &b, 0), "pair");
	CHECK_STATUS(sync_mr(b.ad, b.pd, true, &fr), NDK_STATUS_SUCCESS);
	CHECK_STATUS(sync_init_fr(b.ad, fr, 16, true), NDK_STATUS_SUCCESS);
	for (i = 0; i < 4; i++)
		pages[i] = (uintptr_t)b.buf + i * 4096;

	/* b fast-registers 3 pages (offset 100) for remote write, on its own QP */
	CHECK_STATUS(ndk_qp_fast_register(b.qp, &rc, fr, 3, pages, 100, 3 * 4096 - 100,
					  (void *)(uintptr_t)(0x7000000000ull + 100),
					  NDK_OP_FLAG_ALLOW_REMOTE_WRITE),
		     NDK_STATUS_SUCCESS);
	r = side_result(&b);
	CHECK(r.status == NDK_STATUS_SUCCESS && r.type == NDK_OP_TYPE_FAST_REGISTER,
	      "fast register: %s", ndk_status_str(r.status));
	t1 = ndk_mr_get_remote_token(fr);
	CHECK(t1 != 0 && r.type_specific_completion_output == t1, "token from the result");
	/* a write at the new VA lands in the pages (VA 0x7000000000+100 = page 0 offset 100) */
	memset(a.buf, 0x42, 5000);
	r = side_rdma(&a, true, 0, 5000, a.token, 0x7000000000ull + 100, t1);
	CHECK_STATUS(r.status, NDK_STATUS_SUCCESS);
	CHECK(b.buf[99] == 0 && b.buf[100] == 0x42 && b.buf[5099] == 0x42 && b.buf[5100] == 0,
	      "landed at page offset 100, 5000 bytes");

	/* invalidate, then the same write fails */
	CHECK_STATUS(ndk_qp_invalidate(b.qp, &rc, fr, 0), NDK_STATUS_SUCCESS);
	r = side_result(&b);
	CHECK(r.status == NDK_STATUS_SUCCESS && r.type == NDK_OP_TYPE_INVALIDATE, "invalidate");
	expect_refused_then_flushed(&a,
				    side_rdma(&a, true, 0, 8, a.token, 0x7000000000ull + 100, t1),
				    "write after invalidate");

	/* fast register again: a new token; the old one stays dead */
	CHECK(pair_reset(&a, &b), "reset");
	CHECK_STATUS(ndk_qp_fast_register(b.qp, &rc, fr, 1, pages, 0, 4096, (void *)0x9000000000ull,
					  NDK_OP_FLAG_ALLOW_REMOTE_WRITE),
		     NDK_STATUS_SUCCESS);
	CHECK_STATUS(side_result(&b).status, NDK_STATUS_SUCCESS);
	t2 = ndk_mr_get_remote_token(fr);
	CHECK(t2 != t1 && (t2 >> 8) == (t1 >> 8), "rotated variant");
	CHECK_STATUS(side_rdma(&a, true, 0, 8, a.token, 0x9000000000ull, t2).status,
		     NDK_STATUS_SUCCESS);
	expect_refused_then_flushed(&a, side_rdma(&a, true, 0, 8, a.token, 0x9000000000ull, t1),
				    "the token before the last fast register");

	/* bad fast registers on the live mapping: an error result, the mapping unchanged */
	{
		static const struct {
			uint32_t count;
			int page0; /* 0: good, 1: outside the client's memory, 2: misaligned */
			uint64_t len;
			const char *what;
		} bad[] = {
			{ 17, 0, 4096, "more pages than initialised" },
			{ 1, 1, 4096, "a page outside the client's memory" },
			{ 1, 0, 4097, "length beyond the pages" },
			{ 1, 2, 100, "a page address not page-aligned" },
		};
		ndk_logical_address p[17];
		size_t k;

		for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
			ndk_status st;

			CHECK(pair_reset(&a, &b), "reset");
			for (i = 0; i < 17; i++)
				p[i] = (uintptr_t)b.buf + i * 4096;
			if (bad[k].page0 == 1)
				p[0] = 0x1000;
			if (bad[k].page0 == 2)
				p[0] = (uintptr_t)b.buf + 1;
			st = ndk_qp_fast_register(b.qp, &rc, fr, bad[k].count, p, 0, bad[k].len,
						  (void *)0xa000000000ull,
						  NDK_OP_FLAG_ALLOW_REMOTE_WRITE);
			r = st == NDK_STATUS_SUCCESS ? side_result(&b)
						     : (struct ndk_result_ex){ .status = st };
			CHECK(r.status != NDK_STATUS_SUCCESS, "%s refused (%s)", bad[k].what,
			      ndk_status_str(r.status));
			CHECK(ndk_mr_get_remote_token(fr) == t2, "%s: token unchanged",
			      bad[k].what);
			/* b's QP took the error; the old mapping still serves a fresh pair */
			CHECK(pair_reset(&a, &b), "reset");
			CHECK_STATUS(side_rdma(&a, true, 0, 8, a.token, 0x9000000000ull, t2).status,
				     NDK_STATUS_SUCCESS);
		}
	}
	CHECK_STATUS(sync_close_mr(b.ad, fr), NDK_STATUS_SUCCESS);
	side_close(&a);
	side_close(&b);
}

/*
 * Pages from two regions in one request (the region cache misses and hits
 * in turn), and a bad last page on an MR that is not VALID: refused, the
 * old token stays dead, and the next good request maps every page right.
 */
/*
 * NDK: after NdkFastRegister the token is available from
 * NdkGetRemoteTokenFromMr. It is the moment the call returns, with
 * SILENT_SUCCESS too (no result ever comes), and before any result is read.
 */
static void
test_fast_register_token_at_post(void)
{
	struct side a, b;
	struct ndk_mr *fr = NULL;
	ndk_logical_address page;
	struct ndk_result_ex r;
	struct ndk_sge rsge, ssge;
	uint32_t t0, t1, t2, got = 0;

	CHECK(pair_open(&a, &b, 0), "pair");
	CHECK_STATUS(sync_mr(b.ad, b.pd, true, &fr), NDK_STATUS_SUCCESS);
	CHECK_STATUS(sync_init_fr(b.ad, fr, 1, true), NDK_STATUS_SUCCESS);
	page = (uintptr_t)b.buf;
	t0 = ndk_mr_get_remote_token(fr);
	rsge = (struct ndk_sge){ .virtual_address = a.buf + 4096,
				 .length = 4,
				 .memory_region_token = a.token };
	CHECK_STATUS(ndk_qp_receive(a.qp, NULL, &rsge, 1), NDK_STATUS_SUCCESS);
	CHECK_STATUS(
		ndk_qp_fast_register(b.qp, NULL, fr, 1, &page, 0, 4096, (void *)0x8000000000ull,
				     NDK_OP_FLAG_ALLOW_REMOTE_WRITE | NDK_OP_FLAG_SILENT_SUCCESS),
		NDK_STATUS_SUCCESS);
	t1 = ndk_mr_get_remote_token(fr);
	CHECK(t1 != 0 && t1 != t0 && (t1 >> 8) == (t0 >> 8), "a new token at once (silent)");
	/* the usual hand-over: a send behind the fast register carries the token */
	ssge = (struct ndk_sge){ .virtual_address = &t1, .length = 4 };
	CHECK_STATUS(ndk_qp_send(b.qp, NULL, &ssge, 1, NDK_OP_FLAG_INLINE), NDK_STATUS_SUCCESS);
	r = side_result(&b);
	CHECK(r.status == NDK_STATUS_SUCCESS && r.type == NDK_OP_TYPE_SEND,
	      "the send is the first result (the fast register was silent)");
	CHECK_STATUS(side_result(&a).status, NDK_STATUS_SUCCESS);
	memcpy(&got, a.buf + 4096, 4);
	CHECK(got == t1, "the peer has the token");
	memset(a.buf, 0x5a, 64);
	r = side_rdma(&a, true, 0, 64, a.token, 0x8000000000ull, got);
	CHECK_STATUS(r.status, NDK_STATUS_SUCCESS);
	CHECK(b.buf[0] == 0x5a && b.buf[63] == 0x5a, "the write landed through it");

	CHECK_STATUS(ndk_qp_invalidate(b.qp, NULL, fr, NDK_OP_FLAG_SILENT_SUCCESS),
		     NDK_STATUS_SUCCESS);
	CHECK_STATUS(ndk_qp_fast_register(b.qp, NULL, fr, 1, &page, 0, 4096,
					  (void *)0x8000000000ull, NDK_OP_FLAG_ALLOW_REMOTE_WRITE),
		     NDK_STATUS_SUCCESS);
	t2 = ndk_mr_get_remote_token(fr);
	CHECK(t2 != t1 && t2 != t0, "and again before its result is read");
	r = side_result(&b);
	CHECK(r.status == NDK_STATUS_SUCCESS && r.type == NDK_OP_TYPE_FAST_REGISTER &&
		      r.type_specific_completion_output == t2,
	      "the result names the same token");
	CHECK_STATUS(side_rdma(&a, true, 0, 8, a.token, 0x8000000000ull, t2).status,
		     NDK_STATUS_SUCCESS);
	CHECK_STATUS(sync_close_mr(b.ad, fr), NDK_STATUS_SUCCESS);
	side_close(&a);
	side_close(&b);
}

/*
 * A fast register's result read after its MR was closed: the result names
 * the MR by a checked id, so nothing is written through a freed object
 * (ASan would say so: this test runs in build-asan too).
 */
static void
test_fast_register_result_after_close(void)
{
	struct side a, b;
	struct ndk_mr *fr = NULL;
	ndk_logical_address page;
	struct ndk_result_ex r;
	int i;

	CHECK(pair_open(&a, &b, 0), "pair");
	page = (uintptr_t)b.buf;
	for (i = 0; i < 2; i++) {
		CHECK_STATUS(sync_mr(b.ad, b.pd, true, &fr), NDK_STATUS_SUCCESS);
		CHECK_STATUS(sync_init_fr(b.ad, fr, 1, true), NDK_STATUS_SUCCESS);
		CHECK_STATUS(ndk_qp_fast_register(b.qp, NULL, fr, 1, &page, 0, 4096,
						  (void *)0x8000000000ull,
						  NDK_OP_FLAG_ALLOW_REMOTE_WRITE),
			     NDK_STATUS_SUCCESS);
		if (i == 1)
			CHECK_STATUS(ndk_qp_invalidate(b.qp, NULL, fr, 0), NDK_STATUS_SUCCESS);
		/* closed before its results are read (a second MR may reuse its memory) */
		CHECK_STATUS(sync_close_mr(b.ad, fr), NDK_STATUS_SUCCESS);
		r = side_result(&b);
		CHECK(r.type == NDK_OP_TYPE_FAST_REGISTER,
		      "the fast register's result still comes");
		if (i == 1)
			side_result(&b);
		if (r.status != NDK_STATUS_SUCCESS)
			CHECK(pair_reset(&a, &b), "reset");
	}
	side_close(&a);
	side_close(&b);
}

/*
 * RDMA_READ_LOCAL_INVALIDATE: the read lands in the first SGE's
 * fast-registered MR, which stops working once the read is done; a normal
 * MR there is refused (NDK's Invalidate rule).
 */
static void
test_read_local_invalidate(void)
{
	struct side a, b;
	struct ndk_mr *fr = NULL;
	struct ndk_sge sge;
	struct ndk_result_ex r;
	struct ndk_adapter_info info;
	ndk_logical_address page;
	uint32_t size = sizeof(info);
	int i;

	CHECK(pair_open(&a, &b, NDK_MR_FLAG_ALLOW_REMOTE_READ), "pair");
	CHECK_STATUS(ndk_adapter_query_info(a.ad, &info, &size), NDK_STATUS_SUCCESS);
	CHECK(info.adapter_flags & NDK_ADAPTER_FLAG_RDMA_READ_LOCAL_INVALIDATE_SUPPORTED,
	      "the adapter says it honours the flag");
	CHECK_STATUS(sync_mr(a.ad, a.pd, true, &fr), NDK_STATUS_SUCCESS);
	CHECK_STATUS(sync_init_fr(a.ad, fr, 1, false), NDK_STATUS_SUCCESS);
	page = (uintptr_t)a.buf + 4096;
	CHECK_STATUS(
		ndk_qp_fast_register(a.qp, NULL, fr, 1, &page, 0, 4096, (void *)0xc000000000ull,
				     NDK_OP_FLAG_ALLOW_LOCAL_WRITE | NDK_OP_FLAG_SILENT_SUCCESS),
		NDK_STATUS_SUCCESS);
	for (i = 0; i < 64; i++)
		b.buf[i] = (uint8_t)(i + 1);
	sge = (struct ndk_sge){ .virtual_address = (void *)0xc000000000ull,
				.length = 64,
				.memory_region_token = ndk_mr_get_local_token(fr) };
	CHECK_STATUS(ndk_qp_read(a.qp, (void *)7, &sge, 1, (uintptr_t)b.buf, b.rtoken,
				 NDK_OP_FLAG_RDMA_READ_LOCAL_INVALIDATE),
		     NDK_STATUS_SUCCESS);
	r = side_result(&a);
	CHECK(r.status == NDK_STATUS_SUCCESS && r.type == NDK_OP_TYPE_READ && a.buf[4096] == 1 &&
		      a.buf[4096 + 63] == 64,
	      "read landed (%s)", ndk_status_str(r.status));
	CHECK_STATUS(ndk_qp_read(a.qp, NULL, &sge, 1, (uintptr_t)b.buf, b.rtoken, 0),
		     NDK_STATUS_SUCCESS);
	CHECK_STATUS(side_result(&a).status, NDK_STATUS_ACCESS_VIOLATION);

	/* a registered MR as the sink: refused */
	CHECK(pair_reset(&a, &b), "reset");
	sge = (struct ndk_sge){ .virtual_address = a.buf,
				.length = 8,
				.memory_region_token = a.token };
	CHECK_STATUS(ndk_qp_read(a.qp, NULL, &sge, 1, (uintptr_t)b.buf, b.rtoken,
				 NDK_OP_FLAG_RDMA_READ_LOCAL_INVALIDATE),
		     NDK_STATUS_SUCCESS);
	CHECK_STATUS(side_result(&a).status, NDK_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(sync_close_mr(a.ad, fr), NDK_STATUS_SUCCESS);
	side_close(&a);
	side_close(&b);
}

static void
test_fast_register_two_regions(void)
{
	struct side a, b;
	struct ndk_mr *fr = NULL;
	ndk_logical_address pages[8];
	struct ndk_result_ex r;
	uint8_t *other = NULL;
	uint32_t t1, i;
	void *rc = NULL;
	int fd = memfd_create("ndkt-second-region", MFD_ALLOW_SEALING);

	CHECK(fd >= 0 && ftruncate(fd, 1 << 20) == 0 && fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) == 0,
	      "memfd");
	CHECK(pair_open(&a, &b, 0), "pair");
	CHECK_STATUS(ndk_mem_attach_fd(b.ad, fd, 1 << 20, (void **)&other), NDK_STATUS_SUCCESS);
	CHECK_STATUS(sync_mr(b.ad, b.pd, true, &fr), NDK_STATUS_SUCCESS);
	CHECK_STATUS(sync_init_fr(b.ad, fr, 8, true), NDK_STATUS_SUCCESS);
	for (i = 0; i < 8; i++)
		pages[i] = (uintptr_t)(i % 2 ? other + i * 4096 : b.buf + i * 4096);
	CHECK_STATUS(ndk_qp_fast_register(b.qp, &rc, fr, 8, pages, 0, 8 * 4096,
					  (void *)0xc000000000ull, NDK_OP_FLAG_ALLOW_REMOTE_WRITE),
		     NDK_STATUS_SUCCESS);
	CHECK_STATUS(side_result(&b).status, NDK_STATUS_SUCCESS);
	t1 = ndk_mr_get_remote_token(fr);
	/* one write across all eight pages: byte k lands in page k / 4096 */
	for (i = 0; i < 8 * 4096; i++)
		a.buf[i] = (uint8_t)(i / 4096 + 1);
	CHECK_STATUS(side_rdma(&a, true, 0, 8 * 4096, a.token, 0xc000000000ull, t1).status,
		     NDK_STATUS_SUCCESS);
	for (i = 0; i < 8; i++) {
		const uint8_t *p = (const uint8_t *)(uintptr_t)pages[i];

		CHECK(p[0] == i + 1 && p[4095] == i + 1, "page %u landed in its region", i);
	}

	/* invalidate; then a request whose last page is outside b's memory */
	CHECK_STATUS(ndk_qp_invalidate(b.qp, &rc, fr, 0), NDK_STATUS_SUCCESS);
	CHECK_STATUS(side_result(&b).status, NDK_STATUS_SUCCESS);
	pages[7] = 0x1000;
	CHECK_STATUS(ndk_qp_fast_register(b.qp, &rc, fr, 8, pages, 0, 8 * 4096,
					  (void *)0xc000000000ull, NDK_OP_FLAG_ALLOW_REMOTE_WRITE),
		     NDK_STATUS_SUCCESS);
	r = side_result(&b);
	CHECK_STATUS(r.status, NDK_STATUS_ACCESS_VIOLATION);
	CHECK(pair_reset(&a, &b), "reset");
	expect_refused_then_flushed(&a, side_rdma(&a, true, 0, 8, a.token, 0xc000000000ull, t1),
				    "the token of an invalidated MR after a refused fast register");

	/* the same MR, pages in the other order: every page maps where it should */
	for (i = 0; i < 8; i++)
		pages[i] = (uintptr_t)(i % 2 ? b.buf + i * 4096 : other + i * 4096);
	CHECK(pair_reset(&a, &b), "reset");
	CHECK_STATUS(ndk_qp_fast_register(b.qp, &rc, fr, 8, pages, 0, 8 * 4096,
					  (void *)0xc000000000ull, NDK_OP_FLAG_ALLOW_REMOTE_WRITE),
		     NDK_STATUS_SUCCESS);
	CHECK_STATUS(side_result(&b).status, NDK_STATUS_SUCCESS);
	for (i = 0; i < 8 * 4096; i++)
		a.buf[i] = (uint8_t)(0x80 + i / 4096);
	CHECK_STATUS(side_rdma(&a, true, 0, 8 * 4096, a.token, 0xc000000000ull,
			       ndk_mr_get_remote_token(fr))
			     .status,
		     NDK_STATUS_SUCCESS);
	for (i = 0; i < 8; i++) {
		const uint8_t *p = (const uint8_t *)(uintptr_t)pages[i];

		CHECK(p[0] == 0x80 + i && p[4095] == 0x80 + i, "page %u remapped", i);
	}
	CHECK_STATUS(sync_close_mr(b.ad, fr), NDK_STATUS_SUCCESS);
	side_close(&a);
	side_close(&b);
	close(fd);
}

static size_t
count_byte(const uint8_t *p, size_t len, uint8_t v)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++)
		n += p[i] == v;
	return n;
}

/*
 * A write past a chunk (256 KiB) moves a chunk per engine pass, and every
 * chunk is checked again: the target deregisters its MR while 16 MiB are on
 * their way. Once the deregistration has completed, not one more byte may
 * land, and the write fails unless it had landed whole before.
 */
static void
test_deregistered_mid_transfer(void)
{
	const size_t len = 16u << 20;
	struct side a, b;
	struct ndk_sge sge;
	struct ndk_result_ex r;
	size_t before, after;
	int tries, mid = 0;

	if (!pair_open_len(&a, &b, len, NDK_MR_FLAG_ALLOW_REMOTE_WRITE)) {
		CHECK(0, "setup");
		return;
	}
	memset(a.buf, 0xab, len);
	sge = (struct ndk_sge){ .virtual_address = a.buf,
				.length = (uint32_t)len,
				.memory_region_token = a.token };
	for (tries = 0; tries < 20 && mid == 0; tries++) {
		memset(b.buf, 0, len);
		if (tries > 0 &&
		    (sync_register(b.ad, b.mr, b.buf, len, NDK_MR_FLAG_ALLOW_REMOTE_WRITE) !=
			     NDK_STATUS_SUCCESS ||
		     !pair_reset(&a, &b))) {
			CHECK(0, "set up again");
			break;
		}
		b.rtoken = ndk_mr_get_remote_token(b.mr);
		CHECK_STATUS(ndk_qp_write(a.qp, NULL, &sge, 1, (uintptr_t)b.buf, b.rtoken, 0),
			     NDK_STATUS_SUCCESS);
		CHECK_STATUS(sync_deregister(b.ad, b.mr), NDK_STATUS_SUCCESS);
		before = count_byte(b.buf, len, 0xab);
		r = side_result(&a);
		usleep(20 * 1000);
		after = count_byte(b.buf, len, 0xab);
		CHECK(after == before,
		      "nothing landed after the deregistration (%zu, then %zu bytes)", before,
		      after);
		if (r.status == NDK_STATUS_SUCCESS) {
			CHECK(before == len, "a write that succeeded landed whole (%zu)", before);
		} else {
			CHECK_STATUS(r.status, NDK_STATUS_ACCESS_VIOLATION);
			mid = before != 0;
		}
	}
	printf("# deregistered in the middle of a 16 MiB write %s (try %d)\n",
	       mid ? "seen" : "not seen", tries);
	side_close(&a);
	side_close(&b);
}

/* A flush cancels a large write on its way; the QP's next one waits for nothing. */
static void
test_flush_mid_transfer(void)
{
	const size_t len = 16u << 20;
	struct side a, b;
	struct ndk_sge sge;
	struct ndk_result_ex r;

	if (!pair_open_len(&a, &b, len, NDK_MR_FLAG_ALLOW_REMOTE_WRITE)) {
		CHECK(0, "setup");
		return;
	}
	sge = (struct ndk_sge){ .virtual_address = a.buf,
				.length = (uint32_t)len,
				.memory_region_token = a.token };
	CHECK_STATUS(ndk_qp_write(a.qp, NULL, &sge, 1, (uintptr_t)b.buf, b.rtoken, 0),
		     NDK_STATUS_SUCCESS);
	CHECK_STATUS(ndk_qp_write(a.qp, NULL, &sge, 1, (uintptr_t)b.buf, b.rtoken, 0),
		     NDK_STATUS_SUCCESS);
	ndk_qp_flush(a.qp);
	r = side_result(&a);
	CHECK(r.status == NDK_STATUS_SUCCESS || r.status == NDK_STATUS_CANCELLED,
	      "the first: done or cancelled (%s)", ndk_status_str(r.status));
	r = side_result(&a);
	CHECK_STATUS(r.status, NDK_STATUS_CANCELLED);
	side_close(&a);
	side_close(&b);
}

static void
test_peer_killed_mid_transfer(void)
{
	int up[2], down[2];
	struct side a;
	struct hello peer;
	struct ndk_result_ex r;
	pid_t pid;
	int n, errors = 0;

	pid = peer_start(passive_child, up, down, &a, BIG, NDK_MR_FLAG_ALLOW_LOCAL_WRITE, &peer);
	CHECK(read(up[0], &peer, sizeof(peer)) == sizeof(peer), "peer connected");
	/* 1 MiB writes back to back; the peer dies in the middle of them */
	for (n = 0; n < 2000 && errors == 0; n++) {
		if (n == 20)
			kill(pid, SIGKILL);
		r = side_rdma(&a, true, 0, 1 << 20, a.token, peer.addr, peer.token);
		if (r.status != NDK_STATUS_SUCCESS)
			errors++;
	}
	CHECK(errors == 1, "a write failed once the peer was gone (after %d)", n);
	CHECK(r.status == NDK_STATUS_CONNECTION_DISCONNECTED ||
		      r.status == NDK_STATUS_ACCESS_VIOLATION,
	      "with %s", ndk_status_str(r.status));
	r = side_rdma(&a, true, 0, 8, a.token, peer.addr, peer.token);
	CHECK_STATUS(r.status, NDK_STATUS_CANCELLED);
	waitpid(pid, NULL, 0);
	side_close(&a);
	/* every client of this test is gone: nothing of theirs may be left */
	CHECK(tel_wait_u64(&d, "clients_attached", 0, 3000) == 0, "all detached");
	CHECK(tel_wait_u64(&d, "mr_entries_in_use", 0, 3000) == 0, "nothing left behind");
	CHECK(tdaemon_alive(&d), "daemon fine");
	close(up[0]);
	close(down[1]);
}

/* Child: echo every message it receives back to its sender, until a 0-byte one. */
static int
echo_child(int to_parent, int from_parent)
{
	struct side b;
	struct hello h, peer;
	struct ndk_sge sge;
	struct ndk_result_ex r;

	if (!side_open(&b, d.sock, BIG, NDK_MR_FLAG_ALLOW_LOCAL_WRITE))
		return 10;
	h = (struct hello){ side_qpn(&b), 0, 0 };
	if (write(to_parent, &h, sizeof(h)) != sizeof(h) ||
	    read(from_parent, &peer, sizeof(peer)) != sizeof(peer))
		return 11;
	if (side_connect(&b, peer.qpn) != NDK_STATUS_SUCCESS)
		return 11;
	sge = (struct ndk_sge){ .virtual_address = b.buf,
				.length = BIG,
				.memory_region_token = b.token };
	for (;;) {
		if (ndk_qp_receive(b.qp, &b, &sge, 1) != NDK_STATUS_SUCCESS)
			return 12;
		if (write(to_parent, &h, sizeof(h)) != sizeof(h)) /* "receive posted" */
			return 13;
		r = side_result(&b);
		if (r.status != NDK_STATUS_SUCCESS || r.type != NDK_OP_TYPE_RECEIVE)
			return 14;
		if (r.bytes_transferred == 0)
			break;
		sge.length = r.bytes_transferred;
		if (ndk_qp_send(b.qp, NULL, &sge, 1, 0) != NDK_STATUS_SUCCESS)
			return 15;
		r = side_result(&b);
		if (r.status != NDK_STATUS_SUCCESS || r.type != NDK_OP_TYPE_SEND)
			return 16;
		sge.length = BIG;
	}
	side_close(&b);
	return 0;
}

static void
test_send_receive_ping_pong(void)
{
	static const uint32_t sizes[] = { 1, 64, 4095, 4096, 65537, 1 << 20, BIG, 0 };
	int up[2], down[2], st;
	struct side a;
	struct hello peer;
	pid_t pid;
	size_t k;

	pid = peer_start(echo_child, up, down, &a, 2 * BIG, NDK_MR_FLAG_ALLOW_LOCAL_WRITE, &peer);
	for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		uint32_t size = sizes[k];
		struct ndk_sge out = { .virtual_address = a.buf,
				       .length = size,
				       .memory_region_token = a.token };
		struct ndk_sge in = { .virtual_address = a.buf + BIG,
				      .length = BIG,
				      .memory_region_token = a.token };
		struct ndk_result_ex r1, r2;
		uint64_t i, bad = 0;

		for (i = 0; i < size; i++)
			a.buf[i] = pattern(i, size);
		memset(a.buf + BIG, 0, size + 1);
		CHECK(read(up[0], &peer, sizeof(peer)) == sizeof(peer), "peer's receive posted");
		if (size != 0)
			CHECK_STATUS(ndk_qp_receive(a.qp, &in, &in, 1), NDK_STATUS_SUCCESS);
		CHECK_STATUS(ndk_qp_send(a.qp, &out, &out, 1, 0), NDK_STATUS_SUCCESS);
		if (size == 0)
			break;
		/* the send's and the echo's results, in either order */
		r1 = side_result(&a);
		r2 = side_result(&a);
		if (r1.type == NDK_OP_TYPE_RECEIVE) {
			struct ndk_result_ex t = r1;

			r1 = r2;
			r2 = t;
		}
		CHECK(r1.status == NDK_STATUS_SUCCESS && r1.type == NDK_OP_TYPE_SEND &&
			      r1.bytes_transferred == size,
		      "send %u: %s", size, ndk_status_str(r1.status));
		CHECK(r2.status == NDK_STATUS_SUCCESS && r2.type == NDK_OP_TYPE_RECEIVE &&
			      r2.bytes_transferred == size && r2.request_context == &in,
		      "echo of %u: %s, %u bytes", size, ndk_status_str(r2.status),
		      r2.bytes_transferred);
		for (i = 0; i < size; i++)
			bad += a.buf[BIG + i] != pattern(i, size);
		CHECK(bad == 0 && a.buf[BIG + size] == 0, "echo of %u intact (%llu wrong)", size,
		      (unsigned long long)bad);
	}
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "echo exit %d", WEXITSTATUS(st));
	side_close(&a);
	close(up[0]);
	close(down[1]);
}

/*
 * A send waiting for its receiver, and requests queued behind it: flush and
 * close complete every one of them (CANCELLED), as NDK says they do.
 */
static void
test_flush_and_close_complete_waiting_sends(void)
{
	struct side a, b;
	struct ndk_sge out;
	struct ndk_result_ex r;
	int i;

	CHECK(pair_open(&a, &b, NDK_MR_FLAG_ALLOW_REMOTE_WRITE), "pair");
	out = (struct ndk_sge){ .virtual_address = a.buf,
				.length = 100,
				.memory_region_token = a.token };
	CHECK_STATUS(ndk_qp_send(a.qp, (void *)1, &out, 1, 0), NDK_STATUS_SUCCESS);
	CHECK_STATUS(ndk_qp_write(a.qp, (void *)2, &out, 1, (uintptr_t)b.buf, b.rtoken, 0),
		     NDK_STATUS_SUCCESS);
	for (i = 0; i < 20000; i++)
		ndk_adapter_progress(a.ad, 0);
	CHECK(ndk_cq_get_results_ex(a.cq, &r, 1) == 0, "the send waits, and the write behind it");
	ndk_qp_flush(a.qp);
	r = side_result(&a);
	CHECK(r.status == NDK_STATUS_CANCELLED && r.request_context == (void *)1 &&
		      r.type == NDK_OP_TYPE_SEND,
	      "flush: the waiting send completes CANCELLED (%s)", ndk_status_str(r.status));
	r = side_result(&a);
	CHECK(r.status == NDK_STATUS_CANCELLED && r.request_context == (void *)2,
	      "then the write behind it (%s)", ndk_status_str(r.status));

	/* close instead of flush: the same, before the close completes */
	CHECK(pair_reset(&a, &b), "reset");
	CHECK_STATUS(ndk_qp_send(a.qp, (void *)3, &out, 1, 0), NDK_STATUS_SUCCESS);
	CHECK_STATUS(ndk_qp_write(a.qp, (void *)4, &out, 1, (uintptr_t)b.buf, b.rtoken, 0),
		     NDK_STATUS_SUCCESS);
	for (i = 0; i < 20000; i++)
		ndk_adapter_progress(a.ad, 0);
	CHECK_STATUS(sync_close_qp(a.ad, a.qp), NDK_STATUS_SUCCESS);
	a.qp = NULL;
	CHECK(ndk_cq_get_results_ex(a.cq, &r, 1) == 1 && r.status == NDK_STATUS_CANCELLED &&
		      r.request_context == (void *)3,
	      "close: the waiting send completed CANCELLED (%s)", ndk_status_str(r.status));
	CHECK(ndk_cq_get_results_ex(a.cq, &r, 1) == 1 && r.status == NDK_STATUS_CANCELLED &&
		      r.request_context == (void *)4,
	      "and the write behind it");
	/* the receiver never got a receive posted: nothing reached it, nothing is stuck */
	CHECK(ndk_cq_get_results_ex(b.cq, &r, 1) == 0, "nothing at the receiver");
	side_close(&a);
	side_close(&b);
}

static void
test_send_receive_rules(void)
{
	struct side a, b;
	struct ndk_sge out, in;
	struct ndk_result_ex r;
	struct ndk_mr *fr = NULL;
	ndk_logical_address page;
	uint32_t token;
	int i;

	CHECK(pair_open(&a, &b, NDK_MR_FLAG_ALLOW_LOCAL_WRITE), "pair");
	out = (struct ndk_sge){ .virtual_address = a.buf,
				.length = 100,
				.memory_region_token = a.token };
	in = (struct ndk_sge){ .virtual_address = b.buf,
			       .length = 4096,
			       .memory_region_token = b.token };

	/* receiver not ready: the send waits, and completes once a receive is posted */
	memset(a.buf, 0x5a, 100);
	CHECK_STATUS(ndk_qp_send(a.qp, NULL, &out, 1, 0), NDK_STATUS_SUCCESS);
	for (i = 0; i < 20000; i++)
		ndk_adapter_progress(a.ad, 0);
	CHECK(ndk_cq_get_results_ex(a.cq, &r, 1) == 0, "no send result before a receive");
	CHECK_STATUS(ndk_qp_receive(b.qp, NULL, &in, 1), NDK_STATUS_SUCCESS);
	r = side_result(&b);
	CHECK(r.status == NDK_STATUS_SUCCESS && r.bytes_transferred == 100 && b.buf[99] == 0x5a,
	      "received after the wait");
	r = side_result(&a);
	CHECK(r.status == NDK_STATUS_SUCCESS && r.type == NDK_OP_TYPE_SEND, "send done");

	/* a receive too small: both sides see the error */
	in.length = 10;
	CHECK_STATUS(ndk_qp_receive(b.qp, NULL, &in, 1), NDK_STATUS_SUCCESS);
	CHECK_STATUS(ndk_qp_send(a.qp, NULL, &out, 1, 0), NDK_STATUS_SUCCESS);
	CHECK_STATUS(side_result(&b).status, NDK_STATUS_BUFFER_TOO_SMALL);
	CHECK_STATUS(side_result(&a).status, NDK_STATUS_BUFFER_TOO_SMALL);
	in.length = 4096;

	/* send with invalidate: the receiver's fast-registered MR stops working */
	CHECK(pair_reset(&a, &b), "reset");
	CHECK_STATUS(sync_mr(b.ad, b.pd, true, &fr), NDK_STATUS_SUCCESS);
	CHECK_STATUS(sync_init_fr(b.ad, fr, 1, true), NDK_STATUS_SUCCESS);
	page = (uintptr_t)b.buf + 4096;
	CHECK_STATUS(ndk_qp_fast_register(b.qp, NULL, fr, 1, &page, 0, 4096,
					  (void *)0xb000000000ull, NDK_OP_FLAG_ALLOW_REMOTE_WRITE),
		     NDK_STATUS_SUCCESS);
	CHECK_STATUS(side_result(&b).status, NDK_STATUS_SUCCESS);
	token = ndk_mr_get_remote_token(fr);
	CHECK_STATUS(side_rdma(&a, true, 0, 8, a.token, 0xb000000000ull, token).status,
		     NDK_STATUS_SUCCESS);
	CHECK_STATUS(ndk_qp_receive(b.qp, NULL, &in, 1), NDK_STATUS_SUCCESS);
	CHECK_STATUS(a.qp->dispatch->send_and_invalidate(a.qp, NULL, &out, 1, 0, token),
		     NDK_STATUS_SUCCESS);
	r = side_result(&b);
	CHECK(r.status == NDK_STATUS_SUCCESS && r.type == NDK_OP_TYPE_RECEIVE_AND_INVALIDATE &&
		      r.type_specific_completion_output == token,
	      "receive-and-invalidate names the token (%s, type %#x)", ndk_status_str(r.status),
	      r.type);
	CHECK_STATUS(side_result(&a).status, NDK_STATUS_SUCCESS);
	expect_refused_then_flushed(&a, side_rdma(&a, true, 0, 8, a.token, 0xb000000000ull, token),
				    "write after remote invalidate");

	/* flush: posted receives complete CANCELLED */
	CHECK(pair_reset(&a, &b), "reset");
	CHECK_STATUS(ndk_qp_receive(b.qp, (void *)1, &in, 1), NDK_STATUS_SUCCESS);
	CHECK_STATUS(ndk_qp_receive(b.qp, (void *)2, &in, 1), NDK_STATUS_SUCCESS);
	ndk_qp_flush(b.qp);
	r = side_result(&b);
	CHECK(r.status == NDK_STATUS_CANCELLED && r.request_context == (void *)1, "first flushed");
	r = side_result(&b);
	CHECK(r.status == NDK_STATUS_CANCELLED && r.request_context == (void *)2, "second flushed");
	CHECK_STATUS(sync_close_mr(b.ad, fr), NDK_STATUS_SUCCESS);
	side_close(&a);
	side_close(&b);
}

/* Child: connect, then write into the parent's buffer until killed. */
static int
writer_child(int to_parent, int from_parent)
{
	struct side b;
	struct hello h, peer;

	if (!side_open(&b, d.sock, 1 << 20, NDK_MR_FLAG_ALLOW_LOCAL_WRITE))
		return 10;
	h = (struct hello){ side_qpn(&b), 0, 0 };
	if (write(to_parent, &h, sizeof(h)) != sizeof(h) ||
	    read(from_parent, &peer, sizeof(peer)) != sizeof(peer) ||
	    side_connect(&b, peer.qpn) != NDK_STATUS_SUCCESS)
		return 11;
	if (write(to_parent, &h, sizeof(h)) != sizeof(h))
		return 12;
	for (;;)
		side_rdma(&b, true, 0, 1 << 20, b.token, peer.addr, peer.token);
}

static void
test_initiator_killed_mid_transfer(void)
{
	uint64_t clean;
	int up[2], down[2];
	struct side a;
	struct hello peer;
	struct ndk_result_ex r;
	pid_t pid;

	/* the clients of the tests before have all gone: only the writer's cleanup counts below */
	CHECK(tel_settle(&d, 0, 3000), "earlier clients cleaned up");
	clean = tel_status_u64(&d, "clients_cleaned_up");
	pid = peer_start(writer_child, up, down, &a, 1 << 20, RW, &peer);
	CHECK(read(up[0], &peer, sizeof(peer)) == sizeof(peer), "peer writing");
	usleep(20000); /* let it write for a while */
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	CHECK(tel_wait_u64(&d, "clients_cleaned_up", clean + 1, 3000) == clean + 1,
	      "the writer was cleaned up");
	/* the passive side learns when it next talks to its peer: error, then flushed */
	r = side_rdma(&a, true, 0, 8, a.token, 0x1000, 1);
	CHECK_STATUS(r.status, NDK_STATUS_CONNECTION_DISCONNECTED);
	r = side_rdma(&a, true, 0, 8, a.token, 0x1000, 1);
	CHECK_STATUS(r.status, NDK_STATUS_CANCELLED);
	side_close(&a);
	CHECK(tel_wait_u64(&d, "clients_attached", 0, 3000) == 0, "all detached");
	CHECK(tel_wait_u64(&d, "mr_entries_in_use", 0, 3000) == 0, "nothing left behind");
	close(up[0]);
	close(down[1]);
}

static void
test_inline(void)
{
	struct side a, b;
	struct ndk_result_ex r;
	char stack[80];
	struct ndk_sge sge = { .virtual_address = stack, .length = 40 };
	struct ndk_sge in;

	CHECK(pair_open(&a, &b, NDK_MR_FLAG_ALLOW_REMOTE_WRITE), "pair");
	/* stack memory, no token: the bytes go with the request */
	memset(stack, 'w', sizeof(stack));
	CHECK_STATUS(
		ndk_qp_write(a.qp, NULL, &sge, 1, (uintptr_t)b.buf, b.rtoken, NDK_OP_FLAG_INLINE),
		NDK_STATUS_SUCCESS);
	memset(stack, 'X', sizeof(stack)); /* reused at once */
	r = side_result(&a);
	CHECK(r.status == NDK_STATUS_SUCCESS && r.bytes_transferred == 40, "inline write: %s",
	      ndk_status_str(r.status));
	CHECK(b.buf[0] == 'w' && b.buf[39] == 'w' && b.buf[40] == 0, "the bytes at post time");

	in = (struct ndk_sge){ .virtual_address = b.buf + 100,
			       .length = 100,
			       .memory_region_token = b.token };
	CHECK_STATUS(ndk_qp_receive(b.qp, NULL, &in, 1), NDK_STATUS_SUCCESS);
	memset(stack, 's', sizeof(stack));
	CHECK_STATUS(ndk_qp_send(a.qp, NULL, &sge, 1, NDK_OP_FLAG_INLINE), NDK_STATUS_SUCCESS);
	memset(stack, 'X', sizeof(stack));
	r = side_result(&b);
	CHECK(r.status == NDK_STATUS_SUCCESS && r.bytes_transferred == 40 && b.buf[100] == 's' &&
		      b.buf[139] == 's',
	      "inline send received: %s", ndk_status_str(r.status));
	CHECK_STATUS(side_result(&a).status, NDK_STATUS_SUCCESS);

	/* more than the QP's inline size, or a read: refused at post */
	sge.length = 65;
	CHECK_STATUS(
		ndk_qp_write(a.qp, NULL, &sge, 1, (uintptr_t)b.buf, b.rtoken, NDK_OP_FLAG_INLINE),
		NDK_STATUS_INVALID_PARAMETER);
	sge.length = 8;
	CHECK_STATUS(
		ndk_qp_read(a.qp, NULL, &sge, 1, (uintptr_t)b.buf, b.rtoken, NDK_OP_FLAG_INLINE),
		NDK_STATUS_INVALID_PARAMETER);
	side_close(&a);
	side_close(&b);
}

static bool
fd_readable(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, timeout_ms) == 1;
}

static void
test_cq_arm_and_notify(void)
{
	struct side a, b;
	struct ndk_result_ex r;
	uint64_t t0, wake[20];
	int fd, i;

	CHECK(pair_open(&a, &b, NDK_MR_FLAG_ALLOW_REMOTE_WRITE), "pair");
	fd = ndk_adapter_event_fd(a.ad);
	CHECK(fd >= 0, "an event fd");
	CHECK(ndk_adapter_event_fd(a.ad) == fd, "the same one every time");

	/* armed, nothing done: nothing to wake for */
	ndk_cq_arm(a.cq, NDK_CQ_NOTIFY_ANY);
	CHECK(!fd_readable(fd, 50), "quiet while nothing completes");
	ndk_adapter_progress(a.ad, 0);
	CHECK(a.notified == 0, "no notification");

	/* a write completes: the fd wakes, progress runs the notification once */
	for (i = 0; i < 20; i++) {
		struct ndk_sge sge = { .virtual_address = a.buf,
				       .length = 8,
				       .memory_region_token = a.token };

		if (i > 0)
			ndk_cq_arm(a.cq, NDK_CQ_NOTIFY_ANY);
		t0 = t_now_ns();
		CHECK_STATUS(ndk_qp_write(a.qp, NULL, &sge, 1, (uintptr_t)b.buf, b.rtoken, 0),
			     NDK_STATUS_SUCCESS);
		CHECK(fd_readable(fd, 2000), "the event fd woke (%d)", i);
		wake[i] = t_now_ns() - t0;
		ndk_adapter_progress(a.ad, 0);
		CHECK(a.notified == i + 1, "notification %d ran (%d)", i, a.notified);
		CHECK(ndk_cq_get_results_ex(a.cq, &r, 1) == 1 && r.status == NDK_STATUS_SUCCESS,
		      "and the result is there");
	}
	{
		uint64_t sorted[20];

		memcpy(sorted, wake, sizeof(wake));
		for (i = 0; i < 20; i++)
			for (int j = i + 1; j < 20; j++)
				if (sorted[j] < sorted[i]) {
					uint64_t t = sorted[i];

					sorted[i] = sorted[j];
					sorted[j] = t;
				}
		printf("  post to eventfd wake-up, blocked in poll(): median %llu ns\n",
		       (unsigned long long)sorted[10]);
	}

	/* armed with a result already waiting: notified at the next progress, no lost wake-up */
	{
		struct ndk_sge sge = { .virtual_address = a.buf,
				       .length = 8,
				       .memory_region_token = a.token };

		CHECK_STATUS(ndk_qp_write(a.qp, NULL, &sge, 1, (uintptr_t)b.buf, b.rtoken, 0),
			     NDK_STATUS_SUCCESS);
		/* the result lands before the CQ is armed */
		usleep(2000);
		ndk_cq_arm(a.cq, NDK_CQ_NOTIFY_ANY);
		/* an app that sleeps on the fd right after arming must wake */
		CHECK(fd_readable(fd, 1000), "armed late: the event fd is readable at once");
		ndk_adapter_progress(a.ad, 0);
		CHECK(a.notified == 21, "armed late, still notified (%d)", a.notified);
		CHECK(!fd_readable(fd, 0), "and quiet once progress ran it");
		/* the result taken before the notification ran, as a polling loop does */
		CHECK(ndk_cq_get_results_ex(a.cq, &r, 1) == 1, "its result");
		CHECK_STATUS(ndk_qp_write(a.qp, NULL, &sge, 1, (uintptr_t)b.buf, b.rtoken, 0),
			     NDK_STATUS_SUCCESS);
		usleep(2000);
		ndk_cq_arm(a.cq, NDK_CQ_NOTIFY_ANY);
		/* (had it come after the arm, ndkd kicked: the fd is readable either way) */
		for (i = 0; i < 1000 && ndk_cq_get_results_ex(a.cq, &r, 1) == 0; i++)
			usleep(1000);
		CHECK(i < 1000, "its result taken after arming, before progress");
		ndk_cq_arm(a.cq, NDK_CQ_NOTIFY_ANY); /* again, before progress ran */
		CHECK(fd_readable(fd, 1000), "the fd wakes for the notification still owed");
		ndk_adapter_progress(a.ad, 0);
		CHECK(a.notified == 22, "which progress runs (%d)", a.notified);
		ndk_cq_arm(a.cq, NDK_CQ_NOTIFY_ANY);
		CHECK_STATUS(ndk_qp_write(a.qp, NULL, &sge, 1, (uintptr_t)b.buf, b.rtoken, 0),
			     NDK_STATUS_SUCCESS);
		CHECK(fd_readable(fd, 2000), "armed anew, the next result wakes the fd");
		ndk_adapter_progress(a.ad, 0);
		CHECK(a.notified == 23 && ndk_cq_get_results_ex(a.cq, &r, 1) == 1,
		      "notified, and the result is there (%d)", a.notified);
	}
	side_close(&a);
	side_close(&b);
}

int
main(void)
{
	if (tdaemon_start(&d, "rdma", NULL) != 0)
		return 1;
	RUN(test_write_read_two_processes);
	RUN(test_send_receive_ping_pong);
	RUN(test_send_receive_rules);
	RUN(test_flush_and_close_complete_waiting_sends);
	RUN(test_cq_arm_and_notify);
	RUN(test_inline);
	RUN(test_access_checks);
	RUN(test_fast_register_ordering);
	RUN(test_fast_register_token_at_post);
	RUN(test_fast_register_result_after_close);
	RUN(test_read_local_invalidate);
	RUN(test_fast_register_two_regions);
	RUN(test_deregistered_mid_transfer);
	RUN(test_flush_mid_transfer);
	RUN(test_peer_killed_mid_transfer);
	RUN(test_initiator_killed_mid_transfer);
	CHECK(tel_wait_u64(&d, "mr_entries_in_use", 0, 3000) == 0, "MR table empty at the end");
	CHECK(tdaemon_stop(&d) == 0, "ndkd exits 0 on SIGTERM");
	return t_done();
}
