/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The daemon's request paths in one process, for fuzz targets: EAL (no
 * hugepages, one lcore), the MR and QP tables, one engine driven by the
 * calling thread, and clients whose memory is this process's own.
 */
#ifndef NDK_FUZZ_HARNESS_H
#define NDK_FUZZ_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ndk/internal/ring.h>

#include "engine.h"

struct fz_client {
	struct client *c;
	struct ndk_ring sq, cq; /* the control channel, client side */
	uint8_t *mem;		/* the client's one region */
	size_t mem_size;
	/* objects fz_client_open made, when asked to */
	uint32_t pd, mr, fr, cqh, qp[2], qpn[2], token, fr_token, priv_token, srq;
	uint32_t psn1;			     /* QP 1's first PSN */
	struct ndk_ring qsq[2], qrq[2], qcq; /* the QP rings and the CQ ring, client side */
};

/* Once per process: EAL and the tables. Aborts on failure (a harness bug). */
void fz_init(void);
/*
 * A client attached to the engine; with objects, a PD, a registered MR, an
 * initialised fast-register MR, a CQ and two QPs connected to each other;
 * with srq too, QP 1 takes its receives from a shared receive queue (qrq[1]
 * is then the SRQ's ring: every receive there takes two slots).
 */
void fz_client_open(struct fz_client *f, bool objects, bool srq);
/* One control request, served at once; its status, outputs in out. */
uint32_t fz_ctrl(struct fz_client *f, uint32_t op, uint32_t handle, const uint64_t *args,
		 unsigned int nargs, uint64_t out[6]);
/* Engine passes until nothing more is served; every ring the client reads is drained. */
void fz_run(struct fz_client *f);
/*
 * Let the client go as the daemon does when one dies, and check that every
 * table is back where it was: a leak aborts (the fuzzer reports it).
 */
void fz_client_close(struct fz_client *f);

/*
 * Inputs name what only exists at run time through placeholders, rewritten
 * in place before they are posted: an aligned 32-bit FZ_TOKEN_* becomes
 * that token; an aligned 64-bit word whose top 16 bits are
 * FZ_ADDR_TAG becomes the client's region base plus its low 32 bits.
 */
#define FZ_TOKEN_MR	 0xf0000001u
#define FZ_TOKEN_FR	 0xf0000002u
#define FZ_TOKEN_PRIV	 0xf0000003u
#define FZ_TOKEN_FR_NEXT 0xf0000004u /* the FR MR's token after one fast register */
#define FZ_ADDR_TAG	 0xf00dull
void fz_patch(const struct fz_client *f, uint8_t *buf, size_t len);

/*
 * RoCEv2 mode, instead of fz_init: the soft provider gets one port, a ring
 * ethdev at FZ_PORT_IP/24 whose TX loops back to its RX (ndkd's own frames,
 * addressed to the peer, are dropped on the way in), and fz_client_open
 * connects QP 1 to a peer (FZ_PEER_IP, QPN FZ_PEER_QPN, first PSN
 * FZ_PEER_PSN, MTU 1024) behind it.
 */
#define FZ_PORT_IP  0x0a000001u /* 10.0.0.1 */
#define FZ_PEER_IP  0x0a000002u
#define FZ_PEER_QPN 0x000123u
#define FZ_PEER_PSN 1000u
void fz_init_roce(void);
/* A frame onto the port's RX queue, copied into an mbuf. False when it is full. */
bool fz_frame_in(const void *frame, size_t len);
void fz_port_mac(uint8_t mac[6]);

/* Client-side view of a ring the client placed in its region. */
void fz_ring_view(struct ndk_ring *r, void *base, uint32_t entries);

#endif /* NDK_FUZZ_HARNESS_H */
