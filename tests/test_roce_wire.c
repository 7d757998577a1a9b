/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * RoCEv2 frames: every RC opcode encoded and decoded back, every bit of a
 * frame that the ICRC or a header check covers flipped and refused, every
 * truncation refused, and the frames written to a pcap for someone else's
 * ICRC check (shared/rxe-peer/checkicrc.py, beside the source tree).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "roce/wire.h"
#include "testlib.h"

static const uint8_t opcodes[] = {
	ROCE_RC_SEND_FIRST,	    ROCE_RC_SEND_MIDDLE,	 ROCE_RC_SEND_LAST,
	ROCE_RC_SEND_LAST_IMM,	    ROCE_RC_SEND_ONLY,		 ROCE_RC_SEND_ONLY_IMM,
	ROCE_RC_WRITE_FIRST,	    ROCE_RC_WRITE_MIDDLE,	 ROCE_RC_WRITE_LAST,
	ROCE_RC_WRITE_LAST_IMM,	    ROCE_RC_WRITE_ONLY,		 ROCE_RC_WRITE_ONLY_IMM,
	ROCE_RC_READ_REQUEST,	    ROCE_RC_READ_RESPONSE_FIRST, ROCE_RC_READ_RESPONSE_MIDDLE,
	ROCE_RC_READ_RESPONSE_LAST, ROCE_RC_READ_RESPONSE_ONLY,	 ROCE_RC_ACK,
	ROCE_RC_SEND_LAST_INV,	    ROCE_RC_SEND_ONLY_INV,	 ROCE_UD_SEND_ONLY,
};

static uint8_t payload[4096];

static struct roce_pkt
sample(uint8_t opcode, uint32_t len)
{
	struct roce_pkt p = {
		.dst_mac = { 0x02, 0, 0, 0, 0, 2 },
		.src_mac = { 0x02, 0, 0, 0, 0, 1 },
		.src_ip = 0x0a000001,
		.dst_ip = 0x0a000002,
		.ip_id = 0x1234,
		.ip_df = true,
		.ttl = 64,
		.src_port = 0xc001,
		.opcode = opcode,
		.solicited = opcode == ROCE_RC_SEND_ONLY,
		.ack_req = true,
		.pkey = 0xffff,
		.dest_qp = 0x123456,
		.psn = 0xabcdef,
		.va = 0x00007f0012345000ull,
		.rkey = 0xdeadbeef,
		.dma_len = 1u << 20,
		.syndrome = ROCE_AETH_ACK | 0x1f,
		.msn = 0x654321,
		.imm = 0xcafef00d,
		.inv_rkey = 0x0badf00d,
		.qkey = 0x80010000,
		.src_qp = 0x000001,
		.payload = payload,
		.payload_len = (roce_opcode_flags(opcode) & ROCE_F_PAYLOAD) ? len : 0,
	};

	return p;
}

static bool
same(const struct roce_pkt *a, const struct roce_pkt *b)
{
	unsigned int f = roce_opcode_flags(a->opcode);

	return memcmp(a->dst_mac, b->dst_mac, 6) == 0 && memcmp(a->src_mac, b->src_mac, 6) == 0 &&
	       a->src_ip == b->src_ip && a->dst_ip == b->dst_ip && a->ip_id == b->ip_id &&
	       a->ip_df == b->ip_df && a->ttl == b->ttl && a->tos == b->tos &&
	       a->src_port == b->src_port && a->opcode == b->opcode &&
	       a->solicited == b->solicited && a->ack_req == b->ack_req && a->pkey == b->pkey &&
	       a->dest_qp == b->dest_qp && a->psn == b->psn &&
	       (!(f & ROCE_F_RETH) ||
		(a->va == b->va && a->rkey == b->rkey && a->dma_len == b->dma_len)) &&
	       (!(f & ROCE_F_AETH) || (a->syndrome == b->syndrome && a->msn == b->msn)) &&
	       (!(f & ROCE_F_IMM) || a->imm == b->imm) &&
	       (!(f & ROCE_F_IETH) || a->inv_rkey == b->inv_rkey) &&
	       (!(f & ROCE_F_DETH) || (a->qkey == b->qkey && a->src_qp == b->src_qp)) &&
	       a->payload_len == b->payload_len &&
	       memcmp(a->payload, b->payload, a->payload_len) == 0;
}

static FILE *pcap;

static void
pcap_add(const uint8_t *frame, size_t len)
{
	uint32_t rec[4] = { 0, 0, (uint32_t)len, (uint32_t)len };

	if (pcap != NULL) {
		fwrite(rec, sizeof(rec), 1, pcap);
		fwrite(frame, len, 1, pcap);
	}
}

static void
test_round_trip(void)
{
	static const uint32_t lens[] = { 0, 1, 3, 4, 5, 1024, 4096 };
	static uint8_t buf[8192];
	unsigned int i, j, n = 0;

	for (i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 7 + 3);
	for (i = 0; i < sizeof(opcodes); i++) {
		for (j = 0; j < sizeof(lens) / sizeof(lens[0]); j++) {
			struct roce_pkt p = sample(opcodes[i], lens[j]), q;
			size_t len = roce_encode(&p, buf, sizeof(buf));
			enum roce_verdict v;

			CHECK(len == roce_frame_len(&p) && len % 2 == 0 && len >= 58,
			      "opcode 0x%02x, %u bytes: encoded (%zu)", opcodes[i], lens[j], len);
			v = roce_decode(buf, len, &q);
			CHECK(v == ROCE_OK && same(&p, &q), "opcode 0x%02x, %u bytes: decoded (%s)",
			      opcodes[i], lens[j], roce_verdict_str(v));
			if (j == 1 || j == 5)
				pcap_add(buf, len);
			n++;
		}
	}
	printf("  %u frames encoded and decoded back\n", n);
}

static void
test_refusals(void)
{
	static uint8_t buf[2048], pad[2048];
	struct roce_pkt p = sample(ROCE_RC_WRITE_ONLY, 61), q;
	size_t len = roce_encode(&p, buf, sizeof(buf)), i;
	unsigned int bit, flips = 0;

	/* what a sender may not put on the wire */
	q = sample(ROCE_RC_READ_REQUEST, 0);
	q.payload_len = 4;
	CHECK(roce_encode(&q, pad, sizeof(pad)) == 0, "payload on a READ REQUEST is not encoded");
	q = sample(0x15, 0);
	CHECK(roce_encode(&q, pad, sizeof(pad)) == 0, "an unknown opcode is not encoded");
	CHECK(roce_encode(&p, pad, len - 1) == 0, "nor a frame without room");

	/*
	 * Every bit from the EtherType on: refused, except the three fields
	 * the network may change and the ICRC masks (the FECN/BECN byte, the
	 * UDP checksum, and TOS/TTL, which the IPv4 checksum catches).
	 */
	for (i = 12; i < len; i++) {
		if (i == 14 + 20 + 6 || i == 14 + 20 + 7 || i == 14 + 20 + 8 + 4)
			continue;
		for (bit = 0; bit < 8; bit++) {
			buf[i] ^= (uint8_t)(1u << bit);
			if (roce_decode(buf, len, &q) != ROCE_OK)
				flips++;
			else
				CHECK(0, "byte %zu bit %u flipped, still accepted", i, bit);
			buf[i] ^= (uint8_t)(1u << bit);
		}
	}
	printf("  %u single-bit flips refused\n", flips);
	CHECK(roce_decode(buf, len, &q) == ROCE_OK, "the frame is intact again");
	buf[14 + 20 + 8 + 4] = 0xc0; /* FECN and BECN set by the network */
	CHECK(roce_decode(buf, len, &q) == ROCE_OK, "congestion bits do not break the ICRC");
	buf[14 + 20 + 8 + 4] = 0;

	for (i = 0; i < len; i++)
		CHECK(roce_decode(buf, i, &q) != ROCE_OK, "truncated to %zu bytes: refused", i);
	/* Ethernet padding after the IPv4 datagram is not part of it */
	memcpy(pad, buf, len);
	memset(pad + len, 0xee, 6);
	CHECK(roce_decode(pad, len + 6, &q) == ROCE_OK && q.payload_len == 61,
	      "padded frame: its IPv4 length counts");
	/* not RoCEv2 at all: another UDP port */
	pad[14 + 20 + 3] ^= 1;
	CHECK(roce_decode(pad, len, &q) == ROCE_NOT_ROCE, "another UDP port is not ours");
}

/* The pcap checked by the ICRC checker the RoCEv2 interop tests use. */
static void
test_foreign_icrc_check(void)
{
	const char *root = getenv("NDKD_SOURCE_ROOT");
	char cmd[1024], out[4096];
	int st;

	fclose(pcap);
	pcap = NULL;
	snprintf(cmd, sizeof(cmd), "test -r %s/../shared/rxe-peer/checkicrc.py",
		 root != NULL ? root : ".");
	if (root == NULL || system(cmd) != 0) {
		printf("  (skipped: no shared/rxe-peer/checkicrc.py beside the source tree)\n");
		return;
	}
	snprintf(cmd, sizeof(cmd), "python3 %s/../shared/rxe-peer/checkicrc.py /tmp/ndkt-roce.pcap",
		 root);
	st = t_run(cmd, out, sizeof(out));
	printf("  checkicrc.py: %s", out);
	CHECK(st == 0, "every ICRC right by checkicrc.py (exit %d)", st);
}

int
main(void)
{
	static const uint32_t head[6] = { 0xa1b2c3d4, 0x00040002, 0, 0, 65535, 1 };

	pcap = fopen("/tmp/ndkt-roce.pcap", "wb");
	if (pcap != NULL)
		fwrite(head, sizeof(head), 1, pcap);
	RUN(test_round_trip);
	RUN(test_refusals);
	RUN(test_foreign_icrc_check);
	unlink("/tmp/ndkt-roce.pcap");
	return t_done();
}
