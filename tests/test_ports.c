/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A NIC port (needs root): ndkd on one end of a veth pair through DPDK's
 * af_packet PMD, the kernel on the other in a network namespace. The
 * kernel's ARP for ndkd's address must be answered with the port's MAC, and
 * RoCEv2 frames built by another encoder must be counted as they are: good,
 * bad ICRC, bad IPv4 header.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testlib.h"

static char ns[32], va[16], vb[16];

static void
teardown(void)
{
	t_sh("ip netns del %s 2>/dev/null; ip link del %s 2>/dev/null; true", ns, va);
}

static void
test_arp_and_frames(void)
{
	static const char *args[] = { "--port", NULL, "--addr", "10.99.7.1/24", NULL };
	char devargs[64], mac[32] = "", cmd[512], out[8192];
	struct tdaemon d;
	FILE *f;

	snprintf(devargs, sizeof(devargs), "net_af_packet0,iface=%s", va);
	args[1] = devargs;
	if (tdaemon_start(&d, "ports", args) != 0) {
		CHECK(0, "ndkd starts with the port");
		return;
	}
	snprintf(cmd, sizeof(cmd), "/sys/class/net/%s/address", va);
	f = fopen(cmd, "r");
	CHECK(f != NULL && fgets(mac, sizeof(mac), f) != NULL, "the port's MAC");
	if (f != NULL)
		fclose(f);
	mac[strcspn(mac, "\n")] = '\0';
	snprintf(cmd, sizeof(cmd),
		 "ip netns exec %s python3 %s/tests/ports-peer.py %s 10.99.7.1 %s 2>&1 && "
		 "ip netns exec %s ip neigh show 10.99.7.1",
		 ns, getenv("NDKD_SOURCE_ROOT"), vb, mac, ns);
	CHECK(t_run(cmd, out, sizeof(out)) == 0, "the peer ran: %s", out);
	printf("  %s", out);
	CHECK(strstr(out, mac) != NULL, "the kernel learnt ndkd's MAC %s by ARP", mac);
	CHECK(tel_query_u64(&d, "/ndkd/ports", "ports") == 1, "one port in telemetry");
	printf("  port: rx %" PRIu64 ", rx_arp %" PRIu64 ", rx_roce %" PRIu64
	       ", rx_bad_icrc %" PRIu64 ", rx_bad_header %" PRIu64 ", rx_other %" PRIu64 "\n",
	       tel_query_elem_u64(&d, "/ndkd/ports", "rx", 0),
	       tel_query_elem_u64(&d, "/ndkd/ports", "rx_arp", 0),
	       tel_query_elem_u64(&d, "/ndkd/ports", "rx_roce", 0),
	       tel_query_elem_u64(&d, "/ndkd/ports", "rx_bad_icrc", 0),
	       tel_query_elem_u64(&d, "/ndkd/ports", "rx_bad_header", 0),
	       tel_query_elem_u64(&d, "/ndkd/ports", "rx_other", 0));
	CHECK(tel_query_elem_u64(&d, "/ndkd/ports", "rx_arp", 0) >= 1 &&
		      tel_query_elem_u64(&d, "/ndkd/ports", "tx_arp", 0) >= 1,
	      "ARP requests answered");
	CHECK(tel_query_elem_u64(&d, "/ndkd/ports", "rx_roce", 0) == 1 &&
		      tel_query_elem_u64(&d, "/ndkd/ports", "rx_no_qp", 0) == 1,
	      "the good frame decoded (to a QP nobody has)");
	CHECK(tel_query_elem_u64(&d, "/ndkd/ports", "rx_bad_icrc", 0) == 1, "the bad ICRC counted");
	CHECK(tel_query_elem_u64(&d, "/ndkd/ports", "rx_bad_header", 0) == 1,
	      "the bad IPv4 checksum counted");
	{
		snprintf(cmd, sizeof(cmd), "%s --file-prefix %s ports 2>&1", getenv("NDKCTL_BIN"),
			 d.prefix);
		CHECK(t_run(cmd, out, sizeof(out)) == 0 && strstr(out, "10.99.7.1/24") != NULL &&
			      strstr(out, "net_af_packet") != NULL &&
			      strstr(out, "rx_bad_icrc      1 ") != NULL,
		      "ndkctl ports names the port, its address and its counters:\n%s", out);
		snprintf(cmd, sizeof(cmd), "%s --file-prefix %s --json ports", getenv("NDKCTL_BIN"),
			 d.prefix);
		CHECK(t_run(cmd, out, sizeof(out)) == 0 && strstr(out, "\"rx_roce\": 1") != NULL,
		      "ndkctl --json ports: %s", out);
	}
	CHECK(tdaemon_stop(&d) == 0, "ndkd stops on SIGTERM, exit 0");
}

int
main(void)
{
	if (getuid() != 0 || system("command -v ip >/dev/null") != 0) {
		printf("skipped: needs root and iproute2 for a network namespace\n");
		return 77;
	}
	snprintf(ns, sizeof(ns), "ndkt-%d", (int)getpid());
	snprintf(va, sizeof(va), "ndkta%d", (int)getpid() % 100000);
	snprintf(vb, sizeof(vb), "ndktb%d", (int)getpid() % 100000);
	teardown();
	if (t_sh("ip netns add %s && ip link add %s type veth peer name %s", ns, va, vb) != 0 ||
	    t_sh("ip link set %s netns %s && ip link set %s up", vb, ns, va) != 0 ||
	    t_sh("ip netns exec %s ip addr add 10.99.7.2/24 dev %s && ip netns exec %s ip link set "
		 "lo up",
		 ns, vb, ns) != 0 ||
	    t_sh("ip netns exec %s ip link set %s up", ns, vb) != 0) {
		printf("skipped: cannot make a network namespace and a veth pair here\n");
		teardown();
		return 77;
	}
	RUN(test_arp_and_frames);
	teardown();
	return t_done();
}
