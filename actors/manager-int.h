/* SPDX-License-Identifier: MIT */
/* Internals of the Manager: the tagged value's layout (mval.c), its
 * conversion to and from the wire (manager-wire.c), the request codes
 * (proto/manager.proto) and the server actor (manager-server.c). */
#ifndef TRI_MANAGER_INT_H
#define TRI_MANAGER_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "manager.pb-c.h"
#include "troupe.h"

#ifndef tr_assert_return
/* The actors' form of the runtime's argument check (as queue-int.h). */
#define tr_assert_return(cond, err)                                       \
	do {                                                              \
		if (!(cond)) {                                            \
			tr_log(TR_LOG_DEBUG, "%s: assertion '%s' failed", \
			    __func__, #cond);                             \
			return (err);                                     \
		}                                                         \
	} while (0)
#endif

#define TRI_MVAL_TYPE_MAX 128 /* a protobuf type name, with its NUL */

struct tr_mval {
	int      kind;  /* enum tr_mval_kind */
	unsigned depth; /* 0 scalar, 1 + deepest item for a container */
	union {
		int64_t i;
		double  d;
		bool    b;
		struct {
			char  *data; /* NUL-terminated copy */
			size_t len;
			char  *type; /* PB only */
		} s;
		struct {
			tr_mval **items;
			size_t    n, cap;
		} l;
		struct {
			tr_mval **keys, **vals; /* insertion order */
			size_t    n, cap;
			uint32_t
			      *index; /* entry + 1, 0 empty; NULL when small */
			size_t nindex;
		} m;
	} u;
};

void    tri_mval_list_clear(tr_mval *l);
int     tri_mval_list_reserve(tr_mval *l, size_t more);
bool    tri_mval_is_key(const tr_mval *k);
ssize_t tri_mval_dict_find(const tr_mval *d, const tr_mval *key);
/* Remove entry i; returns its value (the caller's), frees its key. */
tr_mval *tri_mval_dict_take(tr_mval *d, size_t i);
void     tri_mval_repr_to(FILE *f, const tr_mval *v);

/* ---- wire (manager-codec.c) --------------------------------------------
 * tri_mval_pack() packs v as a trwire.MgrValue into a new buffer (*ret,
 * the caller's to free()).  tri_mval_unpack() builds a new tr_mval from a
 * packed MgrValue, checking it: a value with no field or two, an unknown
 * field, a dict whose counts differ or whose keys are containers, a string
 * with a NUL, nesting past TR_MVAL_MAX_DEPTH, or bytes that do not decode
 * are TR_EBADFRAME; -ENOMEM. */
int tri_mval_pack(const tr_mval *v, uint8_t **ret, size_t *ret_len);
int tri_mval_unpack(const uint8_t *data, size_t len, tr_mval **ret);

enum tri_mgr_op {
	TRI_MGR_HELLO               = 1,
	TRI_MGR_NEW                 = 2,
	TRI_MGR_OPEN                = 3,
	TRI_MGR_DROP                = 4,
	TRI_MGR_GET_ALL             = 5,
	TRI_MGR_LEN                 = 6,
	TRI_MGR_CHAN_OPEN           = 110, /* a same-host channel: its fd */
	TRI_MGR_CHAN_CLOSE          = 111, /* one-way: channel fd = index */
	TRI_MGR_DICT_GET            = 10,
	TRI_MGR_DICT_SET            = 11,
	TRI_MGR_DICT_SET_NOWAIT     = 12,
	TRI_MGR_DICT_DEL            = 13,
	TRI_MGR_DICT_CONTAINS       = 14,
	TRI_MGR_DICT_KEYS           = 15,
	TRI_MGR_DICT_UPDATE         = 16,
	TRI_MGR_DICT_POP            = 17,
	TRI_MGR_LIST_APPEND         = 20,
	TRI_MGR_LIST_APPEND_NOWAIT  = 21,
	TRI_MGR_LIST_EXTEND         = 22,
	TRI_MGR_LIST_GET            = 23,
	TRI_MGR_LIST_SET            = 24,
	TRI_MGR_LIST_POP            = 25,
	TRI_MGR_LIST_SLICE          = 26,
	TRI_MGR_LIST_REVERSE        = 27,
	TRI_MGR_QUEUE_PUT           = 30,
	TRI_MGR_QUEUE_GET           = 31,
	TRI_MGR_QUEUE_PUT_NOWAIT    = 32,
	TRI_MGR_LOCK_ACQUIRE        = 40,
	TRI_MGR_LOCK_RELEASE        = 41,
	TRI_MGR_LOCK_RELEASE_NOWAIT = 42,
	TRI_MGR_EVENT_SET           = 50,
	TRI_MGR_EVENT_CLEAR         = 51,
	TRI_MGR_EVENT_IS_SET        = 52,
	TRI_MGR_EVENT_WAIT          = 53,
	TRI_MGR_VALUE_GET           = 60,
	TRI_MGR_VALUE_SET           = 61,
	TRI_MGR_VALUE_ADD           = 62,
	TRI_MGR_STOP                = 99,
	/* added: manager-nowait.c, manager-sync.c, manager-array.c */
	TRI_MGR_ERRORS               = 7,
	TRI_MGR_RLOCK_ACQUIRE        = 70,
	TRI_MGR_RLOCK_RELEASE        = 71,
	TRI_MGR_RLOCK_RELEASE_NOWAIT = 72,
	TRI_MGR_SEM_ACQUIRE          = 80,
	TRI_MGR_SEM_RELEASE          = 81,
	TRI_MGR_SEM_RELEASE_NOWAIT   = 82,
	TRI_MGR_COND_WAIT            = 90,
	TRI_MGR_COND_NOTIFY          = 91,
	TRI_MGR_ARRAY_GET            = 100,
	TRI_MGR_ARRAY_SET            = 101,
	TRI_MGR_ARRAY_SLICE          = 102,
	TRI_MGR_ARRAY_SET_SLICE      = 103,
	TRI_MGR_ARRAY_READ           = 104,
	TRI_MGR_ARRAY_WRITE          = 105,
	/* never on the wire: a Condition's waiter taking its lock back */
	TRI_MGR_COND_REACQUIRE = 1000,
};

/* ---- the server's objects (manager-server.c and the files of the kinds
 * added later: manager-sync.c, manager-array.c) ------------------------- */

struct server; /* manager-server.c's, opaque to the others */

/* A parked request: a wait, answered when it ends. */
struct waiter {
	tr_msg        *req; /* answered when the wait ends */
	uint32_t       op;
	uint64_t       obj;
	tr_addr        who;
	uint64_t       thread;
	int64_t        deadline; /* -1: none */
	bool           poll;
	struct waiter *next;
	/* a Condition's wait: the lock's depth to give back, and the result
	 * to answer once the lock is back (0 notified, or timed out) */
	uint32_t depth;
	int64_t  result;
};

/* Per-process units of a Semaphore, given back on the process's DOWN. */
struct tri_mgr_hold {
	tr_addr  who;
	uint64_t n;
};

/* State of the kinds added later (NULL for the first seven). */
struct tri_mgr_ext {
	uint32_t depth;        /* RLock, Condition: the owner's acquisitions */
	int64_t  value, bound; /* Semaphore: value; bound (-1: none) */
	struct tri_mgr_hold *holds;
	size_t               nholds;
	char                 typecode; /* Array */
	size_t               itemsize, len;
	void                *data;
};

struct object {
	uint64_t            id;
	int                 kind; /* enum tr_mobj_kind */
	char               *name; /* NULL: anonymous */
	tr_mval            *v; /* dict, list (queue: items from head), value */
	size_t              head; /* queue: items before it are taken */
	bool                flag; /* event */
	bool                held; /* lock, RLock, Condition */
	bool                owner_died;
	tr_addr             owner;
	uint64_t            owner_thread;
	uint64_t            maxsize; /* queue: 0 unbounded */
	struct tri_mgr_ext *ext;     /* the kinds added later */
};

/* An operation's result meaning "answered (or parked) already". */
#define TRI_MGR_DONE INT64_MIN

/* manager-server.c's helpers, for the other server files: answer a
 * request; answer and free a waiter; park a wait (taking *mp); the
 * list of parked waits; a request's value argument. */
void tri_mgr_answer(
    const tr_msg *req, int64_t result, const tr_mval *v, uint32_t kind);
void tri_mgr_finish(struct waiter *w, int64_t result, const tr_mval *v);
int  tri_mgr_park(struct server *s, tr_msg **mp, const Trwire__MgrRequest *req);
struct waiter **tri_mgr_waiters(struct server *s);
struct object  *tri_mgr_find(struct server *s, uint64_t id);
size_t          tri_mgr_nobjs(struct server *s);
struct object  *tri_mgr_obj_at(struct server *s, size_t i);
int             tri_mgr_value_arg(const Trwire__MgrRequest *req, tr_mval **ret);

/* manager-sync.c: RLock, Semaphore, BoundedSemaphore, Condition. */
int     tri_msync_init(struct object *o, const tr_mval *init);
int64_t tri_msync_op(struct server *s, struct object *o, tr_msg **mp,
    const Trwire__MgrRequest *req);
/* who's DOWN: the RLock/Condition locks it holds go back, and unless it
 * ended normally (exit 0), the Semaphore units it holds too. */
void tri_msync_client_died(
    struct server *s, struct object *o, tr_addr who, bool normal);
/* A Condition wait whose time ran out: it now takes its lock back. */
void tri_msync_wait_expired(struct waiter *w);
/* Grant every free RLock/Condition to its next waiter. */
void tri_msync_grant_all(struct server *s);

/* manager-array.c: Array. */
int tri_marray_init(
    struct object *o, const Trwire__MgrRequest *req, const tr_mval *init);
int64_t tri_marray_op(
    struct object *o, const tr_msg *m, const Trwire__MgrRequest *req);
/* The items as a new list value, or NULL (out of memory). */
tr_mval *tri_marray_list(const struct object *o, size_t from, size_t to);

/* The kinds added later: make the state, free it, the whole object as a
 * value (GET_ALL: new), LEN, and which kinds op applies to (0: none of
 * them). */
int tri_mgr_ext_new(
    struct object *o, const Trwire__MgrRequest *req, const tr_mval *init);
void     tri_mgr_ext_free(struct object *o);
tr_mval *tri_mgr_ext_get_all(const struct object *o);
int64_t  tri_mgr_ext_len(const struct object *o);
unsigned tri_mgr_ext_kinds(uint32_t op);

/* manager-nowait.c: the first failure of each client's one-way writes,
 * kept until it asks (TRI_MGR_ERRORS). */
struct tri_mgr_nowait_err {
	tr_addr  who;
	int64_t  first;
	uint64_t n;
};
struct tri_mgr_errs {
	struct tri_mgr_nowait_err *v;
	size_t                     n, cap;
};
void    tri_mgr_errs_note(struct tri_mgr_errs *e, tr_addr who, int64_t err);
int64_t tri_mgr_errs_take(struct tri_mgr_errs *e, tr_addr who, uint64_t *n);
void    tri_mgr_errs_forget(struct tri_mgr_errs *e, tr_addr who);
void    tri_mgr_errs_free(struct tri_mgr_errs *e);

/* manager.c's one call on a proxy, for the proxies of the kinds added
 * later (key and val borrowed, may be NULL; *ret the answer's value if
 * ret is not NULL); and a NEW with an Array's type code or a Queue's
 * maxsize / an Array's length. */
int64_t tri_mobj_call(tr_mobj *o, uint32_t op, const tr_mval *key,
    const tr_mval *val, int64_t index, int64_t stop, int timeout_ms,
    tr_mval **ret);
/* manager-sync.c: acquire and release of an RLock or a Condition's lock
 * (tr_mlock_acquire() and tr_mlock_release() on those kinds). */
int tri_mrlock_acquire(tr_mobj *o, int timeout_ms);
int tri_mrlock_release(tr_mobj *o);
/* The type code a proxy learnt (an Array's), else 0. */
char tri_mobj_typecode(const tr_mobj *o);
int tri_mobj_new_sized(tr_mobj **ret, tr_manager *m, int kind, const char *name,
    const tr_mval *init, char typecode, uint64_t size);

/* The server actor's body (manager-server.c). */
int tri_manager_server(const void *args, size_t len);
/* The client that sent request m, whether it came by the mailbox or
 * through the client's same-host channel (chan-int.h): a request taken
 * from a channel is a tr_msg with no sender of its own, so code serving
 * requests asks this, never tr_msg_sender() (manager-server.c). */
tr_addr tri_mgr_sender(const tr_msg *m);
/* Constant-time comparison of two keys of TR_MANAGER_KEY_LEN bytes. */
bool tri_mgr_key_eq(const void *a, const void *b, size_t alen);
/* A key is TR_MANAGER_KEY_LEN hex digits. */
bool tri_mgr_key_valid(const char *key);

#endif /* TRI_MANAGER_INT_H */
