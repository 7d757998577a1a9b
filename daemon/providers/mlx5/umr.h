/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the mlx5 layer does without a device, so it can be tested without
 * one: a fast register's pages as the entries of an indirect mkey (KLM
 * list), the UMR work request that maps the mkey over them at the app's
 * address with ndkd's key tag, and the pool of indirect mkeys fast-register
 * MRs take theirs from.
 *
 * Why a UMR of ndkd's own and not mlx5dv_wr_mr_list(): that one leaves the
 * mkey zero-based (peers would address it from 0, not from the address the
 * app gave) and keeps the key's tag. The WQE built here is the one the PRM
 * gives for a UMR with an inline KLM list; mlx5dv_wr_raw_wqe() posts it in
 * the QP's order with the QP's other work.
 */
#ifndef NDKD_MLX5_UMR_H
#define NDKD_MLX5_UMR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <infiniband/verbs.h>

#include "../../provider.h"

/*
 * A WQE's size is counted in 16-byte units in 6 bits of its control
 * segment: at most 1008 bytes. Control (16), UMR control (48) and mkey
 * context (64) leave 880, in 64-byte blocks: 13 blocks of 4 KLM entries
 * (960 bytes in all); one entry more needs 1024.
 */
#define UMR_WQE_MAX	1008u
#define UMR_MAX_ENTRIES 52u

/*
 * Where ndkd's address of a page is registered with the device: the lkey
 * and the IOVA of addr under it, and the bytes from addr to the end of
 * that registration. false: nowhere.
 */
typedef bool (*umr_resolve_fn)(void *arg, uint64_t addr, uint32_t *lkey, uint64_t *iova,
			       uint64_t *room);

/*
 * m's mapping (m->length bytes from m->fbo into m->pages) as KLM entries:
 * pieces that follow each other under one lkey are one entry. The number
 * of entries, or -E2BIG (more than max), -EFAULT (a page resolve does not
 * know), -EINVAL (no bytes, or an entry over 2 GiB).
 */
int umr_list(const struct fr_map *m, umr_resolve_fn resolve, void *arg, struct ibv_sge *out,
	     uint32_t max);

/*
 * KLM entries one UMR may carry on a QP whose inline data is max_inline
 * bytes: the QP's send WQEs are sized for an RC send with that much inline
 * (control, remote address and inline segments: 36 bytes, then max_inline,
 * in 64-byte blocks), and a UMR must not be larger. 0: none fits.
 */
uint32_t umr_entries_for(uint32_t max_inline);

/* The max_inline that makes room for UMR_MAX_ENTRIES. */
#define UMR_INLINE_FOR_MAX (UMR_WQE_MAX / 64 * 64 - 36)

/* A UMR that maps an indirect mkey. */
struct umr_args {
	uint32_t qpn;
	uint32_t mkey; /* the mkey's key as the device knows it now (its index << 8 | tag) */
	uint8_t tag;   /* the key's new low byte */
	uint64_t va;   /* where the mapping starts in the mkey's address space */
	uint64_t len;  /* its length: the entries' sum */
	int access;    /* IBV_ACCESS_* the mkey grants */
	bool signaled; /* a completion when done */
	const struct ibv_sge *list;
	uint32_t n;
};

/*
 * The UMR WQE for a into buf (size bytes, 64-byte aligned blocks): its
 * size in bytes (a multiple of 64), or 0 when a does not fit (n over
 * UMR_MAX_ENTRIES or size, length not the entries' sum).
 */
size_t umr_wqe(void *buf, size_t size, const struct umr_args *a);

/* A key with its low byte replaced: what a UMR or bind makes of it. */
static inline uint32_t
umr_key(uint32_t key, uint8_t tag)
{
	return (key & ~0xffu) | tag;
}

/*
 * Indirect mkeys made ahead of need, so that initialising a fast-register
 * MR takes one without a command to the device. An mkey is taken once:
 * one that held a mapping is destroyed when its MR goes, never handed to
 * another MR. Runs on one engine; create/destroy are the device's calls.
 */
struct mkey_pool {
	void **free;
	uint32_t n_free, cap;
	uint32_t low; /* below this many, a refill makes up to cap */
	void *(*create)(void *arg);
	void (*destroy)(void *arg, void *mkey);
	void *arg;
	uint64_t n_created, n_destroyed, n_taken_empty; /* the last: taken with the pool empty */
};

int mkey_pool_init(struct mkey_pool *p, uint32_t cap, uint32_t low, void *(*create)(void *arg),
		   void (*destroy)(void *arg, void *mkey), void *arg);
/* An mkey never mapped (made now if none is ready), or NULL when the device makes none. */
void *mkey_pool_take(struct mkey_pool *p);
/* Back unused (the MR that took it never mapped it): kept if there is room. */
void mkey_pool_return(struct mkey_pool *p, void *mkey);
/* One that held a mapping: destroyed. */
void mkey_pool_retire(struct mkey_pool *p, void *mkey);
/* Make mkeys up to cap once below low (off the fast path: after a take). Made now. */
uint32_t mkey_pool_refill(struct mkey_pool *p);
void mkey_pool_fini(struct mkey_pool *p);

#endif /* NDKD_MLX5_UMR_H */
