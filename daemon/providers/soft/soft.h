/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The software provider's insides. Same node, the engines move the bytes
 * themselves, with memmove between the clients' regions as ndkd maps them:
 * reads and writes on the sender's engine (rdma.c), sends through the
 * receiver's engine (send.c); past NDKD_CHUNK_BYTES a chunk per step, in
 * the QP's turns. Nothing here is seen outside providers/soft/.
 */
#ifndef NDKD_SOFT_H
#define NDKD_SOFT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rte_config.h>

#include "../../access.h"
#include "../../provider.h"
#include "../../qp.h"
#include "../../roce/port.h"
#include "../../wq.h"

/*
 * A send on its way from the sender's engine to the receiver's. The sender
 * resolves its SGEs into pieces of its own mapped memory; the receiver's
 * engine copies them into a posted receive and flips 'state' to DONE. Who
 * frees it: the sender when it sees DONE, or, when the sender's QP went away
 * first (ORPHANED), the receiver.
 */
enum send_state {
	SEND_INFLIGHT = 0,
	SEND_DONE,
	SEND_ORPHANED,
};

struct send_msg {
	_Atomic uint32_t state;
	ndk_status status; /* the sender's result; written before DONE */
	uint32_t src_qpn;
	uint32_t dst_qpn;
	uint32_t inv_token; /* SEND_INVALIDATE */
	bool invalidate;
	uint64_t total;
	struct send_msg *next; /* the receiver's pending list */
	uint32_t n_chunks;
	struct dp_chunk chunks[];
};

/* A read or write past NDKD_CHUNK_BYTES, moved a chunk per step (rdma.c). */
struct soft_xfer {
	bool active;
	bool write;
	uint32_t wr_id;
	uint32_t n_sge;
	uint32_t remote_token;
	uint64_t remote_addr;
	uint64_t total, done;
	struct ndk_abi_sge sge[NDKD_MAX_SGE];
};

/*
 * A send past NDKD_CHUNK_BYTES copied into the receive it took, a chunk per
 * step (send.c). Once the copying is over (m NULL) the receive's result may
 * still wait for room in its CQ.
 */
struct soft_rx {
	bool taken;
	struct send_msg *m;
	ndk_status status;
	uint64_t done, total;
	bool invalidate;
	uint32_t inv_token;
	struct wq_taken t;
};

/* Per QP (qp->prov). */
struct soft_qp {
	/* sender side: the send waiting for its receiver, and its work request */
	struct send_msg *send;
	uint32_t send_wr;
	struct soft_qp *inflight_next, *inflight_prev; /* the engine's list */
	/* receiver side: sends that found no receive posted yet (RNR: they wait) */
	struct send_msg *pending_head, *pending_tail;
	struct soft_rx rx;
	struct soft_xfer tx;
};

/* Per engine (x->prov_engine). */
struct soft_engine {
	struct rte_ring *inbox;	   /* sends addressed to this engine's QPs */
	struct rte_ring **inboxes; /* every engine's, by id */
	struct soft_qp *inflight;  /* this engine's QPs with a send on its way */
	struct roce_ports *ports;  /* polled on this engine's queue of each */
};

/* The provider (p->priv). */
struct soft {
	struct rte_ring *inbox[RTE_MAX_LCORE];
	struct roce_ports ports; /* NIC ports for RoCEv2 (roce/port.c) */
};

static inline struct soft_qp *
soft_qp(struct dqp *qp)
{
	return (struct soft_qp *)qp->prov;
}

static inline struct dqp *
soft_dqp(struct soft_qp *s)
{
	return (struct dqp *)((unsigned char *)s - offsetof(struct dqp, prov));
}

/*
 * Whether qp's peer can take a work request now: gone or in error is a
 * broken connection; not yet connected back to us, not up yet. A copy of
 * its table entry in *peer. Inline: every send, read and write asks.
 */
/* Whether qp has work that goes by turns: sends to deliver, a receive to fill, a transfer. */
static inline bool
soft_want_step(struct dqp *qp)
{
	const struct soft_qp *s = soft_qp(qp);

	return s->pending_head != NULL || s->rx.taken || s->tx.active;
}

static inline ndk_status
soft_peer_ready(const struct ectx *x, const struct dqp *qp, struct qpt_entry *peer)
{
	if (!qpt_read(x->qpt, qp->peer_qpn, peer) || peer->state == QP_FREE ||
	    peer->state == QP_ERROR)
		return NDK_STATUS_CONNECTION_DISCONNECTED;
	if (peer->state != QP_RTS || peer->peer_qpn != qp->qpn)
		return NDK_STATUS_CONNECTION_INVALID;
	return NDK_STATUS_SUCCESS;
}

/* rdma.c */
void soft_copy(const struct dp_chunk *src, uint32_t ns, const struct dp_chunk *dst, uint32_t nd);
/* A read or write: done at once (SUCCESS, *bytes set), or PENDING for soft_rdma_step. */
ndk_status soft_rdma(struct ectx *x, struct dqp *qp, const struct wq_op *op, uint32_t wr_id,
		     uint32_t *bytes);
/* Move about budget bytes of qp's transfer in chunks; the bytes moved. */
uint64_t soft_rdma_step(struct ectx *x, struct dqp *qp, uint64_t budget);
/* qp went to error: its transfer completes CANCELLED. */
void soft_rdma_cancel(struct ectx *x, struct dqp *qp);

/* send.c */
ndk_status soft_send(struct ectx *x, struct dqp *qp, const struct wq_op *op, uint32_t wr_id);
/* Take a send another engine (or this one) addressed to one of our QPs. */
void soft_deliver(struct ectx *x, struct send_msg *m);
/* Deliver about budget bytes of qp's waiting sends into its receives; the bytes moved. */
uint64_t soft_deliver_pending(struct ectx *x, struct dqp *qp, uint64_t budget);
/* Sender side: complete the sends that have been received. */
unsigned int soft_collect(struct ectx *x);
/* qp went to error: sends waiting on it fail, a receive it was filling is cancelled. */
void soft_pending_fail(struct dqp *qp);
/* qp is flushed or goes: its send on the way completes CANCELLED, whatever its receiver does. */
void soft_send_cancel(struct ectx *x, struct dqp *qp);

#endif /* NDKD_SOFT_H */
