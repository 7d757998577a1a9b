/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NDK's callback contract at the edges: a close that returned PENDING gets
 * its callback when the adapter closes; after ndkd dies no callback runs
 * inside a call, an app blocked on the event fd wakes, and every
 * outstanding work request completes DEVICE_REMOVED.
 */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "rdma_util.h"

static int in_call; /* set around calls: a callback seeing it ran inside one */
static int inside;  /* callbacks that did */

static void
on_close(void *ctx)
{
	((struct wait *)ctx)->calls++;
	inside += in_call;
}

static void
on_notify(void *ctx, ndk_status st)
{
	struct wait *w = ctx;

	w->calls++;
	w->status = st;
}

/* Drive progress until the adapter has noticed ndkd is gone (its NOP fails). */
static bool
notice_death(struct ndk_adapter *ad)
{
	uint64_t deadline = t_deadline_ms(5000);
	struct wait w = { 0 };

	while (t_now_ns() < deadline) {
		ndk_status st = ndk_adapter_nop(ad, 0, w_req, &w);

		if (st == NDK_STATUS_DEVICE_REMOVED)
			return true;
		while (w.calls == 0 && t_now_ns() < deadline)
			ndk_adapter_progress(ad, 0);
		if (w.calls == 1 && w.status == NDK_STATUS_DEVICE_REMOVED)
			return true;
		w.calls = 0;
	}
	return false;
}

static void
test_pending_closes_complete_at_adapter_close(void)
{
	struct tdaemon d;
	struct side s;
	struct wait wpd = { 0 }, wcq = { 0 };

	if (tdaemon_start(&d, "contract-close", NULL) != 0)
		return;
	CHECK(side_open(&s, d.sock, 4096, NDK_MR_FLAG_ALLOW_LOCAL_WRITE), "side");
	/* the PD still has its MR and QP, the CQ its QP: both closes wait */
	CHECK_STATUS(ndk_pd_close(s.pd, on_close, &wpd), NDK_STATUS_PENDING);
	CHECK_STATUS(ndk_cq_close(s.cq, on_close, &wcq), NDK_STATUS_PENDING);
	ndk_adapter_progress(s.ad, 0);
	CHECK(wpd.calls == 0 && wcq.calls == 0, "still waiting on their successors");
	ndk_adapter_close(s.ad);
	CHECK(wpd.calls == 1 && wcq.calls == 1,
	      "adapter close gave each its one callback (PD %d, CQ %d)", wpd.calls, wcq.calls);
	CHECK(tdaemon_stop(&d) == 0, "ndkd exits 0");
}

static void
test_no_callback_inside_a_call_after_death(void)
{
	struct tdaemon d;
	struct ndk_adapter *ad = NULL;
	struct ndk_pd *pd = NULL, *lone = NULL;
	struct ndk_mr *mr = NULL;
	struct wait wpd = { 0 }, wlone = { 0 };
	ndk_status st;
	int i;

	if (tdaemon_start(&d, "contract-death", NULL) != 0)
		return;
	CHECK_STATUS(ndk_adapter_open(d.sock, NULL, &ad), NDK_STATUS_SUCCESS);
	if (ad == NULL)
		return;
	CHECK_STATUS(sync_pd(ad, &pd), NDK_STATUS_SUCCESS);
	CHECK_STATUS(sync_pd(ad, &lone), NDK_STATUS_SUCCESS);
	CHECK_STATUS(sync_mr(ad, pd, false, &mr), NDK_STATUS_SUCCESS);
	tdaemon_kill(&d);
	CHECK(notice_death(ad), "the adapter noticed");

	in_call = 1;
	st = ndk_pd_close(pd, on_close, &wpd); /* its MR is still open */
	in_call = 0;
	CHECK_STATUS(st, NDK_STATUS_PENDING);
	in_call = 1;
	CHECK_STATUS(ndk_mr_close(mr, NULL, NULL), NDK_STATUS_SUCCESS);
	in_call = 0;
	CHECK(wpd.calls == 0, "the PD's callback did not run inside the MR's close");
	in_call = 1;
	st = ndk_pd_close(lone, on_close, &wlone);
	in_call = 0;
	CHECK(st == NDK_STATUS_SUCCESS || st == NDK_STATUS_PENDING, "lone PD close: %s",
	      ndk_status_str(st));
	for (i = 0; i < 10; i++)
		ndk_adapter_progress(ad, 0);
	CHECK(wpd.calls == 1, "the PD's callback came from progress, once (%d)", wpd.calls);
	CHECK(wlone.calls == (st == NDK_STATUS_PENDING ? 1 : 0),
	      "SUCCESS: no callback; PENDING: one (%d)", wlone.calls);
	CHECK(inside == 0, "%d callbacks ran inside a call", inside);
	ndk_adapter_close(ad);
}

struct killer {
	struct tdaemon *d;
	int delay_ms;
};

static void *
kill_later(void *arg)
{
	struct killer *k = arg;

	usleep((useconds_t)k->delay_ms * 1000);
	tdaemon_kill(k->d);
	return NULL;
}

static void
test_death_wakes_a_blocked_app(void)
{
	struct tdaemon d;
	struct side a, b;
	struct ndk_cq *cq = NULL;
	struct ndk_sge out, in;
	struct ndk_result_ex r[4];
	struct wait w = { 0 }, notified = { 0 };
	struct killer k = { &d, 200 };
	struct ndk_qp_opts qo;
	struct pollfd pfd;
	pthread_t killer;
	uint64_t deadline;
	int n, got_send = 0, got_recv = 0, i;

	if (tdaemon_start(&d, "contract-wake", NULL) != 0)
		return;
	CHECK(side_open(&a, d.sock, 8192, NDK_MR_FLAG_ALLOW_LOCAL_WRITE), "a");
	CHECK(side_open(&b, d.sock, 8192, NDK_MR_FLAG_ALLOW_LOCAL_WRITE), "b");
	/* a's own CQ with a notification of ours, for a QP that sends and receives */
	CHECK_STATUS(w_finish(a.ad, &w,
			      ndk_cq_create_with_notification(a.ad, 64, on_notify, &notified,
							      w_create, &w, &cq)),
		     NDK_STATUS_SUCCESS);
	cq = (struct ndk_cq *)w.obj;
	sync_close_qp(a.ad, a.qp);
	memset(&w, 0, sizeof(w));
	ndk_qp_opts_init(&qo, sizeof(qo));
	CHECK(qo.opts_size == sizeof(qo) && qo.receive_queue_depth == 64 &&
		      qo.max_initiator_sge == 1 && qo.receive_cq == NULL,
	      "QP options' defaults");
	qo.receive_cq = qo.initiator_cq = cq;
	qo.qp_context = &a;
	qo.receive_queue_depth = qo.initiator_queue_depth = 8;
	qo.opts_size = offsetof(struct ndk_qp_opts, inline_data_size);
	CHECK_STATUS(ndk_qp_create_with_opts(a.pd, &qo, w_create, &w, &a.qp),
		     NDK_STATUS_INVALID_PARAMETER);
	qo.opts_size = sizeof(qo);
	CHECK_STATUS(w_finish(a.ad, &w, ndk_qp_create_with_opts(a.pd, &qo, w_create, &w, &a.qp)),
		     NDK_STATUS_SUCCESS);
	a.qp = (struct ndk_qp *)w.obj;
	CHECK_STATUS(side_connect(&a, side_qpn(&b)), NDK_STATUS_SUCCESS);
	CHECK_STATUS(side_connect(&b, side_qpn(&a)), NDK_STATUS_SUCCESS);

	/* a send that waits (b posts no receive), a receive nobody sends to, a deferred write */
	out = (struct ndk_sge){ .virtual_address = a.buf,
				.length = 64,
				.memory_region_token = a.token };
	in = (struct ndk_sge){ .virtual_address = a.buf + 4096,
			       .length = 64,
			       .memory_region_token = a.token };
	CHECK_STATUS(ndk_qp_receive(a.qp, (void *)2, &in, 1), NDK_STATUS_SUCCESS);
	CHECK_STATUS(ndk_qp_send(a.qp, (void *)1, &out, 1, 0), NDK_STATUS_SUCCESS);
	for (i = 0; i < 10000; i++)
		ndk_adapter_progress(a.ad, 0);
	CHECK(ndk_cq_get_results_ex(cq, r, 4) == 0, "nothing completed yet");
	ndk_cq_arm(cq, NDK_CQ_NOTIFY_ANY);
	pfd = (struct pollfd){ .fd = ndk_adapter_event_fd(a.ad), .events = POLLIN };
	CHECK(pfd.fd >= 0, "event fd");

	/* block as an app would; ndkd dies meanwhile */
	pthread_create(&killer, NULL, kill_later, &k);
	n = poll(&pfd, 1, (int)((t_deadline_ms(5000) - t_now_ns()) / 1000000));
	pthread_join(killer, NULL);
	CHECK(n == 1 && (pfd.revents & POLLIN), "poll() on the event fd woke (n=%d)", n);

	deadline = t_deadline_ms(3000);
	while ((got_send == 0 || got_recv == 0 || notified.calls == 0) && t_now_ns() < deadline) {
		ndk_adapter_progress(a.ad, 0);
		n = (int)ndk_cq_get_results_ex(cq, r, 4);
		for (i = 0; i < n; i++) {
			if (r[i].request_context == (void *)1 && r[i].type == NDK_OP_TYPE_SEND &&
			    r[i].status == NDK_STATUS_DEVICE_REMOVED)
				got_send++;
			if (r[i].request_context == (void *)2 && r[i].type == NDK_OP_TYPE_RECEIVE &&
			    r[i].status == NDK_STATUS_DEVICE_REMOVED)
				got_recv++;
		}
	}
	CHECK(notified.calls == 1 && notified.status == NDK_STATUS_DEVICE_REMOVED,
	      "the armed CQ was notified: DEVICE_REMOVED (%d)", notified.calls);
	CHECK(got_send == 1, "the waiting send completed DEVICE_REMOVED, once (%d)", got_send);
	CHECK(got_recv == 1, "the posted receive too (%d)", got_recv);
	for (i = 0; i < 100; i++)
		ndk_adapter_progress(a.ad, 0);
	CHECK(ndk_cq_get_results_ex(cq, r, 4) == 0, "nothing more");
	side_close(&a);
	side_close(&b);
}

/* NDK: InitializeFastRegisterMr "either in parallel or one after another". */
static void
test_parallel_initialize(void)
{
	struct tdaemon d;
	struct side s;
	struct ndk_mr *mr = NULL;
	struct wait w1 = { 0 }, w2 = { 0 };
	uint64_t deadline;

	if (tdaemon_start(&d, "contract-init", NULL) != 0)
		return;
	CHECK(side_open(&s, d.sock, 4096, 0), "side");
	CHECK_STATUS(sync_mr(s.ad, s.pd, true, &mr), NDK_STATUS_SUCCESS);
	CHECK_STATUS(ndk_mr_initialize_fast_register(mr, 4, false, w_req, &w1), NDK_STATUS_PENDING);
	CHECK_STATUS(ndk_mr_initialize_fast_register(mr, 8, true, w_req, &w2), NDK_STATUS_PENDING);
	deadline = t_deadline_ms(3000);
	while ((w1.calls == 0 || w2.calls == 0) && t_now_ns() < deadline)
		ndk_adapter_progress(s.ad, 0);
	CHECK(w1.calls == 1 && w1.status == NDK_STATUS_SUCCESS && w2.calls == 1 &&
		      w2.status == NDK_STATUS_SUCCESS,
	      "both completed, SUCCESS (%s, %s)", ndk_status_str(w1.status),
	      ndk_status_str(w2.status));
	CHECK(ndk_mr_get_remote_token(mr) != 0, "a token");
	CHECK_STATUS(sync_close_mr(s.ad, mr), NDK_STATUS_SUCCESS);
	side_close(&s);
	CHECK(tdaemon_stop(&d) == 0, "ndkd exits 0");
}

/*
 * What the library checks itself, inline: a fast register or invalidate
 * on a QP that is not connected (NDK: CONNECTION_INVALID from the call), a
 * register with 0x4 but not LOCAL_WRITE, a register on a registered MR.
 */
static void
test_inline_refusals(void)
{
	struct tdaemon d;
	struct side s;
	struct ndk_mr *fr = NULL, *mr = NULL;
	struct ndk_result_ex r;
	ndk_logical_address page;
	struct wait w = { 0 };
	int i;

	if (tdaemon_start(&d, "contract-inline", NULL) != 0)
		return;
	CHECK(side_open(&s, d.sock, 8192, NDK_MR_FLAG_ALLOW_LOCAL_WRITE), "side");
	CHECK_STATUS(sync_mr(s.ad, s.pd, true, &fr), NDK_STATUS_SUCCESS);
	CHECK_STATUS(sync_init_fr(s.ad, fr, 1, true), NDK_STATUS_SUCCESS);
	page = (uintptr_t)s.buf;
	CHECK_STATUS(ndk_qp_fast_register(s.qp, NULL, fr, 1, &page, 0, 4096, (void *)0x1000000,
					  NDK_OP_FLAG_ALLOW_REMOTE_WRITE),
		     NDK_STATUS_CONNECTION_INVALID);
	CHECK_STATUS(ndk_qp_invalidate(s.qp, NULL, fr, 0), NDK_STATUS_CONNECTION_INVALID);
	for (i = 0; i < 1000; i++)
		ndk_adapter_progress(s.ad, 0);
	CHECK(ndk_cq_get_results_ex(s.cq, &r, 1) == 0, "no result follows a refused call");

	CHECK_STATUS(sync_mr(s.ad, s.pd, false, &mr), NDK_STATUS_SUCCESS);
	CHECK_STATUS(ndk_mr_register(mr, s.buf, 4096, 0x4, w_req, &w),
		     NDK_STATUS_INVALID_PARAMETER);
	CHECK(w.calls == 0, "no callback");
	CHECK_STATUS(sync_close_mr(s.ad, mr), NDK_STATUS_SUCCESS);
	CHECK_STATUS(sync_register(s.ad, s.mr, s.buf, 4096, NDK_MR_FLAG_ALLOW_LOCAL_WRITE),
		     NDK_STATUS_INVALID_DEVICE_REQUEST);
	CHECK_STATUS(sync_close_mr(s.ad, fr), NDK_STATUS_SUCCESS);
	side_close(&s);
	CHECK(tdaemon_stop(&d) == 0, "ndkd exits 0");
}

/* NDIS_NDK_CAPABILITIES' counts: ndkd's per-client limits, as configured. */
static void
test_capabilities(void)
{
	static const char *const limits[] = { "--max-qps-per-client",
					      "5",
					      "--max-cqs-per-client",
					      "6",
					      "--max-mrs-per-client",
					      "300",
					      "--max-pds-per-client",
					      "7",
					      "--max-srqs-per-client",
					      "9",
					      NULL };
	struct tdaemon d;
	struct ndk_adapter *ad = NULL;
	struct ndk_capabilities c;

	if (tdaemon_start(&d, "contract-caps", limits) != 0)
		return;
	CHECK_STATUS(ndk_adapter_open(d.sock, NULL, &ad), NDK_STATUS_SUCCESS);
	if (ad == NULL)
		return;
	CHECK_STATUS(ndk_adapter_query_capabilities(ad, NULL), NDK_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ndk_adapter_query_capabilities(ad, &c), NDK_STATUS_SUCCESS);
	CHECK(c.max_qp_count == 5 && c.max_cq_count == 6 && c.max_mr_count == 300 &&
		      c.max_pd_count == 7,
	      "counts are the limits (%u QPs, %u CQs, %u MRs, %u PDs)", c.max_qp_count,
	      c.max_cq_count, c.max_mr_count, c.max_pd_count);
	CHECK(c.max_inbound_read_limit > 0 && c.max_outbound_read_limit > 0, "read limits");
	CHECK(c.max_mw_count == 300 && c.max_srq_count == 9,
	      "windows share the MR limit; SRQs have their own (%u)", c.max_srq_count);
	CHECK(c.missing_counter_mask == UINT64_MAX, "no NDK counters kept");
	ndk_adapter_close(ad);
	CHECK(tdaemon_stop(&d) == 0, "ndkd exits 0");
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	RUN(test_capabilities);
	RUN(test_parallel_initialize);
	RUN(test_inline_refusals);
	RUN(test_pending_closes_complete_at_adapter_close);
	RUN(test_no_callback_inside_a_call_after_death);
	RUN(test_death_wakes_a_blocked_app);
	return t_done();
}
