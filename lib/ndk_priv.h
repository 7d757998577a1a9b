/* SPDX-License-Identifier: BSD-3-Clause */
/* libndk internals shared by its files. Nothing here is exported. */
#ifndef NDK_PRIV_H
#define NDK_PRIV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ndk/ndk.h>
#include <ndk/internal/abi.h>
#include <ndk/internal/ring.h>

#define NDK_LIB_OPEN_TIMEOUT_MS 5000
/* Empty progress calls between two liveness checks of the socket (a syscall). */
#define NDK_LIB_LIVENESS_EVERY 1024u
#define NDK_LIB_MAX_REGIONS    64u
#define NDK_LIB_MAX_SGE	       16u /* SGEs per work request */

struct adapter;
struct req_slot;

/*
 * What to do when a request completes: update the library's object, then
 * call the user's completion (whose type the handler knows). status is
 * ndkd's, or DEVICE_REMOVED when ndkd went away first; out is the
 * completion's out[] (zeros in that case).
 */
typedef void (*req_handler)(struct adapter *ad, const struct req_slot *req, ndk_status status,
			    const uint64_t *out);

/* One outstanding request; its index and generation form the cqe's user_data. */
struct req_slot {
	req_handler handler;
	void (*user_cb)(void); /* cast back by the handler */
	void *context;
	void *obj;
	uintptr_t arg;
	uint32_t gen;
	uint32_t next_free;
	bool busy;
};

/* A region ndkd has mapped too, as this process sees it. */
struct lregion {
	uint64_t base;
	uint64_t size;
	uint32_t id;
};

struct arena;
struct adapter;
struct mr_id;

/*
 * What PDs, CQs and listeners share (lobj.c): ndkd's handle, the holds
 * that keep a close waiting (successors, internal requests), and the close
 * that posts the destroy, parking the object while the ring is full.
 */
struct lobj {
	struct adapter *ad;
	uint32_t handle;
	uint8_t destroy_op; /* NDK_ABI_OP_*_DESTROY */
	bool closing;
	bool destroy_posted;
	bool parked;	/* on the adapter's parked_objs */
	bool orphaned;	/* ndkd went away before destroying it: progress completes the close */
	uint32_t holds; /* successors and internal requests not yet done */
	ndk_fn_close_completion close_cb;
	void *close_ctx;
	void (*resume)(struct lobj *o);	 /* parked: post what could not be posted */
	void (*release)(struct lobj *o); /* free it (ndkd has destroyed it, or is gone) */
	struct lobj *park_next;
};

struct adapter {
	struct ndk_adapter pub;
	int sock;
	void *region;
	size_t region_size;
	const struct ndk_abi_region *hdr; /* shared: only kstate changes */
	struct ndk_abi_adapter_info info; /* copied at attach */
	uint32_t client_id;
	struct ndk_ring sq;
	struct ndk_ring cq;
	uint32_t unpublished;
	struct req_slot *slots;
	uint32_t nslots;
	uint32_t free_head;
	uint32_t inflight;
	uint32_t idle_polls;
	uint64_t stray_completions; /* cqes matching no request: a daemon bug */
	bool gone;
	unsigned int in_callback; /* depth: callbacks may nest through progress */
	/* Memory: regions are appended under mem_lock and published by count. */
	pthread_mutex_t mem_lock;
	pthread_mutex_t arena_lock; /* creating the arena only */
	struct lregion regions[NDK_LIB_MAX_REGIONS];
	_Atomic uint32_t n_regions;
	struct arena *arena;
	struct lobj *parked_objs;   /* objects with a request to post once the ring has room */
	struct pd *pds;		    /* every PD not yet freed, so adapter close can free them */
	struct cq *cqs;		    /* likewise for CQs */
	struct listener *listeners; /* and listeners */
	struct srq *srqs;	    /* and shared receive queues */
	int bell_fd; /* the doorbell: rung when ndkd's engine sleeps (-1: none, ndkd polls) */
	const _Atomic uint32_t *kengine; /* ndkd's word: NDK_ABI_ENGINE_ASLEEP */
	int event_fd;	 /* the wake socket ndkd sends on (armed CQs, SRQs); -1 until needed */
	int wait_fd;	 /* epoll over event_fd, owed_fd and sock: what apps block on */
	int owed_fd;	 /* eventfd: a notification is owed that ndkd will not kick for */
	bool hung_up;	 /* the wait fd saw the socket hang up: ndkd is gone */
	bool wrs_failed; /* outstanding work requests got their DEVICE_REMOVED */
	uint32_t parked; /* requests ndkd holds until another app acts (see connector.c) */
	/* MRs by id, for results that name one (mr.c): never a raw pointer */
	struct mr_id *mr_ids;
	uint32_t n_mr_ids;
	uint32_t mr_id_free;  /* free list head + 1; 0: none */
	uint32_t n_armed;     /* CQs armed and not yet notified */
	uint32_t n_srq_armed; /* SRQs likewise */
};

#define PD_POOL_TARGET 32u
#define PD_POOL_LOW    16u

/* A PD's stock of pre-created MRs of one kind (handles in ndkd). */
struct mr_pool {
	uint32_t h[PD_POOL_TARGET];
	uint32_t n;
	uint32_t refilling;
	bool used;	/* filled only once the app made an MR of this kind */
	bool exhausted; /* ndkd said INSUFFICIENT_RESOURCES: wait for an MR to go */
};

/*
 * A PD. Its holds: MRs and QPs the app holds or has asked for, not yet
 * closed, and pool refills in flight.
 */
struct pd {
	struct ndk_pd pub;
	struct lobj o;
	struct adapter *ad;
	uint32_t priv_token;
	struct mr_pool pool[2]; /* [0] normal, [1] fast-register */
	struct pd *next, *prev; /* the adapter's list */
	struct mr *mrs;		/* MR objects of this PD not yet freed */
	struct qp *qps;		/* QP objects of this PD not yet freed */
	struct mw *mws;		/* and windows */
};

enum mr_state {
	MR_IDLE,       /* created; never registered, or deregistered */
	MR_BUSY,       /* a register, deregister or initialise is in flight */
	MR_REGISTERED, /* normal MR with a live registration */
	MR_INITIALIZED /* fast-register MR initialised */
};

struct mr {
	struct ndk_mr pub;
	struct pd *pd;
	uint32_t handle;
	uint32_t id_slot; /* in the adapter's MR ids (mr.c) */
	uint32_t token;
	uint32_t token_before; /* to restore when a request fails */
	/*
	 * A registered MR's token for peers, when the provider's NIC checks
	 * remote access with a key of its own (0: token serves both)
	 */
	uint32_t remote_token;
	uint32_t remote_before;
	/* a fast-register MR's: its peers' key is this | the token's variant (0: the token) */
	uint32_t remote_base;
	bool fast_register;
	uint8_t state;
	uint8_t state_before;	/* to restore when a request fails */
	bool remote_ok;		/* initialised with remote access */
	uint32_t inits;		/* initialise calls in flight (they may overlap) */
	struct mr *next, *prev; /* the PD's list */
};

/* A memory window (mw.c). It holds its PD. */
struct mw {
	struct ndk_mw pub;
	struct pd *pd;
	uint32_t handle;
	uint32_t token; /* the last one a bind named */
	bool closing;
	struct mw *next, *prev; /* the PD's list */
};

/* A CQ. Its holds: the QPs that use it. */
struct cq {
	struct ndk_cq pub;
	struct lobj o;
	struct adapter *ad;
	struct ndk_ring ring; /* libndk consumes */
	void *mem;
	/* results of work requests ndkd never answered (it went away), after the ring's */
	struct ndk_abi_result *lost;
	uint32_t n_lost, lost_read;
	bool armed;
	ndk_fn_cq_notification notify;
	void *notify_ctx;
	struct cq *next, *prev;
};

/*
 * A shared receive queue. Its holds: the QPs created with it. It holds its
 * PD. Every receive on it takes 'slots' slots (padded), so ndkd can count
 * them for the notify threshold.
 */
struct srq {
	struct ndk_srq pub;
	struct lobj o;
	struct pd *pd;
	struct ndk_ring ring; /* libndk produces */
	void *mem;
	uint32_t depth;	   /* receives it may hold now */
	uint32_t capacity; /* receives its ring holds: the most depth may become */
	uint32_t max_rsge;
	uint32_t slots;
	bool armed; /* a notification may come: counted in the adapter's n_srq_armed */
	ndk_fn_srq_notification notify;
	void *notify_ctx;
	struct srq *next, *prev; /* the adapter's list */
};

struct qp {
	struct ndk_qp pub;
	struct pd *pd;
	struct cq *rcq;
	struct cq *icq;
	struct srq *srq; /* receives come from it, when set (no rq then) */
	void *qp_context;
	uint32_t handle;
	uint32_t qpn;
	uint32_t psn;	    /* the first it sends on RoCEv2 */
	uint32_t wire_qpn;  /* the number peers on other nodes address it by */
	struct ndk_ring sq; /* libndk produces */
	struct ndk_ring rq;
	void *sq_mem;
	void *rq_mem;
	uint32_t max_isge;
	uint32_t max_rsge;
	uint32_t max_inline;
	uint32_t unpublished;
	bool closing;
	bool connected;		      /* our side is connected: work requests may go */
	struct connector *connecting; /* a connector's CONNECT for it, held in ndkd */
	struct connector *connector;  /* the connector whose connection it carries */
	struct qp *next, *prev;	      /* the PD's list */
};

/*
 * The token a fast register or bind names for its MR or window: the same
 * index, the next variant (as ibv_inc_rkey does); ndkd checks it is not the
 * one in force.
 */
static inline uint32_t
token_next(uint32_t token)
{
	return (token & ~0xffu) | ((token + 1) & 0xffu);
}

static inline struct adapter *
to_adapter(struct ndk_adapter *a)
{
	return (struct adapter *)a;
}

/* req.c: requests on the control ring */
ndk_status req_init(struct adapter *ad);
void req_fini(struct adapter *ad);
ndk_status post_ctrl(struct adapter *ad, const struct ndk_abi_sqe *sqe, uint32_t flags,
		     req_handler handler, void (*user_cb)(void), void *context, void *obj,
		     uintptr_t arg);
/* Publish requests posted with DEFER (also done by progress). */
void post_flush(struct adapter *ad);
/* Reap up to max completions (0: all) and run their handlers; *broken on a lying ring. */
uint32_t req_reap(struct adapter *ad, uint32_t max);
/* Run every request in flight's handler with status now. */
void req_cancel_all(struct adapter *ad, ndk_status status);
/* The daemon is gone: mark the adapter and fail what is in flight (DEVICE_REMOVED). */
uint32_t req_fail_all(struct adapter *ad);
bool req_daemon_stopping(const struct adapter *ad);
/* Run a user callback from a handler: marks the adapter as inside a callback. */
#define CALLBACK(ad, call)                                                                         \
	do {                                                                                       \
		(ad)->in_callback++;                                                               \
		call;                                                                              \
		(ad)->in_callback--;                                                               \
	} while (0)

/* lobj.c: object close (struct lobj), and query_extension for every object */
void lobj_init(struct lobj *o, struct adapter *ad, uint8_t destroy_op,
	       void (*release)(struct lobj *), void (*resume)(struct lobj *));
void lobj_hold(struct lobj *o);
/* A hold is gone: a close that waited for it goes on. */
void lobj_put(struct lobj *o);
/* NDK close: INVALID_DEVICE_STATE when already closing, else PENDING (the callback comes). */
ndk_status lobj_close(struct lobj *o, ndk_fn_close_completion cb, void *ctx);
/* Post the destroy if the object is closing and nothing holds it (the default resume). */
void lobj_try_close(struct lobj *o);
/* Have progress call o->resume once (again) the ring may have room. */
void lobj_park(struct lobj *o);
void lobj_resume_parked(struct adapter *ad);
/* The adapter closes with o still open: a close that returned PENDING gets its callback now. */
void lobj_abandon(struct lobj *o);
ndk_status no_extension(struct ndk_object_header *obj, const struct ndk_guid *id,
			struct ndk_version version, struct ndk_extension_interface *ext);

/* attach.c */
ndk_status attach_channel(const char *socket_path, const struct ndk_adapter_opts *opts,
			  struct adapter *ad);
void detach_channel(struct adapter *ad);
bool channel_hung_up(const struct adapter *ad);
/* Hand ndkd a sealed memfd mapped at addr. Caller holds mem_lock. */
ndk_status channel_add_region(struct adapter *ad, int fd, uint64_t addr, uint64_t size,
			      uint32_t *id);
void bell_send(struct adapter *ad);

/*
 * After publishing a request on any ring to ndkd: if the engine says it
 * sleeps, ring its doorbell. The fence orders the publish before the read
 * (the engine does the mirror: 'asleep', fence, one more look at the rings;
 * models/doorbell.pml). A send only while the engine sleeps.
 */
static inline void
bell_ring(struct adapter *ad)
{
	/* an engine that never sleeps says so once: then a publish costs no fence */
	if ((atomic_load_explicit(ad->kengine, memory_order_relaxed) & NDK_ABI_ENGINE_POLLS) != 0)
		return;
	atomic_thread_fence(memory_order_seq_cst);
	if ((atomic_load_explicit(ad->kengine, memory_order_relaxed) & NDK_ABI_ENGINE_ASLEEP) != 0)
		bell_send(ad);
}

/* Ask ndkd for the wake socket; *fd is its end. Caller holds mem_lock (the socket's lock). */
ndk_status channel_wake_fd(struct adapter *ad, int *fd);
/* What woke the wait fd, without blocking: true for a kick; *hung_up when ndkd went away. */
bool channel_wait_events(struct adapter *ad, bool *hung_up);

/* mem.c */
const struct lregion *region_lookup(struct adapter *ad, uint64_t addr, uint64_t length);
void mem_fini(struct adapter *ad);

/* pd.c */
ndk_status pd_create(struct ndk_adapter *a, ndk_fn_create_completion completion, void *context,
		     struct ndk_pd **pd);
/* Free every PD and MR object the app left open (adapter close). */
void pd_free_all(struct adapter *ad);

/* cq.c */
ndk_status cq_create(struct ndk_adapter *a, uint32_t depth, ndk_fn_cq_notification notification,
		     void *notification_context, ndk_fn_create_completion completion, void *context,
		     struct ndk_cq **cq);
void cq_free_all(struct adapter *ad);
/* ndkd is gone: a result for cq that it will never write. False when out of memory. */
bool cq_add_lost(struct cq *cq, const struct ndk_abi_result *r);
/* ndkd is gone: armed CQs are notified (DEVICE_REMOVED). */
uint32_t cq_notify_gone(struct adapter *ad);
/* Run the notifications of armed CQs ndkd kicked (after channel_wait_events). */
uint32_t cq_notify(struct adapter *ad);
/* A ring of entries in the arena, zeroed, and its view. NULL when out of memory. */
void *ring_alloc(struct adapter *ad, uint32_t entries, struct ndk_ring *r);

/* qp.c */
ndk_status qp_create(struct ndk_pd *p, struct ndk_cq *rcq, struct ndk_cq *icq, void *qp_context,
		     uint32_t rq_depth, uint32_t iq_depth, uint32_t max_rsge, uint32_t max_isge,
		     uint32_t inline_size, ndk_fn_create_completion completion, void *context,
		     struct ndk_qp **qp);
ndk_status qp_create_with_srq(struct ndk_pd *p, struct ndk_cq *rcq, struct ndk_cq *icq,
			      struct ndk_srq *srq, void *qp_context, uint32_t iq_depth,
			      uint32_t max_isge, uint32_t inline_size,
			      ndk_fn_create_completion completion, void *context,
			      struct ndk_qp **qp);
void qp_free(struct qp *qp);
/* Write a receive of n_sge SGEs into r taking 'slots' slots (the caller checked room), publish. */
void recv_post(struct ndk_ring *r, void *ctx, const struct ndk_sge *sgl, uint32_t n_sge,
	       uint32_t slots);
/* ndkd is gone: every work request it did not answer completes DEVICE_REMOVED. */
uint32_t qp_fail_all(struct adapter *ad);

/* connector.c */
struct listener;
struct connector;
/* qp goes while a connector's CONNECT for it is held: the answer must not touch it. */
void connector_forget_qp(struct connector *c);
ndk_status listener_create(struct ndk_adapter *a,
			   void (*connect_event)(void *, struct ndk_connector *), void *event_ctx,
			   ndk_fn_create_completion completion, void *context,
			   struct ndk_listener **listener);
ndk_status connector_create(struct ndk_adapter *a, ndk_fn_create_completion completion,
			    void *context, struct ndk_connector **connector);
void listener_free_all(struct adapter *ad);

/* srq.c */
ndk_status srq_create(struct ndk_pd *p, uint32_t depth, uint32_t max_rsge, uint32_t threshold,
		      ndk_fn_srq_notification notification, void *notification_context,
		      ndk_fn_create_completion completion, void *context, struct ndk_srq **srq);
/* Run the notifications of SRQs ndkd flagged (SUCCESS), or of every armed one (DEVICE_REMOVED). */
uint32_t srq_notify(struct adapter *ad, ndk_status status);
void srq_free_all(struct adapter *ad);

/* mw.c */
ndk_status mw_create(struct ndk_pd *p, ndk_fn_create_completion completion, void *context,
		     struct ndk_mw **mw);
/* Free a window object (its PD is going, or ndkd is). No hold is put back. */
void mw_unlink_free(struct mw *mw);

/* mr.c: MRs, and the PD's pools of pre-created ones */
struct mr_id {
	struct mr *mr;
	uint32_t gen;
	uint32_t next_free;
};
/* An MR's id: its slot | generation << 32; a closed MR's id finds nothing. */
uint64_t mr_id(const struct mr *mr);
struct mr *mr_by_id(struct adapter *ad, uint64_t id);
void mr_ids_fini(struct adapter *ad);
ndk_status mr_create(struct ndk_pd *p, bool fast_register, ndk_fn_create_completion completion,
		     void *context, struct ndk_mr **mr);
void mr_free(struct mr *mr);

#endif /* NDK_PRIV_H */
