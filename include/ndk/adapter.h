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

#include <ndk/flags.h>
#include <ndk/object.h>
#include <ndk/status.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Where ndkd listens unless told otherwise (NDK_SOCKET in the environment). */
#define NDK_DEFAULT_SOCKET "/run/ndkd/ndkd.sock"

struct ndk_adapter;

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

struct ndk_adapter_dispatch {
	ndk_fn_close_object close;
	ndk_fn_query_extension query_extension;
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

#ifdef __cplusplus
}
#endif

#endif /* NDK_ADAPTER_H */
