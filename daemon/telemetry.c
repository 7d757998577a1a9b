/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * DPDK telemetry commands, so ndkctl and the stock dpdk-telemetry.py both
 * read ndkd. Callbacks run on DPDK's telemetry thread: counters are read
 * with relaxed atomic loads, the client list under the server's lock.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <rte_telemetry.h>

#include "mrt.h"
#include "server.h"
#include "telemetry.h"

static struct server *tel_server;

static uint64_t
rd(_Atomic uint64_t *v)
{
	return atomic_load_explicit(v, memory_order_relaxed);
}

static int
tel_status(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct server *s = tel_server;
	uint64_t requests = 0, bad = 0, broken = 0;
	unsigned int i, attached;

	(void)cmd;
	(void)params;
	pthread_mutex_lock(&s->lock);
	if (s->closing) {
		pthread_mutex_unlock(&s->lock);
		return -1;
	}
	for (i = 0; i < s->eng->n; i++) {
		requests += rd(&s->eng->engines[i].requests);
		bad += rd(&s->eng->engines[i].bad_requests);
		broken += rd(&s->eng->engines[i].clients_broken);
	}
	attached = s->n_attached;
	pthread_mutex_unlock(&s->lock);

	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "version", NDKD_VERSION);
	rte_tel_data_add_dict_u64(d, "abi_version", NDK_ABI_VERSION);
	rte_tel_data_add_dict_u64(d, "pid", (uint64_t)getpid());
	rte_tel_data_add_dict_string(d, "socket", s->o->socket_path);
	rte_tel_data_add_dict_string(d, "provider", s->provider);
	rte_tel_data_add_dict_u64(d, "hugepages", s->hugepages);
	rte_tel_data_add_dict_u64(d, "engines", s->eng->n);
	rte_tel_data_add_dict_u64(d, "uptime_s", (ndkd_now_ns() - s->start_ns) / 1000000000ull);
	rte_tel_data_add_dict_u64(d, "clients_attached", attached);
	rte_tel_data_add_dict_u64(d, "clients_total", rd(&s->clients_total));
	rte_tel_data_add_dict_u64(d, "clients_cleaned_up", rd(&s->clients_cleaned_up));
	rte_tel_data_add_dict_u64(d, "clients_broken", broken);
	rte_tel_data_add_dict_u64(d, "attach_refused", rd(&s->attach_refused));
	rte_tel_data_add_dict_u64(d, "requests_served", requests);
	rte_tel_data_add_dict_u64(d, "bad_requests", bad);
	rte_tel_data_add_dict_u64(d, "mr_table_entries", s->mrt->n_entries - 1);
	rte_tel_data_add_dict_u64(d, "mr_entries_in_use", rd(&s->mrt->in_use));
	return 0;
}

static const char *const mr_states[] = { "free", "allocated", "valid", "invalid" };
static const char *const mr_kinds[] = { "normal", "fast-register", "privileged" };

/*
 * What ndkd's table says of a token right now: whether it would be honoured
 * ("live") and the entry behind it. Read under the entry's sequence count,
 * exactly as an engine on another core reads it.
 */
static int
tel_mr(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct server *s = tel_server;
	struct mrt_entry e;
	unsigned long token;
	char *end;
	bool found;

	(void)cmd;
	if (params == NULL || params[0] == '\0')
		return -1;
	token = strtoul(params, &end, 0);
	if (*end != '\0' || token > UINT32_MAX)
		return -1;
	pthread_mutex_lock(&s->lock);
	if (s->closing) {
		pthread_mutex_unlock(&s->lock);
		return -1;
	}
	found = mrt_read(s->mrt, (uint32_t)token, &e);
	pthread_mutex_unlock(&s->lock);
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "token", token);
	rte_tel_data_add_dict_u64(
		d, "live", found && e.state == MRT_VALID && e.variant == MRT_TOKEN_VARIANT(token));
	if (!found)
		return 0;
	rte_tel_data_add_dict_string(d, "state", mr_states[e.state & 3]);
	rte_tel_data_add_dict_string(d, "kind", e.kind < 3 ? mr_kinds[e.kind] : "?");
	rte_tel_data_add_dict_u64(d, "variant_matches", e.variant == MRT_TOKEN_VARIANT(token));
	rte_tel_data_add_dict_u64(d, "access", e.access);
	rte_tel_data_add_dict_u64(d, "remote_allowed",
				  e.kind != MRT_KIND_PRIVILEGED &&
					  (e.access & MRT_ACCESS_REMOTE) != 0);
	rte_tel_data_add_dict_u64(d, "client", e.client_id);
	rte_tel_data_add_dict_u64(d, "pd", e.pd);
	rte_tel_data_add_dict_u64(d, "va", e.va);
	rte_tel_data_add_dict_u64(d, "length", e.length);
	return 0;
}

static int
tel_clients(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct server *s = tel_server;
	struct client *c;

	(void)cmd;
	(void)params;
	rte_tel_data_start_array(d, RTE_TEL_U64_VAL);
	pthread_mutex_lock(&s->lock);
	for (c = s->clients; c != NULL; c = c->next) {
		if (c->state != CLIENT_HELLO)
			rte_tel_data_add_array_u64(d, c->id);
	}
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static int
tel_client(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct server *s = tel_server;
	struct client *c;
	unsigned long id;
	char *end;
	int rc = -1;

	(void)cmd;
	if (params == NULL || params[0] == '\0')
		return -1;
	id = strtoul(params, &end, 10);
	if (*end != '\0')
		return -1;
	pthread_mutex_lock(&s->lock);
	for (c = s->clients; c != NULL; c = c->next) {
		if (c->state == CLIENT_HELLO || c->id != id)
			continue;
		rte_tel_data_start_dict(d);
		rte_tel_data_add_dict_u64(d, "id", c->id);
		rte_tel_data_add_dict_u64(d, "pid", (uint64_t)c->pid);
		rte_tel_data_add_dict_u64(d, "uid", c->uid);
		rte_tel_data_add_dict_u64(d, "gid", c->gid);
		rte_tel_data_add_dict_string(d, "name", c->name);
		rte_tel_data_add_dict_u64(d, "engine", c->engine);
		rte_tel_data_add_dict_string(d, "state",
					     c->state == CLIENT_ACTIVE ? "active" : "removing");
		rte_tel_data_add_dict_u64(d, "requests", rd(&c->stats.requests));
		rte_tel_data_add_dict_u64(d, "bad_requests", rd(&c->stats.bad_requests));
		rte_tel_data_add_dict_u64(d, "regions", atomic_load(&c->n_regions));
		rte_tel_data_add_dict_u64(d, "region_bytes", c->region_bytes);
		rc = 0;
		break;
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

void
telemetry_init(struct server *s)
{
	tel_server = s;
	rte_telemetry_register_cmd("/ndkd/status", tel_status,
				   "ndkd counters: clients, requests, refusals. No parameters");
	rte_telemetry_register_cmd("/ndkd/clients", tel_clients,
				   "Ids of attached clients. No parameters");
	rte_telemetry_register_cmd("/ndkd/client", tel_client,
				   "One client's details. Parameters: int client_id");
	rte_telemetry_register_cmd("/ndkd/mr", tel_mr,
				   "What the MR table says of a token. Parameters: int token");
}
