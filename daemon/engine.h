/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Engines: poll loops on worker lcores. Each client belongs to exactly one
 * engine, which alone reads its rings, so nothing on the data path is shared
 * or locked. The main lcore talks to engines only through messages on DPDK
 * rings: ADD and REMOVE a client, STOP; engines answer REMOVED, BROKEN
 * (protocol violation: the engine has already let the client go) and STOPPED.
 */
#ifndef NDKD_ENGINE_H
#define NDKD_ENGINE_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <rte_common.h>

#include "log.h"
#include "mrt.h"
#include "ndkd.h"

enum engine_msg_type {
	MSG_ADD = 1,
	MSG_REMOVE,
	MSG_STOP,
	MSG_REMOVED,
	MSG_BROKEN,
	MSG_STOPPED,
};

struct engine_msg {
	uint32_t type;
	uint32_t engine;
	struct client *client;
};

/*
 * An engine's bell: whoever hands it work from outside (main, another
 * engine) rings it, and it wakes if it sleeps. Clients ring through their
 * doorbell sockets instead (docs/ring-protocol.md).
 */
struct engine_bell {
	alignas(RTE_CACHE_LINE_SIZE) _Atomic uint32_t asleep;
	int efd; /* an eventfd in the engine's epoll set */
};

/* After publishing work for the engine: a full fence, then wake it if it sleeps. */
void engine_bell_ring(struct engine_bell *b);

struct engine {
	unsigned int id;
	unsigned int lcore;
	struct rte_ring *inbox;
	struct engine_set *set;
	struct client **clients;
	unsigned int n_clients;
	unsigned int max_clients;
	unsigned int next_client; /* whose turn comes first in the next pass */
	bool stopped;
	/* adaptive polling (engine_main) */
	bool adaptive;
	int epfd;	     /* sleeps here: its bell and its clients' doorbells */
	uint64_t idle_tsc;   /* an idle spell this long (TSC cycles), and it sleeps */
	int sleep_ms;	     /* at most this long */
	uint64_t idle_since; /* TSC at the start of the idle spell; 0: busy last pass */
	struct log_ratelimit rl;
	struct mrt_cache mr_cache;
	struct ectx x;
	/* Written by this engine only, read by telemetry. */
	alignas(RTE_CACHE_LINE_SIZE) _Atomic uint64_t heartbeat;
	_Atomic uint64_t requests;
	_Atomic uint64_t bad_requests;
	_Atomic uint64_t clients_broken;
	_Atomic uint64_t sleeps, bell_wakeups; /* sleeps; those a bell or doorbell ended */
};

struct engine_set {
	struct engine *engines;
	unsigned int n;
	struct provider *prov;
	struct rte_ring *outbox;      /* engines -> main, multi-producer */
	struct rte_ring **conn_inbox; /* per engine: connection messages */
	/*
	 * Engines report a quiescent state every pass; main waits for a grace
	 * period before it unmaps a client's regions, which other engines may
	 * have been copying to or from.
	 */
	struct rte_rcu_qsbr *rcu;
	int event_fd;		   /* kicked after each outbox message */
	struct engine_bell *bells; /* by engine id */
};

int engines_create(struct engine_set *set, unsigned int n, unsigned int max_clients,
		   struct mrt *mrt, struct qpt *qpt, struct listen_table *listen,
		   const struct ndkd_limits *lim, struct provider *prov);
/* Adaptive polling for every engine (main, before they start). */
void engines_set_polling(struct engine_set *set, bool adaptive, uint32_t idle_us,
			 uint32_t sleep_ms);
/* c's doorbell (ndkd's end) joins its engine's epoll set, or leaves it (fd -1 then). */
int engine_doorbell_add(struct engine *e, const struct client *c, int fd);
void engine_doorbell_del(struct engine *e, int fd);
/* The calling thread polls engine e itself (one-lcore layout): it reports quiescence. */
void engine_adopt(struct engine *e);
/* Wait until no engine can still be touching memory of a client that is gone. */
void engines_grace_period(struct engine_set *set);
void engines_destroy(struct engine_set *set);
int engine_send(struct engine *e, uint32_t type, struct client *c);
unsigned int engines_collect(struct engine_set *set, struct engine_msg *msgs, unsigned int max);

/* One pass over the engine's inbox and clients; returns requests served. */
unsigned int engine_poll_once(struct engine *e);
#define NDKD_FAULT_STALL_ENV "NDKD_FAULT_ENGINE_STALL_MS"

/* lcore entry point: polls until STOP. */
int engine_main(void *arg);

#endif /* NDKD_ENGINE_H */
