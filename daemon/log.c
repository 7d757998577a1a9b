/* SPDX-License-Identifier: BSD-3-Clause */
#include <time.h>

#include "log.h"

RTE_LOG_REGISTER(ndkd_logtype_main, ndkd.main, INFO);
RTE_LOG_REGISTER(ndkd_logtype_engine, ndkd.engine, INFO);
RTE_LOG_REGISTER(ndkd_logtype_client, ndkd.client, INFO);

uint64_t
ndkd_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

bool
log_ratelimit_ok(struct log_ratelimit *rl, uint64_t now_ns, uint64_t *dropped)
{
	if (now_ns - rl->window_start_ns >= 1000000000ull) {
		rl->window_start_ns = now_ns;
		rl->printed = 0;
	}
	if (rl->printed >= rl->burst) {
		rl->dropped++;
		return false;
	}
	rl->printed++;
	*dropped = rl->dropped;
	rl->dropped = 0;
	return true;
}
