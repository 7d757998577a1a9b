/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A MAD off the wire, as the connection manager will decode it: whatever
 * the bytes, decoding neither crashes nor reads outside them; what it
 * accepts encodes back into a MAD that decodes to the same message; and an
 * rdma_cm header in a REQ's private data decodes or is refused cleanly.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "roce/cm_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* an exact-size copy, so ASan sees any read past the MAD */
	uint8_t *mad = malloc(size + 1), again[MAD_LEN];
	struct cm_msg m, n;

	if (mad == NULL)
		return 0;
	memcpy(mad, data, size);
	if (cm_decode(mad, size, &m) == CM_OK) {
		struct rdma_cm_hdr h;

		if (!cm_encode(&m, again) || cm_decode(again, sizeof(again), &n) != CM_OK ||
		    memcmp(&m, &n, sizeof(m)) != 0)
			__builtin_trap(); /* what was taken does not say the same twice */
		if (m.attr == CM_REQ && rdma_cm_hdr_decode(m.private_data, &h) &&
		    h.ip_version != 4 && h.ip_version != 6)
			__builtin_trap();
	}
	free(mad);
	return 0;
}
