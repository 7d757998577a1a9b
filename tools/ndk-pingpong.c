/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ndk-pingpong: ibv_rc_pingpong over ndkd. The same command line, the same
 * TCP exchange of "LID:QPN:PSN:GID" (52 bytes with its NUL, then "done"
 * from the client), the same ping-pong of sends and the same two result
 * lines, so either side can be rdma-core's ibv_rc_pingpong on a Linux host
 * with a RoCE device (rxe included) and the other ndk-pingpong on an ndkd
 * node with a RoCEv2 port.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <ndk/ndk.h>

#include "oob.h"

#define RECV_WRID ((void *)1)
#define SEND_WRID ((void *)2)
#define PAGE	  4096u
#define MSG_LEN	  sizeof("0000:000000:000000:00000000000000000000000000000000")

struct dest {
	uint32_t lid, qpn, psn;
	uint8_t gid[16];
};

struct pp {
	struct ndk_adapter *ad;
	struct ndk_pd *pd;
	struct ndk_cq *cq;
	struct ndk_qp *qp;
	struct ndk_mr *mr;
	uint8_t *buf; /* sent from */
	uint8_t *rx;  /* received into: checked, then cleared, with -c */
	uint32_t size, rx_depth, token;
	uint32_t gid_index; /* -g: ndkd's port used (announced, sent from) */
	bool validate;
	bool pending_send, pending_recv;
	unsigned long bad_pages;
};

static void
usage(const char *argv0)
{
	printf("Usage:\n"
	       "  %s            start a server and wait for connection\n"
	       "  %s <host>     connect to server at <host>\n"
	       "\n"
	       "Options:\n"
	       "  -p, --port=<port>      listen on/connect to port <port> (default 18515)\n"
	       "  -d, --ib-dev=<dev>     accepted, ignored: ndkd owns the port\n"
	       "  -i, --ib-port=<port>   accepted, ignored\n"
	       "  -s, --size=<size>      size of message to exchange (default 4096)\n"
	       "  -m, --mtu=<size>       path MTU (default 1024)\n"
	       "  -r, --rx-depth=<dep>   number of receives to post at a time (default 500)\n"
	       "  -n, --iters=<iters>    number of exchanges (default 1000)\n"
	       "  -l, --sl=<sl>          accepted, ignored (no service levels on RoCEv2 here)\n"
	       "  -e, --events           accepted; ndk-pingpong polls\n"
	       "  -g, --gid-idx=<index>  use ndkd's port <index> (its GID index: the n-th --port,\n"
	       "                         from 0; default 0): its GID is announced, frames go from "
	       "it\n"
	       "  -c, --chk              validate received buffer\n"
	       "  -S, --socket=<path>    ndkd's socket (default: NDK_SOCKET, then ndkd's own)\n",
	       argv0, argv0);
}

/* ibv_rc_pingpong's wire GID: 16 bytes as 32 hex digits, in order. */
static void
gid_to_wire(const uint8_t gid[16], char out[33])
{
	int i;

	for (i = 0; i < 16; i++)
		sprintf(out + 2 * i, "%02x", gid[i]);
}

static bool
wire_to_gid(const char *w, uint8_t gid[16])
{
	int i;

	if (strlen(w) != 32)
		return false;
	for (i = 0; i < 16; i++) {
		unsigned int b;

		if (sscanf(w + 2 * i, "%2x", &b) != 1)
			return false;
		gid[i] = (uint8_t)b;
	}
	return true;
}

static void
dest_msg(const struct dest *d, char msg[MSG_LEN])
{
	char gid[33];

	gid_to_wire(d->gid, gid);
	snprintf(msg, MSG_LEN, "%04x:%06x:%06x:%s", d->lid, d->qpn, d->psn, gid);
}

static bool
msg_dest(const char *msg, struct dest *d)
{
	char gid[33] = { 0 };

	return sscanf(msg, "%x:%x:%x:%32s", &d->lid, &d->qpn, &d->psn, gid) == 4 &&
	       wire_to_gid(gid, d->gid);
}

static void
print_dest(const char *what, const struct dest *d)
{
	char gid[INET6_ADDRSTRLEN];

	inet_ntop(AF_INET6, d->gid, gid, sizeof(gid));
	printf("  %s address: LID 0x%04x, QPN 0x%06x, PSN 0x%06x, GID %s\n", what, d->lid, d->qpn,
	       d->psn, gid);
}

static ndk_status
pp_connect(struct pp *p, const struct dest *rem, uint32_t mtu)
{
	return qp_connect_rocev2(p->ad, p->qp, rem->gid, rem->qpn, rem->psn, mtu,
				 (int)p->gid_index);
}

/* Client: send ours, read theirs, connect, say done. Server: the other way round. */
static bool
exchange(struct pp *p, const char *server, unsigned int port, const struct dest *my,
	 struct dest *rem, uint32_t mtu)
{
	char msg[MSG_LEN];
	int fd = tcp_socket(server, port);
	ndk_status st;
	bool ok = false;

	if (fd < 0)
		return false;
	if (server != NULL) {
		dest_msg(my, msg);
		if (!full_io(fd, msg, sizeof(msg), true) || !full_io(fd, msg, sizeof(msg), false) ||
		    !msg_dest(msg, rem)) {
			fprintf(stderr, "Couldn't read/write remote address\n");
			goto out;
		}
		st = pp_connect(p, rem, mtu);
		if (st != NDK_STATUS_SUCCESS) {
			fprintf(stderr, "Couldn't connect to remote QP: %s\n", ndk_status_str(st));
			goto out;
		}
		ok = full_io(fd, "done", sizeof("done"), true);
		goto out;
	}
	fd = tcp_accept_one(fd);
	if (fd < 0 || !full_io(fd, msg, sizeof(msg), false) || !msg_dest(msg, rem)) {
		fprintf(stderr, "Couldn't read remote address\n");
		goto out;
	}
	st = pp_connect(p, rem, mtu);
	if (st != NDK_STATUS_SUCCESS) {
		fprintf(stderr, "Couldn't connect to remote QP: %s\n", ndk_status_str(st));
		goto out;
	}
	dest_msg(my, msg);
	ok = full_io(fd, msg, sizeof(msg), true);
	/* "done" from the client; an old client sends nothing more */
	if (ok)
		(void)!read(fd, msg, sizeof(msg));
out:
	if (fd >= 0)
		close(fd);
	return ok;
}

static int
open_all(struct pp *p, const char *sock)
{
	struct ndk_adapter_opts ao;
	struct done d = { 0 };
	ndk_status st;
	size_t room = ((size_t)p->size + PAGE - 1) / PAGE * PAGE;

	ndk_adapter_opts_init(&ao, sizeof(ao));
	ao.name = "ndk-pingpong";
	st = ndk_adapter_open(sock, &ao, &p->ad);
	if (st == NDK_STATUS_SUCCESS)
		st = finish(p->ad, &d, ndk_pd_create(p->ad, create_done, &d, &p->pd));
	if (st == NDK_STATUS_SUCCESS) {
		p->pd = (struct ndk_pd *)d.obj;
		d = (struct done){ 0 };
		st = finish(p->ad, &d,
			    ndk_cq_create(p->ad, p->rx_depth + 2, create_done, &d, &p->cq));
	}
	if (st == NDK_STATUS_SUCCESS) {
		p->cq = (struct ndk_cq *)d.obj;
		d = (struct done){ 0 };
		st = finish(p->ad, &d,
			    ndk_qp_create(p->pd, p->cq, p->cq, p, p->rx_depth, 2, 1, 1, 0,
					  create_done, &d, &p->qp));
	}
	if (st == NDK_STATUS_SUCCESS) {
		p->qp = (struct ndk_qp *)d.obj;
		d = (struct done){ 0 };
		p->buf = ndk_mem_alloc(p->ad, 2 * room, PAGE);
		st = p->buf != NULL ? finish(p->ad, &d,
					     ndk_mr_create(p->pd, false, create_done, &d, &p->mr))
				    : NDK_STATUS_NO_MEMORY;
	}
	if (st == NDK_STATUS_SUCCESS) {
		if (d.obj != NULL) /* else ndk_mr_create() took one from the pool at once */
			p->mr = (struct ndk_mr *)d.obj;
		d = (struct done){ 0 };
		st = finish(p->ad, &d,
			    ndk_mr_register(p->mr, p->buf, 2 * room, NDK_MR_FLAG_ALLOW_LOCAL_WRITE,
					    req_done, &d));
	}
	if (st != NDK_STATUS_SUCCESS) {
		fprintf(stderr, "ndk-pingpong: cannot set up over ndkd: %s\n", ndk_status_str(st));
		return 1;
	}
	p->token = ndk_mr_get_local_token(p->mr);
	p->rx = p->buf + room;
	/* as ibv_rc_pingpong: 0x7b, and with -c a 0 at the start of each page */
	memset(p->buf, 0x7b, p->size);
	memset(p->rx, 0, p->size);
	return 0;
}

static bool
post_recv(struct pp *p, uint32_t n)
{
	struct ndk_sge sge = { .virtual_address = p->rx,
			       .length = p->size,
			       .memory_region_token = p->token };
	uint32_t i;

	for (i = 0; i < n; i++)
		if (ndk_qp_receive(p->qp, RECV_WRID, &sge, 1) != NDK_STATUS_SUCCESS)
			return false;
	return true;
}

static bool
post_send(struct pp *p)
{
	struct ndk_sge sge = { .virtual_address = p->buf,
			       .length = p->size,
			       .memory_region_token = p->token };

	return ndk_qp_send(p->qp, SEND_WRID, &sge, 1, 0) == NDK_STATUS_SUCCESS;
}

/* With -c: what ibv_rc_pingpong's client puts in its buffer, every byte of it. */
static void
check_rx(struct pp *p)
{
	uint32_t i;

	for (i = 0; i < p->size; i++) {
		if (p->rx[i] != (i % PAGE == 0 ? 0 : 0x7b)) {
			printf("invalid data in page %u (byte %u: 0x%02x)\n", i / PAGE, i,
			       p->rx[i]);
			p->bad_pages++;
			i = (i / PAGE + 1) * PAGE - 1;
		}
	}
	memset(p->rx, 0, p->size); /* the next message must bring its bytes again */
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "port", 1, NULL, 'p' },    { "ib-dev", 1, NULL, 'd' },
		{ "ib-port", 1, NULL, 'i' }, { "size", 1, NULL, 's' },
		{ "mtu", 1, NULL, 'm' },     { "rx-depth", 1, NULL, 'r' },
		{ "iters", 1, NULL, 'n' },   { "sl", 1, NULL, 'l' },
		{ "events", 0, NULL, 'e' },  { "gid-idx", 1, NULL, 'g' },
		{ "chk", 0, NULL, 'c' },     { "socket", 1, NULL, 'S' },
		{ "help", 0, NULL, 'h' },    { NULL, 0, NULL, 0 },
	};
	struct pp p = { .size = 4096, .rx_depth = 500 };
	const char *server = NULL, *sock = getenv("NDK_SOCKET");
	unsigned int port = 18515, iters = 1000, scnt = 0, rcnt = 0, routs;
	uint32_t mtu = 1024;
	struct ndk_qp_address la;
	struct dest my = { 0 }, rem;
	struct timeval start, end;
	ndk_status st;
	int c;

	while ((c = getopt_long(argc, argv, "p:d:i:s:m:r:n:l:eg:cS:h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			port = (unsigned int)strtoul(optarg, NULL, 0);
			if (port > 65535) {
				usage(argv[0]);
				return 1;
			}
			break;
		case 's':
			p.size = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 'm':
			mtu = (uint32_t)strtoul(optarg, NULL, 0);
			if (mtu < 256 || mtu > 4096 || (mtu & (mtu - 1)) != 0) {
				usage(argv[0]);
				return 1;
			}
			break;
		case 'r':
			p.rx_depth = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 'n':
			iters = (unsigned int)strtoul(optarg, NULL, 0);
			break;
		case 'c':
			p.validate = true;
			break;
		case 'S':
			sock = optarg;
			break;
		case 'g':
			p.gid_index = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 'd':
		case 'i':
		case 'l':
		case 'e':
			break;
		case 'h':
			usage(argv[0]);
			return 0;
		default:
			usage(argv[0]);
			return 1;
		}
	}
	if (optind == argc - 1) {
		server = argv[optind];
	} else if (optind < argc) {
		usage(argv[0]);
		return 1;
	}
	if (p.size == 0 || p.rx_depth < 2 || p.rx_depth > 4096) {
		usage(argv[0]);
		return 1;
	}
	if (open_all(&p, sock) != 0)
		return 1;
	/*
	 * ibv_rc_pingpong's client marks its pages with -c; it receives into the
	 * buffer it sends from, so from the second message on it sends back
	 * what it got: both roles send the marked buffer.
	 */
	if (p.validate)
		for (c = 0; (uint32_t)c < p.size; c += PAGE)
			p.buf[c] = 0;
	if (!post_recv(&p, p.rx_depth)) {
		fprintf(stderr, "Couldn't post receive (%u)\n", p.rx_depth);
		return 1;
	}
	routs = p.rx_depth;
	st = ndk_qp_get_rocev2_address_at(p.qp, p.gid_index, &la);
	if (st != NDK_STATUS_SUCCESS) {
		fprintf(stderr, "ndk-pingpong: no RoCEv2 address: %s (does ndkd have a --port?)\n",
			ndk_status_str(st));
		return 1;
	}
	my.qpn = la.qpn;
	my.psn = la.psn;
	memcpy(my.gid, la.ip, 16);
	print_dest("local ", &my);
	if (!exchange(&p, server, port, &my, &rem, mtu))
		return 1;
	print_dest("remote", &rem);

	p.pending_recv = true;
	if (server != NULL) {
		if (!post_send(&p)) {
			fprintf(stderr, "Couldn't post send\n");
			return 1;
		}
		p.pending_send = true;
	}
	gettimeofday(&start, NULL);
	while (rcnt < iters || scnt < iters) {
		struct ndk_result_ex r[2];
		uint32_t i, n = ndk_cq_get_results_ex(p.cq, r, 2);

		if (n == 0) {
			ndk_adapter_progress(p.ad, 0);
			continue;
		}
		for (i = 0; i < n; i++) {
			if (r[i].status != NDK_STATUS_SUCCESS) {
				fprintf(stderr, "Failed status %s (0x%08x) for wr_id %d\n",
					ndk_status_str(r[i].status), r[i].status,
					(int)(uintptr_t)r[i].request_context);
				return 1;
			}
			if (r[i].request_context == SEND_WRID) {
				scnt++;
				p.pending_send = false;
			} else if (r[i].request_context == RECV_WRID) {
				if (p.validate && server == NULL)
					check_rx(&p);
				if (--routs <= 1) {
					if (!post_recv(&p, p.rx_depth - routs)) {
						fprintf(stderr, "Couldn't post receive\n");
						return 1;
					}
					routs = p.rx_depth;
				}
				rcnt++;
				p.pending_recv = false;
			} else {
				fprintf(stderr, "Completion for unknown wr_id %p\n",
					r[i].request_context);
				return 1;
			}
			if (scnt < iters && !p.pending_send && !p.pending_recv) {
				if (!post_send(&p)) {
					fprintf(stderr, "Couldn't post send\n");
					return 1;
				}
				p.pending_send = p.pending_recv = true;
			}
		}
	}
	gettimeofday(&end, NULL);
	{
		double usec = (double)(end.tv_sec - start.tv_sec) * 1e6 +
			      (double)(end.tv_usec - start.tv_usec);
		long long bytes = (long long)p.size * iters * 2;

		printf("%lld bytes in %.2f seconds = %.2f Mbit/sec\n", bytes, usec / 1e6,
		       bytes * 8. / usec);
		printf("%u iters in %.2f seconds = %.2f usec/iter\n", iters, usec / 1e6,
		       usec / iters);
	}
	ndk_adapter_close(p.ad);
	return p.bad_pages != 0 ? 1 : 0;
}
