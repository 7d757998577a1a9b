/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Listeners and connectors (NDK_LISTENER, NDK_CONNECTOR). A listener owns a
 * port on this ndkd (rdma_cm's TCP port space: a port number, not a UDP
 * port); a connector connects a QP to a listener, on this node (address
 * family NDK_ADDRESS_LOCAL, the port) or on another (NDK_ADDRESS_ROCEV2:
 * the node's IPv4-mapped GID and the port, through the IB connection
 * manager as Linux's rdma_cm speaks it; sgid picks the local port as in
 * ndk_qp_connect). The listener's app accepts the connection on a QP of its
 * own, or rejects it; each side may hand the other private data, and
 * states how many reads it takes in (IRD) and has out (ORD) at once.
 * Either side may end the connection; the other hears of it through
 * ndk_connector_notify_disconnect().
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

/* Private data one may hand the other: the CM's message sizes, less rdma_cm's header in a REQ. */
#define NDK_CONNECT_PRIVATE_MAX 56u
#define NDK_ACCEPT_PRIVATE_MAX	196u
#define NDK_REJECT_PRIVATE_MAX	148u

/*
 * Connect qp to the listener at address, asking for ird reads in and ord
 * out at once (at most the adapter info's limits), with private data:
 * PENDING; the completion reports SUCCESS once the listener's app accepted
 * (the QPs are connected then), CONNECTION_REFUSED when it rejected or
 * nobody listens there, IO_TIMEOUT when the peer node did not answer,
 * HOST_UNREACHABLE when no port reaches it or nobody answers ARP for it.
 * INVALID_PARAMETER for too much private data or limits past the adapter's.
 */
typedef ndk_status (*ndk_fn_connect)(struct ndk_connector *connector, struct ndk_qp *qp,
				     const struct ndk_qp_address *address, uint32_t ird,
				     uint32_t ord, const void *private_data, uint32_t private_len,
				     ndk_fn_request_completion completion, void *context);
/* Accept an incoming connection on qp: PENDING, then SUCCESS or an error. */
typedef ndk_status (*ndk_fn_accept)(struct ndk_connector *connector, struct ndk_qp *qp,
				    uint32_t ird, uint32_t ord, const void *private_data,
				    uint32_t private_len, ndk_fn_request_completion completion,
				    void *context);
/* Reject an incoming connection: the connecting side's connect fails REFUSED. */
typedef ndk_status (*ndk_fn_reject)(struct ndk_connector *connector, const void *private_data,
				    uint32_t private_len);
/*
 * NDK_FN_GET_CONNECTION_DATA: what the peer sent: an incoming connection's,
 * from its connect event on; an outgoing one's once connect completed
 * (SUCCESS, or REFUSED with the reject's private data). ird: reads the peer
 * lets this side have out at once (its IRD); ord: reads it may have out
 * itself (its ORD). *private_len is the buffer's size in and the data's
 * length out: BUFFER_TOO_SMALL (nothing copied) when it does not fit;
 * INVALID_DEVICE_STATE before there is data.
 */
typedef ndk_status (*ndk_fn_get_connection_data)(struct ndk_connector *connector, uint32_t *ird,
						 uint32_t *ord, void *private_data,
						 uint32_t *private_len);
/*
 * The peer's and this side's addresses, family and port (ROCEV2: and IP), once
 * there is a connection or an incoming request; INVALID_DEVICE_STATE before.
 * The peer's address also carries its QP number.
 */
typedef ndk_status (*ndk_fn_get_address)(struct ndk_connector *connector,
					 struct ndk_qp_address *address);

/*
 * NDK_FN_DISCONNECT: end the connection (its QP's requests complete
 * CANCELLED): PENDING, then SUCCESS once the peer confirmed or, on another
 * node, stopped answering. INVALID_DEVICE_STATE when not connected.
 */
typedef ndk_status (*ndk_fn_disconnect)(struct ndk_connector *connector,
					ndk_fn_request_completion completion, void *context);
/*
 * NDK_FN_NOTIFY_DISCONNECT: PENDING; the completion reports SUCCESS when
 * the peer ends the connection (at once if it has), CANCELLED when the QP
 * or the adapter closes first. One at a time per connection.
 */
typedef ndk_status (*ndk_fn_notify_disconnect)(struct ndk_connector *connector,
					       ndk_fn_request_completion completion, void *context);

struct ndk_connector_dispatch {
	ndk_fn_close_object close;
	ndk_fn_query_extension query_extension;
	ndk_fn_connect connect;
	ndk_fn_accept accept;
	ndk_fn_reject reject;
	ndk_fn_get_connection_data get_connection_data;
	ndk_fn_get_address get_peer_address;
	ndk_fn_get_address get_local_address;
	ndk_fn_disconnect disconnect;
	ndk_fn_notify_disconnect notify_disconnect;
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
		      const struct ndk_qp_address *address, uint32_t ird, uint32_t ord,
		      const void *private_data, uint32_t private_len,
		      ndk_fn_request_completion completion, void *context)
{
	return c->dispatch->connect(c, qp, address, ird, ord, private_data, private_len, completion,
				    context);
}

static inline ndk_status
ndk_connector_accept(struct ndk_connector *c, struct ndk_qp *qp, uint32_t ird, uint32_t ord,
		     const void *private_data, uint32_t private_len,
		     ndk_fn_request_completion completion, void *context)
{
	return c->dispatch->accept(c, qp, ird, ord, private_data, private_len, completion, context);
}

static inline ndk_status
ndk_connector_reject(struct ndk_connector *c, const void *private_data, uint32_t private_len)
{
	return c->dispatch->reject(c, private_data, private_len);
}

static inline ndk_status
ndk_connector_get_connection_data(struct ndk_connector *c, uint32_t *ird, uint32_t *ord,
				  void *private_data, uint32_t *private_len)
{
	return c->dispatch->get_connection_data(c, ird, ord, private_data, private_len);
}

static inline ndk_status
ndk_connector_get_peer_address(struct ndk_connector *c, struct ndk_qp_address *address)
{
	return c->dispatch->get_peer_address(c, address);
}

static inline ndk_status
ndk_connector_get_local_address(struct ndk_connector *c, struct ndk_qp_address *address)
{
	return c->dispatch->get_local_address(c, address);
}

static inline ndk_status
ndk_connector_disconnect(struct ndk_connector *c, ndk_fn_request_completion completion,
			 void *context)
{
	return c->dispatch->disconnect(c, completion, context);
}

static inline ndk_status
ndk_connector_notify_disconnect(struct ndk_connector *c, ndk_fn_request_completion completion,
				void *context)
{
	return c->dispatch->notify_disconnect(c, completion, context);
}

#ifdef __cplusplus
}
#endif

#endif /* NDK_CONNECTOR_H */
