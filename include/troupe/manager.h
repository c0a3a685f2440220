/* SPDX-License-Identifier: MIT */
#ifndef TR_MANAGER_H
#define TR_MANAGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "troupe/common.h"     /* TR_API, TR_TIMEOUT_INFINITE */
#include "troupe/msg.h"        /* tr_addr */
#include "troupe/supervisor.h" /* tr_child_spec */

#ifdef __cplusplus
extern "C" {
#endif

/* tr_manager -- a server actor holding shared objects (dict, list,
 * Namespace, Queue, Lock, Event, Value, RLock, Semaphore,
 * BoundedSemaphore, Condition, Array) that other processes -- on other
 * nodes too, by the manager's global address (troupe/node.h) -- use
 * through proxies, like Python's multiprocessing.Manager().
 *
 * The manager is one process (registered as TR_MANAGER_ACTOR) that keeps
 * every object in its own memory and serves one request at a time, in
 * the order each client sent them.  A proxy (tr_mobj) names an object by
 * its id or name; every call on it is one message to the manager and, for
 * all but the *_nowait writes, one answer back.
 *
 * Authentication.  A manager has a secret key (TR_MANAGER_KEY_LEN hex
 * characters, random unless given; Python's authkey).  A client proves it
 * with its first message; the manager answers nothing else to a process
 * that has not, and refuses a wrong key with TR_EAUTH, logging the refusal
 * (warning level) with the client's address.  Hand the key to a child as
 * an argument (tr_manager_authkey()), as Python hands a child its
 * authkey.  Besides, the manager's mailbox lies in the run's runtime
 * directory, mode 0700 (tr_init()): other users of the host cannot even
 * connect.
 *
 * Restarts.  Run under a supervisor (tr_manager_child_spec()), a manager
 * that dies comes back as a new process, registered under the same name,
 * with the same key and *no objects*: every object it held is lost unless
 * the application keeps its own copy (there is no persistence).  A client
 * connected by name follows it: the next call finds the new process
 * (waiting up to TR_MANAGER_RESTART_MS for the name to come back) and
 * authenticates again.  A named object is made again there, empty (as
 * tr_mobj_new() would); an object known only by its id is gone, and calls
 * on it fail with TR_EMGRRESTART.  A call that was under way when the
 * manager died is sent again if it is idempotent (the gets, len, keys,
 * contains, slice, dict and list set, delete, namespace and Value set,
 * Event set, clear and wait, Array get, set and slices); the others
 * (appends, pops, Value add, Queue put and get, Lock, RLock, Semaphore
 * and Condition calls, update, extend) may or may not have been
 * applied, so they fail with TR_EMGRRESTART and are not repeated.  A
 * named bounded Queue or Array is made again with its maxsize, or its
 * type code and length (its proxy learnt them when made or opened), and
 * zeros for an Array's items.  A
 * client connected by address, or a manager that does not come back,
 * gives TR_EDEAD or -ESRCH instead: nothing ever waits for ever on a dead
 * manager.
 *
 * Handles.  A tr_manager and its proxies belong to one thread of the
 * process that made them: from another process every call returns
 * -ECHILD.  To use the manager in a child, pass tr_manager_where(),
 * tr_manager_authkey() and tr_mobj_ref() of each proxy as arguments, and
 * tr_manager_connect() / tr_mobj_open() there: under fork, spawn and
 * forkserver alike.
 *
 * Every call that is not a wait answers within the handle's call timeout
 * (tr_manager_set_timeout(), default TR_MANAGER_CALL_MS) or fails with
 * -ETIMEDOUT; a wait (Queue get and put, Lock, RLock and Semaphore
 * acquire, Event and Condition wait) takes its own
 * timeout_ms: 0 checks once, TR_TIMEOUT_INFINITE waits for ever (but
 * never on a dead manager), other negatives are -EINVAL.  Every call that
 * talks to the manager may also fail with -ECHILD, -ENOMEM, TR_EDEAD,
 * -ESRCH, TR_EMGRRESTART, TR_EAUTH, TR_EFULL, TR_ETOOBIG and the other
 * errors of tr_call(); those are not repeated below. */

/* ---- values ---------------------------------------------------------------
 * tr_mval is a tagged value: None, bytes, a UTF-8 string, a 64-bit
 * integer, a double, a bool, a protobuf message (its full type name and
 * packed bytes), or a list or dict of values, nested at most
 * TR_MVAL_MAX_DEPTH deep.  Dict keys are scalars (not lists or dicts) and
 * are equal when kind and value are (unlike Python, 1, 1.0 and True are
 * three keys); a dict keeps insertion order.  A tr_mval is a plain heap
 * object: constructors return a new one the caller owns (NULL only when
 * out of memory, or for bad arguments), tr_mval_destroy() frees it and all
 * it contains.  Accessors return borrowed pointers, valid while the
 * containing value lives and is not changed. */
typedef struct tr_mval tr_mval;

struct ProtobufCMessage;
struct ProtobufCMessageDescriptor;

enum tr_mval_kind {
	TR_MVAL_NONE   = 0,
	TR_MVAL_BYTES  = 1,
	TR_MVAL_STR    = 2,
	TR_MVAL_INT    = 3,
	TR_MVAL_DOUBLE = 4,
	TR_MVAL_BOOL   = 5,
	TR_MVAL_PB     = 6,
	TR_MVAL_LIST   = 7,
	TR_MVAL_DICT   = 8,
};

/* Deepest nesting of lists and dicts (a scalar is depth 0). */
#define TR_MVAL_MAX_DEPTH 32

TR_API tr_mval *tr_mval_none(void);
TR_API tr_mval *tr_mval_int(int64_t i);
TR_API tr_mval *tr_mval_double(double d);
TR_API tr_mval *tr_mval_bool(bool b);
/* A copy of the NUL-terminated s (NULL for s NULL). */
TR_API tr_mval *tr_mval_str(const char *s);
/* A copy of len bytes of s; NULL if they hold a NUL (use bytes for
 * binary data) or s is NULL with len > 0. */
TR_API tr_mval *tr_mval_strn(const char *s, size_t len);
TR_API tr_mval *tr_mval_bytes(const void *data, size_t len);
/* A protobuf message: type is its full name (< 128 bytes, copied), data
 * its packed bytes (copied; not checked against the type). */
TR_API tr_mval *tr_mval_pb(const char *type, const void *data, size_t len);
/* A protobuf-c message packed into a new value of its type.  NULL when
 * out of memory or for NULL. */
TR_API tr_mval *tr_mval_pb_pack(const struct ProtobufCMessage *msg);
/* Unpack a protobuf value with descriptor d into *ret (the caller frees
 * it with protobuf_c_message_free_unpacked(*ret, NULL)).  Errors:
 * TR_EBADTYPE (not a protobuf value, or of another type), TR_EBADFRAME
 * (does not decode), -EINVAL. */
TR_API int tr_mval_pb_unpack(const tr_mval  *v,
    const struct ProtobufCMessageDescriptor *d, struct ProtobufCMessage **ret);
/* Empty list / dict. */
TR_API tr_mval *tr_mval_list(void);
TR_API tr_mval *tr_mval_dict(void);
/* A deep copy, or NULL (out of memory, v NULL). */
TR_API tr_mval *tr_mval_copy(const tr_mval *v);
/* Free v and everything in it; NULL-safe, sets *vp to NULL. */
TR_API void tr_mval_destroy(tr_mval **vp);

/* Append *itemp to list; on success the list owns it and *itemp is NULL.
 * Errors: -EINVAL (not a list, NULL item, or nesting past
 * TR_MVAL_MAX_DEPTH), -ENOMEM. */
TR_API int tr_mval_list_append(tr_mval *list, tr_mval **itemp);
/* Set dict[*keyp] = *valp, taking both on success (an old value under the
 * key is freed, and so is *keyp if the key was there).  Errors: -EINVAL
 * (not a dict, a list or dict as key, depth), -ENOMEM. */
TR_API int tr_mval_dict_set(tr_mval *dict, tr_mval **keyp, tr_mval **valp);

TR_API int tr_mval_kind(const tr_mval *v); /* -EINVAL for NULL */
/* The scalar inside v, or 0 / 0.0 / false if v is not of that kind. */
TR_API int64_t tr_mval_get_int(const tr_mval *v);
TR_API double  tr_mval_get_double(const tr_mval *v);
TR_API bool    tr_mval_get_bool(const tr_mval *v);
/* A string's text (NUL-terminated), else NULL. */
TR_API const char *tr_mval_get_str(const tr_mval *v);
/* The bytes of bytes, a string or a protobuf message (length in *ret_len
 * if not NULL), else NULL. */
TR_API const void *tr_mval_get_bytes(const tr_mval *v, size_t *ret_len);
/* A protobuf message's type name, else NULL. */
TR_API const char *tr_mval_pb_type(const tr_mval *v);
/* Items of a list or dict, bytes of bytes, a string or a protobuf
 * message; 0 otherwise. */
TR_API size_t tr_mval_len(const tr_mval *v);
/* Item i of a list, key or value i of a dict (insertion order), else
 * NULL. */
TR_API const tr_mval *tr_mval_list_at(const tr_mval *list, size_t i);
TR_API const tr_mval *tr_mval_dict_key_at(const tr_mval *dict, size_t i);
TR_API const tr_mval *tr_mval_dict_value_at(const tr_mval *dict, size_t i);
/* dict[key], or NULL if absent (or not a dict). */
TR_API const tr_mval *tr_mval_dict_get(const tr_mval *dict, const tr_mval *key);
/* Deep equality (kind and value; doubles by ==). */
TR_API bool tr_mval_eq(const tr_mval *a, const tr_mval *b);
/* Python's repr() of v as a new string the caller free()s: 1, 2.5,
 * 'text', b'..', None, True, [1, 2], {1: '1', 0.25: None}, and a protobuf
 * message as <type: N bytes>.  NULL when out of memory. */
TR_API char *tr_mval_repr(const tr_mval *v);

/* ---- the manager ----------------------------------------------------------
 */

typedef struct tr_manager tr_manager;

/* Name under which the manager actor is registered; its argument is
 * "<authkey> <name>" (name "-" for none). */
#define TR_MANAGER_ACTOR "troupe.manager"
/* Length of an authkey: hex digits, no NUL counted. */
#define TR_MANAGER_KEY_LEN 64
/* Default call timeout of a handle (ms). */
#define TR_MANAGER_CALL_MS 10000
/* Longest a client waits for a restarted manager's name to come back. */
#define TR_MANAGER_RESTART_MS 5000
/* Room for tr_manager_child_spec()'s argument buffer. */
#define TR_MANAGER_ARGS_MAX (TR_MANAGER_KEY_LEN + 72)

/* How to start a manager.  All zeroes (or NULL) means the defaults: no
 * name, a fresh random key, TR_START_DEFAULT, a 10 s start timeout. */
typedef struct tr_manager_opts {
	const char *name;     /* register as this (tr_register() rules) */
	const char *authkey;  /* TR_MANAGER_KEY_LEN hex digits; NULL:
	                       * random */
	int start_method;     /* enum tr_start_method */
	int start_timeout_ms; /* 0 = 10000 */
	/* With a name: also register it on every node connected to this
	 * run's (tr_node_register_global()), so tr_manager_connect() by that
	 * name works from other nodes too, and their handles follow its
	 * restarts.  The run must have a node when the manager starts (else
	 * the start fails, TR_ESTARTFAIL saying so).  false: this run only. */
	bool global;
} tr_manager_opts;

/* Fill buf (at least TR_MANAGER_KEY_LEN + 1 bytes) with a new random key
 * (from getrandom(2)).  Errors: -EINVAL (n too small), -errno. */
TR_API int tr_manager_authkey_new(char *buf, size_t n);

/* Start a manager as a daemon child of the caller, wait until it runs and
 * connect to it; *ret is the caller's.  The manager ends when this
 * handle is destroyed or the caller exits.  Blocks up to the start
 * timeout.  Errors: -EINVAL (bad options: a key that is not
 * TR_MANAGER_KEY_LEN hex digits, a bad name), TR_EEXISTS (the name is
 * held), TR_ENOTINIT, TR_ESTARTFAIL, -ETIMEDOUT, -ENOMEM. */
TR_API int tr_manager_start(tr_manager **ret, const tr_manager_opts *opts);

/* Connect to the manager at `where` (its address text or its name) with
 * authkey, and authenticate (one round trip).  A name is looked up in
 * this run, then, if this run has a node, among the cluster-wide names
 * (a manager started with tr_manager_opts.global on another node).  Only a
 * handle made with a name follows the manager's restarts.  Errors: -EINVAL,
 * TR_EBADADDR, TR_ENOTFOUND (no live holder of the name), -ESRCH, TR_EAUTH
 * (wrong key: the manager logged the refusal), -ETIMEDOUT. */
TR_API int tr_manager_connect(
    tr_manager **ret, const char *where, const char *authkey);

/* Release the handle; NULL-safe, idempotent, sets *mp to NULL.  The
 * handle of tr_manager_start() also stops the manager (its objects go
 * with it).  Proxies made through the handle must be destroyed first. */
TR_API void tr_manager_destroy(tr_manager **mp);

/* What to pass to tr_manager_connect() in another process: its name if
 * it has one, else its address text.  Borrowed. */
TR_API const char *tr_manager_where(const tr_manager *m);
/* The key (TR_MANAGER_KEY_LEN hex digits); borrowed. */
TR_API const char *tr_manager_authkey(const tr_manager *m);
/* The manager's current address. */
TR_API tr_addr tr_manager_addr(const tr_manager *m);
/* Call timeout of this handle's non-waiting calls (> 0, or
 * TR_TIMEOUT_INFINITE).  Errors: -EINVAL. */
TR_API int tr_manager_set_timeout(tr_manager *m, int timeout_ms);

/* Fill *c to run a manager under a supervisor, registered as
 * opts->name with key opts->authkey (both required: clients find a
 * restarted manager by its name, and the key must survive the restart).
 * The child's arguments are written to buf (n >= TR_MANAGER_ARGS_MAX),
 * which must outlive the supervisor's start; id is borrowed likewise.
 * A permanent worker by default.  Errors: -EINVAL. */
TR_API int tr_manager_child_spec(tr_child_spec *c, const char *id,
    const tr_manager_opts *opts, char *buf, size_t n);

/* ---- proxies --------------------------------------------------------------
 */

typedef struct tr_mobj tr_mobj;

enum tr_mobj_kind {
	TR_MOBJ_DICT      = 1,
	TR_MOBJ_LIST      = 2,
	TR_MOBJ_NAMESPACE = 3, /* a dict of string keys, shown as
	                        * Namespace(a=1, ...) */
	TR_MOBJ_QUEUE = 4,     /* unbounded FIFO of values */
	TR_MOBJ_LOCK  = 5,
	TR_MOBJ_EVENT = 6,
	TR_MOBJ_VALUE = 7, /* one value (None at first) */
	/* added later (see "RLock, Semaphore, Condition" and "Array"
	 * below) */
	TR_MOBJ_RLOCK             = 8,
	TR_MOBJ_SEMAPHORE         = 9,  /* init: an int >= 0, NULL for 1 */
	TR_MOBJ_BOUNDED_SEMAPHORE = 10, /* bound: the initial value */
	TR_MOBJ_CONDITION         = 11, /* with its own RLock */
	TR_MOBJ_ARRAY             = 12, /* made by tr_marray_new() */
};

/* Make an object of kind in the manager and a proxy onto it.  With name
 * NULL the object is anonymous (known by its id); with a name
 * (tr_register() rules) the object of that name is opened if it exists
 * (TR_EBADTYPE if it is of another kind; init is then ignored) and made
 * otherwise.  init (borrowed, may be NULL) is the first contents: a dict
 * for a dict or Namespace (string keys), a list for a list or Queue, any
 * value for a Value, the first value for a Semaphore or BoundedSemaphore
 * (an int 0..2^32-1; NULL: 1); -EINVAL for a Lock, Event, RLock or
 * Condition.  An Array is made by tr_marray_new(), a bounded Queue by
 * tr_mqueue_new().  Errors: -EINVAL, TR_EBADTYPE. */
TR_API int tr_mobj_new(tr_mobj **ret, tr_manager *m, int kind, const char *name,
    const tr_mval *init);
/* A proxy onto the object that tr_mobj_ref() named (in another process,
 * through its own connection m).  Errors: -EINVAL, TR_ENOTFOUND. */
TR_API int tr_mobj_open(tr_mobj **ret, tr_manager *m, const char *ref);
/* Release the proxy (the object stays); NULL-safe, sets *op to NULL. */
TR_API void tr_mobj_destroy(tr_mobj **op);
/* The failures of one-way writes: tr_manager_errors() gives the first
 * failure of this process's one-way writes (the *_nowait calls:
 * no such object, a bad key or index, a full Queue...) since the last
 * tr_manager_errors() of this process, into *ret_first (0: none), and how
 * many failed into *ret_count (may be NULL); it clears them.  The
 * manager serves a client's requests in order, so it sees every write
 * sent before it.  The record is per client process (all of its handles
 * onto this manager share it) and goes with a manager restart.  Blocks
 * one round trip.  Returns 0, or the call's own error (-EINVAL, and those
 * of every call). */
TR_API int tr_manager_errors(
    tr_manager *m, int *ret_first, uint64_t *ret_count);

/* Remove the object from the manager (other proxies onto it then get
 * TR_ENOTFOUND).  Errors: TR_ENOTFOUND. */
TR_API int tr_mobj_drop(tr_mobj *o);
/* The object's reference text for tr_mobj_open(): its name, or "#<id>"
 * for an anonymous one.  Borrowed. */
TR_API const char *tr_mobj_ref(const tr_mobj *o);
TR_API int         tr_mobj_kind(const tr_mobj *o);
/* A copy of the whole object into *ret (the caller's): a dict, list, or
 * Namespace as a dict; a Queue's items as a list; a Value's value; an
 * Event as a bool; a Lock, RLock or Condition as a bool (held); a
 * Semaphore's value as an int; an Array's items as a list. */
TR_API int tr_mobj_get_all(tr_mobj *o, tr_mval **ret);
/* repr() of the whole object, Python style ("{1: '1'}", "[0, 1]",
 * "Namespace(x=1)"), new string the caller free()s.  Errors as
 * tr_mobj_get_all(). */
TR_API int tr_mobj_repr(tr_mobj *o, char **ret);

/* The calls below apply to the kinds named and return -EOPNOTSUPP for
 * others.  Borrowed arguments stay the caller's; *ret results are the
 * caller's.  A missing key or index is TR_ENOTFOUND (Python's KeyError
 * and IndexError). */

/* dict, Namespace: the value under key / set it / delete it. */
TR_API int tr_mdict_get(tr_mobj *o, const tr_mval *key, tr_mval **ret);
TR_API int tr_mdict_set(tr_mobj *o, const tr_mval *key, const tr_mval *val);
/* tr_mdict_set() without waiting for the answer: returns once the
 * request is sent.  Requests of one client are served in the order sent,
 * so a later call of the same handle sees the write; an error at the
 * manager (no such object, a bad key) is not returned here but kept for
 * tr_manager_errors() (and logged at debug level).  A write sent just
 * before the manager dies may be lost. */
TR_API int tr_mdict_set_nowait(
    tr_mobj *o, const tr_mval *key, const tr_mval *val);
TR_API int tr_mdict_del(tr_mobj *o, const tr_mval *key);
/* 1 if key is in it, 0 if not. */
TR_API int tr_mdict_contains(tr_mobj *o, const tr_mval *key);
/* Number of keys (list: items; Queue: items waiting; Array: its
 * length). */
TR_API int64_t tr_mobj_len(tr_mobj *o);
/* The keys as a list, in insertion order. */
TR_API int tr_mdict_keys(tr_mobj *o, tr_mval **ret);
/* Merge a dict value into the object (Python's update()). */
TR_API int tr_mdict_update(tr_mobj *o, const tr_mval *dict);
/* Remove key and give its value. */
TR_API int tr_mdict_pop(tr_mobj *o, const tr_mval *key, tr_mval **ret);
/* Namespace attributes by name (tr_mdict_* with a string key). */
TR_API int tr_mns_get(tr_mobj *o, const char *attr, tr_mval **ret);
TR_API int tr_mns_set(tr_mobj *o, const char *attr, const tr_mval *val);

/* list: index may be negative (from the end), as in Python. */
TR_API int tr_mlist_append(tr_mobj *o, const tr_mval *val);
/* As tr_mlist_append() without waiting; as tr_mdict_set_nowait(). */
TR_API int tr_mlist_append_nowait(tr_mobj *o, const tr_mval *val);
TR_API int tr_mlist_extend(tr_mobj *o, const tr_mval *list);
TR_API int tr_mlist_get(tr_mobj *o, int64_t index, tr_mval **ret);
TR_API int tr_mlist_set(tr_mobj *o, int64_t index, const tr_mval *val);
TR_API int tr_mlist_pop(tr_mobj *o, int64_t index, tr_mval **ret);
/* Items start..stop-1 as a list, Python's slice rules (negative from the
 * end, clamped). */
TR_API int tr_mlist_slice(
    tr_mobj *o, int64_t start, int64_t stop, tr_mval **ret);
TR_API int tr_mlist_reverse(tr_mobj *o);

/* Queue: get waits up to timeout_ms for an item: -EAGAIN (timeout 0) or
 * -ETIMEDOUT when none came; a get that takes an item lets a waiting put
 * in.  tr_mobj_new() makes an unbounded Queue, tr_mqueue_new() one of at
 * most maxsize items (0: unbounded; init, a list, may not hold more).
 * tr_mqueue_put() waits without limit while a bounded Queue is full
 * (Python's put()); tr_mqueue_put_timeout() waits up to timeout_ms and
 * fails with TR_EFULL when it is still full, at once for 0 (Python's
 * put_nowait() and put(timeout=)); an unbounded Queue never waits (its
 * put ends within the call timeout). */
TR_API int tr_mqueue_new(tr_mobj **ret, tr_manager *m, const char *name,
    uint64_t maxsize, const tr_mval *init);
TR_API int tr_mqueue_put(tr_mobj *o, const tr_mval *val);
TR_API int tr_mqueue_put_timeout(
    tr_mobj *o, const tr_mval *val, int timeout_ms);
/* tr_mqueue_put() without waiting for the answer; as
 * tr_mdict_set_nowait().  It never waits for room: on a full Queue it
 * fails at the manager with TR_EFULL, which tr_manager_errors() gives. */
TR_API int tr_mqueue_put_nowait(tr_mobj *o, const tr_mval *val);
TR_API int tr_mqueue_get(tr_mobj *o, tr_mval **ret, int timeout_ms);

/* Lock, owned by the calling thread.  A release by the thread that
 * acquired the lock through this proxy is sent without waiting for the
 * answer (as the sync actor's).  acquire returns 0, or
 * TR_LOCK_OWNER_DIED (1) when the previous holder's process died holding
 * it (the manager saw its DOWN); -EAGAIN (timeout 0), -ETIMEDOUT, -EDEADLK
 * (this thread holds it already).  release: -EPERM if this thread does
 * not hold it (also after a manager restart: the new manager's lock is
 * free). */
#ifndef TR_LOCK_OWNER_DIED
#define TR_LOCK_OWNER_DIED 1
#endif
TR_API int tr_mlock_acquire(tr_mobj *o, int timeout_ms);
TR_API int tr_mlock_release(tr_mobj *o);

/* RLock and Condition: tr_mlock_acquire() and tr_mlock_release() also
 * take and give back an RLock or a Condition's lock (an RLock, Python's
 * default).  Its holder (this thread) may acquire it again, and must
 * release it as many times; acquire returns 0 or TR_LOCK_OWNER_DIED (its
 * holder's process died holding it), -EAGAIN, -ETIMEDOUT; -EOVERFLOW past
 * 2^32 - 1 levels; release -EPERM when this thread does not hold it.  A
 * release by the thread that acquired through this proxy is sent without
 * waiting for the answer, as a Lock's. */

/* Semaphore, BoundedSemaphore: acquire takes one unit, waiting up to
 * timeout_ms while the value is 0 (-EAGAIN, -ETIMEDOUT), and returns 0,
 * or TR_LOCK_OWNER_DIED when the units came back from a process that
 * died.  The manager counts the units each process acquired and has not
 * released itself: a process's abnormal end (killed, crashed, a non-zero
 * exit, its node lost) gives them back (at most up to a
 * BoundedSemaphore's bound), and the next acquirer is told; a process
 * that exits normally keeps what it took, as in Python (a semaphore has
 * no owner: a consumer of a counting semaphore takes units for good).
 * A release by a process that holds no unit counts as one of another
 * holder's (units are anonymous), so what comes back on a death never
 * takes a BoundedSemaphore past its bound.  A plain Semaphore's release
 * is sent without waiting for the answer (it fails only past 2^32 - 1,
 * which tr_manager_errors() then reports); a BoundedSemaphore's waits,
 * to say -EOVERFLOW at once.  release
 * adds one, waking a waiter: -EOVERFLOW (the value unchanged) past a
 * BoundedSemaphore's bound (Python's ValueError) or 2^32 - 1; any process
 * may release.  value: the value now (stale on return). */
TR_API int     tr_msem_acquire(tr_mobj *o, int timeout_ms);
TR_API int     tr_msem_release(tr_mobj *o);
TR_API int64_t tr_msem_value(tr_mobj *o);

/* Condition, with its lock held by this thread (else -EPERM, nothing
 * waits).  wait gives the lock up (all its levels), waits up to
 * timeout_ms for a notify, then takes the lock back at the same depth
 * without limit (its holder's death ends that): 0 notified (or
 * TR_LOCK_OWNER_DIED: notified, and the lock came from a dead holder),
 * -ETIMEDOUT / -EAGAIN (0) when the time ran out; the lock is held again
 * in every one of these cases.  The answer may so take longer than
 * timeout_ms; the client waits for it without limit, but never on a dead
 * manager.  wait_for calls pred(arg) (in the caller, lock held) first and
 * after each wake-up until it is true, with one deadline for the whole
 * call (Python's wait_for): 0 (or TR_LOCK_OWNER_DIED) once true,
 * -ETIMEDOUT (-EAGAIN for 0) if still false at the deadline.  notify
 * wakes at most n (>= 0) of the threads waiting now, longest-waiting
 * first, and returns how many: a notify is never kept for a later wait.
 * The woken take the lock when the notifier lets it go. */
TR_API int tr_mcond_wait(tr_mobj *o, int timeout_ms);
TR_API int tr_mcond_wait_for(
    tr_mobj *o, bool (*pred)(void *arg), void *arg, int timeout_ms);
TR_API int tr_mcond_notify(tr_mobj *o, int n);
TR_API int tr_mcond_notify_all(tr_mobj *o);

/* Array: len items of an array-module type code ('b' 'B' 'h' 'H' 'i' 'I'
 * 'l' 'L' 'q' 'Q' 'f' 'd', as troupe/shared.h's) held by the manager,
 * Python's manager.Array(typecode, sequence).  tr_marray_new() makes it
 * (or opens the named one, as tr_mobj_new()): init NULL gives len zeros;
 * else init is a list of len items (len 0: its length), ints for the
 * integer codes (bools too), ints or doubles for 'f' and 'd'.  At most
 * TR_MARRAY_MAX_LEN items.  Items come back as ints or doubles;
 * tr_mobj_len() is the length, tr_mobj_get_all() and tr_mobj_repr() the
 * items as a list.  get/set one item (a negative index from the end;
 * TR_ENOTFOUND out of range), slice as tr_mlist_slice(), set_slice
 * assigns a list of exactly stop - start items (after clamping; else
 * -EINVAL, as Python's).  A write checks every item first and changes
 * nothing when one does not fit: TR_EBADTYPE (not a number, or a double
 * for an integer code), -EOVERFLOW (out of the code's range).  Errors of
 * tr_marray_new(): -EINVAL (an unknown code, no items, a bad init). */
#define TR_MARRAY_MAX_LEN (1u << 20)
TR_API int tr_marray_new(tr_mobj **ret, tr_manager *m, const char *name,
    char typecode, size_t len, const tr_mval *init);
TR_API int tr_marray_get(tr_mobj *o, int64_t index, tr_mval **ret);
TR_API int tr_marray_set(tr_mobj *o, int64_t index, const tr_mval *val);
TR_API int tr_marray_slice(
    tr_mobj *o, int64_t start, int64_t stop, tr_mval **ret);
TR_API int tr_marray_set_slice(
    tr_mobj *o, int64_t start, int64_t stop, const tr_mval *list);
/* The items as they lie, in one round trip: read copies n items from
 * index `from` into buf (n items of the code's C type: int32_t for 'i',
 * double for 'd', long for 'l'...), a snapshot of them at one moment;
 * write copies n items from buf in (-EOVERFLOW, nothing written, for an
 * 'L' or 'Q' item past INT64_MAX: values are 64-bit signed).  Python's
 * a[from:from + n] without the per-item values, for bulk data.  Errors:
 * TR_ENOTFOUND (past the end: nothing copied), -EINVAL (not an Array
 * proxy, buf NULL with n > 0, n > TR_MARRAY_MAX_LEN).  The type code
 * comes from the manager when the proxy is made or opened;
 * tr_marray_typecode() gives it ('\0' for another kind). */
TR_API int  tr_marray_read(tr_mobj *o, size_t from, size_t n, void *buf);
TR_API int  tr_marray_write(tr_mobj *o, size_t from, size_t n, const void *buf);
TR_API char tr_marray_typecode(const tr_mobj *o);

/* Event: set, clear, is_set (1/0), wait (1 set, 0 timeout passed clear,
 * as Python's wait()). */
TR_API int tr_mevent_set(tr_mobj *o);
TR_API int tr_mevent_clear(tr_mobj *o);
TR_API int tr_mevent_is_set(tr_mobj *o);
TR_API int tr_mevent_wait(tr_mobj *o, int timeout_ms);

/* Value: get, set, and add delta (an int to an int, a number to a
 * double; TR_EBADTYPE otherwise) giving the new value in *ret (may be
 * NULL). */
TR_API int tr_mvalue_get(tr_mobj *o, tr_mval **ret);
TR_API int tr_mvalue_set(tr_mobj *o, const tr_mval *val);
TR_API int tr_mvalue_add(tr_mobj *o, const tr_mval *delta, tr_mval **ret);

#ifdef __cplusplus
}
#endif

#endif /* TR_MANAGER_H */
