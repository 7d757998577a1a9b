/* SPDX-License-Identifier: BSD-3-Clause */
/* Same-node RDMA read and write: the peer's side checked, then one copy. */
#include <string.h>

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

ndk_status
soft_rdma(struct ectx *x, struct dqp *qp, const struct wq_op *op, uint32_t *bytes)
{
	bool is_write = op->w->h.opcode == NDK_ABI_WR_WRITE;
	struct access_req remote = {
		.access = is_write ? MRT_ACCESS_REMOTE_WRITE : MRT_ACCESS_REMOTE_READ,
		.remote = true,
	};
	const struct ndk_abi_wqe *h = &op->w->h;
	struct qpt_entry peer;
	uint32_t nr = 0;
	ndk_status st;

	st = soft_peer_ready(x, qp, &peer);
	if (st != NDK_STATUS_SUCCESS)
		return st;
	remote.client_id = peer.client_id;
	remote.pd = peer.pd;
	if (h->remote_addr + op->total < h->remote_addr ||
	    !access_resolve(x, h->remote_token, h->remote_addr, op->total, &remote, x->remote, &nr))
		return NDK_STATUS_ACCESS_VIOLATION;
	if (is_write)
		soft_copy(x->local, op->n_local, x->remote, nr);
	else
		soft_copy(x->remote, nr, x->local, op->n_local);
	*bytes = (uint32_t)op->total;
	return NDK_STATUS_SUCCESS;
}
