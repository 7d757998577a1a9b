/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ndk-rping: librdmacm's rping over ndkd. The same command line and the
 * same protocol on the same connection (rdma_cm's port space, port 7174 by
 * default), so either side can be rping on a Linux host with a RoCE device
 * (rxe included) and the other ndk-rping on an ndkd node.
 *
 * Per ping the client SENDs its source buffer's address, token (rkey) and
 * size (16 bytes, big-endian); the server READs the buffer and answers
 * with a SEND; the client SENDs its sink buffer's; the server WRITEs what
 * it read there and answers again. The client's buffer holds
 * "rdma-ping-N: " and then letters from 'A' + N (mod 58) on.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include <ndk/ndk.h>

#include "be.h"
#include "done.h"

#define PORT_DEFAULT 7174
#define SIZE_DEFAULT 64
#define SIZE_MAX_    (64 * 1024 - 1)
#define MSG_FMT	     "rdma-ping-%d: "
#define SIZE_MIN     ((int)(sizeof("2147483647") + sizeof(MSG_FMT)))
#define INFO_LEN     16 /* struct rping_rdma_info: buf be64, rkey be32, size be32 */

/* Request contexts: what completed. */
#define CTX_RECV  ((void *)1)
#define CTX_SEND  ((void *)2)
#define CTX_READ  ((void *)3)
#define CTX_WRITE ((void *)4)

struct rp {
	struct ndk_adapter *ad;
	struct ndk_pd *pd;
	struct ndk_cq *cq;
	struct ndk_qp *qp;
	struct ndk_mr *mr;
	struct ndk_connector *conn;
	uint32_t token;
	/* one registered allocation: the two messages, then the two buffers */
	uint8_t *recv_buf, *send_buf;
	char *start_buf; /* client: what it pings with */
	char *rdma_buf;	 /* server: what it read; client: what the server wrote back */
	int size, count;
	bool server, verbose, validate;
	bool peer_gone; /* a receive came back flushed: the peer disconnected */
};

static void
usage(const char *argv0)
{
	printf("Usage:\n"
	       "  %s -s [-vVq] [-C count] [-S size] [-a addr] [-p port]\n"
	       "  %s -c [-vVq] [-C count] [-S size] -a addr [-p port]\n"
	       "\n"
	       "Options:\n"
	       "  -s          server\n"
	       "  -c          client\n"
	       "  -a addr     server: the address to listen on (any of ndkd's, by default);\n"
	       "              client: the server's IPv4 address\n"
	       "  -p port     port (default %d)\n"
	       "  -C count    pings to run (default: the client pings until stopped,\n"
	       "              the server serves until the client disconnects)\n"
	       "  -S size     ping data size (%d to %d, default %d)\n"
	       "  -v          print the ping data\n"
	       "  -V          check the ping data the server wrote back (client)\n"
	       "  -q          accepted, ignored (ndkd makes the QP either way)\n"
	       "  -d          accepted, ignored\n"
	       "ndkd's socket comes from NDK_SOCKET (else ndkd's own).\n",
	       argv0, argv0, PORT_DEFAULT, SIZE_MIN, SIZE_MAX_, SIZE_DEFAULT);
}

static int
fail(const char *what, ndk_status st)
{
	fprintf(stderr, "ndk-rping: %s: %s\n", what, ndk_status_str(st));
	return 1;
}

static int
open_all(struct rp *r, const char *sock)
{
	struct ndk_adapter_opts ao;
	struct done d = { 0 };
	size_t bytes = 2 * 64 + 2 * (size_t)r->size;
	ndk_status st;

	ndk_adapter_opts_init(&ao, sizeof(ao));
	ao.name = "ndk-rping";
	st = ndk_adapter_open(sock, &ao, &r->ad);
	if (st == NDK_STATUS_SUCCESS)
		st = finish(r->ad, &d, ndk_pd_create(r->ad, create_done, &d, &r->pd));
	if (st == NDK_STATUS_SUCCESS) {
		r->pd = (struct ndk_pd *)d.obj;
		d = (struct done){ 0 };
		st = finish(r->ad, &d, ndk_cq_create(r->ad, 32, create_done, &d, &r->cq));
	}
	if (st == NDK_STATUS_SUCCESS) {
		r->cq = (struct ndk_cq *)d.obj;
		d = (struct done){ 0 };
		st = finish(r->ad, &d,
			    ndk_qp_create(r->pd, r->cq, r->cq, r, 4, 16, 1, 1, 0, create_done, &d,
					  &r->qp));
	}
	if (st == NDK_STATUS_SUCCESS) {
		r->qp = (struct ndk_qp *)d.obj;
		d = (struct done){ 0 };
		r->recv_buf = ndk_mem_alloc(r->ad, bytes, 64);
		st = r->recv_buf != NULL
			     ? finish(r->ad, &d,
				      ndk_mr_create(r->pd, false, create_done, &d, &r->mr))
			     : NDK_STATUS_NO_MEMORY;
	}
	if (st == NDK_STATUS_SUCCESS) {
		if (d.obj != NULL) /* else ndk_mr_create() took one from the pool at once */
			r->mr = (struct ndk_mr *)d.obj;
		d = (struct done){ 0 };
		memset(r->recv_buf, 0, bytes);
		st = finish(r->ad, &d,
			    ndk_mr_register(r->mr, r->recv_buf, bytes,
					    NDK_MR_FLAG_ALLOW_LOCAL_WRITE |
						    NDK_MR_FLAG_ALLOW_REMOTE_READ |
						    NDK_MR_FLAG_ALLOW_REMOTE_WRITE,
					    req_done, &d));
	}
	if (st == NDK_STATUS_SUCCESS)
		st = ndk_connector_create(r->ad, &r->conn);
	if (st != NDK_STATUS_SUCCESS)
		return fail("cannot set up over ndkd", st);
	r->token = ndk_mr_get_remote_token(r->mr);
	r->send_buf = r->recv_buf + 64;
	r->start_buf = (char *)r->recv_buf + 128;
	r->rdma_buf = r->start_buf + r->size;
	return 0;
}

static ndk_status
post_recv(struct rp *r)
{
	struct ndk_sge sge = { .virtual_address = r->recv_buf,
			       .length = INFO_LEN,
			       .memory_region_token = ndk_mr_get_local_token(r->mr) };

	return ndk_qp_receive(r->qp, CTX_RECV, &sge, 1);
}

/* SEND what send_buf holds: rping's info for buf, or (buf NULL, the server's go-ahead) zeros. */
static ndk_status
post_info(struct rp *r, const char *buf)
{
	struct ndk_sge sge = { .virtual_address = r->send_buf,
			       .length = INFO_LEN,
			       .memory_region_token = ndk_mr_get_local_token(r->mr) };

	memset(r->send_buf, 0, INFO_LEN);
	if (buf != NULL) {
		put_be(r->send_buf, (uintptr_t)buf, 8);
		put_be(r->send_buf + 8, r->token, 4);
		put_be(r->send_buf + 12, (uint32_t)r->size, 4);
	}
	return ndk_qp_send(r->qp, CTX_SEND, &sge, 1, 0);
}

/*
 * Wait for the result of the request ctx (others that complete meanwhile
 * must succeed); a receive is posted again at once, as rping does. Its
 * status; a flushed receive marks the peer gone.
 */
static ndk_status
wait_for(struct rp *r, void *ctx, uint32_t *bytes)
{
	for (;;) {
		struct ndk_result_ex res;

		if (ndk_cq_get_results_ex(r->cq, &res, 1) == 0) {
			ndk_adapter_progress(r->ad, 0);
			continue;
		}
		if (res.status != NDK_STATUS_SUCCESS) {
			if (res.request_context == CTX_RECV && res.status == NDK_STATUS_CANCELLED)
				r->peer_gone = true;
			return res.status;
		}
		if (res.request_context == CTX_RECV) {
			ndk_status st = post_recv(r);

			if (st != NDK_STATUS_SUCCESS)
				return st;
		}
		if (res.request_context == ctx) {
			if (bytes != NULL)
				*bytes = res.bytes_transferred;
			return NDK_STATUS_SUCCESS;
		}
	}
}

static ndk_status
rdma(struct rp *r, bool write, uint64_t addr, uint32_t rkey, uint32_t len)
{
	struct ndk_sge sge = { .virtual_address = r->rdma_buf,
			       .length = len,
			       .memory_region_token = ndk_mr_get_local_token(r->mr) };
	ndk_status st = write ? ndk_qp_write(r->qp, CTX_WRITE, &sge, 1, addr, rkey, 0)
			      : ndk_qp_read(r->qp, CTX_READ, &sge, 1, addr, rkey, 0);

	return st == NDK_STATUS_SUCCESS ? wait_for(r, write ? CTX_WRITE : CTX_READ, NULL) : st;
}

/* The client's next advertisement: its buffer's address, rkey and length. */
static ndk_status
next_adv(struct rp *r, uint64_t *addr, uint32_t *rkey, uint32_t *len)
{
	uint32_t got = 0;
	ndk_status st = wait_for(r, CTX_RECV, &got);

	if (st != NDK_STATUS_SUCCESS)
		return st;
	if (got != INFO_LEN) {
		fprintf(stderr, "Received bogus data, size %u\n", got);
		return NDK_STATUS_INVALID_PARAMETER;
	}
	*addr = get_be(r->recv_buf, 8);
	*rkey = (uint32_t)get_be(r->recv_buf + 8, 4);
	*len = (uint32_t)get_be(r->recv_buf + 12, 4);
	return NDK_STATUS_SUCCESS;
}

static ndk_status
serve(struct rp *r)
{
	uint64_t addr;
	uint32_t rkey, len;
	ndk_status st = NDK_STATUS_SUCCESS;
	int ping;

	for (ping = 0; r->count == 0 || ping < r->count; ping++) {
		st = next_adv(r, &addr, &rkey, &len);
		if (st != NDK_STATUS_SUCCESS)
			break;
		if (len > (uint32_t)r->size) {
			fprintf(stderr, "ndk-rping: the client's %u bytes exceed -S %d\n", len,
				r->size);
			return NDK_STATUS_BUFFER_TOO_SMALL;
		}
		st = rdma(r, false, addr, rkey, len);
		if (st != NDK_STATUS_SUCCESS)
			break;
		r->rdma_buf[r->size - 1] = 0;
		if (r->verbose)
			printf("server ping data: %s\n", r->rdma_buf);
		st = post_info(r, NULL);
		if (st == NDK_STATUS_SUCCESS)
			st = wait_for(r, CTX_SEND, NULL);
		if (st == NDK_STATUS_SUCCESS)
			st = next_adv(r, &addr, &rkey, &len);
		if (st == NDK_STATUS_SUCCESS)
			st = rdma(r, true, addr, rkey, (uint32_t)strlen(r->rdma_buf) + 1);
		if (st == NDK_STATUS_SUCCESS)
			st = post_info(r, NULL);
		if (st == NDK_STATUS_SUCCESS)
			st = wait_for(r, CTX_SEND, NULL);
		if (st != NDK_STATUS_SUCCESS)
			break;
	}
	/* rping's server ends when its client disconnects: that is no failure */
	return r->peer_gone ? NDK_STATUS_SUCCESS : st;
}

static ndk_status
ping(struct rp *r)
{
	ndk_status st = NDK_STATUS_SUCCESS;
	int n, i, cc, start = 65;

	for (n = 0; r->count == 0 || n < r->count; n++) {
		unsigned char c = (unsigned char)start;

		cc = snprintf(r->start_buf, (size_t)r->size, MSG_FMT, n);
		for (i = cc; i < r->size; i++) {
			r->start_buf[i] = (char)c;
			if (++c > 122)
				c = 65;
		}
		if (++start > 122)
			start = 65;
		r->start_buf[r->size - 1] = 0;
		st = post_info(r, r->start_buf);
		if (st == NDK_STATUS_SUCCESS)
			st = wait_for(r, CTX_RECV, NULL); /* the server read it */
		if (st == NDK_STATUS_SUCCESS)
			st = post_info(r, r->rdma_buf);
		if (st == NDK_STATUS_SUCCESS)
			st = wait_for(r, CTX_RECV, NULL); /* the server wrote it back */
		if (st != NDK_STATUS_SUCCESS)
			return st;
		if (r->validate && memcmp(r->start_buf, r->rdma_buf, (size_t)r->size) != 0) {
			fprintf(stderr, "data mismatch!\n");
			return NDK_STATUS_UNSUCCESSFUL;
		}
		if (r->verbose)
			printf("ping data: %s\n", r->rdma_buf);
		memset(r->rdma_buf, 0, (size_t)r->size); /* the next ping must bring its bytes */
	}
	return st;
}

struct incoming {
	struct ndk_connector *c;
};

static void
on_connect(void *ctx, struct ndk_connector *c)
{
	struct incoming *in = ctx;

	if (in->c == NULL)
		in->c = c;
	else
		ndk_connector_close(c, NULL, NULL); /* one client at a time: the rest refused */
}

/* Listen at a, take the first connection on r's QP. */
static int
accept_one(struct rp *r, const struct ndk_qp_address *a, struct ndk_listener **l)
{
	struct incoming in = { 0 };
	struct done d = { 0 };
	ndk_status st;

	st = ndk_listener_create(r->ad, on_connect, &in, l);
	if (st == NDK_STATUS_SUCCESS)
		st = finish(r->ad, &d, ndk_listener_listen(*l, a, req_done, &d));
	if (st != NDK_STATUS_SUCCESS)
		return fail("cannot listen", st);
	while (in.c == NULL)
		ndk_adapter_progress(r->ad, 0);
	ndk_connector_close(r->conn, NULL, NULL);
	r->conn = in.c;
	d = (struct done){ 0 };
	st = finish(r->ad, &d, ndk_connector_accept(r->conn, r->qp, 1, 1, NULL, 0, req_done, &d));
	return st == NDK_STATUS_SUCCESS ? 0 : fail("accept", st);
}

static bool
parse_addr(const char *s, struct ndk_qp_address *a)
{
	struct in_addr ip;

	if (inet_pton(AF_INET, s, &ip) != 1)
		return false;
	a->ip[10] = a->ip[11] = 0xff;
	memcpy(a->ip + 12, &ip, 4);
	return true;
}

int
main(int argc, char **argv)
{
	struct rp r = { .size = SIZE_DEFAULT };
	struct ndk_qp_address a = { .family = NDK_ADDRESS_ROCEV2, .port = PORT_DEFAULT };
	struct ndk_listener *l = NULL;
	const char *sock = getenv("NDK_SOCKET"), *addr = NULL;
	int role = -1, c, ret;
	struct done d = { 0 };
	ndk_status st;

	while ((c = getopt(argc, argv, "a:I:Pp:C:S:t:scvVdqh")) != -1) {
		switch (c) {
		case 'a':
			addr = optarg;
			break;
		case 'p':
			a.port = (uint16_t)atoi(optarg);
			break;
		case 's':
			role = 1;
			break;
		case 'c':
			role = 0;
			break;
		case 'C':
			r.count = atoi(optarg);
			break;
		case 'S':
			r.size = atoi(optarg);
			break;
		case 'v':
			r.verbose = true;
			break;
		case 'V':
			r.validate = true;
			break;
		case 'q':
		case 'd':
			break;
		case 'h':
			usage(argv[0]);
			return 0;
		default:
			usage(argv[0]);
			return 1;
		}
	}
	if (role < 0 || optind != argc || r.count < 0 || a.port == 0 ||
	    (role == 0 && addr == NULL) || (addr != NULL && !parse_addr(addr, &a))) {
		usage(argv[0]);
		return 1;
	}
	if (r.size < SIZE_MIN || r.size > SIZE_MAX_) {
		fprintf(stderr, "Invalid size %d (valid range is %d to %d)\n", r.size, SIZE_MIN,
			SIZE_MAX_);
		return 1;
	}
	r.server = role == 1;
	if (open_all(&r, sock) != 0)
		return 1;
	st = post_recv(&r);
	if (st != NDK_STATUS_SUCCESS)
		return fail("post receive", st);
	if (r.server) {
		ret = accept_one(&r, &a, &l);
	} else {
		st = finish(r.ad, &d,
			    ndk_connector_connect(r.conn, r.qp, &a, 1, 1, NULL, 0, req_done, &d));
		ret = st == NDK_STATUS_SUCCESS ? 0 : fail("connect", st);
	}
	if (ret == 0) {
		st = r.server ? serve(&r) : ping(&r);
		if (st != NDK_STATUS_SUCCESS)
			ret = fail(r.server ? "serving" : "pinging", st);
	}
	if (!r.peer_gone) {
		d = (struct done){ 0 };
		finish(r.ad, &d, ndk_connector_disconnect(r.conn, req_done, &d));
	}
	ndk_connector_close(r.conn, NULL, NULL);
	if (l != NULL)
		ndk_listener_close(l, NULL, NULL);
	ndk_adapter_close(r.ad);
	return ret;
}
