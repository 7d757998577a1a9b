/* SPDX-License-Identifier: BSD-3-Clause */
/* The verbs provider (verbs.h): device, PDs, memory, QPs, the data path. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_hash.h>
#include <rte_lcore.h>
#include <rte_telemetry.h>

#include <ndk/flags.h>

#include "../../log.h"
#include "../../mr.h"
#include "../../mrt.h"
#include "../../qp.h"
#include "../../wq.h"
#include "verbs.h"

#define RECV_WR (1ull << 63) /* a device wr_id's mark for a receive */
#define INV_WR	(1ull << 62) /* ... for a window's invalidate before its QP goes (| index) */

static inline struct verbs_qp *
vqp(struct dqp *qp)
{
	return (struct verbs_qp *)qp->prov;
}

static inline struct dqp *
vqp_dqp(struct verbs_qp *v)
{
	return (struct dqp *)((unsigned char *)v - offsetof(struct dqp, prov));
}

static struct verbs_pd *
pd_of(struct client *c, uint32_t handle)
{
	struct obj *o = obj_lookup(c, handle, OBJ_PD);

	return o != NULL ? o->ptr : NULL;
}

/* ------------------------------------------------------------------------
 * The device
 * --------------------------------------------------------------------- */

/* The device named, or the first (name NULL); NULL with a reason in *why. */
static struct ibv_device *
find_device(struct ibv_device **list, int n, const char *name, bool (*match)(struct ibv_device *),
	    const char **why)
{
	int i;

	if (list == NULL || n == 0) {
		*why = "no RDMA device found";
		return NULL;
	}
	for (i = 0; i < n; i++) {
		if ((name == NULL || strcmp(ibv_get_device_name(list[i]), name) == 0) &&
		    (match == NULL || match(list[i])))
			return list[i];
	}
	*why = name != NULL ? "no such RDMA device (--device)"
			    : "no RDMA device this provider drives";
	return NULL;
}

static int
verbs_probe(struct provider *p, const struct ndkd_opts *o, const char **why)
{
	struct ibv_device **list;
	int n = 0, rc;

	(void)p;
	list = ibv_get_device_list(&n);
	rc = find_device(list, n, o->device, NULL, why) != NULL ? 0 : -ENODEV;
	if (list != NULL)
		ibv_free_device_list(list);
	return rc;
}

static uint32_t
mtu_bytes(enum ibv_mtu m)
{
	return m >= IBV_MTU_256 && m <= IBV_MTU_4096 ? 128u << m : 1024u;
}

/* An IPv4-mapped GID's address (host order), or 0. */
static uint32_t
gid_ipv4(const union ibv_gid *g)
{
	static const uint8_t prefix[12] = { [10] = 0xff, [11] = 0xff };

	if (memcmp(g->raw, prefix, sizeof(prefix)) != 0)
		return 0;
	return (uint32_t)g->raw[12] << 24 | (uint32_t)g->raw[13] << 16 | (uint32_t)g->raw[14] << 8 |
	       g->raw[15];
}

/* The GID to send from: the one asked for, or the port's first IPv4-mapped RoCEv2 GID. */
static int
pick_gid(struct verbs *v, unsigned int want)
{
	struct ibv_gid_entry ge;
	int i;

	for (i = 0; i < v->port_attr.gid_tbl_len; i++) {
		if (want != NDKD_GID_AUTO && (unsigned int)i != want)
			continue;
		if (ibv_query_gid_ex(v->ctx, v->port, (uint32_t)i, &ge, 0) != 0)
			continue;
		if (want == NDKD_GID_AUTO &&
		    (ge.gid_type != IBV_GID_TYPE_ROCE_V2 || gid_ipv4(&ge.gid) == 0))
			continue;
		v->gid_index = (uint8_t)i;
		v->gid = ge.gid;
		v->ipv4 = gid_ipv4(&ge.gid);
		return 0;
	}
	NDKD_LOG(ERR, main, "verbs: %s port %u has %s", v->name, v->port,
		 want == NDKD_GID_AUTO ? "no IPv4-mapped RoCEv2 GID (give --gid-index)"
				       : "no such GID index");
	return -ENOENT;
}

static int
open_device(struct verbs *v, const struct ndkd_opts *o)
{
	struct ibv_device **list;
	struct ibv_device *dev;
	const char *why = "";
	int n = 0, rc = -ENODEV;

	list = ibv_get_device_list(&n);
	dev = find_device(list, n, o->device, v->dv != NULL ? v->dv->match : NULL, &why);
	if (dev == NULL) {
		NDKD_LOG(ERR, main, "verbs: %s", why);
		goto out;
	}
	snprintf(v->name, sizeof(v->name), "%s", ibv_get_device_name(dev));
	v->ctx = v->dv != NULL && v->dv->open != NULL ? v->dv->open(dev) : ibv_open_device(dev);
	if (v->ctx == NULL) {
		rc = errno != 0 ? -errno : -EIO;
		NDKD_LOG(ERR, main, "verbs: cannot open %s: %s", v->name, strerror(-rc));
		goto out;
	}
	rc = 0;
out:
	if (list != NULL)
		ibv_free_device_list(list);
	return rc;
}

int
verbs_init_with(struct provider *p, const struct ndkd_opts *o, const struct verbs_dv *dv)
{
	struct verbs *v = calloc(1, sizeof(*v));
	int rc;

	p->priv = NULL;
	if (v == NULL)
		return -ENOMEM;
	v->dv = dv;
	rc = open_device(v, o);
	if (rc != 0)
		goto err;
	v->port = (uint8_t)o->device_port;
	rc = -EIO;
	if (ibv_query_device_ex(v->ctx, NULL, &v->attr) != 0 ||
	    ibv_query_port(v->ctx, v->port, &v->port_attr) != 0) {
		NDKD_LOG(ERR, main, "verbs: %s has no port %u", v->name, v->port);
		goto err;
	}
	if (v->port_attr.link_layer != IBV_LINK_LAYER_ETHERNET) {
		/* an InfiniBand fabric addresses by LID, which nothing here speaks yet */
		NDKD_LOG(ERR, main, "verbs: %s port %u is not Ethernet (RoCE); not supported",
			 v->name, v->port);
		rc = -ENOTSUP;
		goto err;
	}
	if (v->port_attr.state != IBV_PORT_ACTIVE)
		NDKD_LOG(WARNING, main, "verbs: %s port %u is not ACTIVE yet", v->name, v->port);
	v->mw2 = (v->attr.orig_attr.device_cap_flags & IBV_DEVICE_MEM_WINDOW_TYPE_2B) != 0;
	/*
	 * rdma-core's rxe provider hands up the kernel's wc_flags as they are,
	 * and the kernel's IB_WC_WITH_INVALIDATE (1 << 2) is verbs'
	 * IBV_WC_IP_CSUM_OK, which rxe never sets.
	 */
	v->wc_with_inv = strncmp(v->name, "rxe", 3) == 0 ? IBV_WC_IP_CSUM_OK : IBV_WC_WITH_INV;
	rc = pick_gid(v, o->gid_index);
	if (rc != 0)
		goto err;
	rc = -ENOMEM;
	v->cq_size = (uint32_t)RTE_MIN((int)VERBS_CQ_MAX, v->attr.orig_attr.max_cqe);
	v->n_local_addr = 1u << 24; /* any qpn (index << 8 | tag); pages untouched stay unmapped */
	v->local_addr = calloc(v->n_local_addr, sizeof(*v->local_addr));
	v->n_keys = o->lim.mr_table_entries;
	v->keys = calloc(v->n_keys, sizeof(*v->keys));
	if (v->local_addr == NULL || v->keys == NULL)
		goto err;
	if (v->dv != NULL && v->dv->init != NULL && (rc = v->dv->init(v)) != 0)
		goto err;
	snprintf(p->detail, sizeof(p->detail), "%s port %u GID %u (%u.%u.%u.%u), fw %s", v->name,
		 v->port, v->gid_index, v->ipv4 >> 24, (v->ipv4 >> 16) & 0xff,
		 (v->ipv4 >> 8) & 0xff, v->ipv4 & 0xff, v->attr.orig_attr.fw_ver);
	p->priv = v;
	p->qp_priv_size = sizeof(struct verbs_qp);
	p->qp_window = VERBS_QP_WINDOW;
	return 0;
err:
	free(v->local_addr);
	free(v->keys);
	if (v->ctx != NULL)
		ibv_close_device(v->ctx);
	free(v);
	return rc;
}

static int
verbs_init(struct provider *p, const struct ndkd_opts *o)
{
	return verbs_init_with(p, o, NULL);
}

static void
verbs_fini(struct provider *p)
{
	struct verbs *v = p->priv;

	if (v == NULL)
		return;
	if (v->dv != NULL && v->dv->fini != NULL)
		v->dv->fini(v);
	ibv_close_device(v->ctx);
	free(v->local_addr);
	free(v->keys);
	free(v);
	p->priv = NULL;
}

static void
verbs_telemetry(struct provider *p, struct rte_tel_data *d)
{
	const struct verbs *v = p->priv;
	const struct ibv_device_attr *a = &v->attr.orig_attr;
	char gid[INET6_ADDRSTRLEN];

	inet_ntop(AF_INET6, v->gid.raw, gid, sizeof(gid));
	rte_tel_data_add_dict_string(d, "device", v->name);
	rte_tel_data_add_dict_u64(d, "port", v->port);
	rte_tel_data_add_dict_u64(d, "gid_index", v->gid_index);
	rte_tel_data_add_dict_string(d, "gid", gid);
	rte_tel_data_add_dict_string(d, "fw_ver", a->fw_ver);
	rte_tel_data_add_dict_u64(d, "vendor_id", a->vendor_id);
	rte_tel_data_add_dict_u64(d, "vendor_part_id", a->vendor_part_id);
	rte_tel_data_add_dict_u64(d, "active_mtu", mtu_bytes(v->port_attr.active_mtu));
	rte_tel_data_add_dict_u64(d, "max_qp", (uint64_t)a->max_qp);
	rte_tel_data_add_dict_u64(d, "max_mr", (uint64_t)a->max_mr);
	rte_tel_data_add_dict_u64(d, "max_mw", (uint64_t)a->max_mw);
	rte_tel_data_add_dict_u64(d, "max_cqe", (uint64_t)a->max_cqe);
	rte_tel_data_add_dict_u64(d, "max_sge", (uint64_t)a->max_sge);
	rte_tel_data_add_dict_u64(d, "engine_cq_entries", v->cq_size);
	rte_tel_data_add_dict_u64(d, "mrs_registered",
				  atomic_load_explicit(&v->n_reg_mr, memory_order_relaxed));
	rte_tel_data_add_dict_u64(d, "mrs_deregistered",
				  atomic_load_explicit(&v->n_dereg_mr, memory_order_relaxed));
	rte_tel_data_add_dict_u64(d, "completion_errors",
				  atomic_load_explicit(&v->n_wc_err, memory_order_relaxed));
	if (v->dv != NULL && v->dv->telemetry != NULL)
		v->dv->telemetry(v, d);
}

static uint32_t
cap_u32(uint64_t a, uint64_t b)
{
	uint64_t m = a < b ? a : b;

	return m > UINT32_MAX ? UINT32_MAX : (uint32_t)m;
}

void
verbs_device_limits(const struct ibv_device_attr *a, const struct ndkd_limits *lim,
		    struct ndk_abi_adapter_info *i)
{
	uint32_t sge = cap_u32(NDKD_MAX_SGE, (uint64_t)a->max_sge);

	i->vendor_id = a->vendor_id;
	i->device_id = a->vendor_part_id;
	i->max_registration_size =
		a->max_mr_size < lim->max_region_bytes ? a->max_mr_size : lim->max_region_bytes;
	i->frmr_page_count = lim->frmr_page_count;
	i->rdma_technology = 4; /* NdkRoCEv2 */
	i->max_initiator_request_sge = sge;
	i->max_receive_request_sge = sge;
	i->max_read_request_sge = cap_u32(sge, (uint64_t)a->max_sge_rd);
	i->max_receive_queue_depth = cap_u32(lim->max_queue_depth, (uint64_t)a->max_qp_wr);
	i->max_initiator_queue_depth = i->max_receive_queue_depth;
	i->max_cq_depth = lim->max_cq_depth; /* the client's ring, not the device's CQ */
	i->max_inline_data_size = NDK_ABI_MAX_INLINE;
	i->max_transfer_length = NDKD_MAX_TRANSFER;
	i->max_inbound_read_limit = cap_u32(VERBS_RD_ATOM, (uint64_t)a->max_qp_rd_atom);
	i->max_outbound_read_limit = cap_u32(VERBS_RD_ATOM, (uint64_t)a->max_qp_init_rd_atom);
	/* what one client may have: ndkd's limit, and never more than the device has */
	i->max_qps = cap_u32(i->max_qps, (uint64_t)a->max_qp);
	i->max_cqs = cap_u32(i->max_cqs, (uint64_t)a->max_cq);
	i->max_mrs = cap_u32(i->max_mrs, (uint64_t)a->max_mr);
	i->max_pds = cap_u32(i->max_pds, (uint64_t)a->max_pd);
}

/* NDK_ADAPTER_INFO: ndkd's limits, capped by what the device reports. */
static ndk_status
verbs_query(struct provider *p, const struct ndkd_limits *lim, struct ndk_abi_adapter_info *i)
{
	const struct verbs *v = p->priv;

	verbs_device_limits(&v->attr.orig_attr, lim, i);
	i->max_transfer_length = cap_u32(NDKD_MAX_TRANSFER, v->port_attr.max_msg_sz);
	i->max_srqs = 0; /* shared receive queues are not carried to the device yet */
	i->max_mws = 0;	 /* memory windows are not carried to the device yet */
	i->rocev2_ipv4 = v->ipv4;
	i->rocev2_mtu = mtu_bytes(v->port_attr.active_mtu);
	/* a read's local invalidate is ndkd's (wq.c); this node's QPs meet in the NIC */
	i->adapter_flags = 0x2u /* RDMA_READ_SINK_NOT_REQUIRED */ |
			   0x10u /* RDMA_READ_LOCAL_INVALIDATE_SUPPORTED */ |
			   0x10000u /* LOOPBACK_CONNECTIONS_SUPPORTED */;
	return NDK_STATUS_SUCCESS;
}

/* ------------------------------------------------------------------------
 * Engines
 * --------------------------------------------------------------------- */

static int
verbs_engine_init(struct provider *p, struct ectx *x)
{
	struct verbs *v = p->priv;
	struct verbs_engine *ve = calloc(1, sizeof(*ve));
	char name[RTE_HASH_NAMESIZE];
	struct rte_hash_parameters hp = {
		.name = name,
		.entries = 4096,
		.key_len = sizeof(uint32_t),
		.socket_id = (int)rte_socket_id(),
	};

	if (ve == NULL)
		return -ENOMEM;
	snprintf(name, sizeof(name), "ndkd_vqp%u", x->engine);
	ve->by_qpn = rte_hash_create(&hp);
	snprintf(name, sizeof(name), "ndkd_vkey%u", x->engine);
	hp.entries = 1u << 16;
	ve->by_key = rte_hash_create(&hp);
	ve->cq = ibv_create_cq(v->ctx, (int)v->cq_size, NULL, NULL, 0);
	if (ve->by_qpn == NULL || ve->by_key == NULL || ve->cq == NULL) {
		NDKD_LOG(ERR, main, "verbs: engine %u: cannot create its %s", x->engine,
			 ve->cq == NULL ? "CQ" : "hashes");
		if (ve->cq != NULL)
			ibv_destroy_cq(ve->cq);
		rte_hash_free(ve->by_qpn);
		rte_hash_free(ve->by_key);
		free(ve);
		return -ENOMEM;
	}
	ve->cq_free = v->cq_size;
	LIST_INIT(&ve->qps);
	x->prov_engine = ve;
	return 0;
}

static void
verbs_engine_fini(struct provider *p, struct ectx *x)
{
	struct verbs_engine *ve = x->prov_engine;

	(void)p;
	if (ve == NULL)
		return;
	ibv_destroy_cq(ve->cq);
	rte_hash_free(ve->by_qpn);
	rte_hash_free(ve->by_key);
	free(ve);
	x->prov_engine = NULL;
}

/* ------------------------------------------------------------------------
 * PDs and memory
 * --------------------------------------------------------------------- */

static ndk_status
verbs_pd_create(struct ectx *x, struct client *c, uint32_t handle)
{
	struct verbs *v = x->prov->priv;
	struct verbs_pd *vpd = calloc(1, sizeof(*vpd));

	if (vpd == NULL)
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	/* a device PD per NDK PD: the NIC keeps one PD's keys from another's QPs */
	vpd->pd = ibv_alloc_pd(v->ctx);
	if (vpd->pd == NULL) {
		free(vpd);
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	}
	if (v->dv != NULL && v->dv->pd_init != NULL && v->dv->pd_init(v, vpd) != 0) {
		ibv_dealloc_pd(vpd->pd);
		free(vpd);
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	}
	c->objs[handle].ptr = vpd;
	return NDK_STATUS_SUCCESS;
}

static void
verbs_pd_destroy(struct ectx *x, struct client *c, uint32_t handle)
{
	struct verbs *v = x->prov->priv;
	struct verbs_pd *vpd = c->objs[handle].ptr;
	unsigned int i;

	if (vpd == NULL)
		return;
	for (i = 0; i < NDKD_MAX_REGIONS; i++) {
		if (vpd->region_mr[i] != NULL) {
			ibv_dereg_mr(vpd->region_mr[i]);
			atomic_fetch_add_explicit(&v->n_dereg_mr, 1, memory_order_relaxed);
		}
	}
	if (v->dv != NULL && v->dv->pd_fini != NULL)
		v->dv->pd_fini(v, vpd);
	if (ibv_dealloc_pd(vpd->pd) != 0)
		NDKD_LOG(WARNING, engine, "verbs: a PD stays: %s", strerror(errno));
	free(vpd);
	c->objs[handle].ptr = NULL;
}

static ndk_status
verbs_region_add(struct provider *p, struct client *c, const struct region *r)
{
	(void)p, (void)c, (void)r;
	return NDK_STATUS_SUCCESS; /* registered in each PD as it first uses it */
}

/*
 * Region id of c in vpd, registered there now if this is the first use: a
 * syscall on the engine, once per region and PD.
 */
static struct ibv_mr *
region_mr(struct verbs *v, struct verbs_pd *vpd, const struct region *r, uint32_t id)
{
	struct ibv_mr *mr = vpd->region_mr[id];

	if (mr != NULL)
		return mr;
	/* the app's addresses are the IOVAs: an SGE names memory as the app sees it */
	mr = ibv_reg_mr_iova(vpd->pd, r->daemon_base, r->size, r->client_base,
			     IBV_ACCESS_LOCAL_WRITE);
	if (mr == NULL) {
		NDKD_LOG(DEBUG, engine, "verbs: cannot register a region of %zu bytes: %s",
			 (size_t)r->size, strerror(errno));
		return NULL;
	}
	atomic_fetch_add_explicit(&v->n_reg_mr, 1, memory_order_relaxed);
	vpd->region_mr[id] = mr;
	return mr;
}

/*
 * The region of c that holds [addr, addr + len) where ndkd maps it, and
 * its id (in: the one to try first, since pieces of one request mostly
 * share a region); NULL if none does.
 */
static const struct region *
region_at(struct client *c, const uint8_t *addr, uint64_t len, uint32_t *id)
{
	uint32_t n_regions = atomic_load_explicit(&c->n_regions, memory_order_acquire);
	const struct region *r;
	uint32_t i;

	for (i = 0; i <= n_regions; i++) {
		uint32_t k = i == 0 ? *id : i - 1;

		if (k >= n_regions)
			continue;
		r = &c->regions[k];
		if (addr >= r->daemon_base && (uint64_t)(addr - r->daemon_base) < r->size &&
		    len <= r->size - (uint64_t)(addr - r->daemon_base)) {
			*id = k;
			return r;
		}
	}
	return NULL;
}

/*
 * Pieces of c's memory as ndkd maps them into SGEs of the device (the
 * region's key, the app's address); adjacent pieces of one region become
 * one SGE. IMPLEMENTATION_LIMIT past max SGEs.
 */
static ndk_status
to_sges(struct verbs *v, struct client *c, struct verbs_pd *vpd, const struct dp_chunk *p,
	uint32_t n, struct ibv_sge *sg, uint32_t max, uint32_t *ns)
{
	uint32_t i, k = 0, id = 0;

	*ns = 0;
	for (i = 0; i < n; i++) {
		const struct region *r;
		uint64_t off;
		struct ibv_mr *mr;

		if (p[i].len == 0)
			continue;
		r = region_at(c, p[i].addr, p[i].len, &id);
		if (r == NULL)
			return NDK_STATUS_ACCESS_VIOLATION; /* resolved, so never */
		off = (uint64_t)(p[i].addr - r->daemon_base);
		mr = region_mr(v, vpd, r, id);
		if (mr == NULL)
			return NDK_STATUS_INSUFFICIENT_RESOURCES;
		if (k > 0 && sg[k - 1].lkey == mr->lkey &&
		    sg[k - 1].addr + sg[k - 1].length == r->client_base + off &&
		    (uint64_t)sg[k - 1].length + p[i].len <= UINT32_MAX) {
			sg[k - 1].length += (uint32_t)p[i].len;
			continue;
		}
		if (k == max)
			return NDK_STATUS_IMPLEMENTATION_LIMIT;
		sg[k++] = (struct ibv_sge){ r->client_base + off, (uint32_t)p[i].len, mr->lkey };
	}
	*ns = k;
	return NDK_STATUS_SUCCESS;
}

static int
mr_access(uint8_t a)
{
	int f = 0;

	if (a & MRT_ACCESS_LOCAL_WRITE)
		f |= IBV_ACCESS_LOCAL_WRITE;
	if (a & MRT_ACCESS_REMOTE_READ)
		f |= IBV_ACCESS_REMOTE_READ;
	if (a & MRT_ACCESS_REMOTE_WRITE)
		f |= IBV_ACCESS_REMOTE_WRITE;
	return f;
}

/*
 * A registered MR that peers may reach gets a device MR over exactly its
 * range with its rights: the NIC checks the peers' requests against it,
 * and its rkey is the MR's remote token. Local use needs nothing: ndkd
 * checks local tokens and hands the NIC the regions' keys.
 */
/*
 * A fast-register MR that peers may reach: its NIC key, made now, not
 * mapped yet. A layer's mkey (mlx5) when it has one, else a type 2 window.
 */
static ndk_status
fr_window(struct ectx *x, struct verbs *v, struct verbs_pd *vpd, uint32_t index, uint32_t *remote)
{
	struct verbs_engine *ve = x->prov_engine;
	struct verbs_key *k = &v->keys[index];
	uint32_t key = 0, hk;

	*k = (struct verbs_key){ 0 };
	if (v->dv != NULL && v->dv->fr_take != NULL)
		key = v->dv->fr_take(v, vpd, k);
	if (key == 0) {
		if (!v->mw2)
			return NDK_STATUS_SUCCESS; /* a fast register for peers: NOT_SUPPORTED */
		k->mw = ibv_alloc_mw(vpd->pd, IBV_MW_TYPE_2);
		if (k->mw == NULL)
			return NDK_STATUS_INSUFFICIENT_RESOURCES;
		key = k->mw->rkey;
	}
	k->dv_base = key & ~0xffu;
	hk = key >> 8;
	if (rte_hash_add_key_data(ve->by_key, &hk, (void *)(uintptr_t)index) != 0) {
		if (k->mw != NULL)
			ibv_dealloc_mw(k->mw);
		else
			v->dv->fr_drop(v, k);
		*k = (struct verbs_key){ 0 };
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	}
	*remote = k->dv_base;
	return NDK_STATUS_SUCCESS;
}

static ndk_status
verbs_mr_register(struct ectx *x, struct client *c, uint32_t index, uint32_t *remote)
{
	struct verbs *v = x->prov->priv;
	const struct mrt_entry *e = mrt_entry(x->mrt, index);
	struct verbs_pd *vpd;
	struct ibv_mr *mr;

	if ((e->access & MRT_ACCESS_REMOTE) == 0 || e->kind == MRT_KIND_PRIVILEGED)
		return NDK_STATUS_SUCCESS;
	vpd = pd_of(c, e->pd);
	if (vpd == NULL || index >= v->n_keys)
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	if (e->kind == MRT_KIND_FASTREG) {
		if (v->keys[index].mw == NULL && v->keys[index].mkey == NULL)
			return fr_window(x, v, vpd, index, remote);
		*remote = v->keys[index].dv_base; /* initialised again */
		return NDK_STATUS_SUCCESS;
	}
	mr = ibv_reg_mr_iova(vpd->pd, (void *)(uintptr_t)e->daemon_va, e->length, e->va,
			     mr_access(e->access));
	if (mr == NULL) {
		NDKD_LOG(DEBUG, engine, "verbs: client %u: cannot register an MR: %s", c->id,
			 strerror(errno));
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	}
	atomic_fetch_add_explicit(&v->n_reg_mr, 1, memory_order_relaxed);
	v->keys[index].mr = mr;
	*remote = mr->rkey;
	return NDK_STATUS_SUCCESS;
}

/* Window 'index' is bound through v from now on. */
static void
bound_add(struct verbs *vs, struct verbs_qp *v, uint32_t index)
{
	struct verbs_key *k = &vs->keys[index];

	k->bound = v;
	k->prev = 0;
	k->next = v->bound_head;
	if (v->bound_head != 0)
		vs->keys[v->bound_head - 1].prev = index + 1;
	v->bound_head = index + 1;
}

/* ... and no longer (invalidated, or going). */
static void
bound_del(struct verbs *vs, uint32_t index)
{
	struct verbs_key *k = &vs->keys[index];

	if (k->bound == NULL)
		return;
	if (k->prev != 0)
		vs->keys[k->prev - 1].next = k->next;
	else
		k->bound->bound_head = k->next;
	if (k->next != 0)
		vs->keys[k->next - 1].prev = k->prev;
	k->bound = NULL;
	k->prev = k->next = 0;
}

/*
 * A window that cannot be invalidated through its QP (in error) is
 * released, which unbinds it, and made anew: its key's upper bits change,
 * and the app learns them when it initialises the MR again.
 */
static void
renew_window(struct ectx *x, uint32_t index)
{
	struct verbs *vs = x->prov->priv;
	struct verbs_engine *ve = x->prov_engine;
	struct verbs_key *k = &vs->keys[index];
	struct ibv_pd *pd = k->mw->pd;
	uint32_t hk = k->mw->rkey >> 8;

	bound_del(vs, index);
	rte_hash_del_key(ve->by_key, &hk);
	ibv_dealloc_mw(k->mw);
	k->key = 0;
	k->mw = ibv_alloc_mw(pd, IBV_MW_TYPE_2);
	if (k->mw == NULL)
		return; /* fast register for peers answers NOT_SUPPORTED until initialised again */
	hk = k->mw->rkey >> 8;
	k->dv_base = k->mw->rkey & ~0xffu;
	if (rte_hash_add_key_data(ve->by_key, &hk, (void *)(uintptr_t)index) != 0) {
		ibv_dealloc_mw(k->mw);
		k->mw = NULL;
	}
}

/* The NIC refuses the entry's key from here on: window first, then the MR under it. */
static void
verbs_mr_deregister(struct ectx *x, struct client *c, uint32_t index)
{
	struct verbs *v = x->prov->priv;
	struct verbs_engine *ve = x->prov_engine;
	struct verbs_key *k;

	(void)c;
	if (index >= v->n_keys)
		return;
	k = &v->keys[index];
	bound_del(v, index);
	if (k->mw != NULL || k->mkey != NULL) {
		uint32_t hk = k->dv_base >> 8;

		rte_hash_del_key(ve->by_key, &hk);
		if (k->mw != NULL)
			ibv_dealloc_mw(k->mw);
		else
			v->dv->fr_drop(v, k);
	}
	if (k->mr != NULL) {
		ibv_dereg_mr(k->mr);
		atomic_fetch_add_explicit(&v->n_dereg_mr, 1, memory_order_relaxed);
	}
	*k = (struct verbs_key){ 0 };
}

/* ------------------------------------------------------------------------
 * Completions
 * --------------------------------------------------------------------- */

static ndk_status
wc_status(enum ibv_wc_status s)
{
	switch (s) {
	case IBV_WC_SUCCESS:
		return NDK_STATUS_SUCCESS;
	case IBV_WC_WR_FLUSH_ERR:
		return NDK_STATUS_CANCELLED;
	case IBV_WC_LOC_LEN_ERR:
		return NDK_STATUS_BUFFER_TOO_SMALL;
	case IBV_WC_LOC_PROT_ERR:
	case IBV_WC_REM_ACCESS_ERR:
	case IBV_WC_MW_BIND_ERR:
		return NDK_STATUS_ACCESS_VIOLATION;
	case IBV_WC_REM_INV_REQ_ERR:
		return NDK_STATUS_INVALID_DEVICE_REQUEST;
	case IBV_WC_RETRY_EXC_ERR:
	case IBV_WC_RNR_RETRY_EXC_ERR:
		return NDK_STATUS_IO_TIMEOUT;
	default:
		return NDK_STATUS_UNSUCCESSFUL;
	}
}

/*
 * Receives that are done, to the client's CQ in the order they were
 * posted. One that failed takes the QP to error after its result. When
 * the CQ is full the rest wait for qp_step.
 */
static void
rq_report(struct ectx *x, struct dqp *qp, struct verbs_qp *v)
{
	bool blocked = false;

	while (v->rq_head != v->rq_tail) {
		const struct verbs_recv *r = &v->rq[v->rq_head % VERBS_RQ_DEPTH];
		struct wq_taken t;

		if (!r->done)
			break;
		t = (struct wq_taken){ .request_context = r->request_context, .cookie = r->cookie };
		if (!wq_recv_end(qp, &t, r->status, r->bytes, r->type, r->token)) {
			blocked = true;
			break;
		}
		v->rq_head++;
		if (r->status != NDK_STATUS_SUCCESS && qp->state == QP_RTS)
			wq_error(x, qp);
	}
	/* in error, the ring's receives wait (wq_serve) until these are out */
	qp->want_step = blocked || (qp->state == QP_ERROR && v->rq_head != v->rq_tail);
}

static void send_end(struct ectx *x, struct dqp *qp, struct verbs_qp *v, uint32_t slot,
		     ndk_status st);

/*
 * A peer's send with invalidate killed one of this client's window keys
 * (the NIC did): ndkd's entry goes INVALID too, as on a receive from a
 * soft peer.
 */
static void
remote_invalidated(struct ectx *x, struct verbs_engine *ve, struct dqp *qp, uint32_t key)
{
	struct verbs *vs = x->prov->priv;
	uint32_t hk = key >> 8;
	void *data;
	uint32_t index;

	if (rte_hash_lookup_data(ve->by_key, &hk, &data) < 0)
		return;
	index = (uint32_t)(uintptr_t)data;
	if (index < vs->n_keys && vs->keys[index].key == key) {
		vs->keys[index].key = 0;
		bound_del(vs, index);
		dmr_invalidate_token(x, qp, MRT_TOKEN(index, MRT_TOKEN_VARIANT(key)));
	}
}

static void
on_wc(struct ectx *x, struct verbs_engine *ve, const struct ibv_wc *wc)
{
	struct verbs *vs = x->prov->priv;
	struct verbs_qp *v;
	struct dqp *qp;
	ndk_status st = wc_status(wc->status);
	uint32_t id = (uint32_t)wc->wr_id;
	bool inv;

	/* a QP gone since: nothing waits for this */
	if (rte_hash_lookup_data(ve->by_qpn, &wc->qp_num, (void **)&v) < 0)
		return;
	qp = vqp_dqp(v);
	if (wc->wr_id & INV_WR) {
		/* one of the windows its QP invalidated on its way out */
		if (ve->inv_pending > 0)
			ve->inv_pending--;
		if (wc->status != IBV_WC_SUCCESS)
			renew_window(x, (uint32_t)wc->wr_id);
		return;
	}
	if (wc->status != IBV_WC_SUCCESS && wc->status != IBV_WC_WR_FLUSH_ERR)
		atomic_fetch_add_explicit(&vs->n_wc_err, 1, memory_order_relaxed);
	if (wc->status != IBV_WC_SUCCESS)
		NDKD_LOG(DEBUG, engine, "verbs: QP %u %s %u: %s", wc->qp_num,
			 (wc->wr_id & RECV_WR) ? "receive" : "send", id,
			 ibv_wc_status_str(wc->status));
	if (wc->wr_id & RECV_WR) {
		struct verbs_recv *r = &v->rq[id % VERBS_RQ_DEPTH];

		/* already reported (cancelled when the QP went to error) */
		if (id - v->rq_head >= v->rq_tail - v->rq_head || r->done)
			return;
		r->done = true;
		r->status = st;
		r->bytes = st == NDK_STATUS_SUCCESS ? wc->byte_len : 0;
		inv = (wc->wc_flags & vs->wc_with_inv) != 0;
		r->type = inv ? NDK_ABI_RESULT_RECEIVE_INVALIDATE : NDK_ABI_RESULT_RECEIVE;
		r->token = inv ? wc->invalidated_rkey : 0;
		if (st == NDK_STATUS_SUCCESS && inv)
			remote_invalidated(x, ve, qp, wc->invalidated_rkey);
		rq_report(x, qp, v);
		return;
	}
	if (!v->send_live[id % VERBS_QP_WINDOW])
		return;
	send_end(x, qp, v, id % VERBS_QP_WINDOW, st);
}

static unsigned int
poll_cq(struct ectx *x, struct verbs_engine *ve)
{
	struct ibv_wc wc[32];
	int n, i;

	ve->polling = true;
	n = ibv_poll_cq(ve->cq, 32, wc);
	for (i = 0; i < n; i++)
		on_wc(x, ve, &wc[i]);
	ve->polling = false;
	return n > 0 ? (unsigned int)n : 0;
}

/* ------------------------------------------------------------------------
 * Receives: from the client's ring to the device's
 * --------------------------------------------------------------------- */

static void
rq_fill(struct ectx *x, struct dqp *qp, struct verbs_qp *v)
{
	struct verbs *vs = x->prov->priv;
	struct ibv_sge sg[NDKD_MAX_SGE];

	while (!v->rq_stop && v->rq_tail - v->rq_head < VERBS_RQ_DEPTH) {
		struct verbs_recv *r = &v->rq[v->rq_tail % VERBS_RQ_DEPTH];
		struct ibv_recv_wr wr = { .wr_id = RECV_WR | v->rq_tail, .sg_list = sg };
		struct ibv_recv_wr *bad;
		struct wq_taken t;
		ndk_status st;
		uint32_t ns = 0;

		if (wq_recv_take(x, qp, &t) <= 0)
			break;
		*r = (struct verbs_recv){ .request_context = t.request_context,
					  .cookie = t.cookie };
		st = t.status;
		if (st == NDK_STATUS_SUCCESS)
			st = to_sges(vs, qp->client, v->vpd, x->local, t.n_local, sg, NDKD_MAX_SGE,
				     &ns);
		wr.num_sge = (int)ns;
		if (st == NDK_STATUS_SUCCESS && ibv_post_recv(v->qp, &wr, &bad) != 0)
			st = NDK_STATUS_INSUFFICIENT_RESOURCES;
		if (st != NDK_STATUS_SUCCESS) {
			/* it fails in its turn, and nothing goes behind it */
			r->done = true;
			r->status = st;
			r->type = NDK_ABI_RESULT_RECEIVE;
			v->rq_stop = true;
		}
		v->rq_tail++;
	}
}

static unsigned int
verbs_poll(struct ectx *x, unsigned int budget)
{
	struct verbs_engine *ve = x->prov_engine;
	struct verbs_qp *v;
	unsigned int done = 0;

	(void)budget;
	for (v = LIST_FIRST(&ve->qps); v != NULL; v = LIST_NEXT(v, link)) {
		struct dqp *qp = vqp_dqp(v);

		if (qp->state != QP_ERROR && qp->srq == NULL)
			rq_fill(x, qp, v);
		if (v->rq_head != v->rq_tail && v->rq[v->rq_head % VERBS_RQ_DEPTH].done)
			rq_report(x, qp, v); /* the one that could not go to the device */
	}
	done += poll_cq(x, ve);
	return done;
}

/* ------------------------------------------------------------------------
 * QPs
 * --------------------------------------------------------------------- */

static ndk_status
verbs_qp_create(struct ectx *x, struct dqp *qp)
{
	struct verbs *vs = x->prov->priv;
	struct verbs_engine *ve = x->prov_engine;
	struct verbs_qp *v = vqp(qp);
	uint32_t sge = (uint32_t)RTE_MIN(vs->attr.orig_attr.max_sge, (int)NDKD_MAX_SGE);
	struct ibv_qp_init_attr ia = {
		.send_cq = ve->cq,
		.recv_cq = ve->cq,
		.cap = {
			.max_send_wr = VERBS_QP_WINDOW,
			.max_recv_wr = VERBS_RQ_DEPTH,
			.max_send_sge = sge,
			.max_recv_sge = sge,
			.max_inline_data = qp->max_inline,
		},
		.qp_type = IBV_QPT_RC,
		.sq_sig_all = 1,
	};
	struct ibv_qp_attr a = {
		.qp_state = IBV_QPS_INIT,
		.port_num = vs->port,
		.qp_access_flags =
			IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_READ | IBV_ACCESS_REMOTE_WRITE,
	};
	uint32_t need = VERBS_QP_WINDOW + VERBS_RQ_DEPTH;

	if (qp->srq != NULL)
		return NDK_STATUS_NOT_SUPPORTED;
	v->vpd = pd_of(qp->client, qp->pd);
	if (v->vpd == NULL || ve->cq_free < need)
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	v->qp = vs->dv != NULL && vs->dv->create_qp != NULL
			? vs->dv->create_qp(vs, v, v->vpd->pd, &ia)
			: ibv_create_qp(v->vpd->pd, &ia);
	if (v->qp == NULL) {
		NDKD_LOG(DEBUG, engine, "verbs: client %u: cannot create a QP: %s", qp->client->id,
			 strerror(errno));
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	}
	if (ibv_modify_qp(v->qp, &a,
			  IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_ACCESS_FLAGS) !=
		    0 ||
	    rte_hash_add_key_data(ve->by_qpn, &v->qp->qp_num, v) != 0) {
		ibv_destroy_qp(v->qp);
		v->qp = NULL;
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	}
	ve->cq_free -= need;
	qp->wire_qpn = v->qp->qp_num;
	if (qp->qpn < vs->n_local_addr)
		atomic_store_explicit(&vs->local_addr[qp->qpn],
				      (uint64_t)qp->psn << 32 | v->qp->qp_num,
				      memory_order_release);
	LIST_INSERT_HEAD(&ve->qps, v, link);
	return NDK_STATUS_SUCCESS;
}

/* Reads a QP has out, or serves, at once: ndkd's number, or fewer if the device has fewer. */
static uint8_t
rd_atom(int device_max)
{
	return (uint8_t)(device_max < (int)VERBS_RD_ATOM ? device_max : (int)VERBS_RD_ATOM);
}

/* RTR then RTS towards dgid's QP dqpn, whose first PSN is rq_psn. */
static ndk_status
qp_rts(struct verbs *vs, struct verbs_qp *v, const uint8_t dgid[16], uint8_t sgid_index,
       uint32_t dqpn, uint32_t rq_psn, uint32_t sq_psn, enum ibv_mtu mtu)
{
	struct ibv_qp_attr a = {
		.qp_state = IBV_QPS_RTR,
		.path_mtu = mtu,
		.dest_qp_num = dqpn,
		.rq_psn = rq_psn,
		.max_dest_rd_atomic = rd_atom(vs->attr.orig_attr.max_qp_rd_atom),
		.min_rnr_timer = 12, /* 0.64 ms */
		.ah_attr = {
			.is_global = 1,
			.port_num = vs->port,
			.grh = { .sgid_index = sgid_index, .hop_limit = 64 },
		},
	};

	memcpy(a.ah_attr.grh.dgid.raw, dgid, 16);
	if (ibv_modify_qp(v->qp, &a,
			  IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU | IBV_QP_DEST_QPN |
				  IBV_QP_RQ_PSN | IBV_QP_MAX_DEST_RD_ATOMIC |
				  IBV_QP_MIN_RNR_TIMER) != 0) {
		/* the kernel resolves the peer's MAC here (ARP), and says so when it cannot */
		NDKD_LOG(DEBUG, engine, "verbs: QP %u to RTR: %s", v->qp->qp_num, strerror(errno));
		return NDK_STATUS_HOST_UNREACHABLE;
	}
	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_RTS;
	a.timeout = 14; /* 67 ms */
	a.retry_cnt = 7;
	a.rnr_retry = 7; /* a send with no receive posted waits, as on ndkd's own transport */
	a.sq_psn = sq_psn;
	a.max_rd_atomic = rd_atom(vs->attr.orig_attr.max_qp_init_rd_atom);
	if (ibv_modify_qp(v->qp, &a,
			  IBV_QP_STATE | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY |
				  IBV_QP_SQ_PSN | IBV_QP_MAX_QP_RD_ATOMIC) != 0)
		return NDK_STATUS_UNSUCCESSFUL;
	return NDK_STATUS_SUCCESS;
}

static enum ibv_mtu
mtu_enum(uint32_t bytes)
{
	enum ibv_mtu m = IBV_MTU_4096;

	while (m > IBV_MTU_256 && (128u << m) > bytes)
		m--;
	return m;
}

static ndk_status
verbs_qp_connect(struct ectx *x, struct dqp *qp, const struct peer_addr *peer)
{
	struct verbs *vs = x->prov->priv;
	struct verbs_qp *v = vqp(qp);
	enum ibv_mtu mtu = vs->port_attr.active_mtu;
	struct qpt_entry pe;
	uint8_t sgid = vs->gid_index;
	uint64_t la;

	if (peer->kind == PEER_LOCAL) {
		/* the peer's own QP on the device, over the NIC's loopback */
		if (peer->qpn >= vs->n_local_addr || !qpt_read(x->qpt, peer->qpn, &pe) ||
		    pe.state == QP_FREE)
			return NDK_STATUS_INVALID_PARAMETER;
		la = atomic_load_explicit(&vs->local_addr[peer->qpn], memory_order_acquire);
		if (la == 0)
			return NDK_STATUS_INVALID_PARAMETER;
		v->local_peer = true;
		return qp_rts(vs, v, vs->gid.raw, sgid, (uint32_t)la, (uint32_t)(la >> 32), qp->psn,
			      mtu);
	}
	if (peer->kind != PEER_ROCEV2)
		return NDK_STATUS_INVALID_PARAMETER;
	/* ndkd's GID index + 1, as apps see them: one, the device's --gid-index */
	if (peer->sgid > 1)
		return NDK_STATUS_INVALID_PARAMETER;
	if (peer->mtu != 0 && mtu_enum(peer->mtu) < mtu)
		mtu = mtu_enum(peer->mtu);
	return qp_rts(vs, v, peer->gid, sgid, peer->qpn, peer->psn, qp->psn, mtu);
}

/* wr_id is on the device from now on: its slot waits for its completion. */
static ndk_status
tracked(struct verbs_qp *v, uint32_t wr_id, uint64_t bytes, struct ibv_mr *drop)
{
	uint32_t slot = wr_id % VERBS_QP_WINDOW;

	v->send_live[slot] = true;
	v->send_id[slot] = wr_id;
	v->send_bytes[slot] = bytes;
	v->send_drop[slot] = drop;
	v->sends++;
	return NDK_STATUS_PENDING;
}

/*
 * wr (wr_id: wq.c's) to the device, its result awaited in its window slot;
 * drop: an MR to deregister once it has run. PENDING or an error.
 */
static ndk_status
post_tracked(struct verbs_qp *v, struct ibv_send_wr *wr, uint32_t wr_id, uint64_t bytes,
	     struct ibv_mr *drop)
{
	struct ibv_send_wr *bad;

	if (v->send_live[wr_id % VERBS_QP_WINDOW])
		return NDK_STATUS_INSUFFICIENT_RESOURCES; /* never: the window is the device's */
	if (ibv_post_send(v->qp, wr, &bad) != 0)
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	return tracked(v, wr_id, bytes, drop);
}

/* Slot's request is over (done or cancelled): its result, then what it no longer needs. */
static void
send_end(struct ectx *x, struct dqp *qp, struct verbs_qp *v, uint32_t slot, ndk_status st)
{
	struct ibv_mr *drop = v->send_drop[slot];
	struct verbs *vs = x->prov->priv;

	if (v->send_bind[slot] != 0 && st != NDK_STATUS_SUCCESS) {
		vs->keys[v->send_bind[slot] - 1].key = 0; /* never bound */
		bound_del(vs, v->send_bind[slot] - 1);
	}
	v->send_bind[slot] = 0;
	v->send_live[slot] = false;
	v->send_drop[slot] = NULL;
	v->sends--;
	if (drop != NULL) {
		if (ibv_dereg_mr(drop) != 0)
			NDKD_LOG(WARNING, engine, "verbs: an MR a window left stays registered: %s",
				 strerror(errno));
		else
			atomic_fetch_add_explicit(&vs->n_dereg_mr, 1, memory_order_relaxed);
	}
	wq_complete(x, qp, v->send_id[slot], st,
		    st == NDK_STATUS_SUCCESS ? (uint32_t)v->send_bytes[slot] : 0);
}

/* What a layer's resolve needs: where a client's pages are registered in a PD. */
struct resolve_arg {
	struct verbs *v;
	struct client *c;
	struct verbs_pd *vpd;
	uint32_t id;
};

static bool
resolve_page(void *arg, uint64_t addr, uint32_t *lkey, uint64_t *iova, uint64_t *room)
{
	struct resolve_arg *a = arg;
	const uint8_t *p = (const uint8_t *)(uintptr_t)addr;
	const struct region *r = region_at(a->c, p, 1, &a->id);
	struct ibv_mr *mr = r != NULL ? region_mr(a->v, a->vpd, r, a->id) : NULL;

	if (mr == NULL)
		return false;
	*lkey = mr->lkey;
	*iova = r->client_base + (uint64_t)(p - r->daemon_base);
	*room = r->size - (uint64_t)(p - r->daemon_base);
	return true;
}

/* Fast register through a layer's mkey: one request maps it over the pages where they lie. */
static ndk_status
fast_register_dv(struct verbs *vs, struct dqp *qp, struct verbs_key *k, uint32_t index,
		 struct fr_map *m, uint32_t wr_id)
{
	struct verbs_qp *v = vqp(qp);
	struct resolve_arg ra = { .v = vs, .c = qp->client, .vpd = v->vpd };
	int rc;

	if (v->send_live[wr_id % VERBS_QP_WINDOW])
		return NDK_STATUS_INSUFFICIENT_RESOURCES; /* never: the window is the device's */
	rc = vs->dv->fr_post(vs, v, k, m, resolve_page, &ra, wr_id);
	if (rc != 0)
		return rc == -E2BIG ? NDK_STATUS_IMPLEMENTATION_LIMIT
				    : NDK_STATUS_INSUFFICIENT_RESOURCES;
	k->key = k->dv_base | m->variant;
	m->key = k->key;
	v->send_bind[wr_id % VERBS_QP_WINDOW] = index + 1; /* a failure leaves it unmapped */
	return tracked(v, wr_id, 0, NULL);
}

/*
 * Fast register. An MR only this node uses is ndkd's table alone. One peers
 * may reach gets, in the QP's order, a device MR over the new mapping (the
 * app's address as IOVA) and its type 2 window bound over it with the key's
 * tag set to the new variant: the key the app already holds. One device MR
 * needs the pages to follow each other in ndkd's mapping; a layer's mkey
 * (mlx5's UMR) maps them where they lie.
 */
static ndk_status
verbs_mr_fast_register(struct ectx *x, struct dqp *qp, uint32_t index, struct fr_map *m,
		       uint32_t wr_id)
{
	struct verbs *vs = x->prov->priv;
	struct verbs_qp *v = vqp(qp);
	struct verbs_key *k = index < vs->n_keys ? &vs->keys[index] : NULL;
	struct ibv_send_wr wr = { .wr_id = wr_id,
				  .opcode = IBV_WR_BIND_MW,
				  .send_flags = IBV_SEND_SIGNALED };
	struct ibv_mr *mr;
	ndk_status st;
	uint32_t i;

	if ((m->access & MRT_ACCESS_REMOTE) == 0)
		return NDK_STATUS_SUCCESS;
	if (k != NULL && k->mkey != NULL)
		return qp->state == QP_RTS ? fast_register_dv(vs, qp, k, index, m, wr_id)
					   : NDK_STATUS_CONNECTION_INVALID;
	if (k == NULL || k->mw == NULL)
		return NDK_STATUS_NOT_SUPPORTED; /* the device has no type 2 windows */
	for (i = 1; i < m->n_pages; i++) {
		if (m->pages[i] != m->pages[0] + (uint64_t)i * PAGE)
			return NDK_STATUS_NOT_SUPPORTED;
	}
	if (qp->state != QP_RTS)
		return NDK_STATUS_CONNECTION_INVALID; /* the device takes work requests in RTS */
	mr = ibv_reg_mr_iova(v->vpd->pd, (void *)(uintptr_t)(m->pages[0] + m->fbo), m->length,
			     m->va, IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_MW_BIND);
	if (mr == NULL)
		return NDK_STATUS_INSUFFICIENT_RESOURCES;
	atomic_fetch_add_explicit(&vs->n_reg_mr, 1, memory_order_relaxed);
	wr.bind_mw.mw = k->mw;
	wr.bind_mw.rkey = (k->mw->rkey & ~0xffu) | m->variant;
	wr.bind_mw.bind_info = (struct ibv_mw_bind_info){
		.mr = mr,
		.addr = m->va,
		.length = m->length,
		.mw_access_flags =
			(unsigned int)mr_access(m->access) & ~(unsigned int)IBV_ACCESS_LOCAL_WRITE,
	};
	/* the MR the window leaves goes once it is bound elsewhere */
	st = post_tracked(v, &wr, wr_id, 0, k->mr);
	if (st != NDK_STATUS_PENDING) {
		ibv_dereg_mr(mr);
		return st;
	}
	k->mr = mr;
	k->key = wr.bind_mw.rkey;
	m->key = k->key;
	v->send_bind[wr_id % VERBS_QP_WINDOW] = index + 1;
	bound_del(vs, index);
	bound_add(vs, v, index);
	/* a bind through post_send leaves the caller to track the window's key */
	k->mw->rkey = wr.bind_mw.rkey;
	return st;
}

/* Invalidate: the window's key dies in the QP's order (LOCAL_INV). */
static ndk_status
verbs_mr_invalidate(struct ectx *x, struct dqp *qp, uint32_t index, uint32_t wr_id)
{
	struct verbs *vs = x->prov->priv;
	struct verbs_key *k = index < vs->n_keys ? &vs->keys[index] : NULL;
	struct ibv_send_wr wr = { .wr_id = wr_id,
				  .opcode = IBV_WR_LOCAL_INV,
				  .send_flags = IBV_SEND_SIGNALED };
	ndk_status st;

	if (k == NULL || k->key == 0)
		return NDK_STATUS_SUCCESS; /* the NIC holds nothing for it */
	if (qp->state != QP_RTS)
		return NDK_STATUS_CONNECTION_INVALID;
	wr.invalidate_rkey = k->key;
	st = post_tracked(vqp(qp), &wr, wr_id, 0, NULL);
	if (st == NDK_STATUS_PENDING) {
		k->key = 0;
		bound_del(vs, index);
	}
	return st;
}

static ndk_status
verbs_post_send(struct ectx *x, struct dqp *qp, const struct wq_op *op, uint32_t wr_id,
		struct ndk_abi_result *res)
{
	struct verbs *vs = x->prov->priv;
	struct verbs_qp *v = vqp(qp);
	const struct ndk_abi_wqe *h = &op->w->h;
	struct ibv_sge sg[NDKD_MAX_SGE];
	struct ibv_send_wr wr = { .wr_id = wr_id, .sg_list = sg, .send_flags = IBV_SEND_SIGNALED };
	struct qpt_entry pe;
	uint32_t ns = 0;
	ndk_status st;

	(void)res;
	if (v->local_peer && (st = dqp_peer_ready(x, qp, &pe)) != NDK_STATUS_SUCCESS)
		return st;
	/*
	 * A read's local invalidate is ndkd's table only (wq.c): an MR whose
	 * window peers hold would stay open to them on the NIC.
	 */
	if ((h->flags & NDK_OP_FLAG_RDMA_READ_LOCAL_INVALIDATE) &&
	    MRT_TOKEN_INDEX(op->w->sge[0].token) < vs->n_keys &&
	    vs->keys[MRT_TOKEN_INDEX(op->w->sge[0].token)].key != 0)
		return NDK_STATUS_NOT_SUPPORTED;
	if (h->flags & NDK_OP_FLAG_INLINE) {
		/* the device copies the bytes as it takes the request */
		sg[0] = (struct ibv_sge){ (uintptr_t)x->local[0].addr, (uint32_t)op->total, 0 };
		ns = 1;
		wr.send_flags |= IBV_SEND_INLINE;
	} else {
		st = to_sges(vs, qp->client, v->vpd, x->local, op->n_local, sg, NDKD_MAX_SGE, &ns);
		if (st != NDK_STATUS_SUCCESS)
			return st;
	}
	wr.num_sge = (int)ns;
	if (h->flags & NDK_OP_FLAG_READ_FENCE)
		wr.send_flags |= IBV_SEND_FENCE;
	if (h->flags & NDK_OP_FLAG_SEND_AND_SOLICIT_EVENT)
		wr.send_flags |= IBV_SEND_SOLICITED;
	switch (h->opcode) {
	case NDK_ABI_WR_SEND:
		wr.opcode = IBV_WR_SEND;
		break;
	case NDK_ABI_WR_SEND_INVALIDATE:
		wr.opcode = IBV_WR_SEND_WITH_INV;
		wr.invalidate_rkey = h->remote_token;
		break;
	case NDK_ABI_WR_WRITE:
	case NDK_ABI_WR_READ:
		wr.opcode = h->opcode == NDK_ABI_WR_WRITE ? IBV_WR_RDMA_WRITE : IBV_WR_RDMA_READ;
		wr.wr.rdma.remote_addr = h->remote_addr;
		wr.wr.rdma.rkey = h->remote_token;
		break;
	default:
		return NDK_STATUS_INVALID_PARAMETER;
	}
	return post_tracked(v, &wr, wr_id, op->total, NULL);
}

/*
 * The windows qp bound die with it, in ndkd's table too: a type 2 window
 * is reached only through the QP that bound it, and holds that QP until it
 * is invalidated. While the QP still takes work requests each is
 * invalidated through it (its key stays the app's); else renewed.
 */
static void
release_windows(struct ectx *x, struct dqp *qp, struct verbs_qp *v)
{
	struct verbs *vs = x->prov->priv;
	struct verbs_engine *ve = x->prov_engine;
	struct ibv_qp_init_attr qia;
	struct ibv_qp_attr qa;
	uint64_t deadline;
	bool rts = !ve->polling && ibv_query_qp(v->qp, &qa, IBV_QP_STATE, &qia) == 0 &&
		   qa.qp_state == IBV_QPS_RTS;

	while (v->bound_head != 0) {
		uint32_t index = v->bound_head - 1;
		struct verbs_key *k = &vs->keys[index];
		struct ibv_send_wr wr = { .wr_id = INV_WR | index,
					  .opcode = IBV_WR_LOCAL_INV,
					  .send_flags = IBV_SEND_SIGNALED,
					  .invalidate_rkey = k->key };
		struct ibv_send_wr *bad;

		dmr_invalidate_token(x, qp, MRT_TOKEN(index, MRT_TOKEN_VARIANT(k->key)));
		bound_del(vs, index);
		if (rts && ibv_post_send(v->qp, &wr, &bad) == 0) {
			k->key = 0;
			ve->inv_pending++;
		} else {
			renew_window(x, index);
		}
	}
	/* bounded: the NIC runs these at once; a QP that never answers loses them */
	deadline = rte_get_tsc_cycles() + rte_get_tsc_hz();
	while (ve->inv_pending > 0 && rte_get_tsc_cycles() < deadline)
		poll_cq(x, ve);
	if (ve->inv_pending > 0)
		NDKD_LOG(WARNING, engine, "verbs: QP %u: %u window invalidations never completed",
			 qp->wire_qpn, ve->inv_pending);
}

/*
 * qp went to error: the device flushes what it holds, but the results are
 * given now (CANCELLED), so a QP that goes right after leaves nothing
 * owed. What the CQ already holds is taken first, unless this runs from
 * inside that poll.
 */
static void
verbs_qp_error(struct ectx *x, struct dqp *qp)
{
	struct verbs_engine *ve = x->prov_engine;
	struct verbs_qp *v = vqp(qp);
	struct ibv_qp_attr a = { .qp_state = IBV_QPS_ERR };
	uint32_t i;

	if (v->qp == NULL)
		return;
	if (v->bound_head != 0)
		release_windows(x, qp, v);
	ibv_modify_qp(v->qp, &a, IBV_QP_STATE);
	for (i = 0; !ve->polling && i < 8 && poll_cq(x, ve) > 0; i++)
		;
	for (i = 0; i < VERBS_QP_WINDOW && v->sends > 0; i++) {
		if (v->send_live[i])
			send_end(x, qp, v, i, NDK_STATUS_CANCELLED);
	}
	for (i = v->rq_head; i != v->rq_tail; i++) {
		struct verbs_recv *r = &v->rq[i % VERBS_RQ_DEPTH];

		if (!r->done) {
			r->done = true;
			r->status = NDK_STATUS_CANCELLED;
			r->bytes = 0;
			r->type = NDK_ABI_RESULT_RECEIVE;
		}
	}
	rq_report(x, qp, v);
}

static uint64_t
verbs_qp_step(struct ectx *x, struct dqp *qp, uint64_t budget)
{
	(void)budget;
	rq_report(x, qp, vqp(qp));
	return 0;
}

static void
verbs_qp_destroy(struct ectx *x, struct dqp *qp)
{
	struct verbs *vs = x->prov->priv;
	struct verbs_engine *ve = x->prov_engine;
	struct verbs_qp *v = vqp(qp);

	if (v->qp == NULL)
		return;
	if (qp->qpn < vs->n_local_addr)
		atomic_store_explicit(&vs->local_addr[qp->qpn], 0, memory_order_release);
	rte_hash_del_key(ve->by_qpn, &v->qp->qp_num); /* a QP made is in it (qp_create) */
	LIST_REMOVE(v, link);
	ve->cq_free += VERBS_QP_WINDOW + VERBS_RQ_DEPTH;
	if (ibv_destroy_qp(v->qp) != 0)
		NDKD_LOG(ERR, engine, "verbs: cannot destroy QP %u: %s", qp->wire_qpn,
			 strerror(errno));
	v->qp = NULL;
}

#define VERBS_OPS                                                                                  \
	.fini = verbs_fini, .telemetry = verbs_telemetry, .query = verbs_query,                    \
	.engine_init = verbs_engine_init, .engine_fini = verbs_engine_fini, .poll = verbs_poll,    \
	.pd_create = verbs_pd_create, .pd_destroy = verbs_pd_destroy,                              \
	.region_add = verbs_region_add, .mr_register = verbs_mr_register,                          \
	.mr_deregister = verbs_mr_deregister, .mr_fast_register = verbs_mr_fast_register,          \
	.mr_invalidate = verbs_mr_invalidate, .qp_create = verbs_qp_create,                        \
	.qp_connect = verbs_qp_connect, .qp_error = verbs_qp_error,                                \
	.qp_destroy = verbs_qp_destroy, .post_send = verbs_post_send, .qp_step = verbs_qp_step

const struct provider_ops verbs_provider_ops = {
	.name = "verbs",
	.probe = verbs_probe,
	.init = verbs_init,
	VERBS_OPS,
};

#ifdef NDKD_HAVE_MLX5
/* mlx5: the same data path; its layer (verbs_dv) is set by its init. */
const struct provider_ops mlx5_provider_ops = {
	.name = "mlx5",
	.probe = mlx5_probe,
	.init = mlx5_init,
	VERBS_OPS,
};
#endif
