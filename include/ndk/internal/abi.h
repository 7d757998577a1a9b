/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The shared-memory ABI between libndk and ndkd.
 *
 * Everything that crosses the process boundary is declared here and nowhere
 * else: the attach messages on the unix socket and the channel region the
 * daemon hands back as a memfd. Rules (docs/ring-protocol.md has the long form):
 *   - fixed-width fields, explicit padding, no pointers, no bitfields, no enum
 *     typed fields; every size and key offset is checked by a static assert;
 *   - the region is self-describing: its header carries the offset of every
 *     ring index and entry array, and the client derives pointers from them;
 *   - NDK_ABI_VERSION changes whenever any layout or meaning here changes.
 *
 * Fields whose name starts with 'k' live in shared memory and may be written
 * by the other side at any time (liburing's convention).
 */
#ifndef NDK_INTERNAL_ABI_H
#define NDK_INTERNAL_ABI_H

#include <stddef.h>
#include <stdint.h>

#define NDK_ABI_MAGIC	     0x4e444b44u /* "NDKD" */
#define NDK_ABI_REGION_MAGIC 0x4e444b52u /* "NDKR" */
#define NDK_ABI_VERSION	     10u

#define NDK_ABI_CACHE_LINE 64u
#define NDK_ABI_ENTRY_SIZE 64u
#define NDK_ABI_MSG_LEN	   112u

/* -------------------------------------------------------------------------
 * Attach: one SOCK_SEQPACKET message each way.
 * ------------------------------------------------------------------------- */

struct ndk_abi_hello {
	uint32_t magic;	      /* NDK_ABI_MAGIC */
	uint32_t abi_version; /* NDK_ABI_VERSION of the client */
	uint32_t flags;	      /* none defined: must be 0 */
	uint32_t reserved;    /* must be 0 */
	char name[48];	      /* free text for ndkctl, NUL-padded */
};

/*
 * The daemon's answer. On status == 0 (NDK_STATUS_SUCCESS) one memfd rides
 * along as SCM_RIGHTS: the channel region, region_size bytes, sealed against
 * shrinking and growing. On any other status no fd is sent and message says
 * why in plain words.
 */
struct ndk_abi_hello_reply {
	uint32_t magic;	      /* NDK_ABI_MAGIC */
	uint32_t abi_version; /* NDK_ABI_VERSION of the daemon */
	uint32_t status;      /* an ndk_status value */
	uint32_t client_id;
	uint64_t region_size;
	char message[NDK_ABI_MSG_LEN];
};

_Static_assert(sizeof(struct ndk_abi_hello) == 64, "hello size");
_Static_assert(sizeof(struct ndk_abi_hello_reply) == 136, "hello reply size");
_Static_assert(offsetof(struct ndk_abi_hello_reply, region_size) == 16, "reply layout");

/* -------------------------------------------------------------------------
 * The channel region.
 * ------------------------------------------------------------------------- */

/*
 * Where one SPSC ring lives, as offsets from the start of the region. The
 * producer index, the consumer index and the flags word each own a cache line.
 */
struct ndk_abi_ring_desc {
	uint32_t off_prod;
	uint32_t off_cons;
	uint32_t off_flags;
	uint32_t off_entries;
	uint32_t entries;    /* a power of two */
	uint32_t entry_size; /* NDK_ABI_ENTRY_SIZE */
	uint32_t reserved[2];
};
_Static_assert(sizeof(struct ndk_abi_ring_desc) == 32, "ring desc size");

/*
 * Bits of ndk_abi_region.kengine. ASLEEP: the client's engine is asleep or
 * about to be; a client that publishes a request (any ring to the daemon),
 * then reads ASLEEP (a full fence between the two), sends a byte on its
 * doorbell socket (NDK_ABI_SOCK_DOORBELL). docs/ring-protocol.md.
 */
#define NDK_ABI_ENGINE_ASLEEP 1u
/*
 * POLLS: the client's engine never sleeps (--poll always): no fence, no
 * doorbell after a publish. Set once, when the engine takes the client.
 */
#define NDK_ABI_ENGINE_POLLS 2u

/* Values of ndk_abi_region.kstate, written only by the daemon. */
#define NDK_ABI_STATE_ACTIVE   1u
#define NDK_ABI_STATE_SHUTDOWN 2u /* ndkd is stopping: post nothing more */

/*
 * What the adapter can do, filled by ndkd at attach (NDK_ADAPTER_INFO's
 * fields, fixed-width) plus the arena rules libndk must follow.
 */
struct ndk_abi_adapter_info {
	uint32_t vendor_id;
	uint32_t device_id;
	uint64_t max_registration_size;
	uint64_t max_window_size;
	uint32_t frmr_page_count;
	uint32_t max_initiator_request_sge;
	uint32_t max_receive_request_sge;
	uint32_t max_read_request_sge;
	uint32_t max_transfer_length;
	uint32_t max_inline_data_size;
	uint32_t max_inbound_read_limit;
	uint32_t max_outbound_read_limit;
	uint32_t max_receive_queue_depth;
	uint32_t max_initiator_queue_depth;
	uint32_t max_srq_depth;
	uint32_t max_cq_depth;
	uint32_t large_request_threshold;
	uint32_t max_caller_data;
	uint32_t max_callee_data;
	uint32_t adapter_flags;
	uint32_t rdma_technology;
	uint32_t arena_flags;	   /* NDK_ABI_ARENA_* */
	uint64_t arena_page_size;  /* page size of arena memfds: 4 KiB or the hugepage size */
	uint64_t max_region_bytes; /* arena + attached fd bytes a client may map */
	uint32_t max_mrs;	   /* MRs a client may have at once */
	uint32_t max_pds;
	uint32_t max_regions;
	uint32_t max_qps; /* per client; 0 from an ndkd older than this field */
	uint32_t max_cqs;
	uint32_t max_mws;	      /* per client: memory windows (0: none) */
	uint32_t max_srqs;	      /* per client: shared receive queues (0: none) */
	uint32_t rocev2_ipv4;	      /* RoCEv2 port 0's address (host order); 0: no port */
	uint32_t rocev2_mtu;	      /* the smallest path MTU of the ports, in bytes */
	uint32_t rocev2_ipv4_more[3]; /* ports 1, 2, 3 likewise (0: none) */
};
_Static_assert(sizeof(struct ndk_abi_adapter_info) == 160, "adapter info size");

#define NDK_ABI_ARENA_HUGETLB 0x1u /* ndkd runs on hugepages: arenas use MFD_HUGETLB */

struct ndk_abi_region {
	uint32_t magic;	      /* NDK_ABI_REGION_MAGIC */
	uint32_t abi_version; /* NDK_ABI_VERSION */
	uint64_t region_size;
	uint32_t header_size; /* sizeof(struct ndk_abi_region) */
	uint32_t client_id;
	uint32_t engine_id;
	uint32_t reserved0;
	struct ndk_abi_ring_desc ctrl_sq; /* client -> daemon requests */
	struct ndk_abi_ring_desc ctrl_cq; /* daemon -> client completions */
	uint8_t pad0[NDK_ABI_CACHE_LINE - 32];
	uint32_t kstate;  /* NDK_ABI_STATE_*; its own cache line */
	uint32_t kengine; /* NDK_ABI_ENGINE_*, written by the daemon */
	uint8_t pad1[NDK_ABI_CACHE_LINE - 8];
	struct ndk_abi_adapter_info info; /* written once, before the memfd is sent */
};
_Static_assert(sizeof(struct ndk_abi_region) == 352, "region header size");
_Static_assert(offsetof(struct ndk_abi_region, ctrl_sq) == 32, "ctrl_sq offset");
_Static_assert(offsetof(struct ndk_abi_region, ctrl_cq) == 64, "ctrl_cq offset");
_Static_assert(offsetof(struct ndk_abi_region, kstate) == 128, "kstate offset");
_Static_assert(offsetof(struct ndk_abi_region, kengine) == 132, "kengine offset");
_Static_assert(offsetof(struct ndk_abi_region, info) == 192, "info offset");

/* -------------------------------------------------------------------------
 * Socket requests after attach: only to hand ndkd a memory region's fd,
 * which shared memory cannot carry. One message each way, fd as SCM_RIGHTS.
 * ------------------------------------------------------------------------- */

#define NDK_ABI_SOCK_ADD_REGION 1u
/*
 * Ask for the wake socket (no fd sent; size, address: 0): ndkd makes an
 * AF_UNIX datagram socketpair, keeps one end and sends the other with the
 * reply. It sends a byte on its end, with MSG_DONTWAIT, when an armed CQ gets
 * a result or an SRQ runs low. A socket and not an eventfd the client hands
 * over: that would share one open file description, and a client that
 * cleared its O_NONBLOCK and filled the counter could block an engine.
 */
#define NDK_ABI_SOCK_WAKE_FD 2u
/*
 * Ask for the doorbell socket (no fd sent; size, address: 0): ndkd makes an
 * AF_UNIX datagram socketpair, keeps one end in its engine's epoll set and
 * sends the other with the reply. The client sends a byte on it (with
 * MSG_DONTWAIT: a full socket already rings) when it has published work and
 * sees NDK_ABI_ENGINE_ASLEEP. ndkd only ever reads its end without waiting.
 */
#define NDK_ABI_SOCK_DOORBELL 3u

/*
 * The client has mapped 'size' bytes of the attached memfd at client_addr;
 * ndkd maps it too and accepts it for registration. The memfd must be sealed
 * against shrinking (F_SEAL_SHRINK), so ndkd's mapping can never fault.
 */
struct ndk_abi_sock_req {
	uint32_t magic; /* NDK_ABI_MAGIC */
	uint32_t op;	/* NDK_ABI_SOCK_* */
	uint64_t size;
	uint64_t client_addr;
	uint32_t flags; /* none defined: must be 0 */
	uint32_t reserved;
};
_Static_assert(sizeof(struct ndk_abi_sock_req) == 32, "sock req size");

struct ndk_abi_sock_reply {
	uint32_t magic;
	uint32_t op;
	uint32_t status;
	uint32_t region_id;
	char message[NDK_ABI_MSG_LEN];
};
_Static_assert(sizeof(struct ndk_abi_sock_reply) == 128, "sock reply size");

/* -------------------------------------------------------------------------
 * Control ring entries (64 B each).
 * ------------------------------------------------------------------------- */

/*
 * Control opcodes. 0 is never valid, so a zeroed entry is rejected.
 * 'handle' is a per-client object handle ndkd gave back in an earlier
 * completion; the completion's out[] carries the results noted here.
 */
#define NDK_ABI_OP_NOP	      1u
#define NDK_ABI_OP_PD_CREATE  2u /* -> out[0] pd handle, out[1] privileged token */
#define NDK_ABI_OP_PD_DESTROY 3u /* handle = pd */
#define NDK_ABI_OP_MR_CREATE  4u /* handle = pd, args[0] = NDK_ABI_MR_KIND_* -> out[0] mr */
/*
 * handle = mr, args: va, length, flags -> out[0] token, out[1] the token
 * peers use (a hardware provider's NIC key; 0: out[0])
 */
#define NDK_ABI_OP_MR_REGISTER	 5u
#define NDK_ABI_OP_MR_DEREGISTER 6u /* handle = mr */
/*
 * handle = mr, args: pages, remote access -> out[0] token, out[1] the upper
 * 24 bits of the key peers use once it is fast-registered (a hardware
 * provider's; its low 8 bits are the token's variant; 0: the token)
 */
#define NDK_ABI_OP_MR_INIT_FR 7u
#define NDK_ABI_OP_MR_DESTROY 8u  /* handle = mr */
#define NDK_ABI_OP_CQ_CREATE  9u  /* args: [0] ring address, [1] entries -> out[0] cq */
#define NDK_ABI_OP_CQ_DESTROY 10u /* handle = cq */
/*
 * handle = pd; args: struct ndk_abi_qp_create -> out[0] qp, out[1] qpn,
 * out[2] the first PSN it sends on RoCEv2, out[3] the QP number peers on
 * other nodes address (a hardware provider's; else out[1])
 */
#define NDK_ABI_OP_QP_CREATE  11u
#define NDK_ABI_OP_QP_CONNECT 12u /* handle = qp; args: [0] the peer's qpn (same node) */
#define NDK_ABI_OP_QP_FLUSH   13u /* handle = qp */
#define NDK_ABI_OP_QP_DESTROY 14u /* handle = qp */
/*
 * Connection management (NDK's listener and connector), on this node or, over
 * a RoCEv2 port, with another through the IB CM. A request's connection data
 * travels in a struct ndk_abi_conn the client places in one of its regions
 * (args[] hold its address): ndkd copies it in when it takes the request and
 * writes it back, filled in, before the completion says SUCCESS (a
 * CONNECT refused by its peer's side, too: out[0] says so). GET_CONNECTION and CONNECT are answered
 * when the other side acts, not in order: their completions may come after later requests'.
 */
#define NDK_ABI_OP_LISTEN	    15u /* args: [0] port -> out[0] listener */
#define NDK_ABI_OP_LISTENER_DESTROY 16u /* handle = listener */
#define NDK_ABI_OP_GET_CONNECTION   17u /* handle = listener; args: [0] conn -> out[0] conn id */
#define NDK_ABI_OP_CONNECT	    18u /* handle = qp; args: [0] conn -> out[0] 1: conn filled in */
#define NDK_ABI_OP_ACCEPT	    19u /* handle = qp; args: [0] conn id, [1] conn */
#define NDK_ABI_OP_REJECT	    20u /* args: [0] conn id, [1] conn (0: no private data) */
/* Memory windows: an MR table entry that a BIND work request points into an MR. */
#define NDK_ABI_OP_MW_CREATE  21u /* handle = pd -> out[0] mw, out[1] its token (unbound) */
#define NDK_ABI_OP_MW_DESTROY 22u /* handle = mw */
/*
 * Shared receive queues: a receive ring of the client's that QPs created
 * with it take their receives from. Every receive on it takes the same
 * number of slots (ndk_abi_wqe_slots(max_rsge), the library pads), so ndkd
 * can count the receives queued for the notify threshold.
 */
/* handle = pd; args: [0] ring address, [1] entries, [2] max_rsge, [3] threshold -> out[0] srq */
#define NDK_ABI_OP_SRQ_CREATE  23u
#define NDK_ABI_OP_SRQ_MODIFY  24u /* handle = srq; args: [0] threshold (0: keep, else arm) */
#define NDK_ABI_OP_SRQ_DESTROY 25u /* handle = srq */
/*
 * handle = pd; args: struct ndk_abi_qp_create with rq_ring = the SRQ's
 * handle, rq_entries and max_rsge 0 -> out[0] qp, out[1] qpn
 */
#define NDK_ABI_OP_QP_CREATE_WITH_SRQ 26u
/*
 * handle = qp; a RoCEv2 peer: args [0] its qpn | the first PSN it sends << 32,
 * [1] and [2] its GID (16 bytes as on the wire), [3] path MTU in bytes (0:
 * the port's), [4] the local port as its GID index + 1 (0: the port whose
 * subnet holds the peer), [5] 0.
 */
#define NDK_ABI_OP_QP_CONNECT_ROCEV2 27u
/*
 * handle = qp, connected (by a connector, or by QP_CONNECT on this node):
 * end the connection; its requests complete CANCELLED. Answered once the
 * peer confirmed (another node's CM: DREP) or gave up waiting for it.
 */
#define NDK_ABI_OP_DISCONNECT 28u
/*
 * handle = qp: answered (SUCCESS) when the peer ends the connection, or
 * at once if it has; CANCELLED when the QP goes first. One at a time.
 */
#define NDK_ABI_OP_NOTIFY_DISCONNECT 29u
#define NDK_ABI_OP_MAX		     29u

/*
 * A connection's data. In (CONNECT): family, port, peer_ip, sgid, ird, ord,
 * private data; (ACCEPT, REJECT): ird, ord, private data. Out (CONNECT,
 * GET_CONNECTION): both ends' addresses, the peer's QP number, what the peer
 * asked or granted (its ird and ord) and its private data.
 */
#define NDK_ABI_CONN_PRIVATE_MAX 224u
struct ndk_abi_conn {
	uint16_t family; /* NDK_ADDRESS_LOCAL or NDK_ADDRESS_ROCEV2 */
	uint16_t port;	 /* the peer's (CONNECT: the listener's to connect to) */
	uint16_t local_port;
	uint16_t reserved0;
	uint8_t peer_ip[16];  /* ROCEV2: IPv4-mapped */
	uint8_t local_ip[16]; /* out */
	uint32_t sgid;	      /* CONNECT, ROCEV2: the port to use, as GID index + 1; 0: by subnet */
	uint32_t peer_qpn;    /* out */
	uint32_t ird;	      /* reads one takes in at once */
	uint32_t ord;	      /* reads one has out at once */
	uint32_t private_len;
	uint32_t reserved1;
	uint8_t private_data[NDK_ABI_CONN_PRIVATE_MAX];
};
_Static_assert(sizeof(struct ndk_abi_conn) == 288, "conn size");
_Static_assert(offsetof(struct ndk_abi_conn, private_data) == 64, "conn private data");

#define NDK_ABI_MR_KIND_NORMAL	0u
#define NDK_ABI_MR_KIND_FASTREG 1u

/* QP_CREATE's arguments. The rings lie in regions ndkd has mapped (see below). */
struct ndk_abi_qp_create {
	uint32_t rcq;	     /* the receive CQ's handle */
	uint32_t icq;	     /* the initiator (send) CQ's handle */
	uint64_t sq_ring;    /* address of the send ring: ndk_abi_ring_bytes(sq_entries) */
	uint64_t rq_ring;    /* address of the receive ring */
	uint32_t sq_entries; /* slots, a power of two */
	uint32_t rq_entries;
	uint16_t max_isge; /* SGEs a send, read or write may carry */
	uint16_t max_rsge; /* SGEs a receive may carry */
	uint32_t max_inline;
	uint64_t qp_context; /* the app's, echoed in every result */
};
_Static_assert(sizeof(struct ndk_abi_qp_create) == 48, "QP_CREATE args size");
_Static_assert(offsetof(struct ndk_abi_qp_create, sq_ring) == 8, "QP_CREATE sq_ring");
_Static_assert(offsetof(struct ndk_abi_qp_create, sq_entries) == 24, "QP_CREATE entries");
_Static_assert(offsetof(struct ndk_abi_qp_create, max_isge) == 32, "QP_CREATE sges");
_Static_assert(offsetof(struct ndk_abi_qp_create, qp_context) == 40, "QP_CREATE context");

/*
 * A request. user_data is the client's and comes back untouched in the
 * completion; the daemon never interprets it. Reserved fields must be zero.
 */
struct ndk_abi_sqe {
	uint8_t opcode;
	uint8_t flags;	 /* none defined: must be 0 */
	uint16_t stamp;	 /* the ring's (include/ndk/internal/ring.h, stamped rings) */
	uint32_t handle; /* object the request is about; 0 for adapter-wide */
	uint64_t user_data;
	union {
		uint64_t args[6];
		struct ndk_abi_qp_create qp_create; /* NDK_ABI_OP_QP_CREATE */
	};
};
_Static_assert(sizeof(struct ndk_abi_sqe) == NDK_ABI_ENTRY_SIZE, "sqe size");
_Static_assert(offsetof(struct ndk_abi_sqe, user_data) == 8, "sqe user_data");
_Static_assert(offsetof(struct ndk_abi_sqe, args) == 16, "sqe args");

struct ndk_abi_cqe {
	uint64_t user_data;
	uint32_t status; /* ndk_status */
	uint8_t opcode;	 /* echoed from the request */
	uint8_t reserved0;
	uint16_t stamp; /* the ring's */
	uint64_t out[6];
};
_Static_assert(sizeof(struct ndk_abi_cqe) == NDK_ABI_ENTRY_SIZE, "cqe size");
_Static_assert(offsetof(struct ndk_abi_cqe, status) == 8, "cqe status");
_Static_assert(offsetof(struct ndk_abi_cqe, out) == 16, "cqe out");

/* -------------------------------------------------------------------------
 * Work queues and completion queues. Their rings live in the client's own
 * arena memory (ndk_abi_ring_bytes(entries) at a 64-byte aligned address
 * inside a region ndkd has mapped), laid out like the control rings: producer
 * line, consumer line, flags line, entries.
 * ------------------------------------------------------------------------- */

/* A completion ring's flags word: the consumer asks to be woken. */
#define NDK_ABI_CQ_ARMED 1u
/*
 * A shared receive queue's flags word: ndkd sets it (and kicks the wake socket)
 * when the receives queued fell below the armed threshold; the library
 * swaps it back to 0 and calls the SRQ's notification.
 */
#define NDK_ABI_SRQ_NOTIFIED 2u

/* Work request opcodes (first slot of a WR). */
#define NDK_ABI_WR_SEND		   1u
#define NDK_ABI_WR_RECEIVE	   2u
#define NDK_ABI_WR_READ		   3u
#define NDK_ABI_WR_WRITE	   4u
#define NDK_ABI_WR_FAST_REGISTER   5u
#define NDK_ABI_WR_INVALIDATE	   6u
#define NDK_ABI_WR_SEND_INVALIDATE 7u
#define NDK_ABI_WR_BIND		   8u

struct ndk_abi_sge {
	uint64_t addr; /* VA under an MR token, or a logical address under a privileged token */
	uint32_t length;
	uint32_t token;
};
_Static_assert(sizeof(struct ndk_abi_sge) == 16, "sge size");

#define NDK_ABI_SGE_PER_SLOT 4u
#define NDK_ABI_MAX_INLINE   256u /* inline data bytes a work request may carry */

/*
 * The first 64-byte slot of a work request; its SGEs follow in the next
 * n_slots - 1 slots, four to a slot. With NDK_OP_FLAG_INLINE (send, write)
 * there are no SGEs: the data itself, 'length' bytes, fills those slots.
 */
struct ndk_abi_wqe {
	uint8_t opcode;
	uint8_t n_slots;
	uint16_t n_sge;
	uint16_t flags;		  /* NDK_OP_FLAG_* (all below 0x10000) */
	uint16_t stamp;		  /* the ring's: headers only (ring.h, stamped rings) */
	uint64_t request_context; /* the app's, echoed in the result */
	uint64_t remote_addr;	  /* READ, WRITE; FAST_REGISTER, BIND: base virtual address */
	/*
	 * READ, WRITE, SEND_INVALIDATE: the peer's token. FAST_REGISTER, BIND:
	 * the MR's (the window's) token from this request on, chosen by the
	 * client (its index, a variant other than its current one), so the
	 * app has it the moment it posts, as ibv_inc_rkey gives verbs
	 * consumers theirs.
	 */
	uint32_t remote_token;
	uint32_t mr_handle;  /* FAST_REGISTER, BIND; INVALIDATE: the MR or MW */
	uint64_t length;     /* FAST_REGISTER, BIND; INLINE: bytes of data */
	uint64_t page_array; /* FAST_REGISTER: address of page_count logical addresses */
	union {
		uint32_t page_count; /* FAST_REGISTER */
		uint32_t mw_handle;  /* BIND: the window */
	};
	uint32_t fbo;	 /* FAST_REGISTER: first byte offset */
	uint64_t cookie; /* the library's, echoed in the result */
};
_Static_assert(sizeof(struct ndk_abi_wqe) == NDK_ABI_ENTRY_SIZE, "wqe size");

static inline uint32_t
ndk_abi_wqe_slots(uint32_t n_sge)
{
	return 1u + (n_sge + NDK_ABI_SGE_PER_SLOT - 1) / NDK_ABI_SGE_PER_SLOT;
}

/*
 * A fast register's page array follows its first slot, eight logical page
 * addresses to a slot; inline data follows it 64 bytes to a slot.
 */
#define NDK_ABI_PAGES_PER_SLOT (NDK_ABI_ENTRY_SIZE / 8u)

static inline uint32_t
ndk_abi_fr_slots(uint32_t pages)
{
	return 1u + (pages + NDK_ABI_PAGES_PER_SLOT - 1) / NDK_ABI_PAGES_PER_SLOT;
}

static inline uint32_t
ndk_abi_inline_slots(uint32_t bytes)
{
	return 1u + (bytes + NDK_ABI_ENTRY_SIZE - 1) / NDK_ABI_ENTRY_SIZE;
}

/* The most slots one work request of a queue with these limits can take. */
static inline uint32_t
ndk_abi_wr_max_slots(uint32_t max_sge, uint32_t frmr_pages, uint32_t max_inline)
{
	uint32_t s = ndk_abi_wqe_slots(max_sge);

	if (ndk_abi_fr_slots(frmr_pages) > s)
		s = ndk_abi_fr_slots(frmr_pages);
	if (ndk_abi_inline_slots(max_inline) > s)
		s = ndk_abi_inline_slots(max_inline);
	return s;
}

/*
 * Values of a result's type: NDK_OPERATION_TYPE, as <ndk/cq.h> gives them to
 * apps (NDK_OP_TYPE_*); ndkd writes them, libndk passes them through.
 */
#define NDK_ABI_RESULT_RECEIVE		  1u
#define NDK_ABI_RESULT_RECEIVE_INVALIDATE 0x8001u
#define NDK_ABI_RESULT_SEND		  2u
#define NDK_ABI_RESULT_FAST_REGISTER	  4u
#define NDK_ABI_RESULT_BIND		  8u
#define NDK_ABI_RESULT_INVALIDATE	  16u
#define NDK_ABI_RESULT_READ		  32u
#define NDK_ABI_RESULT_WRITE		  64u

/* A completion on a CQ ring: NDK_RESULT_EX. */
struct ndk_abi_result {
	uint32_t status;
	uint32_t bytes;
	uint64_t qp_context;
	uint64_t request_context;
	uint32_t type;	/* NDK_ABI_RESULT_* */
	uint16_t stamp; /* the ring's */
	uint16_t reserved0;
	uint64_t type_specific; /* FastRegister: the new token; ReceiveAndInvalidate: the token */
	uint64_t cookie;	/* echoed from the work request */
	uint8_t reserved1[16];
};
_Static_assert(sizeof(struct ndk_abi_result) == NDK_ABI_ENTRY_SIZE, "result size");

/* Where the stamped rings' entries carry their stamp. */
#define NDK_ABI_SQE_STAMP    2u
#define NDK_ABI_CQE_STAMP    14u
#define NDK_ABI_RESULT_STAMP 28u
#define NDK_ABI_WQE_STAMP    6u
_Static_assert(offsetof(struct ndk_abi_sqe, stamp) == NDK_ABI_SQE_STAMP, "sqe stamp");
_Static_assert(offsetof(struct ndk_abi_cqe, stamp) == NDK_ABI_CQE_STAMP, "cqe stamp");
_Static_assert(offsetof(struct ndk_abi_result, stamp) == NDK_ABI_RESULT_STAMP, "result stamp");
_Static_assert(offsetof(struct ndk_abi_wqe, stamp) == NDK_ABI_WQE_STAMP, "wqe stamp");
_Static_assert(offsetof(struct ndk_abi_wqe, n_slots) == 1, "wqe n_slots");

/* -------------------------------------------------------------------------
 * Region geometry, computed the same way by both sides. The daemon builds
 * the region; the client only checks that the header it receives stays
 * inside region_size (it never trusts these offsets blindly either).
 * ------------------------------------------------------------------------- */

#define NDK_ABI_RING_MIN_ENTRIES 8u
#define NDK_ABI_RING_MAX_ENTRIES 65536u

static inline uint64_t
ndk_abi_ring_bytes(uint32_t entries)
{
	/* prod, cons and flags lines, then the entries */
	return 3u * NDK_ABI_CACHE_LINE + (uint64_t)entries * NDK_ABI_ENTRY_SIZE;
}

/*
 * Slots of a queue for 'depth' work requests of at most 'wr_slots' slots
 * each: a power of two, or 0 when no ring can hold that many.
 */
static inline uint32_t
ndk_abi_queue_entries(uint64_t depth, uint32_t wr_slots)
{
	uint64_t want = depth * wr_slots, n = NDK_ABI_RING_MIN_ENTRIES;

	if (want > NDK_ABI_RING_MAX_ENTRIES)
		return 0;
	while (n < want)
		n <<= 1;
	return (uint32_t)n;
}

/* The layout of a ring that stands alone in client memory (SQ, RQ, CQ). */
static inline struct ndk_abi_ring_desc
ndk_abi_ring_standalone(uint32_t entries)
{
	struct ndk_abi_ring_desc d = {
		.off_prod = 0,
		.off_cons = NDK_ABI_CACHE_LINE,
		.off_flags = 2 * NDK_ABI_CACHE_LINE,
		.off_entries = 3 * NDK_ABI_CACHE_LINE,
		.entries = entries,
		.entry_size = NDK_ABI_ENTRY_SIZE,
	};

	return d;
}

#endif /* NDK_INTERNAL_ABI_H */
