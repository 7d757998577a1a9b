/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Memory windows: create on a PD, bind to a range of an MR (token known at
 * the call), remote access through the window checked as for MRs (range,
 * read/write), invalidate, bind again, and the window dying with its MR.
 */
#include <string.h>

#include "rdma_util.h"

static struct tdaemon d;

static ndk_status
sync_mw(struct ndk_adapter *ad, struct ndk_pd *pd, struct ndk_mw **mw)
{
	struct wait w = { 0 };
	ndk_status st = w_finish(ad, &w, ndk_mw_create(pd, w_create, &w, mw));

	if (st == NDK_STATUS_SUCCESS)
		*mw = (struct ndk_mw *)w.obj;
	return st;
}

static ndk_status
sync_close_mw(struct ndk_adapter *ad, struct ndk_mw *mw)
{
	struct wait w = { 0 };

	return sync_closed(ad, &w, ndk_mw_close(mw, w_close, &w));
}

/* a writes 8 bytes at b's address va through token; the result's status */
static ndk_status
write_at(struct side *a, uint64_t va, uint32_t token)
{
	return side_rdma(a, true, 0, 8, a->token, va, token).status;
}

static void
test_bind_and_access(void)
{
	struct side a, b;
	struct ndk_mw *mw = NULL;
	struct ndk_result_ex r;
	uint64_t base;
	uint32_t t0, t1, t2;

	CHECK(side_open(&a, d.sock, 1 << 16, NDK_MR_FLAG_ALLOW_LOCAL_WRITE), "a");
	/* b's MR: local write only, no remote access of its own */
	CHECK(side_open(&b, d.sock, 1 << 16, NDK_MR_FLAG_ALLOW_LOCAL_WRITE), "b");
	CHECK_STATUS(side_connect(&a, side_qpn(&b)), NDK_STATUS_SUCCESS);
	CHECK_STATUS(side_connect(&b, side_qpn(&a)), NDK_STATUS_SUCCESS);
	base = (uintptr_t)b.buf;
	CHECK_STATUS(write_at(&a, base, b.rtoken), NDK_STATUS_ACCESS_VIOLATION);
	CHECK(pair_reset(&a, &b), "reset");

	CHECK_STATUS(sync_mw(b.ad, b.pd, &mw), NDK_STATUS_SUCCESS);
	t0 = ndk_mw_get_remote_token(mw);
	CHECK_STATUS(ndk_qp_bind(b.qp, (void *)5, b.mr, mw, b.buf + 4096, 8192,
				 NDK_OP_FLAG_ALLOW_REMOTE_WRITE),
		     NDK_STATUS_SUCCESS);
	t1 = ndk_mw_get_remote_token(mw);
	CHECK(t1 != 0 && t1 != t0 && (t1 >> 8) == (t0 >> 8), "a new token at once");
	r = side_result(&b);
	CHECK(r.status == NDK_STATUS_SUCCESS && r.type == NDK_OP_TYPE_BIND &&
		      r.request_context == (void *)5 && r.type_specific_completion_output == t1,
	      "bind result (%s, type %u)", ndk_status_str(r.status), r.type);
	memset(a.buf, 0x33, 8);
	CHECK_STATUS(write_at(&a, base + 4096, t1), NDK_STATUS_SUCCESS);
	CHECK(b.buf[4096] == 0x33 && b.buf[4096 + 7] == 0x33, "the write landed in the window");
	CHECK_STATUS(write_at(&a, base + 4096 + 8192 - 8, t1), NDK_STATUS_SUCCESS);
	CHECK_STATUS(write_at(&a, base + 4096 + 8192 - 4, t1), NDK_STATUS_ACCESS_VIOLATION);
	CHECK(pair_reset(&a, &b), "reset");
	CHECK_STATUS(write_at(&a, base + 4000, t1), NDK_STATUS_ACCESS_VIOLATION);
	CHECK(pair_reset(&a, &b), "reset");
	/* write-only window: a read through it is refused */
	CHECK_STATUS(side_rdma(&a, false, 0, 8, a.token, base + 4096, t1).status,
		     NDK_STATUS_ACCESS_VIOLATION);
	CHECK(pair_reset(&a, &b), "reset");

	/* invalidate: dead; bind again (read only): the new token reads, the old one is dead */
	CHECK_STATUS(ndk_qp_invalidate_mw(b.qp, NULL, mw, 0), NDK_STATUS_SUCCESS);
	CHECK_STATUS(side_result(&b).status, NDK_STATUS_SUCCESS);
	CHECK_STATUS(write_at(&a, base + 4096, t1), NDK_STATUS_ACCESS_VIOLATION);
	CHECK(pair_reset(&a, &b), "reset");
	CHECK_STATUS(ndk_qp_bind(b.qp, NULL, b.mr, mw, b.buf, 4096, NDK_OP_FLAG_ALLOW_REMOTE_READ),
		     NDK_STATUS_SUCCESS);
	t2 = ndk_mw_get_remote_token(mw);
	CHECK_STATUS(side_result(&b).status, NDK_STATUS_SUCCESS);
	CHECK_STATUS(side_rdma(&a, false, 0, 8, a.token, base, t2).status, NDK_STATUS_SUCCESS);
	CHECK_STATUS(write_at(&a, base, t2), NDK_STATUS_ACCESS_VIOLATION);
	CHECK(pair_reset(&a, &b), "reset");
	CHECK_STATUS(side_rdma(&a, false, 0, 8, a.token, base, t1).status,
		     NDK_STATUS_ACCESS_VIOLATION);
	CHECK(pair_reset(&a, &b), "reset");

	/* the window dies with its MR's registration, and stays dead after a new one */
	CHECK_STATUS(sync_deregister(b.ad, b.mr), NDK_STATUS_SUCCESS);
	CHECK_STATUS(side_rdma(&a, false, 0, 8, a.token, base, t2).status,
		     NDK_STATUS_ACCESS_VIOLATION);
	CHECK(pair_reset(&a, &b), "reset");
	CHECK_STATUS(sync_register(b.ad, b.mr, b.buf, 1 << 16, NDK_MR_FLAG_ALLOW_LOCAL_WRITE),
		     NDK_STATUS_SUCCESS);
	CHECK_STATUS(side_rdma(&a, false, 0, 8, a.token, base, t2).status,
		     NDK_STATUS_ACCESS_VIOLATION);
	CHECK_STATUS(sync_close_mw(b.ad, mw), NDK_STATUS_SUCCESS);
	side_close(&a);
	side_close(&b);
}

static void
test_bind_refusals(void)
{
	struct side a, b;
	struct ndk_mw *mw = NULL;
	struct ndk_mr *ro = NULL;
	struct wait w = { 0 };

	CHECK(side_open(&a, d.sock, 1 << 16, NDK_MR_FLAG_ALLOW_LOCAL_WRITE), "a");
	CHECK(side_open(&b, d.sock, 1 << 16, NDK_MR_FLAG_ALLOW_LOCAL_WRITE), "b");
	CHECK_STATUS(sync_mw(b.ad, b.pd, &mw), NDK_STATUS_SUCCESS);
	/* not connected yet: the call itself says so */
	CHECK_STATUS(ndk_qp_bind(b.qp, NULL, b.mr, mw, b.buf, 4096, NDK_OP_FLAG_ALLOW_REMOTE_READ),
		     NDK_STATUS_CONNECTION_INVALID);
	CHECK_STATUS(side_connect(&a, side_qpn(&b)), NDK_STATUS_SUCCESS);
	CHECK_STATUS(side_connect(&b, side_qpn(&a)), NDK_STATUS_SUCCESS);
	CHECK_STATUS(ndk_qp_bind(b.qp, NULL, b.mr, mw, b.buf, 4096, NDK_OP_FLAG_INLINE),
		     NDK_STATUS_INVALID_PARAMETER);
	/* outside the MR: refused by ndkd, the QP goes to error */
	CHECK_STATUS(ndk_qp_bind(b.qp, NULL, b.mr, mw, b.buf + 4096, 1 << 16,
				 NDK_OP_FLAG_ALLOW_REMOTE_READ),
		     NDK_STATUS_SUCCESS);
	CHECK_STATUS(side_result(&b).status, NDK_STATUS_INVALID_PARAMETER);
	CHECK(pair_reset(&a, &b), "reset");
	/* write access on an MR registered without local write: ACCESS_VIOLATION */
	CHECK_STATUS(sync_mr(b.ad, b.pd, false, &ro), NDK_STATUS_SUCCESS);
	CHECK_STATUS(sync_register(b.ad, ro, b.buf + 8192, 4096, NDK_MR_FLAG_ALLOW_REMOTE_READ),
		     NDK_STATUS_SUCCESS);
	CHECK_STATUS(
		ndk_qp_bind(b.qp, NULL, ro, mw, b.buf + 8192, 4096, NDK_OP_FLAG_ALLOW_REMOTE_WRITE),
		NDK_STATUS_SUCCESS);
	CHECK_STATUS(side_result(&b).status, NDK_STATUS_ACCESS_VIOLATION);
	/* a PD closes after its windows */
	CHECK_STATUS(sync_close_mr(b.ad, ro), NDK_STATUS_SUCCESS);
	CHECK_STATUS(sync_close_mw(b.ad, mw), NDK_STATUS_SUCCESS);
	(void)w;
	side_close(&a);
	side_close(&b);
}

int
main(void)
{
	if (tdaemon_start(&d, "mw", NULL) != 0)
		return 1;
	RUN(test_bind_and_access);
	RUN(test_bind_refusals);
	CHECK(tel_wait_u64(&d, "mr_entries_in_use", 0, 3000) == 0, "MR table empty at the end");
	CHECK(tdaemon_stop(&d) == 0, "ndkd exits 0 on SIGTERM");
	return t_done();
}
