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

#include <ndk/ndk.h>

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

/* Wait for one callback: what an app's event loop does, reduced to a spin. */
struct done {
	int calls;
	ndk_status status;
	struct ndk_object_header *obj;
};

static void
req_done(void *ctx, ndk_status st)
{
	struct done *d = ctx;

	d->calls++;
	d->status = st;
}

static void
create_done(void *ctx, ndk_status st, struct ndk_object_header *obj)
{
	struct done *d = ctx;

	d->calls++;
	d->status = st;
	d->obj = obj;
}

static void
close_done(void *ctx)
{
	((struct done *)ctx)->calls++;
}

/* The status of a call: its own, or (PENDING) its callback's. */
static ndk_status
finish(struct ndk_adapter *ad, struct done *d, ndk_status st)
{
	if (st != NDK_STATUS_PENDING)
		return st;
	while (d->calls == 0)
		ndk_adapter_progress(ad, 0);
	return d->status;
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
		if (st != NDK_STATUS_SUCCESS)
			return fail("MR cycle", st);
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
