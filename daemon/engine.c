/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_lcore.h>
#include <rte_pause.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include <ndk/internal/abi.h>

#include "access.h"
#include "conn.h"
#include "engine.h"
#include "provider.h"
#include "qpt.h"
#include "wq.h"

_Static_assert(sizeof(struct engine_msg) == 16, "engine_msg is a 16-byte ring element");

static int engine_bell_init(struct engine *e);

int
engines_create(struct engine_set *set, unsigned int n, unsigned int max_clients, struct mrt *mrt,
	       struct qpt *qpt, struct listen_table *listen, const struct ndkd_limits *lim,
	       struct provider *prov)
{
	char name[RTE_RING_NAMESIZE];
	unsigned int i, ring_size;

	memset(set, 0, sizeof(*set));
	set->event_fd = -1;
	/* Room for an ADD and a REMOVE per client plus STOP: sends never fail. */
	ring_size = rte_align32pow2(2 * max_clients + 8);
	set->engines = calloc(n, sizeof(*set->engines));
	set->conn_inbox = calloc(n, sizeof(*set->conn_inbox));
	if (set->engines == NULL || set->conn_inbox == NULL) {
		free(set->engines);
		free(set->conn_inbox);
		return -ENOMEM;
	}
	set->n = n;
	set->prov = prov;
	if (posix_memalign((void **)&set->bells, RTE_CACHE_LINE_SIZE, n * sizeof(*set->bells)) !=
	    0) {
		free(set->engines);
		free(set->conn_inbox);
		set->engines = NULL;
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		atomic_init(&set->bells[i].asleep, 0);
		set->bells[i].efd = -1;
		set->engines[i].epfd = -1;
	}
	set->outbox =
		rte_ring_create_elem("ndkd_outbox", sizeof(struct engine_msg),
				     rte_align32pow2(n * ring_size), SOCKET_ID_ANY, RING_F_SC_DEQ);
	if (set->outbox == NULL)
		goto err;
	set->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (set->event_fd < 0)
		goto err;
	if (posix_memalign((void **)&set->rcu, RTE_CACHE_LINE_SIZE, rte_rcu_qsbr_get_memsize(n)) !=
		    0 ||
	    rte_rcu_qsbr_init(set->rcu, n) != 0)
		goto err;
	for (i = 0; i < n; i++) {
		struct engine *e = &set->engines[i];

		e->id = i;
		e->set = set;
		e->max_clients = max_clients;
		e->rl.burst = 10;
		e->x.mrt = mrt;
		e->x.cache = &e->mr_cache;
		e->x.lim = lim;
		e->x.qpt = qpt;
		e->x.engine = i;
		e->x.listen = listen;
		e->x.conn_inbox = set->conn_inbox;
		e->x.bells = set->bells;
		e->x.prov = prov;
		if (engine_bell_init(e) != 0)
			goto err;
		snprintf(name, sizeof(name), "ndkd_conn%u", i);
		set->conn_inbox[i] = rte_ring_create_elem(name, sizeof(void *),
							  rte_align32pow2(qpt->n_entries + 1),
							  SOCKET_ID_ANY, RING_F_SC_DEQ);
		if (set->conn_inbox[i] == NULL || access_scratch_init(&e->x) != 0 ||
		    prov->ops.engine_init(prov, &e->x) != 0)
			goto err;
		e->clients = calloc(max_clients, sizeof(*e->clients));
		snprintf(name, sizeof(name), "ndkd_eng%u", i);
		e->inbox = rte_ring_create_elem(name, sizeof(struct engine_msg), ring_size,
						SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (e->clients == NULL || e->inbox == NULL)
			goto err;
	}
	return 0;
err:
	engines_destroy(set);
	return -ENOMEM;
}

void
engines_destroy(struct engine_set *set)
{
	unsigned int i;

	for (i = 0; set->engines != NULL && i < set->n; i++) {
		struct engine *e = &set->engines[i];

		if (e->x.mrt != NULL)
			mrt_cache_flush(e->x.mrt, &e->mr_cache);
		/* engines have stopped: what a provider still holds for one is its own */
		if (e->x.prov != NULL)
			e->x.prov->ops.engine_fini(e->x.prov, &e->x);
		rte_ring_free(e->inbox);
		free(e->clients);
		if (e->epfd >= 0)
			close(e->epfd);
		if (set->bells[i].efd >= 0)
			close(set->bells[i].efd);
		access_scratch_fini(&e->x);
		while (e->x.conn_defer != NULL) {
			struct conn_msg *m = e->x.conn_defer;

			e->x.conn_defer = m->next;
			free(m);
		}
	}
	for (i = 0; set->conn_inbox != NULL && i < set->n; i++) {
		struct conn_msg *m;

		while (set->conn_inbox[i] != NULL &&
		       rte_ring_dequeue_elem(set->conn_inbox[i], &m, sizeof(m)) == 0)
			free(m);
		rte_ring_free(set->conn_inbox[i]);
	}
	free(set->conn_inbox);
	set->conn_inbox = NULL;
	free(set->engines);
	set->engines = NULL;
	rte_ring_free(set->outbox);
	set->outbox = NULL;
	free(set->rcu);
	set->rcu = NULL;
	free(set->bells);
	set->bells = NULL;
	if (set->event_fd >= 0)
		close(set->event_fd);
	set->event_fd = -1;
}

/* Its epoll set, with its bell in it (data UINT64_MAX; a client's doorbell: its id). */
static int
engine_bell_init(struct engine *e)
{
	struct engine_bell *b = &e->set->bells[e->id];
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = UINT64_MAX };

	e->epfd = epoll_create1(EPOLL_CLOEXEC);
	b->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (e->epfd < 0 || b->efd < 0 || epoll_ctl(e->epfd, EPOLL_CTL_ADD, b->efd, &ev) != 0)
		return -1;
	e->sleep_ms = 50;
	return 0;
}

void
engines_set_polling(struct engine_set *set, bool adaptive, uint32_t idle_us, uint32_t sleep_ms)
{
	unsigned int i;

	for (i = 0; i < set->n; i++) {
		set->engines[i].adaptive = adaptive;
		/* in TSC cycles: an idle pass reads the TSC, not the clock (a vDSO call) */
		set->engines[i].idle_tsc = (uint64_t)idle_us * rte_get_tsc_hz() / 1000000u;
		set->engines[i].sleep_ms = (int)sleep_ms;
	}
}

int
engine_doorbell_add(struct engine *e, const struct client *c, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = c->id };

	return epoll_ctl(e->epfd, EPOLL_CTL_ADD, fd, &ev);
}

void
engine_doorbell_del(struct engine *e, int fd)
{
	if (fd >= 0)
		epoll_ctl(e->epfd, EPOLL_CTL_DEL, fd, NULL);
}

/*
 * The waker's half of the sleep protocol (models/doorbell.pml): its work is
 * published, then the fence, then it reads 'asleep'. The engine stores
 * 'asleep', fences, then looks for work once more before it sleeps: one of
 * the two sees the other's store.
 */
void
engine_bell_ring(struct engine_bell *b)
{
	uint64_t one = 1;

	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&b->asleep, memory_order_relaxed) != 0 &&
	    write(b->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		NDKD_LOG(ERR, engine, "bell: eventfd write: %s", strerror(errno));
}

int
engine_send(struct engine *e, uint32_t type, struct client *c)
{
	struct engine_msg m = { .type = type, .engine = e->id, .client = c };
	int rc = rte_ring_enqueue_elem(e->inbox, &m, sizeof(m));

	if (rc == 0)
		engine_bell_ring(&e->set->bells[e->id]);
	return rc;
}

static void
reply(struct engine *e, uint32_t type, struct client *c)
{
	struct engine_msg m = { .type = type, .engine = e->id, .client = c };
	uint64_t one = 1;

	/* Sized for every client twice over, so this cannot fail; spin if it ever does. */
	while (rte_ring_enqueue_elem(e->set->outbox, &m, sizeof(m)) != 0)
		rte_pause();
	/* Slow path only (attach, detach, stop): a syscall is fine here. */
	if (write(e->set->event_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		NDKD_LOG(ERR, engine, "engine %u: eventfd write: %s", e->id, strerror(errno));
}

unsigned int
engines_collect(struct engine_set *set, struct engine_msg *msgs, unsigned int max)
{
	uint64_t v;

	if (read(set->event_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		NDKD_LOG(ERR, main, "eventfd read: %s", strerror(errno));
	return rte_ring_dequeue_burst_elem(set->outbox, msgs, sizeof(*msgs), max, NULL);
}

static void
drop_client(struct engine *e, unsigned int i)
{
	e->clients[i] = e->clients[--e->n_clients];
	e->clients[e->n_clients] = NULL;
}

/* A client's copy of its engine's state (kengine): ASLEEP, POLLS or 0. */
static void
set_kengine(struct client *c, uint32_t v)
{
	struct ndk_abi_region *h = c->region;

	atomic_store_explicit((_Atomic uint32_t *)&h->kengine, v, memory_order_relaxed);
}

static void
handle_msg(struct engine *e, const struct engine_msg *m)
{
	unsigned int i;

	switch (m->type) {
	case MSG_ADD:
		if (e->n_clients < e->max_clients) {
			e->clients[e->n_clients++] = m->client;
			if (!e->adaptive)
				set_kengine(m->client, NDK_ABI_ENGINE_POLLS);
			break;
		}
		/* main never sends more than max_clients; refuse rather than overrun */
		reply(e, MSG_BROKEN, m->client);
		break;
	case MSG_REMOVE:
		for (i = 0; i < e->n_clients; i++) {
			if (e->clients[i] == m->client) {
				drop_client(e, i);
				break;
			}
		}
		/* Before main frees the client: every token it had dies here. */
		ctrl_release_all(m->client, &e->x);
		/* Acked even when BROKEN already dropped it: main frees on this ack. */
		reply(e, MSG_REMOVED, m->client);
		break;
	case MSG_STOP:
		/*
		 * Shutdown: main has already told every client (kstate SHUTDOWN).
		 * Answer whatever is still queued with DEVICE_REMOVED, so no request
		 * is silently dropped, then stop polling.
		 */
		for (i = 0; i < e->n_clients; i++) {
			uint64_t bad = 0;

			ctrl_serve(e->clients[i], &e->x, UINT32_MAX, true, &bad);
			ctrl_release_all(e->clients[i], &e->x);
		}
		e->stopped = true;
		reply(e, MSG_STOPPED, NULL);
		break;
	default:
		NDKD_LOG(ERR, engine, "engine %u: unknown message %u", e->id, m->type);
		break;
	}
}

unsigned int
engine_poll_once(struct engine *e)
{
	struct engine_msg msgs[8];
	unsigned int i, k, n, first, served = 0, reqs = 0;
	bool busy = false;
	uint64_t bad = 0, dropped;

	n = rte_ring_dequeue_burst_elem(e->inbox, msgs, sizeof(msgs[0]), RTE_DIM(msgs), NULL);
	for (i = 0; i < n; i++)
		handle_msg(e, &msgs[i]);
	if (e->stopped)
		return 0;
	served = n; /* from here on: what this pass did, so an idle spell can be told */
	/* the provider's inboxes, packets, completions and timers */
	served += e->x.prov->ops.poll(&e->x, NDKD_ENGINE_BATCH);
	{
		struct conn_msg *conns[8];

		if (e->x.conn_defer != NULL) /* rare: not a call every pass */
			conn_send_deferred(&e->x);
		n = rte_ring_dequeue_burst_elem(e->set->conn_inbox[e->id], conns, sizeof(conns[0]),
						RTE_DIM(conns), NULL);
		for (i = 0; i < n; i++)
			conn_handle(&e->x, e->clients, e->n_clients, conns[i]);
		served += n;
	}

	/* Clients take turns in a rotating order: none is always served last. */
	n = e->n_clients;
	first = n != 0 ? e->next_client++ % n : 0;
	for (k = 0; k < n; k++) {
		struct client *c = e->clients[(first + k) % n];

		reqs += ctrl_serve(c, &e->x, NDKD_ENGINE_BATCH, false, &bad);
		if (!c->broken)
			reqs += wq_serve(c, &e->x, NDKD_ENGINE_BATCH, &busy);
	}
	served += reqs + (busy ? 1 : 0);
	for (i = 0; i < e->n_clients; i++) {
		struct client *c = e->clients[i];

		if (!c->broken)
			continue;
		if (log_ratelimit_ok(&e->rl, ndkd_now_ns(), &dropped))
			NDKD_LOG(WARNING, engine,
				 "engine %u: client %u (pid %d) broke the ring protocol, detached"
				 " (%" PRIu64 " similar messages suppressed)",
				 e->id, c->id, (int)c->pid, dropped);
		stat_add(&e->clients_broken, 1);
		ctrl_release_all(c, &e->x);
		drop_client(e, i--);
		reply(e, MSG_BROKEN, c);
	}
	if (reqs != 0)
		stat_add(&e->requests, reqs);
	if (bad != 0) {
		stat_add(&e->bad_requests, bad);
		if (log_ratelimit_ok(&e->rl, ndkd_now_ns(), &dropped))
			NDKD_LOG(NOTICE, engine,
				 "engine %u: %" PRIu64 " malformed request(s) answered with "
				 "INVALID_PARAMETER (%" PRIu64 " similar messages suppressed)",
				 e->id, bad, dropped);
	}
	stat_add(&e->heartbeat, 1);
	/* Between passes this engine holds no pointer into any client's memory. */
	rte_rcu_qsbr_quiescent(e->set->rcu, e->id);
	return served;
}

void
engine_adopt(struct engine *e)
{
	rte_rcu_qsbr_thread_register(e->set->rcu, e->id);
	rte_rcu_qsbr_thread_online(e->set->rcu, e->id);
}

void
engines_grace_period(struct engine_set *set)
{
	/*
	 * Engines are online while they poll and offline once stopped, so this
	 * waits at most one pass of each (an idle one naps 100 us). In the
	 * one-lcore layout the caller is engine 0 itself, between two passes.
	 */
	rte_rcu_qsbr_synchronize(set->rcu, set->n == 1 && set->engines[0].lcore == rte_lcore_id()
						   ? 0
						   : RTE_QSBR_THRID_INVALID);
}

/*
 * Fault injection for the watchdog and stop-timeout tests: with
 * NDKD_FAULT_ENGINE_STALL_MS=N in ndkd's environment, engine 0 stops making
 * passes N ms after it starts, as a hung engine would. Whoever sets ndkd's
 * environment already controls ndkd; clients cannot reach this.
 */
static uint64_t
fault_stall_at(const struct engine *e)
{
	const char *v = getenv(NDKD_FAULT_STALL_ENV);
	char *end;
	unsigned long ms;

	if (v == NULL || e->id != 0)
		return 0;
	ms = strtoul(v, &end, 10);
	if (*end != '\0' || end == v)
		return 0;
	return ndkd_now_ns() + ms * 1000000ull + 1;
}

/* Every client's copy of this engine's state (kengine): what decides whether it rings. */
static void
mark_clients(struct engine *e, uint32_t v)
{
	unsigned int i;

	for (i = 0; i < e->n_clients; i++)
		set_kengine(e->clients[i], v);
}

/*
 * What woke the engine: its bell's count, or a client's doorbell bytes
 * (found by id among its clients: one it no longer serves is not read).
 * Never waits, whatever the client did with its end; a flood is drained a
 * bounded amount per wake.
 */
static void
drain(struct engine *e, uint64_t id)
{
	char buf[64];
	unsigned int i, k;
	uint64_t v;

	if (id == UINT64_MAX) {
		if (read(e->set->bells[e->id].efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
			NDKD_LOG(ERR, engine, "engine %u: bell read: %s", e->id, strerror(errno));
		return;
	}
	for (i = 0; i < e->n_clients; i++) {
		int fd;

		if (e->clients[i]->id != id)
			continue;
		fd = atomic_load_explicit(&e->clients[i]->doorbell_fd, memory_order_acquire);
		for (k = 0; k < 64 && fd >= 0 && recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0; k++)
			;
		return;
	}
}

/*
 * The engine's half of the sleep protocol (models/doorbell.pml): say
 * 'asleep' (to wakers and to every client), fence, look for work once more,
 * and only then sleep, at most sleep_ms: timers and the watchdog need a
 * pass now and then. Offline for RCU while it sleeps: a grace period does
 * not wait for it.
 */
static void
engine_sleep(struct engine *e)
{
	struct engine_bell *b = &e->set->bells[e->id];
	struct epoll_event ev[16];
	int i, n;

	mark_clients(e, NDK_ABI_ENGINE_ASLEEP);
	atomic_store_explicit(&b->asleep, 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_seq_cst);
	if (engine_poll_once(e) == 0 && !e->stopped) {
		rte_rcu_qsbr_thread_offline(e->set->rcu, e->id);
		n = epoll_wait(e->epfd, ev, RTE_DIM(ev), e->sleep_ms);
		rte_rcu_qsbr_thread_online(e->set->rcu, e->id);
		for (i = 0; i < n; i++)
			drain(e, ev[i].data.u64);
		stat_add(&e->sleeps, 1);
		if (n > 0)
			stat_add(&e->bell_wakeups, 1);
	}
	atomic_store_explicit(&b->asleep, 0, memory_order_relaxed);
	mark_clients(e, 0);
	e->idle_since = 0;
}

int
engine_main(void *arg)
{
	struct engine *e = arg;
	const struct timespec idle = { .tv_nsec = 100 * 1000 };

	uint64_t stall_at = fault_stall_at(e);

	NDKD_LOG(INFO, engine, "engine %u polling on lcore %u (%s)", e->id, rte_lcore_id(),
		 e->adaptive ? "adaptive" : "always");
	engine_adopt(e);
	while (!e->stopped) {
		unsigned int did = engine_poll_once(e);
		uint64_t now;

		if (unlikely(stall_at != 0) && ndkd_now_ns() > stall_at) {
			NDKD_LOG(WARNING, engine, "engine %u: stalling on purpose (%s)", e->id,
				 NDKD_FAULT_STALL_ENV);
			for (;;)
				rte_pause();
		}
		if (e->stopped)
			break;
		if (!e->adaptive) {
			/*
			 * With no client there is nothing to poll for: nap instead of
			 * burning the core. Attach latency absorbs the nap.
			 */
			if (e->n_clients == 0)
				nanosleep(&idle, NULL);
			continue;
		}
		if (did != 0) {
			e->idle_since = 0;
			continue;
		}
		now = rte_get_tsc_cycles();
		if (e->idle_since == 0)
			e->idle_since = now;
		else if (now - e->idle_since >= e->idle_tsc && e->x.prov->ops.can_sleep(&e->x))
			engine_sleep(e);
	}
	rte_rcu_qsbr_thread_offline(e->set->rcu, e->id);
	return 0;
}
