/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The MR table: one flat array of 64-byte entries shared by every engine,
 * indexed by the upper 24 bits of a token.
 *
 *   token = (index << 8) | variant      index 0 is reserved: 0 is never a token
 *
 * An entry is written only by the engine that owns its client, and moves
 * FREE -> ALLOCATED -> VALID <-> INVALID -> FREE. The variant changes every
 * time an entry becomes VALID and when it is freed, so a token handed out
 * before stops matching at once. Writers bracket their stores with a sequence
 * count; readers on other engines copy the entry and retry if the count was
 * odd or moved (no lock on any path).
 *
 * Free indices live in a DPDK ring (the shared pool); each engine keeps a
 * small cache in front of it so most allocations touch no shared line.
 */
#ifndef NDKD_MRT_H
#define NDKD_MRT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "seqcount.h"

#define MRT_TOKEN_INDEX(t)   ((t) >> 8)
#define MRT_TOKEN_VARIANT(t) ((t)&0xffu)
#define MRT_TOKEN(i, v)	     (((uint32_t)(i) << 8) | (uint32_t)(v))
#define MRT_MAX_ENTRIES	     (1u << 24)

enum mrt_state {
	MRT_FREE = 0,
	MRT_ALLOCATED,
	MRT_VALID,
	MRT_INVALID,
};

enum mrt_kind {
	MRT_KIND_NORMAL = 0,
	MRT_KIND_FASTREG,
	/* A PD's privileged token: local access to the client's arenas, never remote. */
	MRT_KIND_PRIVILEGED,
	/* A memory window: a range of a parent MR with access of its own (parent, below). */
	MRT_KIND_MW,
};

/* Access bits, NDK_MR_FLAG_* values. LOCAL_READ is always allowed. */
#define MRT_ACCESS_LOCAL_WRITE	0x1u
#define MRT_ACCESS_REMOTE_READ	0x2u
#define MRT_ACCESS_REMOTE_WRITE 0x4u
#define MRT_ACCESS_READ_SINK	0x8u
#define MRT_ACCESS_REMOTE	(MRT_ACCESS_REMOTE_READ | MRT_ACCESS_REMOTE_WRITE)

struct mrt_entry {
	_Atomic uint32_t seq; /* odd while the owner writes */
	uint8_t state;	      /* enum mrt_state */
	uint8_t variant;
	uint8_t kind;	/* enum mrt_kind */
	uint8_t access; /* MRT_ACCESS_* */
	uint32_t client_id;
	uint32_t pd;	       /* the client's PD handle */
	uint32_t handle;       /* the client's MR handle */
	uint32_t fr_max_pages; /* fast-register MRs: pages reserved by initialize */
	uint64_t va;	       /* first byte, as the client addresses it */
	uint64_t length;
	uint64_t daemon_va; /* normal MRs: where va is mapped in ndkd (soft provider) */
	uint64_t pages;	    /* fast-register MRs: ndkd addresses of the mapped pages (uint64_t *) */
	union {
		uint32_t fbo;	 /* fast-register MRs: offset of va in the first page */
		uint32_t parent; /* MWs: the MR table index of the MR bound under */
	};
	union {
		uint32_t n_pages; /* fast-register MRs: pages mapped now */
		uint32_t
			parent_variant; /* MWs: that MR's variant when bound (a new one kills it) */
	};
};
_Static_assert(sizeof(struct mrt_entry) == 64, "an MR entry is one cache line");

struct mrt {
	struct mrt_entry *entries;
	uint32_t n_entries;
	struct rte_ring *free_pool;
	_Atomic uint64_t in_use; /* entries not FREE, for telemetry */
};

#define MRT_CACHE_SIZE 64u

/* An engine's private stock of free indices. */
struct mrt_cache {
	uint32_t n;
	uint32_t idx[MRT_CACHE_SIZE];
};

/* n_entries includes the reserved index 0. Returns 0 or -errno. */
int mrt_create(struct mrt *t, uint32_t n_entries);
void mrt_destroy(struct mrt *t);

/* An index in state ALLOCATED, variant unchanged; 0 when the table is full. */
uint32_t mrt_alloc(struct mrt *t, struct mrt_cache *c, uint32_t client_id, uint32_t pd,
		   uint32_t handle);
/* Back to FREE with a new variant; the index returns to the cache/pool. */
void mrt_free(struct mrt *t, struct mrt_cache *c, uint32_t index);
/* Give a cache's indices back to the pool (engine stop). */
void mrt_cache_flush(struct mrt *t, struct mrt_cache *c);

static inline struct mrt_entry *
mrt_entry(struct mrt *t, uint32_t index)
{
	return &t->entries[index];
}

/* Owner side: open and close a write of entry e. */
static inline void
mrt_write_begin(struct mrt_entry *e)
{
	seq_write_begin(&e->seq);
}

static inline void
mrt_write_end(struct mrt_entry *e)
{
	seq_write_end(&e->seq);
}

/*
 * A fast register or bind names the entry's next token itself (as
 * ibv_inc_rkey lets verbs consumers do): it must be this entry's index,
 * under a variant other than the one in force, so the token before dies.
 */
static inline bool
mrt_token_is_next(uint32_t token, uint32_t index, uint8_t variant)
{
	return MRT_TOKEN_INDEX(token) == index && MRT_TOKEN_VARIANT(token) != variant;
}

/*
 * The engines' lookup, in two steps and with nothing copied: the entry a
 * token's index names (NULL: malformed or out of range, final), then, in
 * place between seq_read_begin() and seq_read_retry() on its count, whether
 * it is VALID under the token's variant. A caller reads the other fields it
 * needs in the same bracket and decides only once the count has not moved.
 */
static inline const struct mrt_entry *
mrt_entry_of_token(const struct mrt *t, uint32_t token)
{
	uint32_t index = MRT_TOKEN_INDEX(token);

	return index != 0 && index < t->n_entries ? &t->entries[index] : NULL;
}

static inline bool
mrt_entry_live(const struct mrt_entry *e, uint32_t token)
{
	return e->state == MRT_VALID && e->variant == MRT_TOKEN_VARIANT(token);
}

/*
 * Reader side (any engine, telemetry): a consistent copy of the entry a
 * token names, or false when the token is malformed or out of range. The
 * caller then checks state and variant on the copy.
 */
static inline bool
mrt_read(const struct mrt *t, uint32_t token, struct mrt_entry *out)
{
	const struct mrt_entry *e = mrt_entry_of_token(t, token);

	if (e == NULL)
		return false;
	seq_read_copy(&e->seq, out, e, sizeof(*out));
	return true;
}

/* True when token names a VALID entry with that variant right now. */
static inline bool
mrt_token_live(const struct mrt *t, uint32_t token)
{
	const struct mrt_entry *e = mrt_entry_of_token(t, token);
	uint32_t s0;
	bool live;

	if (e == NULL)
		return false;
	do {
		s0 = seq_read_begin(&e->seq);
		live = mrt_entry_live(e, token);
	} while (seq_read_retry(&e->seq, s0));
	return live;
}

#endif /* NDKD_MRT_H */
