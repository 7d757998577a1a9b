/* SPDX-License-Identifier: BSD-3-Clause */
/* An endpoint for data-path tests: adapter, PD, CQ, QP and a registered buffer. */
#ifndef NDK_RDMA_UTIL_H
#define NDK_RDMA_UTIL_H

#include <string.h>

#include "ndk_sync.h"

struct side {
	struct ndk_adapter *ad;
	struct ndk_pd *pd;
	struct ndk_cq *cq;
	struct ndk_qp *qp;
	struct ndk_mr *mr;
	uint8_t *buf;
	size_t len;
	uint32_t token;	 /* the MR's local token: for this side's own SGEs */
	uint32_t rtoken; /* its remote token: what a peer names it by */
	int notified;	 /* CQ notifications received */
};

static inline void
side_notified(void *ctx, ndk_status st)
{
	(void)st;
	((struct side *)ctx)->notified++;
}

static inline ndk_status
side_qp(struct side *s)
{
	struct wait w = { 0 };
	ndk_status st =
		ndk_qp_create(s->pd, s->cq, s->cq, s, 64, 64, 4, 4, 64, w_create, &w, &s->qp);

	st = w_finish(s->ad, &w, st);
	if (st == NDK_STATUS_SUCCESS)
		s->qp = (struct ndk_qp *)w.obj;
	return st;
}

/* Open everything; the buffer is registered with mr_flags (0: no MR). */
static inline bool
side_open(struct side *s, const char *sock, size_t len, uint32_t mr_flags)
{
	struct wait w = { 0 };

	memset(s, 0, sizeof(*s));
	s->len = len;
	if (ndk_adapter_open(sock, NULL, &s->ad) != NDK_STATUS_SUCCESS ||
	    sync_pd(s->ad, &s->pd) != NDK_STATUS_SUCCESS)
		return false;
	if (w_finish(s->ad, &w,
		     ndk_cq_create_with_notification(s->ad, 1024, side_notified, s, w_create, &w,
						     &s->cq)) != NDK_STATUS_SUCCESS)
		return false;
	s->cq = (struct ndk_cq *)w.obj;
	if (side_qp(s) != NDK_STATUS_SUCCESS)
		return false;
	s->buf = ndk_mem_alloc(s->ad, len, 4096);
	if (s->buf == NULL)
		return false;
	memset(s->buf, 0, len);
	if (mr_flags != 0) {
		if (sync_mr(s->ad, s->pd, false, &s->mr) != NDK_STATUS_SUCCESS ||
		    sync_register(s->ad, s->mr, s->buf, len, mr_flags) != NDK_STATUS_SUCCESS)
			return false;
		s->token = ndk_mr_get_local_token(s->mr);
		s->rtoken = ndk_mr_get_remote_token(s->mr);
	}
	return true;
}

/* Connect qp (of ad) to the QP of this node numbered peer_qpn. */
static inline ndk_status
qp_connect_to(struct ndk_adapter *ad, struct ndk_qp *qp, uint32_t peer_qpn)
{
	struct ndk_qp_address a = { .family = NDK_ADDRESS_LOCAL, .qpn = peer_qpn };
	struct wait w = { 0 };

	return w_finish(ad, &w, ndk_qp_connect(qp, &a, w_req, &w));
}

static inline ndk_status
side_connect(struct side *s, uint32_t peer_qpn)
{
	return qp_connect_to(s->ad, s->qp, peer_qpn);
}

static inline uint32_t
qp_qpn(struct ndk_qp *qp)
{
	struct ndk_qp_address a;

	ndk_qp_get_address(qp, &a);
	return a.qpn;
}

static inline uint32_t
side_qpn(struct side *s)
{
	return qp_qpn(s->qp);
}

/* Replace a QP (after an error) with a fresh one; the peers reconnect. */
static inline bool
pair_reset(struct side *a, struct side *b)
{
	if (a->qp != NULL)
		sync_close_qp(a->ad, a->qp);
	if (b->qp != NULL)
		sync_close_qp(b->ad, b->qp);
	return side_qp(a) == NDK_STATUS_SUCCESS && side_qp(b) == NDK_STATUS_SUCCESS &&
	       side_connect(a, side_qpn(b)) == NDK_STATUS_SUCCESS &&
	       side_connect(b, side_qpn(a)) == NDK_STATUS_SUCCESS;
}

/* The next result on s's CQ (5 s at most); status UINT32_MAX when none came. */
static inline struct ndk_result_ex
side_result(struct side *s)
{
	struct ndk_result_ex r = { .status = UINT32_MAX };
	uint64_t deadline = t_deadline_ms(5000);

	while (ndk_cq_get_results_ex(s->cq, &r, 1) == 0 && t_now_ns() < deadline)
		ndk_adapter_progress(s->ad, 0);
	return r;
}

/* RDMA write (or read) local [off, off + len) <-> remote addr under rtoken; the result. */
static inline struct ndk_result_ex
side_rdma(struct side *s, bool write, uint64_t off, uint32_t len, uint32_t ltoken, uint64_t raddr,
	  uint32_t rtoken)
{
	struct ndk_sge sge = { .logical_address = (uintptr_t)(s->buf + off),
			       .length = len,
			       .memory_region_token = ltoken };
	struct ndk_result_ex r = { .status = UINT32_MAX };
	ndk_status st = write ? ndk_qp_write(s->qp, &r, &sge, 1, raddr, rtoken, 0)
			      : ndk_qp_read(s->qp, &r, &sge, 1, raddr, rtoken, 0);

	if (st != NDK_STATUS_SUCCESS) {
		r.status = st;
		return r;
	}
	r = side_result(s);
	return r;
}

static inline void
side_close(struct side *s)
{
	if (s->ad != NULL)
		ndk_adapter_close(s->ad); /* frees what is left, here and in ndkd */
	memset(s, 0, sizeof(*s));
}

#endif /* NDK_RDMA_UTIL_H */
