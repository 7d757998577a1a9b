/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The software provider's ops (soft.h says what it does). It needs no
 * device, so it always probes. Memory registration is the common MR table
 * and nothing more: ndkd maps every region a client hands it, so a token
 * resolves to bytes ndkd can copy.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "../../qpt.h"
#include "soft.h"

#define SOFT_POLL_BURST 32u

static int
soft_probe(struct provider *p, const struct ndkd_opts *o, const char **why)
{
	(void)p, (void)o, (void)why;
	return 0;
}

static int
soft_init(struct provider *p, const struct ndkd_opts *o)
{
	struct soft *soft = calloc(1, sizeof(struct soft));
	unsigned int lcores = rte_lcore_count();
	int rc;

	if (soft == NULL)
		return -ENOMEM;
	/* one queue pair per engine: every lcore but the main one, or the main one alone */
	rc = roce_ports_open(&soft->ports, o, lcores > 1 ? lcores - 1 : 1);
	if (rc != 0) {
		free(soft);
		return rc;
	}
	if (soft->ports.n != 0) {
		soft->cm = cm_table_new(&soft->ports);
		if (soft->cm == NULL) {
			roce_ports_close(&soft->ports);
			free(soft);
			return -ENOMEM;
		}
	}
	soft->roce_timeout_us = o != NULL ? o->roce_timeout_us : 20000;
	soft->roce_retries = o != NULL ? (uint8_t)o->roce_retries : 7;
	p->priv = soft;
	p->qp_priv_size = sizeof(struct soft_qp);
	/* RoCEv2 QPs keep a window in flight; QPs of this node take one at a time (qp_create) */
	p->qp_window = RC_WINDOW;
	snprintf(p->detail, sizeof(p->detail), "software RDMA in the engines");
	return 0;
}

static void
soft_fini(struct provider *p)
{
	struct soft *soft = p->priv;

	if (soft != NULL) {
		roce_ports_close(&soft->ports);
		cm_table_free(soft->cm);
	}
	free(p->priv);
	p->priv = NULL;
}

/* NDK_ADAPTER_INFO as the engines honour it: what wq.c, mr.c and access.c accept. */
static ndk_status
soft_query(struct provider *p, const struct ndkd_limits *lim, struct ndk_abi_adapter_info *i)
{
	const struct soft *soft = p->priv;

	if (soft != NULL && soft->ports.n != 0) {
		unsigned int k;

		/* one MTU for all: a peer told the smallest never sends too much */
		i->rocev2_ipv4 = soft->ports.port[0].ip;
		i->rocev2_mtu = soft->ports.port[0].path_mtu;
		for (k = 1; k < soft->ports.n && k <= RTE_DIM(i->rocev2_ipv4_more); k++) {
			i->rocev2_ipv4_more[k - 1] = soft->ports.port[k].ip;
			i->rocev2_mtu = RTE_MIN(i->rocev2_mtu, soft->ports.port[k].path_mtu);
		}
	}
	i->max_registration_size = lim->max_region_bytes;
	i->max_window_size = lim->max_region_bytes;
	i->frmr_page_count = lim->frmr_page_count;
	i->rdma_technology = 4; /* NdkRoCEv2: what the soft provider speaks on the wire */
	/* QPs: send, receive, read, write, fast register, bind. No SRQ yet: 0. */
	i->max_initiator_request_sge = NDKD_MAX_SGE;
	i->max_receive_request_sge = NDKD_MAX_SGE;
	i->max_receive_queue_depth = lim->max_queue_depth;
	i->max_srq_depth = lim->max_queue_depth; /* receives come through wq.c, SRQ or not */
	i->max_inline_data_size = NDK_ABI_MAX_INLINE;
	i->max_read_request_sge = NDKD_MAX_SGE;
	i->max_transfer_length = NDKD_MAX_TRANSFER;
	i->max_initiator_queue_depth = lim->max_queue_depth;
	i->max_cq_depth = lim->max_cq_depth;
	i->max_inbound_read_limit = 128;
	i->max_outbound_read_limit = 128;
	i->adapter_flags = 0x2u /* RDMA_READ_SINK_NOT_REQUIRED */ |
			   0x10u /* RDMA_READ_LOCAL_INVALIDATE_SUPPORTED */ |
			   0x10000u /* LOOPBACK_CONNECTIONS_SUPPORTED */;
	return NDK_STATUS_SUCCESS;
}

static int
soft_engine_init(struct provider *p, struct ectx *x)
{
	struct soft *soft = p->priv;
	struct soft_engine *se;
	char name[RTE_RING_NAMESIZE];

	if (x->engine >= RTE_MAX_LCORE)
		return -EINVAL;
	se = calloc(1, sizeof(*se));
	if (se == NULL)
		return -ENOMEM;
	snprintf(name, sizeof(name), "ndkd_send%u", x->engine);
	/* one send in flight per sending QP at most: room for all of them */
	se->inbox =
		rte_ring_create_elem(name, sizeof(void *), rte_align32pow2(x->qpt->n_entries + 1),
				     SOCKET_ID_ANY, RING_F_SC_DEQ);
	if (se->inbox == NULL) {
		free(se);
		return -ENOMEM;
	}
	snprintf(name, sizeof(name), "ndkd_rcrx%u", x->engine);
	se->rx = rte_ring_create_elem(name, sizeof(void *), 4096, SOCKET_ID_ANY, RING_F_SC_DEQ);
	if (se->rx == NULL) {
		rte_ring_free(se->inbox);
		free(se);
		return -ENOMEM;
	}
	soft->inbox[x->engine] = se->inbox;
	soft->rx[x->engine] = se->rx;
	se->inboxes = soft->inbox;
	se->rxs = soft->rx;
	se->ports = &soft->ports;
	se->cm = soft->cm;
	x->prov_engine = se;
	return 0;
}

static void
soft_engine_fini(struct provider *p, struct ectx *x)
{
	struct soft *soft = p->priv;
	struct soft_engine *se = x->prov_engine;
	struct send_msg *m;
	struct rte_mbuf *f;

	if (se == NULL)
		return;
	while (rte_ring_dequeue_elem(se->rx, &f, sizeof(f)) == 0)
		rte_pktmbuf_free(f);
	rte_ring_free(se->rx);
	soft->rx[x->engine] = NULL;
	if (se->ports != NULL)
		roce_tx_flush(se->ports, x->engine);
	/* engines have stopped and every sender let go: what is queued is ours */
	while (rte_ring_dequeue_elem(se->inbox, &m, sizeof(m)) == 0)
		free(m);
	rte_ring_free(se->inbox);
	soft->inbox[x->engine] = NULL;
	free(se);
	x->prov_engine = NULL;
}

static unsigned int
soft_poll(struct ectx *x, unsigned int budget)
{
	struct soft_engine *se = x->prov_engine;
	struct send_msg *sends[SOFT_POLL_BURST];
	unsigned int i, n;

	/* sends from other QPs (this engine's or others') to ours, a burst at most */
	(void)budget;
	n = rte_ring_dequeue_burst_elem(se->inbox, sends, sizeof(sends[0]), RTE_DIM(sends), NULL);
	/* the analyzer does not follow rte_ring's copy-out; the first n are set */
	for (i = 0; i < n; i++)
		soft_deliver(x, sends[i]); /* NOLINT(clang-analyzer-core.CallAndMessage) */
	if (!LIST_EMPTY(&se->inflight))
		n += soft_collect(x);
	if (se->ports != NULL && se->ports->n != 0) {
		roce_tx_flush(se->ports, x->engine); /* what the QPs' turns built */
		n += roce_ports_poll(se->ports, x->engine, rc_input, x);
		n += rc_poll(x);
		rc_ack_flush(x);
		roce_tx_flush(se->ports, x->engine);
	}
	return n;
}

/*
 * Same-node work only comes from clients and other engines, which ring; a
 * send in flight waits for another engine, and packets come unannounced.
 */
static bool
soft_can_sleep(struct ectx *x)
{
	const struct soft_engine *se = x->prov_engine;

	return LIST_EMPTY(&se->inflight) && (se->ports == NULL || se->ports->n == 0);
}

static ndk_status
soft_region_add(struct provider *p, struct client *c, const struct region *r)
{
	(void)p;
	(void)c;
	(void)r;
	return NDK_STATUS_SUCCESS; /* mapped by ndkd: nothing more to do */
}

static ndk_status
soft_mr_register(struct ectx *x, struct client *c, uint32_t index, uint32_t *remote)
{
	(void)x, (void)c, (void)index, (void)remote;
	return NDK_STATUS_SUCCESS; /* the MR table entry is all there is */
}

static ndk_status
soft_mr_wr(struct ectx *x, struct dqp *qp, uint32_t index, uint32_t wr_id)
{
	(void)x;
	(void)qp;
	(void)index;
	(void)wr_id;
	return NDK_STATUS_SUCCESS; /* likewise for fast register, invalidate and bind */
}

static ndk_status
soft_mr_fast_register(struct ectx *x, struct dqp *qp, uint32_t index, struct fr_map *m,
		      uint32_t wr_id)
{
	(void)x, (void)qp, (void)index, (void)m, (void)wr_id;
	return NDK_STATUS_SUCCESS; /* the MR table entry is the mapping */
}

static ndk_status
soft_qp_create(struct ectx *x, struct dqp *qp)
{
	(void)x;
	/* its state starts zeroed: no send, nothing waiting */
	qp->pend_limit = 1; /* on this node a send on its way holds back what follows (send.c) */
	return NDK_STATUS_SUCCESS;
}

static ndk_status
soft_qp_connect(struct ectx *x, struct dqp *qp, const struct peer_addr *peer)
{
	struct qpt_entry pe;

	if (peer->kind == PEER_ROCEV2)
		return rc_connect(x, qp, peer);
	if (peer->kind != PEER_LOCAL)
		return NDK_STATUS_INVALID_PARAMETER;
	/*
	 * RC's connection on one node: each side names the other. Work requests
	 * flow once both have (each is checked against the peer's entry).
	 */
	if (!qpt_read(x->qpt, peer->qpn, &pe) || pe.state == QP_FREE)
		return NDK_STATUS_INVALID_PARAMETER;
	return NDK_STATUS_SUCCESS;
}

static void
soft_qp_error(struct ectx *x, struct dqp *qp)
{
	soft_send_cancel(x, qp);
	soft_rdma_cancel(x, qp);
	soft_pending_fail(qp);
	rc_error(x, qp);
}

static void
soft_qp_destroy(struct ectx *x, struct dqp *qp)
{
	cm_qp_gone(x, qp);
	rc_destroy(qp);
}

/* Sends to deliver first (the receiving side's work), then this QP's own transfer. */
static uint64_t
soft_qp_step(struct ectx *x, struct dqp *qp, uint64_t budget)
{
	uint64_t moved;

	if (soft_qp(qp)->rc != NULL)
		return rc_step(x, qp, budget);
	moved = soft_deliver_pending(x, qp, budget);
	if (soft_qp(qp)->tx.active && moved < budget)
		moved += soft_rdma_step(x, qp, budget - moved);
	qp->want_step = soft_want_step(qp);
	return moved;
}

static ndk_status
soft_post_send(struct ectx *x, struct dqp *qp, const struct wq_op *op, uint32_t wr_id,
	       struct ndk_abi_result *res)
{
	if (soft_qp(qp)->rc != NULL)
		return rc_post(x, qp, op, wr_id);
	switch (op->w->h.opcode) {
	case NDK_ABI_WR_READ:
	case NDK_ABI_WR_WRITE:
		return soft_rdma(x, qp, op, wr_id, &res->bytes);
	default:
		return soft_send(x, qp, op, wr_id);
	}
}

const struct provider_ops soft_provider_ops = {
	.name = "soft",
	.probe = soft_probe,
	.init = soft_init,
	.fini = soft_fini,
	.query = soft_query,
	.engine_init = soft_engine_init,
	.engine_fini = soft_engine_fini,
	.poll = soft_poll,
	.can_sleep = soft_can_sleep,
	.region_add = soft_region_add,
	.mr_register = soft_mr_register,
	.mr_fast_register = soft_mr_fast_register,
	.mr_invalidate = soft_mr_wr,
	.mw_bind = soft_mr_wr,
	.qp_create = soft_qp_create,
	.qp_connect = soft_qp_connect,
	.cm_connect = cm_connect,
	.cm_disconnect = cm_disconnect,
	.qp_error = soft_qp_error,
	.qp_destroy = soft_qp_destroy, /* after qp_error: nothing is on its way or waits */
	.post_send = soft_post_send,
	.qp_step = soft_qp_step,
};
