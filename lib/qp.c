/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Queue pairs. A work request is one 64-byte header slot plus SGE (or page
 * array) slots, written into the send ring in the adapter's arena and
 * published with one store-release per batch. Nothing here takes a lock or
 * makes a syscall: NDK serialises calls per queue.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "ndk_priv.h"

static const struct ndk_qp_dispatch qp_dispatch;

static struct qp *
to_qp(struct ndk_qp *q)
{
	return (struct qp *)q;
}

void
qp_free(struct qp *qp)
{
	struct pd *pd = qp->pd;
	struct adapter *ad = pd->ad;

	if (qp->connecting != NULL)
		connector_forget_qp(qp->connecting);
	if (qp->connector != NULL)
		connector_forget_qp(qp->connector);
	if (qp->prev != NULL)
		qp->prev->next = qp->next;
	else if (pd->qps == qp)
		pd->qps = qp->next;
	if (qp->next != NULL)
		qp->next->prev = qp->prev;
	ndk_mem_free(&ad->pub, qp->sq_mem);
	ndk_mem_free(&ad->pub, qp->rq_mem);
	free(qp);
}

static uint32_t
result_type(uint8_t opcode)
{
	switch (opcode) {
	case NDK_ABI_WR_SEND:
	case NDK_ABI_WR_SEND_INVALIDATE:
		return NDK_ABI_RESULT_SEND;
	case NDK_ABI_WR_READ:
		return NDK_ABI_RESULT_READ;
	case NDK_ABI_WR_WRITE:
		return NDK_ABI_RESULT_WRITE;
	case NDK_ABI_WR_FAST_REGISTER:
		return NDK_ABI_RESULT_FAST_REGISTER;
	case NDK_ABI_WR_INVALIDATE:
		return NDK_ABI_RESULT_INVALIDATE;
	case NDK_ABI_WR_BIND:
		return NDK_ABI_RESULT_BIND;
	default:
		return NDK_ABI_RESULT_RECEIVE;
	}
}

/*
 * ndkd hands a queue's slots back only once their work request has a result
 * (daemon/wq.c), so what lies between its consumer index and ours was never
 * answered: each gets DEVICE_REMOVED on its CQ. Deferred (unpublished) ones
 * too: their calls returned SUCCESS.
 */
static uint32_t
ring_fail(struct qp *qp, struct ndk_ring *r, struct cq *cq)
{
	uint32_t pos = atomic_load_explicit(r->kcons, memory_order_acquire), n = 0;

	while (pos != r->local) {
		const struct ndk_abi_wqe *h = ndk_ring_slot(r, pos);
		struct ndk_abi_result res = {
			.status = NDK_STATUS_DEVICE_REMOVED,
			.qp_context = (uint64_t)(uintptr_t)qp->qp_context,
			.request_context = h->request_context,
			.type = result_type(h->opcode),
			.cookie = h->cookie,
		};

		/* our own slots, but a wild app may have written them: stay in bounds */
		if (h->n_slots == 0 || h->n_slots > r->local - pos || !cq_add_lost(cq, &res))
			break;
		pos += h->n_slots;
		n++;
	}
	return n;
}

uint32_t
qp_fail_all(struct adapter *ad)
{
	struct pd *pd;
	struct qp *qp;
	uint32_t n = 0;

	for (pd = ad->pds; pd != NULL; pd = pd->next) {
		for (qp = pd->qps; qp != NULL; qp = qp->next) {
			n += ring_fail(qp, &qp->sq, qp->icq);
			/* an SRQ's receives are no QP's: dropped (<ndk/srq.h>) */
			if (qp->srq == NULL)
				n += ring_fail(qp, &qp->rq, qp->rcq);
		}
	}
	return n;
}

static void
sq_publish(struct qp *qp)
{
	if (qp->unpublished != 0) {
		ndk_ring_prod_publish(&qp->sq);
		qp->unpublished = 0;
		bell_ring(qp->pd->ad);
		ndk_ring_prod_prefetch(&qp->sq, 3);
	}
}

/* NDK: a call that fails publishes what was deferred before it, then says why. */
static ndk_status
qp_refuse(struct qp *qp, ndk_status status)
{
	sq_publish(qp);
	return status;
}

/*
 * INLINE: gather the SGEs' bytes into the request itself, so the app may
 * reuse its buffers as soon as the call returns (no token needed: nothing is
 * read from its memory later). h carries the length; *len the byte count.
 */
static ndk_status
gather_inline(struct qp *qp, const struct ndk_sge *sgl, uint32_t n_sge, uint8_t *buf, uint32_t *len)
{
	uint32_t i, total = 0;

	for (i = 0; i < n_sge; i++) {
		if (sgl[i].length > qp->max_inline - total)
			return NDK_STATUS_INVALID_PARAMETER;
		memcpy(buf + total, sgl[i].virtual_address, sgl[i].length);
		total += sgl[i].length;
	}
	*len = total;
	return NDK_STATUS_SUCCESS;
}

/*
 * Write one work request: the header, then body_slots slots from body.
 * NDK: when a call fails, what was deferred before it is published first.
 */
static ndk_status
sq_post(struct qp *qp, struct ndk_abi_wqe *h, const void *body, uint32_t body_bytes, uint32_t flags)
{
	uint32_t slots = 1 + (body_bytes + NDK_ABI_ENTRY_SIZE - 1) / NDK_ABI_ENTRY_SIZE, i;
	bool broken = false;
	uint8_t *slot;

	if (qp->pd->ad->gone)
		return NDK_STATUS_DEVICE_REMOVED;
	if (ndk_ring_prod_space_n(&qp->sq, slots, &broken) < slots)
		return qp_refuse(qp, NDK_STATUS_INSUFFICIENT_RESOURCES);
	h->n_slots = (uint8_t)slots;
	memcpy(ndk_ring_prod_next(&qp->sq), h, sizeof(*h));
	for (i = 1; i < slots; i++) {
		uint32_t off = (i - 1) * NDK_ABI_ENTRY_SIZE;
		uint32_t len = body_bytes - off < NDK_ABI_ENTRY_SIZE ? body_bytes - off
								     : NDK_ABI_ENTRY_SIZE;

		slot = ndk_ring_prod_next(&qp->sq);
		memcpy(slot, (const uint8_t *)body + off, len);
		if (len < NDK_ABI_ENTRY_SIZE)
			memset(slot + len, 0, NDK_ABI_ENTRY_SIZE - len);
	}
	qp->unpublished += slots;
	if ((flags & NDK_OP_FLAG_DEFER) == 0)
		sq_publish(qp);
	return NDK_STATUS_SUCCESS;
}

/*
 * A send or write with its data: inline (the bytes gathered into the
 * request) or as SGEs. Flags outside 'allowed' (plus INLINE where
 * inline_ok) are refused, and what was deferred before goes out first.
 */
static ndk_status
post_data_wr(struct qp *qp, struct ndk_abi_wqe *h, const struct ndk_sge *sgl, uint32_t n_sge,
	     uint32_t allowed, bool inline_ok)
{
	struct ndk_abi_sge sges[NDK_LIB_MAX_SGE];
	uint8_t data[NDK_ABI_MAX_INLINE];
	uint32_t flags = h->flags, i, len;

	if (inline_ok)
		allowed |= NDK_OP_FLAG_INLINE;
	if ((flags & ~allowed) != 0 || n_sge > qp->max_isge || n_sge > NDK_LIB_MAX_SGE ||
	    (n_sge != 0 && sgl == NULL) ||
	    ((flags & NDK_OP_FLAG_INLINE) &&
	     gather_inline(qp, sgl, n_sge, data, &len) != NDK_STATUS_SUCCESS))
		return qp_refuse(qp, NDK_STATUS_INVALID_PARAMETER);
	if (flags & NDK_OP_FLAG_INLINE) {
		h->n_sge = 0;
		h->length = len;
		return sq_post(qp, h, data, len, flags);
	}
	h->n_sge = (uint16_t)n_sge;
	for (i = 0; i < n_sge; i++)
		sges[i] = (struct ndk_abi_sge){
			.addr = sgl[i].logical_address,
			.length = sgl[i].length,
			.token = sgl[i].memory_region_token,
		};
	return sq_post(qp, h, sges, n_sge * sizeof(sges[0]), flags);
}

static ndk_status
qp_rdma(struct qp *qp, uint8_t opcode, void *ctx, const struct ndk_sge *sgl, uint32_t n_sge,
	uint64_t raddr, uint32_t rtoken, uint32_t flags)
{
	struct ndk_abi_wqe h = {
		.opcode = opcode,
		.flags = flags,
		.request_context = (uint64_t)(uintptr_t)ctx,
		.remote_addr = raddr,
		.remote_token = rtoken,
	};

	uint32_t allowed = NDK_OP_FLAG_SILENT_SUCCESS | NDK_OP_FLAG_READ_FENCE | NDK_OP_FLAG_DEFER;

	/* the first SGE's MR (fast-registered) is invalidated when the read is done */
	if (opcode == NDK_ABI_WR_READ && n_sge > 0)
		allowed |= NDK_OP_FLAG_RDMA_READ_LOCAL_INVALIDATE;
	return post_data_wr(qp, &h, sgl, n_sge, allowed, opcode == NDK_ABI_WR_WRITE);
}

static ndk_status
qp_read(struct ndk_qp *q, void *ctx, const struct ndk_sge *sgl, uint32_t n_sge, uint64_t raddr,
	uint32_t rtoken, uint32_t flags)
{
	return qp_rdma(to_qp(q), NDK_ABI_WR_READ, ctx, sgl, n_sge, raddr, rtoken, flags);
}

static ndk_status
qp_write(struct ndk_qp *q, void *ctx, const struct ndk_sge *sgl, uint32_t n_sge, uint64_t raddr,
	 uint32_t rtoken, uint32_t flags)
{
	return qp_rdma(to_qp(q), NDK_ABI_WR_WRITE, ctx, sgl, n_sge, raddr, rtoken, flags);
}

static ndk_status
qp_fast_register(struct ndk_qp *q, void *ctx, struct ndk_mr *m, uint32_t page_count,
		 const ndk_logical_address *pages, uint32_t fbo, size_t length, void *base_va,
		 uint32_t flags)
{
	const uint32_t allowed = NDK_OP_FLAG_SILENT_SUCCESS | NDK_OP_FLAG_READ_FENCE |
				 NDK_OP_FLAG_ALLOW_REMOTE_READ | NDK_OP_FLAG_ALLOW_LOCAL_WRITE |
				 NDK_OP_FLAG_ALLOW_REMOTE_WRITE | NDK_OP_FLAG_RDMA_READ_SINK |
				 NDK_OP_FLAG_DEFER;
	const uint32_t remote = NDK_OP_FLAG_ALLOW_REMOTE_READ | 0x20u;
	struct qp *qp = to_qp(q);
	struct mr *mr = (struct mr *)m;
	struct ndk_abi_wqe h = {
		.opcode = NDK_ABI_WR_FAST_REGISTER,
		.flags = flags,
		.request_context = (uint64_t)(uintptr_t)ctx,
		.remote_addr = (uint64_t)(uintptr_t)base_va,
		.mr_handle = mr != NULL ? mr->handle : 0,
		.length = length,
		.page_count = page_count,
		.fbo = fbo,
		.cookie = mr != NULL ? mr_id(mr) : 0,
	};
	uint32_t next;
	ndk_status st;

	/* an MR not initialised yet has no token to move on from */
	if (mr == NULL || !mr->fast_register || mr->token == 0 || mr->pd != qp->pd ||
	    (flags & ~allowed) != 0 || pages == NULL || page_count == 0 ||
	    page_count > qp->pd->ad->info.frmr_page_count)
		return qp_refuse(qp, NDK_STATUS_INVALID_PARAMETER);
	/* NDK: a QP that is not connected refuses the call itself */
	if (!qp->connected)
		return qp_refuse(qp, NDK_STATUS_CONNECTION_INVALID);
	/* NDK: remote access asked of an MR initialised without it */
	if ((flags & remote) != 0 && !mr->remote_ok)
		return qp_refuse(qp, NDK_STATUS_ACCESS_VIOLATION);
	/*
	 * The next token is ours to pick (the variant moves on), so it is the
	 * MR's as soon as this returns, with or without a result to read.
	 */
	next = token_next(mr->token);
	h.remote_token = next;
	st = sq_post(qp, &h, pages, page_count * sizeof(pages[0]), flags);
	if (st == NDK_STATUS_SUCCESS)
		mr->token = next;
	return st;
}

static ndk_status
qp_invalidate(struct ndk_qp *q, void *ctx, struct ndk_object_header *obj, uint32_t flags)
{
	const uint32_t allowed =
		NDK_OP_FLAG_SILENT_SUCCESS | NDK_OP_FLAG_READ_FENCE | NDK_OP_FLAG_DEFER;
	struct qp *qp = to_qp(q);
	struct mr *mr = (struct mr *)obj;
	struct ndk_abi_wqe h = {
		.opcode = NDK_ABI_WR_INVALIDATE,
		.flags = flags,
		.request_context = (uint64_t)(uintptr_t)ctx,
	};

	/* NDK: a window, or an MR registered by fast register (never by register_mr) */
	if (obj == NULL || (flags & ~allowed) != 0 ||
	    (obj->object_type != NDK_OBJECT_TYPE_MW &&
	     (obj->object_type != NDK_OBJECT_TYPE_MR || !mr->fast_register)))
		return qp_refuse(qp, NDK_STATUS_INVALID_PARAMETER);
	if (!qp->connected)
		return qp_refuse(qp, NDK_STATUS_CONNECTION_INVALID);
	h.mr_handle =
		obj->object_type == NDK_OBJECT_TYPE_MW ? ((struct mw *)obj)->handle : mr->handle;
	return sq_post(qp, &h, NULL, 0, flags);
}

static ndk_status
qp_post_send(struct qp *qp, uint8_t opcode, void *ctx, const struct ndk_sge *sgl, uint32_t n_sge,
	     uint32_t flags, uint32_t token)
{
	struct ndk_abi_wqe h = {
		.opcode = opcode,
		.flags = flags,
		.request_context = (uint64_t)(uintptr_t)ctx,
		.remote_token = token,
	};

	return post_data_wr(qp, &h, sgl, n_sge,
			    NDK_OP_FLAG_SILENT_SUCCESS | NDK_OP_FLAG_READ_FENCE |
				    NDK_OP_FLAG_SEND_AND_SOLICIT_EVENT | NDK_OP_FLAG_DEFER,
			    true);
}

static ndk_status
qp_send(struct ndk_qp *q, void *ctx, const struct ndk_sge *sgl, uint32_t n, uint32_t flags)
{
	return qp_post_send(to_qp(q), NDK_ABI_WR_SEND, ctx, sgl, n, flags, 0);
}

static ndk_status
qp_send_and_invalidate(struct ndk_qp *q, void *ctx, const struct ndk_sge *sgl, uint32_t n,
		       uint32_t flags, uint32_t token)
{
	return qp_post_send(to_qp(q), NDK_ABI_WR_SEND_INVALIDATE, ctx, sgl, n, flags, token);
}

void
recv_post(struct ndk_ring *r, void *ctx, const struct ndk_sge *sgl, uint32_t n_sge, uint32_t slots)
{
	struct ndk_abi_sge sges[NDK_LIB_MAX_SGE];
	struct ndk_abi_wqe h = {
		.opcode = NDK_ABI_WR_RECEIVE,
		.n_slots = (uint8_t)slots,
		.n_sge = (uint16_t)n_sge,
		.request_context = (uint64_t)(uintptr_t)ctx,
	};
	uint32_t i, left;
	uint8_t *slot;

	for (i = 0; i < n_sge; i++)
		sges[i] = (struct ndk_abi_sge){
			.addr = sgl[i].logical_address,
			.length = sgl[i].length,
			.token = sgl[i].memory_region_token,
		};
	memcpy(ndk_ring_prod_next(r), &h, sizeof(h));
	for (i = 1; i < slots; i++) {
		slot = ndk_ring_prod_next(r);
		memset(slot, 0, NDK_ABI_ENTRY_SIZE);
		if ((i - 1) * NDK_ABI_SGE_PER_SLOT >= n_sge)
			continue; /* an SRQ's padding */
		left = n_sge - (i - 1) * NDK_ABI_SGE_PER_SLOT;
		memcpy(slot, &sges[(i - 1) * NDK_ABI_SGE_PER_SLOT],
		       (left < NDK_ABI_SGE_PER_SLOT ? left : NDK_ABI_SGE_PER_SLOT) *
			       sizeof(sges[0]));
	}
	ndk_ring_prod_publish(r);
}

/* Receives go on the receive ring, published at once (NDK receive has no DEFER). */
static ndk_status
qp_receive(struct ndk_qp *q, void *ctx, const struct ndk_sge *sgl, uint32_t n_sge)
{
	struct qp *qp = to_qp(q);
	uint32_t slots = ndk_abi_wqe_slots(n_sge);
	bool broken = false;

	if (qp->pd->ad->gone)
		return NDK_STATUS_DEVICE_REMOVED;
	/* its receives go on its SRQ (ndk_srq_receive) */
	if (qp->srq != NULL)
		return NDK_STATUS_INVALID_DEVICE_REQUEST;
	if (n_sge > qp->max_rsge || (n_sge != 0 && sgl == NULL))
		return NDK_STATUS_INVALID_PARAMETER;
	if (ndk_ring_prod_space_n(&qp->rq, slots, &broken) < slots)
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	recv_post(&qp->rq, ctx, sgl, n_sge, slots);
	bell_ring(qp->pd->ad);
	return NDK_STATUS_SUCCESS;
}

static ndk_status
qp_bind(struct ndk_qp *q, void *ctx, struct ndk_mr *m, struct ndk_mw *w, void *va, size_t len,
	uint32_t flags)
{
	const uint32_t allowed = NDK_OP_FLAG_SILENT_SUCCESS | NDK_OP_FLAG_READ_FENCE |
				 NDK_OP_FLAG_ALLOW_REMOTE_READ | NDK_OP_FLAG_ALLOW_REMOTE_WRITE |
				 NDK_OP_FLAG_DEFER;
	struct qp *qp = to_qp(q);
	struct mr *mr = (struct mr *)m;
	struct mw *mw = (struct mw *)w;
	struct ndk_abi_wqe h = {
		.opcode = NDK_ABI_WR_BIND,
		.flags = flags,
		.request_context = (uint64_t)(uintptr_t)ctx,
		.remote_addr = (uint64_t)(uintptr_t)va,
		.length = len,
	};
	uint32_t next;
	ndk_status st;

	if (mr == NULL || mw == NULL || mr->pd != qp->pd || mw->pd != qp->pd || mw->closing ||
	    (flags & ~allowed) != 0 || va == NULL || len == 0)
		return qp_refuse(qp, NDK_STATUS_INVALID_PARAMETER);
	if (!qp->connected)
		return qp_refuse(qp, NDK_STATUS_CONNECTION_INVALID);
	h.mr_handle = mr->handle;
	h.mw_handle = mw->handle;
	/* as for fast register: the next token is ours to name, so it is known now */
	next = token_next(mw->token);
	h.remote_token = next;
	st = sq_post(qp, &h, NULL, 0, flags);
	if (st == NDK_STATUS_SUCCESS)
		mw->token = next;
	return st;
}

static void
flush_done(struct adapter *ad, const struct req_slot *req, ndk_status status, const uint64_t *out)
{
	(void)ad, (void)req, (void)status, (void)out;
}

static void
qp_flush(struct ndk_qp *q)
{
	struct qp *qp = to_qp(q);
	struct ndk_abi_sqe sqe = { .opcode = NDK_ABI_OP_QP_FLUSH, .handle = qp->handle };

	/* NDK_FN_FLUSH returns nothing: the CANCELLED results are the answer */
	sq_publish(qp);
	post_ctrl(qp->pd->ad, &sqe, 0, flush_done, NULL, NULL, qp, 0);
}

static void
qp_get_address(struct ndk_qp *q, struct ndk_qp_address *a)
{
	*a = (struct ndk_qp_address){ .family = NDK_ADDRESS_LOCAL, .qpn = to_qp(q)->qpn };
}

static ndk_status
qp_get_rocev2_address(struct ndk_qp *q, uint32_t gid_index, struct ndk_qp_address *a)
{
	struct qp *qp = to_qp(q);
	const struct ndk_abi_adapter_info *i = &qp->pd->ad->info;
	uint32_t ip;

	if (a == NULL)
		return NDK_STATUS_INVALID_PARAMETER;
	if (i->rocev2_ipv4 == 0)
		return NDK_STATUS_NOT_SUPPORTED;
	if (gid_index > sizeof(i->rocev2_ipv4_more) / sizeof(i->rocev2_ipv4_more[0]))
		return NDK_STATUS_INVALID_PARAMETER;
	ip = gid_index == 0 ? i->rocev2_ipv4 : i->rocev2_ipv4_more[gid_index - 1];
	if (ip == 0)
		return NDK_STATUS_INVALID_PARAMETER;
	*a = (struct ndk_qp_address){
		.family = NDK_ADDRESS_ROCEV2,
		.qpn = qp->wire_qpn,
		.ip = { [10] = 0xff,
			[11] = 0xff,
			[12] = (uint8_t)(ip >> 24),
			[13] = (uint8_t)(ip >> 16),
			[14] = (uint8_t)(ip >> 8),
			[15] = (uint8_t)ip },
		.psn = qp->psn,
		.mtu = i->rocev2_mtu,
	};
	return NDK_STATUS_SUCCESS;
}

static void
connect_done(struct adapter *ad, const struct req_slot *req, ndk_status status, const uint64_t *out)
{
	(void)out;
	/* answered in order, before any close of the QP: it is still here */
	if (status == NDK_STATUS_SUCCESS)
		((struct qp *)req->obj)->connected = true;
	CALLBACK(ad, ((ndk_fn_request_completion)req->user_cb)(req->context, status));
}

static ndk_status
qp_connect(struct ndk_qp *q, const struct ndk_qp_address *peer,
	   ndk_fn_request_completion completion, void *context)
{
	struct qp *qp = to_qp(q);
	struct ndk_abi_sqe sqe = { .opcode = NDK_ABI_OP_QP_CONNECT, .handle = qp->handle };

	if (peer == NULL || completion == NULL)
		return NDK_STATUS_INVALID_PARAMETER;
	if (peer->family == NDK_ADDRESS_ROCEV2) {
		if ((peer->port != 0 && peer->port != 4791) || peer->psn > 0xffffff ||
		    peer->sgid > 4)
			return NDK_STATUS_INVALID_PARAMETER;
		sqe.opcode = NDK_ABI_OP_QP_CONNECT_ROCEV2;
		sqe.args[0] = peer->qpn | (uint64_t)peer->psn << 32;
		memcpy(&sqe.args[1], peer->ip, 16);
		sqe.args[3] = peer->mtu;
		sqe.args[4] = peer->sgid;
	} else if (peer->family == NDK_ADDRESS_LOCAL) {
		sqe.args[0] = peer->qpn;
	} else {
		return NDK_STATUS_INVALID_PARAMETER;
	}
	return post_ctrl(qp->pd->ad, &sqe, 0, connect_done, (void (*)(void))completion, context, qp,
			 0);
}

/* What a QP holds open: its CQs, its SRQ, its PD. */
struct qp_antecedents {
	struct pd *pd;
	struct cq *rcq, *icq;
	struct srq *srq;
};

/* Free qp; its antecedents stay held until ante_put (after the QP's last callback). */
static struct qp_antecedents
qp_free_held(struct qp *qp)
{
	struct qp_antecedents a = { qp->pd, qp->rcq, qp->icq, qp->srq };

	qp_free(qp);
	return a;
}

/* They may finish closing now. */
static void
ante_put(const struct qp_antecedents *a)
{
	lobj_put(&a->rcq->o);
	lobj_put(&a->icq->o);
	if (a->srq != NULL)
		lobj_put(&a->srq->o);
	lobj_put(&a->pd->o);
}

static void
qp_destroyed(struct adapter *ad, const struct req_slot *req, ndk_status status, const uint64_t *out)
{
	ndk_fn_close_completion cb = (ndk_fn_close_completion)req->user_cb;
	struct qp_antecedents a = qp_free_held(req->obj);

	(void)status, (void)out;
	if (cb != NULL)
		CALLBACK(ad, cb(req->context));
	ante_put(&a);
}

static ndk_status
qp_close(struct ndk_object_header *obj, ndk_fn_close_completion completion, void *context)
{
	struct qp *qp = (struct qp *)obj;
	struct ndk_abi_sqe sqe = { .opcode = NDK_ABI_OP_QP_DESTROY, .handle = qp->handle };
	ndk_status st;

	if (qp->closing)
		return NDK_STATUS_INVALID_DEVICE_STATE;
	/* what is deferred goes to ndkd first: it completes CANCELLED before the close */
	sq_publish(qp);
	st = post_ctrl(qp->pd->ad, &sqe, 0, qp_destroyed, (void (*)(void))completion, context, qp,
		       0);
	if (st == NDK_STATUS_PENDING) {
		qp->closing = true;
	} else if (st == NDK_STATUS_DEVICE_REMOVED) {
		/* ndkd is gone and took the QP with it: done, no callback */
		struct qp_antecedents a = qp_free_held(qp);

		ante_put(&a);
		return NDK_STATUS_SUCCESS;
	}
	return st;
}

static const struct ndk_qp_dispatch qp_dispatch = {
	.close = qp_close,
	.query_extension = no_extension,
	.flush = qp_flush,
	.send = qp_send,
	.receive = qp_receive,
	.bind = qp_bind,
	.fast_register = qp_fast_register,
	.invalidate = qp_invalidate,
	.read = qp_read,
	.write = qp_write,
	.send_and_invalidate = qp_send_and_invalidate,
	.get_address = qp_get_address,
	.connect = qp_connect,
	.get_rocev2_address = qp_get_rocev2_address,
};

static void
qp_created(struct adapter *ad, const struct req_slot *req, ndk_status status, const uint64_t *out)
{
	ndk_fn_create_completion cb = (ndk_fn_create_completion)req->user_cb;
	struct qp *qp = req->obj;

	if (status != NDK_STATUS_SUCCESS) {
		struct qp_antecedents a = qp_free_held(qp);

		CALLBACK(ad, cb(req->context, status, NULL));
		ante_put(&a);
		return;
	}
	qp->handle = (uint32_t)out[0];
	qp->qpn = (uint32_t)out[1];
	qp->psn = (uint32_t)out[2];
	qp->wire_qpn = (uint32_t)out[3];
	CALLBACK(ad, cb(req->context, NDK_STATUS_SUCCESS, &qp->pub.header));
}

/* A QP with its own receive ring (srq NULL) or taking its receives from srq. */
static ndk_status
qp_new(struct pd *pd, struct ndk_cq *rcq, struct ndk_cq *icq, struct srq *srq, void *qp_context,
       uint32_t rq_depth, uint32_t iq_depth, uint32_t max_rsge, uint32_t max_isge,
       uint32_t inline_size, ndk_fn_create_completion completion, void *context)
{
	struct adapter *ad = pd->ad;
	struct ndk_abi_sqe sqe = { .opcode = srq != NULL ? NDK_ABI_OP_QP_CREATE_WITH_SRQ
							 : NDK_ABI_OP_QP_CREATE,
				   .handle = pd->o.handle };
	uint32_t wr_slots, sq_entries, rq_entries = 0;
	struct qp *qp;
	ndk_status st;

	if (completion == NULL || rcq == NULL || icq == NULL || iq_depth == 0 ||
	    iq_depth > ad->info.max_initiator_queue_depth ||
	    max_isge > ad->info.max_initiator_request_sge || max_isge > NDK_LIB_MAX_SGE ||
	    rq_depth > ad->info.max_receive_queue_depth ||
	    max_rsge > ad->info.max_receive_request_sge || max_rsge > NDK_LIB_MAX_SGE ||
	    inline_size > ad->info.max_inline_data_size)
		return NDK_STATUS_INVALID_PARAMETER;
	/* The biggest WR: all its SGEs, a fast register of FRMRPageCount pages, or inline data. */
	wr_slots = ndk_abi_wr_max_slots(max_isge, ad->info.frmr_page_count, inline_size);
	sq_entries = ndk_abi_queue_entries(iq_depth, wr_slots);
	if (srq == NULL)
		rq_entries =
			ndk_abi_queue_entries(rq_depth ? rq_depth : 1, ndk_abi_wqe_slots(max_rsge));
	if (sq_entries == 0 || (srq == NULL && rq_entries == 0))
		return NDK_STATUS_INVALID_PARAMETER;
	qp = calloc(1, sizeof(*qp));
	if (qp == NULL)
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	qp->pd = pd;
	qp->rcq = (struct cq *)rcq;
	qp->icq = (struct cq *)icq;
	qp->srq = srq;
	qp->qp_context = qp_context;
	qp->max_isge = max_isge;
	qp->max_rsge = max_rsge;
	qp->max_inline = inline_size;
	qp->sq_mem = ring_alloc(ad, sq_entries, &qp->sq);
	ndk_ring_set_stamp_wr(&qp->sq);
	if (srq == NULL) {
		qp->rq_mem = ring_alloc(ad, rq_entries, &qp->rq);
		ndk_ring_set_stamp_wr(&qp->rq);
	}
	qp->pub.header.version = (struct ndk_version){ NDK_VERSION_MAJOR, NDK_VERSION_MINOR };
	qp->pub.header.object_type = NDK_OBJECT_TYPE_QP;
	qp->pub.dispatch = &qp_dispatch;
	qp->next = pd->qps;
	if (pd->qps != NULL)
		pd->qps->prev = qp;
	pd->qps = qp;
	if (qp->sq_mem == NULL || (srq == NULL && qp->rq_mem == NULL)) {
		qp_free(qp);
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	}
	sqe.qp_create = (struct ndk_abi_qp_create){
		.rcq = qp->rcq->o.handle,
		.icq = qp->icq->o.handle,
		.sq_ring = (uint64_t)(uintptr_t)qp->sq_mem,
		/* with an SRQ: its handle (ndkd's QP_CREATE_WITH_SRQ) */
		.rq_ring = srq != NULL ? srq->o.handle : (uint64_t)(uintptr_t)qp->rq_mem,
		.sq_entries = sq_entries,
		.rq_entries = rq_entries,
		.max_isge = (uint16_t)max_isge,
		.max_rsge = srq != NULL ? 0 : (uint16_t)max_rsge,
		.max_inline = inline_size,
		.qp_context = (uint64_t)(uintptr_t)qp_context,
	};
	st = post_ctrl(ad, &sqe, 0, qp_created, (void (*)(void))completion, context, qp, 0);
	if (st != NDK_STATUS_PENDING) {
		qp_free(qp);
		return st;
	}
	/* a QP is a successor of its PD, its CQs and its SRQ: they close after it */
	lobj_hold(&pd->o);
	lobj_hold(&qp->rcq->o);
	lobj_hold(&qp->icq->o);
	if (srq != NULL)
		lobj_hold(&srq->o);
	return NDK_STATUS_PENDING;
}

ndk_status
qp_create(struct ndk_pd *p, struct ndk_cq *rcq, struct ndk_cq *icq, void *qp_context,
	  uint32_t rq_depth, uint32_t iq_depth, uint32_t max_rsge, uint32_t max_isge,
	  uint32_t inline_size, ndk_fn_create_completion completion, void *context,
	  struct ndk_qp **out)
{
	(void)out; /* always PENDING: the object comes to the completion */
	return qp_new((struct pd *)p, rcq, icq, NULL, qp_context, rq_depth, iq_depth, max_rsge,
		      max_isge, inline_size, completion, context);
}

ndk_status
qp_create_with_srq(struct ndk_pd *p, struct ndk_cq *rcq, struct ndk_cq *icq, struct ndk_srq *s,
		   void *qp_context, uint32_t iq_depth, uint32_t max_isge, uint32_t inline_size,
		   ndk_fn_create_completion completion, void *context, struct ndk_qp **out)
{
	struct pd *pd = (struct pd *)p;
	struct srq *srq = (struct srq *)s;

	(void)out; /* always PENDING: the object comes to the completion */
	/* receives are checked against one PD: the QP's is the SRQ's */
	if (srq == NULL || srq->pd != pd || srq->o.closing)
		return NDK_STATUS_INVALID_PARAMETER;
	return qp_new(pd, rcq, icq, srq, qp_context, 0, iq_depth, srq->max_rsge, max_isge,
		      inline_size, completion, context);
}

void
ndk_qp_opts_init(struct ndk_qp_opts *opts, size_t opts_size)
{
	const struct ndk_qp_opts def = {
		.receive_queue_depth = 64,
		.initiator_queue_depth = 64,
		.max_receive_sge = 1,
		.max_initiator_sge = 1,
	};
	size_t n = opts_size < sizeof(def) ? opts_size : sizeof(def);

	if (opts == NULL || opts_size < sizeof(opts->opts_size))
		return;
	memcpy(opts, &def, n);
	opts->opts_size = opts_size;
}
