/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The verbs provider: the RDMA work done by an rdma-core device (any of
 * them: a ConnectX, a Broadcom or Intel NIC, the kernel's rxe or siw). The
 * NIC moves the bytes and checks remote access with keys of its own; ndkd
 * keeps everything it checks for every provider (handles, work requests,
 * local access against its MR table) and translates what passed into
 * verbs: local pieces into the lkey of the region they lie in, a
 * registered MR with remote access into a device MR over its range.
 *
 * What it holds:
 * - per NDK PD, a device PD, and the client's regions registered in it
 *   (ibv_reg_mr_iova with the app's addresses as IOVAs) as the PD first
 *   uses them;
 * - per engine, one CQ that all its QPs share (sized so it never
 *   overflows: each QP reserves its send window and receive depth), and a
 *   hash from the device's QP numbers to QPs;
 * - per QP, an RC QP of the device; receives move from the client's ring
 *   to the device's as room allows, and complete in order.
 * Nothing here is seen outside providers/verbs/.
 */
#ifndef NDKD_VERBS_H
#define NDKD_VERBS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include <infiniband/verbs.h>

#include "../../provider.h"

#define VERBS_QP_WINDOW 64u  /* sends a QP has on the device at once: the provider's qp_window */
#define VERBS_RQ_DEPTH	128u /* receives a QP has on the device at once */
#define VERBS_CQ_MAX	65536u
#define VERBS_RD_ATOM	16u /* reads out and served per QP, as the soft provider's RC_READS */

struct verbs;
struct verbs_key;
struct verbs_pd;
struct verbs_qp;
struct rte_tel_data;

/*
 * Where ndkd's address of a page is registered with the device: the lkey,
 * the IOVA of addr under it, the bytes from addr to the registration's end.
 */
typedef bool (*verbs_resolve_fn)(void *arg, uint64_t addr, uint32_t *lkey, uint64_t *iova,
				 uint64_t *room);

/*
 * A layer over this provider that does part of its work its own way
 * (mlx5: the device opened for DEVX, fast register through indirect mkeys
 * and UMR). NULL members: the verbs way.
 */
struct verbs_dv {
	bool (*match)(struct ibv_device *dev); /* devices it takes */
	struct ibv_context *(*open)(struct ibv_device *dev);
	int (*init)(struct verbs *v); /* the device is open and queried: 0 or -errno */
	void (*fini)(struct verbs *v);
	struct ibv_qp *(*create_qp)(struct verbs *v, struct verbs_qp *q, struct ibv_pd *pd,
				    struct ibv_qp_init_attr *ia);
	int (*pd_init)(struct verbs *v, struct verbs_pd *vpd);
	void (*pd_fini)(struct verbs *v, struct verbs_pd *vpd);
	/* A fast-register MR's NIC key, taken as it is initialised: k->mkey and its key, or 0. */
	uint32_t (*fr_take)(struct verbs *v, struct verbs_pd *vpd, struct verbs_key *k);
	/* ... and destroyed as the MR goes (which kills its key on the NIC) */
	void (*fr_drop)(struct verbs *v, struct verbs_key *k);
	/*
	 * Map k over m's pages (resolve: where each is registered) at m->va
	 * with tag m->variant, in q's order, as wr_id: 0 or -errno (-E2BIG:
	 * more pieces than one request carries).
	 */
	int (*fr_post)(struct verbs *v, struct verbs_qp *q, struct verbs_key *k,
		       const struct fr_map *m, verbs_resolve_fn resolve, void *arg, uint64_t wr_id);
	void (*telemetry)(const struct verbs *v, struct rte_tel_data *d);
};

/* The device and what ndkd was told to use of it (p->priv). */
struct verbs {
	const struct verbs_dv *dv; /* NULL: plain verbs */
	void *dv_priv;
	struct ibv_context *ctx;
	struct ibv_device_attr_ex attr;
	struct ibv_port_attr port_attr;
	char name[IBV_SYSFS_NAME_MAX];
	uint8_t port;
	uint8_t gid_index;
	union ibv_gid gid;
	uint32_t ipv4; /* the GID's IPv4 address, host order (0: not IPv4-mapped) */
	uint32_t cq_size;
	/*
	 * By ndkd's QP number: the device's number of that QP and the first
	 * PSN it sends, for a peer on this node that connects to it (any
	 * engine reads; the owner writes). 0: none.
	 */
	_Atomic uint64_t *local_addr;
	uint32_t n_local_addr;
	/* by MR table entry: what the NIC checks peers' requests against */
	struct verbs_key *keys;
	uint32_t n_keys;
	bool mw2; /* type 2 memory windows: fast register for peers */
	/* the wc_flags bit that says a receive invalidated a key (rxe's differs: verbs.c) */
	unsigned int wc_with_inv;
	/* counters (relaxed; read by telemetry) */
	_Atomic uint64_t n_reg_mr, n_dereg_mr, n_wc_err;
};

/*
 * The NIC's side of an MR table entry peers may reach. A registered MR: a
 * device MR over its range (its rkey is the remote token). A fast-register
 * MR: a type 2 window, made once, bound by each fast register to a device
 * MR over the new mapping (IOVA: the app's address for it), the window's
 * key tag set to the MR's new variant, so the key follows ndkd's token.
 */
struct verbs_key {
	struct ibv_mr *mr;
	struct ibv_mw *mw;
	void *mkey;	  /* a layer's key instead of a window (verbs_dv; mw NULL) */
	uint32_t dv_base; /* ... its key's upper 24 bits */
	uint32_t key;	  /* the window's key as last bound (0: not bound) */
	/*
	 * A type 2 window is bound through a QP and reached only through it;
	 * the QP cannot go while it is. The windows a QP bound: a list
	 * through their entries (index + 1; 0 ends it).
	 */
	struct verbs_qp *bound;
	uint32_t prev, next;
};

/* A PD of a client (its obj's ptr). */
struct verbs_pd {
	struct ibv_pd *pd;
	struct ibv_mr *region_mr[NDKD_MAX_REGIONS]; /* as this PD first uses each region */
	void *dv;				    /* the layer's (mlx5: its mkey pool) */
};

/* A receive handed to the device, until its result reaches the client's CQ. */
struct verbs_recv {
	uint64_t request_context;
	uint64_t cookie;
	ndk_status status; /* once done */
	uint32_t bytes;
	uint32_t type;
	uint32_t token;
	bool done;
};

/* Per QP (qp->prov). */
struct verbs_qp {
	struct ibv_qp *qp;
	struct ibv_qp_ex *qpx; /* a layer's QP that takes its own work requests */
	uint32_t dv_max;       /* ... and how many entries one of them carries */
	struct verbs_pd *vpd;
	bool local_peer;     /* its peer is on this node: checked in ndkd's QP table first */
	bool rq_stop;	     /* a receive that cannot go to the device waits at the tail */
	uint32_t bound_head; /* the windows bound through it (verbs_key: index + 1) */
	uint32_t sends;	     /* on the device */
	uint32_t send_id[VERBS_QP_WINDOW];	   /* the wr_id wq.c gave it */
	struct ibv_mr *send_drop[VERBS_QP_WINDOW]; /* a bind's old MR: deregistered after it */
	uint32_t send_bind[VERBS_QP_WINDOW];	   /* a bind's window (index + 1; 0: not a bind) */
	uint64_t send_bytes[VERBS_QP_WINDOW];
	bool send_live[VERBS_QP_WINDOW];
	uint32_t rq_head, rq_tail; /* free-running: oldest not reported, next free */
	struct verbs_recv rq[VERBS_RQ_DEPTH];
	LIST_ENTRY(verbs_qp) link; /* the engine's */
};

/* Per engine (x->prov_engine). */
struct verbs_engine {
	struct ibv_cq *cq;
	uint32_t cq_free;     /* entries not reserved by a QP */
	bool polling;	      /* in poll_cq: a QP erring from there does not poll again */
	uint32_t inv_pending; /* windows being invalidated before their QP goes */
	struct rte_hash *by_qpn;
	struct rte_hash
		*by_key; /* a window's key >> 8 -> its MR table entry, for a remote invalidate */
	LIST_HEAD(verbs_qps, verbs_qp) qps;
};

extern const struct provider_ops verbs_provider_ops;
#ifdef NDKD_HAVE_MLX5
/* mlx5_provider_ops: the verbs ops with these two (providers/mlx5/mlx5.c). */
int mlx5_probe(struct provider *p, const struct ndkd_opts *o, const char **why);
int mlx5_init(struct provider *p, const struct ndkd_opts *o);
#endif

/* The verbs provider's init, with a layer over it (NULL: none). */
int verbs_init_with(struct provider *p, const struct ndkd_opts *o, const struct verbs_dv *dv);

/* NDK_ADAPTER_INFO from a device's attributes under ndkd's limits (verbs and mlx5 alike). */
void verbs_device_limits(const struct ibv_device_attr *a, const struct ndkd_limits *lim,
			 struct ndk_abi_adapter_info *i);

#endif /* NDKD_VERBS_H */
