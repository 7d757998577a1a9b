/* SPDX-License-Identifier: BSD-3-Clause */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rte_log.h>

#ifdef NDKD_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "engine.h"
#include "log.h"
#include "service.h"

void
service_notify(const char *state)
{
#ifdef NDKD_HAVE_SYSTEMD
	sd_notify(0, state);
#else
	(void)state;
#endif
}

uint64_t
watchdog_usec(void)
{
	uint64_t usec = 0;

#ifdef NDKD_HAVE_SYSTEMD
	if (sd_watchdog_enabled(0, &usec) <= 0)
		usec = 0;
#endif
	return usec;
}

int
watchdog_init(struct watchdog *w, const struct engine_set *set)
{
	memset(w, 0, sizeof(*w));
#ifdef NDKD_HAVE_SYSTEMD
	uint64_t usec = 0;

	if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
		return 0;
	w->last_beat = calloc(set->n, sizeof(*w->last_beat));
	if (w->last_beat == NULL)
		return -ENOMEM;
	w->n = set->n;
	w->interval_ns = usec * 1000;
	w->next_ns = ndkd_now_ns();
	NDKD_LOG(INFO, main, "watchdog: every %" PRIu64 " ms while %u engine(s) make progress",
		 usec / 2000, w->n);
#else
	(void)set;
#endif
	return 0;
}

void
watchdog_fini(struct watchdog *w)
{
	free(w->last_beat);
	w->last_beat = NULL;
}

int
watchdog_poll_timeout_ms(const struct watchdog *w, int fallback_ms)
{
	/* wake at least four times per interval: a ping every half is what systemd asks */
	int ms = (int)(w->interval_ns / 4000000u);

	if (w->interval_ns == 0 || ms >= fallback_ms)
		return fallback_ms;
	return ms > 1 ? ms : 1;
}

void
watchdog_tick(struct watchdog *w, const struct engine_set *set)
{
	uint64_t now = ndkd_now_ns();
	unsigned int i;
	bool all = true;

	if (w->interval_ns == 0 || now < w->next_ns)
		return;
	w->next_ns = now + w->interval_ns / 2;
	for (i = 0; i < w->n; i++) {
		uint64_t beat =
			atomic_load_explicit(&set->engines[i].heartbeat, memory_order_relaxed);

		if (beat == w->last_beat[i] && !set->engines[i].stopped) {
			all = false;
			if (!w->stalled)
				NDKD_LOG(ERR, main,
					 "engine %u on lcore %u made no pass in %" PRIu64
					 " ms: not feeding the watchdog",
					 i, set->engines[i].lcore, w->interval_ns / 2000000u);
			w->stalled = true;
		}
		w->last_beat[i] = beat;
	}
	if (all)
		service_notify("WATCHDOG=1");
}

/* ------------------------------------------------------------------------
 * Log stream
 * --------------------------------------------------------------------- */

static bool log_to_journal;
/*
 * Per thread: stdio holds the stream's lock around our write, but a
 * message's lines are a thread's own either way (and ThreadSanitizer does
 * not see glibc's stream lock).
 */
static _Thread_local bool log_at_line_start = true;

static ssize_t
log_write(void *cookie, const char *buf, size_t len)
{
	size_t done = 0;

	(void)cookie;
	while (done < len) {
		const char *nl = memchr(buf + done, '\n', len - done);
		size_t n = nl != NULL ? (size_t)(nl - (buf + done)) + 1 : len - done;
		char prefix[8];
		int p;

		if (log_to_journal && log_at_line_start) {
			/* rte_log levels run 1 (emerg) .. 8 (debug), syslog's 0 .. 7 */
			p = (int)rte_log_cur_msg_loglevel() - 1;
			if (p < 0 || p > 7)
				p = 6;
			snprintf(prefix, sizeof(prefix), "<%d>", p);
			if (write(STDERR_FILENO, prefix, strlen(prefix)) < 0)
				return -1;
		}
		if (write(STDERR_FILENO, buf + done, n) < 0)
			return -1;
		log_at_line_start = nl != NULL;
		done += n;
	}
	return (ssize_t)len;
}

int
log_stream_init(void)
{
	static const cookie_io_functions_t fns = { .write = log_write };
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	FILE *f;

	log_to_journal = js != NULL && sscanf(js, "%llu:%llu", &dev, &ino) == 2 &&
			 fstat(STDERR_FILENO, &st) == 0 && (unsigned long long)st.st_dev == dev &&
			 (unsigned long long)st.st_ino == ino;
	f = fopencookie(NULL, "w", fns);
	if (f == NULL)
		return -1;
	/* one write per line at most: a message keeps its prefix with its text */
	setvbuf(f, NULL, _IOLBF, 0);
	return rte_openlog_stream(f);
}
