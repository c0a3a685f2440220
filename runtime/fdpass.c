/* SPDX-License-Identifier: MIT */
/* Descriptors handed to a child, and keeping the others from it. */
#include "fdpass.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <unistd.h>

#include "alloc.h"
#include "runtime.h"
#include "troupe/common.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int            *owned; /* noted descriptors, unordered */
static size_t          nowned, capowned;

/* what this child was handed: -1 once taken */
static int      passed_fd[TRI_PASS_MAX];
static uint32_t passed_tag[TRI_PASS_MAX];
static size_t   npassed;

void
tri_fdpass_own(int fd)
{
	pthread_mutex_lock(&lock);
	if (nowned == capowned) {
		size_t ncap = capowned ? capowned * 2 : 16;
		int   *n    = tri_realloc(owned, ncap * sizeof(*n));

		if (!n) {
			/* a fork child may then keep this one: it is
			 * O_CLOEXEC still, so spawn and exec are safe */
			pthread_mutex_unlock(&lock);
			return;
		}
		owned    = n;
		capowned = ncap;
	}
	owned[nowned++] = fd;
	pthread_mutex_unlock(&lock);
}

void
tri_fdpass_disown(int fd)
{
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < nowned; i++) {
		if (owned[i] == fd) {
			owned[i] = owned[--nowned];
			break;
		}
	}
	pthread_mutex_unlock(&lock);
}

static bool
handed(const struct tri_boot *b, int fd)
{
	for (size_t i = 0; i < b->npass; i++) {
		if (b->pass_fd[i] == fd) {
			return true;
		}
	}
	return false;
}

/* This runs first in every child, where no other thread exists yet: the
 * lock is not taken, and made anew (another thread of the parent may have
 * held it at the fork). */
void
tri_fdpass_adopt(const struct tri_boot *b)
{
	pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;

	lock = fresh;
	for (size_t i = 0; i < nowned; i++) {
		if (!handed(b, owned[i])) {
			close(owned[i]);
		}
	}
	nowned  = 0;
	npassed = b->npass;
	for (size_t i = 0; i < b->npass; i++) {
		passed_fd[i]  = b->pass_fd[i];
		passed_tag[i] = b->pass_tag[i];
		(void) fcntl(passed_fd[i], F_SETFD, FD_CLOEXEC);
		tri_fdpass_own(passed_fd[i]); /* not to grandchildren */
	}
}

int
tri_fdpass_take(int slot, uint32_t tag, int *ret_fd)
{
	int fd;

	if (slot < 0 || (size_t) slot >= npassed || passed_fd[slot] < 0 ||
	    passed_tag[slot] != tag) {
		return TR_ENOTFOUND;
	}
	fd              = passed_fd[slot];
	passed_fd[slot] = -1;
	*ret_fd         = fd;
	return 0;
}

int
tri_fdpass_add(
    int *fds, uint32_t *tags, size_t *n, size_t max, int fd, uint32_t tag)
{
	int d;

	if (*n >= max) {
		return -ENOSPC;
	}
	d = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (d < 0) {
		return -errno;
	}
	tri_fdpass_own(d);
	fds[*n]  = d;
	tags[*n] = tag;
	return (int) (*n)++;
}

void
tri_fdpass_clear(int *fds, size_t *n)
{
	for (size_t i = 0; i < *n; i++) {
		tri_fdpass_disown(fds[i]);
		close(fds[i]);
	}
	*n = 0;
}
