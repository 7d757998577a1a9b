/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * PDs and MRs, as the client's engine carries them out. Every handle,
 * address, length and flag arrives from the client and is checked here
 * against the client's own tables before anything changes.
 *
 * Statuses (docs/memory.md has the table): INVALID_HANDLE for a handle that
 * is not this client's object of the right type; INVALID_PARAMETER for bad
 * addresses, lengths and flags (NDK's RegisterMr list); NOT_SUPPORTED for a
 * call the MR's kind does not allow (register on a fast-register MR and the
 * reverse); INVALID_DEVICE_STATE for a call the MR's state does not allow;
 * INSUFFICIENT_RESOURCES at a limit; IMPLEMENTATION_LIMIT above the
 * fast-register page count.
 */
#include <ndk/flags.h>

#include <stdlib.h>

#include "conn.h"
#include "mrt.h"
#include "ndkd.h"
#include "qp.h"

/* ------------------------------------------------------------------------
 * The client's object table
 * --------------------------------------------------------------------- */

static uint32_t
obj_alloc(struct client *c, uint8_t type)
{
	uint32_t h;

	if (c->obj_free != 0) {
		h = c->obj_free;
		c->obj_free = c->objs[h].next_free;
	} else if (c->obj_hw < c->obj_cap) {
		h = c->obj_hw++;
	} else {
		return 0;
	}
	c->objs[h] = (struct obj){ .type = type };
	return h;
}

static void
obj_put(struct client *c, uint32_t h)
{
	c->objs[h] = (struct obj){ .type = OBJ_NONE, .next_free = c->obj_free };
	c->obj_free = h;
}

static struct obj *
obj_get(struct client *c, uint32_t h, uint8_t type)
{
	if (h == 0 || h >= c->obj_hw || c->objs[h].type != type)
		return NULL;
	return &c->objs[h];
}

uint32_t
obj_new(struct client *c, uint8_t type, void *ptr)
{
	uint32_t h = obj_alloc(c, type);

	if (h != 0)
		c->objs[h].ptr = ptr;
	return h;
}

struct obj *
obj_lookup(struct client *c, uint32_t handle, uint8_t type)
{
	return obj_get(c, handle, type);
}

void
obj_delete(struct client *c, uint32_t handle)
{
	obj_put(c, handle);
}

const struct region *
region_find(const struct client *c, uint64_t va, uint64_t length, uint32_t *id)
{
	/* A1: pairs with the main lcore's release when it added the region */
	uint32_t n = atomic_load_explicit(&c->n_regions, memory_order_acquire), i;

	for (i = 0; i < n; i++) {
		const struct region *r = &c->regions[i];

		/* overflow-safe [va, va + length) within [base, base + size) */
		if (va >= r->client_base && length <= r->size &&
		    va - r->client_base <= r->size - length) {
			*id = i;
			return r;
		}
	}
	return NULL;
}

/* ------------------------------------------------------------------------
 * PD
 * --------------------------------------------------------------------- */

ndk_status
obj_pd_create(struct client *c, struct ctrl_ctx *x, uint64_t out[6])
{
	struct mrt_entry *e;
	uint32_t h, idx;

	if (c->n_pds >= x->lim->max_pds)
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	h = obj_alloc(c, OBJ_PD);
	if (h == 0)
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	idx = mrt_alloc(x->mrt, x->cache, c->id, h, 0);
	if (idx == 0) {
		obj_put(c, h);
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
	c->n_pds++;
	out[0] = h;
	out[1] = MRT_TOKEN(idx, e->variant);
	return NDK_STATUS_SUCCESS;
}

static void mr_destroy(struct client *c, struct ctrl_ctx *x, uint32_t handle, struct obj *mr);

ndk_status
obj_pd_destroy(struct client *c, struct ctrl_ctx *x, uint32_t handle)
{
	struct obj *pd = obj_get(c, handle, OBJ_PD);
	uint32_t h;

	if (pd == NULL)
		return NDK_STATUS_INVALID_HANDLE;
	for (h = 0; h < c->n_qps; h++) {
		if (c->qps[h]->pd == handle)
			return NDK_STATUS_INVALID_DEVICE_STATE; /* QPs close before their PD */
	}
	/*
	 * libndk sends this once the app has closed every MR of the PD; what is
	 * left are the MRs of its pools, and they go with the PD.
	 */
	for (h = 1; h < c->obj_hw && pd->pd != 0; h++) {
		if (c->objs[h].type == OBJ_MR && c->objs[h].pd == handle)
			mr_destroy(c, x, h, &c->objs[h]);
	}
	mrt_free(x->mrt, x->cache, pd->mr_index);
	obj_put(c, handle);
	c->n_pds--;
	return NDK_STATUS_SUCCESS;
}

/* ------------------------------------------------------------------------
 * MR
 * --------------------------------------------------------------------- */

ndk_status
obj_mr_create(struct client *c, struct ctrl_ctx *x, uint32_t pd_handle, uint64_t kind,
	      uint64_t out[6])
{
	struct obj *pd = obj_get(c, pd_handle, OBJ_PD);
	struct mrt_entry *e;
	uint32_t h, idx;

	if (pd == NULL)
		return NDK_STATUS_INVALID_HANDLE;
	if (kind != NDK_ABI_MR_KIND_NORMAL && kind != NDK_ABI_MR_KIND_FASTREG)
		return NDK_STATUS_INVALID_PARAMETER;
	if (c->n_mrs >= x->lim->max_mrs)
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	h = obj_alloc(c, OBJ_MR);
	if (h == 0)
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	idx = mrt_alloc(x->mrt, x->cache, c->id, pd_handle, h);
	if (idx == 0) {
		obj_put(c, h);
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	}
	e = mrt_entry(x->mrt, idx);
	mrt_write_begin(e);
	e->kind = kind == NDK_ABI_MR_KIND_FASTREG ? MRT_KIND_FASTREG : MRT_KIND_NORMAL;
	mrt_write_end(e);
	c->objs[h].mr_kind = (uint8_t)kind;
	c->objs[h].mr_index = idx;
	c->objs[h].pd = pd_handle;
	pd->pd++;
	c->n_mrs++;
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

ndk_status
obj_mr_register(struct client *c, struct ctrl_ctx *x, uint32_t handle, uint64_t va, uint64_t length,
		uint64_t flags, uint64_t out[6])
{
	struct obj *mr = obj_get(c, handle, OBJ_MR);
	const struct region *r;
	struct mrt_entry *e;
	uint32_t region_id;

	if (mr == NULL)
		return NDK_STATUS_INVALID_HANDLE;
	if (mr->mr_kind != NDK_ABI_MR_KIND_NORMAL)
		return NDK_STATUS_NOT_SUPPORTED;
	if (mr->registered)
		return NDK_STATUS_INVALID_DEVICE_STATE;
	/* NDK: zero-based virtual addresses are not supported. */
	if (va == 0 || length == 0 || va + length < va || !mr_flags_valid(flags))
		return NDK_STATUS_INVALID_PARAMETER;
	r = region_find(c, va, length, &region_id);
	if (r == NULL)
		return NDK_STATUS_INVALID_PARAMETER;
	if (length > x->lim->max_registered_bytes - c->registered_bytes)
		return NDK_STATUS_INSUFFICIENT_RESOURCES;

	e = mrt_entry(x->mrt, mr->mr_index);
	mrt_write_begin(e);
	e->access = (uint8_t)flags;
	e->va = va;
	e->length = length;
	e->daemon_va = (uint64_t)(uintptr_t)(r->daemon_base + (va - r->client_base));
	e->variant++;
	e->state = MRT_VALID;
	mrt_write_end(e);
	mr->registered = 1;
	c->registered_bytes += length;
	out[0] = MRT_TOKEN(mr->mr_index, e->variant);
	return NDK_STATUS_SUCCESS;
}

/*
 * Leave the entry INVALID: its last token stops working now (the state), and
 * can never work again (the next VALID rotates the variant). Rotating only on
 * the way to VALID and on free stretches the 8-bit variant's wrap to 256
 * registrations of one entry.
 */
static void
mr_invalidate(struct client *c, struct ctrl_ctx *x, struct obj *mr)
{
	struct mrt_entry *e = mrt_entry(x->mrt, mr->mr_index);

	if (mr->mr_kind == NDK_ABI_MR_KIND_NORMAL && mr->registered)
		c->registered_bytes -= e->length;
	mrt_write_begin(e);
	e->state = MRT_INVALID;
	e->length = 0;
	e->daemon_va = 0;
	mrt_write_end(e);
	mr->registered = 0;
}

ndk_status
obj_mr_deregister(struct client *c, struct ctrl_ctx *x, uint32_t handle)
{
	struct obj *mr = obj_get(c, handle, OBJ_MR);

	if (mr == NULL)
		return NDK_STATUS_INVALID_HANDLE;
	if (mr->mr_kind != NDK_ABI_MR_KIND_NORMAL)
		return NDK_STATUS_NOT_SUPPORTED;
	if (!mr->registered)
		return NDK_STATUS_INVALID_DEVICE_STATE;
	mr_invalidate(c, x, mr);
	return NDK_STATUS_SUCCESS;
}

ndk_status
obj_mr_init_fr(struct client *c, struct ctrl_ctx *x, uint32_t handle, uint64_t pages,
	       uint64_t remote, uint64_t out[6])
{
	struct obj *mr = obj_get(c, handle, OBJ_MR);
	struct mrt_entry *e;

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
		return NDK_STATUS_INVALID_DEVICE_STATE;
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
	e->variant++;
	e->state = MRT_INVALID;
	mrt_write_end(e);
	mr->registered = 1;
	out[0] = MRT_TOKEN(mr->mr_index, e->variant);
	return NDK_STATUS_SUCCESS;
}

static void
mr_destroy(struct client *c, struct ctrl_ctx *x, uint32_t handle, struct obj *mr)
{
	struct obj *pd = obj_get(c, mr->pd, OBJ_PD);

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
	obj_put(c, handle);
	c->n_mrs--;
}

ndk_status
obj_mr_destroy(struct client *c, struct ctrl_ctx *x, uint32_t handle)
{
	struct obj *mr = obj_get(c, handle, OBJ_MR);

	if (mr == NULL)
		return NDK_STATUS_INVALID_HANDLE;
	/* Closing a registered MR deregisters it: its token dies with it. */
	mr_destroy(c, x, handle, mr);
	return NDK_STATUS_SUCCESS;
}

void
obj_release_all(struct client *c, struct ctrl_ctx *x)
{
	uint32_t h;

	/* connections and listeners, then QPs: they hold CQs and count in their PD */
	conn_release_all(c, x);
	qp_release_all(c, x);
	/* MRs first, so each PD is childless when its turn comes. */
	for (h = 1; h < c->obj_hw; h++) {
		if (c->objs[h].type == OBJ_MR)
			mr_destroy(c, x, h, &c->objs[h]);
	}
	for (h = 1; h < c->obj_hw; h++) {
		if (c->objs[h].type == OBJ_PD)
			obj_pd_destroy(c, x, h);
	}
}
