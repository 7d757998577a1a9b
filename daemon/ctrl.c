/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Control requests: decode, check, execute. Every byte here came from a
 * client and is checked before it is used. No DPDK, so it is unit-tested
 * without EAL.
 */
#include <string.h>

#include "conn.h"
#include "cq.h"
#include "mr.h"
#include "ndkd.h"
#include "qp.h"
#include "srq.h"

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

/* The args a request does not use must be zero; 'used' counts from args[0]. */
static bool
unused_zero(const struct ndk_abi_sqe *sqe, unsigned int used)
{
	return all_zero(&sqe->args[used], sizeof(sqe->args) - used * sizeof(sqe->args[0]));
}

bool
ctrl_execute(struct client *c, struct ectx *x, const struct ndk_abi_sqe *sqe,
	     struct ndk_abi_cqe *cqe)
{
	const uint64_t *a = sqe->args;
	ndk_status st;

	memset(cqe, 0, sizeof(*cqe));
	cqe->user_data = sqe->user_data;
	cqe->opcode = sqe->opcode;

	if (sqe->flags != 0)
		goto bad;
	switch (sqe->opcode) {
	case NDK_ABI_OP_NOP:
		if (sqe->handle != 0 || !unused_zero(sqe, 0))
			goto bad;
		st = NDK_STATUS_SUCCESS;
		break;
	case NDK_ABI_OP_PD_CREATE:
		if (sqe->handle != 0 || !unused_zero(sqe, 0))
			goto bad;
		st = dpd_create(c, x, cqe->out);
		break;
	case NDK_ABI_OP_PD_DESTROY:
		if (!unused_zero(sqe, 0))
			goto bad;
		st = dpd_destroy(c, x, sqe->handle);
		break;
	case NDK_ABI_OP_MR_CREATE:
		if (!unused_zero(sqe, 1))
			goto bad;
		st = dmr_create(c, x, sqe->handle, a[0], cqe->out);
		break;
	case NDK_ABI_OP_MR_REGISTER:
		if (!unused_zero(sqe, 3))
			goto bad;
		st = dmr_register(c, x, sqe->handle, a[0], a[1], a[2], cqe->out);
		break;
	case NDK_ABI_OP_MR_DEREGISTER:
		if (!unused_zero(sqe, 0))
			goto bad;
		st = dmr_deregister(c, x, sqe->handle);
		break;
	case NDK_ABI_OP_MR_INIT_FR:
		if (!unused_zero(sqe, 2))
			goto bad;
		st = dmr_init_fr(c, x, sqe->handle, a[0], a[1], cqe->out);
		break;
	case NDK_ABI_OP_MR_DESTROY:
		if (!unused_zero(sqe, 0))
			goto bad;
		st = dmr_destroy(c, x, sqe->handle);
		break;
	case NDK_ABI_OP_CQ_CREATE:
		if (sqe->handle != 0 || !unused_zero(sqe, 2))
			goto bad;
		st = dcq_create(c, x, a[0], a[1], cqe->out);
		break;
	case NDK_ABI_OP_CQ_DESTROY:
		if (!unused_zero(sqe, 0))
			goto bad;
		st = dcq_destroy(c, sqe->handle);
		break;
	case NDK_ABI_OP_QP_CREATE:
	case NDK_ABI_OP_QP_CREATE_WITH_SRQ:
		st = dqp_create(c, x, sqe->handle, &sqe->qp_create,
				sqe->opcode == NDK_ABI_OP_QP_CREATE_WITH_SRQ, cqe->out);
		break;
	case NDK_ABI_OP_QP_CONNECT:
		if (!unused_zero(sqe, 1))
			goto bad;
		st = dqp_connect(c, x, sqe->handle, a[0]);
		break;
	case NDK_ABI_OP_QP_CONNECT_ROCEV2: {
		struct peer_addr peer = {
			.kind = PEER_ROCEV2,
			.qpn = (uint32_t)a[0],
			.psn = (uint32_t)(a[0] >> 32),
		};

		if (a[5] != 0 || a[3] > UINT32_MAX || a[4] > NDKD_MAX_PORTS)
			goto bad;
		peer.mtu = (uint32_t)a[3];
		peer.sgid = (uint32_t)a[4];
		memcpy(peer.gid, &a[1], sizeof(peer.gid));
		st = dqp_connect_peer(c, x, sqe->handle, &peer);
		break;
	}
	case NDK_ABI_OP_QP_FLUSH:
		if (!unused_zero(sqe, 0))
			goto bad;
		st = dqp_flush(c, x, sqe->handle);
		break;
	case NDK_ABI_OP_QP_DESTROY:
		if (!unused_zero(sqe, 0))
			goto bad;
		st = dqp_destroy(c, x, sqe->handle);
		break;
	case NDK_ABI_OP_LISTEN:
		if (sqe->handle != 0 || !unused_zero(sqe, 1))
			goto bad;
		st = conn_listen(c, x, a[0], cqe->out);
		break;
	case NDK_ABI_OP_LISTENER_DESTROY:
		if (!unused_zero(sqe, 0))
			goto bad;
		st = conn_listener_destroy(c, x, sqe->handle);
		break;
	case NDK_ABI_OP_GET_CONNECTION:
		if (!unused_zero(sqe, 1))
			goto bad;
		st = conn_get(c, x, sqe->handle, a[0], sqe->user_data, cqe->out);
		break;
	case NDK_ABI_OP_CONNECT:
		if (!unused_zero(sqe, 1))
			goto bad;
		st = conn_connect(c, x, sqe->handle, a[0], sqe->user_data);
		break;
	case NDK_ABI_OP_ACCEPT:
		if (!unused_zero(sqe, 2))
			goto bad;
		st = conn_accept(c, x, sqe->handle, a[0], a[1]);
		break;
	case NDK_ABI_OP_REJECT:
		if (sqe->handle != 0 || !unused_zero(sqe, 2))
			goto bad;
		st = conn_reject(c, x, a[0], a[1]);
		break;
	case NDK_ABI_OP_DISCONNECT:
		if (!unused_zero(sqe, 0))
			goto bad;
		st = conn_disconnect(c, x, sqe->handle, sqe->user_data);
		break;
	case NDK_ABI_OP_NOTIFY_DISCONNECT:
		if (!unused_zero(sqe, 0))
			goto bad;
		st = conn_notify_disconnect(c, x, sqe->handle, sqe->user_data);
		break;
	case NDK_ABI_OP_MW_CREATE:
		if (!unused_zero(sqe, 0))
			goto bad;
		st = dmw_create(c, x, sqe->handle, cqe->out);
		break;
	case NDK_ABI_OP_MW_DESTROY:
		if (!unused_zero(sqe, 0))
			goto bad;
		st = dmw_destroy(c, x, sqe->handle);
		break;
	case NDK_ABI_OP_SRQ_CREATE:
		if (!unused_zero(sqe, 4))
			goto bad;
		st = dsrq_create(c, x, sqe->handle, a[0], a[1], a[2], a[3], cqe->out);
		break;
	case NDK_ABI_OP_SRQ_MODIFY:
		if (!unused_zero(sqe, 1))
			goto bad;
		st = dsrq_modify(c, sqe->handle, a[0]);
		break;
	case NDK_ABI_OP_SRQ_DESTROY:
		if (!unused_zero(sqe, 0))
			goto bad;
		st = dsrq_destroy(c, sqe->handle);
		break;
	default:
		goto bad;
	}
	cqe->status = st;
	/* A well-formed request that names no object of the client's is bad too. */
	return st != NDK_STATUS_INVALID_HANDLE;
bad:
	memset(cqe->out, 0, sizeof(cqe->out));
	cqe->status = NDK_STATUS_INVALID_PARAMETER;
	return false;
}

unsigned int
ctrl_serve(struct client *c, struct ectx *x, unsigned int budget, bool cancel, uint64_t *bad)
{
	struct ndk_abi_sqe sqe;
	struct ndk_abi_cqe cqe;
	unsigned int n, space;
	bool broken = false;

	/* Never overwrite an unread completion: what does not fit waits. */
	space = ndk_ring_prod_space(&c->cq, &broken);
	for (n = 0; n < budget && n < space && ndk_ring_cons_ready(&c->sq, 1) != 0; n++) {
		/* Copy first: the client may rewrite the slot while we look at it. */
		memcpy(&sqe, ndk_ring_cons_next(&c->sq), sizeof(sqe));
		if (cancel) {
			memset(&cqe, 0, sizeof(cqe));
			cqe.user_data = sqe.user_data;
			cqe.opcode = sqe.opcode;
			cqe.status = NDK_STATUS_DEVICE_REMOVED;
		} else if (!ctrl_execute(c, x, &sqe, &cqe)) {
			(*bad)++;
			stat_add(&c->stats.bad_requests, 1);
		}
		/* PENDING: held, answered later by ctrl_complete() */
		if (cqe.status != NDK_STATUS_PENDING)
			memcpy(ndk_ring_prod_next(&c->cq), &cqe, sizeof(cqe));
	}
	if (n != 0) {
		stat_add(&c->stats.requests, n);
		ndk_ring_prod_publish(&c->cq);
		ndk_ring_cons_release(&c->sq);
	}
	if (broken)
		c->broken = true;
	return n;
}

void
ctrl_release_all(struct client *c, struct ectx *x)
{
	/* connections and listeners, then QPs: they hold CQs and count in their PD */
	conn_release_all(c, x);
	dqp_release_all(c, x);
	dcq_release_all(c);
	dsrq_release_all(c);
	/* windows and MRs first, so each PD is childless when its turn comes */
	dmr_release_all(c, x, 0);
	dpd_release_all(c, x);
}
