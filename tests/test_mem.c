/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Registration-ready memory: the arena (allocation, growth, limits, the
 * app's malloc left alone), attached fds, logical address mappings and the
 * adapter info.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <ndk/ndk.h>

#include "ndk_sync.h"

static struct tdaemon d;
static struct ndk_adapter *ad;

static uint64_t
client_regions(void)
{
	char cmd[64];
	uint64_t id = tel_query_u64(&d, "/ndkd/status", "clients_total");

	/* this test's adapter is the daemon's most recent client */
	snprintf(cmd, sizeof(cmd), "/ndkd/client,%llu", (unsigned long long)id);
	return tel_query_u64(&d, cmd, "regions");
}

static void
test_alloc_free_and_content(void)
{
	static const size_t sizes[] = { 1, 8, 100, 4096, 65536, 1 << 20, 3 << 20 };
	void *p[7];
	size_t i, k;

	for (i = 0; i < 7; i++) {
		p[i] = ndk_mem_alloc(ad, sizes[i], 0);
		CHECK(p[i] != NULL, "alloc %zu", sizes[i]);
		if (p[i] != NULL)
			memset(p[i], (int)i + 1, sizes[i]);
	}
	for (i = 0; i < 7; i++) {
		const unsigned char *b = p[i];

		for (k = 0; b != NULL && k < sizes[i]; k += 997)
			CHECK(b[k] == i + 1, "content of %zu intact", sizes[i]);
	}
	for (i = 0; i < 7; i++)
		ndk_mem_free(ad, p[i]);
	CHECK(ndk_mem_alloc(ad, 0, 0) == NULL, "size 0 gives NULL");
	CHECK(ndk_mem_alloc(ad, 64, 3) == NULL, "alignment not a power of two gives NULL");
	for (i = 0; i < 13; i++) {
		size_t align = (size_t)1 << i;
		void *q = ndk_mem_alloc(ad, 100, align);

		CHECK(q != NULL && ((uintptr_t)q & (align - 1)) == 0, "aligned to %zu", align);
		ndk_mem_free(ad, q);
	}
	ndk_mem_free(ad, NULL);
}

static void
test_every_allocation_registers(void)
{
	struct ndk_pd *pd = NULL;
	struct ndk_mr *mr = NULL;
	int i;

	CHECK_STATUS(sync_pd(ad, &pd), NDK_STATUS_SUCCESS);
	CHECK_STATUS(sync_mr(ad, pd, false, &mr), NDK_STATUS_SUCCESS);
	for (i = 0; i < 200; i++) {
		size_t sz = 1 + (size_t)(i * 7919) % 200000;
		void *p = ndk_mem_alloc(ad, sz, 0);

		CHECK(p != NULL, "alloc");
		CHECK_STATUS(sync_register(ad, mr, p, sz, NDK_MR_FLAG_ALLOW_LOCAL_WRITE),
			     NDK_STATUS_SUCCESS);
		CHECK_STATUS(sync_deregister(ad, mr), NDK_STATUS_SUCCESS);
		ndk_mem_free(ad, p);
	}
	CHECK_STATUS(sync_close_mr(ad, mr), NDK_STATUS_SUCCESS);
	CHECK_STATUS(sync_close_pd(ad, pd), NDK_STATUS_SUCCESS);
}

static void
test_arena_grows(void)
{
	uint64_t before = client_regions();
	void *big = ndk_mem_alloc(ad, 100u << 20, 0); /* more than one 64 MiB region */
	void *more[4];
	int i;

	CHECK(big != NULL, "100 MiB allocation");
	CHECK(client_regions() > before, "a new region was handed to ndkd (%llu -> %llu)",
	      (unsigned long long)before, (unsigned long long)client_regions());
	if (big != NULL)
		memset(big, 0x5a, 100u << 20);
	for (i = 0; i < 4; i++)
		more[i] = ndk_mem_alloc(ad, 1 << 20, 0);
	for (i = 0; i < 4; i++)
		ndk_mem_free(ad, more[i]);
	ndk_mem_free(ad, big);
}

static void
test_app_malloc_untouched(void)
{
	void *je = dlopen("libjemalloc.so.2", RTLD_NOW | RTLD_NOLOAD);
	void *app_malloc = dlsym(RTLD_DEFAULT, "malloc");

	/* libndk loaded jemalloc for its arena... */
	CHECK(je != NULL, "libjemalloc is loaded");
	/* ...but the malloc the app resolves is not jemalloc's (libc's, or a sanitizer's) */
	CHECK(je == NULL || app_malloc != dlsym(je, "malloc"),
	      "the app's malloc is not interposed by jemalloc");
	CHECK(je == NULL || dlsym(je, "mallocx") != NULL, "jemalloc's own API is there");
	if (je != NULL)
		dlclose(je);
}

static void
test_region_limit(void)
{
	static const char *const args[] = { "--max-region-mb-per-client", "100", NULL };
	struct tdaemon d2;
	struct ndk_adapter *a2;
	void *p, *q;

	if (tdaemon_start(&d2, "memlimit", args) != 0) {
		CHECK(0, "start");
		return;
	}
	CHECK_STATUS(ndk_adapter_open(d2.sock, NULL, &a2), NDK_STATUS_SUCCESS);
	p = ndk_mem_alloc(a2, 16 << 20, 0);
	CHECK(p != NULL, "16 MiB fits the first 64 MiB region");
	q = ndk_mem_alloc(a2, 80u << 20, 0);
	CHECK(q == NULL, "80 MiB more would pass the 100 MiB limit: NULL");
	CHECK(tdaemon_alive(&d2), "daemon fine");
	q = ndk_mem_alloc(a2, 1 << 20, 0);
	CHECK(q != NULL, "small allocations still work");
	ndk_mem_free(a2, p);
	ndk_mem_free(a2, q);
	CHECK_STATUS(ndk_adapter_close(a2), NDK_STATUS_SUCCESS);
	CHECK(tdaemon_stop(&d2) == 0, "clean stop");
}

static void
test_attach_fd(void)
{
	int sealed = memfd_create("sealed", MFD_ALLOW_SEALING);
	int unsealed = memfd_create("unsealed", 0);
	void *addr = NULL;
	char path[] = "/tmp/ndkt-file-XXXXXX";
	int file = mkstemp(path);

	CHECK(ftruncate(sealed, 1 << 20) == 0 && fcntl(sealed, F_ADD_SEALS, F_SEAL_SHRINK) == 0,
	      "memfd");
	CHECK(ftruncate(unsealed, 1 << 20) == 0, "memfd");
	CHECK(file >= 0 && ftruncate(file, 1 << 20) == 0, "file");
	unlink(path);

	CHECK_STATUS(ndk_mem_attach_fd(ad, unsealed, 1 << 20, &addr), NDK_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ndk_mem_attach_fd(ad, file, 1 << 20, &addr), NDK_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ndk_mem_attach_fd(ad, sealed, 2 << 20, &addr), NDK_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ndk_mem_attach_fd(ad, sealed, 1000, &addr), NDK_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ndk_mem_attach_fd(ad, -1, 4096, &addr), NDK_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ndk_mem_attach_fd(ad, sealed, 1 << 20, &addr), NDK_STATUS_SUCCESS);
	CHECK(addr != NULL, "mapped");
	if (addr != NULL) {
		struct ndk_pd *pd = NULL;
		struct ndk_mr *mr = NULL;

		memset(addr, 1, 1 << 20);
		CHECK_STATUS(sync_pd(ad, &pd), NDK_STATUS_SUCCESS);
		CHECK_STATUS(sync_mr(ad, pd, false, &mr), NDK_STATUS_SUCCESS);
		CHECK_STATUS(sync_register(ad, mr, addr, 1 << 20, 0), NDK_STATUS_SUCCESS);
		CHECK_STATUS(sync_close_mr(ad, mr), NDK_STATUS_SUCCESS);
		CHECK_STATUS(sync_close_pd(ad, pd), NDK_STATUS_SUCCESS);
	}
	close(sealed);
	close(unsealed);
	close(file);
}

static void
test_build_lam(void)
{
	char *p = ndk_mem_alloc(ad, 5 * 4096, 4096);
	uint32_t size = 0, fbo = 99, need, i;
	struct ndk_logical_address_mapping *lam;
	char stack_buf[16];
	ndk_status st;

	if (p == NULL) {
		CHECK(0, "alloc");
		return;
	}
	/* 3 bytes before a page end, 2 pages and a bit: pages [p, p + 3 pages) */
	st = ndk_adapter_build_lam(ad, p + 4093, 4096 + 10, NULL, &size, &fbo);
	CHECK_STATUS(st, NDK_STATUS_BUFFER_TOO_SMALL);
	need = size;
	CHECK(need == sizeof(*lam) + 3 * sizeof(ndk_logical_address), "needed size %u", need);
	lam = malloc(need);
	size = need - 1;
	CHECK_STATUS(ndk_adapter_build_lam(ad, p + 4093, 4096 + 10, lam, &size, &fbo),
		     NDK_STATUS_BUFFER_TOO_SMALL);
	size = need;
	CHECK_STATUS(ndk_adapter_build_lam(ad, p + 4093, 4096 + 10, lam, &size, &fbo),
		     NDK_STATUS_SUCCESS);
	CHECK(fbo == 4093 && lam->adapter_page_count == 3, "fbo %u pages %u", fbo,
	      lam->adapter_page_count);
	for (i = 0; i < lam->adapter_page_count && i < 3; i++)
		CHECK(lam->adapter_page_array[i] == (uintptr_t)p + i * 4096,
		      "page %u is the app's address of that page", i);
	ndk_adapter_release_lam(ad, lam);
	size = need;
	CHECK_STATUS(ndk_adapter_build_lam(ad, stack_buf, sizeof(stack_buf), lam, &size, &fbo),
		     NDK_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ndk_adapter_build_lam(ad, p, 0, lam, &size, &fbo),
		     NDK_STATUS_INVALID_PARAMETER);
	free(lam);
	ndk_mem_free(ad, p);
}

static void
test_adapter_info(void)
{
	struct ndk_adapter_info info;
	uint32_t size = 4;

	CHECK_STATUS(ndk_adapter_query_info(ad, &info, &size), NDK_STATUS_BUFFER_TOO_SMALL);
	CHECK(size == sizeof(info), "needed size reported (%u)", size);
	CHECK_STATUS(ndk_adapter_query_info(ad, &info, &size), NDK_STATUS_SUCCESS);
	CHECK(info.version.major == NDK_VERSION_MAJOR, "version");
	CHECK(info.frmr_page_count >= 16, "FRMRPageCount %u >= 16", info.frmr_page_count);
	CHECK(info.max_registration_size == 16384ull << 20,
	      "MaxRegistrationSize is the region limit");
	CHECK(info.rdma_technology == NDK_RDMA_TECHNOLOGY_ROCEV2, "RoCEv2");
	CHECK(info.max_initiator_queue_depth > 0 && info.max_cq_depth > 0 &&
		      info.max_initiator_request_sge >= 1 && info.max_receive_queue_depth > 0 &&
		      info.max_receive_request_sge >= 1,
	      "QP, receive and CQ limits");
	CHECK(info.adapter_flags & NDK_ADAPTER_FLAG_LOOPBACK_CONNECTIONS_SUPPORTED,
	      "same-node connections");
	/* nothing is claimed that does not exist yet */
	CHECK(info.max_inline_data_size > 0, "inline data");
	/* verbs carries no windows or SRQs to the device yet: it says none, with no size */
	if (getenv("NDK_TEST_PROVIDER") != NULL &&
	    strcmp(getenv("NDK_TEST_PROVIDER"), "verbs") == 0) {
		CHECK(info.max_window_size == 0 && info.max_srq_depth == 0, "no windows, no SRQs");
	} else {
		CHECK(info.max_window_size == info.max_registration_size,
		      "a window may cover as much as a registration");
		CHECK(info.max_srq_depth == info.max_receive_queue_depth,
		      "an SRQ may be as deep as a receive queue");
	}
}

int
main(void)
{
	if (tdaemon_start(&d, "mem", NULL) != 0)
		return 1;
	if (ndk_adapter_open(d.sock, NULL, &ad) != NDK_STATUS_SUCCESS) {
		tdaemon_kill(&d);
		return 1;
	}
	RUN(test_adapter_info);
	RUN(test_alloc_free_and_content);
	RUN(test_every_allocation_registers);
	RUN(test_arena_grows);
	RUN(test_app_malloc_untouched);
	RUN(test_attach_fd);
	RUN(test_build_lam);
	RUN(test_region_limit);
	CHECK_STATUS(ndk_adapter_close(ad), NDK_STATUS_SUCCESS);
	CHECK(tdaemon_stop(&d) == 0, "ndkd exits 0 on SIGTERM");
	return t_done();
}
