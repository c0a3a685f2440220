/* SPDX-License-Identifier: MIT */
/* The manager's RLock, Semaphore, BoundedSemaphore and Condition: the
 * server side (requests served by manager-server.c's loop) and their
 * proxies.
 *
 * RLock: a holder (process and thread) and a depth.  Condition: an RLock
 * and the waits on it; a wait gives the lock up all the way, is parked
 * (TRI_MGR_COND_WAIT) until a notify or its deadline turns it into a
 * request for the lock back (TRI_MGR_COND_REACQUIRE, no deadline), and
 * is answered once it holds the lock again at its old depth.  Notify
 * turns at most n of the waits parked now, in arrival order: a later
 * wait never sees it.  Semaphore: a value, and how many units each
 * process holds (acquired and not released by it), which its DOWN gives
 * back unless it ended normally (a semaphore has no owner: a process may
 * take units for good, as a consumer does); the next acquirer then gets
 * TR_LOCK_OWNER_DIED, as an RLock's does after its holder died. */
#include "manager-int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SEM_MAX UINT32_MAX

/* ---- server ------------------------------------------------------------- */

int
tri_msync_init(struct object *o, const tr_mval *init)
{
	struct tri_mgr_ext *x = o->ext;

	x->bound = -1;
	if (o->kind == TR_MOBJ_RLOCK || o->kind == TR_MOBJ_CONDITION) {
		return init ? -EINVAL : 0;
	}
	x->value = 1; /* Python's default */
	if (init) {
		if (init->kind != TR_MVAL_INT || init->u.i < 0 ||
		    init->u.i > (int64_t) SEM_MAX) {
			return -EINVAL;
		}
		x->value = init->u.i;
	}
	if (o->kind == TR_MOBJ_BOUNDED_SEMAPHORE) {
		x->bound = x->value;
	}
	return 0;
}

/* The first parked request on object id for op1 or op2, taken off. */
static struct waiter *
take_first(struct server *s, uint64_t id, uint32_t op1, uint32_t op2)
{
	for (struct waiter **q = tri_mgr_waiters(s); *q; q = &(*q)->next) {
		struct waiter *w = *q;

		if (w->obj == id && (w->op == op1 || w->op == op2)) {
			*q = w->next;
			return w;
		}
	}
	return NULL;
}

static bool
holds(const struct object *o, tr_addr who, uint64_t thread)
{
	return o->held && tr_addr_eq(o->owner, who) &&
	    o->owner_thread == thread;
}

/* A free RLock or Condition lock to its next waiter. */
static void
rlock_grant(struct server *s, struct object *o)
{
	struct waiter *w;
	int64_t        r = 0;

	if (o->held ||
	    !(w = take_first(
	          s, o->id, TRI_MGR_RLOCK_ACQUIRE, TRI_MGR_COND_REACQUIRE))) {
		return;
	}
	o->held         = true;
	o->owner        = w->who;
	o->owner_thread = w->thread;
	o->ext->depth   = 1;
	if (w->op == TRI_MGR_COND_REACQUIRE) {
		o->ext->depth = w->depth;
		r             = w->result;
	}
	if (r == 0 && o->owner_died) {
		r = TR_LOCK_OWNER_DIED;
	}
	o->owner_died = false;
	tri_mgr_finish(w, r, NULL);
}

static struct tri_mgr_hold *
hold_of(struct tri_mgr_ext *x, tr_addr who)
{
	for (size_t i = 0; i < x->nholds; i++) {
		if (tr_addr_eq(x->holds[i].who, who)) {
			return &x->holds[i];
		}
	}
	return NULL;
}

static int
hold_add(struct tri_mgr_ext *x, tr_addr who)
{
	struct tri_mgr_hold *h = hold_of(x, who), *v;

	if (!h) {
		v = realloc(x->holds, (x->nholds + 1) * sizeof(*v));
		if (!v) {
			return -ENOMEM;
		}
		x->holds = v;
		h        = &v[x->nholds++];
		h->who   = who;
		h->n     = 0;
	}
	h->n++;
	return 0;
}

/* Units taken back from who: all of them, or one. */
static uint64_t
hold_drop(struct tri_mgr_ext *x, tr_addr who, bool all)
{
	struct tri_mgr_hold *h = hold_of(x, who);
	uint64_t             n;

	if (!h) {
		return 0;
	}
	n = all ? h->n : 1;
	h->n -= n;
	if (h->n == 0) {
		*h = x->holds[--x->nholds];
	}
	return n;
}

/* Take one unit for who; the answer (0 or TR_LOCK_OWNER_DIED). */
static int64_t
sem_take(struct object *o, tr_addr who)
{
	int64_t r = o->owner_died ? TR_LOCK_OWNER_DIED : 0;

	if (hold_add(o->ext, who) < 0) {
		return -ENOMEM;
	}
	o->ext->value--;
	o->owner_died = false;
	return r;
}

static void
sem_grant(struct server *s, struct object *o)
{
	struct waiter *w;

	while (o->ext->value > 0 &&
	    (w = take_first(
	         s, o->id, TRI_MGR_SEM_ACQUIRE, TRI_MGR_SEM_ACQUIRE))) {
		tri_mgr_finish(w, sem_take(o, w->who), NULL);
	}
}

static int64_t
park_or_fail(struct server *s, tr_msg **mp, const Trwire__MgrRequest *req)
{
	int r;

	if (req->timeout_ms == 0) {
		return -EAGAIN;
	}
	r = tri_mgr_park(s, mp, req);
	return r < 0 ? r : TRI_MGR_DONE;
}

static int64_t
rlock_acquire(struct server *s, struct object *o, tr_msg **mp,
    const Trwire__MgrRequest *req)
{
	tr_addr who = tri_mgr_sender(*mp);
	int64_t r;

	if (holds(o, who, req->thread)) {
		if (o->ext->depth == UINT32_MAX) {
			return -EOVERFLOW;
		}
		o->ext->depth++;
		return 0;
	}
	if (o->held) {
		return park_or_fail(s, mp, req);
	}
	o->held         = true;
	o->owner        = who;
	o->owner_thread = req->thread;
	o->ext->depth   = 1;
	r               = o->owner_died ? TR_LOCK_OWNER_DIED : 0;
	o->owner_died   = false;
	return r;
}

static int64_t
rlock_release(struct server *s, struct object *o, const tr_msg *m,
    const Trwire__MgrRequest *req)
{
	if (!holds(o, tri_mgr_sender(m), req->thread)) {
		return -EPERM;
	}
	if (--o->ext->depth > 0) {
		return 0;
	}
	o->held = false;
	if (req->op == TRI_MGR_RLOCK_RELEASE) {
		tri_mgr_answer(m, 0, NULL, 0);
	}
	rlock_grant(s, o);
	return TRI_MGR_DONE;
}

static int64_t
sem_release(struct server *s, struct object *o, const tr_msg *m, bool answer)
{
	struct tri_mgr_ext *x = o->ext;

	if ((x->bound >= 0 && x->value >= x->bound) || x->value >= SEM_MAX) {
		return -EOVERFLOW; /* Python's ValueError; nothing changes */
	}
	x->value++;
	/* units are anonymous: a release by a process that holds none is
	 * one of another holder's (so value + held never passes a bound) */
	if (hold_drop(x, tri_mgr_sender(m), false) == 0 && x->nholds > 0) {
		(void) hold_drop(x, x->holds[0].who, false);
	}
	if (answer) {
		tri_mgr_answer(m, 0, NULL, 0);
	}
	sem_grant(s, o);
	return TRI_MGR_DONE;
}

static int64_t
cond_wait(struct server *s, struct object *o, tr_msg **mp,
    const Trwire__MgrRequest *req)
{
	struct waiter **q;
	uint32_t        depth = o->ext->depth;
	int             r;

	if (!holds(o, tri_mgr_sender(*mp), req->thread)) {
		return -EPERM;
	}
	r = tri_mgr_park(s, mp, req);
	if (r < 0) {
		return r;
	}
	for (q = tri_mgr_waiters(s); (*q)->next; q = &(*q)->next) { }
	(*q)->depth   = depth; /* the one just parked, last */
	o->held       = false;
	o->ext->depth = 0;
	rlock_grant(s, o);
	return TRI_MGR_DONE;
}

static int64_t
cond_notify(struct server *s, struct object *o, const tr_msg *m,
    const Trwire__MgrRequest *req)
{
	int64_t n = 0;

	if (req->index < -1) {
		return -EINVAL;
	}
	if (!holds(o, tri_mgr_sender(m), req->thread)) {
		return -EPERM;
	}
	for (struct waiter *w                           = *tri_mgr_waiters(s);
	     w && (req->index < 0 || n < req->index); w = w->next) {
		if (w->obj == o->id && w->op == TRI_MGR_COND_WAIT) {
			w->op       = TRI_MGR_COND_REACQUIRE;
			w->result   = 0;
			w->deadline = -1;
			n++;
		}
	}
	return n; /* they get the lock when the notifier lets it go */
}

int64_t
tri_msync_op(struct server *s, struct object *o, tr_msg **mp,
    const Trwire__MgrRequest *req)
{
	switch (req->op) {
	case TRI_MGR_RLOCK_ACQUIRE:
		return rlock_acquire(s, o, mp, req);
	case TRI_MGR_RLOCK_RELEASE:
	case TRI_MGR_RLOCK_RELEASE_NOWAIT:
		return rlock_release(s, o, *mp, req);
	case TRI_MGR_SEM_ACQUIRE:
		if (o->ext->value > 0) {
			return sem_take(o, tri_mgr_sender(*mp));
		}
		return park_or_fail(s, mp, req);
	case TRI_MGR_SEM_RELEASE:
	case TRI_MGR_SEM_RELEASE_NOWAIT:
		return sem_release(s, o, *mp, req->op == TRI_MGR_SEM_RELEASE);
	case TRI_MGR_COND_WAIT:
		return cond_wait(s, o, mp, req);
	case TRI_MGR_COND_NOTIFY:
		return cond_notify(s, o, *mp, req);
	default:
		return -EOPNOTSUPP;
	}
}

void
tri_msync_client_died(
    struct server *s, struct object *o, tr_addr who, bool normal)
{
	struct tri_mgr_ext *x = o->ext;
	uint64_t            n;

	switch (o->kind) {
	case TR_MOBJ_RLOCK:
	case TR_MOBJ_CONDITION:
		if (o->held && tr_addr_eq(o->owner, who)) {
			o->held       = false;
			x->depth      = 0;
			o->owner_died = true;
			rlock_grant(s, o);
		}
		break;
	case TR_MOBJ_SEMAPHORE:
	case TR_MOBJ_BOUNDED_SEMAPHORE:
		/* a process that ended normally meant to keep its units (a
		 * consumer of a counting semaphore): Python's semantics */
		n = hold_drop(x, who, true);
		if (n == 0 || normal) {
			break;
		}
		x->value += (int64_t) n;
		if (x->bound >= 0 && x->value > x->bound) {
			x->value = x->bound; /* released for it already */
		}
		o->owner_died = true;
		sem_grant(s, o);
		break;
	default:
		break;
	}
}

void
tri_msync_wait_expired(struct waiter *w)
{
	w->op       = TRI_MGR_COND_REACQUIRE;
	w->result   = w->poll ? -EAGAIN : -ETIMEDOUT;
	w->deadline = -1;
}

void
tri_msync_grant_all(struct server *s)
{
	for (size_t i = 0; i < tri_mgr_nobjs(s); i++) {
		struct object *o = tri_mgr_obj_at(s, i);

		if (o && o->kind == TR_MOBJ_CONDITION && !o->held) {
			rlock_grant(s, o);
		}
	}
}

/* ---- proxies ------------------------------------------------------------ */

#define CHECK_TIMEOUT(t) \
	tr_assert_return((t) >= 0 || (t) == TR_TIMEOUT_INFINITE, -EINVAL)

static bool
is_kind(tr_mobj *o, int a, int b)
{
	int k = tr_mobj_kind(o);

	return k == a || k == b;
}

int
tri_mrlock_acquire(tr_mobj *o, int timeout_ms)
{
	CHECK_TIMEOUT(timeout_ms);
	return (int) tri_mobj_call(
	    o, TRI_MGR_RLOCK_ACQUIRE, NULL, NULL, 0, 0, timeout_ms, NULL);
}

int
tri_mrlock_release(tr_mobj *o)
{
	return (int) tri_mobj_call(
	    o, TRI_MGR_RLOCK_RELEASE, NULL, NULL, 0, 0, 0, NULL);
}

int
tr_msem_acquire(tr_mobj *o, int timeout_ms)
{
	tr_assert_return(o, -EINVAL);
	CHECK_TIMEOUT(timeout_ms);
	return (int) tri_mobj_call(
	    o, TRI_MGR_SEM_ACQUIRE, NULL, NULL, 0, 0, timeout_ms, NULL);
}

int
tr_msem_release(tr_mobj *o)
{
	tr_assert_return(o, -EINVAL);
	/* a plain Semaphore's release cannot fail short of 2^32 - 1: no
	 * answer needed; a BoundedSemaphore's says if it passed the bound */
	return (int) tri_mobj_call(o,
	    tr_mobj_kind(o) == TR_MOBJ_SEMAPHORE ? TRI_MGR_SEM_RELEASE_NOWAIT
	                                         : TRI_MGR_SEM_RELEASE,
	    NULL, NULL, 0, 0, 0, NULL);
}

int64_t
tr_msem_value(tr_mobj *o)
{
	tr_mval *v = NULL;
	int64_t  r;

	tr_assert_return(o, -EINVAL);
	if (!is_kind(o, TR_MOBJ_SEMAPHORE, TR_MOBJ_BOUNDED_SEMAPHORE)) {
		return -EOPNOTSUPP;
	}
	r = tr_mobj_get_all(o, &v);
	if (r == 0) {
		r = tr_mval_get_int(v);
	}
	tr_mval_destroy(&v);
	return r;
}

int
tr_mcond_wait(tr_mobj *o, int timeout_ms)
{
	tr_assert_return(o, -EINVAL);
	CHECK_TIMEOUT(timeout_ms);
	return (int) tri_mobj_call(
	    o, TRI_MGR_COND_WAIT, NULL, NULL, 0, 0, timeout_ms, NULL);
}

int
tr_mcond_wait_for(
    tr_mobj *o, bool (*pred)(void *arg), void *arg, int timeout_ms)
{
	int64_t deadline = tr_deadline(timeout_ms);
	int     died     = 0;
	bool    waited   = false;
	int     r;

	tr_assert_return(o && pred, -EINVAL);
	CHECK_TIMEOUT(timeout_ms);
	/* as Python's wait_for: one deadline, the predicate checked before
	 * the first wait and after each, at least one wait when false */
	while (!pred(arg)) {
		int left = tr_deadline_left(deadline);

		if (waited && timeout_ms != TR_TIMEOUT_INFINITE && left == 0) {
			return timeout_ms == 0 ? -EAGAIN : -ETIMEDOUT;
		}
		waited = true;
		r      = tr_mcond_wait(o, left);
		if (r == TR_LOCK_OWNER_DIED) {
			died = r;
		} else if (r < 0 && r != -ETIMEDOUT && r != -EAGAIN) {
			return r;
		}
	}
	return died;
}

int
tr_mcond_notify(tr_mobj *o, int n)
{
	tr_assert_return(o && n >= 0, -EINVAL);
	return (int) tri_mobj_call(
	    o, TRI_MGR_COND_NOTIFY, NULL, NULL, n, 0, 0, NULL);
}

int
tr_mcond_notify_all(tr_mobj *o)
{
	tr_assert_return(o, -EINVAL);
	return (int) tri_mobj_call(
	    o, TRI_MGR_COND_NOTIFY, NULL, NULL, -1, 0, 0, NULL);
}
