/* SPDX-License-Identifier: MIT */
/* Condition on the local fast path.  Each waiter takes a slot in the
 * segment (under the condition's lock) with a ticket that orders it, and
 * sleeps on its own slot's futex word.  notify(n) moves at most n WAITING
 * slots, smallest tickets first, to NOTIFIED and wakes them: only threads
 * waiting at that moment can be woken, and a notify with nobody waiting
 * leaves no trace for a later wait (PP: notify is not saved).  A waiter
 * whose time runs out takes its own slot back with a compare-and-swap, so
 * a notify and a timeout racing for one slot have exactly one winner.  A
 * slot whose process died is skipped by notify and reused by wait. */
#include "sync-int.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

enum { SLOT_FREE = 0, SLOT_WAITING = 1, SLOT_NOTIFIED = 2 };

struct slot {
	_Atomic uint32_t state;
	uint32_t         ticket;
	uint32_t         pid; /* waiter's process */
	uint32_t         pad;
};

struct tri_condpage {
	struct tri_lockword lock;
	uint32_t            next_ticket; /* under lock */
	struct slot         slots[TR_COND_MAX_WAITERS];
};

struct tr_cond {
	tr_shm              *shm;
	struct tri_condpage *p;
	struct tr_lock       lock;   /* borrowed view of p->lock (or remote) */
	struct tri_remote   *remote; /* actor implementation, else NULL */
};

static const uint32_t cond_kinds[] = { TRI_SYNC_COND, 0 };

static int
cond_alloc(tr_cond **ret)
{
	tr_cond *c = calloc(1, sizeof(*c));

	if (!c) {
		return -ENOMEM;
	}
	*ret = c;
	return 0;
}

int
tr_cond_new(tr_cond **ret, const tr_sync_opts *opts)
{
	const char *name = opts ? opts->name : NULL;
	int         impl = tri_sync_impl(opts);
	tr_cond    *c;
	void       *obj;
	int         r;

	if (!ret || impl < 0) {
		return -EINVAL;
	}
	r = cond_alloc(&c);
	if (r < 0) {
		return r;
	}
	if (impl == TR_SYNC_ACTOR) {
		r = tri_remote_new(&c->remote, name, TRI_SYNC_COND, 0, false);
		if (r < 0) {
			free(c);
			return r;
		}
		c->lock.remote   = c->remote;
		c->lock.borrowed = true;
		*ret             = c;
		return 0;
	}
	r = tri_sync_create(&c->shm, name, sizeof(*c->p), &obj);
	if (r == 0) {
		c->p = obj;
		r    = tri_lockword_init(&c->p->lock, true);
	}
	if (r < 0) {
		tr_cond_destroy(&c);
		return r;
	}
	c->lock.w = &c->p->lock;
	tri_sync_publish(c->shm, TRI_SYNC_COND);
	*ret = c;
	return 0;
}

int
tr_cond_open(tr_cond **ret, const char *where)
{
	tr_cond *c;
	uint32_t kind;
	int      r;

	if (!ret || !where) {
		return -EINVAL;
	}
	r = cond_alloc(&c);
	if (r < 0) {
		return r;
	}
	r = tri_sync_open_any(where, cond_kinds, &c->shm, &c->remote, &kind);
	if (r < 0) {
		free(c);
		return r;
	}
	if (c->remote) {
		c->lock.remote   = c->remote;
		c->lock.borrowed = true;
	} else {
		c->p      = (struct tri_condpage *) TRI_SYNC_OBJ(c->shm);
		c->lock.w = &c->p->lock;
	}
	*ret = c;
	return 0;
}

void
tr_cond_destroy(tr_cond **cp)
{
	tr_cond *c = cp ? *cp : NULL;

	if (!c) {
		return;
	}
	tr_shm_destroy(&c->shm);
	tri_remote_destroy(&c->remote);
	free(c);
	*cp = NULL;
}

tr_lock *
tr_cond_lock(tr_cond *c)
{
	return c ? &c->lock : NULL;
}

static bool
pid_dead(uint32_t pid)
{
	return kill((pid_t) pid, 0) < 0 && errno == ESRCH;
}

/* A free slot, or one a dead waiter left (lock held). */
static struct slot *
take_slot(struct tri_condpage *p)
{
	/* a free slot first; only when there is none, one a dead waiter
	 * left (a system call per slot to find out) */
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < TR_COND_MAX_WAITERS; i++) {
			struct slot *s  = &p->slots[i];
			uint32_t     st = atomic_load(&s->state);

			if (st == SLOT_FREE ||
			    (pass == 1 && pid_dead(s->pid))) {
				s->ticket = p->next_ticket++;
				s->pid    = tri_sync_pid();
				atomic_store(&s->state, SLOT_WAITING);
				return s;
			}
		}
	}
	return NULL;
}

/* Sleep until notified or the deadline; true if notified.  The slot is
 * free again on return. */
static bool
sleep_on(struct slot *s, int64_t deadline)
{
	for (;;) {
		uint32_t st   = atomic_load(&s->state);
		int      left = tr_deadline_left(deadline);

		if (st == SLOT_NOTIFIED) {
			atomic_store(&s->state, SLOT_FREE);
			return true;
		}
		if (left == 0) {
			uint32_t want = SLOT_WAITING;

			if (atomic_compare_exchange_strong(
			        &s->state, &want, SLOT_FREE)) {
				return false;
			}
			continue; /* notified meanwhile */
		}
		/* a slice at most: a notifier that dies before it releases
		 * the lock never wakes us */
		(void) tri_futex_wait(&s->state, SLOT_WAITING,
		    left < 0 || left > 100 ? 100 : left);
	}
}

static int
wait_until(tr_cond *c, int64_t deadline)
{
	struct tri_lockword *w = &c->p->lock;
	struct slot         *s;
	uint32_t             depth;
	bool                 notified;
	int                  r;

	if (atomic_load(&w->owner) != tri_sync_tid()) {
		return -EPERM;
	}
	s = take_slot(c->p);
	if (!s) {
		return -ENOSPC;
	}
	depth    = tri_lockword_release_all(w);
	notified = sleep_on(s, deadline);
	r        = tri_lockword_restore(w, depth);
	if (r < 0) {
		return r;
	}
	return notified ? r : -ETIMEDOUT;
}

int
tr_cond_wait(tr_cond *c, int timeout_ms)
{
	int r;

	if (!c || !TRI_TIMEOUT_OK(timeout_ms)) {
		return -EINVAL;
	}
	if (c->remote) {
		return tri_remote_call(
		    c->remote, TRI_OP_COND_WAIT, timeout_ms, 0, false, NULL);
	}
	r = wait_until(c, tr_deadline(timeout_ms));
	return r == -ETIMEDOUT && timeout_ms == 0 ? -EAGAIN : r;
}

int
tr_cond_wait_for(tr_cond *c, bool (*pred)(void *arg), void *arg, int timeout_ms)
{
	int64_t deadline;
	int     r = 0;

	if (!c || !pred || !TRI_TIMEOUT_OK(timeout_ms)) {
		return -EINVAL;
	}
	if (!tr_lock_is_mine(&c->lock)) {
		return -EPERM;
	}
	deadline = tr_deadline(timeout_ms);
	while (!pred(arg)) {
		int died, left = tr_deadline_left(deadline);

		if (left == 0) {
			return timeout_ms == 0 ? -EAGAIN : -ETIMEDOUT;
		}
		died =
		    c->remote ? tr_cond_wait(c, left) : wait_until(c, deadline);
		if (died < 0 && died != -ETIMEDOUT) {
			return died;
		}
		r = died == TR_LOCK_OWNER_DIED ? died : r;
	}
	return r;
}

/* The WAITING slot with the smallest ticket, or NULL. */
static struct slot *
oldest_waiter(struct tri_condpage *p)
{
	struct slot *best = NULL;

	for (int i = 0; i < TR_COND_MAX_WAITERS; i++) {
		struct slot *s = &p->slots[i];

		if (atomic_load(&s->state) != SLOT_WAITING) {
			continue;
		}
		if (!best || (int32_t) (s->ticket - best->ticket) < 0) {
			best = s;
		}
	}
	return best;
}

int
tr_cond_notify(tr_cond *c, int n)
{
	int woken = 0;

	if (!c || n < 0) {
		return -EINVAL;
	}
	if (c->remote) {
		return tri_remote_call(
		    c->remote, TRI_OP_NOTIFY, 0, (uint32_t) n, false, NULL);
	}
	if (atomic_load(&c->p->lock.owner) != tri_sync_tid()) {
		return -EPERM;
	}
	while (woken < n) {
		struct slot *s    = oldest_waiter(c->p);
		uint32_t     want = SLOT_WAITING;

		if (!s) {
			break;
		}
		if (pid_dead(s->pid)) {
			/* nobody will free it: do it for them */
			(void) atomic_compare_exchange_strong(
			    &s->state, &want, SLOT_FREE);
			continue;
		}
		if (atomic_compare_exchange_strong(
		        &s->state, &want, SLOT_NOTIFIED)) {
			woken++;
		}
	}
	if (woken > 0) {
		atomic_store(&c->p->lock.deferred, 1);
	}
	return woken;
}

/* A notified waiter's first need is the lock, which the notifier holds:
 * waking it at notify would make it sleep again on the lock, and wake it
 * a second time at the release.  So notify only marks the slots, and the
 * release that frees the lock wakes them (the lock word's first member
 * is this page's). */
void
tri_cond_flush(struct tri_lockword *w)
{
	struct tri_condpage *p = (struct tri_condpage *) w;

	for (int i = 0; i < TR_COND_MAX_WAITERS; i++) {
		if (atomic_load(&p->slots[i].state) == SLOT_NOTIFIED) {
			tri_futex_wake(&p->slots[i].state, 1);
		}
	}
}

int
tr_cond_notify_all(tr_cond *c)
{
	if (c && c->remote) {
		return tr_cond_notify(c, INT32_MAX);
	}
	return tr_cond_notify(c, TR_COND_MAX_WAITERS);
}

const char *
tr_cond_addr(tr_cond *c)
{
	if (c && c->remote) {
		return tri_remote_addr(c->remote);
	}
	return c ? tr_shm_addr(c->shm) : "";
}
