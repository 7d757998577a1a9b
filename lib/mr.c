/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Memory regions: the seven calls of NDK_MR_DISPATCH (seed 003). Tokens are
 * cached in the handle, so reading one is a load with no round trip (seeds
 * 000, 001): set when register or initialise completes without error,
 * cleared when deregister starts.
 *
 * create_mr (seed 004) takes an MR from its PD's pool of pre-created ones
 * and returns SUCCESS without a round trip. Pools refill in the background:
 * the refill requests go out with the next doorbell and their completions
 * are reaped by ndk_adapter_progress() like any other.
 */
#include <stdlib.h>

#include "ndk_priv.h"

static const struct ndk_mr_dispatch mr_dispatch;

static struct mr *
to_mr(struct ndk_mr *m)
{
	return (struct mr *)m;
}

/*
 * Work-request results name MRs by id, checked against a generation, so a
 * result reaped after its MR closed finds nothing instead of freed memory.
 */
static bool
id_get(struct adapter *ad, struct mr *mr)
{
	uint32_t slot;

	if (ad->mr_id_free == 0) {
		uint32_t n = ad->n_mr_ids ? 2 * ad->n_mr_ids : 64, i;
		struct mr_id *ids = realloc(ad->mr_ids, n * sizeof(*ids));

		if (ids == NULL)
			return false;
		for (i = ad->n_mr_ids; i < n; i++)
			ids[i] = (struct mr_id){ .next_free = i + 1 < n ? i + 2 : 0 };
		ad->mr_id_free = ad->n_mr_ids + 1;
		ad->mr_ids = ids;
		ad->n_mr_ids = n;
	}
	slot = ad->mr_id_free - 1;
	ad->mr_id_free = ad->mr_ids[slot].next_free;
	ad->mr_ids[slot].mr = mr;
	mr->id_slot = slot;
	return true;
}

static void
id_put(struct adapter *ad, struct mr *mr)
{
	struct mr_id *id = &ad->mr_ids[mr->id_slot];

	id->mr = NULL;
	id->gen++;
	id->next_free = ad->mr_id_free;
	ad->mr_id_free = mr->id_slot + 1;
}

uint64_t
mr_id(const struct mr *mr)
{
	return (uint64_t)mr->pd->ad->mr_ids[mr->id_slot].gen << 32 | mr->id_slot;
}

struct mr *
mr_by_id(struct adapter *ad, uint64_t id)
{
	uint32_t slot = (uint32_t)id;

	if (slot >= ad->n_mr_ids || ad->mr_ids[slot].gen != (uint32_t)(id >> 32))
		return NULL;
	return ad->mr_ids[slot].mr;
}

void
mr_ids_fini(struct adapter *ad)
{
	free(ad->mr_ids);
	ad->mr_ids = NULL;
	ad->n_mr_ids = 0;
	ad->mr_id_free = 0;
}

static struct mr *
mr_new(struct pd *pd, uint32_t handle, bool fast_register)
{
	struct mr *mr = calloc(1, sizeof(*mr));

	if (mr == NULL)
		return NULL;
	if (!id_get(pd->ad, mr)) {
		free(mr);
		return NULL;
	}
	mr->pub.header.version = (struct ndk_version){ NDK_VERSION_MAJOR, NDK_VERSION_MINOR };
	mr->pub.header.object_type = NDK_OBJECT_TYPE_MR;
	mr->pub.dispatch = &mr_dispatch;
	mr->pd = pd;
	mr->handle = handle;
	mr->fast_register = fast_register;
	mr->state = MR_IDLE;
	mr->next = pd->mrs;
	if (pd->mrs != NULL)
		pd->mrs->prev = mr;
	pd->mrs = mr;
	return mr;
}

void
mr_free(struct mr *mr)
{
	id_put(mr->pd->ad, mr);
	if (mr->prev != NULL)
		mr->prev->next = mr->next;
	else
		mr->pd->mrs = mr->next;
	if (mr->next != NULL)
		mr->next->prev = mr->prev;
	free(mr);
}

/* ------------------------------------------------------------------------
 * The PD's pools, and create_mr
 * --------------------------------------------------------------------- */

static void pool_refill(struct pd *pd, int kind);

static void
pool_filled(struct adapter *ad, const struct req_slot *req, ndk_status status, const uint64_t *out)
{
	struct pd *pd = req->obj;
	struct mr_pool *pool = &pd->pool[req->arg];

	(void)ad;
	pool->refilling--;
	/* A PD that is closing takes nothing back: ndkd frees it with the PD. */
	if (status == NDK_STATUS_SUCCESS && !pd->o.closing && pool->n < PD_POOL_TARGET)
		pool->h[pool->n++] = (uint32_t)out[0];
	else if (status == NDK_STATUS_INSUFFICIENT_RESOURCES)
		pool->exhausted = true;
	lobj_put(&pd->o);
}

static void
pool_refill(struct pd *pd, int kind)
{
	struct mr_pool *pool = &pd->pool[kind];
	struct ndk_abi_sqe sqe = {
		.opcode = NDK_ABI_OP_MR_CREATE,
		.handle = pd->o.handle,
		.args = { (uint64_t)kind },
	};

	if (pd->o.closing || !pool->used || pool->exhausted ||
	    pool->n + pool->refilling > PD_POOL_LOW)
		return;
	while (pool->n + pool->refilling < PD_POOL_TARGET) {
		/* DEFER: they ride with the app's next doorbell or progress call. */
		if (post_ctrl(pd->ad, &sqe, NDK_OP_FLAG_DEFER, pool_filled, NULL, NULL, pd,
			      (uintptr_t)kind) != NDK_STATUS_PENDING)
			return; /* ring busy: the next create_mr tries again */
		pool->refilling++;
		lobj_hold(&pd->o);
	}
}

static bool
pool_put(struct pd *pd, bool fast_register, uint32_t handle)
{
	struct mr_pool *pool = &pd->pool[fast_register];

	if (pd->o.closing || pool->n == PD_POOL_TARGET)
		return false;
	pool->h[pool->n++] = handle;
	pool->exhausted = false;
	return true;
}

static void
mr_created(struct adapter *ad, const struct req_slot *req, ndk_status status, const uint64_t *out)
{
	ndk_fn_create_completion cb = (ndk_fn_create_completion)req->user_cb;
	struct pd *pd = req->obj;
	struct mr_pool *pool = &pd->pool[req->arg != 0];
	struct mr *mr = NULL;

	/* At the limit, ndkd may have said no while a refill filled the pool. */
	if (status == NDK_STATUS_INSUFFICIENT_RESOURCES && pool->n > 0) {
		mr = mr_new(pd, pool->h[pool->n - 1], req->arg != 0);
		if (mr != NULL) {
			pool->n--;
			status = NDK_STATUS_SUCCESS;
		}
	} else if (status == NDK_STATUS_SUCCESS) {
		mr = mr_new(pd, (uint32_t)out[0], req->arg != 0);
		if (mr == NULL) {
			/* ndkd has an MR we cannot hold: give it back to the pool or leave it to PD
			 * close */
			pool_put(pd, req->arg != 0, (uint32_t)out[0]);
			status = NDK_STATUS_NO_MEMORY;
		}
	}
	CALLBACK(ad, cb(req->context, status, mr != NULL ? &mr->pub.header : NULL));
	if (mr == NULL)
		lobj_put(&pd->o);
	else
		pool_refill(pd, req->arg != 0);
}

ndk_status
mr_create(struct ndk_pd *p, bool fast_register, ndk_fn_create_completion completion, void *context,
	  struct ndk_mr **out)
{
	struct pd *pd = (struct pd *)p;
	struct mr_pool *pool = &pd->pool[fast_register];
	struct ndk_abi_sqe sqe = {
		.opcode = NDK_ABI_OP_MR_CREATE,
		.handle = pd->o.handle,
		.args = { fast_register ? NDK_ABI_MR_KIND_FASTREG : NDK_ABI_MR_KIND_NORMAL },
	};
	struct mr *mr;
	ndk_status st;

	if (out == NULL || completion == NULL)
		return NDK_STATUS_INVALID_PARAMETER;
	if (pd->o.closing)
		return NDK_STATUS_INVALID_DEVICE_STATE;
	/* A pool fills once its kind is in use: MRs of a kind never used cost nothing. */
	pool->used = true;
	if (pool->n > 0) {
		mr = mr_new(pd, pool->h[pool->n - 1], fast_register);
		if (mr == NULL)
			return NDK_STATUS_INSUFFICIENT_RESOURCES;
		pool->n--;
		lobj_hold(&pd->o);
		pool_refill(pd, fast_register);
		*out = &mr->pub;
		return NDK_STATUS_SUCCESS;
	}
	/* Pool dry: go to ndkd for this one (seed 004: the MR comes to the completion). */
	st = post_ctrl(pd->ad, &sqe, 0, mr_created, (void (*)(void))completion, context, pd,
		       fast_register);
	if (st != NDK_STATUS_PENDING)
		return st == NDK_STATUS_DEVICE_REMOVED ? st : NDK_STATUS_INSUFFICIENT_RESOURCES;
	lobj_hold(&pd->o);
	pool_refill(pd, fast_register);
	return NDK_STATUS_PENDING;
}

/* ------------------------------------------------------------------------
 * The MR's calls
 * --------------------------------------------------------------------- */

/* A register, deregister or initialise came back; req->arg is the state it leads to. */
static void
mr_request_done(struct adapter *ad, const struct req_slot *req, ndk_status status,
		const uint64_t *out)
{
	struct mr *mr = req->obj;
	uint8_t next = (uint8_t)req->arg;

	if (status == NDK_STATUS_SUCCESS) {
		mr->state = next;
		mr->token = next == MR_IDLE ? 0 : (uint32_t)out[0];
		mr->remote_token = next == MR_REGISTERED ? (uint32_t)out[1] : 0;
	} else {
		/* A failed call leaves the MR, and its token, as they were. */
		mr->state = mr->state_before;
		mr->token = mr->token_before;
		mr->remote_token = mr->remote_before;
	}
	CALLBACK(ad, ((ndk_fn_request_completion)req->user_cb)(req->context, status));
}

static ndk_status
mr_post(struct mr *mr, const struct ndk_abi_sqe *sqe, uint8_t next,
	ndk_fn_request_completion completion, void *context)
{
	ndk_status st;

	mr->state_before = mr->state;
	mr->token_before = mr->token;
	mr->remote_before = mr->remote_token;
	st = post_ctrl(mr->pd->ad, sqe, 0, mr_request_done, (void (*)(void))completion, context, mr,
		       next);
	if (st == NDK_STATUS_PENDING)
		mr->state = MR_BUSY;
	return st;
}

static ndk_status
mr_register(struct ndk_mr *m, void *addr, size_t length, uint32_t flags,
	    ndk_fn_request_completion completion, void *context)
{
	struct mr *mr = to_mr(m);
	uint64_t va = (uint64_t)(uintptr_t)addr;
	struct ndk_abi_sqe sqe = {
		.opcode = NDK_ABI_OP_MR_REGISTER,
		.handle = mr->handle,
		.args = { va, length, flags },
	};
	const uint32_t known = NDK_MR_FLAG_ALLOW_LOCAL_WRITE | NDK_MR_FLAG_ALLOW_REMOTE_READ |
			       NDK_MR_FLAG_ALLOW_REMOTE_WRITE | NDK_MR_FLAG_RDMA_READ_SINK;

	if (completion == NULL)
		return NDK_STATUS_INVALID_PARAMETER;
	if (mr->fast_register)
		return NDK_STATUS_NOT_SUPPORTED;
	/* registered already, or a register or deregister in flight: not a request for this MR now
	 */
	if (mr->state != MR_IDLE)
		return NDK_STATUS_INVALID_DEVICE_REQUEST;
	/*
	 * Zero-based addresses are not supported (NDK); nor are unknown flags or
	 * wrap-around. REMOTE_WRITE is 0x5: its 0x4 bit alone is no flag.
	 */
	if (va == 0 || length == 0 || va + length < va || (flags & ~known) != 0 ||
	    ((flags & 0x4u) != 0 && (flags & NDK_MR_FLAG_ALLOW_LOCAL_WRITE) == 0))
		return NDK_STATUS_INVALID_PARAMETER;
	/* Memory ndkd cannot see fails here, with no round trip (ndkd checks too). */
	if (region_lookup(mr->pd->ad, va, length) == NULL)
		return NDK_STATUS_INVALID_PARAMETER;
	return mr_post(mr, &sqe, MR_REGISTERED, completion, context);
}

static ndk_status
mr_deregister(struct ndk_mr *m, ndk_fn_request_completion completion, void *context)
{
	struct mr *mr = to_mr(m);
	struct ndk_abi_sqe sqe = { .opcode = NDK_ABI_OP_MR_DEREGISTER, .handle = mr->handle };
	ndk_status st;

	if (completion == NULL)
		return NDK_STATUS_INVALID_PARAMETER;
	if (mr->fast_register)
		return NDK_STATUS_NOT_SUPPORTED;
	if (mr->state != MR_REGISTERED)
		return NDK_STATUS_INVALID_DEVICE_REQUEST;
	st = mr_post(mr, &sqe, MR_IDLE, completion, context);
	/* From now on the token reads 0; ndkd kills it when the request runs. */
	if (st == NDK_STATUS_PENDING)
		mr->token = 0;
	return st;
}

/*
 * NDK allows initialise calls "either in parallel or one after another":
 * ndkd answers them in order, so the last one that succeeded sets the
 * token and the remote access.
 */
static void
mr_init_done(struct adapter *ad, const struct req_slot *req, ndk_status status, const uint64_t *out)
{
	struct mr *mr = req->obj;

	mr->inits--;
	if (status == NDK_STATUS_SUCCESS) {
		mr->token = (uint32_t)out[0];
		mr->remote_base = (uint32_t)out[1] & ~0xffu;
		mr->remote_ok = req->arg != 0;
		mr->state = MR_INITIALIZED;
	} else if (mr->inits == 0 && mr->state == MR_BUSY) {
		mr->state = MR_IDLE; /* none succeeded: as before the first */
	}
	CALLBACK(ad, ((ndk_fn_request_completion)req->user_cb)(req->context, status));
}

static ndk_status
mr_initialize_fast_register(struct ndk_mr *m, uint32_t pages, bool remote_access,
			    ndk_fn_request_completion completion, void *context)
{
	struct mr *mr = to_mr(m);
	struct ndk_abi_sqe sqe = {
		.opcode = NDK_ABI_OP_MR_INIT_FR,
		.handle = mr->handle,
		.args = { pages, remote_access ? 1 : 0 },
	};
	ndk_status st;

	if (completion == NULL)
		return NDK_STATUS_INVALID_PARAMETER;
	if (!mr->fast_register)
		return NDK_STATUS_NOT_SUPPORTED;
	if (pages == 0)
		return NDK_STATUS_INVALID_PARAMETER;
	if (pages > mr->pd->ad->info.frmr_page_count)
		return NDK_STATUS_IMPLEMENTATION_LIMIT;
	st = post_ctrl(mr->pd->ad, &sqe, 0, mr_init_done, (void (*)(void))completion, context, mr,
		       remote_access);
	if (st == NDK_STATUS_PENDING) {
		mr->inits++;
		if (mr->state == MR_IDLE)
			mr->state = MR_BUSY;
	}
	return st;
}

static uint32_t
mr_get_token(struct ndk_mr *m)
{
	return to_mr(m)->token;
}

static uint32_t
mr_get_remote_token(struct ndk_mr *m)
{
	const struct mr *mr = to_mr(m);

	if (mr->remote_token != 0)
		return mr->remote_token;
	/* a fast-register MR keeps its NIC key's upper bits; the variant rotates as the token's */
	if (mr->remote_base != 0 && mr->token != 0)
		return mr->remote_base | (mr->token & 0xffu);
	return mr->token;
}

static void
mr_destroyed(struct adapter *ad, const struct req_slot *req, ndk_status status, const uint64_t *out)
{
	ndk_fn_close_completion cb = (ndk_fn_close_completion)req->user_cb;
	struct mr *mr = req->obj;
	struct pd *pd = mr->pd;

	(void)status;
	(void)out;
	mr_free(mr);
	pd->pool[0].exhausted = pd->pool[1].exhausted = false;
	/* The MR's last callback; after it, its PD's close may complete. */
	if (cb != NULL)
		CALLBACK(ad, cb(req->context));
	lobj_put(&pd->o);
}

static ndk_status
mr_close(struct ndk_object_header *obj, ndk_fn_close_completion completion, void *context)
{
	struct mr *mr = (struct mr *)obj;
	struct pd *pd = mr->pd;
	struct ndk_abi_sqe sqe = { .opcode = NDK_ABI_OP_MR_DESTROY, .handle = mr->handle };
	ndk_status st;

	/* Never registered (or deregistered): ndkd's entry is clean, so the PD keeps it. */
	if (mr->state == MR_IDLE && pool_put(pd, mr->fast_register, mr->handle)) {
		mr_free(mr);
		lobj_put(&pd->o);
		return NDK_STATUS_SUCCESS;
	}
	/*
	 * Requests still in flight on this MR complete before the destroy: the
	 * control ring is served in order, so the close completion comes last.
	 */
	st = post_ctrl(pd->ad, &sqe, 0, mr_destroyed, (void (*)(void))completion, context, mr, 0);
	if (st == NDK_STATUS_DEVICE_REMOVED) {
		/* ndkd is gone and took the MR with it. */
		mr_free(mr);
		lobj_put(&pd->o);
		return NDK_STATUS_SUCCESS;
	}
	return st;
}

static const struct ndk_mr_dispatch mr_dispatch = {
	.close = mr_close,
	.query_extension = no_extension,
	.register_mr = mr_register,
	.deregister_mr = mr_deregister,
	.initialize_fast_register_mr = mr_initialize_fast_register,
	.get_remote_token = mr_get_remote_token,
	.get_local_token = mr_get_token,
};
