/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Access checks: a token and an address range become pieces of ndkd's own
 * mappings, or a refusal. Every check of DESIGN section 4 happens here, for
 * every provider and both sides of every transfer.
 */
#ifndef NDKD_ACCESS_H
#define NDKD_ACCESS_H

#include <stdbool.h>
#include <stdint.h>

#include "ndkd.h"

#define PAGE 4096u

/* A piece of a transfer: bytes ndkd can reach. */
struct dp_chunk {
	uint8_t *addr;
	uint64_t len;
};

/* Who asks, and for what. */
struct access_req {
	uint32_t client_id;
	uint32_t pd;
	uint8_t access; /* MRT_ACCESS_* bits the access needs */
	bool remote;
	const struct client *local; /* for the privileged token's logical addresses */
};

/*
 * Append the pieces of [addr, addr + len) under token to out (at most
 * x->max_chunks in all, *n so far). False when any check fails: the
 * variant, the state, the client and PD, the access bits, the bounds
 * (overflow-safe), a privileged token used remotely or outside the
 * client's regions, or more pieces than fit.
 */
bool access_resolve(const struct ectx *x, uint32_t token, uint64_t addr, uint64_t len,
		    const struct access_req *w, struct dp_chunk *out, uint32_t *n);

/*
 * access_resolve over the bytes [off, off + len) of an SGE list, as if it
 * were one range: what a transfer moved a chunk at a time checks per chunk.
 */
bool access_resolve_sges(const struct ectx *x, const struct ndk_abi_sge *sge, uint32_t n_sge,
			 uint64_t off, uint64_t len, const struct access_req *w,
			 struct dp_chunk *out, uint32_t *n);

/* The engine's scratch arrays for both sides of a transfer. */
int access_scratch_init(struct ectx *x);
void access_scratch_fini(struct ectx *x);

#endif /* NDKD_ACCESS_H */
