/* SPDX-License-Identifier: BSD-3-Clause */
/* Work queues (wq.h): decode, check, serve, complete in order. */
#include <string.h>

#include <ndk/flags.h>

#include <rte_common.h>
#include <rte_prefetch.h>

#include "access.h"
#include "cq.h"
#include "mr.h"
#include "mrt.h"
#include "provider.h"
#include "srq.h"
#include "wq.h"

static const uint32_t wr_flags_allowed[] = {
	[NDK_ABI_WR_READ] = NDK_OP_FLAG_SILENT_SUCCESS | NDK_OP_FLAG_READ_FENCE |
			    NDK_OP_FLAG_DEFER | NDK_OP_FLAG_RDMA_READ_LOCAL_INVALIDATE,
	[NDK_ABI_WR_WRITE] = NDK_OP_FLAG_SILENT_SUCCESS | NDK_OP_FLAG_READ_FENCE |
			     NDK_OP_FLAG_DEFER | NDK_OP_FLAG_INLINE,
	[NDK_ABI_WR_FAST_REGISTER] = NDK_OP_FLAG_SILENT_SUCCESS | NDK_OP_FLAG_READ_FENCE |
				     NDK_OP_FLAG_ALLOW_REMOTE_READ | NDK_OP_FLAG_ALLOW_LOCAL_WRITE |
				     NDK_OP_FLAG_ALLOW_REMOTE_WRITE | NDK_OP_FLAG_RDMA_READ_SINK |
				     NDK_OP_FLAG_DEFER,
	[NDK_ABI_WR_INVALIDATE] =
		NDK_OP_FLAG_SILENT_SUCCESS | NDK_OP_FLAG_READ_FENCE | NDK_OP_FLAG_DEFER,
	[NDK_ABI_WR_SEND] = NDK_OP_FLAG_SILENT_SUCCESS | NDK_OP_FLAG_READ_FENCE |
			    NDK_OP_FLAG_SEND_AND_SOLICIT_EVENT | NDK_OP_FLAG_DEFER |
			    NDK_OP_FLAG_INLINE,
	[NDK_ABI_WR_SEND_INVALIDATE] = NDK_OP_FLAG_SILENT_SUCCESS | NDK_OP_FLAG_READ_FENCE |
				       NDK_OP_FLAG_SEND_AND_SOLICIT_EVENT | NDK_OP_FLAG_DEFER |
				       NDK_OP_FLAG_INLINE,
	[NDK_ABI_WR_BIND] = NDK_OP_FLAG_SILENT_SUCCESS | NDK_OP_FLAG_READ_FENCE |
			    NDK_OP_FLAG_ALLOW_REMOTE_READ | NDK_OP_FLAG_ALLOW_REMOTE_WRITE |
			    NDK_OP_FLAG_DEFER,
};

static const uint32_t wr_type[] = {
	[NDK_ABI_WR_SEND] = NDK_ABI_RESULT_SEND,
	[NDK_ABI_WR_RECEIVE] = NDK_ABI_RESULT_RECEIVE,
	[NDK_ABI_WR_READ] = NDK_ABI_RESULT_READ,
	[NDK_ABI_WR_WRITE] = NDK_ABI_RESULT_WRITE,
	[NDK_ABI_WR_FAST_REGISTER] = NDK_ABI_RESULT_FAST_REGISTER,
	[NDK_ABI_WR_INVALIDATE] = NDK_ABI_RESULT_INVALIDATE,
	[NDK_ABI_WR_SEND_INVALIDATE] = NDK_ABI_RESULT_SEND,
	[NDK_ABI_WR_BIND] = NDK_ABI_RESULT_BIND,
};

/* ------------------------------------------------------------------------
 * Decoding and checking
 * --------------------------------------------------------------------- */

uint32_t
wq_wr_slots(const struct ndk_abi_wqe *h)
{
	switch (h->opcode) {
	case NDK_ABI_WR_WRITE:
	case NDK_ABI_WR_SEND:
	case NDK_ABI_WR_SEND_INVALIDATE:
		if (h->flags & NDK_OP_FLAG_INLINE)
			return h->n_sge == 0 && h->length <= NDK_ABI_MAX_INLINE
				       ? ndk_abi_inline_slots((uint32_t)h->length)
				       : 0;
		/* fall through */
	case NDK_ABI_WR_READ:
	case NDK_ABI_WR_RECEIVE:
		return h->n_sge <= NDKD_MAX_SGE ? ndk_abi_wqe_slots(h->n_sge) : 0;
	case NDK_ABI_WR_FAST_REGISTER:
		return h->n_sge == 0 && h->page_count <= NDKD_MAX_FRMR_PAGES
			       ? ndk_abi_fr_slots(h->page_count)
			       : 0;
	case NDK_ABI_WR_INVALIDATE:
	case NDK_ABI_WR_BIND:
		return h->n_sge == 0 ? 1 : 0;
	default:
		return 1; /* unknown or not yet served: answered without its body */
	}
}

/* Inlined into the SQ loop (out of line it cost a call per work request); wq_check() for tests. */
static inline __attribute__((always_inline)) ndk_status
check_wr(const struct dqp *qp, const struct wr *w)
{
	const struct ndk_abi_wqe *h = &w->h;
	bool inl = (h->flags & NDK_OP_FLAG_INLINE) != 0;

	/* receives go on the receive queue */
	if (h->opcode == 0 || h->opcode >= RTE_DIM(wr_flags_allowed) ||
	    h->opcode == NDK_ABI_WR_RECEIVE || (h->flags & ~wr_flags_allowed[h->opcode]) != 0)
		return NDK_STATUS_INVALID_PARAMETER;
	switch (h->opcode) {
	case NDK_ABI_WR_SEND:
	case NDK_ABI_WR_SEND_INVALIDATE:
		if (h->remote_addr != 0 || (h->opcode == NDK_ABI_WR_SEND && h->remote_token != 0))
			return NDK_STATUS_INVALID_PARAMETER;
		/* fall through */
	case NDK_ABI_WR_READ:
		if ((h->flags & NDK_OP_FLAG_RDMA_READ_LOCAL_INVALIDATE) && h->n_sge == 0)
			return NDK_STATUS_INVALID_PARAMETER; /* nothing to invalidate */
							     /* fall through */
	case NDK_ABI_WR_WRITE:
		/* INLINE's length is its data; the flags table keeps it off reads */
		if (h->n_sge > qp->max_isge || h->mr_handle != 0 || (h->length != 0 && !inl) ||
		    h->page_array != 0 || h->page_count != 0 || h->fbo != 0 ||
		    (inl && h->length > qp->max_inline))
			return NDK_STATUS_INVALID_PARAMETER;
		return NDK_STATUS_SUCCESS;
	default:
		return NDK_STATUS_SUCCESS; /* fast register, invalidate, bind: mr.c, mw.c check them
					    */
	}
}

ndk_status
wq_check(const struct dqp *qp, const struct wr *w)
{
	return check_wr(qp, w);
}

static inline __attribute__((always_inline)) ndk_status
resolve_local(struct ectx *x, const struct dqp *qp, const struct wr *w, struct wq_op *op)
{
	/* a read writes into local memory; a send or write reads it */
	struct access_req local =
		dqp_local_access(qp, w->h.opcode == NDK_ABI_WR_READ ? MRT_ACCESS_LOCAL_WRITE : 0);
	uint32_t i;

	op->w = w;
	op->n_local = 0;
	op->total = 0;
	if (w->h.flags & NDK_OP_FLAG_INLINE) {
		/* the data came with the request: no local token to check */
		op->total = w->h.length;
		x->local[op->n_local++] = (struct dp_chunk){ (uint8_t *)w->data, w->h.length };
	}
	for (i = 0; i < w->h.n_sge; i++) {
		op->total += w->sge[i].length;
		if (!access_resolve(x, w->sge[i].token, w->sge[i].addr, w->sge[i].length, &local,
				    x->local, &op->n_local))
			return NDK_STATUS_ACCESS_VIOLATION;
	}
	if (op->total > NDKD_MAX_TRANSFER)
		return NDK_STATUS_INVALID_PARAMETER;
	return NDK_STATUS_SUCCESS;
}

ndk_status
wq_resolve_local(struct ectx *x, const struct dqp *qp, const struct wr *w, struct wq_op *op)
{
	return resolve_local(x, qp, w, op);
}

/*
 * READ_LOCAL_INVALIDATE (only reads may carry it, with a first SGE: see
 * check_wr): the token of the MR to invalidate once the read succeeds; 0
 * for every other work request.
 */
static inline uint32_t
local_inv_token(const struct wr *w)
{
	return (w->h.flags & NDK_OP_FLAG_RDMA_READ_LOCAL_INVALIDATE) ? w->sge[0].token : 0;
}

/* One work request of qp; *moved: the bytes it copied there and then. */
static ndk_status
wq_execute(struct client *c, struct ectx *x, struct dqp *qp, const struct wr *w, uint32_t wr_id,
	   struct ndk_abi_result *res, uint64_t *moved)
{
	struct wq_op op;
	uint32_t peer_token;
	ndk_status st;

	*moved = 0;
	st = check_wr(qp, w);
	if (st != NDK_STATUS_SUCCESS)
		return st;
	switch (w->h.opcode) {
	case NDK_ABI_WR_FAST_REGISTER:
		/* NDK: the new token (the one peers use) is the result's type-specific output */
		res->type_specific = w->h.remote_token;
		st = dmr_fast_register(c, x, qp, &w->h, w->pages, wr_id, &peer_token);
		if (st == NDK_STATUS_SUCCESS || st == NDK_STATUS_PENDING)
			res->type_specific = peer_token;
		return st;
	case NDK_ABI_WR_INVALIDATE:
		return dmr_invalidate(c, x, qp, w->h.mr_handle, wr_id);
	case NDK_ABI_WR_BIND:
		/* NDK: the window's token is the result's type-specific output */
		res->type_specific = w->h.remote_token;
		return dmw_bind(c, x, qp, &w->h, wr_id);
	default:
		st = resolve_local(x, qp, w, &op);
		if (st != NDK_STATUS_SUCCESS)
			return st;
		/* NDK's Invalidate rule: the first SGE names a fast-registered MR of ours */
		if (local_inv_token(w) != 0 && !dmr_can_invalidate(x, qp, local_inv_token(w)))
			return NDK_STATUS_INVALID_PARAMETER;
		st = x->prov->ops.post_send(x, qp, &op, wr_id, res);
		if (st == NDK_STATUS_SUCCESS)
			*moved = op.total;
		/* done now; a PENDING read does it in wq_complete */
		if (st == NDK_STATUS_SUCCESS && local_inv_token(w) != 0)
			dmr_invalidate_token(x, qp, local_inv_token(w));
		return st;
	}
}

/* ------------------------------------------------------------------------
 * Results in order
 * --------------------------------------------------------------------- */

static bool
pend_empty(const struct dqp *qp)
{
	return qp->pend_head == qp->pend_tail;
}

static void
pend_push(struct dqp *qp, const struct ndk_abi_result *res, bool silent, bool done,
	  uint32_t sq_start, uint32_t inv_token)
{
	struct wq_pending *p = &qp->pend[qp->pend_tail++ & qp->pend_mask];

	p->res = *res;
	p->silent = silent;
	p->done = done;
	p->sq_start = sq_start;
	p->inv_token = inv_token;
}

/*
 * Hand the SQ's slots back up to the first work request without a result
 * yet. The client's library reads what lies beyond as outstanding, should
 * ndkd die: each gets exactly one result, ndkd's or the library's.
 */
static void
sq_release(struct dqp *qp)
{
	ndk_ring_cons_release_to(&qp->sq,
				 pend_empty(qp) ? qp->sq.local
						: qp->pend[qp->pend_head & qp->pend_mask].sq_start);
}

/* Write the finished results at the head to the CQ, room permitting. True when any was written. */
static bool
pend_flush(struct dqp *qp)
{
	bool wrote = false, broken = false;

	while (!pend_empty(qp)) {
		struct wq_pending *p = &qp->pend[qp->pend_head & qp->pend_mask];

		if (!p->done)
			break;
		if (p->res.status != NDK_STATUS_SUCCESS || !p->silent) {
			if (ndk_ring_prod_space(&qp->icq->ring, &broken) == 0)
				break;
			memcpy(ndk_ring_prod_next(&qp->icq->ring), &p->res, sizeof(p->res));
			wrote = true;
		}
		qp->pend_head++;
	}
	return wrote;
}

void
wq_complete(struct ectx *x, struct dqp *qp, uint32_t wr_id, ndk_status status, uint32_t bytes)
{
	struct wq_pending *p = &qp->pend[wr_id & qp->pend_mask];

	p->res.status = status;
	p->res.bytes = status == NDK_STATUS_SUCCESS ? bytes : 0;
	p->done = true;
	if (status == NDK_STATUS_SUCCESS && p->inv_token != 0)
		dmr_invalidate_token(x, qp, p->inv_token);
	/* a failed work request takes the QP to error, like any failed one */
	if (status != NDK_STATUS_SUCCESS && qp->state == QP_RTS)
		wq_error(x, qp);
	if (pend_flush(qp))
		dcq_publish(qp->icq);
	sq_release(qp);
}

void
wq_error(struct ectx *x, struct dqp *qp)
{
	if (qp->state == QP_ERROR)
		return;
	qp->state = QP_ERROR;
	qpt_set(x->qpt, qp->qpn, QP_ERROR, qp->peer_qpn);
	x->prov->ops.qp_error(x, qp);
}

/* ------------------------------------------------------------------------
 * The send queue
 * --------------------------------------------------------------------- */

/*
 * Serve one QP's send queue: up to budget work requests, while *bytes (what
 * is left of its client's turn) lasts. Returns WRs done; sets c->broken on
 * impossible indices.
 */
static unsigned int
serve_sq(struct client *c, struct ectx *x, struct dqp *qp, unsigned int budget, uint64_t *bytes)
{
	static _Thread_local struct wr w;
	struct ndk_abi_result res;
	unsigned int done = 0;
	uint32_t ns, i, start;
	uint64_t moved;
	bool broken = false, wrote = false, silent;

	if (!pend_empty(qp))
		wrote = pend_flush(qp);
	while (!broken && done < budget && *bytes != 0 && ndk_ring_cons_ready(&qp->sq, 1) != 0) {
		/* the provider has all it may hold: what follows waits its turn */
		if (qp->pend_tail - qp->pend_head >= qp->pend_limit)
			break;
		/*
		 * The slots after this header (its body, the next requests of the
		 * batch) crossed the cores with it: ask for them now, so their
		 * misses overlap instead of following one another.
		 */
		rte_prefetch0(ndk_ring_slot(&qp->sq, qp->sq.local + 1));
		rte_prefetch0(ndk_ring_slot(&qp->sq, qp->sq.local + 2));
		rte_prefetch0(ndk_ring_slot(&qp->sq, qp->sq.local + 3));
		memcpy(&w.h, ndk_ring_slot(&qp->sq, qp->sq.local), sizeof(w.h));
		/* a memory operation waits for the bytes before it to have left */
		if (qp->sq_hold &&
		    (w.h.opcode == NDK_ABI_WR_FAST_REGISTER ||
		     w.h.opcode == NDK_ABI_WR_INVALIDATE || w.h.opcode == NDK_ABI_WR_BIND))
			break;
		ns = wq_wr_slots(&w.h);
		/* a header that does not match its own contents, or wraps over itself, lies */
		if (ns == 0 || ns != w.h.n_slots || ns > qp->sq.entries) {
			broken = true;
			break;
		}
		/* room for its result first: a full CQ stalls the QP, nothing is lost */
		if (ndk_ring_prod_space(&qp->icq->ring, &broken) == 0)
			break;
		for (i = 1; i < ns; i++)
			memcpy((uint8_t *)&w.sge + (i - 1) * NDK_ABI_ENTRY_SIZE,
			       ndk_ring_slot(&qp->sq, qp->sq.local + i), NDK_ABI_ENTRY_SIZE);
		start = qp->sq.local;
		ndk_ring_cons_clear_body(&qp->sq, start, ns);
		qp->sq.local += ns;
		memset(&res, 0, sizeof(res));
		res.qp_context = qp->qp_context;
		res.request_context = w.h.request_context;
		res.cookie = w.h.cookie;
		res.type = w.h.opcode < RTE_DIM(wr_type) ? wr_type[w.h.opcode] : 0;
		silent = (w.h.flags & NDK_OP_FLAG_SILENT_SUCCESS) != 0;
		if (qp->state == QP_ERROR) {
			res.status = NDK_STATUS_CANCELLED;
		} else if (qp->state != QP_RTS) {
			res.status = NDK_STATUS_CONNECTION_INVALID;
		} else {
			res.status = wq_execute(c, x, qp, &w, qp->pend_tail, &res, &moved);
			*bytes -= RTE_MIN(moved, *bytes);
			if (res.status == NDK_STATUS_PENDING) {
				/* a READ_LOCAL_INVALIDATE read invalidates when it completes */
				pend_push(qp, &res, silent, false, start, local_inv_token(&w));
				done++;
				continue;
			}
			/* an RC QP goes to error on any failure but these two */
			if (res.status != NDK_STATUS_SUCCESS &&
			    res.status != NDK_STATUS_NOT_SUPPORTED &&
			    res.status != NDK_STATUS_CONNECTION_INVALID)
				wq_error(x, qp);
		}
		if (res.status != NDK_STATUS_SUCCESS && w.h.opcode == NDK_ABI_WR_FAST_REGISTER)
			res.type_specific = dmr_fr_failed(c, x, &w.h);
		if (!pend_empty(qp)) {
			pend_push(qp, &res, silent, true, start, 0); /* behind a PENDING one */
		} else if (res.status != NDK_STATUS_SUCCESS || !silent) {
			memcpy(ndk_ring_prod_next(&qp->icq->ring), &res, sizeof(res));
			wrote = true;
		}
		done++;
	}
	if (done != 0 || wrote) {
		/*
		 * results first, then the slots: a WR is never handed back without
		 * one. Only new results are published: an armed CQ is kicked by a
		 * publish, and work a provider holds (PENDING) has none yet.
		 */
		if (wrote)
			dcq_publish(qp->icq);
		sq_release(qp);
	}
	if (broken)
		c->broken = true;
	return done;
}

/* ------------------------------------------------------------------------
 * The receive queue
 * --------------------------------------------------------------------- */

/* The ring qp takes its receives from: its own, or its shared receive queue's. */
static inline struct ndk_ring *
rq_ring(struct dqp *qp)
{
	return qp->srq != NULL ? &qp->srq->ring : &qp->rq;
}

/*
 * Copy the next receive WR of qp out of its ring (not consumed yet): *slots
 * is what it takes there, the SRQ's fixed size when it comes from one.
 * Returns 0 when there is none, -1 when the ring lies.
 */
static int
rq_peek(struct dqp *qp, struct wr *w, uint32_t *slots)
{
	struct ndk_ring *r = rq_ring(qp);
	uint32_t i, ns;

	if (ndk_ring_cons_ready(r, 1) == 0)
		return 0;
	memcpy(&w->h, ndk_ring_slot(r, r->local), sizeof(w->h));
	ns = wq_wr_slots(&w->h);
	*slots = qp->srq != NULL ? qp->srq->slots : ns;
	if (w->h.opcode != NDK_ABI_WR_RECEIVE || ns == 0 || ns > *slots || w->h.n_slots != *slots ||
	    *slots > r->entries)
		return -1;
	for (i = 1; i < ns; i++)
		memcpy((uint8_t *)&w->sge + (i - 1) * NDK_ABI_ENTRY_SIZE,
		       ndk_ring_slot(r, r->local + i), NDK_ABI_ENTRY_SIZE);
	return 1;
}

/*
 * A receive's result on its CQ (the caller saw room), then its slots handed
 * back (up to the ring's local index) and the SRQ's threshold checked.
 */
static void
rq_result(struct dqp *qp, uint64_t request_context, uint64_t cookie, ndk_status st, uint32_t bytes,
	  uint32_t type, uint64_t token)
{
	struct ndk_abi_result res = {
		.status = st,
		.bytes = bytes,
		.qp_context = qp->qp_context,
		.request_context = request_context,
		.type = type,
		.type_specific = token,
		.cookie = cookie,
	};

	memcpy(ndk_ring_prod_next(&qp->rcq->ring), &res, sizeof(res));
	dcq_publish(qp->rcq);
	ndk_ring_cons_release(rq_ring(qp));
	if (qp->srq != NULL)
		dsrq_check(qp->srq);
}

static void
rq_complete(struct dqp *qp, const struct wr *w, uint32_t slots, ndk_status st, uint32_t bytes,
	    uint32_t type, uint64_t token)
{
	ndk_ring_cons_clear_body(rq_ring(qp), rq_ring(qp)->local, slots);
	rq_ring(qp)->local += slots;
	rq_result(qp, w->h.request_context, w->h.cookie, st, bytes, type, token);
}

int
wq_recv_next(struct ectx *x, struct dqp *qp, struct wq_recv *r)
{
	static _Thread_local struct wr w;
	struct client *c = qp->client;
	struct access_req local = dqp_local_access(qp, MRT_ACCESS_LOCAL_WRITE);
	bool broken = false;
	uint32_t i;
	int rc;

	if (ndk_ring_prod_space(&qp->rcq->ring, &broken) == 0)
		return 0;
	rc = rq_peek(qp, &w, &r->slots);
	if (rc < 0)
		c->broken = true;
	if (rc <= 0)
		return rc;
	r->w = &w;
	r->n_local = 0;
	r->room = 0;
	r->status = w.h.n_sge > qp->max_rsge ? NDK_STATUS_INVALID_PARAMETER : NDK_STATUS_SUCCESS;
	for (i = 0; r->status == NDK_STATUS_SUCCESS && i < w.h.n_sge; i++) {
		r->room += w.sge[i].length;
		if (!access_resolve(x, w.sge[i].token, w.sge[i].addr, w.sge[i].length, &local,
				    x->local, &r->n_local))
			r->status = NDK_STATUS_ACCESS_VIOLATION;
	}
	return 1;
}

void
wq_recv_complete(struct dqp *qp, const struct wq_recv *r, ndk_status status, uint32_t bytes,
		 uint32_t type, uint64_t token)
{
	rq_complete(qp, r->w, r->slots, status, bytes, type, token);
}

int
wq_recv_take(struct ectx *x, struct dqp *qp, struct wq_taken *t)
{
	struct wq_recv r;
	int rc = wq_recv_next(x, qp, &r);

	if (rc <= 0)
		return rc;
	t->request_context = r.w->h.request_context;
	t->cookie = r.w->h.cookie;
	t->room = r.room;
	t->status = r.status;
	t->n_local = r.n_local;
	t->n_sge = RTE_MIN(r.w->h.n_sge, (uint32_t)NDKD_MAX_SGE);
	memcpy(t->sge, r.w->sge, t->n_sge * sizeof(t->sge[0]));
	/* off the ring for good (an SRQ's other QPs take the next one); released with the result */
	ndk_ring_cons_clear_body(rq_ring(qp), rq_ring(qp)->local, r.slots);
	rq_ring(qp)->local += r.slots;
	return 1;
}

bool
wq_recv_end(struct dqp *qp, const struct wq_taken *t, ndk_status status, uint32_t bytes,
	    uint32_t type, uint64_t token)
{
	bool broken = false;

	if (ndk_ring_prod_space(&qp->rcq->ring, &broken) == 0)
		return false;
	rq_result(qp, t->request_context, t->cookie, status, bytes, type, token);
	return true;
}

/*
 * A QP in error: its posted receives complete CANCELLED. Not those of its
 * SRQ: they are the other QPs' as much as its own.
 */
static void
rq_flush(struct dqp *qp)
{
	static _Thread_local struct wr w;
	bool broken = false;
	uint32_t slots;
	int r = 0;

	if (qp->srq != NULL)
		return;
	while (ndk_ring_prod_space(&qp->rcq->ring, &broken) != 0 &&
	       (r = rq_peek(qp, &w, &slots)) > 0)
		rq_complete(qp, &w, slots, NDK_STATUS_CANCELLED, 0, NDK_ABI_RESULT_RECEIVE, 0);
	if (broken || r < 0)
		qp->client->broken = true;
}

/* ------------------------------------------------------------------------
 * The loop
 * --------------------------------------------------------------------- */

void
wq_drain(struct ectx *x, struct dqp *qp)
{
	uint64_t bytes = UINT64_MAX;

	serve_sq(qp->client, x, qp, UINT32_MAX, &bytes);
	rq_flush(qp);
}

/* The provider's work by turns for qp, out of what is left of the turn. */
static void
step(struct ectx *x, struct dqp *qp, uint64_t *bytes)
{
	if (qp->want_step && *bytes != 0)
		*bytes -= RTE_MIN(x->prov->ops.qp_step(x, qp, *bytes), *bytes);
}

/*
 * c's turn in this pass: its QPs in round robin (the first is the one after
 * where the last turn ran out), NDKD_TURN_BYTES of data among them.
 */
unsigned int
wq_serve(struct client *c, struct ectx *x, unsigned int budget, bool *busy)
{
	uint64_t bytes = NDKD_TURN_BYTES;
	unsigned int k, done = 0;
	uint32_t n = c->n_qps, first = n != 0 ? c->next_qp % n : 0;
	bool owed = false;

	for (k = 0; k < n && !c->broken; k++) {
		uint32_t i = (first + k) % n;
		struct dqp *qp = c->qps[i];

		step(x, qp, &bytes);
		if (qp->state == QP_ERROR && !qp->want_step)
			rq_flush(qp); /* after the receive a step may still owe a result */
		done += serve_sq(c, x, qp, budget, &bytes);
		step(x, qp, &bytes); /* a transfer it just started */
		if (qp->want_step)
			owed = true;
		if (bytes == 0) {
			c->next_qp = i + 1;
			break;
		}
	}
	/*
	 * Bytes moved, or a transfer or result still owed, keep the engine busy: an
	 * engine that counted only new requests would sleep in the middle of
	 * a large write (adaptive polling), and a result waiting for room in a
	 * CQ has no doorbell to wake it.
	 */
	if (bytes != NDKD_TURN_BYTES || owed)
		*busy = true;
	return done;
}
