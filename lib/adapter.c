/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The adapter object: request slots, posting to the control ring, reaping
 * completions and running callbacks. No lock and no syscall on post or reap.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ndk_priv.h"

#define REAP_BATCH 32u

static inline struct adapter *
to_adapter(struct ndk_adapter *a)
{
	return (struct adapter *)a;
}

void
ndk_adapter_opts_init(struct ndk_adapter_opts *opts, size_t opts_size)
{
	size_t n = opts_size < sizeof(*opts) ? opts_size : sizeof(*opts);

	if (opts == NULL || opts_size < sizeof(opts->opts_size))
		return;
	memset(opts, 0, n);
	opts->opts_size = opts_size;
}

static uint32_t
slot_get(struct adapter *ad)
{
	uint32_t i = ad->free_head;

	ad->free_head = ad->slots[i].next_free;
	ad->slots[i].busy = true;
	ad->inflight++;
	return i;
}

static void
slot_put(struct adapter *ad, uint32_t i)
{
	ad->slots[i].busy = false;
	ad->slots[i].gen++;
	ad->slots[i].next_free = ad->free_head;
	ad->free_head = i;
	ad->inflight--;
}

static void
run_completion(struct adapter *ad, uint32_t i, ndk_status status)
{
	ndk_fn_request_completion cb = ad->slots[i].completion;
	void *ctx = ad->slots[i].context;

	/* Free the slot first: the callback may post the next request. */
	slot_put(ad, i);
	ad->in_callback = true;
	cb(ctx, status);
	ad->in_callback = false;
}

static bool
daemon_stopping(const struct adapter *ad)
{
	const _Atomic uint32_t *kstate = (const _Atomic uint32_t *)&ad->hdr->kstate;

	return atomic_load_explicit(kstate, memory_order_acquire) == NDK_ABI_STATE_SHUTDOWN;
}

/*
 * The daemon is gone: whatever it completed is already reaped, so every
 * request still in flight gets DEVICE_REMOVED now. Nothing PENDING is left
 * without its callback.
 */
static uint32_t
fail_inflight(struct adapter *ad)
{
	uint32_t i, n = 0;

	ad->gone = true;
	for (i = 0; i < ad->nslots && ad->inflight > 0; i++) {
		if (ad->slots[i].busy) {
			run_completion(ad, i, NDK_STATUS_DEVICE_REMOVED);
			n++;
		}
	}
	return n;
}

static uint32_t
reap(struct adapter *ad, uint32_t max, bool *broken)
{
	struct ndk_abi_cqe batch[REAP_BATCH];
	uint32_t n, i, done = 0;

	while (max == 0 || done < max) {
		n = ndk_ring_cons_avail(&ad->cq, broken);
		if (n == 0)
			break;
		if (n > REAP_BATCH)
			n = REAP_BATCH;
		if (max != 0 && n > max - done)
			n = max - done;
		for (i = 0; i < n; i++)
			memcpy(&batch[i], ndk_ring_cons_next(&ad->cq), sizeof(batch[i]));
		ndk_ring_cons_release(&ad->cq);
		for (i = 0; i < n; i++) {
			uint32_t idx = (uint32_t)batch[i].user_data;
			uint32_t gen = (uint32_t)(batch[i].user_data >> 32);

			if (idx >= ad->nslots || !ad->slots[idx].busy ||
			    ad->slots[idx].gen != gen) {
				ad->stray_completions++;
				continue;
			}
			run_completion(ad, idx, batch[i].status);
			done++;
		}
	}
	return done;
}

static void
publish(struct adapter *ad)
{
	if (ad->unpublished != 0) {
		ndk_ring_prod_publish(&ad->sq);
		ad->unpublished = 0;
	}
}

static uint32_t
adapter_progress(struct ndk_adapter *a, uint32_t max)
{
	struct adapter *ad = to_adapter(a);
	bool broken = false;
	uint32_t done;

	if (ad->gone)
		return 0;
	publish(ad);
	done = reap(ad, max, &broken);
	if (broken)
		return done + fail_inflight(ad);
	if (done != 0) {
		ad->idle_polls = 0;
		return done;
	}
	/*
	 * Nothing ready. Look at the socket now and then (a syscall, so not on
	 * every call), and on every call once the daemon has said it is stopping.
	 */
	if (++ad->idle_polls % NDK_LIB_LIVENESS_EVERY != 0 && !daemon_stopping(ad))
		return 0;
	if (!channel_hung_up(ad))
		return 0;
	/* Completions the daemon wrote before it went are still good. */
	done = reap(ad, 0, &broken);
	return done + fail_inflight(ad);
}

static ndk_status
post_ctrl(struct adapter *ad, const struct ndk_abi_sqe *sqe, uint32_t flags,
	  ndk_fn_request_completion completion, void *context)
{
	struct ndk_abi_sqe *slot;
	bool broken = false;
	uint32_t i;

	if (ad->gone || daemon_stopping(ad))
		return NDK_STATUS_DEVICE_REMOVED;
	if (ad->free_head == UINT32_MAX || ndk_ring_prod_space(&ad->sq, &broken) == 0) {
		if (broken) {
			fail_inflight(ad);
			return NDK_STATUS_DEVICE_REMOVED;
		}
		publish(ad);
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	}
	i = slot_get(ad);
	ad->slots[i].completion = completion;
	ad->slots[i].context = context;
	slot = ndk_ring_prod_next(&ad->sq);
	memcpy(slot, sqe, sizeof(*slot));
	slot->user_data = ((uint64_t)ad->slots[i].gen << 32) | i;
	ad->unpublished++;
	if ((flags & NDK_OP_FLAG_DEFER) == 0)
		publish(ad);
	return NDK_STATUS_PENDING;
}

static ndk_status
adapter_nop(struct ndk_adapter *a, uint32_t flags, ndk_fn_request_completion completion,
	    void *context)
{
	struct ndk_abi_sqe sqe = { .opcode = NDK_ABI_OP_NOP };

	if (completion == NULL || (flags & ~NDK_OP_FLAG_DEFER) != 0)
		return NDK_STATUS_INVALID_PARAMETER;
	return post_ctrl(to_adapter(a), &sqe, flags, completion, context);
}

static ndk_status
adapter_query_extension(struct ndk_object_header *obj, const struct ndk_guid *id,
			struct ndk_version version, struct ndk_extension_interface *ext)
{
	(void)obj;
	(void)id;
	(void)version;
	if (ext != NULL)
		ext->dispatch = NULL;
	/* No extension interfaces are defined yet. */
	return NDK_STATUS_NOT_SUPPORTED;
}

static void
free_adapter(struct adapter *ad)
{
	detach_channel(ad);
	free(ad->slots);
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
	if (ad->in_callback)
		return NDK_STATUS_INVALID_DEVICE_STATE;
	deadline = now_ns() + CLOSE_DRAIN_NS;
	while (ad->inflight > 0 && !ad->gone) {
		if (adapter_progress(&ad->pub, 0) == 0 && now_ns() > deadline) {
			ad->gone = true;
			break;
		}
	}
	/* Only after a timeout: the daemon never answered these. */
	while (ad->inflight > 0) {
		uint32_t i;

		for (i = 0; i < ad->nslots; i++) {
			if (ad->slots[i].busy)
				run_completion(ad, i, NDK_STATUS_IO_TIMEOUT);
		}
	}
	free_adapter(ad);
	return NDK_STATUS_SUCCESS;
}

static const struct ndk_adapter_dispatch adapter_dispatch = {
	.close = adapter_close,
	.query_extension = adapter_query_extension,
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
	uint32_t i;

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
	st = attach_channel(socket_path, &o, ad);
	if (st != NDK_STATUS_SUCCESS) {
		free(ad);
		return st;
	}
	/*
	 * One slot per completion-ring entry: the daemon can then never find the
	 * completion ring full of answers the client has not asked for.
	 */
	ad->nslots = ad->cq.entries;
	ad->slots = calloc(ad->nslots, sizeof(*ad->slots));
	if (ad->slots == NULL) {
		free_adapter(ad);
		return NDK_STATUS_NO_MEMORY;
	}
	for (i = 0; i < ad->nslots; i++)
		ad->slots[i].next_free = i + 1 < ad->nslots ? i + 1 : UINT32_MAX;
	ad->free_head = 0;
	ad->pub.header.version.major = NDK_VERSION_MAJOR;
	ad->pub.header.version.minor = NDK_VERSION_MINOR;
	ad->pub.header.object_type = NDK_OBJECT_TYPE_ADAPTER;
	ad->pub.dispatch = &adapter_dispatch;
	*out = &ad->pub;
	return NDK_STATUS_SUCCESS;
}
