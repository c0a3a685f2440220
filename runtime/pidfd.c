/* SPDX-License-Identifier: MIT */
/* Process descriptors: pidfds, or their emulation (see pidfd.h).
 *
 * The emulation: each descriptor is an eventfd, listed with its process's
 * pid and start time; a thread, started at the first one, looks at the
 * listed processes every WATCH_MS and writes the eventfd of each that
 * ended (gone, a zombie, or its pid reused).  A descriptor is never read,
 * so it stays readable, as a pidfd does. */
#include "pidfd.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "log.h"
#include "util.h"

#define WATCH_MS 10

struct emu {
	int      fd;
	pid_t    pid;
	uint64_t start;
	dev_t    dev; /* which eventfd: fd numbers are reused */
	ino_t    ino;
	bool     fired;
};

static atomic_bool     emulated;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct emu     *es;
static size_t          nes, capes;
static bool            watcher_on;

bool
tri_pidfd_emulated(void)
{
	return atomic_load(&emulated);
}

static struct emu *
find_locked(int fd)
{
	for (size_t i = 0; i < nes; i++) {
		if (es[i].fd == fd) {
			return &es[i];
		}
	}
	return NULL;
}

static bool
ended(const struct emu *e)
{
	uint64_t st;
	char     state;

	return tri_proc_starttime(e->pid, &st, &state) < 0 || st != e->start ||
	    state == 'Z' || state == 'X';
}

static void
fire_locked(struct emu *e)
{
	struct stat s;
	uint64_t    one = 1;

	if (fstat(e->fd, &s) == 0 && s.st_dev == e->dev && s.st_ino == e->ino) {
		(void) !write(e->fd, &one, sizeof(one));
	}
	e->fired = true;
}

static void *
watcher(void *arg)
{
	struct timespec ts = { 0, WATCH_MS * 1000000L };

	(void) arg;
	for (;;) {
		pthread_mutex_lock(&lock);
		for (size_t i = 0; i < nes; i++) {
			if (!es[i].fired && ended(&es[i])) {
				fire_locked(&es[i]);
			}
		}
		pthread_mutex_unlock(&lock);
		nanosleep(&ts, NULL);
	}
	return NULL;
}

static void
atfork_prepare(void)
{
	pthread_mutex_lock(&lock);
}

static void
atfork_parent(void)
{
	pthread_mutex_unlock(&lock);
}

static void
atfork_child(void)
{
	/* no watcher here; the parent's descriptors are closed by their
	 * owners, as plain descriptors */
	nes        = 0;
	watcher_on = false;
	pthread_mutex_unlock(&lock);
}

static int
start_watcher_locked(void)
{
	pthread_attr_t a;
	pthread_t      t;
	sigset_t       all, old;
	int            r;

	if (watcher_on) {
		return 0;
	}
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	r = pthread_create(&t, &a, watcher, NULL);
	pthread_attr_destroy(&a);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		return -r;
	}
	watcher_on = true;
	return 0;
}

static int
emu_open(pid_t pid)
{
	struct emu  e = { .pid = pid };
	struct stat s;
	char        state;
	int         r;

	if (tri_proc_starttime(pid, &e.start, &state) < 0) {
		return -ESRCH;
	}
	e.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (e.fd < 0) {
		return -errno;
	}
	if (fstat(e.fd, &s) < 0) {
		r = -errno;
		close(e.fd);
		return r;
	}
	e.dev = s.st_dev;
	e.ino = s.st_ino;
	pthread_mutex_lock(&lock);
	r = start_watcher_locked();
	if (r == 0 && nes == capes) {
		size_t      ncap = capes ? capes * 2 : 16;
		struct emu *n    = tri_realloc(es, ncap * sizeof(*n));

		r = n ? 0 : -ENOMEM;
		if (n) {
			es    = n;
			capes = ncap;
		}
	}
	if (r == 0) {
		es[nes] = e;
		if (ended(&es[nes])) {
			fire_locked(&es[nes]);
		}
		nes++;
	}
	pthread_mutex_unlock(&lock);
	if (r < 0) {
		close(e.fd);
		return r;
	}
	return e.fd;
}

__attribute__((constructor)) static void
pidfd_init(void)
{
	const char *v = getenv("TROUPE_NO_PIDFD");

	/* the emulation on demand: for tests, and for a kernel whose pidfds
	 * misbehave */
	if (v && v[0] && v[0] != '0') {
		atomic_store(&emulated, true);
	}
	(void) pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

int
tri_pidfd_open(pid_t pid)
{
	int fd;

	if (!atomic_load(&emulated)) {
		fd = (int) syscall(SYS_pidfd_open, pid, 0);
		if (fd >= 0) {
			return fd;
		}
		if (errno != ENOSYS) {
			return -errno;
		}
		atomic_store(&emulated, true);
		tri_debug("no pidfd_open(2) here: process descriptors are "
		          "emulated (looked at every %d ms)",
		    WATCH_MS);
	}
	return emu_open(pid);
}

/* The pid behind an emulated descriptor, or 0. */
static pid_t
emu_pid(int fd)
{
	struct emu *e;
	pid_t       pid = 0;

	pthread_mutex_lock(&lock);
	e = find_locked(fd);
	if (e) {
		pid = e->pid;
	}
	pthread_mutex_unlock(&lock);
	return pid;
}

int
tri_pidfd_signal(int fd, int sig)
{
	pid_t pid;

	if (!atomic_load(&emulated)) {
		if (syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0) < 0) {
			return errno == ESRCH ? 0 : -errno;
		}
		return 0;
	}
	pid = emu_pid(fd);
	if (pid <= 0) {
		return -EBADF;
	}
	return kill(pid, sig) < 0 && errno != ESRCH ? -errno : 0;
}

int
tri_pidfd_waitid(int fd, siginfo_t *si, int options)
{
	pid_t pid;

	if (!atomic_load(&emulated)) {
		return waitid(P_PIDFD, (id_t) fd, si, options);
	}
	pid = emu_pid(fd);
	if (pid <= 0) {
		errno = EBADF;
		return -1;
	}
	return waitid(P_PID, (id_t) pid, si, options);
}

void
tri_pidfd_close(int fd)
{
	if (fd < 0) {
		return;
	}
	if (atomic_load(&emulated)) {
		pthread_mutex_lock(&lock);
		for (size_t i = 0; i < nes; i++) {
			if (es[i].fd == fd) {
				es[i] = es[--nes];
				break;
			}
		}
		pthread_mutex_unlock(&lock);
	}
	close(fd);
}
