/* SPDX-License-Identifier: BSD-3-Clause */
/* ndkd.conf: the input is the file. Whatever it holds, a clear verdict and no leak. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ndkd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	struct ndkd_opts o;
	char path[64], err[512];

	if (fd < 0)
		fd = memfd_create("ndkd.conf", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		return 0;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	opts_defaults(&o);
	err[0] = '\0';
	if (opts_load_config(&o, path, err, sizeof(err)) != 0 &&
	    strncmp(err, path, strlen(path)) != 0)
		__builtin_trap(); /* every refusal names the file (and its line) */
	opts_free(&o);
	return 0;
}
