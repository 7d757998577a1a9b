/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Protection domains (NDK_PD). MRs are created on a PD; the PD's privileged
 * token lets local scatter/gather entries use adapter logical addresses of
 * this client's regions without registration: LOCAL_READ and LOCAL_WRITE
 * only, never remote (seed 002).
 */
#ifndef NDK_PD_H
#define NDK_PD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ndk/object.h>
#include <ndk/status.h>

#ifdef __cplusplus
extern "C" {
#endif

struct ndk_pd;
struct ndk_mr;
struct ndk_mw;
struct ndk_cq;
struct ndk_qp;
struct ndk_srq;

/*
 * NDK_FN_CREATE_MR (seed 004). fast_register: true for an MR used only with
 * fast register, false for one used only with register_mr. Returns SUCCESS
 * with *mr set (an MR from the PD's pool of pre-created MRs; no round trip),
 * PENDING (the MR comes to completion; *mr is not written), or
 * INSUFFICIENT_RESOURCES, with no callback.
 */
typedef ndk_status (*ndk_fn_create_mr)(struct ndk_pd *pd, bool fast_register,
				       ndk_fn_create_completion completion, void *context,
				       struct ndk_mr **mr);

/*
 * NDK_FN_CREATE_QP: an RC QP on the PD, completing receives on receive_cq and
 * everything else on initiator_cq. PENDING (the QP comes to completion) or an
 * error with no callback: INVALID_PARAMETER (a depth of 0 initiator requests,
 * deeper queues, more SGEs or more inline data than the adapter allows),
 * INSUFFICIENT_RESOURCES.
 */
typedef ndk_status (*ndk_fn_create_qp)(struct ndk_pd *pd, struct ndk_cq *receive_cq,
				       struct ndk_cq *initiator_cq, void *qp_context,
				       uint32_t receive_queue_depth, uint32_t initiator_queue_depth,
				       uint32_t max_receive_sge, uint32_t max_initiator_sge,
				       uint32_t inline_data_size,
				       ndk_fn_create_completion completion, void *context,
				       struct ndk_qp **qp);

/* NDK_FN_GET_PRIVILEGED_MEMORY_REGION_TOKEN (seed 002): synchronous. */
typedef void (*ndk_fn_get_privileged_token)(struct ndk_pd *pd, uint32_t *token);

/*
 * NDK_FN_CREATE_MW: a memory window on the PD (<ndk/mw.h>). PENDING (the
 * window comes to the completion; *mw is not written), or an error with no
 * callback. Windows take MR table entries: they count against the client's
 * MR limit (INSUFFICIENT_RESOURCES in the completion past it).
 */
typedef ndk_status (*ndk_fn_create_mw)(struct ndk_pd *pd, ndk_fn_create_completion completion,
				       void *context, struct ndk_mw **mw);

/*
 * NDK_FN_SRQ_NOTIFICATION_CALLBACK: once per arming (create's or modify's
 * threshold), from ndk_adapter_progress(), when fewer receives than the
 * threshold are queued: SUCCESS; DEVICE_REMOVED when ndkd went away while
 * it was armed. Block on ndk_adapter_event_fd() to sleep until then.
 */
typedef void (*ndk_fn_srq_notification)(void *context, ndk_status status);

/*
 * NDK_FN_CREATE_SRQ (<ndk/srq.h>): srq_depth receives (1..MaxSrqDepth) of
 * up to max_receive_sge SGEs each (at most MaxReceiveRequestSge). A
 * notify_threshold above 0 arms the notification at create: it fires when
 * taking a receive leaves fewer than that queued (a new, empty SRQ does not
 * fire by itself). PENDING (the SRQ comes to the completion; *srq is not
 * written) or an error with no callback: INVALID_PARAMETER,
 * INSUFFICIENT_RESOURCES, NOT_SUPPORTED when the adapter has no SRQs
 * (MaxSrqDepth 0). Past the per-client SRQ limit the completion says
 * INSUFFICIENT_RESOURCES.
 *
 * NDK_FN_CREATE_QP_WITH_SRQ: as create_qp, with receives from srq (same PD;
 * ndk_qp_receive on it is INVALID_DEVICE_REQUEST). The QP is a successor of
 * the SRQ: the SRQ closes after it.
 */
typedef ndk_status (*ndk_fn_create_srq)(struct ndk_pd *pd, uint32_t srq_depth,
					uint32_t max_receive_sge, uint32_t notify_threshold,
					ndk_fn_srq_notification notification,
					void *notification_context,
					ndk_fn_create_completion completion, void *context,
					struct ndk_srq **srq);
typedef ndk_status (*ndk_fn_create_qp_with_srq)(struct ndk_pd *pd, struct ndk_cq *receive_cq,
						struct ndk_cq *initiator_cq, struct ndk_srq *srq,
						void *qp_context, uint32_t initiator_queue_depth,
						uint32_t max_initiator_sge,
						uint32_t inline_data_size,
						ndk_fn_create_completion completion, void *context,
						struct ndk_qp **qp);

/* NDK_PD_DISPATCH, in NDK's order. */
struct ndk_pd_dispatch {
	ndk_fn_close_object close;
	ndk_fn_query_extension query_extension;
	ndk_fn_create_mr create_mr;
	ndk_fn_create_mw create_mw;
	ndk_fn_create_srq create_srq;
	ndk_fn_create_qp create_qp;
	ndk_fn_create_qp_with_srq create_qp_with_srq;
	ndk_fn_get_privileged_token get_privileged_token;
};

struct ndk_pd {
	struct ndk_object_header header;
	const struct ndk_pd_dispatch *dispatch;
};

/*
 * Close: PENDING, and close_completion runs once every MR and QP of the PD
 * has closed and ndkd has let the PD go (NDK: an antecedent closes after
 * its successors). SUCCESS (no callback) only once ndkd has gone away and
 * nothing of the PD is left to wait for.
 */
static inline ndk_status
ndk_pd_close(struct ndk_pd *pd, ndk_fn_close_completion completion, void *context)
{
	return pd->dispatch->close(&pd->header, completion, context);
}

static inline ndk_status
ndk_pd_query_extension(struct ndk_pd *pd, const struct ndk_guid *id, struct ndk_version version,
		       struct ndk_extension_interface *ext)
{
	return pd->dispatch->query_extension(&pd->header, id, version, ext);
}

static inline ndk_status
ndk_mw_create(struct ndk_pd *pd, ndk_fn_create_completion completion, void *context,
	      struct ndk_mw **mw)
{
	return pd->dispatch->create_mw(pd, completion, context, mw);
}

static inline ndk_status
ndk_mr_create(struct ndk_pd *pd, bool fast_register, ndk_fn_create_completion completion,
	      void *context, struct ndk_mr **mr)
{
	return pd->dispatch->create_mr(pd, fast_register, completion, context, mr);
}

/*
 * A QP's shape, for ndk_qp_create_with_opts(): fill with ndk_qp_opts_init()
 * (defaults: 64-deep queues, one SGE each way, no inline data), then set
 * the CQs and what differs. New fields only ever come at the end.
 */
struct ndk_qp_opts {
	size_t opts_size; /* sizeof(struct ndk_qp_opts) as the caller knows it */
	struct ndk_cq *receive_cq;
	struct ndk_cq *initiator_cq;
	void *qp_context; /* comes back in every result */
	uint32_t receive_queue_depth;
	uint32_t initiator_queue_depth;
	uint32_t max_receive_sge;
	uint32_t max_initiator_sge;
	uint32_t inline_data_size;
	/* receives from this SRQ (receive_queue_depth, max_receive_sge unused); NULL: its own */
	struct ndk_srq *srq;
};

void ndk_qp_opts_init(struct ndk_qp_opts *opts, size_t opts_size);

/*
 * NDK_FN_CREATE_QP with its twelve arguments named: PENDING (the QP comes
 * to the completion, which ndkd's answer triggers; *qp is not written), or
 * an error with no callback (INVALID_PARAMETER for opts too short to hold
 * every field up to inline_data_size).
 */
static inline ndk_status
ndk_qp_create_with_opts(struct ndk_pd *pd, const struct ndk_qp_opts *o,
			ndk_fn_create_completion completion, void *context, struct ndk_qp **qp)
{
	if (o == NULL || o->opts_size < offsetof(struct ndk_qp_opts, inline_data_size) +
						sizeof(o->inline_data_size))
		return NDK_STATUS_INVALID_PARAMETER;
	if (o->opts_size >= offsetof(struct ndk_qp_opts, srq) + sizeof(o->srq) && o->srq != NULL)
		return pd->dispatch->create_qp_with_srq(pd, o->receive_cq, o->initiator_cq, o->srq,
							o->qp_context, o->initiator_queue_depth,
							o->max_initiator_sge, o->inline_data_size,
							completion, context, qp);
	return pd->dispatch->create_qp(pd, o->receive_cq, o->initiator_cq, o->qp_context,
				       o->receive_queue_depth, o->initiator_queue_depth,
				       o->max_receive_sge, o->max_initiator_sge,
				       o->inline_data_size, completion, context, qp);
}

/* NDK_FN_CREATE_QP as NDK has it (ndk_qp_create_with_opts reads better). */
static inline ndk_status
ndk_qp_create(struct ndk_pd *pd, struct ndk_cq *receive_cq, struct ndk_cq *initiator_cq,
	      void *qp_context, uint32_t receive_queue_depth, uint32_t initiator_queue_depth,
	      uint32_t max_receive_sge, uint32_t max_initiator_sge, uint32_t inline_data_size,
	      ndk_fn_create_completion completion, void *context, struct ndk_qp **qp)
{
	return pd->dispatch->create_qp(pd, receive_cq, initiator_cq, qp_context,
				       receive_queue_depth, initiator_queue_depth, max_receive_sge,
				       max_initiator_sge, inline_data_size, completion, context,
				       qp);
}

static inline ndk_status
ndk_srq_create(struct ndk_pd *pd, uint32_t srq_depth, uint32_t max_receive_sge,
	       uint32_t notify_threshold, ndk_fn_srq_notification notification,
	       void *notification_context, ndk_fn_create_completion completion, void *context,
	       struct ndk_srq **srq)
{
	return pd->dispatch->create_srq(pd, srq_depth, max_receive_sge, notify_threshold,
					notification, notification_context, completion, context,
					srq);
}

static inline ndk_status
ndk_qp_create_with_srq(struct ndk_pd *pd, struct ndk_cq *receive_cq, struct ndk_cq *initiator_cq,
		       struct ndk_srq *srq, void *qp_context, uint32_t initiator_queue_depth,
		       uint32_t max_initiator_sge, uint32_t inline_data_size,
		       ndk_fn_create_completion completion, void *context, struct ndk_qp **qp)
{
	return pd->dispatch->create_qp_with_srq(pd, receive_cq, initiator_cq, srq, qp_context,
						initiator_queue_depth, max_initiator_sge,
						inline_data_size, completion, context, qp);
}

static inline uint32_t
ndk_pd_get_privileged_token(struct ndk_pd *pd)
{
	uint32_t token;

	pd->dispatch->get_privileged_token(pd, &token);
	return token;
}

#ifdef __cplusplus
}
#endif

#endif /* NDK_PD_H */
