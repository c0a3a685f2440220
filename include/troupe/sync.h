/* SPDX-License-Identifier: MIT */
#ifndef TR_SYNC_H
#define TR_SYNC_H

#include <stdbool.h>

#include "troupe/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Synchronization primitives shared by processes, with the semantics of
 * Python's multiprocessing (and threading) Lock, RLock, Semaphore,
 * BoundedSemaphore, Condition and Barrier.
 *
 * By default a primitive lives in a shared-memory segment (troupe/shm.h):
 * no message and no broker on the way, and nothing left in /dev/shm or
 * anywhere else once the processes that use it have ended, however they
 * ended.  It may instead live in an actor (TR_SYNC_ACTOR, below).  Hand a
 * primitive to a child as an argument: its address text
 * (tr_lock_addr(), ...) or its name, then tr_..._open() it in the child;
 * this works the same under fork, spawn and forkserver, whichever method
 * started the creator.  Opening needs the creator alive; a process that
 * has opened a primitive keeps it for as long as it keeps its handle.
 * A local handle may also be used as is in a fork()ed child (the memory
 * is shared), unlike most troupe handles; a handle belongs to one thread
 * at a time.
 *
 * Locks are owned by a thread: only the holder may release (-EPERM
 * otherwise).  A lock whose holder dies -- even by SIGKILL, even while
 * others wait for it -- passes to the next acquirer, whose acquire returns
 * TR_LOCK_OWNER_DIED instead of 0: it holds the lock, and what the lock
 * protected may be half-updated (POSIX's EOWNERDEAD; Python's lock would
 * stay held for ever).
 *
 * Timeouts, as everywhere in troupe: 0 tries once and never waits (-EAGAIN
 * if it would have to), TR_TIMEOUT_INFINITE waits for ever, a positive
 * value waits up to that many ms (-ETIMEDOUT), any other negative is
 * -EINVAL.  Local waits are not ended by signals (an actor primitive's
 * may end with -EINTR, as tr_call() does).  Every call that returns an int
 * returns -EINVAL for a NULL handle. */

/* Acquired, but the previous holder died holding the lock. */
#define TR_LOCK_OWNER_DIED 1

/* ---- two implementations behind one API ----------------------------------
 * TR_SYNC_LOCAL keeps the primitive in shared memory (troupe/shm.h): for
 * the processes of one host, a free lock taken without a system call, and
 * nothing left anywhere once its users have ended.
 * TR_SYNC_ACTOR keeps it in an actor: a child process of the creator that
 * holds the state and answers requests (proto/sync.proto, see
 * docs/protocol.md), so that any actor that can send to it can use it
 * (other hosts too, once troupe's nodes can reach them).  It monitors its
 * clients: a holder's death releases its lock (the next acquirer gets
 * TR_LOCK_OWNER_DIED), a dead waiter's place is given up, and a party that
 * dies waiting on a Barrier breaks it.  Its clients watch it in turn: if
 * it dies, every call fails with TR_EDEAD (or -ESRCH) instead of hanging.
 * It ends with its creator's handle (or with the creator).  Calls block
 * for one round trip; a release by the thread that holds the lock sends
 * and does not wait.
 * Both pass the same tests; handles, addresses, names and opening are the
 * same, and tr_..._open() finds out which one it is given. */
enum tr_sync_impl {
	TR_SYNC_DEFAULT = 0, /* TR_SYNC_LOCAL, or $TROUPE_SYNC=local|actor */
	TR_SYNC_LOCAL   = 1,
	TR_SYNC_ACTOR   = 2,
};

/* Options for every constructor below; NULL or all zero = the defaults. */
typedef struct tr_sync_opts {
	const char
	    *name; /* NULL: anonymous; else letters, digits and "._-",
	            * at most 63 bytes: open by name from any process
	            * of the run while the creator (local) or the actor
	            * (actor) lives; a dead holder's name is taken over */
	int impl;  /* enum tr_sync_impl */
} tr_sync_opts;

/* ---- Lock and RLock --------------------------------------------------- */

typedef struct tr_lock tr_lock;

/* A new unlocked Lock (tr_lock_new) or RLock (tr_rlock_new: its holder may
 * acquire it again, and must release it as many times).  opts may be NULL.
 * With TR_SYNC_ACTOR it blocks until the actor runs.  Errors: -EINVAL,
 * TR_EEXISTS (name held by a live process), TR_ENOTINIT, -ENOMEM, -EMFILE,
 * and for an actor tr_process_start()'s. */
TR_API int tr_lock_new(tr_lock **ret, const tr_sync_opts *opts);
TR_API int tr_rlock_new(tr_lock **ret, const tr_sync_opts *opts);

/* Attach to the Lock or RLock with address text or name `where` (a local
 * one's name is looked up first, then an actor's).  Errors: -EINVAL,
 * TR_EBADADDR, TR_ENOTFOUND (no such name), -ESRCH (its creator or actor
 * has ended), TR_EBADTYPE if `where` is no Lock or RLock. */
TR_API int tr_lock_open(tr_lock **ret, const char *where);

/* Release the handle; NULL-safe, idempotent, sets *lp to NULL.  A lock
 * held through it stays held (release first).  The creator's handle of an
 * actor primitive also stops the actor (its clients then get TR_EDEAD). */
TR_API void tr_lock_destroy(tr_lock **lp);

/* Acquire, waiting up to timeout_ms while another thread holds it.
 * Returns 0, or TR_LOCK_OWNER_DIED (acquired all the same).  Errors:
 * -EAGAIN (timeout 0), -ETIMEDOUT, -EDEADLK (a Lock this thread already
 * holds: waiting would never end), -EINVAL; for an actor also TR_EDEAD,
 * -ESRCH (the actor has ended) and tr_call()'s. */
TR_API int tr_lock_acquire(tr_lock *l, int timeout_ms);

/* Release once.  Errors: -EPERM (this thread does not hold it: nothing
 * changes), -EINVAL. */
TR_API int tr_lock_release(tr_lock *l);

/* True if this thread holds the lock. */
TR_API bool tr_lock_is_mine(tr_lock *l);
TR_API bool tr_lock_is_recursive(tr_lock *l);
/* Address text for tr_lock_open(); borrowed, valid until the next call or
 * destroy.  For an actor primitive (TR_SYNC_ACTOR) in a run with a node,
 * the actor's node-global address: it opens the primitive from any node
 * (as do tr_sem_addr(), tr_cond_addr() and tr_barrier_addr()); a local
 * primitive's cannot cross nodes.  Does not block. */
TR_API const char *tr_lock_addr(tr_lock *l);

/* ---- Semaphore and BoundedSemaphore ------------------------------------ */

typedef struct tr_sem tr_sem;

/* A new Semaphore with initial value `value`; with bounded, a
 * BoundedSemaphore whose value may never exceed that initial value.
 * opts as tr_lock_new().  Errors: as tr_lock_new().  Every call on an
 * actor's semaphore may also fail as tr_lock_acquire() on an actor. */
TR_API int tr_sem_new(
    tr_sem **ret, const tr_sync_opts *opts, unsigned value, bool bounded);
/* Attach (as tr_lock_open()); TR_EBADTYPE if `where` is no semaphore. */
TR_API int  tr_sem_open(tr_sem **ret, const char *where);
TR_API void tr_sem_destroy(tr_sem **sp);

/* Decrement the value, waiting up to timeout_ms while it is 0.  Errors:
 * -EAGAIN (timeout 0), -ETIMEDOUT, -EINVAL. */
TR_API int tr_sem_acquire(tr_sem *s, int timeout_ms);
/* Increment the value, waking one waiter.  Never blocks.  Errors:
 * -EOVERFLOW (a BoundedSemaphore at its bound, or the value at
 * UINT32_MAX: the value is left unchanged), -EINVAL. */
TR_API int tr_sem_release(tr_sem *s);
/* The value now (stale on return), or -EINVAL. */
TR_API long        tr_sem_value(tr_sem *s);
TR_API const char *tr_sem_addr(tr_sem *s);

/* ---- Condition ---------------------------------------------------------- */

typedef struct tr_cond tr_cond;

/* At most this many processes' threads wait on one Condition at once. */
#define TR_COND_MAX_WAITERS 128

/* A new Condition with its own lock: an RLock, as Python's default
 * (tr_cond_lock() gives it).  opts as tr_lock_new().  Errors: as
 * tr_lock_new(). */
TR_API int tr_cond_new(tr_cond **ret, const tr_sync_opts *opts);
/* Attach (as tr_lock_open()); TR_EBADTYPE if `where` is no Condition. */
TR_API int  tr_cond_open(tr_cond **ret, const char *where);
TR_API void tr_cond_destroy(tr_cond **cp);

/* The condition's lock (borrowed, valid until destroy), for
 * tr_lock_acquire()/tr_lock_release() around the shared state. */
TR_API tr_lock *tr_cond_lock(tr_cond *c);

/* With the lock held: release it (all the way, for an RLock held several
 * times), wait up to timeout_ms for a notify, then take the lock back
 * (waiting for it without limit: its holder's death ends that wait) at
 * the depth it had.  Returns 0 when notified, -ETIMEDOUT/-EAGAIN when the
 * time ran out (the lock is held again in both cases; a return value of
 * TR_LOCK_OWNER_DIED means notified and the lock came back from a dead
 * holder).  Errors: -EPERM (the lock is not held by this thread: nothing
 * waits), -ENOSPC (TR_COND_MAX_WAITERS already wait), -EINVAL. */
TR_API int tr_cond_wait(tr_cond *c, int timeout_ms);

/* Wait until pred(arg) is true, called with the lock held (first before
 * any wait), as Python's wait_for: one deadline for the whole call,
 * however many notifies come between.  Returns 0 (or TR_LOCK_OWNER_DIED)
 * once pred is true, -ETIMEDOUT (-EAGAIN for 0) if it is still false at
 * the deadline; the lock is held on return.  Errors: as tr_cond_wait(). */
TR_API int tr_cond_wait_for(
    tr_cond *c, bool (*pred)(void *arg), void *arg, int timeout_ms);

/* With the lock held: wake at most n of the threads waiting now, the
 * longest-waiting first.  A notify nobody waits for is lost, never kept for
 * a later wait.  Waiters that died are skipped.  Returns how many were
 * woken.  Errors: -EPERM (the lock is not held by this thread), -EINVAL. */
TR_API int         tr_cond_notify(tr_cond *c, int n);
TR_API int         tr_cond_notify_all(tr_cond *c);
TR_API const char *tr_cond_addr(tr_cond *c);

/* ---- Barrier ------------------------------------------------------------ */

typedef struct tr_barrier tr_barrier;

/* Function one party runs when the last one arrives, before any party is
 * released; a negative return breaks the barrier. */
typedef int (*tr_barrier_action_fn)(void *arg);

/* A new Barrier for `parties` (1..1024) parties.  opts as tr_lock_new().
 * Errors: as tr_lock_new(). */
TR_API int tr_barrier_new(
    tr_barrier **ret, const tr_sync_opts *opts, unsigned parties);
/* Attach (as tr_lock_open()); TR_EBADTYPE if `where` is no Barrier. */
TR_API int  tr_barrier_open(tr_barrier **ret, const char *where);
TR_API void tr_barrier_destroy(tr_barrier **bp);

/* Set this handle's action (NULL: none).  Functions live in one process,
 * so the action is per handle: the party that arrives last runs the one
 * set on its own handle, if any. */
TR_API int tr_barrier_set_action(
    tr_barrier *b, tr_barrier_action_fn fn, void *arg);

/* Wait up to timeout_ms until `parties` parties wait, then return this
 * party's arrival index (0 for the first, parties - 1 for the last).
 * A party whose process dies while it waits breaks the barrier too (the
 * others then get -EPIPE; the local barrier notices within 100 ms).
 * A wait whose time runs out breaks the barrier and returns -ETIMEDOUT
 * (-EAGAIN for 0); every other party then gets -EPIPE, and so does any
 * party that arrives while the barrier is broken, until tr_barrier_reset().
 * Errors: -EPIPE (broken: by a timeout, tr_barrier_abort(), a reset while
 * this party waited, a failing action, or a process that died inside the
 * barrier's own critical section), -ETIMEDOUT, -EAGAIN, -EINVAL. */
TR_API int tr_barrier_wait(tr_barrier *b, int timeout_ms);
/* Break the barrier: waiters and later arrivals get -EPIPE. */
TR_API int tr_barrier_abort(tr_barrier *b);
/* Back to the initial state: the parties waiting now get -EPIPE, later
 * ones use the barrier afresh. */
TR_API int  tr_barrier_reset(tr_barrier *b);
TR_API bool tr_barrier_is_broken(tr_barrier *b);
/* Parties waiting now (0 while broken), or -EINVAL. */
TR_API int         tr_barrier_n_waiting(tr_barrier *b);
TR_API int         tr_barrier_parties(tr_barrier *b);
TR_API const char *tr_barrier_addr(tr_barrier *b);

#ifdef __cplusplus
}
#endif

#endif /* TR_SYNC_H */
