/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Shared receive queues. Receives go into a ring in the adapter's arena, as
 * a QP's do, each padded to the same number of slots so ndkd can count the
 * receives queued; ndkd flags the ring and kicks the wake socket when they fall
 * below the armed threshold, and progress runs the notification.
 */
#include <stddef.h>
#include <stdlib.h>

#include "ndk_priv.h"

static const struct ndk_srq_dispatch srq_dispatch;

static void
srq_disarm(struct srq *srq)
{
	if (srq->armed) {
		srq->armed = false;
		srq->o.ad->n_srq_armed--;
	}
}

static void
srq_arm(struct srq *srq)
{
	if (!srq->armed && srq->notify != NULL) {
		srq->armed = true;
		srq->o.ad->n_srq_armed++;
	}
}

static void
srq_unlink_free(struct srq *srq)
{
	struct adapter *ad = srq->o.ad;

	srq_disarm(srq);
	if (ad->srqs == srq)
		ad->srqs = srq->next;
	else if (srq->prev != NULL)
		srq->prev->next = srq->next;
	if (srq->next != NULL)
		srq->next->prev = srq->prev;
	ndk_mem_free(&ad->pub, srq->mem);
	free(srq);
}

void
srq_free_all(struct adapter *ad)
{
	struct srq *srq = ad->srqs, *next;

	/* their PDs are freed already (pd_free_all): nothing to put back */
	for (; srq != NULL; srq = next) {
		next = srq->next;
		lobj_abandon(&srq->o);
		srq_unlink_free(srq);
	}
}

uint32_t
srq_notify(struct adapter *ad, ndk_status status)
{
	struct srq *srq, *next;
	uint32_t n = 0;

	for (srq = ad->srqs; srq != NULL && ad->n_srq_armed > 0; srq = next) {
		next = srq->next;
		if (!srq->armed)
			continue;
		if (status == NDK_STATUS_SUCCESS &&
		    (atomic_exchange_explicit(srq->ring.kflags, 0, memory_order_acq_rel) &
		     NDK_ABI_SRQ_NOTIFIED) == 0)
			continue;
		srq_disarm(srq);
		CALLBACK(ad, srq->notify(srq->notify_ctx, status));
		n++;
	}
	return n;
}

/* Receives queued, as far as the ring shows (ndkd hands slots back as it takes them). */
static uint32_t
srq_queued(struct srq *srq)
{
	bool broken = false;
	uint32_t space = ndk_ring_prod_space_n(&srq->ring, srq->ring.entries, &broken);

	/* a consumer index that lies: report the ring full, post nothing more */
	return broken ? srq->capacity : (srq->ring.entries - space) / srq->slots;
}

static ndk_status
srq_receive(struct ndk_srq *s, void *ctx, const struct ndk_sge *sgl, uint32_t n_sge)
{
	struct srq *srq = (struct srq *)s;

	if (srq->o.ad->gone)
		return NDK_STATUS_DEVICE_REMOVED;
	if (n_sge > srq->max_rsge || (n_sge != 0 && sgl == NULL))
		return NDK_STATUS_INVALID_PARAMETER;
	if (srq_queued(srq) >= srq->depth)
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	recv_post(&srq->ring, ctx, sgl, n_sge, srq->slots);
	bell_ring(srq->o.ad);
	return NDK_STATUS_SUCCESS;
}

static void
modify_done(struct adapter *ad, const struct req_slot *req, ndk_status status, const uint64_t *out)
{
	struct srq *srq = req->obj;

	(void)out;
	/* answered in order, before any close of the SRQ: it is still here */
	if (status == NDK_STATUS_SUCCESS && req->arg != 0)
		srq->depth = (uint32_t)req->arg;
	CALLBACK(ad, ((ndk_fn_request_completion)req->user_cb)(req->context, status));
}

static ndk_status
srq_modify(struct ndk_srq *s, uint32_t depth, uint32_t threshold,
	   ndk_fn_request_completion completion, void *context)
{
	struct srq *srq = (struct srq *)s;
	struct adapter *ad = srq->o.ad;
	struct ndk_abi_sqe sqe = { .opcode = NDK_ABI_OP_SRQ_MODIFY, .handle = srq->o.handle };
	ndk_status st;

	if (completion == NULL || depth > ad->info.max_srq_depth || threshold > srq->capacity)
		return NDK_STATUS_INVALID_PARAMETER;
	/* the ring was sized at create (<ndk/srq.h>) */
	if (depth > srq->capacity)
		return NDK_STATUS_NOT_SUPPORTED;
	sqe.args[0] = threshold;
	st = post_ctrl(ad, &sqe, 0, modify_done, (void (*)(void))completion, context, srq, depth);
	/* ndkd may notify before its answer comes: look for it from now on */
	if (st == NDK_STATUS_PENDING && threshold != 0)
		srq_arm(srq);
	return st;
}

static ndk_status
srq_get_affinity(struct ndk_srq *s, struct ndk_group_affinity *affinity)
{
	(void)s, (void)affinity;
	return NDK_STATUS_NOT_SUPPORTED;
}

static void
srq_release(struct lobj *o)
{
	struct srq *srq = (struct srq *)((char *)o - offsetof(struct srq, o));
	struct pd *pd = srq->pd;

	srq_unlink_free(srq);
	lobj_put(&pd->o); /* the PD may finish closing */
}

static ndk_status
srq_close(struct ndk_object_header *obj, ndk_fn_close_completion completion, void *context)
{
	/* NDK: an SRQ closes after the QPs that use it */
	return lobj_close(&((struct srq *)obj)->o, completion, context);
}

static const struct ndk_srq_dispatch srq_dispatch = {
	.close = srq_close,
	.query_extension = no_extension,
	.modify = srq_modify,
	.get_affinity = srq_get_affinity,
	.receive = srq_receive,
};

static void
srq_created(struct adapter *ad, const struct req_slot *req, ndk_status status, const uint64_t *out)
{
	ndk_fn_create_completion cb = (ndk_fn_create_completion)req->user_cb;
	struct srq *srq = req->obj;
	struct pd *pd = srq->pd;

	if (status != NDK_STATUS_SUCCESS) {
		ndk_mem_free(&ad->pub, srq->mem);
		free(srq);
		CALLBACK(ad, cb(req->context, status, NULL));
		lobj_put(&pd->o);
		return;
	}
	srq->o.handle = (uint32_t)out[0];
	srq->next = ad->srqs;
	if (ad->srqs != NULL)
		ad->srqs->prev = srq;
	ad->srqs = srq;
	if (req->arg != 0)
		srq_arm(srq); /* create's threshold */
	CALLBACK(ad, cb(req->context, NDK_STATUS_SUCCESS, &srq->pub.header));
}

ndk_status
srq_create(struct ndk_pd *p, uint32_t depth, uint32_t max_rsge, uint32_t threshold,
	   ndk_fn_srq_notification notification, void *notification_context,
	   ndk_fn_create_completion completion, void *context, struct ndk_srq **out)
{
	struct pd *pd = (struct pd *)p;
	struct adapter *ad = pd->ad;
	struct ndk_abi_sqe sqe = { .opcode = NDK_ABI_OP_SRQ_CREATE, .handle = pd->o.handle };
	uint32_t slots = ndk_abi_wqe_slots(max_rsge), entries;
	struct srq *srq;
	ndk_status st;

	(void)out; /* always PENDING: the object comes to the completion */
	if (ad->info.max_srq_depth == 0)
		return NDK_STATUS_NOT_SUPPORTED;
	entries = ndk_abi_queue_entries(depth, slots);
	if (completion == NULL || depth == 0 || depth > ad->info.max_srq_depth ||
	    max_rsge > ad->info.max_receive_request_sge || max_rsge > NDK_LIB_MAX_SGE ||
	    threshold > depth || entries == 0 || pd->o.closing)
		return NDK_STATUS_INVALID_PARAMETER;
	srq = calloc(1, sizeof(*srq));
	if (srq == NULL)
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	srq->pd = pd;
	lobj_init(&srq->o, ad, NDK_ABI_OP_SRQ_DESTROY, srq_release, NULL);
	srq->depth = depth;
	srq->capacity = entries / slots;
	srq->max_rsge = max_rsge;
	srq->slots = slots;
	srq->notify = notification;
	srq->notify_ctx = notification_context;
	srq->mem = ring_alloc(ad, entries, &srq->ring);
	ndk_ring_set_stamp_wr(&srq->ring);
	if (srq->mem == NULL) {
		free(srq);
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	}
	srq->pub.header.version = (struct ndk_version){ NDK_VERSION_MAJOR, NDK_VERSION_MINOR };
	srq->pub.header.object_type = NDK_OBJECT_TYPE_SRQ;
	srq->pub.dispatch = &srq_dispatch;
	sqe.args[0] = (uint64_t)(uintptr_t)srq->mem;
	sqe.args[1] = entries;
	sqe.args[2] = max_rsge;
	sqe.args[3] = threshold;
	st = post_ctrl(ad, &sqe, 0, srq_created, (void (*)(void))completion, context, srq,
		       threshold);
	if (st != NDK_STATUS_PENDING) {
		ndk_mem_free(&ad->pub, srq->mem);
		free(srq);
		return st;
	}
	lobj_hold(&pd->o); /* an SRQ is a successor of its PD */
	return NDK_STATUS_PENDING;
}
