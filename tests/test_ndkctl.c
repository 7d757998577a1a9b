/* SPDX-License-Identifier: BSD-3-Clause */
/* ndkctl and DPDK's own dpdk-telemetry.py read a running ndkd's counters and clients. */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include <ndk/ndk.h>

#include "ndk_sync.h"
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

	/* the provider that serves us, and on verbs the device behind it */
	snprintf(cmd, sizeof(cmd), "%s --file-prefix %s --json provider", bin, d.prefix);
	CHECK(t_run(cmd, out, sizeof(out)) == 0, "json provider exits 0");
	j = json_loads(out, 0, NULL);
	{
		const char *want =
			getenv("NDK_TEST_PROVIDER") != NULL ? getenv("NDK_TEST_PROVIDER") : "soft";
		const char *name = json_string_value(json_object_get(j, "provider"));

		CHECK(name != NULL && strcmp(name, want) == 0 &&
			      json_string_value(json_object_get(j, "detail")) != NULL,
		      "provider %s named, with what it drives: %s", want, out);
		if (strcmp(want, "verbs") == 0)
			CHECK(json_string_value(json_object_get(j, "device")) != NULL &&
				      json_object_get(j, "completion_errors") != NULL &&
				      json_object_get(j, "max_qp") != NULL,
			      "device, limits and counters: %s", out);
	}
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

	/* objects: our PD, CQ and registered MR, by token */
	{
		struct ndk_pd *pd;
		struct ndk_mr *mr;
		struct ndk_cq *cq;
		struct wait w = { 0 };
		void *buf = ndk_mem_alloc(ad, 8192, 4096);
		uint32_t token;
		json_t *row, *found = NULL;
		size_t i;

		CHECK(buf != NULL, "arena buffer");
		CHECK_STATUS(sync_pd(ad, &pd), NDK_STATUS_SUCCESS);
		CHECK_STATUS(sync_mr(ad, pd, false, &mr), NDK_STATUS_SUCCESS);
		CHECK_STATUS(sync_register(ad, mr, buf, 8192, NDK_MR_FLAG_ALLOW_LOCAL_WRITE),
			     NDK_STATUS_SUCCESS);
		CHECK_STATUS(w_finish(ad, &w, ndk_cq_create(ad, 64, w_create, &w, &cq)),
			     NDK_STATUS_SUCCESS);
		cq = (struct ndk_cq *)w.obj;
		token = ndk_mr_get_local_token(mr);

		snprintf(cmd, sizeof(cmd), "%s --file-prefix %s objects 2>&1", bin, d.prefix);
		CHECK(t_run(cmd, out, sizeof(out)) == 0 &&
			      strstr(out, "REGISTERED_BYTES") != NULL &&
			      strstr(out, "MR table:") != NULL,
		      "objects table:\n%s", out);
		snprintf(cmd, sizeof(cmd), "%s --file-prefix %s --json objects", bin, d.prefix);
		CHECK(t_run(cmd, out, sizeof(out)) == 0, "json objects exits 0");
		j = json_loads(out, 0, NULL);
		row = json_array_get(json_object_get(j, "clients"), 0);
		CHECK(j != NULL && json_array_size(json_object_get(j, "clients")) == 1 &&
			      json_integer_value(json_object_get(row, "pds")) == 1 &&
			      json_integer_value(json_object_get(row, "cqs")) == 1 &&
			      json_integer_value(json_object_get(row, "mrs")) >= 1 &&
			      json_integer_value(json_object_get(row, "registered_bytes")) == 8192,
		      "our client's objects: %s", out);
		json_array_foreach (json_object_get(j, "mrs"), i, row) {
			if (json_integer_value(json_object_get(row, "token")) == token)
				found = row;
		}
		CHECK(found != NULL &&
			      strcmp(json_string_value(json_object_get(found, "state")), "valid") ==
				      0 &&
			      strcmp(json_string_value(json_object_get(found, "kind")), "normal") ==
				      0 &&
			      json_integer_value(json_object_get(found, "length")) == 8192 &&
			      json_integer_value(json_object_get(found, "va")) ==
				      (json_int_t)(uintptr_t)buf,
		      "our MR 0x%x listed, valid, with its range: %s", token, out);
		json_decref(j);

		snprintf(cmd, sizeof(cmd), "%s --file-prefix %s --json stats", bin, d.prefix);
		CHECK(t_run(cmd, out, sizeof(out)) == 0, "json stats exits 0");
		j = json_loads(out, 0, NULL);
		row = json_array_get(json_object_get(j, "engines"), 0);
		CHECK(j != NULL &&
			      json_array_size(json_object_get(j, "engines")) ==
				      (size_t)tel_status_u64(&d, "engines") &&
			      json_integer_value(json_object_get(row, "engine_heartbeat")) > 0 &&
			      json_integer_value(json_object_get(j, "requests_served")) > 0,
		      "stats per engine: %s", out);
		json_decref(j);
		snprintf(cmd, sizeof(cmd), "%s --file-prefix %s stats 2>&1", bin, d.prefix);
		CHECK(t_run(cmd, out, sizeof(out)) == 0 && strstr(out, "HEARTBEAT") != NULL,
		      "stats table:\n%s", out);

		/* closed: gone from the listing */
		CHECK_STATUS(sync_close_mr(ad, mr), NDK_STATUS_SUCCESS);
		snprintf(cmd, sizeof(cmd), "%s --file-prefix %s --json objects", bin, d.prefix);
		CHECK(t_run(cmd, out, sizeof(out)) == 0, "json objects exits 0");
		{
			char hex[32];

			snprintf(hex, sizeof(hex), "\"token\": %u,", token);
			CHECK(strstr(out, hex) == NULL, "closed MR 0x%x no longer listed", token);
		}
		CHECK_STATUS(sync_close_cq(ad, cq), NDK_STATUS_SUCCESS);
		CHECK_STATUS(sync_close_pd(ad, pd), NDK_STATUS_SUCCESS);
		ndk_mem_free(ad, buf);
	}

	snprintf(cmd, sizeof(cmd), "%s --telemetry-socket /nonexistent/x.sock status 2>&1", bin);
	CHECK(t_run(cmd, out, sizeof(out)) == 1 && strstr(out, "/nonexistent/x.sock") != NULL &&
		      strstr(out, "not running") != NULL,
	      "names the socket it tried: %s", out);

	snprintf(cmd, sizeof(cmd), "%s --file-prefix ndkt-not-running-%d status 2>&1", bin,
		 (int)getpid());
	CHECK(t_run(cmd, out, sizeof(out)) == 1, "exit 1 without a daemon");
	CHECK(strstr(out, "not running") != NULL, "says so: %s", out);

	snprintf(cmd, sizeof(cmd), "%s frobnicate 2>&1", bin);
	CHECK(t_run(cmd, out, sizeof(out)) == 2, "unknown command is a usage error");

	ndk_adapter_close(ad);
}

/*
 * A client name is client-written bytes that end up in ndkd's log and in
 * telemetry: a newline in it used to forge a log line of the client's choosing.
 */
static void
test_hostile_client_name(void)
{
	const char *bin = getenv("NDKCTL_BIN");
	struct ndk_adapter_opts o;
	struct ndk_adapter *ad;
	char cmd[512], out[8192], line[512];
	bool forged = false;
	json_t *j;
	FILE *f;

	ndk_adapter_opts_init(&o, sizeof(o));
	o.name = "evil\"\\\nndkd.main: forged\x7f\xff";
	if (ndk_adapter_open(d.sock, &o, &ad) != NDK_STATUS_SUCCESS) {
		CHECK(false, "attach with a hostile name");
		return;
	}
	snprintf(cmd, sizeof(cmd), "%s --file-prefix %s --json clients", bin, d.prefix);
	CHECK(t_run(cmd, out, sizeof(out)) == 0, "json clients exits 0: %s", out);
	j = json_loads(out, 0, NULL);
	CHECK(j != NULL && json_array_size(j) == 1 &&
		      strcmp(json_string_value(json_object_get(json_array_get(j, 0), "name")),
			     "evil???ndkd.main: forged??") == 0,
	      "quote, backslash, newline and non-ASCII bytes replaced: %s", out);
	json_decref(j);
	f = fopen(d.log, "r");
	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		forged |= strncmp(line, "ndkd.main: forged", 17) == 0;
	if (f != NULL)
		fclose(f);
	CHECK(f != NULL && !forged, "no log line forged by the client's name");
	ndk_adapter_close(ad);
}

static void
test_dpdk_telemetry_py(void)
{
	char cmd[512], out[8192];
	struct ndk_adapter *ad;
	struct ndk_pd *pd;

	if (access("/usr/bin/dpdk-telemetry.py", X_OK) != 0) {
		printf("  (skipped: dpdk-telemetry.py not installed)\n");
		return;
	}
	/* a client with a PD: its privileged token is an MR table entry to list */
	CHECK_STATUS(ndk_adapter_open(d.sock, NULL, &ad), NDK_STATUS_SUCCESS);
	CHECK_STATUS(sync_pd(ad, &pd), NDK_STATUS_SUCCESS);
	snprintf(cmd, sizeof(cmd),
		 "printf "
		 "'/ndkd/status\\n/ndkd/clients\\n/ndkd/objects\\n/ndkd/mrs\\n/ndkd/stats\\n' "
		 "| /usr/bin/dpdk-telemetry.py -f %s 2>&1",
		 d.prefix);
	CHECK(t_run(cmd, out, sizeof(out)) == 0, "dpdk-telemetry.py runs");
	CHECK(strstr(out, "\"/ndkd/status\"") != NULL && strstr(out, "requests_served") != NULL,
	      "stock client reads /ndkd/status:\n%s", out);
	CHECK(strstr(out, "\"/ndkd/clients\"") != NULL, "and /ndkd/clients");
	CHECK(strstr(out, "\"/ndkd/objects\"") != NULL && strstr(out, "registered_bytes") != NULL,
	      "and /ndkd/objects");
	CHECK(strstr(out, "\"/ndkd/mrs\"") != NULL && strstr(out, "\"in_use\"") != NULL &&
		      strstr(out, "privileged") != NULL,
	      "and /ndkd/mrs (the PD's privileged token at least):\n%s", out);
	CHECK(strstr(out, "\"/ndkd/stats\"") != NULL && strstr(out, "engine_heartbeat") != NULL,
	      "and /ndkd/stats");
	ndk_adapter_close(ad);
}

int
main(void)
{
	if (tdaemon_start(&d, "ndkctl", NULL) != 0)
		return 1;
	RUN(test_ndkctl);
	RUN(test_hostile_client_name);
	RUN(test_dpdk_telemetry_py);
	CHECK(tdaemon_stop(&d) == 0, "ndkd exits 0 on SIGTERM");
	return t_done();
}
