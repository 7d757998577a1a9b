/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The one conversation libndk has with ndkd over its socket: hello, then the
 * channel memfd. After that the socket only tells liveness.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ndk_priv.h"

static void
set_err(const struct ndk_adapter_opts *opts, const char *fmt, ...)
{
	va_list ap;

	if (opts == NULL || opts->errbuf == NULL || opts->errbuf_len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(opts->errbuf, opts->errbuf_len, fmt, ap);
	va_end(ap);
}

/*
 * A full accept backlog is a busy moment (a burst of attaches, or someone
 * flooding the socket): retry for up to the open timeout before giving up.
 */
static int
connect_retrying(int fd, const struct sockaddr_un *sa)
{
	struct timespec pause = { .tv_nsec = 1000000 }, t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0)
			return 0;
		if (errno != EAGAIN)
			return -1;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 >=
		    NDK_LIB_OPEN_TIMEOUT_MS) {
			errno = EAGAIN;
			return -1;
		}
		nanosleep(&pause, NULL);
	}
}

static ndk_status
connect_daemon(const char *path, const struct ndk_adapter_opts *opts, int *out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	ndk_status st;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		set_err(opts, "socket path too long: %s", path);
		return NDK_STATUS_INVALID_PARAMETER;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1); /* length checked above */
	/* Non-blocking: a full accept backlog is retried for a bounded time, never hung on. */
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		set_err(opts, "socket: %s", strerror(errno));
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	}
	if (connect_retrying(fd, &sa) != 0) {
		int e = errno;

		switch (e) {
		case ENOENT:
			st = NDK_STATUS_OBJECT_NAME_NOT_FOUND;
			break;
		case EACCES:
		case EPERM:
			st = NDK_STATUS_ACCESS_DENIED;
			break;
		case EAGAIN:
			st = NDK_STATUS_DEVICE_BUSY;
			break;
		default:
			st = NDK_STATUS_CONNECTION_REFUSED;
			break;
		}
		set_err(opts, "cannot connect to ndkd at %s: %s%s", path, strerror(e),
			e == ENOENT || e == ECONNREFUSED ? " (is ndkd running?)" : "");
		close(fd);
		return st;
	}
	*out = fd;
	return NDK_STATUS_SUCCESS;
}

/*
 * One message from ndkd into buf, and the fd that came with it (SCM_RIGHTS)
 * in *fd, else -1; *flags are the message's (MSG_TRUNC, MSG_CTRUNC).
 */
static ssize_t
recv_with_fd(int sock, void *buf, size_t len, int *fd, int *flags)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = ctl.buf,
		.msg_controllen = sizeof(ctl.buf),
	};
	struct cmsghdr *cm;
	ssize_t n;

	memset(&ctl, 0, sizeof(ctl));
	*fd = -1;
	n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	*flags = msg.msg_flags;
	if (n <= 0)
		return n;
	for (cm = CMSG_FIRSTHDR(&msg); cm != NULL; cm = CMSG_NXTHDR(&msg, cm)) {
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
		    cm->cmsg_len == CMSG_LEN(sizeof(int)) && *fd < 0)
			memcpy(fd, CMSG_DATA(cm), sizeof(int));
	}
	return n;
}

static ndk_status
exchange_hello(int fd, const struct ndk_adapter_opts *opts, struct ndk_abi_hello_reply *reply,
	       int *memfd)
{
	struct ndk_abi_hello hello = {
		.magic = NDK_ABI_MAGIC,
		.abi_version = NDK_ABI_VERSION,
	};
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	ssize_t n;
	int rc, flags, send_errno = 0;

	if (opts != NULL && opts->name != NULL)
		strncpy(hello.name, opts->name, sizeof(hello.name) - 1);
	/*
	 * ndkd refuses some peers (by SO_PEERCRED) before their hello: the
	 * refusal may be waiting on a socket it has already closed.
	 */
	if (send(fd, &hello, sizeof(hello), MSG_NOSIGNAL) != (ssize_t)sizeof(hello))
		send_errno = errno;
	do {
		rc = poll(&pfd, 1, NDK_LIB_OPEN_TIMEOUT_MS);
	} while (rc < 0 && errno == EINTR);
	if (rc == 0) {
		set_err(opts, "ndkd did not answer the hello within %d ms",
			NDK_LIB_OPEN_TIMEOUT_MS);
		return NDK_STATUS_IO_TIMEOUT;
	}
	n = recv_with_fd(fd, reply, sizeof(*reply), memfd, &flags);
	if (n <= 0) {
		if (send_errno != 0)
			set_err(opts, "send hello: %s", strerror(send_errno));
		else
			set_err(opts, "ndkd closed the connection during attach");
		return NDK_STATUS_CONNECTION_DISCONNECTED;
	}
	if (n != (ssize_t)sizeof(*reply) || reply->magic != NDK_ABI_MAGIC ||
	    (flags & (MSG_TRUNC | MSG_CTRUNC)) != 0) {
		set_err(opts, "malformed hello reply from ndkd (%zd bytes)", n);
		goto bad;
	}
	reply->message[sizeof(reply->message) - 1] = '\0';
	if (reply->status != NDK_STATUS_SUCCESS) {
		set_err(opts, "ndkd refused attach: %s (%s)", reply->message,
			ndk_status_str(reply->status));
		if (*memfd >= 0)
			close(*memfd);
		return reply->status;
	}
	if (reply->abi_version != NDK_ABI_VERSION || *memfd < 0) {
		set_err(opts, "ndkd speaks ABI %u, this library %u", reply->abi_version,
			NDK_ABI_VERSION);
		if (*memfd >= 0)
			close(*memfd);
		return NDK_STATUS_REVISION_MISMATCH;
	}
	return NDK_STATUS_SUCCESS;
bad:
	if (*memfd >= 0)
		close(*memfd);
	return NDK_STATUS_REVISION_MISMATCH;
}

/* The daemon built the region, but a region that lies about itself must not crash us. */
static ndk_status sock_request(struct adapter *ad, uint32_t op, int fd, uint64_t addr,
			       uint64_t size, uint32_t *id, int *got);

static bool
region_valid(const struct ndk_abi_region *h, uint64_t size)
{
	return h->magic == NDK_ABI_REGION_MAGIC && h->abi_version == NDK_ABI_VERSION &&
	       h->region_size == size && h->header_size == sizeof(*h) &&
	       ndk_ring_desc_valid(&h->ctrl_sq, size) && ndk_ring_desc_valid(&h->ctrl_cq, size);
}

ndk_status
attach_channel(const char *socket_path, const struct ndk_adapter_opts *opts, struct adapter *ad)
{
	struct ndk_abi_hello_reply reply;
	struct stat stbuf;
	ndk_status st;
	int memfd = -1;
	void *region;

	st = connect_daemon(socket_path, opts, &ad->sock);
	if (st != NDK_STATUS_SUCCESS)
		return st;
	st = exchange_hello(ad->sock, opts, &reply, &memfd);
	if (st != NDK_STATUS_SUCCESS)
		goto err_sock;
	if (fstat(memfd, &stbuf) != 0 || reply.region_size < sizeof(struct ndk_abi_region) ||
	    (uint64_t)stbuf.st_size != reply.region_size) {
		set_err(opts, "channel region size mismatch");
		st = NDK_STATUS_REVISION_MISMATCH;
		goto err_fd;
	}
	region = mmap(NULL, reply.region_size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (region == MAP_FAILED) {
		set_err(opts, "mmap channel: %s", strerror(errno));
		st = NDK_STATUS_INSUFFICIENT_RESOURCES;
		goto err_fd;
	}
	close(memfd);
	if (!region_valid(region, reply.region_size)) {
		set_err(opts, "channel region header is not ABI %u", NDK_ABI_VERSION);
		munmap(region, reply.region_size);
		st = NDK_STATUS_REVISION_MISMATCH;
		goto err_sock;
	}
	ad->region = region;
	ad->region_size = reply.region_size;
	ad->hdr = region;
	ad->client_id = reply.client_id;
	ad->info = ad->hdr->info;
	ad->kengine = (const _Atomic uint32_t *)&ad->hdr->kengine;
	ndk_ring_attach_ctrl(&ad->sq, &ad->cq, region, ad->hdr);
	/* without one ndkd's engine still wakes now and then: slower, never stuck */
	if (sock_request(ad, NDK_ABI_SOCK_DOORBELL, -1, 0, 0, NULL, &ad->bell_fd) !=
	    NDK_STATUS_SUCCESS)
		ad->bell_fd = -1;
	return NDK_STATUS_SUCCESS;

err_fd:
	close(memfd);
err_sock:
	close(ad->sock);
	ad->sock = -1;
	return st;
}

void
bell_send(struct adapter *ad)
{
	const char one = 1;

	/* full: a ring is already pending; gone: nobody to wake */
	if (ad->bell_fd >= 0 && send(ad->bell_fd, &one, 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
	}
}

void
detach_channel(struct adapter *ad)
{
	if (ad->bell_fd >= 0)
		close(ad->bell_fd);
	ad->bell_fd = -1;
	if (ad->region != NULL)
		munmap(ad->region, ad->region_size);
	ad->region = NULL;
	if (ad->sock >= 0)
		close(ad->sock);
	ad->sock = -1;
}

/* A syscall: call it off the fast path only. */
bool
channel_hung_up(const struct adapter *ad)
{
	struct pollfd pfd = { .fd = ad->sock, .events = POLLIN | POLLRDHUP };
	char byte;

	if (poll(&pfd, 1, 0) <= 0)
		return false;
	if (pfd.revents & (POLLHUP | POLLRDHUP | POLLERR | POLLNVAL))
		return true;
	/* The daemon sends nothing after attach; a readable socket with no data is EOF. */
	return recv(ad->sock, &byte, 1, MSG_DONTWAIT | MSG_PEEK) == 0;
}

/*
 * One socket request carrying fd (if >= 0), and its reply, with the fd that
 * comes with it in *got (if got; else closed). The slow path, bounded.
 */
static ndk_status
sock_request(struct adapter *ad, uint32_t op, int fd, uint64_t addr, uint64_t size, uint32_t *id,
	     int *got)
{
	struct ndk_abi_sock_req q = {
		.magic = NDK_ABI_MAGIC,
		.op = op,
		.size = size,
		.client_addr = addr,
	};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = &q, .iov_len = sizeof(q) };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = ctl.buf,
		.msg_controllen = sizeof(ctl.buf),
	};
	struct ndk_abi_sock_reply r;
	struct pollfd pfd = { .fd = ad->sock, .events = POLLIN };
	struct cmsghdr *cm;
	ssize_t n;
	int in, flags;

	if (ad->gone)
		return NDK_STATUS_DEVICE_REMOVED;
	memset(&ctl, 0, sizeof(ctl));
	if (fd >= 0) {
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	} else {
		msg.msg_control = NULL;
		msg.msg_controllen = 0;
	}
	if (sendmsg(ad->sock, &msg, MSG_NOSIGNAL) != (ssize_t)sizeof(q))
		return NDK_STATUS_DEVICE_REMOVED;
	if (poll(&pfd, 1, NDK_LIB_OPEN_TIMEOUT_MS) != 1)
		return NDK_STATUS_IO_TIMEOUT;
	n = recv_with_fd(ad->sock, &r, sizeof(r), &in, &flags);
	if (n != (ssize_t)sizeof(r) || r.magic != NDK_ABI_MAGIC || r.op != q.op) {
		if (in >= 0)
			close(in);
		return NDK_STATUS_DEVICE_REMOVED;
	}
	if (id != NULL)
		*id = r.region_id;
	if (got != NULL && r.status == NDK_STATUS_SUCCESS)
		*got = in;
	else if (in >= 0)
		close(in);
	return r.status;
}

ndk_status
channel_add_region(struct adapter *ad, int fd, uint64_t addr, uint64_t size, uint32_t *id)
{
	return sock_request(ad, NDK_ABI_SOCK_ADD_REGION, fd, addr, size, id, NULL);
}

ndk_status
channel_wake_fd(struct adapter *ad, int *fd)
{
	*fd = -1;
	return sock_request(ad, NDK_ABI_SOCK_WAKE_FD, -1, 0, 0, NULL, fd);
}

/*
 * What an app blocks on: an epoll fd over the wake socket ndkd sends on for
 * armed CQs and SRQs, over an eventfd of our own for notifications owed
 * that ndkd will not kick for (a CQ armed with results already in it), and
 * over the channel socket, whose hang-up makes it readable when ndkd dies.
 */
static int
wait_fd_create(struct adapter *ad, int efd, int ofd)
{
	struct epoll_event kick = { .events = EPOLLIN, .data.fd = efd };
	struct epoll_event owed = { .events = EPOLLIN, .data.fd = ofd };
	struct epoll_event gone = { .events = EPOLLRDHUP, .data.fd = ad->sock };
	int fd = epoll_create1(EPOLL_CLOEXEC);

	if (fd < 0)
		return -1;
	if (epoll_ctl(fd, EPOLL_CTL_ADD, efd, &kick) != 0 ||
	    epoll_ctl(fd, EPOLL_CTL_ADD, ofd, &owed) != 0 ||
	    epoll_ctl(fd, EPOLL_CTL_ADD, ad->sock, &gone) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int
ndk_adapter_event_fd(struct ndk_adapter *a)
{
	struct adapter *ad = to_adapter(a);
	int efd, ofd, wfd;

	pthread_mutex_lock(&ad->mem_lock);
	if (ad->wait_fd < 0 && channel_wake_fd(ad, &efd) == NDK_STATUS_SUCCESS && efd >= 0) {
		ofd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		wfd = ofd >= 0 ? wait_fd_create(ad, efd, ofd) : -1;
		if (wfd >= 0) {
			ad->event_fd = efd;
			ad->owed_fd = ofd;
			ad->wait_fd = wfd;
		} else {
			close(efd);
			if (ofd >= 0)
				close(ofd);
		}
	}
	wfd = ad->wait_fd;
	pthread_mutex_unlock(&ad->mem_lock);
	return wfd;
}

bool
channel_wait_events(struct adapter *ad, bool *hung_up)
{
	struct epoll_event ev[3];
	bool kicked = false;
	char buf[64];
	int n, i;

	n = epoll_wait(ad->wait_fd, ev, 3, 0);
	for (i = 0; i < n; i++) {
		if (ev[i].data.fd == ad->event_fd) {
			kicked = true;
			/* drain it; which CQ or SRQ fired is in the flags */
			while (recv(ad->event_fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
				;
		} else if (ev[i].data.fd == ad->owed_fd) {
			eventfd_t v;

			kicked = true;
			(void)eventfd_read(ad->owed_fd, &v);
		} else {
			*hung_up = true;
		}
	}
	return kicked;
}
