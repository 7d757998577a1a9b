/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The software provider: RDMA semantics carried out by the engines
 * themselves. It needs no device, so it always probes; the memory and
 * transfer paths it serves arrive with the MR and QP objects.
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
