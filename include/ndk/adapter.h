/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The adapter: an app's attachment to ndkd. Opening it is the only call that
 * talks to the daemon over its socket; every later request travels through
 * shared-memory rings, and its completion callback runs inside
 * ndk_adapter_progress() on the caller's thread.
 *
 * Threading: calls on one adapter are serialised by the caller, as NDK
 * serialises calls per queue. Different adapters are independent.
 */
#ifndef NDK_ADAPTER_H
#define NDK_ADAPTER_H

#include <stddef.h>
#include <stdint.h>

#include <ndk/cq.h>
#include <ndk/flags.h>
#include <ndk/object.h>
#include <ndk/status.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Where ndkd listens unless told otherwise (NDK_SOCKET in the environment). */
#define NDK_DEFAULT_SOCKET "/run/ndkd/ndkd.sock"

struct ndk_adapter;
struct ndk_pd;
struct ndk_listener;
struct ndk_connector;

/* NDK_RDMA_TECHNOLOGY */
#define NDK_RDMA_TECHNOLOGY_UNDEFINED  0
#define NDK_RDMA_TECHNOLOGY_IWARP      1
#define NDK_RDMA_TECHNOLOGY_INFINIBAND 2
#define NDK_RDMA_TECHNOLOGY_ROCE       3
#define NDK_RDMA_TECHNOLOGY_ROCEV2     4

/* NDK_ADAPTER_FLAG_* */
#define NDK_ADAPTER_FLAG_IN_ORDER_DMA_SUPPORTED		      0x00000001u
#define NDK_ADAPTER_FLAG_RDMA_READ_SINK_NOT_REQUIRED	      0x00000002u
#define NDK_ADAPTER_FLAG_CQ_INTERRUPT_MODERATION_SUPPORTED    0x00000004u
#define NDK_ADAPTER_FLAG_MULTI_ENGINE_SUPPORTED		      0x00000008u
#define NDK_ADAPTER_FLAG_RDMA_READ_LOCAL_INVALIDATE_SUPPORTED 0x00000010u
#define NDK_ADAPTER_FLAG_CQ_RESIZE_SUPPORTED		      0x00000100u
#define NDK_ADAPTER_FLAG_LOOPBACK_CONNECTIONS_SUPPORTED	      0x00010000u

/* NDK_ADAPTER_INFO, field order exactly as ndkinfo.h (SIZE_T as size_t, ULONG as uint32_t). */
struct ndk_adapter_info {
	struct ndk_version version;
	uint32_t vendor_id;
	uint32_t device_id;
	size_t max_registration_size;
	size_t max_window_size;
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
};

/* NDK's adapter page: every logical address mapping is in these units. */
#define NDK_PAGE_SIZE 4096u

typedef uint64_t ndk_logical_address;

/* NDK_LOGICAL_ADDRESS_MAPPING: page_count pages follow (a flexible array). */
struct ndk_logical_address_mapping {
	void *adapter_context; /* the library's */
	uint32_t adapter_page_count;
	uint32_t reserved;
	ndk_logical_address adapter_page_array[];
};

/*
 * Options for ndk_adapter_open(). Fill with ndk_adapter_opts_init() first,
 * then set what you need: new fields are only ever added at the end, and
 * opts_size tells the library which ones this caller knows.
 */
struct ndk_adapter_opts {
	size_t opts_size;
	/* Free text shown by ndkctl for this client (truncated to 47 bytes). */
	const char *name;
	/* When not NULL, a failed open writes the reason here, NUL-terminated. */
	char *errbuf;
	size_t errbuf_len;
};

void ndk_adapter_opts_init(struct ndk_adapter_opts *opts, size_t opts_size);

/*
 * ndk_adapter_open() - attach to ndkd.
 * @socket_path: the daemon's socket; NULL means $NDK_SOCKET, or
 *               NDK_DEFAULT_SOCKET when that is unset.
 * @opts: NULL for defaults.
 * @adapter: receives the adapter on SUCCESS.
 *
 * Synchronous; never blocks for long: a daemon that is not running fails at
 * once (OBJECT_NAME_NOT_FOUND or CONNECTION_REFUSED), one that does not
 * answer within 5 s fails with IO_TIMEOUT. The daemon's refusals come back as
 * its status: REVISION_MISMATCH (ABI versions differ), ACCESS_DENIED (uid/gid
 * not allowed), INSUFFICIENT_RESOURCES (client limit), with the daemon's
 * message in opts->errbuf.
 */
ndk_status ndk_adapter_open(const char *socket_path, const struct ndk_adapter_opts *opts,
			    struct ndk_adapter **adapter);

/*
 * NOP: a request that goes to the daemon's engine and back and does nothing
 * else. Returns PENDING (the completion runs later from ndk_adapter_progress(),
 * exactly once), INSUFFICIENT_RESOURCES when as many requests as the
 * completion ring holds are in flight (reap some, then retry; no callback),
 * DEVICE_REMOVED once the daemon is gone, or INVALID_PARAMETER for unknown
 * flags. NDK_OP_FLAG_DEFER queues the request without telling the daemon;
 * the next call without DEFER (or ndk_adapter_progress()) publishes the batch.
 */
typedef ndk_status (*ndk_fn_adapter_nop)(struct ndk_adapter *adapter, uint32_t flags,
					 ndk_fn_request_completion completion, void *context);

/*
 * Progress: reap up to max completions (0 = all that are ready), run their
 * callbacks, and return how many ran. Also publishes deferred requests and
 * notices a daemon that has gone away: then every request still in flight
 * completes with DEVICE_REMOVED, so no PENDING request is ever left without
 * its callback. Never blocks.
 */
typedef uint32_t (*ndk_fn_adapter_progress)(struct ndk_adapter *adapter, uint32_t max);

/*
 * NDK_FN_QUERY_ADAPTER_INFO: copies the adapter's limits. SUCCESS, or
 * BUFFER_TOO_SMALL with *size set to what is needed. Synchronous.
 */
typedef ndk_status (*ndk_fn_query_adapter_info)(struct ndk_adapter *adapter,
						struct ndk_adapter_info *info, uint32_t *size);

/*
 * NDK_FN_CREATE_CQ: a CQ of at least depth entries (rounded up to a power of
 * two, at least 8), its ring in the adapter's arena. PENDING (the CQ comes to
 * completion) or an error with no callback: INVALID_PARAMETER (depth 0 or
 * above the adapter's MaxCqDepth), INSUFFICIENT_RESOURCES.
 */
typedef ndk_status (*ndk_fn_create_cq)(struct ndk_adapter *adapter, uint32_t depth,
				       ndk_fn_cq_notification notification,
				       void *notification_context,
				       ndk_fn_create_completion completion, void *context,
				       struct ndk_cq **cq);

/*
 * NDK_FN_CREATE_PD: PENDING (the PD comes to completion, exactly once), or an
 * error and no callback. *pd is not written (NDK allows either; this one
 * always goes to ndkd).
 */
typedef ndk_status (*ndk_fn_create_pd)(struct ndk_adapter *adapter,
				       ndk_fn_create_completion completion, void *context,
				       struct ndk_pd **pd);

/* NDK_FN_CREATE_CONNECTOR / NDK_FN_CREATE_LISTENER: local objects, SUCCESS at once. */
typedef ndk_status (*ndk_fn_create_connector)(struct ndk_adapter *adapter,
					      ndk_fn_create_completion completion, void *context,
					      struct ndk_connector **connector);
typedef ndk_status (*ndk_fn_create_listener)(struct ndk_adapter *adapter,
					     void (*connect_event)(void *context,
								   struct ndk_connector *connector),
					     void *connect_event_context,
					     ndk_fn_create_completion completion, void *context,
					     struct ndk_listener **listener);

/*
 * NDK_FN_BUILD_LAM: the logical address mapping of [addr, addr + length),
 * which must lie in one of the adapter's arena regions or attached fds.
 * Synchronous: returns SUCCESS (no callback), BUFFER_TOO_SMALL with *lam_size
 * set, or INVALID_PARAMETER (not in a region, length 0). *fbo gets the offset
 * of addr in its first page. A logical address is the app's own address of
 * the page: ndkd maps each region at the app's addresses (IOVA = VA).
 */
typedef ndk_status (*ndk_fn_build_lam)(struct ndk_adapter *adapter, void *addr, size_t length,
				       ndk_fn_request_completion completion, void *context,
				       struct ndk_logical_address_mapping *lam, uint32_t *lam_size,
				       uint32_t *fbo);

/* NDK_FN_RELEASE_LAM: nothing is held for a mapping; provided for NDK symmetry. */
typedef void (*ndk_fn_release_lam)(struct ndk_adapter *adapter,
				   struct ndk_logical_address_mapping *lam);

struct ndk_adapter_dispatch {
	ndk_fn_close_object close;
	ndk_fn_query_extension query_extension;
	ndk_fn_query_adapter_info query_adapter_info;
	ndk_fn_create_cq create_cq;
	ndk_fn_create_pd create_pd;
	ndk_fn_create_connector create_connector;
	ndk_fn_create_listener create_listener;
	ndk_fn_build_lam build_lam;
	ndk_fn_release_lam release_lam;
	/* ndkd's own, after NDK's */
	ndk_fn_adapter_nop nop;
	ndk_fn_adapter_progress progress;
};

struct ndk_adapter {
	struct ndk_object_header header;
	const struct ndk_adapter_dispatch *dispatch;
};

/*
 * ndk_adapter_close() - detach. Blocking, as NDK's adapter close is: it drives
 * progress until every outstanding request has had its callback, then
 * unmaps the channel and closes the socket. Returns SUCCESS (no callback), or
 * INVALID_DEVICE_STATE when called from inside one of this adapter's
 * callbacks (nothing closed).
 */
static inline ndk_status
ndk_adapter_close(struct ndk_adapter *adapter)
{
	return adapter->dispatch->close(&adapter->header, NULL, NULL);
}

static inline ndk_status
ndk_adapter_query_extension(struct ndk_adapter *adapter, const struct ndk_guid *id,
			    struct ndk_version version, struct ndk_extension_interface *ext)
{
	return adapter->dispatch->query_extension(&adapter->header, id, version, ext);
}

static inline ndk_status
ndk_adapter_nop(struct ndk_adapter *adapter, uint32_t flags, ndk_fn_request_completion completion,
		void *context)
{
	return adapter->dispatch->nop(adapter, flags, completion, context);
}

static inline uint32_t
ndk_adapter_progress(struct ndk_adapter *adapter, uint32_t max)
{
	return adapter->dispatch->progress(adapter, max);
}

/*
 * NDIS_NDK_CAPABILITIES: how many objects of each kind this client may
 * have (ndkd's per-client limits, capped by the provider's device), the
 * read limits, and the NDK performance counters not kept (all of them:
 * ndkd's counters are in its telemetry instead).
 */
struct ndk_capabilities {
	uint32_t max_qp_count;
	uint32_t max_cq_count;
	uint32_t max_mr_count;
	uint32_t max_pd_count;
	uint32_t max_inbound_read_limit;
	uint32_t max_outbound_read_limit;
	uint32_t max_mw_count;
	uint32_t max_srq_count;
	uint64_t missing_counter_mask;
};

/* Synchronous, from what ndkd wrote at attach. INVALID_PARAMETER for NULL. */
ndk_status ndk_adapter_query_capabilities(struct ndk_adapter *adapter,
					  struct ndk_capabilities *caps);

static inline ndk_status
ndk_adapter_query_info(struct ndk_adapter *adapter, struct ndk_adapter_info *info, uint32_t *size)
{
	return adapter->dispatch->query_adapter_info(adapter, info, size);
}

static inline ndk_status
ndk_cq_create(struct ndk_adapter *adapter, uint32_t depth, ndk_fn_create_completion completion,
	      void *context, struct ndk_cq **cq)
{
	return adapter->dispatch->create_cq(adapter, depth, NULL, NULL, completion, context, cq);
}

static inline ndk_status
ndk_cq_create_with_notification(struct ndk_adapter *adapter, uint32_t depth,
				ndk_fn_cq_notification notification, void *notification_context,
				ndk_fn_create_completion completion, void *context,
				struct ndk_cq **cq)
{
	return adapter->dispatch->create_cq(adapter, depth, notification, notification_context,
					    completion, context, cq);
}

static inline ndk_status
ndk_connector_create(struct ndk_adapter *adapter, struct ndk_connector **connector)
{
	return adapter->dispatch->create_connector(adapter, NULL, NULL, connector);
}

static inline ndk_status
ndk_listener_create(struct ndk_adapter *adapter,
		    void (*connect_event)(void *context, struct ndk_connector *connector),
		    void *context, struct ndk_listener **listener)
{
	return adapter->dispatch->create_listener(adapter, connect_event, context, NULL, NULL,
						  listener);
}

static inline ndk_status
ndk_pd_create(struct ndk_adapter *adapter, ndk_fn_create_completion completion, void *context,
	      struct ndk_pd **pd)
{
	return adapter->dispatch->create_pd(adapter, completion, context, pd);
}

static inline ndk_status
ndk_adapter_build_lam(struct ndk_adapter *adapter, void *addr, size_t length,
		      struct ndk_logical_address_mapping *lam, uint32_t *lam_size, uint32_t *fbo)
{
	return adapter->dispatch->build_lam(adapter, addr, length, NULL, NULL, lam, lam_size, fbo);
}

static inline void
ndk_adapter_release_lam(struct ndk_adapter *adapter, struct ndk_logical_address_mapping *lam)
{
	adapter->dispatch->release_lam(adapter, lam);
}

/*
 * The fd to block on, for apps that do not poll: after ndk_cq_arm(), it
 * becomes readable when that CQ has a result, and it becomes (and stays)
 * readable when ndkd goes away; the app then calls ndk_adapter_progress(),
 * which runs the CQ's notification callback (DEVICE_REMOVED in the second
 * case). An epoll fd: poll(), select() and epoll all work on it. Created
 * (with the wake socket ndkd makes for it, one socket round trip) on first use; -1
 * when that fails. Owned by the adapter: do not close it.
 */
int ndk_adapter_event_fd(struct ndk_adapter *adapter);

/*
 * Registration-ready memory: ndk_mem_alloc() returns memory from the
 * adapter's arena, shared memfd regions that ndkd has mapped too, so
 * registering it costs no syscall. Thread-safe. NULL when size is 0 or the
 * arena cannot grow (limit reached, no memory). Free it with ndk_mem_free()
 * (never free()); it is gone when the adapter closes.
 */
void *ndk_mem_alloc(struct ndk_adapter *adapter, size_t size, size_t align);
void ndk_mem_free(struct ndk_adapter *adapter, void *ptr);

/*
 * Memory outside the arena: hand ndkd an fd of your own. fd must be a memfd
 * sealed with F_SEAL_SHRINK (hugetlb memfds too); size a multiple of 4 KiB.
 * The library maps it at *addr (shared); from then on [*addr, *addr + size)
 * can be registered. SUCCESS, or ndkd's refusal: INVALID_PARAMETER (not
 * sealed, too small, bad size), INSUFFICIENT_RESOURCES (region limits).
 * The caller keeps its fd; the mapping lasts until the adapter closes.
 */
ndk_status ndk_mem_attach_fd(struct ndk_adapter *adapter, int fd, size_t size, void **addr);

#ifdef __cplusplus
}
#endif

#endif /* NDK_ADAPTER_H */
