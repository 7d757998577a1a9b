/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What ndkd does for its service manager: sd_notify states, a watchdog fed
 * only while every engine's heartbeat moves, and log lines the journal can
 * give a priority.
 */
#ifndef NDKD_SERVICE_H
#define NDKD_SERVICE_H

#include <stdbool.h>
#include <stdint.h>

struct engine_set;

/* sd_notify(state) when built with libsystemd and NOTIFY_SOCKET is set. */
void service_notify(const char *state);

struct watchdog {
	uint64_t interval_ns; /* 0: no watchdog asked for */
	uint64_t next_ns;
	uint64_t *last_beat; /* per engine, at the last check */
	unsigned int n;
	bool stalled; /* reported once */
};

/* The watchdog interval the service manager asks for, in µs (0: none). */
uint64_t watchdog_usec(void);
/* Reads WATCHDOG_USEC (sd_watchdog_enabled). Returns 0 or -ENOMEM. */
int watchdog_init(struct watchdog *w, const struct engine_set *set);
void watchdog_fini(struct watchdog *w);
/* How long the main loop may sleep and still feed the watchdog in time. */
int watchdog_poll_timeout_ms(const struct watchdog *w, int fallback_ms);
/*
 * Called from the main loop: every interval/2, WATCHDOG=1 if every engine
 * made a pass since the last check; otherwise nothing (so systemd restarts
 * a daemon whose engine is stuck), and one log line naming the engine.
 */
void watchdog_tick(struct watchdog *w, const struct engine_set *set);

/*
 * Route rte_log to stderr, one line per message, with a "<N>" syslog
 * priority prefix when stderr is the journal (JOURNAL_STREAM names it).
 * EAL's own default writes to stdout and to syslog, which the journal would
 * record twice. Returns 0 or -1.
 */
int log_stream_init(void);

#endif /* NDKD_SERVICE_H */
