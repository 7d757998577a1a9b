/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Protection domains (pd.c) and memory regions (mr.c) as the client's
 * engine carries them out: the control requests, and the fast register,
 * invalidate and remote invalidate that arrive as work requests. The MR
 * table is common to every provider; each provider is told what changes so
 * it can do its own part (an mkey, a UMR).
 *
 * Statuses (docs/memory.md has the table): INVALID_HANDLE for a handle that
 * is not this client's object of the right type; INVALID_PARAMETER for bad
 * addresses, lengths and flags (NDK's RegisterMr list); NOT_SUPPORTED for a
 * call the MR's kind does not allow (register on a fast-register MR and the
 * reverse); INVALID_DEVICE_REQUEST for a call the MR's state does not allow;
 * INSUFFICIENT_RESOURCES at a limit; IMPLEMENTATION_LIMIT above the
 * fast-register page count.
 */
#ifndef NDKD_MR_H
#define NDKD_MR_H

#include <stdint.h>

#include "ndkd.h"

struct dqp;

ndk_status dpd_create(struct client *c, struct ectx *x, uint64_t out[6]);
ndk_status dpd_destroy(struct client *c, struct ectx *x, uint32_t handle);
/* Every PD of the client (its MRs and QPs are gone). */
void dpd_release_all(struct client *c, struct ectx *x);

ndk_status dmr_create(struct client *c, struct ectx *x, uint32_t pd, uint64_t kind,
		      uint64_t out[6]);
/*
 * An object of 'type' (MR or MW) with an MR table entry of 'kind' under the
 * PD pd (looked up by the caller): one of the client's MR limit, counted in
 * the PD. Its handle in *handle; INSUFFICIENT_RESOURCES at a limit.
 */
ndk_status dmr_new(struct client *c, struct ectx *x, struct obj *pd, uint32_t pd_handle,
		   uint8_t type, uint8_t kind, uint32_t *handle);
ndk_status dmr_register(struct client *c, struct ectx *x, uint32_t handle, uint64_t va,
			uint64_t length, uint64_t flags, uint64_t out[6]);
ndk_status dmr_deregister(struct client *c, struct ectx *x, uint32_t handle);
ndk_status dmr_init_fr(struct client *c, struct ectx *x, uint32_t handle, uint64_t pages,
		       uint64_t remote, uint64_t out[6]);
ndk_status dmr_destroy(struct client *c, struct ectx *x, uint32_t handle);
/* Every MR and window of the client, or of one PD (pd != 0). */
void dmr_release_all(struct client *c, struct ectx *x, uint32_t pd);
/* An MR or window object goes: its table entry freed, its PD's count down. */
void dmr_drop(struct client *c, struct ectx *x, uint32_t handle, struct obj *mr);

/*
 * A FAST_REGISTER work request on qp: h is its first slot, pages its page
 * array (both copied out of shared memory). SUCCESS (or PENDING) when the
 * MR now answers to the token h names; *peer_token is what peers name it
 * by (h's token, or the provider's NIC key).
 */
ndk_status dmr_fast_register(struct client *c, struct ectx *x, struct dqp *qp,
			     const struct ndk_abi_wqe *h, const uint64_t *pages, uint32_t wr_id,
			     uint32_t *peer_token);
/*
 * The type-specific output of a FAST_REGISTER result that did not succeed
 * (refused, or cancelled): the token the request named << 32 | the MR's
 * token in force, so libndk can put back what the app sees. 0 when h names
 * no fast-register MR of c.
 */
uint64_t dmr_fr_failed(struct client *c, struct ectx *x, const struct ndk_abi_wqe *h);
/* An INVALIDATE work request on qp for the fast-register MR 'handle'. */
ndk_status dmr_invalidate(struct client *c, struct ectx *x, struct dqp *qp, uint32_t handle,
			  uint32_t wr_id);
/*
 * The fast-registered MR of qp's client and PD that token names stops
 * working (SEND_INVALIDATE arriving at qp, a read with
 * READ_LOCAL_INVALIDATE). False when token names no such live MR.
 */
bool dmr_invalidate_token(struct ectx *x, const struct dqp *qp, uint32_t token);
/* Whether token names a live fast-registered MR of qp's client and PD (so it may be invalidated).
 */
bool dmr_can_invalidate(struct ectx *x, const struct dqp *qp, uint32_t token);

/*
 * Memory windows (mw.c): an MR table entry a BIND points into a registered
 * or fast-registered MR of the same PD, with remote access of its own. It
 * dies with its MR's registration (the MR's variant is checked on every
 * access). MWs count against the client's MR limit.
 */
ndk_status dmw_create(struct client *c, struct ectx *x, uint32_t pd, uint64_t out[6]);
ndk_status dmw_destroy(struct client *c, struct ectx *x, uint32_t handle);
/* A BIND work request on qp (h copied out of shared memory). */
ndk_status dmw_bind(struct client *c, struct ectx *x, struct dqp *qp, const struct ndk_abi_wqe *h,
		    uint32_t wr_id);
/* An INVALIDATE work request naming a window: it stops working. */
ndk_status dmw_invalidate(struct client *c, struct ectx *x, struct dqp *qp, uint32_t handle,
			  uint32_t wr_id);

#endif /* NDKD_MR_H */
