/* SPDX-License-Identifier: BSD-3-Clause */
/* Provider selection and the default ops table (provider.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "provider.h"
#include "qp.h"

/*
 * The default table. Requests answer NOT_SUPPORTED; notifications (a
 * region or MR going, an engine or QP going) have nothing to undo.
 */
static int
default_probe(struct provider *p, const struct ndkd_opts *o, const char **why)
{
	(void)p, (void)o;
	*why = "provider has no probe";
	return -ENOTSUP;
}

static int
default_init(struct provider *p, const struct ndkd_opts *o)
{
	(void)p;
	(void)o;
	return -ENOTSUP;
}

static void
default_fini(struct provider *p)
{
	(void)p;
}

static void
default_telemetry(struct provider *p, struct rte_tel_data *d)
{
	(void)p, (void)d;
}

static ndk_status
default_query(struct provider *p, const struct ndkd_limits *lim, struct ndk_abi_adapter_info *info)
{
	(void)p;
	(void)lim;
	(void)info;
	return NDK_STATUS_NOT_SUPPORTED;
}

static int
default_engine_init(struct provider *p, struct ectx *x)
{
	(void)p;
	(void)x;
	return 0;
}

static void
default_engine_fini(struct provider *p, struct ectx *x)
{
	(void)p;
	(void)x;
}

static unsigned int
default_poll(struct ectx *x, unsigned int budget)
{
	(void)x;
	(void)budget;
	return 0;
}

static bool
default_can_sleep(struct ectx *x)
{
	(void)x;
	return false;
}

static ndk_status
default_region_add(struct provider *p, struct client *c, const struct region *r)
{
	(void)p;
	(void)c;
	(void)r;
	return NDK_STATUS_NOT_SUPPORTED;
}

static void
default_region_del(struct provider *p, struct client *c, const struct region *r)
{
	(void)p;
	(void)c;
	(void)r;
}

static ndk_status
default_mr_register(struct ectx *x, struct client *c, uint32_t index, uint32_t *remote)
{
	(void)x, (void)c, (void)index, (void)remote;
	return NDK_STATUS_NOT_SUPPORTED;
}

static ndk_status
default_pd_create(struct ectx *x, struct client *c, uint32_t handle)
{
	(void)x, (void)c, (void)handle;
	return NDK_STATUS_SUCCESS; /* a PD is ndkd's own bookkeeping unless a provider says more */
}

static void
default_pd_destroy(struct ectx *x, struct client *c, uint32_t handle)
{
	(void)x, (void)c, (void)handle;
}

static void
default_mr_deregister(struct ectx *x, struct client *c, uint32_t index)
{
	(void)x;
	(void)c;
	(void)index;
}

static ndk_status
default_mr_wr(struct ectx *x, struct dqp *qp, uint32_t index, uint32_t wr_id)
{
	(void)x;
	(void)qp;
	(void)index;
	(void)wr_id;
	return NDK_STATUS_NOT_SUPPORTED;
}

static ndk_status
default_mr_fast_register(struct ectx *x, struct dqp *qp, uint32_t index, struct fr_map *m,
			 uint32_t wr_id)
{
	(void)x, (void)qp, (void)index, (void)m, (void)wr_id;
	return NDK_STATUS_NOT_SUPPORTED;
}

static ndk_status
default_qp_create(struct ectx *x, struct dqp *qp)
{
	(void)x;
	(void)qp;
	return NDK_STATUS_NOT_SUPPORTED;
}

static ndk_status
default_qp_connect(struct ectx *x, struct dqp *qp, const struct peer_addr *peer)
{
	(void)x;
	(void)qp;
	(void)peer;
	return NDK_STATUS_NOT_SUPPORTED;
}

static ndk_status
default_cm_connect(struct ectx *x, struct client *c, uint32_t qp_handle,
		   const struct ndk_abi_conn *in, struct ndk_abi_conn *blk, uint64_t user_data)
{
	(void)x, (void)c, (void)qp_handle, (void)in, (void)blk, (void)user_data;
	return NDK_STATUS_NOT_SUPPORTED;
}

static ndk_status
default_cm_disconnect(struct ectx *x, struct dqp *qp, uint64_t user_data)
{
	(void)x, (void)qp, (void)user_data;
	return NDK_STATUS_NOT_SUPPORTED;
}

static void
default_qp_notify(struct ectx *x, struct dqp *qp)
{
	(void)x;
	(void)qp;
}

static uint64_t
default_qp_step(struct ectx *x, struct dqp *qp, uint64_t budget)
{
	(void)x;
	(void)budget;
	qp->want_step = false; /* nothing goes by turns here */
	return 0;
}

static ndk_status
default_post_send(struct ectx *x, struct dqp *qp, const struct wq_op *op, uint32_t wr_id,
		  struct ndk_abi_result *res)
{
	(void)x;
	(void)qp;
	(void)op;
	(void)wr_id;
	(void)res;
	return NDK_STATUS_NOT_SUPPORTED;
}

static const struct provider_ops default_ops = {
	.name = "none",
	.probe = default_probe,
	.init = default_init,
	.fini = default_fini,
	.telemetry = default_telemetry,
	.query = default_query,
	.engine_init = default_engine_init,
	.engine_fini = default_engine_fini,
	.poll = default_poll,
	.can_sleep = default_can_sleep,
	.pd_create = default_pd_create,
	.pd_destroy = default_pd_destroy,
	.region_add = default_region_add,
	.region_del = default_region_del,
	.mr_register = default_mr_register,
	.mr_deregister = default_mr_deregister,
	.mr_fast_register = default_mr_fast_register,
	.mr_invalidate = default_mr_wr,
	.mw_bind = default_mr_wr,
	.qp_create = default_qp_create,
	.qp_connect = default_qp_connect,
	.cm_connect = default_cm_connect,
	.cm_disconnect = default_cm_disconnect,
	.qp_error = default_qp_notify,
	.qp_destroy = default_qp_notify,
	.post_send = default_post_send,
	.qp_step = default_qp_step,
};

#define SET_OP(p, src, field)                                                                      \
	((p)->ops.field = (src)->field != NULL ? (src)->field : default_ops.field)

void
provider_set_ops(struct provider *p, const struct provider_ops *ops)
{
	memset(p, 0, sizeof(*p));
	p->ops.name = ops->name != NULL ? ops->name : default_ops.name;
	SET_OP(p, ops, probe);
	SET_OP(p, ops, init);
	SET_OP(p, ops, fini);
	SET_OP(p, ops, telemetry);
	SET_OP(p, ops, query);
	SET_OP(p, ops, engine_init);
	SET_OP(p, ops, engine_fini);
	SET_OP(p, ops, poll);
	SET_OP(p, ops, can_sleep);
	SET_OP(p, ops, pd_create);
	SET_OP(p, ops, pd_destroy);
	SET_OP(p, ops, region_add);
	SET_OP(p, ops, region_del);
	SET_OP(p, ops, mr_register);
	SET_OP(p, ops, mr_deregister);
	SET_OP(p, ops, mr_fast_register);
	SET_OP(p, ops, mr_invalidate);
	SET_OP(p, ops, mw_bind);
	SET_OP(p, ops, qp_create);
	SET_OP(p, ops, qp_connect);
	SET_OP(p, ops, cm_connect);
	SET_OP(p, ops, cm_disconnect);
	SET_OP(p, ops, qp_error);
	SET_OP(p, ops, qp_destroy);
	SET_OP(p, ops, post_send);
	SET_OP(p, ops, qp_step);
	p->qp_window = 1;
}

static int
try_provider(struct provider *p, const struct provider_ops *ops, const struct ndkd_opts *o,
	     bool quiet)
{
	const char *why = "";
	int rc;

	provider_set_ops(p, ops);
	rc = p->ops.probe(p, o, &why);
	if (rc != 0) {
		if (!quiet)
			NDKD_LOG(ERR, main, "provider %s unavailable: %s", ops->name, why);
		else
			NDKD_LOG(INFO, main, "provider %s not used: %s", ops->name, why);
		return rc;
	}
	rc = p->ops.init(p, o);
	if (rc != 0) {
		NDKD_LOG(ERR, main, "provider %s failed to start: %s", ops->name, strerror(-rc));
		return rc;
	}
	/* the pending-result ring is indexed by masking */
	if (p->qp_window == 0 || (p->qp_window & (p->qp_window - 1)) != 0) {
		NDKD_LOG(ERR, main, "provider %s: QP window %u is not a power of two", ops->name,
			 p->qp_window);
		p->ops.fini(p);
		return -EINVAL;
	}
	return 0;
}

int
provider_select(struct provider *p, const char *name, const struct ndkd_opts *o)
{
	bool is_auto = strcmp(name, "auto") == 0;

	if (strcmp(name, "soft") == 0)
		return try_provider(p, &soft_provider_ops, o, false);
#ifdef NDKD_HAVE_MLX5
	if (strcmp(name, "mlx5") == 0)
		return try_provider(p, &mlx5_provider_ops, o, false);
	/* RoCEv2 ports given (--port) are the soft provider's: auto then keeps to it */
	if (is_auto && o->n_ports == 0 && try_provider(p, &mlx5_provider_ops, o, true) == 0)
		return 0;
#endif
#ifdef NDKD_HAVE_VERBS
	if (strcmp(name, "verbs") == 0)
		return try_provider(p, &verbs_provider_ops, o, false);
	/* RoCEv2 ports given (--port) are the soft provider's: auto then keeps to it */
	if (is_auto && o->n_ports == 0 && try_provider(p, &verbs_provider_ops, o, true) == 0)
		return 0;
#endif
	if (!is_auto) {
		NDKD_LOG(ERR, main, "provider %s was not built (rdma-core%s not found)", name,
			 strcmp(name, "mlx5") == 0 ? "'s mlx5dv" : "");
		return -ENOTSUP;
	}
	return try_provider(p, &soft_provider_ops, o, false);
}
