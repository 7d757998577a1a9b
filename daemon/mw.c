/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Memory windows (mr.h). A window is an MR table entry of its own (so its
 * token is checked like any MR's), bound by a BIND work request to a range
 * of a registered or fast-registered MR of the same PD, with remote access
 * no wider than what it asks for. Accesses through it resolve in the MR,
 * which must still be the registration the window was bound under.
 *
 * Statuses: INVALID_HANDLE for a handle that is not the client's MW (or PD,
 * at create); INVALID_PARAMETER for a bind whose MR, range or token does not
 * fit; ACCESS_VIOLATION for remote write asked of an MR without local write
 * (NDK); INSUFFICIENT_RESOURCES at the MR limit, which windows share.
 */
#include <ndk/flags.h>

#include "mr.h"
#include "mrt.h"
#include "provider.h"
#include "qp.h"

ndk_status
dmw_create(struct client *c, struct ectx *x, uint32_t pd_handle, uint64_t out[6])
{
	struct obj *pd = obj_lookup(c, pd_handle, OBJ_PD);
	struct mrt_entry *e;
	uint32_t h;
	ndk_status st;

	if (pd == NULL)
		return NDK_STATUS_INVALID_HANDLE;
	st = dmr_new(c, x, pd, pd_handle, OBJ_MW, MRT_KIND_MW, &h);
	if (st != NDK_STATUS_SUCCESS)
		return st;
	e = mrt_entry(x->mrt, c->objs[h].mr_index);
	mrt_write_begin(e);
	e->variant++;
	e->state = MRT_INVALID; /* not bound yet */
	mrt_write_end(e);
	out[0] = h;
	out[1] = MRT_TOKEN(c->objs[h].mr_index, e->variant);
	return NDK_STATUS_SUCCESS;
}

ndk_status
dmw_destroy(struct client *c, struct ectx *x, uint32_t handle)
{
	struct obj *mw = obj_lookup(c, handle, OBJ_MW);

	if (mw == NULL)
		return NDK_STATUS_INVALID_HANDLE;
	dmr_drop(c, x, handle, mw); /* the entry's variant moves: its token is dead */
	return NDK_STATUS_SUCCESS;
}

ndk_status
dmw_bind(struct client *c, struct ectx *x, struct dqp *qp, const struct ndk_abi_wqe *h,
	 uint32_t wr_id)
{
	struct obj *mw = obj_lookup(c, h->mw_handle, OBJ_MW);
	struct obj *mr = obj_lookup(c, h->mr_handle, OBJ_MR);
	struct mrt_entry *we, *me;
	uint8_t access = 0;
	ndk_status st;

	if (mw == NULL || mr == NULL || mw->pd != qp->pd || mr->pd != qp->pd)
		return NDK_STATUS_INVALID_PARAMETER;
	me = mrt_entry(x->mrt, mr->mr_index);
	we = mrt_entry(x->mrt, mw->mr_index);
	/* NDK: the VA lies inside the MR's range; zero-based VAs are not supported */
	if (me->state != MRT_VALID || h->remote_addr == 0 || h->length == 0 ||
	    h->remote_addr + h->length < h->remote_addr || h->remote_addr < me->va ||
	    h->length > me->length || h->remote_addr - me->va > me->length - h->length)
		return NDK_STATUS_INVALID_PARAMETER;
	if (!mrt_token_is_next(h->remote_token, mw->mr_index, we->variant))
		return NDK_STATUS_INVALID_PARAMETER;
	if (h->flags & NDK_OP_FLAG_ALLOW_REMOTE_READ)
		access |= MRT_ACCESS_REMOTE_READ;
	if ((h->flags & NDK_OP_FLAG_ALLOW_REMOTE_WRITE) == NDK_OP_FLAG_ALLOW_REMOTE_WRITE) {
		/* NDK: write access on an MR without ALLOW_LOCAL_WRITE */
		if ((me->access & MRT_ACCESS_LOCAL_WRITE) == 0)
			return NDK_STATUS_ACCESS_VIOLATION;
		access |= MRT_ACCESS_REMOTE_WRITE;
	}
	st = x->prov->ops.mw_bind(x, qp, mw->mr_index, wr_id);
	if (st != NDK_STATUS_SUCCESS && st != NDK_STATUS_PENDING)
		return st;
	mrt_write_begin(we);
	we->va = h->remote_addr;
	we->length = h->length;
	we->access = access;
	we->parent = mr->mr_index;
	we->parent_variant = me->variant;
	we->variant = (uint8_t)MRT_TOKEN_VARIANT(h->remote_token);
	we->state = MRT_VALID;
	mrt_write_end(we);
	return st;
}

ndk_status
dmw_invalidate(struct client *c, struct ectx *x, struct dqp *qp, uint32_t handle, uint32_t wr_id)
{
	struct obj *mw = obj_lookup(c, handle, OBJ_MW);
	struct mrt_entry *e;
	ndk_status st;

	if (mw == NULL || mw->pd != qp->pd)
		return NDK_STATUS_INVALID_PARAMETER;
	st = x->prov->ops.mr_invalidate(x, qp, mw->mr_index, wr_id);
	if (st != NDK_STATUS_SUCCESS && st != NDK_STATUS_PENDING)
		return st;
	e = mrt_entry(x->mrt, mw->mr_index);
	mrt_write_begin(e);
	e->state = MRT_INVALID;
	mrt_write_end(e);
	return st;
}
