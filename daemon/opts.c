/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ndkd's settings: one table, read from ndkd.conf (DPDK's rte_cfgfile) and
 * from the command line, in that order, so flags override the file. EAL's
 * own arguments are built from the result later.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <sched.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <rte_cfgfile.h>

#include <ndk/adapter.h>

#include "ndkd.h"

#ifndef NDKD_VERSION
#define NDKD_VERSION "0"
#endif

_Static_assert(sizeof(unsigned int) == sizeof(uint32_t), "32-bit settings share one store");

#include <rte_common.h>

#include "settings.h"

#define F(field) offsetof(struct ndkd_opts, field)

const struct setting settings[] = {
	{ "socket", "service", "socket", K_SOCKET, 0, 0, F(socket_path) },
	{ "socket-mode", "service", "socket_mode", K_OCTAL, 0, 0777, F(socket_mode) },
	{ "allow-uid", "service", "allow_uids", K_UIDS, 0, 0, 0 },
	{ "allow-gid", "service", "allow_gids", K_GIDS, 0, 0, 0 },
	{ "file-prefix", "service", "file_prefix", K_PREFIX, 0, 0, F(file_prefix) },
	{ "lcores", "engines", "lcores", K_LCORES, 0, 0, F(lcores) },
	{ "provider", "engines", "provider", K_PROVIDER, 0, 0, F(provider) },
	{ "device", "engines", "device", K_PREFIX, 0, 0, F(device) },
	{ "device-port", "engines", "device_port", K_U32, 1, 255, F(device_port) },
	{ "gid-index", "engines", "gid_index", K_U32, 0, 255, F(gid_index) },
	{ "hugepages", "engines", "hugepages", K_HUGE, 0, 0, F(huge) },
	{ "mem", "engines", "memory_mb", K_U32, 16, 1u << 20, F(mem_mb) },
	{ "poll", "engines", "poll", K_POLL, 0, 0, F(poll_adaptive) },
	{ "poll-idle-us", "engines", "poll_idle_us", K_U32, 1, 1000000, F(poll_idle_us) },
	{ "poll-sleep-ms", "engines", "poll_sleep_ms", K_U32, 1, 10000, F(poll_sleep_ms) },
	{ "max-clients", "limits", "max_clients", K_U32, 1, 65536, F(max_clients) },
	{ "ctrl-ring-entries", "limits", "ctrl_ring_entries", K_POW2, NDK_ABI_RING_MIN_ENTRIES,
	  NDK_ABI_RING_MAX_ENTRIES, F(ctrl_ring_entries) },
	{ "mr-table-entries", "limits", "mr_table_entries", K_U32, 2, 1u << 24,
	  F(lim.mr_table_entries) },
	{ "max-mrs-per-client", "limits", "max_mrs_per_client", K_U32, 1, 1u << 24,
	  F(lim.max_mrs) },
	{ "max-pds-per-client", "limits", "max_pds_per_client", K_U32, 1, 1u << 20,
	  F(lim.max_pds) },
	{ "max-qps-per-client", "limits", "max_qps_per_client", K_U32, 1, NDKD_MAX_QPS_PER_CLIENT,
	  F(lim.max_qps) },
	{ "max-cqs-per-client", "limits", "max_cqs_per_client", K_U32, 1, 1u << 16,
	  F(lim.max_cqs) },
	{ "max-srqs-per-client", "limits", "max_srqs_per_client", K_U32, 0, 1u << 16,
	  F(lim.max_srqs) },
	{ "max-queue-depth", "limits", "max_queue_depth", K_U32, 1, NDKD_MAX_QUEUE_DEPTH,
	  F(lim.max_queue_depth) },
	{ "max-cq-depth", "limits", "max_cq_depth", K_U32, NDK_ABI_RING_MIN_ENTRIES,
	  NDK_ABI_RING_MAX_ENTRIES, F(lim.max_cq_depth) },
	{ "max-region-mb-per-client", "limits", "max_region_mb_per_client", K_MB, 1, 1ul << 30,
	  F(lim.max_region_bytes) },
	{ "max-registered-mb-per-client", "limits", "max_registered_mb_per_client", K_MB, 1,
	  1ul << 30, F(lim.max_registered_bytes) },
	{ "frmr-pages", "limits", "frmr_pages", K_U32, 16, NDKD_MAX_FRMR_PAGES,
	  F(lim.frmr_page_count) },
	{ "max-clients-per-uid", "limits", "max_clients_per_uid", K_U32, 0, 65536,
	  F(lim.uid_clients) },
	{ "max-mrs-per-uid", "limits", "max_mrs_per_uid", K_U32, 0, 1u << 24, F(lim.uid_mrs) },
	{ "max-qps-per-uid", "limits", "max_qps_per_uid", K_U32, 0, 1u << 24, F(lim.uid_qps) },
	{ "max-cqs-per-uid", "limits", "max_cqs_per_uid", K_U32, 0, 1u << 24, F(lim.uid_cqs) },
	{ "max-listeners-per-uid", "limits", "max_listeners_per_uid", K_U32, 1, 65535,
	  F(lim.uid_listeners) },
	{ "max-registered-mb-per-uid", "limits", "max_registered_mb_per_uid", K_MB, 0, 1ul << 30,
	  F(lim.uid_registered_bytes) },
	{ "privileged-ports", "limits", "privileged_ports", K_U32, 1, 65536,
	  F(lim.privileged_ports) },
	{ "privileged-port-uid", "limits", "privileged_port_uids", K_PORT_UIDS, 0, 0, 0 },
	{ "log-level", "log", "level", K_LOGLEVEL, 0, 0, F(log_level) },
	{ "port", "ports", "port", K_PORT, 0, 0, 0 },
	{ "addr", "ports", "addr", K_ADDR, 0, 0, 0 },
	{ "xdp", "ports", "xdp", K_XDP, 0, 0, 0 },
	{ "roce-timeout-us", "ports", "roce_timeout_us", K_U32, 100, 10000000, F(roce_timeout_us) },
	{ "roce-retries", "ports", "roce_retries", K_U32, 0, 7, F(roce_retries) },
	{ "roce-fault", "ports", "roce_fault", K_FAULT, 0, 0, 0 },
};

#define N_SETTINGS (sizeof(settings) / sizeof(settings[0]))
const size_t n_settings = N_SETTINGS;

/* getopt values: settings by index, then the flags that are not settings. */
enum {
	OPT_SETTING = 256,
	OPT_HUGE = OPT_SETTING + 64,
	OPT_NO_HUGE,
	OPT_CONFIG,
	OPT_CHECK_CONFIG,
	OPT_VERSION,
};

void
opts_usage(FILE *f, const char *prog)
{
	fprintf(f,
		"Usage: %s [OPTIONS] [-- EAL-OPTIONS]\n"
		"ndkd: the userspace RDMA datapath daemon that libndk clients attach to.\n"
		"\n"
		"  --config FILE          read settings from FILE (ndkd.conf(5)); flags\n"
		"                         given as well override the file's keys\n"
		"  --check-config FILE    validate FILE (and any other flags), print what\n"
		"                         is wrong with its line number, and exit: 0 when\n"
		"                         valid, 2 otherwise\n"
		"  --socket PATH          unix socket to listen on (default %s;\n"
		"                         its directory is created when missing)\n"
		"  --socket-mode MODE     octal mode of the socket file (default 0660)\n"
		"  --allow-uid USER       allow clients with this uid, a name or a number\n"
		"                         (repeatable; default: ndkd's own uid and root)\n"
		"  --allow-gid GROUP      allow clients whose primary gid is GROUP (repeatable)\n"
		"  --lcores LIST          EAL lcores: the first is the main lcore (socket,\n"
		"                         housekeeping), the others run one engine each; with\n"
		"                         one lcore the main lcore also runs the engine\n"
		"                         (default: the first two CPUs we may run on)\n"
		"  --file-prefix NAME     EAL file prefix; also names the telemetry socket\n"
		"                         directory that ndkctl reads (default %s)\n"
		"  --provider NAME        soft, verbs, mlx5 or auto (default auto: with no\n"
		"                         --port, mlx5 if there is such a device, else\n"
		"                         verbs if there is any, else soft)\n"
		"  --device NAME          the RDMA device of the verbs or mlx5 provider\n"
		"                         (rxe0, mlx5_0; default: the first one found)\n"
		"  --device-port N        its port (default 1)\n"
		"  --gid-index N          its RoCEv2 GID to send from (default: the first\n"
		"                         IPv4-mapped RoCEv2 GID of the port)\n"
		"  --poll MODE            always, or adaptive (default): an engine whose\n"
		"                         clients are idle for --poll-idle-us (default\n"
		"                         100) sleeps until a client rings, at most\n"
		"                         --poll-sleep-ms (default 50)\n"
		"  --hugepages WHEN       auto, yes or no (default auto: use them when some\n"
		"                         are free); --huge and --no-huge are yes and no\n"
		"  --mem MB               EAL memory without hugepages (default 256)\n"
		"  --max-clients N        attached clients at once (default 1024)\n"
		"  --ctrl-ring-entries N  control ring size per client, a power of two in\n"
		"                         [%u, %u] (default 256)\n"
		"  --log-level LEVEL      emerg, alert, crit, err, warning, notice, info,\n"
		"                         debug or 1..8 (default info)\n"
		"  --mr-table-entries N   MR table size, all clients together (default 1048576)\n"
		"  --max-mrs-per-client N           (default 65536)\n"
		"  --max-pds-per-client N           (default 1024)\n"
		"  --max-qps-per-client N           at most %u (default %u)\n"
		"  --max-cqs-per-client N           (default 1024)\n"
		"  --max-srqs-per-client N          shared receive queues, 0: none (default 256)\n"
		"  --max-queue-depth N              work requests per send or receive queue,\n"
		"                                   at most %u (default %u)\n"
		"  --max-cq-depth N                 results per CQ (default %u)\n"
		"  --max-region-mb-per-client MB    arena and attached-fd memory (default 16384)\n"
		"  --max-registered-mb-per-client MB  bytes under registered MRs (default 16384)\n"
		"  --frmr-pages N         pages one fast-register MR may map, 16..%u\n"
		"                         (default 256)\n"
		"  --max-clients-per-uid N          clients of one uid at once\n"
		"                                   (default 0: a quarter of --max-clients)\n"
		"  --max-mrs-per-uid N              MRs and windows of all clients of a uid\n"
		"                                   (default 0: a quarter of the MR table)\n"
		"  --max-qps-per-uid N              (default 0: a quarter of the QP table,\n"
		"                                   which has 4 per client slot)\n"
		"  --max-cqs-per-uid N              (default 0: 4 clients' worth)\n"
		"  --max-listeners-per-uid N        (default 256)\n"
		"  --max-registered-mb-per-uid MB   (default 0: 4 clients' worth)\n"
		"  --privileged-ports N   ports below N are listened on only by the\n"
		"                         --privileged-port-uid users (default 1024)\n"
		"  --privileged-port-uid USER  (repeatable; default: root and ndkd's uid)\n"
		"  --port DEVARGS         a NIC port for RoCEv2, as DPDK devargs\n"
		"                         (net_af_packet0,iface=eth0, net_memif0,..., a PCI\n"
		"                         address); repeatable, at most 4; replaces the\n"
		"                         file's ports; port N is RoCEv2 GID index N\n"
		"  --addr A.B.C.D/LEN     the IPv4 address of the --port before it; an\n"
		"                         af_xdp port shared with the kernel takes its\n"
		"                         interface's when none is given (a given one must\n"
		"                         be one of the interface's addresses)\n"
		"  --xdp steer|all        the af_xdp --port before it: steer (default)\n"
		"                         loads ndkd's XDP program, RoCEv2 to ndkd and the\n"
		"                         rest to the kernel; all: every frame to ndkd\n"
		"  --roce-timeout-us N    RC retransmit timeout, doubled per expiry in a row\n"
		"                         (default 20000)\n"
		"  --roce-retries N       retransmissions before a QP fails, 0..7 (default 7)\n"
		"  --roce-fault SPEC      test knob: drop=N,dup=N,reorder=N,icrc=N frames per\n"
		"                         1000 sent are dropped, sent twice, sent late or\n"
		"                         sent with a bad ICRC (default: none)\n"
		"  -h, --help             this text\n"
		"  --version              print the version\n"
		"\n"
		"Arguments after -- go to DPDK's EAL unchanged.\n"
		"Signals: SIGTERM and SIGINT stop ndkd cleanly (exit status 0).\n"
		"Exit status: 0 stopped cleanly, 1 could not start, 2 bad settings.\n",
		prog, NDK_DEFAULT_SOCKET, NDKD_DEFAULT_PREFIX, NDK_ABI_RING_MIN_ENTRIES,
		NDK_ABI_RING_MAX_ENTRIES, NDKD_MAX_QPS_PER_CLIENT, NDKD_MAX_QPS_PER_CLIENT,
		NDKD_MAX_QUEUE_DEPTH, NDKD_MAX_QUEUE_DEPTH, NDK_ABI_RING_MAX_ENTRIES,
		NDKD_MAX_FRMR_PAGES);
}

static char default_lcores[32];

/*
 * Per-uid limits not set: a quarter of each table every tenant shares (the
 * client slots, the MR table, the QP table: 4 per client slot), and 4
 * clients' worth of CQs and registered bytes. No one uid takes all of one.
 */
static void
opts_derive_uid_limits(struct ndkd_opts *o)
{
	struct ndkd_limits *l = &o->lim;

	if (l->uid_clients == 0)
		l->uid_clients = RTE_MAX(o->max_clients / 4, 1u);
	if (l->uid_mrs == 0)
		l->uid_mrs = RTE_MAX(l->mr_table_entries / 4, 1u);
	if (l->uid_qps == 0)
		l->uid_qps = RTE_MAX(o->max_clients, 1u); /* a quarter of 4 per client slot */
	if (l->uid_cqs == 0)
		l->uid_cqs = 4 * l->max_cqs;
	if (l->uid_registered_bytes == 0)
		l->uid_registered_bytes = 4 * l->max_registered_bytes;
}

void
opts_defaults(struct ndkd_opts *o)
{
	cpu_set_t set;
	int cpu, found = 0;
	int first = 0, second = -1;

	memset(o, 0, sizeof(*o));
	o->socket_path = NDK_DEFAULT_SOCKET;
	o->socket_mode = 0660;
	o->file_prefix = NDKD_DEFAULT_PREFIX;
	o->provider = "auto";
	o->poll_adaptive = true;
	o->poll_idle_us = 100;
	o->poll_sleep_ms = 50;
	o->device_port = 1;
	o->gid_index = NDKD_GID_AUTO;
	o->huge = -1;
	o->mem_mb = 256;
	o->max_clients = 1024;
	o->ctrl_ring_entries = 256;
	o->log_level = "info";
	o->lim.mr_table_entries = 1u << 20;
	o->lim.max_mrs = 65536;
	o->lim.max_pds = 1024;
	o->lim.max_qps = NDKD_MAX_QPS_PER_CLIENT;
	o->lim.max_cqs = 1024;
	o->lim.max_srqs = 256;
	o->lim.max_queue_depth = NDKD_MAX_QUEUE_DEPTH;
	o->lim.max_cq_depth = NDK_ABI_RING_MAX_ENTRIES;
	o->lim.max_regions = NDKD_MAX_REGIONS;
	o->lim.max_region_bytes = 16384ull << 20;
	o->lim.max_registered_bytes = 16384ull << 20;
	o->lim.frmr_page_count = 256;
	/* per-uid limits left 0 are derived from the tables once all is read */
	o->lim.uid_listeners = 256;
	o->lim.privileged_ports = 1024;
	o->roce_timeout_us = 20000;
	o->roce_retries = 7;

	if (sched_getaffinity(0, sizeof(set), &set) == 0) {
		for (cpu = 0; cpu < CPU_SETSIZE && found < 2; cpu++) {
			if (!CPU_ISSET(cpu, &set))
				continue;
			if (found++ == 0)
				first = cpu;
			else
				second = cpu;
		}
	}
	if (second >= 0)
		snprintf(default_lcores, sizeof(default_lcores), "%d,%d", first, second);
	else
		snprintf(default_lcores, sizeof(default_lcores), "%d", first);
	o->lcores = default_lcores;
}

void
opts_free(struct ndkd_opts *o)
{
	unsigned int i;

	for (i = 0; i < o->n_owned; i++)
		free(o->owned[i]);
	o->n_owned = 0;
}

/* Strings from the config file outlive it: ndkd_opts owns a copy. */
static const char *
keep(struct ndkd_opts *o, const char *s, char *err, size_t errlen)
{
	char *copy;

	if (o->n_owned == NDKD_MAX_OWNED_STRINGS || (copy = strdup(s)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	o->owned[o->n_owned++] = copy;
	return copy;
}

int
bad(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static int
parse_number(const char *s, int base, unsigned long *out)
{
	char *end;

	errno = 0;
	if (s[0] == '-' || s[0] == '+' || s[0] == '\0' || isspace((unsigned char)s[0]))
		return -1;
	*out = strtoul(s, &end, base);
	return errno == 0 && *end == '\0' ? 0 : -1;
}

/* One user or group: a number, or a name looked up in the passwd/group database. */
static int
parse_id(const char *s, bool group, unsigned long *out)
{
	if (parse_number(s, 10, out) == 0)
		return *out < UINT_MAX ? 0 : -1;
	if (group) {
		const struct group *g = getgrnam(s);

		if (g == NULL)
			return -1;
		*out = g->gr_gid;
	} else {
		const struct passwd *p = getpwnam(s);

		if (p == NULL)
			return -1;
		*out = p->pw_uid;
	}
	return 0;
}

/* A list of ids separated by commas or blanks; append to the setting's list. */
static int
add_ids(struct ndkd_opts *o, enum kind kind, const char *v, char *err, size_t errlen)
{
	bool group = kind == K_GIDS;
	unsigned int *n = group			? &o->n_allow_gid
			  : kind == K_PORT_UIDS ? &o->lim.n_port_uid
						: &o->n_allow_uid;
	char buf[CFG_VALUE_LEN], *tok, *save = NULL;
	unsigned long id;

	if (strlen(v) >= sizeof(buf))
		return bad(err, errlen, "value too long");
	memcpy(buf, v, strlen(v) + 1); /* length checked above */
	for (tok = strtok_r(buf, ", \t", &save); tok != NULL; tok = strtok_r(NULL, ", \t", &save)) {
		if (parse_id(tok, group, &id) != 0)
			return bad(err, errlen, "'%s' is not a %s name or number", tok,
				   group ? "group" : "user");
		if (*n == NDKD_MAX_ALLOWED_IDS)
			return bad(err, errlen, "more than %d ids", NDKD_MAX_ALLOWED_IDS);
		if (group)
			o->allow_gid[(*n)++] = (gid_t)id;
		else if (kind == K_PORT_UIDS)
			o->lim.port_uid[(*n)++] = (uid_t)id;
		else
			o->allow_uid[(*n)++] = (uid_t)id;
	}
	if (*n == 0)
		return bad(err, errlen, "no %s given", group ? "group" : "user");
	return 0;
}

/* DPDK's af_xdp PMD's devargs (net_af_xdp, net_af_xdp0, ...) */
static bool
is_af_xdp(const char *devargs)
{
	return strncmp(devargs, "net_af_xdp", strlen("net_af_xdp")) == 0;
}

static bool
lcores_syntax_ok(const char *s)
{
	/* EAL checks the list itself; catch what is plainly not one, before EAL starts */
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++) {
		if (!isdigit((unsigned char)*s) && strchr(",-@()", *s) == NULL)
			return false;
	}
	return true;
}

static const char *const log_levels[] = { "emerg",   "alert",  "crit", "err",
					  "warning", "notice", "info", "debug" };

/*
 * Parse v for setting s into o. On error, -1 with a message in err that
 * names the value and what was expected (the caller adds where it came from).
 */
int
setting_apply(struct ndkd_opts *o, const struct setting *s, const char *v, bool copy, char *err,
	      size_t errlen)
{
	char *field = (char *)o + s->off;
	unsigned long n;
	unsigned int i;

	switch (s->kind) {
	case K_U32:
	case K_POW2:
	case K_MB:
	case K_OCTAL:
		if (parse_number(v, s->kind == K_OCTAL ? 8 : 10, &n) != 0 || n < s->min ||
		    n > s->max) {
			if (s->kind == K_OCTAL)
				return bad(err, errlen, "bad value '%s' (expected octal %lo..%lo)",
					   v, s->min, s->max);
			return bad(err, errlen, "bad value '%s' (expected %lu..%lu)", v, s->min,
				   s->max);
		}
		if (s->kind == K_POW2 && (n & (n - 1)) != 0)
			return bad(err, errlen, "'%s' is not a power of two", v);
		if (s->kind == K_MB)
			*(uint64_t *)(void *)field = (uint64_t)n << 20;
		else
			*(uint32_t *)(void *)field = (uint32_t)n;
		return 0;
	case K_SOCKET:
		if (v[0] != '/' || strlen(v) >= 108)
			return bad(err, errlen, "'%s' is not an absolute path under 108 bytes", v);
		break;
	case K_PREFIX:
		if (v[0] == '\0' || strchr(v, '/') != NULL || strlen(v) >= 64)
			return bad(err, errlen, "'%s' is not a plain name", v);
		break;
	case K_LCORES:
		if (!lcores_syntax_ok(v))
			return bad(err, errlen, "'%s' is not an lcore list like 0,1 or 2-5", v);
		break;
	case K_PROVIDER:
		if (strcmp(v, "soft") != 0 && strcmp(v, "verbs") != 0 && strcmp(v, "mlx5") != 0 &&
		    strcmp(v, "auto") != 0)
			return bad(err, errlen, "'%s' is not soft, verbs, mlx5 or auto", v);
		break;
	case K_POLL:
		if (strcmp(v, "always") == 0)
			*(bool *)(void *)field = false;
		else if (strcmp(v, "adaptive") == 0)
			*(bool *)(void *)field = true;
		else
			return bad(err, errlen, "'%s' is not always or adaptive", v);
		return 0;
	case K_HUGE:
		if (strcmp(v, "auto") == 0)
			*(int *)(void *)field = -1;
		else if (strcmp(v, "yes") == 0)
			*(int *)(void *)field = 1;
		else if (strcmp(v, "no") == 0)
			*(int *)(void *)field = 0;
		else
			return bad(err, errlen, "'%s' is not auto, yes or no", v);
		return 0;
	case K_UIDS:
	case K_GIDS:
	case K_PORT_UIDS:
		return add_ids(o, s->kind, v, err, errlen);
	case K_PORT:
		if (o->n_ports == NDKD_MAX_PORTS)
			return bad(err, errlen, "more than %d ports", NDKD_MAX_PORTS);
		if (v[0] == '\0' || strlen(v) >= 256)
			return bad(err, errlen,
				   "'%s' is not DPDK devargs like net_af_packet0,iface=eth0", v);
		if (copy && (v = keep(o, v, err, errlen)) == NULL)
			return -1;
		o->ports[o->n_ports++] = (struct ndkd_port_cfg){ .devargs = v };
		return 0;
	case K_ADDR: {
		unsigned int a, b, c, d, len;
		char end;

		if (o->n_ports == 0)
			return bad(err, errlen,
				   "an address belongs to the port before it: no port yet");
		if (sscanf(v, "%u.%u.%u.%u/%u%c", &a, &b, &c, &d, &len, &end) != 5 || a > 255 ||
		    b > 255 || c > 255 || d > 255 || len < 1 || len > 32)
			return bad(err, errlen,
				   "'%s' is not an IPv4 address with its prefix, A.B.C.D/LEN", v);
		if (o->ports[o->n_ports - 1].ip != 0)
			return bad(err, errlen, "port %s has an address already",
				   o->ports[o->n_ports - 1].devargs);
		o->ports[o->n_ports - 1].ip = a << 24 | b << 16 | c << 8 | d;
		o->ports[o->n_ports - 1].prefix = (uint8_t)len;
		return 0;
	}
	case K_XDP:
		if (o->n_ports == 0)
			return bad(err, errlen,
				   "an xdp mode belongs to the port before it: no port yet");
		if (!is_af_xdp(o->ports[o->n_ports - 1].devargs))
			return bad(err, errlen, "port %s is not an af_xdp port (net_af_xdp...)",
				   o->ports[o->n_ports - 1].devargs);
		if (o->ports[o->n_ports - 1].xdp != NDKD_XDP_NONE)
			return bad(err, errlen, "port %s has an xdp mode already",
				   o->ports[o->n_ports - 1].devargs);
		if (strcmp(v, "steer") == 0)
			o->ports[o->n_ports - 1].xdp = NDKD_XDP_STEER;
		else if (strcmp(v, "all") == 0)
			o->ports[o->n_ports - 1].xdp = NDKD_XDP_ALL;
		else
			return bad(err, errlen, "'%s' is not steer or all", v);
		return 0;
	case K_FAULT: {
		struct ndkd_roce_fault f = { 0 };
		const char *q = v;

		while (*q != '\0') {
			unsigned int n2;
			char key[8];
			int used = 0;

			if (sscanf(q, "%7[a-z]=%u%n", key, &n2, &used) != 2 || n2 > 1000)
				return bad(err, errlen,
					   "'%s' is not drop=N,dup=N,reorder=N,icrc=N (N per 1000)",
					   v);
			if (strcmp(key, "drop") == 0)
				f.drop = (uint16_t)n2;
			else if (strcmp(key, "dup") == 0)
				f.dup = (uint16_t)n2;
			else if (strcmp(key, "reorder") == 0)
				f.reorder = (uint16_t)n2;
			else if (strcmp(key, "icrc") == 0)
				f.icrc = (uint16_t)n2;
			else
				return bad(err, errlen, "'%s': no fault called %s", v, key);
			q += used;
			if (*q == ',')
				q++;
			else if (*q != '\0')
				return bad(err, errlen, "'%s': expected a comma after %s", v, key);
		}
		o->roce_fault = f;
		return 0;
	}
	case K_LOGLEVEL:
		for (i = 0; i < sizeof(log_levels) / sizeof(log_levels[0]); i++) {
			if (strcmp(v, log_levels[i]) == 0)
				break;
		}
		if (i == sizeof(log_levels) / sizeof(log_levels[0]) &&
		    (parse_number(v, 10, &n) != 0 || n < 1 || n > 8))
			return bad(err, errlen,
				   "'%s' is not emerg, alert, crit, err, warning, notice, "
				   "info, debug or 1..8",
				   v);
		break;
	}
	/* the string kinds: argv outlives ndkd_opts, the config file's values do not */
	if (copy && (v = keep(o, v, err, errlen)) == NULL)
		return -1;
	*(const char **)(void *)field = v;
	return 0;
}

/* ------------------------------------------------------------------------
 * Command line
 * --------------------------------------------------------------------- */

static void
build_long_opts(struct option *lo)
{
	size_t i, n = 0;

	for (i = 0; i < n_settings; i++)
		lo[n++] = (struct option){ settings[i].flag, required_argument, NULL,
					   OPT_SETTING + (int)i };
	lo[n++] = (struct option){ "huge", no_argument, NULL, OPT_HUGE };
	lo[n++] = (struct option){ "no-huge", no_argument, NULL, OPT_NO_HUGE };
	lo[n++] = (struct option){ "config", required_argument, NULL, OPT_CONFIG };
	lo[n++] = (struct option){ "check-config", required_argument, NULL, OPT_CHECK_CONFIG };
	lo[n++] = (struct option){ "help", no_argument, NULL, 'h' };
	lo[n++] = (struct option){ "version", no_argument, NULL, OPT_VERSION };
	lo[n] = (struct option){ NULL, 0, NULL, 0 };
}

int
opts_parse(struct ndkd_opts *o, int argc, char **argv)
{
	struct option lo[N_SETTINGS + 8];
	const char *config = NULL;
	bool uids_from_flags = false, gids_from_flags = false, port_uids_from_flags = false;
	bool ports_from_flags = false;
	bool check = false;
	char msg[512];
	int c, i;

	_Static_assert(N_SETTINGS < 64, "getopt values of settings stay below OPT_HUGE");
	opts_defaults(o);
	build_long_opts(lo);

	/* First pass: --config/--check-config, --help, --version; the file goes under the flags. */
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+h", lo, NULL)) != -1) {
		if (c == OPT_CONFIG || c == OPT_CHECK_CONFIG) {
			if (config != NULL) {
				fprintf(stderr, "ndkd: one --config or --check-config at most\n");
				return -1;
			}
			config = optarg;
			check = c == OPT_CHECK_CONFIG;
		} else if (c == 'h') {
			opts_usage(stdout, argv[0]);
			return 1;
		} else if (c == OPT_VERSION) {
			printf("ndkd %s (ABI %u)\n", NDKD_VERSION, NDK_ABI_VERSION);
			return 1;
		}
	}
	if (config != NULL && opts_load_config(o, config, msg, sizeof(msg)) != 0) {
		fprintf(stderr, "ndkd: %s\n", msg);
		return -1;
	}
	o->config_path = config;

	optind = 1;
	opterr = 1;
	while ((c = getopt_long(argc, argv, "+h", lo, NULL)) != -1) {
		const struct setting *s;

		switch (c) {
		case OPT_CONFIG:
		case OPT_CHECK_CONFIG:
			break;
		case OPT_HUGE:
			o->huge = 1;
			break;
		case OPT_NO_HUGE:
			o->huge = 0;
			break;
		case 'h':
		case OPT_VERSION:
			break; /* handled in the first pass */
		default:
			if (c < OPT_SETTING || c >= OPT_SETTING + (int)n_settings) {
				fprintf(stderr, "Try '%s --help'.\n", argv[0]);
				return -1;
			}
			s = &settings[c - OPT_SETTING];
			/* ids from flags replace the file's list instead of adding to it */
			if (s->kind == K_UIDS && !uids_from_flags) {
				o->n_allow_uid = 0;
				uids_from_flags = true;
			}
			if (s->kind == K_GIDS && !gids_from_flags) {
				o->n_allow_gid = 0;
				gids_from_flags = true;
			}
			if (s->kind == K_PORT_UIDS && !port_uids_from_flags) {
				o->lim.n_port_uid = 0;
				port_uids_from_flags = true;
			}
			/* so do ports */
			if (s->kind == K_PORT && !ports_from_flags) {
				o->n_ports = 0;
				ports_from_flags = true;
			}
			if (setting_apply(o, s, optarg, false, msg, sizeof(msg)) != 0) {
				fprintf(stderr, "ndkd: --%s: %s\n", s->flag, msg);
				return -1;
			}
		}
	}
	/* "+h" stops at the first non-option: only what follows "--" is EAL's. */
	if (optind < argc && strcmp(argv[optind - 1], "--") != 0) {
		fprintf(stderr, "ndkd: unexpected argument '%s' (EAL options go after --)\n",
			argv[optind]);
		return -1;
	}
	for (i = optind; i < argc; i++) {
		if (o->n_eal_extra == NDKD_MAX_EAL_ARGS) {
			fprintf(stderr, "ndkd: too many EAL arguments\n");
			return -1;
		}
		o->eal_extra[o->n_eal_extra++] = argv[i];
	}
	if (o->n_allow_uid == 0) {
		o->allow_uid[o->n_allow_uid++] = getuid();
		if (getuid() != 0)
			o->allow_uid[o->n_allow_uid++] = 0;
	}
	opts_derive_uid_limits(o);
	for (i = 0; i < (int)o->n_ports; i++) {
		struct ndkd_port_cfg *pc = &o->ports[i];

		if (pc->xdp == NDKD_XDP_NONE && is_af_xdp(pc->devargs))
			pc->xdp = NDKD_XDP_STEER;
		if (pc->xdp == NDKD_XDP_STEER && strstr(pc->devargs, ",iface=") == NULL) {
			fprintf(stderr, "ndkd: --port %s: no iface= to share with the kernel\n",
				pc->devargs);
			return -1;
		}
		/* a port shared with the kernel may take its interface's address */
		if (pc->ip == 0 && pc->xdp != NDKD_XDP_STEER) {
			fprintf(stderr, "ndkd: --port %s: no --addr after it\n", pc->devargs);
			return -1;
		}
	}
	if (o->lim.n_port_uid == 0) {
		o->lim.port_uid[o->lim.n_port_uid++] = getuid();
		if (getuid() != 0)
			o->lim.port_uid[o->lim.n_port_uid++] = 0;
	}
	if (check) {
		printf("ndkd: %s: valid\n", config);
		return 1;
	}
	return 0;
}

bool
opts_wants_pci(const struct ndkd_opts *o)
{
	static const char *const pci_opts[] = {
		"-a", "--allow", "-b", "--block", "-w", "--pci-whitelist", "--pci-blacklist",
	};
	unsigned int i, j;

	for (i = 0; i < o->n_eal_extra; i++) {
		const char *a = o->eal_extra[i];

		for (j = 0; j < sizeof(pci_opts) / sizeof(pci_opts[0]); j++) {
			size_t n = strlen(pci_opts[j]);

			/* "-a ADDR", "-aADDR", "--allow ADDR", "--allow=ADDR" */
			if (strncmp(a, pci_opts[j], n) == 0 &&
			    (a[n] == '\0' || a[n] == '=' || pci_opts[j][1] != '-'))
				return true;
		}
	}
	return false;
}
