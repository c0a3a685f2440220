/* SPDX-License-Identifier: MIT */
/* Lock and RLock on the local fast path, and what every primitive's
 * segment shares (creation, opening by kind, futex waits).  The lock is a
 * robust process-shared pthread mutex in the segment: taking a free lock
 * is one atomic instruction in user space, and when a holder dies the
 * kernel (walking the dead thread's robust list, SIGKILL included) marks
 * the mutex and wakes one waiter, which gets EOWNERDEAD and makes the
 * mutex consistent again. */
#include "sync-int.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static _Thread_local uint32_t tid_cache;
static pthread_once_t         atfork_once = PTHREAD_ONCE_INIT;

static uint32_t pid_cache;

static void
forget_tid(void)
{
	tid_cache = 0; /* the fork child's only thread has a new id */
	pid_cache = 0;
}

static void
install_atfork(void)
{
	(void) pthread_atfork(NULL, NULL, forget_tid);
}

uint32_t
tri_sync_tid(void)
{
	if (__builtin_expect(tid_cache == 0, 0)) {
		(void) pthread_once(&atfork_once, install_atfork);
		tid_cache = (uint32_t) syscall(SYS_gettid);
	}
	return tid_cache;
}

uint32_t
tri_sync_pid(void)
{
	if (__builtin_expect(pid_cache == 0, 0)) {
		(void) pthread_once(&atfork_once, install_atfork);
		pid_cache = (uint32_t) getpid();
	}
	return pid_cache;
}

/* ---- segments ----------------------------------------------------------- */

int
tri_sync_create(tr_shm **ret, const char *name, size_t size, void **ret_obj)
{
	int r = tr_shm_new(ret, name, 64 + size);

	if (r == 0) {
		*ret_obj = TRI_SYNC_OBJ(*ret);
	}
	return r;
}

void
tri_sync_publish(tr_shm *s, uint32_t kind)
{
	struct tri_sync_hdr *h = tr_shm_data(s);

	atomic_store(&h->kind, kind);
}

int
tri_sync_open(
    tr_shm **ret, const char *where, const uint32_t *kinds, uint32_t *ret_kind)
{
	struct tri_sync_hdr *h;
	tr_shm              *s;
	uint32_t             kind;
	int                  r;

	r = tr_shm_open(&s, where);
	if (r < 0) {
		return r;
	}
	h    = tr_shm_data(s);
	kind = atomic_load(&h->kind);
	for (; *kinds; kinds++) {
		if (*kinds == kind && tr_shm_size(s) >= 64) {
			*ret      = s;
			*ret_kind = kind;
			return 0;
		}
	}
	tr_shm_destroy(&s);
	return TR_EBADTYPE;
}

/* ---- futex -------------------------------------------------------------- */

#define SLICE_MS 100 /* longest single sleep of an unbounded wait */

int
tri_futex_wait(_Atomic uint32_t *word, uint32_t val, int ms)
{
	struct timespec ts;

	if (ms < 0) {
		ms = SLICE_MS;
	}
	ts.tv_sec  = ms / 1000;
	ts.tv_nsec = (long) (ms % 1000) * 1000000;
	if (syscall(SYS_futex, (uint32_t *) word, FUTEX_WAIT, val, &ts, NULL,
	        0) < 0 &&
	    errno == ETIMEDOUT) {
		return -ETIMEDOUT;
	}
	return 0;
}

void
tri_futex_wake(_Atomic uint32_t *word, int n)
{
	(void) syscall(
	    SYS_futex, (uint32_t *) word, FUTEX_WAKE, n, NULL, NULL, 0);
}

/* ---- the lock word ------------------------------------------------------ */

int
tri_lockword_init(struct tri_lockword *w, bool recursive)
{
	pthread_mutexattr_t a;
	int                 r;

	if (pthread_mutexattr_init(&a) != 0) {
		return -ENOMEM;
	}
	r = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	if (r == 0) {
		r = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	}
	if (r == 0) {
		r = pthread_mutex_init(&w->m, &a);
	}
	(void) pthread_mutexattr_destroy(&a);
	w->recursive = recursive;
	return -r;
}

static int
lock_mutex(pthread_mutex_t *m, int timeout_ms)
{
	struct timespec ts;

	if (timeout_ms == 0) {
		return pthread_mutex_trylock(m);
	}
	if (timeout_ms < 0) {
		return pthread_mutex_lock(m);
	}
	(void) clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long) (timeout_ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	return pthread_mutex_clocklock(m, CLOCK_MONOTONIC, &ts);
}

int
tri_lockword_acquire(struct tri_lockword *w, int timeout_ms)
{
	uint32_t me = tri_sync_tid();
	int      r, died = 0;

	if (atomic_load_explicit(&w->owner, memory_order_relaxed) == me) {
		if (!w->recursive) {
			return -EDEADLK;
		}
		w->depth++;
		return 0;
	}
	r = lock_mutex(&w->m, timeout_ms);
	switch (r) {
	case 0:
		break;
	case EOWNERDEAD:
		(void) pthread_mutex_consistent(&w->m);
		died = TR_LOCK_OWNER_DIED;
		break;
	case EBUSY:
		return -EAGAIN;
	default:
		return -r; /* ETIMEDOUT, ENOTRECOVERABLE */
	}
	atomic_store_explicit(&w->owner, me, memory_order_relaxed);
	w->depth = 1;
	return died;
}

int
tri_lockword_release(struct tri_lockword *w)
{
	int r;

	if (atomic_load_explicit(&w->owner, memory_order_relaxed) !=
	    tri_sync_tid()) {
		return -EPERM;
	}
	if (--w->depth > 0) {
		return 0;
	}
	atomic_store_explicit(&w->owner, 0, memory_order_relaxed);
	r = -pthread_mutex_unlock(&w->m);
	if (atomic_load_explicit(&w->deferred, memory_order_relaxed) &&
	    atomic_exchange(&w->deferred, 0)) {
		tri_cond_flush(w); /* now they can have the lock */
	}
	return r;
}

uint32_t
tri_lockword_release_all(struct tri_lockword *w)
{
	uint32_t depth = w->depth;

	w->depth = 1;
	(void) tri_lockword_release(w);
	return depth;
}

int
tri_lockword_restore(struct tri_lockword *w, uint32_t depth)
{
	int r = tri_lockword_acquire(w, TR_TIMEOUT_INFINITE);

	if (r >= 0) {
		w->depth = depth;
	}
	return r;
}

/* ---- tr_lock ------------------------------------------------------------ */

static const uint32_t lock_kinds[] = { TRI_SYNC_LOCK, TRI_SYNC_RLOCK, 0 };

static int
lock_new(tr_lock **ret, const tr_sync_opts *opts, bool recursive)
{
	const char *name = opts ? opts->name : NULL;
	int         impl = tri_sync_impl(opts);
	tr_lock    *l;
	void       *obj;
	int         r;

	if (!ret || impl < 0) {
		return -EINVAL;
	}
	l = calloc(1, sizeof(*l));
	if (!l) {
		return -ENOMEM;
	}
	if (impl == TR_SYNC_ACTOR) {
		r = tri_remote_new(&l->remote, name,
		    recursive ? TRI_SYNC_RLOCK : TRI_SYNC_LOCK, 0, false);
		if (r < 0) {
			free(l);
			return r;
		}
		*ret = l;
		return 0;
	}
	r = tri_sync_create(&l->shm, name, sizeof(*l->w), &obj);
	if (r == 0) {
		l->w = obj;
		r    = tri_lockword_init(l->w, recursive);
	}
	if (r < 0) {
		tr_lock_destroy(&l);
		return r;
	}
	tri_sync_publish(l->shm, recursive ? TRI_SYNC_RLOCK : TRI_SYNC_LOCK);
	*ret = l;
	return 0;
}

int
tr_lock_new(tr_lock **ret, const tr_sync_opts *opts)
{
	return lock_new(ret, opts, false);
}

int
tr_rlock_new(tr_lock **ret, const tr_sync_opts *opts)
{
	return lock_new(ret, opts, true);
}

int
tr_lock_open(tr_lock **ret, const char *where)
{
	tr_lock *l;
	uint32_t kind;
	int      r;

	if (!ret || !where) {
		return -EINVAL;
	}
	l = calloc(1, sizeof(*l));
	if (!l) {
		return -ENOMEM;
	}
	r = tri_sync_open_any(where, lock_kinds, &l->shm, &l->remote, &kind);
	if (r < 0) {
		free(l);
		return r;
	}
	if (l->shm) {
		l->w = (struct tri_lockword *) TRI_SYNC_OBJ(l->shm);
	}
	*ret = l;
	return 0;
}

void
tr_lock_destroy(tr_lock **lp)
{
	tr_lock *l = lp ? *lp : NULL;

	if (!l) {
		return;
	}
	tr_shm_destroy(&l->shm);
	if (!l->borrowed) {
		tri_remote_destroy(&l->remote);
	}
	free(l);
	*lp = NULL;
}

int
tr_lock_acquire(tr_lock *l, int timeout_ms)
{
	if (!l || !TRI_TIMEOUT_OK(timeout_ms)) {
		return -EINVAL;
	}
	if (l->remote) {
		return tri_remote_acquire(l->remote, timeout_ms);
	}
	return tri_lockword_acquire(l->w, timeout_ms);
}

int
tr_lock_release(tr_lock *l)
{
	if (!l) {
		return -EINVAL;
	}
	if (l->remote) {
		return tri_remote_release(l->remote);
	}
	return tri_lockword_release(l->w);
}

bool
tr_lock_is_mine(tr_lock *l)
{
	if (l && l->remote) {
		return tri_remote_is_mine(l->remote);
	}
	return l && atomic_load(&l->w->owner) == tri_sync_tid();
}

bool
tr_lock_is_recursive(tr_lock *l)
{
	if (l && l->remote) {
		return tri_remote_kind(l->remote) != TRI_SYNC_LOCK;
	}
	return l && l->w->recursive;
}

const char *
tr_lock_addr(tr_lock *l)
{
	if (l && l->remote) {
		return tri_remote_addr(l->remote);
	}
	return l && l->shm ? tr_shm_addr(l->shm) : "";
}
