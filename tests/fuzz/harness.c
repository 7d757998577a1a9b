/* SPDX-License-Identifier: BSD-3-Clause */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <rte_byteorder.h>
#include <rte_eal.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "conn.h"
#include "harness.h"
#include "mrt.h"
#include "provider.h"
#include "qpt.h"
#include "roce/port.h"

#define FZ_MEM		(4u << 20)
#define FZ_CQ_ENTRIES	1024u
#define FZ_SQ_ENTRIES	512u
#define FZ_RQ_ENTRIES	64u
#define FZ_OFF_CQ	0u
#define FZ_OFF_QP(i)	((128u + 128u * (i)) << 10) /* SQ, then RQ 64 KiB on */
#define FZ_OFF_SRQ	FZ_OFF_QP(2)
#define FZ_OFF_MR	(1u << 20) /* the registered MR: 64 KiB */
#define FZ_MR_LEN	(64u << 10)
#define FZ_OFF_FREE	(2u << 20) /* pages for fast registers, data for SGEs */
#define FZ_CTRL_ENTRIES 256u

static struct mrt mrt;
static struct qpt qpt;
static struct listen_table *listen_tbl;
static struct provider prov;
static struct engine_set eng;
static struct ndk_abi_adapter_info info;
static uint64_t mrt_baseline;
static unsigned int qpt_baseline;
static uint32_t next_id;
/* RoCEv2 mode: a ring ethdev as the port; frames go in through its ring */
static bool roce_mode;
static struct rte_ring *port_rx;
static struct rte_mempool *frame_pool;

static const struct ndkd_limits lim = {
	.mr_table_entries = 4096,
	.max_mrs = 512,
	.max_pds = 16,
	.max_regions = NDKD_MAX_REGIONS,
	.max_region_bytes = 1ull << 30,
	.max_registered_bytes = 1ull << 30,
	.frmr_page_count = 256,
	.max_qps = 8,
	.max_cqs = 8,
	.max_srqs = 4,
	.max_queue_depth = 256,
	.max_cq_depth = FZ_CQ_ENTRIES,
};

static void
die(const char *what)
{
	fprintf(stderr, "fuzz harness: %s\n", what);
	abort();
}

void
fz_init(void)
{
	static bool done;
	char prefix[64];
	char *argv[] = { "fuzz",
			 "-l",
			 "0",
			 "--no-huge",
			 "-m",
			 "64",
			 "--no-pci",
			 "--file-prefix",
			 prefix,
			 "--log-level=*:error",
			 "--no-telemetry",
			 NULL };

	if (done)
		return;
	done = true;
	snprintf(prefix, sizeof(prefix), "ndkfuzz-%d", (int)getpid());
	if (rte_eal_init((int)(sizeof(argv) / sizeof(argv[0])) - 1, argv) < 0)
		die("EAL");
	listen_tbl = calloc(1, sizeof(*listen_tbl));
	provider_set_ops(&prov, &soft_provider_ops);
	if (roce_mode) {
		static struct ndkd_opts o;

		frame_pool = rte_pktmbuf_pool_create("fzframes", 2047, 0, 0,
						     RTE_PKTMBUF_HEADROOM + 9216, SOCKET_ID_ANY);
		if (frame_pool == NULL)
			die("frame pool");
		opts_defaults(&o);
		o.ports[0] = (struct ndkd_port_cfg){ "net_ring_fz", FZ_PORT_IP, 24 };
		o.n_ports = 1;
		if (prov.ops.init(&prov, &o) != 0)
			die("provider with a port");
		/*
		 * The ring PMD made without arguments loops its TX ring back as
		 * its RX ring: frames go in there, and what ndkd sends comes back
		 * too (addressed to the peer, so its own RX drops it).
		 */
		port_rx = rte_ring_lookup("ETH_RXTX0_net_ring_fz");
		if (port_rx == NULL)
			die("the ring port's ring");
	} else if (prov.ops.init(&prov, NULL) != 0) {
		die("provider");
	}
	if (listen_tbl == NULL || mrt_create(&mrt, lim.mr_table_entries) != 0 ||
	    qpt_create(&qpt, 64) != 0 ||
	    engines_create(&eng, 1, 8, &mrt, &qpt, listen_tbl, &lim, &prov) != 0)
		die("tables");
	rte_spinlock_init(&listen_tbl->lock);
	eng.engines[0].lcore = rte_lcore_id();
	engine_adopt(&eng.engines[0]);
	info.max_mrs = lim.max_mrs;
	info.max_pds = lim.max_pds;
	info.max_qps = lim.max_qps;
	info.max_cqs = lim.max_cqs;
	info.max_srqs = lim.max_srqs;
	info.frmr_page_count = lim.frmr_page_count;
	mrt_baseline = atomic_load(&mrt.in_use);
	qpt_baseline = qpt_free_count(&qpt);
}

void
fz_ring_view(struct ndk_ring *r, void *base, uint32_t entries)
{
	const struct ndk_abi_ring_desc d = ndk_abi_ring_standalone(entries);

	ndk_ring_attach(r, base, &d);
}

/*
 * Drain a ring the daemon produces; the contents do not matter to a fuzz
 * target. With FZ_VERBOSE set, QP results are printed (writing seeds).
 */
static void
drain(struct ndk_ring *r, bool results)
{
	static int verbose = -1;
	bool broken = false;
	uint32_t n;

	if (verbose < 0)
		verbose = getenv("FZ_VERBOSE") != NULL;
	while ((n = ndk_ring_cons_avail(r, &broken)) != 0 && !broken) {
		while (n-- > 0) {
			const struct ndk_abi_result *res = ndk_ring_cons_next(r);

			if (verbose && results)
				fprintf(stderr, "result: type %u status 0x%08x bytes %u\n",
					res->type, res->status, res->bytes);
		}
		ndk_ring_cons_release(r);
	}
}

static bool
attached(const struct client *c)
{
	unsigned int i;

	for (i = 0; i < eng.engines[0].n_clients; i++) {
		if (eng.engines[0].clients[i] == c)
			return true;
	}
	return false;
}

void
fz_run(struct fz_client *f)
{
	struct engine_msg msgs[16];
	unsigned int idle = 0, rounds = 0;

	/* until nothing moves twice in a row; bounded, in case a bug makes it spin */
	while (idle < 2 && rounds++ < 10000) {
		unsigned int served = engine_poll_once(&eng.engines[0]);

		drain(&f->cq, false);
		if (f->qcq.entries != 0)
			drain(&f->qcq, true);
		while (engines_collect(&eng, msgs, 16) != 0)
			; /* BROKEN replies: the client is already let go */
		idle = served == 0 ? idle + 1 : 0;
	}
}

uint32_t
fz_ctrl(struct fz_client *f, uint32_t op, uint32_t handle, const uint64_t *args, unsigned int nargs,
	uint64_t out[6])
{
	struct ndk_abi_sqe e = { .opcode = (uint8_t)op, .handle = handle, .user_data = 0x5eed };
	bool broken = false;
	unsigned int i, tries;

	for (i = 0; i < nargs && i < 6; i++)
		e.args[i] = args[i];
	if (ndk_ring_prod_space(&f->sq, &broken) == 0)
		die("control ring full");
	memcpy(ndk_ring_prod_next(&f->sq), &e, sizeof(e));
	ndk_ring_prod_publish(&f->sq);
	for (tries = 0; tries < 1000; tries++) {
		if (ndk_ring_cons_avail(&f->cq, &broken) != 0) {
			struct ndk_abi_cqe r;

			memcpy(&r, ndk_ring_cons_next(&f->cq), sizeof(r));
			ndk_ring_cons_release(&f->cq);
			if (out != NULL)
				memcpy(out, r.out, sizeof(r.out));
			return r.status;
		}
		engine_poll_once(&eng.engines[0]);
	}
	die("no answer to a control request");
	return 0;
}

static uint32_t
must(struct fz_client *f, uint32_t op, uint32_t handle, const uint64_t *args, unsigned int n,
     uint64_t out[6])
{
	if (fz_ctrl(f, op, handle, args, n, out) != NDK_STATUS_SUCCESS)
		die("setting up a client's objects");
	return (uint32_t)out[0];
}

static void
make_objects(struct fz_client *f, bool srq)
{
	uint64_t out[6], base = (uint64_t)(uintptr_t)f->mem;
	unsigned int i;

	f->pd = must(f, NDK_ABI_OP_PD_CREATE, 0, NULL, 0, out);
	f->priv_token = (uint32_t)out[1];
	f->mr = must(f, NDK_ABI_OP_MR_CREATE, f->pd, (uint64_t[]){ NDK_ABI_MR_KIND_NORMAL }, 1,
		     out);
	f->token = must(f, NDK_ABI_OP_MR_REGISTER, f->mr,
			(uint64_t[]){ base + FZ_OFF_MR, FZ_MR_LEN, 0x7 }, 3, out);
	f->fr = must(f, NDK_ABI_OP_MR_CREATE, f->pd, (uint64_t[]){ NDK_ABI_MR_KIND_FASTREG }, 1,
		     out);
	f->fr_token = must(f, NDK_ABI_OP_MR_INIT_FR, f->fr, (uint64_t[]){ 64, 1 }, 2, out);
	f->cqh = must(f, NDK_ABI_OP_CQ_CREATE, 0, (uint64_t[]){ base + FZ_OFF_CQ, FZ_CQ_ENTRIES },
		      2, out);
	fz_ring_view(&f->qcq, f->mem + FZ_OFF_CQ, FZ_CQ_ENTRIES);
	ndk_ring_set_stamp(&f->qcq, NDK_ABI_RESULT_STAMP);
	if (srq)
		f->srq = must(f, NDK_ABI_OP_SRQ_CREATE, f->pd,
			      (uint64_t[]){ base + FZ_OFF_SRQ, FZ_RQ_ENTRIES, 4, 2 }, 4, out);
	for (i = 0; i < 2; i++) {
		uint64_t a[6] = {
			f->cqh | (uint64_t)f->cqh << 32,
			base + FZ_OFF_QP(i),
			base + FZ_OFF_QP(i) + (64u << 10),
			FZ_SQ_ENTRIES | (uint64_t)FZ_RQ_ENTRIES << 32,
			4 | 4u << 16 | (uint64_t)NDK_ABI_MAX_INLINE << 32,
			0,
		};

		if (srq && i == 1) {
			/* rq_ring is the SRQ's handle; no RQ entries, no receive SGEs */
			a[2] = f->srq;
			a[3] = FZ_SQ_ENTRIES;
			a[4] = 4 | (uint64_t)NDK_ABI_MAX_INLINE << 32;
		}
		f->qp[i] = must(
			f, srq && i == 1 ? NDK_ABI_OP_QP_CREATE_WITH_SRQ : NDK_ABI_OP_QP_CREATE,
			f->pd, a, 6, out);
		f->qpn[i] = (uint32_t)out[1];
		fz_ring_view(&f->qsq[i], f->mem + FZ_OFF_QP(i), FZ_SQ_ENTRIES);
		fz_ring_view(&f->qrq[i],
			     f->mem + (srq && i == 1 ? FZ_OFF_SRQ : FZ_OFF_QP(i) + (64u << 10)),
			     FZ_RQ_ENTRIES);
		ndk_ring_set_stamp_wr(&f->qsq[i]);
		ndk_ring_set_stamp_wr(&f->qrq[i]);
	}
	f->psn1 = (uint32_t)out[2];
	if (roce_mode) {
		/* QP 1 to the peer behind the port; QP 0 stays unconnected */
		uint64_t gid[2] = { 0, (0xffffull << 16) | (uint64_t)rte_cpu_to_be_32(FZ_PEER_IP)
								   << 32 };

		must(f, NDK_ABI_OP_QP_CONNECT_ROCEV2, f->qp[1],
		     (uint64_t[]){ FZ_PEER_QPN | (uint64_t)FZ_PEER_PSN << 32, gid[0], gid[1],
				   1024 },
		     4, out);
		return;
	}
	must(f, NDK_ABI_OP_QP_CONNECT, f->qp[0], (uint64_t[]){ f->qpn[1] }, 1, out);
	must(f, NDK_ABI_OP_QP_CONNECT, f->qp[1], (uint64_t[]){ f->qpn[0] }, 1, out);
}

void
fz_init_roce(void)
{
	roce_mode = true;
	fz_init();
}

bool
fz_frame_in(const void *frame, size_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(frame_pool);
	char *d;

	if (m == NULL)
		return false;
	d = rte_pktmbuf_append(m, (uint16_t)len);
	if (d == NULL || rte_ring_enqueue(port_rx, m) != 0) {
		rte_pktmbuf_free(m);
		return false;
	}
	memcpy(d, frame, len);
	return true;
}

void
fz_port_mac(uint8_t mac[6])
{
	memcpy(mac, roce_ports_get()->port[0].mac, 6);
}

void
fz_patch(const struct fz_client *f, uint8_t *buf, size_t len)
{
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		uint64_t w;
		uint32_t h[2];
		unsigned int k;

		memcpy(&w, buf + i, 8);
		if (w >> 48 == FZ_ADDR_TAG) {
			w = (uint64_t)(uintptr_t)f->mem + (w & 0xffffffffu);
			memcpy(buf + i, &w, 8);
			continue;
		}
		memcpy(h, &w, 8);
		for (k = 0; k < 2; k++) {
			if (h[k] == FZ_TOKEN_MR)
				h[k] = f->token;
			else if (h[k] == FZ_TOKEN_FR)
				h[k] = f->fr_token;
			else if (h[k] == FZ_TOKEN_PRIV)
				h[k] = f->priv_token;
			else if (h[k] == FZ_TOKEN_FR_NEXT) /* the variant is the low byte */
				h[k] = (f->fr_token & ~0xffu) | ((f->fr_token + 1) & 0xffu);
		}
		memcpy(buf + i, h, 8);
	}
}

void
fz_client_open(struct fz_client *f, bool objects, bool srq)
{
	struct engine *e = &eng.engines[0];
	struct ndk_abi_region *h;

	memset(f, 0, sizeof(*f));
	f->c = calloc(1, sizeof(*f->c));
	if (f->c == NULL)
		die("client");
	f->c->memfd = -1;
	f->c->sock = -1;
	atomic_store(&f->c->wake_fd, -1);
	f->c->id = ++next_id;
	f->c->state = CLIENT_ACTIVE;
	if (channel_create(f->c, FZ_CTRL_ENTRIES, &info) != 0)
		die("channel");
	h = f->c->region;
	ndk_ring_attach_ctrl(&f->sq, &f->cq, f->c->region, h);
	f->mem_size = FZ_MEM;
	f->mem = mmap(NULL, FZ_MEM, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (f->mem == MAP_FAILED)
		die("client memory");
	/* in one process the client's addresses and ndkd's are the same */
	f->c->regions[0] = (struct region){ (uint64_t)(uintptr_t)f->mem, FZ_MEM, f->mem };
	f->c->region_bytes = FZ_MEM;
	atomic_store(&f->c->n_regions, 1);
	e->clients[e->n_clients++] = f->c;
	if (objects)
		make_objects(f, srq);
}

void
fz_client_close(struct fz_client *f)
{
	struct engine *e = &eng.engines[0];
	unsigned int i;

	fz_run(f);
	for (i = 0; i < e->n_clients; i++) {
		if (e->clients[i] == f->c) {
			e->clients[i] = e->clients[--e->n_clients];
			break;
		}
	}
	/* as MSG_REMOVE does; twice is harmless when BROKEN already did it */
	ctrl_release_all(f->c, &e->x);
	/* messages still addressed to its QPs find nothing */
	engine_poll_once(e);
	if (atomic_load(&mrt.in_use) != mrt_baseline)
		die("MR table entries leaked");
	if (qpt_free_count(&qpt) != qpt_baseline)
		die("QP table entries leaked");
	if (attached(f->c))
		die("client still attached");
	channel_destroy(f->c); /* unmaps its region too */
	free(f->c);
	f->c = NULL;
}
