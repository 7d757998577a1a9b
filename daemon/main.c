/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ndkd: EAL set-up, engines on the worker lcores, the server on the main
 * lcore, and an orderly stop on SIGTERM/SIGINT.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>

#include "conn.h"
#include "eal_cleanup.h"
#include "engine.h"
#include "log.h"
#include "mrt.h"
#include "ndkd.h"
#include "qpt.h"
#include "provider.h"
#include "server.h"
#include "service.h"
#include "telemetry.h"

/* The number after key ("HugePages_Free:") in /proc/meminfo, or def when absent. */
static unsigned long
meminfo(const char *key, unsigned long def)
{
	FILE *f = fopen("/proc/meminfo", "r");
	size_t len = strlen(key);
	char line[128];
	unsigned long v = def;

	if (f == NULL)
		return def;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, key, len) == 0) {
			v = strtoul(line + len, NULL, 10);
			break;
		}
	}
	fclose(f);
	return v;
}

static uint64_t
hugepage_size(void)
{
	return (uint64_t)meminfo("Hugepagesize:", 2048) << 10; /* the value is in kB */
}

/* NDK_ADAPTER_INFO from the provider, plus the arena rules and ndkd's per-client limits. */
static int
fill_adapter_info(struct ndk_abi_adapter_info *i, struct provider *p, const struct ndkd_limits *lim,
		  bool huge)
{
	/* ndkd's per-client limits first: a provider's query may only lower them */
	memset(i, 0, sizeof(*i));
	i->max_region_bytes = lim->max_region_bytes;
	i->max_mrs = lim->max_mrs;
	i->max_pds = lim->max_pds;
	i->max_regions = lim->max_regions;
	i->max_qps = lim->max_qps;
	i->max_cqs = lim->max_cqs;
	i->max_mws = lim->max_mrs; /* windows take MR entries, under the MR limit */
	i->max_srqs = lim->max_srqs;
	if (p->ops.query(p, lim, i) != NDK_STATUS_SUCCESS)
		return -ENOTSUP;
	/* a provider without shared receive queues reports a depth of 0: none then */
	if (i->max_srq_depth == 0 || i->max_srqs == 0)
		i->max_srq_depth = i->max_srqs = 0;
	i->arena_flags = huge ? NDK_ABI_ARENA_HUGETLB : 0;
	i->arena_page_size = huge ? hugepage_size() : 4096;
	return 0;
}

/* A hugetlbfs mount this process may create files in: EAL needs one. */
static bool
hugetlbfs_writable(void)
{
	FILE *f = fopen("/proc/mounts", "r");
	char dev[256], dir[256], type[64];
	bool ok = false;

	if (f == NULL)
		return false;
	while (!ok && fscanf(f, "%255s %255s %63s %*[^\n]", dev, dir, type) == 3)
		ok = strcmp(type, "hugetlbfs") == 0 && access(dir, W_OK | X_OK) == 0;
	fclose(f);
	return ok;
}

static bool
hugepages_free(void)
{
	return meminfo("HugePages_Free:", 0) > 0;
}

struct eal_args {
	char *argv[NDKD_MAX_EAL_ARGS + 16];
	int argc;
	char mem[16];
	char loglevel[64];
};

static void
build_eal_args(struct eal_args *a, const struct ndkd_opts *o, const char *prog, bool huge)
{
	unsigned int i;

	a->argc = 0;
	a->argv[a->argc++] = (char *)prog;
	/* a map of lcores to CPUs (1@1,2@0) is EAL's --lcores; a plain list its -l */
	a->argv[a->argc++] = strpbrk(o->lcores, "@(") != NULL ? "--lcores" : "-l";
	a->argv[a->argc++] = (char *)o->lcores;
	a->argv[a->argc++] = "--file-prefix";
	a->argv[a->argc++] = (char *)o->file_prefix;
	/*
	 * Without a PCI device to drive, EAL need not scan the bus (nor touch
	 * VFIO); ports on PCI NICs and the mlx5 PMD name theirs.
	 */
	if (!opts_wants_pci(o))
		a->argv[a->argc++] = "--no-pci";
	a->argv[a->argc++] = "--log-level=lib.eal:notice";
	snprintf(a->loglevel, sizeof(a->loglevel), "--log-level=ndkd.*:%s", o->log_level);
	a->argv[a->argc++] = a->loglevel;
	if (!huge) {
		snprintf(a->mem, sizeof(a->mem), "%u", o->mem_mb);
		a->argv[a->argc++] = "--no-huge";
		a->argv[a->argc++] = "-m";
		a->argv[a->argc++] = a->mem;
	}
	for (i = 0; i < o->n_eal_extra; i++)
		a->argv[a->argc++] = o->eal_extra[i];
	a->argv[a->argc] = NULL;
}

/* The one-lcore layout: the main lcore polls the engine and looks at sockets in between. */
static void
run_inline(struct server *s, struct engine *e, struct watchdog *wd)
{
	const struct timespec idle = { .tv_nsec = 100 * 1000 };
	unsigned int iter = 0;

	for (;;) {
		engine_poll_once(e);
		if (e->n_clients == 0) {
			if (server_poll(s, 0))
				return;
			watchdog_tick(wd, e->set);
			nanosleep(&idle, NULL);
		} else if (++iter % 256 == 0) {
			if (server_poll(s, 0))
				return;
			watchdog_tick(wd, e->set);
		}
	}
}

/*
 * Wait for the engines to return from their poll loops, at most
 * NDKD_STOP_TIMEOUT_MS: an engine that is stuck must not keep a stopping
 * ndkd alive past systemd's stop timeout. False when one did not return.
 */
static bool
wait_engines(const struct engine_set *eng)
{
	uint64_t deadline = ndkd_now_ns() + NDKD_STOP_TIMEOUT_MS * 1000000ull;
	const struct timespec tick = { .tv_nsec = 1000 * 1000 };
	unsigned int i;

	for (i = 0; i < eng->n; i++) {
		while (rte_eal_get_lcore_state(eng->engines[i].lcore) == RUNNING) {
			if (ndkd_now_ns() > deadline) {
				NDKD_LOG(ERR, main,
					 "engine %u on lcore %u did not stop within %u ms: exiting "
					 "without cleanup",
					 i, eng->engines[i].lcore, NDKD_STOP_TIMEOUT_MS);
				return false;
			}
			nanosleep(&tick, NULL);
		}
		rte_eal_wait_lcore(eng->engines[i].lcore);
	}
	return true;
}

int
main(int argc, char **argv)
{
	struct ndkd_opts o;
	struct eal_args ea;
	struct engine_set eng;
	struct server srv;
	struct provider prov;
	struct mrt mrt;
	struct qpt qpt;
	struct watchdog wd;
	struct listen_table *listen = NULL;
	unsigned int i, lcore, n_workers;
	sigset_t set;
	bool huge;
	int rc;

	if (log_stream_init() != 0)
		fprintf(stderr, "ndkd: cannot set up the log stream; using EAL's\n");
	rc = opts_parse(&o, argc, argv);
	if (rc != 0) {
		opts_free(&o);
		return rc > 0 ? 0 : 2;
	}

	/*
	 * Block the stop signals before EAL starts any thread, so every thread
	 * inherits the mask and they arrive only through the server's signalfd.
	 */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* auto: only when EAL can really have them (a non-root ndkd often cannot) */
	huge = o.huge == 1 || (o.huge == -1 && hugepages_free() && hugetlbfs_writable());
	build_eal_args(&ea, &o, argv[0], huge);
	if (rte_eal_init(ea.argc, ea.argv) < 0) {
		fprintf(stderr, "ndkd: EAL initialisation failed: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	rc = provider_select(&prov, o.provider, &o);
	if (rc != 0)
		goto err_eal;

	rc = mrt_create(&mrt, o.lim.mr_table_entries);
	if (rc != 0) {
		NDKD_LOG(ERR, main, "cannot create the MR table (%u entries): %s",
			 o.lim.mr_table_entries, strerror(-rc));
		goto err_prov;
	}
	/* at most 2^16 entries: a qpn (index << 8 | tag) fits RoCEv2's 24 bits */
	rc = qpt_create(&qpt,
			o.max_clients * 4 + 1 > (1u << 16) ? (1u << 16) : o.max_clients * 4 + 1);
	if (rc != 0) {
		NDKD_LOG(ERR, main, "cannot create the QP table: %s", strerror(-rc));
		goto err_mrt;
	}
	listen = calloc(1, sizeof(*listen));
	if (listen == NULL) {
		NDKD_LOG(ERR, main, "cannot allocate the listen table");
		goto err_qpt;
	}
	rte_spinlock_init(&listen->lock);
	n_workers = rte_lcore_count() - 1;
	rc = engines_create(&eng, n_workers > 0 ? n_workers : 1, o.max_clients, &mrt, &qpt, listen,
			    &o.lim, &prov);
	if (rc != 0) {
		NDKD_LOG(ERR, main, "cannot create engines: %s", strerror(-rc));
		goto err_qpt;
	}
	/* a sleeping engine makes a pass per sleep: often enough for the watchdog's checks */
	if (watchdog_usec() != 0 && o.poll_sleep_ms > watchdog_usec() / 8000)
		o.poll_sleep_ms =
			watchdog_usec() / 8000 > 0 ? (uint32_t)(watchdog_usec() / 8000) : 1;
	engines_set_polling(&eng, o.poll_adaptive, o.poll_idle_us, o.poll_sleep_ms);
	rc = server_init(&srv, &o, &eng);
	if (rc != 0) {
		NDKD_LOG(ERR, main, "cannot start: %s", strerror(-rc));
		goto err_srv;
	}
	srv.prov = &prov;
	srv.hugepages = huge;
	srv.mrt = &mrt;
	if (fill_adapter_info(&srv.info, &prov, &o.lim, huge) != 0) {
		NDKD_LOG(ERR, main, "provider %s cannot say what the adapter can do",
			 prov.ops.name);
		goto err_srv;
	}
	telemetry_init(&srv);

	i = 0;
	RTE_LCORE_FOREACH_WORKER (lcore) {
		eng.engines[i].lcore = lcore;
		rte_eal_remote_launch(engine_main, &eng.engines[i], lcore);
		i++;
	}
	NDKD_LOG(NOTICE, main,
		 "listening on %s (provider %s: %s; %s; %u engine(s)%s; telemetry prefix %s)",
		 o.socket_path, prov.ops.name, prov.detail, huge ? "hugepages" : "no hugepages",
		 eng.n, n_workers == 0 ? " on the main lcore" : "", o.file_prefix);
	service_notify("READY=1");

	rc = watchdog_init(&wd, &eng);
	if (rc != 0)
		NDKD_LOG(ERR, main, "watchdog: %s; running without it", strerror(-rc));
	if (n_workers == 0) {
		eng.engines[0].lcore = rte_lcore_id();
		engine_adopt(&eng.engines[0]);
		run_inline(&srv, &eng.engines[0], &wd);
	} else {
		while (!server_poll(&srv, watchdog_poll_timeout_ms(&wd, 200)))
			watchdog_tick(&wd, &eng);
	}
	watchdog_fini(&wd);

	service_notify("STOPPING=1");
	server_stop_listening(&srv);
	server_announce_shutdown(&srv);
	for (i = 0; i < eng.n; i++)
		engine_send(&eng.engines[i], MSG_STOP, NULL);
	if (n_workers == 0) {
		engine_poll_once(&eng.engines[0]);
	} else if (!wait_engines(&eng)) {
		/* the socket is gone and clients were told; memory goes with the process */
		fflush(NULL);
		_exit(1);
	}
	server_fini(&srv);
	engines_destroy(&eng);
	free(listen);
	qpt_destroy(&qpt);
	mrt_destroy(&mrt);
	prov.ops.fini(&prov);
	NDKD_LOG(NOTICE, main, "stopped");
	if (eal_cleanup_all() != 0)
		fprintf(stderr, "ndkd: EAL's runtime directory stays: %s\n", strerror(errno));
	opts_free(&o);
	return 0;

err_srv:
	server_fini(&srv);
	engines_destroy(&eng);
err_qpt:
	free(listen);
	qpt_destroy(&qpt);
err_mrt:
	mrt_destroy(&mrt);
err_prov:
	prov.ops.fini(&prov);
err_eal:
	eal_cleanup_all();
	opts_free(&o);
	return 1;
}
