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
			       "round trips one at a time and N more in batches of 32, then "
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
			break;
		}
		while (st.done == before)
			ndk_adapter_progress(ad, 0);
		rtt[i] = now_ns() - t0;
	}
	if (i == count) {
		qsort(rtt, count, sizeof(*rtt), cmp_u64);
		printf("ndk-demo: %lu NOP round trips: median %llu ns, p99 %llu ns\n", count,
		       (unsigned long long)rtt[count / 2],
		       (unsigned long long)rtt[count * 99 / 100]);
	}

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
