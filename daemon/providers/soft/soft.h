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
#include <sys/queue.h>

#include <rte_config.h>
#include <rte_cycles.h>

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

struct cm_table;

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

/*
 * RoCEv2: the RC transport's state of a QP connected across nodes (rc.c).
 * Work requests in flight in a window, numbered by PSN; on the responder
 * side the PSN expected next, the message being received, the reads being
 * answered.
 */
#define RC_WINDOW 64u /* work requests in flight per QP: the provider's qp_window */
#define RC_READS  16u /* reads a QP has out as requester (ORD) and serves as responder (IRD) */
/*
 * Retransmit timer expiries in a row, without progress, double the timer
 * up to 2^RC_BACKOFF_MAX times: a loss is retried one timeout after, but a
 * peer that stalls (a busy software stack) has the whole retry count of
 * doubling waits to come back, not retries x timeout.
 */
#define RC_BACKOFF_MAX 6u

struct rc_wqe {
	uint32_t wr_id;
	ndk_status err;	 /* set when it failed: its status once the QP is flushed */
	uint8_t op;	 /* NDK_ABI_WR_SEND, SEND_INVALIDATE, WRITE, READ */
	uint32_t psn;	 /* its first */
	uint32_t n_pkts; /* PSNs it takes: a read, its response packets */
	uint64_t total;
	uint64_t done;	  /* a read: response bytes placed */
	uint64_t req_off; /* a read: bytes asked for so far (in requests of RC_READ_SEG packets) */
	uint64_t remote_addr;
	uint32_t remote_token; /* a send with invalidate: the token to invalidate */
	bool solicit;
	uint32_t n_sge;
	uint32_t inline_len;
	struct ndk_abi_sge sge[NDKD_MAX_SGE];
	uint8_t data[NDK_ABI_MAX_INLINE];
};

struct rc_read {
	uint32_t start_psn; /* of the request */
	uint32_t psn;	    /* of the next response packet */
	uint32_t last_psn;
	uint64_t va;
	uint32_t rkey;
	uint64_t left;
	bool first;
};

struct rc_qp {
	struct roce_port *port;
	struct dqp *qp;
	uint32_t peer_ip;
	uint32_t dest_qpn;
	uint32_t mtu;
	uint32_t arp_tries;
	uint64_t arp_next; /* TSC: the next ARP request, while the MAC is unknown */
	uint8_t peer_mac[6];
	uint16_t src_port;
	bool mac_known;
	/* requester */
	uint8_t retries, rnr_retries; /* left */
	uint8_t retry_max;
	uint8_t backoff; /* timer expiries in a row: the timer is timeout << backoff */
	bool reasked;
	uint32_t wq_head, wq_cur, wq_tail; /* free-running: oldest, being sent, next free */
	uint32_t cur_pkt;		   /* of wq[wq_cur] */
	uint32_t psn_next;		   /* the first PSN of the next work request */
	uint32_t una;			   /* the oldest PSN not acknowledged */
	uint32_t psn_max;		   /* the PSN after the furthest ever sent */
	uint32_t reads_out;
	uint32_t reask_psn; /* a read response gap already asked again from here */
	uint32_t cwnd;	    /* packets that may be out unacknowledged (rc.c: window_*) */
	uint64_t timeout;   /* TSC cycles */
	uint64_t deadline;  /* TSC: retransmit timer (0: off) */
	uint64_t lost_at;   /* TSC: start of the timer that found a loss, until recovered (0) */
	uint64_t rnr_until; /* TSC: an RNR NAK's wait */
	struct rc_wqe wq[RC_WINDOW];
	/* responder */
	uint32_t epsn; /* the PSN expected next */
	uint32_t msn;  /* messages completed */
	bool nak_sent; /* until the expected PSN comes: no second NAK */
	bool ack_due;
	bool ack_listed; /* on the engine's ack_list */
	bool w_active;	 /* a write in progress: its RETH */
	bool r_taken;	 /* a receive taken by a send in progress */
	bool r_owed;	 /* its result waits for room in the CQ */
	bool r_inv;
	uint32_t w_rkey;
	uint32_t r_token;
	ndk_status r_status;
	uint32_t rd_head, rd_tail;
	struct rc_qp *ack_next;
	uint64_t w_va, w_off, w_len;
	uint64_t r_done;
	struct wq_taken r_t;
	struct rc_read rd[RC_READS];
	LIST_ENTRY(rc_qp) link; /* the engine's RoCEv2 QPs */
};

/* Per QP (qp->prov). */
struct soft_qp {
	struct rc_qp *rc; /* connected across nodes (RoCEv2); NULL on this node */
	uint32_t cm_id;	  /* its connection's local communication ID (cm.c); 0: none */
	/* sender side: the send waiting for its receiver, and its work request */
	struct send_msg *send;
	uint32_t send_wr;
	LIST_ENTRY(soft_qp) inflight_link; /* the engine's QPs with a send on its way */
	/* receiver side: sends that found no receive posted yet (RNR: they wait) */
	struct send_msg *pending_head, *pending_tail;
	struct soft_rx rx;
	struct soft_xfer tx;
};

/* Per engine (x->prov_engine). */
struct soft_engine {
	struct rte_ring *inbox;			    /* sends addressed to this engine's QPs */
	struct rte_ring **inboxes;		    /* every engine's, by id */
	LIST_HEAD(soft_inflight, soft_qp) inflight; /* this engine's QPs with a send on its way */
	struct roce_ports *ports;		    /* polled on this engine's queue of each */
	struct rte_ring *rx;   /* RoCEv2 frames for this engine's QPs from other engines */
	struct rte_ring **rxs; /* every engine's, by id */
	LIST_HEAD(rc_list, rc_qp) rc_list; /* this engine's RoCEv2 QPs */
	struct rc_qp *ack_list;		   /* ... with an ACK due at the end of the burst */
	uint64_t next_timer;		   /* TSC: when rc_timers looks next */
	struct cm_table *cm;		   /* the provider's, shared (cm.c) */
};

/* The provider (p->priv). */
struct soft {
	struct rte_ring *inbox[RTE_MAX_LCORE];
	struct rte_ring *rx[RTE_MAX_LCORE];
	struct roce_ports ports; /* NIC ports for RoCEv2 (roce/port.c) */
	struct cm_table *cm;	 /* connections through the IB CM (cm.c); NULL with no port */
	uint32_t roce_timeout_us;
	uint8_t roce_retries;
};

static inline uint64_t
us_to_tsc(uint64_t us)
{
	return us * rte_get_tsc_hz() / 1000000;
}

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

/* Whether qp has work that goes by turns: sends to deliver, a receive to fill, a transfer. */
static inline bool
soft_want_step(struct dqp *qp)
{
	const struct soft_qp *s = soft_qp(qp);

	return s->pending_head != NULL || s->rx.taken || s->tx.active;
}

/* rc.c: RoCEv2 */
/* Connect qp to a RoCEv2 peer. */
ndk_status rc_connect(struct ectx *x, struct dqp *qp, const struct peer_addr *peer);
/* A send, read or write of a RoCEv2 QP: PENDING, done when acknowledged. */
ndk_status rc_post(struct ectx *x, struct dqp *qp, const struct wq_op *op, uint32_t wr_id);
/* Frames out for qp (responses, then requests), about budget payload bytes. */
uint64_t rc_step(struct ectx *x, struct dqp *qp, uint64_t budget);
/* qp went to error: its work requests complete CANCELLED, a receive in progress too. */
void rc_error(struct ectx *x, struct dqp *qp);
void rc_destroy(struct dqp *qp);
/* A RoCEv2 frame from a port (roce_rx_fn; arg is the engine's ectx). */
void rc_input(void *arg, struct roce_port *p, struct rte_mbuf *m, struct roce_pkt *pkt);
/* A datagram to QP1 of port p: the connection manager's (cm.c). */
void cm_input(struct ectx *x, struct roce_port *p, const struct roce_pkt *pk);
struct cm_table *cm_table_new(struct roce_ports *ports);
void cm_table_free(struct cm_table *t);
/* Resends and expiries that are due (any engine; one at a time does the work). */
void cm_timers(struct ectx *x, uint64_t now);
/* qp goes: a connection of its ends with a DREQ (the peer hears of it). */
void cm_qp_gone(struct ectx *x, struct dqp *qp);
ndk_status cm_disconnect(struct ectx *x, struct dqp *qp, uint64_t user_data);
/* The provider's cm_connect (provider.h): a REQ to another node's listener. */
ndk_status cm_connect(struct ectx *x, struct client *c, uint32_t qp_handle,
		      const struct ndk_abi_conn *in, struct ndk_abi_conn *blk, uint64_t user_data);
/* Frames other engines passed to this one, then timers; the work done. */
unsigned int rc_poll(struct ectx *x);
/* The ACKs the frames of this pass asked for: one per QP. */
void rc_ack_flush(struct ectx *x);

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
