/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Same-node sends. The sender's engine resolves the send's pieces and puts
 * a message on the receiver's engine's inbox; that engine copies them into
 * the next receive posted, or keeps the message until one is (RC with
 * unlimited receiver-not-ready retries). The sender's work request is
 * PENDING until then, and its QP takes nothing more meanwhile (a window of
 * one): RC completes in order, and a later write must not overtake it.
 */
#include <stdlib.h>
#include <string.h>

#include <ndk/flags.h>

#include <rte_common.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "../../engine.h"
#include "../../mr.h"
#include "../../mrt.h"
#include "soft.h"

/* Receiver side: the send is over, with st for the sender. */
static void
send_finish(struct send_msg *m, ndk_status st)
{
	uint32_t expect = SEND_INFLIGHT;

	m->status = st;
	/* pairs with the sender's acquire in soft_collect() */
	if (!atomic_compare_exchange_strong_explicit(&m->state, &expect, SEND_DONE,
						     memory_order_acq_rel, memory_order_acquire))
		free(m); /* the sender's QP is gone: nobody else will */
}

static void
inflight_unlink(struct soft_qp *s)
{
	LIST_REMOVE(s, inflight_link);
	s->send = NULL;
}

ndk_status
soft_send(struct ectx *x, struct dqp *qp, const struct wq_op *op, uint32_t wr_id)
{
	struct soft_engine *se = x->prov_engine;
	struct soft_qp *s = soft_qp(qp);
	bool inl = (op->w->h.flags & NDK_OP_FLAG_INLINE) != 0;
	uint32_t n = op->n_local;
	struct qpt_entry peer;
	struct send_msg *m;
	ndk_status st;

	st = dqp_peer_ready(x, qp, &peer);
	if (st != NDK_STATUS_SUCCESS)
		return st;
	/* inline data travels in the message itself, after one chunk that points at it */
	m = malloc(sizeof(*m) +
		   (inl ? sizeof(m->chunks[0]) + op->total : n * sizeof(m->chunks[0])));
	if (m == NULL)
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	if (inl) {
		uint8_t *data = (uint8_t *)&m->chunks[1];

		memcpy(data, op->w->data, op->total);
		m->chunks[0] = (struct dp_chunk){ data, op->total };
	} else {
		memcpy(m->chunks, x->local, n * sizeof(m->chunks[0]));
	}
	atomic_init(&m->state, SEND_INFLIGHT);
	m->status = NDK_STATUS_PENDING;
	m->src_qpn = qp->qpn;
	m->dst_qpn = qp->peer_qpn;
	m->invalidate = op->w->h.opcode == NDK_ABI_WR_SEND_INVALIDATE;
	m->inv_token = op->w->h.remote_token;
	m->total = op->total;
	m->next = NULL;
	m->n_chunks = n;
	/* multi-producer ring, sized for every QP's one send in flight */
	if (rte_ring_enqueue_elem(se->inboxes[peer.engine], &m, sizeof(m)) != 0) {
		free(m);
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	}
	engine_bell_ring(&x->bells[peer.engine]);
	s->send = m;
	s->send_wr = wr_id;
	LIST_INSERT_HEAD(&se->inflight, s, inflight_link);
	return NDK_STATUS_PENDING;
}

unsigned int
soft_collect(struct ectx *x)
{
	struct soft_engine *se = x->prov_engine;
	struct soft_qp *s, *next;
	unsigned int n = 0;

	for (s = LIST_FIRST(&se->inflight); s != NULL; s = next) {
		struct send_msg *m = s->send;
		uint32_t wr_id = s->send_wr;
		ndk_status st;
		uint64_t total;

		next = LIST_NEXT(s, inflight_link);
		/* pairs with the receiver's acq_rel in send_finish() */
		if (atomic_load_explicit(&m->state, memory_order_acquire) != SEND_DONE)
			continue;
		st = m->status;
		total = m->total;
		inflight_unlink(s);
		free(m);
		wq_complete(x, soft_dqp(s), wr_id, st, (uint32_t)total);
		n++;
	}
	return n;
}

void
soft_send_cancel(struct ectx *x, struct dqp *qp)
{
	struct soft_qp *s = soft_qp(qp);
	struct send_msg *m = s->send;
	uint32_t expect = SEND_INFLIGHT, wr_id = s->send_wr;

	if (m == NULL)
		return;
	inflight_unlink(s);
	/* the receiver may still hold it: it frees an orphan when it gets to it */
	if (!atomic_compare_exchange_strong_explicit(&m->state, &expect, SEND_ORPHANED,
						     memory_order_acq_rel, memory_order_acquire))
		free(m); /* already done: ours to free */
	/* NDK: flush and close complete every outstanding request */
	wq_complete(x, qp, wr_id, NDK_STATUS_CANCELLED, 0);
}

void
soft_pending_fail(struct dqp *qp)
{
	struct soft_qp *s = soft_qp(qp);

	while (s->pending_head != NULL) {
		struct send_msg *m = s->pending_head;

		s->pending_head = m->next;
		send_finish(m, NDK_STATUS_CONNECTION_DISCONNECTED);
	}
	s->pending_tail = NULL;
	if (s->rx.m != NULL) {
		send_finish(s->rx.m, NDK_STATUS_CONNECTION_DISCONNECTED);
		s->rx.m = NULL;
		s->rx.status = NDK_STATUS_CANCELLED;
	}
	/* a receive it was filling still owes its result: the next step writes it */
	qp->want_step = soft_want_step(qp);
}

/* Whether m's sender is still there to copy from (its QP may have gone). */
static bool
sender_there(const struct ectx *x, struct send_msg *m)
{
	struct qpt_entry src;

	return atomic_load_explicit(&m->state, memory_order_acquire) != SEND_ORPHANED &&
	       qpt_read(x->qpt, m->src_qpn, &src) && src.state != QP_FREE;
}

/* Bytes [off, off + len) of m's pieces, into out. */
static uint32_t
msg_range(const struct send_msg *m, uint64_t off, uint64_t len, struct dp_chunk *out)
{
	uint32_t i, n = 0;

	for (i = 0; i < m->n_chunks && len != 0; i++) {
		uint64_t k;

		if (off >= m->chunks[i].len) {
			off -= m->chunks[i].len;
			continue;
		}
		k = RTE_MIN(m->chunks[i].len - off, len);
		out[n++] = (struct dp_chunk){ m->chunks[i].addr + off, k };
		off = 0;
		len -= k;
	}
	return n;
}

/*
 * Go on filling the receive qp took for a large send, about budget bytes
 * (*moved counts them). True once the receive is done with, result written.
 */
static bool
rx_step(struct ectx *x, struct dqp *qp, uint64_t budget, uint64_t *moved)
{
	struct soft_rx *rx = &soft_qp(qp)->rx;
	struct access_req local = dqp_local_access(qp, MRT_ACCESS_LOCAL_WRITE);

	while (rx->m != NULL && rx->status == NDK_STATUS_SUCCESS && rx->done < rx->total &&
	       *moved < budget) {
		uint64_t k = RTE_MIN((uint64_t)NDKD_CHUNK_BYTES, rx->total - rx->done);
		uint32_t nl = 0, ns;

		if (!sender_there(x, rx->m)) {
			rx->status = NDK_STATUS_CONNECTION_DISCONNECTED;
			break;
		}
		/* the receive's tokens again for each chunk: one invalidated meanwhile stops it */
		if (!access_resolve_sges(x, rx->t.sge, rx->t.n_sge, rx->done, k, &local, x->local,
					 &nl)) {
			rx->status = NDK_STATUS_ACCESS_VIOLATION;
			break;
		}
		ns = msg_range(rx->m, rx->done, k, x->remote);
		soft_copy(x->remote, ns, x->local, nl);
		rx->done += k;
		*moved += k;
	}
	if (rx->m != NULL && (rx->status != NDK_STATUS_SUCCESS || rx->done == rx->total)) {
		send_finish(rx->m, rx->status);
		rx->m = NULL;
	}
	if (rx->m != NULL ||
	    !wq_recv_end(qp, &rx->t, rx->status,
			 rx->status == NDK_STATUS_SUCCESS ? (uint32_t)rx->total : 0,
			 rx->invalidate ? NDK_ABI_RESULT_RECEIVE_INVALIDATE
					: NDK_ABI_RESULT_RECEIVE,
			 rx->invalidate ? rx->inv_token : 0))
		return false;
	rx->taken = false;
	if (rx->status != NDK_STATUS_SUCCESS)
		wq_error(x, qp); /* fails what is still waiting */
	return true;
}

/* The receive's own checks, then the invalidation it carries, for a send of m's size. */
static ndk_status
rx_accept(struct ectx *x, struct dqp *qp, ndk_status recv_status, uint64_t room,
	  const struct send_msg *m)
{
	if (recv_status != NDK_STATUS_SUCCESS)
		return recv_status;
	if (room < m->total)
		return NDK_STATUS_BUFFER_TOO_SMALL;
	if (m->invalidate && !dmr_invalidate_token(x, qp, m->inv_token))
		return NDK_STATUS_ACCESS_VIOLATION;
	return NDK_STATUS_SUCCESS;
}

uint64_t
soft_deliver_pending(struct ectx *x, struct dqp *qp, uint64_t budget)
{
	struct soft_qp *s = soft_qp(qp);
	uint64_t moved = 0;
	struct wq_recv r;

	while (moved < budget || s->rx.taken) {
		struct send_msg *m = s->pending_head;
		ndk_status st;

		if (s->rx.taken) {
			if (!rx_step(x, qp, budget, &moved) || moved >= budget)
				break;
			continue;
		}
		if (m == NULL || qp->state != QP_RTS)
			break;
		if (!sender_there(x, m)) {
			/* nothing to copy from any more */
			s->pending_head = m->next;
			send_finish(m, NDK_STATUS_CONNECTION_DISCONNECTED);
			continue;
		}
		if (m->total > NDKD_CHUNK_BYTES) {
			struct soft_rx *rx = &s->rx;

			if (wq_recv_take(x, qp, &rx->t) <= 0)
				break; /* receiver not ready (or broken): the send waits */
			s->pending_head = m->next;
			rx->taken = true;
			rx->m = m;
			rx->done = 0;
			rx->total = m->total;
			rx->invalidate = m->invalidate;
			rx->inv_token = m->inv_token;
			rx->status = rx_accept(x, qp, rx->t.status, rx->t.room, m);
			continue;
		}
		if (wq_recv_next(x, qp, &r) <= 0)
			break; /* receiver not ready (or broken): the send waits */
		s->pending_head = m->next;
		st = rx_accept(x, qp, r.status, r.room, m);
		if (st == NDK_STATUS_SUCCESS) {
			soft_copy(m->chunks, m->n_chunks, x->local, r.n_local);
			moved += m->total;
		}
		wq_recv_complete(qp, &r, st, st == NDK_STATUS_SUCCESS ? (uint32_t)m->total : 0,
				 m->invalidate ? NDK_ABI_RESULT_RECEIVE_INVALIDATE
					       : NDK_ABI_RESULT_RECEIVE,
				 m->invalidate ? m->inv_token : 0);
		send_finish(m, st);
		if (st != NDK_STATUS_SUCCESS) {
			wq_error(x, qp); /* fails what is still waiting */
			break;
		}
	}
	if (s->pending_head == NULL)
		s->pending_tail = NULL;
	qp->want_step = soft_want_step(qp);
	return moved;
}

void
soft_deliver(struct ectx *x, struct send_msg *m)
{
	struct qpt_entry e;
	struct soft_qp *s;

	if (!qpt_read(x->qpt, m->dst_qpn, &e) || e.state == QP_FREE || e.engine != x->engine) {
		send_finish(m, NDK_STATUS_CONNECTION_DISCONNECTED);
		return;
	}
	/* RC: the receiver must be connected back to the sender, and not in error */
	if (e.state != QP_RTS || e.peer_qpn != m->src_qpn) {
		send_finish(m, e.state == QP_ERROR ? NDK_STATUS_CONNECTION_DISCONNECTED
						   : NDK_STATUS_CONNECTION_INVALID);
		return;
	}
	s = soft_qp(e.qp);
	m->next = NULL;
	if (s->pending_tail != NULL)
		s->pending_tail->next = m;
	else
		s->pending_head = m;
	s->pending_tail = m;
	/* copied in the receiving QP's turn, out of its client's share of the pass */
	e.qp->want_step = true;
}
