/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * QP work requests: the input is raw send-queue and receive-queue slots
 * (work request headers, SGE lists, fast-register page arrays, inline data)
 * for two QPs of one client connected to each other, with a registered MR,
 * an initialised fast-register MR and the PD's privileged token to aim at.
 * Input layout: byte 0 = receive slots for QP 1 (low 7 bits; the top bit
 * gives QP 1 a shared receive queue, which those slots then go to), byte 1
 * = send slots that go to QP 1 (the rest to QP 0), then 64-byte slots.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t
post(struct ndk_ring *r, const uint8_t *data, size_t n_slots)
{
	bool broken = false;
	size_t i;

	for (i = 0; i < n_slots && ndk_ring_prod_space(r, &broken) != 0; i++)
		memcpy(ndk_ring_prod_next(r), data + i * NDK_ABI_ENTRY_SIZE, NDK_ABI_ENTRY_SIZE);
	ndk_ring_prod_publish(r);
	return i;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_client f;
	size_t slots, rq, sq1;
	uint8_t *copy;

	if (size < 2)
		return 0;
	fz_init();
	fz_client_open(&f, true, (data[0] & 0x80) != 0);
	copy = malloc(size);
	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	fz_patch(&f, copy + 2, (size - 2) - (size - 2) % 8);
	data = copy;
	slots = (size - 2) / NDK_ABI_ENTRY_SIZE;
	rq = (data[0] & 0x7fu) < slots ? (data[0] & 0x7fu) : slots;
	sq1 = data[1] < slots - rq ? data[1] : slots - rq;
	data += 2;
	post(&f.qrq[1], data, rq);
	data += rq * NDK_ABI_ENTRY_SIZE;
	post(&f.qsq[1], data, sq1);
	data += sq1 * NDK_ABI_ENTRY_SIZE;
	post(&f.qsq[0], data, slots - rq - sq1);
	fz_run(&f);
	fz_client_close(&f);
	free(copy);
	return 0;
}
