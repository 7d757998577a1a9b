/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The mlx5 provider: the verbs provider on a ConnectX opened for DEVX,
 * with fast register for peers done the way the NIC does it best: each
 * fast-register MR takes an indirect mkey (from a pool per PD, made ahead),
 * and each fast register is one UMR work request on the QP, in its order,
 * that maps the mkey over the pages where they lie (no page need follow
 * another) at the app's address, with ndkd's variant as the key's tag.
 * Invalidate (LOCAL_INV) and a peer's send with invalidate kill the key as
 * for a window. Everything else is the verbs provider's (verbs.c).
 *
 * Without the kernel's leave to set an mkey's tag (MKEY_UPDATE_TAG) the
 * mkeys are not used: fast register falls back to type 2 windows.
 * Nothing here has run on ConnectX hardware (docs/providers.md); the
 * device-independent part (umr.c) is unit-tested.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <infiniband/mlx5dv.h>
#include <infiniband/verbs.h>
#include <rte_common.h>
#include <rte_telemetry.h>

#include "../../log.h"
#include "../../mrt.h"
#include "../../provider.h"
#include "../verbs/verbs.h"
#include "umr.h"

#define MKEY_POOL_CAP 16u /* per PD: made at its creation, and again below ... */
#define MKEY_POOL_LOW 4u

struct mlx5_dv {
	struct mlx5dv_context caps; /* mlx5dv_query_device */
	bool umr;		    /* indirect mkeys whose tag ndkd sets */
	_Atomic uint64_t n_mkeys, n_mkeys_destroyed, n_umr, n_umr_refused;
};

/* A PD's pool (verbs_pd.dv). */
struct mlx5_pd {
	struct ibv_pd *pd;
	struct mlx5_dv *dv;
	struct mkey_pool pool;
};

static bool
dv_match(struct ibv_device *dev)
{
	return mlx5dv_is_supported(dev);
}

int
mlx5_probe(struct provider *p, const struct ndkd_opts *o, const char **why)
{
	struct ibv_device **list;
	int n = 0, i, rc = -ENODEV;

	(void)p;
	list = ibv_get_device_list(&n);
	if (list == NULL) {
		*why = "no RDMA devices (ibv_get_device_list failed)";
		return -ENODEV;
	}
	*why = o->device != NULL ? "no mlx5 device of that name (--device)"
				 : "no mlx5 device found";
	for (i = 0; i < n && rc != 0; i++) {
		if (dv_match(list[i]) &&
		    (o->device == NULL || strcmp(ibv_get_device_name(list[i]), o->device) == 0))
			rc = 0;
	}
	ibv_free_device_list(list);
	return rc;
}

/* DEVX: what mlx5dv_create_mkey needs. */
static struct ibv_context *
dv_open(struct ibv_device *dev)
{
	struct mlx5dv_context_attr a = { .flags = MLX5DV_CONTEXT_FLAGS_DEVX };

	return mlx5dv_open_device(dev, &a);
}

static struct mlx5dv_mkey *
make_mkey(struct ibv_pd *pd)
{
	struct mlx5dv_mkey_init_attr a = {
		.pd = pd,
		.create_flags = MLX5DV_MKEY_INIT_ATTR_FLAGS_INDIRECT |
				MLX5DV_MKEY_INIT_ATTR_FLAGS_UPDATE_TAG |
				MLX5DV_MKEY_INIT_ATTR_FLAGS_REMOTE_INVALIDATE,
		.max_entries = UMR_MAX_ENTRIES,
	};

	return mlx5dv_create_mkey(&a);
}

static int
dv_init(struct verbs *v)
{
	struct mlx5_dv *d = calloc(1, sizeof(*d));
	struct mlx5dv_mkey *k;
	struct ibv_pd *pd;

	if (d == NULL)
		return -ENOMEM;
	if (mlx5dv_query_device(v->ctx, &d->caps) != 0)
		NDKD_LOG(WARNING, main, "mlx5: %s: mlx5dv_query_device failed", v->name);
	/* one mkey made and destroyed: the kernel lets ndkd set its tag, or not */
	pd = ibv_alloc_pd(v->ctx);
	k = pd != NULL ? make_mkey(pd) : NULL;
	d->umr = k != NULL;
	if (k == NULL)
		NDKD_LOG(WARNING, main,
			 "mlx5: %s: no indirect mkey with a tag of ndkd's (%s): fast register "
			 "for peers through memory windows",
			 v->name, strerror(errno));
	else
		mlx5dv_destroy_mkey(k);
	if (pd != NULL)
		ibv_dealloc_pd(pd);
	v->dv_priv = d;
	return 0;
}

static void
dv_fini(struct verbs *v)
{
	free(v->dv_priv);
	v->dv_priv = NULL;
}

/*
 * An RC QP that takes raw WQEs, with send WQEs large enough for a UMR of
 * every entry, or as many as the device's WQE size leaves room for.
 */
static struct ibv_qp *
dv_create_qp(struct verbs *v, struct verbs_qp *q, struct ibv_pd *pd, struct ibv_qp_init_attr *ia)
{
	static const uint32_t inline_try[] = { UMR_INLINE_FOR_MAX, 476 };
	struct mlx5_dv *d = v->dv_priv;
	struct ibv_qp_init_attr_ex ax;
	struct mlx5dv_qp_init_attr dx = {
		.comp_mask = MLX5DV_QP_INIT_ATTR_MASK_SEND_OPS_FLAGS,
		.send_ops_flags = MLX5DV_QP_EX_WITH_RAW_WQE,
	};
	struct ibv_qp *qp = NULL;
	size_t i;

	if (!d->umr)
		return ibv_create_qp(pd, ia);
	for (i = 0; i <= RTE_DIM(inline_try) && qp == NULL; i++) {
		ax = (struct ibv_qp_init_attr_ex){
			.send_cq = ia->send_cq,
			.recv_cq = ia->recv_cq,
			.cap = ia->cap,
			.qp_type = ia->qp_type,
			.sq_sig_all = ia->sq_sig_all,
			.comp_mask = IBV_QP_INIT_ATTR_PD | IBV_QP_INIT_ATTR_SEND_OPS_FLAGS,
			.pd = pd,
			.send_ops_flags = IBV_QP_EX_WITH_LOCAL_INV,
		};
		/* the last try: the app's inline alone (a UMR of few entries, or none) */
		if (i < RTE_DIM(inline_try) && ax.cap.max_inline_data < inline_try[i])
			ax.cap.max_inline_data = inline_try[i];
		qp = mlx5dv_create_qp(v->ctx, &ax, &dx);
	}
	if (qp == NULL)
		return NULL;
	ia->cap = ax.cap;
	q->qpx = ibv_qp_to_qp_ex(qp);
	q->dv_max = umr_entries_for(ax.cap.max_inline_data);
	return qp;
}

static void *
pool_create(void *arg)
{
	struct mlx5_pd *mp = arg;
	struct mlx5dv_mkey *k = make_mkey(mp->pd);

	if (k != NULL)
		atomic_fetch_add_explicit(&mp->dv->n_mkeys, 1, memory_order_relaxed);
	return k;
}

static void
destroy_mkey(struct mlx5_dv *d, struct mlx5dv_mkey *k)
{
	if (mlx5dv_destroy_mkey(k) != 0)
		NDKD_LOG(WARNING, engine, "mlx5: an mkey stays: %s", strerror(errno));
	else
		atomic_fetch_add_explicit(&d->n_mkeys_destroyed, 1, memory_order_relaxed);
}

static void
pool_destroy(void *arg, void *mkey)
{
	destroy_mkey(((struct mlx5_pd *)arg)->dv, mkey);
}

static int
dv_pd_init(struct verbs *v, struct verbs_pd *vpd)
{
	struct mlx5_dv *d = v->dv_priv;
	struct mlx5_pd *mp;

	if (!d->umr)
		return 0;
	mp = calloc(1, sizeof(*mp));
	if (mp == NULL)
		return -ENOMEM;
	mp->pd = vpd->pd;
	mp->dv = d;
	if (mkey_pool_init(&mp->pool, MKEY_POOL_CAP, MKEY_POOL_LOW, pool_create, pool_destroy,
			   mp) != 0) {
		free(mp);
		return -ENOMEM;
	}
	mkey_pool_refill(&mp->pool);
	vpd->dv = mp;
	return 0;
}

static void
dv_pd_fini(struct verbs *v, struct verbs_pd *vpd)
{
	struct mlx5_pd *mp = vpd->dv;

	(void)v;
	if (mp == NULL)
		return;
	mkey_pool_fini(&mp->pool);
	free(mp);
	vpd->dv = NULL;
}

static uint32_t
dv_fr_take(struct verbs *v, struct verbs_pd *vpd, struct verbs_key *k)
{
	struct mlx5_pd *mp = vpd->dv;
	struct mlx5dv_mkey *mk;

	(void)v;
	if (mp == NULL)
		return 0;
	mk = mkey_pool_take(&mp->pool);
	if (mk == NULL)
		return 0;
	mkey_pool_refill(&mp->pool); /* for the next: the command is paid here, not then */
	k->mkey = mk;
	return mk->lkey;
}

/* Destroyed, never handed on: what it mapped is out of the NIC's reach from here. */
static void
dv_fr_drop(struct verbs *v, struct verbs_key *k)
{
	destroy_mkey(v->dv_priv, k->mkey);
	k->mkey = NULL;
}

static int
dv_fr_post(struct verbs *v, struct verbs_qp *q, struct verbs_key *k, const struct fr_map *m,
	   verbs_resolve_fn resolve, void *arg, uint64_t wr_id)
{
	struct mlx5_dv *d = v->dv_priv;
	struct mlx5dv_mkey *mk = k->mkey;
	struct ibv_sge list[UMR_MAX_ENTRIES];
	_Alignas(64) uint8_t wqe[UMR_WQE_MAX];
	struct umr_args a;
	int n, rc;

	n = umr_list(m, resolve, arg, list, q->dv_max);
	if (n < 0) {
		if (n == -E2BIG)
			atomic_fetch_add_explicit(&d->n_umr_refused, 1, memory_order_relaxed);
		return n;
	}
	a = (struct umr_args){
		.qpn = q->qp->qp_num,
		.mkey = mk->lkey,
		.tag = m->variant,
		.va = m->va,
		.len = m->length,
		.access = ((m->access & MRT_ACCESS_REMOTE_READ) ? IBV_ACCESS_REMOTE_READ : 0) |
			  ((m->access & MRT_ACCESS_REMOTE_WRITE)
				   ? IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_LOCAL_WRITE
				   : 0),
		.signaled = true, /* the QP signals all: the raw WQE says so itself */
		.list = list,
		.n = (uint32_t)n,
	};
	if (umr_wqe(wqe, sizeof(wqe), &a) == 0)
		return -E2BIG;
	ibv_wr_start(q->qpx);
	q->qpx->wr_id = wr_id;
	q->qpx->wr_flags = IBV_SEND_SIGNALED;
	mlx5dv_wr_raw_wqe(mlx5dv_qp_ex_from_ibv_qp_ex(q->qpx), wqe);
	rc = ibv_wr_complete(q->qpx);
	if (rc != 0)
		return -rc;
	/* the device's key for it from here on; the next UMR names it so */
	mk->lkey = mk->rkey = umr_key(mk->lkey, m->variant);
	atomic_fetch_add_explicit(&d->n_umr, 1, memory_order_relaxed);
	return 0;
}

static void
dv_telemetry(const struct verbs *v, struct rte_tel_data *t)
{
	struct mlx5_dv *d = v->dv_priv;

	rte_tel_data_add_dict_string(t, "layer", "mlx5");
	rte_tel_data_add_dict_u64(t, "umr", d->umr);
	rte_tel_data_add_dict_u64(t, "umr_max_entries", UMR_MAX_ENTRIES);
	rte_tel_data_add_dict_u64(t, "cqe_version",
				  (d->caps.flags & MLX5DV_CONTEXT_FLAGS_CQE_V1) ? 1 : 0);
	rte_tel_data_add_dict_u64(t, "max_dynamic_bfregs", d->caps.max_dynamic_bfregs);
	rte_tel_data_add_dict_u64(t, "mkeys_made",
				  atomic_load_explicit(&d->n_mkeys, memory_order_relaxed));
	rte_tel_data_add_dict_u64(
		t, "mkeys_destroyed",
		atomic_load_explicit(&d->n_mkeys_destroyed, memory_order_relaxed));
	rte_tel_data_add_dict_u64(t, "umr_posted",
				  atomic_load_explicit(&d->n_umr, memory_order_relaxed));
	rte_tel_data_add_dict_u64(t, "umr_too_many_pieces",
				  atomic_load_explicit(&d->n_umr_refused, memory_order_relaxed));
}

static const struct verbs_dv mlx5_dv = {
	.match = dv_match,
	.open = dv_open,
	.init = dv_init,
	.fini = dv_fini,
	.create_qp = dv_create_qp,
	.pd_init = dv_pd_init,
	.pd_fini = dv_pd_fini,
	.fr_take = dv_fr_take,
	.fr_drop = dv_fr_drop,
	.fr_post = dv_fr_post,
	.telemetry = dv_telemetry,
};

int
mlx5_init(struct provider *p, const struct ndkd_opts *o)
{
	return verbs_init_with(p, o, &mlx5_dv);
}
