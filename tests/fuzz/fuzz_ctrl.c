/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Control ring entries: the input is a run of 64-byte requests a client
 * writes into its control ring, after a PD, MRs, a CQ and two connected QPs
 * exist (handles are small numbers the fuzzer finds). The first byte can
 * instead scribble over the ring's producer index. Afterwards the client is
 * let go and every table must be back to where it was.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_client f;
	bool broken = false;
	uint8_t *copy;
	size_t n;

	fz_init();
	fz_client_open(&f, true, false);
	copy = malloc(size + 1);
	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	data = copy;
	if (size >= 5 && data[0] == 0xff) {
		/*
		 * A hostile producer index (the stamped ring never reads it) and a
		 * forged stamp on the entry the engine looks at next.
		 */
		uint32_t prod;

		memcpy(&prod, data + 1, sizeof(prod));
		atomic_store_explicit(f.sq.kprod, prod, memory_order_release);
		atomic_store_explicit(ndk_ring_stamp_at(&f.sq, f.sq.local), (uint16_t)prod,
				      memory_order_release);
		data += 5;
		size -= 5;
	}
	fz_patch(&f, (uint8_t *)data, size - size % 8);
	for (n = 0; n + NDK_ABI_ENTRY_SIZE <= size; n += NDK_ABI_ENTRY_SIZE) {
		if (ndk_ring_prod_space(&f.sq, &broken) == 0) {
			ndk_ring_prod_publish(&f.sq);
			fz_run(&f);
			if (ndk_ring_prod_space(&f.sq, &broken) == 0)
				break;
		}
		memcpy(ndk_ring_prod_next(&f.sq), data + n, NDK_ABI_ENTRY_SIZE);
	}
	ndk_ring_prod_publish(&f.sq);
	fz_run(&f);
	fz_client_close(&f);
	free(copy);
	return 0;
}
