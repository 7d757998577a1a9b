/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Control requests: decode, check, execute. Every byte here came from a
 * client and is checked before it is used. No DPDK, so it is unit-tested
 * without EAL.
 */
#include <string.h>

#include "ndkd.h"

static bool
all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	size_t i;

	for (i = 0; i < n; i++) {
		if (b[i] != 0)
			return false;
	}
	return true;
}

/* Returns false when the request was malformed (counted as a bad request). */
bool
ctrl_execute(struct client *c, const struct ndk_abi_sqe *sqe, struct ndk_abi_cqe *cqe)
{
	(void)c;
	memset(cqe, 0, sizeof(*cqe));
	cqe->user_data = sqe->user_data;
	cqe->opcode = sqe->opcode;

	if (sqe->flags != 0 || sqe->reserved0 != 0) {
		cqe->status = NDK_STATUS_INVALID_PARAMETER;
		return false;
	}
	switch (sqe->opcode) {
	case NDK_ABI_OP_NOP:
		if (sqe->handle != 0 || !all_zero(sqe->args, sizeof(sqe->args))) {
			cqe->status = NDK_STATUS_INVALID_PARAMETER;
			return false;
		}
		cqe->status = NDK_STATUS_SUCCESS;
		return true;
	default:
		cqe->status = NDK_STATUS_INVALID_PARAMETER;
		return false;
	}
}

unsigned int
ctrl_serve(struct client *c, unsigned int budget, bool cancel, uint64_t *bad)
{
	struct ndk_abi_sqe sqe;
	struct ndk_abi_cqe cqe;
	unsigned int n, space, i;
	bool broken = false;

	n = ndk_ring_cons_avail(&c->sq, &broken);
	if (n == 0)
		goto out;
	if (n > budget)
		n = budget;
	/* Never overwrite an unread completion: what does not fit waits. */
	space = ndk_ring_prod_space(&c->cq, &broken);
	if (n > space)
		n = space;
	for (i = 0; i < n; i++) {
		/* Copy first: the client may rewrite the slot while we look at it. */
		memcpy(&sqe, ndk_ring_cons_next(&c->sq), sizeof(sqe));
		if (cancel) {
			memset(&cqe, 0, sizeof(cqe));
			cqe.user_data = sqe.user_data;
			cqe.opcode = sqe.opcode;
			cqe.status = NDK_STATUS_DEVICE_REMOVED;
		} else if (!ctrl_execute(c, &sqe, &cqe)) {
			(*bad)++;
			stat_add(&c->stats.bad_requests, 1);
		}
		memcpy(ndk_ring_prod_next(&c->cq), &cqe, sizeof(cqe));
	}
	if (n != 0) {
		stat_add(&c->stats.requests, n);
		ndk_ring_prod_publish(&c->cq);
		ndk_ring_cons_release(&c->sq);
	}
out:
	if (broken)
		c->broken = true;
	return n;
}
