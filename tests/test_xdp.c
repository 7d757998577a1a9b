/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ndkd's XDP program (daemon/bpf/ndk_xdp.bpf.c) without a NIC: loaded
 * through libbpf as the af_xdp PMD loads it, and run on frames through the
 * kernel's BPF_PROG_TEST_RUN. A RoCEv2 frame to the port's address is
 * steered to the queue's socket (none here, so the program's fallback,
 * XDP_DROP, counted as such); everything else passes to the kernel. The
 * program's verdict on random and mutated frames is compared with a
 * predicate written here on its own. Needs BPF permission (root); skips
 * (77) without it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "bpf/ndk_xdp.h"
#include "testlib.h"

#define OUR_IP	 0x0a000005u /* 10.0.0.5 */
#define OTHER_IP 0x0a000006u

static struct bpf_object *obj;
static int prog_fd = -1, cfg_fd = -1, ctrs_fd = -1, n_cpus;

/* 14 Ethernet + 20 IPv4 + 8 UDP + 12 BTH + 4 ICRC */
#define ROCE_LEN 58

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void
put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

/* An Ethernet + IPv4 frame of protocol proto to dst, len bytes in all. */
static uint32_t
ipv4_frame(uint8_t *f, uint32_t len, uint8_t proto, uint32_t dst)
{
	memset(f, 0, len);
	memcpy(f, "\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02", 12);
	put16(f + 12, 0x0800);
	f[14] = 0x45;
	put16(f + 16, (uint16_t)(len - 14));
	put16(f + 20, 0x4000); /* DF, as RoCEv2 senders set it */
	f[22] = 64;
	f[23] = proto;
	put32(f + 26, 0x0a000009u);
	put32(f + 30, dst);
	return len;
}

static uint32_t
udp_frame(uint8_t *f, uint16_t dport, uint32_t dst)
{
	ipv4_frame(f, ROCE_LEN, 17, dst);
	put16(f + 34, 49152);
	put16(f + 36, dport);
	put16(f + 38, ROCE_LEN - 34);
	f[42] = 0x04; /* BTH: RC SEND ONLY */
	return ROCE_LEN;
}

/* The rule, written again: what the program must steer to ndkd. */
static bool
want_steered(const uint8_t *f, uint32_t len, uint32_t ip)
{
	return ip != 0 && len >= 42 && f[12] == 0x08 && f[13] == 0x00 && f[14] == 0x45 &&
	       ((f[20] << 8 | f[21]) & 0xbfff) == 0 && f[23] == 17 &&
	       ((uint32_t)f[30] << 24 | (uint32_t)f[31] << 16 | (uint32_t)f[32] << 8 | f[33]) ==
		       ip &&
	       (f[36] << 8 | f[37]) == NDK_XDP_ROCE_PORT;
}

static void
counters(uint64_t c[NDK_XDP_CTRS])
{
	uint64_t v[512];

	for (uint32_t k = 0; k < NDK_XDP_CTRS; k++) {
		c[k] = 0;
		if (bpf_map_lookup_elem(ctrs_fd, &k, v) == 0)
			for (int i = 0; i < n_cpus; i++)
				c[k] += v[i];
	}
}

static void
steer_to(uint32_t ip)
{
	struct ndk_xdp_cfg cfg = { .ip = htonl(ip) };
	uint32_t zero = 0;

	CHECK(bpf_map_update_elem(cfg_fd, &zero, &cfg, BPF_ANY) == 0, "configured");
}

/* The program's action on a frame, and which counter moved (-1: none or more than one). */
static int
run(const uint8_t *f, uint32_t len, int *moved)
{
	uint8_t buf[2048];
	uint64_t before[NDK_XDP_CTRS], after[NDK_XDP_CTRS];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f, .data_size_in = len, .data_out = buf,
		    .data_size_out = sizeof(buf), .repeat = 1);
	int rc;

	counters(before);
	rc = bpf_prog_test_run_opts(prog_fd, &o);
	if (rc != 0)
		return rc < 0 ? rc : -errno;
	counters(after);
	*moved = -1;
	for (int k = 0; k < NDK_XDP_CTRS; k++) {
		if (after[k] == before[k])
			continue;
		*moved = *moved == -1 && after[k] == before[k] + 1 ? k : -2;
	}
	return (int)o.retval;
}

static void
expect(const char *what, const uint8_t *f, uint32_t len, int action, int ctr)
{
	int moved, got = run(f, len, &moved);

	CHECK(got == action && moved == ctr, "%s: action %d, counter %d; want %d, %d", what, got,
	      moved, action, ctr);
}

static void
test_decisions(void)
{
	uint8_t f[128];

	steer_to(OUR_IP);
	udp_frame(f, NDK_XDP_ROCE_PORT, OUR_IP);
	expect("RoCEv2 to our address (no socket on the queue)", f, ROCE_LEN, XDP_DROP,
	       NDK_XDP_DROP);
	f[20] = 0; /* no DF */
	expect("RoCEv2 without DF", f, ROCE_LEN, XDP_DROP, NDK_XDP_DROP);
	udp_frame(f, NDK_XDP_ROCE_PORT, OTHER_IP);
	expect("RoCEv2 to another address", f, ROCE_LEN, XDP_PASS, NDK_XDP_PASS);
	udp_frame(f, 53, OUR_IP);
	expect("other UDP to our address", f, ROCE_LEN, XDP_PASS, NDK_XDP_PASS);
	udp_frame(f, NDK_XDP_ROCE_PORT, OUR_IP);
	put16(f + 34, NDK_XDP_ROCE_PORT);
	put16(f + 36, 4792);
	expect("from port 4791 to another", f, ROCE_LEN, XDP_PASS, NDK_XDP_PASS);
	ipv4_frame(f, 98, 1, OUR_IP);
	f[34] = 8; /* echo request */
	expect("ping", f, 98, XDP_PASS, NDK_XDP_PASS);
	ipv4_frame(f, 74, 6, OUR_IP);
	put16(f + 36, NDK_XDP_ROCE_PORT); /* TCP to port 4791 is still TCP */
	expect("TCP", f, 74, XDP_PASS, NDK_XDP_PASS);
	memset(f, 0, 60);
	memcpy(f, "\xff\xff\xff\xff\xff\xff\x02\x00\x00\x00\x00\x02\x08\x06", 14);
	put16(f + 14, 1);
	put16(f + 16, 0x0800);
	f[18] = 6;
	f[19] = 4;
	put16(f + 20, 1);
	put32(f + 38, OUR_IP);
	expect("ARP request for our address", f, 60, XDP_PASS, NDK_XDP_PASS);
	/* IPv6, UDP to 4791: ndkd's RoCEv2 is IPv4 */
	memset(f, 0, 78);
	memcpy(f, "\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02\x86\xdd", 14);
	f[14] = 0x60;
	f[20] = 17;
	put16(f + 56, NDK_XDP_ROCE_PORT);
	expect("IPv6", f, 78, XDP_PASS, NDK_XDP_PASS);
	/* a VLAN tag before the same RoCEv2 frame: not this port's (untagged) traffic */
	udp_frame(f + 4, NDK_XDP_ROCE_PORT, OUR_IP);
	memmove(f, f + 4, 12);
	put16(f + 12, 0x8100);
	put16(f + 14, 100);
	put16(f + 16, 0x0800);
	expect("VLAN-tagged RoCEv2", f, ROCE_LEN + 4, XDP_PASS, NDK_XDP_PASS);
	udp_frame(f, NDK_XDP_ROCE_PORT, OUR_IP);
	f[14] = 0x46; /* IP options */
	expect("IPv4 with options", f, ROCE_LEN, XDP_PASS, NDK_XDP_PASS);
	udp_frame(f, NDK_XDP_ROCE_PORT, OUR_IP);
	put16(f + 20, 0x2000); /* more fragments */
	expect("a first fragment", f, ROCE_LEN, XDP_PASS, NDK_XDP_PASS);
	put16(f + 20, 0x0010); /* offset 128 */
	expect("a later fragment", f, ROCE_LEN, XDP_PASS, NDK_XDP_PASS);
	steer_to(0);
	udp_frame(f, NDK_XDP_ROCE_PORT, OUR_IP);
	expect("before ndkd configures it: RoCEv2 too", f, ROCE_LEN, XDP_PASS, NDK_XDP_PASS);
}

/* Every prefix of a RoCEv2 frame: passes (or is refused by the kernel as too short). */
static void
test_truncated(void)
{
	uint8_t f[128];
	int ran = 0, wrong = 0;

	steer_to(OUR_IP);
	udp_frame(f, NDK_XDP_ROCE_PORT, OUR_IP);
	for (uint32_t len = 0; len <= ROCE_LEN; len++) {
		int moved, got = run(f, len, &moved);

		if (got < 0)
			continue; /* the kernel takes no frame shorter than Ethernet's header */
		ran++;
		if (len < 42)
			wrong += got != XDP_PASS || moved != NDK_XDP_PASS;
		else
			wrong += got != XDP_DROP || moved != NDK_XDP_DROP;
	}
	CHECK(ran >= ROCE_LEN - 14 && wrong == 0,
	      "%d prefixes ran, %d decided wrong (short ones pass, whole headers steer)", ran,
	      wrong);
}

/* Random frames, and RoCEv2 frames with bytes changed: the verdict is the rule's. */
static void
test_garbage(void)
{
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	uint8_t f[256];
	int ran = 0, wrong = 0, steered = 0;

	steer_to(OUR_IP);
	for (int i = 0; i < 20000; i++) {
		uint32_t len = (uint32_t)(t_rand(&seed) % 200);
		int moved, got, want;

		if (i % 2 == 0) {
			for (uint32_t k = 0; k < sizeof(f); k++)
				f[k] = (uint8_t)t_rand(&seed);
		} else {
			/* a RoCEv2 frame with up to 3 bytes of its headers changed */
			udp_frame(f, NDK_XDP_ROCE_PORT, OUR_IP);
			len = ROCE_LEN - 8 + (uint32_t)(t_rand(&seed) % 16);
			for (uint64_t k = t_rand(&seed) % 4; k > 0; k--)
				f[12 + t_rand(&seed) % 30] = (uint8_t)t_rand(&seed);
		}
		got = run(f, len, &moved);
		if (got < 0)
			continue;
		ran++;
		want = want_steered(f, len, OUR_IP);
		steered += want;
		wrong += want ? got != XDP_DROP || moved != NDK_XDP_DROP
			      : got != XDP_PASS || moved != NDK_XDP_PASS;
	}
	CHECK(ran > 19000 && steered > 1000 && wrong == 0,
	      "%d frames ran, %d to steer, %d decided against the rule", ran, steered, wrong);
}

/* What the PMD relies on: its map by name, and ours as the object's first program. */
static void
test_layout(void)
{
	struct bpf_program *first = bpf_object__next_program(obj, NULL);

	CHECK(bpf_object__find_map_by_name(obj, "xsks_map") != NULL, "the PMD's xsks_map");
	CHECK(first != NULL && strcmp(bpf_program__name(first), "ndk_xdp") == 0 &&
		      bpf_object__next_program(obj, first) == NULL,
	      "one program, ndk_xdp");
	CHECK(bpf_program__type(first) == BPF_PROG_TYPE_XDP, "an XDP program");
}

int
main(void)
{
	const char *path = getenv("NDK_XDP_OBJ");
	int rc;

	if (path == NULL) {
		printf("skipped: NDK_XDP_OBJ names no BPF object\n");
		return TEST_SKIP;
	}
	libbpf_set_print(NULL);
	obj = bpf_object__open_file(path, NULL);
	if (obj == NULL) {
		fprintf(stderr, "cannot open %s: %s\n", path, strerror(errno));
		return 1;
	}
	rc = bpf_object__load(obj);
	if (rc == -EPERM || rc == -EACCES) {
		printf("skipped: no permission to load BPF programs here\n");
		bpf_object__close(obj);
		return TEST_SKIP;
	}
	CHECK(rc == 0, "the verifier takes the program: %s", strerror(-rc));
	if (rc != 0)
		return t_done();
	prog_fd = bpf_program__fd(bpf_object__find_program_by_name(obj, "ndk_xdp"));
	cfg_fd = bpf_object__find_map_fd_by_name(obj, "ndk_cfg");
	ctrs_fd = bpf_object__find_map_fd_by_name(obj, "ndk_ctrs");
	n_cpus = libbpf_num_possible_cpus();
	if (prog_fd < 0 || cfg_fd < 0 || ctrs_fd < 0 || n_cpus <= 0 || n_cpus > 512) {
		CHECK(0, "program and maps found");
		return t_done();
	}
	RUN(test_layout);
	RUN(test_decisions);
	RUN(test_truncated);
	RUN(test_garbage);
	bpf_object__close(obj);
	return t_done();
}
