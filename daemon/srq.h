/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Shared receive queues: a receive ring in the client's memory that the QPs
 * created with it take their receives from, in posting order, whichever QP
 * a send arrives on. Every receive on it takes the same number of slots, so
 * the receives queued are a count of slots, and the notify threshold (NDK's
 * NotifyThreshold) can be checked each time one is taken. The client's
 * engine owns it, as it owns all the client's QPs: no lock.
 */
#ifndef NDKD_SRQ_H
#define NDKD_SRQ_H

#include <stdbool.h>
#include <stdint.h>

#include "ndkd.h"

struct dsrq {
	struct ndk_ring ring; /* ndkd consumes */
	uint32_t handle;
	uint32_t pd;
	uint32_t max_rsge;
	uint32_t slots;	    /* every receive's: ndk_abi_wqe_slots(max_rsge) */
	uint32_t threshold; /* notify when fewer receives than this are queued */
	bool armed;
	uint32_t n_qps;
	struct client *client; /* for its wake socket */
};

ndk_status dsrq_create(struct client *c, struct ectx *x, uint32_t pd, uint64_t ring,
		       uint64_t entries, uint64_t max_rsge, uint64_t threshold, uint64_t out[6]);
/* Arm the notification at this threshold (0: leave it as it is). */
ndk_status dsrq_modify(struct client *c, uint32_t handle, uint64_t threshold);
ndk_status dsrq_destroy(struct client *c, uint32_t handle);
/* Every SRQ of the client (its QPs are gone). */
void dsrq_release_all(struct client *c);
/* A receive was taken from s (or s was armed): notify the client if it fell below the threshold. */
void dsrq_check(struct dsrq *s);

#endif /* NDKD_SRQ_H */
