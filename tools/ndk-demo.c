/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ndk-demo: attach to ndkd, prove the shared-memory path with NOP requests,
 * detach. What a first app against libndk looks like.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ndk/ndk.h>

#include "done.h"

struct nop_state {
	unsigned long done;
	unsigned long failed;
	ndk_status last_error;
};

static void
nop_done(void *ctx, ndk_status status)
{
	struct nop_state *st = ctx;

	st->done++;
	if (status != NDK_STATUS_SUCCESS) {
		st->failed++;
		st->last_error = status;
	}
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int
fail(const char *what, ndk_status st)
{
	fprintf(stderr, "ndk-demo: %s: %s\n", what, ndk_status_str(st));
	return 1;
}

/*
 * A PD, an arena buffer, a registered MR with its tokens, a fast-register MR
 * initialised, then everything closed again.
 */
static int
memory_demo(struct ndk_adapter *ad, unsigned long count)
{
	struct done d = { 0 };
	struct ndk_pd *pd;
	struct ndk_mr *mr, *frmr;
	uint64_t *lat, t0;
	ndk_status st;
	unsigned long i;
	char *buf;

	st = finish(ad, &d, ndk_pd_create(ad, create_done, &d, &pd));
	if (st != NDK_STATUS_SUCCESS)
		return fail("create PD", st);
	pd = (struct ndk_pd *)d.obj;
	printf("ndk-demo: PD created, privileged token %#x (local access only)\n",
	       ndk_pd_get_privileged_token(pd));

	buf = ndk_mem_alloc(ad, 64 * 1024, 4096);
	if (buf == NULL)
		return fail("arena allocation", NDK_STATUS_NO_MEMORY);
	memset(buf, 0xab, 64 * 1024);
	printf("ndk-demo: 64 KiB from the shared arena at %p\n", (void *)buf);

	d = (struct done){ 0 };
	st = ndk_mr_create(pd, false, create_done, &d, &mr);
	if (st == NDK_STATUS_PENDING) {
		st = finish(ad, &d, st);
		mr = (struct ndk_mr *)d.obj;
	}
	if (st != NDK_STATUS_SUCCESS)
		return fail("create MR", st);
	d = (struct done){ 0 };
	st = finish(
		ad, &d,
		ndk_mr_register(mr, buf, 64 * 1024, NDK_MR_FLAG_ALLOW_REMOTE_WRITE, req_done, &d));
	if (st != NDK_STATUS_SUCCESS)
		return fail("register MR", st);
	printf("ndk-demo: MR registered: local token %#x, remote token %#x\n",
	       ndk_mr_get_local_token(mr), ndk_mr_get_remote_token(mr));

	d = (struct done){ 0 };
	st = ndk_mr_create(pd, true, create_done, &d, &frmr);
	if (st == NDK_STATUS_PENDING) {
		st = finish(ad, &d, st);
		frmr = (struct ndk_mr *)d.obj;
	}
	if (st != NDK_STATUS_SUCCESS)
		return fail("create fast-register MR", st);
	d = (struct done){ 0 };
	st = finish(ad, &d, ndk_mr_initialize_fast_register(frmr, 16, true, req_done, &d));
	if (st != NDK_STATUS_SUCCESS)
		return fail("initialize fast-register MR", st);
	printf("ndk-demo: fast-register MR initialised for 16 pages, token %#x\n",
	       ndk_mr_get_remote_token(frmr));

	/* The control path's cost: create + register + deregister + close, one after another. */
	lat = calloc(count, sizeof(*lat));
	for (i = 0; lat != NULL && i < count; i++) {
		struct ndk_mr *m;

		t0 = now_ns();
		d = (struct done){ 0 };
		st = ndk_mr_create(pd, false, create_done, &d, &m);
		if (st == NDK_STATUS_PENDING) {
			st = finish(ad, &d, st);
			m = (struct ndk_mr *)d.obj;
		}
		d = (struct done){ 0 };
		if (st == NDK_STATUS_SUCCESS)
			st = finish(ad, &d, ndk_mr_register(m, buf, 64 * 1024, 0, req_done, &d));
		d = (struct done){ 0 };
		if (st == NDK_STATUS_SUCCESS)
			st = finish(ad, &d, ndk_mr_deregister(m, req_done, &d));
		d = (struct done){ 0 };
		if (st == NDK_STATUS_SUCCESS)
			st = ndk_mr_close(m, close_done, &d);
		if (st == NDK_STATUS_PENDING)
			st = finish(ad, &d, st);
		if (st != NDK_STATUS_SUCCESS) {
			free(lat);
			return fail("MR cycle", st);
		}
		lat[i] = now_ns() - t0;
	}
	if (lat != NULL) {
		uint64_t sum = 0;

		for (i = 0; i < count; i++)
			sum += lat[i];
		qsort(lat, count, sizeof(*lat), cmp_u64);
		printf("ndk-demo: %lu create+register(64 KiB)+deregister+close cycles: median %llu "
		       "ns, p99 %llu ns, mean %llu ns\n",
		       count, (unsigned long long)lat[count / 2],
		       (unsigned long long)lat[count * 99 / 100],
		       (unsigned long long)(sum / count));
		free(lat);
	}

	d = (struct done){ 0 };
	st = finish(ad, &d, ndk_mr_close(frmr, close_done, &d));
	d = (struct done){ 0 };
	if (st == NDK_STATUS_SUCCESS || st == NDK_STATUS_PENDING)
		st = finish(ad, &d, ndk_mr_close(mr, close_done, &d));
	if (st != NDK_STATUS_SUCCESS && st != NDK_STATUS_PENDING)
		return fail("close MR", st);
	ndk_mem_free(ad, buf);
	d = (struct done){ 0 };
	st = ndk_pd_close(pd, close_done, &d);
	if (st == NDK_STATUS_PENDING)
		while (d.calls == 0)
			ndk_adapter_progress(ad, 0);
	else if (st != NDK_STATUS_SUCCESS)
		return fail("close PD", st);
	printf("ndk-demo: MRs and PD closed\n");
	return 0;
}

/* ------------------------------------------------------------------------
 * RDMA between two processes: a target that fast-registers its buffer and
 * invalidates it, an initiator that writes into it.
 * --------------------------------------------------------------------- */

struct endpoint {
	struct ndk_adapter *ad;
	struct ndk_pd *pd;
	struct ndk_cq *cq;
	struct ndk_qp *qp;
	char *buf;
};

struct rdma_msg {
	uint32_t qpn;
	uint32_t token;
	uint64_t va;
	uint32_t len;
	int32_t step;
};

static ndk_status
endpoint_open(struct endpoint *e, const char *sock, const char *name)
{
	struct ndk_adapter_opts ao;
	struct done d = { 0 };
	ndk_status st;

	ndk_adapter_opts_init(&ao, sizeof(ao));
	ao.name = name;
	st = ndk_adapter_open(sock, &ao, &e->ad);
	if (st != NDK_STATUS_SUCCESS)
		return st;
	st = finish(e->ad, &d, ndk_pd_create(e->ad, create_done, &d, &e->pd));
	if (st != NDK_STATUS_SUCCESS)
		return st;
	e->pd = (struct ndk_pd *)d.obj;
	d = (struct done){ 0 };
	st = finish(e->ad, &d, ndk_cq_create(e->ad, 256, create_done, &d, &e->cq));
	if (st != NDK_STATUS_SUCCESS)
		return st;
	e->cq = (struct ndk_cq *)d.obj;
	d = (struct done){ 0 };
	st = finish(e->ad, &d,
		    ndk_qp_create(e->pd, e->cq, e->cq, e, 0, 64, 0, 1, 0, create_done, &d, &e->qp));
	if (st != NDK_STATUS_SUCCESS)
		return st;
	e->qp = (struct ndk_qp *)d.obj;
	e->buf = ndk_mem_alloc(e->ad, 64 * 1024, 4096);
	return e->buf != NULL ? NDK_STATUS_SUCCESS : NDK_STATUS_NO_MEMORY;
}

static ndk_status
endpoint_connect(struct endpoint *e, uint32_t qpn)
{
	struct ndk_qp_address a = { .family = NDK_ADDRESS_LOCAL, .qpn = qpn };
	struct done d = { 0 };

	return finish(e->ad, &d, ndk_qp_connect(e->qp, &a, req_done, &d));
}

static struct ndk_result_ex
next_result(struct endpoint *e)
{
	struct ndk_result_ex r;

	while (ndk_cq_get_results_ex(e->cq, &r, 1) == 0)
		ndk_adapter_progress(e->ad, 0);
	return r;
}

static uint32_t
my_qpn(struct endpoint *e)
{
	struct ndk_qp_address a;

	ndk_qp_get_address(e->qp, &a);
	return a.qpn;
}

/* The target: fast-register 16 KiB of its buffer, let the initiator write, invalidate. */
static int
rdma_target(const char *sock, int rd, int wr, unsigned long count)
{
	struct endpoint e = { 0 };
	struct rdma_msg m = { 0 };
	struct ndk_logical_address_mapping *lam;
	struct ndk_mr *fr;
	struct done d = { 0 };
	uint32_t lam_size = 4096, fbo, token;
	uint64_t *lat, t0;
	unsigned long i;
	ndk_status st;

	st = endpoint_open(&e, sock, "ndk-demo-target");
	if (st != NDK_STATUS_SUCCESS)
		return fail("target: open", st);
	st = ndk_mr_create(e.pd, true, create_done, &d, &fr);
	if (st == NDK_STATUS_PENDING) {
		st = finish(e.ad, &d, st);
		fr = (struct ndk_mr *)d.obj;
	}
	d = (struct done){ 0 };
	if (st == NDK_STATUS_SUCCESS)
		st = finish(e.ad, &d, ndk_mr_initialize_fast_register(fr, 16, true, req_done, &d));
	if (st != NDK_STATUS_SUCCESS)
		return fail("target: fast-register MR", st);
	lam = malloc(lam_size);
	st = ndk_adapter_build_lam(e.ad, e.buf, 16 * 1024, lam, &lam_size, &fbo);
	if (st != NDK_STATUS_SUCCESS)
		return fail("target: build_lam", st);

	/* hello: our QP; connect to the initiator's (NDK: work requests need a connection) */
	m.qpn = my_qpn(&e);
	if (write(wr, &m, sizeof(m)) != sizeof(m) || read(rd, &m, sizeof(m)) != sizeof(m))
		return 1;
	st = endpoint_connect(&e, m.qpn);
	if (st != NDK_STATUS_SUCCESS)
		return fail("target: connect", st);

	/* the fast-register + completion round trip, alternating with invalidate */
	lat = calloc(count, sizeof(*lat));
	for (i = 0; lat != NULL && i < count; i++) {
		t0 = now_ns();
		st = ndk_qp_fast_register(e.qp, NULL, fr, lam->adapter_page_count,
					  lam->adapter_page_array, fbo, 16 * 1024, e.buf,
					  NDK_OP_FLAG_ALLOW_REMOTE_WRITE);
		if (st != NDK_STATUS_SUCCESS || (st = next_result(&e).status) != NDK_STATUS_SUCCESS)
			return fail("target: fast register", st);
		lat[i] = now_ns() - t0;
		st = ndk_qp_invalidate(e.qp, NULL, fr, 0);
		if (st != NDK_STATUS_SUCCESS || (st = next_result(&e).status) != NDK_STATUS_SUCCESS)
			return fail("target: invalidate", st);
	}
	if (lat != NULL) {
		qsort(lat, count, sizeof(*lat), cmp_u64);
		printf("ndk-demo: target: %lu fast register + completion round trips: median %llu "
		       "ns\n",
		       count, (unsigned long long)lat[count / 2]);
		free(lat);
	}

	/* map the buffer for remote write and hand the token over */
	memset(e.buf, 0, 16 * 1024);
	ndk_qp_fast_register(e.qp, NULL, fr, lam->adapter_page_count, lam->adapter_page_array, fbo,
			     16 * 1024, e.buf, NDK_OP_FLAG_ALLOW_REMOTE_WRITE);
	if (next_result(&e).status != NDK_STATUS_SUCCESS)
		return fail("target: fast register", NDK_STATUS_UNSUCCESSFUL);
	m = (struct rdma_msg){ .qpn = my_qpn(&e),
			       .token = ndk_mr_get_remote_token(fr),
			       .va = (uintptr_t)e.buf,
			       .len = 16 * 1024 };
	printf("ndk-demo: target: fast-registered 16 KiB, remote token %#x\n", m.token);
	token = m.token;
	if (write(wr, &m, sizeof(m)) != sizeof(m) || read(rd, &m, sizeof(m)) != sizeof(m))
		return 1;
	printf("ndk-demo: target: the initiator wrote: \"%s\"\n", e.buf);

	ndk_qp_invalidate(e.qp, NULL, fr, 0);
	if (next_result(&e).status != NDK_STATUS_SUCCESS)
		return fail("target: invalidate", NDK_STATUS_UNSUCCESSFUL);
	printf("ndk-demo: target: invalidated token %#x\n", token);
	if (write(wr, &m, sizeof(m)) != sizeof(m) || read(rd, &m, sizeof(m)) != sizeof(m))
		return 1;
	free(lam);
	ndk_adapter_close(e.ad); /* the MR, QP, CQ and PD go with it */
	return 0;
}

static int
rdma_demo(const char *sock, unsigned long count)
{
	struct endpoint e = { 0 };
	struct rdma_msg m = { 0 }, peer;
	struct ndk_mr *mr;
	struct done d = { 0 };
	struct ndk_sge sge;
	struct ndk_result_ex r;
	uint64_t *lat, t0;
	int up[2], down[2], rc = 0, status;
	unsigned long i;
	pid_t pid;
	ndk_status st;

	fflush(stdout);
	if (pipe(up) != 0 || pipe(down) != 0)
		return 1;
	pid = fork();
	if (pid == 0) {
		close(up[0]);
		close(down[1]);
		int trc = rdma_target(sock, down[0], up[1], count);

		fflush(stdout); /* _exit skips stdio */
		_exit(trc);
	}
	/* only the child writes up and reads down: its exit ends our reads */
	close(up[1]);
	close(down[0]);

	st = endpoint_open(&e, sock, "ndk-demo-initiator");
	if (st != NDK_STATUS_SUCCESS)
		return fail("initiator: open", st);
	st = ndk_mr_create(e.pd, false, create_done, &d, &mr);
	if (st == NDK_STATUS_PENDING) {
		st = finish(e.ad, &d, st);
		mr = (struct ndk_mr *)d.obj;
	}
	d = (struct done){ 0 };
	if (st == NDK_STATUS_SUCCESS)
		st = finish(e.ad, &d, ndk_mr_register(mr, e.buf, 64 * 1024, 0, req_done, &d));
	if (st != NDK_STATUS_SUCCESS)
		return fail("initiator: register", st);
	if (read(up[0], &peer, sizeof(peer)) != sizeof(peer))
		return 1;
	m.qpn = my_qpn(&e);
	if (write(down[1], &m, sizeof(m)) != sizeof(m))
		return 1;
	st = endpoint_connect(&e, peer.qpn);
	if (st != NDK_STATUS_SUCCESS)
		return fail("initiator: connect", st);
	if (read(up[0], &peer, sizeof(peer)) != sizeof(peer))
		return 1;

	snprintf(e.buf, 64, "hello from process %d through ndkd", (int)getpid());
	sge = (struct ndk_sge){ .virtual_address = e.buf,
				.length = 64,
				.memory_region_token = ndk_mr_get_local_token(mr) };
	/* the 64-byte RDMA write round trip: post, then poll the completion */
	lat = calloc(count, sizeof(*lat));
	for (i = 0; lat != NULL && i < count; i++) {
		t0 = now_ns();
		st = ndk_qp_write(e.qp, NULL, &sge, 1, peer.va, peer.token, 0);
		if (st != NDK_STATUS_SUCCESS) {
			rc = fail("initiator: post write", st);
			break;
		}
		r = next_result(&e);
		lat[i] = now_ns() - t0;
		if (r.status != NDK_STATUS_SUCCESS) {
			rc = fail("initiator: write", r.status);
			break;
		}
	}
	if (lat != NULL && rc == 0) {
		qsort(lat, count, sizeof(*lat), cmp_u64);
		printf("ndk-demo: initiator: %lu RDMA writes of 64 B: median %llu ns\n", count,
		       (unsigned long long)lat[count / 2]);
	}
	free(lat);
	printf("ndk-demo: initiator: wrote into the target's fast-registered buffer\n");
	if (write(down[1], &m, sizeof(m)) != sizeof(m) ||
	    read(up[0], &peer, sizeof(peer)) != sizeof(peer))
		return 1;
	/* after the invalidate the same write must fail, and the QP go to error */
	ndk_qp_write(e.qp, NULL, &sge, 1, peer.va, peer.token, 0);
	r = next_result(&e);
	printf("ndk-demo: initiator: write after invalidate: %s (as it must)\n",
	       ndk_status_str(r.status));
	if (r.status != NDK_STATUS_ACCESS_VIOLATION)
		rc = 1;
	if (write(down[1], &m, sizeof(m)) != sizeof(m))
		return 1;
	waitpid(pid, &status, 0);
	ndk_adapter_close(e.ad);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		rc = 1;
	return rc;
}

/* Post one NOP (retrying while the ring is full) and return the post status. */
static ndk_status
post_nop(struct ndk_adapter *ad, uint32_t flags, struct nop_state *st)
{
	ndk_status s;

	while ((s = ndk_adapter_nop(ad, flags, nop_done, st)) == NDK_STATUS_INSUFFICIENT_RESOURCES)
		ndk_adapter_progress(ad, 0);
	return s;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "count", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sock = NULL;
	unsigned long count = 10000, i;
	struct ndk_adapter_opts ao;
	struct ndk_adapter *ad;
	struct nop_state st = { 0 };
	char err[160] = "";
	uint64_t *rtt, t0;
	ndk_status s;
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			sock = optarg;
			break;
		case 'n':
			count = strtoul(optarg, NULL, 10);
			if (count == 0 || count > 100000000ul) {
				fprintf(stderr, "ndk-demo: --count must be 1..100000000\n");
				return 2;
			}
			break;
		case 'h':
			printf("Usage: ndk-demo [--socket PATH] [--count N]\n"
			       "Attach to ndkd (PATH, else $NDK_SOCKET, else %s), time N NOP\n"
			       "round trips one at a time and N more in batches of 32; create a "
			       "PD,\n"
			       "an arena buffer, a registered MR and a fast-register MR, time up "
			       "to\n"
			       "10000 MR create/register/deregister/close cycles; close all, "
			       "detach.\n",
			       NDK_DEFAULT_SOCKET);
			return 0;
		default:
			return 2;
		}
	}

	ndk_adapter_opts_init(&ao, sizeof(ao));
	ao.name = "ndk-demo";
	ao.errbuf = err;
	ao.errbuf_len = sizeof(err);
	s = ndk_adapter_open(sock, &ao, &ad);
	if (s != NDK_STATUS_SUCCESS) {
		fprintf(stderr, "ndk-demo: open failed: %s: %s\n", ndk_status_str(s), err);
		return 1;
	}
	printf("ndk-demo: attached to ndkd\n");

	rtt = calloc(count, sizeof(*rtt));
	if (rtt == NULL)
		return 1;
	for (i = 0; i < count; i++) {
		unsigned long before = st.done;

		t0 = now_ns();
		s = post_nop(ad, 0, &st);
		if (s != NDK_STATUS_PENDING) {
			fprintf(stderr, "ndk-demo: nop: %s\n", ndk_status_str(s));
			free(rtt);
			ndk_adapter_close(ad);
			return 1;
		}
		while (st.done == before)
			ndk_adapter_progress(ad, 0);
		rtt[i] = now_ns() - t0;
	}
	qsort(rtt, count, sizeof(*rtt), cmp_u64);
	printf("ndk-demo: %lu NOP round trips: median %llu ns, p99 %llu ns\n", count,
	       (unsigned long long)rtt[count / 2], (unsigned long long)rtt[count * 99 / 100]);

	t0 = now_ns();
	for (i = 0; i < count && st.failed == 0; i++) {
		/* 31 deferred, then one that rings the doorbell for all 32 */
		s = post_nop(ad, (i % 32 == 31 || i == count - 1) ? 0 : NDK_OP_FLAG_DEFER, &st);
		if (s != NDK_STATUS_PENDING)
			break;
	}
	while (st.done < 2 * count && st.failed == 0 && s == NDK_STATUS_PENDING)
		ndk_adapter_progress(ad, 0);
	if (s == NDK_STATUS_PENDING && st.failed == 0)
		printf("ndk-demo: %lu batched NOPs: %.1f M requests/s\n", count,
		       (double)count * 1e3 / (double)(now_ns() - t0));

	if (st.failed == 0 && memory_demo(ad, count < 10000 ? count : 10000) != 0)
		st.failed++;
	if (st.failed == 0 && rdma_demo(sock, count < 10000 ? count : 10000) != 0)
		st.failed++;

	s = ndk_adapter_close(ad);
	free(rtt);
	if (st.failed != 0) {
		fprintf(stderr, "ndk-demo: %lu request(s) failed, last %s\n", st.failed,
			ndk_status_str(st.last_error));
		return 1;
	}
	printf("ndk-demo: detached (%s); %lu requests completed\n", ndk_status_str(s), st.done);
	return s == NDK_STATUS_SUCCESS ? 0 : 1;
}
