/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The tools' way to wait for one callback: what an app's event loop does,
 * reduced to a spin.
 */
#ifndef NDK_TOOLS_DONE_H
#define NDK_TOOLS_DONE_H

#include <ndk/ndk.h>

struct done {
	int calls;
	ndk_status status;
	struct ndk_object_header *obj;
};

static inline void
req_done(void *ctx, ndk_status st)
{
	struct done *d = ctx;

	d->calls++;
	d->status = st;
}

static inline void
create_done(void *ctx, ndk_status st, struct ndk_object_header *obj)
{
	req_done(ctx, st);
	((struct done *)ctx)->obj = obj;
}

static inline void
close_done(void *ctx)
{
	((struct done *)ctx)->calls++;
}

/* The status of a call: its own, or (PENDING) its callback's. */
static inline ndk_status
finish(struct ndk_adapter *ad, struct done *d, ndk_status st)
{
	if (st != NDK_STATUS_PENDING)
		return st;
	while (d->calls == 0)
		ndk_adapter_progress(ad, 0);
	return d->status;
}

#endif /* NDK_TOOLS_DONE_H */
