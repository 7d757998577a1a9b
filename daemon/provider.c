/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "provider.h"

static int
default_probe(struct provider *p, const char **why)
{
	(void)p;
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
set_ops(struct provider *p, const struct provider_ops *ops)
{
	memset(p, 0, sizeof(*p));
	p->ops = *ops;
	if (p->ops.probe == NULL)
		p->ops.probe = default_probe;
	if (p->ops.init == NULL)
		p->ops.init = default_init;
	if (p->ops.fini == NULL)
		p->ops.fini = default_fini;
}

static int
try_provider(struct provider *p, const struct provider_ops *ops, const struct ndkd_opts *o,
	     bool quiet)
{
	const char *why = "";
	int rc;

	set_ops(p, ops);
	rc = p->ops.probe(p, &why);
	if (rc != 0) {
		if (!quiet)
			NDKD_LOG(ERR, main, "provider %s unavailable: %s", ops->name, why);
		else
			NDKD_LOG(INFO, main, "provider %s not used: %s", ops->name, why);
		return rc;
	}
	rc = p->ops.init(p, o);
	if (rc != 0)
		NDKD_LOG(ERR, main, "provider %s failed to start: %s", ops->name, strerror(-rc));
	return rc;
}

int
provider_select(struct provider *p, const char *name, const struct ndkd_opts *o)
{
	if (strcmp(name, "soft") == 0)
		return try_provider(p, &soft_provider_ops, o, false);
#ifdef NDKD_HAVE_MLX5
	if (strcmp(name, "mlx5") == 0)
		return try_provider(p, &mlx5_provider_ops, o, false);
	if (strcmp(name, "auto") == 0 && try_provider(p, &mlx5_provider_ops, o, true) == 0)
		return 0;
#else
	if (strcmp(name, "mlx5") == 0) {
		NDKD_LOG(ERR, main, "provider mlx5 was not built (rdma-core mlx5dv not found)");
		return -ENOTSUP;
	}
#endif
	return try_provider(p, &soft_provider_ops, o, false);
}
