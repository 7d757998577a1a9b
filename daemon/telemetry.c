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

#include "engine.h"
#include "mrt.h"
#include "provider.h"
#include "quota.h"
#include "roce/port.h"
#include "server.h"
#include "telemetry.h"

static struct server *tel_server;

static uint64_t
rd(const _Atomic uint64_t *v)
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
	rte_tel_data_add_dict_string(d, "provider", s->prov->ops.name);
	rte_tel_data_add_dict_string(d, "provider_detail", s->prov->detail);
	rte_tel_data_add_dict_u64(d, "hugepages", s->hugepages);
	rte_tel_data_add_dict_u64(d, "engines", s->eng->n);
	rte_tel_data_add_dict_u64(d, "uptime_s", (ndkd_now_ns() - s->start_ns) / 1000000000ull);
	rte_tel_data_add_dict_u64(d, "clients_attached", attached);
	rte_tel_data_add_dict_u64(d, "clients_total", rd(&s->clients_total));
	rte_tel_data_add_dict_u64(d, "clients_cleaned_up", rd(&s->clients_cleaned_up));
	rte_tel_data_add_dict_u64(d, "clients_broken", broken);
	rte_tel_data_add_dict_u64(d, "attach_refused", rd(&s->attach_refused));
	rte_tel_data_add_dict_u64(d, "client_fds_closing", rd(&s->closer.pending));
	rte_tel_data_add_dict_u64(d, "client_fd_closes_slow", rd(&s->closer.slow));
	rte_tel_data_add_dict_u64(d, "client_fds_kept_open", rd(&s->closer.kept));
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

/* An engine-owned counter read from the telemetry thread. */
static uint64_t
rd32(const uint32_t *v)
{
	return __atomic_load_n(v, __ATOMIC_RELAXED);
}

/* A new array for a dict column; NULL when out of memory (the command then fails). */
static struct rte_tel_data *
column(struct rte_tel_data **cols, unsigned int i, enum rte_tel_value_type type)
{
	cols[i] = rte_tel_data_alloc();
	if (cols[i] != NULL)
		rte_tel_data_start_array(cols[i], type);
	return cols[i];
}

/* n columns of numbers, one per field of a row. */
static void
u64_columns(struct rte_tel_data **cols, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		column(cols, i, RTE_TEL_U64_VAL);
}

/* One row: field i at the end of column i (a column that failed to allocate is skipped). */
static void
add_row(struct rte_tel_data **cols, const uint64_t *v, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (cols[i] != NULL)
			rte_tel_data_add_array_u64(cols[i], v[i]);
}

static int
add_columns(struct rte_tel_data *d, struct rte_tel_data **cols, const char *const *names,
	    unsigned int n)
{
	unsigned int i;
	int rc = 0;

	for (i = 0; i < n; i++) {
		if (cols[i] == NULL || rc != 0) {
			rte_tel_data_free(cols[i]);
			rc = -1;
			continue;
		}
		if (rte_tel_data_add_dict_container(d, names[i], cols[i], 0) != 0) {
			rte_tel_data_free(cols[i]);
			rc = -1;
		}
	}
	return rc;
}

/*
 * Per engine, as columns (DPDK 22.11 telemetry nests arrays, not dicts):
 * index i of every array is engine i.
 */
static int
tel_stats(const char *cmd, const char *params, struct rte_tel_data *d)
{
	static const char *const names[] = {
		"engine_lcore",	       "engine_clients", "engine_requests",
		"engine_bad_requests", "engine_broken",	 "engine_heartbeat",
		"engine_asleep",       "engine_sleeps",	 "engine_bell_wakeups",
	};
	struct rte_tel_data *cols[RTE_DIM(names)];
	struct server *s = tel_server;
	uint64_t requests = 0, bad = 0;
	unsigned int i;

	(void)cmd;
	(void)params;
	u64_columns(cols, RTE_DIM(names));
	pthread_mutex_lock(&s->lock);
	for (i = 0; i < s->eng->n; i++) {
		struct engine *e = &s->eng->engines[i];
		uint64_t v[RTE_DIM(names)] = {
			e->lcore,
			__atomic_load_n(&e->n_clients, __ATOMIC_RELAXED),
			rd(&e->requests),
			rd(&e->bad_requests),
			rd(&e->clients_broken),
			rd(&e->heartbeat),
			atomic_load_explicit(&s->eng->bells[i].asleep, memory_order_relaxed),
			rd(&e->sleeps),
			rd(&e->bell_wakeups),
		};

		requests += v[2];
		bad += v[3];
		add_row(cols, v, RTE_DIM(names));
	}
	pthread_mutex_unlock(&s->lock);
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "engines", s->eng->n);
	rte_tel_data_add_dict_u64(d, "requests_served", requests);
	rte_tel_data_add_dict_u64(d, "bad_requests", bad);
	rte_tel_data_add_dict_u64(d, "mr_table_entries", s->mrt->n_entries - 1);
	rte_tel_data_add_dict_u64(d, "mr_entries_in_use", rd(&s->mrt->in_use));
	return add_columns(d, cols, names, RTE_DIM(names));
}

/* Per attached client, as columns: what it holds in ndkd. */
static int
tel_objects(const char *cmd, const char *params, struct rte_tel_data *d)
{
	static const char *const names[] = {
		"client", "engine", "pds",     "mrs",	       "cqs",
		"qps",	  "srqs",   "regions", "region_bytes", "registered_bytes"
	};
	struct rte_tel_data *cols[RTE_DIM(names)];
	struct server *s = tel_server;
	struct client *c;
	unsigned int n = 0;

	(void)cmd;
	(void)params;
	u64_columns(cols, RTE_DIM(names));
	pthread_mutex_lock(&s->lock);
	for (c = s->clients; c != NULL; c = c->next) {
		uint64_t v[RTE_DIM(names)];

		if (c->state != CLIENT_ACTIVE)
			continue;
		v[0] = c->id;
		v[1] = c->engine;
		v[2] = rd32(&c->n_pds);
		v[3] = rd32(&c->n_mrs);
		v[4] = rd32(&c->n_cqs);
		v[5] = rd32(&c->n_qps);
		v[6] = rd32(&c->n_srqs);
		v[7] = atomic_load_explicit(&c->n_regions, memory_order_relaxed);
		v[8] = c->region_bytes;
		v[9] = __atomic_load_n(&c->registered_bytes, __ATOMIC_RELAXED);
		add_row(cols, v, RTE_DIM(names));
		n++;
	}
	pthread_mutex_unlock(&s->lock);
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "clients", n);
	return add_columns(d, cols, names, RTE_DIM(names));
}

/* What each uid with a client holds, against its limits (quota.h), as columns. */
static int
tel_uids(const char *cmd, const char *params, struct rte_tel_data *d)
{
	static const char *const names[] = { "uid",	  "clients",	     "mrs", "qps", "cqs",
					     "listeners", "registered_bytes" };
	struct rte_tel_data *cols[RTE_DIM(names)];
	struct server *s = tel_server;
	const struct uid_quota *q;
	unsigned int k, n = 0;

	(void)cmd;
	(void)params;
	u64_columns(cols, RTE_DIM(names));
	pthread_mutex_lock(&s->lock);
	for (q = s->quotas; q != NULL; q = q->next) {
		uint64_t v[RTE_DIM(names)] = { q->uid, q->clients };

		for (k = 0; k < QUOTA_KINDS; k++)
			v[2 + k] = atomic_load_explicit(&q->used[k], memory_order_relaxed);
		add_row(cols, v, RTE_DIM(names));
		n++;
	}
	pthread_mutex_unlock(&s->lock);
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "uids", n);
	return add_columns(d, cols, names, RTE_DIM(names));
}

/* Per port, as columns, counters summed over the engines' queues (roce/port.h). */
static int
tel_ports(const char *cmd, const char *params, struct rte_tel_data *d)
{
	/* the XDP program's id and counters last (0 on ports without ndkd's) */
	enum { FIXED = 3, XDP = FIXED + ROCE_CTRS, N = XDP + 4 };
	static const char *const modes[] = { [NDKD_XDP_NONE] = "ethdev",
					     [NDKD_XDP_STEER] = "xdp steer",
					     [NDKD_XDP_ALL] = "xdp all" };
	const struct roce_ports *rp = roce_ports_get();
	const char *names[N] = { "ethdev", "mtu", "path_mtu" };
	struct rte_tel_data *cols[N], *name, *addr, *mode;
	unsigned int i, e, k;

	(void)cmd;
	(void)params;
	for (k = 0; k < ROCE_CTRS; k++)
		names[FIXED + k] = roce_ctr_names[k];
	names[XDP] = "xdp_prog_id";
	names[XDP + 1] = "xdp_pass";
	names[XDP + 2] = "xdp_redirect";
	names[XDP + 3] = "xdp_drop";
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "ports", rp != NULL ? rp->n : 0);
	if (rp == NULL || rp->n == 0)
		return 0;
	u64_columns(cols, N);
	name = rte_tel_data_alloc();
	addr = rte_tel_data_alloc();
	mode = rte_tel_data_alloc();
	if (name == NULL || addr == NULL || mode == NULL) {
		rte_tel_data_free(name);
		rte_tel_data_free(addr);
		rte_tel_data_free(mode);
		for (k = 0; k < N; k++)
			rte_tel_data_free(cols[k]);
		return -1;
	}
	rte_tel_data_start_array(name, RTE_TEL_STRING_VAL);
	rte_tel_data_start_array(addr, RTE_TEL_STRING_VAL);
	rte_tel_data_start_array(mode, RTE_TEL_STRING_VAL);
	for (i = 0; i < rp->n; i++) {
		const struct roce_port *p = &rp->port[i];
		uint64_t x[N] = { p->id, p->mtu, p->path_mtu };
		char a[32];

		for (e = 0; e < rp->n_engines; e++)
			for (k = 0; k < ROCE_CTRS; k++)
				x[FIXED + k] += rd(&p->stats[e].c[k]);
#ifdef NDKD_HAVE_XDP
		x[XDP] = p->bpf.prog_id;
		xdp_counters(&p->bpf, &x[XDP + 1]);
#endif
		rte_tel_data_add_array_string(mode, modes[p->xdp < RTE_DIM(modes) ? p->xdp : 0]);
		add_row(cols, x, N);
		snprintf(a, sizeof(a), "%u.%u.%u.%u/%u", p->ip >> 24, (p->ip >> 16) & 255,
			 (p->ip >> 8) & 255, p->ip & 255, p->prefix);
		rte_tel_data_add_array_string(name, p->name);
		rte_tel_data_add_array_string(addr, a);
	}
	rte_tel_data_add_dict_container(d, "name", name, 0);
	rte_tel_data_add_dict_container(d, "addr", addr, 0);
	rte_tel_data_add_dict_container(d, "mode", mode, 0);
	return add_columns(d, cols, names, N);
}

#define TEL_MRS_MAX 64 /* rows per reply: the telemetry reply is at most 16 KiB */

/*
 * MR table entries in use, as columns, optionally of one client
 * ("/ndkd/mrs,ID"): the first TEL_MRS_MAX rows and how many there are.
 * Each entry is read under its sequence count, as an engine reads it.
 */
static int
tel_mrs(const char *cmd, const char *params, struct rte_tel_data *d)
{
	static const char *const unames[] = { "token", "client", "pd", "va", "length", "access" };
	static const char *const snames[] = { "state", "kind" };
	struct rte_tel_data *ucols[RTE_DIM(unames)], *scols[RTE_DIM(snames)];
	struct server *s = tel_server;
	unsigned long want = 0;
	uint64_t total = 0, shown = 0;
	uint32_t i;
	unsigned int k;
	int rc;

	(void)cmd;
	if (params != NULL && params[0] != '\0') {
		char *end;

		want = strtoul(params, &end, 10);
		if (*end != '\0' || want == 0 || want > UINT32_MAX)
			return -1;
	}
	for (k = 0; k < RTE_DIM(unames); k++)
		column(ucols, k, RTE_TEL_U64_VAL);
	for (k = 0; k < RTE_DIM(snames); k++)
		column(scols, k, RTE_TEL_STRING_VAL);
	pthread_mutex_lock(&s->lock);
	for (i = 1; !s->closing && i < s->mrt->n_entries; i++) {
		struct mrt_entry e;

		if (atomic_load_explicit(&s->mrt->entries[i].seq, memory_order_relaxed) == 0)
			continue; /* never written: not even touched (no page faulted in) */
		seq_read_copy(&s->mrt->entries[i].seq, &e, &s->mrt->entries[i], sizeof(e));
		if (e.state == MRT_FREE || (want != 0 && e.client_id != want))
			continue;
		total++;
		if (shown == TEL_MRS_MAX)
			continue;
		shown++;
		uint64_t v[RTE_DIM(unames)] = {
			MRT_TOKEN(i, e.variant), e.client_id, e.pd, e.va, e.length, e.access
		};
		for (k = 0; k < RTE_DIM(unames); k++)
			if (ucols[k] != NULL)
				rte_tel_data_add_array_u64(ucols[k], v[k]);
		if (scols[0] != NULL)
			rte_tel_data_add_array_string(scols[0], mr_states[e.state & 3]);
		if (scols[1] != NULL)
			rte_tel_data_add_array_string(scols[1],
						      e.kind < 3 ? mr_kinds[e.kind] : "?");
	}
	pthread_mutex_unlock(&s->lock);
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "in_use", total);
	rte_tel_data_add_dict_u64(d, "shown", shown);
	rc = add_columns(d, ucols, unames, RTE_DIM(unames));
	return add_columns(d, scols, snames, RTE_DIM(snames)) != 0 ? -1 : rc;
}

static int
tel_provider(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd, (void)params;
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "provider", tel_server->prov->ops.name);
	rte_tel_data_add_dict_string(d, "detail", tel_server->prov->detail);
	tel_server->prov->ops.telemetry(tel_server->prov, d);
	return 0;
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
	rte_telemetry_register_cmd("/ndkd/mrs", tel_mrs,
				   "MR table entries in use (first 64), as columns. Parameters: "
				   "optional int client_id");
	rte_telemetry_register_cmd("/ndkd/objects", tel_objects,
				   "What each client holds, as columns. No parameters");
	rte_telemetry_register_cmd("/ndkd/uids", tel_uids,
				   "What each uid holds, against its limits. Takes no parameters.");
	rte_telemetry_register_cmd(
		"/ndkd/ports", tel_ports,
		"NIC ports: address, mode, frame counters, XDP program. No parameters");
	rte_telemetry_register_cmd(
		"/ndkd/provider", tel_provider,
		"The provider: what it drives, its limits and counters. No parameters");
	rte_telemetry_register_cmd("/ndkd/stats", tel_stats,
				   "Per-engine counters, as columns. No parameters");
}
