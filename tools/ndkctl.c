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

#define TEL_BUF (64 * 1024)

static void
usage(FILE *f)
{
	fprintf(f, "Usage: ndkctl [OPTIONS] COMMAND\n"
		   "Show the state of a running ndkd.\n"
		   "\n"
		   "Commands:\n"
		   "  status    daemon counters: clients, requests, refusals\n"
		   "  clients   one line per attached client\n"
		   "\n"
		   "Options:\n"
		   "  --file-prefix NAME       the ndkd's --file-prefix (default ndkd)\n"
		   "  --telemetry-socket PATH  read this telemetry socket instead\n"
		   "  --json                   machine-readable output\n"
		   "  -h, --help               this text\n"
		   "\n"
		   "Exit status: 0 ok, 1 ndkd not reachable or answered an error, 2 usage.\n");
}

static void
default_socket(char *buf, size_t len, const char *prefix)
{
	const char *dir = "/var/run";

	/* Where EAL puts its runtime directory (eal_create_runtime_dir). */
	if (getuid() != 0) {
		dir = getenv("XDG_RUNTIME_DIR");
		if (dir == NULL)
			dir = "/tmp";
	}
	snprintf(buf, len, "%s/dpdk/%s/dpdk_telemetry.v2", dir, prefix);
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
	strcpy(sa.sun_path, path);
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

static int
cmd_status(int fd, const char *path, int json)
{
	json_t *st = tel_query(fd, "/ndkd/status");
	const char *key;
	json_t *v;

	if (st == NULL)
		return 1;
	if (json) {
		json_dumpf(st, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		printf("\n");
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
cmd_clients(int fd, int json)
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
		json_dumpf(all, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		printf("\n");
	} else {
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
	if (strcmp(cmd, "status") != 0 && strcmp(cmd, "clients") != 0) {
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
	else
		rc = cmd_clients(fd, json);
	close(fd);
	return rc;
}
