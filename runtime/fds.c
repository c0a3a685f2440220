/* SPDX-License-Identifier: MIT */
/* Closing the parent's ZeroMQ descriptors in a fork child. */
#include "fds.h"

#include <dirent.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <zmq.h>

#include "rt.h"

#define MAX_FD 4096 /* descriptors above are left alone */

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

/* The descriptors an epoll set watches, from /proc/self/fdinfo. */
static size_t
epoll_targets(int ep, int *out, size_t cap)
{
	char   path[64], line[256];
	FILE  *f;
	size_t n = 0;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", ep);
	f = fopen(path, "re");
	if (!f) {
		return 0;
	}
	while (n < cap && fgets(line, sizeof(line), f)) {
		int t;

		if (sscanf(line, "tfd: %d", &t) == 1) {
			out[n++] = t;
		}
	}
	fclose(f);
	return n;
}

static bool
is_epoll(int fd)
{
	char    path[64], target[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, target, sizeof(target) - 1);
	if (n <= 0) {
		return false;
	}
	target[n] = '\0';
	return strcmp(target, "anon_inode:[eventpoll]") == 0;
}

void
tri_fds_close_inherited(void)
{
	static unsigned char doomed[MAX_FD]; /* 1: close; 2: epoll */
	size_t               dirlen = strlen(tri_rt.rundir);
	DIR                 *d;
	struct dirent       *e;
	int                  targets[256];

	if (nnoted == 0 || dirlen == 0) {
		return; /* the parent never made a ZeroMQ socket */
	}
	memset(doomed, 0, sizeof(doomed));
	for (size_t i = 0; i < nnoted; i++) {
		if (noted[i] > 2 && noted[i] < MAX_FD) {
			doomed[noted[i]] = 1;
		}
	}
	d = opendir("/proc/self/fd");
	while (d && (e = readdir(d))) {
		int         fd = atoi(e->d_name);
		struct stat st;

		if (fd <= 2 || fd >= MAX_FD || fd == dirfd(d) ||
		    fstat(fd, &st) < 0) {
			continue;
		}
		if (S_ISSOCK(st.st_mode) && run_socket(fd, dirlen)) {
			doomed[fd] = 1;
		} else if (is_epoll(fd)) {
			doomed[fd] = 2;
		}
	}
	if (d) {
		closedir(d);
	}
	/* an epoll set that watches one of those is an I/O thread's: it and
	 * what it watches (its wake-up eventfd) go too */
	for (int fd = 3; fd < MAX_FD; fd++) {
		size_t n;
		bool   zmq = false;

		if (doomed[fd] != 2) {
			continue;
		}
		n = epoll_targets(fd, targets, 256);
		for (size_t i = 0; i < n && !zmq; i++) {
			zmq = targets[i] > 2 && targets[i] < MAX_FD &&
			    doomed[targets[i]] == 1;
		}
		doomed[fd] = zmq ? 1 : 0;
		for (size_t i = 0; zmq && i < n; i++) {
			if (targets[i] > 2 && targets[i] < MAX_FD) {
				doomed[targets[i]] = 1;
			}
		}
	}
	for (int fd = 3; fd < MAX_FD; fd++) {
		if (doomed[fd] == 1) {
			close(fd);
		}
	}
	nnoted = 0;
}
