/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Protection domains, and the pools of pre-created MRs that let create_mr
 * return SUCCESS without a round trip. Pools refill in the background: the
 * refill requests go out with the next doorbell and their completions are
 * reaped by ndk_adapter_progress() like any other.
 */
#include <stdlib.h>
#include <string.h>

#include "ndk_priv.h"

static const struct ndk_pd_dispatch pd_dispatch;

static void
pd_link(struct pd *pd)
{
	struct adapter *ad = pd->ad;

	pd->next = ad->pds;
	if (ad->pds != NULL)
		ad->pds->prev = pd;
	ad->pds = pd;
}

static void
pd_free(struct pd *pd)
{
	while (pd->mrs != NULL)
		mr_free(pd->mrs);
	while (pd->qps != NULL)
		qp_free(pd->qps);
	if (pd->prev != NULL)
		pd->prev->next = pd->next;
	else if (pd->ad->pds == pd)
		pd->ad->pds = pd->next;
	if (pd->next != NULL)
		pd->next->prev = pd->prev;
	free(pd);
}

void
pd_free_all(struct adapter *ad)
{
	while (ad->pds != NULL)
		pd_free(ad->pds);
}

static struct pd *
to_pd(struct ndk_pd *p)
{
	return (struct pd *)p;
}

static void pool_refill(struct pd *pd, int kind);

static void
pool_filled(struct adapter *ad, const struct req_slot *req, ndk_status status, const uint64_t *out)
{
	struct pd *pd = req->obj;
	struct mr_pool *pool = &pd->pool[req->arg];

	(void)ad;
	pool->refilling--;
	pd->internal--;
	/* A PD that is closing takes nothing back: ndkd frees it with the PD. */
	if (status == NDK_STATUS_SUCCESS && !pd->closing && pool->n < PD_POOL_TARGET)
		pool->h[pool->n++] = (uint32_t)out[0];
	else if (status == NDK_STATUS_INSUFFICIENT_RESOURCES)
		pool->exhausted = true;
	pd_mr_gone(pd);
}

static void
pool_refill(struct pd *pd, int kind)
{
	struct mr_pool *pool = &pd->pool[kind];
	struct ndk_abi_sqe sqe = {
		.opcode = NDK_ABI_OP_MR_CREATE,
		.handle = pd->handle,
		.args = { (uint64_t)kind },
	};

	if (pd->closing || !pool->used || pool->exhausted ||
	    pool->n + pool->refilling > PD_POOL_LOW)
		return;
	while (pool->n + pool->refilling < PD_POOL_TARGET) {
		/* DEFER: they ride with the app's next doorbell or progress call. */
		if (post_ctrl(pd->ad, &sqe, NDK_OP_FLAG_DEFER, pool_filled, NULL, NULL, pd,
			      (uintptr_t)kind) != NDK_STATUS_PENDING)
			return; /* ring busy: the next create_mr tries again */
		pool->refilling++;
		pd->internal++;
	}
}

bool
pd_pool_put(struct pd *pd, bool fast_register, uint32_t handle)
{
	struct mr_pool *pool = &pd->pool[fast_register];

	if (pd->closing || pool->n == PD_POOL_TARGET)
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
			pd_pool_put(pd, req->arg != 0, (uint32_t)out[0]);
			status = NDK_STATUS_NO_MEMORY;
		}
	}
	if (mr == NULL)
		pd->n_mrs--;
	CALLBACK(ad, cb(req->context, status, mr != NULL ? &mr->pub.header : NULL));
	if (mr == NULL)
		pd_mr_gone(pd);
	else
		pool_refill(pd, req->arg != 0);
}

static ndk_status
pd_create_mr(struct ndk_pd *p, bool fast_register, ndk_fn_create_completion completion,
	     void *context, struct ndk_mr **out)
{
	struct pd *pd = to_pd(p);
	struct mr_pool *pool = &pd->pool[fast_register];
	struct ndk_abi_sqe sqe = {
		.opcode = NDK_ABI_OP_MR_CREATE,
		.handle = pd->handle,
		.args = { fast_register ? NDK_ABI_MR_KIND_FASTREG : NDK_ABI_MR_KIND_NORMAL },
	};
	struct mr *mr;
	ndk_status st;

	if (out == NULL || completion == NULL)
		return NDK_STATUS_INVALID_PARAMETER;
	if (pd->closing)
		return NDK_STATUS_INVALID_DEVICE_STATE;
	/* A pool fills once its kind is in use: MRs of a kind never used cost nothing. */
	pool->used = true;
	if (pool->n > 0) {
		mr = mr_new(pd, pool->h[pool->n - 1], fast_register);
		if (mr == NULL)
			return NDK_STATUS_INSUFFICIENT_RESOURCES;
		pool->n--;
		pd->n_mrs++;
		pool_refill(pd, fast_register);
		*out = &mr->pub;
		return NDK_STATUS_SUCCESS;
	}
	/* Pool dry: go to ndkd for this one (seed 004: the MR comes to the completion). */
	st = post_ctrl(pd->ad, &sqe, 0, mr_created, (void (*)(void))completion, context, pd,
		       fast_register);
	if (st != NDK_STATUS_PENDING)
		return st == NDK_STATUS_DEVICE_REMOVED ? st : NDK_STATUS_INSUFFICIENT_RESOURCES;
	pd->n_mrs++;
	pool_refill(pd, fast_register);
	return NDK_STATUS_PENDING;
}

static void
pd_get_privileged_token(struct ndk_pd *p, uint32_t *token)
{
	*token = to_pd(p)->priv_token;
}

static void
pd_destroyed(struct adapter *ad, const struct req_slot *req, ndk_status status, const uint64_t *out)
{
	struct pd *pd = req->obj;
	ndk_fn_close_completion cb = pd->close_cb;
	void *ctx = pd->close_ctx;

	(void)status;
	(void)out;
	/* Whatever ndkd said, the PD is gone: this is its last callback. */
	pd_free(pd);
	if (cb != NULL)
		CALLBACK(ad, cb(ctx));
}

/* Post the PD's destroy once nothing of it is left in the app or in flight. */
static void
pd_try_destroy(struct pd *pd)
{
	struct adapter *ad = pd->ad;
	struct ndk_abi_sqe sqe = { .opcode = NDK_ABI_OP_PD_DESTROY, .handle = pd->handle };
	ndk_status st;

	if (!pd->closing || pd->destroy_posted || pd->n_mrs != 0 || pd->internal != 0)
		return;
	/* ndkd frees the pooled MRs with the PD: one request. */
	st = post_ctrl(ad, &sqe, 0, pd_destroyed, NULL, NULL, pd, 0);
	if (st == NDK_STATUS_PENDING) {
		pd->destroy_posted = true;
		return;
	}
	if (st == NDK_STATUS_DEVICE_REMOVED) {
		/* ndkd is gone and took the PD with it: complete the close now. */
		struct req_slot req = { .obj = pd };

		pd->destroy_posted = true;
		pd_destroyed(ad, &req, st, NULL);
		return;
	}
	/* Ring full: progress tries again. */
	pd->retry_next = ad->retry;
	ad->retry = pd;
}

void
pd_retry(struct adapter *ad)
{
	struct pd *list = ad->retry;

	ad->retry = NULL;
	while (list != NULL) {
		struct pd *pd = list;

		list = pd->retry_next;
		pd_try_destroy(pd);
	}
}

void
pd_mr_gone(struct pd *pd)
{
	pd_try_destroy(pd);
}

static ndk_status
pd_close(struct ndk_object_header *obj, ndk_fn_close_completion completion, void *context)
{
	struct pd *pd = (struct pd *)obj;

	if (pd->closing)
		return NDK_STATUS_INVALID_DEVICE_STATE;
	pd->closing = true;
	pd->close_cb = completion;
	pd->close_ctx = context;
	pd->pool[0].n = 0;
	pd->pool[1].n = 0;
	/* NDK: an antecedent closes after its successors; until then this is pending. */
	pd_try_destroy(pd);
	return NDK_STATUS_PENDING;
}

static const struct ndk_pd_dispatch pd_dispatch = {
	.close = pd_close,
	.query_extension = no_extension,
	.create_mr = pd_create_mr,
	.create_qp = qp_create,
	.get_privileged_token = pd_get_privileged_token,
};

static void
pd_created(struct adapter *ad, const struct req_slot *req, ndk_status status, const uint64_t *out)
{
	ndk_fn_create_completion cb = (ndk_fn_create_completion)req->user_cb;
	struct pd *pd = req->obj;

	if (status != NDK_STATUS_SUCCESS) {
		free(pd);
		CALLBACK(ad, cb(req->context, status, NULL));
		return;
	}
	pd_link(pd);
	pd->handle = (uint32_t)out[0];
	pd->priv_token = (uint32_t)out[1];
	CALLBACK(ad, cb(req->context, NDK_STATUS_SUCCESS, &pd->pub.header));
}

ndk_status
pd_create(struct ndk_adapter *a, ndk_fn_create_completion completion, void *context,
	  struct ndk_pd **out)
{
	struct adapter *ad = to_adapter(a);
	struct ndk_abi_sqe sqe = { .opcode = NDK_ABI_OP_PD_CREATE };
	struct pd *pd;
	ndk_status st;

	(void)out;
	if (completion == NULL)
		return NDK_STATUS_INVALID_PARAMETER;
	pd = calloc(1, sizeof(*pd));
	if (pd == NULL)
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	pd->ad = ad;
	pd->pub.header.version = (struct ndk_version){ NDK_VERSION_MAJOR, NDK_VERSION_MINOR };
	pd->pub.header.object_type = NDK_OBJECT_TYPE_PD;
	pd->pub.dispatch = &pd_dispatch;
	st = post_ctrl(ad, &sqe, 0, pd_created, (void (*)(void))completion, context, pd, 0);
	if (st != NDK_STATUS_PENDING)
		free(pd);
	return st;
}
