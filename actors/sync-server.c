/* SPDX-License-Identifier: MIT */
/* The sync actor: one primitive (Lock, RLock, Semaphore, Condition with its
 * RLock, or Barrier) held in one process and served over its mailbox.
 * Waits are parked requests, answered when the wait ends: granted,
 * notified, released, broken, or at their deadline (the loop's receive
 * timeout is the nearest deadline).  Every client is monitored; its DOWN
 * releases a lock it held (the next holder is told TR_LOCK_OWNER_DIED),
 * drops its parked requests and breaks a Barrier it was waiting on.
 * A client on this host may also call through a same-host channel
 * (chan-int.h, TRI_OP_CHAN_OPEN): the same request bytes, served by the
 * same dispatch, answered in shared memory. */
#include "sync-int.h"

#include "chan-int.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <protobuf-c/protobuf-c.h>

#include "sync.pb-c.h"

#define REPLY_MS 5000

struct waiter {
	tr_msg        *req; /* answered when the wait ends */
	tr_addr        who;
	uint64_t       thread;
	int64_t        deadline; /* -1: none */
	int            result;   /* lock queue: the answer once granted */
	uint32_t       depth;    /* lock depth to grant */
	uint32_t       index;    /* barrier arrival index */
	bool           poll;     /* asked with timeout 0 */
	struct waiter *next;
};

struct server {
	uint32_t kind;
	/* lock (Lock, RLock, and a Condition's RLock) */
	bool           held, recursive, owner_died;
	tr_addr        owner;
	uint64_t       owner_thread;
	uint32_t       depth;
	struct waiter *lockq, *condq;
	/* semaphore */
	uint32_t       value, bound;
	struct waiter *semq;
	/* barrier */
	uint32_t       parties, count;
	bool           broken, action_pending;
	tr_addr        action_by;
	uint32_t       action_index;
	struct waiter *barq, *deferred;
	/* clients monitored */
	tr_addr *clients;
	size_t   nclients, cap;
	bool     stop;
};

/* The same-host channels: one server per process, so file-wide, for
 * answer() and the sender of a request to find them. */
static struct tri_chan_srv *chans;

/* The client a request came from (by the mailbox or a channel). */
static tr_addr
sender(const tr_msg *m)
{
	return tri_chan_srv_sender(chans, m);
}

/* ---- replies and queues ------------------------------------------------- */

static void
answer(const tr_msg *req, int result, const struct server *s)
{
	Trwire__SyncReply rep = TRWIRE__SYNC_REPLY__INIT;

	rep.result = result;
	if (s) {
		rep.kind    = s->kind - TRI_KIND_BASE;
		rep.parties = s->parties;
		rep.broken  = s->broken;
		rep.value   = s->kind == TRI_SYNC_BARRIER
		      ? (s->broken ? 0 : s->count)
		      : s->value;
	}
	if (tri_chan_srv_reply(chans, req, &rep.base) != 0) {
		return; /* answered through its channel */
	}
	/* a client that died meanwhile gets nothing: its DOWN follows */
	(void) tr_reply_pb(req, &rep.base, REPLY_MS);
}

static void
finish(struct waiter *w, int result)
{
	answer(w->req, result, NULL);
	tr_msg_destroy(&w->req);
	free(w);
}

static void
push(struct waiter **q, struct waiter *w)
{
	w->next = NULL;
	while (*q) {
		q = &(*q)->next;
	}
	*q = w;
}

static struct waiter *
pop(struct waiter **q)
{
	struct waiter *w = *q;

	if (w) {
		*q = w->next;
	}
	return w;
}

static struct waiter *
park(tr_msg **mp, const Trwire__SyncRequest *req)
{
	struct waiter *w = calloc(1, sizeof(*w));

	if (!w) {
		return NULL;
	}
	w->req      = *mp;
	*mp         = NULL;
	w->who      = sender(w->req);
	w->thread   = req->thread;
	w->deadline = tr_deadline(req->timeout_ms);
	w->poll     = req->timeout_ms == 0;
	return w;
}

/* ---- lock --------------------------------------------------------------- */

static bool
is_owner(const struct server *s, tr_addr who, uint64_t thread)
{
	return s->held && tr_addr_eq(s->owner, who) &&
	    s->owner_thread == thread;
}

/* Hand a free lock to the first in line. */
static void
grant_next(struct server *s)
{
	struct waiter *w;

	if (s->held || !(w = pop(&s->lockq))) {
		return;
	}
	s->held         = true;
	s->owner        = w->who;
	s->owner_thread = w->thread;
	s->depth        = w->depth ? w->depth : 1;
	if (s->owner_died && w->result == 0) {
		w->result = TR_LOCK_OWNER_DIED;
	}
	s->owner_died = false;
	finish(w, w->result);
}

static void
do_acquire(struct server *s, tr_msg **mp, const Trwire__SyncRequest *req)
{
	tr_addr        who = sender(*mp);
	struct waiter *w;

	if (is_owner(s, who, req->thread)) {
		if (!s->recursive) {
			answer(*mp, -EDEADLK, NULL);
			return;
		}
		s->depth++;
		answer(*mp, 0, NULL);
		return;
	}
	if (s->held && req->timeout_ms == 0) {
		answer(*mp, -EAGAIN, NULL);
		return;
	}
	w = park(mp, req);
	if (!w) {
		answer(*mp, -ENOMEM, NULL);
		return;
	}
	push(&s->lockq, w);
	grant_next(s);
}

static int
do_release(struct server *s, tr_addr who, uint64_t thread)
{
	if (!is_owner(s, who, thread)) {
		return -EPERM;
	}
	if (--s->depth == 0) {
		s->held = false;
		grant_next(s);
	}
	return 0;
}

/* ---- condition ---------------------------------------------------------- */

static void
do_cond_wait(struct server *s, tr_msg **mp, const Trwire__SyncRequest *req)
{
	struct waiter *w;

	if (!is_owner(s, sender(*mp), req->thread)) {
		answer(*mp, -EPERM, NULL);
		return;
	}
	w = park(mp, req);
	if (!w) {
		answer(*mp, -ENOMEM, NULL);
		return;
	}
	w->depth = s->depth;
	push(&s->condq, w);
	s->held = false;
	grant_next(s);
}

/* Move a condition waiter to the lock queue, to be answered result once
 * it has the lock back. */
static void
to_lockq(struct server *s, struct waiter *w, int result)
{
	w->result   = result;
	w->deadline = -1;
	push(&s->lockq, w);
	grant_next(s);
}

static int
do_notify(struct server *s, tr_addr who, const Trwire__SyncRequest *req)
{
	int n = 0;

	if (!is_owner(s, who, req->thread)) {
		return -EPERM;
	}
	while ((uint32_t) n < req->n && s->condq) {
		struct waiter *w = pop(&s->condq);

		/* a dead local waiter's DOWN is on the way (a remote one,
		 * which no /proc tells of, gets the notify; its DOWN drops
		 * it if it died) */
		if (w->who.node == 0 && !tr_addr_is_alive(w->who)) {
			tr_msg_destroy(&w->req);
			free(w);
			continue;
		}
		to_lockq(s, w, 0);
		n++;
	}
	return n;
}

/* ---- semaphore ---------------------------------------------------------- */

static void
do_sem_acquire(struct server *s, tr_msg **mp, const Trwire__SyncRequest *req)
{
	struct waiter *w;

	if (s->value > 0) {
		s->value--;
		answer(*mp, 0, NULL);
		return;
	}
	if (req->timeout_ms == 0) {
		answer(*mp, -EAGAIN, NULL);
		return;
	}
	w = park(mp, req);
	if (!w) {
		answer(*mp, -ENOMEM, NULL);
		return;
	}
	push(&s->semq, w);
}

static int
do_sem_release(struct server *s)
{
	if (s->value >= s->bound) {
		return -EOVERFLOW;
	}
	if (s->semq) {
		finish(pop(&s->semq), 0); /* straight to a waiter */
	} else {
		s->value++;
	}
	return 0;
}

/* ---- barrier ------------------------------------------------------------ */

static void dispatch(struct server *s, tr_msg **mp);
static void dispatch_chan(struct server *s, tr_msg *m);

/* Answer every waiting party (released or broken) and start afresh. */
static void
release_parties(struct server *s, bool broken)
{
	struct waiter *w, *later;

	while ((w = pop(&s->barq))) {
		finish(w, broken ? -EPIPE : (int) w->index);
	}
	s->count          = 0;
	s->action_pending = false;
	s->broken         = s->broken || broken;
	later             = s->deferred;
	s->deferred       = NULL;
	while ((w = pop(&later))) { /* arrived while the action ran */
		tr_msg *m = w->req;

		free(w);
		dispatch_chan(s, m); /* by mail or a channel */
	}
}

static void
do_barrier_wait(struct server *s, tr_msg **mp, const Trwire__SyncRequest *req)
{
	struct waiter *w;
	uint32_t       index;

	if (s->action_pending) {
		w = park(mp, req);
		if (w) {
			push(&s->deferred, w);
		} else {
			answer(*mp, -ENOMEM, NULL);
		}
		return;
	}
	if (s->broken) {
		answer(*mp, -EPIPE, NULL);
		return;
	}
	index = s->count++;
	if (s->count == s->parties) {
		if (req->has_action) {
			s->action_pending = true;
			s->action_by      = sender(*mp);
			s->action_index   = index;
			answer(*mp, TRI_RUN_ACTION + (int) index, NULL);
			return;
		}
		answer(*mp, (int) index, NULL);
		release_parties(s, false);
		return;
	}
	if (req->timeout_ms == 0) { /* it would wait: that breaks it */
		s->count--;
		answer(*mp, -EAGAIN, NULL);
		release_parties(s, true);
		return;
	}
	w = park(mp, req);
	if (!w) {
		s->count--;
		answer(*mp, -ENOMEM, NULL);
		return;
	}
	w->index = index;
	push(&s->barq, w);
}

static int
do_action_done(struct server *s, tr_addr who, const Trwire__SyncRequest *req)
{
	uint32_t index = s->action_index;

	if (!s->action_pending || !tr_addr_eq(who, s->action_by)) {
		return -EPIPE; /* aborted or reset meanwhile */
	}
	release_parties(s, req->n != 0);
	return req->n != 0 ? -EPIPE : (int) index;
}

static void
do_reset(struct server *s)
{
	bool pending = s->action_pending;

	if (s->barq || pending) {
		release_parties(s, true);
	}
	s->broken = false;
}

/* ---- clients, deadlines -------------------------------------------------
 */

static void
watch(struct server *s, tr_addr who)
{
	uint64_t ref;

	for (size_t i = 0; i < s->nclients; i++) {
		if (tr_addr_eq(s->clients[i], who)) {
			return;
		}
	}
	if (s->nclients == s->cap) {
		size_t   cap = s->cap ? 2 * s->cap : 16;
		tr_addr *c   = realloc(s->clients, cap * sizeof(*c));

		if (!c) {
			return; /* unwatched: a dead client's lock stays held */
		}
		s->clients = c;
		s->cap     = cap;
	}
	if (tr_monitor(who, &ref) == 0) {
		s->clients[s->nclients++] = who;
	}
}

/* Remove who's waiters from q; returns how many. */
static int
drop_from(struct waiter **q, tr_addr who)
{
	int n = 0;

	while (*q) {
		struct waiter *w = *q;

		if (tr_addr_eq(w->who, who)) {
			*q = w->next;
			tr_msg_destroy(&w->req);
			free(w);
			n++;
		} else {
			q = &w->next;
		}
	}
	return n;
}

static void
client_died(struct server *s, tr_addr who)
{
	for (size_t i = 0; i < s->nclients; i++) {
		if (tr_addr_eq(s->clients[i], who)) {
			s->clients[i] = s->clients[--s->nclients];
			break;
		}
	}
	(void) drop_from(&s->lockq, who);
	(void) drop_from(&s->condq, who);
	(void) drop_from(&s->semq, who);
	(void) drop_from(&s->deferred, who);
	if (s->held && tr_addr_eq(s->owner, who)) {
		s->held       = false;
		s->owner_died = true;
		grant_next(s);
	}
	if (drop_from(&s->barq, who) > 0 ||
	    (s->action_pending && tr_addr_eq(s->action_by, who))) {
		release_parties(s, true); /* a party died in the barrier */
	}
}

static bool
expired(const struct waiter *w, int64_t now)
{
	return w->deadline >= 0 && w->deadline <= now;
}

static void
expire(struct server *s)
{
	int64_t         now = tr_now_ms();
	struct waiter **q;

	for (q = &s->lockq; *q;) {
		struct waiter *w = *q;

		if (expired(w, now)) {
			*q = w->next;
			finish(w, -ETIMEDOUT);
		} else {
			q = &w->next;
		}
	}
	for (q = &s->condq; *q;) {
		struct waiter *w = *q;

		if (expired(w, now)) {
			*q = w->next;
			to_lockq(s, w, w->poll ? -EAGAIN : -ETIMEDOUT);
		} else {
			q = &w->next;
		}
	}
	for (q = &s->semq; *q;) {
		struct waiter *w = *q;

		if (expired(w, now)) {
			*q = w->next;
			finish(w, -ETIMEDOUT);
		} else {
			q = &w->next;
		}
	}
	for (q = &s->barq; *q && !s->action_pending;) {
		struct waiter *w = *q;

		if (expired(w, now)) {
			*q = w->next;
			finish(w, -ETIMEDOUT);
			release_parties(s, true);
			break;
		}
		q = &w->next;
	}
}

static int64_t
nearest(const struct server *s)
{
	const struct waiter *qs[] = { s->lockq, s->condq, s->semq, s->barq };
	int64_t              best = -1;

	for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
		for (const struct waiter *w = qs[i]; w; w = w->next) {
			if (w->deadline >= 0 &&
			    (best < 0 || w->deadline < best)) {
				best = w->deadline;
			}
		}
	}
	return best;
}

/* ---- the loop ----------------------------------------------------------- */

static bool
op_allowed(const struct server *s, uint32_t op)
{
	bool lock = s->kind == TRI_SYNC_LOCK || s->kind == TRI_SYNC_RLOCK ||
	    s->kind == TRI_SYNC_COND;

	switch (op) {
	case TRI_OP_INFO:
	case TRI_OP_STOP:
	case TRI_OP_CHAN_OPEN:
	case TRI_OP_CHAN_CLOSE:
		return true;
	case TRI_OP_ACQUIRE:
	case TRI_OP_RELEASE:
	case TRI_OP_RELEASE_CALL:
	case TRI_OP_IS_MINE:
		return lock;
	case TRI_OP_COND_WAIT:
	case TRI_OP_NOTIFY:
		return s->kind == TRI_SYNC_COND;
	case TRI_OP_SEM_ACQUIRE:
	case TRI_OP_SEM_RELEASE:
	case TRI_OP_SEM_VALUE:
		return s->kind == TRI_SYNC_SEM;
	default:
		return s->kind == TRI_SYNC_BARRIER &&
		    op >= TRI_OP_BARRIER_WAIT && op <= TRI_OP_BARRIER_STATE;
	}
}

static void
serve(struct server *s, tr_msg **mp, const Trwire__SyncRequest *req)
{
	tr_addr who = sender(*mp);

	switch (req->op) {
	case TRI_OP_INFO:
	case TRI_OP_SEM_VALUE:
	case TRI_OP_BARRIER_STATE:
		answer(*mp, 0, s);
		return;
	case TRI_OP_STOP:
		s->stop = true;
		return;
	case TRI_OP_CHAN_OPEN: /* answered with the memfd's number */
		answer(*mp, tri_chan_srv_open(chans, who), NULL);
		return;
	case TRI_OP_CHAN_CLOSE:
		if (req->n <= INT32_MAX) {
			tri_chan_srv_close(chans, who, (int) req->n);
		}
		return;
	case TRI_OP_ACQUIRE:
		do_acquire(s, mp, req);
		return;
	case TRI_OP_RELEASE:
		(void) do_release(s, who, req->thread);
		return;
	case TRI_OP_RELEASE_CALL:
		answer(*mp, do_release(s, who, req->thread), NULL);
		return;
	case TRI_OP_IS_MINE:
		answer(*mp, is_owner(s, who, req->thread), NULL);
		return;
	case TRI_OP_COND_WAIT:
		do_cond_wait(s, mp, req);
		return;
	case TRI_OP_NOTIFY:
		answer(*mp, do_notify(s, who, req), NULL);
		return;
	case TRI_OP_SEM_ACQUIRE:
		do_sem_acquire(s, mp, req);
		return;
	case TRI_OP_SEM_RELEASE:
		answer(*mp, do_sem_release(s), NULL);
		return;
	case TRI_OP_BARRIER_WAIT:
		do_barrier_wait(s, mp, req);
		return;
	case TRI_OP_ACTION_DONE:
		answer(*mp, do_action_done(s, who, req), NULL);
		return;
	case TRI_OP_ABORT:
		s->broken = true;
		release_parties(s, true);
		answer(*mp, 0, NULL);
		return;
	case TRI_OP_RESET:
		do_reset(s);
		answer(*mp, 0, NULL);
		return;
	}
}

/* Serve m, taken from a channel (or by mail: forget() is nothing then),
 * and let it go. */
static void
dispatch_chan(struct server *s, tr_msg *m)
{
	dispatch(s, &m);
	if (m) { /* not parked */
		tri_chan_srv_forget(chans, m);
		tr_msg_destroy(&m);
	}
}

static void
dispatch(struct server *s, tr_msg **mp)
{
	Trwire__SyncRequest *req = NULL;
	tr_down              d;
	tr_msg              *cm;

	if (tr_msg_is_system(*mp)) {
		if (tr_msg_down(*mp, &d) == 0) {
			/* what it published on its channels before it died */
			while (tri_chan_srv_take(chans, d.who, &cm) == 1) {
				dispatch_chan(s, cm);
			}
			tri_chan_srv_close(chans, d.who, -1);
			client_died(s, d.who);
		}
		return;
	}
	if (tr_msg_unpack(*mp, &trwire__sync_request__descriptor,
	        (ProtobufCMessage **) &req) < 0) {
		answer(*mp, TR_EBADFRAME, NULL); /* the sender learns why */
		return;
	}
	watch(s, sender(*mp));
	if (!op_allowed(s, req->op)) {
		answer(*mp, -EOPNOTSUPP, NULL);
	} else if (req->timeout_ms < TR_TIMEOUT_INFINITE) {
		answer(*mp, -EINVAL, NULL);
	} else {
		serve(s, mp, req);
	}
	protobuf_c_message_free_unpacked(&req->base, NULL);
}

static int
parse_args(struct server *s, const char *args, char *name, size_t n)
{
	unsigned kind, value;
	int      bounded, end = 0;

	if (sscanf(args, "%u %u %d %n", &kind, &value, &bounded, &end) != 3 ||
	    kind < 1 || kind > 5 || end == 0 || strlen(args + end) >= n) {
		return -EINVAL;
	}
	strcpy(name, args + end);
	s->kind      = TRI_KIND_BASE + kind;
	s->recursive = s->kind != TRI_SYNC_LOCK;
	s->value     = value;
	s->bound     = bounded ? value : UINT32_MAX;
	s->parties   = value;
	return 0;
}

int tri_sync_server(const void *args, size_t len);

int
tri_sync_server(const void *args, size_t len)
{
	struct server s = { 0 };
	char          name[TR_SHM_NAME_MAX + 2];
	int           r;

	r = parse_args(&s, args, name, sizeof(name));
	if (r < 0) {
		return tr_fail(r, "bad arguments");
	}
	if (strcmp(name, "-") != 0 && (r = tr_register(name)) < 0) {
		return tr_fail(r, "cannot register %s", name);
	}
	r = tr_self_bind();
	if (r < 0) {
		return tr_fail(r, "cannot bind the mailbox");
	}
	r = tri_chan_srv_new(&chans, trwire__sync_request__descriptor.name);
	if (r < 0) {
		return tr_fail(r, "cannot make the channels' wake-up pipe");
	}
	tr_ready();
	while (!s.stop) {
		tr_msg *m    = NULL;
		bool    idle = true;

		/* one batch from the channels, one message from the mailbox */
		while (tri_chan_srv_take(chans, TR_ADDR_NULL, &m) == 1) {
			dispatch_chan(&s, m);
			m    = NULL;
			idle = false;
			if (!tri_chan_srv_pending(chans)) {
				break;
			}
		}
		if (tri_chan_srv_mail_due(chans, !idle) &&
		    tr_recv(&m, 0) == 0) {
			dispatch(&s, &m);
			tr_msg_destroy(&m);
			idle = false;
		}
		if (idle) {
			(void) tri_chan_srv_wait(
			    chans, tr_deadline_left(nearest(&s)));
		}
		expire(&s);
	}
	tri_chan_srv_free(&chans);
	return 0;
}
