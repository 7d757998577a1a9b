/* SPDX-License-Identifier: BSD-3-Clause */
/* NOP requests through a real ndkd: the async contract, 10^6 in order, back-pressure. */
#include <stdlib.h>
#include <string.h>

#include <ndk/ndk.h>

#include "testlib.h"

static struct tdaemon d;

struct counter {
	uint64_t calls;
	ndk_status last;
};

static void
count_cb(void *ctx, ndk_status st)
{
	struct counter *c = ctx;

	c->calls++;
	c->last = st;
}

static struct ndk_adapter *
open_adapter(void)
{
	struct ndk_adapter *ad = NULL;
	char err[160] = "";
	struct ndk_adapter_opts o;
	ndk_status s;

	ndk_adapter_opts_init(&o, sizeof(o));
	o.name = "test-nop";
	o.errbuf = err;
	o.errbuf_len = sizeof(err);
	s = ndk_adapter_open(d.sock, &o, &ad);
	CHECK_STATUS(s, NDK_STATUS_SUCCESS);
	if (s != NDK_STATUS_SUCCESS)
		fprintf(stderr, "open: %s\n", err);
	return ad;
}

static void
wait_calls(struct ndk_adapter *ad, struct counter *c, uint64_t n)
{
	uint64_t deadline = t_deadline_ms(5000);

	while (c->calls < n && t_now_ns() < deadline)
		ndk_adapter_progress(ad, 0);
}

static void
test_single_nop(void)
{
	struct ndk_adapter *ad = open_adapter();
	struct counter c = { 0 };
	int i;

	if (ad == NULL)
		return;
	CHECK(ad->header.object_type == NDK_OBJECT_TYPE_ADAPTER, "object type");
	CHECK(ad->header.version.major == NDK_VERSION_MAJOR, "version");
	CHECK_STATUS(ndk_adapter_nop(ad, 0, count_cb, &c), NDK_STATUS_PENDING);
	CHECK(c.calls == 0, "no callback before progress");
	wait_calls(ad, &c, 1);
	CHECK(c.calls == 1 && c.last == NDK_STATUS_SUCCESS, "one SUCCESS callback");
	/* Exactly once: more progress brings nothing more. */
	for (i = 0; i < 1000; i++)
		CHECK(ndk_adapter_progress(ad, 0) == 0 || c.calls > 1, "no extra completions");
	CHECK(c.calls == 1, "still one callback");
	CHECK_STATUS(ndk_adapter_close(ad), NDK_STATUS_SUCCESS);
}

static void
test_errors_have_no_callback(void)
{
	struct ndk_adapter *ad = open_adapter();
	struct counter c = { 0 };
	struct ndk_extension_interface ext = { (void *)1 };
	struct ndk_guid g = { 1, 2, 3, { 4 } };
	struct ndk_version v = { 1, 0 };
	int i;

	if (ad == NULL)
		return;
	CHECK_STATUS(ndk_adapter_nop(ad, 0x1, count_cb, &c), NDK_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ndk_adapter_nop(ad, 0, NULL, &c), NDK_STATUS_INVALID_PARAMETER);
	for (i = 0; i < 10000; i++)
		ndk_adapter_progress(ad, 0);
	CHECK(c.calls == 0, "an error return gets no callback");
	CHECK_STATUS(ndk_adapter_query_extension(ad, &g, v, &ext), NDK_STATUS_NOT_SUPPORTED);
	CHECK(ext.dispatch == NULL, "no dispatch for an unknown extension");
	CHECK_STATUS(ndk_adapter_close(ad), NDK_STATUS_SUCCESS);
}

struct ordered {
	uint64_t next;
	uint64_t bad;
	uint64_t failed;
};

static struct ordered ord;

static void
ordered_cb(void *ctx, ndk_status st)
{
	if ((uint64_t)(uintptr_t)ctx != ord.next)
		ord.bad++;
	if (st != NDK_STATUS_SUCCESS)
		ord.failed++;
	ord.next++;
}

static void
test_million_in_order(void)
{
	const uint64_t total = 1000000;
	struct ndk_adapter *ad = open_adapter();
	uint64_t posted = 0, retries = 0;
	uint64_t before = tel_status_u64(&d, "requests_served");

	if (ad == NULL)
		return;
	memset(&ord, 0, sizeof(ord));
	while (posted < total) {
		/* batches of 16: 15 deferred, the 16th rings the doorbell */
		uint32_t flags = (posted % 16 == 15 || posted == total - 1) ? 0 : NDK_OP_FLAG_DEFER;
		ndk_status s = ndk_adapter_nop(ad, flags, ordered_cb, (void *)(uintptr_t)posted);

		if (s == NDK_STATUS_PENDING) {
			posted++;
		} else if (s == NDK_STATUS_INSUFFICIENT_RESOURCES) {
			retries++;
			ndk_adapter_progress(ad, 0);
		} else {
			CHECK(0, "unexpected %s", ndk_status_str(s));
			break;
		}
	}
	while (ord.next < posted)
		ndk_adapter_progress(ad, 0);
	CHECK(ord.next == total, "all %llu completed", (unsigned long long)total);
	CHECK(ord.bad == 0, "%llu out of order", (unsigned long long)ord.bad);
	CHECK(ord.failed == 0, "%llu failed", (unsigned long long)ord.failed);
	CHECK(tel_status_u64(&d, "requests_served") - before == total,
	      "daemon counted every request");
	printf("  (%llu posts hit a full ring and were retried)\n", (unsigned long long)retries);
	CHECK_STATUS(ndk_adapter_close(ad), NDK_STATUS_SUCCESS);
}

static void
test_backpressure(void)
{
	struct ndk_adapter *ad = open_adapter();
	struct counter c = { 0 };
	uint64_t accepted = 0;
	ndk_status s;

	if (ad == NULL)
		return;
	/* Without progress nothing is reaped: posting must stop, not overwrite. */
	while ((s = ndk_adapter_nop(ad, NDK_OP_FLAG_DEFER, count_cb, &c)) == NDK_STATUS_PENDING)
		accepted++;
	CHECK_STATUS(s, NDK_STATUS_INSUFFICIENT_RESOURCES);
	CHECK(accepted == 256, "ring of 256 took %llu", (unsigned long long)accepted);
	CHECK(c.calls == 0, "refused post has no callback");
	wait_calls(ad, &c, accepted);
	CHECK(c.calls == accepted, "every accepted request completed (%llu)",
	      (unsigned long long)c.calls);
	CHECK_STATUS(ndk_adapter_nop(ad, 0, count_cb, &c), NDK_STATUS_PENDING);
	wait_calls(ad, &c, accepted + 1);
	CHECK_STATUS(ndk_adapter_close(ad), NDK_STATUS_SUCCESS);
}

static struct ndk_adapter *cb_adapter;
static ndk_status close_in_cb;
static int reposts;

static void
reentrant_cb(void *ctx, ndk_status st)
{
	struct counter *c = ctx;

	count_cb(ctx, st);
	close_in_cb = ndk_adapter_close(cb_adapter);
	/* Posting from a callback is allowed (the slot was freed first). */
	if (reposts++ < 3)
		CHECK_STATUS(ndk_adapter_nop(cb_adapter, 0, reentrant_cb, c), NDK_STATUS_PENDING);
}

static void
test_callback_reentry(void)
{
	struct counter c = { 0 };

	cb_adapter = open_adapter();
	if (cb_adapter == NULL)
		return;
	CHECK_STATUS(ndk_adapter_nop(cb_adapter, 0, reentrant_cb, &c), NDK_STATUS_PENDING);
	wait_calls(cb_adapter, &c, 4);
	CHECK(c.calls == 4, "original and three reposts completed (%llu)",
	      (unsigned long long)c.calls);
	CHECK_STATUS(close_in_cb, NDK_STATUS_INVALID_DEVICE_STATE);
	/* close drains what is still in flight, then returns */
	CHECK_STATUS(ndk_adapter_close(cb_adapter), NDK_STATUS_SUCCESS);
}

static void
test_close_drains(void)
{
	struct ndk_adapter *ad = open_adapter();
	struct counter c = { 0 };
	int i;

	if (ad == NULL)
		return;
	for (i = 0; i < 100; i++)
		CHECK_STATUS(ndk_adapter_nop(ad, NDK_OP_FLAG_DEFER, count_cb, &c),
			     NDK_STATUS_PENDING);
	/* Deferred and never progressed: close must still deliver every callback. */
	CHECK_STATUS(ndk_adapter_close(ad), NDK_STATUS_SUCCESS);
	CHECK(c.calls == 100 && c.last == NDK_STATUS_SUCCESS,
	      "close returned after all 100 callbacks (%llu)", (unsigned long long)c.calls);
}

static void
test_status_strings(void)
{
	CHECK(strcmp(ndk_status_str(NDK_STATUS_PENDING), "STATUS_PENDING") == 0, "pending");
	CHECK(strcmp(ndk_status_str(NDK_STATUS_INVALID_PARAMETER), "STATUS_INVALID_PARAMETER") == 0,
	      "invalid parameter");
	CHECK(strcmp(ndk_status_str(0xC0FFEE00u), "STATUS_0xC0FFEE00") == 0, "unknown: %s",
	      ndk_status_str(0xC0FFEE00u));
	CHECK(ndk_status_ok(NDK_STATUS_SUCCESS) && !ndk_status_ok(NDK_STATUS_PENDING),
	      "ok: SUCCESS only");
	CHECK(ndk_nt_success(NDK_STATUS_SUCCESS) && ndk_nt_success(NDK_STATUS_PENDING),
	      "NT_SUCCESS: PENDING too");
	CHECK(!ndk_status_ok(NDK_STATUS_DEVICE_REMOVED) && !ndk_nt_success(NDK_STATUS_DEVICE_BUSY),
	      "errors and warnings are not ok");
}

int
main(void)
{
	if (tdaemon_start(&d, "nop", NULL) != 0)
		return 1;
	RUN(test_status_strings);
	RUN(test_single_nop);
	RUN(test_errors_have_no_callback);
	RUN(test_million_in_order);
	RUN(test_backpressure);
	RUN(test_callback_reentry);
	RUN(test_close_drains);
	CHECK(tdaemon_stop(&d) == 0, "ndkd exits 0 on SIGTERM");
	return t_done();
}
