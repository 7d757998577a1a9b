/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * QP objects: an RC queue pair whose send and receive queues are rings in
 * the client's memory, its two CQs, its entry in the node-wide QP table, and
 * the provider's own state for it. The client's engine owns it.
 */
#ifndef NDKD_QP_H
#define NDKD_QP_H

#include <stdalign.h>
#include <stdbool.h>
#include <stdint.h>

#include "access.h"
#include "ndkd.h"
#include "qpt.h"

struct dcq;
struct dsrq;
struct wq_pending;

/* The other end of a connection, as a provider's qp_connect is given it. */
enum peer_kind {
	PEER_LOCAL = 1, /* a QP of this node, by qpn */
	PEER_ROCEV2,	/* a RoCEv2 host: GID, QPN, first PSN */
};

struct peer_addr {
	uint32_t kind; /* enum peer_kind */
	uint32_t qpn;
	uint32_t psn;  /* the first PSN the peer sends */
	uint32_t mtu;  /* path MTU in bytes; 0: the port's */
	uint32_t sgid; /* the local port: its GID index + 1; 0: by the peer's subnet */
	uint8_t gid[16];
};

struct dqp {
	struct ndk_ring sq; /* ndkd consumes */
	struct ndk_ring rq; /* unused with an SRQ */
	struct dsrq *srq;   /* receives come from it, when set */
	uint32_t handle;
	uint32_t pd;
	uint32_t qpn;
	uint32_t peer_qpn;
	uint32_t psn;	   /* RoCEv2: the first PSN this QP sends (random) */
	uint32_t wire_qpn; /* RoCEv2: its number for peers (the provider's; qpn by default) */
	uint64_t qp_context;
	struct dcq *rcq;
	struct dcq *icq;
	uint32_t max_isge;
	uint32_t max_rsge;
	uint32_t max_inline;
	uint8_t state;	  /* enum qp_state; the owner's copy of the table entry's */
	bool want_step;	  /* the provider has work for it that goes by turns: qp_step */
	bool connecting;  /* its CONNECT is out (conn.c) */
	bool peer_gone;	  /* its peer ended the connection */
	bool notify_held; /* a NOTIFY_DISCONNECT waits for that */
	uint64_t notify_req;
	/*
	 * The provider has not sent all it took yet: a fast register,
	 * invalidate or bind behind it waits, since the bytes are read from
	 * the MRs as they are sent.
	 */
	bool sq_hold;
	struct client *client;
	/*
	 * Results of work requests the provider took but has not finished
	 * (PENDING), and of those behind them, in the order they were posted:
	 * RC completes in order. pend_mask + 1 is the provider's qp_window.
	 */
	struct wq_pending *pend;
	uint32_t pend_mask;
	uint32_t pend_limit; /* PENDING at once for this QP: at most pend_mask + 1 */
	uint32_t pend_head, pend_tail;
	alignas(16) unsigned char prov[]; /* the provider's state: qp_priv_size bytes */
};

/*
 * Whether qp's peer on this node can take a work request now: gone or in
 * error is a broken connection; not yet connected back to us, not up yet.
 * A copy of its table entry in *peer. Inline: every send, read and write
 * asks.
 */
static inline ndk_status
dqp_peer_ready(const struct ectx *x, const struct dqp *qp, struct qpt_entry *peer)
{
	if (!qpt_read(x->qpt, qp->peer_qpn, peer) || peer->state == QP_FREE ||
	    peer->state == QP_ERROR)
		return NDK_STATUS_CONNECTION_DISCONNECTED;
	if (peer->state != QP_RTS || peer->peer_qpn != qp->qpn)
		return NDK_STATUS_CONNECTION_INVALID;
	return NDK_STATUS_SUCCESS;
}

/* What qp's own side of a transfer asks of its client's memory (access: MRT_ACCESS_* bits). */
static inline struct access_req
dqp_local_access(const struct dqp *qp, uint8_t access)
{
	return (struct access_req){
		.client_id = qp->client->id,
		.pd = qp->pd,
		.access = access,
		.local = qp->client,
	};
}

/* What a peer of qp asks of qp's memory: remote access, never the privileged token. */
static inline struct access_req
dqp_remote_access(const struct dqp *qp, uint8_t access)
{
	return (struct access_req){
		.client_id = qp->client->id,
		.pd = qp->pd,
		.access = access,
		.remote = true,
	};
}

/*
 * with_srq: args->rq_ring names the client's SRQ (same PD) that the QP takes
 * its receives from; rq_entries and max_rsge must be 0.
 */
ndk_status dqp_create(struct client *c, struct ectx *x, uint32_t pd,
		      const struct ndk_abi_qp_create *args, bool with_srq, uint64_t out[6]);
/* Connect to a peer: one of this node (both sides name each other) or a RoCEv2 host's. */
ndk_status dqp_connect_peer(struct client *c, struct ectx *x, uint32_t handle,
			    const struct peer_addr *peer);
/* Connect to a peer QP of this node (its qpn): both sides name each other. */
ndk_status dqp_connect(struct client *c, struct ectx *x, uint32_t handle, uint64_t peer_qpn);
ndk_status dqp_flush(struct client *c, struct ectx *x, uint32_t handle);
ndk_status dqp_destroy(struct client *c, struct ectx *x, uint32_t handle);
/* Every QP of the client, as dqp_destroy would (the client goes). */
void dqp_release_all(struct client *c, struct ectx *x);

#endif /* NDKD_QP_H */
