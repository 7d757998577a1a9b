/* SPDX-License-Identifier: BSD-3-Clause */
#include <stdlib.h>

#include "quota.h"

static uint64_t
limit_of(const struct ndkd_limits *lim, enum quota_kind k)
{
	switch (k) {
	case QUOTA_MRS:
		return lim->uid_mrs;
	case QUOTA_QPS:
		return lim->uid_qps;
	case QUOTA_CQS:
		return lim->uid_cqs;
	case QUOTA_LISTENERS:
		return lim->uid_listeners;
	case QUOTA_REGISTERED_BYTES:
		return lim->uid_registered_bytes;
	default:
		return 0;
	}
}

bool
quota_take(const struct client *c, const struct ndkd_limits *lim, enum quota_kind k,
	   uint64_t amount)
{
	_Atomic uint64_t *used;
	uint64_t limit = limit_of(lim, k), cur;

	if (c->quota == NULL)
		return true;
	used = &c->quota->used[k];
	cur = atomic_load_explicit(used, memory_order_relaxed);
	do {
		if (amount > limit || cur > limit - amount)
			return false;
	} while (!atomic_compare_exchange_weak_explicit(
		used, &cur, cur + amount, memory_order_relaxed, memory_order_relaxed));
	return true;
}

void
quota_put(const struct client *c, enum quota_kind k, uint64_t amount)
{
	if (c->quota != NULL)
		atomic_fetch_sub_explicit(&c->quota->used[k], amount, memory_order_relaxed);
}

struct uid_quota *
quota_get(struct uid_quota **list, uid_t uid)
{
	struct uid_quota *q;

	for (q = *list; q != NULL; q = q->next) {
		if (q->uid == uid)
			return q;
	}
	q = calloc(1, sizeof(*q));
	if (q == NULL)
		return NULL;
	q->uid = uid;
	q->next = *list;
	*list = q;
	return q;
}

void
quota_release(struct uid_quota **list, struct uid_quota *q)
{
	struct uid_quota **pp;

	if (q == NULL || --q->clients != 0)
		return;
	for (pp = list; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == q) {
			*pp = q->next;
			break;
		}
	}
	free(q);
}
