/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Shared receive queues (NDK_SRQ). Created on a PD (ndk_srq_create), one SRQ
 * feeds the receives of every QP created with it (ndk_qp_create_with_srq):
 * a send arriving on any of them takes the SRQ's oldest receive, and its
 * result goes to that QP's receive CQ with that QP's context. A storage
 * target with many connections posts one pool of buffers instead of one per
 * connection.
 *
 * Receives go into a ring in the app's arena, as a QP's do: no syscall, no
 * lock; the consumer serialises calls per SRQ, as for QPs. The ring is sized
 * at create for the depth asked; modify may lower the depth or raise it up
 * to what that ring holds, not past it (NOT_SUPPORTED), as mlx5's SRQs
 * cannot be resized either: create with the largest depth you will need.
 */
#ifndef NDK_SRQ_H
#define NDK_SRQ_H

#include <stdint.h>

#include <ndk/object.h>
#include <ndk/qp.h>
#include <ndk/status.h>

#ifdef __cplusplus
extern "C" {
#endif

struct ndk_srq;

/* GROUP_AFFINITY */
struct ndk_group_affinity {
	uint64_t mask;
	uint16_t group;
	uint16_t reserved[3];
};

/*
 * NDK_FN_MODIFY_SRQ. srq_depth: the receives it may hold (0: keep). A
 * notify_threshold above 0 arms the notification for when fewer receives
 * than that are queued (at once, if there already are); 0 keeps the
 * threshold and arming as they are. SUCCESS is never returned: PENDING and
 * the completion, or an error with no callback (INVALID_PARAMETER past
 * MaxSrqDepth; NOT_SUPPORTED past the depth the ring was made for).
 */
typedef ndk_status (*ndk_fn_modify_srq)(struct ndk_srq *srq, uint32_t srq_depth,
					uint32_t notify_threshold,
					ndk_fn_request_completion completion, void *context);
/* NDK_FN_GET_SRQ_AFFINITY: NOT_SUPPORTED (notifications run in ndk_adapter_progress()). */
typedef ndk_status (*ndk_fn_get_srq_affinity)(struct ndk_srq *srq,
					      struct ndk_group_affinity *affinity);
/*
 * NDK_FN_SRQ_RECEIVE: SUCCESS (a result comes on the receive CQ of whichever
 * QP takes it), INSUFFICIENT_RESOURCES when srq_depth receives are queued,
 * INVALID_PARAMETER for more SGEs than the SRQ was made for.
 */
typedef ndk_status (*ndk_fn_srq_receive)(struct ndk_srq *srq, void *request_context,
					 const struct ndk_sge *sgl, uint32_t n_sge);

struct ndk_srq_dispatch {
	ndk_fn_close_object close;
	ndk_fn_query_extension query_extension;
	ndk_fn_modify_srq modify;
	ndk_fn_get_srq_affinity get_affinity;
	ndk_fn_srq_receive receive;
};

struct ndk_srq {
	struct ndk_object_header header;
	const struct ndk_srq_dispatch *dispatch;
};

/*
 * Close: PENDING, and the completion runs once every QP created with the
 * SRQ has closed and ndkd has let it go (NDK: an antecedent closes after its
 * successors). Receives still queued then are dropped without a result:
 * they belong to no QP, so no CQ can carry one (as when a verbs SRQ is
 * destroyed); their buffers are the app's again once the completion runs.
 * SUCCESS (no callback) once ndkd has gone away.
 */
static inline ndk_status
ndk_srq_close(struct ndk_srq *srq, ndk_fn_close_completion completion, void *context)
{
	return srq->dispatch->close(&srq->header, completion, context);
}

static inline ndk_status
ndk_srq_modify(struct ndk_srq *srq, uint32_t srq_depth, uint32_t notify_threshold,
	       ndk_fn_request_completion completion, void *context)
{
	return srq->dispatch->modify(srq, srq_depth, notify_threshold, completion, context);
}

static inline ndk_status
ndk_srq_receive(struct ndk_srq *srq, void *request_context, const struct ndk_sge *sgl,
		uint32_t n_sge)
{
	return srq->dispatch->receive(srq, request_context, sgl, n_sge);
}

#ifdef __cplusplus
}
#endif

#endif /* NDK_SRQ_H */
