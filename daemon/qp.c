/* SPDX-License-Identifier: BSD-3-Clause */
/* QP objects (qp.h): create, connect, flush, destroy. */
#include <stdlib.h>

#include <rte_random.h>

#include "conn.h"
#include "cq.h"
#include "provider.h"
#include "qp.h"
#include "quota.h"
#include "srq.h"
#include "wq.h"

/*
 * The largest SQ or RQ ring a queue of max_queue_depth work requests needs:
 * ndkd sees ring slots, not work requests, so it allows the deepest queue
 * of the biggest WRs (all SGEs, a fast register of frmr_page_count pages,
 * the most inline data).
 */
static uint32_t
queue_ring_max(const struct ndkd_limits *lim)
{
	uint32_t n = ndk_abi_queue_entries(
		lim->max_queue_depth,
		ndk_abi_wr_max_slots(NDKD_MAX_SGE, lim->frmr_page_count, NDK_ABI_MAX_INLINE));

	return n != 0 ? n : NDK_ABI_RING_MAX_ENTRIES;
}

static struct dqp *
qp_alloc(const struct provider *p)
{
	struct dqp *qp = calloc(1, sizeof(*qp) + p->qp_priv_size);

	if (qp == NULL)
		return NULL;
	qp->pend = calloc(p->qp_window, sizeof(*qp->pend));
	if (qp->pend == NULL) {
		free(qp);
		return NULL;
	}
	qp->pend_mask = p->qp_window - 1;
	qp->pend_limit = p->qp_window;
	return qp;
}

static void
qp_release(struct dqp *qp)
{
	free(qp->pend);
	free(qp);
}

ndk_status
dqp_create(struct client *c, struct ectx *x, uint32_t pd, const struct ndk_abi_qp_create *a,
	   bool with_srq, uint64_t out[6])
{
	struct obj *po = obj_lookup(c, pd, OBJ_PD);
	struct obj *ro = obj_lookup(c, a->rcq, OBJ_CQ);
	struct obj *io = obj_lookup(c, a->icq, OBJ_CQ);
	struct obj *so = NULL;
	struct dqp *qp;
	ndk_status st;
	uint32_t h;

	if (with_srq) {
		so = a->rq_ring <= UINT32_MAX ? obj_lookup(c, (uint32_t)a->rq_ring, OBJ_SRQ) : NULL;
		if (so == NULL)
			return NDK_STATUS_INVALID_HANDLE;
		/* its receives are checked against one PD: the QP's */
		if (((struct dsrq *)so->ptr)->pd != pd || a->rq_entries != 0 || a->max_rsge != 0)
			return NDK_STATUS_INVALID_PARAMETER;
	}
	if (po == NULL || ro == NULL || io == NULL)
		return NDK_STATUS_INVALID_HANDLE;
	if (c->n_qps >= x->lim->max_qps)
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	if (a->sq_entries > queue_ring_max(x->lim) || a->rq_entries > queue_ring_max(x->lim))
		return NDK_STATUS_INVALID_PARAMETER;
	if (!quota_take(c, x->lim, QUOTA_QPS, 1))
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	qp = qp_alloc(x->prov);
	if (qp == NULL) {
		quota_put(c, QUOTA_QPS, 1);
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	}
	qp->max_isge = a->max_isge;
	qp->max_rsge = so != NULL ? ((struct dsrq *)so->ptr)->max_rsge : a->max_rsge;
	qp->max_inline = a->max_inline;
	if (qp->max_isge > NDKD_MAX_SGE || qp->max_rsge > NDKD_MAX_SGE ||
	    qp->max_inline > NDK_ABI_MAX_INLINE ||
	    !region_ring_map(c, &qp->sq, a->sq_ring, a->sq_entries, false) ||
	    (so == NULL && !region_ring_map(c, &qp->rq, a->rq_ring, a->rq_entries, false))) {
		qp_release(qp);
		quota_put(c, QUOTA_QPS, 1);
		return NDK_STATUS_INVALID_PARAMETER;
	}
	qp->qpn = qpt_alloc(x->qpt, c->id, pd, x->engine, qp);
	if (qp->qpn == 0) {
		qp_release(qp);
		quota_put(c, QUOTA_QPS, 1);
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	}
	h = obj_new(c, OBJ_QP, qp);
	if (h == 0) {
		qpt_free(x->qpt, qp->qpn);
		qp_release(qp);
		quota_put(c, QUOTA_QPS, 1);
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	}
	qp->handle = h;
	qp->pd = pd;
	qp->qp_context = a->qp_context;
	qp->rcq = ro->ptr;
	qp->icq = io->ptr;
	qp->state = QP_INIT;
	qp->client = c;
	/* RoCEv2: a random first PSN, as verbs applications choose theirs */
	qp->psn = (uint32_t)rte_rand() & 0xffffffu;
	qp->wire_qpn = qp->qpn;
	st = x->prov->ops.qp_create(x, qp);
	if (st != NDK_STATUS_SUCCESS) {
		obj_delete(c, h);
		qpt_free(x->qpt, qp->qpn);
		qp_release(qp);
		quota_put(c, QUOTA_QPS, 1);
		return st;
	}
	qp->rcq->n_qps++;
	qp->icq->n_qps++;
	if (so != NULL) {
		qp->srq = so->ptr;
		qp->srq->n_qps++;
	}
	c->qps[c->n_qps++] = qp;
	po->pd++; /* the PD counts its QPs with its MRs */
	out[0] = h;
	out[1] = qp->qpn;
	out[2] = qp->psn;
	out[3] = qp->wire_qpn;
	return NDK_STATUS_SUCCESS;
}

ndk_status
dqp_connect_peer(struct client *c, struct ectx *x, uint32_t handle, const struct peer_addr *peer)
{
	struct obj *o = obj_lookup(c, handle, OBJ_QP);
	struct dqp *qp;
	ndk_status st;

	if (o == NULL)
		return NDK_STATUS_INVALID_HANDLE;
	qp = o->ptr;
	if (qp->state != QP_INIT)
		return NDK_STATUS_INVALID_DEVICE_STATE;
	if (peer->kind == PEER_LOCAL && peer->qpn == qp->qpn)
		return NDK_STATUS_INVALID_PARAMETER;
	st = x->prov->ops.qp_connect(x, qp, peer);
	if (st != NDK_STATUS_SUCCESS)
		return st;
	/* the table names peers on this node only: a RoCEv2 peer is the provider's */
	qp->peer_qpn = peer->kind == PEER_LOCAL ? peer->qpn : 0;
	qp->state = QP_RTS;
	qpt_set(x->qpt, qp->qpn, QP_RTS, qp->peer_qpn);
	return NDK_STATUS_SUCCESS;
}

ndk_status
dqp_connect(struct client *c, struct ectx *x, uint32_t handle, uint64_t peer_qpn)
{
	struct peer_addr peer = { .kind = PEER_LOCAL, .qpn = (uint32_t)peer_qpn };

	if (peer_qpn > UINT32_MAX)
		return NDK_STATUS_INVALID_PARAMETER;
	return dqp_connect_peer(c, x, handle, &peer);
}

ndk_status
dqp_flush(struct client *c, struct ectx *x, uint32_t handle)
{
	struct obj *o = obj_lookup(c, handle, OBJ_QP);

	if (o == NULL)
		return NDK_STATUS_INVALID_HANDLE;
	/* NDK flush: everything queued now, and after, completes CANCELLED. */
	wq_error(x, o->ptr);
	return NDK_STATUS_SUCCESS;
}

static void
qp_free(struct client *c, struct ectx *x, struct dqp *qp)
{
	struct obj *po = obj_lookup(c, qp->pd, OBJ_PD);
	uint32_t i;

	conn_qp_gone(x, qp);
	wq_error(x, qp);
	x->prov->ops.qp_destroy(x, qp);
	qpt_free(x->qpt, qp->qpn);
	qp->rcq->n_qps--;
	qp->icq->n_qps--;
	if (qp->srq != NULL)
		qp->srq->n_qps--;
	if (po != NULL)
		po->pd--;
	for (i = 0; i < c->n_qps; i++) {
		if (c->qps[i] == qp) {
			c->qps[i] = c->qps[--c->n_qps];
			break;
		}
	}
	obj_delete(c, qp->handle);
	quota_put(c, QUOTA_QPS, 1);
	qp_release(qp);
}

ndk_status
dqp_destroy(struct client *c, struct ectx *x, uint32_t handle)
{
	struct obj *o = obj_lookup(c, handle, OBJ_QP);

	if (o == NULL)
		return NDK_STATUS_INVALID_HANDLE;
	/* NDK: a close completes outstanding requests first; here, CANCELLED */
	conn_qp_gone(x, o->ptr);
	wq_error(x, o->ptr);
	wq_drain(x, o->ptr);
	qp_free(c, x, o->ptr);
	return NDK_STATUS_SUCCESS;
}

void
dqp_release_all(struct client *c, struct ectx *x)
{
	while (c->n_qps > 0)
		qp_free(c, x, c->qps[c->n_qps - 1]);
}
