/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * An engine's context without EAL or a daemon process, for unit tests of
 * the daemon's pieces: the MR and QP tables, a provider (soft, or a test's
 * own ops), and one client whose single region is this process's memory
 * (client and daemon addresses are the same).
 */
#ifndef NDK_ENGINE_FIXTURE_H
#define NDK_ENGINE_FIXTURE_H

#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "mrt.h"
#include "ndkd.h"
#include "provider.h"
#include "qpt.h"
#include "testlib.h"

struct efx {
	struct mrt mrt;
	struct mrt_cache cache;
	struct qpt qpt;
	struct provider prov;
	struct ndkd_limits lim;
	struct ectx x;
	struct client c;
	uint8_t *mem;
	size_t mem_size;
};

static inline void
efx_init(struct efx *f, const struct provider_ops *ops, size_t mem_size)
{
	memset(f, 0, sizeof(*f));
	f->lim = (struct ndkd_limits){
		.mr_table_entries = 1024,
		.max_mrs = 64,
		.max_pds = 8,
		.max_regions = NDKD_MAX_REGIONS,
		.max_region_bytes = 1ull << 30,
		.max_registered_bytes = 1ull << 30,
		.frmr_page_count = 64,
		.max_qps = 8,
		.max_cqs = 8,
		.max_srqs = 4,
		.max_queue_depth = 64,
		.max_cq_depth = 256,
	};
	CHECK(mrt_create(&f->mrt, f->lim.mr_table_entries) == 0, "MR table");
	CHECK(qpt_create(&f->qpt, 16) == 0, "QP table");
	provider_set_ops(&f->prov, ops);
	CHECK(f->prov.ops.init(&f->prov, NULL) == 0, "provider init");
	f->x = (struct ectx){
		.mrt = &f->mrt,
		.cache = &f->cache,
		.lim = &f->lim,
		.qpt = &f->qpt,
		.prov = &f->prov,
	};
	CHECK(access_scratch_init(&f->x) == 0, "scratch");
	f->mem_size = mem_size;
	f->mem = aligned_alloc(PAGE, mem_size);
	memset(f->mem, 0, mem_size);
	f->c.id = 5;
	f->c.obj_cap = 64;
	f->c.obj_hw = 1;
	f->c.objs = calloc(f->c.obj_cap, sizeof(*f->c.objs));
	f->c.regions[0] = (struct region){
		.client_base = (uint64_t)(uintptr_t)f->mem,
		.size = mem_size,
		.daemon_base = f->mem,
	};
	atomic_store(&f->c.n_regions, 1);
	atomic_init(&f->c.wake_fd, -1);
}

static inline void
efx_fini(struct efx *f)
{
	uint32_t i;

	for (i = 1; i < f->c.obj_hw; i++) {
		if (f->c.objs[i].type == OBJ_MR)
			free(f->c.objs[i].ptr);
	}
	for (i = 0; i < f->c.n_fr_spare; i++)
		free(f->c.fr_spare[i]);
	free(f->c.fr_spare);
	free(f->c.objs);
	free(f->mem);
	access_scratch_fini(&f->x);
	f->prov.ops.fini(&f->prov);
	mrt_destroy(&f->mrt);
	qpt_destroy(&f->qpt);
}

static inline uint64_t
efx_addr(const struct efx *f, size_t off)
{
	return (uint64_t)(uintptr_t)f->mem + off;
}

#endif /* NDK_ENGINE_FIXTURE_H */
