/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Ratios that hold on a noisy host: a figure and its baseline run in
 * alternating short blocks in one process, each block pair gives one ratio,
 * and the median of those ratios is reported with its spread. A host that
 * changes speed between blocks moves both sides of most pairs alike.
 */
#ifndef NDK_BENCH_BLOCKS_H
#define NDK_BENCH_BLOCKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shim.h"

/* One side of a ratio. */
struct block_side {
	/*
	 * Quiet before each block (untimed), long enough for an adaptive
	 * engine to fall asleep: a baseline on the engine's CPU has it alone.
	 */
	unsigned int quiet_us;
	/* Untimed, before each block: get the CPUs into the state measured. */
	void (*before)(void *ctx);
	/* Runs n operations; returns the nanoseconds they took (0: failed). */
	uint64_t (*run)(void *ctx, uint32_t n);
	/* Untimed, after each block. */
	void (*after)(void *ctx);
	void *ctx;
};

/*
 * One Google Benchmark iteration = one block pair of n operations each.
 * Counters: ratio (median of figure/baseline time per block pair), ratio_p10
 * and ratio_p90 (spread), fig_ns and base_ns (per operation, medians over
 * blocks), fig_Mops (the figure's rate), blocks. False if a side failed
 * (the benchmark is then marked skipped with why).
 */
bool blocks_measure(struct nb_state *st, const struct block_side *fig,
		    const struct block_side *base, uint32_t n, const char *why);

/*
 * A thread on the engine's CPU that blocks between baseline blocks, so the
 * engine has that CPU to itself during figure blocks. It answers cache-line
 * pings or copies memory, one job at a time.
 */
struct helper;

struct helper *helper_start(int cpu);
void helper_stop(struct helper *h);

/* Ping-pong with the helper: a block_side whose ctx is the helper. */
extern const struct block_side helper_pingpong_side;

/* memcpy of len bytes between two buffers the helper owns, timed by the helper. */
struct block_side helper_memcpy_side(struct helper *h, size_t len);

#endif /* NDK_BENCH_BLOCKS_H */
