/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Providers do the RDMA work behind the engines: 'soft' in software (always
 * built), 'verbs' through any rdma-core device, 'mlx5' through rdma-core's
 * mlx5 direct verbs (built when libibverbs, and mlx5dv, are found). One ops table each, like
 * rdma-core's verbs_context_ops; entries a provider leaves NULL are filled from a default table
 * that answers NOT_SUPPORTED (or does nothing, for notifications), so callers never check for NULL.
 *
 * What a provider is given has been decoded and checked by common code
 * (ctrl.c, wq.c, mr.c, access.c): handles resolved, work requests copied
 * out of shared memory and validated, local pieces access-checked. A
 * provider never reads memory the client can still write, except the bytes
 * of a transfer.
 *
 * Threads: probe, init, fini, query and the region hooks run on the main
 * lcore; everything else on the engine that owns the client or QP, with
 * that engine's struct ectx.
 */
#ifndef NDKD_PROVIDER_H
#define NDKD_PROVIDER_H

#include "ndkd.h"

struct provider;
struct dqp;
struct rte_tel_data;
struct peer_addr;
struct wq_op;

/* A fast register as checked by common code: the mapping the MR takes. */
struct fr_map {
	const uint64_t *pages; /* n_pages of them, where ndkd maps them */
	uint32_t n_pages;
	uint32_t fbo;
	uint64_t va; /* the app's address of the first byte */
	uint64_t length;
	uint8_t access;	 /* MRT_ACCESS_* */
	uint8_t variant; /* the MR's variant from this request on */
	uint32_t key;	 /* out: the key peers use now, when the provider's NIC has its own */
};

struct provider_ops {
	const char *name;
	/* 0 when the provider can run on this machine; else -errno and a reason in *why. */
	int (*probe)(struct provider *p, const struct ndkd_opts *o, const char **why);
	int (*init)(struct provider *p, const struct ndkd_opts *o);
	void (*fini)(struct provider *p);
	/*
	 * Telemetry's thread (/ndkd/provider): what it drives (device,
	 * firmware, limits) and its counters, added to dict d.
	 */
	void (*telemetry)(struct provider *p, struct rte_tel_data *d);
	/* Fill what the adapter can do (NDK_ADAPTER_INFO) under ndkd's limits. */
	ndk_status (*query)(struct provider *p, const struct ndkd_limits *lim,
			    struct ndk_abi_adapter_info *info);

	/* An engine starts (sets x->prov_engine) or stops (every client is gone). */
	int (*engine_init)(struct provider *p, struct ectx *x);
	void (*engine_fini)(struct provider *p, struct ectx *x);
	/*
	 * Once per engine pass: inboxes, received packets, hardware CQs,
	 * timers. Returns how much work it did.
	 */
	unsigned int (*poll)(struct ectx *x, unsigned int budget);
	/*
	 * After an idle spell (adaptive polling): true when nothing the
	 * provider waits for can come without a bell or a doorbell ringing
	 * (no packets, no hardware completions, nothing in flight to another
	 * engine), so the engine may sleep. Default: false, it polls.
	 */
	bool (*can_sleep)(struct ectx *x);

	/* c's PD 'handle' was made (its obj's ptr is the provider's), or goes (its MRs are gone).
	 */
	ndk_status (*pd_create)(struct ectx *x, struct client *c, uint32_t handle);
	void (*pd_destroy)(struct ectx *x, struct client *c, uint32_t handle);

	/* Main lcore: a region of c was mapped at r->daemon_base, or is about to be unmapped. */
	ndk_status (*region_add)(struct provider *p, struct client *c, const struct region *r);
	void (*region_del)(struct provider *p, struct client *c, const struct region *r);

	/*
	 * The MR table entry 'index' of c became VALID by registration, or an
	 * initialised fast-register MR (mr_register), or stops being usable
	 * (mr_deregister: deregister, close, client gone). A provider whose
	 * NIC checks remote access itself sets *remote to the key peers must
	 * use (the client hands that out as the MR's remote token); for a
	 * fast-register MR, the key's upper 24 bits, whose low 8 bits then
	 * follow the MR's variant.
	 */
	ndk_status (*mr_register)(struct ectx *x, struct client *c, uint32_t index,
				  uint32_t *remote);
	void (*mr_deregister)(struct ectx *x, struct client *c, uint32_t index);
	/*
	 * Fast register and invalidate, as work requests of qp: SUCCESS,
	 * PENDING (completed later by wq_complete(wr_id)) or an error. The
	 * MR table is updated by the caller when this does not fail.
	 */
	ndk_status (*mr_fast_register)(struct ectx *x, struct dqp *qp, uint32_t index,
				       struct fr_map *m, uint32_t wr_id);
	ndk_status (*mr_invalidate)(struct ectx *x, struct dqp *qp, uint32_t index, uint32_t wr_id);
	/* Bind window 'index' (the MR table entry) as a work request of qp; like fast register. */
	ndk_status (*mw_bind)(struct ectx *x, struct dqp *qp, uint32_t index, uint32_t wr_id);

	/* qp's common part is set up; its provider state (qp->prov) is zeroed. */
	ndk_status (*qp_create)(struct ectx *x, struct dqp *qp);
	/* Connect qp to peer; on SUCCESS the caller moves it to RTS. */
	ndk_status (*qp_connect)(struct ectx *x, struct dqp *qp, const struct peer_addr *peer);
	/*
	 * CONNECT qp to a listener on another node (in: the app's request,
	 * checked; blk: its block, for the answer): PENDING, answered through
	 * conn_answer(); or an error now.
	 */
	ndk_status (*cm_connect)(struct ectx *x, struct client *c, uint32_t qp_handle,
				 const struct ndk_abi_conn *in, struct ndk_abi_conn *blk,
				 uint64_t user_data);
	/*
	 * End qp's connection made by cm_connect or a remote REQ (DISCONNECT):
	 * PENDING (answered by a CONN_DISCONNECT_DONE message), SUCCESS when
	 * it has already ended, NOT_SUPPORTED when qp has no such connection.
	 */
	ndk_status (*cm_disconnect)(struct ectx *x, struct dqp *qp, uint64_t user_data);
	/* qp has just moved to ERROR: fail what the provider holds for it. */
	void (*qp_error)(struct ectx *x, struct dqp *qp);
	/* qp goes (after qp_error): let go of everything of it. */
	void (*qp_destroy)(struct ectx *x, struct dqp *qp);
	/*
	 * One send, read or write of qp (op: checked, local pieces resolved):
	 * SUCCESS with res->bytes set, PENDING (completed later by
	 * wq_complete(wr_id)) or an error status.
	 */
	ndk_status (*post_send)(struct ectx *x, struct dqp *qp, const struct wq_op *op,
				uint32_t wr_id, struct ndk_abi_result *res);
	/*
	 * qp->want_step is set: go on with what the provider does for qp by
	 * turns (sends waiting for receives, which wq_recv_next takes; a
	 * transfer moved a chunk at a time), about budget bytes of it (budget
	 * > 0). Returns the bytes moved.
	 */
	uint64_t (*qp_step)(struct ectx *x, struct dqp *qp, uint64_t budget);
};

struct provider {
	struct provider_ops ops;
	void *priv;
	uint32_t qp_priv_size; /* bytes of provider state after each struct dqp */
	uint32_t qp_window;    /* work requests a QP may have PENDING at once (a power of two) */
	char detail[128];      /* what it drives, for logs and telemetry */
};

extern const struct provider_ops soft_provider_ops;
#ifdef NDKD_HAVE_MLX5
extern const struct provider_ops mlx5_provider_ops;
#endif
#ifdef NDKD_HAVE_VERBS
extern const struct provider_ops verbs_provider_ops;
#endif

/*
 * Pick the provider 'name' asks for (soft, verbs, mlx5, auto) and
 * initialise it. With no RoCEv2 port of ndkd's own configured, auto takes
 * mlx5 when a device probes, else verbs when an RDMA device probes; else
 * soft. Returns 0 or -errno
 * after logging why.
 */
int provider_select(struct provider *p, const char *name, const struct ndkd_opts *o);
/* Set p up with ops (NULL entries from the default table), not yet initialised. */
void provider_set_ops(struct provider *p, const struct provider_ops *ops);

#endif /* NDKD_PROVIDER_H */
