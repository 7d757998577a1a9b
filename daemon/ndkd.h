/* SPDX-License-Identifier: BSD-3-Clause */
/* ndkd's own types: options, clients, engines, counters. */
#ifndef NDKD_H
#define NDKD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <ndk/status.h>
#include <ndk/internal/abi.h>
#include <ndk/internal/ring.h>

#define NDKD_MAX_ALLOWED_IDS   32
#define NDKD_MAX_EAL_ARGS      32
#define NDKD_MAX_OWNED_STRINGS 16
#define NDKD_MAX_PORTS	       4
#define NDKD_DEFAULT_PREFIX    "ndkd"
#define NDKD_HELLO_TIMEOUT_MS  5000
/* On SIGTERM, how long engines get to return before ndkd exits without cleanup. */
#define NDKD_STOP_TIMEOUT_MS 5000
/* Connections allowed to wait for their hello at once: a flood cannot eat every fd. */
#define NDKD_MAX_PENDING_HELLO 128
/* Connections accepted per pass of the main loop, between looks at the rest. */
#define NDKD_ACCEPT_BATCH 32
#define NDKD_ENGINE_BATCH 32u

/*
 * An af_xdp port's XDP program: ndkd's, steering RoCEv2 to ndkd and the
 * rest to the kernel (the default), or the PMD's, taking every frame.
 */
enum ndkd_xdp_mode {
	NDKD_XDP_NONE = 0, /* not an af_xdp port */
	NDKD_XDP_STEER,
	NDKD_XDP_ALL,
};

struct uid_quota;

/* Per-client and table limits (from options; adapter info reports them). */
struct ndkd_limits {
	uint32_t mr_table_entries;
	uint32_t max_mrs; /* per client */
	uint32_t max_pds; /* per client */
	uint32_t max_regions;
	uint64_t max_region_bytes;     /* per client: arenas + attached fds */
	uint64_t max_registered_bytes; /* per client: sum of registered MR lengths */
	uint32_t frmr_page_count;      /* pages one fast-register MR may map */
	uint32_t max_qps;	       /* per client */
	uint32_t max_cqs;	       /* per client */
	uint32_t max_srqs;	       /* per client */
	uint32_t max_queue_depth;      /* work requests per send or receive queue */
	uint32_t max_cq_depth;	       /* results per CQ */
	/* per uid, over all its clients (quota.h) */
	uint32_t uid_clients;
	uint32_t uid_mrs;
	uint32_t uid_qps;
	uint32_t uid_cqs;
	uint32_t uid_listeners;
	uint64_t uid_registered_bytes;
	/* ports below this: listened on by port_uid[] only */
	uint32_t privileged_ports;
	uid_t port_uid[NDKD_MAX_ALLOWED_IDS];
	unsigned int n_port_uid;
};

#define NDKD_GID_AUTO 0xffffffffu

struct ndkd_opts {
	const char *socket_path;
	unsigned int socket_mode;
	uid_t allow_uid[NDKD_MAX_ALLOWED_IDS];
	unsigned int n_allow_uid;
	gid_t allow_gid[NDKD_MAX_ALLOWED_IDS];
	unsigned int n_allow_gid;
	const char *lcores;	 /* EAL -l list; first is the main lcore */
	const char *file_prefix; /* EAL --file-prefix, also where telemetry listens */
	const char *provider;	 /* soft, verbs, mlx5, auto */
	const char *device;	 /* verbs, mlx5: the RDMA device (NULL: the first) */
	unsigned int device_port;
	unsigned int gid_index; /* NDKD_GID_AUTO: the port's first IPv4-mapped RoCEv2 GID */
	int huge;		/* 1 yes, 0 no, -1 auto (yes when some are free) */
	unsigned int mem_mb;	/* EAL -m */
	/* engines: poll always, or sleep after an idle spell until a doorbell (engine.c) */
	bool poll_adaptive;
	uint32_t poll_idle_us;	/* the idle spell */
	uint32_t poll_sleep_ms; /* the longest sleep: timers and the watchdog need passes */
	unsigned int max_clients;
	unsigned int ctrl_ring_entries;
	const char *log_level; /* rte_log level name for ndkd's types */
	struct ndkd_limits lim;
	char *eal_extra[NDKD_MAX_EAL_ARGS];
	unsigned int n_eal_extra;
	/* NIC ports for RoCEv2 (roce/port.c): DPDK devargs, IPv4 address and prefix */
	struct ndkd_port_cfg {
		const char *devargs;
		uint32_t ip; /* host order; 0: none given (an xdp steer port: the interface's) */
		uint8_t prefix;
		uint8_t xdp; /* enum ndkd_xdp_mode */
	} ports[NDKD_MAX_PORTS];
	unsigned int n_ports;
	/* the RC transport on those ports (providers/soft/rc.c) */
	uint32_t roce_timeout_us; /* retransmit timeout */
	uint32_t roce_retries;	  /* retransmissions before a QP fails */
	/* test knob: frames the ports mistreat on purpose, per 1000 sent (roce/port.c) */
	struct ndkd_roce_fault {
		uint16_t drop, dup, reorder, icrc;
	} roce_fault;
	const char *config_path;	     /* --config FILE, or NULL */
	char *owned[NDKD_MAX_OWNED_STRINGS]; /* copies of the file's strings */
	unsigned int n_owned;
};

/*
 * opts.c: parse argv (and the --config file under it) into *o. Returns 0 to
 * go on, 1 when --help, --version or a valid --check-config was printed, -1
 * after printing an error to stderr.
 */
int opts_parse(struct ndkd_opts *o, int argc, char **argv);
/* Apply a config file's keys to *o; -1 with "FILE:LINE: what" in err. */
int opts_load_config(struct ndkd_opts *o, const char *path, char *err, size_t errlen);
void opts_defaults(struct ndkd_opts *o);
void opts_free(struct ndkd_opts *o);
void opts_usage(FILE *f, const char *prog);
/* Whether the EAL options name a PCI device (allow or block list): EAL then scans the bus. */
bool opts_wants_pci(const struct ndkd_opts *o);

/* Single-writer counter: a plain load and store, no locked RMW on the fast path. */
static inline void
stat_add(_Atomic uint64_t *ctr, uint64_t v)
{
	atomic_store_explicit(ctr, atomic_load_explicit(ctr, memory_order_relaxed) + v,
			      memory_order_relaxed);
}

/* Counters a client's engine keeps for it (read by telemetry). */
struct client_stats {
	_Atomic uint64_t requests;
	_Atomic uint64_t bad_requests;
};

enum client_state {
	CLIENT_HELLO,	 /* connected, hello not yet seen (main only) */
	CLIENT_ACTIVE,	 /* owned by an engine */
	CLIENT_REMOVING, /* main asked its engine to let go */
};

#define NDKD_MAX_REGIONS	      64
#define NDKD_MAX_QPS_PER_CLIENT	      256u
#define NDKD_MAX_LISTENERS_PER_CLIENT 64u
#define NDKD_MAX_QUEUE_DEPTH	      4096u /* work requests per SQ or RQ */
#define NDKD_MAX_SGE		      16
#define NDKD_MAX_FRMR_PAGES	      4096u /* --frmr-pages may not exceed it */
#define NDKD_MAX_TRANSFER	      (16u << 20)
/*
 * Fairness on an engine (docs/PERFORMANCE.md): a client's data path moves
 * about NDKD_TURN_BYTES per pass (a work request started is finished, so up
 * to a chunk more), and a transfer past NDKD_CHUNK_BYTES moves a chunk at a
 * time, across passes, between everyone else's turns.
 */
#define NDKD_CHUNK_BYTES (256u << 10)
#define NDKD_TURN_BYTES	 (256u << 10)

/* Memory a client mapped and handed us: an arena region or an attached fd. */
struct region {
	uint64_t client_base;
	uint64_t size;
	uint8_t *daemon_base;
};

enum obj_type {
	OBJ_NONE = 0,
	OBJ_PD,
	OBJ_MR,
	OBJ_CQ,
	OBJ_QP,
	OBJ_LISTENER,
	OBJ_MW,
	OBJ_SRQ,
};

/* A client's PD or MR, named by its handle (the index in the client's table). */
struct obj {
	uint8_t type;	    /* enum obj_type */
	uint8_t mr_kind;    /* NDK_ABI_MR_KIND_* */
	uint8_t registered; /* MR: registered (normal) or initialised (fast-register) */
	uint8_t pad;
	uint32_t mr_index; /* MR: its table entry; PD: its privileged token's entry */
	uint32_t pd;	   /* MR: its PD's handle; PD: how many MRs and QPs it has */
	uint32_t next_free;
	void *ptr; /* CQ, QP: ndkd's object; fast-register MR: its page array */
};

struct client {
	uint32_t id;
	enum client_state state;
	int sock;
	pid_t pid;
	uid_t uid;
	gid_t gid;
	struct uid_quota *quota; /* set by main before its engine sees it */
	char name[48];
	uint64_t hello_deadline_ns;
	bool evicted; /* gave way to a newer connection: freed at the end of the poll */
	unsigned int engine;
	/* The channel. */
	int memfd;
	void *region;
	size_t region_size;
	struct ndk_ring sq; /* daemon's private view; never re-read from the region */
	struct ndk_ring cq;
	bool broken; /* engine: protocol violation seen, stop serving */
	/* Regions: main appends and publishes n_regions (release); engines read. */
	struct region regions[NDKD_MAX_REGIONS];
	_Atomic uint32_t n_regions;
	uint64_t region_bytes; /* main only */
	/* ndkd's end of the client's wake socket: set once by main (release); its engine sends */
	_Atomic int wake_fd;
	/* ndkd's end of its doorbell: set once by main (release); its engine reads */
	_Atomic int doorbell_fd;
	/* Objects: owned by the client's engine. Handle 0 is never valid. */
	struct obj *objs;
	uint32_t obj_cap;
	uint32_t obj_hw;   /* handles below this have been handed out at least once */
	uint32_t obj_free; /* free list head, 0 = empty */
	uint32_t n_mrs;	   /* MRs and MWs: both take MR table entries, under one limit */
	uint32_t n_pds;
	uint32_t n_cqs;
	uint32_t n_listeners;
	uint32_t n_srqs;
	uint64_t registered_bytes;
	struct dqp *qps[NDKD_MAX_QPS_PER_CLIENT]; /* the engine serves their send queues */
	uint32_t n_qps;
	uint32_t next_qp; /* whose turn comes first in the next pass (wq_serve) */
	/*
	 * Page arrays of fast-register MRs that closed. Other engines may still
	 * be reading one (and will retry on the sequence count), so they are
	 * reused but freed only with the client, after a grace period.
	 */
	uint64_t **fr_spare;
	uint32_t n_fr_spare;
	/* connections handed to this client's listeners, awaiting accept or reject */
	struct conn_msg *conns;
	uint64_t next_conn_id; /* the id the next one gets (ids are per client, from 1) */
	uint32_t n_connects;   /* CONNECTs it has in flight (answered or not, QP closed or not) */
	struct client_stats stats;
	struct client *next; /* main's list */
};

/* client.c: the channel region. */
int channel_create(struct client *c, uint32_t ring_entries,
		   const struct ndk_abi_adapter_info *info);
void channel_destroy(struct client *c);
void channel_set_state(struct client *c, uint32_t state);

struct mrt;
struct mrt_cache;
struct qpt;
struct listen_table;
struct provider;
struct dp_chunk;

/*
 * What an engine lends the code it runs for its clients: the node-wide
 * tables, its MR index cache, the limits, its provider state and scratch
 * space. One per engine; only that engine uses it.
 */
struct engine_bell;

struct ectx {
	struct mrt *mrt;
	struct mrt_cache *cache;
	const struct ndkd_limits *lim;
	struct qpt *qpt;
	unsigned int engine; /* this engine's id */
	struct listen_table *listen;
	struct rte_ring **conn_inbox;		       /* every engine's, by id */
	struct engine_bell *bells;		       /* every engine's, by id (engine.h) */
	struct conn_msg *conn_defer, *conn_defer_tail; /* waiting for room there (conn.c) */
	struct provider *prov;
	void *prov_engine; /* the provider's state for this engine (engine_init) */
	/* access.c: where the pieces of a transfer's two sides are resolved */
	struct dp_chunk *local;
	struct dp_chunk *remote;
	uint32_t max_chunks;
};

/*
 * ctrl.c: execute one control request (already copied out of shared memory).
 * Returns false when the request was malformed (counted as a bad request).
 */
bool ctrl_execute(struct client *c, struct ectx *x, const struct ndk_abi_sqe *sqe,
		  struct ndk_abi_cqe *cqe);

/*
 * Serve up to 'budget' requests from c's control ring. Returns how many were
 * served; sets c->broken on a protocol violation. With 'cancel' set every
 * request is answered with DEVICE_REMOVED instead of being executed.
 */
unsigned int ctrl_serve(struct client *c, struct ectx *x, unsigned int budget, bool cancel,
			uint64_t *bad);

/* Free every object the client had (its engine, when the client goes). */
void ctrl_release_all(struct client *c, struct ectx *x);

/*
 * client.c: answer a request held earlier (its user_data) on c's control
 * completion ring. Only c's engine may call it. The library keeps a
 * completion slot per request in flight, so there is always room.
 */
void channel_complete(struct client *c, uint64_t user_data, uint8_t opcode, ndk_status status,
		      uint64_t out0, uint64_t out1);
/* One message on the client's socket, fd (>= 0) as SCM_RIGHTS, never waiting; false: it failed. */
bool client_send(struct client *c, const void *buf, size_t len, int fd);
/*
 * Wake the client (an armed CQ has a result, an SRQ ran low), if it asked
 * for a wake socket. Never blocks, whatever the client does with its end.
 */
void client_kick(struct client *c);

/* obj.c: the client's object table. Handle 0 is never valid. */
uint32_t obj_new(struct client *c, uint8_t type, void *ptr);
void obj_delete(struct client *c, uint32_t handle);

/* The client's object of this type named by handle, or NULL (inline: every work request asks). */
static inline struct obj *
obj_lookup(struct client *c, uint32_t h, uint8_t type)
{
	if (h == 0 || h >= c->obj_hw || c->objs[h].type != type)
		return NULL;
	return &c->objs[h];
}

/* region.c: the region holding [va, va + length), or NULL. Engine side. */
const struct region *region_find(const struct client *c, uint64_t va, uint64_t length,
				 uint32_t *id);
/*
 * Point r at a ring of 'entries' the client placed at 'addr' in one of its
 * regions; false when it is not a valid ring there.
 */
bool region_ring_map(const struct client *c, struct ndk_ring *r, uint64_t addr, uint64_t entries,
		     bool produce);

#endif /* NDKD_H */
