/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * RoCEv2 on the wire (IBTA Vol. 1 ch. 9 and Annex A17): Ethernet, IPv4,
 * UDP to port 4791, the Base Transport Header, the extended headers an
 * opcode carries, payload, pad to 4 bytes, and the invariant CRC. Encoding
 * and decoding only: what a frame says, and whether it may be believed.
 * Nothing here keeps state; the RC transport sits on top.
 */
#ifndef NDKD_ROCE_WIRE_H
#define NDKD_ROCE_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ROCE_UDP_PORT 4791
#define ROCE_ETH_LEN  14
#define ROCE_IP_LEN   20 /* IPv4 without options */
#define ROCE_UDP_LEN  8
#define ROCE_BTH_LEN  12
#define ROCE_RETH_LEN 16
#define ROCE_AETH_LEN 4
#define ROCE_IMM_LEN  4
#define ROCE_IETH_LEN 4
#define ROCE_DETH_LEN 8
#define ROCE_ICRC_LEN 4
/* Everything before the payload at most: Ethernet to BTH, RETH, ImmDt. */
#define ROCE_MAX_HDR_LEN                                                                           \
	(ROCE_ETH_LEN + ROCE_IP_LEN + ROCE_UDP_LEN + ROCE_BTH_LEN + ROCE_RETH_LEN + ROCE_IMM_LEN)

/* The opcodes ndkd speaks (BTH OpCode: transport 000 RC or 011 UD, then the operation). */
enum roce_opcode {
	ROCE_RC_SEND_FIRST = 0x00,
	ROCE_RC_SEND_MIDDLE = 0x01,
	ROCE_RC_SEND_LAST = 0x02,
	ROCE_RC_SEND_LAST_IMM = 0x03,
	ROCE_RC_SEND_ONLY = 0x04,
	ROCE_RC_SEND_ONLY_IMM = 0x05,
	ROCE_RC_WRITE_FIRST = 0x06,
	ROCE_RC_WRITE_MIDDLE = 0x07,
	ROCE_RC_WRITE_LAST = 0x08,
	ROCE_RC_WRITE_LAST_IMM = 0x09,
	ROCE_RC_WRITE_ONLY = 0x0a,
	ROCE_RC_WRITE_ONLY_IMM = 0x0b,
	ROCE_RC_READ_REQUEST = 0x0c,
	ROCE_RC_READ_RESPONSE_FIRST = 0x0d,
	ROCE_RC_READ_RESPONSE_MIDDLE = 0x0e,
	ROCE_RC_READ_RESPONSE_LAST = 0x0f,
	ROCE_RC_READ_RESPONSE_ONLY = 0x10,
	ROCE_RC_ACK = 0x11,
	ROCE_RC_SEND_LAST_INV = 0x16,
	ROCE_RC_SEND_ONLY_INV = 0x17,
	/* UD (transport 011): the datagrams QP1 takes, management datagrams */
	ROCE_UD_SEND_ONLY = 0x64,
};

/* What an opcode carries and where it sits in a message (roce_opcode_flags). */
#define ROCE_F_VALID   (1u << 0)
#define ROCE_F_RETH    (1u << 1)
#define ROCE_F_AETH    (1u << 2)
#define ROCE_F_IMM     (1u << 3)
#define ROCE_F_IETH    (1u << 4)
#define ROCE_F_PAYLOAD (1u << 5) /* may carry payload */
#define ROCE_F_FIRST   (1u << 6)
#define ROCE_F_LAST    (1u << 7) /* an ONLY packet is FIRST and LAST */
#define ROCE_F_REQUEST (1u << 8) /* requester to responder (else a response) */
#define ROCE_F_DETH    (1u << 9) /* a datagram: Q_Key and source QP */

/* AETH syndrome (bits 7..5: 000 ACK, 001 RNR NAK, 011 NAK; bits 4..0: credits, timer or code). */
#define ROCE_AETH_ACK	     0x00
#define ROCE_AETH_RNR_NAK    0x20
#define ROCE_AETH_NAK	     0x60
#define ROCE_NAK_PSN_SEQ_ERR 0x60
#define ROCE_NAK_INVALID_REQ 0x61
#define ROCE_NAK_REM_ACCESS  0x62
#define ROCE_NAK_REM_OP_ERR  0x63

#define ROCE_PSN_MASK 0xffffffu
#define ROCE_QPN_MASK 0xffffffu

/*
 * One frame, decoded or to encode. Addresses and numbers in host order;
 * the extended headers are meaningful as the opcode's flags say.
 */
struct roce_pkt {
	uint8_t dst_mac[6], src_mac[6];
	uint32_t src_ip, dst_ip;
	uint16_t ip_id;
	bool ip_df;
	uint8_t tos, ttl;
	uint16_t src_port; /* UDP source port: flow entropy */
	/* BTH */
	uint8_t opcode;
	bool solicited;
	bool mig_req;
	bool ack_req;
	uint16_t pkey;
	uint32_t dest_qp;
	uint32_t psn;
	/* RETH */
	uint64_t va;
	uint32_t rkey;
	uint32_t dma_len;
	/* AETH */
	uint8_t syndrome;
	uint32_t msn;
	/* ImmDt, IETH */
	uint32_t imm;
	uint32_t inv_rkey;
	/* DETH */
	uint32_t qkey;
	uint32_t src_qp;
	const uint8_t *payload;
	uint32_t payload_len;
};

enum roce_verdict {
	ROCE_OK = 0,
	ROCE_NOT_ROCE,	  /* not IPv4 / UDP to 4791: not ours to judge */
	ROCE_SHORT,	  /* shorter than its headers say */
	ROCE_BAD_IP,	  /* options, fragment, checksum, length */
	ROCE_BAD_UDP,	  /* length */
	ROCE_BAD_BTH,	  /* transport version, reserved bits, pad */
	ROCE_BAD_OPCODE,  /* not one ndkd speaks */
	ROCE_BAD_PAYLOAD, /* payload where the opcode has none */
	ROCE_BAD_ICRC,
	ROCE_VERDICTS,
};

unsigned int roce_opcode_flags(uint8_t opcode);
const char *roce_verdict_str(enum roce_verdict v);

/* Bytes the frame of p takes: headers, payload, pad, ICRC. */
size_t roce_frame_len(const struct roce_pkt *p);
/*
 * p as a frame in buf (room bytes): IPv4 header checksum, UDP checksum 0
 * (RoCEv2 over IPv4 allows it), ICRC. Returns the length, 0 when p cannot
 * be sent (unknown opcode, payload it may not carry, no room).
 */
size_t roce_encode(const struct roce_pkt *p, uint8_t *buf, size_t room);
/*
 * roce_encode in two steps, for a payload copied straight into the frame:
 * the headers of p (p->payload unused) in buf, *len set to the whole
 * frame's length; returns where payload_len bytes of payload go, NULL when
 * p cannot be sent. Then roce_seal puts the pad and the ICRC after them.
 */
uint8_t *roce_encode_hdr(const struct roce_pkt *p, uint8_t *buf, size_t room, size_t *len);
void roce_seal(uint8_t *buf, size_t len, uint32_t payload_len);
/*
 * What frame (len bytes, Ethernet onwards) says, checked whole. The ICRC is
 * computed in place (the masked fields are put back), so frame is not const.
 * p->payload points into frame.
 */
enum roce_verdict roce_decode(uint8_t *frame, size_t len, struct roce_pkt *p);
/* roce_decode without the ICRC: for a frame decoded once already. */
enum roce_verdict roce_parse(uint8_t *frame, size_t len, struct roce_pkt *p);
/*
 * The ICRC of an IPv4 RoCEv2 frame of len bytes whose last 4 are the ICRC,
 * computed in place: the fields the annex masks are set to ones and put back.
 */
uint32_t roce_icrc(uint8_t *frame, size_t len);

#endif /* NDKD_ROCE_WIRE_H */
