/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ndkd as an operator runs it: --check-config on the shipped file and on a
 * typo, and a daemon started from a config file whose per-client limits the
 * clients then meet (adapter info, CQ and QP counts, queue depths).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ndk/ndk.h>

#include "ndk_sync.h"
#include "testlib.h"

static char dir[] = "/tmp/ndkt-config-XXXXXX";

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	CHECK(f != NULL && fputs(text, f) >= 0 && fclose(f) == 0, "write %s", path);
}

static void
test_check_config(void)
{
	const char *bin = getenv("NDKD_BIN"), *root = getenv("NDKD_SOURCE_ROOT");
	char cmd[1024], out[4096], path[256];

	CHECK(bin != NULL && root != NULL, "NDKD_BIN and NDKD_SOURCE_ROOT set");
	snprintf(cmd, sizeof(cmd), "%s --check-config %s/config/ndkd.conf 2>&1", bin, root);
	CHECK(t_run(cmd, out, sizeof(out)) == 0 && strstr(out, "valid") != NULL,
	      "shipped config valid: %s", out);

	/* a typo: exit 2, the message names the file, the line and the key */
	snprintf(path, sizeof(path), "%s/typo.conf", dir);
	write_file(path, "[service]\nsocket = /tmp/x.sock\n\n[limits]\nmax_cleints = 4\n");
	snprintf(cmd, sizeof(cmd), "%s --check-config %s 2>&1", bin, path);
	CHECK(t_run(cmd, out, sizeof(out)) == 2, "typo: exit 2 (%s)", out);
	CHECK(strstr(out, "typo.conf:5: unknown key 'max_cleints' in [limits]") != NULL,
	      "typo named with its line: %s", out);

	/* a bad flag next to a good file is caught as well */
	snprintf(cmd, sizeof(cmd), "%s --check-config %s/config/ndkd.conf --max-clients 0 2>&1",
		 bin, root);
	CHECK(t_run(cmd, out, sizeof(out)) == 2 && strstr(out, "--max-clients") != NULL,
	      "bad flag: %s", out);

	/* a daemon refuses to start on a bad file, before EAL */
	snprintf(cmd, sizeof(cmd), "%s --config %s --no-huge 2>&1", bin, path);
	CHECK(t_run(cmd, out, sizeof(out)) == 2 && strstr(out, "max_cleints") != NULL,
	      "ndkd --config with a typo exits 2: %s", out);
}

/*
 * A hardware provider asked for by name, on a device that is not there:
 * ndkd says which and why, and does not start (no silent fallback to soft).
 */
static void
test_provider_without_device(void)
{
	static const char *const prov[] = { "mlx5", "verbs" };
	const char *bin = getenv("NDKD_BIN");
	char cmd[1024], out[4096], want[64];
	size_t i;

	for (i = 0; i < 2; i++) {
		snprintf(cmd, sizeof(cmd),
			 "timeout 20 %s --provider %s --device nosuch0 --no-huge --file-prefix "
			 "ndkt-nodev-%d "
			 "--socket %s/nodev.sock 2>&1",
			 bin, prov[i], (int)getpid(), dir);
		snprintf(want, sizeof(want), "provider %s ", prov[i]);
		CHECK(t_run(cmd, out, sizeof(out)) != 0 && strstr(out, want) != NULL &&
			      (strstr(out, "unavailable") != NULL ||
			       strstr(out, "was not built") != NULL),
		      "--provider %s on a device that is not there: refused, and why: %s", prov[i],
		      out);
	}
	if (getuid() == 0) {
		char rd[128];

		snprintf(rd, sizeof(rd), "/var/run/dpdk/ndkt-nodev-%d", (int)getpid());
		CHECK(access(rd, F_OK) != 0, "ndkd that did not start left no %s", rd);
		t_sh("rm -rf %s", rd);
	}
}

static ndk_status
make_cq(struct ndk_adapter *ad, uint32_t depth, struct ndk_cq **cq)
{
	struct wait w = { 0 };
	ndk_status st = w_finish(ad, &w, ndk_cq_create(ad, depth, w_create, &w, cq));

	if (st == NDK_STATUS_SUCCESS)
		*cq = (struct ndk_cq *)w.obj;
	return st;
}

static ndk_status
make_qp(struct ndk_adapter *ad, struct ndk_pd *pd, struct ndk_cq *cq, uint32_t depth,
	struct ndk_qp **qp)
{
	struct wait w = { 0 };
	ndk_status st = w_finish(
		ad, &w, ndk_qp_create(pd, cq, cq, NULL, depth, depth, 1, 1, 0, w_create, &w, qp));

	if (st == NDK_STATUS_SUCCESS)
		*qp = (struct ndk_qp *)w.obj;
	return st;
}

static void
test_limits_from_file(void)
{
	static const char *const text = "[limits]\n"
					"max_qps_per_client = 2\n"
					"max_cqs_per_client = 3\n"
					"max_queue_depth = 64\n"
					"max_cq_depth = 256\n"
					"frmr_pages = 32\n";
	struct ndk_adapter_info info;
	struct ndk_adapter *ad;
	struct ndk_pd *pd;
	struct ndk_cq *cq[4] = { 0 };
	struct ndk_qp *qp[3] = { 0 };
	struct tdaemon d;
	char path[256];
	uint32_t size = sizeof(info);
	int i;

	snprintf(path, sizeof(path), "%s/limits.conf", dir);
	write_file(path, text);
	CHECK(tdaemon_start(&d, "config", (const char *const[]){ "--config", path, NULL }) == 0,
	      "ndkd --config starts");
	CHECK_STATUS(ndk_adapter_open(d.sock, NULL, &ad), NDK_STATUS_SUCCESS);
	CHECK_STATUS(ndk_adapter_query_info(ad, &info, &size), NDK_STATUS_SUCCESS);
	CHECK(info.max_initiator_queue_depth == 64 && info.max_receive_queue_depth == 64 &&
		      info.max_cq_depth == 256 && info.frmr_page_count == 32,
	      "adapter info from the file: depths %u/%u, CQ %u, FRMR %u",
	      info.max_initiator_queue_depth, info.max_receive_queue_depth, info.max_cq_depth,
	      info.frmr_page_count);
	CHECK_STATUS(sync_pd(ad, &pd), NDK_STATUS_SUCCESS);

	/* CQs: deeper than the limit refused, three fit, the fourth is one too many */
	CHECK_STATUS(make_cq(ad, 257, &cq[0]), NDK_STATUS_INVALID_PARAMETER);
	for (i = 0; i < 3; i++)
		CHECK_STATUS(make_cq(ad, 256, &cq[i]), NDK_STATUS_SUCCESS);
	CHECK_STATUS(make_cq(ad, 8, &cq[3]), NDK_STATUS_INSUFFICIENT_RESOURCES);

	/* QPs: the same */
	CHECK_STATUS(make_qp(ad, pd, cq[0], 65, &qp[0]), NDK_STATUS_INVALID_PARAMETER);
	for (i = 0; i < 2; i++)
		CHECK_STATUS(make_qp(ad, pd, cq[i], 64, &qp[i]), NDK_STATUS_SUCCESS);
	CHECK_STATUS(make_qp(ad, pd, cq[2], 8, &qp[2]), NDK_STATUS_INSUFFICIENT_RESOURCES);

	/* closing one makes room again: the count is live, not a high-water mark */
	CHECK_STATUS(sync_close_qp(ad, qp[1]), NDK_STATUS_SUCCESS);
	CHECK_STATUS(sync_close_cq(ad, cq[2]), NDK_STATUS_SUCCESS);
	CHECK_STATUS(make_cq(ad, 8, &cq[2]), NDK_STATUS_SUCCESS);
	CHECK_STATUS(make_qp(ad, pd, cq[2], 8, &qp[1]), NDK_STATUS_SUCCESS);

	ndk_adapter_close(ad);
	CHECK(tdaemon_stop(&d) == 0, "ndkd stops cleanly");
}

int
main(void)
{
	char cmd[64];

	if (mkdtemp(dir) == NULL)
		return 1;
	RUN(test_check_config);
	RUN(test_provider_without_device);
	RUN(test_limits_from_file);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return t_done();
}
