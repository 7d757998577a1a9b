/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A hostile client writes garbage straight into its rings and region: every
 * bad entry gets an error completion, impossible ring indices get it
 * detached, and the daemon keeps serving an honest client throughout.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ndk/ndk.h>

#include "testlib.h"

static struct tdaemon d;

static void
ok_cb(void *ctx, ndk_status st)
{
	uint64_t *n = ctx;

	if (st == NDK_STATUS_SUCCESS)
		(*n)++;
}

/* The honest neighbour: one NOP round trip must still work. */
static bool
neighbour_works(struct ndk_adapter *ad)
{
	uint64_t ok = 0, deadline = t_deadline_ms(2000);

	if (ndk_adapter_nop(ad, 0, ok_cb, &ok) != NDK_STATUS_PENDING)
		return false;
	while (ok == 0 && t_now_ns() < deadline)
		ndk_adapter_progress(ad, 0);
	return ok == 1;
}

static uint32_t
drain_cq(struct raw_client *rc, uint64_t *invalid, uint64_t *other, int timeout_ms, uint32_t want)
{
	uint64_t deadline = t_deadline_ms((uint64_t)timeout_ms);
	uint32_t got = 0;

	while (got < want && t_now_ns() < deadline) {
		bool broken = false;
		uint32_t n = ndk_ring_cons_avail(&rc->cq, &broken), i;

		for (i = 0; i < n; i++) {
			struct ndk_abi_cqe e;

			memcpy(&e, ndk_ring_cons_next(&rc->cq), sizeof(e));
			if (e.status == NDK_STATUS_INVALID_PARAMETER)
				(*invalid)++;
			else
				(*other)++;
		}
		if (n != 0)
			ndk_ring_cons_release(&rc->cq);
		got += n;
	}
	return got;
}

static void
test_garbage_entries(struct ndk_adapter *honest)
{
	struct raw_client rc;
	uint64_t seed = 0xbadc0de, invalid = 0, other = 0, sent = 0;
	uint64_t bad_before = tel_status_u64(&d, "bad_requests");
	int round;

	CHECK(raw_attach(&rc, d.sock) == 0, "raw attach");
	if (rc.region == NULL)
		return;
	for (round = 0; round < 200; round++) {
		bool broken = false;
		uint32_t n = 1 + (uint32_t)(t_rand(&seed) % 32), i;

		if (n > ndk_ring_prod_space(&rc.sq, &broken))
			n = ndk_ring_prod_space(&rc.sq, &broken);
		for (i = 0; i < n; i++) {
			uint64_t *slot = ndk_ring_prod_next(&rc.sq);
			int w;

			for (w = 0; w < 8; w++)
				slot[w] = t_rand(&seed);
			/* Every few entries a known opcode with a hostile argument. */
			if (i % 4 == 0) {
				struct ndk_abi_sqe *e = (struct ndk_abi_sqe *)slot;

				e->opcode = NDK_ABI_OP_NOP;
				e->flags = 0;
				e->handle = 0;
				e->args[i % 6] = UINT64_MAX; /* "huge length" */
			}
		}
		ndk_ring_prod_publish(&rc.sq);
		sent += n;
		drain_cq(&rc, &invalid, &other, 2000, n);
	}
	CHECK(invalid == sent, "every garbage entry answered INVALID_PARAMETER (%llu of %llu)",
	      (unsigned long long)invalid, (unsigned long long)sent);
	CHECK(other == 0, "no garbage entry succeeded (%llu)", (unsigned long long)other);
	CHECK(tel_status_u64(&d, "bad_requests") - bad_before == sent, "daemon counted them");
	CHECK(tdaemon_alive(&d), "daemon alive");
	CHECK(neighbour_works(honest), "honest client unaffected");

	/* A well-formed NOP on the same channel still works: garbage did not break it. */
	{
		struct ndk_abi_sqe *e = ndk_ring_prod_next(&rc.sq);

		memset(e, 0, sizeof(*e));
		e->opcode = NDK_ABI_OP_NOP;
		ndk_ring_prod_publish(&rc.sq);
		invalid = other = 0;
		CHECK(drain_cq(&rc, &invalid, &other, 2000, 1) == 1 && other == 1,
		      "valid request after garbage succeeds");
	}
	raw_close(&rc);
}

/*
 * Well-formed entries (flags and reserved zero) for every opcode there is,
 * and a few there is not, with hostile handles and arguments: small
 * handles that may name something, huge values, addresses of nothing. Each
 * gets an answer (a parked GET_CONNECTION excepted), none breaks ndkd.
 */
static void
test_hostile_requests(struct ndk_adapter *honest)
{
	static const uint64_t vals[] = { 0,
					 1,
					 2,
					 7,
					 4096,
					 65535,
					 65536,
					 0x7fffffffull,
					 UINT32_MAX,
					 1ull << 40,
					 UINT64_MAX - 4095,
					 UINT64_MAX };
	uint64_t seed = 77, invalid = 0, other = 0, sent = 0;
	struct raw_client rc;
	int round;

	CHECK(raw_attach(&rc, d.sock) == 0, "raw attach");
	if (rc.region == NULL)
		return;
	for (round = 0; round < 300; round++) {
		bool broken = false;
		uint32_t n = 1 + (uint32_t)(t_rand(&seed) % 16), i;

		if (n > ndk_ring_prod_space(&rc.sq, &broken))
			n = ndk_ring_prod_space(&rc.sq, &broken);
		for (i = 0; i < n; i++) {
			struct ndk_abi_sqe *e = ndk_ring_prod_next(&rc.sq);
			int k;

			memset(e, 0, sizeof(*e));
			e->opcode = (uint8_t)(1 + t_rand(&seed) % (NDK_ABI_OP_MAX + 3));
			e->handle = (uint32_t)(t_rand(&seed) % 4 == 0 ? t_rand(&seed)
								      : t_rand(&seed) % 8);
			for (k = 0; k < 6; k++)
				e->args[k] = t_rand(&seed) % 3 == 0 ? vals[t_rand(&seed) % 12] : 0;
			e->user_data = sent + i;
		}
		ndk_ring_prod_publish(&rc.sq);
		sent += n;
		drain_cq(&rc, &invalid, &other, 200, n);
	}
	drain_cq(&rc, &invalid, &other, 500, UINT32_MAX);
	printf("  %llu sent: %llu INVALID_PARAMETER, %llu other answers\n",
	       (unsigned long long)sent, (unsigned long long)invalid, (unsigned long long)other);
	CHECK(other > sent / 10, "well-formed requests reached the objects' own checks");
	CHECK(invalid + other >= sent * 9 / 10, "answered %llu of %llu",
	      (unsigned long long)(invalid + other), (unsigned long long)sent);
	CHECK(!raw_wait_hangup(&rc, 0), "a client that keeps the ring protocol stays attached");
	CHECK(tdaemon_alive(&d) && neighbour_works(honest), "daemon and neighbour fine");
	raw_close(&rc);
}

static void
test_scribbled_header(struct ndk_adapter *honest)
{
	struct raw_client rc;
	uint64_t invalid = 0, other = 0;

	CHECK(raw_attach(&rc, d.sock) == 0, "raw attach");
	if (rc.region == NULL)
		return;
	/*
	 * The daemon computed its ring view at attach and never re-reads the
	 * header: rewriting every offset must change nothing for it.
	 */
	memset(&rc.hdr->ctrl_sq, 0xff, sizeof(rc.hdr->ctrl_sq));
	memset(&rc.hdr->ctrl_cq, 0xee, sizeof(rc.hdr->ctrl_cq));
	rc.hdr->region_size = 1ull << 60;
	{
		struct ndk_abi_sqe *e = ndk_ring_prod_next(&rc.sq);

		memset(e, 0, sizeof(*e));
		e->opcode = NDK_ABI_OP_NOP;
		ndk_ring_prod_publish(&rc.sq);
	}
	CHECK(drain_cq(&rc, &invalid, &other, 2000, 1) == 1 && other == 1,
	      "served as before despite a scribbled header");
	CHECK(tdaemon_alive(&d) && neighbour_works(honest), "daemon and neighbour fine");
	raw_close(&rc);
}

/*
 * Wait until every client of the earlier cases is cleaned up (all but the
 * honest neighbour), so the counters read next move for this case alone.
 */
static void
settle(void)
{
	CHECK(tel_settle(&d, 1, 3000), "earlier clients cleaned up");
}

static void
test_bogus_producer_index(struct ndk_adapter *honest)
{
	uint64_t broken_before;
	struct raw_client rc;
	uint32_t st;

	settle();
	broken_before = tel_status_u64(&d, "clients_broken");
	CHECK(raw_attach(&rc, d.sock) == 0, "raw attach");
	if (rc.region == NULL)
		return;
	/*
	 * Claim 2^31 requests are ready: the control ring is stamped, the engine
	 * goes by the entries' stamps and never reads this index.
	 */
	*rc.sq.kprod = 0x80000000u;
	st = raw_call(&rc, NDK_ABI_OP_NOP, 0, 0, 0, 0);
	CHECK(st == NDK_STATUS_SUCCESS, "a NOP after it is served (status %#x)", st);
	CHECK(!raw_wait_hangup(&rc, 0), "the client is still attached");
	CHECK(tel_status_u64(&d, "clients_broken") == broken_before, "nothing counted broken");
	CHECK(tdaemon_alive(&d) && neighbour_works(honest), "daemon and neighbour fine");
	raw_close(&rc);
}

static void
test_bogus_cq_consumer(struct ndk_adapter *honest)
{
	uint64_t broken_before = tel_status_u64(&d, "clients_broken");
	struct raw_client rc;
	uint64_t deadline;

	CHECK(raw_attach(&rc, d.sock) == 0, "raw attach");
	if (rc.region == NULL)
		return;
	/*
	 * Pretend to have consumed completions that were never produced, then
	 * keep posting: once the engine needs completion space beyond its cached
	 * view it reloads the index, finds it impossible, and lets the client go.
	 */
	*rc.cq.kcons = 12345;
	deadline = t_deadline_ms(3000);
	while (t_now_ns() < deadline && !raw_wait_hangup(&rc, 0)) {
		bool broken = false;
		struct ndk_abi_sqe *e;

		if (ndk_ring_prod_space(&rc.sq, &broken) == 0)
			continue;
		e = ndk_ring_prod_next(&rc.sq);
		memset(e, 0, sizeof(*e));
		e->opcode = NDK_ABI_OP_NOP;
		ndk_ring_prod_publish(&rc.sq);
	}
	CHECK(raw_wait_hangup(&rc, 3000), "daemon detached the client");
	CHECK(tel_wait_u64(&d, "clients_broken", broken_before + 1, 2000) == broken_before + 1,
	      "counted as broken");
	CHECK(tdaemon_alive(&d) && neighbour_works(honest), "daemon and neighbour fine");
	raw_close(&rc);
}

static uint32_t
sock_reply_status(struct raw_client *rc)
{
	struct ndk_abi_sock_reply r;
	struct pollfd pfd = { .fd = rc->sock, .events = POLLIN };

	if (poll(&pfd, 1, 2000) != 1 || recv(rc->sock, &r, sizeof(r), 0) != (ssize_t)sizeof(r))
		return UINT32_MAX;
	return r.magic == NDK_ABI_MAGIC ? r.status : UINT32_MAX;
}

static void
test_socket_junk_after_attach(struct ndk_adapter *honest)
{
	struct ndk_abi_sock_req q = { .magic = NDK_ABI_MAGIC, .op = 77 };
	uint64_t invalid = 0, other = 0;
	struct raw_client rc;

	CHECK(raw_attach(&rc, d.sock) == 0, "raw attach");
	if (rc.region == NULL)
		return;
	/* After attach the socket only takes region requests: junk gets an error reply. */
	CHECK(send(rc.sock, "junk", 4, MSG_NOSIGNAL) == 4, "send junk");
	CHECK_STATUS(sock_reply_status(&rc), NDK_STATUS_INVALID_PARAMETER);
	CHECK(send(rc.sock, &q, sizeof(q), MSG_NOSIGNAL) == (ssize_t)sizeof(q), "unknown op");
	CHECK_STATUS(sock_reply_status(&rc), NDK_STATUS_INVALID_PARAMETER);
	q.op = NDK_ABI_SOCK_ADD_REGION;
	q.size = 1 << 20;
	q.client_addr = 1 << 30;
	CHECK(send(rc.sock, &q, sizeof(q), MSG_NOSIGNAL) == (ssize_t)sizeof(q), "no fd");
	CHECK_STATUS(sock_reply_status(&rc), NDK_STATUS_INVALID_PARAMETER);
	/* ...and the channel still works. */
	{
		struct ndk_abi_sqe *e = ndk_ring_prod_next(&rc.sq);

		memset(e, 0, sizeof(*e));
		e->opcode = NDK_ABI_OP_NOP;
		ndk_ring_prod_publish(&rc.sq);
	}
	CHECK(drain_cq(&rc, &invalid, &other, 2000, 1) == 1 && other == 1, "still served");
	CHECK(tdaemon_alive(&d) && neighbour_works(honest), "daemon and neighbour fine");
	raw_close(&rc);
}

static void
test_region_is_sealed(void)
{
	struct raw_client rc;

	CHECK(raw_attach(&rc, d.sock) == 0, "raw attach");
	if (rc.region == NULL)
		return;
	/* Shrinking the region would turn the engine's next access into SIGBUS. */
	CHECK(ftruncate(rc.memfd, 0) != 0 && errno == EPERM, "cannot shrink the channel");
	CHECK(ftruncate(rc.memfd, (off_t)rc.region_size * 2) != 0 && errno == EPERM,
	      "cannot grow it either");
	CHECK((fcntl(rc.memfd, F_GET_SEALS) & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)) ==
		      (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL),
	      "sealed");
	raw_close(&rc);
}

static struct ndk_adapter *honest;

#define WITH_HONEST(fn)                                                                            \
	static void fn##_run(void)                                                                 \
	{                                                                                          \
		fn(honest);                                                                        \
	}
WITH_HONEST(test_garbage_entries)
WITH_HONEST(test_scribbled_header)
WITH_HONEST(test_hostile_requests)
WITH_HONEST(test_bogus_producer_index)
WITH_HONEST(test_bogus_cq_consumer)
WITH_HONEST(test_socket_junk_after_attach)

int
main(void)
{
	if (tdaemon_start(&d, "garbage", NULL) != 0)
		return 1;
	if (ndk_adapter_open(d.sock, NULL, &honest) != NDK_STATUS_SUCCESS) {
		tdaemon_kill(&d);
		return 1;
	}
	RUN(test_garbage_entries_run);
	RUN(test_scribbled_header_run);
	RUN(test_hostile_requests_run);
	RUN(test_bogus_producer_index_run);
	RUN(test_bogus_cq_consumer_run);
	RUN(test_socket_junk_after_attach_run);
	RUN(test_region_is_sealed);
	CHECK(neighbour_works(honest), "honest client worked to the end");
	CHECK_STATUS(ndk_adapter_close(honest), NDK_STATUS_SUCCESS);
	CHECK(tdaemon_stop(&d) == 0, "ndkd exits 0 on SIGTERM");
	return t_done();
}
