/* SPDX-License-Identifier: BSD-3-Clause */
/* af_xdp ports shared with the kernel (xdp.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <limits.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <poll.h>
#include <stdalign.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <rte_common.h>
#include <rte_lcore.h>

#include "../bpf/ndk_xdp.h"
#include "../log.h"
#include "port.h"
#include "xdp.h"

#define PROG_NAME "ndk_xdp"

bool
xdp_devargs_iface(const char *devargs, char *buf, size_t len)
{
	const char *p = strstr(devargs, ",iface=");
	size_t n;

	if (p == NULL)
		return false;
	p += strlen(",iface=");
	n = strcspn(p, ",");
	if (n == 0 || n >= len || n >= IFNAMSIZ)
		return false;
	memcpy(buf, p, n);
	buf[n] = '\0';
	return true;
}

/* The BPF object: beside the running ndkd (a build tree), else where it is installed. */
static int
obj_path(char *buf, size_t len)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	if (n > 0) {
		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash != NULL) {
			*slash = '\0';
			int w = snprintf(buf, len, "%.*s/%s.bpf.o", (int)(len - 16), exe,
					 PROG_NAME);

			if (w > 0 && (size_t)w < len && access(buf, R_OK) == 0)
				return 0;
		}
	}
	snprintf(buf, len, "%s", NDKD_XDP_OBJ);
	return access(buf, R_OK) == 0 ? 0 : -ENOENT;
}

/* The name of program id, into name (16 bytes). 0, or -errno. */
static int
prog_name(uint32_t id, char name[BPF_OBJ_NAME_LEN])
{
	struct bpf_prog_info info;
	uint32_t len = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(id), rc;

	if (fd < 0)
		return -errno;
	memset(&info, 0, sizeof(info));
	rc = bpf_obj_get_info_by_fd(fd, &info, &len);
	if (rc == 0)
		memcpy(name, info.name, BPF_OBJ_NAME_LEN);
	close(fd);
	return rc == 0 ? 0 : -errno;
}

int
xdp_prepare(const char *devargs, const char *ifname, char *out, size_t len, char *err,
	    size_t errlen)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	char path[PATH_MAX], name[BPF_OBJ_NAME_LEN];
	unsigned int ifindex;
	int rc;

	if (strstr(devargs, "xdp_prog=") != NULL) {
		snprintf(err, errlen,
			 "xdp_prog= in '%s': a port shared with the kernel runs ndkd's own "
			 "program (or give the port xdp = all)",
			 devargs);
		return -EINVAL;
	}
	if (obj_path(path, sizeof(path)) != 0) {
		snprintf(err, errlen, "ndkd's XDP program is not installed (%s)", NDKD_XDP_OBJ);
		return -ENOENT;
	}
	ifindex = if_nametoindex(ifname);
	if (ifindex == 0) {
		snprintf(err, errlen, "no interface %s", ifname);
		return -ENODEV;
	}
	rc = bpf_xdp_query((int)ifindex, 0, &q);
	if (rc == 0 && q.attach_mode != XDP_ATTACHED_NONE) {
		uint32_t id = q.prog_id != 0  ? q.prog_id
			      : q.drv_prog_id ? q.drv_prog_id
					      : q.skb_prog_id;

		/* a program of ndkd's left by a process that ended without closing its port */
		if (prog_name(id, name) != 0 || strcmp(name, PROG_NAME) != 0 ||
		    bpf_xdp_detach((int)ifindex,
				   q.attach_mode == XDP_ATTACHED_SKB   ? XDP_FLAGS_SKB_MODE
				   : q.attach_mode == XDP_ATTACHED_DRV ? XDP_FLAGS_DRV_MODE
								       : 0,
				   NULL) != 0) {
			snprintf(err, errlen,
				 "%s has an XDP program (id %u) that is not ndkd's; ndkd does not "
				 "replace it",
				 ifname, id);
			return -EBUSY;
		}
		NDKD_LOG(NOTICE, main,
			 "%s: took off ndkd's XDP program (id %u) a process before left", ifname,
			 id);
	}
	if ((size_t)snprintf(out, len, "%s,xdp_prog=%s", devargs, path) >= len) {
		snprintf(err, errlen, "devargs too long");
		return -E2BIG;
	}
	return 0;
}

int
xdp_iface_addr(const char *ifname, uint32_t want, uint32_t *ip, uint8_t *prefix)
{
	struct ifaddrs *all, *a;
	int rc = -EADDRNOTAVAIL;

	if (getifaddrs(&all) != 0)
		return -errno;
	for (a = all; a != NULL; a = a->ifa_next) {
		const struct sockaddr_in *in, *nm;
		uint32_t addr;

		if (a->ifa_addr == NULL || a->ifa_addr->sa_family != AF_INET ||
		    strcmp(a->ifa_name, ifname) != 0 || a->ifa_netmask == NULL)
			continue;
		in = (const struct sockaddr_in *)(const void *)a->ifa_addr;
		nm = (const struct sockaddr_in *)(const void *)a->ifa_netmask;
		addr = ntohl(in->sin_addr.s_addr);
		/* the first address is kept unless the one asked for comes */
		if (rc == 0 && addr != want)
			continue;
		*ip = addr;
		*prefix = (uint8_t)__builtin_popcount(ntohl(nm->sin_addr.s_addr));
		rc = 0;
		if (want == 0 || addr == want)
			break;
	}
	freeifaddrs(all);
	return rc;
}

/* Map fds of prog id by name: cfg and counters. */
static int
find_maps(struct roce_xdp *x)
{
	uint32_t ids[8], len = sizeof(struct bpf_prog_info), k;
	struct bpf_prog_info info;
	int pfd = bpf_prog_get_fd_by_id(x->prog_id);

	if (pfd < 0)
		return -errno;
	memset(&info, 0, sizeof(info));
	info.nr_map_ids = RTE_DIM(ids);
	info.map_ids = (uint64_t)(uintptr_t)ids;
	if (bpf_obj_get_info_by_fd(pfd, &info, &len) != 0 || strcmp(info.name, PROG_NAME) != 0) {
		close(pfd);
		return -ENOENT;
	}
	close(pfd);
	for (k = 0; k < info.nr_map_ids && k < RTE_DIM(ids); k++) {
		struct bpf_map_info mi;
		uint32_t ml = sizeof(mi);
		int mfd = bpf_map_get_fd_by_id(ids[k]);

		if (mfd < 0)
			continue;
		memset(&mi, 0, sizeof(mi));
		if (bpf_obj_get_info_by_fd(mfd, &mi, &ml) == 0 && strcmp(mi.name, "ndk_cfg") == 0 &&
		    x->cfg_fd < 0)
			x->cfg_fd = mfd;
		else if (strcmp(mi.name, "ndk_ctrs") == 0 && x->ctrs_fd < 0)
			x->ctrs_fd = mfd;
		else
			close(mfd);
	}
	return x->cfg_fd >= 0 && x->ctrs_fd >= 0 ? 0 : -ENOENT;
}

static int
steer(const struct roce_xdp *x, uint32_t ip)
{
	struct ndk_xdp_cfg cfg = { .ip = htonl(ip) };
	uint32_t zero = 0;

	return bpf_map_update_elem(x->cfg_fd, &zero, &cfg, BPF_ANY) == 0 ? 0 : -errno;
}

int
xdp_attach(struct roce_xdp *x, const char *ifname, uint32_t ip)
{
	int rc;

	*x = (struct roce_xdp){ .ifindex = if_nametoindex(ifname), .cfg_fd = -1, .ctrs_fd = -1 };
	if (x->ifindex == 0)
		return -ENODEV;
	if (bpf_xdp_query_id((int)x->ifindex, 0, &x->prog_id) != 0 || x->prog_id == 0) {
		NDKD_LOG(ERR, main, "%s: the af_xdp PMD attached no XDP program", ifname);
		return -ENOENT;
	}
	rc = find_maps(x);
	if (rc == 0)
		rc = steer(x, ip);
	if (rc != 0) {
		NDKD_LOG(ERR, main, "%s: XDP program %u is not ndkd's, or its maps are gone: %s",
			 ifname, x->prog_id, strerror(-rc));
		xdp_detach(x);
		return rc;
	}
	return 0;
}

void
xdp_detach(struct roce_xdp *x)
{
	if (x->cfg_fd >= 0) {
		steer(x, 0);
		close(x->cfg_fd);
	}
	if (x->ctrs_fd >= 0)
		close(x->ctrs_fd);
	x->cfg_fd = x->ctrs_fd = -1;
}

bool
xdp_counters(const struct roce_xdp *x, uint64_t c[NDK_XDP_CTRS])
{
	static int n_cpus;
	uint64_t v[1024];
	uint32_t k;

	if (n_cpus == 0)
		n_cpus = libbpf_num_possible_cpus();
	if (x->ctrs_fd < 0 || n_cpus <= 0 || n_cpus > (int)RTE_DIM(v))
		return false;
	for (k = 0; k < NDK_XDP_CTRS; k++) {
		c[k] = 0;
		if (bpf_map_lookup_elem(x->ctrs_fd, &k, v) != 0)
			return false;
		for (int i = 0; i < n_cpus; i++)
			c[k] += v[i];
	}
	return true;
}

/* ------------------------------------------------------------------------
 * Neighbours: the kernel's table, through rtnetlink
 * --------------------------------------------------------------------- */

static struct {
	struct roce_ports *rp;
	int nl, stop;
	pthread_t thread;
	bool running;
} nb = { .nl = -1, .stop = -1 };

/* Every usable IPv4 neighbour of a shared port's interface in the messages of buf. */
static void
neigh_parse(const void *buf, int n)
{
	const struct nlmsghdr *h;

	/* int, as the macros count: NLMSG_NEXT takes an aligned length off n */
	for (h = buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
		const struct ndmsg *ndm = NLMSG_DATA(h);
		const struct rtattr *a;
		const uint8_t *mac = NULL;
		uint32_t ip = 0;
		unsigned int i;
		int alen;

		if (h->nlmsg_type != RTM_NEWNEIGH || h->nlmsg_len < NLMSG_LENGTH(sizeof(*ndm)))
			continue;
		if (ndm->ndm_family != AF_INET ||
		    !(ndm->ndm_state & (NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE |
					NUD_PERMANENT | NUD_NOARP)))
			continue;
		alen = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof(*ndm)));
		for (a = (const struct rtattr *)((const char *)ndm + NLMSG_ALIGN(sizeof(*ndm)));
		     RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
			if (a->rta_type == NDA_DST && RTA_PAYLOAD(a) == 4)
				ip = ntohl(*(const uint32_t *)RTA_DATA(a));
			else if (a->rta_type == NDA_LLADDR && RTA_PAYLOAD(a) == 6)
				mac = RTA_DATA(a);
		}
		if (ip == 0 || mac == NULL)
			continue;
		for (i = 0; i < nb.rp->n; i++)
			if (nb.rp->port[i].bpf.ifindex == (unsigned int)ndm->ndm_ifindex)
				roce_neigh_learn(&nb.rp->port[i], ip, mac);
	}
}

static void *
neigh_thread(void *arg)
{
	alignas(struct nlmsghdr) uint8_t buf[16384];
	struct pollfd fds[2] = { { .fd = nb.nl, .events = POLLIN },
				 { .fd = nb.stop, .events = POLLIN } };

	(void)arg;
	for (;;) {
		ssize_t n;

		if (poll(fds, 2, -1) < 0 && errno != EINTR)
			break;
		if (fds[1].revents != 0)
			break;
		n = recv(nb.nl, buf, sizeof(buf), MSG_DONTWAIT);
		if (n > 0)
			neigh_parse(buf, (int)n);
		else if (n < 0 && errno == ENOBUFS) /* changes overflowed the socket: ask again */
			xdp_neigh_resolve(NULL, 0);
	}
	return NULL;
}

int
xdp_neigh_start(struct roce_ports *rp)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = RTMGRP_NEIGH };
	int rc;

	nb.rp = rp;
	nb.nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	nb.stop = eventfd(0, EFD_CLOEXEC);
	if (nb.nl < 0 || nb.stop < 0 || bind(nb.nl, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		rc = -errno;
		xdp_neigh_stop();
		return rc;
	}
	xdp_neigh_resolve(NULL, 0); /* the table as it is */
	rc = rte_ctrl_thread_create(&nb.thread, "ndkd-neigh", NULL, neigh_thread, NULL);
	if (rc != 0) {
		xdp_neigh_stop();
		return -rc;
	}
	nb.running = true;
	return 0;
}

void
xdp_neigh_stop(void)
{
	uint64_t one = 1;

	if (nb.running && write(nb.stop, &one, sizeof(one)) == sizeof(one))
		pthread_join(nb.thread, NULL);
	nb.running = false;
	if (nb.nl >= 0)
		close(nb.nl);
	if (nb.stop >= 0)
		close(nb.stop);
	nb.nl = nb.stop = -1;
}

/*
 * p NULL: dump the kernel's IPv4 neighbours. Else RTM_NEWNEIGH with NTF_USE
 * on p's interface: the kernel makes the entry if need be and resolves it
 * as if it had a packet for ip; the answer arrives as a change.
 */
void
xdp_neigh_resolve(const struct roce_port *p, uint32_t ip)
{
	struct {
		struct nlmsghdr h;
		struct ndmsg ndm;
		struct rtattr dst;
		uint32_t addr;
	} req;

	if (nb.nl < 0)
		return;
	memset(&req, 0, sizeof(req));
	req.ndm.ndm_family = AF_INET;
	if (p == NULL) {
		req.h.nlmsg_len = NLMSG_LENGTH(sizeof(req.ndm));
		req.h.nlmsg_type = RTM_GETNEIGH;
		req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	} else {
		req.h.nlmsg_len = sizeof(req);
		req.h.nlmsg_type = RTM_NEWNEIGH;
		req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE;
		req.ndm.ndm_ifindex = (int)p->bpf.ifindex;
		req.ndm.ndm_state = NUD_NONE;
		req.ndm.ndm_flags = NTF_USE;
		req.dst.rta_len = RTA_LENGTH(sizeof(req.addr));
		req.dst.rta_type = NDA_DST;
		req.addr = htonl(ip);
	}
	/* a full socket buffer loses this request; the next one (250 ms on) asks again */
	(void)send(nb.nl, &req, req.h.nlmsg_len, MSG_DONTWAIT);
}
