/* SPDX-License-Identifier: MIT */
/* The broker's page: a robust mutex its thread holds while it lives (a
 * handle's trylock sees EBUSY, in user space, or EOWNERDEAD once the
 * kernel marked it at the thread's end, even by SIGKILL), and a
 * JoinableQueue's count of items not yet marked done, in a page of the
 * broker's memory (an anonymous memfd, like the rings: nothing left
 * behind by a SIGKILL) that every handle on its host maps.
 *
 * The broker adds one for each item it stores; task_done() takes one
 * away with a compare-and-swap that never goes below zero, so a
 * task_done too many is seen at once, in the caller, without a message.
 * At zero the handle asks the broker (one call), which first takes every
 * producer ring's records: an item whose put returned but which the
 * broker had not taken in yet is then counted, and the answer is exact.
 * join() is the broker's: it parks joins and sets "joiners"; the
 * task_done that takes the count to zero clears it and sends one WAKE
 * (sequentially consistent against the broker's store of joiners and its
 * re-read of the count, so one of the two sees the other). */
#include "queue-int.h"

#include "attach-int.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PAGE_MAGIC 0x7472716au /* "trqj" */

int
tri_queue_page_create(struct tri_queue_page **ret, int *ret_fd)
{
	struct tri_queue_page *p;
	tr_addr                self = tr_self();
	int                    fd, e;

	fd = (int) syscall(SYS_memfd_create, "troupe-queue-page", MFD_CLOEXEC);
	if (fd < 0) {
		return -errno;
	}
	if (ftruncate(fd, TRI_QUEUE_PAGE_SIZE) < 0) {
		e = -errno;
		close(fd);
		return e;
	}
	p = mmap(NULL, TRI_QUEUE_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
	    fd, 0);
	if (p == MAP_FAILED) {
		e = -errno;
		close(fd);
		return e;
	}
	p->pid         = self.pid;
	p->incarnation = self.incarnation;
	{
		pthread_mutexattr_t a;

		e = pthread_mutexattr_init(&a);
		if (e == 0) {
			(void) pthread_mutexattr_setpshared(
			    &a, PTHREAD_PROCESS_SHARED);
			(void) pthread_mutexattr_setrobust(
			    &a, PTHREAD_MUTEX_ROBUST);
			e = pthread_mutex_init(&p->alive, &a);
			(void) pthread_mutexattr_destroy(&a);
		}
		if (e == 0) {
			e = pthread_mutex_lock(&p->alive);
		}
		if (e != 0) {
			(void) munmap(p, TRI_QUEUE_PAGE_SIZE);
			close(fd);
			return -e;
		}
	}
	atomic_store(&p->magic, PAGE_MAGIC);
	*ret    = p;
	*ret_fd = fd;
	return 0;
}

void
tri_queue_page_release(struct tri_queue_page *p)
{
	/* off the broker thread's robust list before the unmap (handles
	 * then see the broker gone: their trylock succeeds) */
	(void) pthread_mutex_unlock(&p->alive);
}

void
tri_queue_page_unmap(struct tri_queue_page *p)
{
	if (p) {
		(void) munmap(p, TRI_QUEUE_PAGE_SIZE);
	}
}

int
tri_queue_page_attach(
    struct tri_queue_page **ret, int *ret_pidfd, tr_addr a, int fd)
{
	struct tri_queue_page *p;
	void                  *map;
	int                    pidfd, e;

	e = tri_attach_map(a, fd, TRI_QUEUE_PAGE_SIZE, &map, &pidfd);
	if (e < 0) {
		return e;
	}
	p = map;
	if (atomic_load(&p->magic) != PAGE_MAGIC || p->pid != a.pid ||
	    p->incarnation != a.incarnation || !tr_addr_is_alive(a)) {
		tri_queue_page_unmap(p);
		close(pidfd);
		return -ESRCH;
	}
	*ret       = p;
	*ret_pidfd = pidfd;
	return 0;
}

int
tri_queue_page_alive(struct tri_queue_page *p)
{
	int e = pthread_mutex_trylock(&p->alive);

	if (e == EBUSY) {
		return 0;
	}
	if (e == 0 || e == EOWNERDEAD) {
		/* ours now: the broker ended (or let it go at its end).  Let
		 * it go at once, not made consistent, so it is off this
		 * thread's robust list before the page is unmapped, and every
		 * later trylock says ENOTRECOVERABLE (or takes it again) */
		(void) pthread_mutex_unlock(&p->alive);
	}
	return TR_EDEAD;
}

int
tri_queue_page_done(struct tri_queue_page *p, bool *wake)
{
	int64_t c = atomic_load(&p->unfinished);

	*wake = false;
	while (c > 0) {
		if (atomic_compare_exchange_weak(&p->unfinished, &c, c - 1)) {
			if (c == 1 && atomic_load(&p->joiners) &&
			    atomic_exchange(&p->joiners, 0)) {
				*wake = true;
			}
			return 0;
		}
	}
	return TR_ETASKDONE;
}

uint64_t
tri_queue_page_count(struct tri_queue_page *p)
{
	int64_t c = atomic_load(&p->unfinished);

	return c > 0 ? (uint64_t) c : 0;
}

void
tri_queue_page_add(struct tri_queue_page *p, uint64_t n)
{
	atomic_fetch_add(&p->unfinished, (int64_t) n);
}

void
tri_queue_page_sub(struct tri_queue_page *p, uint64_t n)
{
	int64_t c = atomic_load(&p->unfinished), d;

	do {
		d = c > (int64_t) n ? c - (int64_t) n : 0;
	} while (c > 0 && !atomic_compare_exchange_weak(&p->unfinished, &c, d));
}
