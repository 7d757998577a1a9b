/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * QP1 of each RoCEv2 port: the connection manager's management datagrams
 * (IBTA 12.6; Linux's ib_cm and rdma_cm are the peers), both sides.
 *
 * Passive: a REQ for rdma_cm's TCP port space goes, as a connection
 * request, to the listener of that port on this node (daemon/conn.c); the
 * app's accept connects its QP to the requester and answers with a REP,
 * resent until the RTU comes; its reject answers with a REJ (consumer
 * defined). A REQ nobody listens for gets a REJ "invalid service ID" at
 * once, so a remote rdma_connect() fails fast. A duplicate REQ (the
 * requester's resend) is answered with an MRA while the app thinks, with
 * the REP once it accepted; a REQ for a connection that has ended is stale.
 *
 * Active: CONNECT to another node sends a REQ with rdma_cm's header,
 * resent until a REP, REJ or MRA comes; the REP goes to the engine of the
 * connecting QP (conn_answer), which connects the QP and sends the RTU.
 *
 * Connections live in one table for the provider (struct cm_table), under
 * a lock: MADs come to any engine, and a connection's QP is one engine's.
 * The lock is the connection manager's only, never on a data path. A
 * connection's local communication ID names its slot (the low bits), so
 * every answer finds its slot at once.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_mbuf.h>
#include <rte_random.h>
#include <rte_spinlock.h>

#include "../../conn.h"
#include "../../qp.h"
#include "roce/bytes.h"
#include "roce/cm_wire.h"
#include "soft.h"

#define CM_SLOT_BITS 12
#define CM_SLOTS     (1u << CM_SLOT_BITS) /* connections being made or held at once */
/*
 * How long one waits for an answer before resending (a REQ, REP or DREQ),
 * how often, and what a REQ tells the peer of both (4.096 us << 17 = 537 ms).
 */
#define CM_RESEND_US   537000u
#define CM_RESENDS     3u
#define CM_TIMEOUT_EXP 17
/* How long an MRA may ask one to wait, at most (4.096 us << 24 = 69 s, rdma_cm's own). */
#define CM_MRA_MAX_EXP 24
/* What an MRA this side sends asks for: the app's time to answer (4.096 us << 20 = 4.3 s). */
#define CM_MRA_EXP 20
/* How long an ended connection is remembered, to call a late REQ for it stale. */
#define CM_TIMEWAIT_US 2000000u

enum cm_state {
	CM_IDLE = 0,
	CM_REQ_SENT,	/* active: REQ out, resent until an answer */
	CM_REP_RCVD,	/* active: the QP's engine connects it and sends the RTU */
	CM_REQ_RCVD,	/* passive: offered to the listener's app */
	CM_REQ_DEAD,	/* passive: offered, and the requester gave up meanwhile */
	CM_REP_SENT,	/* passive: accepted, REP out, resent until the RTU */
	CM_ESTABLISHED, /* either side */
	CM_DREQ_SENT,	/* this side ends it: DREQ out, resent until the DREP */
	CM_TIMEWAIT,	/* ended: kept a while to call a late REQ stale */
};

struct cm_conn {
	uint8_t state;
	uint8_t resends; /* left */
	uint8_t port_index;
	bool mac_known;
	uint32_t local_id, remote_id;
	uint32_t peer_ip;
	uint8_t peer_mac[6];
	uint16_t udp_sport;
	uint32_t peer_qp1;
	uint64_t due; /* TSC: the next resend or expiry; 0: none */
	/* the QP it connects (qp_handle 0: it went) and, active, the CONNECT it is for */
	uint32_t engine, client_id, qp_handle, qpn;
	uint32_t peer_qpn;
	uint64_t user_data;
	bool disc_asked; /* DREQ_SENT by a DISCONNECT, answered by the DREP (disc_req) */
	uint64_t disc_req;
	struct ndk_abi_conn *blk;
	uint32_t rq_psn; /* what the REQ named: the PSN this side receives from */
	uint16_t local_port, listen_port;
	uint8_t mad[MAD_LEN]; /* the last REQ, REP, RTU or DREQ sent: what a resend sends */
};

struct cm_table {
	rte_spinlock_t lock;
	_Atomic uint64_t next_due; /* TSC: the earliest due of a slot (UINT64_MAX: none) */
	uint32_t hint;		   /* where the search for a free slot starts */
	struct roce_ports *ports;
	struct cm_conn slot[CM_SLOTS];
};

/*
 * A MAD handed to an engine with a connection message (conn_msg's remote):
 * a REQ while the listener's app decides, a REP on its way to the
 * connecting QP's engine; local_id names the connection's slot.
 */
struct cm_in {
	uint32_t local_id;
	struct cm_msg msg;
};

struct cm_table *
cm_table_new(struct roce_ports *ports)
{
	struct cm_table *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	rte_spinlock_init(&t->lock);
	atomic_store(&t->next_due, UINT64_MAX);
	t->ports = ports;
	return t;
}

void
cm_table_free(struct cm_table *t)
{
	free(t);
}

static struct cm_table *
table_of(struct ectx *x)
{
	return ((struct soft_engine *)x->prov_engine)->cm;
}

static void
set_due(struct cm_table *t, struct cm_conn *s, uint64_t due)
{
	s->due = due;
	if (due != 0 && due < atomic_load_explicit(&t->next_due, memory_order_relaxed))
		atomic_store_explicit(&t->next_due, due, memory_order_relaxed);
}

/* Caller holds the lock. A slot with a fresh local communication ID, or NULL when all are used. */
static struct cm_conn *
slot_new(struct cm_table *t)
{
	uint32_t i;

	for (i = 0; i < CM_SLOTS; i++) {
		uint32_t k = (t->hint + i) % CM_SLOTS;
		struct cm_conn *s = &t->slot[k];

		if (s->state != CM_IDLE)
			continue;
		t->hint = k + 1;
		memset(s, 0, sizeof(*s));
		/* random above the slot bits: an ID from before, or a guess, names nothing */
		s->local_id = (uint32_t)rte_rand() << CM_SLOT_BITS | k;
		if (s->local_id == 0)
			s->local_id = 1u << CM_SLOT_BITS; /* slot 0, and never the ID 0 */
		return s;
	}
	return NULL;
}

/* Caller holds the lock. The connection this side named id, or NULL. */
static struct cm_conn *
slot_by_id(struct cm_table *t, uint32_t id)
{
	struct cm_conn *s = &t->slot[id % CM_SLOTS];

	return s->state != CM_IDLE && s->local_id == id ? s : NULL;
}

/* Caller holds the lock. The connection the peer at ip names id (REQs), or NULL. */
static struct cm_conn *
slot_by_peer(struct cm_table *t, uint32_t ip, uint32_t id)
{
	uint32_t i;

	for (i = 0; i < CM_SLOTS; i++) {
		struct cm_conn *s = &t->slot[i];

		if (s->state != CM_IDLE && s->peer_ip == ip && s->remote_id == id &&
		    s->state != CM_REQ_SENT)
			return s;
	}
	return NULL;
}

static void
slot_free(struct cm_conn *s)
{
	s->state = CM_IDLE;
	s->due = 0;
}

/* An ended connection, kept a while to call a late REQ for it stale. */
static void
slot_timewait(struct cm_table *t, struct cm_conn *s)
{
	s->state = CM_TIMEWAIT;
	set_due(t, s, rte_rdtsc() + us_to_tsc(CM_TIMEWAIT_US));
}

/* Send mad to s's peer from QP1. Not knowing its MAC yet, ask: a resend goes once it answers. */
static void
slot_send(struct ectx *x, struct cm_table *t, struct cm_conn *s, const uint8_t mad[MAD_LEN])
{
	struct roce_port *p = &t->ports->port[s->port_index];
	struct rte_mbuf *m;
	struct roce_pkt out = {
		.src_ip = p->ip,
		.dst_ip = s->peer_ip,
		.ttl = 64,
		.ip_df = true,
		.src_port = s->udp_sport,
		.opcode = ROCE_UD_SEND_ONLY,
		.pkey = 0xffff,
		.dest_qp = s->peer_qp1,
		.qkey = GSI_QKEY,
		.src_qp = GSI_QPN,
		.payload = mad,
		.payload_len = MAD_LEN,
	};
	size_t len;

	if (!s->mac_known)
		s->mac_known = roce_neigh_lookup(p, s->peer_ip, s->peer_mac);
	if (!s->mac_known) {
		roce_arp_request(p, x->engine, s->peer_ip);
		return;
	}
	m = roce_frame_alloc(p, x->engine);
	if (m == NULL)
		return;
	memcpy(out.dst_mac, s->peer_mac, 6);
	memcpy(out.src_mac, p->mac, 6);
	len = roce_encode(&out, rte_pktmbuf_mtod(m, uint8_t *), rte_pktmbuf_tailroom(m));
	if (len == 0) {
		rte_pktmbuf_free(m);
		return;
	}
	m->data_len = (uint16_t)len;
	m->pkt_len = (uint32_t)len;
	roce_count(p, x->engine, ROCE_C_MAD_TX, 1);
	roce_tx(p, x->engine, m);
}

static void
slot_send_msg(struct ectx *x, struct cm_table *t, struct cm_conn *s, const struct cm_msg *msg)
{
	uint8_t mad[MAD_LEN];

	if (cm_encode(msg, mad))
		slot_send(x, t, s, mad);
}

/* A CA GUID from the port's MAC, as an EUI-64 (what rxe reports for its own). */
static uint64_t
port_guid(const struct roce_port *p)
{
	const uint8_t *m = p->mac;

	return (uint64_t)(m[0] ^ 2) << 56 | (uint64_t)m[1] << 48 | (uint64_t)m[2] << 40 |
	       0xfffeull << 24 | (uint64_t)m[3] << 16 | (uint64_t)m[4] << 8 | m[5];
}

/* REJ of the message msg (CM_MSG_*) of s's connection, with private data from the app. */
static void
slot_reject(struct ectx *x, struct cm_table *t, struct cm_conn *s, uint8_t msg, uint16_t reason,
	    uint64_t tid, const struct ndk_abi_conn *why)
{
	struct cm_msg out = { .attr = CM_REJ,
			      .tid = tid,
			      .local_comm_id = s->local_id,
			      .remote_comm_id = s->remote_id,
			      .msg = msg,
			      .reason = reason };

	if (reason == CM_REJ_TIMEOUT) {
		/* the ARI of a timeout names the CA that gave up (IBTA 12.6.7.2) */
		put64(out.ari, port_guid(&t->ports->port[s->port_index]));
		out.ari_len = 8;
	}
	if (why != NULL)
		memcpy(out.private_data, why->private_data,
		       RTE_MIN(why->private_len, (uint32_t)NDK_REJECT_PRIVATE_MAX));
	slot_send_msg(x, t, s, &out);
}

/* Reads in flight both sides can take: the smaller of a and b, at most the RC transport's. */
static uint8_t
reads_agreed(uint32_t a, uint32_t b)
{
	uint32_t ab = RTE_MIN(a, b);

	return (uint8_t)RTE_MIN(ab, RC_READS);
}

/* The IB MTU enum (1 = 256 ... 5 = 4096) of mtu bytes. */
static uint8_t
mtu_enum(uint32_t mtu)
{
	uint8_t e = 1;

	while (e < 5 && (128u << (e + 1)) <= mtu)
		e++;
	return e;
}

static void
ipv4_mapped(uint8_t gid[16], uint32_t ip)
{
	memset(gid, 0, 16);
	gid[10] = 0xff;
	gid[11] = 0xff;
	put32(gid + 12, ip);
}

/* ------------------------------------------------------------------------
 * Passive side
 * --------------------------------------------------------------------- */

/* conn_msg's remote_answer for a REQ: refuse (qp_handle 0), or connect the QP and send the REP. */
static ndk_status
answer(struct ectx *x, struct client *c, uint32_t qp_handle, struct conn_msg *m)
{
	struct cm_table *t = table_of(x);
	struct cm_in *r = m->remote;
	struct peer_addr peer = {
		.kind = PEER_ROCEV2,
		.qpn = r->msg.local_qpn,
		.mtu = r->msg.path_mtu >= 1 && r->msg.path_mtu <= 5 ? 128u << r->msg.path_mtu : 0,
	};
	struct cm_msg rep;
	struct cm_conn *s;
	struct dqp *qp;
	struct obj *o;
	ndk_status st;

	rte_spinlock_lock(&t->lock);
	s = slot_by_id(t, r->local_id);
	if (qp_handle == 0) {
		if (s != NULL && s->state == CM_REQ_RCVD)
			slot_reject(x, t, s, CM_MSG_REQ, CM_REJ_CONSUMER_DEFINED, r->msg.tid,
				    &m->answer);
		if (s != NULL && (s->state == CM_REQ_RCVD || s->state == CM_REQ_DEAD))
			slot_free(s);
		rte_spinlock_unlock(&t->lock);
		free(r);
		free(m);
		return NDK_STATUS_SUCCESS;
	}
	o = obj_lookup(c, qp_handle, OBJ_QP);
	st = o == NULL ? NDK_STATUS_INVALID_HANDLE
	     : s == NULL || s->state != CM_REQ_RCVD
		     ? NDK_STATUS_CONNECTION_INVALID /* the requester gave up */
		     : NDK_STATUS_SUCCESS;
	if (st != NDK_STATUS_SUCCESS) {
		rte_spinlock_unlock(&t->lock);
		return st;
	}
	qp = o->ptr;
	/*
	 * The CM's PSNs cross over (Linux's ib_cm: a REQ's starting PSN is
	 * the PSN the requester receives from, a REP's the one the replier
	 * receives from): this QP sends from the REQ's and names its own
	 * random one in the REP.
	 */
	peer.sgid = s->port_index + 1u;
	ipv4_mapped(peer.gid, s->peer_ip);
	peer.psn = qp->psn;
	qp->psn = r->msg.starting_psn;
	st = qp->state == QP_INIT ? dqp_connect_peer(c, x, qp_handle, &peer)
				  : NDK_STATUS_INVALID_DEVICE_STATE;
	if (st != NDK_STATUS_SUCCESS) {
		qp->psn = peer.psn;
		rte_spinlock_unlock(&t->lock);
		return st;
	}
	/* what it answers with may not exceed what the requester can take */
	rep = (struct cm_msg){
		.attr = CM_REP,
		.tid = r->msg.tid,
		.local_comm_id = s->local_id,
		.remote_comm_id = s->remote_id,
		.local_qpn = qp->qpn,
		.starting_psn = peer.psn,
		.responder_resources = reads_agreed(m->answer.ird, r->msg.initiator_depth),
		.initiator_depth = reads_agreed(m->answer.ord, r->msg.responder_resources),
		.rnr_retry_count = 7,
		.local_ca_guid = port_guid(&t->ports->port[s->port_index]),
	};
	memcpy(rep.private_data, m->answer.private_data, m->answer.private_len);
	if (cm_encode(&rep, s->mad))
		slot_send(x, t, s, s->mad);
	s->state = CM_REP_SENT;
	s->resends = (uint8_t)RTE_MIN(r->msg.max_cm_retries, 15);
	s->engine = x->engine;
	s->client_id = c->id;
	s->qp_handle = qp_handle;
	s->qpn = qp->qpn;
	s->peer_qpn = r->msg.local_qpn;
	soft_qp(qp)->cm_id = s->local_id;
	set_due(t, s, rte_rdtsc() + us_to_tsc(CM_RESEND_US));
	rte_spinlock_unlock(&t->lock);
	free(r);
	free(m);
	return NDK_STATUS_SUCCESS;
}

/* s: a connection with the sender of in, which came to port p in the frame pk. */
static void
slot_from_frame(struct ectx *x, struct roce_port *p, const struct roce_pkt *pk,
		const struct cm_msg *in, struct cm_conn *s)
{
	struct soft_engine *se = x->prov_engine;

	s->port_index = (uint8_t)(p - se->ports->port);
	s->remote_id = in->local_comm_id;
	s->peer_ip = pk->src_ip;
	memcpy(s->peer_mac, pk->src_mac, 6);
	s->mac_known = true;
	s->udp_sport = pk->src_port;
	s->peer_qp1 = pk->src_qp;
}

/* The listener's app's view of a REQ for rdma_cm's port space. */
static void
offer_view(const struct roce_port *p, const struct cm_conn *s, const struct cm_msg *in,
	   const struct rdma_cm_hdr *h, struct ndk_abi_conn *v)
{
	*v = (struct ndk_abi_conn){
		.family = NDK_ADDRESS_ROCEV2,
		.port = h->src_port,
		.local_port = (uint16_t)(in->service_id & 0xffff),
		.peer_qpn = in->local_qpn,
		.ird = in->responder_resources,
		.ord = in->initiator_depth,
		.private_len = NDK_CONNECT_PRIVATE_MAX,
	};
	ipv4_mapped(v->peer_ip, s->peer_ip);
	ipv4_mapped(v->local_ip, p->ip);
	memcpy(v->private_data, in->private_data + RDMA_CM_HDR_LEN, NDK_CONNECT_PRIVATE_MAX);
}

/*
 * A REQ for rdma_cm's TCP port space to the port's listener: true when
 * offered (s then waits for the app), false when nobody there takes it.
 */
static bool
offer_req(struct ectx *x, struct roce_port *p, struct cm_conn *s, const struct cm_msg *in)
{
	struct rdma_cm_hdr h;
	struct conn_msg *m;
	struct cm_in *r;

	if ((in->service_id & ~0xffffull) != (RDMA_CM_SID_BASE | (uint64_t)RDMA_CM_PS_TCP << 16) ||
	    in->transport_type != 0 || !rdma_cm_hdr_decode(in->private_data, &h) ||
	    h.ip_version != 4)
		return false;
	if (get32(h.dst_ip + 12) != p->ip)
		return false;
	m = calloc(1, sizeof(*m));
	r = calloc(1, sizeof(*r));
	if (m == NULL || r == NULL) {
		free(m);
		free(r);
		return false;
	}
	r->local_id = s->local_id;
	r->msg = *in;
	m->active_qpn = in->local_qpn;
	m->remote = r;
	m->remote_answer = answer;
	offer_view(p, s, in, &h, &m->offer);
	if (conn_offer_remote(x, (uint32_t)(in->service_id & 0xffff), m))
		return true;
	free(r);
	free(m);
	return false;
}

static void
on_req(struct ectx *x, struct cm_table *t, struct roce_port *p, const struct roce_pkt *pk,
       const struct cm_msg *in)
{
	struct cm_conn *s = slot_by_peer(t, pk->src_ip, in->local_comm_id), tmp = { 0 };
	struct cm_msg mra = { .attr = CM_MRA, .tid = in->tid, .service_timeout = CM_MRA_EXP };

	if (s != NULL) {
		/* the requester's resend: it did not hear the answer yet */
		switch (s->state) {
		case CM_REQ_RCVD:
			mra.local_comm_id = s->local_id;
			mra.remote_comm_id = s->remote_id;
			mra.msg = CM_MSG_REQ;
			slot_send_msg(x, t, s, &mra);
			break;
		case CM_REP_SENT:
			slot_send(x, t, s, s->mad);
			break;
		case CM_TIMEWAIT:
			slot_reject(x, t, s, CM_MSG_REQ, CM_REJ_STALE_CONN, in->tid, NULL);
			break;
		default:
			break;
		}
		return;
	}
	s = slot_new(t);
	if (s == NULL) {
		slot_from_frame(x, p, pk, in, &tmp);
		slot_reject(x, t, &tmp, CM_MSG_REQ, CM_REJ_NO_RESOURCES, in->tid, NULL);
		return;
	}
	slot_from_frame(x, p, pk, in, s);
	s->state = CM_REQ_RCVD;
	if (!offer_req(x, p, s, in)) {
		slot_reject(x, t, s, CM_MSG_REQ, CM_REJ_INVALID_SERVICE_ID, in->tid, NULL);
		slot_free(s);
	}
}

/* ------------------------------------------------------------------------
 * Active side
 * --------------------------------------------------------------------- */

/* The connecting app's view of its connection, before the peer's part. */
static void
connect_view(const struct cm_table *t, const struct cm_conn *s, struct ndk_abi_conn *v)
{
	*v = (struct ndk_abi_conn){ .family = NDK_ADDRESS_ROCEV2,
				    .port = s->listen_port,
				    .local_port = s->local_port };
	ipv4_mapped(v->peer_ip, s->peer_ip);
	ipv4_mapped(v->local_ip, t->ports->port[s->port_index].ip);
}

/*
 * conn_msg's remote_answer for a REP, on the connecting QP's engine:
 * connect the QP and send the RTU; with no QP (c NULL: it went), refuse.
 */
static ndk_status
connected(struct ectx *x, struct client *c, uint32_t qp_handle, struct conn_msg *m)
{
	struct cm_table *t = table_of(x);
	struct cm_in *r = m->remote;
	struct peer_addr peer = { .kind = PEER_ROCEV2, .qpn = r->msg.local_qpn };
	struct cm_msg rtu = { .attr = CM_RTU, .tid = r->msg.tid };
	struct cm_conn *s;
	struct obj *o;
	ndk_status st =
		NDK_STATUS_IO_TIMEOUT; /* the slot ended meanwhile: only a timeout ends it */
	uint32_t psn = 0;

	rte_spinlock_lock(&t->lock);
	s = slot_by_id(t, r->local_id);
	if (s == NULL || s->state != CM_REP_RCVD) {
		rte_spinlock_unlock(&t->lock);
		return st;
	}
	o = c != NULL ? obj_lookup(c, qp_handle, OBJ_QP) : NULL;
	if (o != NULL) {
		/* PSNs cross over, as in answer() */
		peer.psn = s->rq_psn;
		peer.sgid = s->port_index + 1u;
		ipv4_mapped(peer.gid, s->peer_ip);
		psn = ((struct dqp *)o->ptr)->psn;
		((struct dqp *)o->ptr)->psn = r->msg.starting_psn;
		st = dqp_connect_peer(c, x, qp_handle, &peer);
		if (st != NDK_STATUS_SUCCESS)
			((struct dqp *)o->ptr)->psn = psn;
	}
	if (o == NULL || st != NDK_STATUS_SUCCESS) {
		slot_reject(x, t, s, CM_MSG_REP, CM_REJ_CONSUMER_DEFINED, r->msg.tid, NULL);
		slot_free(s);
		rte_spinlock_unlock(&t->lock);
		return st;
	}
	rtu.local_comm_id = s->local_id;
	rtu.remote_comm_id = s->remote_id;
	if (cm_encode(&rtu, s->mad))
		slot_send(x, t, s, s->mad);
	s->state = CM_ESTABLISHED;
	s->due = 0;
	s->peer_qpn = r->msg.local_qpn;
	soft_qp(o->ptr)->cm_id = s->local_id;
	rte_spinlock_unlock(&t->lock);
	return NDK_STATUS_SUCCESS;
}

/*
 * Caller holds the lock. m answers the CONNECT of s: addressed to its QP's
 * engine, with the app's view of the connection (the caller adds the
 * peer's part, then sends it with conn_answer()).
 */
static void
connect_msg(const struct cm_table *t, const struct cm_conn *s, struct conn_msg *m)
{
	m->active_client = s->client_id;
	m->active_engine = s->engine;
	m->active_qp = s->qp_handle;
	m->active_qpn = s->qpn;
	m->active_req = s->user_data;
	m->active_blk = s->blk;
	connect_view(t, s, &m->answer);
}

/* Caller holds the lock. The CONNECT of s failed with st (rej: the REJ that said so); s ends. */
static void
connect_fail(struct ectx *x, struct cm_table *t, struct cm_conn *s, ndk_status st,
	     const struct cm_msg *rej)
{
	struct conn_msg *m = calloc(1, sizeof(*m));

	if (m != NULL) {
		m->kind = CONN_REFUSED;
		m->status = st;
		connect_msg(t, s, m);
		if (rej != NULL && rej->reason == CM_REJ_CONSUMER_DEFINED) {
			m->answer.private_len = NDK_REJECT_PRIVATE_MAX;
			memcpy(m->answer.private_data, rej->private_data, NDK_REJECT_PRIVATE_MAX);
		}
		conn_answer(x, m);
	}
	/* with no memory to say so, the app's CONNECT waits until it closes the QP */
	slot_free(s);
}

static void
on_rep(struct ectx *x, struct cm_table *t, struct cm_conn *s, const struct cm_msg *in)
{
	struct conn_msg *m;
	struct cm_in *r;

	if (s->state == CM_ESTABLISHED && s->remote_id == in->local_comm_id) {
		slot_send(x, t, s, s->mad); /* our RTU was lost */
		return;
	}
	if (s->state != CM_REQ_SENT)
		return;
	m = calloc(1, sizeof(*m));
	r = calloc(1, sizeof(*r));
	if (m == NULL || r == NULL) {
		free(m);
		free(r);
		return; /* as if lost: the peer resends it */
	}
	s->remote_id = in->local_comm_id;
	s->state = CM_REP_RCVD;
	s->due = 0;
	r->local_id = s->local_id;
	r->msg = *in;
	m->kind = CONN_ACCEPTED;
	m->remote = r;
	m->remote_answer = connected;
	connect_msg(t, s, m);
	m->answer.peer_qpn = in->local_qpn;
	m->answer.ird = in->responder_resources;
	m->answer.ord = in->initiator_depth;
	m->answer.private_len = NDK_ACCEPT_PRIVATE_MAX;
	memcpy(m->answer.private_data, in->private_data, NDK_ACCEPT_PRIVATE_MAX);
	conn_answer(x, m);
}

ndk_status
cm_connect(struct ectx *x, struct client *c, uint32_t qp_handle, const struct ndk_abi_conn *in,
	   struct ndk_abi_conn *blk, uint64_t user_data)
{
	static const uint8_t v4mapped[12] = { [10] = 0xff, [11] = 0xff };
	struct soft_engine *se = x->prov_engine;
	struct cm_table *t = se->cm;
	struct rdma_cm_hdr h = { .ip_version = 4 };
	struct roce_port *p;
	struct cm_msg req;
	struct cm_conn *s;
	struct dqp *qp = obj_lookup(c, qp_handle, OBJ_QP)->ptr; /* conn_connect looked */
	uint32_t ip;

	if (t == NULL)
		return NDK_STATUS_NOT_SUPPORTED; /* ndkd has no RoCEv2 port */
	if (memcmp(in->peer_ip, v4mapped, sizeof(v4mapped)) != 0)
		return NDK_STATUS_NOT_SUPPORTED; /* IPv6: not yet */
	if (in->sgid > se->ports->n)
		return NDK_STATUS_INVALID_PARAMETER;
	ip = get32(in->peer_ip + 12);
	p = in->sgid != 0 ? roce_port_on(&se->ports->port[in->sgid - 1], ip)
			  : roce_port_for(se->ports, ip);
	if (p == NULL)
		return NDK_STATUS_HOST_UNREACHABLE;
	rte_spinlock_lock(&t->lock);
	s = slot_new(t);
	if (s == NULL) {
		rte_spinlock_unlock(&t->lock);
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	}
	s->state = CM_REQ_SENT;
	s->resends = CM_RESENDS;
	s->port_index = (uint8_t)(p - se->ports->port);
	s->peer_ip = ip;
	s->udp_sport = (uint16_t)(0xc000 | (rte_rand() & 0x3fff));
	s->peer_qp1 = GSI_QPN;
	s->engine = x->engine;
	s->client_id = c->id;
	s->qp_handle = qp_handle;
	s->qpn = qp->qpn;
	s->user_data = user_data;
	s->blk = blk;
	s->rq_psn = (uint32_t)rte_rand() & ROCE_PSN_MASK;
	/* rdma_cm's ephemeral ports; only the peer sees it */
	s->local_port = (uint16_t)(32768 + rte_rand() % 28232);
	s->listen_port = in->port;
	h.src_port = s->local_port;
	put32(h.src_ip + 12, p->ip); /* cma_hdr carries IPv4 bare, in the last 4 bytes */
	put32(h.dst_ip + 12, ip);
	req = (struct cm_msg){
		.attr = CM_REQ,
		.tid = rte_rand(),
		.local_comm_id = s->local_id,
		.service_id = rdma_cm_service_id(RDMA_CM_PS_TCP, in->port),
		.local_ca_guid = port_guid(p),
		.local_qpn = qp->qpn,
		.starting_psn = s->rq_psn,
		.responder_resources = reads_agreed(in->ird, RC_READS),
		/*
		 * The app's ORD as asked, though the RC transport never has more
		 * than RC_READS out: a responder that grants more keeps room for
		 * requests repeated after a timeout (rxe with exactly as many
		 * resources as reads out dropped the responses of an evicted one).
		 */
		.initiator_depth = (uint8_t)(in->ord > 255 ? 255 : in->ord),
		.remote_cm_timeout = CM_TIMEOUT_EXP,
		.local_cm_timeout = CM_TIMEOUT_EXP,
		.retry_count = 7,
		.pkey = 0xffff,
		.path_mtu = mtu_enum(p->path_mtu),
		.rnr_retry_count = 7,
		.max_cm_retries = CM_RESENDS,
		.srq = qp->srq != NULL,
		.primary = { .local_lid = 0xffff,
			     .remote_lid = 0xffff,
			     .hop_limit = 64,
			     .subnet_local = true,
			     .ack_timeout = 19 },
	};
	ipv4_mapped(req.primary.local_gid, p->ip);
	ipv4_mapped(req.primary.remote_gid, ip);
	rdma_cm_hdr_encode(&h, req.private_data);
	memcpy(req.private_data + RDMA_CM_HDR_LEN, in->private_data, in->private_len);
	if (cm_encode(&req, s->mad))
		slot_send(x, t, s, s->mad);
	set_due(t, s, rte_rdtsc() + us_to_tsc(CM_RESEND_US));
	rte_spinlock_unlock(&t->lock);
	return NDK_STATUS_PENDING;
}

/* ------------------------------------------------------------------------
 * Both
 * --------------------------------------------------------------------- */

/* Caller holds the lock. Tell s's QP, on its engine, that the connection ended (kind). */
static void
tell_owner(struct ectx *x, struct cm_conn *s, uint32_t kind)
{
	struct conn_msg *m;

	if (kind == CONN_DISCONNECTED && s->qp_handle == 0)
		return; /* the QP went */
	if (kind == CONN_DISCONNECT_DONE && !s->disc_asked)
		return;
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return; /* the QP learns when its requests fail */
	m->kind = kind;
	m->active_client = s->client_id;
	m->active_engine = s->engine;
	m->active_qpn = s->qpn;
	m->active_req = s->disc_req;
	s->disc_asked = false;
	conn_answer(x, m);
}

/* Caller holds the lock. End s from this side: a DREQ, resent until the DREP. */
static void
dreq_send(struct ectx *x, struct cm_table *t, struct cm_conn *s)
{
	struct cm_msg dreq = { .attr = CM_DREQ,
			       .tid = rte_rand(),
			       .local_comm_id = s->local_id,
			       .remote_comm_id = s->remote_id,
			       .remote_qpn = s->peer_qpn };

	if (cm_encode(&dreq, s->mad))
		slot_send(x, t, s, s->mad);
	s->state = CM_DREQ_SENT;
	s->resends = CM_RESENDS;
	set_due(t, s, rte_rdtsc() + us_to_tsc(CM_RESEND_US));
}

/* Caller holds the lock. s's connection ended (DREP, or a DREQ from the peer). */
static void
ended(struct ectx *x, struct cm_table *t, struct cm_conn *s)
{
	if (s->state == CM_DREQ_SENT)
		tell_owner(x, s, CONN_DISCONNECT_DONE);
	else
		tell_owner(x, s, CONN_DISCONNECTED);
	slot_timewait(t, s);
}

ndk_status
cm_disconnect(struct ectx *x, struct dqp *qp, uint64_t user_data)
{
	struct cm_table *t = table_of(x);
	struct soft_qp *sq = soft_qp(qp);
	ndk_status st = NDK_STATUS_SUCCESS;
	struct cm_conn *s;

	if (t == NULL || sq->cm_id == 0)
		return NDK_STATUS_NOT_SUPPORTED;
	rte_spinlock_lock(&t->lock);
	s = slot_by_id(t, sq->cm_id);
	if (s != NULL && (s->state == CM_ESTABLISHED || s->state == CM_REP_SENT)) {
		dreq_send(x, t, s);
		s->disc_asked = true;
		s->disc_req = user_data;
		st = NDK_STATUS_PENDING;
	}
	if (s != NULL)
		s->qp_handle = 0; /* it ended for the QP: no word of it goes there again */
	sq->cm_id = 0;
	rte_spinlock_unlock(&t->lock);
	return st;
}

void
cm_qp_gone(struct ectx *x, struct dqp *qp)
{
	struct cm_table *t = table_of(x);
	struct soft_qp *sq = soft_qp(qp);
	struct cm_conn *s;

	if (t == NULL || sq->cm_id == 0)
		return;
	rte_spinlock_lock(&t->lock);
	s = slot_by_id(t, sq->cm_id);
	if (s != NULL) {
		s->qp_handle = 0;
		/* as Linux's rdma_cm does when its ID is destroyed connected */
		if (s->state == CM_ESTABLISHED || s->state == CM_REP_SENT)
			dreq_send(x, t, s);
	}
	sq->cm_id = 0;
	rte_spinlock_unlock(&t->lock);
}

void
cm_timers(struct ectx *x, uint64_t now)
{
	struct cm_table *t = table_of(x);
	uint64_t next = UINT64_MAX;
	uint32_t i;

	if (t == NULL || now < atomic_load_explicit(&t->next_due, memory_order_relaxed) ||
	    !rte_spinlock_trylock(&t->lock))
		return;
	for (i = 0; i < CM_SLOTS; i++) {
		struct cm_conn *s = &t->slot[i];

		if (s->state == CM_IDLE || s->due == 0)
			continue;
		if (now < s->due) {
			next = RTE_MIN(next, s->due);
			continue;
		}
		if (s->state == CM_TIMEWAIT) {
			slot_free(s);
			continue;
		}
		if (s->resends == 0) {
			if (s->state == CM_REQ_SENT && !s->mac_known) {
				/* nobody answered ARP: no REQ ever left */
				connect_fail(x, t, s, NDK_STATUS_HOST_UNREACHABLE, NULL);
			} else if (s->state == CM_REQ_SENT) {
				slot_reject(x, t, s, CM_MSG_REQ, CM_REJ_TIMEOUT, get64(s->mad + 8),
					    NULL);
				connect_fail(x, t, s, NDK_STATUS_IO_TIMEOUT, NULL);
			} else if (s->state == CM_REP_SENT) {
				/* the requester never confirmed: its QP's connection ends */
				slot_reject(x, t, s, CM_MSG_REP, CM_REJ_TIMEOUT, get64(s->mad + 8),
					    NULL);
				tell_owner(x, s, CONN_DISCONNECTED);
				slot_free(s);
			} else {
				ended(x, t, s); /* DREQ_SENT: the peer is gone anyway */
			}
			continue;
		}
		s->resends--;
		slot_send(x, t, s, s->mad);
		s->due = now + us_to_tsc(CM_RESEND_US);
		next = RTE_MIN(next, s->due);
	}
	atomic_store_explicit(&t->next_due, next, memory_order_relaxed);
	rte_spinlock_unlock(&t->lock);
}

static void
on_mra(struct cm_table *t, struct cm_conn *s, const struct cm_msg *in)
{
	uint8_t exp = RTE_MIN(in->service_timeout, (uint8_t)CM_MRA_MAX_EXP);

	/* the peer asks for time: wait that long, then the usual resends */
	if ((s->state == CM_REQ_SENT && in->msg == CM_MSG_REQ) ||
	    (s->state == CM_REP_SENT && in->msg == CM_MSG_REP))
		set_due(t, s, rte_rdtsc() + us_to_tsc(CM_RESEND_US + ((4096ull << exp) / 1000)));
}

static void
on_rej(struct ectx *x, struct cm_table *t, struct cm_conn *s, const struct cm_msg *in)
{
	switch (s->state) {
	case CM_REQ_SENT:
		connect_fail(x, t, s,
			     in->reason == CM_REJ_TIMEOUT ? NDK_STATUS_IO_TIMEOUT
							  : NDK_STATUS_CONNECTION_REFUSED,
			     in);
		break;
	case CM_REQ_RCVD:
		s->state = CM_REQ_DEAD; /* the app still holds it: the slot goes with its answer */
		break;
	case CM_REP_SENT:
		slot_free(s);
		break;
	default:
		break;
	}
}

void
cm_input(struct ectx *x, struct roce_port *p, const struct roce_pkt *pk)
{
	struct cm_table *t = table_of(x);
	struct cm_msg in, out;
	uint8_t mad[MAD_LEN];
	struct cm_conn *s;

	roce_count(p, x->engine, ROCE_C_MAD_RX, 1);
	/* a datagram to QP1 under another Q_Key, or not a CM MAD: not ours to answer */
	if (t == NULL || pk->qkey != GSI_QKEY ||
	    cm_decode(pk->payload, pk->payload_len, &in) != CM_OK)
		return;
	rte_spinlock_lock(&t->lock);
	if (in.attr == CM_REQ) {
		on_req(x, t, p, pk, &in);
		rte_spinlock_unlock(&t->lock);
		return;
	}
	/* every other message names this side's ID; one from another peer names nothing here */
	s = slot_by_id(t, in.remote_comm_id);
	if (s != NULL && s->peer_ip != pk->src_ip)
		s = NULL;
	if (s != NULL) {
		switch (in.attr) {
		case CM_REP:
			on_rep(x, t, s, &in);
			break;
		case CM_MRA:
			on_mra(t, s, &in);
			break;
		case CM_REJ:
			on_rej(x, t, s, &in);
			break;
		case CM_RTU:
			if (s->state == CM_REP_SENT) {
				s->state = CM_ESTABLISHED;
				s->due = 0;
			}
			break;
		case CM_DREQ:
			/* the RTU may have been lost: a DREQ confirms the connection too */
			if (s->state == CM_ESTABLISHED || s->state == CM_REP_SENT ||
			    s->state == CM_DREQ_SENT)
				ended(x, t, s);
			break;
		case CM_DREP:
			if (s->state == CM_DREQ_SENT)
				ended(x, t, s);
			break;
		default:
			break;
		}
	}
	rte_spinlock_unlock(&t->lock);
	if (in.attr != CM_DREQ)
		return;
	/* a DREQ gets its DREP whether or not this side still knows the connection */
	memset(&out, 0, sizeof(out));
	out.attr = CM_DREP;
	out.tid = in.tid;
	out.local_comm_id = in.remote_comm_id;
	out.remote_comm_id = in.local_comm_id;
	if (cm_encode(&out, mad)) {
		struct cm_conn to = { 0 };

		slot_from_frame(x, p, pk, &in, &to);
		slot_send(x, t, &to, mad);
	}
}
