/* SPDX-License-Identifier: BSD-3-Clause */
/* ndkd's command line: good values parse, bad ones are refused by name. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ndkd.h"
#include "testlib.h"

static int
parse(struct ndkd_opts *o, const char *const *args)
{
	char *argv[32];
	int argc = 0;

	argv[argc++] = "ndkd";
	while (*args != NULL && argc < 31)
		argv[argc++] = (char *)*args++;
	argv[argc] = NULL;
	return opts_parse(o, argc, argv);
}

#define ARGS(...) ((const char *const[]){ __VA_ARGS__, NULL })

static void
test_defaults(void)
{
	struct ndkd_opts o;

	CHECK(parse(&o, ARGS(NULL)) == 0, "no arguments");
	CHECK(strcmp(o.socket_path, "/run/ndkd/ndkd.sock") == 0, "default socket");
	CHECK(o.socket_mode == 0660 && o.max_clients == 1024 && o.ctrl_ring_entries == 256,
	      "default limits");
	CHECK(o.huge == -1 && strcmp(o.provider, "auto") == 0, "auto hugepages and provider");
	CHECK(o.n_allow_uid >= 1 && o.allow_uid[0] == getuid(), "own uid allowed");
}

static void
test_good_values(void)
{
	struct ndkd_opts o;

	CHECK(parse(&o, ARGS("--socket", "/tmp/x.sock", "--socket-mode", "0666", "--allow-uid",
			     "1000", "--allow-uid", "0", "--allow-gid", "50", "--no-huge", "--mem",
			     "512", "--ctrl-ring-entries", "1024", "--provider", "soft", "--",
			     "--vdev", "net_null0")) == 0,
	      "parse");
	CHECK(strcmp(o.socket_path, "/tmp/x.sock") == 0 && o.socket_mode == 0666, "socket");
	CHECK(o.n_allow_uid == 2 && o.allow_uid[0] == 1000 && o.n_allow_gid == 1, "ids");
	CHECK(o.huge == 0 && o.mem_mb == 512 && o.ctrl_ring_entries == 1024, "numbers");
	CHECK(o.n_eal_extra == 2 && strcmp(o.eal_extra[0], "--vdev") == 0, "EAL passthrough");
}

static void
test_bad_values(void)
{
	struct ndkd_opts o;

	CHECK(parse(&o, ARGS("--ctrl-ring-entries", "100")) < 0, "not a power of two");
	CHECK(parse(&o, ARGS("--ctrl-ring-entries", "4")) < 0, "too small");
	CHECK(parse(&o, ARGS("--max-clients", "0")) < 0, "zero clients");
	CHECK(parse(&o, ARGS("--max-clients", "12abc")) < 0, "trailing junk");
	CHECK(parse(&o, ARGS("--allow-uid", "-1")) < 0, "negative uid");
	CHECK(parse(&o, ARGS("--socket-mode", "999")) < 0, "not octal");
	CHECK(parse(&o, ARGS("--socket", "relative.sock")) < 0, "relative socket path");
	CHECK(parse(&o, ARGS("--provider", "verbs")) < 0, "unknown provider");
	CHECK(parse(&o, ARGS("--file-prefix", "a/b")) < 0, "prefix with a slash");
	CHECK(parse(&o, ARGS("--no-such-option")) < 0, "unknown option");
	CHECK(parse(&o, ARGS("stray")) < 0, "positional argument before --");
}

int
main(void)
{
	RUN(test_defaults);
	RUN(test_good_values);
	RUN(test_bad_values);
	return t_done();
}
