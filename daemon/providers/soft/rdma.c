/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Same-node RDMA read and write: the peer's side checked, then one copy, or
 * past NDKD_CHUNK_BYTES a chunk per step in the QP's turns.
 */
#include <string.h>

#include <ndk/flags.h>

#include <rte_common.h>

#include "../../mrt.h"
#include "soft.h"

void
soft_copy(const struct dp_chunk *src, uint32_t ns, const struct dp_chunk *dst, uint32_t nd)
{
	uint64_t so = 0, doff = 0;
	uint32_t i = 0, j = 0;

	while (i < ns && j < nd) {
		uint64_t a = src[i].len - so, b = dst[j].len - doff;
		uint64_t k = a < b ? a : b;

		/*
		 * memmove: a client may point source and destination at the same
		 * bytes (a loopback send or write into its own buffer); the
		 * data is then its problem, but memcpy would be undefined
		 * behaviour in ndkd. Found by the fuzz_wr target.
		 */
		memmove(dst[j].addr + doff, src[i].addr + so, k);
		so += k;
		doff += k;
		if (so == src[i].len) {
			i++;
			so = 0;
		}
		if (doff == dst[j].len) {
			j++;
			doff = 0;
		}
	}
}

/* Who asks for the local and the remote side of qp's read or write. */
static ndk_status
rdma_reqs(const struct ectx *x, const struct dqp *qp, bool is_write, struct access_req *local,
	  struct access_req *remote)
{
	struct qpt_entry peer;
	ndk_status st = dqp_peer_ready(x, qp, &peer);

	/* a read writes into local memory; a write reads it */
	*local = dqp_local_access(qp, is_write ? 0 : MRT_ACCESS_LOCAL_WRITE);
	*remote = (struct access_req){
		.client_id = peer.client_id,
		.pd = peer.pd,
		.access = is_write ? MRT_ACCESS_REMOTE_WRITE : MRT_ACCESS_REMOTE_READ,
		.remote = true,
	};
	return st;
}

ndk_status
soft_rdma(struct ectx *x, struct dqp *qp, const struct wq_op *op, uint32_t wr_id, uint32_t *bytes)
{
	bool is_write = op->w->h.opcode == NDK_ABI_WR_WRITE;
	const struct ndk_abi_wqe *h = &op->w->h;
	struct access_req local, remote;
	struct soft_xfer *t;
	uint32_t nr = 0;
	ndk_status st;

	st = rdma_reqs(x, qp, is_write, &local, &remote);
	if (st != NDK_STATUS_SUCCESS)
		return st;
	/* the whole range is checked now: a bad token fails before any byte moves */
	if (h->remote_addr + op->total < h->remote_addr ||
	    !access_resolve(x, h->remote_token, h->remote_addr, op->total, &remote, x->remote, &nr))
		return NDK_STATUS_ACCESS_VIOLATION;
	if (op->total <= NDKD_CHUNK_BYTES || (h->flags & NDK_OP_FLAG_INLINE) != 0) {
		if (is_write)
			soft_copy(x->local, op->n_local, x->remote, nr);
		else
			soft_copy(x->remote, nr, x->local, op->n_local);
		*bytes = (uint32_t)op->total;
		return NDK_STATUS_SUCCESS;
	}
	/*
	 * Larger: a chunk per step. The SGEs and the remote range are kept, not
	 * the pieces: each chunk is resolved again, so a token invalidated (or
	 * a peer gone) meanwhile stops the transfer there.
	 */
	t = &soft_qp(qp)->tx;
	t->active = true;
	t->write = is_write;
	t->wr_id = wr_id;
	t->n_sge = h->n_sge;
	memcpy(t->sge, op->w->sge, h->n_sge * sizeof(t->sge[0]));
	t->remote_token = h->remote_token;
	t->remote_addr = h->remote_addr;
	t->total = op->total;
	t->done = 0;
	qp->want_step = true;
	return NDK_STATUS_PENDING;
}

static void
rdma_finish(struct ectx *x, struct dqp *qp, ndk_status st)
{
	struct soft_xfer *t = &soft_qp(qp)->tx;

	t->active = false;
	wq_complete(x, qp, t->wr_id, st, st == NDK_STATUS_SUCCESS ? (uint32_t)t->total : 0);
}

uint64_t
soft_rdma_step(struct ectx *x, struct dqp *qp, uint64_t budget)
{
	struct soft_xfer *t = &soft_qp(qp)->tx;
	struct access_req local, remote;
	uint64_t moved = 0;

	while (t->active && moved < budget) {
		uint64_t k = RTE_MIN((uint64_t)NDKD_CHUNK_BYTES, t->total - t->done);
		uint32_t nl = 0, nr = 0;
		ndk_status st = rdma_reqs(x, qp, t->write, &local, &remote);

		if (st == NDK_STATUS_SUCCESS &&
		    (!access_resolve_sges(x, t->sge, t->n_sge, t->done, k, &local, x->local, &nl) ||
		     !access_resolve(x, t->remote_token, t->remote_addr + t->done, k, &remote,
				     x->remote, &nr)))
			st = NDK_STATUS_ACCESS_VIOLATION;
		if (st != NDK_STATUS_SUCCESS) {
			rdma_finish(x, qp, st);
			break;
		}
		if (t->write)
			soft_copy(x->local, nl, x->remote, nr);
		else
			soft_copy(x->remote, nr, x->local, nl);
		t->done += k;
		moved += k;
		if (t->done == t->total)
			rdma_finish(x, qp, NDK_STATUS_SUCCESS);
	}
	return moved;
}

void
soft_rdma_cancel(struct ectx *x, struct dqp *qp)
{
	if (soft_qp(qp)->tx.active)
		rdma_finish(x, qp, NDK_STATUS_CANCELLED);
}
