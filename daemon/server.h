/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The main lcore's work: the listening socket, attach (hello, SO_PEERCRED,
 * channel memfd), noticing clients that hang up, and the two-step removal
 * (engine lets go, then main frees).
 */
#ifndef NDKD_SERVER_H
#define NDKD_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "closer.h"
#include "engine.h"
#include "log.h"
#include "ndkd.h"

struct server {
	const struct ndkd_opts *o;
	struct engine_set *eng;
	unsigned int *engine_load; /* clients per engine, main's count */
	int lfd;
	int epfd;
	int sigfd;
	/* Guards the client list against the telemetry thread; engines never take it. */
	pthread_mutex_t lock;
	struct client *clients;
	unsigned int n_attached;
	unsigned int n_hello; /* connections that have not said hello yet */
	bool closing;	      /* under lock: engines are going away, telemetry must not look */
	uint32_t next_id;
	_Atomic uint64_t clients_total;
	_Atomic uint64_t clients_cleaned_up;
	_Atomic uint64_t attach_refused;
	uint64_t start_ns;
	struct provider *prov;
	bool hugepages;
	struct ndk_abi_adapter_info info; /* what every client's region header says */
	struct mrt *mrt;
	struct log_ratelimit rl;
	struct closer closer;
	struct uid_quota *quotas; /* under lock: every uid with a client */
};

/*
 * Check a hello of n bytes the client sent; on success a copy in *h with a
 * name safe to log and to put in telemetry. Otherwise the status to refuse
 * with and why, in plain words.
 */
ndk_status hello_decode(const void *buf, size_t n, struct ndk_abi_hello *h, char *why,
			size_t why_len);

int server_init(struct server *s, const struct ndkd_opts *o, struct engine_set *eng);
/* Handle what is ready, waiting up to timeout_ms. Returns true once a stop signal came. */
bool server_poll(struct server *s, int timeout_ms);
/* Stop accepting, tell clients, stop engines (caller waits for them), free clients. */
void server_stop_listening(struct server *s);
void server_announce_shutdown(struct server *s);
void server_reap_engine_msgs(struct server *s);
void server_fini(struct server *s);

/*
 * Most fds one message can carry (the kernel's SCM_MAX_FD): a receive with
 * room for fewer has the kernel close the rest, in the receiving thread.
 */
#define NDKD_SCM_MAX_FD 253

/*
 * One message from c's socket into buf, without waiting; the first fd that
 * came with it in *fd when fd is not NULL, every other one to the closer.
 * msg_flags (may be NULL) gets the message's flags (MSG_TRUNC, MSG_CTRUNC).
 */
ssize_t server_recv(struct server *s, struct client *c, void *buf, size_t len, int *fd,
		    int *msg_flags);

/* sockreq.c: a socket message from an attached client. Returns false when it hung up. */
bool sockreq_handle(struct server *s, struct client *c);

#endif /* NDKD_SERVER_H */
