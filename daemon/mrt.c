/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <rte_common.h>
#include <rte_pause.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "mrt.h"

int
mrt_create(struct mrt *t, uint32_t n_entries)
{
	size_t bytes = (size_t)n_entries * sizeof(struct mrt_entry);
	uint32_t i, batch[256], n;
	void *pool_mem = NULL;
	ssize_t pool_bytes;

	memset(t, 0, sizeof(*t));
	if (n_entries < 2 || n_entries > MRT_MAX_ENTRIES)
		return -EINVAL;
	/* Plain anonymous memory: untouched parts cost no RAM until used. */
	t->entries = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (t->entries == MAP_FAILED) {
		t->entries = NULL;
		return -ENOMEM;
	}
	/*
	 * Lookups land anywhere in the table: with 4 KiB pages a 1M-entry table
	 * (64 MiB) outgrows the TLB and every lookup pays a page walk. Ask for
	 * transparent hugepages; where THP is off this is a no-op, not an error.
	 */
	(void)madvise(t->entries, bytes, MADV_HUGEPAGE);
	t->n_entries = n_entries;
	/*
	 * The pool is a DPDK ring on memory of our own (rte_ring_init, not a
	 * memzone), so the table also works without EAL, in unit tests.
	 */
	pool_bytes = rte_ring_get_memsize_elem(sizeof(uint32_t), rte_align32pow2(n_entries));
	if (pool_bytes < 0 ||
	    posix_memalign(&pool_mem, RTE_CACHE_LINE_SIZE, (size_t)pool_bytes) != 0) {
		mrt_destroy(t);
		return -ENOMEM;
	}
	t->free_pool = pool_mem;
	if (rte_ring_init(t->free_pool, "ndkd_mrt_free", rte_align32pow2(n_entries), 0) != 0) {
		mrt_destroy(t);
		return -EINVAL;
	}
	/* Index 0 stays out of the pool forever: 0 is never a valid token. */
	for (i = 1; i < n_entries; i += n) {
		uint32_t k;

		n = RTE_MIN(n_entries - i, (uint32_t)RTE_DIM(batch));
		for (k = 0; k < n; k++)
			batch[k] = i + k;
		rte_ring_enqueue_bulk_elem(t->free_pool, batch, sizeof(uint32_t), n, NULL);
	}
	return 0;
}

void
mrt_destroy(struct mrt *t)
{
	if (t->entries != NULL)
		munmap(t->entries, (size_t)t->n_entries * sizeof(struct mrt_entry));
	t->entries = NULL;
	free(t->free_pool);
	t->free_pool = NULL;
}

uint32_t
mrt_alloc(struct mrt *t, struct mrt_cache *c, uint32_t client_id, uint32_t pd, uint32_t handle)
{
	struct mrt_entry *e;
	uint32_t index;

	if (c->n == 0)
		c->n = rte_ring_dequeue_burst_elem(t->free_pool, c->idx, sizeof(uint32_t),
						   MRT_CACHE_SIZE / 2, NULL);
	if (c->n == 0)
		return 0;
	index = c->idx[--c->n];
	e = &t->entries[index];
	mrt_write_begin(e);
	e->state = MRT_ALLOCATED;
	e->kind = MRT_KIND_NORMAL;
	e->access = 0;
	e->client_id = client_id;
	e->pd = pd;
	e->handle = handle;
	e->fr_max_pages = 0;
	e->va = 0;
	e->length = 0;
	e->daemon_va = 0;
	e->n_pages = 0;
	mrt_write_end(e);
	atomic_fetch_add_explicit(&t->in_use, 1, memory_order_relaxed);
	return index;
}

void
mrt_free(struct mrt *t, struct mrt_cache *c, uint32_t index)
{
	struct mrt_entry *e = &t->entries[index];

	mrt_write_begin(e);
	e->state = MRT_FREE;
	/* Whatever token named this entry is dead from here on. */
	e->variant++;
	e->client_id = 0;
	e->length = 0;
	e->daemon_va = 0;
	mrt_write_end(e);
	atomic_fetch_sub_explicit(&t->in_use, 1, memory_order_relaxed);
	if (c->n == MRT_CACHE_SIZE) {
		rte_ring_enqueue_burst_elem(t->free_pool, &c->idx[MRT_CACHE_SIZE / 2],
					    sizeof(uint32_t), MRT_CACHE_SIZE / 2, NULL);
		c->n = MRT_CACHE_SIZE / 2;
	}
	c->idx[c->n++] = index;
}

void
mrt_cache_flush(struct mrt *t, struct mrt_cache *c)
{
	if (c->n != 0)
		rte_ring_enqueue_burst_elem(t->free_pool, c->idx, sizeof(uint32_t), c->n, NULL);
	c->n = 0;
}
