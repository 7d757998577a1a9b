/* SPDX-License-Identifier: BSD-3-Clause */
/* Listener and connector, see conn.h. Every id and handle from a client is checked. */
#include <stdlib.h>
#include <string.h>

#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "conn.h"
#include "engine.h"
#include "provider.h"
#include "qp.h"
#include "qpt.h"
#include "wq.h"
#include "quota.h"

/*
 * To an engine's connection ring. Full (many clients' connects at once, or
 * the engine is this one, behind on its own ring), it waits on this
 * engine's list for the next pass: never a spin, which with one engine
 * would never end.
 */
static void
conn_send(struct ectx *x, uint32_t engine, struct conn_msg *m)
{
	m->to_engine = engine;
	if (x->conn_defer == NULL &&
	    rte_ring_enqueue_elem(x->conn_inbox[engine], &m, sizeof(m)) == 0) {
		engine_bell_ring(&x->bells[engine]);
		return;
	}
	m->next = NULL;
	if (x->conn_defer_tail != NULL)
		x->conn_defer_tail->next = m;
	else
		x->conn_defer = m;
	x->conn_defer_tail = m;
}

void
conn_send_deferred(struct ectx *x)
{
	while (x->conn_defer != NULL) {
		struct conn_msg *m = x->conn_defer;

		if (rte_ring_enqueue_elem(x->conn_inbox[m->to_engine], &m, sizeof(m)) != 0)
			return; /* in order: the rest wait too */
		engine_bell_ring(&x->bells[m->to_engine]);
		x->conn_defer = m->next;
		if (x->conn_defer == NULL)
			x->conn_defer_tail = NULL;
	}
}

/*
 * The client's connection data block at addr, in ndkd's mapping; NULL when
 * it does not lie in one of its regions (which stay mapped while it lives).
 */
static struct ndk_abi_conn *
conn_blk(const struct client *c, uint64_t addr)
{
	const struct region *r;
	uint32_t id;

	r = region_find(c, addr, sizeof(struct ndk_abi_conn), &id);
	return r == NULL ? NULL : (struct ndk_abi_conn *)(r->daemon_base + (addr - r->client_base));
}

/*
 * The app's side of a connection, copied in once (it may write the block
 * at any time) and checked: false for a block outside its regions or more
 * than max_private bytes of private data.
 */
static bool
conn_read(const struct client *c, uint64_t addr, uint32_t max_private, struct ndk_abi_conn *in,
	  struct ndk_abi_conn **blk)
{
	*blk = conn_blk(c, addr);
	if (*blk == NULL)
		return false;
	memcpy(in, *blk, sizeof(*in));
	return in->private_len <= max_private && in->reserved0 == 0 && in->reserved1 == 0;
}

/* The app's ird, ord and private data, for the other side to see. */
static void
conn_take_data(struct ndk_abi_conn *to, const struct ndk_abi_conn *in)
{
	to->ird = in->ird;
	to->ord = in->ord;
	to->private_len = in->private_len;
	memcpy(to->private_data, in->private_data, in->private_len);
}

/* Tell the connecting side no. */
static void
refuse(struct ectx *x, struct conn_msg *m)
{
	if (m->remote_answer != NULL) {
		m->remote_answer(x, NULL, 0, m);
		return;
	}
	m->kind = CONN_REFUSED;
	m->answer.family = NDK_ADDRESS_LOCAL;
	m->answer.port = m->port;
	conn_send(x, m->active_engine, m);
}

static bool
port_uid_ok(const struct ndkd_limits *lim, uid_t uid)
{
	unsigned int i;

	for (i = 0; i < lim->n_port_uid; i++) {
		if (lim->port_uid[i] == uid)
			return true;
	}
	return false;
}

ndk_status
conn_listen(struct client *c, struct ectx *x, uint64_t port, uint64_t out[6])
{
	struct dlistener *l;
	uint32_t h;

	if (port == 0 || port >= NDKD_LISTEN_PORTS)
		return NDK_STATUS_INVALID_PARAMETER;
	/* like IP's ports below 1024: a service there cannot be squatted by a tenant */
	if (port < x->lim->privileged_ports && !port_uid_ok(x->lim, c->uid))
		return NDK_STATUS_ACCESS_DENIED;
	if (c->n_listeners >= NDKD_MAX_LISTENERS_PER_CLIENT ||
	    !quota_take(c, x->lim, QUOTA_LISTENERS, 1))
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	l = calloc(1, sizeof(*l));
	if (l == NULL) {
		quota_put(c, QUOTA_LISTENERS, 1);
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	}
	h = obj_new(c, OBJ_LISTENER, l);
	if (h == 0) {
		free(l);
		quota_put(c, QUOTA_LISTENERS, 1);
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	}
	rte_spinlock_lock(&x->listen->lock);
	if (x->listen->port[port].client_id != 0) {
		rte_spinlock_unlock(&x->listen->lock);
		obj_delete(c, h);
		free(l);
		quota_put(c, QUOTA_LISTENERS, 1);
		return NDK_STATUS_ADDRESS_ALREADY_EXISTS;
	}
	x->listen->port[port].client_id = c->id;
	x->listen->port[port].engine = x->engine;
	x->listen->port[port].handle = h;
	rte_spinlock_unlock(&x->listen->lock);
	l->port = (uint32_t)port;
	c->n_listeners++;
	out[0] = h;
	return NDK_STATUS_SUCCESS;
}

ndk_status
conn_listener_destroy(struct client *c, struct ectx *x, uint32_t handle)
{
	struct obj *o = obj_lookup(c, handle, OBJ_LISTENER);
	struct dlistener *l;

	if (o == NULL)
		return NDK_STATUS_INVALID_HANDLE;
	l = o->ptr;
	rte_spinlock_lock(&x->listen->lock);
	memset(&x->listen->port[l->port], 0, sizeof(x->listen->port[0]));
	rte_spinlock_unlock(&x->listen->lock);
	/* the held GET_CONNECTION ends first; connections not yet handed over are refused */
	if (l->held)
		channel_complete(c, l->held_req, NDK_ABI_OP_GET_CONNECTION, NDK_STATUS_CANCELLED, 0,
				 0);
	while (l->backlog != NULL) {
		struct conn_msg *m = l->backlog;

		l->backlog = m->next;
		refuse(x, m);
	}
	free(l);
	obj_delete(c, handle);
	c->n_listeners--;
	quota_put(c, QUOTA_LISTENERS, 1);
	return NDK_STATUS_SUCCESS;
}

/*
 * m becomes the client's to accept or reject, under an id of its own: a
 * per-client count, so no ndkd address reaches a tenant.
 */
static void
hand_over(struct client *c, struct conn_msg *m)
{
	m->id = ++c->next_conn_id;
	m->next = c->conns;
	c->conns = m;
}

/* Hand m to the listener's app: now, to its held GET_CONNECTION, or later. */
static void
offer(struct ectx *x, struct client *c, struct dlistener *l, struct conn_msg *m)
{
	m->next = NULL;
	if (!l->held && l->n_backlog >= NDKD_LISTEN_BACKLOG) {
		refuse(x, m); /* as a full listen queue does */
		return;
	}
	if (!l->held) {
		l->n_backlog++;
		if (l->backlog_tail != NULL)
			l->backlog_tail->next = m;
		else
			l->backlog = m;
		l->backlog_tail = m;
		return;
	}
	l->held = false;
	hand_over(c, m);
	memcpy(l->held_blk, &m->offer, sizeof(m->offer));
	channel_complete(c, l->held_req, NDK_ABI_OP_GET_CONNECTION, NDK_STATUS_SUCCESS, m->id, 0);
}

ndk_status
conn_get(struct client *c, struct ectx *x, uint32_t handle, uint64_t blk, uint64_t user_data,
	 uint64_t out[6])
{
	struct obj *o = obj_lookup(c, handle, OBJ_LISTENER);
	struct ndk_abi_conn *b = conn_blk(c, blk);
	struct dlistener *l;
	struct conn_msg *m;

	(void)x;
	if (o == NULL)
		return NDK_STATUS_INVALID_HANDLE;
	if (b == NULL)
		return NDK_STATUS_INVALID_PARAMETER;
	l = o->ptr;
	if (l->held)
		return NDK_STATUS_INVALID_DEVICE_STATE; /* one at a time */
	m = l->backlog;
	if (m == NULL) {
		l->held = true;
		l->held_req = user_data;
		l->held_blk = b;
		return NDK_STATUS_PENDING; /* answered when a connection comes */
	}
	l->backlog = m->next;
	if (l->backlog == NULL)
		l->backlog_tail = NULL;
	l->n_backlog--;
	hand_over(c, m);
	memcpy(b, &m->offer, sizeof(m->offer));
	out[0] = m->id;
	return NDK_STATUS_SUCCESS;
}

/* Who listens on port now: its engine and handle; false when nobody does. */
static bool
listener_of(struct ectx *x, uint32_t port, uint32_t *engine, uint32_t *handle)
{
	bool found;

	rte_spinlock_lock(&x->listen->lock);
	found = x->listen->port[port].client_id != 0;
	if (found) {
		*engine = x->listen->port[port].engine;
		*handle = x->listen->port[port].handle;
	}
	rte_spinlock_unlock(&x->listen->lock);
	return found;
}

ndk_status
conn_connect(struct client *c, struct ectx *x, uint32_t qp_handle, uint64_t blk, uint64_t user_data)
{
	struct obj *o = obj_lookup(c, qp_handle, OBJ_QP);
	struct ndk_abi_conn in, *b;
	struct dqp *qp;
	struct conn_msg *m;
	uint32_t engine;
	ndk_status st;

	if (o == NULL)
		return NDK_STATUS_INVALID_HANDLE;
	qp = o->ptr;
	if (!conn_read(c, blk, NDK_CONNECT_PRIVATE_MAX, &in, &b) || in.port == 0 ||
	    (in.family != NDK_ADDRESS_LOCAL && in.family != NDK_ADDRESS_ROCEV2))
		return NDK_STATUS_INVALID_PARAMETER;
	/* one CONNECT at a time per QP */
	if (qp->state != QP_INIT || qp->connecting)
		return NDK_STATUS_INVALID_DEVICE_STATE;
	/* and per client, counting those of QPs closed since: what it may have in flight */
	if (c->n_connects >= x->lim->max_qps)
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	if (in.family == NDK_ADDRESS_ROCEV2) {
		st = x->prov->ops.cm_connect(x, c, qp_handle, &in, b, user_data);
		if (st == NDK_STATUS_PENDING) {
			qp->connecting = true;
			c->n_connects++;
		}
		return st;
	}
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	if (!listener_of(x, in.port, &engine, &m->listener)) {
		free(m);
		return NDK_STATUS_CONNECTION_REFUSED; /* nobody listens there */
	}
	m->kind = CONN_REQUEST;
	m->port = in.port;
	m->active_client = c->id;
	m->active_engine = x->engine;
	m->active_qp = qp_handle;
	m->active_qpn = qp->qpn;
	m->active_req = user_data;
	m->active_blk = b;
	m->offer = (struct ndk_abi_conn){ .family = NDK_ADDRESS_LOCAL,
					  .port = in.port,
					  .local_port = in.port,
					  .peer_qpn = qp->qpn };
	conn_take_data(&m->offer, &in);
	qp->connecting = true;
	c->n_connects++;
	conn_send(x, engine, m);
	return NDK_STATUS_PENDING; /* answered on accept or reject */
}

void
conn_answer(struct ectx *x, struct conn_msg *m)
{
	conn_send(x, m->active_engine, m);
}

bool
conn_offer_remote(struct ectx *x, uint32_t port, struct conn_msg *m)
{
	uint32_t engine;

	if (port == 0 || port >= NDKD_LISTEN_PORTS || !listener_of(x, port, &engine, &m->listener))
		return false;
	m->kind = CONN_REQUEST;
	m->port = port;
	m->active_engine = x->engine;
	conn_send(x, engine, m);
	return true;
}

/* Take a connection handed to this client out of its list; NULL for a forged id. */
static struct conn_msg *
conn_take(struct client *c, uint64_t id)
{
	struct conn_msg **pp, *m;

	for (pp = &c->conns; *pp != NULL; pp = &(*pp)->next) {
		if ((*pp)->id == id) {
			m = *pp;
			*pp = m->next;
			return m;
		}
	}
	return NULL;
}

ndk_status
conn_accept(struct client *c, struct ectx *x, uint32_t qp_handle, uint64_t id, uint64_t blk)
{
	struct obj *o = obj_lookup(c, qp_handle, OBJ_QP);
	struct ndk_abi_conn in, *b;
	struct conn_msg *m;
	ndk_status st;
	bool remote;

	if (o == NULL)
		return NDK_STATUS_INVALID_HANDLE;
	if (!conn_read(c, blk, NDK_ACCEPT_PRIVATE_MAX, &in, &b))
		return NDK_STATUS_INVALID_PARAMETER;
	m = conn_take(c, id);
	if (m == NULL)
		return NDK_STATUS_INVALID_PARAMETER;
	conn_take_data(&m->answer, &in);
	remote = m->remote_answer != NULL;
	st = remote ? m->remote_answer(x, c, qp_handle, m)
		    : dqp_connect(c, x, qp_handle, m->active_qpn);
	if (st != NDK_STATUS_SUCCESS) {
		/* the connection stays offered: the app may accept on another QP */
		m->next = c->conns;
		c->conns = m;
		return st;
	}
	if (remote)
		return NDK_STATUS_SUCCESS; /* connected and answered: m is gone */
	m->kind = CONN_ACCEPTED;
	m->passive_qpn = ((struct dqp *)o->ptr)->qpn;
	m->answer.family = NDK_ADDRESS_LOCAL;
	m->answer.port = m->port;
	m->answer.peer_qpn = m->passive_qpn;
	conn_send(x, m->active_engine, m);
	return NDK_STATUS_SUCCESS;
}

ndk_status
conn_reject(struct client *c, struct ectx *x, uint64_t id, uint64_t blk)
{
	struct ndk_abi_conn in = { 0 }, *b;
	struct conn_msg *m;

	/* no block: no private data */
	if (blk != 0 && !conn_read(c, blk, NDK_REJECT_PRIVATE_MAX, &in, &b))
		return NDK_STATUS_INVALID_PARAMETER;
	m = conn_take(c, id);
	if (m == NULL)
		return NDK_STATUS_INVALID_PARAMETER;
	conn_take_data(&m->answer, &in);
	refuse(x, m);
	return NDK_STATUS_SUCCESS;
}

void
conn_release_all(struct client *c, struct ectx *x)
{
	uint32_t h;

	while (c->conns != NULL) {
		struct conn_msg *m = c->conns;

		c->conns = m->next;
		refuse(x, m);
	}
	for (h = 1; h < c->obj_hw; h++) {
		if (c->objs[h].type == OBJ_LISTENER)
			conn_listener_destroy(c, x, h);
	}
}

/* Tell the QP qpn on this node (if its peer is still from_qpn) that its peer ended the connection.
 */
static void
tell_peer(struct ectx *x, uint32_t qpn, uint32_t from_qpn)
{
	struct qpt_entry e;
	struct conn_msg *m;

	if (!qpt_read(x->qpt, qpn, &e) || e.state != QP_RTS || e.peer_qpn != from_qpn)
		return;
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return; /* it learns when its next request fails */
	m->kind = CONN_DISCONNECTED;
	m->active_client = e.client_id;
	m->active_qpn = qpn;
	m->passive_qpn = from_qpn;
	conn_send(x, e.engine, m);
}

ndk_status
conn_disconnect(struct client *c, struct ectx *x, uint32_t handle, uint64_t user_data)
{
	struct obj *o = obj_lookup(c, handle, OBJ_QP);
	struct dqp *qp;
	ndk_status st;

	if (o == NULL)
		return NDK_STATUS_INVALID_HANDLE;
	qp = o->ptr;
	if (qp->state == QP_INIT)
		return NDK_STATUS_INVALID_DEVICE_STATE; /* never connected */
	st = x->prov->ops.cm_disconnect(x, qp, user_data);
	if (st == NDK_STATUS_NOT_SUPPORTED) {
		/* a peer on this node, or one given by address: nobody to wait for */
		if (qp->state == QP_RTS && qp->peer_qpn != 0)
			tell_peer(x, qp->peer_qpn, qp->qpn);
		st = NDK_STATUS_SUCCESS;
	}
	wq_error(x, qp);
	return st;
}

ndk_status
conn_notify_disconnect(struct client *c, struct ectx *x, uint32_t handle, uint64_t user_data)
{
	struct obj *o = obj_lookup(c, handle, OBJ_QP);
	struct dqp *qp;

	(void)x;
	if (o == NULL)
		return NDK_STATUS_INVALID_HANDLE;
	qp = o->ptr;
	if (qp->notify_held)
		return NDK_STATUS_INVALID_DEVICE_STATE;
	if (qp->peer_gone)
		return NDK_STATUS_SUCCESS;
	qp->notify_held = true;
	qp->notify_req = user_data;
	return NDK_STATUS_PENDING;
}

void
conn_qp_gone(struct ectx *x, struct dqp *qp)
{
	if (qp->state == QP_RTS && qp->peer_qpn != 0)
		tell_peer(x, qp->peer_qpn, qp->qpn);
	if (qp->notify_held)
		channel_complete(qp->client, qp->notify_req, NDK_ABI_OP_NOTIFY_DISCONNECT,
				 NDK_STATUS_CANCELLED, 0, 0);
	qp->notify_held = false;
}

static struct client *
find_client(struct client **clients, unsigned int n, uint32_t id)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (clients[i]->id == id && !clients[i]->broken)
			return clients[i];
	}
	return NULL;
}

/* A CONN_DISCONNECTED or CONN_DISCONNECT_DONE for one of this engine's QPs. */
static void
qp_event(struct ectx *x, struct client **clients, unsigned int n_clients, struct conn_msg *m)
{
	struct qpt_entry e;
	struct client *c;
	struct dqp *qp;

	if (m->kind == CONN_DISCONNECT_DONE) {
		c = find_client(clients, n_clients, m->active_client);
		if (c != NULL)
			channel_complete(c, m->active_req, NDK_ABI_OP_DISCONNECT,
					 NDK_STATUS_SUCCESS, 0, 0);
		return;
	}
	if (!qpt_read(x->qpt, m->active_qpn, &e) || e.engine != x->engine ||
	    e.client_id != m->active_client || e.state == QP_FREE)
		return;
	qp = e.qp;
	if (qp->state == QP_INIT || qp->peer_qpn != m->passive_qpn)
		return; /* a QP of the same number since, or connected to another */
	qp->peer_gone = true;
	/*
	 * A peer on another node is gone for good: flush. One on this node
	 * is in the table, so this QP's next request fails CONNECTION_DISCONNECTED
	 * (the QP then flushes), as it always has.
	 */
	if (m->passive_qpn == 0)
		wq_error(x, qp);
	if (qp->notify_held) {
		qp->notify_held = false;
		channel_complete(qp->client, qp->notify_req, NDK_ABI_OP_NOTIFY_DISCONNECT,
				 NDK_STATUS_SUCCESS, 0, 0);
	}
}

void
conn_handle(struct ectx *x, struct client **clients, unsigned int n_clients, struct conn_msg *m)
{
	struct client *c;
	struct obj *o;

	if (m->kind == CONN_DISCONNECTED || m->kind == CONN_DISCONNECT_DONE) {
		qp_event(x, clients, n_clients, m);
		free(m);
		return;
	}
	if (m->kind == CONN_REQUEST) {
		uint32_t owner = 0;

		/* the listener may have closed, or the port changed hands, meanwhile */
		rte_spinlock_lock(&x->listen->lock);
		if (x->listen->port[m->port].handle == m->listener)
			owner = x->listen->port[m->port].client_id;
		rte_spinlock_unlock(&x->listen->lock);
		c = owner != 0 ? find_client(clients, n_clients, owner) : NULL;
		o = c != NULL ? obj_lookup(c, m->listener, OBJ_LISTENER) : NULL;
		if (o == NULL)
			refuse(x, m);
		else
			offer(x, c, o->ptr, m);
		return;
	}
	/* an answer for the connecting side, which may have gone meanwhile */
	c = find_client(clients, n_clients, m->active_client);
	if (c != NULL)
		c->n_connects--;
	o = c != NULL ? obj_lookup(c, m->active_qp, OBJ_QP) : NULL;
	if (o != NULL && ((struct dqp *)o->ptr)->qpn == m->active_qpn) {
		ndk_status st = m->status != 0 ? m->status : NDK_STATUS_CONNECTION_REFUSED;

		((struct dqp *)o->ptr)->connecting = false;
		if (m->kind == CONN_ACCEPTED)
			st = m->remote_answer != NULL
				     ? m->remote_answer(x, c, m->active_qp, m)
				     : dqp_connect(c, x, m->active_qp, m->passive_qpn);
		bool told = st == NDK_STATUS_SUCCESS || st == NDK_STATUS_CONNECTION_REFUSED;

		if (told)
			memcpy(m->active_blk, &m->answer, sizeof(m->answer));
		channel_complete(c, m->active_req, NDK_ABI_OP_CONNECT, st, told, 0);
	} else if (m->kind == CONN_ACCEPTED && m->remote_answer != NULL) {
		m->remote_answer(x, NULL, 0, m); /* the QP went: the provider lets the peer know */
	}
	free(m->remote);
	free(m);
}
