/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Frames off a RoCEv2 port, through the engine's whole receive path: the
 * port's RX queue (a ring ethdev), ARP, the decoder, the QP lookup and the
 * RC transport of a QP connected to a peer behind the port, which has a
 * write, a read and a send of its own in flight and receives posted. Each
 * 40-byte record of the input is one frame: most are well-formed RoCEv2
 * (correct ICRC) with fields the input chooses, so that the transport,
 * not the checksum, is what gets exercised; others are the record's bytes
 * as they are, or ARP. Nothing may crash, hang or leak (the harness checks
 * the tables when the client goes).
 *
 * Record: kind, opcode, flags (bit 0 AckReq, 1 solicited, 2 PSN from our
 * own first PSN rather than the peer's, 3 dest QP from the input, 4 source
 * IP off by one), PSN delta (2, signed), address (4: offset into the MR,
 * or with a top byte of 0xff as is), token choice (1), DMA length (4),
 * payload length (2), syndrome (1), MSN (3), payload byte (1), the rest
 * as the raw frame or the dest QP.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "roce/wire.h"

#define REC	  40u
#define MAX_RECS  64u
#define FRAME_MAX 1200u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t
le(const uint8_t *p, unsigned int n)
{
	uint32_t v = 0;

	while (n-- > 0)
		v = v << 8 | p[n];
	return v;
}

/* One work request of one SGE: the header slot, then the SGE's. */
static void
post_wr(struct ndk_ring *r, uint8_t op, uint64_t ctx, uint64_t remote, uint64_t addr, uint32_t len,
	uint32_t token)
{
	struct ndk_abi_wqe w = { .opcode = op, .n_slots = 2, .n_sge = 1, .request_context = ctx };
	struct ndk_abi_sge sge[NDK_ABI_SGE_PER_SLOT] = { { addr, len, token } };
	bool broken = false;

	if (ndk_ring_prod_space(r, &broken) < 2)
		return;
	if (op == NDK_ABI_WR_READ || op == NDK_ABI_WR_WRITE) {
		w.remote_addr = remote;
		w.remote_token = 0x4242;
	}
	memcpy(ndk_ring_prod_next(r), &w, sizeof(w));
	memcpy(ndk_ring_prod_next(r), sge, sizeof(sge));
	ndk_ring_prod_publish(r);
}

/* A write, a read and a send of this side's own toward the peer; receives for its sends. */
static void
post_own(struct fz_client *f)
{
	uint64_t base = (uint64_t)(uintptr_t)f->mem + (1u << 20);
	unsigned int i;

	post_wr(&f->qsq[1], NDK_ABI_WR_WRITE, 1, 0x10000, base, 3000, f->token);
	post_wr(&f->qsq[1], NDK_ABI_WR_READ, 2, 0x10000, base + 4096, 3000, f->token);
	post_wr(&f->qsq[1], NDK_ABI_WR_SEND, 3, 0, base + 8192, 3000, f->token);
	for (i = 0; i < 4; i++)
		post_wr(&f->qrq[1], NDK_ABI_WR_RECEIVE, 100 + i, 0, base + 16384 + 2048 * i, 2048,
			f->token);
}

static size_t
arp_frame(uint8_t *b, const uint8_t port_mac[6], uint16_t op)
{
	static const uint8_t peer_mac[6] = { 0x02, 0, 0, 0, 0, 2 };
	uint32_t sip = htonl(FZ_PEER_IP), tip = htonl(FZ_PORT_IP);

	memcpy(b, port_mac, 6);
	memcpy(b + 6, peer_mac, 6);
	b[12] = 0x08, b[13] = 0x06;
	b[14] = 0, b[15] = 1, b[16] = 0x08, b[17] = 0, b[18] = 6, b[19] = 4;
	b[20] = 0, b[21] = (uint8_t)op;
	memcpy(b + 22, peer_mac, 6);
	memcpy(b + 28, &sip, 4);
	memcpy(b + 32, port_mac, 6);
	memcpy(b + 38, &tip, 4);
	memset(b + 42, 0, 18);
	return 60;
}

static uint32_t
pick_token(const struct fz_client *f, uint8_t c, const uint8_t *raw)
{
	switch (c & 3) {
	case 0:
		return f->token;
	case 1:
		return f->fr_token;
	case 2:
		return f->priv_token;
	default:
		return le(raw, 4);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t frame[FRAME_MAX], payload[1024];
	uint8_t port_mac[6];
	struct fz_client f;
	size_t i, n = size / REC;

	fz_init_roce();
	fz_port_mac(port_mac);
	fz_client_open(&f, true, false);
	/* the peer's MAC: learnt from its ARP request, as on a wire */
	fz_frame_in(frame, arp_frame(frame, port_mac, 1));
	post_own(&f);
	fz_run(&f);
	for (i = 0; i < n && i < MAX_RECS; i++) {
		const uint8_t *r = data + i * REC;
		uint8_t kind = r[0] % 8;
		size_t len = 0;

		if (kind == 6) { /* the record as the whole frame */
			len = REC - 1;
			memcpy(frame, r + 1, len);
		} else if (kind == 7) {
			len = arp_frame(frame, port_mac, r[1] & 3);
		} else {
			struct roce_pkt p = { 0 };
			uint32_t addr = le(r + 5, 4), base = (r[2] & 4) ? f.psn1 : FZ_PEER_PSN;

			memcpy(p.dst_mac, port_mac, 6);
			p.src_mac[0] = 0x02, p.src_mac[5] = 2;
			p.src_ip = FZ_PEER_IP + ((r[2] >> 4) & 1);
			p.dst_ip = FZ_PORT_IP;
			p.ip_df = true;
			p.ttl = 64;
			p.src_port = 0xc000;
			p.opcode = r[1];
			p.ack_req = r[2] & 1;
			p.solicited = (r[2] >> 1) & 1;
			p.dest_qp = (r[2] & 8) ? le(r + 36, 3) : f.qpn[1];
			p.psn = (base + (uint32_t)(int16_t)le(r + 3, 2)) & 0xffffff;
			p.va = (addr >> 24) == 0xff
				       ? (uint64_t)addr << 20
				       : (uint64_t)(uintptr_t)f.mem + (1u << 20) + (addr & 0xffff);
			p.rkey = pick_token(&f, r[9], r + 36);
			p.dma_len = le(r + 10, 4) & ((r[9] & 4) ? 0xffffffffu : 0x3fffu);
			p.payload_len = le(r + 14, 2) % 1025;
			p.syndrome = r[16];
			p.msn = le(r + 17, 3);
			p.imm = le(r + 20, 4);
			p.inv_rkey = pick_token(&f, r[24], r + 36);
			memset(payload, r[25], p.payload_len);
			p.payload = payload;
			len = roce_encode(&p, frame, sizeof(frame));
			if (len == 0)
				continue; /* an opcode the encoder has no layout for */
		}
		if (!fz_frame_in(frame, len)) {
			fz_run(&f);
			fz_frame_in(frame, len);
		}
		if (i % 8 == 7)
			fz_run(&f);
	}
	fz_run(&f);
	fz_client_close(&f);
	return 0;
}
