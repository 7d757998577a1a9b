/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test helpers that turn libndk's asynchronous calls into synchronous ones:
 * call, and if the answer is PENDING drive progress until the one callback
 * came. Each helper also checks the async contract on the way: no callback
 * for SUCCESS or an error, exactly one for PENDING.
 */
#ifndef NDK_SYNC_H
#define NDK_SYNC_H

#include <ndk/ndk.h>

#include "testlib.h"

struct wait {
	int calls;
	ndk_status status;
	struct ndk_object_header *obj;
};

static inline void
w_req(void *ctx, ndk_status st)
{
	struct wait *w = ctx;

	w->calls++;
	w->status = st;
}

static inline void
w_create(void *ctx, ndk_status st, struct ndk_object_header *obj)
{
	struct wait *w = ctx;

	w->calls++;
	w->status = st;
	w->obj = obj;
}

static inline void
w_close(void *ctx)
{
	((struct wait *)ctx)->calls++;
}

/* Drive progress until w has had a callback (5 s at most). */
static inline bool
w_wait(struct ndk_adapter *ad, struct wait *w)
{
	uint64_t deadline = t_deadline_ms(5000);

	while (w->calls == 0 && t_now_ns() < deadline)
		ndk_adapter_progress(ad, 0);
	return w->calls == 1;
}

/*
 * The status a call ended with: its own if not PENDING (then no callback may
 * come), else its callback's (which must come exactly once).
 */
static inline ndk_status
w_finish(struct ndk_adapter *ad, struct wait *w, ndk_status st)
{
	int i;

	if (st != NDK_STATUS_PENDING) {
		for (i = 0; i < 100; i++)
			ndk_adapter_progress(ad, 0);
		CHECK(w->calls == 0, "%s came with a callback", ndk_status_str(st));
		return st;
	}
	CHECK(w_wait(ad, w), "PENDING got %d callbacks", w->calls);
	for (i = 0; i < 100; i++)
		ndk_adapter_progress(ad, 0);
	CHECK(w->calls == 1, "exactly one callback, got %d", w->calls);
	return w->status;
}

static inline ndk_status
sync_pd(struct ndk_adapter *ad, struct ndk_pd **pd)
{
	struct wait w = { 0 };
	ndk_status st = w_finish(ad, &w, ndk_pd_create(ad, w_create, &w, pd));

	if (st == NDK_STATUS_SUCCESS)
		*pd = (struct ndk_pd *)w.obj;
	return st;
}

static inline ndk_status
sync_mr(struct ndk_adapter *ad, struct ndk_pd *pd, bool fast_register, struct ndk_mr **mr)
{
	struct wait w = { 0 };
	ndk_status st = ndk_mr_create(pd, fast_register, w_create, &w, mr);

	if (st == NDK_STATUS_PENDING) {
		st = w_finish(ad, &w, st);
		if (st == NDK_STATUS_SUCCESS)
			*mr = (struct ndk_mr *)w.obj;
		return st;
	}
	return w_finish(ad, &w, st);
}

static inline ndk_status
sync_register(struct ndk_adapter *ad, struct ndk_mr *mr, void *addr, size_t len, uint32_t flags)
{
	struct wait w = { 0 };

	return w_finish(ad, &w, ndk_mr_register(mr, addr, len, flags, w_req, &w));
}

static inline ndk_status
sync_deregister(struct ndk_adapter *ad, struct ndk_mr *mr)
{
	struct wait w = { 0 };

	return w_finish(ad, &w, ndk_mr_deregister(mr, w_req, &w));
}

static inline ndk_status
sync_init_fr(struct ndk_adapter *ad, struct ndk_mr *mr, uint32_t pages, bool remote)
{
	struct wait w = { 0 };

	return w_finish(ad, &w, ndk_mr_initialize_fast_register(mr, pages, remote, w_req, &w));
}

/* A close's outcome: SUCCESS (closed inline) or its completion came: both are SUCCESS here. */
static inline ndk_status
sync_closed(struct ndk_adapter *ad, struct wait *w, ndk_status st)
{
	if (st == NDK_STATUS_PENDING)
		return w_wait(ad, w) ? NDK_STATUS_SUCCESS : NDK_STATUS_IO_TIMEOUT;
	return w_finish(ad, w, st);
}

static inline ndk_status
sync_close_mr(struct ndk_adapter *ad, struct ndk_mr *mr)
{
	struct wait w = { 0 };

	return sync_closed(ad, &w, ndk_mr_close(mr, w_close, &w));
}

static inline ndk_status
sync_close_pd(struct ndk_adapter *ad, struct ndk_pd *pd)
{
	struct wait w = { 0 };

	return sync_closed(ad, &w, ndk_pd_close(pd, w_close, &w));
}

static inline ndk_status
sync_close_cq(struct ndk_adapter *ad, struct ndk_cq *cq)
{
	struct wait w = { 0 };

	return sync_closed(ad, &w, ndk_cq_close(cq, w_close, &w));
}

static inline ndk_status
sync_close_qp(struct ndk_adapter *ad, struct ndk_qp *qp)
{
	struct wait w = { 0 };

	return sync_closed(ad, &w, ndk_qp_close(qp, w_close, &w));
}

#endif /* NDK_SYNC_H */
