/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Memory windows (<ndk/mw.h>). Creating one is a round trip (ndkd gives it
 * an MR table entry); binding is a work request on a QP (qp.c), which names
 * the window's next token as a fast register does, so the token is known
 * when ndk_qp_bind() returns. A window holds its PD open.
 */
#include <stdlib.h>

#include "ndk_priv.h"

static const struct ndk_mw_dispatch mw_dispatch;

void
mw_unlink_free(struct mw *mw)
{
	struct pd *pd = mw->pd;

	if (mw->prev != NULL)
		mw->prev->next = mw->next;
	else if (pd->mws == mw)
		pd->mws = mw->next;
	if (mw->next != NULL)
		mw->next->prev = mw->prev;
	free(mw);
}

static void
mw_free(struct mw *mw)
{
	struct pd *pd = mw->pd;

	mw_unlink_free(mw);
	lobj_put(&pd->o);
}

static void
mw_created(struct adapter *ad, const struct req_slot *req, ndk_status status, const uint64_t *out)
{
	ndk_fn_create_completion cb = (ndk_fn_create_completion)req->user_cb;
	struct mw *mw = req->obj;

	if (status != NDK_STATUS_SUCCESS) {
		struct pd *pd = mw->pd;

		free(mw);
		CALLBACK(ad, cb(req->context, status, NULL));
		lobj_put(&pd->o);
		return;
	}
	mw->handle = (uint32_t)out[0];
	mw->token = (uint32_t)out[1];
	mw->next = mw->pd->mws;
	if (mw->next != NULL)
		mw->next->prev = mw;
	mw->pd->mws = mw;
	CALLBACK(ad, cb(req->context, NDK_STATUS_SUCCESS, &mw->pub.header));
}

ndk_status
mw_create(struct ndk_pd *p, ndk_fn_create_completion completion, void *context, struct ndk_mw **out)
{
	struct pd *pd = (struct pd *)p;
	struct ndk_abi_sqe sqe = { .opcode = NDK_ABI_OP_MW_CREATE, .handle = pd->o.handle };
	struct mw *mw;
	ndk_status st;

	(void)out; /* always PENDING: the window comes to the completion */
	if (completion == NULL)
		return NDK_STATUS_INVALID_PARAMETER;
	if (pd->o.closing)
		return NDK_STATUS_INVALID_DEVICE_STATE;
	mw = calloc(1, sizeof(*mw));
	if (mw == NULL)
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	mw->pd = pd;
	mw->pub.header.version = (struct ndk_version){ NDK_VERSION_MAJOR, NDK_VERSION_MINOR };
	mw->pub.header.object_type = NDK_OBJECT_TYPE_MW;
	mw->pub.dispatch = &mw_dispatch;
	st = post_ctrl(pd->ad, &sqe, 0, mw_created, (void (*)(void))completion, context, mw, 0);
	if (st != NDK_STATUS_PENDING) {
		free(mw);
		return st;
	}
	lobj_hold(&pd->o); /* the PD closes after its windows */
	return NDK_STATUS_PENDING;
}

static void
mw_destroyed(struct adapter *ad, const struct req_slot *req, ndk_status status, const uint64_t *out)
{
	ndk_fn_close_completion cb = (ndk_fn_close_completion)req->user_cb;
	struct mw *mw = req->obj;
	struct pd *pd = mw->pd;

	(void)status, (void)out;
	mw_unlink_free(mw);
	if (cb != NULL)
		CALLBACK(ad, cb(req->context)); /* its last callback; then its PD may finish */
	lobj_put(&pd->o);
}

static ndk_status
mw_close(struct ndk_object_header *obj, ndk_fn_close_completion completion, void *context)
{
	struct mw *mw = (struct mw *)obj;
	struct ndk_abi_sqe sqe = { .opcode = NDK_ABI_OP_MW_DESTROY, .handle = mw->handle };
	ndk_status st;

	if (mw->closing)
		return NDK_STATUS_INVALID_DEVICE_STATE;
	st = post_ctrl(mw->pd->ad, &sqe, 0, mw_destroyed, (void (*)(void))completion, context, mw,
		       0);
	if (st == NDK_STATUS_PENDING) {
		mw->closing = true;
	} else if (st == NDK_STATUS_DEVICE_REMOVED) {
		mw_free(mw); /* ndkd is gone and took the window with it: done, no callback */
		return NDK_STATUS_SUCCESS;
	}
	return st;
}

static uint32_t
mw_get_remote_token(struct ndk_mw *m)
{
	return ((struct mw *)m)->token;
}

static const struct ndk_mw_dispatch mw_dispatch = {
	.close = mw_close,
	.query_extension = no_extension,
	.get_remote_token = mw_get_remote_token,
};
