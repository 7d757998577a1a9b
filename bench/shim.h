/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A C face for Google Benchmark: benchmarks are plain C functions that loop
 * on nb_keep_running(); shim.cc registers them and runs the library's main.
 */
#ifndef NDK_BENCH_SHIM_H
#define NDK_BENCH_SHIM_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct nb_state;
typedef void (*nb_fn)(struct nb_state *st);

/* Register fn under name; each arg (0..n_args-1) becomes one benchmark instance. */
void nb_register(const char *name, nb_fn fn, const int64_t *args, int n_args);

bool nb_keep_running(struct nb_state *st);
int64_t nb_arg(struct nb_state *st);
int64_t nb_iterations(struct nb_state *st);
void nb_set_items(struct nb_state *st, int64_t items);
void nb_set_bytes(struct nb_state *st, int64_t bytes);
/* A per-run figure (not rated by time). */
void nb_counter(struct nb_state *st, const char *name, double value);
void nb_skip(struct nb_state *st, const char *why);
void nb_pause(struct nb_state *st);
void nb_resume(struct nb_state *st);

/* Runs what the command line selects; returns the exit status. */
int nb_main(int argc, char **argv);

#ifdef __cplusplus
}
#endif

#endif /* NDK_BENCH_SHIM_H */
