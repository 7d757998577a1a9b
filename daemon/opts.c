/* SPDX-License-Identifier: BSD-3-Clause */
/* Command-line options. No DPDK: EAL's own arguments are built from these later. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ndk/adapter.h>

#include "ndkd.h"

#ifndef NDKD_VERSION
#define NDKD_VERSION "0"
#endif

enum {
	OPT_SOCKET = 256,
	OPT_SOCKET_MODE,
	OPT_ALLOW_UID,
	OPT_ALLOW_GID,
	OPT_LCORES,
	OPT_FILE_PREFIX,
	OPT_PROVIDER,
	OPT_HUGE,
	OPT_NO_HUGE,
	OPT_MEM,
	OPT_MAX_CLIENTS,
	OPT_CTRL_RING,
	OPT_LOG_LEVEL,
	OPT_VERSION,
	OPT_MR_TABLE,
	OPT_MAX_MRS,
	OPT_MAX_PDS,
	OPT_MAX_REGION_MB,
	OPT_MAX_REGISTERED_MB,
	OPT_FRMR_PAGES,
};

static const struct option long_opts[] = {
	{ "socket", required_argument, NULL, OPT_SOCKET },
	{ "socket-mode", required_argument, NULL, OPT_SOCKET_MODE },
	{ "allow-uid", required_argument, NULL, OPT_ALLOW_UID },
	{ "allow-gid", required_argument, NULL, OPT_ALLOW_GID },
	{ "lcores", required_argument, NULL, OPT_LCORES },
	{ "file-prefix", required_argument, NULL, OPT_FILE_PREFIX },
	{ "provider", required_argument, NULL, OPT_PROVIDER },
	{ "huge", no_argument, NULL, OPT_HUGE },
	{ "no-huge", no_argument, NULL, OPT_NO_HUGE },
	{ "mem", required_argument, NULL, OPT_MEM },
	{ "max-clients", required_argument, NULL, OPT_MAX_CLIENTS },
	{ "ctrl-ring-entries", required_argument, NULL, OPT_CTRL_RING },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "mr-table-entries", required_argument, NULL, OPT_MR_TABLE },
	{ "max-mrs-per-client", required_argument, NULL, OPT_MAX_MRS },
	{ "max-pds-per-client", required_argument, NULL, OPT_MAX_PDS },
	{ "max-region-mb-per-client", required_argument, NULL, OPT_MAX_REGION_MB },
	{ "max-registered-mb-per-client", required_argument, NULL, OPT_MAX_REGISTERED_MB },
	{ "frmr-pages", required_argument, NULL, OPT_FRMR_PAGES },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

void
opts_usage(FILE *f, const char *prog)
{
	fprintf(f,
		"Usage: %s [OPTIONS] [-- EAL-OPTIONS]\n"
		"ndkd: the userspace RDMA datapath daemon that libndk clients attach to.\n"
		"\n"
		"  --socket PATH          unix socket to listen on (default %s;\n"
		"                         its directory is created when missing)\n"
		"  --socket-mode MODE     octal mode of the socket file (default 0660)\n"
		"  --allow-uid UID        allow clients with this uid (repeatable; default:\n"
		"                         ndkd's own uid and root)\n"
		"  --allow-gid GID        allow clients whose primary gid is GID (repeatable)\n"
		"  --lcores LIST          EAL lcores: the first is the main lcore (socket,\n"
		"                         housekeeping), the others run one engine each; with\n"
		"                         one lcore the main lcore also runs the engine\n"
		"                         (default: the first two CPUs we may run on)\n"
		"  --file-prefix NAME     EAL file prefix; also names the telemetry socket\n"
		"                         directory that ndkctl reads (default %s)\n"
		"  --provider NAME        soft, mlx5 or auto (default auto: mlx5 when a\n"
		"                         device is present, soft otherwise)\n"
		"  --huge / --no-huge     use hugepages or not (default: use them when some\n"
		"                         are free)\n"
		"  --mem MB               EAL memory (default 256)\n"
		"  --max-clients N        attached clients at once (default 1024)\n"
		"  --ctrl-ring-entries N  control ring size per client, a power of two in\n"
		"                         [%u, %u] (default 256)\n"
		"  --log-level LEVEL      emerg..debug or 1..8 (default info)\n"
		"  --mr-table-entries N   MR table size, all clients together (default 1048576)\n"
		"  --max-mrs-per-client N           (default 65536)\n"
		"  --max-pds-per-client N           (default 1024)\n"
		"  --max-region-mb-per-client MB    arena and attached-fd memory (default 16384)\n"
		"  --max-registered-mb-per-client MB  bytes under registered MRs (default 16384)\n"
		"  --frmr-pages N         pages one fast-register MR may map, >= 16 (default 256)\n"
		"  -h, --help             this text\n"
		"  --version              print the version\n"
		"\n"
		"Arguments after -- go to DPDK's EAL unchanged.\n"
		"Signals: SIGTERM and SIGINT stop ndkd cleanly (exit status 0).\n",
		prog, NDK_DEFAULT_SOCKET, NDKD_DEFAULT_PREFIX, NDK_ABI_RING_MIN_ENTRIES,
		NDK_ABI_RING_MAX_ENTRIES);
}

static int
parse_ulong(const char *name, const char *s, int base, unsigned long min, unsigned long max,
	    unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	if (s[0] == '-' || s[0] == '\0')
		goto bad;
	v = strtoul(s, &end, base);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		goto bad;
	*out = v;
	return 0;
bad:
	fprintf(stderr, "ndkd: bad value for --%s: '%s' (expected %lu..%lu)\n", name, s, min, max);
	return -1;
}

static char default_lcores[32];

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
	o->huge = -1;
	o->mem_mb = 256;
	o->max_clients = 1024;
	o->ctrl_ring_entries = 256;
	o->log_level = "info";
	o->lim.mr_table_entries = 1u << 20;
	o->lim.max_mrs = 65536;
	o->lim.max_pds = 1024;
	o->lim.max_regions = NDKD_MAX_REGIONS;
	o->lim.max_region_bytes = 16384ull << 20;
	o->lim.max_registered_bytes = 16384ull << 20;
	o->lim.frmr_page_count = 256;

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

int
opts_parse(struct ndkd_opts *o, int argc, char **argv)
{
	unsigned long v;
	int c, i;

	opts_defaults(o);
	optind = 1;
	opterr = 1;
	while ((c = getopt_long(argc, argv, "+h", long_opts, NULL)) != -1) {
		switch (c) {
		case OPT_SOCKET:
			if (optarg[0] != '/' || strlen(optarg) >= 108) {
				fprintf(stderr,
					"ndkd: --socket needs an absolute path under 108 bytes\n");
				return -1;
			}
			o->socket_path = optarg;
			break;
		case OPT_SOCKET_MODE:
			if (parse_ulong("socket-mode", optarg, 8, 0, 0777, &v) != 0)
				return -1;
			o->socket_mode = (unsigned int)v;
			break;
		case OPT_ALLOW_UID:
			if (o->n_allow_uid == NDKD_MAX_ALLOWED_IDS) {
				fprintf(stderr, "ndkd: at most %d --allow-uid\n",
					NDKD_MAX_ALLOWED_IDS);
				return -1;
			}
			if (parse_ulong("allow-uid", optarg, 10, 0, UINT_MAX - 1, &v) != 0)
				return -1;
			o->allow_uid[o->n_allow_uid++] = (uid_t)v;
			break;
		case OPT_ALLOW_GID:
			if (o->n_allow_gid == NDKD_MAX_ALLOWED_IDS) {
				fprintf(stderr, "ndkd: at most %d --allow-gid\n",
					NDKD_MAX_ALLOWED_IDS);
				return -1;
			}
			if (parse_ulong("allow-gid", optarg, 10, 0, UINT_MAX - 1, &v) != 0)
				return -1;
			o->allow_gid[o->n_allow_gid++] = (gid_t)v;
			break;
		case OPT_LCORES:
			o->lcores = optarg;
			break;
		case OPT_FILE_PREFIX:
			if (optarg[0] == '\0' || strchr(optarg, '/') != NULL) {
				fprintf(stderr, "ndkd: --file-prefix must be a plain name\n");
				return -1;
			}
			o->file_prefix = optarg;
			break;
		case OPT_PROVIDER:
			if (strcmp(optarg, "soft") != 0 && strcmp(optarg, "mlx5") != 0 &&
			    strcmp(optarg, "auto") != 0) {
				fprintf(stderr,
					"ndkd: --provider must be soft, mlx5 or auto, not '%s'\n",
					optarg);
				return -1;
			}
			o->provider = optarg;
			break;
		case OPT_HUGE:
			o->huge = 1;
			break;
		case OPT_NO_HUGE:
			o->huge = 0;
			break;
		case OPT_MEM:
			if (parse_ulong("mem", optarg, 10, 16, 1u << 20, &v) != 0)
				return -1;
			o->mem_mb = (unsigned int)v;
			break;
		case OPT_MAX_CLIENTS:
			if (parse_ulong("max-clients", optarg, 10, 1, 65536, &v) != 0)
				return -1;
			o->max_clients = (unsigned int)v;
			break;
		case OPT_CTRL_RING:
			if (parse_ulong("ctrl-ring-entries", optarg, 10, NDK_ABI_RING_MIN_ENTRIES,
					NDK_ABI_RING_MAX_ENTRIES, &v) != 0)
				return -1;
			if ((v & (v - 1)) != 0) {
				fprintf(stderr,
					"ndkd: --ctrl-ring-entries must be a power of two\n");
				return -1;
			}
			o->ctrl_ring_entries = (unsigned int)v;
			break;
		case OPT_LOG_LEVEL:
			o->log_level = optarg;
			break;
		case OPT_MR_TABLE:
			if (parse_ulong("mr-table-entries", optarg, 10, 2, 1u << 24, &v) != 0)
				return -1;
			o->lim.mr_table_entries = (uint32_t)v;
			break;
		case OPT_MAX_MRS:
			if (parse_ulong("max-mrs-per-client", optarg, 10, 1, 1u << 24, &v) != 0)
				return -1;
			o->lim.max_mrs = (uint32_t)v;
			break;
		case OPT_MAX_PDS:
			if (parse_ulong("max-pds-per-client", optarg, 10, 1, 1u << 20, &v) != 0)
				return -1;
			o->lim.max_pds = (uint32_t)v;
			break;
		case OPT_MAX_REGION_MB:
			if (parse_ulong("max-region-mb-per-client", optarg, 10, 1, 1ul << 30, &v) !=
			    0)
				return -1;
			o->lim.max_region_bytes = (uint64_t)v << 20;
			break;
		case OPT_MAX_REGISTERED_MB:
			if (parse_ulong("max-registered-mb-per-client", optarg, 10, 1, 1ul << 30,
					&v) != 0)
				return -1;
			o->lim.max_registered_bytes = (uint64_t)v << 20;
			break;
		case OPT_FRMR_PAGES:
			if (parse_ulong("frmr-pages", optarg, 10, 16, NDKD_MAX_FRMR_PAGES, &v) != 0)
				return -1;
			o->lim.frmr_page_count = (uint32_t)v;
			break;
		case 'h':
			opts_usage(stdout, argv[0]);
			return 1;
		case OPT_VERSION:
			printf("ndkd %s (ABI %u)\n", NDKD_VERSION, NDK_ABI_VERSION);
			return 1;
		default:
			fprintf(stderr, "Try '%s --help'.\n", argv[0]);
			return -1;
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
	return 0;
}
