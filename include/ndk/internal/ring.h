/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Single-producer/single-consumer rings over shared memory, used by libndk
 * and ndkd alike. libc and C11 atomics only: no DPDK here.
 *
 * Protocol
 * --------
 * A ring is a power-of-two array of 64-byte entries plus two free-running
 * uint32 indices, each on its own cache line: kprod (written only by the
 * producer) and kcons (written only by the consumer). used = kprod - kcons in
 * unsigned arithmetic; the ring is empty when used == 0 and full when
 * used == entries. Entry i lives in slot (i & mask).
 *
 * Producer: fill slots [tail, tail + n) with plain stores, then publish once
 * with a store-release of kprod = tail + n (R0). Many entries, one publish.
 * Consumer: load-acquire kprod (A0, pairs with R0) so the entries it covers
 * are visible, copy each entry out, then store-release kcons (R1) to hand the
 * slots back. The producer's load-acquire of kcons (A1, pairs with R1)
 * guarantees the consumer finished reading a slot before it is rewritten.
 *
 * Each side keeps its own index in private memory and only ever *writes* its
 * shared copy; it never reads its own index back from shared memory, so a
 * peer that scribbles on it cannot steer us. The peer's index is loaded once
 * per batch and checked: a distance above 'entries' means the peer is broken
 * (or hostile), and the caller treats it as a protocol violation.
 *
 * Back-pressure: a producer that finds no space gets 0 and must retry later;
 * nothing is ever overwritten.
 *
 * Stamped rings
 * -------------
 * Rings whose entries are one slot each (the control rings and the
 * completion rings) carry a stamp in every entry: a uint16 at a fixed offset
 * of the entry type, 0x8000 | (lap & 0x7fff), lap = index / entries. It is
 * never 0 (a fresh ring is zeroes) and differs from the last lap's. The
 * producer fills the entry, then store-releases its stamp (R0'), then
 * publishes kprod as above; the consumer load-acquires the stamp of the
 * entry it expects (A0', pairs with R0') and takes the entry when it
 * matches, never reading kprod. That saves the consumer a cache line
 * crossing the cores per request: it polls the entry itself.
 *
 * Work queues are stamped too, on the first slot of each work request only
 * (its n_slots, byte 1, says where the next one starts); the slots after it
 * carry the request's body, any bytes. A body slot of the last lap could
 * thus hold this lap's stamp by chance where a request header will start:
 * the consumer zeroes the stamp bytes of every body slot it took before it
 * hands the slots back (ndk_ring_cons_clear_body), so a slot not yet
 * rewritten this lap never matches. A producer that stamps wrongly only
 * leaves its own entries unseen, as one that never publishes would. kprod
 * is still published on every ring, for counts that need it (an SRQ's
 * receives queued).
 *
 * The kflags line carries one protocol today, on completion rings: the
 * consumer sets NDK_ABI_CQ_ARMED when it wants to be woken, then fences and
 * rechecks the ring (so a result published meanwhile is not missed); the
 * producer, after publishing, swaps the flag to 0 and, if it was set, kicks
 * the client's wake socket. The same shape (set, fence, recheck; publish, fence,
 * kick) is reserved for an idle engine's NEED_WAKEUP on submission rings,
 * which engines do not use yet: they poll without sleeping.
 */
#ifndef NDK_INTERNAL_RING_H
#define NDK_INTERNAL_RING_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "abi.h"

struct ndk_ring {
	_Atomic uint32_t *kprod;
	_Atomic uint32_t *kcons;
	_Atomic uint32_t *kflags;
	uint8_t *kentries;
	uint32_t entries;
	uint32_t mask;
	uint32_t local;	    /* producer: next slot to fill; consumer: next to read */
	uint32_t cached;    /* the peer's index as last loaded */
	uint32_t stamped;   /* producer of a stamped ring: entries stamped so far */
	uint16_t stamp_off; /* offset of the stamp in an entry; 0: not stamped */
	uint8_t shift;	    /* log2(entries) */
	bool wr;	    /* a work queue: entries are work requests of n_slots slots */
};

/*
 * Point r at the ring that desc describes inside the region at base. The
 * caller has checked desc against the region size (ndk_ring_desc_valid).
 */
static inline void
ndk_ring_attach(struct ndk_ring *r, void *base, const struct ndk_abi_ring_desc *desc)
{
	uint8_t *b = (uint8_t *)base;

	r->kprod = (_Atomic uint32_t *)(void *)(b + desc->off_prod);
	r->kcons = (_Atomic uint32_t *)(void *)(b + desc->off_cons);
	r->kflags = (_Atomic uint32_t *)(void *)(b + desc->off_flags);
	r->kentries = b + desc->off_entries;
	r->entries = desc->entries;
	r->mask = desc->entries - 1;
	r->local = 0;
	r->cached = 0;
	r->stamped = 0;
	r->stamp_off = 0;
	r->wr = false;
	r->shift = (uint8_t)__builtin_ctz(desc->entries);
}

/* Make r a stamped ring: entries carry their stamp at byte off (not 0). */
static inline void
ndk_ring_set_stamp(struct ndk_ring *r, uint16_t off)
{
	r->stamp_off = off;
}

/* Make r a stamped work queue (struct ndk_abi_wqe headers). */
static inline void
ndk_ring_set_stamp_wr(struct ndk_ring *r)
{
	r->stamp_off = NDK_ABI_WQE_STAMP;
	r->wr = true;
}

/* The two control rings of a channel region (stamped) from its header. */
static inline void
ndk_ring_attach_ctrl(struct ndk_ring *sq, struct ndk_ring *cq, void *region,
		     const struct ndk_abi_region *h)
{
	ndk_ring_attach(sq, region, &h->ctrl_sq);
	ndk_ring_set_stamp(sq, NDK_ABI_SQE_STAMP);
	ndk_ring_attach(cq, region, &h->ctrl_cq);
	ndk_ring_set_stamp(cq, NDK_ABI_CQE_STAMP);
}

/* The stamp entry idx carries on a stamped ring. */
static inline uint16_t
ndk_ring_stamp(const struct ndk_ring *r, uint32_t idx)
{
	return (uint16_t)(0x8000u | ((idx >> r->shift) & 0x7fffu));
}

static inline _Atomic uint16_t *
ndk_ring_stamp_at(const struct ndk_ring *r, uint32_t idx)
{
	return (_Atomic uint16_t *)(void *)(r->kentries +
					    (size_t)(idx & r->mask) * NDK_ABI_ENTRY_SIZE +
					    r->stamp_off);
}

/* True when desc describes a ring that lies wholly inside region_size bytes. */
static inline bool
ndk_ring_desc_valid(const struct ndk_abi_ring_desc *desc, uint64_t region_size)
{
	uint32_t n = desc->entries;
	uint64_t end = (uint64_t)desc->off_entries + (uint64_t)n * NDK_ABI_ENTRY_SIZE;

	if (n < NDK_ABI_RING_MIN_ENTRIES || n > NDK_ABI_RING_MAX_ENTRIES || (n & (n - 1)) != 0)
		return false;
	if (desc->entry_size != NDK_ABI_ENTRY_SIZE)
		return false;
	if ((desc->off_prod | desc->off_cons | desc->off_entries) % NDK_ABI_CACHE_LINE != 0)
		return false;
	if ((uint64_t)desc->off_prod + NDK_ABI_CACHE_LINE > region_size ||
	    (uint64_t)desc->off_cons + NDK_ABI_CACHE_LINE > region_size ||
	    (uint64_t)desc->off_flags + NDK_ABI_CACHE_LINE > region_size)
		return false;
	return end <= region_size;
}

static inline void *
ndk_ring_slot(const struct ndk_ring *r, uint32_t idx)
{
	return r->kentries + (size_t)(idx & r->mask) * NDK_ABI_ENTRY_SIZE;
}

/*
 * Producer: how many slots may be filled now, at least 'want' if the ring
 * has them. The consumer's index is reloaded only when the cached view shows
 * fewer than 'want' free. Sets *broken when the peer's consumer index is
 * impossible (ahead of us, or more than a ring behind).
 */
static inline uint32_t
ndk_ring_prod_space_n(struct ndk_ring *r, uint32_t want, bool *broken)
{
	uint32_t used = r->local - r->cached;

	if (used <= r->entries && r->entries - used >= want)
		return r->entries - used;
	/* A1: pairs with R1 in ndk_ring_cons_release() */
	r->cached = atomic_load_explicit(r->kcons, memory_order_acquire);
	used = r->local - r->cached;
	if (used > r->entries) {
		*broken = true;
		return 0;
	}
	return r->entries - used;
}

/* Producer: how many slots may be filled now (at least one, if any is free). */
static inline uint32_t
ndk_ring_prod_space(struct ndk_ring *r, bool *broken)
{
	return ndk_ring_prod_space_n(r, 1, broken);
}

/* Producer: the next slot to fill. Only after ndk_ring_prod_space() said so. */
static inline void *
ndk_ring_prod_next(struct ndk_ring *r)
{
	return ndk_ring_slot(r, r->local++);
}

/*
 * Producer, after a publish: take the slots after the next one into this
 * CPU's cache for writing now, while the consumer works, so the next
 * requests' stores do not wait for them. Not the next slot itself: the
 * consumer polls it, and taking it away would only make it miss twice.
 */
static inline void
ndk_ring_prod_prefetch(const struct ndk_ring *r, uint32_t n)
{
	for (uint32_t i = 1; i <= n; i++)
		__builtin_prefetch(ndk_ring_slot(r, r->local + i), 1);
}

/* Producer: make every slot filled so far visible to the consumer. */
static inline void
ndk_ring_prod_publish(struct ndk_ring *r)
{
	while (r->stamp_off != 0 && r->stamped != r->local) {
		/* our own slots: a wild app may have scribbled a count, stay in bounds */
		uint32_t step = r->wr ? ((const uint8_t *)ndk_ring_slot(r, r->stamped))[1] : 1;

		if (step == 0 || step > r->local - r->stamped)
			step = r->local - r->stamped;
		/* R0': pairs with A0' in ndk_ring_cons_ready() */
		atomic_store_explicit(ndk_ring_stamp_at(r, r->stamped),
				      ndk_ring_stamp(r, r->stamped), memory_order_release);
		r->stamped += step;
	}
	/* R0: pairs with A0 in ndk_ring_cons_avail() */
	atomic_store_explicit(r->kprod, r->local, memory_order_release);
}

/*
 * Consumer: how many entries are ready. Sets *broken when the producer's
 * index is more than a ring ahead of us (it cannot be behind: unsigned).
 */
static inline uint32_t
ndk_ring_cons_avail(struct ndk_ring *r, bool *broken)
{
	uint32_t n;

	/* A0: pairs with R0 in ndk_ring_prod_publish() */
	r->cached = atomic_load_explicit(r->kprod, memory_order_acquire);
	n = r->cached - r->local;
	if (n > r->entries) {
		*broken = true;
		return 0;
	}
	return n;
}

/*
 * Consumer of a stamped ring: how many entries, up to max, are there from
 * the next one on (their stamps say so). On a work queue max is 1: whether
 * the request at the consumer's index is there.
 */
static inline uint32_t
ndk_ring_cons_ready(const struct ndk_ring *r, uint32_t max)
{
	uint32_t n = 0;

	/* A0': pairs with R0' in ndk_ring_prod_publish() */
	while (n < max && n < r->entries &&
	       atomic_load_explicit(ndk_ring_stamp_at(r, r->local + n), memory_order_acquire) ==
		       ndk_ring_stamp(r, r->local + n))
		n++;
	return n;
}

/*
 * Consumer of a stamped work queue, having copied out the n-slot request at
 * idx and before handing its slots back: zero the stamp bytes of its body
 * (the stamp comment above says why).
 */
static inline void
ndk_ring_cons_clear_body(const struct ndk_ring *r, uint32_t idx, uint32_t n)
{
	for (uint32_t i = 1; i < n; i++)
		atomic_store_explicit(ndk_ring_stamp_at(r, idx + i), 0, memory_order_relaxed);
}

/* Consumer: the next entry to read. Copy it out before using it. */
static inline const void *
ndk_ring_cons_next(struct ndk_ring *r)
{
	return ndk_ring_slot(r, r->local++);
}

/* Consumer: hand every slot read so far back to the producer. */
static inline void
ndk_ring_cons_release(struct ndk_ring *r)
{
	/* R1: pairs with A1 in ndk_ring_prod_space() */
	atomic_store_explicit(r->kcons, r->local, memory_order_release);
}

/*
 * Consumer: hand back the slots before idx only (idx at most what was
 * read): the entries from idx on are still being worked on, and stay the
 * producer's to account for if the consumer goes away.
 */
static inline void
ndk_ring_cons_release_to(struct ndk_ring *r, uint32_t idx)
{
	/* R1: pairs with A1 in ndk_ring_prod_space() */
	atomic_store_explicit(r->kcons, idx, memory_order_release);
}

#endif /* NDK_INTERNAL_RING_H */
