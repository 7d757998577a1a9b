/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Memory regions (mr.h). Every handle, address, length and flag arrives
 * from the client and is checked here against the client's own tables
 * before anything changes.
 */
#include <stdlib.h>

#include <ndk/flags.h>

#include "access.h"
#include "mr.h"
#include "mrt.h"
#include "provider.h"
#include "qp.h"
#include "quota.h"

ndk_status
dmr_new(struct client *c, struct ectx *x, struct obj *pd, uint32_t pd_handle, uint8_t type,
	uint8_t kind, uint32_t *handle)
{
	struct mrt_entry *e;
	uint32_t h, idx;

	if (c->n_mrs >= x->lim->max_mrs || !quota_take(c, x->lim, QUOTA_MRS, 1))
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	h = obj_new(c, type, NULL);
	if (h == 0) {
		quota_put(c, QUOTA_MRS, 1);
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	}
	idx = mrt_alloc(x->mrt, x->cache, c->id, pd_handle, h);
	if (idx == 0) {
		obj_delete(c, h);
		quota_put(c, QUOTA_MRS, 1);
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	}
	e = mrt_entry(x->mrt, idx);
	mrt_write_begin(e);
	e->kind = kind;
	mrt_write_end(e);
	c->objs[h].mr_index = idx;
	c->objs[h].pd = pd_handle;
	pd->pd++;
	c->n_mrs++;
	*handle = h;
	return NDK_STATUS_SUCCESS;
}

ndk_status
dmr_create(struct client *c, struct ectx *x, uint32_t pd_handle, uint64_t kind, uint64_t out[6])
{
	struct obj *pd = obj_lookup(c, pd_handle, OBJ_PD);
	uint32_t h;
	ndk_status st;

	if (pd == NULL)
		return NDK_STATUS_INVALID_HANDLE;
	if (kind != NDK_ABI_MR_KIND_NORMAL && kind != NDK_ABI_MR_KIND_FASTREG)
		return NDK_STATUS_INVALID_PARAMETER;
	st = dmr_new(c, x, pd, pd_handle, OBJ_MR,
		     kind == NDK_ABI_MR_KIND_FASTREG ? MRT_KIND_FASTREG : MRT_KIND_NORMAL, &h);
	if (st != NDK_STATUS_SUCCESS)
		return st;
	c->objs[h].mr_kind = (uint8_t)kind;
	out[0] = h;
	return NDK_STATUS_SUCCESS;
}

/* NDK_MR_FLAG_*: REMOTE_WRITE is 0x5, so its 0x4 bit never comes without LOCAL_WRITE. */
static bool
mr_flags_valid(uint64_t flags)
{
	if (flags & ~(uint64_t)(MRT_ACCESS_LOCAL_WRITE | MRT_ACCESS_REMOTE_READ |
				MRT_ACCESS_REMOTE_WRITE | MRT_ACCESS_READ_SINK))
		return false;
	return !(flags & MRT_ACCESS_REMOTE_WRITE) || (flags & MRT_ACCESS_LOCAL_WRITE);
}

/*
 * The entry's fields are written (not yet usable); the provider does its
 * part, then the entry takes 'state' under a new variant: no token handed
 * out before names it.
 */
static ndk_status
mr_enable(struct client *c, struct ectx *x, struct obj *mr, uint8_t state, uint32_t *remote)
{
	struct mrt_entry *e = mrt_entry(x->mrt, mr->mr_index);
	ndk_status st;

	*remote = 0;
	st = x->prov->ops.mr_register(x, c, mr->mr_index, remote);

	if (st != NDK_STATUS_SUCCESS)
		return st;
	mrt_write_begin(e);
	e->variant++;
	e->state = state;
	mrt_write_end(e);
	mr->registered = 1;
	return NDK_STATUS_SUCCESS;
}

ndk_status
dmr_register(struct client *c, struct ectx *x, uint32_t handle, uint64_t va, uint64_t length,
	     uint64_t flags, uint64_t out[6])
{
	struct obj *mr = obj_lookup(c, handle, OBJ_MR);
	const struct region *r;
	struct mrt_entry *e;
	uint32_t region_id, remote;
	ndk_status st;

	if (mr == NULL)
		return NDK_STATUS_INVALID_HANDLE;
	if (mr->mr_kind != NDK_ABI_MR_KIND_NORMAL)
		return NDK_STATUS_NOT_SUPPORTED;
	if (mr->registered)
		return NDK_STATUS_INVALID_DEVICE_REQUEST;
	/* NDK: zero-based virtual addresses are not supported. */
	if (va == 0 || length == 0 || va + length < va || !mr_flags_valid(flags))
		return NDK_STATUS_INVALID_PARAMETER;
	r = region_find(c, va, length, &region_id);
	if (r == NULL)
		return NDK_STATUS_INVALID_PARAMETER;
	if (length > x->lim->max_registered_bytes - c->registered_bytes ||
	    !quota_take(c, x->lim, QUOTA_REGISTERED_BYTES, length))
		return NDK_STATUS_INSUFFICIENT_RESOURCES;

	e = mrt_entry(x->mrt, mr->mr_index);
	mrt_write_begin(e);
	e->access = (uint8_t)flags;
	e->va = va;
	e->length = length;
	e->daemon_va = (uint64_t)(uintptr_t)(r->daemon_base + (va - r->client_base));
	mrt_write_end(e);
	st = mr_enable(c, x, mr, MRT_VALID, &remote);
	if (st != NDK_STATUS_SUCCESS) {
		quota_put(c, QUOTA_REGISTERED_BYTES, length);
		return st;
	}
	c->registered_bytes += length;
	out[0] = MRT_TOKEN(mr->mr_index, e->variant);
	out[1] = remote;
	return NDK_STATUS_SUCCESS;
}

/*
 * Leave the entry INVALID: its last token stops working now (the state), and
 * can never work again (the next VALID rotates the variant). Rotating only on
 * the way to VALID and on free stretches the 8-bit variant's wrap to 256
 * registrations of one entry.
 */
static void
mr_invalidate(struct client *c, struct ectx *x, struct obj *mr)
{
	struct mrt_entry *e = mrt_entry(x->mrt, mr->mr_index);

	if (mr->mr_kind == NDK_ABI_MR_KIND_NORMAL && mr->registered) {
		c->registered_bytes -= e->length;
		quota_put(c, QUOTA_REGISTERED_BYTES, e->length);
	}
	mrt_write_begin(e);
	e->state = MRT_INVALID;
	e->length = 0;
	e->daemon_va = 0;
	mrt_write_end(e);
	mr->registered = 0;
	x->prov->ops.mr_deregister(x, c, mr->mr_index);
}

ndk_status
dmr_deregister(struct client *c, struct ectx *x, uint32_t handle)
{
	struct obj *mr = obj_lookup(c, handle, OBJ_MR);

	if (mr == NULL)
		return NDK_STATUS_INVALID_HANDLE;
	if (mr->mr_kind != NDK_ABI_MR_KIND_NORMAL)
		return NDK_STATUS_NOT_SUPPORTED;
	if (!mr->registered)
		return NDK_STATUS_INVALID_DEVICE_REQUEST;
	mr_invalidate(c, x, mr);
	return NDK_STATUS_SUCCESS;
}

ndk_status
dmr_init_fr(struct client *c, struct ectx *x, uint32_t handle, uint64_t pages, uint64_t remote,
	    uint64_t out[6])
{
	struct obj *mr = obj_lookup(c, handle, OBJ_MR);
	struct mrt_entry *e;
	uint32_t key_base;
	ndk_status st;

	if (mr == NULL)
		return NDK_STATUS_INVALID_HANDLE;
	if (mr->mr_kind != NDK_ABI_MR_KIND_FASTREG)
		return NDK_STATUS_NOT_SUPPORTED;
	if (pages == 0 || remote > 1)
		return NDK_STATUS_INVALID_PARAMETER;
	if (pages > x->lim->frmr_page_count)
		return NDK_STATUS_IMPLEMENTATION_LIMIT;
	e = mrt_entry(x->mrt, mr->mr_index);
	/* Initialising again is allowed (NDK), but not under a live mapping. */
	if (e->state == MRT_VALID)
		return NDK_STATUS_INVALID_DEVICE_REQUEST;
	if (mr->ptr == NULL) {
		/* one size for all, so an array can serve any later fast-register MR */
		mr->ptr = c->n_fr_spare > 0 ? c->fr_spare[--c->n_fr_spare]
					    : calloc(x->lim->frmr_page_count, sizeof(uint64_t));
		if (mr->ptr == NULL)
			return NDK_STATUS_INSUFFICIENT_RESOURCES;
	}
	mrt_write_begin(e);
	e->fr_max_pages = (uint32_t)pages;
	/* What a later fast register may grant: remote access only if asked now. */
	e->access = remote ? (MRT_ACCESS_LOCAL_WRITE | MRT_ACCESS_REMOTE | MRT_ACCESS_READ_SINK)
			   : (MRT_ACCESS_LOCAL_WRITE | MRT_ACCESS_READ_SINK);
	mrt_write_end(e);
	st = mr_enable(c, x, mr, MRT_INVALID, &key_base);
	if (st != NDK_STATUS_SUCCESS)
		return st;
	out[0] = MRT_TOKEN(mr->mr_index, e->variant);
	out[1] = key_base;
	return NDK_STATUS_SUCCESS;
}

void
dmr_drop(struct client *c, struct ectx *x, uint32_t handle, struct obj *mr)
{
	struct obj *pd = obj_lookup(c, mr->pd, OBJ_PD);

	if (mr->registered)
		mr_invalidate(c, x, mr);
	mrt_free(x->mrt, x->cache, mr->mr_index);
	if (mr->ptr != NULL) {
		uint64_t **spare = realloc(c->fr_spare, (c->n_fr_spare + 1) * sizeof(*spare));

		/* kept for reuse, not freed: a reader on another engine may still look at it */
		if (spare != NULL) {
			c->fr_spare = spare;
			c->fr_spare[c->n_fr_spare++] = mr->ptr;
			mr->ptr = NULL;
		}
	}
	if (pd != NULL)
		pd->pd--;
	obj_delete(c, handle);
	c->n_mrs--;
	quota_put(c, QUOTA_MRS, 1);
}

ndk_status
dmr_destroy(struct client *c, struct ectx *x, uint32_t handle)
{
	struct obj *mr = obj_lookup(c, handle, OBJ_MR);

	if (mr == NULL)
		return NDK_STATUS_INVALID_HANDLE;
	/* Closing a registered MR deregisters it: its token dies with it. */
	dmr_drop(c, x, handle, mr);
	return NDK_STATUS_SUCCESS;
}

void
dmr_release_all(struct client *c, struct ectx *x, uint32_t pd)
{
	uint32_t h;

	for (h = 1; h < c->obj_hw; h++) {
		if ((c->objs[h].type == OBJ_MR || c->objs[h].type == OBJ_MW) &&
		    (pd == 0 || c->objs[h].pd == pd))
			dmr_drop(c, x, h, &c->objs[h]);
	}
}

/* ------------------------------------------------------------------------
 * Work requests: fast register, invalidate, remote invalidate
 * --------------------------------------------------------------------- */

/* NDK_OP_FLAG_* a fast register turns into MR access bits. */
static uint8_t
fr_access(uint32_t flags)
{
	uint8_t a = 0;

	if (flags & NDK_OP_FLAG_ALLOW_LOCAL_WRITE)
		a |= MRT_ACCESS_LOCAL_WRITE;
	if (flags & NDK_OP_FLAG_ALLOW_REMOTE_READ)
		a |= MRT_ACCESS_REMOTE_READ;
	if ((flags & NDK_OP_FLAG_ALLOW_REMOTE_WRITE) == NDK_OP_FLAG_ALLOW_REMOTE_WRITE)
		a |= MRT_ACCESS_REMOTE_WRITE | MRT_ACCESS_LOCAL_WRITE;
	if (flags & NDK_OP_FLAG_RDMA_READ_SINK)
		a |= MRT_ACCESS_READ_SINK;
	return a;
}

/*
 * Check that every page is aligned and inside one of c's regions and, when
 * out is not NULL, store where ndkd maps it. Pages of one request almost
 * always share a region, so the last region hit is tried first. Kept out of
 * line: inlined into the SQ loop it ran out of registers (callgrind: 30
 * instructions a page inlined, 57 with a region lookup per page).
 */
static __attribute__((noinline)) bool
fr_map_pages(const struct client *c, const uint64_t *va, uint32_t n, uint64_t *out)
{
	uint64_t lo = 0, span = 0, base = 0;
	bool have = false;
	uint32_t i, id;

	for (i = 0; i < n; i++) {
		if (!have || va[i] - lo > span) {
			const struct region *r = region_find(c, va[i], PAGE, &id);

			if (r == NULL)
				return false;
			lo = r->client_base;
			span = r->size - PAGE;
			base = (uintptr_t)r->daemon_base;
			have = true;
		}
		if (va[i] % PAGE != 0)
			return false;
		if (out != NULL)
			out[i] = base + (va[i] - lo);
	}
	return true;
}

ndk_status
dmr_fast_register(struct client *c, struct ectx *x, struct dqp *qp, const struct ndk_abi_wqe *h,
		  const uint64_t *va, uint32_t wr_id, uint32_t *peer_token)
{
	struct fr_map m;
	struct obj *o = obj_lookup(c, h->mr_handle, OBJ_MR);
	struct mrt_entry *e;
	uint64_t *pages;
	uint8_t access;
	ndk_status st;
	bool live;

	if (o == NULL || o->mr_kind != NDK_ABI_MR_KIND_FASTREG || !o->registered || o->pd != qp->pd)
		return NDK_STATUS_INVALID_PARAMETER;
	e = mrt_entry(x->mrt, o->mr_index);
	if (h->page_count == 0 || h->page_count > e->fr_max_pages || h->fbo >= PAGE ||
	    h->length == 0 || h->length > (uint64_t)h->page_count * PAGE - h->fbo ||
	    h->remote_addr == 0 || h->remote_addr % PAGE != h->fbo ||
	    h->remote_addr + h->length < h->remote_addr)
		return NDK_STATUS_INVALID_PARAMETER;
	if (!mrt_token_is_next(h->remote_token, o->mr_index, e->variant))
		return NDK_STATUS_INVALID_PARAMETER;
	access = fr_access(h->flags);
	/* remote access on an MR initialised without it (NDK: ACCESS_VIOLATION) */
	if ((access & ~e->access) != 0)
		return NDK_STATUS_ACCESS_VIOLATION;
	/*
	 * An MR that is not VALID has no reader (one that copied it while
	 * VALID retries: invalidating moved its sequence count), so its page
	 * array is written as the pages are checked; a live one is refused
	 * after the checks (a bad WR says what is bad).
	 */
	live = e->state == MRT_VALID;
	pages = o->ptr;
	if (!fr_map_pages(c, va, h->page_count, live ? NULL : pages))
		return NDK_STATUS_ACCESS_VIOLATION;
	if (live)
		return NDK_STATUS_INVALID_DEVICE_REQUEST;
	m = (struct fr_map){ .pages = pages,
			     .n_pages = h->page_count,
			     .fbo = h->fbo,
			     .va = h->remote_addr,
			     .length = h->length,
			     .access = access,
			     .variant = (uint8_t)MRT_TOKEN_VARIANT(h->remote_token) };
	st = x->prov->ops.mr_fast_register(x, qp, o->mr_index, &m, wr_id);
	if (st != NDK_STATUS_SUCCESS && st != NDK_STATUS_PENDING)
		return st;
	*peer_token = m.key != 0 ? m.key : h->remote_token;
	mrt_write_begin(e);
	e->pages = (uint64_t)(uintptr_t)pages;
	e->n_pages = h->page_count;
	e->fbo = h->fbo;
	e->va = h->remote_addr;
	e->length = h->length;
	e->access = access;
	e->variant = (uint8_t)MRT_TOKEN_VARIANT(h->remote_token); /* the token before is dead */
	e->state = MRT_VALID;
	mrt_write_end(e);
	return st;
}

uint64_t
dmr_fr_failed(struct client *c, struct ectx *x, const struct ndk_abi_wqe *h)
{
	struct obj *o = obj_lookup(c, h->mr_handle, OBJ_MR);

	if (o == NULL || o->mr_kind != NDK_ABI_MR_KIND_FASTREG)
		return 0;
	return (uint64_t)h->remote_token << 32 |
	       MRT_TOKEN(o->mr_index, mrt_entry(x->mrt, o->mr_index)->variant);
}

ndk_status
dmr_invalidate(struct client *c, struct ectx *x, struct dqp *qp, uint32_t handle, uint32_t wr_id)
{
	struct obj *o = obj_lookup(c, handle, OBJ_MR);
	struct mrt_entry *e;
	ndk_status st;

	/* NDK: a window, or a fast-registered MR; registered ones use DeregisterMr */
	if (o == NULL && obj_lookup(c, handle, OBJ_MW) != NULL)
		return dmw_invalidate(c, x, qp, handle, wr_id);
	if (o == NULL || o->mr_kind != NDK_ABI_MR_KIND_FASTREG || o->pd != qp->pd)
		return NDK_STATUS_INVALID_PARAMETER;
	st = x->prov->ops.mr_invalidate(x, qp, o->mr_index, wr_id);
	if (st != NDK_STATUS_SUCCESS && st != NDK_STATUS_PENDING)
		return st;
	e = mrt_entry(x->mrt, o->mr_index);
	mrt_write_begin(e);
	e->state = MRT_INVALID;
	mrt_write_end(e);
	return st;
}

bool
dmr_can_invalidate(struct ectx *x, const struct dqp *qp, uint32_t token)
{
	uint32_t index = MRT_TOKEN_INDEX(token);
	const struct mrt_entry *e;

	if (index == 0 || index >= x->mrt->n_entries)
		return false;
	/* this engine owns qp's client, so it owns the entry if it is the client's */
	e = mrt_entry(x->mrt, index);
	return e->client_id == qp->client->id && e->pd == qp->pd && e->kind == MRT_KIND_FASTREG &&
	       e->state == MRT_VALID && e->variant == MRT_TOKEN_VARIANT(token);
}

bool
dmr_invalidate_token(struct ectx *x, const struct dqp *qp, uint32_t token)
{
	struct mrt_entry *e;

	if (!dmr_can_invalidate(x, qp, token))
		return false;
	e = mrt_entry(x->mrt, MRT_TOKEN_INDEX(token));
	mrt_write_begin(e);
	e->state = MRT_INVALID;
	mrt_write_end(e);
	return true;
}
