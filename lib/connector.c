/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Listeners and connectors. A listening listener keeps one GET_CONNECTION
 * request parked in ndkd; each answer becomes a connector handed to the
 * app's connect event, and the request is posted again. Parked requests
 * (that one, and a connect waiting for its accept) do not hold up adapter
 * close: it cancels them.
 */
#include <stddef.h>
#include <stdlib.h>

#include "ndk_priv.h"

struct listener {
	struct ndk_listener pub;
	struct lobj o;
	struct adapter *ad;
	struct listener *next, *prev; /* the adapter's list, so its close can free them */
	bool listening;
	bool get_posted;
	ndk_fn_connect_event connect_event;
	void *event_ctx;
};

struct connector {
	struct ndk_connector pub;
	struct adapter *ad;
	uint64_t conn_id; /* an incoming connection's id in ndkd; 0 for outgoing */
	uint32_t peer_qpn;
	bool connecting; /* a connect is parked in ndkd */
	struct qp *qp;	 /* the QP that connect is for, while it is still open */
	bool answered;	 /* an incoming connection was accepted or rejected */
	bool closed;	 /* closed meanwhile: freed when the connect comes back */
};

static const struct ndk_connector_dispatch connector_dispatch;
static const struct ndk_listener_dispatch listener_dispatch;

static void listener_get(struct listener *l);

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
		if (c != NULL) {
			c->conn_id = out[0];
			c->peer_qpn = (uint32_t)out[1];
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
	if (post_ctrl(l->ad, &sqe, 0, got_connection, NULL, NULL, l, 0) == NDK_STATUS_PENDING) {
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
	if (a->family != NDK_ADDRESS_LOCAL)
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

static void
connect_done(struct adapter *ad, const struct req_slot *req, ndk_status status, const uint64_t *out)
{
	struct connector *c = req->obj;

	ad->parked--;
	c->connecting = false;
	if (status == NDK_STATUS_SUCCESS)
		c->peer_qpn = (uint32_t)out[0];
	if (c->qp != NULL) {
		c->qp->connected = status == NDK_STATUS_SUCCESS;
		c->qp->connecting = NULL;
		c->qp = NULL;
	}
	CALLBACK(ad, ((ndk_fn_request_completion)req->user_cb)(req->context, status));
	if (c->closed)
		free(c);
}

static ndk_status
connector_connect(struct ndk_connector *pc, struct ndk_qp *q, const struct ndk_qp_address *a,
		  ndk_fn_request_completion completion, void *context)
{
	struct connector *c = (struct connector *)pc;
	struct qp *qp = (struct qp *)q;
	struct ndk_abi_sqe sqe = { .opcode = NDK_ABI_OP_CONNECT };
	ndk_status st;

	if (qp == NULL || a == NULL || completion == NULL || a->port == 0 || c->conn_id != 0)
		return NDK_STATUS_INVALID_PARAMETER;
	if (a->family != NDK_ADDRESS_LOCAL)
		return NDK_STATUS_NOT_SUPPORTED;
	sqe.handle = qp->handle;
	sqe.args[0] = a->port;
	if (c->connecting)
		return NDK_STATUS_INVALID_DEVICE_STATE;
	st = post_ctrl(c->ad, &sqe, 0, connect_done, (void (*)(void))completion, context, c, 0);
	if (st == NDK_STATUS_PENDING) {
		c->ad->parked++;
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
}

static void
accept_done(struct adapter *ad, const struct req_slot *req, ndk_status status, const uint64_t *out)
{
	(void)out;
	/* answered in order, before any close of the QP: it is still here */
	if (status == NDK_STATUS_SUCCESS)
		((struct qp *)req->obj)->connected = true;
	CALLBACK(ad, ((ndk_fn_request_completion)req->user_cb)(req->context, status));
}

static ndk_status
connector_accept(struct ndk_connector *pc, struct ndk_qp *q, ndk_fn_request_completion completion,
		 void *context)
{
	struct connector *c = (struct connector *)pc;
	struct qp *qp = (struct qp *)q;
	struct ndk_abi_sqe sqe = { .opcode = NDK_ABI_OP_ACCEPT };
	ndk_status st;

	if (qp == NULL || completion == NULL || c->conn_id == 0)
		return NDK_STATUS_INVALID_PARAMETER;
	sqe.handle = qp->handle;
	sqe.args[0] = c->conn_id;
	st = post_ctrl(c->ad, &sqe, 0, accept_done, (void (*)(void))completion, context, qp, 0);
	if (st == NDK_STATUS_PENDING)
		c->answered = true;
	return st;
}

static void
reject_done(struct adapter *ad, const struct req_slot *req, ndk_status status, const uint64_t *out)
{
	(void)ad, (void)req, (void)status, (void)out;
}

static ndk_status
connector_reject(struct ndk_connector *pc)
{
	struct connector *c = (struct connector *)pc;
	struct ndk_abi_sqe sqe = { .opcode = NDK_ABI_OP_REJECT };
	ndk_status st;

	if (c->conn_id == 0)
		return NDK_STATUS_INVALID_PARAMETER;
	sqe.args[0] = c->conn_id;
	st = post_ctrl(c->ad, &sqe, 0, reject_done, NULL, NULL, c, 0);
	if (st == NDK_STATUS_PENDING)
		c->answered = true;
	return st == NDK_STATUS_PENDING ? NDK_STATUS_SUCCESS : st;
}

static void
connector_get_peer_address(struct ndk_connector *pc, struct ndk_qp_address *a)
{
	*a = (struct ndk_qp_address){ .family = NDK_ADDRESS_LOCAL,
				      .qpn = ((struct connector *)pc)->peer_qpn };
}

static ndk_status
connector_close(struct ndk_object_header *obj, ndk_fn_close_completion completion, void *context)
{
	struct connector *c = (struct connector *)obj;

	(void)completion, (void)context;
	/* an incoming connection closed unanswered is refused, so its caller does not wait */
	if (c->conn_id != 0 && !c->answered)
		connector_reject(&c->pub);
	if (c->connecting)
		c->closed = true; /* its connect's callback still comes; freed after it */
	else
		free(c);
	return NDK_STATUS_SUCCESS;
}

static const struct ndk_connector_dispatch connector_dispatch = {
	.close = connector_close,
	.query_extension = no_extension,
	.connect = connector_connect,
	.accept = connector_accept,
	.reject = connector_reject,
	.get_peer_address = connector_get_peer_address,
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
