/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * QP1 of each RoCEv2 port: the connection manager's management datagrams
 * (IBTA 12.6; Linux's ib_cm and rdma_cm are the peers). The passive side:
 * a REQ for rdma_cm's TCP port space goes, as a connection request, to the
 * listener of that port on this node (daemon/conn.c); the app's accept
 * connects its QP to the requester and answers with a REP, its reject with
 * a REJ (consumer defined). A REQ nobody listens for gets a REJ "invalid
 * service ID" at once, so a remote rdma_connect() fails fast. A DREQ gets
 * its DREP; RTU and the rest are dropped. No state is kept between MADs:
 * a duplicate REQ (the requester's retry) is offered again, and no REP is
 * resent (both still to do).
 */
#include <stdlib.h>
#include <string.h>

#include <rte_mbuf.h>
#include <rte_random.h>

#include "../../conn.h"
#include "../../qp.h"
#include "roce/bytes.h"
#include "roce/cm_wire.h"
#include "soft.h"

/* Where a REQ came from and what it asked, kept until the app answers. */
struct cm_req {
	struct roce_port *port;
	uint8_t port_index;
	uint32_t peer_ip;
	uint8_t peer_mac[6];
	uint16_t udp_sport;
	uint32_t peer_qp1;
	struct cm_msg req;
};

/* Send mad to ip/mac's QP peer_qp1 from QP1 of port p. */
static void
mad_send(struct ectx *x, struct roce_port *p, uint32_t ip, const uint8_t mac[6], uint16_t sport,
	 uint32_t peer_qp1, const uint8_t mad[MAD_LEN])
{
	struct rte_mbuf *m = roce_frame_alloc(p, x->engine);
	struct roce_pkt out = {
		.src_ip = p->ip,
		.dst_ip = ip,
		.ttl = 64,
		.ip_df = true,
		.src_port = sport,
		.opcode = ROCE_UD_SEND_ONLY,
		.pkey = 0xffff,
		.dest_qp = peer_qp1,
		.qkey = GSI_QKEY,
		.src_qp = GSI_QPN,
		.payload = mad,
		.payload_len = MAD_LEN,
	};
	size_t len;

	if (m == NULL)
		return;
	memcpy(out.dst_mac, mac, 6);
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

/* Reply to the sender of pk with mad. */
static void
mad_reply(struct ectx *x, struct roce_port *p, const struct roce_pkt *pk,
	  const uint8_t mad[MAD_LEN])
{
	mad_send(x, p, pk->src_ip, pk->src_mac, pk->src_port, pk->src_qp, mad);
}

static void
reject(struct ectx *x, const struct cm_req *r, uint16_t reason)
{
	struct cm_msg out = { .attr = CM_REJ,
			      .tid = r->req.tid,
			      .remote_comm_id = r->req.local_comm_id,
			      .msg = CM_MSG_REQ,
			      .reason = reason };
	uint8_t mad[MAD_LEN];

	if (cm_encode(&out, mad))
		mad_send(x, r->port, r->peer_ip, r->peer_mac, r->udp_sport, r->peer_qp1, mad);
}

/* A CA GUID from the port's MAC, as an EUI-64 (what rxe reports for its own). */
static uint64_t
port_guid(const struct roce_port *p)
{
	const uint8_t *m = p->mac;

	return (uint64_t)(m[0] ^ 2) << 56 | (uint64_t)m[1] << 48 | (uint64_t)m[2] << 40 |
	       0xfffeull << 24 | (uint64_t)m[3] << 16 | (uint64_t)m[4] << 8 | m[5];
}

/* conn_msg's remote_answer: refuse (qp_handle 0), or connect the QP and send the REP. */
static ndk_status
answer(struct ectx *x, struct client *c, uint32_t qp_handle, struct conn_msg *m)
{
	struct cm_req *r = m->remote;
	struct peer_addr peer = {
		.kind = PEER_ROCEV2,
		.qpn = r->req.local_qpn,
		.mtu = r->req.path_mtu >= 1 && r->req.path_mtu <= 5 ? 128u << r->req.path_mtu : 0,
		.sgid = r->port_index + 1u,
		.gid = { [10] = 0xff, [11] = 0xff },
	};
	struct cm_msg rep;
	uint8_t mad[MAD_LEN];
	uint8_t rd_res, rd_depth;
	struct dqp *qp;
	struct obj *o;
	ndk_status st;

	if (qp_handle == 0) {
		reject(x, r, CM_REJ_CONSUMER_DEFINED);
		free(r);
		free(m);
		return NDK_STATUS_SUCCESS;
	}
	put32(peer.gid + 12, r->peer_ip);
	o = obj_lookup(c, qp_handle, OBJ_QP);
	if (o == NULL)
		return NDK_STATUS_INVALID_HANDLE;
	qp = o->ptr;
	if (qp->state != QP_INIT)
		return NDK_STATUS_INVALID_DEVICE_STATE;
	/*
	 * The CM's PSNs cross over (Linux's ib_cm: a REQ's starting PSN is the
	 * requester's receive PSN, a REP's its send PSN): this QP sends from the
	 * REQ's, and expects the requester to send from the one the REP names,
	 * the QP's own random one.
	 */
	peer.psn = qp->psn;
	qp->psn = r->req.starting_psn;
	st = dqp_connect_peer(c, x, qp_handle, &peer);
	if (st != NDK_STATUS_SUCCESS) {
		qp->psn = peer.psn;
		return st;
	}
	/* what we answer with may not exceed what the requester can take */
	rd_res = r->req.initiator_depth < 16 ? r->req.initiator_depth : 16;
	rd_depth = r->req.responder_resources < 16 ? r->req.responder_resources : 16;
	rep = (struct cm_msg){
		.attr = CM_REP,
		.tid = r->req.tid,
		.local_comm_id = (uint32_t)rte_rand() | 1,
		.remote_comm_id = r->req.local_comm_id,
		.local_qpn = qp->qpn,
		.starting_psn = peer.psn,
		.responder_resources = rd_res,
		.initiator_depth = rd_depth,
		.rnr_retry_count = 7,
		.local_ca_guid = port_guid(r->port),
	};
	if (cm_encode(&rep, mad))
		mad_send(x, r->port, r->peer_ip, r->peer_mac, r->udp_sport, r->peer_qp1, mad);
	free(r);
	free(m);
	return NDK_STATUS_SUCCESS;
}

/* r: the REQ in, which came to port p in the frame pk. */
static void
req_record(struct ectx *x, struct roce_port *p, const struct roce_pkt *pk, const struct cm_msg *in,
	   struct cm_req *r)
{
	struct soft_engine *se = x->prov_engine;

	r->port = p;
	r->port_index = (uint8_t)(p - se->ports->port);
	r->peer_ip = pk->src_ip;
	memcpy(r->peer_mac, pk->src_mac, 6);
	r->udp_sport = pk->src_port;
	r->peer_qp1 = pk->src_qp;
	r->req = *in;
}

/* A REQ for rdma_cm's TCP port space, to that port's listener: true when offered. */
static bool
offer_req(struct ectx *x, struct roce_port *p, const struct roce_pkt *pk, const struct cm_msg *in)
{
	struct rdma_cm_hdr h;
	struct conn_msg *m;
	struct cm_req *r;

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
	req_record(x, p, pk, in, r);
	m->active_qpn = in->local_qpn;
	m->remote = r;
	m->remote_answer = answer;
	if (conn_offer_remote(x, (uint32_t)(in->service_id & 0xffff), m))
		return true;
	free(r);
	free(m);
	return false;
}

void
cm_input(struct ectx *x, struct roce_port *p, const struct roce_pkt *pk)
{
	struct cm_msg in, out;
	uint8_t mad[MAD_LEN];

	roce_count(p, x->engine, ROCE_C_MAD_RX, 1);
	/* a datagram to QP1 under another Q_Key, or not a CM MAD: not ours to answer */
	if (pk->qkey != GSI_QKEY || cm_decode(pk->payload, pk->payload_len, &in) != CM_OK)
		return;
	memset(&out, 0, sizeof(out));
	out.tid = in.tid;
	switch (in.attr) {
	case CM_REQ:
		if (!offer_req(x, p, pk, &in)) {
			struct cm_req r;

			req_record(x, p, pk, &in, &r);
			reject(x, &r, CM_REJ_INVALID_SERVICE_ID);
		}
		return;
	case CM_DREQ:
		out.attr = CM_DREP;
		out.local_comm_id = in.remote_comm_id;
		out.remote_comm_id = in.local_comm_id;
		break;
	default:
		return;
	}
	if (cm_encode(&out, mad))
		mad_reply(x, p, pk, mad);
}
