/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * QP1 of each RoCEv2 port: the connection manager's management datagrams.
 * For now ndkd takes no connection from another node, so it answers as a
 * CM with no listener does (IBTA 12.6, and Linux's ib_cm): a REQ gets a REJ
 * "invalid service ID" at once, so a remote rdma_connect() fails fast
 * instead of timing out; a DREQ for a connection it does not have gets its
 * DREP; anything else is counted and dropped. Stateless: any engine may
 * answer, from the frame alone.
 */
#include <string.h>

#include <rte_mbuf.h>

#include "roce/cm_wire.h"
#include "soft.h"

/* Send mad to the sender of pk (QP1 of the same port), from QP1. */
static void
mad_reply(struct ectx *x, struct roce_port *p, const struct roce_pkt *pk,
	  const uint8_t mad[MAD_LEN])
{
	struct rte_mbuf *m = roce_frame_alloc(p, x->engine);
	struct roce_pkt out = {
		.src_ip = p->ip,
		.dst_ip = pk->src_ip,
		.ttl = 64,
		.ip_df = true,
		.src_port = pk->src_port,
		.opcode = ROCE_UD_SEND_ONLY,
		.pkey = 0xffff,
		.dest_qp = pk->src_qp,
		.psn = pk->psn,
		.qkey = GSI_QKEY,
		.src_qp = GSI_QPN,
		.payload = mad,
		.payload_len = MAD_LEN,
	};
	size_t len;

	if (m == NULL)
		return;
	memcpy(out.dst_mac, pk->src_mac, 6);
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
		out.attr = CM_REJ;
		out.remote_comm_id = in.local_comm_id;
		out.msg = CM_MSG_REQ;
		out.reason = CM_REJ_INVALID_SERVICE_ID;
		break;
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
