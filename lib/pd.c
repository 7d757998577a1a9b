/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Protection domains: create, close (after their MRs and QPs, through
 * lobj.c) and the privileged token. Their pools of pre-created MRs are in
 * mr.c.
 */
#include <stddef.h>
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
	while (pd->mws != NULL)
		mw_unlink_free(pd->mws);
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
	while (ad->pds != NULL) {
		lobj_abandon(&ad->pds->o);
		pd_free(ad->pds);
	}
}

static void
pd_get_privileged_token(struct ndk_pd *p, uint32_t *token)
{
	*token = ((struct pd *)p)->priv_token;
}

static void
pd_release(struct lobj *o)
{
	pd_free((struct pd *)((char *)o - offsetof(struct pd, o)));
}

static ndk_status
pd_close(struct ndk_object_header *obj, ndk_fn_close_completion completion, void *context)
{
	struct pd *pd = (struct pd *)obj;

	if (pd->o.closing)
		return NDK_STATUS_INVALID_DEVICE_STATE;
	/* ndkd frees the pooled MRs with the PD: one request */
	pd->pool[0].n = 0;
	pd->pool[1].n = 0;
	/* NDK: an antecedent closes after its successors; until then this is pending. */
	return lobj_close(&pd->o, completion, context);
}

static const struct ndk_pd_dispatch pd_dispatch = {
	.close = pd_close,
	.query_extension = no_extension,
	.create_mr = mr_create,
	.create_mw = mw_create,
	.create_srq = srq_create,
	.create_qp = qp_create,
	.create_qp_with_srq = qp_create_with_srq,
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
	pd->o.handle = (uint32_t)out[0];
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

	(void)out; /* always PENDING: the object comes to the completion */
	if (completion == NULL)
		return NDK_STATUS_INVALID_PARAMETER;
	pd = calloc(1, sizeof(*pd));
	if (pd == NULL)
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	pd->ad = ad;
	lobj_init(&pd->o, ad, NDK_ABI_OP_PD_DESTROY, pd_release, NULL);
	pd->pub.header.version = (struct ndk_version){ NDK_VERSION_MAJOR, NDK_VERSION_MINOR };
	pd->pub.header.object_type = NDK_OBJECT_TYPE_PD;
	pd->pub.dispatch = &pd_dispatch;
	st = post_ctrl(ad, &sqe, 0, pd_created, (void (*)(void))completion, context, pd, 0);
	if (st != NDK_STATUS_PENDING)
		free(pd);
	return st;
}
