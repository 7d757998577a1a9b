/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Closing what tenants handed ndkd, off the main lcore. The last close of a
 * file runs its release in the closing thread, and a tenant chooses what
 * that costs: a TCP socket with SO_LINGER and unsent data waits out the
 * linger time, a file on a FUSE mount of its own waits for a FLUSH answer
 * that need never come. So every fd a client passed, and every client
 * socket (its queue may hold more), goes to closer threads; the main lcore
 * and the engines never close them.
 */
#ifndef NDKD_CLOSER_H
#define NDKD_CLOSER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "log.h"

/* Threads that close: each is held by at most one slow close at a time. */
#define NDKD_CLOSER_THREADS 4
/* fds waiting for a thread; past this, an fd stays open until ndkd exits. */
#define NDKD_CLOSER_QUEUE 65536
/* A close this slow is logged with the uid that passed the fd. */
#define NDKD_CLOSER_SLOW_MS 1000

struct closer_item {
	int fd;
	uid_t uid;
};

struct closer {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct closer_item *q; /* ring of NDKD_CLOSER_QUEUE */
	uint32_t head, n;
	unsigned int n_threads;
	bool stop;
	pthread_t threads[NDKD_CLOSER_THREADS];
	struct log_ratelimit rl; /* under lock */
	_Atomic uint64_t closed;
	_Atomic uint64_t slow;	  /* closes that took NDKD_CLOSER_SLOW_MS or more */
	_Atomic uint64_t kept;	  /* queue full: left open */
	_Atomic uint64_t pending; /* queued or being closed */
};

int closer_start(struct closer *cl);
/* Hand fd over (fd < 0 is ignored); never blocks. uid is whose it was, for the log. */
void closer_put(struct closer *cl, int fd, uid_t uid);
/*
 * Close what is queued, waiting up to wait_ms for it; threads still held by
 * a close then are left to the process's exit (which does not linger).
 */
void closer_stop(struct closer *cl, unsigned int wait_ms);

#endif /* NDKD_CLOSER_H */
