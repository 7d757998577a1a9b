/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Shared receive queues: one pool of receives feeding several QPs in posting
 * order (each result on the QP that took it), the depth limit, the notify
 * threshold (create's, modify's, once per arming, and DEVICE_REMOVED when
 * ndkd dies), a QP's error leaving the shared receives alone, close order
 * (QPs, then the SRQ, then the PD), and the refusals.
 */
#include <unistd.h>
#include <string.h>

#include "rdma_util.h"

static struct tdaemon d;

struct notes {
	int calls;
	ndk_status status;
};

static void
on_srq_note(void *ctx, ndk_status st)
{
	struct notes *n = ctx;

	n->calls++;
	n->status = st;
}

static ndk_status
sync_srq(struct side *s, uint32_t depth, uint32_t sge, uint32_t threshold, struct notes *n,
	 struct ndk_srq **srq)
{
	struct wait w = { 0 };
	ndk_status st =
		w_finish(s->ad, &w,
			 ndk_srq_create(s->pd, depth, sge, threshold,
					n != NULL ? on_srq_note : NULL, n, w_create, &w, srq));

	if (st == NDK_STATUS_SUCCESS)
		*srq = (struct ndk_srq *)w.obj;
	return st;
}

static ndk_status
srq_qp(struct side *s, struct ndk_srq *srq, void *ctx, struct ndk_qp **qp)
{
	struct ndk_qp_opts o;
	struct wait w = { 0 };
	ndk_status st;

	ndk_qp_opts_init(&o, sizeof(o));
	o.receive_cq = s->cq;
	o.initiator_cq = s->cq;
	o.qp_context = ctx;
	o.srq = srq;
	st = w_finish(s->ad, &w, ndk_qp_create_with_opts(s->pd, &o, w_create, &w, qp));
	if (st == NDK_STATUS_SUCCESS)
		*qp = (struct ndk_qp *)w.obj;
	return st;
}

static ndk_status
srq_modify(struct side *s, struct ndk_srq *srq, uint32_t depth, uint32_t threshold)
{
	struct wait w = { 0 };

	return w_finish(s->ad, &w, ndk_srq_modify(srq, depth, threshold, w_req, &w));
}

/* a and the QP q of b name each other */
static bool
link_to(struct side *a, struct side *b, struct ndk_qp *q)
{
	return side_connect(a, qp_qpn(q)) == NDK_STATUS_SUCCESS &&
	       qp_connect_to(b->ad, q, side_qpn(a)) == NDK_STATUS_SUCCESS;
}

/* A receive of b's buffer [off, off + len) on the SRQ, with ctx as its context. */
static ndk_status
post_recv(struct side *b, struct ndk_srq *srq, uint32_t off, uint32_t len, uintptr_t ctx)
{
	struct ndk_sge sge = { .logical_address = (uintptr_t)(b->buf + off),
			       .length = len,
			       .memory_region_token = b->token };

	return ndk_srq_receive(srq, (void *)ctx, &sge, 1);
}

/* a sends len bytes of 'byte' and waits for its result; the status */
static ndk_status
send_bytes(struct side *a, uint32_t len, uint8_t byte)
{
	struct ndk_sge sge = { .logical_address = (uintptr_t)a->buf,
			       .length = len,
			       .memory_region_token = a->token };
	ndk_status st;

	memset(a->buf, byte, len);
	st = ndk_qp_send(a->qp, NULL, &sge, 1, 0);
	return st != NDK_STATUS_SUCCESS ? st : side_result(a).status;
}

static void
progress_a_bit(struct side *s)
{
	int i;

	for (i = 0; i < 200; i++)
		ndk_adapter_progress(s->ad, 0);
}

static void
test_shared(void)
{
	struct side a1, a2, b;
	struct ndk_srq *srq = NULL;
	struct ndk_qp *q1 = NULL, *q2 = NULL;
	struct ndk_result_ex r;
	const uint32_t flags = NDK_MR_FLAG_ALLOW_LOCAL_WRITE;
	uint32_t i;

	CHECK(side_open(&a1, d.sock, 4096, flags) && side_open(&a2, d.sock, 4096, flags) &&
		      side_open(&b, d.sock, 4096, flags),
	      "three sides");
	CHECK_STATUS(sync_srq(&b, 8, 2, 0, NULL, &srq), NDK_STATUS_SUCCESS);
	CHECK_STATUS(srq_qp(&b, srq, (void *)0x11, &q1), NDK_STATUS_SUCCESS);
	CHECK_STATUS(srq_qp(&b, srq, (void *)0x22, &q2), NDK_STATUS_SUCCESS);
	if (srq == NULL || q1 == NULL || q2 == NULL)
		return;
	CHECK(link_to(&a1, &b, q1) && link_to(&a2, &b, q2), "connected");
	CHECK_STATUS(ndk_qp_receive(q1, NULL, NULL, 0), NDK_STATUS_INVALID_DEVICE_REQUEST);
	for (i = 0; i < 4; i++)
		CHECK_STATUS(post_recv(&b, srq, i * 256, 256, 100 + i), NDK_STATUS_SUCCESS);

	/* sends on either QP take the SRQ's receives in the order they were posted */
	CHECK_STATUS(send_bytes(&a1, 10, 0xa1), NDK_STATUS_SUCCESS);
	CHECK_STATUS(send_bytes(&a2, 20, 0xa2), NDK_STATUS_SUCCESS);
	CHECK_STATUS(send_bytes(&a1, 30, 0xa3), NDK_STATUS_SUCCESS);
	r = side_result(&b);
	CHECK(r.status == NDK_STATUS_SUCCESS && r.request_context == (void *)100 &&
		      r.qp_context == (void *)0x11 && r.bytes_transferred == 10 &&
		      r.type == NDK_OP_TYPE_RECEIVE,
	      "first receive to q1 (%s, ctx %p, qp %p)", ndk_status_str(r.status),
	      r.request_context, r.qp_context);
	r = side_result(&b);
	CHECK(r.status == NDK_STATUS_SUCCESS && r.request_context == (void *)101 &&
		      r.qp_context == (void *)0x22 && r.bytes_transferred == 20,
	      "second to q2 (ctx %p, qp %p)", r.request_context, r.qp_context);
	r = side_result(&b);
	CHECK(r.status == NDK_STATUS_SUCCESS && r.request_context == (void *)102 &&
		      r.qp_context == (void *)0x11 && r.bytes_transferred == 30,
	      "third to q1 (ctx %p, qp %p)", r.request_context, r.qp_context);
	CHECK(b.buf[0] == 0xa1 && b.buf[9] == 0xa1 && b.buf[10] == 0 && b.buf[256] == 0xa2 &&
		      b.buf[275] == 0xa2 && b.buf[276] == 0 && b.buf[512] == 0xa3 &&
		      b.buf[541] == 0xa3 && b.buf[768] == 0,
	      "each send landed in its receive's buffer, no further");

	/* q1 flushed: its peer's sends fail, but the shared receive stays for q2 */
	ndk_qp_flush(q1);
	progress_a_bit(&b);
	CHECK(ndk_cq_get_results_ex(b.cq, &r, 1) == 0,
	      "a flush cancels none of the SRQ's receives");
	CHECK(send_bytes(&a1, 8, 0xee) != NDK_STATUS_SUCCESS, "a send to a flushed QP fails");
	CHECK_STATUS(send_bytes(&a2, 40, 0xa4), NDK_STATUS_SUCCESS);
	r = side_result(&b);
	CHECK(r.status == NDK_STATUS_SUCCESS && r.request_context == (void *)103 &&
		      r.qp_context == (void *)0x22 && r.bytes_transferred == 40 &&
		      b.buf[768] == 0xa4,
	      "the last receive went to q2 (%s, ctx %p)", ndk_status_str(r.status),
	      r.request_context);

	/* a receive the SRQ cannot use fails the QP that took it, not the SRQ */
	{
		struct ndk_sge bad = { .logical_address = (uintptr_t)b.buf,
				       .length = 64,
				       .memory_region_token = b.token ^ 0x100 };

		CHECK_STATUS(ndk_srq_receive(srq, (void *)200, &bad, 1), NDK_STATUS_SUCCESS);
		CHECK_STATUS(post_recv(&b, srq, 0, 64, 201), NDK_STATUS_SUCCESS);
		CHECK(send_bytes(&a2, 8, 0x55) != NDK_STATUS_SUCCESS, "the send hit a bad receive");
		r = side_result(&b);
		CHECK(r.status == NDK_STATUS_ACCESS_VIOLATION && r.request_context == (void *)200 &&
			      r.qp_context == (void *)0x22,
		      "q2 got the bad receive's error (%s)", ndk_status_str(r.status));
		progress_a_bit(&b);
		CHECK(ndk_cq_get_results_ex(b.cq, &r, 1) == 0,
		      "receive 201 stays queued on the SRQ");
	}
	/* close order: the SRQ waits for its QPs, the PD for the SRQ */
	{
		struct wait wsrq = { 0 }, wpd = { 0 };

		CHECK_STATUS(ndk_srq_close(srq, w_close, &wsrq), NDK_STATUS_PENDING);
		CHECK_STATUS(ndk_pd_close(b.pd, w_close, &wpd), NDK_STATUS_PENDING);
		progress_a_bit(&b);
		CHECK(wsrq.calls == 0 && wpd.calls == 0, "neither closes while a QP uses the SRQ");
		CHECK_STATUS(sync_close_qp(b.ad, q1), NDK_STATUS_SUCCESS);
		CHECK_STATUS(sync_close_qp(b.ad, q2), NDK_STATUS_SUCCESS);
		CHECK(w_wait(b.ad, &wsrq), "the SRQ closed after its QPs");
		/* the PD still has b's own QP and MR */
		CHECK_STATUS(sync_close_qp(b.ad, b.qp), NDK_STATUS_SUCCESS);
		CHECK_STATUS(sync_close_mr(b.ad, b.mr), NDK_STATUS_SUCCESS);
		CHECK(w_wait(b.ad, &wpd), "then the PD");
	}
	side_close(&a1);
	side_close(&a2);
	side_close(&b);
}

static void
test_depth_and_notify(void)
{
	struct side a, b;
	struct ndk_srq *srq = NULL;
	struct ndk_qp *q = NULL;
	struct notes n = { 0 };
	const uint32_t flags = NDK_MR_FLAG_ALLOW_LOCAL_WRITE;
	uint32_t i;

	CHECK(side_open(&a, d.sock, 4096, flags) && side_open(&b, d.sock, 4096, flags), "sides");
	/* depth 5 of 1-SGE receives: a ring of 16 slots, 8 receives */
	CHECK_STATUS(sync_srq(&b, 5, 1, 3, &n, &srq), NDK_STATUS_SUCCESS);
	CHECK_STATUS(srq_qp(&b, srq, NULL, &q), NDK_STATUS_SUCCESS);
	if (srq == NULL || q == NULL)
		return;
	CHECK(link_to(&a, &b, q), "connected");
	progress_a_bit(&b);
	CHECK(n.calls == 0, "an empty new SRQ does not notify by itself");
	for (i = 0; i < 5; i++)
		CHECK_STATUS(post_recv(&b, srq, i * 64, 64, i), NDK_STATUS_SUCCESS);
	CHECK_STATUS(post_recv(&b, srq, 0, 64, 9), NDK_STATUS_INSUFFICIENT_RESOURCES);
	CHECK_STATUS(send_bytes(&a, 4, 1), NDK_STATUS_SUCCESS); /* 4 left */
	CHECK_STATUS(send_bytes(&a, 4, 2), NDK_STATUS_SUCCESS); /* 3 left: not below 3 */
	progress_a_bit(&b);
	CHECK(n.calls == 0, "3 queued is not below a threshold of 3 (%d calls)", n.calls);
	CHECK_STATUS(post_recv(&b, srq, 0, 64, 9), NDK_STATUS_SUCCESS); /* room again */
	CHECK_STATUS(send_bytes(&a, 4, 3), NDK_STATUS_SUCCESS);		/* 3 */
	CHECK_STATUS(send_bytes(&a, 4, 4), NDK_STATUS_SUCCESS);		/* 2: below */
	progress_a_bit(&b);
	CHECK(n.calls == 1 && n.status == NDK_STATUS_SUCCESS, "notified once (%d)", n.calls);
	CHECK_STATUS(send_bytes(&a, 4, 5), NDK_STATUS_SUCCESS); /* 1 */
	progress_a_bit(&b);
	CHECK(n.calls == 1, "and disarmed after (%d)", n.calls);

	/* modify: below the new threshold already notifies at once */
	CHECK_STATUS(srq_modify(&b, srq, 0, 4), NDK_STATUS_SUCCESS);
	progress_a_bit(&b);
	CHECK(n.calls == 2, "modify with 1 queued and a threshold of 4 notifies (%d)", n.calls);
	CHECK_STATUS(srq_modify(&b, srq, 0, 0), NDK_STATUS_SUCCESS);
	progress_a_bit(&b);
	CHECK(n.calls == 2, "a threshold of 0 arms nothing");
	/* depth: within the ring, lower and higher; past it, not supported */
	CHECK_STATUS(srq_modify(&b, srq, 1, 0), NDK_STATUS_SUCCESS);
	CHECK_STATUS(post_recv(&b, srq, 0, 64, 10), NDK_STATUS_INSUFFICIENT_RESOURCES);
	CHECK_STATUS(srq_modify(&b, srq, 8, 0), NDK_STATUS_SUCCESS);
	for (i = 0; i < 7; i++)
		CHECK_STATUS(post_recv(&b, srq, 0, 64, 20 + i), NDK_STATUS_SUCCESS);
	CHECK_STATUS(post_recv(&b, srq, 0, 64, 30), NDK_STATUS_INSUFFICIENT_RESOURCES);
	CHECK_STATUS(ndk_srq_modify(srq, 9, 0, w_req, NULL), NDK_STATUS_NOT_SUPPORTED);
	CHECK_STATUS(ndk_srq_modify(srq, 1u << 20, 0, w_req, NULL), NDK_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(srq->dispatch->get_affinity(srq, NULL), NDK_STATUS_NOT_SUPPORTED);
	/* receives still queued at close are dropped: no result, nothing left in ndkd */
	CHECK_STATUS(sync_close_qp(b.ad, q), NDK_STATUS_SUCCESS);
	{
		struct wait w = { 0 };
		struct ndk_result_ex r;

		for (i = 0; i < 5; i++) {
			r = side_result(&b);
			CHECK(r.status == NDK_STATUS_SUCCESS &&
				      r.request_context == (void *)(uintptr_t)i,
			      "receive %u in posting order (ctx %p)", i, r.request_context);
		}
		CHECK_STATUS(sync_closed(b.ad, &w, ndk_srq_close(srq, w_close, &w)),
			     NDK_STATUS_SUCCESS);
		CHECK(ndk_cq_get_results_ex(b.cq, &r, 1) == 0, "no result for a dropped receive");
	}
	side_close(&a);
	side_close(&b);
}

static void
test_refusals(void)
{
	struct side b;
	struct ndk_adapter_info info;
	uint32_t size = sizeof(info);
	struct ndk_srq *srq = NULL;
	struct ndk_pd *pd2 = NULL;
	struct ndk_qp *q = NULL;
	struct ndk_qp_opts o;
	struct wait w = { 0 };

	CHECK(side_open(&b, d.sock, 4096, NDK_MR_FLAG_ALLOW_LOCAL_WRITE), "side");
	CHECK_STATUS(ndk_adapter_query_info(b.ad, &info, &size), NDK_STATUS_SUCCESS);
	CHECK(info.max_srq_depth > 0, "SRQs exist (MaxSrqDepth %u)", info.max_srq_depth);
	CHECK_STATUS(ndk_srq_create(b.pd, 0, 1, 0, NULL, NULL, w_create, &w, &srq),
		     NDK_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(
		ndk_srq_create(b.pd, info.max_srq_depth + 1, 1, 0, NULL, NULL, w_create, &w, &srq),
		NDK_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ndk_srq_create(b.pd, 8, info.max_receive_request_sge + 1, 0, NULL, NULL,
				    w_create, &w, &srq),
		     NDK_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ndk_srq_create(b.pd, 8, 1, 9, NULL, NULL, w_create, &w, &srq),
		     NDK_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ndk_srq_create(b.pd, 8, 1, 0, NULL, NULL, NULL, NULL, &srq),
		     NDK_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(sync_srq(&b, 8, 1, 0, NULL, &srq), NDK_STATUS_SUCCESS);
	CHECK_STATUS(sync_pd(b.ad, &pd2), NDK_STATUS_SUCCESS);
	/* an SRQ of another PD */
	ndk_qp_opts_init(&o, sizeof(o));
	o.receive_cq = o.initiator_cq = b.cq;
	o.srq = srq;
	CHECK_STATUS(ndk_qp_create_with_opts(pd2, &o, w_create, &w, &q),
		     NDK_STATUS_INVALID_PARAMETER);
	{
		struct ndk_sge sges[2] = { { .length = 1 }, { .length = 1 } };

		CHECK_STATUS(ndk_srq_receive(srq, NULL, sges, 2), NDK_STATUS_INVALID_PARAMETER);
	}
	/* closing the adapter with the SRQ and PDs open frees them here and in ndkd */
	side_close(&b);
}

/* An armed SRQ hears of ndkd's death: DEVICE_REMOVED, from progress. */
static void
test_death(void)
{
	struct tdaemon dd;
	struct side b;
	struct ndk_srq *srq = NULL;
	struct notes n = { 0 };
	int i;

	if (tdaemon_start(&dd, "srq-death", NULL) != 0)
		return;
	CHECK(side_open(&b, dd.sock, 4096, NDK_MR_FLAG_ALLOW_LOCAL_WRITE), "side");
	CHECK_STATUS(sync_srq(&b, 8, 1, 2, &n, &srq), NDK_STATUS_SUCCESS);
	CHECK_STATUS(post_recv(&b, srq, 0, 64, 1), NDK_STATUS_SUCCESS);
	tdaemon_kill(&dd);
	for (i = 0; i < 5000 && n.calls == 0; i++) {
		ndk_adapter_progress(b.ad, 0);
		usleep(1000);
	}
	CHECK(n.calls == 1 && n.status == NDK_STATUS_DEVICE_REMOVED,
	      "the SRQ's notification says DEVICE_REMOVED (%d calls, %s)", n.calls,
	      ndk_status_str(n.status));
	CHECK_STATUS(post_recv(&b, srq, 0, 64, 2), NDK_STATUS_DEVICE_REMOVED);
	side_close(&b);
}

int
main(void)
{
	if (tdaemon_start(&d, "srq", NULL) != 0)
		return 1;
	RUN(test_shared);
	RUN(test_depth_and_notify);
	RUN(test_refusals);
	CHECK(tel_wait_u64(&d, "mr_entries_in_use", 0, 3000) == 0, "MR table empty at the end");
	CHECK(tdaemon_stop(&d) == 0, "ndkd exits 0 on SIGTERM");
	RUN(test_death);
	return t_done();
}
