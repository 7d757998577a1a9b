/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Listener and connector by port: accept connects the two QPs (data then
 * flows), reject and an empty port refuse, a port has one listener, a forged
 * connection id is refused, and a listener closing refuses what waits.
 */
#include <stdlib.h>
#include <string.h>

#include "rdma_util.h"

static struct tdaemon d;

struct events {
	struct ndk_connector *incoming[8];
	int n;
};

static void
on_connect(void *ctx, struct ndk_connector *c)
{
	struct events *e = ctx;

	if (e->n < 8)
		e->incoming[e->n++] = c;
}

static void
wait_incoming(struct side *s, struct events *e, int n)
{
	uint64_t deadline = t_deadline_ms(3000);

	while (e->n < n && t_now_ns() < deadline)
		ndk_adapter_progress(s->ad, 0);
}

static void
drive_both(struct side *a, struct side *b, struct wait *w)
{
	uint64_t deadline = t_deadline_ms(3000);

	while (w->calls == 0 && t_now_ns() < deadline) {
		ndk_adapter_progress(a->ad, 0);
		ndk_adapter_progress(b->ad, 0);
	}
}

static void
test_accept_then_data(void)
{
	struct side a, b;
	struct events ev = { 0 };
	struct ndk_listener *l = NULL;
	struct ndk_connector *c = NULL;
	struct ndk_qp_address addr = { .family = NDK_ADDRESS_LOCAL, .port = 4791 }, peer;
	struct wait wl = { 0 }, wc = { 0 }, wa = { 0 }, wclose = { 0 };

	CHECK(side_open(&a, d.sock, 65536, NDK_MR_FLAG_ALLOW_LOCAL_WRITE), "a");
	CHECK(side_open(&b, d.sock, 65536, NDK_MR_FLAG_ALLOW_REMOTE_WRITE), "b");
	CHECK_STATUS(ndk_listener_create(b.ad, on_connect, &ev, &l), NDK_STATUS_SUCCESS);
	CHECK_STATUS(w_finish(b.ad, &wl, ndk_listener_listen(l, &addr, w_req, &wl)),
		     NDK_STATUS_SUCCESS);
	CHECK_STATUS(ndk_connector_create(a.ad, &c), NDK_STATUS_SUCCESS);
	static const char hello[] = "hello from a", welcome[] = "welcome, says b";
	char pd[NDK_ACCEPT_PRIVATE_MAX];
	uint32_t ird = 0, ord = 0, len;

	CHECK_STATUS(ndk_connector_get_connection_data(c, &ird, &ord, pd, &len),
		     NDK_STATUS_INVALID_DEVICE_STATE);
	CHECK_STATUS(ndk_connector_connect(c, a.qp, &addr, 3, 5, hello, NDK_CONNECT_PRIVATE_MAX + 1,
					   w_req, &wc),
		     NDK_STATUS_INVALID_PARAMETER);
	CHECK_STATUS(ndk_connector_connect(c, a.qp, &addr, 3, 5, hello, sizeof(hello), w_req, &wc),
		     NDK_STATUS_PENDING);
	wait_incoming(&b, &ev, 1);
	CHECK(ev.n == 1, "the listener saw the connection");
	if (ev.n == 1) {
		CHECK_STATUS(ndk_connector_get_peer_address(ev.incoming[0], &peer),
			     NDK_STATUS_SUCCESS);
		CHECK(peer.qpn == side_qpn(&a), "and who is calling");
		CHECK(peer.family == NDK_ADDRESS_LOCAL && peer.port == addr.port, "from here");
		/* what the caller sent, with a buffer too small first */
		len = 4;
		CHECK_STATUS(
			ndk_connector_get_connection_data(ev.incoming[0], &ird, &ord, pd, &len),
			NDK_STATUS_BUFFER_TOO_SMALL);
		CHECK(len == sizeof(hello), "the length it needs: %u", len);
		len = sizeof(pd);
		CHECK_STATUS(
			ndk_connector_get_connection_data(ev.incoming[0], &ird, &ord, pd, &len),
			NDK_STATUS_SUCCESS);
		CHECK(ird == 3 && ord == 5 && len == sizeof(hello) && memcmp(pd, hello, len) == 0,
		      "the caller's IRD, ORD and private data: %u %u %u", ird, ord, len);
		CHECK_STATUS(w_finish(b.ad, &wa,
				      ndk_connector_accept(ev.incoming[0], b.qp, 7, 2, welcome,
							   sizeof(welcome), w_req, &wa)),
			     NDK_STATUS_SUCCESS);
		drive_both(&a, &b, &wc);
		CHECK(wc.calls == 1 && wc.status == NDK_STATUS_SUCCESS, "connect completed: %s",
		      ndk_status_str(wc.status));
		CHECK_STATUS(ndk_connector_get_peer_address(c, &peer), NDK_STATUS_SUCCESS);
		CHECK(peer.qpn == side_qpn(&b), "connected to the accepting QP");
		len = sizeof(pd);
		CHECK_STATUS(ndk_connector_get_connection_data(c, &ird, &ord, pd, &len),
			     NDK_STATUS_SUCCESS);
		CHECK(ird == 7 && ord == 2 && len == sizeof(welcome) &&
			      memcmp(pd, welcome, len) == 0,
		      "the acceptor's IRD, ORD and private data: %u %u %u", ird, ord, len);
		/* one connection per connector */
		CHECK_STATUS(ndk_connector_connect(c, a.qp, &addr, 0, 0, NULL, 0, w_req, &wc),
			     NDK_STATUS_INVALID_DEVICE_STATE);
		/* the QPs are connected: a write goes through */
		memset(a.buf, 0x33, 64);
		CHECK_STATUS(side_rdma(&a, true, 0, 64, a.token, (uintptr_t)b.buf, b.rtoken).status,
			     NDK_STATUS_SUCCESS);
		CHECK(b.buf[63] == 0x33, "data arrived");
		/* b ends it, with a receive of a's waiting: a hears, the receive completes */
		{
			struct wait wn = { 0 }, wn2 = { 0 }, wd = { 0 };
			struct ndk_sge rs = { .virtual_address = a.buf,
					      .length = 64,
					      .memory_region_token = a.token };
			struct ndk_result_ex rr, rw;

			CHECK_STATUS(ndk_connector_notify_disconnect(c, w_req, &wn),
				     NDK_STATUS_PENDING);
			CHECK_STATUS(w_finish(a.ad, &wn2,
					      ndk_connector_notify_disconnect(c, w_req, &wn2)),
				     NDK_STATUS_INVALID_DEVICE_STATE);
			CHECK_STATUS(ndk_qp_receive(a.qp, &rr, &rs, 1), NDK_STATUS_SUCCESS);
			CHECK_STATUS(ndk_connector_disconnect(ev.incoming[0], w_req, &wd),
				     NDK_STATUS_PENDING);
			drive_both(&a, &b, &wd);
			CHECK(wd.calls == 1 && wd.status == NDK_STATUS_SUCCESS, "disconnected: %s",
			      ndk_status_str(wd.status));
			drive_both(&a, &b, &wn);
			CHECK(wn.calls == 1 && wn.status == NDK_STATUS_SUCCESS, "a heard it: %s",
			      ndk_status_str(wn.status));
			/* as before notify: a's next request fails, then its QP flushes */
			rw = side_rdma(&a, true, 0, 64, a.token, (uintptr_t)b.buf, b.rtoken);
			rr = side_result(&a);
			CHECK(rw.status == NDK_STATUS_CONNECTION_DISCONNECTED &&
				      rr.status == NDK_STATUS_CANCELLED,
			      "a's write %s, its receive %s", ndk_status_str(rw.status),
			      ndk_status_str(rr.status));
			/* heard already: a notify now completes at once */
			memset(&wn, 0, sizeof(wn));
			CHECK_STATUS(
				w_finish(a.ad, &wn, ndk_connector_notify_disconnect(c, w_req, &wn)),
				NDK_STATUS_SUCCESS);
		}
		ndk_connector_close(ev.incoming[0], NULL, NULL);
	}
	ndk_connector_close(c, NULL, NULL);
	CHECK_STATUS(ndk_listener_close(l, w_close, &wclose), NDK_STATUS_PENDING);
	CHECK(w_wait(b.ad, &wclose), "listener closed");
	side_close(&a);
	side_close(&b);
}

static void
test_refusals(void)
{
	struct side a, b;
	struct events ev = { 0 };
	struct ndk_listener *l = NULL, *l2 = NULL;
	struct ndk_connector *c = NULL, *forged;
	struct ndk_qp_address addr = { .family = NDK_ADDRESS_LOCAL, .port = 5000 };
	struct ndk_qp_address empty = { .family = NDK_ADDRESS_LOCAL, .port = 5001 };
	struct wait w = { 0 }, wclose = { 0 };

	CHECK(side_open(&a, d.sock, 4096, 0), "a");
	CHECK(side_open(&b, d.sock, 4096, 0), "b");
	CHECK_STATUS(ndk_listener_create(b.ad, on_connect, &ev, &l), NDK_STATUS_SUCCESS);
	CHECK_STATUS(w_finish(b.ad, &w, ndk_listener_listen(l, &addr, w_req, &w)),
		     NDK_STATUS_SUCCESS);

	/* one listener per port, node-wide (here from the other client) */
	CHECK_STATUS(ndk_listener_create(a.ad, on_connect, &ev, &l2), NDK_STATUS_SUCCESS);
	memset(&w, 0, sizeof(w));
	CHECK_STATUS(w_finish(a.ad, &w, ndk_listener_listen(l2, &addr, w_req, &w)),
		     NDK_STATUS_ADDRESS_ALREADY_EXISTS);
	ndk_listener_close(l2, NULL, NULL);

	/* nobody listens */
	CHECK_STATUS(ndk_connector_create(a.ad, &c), NDK_STATUS_SUCCESS);
	memset(&w, 0, sizeof(w));
	CHECK_STATUS(w_finish(a.ad, &w,
			      ndk_connector_connect(c, a.qp, &empty, 0, 0, NULL, 0, w_req, &w)),
		     NDK_STATUS_CONNECTION_REFUSED);

	/* rejected */
	memset(&w, 0, sizeof(w));
	CHECK_STATUS(ndk_connector_connect(c, a.qp, &addr, 0, 0, NULL, 0, w_req, &w),
		     NDK_STATUS_PENDING);
	wait_incoming(&b, &ev, 1);
	CHECK(ev.n == 1, "offered");
	if (ev.n == 1) {
		/* refused, with private data, once only */
		static const char no[] = "not today";
		char pd[NDK_REJECT_PRIVATE_MAX];
		uint32_t len = sizeof(pd);

		forged = ev.incoming[0];
		CHECK_STATUS(ndk_connector_reject(forged, no, NDK_REJECT_PRIVATE_MAX + 1),
			     NDK_STATUS_INVALID_PARAMETER);
		CHECK_STATUS(ndk_connector_reject(forged, no, sizeof(no)), NDK_STATUS_SUCCESS);
		CHECK_STATUS(ndk_connector_reject(forged, NULL, 0),
			     NDK_STATUS_INVALID_DEVICE_STATE);
		drive_both(&a, &b, &w);
		CHECK(w.calls == 1 && w.status == NDK_STATUS_CONNECTION_REFUSED, "refused: %s",
		      ndk_status_str(w.status));
		CHECK_STATUS(ndk_connector_get_connection_data(c, NULL, NULL, pd, &len),
			     NDK_STATUS_SUCCESS);
		CHECK(len == sizeof(no) && memcmp(pd, no, len) == 0, "the reject's private data");
		/* answered: no second answer */
		memset(&w, 0, sizeof(w));
		CHECK_STATUS(ndk_connector_accept(forged, b.qp, 0, 0, NULL, 0, w_req, &w),
			     NDK_STATUS_INVALID_DEVICE_STATE);
		ndk_connector_close(forged, NULL, NULL);
	}

	/* an incoming connection closed unanswered is refused */
	ev.n = 0;
	memset(&w, 0, sizeof(w));
	CHECK_STATUS(ndk_connector_connect(c, a.qp, &addr, 0, 0, NULL, 0, w_req, &w),
		     NDK_STATUS_PENDING);
	wait_incoming(&b, &ev, 1);
	CHECK(ev.n == 1, "offered again");
	if (ev.n == 1)
		ndk_connector_close(ev.incoming[0], NULL, NULL);
	drive_both(&a, &b, &w);
	CHECK(w.calls == 1 && w.status == NDK_STATUS_CONNECTION_REFUSED,
	      "the caller was refused: %s", ndk_status_str(w.status));

	/* a closed listener's port has nobody behind it */
	CHECK_STATUS(ndk_listener_close(l, w_close, &wclose), NDK_STATUS_PENDING);
	CHECK(w_wait(b.ad, &wclose), "listener closed");
	memset(&w, 0, sizeof(w));
	CHECK_STATUS(
		w_finish(a.ad, &w, ndk_connector_connect(c, a.qp, &addr, 0, 0, NULL, 0, w_req, &w)),
		NDK_STATUS_CONNECTION_REFUSED);
	ndk_connector_close(c, NULL, NULL);
	side_close(&a);
	side_close(&b);
}

static void
test_close_with_parked_requests(void)
{
	struct side a;
	struct events ev = { 0 };
	struct ndk_listener *l = NULL;
	struct ndk_qp_address addr = { .family = NDK_ADDRESS_LOCAL, .port = 6000 };
	struct wait w = { 0 };
	uint64_t t0;

	CHECK(side_open(&a, d.sock, 4096, 0), "a");
	CHECK_STATUS(ndk_listener_create(a.ad, on_connect, &ev, &l), NDK_STATUS_SUCCESS);
	CHECK_STATUS(w_finish(a.ad, &w, ndk_listener_listen(l, &addr, w_req, &w)),
		     NDK_STATUS_SUCCESS);
	/* the parked GET_CONNECTION must not hold adapter close up */
	t0 = t_now_ns();
	CHECK_STATUS(ndk_listener_close(l, NULL, NULL), NDK_STATUS_PENDING);
	side_close(&a);
	CHECK(t_now_ns() - t0 < 2000000000ull, "adapter close did not wait on parked requests");
	CHECK(tel_wait_u64(&d, "clients_attached", 0, 3000) == 0, "detached");
}

/*
 * Ports below --privileged-ports (1024) are listened on only by the
 * --privileged-port-uid users: here another uid, so not this test's.
 */
static void
test_privileged_ports(void)
{
	static const char *const args[] = { "--privileged-port-uid", "12345", NULL };
	struct ndk_qp_address low = { .family = NDK_ADDRESS_LOCAL, .port = 1023 };
	struct ndk_qp_address high = { .family = NDK_ADDRESS_LOCAL, .port = 1024 };
	struct ndk_listener *l = NULL, *l2 = NULL;
	struct events ev = { 0 };
	struct tdaemon d2;
	struct side a;
	struct wait w = { 0 };

	if (tdaemon_start(&d2, "ports", args) != 0) {
		CHECK(0, "start");
		return;
	}
	CHECK(side_open(&a, d2.sock, 4096, 0), "a");
	CHECK_STATUS(ndk_listener_create(a.ad, on_connect, &ev, &l), NDK_STATUS_SUCCESS);
	CHECK_STATUS(w_finish(a.ad, &w, ndk_listener_listen(l, &low, w_req, &w)),
		     NDK_STATUS_ACCESS_DENIED);
	CHECK_STATUS(ndk_listener_create(a.ad, on_connect, &ev, &l2), NDK_STATUS_SUCCESS);
	memset(&w, 0, sizeof(w));
	CHECK_STATUS(w_finish(a.ad, &w, ndk_listener_listen(l2, &high, w_req, &w)),
		     NDK_STATUS_SUCCESS);
	side_close(&a);
	CHECK(tdaemon_stop(&d2) == 0, "ndkd exits 0 on SIGTERM");
}

int
main(void)
{
	if (tdaemon_start(&d, "connector", NULL) != 0)
		return 1;
	RUN(test_accept_then_data);
	RUN(test_refusals);
	RUN(test_close_with_parked_requests);
	RUN(test_privileged_ports);
	CHECK(tdaemon_stop(&d) == 0, "ndkd exits 0 on SIGTERM");
	return t_done();
}
