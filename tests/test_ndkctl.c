/* SPDX-License-Identifier: BSD-3-Clause */
/* ndkctl and DPDK's own dpdk-telemetry.py read a running ndkd's counters and clients. */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include <ndk/ndk.h>

#include "testlib.h"

static struct tdaemon d;

static void
test_ndkctl(void)
{
	const char *bin = getenv("NDKCTL_BIN");
	struct ndk_adapter_opts o;
	struct ndk_adapter *ad;
	char cmd[512], out[8192];
	json_t *j;

	ndk_adapter_opts_init(&o, sizeof(o));
	o.name = "ctl-test-client";
	CHECK_STATUS(ndk_adapter_open(d.sock, &o, &ad), NDK_STATUS_SUCCESS);

	snprintf(cmd, sizeof(cmd), "%s --file-prefix %s status 2>&1", bin, d.prefix);
	CHECK(t_run(cmd, out, sizeof(out)) == 0, "status exits 0: %s", out);
	CHECK(strstr(out, "clients_attached") != NULL && strstr(out, d.sock) != NULL,
	      "status table names counters and the socket:\n%s", out);

	snprintf(cmd, sizeof(cmd), "%s --file-prefix %s --json status", bin, d.prefix);
	CHECK(t_run(cmd, out, sizeof(out)) == 0, "json status exits 0");
	j = json_loads(out, 0, NULL);
	CHECK(j != NULL && json_integer_value(json_object_get(j, "clients_attached")) == 1 &&
		      json_integer_value(json_object_get(j, "pid")) == d.pid,
	      "json status parses and counts our client: %s", out);
	json_decref(j);

	snprintf(cmd, sizeof(cmd), "%s --file-prefix %s clients 2>&1", bin, d.prefix);
	CHECK(t_run(cmd, out, sizeof(out)) == 0, "clients exits 0");
	CHECK(strstr(out, "ctl-test-client") != NULL, "client listed by name:\n%s", out);

	snprintf(cmd, sizeof(cmd), "%s --file-prefix %s --json clients", bin, d.prefix);
	CHECK(t_run(cmd, out, sizeof(out)) == 0, "json clients exits 0");
	j = json_loads(out, 0, NULL);
	CHECK(j != NULL && json_array_size(j) == 1 &&
		      json_integer_value(json_object_get(json_array_get(j, 0), "pid")) == getpid(),
	      "json clients has our pid: %s", out);
	json_decref(j);

	snprintf(cmd, sizeof(cmd), "%s --file-prefix ndkt-not-running-%d status 2>&1", bin,
		 (int)getpid());
	CHECK(t_run(cmd, out, sizeof(out)) == 1, "exit 1 without a daemon");
	CHECK(strstr(out, "not running") != NULL, "says so: %s", out);

	snprintf(cmd, sizeof(cmd), "%s frobnicate 2>&1", bin);
	CHECK(t_run(cmd, out, sizeof(out)) == 2, "unknown command is a usage error");

	ndk_adapter_close(ad);
}

static void
test_dpdk_telemetry_py(void)
{
	char cmd[512], out[8192];

	if (access("/usr/bin/dpdk-telemetry.py", X_OK) != 0) {
		printf("  (skipped: dpdk-telemetry.py not installed)\n");
		return;
	}
	snprintf(cmd, sizeof(cmd),
		 "printf '/ndkd/status\\n/ndkd/clients\\n' | /usr/bin/dpdk-telemetry.py -f %s 2>&1",
		 d.prefix);
	CHECK(t_run(cmd, out, sizeof(out)) == 0, "dpdk-telemetry.py runs");
	CHECK(strstr(out, "\"/ndkd/status\"") != NULL && strstr(out, "requests_served") != NULL,
	      "stock client reads /ndkd/status:\n%s", out);
	CHECK(strstr(out, "\"/ndkd/clients\"") != NULL, "and /ndkd/clients");
}

int
main(void)
{
	if (tdaemon_start(&d, "ndkctl", NULL) != 0)
		return 1;
	RUN(test_ndkctl);
	RUN(test_dpdk_telemetry_py);
	CHECK(tdaemon_stop(&d) == 0, "ndkd exits 0 on SIGTERM");
	return t_done();
}
