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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <protobuf-c/protobuf-c.h>

struct item {
	uint8_t *data; /* owned, malloc'd (taken from the unpacked op) */
	size_t   len;
	char    *type; /* owned, or NULL for raw bytes */
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
};

struct parked {
	tr_msg          *req; /* the call to answer */
	Trwire__QueueOp *op;  /* PUT: its item; NULL for a JOIN */
	int64_t          deadline;
};

struct broker {
	uint64_t         maxsize;
	int              kind;
	int              state;      /* TRI_QUEUE_OPEN, _CLOSED, _SHUTDOWN */
	struct deque     q;          /* queued, not yet sent */
	uint64_t         held;       /* q.n + every consumer's in flight */
	uint64_t         unfinished; /* joinable: puts not marked done */
	struct consumer *cons;
	size_t           ncons, rr;
	struct parked   *puts, *joins;
	size_t           nputs, njoins;
	uint64_t         junk;    /* messages that were not queue requests */
	uint64_t         dropped; /* granted puts after a shutdown */
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
	struct item it = { op->item.data, op->item.len, NULL };

	if (op->item_type && op->item_type[0]) {
		it.type       = op->item_type;
		op->item_type = NULL;
	}
	op->item.data = NULL;
	op->item.len  = 0;
	return it;
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
	rep.unfinished = b->unfinished;
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
	while (b->unfinished == 0 && b->njoins) {
		answer(b, b->joins[0].req, 0);
		park_remove(b->joins, &b->njoins, 0);
	}
}

static bool
has_room(const struct broker *b)
{
	return b->maxsize == 0 || b->held < b->maxsize;
}

static int
store(struct broker *b, Trwire__QueueOp *op)
{
	if (dq_push_back(&b->q, item_take(op)) < 0) {
		return -ENOMEM;
	}
	b->held++;
	if (b->kind == TR_QUEUE_JOINABLE) {
		b->unfinished++;
	}
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

/* Put c's unacknowledged items back at the front, oldest first, and
 * forget c. */
static void
drop_consumer(struct broker *b, struct consumer *c, bool demonitor)
{
	size_t i = (size_t) (c - b->cons);

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

/* Send queued items to consumers with credit, in turn, a batch each (up
 * to TRI_QUEUE_BATCH, so a burst costs one message per batch). */
static void
dispatch(struct broker *b)
{
	size_t idle = 0;

	while (b->q.n && b->ncons && idle < b->ncons) {
		struct consumer *c = &b->cons[b->rr++ % b->ncons];
		size_t           n = b->q.n;

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
		if (b->cons[i].credit && !b->cons[i].told) {
			b->cons[i].told = push_end(&b->cons[i], err) == 0;
		}
	}
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
	} else if (has_room(b) && b->nputs == 0) {
		answer_put(b, *reqp, store(b, op), op->want_grant);
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
		if (b->unfinished) {
			b->unfinished--;
		}
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
	if (b->unfinished == 0) {
		answer(b, req, TR_ETASKDONE);
		return;
	}
	b->unfinished--;
	answer(b, req, 0);
	wake_joins(b);
}

static void
on_join(struct broker *b, tr_msg **reqp)
{
	if (b->kind != TR_QUEUE_JOINABLE) {
		answer(b, *reqp, -EOPNOTSUPP);
	} else if (b->unfinished == 0) {
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
}

/* One message.  Whatever is not a valid QueueOp is dropped and counted
 * (and, if it was a call, answered TR_EBADFRAME so no caller waits). */
static void
on_message(struct broker *b, tr_msg **mp)
{
	Trwire__QueueOp *op = NULL;

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
	fail_puts(b, TR_EQSHUTDOWN);
	while (b->njoins) {
		park_remove(b->joins, &b->njoins, 0);
	}
	free(b->puts);
	free(b->joins);
	dq_clear(&b->q);
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
		r = tr_recv(&m, expire_puts(&b));
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
		dispatch(&b);
		tell_end(&b);
	}
	fini(&b);
	return r;
}
