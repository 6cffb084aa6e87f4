//go:build cgo

// The part of nsrun's signal forwarding that must run before the Go
// runtime: blocking signals for every thread. Go starts its threads with
// the signal mask the process had when the runtime started, so only a
// mask set here covers them all. See sigforward.go for why.
//
// The constructor looks at the command line (/proc/self/cmdline, which any
// libc provides, unlike constructor arguments):
//
//	nsrun [GLOBAL OPTIONS] run|exec ...   block every signal but SIGWINCH
//	nsrun init ...                        empty the mask: the container's
//	                                      processes start with none blocked
//	nsrun sigreset-exec MASK PATH ARGV0 [ARG...]
//	                                      set the mask to MASK (hex, as
//	                                      SigBlk in /proc/PID/status) and
//	                                      execve PATH: how nsrun starts a
//	                                      hook with the mask it was given
//
// Anything else is left alone.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sigforward.h"

extern char **environ;

// What the constructor did, for the Go side (sigforward.go's cgo.go).
int nsrun_sigforward_blocked;
uint64_t nsrun_sigforward_orig;

// The global options of nsrun that take a value (cmd/nsrun's global
// FlagSet); TestSubcommandMatchesFlags keeps the two in step.
static const char *const value_options[] = {"root", "log", "log-format", "rootless", "criu", NULL};

const char *nsrun_sigforward_subcommand(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		// Go's flag package: "-" and anything not starting with '-'
		// end the options; "--" ends them and is dropped.
		if (a[0] != '-' || a[1] == '\0')
			return a;
		if (strcmp(a, "--") == 0)
			return i + 1 < argc ? argv[i + 1] : NULL;
		const char *name = a[1] == '-' ? a + 2 : a + 1;
		if (strchr(name, '=') != NULL)
			continue;
		for (const char *const *v = value_options; *v != NULL; v++) {
			if (strcmp(name, *v) == 0) {
				i++;
				break;
			}
		}
	}
	return NULL;
}

// The raw system call: the kernel's sigset for rt_sigprocmask is 8 bytes,
// glibc's sigset_t 128, and the mask is handled as a uint64 throughout.
static int set_mask(int how, const uint64_t *set, uint64_t *old)
{
	return (int)syscall(SYS_rt_sigprocmask, how, set, old, sizeof(uint64_t));
}

// read_cmdline returns /proc/self/cmdline split into a NULL-terminated
// argv, or NULL when it cannot be read (no /proc: nothing is done then).
static char **read_cmdline(int *argc)
{
	int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap + 1);
	for (;;) {
		if (buf == NULL) {
			close(fd);
			return NULL;
		}
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		if (len == cap) {
			cap *= 2;
			buf = realloc(buf, cap + 1);
		}
	}
	close(fd);
	buf[len] = '\0';
	int n = 0;
	for (size_t i = 0; i < len; i++)
		if (buf[i] == '\0')
			n++;
	char **argv = calloc((size_t)n + 1, sizeof(char *));
	if (argv == NULL || n == 0) {
		free(argv);
		free(buf);
		return NULL;
	}
	size_t off = 0;
	for (int i = 0; i < n; i++) {
		argv[i] = buf + off;
		off += strlen(buf + off) + 1;
	}
	*argc = n;
	return argv;
}

static void reset_and_exec(int argc, char **argv) __attribute__((noreturn));
static void reset_and_exec(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "nsrun sigreset-exec: usage: nsrun sigreset-exec MASK PATH ARGV0 [ARG...] (nsrun runs this itself, for hooks)\n");
		_exit(2);
	}
	char *end;
	errno = 0;
	uint64_t mask = strtoull(argv[2], &end, 16);
	if (errno != 0 || *end != '\0' || end == argv[2]) {
		fprintf(stderr, "nsrun sigreset-exec: mask %s: not a hex number (as SigBlk in /proc/PID/status)\n", argv[2]);
		_exit(2);
	}
	if (set_mask(SIG_SETMASK, &mask, NULL) < 0) {
		fprintf(stderr, "nsrun sigreset-exec: rt_sigprocmask: %s\n", strerror(errno));
		_exit(126);
	}
	execve(argv[3], argv + 4, environ);
	// The same status and message shape as a shell's for a command it
	// could not run.
	fprintf(stderr, "nsrun: exec %s: %s\n", argv[3], strerror(errno));
	_exit(errno == ENOENT ? 127 : 126);
}

// Priority 101 runs this before nsenter.c's constructor: the mask is set
// before that one forks, and a hook is exec'd before it could read an
// _NSRUN_NSENTER that a hook's env named.
__attribute__((constructor(101))) static void sigforward(void)
{
	int argc = 0;
	char **argv = read_cmdline(&argc);
	if (argv == NULL)
		return;
	if (argc >= 2 && strcmp(argv[1], "sigreset-exec") == 0)
		reset_and_exec(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "init") == 0) {
		uint64_t none = 0;
		set_mask(SIG_SETMASK, &none, NULL);
	} else {
		const char *cmd = nsrun_sigforward_subcommand(argc, argv);
		if (cmd != NULL && (strcmp(cmd, "run") == 0 || strcmp(cmd, "exec") == 0)) {
			// Every signal but SIGWINCH, which the terminal proxy
			// takes with os/signal; the kernel ignores blocking
			// SIGKILL and SIGSTOP.
			uint64_t all = ~(uint64_t)0 & ~((uint64_t)1 << (SIGWINCH - 1));
			if (set_mask(SIG_BLOCK, &all, &nsrun_sigforward_orig) == 0)
				nsrun_sigforward_blocked = 1;
		}
	}
	free(argv[0]);
	free(argv);
}
