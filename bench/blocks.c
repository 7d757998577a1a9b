/* SPDX-License-Identifier: BSD-3-Clause */
#define _GNU_SOURCE
#include "blocks.h"
#include "testlib.h" /* t_now_ns */

#include <pthread.h>
#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct series {
	double *v;
	size_t n, cap;
};

static bool
series_add(struct series *s, double x)
{
	if (s->n == s->cap) {
		size_t cap = s->cap != 0 ? s->cap * 2 : 256;
		double *v = realloc(s->v, cap * sizeof(*v));

		if (v == NULL)
			return false;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = x;
	return true;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The q-quantile (0..1) of s, sorting it. */
static double
quantile(struct series *s, double q)
{
	size_t i;

	qsort(s->v, s->n, sizeof(*s->v), cmp_double);
	i = (size_t)(q * (double)(s->n - 1) + 0.5);
	return s->v[i];
}

static uint64_t
run_block(const struct block_side *side, uint32_t n)
{
	uint64_t ns;

	if (side->quiet_us != 0)
		usleep(side->quiet_us);
	if (side->before != NULL)
		side->before(side->ctx);
	ns = side->run(side->ctx, n);
	if (side->after != NULL)
		side->after(side->ctx);
	return ns;
}

bool
blocks_measure(struct nb_state *st, const struct block_side *fig, const struct block_side *base,
	       uint32_t n, const char *why)
{
	struct series ratio = { 0 }, fns = { 0 }, bns = { 0 };
	bool ok = true;
	uint64_t pair = 0;

	while (nb_keep_running(st)) {
		uint64_t f, b;

		/* ABBA: whichever side runs second in a pair alternates */
		if ((pair++ & 1) == 0) {
			f = run_block(fig, n);
			b = run_block(base, n);
		} else {
			b = run_block(base, n);
			f = run_block(fig, n);
		}
		if (f == 0 || b == 0) {
			ok = false;
			break;
		}
		if (!series_add(&ratio, (double)f / (double)b) ||
		    !series_add(&fns, (double)f / n) || !series_add(&bns, (double)b / n)) {
			ok = false;
			break;
		}
	}
	if (!ok) {
		nb_skip(st, why);
	} else if (ratio.n > 0) {
		double fig_ns = quantile(&fns, 0.5);

		nb_counter(st, "ratio", quantile(&ratio, 0.5));
		nb_counter(st, "ratio_p10", quantile(&ratio, 0.1));
		nb_counter(st, "ratio_p90", quantile(&ratio, 0.9));
		nb_counter(st, "fig_ns", fig_ns);
		nb_counter(st, "base_ns", quantile(&bns, 0.5));
		nb_counter(st, "fig_Mops", 1e3 / fig_ns);
		nb_counter(st, "blocks", (double)ratio.n);
	}
	free(ratio.v);
	free(fns.v);
	free(bns.v);
	return ok;
}

/* ---------------------------------------------------------------------------
 * The helper thread on the engine's CPU.
 * ------------------------------------------------------------------------ */

enum helper_job { JOB_PONG = 1, JOB_COPY, JOB_EXIT };

#define PONG_END UINT64_MAX
#define COPY_END UINT32_MAX

struct helper {
	pthread_t thread;
	int cpu;
	int efd; /* a job waits: the helper blocks in read() between blocks */
	_Atomic int job;
	_Atomic bool busy; /* the helper is spinning on its job */
	uint64_t seq;	   /* the client's last ping */
	alignas(64) _Atomic uint64_t ping;
	alignas(64) _Atomic uint64_t pong;
	alignas(64) _Atomic uint32_t copy_n; /* copies asked for; the helper zeroes it */
	_Atomic uint64_t copy_ns;
	size_t len, cap;
	char *src, *dst;
};

static void
helper_pong(struct helper *h)
{
	uint64_t seen = atomic_load_explicit(&h->pong, memory_order_relaxed);

	for (;;) {
		uint64_t v = atomic_load_explicit(&h->ping, memory_order_acquire);

		if (v == PONG_END)
			return;
		if (v != seen) {
			seen = v;
			atomic_store_explicit(&h->pong, v, memory_order_release);
		}
	}
}

static void
helper_copy(struct helper *h)
{
	for (;;) {
		uint32_t n = atomic_load_explicit(&h->copy_n, memory_order_acquire);
		uint64_t t0;

		if (n == COPY_END)
			return;
		if (n == 0)
			continue;
		t0 = t_now_ns();
		for (uint32_t i = 0; i < n; i++) {
			memcpy(h->dst, h->src, h->len);
			/* the copies are the measurement: keep every one */
			__asm__ volatile("" ::: "memory");
		}
		atomic_store_explicit(&h->copy_ns, t_now_ns() - t0 + 1, memory_order_relaxed);
		atomic_store_explicit(&h->copy_n, 0, memory_order_release);
	}
}

static void *
helper_main(void *arg)
{
	struct helper *h = arg;
	cpu_set_t set;
	uint64_t v;

	CPU_ZERO(&set);
	CPU_SET(h->cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	for (;;) {
		if (read(h->efd, &v, sizeof(v)) != sizeof(v))
			continue;
		switch (atomic_load(&h->job)) {
		case JOB_PONG:
			atomic_store(&h->busy, true);
			helper_pong(h);
			break;
		case JOB_COPY:
			atomic_store(&h->busy, true);
			helper_copy(h);
			break;
		case JOB_EXIT:
			return NULL;
		default:
			break;
		}
		atomic_store(&h->busy, false);
	}
}

struct helper *
helper_start(int cpu)
{
	struct helper *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return NULL;
	h->cpu = cpu;
	h->efd = eventfd(0, EFD_CLOEXEC);
	if (h->efd < 0 || pthread_create(&h->thread, NULL, helper_main, h) != 0) {
		if (h->efd >= 0)
			close(h->efd);
		free(h);
		return NULL;
	}
	return h;
}

static void
helper_post(struct helper *h, int job)
{
	uint64_t one = 1;

	atomic_store(&h->job, job);
	if (write(h->efd, &one, sizeof(one)) != sizeof(one))
		abort();
}

void
helper_stop(struct helper *h)
{
	if (h == NULL)
		return;
	helper_post(h, JOB_EXIT);
	pthread_join(h->thread, NULL);
	close(h->efd);
	free(h->src);
	free(h->dst);
	free(h);
}

/* Untimed: hand the helper a job and wait until it spins on it. */
static void
helper_begin(struct helper *h, int job)
{
	if (job == JOB_PONG)
		atomic_store(&h->ping, atomic_load(&h->pong));
	else
		atomic_store(&h->copy_n, 0);
	helper_post(h, job);
	while (!atomic_load(&h->busy))
		sched_yield();
}

/* Untimed: wait until the helper, told its job ends, blocks again. */
static void
helper_end(struct helper *h)
{
	while (atomic_load(&h->busy))
		sched_yield();
}

static void
pong_before(void *ctx)
{
	struct helper *h = ctx;

	h->seq = atomic_load(&h->pong);
	helper_begin(h, JOB_PONG);
}

static uint64_t
pong_run(void *ctx, uint32_t n)
{
	struct helper *h = ctx;
	uint64_t t0 = t_now_ns();

	for (uint32_t i = 0; i < n; i++) {
		uint64_t seq = ++h->seq;

		atomic_store_explicit(&h->ping, seq, memory_order_release);
		while (atomic_load_explicit(&h->pong, memory_order_acquire) != seq)
			;
	}
	return t_now_ns() - t0;
}

static void
pong_after(void *ctx)
{
	struct helper *h = ctx;

	atomic_store(&h->ping, PONG_END);
	helper_end(h);
}

const struct block_side helper_pingpong_side = {
	.before = pong_before,
	.run = pong_run,
	.after = pong_after,
};

static void
copy_before(void *ctx)
{
	helper_begin(ctx, JOB_COPY);
}

static uint64_t
copy_run(void *ctx, uint32_t n)
{
	struct helper *h = ctx;

	atomic_store_explicit(&h->copy_ns, 0, memory_order_relaxed);
	atomic_store_explicit(&h->copy_n, n, memory_order_release);
	while (atomic_load_explicit(&h->copy_n, memory_order_acquire) != 0)
		;
	return atomic_load_explicit(&h->copy_ns, memory_order_relaxed);
}

static void
copy_after(void *ctx)
{
	struct helper *h = ctx;

	atomic_store(&h->copy_n, COPY_END);
	helper_end(h);
}

struct block_side
helper_memcpy_side(struct helper *h, size_t len)
{
	struct block_side s = {
		.before = copy_before, .run = copy_run, .after = copy_after, .ctx = h
	};

	if (len > h->cap) {
		free(h->src);
		free(h->dst);
		h->src = aligned_alloc(4096, (len + 4095) & ~(size_t)4095);
		h->dst = aligned_alloc(4096, (len + 4095) & ~(size_t)4095);
		if (h->src == NULL || h->dst == NULL) {
			h->cap = 0;
			s.run = NULL;
			return s;
		}
		memset(h->src, 1, len);
		memset(h->dst, 2, len);
		h->cap = len;
	}
	h->len = len;
	return s;
}
