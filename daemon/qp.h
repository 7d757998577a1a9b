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
	uint32_t reserved2[3];
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

struct dcq {
	struct ndk_ring ring; /* ndkd produces */
	uint32_t handle;
	uint32_t n_qps;
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
	uint8_t state; /* the owner's copy of the table entry's state */
};

/* What the data path needs besides the control context. */
struct dp_ctx {
	struct ctrl_ctx *ctrl;
	struct qpt *qpt;
	/* scratch for address resolution, per engine */
	struct dp_chunk *src;
	struct dp_chunk *dst;
	uint32_t max_chunks;
};

struct dp_chunk {
	uint8_t *addr;
	uint64_t len;
};

ndk_status qp_cq_create(struct client *c, struct ctrl_ctx *x, uint64_t ring, uint64_t entries,
			uint64_t out[6]);
ndk_status qp_cq_destroy(struct client *c, uint32_t handle);
ndk_status qp_create(struct client *c, struct ctrl_ctx *x, uint32_t pd, const uint64_t *args,
		     uint64_t out[6]);
ndk_status qp_connect(struct client *c, struct ctrl_ctx *x, uint32_t handle, uint64_t peer);
ndk_status qp_flush(struct client *c, struct ctrl_ctx *x, uint32_t handle);
ndk_status qp_destroy(struct client *c, struct ctrl_ctx *x, uint32_t handle);
void qp_release_all(struct client *c, struct ctrl_ctx *x);

/* Serve up to budget work requests of every QP of c; returns how many. */
unsigned int qp_serve(struct client *c, struct dp_ctx *dp, unsigned int budget);

int dp_ctx_init(struct dp_ctx *dp, struct ctrl_ctx *ctrl, struct qpt *qpt);
void dp_ctx_fini(struct dp_ctx *dp);

#endif /* NDKD_QP_H */
