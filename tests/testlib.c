/* SPDX-License-Identifier: BSD-3-Clause */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "testlib.h"

int t_failures;
int t_checks;

int
t_done(void)
{
	printf("checks: %d passed, %d failed\n", t_checks - t_failures, t_failures);
	return t_failures == 0 ? 0 : 1;
}

uint64_t
t_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int
t_run(const char *cmd, char *out, size_t len)
{
	FILE *p = popen(cmd, "r");
	size_t n = 0;
	int st;

	out[0] = '\0';
	if (p == NULL)
		return -1;
	while (n + 1 < len && fgets(out + n, (int)(len - n), p) != NULL)
		n = strlen(out);
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int
t_sh(const char *fmt, ...)
{
	char cmd[512], out[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return t_run(cmd, out, sizeof(out));
}

uint64_t
t_deadline_ms(uint64_t ms)
{
	const char *env = getenv("NDK_TEST_TIME_SCALE");
	unsigned long scale = env != NULL ? strtoul(env, NULL, 10) : 1;

	return t_now_ns() + ms * 1000000ull * (scale > 0 ? scale : 1);
}

uint64_t
t_rand(uint64_t *s)
{
	/* splitmix64: seeded and repeatable */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void
print_log(const struct tdaemon *d)
{
	char buf[4096];
	FILE *f = fopen(d->log, "r");
	size_t n;

	if (f == NULL)
		return;
	fprintf(stderr, "---- ndkd log (%s) ----\n", d->log);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, n, stderr);
	fprintf(stderr, "---- end of ndkd log ----\n");
	fclose(f);
}

static int
try_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int start_daemon(struct tdaemon *d, const char *name, const char *sock, const char *netns,
			const char *const *extra);

int
tdaemon_start(struct tdaemon *d, const char *name, const char *const *extra)
{
	return start_daemon(d, name, NULL, NULL, extra);
}

int
tdaemon_start_at(struct tdaemon *d, const char *name, const char *sock, const char *const *extra)
{
	return start_daemon(d, name, sock, NULL, extra);
}

int
tdaemon_start_in(struct tdaemon *d, const char *name, const char *netns, const char *const *extra)
{
	return start_daemon(d, name, NULL, netns, extra);
}

bool
t_selected(const char *fn)
{
	const char *only = getenv("NDK_TEST_ONLY"), *p;

	if (only == NULL || *only == '\0')
		return true;
	for (p = only; *p != '\0';) {
		size_t n = strcspn(p, ",");
		char part[128];

		snprintf(part, sizeof(part), "%.*s", (int)(n < sizeof(part) ? n : sizeof(part) - 1),
			 p);
		if (n > 0 && strstr(fn, part) != NULL)
			return true;
		p += n + (p[n] == ',');
	}
	return false;
}

static int
start_daemon(struct tdaemon *d, const char *name, const char *sock, const char *netns,
	     const char *const *extra)
{
	const char *bin = getenv("NDKD_BIN");
	const char *argv[64];
	int argc = 0, i, fd;
	uint64_t deadline;

	if (bin == NULL)
		bin = "build/daemon/ndkd";
	memset(d, 0, sizeof(*d));
	snprintf(d->dir, sizeof(d->dir), "/tmp/ndkt-XXXXXX");
	if (mkdtemp(d->dir) == NULL)
		return -1;
	/* Other uids must reach the socket for the SO_PEERCRED tests. */
	chmod(d->dir, 0755);
	if (sock != NULL)
		snprintf(d->sock, sizeof(d->sock), "%s", sock);
	else
		snprintf(d->sock, sizeof(d->sock), "%s/ndkd.sock", d->dir);
	snprintf(d->prefix, sizeof(d->prefix), "ndkt-%s-%d", name, (int)getpid());
	snprintf(d->log, sizeof(d->log), "%s/ndkd.log", d->dir);

	argv[argc++] = bin;
	argv[argc++] = "--socket";
	argv[argc++] = d->sock;
	argv[argc++] = "--file-prefix";
	argv[argc++] = d->prefix;
	argv[argc++] = "--no-huge";
	argv[argc++] = "--mem";
	argv[argc++] = "128";
	/*
	 * soft unless the run names another (verbs, in the rxe guest:
	 * tests/interop), so a machine with an RDMA device runs the same tests
	 */
	argv[argc++] = "--provider";
	argv[argc++] = getenv("NDK_TEST_PROVIDER") != NULL ? getenv("NDK_TEST_PROVIDER") : "soft";
	if (getenv("NDK_TEST_DEVICE") != NULL) {
		argv[argc++] = "--device";
		argv[argc++] = getenv("NDK_TEST_DEVICE");
	}
	/* always or adaptive; ndkd's default otherwise (a test's own --poll comes later and wins)
	 */
	if (getenv("NDK_TEST_POLL") != NULL) {
		argv[argc++] = "--poll";
		argv[argc++] = getenv("NDK_TEST_POLL");
	}
	if (getenv("NDKD_TEST_LCORES") != NULL) {
		argv[argc++] = "--lcores";
		argv[argc++] = getenv("NDKD_TEST_LCORES");
	}
	for (i = 0; extra != NULL && extra[i] != NULL && argc < 62; i++)
		argv[argc++] = extra[i];
	argv[argc] = NULL;

	d->pid = fork();
	if (d->pid < 0)
		return -1;
	if (d->pid == 0) {
		int lfd = open(d->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		/* A test killed by its timeout must not leave a polling daemon
		 * behind to skew every later run on this host. */
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() == 1)
			_exit(126);
		if (netns != NULL) {
			char path[128];
			int nfd;

			snprintf(path, sizeof(path), "/run/netns/%s", netns);
			nfd = open(path, O_RDONLY | O_CLOEXEC);
			if (nfd < 0 || setns(nfd, CLONE_NEWNET) != 0)
				_exit(125);
			close(nfd);
		}

		dup2(lfd, 1);
		dup2(lfd, 2);
		/* as systemd does when stderr is the journal: name the stream */
		if (getenv("NDKD_TEST_JOURNAL") != NULL) {
			struct stat st;
			char js[64];

			if (fstat(2, &st) == 0) {
				snprintf(js, sizeof(js), "%llu:%llu", (unsigned long long)st.st_dev,
					 (unsigned long long)st.st_ino);
				setenv("JOURNAL_STREAM", js, 1);
			}
		}
		execv(bin, (char *const *)argv);
		fprintf(stderr, "exec %s: %s\n", bin, strerror(errno));
		_exit(127);
	}
	deadline = t_deadline_ms(20000);
	while (t_now_ns() < deadline) {
		if (!tdaemon_alive(d)) {
			fprintf(stderr, "ndkd exited during start-up\n");
			print_log(d);
			return -1;
		}
		fd = try_connect(d->sock);
		if (fd >= 0) {
			close(fd);
			/* Telemetry commands are registered right after listen. */
			if (tel_status_u64(d, "pid") == (uint64_t)d->pid)
				return 0;
		}
		sleep_ms(20);
	}
	fprintf(stderr, "ndkd did not start within %llu s\n",
		(unsigned long long)((t_deadline_ms(20000) - t_now_ns()) / 1000000000ull));
	print_log(d);
	tdaemon_kill(d);
	return -1;
}

bool
tdaemon_alive(struct tdaemon *d)
{
	int st;

	if (d->pid <= 0)
		return false;
	if (waitpid(d->pid, &st, WNOHANG) == d->pid) {
		d->pid = -1;
		return false;
	}
	return true;
}

static void
cleanup_dir(struct tdaemon *d)
{
	/* NDK_TEST_KEEP=1 keeps the daemon's log for a look after a run. */
	if (getenv("NDK_TEST_KEEP") != NULL) {
		fprintf(stderr, "kept %s\n", d->log);
		return;
	}
	unlink(d->sock);
	unlink(d->log);
	rmdir(d->dir);
}

/* EAL's runtime directory of d's prefix (eal_create_runtime_dir's rule). */
static void
runtime_dir(const struct tdaemon *d, char *buf, size_t len)
{
	const char *dir = "/var/run";

	if (getuid() != 0) {
		dir = getenv("XDG_RUNTIME_DIR");
		if (dir == NULL)
			dir = "/tmp";
	}
	snprintf(buf, len, "%s/dpdk/%s", dir, d->prefix);
}

/* What a killed ndkd could not remove: its runtime directory's files, then it. */
static void
remove_runtime_dir(const struct tdaemon *d)
{
	char dir[192];

	runtime_dir(d, dir, sizeof(dir));
	if (access(dir, F_OK) == 0)
		t_sh("rm -rf '%s'", dir);
}

int
tdaemon_stop(struct tdaemon *d)
{
	return tdaemon_stop_signal(d, SIGTERM);
}

int
tdaemon_stop_signal(struct tdaemon *d, int sig)
{
	uint64_t deadline = t_deadline_ms(15000);
	int st;

	if (d->pid <= 0)
		return -1;
	kill(d->pid, sig);
	while (t_now_ns() < deadline) {
		pid_t r = waitpid(d->pid, &st, WNOHANG);

		if (r == d->pid) {
			char dir[192];

			d->pid = -1;
			if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
				print_log(d);
				remove_runtime_dir(d);
				return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
			}
			cleanup_dir(d);
			/* a clean exit leaves nothing in /run/dpdk */
			runtime_dir(d, dir, sizeof(dir));
			if (access(dir, F_OK) == 0) {
				fprintf(stderr, "ndkd exited 0 and left %s behind\n", dir);
				remove_runtime_dir(d);
				return -1;
			}
			return 0;
		}
		sleep_ms(10);
	}
	fprintf(stderr, "ndkd did not stop within 15 s of signal %d\n", sig);
	print_log(d);
	tdaemon_kill(d);
	return -1;
}

void
tdaemon_kill(struct tdaemon *d)
{
	if (d->pid > 0) {
		kill(d->pid, SIGKILL);
		waitpid(d->pid, NULL, 0);
		d->pid = -1;
		remove_runtime_dir(d);
	}
	cleanup_dir(d);
}

static void
tel_path(const struct tdaemon *d, char *buf, size_t len)
{
	char dir[192];

	runtime_dir(d, dir, sizeof(dir));
	snprintf(buf, len, "%s/dpdk_telemetry.v2", dir);
}

int
tel_open(const struct tdaemon *d)
{
	char path[256], buf[1024];
	int fd;

	tel_path(d, path, sizeof(path));
	fd = try_connect(path);
	if (fd >= 0 && recv(fd, buf, sizeof(buf), 0) <= 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* One command on an open connection; its reply's value (a new reference) or NULL. */
static json_t *
tel_query_on(int fd, const char *cmd)
{
	char buf[16384], key[64];
	json_t *root, *v = NULL;
	ssize_t n;

	if (send(fd, cmd, strlen(cmd), 0) != (ssize_t)strlen(cmd))
		return NULL;
	n = recv(fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	root = json_loads(buf, 0, NULL);
	/* replies are keyed by the command without its parameters */
	snprintf(key, sizeof(key), "%.*s", (int)strcspn(cmd, ","), cmd);
	if (root != NULL)
		v = json_object_get(root, key);
	if (v != NULL)
		json_incref(v);
	json_decref(root);
	return v;
}

/* Run one telemetry command on a connection of its own. */
static json_t *
tel_query(const struct tdaemon *d, const char *cmd)
{
	int fd = tel_open(d);
	json_t *v;

	if (fd < 0)
		return NULL;
	v = tel_query_on(fd, cmd);
	close(fd);
	return v;
}

static uint64_t
elem_u64(json_t *v, const char *key, size_t i)
{
	json_t *jv = v != NULL ? json_array_get(json_object_get(v, key), i) : NULL;
	uint64_t r = UINT64_MAX;

	if (jv != NULL && json_is_integer(jv))
		r = (uint64_t)json_integer_value(jv);
	json_decref(v);
	return r;
}

uint64_t
tel_on_elem_u64(int fd, const char *cmd, const char *key, size_t i)
{
	return elem_u64(tel_query_on(fd, cmd), key, i);
}

uint64_t
tel_query_u64(const struct tdaemon *d, const char *cmd, const char *key)
{
	json_t *v = tel_query(d, cmd), *jv;
	uint64_t r = UINT64_MAX;

	jv = v != NULL ? json_object_get(v, key) : NULL;
	if (jv != NULL && json_is_integer(jv))
		r = (uint64_t)json_integer_value(jv);
	json_decref(v);
	return r;
}

uint64_t
tel_query_elem_u64(const struct tdaemon *d, const char *cmd, const char *key, size_t i)
{
	return elem_u64(tel_query(d, cmd), key, i);
}

void
tel_query_str(const struct tdaemon *d, const char *cmd, const char *key, char *buf, size_t len)
{
	json_t *v = tel_query(d, cmd), *jv;

	buf[0] = '\0';
	jv = v != NULL ? json_object_get(v, key) : NULL;
	if (jv != NULL && json_is_string(jv))
		snprintf(buf, len, "%s", json_string_value(jv));
	json_decref(v);
}

uint64_t
tel_status_u64(const struct tdaemon *d, const char *key)
{
	return tel_query_u64(d, "/ndkd/status", key);
}

bool
tel_token_live(const struct tdaemon *d, uint32_t token)
{
	char cmd[64];

	snprintf(cmd, sizeof(cmd), "/ndkd/mr,%u", token);
	return tel_query_u64(d, cmd, "live") == 1;
}

uint64_t
tel_wait_u64(const struct tdaemon *d, const char *key, uint64_t want, int timeout_ms)
{
	uint64_t deadline = t_deadline_ms((uint64_t)timeout_ms);
	uint64_t v;

	for (;;) {
		v = tel_status_u64(d, key);
		if (v == want || t_now_ns() > deadline)
			return v;
		sleep_ms(10);
	}
}

uint32_t
raw_call(struct raw_client *rc, uint8_t op, uint32_t handle, uint64_t a0, uint64_t a1, uint64_t a2)
{
	struct ndk_abi_sqe *e = ndk_ring_prod_next(&rc->sq);
	uint64_t deadline = t_deadline_ms(2000);
	struct ndk_abi_cqe r;
	bool broken = false;

	memset(e, 0, sizeof(*e));
	e->opcode = op;
	e->handle = handle;
	e->args[0] = a0;
	e->args[1] = a1;
	e->args[2] = a2;
	ndk_ring_prod_publish(&rc->sq);
	while (ndk_ring_cons_avail(&rc->cq, &broken) == 0)
		if (t_now_ns() > deadline)
			return UINT32_MAX;
	memcpy(&r, ndk_ring_cons_next(&rc->cq), sizeof(r));
	ndk_ring_cons_release(&rc->cq);
	return r.status;
}

bool
tel_settle(const struct tdaemon *d, uint64_t still_attached, int timeout_ms)
{
	uint64_t deadline = t_deadline_ms((uint64_t)timeout_ms);

	for (;;) {
		uint64_t total = tel_status_u64(d, "clients_total");
		uint64_t clean = tel_status_u64(d, "clients_cleaned_up");

		if (total - clean == still_attached)
			return true;
		if (t_now_ns() > deadline)
			return false;
		sleep_ms(1);
	}
}

int
raw_connect(const char *sock_path)
{
	return try_connect(sock_path);
}

bool
raw_exchange(int sock, const void *req, size_t req_len, void *reply, size_t reply_len, int *fd,
	     int timeout_ms)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = reply, .iov_len = reply_len };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = ctl.buf,
		.msg_controllen = sizeof(ctl.buf),
	};
	struct pollfd pfd = { .fd = sock, .events = POLLIN };
	struct cmsghdr *cm;

	*fd = -1;
	if (send(sock, req, req_len, MSG_NOSIGNAL) != (ssize_t)req_len ||
	    poll(&pfd, 1, timeout_ms) != 1 ||
	    recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != (ssize_t)reply_len)
		return false;
	for (cm = CMSG_FIRSTHDR(&msg); cm != NULL; cm = CMSG_NXTHDR(&msg, cm)) {
		if (cm->cmsg_type == SCM_RIGHTS)
			memcpy(fd, CMSG_DATA(cm), sizeof(int));
	}
	return true;
}

uint32_t
raw_hello_bytes(struct raw_client *rc, const void *hello, size_t len)
{
	int memfd;

	memset(&rc->reply, 0, sizeof(rc->reply));
	rc->region = NULL;
	if (!raw_exchange(rc->sock, hello, len, &rc->reply, sizeof(rc->reply), &memfd, 5000))
		return UINT32_MAX;
	if (memfd >= 0) {
		rc->region_size = rc->reply.region_size;
		rc->region =
			mmap(NULL, rc->region_size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
		rc->memfd = memfd;
		if (rc->region == MAP_FAILED) {
			rc->region = NULL;
			return UINT32_MAX;
		}
		rc->hdr = rc->region;
		ndk_ring_attach_ctrl(&rc->sq, &rc->cq, rc->region, rc->hdr);
	}
	return rc->reply.status;
}

int
raw_attach(struct raw_client *rc, const char *sock_path)
{
	struct ndk_abi_hello h = { .magic = NDK_ABI_MAGIC, .abi_version = NDK_ABI_VERSION };

	memset(rc, 0, sizeof(*rc));
	rc->memfd = -1;
	strcpy(h.name, "raw-client");
	rc->sock = raw_connect(sock_path);
	if (rc->sock < 0)
		return -1;
	if (raw_hello_bytes(rc, &h, sizeof(h)) != 0 || rc->region == NULL) {
		raw_close(rc);
		return -1;
	}
	return 0;
}

void
raw_close(struct raw_client *rc)
{
	if (rc->region != NULL)
		munmap(rc->region, rc->region_size);
	rc->region = NULL;
	if (rc->memfd >= 0)
		close(rc->memfd);
	rc->memfd = -1;
	if (rc->sock >= 0)
		close(rc->sock);
	rc->sock = -1;
}

bool
raw_wait_hangup(struct raw_client *rc, int timeout_ms)
{
	struct pollfd pfd = { .fd = rc->sock, .events = POLLIN | POLLRDHUP };
	char b;

	if (poll(&pfd, 1, timeout_ms) != 1)
		return false;
	return recv(rc->sock, &b, 1, MSG_DONTWAIT) == 0 ||
	       (pfd.revents & (POLLHUP | POLLRDHUP | POLLERR)) != 0;
}
