/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What each uid holds across all its clients and engines, against the
 * per-uid limits (docs/ndkd.md): one tenant cannot take a whole table that
 * every tenant shares (MR and QP tables, client slots, listener ports).
 * Engines charge with atomics (one uid's clients may sit on several
 * engines); main keeps the table of uids, under the server's lock.
 */
#ifndef NDKD_QUOTA_H
#define NDKD_QUOTA_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "ndkd.h"

enum quota_kind {
	QUOTA_MRS, /* MR table entries: MRs and windows */
	QUOTA_QPS,
	QUOTA_CQS,
	QUOTA_LISTENERS,
	QUOTA_REGISTERED_BYTES,
	QUOTA_KINDS,
};

struct uid_quota {
	uid_t uid;
	uint32_t clients; /* main, under the server's lock */
	_Atomic uint64_t used[QUOTA_KINDS];
	struct uid_quota *next;
};

/*
 * Charge amount of kind k to c's uid; false (nothing charged) when that
 * would pass the uid's limit. A client without a quota (unit tests') has
 * no uid limit.
 */
bool quota_take(const struct client *c, const struct ndkd_limits *lim, enum quota_kind k,
		uint64_t amount);
void quota_put(const struct client *c, enum quota_kind k, uint64_t amount);

/* Main: the uid's quota, made on its first client (NULL: no memory). */
struct uid_quota *quota_get(struct uid_quota **list, uid_t uid);
/* Main: a client of the uid is gone; the quota goes with its last. */
void quota_release(struct uid_quota **list, struct uid_quota *q);

#endif /* NDKD_QUOTA_H */
