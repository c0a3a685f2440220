/* SPDX-License-Identifier: MIT */
/* Closing the parent's ZeroMQ descriptors in a fork child. */
#include "fds.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <zmq.h>

#include "alloc.h"
#include "runtime.h"
#include "util.h"

#define MAX_FD 1024 /* descriptors above are left alone */

static pthread_mutex_t lock  = PTHREAD_MUTEX_INITIALIZER;
static int             bound = MAX_FD;
static pid_t           bound_in; /* a raw fork child's table can be larger */
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
		int r;

		len = sizeof(a);
		memset(&a, 0, sizeof(a));
		r = peer ? getpeername(fd, (struct sockaddr *) &a, &len)
		         : getsockname(fd, (struct sockaddr *) &a, &len);
		if (r < 0 && errno == ENOTSOCK) {
			return false; /* most are not: one call tells */
		}
		if (r == 0 && a.sun_family == AF_UNIX &&
		    strncmp(a.sun_path, tri_rt.rundir, dirlen) == 0 &&
		    a.sun_path[dirlen] == '/') {
			return true;
		}
	}
	return false;
}

void
tri_fds_set_bound(int n)
{
	if (n > 0 && n < MAX_FD) {
		bound    = n;
		bound_in = tri_getpid();
	}
}

/* Only system calls, no /proc: this runs in every fork child (the bound
 * comes from the child's one read of /proc/self/status, for signals). */
void
tri_fds_close_inherited(void)
{
	static struct pollfd big[MAX_FD]; /* zero pages until used */
	/* most tables are 64 or 256 long: on the stack, no page to fault */
	struct pollfd small[256], *pf = small;
	static pid_t  done_in; /* once per process */
	size_t        dirlen = strlen(tri_rt.rundir);
	struct rlimit rl;
	int           nfd = MAX_FD;

	if (done_in == tri_getpid()) {
		return;
	}
	done_in = tri_getpid();
	if (nnoted == 0 || dirlen == 0) {
		return; /* the parent never made a ZeroMQ socket */
	}
	for (size_t i = 0; i < nnoted; i++) {
		if (noted[i] > 2) {
			close(noted[i]);
		}
	}
	nnoted = 0;
	if (bound_in == tri_getpid()) {
		nfd = bound; /* the table's size: no descriptor lies beyond */
	} else if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < MAX_FD) {
		nfd = (int) rl.rlim_cur;
	}
	/* which descriptors are open: one poll, POLLNVAL for the others */
	if (nfd > (int) (sizeof(small) / sizeof(small[0]))) {
		pf = big;
	}
	for (int fd = 0; fd < nfd; fd++) {
		pf[fd] = (struct pollfd) { .fd = fd, .events = 0 };
	}
	(void) poll(pf, (nfds_t) nfd, 0);
	for (int fd = 3; fd < nfd; fd++) {
		if (!(pf[fd].revents & POLLNVAL) && run_socket(fd, dirlen)) {
			close(fd);
		}
	}
}

void
tri_fd_run_close(struct tri_fd_run *r)
{
	if (r->lo < 0) {
		return;
	}
	if (r->lo == r->hi ||
	    close_range((unsigned) r->lo, (unsigned) r->hi, 0) < 0) {
		for (int fd = r->lo; fd <= r->hi; fd++) {
			close(fd);
		}
	}
	r->lo = r->hi = -1;
}

void
tri_fd_run_add(struct tri_fd_run *r, int fd)
{
	if (fd < 0) {
		return;
	}
	if (r->lo >= 0 && fd == r->lo - 1) {
		r->lo = fd;
	} else if (r->lo >= 0 && fd == r->hi + 1) {
		r->hi = fd;
	} else {
		tri_fd_run_close(r);
		r->lo = r->hi = fd;
	}
}
