/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Model-based property test: seeded random sequences of fast register,
 * invalidate and RDMA write (good, stale and out-of-range tokens and
 * addresses), each checked against a small model of what must succeed, and
 * every successful write checked byte by byte where the model says it lands.
 */
#include <stdlib.h>
#include <string.h>

#include "rdma_util.h"

#define PAGES	  32 /* pages of b's buffer the fast registrations pick from */
#define FR_PAGES  16 /* what the MR was initialised for */
#define OPS	  150
#define SEEDS_ALL 40

static struct tdaemon d;

struct model {
	bool valid;
	uint32_t token; /* the live token when valid */
	uint32_t old_tokens[8];
	uint32_t n_old;
	uint64_t base; /* VA of the mapping */
	uint64_t length;
	uint32_t fbo;
	uint32_t n_pages;
	uint32_t page_idx[FR_PAGES]; /* which of b's pages, in order */
};

static uint64_t
rnd(uint64_t *s, uint64_t n)
{
	return n == 0 ? 0 : t_rand(s) % n;
}

/* Where byte k of the mapping lives in b's buffer. */
static uint64_t
model_offset(const struct model *m, uint64_t k)
{
	uint64_t p = m->fbo + k;

	return (uint64_t)m->page_idx[p / 4096] * 4096 + p % 4096;
}

static int
run_seed(uint64_t seed, struct side *a, struct side *b, struct ndk_mr *fr, int *checked)
{
	struct model m = { 0 };
	uint64_t s = seed;
	int op, failures = t_failures;
	uint8_t *src = a->buf;

	/* start every seed from a clean, invalidated MR on fresh QPs */
	if (!pair_reset(a, b))
		return -1;
	CHECK_STATUS(ndk_qp_invalidate(b->qp, NULL, fr, 0), NDK_STATUS_SUCCESS);
	CHECK_STATUS(side_result(b).status, NDK_STATUS_SUCCESS);

	for (op = 0; op < OPS && t_failures == failures; op++) {
		uint64_t kind = rnd(&s, 10);
		struct ndk_result_ex r;

		if (kind < 3) {
			/* fast register a random mapping */
			ndk_logical_address pages[FR_PAGES];
			uint32_t idx[FR_PAGES];
			uint32_t n = 1 + (uint32_t)rnd(&s, FR_PAGES), i,
				 fbo = (uint32_t)rnd(&s, 4096);
			uint64_t len = 1 + rnd(&s, (uint64_t)n * 4096 - fbo);
			uint64_t base = (0x100000 + rnd(&s, 1 << 20)) * 4096 + fbo;
			ndk_status want =
				m.valid ? NDK_STATUS_INVALID_DEVICE_REQUEST : NDK_STATUS_SUCCESS;

			for (i = 0; i < n; i++) {
				uint32_t pi = (uint32_t)rnd(&s, PAGES);

				pages[i] = (uintptr_t)b->buf + (uint64_t)pi * 4096;
				idx[i] = pi;
			}
			CHECK_STATUS(ndk_qp_fast_register(b->qp, NULL, fr, n, pages, fbo, len,
							  (void *)(uintptr_t)base,
							  NDK_OP_FLAG_ALLOW_REMOTE_WRITE),
				     NDK_STATUS_SUCCESS);
			r = side_result(b);
			CHECK(r.status == want, "seed %llu op %d: fast register %s, model says %s",
			      (unsigned long long)seed, op, ndk_status_str(r.status),
			      ndk_status_str(want));
			if (want != NDK_STATUS_SUCCESS) {
				/* b's QP is in error now; the mapping stays */
				if (!pair_reset(a, b))
					return -1;
				continue;
			}
			/* the token before becomes stale: keep the last few to try later */
			if (m.token != 0)
				m.old_tokens[m.n_old++ % 8] = m.token;
			m.valid = true;
			/* every fast register rotates the key: never the token of the one before */
			CHECK(ndk_mr_get_remote_token(fr) != m.token &&
				      ndk_mr_get_remote_token(fr) != 0,
			      "seed %llu op %d: token did not rotate (%#x)",
			      (unsigned long long)seed, op, m.token);
			m.token = ndk_mr_get_remote_token(fr);
			m.base = base;
			m.length = len;
			m.fbo = fbo;
			m.n_pages = n;
			memcpy(m.page_idx, idx, sizeof(idx));
		} else if (kind < 4) {
			CHECK_STATUS(ndk_qp_invalidate(b->qp, NULL, fr, 0), NDK_STATUS_SUCCESS);
			r = side_result(b);
			CHECK(r.status == NDK_STATUS_SUCCESS, "seed %llu op %d: invalidate %s",
			      (unsigned long long)seed, op, ndk_status_str(r.status));
			m.valid = false;
		} else {
			/* a write: usually inside the mapping, sometimes past it or with a stale
			 * token */
			uint64_t off = m.length ? rnd(&s, m.length) : 0;
			uint32_t len = 1 + (uint32_t)rnd(&s, 6000);
			uint32_t token = m.token;
			bool ok;
			uint64_t k;

			if (rnd(&s, 6) == 0 && m.n_old > 0)
				token = m.old_tokens[rnd(&s, m.n_old < 8 ? m.n_old : 8)];
			if (rnd(&s, 5) == 0)
				off = m.length - rnd(&s, 16); /* near or past the end */
			ok = m.valid && token == m.token && token != 0 && off <= m.length &&
			     len <= m.length - off;
			for (k = 0; k < len; k++)
				src[k] = (uint8_t)(seed + op + k);
			r = side_rdma(a, true, 0, len, a->token, m.base + off, token);
			CHECK(r.status == (ok ? NDK_STATUS_SUCCESS : NDK_STATUS_ACCESS_VIOLATION),
			      "seed %llu op %d: write %u at +%llu (valid %d, stale %d): %s",
			      (unsigned long long)seed, op, len, (unsigned long long)off, m.valid,
			      token != m.token, ndk_status_str(r.status));
			if (!ok) {
				if (!pair_reset(a, b))
					return -1;
				continue;
			}
			for (k = 0; k < len; k++) {
				if (b->buf[model_offset(&m, off + k)] != (uint8_t)(seed + op + k)) {
					CHECK(0,
					      "seed %llu op %d: byte %llu not where the model says",
					      (unsigned long long)seed, op, (unsigned long long)k);
					break;
				}
			}
			(*checked)++;
		}
	}
	return t_failures == failures ? 0 : -1;
}

int
main(void)
{
	struct side a, b;
	struct ndk_mr *fr = NULL;
	int seeds = getenv("NDK_TEST_QUICK") != NULL ? 10 : SEEDS_ALL, i, checked = 0, failed = 0;

	if (tdaemon_start(&d, "frmodel", NULL) != 0)
		return 1;
	CHECK(side_open(&a, d.sock, 8192, NDK_MR_FLAG_ALLOW_LOCAL_WRITE), "a");
	CHECK(side_open(&b, d.sock, PAGES * 4096, 0), "b");
	CHECK_STATUS(sync_mr(b.ad, b.pd, true, &fr), NDK_STATUS_SUCCESS);
	CHECK_STATUS(sync_init_fr(b.ad, fr, FR_PAGES, true), NDK_STATUS_SUCCESS);
	for (i = 0; i < seeds && t_failures == 0; i++) {
		if (run_seed(1000 + (uint64_t)i, &a, &b, fr, &checked) != 0)
			failed++;
	}
	printf("%d seeds x %d operations, %d writes checked byte by byte, %d seeds failed\n", seeds,
	       OPS, checked, failed);
	CHECK(checked > seeds * 10, "the model let enough writes through (%d)", checked);
	side_close(&a);
	side_close(&b);
	CHECK(tel_wait_u64(&d, "mr_entries_in_use", 0, 3000) == 0, "MR table empty");
	CHECK(tdaemon_stop(&d) == 0, "ndkd exits 0 on SIGTERM");
	return t_done();
}
