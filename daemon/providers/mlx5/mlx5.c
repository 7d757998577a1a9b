/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The mlx5 provider: drives a ConnectX through rdma-core's mlx5 direct verbs.
 * Today it finds and opens the device and reports its limits; its data path
 * ops are not written yet, so the default table answers NOT_SUPPORTED to
 * every object and work request, and 'auto' does not pick it. Needs real
 * hardware: on a machine without an mlx5 device probe() says so.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <infiniband/mlx5dv.h>
#include <infiniband/verbs.h>

#include "../../log.h"
#include "../../provider.h"
#include "../verbs/verbs.h"

struct mlx5_priv {
	struct ibv_context *ctx;
	struct ibv_device_attr_ex attr;
};

static struct ibv_device *
find_mlx5(struct ibv_device **list, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		if (mlx5dv_is_supported(list[i]))
			return list[i];
	}
	return NULL;
}

static int
mlx5_probe(struct provider *p, const struct ndkd_opts *o, const char **why)
{
	struct ibv_device **list;
	int n = 0, rc = 0;

	(void)p, (void)o;
	list = ibv_get_device_list(&n);
	if (list == NULL) {
		*why = "no RDMA devices (ibv_get_device_list failed)";
		return -ENODEV;
	}
	if (find_mlx5(list, n) == NULL) {
		*why = "no mlx5 device found";
		rc = -ENODEV;
	}
	ibv_free_device_list(list);
	return rc;
}

static int
mlx5_init(struct provider *p, const struct ndkd_opts *o)
{
	struct mlx5dv_context_attr dv_attr = { .flags = MLX5DV_CONTEXT_FLAGS_DEVX };
	struct ibv_device **list;
	struct ibv_device *dev;
	struct mlx5_priv *mp;
	int n = 0, rc = -ENODEV;

	(void)o;
	mp = calloc(1, sizeof(*mp));
	if (mp == NULL)
		return -ENOMEM;
	list = ibv_get_device_list(&n);
	dev = list != NULL ? find_mlx5(list, n) : NULL;
	if (dev == NULL)
		goto out;
	/* DEVX is what mlx5dv_create_mkey needs for the indirect-mkey pool. */
	mp->ctx = mlx5dv_open_device(dev, &dv_attr);
	if (mp->ctx == NULL) {
		rc = errno != 0 ? -errno : -EIO;
		goto out;
	}
	if (ibv_query_device_ex(mp->ctx, NULL, &mp->attr) != 0) {
		rc = -EIO;
		ibv_close_device(mp->ctx);
		goto out;
	}
	snprintf(p->detail, sizeof(p->detail), "%s (max_mr %d, max_qp %d)",
		 ibv_get_device_name(dev), mp->attr.orig_attr.max_mr, mp->attr.orig_attr.max_qp);
	p->priv = mp;
	mp = NULL;
	rc = 0;
out:
	if (list != NULL)
		ibv_free_device_list(list);
	free(mp);
	return rc;
}

/* NDK_ADAPTER_INFO: what the verbs layer says of the device, and its SRQs. */
static ndk_status
mlx5_query(struct provider *p, const struct ndkd_limits *lim, struct ndk_abi_adapter_info *i)
{
	const struct mlx5_priv *mp = p->priv;
	const struct ibv_device_attr *a = &mp->attr.orig_attr;

	verbs_device_limits(a, lim, i);
	i->adapter_flags = 0x2u; /* RDMA_READ_SINK_NOT_REQUIRED */
	i->max_srqs = i->max_srqs < (uint32_t)a->max_srq ? i->max_srqs : (uint32_t)a->max_srq;
	i->max_srq_depth = lim->max_queue_depth < (uint32_t)a->max_srq_wr ? lim->max_queue_depth
									  : (uint32_t)a->max_srq_wr;
	return NDK_STATUS_SUCCESS;
}

static void
mlx5_fini(struct provider *p)
{
	struct mlx5_priv *mp = p->priv;

	if (mp == NULL)
		return;
	ibv_close_device(mp->ctx);
	free(mp);
	p->priv = NULL;
}

const struct provider_ops mlx5_provider_ops = {
	.name = "mlx5",
	.probe = mlx5_probe,
	.init = mlx5_init,
	.fini = mlx5_fini,
	.query = mlx5_query,
};
