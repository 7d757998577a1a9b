/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A client's channel: one memfd region holding the region header and the
 * control ring pair, mapped by ndkd and by the client.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ndkd.h"

/* The rings start on the first cache line after the header. */
#define RING_OFFSET                                                                                \
	((uint32_t)((sizeof(struct ndk_abi_region) + NDK_ABI_CACHE_LINE - 1) &                     \
		    ~(NDK_ABI_CACHE_LINE - 1)))

static uint32_t
place_ring(struct ndk_abi_ring_desc *d, uint32_t off, uint32_t entries)
{
	d->off_prod = off;
	d->off_cons = off + NDK_ABI_CACHE_LINE;
	d->off_flags = off + 2 * NDK_ABI_CACHE_LINE;
	d->off_entries = off + 3 * NDK_ABI_CACHE_LINE;
	d->entries = entries;
	d->entry_size = NDK_ABI_ENTRY_SIZE;
	return off + (uint32_t)ndk_abi_ring_bytes(entries);
}

int
channel_create(struct client *c, uint32_t entries, const struct ndk_abi_adapter_info *info)
{
	struct ndk_abi_region *h;
	long page = sysconf(_SC_PAGESIZE);
	uint32_t off;
	size_t size;
	char name[32];
	int rc;

	if (entries < NDK_ABI_RING_MIN_ENTRIES || entries > NDK_ABI_RING_MAX_ENTRIES ||
	    (entries & (entries - 1)) != 0)
		return -EINVAL;
	off = RING_OFFSET;
	off = (uint32_t)(off + ndk_abi_ring_bytes(entries));
	off = (uint32_t)(off + ndk_abi_ring_bytes(entries));
	size = ((size_t)off + (size_t)page - 1) & ~((size_t)page - 1);

	snprintf(name, sizeof(name), "ndkd-client-%u", c->id);
	c->memfd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (c->memfd < 0)
		return -errno;
	if (ftruncate(c->memfd, (off_t)size) != 0)
		goto err;
	/*
	 * Seal the size: a client that could shrink the file would turn the
	 * engine's next access into SIGBUS. Writes stay allowed, of course.
	 */
	if (fcntl(c->memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0)
		goto err;
	c->region = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, c->memfd, 0);
	if (c->region == MAP_FAILED) {
		c->region = NULL;
		goto err;
	}
	c->region_size = size;

	h = c->region;
	h->magic = NDK_ABI_REGION_MAGIC;
	h->abi_version = NDK_ABI_VERSION;
	h->region_size = size;
	h->header_size = sizeof(*h);
	h->client_id = c->id;
	h->engine_id = c->engine;
	h->info = *info;
	off = place_ring(&h->ctrl_sq, RING_OFFSET, entries);
	place_ring(&h->ctrl_cq, off, entries);
	atomic_store_explicit((_Atomic uint32_t *)&h->kstate, NDK_ABI_STATE_ACTIVE,
			      memory_order_relaxed);
	/*
	 * Every kind of object up to its limit, so one kind at its limit never
	 * starves another; handle 0 is never given out, hence the one more.
	 */
	c->obj_cap = info->max_mrs + info->max_pds + info->max_qps + info->max_cqs +
		     info->max_srqs + NDKD_MAX_LISTENERS_PER_CLIENT + 1;
	c->obj_hw = 1;
	c->obj_free = 0;
	c->objs = calloc(c->obj_cap, sizeof(*c->objs));
	if (c->objs == NULL) {
		munmap(c->region, size);
		c->region = NULL;
		errno = ENOMEM;
		goto err;
	}
	/* Our view is computed here, once; the header copy is the client's to read. */
	ndk_ring_attach_ctrl(&c->sq, &c->cq, c->region, h);
	return 0;
err:
	rc = -errno;
	close(c->memfd);
	c->memfd = -1;
	return rc;
}

void
channel_destroy(struct client *c)
{
	uint32_t i, n = atomic_load_explicit(&c->n_regions, memory_order_relaxed);

	for (i = 0; i < n; i++)
		munmap(c->regions[i].daemon_base, c->regions[i].size);
	atomic_store_explicit(&c->n_regions, 0, memory_order_relaxed);
	/* After the grace period: no engine reads these page arrays any more. */
	for (i = 0; c->objs != NULL && i < c->obj_hw; i++) {
		if (c->objs[i].type == OBJ_MR)
			free(c->objs[i].ptr);
	}
	for (i = 0; i < c->n_fr_spare; i++)
		free(c->fr_spare[i]);
	free(c->fr_spare);
	c->fr_spare = NULL;
	c->n_fr_spare = 0;
	free(c->objs);
	c->objs = NULL;
	if (c->region != NULL)
		munmap(c->region, c->region_size);
	c->region = NULL;
	if (c->memfd >= 0)
		close(c->memfd);
	c->memfd = -1;
}

void
channel_set_state(struct client *c, uint32_t state)
{
	struct ndk_abi_region *h = c->region;

	/* Pairs with the client's load-acquire in daemon_stopping(). */
	atomic_store_explicit((_Atomic uint32_t *)&h->kstate, state, memory_order_release);
}

void
channel_complete(struct client *c, uint64_t user_data, uint8_t opcode, ndk_status status,
		 uint64_t out0, uint64_t out1)
{
	struct ndk_abi_cqe cqe = {
		.user_data = user_data,
		.status = status,
		.opcode = opcode,
		.out = { out0, out1 },
	};
	bool broken = false;

	if (ndk_ring_prod_space(&c->cq, &broken) == 0) {
		/* the library never lets this happen; a client that does is on its own */
		if (broken)
			c->broken = true;
		return;
	}
	memcpy(ndk_ring_prod_next(&c->cq), &cqe, sizeof(cqe));
	ndk_ring_prod_publish(&c->cq);
}

bool
client_send(struct client *c, const void *buf, size_t len, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;

	if (fd >= 0) {
		memset(&ctl, 0, sizeof(ctl));
		msg.msg_control = ctl.buf;
		msg.msg_controllen = sizeof(ctl.buf);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	/*
	 * Never waits: a client that does not read its socket is done with. Not
	 * c->broken: that is its engine's, and this runs on the main lcore.
	 */
	return sendmsg(c->sock, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)len;
}

void
client_kick(struct client *c)
{
	const char one = 1;
	int fd = atomic_load_explicit(&c->wake_fd, memory_order_acquire);

	/* per call non-blocking: no flag of the client's can make it wait */
	if (fd >= 0 && send(fd, &one, 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		/* a full queue (EAGAIN) already means "wake up"; a closed end, nobody to wake */
	}
}
