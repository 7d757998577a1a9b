/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Connections by port on this node: NDK's listener and connector. A
 * listener owns a port number in the node-wide listen table (NDK's
 * address, not a NIC port). A CONNECT travels, as a
 * message on the owning engine's connection ring, to the listener's engine,
 * which hands it to the listener's app (its GET_CONNECTION request, held
 * until then); ACCEPT connects the two QPs and sends the answer back to the
 * connecting engine, which completes the CONNECT it held. A message has one
 * owner at a time: whoever holds it frees it when it is done.
 */
#ifndef NDKD_CONN_H
#define NDKD_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_spinlock.h>

#include <ndk/connector.h>

#include "ndkd.h"

#define NDKD_LISTEN_PORTS 65536
/* Connections a listener keeps waiting for its app; more are refused, as by a full listen queue. */
#define NDKD_LISTEN_BACKLOG 128

struct listen_table {
	rte_spinlock_t lock; /* taken by engines on listen, close and connect only */
	struct {
		uint32_t client_id; /* 0: free */
		uint32_t engine;
		uint32_t handle;
	} port[NDKD_LISTEN_PORTS];
};

enum conn_kind {
	CONN_REQUEST = 1, /* to the listener's engine */
	CONN_ACCEPTED,	  /* back to the connecting engine */
	CONN_REFUSED,	  /* back to the connecting engine */
	/*
	 * To a QP's engine (active_client's QP active_qpn): its peer ended
	 * the connection (passive_qpn: the peer's QP on this node; 0: on
	 * another node) ...
	 */
	CONN_DISCONNECTED,
	/* ... or confirmed the end this QP asked for: DISCONNECT active_req completes */
	CONN_DISCONNECT_DONE,
};

struct conn_msg {
	uint32_t kind;
	uint32_t port;
	uint32_t active_client;
	uint32_t active_engine;
	uint32_t active_qp; /* handle */
	uint32_t active_qpn;
	uint64_t active_req; /* the held CONNECT's user_data */
	uint32_t passive_qpn;
	uint32_t listener;  /* handle, on the passive side */
	uint64_t id;	    /* the passive client's name for it, once handed over */
	uint32_t to_engine; /* where it goes, while it waits for room (conn_send) */
	ndk_status status;  /* CONN_REFUSED: why (0: refused by the listener's side) */
	struct conn_msg *next;
	struct ndk_abi_conn *active_blk; /* the CONNECT's connection data, in ndkd's mapping */
	struct ndk_abi_conn offer;	 /* what the listener's app is told */
	struct ndk_abi_conn answer;	 /* what the connecting app is told back */
	/*
	 * A REQ from another node (the provider's connection manager): the
	 * provider answers for it, on the engine of the client it was handed
	 * to. With qp_handle 0 it refuses; else it connects that QP to the
	 * peer and replies (with m->answer's ird, ord and private data), or
	 * returns why not (the offer then stands). On SUCCESS, m is gone.
	 * On the connecting side (CONN_ACCEPTED from another node), it
	 * connects the QP to the peer that accepted and confirms (m stays the
	 * caller's). NULL for a connection of this node.
	 */
	ndk_status (*remote_answer)(struct ectx *x, struct client *c, uint32_t qp_handle,
				    struct conn_msg *m);
	void *remote; /* the provider's record of the REQ */
};

struct dlistener {
	uint32_t port;
	bool held; /* a GET_CONNECTION is waiting */
	uint64_t held_req;
	struct ndk_abi_conn *held_blk;
	struct conn_msg *backlog, *backlog_tail;
	uint32_t n_backlog;
};

ndk_status conn_listen(struct client *c, struct ectx *x, uint64_t port, uint64_t out[6]);
ndk_status conn_listener_destroy(struct client *c, struct ectx *x, uint32_t handle);
ndk_status conn_get(struct client *c, struct ectx *x, uint32_t handle, uint64_t blk,
		    uint64_t user_data, uint64_t out[6]);
ndk_status conn_connect(struct client *c, struct ectx *x, uint32_t qp, uint64_t blk,
			uint64_t user_data);
ndk_status conn_accept(struct client *c, struct ectx *x, uint32_t qp, uint64_t id, uint64_t blk);
ndk_status conn_reject(struct client *c, struct ectx *x, uint64_t id, uint64_t blk);
ndk_status conn_disconnect(struct client *c, struct ectx *x, uint32_t qp, uint64_t user_data);
ndk_status conn_notify_disconnect(struct client *c, struct ectx *x, uint32_t qp,
				  uint64_t user_data);
/* qp goes: a peer on this node hears the connection ended; a held NOTIFY_DISCONNECT is cancelled.
 */
void conn_qp_gone(struct ectx *x, struct dqp *qp);
/* The client goes: its listeners close, connections waiting on it are refused. */
void conn_release_all(struct client *c, struct ectx *x);

/*
 * A REQ from another node for port (m->remote_answer and m->remote set):
 * to the port's listener, as a connection of this node goes. False when
 * nobody listens there (m is still the caller's).
 */
bool conn_offer_remote(struct ectx *x, uint32_t port, struct conn_msg *m);

/*
 * A CONNECT to another node was answered (m->kind CONN_ACCEPTED, with
 * m->remote_answer to connect the QP, or CONN_REFUSED with m->status): to
 * the connecting client's engine, which completes it.
 */
void conn_answer(struct ectx *x, struct conn_msg *m);

/* Messages that found another engine's connection ring full go now, as room permits. */
void conn_send_deferred(struct ectx *x);
/* An engine's handling of a message from its connection ring. */
void conn_handle(struct ectx *x, struct client **clients, unsigned int n_clients,
		 struct conn_msg *m);

#endif /* NDKD_CONN_H */
