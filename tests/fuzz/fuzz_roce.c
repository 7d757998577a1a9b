/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A frame off the wire, as an engine will decode it: whatever the bytes,
 * decoding neither crashes nor reads outside them, and what it accepts
 * encodes back into a frame that decodes to the same packet.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "roce/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool
same(const struct roce_pkt *a, const struct roce_pkt *b)
{
	return a->opcode == b->opcode && a->dest_qp == b->dest_qp && a->psn == b->psn &&
	       a->src_ip == b->src_ip && a->dst_ip == b->dst_ip && a->src_port == b->src_port &&
	       a->va == b->va && a->rkey == b->rkey && a->dma_len == b->dma_len &&
	       a->syndrome == b->syndrome && a->msn == b->msn && a->imm == b->imm &&
	       a->inv_rkey == b->inv_rkey && a->qkey == b->qkey && a->src_qp == b->src_qp &&
	       a->ack_req == b->ack_req && a->solicited == b->solicited &&
	       a->payload_len == b->payload_len &&
	       memcmp(a->payload, b->payload, a->payload_len) == 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* an exact-size copy, so ASan sees any read past the frame */
	uint8_t *frame = malloc(size + 1), *again;
	struct roce_pkt p, q;
	size_t len;

	if (frame == NULL)
		return 0;
	memcpy(frame, data, size);
	if (roce_decode(frame, size, &p) == ROCE_OK) {
		if (memcmp(frame, data, size) != 0)
			__builtin_trap(); /* the masked fields were not put back */
		len = roce_frame_len(&p);
		again = malloc(len);
		if (again == NULL || roce_encode(&p, again, len) != len ||
		    roce_decode(again, len, &q) != ROCE_OK || !same(&p, &q))
			__builtin_trap();
		free(again);
	}
	free(frame);
	return 0;
}
