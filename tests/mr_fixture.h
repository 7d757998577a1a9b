/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the MR tests share: one ndkd, one adapter with one PD, a 64 KiB arena
 * buffer, and at the end a check that every MR table entry went back.
 */
#ifndef NDK_MR_FIXTURE_H
#define NDK_MR_FIXTURE_H

#include "ndk_sync.h"

static struct tdaemon d;
static struct ndk_adapter *ad;
static struct ndk_pd *pd;
static char *buf;

#define BUF_LEN (64 * 1024)

static inline struct ndk_mr *
new_mr(bool fast_register)
{
	struct ndk_mr *mr = NULL;

	CHECK_STATUS(sync_mr(ad, pd, fast_register, &mr), NDK_STATUS_SUCCESS);
	return mr;
}

/* false when the daemon, the adapter or the PD could not be had */
static inline bool
mr_fixture_open(const char *name)
{
	if (tdaemon_start(&d, name, NULL) != 0)
		return false;
	if (ndk_adapter_open(d.sock, NULL, &ad) != NDK_STATUS_SUCCESS ||
	    sync_pd(ad, &pd) != NDK_STATUS_SUCCESS) {
		tdaemon_kill(&d);
		return false;
	}
	buf = ndk_mem_alloc(ad, BUF_LEN, 4096);
	CHECK(buf != NULL, "arena allocation");
	return true;
}

/* Close it all, check the MR table is empty again; the test's exit status. */
static inline int
mr_fixture_close(void)
{
	ndk_mem_free(ad, buf);
	CHECK_STATUS(sync_close_pd(ad, pd), NDK_STATUS_SUCCESS);
	CHECK_STATUS(ndk_adapter_close(ad), NDK_STATUS_SUCCESS);
	CHECK(tel_wait_u64(&d, "mr_entries_in_use", 0, 2000) == 0, "MR table back to empty");
	CHECK(tdaemon_stop(&d) == 0, "ndkd exits 0 on SIGTERM");
	return t_done();
}

#endif /* NDK_MR_FIXTURE_H */
