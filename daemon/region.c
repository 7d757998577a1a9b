/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The memory a client handed ndkd (arena regions, attached fds), as its
 * engine sees it: which region holds an address range, and rings the client
 * placed there. The main lcore appends regions (server.c); engines read.
 */
#include <ndk/internal/ring.h>

#include "ndkd.h"

const struct region *
region_find(const struct client *c, uint64_t va, uint64_t length, uint32_t *id)
{
	/* A1: pairs with the main lcore's release when it added the region */
	uint32_t n = atomic_load_explicit(&c->n_regions, memory_order_acquire), i;

	for (i = 0; i < n; i++) {
		const struct region *r = &c->regions[i];

		/* overflow-safe [va, va + length) within [base, base + size) */
		if (va >= r->client_base && length <= r->size &&
		    va - r->client_base <= r->size - length) {
			*id = i;
			return r;
		}
	}
	return NULL;
}

/*
 * ndkd computes the view once, from its own mapping; the index it owns
 * starts at 0 whatever the client wrote there.
 */
bool
region_ring_map(const struct client *c, struct ndk_ring *r, uint64_t addr, uint64_t entries,
		bool produce)
{
	struct ndk_abi_ring_desc d;
	const struct region *reg;
	uint32_t id;

	if (entries < NDK_ABI_RING_MIN_ENTRIES || entries > NDK_ABI_RING_MAX_ENTRIES ||
	    (entries & (entries - 1)) != 0 || addr % NDK_ABI_CACHE_LINE != 0)
		return false;
	d = ndk_abi_ring_standalone((uint32_t)entries);
	reg = region_find(c, addr, ndk_abi_ring_bytes((uint32_t)entries), &id);
	if (reg == NULL)
		return false;
	ndk_ring_attach(r, reg->daemon_base + (addr - reg->client_base), &d);
	/* ndkd produces results (completion rings) and takes work requests */
	if (produce)
		ndk_ring_set_stamp(r, NDK_ABI_RESULT_STAMP);
	else
		ndk_ring_set_stamp_wr(r);
	atomic_store_explicit(produce ? r->kprod : r->kcons, 0, memory_order_relaxed);
	return true;
}
