/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The QP table: every QP of the node has an entry, named by its qpn =
 * (index << 8) | tag, so a peer can be named, and looked up by any engine,
 * like an MR token. The engine that owns a QP writes its entry under a
 * sequence count; other engines read consistent copies.
 */
#ifndef NDKD_QPT_H
#define NDKD_QPT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct dqp;

enum qp_state {
	QP_FREE = 0,
	QP_INIT,  /* created, not connected */
	QP_RTS,	  /* connected to its peer */
	QP_ERROR, /* a failed work request or a flush: everything completes CANCELLED */
};

struct qpt_entry {
	_Atomic uint32_t seq;
	uint8_t state; /* enum qp_state */
	uint8_t tag;
	uint16_t reserved;
	uint32_t client_id;
	uint32_t pd;
	uint32_t peer_qpn;
	uint32_t engine; /* the engine that owns the QP */
	struct dqp *qp;	 /* dereferenced by that engine only */
};
_Static_assert(sizeof(struct qpt_entry) == 32, "QP table entry");

struct qpt {
	struct qpt_entry *entries;
	uint32_t n_entries;
	struct rte_ring *free_pool;
};

/* n_entries includes the reserved index 0. Returns 0 or -errno. */
int qpt_create(struct qpt *t, uint32_t n_entries);
void qpt_destroy(struct qpt *t);
/* Entries not in use (the free pool's count). */
unsigned int qpt_free_count(const struct qpt *t);

/* A new entry in state INIT owned by 'engine'; its qpn, or 0 when the table is full. */
uint32_t qpt_alloc(struct qpt *t, uint32_t client_id, uint32_t pd, uint32_t engine, struct dqp *qp);
/* Back to FREE; the tag moves on, so the old qpn never names the entry again. */
void qpt_free(struct qpt *t, uint32_t qpn);
/* Owner side: publish a QP's state and peer. */
void qpt_set(struct qpt *t, uint32_t qpn, uint8_t state, uint32_t peer_qpn);
/* A consistent copy of the entry qpn names; false when qpn is malformed or stale. */
bool qpt_read(const struct qpt *t, uint32_t qpn, struct qpt_entry *out);

#endif /* NDKD_QPT_H */
