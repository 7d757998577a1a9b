/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Memory windows (NDK_MW). A window is created on a PD, then bound by
 * ndk_qp_bind() to a range of a registered or fast-registered MR of that PD,
 * with remote access of its own (read, write, or both, never more than the
 * MR allows a write on). Its token is what a peer uses; it stops working
 * when the window is invalidated (ndk_qp_invalidate), bound again, closed,
 * or when its MR is deregistered, invalidated or registered again.
 */
#ifndef NDK_MW_H
#define NDK_MW_H

#include <stdint.h>

#include <ndk/object.h>
#include <ndk/status.h>

#ifdef __cplusplus
extern "C" {
#endif

struct ndk_mw;

/*
 * NDK_FN_GET_REMOTE_TOKEN_FROM_MW: synchronous, no round trip. The token a
 * bind names (it is the window's from the moment ndk_qp_bind() returns
 * SUCCESS); before the first bind, a token that works for nothing.
 */
typedef uint32_t (*ndk_fn_get_remote_token_from_mw)(struct ndk_mw *mw);

struct ndk_mw_dispatch {
	ndk_fn_close_object close;
	ndk_fn_query_extension query_extension;
	ndk_fn_get_remote_token_from_mw get_remote_token;
};

struct ndk_mw {
	struct ndk_object_header header;
	const struct ndk_mw_dispatch *dispatch;
};

/*
 * Close: PENDING (the completion follows once ndkd has let the window go;
 * its token is dead from then on), or SUCCESS with no callback once ndkd
 * has gone away.
 */
static inline ndk_status
ndk_mw_close(struct ndk_mw *mw, ndk_fn_close_completion completion, void *context)
{
	return mw->dispatch->close(&mw->header, completion, context);
}

static inline uint32_t
ndk_mw_get_remote_token(struct ndk_mw *mw)
{
	return mw->dispatch->get_remote_token(mw);
}

#ifdef __cplusplus
}
#endif

#endif /* NDK_MW_H */
