/* SPDX-License-Identifier: MIT */
/* A consumer's ring (queue-int.h): the broker's memory, written by the
 * broker with the items it hands one consumer handle, read by that handle.
 * Made and mapped as a producer's ring is (queue-ring.c: an anonymous
 * memfd, mapped through /proc/BROKERPID/fd/N, a pidfd of the broker).
 *
 * The consumer copies a record out and then moves head past it (release
 * store): head is its acknowledgement cursor, so an item is acknowledged
 * before get returns it, by one store and no message.  The broker reads
 * head when it runs (and at the consumer's DOWN or BYE): the records
 * behind it are done, the ones after it go back to the queue.
 *
 * Wake-ups both ways are one flag and one message, as on a producer's
 * ring: a consumer about to wait sets "sleeping" and re-reads tail; the
 * broker publishes tail and then, if sleeping was set, clears it and
 * sends one WAKE push.  A broker with work waiting for this consumer's
 * progress (items queued behind its window, puts waiting for room) sets
 * "wake_head" to the offset it needs head to reach; the consumer whose
 * head passes it clears it and sends one WAKE op.  All four accesses are
 * sequentially consistent, so one side always sees the other. */
#include "queue-int.h"

#include "attach-int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

void
tri_queue_cring_write(struct tri_queue_ring *r, uint64_t *tail,
    const void *data, size_t len, const char *type, bool fetch)
{
	size_t               tl = fetch || !type ? 0 : strlen(type);
	struct tri_queue_rec h = { fetch ? TRI_QUEUE_REC_FETCH : (uint32_t) len,
		(uint32_t) tl };
	uint64_t off = *tail;

	tri_queue_ring_write(r, off, &h, sizeof(h));
	if (!fetch) {
		tri_queue_ring_write(r, off + sizeof(h), type, tl);
		tri_queue_ring_write(r, off + sizeof(h) + tl, data, len);
		*tail = off + tri_queue_rec_size(len, tl);
	} else {
		*tail = off + tri_queue_rec_size(0, 0);
	}
}

bool
tri_queue_cring_publish(struct tri_queue_ring *r, uint64_t tail)
{
	atomic_store(&r->tail, tail);
	return atomic_load(&r->sleeping) && atomic_exchange(&r->sleeping, 0);
}

void
tri_queue_creader_init(struct tri_queue_creader *c)
{
	c->ring  = NULL;
	c->pidfd = -1;
	c->head  = 0;
}

void
tri_queue_creader_detach(struct tri_queue_creader *c)
{
	tri_queue_ring_unmap(c->ring);
	if (c->pidfd >= 0) {
		close(c->pidfd);
	}
	tri_queue_creader_init(c);
}

int
tri_queue_creader_attach(struct tri_queue_creader *c, tr_addr a, int fd)
{
	struct tri_queue_ring *r;
	int                    pidfd, e;

	/* the broker writes nothing before we set a window, so head and
	 * tail are still 0 */
	e = tri_queue_ring_attach(&r, &pidfd, a, fd);
	if (e < 0) {
		return e;
	}
	if (atomic_load(&r->head) != 0 || atomic_load(&r->tail) != 0) {
		tri_queue_ring_unmap(r);
		close(pidfd);
		return -ESRCH;
	}
	c->ring  = r;
	c->pidfd = pidfd;
	c->head  = 0;
	return 0;
}

/* The record at head: its header, checked against what is published. */
static int
rec_at(struct tri_queue_creader *c, struct tri_queue_rec *h, size_t *size)
{
	uint64_t avail =
	    atomic_load_explicit(&c->ring->tail, memory_order_acquire) -
	    c->head;

	if (avail == 0) {
		return 0;
	}
	if (avail > TRI_QUEUE_RING_DATA || avail < sizeof(*h)) {
		return TR_EBADFRAME;
	}
	tri_queue_ring_read(c->ring, c->head, h, sizeof(*h));
	if (h->len == TRI_QUEUE_REC_FETCH) {
		*size = tri_queue_rec_size(0, 0);
	} else if (h->len > TRI_QUEUE_RING_ITEM_MAX ||
	    h->typelen > TRI_QUEUE_RING_TYPE_MAX) {
		return TR_EBADFRAME;
	} else {
		*size = tri_queue_rec_size(h->len, h->typelen);
	}
	return *size <= avail ? 1 : TR_EBADFRAME;
}

int
tri_queue_creader_peek(struct tri_queue_creader *c, bool *fetch)
{
	struct tri_queue_rec h;
	size_t               size;
	int                  r = rec_at(c, &h, &size);

	*fetch = r == 1 && h.len == TRI_QUEUE_REC_FETCH;
	return r;
}

static void
free_buf(void *data, void *hint)
{
	(void) hint;
	free(data);
}

int
tri_queue_creader_copy(struct tri_queue_creader *c, tr_msg **ret)
{
	struct tri_queue_rec h;
	char                 type[TRI_QUEUE_RING_TYPE_MAX + 1];
	uint64_t             off;
	size_t               size, at;
	tr_msg              *m = NULL;
	int                  r = rec_at(c, &h, &size);

	if (r != 1 || h.len == TRI_QUEUE_REC_FETCH) {
		return r == 1 || r == 0 ? -EINVAL : r;
	}
	off = c->head + sizeof(h);
	tri_queue_ring_read(c->ring, off, type, h.typelen);
	type[h.typelen] = 0;
	off += h.typelen;
	at = (size_t) (off % TRI_QUEUE_RING_DATA);
	if (at + h.len <= TRI_QUEUE_RING_DATA) {
		r = tr_msg_new_bytes(&m,
		    h.len ? tri_queue_ring_data(c->ring) + at : NULL, h.len);
	} else {
		void *buf = malloc(h.len);

		if (!buf) {
			return -ENOMEM;
		}
		tri_queue_ring_read(c->ring, off, buf, h.len);
		r = tr_msg_new_take(&m, buf, h.len, free_buf, NULL);
		if (r < 0) {
			free(buf);
		}
	}
	if (r == 0 && h.typelen) {
		r = tr_msg_set_type(m, type);
	}
	if (r < 0) {
		tr_msg_destroy(&m);
		return r;
	}
	*ret = m;
	return 0;
}

bool
tri_queue_creader_advance(struct tri_queue_creader *c)
{
	struct tri_queue_rec h;
	size_t               size;
	uint64_t             want;

	if (rec_at(c, &h, &size) != 1) {
		return false;
	}
	c->head += size;
	atomic_store(&c->ring->head, c->head);
	want = atomic_load(&c->ring->wake_head);
	return want && c->head >= want &&
	    atomic_exchange(&c->ring->wake_head, 0) != 0;
}

bool
tri_queue_creader_sleep(struct tri_queue_creader *c)
{
	atomic_store(&c->ring->sleeping, 1);
	if (atomic_load(&c->ring->tail) != c->head) {
		atomic_store(&c->ring->sleeping, 0);
		return true;
	}
	return false;
}

void
tri_queue_creader_awake(struct tri_queue_creader *c)
{
	atomic_store(&c->ring->sleeping, 0);
}
