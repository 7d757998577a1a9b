/* SPDX-License-Identifier: BSD-3-Clause */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "provider.h"
#include "closer.h"
#include "quota.h"
#include "server.h"

/* epoll tags for the fds that are not clients */
static char tag_listen, tag_signal, tag_engines;

static int
mkdir_parents(const char *path)
{
	char buf[108];
	char *p;

	snprintf(buf, sizeof(buf), "%s", path);
	p = strrchr(buf, '/');
	if (p == NULL || p == buf)
		return 0;
	*p = '\0';
	for (p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) != 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0755) != 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/*
 * A socket file left by a daemon that died is removed; one that still
 * answers belongs to a running daemon, and we refuse to steal it.
 */
static int
claim_socket_path(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	int rc;

	if (fd < 0)
		return -errno;
	rc = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	close(fd);
	if (rc == 0) {
		NDKD_LOG(ERR, main, "another ndkd is already listening on %s", sa->sun_path);
		return -EADDRINUSE;
	}
	if (errno == ECONNREFUSED)
		unlink(sa->sun_path);
	return 0;
}

static int
listen_socket(struct server *s)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int rc;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", s->o->socket_path);
	rc = mkdir_parents(sa.sun_path);
	if (rc != 0) {
		NDKD_LOG(ERR, main, "cannot create the directory of %s: %s", sa.sun_path,
			 strerror(-rc));
		return rc;
	}
	rc = claim_socket_path(&sa);
	if (rc != 0)
		return rc;
	s->lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s->lfd < 0)
		return -errno;
	if (bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    chmod(sa.sun_path, s->o->socket_mode) != 0 || listen(s->lfd, SOMAXCONN) != 0) {
		rc = -errno;
		NDKD_LOG(ERR, main, "cannot listen on %s: %s", sa.sun_path, strerror(-rc));
		close(s->lfd);
		s->lfd = -1;
		return rc;
	}
	return 0;
}

static int
epoll_add(struct server *s, int fd, uint32_t events, void *tag)
{
	struct epoll_event ev = { .events = events, .data.ptr = tag };

	return epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev);
}

int
server_init(struct server *s, const struct ndkd_opts *o, struct engine_set *eng)
{
	sigset_t set;
	int rc;

	memset(s, 0, sizeof(*s));
	s->o = o;
	s->eng = eng;
	s->lfd = -1;
	s->sigfd = -1;
	s->epfd = -1;
	s->next_id = 1;
	s->start_ns = ndkd_now_ns();
	s->rl.burst = 10;
	pthread_mutex_init(&s->lock, NULL);
	s->engine_load = calloc(eng->n, sizeof(*s->engine_load));
	if (s->engine_load == NULL)
		return -ENOMEM;
	rc = closer_start(&s->closer);
	if (rc != 0)
		return rc;
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->epfd < 0)
		return -errno;

	/* main() blocked these before EAL started its threads; read them here. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	s->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (s->sigfd < 0)
		return -errno;
	rc = listen_socket(s);
	if (rc != 0)
		return rc;
	if (epoll_add(s, s->lfd, EPOLLIN, &tag_listen) != 0 ||
	    epoll_add(s, s->sigfd, EPOLLIN, &tag_signal) != 0 ||
	    epoll_add(s, eng->event_fd, EPOLLIN, &tag_engines) != 0)
		return -errno;
	return 0;
}

/*
 * Close a connection that has not attached, so it reads why: unread
 * messages at close would have the kernel reset it instead. After SHUT_RD
 * nothing more can arrive; what came is drained, its fds to the closer.
 */
static void
hello_let_go(struct server *s, struct client *c)
{
	char buf[sizeof(struct ndk_abi_hello) + 1];

	epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->sock, NULL);
	shutdown(c->sock, SHUT_RD);
	while (server_recv(s, c, buf, sizeof(buf), NULL, NULL) > 0)
		;
	closer_put(&s->closer, c->sock, c->uid);
	c->sock = -1;
}

static void
client_free(struct server *s, struct client *c)
{
	struct client **pp;
	uint32_t i, n;

	pthread_mutex_lock(&s->lock);
	for (pp = &s->clients; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	if (c->state != CLIENT_HELLO) {
		s->n_attached--;
		s->engine_load[c->engine]--;
	} else {
		s->n_hello--;
	}
	/* no engine holds the client now: its objects gave back what they took */
	quota_release(&s->quotas, c->quota);
	c->quota = NULL;
	pthread_mutex_unlock(&s->lock);
	if (c->state != CLIENT_HELLO) {
		/* another engine may have been copying to or from its regions */
		engines_grace_period(s->eng);
		stat_add(&s->clients_cleaned_up, 1);
		NDKD_LOG(INFO, client, "client %u (pid %d) detached and cleaned up", c->id,
			 (int)c->pid);
	}
	/*
	 * Closing the socket is what tells a live client we are done with it.
	 * Messages it left unread may carry fds: released by whoever closes.
	 */
	if (c->state == CLIENT_HELLO) {
		hello_let_go(s, c);
	} else if (c->sock >= 0) {
		epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->sock, NULL);
		closer_put(&s->closer, c->sock, c->uid);
	}
	closer_put(&s->closer, atomic_load(&c->wake_fd), c->uid);
	if (c->state != CLIENT_HELLO)
		engine_doorbell_del(&s->eng->engines[c->engine], atomic_load(&c->doorbell_fd));
	closer_put(&s->closer, atomic_load(&c->doorbell_fd), c->uid);
	n = atomic_load_explicit(&c->n_regions, memory_order_relaxed);
	for (i = 0; i < n; i++)
		s->prov->ops.region_del(s->prov, c, &c->regions[i]);
	channel_destroy(c);
	free(c);
}

ssize_t
server_recv(struct server *s, struct client *c, void *buf, size_t len, int *fd, int *msg_flags)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * NDKD_SCM_MAX_FD)];
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

	if (fd != NULL)
		*fd = -1;
	n = recvmsg(c->sock, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0)
		return n;
	for (cm = CMSG_FIRSTHDR(&msg); cm != NULL; cm = CMSG_NXTHDR(&msg, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		for (size_t k = 0; k < (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int); k++) {
			int f;

			memcpy(&f, CMSG_DATA(cm) + k * sizeof(int), sizeof(int));
			if (fd != NULL && *fd < 0)
				*fd = f;
			else
				closer_put(&s->closer, f, c->uid);
		}
	}
	if (msg_flags != NULL)
		*msg_flags = msg.msg_flags;
	return n;
}

/* False when the client cannot be told (it went, or does not read its socket). */
__attribute__((format(printf, 4, 5))) static bool
send_reply(struct client *c, ndk_status status, int memfd, const char *fmt, ...)
{
	struct ndk_abi_hello_reply r = {
		.magic = NDK_ABI_MAGIC,
		.abi_version = NDK_ABI_VERSION,
		.status = status,
		.client_id = c->id,
		.region_size = c->region_size,
	};
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r.message, sizeof(r.message), fmt, ap);
	va_end(ap);
	return client_send(c, &r, sizeof(r), memfd);
}

static bool
peer_allowed(const struct ndkd_opts *o, uid_t uid, gid_t gid)
{
	unsigned int i;

	for (i = 0; i < o->n_allow_uid; i++) {
		if (o->allow_uid[i] == uid)
			return true;
	}
	for (i = 0; i < o->n_allow_gid; i++) {
		if (o->allow_gid[i] == gid)
			return true;
	}
	return false;
}

/* Refuse politely: the client gets the status and the reason; we log it, rate-limited. */
#define REFUSE(s, c, status, ...)                                                                  \
	do {                                                                                       \
		uint64_t dropped_;                                                                 \
		send_reply(c, status, -1, __VA_ARGS__);                                            \
		stat_add(&(s)->attach_refused, 1);                                                 \
		if (log_ratelimit_ok(&(s)->rl, ndkd_now_ns(), &dropped_))                          \
			NDKD_LOG(WARNING, client,                                                  \
				 "refused attach from pid %d uid %u: %s (%" PRIu64                 \
				 " similar suppressed)",                                           \
				 (int)(c)->pid, (unsigned int)(c)->uid, #status, dropped_);        \
	} while (0)

/*
 * The waiting connection to give up when every place is taken: the oldest
 * of the uid that holds the most. A flood of silent connections from one
 * uid displaces its own; a newcomer from any other uid finds a place.
 */
static struct client *
hello_to_evict(struct server *s)
{
	struct client *pending[NDKD_MAX_PENDING_HELLO], *c, *best = NULL;
	unsigned int n = 0, i, j, best_n = 0;

	for (c = s->clients; c != NULL && n < NDKD_MAX_PENDING_HELLO; c = c->next) {
		if (c->state == CLIENT_HELLO && !c->evicted)
			pending[n++] = c;
	}
	for (i = 0; i < n; i++) {
		struct client *oldest = pending[i];
		unsigned int mine = 0;

		for (j = 0; j < n; j++) {
			if (pending[j]->uid != pending[i]->uid)
				continue;
			mine++;
			if (pending[j]->hello_deadline_ns < oldest->hello_deadline_ns)
				oldest = pending[j];
		}
		if (mine > best_n) {
			best_n = mine;
			best = oldest;
		}
	}
	return best;
}

/*
 * Before a hello: refuse a uid or gid not allowed (it never takes a waiting
 * place), and make room when every place is taken.
 */
static bool
admit(struct server *s, struct client *c)
{
	struct client *old;

	if (!peer_allowed(s->o, c->uid, c->gid)) {
		REFUSE(s, c, NDK_STATUS_ACCESS_DENIED,
		       "uid %u gid %u is not allowed to attach to this ndkd", (unsigned int)c->uid,
		       (unsigned int)c->gid);
		return false;
	}
	if (s->n_hello >= NDKD_MAX_PENDING_HELLO) {
		old = hello_to_evict(s);
		if (old == NULL)
			return false;
		REFUSE(s, old, NDK_STATUS_INSUFFICIENT_RESOURCES,
		       "%u connections wait for their hello, most of them from uid %u: the "
		       "oldest gives way",
		       s->n_hello, (unsigned int)old->uid);
		/*
		 * Freed at the end of this poll (expire_hellos), not now: its own
		 * event may still be in the batch being handled.
		 */
		old->evicted = true;
		old->hello_deadline_ns = 0;
	}
	return true;
}

/*
 * At most NDKD_ACCEPT_BATCH per call: a peer that reconnects as fast as it
 * is refused would otherwise keep this loop from ever reaching the hellos
 * waiting in epoll (the listening socket stays ready; the next call goes on).
 */
static void
accept_clients(struct server *s)
{
	for (unsigned int k = 0; k < NDKD_ACCEPT_BATCH; k++) {
		struct client *c;
		struct ucred cred;
		socklen_t len = sizeof(cred);
		int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR)
				NDKD_LOG(ERR, main, "accept: %s", strerror(errno));
			return;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
			closer_put(&s->closer, fd, (uid_t)-1);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (c == NULL) {
			closer_put(&s->closer, fd, cred.uid);
			continue;
		}
		c->sock = fd;
		c->pid = cred.pid;
		c->uid = cred.uid;
		c->gid = cred.gid;
		if (!admit(s, c)) {
			hello_let_go(s, c);
			free(c);
			continue;
		}
		c->memfd = -1;
		atomic_init(&c->wake_fd, -1);
		atomic_init(&c->doorbell_fd, -1);
		c->state = CLIENT_HELLO;
		c->hello_deadline_ns = ndkd_now_ns() + NDKD_HELLO_TIMEOUT_MS * 1000000ull;
		if (epoll_add(s, fd, EPOLLIN | EPOLLRDHUP, c) != 0) {
			closer_put(&s->closer, fd, cred.uid);
			free(c);
			continue;
		}
		pthread_mutex_lock(&s->lock);
		c->next = s->clients;
		s->clients = c;
		s->n_hello++;
		pthread_mutex_unlock(&s->lock);
	}
}

static unsigned int
pick_engine(const struct server *s)
{
	unsigned int i, best = 0;

	for (i = 1; i < s->eng->n; i++) {
		if (s->engine_load[i] < s->engine_load[best])
			best = i;
	}
	return best;
}

ndk_status
hello_decode(const void *buf, size_t n, struct ndk_abi_hello *h, char *why, size_t why_len)
{
	size_t i;

	if (n != sizeof(*h)) {
		snprintf(why, why_len, "hello is %zu bytes, got %zu: not an ndk client", sizeof(*h),
			 n);
		return NDK_STATUS_INVALID_PARAMETER;
	}
	memcpy(h, buf, sizeof(*h));
	if (h->magic != NDK_ABI_MAGIC) {
		snprintf(why, why_len, "bad hello magic 0x%08x: not an ndk client", h->magic);
		return NDK_STATUS_INVALID_PARAMETER;
	}
	if (h->abi_version != NDK_ABI_VERSION) {
		snprintf(why, why_len, "client speaks ABI %u, ndkd speaks ABI %u", h->abi_version,
			 NDK_ABI_VERSION);
		return NDK_STATUS_REVISION_MISMATCH;
	}
	if (h->flags != 0 || h->reserved != 0) {
		snprintf(why, why_len, "unknown hello flags 0x%x", h->flags);
		return NDK_STATUS_INVALID_PARAMETER;
	}
	/*
	 * The name ends up in log lines (a newline would let a client forge
	 * one) and in telemetry: keep printable ASCII without quotes or
	 * backslashes, '?' for the rest, and always a terminating NUL.
	 */
	h->name[sizeof(h->name) - 1] = '\0';
	for (i = 0; i < sizeof(h->name) && h->name[i] != '\0'; i++) {
		unsigned char ch = (unsigned char)h->name[i];

		if (ch < 0x20 || ch > 0x7e || ch == '"' || ch == '\\')
			h->name[i] = '?';
	}
	return NDK_STATUS_SUCCESS;
}

/* Returns false when the connection is to be dropped. */
static bool
handle_hello(struct server *s, struct client *c)
{
	struct ndk_abi_hello h;
	struct uid_quota *q;
	char buf[sizeof(h) + 1], why[128];
	ndk_status st;
	ssize_t n;
	bool sent;
	int rc;

	n = server_recv(s, c, buf, sizeof(buf), NULL, NULL);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return true;
	if (n <= 0)
		return false;

	st = hello_decode(buf, (size_t)n, &h, why, sizeof(why));
	if (st != NDK_STATUS_SUCCESS) {
		REFUSE(s, c, st, "%s", why);
		return false;
	}
	if (s->n_attached >= s->o->max_clients) {
		REFUSE(s, c, NDK_STATUS_INSUFFICIENT_RESOURCES,
		       "ndkd already serves its limit of %u clients", s->o->max_clients);
		return false;
	}
	pthread_mutex_lock(&s->lock);
	q = quota_get(&s->quotas, c->uid);
	if (q != NULL && q->clients < s->o->lim.uid_clients) {
		q->clients++;
		c->quota = q;
	}
	pthread_mutex_unlock(&s->lock);
	if (c->quota == NULL) {
		REFUSE(s, c, NDK_STATUS_INSUFFICIENT_RESOURCES,
		       "uid %u already has its limit of %u clients attached", (unsigned int)c->uid,
		       s->o->lim.uid_clients);
		return false;
	}
	memcpy(c->name, h.name, sizeof(c->name));
	c->id = s->next_id++;
	if (s->next_id == 0)
		s->next_id = 1;
	c->engine = pick_engine(s);
	rc = channel_create(c, s->o->ctrl_ring_entries, &s->info);
	if (rc != 0) {
		REFUSE(s, c, NDK_STATUS_INSUFFICIENT_RESOURCES, "cannot create channel: %s",
		       strerror(-rc));
		return false;
	}
	sent = send_reply(c, NDK_STATUS_SUCCESS, c->memfd, "attached as client %u", c->id);
	/* The mapping stays; the fd is the client's now. */
	close(c->memfd);
	c->memfd = -1;
	if (!sent)
		return false;

	pthread_mutex_lock(&s->lock);
	c->state = CLIENT_ACTIVE;
	s->n_hello--;
	s->n_attached++;
	s->engine_load[c->engine]++;
	pthread_mutex_unlock(&s->lock);
	stat_add(&s->clients_total, 1);
	engine_send(&s->eng->engines[c->engine], MSG_ADD, c);
	NDKD_LOG(INFO, client, "client %u attached: pid %d uid %u name '%s' engine %u", c->id,
		 (int)c->pid, (unsigned int)c->uid, c->name, c->engine);
	return true;
}

static void
client_event(struct server *s, struct client *c, uint32_t events)
{
	switch (c->state) {
	case CLIENT_HELLO:
		if (c->evicted)
			return;
		if (!handle_hello(s, c))
			client_free(s, c);
		return;
	case CLIENT_ACTIVE:
		/*
		 * After attach a client only hands over region fds. Hang-up (or a
		 * reply it will not take) ends it: stop watching the fd and ask its
		 * engine to let go; main frees it on the engine's REMOVED.
		 */
		if (!(events & (EPOLLHUP | EPOLLRDHUP | EPOLLERR)) && sockreq_handle(s, c))
			return;
		epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->sock, NULL);
		/* under the lock: telemetry reads the state (found by ThreadSanitizer) */
		pthread_mutex_lock(&s->lock);
		c->state = CLIENT_REMOVING;
		pthread_mutex_unlock(&s->lock);
		engine_send(&s->eng->engines[c->engine], MSG_REMOVE, c);
		return;
	case CLIENT_REMOVING:
		return;
	}
}

void
server_reap_engine_msgs(struct server *s)
{
	struct engine_msg msgs[32];
	unsigned int i, n;

	while ((n = engines_collect(s->eng, msgs, RTE_DIM(msgs))) != 0) {
		for (i = 0; i < n; i++) {
			struct client *c = msgs[i].client;

			switch (msgs[i].type) {
			case MSG_REMOVED:
				client_free(s, c);
				break;
			case MSG_BROKEN:
				/* Engine already let go. If main asked too, REMOVED follows. */
				if (c->state == CLIENT_ACTIVE) {
					epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->sock, NULL);
					client_free(s, c);
				}
				break;
			default:
				break;
			}
		}
	}
}

static void
expire_hellos(struct server *s)
{
	uint64_t now = ndkd_now_ns();
	struct client *c, *next;

	for (c = s->clients; c != NULL; c = next) {
		next = c->next;
		if (c->state == CLIENT_HELLO && now > c->hello_deadline_ns)
			client_free(s, c);
	}
}

bool
server_poll(struct server *s, int timeout_ms)
{
	struct epoll_event evs[32];
	bool stop = false, engines_spoke = false;
	int i, n;

	n = epoll_wait(s->epfd, evs, RTE_DIM(evs), timeout_ms);
	for (i = 0; i < n; i++) {
		void *tag = evs[i].data.ptr;

		if (tag == &tag_listen) {
			accept_clients(s);
		} else if (tag == &tag_engines) {
			engines_spoke = true;
		} else if (tag == &tag_signal) {
			struct signalfd_siginfo si;

			while (read(s->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				NDKD_LOG(NOTICE, main, "signal %u: shutting down", si.ssi_signo);
				stop = true;
			}
		} else {
			client_event(s, tag, evs[i].events);
		}
	}
	/* Last: it may free a client whose event is still in this batch. */
	if (engines_spoke)
		server_reap_engine_msgs(s);
	expire_hellos(s);
	return stop;
}

void
server_stop_listening(struct server *s)
{
	if (s->lfd >= 0) {
		epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->lfd, NULL);
		close(s->lfd);
		s->lfd = -1;
		unlink(s->o->socket_path);
	}
}

/* Every attached client learns, through its region, that no more requests will be served. */
void
server_announce_shutdown(struct server *s)
{
	struct client *c;

	for (c = s->clients; c != NULL; c = c->next) {
		if (c->state != CLIENT_HELLO)
			channel_set_state(c, NDK_ABI_STATE_SHUTDOWN);
	}
}

/* After the engines have stopped: nothing references a client any more. */
void
server_fini(struct server *s)
{
	server_reap_engine_msgs(s);
	pthread_mutex_lock(&s->lock);
	s->closing = true;
	pthread_mutex_unlock(&s->lock);
	while (s->clients != NULL)
		client_free(s, s->clients);
	closer_stop(&s->closer, 1000);
	if (s->sigfd >= 0)
		close(s->sigfd);
	if (s->epfd >= 0)
		close(s->epfd);
	server_stop_listening(s);
	free(s->engine_load);
	pthread_mutex_destroy(&s->lock);
}
