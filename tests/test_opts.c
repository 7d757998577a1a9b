/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ndkd's settings: good values parse, bad ones are refused by name (flags)
 * or by line (ndkd.conf); flags override the file; the shipped file says
 * what the defaults are.
 */
#include <stdio.h>
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
	CHECK(parse(&o, ARGS("--provider", "ibverbs")) < 0, "unknown provider");
	CHECK(parse(&o, ARGS("--gid-index", "256")) < 0, "GID index past 255");
	CHECK(parse(&o, ARGS("--device-port", "0")) < 0, "device port 0");
	CHECK(parse(&o, ARGS("--device", "a/b")) < 0, "device name with a slash");
	CHECK(parse(&o, ARGS("--file-prefix", "a/b")) < 0, "prefix with a slash");
	CHECK(parse(&o, ARGS("--no-such-option")) < 0, "unknown option");
	CHECK(parse(&o, ARGS("stray")) < 0, "positional argument before --");
}

/* EAL scans the PCI bus only when its arguments name a device. */
static void
test_pci(void)
{
	struct ndkd_opts o;

	CHECK(parse(&o, ARGS(NULL)) == 0 && !opts_wants_pci(&o), "no EAL arguments: no bus");
	opts_free(&o);
	CHECK(parse(&o, ARGS("--", "--vdev", "net_memif0")) == 0 && !opts_wants_pci(&o),
	      "a virtual device: no bus");
	opts_free(&o);
	CHECK(parse(&o, ARGS("--", "-a", "0000:3b:00.0")) == 0 && opts_wants_pci(&o), "-a ADDR");
	opts_free(&o);
	CHECK(parse(&o, ARGS("--", "-a0000:3b:00.0")) == 0 && opts_wants_pci(&o), "-aADDR");
	opts_free(&o);
	CHECK(parse(&o, ARGS("--", "--allow=0000:3b:00.0")) == 0 && opts_wants_pci(&o),
	      "--allow=ADDR");
	opts_free(&o);
	CHECK(parse(&o, ARGS("--", "--block", "0000:3b:00.1")) == 0 && opts_wants_pci(&o),
	      "--block ADDR");
	opts_free(&o);
	CHECK(parse(&o, ARGS("--", "--allowance")) == 0 && !opts_wants_pci(&o),
	      "a longer option is not --allow");
	opts_free(&o);
}

static char conf_dir[] = "/tmp/ndkt-conf-XXXXXX";

/* Write text to a fresh file in conf_dir; its path (static, overwritten by the next call). */
static const char *
conf(const char *text)
{
	static char path[128];
	static unsigned int n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%u.conf", conf_dir, n++);
	f = fopen(path, "w");
	if (f != NULL) {
		fputs(text, f);
		fclose(f);
	}
	return path;
}

/* The file's error message, or "" when it loaded. */
static const char *
conf_error(const char *text)
{
	static char err[512];
	struct ndkd_opts o;

	opts_defaults(&o);
	err[0] = '\0';
	if (opts_load_config(&o, conf(text), err, sizeof(err)) == 0)
		err[0] = '\0';
	opts_free(&o);
	return err;
}

/* The shipped config/ndkd.conf loads and states exactly the defaults. */
static void
test_shipped_config(void)
{
	const char *root = getenv("NDKD_SOURCE_ROOT");
	struct ndkd_opts def, o;
	char path[512], err[512] = "";

	if (root == NULL) {
		fprintf(stderr, "NDKD_SOURCE_ROOT not set: skipping the shipped file\n");
		return;
	}
	snprintf(path, sizeof(path), "%s/config/ndkd.conf", root);
	opts_defaults(&def);
	opts_defaults(&o);
	CHECK(opts_load_config(&o, path, err, sizeof(err)) == 0, "shipped file loads: %s", err);
	CHECK(strcmp(o.socket_path, def.socket_path) == 0 && o.socket_mode == def.socket_mode &&
		      strcmp(o.file_prefix, def.file_prefix) == 0 &&
		      strcmp(o.provider, def.provider) == 0 && o.huge == def.huge &&
		      o.mem_mb == def.mem_mb && o.max_clients == def.max_clients &&
		      o.ctrl_ring_entries == def.ctrl_ring_entries &&
		      strcmp(o.log_level, def.log_level) == 0,
	      "shipped file = defaults (service, engines, log)");
	CHECK(memcmp(&o.lim, &def.lim, sizeof(o.lim)) == 0, "shipped file = default limits");
	CHECK(o.n_allow_uid == 0 && o.n_allow_gid == 0, "no ids set by the shipped file");
	opts_free(&o);
}

static void
test_config_values(void)
{
	struct ndkd_opts o;
	const char *path = conf("# comment line\n"
				"[service]\n"
				"  socket = /tmp/from-file.sock   # trailing comment\n"
				"socket_mode=0600\n"
				"allow_uids = root, 1234 nobody\n"
				"allow_gids = 0\n"
				"file_prefix = fromfile\n"
				"\n"
				"[engines]\n"
				"lcores = 0\n"
				"provider = verbs\n"
				"device = rxe0\n"
				"device_port = 2\n"
				"gid_index = 3\n"
				"hugepages = no\n"
				"memory_mb = 128\n"
				"[limits]\n"
				"max_clients = 7\n"
				"ctrl_ring_entries = 64\n"
				"mr_table_entries = 4096\n"
				"max_mrs_per_client = 100\n"
				"max_pds_per_client = 5\n"
				"max_qps_per_client = 3\n"
				"max_cqs_per_client = 4\n"
				"max_queue_depth = 128\n"
				"max_cq_depth = 512\n"
				"max_region_mb_per_client = 64\n"
				"max_registered_mb_per_client = 32\n"
				"frmr_pages = 16\n"
				"[log]\n"
				"level = debug\n");
	char arg[160];

	snprintf(arg, sizeof(arg), "%s", path);
	CHECK(parse(&o, ARGS("--config", arg)) == 0, "file with every key loads");
	CHECK(strcmp(o.socket_path, "/tmp/from-file.sock") == 0 && o.socket_mode == 0600 &&
		      strcmp(o.file_prefix, "fromfile") == 0,
	      "service section");
	CHECK(o.n_allow_uid == 3 && o.allow_uid[0] == 0 && o.allow_uid[1] == 1234 &&
		      o.n_allow_gid == 1 && o.allow_gid[0] == 0,
	      "ids by name and number");
	CHECK(strcmp(o.lcores, "0") == 0 && strcmp(o.provider, "verbs") == 0 && o.huge == 0 &&
		      o.mem_mb == 128 && strcmp(o.device, "rxe0") == 0 && o.device_port == 2 &&
		      o.gid_index == 3,
	      "engines section");
	CHECK(o.max_clients == 7 && o.ctrl_ring_entries == 64 && o.lim.mr_table_entries == 4096 &&
		      o.lim.max_mrs == 100 && o.lim.max_pds == 5 && o.lim.max_qps == 3 &&
		      o.lim.max_cqs == 4 && o.lim.max_queue_depth == 128 &&
		      o.lim.max_cq_depth == 512 && o.lim.max_region_bytes == 64ull << 20 &&
		      o.lim.max_registered_bytes == 32ull << 20 && o.lim.frmr_page_count == 16,
	      "limits section");
	CHECK(strcmp(o.log_level, "debug") == 0, "log section");
	CHECK(strcmp(o.config_path, arg) == 0, "config path kept");
	opts_free(&o);

	/* flags override the file, wherever they stand; uid flags replace the file's list */
	CHECK(parse(&o, ARGS("--max-clients", "9", "--config", arg, "--allow-uid", "42", "--huge",
			     "--socket", "/tmp/flag.sock")) == 0,
	      "file + flags");
	CHECK(o.max_clients == 9 && o.huge == 1 && strcmp(o.socket_path, "/tmp/flag.sock") == 0,
	      "flags win");
	CHECK(o.n_allow_uid == 1 && o.allow_uid[0] == 42 && o.n_allow_gid == 1,
	      "--allow-uid replaced the file's uids, the file's gids stay");
	CHECK(o.lim.max_qps == 3 && strcmp(o.provider, "verbs") == 0, "the rest from the file");
	opts_free(&o);

	CHECK(parse(&o, ARGS("--check-config", arg)) == 1, "--check-config of a valid file: 1");
	opts_free(&o);
	CHECK(parse(&o, ARGS("--config", arg, "--config", arg)) < 0, "two --config");
	opts_free(&o);
}

/* Ports in the file: port, addr, port, addr ... in order; flags replace them. */
static void
test_config_ports(void)
{
	struct ndkd_opts o;
	const char *path = conf("[ports]\n"
				"port = net_memif0,role=server\n"
				"addr = 10.0.0.1/24\n"
				"roce_retries = 3\n"
				"port = net_af_packet1,iface=eth2\n"
				"addr = 192.168.7.9/16\n");

	CHECK(parse(&o, ARGS("--config", path)) == 0, "two ports from the file");
	CHECK(o.n_ports == 2 && strcmp(o.ports[0].devargs, "net_memif0,role=server") == 0 &&
		      o.ports[0].ip == 0x0a000001 && o.ports[0].prefix == 24 &&
		      strcmp(o.ports[1].devargs, "net_af_packet1,iface=eth2") == 0 &&
		      o.ports[1].ip == 0xc0a80709 && o.ports[1].prefix == 16 && o.roce_retries == 3,
	      "in order, each address with the port before it");
	opts_free(&o);
	CHECK(parse(&o, ARGS("--config", path, "--port", "net_tap0", "--addr", "10.1.1.1/8")) ==
			      0 &&
		      o.n_ports == 1 && strcmp(o.ports[0].devargs, "net_tap0") == 0,
	      "--port replaces the file's ports");
	opts_free(&o);
	CHECK(strstr(conf_error("[ports]\naddr = 10.0.0.1/24\nport = net_tap0\n"),
		     ":2: [ports] addr: an address belongs to the port before it") != NULL,
	      "an address before any port: %s",
	      conf_error("[ports]\naddr = 10.0.0.1/24\nport = net_tap0\n"));
	CHECK(strstr(conf_error("[ports]\nport = a\naddr = 10.0.0.1/24\naddr = 10.0.0.2/24\n"),
		     ":4: [ports] addr: port a has an address already") != NULL,
	      "two addresses for a port, the second's line named: %s",
	      conf_error("[ports]\nport = a\naddr = 10.0.0.1/24\naddr = 10.0.0.2/24\n"));
	CHECK(strstr(conf_error("[ports]\nport = a\nport = b\nport = c\nport = d\nport = e\n"),
		     ":6: [ports] port: more than 4 ports") != NULL,
	      "a fifth port: %s",
	      conf_error("[ports]\nport = a\nport = b\nport = c\nport = d\nport = e\n"));
	CHECK(strstr(conf_error("[ports]\nroce_retries = 3\nroce_retries = 4\n"),
		     ":3: key 'roce_retries' given twice in [ports]") != NULL,
	      "other keys still once");
}

/* af_xdp ports: shared with the kernel unless xdp = all; only those may leave out addr. */
static void
test_config_xdp(void)
{
	struct ndkd_opts o;
	const char *path = conf("[ports]\n"
				"port = net_af_xdp0,iface=eth1\n"
				"port = net_af_xdp1,iface=eth2\n"
				"addr = 10.0.0.1/24\n"
				"xdp = all\n"
				"port = net_af_xdp2,iface=eth3\n"
				"xdp = steer\n"
				"addr = 10.0.1.1/24\n");

	CHECK(parse(&o, ARGS("--config", path)) == 0 && o.n_ports == 3 &&
		      o.ports[0].xdp == NDKD_XDP_STEER && o.ports[0].ip == 0 &&
		      o.ports[1].xdp == NDKD_XDP_ALL && o.ports[1].ip == 0x0a000001 &&
		      o.ports[2].xdp == NDKD_XDP_STEER && o.ports[2].ip == 0x0a000101,
	      "steer by default and without an address; all with one");
	opts_free(&o);
	CHECK(parse(&o, ARGS("--port", "net_af_packet0,iface=eth0", "--addr", "10.0.0.1/24")) ==
			      0 &&
		      o.ports[0].xdp == NDKD_XDP_NONE,
	      "not af_xdp: no mode");
	opts_free(&o);
	CHECK(parse(&o, ARGS("--port", "net_af_packet0,iface=eth0", "--addr", "10.0.0.1/24",
			     "--xdp", "steer")) < 0,
	      "an xdp mode on an af_packet port");
	CHECK(parse(&o, ARGS("--port", "net_af_xdp0,iface=eth0", "--xdp", "all")) < 0,
	      "xdp all needs an address");
	CHECK(parse(&o, ARGS("--port", "net_af_xdp0,queue_count=2")) < 0,
	      "steer needs the interface (iface=)");
	CHECK(parse(&o, ARGS("--port", "net_af_xdp0,iface=eth0", "--xdp", "some")) < 0,
	      "steer or all");
	CHECK(strstr(conf_error("[ports]\nport = net_af_xdp0,iface=a\nxdp = all\nxdp = steer\n"),
		     ":4: [ports] xdp: port net_af_xdp0,iface=a has an xdp mode already") != NULL,
	      "two modes for a port: %s",
	      conf_error("[ports]\nport = net_af_xdp0,iface=a\nxdp = all\nxdp = steer\n"));
}

static void
test_config_errors(void)
{
	static const struct {
		const char *text;
		const char *want; /* in the message, after the path */
	} cases[] = {
		{ "[service]\nsocket = /tmp/a\nsokcet_mode = 0600\n",
		  ":3: unknown key 'sokcet_mode' in [service]" },
		{ "[service]\n\n[limitz]\nmax_clients = 1\n", ":3: unknown section [limitz]" },
		{ "[service]\nsocket /tmp/a\n", ":2: 'socket /tmp/a' is not 'key = value'" },
		{ "socket = /tmp/a\n[service]\n", ":1: key 'socket' before any [section]" },
		{ "[service]\nsocket =\n", ":2: 'socket' has no value" },
		{ "[service]\n= /tmp/a\n", ":2: '' has no key" },
		{ "[service\nsocket = /tmp/a\n", ":1: '[service' is not a [section] line" },
		{ "[limits]\nmax_clients = 5\n\nmax_clients = 6\n",
		  ":4: key 'max_clients' given twice in [limits]" },
		{ "[limits]\nmax_clients = 5\n[log]\n[limits]\n",
		  ":4: section [limits] appears twice" },
		{ "[limits]\nmax_clients = 0\n", ":2: [limits] max_clients: bad value '0'" },
		{ "[limits]\nmax_clients = 12abc\n",
		  ":2: [limits] max_clients: bad value '12abc'" },
		{ "[limits]\nmax_clients = -1\n", ":2: [limits] max_clients: bad value '-1'" },
		{ "[limits]\nmax_clients = 99999999999999999999999\n", ":2: [limits] max_clients" },
		{ "[limits]\nctrl_ring_entries = 100\n", ":2: [limits] ctrl_ring_entries: '100' is "
							 "not a power of two" },
		{ "[limits]\nmax_qps_per_client = 257\n", ":2: [limits] max_qps_per_client" },
		{ "[limits]\nfrmr_pages = 8\n", ":2: [limits] frmr_pages: bad value '8'" },
		{ "[service]\nsocket_mode = 0999\n",
		  ":2: [service] socket_mode: bad value '0999'" },
		{ "[service]\nsocket = relative.sock\n", ":2: [service] socket: 'relative.sock'" },
		{ "[service]\nfile_prefix = a/b\n", ":2: [service] file_prefix: 'a/b'" },
		{ "[service]\nallow_uids = root, no-such-user-here\n",
		  ":2: [service] allow_uids: 'no-such-user-here' is not a user" },
		{ "[service]\nallow_gids = ,\n", ":2: [service] allow_gids: no group given" },
		{ "[engines]\nprovider = ibverbs\n", ":2: [engines] provider: 'ibverbs'" },
		{ "[engines]\ngid_index = 300\n", ":2: [engines] gid_index" },
		{ "[engines]\nhugepages = maybe\n", ":2: [engines] hugepages: 'maybe'" },
		{ "[engines]\nlcores = zero\n", ":2: [engines] lcores: 'zero'" },
		{ "[log]\nlevel = loud\n", ":2: [log] level: 'loud'" },
		{ "[log]\nlevel = 9\n", ":2: [log] level: '9'" },
	};
	char long_line[600];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *err = conf_error(cases[i].text);

		CHECK(strstr(err, cases[i].want) != NULL, "case %zu: want '%s', got '%s'", i,
		      cases[i].want, err);
	}
	memset(long_line, 'x', sizeof(long_line));
	memcpy(long_line, "[log]\nlevel = ", 14);
	long_line[sizeof(long_line) - 2] = '\n';
	long_line[sizeof(long_line) - 1] = '\0';
	CHECK(strstr(conf_error(long_line), ":2: line too long") != NULL, "a line too long: %s",
	      conf_error(long_line));
	CHECK(strstr(conf_error("[log]\nlevel = info\n"), "") != NULL &&
		      conf_error("[log]\nlevel = info\n")[0] == '\0',
	      "a good one has no error");
	{
		struct ndkd_opts o;
		char err[256];

		opts_defaults(&o);
		CHECK(opts_load_config(&o, "/nonexistent/ndkd.conf", err, sizeof(err)) != 0 &&
			      strstr(err, "No such file") != NULL,
		      "missing file: %s", err);
		opts_free(&o);
	}
}

int
main(void)
{
	RUN(test_defaults);
	RUN(test_good_values);
	RUN(test_bad_values);
	RUN(test_pci);
	if (mkdtemp(conf_dir) == NULL)
		return 1;
	RUN(test_shipped_config);
	RUN(test_config_values);
	RUN(test_config_ports);
	RUN(test_config_xdp);
	RUN(test_config_errors);
	{
		char cmd[64];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", conf_dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", conf_dir);
	}
	return t_done();
}
