/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The mlx5 layer's device-independent part (providers/mlx5/umr.c), since
 * no ConnectX is here: a fast register's pages as KLM entries, the UMR WQE
 * read back at the byte offsets the PRM gives its fields (written out here,
 * not taken from the structs the encoder uses), key tags, and the mkey
 * pool against a fake device.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "providers/mlx5/umr.h"
#include "testlib.h"

/* Registrations of ndkd's memory, 64 pages each. */
struct reg {
	uint64_t base, len, iova;
	uint32_t lkey;
};
static const struct reg regs[] = {
	{ 0x100000, 64 * PAGE, 0x7f0000000000, 0x1111 },
	{ 0x900000, 64 * PAGE, 0x7f1000000000, 0x2222 },
	/* its IOVAs follow the first's: only the lkey tells them apart */
	{ 0xd00000, 64 * PAGE, 0x7f0000000000 + 64 * PAGE, 0x3333 },
};

static bool
resolve(void *arg, uint64_t addr, uint32_t *lkey, uint64_t *iova, uint64_t *room)
{
	size_t i;

	(void)arg;
	for (i = 0; i < sizeof(regs) / sizeof(regs[0]); i++) {
		if (addr >= regs[i].base && addr < regs[i].base + regs[i].len) {
			*lkey = regs[i].lkey;
			*iova = regs[i].iova + (addr - regs[i].base);
			*room = regs[i].base + regs[i].len - addr;
			return true;
		}
	}
	return false;
}

static struct fr_map
map(const uint64_t *pages, uint32_t n, uint32_t fbo, uint64_t length)
{
	return (struct fr_map){
		.pages = pages, .n_pages = n, .fbo = fbo, .va = 0x5000 + fbo, .length = length
	};
}

static void
test_list(void)
{
	uint64_t p[8];
	struct ibv_sge s[8];
	struct fr_map m;
	int i, n;

	for (i = 0; i < 4; i++)
		p[i] = 0x100000 + (uint64_t)i * PAGE;
	m = map(p, 4, 100, 4 * PAGE - 100 - 50);
	n = umr_list(&m, resolve, NULL, s, 8);
	CHECK(n == 1 && s[0].lkey == 0x1111 && s[0].addr == 0x7f0000000000 + 100 &&
		      s[0].length == 4 * PAGE - 150,
	      "four pages in a row: one entry from the first byte (%d)", n);

	/* the same pages out of order, then a page of the other registration */
	p[0] = 0x100000 + 3 * PAGE;
	p[1] = 0x100000;
	p[2] = 0x100000 + PAGE;
	p[3] = 0x900000 + 5 * PAGE;
	m = map(p, 4, 0, 3 * PAGE + 10);
	n = umr_list(&m, resolve, NULL, s, 8);
	CHECK(n == 3, "out of order and across registrations: three entries (%d)", n);
	if (n == 3) {
		CHECK(s[0].addr == 0x7f0000000000 + 3 * PAGE && s[0].length == PAGE, "entry 0");
		CHECK(s[1].addr == 0x7f0000000000 && s[1].length == 2 * PAGE && s[1].lkey == 0x1111,
		      "pages 1 and 2 follow each other: one entry");
		CHECK(s[2].addr == 0x7f1000000000 + 5 * PAGE && s[2].length == 10 &&
			      s[2].lkey == 0x2222,
		      "the last page's 10 bytes under the other lkey");
	}

	p[0] = 0x100000 + 63 * PAGE;
	p[1] = 0xd00000;
	m = map(p, 2, 0, 2 * PAGE);
	CHECK(umr_list(&m, resolve, NULL, s, 8) == 2 && s[1].lkey == 0x3333,
	      "addresses that follow each other under two lkeys: two entries");

	/* pages beyond the length are not mapped */
	m = map(p, 4, 0, 100);
	CHECK(umr_list(&m, resolve, NULL, s, 8) == 1 && s[0].length == 100, "a short mapping");

	for (i = 0; i < 8; i++)
		p[i] = 0x100000 + (uint64_t)(2 * i) * PAGE; /* every other page */
	m = map(p, 8, 0, 8 * PAGE);
	CHECK(umr_list(&m, resolve, NULL, s, 8) == 8, "eight scattered pages: eight entries");
	CHECK(umr_list(&m, resolve, NULL, s, 7) == -E2BIG, "more entries than room: E2BIG");

	p[1] = 0x500000; /* in no registration */
	CHECK(umr_list(&m, resolve, NULL, s, 8) == -EFAULT, "a page nobody registered: EFAULT");
	p[1] = 0x100000 + 63 * PAGE + 8; /* crosses the end of one */
	m = map(p, 2, 0, 2 * PAGE);
	CHECK(umr_list(&m, resolve, NULL, s, 8) == -EFAULT,
	      "a page running past its registration: EFAULT");
	m = map(p, 2, 0, 0);
	CHECK(umr_list(&m, resolve, NULL, s, 8) == -EINVAL, "no bytes: EINVAL");
	p[1] = 0x100000 + PAGE;
	m = map(p, 2, 0, 3 * PAGE);
	CHECK(umr_list(&m, resolve, NULL, s, 8) == -EINVAL, "more bytes than pages: EINVAL");
}

static uint32_t
be32_at(const uint8_t *b, size_t off)
{
	return (uint32_t)b[off] << 24 | (uint32_t)b[off + 1] << 16 | (uint32_t)b[off + 2] << 8 |
	       b[off + 3];
}

static uint64_t
be64_at(const uint8_t *b, size_t off)
{
	return (uint64_t)be32_at(b, off) << 32 | be32_at(b, off + 4);
}

static void
test_wqe(void)
{
	uint8_t b[UMR_WQE_MAX + 64];
	struct ibv_sge s[UMR_MAX_ENTRIES + 1];
	struct umr_args a;
	size_t n;
	uint32_t i;

	s[0] = (struct ibv_sge){ .addr = 0x7f0000001064, .length = 4000, .lkey = 0x1111 };
	s[1] = (struct ibv_sge){ .addr = 0x7f1000005000, .length = 96, .lkey = 0x2222 };
	a = (struct umr_args){ .qpn = 0xabcdef,
			       .mkey = 0x123456a7,
			       .tag = 0x3c,
			       .va = 0x5064,
			       .len = 4096,
			       .access = IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ,
			       .signaled = true,
			       .list = s,
			       .n = 2 };
	memset(b, 0xee, sizeof(b));
	n = umr_wqe(b, sizeof(b), &a);
	CHECK(n == 192, "two entries: control 16 + UMR control 48 + mkey context 64 + 64 (%zu)", n);
	/* control segment */
	CHECK((be32_at(b, 0) & 0xff) == 0x25, "opcode UMR (0x25)");
	CHECK(be32_at(b, 4) == (0xabcdefu << 8 | 12), "QPN and 12 units of 16 bytes");
	CHECK(b[11] == (0x08 | 0x20), "a completion (CE 2) and the initiator's small fence");
	CHECK(be32_at(b, 12) == 0x123456a7, "the mkey it changes, as the device knows it");
	/* UMR control segment */
	CHECK(b[16] == 0x80, "the KLM list inline");
	CHECK((b[20] << 8 | b[21]) == 4, "4 octowords of translation (one 64-byte block)");
	CHECK(be64_at(b, 24) == 0x203c2041ull,
	      "mask: length, start address, key, free, the four access bits (%#llx)",
	      (unsigned long long)be64_at(b, 24));
	/* mkey context */
	CHECK(b[64] == 0, "not free: mapped from here");
	CHECK(b[66] == (0x04 | 0x10 | 0x20), "local read, remote read and write; no local write");
	CHECK(be32_at(b, 68) == 0xffffff3c, "no QP, the new tag");
	CHECK(be64_at(b, 80) == 0x5064 && be64_at(b, 88) == 4096, "the app's address and length");
	/* the entries, then zeros to the block's end */
	CHECK(be32_at(b, 128) == 4000 && be32_at(b, 132) == 0x1111 &&
		      be64_at(b, 136) == 0x7f0000001064,
	      "entry 0: bytes, lkey, address");
	CHECK(be32_at(b, 144) == 96 && be32_at(b, 148) == 0x2222 &&
		      be64_at(b, 152) == 0x7f1000005000,
	      "entry 1");
	for (i = 160; i < 192 && b[i] == 0; i++)
		;
	CHECK(i == 192 && b[192] == 0xee, "the block padded with zeros, nothing written past it");

	a.signaled = false;
	a.access = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_ATOMIC;
	CHECK(umr_wqe(b, sizeof(b), &a) == 192 && b[11] == 0x20 && b[66] == (0x04 | 0x08 | 0x40),
	      "unsignaled; local write and atomic");
	a.len = 4097;
	CHECK(umr_wqe(b, sizeof(b), &a) == 0, "a length not the entries' sum: refused");
	a.len = 4096;
	CHECK(umr_wqe(b, 191, &a) == 0, "a buffer too small: refused");

	for (i = 0; i <= UMR_MAX_ENTRIES; i++)
		s[i] = (struct ibv_sge){ .addr = 0x1000 * (uint64_t)i, .length = 8, .lkey = 1 };
	a.n = UMR_MAX_ENTRIES;
	a.len = 8ull * UMR_MAX_ENTRIES;
	n = umr_wqe(b, sizeof(b), &a);
	CHECK(n == 960 && (be32_at(b, 4) & 0x3f) == 60,
	      "%u entries: 960 bytes, 60 units of 16 (%zu)", UMR_MAX_ENTRIES, n);
	a.n = UMR_MAX_ENTRIES + 1;
	a.len += 8;
	CHECK(umr_wqe(b, sizeof(b), &a) == 0, "one entry more: refused");
	a.n = 0;
	CHECK(umr_wqe(b, sizeof(b), &a) == 0, "no entry: refused");

	CHECK(umr_entries_for(UMR_INLINE_FOR_MAX) == UMR_MAX_ENTRIES && UMR_INLINE_FOR_MAX == 924,
	      "924 bytes of inline: WQEs of 960, room for all %u entries", UMR_MAX_ENTRIES);
	CHECK(umr_entries_for(476) == 24, "a device of 512-byte WQEs: 24 entries");
	CHECK(umr_entries_for(475) == 20, "one byte less: 448-byte WQEs, 20 entries");
	CHECK(umr_entries_for(0) == 0 && umr_entries_for(155) == 0 && umr_entries_for(156) == 4,
	      "under 192-byte WQEs nothing fits; at 192, one block of 4");
	CHECK(umr_entries_for(UINT32_MAX) == UMR_MAX_ENTRIES, "more inline: still %u at most",
	      UMR_MAX_ENTRIES);
	for (i = 1; i <= 2000; i++) {
		uint32_t e = umr_entries_for(i);

		a.n = e;
		a.len = 8ull * e;
		if (e > 0 && umr_wqe(b, sizeof(b), &a) > (i + 36) / 64 * 64)
			break;
	}
	CHECK(i == 2001, "a UMR of as many entries as allowed never outgrows the QP's WQEs (%u)",
	      i);
	CHECK(umr_key(0x123456a7, 0x3c) == 0x1234563c && umr_key(0xff, 0) == 0,
	      "a key takes the new tag in its low byte");
}

/* A fake device: mkeys are numbers; it makes at most 'limit'. */
struct fake {
	int made, destroyed, limit;
	int live[64];
};

static void *
fake_create(void *arg)
{
	struct fake *f = arg;

	if (f->made >= f->limit)
		return NULL;
	f->live[f->made] = 1;
	return (void *)(uintptr_t)(++f->made);
}

static void
fake_destroy(void *arg, void *mkey)
{
	struct fake *f = arg;
	int k = (int)(uintptr_t)mkey;

	CHECK(k >= 1 && k <= f->made && f->live[k - 1], "destroyed once, an mkey made (%d)", k);
	f->live[k - 1] = 0;
	f->destroyed++;
}

static void
test_pool(void)
{
	struct fake f = { .limit = 64 };
	struct mkey_pool p;
	void *a, *b, *c;

	CHECK(mkey_pool_init(&p, 4, 2, fake_create, fake_destroy, &f) == 0, "pool");
	a = mkey_pool_take(&p);
	CHECK(a != NULL && p.n_taken_empty == 1 && f.made == 1, "empty: one made on demand");
	CHECK(mkey_pool_refill(&p) == 4 && p.n_free == 4, "below the low mark: filled to cap");
	CHECK(mkey_pool_refill(&p) == 0, "full: nothing made");
	b = mkey_pool_take(&p);
	c = mkey_pool_take(&p);
	CHECK(b != NULL && c != NULL && b != c && p.n_taken_empty == 1 && p.n_free == 2,
	      "two taken from the pool without a command");
	CHECK(mkey_pool_refill(&p) == 0, "at the low mark: no refill yet");
	mkey_pool_retire(&p, a);
	CHECK(f.destroyed == 1 && !f.live[0], "an mkey that held a mapping is destroyed");
	mkey_pool_return(&p, b);
	CHECK(p.n_free == 3 && f.destroyed == 1, "one never mapped goes back");
	mkey_pool_return(&p, c);
	a = mkey_pool_take(&p);
	mkey_pool_return(&p, a);
	b = fake_create(&f);
	p.n_created++;
	mkey_pool_return(&p, b);
	CHECK(p.n_free == 4 && f.destroyed == 2, "returned to a full pool: destroyed");
	f.limit = f.made; /* the device makes no more */
	while (p.n_free > 0)
		mkey_pool_retire(&p, mkey_pool_take(&p));
	CHECK(mkey_pool_take(&p) == NULL, "empty and the device out of mkeys: NULL");
	CHECK(mkey_pool_refill(&p) == 0, "nothing to refill with");
	f.limit = 64;
	mkey_pool_refill(&p);
	mkey_pool_fini(&p);
	CHECK(f.made == f.destroyed && p.n_created == p.n_destroyed,
	      "at the end every mkey made is destroyed (%d/%d)", f.made, f.destroyed);
}

int
main(void)
{
	RUN(test_list);
	RUN(test_wqe);
	RUN(test_pool);
	return t_done();
}
