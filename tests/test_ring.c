/* SPDX-License-Identifier: BSD-3-Clause */
/* Ring unit tests: empty, full, wrap-around, batch publish, broken peers, two threads. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"

#define ENTRIES 16u

struct test_ring {
	void *mem;
	struct ndk_abi_ring_desc desc;
	struct ndk_ring prod;
	struct ndk_ring cons;
};

static void
ring_new(struct test_ring *t, uint32_t entries)
{
	size_t size = ndk_abi_ring_bytes(entries);

	t->mem = aligned_alloc(64, size);
	memset(t->mem, 0, size);
	t->desc = (struct ndk_abi_ring_desc){
		.off_prod = 0,
		.off_cons = 64,
		.off_flags = 128,
		.off_entries = 192,
		.entries = entries,
		.entry_size = NDK_ABI_ENTRY_SIZE,
	};
	CHECK(ndk_ring_desc_valid(&t->desc, size), "desc valid");
	ndk_ring_attach(&t->prod, t->mem, &t->desc);
	ndk_ring_attach(&t->cons, t->mem, &t->desc);
}

static void
put(struct test_ring *t, uint64_t v)
{
	uint64_t *slot = ndk_ring_prod_next(&t->prod);

	slot[0] = v;
	slot[7] = ~v;
}

static uint64_t
get(struct test_ring *t)
{
	const uint64_t *slot = ndk_ring_cons_next(&t->cons);

	CHECK(slot[7] == ~slot[0], "entry intact");
	return slot[0];
}

static void
test_empty(void)
{
	struct test_ring t;
	bool broken = false;

	ring_new(&t, ENTRIES);
	CHECK(ndk_ring_cons_avail(&t.cons, &broken) == 0, "new ring is empty");
	CHECK(ndk_ring_prod_space(&t.prod, &broken) == ENTRIES, "new ring has all space");
	CHECK(!broken, "not broken");
	free(t.mem);
}

static void
test_full_and_backpressure(void)
{
	struct test_ring t;
	bool broken = false;
	uint32_t i;

	ring_new(&t, ENTRIES);
	for (i = 0; i < ENTRIES; i++) {
		CHECK(ndk_ring_prod_space(&t.prod, &broken) == ENTRIES - i, "space %u", i);
		put(&t, i);
	}
	CHECK(ndk_ring_prod_space(&t.prod, &broken) == 0, "full ring has no space");
	ndk_ring_prod_publish(&t.prod);
	CHECK(ndk_ring_cons_avail(&t.cons, &broken) == ENTRIES, "consumer sees a full ring");
	/* Nothing was overwritten: entries come back in order. */
	for (i = 0; i < ENTRIES; i++)
		CHECK(get(&t) == i, "entry %u", i);
	/* Until the consumer releases, the producer still sees no space. */
	CHECK(ndk_ring_prod_space(&t.prod, &broken) == 0, "no space before release");
	ndk_ring_cons_release(&t.cons);
	CHECK(ndk_ring_prod_space(&t.prod, &broken) == ENTRIES, "space after release");
	CHECK(!broken, "not broken");
	free(t.mem);
}

static void
test_batch_publish(void)
{
	struct test_ring t;
	bool broken = false;

	ring_new(&t, ENTRIES);
	put(&t, 1);
	put(&t, 2);
	put(&t, 3);
	CHECK(ndk_ring_cons_avail(&t.cons, &broken) == 0, "unpublished entries are invisible");
	ndk_ring_prod_publish(&t.prod);
	CHECK(ndk_ring_cons_avail(&t.cons, &broken) == 3, "one publish shows the batch");
	free(t.mem);
}

static void
test_wraparound(void)
{
	struct test_ring t;
	bool broken = false;
	uint64_t next_put = 0, next_get = 0;
	uint32_t round, i, n;

	ring_new(&t, ENTRIES);
	/* Start the indices just below 2^32 so they wrap during the test. */
	t.prod.local = t.prod.cached = UINT32_MAX - 40;
	t.cons.local = t.cons.cached = UINT32_MAX - 40;
	*t.prod.kprod = UINT32_MAX - 40;
	*t.prod.kcons = UINT32_MAX - 40;
	for (round = 0; round < 100; round++) {
		n = ndk_ring_prod_space(&t.prod, &broken);
		n = n > 5 + round % 11 ? 5 + round % 11 : n;
		for (i = 0; i < n; i++)
			put(&t, next_put++);
		ndk_ring_prod_publish(&t.prod);
		n = ndk_ring_cons_avail(&t.cons, &broken);
		n = n > 3 + round % 7 ? 3 + round % 7 : n;
		for (i = 0; i < n; i++)
			CHECK(get(&t) == next_get++, "order across the wrap");
		ndk_ring_cons_release(&t.cons);
	}
	CHECK(!broken, "wrap is not a protocol violation");
	CHECK(t.prod.local < 1000, "indices wrapped (%u)", t.prod.local);
	free(t.mem);
}

static void
test_broken_peer(void)
{
	struct test_ring t;
	bool broken = false;

	ring_new(&t, ENTRIES);
	/* A producer index more than a ring ahead is impossible. */
	*t.prod.kprod = ENTRIES + 1;
	CHECK(ndk_ring_cons_avail(&t.cons, &broken) == 0, "nothing consumed");
	CHECK(broken, "consumer flags a producer index out of range");

	broken = false;
	*t.prod.kprod = 0;
	/* A consumer index ahead of what was produced is impossible too. */
	put(&t, 1);
	ndk_ring_prod_publish(&t.prod);
	*t.cons.kcons = 5;
	/* Make the producer believe the ring is full, so it reloads kcons. */
	t.prod.cached = 1 - ENTRIES;
	CHECK(ndk_ring_prod_space(&t.prod, &broken) == 0 && broken,
	      "producer flags a consumer index ahead of it");
	free(t.mem);
}

/* A producer that needs several slots must see space freed since its last look. */
static void
test_space_for_several(void)
{
	struct test_ring t;
	bool broken = false;
	uint32_t i;

	ring_new(&t, ENTRIES);
	for (i = 0; i < ENTRIES - 1; i++)
		put(&t, i);
	ndk_ring_prod_publish(&t.prod);
	CHECK(ndk_ring_prod_space(&t.prod, &broken) == 1, "one slot left");
	/* the consumer frees everything; the producer's cached view still says 1 */
	CHECK(ndk_ring_cons_avail(&t.cons, &broken) == ENTRIES - 1, "consumer sees them");
	for (i = 0; i < ENTRIES - 1; i++)
		get(&t);
	ndk_ring_cons_release(&t.cons);
	CHECK(ndk_ring_prod_space_n(&t.prod, 3, &broken) == ENTRIES,
	      "asking for 3 reloads the consumer index");
	CHECK(!broken, "not broken");
	free(t.mem);
}

static void
test_desc_validation(void)
{
	struct ndk_abi_ring_desc d = {
		.off_prod = 0,
		.off_cons = 64,
		.off_flags = 128,
		.off_entries = 192,
		.entries = 16,
		.entry_size = 64,
	};
	uint64_t size = ndk_abi_ring_bytes(16);

	CHECK(ndk_ring_desc_valid(&d, size), "good desc");
	CHECK(!ndk_ring_desc_valid(&d, size - 1), "entries past the end");
	d.entries = 24;
	CHECK(!ndk_ring_desc_valid(&d, 1 << 20), "not a power of two");
	d.entries = 4;
	CHECK(!ndk_ring_desc_valid(&d, 1 << 20), "too small");
	d.entries = 16;
	d.entry_size = 32;
	CHECK(!ndk_ring_desc_valid(&d, 1 << 20), "wrong entry size");
	d.entry_size = 64;
	d.off_entries = 200;
	CHECK(!ndk_ring_desc_valid(&d, 1 << 20), "misaligned");
	d.off_entries = 0xffffffc0u;
	CHECK(!ndk_ring_desc_valid(&d, 1 << 20), "offset overflow");
}

#define HAMMER_COUNT 5000000ull

static void *
hammer_producer(void *arg)
{
	struct test_ring *t = arg;
	uint64_t v = 0;
	bool broken = false;

	while (v < HAMMER_COUNT) {
		uint32_t n = ndk_ring_prod_space(&t->prod, &broken), i;

		if (n > 7)
			n = 7; /* odd batches, so batches straddle the wrap */
		for (i = 0; i < n && v < HAMMER_COUNT; i++)
			put(t, v++);
		if (n != 0)
			ndk_ring_prod_publish(&t->prod);
	}
	return NULL;
}

static void
test_two_threads(void)
{
	struct test_ring t;
	pthread_t th;
	bool broken = false;
	uint64_t want = 0, bad = 0;

	ring_new(&t, 64);
	pthread_create(&th, NULL, hammer_producer, &t);
	while (want < HAMMER_COUNT) {
		uint32_t n = ndk_ring_cons_avail(&t.cons, &broken), i;

		for (i = 0; i < n; i++) {
			const uint64_t *slot = ndk_ring_cons_next(&t.cons);

			if (slot[0] != want || slot[7] != ~want)
				bad++;
			want++;
		}
		if (n != 0)
			ndk_ring_cons_release(&t.cons);
	}
	pthread_join(th, NULL);
	CHECK(bad == 0, "%llu entries out of order or torn", (unsigned long long)bad);
	CHECK(!broken, "no protocol violation between honest peers");
	free(t.mem);
}

/* Stamped rings: the consumer sees an entry by its stamp, lap after lap. */
static void
test_stamped(void)
{
	struct test_ring t;
	uint32_t lap, i;

	ring_new(&t, ENTRIES);
	ndk_ring_set_stamp(&t.prod, NDK_ABI_CQE_STAMP);
	ndk_ring_set_stamp(&t.cons, NDK_ABI_CQE_STAMP);
	for (lap = 0; lap < 3; lap++) {
		for (i = 0; i < ENTRIES; i++) {
			memset(ndk_ring_prod_next(&t.prod), 0, NDK_ABI_ENTRY_SIZE);
			CHECK(ndk_ring_cons_ready(&t.cons, ENTRIES) == 0,
			      "lap %u: an entry filled, not published, is not there", lap);
			ndk_ring_prod_publish(&t.prod);
			CHECK(ndk_ring_cons_ready(&t.cons, ENTRIES) == 1,
			      "lap %u: published, it is", lap);
			CHECK(*ndk_ring_stamp_at(&t.cons, t.cons.local) == (0x8000u | lap),
			      "its stamp is 0x8000 | lap");
			(void)ndk_ring_cons_next(&t.cons);
			ndk_ring_cons_release(&t.cons);
		}
	}
	free(t.mem);
}

/* A request header the size n posted at the producer's index, body bytes b. */
static void
put_wr(struct test_ring *t, uint8_t n, uint8_t b)
{
	struct ndk_abi_wqe *h = ndk_ring_prod_next(&t->prod);

	memset(h, 0, sizeof(*h));
	h->n_slots = n;
	for (uint8_t i = 1; i < n; i++)
		memset(ndk_ring_prod_next(&t->prod), b, NDK_ABI_ENTRY_SIZE);
}

/*
 * A work queue's body slots may hold any bytes, this lap's stamp among
 * them: once taken, the consumer zeroes their stamp bytes, so a header
 * position that still holds last lap's body is not taken for a request.
 */
static void
test_stamped_work_queue(void)
{
	struct test_ring t;
	uint32_t i;

	ring_new(&t, ENTRIES);
	ndk_ring_set_stamp_wr(&t.prod);
	ndk_ring_set_stamp_wr(&t.cons);
	/* lap 0: requests of 2 slots whose bodies carry lap 1's stamp, 0x8001 */
	for (i = 0; i < ENTRIES / 2; i++)
		put_wr(&t, 2, 0);
	for (i = 0; i < ENTRIES; i += 2)
		atomic_store(ndk_ring_stamp_at(&t.prod, i + 1), 0x8001);
	ndk_ring_prod_publish(&t.prod);
	CHECK(*ndk_ring_stamp_at(&t.cons, 1) == 0x8001, "a body holds the next lap's stamp");
	for (i = 0; i < ENTRIES / 2; i++) {
		CHECK(ndk_ring_cons_ready(&t.cons, 1) == 1, "request %u there", i);
		CHECK(((const struct ndk_abi_wqe *)ndk_ring_slot(&t.cons, t.cons.local))->n_slots ==
			      2,
		      "with its size");
		ndk_ring_cons_clear_body(&t.cons, t.cons.local, 2);
		t.cons.local += 2;
	}
	CHECK(ndk_ring_cons_ready(&t.cons, 1) == 0, "nothing more");
	ndk_ring_cons_release(&t.cons);
	/* lap 1: one 1-slot request, then 3-slot ones: headers land on last lap's bodies */
	put_wr(&t, 1, 0);
	ndk_ring_prod_publish(&t.prod);
	CHECK(ndk_ring_cons_ready(&t.cons, 1) == 1, "the 1-slot request");
	t.cons.local += 1;
	CHECK(ndk_ring_cons_ready(&t.cons, 1) == 0,
	      "an old body where a header will go is not a request");
	put_wr(&t, 3, 0xff);
	CHECK(ndk_ring_cons_ready(&t.cons, 1) == 0, "nor one written, not published");
	ndk_ring_prod_publish(&t.prod);
	CHECK(ndk_ring_cons_ready(&t.cons, 1) == 1, "the 3-slot one once published");
	ndk_ring_cons_clear_body(&t.cons, t.cons.local, 3);
	t.cons.local += 3;
	CHECK(ndk_ring_cons_ready(&t.cons, 1) == 0, "nothing after it");
	free(t.mem);
}

int
main(void)
{
	RUN(test_empty);
	RUN(test_full_and_backpressure);
	RUN(test_batch_publish);
	RUN(test_wraparound);
	RUN(test_broken_peer);
	RUN(test_desc_validation);
	RUN(test_space_for_several);
	RUN(test_two_threads);
	RUN(test_stamped);
	RUN(test_stamped_work_queue);
	return t_done();
}
