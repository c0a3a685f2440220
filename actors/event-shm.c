/* SPDX-License-Identifier: MIT */
/* The event's shared page: the same-host fast path.  The event actor keeps
 * its flag in one page of an anonymous memfd (no name anywhere: the kernel
 * frees it when the last process that maps it or holds it ends, however it
 * ends, so a SIGKILL of every process leaves nothing behind).  A client on
 * the same host opens the actor's descriptor through /proc/PID/fd/N, maps
 * the page, and from then on sets, clears and reads the flag itself and
 * waits on a futex there: a set() wakes the waiters with one FUTEX_WAKE,
 * no message on the way.  The client holds a pidfd of the actor and looks
 * at it on every call (and every TRI_EVENT_SLICE_MS while it waits), so a
 * dead actor is still an error, never a hang. */
#include "event-int.h"

#include "attach-int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SHM_MAGIC 0x74726576u /* "trev" */

static long
futex(_Atomic uint32_t *word, int op, uint32_t val, const struct timespec *ts)
{
	return syscall(SYS_futex, (uint32_t *) word, op, val, ts, NULL, 0);
}

int
tri_event_shm_create(struct tri_event_shm **ret, int *ret_fd)
{
	struct tri_event_shm *p;
	tr_addr               self = tr_self();
	int                   fd;

	fd = (int) syscall(SYS_memfd_create, "troupe-event", MFD_CLOEXEC);
	if (fd < 0) {
		return -errno;
	}
	if (ftruncate(fd, TRI_EVENT_SHM_SIZE) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	p = mmap(NULL, TRI_EVENT_SHM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
	    fd, 0);
	if (p == MAP_FAILED) {
		int r = -errno;

		close(fd);
		return r;
	}
	p->pid         = self.pid;
	p->incarnation = self.incarnation;
	atomic_store(&p->magic, SHM_MAGIC);
	*ret    = p;
	*ret_fd = fd;
	return 0;
}

void
tri_event_shm_set(struct tri_event_shm *p)
{
	atomic_store(&p->flag, 1);
	atomic_fetch_add(&p->seq, 1);
	(void) futex(&p->seq, FUTEX_WAKE, INT_MAX, NULL);
}

void
tri_event_shm_clear(struct tri_event_shm *p)
{
	atomic_store(&p->flag, 0);
}

void
tri_event_local_init(struct tri_event_local *l)
{
	l->page  = NULL;
	l->pidfd = -1;
}

void
tri_event_local_detach(struct tri_event_local *l)
{
	if (l->page) {
		(void) munmap(l->page, TRI_EVENT_SHM_SIZE);
	}
	if (l->pidfd >= 0) {
		close(l->pidfd);
	}
	tri_event_local_init(l);
}

int
tri_event_local_attach(struct tri_event_local *l, tr_addr a, int fd)
{
	struct tri_event_shm *p;
	void                 *map;
	int                   pidfd, r;

	r = tri_attach_map(a, fd, TRI_EVENT_SHM_SIZE, &map, &pidfd);
	if (r < 0) {
		return r;
	}
	p = map;
	if (atomic_load(&p->magic) != SHM_MAGIC || p->pid != a.pid ||
	    p->incarnation != a.incarnation || !tr_addr_is_alive(a)) {
		(void) munmap(p, TRI_EVENT_SHM_SIZE);
		close(pidfd);
		return -ESRCH;
	}
	l->page  = p;
	l->pidfd = pidfd;
	return 0;
}

int
tri_event_local_alive(const struct tri_event_local *l)
{
	struct pollfd pf = { .fd = l->pidfd, .events = POLLIN };

	return poll(&pf, 1, 0) == 0 ? 0 : TR_EDEAD;
}

int
tri_event_local_wait(struct tri_event_local *l, int timeout_ms)
{
	struct tri_event_shm *p        = l->page;
	int64_t               deadline = tr_deadline(timeout_ms);
	uint32_t              seq      = atomic_load(&p->seq);

	for (;;) {
		struct timespec ts;
		int             left, r;

		/* a set() since we began wakes us even if a clear()
		 * followed at once */
		if (atomic_load(&p->flag) || atomic_load(&p->seq) != seq) {
			return 1;
		}
		r = tri_event_local_alive(l);
		if (r < 0) {
			return r;
		}
		left = tr_deadline_left(deadline);
		if (left == 0) {
			return 0;
		}
		if (left < 0 || left > TRI_EVENT_SLICE_MS) {
			left = TRI_EVENT_SLICE_MS;
		}
		ts.tv_sec  = left / 1000;
		ts.tv_nsec = (long) (left % 1000) * 1000000;
		if (futex(&p->seq, FUTEX_WAIT, seq, &ts) < 0 &&
		    errno == EINTR) {
			return atomic_load(&p->flag) ||
			        atomic_load(&p->seq) != seq
			    ? 1
			    : -EINTR;
		}
	}
}
