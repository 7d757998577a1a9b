/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Memory regions (NDK_MR). The dispatch table has exactly the seven entries
 * of NDK_MR_DISPATCH (seed 003), in its order.
 */
#ifndef NDK_MR_H
#define NDK_MR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ndk/object.h>
#include <ndk/status.h>

#ifdef __cplusplus
extern "C" {
#endif

struct ndk_mr;

/*
 * NDK_FN_REGISTER_MR: register [addr, addr + length) with NDK_MR_FLAG_*
 * access. Only for MRs created with fast_register = false (else
 * NOT_SUPPORTED). addr must lie in an arena region or attached fd and must
 * not be 0 (zero-based addresses are not supported): INVALID_PARAMETER
 * otherwise, as for length 0, wrap-around, unknown flag bits and 0x4
 * without LOCAL_WRITE (REMOTE_WRITE is 0x5). PENDING (completion follows;
 * tokens are valid once it reports SUCCESS), INVALID_DEVICE_REQUEST
 * (already registered, or a register or deregister on it in flight), or
 * INSUFFICIENT_RESOURCES, with no callback.
 */
typedef ndk_status (*ndk_fn_register_mr)(struct ndk_mr *mr, void *addr, size_t length,
					 uint32_t flags, ndk_fn_request_completion completion,
					 void *context);

/*
 * NDK_FN_DEREGISTER_MR: for a registered MR. PENDING, or INVALID_DEVICE_REQUEST
 * (not registered), NOT_SUPPORTED (a fast-register MR). Tokens read 0 from
 * the call on; the old token stops working in ndkd when it completes.
 */
typedef ndk_status (*ndk_fn_deregister_mr)(struct ndk_mr *mr, ndk_fn_request_completion completion,
					   void *context);

/*
 * NDK_FN_INITIALIZE_FAST_REGISTER_MR: only for fast-register MRs (else
 * NOT_SUPPORTED). IMPLEMENTATION_LIMIT when adapter_page_count exceeds the
 * adapter's FRMRPageCount, INVALID_PARAMETER for 0 pages. PENDING otherwise,
 * also while another initialise of the MR is in flight (NDK allows calls in
 * parallel): ndkd answers them in order, and the last to succeed sets the
 * token and the remote access.
 */
typedef ndk_status (*ndk_fn_initialize_fast_register_mr)(struct ndk_mr *mr,
							 uint32_t adapter_page_count,
							 bool remote_access,
							 ndk_fn_request_completion completion,
							 void *context);

/*
 * NDK_FN_GET_REMOTE_TOKEN_FROM_MR / NDK_FN_GET_LOCAL_TOKEN_FROM_MR (seeds 000,
 * 001): synchronous, no round trip. Valid once register or initialize has
 * completed without error; 0 (never a valid token) before that and after
 * deregister. Both return the same token: an MR registered without remote
 * access still has a remote token, and ndkd refuses every remote access
 * through it.
 */
typedef uint32_t (*ndk_fn_get_token_from_mr)(struct ndk_mr *mr);

struct ndk_mr_dispatch {
	ndk_fn_close_object close;
	ndk_fn_query_extension query_extension;
	ndk_fn_register_mr register_mr;
	ndk_fn_deregister_mr deregister_mr;
	ndk_fn_initialize_fast_register_mr initialize_fast_register_mr;
	ndk_fn_get_token_from_mr get_remote_token;
	ndk_fn_get_token_from_mr get_local_token;
};

struct ndk_mr {
	struct ndk_object_header header;
	const struct ndk_mr_dispatch *dispatch;
};

/*
 * Close: SUCCESS (an MR never registered or initialised, or deregistered,
 * goes back to its PD's pool; no callback), or PENDING (ndkd frees it; a
 * registered MR is deregistered on the way, and its token dies). May be
 * called from inside a completion callback.
 */
static inline ndk_status
ndk_mr_close(struct ndk_mr *mr, ndk_fn_close_completion completion, void *context)
{
	return mr->dispatch->close(&mr->header, completion, context);
}

static inline ndk_status
ndk_mr_query_extension(struct ndk_mr *mr, const struct ndk_guid *id, struct ndk_version version,
		       struct ndk_extension_interface *ext)
{
	return mr->dispatch->query_extension(&mr->header, id, version, ext);
}

static inline ndk_status
ndk_mr_register(struct ndk_mr *mr, void *addr, size_t length, uint32_t flags,
		ndk_fn_request_completion completion, void *context)
{
	return mr->dispatch->register_mr(mr, addr, length, flags, completion, context);
}

static inline ndk_status
ndk_mr_deregister(struct ndk_mr *mr, ndk_fn_request_completion completion, void *context)
{
	return mr->dispatch->deregister_mr(mr, completion, context);
}

static inline ndk_status
ndk_mr_initialize_fast_register(struct ndk_mr *mr, uint32_t adapter_page_count, bool remote_access,
				ndk_fn_request_completion completion, void *context)
{
	return mr->dispatch->initialize_fast_register_mr(mr, adapter_page_count, remote_access,
							 completion, context);
}

static inline uint32_t
ndk_mr_get_remote_token(struct ndk_mr *mr)
{
	return mr->dispatch->get_remote_token(mr);
}

static inline uint32_t
ndk_mr_get_local_token(struct ndk_mr *mr)
{
	return mr->dispatch->get_local_token(mr);
}

#ifdef __cplusplus
}
#endif

#endif /* NDK_MR_H */
