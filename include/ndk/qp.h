/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Queue pairs (NDK_QP), reliable-connected. Work requests go into the QP's
 * send ring in the app's arena and are published once per batch (DEFER
 * holds the doorbell); no syscall, no lock. The consumer serialises calls per
 * queue, as NDK requires.
 *
 * Served: send, receive, send-and-invalidate, read (with local invalidate),
 * write, fast register, invalidate (of an MR or a window), bind; INLINE for
 * send and write (up to the QP's inline size, at most the adapter's
 * MaxInlineDataSize: the bytes are copied at post, the buffers are free at
 * once, their tokens unused). A QP created with a shared receive queue takes
 * its receives from it (<ndk/srq.h>).
 */
#ifndef NDK_QP_H
#define NDK_QP_H

#include <stdint.h>

#include <ndk/adapter.h>
#include <ndk/flags.h>
#include <ndk/object.h>
#include <ndk/mw.h>
#include <ndk/status.h>

#ifdef __cplusplus
extern "C" {
#endif

struct ndk_qp;
struct ndk_mr;

/* NDK_SGE */
struct ndk_sge {
	union {
		void *virtual_address;		     /* under an MR's token */
		ndk_logical_address logical_address; /* under the PD's privileged token */
	};
	uint32_t length;
	uint32_t memory_region_token;
};

/*
 * Where a QP is, for its peer. NDK_ADDRESS_LOCAL names a QP of this node's
 * ndkd by number. NDK_ADDRESS_ROCEV2 names a QP on another node: its GID
 * (an IPv4-mapped address), QP number, the first PSN it sends and the path
 * MTU, as ibv_rc_pingpong's exchange carries them.
 */
#define NDK_ADDRESS_LOCAL  1u
#define NDK_ADDRESS_ROCEV2 2u

struct ndk_qp_address {
	uint16_t family;
	uint16_t port; /* ROCEV2: UDP port (0: 4791) */
	uint32_t qpn;
	uint8_t ip[16]; /* ROCEV2: the GID, IPv4-mapped (::ffff:a.b.c.d) */
	uint32_t psn;	/* ROCEV2: the first PSN the QP sends */
	uint32_t mtu;	/* ROCEV2: path MTU in bytes, 256 ... 4096 (0: the port's) */
	/*
	 * ROCEV2, in an address given to connect: the local port to send from,
	 * as its GID index + 1 (ndkd's GID index N is its port N, in the order
	 * of --port; the peer must be on that port's subnet); 0: the port whose
	 * subnet holds the peer. An address read back has 0 here (it may be
	 * handed to the peer as it is).
	 */
	uint32_t sgid;
};

typedef void (*ndk_fn_flush)(struct ndk_qp *qp);
typedef ndk_status (*ndk_fn_send)(struct ndk_qp *qp, void *request_context,
				  const struct ndk_sge *sgl, uint32_t n_sge, uint32_t flags);
typedef ndk_status (*ndk_fn_receive)(struct ndk_qp *qp, void *request_context,
				     const struct ndk_sge *sgl, uint32_t n_sge);
/*
 * NDK_FN_BIND: bind mw to [virtual_address, virtual_address + length) of mr
 * (registered or fast-registered, same PD), with remote access as the flags
 * say (ALLOW_REMOTE_READ, ALLOW_REMOTE_WRITE; SILENT_SUCCESS, READ_FENCE,
 * DEFER). SUCCESS (a result of type BIND follows; the window's new token is
 * ndk_mw_get_remote_token()'s from now on), CONNECTION_INVALID (QP not
 * connected), ACCESS_VIOLATION (write access on an MR without LOCAL_WRITE),
 * INVALID_PARAMETER.
 */
typedef ndk_status (*ndk_fn_bind)(struct ndk_qp *qp, void *request_context, struct ndk_mr *mr,
				  struct ndk_mw *mw, void *virtual_address, size_t length,
				  uint32_t flags);
/*
 * NDK_FN_FAST_REGISTER: map [base_va, base_va + length) onto page_count
 * logical pages (PAGE_SIZE each, first byte at fbo in page 0) with the
 * access the flags allow. The MR's token moves to a new variant when this
 * returns SUCCESS: ndk_mr_get_remote_token() returns it from then on (with
 * SILENT_SUCCESS too); it works for the peer once the request has run (send
 * it behind this request, or after its result). A failed request's result,
 * once read, puts the token back to the one in force.
 */
typedef ndk_status (*ndk_fn_fast_register)(struct ndk_qp *qp, void *request_context,
					   struct ndk_mr *mr, uint32_t page_count,
					   const ndk_logical_address *page_array, uint32_t fbo,
					   size_t length, void *base_va, uint32_t flags);
typedef ndk_status (*ndk_fn_invalidate)(struct ndk_qp *qp, void *request_context,
					struct ndk_object_header *mr_or_mw, uint32_t flags);
/* NDK_FN_READ / NDK_FN_WRITE */
typedef ndk_status (*ndk_fn_rdma)(struct ndk_qp *qp, void *request_context,
				  const struct ndk_sge *sgl, uint32_t n_sge,
				  uint64_t remote_address, uint32_t remote_token, uint32_t flags);
typedef ndk_status (*ndk_fn_send_and_invalidate)(struct ndk_qp *qp, void *request_context,
						 const struct ndk_sge *sgl, uint32_t n_sge,
						 uint32_t flags, uint32_t remote_token);
typedef void (*ndk_fn_qp_get_address)(struct ndk_qp *qp, struct ndk_qp_address *address);
/*
 * Where qp is for a peer on another node, through ndkd's RoCEv2 port of GID
 * index gid_index (port gid_index, in the order of --port): family ROCEV2,
 * that port's GID, qp's number, its first PSN, the path MTU (the smallest
 * of ndkd's ports). NOT_SUPPORTED when ndkd has no
 * RoCEv2 port, INVALID_PARAMETER when it has no port gid_index.
 */
typedef ndk_status (*ndk_fn_qp_get_rocev2_address)(struct ndk_qp *qp, uint32_t gid_index,
						   struct ndk_qp_address *address);
/*
 * Connect to a peer QP. Same node: PENDING, and the completion reports
 * SUCCESS once ndkd has the peer; work requests flow once the peer has
 * connected to this QP as well (before that they complete CONNECTION_INVALID).
 * INVALID_PARAMETER for an address that names no QP. Another node (family
 * ROCEV2): SUCCESS once ndkd has taken the peer's address; its MAC is found
 * by ARP as work requests go (HOST_UNREACHABLE when nobody answers).
 * NOT_SUPPORTED when ndkd has no RoCEv2 port, HOST_UNREACHABLE for an
 * address on none of its ports' subnets.
 */
typedef ndk_status (*ndk_fn_qp_connect)(struct ndk_qp *qp, const struct ndk_qp_address *peer,
					ndk_fn_request_completion completion, void *context);

struct ndk_qp_dispatch {
	ndk_fn_close_object close;
	ndk_fn_query_extension query_extension;
	ndk_fn_flush flush;
	ndk_fn_send send;
	ndk_fn_receive receive;
	ndk_fn_bind bind;
	ndk_fn_fast_register fast_register;
	ndk_fn_invalidate invalidate;
	ndk_fn_rdma read;
	ndk_fn_rdma write;
	ndk_fn_send_and_invalidate send_and_invalidate;
	/* ndkd's own, after NDK's */
	ndk_fn_qp_get_address get_address;
	ndk_fn_qp_connect connect;
	ndk_fn_qp_get_rocev2_address get_rocev2_address;
};

struct ndk_qp {
	struct ndk_object_header header;
	const struct ndk_qp_dispatch *dispatch;
};

/* Close: PENDING; work requests still queued complete CANCELLED first. */
static inline ndk_status
ndk_qp_close(struct ndk_qp *qp, ndk_fn_close_completion completion, void *context)
{
	return qp->dispatch->close(&qp->header, completion, context);
}

static inline void
ndk_qp_flush(struct ndk_qp *qp)
{
	qp->dispatch->flush(qp);
}

static inline ndk_status
ndk_qp_fast_register(struct ndk_qp *qp, void *request_context, struct ndk_mr *mr,
		     uint32_t page_count, const ndk_logical_address *page_array, uint32_t fbo,
		     size_t length, void *base_va, uint32_t flags)
{
	return qp->dispatch->fast_register(qp, request_context, mr, page_count, page_array, fbo,
					   length, base_va, flags);
}

static inline ndk_status
ndk_qp_invalidate(struct ndk_qp *qp, void *request_context, struct ndk_mr *mr, uint32_t flags)
{
	return qp->dispatch->invalidate(qp, request_context, (struct ndk_object_header *)mr, flags);
}

/* Invalidate a window: its token stops working (NDK_FN_INVALIDATE on an MW). */
static inline ndk_status
ndk_qp_invalidate_mw(struct ndk_qp *qp, void *request_context, struct ndk_mw *mw, uint32_t flags)
{
	return qp->dispatch->invalidate(qp, request_context, &mw->header, flags);
}

static inline ndk_status
ndk_qp_bind(struct ndk_qp *qp, void *request_context, struct ndk_mr *mr, struct ndk_mw *mw,
	    void *virtual_address, size_t length, uint32_t flags)
{
	return qp->dispatch->bind(qp, request_context, mr, mw, virtual_address, length, flags);
}

static inline ndk_status
ndk_qp_read(struct ndk_qp *qp, void *request_context, const struct ndk_sge *sgl, uint32_t n_sge,
	    uint64_t remote_address, uint32_t remote_token, uint32_t flags)
{
	return qp->dispatch->read(qp, request_context, sgl, n_sge, remote_address, remote_token,
				  flags);
}

static inline ndk_status
ndk_qp_write(struct ndk_qp *qp, void *request_context, const struct ndk_sge *sgl, uint32_t n_sge,
	     uint64_t remote_address, uint32_t remote_token, uint32_t flags)
{
	return qp->dispatch->write(qp, request_context, sgl, n_sge, remote_address, remote_token,
				   flags);
}

static inline ndk_status
ndk_qp_send(struct ndk_qp *qp, void *request_context, const struct ndk_sge *sgl, uint32_t n_sge,
	    uint32_t flags)
{
	return qp->dispatch->send(qp, request_context, sgl, n_sge, flags);
}

static inline ndk_status
ndk_qp_receive(struct ndk_qp *qp, void *request_context, const struct ndk_sge *sgl, uint32_t n_sge)
{
	return qp->dispatch->receive(qp, request_context, sgl, n_sge);
}

static inline void
ndk_qp_get_address(struct ndk_qp *qp, struct ndk_qp_address *address)
{
	qp->dispatch->get_address(qp, address);
}

/* Through port 0. */
static inline ndk_status
ndk_qp_get_rocev2_address(struct ndk_qp *qp, struct ndk_qp_address *address)
{
	return qp->dispatch->get_rocev2_address(qp, 0, address);
}

static inline ndk_status
ndk_qp_get_rocev2_address_at(struct ndk_qp *qp, uint32_t gid_index, struct ndk_qp_address *address)
{
	return qp->dispatch->get_rocev2_address(qp, gid_index, address);
}

static inline ndk_status
ndk_qp_connect(struct ndk_qp *qp, const struct ndk_qp_address *peer,
	       ndk_fn_request_completion completion, void *context)
{
	return qp->dispatch->connect(qp, peer, completion, context);
}

#ifdef __cplusplus
}
#endif

#endif /* NDK_QP_H */
