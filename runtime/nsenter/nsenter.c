//go:build cgo

// The part of nsrun that must run before the Go runtime starts: setns(2)
// into a user or mount namespace, and into a time namespace, is refused to a
// process with more than one thread, and the Go runtime has several before
// the first line of main. This constructor runs first, does what the parent
// (runtime/nsenter.go's Request) asks, and returns to start the Go runtime
// in the right namespaces, possibly in a forked child.
//
// The request arrives on the sync socket named by _NSRUN_SYNC_FD when
// _NSRUN_NSENTER is set: a 4-byte host-order length, then lines
//
//	join FLAG NAME PATH   setns into the namespace at PATH (CLONE_NEW* FLAG)
//	unshare FLAGS         then create these new namespaces
//	nodump                then make the process non-dumpable
//	fork                  then fork: a pid (or new time) namespace holds
//	                      only children; the child continues, the parent
//	                      reports its pid and exits
//
// Replies are JSON lines of runtime's init protocol (proto.go):
// {"type":"idmap"} asks the parent to write the uid/gid maps of a new user
// namespace and wait for one byte back, {"type":"pid","pid":N} names the
// process that goes on, {"type":"error","error":"..."} ends it.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "nsenter.h"

#define MAX_REQUEST 65536
#define MAX_JOINS 16
// Request.Encode refuses more: keep maxRequest of nsenter.go equal.

struct join {
	int flag;
	char name[16];
	const char *path;
	int fd;
	int done;
};

static int sync_fd = -1;

static void write_all(const char *buf, size_t n)
{
	while (n > 0) {
		ssize_t w = write(sync_fd, buf, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			_exit(1);
		}
		buf += w;
		n -= (size_t)w;
	}
}

// fail reports an error as the JSON message the parent's decoder expects and
// exits; the parent names the container and cleans up.
static void fail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
	char msg[1024], out[2200];
	va_list ap;
	size_t o = 0;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	o += (size_t)snprintf(out, sizeof(out), "{\"type\":\"%s\",\"error\":\"", NSENTER_MSG_ERROR);
	for (const char *p = msg; *p && o < sizeof(out) - 16; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20) {
			o += (size_t)snprintf(out + o, sizeof(out) - o, "\\u%04x", c);
		} else {
			out[o++] = (char)c;
		}
	}
	o += (size_t)snprintf(out + o, sizeof(out) - o, "\"}\n");
	if (sync_fd >= 0)
		write_all(out, o);
	_exit(1);
}

static void read_all(char *buf, size_t n)
{
	while (n > 0) {
		ssize_t r = read(sync_fd, buf, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			_exit(1); // the parent went away: nothing to report to
		buf += r;
		n -= (size_t)r;
	}
}

static int env_int(const char *name)
{
	const char *v = getenv(name);
	char *end;
	long n;

	if (v == NULL || *v == '\0')
		return -1;
	n = strtol(v, &end, 10);
	if (*end != '\0' || n < 0 || n > INT_MAX)
		return -1;
	return (int)n;
}

static void set_root_ids(void)
{
	// uid/gid 0 of the namespace, so the setup that follows creates files
	// owned by its root; a namespace that maps no root keeps the ids, and
	// the Go side sets process.user anyway.
	if (setresgid(0, 0, 0) < 0 && errno != EINVAL)
		fail("nsenter: setresgid 0 in the user namespace: %s", strerror(errno));
	if (setresuid(0, 0, 0) < 0 && errno != EINVAL)
		fail("nsenter: setresuid 0 in the user namespace: %s", strerror(errno));
}

static void join_all(struct join *joins, int n)
{
	struct join *user = NULL;

	for (int i = 0; i < n; i++) {
		joins[i].fd = open(joins[i].path, O_RDONLY | O_CLOEXEC);
		if (joins[i].fd < 0)
			fail("open %s namespace %s: %s", joins[i].name, joins[i].path, strerror(errno));
		if (joins[i].flag == CLONE_NEWUSER)
			user = &joins[i];
	}
	// Host root may join every namespace first and the user namespace
	// last. An unprivileged caller has no CAP_SYS_ADMIN over the others
	// until it is in the user namespace that owns them: those fail with
	// EPERM now and are joined after it. Either way the end state is the
	// same.
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < n; i++) {
			struct join *j = &joins[i];
			if (j->done || j == user)
				continue;
			if (setns(j->fd, j->flag) == 0) {
				j->done = 1;
				continue;
			}
			if (pass == 0 && user != NULL && errno == EPERM)
				continue;
			fail("join %s namespace %s: %s", j->name, j->path, strerror(errno));
		}
		if (pass == 0 && user != NULL) {
			if (setns(user->fd, CLONE_NEWUSER) < 0)
				fail("join user namespace %s: %s", user->path, strerror(errno));
			user->done = 1;
			set_root_ids();
		}
		if (user == NULL)
			break;
	}
	for (int i = 0; i < n; i++)
		close(joins[i].fd);
}

static void new_user_ns(void)
{
	char ack;
	static const char idmap[] = "{\"type\":\"" NSENTER_MSG_IDMAP "\"}\n";

	if (unshare(CLONE_NEWUSER) < 0)
		fail("unshare user namespace: %s", strerror(errno));
	// Only a process outside the namespace may write a map that names other
	// host ids than its own: the parent does, then answers.
	write_all(idmap, sizeof(idmap) - 1);
	read_all(&ack, 1);
	if (ack != NSENTER_ACK)
		_exit(1);
	set_root_ids();
}

static void report_pid(pid_t pid)
{
	char out[64];
	int n = snprintf(out, sizeof(out), "{\"type\":\"%s\",\"pid\":%d}\n", NSENTER_MSG_PID, (int)pid);
	write_all(out, (size_t)n);
}

__attribute__((constructor)) static void nsenter(void)
{
	static char req[MAX_REQUEST + 1];
	struct join joins[MAX_JOINS];
	int njoins = 0, do_fork = 0, nodump = 0;
	unsigned long unshare_flags = 0;
	uint32_t len;

	if (getenv(NSENTER_ENV) == NULL)
		return;
	sync_fd = env_int(NSENTER_ENV_SYNC_FD);
	if (sync_fd < 0)
		_exit(1);
	read_all((char *)&len, sizeof(len));
	if (len > MAX_REQUEST)
		fail("nsenter: request of %u bytes is over the limit of %d", len, MAX_REQUEST);
	read_all(req, len);
	req[len] = '\0';

	for (char *save = NULL, *line = strtok_r(req, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "join ", 5) == 0) {
			struct join *j = &joins[njoins];
			int off = 0;
			if (njoins == MAX_JOINS)
				fail("nsenter: more than %d namespaces to join", MAX_JOINS);
			memset(j, 0, sizeof(*j));
			if (sscanf(line + 5, "%d %15s %n", &j->flag, j->name, &off) != 2 || off == 0 || line[5 + off] != '/')
				fail("nsenter: bad request line %s", line);
			j->path = line + 5 + off;
			njoins++;
		} else if (strncmp(line, "unshare ", 8) == 0) {
			unshare_flags = strtoul(line + 8, NULL, 10);
		} else if (strcmp(line, "nodump") == 0) {
			nodump = 1;
		} else if (strcmp(line, "fork") == 0) {
			do_fork = 1;
		} else {
			fail("nsenter: bad request line %s", line);
		}
	}

	join_all(joins, njoins);
	if (unshare_flags & CLONE_NEWUSER)
		new_user_ns();
	if ((unshare_flags & ~(unsigned long)CLONE_NEWUSER) != 0 && unshare((int)(unshare_flags & ~(unsigned long)CLONE_NEWUSER)) < 0)
		fail("unshare namespaces 0x%lx: %s", unshare_flags & ~(unsigned long)CLONE_NEWUSER, strerror(errno));
	// Until execve a process in a shared pid namespace could be traced by
	// the container's own processes and reach the host descriptors it holds.
	if (nodump && prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		fail("prctl PR_SET_DUMPABLE 0: %s", strerror(errno));
	if (do_fork) {
		// CLONE_PARENT makes the child nsrun's own child, so nsrun waits
		// for it directly. With no stack the raw clone behaves as fork on
		// every architecture.
		long pid = syscall(SYS_clone, (unsigned long)(CLONE_PARENT | SIGCHLD), 0, 0, 0, 0);
		if (pid < 0)
			fail("fork into the new pid namespace: %s", strerror(errno));
		if (pid > 0) {
			report_pid((pid_t)pid);
			_exit(0);
		}
		if (setsid() < 0 && errno != EPERM)
			fail("setsid: %s", strerror(errno));
	} else {
		report_pid(getpid());
	}
	// Tells the Go side the request was carried out: a binary built
	// without cgo has no constructor and leaves the variable set.
	unsetenv(NSENTER_ENV);
}
