/* SPDX-License-Identifier: BSD-3-Clause */
/* Control-request decoding, without EAL: garbage in, INVALID_PARAMETER out, never a crash. */
#include <stdlib.h>
#include <string.h>

#include <ndk/status.h>

#include "mrt.h"
#include "ndkd.h"
#include "provider.h"
#include "testlib.h"

static struct mrt table;
static struct mrt_cache cache;
static struct ndkd_limits lim = {
	.mr_table_entries = 1024,
	.max_mrs = 100,
	.max_pds = 10,
	.max_regions = NDKD_MAX_REGIONS,
	.max_region_bytes = 1ull << 30,
	.max_registered_bytes = 1ull << 30,
	.frmr_page_count = 256,
};
static struct provider prov;
static struct ectx ctx = { .mrt = &table, .cache = &cache, .lim = &lim, .prov = &prov };
static struct ndk_abi_adapter_info info = { .max_mrs = 100, .max_pds = 10 };

/* The client's side of a channel the daemon code created in this process. */
static void
client_view(struct client *c, struct ndk_ring *sq, struct ndk_ring *cq)
{
	struct ndk_abi_region *h = c->region;

	CHECK(h->magic == NDK_ABI_REGION_MAGIC && h->abi_version == NDK_ABI_VERSION, "header");
	CHECK(ndk_ring_desc_valid(&h->ctrl_sq, h->region_size), "sq desc");
	CHECK(ndk_ring_desc_valid(&h->ctrl_cq, h->region_size), "cq desc");
	ndk_ring_attach_ctrl(sq, cq, c->region, h);
}

static void
new_client(struct client *c, uint32_t entries)
{
	memset(c, 0, sizeof(*c));
	c->memfd = -1;
	c->id = 7;
	CHECK(channel_create(c, entries, &info) == 0, "channel_create");
}

static void
test_channel_geometry(void)
{
	struct client c;
	struct ndk_abi_region *h;

	new_client(&c, 256);
	h = c.region;
	CHECK(h->region_size == c.region_size, "size recorded");
	CHECK(h->ctrl_sq.entries == 256 && h->ctrl_cq.entries == 256, "entries");
	CHECK(h->ctrl_sq.off_prod % 64 == 0 && h->ctrl_sq.off_cons - h->ctrl_sq.off_prod == 64,
	      "prod and cons on their own lines");
	CHECK(h->ctrl_cq.off_prod >= h->ctrl_sq.off_entries + 256 * 64, "rings do not overlap");
	CHECK(h->kstate == NDK_ABI_STATE_ACTIVE, "active");
	channel_destroy(&c);

	CHECK(channel_create(&c, 100, &info) != 0, "non-power-of-two refused");
	CHECK(channel_create(&c, 4, &info) != 0, "too small refused");
}

static void
post(struct ndk_ring *sq, const struct ndk_abi_sqe *e)
{
	memcpy(ndk_ring_prod_next(sq), e, sizeof(*e));
}

static uint32_t
reap_one(struct ndk_ring *cq, struct ndk_abi_cqe *out)
{
	bool broken = false;

	if (ndk_ring_cons_avail(cq, &broken) == 0)
		return 0;
	memcpy(out, ndk_ring_cons_next(cq), sizeof(*out));
	ndk_ring_cons_release(cq);
	return 1;
}

static void
test_nop_and_invalid(void)
{
	struct client c;
	struct ndk_ring sq, cq;
	struct ndk_abi_sqe e;
	struct ndk_abi_cqe r;
	uint64_t bad = 0;

	new_client(&c, 16);
	client_view(&c, &sq, &cq);

	memset(&e, 0, sizeof(e));
	e.opcode = NDK_ABI_OP_NOP;
	e.user_data = 0x1234;
	post(&sq, &e);
	e.opcode = 0; /* never valid */
	e.user_data = 1;
	post(&sq, &e);
	e.opcode = 200;
	e.user_data = 2;
	post(&sq, &e);
	e.opcode = NDK_ABI_OP_NOP;
	e.args[5] = 1; /* NOP takes no arguments */
	e.user_data = 3;
	post(&sq, &e);
	e.args[5] = 0;
	e.flags = 0x80;
	e.user_data = 4;
	post(&sq, &e);
	e.flags = 0;
	e.handle = 99;
	e.user_data = 5;
	post(&sq, &e);
	ndk_ring_prod_publish(&sq);

	CHECK(ctrl_serve(&c, &ctx, 32, false, &bad) == 6, "all six served");
	CHECK(bad == 5, "five bad (%llu)", (unsigned long long)bad);
	CHECK(reap_one(&cq, &r) && r.user_data == 0x1234 && r.status == NDK_STATUS_SUCCESS,
	      "nop ok");
	for (uint64_t i = 1; i <= 5; i++) {
		CHECK(reap_one(&cq, &r) && r.user_data == i &&
			      r.status == NDK_STATUS_INVALID_PARAMETER,
		      "bad request %llu gets INVALID_PARAMETER", (unsigned long long)i);
	}
	CHECK(!c.broken, "bad requests do not break the channel");
	CHECK(c.stats.requests == 6 && c.stats.bad_requests == 5, "per-client counters");
	channel_destroy(&c);
}

static void
test_cq_backpressure(void)
{
	struct client c;
	struct ndk_ring sq, cq;
	struct ndk_abi_sqe e = { .opcode = NDK_ABI_OP_NOP };
	struct ndk_abi_cqe r;
	uint64_t bad = 0, i, got = 0;
	unsigned int served = 0;

	new_client(&c, 8);
	client_view(&c, &sq, &cq);
	/* Fill SQ, serve into CQ without reaping, fill SQ again: the second batch must wait. */
	for (i = 0; i < 8; i++) {
		e.user_data = i;
		post(&sq, &e);
	}
	ndk_ring_prod_publish(&sq);
	CHECK(ctrl_serve(&c, &ctx, 32, false, &bad) == 8, "first batch served");
	for (i = 8; i < 16; i++) {
		e.user_data = i;
		post(&sq, &e);
	}
	ndk_ring_prod_publish(&sq);
	CHECK(ctrl_serve(&c, &ctx, 32, false, &bad) == 0, "nothing served while the CQ is full");
	while (reap_one(&cq, &r)) {
		CHECK(r.user_data == got, "in order");
		got++;
		if (got == 8)
			served = ctrl_serve(&c, &ctx, 32, false, &bad);
	}
	CHECK(served == 8 && got == 16, "second batch served once there was room (%u, %llu)",
	      served, (unsigned long long)got);
	CHECK(!c.broken && bad == 0, "clean");
	channel_destroy(&c);
}

static void
test_garbage_fuzz(void)
{
	struct client c;
	struct ndk_ring sq, cq;
	struct ndk_abi_cqe r;
	uint64_t seed = 42, bad = 0, total = 0, completions = 0;
	int round;

	new_client(&c, 64);
	client_view(&c, &sq, &cq);
	for (round = 0; round < 2000; round++) {
		bool broken = false;
		uint32_t n = (uint32_t)(t_rand(&seed) % 65), i;

		n = n > ndk_ring_prod_space(&sq, &broken) ? ndk_ring_prod_space(&sq, &broken) : n;
		for (i = 0; i < n; i++) {
			uint64_t *slot = ndk_ring_prod_next(&sq);

			for (int w = 0; w < 8; w++)
				slot[w] = t_rand(&seed);
		}
		ndk_ring_prod_publish(&sq);
		total += n;
		while (ctrl_serve(&c, &ctx, 32, false, &bad) != 0)
			;
		while (reap_one(&cq, &r)) {
			completions++;
			/* a known opcode with flags 0 may pass as far as its handle */
			CHECK(r.status == NDK_STATUS_INVALID_PARAMETER ||
				      r.status == NDK_STATUS_INVALID_HANDLE ||
				      r.opcode == NDK_ABI_OP_NOP,
			      "garbage gets INVALID_PARAMETER or INVALID_HANDLE (%#x, op %u)",
			      r.status, r.opcode);
		}
	}
	CHECK(completions == total, "every entry answered (%llu of %llu)",
	      (unsigned long long)completions, (unsigned long long)total);
	CHECK(bad == total, "all counted bad");
	CHECK(!c.broken, "garbage entries alone do not break the channel");
	channel_destroy(&c);
}

static void
test_bogus_indices(void)
{
	struct client c;
	struct ndk_ring sq, cq;
	uint64_t bad = 0;

	new_client(&c, 16);
	client_view(&c, &sq, &cq);
	/*
	 * The control ring is stamped: the engine goes by each entry's stamp and
	 * never reads the producer index, so a wild one changes nothing, and an
	 * entry stamped for another lap is not taken.
	 */
	*sq.kprod = 0x80000000u;
	CHECK(ctrl_serve(&c, &ctx, 32, false, &bad) == 0, "nothing served");
	CHECK(!c.broken, "a wild producer index is not read");
	{
		struct ndk_abi_sqe e = { .opcode = NDK_ABI_OP_NOP };

		post(&sq, &e);
		ndk_ring_prod_publish(&sq);
		atomic_store(ndk_ring_stamp_at(&sq, 0), ndk_ring_stamp(&sq, 16));
		CHECK(ctrl_serve(&c, &ctx, 32, false, &bad) == 0, "next lap's stamp: not taken");
		atomic_store(ndk_ring_stamp_at(&sq, 0), 0);
		CHECK(ctrl_serve(&c, &ctx, 32, false, &bad) == 0, "no stamp: not taken");
		atomic_store(ndk_ring_stamp_at(&sq, 0), ndk_ring_stamp(&sq, 0));
		CHECK(ctrl_serve(&c, &ctx, 32, false, &bad) == 1, "its own stamp: served");
		CHECK(!c.broken && bad == 0, "and well");
	}
	channel_destroy(&c);

	new_client(&c, 16);
	client_view(&c, &sq, &cq);
	/* Consumer index of the CQ moved ahead by the client: no overwrite, broken. */
	{
		struct ndk_abi_sqe e = { .opcode = NDK_ABI_OP_NOP };

		for (int i = 0; i < 16; i++)
			post(&sq, &e);
		ndk_ring_prod_publish(&sq);
		CHECK(ctrl_serve(&c, &ctx, 32, false, &bad) == 16, "served a full ring");
		for (int i = 0; i < 16; i++)
			post(&sq, &e);
		ndk_ring_prod_publish(&sq);
		*cq.kcons = 1000;
		CHECK(ctrl_serve(&c, &ctx, 32, false, &bad) == 0, "nothing written");
		CHECK(c.broken, "channel marked broken");
	}
	channel_destroy(&c);
}

static void
test_cancel(void)
{
	struct client c;
	struct ndk_ring sq, cq;
	struct ndk_abi_sqe e = { .opcode = NDK_ABI_OP_NOP, .user_data = 9 };
	struct ndk_abi_cqe r;
	uint64_t bad = 0;

	new_client(&c, 16);
	client_view(&c, &sq, &cq);
	post(&sq, &e);
	ndk_ring_prod_publish(&sq);
	CHECK(ctrl_serve(&c, &ctx, 32, true, &bad) == 1, "cancelled request answered");
	CHECK(reap_one(&cq, &r) && r.user_data == 9 && r.status == NDK_STATUS_DEVICE_REMOVED,
	      "with DEVICE_REMOVED");
	channel_destroy(&c);
}

int
main(void)
{
	if (mrt_create(&table, lim.mr_table_entries) != 0) {
		fprintf(stderr, "mrt_create failed\n");
		return 1;
	}
	provider_set_ops(&prov, &soft_provider_ops);
	if (prov.ops.init(&prov, NULL) != 0) {
		fprintf(stderr, "soft provider init failed\n");
		return 1;
	}
	RUN(test_channel_geometry);
	RUN(test_nop_and_invalid);
	RUN(test_cq_backpressure);
	RUN(test_garbage_fuzz);
	RUN(test_bogus_indices);
	RUN(test_cancel);
	prov.ops.fini(&prov);
	return t_done();
}
