/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ndkctl: look at a running ndkd through its DPDK telemetry socket (the same
 * data the stock dpdk-telemetry.py shows).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#define TEL_BUF	    (64 * 1024)
#define RTE_DIM_(a) (sizeof(a) / sizeof((a)[0]))

static void
usage(FILE *f)
{
	fprintf(f, "Usage: ndkctl [OPTIONS] COMMAND\n"
		   "Show the state of a running ndkd.\n"
		   "\n"
		   "Commands:\n"
		   "  status    daemon counters: clients, requests, refusals\n"
		   "  clients   one line per attached client\n"
		   "  objects   what each client holds; MR table entries in use\n"
		   "            (the first 64)\n"
		   "  stats     per-engine counters\n"
		   "  ports     RoCEv2 ports: address, MTUs and counters\n"
		   "  provider  the provider: its device, firmware, limits and counters\n"
		   "\n"
		   "Options:\n"
		   "  --file-prefix NAME       the ndkd's file prefix (default ndkd); its\n"
		   "                           socket is looked for where a root ndkd puts\n"
		   "                           it, then under /run/ndkd (the service's)\n"
		   "  --telemetry-socket PATH  read this telemetry socket instead\n"
		   "  --json                   machine-readable output\n"
		   "  -h, --help               this text\n"
		   "\n"
		   "Exit status: 0 ok, 1 ndkd not reachable or answered an error, 2 usage.\n");
}

/*
 * Where EAL puts the telemetry socket of an ndkd with this prefix
 * (eal_create_runtime_dir): $RUNTIME_DIRECTORY when set, else /var/run for
 * root, $XDG_RUNTIME_DIR or /tmp for others. The systemd unit's ndkd has
 * RUNTIME_DIRECTORY=/run/ndkd, which a shell does not: look there too.
 */
static void
default_socket(char *buf, size_t len, const char *prefix)
{
	const char *dirs[3], *rd = getenv("RUNTIME_DIRECTORY");
	unsigned int n = 0, i;

	if (rd != NULL) {
		dirs[n++] = rd;
	} else if (getuid() == 0) {
		dirs[n++] = "/var/run";
	} else {
		const char *xdg = getenv("XDG_RUNTIME_DIR");

		dirs[n++] = xdg != NULL ? xdg : "/tmp";
	}
	dirs[n++] = "/run/ndkd";
	for (i = 0; i < n; i++) {
		snprintf(buf, len, "%s/dpdk/%s/dpdk_telemetry.v2", dirs[i], prefix);
		if (access(buf, F_OK) == 0)
			return;
	}
	/* none exists: name the first, so the error says where we looked first */
	snprintf(buf, len, "%s/dpdk/%s/dpdk_telemetry.v2", dirs[0], prefix);
}

static int
tel_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char *buf;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "ndkctl: socket path too long: %s\n", path);
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1); /* length checked above */
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		fprintf(stderr, "ndkctl: ndkd is not running (cannot connect to %s: %s)\n", path,
			strerror(errno));
		close(fd);
		return -1;
	}
	/* The server greets first with its version and limits; we need none of it. */
	buf = malloc(TEL_BUF);
	if (buf == NULL || recv(fd, buf, TEL_BUF, 0) <= 0) {
		fprintf(stderr, "ndkctl: %s closed the connection\n", path);
		free(buf);
		close(fd);
		return -1;
	}
	free(buf);
	return fd;
}

/* Send one command and return the value under its key, or NULL after an error message. */
static json_t *
tel_query(int fd, const char *cmd)
{
	char *buf = malloc(TEL_BUF + 1);
	json_error_t err;
	json_t *root, *v;
	char key[128];
	size_t key_len;
	ssize_t n;

	if (buf == NULL)
		return NULL;
	if (send(fd, cmd, strlen(cmd), 0) < 0 || (n = recv(fd, buf, TEL_BUF, 0)) <= 0) {
		fprintf(stderr, "ndkctl: telemetry query %s failed\n", cmd);
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	root = json_loads(buf, 0, &err);
	free(buf);
	if (root == NULL) {
		fprintf(stderr, "ndkctl: bad telemetry reply to %s: %s\n", cmd, err.text);
		return NULL;
	}
	/* The reply is keyed by the command without its parameters. */
	key_len = strcspn(cmd, ",");
	snprintf(key, sizeof(key), "%.*s", (int)key_len, cmd);
	v = json_object_get(root, key);
	if (v == NULL || json_is_null(v)) {
		fprintf(stderr, "ndkctl: %s: no such command (is this an ndkd?)\n", cmd);
		json_decref(root);
		return NULL;
	}
	json_incref(v);
	json_decref(root);
	return v;
}

/* --json output: pretty, in the daemon's key order; takes the reference. */
static void
print_json(json_t *v)
{
	json_dumpf(v, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	printf("\n");
	json_decref(v);
}

static void
print_value(const json_t *v)
{
	if (json_is_integer(v))
		printf("%lld\n", (long long)json_integer_value(v));
	else if (json_is_string(v))
		printf("%s\n", json_string_value(v));
	else
		printf("%s\n", "?");
}

/* A dict endpoint, one key and value per line. */
static int
cmd_dict(int fd, const char *path, int json, const char *endpoint)
{
	json_t *st = tel_query(fd, endpoint);
	const char *key;
	json_t *v;

	if (st == NULL)
		return 1;
	if (json) {
		print_json(json_incref(st));
	} else {
		printf("%-20s %s\n", "telemetry", path);
		json_object_foreach (st, key, v) {
			printf("%-20s ", key);
			print_value(v);
		}
	}
	json_decref(st);
	return 0;
}

static int
cmd_status(int fd, const char *path, int json)
{
	return cmd_dict(fd, path, json, "/ndkd/status");
}

static int
cmd_clients(int fd, const char *path, int json)
{
	json_t *ids = tel_query(fd, "/ndkd/clients");
	json_t *all, *id;
	size_t i;
	int rc = 0;

	if (ids == NULL || !json_is_array(ids))
		return 1;
	all = json_array();
	json_array_foreach (ids, i, id) {
		char cmd[64];
		json_t *c;

		snprintf(cmd, sizeof(cmd), "/ndkd/client,%lld", (long long)json_integer_value(id));
		c = tel_query(fd, cmd);
		/* A client may detach between the two queries: skip it. */
		if (c != NULL)
			json_array_append_new(all, c);
	}
	if (json) {
		print_json(json_incref(all));
	} else {
		printf("telemetry %s\n\n", path);
		printf("%-8s %-8s %-6s %-6s %-10s %-14s %-8s %s\n", "ID", "PID", "UID", "ENGINE",
		       "STATE", "REQUESTS", "BAD", "NAME");
		json_array_foreach (all, i, id) {
			printf("%-8lld %-8lld %-6lld %-6lld %-10s %-14lld %-8lld %s\n",
			       (long long)json_integer_value(json_object_get(id, "id")),
			       (long long)json_integer_value(json_object_get(id, "pid")),
			       (long long)json_integer_value(json_object_get(id, "uid")),
			       (long long)json_integer_value(json_object_get(id, "engine")),
			       json_string_value(json_object_get(id, "state")),
			       (long long)json_integer_value(json_object_get(id, "requests")),
			       (long long)json_integer_value(json_object_get(id, "bad_requests")),
			       json_string_value(json_object_get(id, "name")));
		}
	}
	json_decref(all);
	json_decref(ids);
	return rc;
}

/* Turn {"col": [..], ...} with columns of equal length into [{"col": v, ...}, ...]. */
static json_t *
rows_of(const json_t *reply, const char *const *cols, size_t ncols)
{
	const json_t *first = json_object_get(reply, cols[0]);
	json_t *rows = json_array();
	size_t i, k, n = json_is_array(first) ? json_array_size(first) : 0;

	for (i = 0; i < n; i++) {
		json_t *row = json_object();

		for (k = 0; k < ncols; k++) {
			json_t *v = json_array_get(json_object_get(reply, cols[k]), i);

			json_object_set(row, cols[k], v != NULL ? v : json_null());
		}
		json_array_append_new(rows, row);
	}
	return rows;
}

static long long
ival(const json_t *row, const char *key)
{
	return (long long)json_integer_value(json_object_get(row, key));
}

static int
cmd_objects(int fd, const char *path, int json)
{
	static const char *const ocols[] = { "client",	"engine",	"pds",
					     "mrs",	"cqs",		"qps",
					     "regions", "region_bytes", "registered_bytes" };
	static const char *const mcols[] = { "token", "state", "kind",	 "client",
					     "pd",    "va",    "length", "access" };
	json_t *objs = tel_query(fd, "/ndkd/objects"), *mrs = NULL, *orows, *mrows, *row;
	size_t i;

	if (objs == NULL || (mrs = tel_query(fd, "/ndkd/mrs")) == NULL) {
		json_decref(objs);
		return 1;
	}
	orows = rows_of(objs, ocols, RTE_DIM_(ocols));
	mrows = rows_of(mrs, mcols, RTE_DIM_(mcols));
	if (json) {
		json_t *all = json_pack("{s:O, s:O, s:O, s:O}", "clients", orows, "mrs", mrows,
					"mrs_in_use", json_object_get(mrs, "in_use"), "mrs_shown",
					json_object_get(mrs, "shown"));

		print_json(all);
	} else {
		printf("telemetry %s\n\n", path);
		printf("%-8s %-6s %-6s %-8s %-6s %-6s %-8s %-14s %s\n", "CLIENT", "ENGINE", "PDS",
		       "MRS", "CQS", "QPS", "REGIONS", "REGION_BYTES", "REGISTERED_BYTES");
		json_array_foreach (orows, i, row)
			printf("%-8lld %-6lld %-6lld %-8lld %-6lld %-6lld %-8lld %-14lld %lld\n",
			       ival(row, "client"), ival(row, "engine"), ival(row, "pds"),
			       ival(row, "mrs"), ival(row, "cqs"), ival(row, "qps"),
			       ival(row, "regions"), ival(row, "region_bytes"),
			       ival(row, "registered_bytes"));
		printf("\nMR table: %lld entries in use", ival(mrs, "in_use"));
		if (ival(mrs, "shown") < ival(mrs, "in_use"))
			printf(" (the first %lld below)", ival(mrs, "shown"));
		printf("\n%-10s %-9s %-14s %-8s %-6s %-18s %-12s %s\n", "TOKEN", "STATE", "KIND",
		       "CLIENT", "PD", "VA", "LENGTH", "ACCESS");
		json_array_foreach (mrows, i, row)
			printf("0x%-8llx %-9s %-14s %-8lld %-6lld 0x%-16llx %-12lld 0x%llx\n",
			       ival(row, "token"), json_string_value(json_object_get(row, "state")),
			       json_string_value(json_object_get(row, "kind")), ival(row, "client"),
			       ival(row, "pd"), ival(row, "va"), ival(row, "length"),
			       ival(row, "access"));
	}
	json_decref(orows);
	json_decref(mrows);
	json_decref(objs);
	json_decref(mrs);
	return 0;
}

static int
cmd_stats(int fd, const char *path, int json)
{
	static const char *const cols[] = { "engine_lcore",	  "engine_clients",
					    "engine_requests",	  "engine_bad_requests",
					    "engine_broken",	  "engine_heartbeat",
					    "engine_asleep",	  "engine_sleeps",
					    "engine_bell_wakeups" };
	json_t *st = tel_query(fd, "/ndkd/stats"), *rows, *row;
	size_t i;

	if (st == NULL)
		return 1;
	rows = rows_of(st, cols, RTE_DIM_(cols));
	if (json) {
		json_t *all =
			json_pack("{s:O, s:O, s:O, s:O, s:O, s:O}", "engines", rows,
				  "requests_served", json_object_get(st, "requests_served"),
				  "bad_requests", json_object_get(st, "bad_requests"),
				  "mr_table_entries", json_object_get(st, "mr_table_entries"),
				  "mr_entries_in_use", json_object_get(st, "mr_entries_in_use"),
				  "engine_count", json_object_get(st, "engines"));

		print_json(all);
	} else {
		printf("telemetry %s\n\n", path);
		printf("%-7s %-6s %-8s %-14s %-8s %-7s %-12s %-8s %s\n", "ENGINE", "LCORE",
		       "CLIENTS", "REQUESTS", "BAD", "BROKEN", "HEARTBEAT", "STATE", "SLEEPS");
		json_array_foreach (rows, i, row)
			printf("%-7zu %-6lld %-8lld %-14lld %-8lld %-7lld %-12lld %-8s %lld\n", i,
			       ival(row, "engine_lcore"), ival(row, "engine_clients"),
			       ival(row, "engine_requests"), ival(row, "engine_bad_requests"),
			       ival(row, "engine_broken"), ival(row, "engine_heartbeat"),
			       ival(row, "engine_asleep") ? "asleep" : "polling",
			       ival(row, "engine_sleeps"));
		printf("\nrequests served %lld, malformed %lld; MR table %lld of %lld entries in "
		       "use\n",
		       ival(st, "requests_served"), ival(st, "bad_requests"),
		       ival(st, "mr_entries_in_use"), ival(st, "mr_table_entries"));
	}
	json_decref(rows);
	json_decref(st);
	return 0;
}

/* Every column of /ndkd/ports (arrays, one element per port), turned into one object per port. */
static json_t *
port_rows(const json_t *reply)
{
	json_t *rows = json_array();
	size_t i, n = (size_t)json_integer_value(json_object_get(reply, "ports"));

	for (i = 0; i < n; i++) {
		json_t *row = json_object();
		const char *key;
		json_t *col;

		json_object_foreach ((json_t *)reply, key, col)
			if (json_is_array(col) && json_array_get(col, i) != NULL)
				json_object_set(row, key, json_array_get(col, i));
		json_array_append_new(rows, row);
	}
	return rows;
}

static int
cmd_ports(int fd, const char *path, int json)
{
	json_t *st = tel_query(fd, "/ndkd/ports"), *rows, *row;
	size_t i;

	if (st == NULL)
		return 1;
	rows = port_rows(st);
	json_decref(st);
	if (json) {
		print_json(rows);
		return 0;
	}
	printf("telemetry %s\n", path);
	if (json_array_size(rows) == 0)
		printf("\nno ports (ndkd was started without --port)\n");
	json_array_foreach (rows, i, row) {
		const char *key;
		json_t *v;
		int k = 0;

		printf("\n%s %s: ethdev %lld, MTU %lld, RoCE path MTU %lld\n",
		       json_string_value(json_object_get(row, "name")),
		       json_string_value(json_object_get(row, "addr")), ival(row, "ethdev"),
		       ival(row, "mtu"), ival(row, "path_mtu"));
		if (ival(row, "xdp_prog_id") != 0)
			printf("  mode %s, XDP program id %lld (pass %lld, redirect %lld, drop "
			       "%lld)\n",
			       json_string_value(json_object_get(row, "mode")),
			       ival(row, "xdp_prog_id"), ival(row, "xdp_pass"),
			       ival(row, "xdp_redirect"), ival(row, "xdp_drop"));
		else
			printf("  mode %s\n", json_string_value(json_object_get(row, "mode")));
		json_object_foreach (row, key, v) {
			if (!json_is_integer(v) || strcmp(key, "ethdev") == 0 ||
			    strcmp(key, "mtu") == 0 || strcmp(key, "path_mtu") == 0 ||
			    strncmp(key, "xdp_", 4) == 0)
				continue;
			printf("  %-16s %-12lld%s", key, (long long)json_integer_value(v),
			       ++k % 3 == 0 ? "\n" : "");
		}
		if (k % 3 != 0)
			printf("\n");
	}
	json_decref(rows);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "file-prefix", required_argument, NULL, 'p' },
		{ "telemetry-socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *prefix = "ndkd", *sock = NULL, *cmd;
	char path[256];
	int c, json = 0, fd, rc;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			prefix = optarg;
			break;
		case 's':
			sock = optarg;
			break;
		case 'j':
			json = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	cmd = argv[optind];
	if (strcmp(cmd, "status") != 0 && strcmp(cmd, "clients") != 0 &&
	    strcmp(cmd, "objects") != 0 && strcmp(cmd, "stats") != 0 && strcmp(cmd, "ports") != 0 &&
	    strcmp(cmd, "provider") != 0) {
		fprintf(stderr, "ndkctl: unknown command '%s'\n", cmd);
		usage(stderr);
		return 2;
	}
	if (sock != NULL)
		snprintf(path, sizeof(path), "%s", sock);
	else
		default_socket(path, sizeof(path), prefix);
	fd = tel_connect(path);
	if (fd < 0)
		return 1;
	if (strcmp(cmd, "status") == 0)
		rc = cmd_status(fd, path, json);
	else if (strcmp(cmd, "clients") == 0)
		rc = cmd_clients(fd, path, json);
	else if (strcmp(cmd, "objects") == 0)
		rc = cmd_objects(fd, path, json);
	else if (strcmp(cmd, "ports") == 0)
		rc = cmd_ports(fd, path, json);
	else if (strcmp(cmd, "provider") == 0)
		rc = cmd_dict(fd, path, json, "/ndkd/provider");
	else
		rc = cmd_stats(fd, path, json);
	close(fd);
	return rc;
}
