/* SPDX-License-Identifier: MIT */
/* Small helpers: time, poll, pidfds, /proc, whole reads and writes. */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "loop.h"
#include "runtime.h"
#include "troupe.pb-c.h"

/* getpid() is a system call since glibc 2.25 and the handle checks ask on
 * every call: cache it, and renew it in every fork child (raw fork()s
 * included, through pthread_atfork). */
static pid_t cached_pid;

static void
renew_pid(void)
{
	cached_pid = getpid();
}

__attribute__((constructor)) static void
pid_cache_init(void)
{
	renew_pid();
	(void) pthread_atfork(NULL, NULL, renew_pid);
}

pid_t
tri_getpid(void)
{
	return cached_pid;
}

int64_t
tri_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
tri_deadline(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : tri_now_ms() + timeout_ms;
}

/* Milliseconds left until deadline (-1 = infinite), never negative. */
int
tri_remaining(int64_t deadline, int timeout_ms)
{
	int64_t left;

	if (timeout_ms < 0) {
		return -1;
	}
	left = deadline - tri_now_ms();
	return left < 0 ? 0 : (int) left;
}

/* 1 when fd is ready, 0 on timeout, -errno on failure; restarts after
 * EINTR with the time that is left. */
int
tri_poll_fd(int fd, short events, int timeout_ms)
{
	int64_t       deadline = tri_deadline(timeout_ms);
	struct pollfd pfd      = { .fd = fd, .events = events };
	int           r;

	for (;;) {
		r = poll(&pfd, 1, tri_remaining(deadline, timeout_ms));
		if (r >= 0) {
			return r;
		}
		if (errno != EINTR) {
			return -errno;
		}
	}
}

/* Start time (clock ticks since boot, /proc/PID/stat field 22) and state
 * letter of pid.  -ESRCH when there is no such process. */
int
tri_proc_starttime(pid_t pid, uint64_t *ret, char *ret_state)
{
	char               path[64], buf[512];
	const char        *p;
	unsigned long long st;
	ssize_t            n;
	int                fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return errno == ENOENT ? -ESRCH : -errno;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0) {
		return -ESRCH;
	}
	buf[n] = '\0';
	/* comm may hold spaces and parentheses: parse after the last ')' */
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ') {
		return -EIO;
	}
	if (ret_state) {
		*ret_state = p[2];
	}
	p += 2;
	/* fields 3..21 precede starttime (field 22) */
	for (int field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		if (!p) {
			return -EIO;
		}
		p++;
	}
	if (sscanf(p, "%llu", &st) != 1) {
		return -EIO;
	}
	*ret = st;
	return 0;
}

int
tri_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR) {
				continue;
			}
			return -errno;
		}
		p += n;
		len -= (size_t) n;
	}
	return 0;
}

/* Returns 0, -EPIPE on early EOF, or -errno. */
int
tri_read_all(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len > 0) {
		ssize_t n = read(fd, p, len);

		if (n < 0) {
			if (errno == EINTR) {
				continue;
			}
			return -errno;
		}
		if (n == 0) {
			return -EPIPE;
		}
		p += n;
		len -= (size_t) n;
	}
	return 0;
}

/* An anonymous file holding buf, positioned at 0; O_CLOEXEC. */
int
tri_memfd_with(const void *buf, size_t len)
{
	int fd = memfd_create("troupe-boot", MFD_CLOEXEC);
	int r;

	if (fd < 0) {
		return -errno;
	}
	r = tri_write_all(fd, buf, len);
	if (r == 0 && lseek(fd, 0, SEEK_SET) < 0) {
		r = -errno;
	}
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

int
tri_exitcode_from_status(int status)
{
	if (WIFSIGNALED(status)) {
		return -WTERMSIG(status);
	}
	return WEXITSTATUS(status);
}

/* DESIGN.md: 0 normal; SIGTERM/SIGINT/SIGHUP/SIGPIPE shutdown; else
 * abnormal. */
int
tri_exit_class(int exitcode)
{
	if (exitcode == 0) {
		return TRWIRE__EXIT_CLASS__EXIT_NORMAL;
	}
	switch (-exitcode) {
	case SIGTERM:
	case SIGINT:
	case SIGHUP:
	case SIGPIPE:
		return TRWIRE__EXIT_CLASS__EXIT_SHUTDOWN;
	default:
		return TRWIRE__EXIT_CLASS__EXIT_ABNORMAL;
	}
}

const char *
tri_exit_class_name(int exitcode)
{
	static const char *const names[] = { "normal", "shutdown", "abnormal" };

	return names[tri_exit_class(exitcode)];
}

void
tri_strlcpy(char *dst, const char *src, size_t n)
{
	size_t l = strnlen(src, n - 1);

	memcpy(dst, src, l);
	dst[l] = '\0';
}

extern char **environ;

/* The environment for a re-exec'd child: ours less any earlier TROUPE_BOOT
 * / TROUPE_FORKSERVER, plus extra ("NAME=value").  The strings are
 * borrowed; free the array with tri_free(). */
static char **
child_env(char *extra)
{
	char **envp;
	size_t nenv = 0, j = 0;

	while (environ[nenv]) {
		nenv++;
	}
	envp = tri_calloc(nenv + 2, sizeof(*envp));
	if (!envp) {
		return NULL;
	}
	envp[j++] = extra;
	for (size_t i = 0; i < nenv; i++) {
		if (strncmp(environ[i], "TROUPE_BOOT=", 12) != 0 &&
		    strncmp(environ[i], "TROUPE_FORKSERVER=", 18) != 0) {
			envp[j++] = environ[i];
		}
	}
	return envp;
}

/* The child gets stdio and keep[i] as descriptor 3 + i, nothing else.
 * keep[] is first copied above every keep[i] and the target range, so
 * that no copy overwrites a descriptor still to be moved. */
static void
keep_only(posix_spawn_file_actions_t *fa, const int *keep, size_t nkeep)
{
	int high = 3 + (int) nkeep;

	for (size_t i = 0; i < nkeep; i++) {
		high = keep[i] >= high ? keep[i] + 1 : high;
	}
	for (size_t i = 0; i < nkeep; i++) {
		posix_spawn_file_actions_adddup2(fa, keep[i], high + (int) i);
	}
	for (size_t i = 0; i < nkeep; i++) {
		posix_spawn_file_actions_adddup2(
		    fa, high + (int) i, 3 + (int) i);
	}
	posix_spawn_file_actions_addclosefrom_np(fa, 3 + (int) nkeep);
}

/* Run this program's binary again (spawn and the forkserver) with only
 * stdio and the descriptors in keep, which the child finds as 3, 4, ...,
 * as the environment variable name says: "name=3:4". */
static int
spawn_self(const char *name, const int *keep, size_t nkeep, pid_t *ret_pid)
{
	posix_spawn_file_actions_t fa;
	char                      *fallback_argv[] = { "troupe-child", NULL };
	char **argv = tri_rt.argv ? tri_rt.argv : fallback_argv;
	char   var[128], **envp;
	int    n, r;

	n = snprintf(var, sizeof(var), "%s=", name);
	for (size_t i = 0; i < nkeep && n < (int) sizeof(var); i++) {
		n += snprintf(var + n, sizeof(var) - (size_t) n, "%s%d",
		    i ? ":" : "", 3 + (int) i);
	}
	envp = child_env(var);
	if (!envp) {
		return -ENOMEM;
	}
	posix_spawn_file_actions_init(&fa);
	keep_only(&fa, keep, nkeep);
	fflush(NULL);
	r = -posix_spawn(ret_pid, "/proc/self/exe", &fa, NULL, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	tri_free(envp);
	return r;
}

struct spawn_req {
	const char *name;
	const int  *keep;
	size_t      nkeep;
	pid_t      *ret_pid;
};

static int
spawn_in_loop(void *arg)
{
	struct spawn_req *s = arg;

	return spawn_self(s->name, s->keep, s->nkeep, s->ret_pid);
}

/* The exec happens in the main thread or the runtime thread, which live
 * as long as this process: the child's PR_SET_PDEATHSIG fires when the
 * thread that started it ends, not when the process does. */
int
tri_spawn_self(const char *name, const int *keep, size_t nkeep, pid_t *ret_pid)
{
	struct spawn_req s = { name, keep, nkeep, ret_pid };

	return tri_loop_run_for_children(spawn_in_loop, &s);
}

/* A signal mask from /proc/self/status ("SigIgn", "SigCgt": hex, bit n-1
 * for signal n), and, with ret_fdsize, the size of the descriptor table
 * (every open descriptor is below it).  -errno if it cannot be read. */
int
tri_proc_sigmask_fdsize(const char *field, uint64_t *ret, int *ret_fdsize)
{
	char               buf[2048], *p;
	unsigned long long mask;
	ssize_t            n;
	int                fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		return -errno;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0) {
		return -EIO;
	}
	buf[n] = '\0';
	if (ret_fdsize) {
		p = strstr(buf, "FDSize:");
		if (!p || sscanf(p + 7, "%d", ret_fdsize) != 1) {
			return -EIO;
		}
	}
	p = strstr(buf, field);
	if (!p || sscanf(p + strlen(field), ":%llx", &mask) != 1) {
		return -EIO;
	}
	*ret = mask;
	return 0;
}

int
tri_proc_sigmask(const char *field, uint64_t *ret)
{
	return tri_proc_sigmask_fdsize(field, ret, NULL);
}
