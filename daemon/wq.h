/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Work queues: decoding and checking the work requests a client posts on a
 * QP's send and receive rings, the loop that serves them, and the results
 * that go to its CQs in the order they were posted (RC completes in order).
 * A provider is handed each send, read or write through post_send once the
 * checks here pass; what it answers PENDING it completes with wq_complete.
 *
 * Statuses, as docs/datapath.md tabulates them: a failed access check
 * completes with ACCESS_VIOLATION and moves the QP to the error state, as
 * an RC QP does on a protection error; so does a malformed work request
 * (INVALID_PARAMETER); once in error every work request completes
 * CANCELLED. A QP that was never connected answers CONNECTION_INVALID and
 * stays as it is.
 */
#ifndef NDKD_WQ_H
#define NDKD_WQ_H

#include <stdbool.h>
#include <stdint.h>

#include "ndkd.h"
#include "qp.h"

/* A work request copied out of its ring: the first slot, then its body. */
struct wr {
	struct ndk_abi_wqe h;
	union {
		struct ndk_abi_sge sge[NDKD_MAX_SGE];
		uint64_t pages[NDKD_MAX_FRMR_PAGES];
		uint8_t data[NDK_ABI_MAX_INLINE];
	};
};

/* A result waiting for the ones posted before it, or for its provider. */
struct wq_pending {
	struct ndk_abi_result res;
	uint32_t sq_start;  /* its first slot: the SQ is handed back up to here only */
	uint32_t inv_token; /* READ_LOCAL_INVALIDATE: the MR to invalidate once it succeeds */
	bool done;
	bool silent; /* NDK_OP_FLAG_SILENT_SUCCESS */
};

/* A send, read or write that passed the common checks. */
struct wq_op {
	const struct wr *w;
	uint32_t n_local; /* its pieces in x->local: what a send or write reads, a read fills */
	uint64_t total;	  /* bytes */
};

/* A receive taken from a receive queue: its pieces in x->local. */
struct wq_recv {
	const struct wr *w;
	uint32_t slots;
	uint32_t n_local;
	uint64_t room;	   /* bytes its SGEs can take */
	ndk_status status; /* SUCCESS, or what is wrong with the receive itself */
};

/*
 * A receive taken off its queue for a send that fills it over several
 * turns: a copy of what ndkd needs of it, since the ring slot is the
 * client's to reuse.
 */
struct wq_taken {
	uint64_t request_context;
	uint64_t cookie;
	uint64_t room;
	ndk_status status; /* SUCCESS, or what is wrong with the receive itself */
	uint32_t n_local;  /* its pieces in x->local, until the engine's next request */
	uint32_t n_sge;
	struct ndk_abi_sge sge[NDKD_MAX_SGE];
};

/* Slots a well-formed work request with this first slot takes, or 0. */
uint32_t wq_wr_slots(const struct ndk_abi_wqe *h);
/*
 * The checks of a send-queue work request that need nothing but the
 * request and its QP: opcode, flags, and the shape of a send, read or
 * write. INVALID_PARAMETER or SUCCESS.
 */
ndk_status wq_check(const struct dqp *qp, const struct wr *w);
/* Resolve a checked send, read or write's local pieces into x->local. */
ndk_status wq_resolve_local(struct ectx *x, const struct dqp *qp, const struct wr *w,
			    struct wq_op *op);

/* Serve up to budget work requests of every QP of c; returns how many. */
/* ... *busy set when bytes moved or a transfer or result is still owed (not a request). */
unsigned int wq_serve(struct client *c, struct ectx *x, unsigned int budget, bool *busy);
/* A provider finished the work request it answered PENDING. */
void wq_complete(struct ectx *x, struct dqp *qp, uint32_t wr_id, ndk_status status, uint32_t bytes);
/* Move qp to ERROR (a failed work request, a flush, a close). */
void wq_error(struct ectx *x, struct dqp *qp);
/* qp goes: what is queued on it completes CANCELLED, room permitting. */
void wq_drain(struct ectx *x, struct dqp *qp);

/*
 * The next receive posted on qp, checked, in *r. 1 when there is one (r->status
 * says whether it is usable), 0 when none is posted or its CQ is full, -1
 * when the ring lies (the client is marked broken).
 */
int wq_recv_next(struct ectx *x, struct dqp *qp, struct wq_recv *r);
/* Consume the receive wq_recv_next returned, with this result. */
void wq_recv_complete(struct dqp *qp, const struct wq_recv *r, ndk_status status, uint32_t bytes,
		      uint32_t type, uint64_t token);
/* Like wq_recv_next, but the receive leaves its ring now and its result comes later. */
int wq_recv_take(struct ectx *x, struct dqp *qp, struct wq_taken *t);
/* The result of a receive taken with wq_recv_take; false (try again) when its CQ is full. */
bool wq_recv_end(struct dqp *qp, const struct wq_taken *t, ndk_status status, uint32_t bytes,
		 uint32_t type, uint64_t token);

#endif /* NDKD_WQ_H */
