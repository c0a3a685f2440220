/* SPDX-License-Identifier: MIT */
/* A producer's ring (queue-int.h): the broker's memory, written by one
 * producer handle.  The broker makes it (an anonymous memfd: no name, the
 * kernel frees it when the last process mapping or holding it ends, so no
 * SIGKILL leaves anything behind); the producer maps it through
 * /proc/BROKERPID/fd/N as the event's clients map its page, and holds a
 * pidfd of the broker, so a dead broker is an error, never a hang.
 *
 * A put on the ring: check the queue's state, take one credit (bounded
 * queues), copy the record in, publish it (release store of tail), then
 * look whether the broker sleeps (sequentially consistent, against the
 * broker's "sleeping" store and its re-read of tail: one of the two
 * sees the other) and tell the caller to wake it with one message. */
#include "queue-int.h"

#include "attach-int.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define RING_MAGIC 0x74727172u /* "trqr" */

void
tri_queue_ring_write(
    struct tri_queue_ring *r, uint64_t off, const void *src, size_t n)
{
	size_t at    = (size_t) (off % TRI_QUEUE_RING_DATA);
	size_t first = TRI_QUEUE_RING_DATA - at;

	if (n == 0) {
		return; /* src or dst may be NULL then */
	}
	if (first > n) {
		first = n;
	}
	memcpy(tri_queue_ring_data(r) + at, src, first);
	memcpy(
	    tri_queue_ring_data(r), (const uint8_t *) src + first, n - first);
}

void
tri_queue_ring_read(struct tri_queue_ring *r, uint64_t off, void *dst, size_t n)
{
	size_t at    = (size_t) (off % TRI_QUEUE_RING_DATA);
	size_t first = TRI_QUEUE_RING_DATA - at;

	if (n == 0) {
		return; /* src or dst may be NULL then */
	}
	if (first > n) {
		first = n;
	}
	memcpy(dst, tri_queue_ring_data(r) + at, first);
	memcpy((uint8_t *) dst + first, tri_queue_ring_data(r), n - first);
}

int
tri_queue_ring_create(struct tri_queue_ring **ret, int *ret_fd, bool bounded,
    int state, bool consumer)
{
	struct tri_queue_ring *r;
	tr_addr                self = tr_self();
	int                    fd;

	fd = (int) syscall(SYS_memfd_create,
	    consumer ? "troupe-queue-cring" : "troupe-queue-ring", MFD_CLOEXEC);
	if (fd < 0) {
		return -errno;
	}
	if (ftruncate(fd, TRI_QUEUE_RING_MAP) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	r = mmap(NULL, TRI_QUEUE_RING_MAP, PROT_READ | PROT_WRITE, MAP_SHARED,
	    fd, 0);
	if (r == MAP_FAILED) {
		int e = -errno;

		close(fd);
		return e;
	}
	r->pid         = self.pid;
	r->incarnation = self.incarnation;
	r->size        = TRI_QUEUE_RING_DATA;
	r->bounded     = bounded;
	atomic_store(&r->state, (uint32_t) state);
	atomic_store(&r->magic, RING_MAGIC);
	*ret    = r;
	*ret_fd = fd;
	return 0;
}

void
tri_queue_ring_unmap(struct tri_queue_ring *r)
{
	if (r) {
		(void) munmap(r, TRI_QUEUE_RING_MAP);
	}
}

void
tri_queue_local_init(struct tri_queue_local *l)
{
	l->ring  = NULL;
	l->page  = NULL;
	l->pidfd = -1;
	l->tail  = 0;
}

void
tri_queue_local_detach(struct tri_queue_local *l)
{
	tri_queue_ring_unmap(l->ring);
	if (l->pidfd >= 0) {
		close(l->pidfd);
	}
	tri_queue_local_init(l);
}

int
tri_queue_ring_attach(
    struct tri_queue_ring **ret, int *ret_pidfd, tr_addr a, int fd)
{
	struct tri_queue_ring *r;
	void                  *map;
	int                    pidfd, e;

	e = tri_attach_map(a, fd, TRI_QUEUE_RING_MAP, &map, &pidfd);
	if (e < 0) {
		return e;
	}
	r = map;
	if (atomic_load(&r->magic) != RING_MAGIC || r->pid != a.pid ||
	    r->incarnation != a.incarnation || r->size != TRI_QUEUE_RING_DATA ||
	    !tr_addr_is_alive(a)) {
		tri_queue_ring_unmap(r);
		close(pidfd);
		return -ESRCH;
	}
	*ret       = r;
	*ret_pidfd = pidfd;
	return 0;
}

int
tri_queue_local_attach(struct tri_queue_local *l, tr_addr a, int fd)
{
	struct tri_queue_ring *r;
	int                    pidfd, e;

	e = tri_queue_ring_attach(&r, &pidfd, a, fd);
	if (e < 0) {
		return e;
	}
	if (atomic_load(&r->tail) != 0) {
		tri_queue_ring_unmap(r);
		close(pidfd);
		return -ESRCH;
	}
	l->ring  = r;
	l->pidfd = pidfd;
	l->tail  = 0;
	return 0;
}

int
tri_queue_local_alive(const struct tri_queue_local *l)
{
	struct pollfd pf = { .fd = l->pidfd, .events = POLLIN };

	if (l->page) {
		return tri_queue_page_alive(l->page); /* no system call */
	}
	return poll(&pf, 1, 0) == 0 ? 0 : TR_EDEAD;
}

/* Take one credit: false if there is none (the broker may have taken it
 * back meanwhile: then the put goes by message, which the broker judges
 * exactly). */
static bool
take_credit(struct tri_queue_ring *r)
{
	int64_t c = atomic_load(&r->credit);

	while (c > 0) {
		if (atomic_compare_exchange_weak(&r->credit, &c, c - 1)) {
			return true;
		}
	}
	return false;
}

int
tri_queue_local_put(struct tri_queue_local *l, const void *data, size_t len,
    const char *type, bool *wake)
{
	struct tri_queue_ring *r    = l->ring;
	size_t                 tl   = strlen(type);
	size_t                 need = tri_queue_rec_size(len, tl);
	struct tri_queue_rec   h    = { (uint32_t) len, (uint32_t) tl };
	uint32_t               state;
	uint64_t               off;

	*wake = false;
	state = atomic_load(&r->state);
	if (state == TRI_QUEUE_CLOSED) {
		return TR_ECLOSED;
	}
	if (state == TRI_QUEUE_SHUTDOWN) {
		return TR_EQSHUTDOWN;
	}
	if (state != TRI_QUEUE_OPEN || len > TRI_QUEUE_RING_ITEM_MAX ||
	    tl > TRI_QUEUE_RING_TYPE_MAX ||
	    l->tail - atomic_load_explicit(&r->head, memory_order_acquire) +
	            need >
	        TRI_QUEUE_RING_DATA) {
		return 1;
	}
	if (r->bounded && !take_credit(r)) {
		return 1;
	}
	off = l->tail;
	tri_queue_ring_write(r, off, &h, sizeof(h));
	tri_queue_ring_write(r, off + sizeof(h), type, tl);
	tri_queue_ring_write(r, off + sizeof(h) + tl, data, len);
	l->tail = off + need;
	/* publish; sequentially consistent against the broker's sleeping
	 * flag (see the top of this file) */
	atomic_store(&r->tail, l->tail);
	if (atomic_load(&r->sleeping) && atomic_exchange(&r->sleeping, 0)) {
		*wake = true;
	}
	/* the broker alive after the item is in its memory: it holds it */
	return tri_queue_local_alive(l);
}
