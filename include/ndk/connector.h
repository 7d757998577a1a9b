/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Listeners and connectors (NDK_LISTENER, NDK_CONNECTOR), same node: a
 * listener owns a port on this ndkd; a connector connects a QP to it; the
 * listener's app accepts the connection on a QP of its own, or rejects it.
 * Addresses are struct ndk_qp_address with family NDK_ADDRESS_LOCAL and a
 * port (qpn ignored). Private data, IRD/ORD and disconnect events of NDK's
 * calls are not carried.
 */
#ifndef NDK_CONNECTOR_H
#define NDK_CONNECTOR_H

#include <ndk/object.h>
#include <ndk/qp.h>
#include <ndk/status.h>

#ifdef __cplusplus
extern "C" {
#endif

struct ndk_listener;
struct ndk_connector;

/*
 * NDK_FN_CONNECT_EVENT_CALLBACK: a connection request came to the listener;
 * the connector is the app's to accept, reject and close. Runs from
 * ndk_adapter_progress().
 */
typedef void (*ndk_fn_connect_event)(void *context, struct ndk_connector *connector);

/* Listen on address's port: PENDING, then SUCCESS, or ADDRESS_ALREADY_EXISTS. */
typedef ndk_status (*ndk_fn_listen)(struct ndk_listener *listener,
				    const struct ndk_qp_address *address,
				    ndk_fn_request_completion completion, void *context);

struct ndk_listener_dispatch {
	ndk_fn_close_object close;
	ndk_fn_query_extension query_extension;
	ndk_fn_listen listen;
};

struct ndk_listener {
	struct ndk_object_header header;
	const struct ndk_listener_dispatch *dispatch;
};

/*
 * Connect qp to the listener at address: PENDING; the completion reports
 * SUCCESS once the listener's app accepted (the QPs are connected then),
 * CONNECTION_REFUSED when it rejected, or nobody listens there.
 */
typedef ndk_status (*ndk_fn_connect)(struct ndk_connector *connector, struct ndk_qp *qp,
				     const struct ndk_qp_address *address,
				     ndk_fn_request_completion completion, void *context);
/* Accept an incoming connection on qp: PENDING, then SUCCESS or an error. */
typedef ndk_status (*ndk_fn_accept)(struct ndk_connector *connector, struct ndk_qp *qp,
				    ndk_fn_request_completion completion, void *context);
/* Reject an incoming connection: the connecting side's connect fails REFUSED. */
typedef ndk_status (*ndk_fn_reject)(struct ndk_connector *connector);
typedef void (*ndk_fn_get_peer_address)(struct ndk_connector *connector,
					struct ndk_qp_address *address);

struct ndk_connector_dispatch {
	ndk_fn_close_object close;
	ndk_fn_query_extension query_extension;
	ndk_fn_connect connect;
	ndk_fn_accept accept;
	ndk_fn_reject reject;
	ndk_fn_get_peer_address get_peer_address;
};

struct ndk_connector {
	struct ndk_object_header header;
	const struct ndk_connector_dispatch *dispatch;
};

/* Close: SUCCESS for a connector; PENDING for a listener (its close completion follows). */
static inline ndk_status
ndk_listener_close(struct ndk_listener *l, ndk_fn_close_completion completion, void *context)
{
	return l->dispatch->close(&l->header, completion, context);
}

static inline ndk_status
ndk_listener_listen(struct ndk_listener *l, const struct ndk_qp_address *address,
		    ndk_fn_request_completion completion, void *context)
{
	return l->dispatch->listen(l, address, completion, context);
}

static inline ndk_status
ndk_connector_close(struct ndk_connector *c, ndk_fn_close_completion completion, void *context)
{
	return c->dispatch->close(&c->header, completion, context);
}

static inline ndk_status
ndk_connector_connect(struct ndk_connector *c, struct ndk_qp *qp,
		      const struct ndk_qp_address *address, ndk_fn_request_completion completion,
		      void *context)
{
	return c->dispatch->connect(c, qp, address, completion, context);
}

static inline ndk_status
ndk_connector_accept(struct ndk_connector *c, struct ndk_qp *qp,
		     ndk_fn_request_completion completion, void *context)
{
	return c->dispatch->accept(c, qp, completion, context);
}

static inline ndk_status
ndk_connector_reject(struct ndk_connector *c)
{
	return c->dispatch->reject(c);
}

static inline void
ndk_connector_get_peer_address(struct ndk_connector *c, struct ndk_qp_address *address)
{
	c->dispatch->get_peer_address(c, address);
}

#ifdef __cplusplus
}
#endif

#endif /* NDK_CONNECTOR_H */
