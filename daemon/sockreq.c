/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What an attached client may still send on its socket (main lcore): the fd
 * of a memory region, which shared memory cannot carry, and the request for
 * its wake socket, which comes back with the reply. One message each way
 * (ndk_abi_sock_req, ndk_abi_sock_reply).
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

#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010 /* Linux 5.1; older glibc headers lack it */
#endif

#include "engine.h"
#include "provider.h"
#include "server.h"

/* The reply, with fd (ours, >= 0) riding along as SCM_RIGHTS; false when it could not go. */
static bool
sock_reply(struct client *c, uint32_t op, ndk_status status, uint32_t region_id, const char *msg,
	   int fd)
{
	struct ndk_abi_sock_reply r = {
		.magic = NDK_ABI_MAGIC,
		.op = op,
		.status = status,
		.region_id = region_id,
	};

	snprintf(r.message, sizeof(r.message), "%s", msg);
	return client_send(c, &r, sizeof(r), fd);
}

/*
 * Map a region the client mapped too (docs/memory.md, "Regions"). The
 * memfd must be sealed against shrinking: otherwise the client could
 * truncate it and turn an engine's next access into SIGBUS. Once mapped,
 * ndkd seals it against new writers (F_SEAL_FUTURE_WRITE: mappings made
 * before keep writing, and no one can punch a hole any more, which on
 * hugetlbfs would hand the page back to the pool and SIGBUS ndkd), then
 * checks that every page of the file is allocated.
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
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE) != 0) {
		munmap(map, q->size);
		*why = "ndkd cannot seal it with F_SEAL_FUTURE_WRITE (F_SEAL_SEAL set?)";
		return NDK_STATUS_INVALID_PARAMETER;
	}
	/*
	 * Every page of the file allocated (st_blocks counts what shmem and
	 * hugetlbfs hold, swapped out or not), so by the client and charged
	 * to it: an engine's first touch of a hole would allocate the page in
	 * ndkd's name. Checked after the seal, so no hole can open later.
	 */
	if (fstat(fd, &st) != 0 || (uint64_t)st.st_blocks * 512 < (uint64_t)st.st_size) {
		munmap(map, q->size);
		*why = "not every page of the memfd is allocated (fallocate it first)";
		return NDK_STATUS_INVALID_PARAMETER;
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
 * A socket pair of ndkd's making for the client (its wake socket, its
 * doorbell), so that nothing the client does with its end (flags, buffer
 * sizes, never reading, flooding) can make an engine wait on ours, and
 * closing ours never lingers. ours_shut: the direction ours never uses.
 * Once per client (*slot, -1 until then); the client's end goes back in
 * *out.
 */
static ndk_status
make_pair(const struct ndk_abi_sock_req *q, int fd, _Atomic int *slot, int ours_shut, int *out,
	  const char **why)
{
	int sv[2];

	*why = "bad request";
	if (fd >= 0 || q->size != 0 || q->client_addr != 0 || q->flags != 0 || q->reserved != 0)
		return NDK_STATUS_INVALID_PARAMETER;
	if (atomic_load_explicit(slot, memory_order_relaxed) >= 0) {
		*why = "already set";
		return NDK_STATUS_INVALID_DEVICE_STATE;
	}
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) {
		*why = "no socket for it";
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	}
	shutdown(sv[0], ours_shut);
	atomic_store_explicit(slot, sv[0], memory_order_release);
	*out = sv[1];
	*why = "set";
	return NDK_STATUS_SUCCESS;
}

/*
 * The doorbell's end of ours joins the engine's epoll set: the client sends
 * on its end when it publishes work for a sleeping engine.
 */
static ndk_status
make_doorbell(struct server *s, struct client *c, const struct ndk_abi_sock_req *q, int fd,
	      int *out, const char **why)
{
	ndk_status st = make_pair(q, fd, &c->doorbell_fd, SHUT_WR, out, why);
	int ours = atomic_load_explicit(&c->doorbell_fd, memory_order_relaxed);

	if (st != NDK_STATUS_SUCCESS ||
	    engine_doorbell_add(&s->eng->engines[c->engine], c, ours) == 0)
		return st;
	atomic_store_explicit(&c->doorbell_fd, -1, memory_order_release);
	close(ours);
	close(*out);
	*out = -1;
	*why = "the engine cannot watch it";
	return NDK_STATUS_INSUFFICIENT_RESOURCES;
}

bool
sockreq_handle(struct server *s, struct client *c)
{
	struct ndk_abi_sock_req q;
	const char *why = "bad request";
	uint32_t id = 0;
	ndk_status st;
	ssize_t n;
	int fd = -1, give = -1, flags = 0;
	bool sent;

	n = server_recv(s, c, &q, sizeof(q), &fd, &flags);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return true;
	if (n <= 0)
		return false;
	st = NDK_STATUS_INVALID_PARAMETER; /* a bad header or an unknown op */
	if (n == (ssize_t)sizeof(q) && q.magic == NDK_ABI_MAGIC &&
	    (flags & (MSG_TRUNC | MSG_CTRUNC)) == 0) {
		if (q.op == NDK_ABI_SOCK_ADD_REGION)
			st = add_region(s, c, &q, fd, &id, &why);
		else if (q.op == NDK_ABI_SOCK_WAKE_FD)
			st = make_pair(&q, fd, &c->wake_fd, SHUT_RD, &give, &why);
		else if (q.op == NDK_ABI_SOCK_DOORBELL)
			st = make_doorbell(s, c, &q, fd, &give, &why);
	}
	/* even a memfd's: whatever the tenant passed, ndkd's close may be the last */
	closer_put(&s->closer, fd, c->uid);
	if (st != NDK_STATUS_SUCCESS) {
		uint64_t dropped;

		if (log_ratelimit_ok(&s->rl, ndkd_now_ns(), &dropped))
			NDKD_LOG(NOTICE, client, "client %u: socket request refused: %s", c->id,
				 why);
	}
	sent = sock_reply(c, n == (ssize_t)sizeof(q) ? q.op : 0, st, id, why, give);
	/*
	 * The client has its own copy now. An AF_UNIX close may run the
	 * kernel's fd garbage collector, and with it other files' releases.
	 */
	closer_put(&s->closer, give, c->uid);
	return sent;
}
