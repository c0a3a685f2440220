/* SPDX-License-Identifier: MIT */
/* Semaphore and BoundedSemaphore on the local fast path: the value is one
 * atomic word in the segment, changed by compare-and-swap, and waiters
 * sleep on it with a futex.  A semaphore has no owner, so a process that
 * dies leaves the value as it was (as in Python). */
#include "sync-int.h"

#include <errno.h>
#include <stdlib.h>

struct tri_semword {
	_Atomic uint32_t value;
	_Atomic uint32_t waiters; /* threads inside a futex wait */
	uint32_t         bound;   /* most the value may be */
};

struct tr_sem {
	tr_shm             *shm;
	struct tri_semword *w;
	struct tri_remote  *remote; /* actor implementation, else NULL */
};

static const uint32_t sem_kinds[] = { TRI_SYNC_SEM, 0 };

int
tr_sem_new(tr_sem **ret, const tr_sync_opts *opts, unsigned value, bool bounded)
{
	const char *name = opts ? opts->name : NULL;
	int         impl = tri_sync_impl(opts);
	tr_sem     *s;
	void       *obj;
	int         r;

	if (!ret || impl < 0) {
		return -EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		return -ENOMEM;
	}
	if (impl == TR_SYNC_ACTOR) {
		r = tri_remote_new(
		    &s->remote, name, TRI_SYNC_SEM, value, bounded);
		if (r < 0) {
			free(s);
			return r;
		}
		*ret = s;
		return 0;
	}
	r = tri_sync_create(&s->shm, name, sizeof(*s->w), &obj);
	if (r < 0) {
		free(s);
		return r;
	}
	s->w = obj;
	atomic_store(&s->w->value, value);
	s->w->bound = bounded ? (uint32_t) value : UINT32_MAX;
	tri_sync_publish(s->shm, TRI_SYNC_SEM);
	*ret = s;
	return 0;
}

int
tr_sem_open(tr_sem **ret, const char *where)
{
	tr_sem  *s;
	uint32_t kind;
	int      r;

	if (!ret || !where) {
		return -EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		return -ENOMEM;
	}
	r = tri_sync_open_any(where, sem_kinds, &s->shm, &s->remote, &kind);
	if (r < 0) {
		free(s);
		return r;
	}
	if (s->shm) {
		s->w = (struct tri_semword *) TRI_SYNC_OBJ(s->shm);
	}
	*ret = s;
	return 0;
}

void
tr_sem_destroy(tr_sem **sp)
{
	tr_sem *s = sp ? *sp : NULL;

	if (!s) {
		return;
	}
	tr_shm_destroy(&s->shm);
	tri_remote_destroy(&s->remote);
	free(s);
	*sp = NULL;
}

static bool
try_take(struct tri_semword *w)
{
	uint32_t v = atomic_load(&w->value);

	while (v > 0) {
		if (atomic_compare_exchange_weak(&w->value, &v, v - 1)) {
			return true;
		}
	}
	return false;
}

int
tr_sem_acquire(tr_sem *s, int timeout_ms)
{
	int64_t deadline;

	if (!s || !TRI_TIMEOUT_OK(timeout_ms)) {
		return -EINVAL;
	}
	if (s->remote) {
		return tri_remote_call(
		    s->remote, TRI_OP_SEM_ACQUIRE, timeout_ms, 0, false, NULL);
	}
	if (try_take(s->w)) {
		return 0;
	}
	if (timeout_ms == 0) {
		return -EAGAIN;
	}
	deadline = tr_deadline(timeout_ms);
	for (;;) {
		int left = tr_deadline_left(deadline);

		if (left == 0) {
			return -ETIMEDOUT;
		}
		/* announced before the futex looks at the value: a release
		 * either sees us waiting or changes what the futex compares */
		atomic_fetch_add(&s->w->waiters, 1);
		(void) tri_futex_wait(&s->w->value, 0, left);
		atomic_fetch_sub(&s->w->waiters, 1);
		if (try_take(s->w)) {
			return 0;
		}
	}
}

int
tr_sem_release(tr_sem *s)
{
	uint32_t v;

	if (!s) {
		return -EINVAL;
	}
	if (s->remote) {
		return tri_remote_call(
		    s->remote, TRI_OP_SEM_RELEASE, 0, 0, false, NULL);
	}
	v = atomic_load(&s->w->value);
	do {
		if (v >= s->w->bound) {
			return -EOVERFLOW;
		}
	} while (!atomic_compare_exchange_weak(&s->w->value, &v, v + 1));
	if (atomic_load(&s->w->waiters) > 0) {
		tri_futex_wake(&s->w->value, 1);
	}
	return 0;
}

long
tr_sem_value(tr_sem *s)
{
	struct tri_remote_reply rep;
	int                     r;

	if (!s) {
		return -EINVAL;
	}
	if (s->remote) {
		r = tri_remote_call(
		    s->remote, TRI_OP_SEM_VALUE, 0, 0, false, &rep);
		return r < 0 ? r : (long) rep.value;
	}
	return (long) atomic_load(&s->w->value);
}

const char *
tr_sem_addr(tr_sem *s)
{
	if (s && s->remote) {
		return tri_remote_addr(s->remote);
	}
	return s ? tr_shm_addr(s->shm) : "";
}
