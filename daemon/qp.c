/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * CQs, QPs and the same-node data path (see qp.h). Statuses, as
 * docs/datapath.md tabulates them: a failed access check completes with
 * ACCESS_VIOLATION and moves the QP to the error state, as an RC QP does on
 * a protection error; so does a malformed work request (INVALID_PARAMETER);
 * once in error every work request completes CANCELLED. A QP that was never
 * connected answers CONNECTION_INVALID and stays as it is.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <ndk/flags.h>

#include <rte_common.h>
#include <rte_pause.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "mrt.h"
#include "qp.h"

#define PAGE 4096u

/* ------------------------------------------------------------------------
 * The QP table
 * --------------------------------------------------------------------- */

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

bool
qpt_read(const struct qpt *t, uint32_t qpn, struct qpt_entry *out)
{
	uint32_t index = qpn >> 8;

	if (index == 0 || index >= t->n_entries)
		return false;
	seq_read_copy(&t->entries[index].seq, out, &t->entries[index], sizeof(*out));
	return (qpn & 0xffu) == out->tag;
}

static void
qpt_set_state(struct qpt *t, struct dqp *qp, uint8_t state)
{
	struct qpt_entry *e = &t->entries[qp->qpn >> 8];

	seq_write_begin(&e->seq);
	e->state = state;
	e->peer_qpn = qp->peer_qpn;
	seq_write_end(&e->seq);
	qp->state = state;
}

/* ------------------------------------------------------------------------
 * Rings in client memory
 * --------------------------------------------------------------------- */

/*
 * Point r at a ring of 'entries' the client placed at 'addr' in one of its
 * regions. ndkd computes the view once, from its own mapping; the indices it
 * owns start at 0 whatever the client wrote there.
 */
static bool
ring_map(struct client *c, struct ndk_ring *r, uint64_t addr, uint64_t entries, bool produce)
{
	struct ndk_abi_ring_desc d;
	const struct region *reg;
	uint32_t id;

	if (entries < NDK_ABI_RING_MIN_ENTRIES || entries > NDK_ABI_RING_MAX_ENTRIES ||
	    (entries & (entries - 1)) != 0 || addr % NDK_ABI_CACHE_LINE != 0)
		return false;
	d = ndk_abi_ring_standalone((uint32_t)entries);
	reg = region_find(c, addr, ndk_abi_ring_bytes((uint32_t)entries), &id);
	if (reg == NULL)
		return false;
	ndk_ring_attach(r, reg->daemon_base + (addr - reg->client_base), &d);
	atomic_store_explicit(produce ? r->kprod : r->kcons, 0, memory_order_relaxed);
	return true;
}

/*
 * Make results visible, and wake the client if it armed the CQ. The fence
 * pairs with the client's after it sets ARMED: either it sees these results
 * on its recheck, or we see its flag here. Only armed CQs cost a syscall.
 */
static void
cq_publish(struct dcq *cq)
{
	uint64_t one = 1;
	int fd;

	ndk_ring_prod_publish(&cq->ring);
	atomic_thread_fence(memory_order_seq_cst);
	if ((atomic_load_explicit(cq->ring.kflags, memory_order_relaxed) & NDK_ABI_CQ_ARMED) == 0)
		return;
	if ((atomic_exchange_explicit(cq->ring.kflags, 0, memory_order_acq_rel) &
	     NDK_ABI_CQ_ARMED) == 0)
		return;
	fd = atomic_load_explicit(&cq->client->event_fd, memory_order_acquire);
	if (fd >= 0 && write(fd, &one, sizeof(one)) < 0) {
		/* a full counter (EAGAIN) already means "wake up" */
	}
}

/* ------------------------------------------------------------------------
 * CQ and QP objects
 * --------------------------------------------------------------------- */

/*
 * The largest SQ or RQ ring a queue of max_queue_depth work requests needs:
 * ndkd sees ring slots, not work requests, so it allows the deepest queue
 * of the biggest WRs (all SGEs, a fast register of frmr_page_count pages,
 * the most inline data).
 */
static uint32_t
queue_ring_max(const struct ndkd_limits *lim)
{
	uint32_t n = ndk_abi_queue_entries(
		lim->max_queue_depth,
		ndk_abi_wr_max_slots(NDKD_MAX_SGE, lim->frmr_page_count, NDK_ABI_MAX_INLINE));

	return n != 0 ? n : NDK_ABI_RING_MAX_ENTRIES;
}

ndk_status
qp_cq_create(struct client *c, struct ctrl_ctx *x, uint64_t ring, uint64_t entries, uint64_t out[6])
{
	struct dcq *cq;
	uint32_t h;

	if (c->n_cqs >= x->lim->max_cqs)
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	if (entries > rte_align32pow2(x->lim->max_cq_depth))
		return NDK_STATUS_INVALID_PARAMETER;
	cq = calloc(1, sizeof(*cq));
	if (cq == NULL)
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	if (!ring_map(c, &cq->ring, ring, entries, true)) {
		free(cq);
		return NDK_STATUS_INVALID_PARAMETER;
	}
	h = obj_new(c, OBJ_CQ, cq);
	if (h == 0) {
		free(cq);
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	}
	cq->handle = h;
	cq->client = c;
	c->n_cqs++;
	out[0] = h;
	return NDK_STATUS_SUCCESS;
}

ndk_status
qp_cq_destroy(struct client *c, uint32_t handle)
{
	struct obj *o = obj_lookup(c, handle, OBJ_CQ);
	struct dcq *cq;

	if (o == NULL)
		return NDK_STATUS_INVALID_HANDLE;
	cq = o->ptr;
	/* NDK: a CQ outlives the QPs that use it; libndk closes them first. */
	if (cq->n_qps != 0)
		return NDK_STATUS_INVALID_DEVICE_STATE;
	free(cq);
	obj_delete(c, handle);
	c->n_cqs--;
	return NDK_STATUS_SUCCESS;
}

ndk_status
qp_create(struct client *c, struct ctrl_ctx *x, uint32_t pd, const struct ndk_abi_qp_create *a,
	  uint64_t out[6])
{
	struct obj *po = obj_lookup(c, pd, OBJ_PD);
	struct obj *ro = obj_lookup(c, a->rcq, OBJ_CQ);
	struct obj *io = obj_lookup(c, a->icq, OBJ_CQ);
	struct qpt_entry *e;
	struct dqp *qp;
	uint32_t index, h;

	if (po == NULL || ro == NULL || io == NULL)
		return NDK_STATUS_INVALID_HANDLE;
	if (c->n_qps >= x->lim->max_qps)
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	if (a->sq_entries > queue_ring_max(x->lim) || a->rq_entries > queue_ring_max(x->lim))
		return NDK_STATUS_INVALID_PARAMETER;
	qp = calloc(1, sizeof(*qp));
	if (qp == NULL)
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	qp->max_isge = a->max_isge;
	qp->max_rsge = a->max_rsge;
	qp->max_inline = a->max_inline;
	if (qp->max_isge > NDKD_MAX_SGE || qp->max_rsge > NDKD_MAX_SGE ||
	    qp->max_inline > NDK_ABI_MAX_INLINE ||
	    !ring_map(c, &qp->sq, a->sq_ring, a->sq_entries, false) ||
	    !ring_map(c, &qp->rq, a->rq_ring, a->rq_entries, false)) {
		free(qp);
		return NDK_STATUS_INVALID_PARAMETER;
	}
	if (rte_ring_dequeue_elem(x->qpt->free_pool, &index, sizeof(index)) != 0) {
		free(qp);
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	}
	h = obj_new(c, OBJ_QP, qp);
	if (h == 0) {
		rte_ring_enqueue_elem(x->qpt->free_pool, &index, sizeof(index));
		free(qp);
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	}
	e = &x->qpt->entries[index];
	seq_write_begin(&e->seq);
	e->tag++;
	e->state = QP_INIT;
	e->client_id = c->id;
	e->pd = pd;
	e->peer_qpn = 0;
	e->engine = x->engine;
	e->qp = qp;
	seq_write_end(&e->seq);
	qp->handle = h;
	qp->pd = pd;
	qp->qpn = (index << 8) | e->tag;
	qp->qp_context = a->qp_context;
	qp->rcq = ro->ptr;
	qp->icq = io->ptr;
	qp->rcq->n_qps++;
	qp->icq->n_qps++;
	qp->state = QP_INIT;
	qp->client = c;
	c->qps[c->n_qps++] = qp;
	po->pd++; /* the PD counts its QPs with its MRs */
	out[0] = h;
	out[1] = qp->qpn;
	return NDK_STATUS_SUCCESS;
}

ndk_status
qp_connect(struct client *c, struct ctrl_ctx *x, uint32_t handle, uint64_t peer)
{
	struct obj *o = obj_lookup(c, handle, OBJ_QP);
	struct qpt_entry pe;
	struct dqp *qp;

	if (o == NULL)
		return NDK_STATUS_INVALID_HANDLE;
	qp = o->ptr;
	if (qp->state != QP_INIT)
		return NDK_STATUS_INVALID_DEVICE_STATE;
	if (peer > UINT32_MAX || !qpt_read(x->qpt, (uint32_t)peer, &pe) || pe.state == QP_FREE ||
	    (uint32_t)peer == qp->qpn)
		return NDK_STATUS_INVALID_PARAMETER;
	/*
	 * RC's connection on one node: each side names the other. Work requests
	 * flow once both have (each is checked against the peer's entry).
	 */
	qp->peer_qpn = (uint32_t)peer;
	qpt_set_state(x->qpt, qp, QP_RTS);
	return NDK_STATUS_SUCCESS;
}

ndk_status
qp_flush(struct client *c, struct ctrl_ctx *x, uint32_t handle)
{
	struct obj *o = obj_lookup(c, handle, OBJ_QP);

	if (o == NULL)
		return NDK_STATUS_INVALID_HANDLE;
	/* NDK flush: everything queued now, and after, completes CANCELLED. */
	qpt_set_state(x->qpt, o->ptr, QP_ERROR);
	return NDK_STATUS_SUCCESS;
}

/* Receiver side: the send is over, with st for the sender. */
static void
send_finish(struct send_msg *m, ndk_status st)
{
	uint32_t expect = SEND_INFLIGHT;

	m->status = st;
	/* pairs with the sender's acquire in send_collect() */
	if (!atomic_compare_exchange_strong_explicit(&m->state, &expect, SEND_DONE,
						     memory_order_acq_rel, memory_order_acquire))
		free(m); /* the sender's QP is gone: nobody else will */
}

/* Sender side: let go of a send still on its way (the QP is going). */
static void
send_orphan(struct send_msg *m)
{
	uint32_t expect = SEND_INFLIGHT;

	if (!atomic_compare_exchange_strong_explicit(&m->state, &expect, SEND_ORPHANED,
						     memory_order_acq_rel, memory_order_acquire))
		free(m); /* already done: ours to free */
}

/* Receiver side: every send waiting on qp fails (the QP is in error or going). */
static void
pending_fail(struct dqp *qp)
{
	while (qp->pending_head != NULL) {
		struct send_msg *m = qp->pending_head;

		qp->pending_head = m->next;
		send_finish(m, NDK_STATUS_CONNECTION_DISCONNECTED);
	}
	qp->pending_tail = NULL;
}

static void
qp_free(struct client *c, struct ctrl_ctx *x, struct dqp *qp)
{
	struct qpt_entry *e = &x->qpt->entries[qp->qpn >> 8];
	struct obj *po = obj_lookup(c, qp->pd, OBJ_PD);
	uint32_t index = qp->qpn >> 8, i;

	seq_write_begin(&e->seq);
	e->state = QP_FREE;
	e->tag++; /* an old qpn never names this entry again */
	e->peer_qpn = 0;
	seq_write_end(&e->seq);
	rte_ring_enqueue_elem(x->qpt->free_pool, &index, sizeof(index));
	if (qp->send_inflight != NULL)
		send_orphan(qp->send_inflight);
	pending_fail(qp);
	qp->rcq->n_qps--;
	qp->icq->n_qps--;
	if (po != NULL)
		po->pd--;
	for (i = 0; i < c->n_qps; i++) {
		if (c->qps[i] == qp) {
			c->qps[i] = c->qps[--c->n_qps];
			break;
		}
	}
	obj_delete(c, qp->handle);
	free(qp);
}

static unsigned int serve_sq(struct client *c, struct dp_ctx *dp, struct dqp *qp,
			     unsigned int budget);
static void rq_flush(struct dp_ctx *dp, struct dqp *qp);

ndk_status
qp_destroy(struct client *c, struct ctrl_ctx *x, uint32_t handle)
{
	struct obj *o = obj_lookup(c, handle, OBJ_QP);
	struct dp_ctx drain = { .ctrl = x, .qpt = x->qpt };

	if (o == NULL)
		return NDK_STATUS_INVALID_HANDLE;
	/* NDK: a close completes outstanding requests first; here, CANCELLED */
	qpt_set_state(x->qpt, o->ptr, QP_ERROR);
	serve_sq(c, &drain, o->ptr, UINT32_MAX);
	rq_flush(&drain, o->ptr);
	qp_free(c, x, o->ptr);
	return NDK_STATUS_SUCCESS;
}

void
qp_release_all(struct client *c, struct ctrl_ctx *x)
{
	uint32_t h;

	while (c->n_qps > 0)
		qp_free(c, x, c->qps[c->n_qps - 1]);
	for (h = 1; h < c->obj_hw; h++) {
		if (c->objs[h].type == OBJ_CQ)
			qp_cq_destroy(c, h);
	}
}

/* ------------------------------------------------------------------------
 * Address resolution: token + range -> pieces of ndkd's mappings
 * --------------------------------------------------------------------- */

struct want {
	uint32_t client_id;
	uint32_t pd;
	uint8_t access; /* MRT_ACCESS_* bits the access needs */
	bool remote;
	const struct client *local; /* for the privileged token's logical addresses */
};

/*
 * Append the pieces of [addr, addr + len) under token to out. Every check of
 * DESIGN section 4 is here: the variant, the state, the client and PD, the
 * access bits, the bounds (overflow-safe), and a privileged token never
 * remote. The entry (and a fast-register MR's page list) is read under its
 * sequence count, so a concurrent (re)registration is never seen half done.
 */
static bool
resolve(struct dp_ctx *dp, uint32_t token, uint64_t addr, uint64_t len, const struct want *w,
	struct dp_chunk *out, uint32_t *n)
{
	const struct mrt *t = dp->ctrl->mrt;
	uint32_t index = MRT_TOKEN_INDEX(token), n0 = *n, s0;
	const struct mrt_entry *ent;
	struct mrt_entry e;

	if (len == 0)
		return true;
	if (index == 0 || index >= t->n_entries)
		return false;
	ent = &t->entries[index];
	for (;;) {
		*n = n0;
		s0 = seq_read_begin(&ent->seq);
		memcpy(&e, ent, sizeof(e));
		if (e.state != MRT_VALID || e.variant != MRT_TOKEN_VARIANT(token) ||
		    e.client_id != w->client_id || e.pd != w->pd ||
		    (e.access & w->access) != w->access)
			goto recheck_fail;
		if (e.kind == MRT_KIND_PRIVILEGED) {
			const struct region *r;
			uint32_t id;

			/* logical addresses of the client's own regions, local access only */
			if (w->remote || w->local == NULL)
				goto recheck_fail;
			r = region_find(w->local, addr, len, &id);
			if (r == NULL || *n == dp->max_chunks)
				goto recheck_fail;
			out[(*n)++] =
				(struct dp_chunk){ r->daemon_base + (addr - r->client_base), len };
		} else if (addr < e.va || len > e.length || addr - e.va > e.length - len) {
			goto recheck_fail;
		} else if (e.kind == MRT_KIND_NORMAL) {
			if (*n == dp->max_chunks)
				goto recheck_fail;
			out[(*n)++] = (struct dp_chunk){
				(uint8_t *)(uintptr_t)(e.daemon_va + (addr - e.va)), len
			};
		} else {
			const uint64_t *pages = (const uint64_t *)(uintptr_t)e.pages;
			uint64_t off = e.fbo + (addr - e.va), left = len;

			while (left > 0) {
				uint64_t in_page = PAGE - off % PAGE;
				uint64_t take = left < in_page ? left : in_page;
				uint8_t *p = (uint8_t *)(uintptr_t)pages[off / PAGE] + off % PAGE;

				if (*n > n0 && out[*n - 1].addr + out[*n - 1].len == p) {
					out[*n - 1].len += take;
				} else {
					if (*n == dp->max_chunks)
						goto recheck_fail;
					out[(*n)++] = (struct dp_chunk){ p, take };
				}
				off += take;
				left -= take;
			}
		}
		if (!seq_read_retry(&ent->seq, s0))
			return true;
		continue;
	recheck_fail:
		/* a failure seen in a torn copy is retried, a real one reported */
		if (!seq_read_retry(&ent->seq, s0))
			return false;
	}
}

static void
copy_chunks(const struct dp_chunk *src, uint32_t ns, const struct dp_chunk *dst, uint32_t nd)
{
	uint64_t so = 0, doff = 0;
	uint32_t i = 0, j = 0;

	while (i < ns && j < nd) {
		uint64_t a = src[i].len - so, b = dst[j].len - doff;
		uint64_t k = a < b ? a : b;

		/*
		 * memmove: a client may point source and destination at the same
		 * bytes (a loopback send or write into its own buffer); the
		 * data is then its problem, but memcpy would be undefined
		 * behaviour in ndkd. Found by the fuzz_wr target.
		 */
		memmove(dst[j].addr + doff, src[i].addr + so, k);
		so += k;
		doff += k;
		if (so == src[i].len) {
			i++;
			so = 0;
		}
		if (doff == dst[j].len) {
			j++;
			doff = 0;
		}
	}
}

int
dp_ctx_init(struct dp_ctx *dp, struct ctrl_ctx *ctrl, struct qpt *qpt, unsigned int engine,
	    struct rte_ring **inboxes)
{
	dp->ctrl = ctrl;
	dp->qpt = qpt;
	dp->engine = engine;
	dp->inboxes = inboxes;
	/* a full-size transfer through fast-register pages, plus one piece per SGE */
	dp->max_chunks = NDKD_MAX_TRANSFER / PAGE + 2 * NDKD_MAX_SGE + 2;
	dp->src = calloc(dp->max_chunks, sizeof(*dp->src));
	dp->dst = calloc(dp->max_chunks, sizeof(*dp->dst));
	return dp->src != NULL && dp->dst != NULL ? 0 : -ENOMEM;
}

void
dp_ctx_fini(struct dp_ctx *dp)
{
	free(dp->src);
	free(dp->dst);
	dp->src = dp->dst = NULL;
}

/* ------------------------------------------------------------------------
 * Work requests
 * --------------------------------------------------------------------- */

struct wr {
	struct ndk_abi_wqe h;
	union {
		struct ndk_abi_sge sge[NDKD_MAX_SGE];
		uint64_t pages[NDKD_MAX_FRMR_PAGES];
		uint8_t data[NDK_ABI_MAX_INLINE];
	};
};

/*
 * Whether qp's peer can take a work request now: gone or in error is a
 * broken connection; not yet connected back to us, not up yet. A copy of
 * its table entry in *peer.
 */
static ndk_status
peer_ready(const struct dp_ctx *dp, const struct dqp *qp, struct qpt_entry *peer)
{
	if (!qpt_read(dp->qpt, qp->peer_qpn, peer) || peer->state == QP_FREE ||
	    peer->state == QP_ERROR)
		return NDK_STATUS_CONNECTION_DISCONNECTED;
	if (peer->state != QP_RTS || peer->peer_qpn != qp->qpn)
		return NDK_STATUS_CONNECTION_INVALID;
	return NDK_STATUS_SUCCESS;
}

static ndk_status
wr_rdma(struct client *c, struct dp_ctx *dp, struct dqp *qp, const struct wr *w, uint32_t *bytes)
{
	bool is_write = w->h.opcode == NDK_ABI_WR_WRITE;
	struct want local = {
		.client_id = c->id,
		.pd = qp->pd,
		.access = is_write ? 0 : MRT_ACCESS_LOCAL_WRITE,
		.local = c,
	};
	struct want remote = {
		.access = is_write ? MRT_ACCESS_REMOTE_WRITE : MRT_ACCESS_REMOTE_READ,
		.remote = true,
	};
	struct dp_chunk *lc = is_write ? dp->src : dp->dst;
	struct dp_chunk *rc = is_write ? dp->dst : dp->src;
	uint32_t nl = 0, nr = 0, i;
	struct qpt_entry peer;
	bool inl = (w->h.flags & NDK_OP_FLAG_INLINE) != 0;
	uint64_t total = 0;
	ndk_status st;

	if (w->h.n_sge > qp->max_isge || w->h.mr_handle != 0 || (w->h.length != 0 && !inl) ||
	    w->h.page_array != 0 || w->h.page_count != 0 || w->h.fbo != 0 ||
	    (inl && (!is_write || w->h.length > qp->max_inline)))
		return NDK_STATUS_INVALID_PARAMETER;
	st = peer_ready(dp, qp, &peer);
	if (st != NDK_STATUS_SUCCESS)
		return st;
	remote.client_id = peer.client_id;
	remote.pd = peer.pd;
	if (inl) {
		/* the data came with the request: no local token to check */
		total = w->h.length;
		lc[nl++] = (struct dp_chunk){ (uint8_t *)w->data, total };
	}
	for (i = 0; i < w->h.n_sge; i++) {
		total += w->sge[i].length;
		if (!resolve(dp, w->sge[i].token, w->sge[i].addr, w->sge[i].length, &local, lc,
			     &nl))
			return NDK_STATUS_ACCESS_VIOLATION;
	}
	if (total > NDKD_MAX_TRANSFER)
		return NDK_STATUS_INVALID_PARAMETER;
	if (w->h.remote_addr + total < w->h.remote_addr ||
	    !resolve(dp, w->h.remote_token, w->h.remote_addr, total, &remote, rc, &nr))
		return NDK_STATUS_ACCESS_VIOLATION;
	copy_chunks(dp->src, is_write ? nl : nr, dp->dst, is_write ? nr : nl);
	*bytes = (uint32_t)total;
	return NDK_STATUS_SUCCESS;
}

/*
 * A send: resolve our SGEs, hand the pieces to the receiver's engine, and
 * keep the WR open until it has been received (RC completes in order).
 * Returns PENDING when the send is on its way.
 */
static ndk_status
wr_send(struct client *c, struct dp_ctx *dp, struct dqp *qp, const struct wr *w)
{
	struct want local = { .client_id = c->id, .pd = qp->pd, .local = c };
	struct qpt_entry peer;
	struct send_msg *m;
	bool inl = (w->h.flags & NDK_OP_FLAG_INLINE) != 0;
	uint64_t total = 0;
	uint32_t n = 0, i;
	ndk_status st;

	if (inl && w->h.length > qp->max_inline)
		return NDK_STATUS_INVALID_PARAMETER;
	if (w->h.n_sge > qp->max_isge || w->h.mr_handle != 0 || (w->h.length != 0 && !inl) ||
	    w->h.page_array != 0 || w->h.page_count != 0 || w->h.fbo != 0 ||
	    w->h.remote_addr != 0 || (w->h.opcode == NDK_ABI_WR_SEND && w->h.remote_token != 0))
		return NDK_STATUS_INVALID_PARAMETER;
	st = peer_ready(dp, qp, &peer);
	if (st != NDK_STATUS_SUCCESS)
		return st;
	for (i = 0; i < w->h.n_sge; i++) {
		total += w->sge[i].length;
		if (!resolve(dp, w->sge[i].token, w->sge[i].addr, w->sge[i].length, &local, dp->src,
			     &n))
			return NDK_STATUS_ACCESS_VIOLATION;
	}
	if (total > NDKD_MAX_TRANSFER)
		return NDK_STATUS_INVALID_PARAMETER;
	/* inline data travels in the message itself, after one chunk that points at it */
	m = malloc(sizeof(*m) +
		   (inl ? sizeof(m->chunks[0]) + w->h.length : n * sizeof(m->chunks[0])));
	if (m == NULL)
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	if (inl) {
		uint8_t *data = (uint8_t *)&m->chunks[1];

		memcpy(data, w->data, w->h.length);
		dp->src[0] = (struct dp_chunk){ data, w->h.length };
		n = 1;
		total = w->h.length;
	}
	atomic_init(&m->state, SEND_INFLIGHT);
	m->status = NDK_STATUS_PENDING;
	m->src_qpn = qp->qpn;
	m->dst_qpn = qp->peer_qpn;
	m->invalidate = w->h.opcode == NDK_ABI_WR_SEND_INVALIDATE;
	m->inv_token = w->h.remote_token;
	m->total = total;
	m->next = NULL;
	m->n_chunks = n;
	memcpy(m->chunks, dp->src, n * sizeof(m->chunks[0]));
	/* multi-producer ring, sized for every QP's one send in flight */
	if (rte_ring_enqueue_elem(dp->inboxes[peer.engine], &m, sizeof(m)) != 0) {
		free(m);
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	}
	qp->send_inflight = m;
	return NDK_STATUS_PENDING;
}

/* NDK_OP_FLAG_* a fast register turns into MR access bits. */
static uint8_t
fr_access(uint32_t flags)
{
	uint8_t a = 0;

	if (flags & NDK_OP_FLAG_ALLOW_LOCAL_WRITE)
		a |= MRT_ACCESS_LOCAL_WRITE;
	if (flags & NDK_OP_FLAG_ALLOW_REMOTE_READ)
		a |= MRT_ACCESS_REMOTE_READ;
	if ((flags & NDK_OP_FLAG_ALLOW_REMOTE_WRITE) == NDK_OP_FLAG_ALLOW_REMOTE_WRITE)
		a |= MRT_ACCESS_REMOTE_WRITE | MRT_ACCESS_LOCAL_WRITE;
	if (flags & NDK_OP_FLAG_RDMA_READ_SINK)
		a |= MRT_ACCESS_READ_SINK;
	return a;
}

/*
 * Check that every page is aligned and inside one of c's regions and, when
 * out is not NULL, store where ndkd maps it. Pages of one request almost
 * always share a region, so the last region hit is tried first. Kept out of
 * line: inlined into serve_sq its loop ran out of registers (callgrind: 30
 * instructions a page inlined, 57 with a region lookup per page).
 */
static __attribute__((noinline)) bool
fr_map_pages(const struct client *c, const uint64_t *va, uint32_t n, uint64_t *out)
{
	uint64_t lo = 0, span = 0, base = 0;
	bool have = false;
	uint32_t i, id;

	for (i = 0; i < n; i++) {
		if (!have || va[i] - lo > span) {
			const struct region *r = region_find(c, va[i], PAGE, &id);

			if (r == NULL)
				return false;
			lo = r->client_base;
			span = r->size - PAGE;
			base = (uintptr_t)r->daemon_base;
			have = true;
		}
		if (va[i] % PAGE != 0)
			return false;
		if (out != NULL)
			out[i] = base + (va[i] - lo);
	}
	return true;
}

static ndk_status
wr_fast_register(struct client *c, struct dp_ctx *dp, struct dqp *qp, const struct wr *w,
		 uint64_t *token)
{
	struct obj *o = obj_lookup(c, w->h.mr_handle, OBJ_MR);
	struct mrt_entry *e;
	uint64_t *pages;
	uint8_t access;
	bool live;

	if (o == NULL || o->mr_kind != NDK_ABI_MR_KIND_FASTREG || !o->registered || o->pd != qp->pd)
		return NDK_STATUS_INVALID_PARAMETER;
	e = mrt_entry(dp->ctrl->mrt, o->mr_index);
	if (w->h.page_count == 0 || w->h.page_count > e->fr_max_pages || w->h.fbo >= PAGE ||
	    w->h.length == 0 || w->h.length > (uint64_t)w->h.page_count * PAGE - w->h.fbo ||
	    w->h.remote_addr == 0 || w->h.remote_addr % PAGE != w->h.fbo ||
	    w->h.remote_addr + w->h.length < w->h.remote_addr)
		return NDK_STATUS_INVALID_PARAMETER;
	access = fr_access(w->h.flags);
	/* remote access on an MR initialised without it (NDK: ACCESS_VIOLATION) */
	if ((access & ~e->access) != 0)
		return NDK_STATUS_ACCESS_VIOLATION;
	/*
	 * An MR that is not VALID has no reader (one that copied it while
	 * VALID retries: invalidating moved its sequence count), so its page
	 * array is written as the pages are checked; a live one is refused
	 * after the checks (a bad WR says what is bad).
	 */
	live = e->state == MRT_VALID;
	pages = o->ptr;
	if (!fr_map_pages(c, w->pages, w->h.page_count, live ? NULL : pages))
		return NDK_STATUS_ACCESS_VIOLATION;
	if (live)
		return NDK_STATUS_INVALID_DEVICE_STATE;
	mrt_write_begin(e);
	e->pages = (uint64_t)(uintptr_t)pages;
	e->n_pages = w->h.page_count;
	e->fbo = w->h.fbo;
	e->va = w->h.remote_addr;
	e->length = w->h.length;
	e->access = access;
	e->variant++; /* the key rotates: the token before this one is dead */
	e->state = MRT_VALID;
	mrt_write_end(e);
	*token = MRT_TOKEN(o->mr_index, e->variant);
	return NDK_STATUS_SUCCESS;
}

static ndk_status
wr_invalidate(struct client *c, struct dp_ctx *dp, struct dqp *qp, const struct wr *w)
{
	struct obj *o = obj_lookup(c, w->h.mr_handle, OBJ_MR);
	struct mrt_entry *e;

	/* NDK: only for fast-registered MRs; registered ones use DeregisterMr */
	if (o == NULL || o->mr_kind != NDK_ABI_MR_KIND_FASTREG || o->pd != qp->pd)
		return NDK_STATUS_INVALID_PARAMETER;
	e = mrt_entry(dp->ctrl->mrt, o->mr_index);
	mrt_write_begin(e);
	e->state = MRT_INVALID;
	mrt_write_end(e);
	return NDK_STATUS_SUCCESS;
}

static const uint32_t wr_flags_allowed[] = {
	[NDK_ABI_WR_READ] = NDK_OP_FLAG_SILENT_SUCCESS | NDK_OP_FLAG_READ_FENCE | NDK_OP_FLAG_DEFER,
	[NDK_ABI_WR_WRITE] = NDK_OP_FLAG_SILENT_SUCCESS | NDK_OP_FLAG_READ_FENCE |
			     NDK_OP_FLAG_DEFER | NDK_OP_FLAG_INLINE,
	[NDK_ABI_WR_FAST_REGISTER] = NDK_OP_FLAG_SILENT_SUCCESS | NDK_OP_FLAG_READ_FENCE |
				     NDK_OP_FLAG_ALLOW_REMOTE_READ | NDK_OP_FLAG_ALLOW_LOCAL_WRITE |
				     NDK_OP_FLAG_ALLOW_REMOTE_WRITE | NDK_OP_FLAG_RDMA_READ_SINK |
				     NDK_OP_FLAG_DEFER,
	[NDK_ABI_WR_INVALIDATE] =
		NDK_OP_FLAG_SILENT_SUCCESS | NDK_OP_FLAG_READ_FENCE | NDK_OP_FLAG_DEFER,
	[NDK_ABI_WR_SEND] = NDK_OP_FLAG_SILENT_SUCCESS | NDK_OP_FLAG_READ_FENCE |
			    NDK_OP_FLAG_SEND_AND_SOLICIT_EVENT | NDK_OP_FLAG_DEFER |
			    NDK_OP_FLAG_INLINE,
	[NDK_ABI_WR_SEND_INVALIDATE] = NDK_OP_FLAG_SILENT_SUCCESS | NDK_OP_FLAG_READ_FENCE |
				       NDK_OP_FLAG_SEND_AND_SOLICIT_EVENT | NDK_OP_FLAG_DEFER |
				       NDK_OP_FLAG_INLINE,
};

static const uint32_t wr_type[] = {
	[NDK_ABI_WR_SEND] = NDK_ABI_RESULT_SEND,
	[NDK_ABI_WR_RECEIVE] = NDK_ABI_RESULT_RECEIVE,
	[NDK_ABI_WR_READ] = NDK_ABI_RESULT_READ,
	[NDK_ABI_WR_WRITE] = NDK_ABI_RESULT_WRITE,
	[NDK_ABI_WR_FAST_REGISTER] = NDK_ABI_RESULT_FAST_REGISTER,
	[NDK_ABI_WR_INVALIDATE] = NDK_ABI_RESULT_INVALIDATE,
	[NDK_ABI_WR_SEND_INVALIDATE] = NDK_ABI_RESULT_SEND,
};

/* Slots a well-formed WR with this header takes, or 0. */
static uint32_t
wr_slots(const struct ndk_abi_wqe *h)
{
	switch (h->opcode) {
	case NDK_ABI_WR_WRITE:
	case NDK_ABI_WR_SEND:
	case NDK_ABI_WR_SEND_INVALIDATE:
		if (h->flags & NDK_OP_FLAG_INLINE)
			return h->n_sge == 0 && h->length <= NDK_ABI_MAX_INLINE
				       ? ndk_abi_inline_slots((uint32_t)h->length)
				       : 0;
		/* fall through */
	case NDK_ABI_WR_READ:
	case NDK_ABI_WR_RECEIVE:
		return h->n_sge <= NDKD_MAX_SGE ? ndk_abi_wqe_slots(h->n_sge) : 0;
	case NDK_ABI_WR_FAST_REGISTER:
		return h->n_sge == 0 && h->page_count <= NDKD_MAX_FRMR_PAGES
			       ? ndk_abi_fr_slots(h->page_count)
			       : 0;
	case NDK_ABI_WR_INVALIDATE:
		return h->n_sge == 0 ? 1 : 0;
	default:
		return 1; /* unknown or not yet served: answered without its body */
	}
}

static ndk_status
wr_execute(struct client *c, struct dp_ctx *dp, struct dqp *qp, const struct wr *w,
	   struct ndk_abi_result *res)
{
	uint64_t token = 0;
	ndk_status st;

	if (w->h.opcode == NDK_ABI_WR_RECEIVE)
		return NDK_STATUS_INVALID_PARAMETER; /* receives go on the receive queue */
	if (w->h.opcode == 0 || w->h.opcode >= RTE_DIM(wr_flags_allowed) ||
	    (w->h.flags & ~wr_flags_allowed[w->h.opcode]) != 0)
		return NDK_STATUS_INVALID_PARAMETER;
	switch (w->h.opcode) {
	case NDK_ABI_WR_READ:
	case NDK_ABI_WR_WRITE:
		st = wr_rdma(c, dp, qp, w, &res->bytes);
		break;
	case NDK_ABI_WR_FAST_REGISTER:
		st = wr_fast_register(c, dp, qp, w, &token);
		res->type_specific = token;
		break;
	case NDK_ABI_WR_SEND:
	case NDK_ABI_WR_SEND_INVALIDATE:
		st = wr_send(c, dp, qp, w);
		break;
	default:
		st = wr_invalidate(c, dp, qp, w);
		break;
	}
	return st;
}

/*
 * Sender side: if the send in flight has been received, write its result
 * (room permitting) and let the QP go on. Returns true when nothing is in
 * flight any more.
 */
static bool
send_collect(struct dp_ctx *dp, struct dqp *qp)
{
	struct send_msg *m = qp->send_inflight;
	bool broken = false;

	/* pairs with the receiver's acq_rel in send_finish() */
	if (atomic_load_explicit(&m->state, memory_order_acquire) != SEND_DONE)
		return false;
	if (m->status != NDK_STATUS_SUCCESS || !qp->send_silent) {
		if (ndk_ring_prod_space(&qp->icq->ring, &broken) == 0)
			return false;
		qp->send_res.status = m->status;
		qp->send_res.bytes = m->status == NDK_STATUS_SUCCESS ? (uint32_t)m->total : 0;
		memcpy(ndk_ring_prod_next(&qp->icq->ring), &qp->send_res, sizeof(qp->send_res));
		qp->sq_dirty = true;
	}
	/* a failed send takes the QP to error, like any failed work request */
	if (m->status != NDK_STATUS_SUCCESS && qp->state == QP_RTS)
		qpt_set_state(dp->qpt, qp, QP_ERROR);
	qp->send_inflight = NULL;
	free(m);
	return true;
}

/* Serve one QP's send queue. Returns WRs done; sets c->broken on impossible indices. */
static unsigned int
serve_sq(struct client *c, struct dp_ctx *dp, struct dqp *qp, unsigned int budget)
{
	static _Thread_local struct wr w;
	struct ndk_abi_result res;
	unsigned int done = 0;
	uint32_t avail, used = 0, ns, i;
	bool broken = false;

	avail = ndk_ring_cons_avail(&qp->sq, &broken);
	while (!broken && done < budget && used < avail) {
		/* a send still on its way holds back everything after it */
		if (qp->send_inflight != NULL && !send_collect(dp, qp))
			break;
		memcpy(&w.h, ndk_ring_slot(&qp->sq, qp->sq.local), sizeof(w.h));
		ns = wr_slots(&w.h);
		/* a WR is published whole: a header promising more than is there is a lie */
		if (ns == 0 || ns != w.h.n_slots || ns > avail - used) {
			broken = true;
			break;
		}
		/* room for its result first: a full CQ stalls the QP, nothing is lost */
		if (ndk_ring_prod_space(&qp->icq->ring, &broken) == 0)
			break;
		for (i = 1; i < ns; i++)
			memcpy((uint8_t *)&w.sge + (i - 1) * NDK_ABI_ENTRY_SIZE,
			       ndk_ring_slot(&qp->sq, qp->sq.local + i), NDK_ABI_ENTRY_SIZE);
		qp->sq.local += ns;
		used += ns;
		memset(&res, 0, sizeof(res));
		res.qp_context = qp->qp_context;
		res.request_context = w.h.request_context;
		res.cookie = w.h.cookie;
		res.type = w.h.opcode < RTE_DIM(wr_type) ? wr_type[w.h.opcode] : 0;
		if (qp->state == QP_ERROR) {
			res.status = NDK_STATUS_CANCELLED;
		} else if (qp->state != QP_RTS) {
			res.status = NDK_STATUS_CONNECTION_INVALID;
		} else {
			res.status = wr_execute(c, dp, qp, &w, &res);
			if (res.status == NDK_STATUS_PENDING) {
				/* its result comes when the receiver has it */
				qp->send_res = res;
				qp->send_silent = (w.h.flags & NDK_OP_FLAG_SILENT_SUCCESS) != 0;
				done++;
				continue;
			}
			/* an RC QP goes to error on any failure but these two */
			if (res.status != NDK_STATUS_SUCCESS &&
			    res.status != NDK_STATUS_NOT_SUPPORTED &&
			    res.status != NDK_STATUS_CONNECTION_INVALID)
				qpt_set_state(dp->qpt, qp, QP_ERROR);
		}
		if (res.status != NDK_STATUS_SUCCESS ||
		    (w.h.flags & NDK_OP_FLAG_SILENT_SUCCESS) == 0)
			memcpy(ndk_ring_prod_next(&qp->icq->ring), &res, sizeof(res));
		done++;
	}
	/* nothing new, but a send may have arrived: its result is due */
	if (qp->send_inflight != NULL)
		send_collect(dp, qp);
	if (done != 0 || qp->sq_dirty) {
		cq_publish(qp->icq);
		ndk_ring_cons_release(&qp->sq);
		qp->sq_dirty = false;
	}
	if (broken)
		c->broken = true;
	return done;
}

/* ------------------------------------------------------------------------
 * Receives
 * --------------------------------------------------------------------- */

/*
 * Copy the next receive WR of qp out of its ring (not consumed yet).
 * Returns 0 when there is none, -1 when the ring lies (client broken).
 */
static int
rq_peek(struct dqp *qp, struct wr *w, uint32_t *slots)
{
	bool broken = false;
	uint32_t avail = ndk_ring_cons_avail(&qp->rq, &broken), i;

	if (broken)
		return -1;
	if (avail == 0)
		return 0;
	memcpy(&w->h, ndk_ring_slot(&qp->rq, qp->rq.local), sizeof(w->h));
	*slots = wr_slots(&w->h);
	if (w->h.opcode != NDK_ABI_WR_RECEIVE || *slots == 0 || *slots != w->h.n_slots ||
	    *slots > avail)
		return -1;
	for (i = 1; i < *slots; i++)
		memcpy((uint8_t *)&w->sge + (i - 1) * NDK_ABI_ENTRY_SIZE,
		       ndk_ring_slot(&qp->rq, qp->rq.local + i), NDK_ABI_ENTRY_SIZE);
	return 1;
}

static void
rq_complete(struct dqp *qp, const struct wr *w, uint32_t slots, ndk_status st, uint32_t bytes,
	    uint32_t type, uint64_t token)
{
	struct ndk_abi_result res = {
		.status = st,
		.bytes = bytes,
		.qp_context = qp->qp_context,
		.request_context = w->h.request_context,
		.type = type,
		.type_specific = token,
		.cookie = w->h.cookie,
	};

	memcpy(ndk_ring_prod_next(&qp->rcq->ring), &res, sizeof(res));
	qp->rq.local += slots;
	cq_publish(qp->rcq);
	ndk_ring_cons_release(&qp->rq);
}

/* SEND_INVALIDATE: the receiver's own fast-registered MR named by token stops working. */
static bool
remote_invalidate(struct dp_ctx *dp, struct dqp *qp, uint32_t token)
{
	uint32_t index = MRT_TOKEN_INDEX(token);
	struct mrt_entry *e;

	if (index == 0 || index >= dp->ctrl->mrt->n_entries)
		return false;
	/* this engine owns qp's client, so it owns the entry if it is the client's */
	e = mrt_entry(dp->ctrl->mrt, index);
	if (e->client_id != qp->client->id || e->pd != qp->pd || e->kind != MRT_KIND_FASTREG ||
	    e->state != MRT_VALID || e->variant != MRT_TOKEN_VARIANT(token))
		return false;
	mrt_write_begin(e);
	e->state = MRT_INVALID;
	mrt_write_end(e);
	return true;
}

/*
 * Deliver the sends waiting on qp into its posted receives, in order, while
 * there are receives and room on the receive CQ. A send with no receive waits
 * (RC with unlimited receiver-not-ready retries).
 */
static void
deliver_pending(struct dp_ctx *dp, struct dqp *qp)
{
	static _Thread_local struct wr w;
	struct client *c = qp->client;
	bool broken = false;

	while (qp->pending_head != NULL) {
		struct send_msg *m = qp->pending_head;
		struct want local = { .client_id = c->id,
				      .pd = qp->pd,
				      .access = MRT_ACCESS_LOCAL_WRITE,
				      .local = c };
		struct qpt_entry src;
		uint64_t room = 0;
		uint32_t slots, n = 0, i;
		ndk_status st = NDK_STATUS_SUCCESS;
		int r;

		if (atomic_load_explicit(&m->state, memory_order_acquire) == SEND_ORPHANED ||
		    !qpt_read(dp->qpt, m->src_qpn, &src) || src.state == QP_FREE) {
			/* the sender went away: nothing to copy from any more */
			qp->pending_head = m->next;
			send_finish(m, NDK_STATUS_CONNECTION_DISCONNECTED);
			continue;
		}
		if (ndk_ring_prod_space(&qp->rcq->ring, &broken) == 0)
			break;
		r = rq_peek(qp, &w, &slots);
		if (r < 0) {
			c->broken = true;
			return;
		}
		if (r == 0)
			break; /* receiver not ready: the send waits */
		qp->pending_head = m->next;
		if (w.h.n_sge > qp->max_rsge)
			st = NDK_STATUS_INVALID_PARAMETER;
		for (i = 0; st == NDK_STATUS_SUCCESS && i < w.h.n_sge; i++) {
			room += w.sge[i].length;
			if (!resolve(dp, w.sge[i].token, w.sge[i].addr, w.sge[i].length, &local,
				     dp->dst, &n))
				st = NDK_STATUS_ACCESS_VIOLATION;
		}
		if (st == NDK_STATUS_SUCCESS && room < m->total)
			st = NDK_STATUS_BUFFER_TOO_SMALL;
		if (st == NDK_STATUS_SUCCESS && m->invalidate &&
		    !remote_invalidate(dp, qp, m->inv_token))
			st = NDK_STATUS_ACCESS_VIOLATION;
		if (st == NDK_STATUS_SUCCESS)
			copy_chunks(m->chunks, m->n_chunks, dp->dst, n);
		rq_complete(qp, &w, slots, st, st == NDK_STATUS_SUCCESS ? (uint32_t)m->total : 0,
			    m->invalidate ? NDK_ABI_RESULT_RECEIVE_INVALIDATE
					  : NDK_ABI_RESULT_RECEIVE,
			    m->invalidate ? m->inv_token : 0);
		send_finish(m, st);
		if (st != NDK_STATUS_SUCCESS) {
			qpt_set_state(dp->qpt, qp, QP_ERROR);
			break;
		}
	}
	if (qp->pending_head == NULL)
		qp->pending_tail = NULL;
}

/* A QP in error: sends waiting on it fail, its posted receives complete CANCELLED. */
static void
rq_flush(struct dp_ctx *dp, struct dqp *qp)
{
	static _Thread_local struct wr w;
	bool broken = false;
	uint32_t slots;
	int r = 0;

	(void)dp;
	pending_fail(qp);
	while (ndk_ring_prod_space(&qp->rcq->ring, &broken) != 0 &&
	       (r = rq_peek(qp, &w, &slots)) > 0)
		rq_complete(qp, &w, slots, NDK_STATUS_CANCELLED, 0, NDK_ABI_RESULT_RECEIVE, 0);
	if (broken || r < 0)
		qp->client->broken = true;
}

void
qp_deliver(struct dp_ctx *dp, struct send_msg *m)
{
	struct qpt_entry e;
	struct dqp *qp;

	if (!qpt_read(dp->qpt, m->dst_qpn, &e) || e.state == QP_FREE || e.engine != dp->engine) {
		send_finish(m, NDK_STATUS_CONNECTION_DISCONNECTED);
		return;
	}
	qp = e.qp;
	/* RC: the receiver must be connected back to the sender, and not in error */
	if (e.state != QP_RTS || e.peer_qpn != m->src_qpn) {
		send_finish(m, e.state == QP_ERROR ? NDK_STATUS_CONNECTION_DISCONNECTED
						   : NDK_STATUS_CONNECTION_INVALID);
		return;
	}
	m->next = NULL;
	if (qp->pending_tail != NULL)
		qp->pending_tail->next = m;
	else
		qp->pending_head = m;
	qp->pending_tail = m;
	deliver_pending(dp, qp);
}

unsigned int
qp_serve(struct client *c, struct dp_ctx *dp, unsigned int budget)
{
	unsigned int i, done = 0;

	for (i = 0; i < c->n_qps && !c->broken; i++) {
		struct dqp *qp = c->qps[i];

		if (qp->state == QP_ERROR)
			rq_flush(dp, qp);
		else if (qp->pending_head != NULL)
			deliver_pending(dp, qp);
		done += serve_sq(c, dp, qp, budget);
	}
	return done;
}
