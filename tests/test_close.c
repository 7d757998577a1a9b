/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Closes that find the control ring full: a PD, a CQ and a listener each
 * answer PENDING, wait until the ring has room, and then get their close
 * callback exactly once; ndkd ends up with none of them.
 */
#include <string.h>

#include "ndk_sync.h"

static struct tdaemon d;

static void
nop_done(void *ctx, ndk_status st)
{
	(void)st;
	(*(int *)ctx)++;
}

static void
on_connect(void *ctx, struct ndk_connector *c)
{
	(void)ctx;
	ndk_connector_close(c, NULL, NULL);
}

static void
test_close_on_full_ring(void)
{
	struct ndk_adapter *ad = NULL;
	struct ndk_pd *pd = NULL;
	struct ndk_cq *cq = NULL;
	struct ndk_listener *l = NULL;
	struct ndk_qp_address addr = { .family = NDK_ADDRESS_LOCAL, .port = 7000 };
	struct wait w = { 0 }, wpd = { 0 }, wcq = { 0 }, wl = { 0 };
	int posted = 0, done = 0, i;
	uint64_t deadline;

	CHECK_STATUS(ndk_adapter_open(d.sock, NULL, &ad), NDK_STATUS_SUCCESS);
	if (ad == NULL)
		return;
	CHECK_STATUS(sync_pd(ad, &pd), NDK_STATUS_SUCCESS);
	CHECK_STATUS(w_finish(ad, &w, ndk_cq_create(ad, 64, w_create, &w, &cq)),
		     NDK_STATUS_SUCCESS);
	cq = (struct ndk_cq *)w.obj;
	CHECK_STATUS(ndk_listener_create(ad, on_connect, NULL, &l), NDK_STATUS_SUCCESS);
	memset(&w, 0, sizeof(w));
	CHECK_STATUS(w_finish(ad, &w, ndk_listener_listen(l, &addr, w_req, &w)),
		     NDK_STATUS_SUCCESS);
	/* every request slot busy: nothing more can be posted until progress reaps */
	while (ndk_adapter_nop(ad, NDK_OP_FLAG_DEFER, nop_done, &done) == NDK_STATUS_PENDING)
		posted++;
	CHECK(posted > 0, "the ring filled (%d NOPs)", posted);
	CHECK_STATUS(ndk_pd_close(pd, w_close, &wpd), NDK_STATUS_PENDING);
	CHECK_STATUS(ndk_cq_close(cq, w_close, &wcq), NDK_STATUS_PENDING);
	CHECK_STATUS(ndk_listener_close(l, w_close, &wl), NDK_STATUS_PENDING);
	CHECK(wpd.calls == 0 && wcq.calls == 0 && wl.calls == 0, "no close completed yet");
	deadline = t_deadline_ms(5000);
	while ((done < posted || wpd.calls == 0 || wcq.calls == 0 || wl.calls == 0) &&
	       t_now_ns() < deadline)
		ndk_adapter_progress(ad, 0);
	for (i = 0; i < 100; i++)
		ndk_adapter_progress(ad, 0);
	CHECK(done == posted, "every NOP answered (%d of %d)", done, posted);
	CHECK(wpd.calls == 1 && wcq.calls == 1 && wl.calls == 1,
	      "each close completed once (PD %d, CQ %d, listener %d)", wpd.calls, wcq.calls,
	      wl.calls);
	/* ndkd let them go: one PD and one CQ per client, and the port is free again */
	pd = NULL;
	CHECK_STATUS(sync_pd(ad, &pd), NDK_STATUS_SUCCESS);
	memset(&w, 0, sizeof(w));
	CHECK_STATUS(w_finish(ad, &w, ndk_cq_create(ad, 64, w_create, &w, &cq)),
		     NDK_STATUS_SUCCESS);
	CHECK_STATUS(ndk_listener_create(ad, on_connect, NULL, &l), NDK_STATUS_SUCCESS);
	memset(&w, 0, sizeof(w));
	CHECK_STATUS(w_finish(ad, &w, ndk_listener_listen(l, &addr, w_req, &w)),
		     NDK_STATUS_SUCCESS);
	ndk_adapter_close(ad);
}

int
main(void)
{
	static const char *const limits[] = { "--max-pds-per-client", "1", "--max-cqs-per-client",
					      "1", NULL };

	if (tdaemon_start(&d, "close", limits) != 0)
		return 1;
	RUN(test_close_on_full_ring);
	CHECK(tdaemon_stop(&d) == 0, "ndkd exits 0 on SIGTERM");
	return t_done();
}
