/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What an attached client may still send on its socket (main lcore): the fd
 * of a memory region, which shared memory cannot carry, and its eventfd.
 * One message each way (ndk_abi_sock_req, ndk_abi_sock_reply).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "provider.h"
#include "server.h"

static void
sock_reply(struct client *c, uint32_t op, ndk_status status, uint32_t region_id, const char *msg)
{
	struct ndk_abi_sock_reply r = {
		.magic = NDK_ABI_MAGIC,
		.op = op,
		.status = status,
		.region_id = region_id,
	};

	snprintf(r.message, sizeof(r.message), "%s", msg);
	if (send(c->sock, &r, sizeof(r), MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)sizeof(r))
		c->broken = true;
}

/*
 * Map a region the client mapped too. The memfd must be sealed against
 * shrinking: otherwise the client could truncate it and turn an engine's
 * next access into SIGBUS.
 */
static ndk_status
add_region(struct server *s, struct client *c, const struct ndk_abi_sock_req *q, int fd,
	   uint32_t *id, const char **why)
{
	uint32_t n = atomic_load_explicit(&c->n_regions, memory_order_relaxed), i;
	struct stat st;
	ndk_status rc;
	void *map;
	int seals;

	*why = "bad request";
	if (fd < 0) {
		*why = "no fd attached";
		return NDK_STATUS_INVALID_PARAMETER;
	}
	if (q->flags != 0 || q->reserved != 0 || q->size == 0 || q->client_addr == 0 ||
	    (q->size | q->client_addr) % 4096 != 0 || q->client_addr + q->size < q->client_addr)
		return NDK_STATUS_INVALID_PARAMETER;
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0 || !(seals & F_SEAL_SHRINK)) {
		*why = "the fd must be a memfd sealed with F_SEAL_SHRINK";
		return NDK_STATUS_INVALID_PARAMETER;
	}
	if (fstat(fd, &st) != 0 || (uint64_t)st.st_size < q->size) {
		*why = "the fd is smaller than the region";
		return NDK_STATUS_INVALID_PARAMETER;
	}
	if (n >= s->o->lim.max_regions || q->size > s->o->lim.max_region_bytes - c->region_bytes) {
		*why = "region limit reached";
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	}
	for (i = 0; i < n; i++) {
		const struct region *r = &c->regions[i];

		if (q->client_addr < r->client_base + r->size &&
		    r->client_base < q->client_addr + q->size) {
			*why = "overlaps a region already attached";
			return NDK_STATUS_INVALID_PARAMETER;
		}
	}
	map = mmap(NULL, q->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		*why = "ndkd cannot map it";
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	}
	c->regions[n] = (struct region){
		.client_base = q->client_addr,
		.size = q->size,
		.daemon_base = map,
	};
	/* the provider's part (a NIC registration) before any engine can see it */
	rc = s->prov->ops.region_add(s->prov, c, &c->regions[n]);
	if (rc != NDK_STATUS_SUCCESS) {
		munmap(map, q->size);
		*why = "the provider cannot register it";
		return rc;
	}
	c->region_bytes += q->size;
	/* R: pairs with the engine's acquire in region_find() */
	atomic_store_explicit(&c->n_regions, n + 1, memory_order_release);
	*id = n;
	*why = "attached";
	return NDK_STATUS_SUCCESS;
}

/*
 * The client's eventfd: kept (not closed) and kicked by its engine when an
 * armed CQ gets a result. Once per client; the fd must really be an eventfd.
 */
static ndk_status
set_event_fd(struct client *c, const struct ndk_abi_sock_req *q, int *fd, const char **why)
{
	char path[64], link[64];
	ssize_t n;

	*why = "bad request";
	if (*fd < 0 || q->size != 0 || q->client_addr != 0 || q->flags != 0 || q->reserved != 0)
		return NDK_STATUS_INVALID_PARAMETER;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", *fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n <= 0 || (link[n] = '\0', strcmp(link, "anon_inode:[eventfd]") != 0)) {
		*why = "not an eventfd";
		return NDK_STATUS_INVALID_PARAMETER;
	}
	if (atomic_load_explicit(&c->event_fd, memory_order_relaxed) >= 0) {
		*why = "an eventfd is already set";
		return NDK_STATUS_INVALID_DEVICE_STATE;
	}
	/* O_NONBLOCK: a full counter must never stall an engine */
	fcntl(*fd, F_SETFL, fcntl(*fd, F_GETFL) | O_NONBLOCK);
	atomic_store_explicit(&c->event_fd, *fd, memory_order_release);
	*fd = -1; /* kept */
	*why = "eventfd set";
	return NDK_STATUS_SUCCESS;
}

bool
sockreq_handle(struct server *s, struct client *c)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} ctl;
	struct ndk_abi_sock_req q;
	struct iovec iov = { .iov_base = &q, .iov_len = sizeof(q) };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = ctl.buf,
		.msg_controllen = sizeof(ctl.buf),
	};
	struct cmsghdr *cm;
	const char *why = "bad request";
	uint32_t id = 0;
	ndk_status st;
	ssize_t n;
	int fd = -1;

	n = recvmsg(c->sock, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return true;
	if (n <= 0)
		return false;
	/* Take the first fd; close any others a client slipped in. */
	for (cm = CMSG_FIRSTHDR(&msg); cm != NULL; cm = CMSG_NXTHDR(&msg, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		for (size_t k = 0; k < (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int); k++) {
			int f;

			memcpy(&f, CMSG_DATA(cm) + k * sizeof(int), sizeof(int));
			if (fd < 0)
				fd = f;
			else
				close(f);
		}
	}
	st = NDK_STATUS_INVALID_PARAMETER; /* a bad header or an unknown op */
	if (n == (ssize_t)sizeof(q) && q.magic == NDK_ABI_MAGIC &&
	    (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) == 0) {
		if (q.op == NDK_ABI_SOCK_ADD_REGION)
			st = add_region(s, c, &q, fd, &id, &why);
		else if (q.op == NDK_ABI_SOCK_EVENTFD)
			st = set_event_fd(c, &q, &fd, &why);
	}
	if (fd >= 0)
		close(fd);
	if (st != NDK_STATUS_SUCCESS) {
		uint64_t dropped;

		if (log_ratelimit_ok(&s->rl, ndkd_now_ns(), &dropped))
			NDKD_LOG(NOTICE, client, "client %u: region refused: %s", c->id, why);
	}
	sock_reply(c, n == (ssize_t)sizeof(q) ? q.op : 0, st, id, why);
	return !c->broken;
}
