/* SPDX-License-Identifier: BSD-3-Clause */
/* CQ objects (cq.h). */
#include <stdlib.h>

#include <rte_common.h>

#include "cq.h"
#include "quota.h"

ndk_status
dcq_create(struct client *c, struct ectx *x, uint64_t ring, uint64_t entries, uint64_t out[6])
{
	struct dcq *cq;
	uint32_t h;

	if (c->n_cqs >= x->lim->max_cqs)
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	if (entries > rte_align32pow2(x->lim->max_cq_depth))
		return NDK_STATUS_INVALID_PARAMETER;
	if (!quota_take(c, x->lim, QUOTA_CQS, 1))
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	cq = calloc(1, sizeof(*cq));
	if (cq == NULL) {
		quota_put(c, QUOTA_CQS, 1);
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	}
	if (!region_ring_map(c, &cq->ring, ring, entries, true)) {
		free(cq);
		quota_put(c, QUOTA_CQS, 1);
		return NDK_STATUS_INVALID_PARAMETER;
	}
	h = obj_new(c, OBJ_CQ, cq);
	if (h == 0) {
		free(cq);
		quota_put(c, QUOTA_CQS, 1);
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	}
	cq->handle = h;
	cq->client = c;
	c->n_cqs++;
	out[0] = h;
	return NDK_STATUS_SUCCESS;
}

ndk_status
dcq_destroy(struct client *c, uint32_t handle)
{
	struct obj *o = obj_lookup(c, handle, OBJ_CQ);
	struct dcq *cq;

	if (o == NULL)
		return NDK_STATUS_INVALID_HANDLE;
	cq = o->ptr;
	/* NDK: a CQ outlives the QPs that use it; libndk closes them first. */
	if (cq->n_qps != 0)
		return NDK_STATUS_INVALID_DEVICE_STATE;
	free(cq);
	obj_delete(c, handle);
	c->n_cqs--;
	quota_put(c, QUOTA_CQS, 1);
	return NDK_STATUS_SUCCESS;
}

void
dcq_release_all(struct client *c)
{
	uint32_t h;

	for (h = 1; h < c->obj_hw; h++) {
		if (c->objs[h].type == OBJ_CQ)
			dcq_destroy(c, h);
	}
}

/*
 * The fence pairs with the client's after it sets ARMED: either it sees
 * these results on its recheck, or we see its flag here. Only armed CQs
 * cost a syscall.
 */
void
dcq_publish(struct dcq *cq)
{
	ndk_ring_prod_publish(&cq->ring);
	atomic_thread_fence(memory_order_seq_cst);
	if ((atomic_load_explicit(cq->ring.kflags, memory_order_relaxed) & NDK_ABI_CQ_ARMED) == 0)
		return;
	if ((atomic_exchange_explicit(cq->ring.kflags, 0, memory_order_acq_rel) &
	     NDK_ABI_CQ_ARMED) == 0)
		return;
	client_kick(cq->client);
}
