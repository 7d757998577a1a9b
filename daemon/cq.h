/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Completion queues: a ring in the client's memory that ndkd fills with
 * NDK_RESULT_EX entries, and the client's wake socket kicked when it is armed.
 */
#ifndef NDKD_CQ_H
#define NDKD_CQ_H

#include <stdint.h>

#include "ndkd.h"

struct dcq {
	struct ndk_ring ring; /* ndkd produces */
	uint32_t handle;
	uint32_t n_qps;
	struct client *client; /* for its wake socket */
};

ndk_status dcq_create(struct client *c, struct ectx *x, uint64_t ring, uint64_t entries,
		      uint64_t out[6]);
ndk_status dcq_destroy(struct client *c, uint32_t handle);
/* Every CQ of the client (its QPs are gone). */
void dcq_release_all(struct client *c);
/* Make the results written so far visible, and wake the client if it armed the CQ. */
void dcq_publish(struct dcq *cq);

#endif /* NDKD_CQ_H */
