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
	struct pd *retry; /* PDs whose destroy could not be posted yet (ring full) */
	struct pd *pds;	  /* every PD not yet freed, so adapter close can free them */
	struct cq *cqs;	  /* likewise for CQs */
	struct cq *cq_retry;
	int event_fd;	 /* kicked by ndkd for armed CQs; -1 until first needed */
	uint32_t parked; /* requests ndkd holds until another app acts (see connector.c) */
	struct listener *listener_retry;
	uint32_t n_armed; /* CQs armed and not yet notified */
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

struct pd {
	struct ndk_pd pub;
	struct adapter *ad;
	uint32_t handle;
	uint32_t priv_token;
	uint32_t n_mrs;	   /* MRs and QPs the app holds or has asked for, not yet closed */
	uint32_t internal; /* pool refills in flight */
	bool closing;
	bool destroy_posted;
	ndk_fn_close_completion close_cb;
	void *close_ctx;
	struct mr_pool pool[2]; /* [0] normal, [1] fast-register */
	struct pd *retry_next;
	struct pd *next, *prev; /* the adapter's list */
	struct mr *mrs;		/* MR objects of this PD not yet freed */
	struct qp *qps;		/* QP objects of this PD not yet freed */
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
	uint32_t token;
	uint32_t token_before; /* to restore when a request fails */
	bool fast_register;
	uint8_t state;
	uint8_t state_before;	/* to restore when a request fails */
	bool remote_ok;		/* initialised with remote access */
	bool remote_asked;	/* the initialise in flight asks for it */
	struct mr *next, *prev; /* the PD's list */
};

struct cq {
	struct ndk_cq pub;
	struct adapter *ad;
	uint32_t handle;
	struct ndk_ring ring; /* libndk consumes */
	void *mem;
	uint32_t n_qps;
	bool closing;
	bool destroy_posted;
	bool armed;
	ndk_fn_close_completion close_cb;
	void *close_ctx;
	ndk_fn_cq_notification notify;
	void *notify_ctx;
	struct cq *next, *prev, *retry_next;
};

struct qp {
	struct ndk_qp pub;
	struct pd *pd;
	struct cq *rcq;
	struct cq *icq;
	void *qp_context;
	uint32_t handle;
	uint32_t qpn;
	struct ndk_ring sq; /* libndk produces */
	struct ndk_ring rq;
	void *sq_mem;
	void *rq_mem;
	uint32_t max_isge;
	uint32_t max_rsge;
	uint32_t max_inline;
	uint32_t unpublished;
	bool closing;
	struct qp *next, *prev; /* the PD's list */
};

static inline struct adapter *
to_adapter(struct ndk_adapter *a)
{
	return (struct adapter *)a;
}

/* adapter.c */
ndk_status post_ctrl(struct adapter *ad, const struct ndk_abi_sqe *sqe, uint32_t flags,
		     req_handler handler, void (*user_cb)(void), void *context, void *obj,
		     uintptr_t arg);
ndk_status no_extension(struct ndk_object_header *obj, const struct ndk_guid *id,
			struct ndk_version version, struct ndk_extension_interface *ext);
/* Publish requests posted with DEFER (also done by progress). */
void post_flush(struct adapter *ad);
/* Run a user callback from a handler: marks the adapter as inside a callback. */
#define CALLBACK(ad, call)                                                                         \
	do {                                                                                       \
		(ad)->in_callback++;                                                               \
		call;                                                                              \
		(ad)->in_callback--;                                                               \
	} while (0)

/* attach.c */
ndk_status attach_channel(const char *socket_path, const struct ndk_adapter_opts *opts,
			  struct adapter *ad);
void detach_channel(struct adapter *ad);
bool channel_hung_up(const struct adapter *ad);
/* Hand ndkd a sealed memfd mapped at addr. Caller holds mem_lock. */
ndk_status channel_add_region(struct adapter *ad, int fd, uint64_t addr, uint64_t size,
			      uint32_t *id);
/* Hand ndkd the adapter's eventfd. Caller holds mem_lock (the socket's slow-path lock). */
ndk_status channel_set_event_fd(struct adapter *ad, int fd);

/* mem.c */
const struct lregion *region_lookup(struct adapter *ad, uint64_t addr, uint64_t length);
void mem_fini(struct adapter *ad);

/* pd.c */
ndk_status pd_create(struct ndk_adapter *a, ndk_fn_create_completion completion, void *context,
		     struct ndk_pd **pd);
/* An MR of pd closed (or a create failed): the PD's close may now finish. */
void pd_mr_gone(struct pd *pd);
/* Post PD destroys that found the ring full before. */
void pd_retry(struct adapter *ad);
/* Take back an unused MR handle; false when the pool is full or closing. */
bool pd_pool_put(struct pd *pd, bool fast_register, uint32_t handle);

/* Free every PD and MR object the app left open (adapter close). */
void pd_free_all(struct adapter *ad);

/* cq.c */
ndk_status cq_create(struct ndk_adapter *a, uint32_t depth, ndk_fn_cq_notification notification,
		     void *notification_context, ndk_fn_create_completion completion, void *context,
		     struct ndk_cq **cq);
/* A QP using cq closed: the CQ's pending close may go on. */
void cq_qp_gone(struct cq *cq);
void cq_retry(struct adapter *ad);
void cq_free_all(struct adapter *ad);
/* Run the notifications of armed CQs that have results. */
uint32_t cq_notify(struct adapter *ad);
/* A ring of entries in the arena, zeroed, and its view. NULL when out of memory. */
void *ring_alloc(struct adapter *ad, uint32_t entries, struct ndk_ring *r);

/* qp.c */
ndk_status qp_create(struct ndk_pd *p, struct ndk_cq *rcq, struct ndk_cq *icq, void *qp_context,
		     uint32_t rq_depth, uint32_t iq_depth, uint32_t max_rsge, uint32_t max_isge,
		     uint32_t inline_size, ndk_fn_create_completion completion, void *context,
		     struct ndk_qp **qp);
void qp_free(struct qp *qp);

/* connector.c */
struct listener;
ndk_status listener_create(struct ndk_adapter *a,
			   void (*connect_event)(void *, struct ndk_connector *), void *event_ctx,
			   ndk_fn_create_completion completion, void *context,
			   struct ndk_listener **listener);
ndk_status connector_create(struct ndk_adapter *a, ndk_fn_create_completion completion,
			    void *context, struct ndk_connector **connector);
void listener_retry(struct adapter *ad);

/* mr.c */
struct mr *mr_new(struct pd *pd, uint32_t handle, bool fast_register);
void mr_free(struct mr *mr);

#endif /* NDK_PRIV_H */
