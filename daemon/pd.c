/* SPDX-License-Identifier: BSD-3-Clause */
/* Protection domains (mr.h): a PD and its privileged token. */
#include "mr.h"
#include "mrt.h"
#include "provider.h"
#include "qp.h"
#include "srq.h"

ndk_status
dpd_create(struct client *c, struct ectx *x, uint64_t out[6])
{
	struct mrt_entry *e;
	uint32_t h, idx;
	ndk_status st;

	if (c->n_pds >= x->lim->max_pds)
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	h = obj_new(c, OBJ_PD, NULL);
	if (h == 0)
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	idx = mrt_alloc(x->mrt, x->cache, c->id, h, 0);
	if (idx == 0) {
		obj_delete(c, h);
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	}
	/*
	 * The privileged token lives in the table like any MR, so the data path
	 * checks it the same way: local access only, to this client's regions.
	 * The rule is in the entry (kind and access), not in the caller.
	 */
	e = mrt_entry(x->mrt, idx);
	mrt_write_begin(e);
	e->kind = MRT_KIND_PRIVILEGED;
	e->access = MRT_ACCESS_LOCAL_WRITE;
	e->variant++;
	e->state = MRT_VALID;
	mrt_write_end(e);
	c->objs[h].mr_index = idx;
	st = x->prov->ops.pd_create(x, c, h);
	if (st != NDK_STATUS_SUCCESS) {
		mrt_free(x->mrt, x->cache, idx);
		obj_delete(c, h);
		return st;
	}
	c->n_pds++;
	out[0] = h;
	out[1] = MRT_TOKEN(idx, e->variant);
	return NDK_STATUS_SUCCESS;
}

ndk_status
dpd_destroy(struct client *c, struct ectx *x, uint32_t handle)
{
	struct obj *pd = obj_lookup(c, handle, OBJ_PD);
	uint32_t i;

	if (pd == NULL)
		return NDK_STATUS_INVALID_HANDLE;
	for (i = 0; i < c->n_qps; i++) {
		if (c->qps[i]->pd == handle)
			return NDK_STATUS_INVALID_DEVICE_STATE; /* QPs close before their PD */
	}
	for (i = 1; i < c->obj_hw && c->n_srqs > 0; i++) {
		if (c->objs[i].type == OBJ_SRQ && ((struct dsrq *)c->objs[i].ptr)->pd == handle)
			return NDK_STATUS_INVALID_DEVICE_STATE; /* and so do SRQs */
	}
	/*
	 * libndk sends this once the app has closed every MR of the PD; what is
	 * left are the MRs of its pools, and they go with the PD.
	 */
	if (pd->pd != 0)
		dmr_release_all(c, x, handle);
	x->prov->ops.pd_destroy(x, c, handle);
	mrt_free(x->mrt, x->cache, pd->mr_index);
	obj_delete(c, handle);
	c->n_pds--;
	return NDK_STATUS_SUCCESS;
}

void
dpd_release_all(struct client *c, struct ectx *x)
{
	uint32_t h;

	for (h = 1; h < c->obj_hw; h++) {
		if (c->objs[h].type == OBJ_PD)
			dpd_destroy(c, x, h);
	}
}
