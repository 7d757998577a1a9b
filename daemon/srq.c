/* SPDX-License-Identifier: BSD-3-Clause */
/* SRQ objects (srq.h). */
#include <stdlib.h>

#include "srq.h"

ndk_status
dsrq_create(struct client *c, struct ectx *x, uint32_t pd, uint64_t ring, uint64_t entries,
	    uint64_t max_rsge, uint64_t threshold, uint64_t out[6])
{
	struct dsrq *s;
	uint32_t h;

	if (obj_lookup(c, pd, OBJ_PD) == NULL)
		return NDK_STATUS_INVALID_HANDLE;
	if (c->n_srqs >= x->lim->max_srqs)
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	/* the deepest queue the adapter allows, of receives this big, and no more */
	if (max_rsge > NDKD_MAX_SGE || threshold > x->lim->max_queue_depth ||
	    entries > ndk_abi_queue_entries(x->lim->max_queue_depth,
					    ndk_abi_wqe_slots((uint32_t)max_rsge)))
		return NDK_STATUS_INVALID_PARAMETER;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	if (!region_ring_map(c, &s->ring, ring, entries, false)) {
		free(s);
		return NDK_STATUS_INVALID_PARAMETER;
	}
	h = obj_new(c, OBJ_SRQ, s);
	if (h == 0) {
		free(s);
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	}
	s->handle = h;
	s->pd = pd;
	s->max_rsge = (uint32_t)max_rsge;
	s->slots = ndk_abi_wqe_slots(s->max_rsge);
	/* armed at create, it fires when a receive taken leaves fewer queued */
	s->threshold = (uint32_t)threshold;
	s->armed = threshold != 0;
	s->client = c;
	c->n_srqs++;
	out[0] = h;
	return NDK_STATUS_SUCCESS;
}

ndk_status
dsrq_modify(struct client *c, uint32_t handle, uint64_t threshold)
{
	struct obj *o = obj_lookup(c, handle, OBJ_SRQ);
	struct dsrq *s;

	if (o == NULL)
		return NDK_STATUS_INVALID_HANDLE;
	s = o->ptr;
	if (threshold > UINT32_MAX)
		return NDK_STATUS_INVALID_PARAMETER;
	if (threshold == 0)
		return NDK_STATUS_SUCCESS; /* NDK: threshold and arming stay as they are */
	s->threshold = (uint32_t)threshold;
	s->armed = true;
	/* NDK: already below the threshold now notifies now */
	dsrq_check(s);
	return NDK_STATUS_SUCCESS;
}

ndk_status
dsrq_destroy(struct client *c, uint32_t handle)
{
	struct obj *o = obj_lookup(c, handle, OBJ_SRQ);
	struct dsrq *s;

	if (o == NULL)
		return NDK_STATUS_INVALID_HANDLE;
	s = o->ptr;
	/* NDK: the QPs that use it close first; libndk waits for them */
	if (s->n_qps != 0)
		return NDK_STATUS_INVALID_DEVICE_STATE;
	free(s);
	obj_delete(c, handle);
	c->n_srqs--;
	return NDK_STATUS_SUCCESS;
}

void
dsrq_release_all(struct client *c)
{
	uint32_t h;

	for (h = 1; h < c->obj_hw && c->n_srqs > 0; h++) {
		if (c->objs[h].type == OBJ_SRQ)
			dsrq_destroy(c, h);
	}
}

void
dsrq_check(struct dsrq *s)
{
	bool broken = false;
	uint32_t queued;

	if (!s->armed)
		return;
	queued = ndk_ring_cons_avail(&s->ring, &broken) / s->slots;
	if (broken) {
		s->client->broken = true;
		return;
	}
	if (queued >= s->threshold)
		return;
	/* NDK: one notification, then disarmed until the next modify arms it */
	s->armed = false;
	atomic_fetch_or_explicit(s->ring.kflags, NDK_ABI_SRQ_NOTIFIED, memory_order_release);
	client_kick(s->client);
}
