/* SPDX-License-Identifier: BSD-3-Clause */
/* ndkd's own types: options, clients, engines, counters. */
#ifndef NDKD_H
#define NDKD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <ndk/status.h>
#include <ndk/internal/abi.h>
#include <ndk/internal/ring.h>

#define NDKD_MAX_ALLOWED_IDS  32
#define NDKD_MAX_EAL_ARGS     32
#define NDKD_DEFAULT_PREFIX   "ndkd"
#define NDKD_HELLO_TIMEOUT_MS 5000
/* Connections allowed to wait for their hello at once: a flood cannot eat every fd. */
#define NDKD_MAX_PENDING_HELLO 128
#define NDKD_ENGINE_BATCH      32u

struct ndkd_opts {
	const char *socket_path;
	unsigned int socket_mode;
	uid_t allow_uid[NDKD_MAX_ALLOWED_IDS];
	unsigned int n_allow_uid;
	gid_t allow_gid[NDKD_MAX_ALLOWED_IDS];
	unsigned int n_allow_gid;
	const char *lcores;	 /* EAL -l list; first is the main lcore */
	const char *file_prefix; /* EAL --file-prefix, also where telemetry listens */
	const char *provider;	 /* soft, mlx5, auto */
	int huge;		 /* 1 yes, 0 no, -1 auto (yes when some are free) */
	unsigned int mem_mb;	 /* EAL -m */
	unsigned int max_clients;
	unsigned int ctrl_ring_entries;
	const char *log_level; /* rte_log level name for ndkd's types */
	char *eal_extra[NDKD_MAX_EAL_ARGS];
	unsigned int n_eal_extra;
};

/*
 * opts.c: parse argv into *o. Returns 0 to go on, 1 when --help or --version
 * was printed, -1 after printing an error to stderr.
 */
int opts_parse(struct ndkd_opts *o, int argc, char **argv);
void opts_defaults(struct ndkd_opts *o);
void opts_usage(FILE *f, const char *prog);

/* Single-writer counter: a plain load and store, no locked RMW on the fast path. */
static inline void
stat_add(_Atomic uint64_t *ctr, uint64_t v)
{
	atomic_store_explicit(ctr, atomic_load_explicit(ctr, memory_order_relaxed) + v,
			      memory_order_relaxed);
}

/* Counters a client's engine keeps for it (read by telemetry). */
struct client_stats {
	_Atomic uint64_t requests;
	_Atomic uint64_t bad_requests;
};

enum client_state {
	CLIENT_HELLO,	 /* connected, hello not yet seen (main only) */
	CLIENT_ACTIVE,	 /* owned by an engine */
	CLIENT_REMOVING, /* main asked its engine to let go */
};

struct client {
	uint32_t id;
	enum client_state state;
	int sock;
	pid_t pid;
	uid_t uid;
	gid_t gid;
	char name[48];
	uint64_t hello_deadline_ns;
	unsigned int engine;
	/* The channel. */
	int memfd;
	void *region;
	size_t region_size;
	struct ndk_ring sq; /* daemon's private view; never re-read from the region */
	struct ndk_ring cq;
	bool broken; /* engine: protocol violation seen, stop serving */
	struct client_stats stats;
	struct client *next; /* main's list */
};

/* client.c: the channel region. */
int channel_create(struct client *c, uint32_t ring_entries);
void channel_destroy(struct client *c);
void channel_set_state(struct client *c, uint32_t state);

/* ctrl.c: execute one control request (already copied out of shared memory). */
bool ctrl_execute(struct client *c, const struct ndk_abi_sqe *sqe, struct ndk_abi_cqe *cqe);

/*
 * Serve up to 'budget' requests from c's control ring. Returns how many were
 * served; sets c->broken on a protocol violation. With 'cancel' set every
 * request is answered with DEVICE_REMOVED instead of being executed.
 */
unsigned int ctrl_serve(struct client *c, unsigned int budget, bool cancel, uint64_t *bad);

#endif /* NDKD_H */
