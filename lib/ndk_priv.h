/* SPDX-License-Identifier: BSD-3-Clause */
/* libndk internals shared by its files. Nothing here is exported. */
#ifndef NDK_PRIV_H
#define NDK_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ndk/ndk.h>
#include <ndk/internal/abi.h>
#include <ndk/internal/ring.h>

#define NDK_LIB_OPEN_TIMEOUT_MS 5000
/* Empty progress calls between two liveness checks of the socket (a syscall). */
#define NDK_LIB_LIVENESS_EVERY 1024u

/* One outstanding request; its index and generation form the cqe's user_data. */
struct req_slot {
	ndk_fn_request_completion completion;
	void *context;
	uint32_t gen;
	uint32_t next_free;
	bool busy;
};

struct adapter {
	struct ndk_adapter pub;
	int sock;
	void *region;
	size_t region_size;
	const struct ndk_abi_region *hdr; /* shared: only kstate changes */
	uint32_t client_id;
	struct ndk_ring sq;
	struct ndk_ring cq;
	uint32_t unpublished;
	struct req_slot *slots;
	uint32_t nslots;
	uint32_t free_head;
	uint32_t inflight;
	uint32_t idle_polls;
	uint64_t stray_completions; /* cqes matching no request: a daemon bug */
	bool gone;
	bool in_callback;
};

/* attach.c */
ndk_status attach_channel(const char *socket_path, const struct ndk_adapter_opts *opts,
			  struct adapter *ad);
void detach_channel(struct adapter *ad);
bool channel_hung_up(const struct adapter *ad);

#endif /* NDK_PRIV_H */
