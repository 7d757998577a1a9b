/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Providers do the RDMA work behind the engines: 'soft' in software (always
 * built), 'mlx5' through rdma-core's mlx5 direct verbs (built when mlx5dv is
 * found). One ops table each, like rdma-core's verbs_context_ops; entries a
 * provider leaves NULL are filled from a default table that answers
 * NOT_SUPPORTED, so callers never check for NULL.
 */
#ifndef NDKD_PROVIDER_H
#define NDKD_PROVIDER_H

#include "ndkd.h"

struct provider;

struct provider_ops {
	const char *name;
	/* 0 when the provider can run on this machine; else -errno and a reason in *why. */
	int (*probe)(struct provider *p, const char **why);
	int (*init)(struct provider *p, const struct ndkd_opts *o);
	void (*fini)(struct provider *p);
};

struct provider {
	struct provider_ops ops;
	void *priv;
	char detail[128]; /* what it drives, for logs and telemetry */
};

extern const struct provider_ops soft_provider_ops;
#ifdef NDKD_HAVE_MLX5
extern const struct provider_ops mlx5_provider_ops;
#endif

/*
 * Pick the provider 'name' asks for (soft, mlx5, auto) and initialise it.
 * auto takes mlx5 when a device probes, soft otherwise. Returns 0 or -errno
 * after logging why.
 */
int provider_select(struct provider *p, const char *name, const struct ndkd_opts *o);

#endif /* NDKD_PROVIDER_H */
