/* SPDX-License-Identifier: MIT */
/* The event actor: one flag and the waits parked on it.  It registers its
 * name (if it has one), makes its shared page (event-shm.c: the flag lives
 * there, so clients on this host set, clear, read and wait on it without
 * a message), reports running, then answers trwire.EventRequest calls one
 * at a time from one tr_recv() loop, for clients that use messages.  A
 * WAIT on a clear flag is not answered but kept (the request message
 * itself, which knows where the answer goes); SET answers every kept WAIT,
 * then the setter.  The page counts the kept WAITs (remote), so that a
 * set() made on the page asks the actor to answer them.  A waiter that
 * gave up CANCELs its wait; one that died is forgotten when the list grows
 * (tr_addr_is_alive()), so dead waiters cannot pile up. */
#include "event-int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <protobuf-c/protobuf-c.h>

struct waiter {
	tr_msg  *req; /* the parked WAIT; answering it wakes the waiter */
	tr_addr  who;
	uint64_t token;
};

struct event {
	struct tri_event_shm *page; /* the flag, and the futex waiters */
	struct tri_event_shm  own;  /* used instead if no page could be made */
	int                   shm_fd;
	struct waiter        *w;
	size_t                n, cap;
	size_t                prune_at; /* look for dead waiters at this many */
};

static bool
is_set(struct event *ev)
{
	return atomic_load(&ev->page->flag) != 0;
}

/* The page's count of kept waits follows the list. */
static void
count_waiters(struct event *ev)
{
	atomic_store(&ev->page->remote, (uint32_t) ev->n);
}

/* Answer req with error, the flag and (ATTACH) the page's descriptor.  A
 * client that is gone or whose mailbox stays full loses its answer (it is
 * dead, or gave up). */
static void
answer_fd(const tr_msg *req, int error, bool set, int shm_fd)
{
	Trwire__EventReply rep = TRWIRE__EVENT_REPLY__INIT;
	int                r;

	rep.error  = error;
	rep.set    = set;
	rep.shm_fd = shm_fd;
	r          = tr_reply_pb(req, &rep.base, TRI_EVENT_REPLY_MS);
	if (r < 0) {
		tr_log(TR_LOG_DEBUG, "event: answer to %u lost: %s",
		    (unsigned) tr_msg_sender(req).pid, tr_strerror(r));
	}
}

static void
answer(const tr_msg *req, int error, bool set)
{
	answer_fd(req, error, set, 0);
}

static void
drop_waiter(struct event *ev, size_t i)
{
	tr_msg_destroy(&ev->w[i].req);
	ev->w[i] = ev->w[--ev->n];
}

/* Forget the waits of processes that have ended. */
static void
prune(struct event *ev)
{
	for (size_t i = ev->n; i-- > 0;) {
		/* /proc tells only of this run's processes: a remote
		 * waiter stays until set answers it (lost if it died) */
		if (ev->w[i].who.node == 0 && !tr_addr_is_alive(ev->w[i].who)) {
			drop_waiter(ev, i);
		}
	}
	ev->prune_at = ev->n * 2 > 64 ? ev->n * 2 : 64;
	count_waiters(ev);
}

static int
park(struct event *ev, tr_msg **reqp, uint64_t token)
{
	tr_addr who = tr_msg_sender(*reqp);

	if (ev->n >= ev->prune_at) {
		prune(ev);
	}
	if (ev->n >= TRI_EVENT_MAX_WAITERS) {
		return -ENOSPC;
	}
	if (ev->n == ev->cap) {
		size_t         cap = ev->cap ? ev->cap * 2 : 16;
		struct waiter *w   = realloc(ev->w, cap * sizeof(*w));

		if (!w) {
			return -ENOMEM;
		}
		ev->w   = w;
		ev->cap = cap;
	}
	ev->w[ev->n++] = (struct waiter) { *reqp, who, token };
	*reqp          = NULL;
	return 0;
}

static void
cancel(struct event *ev, tr_addr who, uint64_t token)
{
	for (size_t i = 0; i < ev->n; i++) {
		if (ev->w[i].token == token && tr_addr_eq(ev->w[i].who, who)) {
			drop_waiter(ev, i);
			count_waiters(ev);
			return;
		}
	}
}

/* SET: answer every parked wait (the wake: one message each), oldest
 * first. */
static void
wake_all(struct event *ev)
{
	for (size_t i = 0; i < ev->n; i++) {
		answer(ev->w[i].req, 0, true);
		tr_msg_destroy(&ev->w[i].req);
	}
	ev->n = 0;
	count_waiters(ev);
}

/* One message; *mp is consumed unless parked. */
static void
serve(struct event *ev, tr_msg **mp)
{
	Trwire__EventRequest *q;
	int                   r = 0;

	if (tr_msg_is_system(*mp)) {
		return; /* a DOWN or EXIT nobody asked for */
	}
	if (strcmp(tr_msg_type(*mp), "trwire.EventRequest") != 0) {
		tr_log(TR_LOG_DEBUG, "event: a \"%s\" from %u is no request",
		    tr_msg_type(*mp), (unsigned) tr_msg_sender(*mp).pid);
		answer(*mp, TR_EBADTYPE, is_set(ev));
		return;
	}
	r = tr_msg_unpack(
	    *mp, &trwire__event_request__descriptor, (ProtobufCMessage **) &q);
	if (r < 0) {
		answer(*mp, r, is_set(ev));
		return;
	}
	switch (q->op) {
	case TRWIRE__EVENT_REQUEST__OP__IS_SET:
		break;
	case TRWIRE__EVENT_REQUEST__OP__SET:
		tri_event_shm_set(ev->page); /* the page's waiters */
		wake_all(ev);                /* and the kept WAITs */
		break;
	case TRWIRE__EVENT_REQUEST__OP__CLEAR:
		tri_event_shm_clear(ev->page);
		break;
	case TRWIRE__EVENT_REQUEST__OP__WAIT:
		if (q->poll) {
			break;
		}
		/* counted before the flag is read: a set() on the page
		 * either is seen here or sees the count and calls SET */
		atomic_store(&ev->page->remote, (uint32_t) ev->n + 1);
		if (!is_set(ev)) {
			r = park(ev, mp, q->token);
		}
		count_waiters(ev);
		break;
	case TRWIRE__EVENT_REQUEST__OP__ATTACH:
		answer_fd(*mp, 0, is_set(ev), ev->shm_fd + 1);
		tr_msg_destroy(mp);
		break;
	case TRWIRE__EVENT_REQUEST__OP__CANCEL:
		cancel(ev, tr_msg_sender(*mp), q->token);
		break;
	default:
		r = -EINVAL;
		break;
	}
	trwire__event_request__free_unpacked(q, NULL);
	if (*mp) {
		answer(*mp, r, is_set(ev));
	}
}

int
tri_event_actor(const void *args, size_t len)
{
	struct event ev = { .prune_at = 64, .shm_fd = -1 };
	int          r;

	if (len > 0) {
		r = tr_register(args);
		if (r < 0) {
			return tr_fail(r, "cannot register the event as \"%s\"",
			    (const char *) args);
		}
	}
	r = tr_self_bind();
	if (r < 0) {
		return tr_fail(r, "cannot bind the event's mailbox");
	}
	ev.page = &ev.own;
	r       = tri_event_shm_create(&ev.page, &ev.shm_fd);
	if (r < 0) { /* messages only: a client's ATTACH gets no page */
		tr_log(
		    TR_LOG_DEBUG, "event: no shared page: %s", tr_strerror(r));
		ev.page   = &ev.own;
		ev.shm_fd = -1;
	}
	r = tr_ready();
	if (r < 0) {
		return r;
	}
	for (;;) {
		tr_msg *m = NULL;

		r = tr_recv(&m, TR_TIMEOUT_INFINITE);
		if (r == -EINTR) {
			continue;
		}
		if (r < 0) {
			break;
		}
		serve(&ev, &m);
		tr_msg_destroy(&m);
	}
	while (ev.n) {
		drop_waiter(&ev, ev.n - 1);
	}
	free(ev.w);
	return r;
}
