/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Registration-ready memory. The arena is a jemalloc arena whose extent
 * hooks carve extents out of memfd regions that ndkd maps too; it grows by
 * adding a region (one socket round trip, the slow path). Allocation itself
 * is jemalloc's, at malloc speed, and registering arena memory in ndkd is
 * bookkeeping: no syscall, no page pinning.
 *
 * libndk calls jemalloc only through mallocx/dallocx/mallctl on its own
 * arena. Debian's jemalloc has no symbol prefix, but libc comes before it in
 * an application's symbol lookup scope, so the application's malloc stays
 * libc's (a test checks this; docs/memory.md has the details).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jemalloc/jemalloc.h>

#include "ndk_priv.h"

/* Arena regions grow in steps of at least this much. */
#define ARENA_REGION_BYTES (64ull << 20)

struct arena {
	extent_hooks_t hooks; /* first: jemalloc hands the hooks pointer back to us */
	struct adapter *ad;
	unsigned int index;
	/* The region extents are carved from, and how far it is used. */
	uint64_t cur_base;
	uint64_t cur_size;
	uint64_t cur_used;
};

const struct lregion *
region_lookup(struct adapter *ad, uint64_t addr, uint64_t length)
{
	/* A: pairs with the release in region_publish() */
	uint32_t n = atomic_load_explicit(&ad->n_regions, memory_order_acquire), i;

	for (i = 0; i < n; i++) {
		const struct lregion *r = &ad->regions[i];

		if (addr >= r->base && length <= r->size && addr - r->base <= r->size - length)
			return r;
	}
	return NULL;
}

/* Caller holds mem_lock. */
static ndk_status
region_publish(struct adapter *ad, int fd, uint64_t addr, uint64_t size)
{
	struct stat sb;
	uint32_t n = atomic_load_explicit(&ad->n_regions, memory_order_relaxed), id;
	ndk_status st;

	if (n == NDK_LIB_MAX_REGIONS)
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	/*
	 * ndkd takes only memfds whose every page is allocated (now, and so
	 * charged to this process, not to ndkd), and seals them against new
	 * writable mappings and hole punching.
	 */
	if (fstat(fd, &sb) != 0)
		return NDK_STATUS_INVALID_PARAMETER;
	if (fallocate(fd, 0, 0, sb.st_size) != 0)
		return errno == ENOMEM || errno == ENOSPC ? NDK_STATUS_NO_MEMORY
							  : NDK_STATUS_INVALID_PARAMETER;
	st = channel_add_region(ad, fd, addr, size, &id);
	if (st != NDK_STATUS_SUCCESS)
		return st;
	ad->regions[n] = (struct lregion){ .base = addr, .size = size, .id = id };
	atomic_store_explicit(&ad->n_regions, n + 1, memory_order_release);
	return NDK_STATUS_SUCCESS;
}

/*
 * A new arena region: a memfd (hugetlb when ndkd runs on hugepages, plain
 * pages when it does not or hugepages run out), sealed so it can neither
 * shrink nor grow, mapped here, then handed to ndkd.
 */
static ndk_status
region_new(struct adapter *ad, struct arena *a, uint64_t size, uint64_t *base)
{
	uint64_t page = ad->info.arena_page_size, sz;
	bool huge = (ad->info.arena_flags & NDK_ABI_ARENA_HUGETLB) != 0;
	ndk_status st;
	void *map;
	int fd = -1;

	if (page < 4096 || (page & (page - 1)) != 0)
		page = 4096;
	if (huge) {
		sz = (size + page - 1) & ~(page - 1);
		fd = memfd_create("ndk-arena", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_HUGETLB);
		/* allocated now: a short pool falls back to plain pages */
		if (fd >= 0 &&
		    (ftruncate(fd, (off_t)sz) != 0 || fallocate(fd, 0, 0, (off_t)sz) != 0)) {
			close(fd);
			fd = -1;
		}
	}
	if (fd < 0) {
		sz = (size + 4095) & ~4095ull;
		fd = memfd_create("ndk-arena", MFD_CLOEXEC | MFD_ALLOW_SEALING);
		if (fd < 0 || ftruncate(fd, (off_t)sz) != 0) {
			if (fd >= 0)
				close(fd);
			return NDK_STATUS_NO_MEMORY;
		}
	}
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) != 0) {
		close(fd);
		return NDK_STATUS_NO_MEMORY;
	}
	map = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		close(fd);
		return NDK_STATUS_NO_MEMORY;
	}
	st = region_publish(ad, fd, (uint64_t)(uintptr_t)map, sz);
	close(fd);
	if (st != NDK_STATUS_SUCCESS) {
		munmap(map, sz);
		return st;
	}
	*base = (uint64_t)(uintptr_t)map;
	a->cur_base = *base;
	a->cur_size = sz;
	a->cur_used = 0;
	return NDK_STATUS_SUCCESS;
}

static inline struct arena *
hooks_arena(extent_hooks_t *h)
{
	return (struct arena *)h;
}

/*
 * jemalloc wants size bytes aligned to alignment. Bump-allocate them from the
 * current region, or from a new one when it is full. Extents are never given
 * back (dalloc opts out), so jemalloc recycles them itself.
 */
static void *
ext_alloc(extent_hooks_t *h, void *new_addr, size_t size, size_t alignment, bool *zero,
	  bool *commit, unsigned arena_ind)
{
	struct arena *a = hooks_arena(h);
	struct adapter *ad = a->ad;
	uint64_t start, base;
	void *ret = NULL;

	(void)arena_ind;
	if (alignment == 0 || (alignment & (alignment - 1)) != 0)
		return NULL;
	pthread_mutex_lock(&ad->mem_lock);
	start = (a->cur_base + a->cur_used + alignment - 1) & ~(uint64_t)(alignment - 1);
	if (a->cur_size == 0 || start + size > a->cur_base + a->cur_size) {
		uint64_t want = size + alignment;

		if (region_new(ad, a, want > ARENA_REGION_BYTES ? want : ARENA_REGION_BYTES,
			       &base) != NDK_STATUS_SUCCESS)
			goto out;
		start = (base + alignment - 1) & ~(uint64_t)(alignment - 1);
	}
	/* jemalloc may ask to extend an extent in place; only the bump can. */
	if (new_addr != NULL && (uint64_t)(uintptr_t)new_addr != start)
		goto out;
	a->cur_used = start + size - a->cur_base;
	ret = (void *)(uintptr_t)start;
	/* Fresh memfd pages read as zero and are always committed. */
	*zero = true;
	*commit = true;
out:
	pthread_mutex_unlock(&ad->mem_lock);
	return ret;
}

static bool
ext_dalloc(extent_hooks_t *h, void *addr, size_t size, bool committed, unsigned arena_ind)
{
	(void)h, (void)addr, (void)size, (void)committed, (void)arena_ind;
	return true; /* opt out: jemalloc keeps the extent for reuse */
}

static void
ext_destroy(extent_hooks_t *h, void *addr, size_t size, bool committed, unsigned arena_ind)
{
	/* The regions are unmapped whole when the adapter closes. */
	(void)h, (void)addr, (void)size, (void)committed, (void)arena_ind;
}

static bool
ext_commit(extent_hooks_t *h, void *addr, size_t size, size_t offset, size_t length,
	   unsigned arena_ind)
{
	(void)h, (void)addr, (void)size, (void)offset, (void)length, (void)arena_ind;
	return false; /* always committed: success */
}

static bool
ext_decommit(extent_hooks_t *h, void *addr, size_t size, size_t offset, size_t length,
	     unsigned arena_ind)
{
	(void)h, (void)addr, (void)size, (void)offset, (void)length, (void)arena_ind;
	return true; /* refuse: ndkd keeps a mapping of it */
}

static bool
ext_split(extent_hooks_t *h, void *addr, size_t size, size_t size_a, size_t size_b, bool committed,
	  unsigned arena_ind)
{
	(void)h, (void)addr, (void)size, (void)size_a, (void)size_b, (void)committed,
		(void)arena_ind;
	return false;
}

/* Two extents may merge only inside one region: an MR never spans regions. */
static bool
ext_merge(extent_hooks_t *h, void *addr_a, size_t size_a, void *addr_b, size_t size_b,
	  bool committed, unsigned arena_ind)
{
	struct arena *a = hooks_arena(h);
	uint64_t va = (uint64_t)(uintptr_t)addr_a, vb = (uint64_t)(uintptr_t)addr_b;

	(void)committed, (void)arena_ind;
	return region_lookup(a->ad, va, size_a) != region_lookup(a->ad, vb, size_b);
}

static struct arena *
arena_get(struct adapter *ad)
{
	struct arena *a = __atomic_load_n(&ad->arena, __ATOMIC_ACQUIRE);
	extent_hooks_t *hp;
	size_t sz = sizeof(unsigned);

	if (a != NULL)
		return a;
	/* Not mem_lock: arenas.create may already call ext_alloc, which takes it. */
	pthread_mutex_lock(&ad->arena_lock);
	a = ad->arena;
	if (a == NULL) {
		a = calloc(1, sizeof(*a));
		if (a != NULL) {
			a->hooks = (extent_hooks_t){
				.alloc = ext_alloc,
				.dalloc = ext_dalloc,
				.destroy = ext_destroy,
				.commit = ext_commit,
				.decommit = ext_decommit,
				.split = ext_split,
				.merge = ext_merge,
			};
			a->ad = ad;
			hp = &a->hooks;
			if (mallctl("arenas.create", &a->index, &sz, &hp, sizeof(hp)) != 0) {
				free(a);
				a = NULL;
			} else {
				/* pairs with the acquire above */
				__atomic_store_n(&ad->arena, a, __ATOMIC_RELEASE);
			}
		}
	}
	pthread_mutex_unlock(&ad->arena_lock);
	return a;
}

void *
ndk_mem_alloc(struct ndk_adapter *adapter, size_t size, size_t align)
{
	struct adapter *ad = to_adapter(adapter);
	struct arena *a;
	int flags;

	if (adapter == NULL || size == 0 || (align & (align - 1)) != 0)
		return NULL;
	a = arena_get(ad);
	if (a == NULL)
		return NULL;
	/* No thread cache: callers on any thread, and a cached block must not leave the arena. */
	flags = (int)MALLOCX_ARENA(a->index) | MALLOCX_TCACHE_NONE;
	if (align > 1)
		flags |= MALLOCX_ALIGN(align);
	return mallocx(size, flags);
}

void
ndk_mem_free(struct ndk_adapter *adapter, void *ptr)
{
	(void)adapter;
	if (ptr != NULL)
		dallocx(ptr, MALLOCX_TCACHE_NONE);
}

ndk_status
ndk_mem_attach_fd(struct ndk_adapter *adapter, int fd, size_t size, void **addr)
{
	struct stat sb;
	struct adapter *ad = to_adapter(adapter);
	ndk_status st;
	void *map;

	if (adapter == NULL || addr == NULL || fd < 0 || size == 0 || size % 4096 != 0)
		return NDK_STATUS_INVALID_PARAMETER;
	/* pages past the end would fault with SIGBUS when populated */
	if (fstat(fd, &sb) != 0 || (uint64_t)sb.st_size < size)
		return NDK_STATUS_INVALID_PARAMETER;
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return errno == ENOMEM ? NDK_STATUS_NO_MEMORY : NDK_STATUS_INVALID_PARAMETER;
	pthread_mutex_lock(&ad->mem_lock);
	st = region_publish(ad, fd, (uint64_t)(uintptr_t)map, size);
	pthread_mutex_unlock(&ad->mem_lock);
	if (st != NDK_STATUS_SUCCESS) {
		munmap(map, size);
		return st;
	}
	*addr = map;
	return NDK_STATUS_SUCCESS;
}

void
mem_fini(struct adapter *ad)
{
	uint32_t n = atomic_load_explicit(&ad->n_regions, memory_order_relaxed), i;
	char name[64];

	if (ad->arena != NULL) {
		/* Drops every allocation still in the arena; the regions go next. */
		snprintf(name, sizeof(name), "arena.%u.destroy", ad->arena->index);
		mallctl(name, NULL, NULL, NULL, 0);
		free(ad->arena);
		ad->arena = NULL;
	}
	for (i = 0; i < n; i++)
		munmap((void *)(uintptr_t)ad->regions[i].base, ad->regions[i].size);
	atomic_store_explicit(&ad->n_regions, 0, memory_order_relaxed);
}
