/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_lcore.h>

#include "closer.h"

static void *
closer_thread(void *arg)
{
	struct closer *cl = arg;

	pthread_mutex_lock(&cl->lock);
	for (;;) {
		struct closer_item it;
		uint64_t t0, ms, dropped;

		while (cl->n == 0 && !cl->stop)
			pthread_cond_wait(&cl->cond, &cl->lock);
		if (cl->n == 0)
			break;
		it = cl->q[cl->head];
		cl->head = (cl->head + 1) % NDKD_CLOSER_QUEUE;
		cl->n--;
		pthread_mutex_unlock(&cl->lock);

		t0 = ndkd_now_ns();
		close(it.fd);
		ms = (ndkd_now_ns() - t0) / 1000000;
		atomic_fetch_add_explicit(&cl->closed, 1, memory_order_relaxed);
		atomic_fetch_sub_explicit(&cl->pending, 1, memory_order_relaxed);

		pthread_mutex_lock(&cl->lock);
		if (ms >= NDKD_CLOSER_SLOW_MS) {
			atomic_fetch_add_explicit(&cl->slow, 1, memory_order_relaxed);
			if (log_ratelimit_ok(&cl->rl, ndkd_now_ns(), &dropped))
				NDKD_LOG(WARNING, client,
					 "closing an fd from uid %u took %" PRIu64 " ms (%" PRIu64
					 " similar suppressed)",
					 (unsigned int)it.uid, ms, dropped);
		}
	}
	pthread_mutex_unlock(&cl->lock);
	return NULL;
}

int
closer_start(struct closer *cl)
{
	unsigned int i;
	int rc;

	memset(cl, 0, sizeof(*cl));
	cl->rl.burst = 10;
	cl->q = calloc(NDKD_CLOSER_QUEUE, sizeof(*cl->q));
	if (cl->q == NULL)
		return -ENOMEM;
	pthread_mutex_init(&cl->lock, NULL);
	pthread_cond_init(&cl->cond, NULL);
	for (i = 0; i < NDKD_CLOSER_THREADS; i++) {
		/* a control thread: on the cores engines do not poll */
		rc = rte_ctrl_thread_create(&cl->threads[i], "ndkd-close", NULL, closer_thread, cl);
		if (rc != 0) {
			closer_stop(cl, 0);
			return -rc;
		}
		cl->n_threads++;
	}
	return 0;
}

void
closer_put(struct closer *cl, int fd, uid_t uid)
{
	bool queued = false;

	if (fd < 0)
		return;
	pthread_mutex_lock(&cl->lock);
	if (cl->n < NDKD_CLOSER_QUEUE) {
		cl->q[(cl->head + cl->n) % NDKD_CLOSER_QUEUE] = (struct closer_item){ fd, uid };
		cl->n++;
		/* before a thread can take it, so the count never dips below zero */
		atomic_fetch_add_explicit(&cl->pending, 1, memory_order_relaxed);
		queued = true;
		pthread_cond_signal(&cl->cond);
	}
	pthread_mutex_unlock(&cl->lock);
	if (!queued)
		atomic_fetch_add_explicit(&cl->kept, 1, memory_order_relaxed);
}

void
closer_stop(struct closer *cl, unsigned int wait_ms)
{
	uint64_t deadline = ndkd_now_ns() + wait_ms * 1000000ull;
	unsigned int i;

	if (cl->q == NULL)
		return;
	pthread_mutex_lock(&cl->lock);
	cl->stop = true;
	pthread_cond_broadcast(&cl->cond);
	pthread_mutex_unlock(&cl->lock);
	while (atomic_load_explicit(&cl->pending, memory_order_relaxed) != 0 &&
	       ndkd_now_ns() < deadline)
		usleep(1000);
	if (atomic_load_explicit(&cl->pending, memory_order_relaxed) != 0) {
		NDKD_LOG(WARNING, main, "%" PRIu64 " client fds still closing at exit",
			 atomic_load_explicit(&cl->pending, memory_order_relaxed));
		return; /* threads and queue go with the process */
	}
	for (i = 0; i < cl->n_threads; i++)
		pthread_join(cl->threads[i], NULL);
	pthread_cond_destroy(&cl->cond);
	pthread_mutex_destroy(&cl->lock);
	free(cl->q);
	cl->q = NULL;
}
