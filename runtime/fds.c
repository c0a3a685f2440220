/* SPDX-License-Identifier: MIT */
/* Closing the parent's ZeroMQ descriptors in a fork child. */
#include "fds.h"

#include <errno.h>
#include <linux/kcmp.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <zmq.h>

#include "alloc.h"
#include "runtime.h"
#include "util.h"

#define MAX_FD 1024 /* descriptors above are left alone */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int            *noted;
static size_t          nnoted, capnoted;

static int
signaler(void *sock)
{
	int    fd  = -1;
	size_t len = sizeof(fd);

	return zmq_getsockopt(sock, ZMQ_FD, &fd, &len) == 0 ? fd : -1;
}

void
tri_fds_note_socket(void *sock)
{
	int fd = signaler(sock);

	if (fd < 0) {
		return;
	}
	pthread_mutex_lock(&lock);
	if (nnoted == capnoted) {
		size_t ncap = capnoted ? capnoted * 2 : 16;
		int   *n    = tri_realloc(noted, ncap * sizeof(*n));

		if (!n) {
			pthread_mutex_unlock(&lock);
			return; /* a fork child may keep this one */
		}
		noted    = n;
		capnoted = ncap;
	}
	noted[nnoted++] = fd;
	pthread_mutex_unlock(&lock);
}

void
tri_fds_forget_socket(void *sock)
{
	int fd = signaler(sock);

	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < nnoted; i++) {
		if (noted[i] == fd) {
			noted[i] = noted[--nnoted];
			break;
		}
	}
	pthread_mutex_unlock(&lock);
}

/* A unix socket bound in the run's directory, or connected to one. */
static bool
run_socket(int fd, size_t dirlen)
{
	struct sockaddr_un a;
	socklen_t          len = sizeof(a);

	for (int peer = 0; peer < 2; peer++) {
		len = sizeof(a);
		memset(&a, 0, sizeof(a));
		if ((peer ? getpeername(fd, (struct sockaddr *) &a, &len)
		          : getsockname(fd, (struct sockaddr *) &a, &len)) ==
		        0 &&
		    a.sun_family == AF_UNIX &&
		    strncmp(a.sun_path, tri_rt.rundir, dirlen) == 0 &&
		    a.sun_path[dirlen] == '/') {
			return true;
		}
	}
	return false;
}

/* An epoll set: deleting a descriptor it cannot hold (probe, just made)
 * fails with ENOENT there and with EINVAL on anything else. */
static bool
is_epoll(int fd, int probe)
{
	return epoll_ctl(fd, EPOLL_CTL_DEL, probe, NULL) < 0 && errno == ENOENT;
}

/* fd is registered in the epoll set ep (kcmp(2), changing nothing). */
static bool
in_epoll(int ep, int fd)
{
	struct kcmp_epoll_slot slot = { (uint32_t) ep, (uint32_t) fd, 0 };
	pid_t                  me   = tri_getpid();

	return syscall(SYS_kcmp, me, me, KCMP_EPOLL_TFD, fd, &slot) == 0;
}

/* Only system calls, no /proc: this runs in every fork child. */
void
tri_fds_close_inherited(void)
{
	static unsigned char doomed[MAX_FD]; /* 1: close; 2: an epoll set */
	static struct pollfd pf[MAX_FD];
	size_t               dirlen = strlen(tri_rt.rundir);
	struct rlimit        rl;
	int                  nfd = MAX_FD, probe;

	static pid_t done_in; /* once per process */

	if (done_in == tri_getpid()) {
		return;
	}
	done_in = tri_getpid();
	if (nnoted == 0 || dirlen == 0) {
		return; /* the parent never made a ZeroMQ socket */
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < MAX_FD) {
		nfd = (int) rl.rlim_cur;
	}
	/* which descriptors are open: one poll, POLLNVAL for the others */
	for (int fd = 0; fd < nfd; fd++) {
		pf[fd] = (struct pollfd) { .fd = fd, .events = 0 };
	}
	(void) poll(pf, (nfds_t) nfd, 0);
	probe = eventfd(0, EFD_CLOEXEC);
	memset(doomed, 0, sizeof(doomed));
	for (size_t i = 0; i < nnoted; i++) {
		if (noted[i] > 2 && noted[i] < nfd) {
			doomed[noted[i]] = 1;
		}
	}
	for (int fd = 3; fd < nfd; fd++) {
		if ((pf[fd].revents & POLLNVAL) || fd == probe) {
			pf[fd].revents = POLLNVAL;
		} else if (run_socket(fd, dirlen)) {
			doomed[fd] = 1;
		} else if (probe >= 0 && is_epoll(fd, probe)) {
			doomed[fd] = 2;
		}
	}
	/* an epoll set that watches one of those is an I/O thread's: it and
	 * what it watches (its wake-up eventfd) go too */
	for (int ep = 3; ep < nfd; ep++) {
		bool zmq = false;

		if (doomed[ep] != 2) {
			continue;
		}
		for (int fd = 3; fd < nfd && !zmq; fd++) {
			zmq = doomed[fd] == 1 && in_epoll(ep, fd);
		}
		doomed[ep] = zmq ? 1 : 0;
		for (int fd = 3; zmq && fd < nfd; fd++) {
			if (!(pf[fd].revents & POLLNVAL) && doomed[fd] == 0 &&
			    in_epoll(ep, fd)) {
				doomed[fd] = 1;
			}
		}
	}
	if (probe >= 0) {
		close(probe);
	}
	for (int fd = 3; fd < nfd; fd++) {
		if (doomed[fd] == 1) {
			close(fd);
		}
	}
	nnoted = 0;
}
