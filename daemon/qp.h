/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * CQs, QPs and the work requests on them. A QP's send queue is served by the
 * engine that owns its client: it copies each work request out of shared
 * memory, checks every token, address and length against the MR table, moves
 * the bytes with memcpy between the two clients' mapped regions (same node),
 * and writes the result to the QP's CQ.
 *
 * The QP table gives every QP a node-wide number, qpn = (index << 8) | tag,
 * so a peer can be named, and looked up by other engines, like a token.
 */
#ifndef NDKD_QP_H
#define NDKD_QP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "ndkd.h"

enum qp_state {
	QP_FREE = 0,
	QP_INIT,  /* created, not connected */
	QP_RTS,	  /* connected to its peer (both sides named each other) */
	QP_ERROR, /* a failed access or a flush: everything completes CANCELLED */
};

struct qpt_entry {
	_Atomic uint32_t seq;
	uint8_t state; /* enum qp_state */
	uint8_t tag;
	uint16_t reserved;
	uint32_t client_id;
	uint32_t pd;
	uint32_t peer_qpn;
	uint32_t engine; /* the engine that owns the QP */
	struct dqp *qp;	 /* dereferenced by that engine only */
};
_Static_assert(sizeof(struct qpt_entry) == 32, "QP table entry");

struct qpt {
	struct qpt_entry *entries;
	uint32_t n_entries;
	struct rte_ring *free_pool;
};

int qpt_create(struct qpt *t, uint32_t n_entries);
void qpt_destroy(struct qpt *t);
/* A consistent copy of the entry qpn names; false when qpn is malformed. */
bool qpt_read(const struct qpt *t, uint32_t qpn, struct qpt_entry *out);

struct dp_chunk {
	uint8_t *addr;
	uint64_t len;
};

struct dcq {
	struct ndk_ring ring; /* ndkd produces */
	uint32_t handle;
	uint32_t n_qps;
	struct client *client; /* for its eventfd */
};

struct dqp {
	struct ndk_ring sq; /* ndkd consumes */
	struct ndk_ring rq;
	uint32_t handle;
	uint32_t pd;
	uint32_t qpn;
	uint32_t peer_qpn;
	uint64_t qp_context;
	struct dcq *rcq;
	struct dcq *icq;
	uint32_t max_isge;
	uint32_t max_rsge;
	uint32_t max_inline;
	uint8_t state; /* the owner's copy of the table entry's state */
	struct client *client;
	/* sender side: the send waiting for its receiver (RC completes in order) */
	struct send_msg *send_inflight;
	struct ndk_abi_result send_res; /* its result, but for status and bytes */
	bool send_silent;
	bool sq_dirty; /* results written outside serve_sq's loop, to publish */
	/* receiver side: sends that found no receive posted yet (RNR: they wait) */
	struct send_msg *pending_head, *pending_tail;
};

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

/* What the data path needs besides the control context. */
struct dp_ctx {
	struct ctrl_ctx *ctrl;
	struct qpt *qpt;
	unsigned int engine;	   /* this engine's id */
	struct rte_ring **inboxes; /* every engine's inbox for sends, by id */
	/* scratch for address resolution, per engine */
	struct dp_chunk *src;
	struct dp_chunk *dst;
	uint32_t max_chunks;
};

ndk_status qp_cq_create(struct client *c, struct ctrl_ctx *x, uint64_t ring, uint64_t entries,
			uint64_t out[6]);
ndk_status qp_cq_destroy(struct client *c, uint32_t handle);
ndk_status qp_create(struct client *c, struct ctrl_ctx *x, uint32_t pd,
		     const struct ndk_abi_qp_create *args, uint64_t out[6]);
ndk_status qp_connect(struct client *c, struct ctrl_ctx *x, uint32_t handle, uint64_t peer);
ndk_status qp_flush(struct client *c, struct ctrl_ctx *x, uint32_t handle);
ndk_status qp_destroy(struct client *c, struct ctrl_ctx *x, uint32_t handle);
void qp_release_all(struct client *c, struct ctrl_ctx *x);

/* Serve up to budget work requests of every QP of c; returns how many. */
unsigned int qp_serve(struct client *c, struct dp_ctx *dp, unsigned int budget);
/* Take a send another engine (or this one) addressed to one of our QPs. */
void qp_deliver(struct dp_ctx *dp, struct send_msg *m);

int dp_ctx_init(struct dp_ctx *dp, struct ctrl_ctx *ctrl, struct qpt *qpt, unsigned int engine,
		struct rte_ring **inboxes);
void dp_ctx_fini(struct dp_ctx *dp);

#endif /* NDKD_QP_H */
