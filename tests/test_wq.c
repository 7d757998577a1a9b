/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Work-request decoding and the send-queue loop without a daemon: slot
 * counts, the common checks, local resolution, and results kept in posting
 * order when a provider finishes work later (PENDING) and out of order.
 */
#include <ndk/flags.h>

#include "cq.h"
#include "engine_fixture.h"
#include "mr.h"
#include "qp.h"
#include "wq.h"

#define MEM	   (1u << 20)
#define OFF_CQ	   0u
#define OFF_SQ	   (64u << 10)
#define OFF_RQ	   (128u << 10)
#define OFF_DATA   (256u << 10)
#define CQ_ENTRIES 64u
#define SQ_ENTRIES 64u

/* A provider that answers PENDING to every send and remembers it; reads and writes succeed. */
static struct {
	uint32_t pending[16];
	unsigned int n_pending;
	unsigned int errors; /* qp_error calls */
} mock;

static ndk_status
mock_post_send(struct ectx *x, struct dqp *qp, const struct wq_op *op, uint32_t wr_id,
	       struct ndk_abi_result *res)
{
	(void)x;
	(void)qp;
	if (op->w->h.opcode == NDK_ABI_WR_SEND) {
		mock.pending[mock.n_pending++] = wr_id;
		return NDK_STATUS_PENDING;
	}
	res->bytes = (uint32_t)op->total;
	return NDK_STATUS_SUCCESS;
}

static int
mock_init(struct provider *p, const struct ndkd_opts *o)
{
	(void)o;
	p->qp_window = 4;
	return 0;
}

static ndk_status
mock_qp_create(struct ectx *x, struct dqp *qp)
{
	(void)x;
	(void)qp;
	return NDK_STATUS_SUCCESS;
}

static ndk_status
mock_qp_connect(struct ectx *x, struct dqp *qp, const struct peer_addr *peer)
{
	(void)x;
	(void)qp;
	(void)peer;
	return NDK_STATUS_SUCCESS;
}

static ndk_status
mock_mr_register(struct ectx *x, struct client *c, uint32_t index, uint32_t *remote)
{
	(void)x, (void)c, (void)index, (void)remote;
	return NDK_STATUS_SUCCESS;
}

static void
mock_qp_error(struct ectx *x, struct dqp *qp)
{
	(void)x;
	(void)qp;
	mock.errors++;
}

static const struct provider_ops mock_ops = {
	.name = "mock",
	.init = mock_init,
	.mr_register = mock_mr_register,
	.qp_create = mock_qp_create,
	.qp_connect = mock_qp_connect,
	.qp_error = mock_qp_error,
	.post_send = mock_post_send,
};

static struct efx f;
static struct ndk_ring sq, cq; /* the client's side */
static struct dqp *qp;

static void
ring_view(struct ndk_ring *r, size_t off, uint32_t entries)
{
	const struct ndk_abi_ring_desc d = ndk_abi_ring_standalone(entries);

	ndk_ring_attach(r, f.mem + off, &d);
}

static void
setup(void)
{
	uint64_t out[6] = { 0 };
	struct ndk_abi_qp_create a;
	uint32_t pd;

	efx_init(&f, &mock_ops, MEM);
	a = (struct ndk_abi_qp_create){
		.sq_ring = efx_addr(&f, OFF_SQ),
		.rq_ring = efx_addr(&f, OFF_RQ),
		.sq_entries = SQ_ENTRIES,
		.rq_entries = 16,
		.max_isge = 4,
		.max_rsge = 4,
		.max_inline = 64,
		.qp_context = 0xc0ffee,
	};
	CHECK_STATUS(dpd_create(&f.c, &f.x, out), NDK_STATUS_SUCCESS);
	pd = (uint32_t)out[0];
	CHECK_STATUS(dcq_create(&f.c, &f.x, efx_addr(&f, OFF_CQ), CQ_ENTRIES, out),
		     NDK_STATUS_SUCCESS);
	a.rcq = a.icq = (uint32_t)out[0];
	CHECK_STATUS(dqp_create(&f.c, &f.x, pd, &a, false, out), NDK_STATUS_SUCCESS);
	qp = f.c.qps[0];
	CHECK_STATUS(dqp_connect(&f.c, &f.x, (uint32_t)out[0], 0x1234), NDK_STATUS_SUCCESS);
	ring_view(&sq, OFF_SQ, SQ_ENTRIES);
	ndk_ring_set_stamp_wr(&sq);
	ring_view(&cq, OFF_CQ, CQ_ENTRIES);
	ndk_ring_set_stamp(&cq, NDK_ABI_RESULT_STAMP);
}

static void
post(uint8_t opcode, uint32_t flags, uint64_t ctx)
{
	struct ndk_abi_wqe h = {
		.opcode = opcode,
		.n_slots = 1,
		.flags = flags,
		.request_context = ctx,
	};

	memcpy(ndk_ring_prod_next(&sq), &h, sizeof(h));
	ndk_ring_prod_publish(&sq);
}

/* The request contexts of the results on the CQ, in order; returns how many. */
static unsigned int
reap(uint64_t *ctx, uint32_t *status, unsigned int max)
{
	bool broken = false;
	unsigned int n = 0;

	while (n < max && ndk_ring_cons_avail(&cq, &broken) != 0) {
		const struct ndk_abi_result *r = ndk_ring_cons_next(&cq);

		ctx[n] = r->request_context;
		status[n] = r->status;
		n++;
	}
	ndk_ring_cons_release(&cq);
	return n;
}

static void
test_slots(void)
{
	struct ndk_abi_wqe h = { .opcode = NDK_ABI_WR_SEND };

	CHECK(wq_wr_slots(&h) == 1, "no SGE: one slot");
	h.n_sge = 4;
	CHECK(wq_wr_slots(&h) == 2, "four SGEs share a slot");
	h.n_sge = 5;
	CHECK(wq_wr_slots(&h) == 3, "a fifth takes another");
	h.n_sge = NDKD_MAX_SGE + 1;
	CHECK(wq_wr_slots(&h) == 0, "too many SGEs: no such WR");
	h = (struct ndk_abi_wqe){ .opcode = NDK_ABI_WR_WRITE, .flags = NDK_OP_FLAG_INLINE };
	h.length = 64;
	CHECK(wq_wr_slots(&h) == 2, "64 inline bytes: one more slot");
	h.length = 65;
	CHECK(wq_wr_slots(&h) == 3, "65: two more");
	h.length = NDK_ABI_MAX_INLINE + 1;
	CHECK(wq_wr_slots(&h) == 0, "inline past the limit");
	h.length = 8;
	h.n_sge = 1;
	CHECK(wq_wr_slots(&h) == 0, "inline with SGEs");
	h = (struct ndk_abi_wqe){ .opcode = NDK_ABI_WR_FAST_REGISTER, .page_count = 8 };
	CHECK(wq_wr_slots(&h) == 2, "eight pages to a slot");
	h.page_count = 9;
	CHECK(wq_wr_slots(&h) == 3, "nine: two slots");
	h.page_count = NDKD_MAX_FRMR_PAGES + 1;
	CHECK(wq_wr_slots(&h) == 0, "past the page limit");
	h = (struct ndk_abi_wqe){ .opcode = NDK_ABI_WR_INVALIDATE };
	CHECK(wq_wr_slots(&h) == 1, "invalidate");
	h.n_sge = 1;
	CHECK(wq_wr_slots(&h) == 0, "invalidate with an SGE");
	h = (struct ndk_abi_wqe){ .opcode = 200, .n_sge = 3 };
	CHECK(wq_wr_slots(&h) == 1, "unknown: answered without a body");
}

static ndk_status
check(struct ndk_abi_wqe h)
{
	static struct wr w;

	w.h = h;
	return wq_check(qp, &w);
}

static void
test_check(void)
{
	CHECK_STATUS(check((struct ndk_abi_wqe){ .opcode = NDK_ABI_WR_SEND }), NDK_STATUS_SUCCESS);
	CHECK_STATUS(check((struct ndk_abi_wqe){ .opcode = 0 }), NDK_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(check((struct ndk_abi_wqe){ .opcode = 99 }), NDK_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(check((struct ndk_abi_wqe){ .opcode = NDK_ABI_WR_RECEIVE }),
		     NDK_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(check((struct ndk_abi_wqe){ .opcode = NDK_ABI_WR_READ,
						 .flags = NDK_OP_FLAG_INLINE }),
		     NDK_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(check((struct ndk_abi_wqe){ .opcode = NDK_ABI_WR_WRITE,
						 .flags = NDK_OP_FLAG_ALLOW_REMOTE_READ }),
		     NDK_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(check((struct ndk_abi_wqe){ .opcode = NDK_ABI_WR_SEND, .remote_addr = 8 }),
		     NDK_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(check((struct ndk_abi_wqe){ .opcode = NDK_ABI_WR_SEND, .remote_token = 8 }),
		     NDK_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(check((struct ndk_abi_wqe){ .opcode = NDK_ABI_WR_SEND_INVALIDATE,
						 .remote_token = 8 }),
		     NDK_STATUS_SUCCESS);
	CHECK_STATUS(check((struct ndk_abi_wqe){ .opcode = NDK_ABI_WR_WRITE, .n_sge = 5 }),
		     NDK_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(check((struct ndk_abi_wqe){ .opcode = NDK_ABI_WR_WRITE, .mr_handle = 1 }),
		     NDK_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(check((struct ndk_abi_wqe){ .opcode = NDK_ABI_WR_WRITE, .length = 8 }),
		     NDK_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(check((struct ndk_abi_wqe){ .opcode = NDK_ABI_WR_WRITE, .page_count = 1 }),
		     NDK_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(check((struct ndk_abi_wqe){ .opcode = NDK_ABI_WR_WRITE,
						 .flags = NDK_OP_FLAG_INLINE,
						 .length = 64 }),
		     NDK_STATUS_SUCCESS);
	CHECK_STATUS(check((struct ndk_abi_wqe){ .opcode = NDK_ABI_WR_WRITE,
						 .flags = NDK_OP_FLAG_INLINE,
						 .length = 65 }),
		     NDK_STATUS_INVALID_PARAMETER);
	/* fast register and invalidate are the MR code's to check */
	CHECK_STATUS(check((struct ndk_abi_wqe){ .opcode = NDK_ABI_WR_FAST_REGISTER, .length = 8 }),
		     NDK_STATUS_SUCCESS);
}

static void
test_default_ops(void)
{
	struct provider p;
	uint64_t out[6], tok[6];

	/* what a provider leaves out answers NOT_SUPPORTED, through the table */
	provider_set_ops(&p, &(const struct provider_ops){ .name = "empty" });
	f.x.prov = &p;
	CHECK_STATUS(dmr_create(&f.c, &f.x, qp->pd, NDK_ABI_MR_KIND_NORMAL, out),
		     NDK_STATUS_SUCCESS);
	CHECK_STATUS(
		dmr_register(&f.c, &f.x, (uint32_t)out[0], efx_addr(&f, OFF_DATA), 4096, 0x1, tok),
		NDK_STATUS_NOT_SUPPORTED);
	CHECK_STATUS(dmr_destroy(&f.c, &f.x, (uint32_t)out[0]), NDK_STATUS_SUCCESS);
	f.x.prov = &f.prov;
}

static void
test_resolve_local(void)
{
	static struct wr w;
	uint64_t out[6];
	struct wq_op op;
	uint32_t mr, token;

	CHECK_STATUS(dmr_create(&f.c, &f.x, qp->pd, NDK_ABI_MR_KIND_NORMAL, out),
		     NDK_STATUS_SUCCESS);
	mr = (uint32_t)out[0];
	CHECK_STATUS(dmr_register(&f.c, &f.x, mr, efx_addr(&f, OFF_DATA), 8192, 0x1, out),
		     NDK_STATUS_SUCCESS);
	token = (uint32_t)out[0];
	w.h = (struct ndk_abi_wqe){ .opcode = NDK_ABI_WR_WRITE, .n_sge = 2 };
	w.sge[0] = (struct ndk_abi_sge){ efx_addr(&f, OFF_DATA), 100, token };
	w.sge[1] = (struct ndk_abi_sge){ efx_addr(&f, OFF_DATA + 4096), 50, token };
	CHECK_STATUS(wq_resolve_local(&f.x, qp, &w, &op), NDK_STATUS_SUCCESS);
	CHECK(op.n_local == 2 && op.total == 150 && f.x.local[1].addr == f.mem + OFF_DATA + 4096,
	      "two pieces, 150 bytes");
	w.sge[1].token ^= 1;
	CHECK_STATUS(wq_resolve_local(&f.x, qp, &w, &op), NDK_STATUS_ACCESS_VIOLATION);
	w.h = (struct ndk_abi_wqe){ .opcode = NDK_ABI_WR_WRITE,
				    .flags = NDK_OP_FLAG_INLINE,
				    .length = 24 };
	CHECK_STATUS(wq_resolve_local(&f.x, qp, &w, &op), NDK_STATUS_SUCCESS);
	CHECK(op.n_local == 1 && f.x.local[0].addr == w.data && op.total == 24,
	      "inline: the request's own bytes");
	CHECK_STATUS(dmr_destroy(&f.c, &f.x, mr), NDK_STATUS_SUCCESS);
}

static bool busy; /* wq_serve's "still moving bytes": not what these check */

static void
test_results_in_order(void)
{
	uint64_t ctx[16];
	uint32_t st[16];
	unsigned int n;

	mock.n_pending = 0;
	post(NDK_ABI_WR_SEND, 0, 1);  /* PENDING */
	post(NDK_ABI_WR_WRITE, 0, 2); /* done at once, but behind 1 */
	post(NDK_ABI_WR_SEND, 0, 3);  /* PENDING */
	post(NDK_ABI_WR_SEND, 0, 4);  /* PENDING: the window (4) is full */
	post(NDK_ABI_WR_WRITE, 0, 5); /* waits in the ring */
	CHECK(wq_serve(&f.c, &f.x, 32, &busy) == 4, "four taken, the fifth waits for room");
	CHECK(mock.n_pending == 3, "three sends PENDING");
	CHECK(reap(ctx, st, 16) == 0, "nothing finished in order yet");
	wq_complete(&f.x, qp, mock.pending[1], NDK_STATUS_SUCCESS, 0); /* 3 before 1 */
	CHECK(reap(ctx, st, 16) == 0, "3 waits for 1");
	wq_complete(&f.x, qp, mock.pending[0], NDK_STATUS_SUCCESS, 0);
	n = reap(ctx, st, 16);
	CHECK(n == 3 && ctx[0] == 1 && ctx[1] == 2 && ctx[2] == 3, "1, 2, 3 in order (n=%u)", n);
	CHECK(wq_serve(&f.c, &f.x, 32, &busy) == 1, "room again: 5 is taken");
	CHECK(reap(ctx, st, 16) == 0, "5 waits for 4");
	wq_complete(&f.x, qp, mock.pending[2], NDK_STATUS_SUCCESS, 0);
	n = reap(ctx, st, 16);
	CHECK(n == 2 && ctx[0] == 4 && ctx[1] == 5, "4, 5 (n=%u)", n);
}

static void
test_silent_and_failure(void)
{
	uint64_t ctx[16];
	uint32_t st[16];
	unsigned int n;

	mock.n_pending = 0;
	mock.errors = 0;
	post(NDK_ABI_WR_SEND, NDK_OP_FLAG_SILENT_SUCCESS, 10);
	post(NDK_ABI_WR_SEND, NDK_OP_FLAG_SILENT_SUCCESS, 11);
	post(NDK_ABI_WR_WRITE, 0, 12);
	CHECK(wq_serve(&f.c, &f.x, 32, &busy) == 3, "three taken");
	wq_complete(&f.x, qp, mock.pending[0], NDK_STATUS_SUCCESS, 0);
	n = reap(ctx, st, 16);
	CHECK(n == 0, "a silent success writes nothing, 11 still open");
	wq_complete(&f.x, qp, mock.pending[1], NDK_STATUS_ACCESS_VIOLATION, 0);
	n = reap(ctx, st, 16);
	CHECK(n == 2 && ctx[0] == 11 && st[0] == NDK_STATUS_ACCESS_VIOLATION && ctx[1] == 12 &&
		      st[1] == NDK_STATUS_SUCCESS,
	      "a silent failure is reported, then what followed (n=%u)", n);
	CHECK(qp->state == QP_ERROR && mock.errors == 1, "the failure took the QP to error once");
	post(NDK_ABI_WR_WRITE, 0, 13);
	CHECK(wq_serve(&f.c, &f.x, 32, &busy) == 1, "served");
	n = reap(ctx, st, 16);
	CHECK(n == 1 && ctx[0] == 13 && st[0] == NDK_STATUS_CANCELLED, "then CANCELLED");
}

/*
 * A request's body may hold, where a stamp would be, the very stamp its
 * slot will be expected to carry next lap: once the engine took the
 * request, a header position that still holds that body is no request.
 */
static void
test_body_stamps_cleared(void)
{
	uint64_t ctx[64];
	uint32_t st[64];
	uint32_t i, start;

	reap(ctx, st, 64);
	start = sq.local;
	for (i = 0; i < SQ_ENTRIES / 2; i++) {
		struct ndk_abi_wqe h = {
			.opcode = NDK_ABI_WR_WRITE,
			.n_slots = 2,
			.n_sge = 1,
			.request_context = 100 + i,
		};
		uint8_t *body;

		memcpy(ndk_ring_prod_next(&sq), &h, sizeof(h));
		body = ndk_ring_prod_next(&sq);
		memset(body, 0, NDK_ABI_ENTRY_SIZE);
		*(uint16_t *)(body + NDK_ABI_WQE_STAMP) =
			ndk_ring_stamp(&sq, sq.local - 1 + SQ_ENTRIES);
	}
	ndk_ring_prod_publish(&sq);
	CHECK(sq.local - start == SQ_ENTRIES, "a whole lap of 2-slot requests");
	CHECK(wq_serve(&f.c, &f.x, SQ_ENTRIES, &busy) == SQ_ENTRIES / 2, "all taken");
	CHECK(reap(ctx, st, 64) == SQ_ENTRIES / 2, "all answered");
	post(NDK_ABI_WR_WRITE, 0, 200); /* 1 slot: the next header falls on an old body */
	CHECK(wq_serve(&f.c, &f.x, 32, &busy) == 1, "the 1-slot request taken");
	CHECK(wq_serve(&f.c, &f.x, 32, &busy) == 0 && !f.c.broken,
	      "the old body after it is no request (and no lie)");
	CHECK(reap(ctx, st, 64) == 1 && ctx[0] == 200, "one result");
}

int
main(void)
{
	setup();
	RUN(test_slots);
	RUN(test_check);
	RUN(test_default_ops);
	RUN(test_resolve_local);
	RUN(test_results_in_order);
	RUN(test_silent_and_failure);
	RUN(test_body_stamps_cleared);
	dqp_release_all(&f.c, &f.x);
	dcq_release_all(&f.c);
	dpd_release_all(&f.c, &f.x);
	efx_fini(&f);
	return t_done();
}
