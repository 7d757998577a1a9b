/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * rte_eal_cleanup(), and then what it leaves: EAL's runtime directory
 * (/run/dpdk/<prefix>: config, memseg arrays, sockets), which nothing uses
 * once the primary process of that prefix is done. Files first, then the
 * directory; what cannot go stays, and the next start with the prefix
 * reuses it. For ndkd and the benchmark tools alike.
 */
#ifndef NDKD_EAL_CLEANUP_H
#define NDKD_EAL_CLEANUP_H

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>

/* 0, or -1 when the directory stays (errno says why). */
static inline int
eal_cleanup_all(void)
{
	char dir[PATH_MAX];
	struct dirent *e;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s", rte_eal_get_runtime_dir());
	rte_eal_cleanup();
	d = opendir(dir);
	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			unlinkat(dirfd(d), e->d_name, 0);
	}
	closedir(d);
	return rmdir(dir);
}

#endif /* NDKD_EAL_CLEANUP_H */
