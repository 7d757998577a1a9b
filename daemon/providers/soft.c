/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The software provider: RDMA semantics carried out by the engines
 * themselves (objects.c for memory registration, qp.c for the same-node
 * data path: memcpy between the clients' mapped regions). It needs no
 * device, so it always probes. Those paths call no provider op yet; the
 * ops table grows its data-path entries with the mlx5 and RoCEv2 paths.
 */
#include <stdio.h>

#include "../provider.h"

static int
soft_probe(struct provider *p, const char **why)
{
	(void)p;
	(void)why;
	return 0;
}

static int
soft_init(struct provider *p, const struct ndkd_opts *o)
{
	(void)o;
	snprintf(p->detail, sizeof(p->detail), "software RDMA in the engines");
	return 0;
}

const struct provider_ops soft_provider_ops = {
	.name = "soft",
	.probe = soft_probe,
	.init = soft_init,
};
