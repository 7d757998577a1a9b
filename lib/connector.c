/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Listeners and connectors. A listening listener keeps one GET_CONNECTION
 * request parked in ndkd; each answer becomes a connector handed to the
 * app's connect event, and the request is posted again. Parked requests
 * (that one, and a connect waiting for its accept) do not hold up adapter
 * close: it cancels them. Connection data goes both ways in a struct
 * ndk_abi_conn in arena memory (a block), which ndkd reads when it takes a
 * request and fills in before it completes one; the library keeps a copy
 * of what came back, so the app's reads of it never touch shared memory.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "ndk_priv.h"

struct listener {
	struct ndk_listener pub;
	struct lobj o;
	struct adapter *ad;
	struct listener *next, *prev; /* the adapter's list, so its close can free them */
	bool listening;
	bool get_posted;
	struct ndk_abi_conn *blk; /* the parked GET_CONNECTION's; the connector's after */
	ndk_fn_connect_event connect_event;
	void *event_ctx;
};

struct connector {
	struct ndk_connector pub;
	struct adapter *ad;
	uint64_t conn_id; /* an incoming connection's id in ndkd; 0 for outgoing */
	struct ndk_abi_conn *blk;
	unsigned int blk_busy; /* requests in flight that ndkd may still read blk for */
	bool have_data;	       /* data holds what the peer sent */
	struct ndk_abi_conn data;
	bool connecting;    /* a connect is parked in ndkd */
	bool connected;	    /* an outgoing connection was made: no second one */
	struct qp *qp;	    /* the QP that connect is for, while it is still open */
	struct qp *conn_qp; /* the QP that carries its connection, while it is still open */
	bool answered;	    /* an incoming connection was accepted or rejected */
	bool closed;	    /* closed meanwhile: freed when the last request comes back */
};

static const struct ndk_connector_dispatch connector_dispatch;
static const struct ndk_listener_dispatch listener_dispatch;

static void listener_get(struct listener *l);
static void reject_done(struct adapter *ad, const struct req_slot *req, ndk_status status,
			const uint64_t *out);

static struct ndk_abi_conn *
blk_new(struct adapter *ad)
{
	struct ndk_abi_conn *b = ndk_mem_alloc(&ad->pub, sizeof(*b), NDK_ABI_CACHE_LINE);

	if (b != NULL)
		memset(b, 0, sizeof(*b));
	return b;
}

/* The copy the app reads: what ndkd wrote, with lengths it cannot make lie. */
static void
keep_data(struct connector *c)
{
	c->data = *c->blk;
	if (c->data.private_len > NDK_ABI_CONN_PRIVATE_MAX)
		c->data.private_len = NDK_ABI_CONN_PRIVATE_MAX;
	c->have_data = true;
}

static void
connector_free(struct connector *c)
{
	if (c->blk != NULL)
		ndk_mem_free(&c->ad->pub, c->blk);
	free(c);
}

/* A request that used blk came back: a closed connector goes with the last. */
static void
connector_put(struct connector *c)
{
	c->blk_busy--;
	if (c->closed && c->blk_busy == 0)
		connector_free(c);
}

static struct connector *
connector_new(struct adapter *ad)
{
	struct connector *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->ad = ad;
	c->pub.header.version = (struct ndk_version){ NDK_VERSION_MAJOR, NDK_VERSION_MINOR };
	c->pub.header.object_type = NDK_OBJECT_TYPE_CONNECTOR;
	c->pub.dispatch = &connector_dispatch;
	return c;
}

static void
got_connection(struct adapter *ad, const struct req_slot *req, ndk_status status,
	       const uint64_t *out)
{
	struct listener *l = req->obj;
	struct connector *c;

	ad->parked--;
	l->get_posted = false;
	if (status == NDK_STATUS_SUCCESS && !l->o.closing) {
		c = connector_new(ad);
		if (c == NULL) {
			/* nobody can answer it: refuse, so the peer does not wait */
			struct ndk_abi_sqe sqe = { .opcode = NDK_ABI_OP_REJECT, .args[0] = out[0] };

			post_ctrl(ad, &sqe, 0, reject_done, NULL, NULL, NULL, 0);
		} else {
			c->conn_id = out[0];
			c->blk = l->blk;
			l->blk = NULL;
			keep_data(c);
			CALLBACK(ad, l->connect_event(l->event_ctx, &c->pub));
		}
	}
	if (status == NDK_STATUS_SUCCESS && !l->o.closing)
		listener_get(l);
}

/* Park the next GET_CONNECTION; with the ring full, progress tries again. */
static void
listener_get(struct listener *l)
{
	struct ndk_abi_sqe sqe = { .opcode = NDK_ABI_OP_GET_CONNECTION, .handle = l->o.handle };

	if (l->get_posted || l->o.closing)
		return;
	if (l->blk == NULL)
		l->blk = blk_new(l->ad);
	sqe.args[0] = (uintptr_t)l->blk;
	if (l->blk != NULL &&
	    post_ctrl(l->ad, &sqe, 0, got_connection, NULL, NULL, l, 0) == NDK_STATUS_PENDING) {
		l->get_posted = true;
		l->ad->parked++;
	} else {
		lobj_park(&l->o);
	}
}

static struct listener *
to_listener(struct lobj *o)
{
	return (struct listener *)((char *)o - offsetof(struct listener, o));
}

/* Parked: post what could not be posted, the GET_CONNECTION or, once closing, the destroy. */
static void
listener_resume(struct lobj *o)
{
	if (o->closing)
		lobj_try_close(o);
	else
		listener_get(to_listener(o));
}

static void
listener_free(struct listener *l)
{
	struct adapter *ad = l->ad;

	if (l->blk != NULL)
		ndk_mem_free(&ad->pub, l->blk);
	if (l->prev != NULL)
		l->prev->next = l->next;
	else if (ad->listeners == l)
		ad->listeners = l->next;
	if (l->next != NULL)
		l->next->prev = l->prev;
	free(l);
}

void
listener_free_all(struct adapter *ad)
{
	struct listener *l = ad->listeners, *next;

	for (; l != NULL; l = next) {
		next = l->next;
		lobj_abandon(&l->o);
		if (l->blk != NULL)
			ndk_mem_free(&ad->pub, l->blk);
		free(l);
	}
	ad->listeners = NULL;
}

static void
listener_release(struct lobj *o)
{
	listener_free(to_listener(o));
}

static void
listened(struct adapter *ad, const struct req_slot *req, ndk_status status, const uint64_t *out)
{
	struct listener *l = req->obj;

	if (status == NDK_STATUS_SUCCESS) {
		l->o.handle = (uint32_t)out[0];
		l->listening = true;
		listener_get(l);
	}
	CALLBACK(ad, ((ndk_fn_request_completion)req->user_cb)(req->context, status));
}

static ndk_status
listener_listen(struct ndk_listener *pl, const struct ndk_qp_address *a,
		ndk_fn_request_completion completion, void *context)
{
	struct listener *l = (struct listener *)pl;
	struct ndk_abi_sqe sqe = { .opcode = NDK_ABI_OP_LISTEN };

	if (a == NULL || completion == NULL || a->port == 0)
		return NDK_STATUS_INVALID_PARAMETER;
	/* one table of ports serves this node's connectors and other nodes' alike */
	if (a->family != NDK_ADDRESS_LOCAL && a->family != NDK_ADDRESS_ROCEV2)
		return NDK_STATUS_NOT_SUPPORTED;
	if (l->listening || l->o.closing)
		return NDK_STATUS_INVALID_DEVICE_STATE;
	sqe.args[0] = a->port;
	return post_ctrl(l->ad, &sqe, 0, listened, (void (*)(void))completion, context, l, 0);
}

static ndk_status
listener_close(struct ndk_object_header *obj, ndk_fn_close_completion completion, void *context)
{
	struct listener *l = (struct listener *)obj;

	if (l->o.closing)
		return NDK_STATUS_INVALID_DEVICE_STATE;
	if (!l->listening) {
		listener_free(l);
		return NDK_STATUS_SUCCESS;
	}
	/* ndkd answers the parked GET_CONNECTION (CANCELLED) before this */
	return lobj_close(&l->o, completion, context);
}

static const struct ndk_listener_dispatch listener_dispatch = {
	.close = listener_close,
	.query_extension = no_extension,
	.listen = listener_listen,
};

ndk_status
listener_create(struct ndk_adapter *a, ndk_fn_connect_event connect_event, void *event_ctx,
		ndk_fn_create_completion completion, void *context, struct ndk_listener **out)
{
	struct listener *l;

	(void)completion, (void)context;
	if (out == NULL || connect_event == NULL)
		return NDK_STATUS_INVALID_PARAMETER;
	l = calloc(1, sizeof(*l));
	if (l == NULL)
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	l->ad = to_adapter(a);
	lobj_init(&l->o, l->ad, NDK_ABI_OP_LISTENER_DESTROY, listener_release, listener_resume);
	l->next = l->ad->listeners;
	if (l->next != NULL)
		l->next->prev = l;
	l->ad->listeners = l;
	l->connect_event = connect_event;
	l->event_ctx = event_ctx;
	l->pub.header.version = (struct ndk_version){ NDK_VERSION_MAJOR, NDK_VERSION_MINOR };
	l->pub.header.object_type = NDK_OBJECT_TYPE_LISTENER;
	l->pub.dispatch = &listener_dispatch;
	*out = &l->pub;
	return NDK_STATUS_SUCCESS;
}

/* ------------------------------------------------------------------------
 * Connector
 * --------------------------------------------------------------------- */

/* qp carries c's connection now: disconnect goes through it. */
static void
carried_by(struct connector *c, struct qp *qp)
{
	c->conn_qp = qp;
	qp->connector = c;
}

static void
connect_done(struct adapter *ad, const struct req_slot *req, ndk_status status, const uint64_t *out)
{
	struct connector *c = req->obj;

	ad->parked--;
	c->connecting = false;
	c->connected = status == NDK_STATUS_SUCCESS;
	/* a refusal from the peer's side carries its data too */
	if (out[0] == 1)
		keep_data(c);
	if (c->qp != NULL) {
		c->qp->connected = status == NDK_STATUS_SUCCESS;
		c->qp->connecting = NULL;
		if (status == NDK_STATUS_SUCCESS && !c->closed)
			carried_by(c, c->qp);
		c->qp = NULL;
	}
	CALLBACK(ad, ((ndk_fn_request_completion)req->user_cb)(req->context, status));
	connector_put(c);
}

/* Fill c's block with the app's side of the connection: SUCCESS, or why not. */
static ndk_status
blk_fill(struct connector *c, uint32_t ird, uint32_t ord, const void *private_data,
	 uint32_t private_len, uint32_t max_private)
{
	const struct ndk_abi_adapter_info *info = &c->ad->info;

	if (private_len > max_private || (private_len != 0 && private_data == NULL) ||
	    ird > info->max_inbound_read_limit || ord > info->max_outbound_read_limit)
		return NDK_STATUS_INVALID_PARAMETER;
	if (c->blk == NULL)
		c->blk = blk_new(c->ad);
	if (c->blk == NULL)
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	memset(c->blk, 0, sizeof(*c->blk));
	c->blk->ird = ird;
	c->blk->ord = ord;
	c->blk->private_len = private_len;
	if (private_len != 0)
		memcpy(c->blk->private_data, private_data, private_len);
	return NDK_STATUS_SUCCESS;
}

static ndk_status
connector_connect(struct ndk_connector *pc, struct ndk_qp *q, const struct ndk_qp_address *a,
		  uint32_t ird, uint32_t ord, const void *private_data, uint32_t private_len,
		  ndk_fn_request_completion completion, void *context)
{
	struct connector *c = (struct connector *)pc;
	struct qp *qp = (struct qp *)q;
	struct ndk_abi_sqe sqe = { .opcode = NDK_ABI_OP_CONNECT };
	ndk_status st;

	if (qp == NULL || a == NULL || completion == NULL || a->port == 0 || c->conn_id != 0)
		return NDK_STATUS_INVALID_PARAMETER;
	if (a->family != NDK_ADDRESS_LOCAL && a->family != NDK_ADDRESS_ROCEV2)
		return NDK_STATUS_NOT_SUPPORTED;
	if (c->connecting || c->connected)
		return NDK_STATUS_INVALID_DEVICE_STATE; /* one connection per connector */
	st = blk_fill(c, ird, ord, private_data, private_len, NDK_CONNECT_PRIVATE_MAX);
	if (st != NDK_STATUS_SUCCESS)
		return st;
	c->blk->family = a->family;
	c->blk->port = a->port;
	c->blk->sgid = a->sgid;
	memcpy(c->blk->peer_ip, a->ip, sizeof(a->ip));
	sqe.handle = qp->handle;
	sqe.args[0] = (uintptr_t)c->blk;
	st = post_ctrl(c->ad, &sqe, 0, connect_done, (void (*)(void))completion, context, c, 0);
	if (st == NDK_STATUS_PENDING) {
		c->ad->parked++;
		c->blk_busy++;
		c->connecting = true;
		c->qp = qp;
		qp->connecting = c;
	}
	return st;
}

void
connector_forget_qp(struct connector *c)
{
	c->qp = NULL;
	c->conn_qp = NULL;
}

static void
accept_done(struct adapter *ad, const struct req_slot *req, ndk_status status, const uint64_t *out)
{
	struct connector *c = req->obj;

	(void)out;
	/* answered in order, before any close of the QP: it is still here */
	if (status == NDK_STATUS_SUCCESS) {
		((struct qp *)req->arg)->connected = true;
		if (!c->closed)
			carried_by(c, (struct qp *)req->arg);
	} else
		c->answered = false; /* the connection stays offered: another QP may take it */
	CALLBACK(ad, ((ndk_fn_request_completion)req->user_cb)(req->context, status));
	connector_put(c);
}

static ndk_status
connector_accept(struct ndk_connector *pc, struct ndk_qp *q, uint32_t ird, uint32_t ord,
		 const void *private_data, uint32_t private_len,
		 ndk_fn_request_completion completion, void *context)
{
	struct connector *c = (struct connector *)pc;
	struct qp *qp = (struct qp *)q;
	struct ndk_abi_sqe sqe = { .opcode = NDK_ABI_OP_ACCEPT };
	ndk_status st;

	if (qp == NULL || completion == NULL || c->conn_id == 0)
		return NDK_STATUS_INVALID_PARAMETER;
	if (c->answered)
		return NDK_STATUS_INVALID_DEVICE_STATE;
	st = blk_fill(c, ird, ord, private_data, private_len, NDK_ACCEPT_PRIVATE_MAX);
	if (st != NDK_STATUS_SUCCESS)
		return st;
	sqe.handle = qp->handle;
	sqe.args[0] = c->conn_id;
	sqe.args[1] = (uintptr_t)c->blk;
	st = post_ctrl(c->ad, &sqe, 0, accept_done, (void (*)(void))completion, context, c,
		       (uintptr_t)qp);
	if (st == NDK_STATUS_PENDING) {
		c->answered = true;
		c->blk_busy++;
	}
	return st;
}

static void
reject_done(struct adapter *ad, const struct req_slot *req, ndk_status status, const uint64_t *out)
{
	(void)ad, (void)status, (void)out;
	if (req->obj != NULL)
		connector_put(req->obj);
}

static ndk_status
connector_reject(struct ndk_connector *pc, const void *private_data, uint32_t private_len)
{
	struct connector *c = (struct connector *)pc;
	struct ndk_abi_sqe sqe = { .opcode = NDK_ABI_OP_REJECT };
	ndk_status st;

	if (c->conn_id == 0)
		return NDK_STATUS_INVALID_PARAMETER;
	if (c->answered)
		return NDK_STATUS_INVALID_DEVICE_STATE;
	st = blk_fill(c, 0, 0, private_data, private_len, NDK_REJECT_PRIVATE_MAX);
	if (st != NDK_STATUS_SUCCESS)
		return st;
	sqe.args[0] = c->conn_id;
	sqe.args[1] = (uintptr_t)c->blk;
	st = post_ctrl(c->ad, &sqe, 0, reject_done, NULL, NULL, c, 0);
	if (st == NDK_STATUS_PENDING) {
		c->answered = true;
		c->blk_busy++;
	}
	return st == NDK_STATUS_PENDING ? NDK_STATUS_SUCCESS : st;
}

static ndk_status
connector_get_connection_data(struct ndk_connector *pc, uint32_t *ird, uint32_t *ord,
			      void *private_data, uint32_t *private_len)
{
	struct connector *c = (struct connector *)pc;

	if (!c->have_data)
		return NDK_STATUS_INVALID_DEVICE_STATE;
	if (ird != NULL)
		*ird = c->data.ird;
	if (ord != NULL)
		*ord = c->data.ord;
	if (private_len == NULL)
		return NDK_STATUS_SUCCESS;
	if (*private_len < c->data.private_len ||
	    (c->data.private_len != 0 && private_data == NULL)) {
		*private_len = c->data.private_len;
		return NDK_STATUS_BUFFER_TOO_SMALL;
	}
	*private_len = c->data.private_len;
	memcpy(private_data, c->data.private_data, c->data.private_len);
	return NDK_STATUS_SUCCESS;
}

static void
to_address(const struct ndk_abi_conn *d, const uint8_t ip[16], uint16_t port, uint32_t qpn,
	   struct ndk_qp_address *a)
{
	*a = (struct ndk_qp_address){ .family = d->family, .port = port, .qpn = qpn };
	if (d->family == NDK_ADDRESS_ROCEV2)
		memcpy(a->ip, ip, sizeof(a->ip));
}

static ndk_status
connector_get_peer_address(struct ndk_connector *pc, struct ndk_qp_address *a)
{
	struct connector *c = (struct connector *)pc;

	if (!c->have_data)
		return NDK_STATUS_INVALID_DEVICE_STATE;
	to_address(&c->data, c->data.peer_ip, c->data.port, c->data.peer_qpn, a);
	return NDK_STATUS_SUCCESS;
}

static ndk_status
connector_get_local_address(struct ndk_connector *pc, struct ndk_qp_address *a)
{
	struct connector *c = (struct connector *)pc;

	if (!c->have_data)
		return NDK_STATUS_INVALID_DEVICE_STATE;
	to_address(&c->data, c->data.local_ip, c->data.local_port, 0, a);
	return NDK_STATUS_SUCCESS;
}

static void
disconnect_done(struct adapter *ad, const struct req_slot *req, ndk_status status,
		const uint64_t *out)
{
	(void)out;
	CALLBACK(ad, ((ndk_fn_request_completion)req->user_cb)(req->context, status));
}

static void
notify_done(struct adapter *ad, const struct req_slot *req, ndk_status status, const uint64_t *out)
{
	ad->parked--;
	disconnect_done(ad, req, status, out);
}

/* DISCONNECT or NOTIFY_DISCONNECT for c's connection. */
static ndk_status
post_disconnect(struct connector *c, uint8_t opcode, ndk_fn_request_completion completion,
		void *context)
{
	struct ndk_abi_sqe sqe = { .opcode = opcode };
	ndk_status st;

	if (completion == NULL)
		return NDK_STATUS_INVALID_PARAMETER;
	if (c->conn_qp == NULL)
		return NDK_STATUS_INVALID_DEVICE_STATE; /* no connection, or its QP closed */
	sqe.handle = c->conn_qp->handle;
	st = post_ctrl(c->ad, &sqe, 0,
		       opcode == NDK_ABI_OP_DISCONNECT ? disconnect_done : notify_done,
		       (void (*)(void))completion, context, c, 0);
	if (st == NDK_STATUS_PENDING && opcode == NDK_ABI_OP_DISCONNECT)
		c->conn_qp->connected = false; /* its requests are refused from now on */
	if (st == NDK_STATUS_PENDING && opcode == NDK_ABI_OP_NOTIFY_DISCONNECT)
		c->ad->parked++; /* answered when the peer acts */
	return st;
}

static ndk_status
connector_disconnect(struct ndk_connector *pc, ndk_fn_request_completion completion, void *context)
{
	return post_disconnect((struct connector *)pc, NDK_ABI_OP_DISCONNECT, completion, context);
}

static ndk_status
connector_notify_disconnect(struct ndk_connector *pc, ndk_fn_request_completion completion,
			    void *context)
{
	return post_disconnect((struct connector *)pc, NDK_ABI_OP_NOTIFY_DISCONNECT, completion,
			       context);
}

static ndk_status
connector_close(struct ndk_object_header *obj, ndk_fn_close_completion completion, void *context)
{
	struct connector *c = (struct connector *)obj;

	(void)completion, (void)context;
	/* an incoming connection closed unanswered is refused, so its caller does not wait */
	if (c->conn_id != 0 && !c->answered)
		connector_reject(&c->pub, NULL, 0);
	if (c->conn_qp != NULL)
		c->conn_qp->connector = NULL;
	c->conn_qp = NULL;
	if (c->blk_busy != 0)
		c->closed = true; /* its requests' handlers still come; freed after the last */
	else
		connector_free(c);
	return NDK_STATUS_SUCCESS;
}

static const struct ndk_connector_dispatch connector_dispatch = {
	.close = connector_close,
	.query_extension = no_extension,
	.connect = connector_connect,
	.accept = connector_accept,
	.reject = connector_reject,
	.get_connection_data = connector_get_connection_data,
	.get_peer_address = connector_get_peer_address,
	.get_local_address = connector_get_local_address,
	.disconnect = connector_disconnect,
	.notify_disconnect = connector_notify_disconnect,
};

ndk_status
connector_create(struct ndk_adapter *a, ndk_fn_create_completion completion, void *context,
		 struct ndk_connector **out)
{
	struct connector *c;

	(void)completion, (void)context;
	if (out == NULL)
		return NDK_STATUS_INVALID_PARAMETER;
	c = connector_new(to_adapter(a));
	if (c == NULL)
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	*out = &c->pub;
	return NDK_STATUS_SUCCESS;
}
