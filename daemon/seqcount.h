/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Sequence counts for tables one engine writes and every engine reads (the
 * MR table, the QP table): the writer makes the count odd, writes, makes it
 * even; a reader copies what it needs between reading an even count and
 * seeing it unchanged. No lock on either side.
 */
#ifndef NDKD_SEQCOUNT_H
#define NDKD_SEQCOUNT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <rte_pause.h>

/* Writer: open a write; the odd count is visible before any field changes (W0, pairs with R1). */
static inline void
seq_write_begin(_Atomic uint32_t *seq)
{
	atomic_store_explicit(seq, atomic_load_explicit(seq, memory_order_relaxed) + 1,
			      memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
}

/* Writer: close it; the fields are visible before the even count (W1, pairs with R0). */
static inline void
seq_write_end(_Atomic uint32_t *seq)
{
	atomic_store_explicit(seq, atomic_load_explicit(seq, memory_order_relaxed) + 1,
			      memory_order_release);
}

/* Reader: wait for an even count and return it (R0, pairs with W1). */
static inline uint32_t
seq_read_begin(const _Atomic uint32_t *seq)
{
	uint32_t s;

	while ((s = atomic_load_explicit(seq, memory_order_acquire)) & 1u)
		rte_pause();
	return s;
}

/* Reader: true when what was read since seq_read_begin() may be torn (R1, pairs with W0). */
static inline bool
seq_read_retry(const _Atomic uint32_t *seq, uint32_t start)
{
	atomic_thread_fence(memory_order_acquire);
	return atomic_load_explicit(seq, memory_order_relaxed) != start;
}

/* Reader: a consistent copy of the n bytes at src, guarded by seq. */
static inline void
seq_read_copy(const _Atomic uint32_t *seq, void *dst, const void *src, size_t n)
{
	uint32_t s0;

	do {
		s0 = seq_read_begin(seq);
		memcpy(dst, src, n);
	} while (seq_read_retry(seq, s0));
}

#endif /* NDKD_SEQCOUNT_H */
