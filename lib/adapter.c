/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The adapter object: open, progress (retries, CQ notifications, reaping
 * and callbacks through req.c), NOP, query, LAMs, close. No lock and no
 * syscall on progress while there is work.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ndk_priv.h"

void
ndk_adapter_opts_init(struct ndk_adapter_opts *opts, size_t opts_size)
{
	size_t n = opts_size < sizeof(*opts) ? opts_size : sizeof(*opts);

	if (opts == NULL || opts_size < sizeof(opts->opts_size))
		return;
	memset(opts, 0, n);
	opts->opts_size = opts_size;
}

/*
 * ndkd is gone. What it answered stays good (the rings keep it); every
 * request it did not answer gets DEVICE_REMOVED now: control requests
 * through their callbacks, work requests as results on their CQs, armed
 * CQs a notification, closes waiting on it their callback.
 */
static uint32_t
adapter_fail(struct adapter *ad)
{
	uint32_t n = req_fail_all(ad);

	if (!ad->wrs_failed) {
		ad->wrs_failed = true;
		n += qp_fail_all(ad);
		n += cq_notify_gone(ad);
		n += srq_notify(ad, NDK_STATUS_DEVICE_REMOVED);
	}
	if (ad->parked_objs != NULL)
		lobj_resume_parked(ad);
	return n;
}

static uint32_t
adapter_progress(struct ndk_adapter *a, uint32_t max)
{
	struct adapter *ad = to_adapter(a);
	uint32_t done;

	if (ad->gone)
		return adapter_fail(ad); /* callbacks owed since ndkd went, if any */
	if (ad->parked_objs != NULL)
		lobj_resume_parked(ad);
	/* only apps that armed a CQ or SRQ pay for this look (and learn at once that ndkd died) */
	if (ad->n_armed != 0 || ad->n_srq_armed != 0) {
		/* no kick yet does not mean nothing: a recheck may have cleared a flag */
		channel_wait_events(ad, &ad->hung_up);
		cq_notify(ad);
		srq_notify(ad, NDK_STATUS_SUCCESS);
	}
	post_flush(ad);
	done = req_reap(ad, max);
	if (done != 0) {
		ad->idle_polls = 0;
		return done;
	}
	/*
	 * Nothing ready. Look at the socket now and then (a syscall, so not on
	 * every call), and on every call once the daemon has said it is stopping.
	 */
	if (!ad->hung_up && ++ad->idle_polls % NDK_LIB_LIVENESS_EVERY != 0 &&
	    !req_daemon_stopping(ad))
		return 0;
	if (!ad->hung_up && !channel_hung_up(ad))
		return 0;
	/* Completions the daemon wrote before it went are still good. */
	done = req_reap(ad, 0);
	return done + adapter_fail(ad);
}

static void
nop_done(struct adapter *ad, const struct req_slot *req, ndk_status status, const uint64_t *out)
{
	(void)out;
	CALLBACK(ad, ((ndk_fn_request_completion)req->user_cb)(req->context, status));
}

static ndk_status
adapter_nop(struct ndk_adapter *a, uint32_t flags, ndk_fn_request_completion completion,
	    void *context)
{
	struct ndk_abi_sqe sqe = { .opcode = NDK_ABI_OP_NOP };

	if (completion == NULL || (flags & ~NDK_OP_FLAG_DEFER) != 0)
		return NDK_STATUS_INVALID_PARAMETER;
	return post_ctrl(to_adapter(a), &sqe, flags, nop_done, (void (*)(void))completion, context,
			 NULL, 0);
}

static ndk_status
adapter_query_info(struct ndk_adapter *a, struct ndk_adapter_info *out, uint32_t *size)
{
	const struct ndk_abi_adapter_info *i = &to_adapter(a)->info;

	if (size == NULL)
		return NDK_STATUS_INVALID_PARAMETER;
	if (out == NULL || *size < sizeof(*out)) {
		*size = sizeof(*out);
		return NDK_STATUS_BUFFER_TOO_SMALL;
	}
	*size = sizeof(*out);
	*out = (struct ndk_adapter_info){
		.version = { NDK_VERSION_MAJOR, NDK_VERSION_MINOR },
		.vendor_id = i->vendor_id,
		.device_id = i->device_id,
		.max_registration_size = (size_t)i->max_registration_size,
		.max_window_size = (size_t)i->max_window_size,
		.frmr_page_count = i->frmr_page_count,
		.max_initiator_request_sge = i->max_initiator_request_sge,
		.max_receive_request_sge = i->max_receive_request_sge,
		.max_read_request_sge = i->max_read_request_sge,
		.max_transfer_length = i->max_transfer_length,
		.max_inline_data_size = i->max_inline_data_size,
		.max_inbound_read_limit = i->max_inbound_read_limit,
		.max_outbound_read_limit = i->max_outbound_read_limit,
		.max_receive_queue_depth = i->max_receive_queue_depth,
		.max_initiator_queue_depth = i->max_initiator_queue_depth,
		.max_srq_depth = i->max_srq_depth,
		.max_cq_depth = i->max_cq_depth,
		.large_request_threshold = i->large_request_threshold,
		.max_caller_data = i->max_caller_data,
		.max_callee_data = i->max_callee_data,
		.adapter_flags = i->adapter_flags,
		.rdma_technology = i->rdma_technology,
	};
	return NDK_STATUS_SUCCESS;
}

ndk_status
ndk_adapter_query_capabilities(struct ndk_adapter *a, struct ndk_capabilities *caps)
{
	const struct ndk_abi_adapter_info *i;

	if (a == NULL || caps == NULL)
		return NDK_STATUS_INVALID_PARAMETER;
	i = &to_adapter(a)->info;
	*caps = (struct ndk_capabilities){
		.max_qp_count = i->max_qps,
		.max_cq_count = i->max_cqs,
		.max_mr_count = i->max_mrs,
		.max_pd_count = i->max_pds,
		.max_inbound_read_limit = i->max_inbound_read_limit,
		.max_outbound_read_limit = i->max_outbound_read_limit,
		.max_mw_count = i->max_mws,
		.max_srq_count = i->max_srqs,
		.missing_counter_mask = UINT64_MAX,
	};
	return NDK_STATUS_SUCCESS;
}

static ndk_status
adapter_build_lam(struct ndk_adapter *a, void *addr, size_t length,
		  ndk_fn_request_completion completion, void *context,
		  struct ndk_logical_address_mapping *lam, uint32_t *lam_size, uint32_t *fbo)
{
	uint64_t va = (uint64_t)(uintptr_t)addr, first, pages, need, p;

	(void)completion;
	(void)context;
	if (lam_size == NULL || fbo == NULL || length == 0 || va + length < va)
		return NDK_STATUS_INVALID_PARAMETER;
	/* Only memory ndkd has mapped has logical addresses. */
	if (region_lookup(to_adapter(a), va, length) == NULL)
		return NDK_STATUS_INVALID_PARAMETER;
	first = va & ~(uint64_t)(NDK_PAGE_SIZE - 1);
	pages = (va + length - first + NDK_PAGE_SIZE - 1) / NDK_PAGE_SIZE;
	need = sizeof(*lam) + pages * sizeof(lam->adapter_page_array[0]);
	if (pages > UINT32_MAX || need > UINT32_MAX)
		return NDK_STATUS_INVALID_PARAMETER;
	if (lam == NULL || *lam_size < need) {
		*lam_size = (uint32_t)need;
		return NDK_STATUS_BUFFER_TOO_SMALL;
	}
	*lam_size = (uint32_t)need;
	lam->adapter_context = NULL;
	lam->adapter_page_count = (uint32_t)pages;
	lam->reserved = 0;
	/* IOVA = VA: a page's logical address is the app's address of it. */
	for (p = 0; p < pages; p++)
		lam->adapter_page_array[p] = first + p * NDK_PAGE_SIZE;
	*fbo = (uint32_t)(va - first);
	return NDK_STATUS_SUCCESS;
}

static void
adapter_release_lam(struct ndk_adapter *a, struct ndk_logical_address_mapping *lam)
{
	/* A mapping holds nothing: the pages stay mapped as long as the region. */
	(void)a;
	(void)lam;
}

static void
free_adapter(struct adapter *ad)
{
	/* Objects the app left open die with the adapter (ndkd frees its side). */
	pd_free_all(ad);
	cq_free_all(ad);
	srq_free_all(ad);
	listener_free_all(ad);
	mr_ids_fini(ad);
	mem_fini(ad);
	if (ad->wait_fd >= 0)
		close(ad->wait_fd);
	if (ad->event_fd >= 0)
		close(ad->event_fd);
	if (ad->owed_fd >= 0)
		close(ad->owed_fd);
	detach_channel(ad);
	pthread_mutex_destroy(&ad->mem_lock);
	pthread_mutex_destroy(&ad->arena_lock);
	req_fini(ad);
	free(ad);
}

/*
 * NDK's adapter close blocks until every callback has returned. A live daemon
 * answers within microseconds; one that stops answering is given a bounded
 * time before its requests are failed, so close never hangs.
 */
#define CLOSE_DRAIN_NS (10ull * 1000 * 1000 * 1000)

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static ndk_status
adapter_close(struct ndk_object_header *obj, ndk_fn_close_completion cb, void *ctx)
{
	struct adapter *ad = (struct adapter *)obj;
	uint64_t deadline;

	(void)cb;
	(void)ctx;
	if (ad->in_callback != 0)
		return NDK_STATUS_INVALID_DEVICE_STATE;
	deadline = now_ns() + CLOSE_DRAIN_NS;
	/* parked requests wait for other apps, not for ndkd: they are cancelled below */
	while (ad->inflight > ad->parked && !ad->gone) {
		if (adapter_progress(&ad->pub, 0) == 0 && now_ns() > deadline) {
			ad->gone = true;
			break;
		}
	}
	/* What is left: parked requests (CANCELLED), or, after a timeout, unanswered ones. */
	while (ad->inflight > 0)
		req_cancel_all(ad, ad->gone ? NDK_STATUS_IO_TIMEOUT : NDK_STATUS_CANCELLED);
	free_adapter(ad);
	return NDK_STATUS_SUCCESS;
}

static const struct ndk_adapter_dispatch adapter_dispatch = {
	.close = adapter_close,
	.query_extension = no_extension,
	.query_adapter_info = adapter_query_info,
	.create_cq = cq_create,
	.create_pd = pd_create,
	.create_connector = connector_create,
	.create_listener = listener_create,
	.build_lam = adapter_build_lam,
	.release_lam = adapter_release_lam,
	.nop = adapter_nop,
	.progress = adapter_progress,
};

ndk_status
ndk_adapter_open(const char *socket_path, const struct ndk_adapter_opts *opts,
		 struct ndk_adapter **out)
{
	struct ndk_adapter_opts o;
	struct adapter *ad;
	ndk_status st;

	if (out == NULL)
		return NDK_STATUS_INVALID_PARAMETER;
	ndk_adapter_opts_init(&o, sizeof(o));
	if (opts != NULL) {
		if (opts->opts_size <
		    offsetof(struct ndk_adapter_opts, errbuf_len) + sizeof(opts->errbuf_len))
			return NDK_STATUS_INVALID_PARAMETER;
		memcpy(&o, opts, opts->opts_size < sizeof(o) ? opts->opts_size : sizeof(o));
	}
	if (socket_path == NULL)
		socket_path = getenv("NDK_SOCKET");
	if (socket_path == NULL || socket_path[0] == '\0')
		socket_path = NDK_DEFAULT_SOCKET;

	ad = calloc(1, sizeof(*ad));
	if (ad == NULL)
		return NDK_STATUS_NO_MEMORY;
	ad->sock = -1;
	ad->event_fd = -1;
	ad->bell_fd = -1;
	ad->wait_fd = -1;
	ad->owed_fd = -1;
	pthread_mutex_init(&ad->mem_lock, NULL);
	pthread_mutex_init(&ad->arena_lock, NULL);
	st = attach_channel(socket_path, &o, ad);
	if (st != NDK_STATUS_SUCCESS) {
		pthread_mutex_destroy(&ad->mem_lock);
		free(ad);
		return st;
	}
	if (req_init(ad) != NDK_STATUS_SUCCESS) {
		free_adapter(ad);
		return NDK_STATUS_NO_MEMORY;
	}
	ad->pub.header.version.major = NDK_VERSION_MAJOR;
	ad->pub.header.version.minor = NDK_VERSION_MINOR;
	ad->pub.header.object_type = NDK_OBJECT_TYPE_ADAPTER;
	ad->pub.dispatch = &adapter_dispatch;
	*out = &ad->pub;
	return NDK_STATUS_SUCCESS;
}
