/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Completion queues. ndkd writes results into a ring in the adapter's arena;
 * reading them is a load-acquire of the producer index and a copy, no syscall.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "ndk_priv.h"

/* Results reach the app with ndkd's type values as they are. */
_Static_assert(NDK_OP_TYPE_RECEIVE == NDK_ABI_RESULT_RECEIVE &&
		       NDK_OP_TYPE_RECEIVE_AND_INVALIDATE == NDK_ABI_RESULT_RECEIVE_INVALIDATE &&
		       NDK_OP_TYPE_SEND == NDK_ABI_RESULT_SEND &&
		       NDK_OP_TYPE_FAST_REGISTER == NDK_ABI_RESULT_FAST_REGISTER &&
		       NDK_OP_TYPE_BIND == NDK_ABI_RESULT_BIND &&
		       NDK_OP_TYPE_INVALIDATE == NDK_ABI_RESULT_INVALIDATE &&
		       NDK_OP_TYPE_READ == NDK_ABI_RESULT_READ &&
		       NDK_OP_TYPE_WRITE == NDK_ABI_RESULT_WRITE,
	       "NDK_OP_TYPE_* and the ABI's result types");

static const struct ndk_cq_dispatch cq_dispatch;

void *
ring_alloc(struct adapter *ad, uint32_t entries, struct ndk_ring *r)
{
	struct ndk_abi_ring_desc d = ndk_abi_ring_standalone(entries);
	size_t bytes = ndk_abi_ring_bytes(entries);
	void *mem = ndk_mem_alloc(&ad->pub, bytes, NDK_ABI_CACHE_LINE);

	if (mem == NULL)
		return NULL;
	memset(mem, 0, bytes);
	ndk_ring_attach(r, mem, &d);
	return mem;
}

static void
cq_unlink_free(struct cq *cq)
{
	struct adapter *ad = cq->ad;

	if (cq->armed)
		ad->n_armed--;
	if (ad->cqs == cq)
		ad->cqs = cq->next;
	else if (cq->prev != NULL)
		cq->prev->next = cq->next;
	if (cq->next != NULL)
		cq->next->prev = cq->prev;
	ndk_mem_free(&ad->pub, cq->mem);
	free(cq->lost);
	free(cq);
}

void
cq_free_all(struct adapter *ad)
{
	struct cq *cq = ad->cqs, *next;

	for (; cq != NULL; cq = next) {
		next = cq->next;
		lobj_abandon(&cq->o);
		cq_unlink_free(cq);
	}
}

/*
 * A fast register that did not happen leaves the MR with the token it had:
 * ndkd says which (type-specific output: the token the request named << 32
 * | the one in force). Only if the app has not posted another since.
 */
static void
fast_register_failed(struct adapter *ad, struct ndk_abi_result *r)
{
	struct mr *mr = mr_by_id(ad, r->cookie);

	if (mr != NULL && r->type_specific != 0 && mr->token == (uint32_t)(r->type_specific >> 32))
		mr->token = (uint32_t)r->type_specific;
	r->type_specific = (uint32_t)r->type_specific;
}

static void
give(const struct ndk_abi_result *r, struct ndk_result *res, struct ndk_result_ex *res_ex,
     uint32_t i)
{
	if (res_ex != NULL) {
		res_ex[i] = (struct ndk_result_ex){
			.status = r->status,
			.bytes_transferred = r->bytes,
			.qp_context = (void *)(uintptr_t)r->qp_context,
			.request_context = (void *)(uintptr_t)r->request_context,
			.type = r->type,
			.type_specific_completion_output = (uintptr_t)r->type_specific,
		};
	} else {
		res[i] = (struct ndk_result){
			.status = r->status,
			.bytes_transferred = r->bytes,
			.qp_context = (void *)(uintptr_t)r->qp_context,
			.request_context = (void *)(uintptr_t)r->request_context,
		};
	}
}

/* After the ring: what ndkd never answered, once it is gone. */
static uint32_t
cq_reap_lost(struct cq *cq, struct ndk_result *res, struct ndk_result_ex *res_ex, uint32_t n)
{
	uint32_t i = 0;

	while (i < n && cq->lost_read < cq->n_lost)
		give(&cq->lost[cq->lost_read++], res, res_ex, i++);
	return i;
}

static uint32_t
cq_reap(struct cq *cq, struct ndk_result *res, struct ndk_result_ex *res_ex, uint32_t n)
{
	uint32_t avail, i;

	/* no array, no results taken: they stay for a call that can hold them */
	if (res == NULL && res_ex == NULL)
		return 0;
	avail = ndk_ring_cons_ready(&cq->ring, n);
	if (avail == 0 && cq->lost_read < cq->n_lost)
		return cq_reap_lost(cq, res, res_ex, n);
	for (i = 0; i < avail; i++) {
		struct ndk_abi_result r;

		memcpy(&r, ndk_ring_cons_next(&cq->ring), sizeof(r));
		if (r.type == NDK_ABI_RESULT_FAST_REGISTER && r.status != NDK_STATUS_SUCCESS)
			fast_register_failed(cq->ad, &r);
		give(&r, res, res_ex, i);
	}
	if (avail != 0)
		ndk_ring_cons_release(&cq->ring);
	return avail;
}

static uint32_t
cq_get_results(struct ndk_cq *c, struct ndk_result *results, uint32_t n)
{
	return cq_reap((struct cq *)c, results, NULL, n);
}

static uint32_t
cq_get_results_ex(struct ndk_cq *c, struct ndk_result_ex *results, uint32_t n)
{
	return cq_reap((struct cq *)c, NULL, results, n);
}

static ndk_status
cq_resize(struct ndk_cq *c, uint32_t depth, ndk_fn_request_completion completion, void *context)
{
	(void)c, (void)depth, (void)completion, (void)context;
	return NDK_STATUS_NOT_SUPPORTED;
}

/*
 * Arm: ask ndkd to kick the adapter's wake socket at the next result. Set the
 * flag, fence, recheck: a result published meanwhile is seen here, or ndkd
 * sees the flag (it fences between publishing and reading it). Seen here,
 * the notification is owed at once: the owed eventfd makes the app's fd
 * readable, as ndkd's kick would have (an app that sleeps on it right after
 * arming must wake; it stays so until progress runs the notification).
 */
static void
cq_arm(struct ndk_cq *c, uint32_t trigger)
{
	struct cq *cq = (struct cq *)c;

	(void)trigger; /* errors-only and solicited-only arm as "any" */
	if (cq->armed || cq->notify == NULL || ndk_adapter_event_fd(&cq->ad->pub) < 0)
		return;
	cq->armed = true;
	cq->ad->n_armed++;
	atomic_store_explicit(cq->ring.kflags, NDK_ABI_CQ_ARMED, memory_order_release);
	atomic_thread_fence(memory_order_seq_cst);
	if (ndk_ring_cons_ready(&cq->ring, 1) != 0) {
		atomic_store_explicit(cq->ring.kflags, 0, memory_order_relaxed);
		(void)eventfd_write(cq->ad->owed_fd, 1);
	}
}

/*
 * Notify armed CQs with status: those ndkd kicked (it cleared ARMED), or,
 * once ndkd is gone (DEVICE_REMOVED), every armed one.
 */
static uint32_t
notify_armed(struct adapter *ad, ndk_status status)
{
	struct cq *cq, *next;
	uint32_t n = 0;

	for (cq = ad->cqs; cq != NULL && ad->n_armed > 0; cq = next) {
		next = cq->next;
		if (!cq->armed || (status == NDK_STATUS_SUCCESS &&
				   (atomic_load_explicit(cq->ring.kflags, memory_order_acquire) &
				    NDK_ABI_CQ_ARMED)))
			continue;
		cq->armed = false;
		ad->n_armed--;
		CALLBACK(ad, cq->notify(cq->notify_ctx, status));
		n++;
	}
	return n;
}

uint32_t
cq_notify(struct adapter *ad)
{
	return notify_armed(ad, NDK_STATUS_SUCCESS);
}

uint32_t
cq_notify_gone(struct adapter *ad)
{
	return notify_armed(ad, NDK_STATUS_DEVICE_REMOVED);
}

bool
cq_add_lost(struct cq *cq, const struct ndk_abi_result *r)
{
	if ((cq->n_lost & (cq->n_lost - 1)) == 0) { /* 0, 1, 2, 4...: grow */
		struct ndk_abi_result *a =
			realloc(cq->lost, (cq->n_lost ? 2 * cq->n_lost : 16) * sizeof(*a));

		if (a == NULL)
			return false;
		cq->lost = a;
	}
	cq->lost[cq->n_lost++] = *r;
	return true;
}

static void
cq_release(struct lobj *o)
{
	cq_unlink_free((struct cq *)((char *)o - offsetof(struct cq, o)));
}

static ndk_status
cq_close(struct ndk_object_header *obj, ndk_fn_close_completion completion, void *context)
{
	/* NDK: a CQ closes after the QPs that use it */
	return lobj_close(&((struct cq *)obj)->o, completion, context);
}

static const struct ndk_cq_dispatch cq_dispatch = {
	.close = cq_close,
	.query_extension = no_extension,
	.resize = cq_resize,
	.arm = cq_arm,
	.get_results = cq_get_results,
	.get_results_ex = cq_get_results_ex,
};

static void
cq_created(struct adapter *ad, const struct req_slot *req, ndk_status status, const uint64_t *out)
{
	ndk_fn_create_completion cb = (ndk_fn_create_completion)req->user_cb;
	struct cq *cq = req->obj;

	if (status != NDK_STATUS_SUCCESS) {
		ndk_mem_free(&ad->pub, cq->mem);
		free(cq);
		CALLBACK(ad, cb(req->context, status, NULL));
		return;
	}
	cq->o.handle = (uint32_t)out[0];
	cq->next = ad->cqs;
	if (ad->cqs != NULL)
		ad->cqs->prev = cq;
	ad->cqs = cq;
	CALLBACK(ad, cb(req->context, NDK_STATUS_SUCCESS, &cq->pub.header));
}

ndk_status
cq_create(struct ndk_adapter *a, uint32_t depth, ndk_fn_cq_notification notification,
	  void *notification_context, ndk_fn_create_completion completion, void *context,
	  struct ndk_cq **out)
{
	struct adapter *ad = to_adapter(a);
	struct ndk_abi_sqe sqe = { .opcode = NDK_ABI_OP_CQ_CREATE };
	struct cq *cq;
	ndk_status st;
	uint32_t entries;

	(void)out; /* always PENDING: the object comes to the completion */
	entries = ndk_abi_queue_entries(depth, 1);
	if (completion == NULL || depth == 0 || depth > ad->info.max_cq_depth || entries == 0)
		return NDK_STATUS_INVALID_PARAMETER;
	cq = calloc(1, sizeof(*cq));
	if (cq == NULL)
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	cq->ad = ad;
	lobj_init(&cq->o, ad, NDK_ABI_OP_CQ_DESTROY, cq_release, NULL);
	cq->notify = notification;
	cq->notify_ctx = notification_context;
	cq->mem = ring_alloc(ad, entries, &cq->ring);
	ndk_ring_set_stamp(&cq->ring, NDK_ABI_RESULT_STAMP);
	if (cq->mem == NULL) {
		free(cq);
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	}
	cq->pub.header.version = (struct ndk_version){ NDK_VERSION_MAJOR, NDK_VERSION_MINOR };
	cq->pub.header.object_type = NDK_OBJECT_TYPE_CQ;
	cq->pub.dispatch = &cq_dispatch;
	sqe.args[0] = (uint64_t)(uintptr_t)cq->mem;
	sqe.args[1] = entries;
	st = post_ctrl(ad, &sqe, 0, cq_created, (void (*)(void))completion, context, cq, 0);
	if (st != NDK_STATUS_PENDING) {
		ndk_mem_free(a, cq->mem);
		free(cq);
	}
	return st;
}
