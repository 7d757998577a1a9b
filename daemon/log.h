/* SPDX-License-Identifier: BSD-3-Clause */
/* ndkd's rte_log types ("ndkd.main", "ndkd.engine", "ndkd.client") and a rate limiter. */
#ifndef NDKD_LOG_H
#define NDKD_LOG_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_log.h>

extern int ndkd_logtype_main;
extern int ndkd_logtype_engine;
extern int ndkd_logtype_client;

#define NDKD_LOG(level, type, fmt, ...)                                                            \
	rte_log(RTE_LOG_##level, ndkd_logtype_##type, "ndkd.%s: " fmt "\n", #type, ##__VA_ARGS__)

/*
 * At most 'burst' messages per second per limiter, so a hostile client
 * cannot flood the journal. The dropped count is reported with the next
 * message that gets through.
 */
struct log_ratelimit {
	uint64_t window_start_ns;
	uint32_t burst;
	uint32_t printed;
	uint64_t dropped;
};

bool log_ratelimit_ok(struct log_ratelimit *rl, uint64_t now_ns, uint64_t *dropped);

uint64_t ndkd_now_ns(void);

#endif /* NDKD_LOG_H */
