/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * CM MADs: every message ndkd takes encoded and decoded back field for
 * field, fields at the byte and bit positions IBTA's tables give them
 * (checked against offsets written out here, not against the codec's
 * own), rdma_cm's private-data header and service IDs, and MADs that are
 * short, of another class or of an attribute not taken refused. And the
 * CM exchange of a real rping between two Linux hosts (rdma_rxe, captured
 * in tests/data/rping-cm.pcap): every frame to QP1 decodes, every MAD
 * decodes and encodes back to the same bytes, and the REQ says what
 * rdma_cm put in it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "roce/cm_wire.h"
#include "roce/wire.h"
#include "testlib.h"

static const uint16_t attrs[] = { CM_REQ, CM_MRA, CM_REJ, CM_REP, CM_RTU, CM_DREQ, CM_DREP };

static void
fill_path(struct cm_path *p, uint8_t seed)
{
	p->local_lid = (uint16_t)(0x1100 + seed);
	p->remote_lid = (uint16_t)(0x2200 + seed);
	memset(p->local_gid, 0xa0 + seed, 16);
	memset(p->remote_gid, 0xb0 + seed, 16);
	p->flow_label = 0xabcde;
	p->packet_rate = 0x2a;
	p->traffic_class = (uint8_t)(0x40 + seed);
	p->hop_limit = 64;
	p->sl = 0xd;
	p->subnet_local = true;
	p->ack_timeout = 0x13;
}

/* Every field of attr's message set to something not 0, within its width. */
static struct cm_msg
sample(uint16_t attr)
{
	struct cm_msg m;
	size_t i;

	memset(&m, 0, sizeof(m));
	m.attr = attr;
	m.tid = 0x0123456789abcdefull;
	m.local_comm_id = 0x11223344;
	for (i = 0; i < cm_private_len(attr); i++)
		m.private_data[i] = (uint8_t)(i * 7 + attr);
	switch (attr) {
	case CM_REQ:
		m.service_id = rdma_cm_service_id(RDMA_CM_PS_TCP, 7174);
		m.local_ca_guid = 0x5254000000770002ull;
		m.local_qkey = 0x80010000;
		m.local_qpn = 0xabcdef;
		m.responder_resources = 16;
		m.local_eecn = 0x123456;
		m.initiator_depth = 8;
		m.remote_eecn = 0x654321;
		m.remote_cm_timeout = 0x14;
		m.transport_type = 2;
		m.e2e_flow_control = true;
		m.starting_psn = 0xfedcba;
		m.local_cm_timeout = 0x15;
		m.retry_count = 7;
		m.pkey = 0xffff;
		m.path_mtu = 3;
		m.rdc_exists = true;
		m.rnr_retry_count = 6;
		m.max_cm_retries = 15;
		m.srq = true;
		m.ext_transport = 5;
		fill_path(&m.primary, 1);
		fill_path(&m.alternate, 2);
		m.sap_supported = true;
		break;
	case CM_REP:
		m.remote_comm_id = 0x55667788;
		m.local_qkey = 0x0badcafe;
		m.local_qpn = 0x000102;
		m.local_eecn = 0x0a0b0c;
		m.starting_psn = 0x7f7f7f;
		m.responder_resources = 4;
		m.initiator_depth = 3;
		m.target_ack_delay = 0x1d;
		m.failover_accepted = 2;
		m.e2e_flow_control = true;
		m.rnr_retry_count = 5;
		m.srq = true;
		m.local_ca_guid = 0x0102030405060708ull;
		break;
	case CM_REJ:
		m.remote_comm_id = 0x55667788;
		m.msg = CM_MSG_REP;
		m.reason = CM_REJ_CONSUMER_DEFINED;
		m.ari_len = CM_MAX_ARI;
		memset(m.ari, 0x5a, CM_MAX_ARI);
		break;
	case CM_MRA:
		m.remote_comm_id = 0x55667788;
		m.msg = CM_MSG_OTHER;
		m.service_timeout = 0x1f;
		break;
	case CM_DREQ:
		m.remote_comm_id = 0x55667788;
		m.remote_qpn = 0xfeed01;
		break;
	default:
		m.remote_comm_id = 0x55667788;
		break;
	}
	return m;
}

static void
test_round_trip(void)
{
	size_t i;

	for (i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++) {
		struct cm_msg m = sample(attrs[i]), back;
		uint8_t mad[MAD_LEN];

		CHECK(cm_encode(&m, mad), "%s encodes", cm_attr_str(attrs[i]));
		CHECK(cm_decode(mad, sizeof(mad), &back) == CM_OK, "%s decodes",
		      cm_attr_str(attrs[i]));
		CHECK(memcmp(&m, &back, sizeof(m)) == 0, "%s: every field back as it went",
		      cm_attr_str(attrs[i]));
		CHECK(mad[0] == 1 && mad[1] == 0x07 && mad[2] == 2 && mad[3] == 0x03 &&
			      mad[16] == 0 && mad[17] == attrs[i],
		      "%s: MAD header (version 1, class CM 0x07 version 2, Send, attribute)",
		      cm_attr_str(attrs[i]));
		CHECK(mad[8] == 0x01 && mad[15] == 0xef && mad[24] == 0x11 && mad[27] == 0x44,
		      "%s: transaction ID and local comm ID big-endian", cm_attr_str(attrs[i]));
		CHECK(mad[MAD_LEN - 1] == m.private_data[cm_private_len(attrs[i]) - 1] &&
			      mad[MAD_LEN - cm_private_len(attrs[i])] == m.private_data[0],
		      "%s: private data fills the MAD's end", cm_attr_str(attrs[i]));
	}
}

/* IBTA Table 106 positions, MAD offsets (CM data + 24). */
static void
test_req_layout(void)
{
	struct cm_msg m = sample(CM_REQ);
	uint8_t mad[MAD_LEN];

	cm_encode(&m, mad);
	CHECK(mad[32] == 0x00 && mad[35] == 0x00 && mad[36] == 0x01 && mad[37] == 0x06 &&
		      mad[38] == 0x1c && mad[39] == 0x06,
	      "service ID at 32: rdma_cm's TCP port space, port 7174 (0x00000000_01061c06)");
	CHECK(mad[56] == 0xab && mad[57] == 0xcd && mad[58] == 0xef && mad[59] == 16,
	      "local QPN at 56, responder resources at 59");
	CHECK(mad[63] == 8, "initiator depth at 63");
	CHECK(mad[67] == (0x14 << 3 | 2 << 1 | 1),
	      "byte 67: remote CM timeout (5 bits), transport type (2), flow control (1)");
	CHECK(mad[68] == 0xfe && mad[70] == 0xba && mad[71] == (0x15 << 3 | 7),
	      "starting PSN at 68, byte 71: local CM timeout and retry count");
	CHECK(mad[72] == 0xff && mad[73] == 0xff, "P_Key at 72");
	CHECK(mad[74] == (3 << 4 | 1 << 3 | 6), "byte 74: path MTU, RDC exists, RNR retry count");
	CHECK(mad[75] == (15 << 4 | 1 << 3 | 5),
	      "byte 75: max CM retries, SRQ, extended transport type");
	CHECK(mad[76] == 0x11 && mad[77] == 0x01 && mad[80] == 0xa1 && mad[96] == 0xb1,
	      "primary LIDs at 76, local GID at 80, remote GID at 96");
	CHECK(mad[112] == 0xab && mad[113] == 0xcd && (mad[114] & 0xf0) == 0xe0 &&
		      (mad[115] & 0x3f) == 0x2a,
	      "primary flow label (20 bits) at 112, packet rate low 6 bits of 115");
	CHECK(mad[116] == 0x41 && mad[117] == 64 && mad[118] == (0xd << 4 | 1 << 3) &&
		      mad[119] == 0x13 << 3,
	      "traffic class, hop limit, SL and subnet local, ACK timeout at 116..119");
	CHECK(mad[124] == 0xa2 && mad[140] == 0xb2 && mad[163] == (0x13 << 3 | 1 << 2),
	      "alternate GIDs at 124 and 140, byte 163: ACK timeout and SAP supported");
	CHECK(mad[164] == m.private_data[0], "private data at 164 (92 bytes)");
}

static void
test_rep_rej_layout(void)
{
	struct cm_msg m = sample(CM_REP);
	uint8_t mad[MAD_LEN];

	cm_encode(&m, mad);
	CHECK(mad[28] == 0x55 && mad[32] == 0x0b && mad[36] == 0x00 && mad[38] == 0x02,
	      "REP: remote comm ID at 28, Q_Key at 32, local QPN at 36");
	CHECK(mad[44] == 0x7f && mad[48] == 4 && mad[49] == 3 &&
		      mad[50] == (0x1d << 3 | 2 << 1 | 1) && mad[51] == (5 << 5 | 1 << 4),
	      "REP: PSN at 44, resources at 48, depth at 49, bytes 50 and 51");
	CHECK(mad[52] == 0x01 && mad[59] == 0x08 && mad[60] == m.private_data[0],
	      "REP: CA GUID at 52, private data at 60 (196 bytes)");
	m = sample(CM_REJ);
	cm_encode(&m, mad);
	CHECK(mad[32] == CM_MSG_REP << 6 && mad[33] == CM_MAX_ARI << 1 && mad[34] == 0 &&
		      mad[35] == 28 && mad[36] == 0x5a && mad[108] == m.private_data[0],
	      "REJ: message rejected, ARI length, reason at 34, ARI at 36, private at 108");
	m = sample(CM_DREQ);
	cm_encode(&m, mad);
	CHECK(mad[32] == 0xfe && mad[34] == 0x01 && mad[36] == m.private_data[0],
	      "DREQ: remote QPN at 32, private data at 36");
}

static void
test_refused(void)
{
	struct cm_msg m = sample(CM_REQ);
	uint8_t mad[MAD_LEN], bad[MAD_LEN];
	struct cm_msg out;

	cm_encode(&m, mad);
	CHECK(cm_decode(mad, MAD_LEN - 1, &out) == CM_SHORT, "a MAD one byte short");
	memcpy(bad, mad, MAD_LEN);
	bad[1] = 0x01; /* subnet management */
	CHECK(cm_decode(bad, MAD_LEN, &out) == CM_NOT_CM, "another class");
	memcpy(bad, mad, MAD_LEN);
	bad[2] = 1;
	CHECK(cm_decode(bad, MAD_LEN, &out) == CM_NOT_CM, "CM class version 1");
	memcpy(bad, mad, MAD_LEN);
	bad[3] = 0x81; /* a GetResp */
	CHECK(cm_decode(bad, MAD_LEN, &out) == CM_NOT_CM, "another method");
	memcpy(bad, mad, MAD_LEN);
	bad[17] = 0x19; /* LAP */
	CHECK(cm_decode(bad, MAD_LEN, &out) == CM_BAD_ATTR, "LAP: not taken");
	m = sample(CM_REJ);
	cm_encode(&m, mad);
	mad[33] = 73 << 1;
	CHECK(cm_decode(mad, MAD_LEN, &out) == CM_BAD_FIELD, "REJ with 73 bytes of ARI");
	m.ari_len = 73;
	CHECK(!cm_encode(&m, mad), "nor encoded");
	m.attr = 0x0019;
	CHECK(!cm_encode(&m, mad), "LAP not encoded");
}

static void
test_rdma_cm(void)
{
	struct rdma_cm_hdr h = { .ip_version = 4, .src_port = 40000 }, back;
	uint8_t b[RDMA_CM_HDR_LEN];

	h.src_ip[12] = 10, h.src_ip[13] = 77, h.src_ip[14] = 0, h.src_ip[15] = 5;
	h.dst_ip[12] = 10, h.dst_ip[13] = 77, h.dst_ip[14] = 0, h.dst_ip[15] = 2;
	rdma_cm_hdr_encode(&h, b);
	CHECK(b[0] == 0 && b[1] == 0x40 && b[2] == 0x9c && b[3] == 0x40 && b[16] == 10 &&
		      b[19] == 5 && b[32] == 10 && b[35] == 2,
	      "cma_hdr: version 0, IPv4 in the high nibble, port, IPv4 in each address's "
	      "last 4 bytes");
	CHECK(rdma_cm_hdr_decode(b, &back) && memcmp(&h, &back, sizeof(h)) == 0, "decoded back");
	b[1] = 0x50;
	CHECK(!rdma_cm_hdr_decode(b, &back), "IP version 5 refused");
	b[1] = 0x60;
	b[0] = 1;
	CHECK(!rdma_cm_hdr_decode(b, &back), "cma version 1 refused");
	CHECK(rdma_cm_service_id(RDMA_CM_PS_TCP, 7174) == 0x0000000001061c06ull &&
		      rdma_cm_service_id(RDMA_CM_PS_UDP, 1) == 0x0000000001110001ull,
	      "service IDs as rdma_cm builds them");
}

/* The frames of a pcap (Ethernet), one at a time: their length, 0 at the end. */
static size_t
pcap_next(FILE *f, uint8_t *buf, size_t room)
{
	uint32_t rec[4];

	if (fread(rec, sizeof(rec), 1, f) != 1 || rec[2] > room ||
	    fread(buf, 1, rec[2], f) != rec[2])
		return 0;
	return rec[2];
}

static void
test_linux_rping(void)
{
	const char *root = getenv("NDKD_SOURCE_ROOT");
	char path[512];
	uint8_t frame[2048], hdr[24], again[MAD_LEN];
	unsigned int seen[0x20] = { 0 }, n = 0;
	uint32_t req_comm = 0, rep_comm = 0;
	size_t len;
	FILE *f;

	snprintf(path, sizeof(path), "%s/tests/data/rping-cm.pcap", root != NULL ? root : ".");
	f = fopen(path, "rb");
	CHECK(f != NULL && fread(hdr, sizeof(hdr), 1, f) == 1 && hdr[0] == 0xd4 && hdr[20] == 1,
	      "%s: a pcap of Ethernet frames", path);
	if (f == NULL)
		return;
	while ((len = pcap_next(f, frame, sizeof(frame))) != 0) {
		struct roce_pkt p;
		struct cm_msg m;
		enum roce_verdict v = roce_decode(frame, len, &p);

		if (v == ROCE_NOT_ROCE || (v == ROCE_OK && p.dest_qp != GSI_QPN))
			continue;
		n++;
		CHECK(v == ROCE_OK && p.opcode == ROCE_UD_SEND_ONLY && p.qkey == GSI_QKEY &&
			      p.src_qp == GSI_QPN && p.payload_len == MAD_LEN,
		      "frame %u to QP1: UD SEND ONLY, Q_Key 0x80010000 from QP1, a MAD (%s)", n,
		      roce_verdict_str(v));
		if (v != ROCE_OK || p.payload_len != MAD_LEN)
			continue;
		CHECK(cm_decode(p.payload, p.payload_len, &m) == CM_OK, "frame %u: a CM message",
		      n);
		CHECK(cm_encode(&m, again) && memcmp(again, p.payload, MAD_LEN) == 0,
		      "frame %u: %s encodes back to Linux's bytes", n, cm_attr_str(m.attr));
		if (m.attr < 0x20)
			seen[m.attr]++;
		if (m.attr == CM_REQ) {
			struct rdma_cm_hdr h;

			req_comm = m.local_comm_id;
			CHECK(m.service_id == rdma_cm_service_id(RDMA_CM_PS_TCP, 7174),
			      "REQ: rdma_cm's TCP port space, rping's port 7174 (%#llx)",
			      (unsigned long long)m.service_id);
			CHECK(rdma_cm_hdr_decode(m.private_data, &h) && h.ip_version == 4 &&
				      h.src_ip[15] == 3 && h.dst_ip[15] == 2 && h.dst_ip[12] == 10,
			      "REQ: rdma_cm's header, IPv4 10.77.0.3 to 10.77.0.2");
			CHECK(m.transport_type == 0 && m.local_qpn > 1 &&
				      m.primary.local_gid[10] == 0xff &&
				      m.primary.local_gid[15] == 3 && m.primary.remote_gid[15] == 2,
			      "REQ: RC, a QP, IPv4-mapped GIDs in the primary path");
		}
		if (m.attr == CM_REP) {
			rep_comm = m.local_comm_id;
			CHECK(m.remote_comm_id == req_comm, "REP answers the REQ");
		}
		if (m.attr == CM_RTU)
			CHECK(m.local_comm_id == req_comm && m.remote_comm_id == rep_comm,
			      "RTU names both ends");
	}
	fclose(f);
	CHECK(seen[CM_REQ] >= 1 && seen[CM_REP] >= 1 && seen[CM_RTU] >= 1 && seen[CM_DREQ] >= 1 &&
		      seen[CM_DREP] >= 1,
	      "REQ, REP, RTU, DREQ and DREP all seen (%u MADs)", n);
}

int
main(void)
{
	RUN(test_round_trip);
	RUN(test_req_layout);
	RUN(test_rep_rej_layout);
	RUN(test_refused);
	RUN(test_rdma_cm);
	RUN(test_linux_rping);
	return t_done();
}
