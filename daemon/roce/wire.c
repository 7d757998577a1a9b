/* SPDX-License-Identifier: BSD-3-Clause */
/* RoCEv2 frames (wire.h). Field layouts: IBTA Vol. 1 9.2-9.3, Annex A17. */
#include <string.h>

#include <isa-l/crc.h>

#include "bytes.h"
#include "wire.h"

#define F		 ROCE_F_VALID
#define REQ_SEND_PAYLOAD (F | ROCE_F_REQUEST | ROCE_F_PAYLOAD)

static const uint16_t opcode_flags[256] = {
	[ROCE_RC_SEND_FIRST] = REQ_SEND_PAYLOAD | ROCE_F_FIRST,
	[ROCE_RC_SEND_MIDDLE] = REQ_SEND_PAYLOAD,
	[ROCE_RC_SEND_LAST] = REQ_SEND_PAYLOAD | ROCE_F_LAST,
	[ROCE_RC_SEND_LAST_IMM] = REQ_SEND_PAYLOAD | ROCE_F_LAST | ROCE_F_IMM,
	[ROCE_RC_SEND_ONLY] = REQ_SEND_PAYLOAD | ROCE_F_FIRST | ROCE_F_LAST,
	[ROCE_RC_SEND_ONLY_IMM] = REQ_SEND_PAYLOAD | ROCE_F_FIRST | ROCE_F_LAST | ROCE_F_IMM,
	[ROCE_RC_WRITE_FIRST] = REQ_SEND_PAYLOAD | ROCE_F_FIRST | ROCE_F_RETH,
	[ROCE_RC_WRITE_MIDDLE] = REQ_SEND_PAYLOAD,
	[ROCE_RC_WRITE_LAST] = REQ_SEND_PAYLOAD | ROCE_F_LAST,
	[ROCE_RC_WRITE_LAST_IMM] = REQ_SEND_PAYLOAD | ROCE_F_LAST | ROCE_F_IMM,
	[ROCE_RC_WRITE_ONLY] = REQ_SEND_PAYLOAD | ROCE_F_FIRST | ROCE_F_LAST | ROCE_F_RETH,
	[ROCE_RC_WRITE_ONLY_IMM] =
		REQ_SEND_PAYLOAD | ROCE_F_FIRST | ROCE_F_LAST | ROCE_F_RETH | ROCE_F_IMM,
	[ROCE_RC_READ_REQUEST] = F | ROCE_F_REQUEST | ROCE_F_FIRST | ROCE_F_LAST | ROCE_F_RETH,
	[ROCE_RC_READ_RESPONSE_FIRST] = F | ROCE_F_PAYLOAD | ROCE_F_FIRST | ROCE_F_AETH,
	[ROCE_RC_READ_RESPONSE_MIDDLE] = F | ROCE_F_PAYLOAD,
	[ROCE_RC_READ_RESPONSE_LAST] = F | ROCE_F_PAYLOAD | ROCE_F_LAST | ROCE_F_AETH,
	[ROCE_RC_READ_RESPONSE_ONLY] =
		F | ROCE_F_PAYLOAD | ROCE_F_FIRST | ROCE_F_LAST | ROCE_F_AETH,
	[ROCE_RC_ACK] = F | ROCE_F_FIRST | ROCE_F_LAST | ROCE_F_AETH,
	[ROCE_RC_SEND_LAST_INV] = REQ_SEND_PAYLOAD | ROCE_F_LAST | ROCE_F_IETH,
	[ROCE_RC_SEND_ONLY_INV] = REQ_SEND_PAYLOAD | ROCE_F_FIRST | ROCE_F_LAST | ROCE_F_IETH,
	[ROCE_UD_SEND_ONLY] = REQ_SEND_PAYLOAD | ROCE_F_FIRST | ROCE_F_LAST | ROCE_F_DETH,
};

unsigned int
roce_opcode_flags(uint8_t opcode)
{
	return opcode_flags[opcode];
}

const char *
roce_verdict_str(enum roce_verdict v)
{
	static const char *const s[ROCE_VERDICTS] = {
		[ROCE_OK] = "ok",
		[ROCE_NOT_ROCE] = "not RoCEv2",
		[ROCE_SHORT] = "truncated",
		[ROCE_BAD_IP] = "bad IPv4 header",
		[ROCE_BAD_UDP] = "bad UDP header",
		[ROCE_BAD_BTH] = "bad BTH",
		[ROCE_BAD_OPCODE] = "unknown opcode",
		[ROCE_BAD_PAYLOAD] = "payload not allowed",
		[ROCE_BAD_ICRC] = "bad ICRC",
	};

	return (unsigned int)v < ROCE_VERDICTS ? s[v] : "?";
}

/* Bytes of the extended headers an opcode carries. */
static uint32_t
ext_len(unsigned int f)
{
	return (f & ROCE_F_DETH ? ROCE_DETH_LEN : 0) + (f & ROCE_F_RETH ? ROCE_RETH_LEN : 0) +
	       (f & ROCE_F_AETH ? ROCE_AETH_LEN : 0) + (f & ROCE_F_IMM ? ROCE_IMM_LEN : 0) +
	       (f & ROCE_F_IETH ? ROCE_IETH_LEN : 0);
}

static uint32_t
pad_of(uint32_t payload_len)
{
	return (4 - (payload_len & 3)) & 3;
}

size_t
roce_frame_len(const struct roce_pkt *p)
{
	return ROCE_ETH_LEN + ROCE_IP_LEN + ROCE_UDP_LEN + ROCE_BTH_LEN +
	       ext_len(opcode_flags[p->opcode]) + p->payload_len + pad_of(p->payload_len) +
	       ROCE_ICRC_LEN;
}

/*
 * The ones'-complement sum of a 20-byte IPv4 header, folded: 0xffff when
 * the header's checksum is right. (rte_ip.h would bring rte_byteorder.h,
 * which the static analyser cannot configure.)
 */
static uint16_t
ip_sum(const uint8_t *ip)
{
	uint32_t sum = 0;
	unsigned int i;

	for (i = 0; i < ROCE_IP_LEN; i += 2)
		sum += get16(ip + i);
	while (sum > 0xffff)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

uint32_t
roce_icrc(uint8_t *frame, size_t len)
{
	uint8_t *ip = frame + ROCE_ETH_LEN, *udp = ip + ROCE_IP_LEN, *bth = udp + ROCE_UDP_LEN;
	uint8_t lrh[8], tos = ip[1], ttl = ip[8], csum[2] = { ip[10], ip[11] },
			ucsum[2] = { udp[6], udp[7] }, fb = bth[4];
	uint32_t crc;

	/* the 8 bytes before IPv4 stand in for the LRH: ones, as the annex says */
	memcpy(lrh, ip - 8, 8);
	memset(ip - 8, 0xff, 8);
	ip[1] = ip[8] = ip[10] = ip[11] = 0xff;
	udp[6] = udp[7] = 0xff;
	bth[4] = 0xff;
	/* CRC-32 as Ethernet's FCS (gzip's): ISA-L folds it with PCLMULQDQ */
	crc = crc32_gzip_refl(0, ip - 8, (uint64_t)(len - ROCE_ICRC_LEN - (ROCE_ETH_LEN - 8)));
	memcpy(ip - 8, lrh, 8);
	ip[1] = tos;
	ip[8] = ttl;
	ip[10] = csum[0];
	ip[11] = csum[1];
	udp[6] = ucsum[0];
	udp[7] = ucsum[1];
	bth[4] = fb;
	return crc;
}

uint8_t *
roce_encode_hdr(const struct roce_pkt *p, uint8_t *buf, size_t room, size_t *len)
{
	unsigned int f = opcode_flags[p->opcode];
	size_t flen = roce_frame_len(p);
	uint8_t *ip = buf + ROCE_ETH_LEN, *udp = ip + ROCE_IP_LEN, *bth = udp + ROCE_UDP_LEN, *x;
	uint16_t ip_len = (uint16_t)(flen - ROCE_ETH_LEN);

	if (!(f & ROCE_F_VALID) || (p->payload_len != 0 && !(f & ROCE_F_PAYLOAD)) || flen > room ||
	    flen - ROCE_ETH_LEN > UINT16_MAX)
		return NULL;
	*len = flen;
	memcpy(buf, p->dst_mac, 6);
	memcpy(buf + 6, p->src_mac, 6);
	put16(buf + 12, 0x0800);

	ip[0] = 0x45;
	ip[1] = p->tos;
	put16(ip + 2, ip_len);
	put16(ip + 4, p->ip_id);
	put16(ip + 6, p->ip_df ? 0x4000 : 0);
	ip[8] = p->ttl;
	ip[9] = 17;
	put16(ip + 10, 0);
	put32(ip + 12, p->src_ip);
	put32(ip + 16, p->dst_ip);
	put16(ip + 10, (uint16_t)~ip_sum(ip));

	put16(udp, p->src_port);
	put16(udp + 2, ROCE_UDP_PORT);
	put16(udp + 4, (uint16_t)(ip_len - ROCE_IP_LEN));
	put16(udp + 6, 0);

	bth[0] = p->opcode;
	bth[1] = (uint8_t)((p->solicited ? 0x80 : 0) | (p->mig_req ? 0x40 : 0) |
			   pad_of(p->payload_len) << 4);
	put16(bth + 2, p->pkey);
	bth[4] = 0;
	put24(bth + 5, p->dest_qp & ROCE_QPN_MASK);
	bth[8] = p->ack_req ? 0x80 : 0;
	put24(bth + 9, p->psn & ROCE_PSN_MASK);

	x = bth + ROCE_BTH_LEN;
	if (f & ROCE_F_DETH) { /* right after the BTH (IBTA 9.3.2 header order) */
		put32(x, p->qkey);
		x[4] = 0;
		put24(x + 5, p->src_qp & ROCE_QPN_MASK);
		x += ROCE_DETH_LEN;
	}
	if (f & ROCE_F_RETH) {
		put32(x, (uint32_t)(p->va >> 32));
		put32(x + 4, (uint32_t)p->va);
		put32(x + 8, p->rkey);
		put32(x + 12, p->dma_len);
		x += ROCE_RETH_LEN;
	}
	if (f & ROCE_F_AETH) {
		x[0] = p->syndrome;
		put24(x + 1, p->msn);
		x += ROCE_AETH_LEN;
	}
	if (f & ROCE_F_IMM) {
		put32(x, p->imm);
		x += ROCE_IMM_LEN;
	}
	if (f & ROCE_F_IETH) {
		put32(x, p->inv_rkey);
		x += ROCE_IETH_LEN;
	}
	return x;
}

void
roce_seal(uint8_t *buf, size_t len, uint32_t payload_len)
{
	uint32_t pad = pad_of(payload_len), icrc;
	uint8_t *x = buf + len - ROCE_ICRC_LEN;

	memset(x - pad, 0, pad);
	/* least significant byte first, as the annex stores it */
	icrc = roce_icrc(buf, len);
	x[0] = (uint8_t)icrc;
	x[1] = (uint8_t)(icrc >> 8);
	x[2] = (uint8_t)(icrc >> 16);
	x[3] = (uint8_t)(icrc >> 24);
}

size_t
roce_encode(const struct roce_pkt *p, uint8_t *buf, size_t room)
{
	size_t len = 0;
	uint8_t *x = roce_encode_hdr(p, buf, room, &len);

	if (x == NULL)
		return 0;
	if (p->payload_len != 0)
		memcpy(x, p->payload, p->payload_len);
	roce_seal(buf, len, p->payload_len);
	return len;
}

static enum roce_verdict
decode(uint8_t *frame, size_t len, struct roce_pkt *p, bool check_icrc)
{
	uint8_t *ip = frame + ROCE_ETH_LEN, *udp = ip + ROCE_IP_LEN, *bth = udp + ROCE_UDP_LEN, *x;
	uint32_t ip_len, udp_len, pad, ext, hdrs, icrc;
	unsigned int f;

	memset(p, 0, sizeof(*p));
	if (len < ROCE_ETH_LEN + ROCE_IP_LEN + ROCE_UDP_LEN)
		return len >= ROCE_ETH_LEN + 1 && get16(frame + 12) == 0x0800 ? ROCE_SHORT
									      : ROCE_NOT_ROCE;
	if (get16(frame + 12) != 0x0800 || (ip[0] >> 4) != 4 || ip[9] != 17 ||
	    get16(udp + 2) != ROCE_UDP_PORT)
		return ROCE_NOT_ROCE;
	/* no options, no fragments, a length the frame holds (it may be padded), a good checksum */
	ip_len = get16(ip + 2);
	if (ip[0] != 0x45 || (get16(ip + 6) & 0xbfff) != 0 || ip_len > len - ROCE_ETH_LEN ||
	    ip_len < ROCE_IP_LEN + ROCE_UDP_LEN || ip_sum(ip) != 0xffff)
		return ip_len > len - ROCE_ETH_LEN ? ROCE_SHORT : ROCE_BAD_IP;
	udp_len = get16(udp + 4);
	if (udp_len != ip_len - ROCE_IP_LEN)
		return ROCE_BAD_UDP;
	if (udp_len < ROCE_UDP_LEN + ROCE_BTH_LEN + ROCE_ICRC_LEN)
		return ROCE_SHORT;
	f = opcode_flags[bth[0]];
	if (!(f & ROCE_F_VALID))
		return ROCE_BAD_OPCODE;
	/* transport version 0; the rest of byte 8 is reserved */
	if ((bth[1] & 0x0f) != 0 || (bth[8] & 0x7f) != 0)
		return ROCE_BAD_BTH;
	pad = (bth[1] >> 4) & 3;
	ext = ext_len(f);
	hdrs = ROCE_UDP_LEN + ROCE_BTH_LEN + ext + ROCE_ICRC_LEN;
	if (udp_len < hdrs + pad)
		return ROCE_SHORT;
	p->payload_len = udp_len - hdrs - pad;
	if (p->payload_len != 0 && !(f & ROCE_F_PAYLOAD))
		return ROCE_BAD_PAYLOAD;
	/* the payload and its pad fill whole 4-byte words */
	if (((p->payload_len + pad) & 3) != 0 || (p->payload_len == 0 && pad != 0))
		return ROCE_BAD_BTH;

	len = ROCE_ETH_LEN + ip_len; /* Ethernet padding is not ours */
	x = frame + len - ROCE_ICRC_LEN;
	icrc = (uint32_t)x[0] | (uint32_t)x[1] << 8 | (uint32_t)x[2] << 16 | (uint32_t)x[3] << 24;
	if (check_icrc && roce_icrc(frame, len) != icrc)
		return ROCE_BAD_ICRC;

	memcpy(p->dst_mac, frame, 6);
	memcpy(p->src_mac, frame + 6, 6);
	p->tos = ip[1];
	p->ip_id = get16(ip + 4);
	p->ip_df = (get16(ip + 6) & 0x4000) != 0;
	p->ttl = ip[8];
	p->src_ip = get32(ip + 12);
	p->dst_ip = get32(ip + 16);
	p->src_port = get16(udp);
	p->opcode = bth[0];
	p->solicited = (bth[1] & 0x80) != 0;
	p->mig_req = (bth[1] & 0x40) != 0;
	p->pkey = get16(bth + 2);
	p->dest_qp = get24(bth + 5);
	p->ack_req = (bth[8] & 0x80) != 0;
	p->psn = get24(bth + 9);
	x = bth + ROCE_BTH_LEN;
	if (f & ROCE_F_DETH) {
		p->qkey = get32(x);
		p->src_qp = get24(x + 5);
		x += ROCE_DETH_LEN;
	}
	if (f & ROCE_F_RETH) {
		p->va = (uint64_t)get32(x) << 32 | get32(x + 4);
		p->rkey = get32(x + 8);
		p->dma_len = get32(x + 12);
		x += ROCE_RETH_LEN;
	}
	if (f & ROCE_F_AETH) {
		p->syndrome = x[0];
		p->msn = get24(x + 1);
		x += ROCE_AETH_LEN;
	}
	if (f & ROCE_F_IMM) {
		p->imm = get32(x);
		x += ROCE_IMM_LEN;
	}
	if (f & ROCE_F_IETH) {
		p->inv_rkey = get32(x);
		x += ROCE_IETH_LEN;
	}
	p->payload = x;
	return ROCE_OK;
}

enum roce_verdict
roce_decode(uint8_t *frame, size_t len, struct roce_pkt *p)
{
	return decode(frame, len, p, true);
}

enum roce_verdict
roce_parse(uint8_t *frame, size_t len, struct roce_pkt *p)
{
	return decode(frame, len, p, false);
}
