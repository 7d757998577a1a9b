/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Helpers for ndkd's tests: checks, a real ndkd process per test, telemetry
 * queries, and a raw ABI client that bypasses libndk to send what libndk
 * never would.
 */
#ifndef NDK_TESTLIB_H
#define NDK_TESTLIB_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <ndk/internal/abi.h>
#include <ndk/internal/ring.h>

#define TEST_SKIP 77

extern int t_failures;
extern int t_checks;

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		t_checks++;                                                                        \
		if (!(cond)) {                                                                     \
			t_failures++;                                                              \
			fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);            \
			fprintf(stderr, __VA_ARGS__);                                              \
			fprintf(stderr, "\n");                                                     \
		}                                                                                  \
	} while (0)

#define CHECK_STATUS(got, want)                                                                    \
	CHECK((got) == (want), "got %s (0x%08x), want %s", ndk_status_str(got), (got),             \
	      ndk_status_str(want))

/* Whether case fn runs: NDK_TEST_ONLY=A,B,... names parts of the names that do (unset: all). */
bool t_selected(const char *fn);

/* Run one named case (if selected); prints "ok"/"not ok" lines. */
#define RUN(fn)                                                                                    \
	do {                                                                                       \
		int before_ = t_failures;                                                          \
		if (!t_selected(#fn))                                                              \
			break;                                                                     \
		fn();                                                                              \
		printf("%s %s\n", t_failures == before_ ? "ok" : "not ok", #fn);                   \
		fflush(stdout);                                                                    \
	} while (0)

/* Summary line; returns the process exit code. */
int t_done(void);

/* A real ndkd, private socket and EAL file prefix. */
struct tdaemon {
	pid_t pid;
	char dir[64];
	char sock[128];
	char prefix[48];
	char log[128];
};

/*
 * Start build/daemon/ndkd (path from $NDKD_BIN) with --no-huge and the
 * given extra arguments (NULL-terminated), and wait until it accepts.
 * Returns 0 or -1 (with the daemon's log printed).
 */
int tdaemon_start(struct tdaemon *d, const char *name, const char *const *extra);
/* The same, listening on sock (e.g. the path of a daemon that died) instead. */
int tdaemon_start_at(struct tdaemon *d, const char *name, const char *sock,
		     const char *const *extra);
/*
 * The same, in the network namespace /run/netns/<netns> (made by `ip netns
 * add`); the socket and telemetry paths stay reachable from the caller's.
 */
int tdaemon_start_in(struct tdaemon *d, const char *name, const char *netns,
		     const char *const *extra);
/* SIGTERM and wait; returns the exit status, or -1 if it died of a signal or hung. */
int tdaemon_stop(struct tdaemon *d);
int tdaemon_stop_signal(struct tdaemon *d, int sig);
void tdaemon_kill(struct tdaemon *d);
bool tdaemon_alive(struct tdaemon *d);

/* A counter from /ndkd/status, or UINT64_MAX on error. */
uint64_t tel_status_u64(const struct tdaemon *d, const char *key);
/* A number from any telemetry command's dict ("/ndkd/mr,123"), or UINT64_MAX. */
uint64_t tel_query_u64(const struct tdaemon *d, const char *cmd, const char *key);
/* Element i of an array field likewise (a column of "/ndkd/objects"), or UINT64_MAX. */
uint64_t tel_query_elem_u64(const struct tdaemon *d, const char *cmd, const char *key, size_t i);
/*
 * A telemetry connection kept open (fd, or -1), and tel_query_elem_u64 on
 * it: DPDK's telemetry serves each connection on a thread it creates, so a
 * benchmark that asks often keeps one rather than make a thread a query.
 */
int tel_open(const struct tdaemon *d);
uint64_t tel_on_elem_u64(int fd, const char *cmd, const char *key, size_t i);
/* A string field likewise, copied into buf ("" on error). */
void tel_query_str(const struct tdaemon *d, const char *cmd, const char *key, char *buf,
		   size_t len);
/* True when ndkd's MR table would honour token right now. */
bool tel_token_live(const struct tdaemon *d, uint32_t token);
/* Poll until the counter equals want (up to timeout_ms); returns the last value. */
uint64_t tel_wait_u64(const struct tdaemon *d, const char *key, uint64_t want, int timeout_ms);
/*
 * Wait until all but still_attached of the clients that ever attached are
 * cleaned up. A client closed at the end of one test is cleaned up a grace
 * period later: read counters for the next one only after this.
 */
bool tel_settle(const struct tdaemon *d, uint64_t still_attached, int timeout_ms);

/* A client speaking the ABI by hand. */
struct raw_client {
	int sock;
	int memfd; /* the channel fd, kept open to test its seals */
	struct ndk_abi_hello_reply reply;
	void *region;
	size_t region_size;
	struct ndk_abi_region *hdr;
	struct ndk_ring sq;
	struct ndk_ring cq;
};

int raw_connect(const char *sock_path);
/* Send hello bytes and read the reply (and fd). Returns reply status or UINT32_MAX. */
/*
 * Send req on sock, wait up to timeout_ms for one reply of exactly reply_len
 * bytes and the fd that came with it (*fd, -1 if none). false: no such reply.
 */
bool raw_exchange(int sock, const void *req, size_t req_len, void *reply, size_t reply_len, int *fd,
		  int timeout_ms);
uint32_t raw_hello_bytes(struct raw_client *rc, const void *hello, size_t len);
/* Attach with a correct hello and map the channel. Returns 0 or -1. */
int raw_attach(struct raw_client *rc, const char *sock_path);
void raw_close(struct raw_client *rc);
/* True once the daemon has closed our socket (within timeout_ms). */
bool raw_wait_hangup(struct raw_client *rc, int timeout_ms);
/* One control request through rc's rings; its status, or UINT32_MAX after 2 s. */
uint32_t raw_call(struct raw_client *rc, uint8_t op, uint32_t handle, uint64_t a0, uint64_t a1,
		  uint64_t a2);

uint64_t t_now_ns(void);
/* Run a shell command, capture its stdout into out; its exit status, or -1. */
int t_run(const char *cmd, char *out, size_t len);
/* t_run of a formatted command, its output dropped. */
__attribute__((format(printf, 1, 2))) int t_sh(const char *fmt, ...);
/*
 * now + ms, stretched by NDK_TEST_TIME_SCALE (an integer, default 1) for
 * slow runs: valgrind, ThreadSanitizer. Used for waits, never for "fails fast".
 */
uint64_t t_deadline_ms(uint64_t ms);
uint64_t t_rand(uint64_t *state);

#endif /* NDK_TESTLIB_H */
