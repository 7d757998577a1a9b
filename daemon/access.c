/* SPDX-License-Identifier: BSD-3-Clause */
/* Token and range resolution (access.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_common.h>

#include "access.h"
#include "mrt.h"

/*
 * Append the pieces of [addr, addr + len) of a normal or fast-register MR
 * entry (a copy, taken under its sequence count) to out. False when they do
 * not fit; bounds are the caller's. Inlined: out of line, every resolve paid
 * a call (callgrind: 95 -> 123 instructions for a 64-byte write's resolve).
 */
static inline __attribute__((always_inline)) bool
map_range(const struct ectx *x, const struct mrt_entry *e, uint64_t addr, uint64_t len,
	  struct dp_chunk *out, uint32_t *n, uint32_t n0)
{
	if (e->kind == MRT_KIND_NORMAL) {
		if (*n == x->max_chunks)
			return false;
		out[(*n)++] =
			(struct dp_chunk){ (uint8_t *)(uintptr_t)(e->daemon_va + (addr - e->va)),
					   len };
		return true;
	} else {
		const uint64_t *pages = (const uint64_t *)(uintptr_t)e->pages;
		uint64_t off = e->fbo + (addr - e->va), left = len;

		while (left > 0) {
			uint64_t in_page = PAGE - off % PAGE;
			uint64_t take = left < in_page ? left : in_page;
			uint8_t *p = (uint8_t *)(uintptr_t)pages[off / PAGE] + off % PAGE;

			if (*n > n0 && out[*n - 1].addr + out[*n - 1].len == p) {
				out[*n - 1].len += take;
			} else {
				if (*n == x->max_chunks)
					return false;
				out[(*n)++] = (struct dp_chunk){ p, take };
			}
			off += take;
			left -= take;
		}
		return true;
	}
}

/*
 * A window's range lives in its MR: that MR must still be the registration
 * the window was bound under (same variant, VALID), so a window dies with
 * it. Read under the MR's own sequence count.
 */
static bool
map_window(const struct ectx *x, const struct mrt_entry *w, uint64_t addr, uint64_t len,
	   struct dp_chunk *out, uint32_t *n, uint32_t n0)
{
	const struct mrt_entry *pe = &x->mrt->entries[w->parent];
	struct mrt_entry p;
	uint32_t s0;
	bool ok;

	do {
		*n = n0;
		s0 = seq_read_begin(&pe->seq);
		memcpy(&p, pe, sizeof(p));
		ok = p.state == MRT_VALID && p.variant == w->parent_variant &&
		     p.client_id == w->client_id &&
		     (p.kind == MRT_KIND_NORMAL || p.kind == MRT_KIND_FASTREG) && addr >= p.va &&
		     len <= p.length && addr - p.va <= p.length - len &&
		     map_range(x, &p, addr, len, out, n, n0);
	} while (seq_read_retry(&pe->seq, s0));
	return ok;
}

/*
 * The entry (and a fast-register MR's page list) is read under its sequence
 * count, so a concurrent (re)registration is never seen half done.
 */
bool
access_resolve(const struct ectx *x, uint32_t token, uint64_t addr, uint64_t len,
	       const struct access_req *w, struct dp_chunk *out, uint32_t *n)
{
	const struct mrt *t = x->mrt;
	uint32_t n0 = *n, s0;
	const struct mrt_entry *ent;
	struct mrt_entry e;

	if (len == 0)
		return true;
	ent = mrt_entry_of_token(t, token);
	if (ent == NULL)
		return false;
	for (;;) {
		*n = n0;
		s0 = seq_read_begin(&ent->seq);
		/* the table's lookup (mrt.h), then a copy for the range's arithmetic */
		if (!mrt_entry_live(ent, token))
			goto recheck_fail;
		memcpy(&e, ent, sizeof(e));
		if (e.client_id != w->client_id || e.pd != w->pd ||
		    (e.access & w->access) != w->access)
			goto recheck_fail;
		if (e.kind == MRT_KIND_PRIVILEGED) {
			const struct region *r;
			uint32_t id;

			/* logical addresses of the client's own regions, local access only */
			if (w->remote || w->local == NULL)
				goto recheck_fail;
			r = region_find(w->local, addr, len, &id);
			if (r == NULL || *n == x->max_chunks)
				goto recheck_fail;
			out[(*n)++] =
				(struct dp_chunk){ r->daemon_base + (addr - r->client_base), len };
		} else if (addr < e.va || len > e.length || addr - e.va > e.length - len ||
			   /* a window grants remote access only, to its own range */
			   (e.kind == MRT_KIND_MW
				    ? !w->remote || !map_window(x, &e, addr, len, out, n, n0)
				    : !map_range(x, &e, addr, len, out, n, n0))) {
			goto recheck_fail;
		}
		if (!seq_read_retry(&ent->seq, s0))
			return true;
		continue;
	recheck_fail:
		/* a failure seen in a torn copy is retried, a real one reported */
		if (!seq_read_retry(&ent->seq, s0))
			return false;
	}
}

int
access_scratch_init(struct ectx *x)
{
	/* a full-size transfer through fast-register pages, plus one piece per SGE */
	x->max_chunks = NDKD_MAX_TRANSFER / PAGE + 2 * NDKD_MAX_SGE + 2;
	x->local = calloc(x->max_chunks, sizeof(*x->local));
	x->remote = calloc(x->max_chunks, sizeof(*x->remote));
	return x->local != NULL && x->remote != NULL ? 0 : -ENOMEM;
}

void
access_scratch_fini(struct ectx *x)
{
	free(x->local);
	free(x->remote);
	x->local = x->remote = NULL;
}

bool
access_resolve_sges(const struct ectx *x, const struct ndk_abi_sge *sge, uint32_t n_sge,
		    uint64_t off, uint64_t len, const struct access_req *w, struct dp_chunk *out,
		    uint32_t *n)
{
	uint32_t i;

	for (i = 0; i < n_sge && len != 0; i++) {
		uint64_t k;

		if (off >= sge[i].length) {
			off -= sge[i].length;
			continue;
		}
		k = RTE_MIN(sge[i].length - off, len);
		/* access_resolve checks whatever addr + off comes to, like any address */
		if (!access_resolve(x, sge[i].token, sge[i].addr + off, k, w, out, n))
			return false;
		off = 0;
		len -= k;
	}
	return len == 0;
}
