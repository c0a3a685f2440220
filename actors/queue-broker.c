/* SPDX-License-Identifier: MIT */
/* The queue broker ("troupe.queue"): holds the items of one queue and
 * serves its clients from one tr_recv() loop.  Producers' puts are calls
 * answered once the item is stored (or parked while the queue is full,
 * until room frees or their timeout passes).  Consumers get credit-based
 * pushes: each asks for up to N items, the broker sends them as they come
 * and keeps each one "in flight" for that consumer until acknowledged; a
 * consumer that dies (monitored) or says goodbye gets its unacknowledged
 * items put back at the front of the queue, in order. */
#include "queue-int.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <protobuf-c/protobuf-c.h>

struct item {
	uint8_t *data; /* owned, malloc'd (taken from the unpacked op) */
	size_t   len;
	char    *type; /* owned, or NULL for raw bytes */
	uint64_t end;  /* in a consumer's ring: where its record ends */
};

/* A ring of items, oldest first, growable at both ends. */
struct deque {
	struct item *v;
	size_t       head, n, cap;
};

struct consumer {
	tr_addr      addr;
	uint64_t     id;  /* the handle's id (one process may hold several) */
	uint64_t     mon; /* our monitor of addr */
	uint32_t     credit;
	bool         told; /* was sent the end-of-queue error */
	struct deque inflight;
	/* its ring (queue-cring.c), or NULL: items by message */
	struct tri_queue_ring *r;
	int                    fd;
	uint64_t               tail;  /* bytes written */
	uint64_t               acked; /* head as last read */
};

/* A producer's ring (queue-ring.c); granted, drained and revoked count
 * records, so a bounded queue's room it holds is granted - drained -
 * revoked. */
struct ring {
	tr_addr                addr;
	uint64_t               id;  /* the producer handle's id */
	uint64_t               mon; /* our monitor of addr */
	struct tri_queue_ring *r;
	int                    fd;
	bool                   dead; /* not read any more */
	uint64_t               granted, drained, revoked;
};

/* Most rings one broker keeps; later producers use messages. */
#define RINGS_MAX 512

struct parked {
	tr_msg          *req; /* the call to answer */
	Trwire__QueueOp *op;  /* PUT: its item; NULL for a JOIN */
	int64_t          deadline;
};

struct broker {
	uint64_t               maxsize;
	int                    kind;
	int                    state; /* TRI_QUEUE_OPEN, _CLOSED, _SHUTDOWN */
	struct deque           q;     /* queued, not yet sent */
	uint64_t               held;  /* q.n + every consumer's in flight */
	uint64_t               unfinished; /* joinable: puts not marked done */
	struct consumer       *cons;
	size_t                 ncons, rr;
	struct parked         *puts, *joins;
	size_t                 nputs, njoins;
	uint64_t               junk; /* messages that were not queue requests */
	uint64_t               dropped; /* granted puts after a shutdown */
	struct ring           *rings;
	size_t                 nrings;
	struct tri_queue_page *page; /* joinable: unfinished lives there */
	int                    page_fd;
};

static struct item *
dq_at(struct deque *d, size_t i)
{
	return &d->v[(d->head + i) % d->cap];
}

static int
dq_grow(struct deque *d)
{
	size_t       cap = d->cap ? d->cap * 2 : 64;
	struct item *v   = malloc(cap * sizeof(*v));

	if (!v) {
		return -ENOMEM;
	}
	for (size_t i = 0; i < d->n; i++) {
		v[i] = *dq_at(d, i);
	}
	free(d->v);
	d->v    = v;
	d->cap  = cap;
	d->head = 0;
	return 0;
}

static int
dq_push_back(struct deque *d, struct item it)
{
	if (d->n == d->cap && dq_grow(d) < 0) {
		return -ENOMEM;
	}
	*dq_at(d, d->n++) = it;
	return 0;
}

static int
dq_push_front(struct deque *d, struct item it)
{
	if (d->n == d->cap && dq_grow(d) < 0) {
		return -ENOMEM;
	}
	d->head       = (d->head + d->cap - 1) % d->cap;
	d->v[d->head] = it;
	d->n++;
	return 0;
}

static struct item
dq_pop_front(struct deque *d)
{
	struct item it = d->v[d->head];

	d->head = (d->head + 1) % d->cap;
	d->n--;
	return it;
}

static void
item_free(struct item *it)
{
	free(it->data);
	free(it->type);
	it->data = NULL;
	it->type = NULL;
}

static void
dq_clear(struct deque *d)
{
	while (d->n) {
		struct item it = dq_pop_front(d);

		item_free(&it);
	}
	free(d->v);
	memset(d, 0, sizeof(*d));
}

/* Take the item out of an unpacked PUT (no copy: protobuf-c's default
 * allocator is malloc, so the buffers are ours to free once detached). */
static struct item
item_take(Trwire__QueueOp *op)
{
	struct item it = { op->item.data, op->item.len, NULL, 0 };

	if (op->item_type && op->item_type[0]) {
		it.type       = op->item_type;
		op->item_type = NULL;
	}
	op->item.data = NULL;
	op->item.len  = 0;
	return it;
}

/* ---- the joinable count (in the page when there is one) ----------------- */

static uint64_t
unfinished(const struct broker *b)
{
	return b->page ? tri_queue_page_count(b->page) : b->unfinished;
}

static void
unfinished_add(struct broker *b)
{
	if (b->kind != TR_QUEUE_JOINABLE) {
		return;
	}
	if (b->page) {
		tri_queue_page_add(b->page, 1);
	} else {
		b->unfinished++;
	}
}

static void
unfinished_sub(struct broker *b, uint64_t n)
{
	if (b->page) {
		tri_queue_page_sub(b->page, n);
	} else {
		b->unfinished -= n < b->unfinished ? n : b->unfinished;
	}
}

/* ---- answers ------------------------------------------------------------ */

static void
answer(struct broker *b, const tr_msg *req, int err)
{
	Trwire__QueueReply rep = TRWIRE__QUEUE_REPLY__INIT;

	rep.error      = err;
	rep.size       = b->held;
	rep.maxsize    = b->maxsize;
	rep.state      = (uint32_t) b->state;
	rep.unfinished = unfinished(b);
	rep.kind       = (uint32_t) b->kind;
	/* a caller that died or gave up: nothing to do */
	(void) tr_reply_pb(req, &rep.base, TRI_QUEUE_SEND_MS);
}

/* A stored PUT's answer: an unbounded queue also grants the producer
 * up to want one-way puts (tr_queue_set_put_window()). */
static void
answer_put(struct broker *b, const tr_msg *req, int err, uint32_t want)
{
	Trwire__QueueReply rep = TRWIRE__QUEUE_REPLY__INIT;

	if (err || b->maxsize || b->state != TRI_QUEUE_OPEN) {
		answer(b, req, err);
		return;
	}
	rep.size  = b->held;
	rep.kind  = (uint32_t) b->kind;
	rep.grant = want < TRI_QUEUE_WINDOW_MAX ? want : TRI_QUEUE_WINDOW_MAX;
	(void) tr_reply_pb(req, &rep.base, TRI_QUEUE_SEND_MS);
}

static void
park_remove(struct parked *v, size_t *n, size_t i)
{
	tr_msg_destroy(&v[i].req);
	if (v[i].op) {
		trwire__queue_op__free_unpacked(v[i].op, NULL);
	}
	memmove(&v[i], &v[i + 1], (*n - i - 1) * sizeof(*v));
	(*n)--;
}

static int
park(struct parked **v, size_t *n, tr_msg **reqp, Trwire__QueueOp *op,
    int64_t deadline)
{
	struct parked *nv = realloc(*v, (*n + 1) * sizeof(**v));

	if (!nv) {
		return -ENOMEM;
	}
	*v         = nv;
	nv[(*n)++] = (struct parked) { *reqp, op, deadline };
	*reqp      = NULL;
	return 0;
}

static void
fail_puts(struct broker *b, int err)
{
	while (b->nputs) {
		answer(b, b->puts[0].req, err);
		park_remove(b->puts, &b->nputs, 0);
	}
}

static void
wake_joins(struct broker *b)
{
	while (b->njoins && unfinished(b) == 0) {
		answer(b, b->joins[0].req, 0);
		park_remove(b->joins, &b->njoins, 0);
	}
}

/* Room producers' rings hold (credit granted, not yet used or taken
 * back: each record on a bounded queue's ring needs one). */
static uint64_t
reserved(const struct broker *b)
{
	uint64_t n = 0;

	for (size_t i = 0; i < b->nrings; i++) {
		const struct ring *g = &b->rings[i];

		n += g->granted - g->drained - g->revoked;
	}
	return n;
}

static bool
has_room(const struct broker *b)
{
	return b->maxsize == 0 || b->held + reserved(b) < b->maxsize;
}

/* Take back every ring's unused credit (a put found the queue full: the
 * room may be only promised). */
static void
revoke_all(struct broker *b)
{
	for (size_t i = 0; b->maxsize && i < b->nrings; i++) {
		struct ring *g    = &b->rings[i];
		int64_t      c    = atomic_exchange(&g->r->credit, 0);
		uint64_t     left = g->granted - g->drained - g->revoked;

		/* a producer cannot add credit: more back than out is bad */
		g->revoked += c < 0       ? 0
		    : (uint64_t) c > left ? left
		                          : (uint64_t) c;
	}
}

/* Grant g credit for up to TRI_QUEUE_RING_GRANT records of the free room
 * (bounded queues, none while puts wait for room: they go first). */
static void
grant(struct broker *b, struct ring *g)
{
	uint64_t used = b->held + reserved(b), n;

	if (!b->maxsize || g->dead || b->nputs || b->state != TRI_QUEUE_OPEN ||
	    used >= b->maxsize) {
		return;
	}
	n = b->maxsize - used;
	n = n < TRI_QUEUE_RING_GRANT ? n : TRI_QUEUE_RING_GRANT;
	g->granted += n;
	atomic_fetch_add(&g->r->credit, (int64_t) n);
}

static int
store(struct broker *b, Trwire__QueueOp *op)
{
	if (dq_push_back(&b->q, item_take(op)) < 0) {
		return -ENOMEM;
	}
	b->held++;
	unfinished_add(b);
	return 0;
}

/* Room freed: parked puts go in, oldest first. */
static void
admit_parked(struct broker *b)
{
	while (b->nputs && has_room(b)) {
		answer(b, b->puts[0].req, store(b, b->puts[0].op));
		park_remove(b->puts, &b->nputs, 0);
	}
}

/* Parked puts whose timeout passed fail with TR_EFULL; returns the
 * timeout until the next one is due. */
static int
expire_puts(struct broker *b)
{
	int64_t now = tr_now_ms(), next = -1;

	for (size_t i = 0; i < b->nputs;) {
		int64_t d = b->puts[i].deadline;

		if (d >= 0 && d <= now) {
			answer(b, b->puts[i].req, TR_EFULL);
			park_remove(b->puts, &b->nputs, i);
			continue;
		}
		if (d >= 0 && (next < 0 || d < next)) {
			next = d;
		}
		i++;
	}
	return next < 0 ? TR_TIMEOUT_INFINITE : tr_deadline_left(next);
}

/* ---- consumers ---------------------------------------------------------- */

static struct consumer *
find_consumer(struct broker *b, tr_addr addr, uint64_t id)
{
	for (size_t i = 0; i < b->ncons; i++) {
		if (b->cons[i].id == id && tr_addr_eq(b->cons[i].addr, addr)) {
			return &b->cons[i];
		}
	}
	return NULL;
}

static struct consumer *
add_consumer(struct broker *b, tr_addr addr, uint64_t id)
{
	struct consumer *v = realloc(b->cons, (b->ncons + 1) * sizeof(*v));
	struct consumer *c;

	if (!v) {
		return NULL;
	}
	b->cons = v;
	c       = &v[b->ncons];
	memset(c, 0, sizeof(*c));
	c->addr = addr;
	c->id   = id;
	if (tr_monitor(addr, &c->mon) < 0) {
		return NULL;
	}
	b->ncons++;
	return c;
}

/* The items of c's ring behind its head are done (acknowledged): free
 * them.  A head out of range (the consumer wrote its ring badly) stops
 * the ring: everything not acknowledged before goes back to the queue
 * when c goes (its handle then gets TR_EBADFRAME). */
static void
reconcile(struct broker *b, struct consumer *c)
{
	uint64_t head;
	bool     freed = false;

	if (!c->r || atomic_load(&c->r->state) == TRI_QUEUE_RING_DEAD) {
		return;
	}
	head = atomic_load(&c->r->head);
	if (head == c->acked) {
		return;
	}
	if (head < c->acked || head > c->tail) {
		b->junk++;
		tr_log(TR_LOG_WARNING,
		    "queue: a consumer's ring head is out of "
		    "range; its items go back to the queue");
		atomic_store(&c->r->state, TRI_QUEUE_RING_DEAD);
		return;
	}
	while (c->inflight.n && dq_at(&c->inflight, 0)->end <= head) {
		struct item it = dq_pop_front(&c->inflight);

		item_free(&it);
		b->held--;
		freed = true;
	}
	c->acked = head;
	if (freed) {
		admit_parked(b);
	}
}

static void
reconcile_all(struct broker *b)
{
	for (size_t i = 0; i < b->ncons; i++) {
		reconcile(b, &b->cons[i]);
	}
}

/* Put c's unacknowledged items back at the front, oldest first, and
 * forget c. */
static void
drop_consumer(struct broker *b, struct consumer *c, bool demonitor)
{
	size_t i = (size_t) (c - b->cons);

	reconcile(b, c); /* what its ring says it took is done */
	if (c->r) {
		atomic_store(&c->r->state, TRI_QUEUE_RING_DEAD);
		tri_queue_ring_unmap(c->r);
		close(c->fd);
	}
	while (c->inflight.n) {
		struct item it = *dq_at(&c->inflight, c->inflight.n - 1);

		c->inflight.n--;
		if (dq_push_front(&b->q, it) < 0) {
			item_free(&it); /* out of memory: lost */
			b->held--;
		}
	}
	dq_clear(&c->inflight);
	if (demonitor) {
		(void) tr_demonitor(c->mon);
	}
	memmove(c, c + 1, (b->ncons - i - 1) * sizeof(*c));
	b->ncons--;
}

static void
ack(struct broker *b, struct consumer *c, uint32_t n)
{
	while (n-- && c->inflight.n) {
		struct item it = dq_pop_front(&c->inflight);

		item_free(&it);
		b->held--;
	}
	admit_parked(b);
}

/* Send c the end-of-queue error err (no items). */
static int
push_end(struct consumer *c, int err)
{
	Trwire__QueueItem pb = TRWIRE__QUEUE_ITEM__INIT;
	tr_msg           *m;
	int               r;

	pb.consumer = c->id;
	pb.error    = err;
	r           = tr_msg_new_pb(&m, &pb.base);
	if (r < 0) {
		return r;
	}
	tr_msg_set_correlation(m, c->id);
	r = tr_send(c->addr, &m, TRI_QUEUE_SEND_MS);
	tr_msg_destroy(&m);
	return r;
}

/* Send c the n oldest queued items in one message; they stay at the
 * front of the queue until sent, so a failed send loses nothing. */
static int
push_batch(struct consumer *c, struct deque *q, size_t n)
{
	Trwire__QueueItem   pb = TRWIRE__QUEUE_ITEM__INIT;
	Trwire__QueueEntry  ent[TRI_QUEUE_BATCH];
	Trwire__QueueEntry *ptr[TRI_QUEUE_BATCH];
	tr_msg             *m;
	int                 r;

	for (size_t i = 0; i < n; i++) {
		struct item *it = dq_at(q, i);

		trwire__queue_entry__init(&ent[i]);
		ent[i].item.data = it->data;
		ent[i].item.len  = it->len;
		ent[i].item_type = it->type ? it->type : (char *) "";
		ptr[i]           = &ent[i];
	}
	pb.consumer = c->id;
	pb.n_items  = n;
	pb.items    = ptr;
	r           = tr_msg_new_pb(&m, &pb.base);
	if (r < 0) {
		return r;
	}
	tr_msg_set_correlation(m, c->id);
	r = tr_send(c->addr, &m, TRI_QUEUE_SEND_MS);
	tr_msg_destroy(&m);
	return r;
}

/* How many of the first n queued items fit one push: at least one, and
 * no more than TRI_QUEUE_BATCH_BYTES in all. */
static size_t
batch_len(struct deque *q, size_t n)
{
	size_t bytes = dq_at(q, 0)->len;
	size_t k     = 1;

	while (k < n && bytes + dq_at(q, k)->len <= TRI_QUEUE_BATCH_BYTES) {
		bytes += dq_at(q, k++)->len;
	}
	return k;
}

/* Write up to n of the oldest queued items into c's ring (an item too
 * big for it as a marker the consumer fetches); returns how many. */
static size_t
ring_batch(struct broker *b, struct consumer *c, size_t n)
{
	size_t k = 0;

	while (k < n) {
		struct item *it    = dq_at(&b->q, 0);
		bool         fetch = it->len > TRI_QUEUE_RING_ITEM_MAX ||
		    (it->type && strlen(it->type) > TRI_QUEUE_RING_TYPE_MAX);
		size_t      need = fetch ? tri_queue_rec_size(0, 0)
		                         : tri_queue_rec_size(it->len,
                                          it->type ? strlen(it->type) : 0);
		struct item moved;

		if (c->tail - c->acked + need > TRI_QUEUE_RING_DATA) {
			break;
		}
		tri_queue_cring_write(
		    c->r, &c->tail, it->data, it->len, it->type, fetch);
		moved     = dq_pop_front(&b->q);
		moved.end = c->tail;
		if (dq_push_back(&c->inflight, moved) < 0) {
			/* cannot happen without memory; the record is
			 * written, so the consumer gets it: forget ours */
			item_free(&moved);
			b->held--;
		}
		k++;
	}
	if (k && tri_queue_cring_publish(c->r, c->tail)) {
		(void) push_end(c, 0); /* a WAKE: look at the ring */
	}
	return k;
}

/* Items c may take now: its window less what it holds (0 for a ring
 * consumer that has not set its window, or whose ring is stopped). */
static size_t
room_of(const struct consumer *c)
{
	uint32_t w;

	if (!c->r) {
		return c->credit;
	}
	if (atomic_load(&c->r->state) == TRI_QUEUE_RING_DEAD) {
		return 0;
	}
	w = atomic_load(&c->r->window);
	w = w > TRI_QUEUE_WINDOW_MAX ? TRI_QUEUE_WINDOW_MAX : w;
	return w > c->inflight.n ? w - c->inflight.n : 0;
}

/* Send queued items to consumers with credit, in turn, a batch each (up
 * to TRI_QUEUE_BATCH, so a burst costs one message per batch, or one
 * publish of a ring's tail). */
static void
dispatch(struct broker *b)
{
	size_t idle = 0;

	while (b->q.n && b->ncons && idle < b->ncons) {
		struct consumer *c = &b->cons[b->rr++ % b->ncons];
		size_t           n = b->q.n, room = room_of(c);

		if (c->r) {
			n = n < room ? n : room;
			n = n < TRI_QUEUE_BATCH ? n : TRI_QUEUE_BATCH;
			if (n == 0 || ring_batch(b, c, n) == 0) {
				idle++;
			} else {
				idle = 0;
			}
			continue;
		}
		if (c->credit == 0) {
			idle++;
			continue;
		}
		idle = 0;
		n    = n < c->credit ? n : c->credit;
		n    = n < TRI_QUEUE_BATCH ? n : TRI_QUEUE_BATCH;
		n    = batch_len(&b->q, n);
		if (push_batch(c, &b->q, n) < 0) {
			c->credit =
			    0; /* gone or wedged: its DOWN or credit says */
			continue;
		}
		c->credit -= (uint32_t) n;
		while (n--) {
			struct item it = dq_pop_front(&b->q);

			if (dq_push_back(&c->inflight, it) < 0) {
				item_free(&it);
				b->held--;
			}
		}
	}
}

/* Closed or shut down and nothing left to send: each consumer waiting
 * (with credit) learns why its gets fail, once. */
static void
tell_end(struct broker *b)
{
	int err = b->state == TRI_QUEUE_CLOSED ? TR_ECLOSED : TR_EQSHUTDOWN;

	if (b->state == TRI_QUEUE_OPEN || b->q.n) {
		return;
	}
	for (size_t i = 0; i < b->ncons; i++) {
		if ((b->cons[i].r || b->cons[i].credit) && !b->cons[i].told) {
			b->cons[i].told = push_end(&b->cons[i], err) == 0;
		}
	}
}

/* ---- producers' rings --------------------------------------------------- */

static struct ring *
find_ring(struct broker *b, tr_addr addr, uint64_t id)
{
	for (size_t i = 0; id && i < b->nrings; i++) {
		if (b->rings[i].id == id &&
		    tr_addr_eq(b->rings[i].addr, addr)) {
			return &b->rings[i];
		}
	}
	return NULL;
}

/* Stop reading g (a bad record, or its producer is gone); the room it
 * held is free again. */
static void
ring_stop(struct ring *g)
{
	g->dead    = true;
	g->revoked = g->granted - g->drained;
	atomic_store(&g->r->state, TRI_QUEUE_RING_DEAD);
}

static void
ring_bad(struct broker *b, struct ring *g, const char *why)
{
	b->junk++;
	tr_log(TR_LOG_WARNING,
	    "queue: a producer's ring is bad (%s); its "
	    "later puts go by message",
	    why);
	ring_stop(g);
}

/* Take every record published on g into the queue.  A record is checked
 * whole before anything is taken; without memory it stays on the ring
 * for the next time (nothing lost). */
static void
drain_ring(struct broker *b, struct ring *g)
{
	struct tri_queue_ring *r    = g->r;
	uint64_t               head = atomic_load(&r->head);

	while (!g->dead) {
		uint64_t             tail = atomic_load(&r->tail), avail;
		struct tri_queue_rec h;
		struct item          it = { NULL, 0, NULL, 0 };
		size_t               need;

		avail = tail - head;
		if (avail == 0) {
			return;
		}
		if (avail > TRI_QUEUE_RING_DATA || avail < sizeof(h)) {
			ring_bad(b, g, "tail out of range");
			return;
		}
		tri_queue_ring_read(r, head, &h, sizeof(h));
		need = tri_queue_rec_size(h.len, h.typelen);
		if (h.typelen > TRI_QUEUE_RING_TYPE_MAX ||
		    h.len > TRI_QUEUE_RING_ITEM_MAX || need > avail) {
			ring_bad(b, g, "bad record length");
			return;
		}
		if (b->maxsize && g->drained >= g->granted - g->revoked) {
			ring_bad(b, g, "a record without credit");
			return;
		}
		it.len  = h.len;
		it.data = malloc(h.len ? h.len : 1);
		if (h.typelen) {
			it.type = malloc(h.typelen + 1);
		}
		if (!it.data || (h.typelen && !it.type)) {
			item_free(&it);
			return;
		}
		tri_queue_ring_read(r, head + sizeof(h), it.type, h.typelen);
		tri_queue_ring_read(
		    r, head + sizeof(h) + h.typelen, it.data, h.len);
		if (it.type) {
			it.type[h.typelen] = 0;
			if (memchr(it.type, 0, h.typelen)) {
				item_free(&it);
				ring_bad(b, g, "NUL in a type name");
				return;
			}
		}
		if (b->state == TRI_QUEUE_SHUTDOWN) {
			item_free(&it); /* as the queued items were */
			b->dropped++;
		} else if (dq_push_back(&b->q, it) < 0) {
			item_free(&it);
			return;
		} else {
			b->held++;
			unfinished_add(b);
		}
		g->drained++;
		head += need;
		atomic_store(&r->head, head);
	}
}

/* Before any request: what producers published before they sent it is
 * taken first (their order, and qsize, join and close see it). */
static void
drain_all(struct broker *b)
{
	for (size_t i = 0; i < b->nrings; i++) {
		drain_ring(b, &b->rings[i]);
	}
}

static void
rings_set_state(struct broker *b)
{
	for (size_t i = 0; i < b->nrings; i++) {
		if (!b->rings[i].dead) {
			atomic_store(
			    &b->rings[i].r->state, (uint32_t) b->state);
		}
	}
}

/* About to wait for mail: tell the producers to wake us (a WAKE message)
 * after their next record.  Returns true if a record came meanwhile (do
 * not wait then). */
static bool
rings_sleep(struct broker *b, bool sleeping)
{
	bool pending = false;

	for (size_t i = 0; i < b->nrings; i++) {
		struct tri_queue_ring *r = b->rings[i].r;

		atomic_store(&r->sleeping, sleeping);
		if (!b->rings[i].dead &&
		    atomic_load(&r->tail) != atomic_load(&r->head)) {
			pending = true;
		}
	}
	return pending;
}

static void
drop_ring(struct broker *b, struct ring *g, bool demonitor)
{
	size_t i = (size_t) (g - b->rings);

	drain_ring(b, g); /* what it published is ours */
	ring_stop(g);
	if (demonitor) {
		(void) tr_demonitor(g->mon);
	}
	tri_queue_ring_unmap(g->r);
	close(g->fd);
	memmove(g, g + 1, (b->nrings - i - 1) * sizeof(*g));
	b->nrings--;
}

static void
answer_ring(struct broker *b, const tr_msg *req, const struct ring *g)
{
	Trwire__QueueReply rep = TRWIRE__QUEUE_REPLY__INIT;

	rep.size      = b->held;
	rep.maxsize   = b->maxsize;
	rep.state     = (uint32_t) b->state;
	rep.kind      = (uint32_t) b->kind;
	rep.ring_fd   = g ? g->fd : -1;
	rep.ring_size = g ? TRI_QUEUE_RING_DATA : 0;
	rep.page_fd   = b->page ? b->page_fd : -1;
	(void) tr_reply_pb(req, &rep.base, TRI_QUEUE_SEND_MS);
}

/* RING: make (or give again) the producer's ring.  Any failure answers
 * "none": the producer then uses messages. */
static void
on_ring(struct broker *b, const tr_msg *req, const Trwire__QueueOp *op)
{
	tr_addr      from = tr_msg_sender(req);
	struct ring *g    = find_ring(b, from, op->producer), *v;

	if (g || op->producer == 0 || from.node != 0 ||
	    b->nrings >= RINGS_MAX) {
		answer_ring(b, req, g && !g->dead ? g : NULL);
		return;
	}
	v = realloc(b->rings, (b->nrings + 1) * sizeof(*v));
	if (!v) {
		answer_ring(b, req, NULL);
		return;
	}
	b->rings = v;
	g        = &v[b->nrings];
	memset(g, 0, sizeof(*g));
	g->addr = from;
	g->id   = op->producer;
	if (tri_queue_ring_create(
	        &g->r, &g->fd, b->maxsize != 0, b->state, false) < 0) {
		answer_ring(b, req, NULL);
		return;
	}
	if (tr_monitor(from, &g->mon) < 0) {
		tri_queue_ring_unmap(g->r);
		close(g->fd);
		answer_ring(b, req, NULL);
		return;
	}
	b->nrings++;
	grant(b, g);
	answer_ring(b, req, g);
}

/* ---- consumers' rings and the joinable page ---------------------------- */

/* CONSUME: a ring for the consumer handle (op->consumer) of the caller.
 * Nothing is written to it before the consumer sets its window there.
 * Any failure answers "none": the consumer then takes credit by message. */
static void
on_consume(struct broker *b, const tr_msg *req, const Trwire__QueueOp *op)
{
	tr_addr                from = tr_msg_sender(req);
	struct tri_queue_ring *r    = NULL;
	struct consumer       *c;
	int                    fd = -1;

	if (op->consumer == 0 || from.node != 0 ||
	    find_consumer(b, from, op->consumer) ||
	    tri_queue_ring_create(&r, &fd, false, b->state, true) < 0) {
		answer_ring(b, req, NULL);
		return;
	}
	c = add_consumer(b, from, op->consumer);
	if (!c) {
		tri_queue_ring_unmap(r);
		close(fd);
		answer_ring(b, req, NULL);
		return;
	}
	c->r  = r;
	c->fd = fd;
	{
		Trwire__QueueReply rep = TRWIRE__QUEUE_REPLY__INIT;

		rep.size      = b->held;
		rep.maxsize   = b->maxsize;
		rep.state     = (uint32_t) b->state;
		rep.kind      = (uint32_t) b->kind;
		rep.ring_fd   = fd;
		rep.ring_size = TRI_QUEUE_RING_DATA;
		rep.page_fd   = b->page ? b->page_fd : -1;
		(void) tr_reply_pb(req, &rep.base, TRI_QUEUE_SEND_MS);
	}
}

/* FETCH: the item of the marker at op->offset in the caller's ring (the
 * oldest it has not acknowledged). */
static void
on_fetch(struct broker *b, const tr_msg *req, const Trwire__QueueOp *op)
{
	Trwire__QueueReply rep = TRWIRE__QUEUE_REPLY__INIT;
	struct consumer *c = find_consumer(b, tr_msg_sender(req), op->consumer);
	struct item     *it;

	if (c) {
		reconcile(b, c);
	}
	if (!c || !c->r || c->inflight.n == 0 || op->offset != c->acked ||
	    dq_at(&c->inflight, 0)->end !=
	        c->acked + tri_queue_rec_size(0, 0)) {
		answer(b, req, -EINVAL);
		return;
	}
	it            = dq_at(&c->inflight, 0);
	rep.item.data = it->data;
	rep.item.len  = it->len;
	rep.item_type = it->type ? it->type : (char *) "";
	rep.kind      = (uint32_t) b->kind;
	(void) tr_reply_pb(req, &rep.base, TRI_QUEUE_SEND_MS);
}

static void
on_page(struct broker *b, const tr_msg *req)
{
	Trwire__QueueReply rep = TRWIRE__QUEUE_REPLY__INIT;

	rep.kind    = (uint32_t) b->kind;
	rep.page_fd = b->page ? b->page_fd : -1;
	(void) tr_reply_pb(req, &rep.base, TRI_QUEUE_SEND_MS);
}

/* About to wait for mail with work that needs a consumer's progress
 * (items queued behind full windows, puts waiting for room): ask each
 * ring consumer holding items to send a WAKE once its head passes half
 * of them (the first, if puts wait: a get frees their room), and the
 * task_done that takes the joinable count to 0 to send one.  Returns
 * true if that happened already (do not wait then). */
static bool
consumers_sleep(struct broker *b)
{
	bool pending = false;

	for (size_t i = 0; i < b->ncons; i++) {
		struct consumer *c    = &b->cons[i];
		uint64_t         want = 0;

		if (!c->r) {
			continue;
		}
		if ((b->q.n || b->nputs) && c->inflight.n) {
			want = dq_at(&c->inflight,
			    b->nputs ? 0 : (c->inflight.n - 1) / 2)
			           ->end;
		}
		atomic_store(&c->r->wake_head, want);
		if (want && atomic_load(&c->r->head) >= want) {
			pending = true;
		}
	}
	if (b->page && b->njoins) {
		atomic_store(&b->page->joiners, 1);
		if (tri_queue_page_count(b->page) == 0) {
			pending = true;
		}
	}
	return pending;
}

/* Work a producer or a consumer made without a message: records on a
 * producer's ring, or a consumer's head moved while items or puts wait
 * for its progress. */
static bool
work_pending(const struct broker *b)
{
	for (size_t i = 0; i < b->nrings; i++) {
		const struct ring *g = &b->rings[i];

		if (!g->dead &&
		    atomic_load_explicit(&g->r->tail, memory_order_relaxed) !=
		        atomic_load_explicit(
		            &g->r->head, memory_order_relaxed)) {
			return true;
		}
	}
	for (size_t i = 0; (b->q.n || b->nputs) && i < b->ncons; i++) {
		const struct consumer *c = &b->cons[i];

		if (c->r &&
		    atomic_load_explicit(&c->r->head, memory_order_relaxed) !=
		        c->acked) {
			return true;
		}
	}
	return false;
}

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Look again for TRI_QUEUE_SPIN_NS, yielding the CPU (a producer or
 * consumer may share it), before the sleep that costs a WAKE message
 * to end: true if work came. */
static bool
spin(const struct broker *b)
{
	int64_t end = now_ns() + TRI_QUEUE_SPIN_NS;

	do {
		if (work_pending(b)) {
			return true;
		}
		sched_yield();
	} while (now_ns() < end);
	return false;
}

/* ---- requests ----------------------------------------------------------- */

static void
on_put(struct broker *b, tr_msg **reqp, Trwire__QueueOp **opp)
{
	Trwire__QueueOp *op = *opp;

	if (op->granted) {
		/* one-way, under a grant: taken even after close(); after a
		 * shutdown, dropped as the queued items are */
		if (b->state == TRI_QUEUE_SHUTDOWN || store(b, op) < 0) {
			b->dropped++;
		}
		return;
	}
	if (b->state != TRI_QUEUE_OPEN) {
		answer(b, *reqp,
		    b->state == TRI_QUEUE_CLOSED ? TR_ECLOSED : TR_EQSHUTDOWN);
	} else if (op->timeout_ms < TR_TIMEOUT_INFINITE) {
		answer(b, *reqp, -EINVAL);
	} else if (b->nputs == 0 &&
	    (has_room(b) || (revoke_all(b), has_room(b)))) {
		struct ring *g =
		    find_ring(b, tr_msg_sender(*reqp), op->producer);
		int r = store(b, op);

		if (r == 0 && g) {
			grant(b, g); /* its next puts go on the ring */
		}
		answer_put(b, *reqp, r, op->want_grant);
	} else if (op->timeout_ms == 0) {
		answer(b, *reqp, TR_EFULL);
	} else if (park(&b->puts, &b->nputs, reqp, op,
	               tr_deadline(op->timeout_ms)) == 0) {
		*opp = NULL; /* the parked entry owns it now */
	} else {
		answer(b, *reqp, -ENOMEM);
	}
}

static void
on_credit(struct broker *b, const tr_msg *m, const Trwire__QueueOp *op)
{
	tr_addr          from = tr_msg_sender(m);
	struct consumer *c    = find_consumer(b, from, op->consumer);

	if (!c && !(c = add_consumer(b, from, op->consumer))) {
		return; /* dead already, or no memory: it sees DOWN or waits */
	}
	ack(b, c, op->ack);
	if (op->credit > TRI_QUEUE_WINDOW_MAX ||
	    c->credit + op->credit > TRI_QUEUE_WINDOW_MAX) {
		c->credit = TRI_QUEUE_WINDOW_MAX;
	} else {
		c->credit += op->credit;
	}
	if (op->credit) {
		c->told = false;
	}
}

static void
on_shutdown(struct broker *b, bool immediate)
{
	if (b->state != TRI_QUEUE_SHUTDOWN) {
		b->state = TRI_QUEUE_SHUTDOWN;
		fail_puts(b, TR_EQSHUTDOWN);
		rings_set_state(b);
	}
	if (!immediate) {
		return;
	}
	/* the queued items go, and count as done (Python 3.13); those
	 * already sent to a consumer are its to get */
	while (b->q.n) {
		struct item it = dq_pop_front(&b->q);

		item_free(&it);
		b->held--;
		unfinished_sub(b, 1);
	}
	wake_joins(b);
}

static void
on_task_done(struct broker *b, const tr_msg *req)
{
	if (b->kind != TR_QUEUE_JOINABLE) {
		answer(b, req, -EOPNOTSUPP);
		return;
	}
	if (b->page) {
		bool wake;

		/* as a handle's own decrement, so both agree */
		answer(b, req, tri_queue_page_done(b->page, &wake));
	} else if (b->unfinished == 0) {
		answer(b, req, TR_ETASKDONE);
		return;
	} else {
		b->unfinished--;
		answer(b, req, 0);
	}
	wake_joins(b);
}

static void
on_join(struct broker *b, tr_msg **reqp)
{
	if (b->kind != TR_QUEUE_JOINABLE) {
		answer(b, *reqp, -EOPNOTSUPP);
	} else if (unfinished(b) == 0) {
		answer(b, *reqp, 0);
	} else if (park(&b->joins, &b->njoins, reqp, NULL, -1) < 0) {
		answer(b, *reqp, -ENOMEM);
	}
}

static void
on_op(struct broker *b, tr_msg **mp, Trwire__QueueOp **opp)
{
	Trwire__QueueOp *op = *opp;
	struct consumer *c;
	struct ring     *g;

	switch (op->kind) {
	case TRWIRE__QUEUE_OP__KIND__PUT:
		on_put(b, mp, opp);
		break;
	case TRWIRE__QUEUE_OP__KIND__CREDIT:
		on_credit(b, *mp, op);
		break;
	case TRWIRE__QUEUE_OP__KIND__BYE:
		c = find_consumer(b, tr_msg_sender(*mp), op->consumer);
		if (c) {
			drop_consumer(b, c, true);
		}
		g = find_ring(b, tr_msg_sender(*mp), op->producer);
		if (g) {
			drop_ring(b, g, true);
		}
		break;
	case TRWIRE__QUEUE_OP__KIND__RING:
		on_ring(b, *mp, op);
		break;
	case TRWIRE__QUEUE_OP__KIND__WAKE:
		break; /* on_message() took the records and acknowledgements */
	case TRWIRE__QUEUE_OP__KIND__CONSUME:
		on_consume(b, *mp, op);
		break;
	case TRWIRE__QUEUE_OP__KIND__FETCH:
		on_fetch(b, *mp, op);
		break;
	case TRWIRE__QUEUE_OP__KIND__PAGE:
		on_page(b, *mp);
		break;
	case TRWIRE__QUEUE_OP__KIND__SYNC:
		dispatch(b); /* what can be sent goes before the answer */
		tell_end(b);
		/* fall through */
	case TRWIRE__QUEUE_OP__KIND__SIZE:
		answer(b, *mp, 0);
		break;
	case TRWIRE__QUEUE_OP__KIND__CLOSE:
		if (b->state == TRI_QUEUE_OPEN) {
			b->state = TRI_QUEUE_CLOSED;
			fail_puts(b, TR_ECLOSED);
			rings_set_state(b);
		}
		answer(b, *mp, 0);
		break;
	case TRWIRE__QUEUE_OP__KIND__SHUTDOWN:
		on_shutdown(b, op->immediate);
		answer(b, *mp, 0);
		break;
	case TRWIRE__QUEUE_OP__KIND__TASK_DONE:
		on_task_done(b, *mp);
		break;
	case TRWIRE__QUEUE_OP__KIND__JOIN:
		on_join(b, mp);
		break;
	default:
		answer(b, *mp, -EINVAL);
		break;
	}
}

static void
on_down(struct broker *b, const tr_msg *m)
{
	tr_down d;

	if (tr_msg_down(m, &d) < 0) {
		return;
	}
	for (size_t i = 0; i < b->ncons; i++) {
		if (b->cons[i].mon == d.ref) {
			drop_consumer(b, &b->cons[i], false);
			return;
		}
	}
	for (size_t i = 0; i < b->nrings; i++) {
		if (b->rings[i].mon == d.ref) {
			drop_ring(b, &b->rings[i], false);
			return;
		}
	}
}

/* One message.  Whatever is not a valid QueueOp is dropped and counted
 * (and, if it was a call, answered TR_EBADFRAME so no caller waits). */
static void
on_message(struct broker *b, tr_msg **mp)
{
	Trwire__QueueOp *op = NULL;

	drain_all(b);
	reconcile_all(b);
	if (tr_msg_is_system(*mp)) {
		on_down(b, *mp);
		return;
	}
	if (tr_msg_unpack(*mp, &trwire__queue_op__descriptor,
	        (ProtobufCMessage **) &op) < 0) {
		b->junk++;
		tr_log(TR_LOG_DEBUG, "queue: dropped a message of type '%s'",
		    tr_msg_type(*mp));
		answer(b, *mp, TR_EBADFRAME);
		return;
	}
	on_op(b, mp, &op);
	if (op) {
		trwire__queue_op__free_unpacked(op, NULL);
	}
}

static int
init(struct broker *b, const void *args, size_t len)
{
	Trwire__QueueSpec *spec;
	int                r = 0;

	spec = trwire__queue_spec__unpack(NULL, len, args);
	if (!spec) {
		return tr_fail(TR_EBADFRAME, "argument is not a QueueSpec");
	}
	b->maxsize = spec->maxsize;
	b->kind    = (int) spec->kind;
	if (spec->kind > TR_QUEUE_SIMPLE) {
		r = tr_fail(-EINVAL, "bad queue kind %u", spec->kind);
	} else if (spec->name[0]) {
		r = tr_register(spec->name);
		if (r < 0) {
			r = tr_fail(r, "cannot register '%s'", spec->name);
		}
	}
	trwire__queue_spec__free_unpacked(spec, NULL);
	b->page_fd = -1;
	if (r == 0 && tri_queue_page_create(&b->page, &b->page_fd) < 0) {
		b->page = NULL; /* task_done by message; pidfds */
	}
	if (r == 0) {
		r = tr_msg_type_register(&trwire__queue_op__descriptor);
	}
	if (r == 0) {
		r = tr_self_bind();
	}
	return r;
}

static void
fini(struct broker *b)
{
	while (b->ncons) {
		drop_consumer(b, &b->cons[b->ncons - 1], true);
	}
	free(b->cons);
	while (b->nrings) {
		drop_ring(b, &b->rings[b->nrings - 1], true);
	}
	free(b->rings);
	fail_puts(b, TR_EQSHUTDOWN);
	while (b->njoins) {
		park_remove(b->joins, &b->njoins, 0);
	}
	free(b->puts);
	free(b->joins);
	dq_clear(&b->q);
	if (b->page) {
		tri_queue_page_release(b->page);
		tri_queue_page_unmap(b->page);
		close(b->page_fd);
	}
}

int
tri_queue_broker_main(const void *args, size_t len)
{
	struct broker b = { 0 };
	tr_msg       *m = NULL;
	int           r;

	/* many producers and acknowledging consumers talk to one broker */
	(void) tr_mailbox_set_capacity(10000);
	r = init(&b, args, len);
	if (r == 0) {
		r = tr_ready();
	}
	while (r >= 0) {
		int  timeout = expire_puts(&b);
		bool sleep   = timeout != 0;

		if (sleep && (b.nrings || b.ncons) && spin(&b)) {
			timeout = 0;
			sleep   = false;
		}
		if (sleep) {
			/* both armed, whatever the first says (no ||) */
			bool ring = rings_sleep(&b, true);
			bool cons = consumers_sleep(&b);

			if (ring || cons) {
				timeout = 0; /* a record came: take it first */
			}
		}
		r = tr_recv(&m, timeout);
		if (sleep) {
			(void) rings_sleep(&b, false);
		}
		/* take in what else is waiting before sending anything, so
		 * that a burst of puts goes out in few, full batches */
		for (int n = 1; r == 0; n++) {
			on_message(&b, &m);
			tr_msg_destroy(&m);
			if (n == TRI_QUEUE_BATCH * 4) {
				break;
			}
			r = tr_recv(&m, 0);
		}
		if (r == -ETIMEDOUT || r == -EAGAIN || r == -EINTR) {
			r = 0;
		}
		drain_all(&b);
		reconcile_all(&b);
		dispatch(&b);
		tell_end(&b);
		wake_joins(&b);
	}
	fini(&b);
	return r;
}
