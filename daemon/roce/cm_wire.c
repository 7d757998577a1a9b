/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * CM messages in MADs, and rdma_cm's private-data header (cm_wire.h). The
 * layouts are IBTA Vol. 1 Tables 106-113; offsets are from the start of
 * the CM data, fields narrower than their bytes take the high bits first.
 */
#include "roce/cm_wire.h"

#include <string.h>

#include "roce/bytes.h"

/* width bits of byte b starting bit_off bits from its most significant bit */
static uint8_t
bits(uint8_t b, unsigned int bit_off, unsigned int width)
{
	return (uint8_t)((b >> (8 - bit_off - width)) & ((1u << width) - 1));
}

static uint8_t
set_bits(uint8_t b, unsigned int bit_off, unsigned int width, unsigned int v)
{
	unsigned int shift = 8 - bit_off - width, mask = ((1u << width) - 1) << shift;

	return (uint8_t)((b & ~mask) | ((v << shift) & mask));
}

size_t
cm_private_len(uint16_t attr)
{
	switch (attr) {
	case CM_REQ:
		return 92;
	case CM_MRA:
		return 222;
	case CM_REJ:
		return 148;
	case CM_REP:
		return 196;
	case CM_RTU:
	case CM_DREP:
		return 224;
	case CM_DREQ:
		return 220;
	default:
		return 0;
	}
}

/* Where a message's private data starts in the CM data. */
static size_t
private_off(uint16_t attr)
{
	return CM_DATA_LEN - cm_private_len(attr);
}

const char *
cm_attr_str(uint16_t attr)
{
	switch (attr) {
	case CM_REQ:
		return "REQ";
	case CM_MRA:
		return "MRA";
	case CM_REJ:
		return "REJ";
	case CM_REP:
		return "REP";
	case CM_RTU:
		return "RTU";
	case CM_DREQ:
		return "DREQ";
	case CM_DREP:
		return "DREP";
	default:
		return "?";
	}
}

const char *
cm_verdict_str(enum cm_verdict v)
{
	static const char *const s[CM_VERDICTS] = {
		[CM_OK] = "ok",
		[CM_SHORT] = "short",
		[CM_NOT_CM] = "not a CM MAD",
		[CM_BAD_ATTR] = "attribute not taken",
		[CM_BAD_FIELD] = "field out of range",
	};

	return (unsigned int)v < CM_VERDICTS ? s[v] : "?";
}

/* A REQ path at d (primary: d + 52, alternate: d + 96). */
static void
path_put(uint8_t *d, const struct cm_path *p)
{
	put16(d, p->local_lid);
	put16(d + 2, p->remote_lid);
	memcpy(d + 4, p->local_gid, 16);
	memcpy(d + 20, p->remote_gid, 16);
	put32(d + 36, (p->flow_label & 0xfffff) << 12);
	d[39] = set_bits(d[39], 2, 6, p->packet_rate);
	d[40] = p->traffic_class;
	d[41] = p->hop_limit;
	d[42] = set_bits(set_bits(0, 0, 4, p->sl), 4, 1, p->subnet_local);
	d[43] = set_bits(d[43], 0, 5, p->ack_timeout);
}

static void
path_get(const uint8_t *d, struct cm_path *p)
{
	p->local_lid = get16(d);
	p->remote_lid = get16(d + 2);
	memcpy(p->local_gid, d + 4, 16);
	memcpy(p->remote_gid, d + 20, 16);
	p->flow_label = get32(d + 36) >> 12;
	p->packet_rate = bits(d[39], 2, 6);
	p->traffic_class = d[40];
	p->hop_limit = d[41];
	p->sl = bits(d[42], 0, 4);
	p->subnet_local = bits(d[42], 4, 1);
	p->ack_timeout = bits(d[43], 0, 5);
}

bool
cm_encode(const struct cm_msg *m, uint8_t mad[MAD_LEN])
{
	uint8_t *d = mad + MAD_HDR_LEN;
	size_t plen = cm_private_len(m->attr);

	if (plen == 0)
		return false;
	memset(mad, 0, MAD_LEN);
	mad[0] = MAD_BASE_VERSION;
	mad[1] = MAD_CLASS_CM;
	mad[2] = MAD_CM_VERSION;
	mad[3] = MAD_METHOD_SEND;
	put64(mad + 8, m->tid);
	put16(mad + 16, m->attr);
	put32(d, m->local_comm_id);
	switch (m->attr) {
	case CM_REQ:
		put64(d + 8, m->service_id);
		put64(d + 16, m->local_ca_guid);
		put32(d + 28, m->local_qkey);
		put24(d + 32, m->local_qpn);
		d[35] = m->responder_resources;
		put24(d + 36, m->local_eecn);
		d[39] = m->initiator_depth;
		put24(d + 40, m->remote_eecn);
		d[43] = set_bits(
			set_bits(set_bits(0, 0, 5, m->remote_cm_timeout), 5, 2, m->transport_type),
			7, 1, m->e2e_flow_control);
		put24(d + 44, m->starting_psn);
		d[47] = set_bits(set_bits(0, 0, 5, m->local_cm_timeout), 5, 3, m->retry_count);
		put16(d + 48, m->pkey);
		d[50] = set_bits(set_bits(set_bits(0, 0, 4, m->path_mtu), 4, 1, m->rdc_exists), 5,
				 3, m->rnr_retry_count);
		d[51] = set_bits(set_bits(set_bits(0, 0, 4, m->max_cm_retries), 4, 1, m->srq), 5, 3,
				 m->ext_transport);
		path_put(d + 52, &m->primary);
		path_put(d + 96, &m->alternate);
		d[139] = set_bits(d[139], 5, 1, m->sap_supported);
		break;
	case CM_REP:
		put32(d + 4, m->remote_comm_id);
		put32(d + 8, m->local_qkey);
		put24(d + 12, m->local_qpn);
		put24(d + 16, m->local_eecn);
		put24(d + 20, m->starting_psn);
		d[24] = m->responder_resources;
		d[25] = m->initiator_depth;
		d[26] = set_bits(set_bits(set_bits(0, 0, 5, m->target_ack_delay), 5, 2,
					  m->failover_accepted),
				 7, 1, m->e2e_flow_control);
		d[27] = set_bits(set_bits(0, 0, 3, m->rnr_retry_count), 3, 1, m->srq);
		put64(d + 28, m->local_ca_guid);
		break;
	case CM_REJ:
		if (m->ari_len > CM_MAX_ARI)
			return false;
		put32(d + 4, m->remote_comm_id);
		d[8] = set_bits(0, 0, 2, m->msg);
		d[9] = set_bits(0, 0, 7, m->ari_len);
		put16(d + 10, m->reason);
		memcpy(d + 12, m->ari, m->ari_len);
		break;
	case CM_MRA:
		put32(d + 4, m->remote_comm_id);
		d[8] = set_bits(0, 0, 2, m->msg);
		d[9] = set_bits(0, 0, 5, m->service_timeout);
		break;
	case CM_DREQ:
		put32(d + 4, m->remote_comm_id);
		put24(d + 8, m->remote_qpn);
		break;
	default: /* RTU, DREP */
		put32(d + 4, m->remote_comm_id);
		break;
	}
	memcpy(d + private_off(m->attr), m->private_data, plen);
	return true;
}

enum cm_verdict
cm_decode(const uint8_t *mad, size_t len, struct cm_msg *m)
{
	const uint8_t *d = mad + MAD_HDR_LEN;
	size_t plen;

	memset(m, 0, sizeof(*m));
	if (len < MAD_LEN)
		return CM_SHORT;
	if (mad[0] != MAD_BASE_VERSION || mad[1] != MAD_CLASS_CM || mad[2] != MAD_CM_VERSION ||
	    mad[3] != MAD_METHOD_SEND)
		return CM_NOT_CM;
	m->tid = get64(mad + 8);
	m->attr = get16(mad + 16);
	plen = cm_private_len(m->attr);
	if (plen == 0)
		return CM_BAD_ATTR;
	m->local_comm_id = get32(d);
	switch (m->attr) {
	case CM_REQ:
		m->service_id = get64(d + 8);
		m->local_ca_guid = get64(d + 16);
		m->local_qkey = get32(d + 28);
		m->local_qpn = get24(d + 32);
		m->responder_resources = d[35];
		m->local_eecn = get24(d + 36);
		m->initiator_depth = d[39];
		m->remote_eecn = get24(d + 40);
		m->remote_cm_timeout = bits(d[43], 0, 5);
		m->transport_type = bits(d[43], 5, 2);
		m->e2e_flow_control = bits(d[43], 7, 1);
		m->starting_psn = get24(d + 44);
		m->local_cm_timeout = bits(d[47], 0, 5);
		m->retry_count = bits(d[47], 5, 3);
		m->pkey = get16(d + 48);
		m->path_mtu = bits(d[50], 0, 4);
		m->rdc_exists = bits(d[50], 4, 1);
		m->rnr_retry_count = bits(d[50], 5, 3);
		m->max_cm_retries = bits(d[51], 0, 4);
		m->srq = bits(d[51], 4, 1);
		m->ext_transport = bits(d[51], 5, 3);
		path_get(d + 52, &m->primary);
		path_get(d + 96, &m->alternate);
		m->sap_supported = bits(d[139], 5, 1);
		break;
	case CM_REP:
		m->remote_comm_id = get32(d + 4);
		m->local_qkey = get32(d + 8);
		m->local_qpn = get24(d + 12);
		m->local_eecn = get24(d + 16);
		m->starting_psn = get24(d + 20);
		m->responder_resources = d[24];
		m->initiator_depth = d[25];
		m->target_ack_delay = bits(d[26], 0, 5);
		m->failover_accepted = bits(d[26], 5, 2);
		m->e2e_flow_control = bits(d[26], 7, 1);
		m->rnr_retry_count = bits(d[27], 0, 3);
		m->srq = bits(d[27], 3, 1);
		m->local_ca_guid = get64(d + 28);
		break;
	case CM_REJ:
		m->remote_comm_id = get32(d + 4);
		m->msg = bits(d[8], 0, 2);
		m->ari_len = bits(d[9], 0, 7);
		m->reason = get16(d + 10);
		if (m->ari_len > CM_MAX_ARI)
			return CM_BAD_FIELD;
		memcpy(m->ari, d + 12, m->ari_len);
		break;
	case CM_MRA:
		m->remote_comm_id = get32(d + 4);
		m->msg = bits(d[8], 0, 2);
		m->service_timeout = bits(d[9], 0, 5);
		break;
	case CM_DREQ:
		m->remote_comm_id = get32(d + 4);
		m->remote_qpn = get24(d + 8);
		break;
	default: /* RTU, DREP */
		m->remote_comm_id = get32(d + 4);
		break;
	}
	memcpy(m->private_data, d + private_off(m->attr), plen);
	return CM_OK;
}

void
rdma_cm_hdr_encode(const struct rdma_cm_hdr *h, uint8_t out[RDMA_CM_HDR_LEN])
{
	out[0] = 0; /* cma_version */
	out[1] = (uint8_t)(h->ip_version << 4);
	put16(out + 2, h->src_port);
	memcpy(out + 4, h->src_ip, 16);
	memcpy(out + 20, h->dst_ip, 16);
}

bool
rdma_cm_hdr_decode(const uint8_t in[RDMA_CM_HDR_LEN], struct rdma_cm_hdr *h)
{
	memset(h, 0, sizeof(*h));
	if (in[0] != 0 || ((in[1] >> 4) != 4 && (in[1] >> 4) != 6))
		return false;
	h->ip_version = in[1] >> 4;
	h->src_port = get16(in + 2);
	memcpy(h->src_ip, in + 4, 16);
	memcpy(h->dst_ip, in + 20, 16);
	return true;
}

uint64_t
rdma_cm_service_id(uint16_t ps, uint16_t port)
{
	return RDMA_CM_SID_BASE | (uint64_t)ps << 16 | port;
}
