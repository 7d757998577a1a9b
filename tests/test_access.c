/* SPDX-License-Identifier: BSD-3-Clause */
/* Access resolution without a daemon: every check a token and a range go through. */
#include <ndk/flags.h>

#include "engine_fixture.h"
#include "mr.h"
#include "qp.h"

#define MEM (1u << 20)

static struct efx f;
static uint32_t pd, priv, mr, token, fr, fr_token;
static uint32_t fr_now; /* the FR MR's token as the client knows it */

static bool
resolve(uint32_t tok, uint64_t addr, uint64_t len, uint8_t access, bool remote,
	struct dp_chunk *out, uint32_t *n)
{
	struct access_req w = {
		.client_id = f.c.id,
		.pd = pd,
		.access = access,
		.remote = remote,
		.local = remote ? NULL : &f.c,
	};

	*n = 0;
	return access_resolve(&f.x, tok, addr, len, &w, out, n);
}

static void
setup(void)
{
	uint64_t out[6] = { 0 };

	efx_init(&f, &soft_provider_ops, MEM);
	CHECK_STATUS(dpd_create(&f.c, &f.x, out), NDK_STATUS_SUCCESS);
	pd = (uint32_t)out[0];
	priv = (uint32_t)out[1];
	CHECK_STATUS(dmr_create(&f.c, &f.x, pd, NDK_ABI_MR_KIND_NORMAL, out), NDK_STATUS_SUCCESS);
	mr = (uint32_t)out[0];
	/* 64 KiB at offset 64 KiB, local write and remote read */
	CHECK_STATUS(dmr_register(&f.c, &f.x, mr, efx_addr(&f, 65536), 65536, 0x3, out),
		     NDK_STATUS_SUCCESS);
	token = (uint32_t)out[0];
	CHECK_STATUS(dmr_create(&f.c, &f.x, pd, NDK_ABI_MR_KIND_FASTREG, out), NDK_STATUS_SUCCESS);
	fr = (uint32_t)out[0];
	CHECK_STATUS(dmr_init_fr(&f.c, &f.x, fr, 16, 1, out), NDK_STATUS_SUCCESS);
	fr_token = (uint32_t)out[0];
	fr_now = fr_token;
}

static void
test_normal_mr(void)
{
	struct dp_chunk *out = f.x.local;
	uint32_t n;

	CHECK(resolve(token, efx_addr(&f, 65536 + 100), 200, MRT_ACCESS_LOCAL_WRITE, false, out,
		      &n),
	      "inside, local write");
	CHECK(n == 1 && out[0].addr == f.mem + 65536 + 100 && out[0].len == 200, "one piece");
	CHECK(resolve(token, efx_addr(&f, 65536), 65536, MRT_ACCESS_REMOTE_READ, true, out, &n),
	      "the whole MR, remote read");
	CHECK(resolve(token, efx_addr(&f, 65536), 0, MRT_ACCESS_REMOTE_WRITE, true, out, &n) &&
		      n == 0,
	      "zero bytes need nothing");
	CHECK(!resolve(token, efx_addr(&f, 65536), 16, MRT_ACCESS_REMOTE_WRITE, true, out, &n),
	      "remote write not granted");
	CHECK(!resolve(token, efx_addr(&f, 65535), 16, 0, false, out, &n), "one byte before");
	CHECK(!resolve(token, efx_addr(&f, 131072 - 8), 16, 0, false, out, &n), "past the end");
	CHECK(!resolve(token, UINT64_MAX - 4, 16, 0, false, out, &n), "wrapping range");
	CHECK(!resolve(token, efx_addr(&f, 65536), UINT64_MAX, 0, false, out, &n), "huge length");
	CHECK(!resolve(token ^ 1, efx_addr(&f, 65536), 16, 0, false, out, &n), "other variant");
	CHECK(!resolve(0, efx_addr(&f, 65536), 16, 0, false, out, &n), "token 0");
	CHECK(!resolve(0xffffff00u, efx_addr(&f, 65536), 16, 0, false, out, &n),
	      "index past the table");
}

static void
test_owner_checks(void)
{
	struct access_req w = { .client_id = f.c.id + 1, .pd = pd, .local = &f.c };
	uint32_t n = 0;

	CHECK(!access_resolve(&f.x, token, efx_addr(&f, 65536), 16, &w, f.x.local, &n),
	      "another client's token");
	w.client_id = f.c.id;
	w.pd = pd + 1;
	CHECK(!access_resolve(&f.x, token, efx_addr(&f, 65536), 16, &w, f.x.local, &n),
	      "another PD's token");
}

static void
test_privileged(void)
{
	struct dp_chunk *out = f.x.local;
	uint32_t n;

	CHECK(resolve(priv, efx_addr(&f, 4096), 8192, MRT_ACCESS_LOCAL_WRITE, false, out, &n),
	      "local, in the client's region");
	CHECK(n == 1 && out[0].addr == f.mem + 4096, "mapped where ndkd maps it");
	CHECK(!resolve(priv, efx_addr(&f, 4096), 16, 0, true, out, &n), "never remote");
	CHECK(!resolve(priv, efx_addr(&f, MEM - 8), 16, 0, false, out, &n), "past the region");
	CHECK(!resolve(priv, efx_addr(&f, 0), 16, MRT_ACCESS_REMOTE_READ, false, out, &n),
	      "remote read bit refused");
}

/*
 * Fast register count pages at 0x7000000000 + 100 (any aligned address is
 * the app's to pick), naming the next token as libndk does.
 */
static ndk_status
fast_register_as(const uint64_t *pages, uint32_t count, uint32_t next, uint32_t *tok)
{
	struct dqp qp = { .pd = pd, .client = &f.c };
	struct ndk_abi_wqe h = {
		.opcode = NDK_ABI_WR_FAST_REGISTER,
		.flags = NDK_OP_FLAG_ALLOW_REMOTE_WRITE,
		.mr_handle = fr,
		.remote_addr = 0x7000000000ull + 100,
		.length = (uint64_t)count * PAGE - 200,
		.page_count = count,
		.fbo = 100,
		.remote_token = next,
	};
	uint32_t peer_token = 0;
	ndk_status st = dmr_fast_register(&f.c, &f.x, &qp, &h, pages, 0, &peer_token);

	*tok = st == NDK_STATUS_SUCCESS ? next : 0;
	if (st == NDK_STATUS_SUCCESS)
		fr_now = next;
	return st;
}

static ndk_status
fast_register(const uint64_t *pages, uint32_t count, uint32_t *tok)
{
	return fast_register_as(pages, count, (fr_now & ~0xffu) | ((fr_now + 1) & 0xffu), tok);
}

static void
test_fast_register(void)
{
	struct dqp qp = { .pd = pd, .client = &f.c };
	struct dp_chunk *out = f.x.local;
	uint64_t pages[3] = { efx_addr(&f, 8 * PAGE), efx_addr(&f, 9 * PAGE),
			      efx_addr(&f, 20 * PAGE) };
	uint32_t tok = 0, n, old = fr_token;

	CHECK(!resolve(fr_token, 0x7000000000ull + 100, 16, 0, false, out, &n),
	      "initialised, not registered: nothing");
	/* the variant in use now, or another MR's index: refused */
	CHECK_STATUS(fast_register_as(pages, 3, fr_token, &tok), NDK_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(fast_register_as(pages, 3, token + 1, &tok), NDK_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(
		fast_register_as(pages, 3, (fr_token & ~0xffu) | ((fr_token + 7) & 0xffu), &tok),
		NDK_STATUS_SUCCESS);
	CHECK(tok == ((fr_token & ~0xffu) | ((fr_token + 7) & 0xffu)),
	      "the token the client named is the MR's now");
	CHECK_STATUS(dmr_invalidate(&f.c, &f.x, &qp, fr, 0), NDK_STATUS_SUCCESS);
	CHECK_STATUS(fast_register(pages, 3, &tok), NDK_STATUS_SUCCESS);
	CHECK(tok != 0 && tok != old, "the token rotated");
	CHECK(resolve(tok, 0x7000000000ull + 100, 3 * PAGE - 200, MRT_ACCESS_REMOTE_WRITE, true,
		      out, &n),
	      "the whole mapping, remote write");
	/* pages 8 and 9 touch: one piece; page 20 is apart: a second */
	CHECK(n == 2 && out[0].addr == f.mem + 8 * PAGE + 100 && out[0].len == 2 * PAGE - 100 &&
		      out[1].addr == f.mem + 20 * PAGE && out[1].len == PAGE - 100,
	      "pieces follow the pages (n=%u)", n);
	CHECK(!resolve(old, 0x7000000000ull + 100, 16, 0, false, out, &n), "old token dead");
	CHECK(!resolve(tok, 0x7000000000ull + 99, 16, 0, false, out, &n), "before the first byte");
	CHECK_STATUS(fast_register(pages, 3, &n), NDK_STATUS_INVALID_DEVICE_REQUEST);
	CHECK_STATUS(dmr_invalidate(&f.c, &f.x, &qp, fr, 0), NDK_STATUS_SUCCESS);
	CHECK(!resolve(tok, 0x7000000000ull + 100, 16, 0, false, out, &n), "invalidated");
	pages[1] = efx_addr(&f, MEM); /* just past the region */
	CHECK_STATUS(fast_register(pages, 3, &n), NDK_STATUS_ACCESS_VIOLATION);
	pages[1] = efx_addr(&f, 9 * PAGE) + 8; /* not page aligned */
	CHECK_STATUS(fast_register(pages, 3, &n), NDK_STATUS_ACCESS_VIOLATION);
}

static void
test_piece_limit(void)
{
	uint32_t max = f.x.max_chunks, n;
	uint64_t *pages = calloc(16, sizeof(*pages));
	uint32_t tok = 0, i;

	/* every other page: no two pieces merge */
	for (i = 0; i < 16; i++)
		pages[i] = efx_addr(&f, (64 + 2 * i) * PAGE);
	CHECK_STATUS(fast_register(pages, 16, &tok), NDK_STATUS_SUCCESS);
	CHECK(resolve(tok, 0x7000000000ull + 100, 16 * PAGE - 200, 0, false, f.x.local, &n) &&
		      n == 16,
	      "16 pieces");
	f.x.max_chunks = 15;
	CHECK(!resolve(tok, 0x7000000000ull + 100, 16 * PAGE - 200, 0, false, f.x.local, &n),
	      "more pieces than fit is refused, not overrun");
	f.x.max_chunks = max;
	free(pages);
}

int
main(void)
{
	setup();
	RUN(test_normal_mr);
	RUN(test_owner_checks);
	RUN(test_privileged);
	RUN(test_fast_register);
	RUN(test_piece_limit);
	efx_fini(&f);
	return t_done();
}
