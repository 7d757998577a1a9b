/* SPDX-License-Identifier: BSD-3-Clause */
/* The QP table (qpt.h). Free indices live in a DPDK ring; no lock on any path. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_common.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "qpt.h"
#include "seqcount.h"

int
qpt_create(struct qpt *t, uint32_t n_entries)
{
	uint32_t count = rte_align32pow2(n_entries), i;
	ssize_t bytes;
	void *mem;

	memset(t, 0, sizeof(*t));
	if (n_entries < 2 || n_entries > (1u << 24))
		return -EINVAL;
	t->entries = calloc(n_entries, sizeof(*t->entries));
	bytes = rte_ring_get_memsize_elem(sizeof(uint32_t), count);
	if (t->entries == NULL || bytes < 0 ||
	    posix_memalign(&mem, RTE_CACHE_LINE_SIZE, (size_t)bytes) != 0) {
		qpt_destroy(t);
		return -ENOMEM;
	}
	t->free_pool = mem;
	t->n_entries = n_entries;
	if (rte_ring_init(t->free_pool, "ndkd_qpt_free", count, 0) != 0) {
		qpt_destroy(t);
		return -EINVAL;
	}
	for (i = 1; i < n_entries; i++)
		rte_ring_enqueue_elem(t->free_pool, &i, sizeof(i));
	return 0;
}

void
qpt_destroy(struct qpt *t)
{
	free(t->entries);
	free(t->free_pool);
	memset(t, 0, sizeof(*t));
}

unsigned int
qpt_free_count(const struct qpt *t)
{
	return rte_ring_count(t->free_pool);
}

uint32_t
qpt_alloc(struct qpt *t, uint32_t client_id, uint32_t pd, uint32_t engine, struct dqp *qp)
{
	struct qpt_entry *e;
	uint32_t index;

	if (rte_ring_dequeue_elem(t->free_pool, &index, sizeof(index)) != 0)
		return 0;
	e = &t->entries[index];
	seq_write_begin(&e->seq);
	e->tag++;
	e->state = QP_INIT;
	e->client_id = client_id;
	e->pd = pd;
	e->peer_qpn = 0;
	e->engine = engine;
	e->qp = qp;
	seq_write_end(&e->seq);
	return (index << 8) | e->tag;
}

void
qpt_free(struct qpt *t, uint32_t qpn)
{
	uint32_t index = qpn >> 8;
	struct qpt_entry *e = &t->entries[index];

	seq_write_begin(&e->seq);
	e->state = QP_FREE;
	e->tag++;
	e->peer_qpn = 0;
	seq_write_end(&e->seq);
	rte_ring_enqueue_elem(t->free_pool, &index, sizeof(index));
}

void
qpt_set(struct qpt *t, uint32_t qpn, uint8_t state, uint32_t peer_qpn)
{
	struct qpt_entry *e = &t->entries[qpn >> 8];

	seq_write_begin(&e->seq);
	e->state = state;
	e->peer_qpn = peer_qpn;
	seq_write_end(&e->seq);
}

bool
qpt_read(const struct qpt *t, uint32_t qpn, struct qpt_entry *out)
{
	uint32_t index = qpn >> 8;

	if (index == 0 || index >= t->n_entries)
		return false;
	seq_read_copy(&t->entries[index].seq, out, &t->entries[index], sizeof(*out));
	return (qpn & 0xffu) == out->tag;
}
