/* SPDX-License-Identifier: MIT */
/* Internals of the local synchronization primitives and Value/Array: the
 * layout of their shared segments, and the pieces they share (the robust
 * lock word, futex waits, the caller's thread id). */
#ifndef TRI_SYNC_INT_H
#define TRI_SYNC_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "troupe/actor.h"
#include "troupe/msg.h"
#include "troupe/process.h"
#include "troupe/shm.h"
#include "troupe/sync.h"

/* What a segment holds: the first word of its data. */
enum tri_sync_kind {
	TRI_SYNC_LOCK    = 0x6b6c0001, /* tri_lockword */
	TRI_SYNC_RLOCK   = 0x6b6c0002,
	TRI_SYNC_SEM     = 0x6b6c0003, /* tri_semword */
	TRI_SYNC_COND    = 0x6b6c0004, /* tri_condpage */
	TRI_SYNC_BARRIER = 0x6b6c0005, /* tri_barrierpage */
	TRI_SYNC_ARRAY   = 0x6b6c0006, /* tri_arraypage */
};

/* First 64 bytes of a segment's data; the object follows. */
struct tri_sync_hdr {
	_Atomic uint32_t kind; /* set last, once the object is ready */
	uint32_t         pad[15];
};
#define TRI_SYNC_OBJ(shm) ((char *) tr_shm_data(shm) + 64)

/* A Lock or RLock: a robust process-shared mutex (the kernel hands it on,
 * marked EOWNERDEAD, when its holder dies) plus the holder's thread id and
 * the RLock's depth, which only the holder writes. */
struct tri_lockword {
	pthread_mutex_t  m;
	_Atomic uint32_t owner; /* holder's tid, 0 when free */
	uint32_t         depth; /* acquisitions not yet released */
	uint32_t         recursive;
	_Atomic uint32_t deferred; /* a Condition's wakes held until the
	                            * lock is released (sync-cond.c) */
};

struct tri_remote;

/* A lock handle: the segment it lives in (owned unless borrowed), or the
 * actor that serves it. */
struct tr_lock {
	tr_shm              *shm; /* NULL if the lock is part of another */
	struct tri_lockword *w;
	struct tri_remote   *remote;   /* actor implementation, else NULL */
	bool                 borrowed; /* remote belongs to another handle */
};

/* The caller's thread id, cached per thread (renewed in fork children). */
uint32_t tri_sync_tid(void);
/* The caller's process id, cached likewise. */
uint32_t tri_sync_pid(void);

/* Create a segment for an object of size bytes and kind; *ret_obj points
 * at the (zeroed) object.  Call tri_sync_publish() once it is ready. */
int tri_sync_create(
    tr_shm **ret, const char *name, size_t size, void **ret_obj);
void tri_sync_publish(tr_shm *s, uint32_t kind);
/* Open `where` and check its kind is one of kinds (0-terminated). */
int tri_sync_open(
    tr_shm **ret, const char *where, const uint32_t *kinds, uint32_t *ret_kind);

int tri_lockword_init(struct tri_lockword *w, bool recursive);
int tri_lockword_acquire(struct tri_lockword *w, int timeout_ms);
int tri_lockword_release(struct tri_lockword *w);
/* Release an RLock all the way (returns the depth it had) and take it back
 * at that depth. */
uint32_t tri_lockword_release_all(struct tri_lockword *w);
int      tri_lockword_restore(struct tri_lockword *w, uint32_t depth);

/* Wake the waiters a Condition notified while w, its lock, was held. */
void tri_cond_flush(struct tri_lockword *w);

/* Wait while *word == val, for at most ms (negative: a long slice). 0 when
 * woken or changed, -ETIMEDOUT at the end of the slice. */
int  tri_futex_wait(_Atomic uint32_t *word, uint32_t val, int ms);
void tri_futex_wake(_Atomic uint32_t *word, int n);

/* ---- the actor implementation (sync-remote.c, sync-server.c) ---------- */

/* Requests (SyncRequest.op, proto/sync.proto). */
enum tri_sync_op {
	TRI_OP_INFO          = 1,
	TRI_OP_STOP          = 2,
	TRI_OP_ACQUIRE       = 3,
	TRI_OP_RELEASE       = 4, /* no reply */
	TRI_OP_RELEASE_CALL  = 5,
	TRI_OP_IS_MINE       = 6,
	TRI_OP_COND_WAIT     = 7,
	TRI_OP_NOTIFY        = 8,
	TRI_OP_SEM_ACQUIRE   = 9,
	TRI_OP_SEM_RELEASE   = 10,
	TRI_OP_SEM_VALUE     = 11,
	TRI_OP_BARRIER_WAIT  = 12,
	TRI_OP_ACTION_DONE   = 13,
	TRI_OP_ABORT         = 14,
	TRI_OP_RESET         = 15,
	TRI_OP_BARRIER_STATE = 16,
	TRI_OP_CHAN_OPEN     = 40, /* a same-host channel: its fd */
	TRI_OP_CHAN_CLOSE    = 41, /* no reply: channel fd = n */
};

/* A BARRIER_WAIT answer telling the last party to run its action and
 * report with ACTION_DONE; its arrival index is added. */
#define TRI_RUN_ACTION 0x10000

/* The kind numbers on the wire: TRI_SYNC_* minus this. */
#define TRI_KIND_BASE 0x6b6c0000u

struct tri_remote_reply {
	int      result;
	uint32_t kind; /* a TRI_SYNC_* */
	uint32_t value;
	uint32_t parties;
	bool     broken;
};

/* The implementation opts ask for (TR_SYNC_LOCAL or TR_SYNC_ACTOR), or
 * -EINVAL. */
int tri_sync_impl(const tr_sync_opts *opts);

/* Start an actor serving a new primitive of kind (a TRI_SYNC_*); value is
 * a semaphore's value or a barrier's parties. */
int tri_remote_new(struct tri_remote **ret, const char *name, uint32_t kind,
    uint32_t value, bool bounded);
/* Attach to the actor at address text or registered name `where`. */
int  tri_remote_open(struct tri_remote **ret, const char *where);
void tri_remote_destroy(struct tri_remote **rp);
int  tri_remote_call(struct tri_remote *r, uint32_t op, int timeout_ms,
     uint32_t n, bool has_action, struct tri_remote_reply *ret);
/* The primitive's kind (from INFO at open), address text. */
uint32_t    tri_remote_kind(struct tri_remote *r);
const char *tri_remote_addr(struct tri_remote *r);
int         tri_remote_acquire(struct tri_remote *r, int timeout_ms);
int         tri_remote_release(struct tri_remote *r);
bool        tri_remote_is_mine(struct tri_remote *r);

/* Open `where` as a local segment of one of kinds, or else as an actor of
 * one of them: exactly one of *ret_shm and *ret_remote is set. */
int tri_sync_open_any(const char *where, const uint32_t *kinds,
    tr_shm **ret_shm, struct tri_remote **ret_remote, uint32_t *ret_kind);

/* Timeouts: -EINVAL for negatives other than TR_TIMEOUT_INFINITE. */
#define TRI_TIMEOUT_OK(t) ((t) >= 0 || (t) == TR_TIMEOUT_INFINITE)

#endif /* TRI_SYNC_INT_H */
