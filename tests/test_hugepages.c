/* SPDX-License-Identifier: BSD-3-Clause */
/* ndkd on hugepages: serves clients, and gives every hugepage back when it stops. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ndk/ndk.h>

#include "testlib.h"

static long
meminfo(const char *key)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[128];
	long v = -1;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, key, strlen(key)) == 0) {
			v = strtol(line + strlen(key), NULL, 10);
			break;
		}
	}
	fclose(f);
	return v;
}

static bool
hugetlbfs_mounted(void)
{
	FILE *f = fopen("/proc/mounts", "r");
	char line[512];
	bool found = false;

	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		found |= strstr(line, " hugetlbfs ") != NULL;
	if (f != NULL)
		fclose(f);
	return found;
}

static void
done_cb(void *ctx, ndk_status st)
{
	*(ndk_status *)ctx = st;
}

int
main(void)
{
	static const char *const args[] = { "--huge", NULL };
	long free_before = meminfo("HugePages_Free:");
	struct ndk_adapter *ad;
	struct tdaemon d;
	ndk_status st = NDK_STATUS_PENDING;

	if (getuid() != 0 || free_before < 64 || !hugetlbfs_mounted()) {
		printf("skipped: needs root, a mounted hugetlbfs and 64 free hugepages\n");
		return TEST_SKIP;
	}
	if (tdaemon_start(&d, "huge", args) != 0)
		return 1;
	CHECK(tel_status_u64(&d, "hugepages") == 1, "running on hugepages");
	CHECK(meminfo("HugePages_Free:") < free_before, "took some hugepages");
	CHECK_STATUS(ndk_adapter_open(d.sock, NULL, &ad), NDK_STATUS_SUCCESS);
	CHECK_STATUS(ndk_adapter_nop(ad, 0, done_cb, &st), NDK_STATUS_PENDING);
	while (st == NDK_STATUS_PENDING)
		ndk_adapter_progress(ad, 0);
	CHECK_STATUS(st, NDK_STATUS_SUCCESS);
	CHECK_STATUS(ndk_adapter_close(ad), NDK_STATUS_SUCCESS);
	CHECK(tdaemon_stop(&d) == 0, "ndkd exits 0 on SIGTERM");
	CHECK(meminfo("HugePages_Free:") == free_before, "every hugepage given back (%ld of %ld)",
	      meminfo("HugePages_Free:"), free_before);
	return t_done();
}
