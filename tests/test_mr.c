/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * MR and PD bad input and lifetime: every malformed call gets a clear status
 * and changes nothing; closing works in every state and follows NDK's
 * lifetime rules; old tokens die.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <ndk/ndk.h>

#include "mr_fixture.h"

/* Each bad register is refused inline (no callback) and leaves the MR usable. */
static void
test_register_bad_input(void)
{
	struct ndk_mr *mr = new_mr(false);
	char stack_buf[64];
	void *anon = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *heap = malloc(4096);
	struct wait w = { 0 };

	CHECK_STATUS(sync_register(ad, mr, buf, 0, 0), NDK_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(sync_register(ad, mr, (void *)(uintptr_t)(UINT64_MAX - 100), 4096, 0),
		     NDK_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(sync_register(ad, mr, buf, SIZE_MAX, 0), NDK_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(sync_register(ad, mr, NULL, 4096, 0), NDK_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(sync_register(ad, mr, buf, BUF_LEN, 0x10), NDK_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(sync_register(ad, mr, buf, BUF_LEN, 0x80000000u),
		     NDK_STATUS_INVALID_PARAMETER);
	/* memory ndkd cannot see: stack, heap, anonymous mmap */
	CHECK_STATUS(sync_register(ad, mr, stack_buf, sizeof(stack_buf), 0),
		     NDK_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(sync_register(ad, mr, heap, 4096, 0), NDK_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(sync_register(ad, mr, anon, 4096, 0), NDK_STATUS_INVALID_PARAMETER);
	/* one byte past the end of a region ndkd has is refused too */
	{
		int fd = memfd_create("t", MFD_ALLOW_SEALING);
		void *att = NULL;

		CHECK(fd >= 0 && ftruncate(fd, 8192) == 0 &&
			      fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) == 0,
		      "sealed memfd");
		CHECK_STATUS(ndk_mem_attach_fd(ad, fd, 8192, &att), NDK_STATUS_SUCCESS);
		CHECK_STATUS(sync_register(ad, mr, att, 8193, 0), NDK_STATUS_INVALID_PARAMETER);
		CHECK_STATUS(sync_register(ad, mr, (char *)att + 1, 8192, 0),
			     NDK_STATUS_INVALID_PARAMETER);
		CHECK_STATUS(sync_register(ad, mr, att, 8192, 0), NDK_STATUS_SUCCESS);
		CHECK_STATUS(sync_deregister(ad, mr), NDK_STATUS_SUCCESS);
		close(fd);
	}
	CHECK(ndk_mr_get_local_token(mr) == 0, "no token");
	/* after all that, a good register works */
	CHECK_STATUS(sync_register(ad, mr, buf, BUF_LEN, NDK_MR_FLAG_ALLOW_REMOTE_READ),
		     NDK_STATUS_SUCCESS);
	CHECK(w.calls == 0, "no stray callbacks");
	CHECK_STATUS(sync_close_mr(ad, mr), NDK_STATUS_SUCCESS);
	munmap(anon, 4096);
	free(heap);
}

static void
test_register_twice_and_deregister_unregistered(void)
{
	struct ndk_mr *mr = new_mr(false);
	uint32_t t1, t2;

	CHECK_STATUS(sync_deregister(ad, mr), NDK_STATUS_INVALID_DEVICE_REQUEST);
	CHECK_STATUS(sync_register(ad, mr, buf, 4096, 0), NDK_STATUS_SUCCESS);
	t1 = ndk_mr_get_local_token(mr);
	CHECK_STATUS(sync_register(ad, mr, buf, 4096, 0), NDK_STATUS_INVALID_DEVICE_REQUEST);
	CHECK(ndk_mr_get_local_token(mr) == t1 && tel_token_live(&d, t1),
	      "the registration is untouched");
	CHECK_STATUS(sync_deregister(ad, mr), NDK_STATUS_SUCCESS);
	CHECK(ndk_mr_get_local_token(mr) == 0 && ndk_mr_get_remote_token(mr) == 0,
	      "tokens read 0 after deregister");
	CHECK(!tel_token_live(&d, t1), "the old token is dead in ndkd");
	CHECK_STATUS(sync_deregister(ad, mr), NDK_STATUS_INVALID_DEVICE_REQUEST);
	/* re-register: a new token; the old one stays dead (variant rotated) */
	CHECK_STATUS(sync_register(ad, mr, buf, 4096, 0), NDK_STATUS_SUCCESS);
	t2 = ndk_mr_get_local_token(mr);
	CHECK(t2 != t1 && (t2 >> 8) == (t1 >> 8), "same entry, new variant (%#x, %#x)", t1, t2);
	CHECK(tel_token_live(&d, t2) && !tel_token_live(&d, t1), "only the new token works");
	CHECK_STATUS(sync_close_mr(ad, mr), NDK_STATUS_SUCCESS);
	CHECK(!tel_token_live(&d, t2), "closing a registered MR kills its token");
}

static void
test_remote_token_without_remote_access(void)
{
	struct ndk_mr *mr = new_mr(false);
	char cmd[64];
	uint32_t t;

	CHECK_STATUS(sync_register(ad, mr, buf, 4096, NDK_MR_FLAG_ALLOW_LOCAL_WRITE),
		     NDK_STATUS_SUCCESS);
	t = ndk_mr_get_remote_token(mr);
	/* documented: the same token; ndkd's entry refuses every remote access */
	CHECK(t == ndk_mr_get_local_token(mr) && t != 0, "remote token is the MR's token");
	snprintf(cmd, sizeof(cmd), "/ndkd/mr,%u", t);
	CHECK(tel_query_u64(&d, cmd, "remote_allowed") == 0, "remote access refused in the table");
	CHECK_STATUS(sync_close_mr(ad, mr), NDK_STATUS_SUCCESS);
}

static void
test_initialize_bad_input(void)
{
	struct ndk_mr *mr = new_mr(true);
	struct ndk_adapter_info info;
	uint32_t size = sizeof(info);

	CHECK_STATUS(ndk_adapter_query_info(ad, &info, &size), NDK_STATUS_SUCCESS);
	CHECK(info.frmr_page_count >= 16, "FRMRPageCount >= 16 (%u)", info.frmr_page_count);
	CHECK_STATUS(sync_init_fr(ad, mr, 0, false), NDK_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(sync_init_fr(ad, mr, info.frmr_page_count + 1, false),
		     NDK_STATUS_IMPLEMENTATION_LIMIT);
	CHECK_STATUS(sync_init_fr(ad, mr, info.frmr_page_count, true), NDK_STATUS_SUCCESS);
	/* NDK: initialize may be called again */
	CHECK_STATUS(sync_init_fr(ad, mr, 16, false), NDK_STATUS_SUCCESS);
	CHECK_STATUS(sync_deregister(ad, mr), NDK_STATUS_NOT_SUPPORTED);
	CHECK_STATUS(sync_close_mr(ad, mr), NDK_STATUS_SUCCESS);
}

static int close_order[4];
static int close_seq;

static void
order_req(void *ctx, ndk_status st)
{
	(void)st;
	close_order[close_seq++] = (int)(intptr_t)ctx;
}

static void
order_close(void *ctx)
{
	close_order[close_seq++] = (int)(intptr_t)ctx;
}

static void
test_close_in_every_state(void)
{
	struct ndk_mr *mr;
	uint64_t deadline;
	uint32_t t;

	/* never registered: back to the pool, SUCCESS, no callback */
	mr = new_mr(false);
	CHECK_STATUS(ndk_mr_close(mr, order_close, (void *)1), NDK_STATUS_SUCCESS);

	/* registered: PENDING, one close completion, token dead */
	mr = new_mr(false);
	CHECK_STATUS(sync_register(ad, mr, buf, 4096, 0), NDK_STATUS_SUCCESS);
	t = ndk_mr_get_local_token(mr);
	CHECK_STATUS(sync_close_mr(ad, mr), NDK_STATUS_SUCCESS);
	CHECK(!tel_token_live(&d, t), "token dead after close");

	/* register in flight: close right away; register completes first, close last */
	close_seq = 0;
	mr = new_mr(false);
	CHECK_STATUS(ndk_mr_register(mr, buf, 4096, 0, order_req, (void *)10), NDK_STATUS_PENDING);
	CHECK_STATUS(ndk_mr_close(mr, order_close, (void *)20), NDK_STATUS_PENDING);
	/* by time, not by calls: a loaded host (TSan, a busy CPU) answers slower */
	deadline = t_deadline_ms(5000);
	while (close_seq < 2 && t_now_ns() < deadline)
		ndk_adapter_progress(ad, 0);
	CHECK(close_seq == 2 && close_order[0] == 10 && close_order[1] == 20,
	      "request completion before close completion (%d: %d, %d)", close_seq, close_order[0],
	      close_order[1]);

	/* fast-register MR initialised */
	mr = new_mr(true);
	CHECK_STATUS(sync_init_fr(ad, mr, 16, true), NDK_STATUS_SUCCESS);
	CHECK_STATUS(sync_close_mr(ad, mr), NDK_STATUS_SUCCESS);
}

static struct ndk_mr *cb_mr;
static ndk_status cb_close_status;
static struct wait cb_close_wait;

static void
close_from_callback(void *ctx, ndk_status st)
{
	(void)ctx;
	(void)st;
	/* NDK allows close from inside a completion callback */
	cb_close_status = ndk_mr_close(cb_mr, w_close, &cb_close_wait);
}

static void
test_close_from_callback(void)
{
	cb_mr = new_mr(false);
	memset(&cb_close_wait, 0, sizeof(cb_close_wait));
	CHECK_STATUS(ndk_mr_register(cb_mr, buf, 4096, 0, close_from_callback, NULL),
		     NDK_STATUS_PENDING);
	CHECK(w_wait(ad, &cb_close_wait), "close completion after close from a callback");
	CHECK_STATUS(cb_close_status, NDK_STATUS_PENDING);
}

static void
test_pd_close_waits_for_its_mrs(void)
{
	struct ndk_pd *p2 = NULL;
	struct ndk_mr *a = NULL, *b = NULL;
	struct wait w = { 0 };
	uint32_t priv;
	int i;

	CHECK_STATUS(sync_pd(ad, &p2), NDK_STATUS_SUCCESS);
	priv = ndk_pd_get_privileged_token(p2);
	CHECK_STATUS(sync_mr(ad, p2, false, &a), NDK_STATUS_SUCCESS);
	CHECK_STATUS(sync_mr(ad, p2, true, &b), NDK_STATUS_SUCCESS);
	CHECK_STATUS(sync_register(ad, a, buf, 4096, 0), NDK_STATUS_SUCCESS);
	/* NDK: closing an antecedent with successors open is PENDING until they close */
	CHECK_STATUS(ndk_pd_close(p2, w_close, &w), NDK_STATUS_PENDING);
	for (i = 0; i < 10000; i++)
		ndk_adapter_progress(ad, 0);
	CHECK(w.calls == 0, "no PD close completion while its MRs are open");
	CHECK(tel_token_live(&d, priv), "PD still alive in ndkd");
	CHECK_STATUS(sync_close_mr(ad, a), NDK_STATUS_SUCCESS);
	for (i = 0; i < 10000; i++)
		ndk_adapter_progress(ad, 0);
	CHECK(w.calls == 0, "still one MR open");
	CHECK_STATUS(sync_close_mr(ad, b), NDK_STATUS_SUCCESS);
	CHECK(w_wait(ad, &w), "PD close completes after its last MR");
	CHECK(!tel_token_live(&d, priv), "privileged token dead");
}

static void
test_adapter_close_blocks_for_callbacks(void)
{
	struct ndk_adapter *a2;
	struct ndk_pd *p2 = NULL;
	struct ndk_mr *mr = NULL;
	struct wait w = { 0 };
	char *b2;

	CHECK_STATUS(ndk_adapter_open(d.sock, NULL, &a2), NDK_STATUS_SUCCESS);
	CHECK_STATUS(sync_pd(a2, &p2), NDK_STATUS_SUCCESS);
	CHECK_STATUS(sync_mr(a2, p2, false, &mr), NDK_STATUS_SUCCESS);
	b2 = ndk_mem_alloc(a2, 8192, 0);
	CHECK(b2 != NULL, "alloc");
	CHECK_STATUS(ndk_mr_register(mr, b2, 8192, 0, w_req, &w), NDK_STATUS_PENDING);
	/* close without progress: it must deliver the pending callback before returning */
	CHECK_STATUS(ndk_adapter_close(a2), NDK_STATUS_SUCCESS);
	CHECK(w.calls == 1 && w.status == NDK_STATUS_SUCCESS, "callback ran inside close");
	/* the MR and PD left open died with the adapter (LSan checks nothing leaked) */
}

int
main(void)
{
	if (!mr_fixture_open("mr"))
		return 1;
	RUN(test_register_bad_input);
	RUN(test_register_twice_and_deregister_unregistered);
	RUN(test_remote_token_without_remote_access);
	RUN(test_initialize_bad_input);
	RUN(test_close_in_every_state);
	RUN(test_close_from_callback);
	RUN(test_pd_close_waits_for_its_mrs);
	RUN(test_adapter_close_blocks_for_callbacks);
	return mr_fixture_close();
}
