/* SPDX-License-Identifier: BSD-3-Clause */
/* UMR work requests and the indirect-mkey pool (umr.h). */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <infiniband/mlx5dv.h>

#include "../../access.h"
#include "umr.h"

int
umr_list(const struct fr_map *m, umr_resolve_fn resolve, void *arg, struct ibv_sge *out,
	 uint32_t max)
{
	uint64_t left = m->length, off = m->fbo, iova, room, take;
	uint32_t i, n = 0, lkey;

	if (left == 0)
		return -EINVAL;
	for (i = 0; i < m->n_pages && left > 0; i++, off = 0) {
		if (!resolve(arg, m->pages[i] + off, &lkey, &iova, &room) || room < PAGE - off)
			return -EFAULT; /* a page lies in one registration */
		take = left < PAGE - off ? left : PAGE - off;
		if (n > 0 && out[n - 1].lkey == lkey &&
		    out[n - 1].addr + out[n - 1].length == iova &&
		    out[n - 1].length + take <= INT32_MAX) {
			out[n - 1].length += (uint32_t)take;
		} else {
			if (n == max)
				return -E2BIG;
			out[n++] = (struct ibv_sge){ .addr = iova,
						     .length = (uint32_t)take,
						     .lkey = lkey };
		}
		left -= take;
	}
	return left == 0 ? (int)n : -EINVAL;
}

uint32_t
umr_entries_for(uint32_t max_inline)
{
	uint64_t wqe = ((uint64_t)max_inline + 36) / MLX5_SEND_WQE_BB * MLX5_SEND_WQE_BB;
	uint64_t n;

	if (wqe > UMR_WQE_MAX)
		wqe = UMR_WQE_MAX / MLX5_SEND_WQE_BB * MLX5_SEND_WQE_BB;
	if (wqe <= 128)
		return 0; /* control, UMR control and mkey context take 128 */
	n = (wqe - 128) / 16;
	return n < UMR_MAX_ENTRIES ? (uint32_t)n : UMR_MAX_ENTRIES;
}

static uint8_t
mkey_access(int access)
{
	uint8_t f = MLX5_WQE_MKEY_CONTEXT_ACCESS_FLAGS_LOCAL_READ;

	if (access & IBV_ACCESS_LOCAL_WRITE)
		f |= MLX5_WQE_MKEY_CONTEXT_ACCESS_FLAGS_LOCAL_WRITE;
	if (access & IBV_ACCESS_REMOTE_READ)
		f |= MLX5_WQE_MKEY_CONTEXT_ACCESS_FLAGS_REMOTE_READ;
	if (access & IBV_ACCESS_REMOTE_WRITE)
		f |= MLX5_WQE_MKEY_CONTEXT_ACCESS_FLAGS_REMOTE_WRITE;
	if (access & IBV_ACCESS_REMOTE_ATOMIC)
		f |= MLX5_WQE_MKEY_CONTEXT_ACCESS_FLAGS_ATOMIC;
	return f;
}

size_t
umr_wqe(void *buf, size_t size, const struct umr_args *a)
{
	struct mlx5_wqe_ctrl_seg *ctrl = buf;
	struct mlx5_wqe_umr_ctrl_seg *umr;
	struct mlx5_wqe_mkey_context_seg *mk;
	struct mlx5_wqe_umr_klm_seg *klm;
	size_t klm_bytes, total;
	uint64_t sum = 0;
	uint32_t i;

	if (a->n == 0 || a->n > UMR_MAX_ENTRIES)
		return 0;
	klm_bytes = ((size_t)a->n * sizeof(*klm) + MLX5_SEND_WQE_BB - 1) &
		    ~(size_t)(MLX5_SEND_WQE_BB - 1);
	total = sizeof(*ctrl) + sizeof(*umr) + sizeof(*mk) + klm_bytes;
	for (i = 0; i < a->n; i++)
		sum += a->list[i].length;
	if (total > size || total > UMR_WQE_MAX || sum != a->len)
		return 0;
	memset(buf, 0, total);

	ctrl->opmod_idx_opcode = htobe32(MLX5_OPCODE_UMR); /* the index is the QP's to set */
	ctrl->qpn_ds = htobe32(a->qpn << 8 | (uint32_t)(total / 16));
	/*
	 * The small fence: the mapping changes only after the work before it
	 * has read what it needs, as the kernel orders its own fast registers.
	 */
	ctrl->fm_ce_se =
		MLX5_WQE_CTRL_INITIATOR_SMALL_FENCE | (a->signaled ? MLX5_WQE_CTRL_CQ_UPDATE : 0);
	ctrl->imm = htobe32(a->mkey);

	umr = (void *)(ctrl + 1);
	umr->flags = MLX5_WQE_UMR_CTRL_FLAG_INLINE;
	umr->klm_octowords = htobe16((uint16_t)(klm_bytes / 16));
	umr->mkey_mask =
		htobe64(MLX5_WQE_UMR_CTRL_MKEY_MASK_LEN | MLX5_WQE_UMR_CTRL_MKEY_MASK_START_ADDR |
			MLX5_WQE_UMR_CTRL_MKEY_MASK_MKEY | MLX5_WQE_UMR_CTRL_MKEY_MASK_FREE |
			MLX5_WQE_UMR_CTRL_MKEY_MASK_ACCESS_LOCAL_WRITE |
			MLX5_WQE_UMR_CTRL_MKEY_MASK_ACCESS_REMOTE_READ |
			MLX5_WQE_UMR_CTRL_MKEY_MASK_ACCESS_REMOTE_WRITE |
			MLX5_WQE_UMR_CTRL_MKEY_MASK_ACCESS_ATOMIC);

	mk = (void *)(umr + 1);
	mk->free = 0; /* in use from here */
	mk->access_flags = mkey_access(a->access);
	mk->qpn_mkey = htobe32(0xffffff00u | a->tag); /* no QP of its own; the new tag */
	mk->start_addr = htobe64(a->va);
	mk->len = htobe64(a->len);

	klm = (void *)(mk + 1);
	for (i = 0; i < a->n; i++) {
		klm[i].byte_count = htobe32(a->list[i].length);
		klm[i].mkey = htobe32(a->list[i].lkey);
		klm[i].address = htobe64(a->list[i].addr);
	}
	return total;
}

int
mkey_pool_init(struct mkey_pool *p, uint32_t cap, uint32_t low, void *(*create)(void *arg),
	       void (*destroy)(void *arg, void *mkey), void *arg)
{
	*p = (struct mkey_pool){ .cap = cap,
				 .low = low < cap ? low : cap,
				 .create = create,
				 .destroy = destroy,
				 .arg = arg };
	p->free = calloc(cap > 0 ? cap : 1, sizeof(*p->free));
	return p->free != NULL ? 0 : -ENOMEM;
}

void *
mkey_pool_take(struct mkey_pool *p)
{
	void *k;

	if (p->n_free > 0)
		return p->free[--p->n_free];
	p->n_taken_empty++;
	k = p->create(p->arg);
	if (k != NULL)
		p->n_created++;
	return k;
}

void
mkey_pool_return(struct mkey_pool *p, void *mkey)
{
	if (p->n_free < p->cap)
		p->free[p->n_free++] = mkey;
	else
		mkey_pool_retire(p, mkey);
}

void
mkey_pool_retire(struct mkey_pool *p, void *mkey)
{
	p->destroy(p->arg, mkey);
	p->n_destroyed++;
}

uint32_t
mkey_pool_refill(struct mkey_pool *p)
{
	uint32_t made = 0;
	void *k;

	if (p->n_free >= p->low)
		return 0;
	while (p->n_free < p->cap && (k = p->create(p->arg)) != NULL) {
		p->free[p->n_free++] = k;
		p->n_created++;
		made++;
	}
	return made;
}

void
mkey_pool_fini(struct mkey_pool *p)
{
	while (p->n_free > 0)
		mkey_pool_retire(p, p->free[--p->n_free]);
	free(p->free);
	p->free = NULL;
}
