/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The passive side of a connection from another node, for the interop
 * tests: listen on PORT of the ndkd at NDK_SOCKET, accept the first
 * connection on a QP with a receive posted, and print the first message
 * that arrives (rping's: its buffer's address, rkey and size, big-endian).
 * Exit 0 once that message came, 1 otherwise.
 *   cm_accept PORT [SECONDS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rdma_util.h"

struct events {
	struct ndk_connector *incoming;
};

static void
on_connect(void *ctx, struct ndk_connector *c)
{
	struct events *e = ctx;

	if (e->incoming == NULL)
		e->incoming = c;
	else
		ndk_connector_reject(c, NULL, 0);
}

/* Everything closed (LeakSanitizer looks), exit status st. */
static int
done(struct side *s, struct ndk_listener *l, struct ndk_connector *c, int st)
{
	struct wait w = { 0 };

	if (c != NULL)
		ndk_connector_close(c, NULL, NULL);
	if (l != NULL && ndk_listener_close(l, w_close, &w) == NDK_STATUS_PENDING)
		w_wait(s->ad, &w);
	side_close(s);
	return st;
}

static uint64_t
be(const uint8_t *p, int n)
{
	uint64_t v = 0;

	while (n-- > 0)
		v = v << 8 | *p++;
	return v;
}

int
main(int argc, char **argv)
{
	const char *sock = getenv("NDK_SOCKET");
	struct ndk_qp_address addr = { .family = NDK_ADDRESS_LOCAL };
	struct events ev = { 0 };
	struct ndk_listener *l = NULL;
	struct wait w = { 0 };
	struct ndk_sge rs;
	struct ndk_result_ex r;
	struct side s;
	uint64_t deadline;
	ndk_status st;

	if (argc < 2 || sock == NULL) {
		fprintf(stderr, "usage: NDK_SOCKET=... cm_accept PORT [SECONDS]\n");
		return 2;
	}
	addr.port = (uint16_t)atoi(argv[1]);
	deadline = t_deadline_ms(1000 * (argc > 2 ? atoi(argv[2]) : 30));
	if (!side_open(&s, sock, 4096,
		       NDK_MR_FLAG_ALLOW_LOCAL_WRITE | NDK_MR_FLAG_ALLOW_REMOTE_READ |
			       NDK_MR_FLAG_ALLOW_REMOTE_WRITE)) {
		fprintf(stderr, "cm_accept: cannot open ndkd at %s\n", sock);
		return 1;
	}
	if (ndk_listener_create(s.ad, on_connect, &ev, &l) != NDK_STATUS_SUCCESS ||
	    w_finish(s.ad, &w, ndk_listener_listen(l, &addr, w_req, &w)) != NDK_STATUS_SUCCESS) {
		fprintf(stderr, "cm_accept: cannot listen on port %u\n", addr.port);
		return done(&s, l, NULL, 1);
	}
	printf("listening on port %u\n", addr.port);
	fflush(stdout);
	while (ev.incoming == NULL && t_now_ns() < deadline)
		ndk_adapter_progress(s.ad, 0);
	if (ev.incoming == NULL) {
		fprintf(stderr, "cm_accept: no connection came\n");
		return done(&s, l, NULL, 1);
	}
	rs = (struct ndk_sge){ .virtual_address = s.buf,
			       .length = 64,
			       .memory_region_token = s.token };
	memset(&w, 0, sizeof(w));
	st = ndk_qp_receive(s.qp, NULL, &rs, 1);
	if (st == NDK_STATUS_SUCCESS)
		st = w_finish(s.ad, &w,
			      ndk_connector_accept(ev.incoming, s.qp, 1, 1, NULL, 0, w_req, &w));
	if (st != NDK_STATUS_SUCCESS) {
		fprintf(stderr, "cm_accept: accept failed: %s\n", ndk_status_str(st));
		return done(&s, l, ev.incoming, 1);
	}
	printf("accepted\n");
	fflush(stdout);
	r = side_result(&s);
	if (r.status != NDK_STATUS_SUCCESS || r.type != NDK_OP_TYPE_RECEIVE) {
		fprintf(stderr, "cm_accept: no message: %s\n", ndk_status_str(r.status));
		return done(&s, l, ev.incoming, 1);
	}
	printf("received %u bytes: addr 0x%llx rkey 0x%x size %u\n", r.bytes_transferred,
	       (unsigned long long)be(s.buf, 8), (unsigned)be(s.buf + 8, 4),
	       (unsigned)be(s.buf + 12, 4));
	return done(&s, l, ev.incoming, 0);
}
