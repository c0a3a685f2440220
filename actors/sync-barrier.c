/* SPDX-License-Identifier: MIT */
/* Barrier on the local fast path.  Its state (arrivals, generation, broken)
 * is changed only under a robust lock in the segment; waiters sleep on the
 * generation word, which moves on when the barrier releases its parties or
 * breaks.  broken_gen records which generation broke, so a party woken by
 * the move knows whether it was released or broken; a later generation
 * never inherits that.  A process that dies holding the state lock breaks
 * the barrier (its state may be half-changed). */
#include "sync-int.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#define MAX_PARTIES    1024
#define PARTY_CHECK_MS 100 /* how often a waiting party looks for dead ones */

struct tri_barrierpage {
	struct tri_lockword lock;
	_Atomic uint32_t    gen;        /* starts at 1 */
	uint32_t            broken_gen; /* last generation broken; 0: none */
	uint32_t            parties;
	uint32_t            count; /* parties waiting in generation gen */
	_Atomic uint32_t    broken;
	uint32_t            pids[MAX_PARTIES]; /* waiting parties' processes */
};

struct tr_barrier {
	tr_shm                 *shm;
	struct tri_barrierpage *p;
	tr_barrier_action_fn    action;
	void                   *action_arg;
	struct tri_remote      *remote; /* actor implementation, else NULL */
};

static const uint32_t barrier_kinds[] = { TRI_SYNC_BARRIER, 0 };

int
tr_barrier_new(tr_barrier **ret, const tr_sync_opts *opts, unsigned parties)
{
	const char *name = opts ? opts->name : NULL;
	int         impl = tri_sync_impl(opts);
	tr_barrier *b;
	void       *obj;
	int         r;

	if (!ret || parties == 0 || parties > MAX_PARTIES || impl < 0) {
		return -EINVAL;
	}
	b = calloc(1, sizeof(*b));
	if (!b) {
		return -ENOMEM;
	}
	if (impl == TR_SYNC_ACTOR) {
		r = tri_remote_new(
		    &b->remote, name, TRI_SYNC_BARRIER, parties, false);
		if (r < 0) {
			free(b);
			return r;
		}
		*ret = b;
		return 0;
	}
	r = tri_sync_create(&b->shm, name, sizeof(*b->p), &obj);
	if (r == 0) {
		b->p = obj;
		r    = tri_lockword_init(&b->p->lock, false);
	}
	if (r < 0) {
		tr_barrier_destroy(&b);
		return r;
	}
	b->p->parties = parties;
	atomic_store(&b->p->gen, 1);
	tri_sync_publish(b->shm, TRI_SYNC_BARRIER);
	*ret = b;
	return 0;
}

int
tr_barrier_open(tr_barrier **ret, const char *where)
{
	tr_barrier *b;
	uint32_t    kind;
	int         r;

	if (!ret || !where) {
		return -EINVAL;
	}
	b = calloc(1, sizeof(*b));
	if (!b) {
		return -ENOMEM;
	}
	r = tri_sync_open_any(where, barrier_kinds, &b->shm, &b->remote, &kind);
	if (r < 0) {
		free(b);
		return r;
	}
	if (b->shm) {
		b->p = (struct tri_barrierpage *) TRI_SYNC_OBJ(b->shm);
	}
	*ret = b;
	return 0;
}

void
tr_barrier_destroy(tr_barrier **bp)
{
	tr_barrier *b = bp ? *bp : NULL;

	if (!b) {
		return;
	}
	tr_shm_destroy(&b->shm);
	tri_remote_destroy(&b->remote);
	free(b);
	*bp = NULL;
}

int
tr_barrier_set_action(tr_barrier *b, tr_barrier_action_fn fn, void *arg)
{
	if (!b) {
		return -EINVAL;
	}
	b->action     = fn;
	b->action_arg = arg;
	return 0;
}

/* Release the current generation's waiters, broken or not (lock held). */
static void
next_gen(struct tri_barrierpage *p, bool broken)
{
	uint32_t g = atomic_load(&p->gen);

	if (broken) {
		p->broken_gen = g;
	}
	p->count = 0;
	atomic_store(&p->gen, g + 1 == 0 ? 1 : g + 1);
	tri_futex_wake(&p->gen, INT_MAX);
}

static void
break_locked(struct tri_barrierpage *p)
{
	atomic_store(&p->broken, 1);
	if (p->count > 0) {
		next_gen(p, true);
	}
}

static void
lock_state(struct tri_barrierpage *p)
{
	if (tri_lockword_acquire(&p->lock, TR_TIMEOUT_INFINITE) ==
	    TR_LOCK_OWNER_DIED) {
		break_locked(p);
	}
}

static void
unlock_state(struct tri_barrierpage *p)
{
	(void) tri_lockword_release(&p->lock);
}

/* Has a party waiting in generation gen died?  Then the barrier can never
 * fill: break it (as the actor does on the party's DOWN). */
static bool
party_died(struct tri_barrierpage *p, uint32_t gen)
{
	bool died = false;

	lock_state(p);
	for (uint32_t i = 0; atomic_load(&p->gen) == gen && i < p->count; i++) {
		if (kill((pid_t) p->pids[i], 0) < 0 && errno == ESRCH) {
			break_locked(p);
			died = true;
		}
	}
	unlock_state(p);
	return died;
}

/* The last party: run the action, then release everyone (lock held). */
static int
release_all(tr_barrier *b, uint32_t index)
{
	if (b->action && b->action(b->action_arg) < 0) {
		break_locked(b->p);
		return -EPIPE;
	}
	next_gen(b->p, false);
	return (int) index;
}

/* The actor's barrier: the last party may be told to run its action and
 * report how it went. */
static int
remote_wait(tr_barrier *b, int timeout_ms)
{
	int r = tri_remote_call(b->remote, TRI_OP_BARRIER_WAIT, timeout_ms, 0,
	    b->action != NULL, NULL);

	if (r >= TRI_RUN_ACTION) {
		uint32_t failed = b->action(b->action_arg) < 0;

		r = tri_remote_call(
		    b->remote, TRI_OP_ACTION_DONE, 0, failed, false, NULL);
	}
	return r;
}

int
tr_barrier_wait(tr_barrier *b, int timeout_ms)
{
	struct tri_barrierpage *p;
	uint32_t                index, gen;
	int64_t                 deadline = tr_deadline(timeout_ms);
	int                     r;

	if (!b || !TRI_TIMEOUT_OK(timeout_ms)) {
		return -EINVAL;
	}
	if (b->remote) {
		return remote_wait(b, timeout_ms);
	}
	p = b->p;
	lock_state(p);
	if (atomic_load(&p->broken)) {
		unlock_state(p);
		return -EPIPE;
	}
	index = p->count++;
	if (p->count == p->parties) {
		r = release_all(b, index);
		unlock_state(p);
		return r;
	}
	gen            = atomic_load(&p->gen);
	p->pids[index] = tri_sync_pid();
	unlock_state(p);
	while (atomic_load(&p->gen) == gen) {
		int left = tr_deadline_left(deadline);

		if (party_died(p, gen)) {
			break;
		}

		if (left == 0) {
			lock_state(p);
			if (atomic_load(&p->gen) == gen) {
				break_locked(p);
				unlock_state(p);
				return timeout_ms == 0 ? -EAGAIN : -ETIMEDOUT;
			}
			unlock_state(p);
			break;
		}
		(void) tri_futex_wait(&p->gen, gen,
		    left < 0 || left > PARTY_CHECK_MS ? PARTY_CHECK_MS : left);
	}
	lock_state(p);
	r = p->broken_gen == gen ? -EPIPE : (int) index;
	unlock_state(p);
	return r;
}

int
tr_barrier_abort(tr_barrier *b)
{
	if (!b) {
		return -EINVAL;
	}
	if (b->remote) {
		return tri_remote_call(
		    b->remote, TRI_OP_ABORT, 0, 0, false, NULL);
	}
	lock_state(b->p);
	break_locked(b->p);
	unlock_state(b->p);
	return 0;
}

int
tr_barrier_reset(tr_barrier *b)
{
	if (!b) {
		return -EINVAL;
	}
	if (b->remote) {
		return tri_remote_call(
		    b->remote, TRI_OP_RESET, 0, 0, false, NULL);
	}
	lock_state(b->p);
	if (b->p->count > 0) {
		next_gen(b->p, true);
	}
	atomic_store(&b->p->broken, 0);
	unlock_state(b->p);
	return 0;
}

static int
remote_state(tr_barrier *b, struct tri_remote_reply *rep)
{
	return tri_remote_call(
	    b->remote, TRI_OP_BARRIER_STATE, 0, 0, false, rep);
}

bool
tr_barrier_is_broken(tr_barrier *b)
{
	struct tri_remote_reply rep;

	if (b && b->remote) {
		return remote_state(b, &rep) == 0 && rep.broken;
	}
	return b && atomic_load(&b->p->broken);
}

int
tr_barrier_n_waiting(tr_barrier *b)
{
	struct tri_remote_reply rep;
	int                     n;

	if (!b) {
		return -EINVAL;
	}
	if (b->remote) {
		n = remote_state(b, &rep);
		return n < 0 ? n : (int) rep.value;
	}
	lock_state(b->p);
	n = atomic_load(&b->p->broken) ? 0 : (int) b->p->count;
	unlock_state(b->p);
	return n;
}

int
tr_barrier_parties(tr_barrier *b)
{
	struct tri_remote_reply rep;
	int                     r;

	if (b && b->remote) {
		r = remote_state(b, &rep);
		return r < 0 ? r : (int) rep.parties;
	}
	return b ? (int) b->p->parties : -EINVAL;
}

const char *
tr_barrier_addr(tr_barrier *b)
{
	if (b && b->remote) {
		return tri_remote_addr(b->remote);
	}
	return b ? tr_shm_addr(b->shm) : "";
}
