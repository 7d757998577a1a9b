/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The out-of-band side of the tools: the TCP connection over which RDMA
 * tools swap their QP numbers (ibv_rc_pingpong's, perftest's), and the
 * connect of an ndk QP to what came over it.
 */
#ifndef NDK_TOOLS_OOB_H
#define NDK_TOOLS_OOB_H

#include <errno.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ndk/ndk.h>

#include "done.h"

/* All of len, or false (peer gone, error). */
static inline bool
full_io(int fd, void *buf, size_t len, bool wr)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = wr ? write(fd, (char *)buf + done, len - done)
			       : read(fd, (char *)buf + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		done += (size_t)n;
	}
	return true;
}

/*
 * A client's connected socket (host given), or a server's listening one
 * (host NULL); -1 with the reason printed.
 */
static inline int
tcp_socket(const char *host, unsigned int port)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res, *t;
	char service[8];
	int fd = -1, one = 1;

	if (host == NULL)
		hints.ai_flags = AI_PASSIVE;
	snprintf(service, sizeof(service), "%u", port);
	if (getaddrinfo(host, service, &hints, &res) != 0) {
		fprintf(stderr, "cannot resolve %s:%u\n", host != NULL ? host : "*", port);
		return -1;
	}
	for (t = res; t != NULL; t = t->ai_next) {
		fd = socket(t->ai_family, t->ai_socktype, t->ai_protocol);
		if (fd < 0)
			continue;
		if (host != NULL ? connect(fd, t->ai_addr, t->ai_addrlen) == 0
				 : (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)),
				    bind(fd, t->ai_addr, t->ai_addrlen) == 0 && listen(fd, 1) == 0))
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		fprintf(stderr, "Couldn't %s %s:%u\n", host != NULL ? "connect to" : "listen on",
			host != NULL ? host : "*", port);
	return fd;
}

/* The server's side: the one connection, the listening socket closed. */
static inline int
tcp_accept_one(int lfd)
{
	int fd = accept(lfd, NULL, NULL);

	close(lfd);
	if (fd < 0)
		perror("accept");
	return fd;
}

/* Connect qp to a RoCEv2 peer: its GID, QPN, first PSN, and the path MTU to use. */
static inline ndk_status
qp_connect_rocev2(struct ndk_adapter *ad, struct ndk_qp *qp, const uint8_t gid[16], uint32_t qpn,
		  uint32_t psn, uint32_t mtu, int gid_index)
{
	struct ndk_qp_address a = { .family = NDK_ADDRESS_ROCEV2,
				    .qpn = qpn,
				    .psn = psn,
				    .mtu = mtu,
				    .sgid = gid_index < 0 ? 0 : (uint32_t)gid_index + 1 };
	struct done d = { 0 };

	memcpy(a.ip, gid, 16);
	return finish(ad, &d, ndk_qp_connect(qp, &a, req_done, &d));
}

#endif /* NDK_TOOLS_OOB_H */
