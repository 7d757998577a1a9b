/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Requests on the control ring: a slot per request in flight (its index
 * and generation are the cqe's user_data), posting with batched doorbells,
 * reaping completions and running each request's handler exactly once. No
 * lock and no syscall on post or reap.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "ndk_priv.h"

#define REAP_BATCH 32u

ndk_status
req_init(struct adapter *ad)
{
	uint32_t i;

	/*
	 * One slot per completion-ring entry: the daemon can then never find the
	 * completion ring full of answers the client has not asked for.
	 */
	ad->nslots = ad->cq.entries;
	ad->slots = calloc(ad->nslots, sizeof(*ad->slots));
	if (ad->slots == NULL)
		return NDK_STATUS_NO_MEMORY;
	for (i = 0; i < ad->nslots; i++)
		ad->slots[i].next_free = i + 1 < ad->nslots ? i + 1 : UINT32_MAX;
	ad->free_head = 0;
	return NDK_STATUS_SUCCESS;
}

void
req_fini(struct adapter *ad)
{
	free(ad->slots);
	ad->slots = NULL;
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
run_completion(struct adapter *ad, uint32_t i, ndk_status status, const uint64_t *out)
{
	static const uint64_t no_out[6];
	struct req_slot req = ad->slots[i];

	/* Free the slot first: the callback may post the next request. */
	slot_put(ad, i);
	req.handler(ad, &req, status, out != NULL ? out : no_out);
}

bool
req_daemon_stopping(const struct adapter *ad)
{
	const _Atomic uint32_t *kstate = (const _Atomic uint32_t *)&ad->hdr->kstate;

	return atomic_load_explicit(kstate, memory_order_acquire) == NDK_ABI_STATE_SHUTDOWN;
}

/*
 * The daemon is gone: whatever it completed is already reaped, so every
 * request still in flight gets DEVICE_REMOVED now. Nothing PENDING is left
 * without its callback.
 */
uint32_t
req_fail_all(struct adapter *ad)
{
	uint32_t n = ad->inflight;

	ad->gone = true;
	req_cancel_all(ad, NDK_STATUS_DEVICE_REMOVED);
	return n;
}

uint32_t
req_reap(struct adapter *ad, uint32_t max)
{
	struct ndk_abi_cqe batch[REAP_BATCH];
	uint32_t n, i, done = 0;

	while (max == 0 || done < max) {
		n = ndk_ring_cons_ready(&ad->cq, max != 0 && max - done < REAP_BATCH ? max - done
										     : REAP_BATCH);
		if (n == 0)
			break;
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
			run_completion(ad, idx, batch[i].status, batch[i].out);
			done++;
		}
	}
	return done;
}

void
post_flush(struct adapter *ad)
{
	if (ad->unpublished != 0) {
		ndk_ring_prod_publish(&ad->sq);
		ad->unpublished = 0;
		bell_ring(ad);
	}
}

ndk_status
post_ctrl(struct adapter *ad, const struct ndk_abi_sqe *sqe, uint32_t flags, req_handler handler,
	  void (*user_cb)(void), void *context, void *obj, uintptr_t arg)
{
	struct ndk_abi_sqe *slot;
	bool broken = false;
	uint32_t i;

	if (ad->gone || req_daemon_stopping(ad))
		return NDK_STATUS_DEVICE_REMOVED;
	if (ad->free_head == UINT32_MAX || ndk_ring_prod_space(&ad->sq, &broken) == 0) {
		if (broken) {
			/* what is in flight fails at the next progress, not inside this call */
			ad->gone = true;
			return NDK_STATUS_DEVICE_REMOVED;
		}
		post_flush(ad);
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	}
	i = slot_get(ad);
	ad->slots[i].handler = handler;
	ad->slots[i].user_cb = user_cb;
	ad->slots[i].context = context;
	ad->slots[i].obj = obj;
	ad->slots[i].arg = arg;
	slot = ndk_ring_prod_next(&ad->sq);
	memcpy(slot, sqe, sizeof(*slot));
	slot->user_data = ((uint64_t)ad->slots[i].gen << 32) | i;
	ad->unpublished++;
	if ((flags & NDK_OP_FLAG_DEFER) == 0)
		post_flush(ad);
	return NDK_STATUS_PENDING;
}

void
req_cancel_all(struct adapter *ad, ndk_status status)
{
	uint32_t i;

	for (i = 0; i < ad->nslots && ad->inflight > 0; i++) {
		if (ad->slots[i].busy)
			run_completion(ad, i, status, NULL);
	}
}
