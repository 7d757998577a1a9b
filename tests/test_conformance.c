/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One case per statement of the seed pages (shared/seeds/00N_*.txt) that
 * libndk and ndkd must keep, named by seed. Where a seed says a token "can be
 * called after" a call completes, ndkd's MR table is asked (through
 * telemetry, the way an engine reads it) whether the token is honoured.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <ndk/ndk.h>

#include "mr_fixture.h"

/* seed 000: "can be called after an NdkRegisterMr ... call is completed" */
static void
seed000_remote_token_after_register(void)
{
	struct ndk_mr *mr = new_mr(false);
	uint32_t t;

	CHECK(ndk_mr_get_remote_token(mr) == 0, "0 before register");
	CHECK_STATUS(sync_register(ad, mr, buf, BUF_LEN, NDK_MR_FLAG_ALLOW_REMOTE_WRITE),
		     NDK_STATUS_SUCCESS);
	t = ndk_mr_get_remote_token(mr);
	CHECK(t != 0, "remote token after register completes");
	/* a NIC that checks remote keys (verbs) honours its own key; ndkd, the local token */
	CHECK(tel_token_live(&d, t == ndk_mr_get_local_token(mr) ? t : ndk_mr_get_local_token(mr)),
	      "ndkd honours it");
	CHECK_STATUS(sync_close_mr(ad, mr), NDK_STATUS_SUCCESS);
}

/* seed 000: "... or NdkInitializeFastRegisterMr call is completed" */
static void
seed000_remote_token_after_initialize(void)
{
	struct ndk_mr *mr = new_mr(true);

	CHECK(ndk_mr_get_remote_token(mr) == 0, "0 before initialize");
	CHECK_STATUS(sync_init_fr(ad, mr, 16, true), NDK_STATUS_SUCCESS);
	CHECK(ndk_mr_get_remote_token(mr) != 0, "remote token after initialize completes");
	CHECK_STATUS(sync_close_mr(ad, mr), NDK_STATUS_SUCCESS);
}

/* seed 001: "can be called after ... NdkRegisterMr ... completes without errors" */
static void
seed001_local_token_after_register_without_error(void)
{
	struct ndk_mr *mr = new_mr(false);
	uint32_t t;

	CHECK_STATUS(sync_register(ad, mr, buf, BUF_LEN, NDK_MR_FLAG_ALLOW_LOCAL_WRITE),
		     NDK_STATUS_SUCCESS);
	t = ndk_mr_get_local_token(mr);
	CHECK(t != 0 && tel_token_live(&d, t), "local token after register, honoured");
	CHECK_STATUS(sync_close_mr(ad, mr), NDK_STATUS_SUCCESS);

	/* A register that fails leaves no token. */
	mr = new_mr(false);
	CHECK_STATUS(sync_register(ad, mr, buf, BUF_LEN, 0x40), NDK_STATUS_INVALID_PARAMETER);
	CHECK(ndk_mr_get_local_token(mr) == 0, "no token after a failed register");
	CHECK_STATUS(sync_close_mr(ad, mr), NDK_STATUS_SUCCESS);
}

/* seed 001: "... or NdkInitializeFastRegisterMr ... completes without errors" */
static void
seed001_local_token_after_initialize_without_error(void)
{
	struct ndk_mr *mr = new_mr(true);
	struct ndk_adapter_info info;
	uint32_t size = sizeof(info);

	CHECK_STATUS(ndk_adapter_query_info(ad, &info, &size), NDK_STATUS_SUCCESS);
	CHECK_STATUS(sync_init_fr(ad, mr, info.frmr_page_count, false), NDK_STATUS_SUCCESS);
	CHECK(ndk_mr_get_local_token(mr) != 0, "local token after initialize");
	CHECK_STATUS(sync_close_mr(ad, mr), NDK_STATUS_SUCCESS);

	mr = new_mr(true);
	CHECK_STATUS(
		ndk_mr_initialize_fast_register(mr, info.frmr_page_count + 1, false, w_req, NULL),
		NDK_STATUS_IMPLEMENTATION_LIMIT);
	CHECK(ndk_mr_get_local_token(mr) == 0, "no token after a failed initialize");
	CHECK_STATUS(sync_close_mr(ad, mr), NDK_STATUS_SUCCESS);
}

/* seed 002: "a privileged memory region token value that allows adapter logical addresses..." */
static void
seed002_privileged_token_exists_per_pd(void)
{
	struct ndk_pd *pd2 = NULL;
	uint32_t t = ndk_pd_get_privileged_token(pd);

	CHECK(t != 0, "a PD has a privileged token");
	CHECK(ndk_pd_get_privileged_token(pd) == t, "the same on every call (synchronous)");
	CHECK_STATUS(sync_pd(ad, &pd2), NDK_STATUS_SUCCESS);
	CHECK(ndk_pd_get_privileged_token(pd2) != t, "each PD its own");
	CHECK(tel_token_live(&d, t), "ndkd honours it without any registration");
	CHECK_STATUS(sync_close_pd(ad, pd2), NDK_STATUS_SUCCESS);
}

/* seed 002: "This token must provide LOCAL_READ and LOCAL_WRITE access." */
static void
seed002_privileged_token_local_read_write(void)
{
	char cmd[64], kind[32];

	snprintf(cmd, sizeof(cmd), "/ndkd/mr,%u", ndk_pd_get_privileged_token(pd));
	tel_query_str(&d, cmd, "kind", kind, sizeof(kind));
	CHECK(strcmp(kind, "privileged") == 0, "kind %s", kind);
	/* LOCAL_READ is implied by every token; LOCAL_WRITE is bit 0x1 */
	CHECK((tel_query_u64(&d, cmd, "access") & NDK_MR_FLAG_ALLOW_LOCAL_WRITE) != 0,
	      "local write allowed");
}

/* seed 002: "A provider must never allow remote access for the privileged memory region token." */
static void
seed002_privileged_token_never_remote(void)
{
	char cmd[64];

	snprintf(cmd, sizeof(cmd), "/ndkd/mr,%u", ndk_pd_get_privileged_token(pd));
	CHECK(tel_query_u64(&d, cmd, "remote_allowed") == 0, "the table forbids remote access");
	CHECK((tel_query_u64(&d, cmd, "access") & 0x6) == 0, "no remote bits in the entry");
}

/* seed 003: NDK_MR_DISPATCH has these seven entries, in this order. */
static void
seed003_mr_dispatch_table(void)
{
	struct ndk_mr *mr = new_mr(false);
	const struct ndk_mr_dispatch *t = mr->dispatch;
	struct ndk_extension_interface ext;
	struct ndk_guid g = { 0x1234 };

	CHECK(offsetof(struct ndk_mr_dispatch, close) == 0 * sizeof(void *), "NdkCloseMr");
	CHECK(offsetof(struct ndk_mr_dispatch, query_extension) == 1 * sizeof(void *),
	      "NdkQueryExtension");
	CHECK(offsetof(struct ndk_mr_dispatch, register_mr) == 2 * sizeof(void *), "NdkRegisterMr");
	CHECK(offsetof(struct ndk_mr_dispatch, deregister_mr) == 3 * sizeof(void *),
	      "NdkDeregisterMr");
	CHECK(offsetof(struct ndk_mr_dispatch, initialize_fast_register_mr) == 4 * sizeof(void *),
	      "NdkInitializeFastRegisterMr");
	CHECK(offsetof(struct ndk_mr_dispatch, get_remote_token) == 5 * sizeof(void *),
	      "NdkGetRemoteTokenFromMr");
	CHECK(offsetof(struct ndk_mr_dispatch, get_local_token) == 6 * sizeof(void *),
	      "NdkGetLocalTokenFromMr");
	CHECK(sizeof(struct ndk_mr_dispatch) == 7 * sizeof(void *), "exactly seven entries");
	CHECK(t->close && t->query_extension && t->register_mr && t->deregister_mr &&
		      t->initialize_fast_register_mr && t->get_remote_token && t->get_local_token,
	      "every entry set");
	CHECK(mr->header.object_type == NDK_OBJECT_TYPE_MR, "object header says MR");
	CHECK_STATUS(ndk_mr_query_extension(mr, &g, (struct ndk_version){ 1, 0 }, &ext),
		     NDK_STATUS_NOT_SUPPORTED);
	CHECK_STATUS(sync_close_mr(ad, mr), NDK_STATUS_SUCCESS);
}

/* seed 004: "If the function returns STATUS_SUCCESS, the created object is returned in ppNdkMr" */
static void
seed004_success_returns_object_inline(void)
{
	struct wait w = { 0 };
	struct ndk_mr *mr = NULL;
	ndk_status st;
	int i;

	st = ndk_mr_create(pd, false, w_create, &w, &mr);
	CHECK_STATUS(st, NDK_STATUS_SUCCESS);
	CHECK(mr != NULL && mr->header.object_type == NDK_OBJECT_TYPE_MR, "object in *mr");
	for (i = 0; i < 1000; i++)
		ndk_adapter_progress(ad, 0);
	CHECK(w.calls == 0, "no completion after SUCCESS");
	CHECK_STATUS(sync_close_mr(ad, mr), NDK_STATUS_SUCCESS);
}

/* seed 004: "If NdkCreateMr returns STATUS_PENDING, the created object is returned by
 * NdkCreateCompletion" */
static void
seed004_pending_returns_object_through_completion(void)
{
	struct ndk_mr *mrs[80];
	struct wait w[80];
	int i, pending = 0;

	/* Create faster than the pool refills: some creates must go to ndkd. */
	memset(w, 0, sizeof(w));
	for (i = 0; i < 80; i++) {
		mrs[i] = (struct ndk_mr *)(uintptr_t)0xdead;
		ndk_status st = ndk_mr_create(pd, true, w_create, &w[i], &mrs[i]);

		if (st == NDK_STATUS_PENDING) {
			pending++;
			CHECK(mrs[i] == (struct ndk_mr *)(uintptr_t)0xdead,
			      "PENDING leaves *mr untouched");
			CHECK(w_wait(ad, &w[i]) && w[i].status == NDK_STATUS_SUCCESS,
			      "the completion comes once, with SUCCESS");
			CHECK(w[i].obj != NULL && w[i].obj->object_type == NDK_OBJECT_TYPE_MR,
			      "and carries the MR");
			mrs[i] = (struct ndk_mr *)w[i].obj;
		} else {
			CHECK_STATUS(st, NDK_STATUS_SUCCESS);
		}
	}
	CHECK(pending > 0, "the pool ran dry at least once (%d pending)", pending);
	for (i = 0; i < 80; i++)
		CHECK_STATUS(sync_close_mr(ad, mrs[i]), NDK_STATUS_SUCCESS);
}

/* seed 004: "STATUS_INSUFFICIENT_RESOURCES: The request failed due to insufficient resources." */
static void
seed004_insufficient_resources(void)
{
	static const char *const args[] = { "--max-mrs-per-client", "40", NULL };
	struct ndk_mr *mrs[64];
	struct tdaemon d2;
	struct ndk_adapter *a2;
	struct ndk_pd *p2;
	ndk_status st = NDK_STATUS_SUCCESS;
	int i, n = 0;

	if (tdaemon_start(&d2, "mrlimit", args) != 0) {
		CHECK(0, "start");
		return;
	}
	CHECK_STATUS(ndk_adapter_open(d2.sock, NULL, &a2), NDK_STATUS_SUCCESS);
	CHECK_STATUS(sync_pd(a2, &p2), NDK_STATUS_SUCCESS);
	for (i = 0; i < 64; i++) {
		st = sync_mr(a2, p2, false, &mrs[n]);
		if (st != NDK_STATUS_SUCCESS)
			break;
		n++;
	}
	CHECK_STATUS(st, NDK_STATUS_INSUFFICIENT_RESOURCES);
	CHECK(n == 40, "exactly the limit of 40 MRs (got %d)", n);
	/* nothing broke: closing one lets another be made */
	if (n > 0) {
		n--;
		CHECK_STATUS(sync_close_mr(a2, mrs[n]), NDK_STATUS_SUCCESS);
		CHECK_STATUS(sync_mr(a2, p2, false, &mrs[n]), NDK_STATUS_SUCCESS);
		n++;
	}
	for (i = 0; i < n; i++)
		CHECK_STATUS(sync_close_mr(a2, mrs[i]), NDK_STATUS_SUCCESS);
	CHECK_STATUS(sync_close_pd(a2, p2), NDK_STATUS_SUCCESS);
	CHECK_STATUS(ndk_adapter_close(a2), NDK_STATUS_SUCCESS);
	CHECK(tdaemon_stop(&d2) == 0, "clean stop");
}

/* seed 004: "FastRegister: If TRUE, MR is for fast-register only. Otherwise ... normal register
 * only." */
static void
seed004_fast_register_flag(void)
{
	struct ndk_mr *fr = new_mr(true), *nr = new_mr(false);
	struct wait w = { 0 };

	CHECK_STATUS(ndk_mr_register(fr, buf, BUF_LEN, 0, w_req, &w), NDK_STATUS_NOT_SUPPORTED);
	CHECK_STATUS(ndk_mr_initialize_fast_register(nr, 16, false, w_req, &w),
		     NDK_STATUS_NOT_SUPPORTED);
	CHECK(w.calls == 0, "no callbacks");
	CHECK_STATUS(sync_init_fr(ad, fr, 16, false), NDK_STATUS_SUCCESS);
	CHECK_STATUS(sync_register(ad, nr, buf, BUF_LEN, 0), NDK_STATUS_SUCCESS);
	CHECK_STATUS(sync_close_mr(ad, fr), NDK_STATUS_SUCCESS);
	CHECK_STATUS(sync_close_mr(ad, nr), NDK_STATUS_SUCCESS);
}

int
main(void)
{
	if (!mr_fixture_open("conformance"))
		return 1;
	RUN(seed000_remote_token_after_register);
	RUN(seed000_remote_token_after_initialize);
	RUN(seed001_local_token_after_register_without_error);
	RUN(seed001_local_token_after_initialize_without_error);
	RUN(seed002_privileged_token_exists_per_pd);
	RUN(seed002_privileged_token_local_read_write);
	RUN(seed002_privileged_token_never_remote);
	RUN(seed003_mr_dispatch_table);
	RUN(seed004_success_returns_object_inline);
	RUN(seed004_pending_returns_object_through_completion);
	RUN(seed004_insufficient_resources);
	RUN(seed004_fast_register_flag);
	return mr_fixture_close();
}
