/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Completion queues (NDK_CQ). Results are written by ndkd into a ring in the
 * app's arena and read by ndk_cq_get_results*() with no syscall and no lock.
 * Calls on one CQ are serialised by the caller (NDK's rule for CQs).
 */
#ifndef NDK_CQ_H
#define NDK_CQ_H

#include <stdint.h>

#include <ndk/object.h>
#include <ndk/status.h>

#ifdef __cplusplus
extern "C" {
#endif

struct ndk_cq;

/* NDK_OPERATION_TYPE */
#define NDK_OP_TYPE_RECEIVE		   1u
#define NDK_OP_TYPE_RECEIVE_AND_INVALIDATE 0x8001u
#define NDK_OP_TYPE_SEND		   2u
#define NDK_OP_TYPE_FAST_REGISTER	   4u
#define NDK_OP_TYPE_BIND		   8u
#define NDK_OP_TYPE_INVALIDATE		   16u
#define NDK_OP_TYPE_READ		   32u
#define NDK_OP_TYPE_WRITE		   64u

/* NDK_RESULT */
struct ndk_result {
	ndk_status status;
	uint32_t bytes_transferred;
	void *qp_context;
	void *request_context;
};

/* NDK_RESULT_EX */
struct ndk_result_ex {
	ndk_status status;
	uint32_t bytes_transferred;
	void *qp_context;
	void *request_context;
	uint32_t type; /* NDK_OP_TYPE_* */
	/* FAST_REGISTER: the MR's new token; RECEIVE_AND_INVALIDATE: the token invalidated */
	uintptr_t type_specific_completion_output;
};

/* NDK_CQ_NOTIFICATION_TYPE (ArmCq's trigger); all three arm for the next result. */
#define NDK_CQ_NOTIFY_ERRORS	0u
#define NDK_CQ_NOTIFY_ANY	1u
#define NDK_CQ_NOTIFY_SOLICITED 2u

/*
 * NDK_FN_CQ_NOTIFICATION_CALLBACK: after ndk_cq_arm(), called once, from
 * ndk_adapter_progress(), when the CQ has a result. Block on
 * ndk_adapter_event_fd() to sleep until then.
 */
typedef void (*ndk_fn_cq_notification)(void *context, ndk_status status);

/* Fills up to n results; returns how many. Never blocks. */
typedef uint32_t (*ndk_fn_get_cq_results)(struct ndk_cq *cq, struct ndk_result *results,
					  uint32_t n);
typedef uint32_t (*ndk_fn_get_cq_results_ex)(struct ndk_cq *cq, struct ndk_result_ex *results,
					     uint32_t n);
typedef ndk_status (*ndk_fn_resize_cq)(struct ndk_cq *cq, uint32_t depth,
				       ndk_fn_request_completion completion, void *context);
typedef void (*ndk_fn_arm_cq)(struct ndk_cq *cq, uint32_t trigger);

struct ndk_cq_dispatch {
	ndk_fn_close_object close;
	ndk_fn_query_extension query_extension;
	ndk_fn_resize_cq resize;
	ndk_fn_arm_cq arm;
	ndk_fn_get_cq_results get_results;
	ndk_fn_get_cq_results_ex get_results_ex;
};

struct ndk_cq {
	struct ndk_object_header header;
	const struct ndk_cq_dispatch *dispatch;
};

/*
 * Close: PENDING; the close completion comes once ndkd has let the CQ go,
 * which is after the last QP using it has closed (NDK: an antecedent closes
 * after its successors).
 */
static inline ndk_status
ndk_cq_close(struct ndk_cq *cq, ndk_fn_close_completion completion, void *context)
{
	return cq->dispatch->close(&cq->header, completion, context);
}

static inline void
ndk_cq_arm(struct ndk_cq *cq, uint32_t trigger)
{
	cq->dispatch->arm(cq, trigger);
}

static inline uint32_t
ndk_cq_get_results(struct ndk_cq *cq, struct ndk_result *results, uint32_t n)
{
	return cq->dispatch->get_results(cq, results, n);
}

static inline uint32_t
ndk_cq_get_results_ex(struct ndk_cq *cq, struct ndk_result_ex *results, uint32_t n)
{
	return cq->dispatch->get_results_ex(cq, results, n);
}

#ifdef __cplusplus
}
#endif

#endif /* NDK_CQ_H */
