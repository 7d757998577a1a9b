/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The RC transport over RoCEv2 (IBTA Vol. 1 ch. 9, Annex A17), the soft
 * provider's way across nodes. Linux's rxe is the reference peer.
 *
 * Requester: work requests in a window of RC_WINDOW, each given its PSNs
 * when posted and sent in the QP's turns (rc_step), a packet per path MTU,
 * payload copied from the client's memory into the frame (its tokens
 * resolved again per packet, so an invalidated MR stops a transfer there).
 * Acknowledged by ACKs (coalesced: AckReq on a message's last packet),
 * by read responses (which acknowledge what went before), or NAKed:
 * a sequence error or a timeout goes back to the oldest unacknowledged
 * PSN (go-back-N), an RNR NAK waits its timer first, any other NAK fails
 * the work request and the QP. Out of retries: the QP fails, every request
 * completes, none hangs.
 *
 * Responder: requests in PSN order only. Ahead: one sequence NAK until
 * the expected PSN comes. Behind: duplicates; a send or write is
 * acknowledged again, a read is answered again. Every RETH and every packet
 * goes through access_resolve as on this node: token variant, PD, access,
 * bounds. ACKs go at the end of the engine's receive burst, after the
 * read responses queued before them (responses leave in PSN order).
 */
#include <string.h>

#include <ndk/flags.h>

#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_mbuf.h>
#include <rte_random.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "../../mr.h"
#include "../../mrt.h"
#include "roce/bytes.h"
#include "roce/cm_wire.h"
#include "soft.h"

#define RC_CWND_MAX   2048u /* packets sent and not yet acknowledged, per QP, at most */
#define RC_CWND_MIN   32u
#define RC_CWND_START 256u
/*
 * Response packets a requester has asked for and not received, at most: a
 * responder answers a read in one burst, and frames of bursts of a thousand
 * get lost on the way (against rdma_rxe in a guest: with 1024 asked for at
 * once, 881 responses arrived out of sequence in one ib_read_bw run and the
 * read never recovered; with 256, none).
 */
#define RC_READ_WINDOW	256u
#define RC_RNR_RETRIES	7u  /* 7: for ever, as in IB */
#define RC_RNR_CODE	12u /* the RNR NAK timer this responder asks for: 0.64 ms */
#define RC_ARP_EVERY_MS 250u
#define RC_ARP_TRIES	12u
#define RC_TIMER_US	20u /* how often an engine looks at its QPs' timers */
#define RC_ACK_EVERY	64u /* AckReq at least every this many packets of a message */
/*
 * A read asks for at most this many response packets at a time (RC_READS
 * requests out at once): the responder streams what a request asks for
 * unpaced, so this is the requester's flow control.
 */
#define RC_READ_SEG    64u
#define AETH_UNLIMITED 0x1f

/* RNR NAK timer codes in microseconds (IBTA Vol. 1 Table 45). */
static const uint32_t rnr_us[32] = {
	655360, 10,    20,    30,    40,    60,	    80,	    120,    160,    240,    320,
	480,	640,   960,   1280,  1920,  2560,   3840,   5120,   7680,   10240,  15360,
	20480,	30720, 40960, 61440, 81920, 122880, 163840, 245760, 327680, 491520,
};

static uint32_t
psn_add(uint32_t psn, uint32_t n)
{
	return (psn + n) & ROCE_PSN_MASK;
}

/* a - b in the 24-bit PSN space: negative when a comes before b. */
static int32_t
psn_diff(uint32_t a, uint32_t b)
{
	return (int32_t)((a - b) << 8) >> 8;
}

static struct rc_wqe *
wqe_at(struct rc_qp *rc, uint32_t i)
{
	return &rc->wq[i % RC_WINDOW];
}

static void
count(const struct ectx *x, const struct rc_qp *rc, enum roce_ctr c)
{
	roce_count(rc->port, x->engine, c, 1);
}

/*
 * The peer took something new: retries start again, and a loss the timer
 * found is over (its time, from the start of that timer, is counted: what
 * "recovered within N timeouts" is measured by).
 */
static void
progressed(const struct ectx *x, struct rc_qp *rc)
{
	rc->retries = rc->retry_max;
	rc->backoff = 0;
	if (rc->lost_at != 0) {
		roce_count(rc->port, x->engine, ROCE_C_TIMEOUT_RECOVERIES, 1);
		roce_count(rc->port, x->engine, ROCE_C_TIMEOUT_RECOVERY_US,
			   (rte_rdtsc() - rc->lost_at) * 1000000 / rte_get_tsc_hz());
		rc->lost_at = 0;
	}
}

/* ------------------------------------------------------------------------
 * Frames out
 * --------------------------------------------------------------------- */

/*
 * Send pk (headers set by the caller: opcode, PSN, RETH, AETH) with len
 * bytes of payload gathered from src. False when no mbuf was free or, but
 * for an acknowledgement, the port's TX ring is full: a request or
 * response is built again at the QP's next turn; an acknowledgement that
 * found no mbuf counts as lost (retransmission makes up for it).
 */
static bool
emit(struct ectx *x, struct rc_qp *rc, struct roce_pkt *pk, const struct dp_chunk *src,
     uint32_t n_src, uint32_t len)
{
	struct rte_mbuf *m;
	uint8_t *buf, *pay;
	size_t flen = 0;
	uint32_t i;

	if (pk->opcode != ROCE_RC_ACK && !roce_tx_ready(rc->port, x->engine))
		return false;
	m = roce_frame_alloc(rc->port, x->engine);
	if (m == NULL)
		return false;
	memcpy(pk->dst_mac, rc->peer_mac, 6);
	memcpy(pk->src_mac, rc->port->mac, 6);
	pk->src_ip = rc->port->ip;
	pk->dst_ip = rc->peer_ip;
	pk->ttl = 64;
	pk->ip_df = true;
	pk->src_port = rc->src_port;
	pk->pkey = 0xffff;
	pk->dest_qp = rc->dest_qpn;
	pk->payload_len = len;
	buf = rte_pktmbuf_mtod(m, uint8_t *);
	pay = roce_encode_hdr(pk, buf, rte_pktmbuf_tailroom(m), &flen);
	if (pay == NULL) {
		rte_pktmbuf_free(m);
		return false;
	}
	for (i = 0; i < n_src; i++) {
		memcpy(pay, src[i].addr, src[i].len);
		pay += src[i].len;
	}
	roce_seal(buf, flen, len);
	m->data_len = (uint16_t)flen;
	m->pkt_len = (uint32_t)flen;
	roce_tx(rc->port, x->engine, m);
	return true;
}

/* An ACK or NAK: syndrome, for psn. */
static void
send_ack(struct ectx *x, struct rc_qp *rc, uint8_t syndrome, uint32_t psn)
{
	struct roce_pkt pk = { .opcode = ROCE_RC_ACK, .psn = psn, .syndrome = syndrome };

	pk.msn = rc->msn & 0xffffff;
	if (syndrome != AETH_UNLIMITED)
		count(x, rc,
		      (syndrome & 0x60) == ROCE_AETH_RNR_NAK ? ROCE_C_RNR_TX : ROCE_C_NAK_TX);
	emit(x, rc, &pk, NULL, 0, 0);
}

/* ------------------------------------------------------------------------
 * Connecting
 * --------------------------------------------------------------------- */

static struct soft_engine *
engine_of(const struct ectx *x)
{
	return x->prov_engine;
}

ndk_status
rc_connect(struct ectx *x, struct dqp *qp, const struct peer_addr *peer)
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	struct soft_engine *se = engine_of(x);
	const struct soft *soft = x->prov->priv;
	struct soft_qp *s = soft_qp(qp);
	struct roce_port *port;
	struct rc_qp *rc;
	uint32_t ip;

	if (memcmp(peer->gid, v4mapped, sizeof(v4mapped)) != 0)
		return NDK_STATUS_NOT_SUPPORTED; /* IPv6 GIDs: not yet */
	ip = get32(peer->gid + 12);
	if (qp->qpn > ROCE_QPN_MASK || peer->qpn > ROCE_QPN_MASK || peer->qpn < 2 ||
	    peer->psn > ROCE_PSN_MASK)
		return NDK_STATUS_INVALID_PARAMETER;
	if (peer->mtu != 0 &&
	    (peer->mtu < 256 || peer->mtu > 4096 || (peer->mtu & (peer->mtu - 1)) != 0))
		return NDK_STATUS_INVALID_PARAMETER;
	if (se->ports == NULL || se->ports->n == 0)
		return NDK_STATUS_NOT_SUPPORTED; /* ndkd has no RoCEv2 port */
	if (peer->sgid > se->ports->n)
		return NDK_STATUS_INVALID_PARAMETER; /* no such local GID */
	port = peer->sgid != 0 ? roce_port_on(&se->ports->port[peer->sgid - 1], ip)
			       : roce_port_for(se->ports, ip);
	if (port == NULL)
		return NDK_STATUS_HOST_UNREACHABLE; /* on no (such) port's subnet: no routes yet */
	rc = calloc(1, sizeof(*rc));
	if (rc == NULL)
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	rc->port = port;
	rc->qp = qp;
	rc->peer_ip = ip;
	rc->dest_qpn = peer->qpn;
	/* flow entropy, as rxe does: the same for every packet of the QP */
	rc->src_port = (uint16_t)(0xc000 | ((qp->qpn ^ (qp->qpn >> 12)) & 0x3fff));
	rc->mtu = peer->mtu != 0 ? RTE_MIN(peer->mtu, port->path_mtu) : port->path_mtu;
	rc->psn_next = rc->una = rc->psn_max = qp->psn;
	rc->epsn = peer->psn;
	rc->retry_max = soft->roce_retries;
	rc->retries = rc->retry_max;
	rc->cwnd = RC_CWND_START;
	rc->timeout = us_to_tsc(soft->roce_timeout_us);
	rc->rnr_retries = RC_RNR_RETRIES;
	/* unknown: the engine's next look at its timers asks by ARP (arp_next 0) */
	rc->mac_known = roce_neigh_lookup(port, ip, rc->peer_mac);
	LIST_INSERT_HEAD(&se->rc_list, rc, link);
	s->rc = rc;
	qp->pend_limit = qp->pend_mask + 1; /* a window, not one at a time */
	return NDK_STATUS_SUCCESS;
}

/* ------------------------------------------------------------------------
 * Requester
 * --------------------------------------------------------------------- */

ndk_status
rc_post(struct ectx *x, struct dqp *qp, const struct wq_op *op, uint32_t wr_id)
{
	struct rc_qp *rc = soft_qp(qp)->rc;
	const struct ndk_abi_wqe *h = &op->w->h;
	struct rc_wqe *w;

	(void)x;
	/* wq.c keeps at most pend_limit (RC_WINDOW) PENDING: there is a slot */
	w = wqe_at(rc, rc->wq_tail);
	w->wr_id = wr_id;
	w->err = NDK_STATUS_SUCCESS;
	w->op = h->opcode;
	w->total = op->total;
	w->done = 0;
	w->req_off = 0;
	w->remote_addr = h->remote_addr;
	w->remote_token = h->remote_token;
	w->solicit = (h->flags & NDK_OP_FLAG_SEND_AND_SOLICIT_EVENT) != 0;
	w->n_sge = h->n_sge;
	w->inline_len = 0;
	if (h->flags & NDK_OP_FLAG_INLINE) {
		w->inline_len = (uint32_t)h->length;
		memcpy(w->data, op->w->data, w->inline_len);
	}
	memcpy(w->sge, op->w->sge, h->n_sge * sizeof(w->sge[0]));
	w->n_pkts = (uint32_t)RTE_MAX((op->total + rc->mtu - 1) / rc->mtu, (uint64_t)1);
	w->psn = rc->psn_next;
	rc->psn_next = psn_add(rc->psn_next, w->n_pkts);
	rc->wq_tail++;
	qp->want_step = true;
	qp->sq_hold = true;
	return NDK_STATUS_PENDING;
}

static uint8_t
req_opcode(const struct rc_wqe *w, uint32_t k)
{
	bool first = k == 0, last = k + 1 == w->n_pkts;

	switch (w->op) {
	case NDK_ABI_WR_WRITE:
		return first && last ? ROCE_RC_WRITE_ONLY
		       : first	     ? ROCE_RC_WRITE_FIRST
		       : last	     ? ROCE_RC_WRITE_LAST
				     : ROCE_RC_WRITE_MIDDLE;
	case NDK_ABI_WR_SEND_INVALIDATE:
		if (last)
			return first ? ROCE_RC_SEND_ONLY_INV : ROCE_RC_SEND_LAST_INV;
		/* fall through */
	default:
		return first && last ? ROCE_RC_SEND_ONLY
		       : first	     ? ROCE_RC_SEND_FIRST
		       : last	     ? ROCE_RC_SEND_LAST
				     : ROCE_RC_SEND_MIDDLE;
	}
}

/* Packet k of w (a send or write). False when its local bytes are gone (access). */
static bool
send_packet(struct ectx *x, struct dqp *qp, struct rc_qp *rc, struct rc_wqe *w, uint32_t k,
	    bool *sent)
{
	uint64_t off = (uint64_t)k * rc->mtu;
	uint32_t len = (uint32_t)RTE_MIN((uint64_t)rc->mtu, w->total - off), n = 0;
	struct access_req local = dqp_local_access(qp, 0);
	struct roce_pkt pk = {
		.opcode = req_opcode(w, k),
		.psn = psn_add(w->psn, k),
	};
	unsigned int f = roce_opcode_flags(pk.opcode);

	if (w->inline_len != 0) {
		x->local[0] = (struct dp_chunk){ w->data + off, len };
		n = len != 0 ? 1 : 0;
	} else if (len != 0 &&
		   !access_resolve_sges(x, w->sge, w->n_sge, off, len, &local, x->local, &n)) {
		return false;
	}
	if (f & ROCE_F_RETH) {
		pk.va = w->remote_addr;
		pk.rkey = w->remote_token;
		pk.dma_len = (uint32_t)w->total;
	}
	if (f & ROCE_F_IETH)
		pk.inv_rkey = w->remote_token;
	pk.solicited = (f & ROCE_F_LAST) && w->solicit;
	pk.ack_req = (f & ROCE_F_LAST) || (k % RC_ACK_EVERY) == RC_ACK_EVERY - 1;
	*sent = emit(x, rc, &pk, x->local, n, len);
	return true;
}

/*
 * The next request of a read: from req_off to the end of its RC_READ_SEG
 * packets' segment, the read cut into segments from its start. Asked again
 * from the middle of a segment, a request still ends where the first one
 * did: a responder replays only a part of a request it took (rxe drops a
 * duplicate read reaching past the original's range). 1 when it was the
 * last, 0 when more follow, -1 when it could not go now (TX ring full, no
 * mbuf: the QP's next turn asks again).
 */
static int
read_request(struct ectx *x, struct rc_qp *rc, struct rc_wqe *w)
{
	uint64_t seg = (uint64_t)RC_READ_SEG * rc->mtu;
	uint64_t len = RTE_MIN(w->total, (w->req_off / seg + 1) * seg) - w->req_off;
	struct roce_pkt pk = {
		.opcode = ROCE_RC_READ_REQUEST,
		.psn = psn_add(w->psn, (uint32_t)(w->req_off / rc->mtu)),
		.ack_req = true,
		.va = w->remote_addr + w->req_off,
		.rkey = w->remote_token,
		.dma_len = (uint32_t)len,
	};

	if (!emit(x, rc, &pk, NULL, 0, 0))
		return -1;
	w->req_off += len;
	return w->req_off == w->total;
}

static void
complete_head(struct ectx *x, struct dqp *qp, struct rc_qp *rc, ndk_status st)
{
	struct rc_wqe *w = wqe_at(rc, rc->wq_head);

	rc->wq_head++;
	if ((int32_t)(rc->wq_cur - rc->wq_head) < 0) { /* it had not all gone out */
		rc->wq_cur = rc->wq_head;
		rc->cur_pkt = 0;
	}
	wq_complete(x, qp, w->wr_id, st, st == NDK_STATUS_SUCCESS ? (uint32_t)w->total : 0);
}

/* The next PSN to be sent (a read being asked for: its next request's). */
static uint32_t
psn_sending(struct rc_qp *rc)
{
	const struct rc_wqe *w;

	if (rc->wq_cur == rc->wq_tail)
		return rc->psn_next;
	w = wqe_at(rc, rc->wq_cur);
	return psn_add(w->psn,
		       w->op == NDK_ABI_WR_READ ? (uint32_t)(w->req_off / rc->mtu) : rc->cur_pkt);
}

/*
 * The window of unacknowledged packets: halved at each loss, grown by what
 * each acknowledgement covers (doubling per round trip while nothing is
 * lost). Go-back-N resends the whole window after a loss, so a lossy path
 * must not keep a large one; a clean one, or one whose peer waits for its
 * CPU, needs one.
 */
static void
window_lost(struct rc_qp *rc)
{
	rc->cwnd = RTE_MAX(rc->cwnd / 2, RC_CWND_MIN);
}

static void
window_grow(struct rc_qp *rc, uint32_t acked_pkts)
{
	rc->cwnd = RTE_MIN(rc->cwnd + acked_pkts, RC_CWND_MAX);
}

/* Go back to the oldest unacknowledged PSN: everything from there goes again. */
static void
rewind_to_una(struct ectx *x, struct dqp *qp, struct rc_qp *rc)
{
	struct rc_wqe *w;
	uint32_t i;

	if (rc->wq_head == rc->wq_tail)
		return;
	/*
	 * A read is asked for again from what came back: the head's from its
	 * responses so far, every later one from its start (only the head
	 * places responses). A later read left fully asked for would go again
	 * as a request of no bytes, whose empty response carries the PSN of
	 * the read after it.
	 */
	for (i = rc->wq_head; i != rc->wq_tail; i++)
		wqe_at(rc, i)->req_off = wqe_at(rc, i)->done;
	w = wqe_at(rc, rc->wq_head);
	rc->wq_cur = rc->wq_head;
	rc->cur_pkt = w->op == NDK_ABI_WR_READ ? 0 : (uint32_t)psn_diff(rc->una, w->psn);
	if (rc->cur_pkt >= w->n_pkts) /* defensive: never past its last packet */
		rc->cur_pkt = 0;
	rc->reads_out = 0;
	count(x, rc, ROCE_C_RETRANSMITS);
	qp->want_step = true;
	qp->sq_hold = true;
}

/*
 * Restart the retransmit timer, or stop it when nothing is out; and what
 * waited for an acknowledgement to make room goes in the QP's next turn.
 */
static void
arm(struct rc_qp *rc)
{
	rc->deadline = psn_diff(psn_sending(rc), rc->una) > 0 || rc->reads_out > 0
			       ? rte_rdtsc() + (rc->timeout << rc->backoff)
			       : 0;
	if (rc->wq_cur != rc->wq_tail)
		rc->qp->want_step = true;
}

/*
 * Everything up to psn (inclusive) was received by the responder: complete
 * the sends and writes it covers. A read completes by its responses; one
 * that an acknowledgement passes lost them, and is asked for again.
 */
static void
acked(struct ectx *x, struct dqp *qp, struct rc_qp *rc, uint32_t psn)
{
	uint32_t next = psn_add(psn, 1);

	/* old, or for what was never sent (a rewind may have sent less again, not more) */
	if (psn_diff(next, rc->una) <= 0 || psn_diff(next, rc->psn_max) > 0)
		return;
	while (rc->wq_head != rc->wq_tail && qp->state == QP_RTS) {
		struct rc_wqe *w = wqe_at(rc, rc->wq_head);
		uint32_t last = psn_add(w->psn, w->n_pkts - 1);

		if (w->op == NDK_ABI_WR_READ) {
			/*
			 * Its responses acknowledge it, not this: una stays where
			 * they reached, or responses still on their way would be
			 * taken for old ones.
			 */
			rc->una = psn_add(w->psn, (uint32_t)(w->done / rc->mtu));
			if (psn_diff(last, psn) <= 0) {
				window_lost(rc);
				rewind_to_una(x, qp, rc);
			}
			arm(rc);
			return;
		}
		if (psn_diff(last, psn) > 0)
			break;
		complete_head(x, qp, rc, NDK_STATUS_SUCCESS);
	}
	window_grow(rc, (uint32_t)psn_diff(next, rc->una));
	rc->una = next;
	progressed(x, rc);
	/* being sent again after a rewind: what this covers need not go a third time */
	if (rc->wq_cur == rc->wq_head && rc->wq_head != rc->wq_tail) {
		struct rc_wqe *w = wqe_at(rc, rc->wq_head);
		uint32_t k = (uint32_t)psn_diff(next, w->psn);

		if (w->op != NDK_ABI_WR_READ && k > rc->cur_pkt && k < w->n_pkts)
			rc->cur_pkt = k;
	}
	arm(rc);
}

/* The NAK codes, as a work request's status. */
static ndk_status
nak_status(uint8_t syndrome)
{
	switch (syndrome) {
	case ROCE_NAK_REM_ACCESS:
		return NDK_STATUS_ACCESS_VIOLATION;
	case ROCE_NAK_INVALID_REQ:
		return NDK_STATUS_INVALID_DEVICE_REQUEST;
	default:
		return NDK_STATUS_UNSUCCESSFUL;
	}
}

/*
 * The oldest work request fails with st and the QP goes to error (rc_error
 * completes the rest CANCELLED).
 */
static void
fail(struct ectx *x, struct dqp *qp, struct rc_qp *rc, ndk_status st)
{
	if (rc->wq_head != rc->wq_tail)
		wqe_at(rc, rc->wq_head)->err = st;
	wq_error(x, qp);
}

/*
 * A loss (sequence NAK, a gap in read responses, a timeout): one retry
 * fewer, the window halved, everything from the oldest unacknowledged PSN
 * again. Out of retries, the QP fails IO_TIMEOUT; false then.
 */
static bool
retry_from_una(struct ectx *x, struct dqp *qp, struct rc_qp *rc)
{
	if (rc->retries == 0) {
		fail(x, qp, rc, NDK_STATUS_IO_TIMEOUT);
		return false;
	}
	rc->retries--;
	window_lost(rc);
	rewind_to_una(x, qp, rc);
	return true;
}

static void
on_ack(struct ectx *x, struct dqp *qp, struct rc_qp *rc, const struct roce_pkt *pk)
{
	uint8_t kind = pk->syndrome & 0x60;

	if (kind == ROCE_AETH_ACK) {
		acked(x, qp, rc, pk->psn);
		return;
	}
	/* a NAK names the PSN it refused: what came before it arrived */
	count(x, rc, kind == ROCE_AETH_RNR_NAK ? ROCE_C_RNR_RX : ROCE_C_NAK_RX);
	if (psn_diff(pk->psn, rc->una) < 0 || psn_diff(pk->psn, rc->psn_max) > 0)
		return;					   /* stale */
	acked(x, qp, rc, psn_add(pk->psn, ROCE_PSN_MASK)); /* psn - 1 */
	if (qp->state != QP_RTS)
		return;
	if (kind == ROCE_AETH_RNR_NAK) {
		if (rc->rnr_retries == 0) {
			fail(x, qp, rc, NDK_STATUS_IO_TIMEOUT);
			return;
		}
		if (rc->rnr_retries != 7)
			rc->rnr_retries--;
		rc->rnr_until = rte_rdtsc() + us_to_tsc(rnr_us[pk->syndrome & 0x1f]);
		rewind_to_una(x, qp, rc);
		rc->deadline = 0;
		return;
	}
	if (pk->syndrome == ROCE_NAK_PSN_SEQ_ERR) {
		if (retry_from_una(x, qp, rc))
			arm(rc);
		return;
	}
	fail(x, qp, rc, nak_status(pk->syndrome));
}

static void
on_read_response(struct ectx *x, struct dqp *qp, struct rc_qp *rc, const struct roce_pkt *pk)
{
	unsigned int f = roce_opcode_flags(pk->opcode);
	struct access_req local = dqp_local_access(qp, MRT_ACCESS_LOCAL_WRITE);
	struct rc_wqe *w;
	uint32_t expect, n = 0;

	/* a response acknowledges the requests before its read */
	if (psn_diff(pk->psn, rc->una) < 0 || psn_diff(pk->psn, psn_sending(rc)) >= 0)
		return;
	while (rc->wq_head != rc->wq_tail && qp->state == QP_RTS) {
		w = wqe_at(rc, rc->wq_head);
		if (w->op == NDK_ABI_WR_READ ||
		    psn_diff(psn_add(w->psn, w->n_pkts - 1), pk->psn) >= 0)
			break;
		complete_head(x, qp, rc, NDK_STATUS_SUCCESS);
	}
	if (rc->wq_head == rc->wq_tail || qp->state != QP_RTS)
		return;
	w = wqe_at(rc, rc->wq_head);
	expect = psn_add(w->psn, (uint32_t)(w->done / rc->mtu));
	if (w->op != NDK_ABI_WR_READ || pk->psn != expect) {
		if (psn_diff(pk->psn, expect) <= 0) {
			count(x, rc, ROCE_C_RX_DUPLICATE);
			return;
		}
		count(x, rc, ROCE_C_RX_OUT_OF_SEQ);
		/*
		 * A response went missing: ask again from it now rather than at
		 * the timeout, once per gap (the responses already on their way
		 * arrive out of sequence too).
		 */
		if (w->op == NDK_ABI_WR_READ && !(rc->reasked && rc->reask_psn == expect)) {
			rc->reasked = true;
			rc->reask_psn = expect;
			if (retry_from_una(x, qp, rc))
				arm(rc);
		}
		return;
	}
	/* a request's responses end with a LAST: the read's end or a whole segment's */
	if (w->done + pk->payload_len > w->total ||
	    (!(f & ROCE_F_LAST) && pk->payload_len != rc->mtu) ||
	    ((f & ROCE_F_LAST) && w->done + pk->payload_len != w->total &&
	     pk->payload_len != rc->mtu) ||
	    ((f & ROCE_F_AETH) && (pk->syndrome & 0x60) != ROCE_AETH_ACK)) {
		fail(x, qp, rc, NDK_STATUS_UNSUCCESSFUL);
		return;
	}
	if (pk->payload_len != 0 && !access_resolve_sges(x, w->sge, w->n_sge, w->done,
							 pk->payload_len, &local, x->local, &n)) {
		fail(x, qp, rc, NDK_STATUS_ACCESS_VIOLATION);
		return;
	}
	{
		struct dp_chunk src = { (uint8_t *)(uintptr_t)pk->payload, pk->payload_len };

		soft_copy(&src, 1, x->local, n);
	}
	w->done += pk->payload_len;
	rc->una = psn_add(pk->psn, 1);
	window_grow(rc, 1);
	progressed(x, rc);
	if ((f & ROCE_F_LAST) && rc->reads_out > 0)
		rc->reads_out--; /* one request answered */
	if (w->done == w->total && (f & ROCE_F_LAST))
		complete_head(x, qp, rc, NDK_STATUS_SUCCESS);
	arm(rc);
}

/* ------------------------------------------------------------------------
 * Responder
 * --------------------------------------------------------------------- */

/* A class C error (IBTA 9.9.3.1.3): NAK it, and this QP goes to error as well. */
static void
responder_error(struct ectx *x, struct dqp *qp, struct rc_qp *rc, uint8_t nak, ndk_status st)
{
	send_ack(x, rc, nak, rc->epsn);
	if (rc->r_taken) {
		rc->r_status = st;
		rc->r_owed = true;
	}
	wq_error(x, qp);
}

/* The receive of a send, at its last packet: result, and the invalidate it carries. */
static void
recv_finish(struct ectx *x, struct dqp *qp, struct rc_qp *rc)
{
	uint32_t type = rc->r_inv ? NDK_ABI_RESULT_RECEIVE_INVALIDATE : NDK_ABI_RESULT_RECEIVE;

	if (!wq_recv_end(qp, &rc->r_t, rc->r_status,
			 rc->r_status == NDK_STATUS_SUCCESS ? (uint32_t)rc->r_done : 0, type,
			 rc->r_inv ? rc->r_token : 0)) {
		rc->r_owed = true; /* its CQ is full: rc_step writes it when there is room */
		qp->want_step = true;
		return;
	}
	rc->r_owed = false;
	rc->r_taken = false;
	(void)x;
}

static void
on_send(struct ectx *x, struct dqp *qp, struct rc_qp *rc, const struct roce_pkt *pk)
{
	unsigned int f = roce_opcode_flags(pk->opcode);
	struct access_req local = dqp_local_access(qp, MRT_ACCESS_LOCAL_WRITE);
	uint32_t n = 0;

	if (f & ROCE_F_FIRST) {
		int r;

		if (rc->r_taken) { /* a message left half way: the peer broke the protocol */
			responder_error(x, qp, rc, ROCE_NAK_INVALID_REQ,
					NDK_STATUS_INVALID_DEVICE_REQUEST);
			return;
		}
		r = wq_recv_take(x, qp, &rc->r_t);
		if (r <= 0) {
			/* no receive posted (or its CQ full): Receiver Not Ready */
			send_ack(x, rc, (uint8_t)(ROCE_AETH_RNR_NAK | RC_RNR_CODE), pk->psn);
			rc->nak_sent = true;
			return;
		}
		rc->r_taken = true;
		rc->r_owed = false;
		rc->r_done = 0;
		rc->r_inv = false;
		rc->r_status = rc->r_t.status;
		if (rc->r_status != NDK_STATUS_SUCCESS) {
			responder_error(x, qp, rc, ROCE_NAK_REM_OP_ERR, rc->r_status);
			return;
		}
	} else if (!rc->r_taken) {
		responder_error(x, qp, rc, ROCE_NAK_INVALID_REQ, NDK_STATUS_INVALID_DEVICE_REQUEST);
		return;
	}
	if ((!(f & ROCE_F_LAST) && pk->payload_len != rc->mtu) || pk->payload_len > rc->mtu) {
		responder_error(x, qp, rc, ROCE_NAK_INVALID_REQ, NDK_STATUS_INVALID_DEVICE_REQUEST);
		return;
	}
	if (rc->r_done + pk->payload_len > rc->r_t.room) {
		responder_error(x, qp, rc, ROCE_NAK_INVALID_REQ, NDK_STATUS_BUFFER_TOO_SMALL);
		return;
	}
	if (pk->payload_len != 0) {
		struct dp_chunk src = { (uint8_t *)(uintptr_t)pk->payload, pk->payload_len };

		if (!access_resolve_sges(x, rc->r_t.sge, rc->r_t.n_sge, rc->r_done, pk->payload_len,
					 &local, x->local, &n)) {
			responder_error(x, qp, rc, ROCE_NAK_REM_OP_ERR,
					NDK_STATUS_ACCESS_VIOLATION);
			return;
		}
		soft_copy(&src, 1, x->local, n);
		rc->r_done += pk->payload_len;
	}
	if (f & ROCE_F_IETH) {
		rc->r_inv = true;
		rc->r_token = pk->inv_rkey;
		/* NDK: the token must name a fast-registered MR of the receiver's PD */
		if (!dmr_invalidate_token(x, qp, pk->inv_rkey)) {
			responder_error(x, qp, rc, ROCE_NAK_INVALID_REQ,
					NDK_STATUS_ACCESS_VIOLATION);
			return;
		}
	}
	rc->epsn = psn_add(rc->epsn, 1);
	if (!(f & ROCE_F_LAST))
		return;
	rc->msn++;
	recv_finish(x, qp, rc);
}

static void
on_write(struct ectx *x, struct dqp *qp, struct rc_qp *rc, const struct roce_pkt *pk)
{
	unsigned int f = roce_opcode_flags(pk->opcode);
	struct access_req req = dqp_remote_access(qp, MRT_ACCESS_REMOTE_WRITE);
	uint32_t n = 0;

	if (f & ROCE_F_FIRST) {
		/* the whole range now: a bad RETH fails before any byte lands */
		if (rc->w_active || pk->dma_len > NDKD_MAX_TRANSFER ||
		    pk->va + pk->dma_len < pk->va) {
			responder_error(x, qp, rc, ROCE_NAK_INVALID_REQ,
					NDK_STATUS_INVALID_DEVICE_REQUEST);
			return;
		}
		if (!access_resolve(x, pk->rkey, pk->va, pk->dma_len, &req, x->remote, &n)) {
			responder_error(x, qp, rc, ROCE_NAK_REM_ACCESS,
					NDK_STATUS_ACCESS_VIOLATION);
			return;
		}
		rc->w_active = true;
		rc->w_va = pk->va;
		rc->w_rkey = pk->rkey;
		rc->w_len = pk->dma_len;
		rc->w_off = 0;
	} else if (!rc->w_active) {
		responder_error(x, qp, rc, ROCE_NAK_INVALID_REQ, NDK_STATUS_INVALID_DEVICE_REQUEST);
		return;
	}
	if ((!(f & ROCE_F_LAST) && pk->payload_len != rc->mtu) || pk->payload_len > rc->mtu ||
	    rc->w_off + pk->payload_len > rc->w_len ||
	    ((f & ROCE_F_LAST) && rc->w_off + pk->payload_len != rc->w_len)) {
		responder_error(x, qp, rc, ROCE_NAK_INVALID_REQ, NDK_STATUS_INVALID_DEVICE_REQUEST);
		return;
	}
	if (pk->payload_len != 0) {
		struct dp_chunk src = { (uint8_t *)(uintptr_t)pk->payload, pk->payload_len };

		/* again per packet: a token invalidated meanwhile stops the write here */
		n = 0;
		if (!access_resolve(x, rc->w_rkey, rc->w_va + rc->w_off, pk->payload_len, &req,
				    x->remote, &n)) {
			responder_error(x, qp, rc, ROCE_NAK_REM_ACCESS,
					NDK_STATUS_ACCESS_VIOLATION);
			return;
		}
		soft_copy(&src, 1, x->remote, n);
		rc->w_off += pk->payload_len;
	}
	rc->epsn = psn_add(rc->epsn, 1);
	if (f & ROCE_F_LAST) {
		rc->w_active = false;
		rc->msn++;
	}
}

/*
 * Queue n_pkts responses carrying len bytes of the read pk asks for. False
 * when the queue is full.
 */
static bool
read_queue(struct rc_qp *rc, const struct roce_pkt *pk, uint32_t n_pkts, uint32_t len)
{
	struct rc_read *r;

	if (rc->rd_tail - rc->rd_head == RC_READS)
		return false;
	r = &rc->rd[rc->rd_tail++ % RC_READS];
	r->start_psn = pk->psn;
	r->psn = pk->psn;
	r->last_psn = psn_add(pk->psn, n_pkts - 1);
	r->va = pk->va;
	r->rkey = pk->rkey;
	r->left = len;
	r->first = true;
	return true;
}

static uint32_t
read_pkts(const struct rc_qp *rc, uint32_t len)
{
	return len == 0 ? 1 : (uint32_t)((len + rc->mtu - 1) / rc->mtu);
}

static void
on_read(struct ectx *x, struct dqp *qp, struct rc_qp *rc, const struct roce_pkt *pk)
{
	struct access_req req = dqp_remote_access(qp, MRT_ACCESS_REMOTE_READ);
	uint32_t n = 0;

	if (pk->dma_len > NDKD_MAX_TRANSFER || pk->va + pk->dma_len < pk->va) {
		responder_error(x, qp, rc, ROCE_NAK_INVALID_REQ, NDK_STATUS_INVALID_DEVICE_REQUEST);
		return;
	}
	if (!access_resolve(x, pk->rkey, pk->va, pk->dma_len, &req, x->remote, &n)) {
		responder_error(x, qp, rc, ROCE_NAK_REM_ACCESS, NDK_STATUS_ACCESS_VIOLATION);
		return;
	}
	if (!read_queue(rc, pk, read_pkts(rc, pk->dma_len), pk->dma_len)) {
		/* more reads than this responder takes (its IRD) */
		responder_error(x, qp, rc, ROCE_NAK_INVALID_REQ, NDK_STATUS_INVALID_DEVICE_REQUEST);
		return;
	}
	rc->epsn = psn_add(rc->epsn, read_pkts(rc, pk->dma_len));
	rc->msn++;
	qp->want_step = true;
}

/* A request behind the expected PSN: answered again, not executed again (but reads). */
static void
on_duplicate(struct ectx *x, struct dqp *qp, struct rc_qp *rc, const struct roce_pkt *pk)
{
	struct access_req req = dqp_remote_access(qp, MRT_ACCESS_REMOTE_READ);
	uint32_t i, n_pkts, n = 0;

	count(x, rc, ROCE_C_RX_DUPLICATE);
	if (pk->opcode != ROCE_RC_READ_REQUEST) {
		rc->ack_due = true;
		return;
	}
	/* a read is answered again, under the token as it is now */
	if (pk->dma_len > NDKD_MAX_TRANSFER || pk->va + pk->dma_len < pk->va ||
	    !access_resolve(x, pk->rkey, pk->va, pk->dma_len, &req, x->remote, &n))
		return;
	for (i = rc->rd_head; i != rc->rd_tail; i++) {
		struct rc_read *r = &rc->rd[i % RC_READS];

		/*
		 * Still being answered: start over where the requester asks, up
		 * to the entry's end (a requester that asks again may cut its
		 * reads differently; the next entry answers the rest).
		 */
		if (psn_diff(pk->psn, r->start_psn) >= 0 && psn_diff(pk->psn, r->last_psn) <= 0) {
			n_pkts = RTE_MIN(read_pkts(rc, pk->dma_len),
					 (uint32_t)psn_diff(r->last_psn, pk->psn) + 1);
			r->psn = pk->psn;
			r->last_psn = psn_add(pk->psn, n_pkts - 1);
			r->va = pk->va;
			r->left = RTE_MIN(pk->dma_len, n_pkts * rc->mtu);
			r->first = true;
			return;
		}
	}
	/*
	 * Answered already: again, but never past the expected PSN, whose
	 * request this responder has not taken yet; answering it would take the
	 * requester past a PSN this side still waits for.
	 */
	n_pkts = RTE_MIN(read_pkts(rc, pk->dma_len), (uint32_t)psn_diff(rc->epsn, pk->psn));
	if (read_queue(rc, pk, n_pkts, RTE_MIN(pk->dma_len, n_pkts * rc->mtu)))
		qp->want_step = true;
}

static void
on_request(struct ectx *x, struct dqp *qp, struct rc_qp *rc, const struct roce_pkt *pk)
{
	int32_t d = psn_diff(pk->psn, rc->epsn);
	unsigned int f = roce_opcode_flags(pk->opcode);

	if (d > 0) {
		count(x, rc, ROCE_C_RX_OUT_OF_SEQ);
		if (!rc->nak_sent) {
			send_ack(x, rc, ROCE_NAK_PSN_SEQ_ERR, rc->epsn);
			rc->nak_sent = true;
		}
		return;
	}
	if (d < 0) {
		on_duplicate(x, qp, rc, pk);
		return;
	}
	rc->nak_sent = false;
	if (rc->r_owed) { /* the last receive's result still waits for its CQ */
		send_ack(x, rc, (uint8_t)(ROCE_AETH_RNR_NAK | RC_RNR_CODE), pk->psn);
		rc->nak_sent = true;
		return;
	}
	if (f & ROCE_F_IMM) {
		/* NDK has no immediate data: refused, not dropped silently */
		responder_error(x, qp, rc, ROCE_NAK_INVALID_REQ, NDK_STATUS_INVALID_DEVICE_REQUEST);
		return;
	}
	switch (pk->opcode) {
	case ROCE_RC_READ_REQUEST:
		on_read(x, qp, rc, pk);
		break;
	case ROCE_RC_WRITE_FIRST:
	case ROCE_RC_WRITE_MIDDLE:
	case ROCE_RC_WRITE_LAST:
	case ROCE_RC_WRITE_ONLY:
		on_write(x, qp, rc, pk);
		break;
	default:
		on_send(x, qp, rc, pk);
		break;
	}
	if (pk->opcode == ROCE_RC_READ_REQUEST)
		rc->ack_due = false; /* its responses acknowledge it and all before it */
	else if (pk->ack_req && qp->state == QP_RTS && !rc->nak_sent)
		rc->ack_due = true;
}

/* ------------------------------------------------------------------------
 * Frames in
 * --------------------------------------------------------------------- */

/* The ACK a request asked for, unless read responses queued before it must go first. */
static void
ack_if_due(struct ectx *x, struct rc_qp *rc)
{
	if (rc->ack_due && rc->rd_head == rc->rd_tail && rc->qp->state == QP_RTS) {
		send_ack(x, rc, AETH_UNLIMITED, psn_add(rc->epsn, ROCE_PSN_MASK));
		rc->ack_due = false;
	}
}

static void
qp_input(struct ectx *x, struct dqp *qp, struct rc_qp *rc, const struct roce_pkt *pk)
{
	unsigned int f = roce_opcode_flags(pk->opcode);

	if (!rc->mac_known) { /* its frames tell us where it is */
		memcpy(rc->peer_mac, pk->src_mac, 6);
		rc->mac_known = true;
		qp->want_step = rc->wq_cur != rc->wq_tail;
	}
	if (qp->state != QP_RTS)
		return;
	if (f & ROCE_F_REQUEST)
		on_request(x, qp, rc, pk);
	else if (pk->opcode == ROCE_RC_ACK)
		on_ack(x, qp, rc, pk);
	else
		on_read_response(x, qp, rc, pk);
	/* one ACK for what the burst brought, at its end (rc_ack_flush) */
	if (rc->ack_due && !rc->ack_listed) {
		struct soft_engine *se = engine_of(x);

		rc->ack_listed = true;
		rc->ack_next = se->ack_list;
		se->ack_list = rc;
	}
}

void
rc_ack_flush(struct ectx *x)
{
	struct soft_engine *se = engine_of(x);
	struct rc_qp *rc;

	while ((rc = se->ack_list) != NULL) {
		se->ack_list = rc->ack_next;
		rc->ack_listed = false;
		ack_if_due(x, rc); /* else rc_step sends it after the responses */
	}
}

void
rc_input(void *arg, struct roce_port *p, struct rte_mbuf *m, struct roce_pkt *pk)
{
	struct ectx *x = arg;
	struct soft_engine *se = engine_of(x);
	enum roce_ctr dropped = ROCE_C_RX_NO_QP;
	struct qpt_entry e;
	struct rc_qp *rc;

	if (pk->opcode == ROCE_UD_SEND_ONLY && pk->dest_qp == GSI_QPN) {
		cm_input(x, p, pk);
		rte_pktmbuf_free(m);
		return;
	}
	/* only RC here: a datagram (QP1's management datagrams) is no RC QP's */
	if ((pk->opcode & 0xe0) == 0 && qpt_read(x->qpt, pk->dest_qp, &e) && e.state != QP_FREE) {
		if (e.engine == x->engine) {
			rc = soft_qp(e.qp)->rc;
			if (rc != NULL && rc->peer_ip == pk->src_ip && rc->port == p) {
				qp_input(x, e.qp, rc, pk);
				rte_pktmbuf_free(m);
				return;
			}
		} else if (e.engine < RTE_MAX_LCORE && se->rxs[e.engine] != NULL) {
			/* the QP's engine takes its frames: no QP state is shared */
			if (rte_ring_enqueue_elem(se->rxs[e.engine], &m, sizeof(m)) == 0)
				return;
			dropped = ROCE_C_TX_FULL;
		}
	}
	roce_count(p, x->engine, dropped, 1);
	rte_pktmbuf_free(m);
}

/* ------------------------------------------------------------------------
 * Steps and timers
 * --------------------------------------------------------------------- */

/* The next response packet of the oldest read being answered. */
static bool
read_response(struct ectx *x, struct dqp *qp, struct rc_qp *rc, uint64_t *moved)
{
	struct rc_read *r = &rc->rd[rc->rd_head % RC_READS];
	struct access_req req = dqp_remote_access(qp, MRT_ACCESS_REMOTE_READ);
	uint32_t len = (uint32_t)RTE_MIN((uint64_t)rc->mtu, r->left), n = 0;
	bool last = r->psn == r->last_psn;
	struct roce_pkt pk = { .psn = r->psn, .syndrome = AETH_UNLIMITED, .msn = rc->msn };

	pk.opcode = r->first && last ? ROCE_RC_READ_RESPONSE_ONLY
		    : r->first	     ? ROCE_RC_READ_RESPONSE_FIRST
		    : last	     ? ROCE_RC_READ_RESPONSE_LAST
				     : ROCE_RC_READ_RESPONSE_MIDDLE;
	if (len != 0 && !access_resolve(x, r->rkey, r->va, len, &req, x->remote, &n)) {
		/* invalidated while being read */
		rc->rd_head = rc->rd_tail;
		send_ack(x, rc, ROCE_NAK_REM_ACCESS, r->psn);
		wq_error(x, qp);
		return false;
	}
	if (!emit(x, rc, &pk, x->remote, n, len))
		return false;
	*moved += len;
	r->first = false;
	r->va += len;
	r->left -= len;
	r->psn = psn_add(r->psn, 1);
	if (last)
		rc->rd_head++;
	return true;
}

uint64_t
rc_step(struct ectx *x, struct dqp *qp, uint64_t budget)
{
	struct rc_qp *rc = soft_qp(qp)->rc;
	uint64_t moved = 0;
	bool full = false, waiting = false;

	qp->want_step = false;
	if (rc->r_owed)
		recv_finish(x, qp, rc);
	if (!rc->mac_known || qp->state != QP_RTS)
		return 0;
	while (rc->rd_head != rc->rd_tail && moved < budget && !full)
		full = !read_response(x, qp, rc, &moved);
	ack_if_due(x, rc);
	if (rc->rnr_until != 0 && rte_rdtsc() < rc->rnr_until)
		return moved; /* the timer scan wakes it */
	rc->rnr_until = 0;
	while (rc->wq_cur != rc->wq_tail && moved < budget && !full && qp->state == QP_RTS) {
		struct rc_wqe *w = wqe_at(rc, rc->wq_cur);
		bool sent = false;

		/* an acknowledgement, or a read's last response, makes room (arm) */
		waiting = psn_diff(psn_sending(rc), rc->una) >=
				  (int32_t)(w->op == NDK_ABI_WR_READ
						    ? RTE_MIN(rc->cwnd, RC_READ_WINDOW)
						    : rc->cwnd) ||
			  (w->op == NDK_ABI_WR_READ && rc->reads_out >= RC_READS);
		if (waiting)
			break;
		if (w->op == NDK_ABI_WR_READ) {
			int r = read_request(x, rc, w);

			if (r < 0) { /* the TX ring is full or no mbuf: the next turn */
				full = true;
				break;
			}
			rc->reads_out++;
			if (r > 0) {
				rc->wq_cur++;
				rc->cur_pkt = 0;
			}
			sent = true;
		} else {
			uint64_t off = (uint64_t)rc->cur_pkt * rc->mtu;

			if (!send_packet(x, qp, rc, w, rc->cur_pkt, &sent)) {
				/* its local bytes are gone: a local protection error */
				w->err = NDK_STATUS_ACCESS_VIOLATION;
				wq_error(x, qp);
				return moved;
			}
			if (!sent) { /* no mbuf: the next turn tries again */
				full = true;
				break;
			}
			moved += RTE_MIN((uint64_t)rc->mtu, w->total - off);
			if (++rc->cur_pkt == w->n_pkts) {
				rc->wq_cur++;
				rc->cur_pkt = 0;
			}
		}
		{
			uint32_t next = psn_sending(rc);

			if (psn_diff(next, rc->psn_max) > 0)
				rc->psn_max = next;
		}
		if (rc->deadline == 0)
			arm(rc);
	}
	qp->sq_hold = rc->wq_cur != rc->wq_tail;
	qp->want_step = (qp->sq_hold && !waiting) || rc->rd_head != rc->rd_tail || full;
	return moved;
}

/* rc's timers: ARP, RNR wait, retransmission. */
static void
timers(struct ectx *x, struct rc_qp *rc, uint64_t now)
{
	struct dqp *qp = rc->qp;

	if (qp->state != QP_RTS)
		return;
	if (!rc->mac_known) {
		rc->mac_known = roce_neigh_lookup(rc->port, rc->peer_ip, rc->peer_mac);
		if (rc->mac_known) {
			qp->want_step = true;
		} else if (now >= rc->arp_next) {
			if (rc->arp_tries >= RC_ARP_TRIES) {
				/* nobody answers for that address */
				fail(x, qp, rc, NDK_STATUS_HOST_UNREACHABLE);
				return;
			}
			roce_arp_request(rc->port, x->engine, rc->peer_ip);
			rc->arp_tries++;
			rc->arp_next = now + us_to_tsc(RC_ARP_EVERY_MS * 1000ull);
		}
		return;
	}
	if (rc->rnr_until != 0 && now >= rc->rnr_until) {
		qp->want_step = true;
		return;
	}
	if (rc->deadline == 0 || now < rc->deadline)
		return;
	count(x, rc, ROCE_C_TIMEOUTS);
	if (rc->lost_at == 0)
		rc->lost_at = rc->deadline - (rc->timeout << rc->backoff);
	if (rc->backoff < RC_BACKOFF_MAX)
		rc->backoff++;
	if (retry_from_una(x, qp, rc))
		rc->deadline = now + (rc->timeout << rc->backoff);
}

unsigned int
rc_poll(struct ectx *x)
{
	struct soft_engine *se = engine_of(x);
	struct rte_mbuf *m[32];
	unsigned int i, n = 0;
	uint64_t now;

	if (se->rx != NULL)
		n = rte_ring_dequeue_burst_elem(se->rx, m, sizeof(m[0]), RTE_DIM(m), NULL);
	/* the analyzer does not follow rte_ring's copy-out; the first n are set */
	for (i = 0; i < n; i++) {
		struct rte_mbuf *f = m[i]; /* NOLINT(clang-analyzer-core.uninitialized.Assign) */
		struct roce_pkt pk;
		struct roce_port *p = NULL;
		unsigned int k;

		for (k = 0; k < se->ports->n; k++)
			if (se->ports->port[k].id ==
			    f->port) /* NOLINT(clang-analyzer-core.NullDereference) */
				p = &se->ports->port[k];
		/* checked whole by the engine that received it; the ICRC once is enough */
		if (p == NULL || roce_parse(rte_pktmbuf_mtod(f, uint8_t *), rte_pktmbuf_data_len(f),
					    &pk) != ROCE_OK) {
			rte_pktmbuf_free(f);
			continue;
		}
		rc_input(x, p, f, &pk);
	}
	now = rte_rdtsc();
	cm_timers(x, now);
	if (LIST_EMPTY(&se->rc_list))
		return n;
	if (now >= se->next_timer) {
		struct rc_qp *rc;

		se->next_timer = now + us_to_tsc(RC_TIMER_US);
		for (rc = LIST_FIRST(&se->rc_list); rc != NULL; rc = LIST_NEXT(rc, link))
			timers(x, rc, now);
	}
	return n;
}

void
rc_error(struct ectx *x, struct dqp *qp)
{
	struct rc_qp *rc = soft_qp(qp)->rc;

	if (rc == NULL)
		return;
	while (rc->wq_head != rc->wq_tail) {
		const struct rc_wqe *w = wqe_at(rc, rc->wq_head);

		complete_head(x, qp, rc, w->err != 0 ? w->err : NDK_STATUS_CANCELLED);
	}
	rc->rd_head = rc->rd_tail;
	rc->deadline = 0;
	qp->sq_hold = false;
	if (rc->r_taken) {
		if (!rc->r_owed)
			rc->r_status = NDK_STATUS_CANCELLED;
		recv_finish(x, qp, rc);
	}
}

void
rc_destroy(struct dqp *qp)
{
	struct rc_qp *rc = soft_qp(qp)->rc;

	if (rc == NULL)
		return;
	/* not on ack_list: soft_poll empties it before it returns, and no QP goes in between */
	RTE_ASSERT(!rc->ack_listed);
	LIST_REMOVE(rc, link);
	free(rc);
	soft_qp(qp)->rc = NULL;
}
