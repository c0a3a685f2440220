/* SPDX-License-Identifier: MIT */
#ifndef TR_POOL_H
#define TR_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "troupe/common.h" /* TR_API, TR_TIMEOUT_INFINITE */

#ifdef __cplusplus
extern "C" {
#endif

struct ProtobufCMessage;
struct tr_supervisor;

/* tr_pool -- a pool of worker processes, like Python's
 * multiprocessing.Pool, that never hangs on a dead worker.
 *
 * The workers are temporary children of a simple_one_for_one supervisor
 * (TR_SUP_ACTOR) that the pool starts as a child of the caller, so the
 * pool is a supervised subtree: killing the supervisor takes the workers
 * with it.  A worker runs task functions registered by name (TR_POOL_FN),
 * so any start method works.  Items and results are bytes; a protobuf
 * message travels packed (tr_pool_out_set_pb(); the caller unpacks).
 *
 * The dispatcher lives in the handle, in the calling process and thread:
 * it sends each worker at most `prefetch` tasks (a task is a chunk of
 * items) ahead of its answers, monitors every worker and the supervisor,
 * and runs only inside tr_pool_* calls (any call on the pool or on one of
 * its results), as do the callbacks.  Results reach the caller's mailbox
 * and are told apart from the caller's own messages, which stay queued.
 *
 * A worker that dies (SIGKILL, a crash, exit) is replaced; each task it
 * held is sent again, at most `retries` times, then fails with TR_EDEAD
 * and an error text naming the worker's pid and its exit code or signal.
 * If the supervisor dies, every unfinished task fails with TR_EDEAD.  A
 * task function that returns an error fails its item with that error.
 * No wait on a result outlives its timeout, and none waits on the dead.
 *
 * Returns: >= 0 on success, a negative code on failure (tr_strerror()).
 * A handle belongs to the process and thread that made it: from another
 * process every call returns -ECHILD. */
typedef struct tr_pool tr_pool;

/* An asynchronous result (Python's AsyncResult / MapResult): the results
 * of one apply (1 item) or map (n items), or the error that failed it. */
typedef struct tr_pool_result tr_pool_result;

/* Where a task function writes the result of one item. */
typedef struct tr_pool_out tr_pool_out;

/* ---- task functions (run in the workers) ---------------------------------
 */

/* A task function: compute the result of one item (len bytes at item,
 * borrowed; item[len] is not guaranteed to be '\0') into out, and return
 * 0, or a negative error code to fail the item (an error text may be set
 * with tr_pool_out_fail()).  Writing nothing to out gives an empty
 * result. */
typedef int (*tr_pool_fn)(const void *item, size_t len, tr_pool_out *out);

/* An initializer: runs once in each worker before it takes tasks, with
 * the pool's initargs (borrowed).  A negative return fails the worker's
 * start (use tr_fail() for the reason); see tr_pool_new(). */
typedef int (*tr_pool_init_fn)(const void *args, size_t len);

/* Register fn (or an initializer) under name (copied; at most 63 bytes).
 * Register at load time (TR_POOL_FN) or before tr_init(), so that every
 * worker, whatever its start method, knows the name.  Errors: -EINVAL,
 * TR_EEXISTS (another function has that name), -ENOMEM. */
TR_API int tr_pool_fn_register(const char *name, tr_pool_fn fn);
TR_API int tr_pool_initializer_register(const char *name, tr_pool_init_fn fn);

#define TR_POOL_FN(name, fn)                                                  \
	__attribute__((constructor)) static void tr_pool_fn_ctor_##name(void) \
	{                                                                     \
		(void) tr_pool_fn_register(#name, fn);                        \
	}
#define TR_POOL_INITIALIZER(name, fn)                                      \
	__attribute__((constructor)) static void tr_pool_init_ctor_##name( \
	    void)                                                          \
	{                                                                  \
		(void) tr_pool_initializer_register(#name, fn);            \
	}

/* Set the item's result to a copy of data (replacing any earlier one).
 * Errors: -EINVAL, -ENOMEM. */
TR_API int tr_pool_out_set(tr_pool_out *out, const void *data, size_t len);
/* Set the item's result to pb, packed.  Errors: -EINVAL, -ENOMEM. */
TR_API int tr_pool_out_set_pb(
    tr_pool_out *out, const struct ProtobufCMessage *pb);
/* Set the text of the item's error (printf-style, truncated at 255
 * bytes) and return err, for `return tr_pool_out_fail(out, -EDOM, "x <
 * 0");`. */
TR_API int tr_pool_out_fail(tr_pool_out *out, int err, const char *fmt, ...)
    TR_PRINTF(3, 4);

/* ---- the pool ------------------------------------------------------------
 */

/* Options; every field left zero means its default. */
typedef struct tr_pool_opts {
	int         processes;   /* workers; 0 = tr_cpu_count() */
	const char *initializer; /* registered initializer name; NULL = none */
	const void *initargs;    /* its argument, copied; may be NULL */
	size_t      initargs_len;
	int maxtasksperchild; /* tasks a worker runs before it is replaced
	                       * (drain, then exit); 0 = no limit */
	int start_method;     /* enum tr_start_method; 0 = default */
	int retries;          /* times a dead worker's task is sent again;
	                       * 0 = never */
	int prefetch;         /* tasks in flight per worker; 0 = adaptive:
	                       * 2, up to 32 while its tasks take < 1 ms */
	int start_timeout_ms; /* per worker start; 0 = 10000 */
	/* Workers on several nodes (troupe/node.h): node names, ""
	 * for this run, NULL-terminated, at most TR_POOL_NODES_MAX; NULL =
	 * all in this run.  Worker i starts on nodes[i % n]; a dead worker's
	 * replacement on its node if that node is connected, else on the
	 * next one in the list that starts it.  A worker on another node is
	 * started by that node (spawn; start_method does not apply there):
	 * the pool's task functions and initializer must be registered in
	 * that node's program too.  When a node is lost, its workers' tasks
	 * are handled as a dead worker's (sent again up to `retries` times,
	 * else failed with TR_EDEAD, the text saying the node was lost), and
	 * each is replaced on another node.  The pool's supervisor reports
	 * those workers as TR_CHILD_UNKNOWN (supervisor.h). */
	const char *const *nodes;
} tr_pool_opts;

/* Most entries in tr_pool_opts.nodes. */
#define TR_POOL_NODES_MAX 16

/* Start a pool (opts NULL = all defaults): its supervisor, then each
 * worker, each running the initializer before it reports running.
 * Blocks until all run.  *ret gets a handle owned by the caller.  If a
 * worker fails to start (its initializer failed), the workers already
 * started are stopped and reaped with the supervisor, nothing is left
 * behind, and the call fails with TR_ESTARTFAIL.  Errors: -EINVAL,
 * -ENOMEM, TR_ENOTINIT, TR_ESTARTFAIL, TR_ENOACTOR, -ETIMEDOUT. */
TR_API int tr_pool_new(tr_pool **ret, const tr_pool_opts *opts);

/* No more tasks: every submitting call fails with TR_ESHUTDOWN from now
 * on; the tasks already submitted run to the end.  Never blocks. */
TR_API int tr_pool_close(tr_pool *p);

/* Stop at once: every task not finished fails with TR_ESHUTDOWN ("pool
 * terminated"; callbacks fire), the workers are stopped (SIGTERM, SIGKILL
 * after 1 s) and reaped with the supervisor.  Blocks for that (about a
 * second at most).  Implies close. */
TR_API int tr_pool_terminate(tr_pool *p);

/* After close: wait up to timeout_ms until every task has ended (their
 * callbacks fired), then stop the workers and the supervisor and reap
 * them.  After terminate: returns 0.  Errors: -EBUSY (the pool was not
 * closed: join before close), -ETIMEDOUT (tasks still running; call
 * again), -ECHILD. */
TR_API int tr_pool_join(tr_pool *p, int timeout_ms);

/* Release the handle; NULL-safe, idempotent, sets *pp to NULL.  A pool
 * still running is terminated first.  Results the caller still holds
 * stay valid (unfinished ones have failed with TR_ESHUTDOWN). */
TR_API void tr_pool_destroy(tr_pool **pp);

/* Number of workers the pool keeps running. */
TR_API int tr_pool_processes(const tr_pool *p);

/* The pool's supervisor (borrowed, valid until destroy), to look at the
 * workers (which_children), or NULL once the pool has stopped. */
TR_API struct tr_supervisor *tr_pool_supervisor(tr_pool *p);

/* Counters of the pool's life. */
typedef struct tr_pool_stats {
	uint64_t tasks_done;       /* tasks answered by a worker */
	uint64_t tasks_retried;    /* sent again after their worker died */
	uint64_t workers_started;  /* including the first ones */
	uint64_t workers_died;     /* ended other than by recycling */
	uint64_t workers_recycled; /* ended at maxtasksperchild */
} tr_pool_stats;
TR_API int tr_pool_stats_get(const tr_pool *p, tr_pool_stats *ret);

/* ---- submitting work -----------------------------------------------------
 */

/* Called once a result is ready: callback if it succeeded, error_callback
 * if it failed (never both, each at most once), in the thread that uses
 * the pool, from inside a tr_pool_* call.  r is borrowed for the call.  A
 * callback may submit more work; a wait on the pool from inside it (get,
 * wait, join) returns -EDEADLK at once. */
typedef void (*tr_pool_cb_fn)(tr_pool_result *r, void *arg);
typedef struct tr_pool_cb {
	tr_pool_cb_fn callback;
	tr_pool_cb_fn error_callback;
	void         *arg;
} tr_pool_cb;

/* One item for map: len bytes at data (borrowed for the call; copied). */
typedef struct tr_pool_item {
	const void *data;
	size_t      len;
} tr_pool_item;

/* apply_async: run fn on one item (len bytes at arg, copied; may be NULL
 * when len is 0).  cb may be NULL.  If ret is not NULL it gets a result
 * owned by the caller (tr_pool_result_destroy(), also before it is
 * ready); with ret NULL only the callbacks see it.  Does not wait for the
 * result; may take in answers that have arrived.  Errors: -EINVAL,
 * -ENOMEM, TR_ESHUTDOWN (closed or terminated), TR_EDEAD (the pool's
 * supervisor died), -ECHILD. */
TR_API int tr_pool_apply_async(tr_pool *p, const char *fn, const void *arg,
    size_t len, const tr_pool_cb *cb, tr_pool_result **ret);

/* apply: apply_async, then tr_pool_result_get() up to timeout_ms.  On
 * success *ret gets the result (1 item), owned by the caller.  Errors:
 * apply_async's, the task's own error, TR_EDEAD (its worker died, retries
 * spent), -ETIMEDOUT (the task goes on; its result is dropped).  Use
 * apply_async + get to read a failure's text. */
TR_API int tr_pool_apply(tr_pool *p, const char *fn, const void *arg,
    size_t len, tr_pool_result **ret, int timeout_ms);

/* map_async: fn over n items, in chunks of chunksize items (0 = Python's
 * default: n / (4 * processes), rounded up).  The result holds n results
 * in input order once all chunks have ended; if any failed, it fails with
 * the error of the first failing item in input order
 * (tr_pool_result_failed_index()) -- and only after every chunk has
 * ended.  callback gets the whole result.  n may be 0 (ready at once).
 * Errors as apply_async. */
TR_API int tr_pool_map_async(tr_pool *p, const char *fn,
    const tr_pool_item *items, size_t n, size_t chunksize, const tr_pool_cb *cb,
    tr_pool_result **ret);

/* map: map_async, then get up to timeout_ms.  *ret as tr_pool_apply(). */
TR_API int tr_pool_map(tr_pool *p, const char *fn, const tr_pool_item *items,
    size_t n, size_t chunksize, tr_pool_result **ret, int timeout_ms);

/* ---- starmap ---------------------------------------------------------------
 * starmap(fn, [(a, b), (c, d)]): each item is a tuple of nargs arguments,
 * given as n * nargs tr_pool_items, tuple i being args[i * nargs] ..
 * args[i * nargs + nargs - 1].  A tuple travels as one item: a
 * little-endian uint32 count, then each argument as a little-endian
 * uint32 length and its bytes; the task function takes it apart with
 * tr_pool_args_parse(). */

/* starmap_async / starmap: as map_async / map over the n tuples.  Errors
 * as theirs; -EINVAL if nargs is 0 or an argument is over 4 GiB. */
TR_API int tr_pool_starmap_async(tr_pool *p, const char *fn,
    const tr_pool_item *args, size_t n, size_t nargs, size_t chunksize,
    const tr_pool_cb *cb, tr_pool_result **ret);
TR_API int tr_pool_starmap(tr_pool *p, const char *fn, const tr_pool_item *args,
    size_t n, size_t nargs, size_t chunksize, tr_pool_result **ret,
    int timeout_ms);

/* In a task function: split a starmap item into its arguments.  Writes
 * up to max of them to ret (pointing into item) and returns their number,
 * or TR_EBADFRAME if the item is not a tuple (or has more than max). */
TR_API int tr_pool_args_parse(
    const void *item, size_t len, tr_pool_item *ret, size_t max);

/* ---- typed maps ------------------------------------------------------------
 * map for the common cases, without packing items by hand: each item is
 * one int64_t (or double) in native byte order -- the task function
 * reads len == 8 bytes and writes one value of the result's type -- and
 * out[i] gets fn(in[i]).  Blocks like tr_pool_map(); out is written only
 * on success (it may be in itself).  Errors: tr_pool_map()'s, and
 * TR_EBADTYPE if a result is not 8 bytes. */
TR_API int tr_pool_map_int64(tr_pool *p, const char *fn, const int64_t *in,
    int64_t *out, size_t n, size_t chunksize, int timeout_ms);
TR_API int tr_pool_map_double(tr_pool *p, const char *fn, const double *in,
    double *out, size_t n, size_t chunksize, int timeout_ms);

/* ---- imap and imap_unordered ----------------------------------------------
 * Lazy maps over an input that may be huge or endless: the iterator asks
 * the input for items only as chunks finish, so at most `buffersize`
 * chunks are in flight and memory stays flat. */

/* The input: put the next item in *ret (its data borrowed until the next
 * call) and return 1, or return 0 at the end, or a negative error (which
 * ends the map with that error after the results before it). */
typedef int (*tr_pool_next_fn)(void *arg, tr_pool_item *ret);

typedef struct tr_pool_iter tr_pool_iter;

/* imap: fn over the items next(arg) gives, results in input order.
 * chunksize 0 = 1; buffersize = chunks in flight, 0 = 2 * processes.
 * *ret gets an iterator owned by the caller (tr_pool_iter_destroy());
 * next is first called from tr_pool_iter_next(), in the calling thread.
 * The iterator may go on feeding its input after tr_pool_close(), not
 * after terminate or join.  Destroy it before the pool.  Errors: -EINVAL,
 * -ENOMEM, TR_ESHUTDOWN, TR_EDEAD, -ECHILD. */
TR_API int tr_pool_imap(tr_pool *p, const char *fn, tr_pool_next_fn next,
    void *arg, size_t chunksize, size_t buffersize, tr_pool_iter **ret);
/* imap_unordered: the same, results in the order they arrive. */
TR_API int tr_pool_imap_unordered(tr_pool *p, const char *fn,
    tr_pool_next_fn next, void *arg, size_t chunksize, size_t buffersize,
    tr_pool_iter **ret);

/* The next result, waiting up to timeout_ms: returns 1 and sets *ret_data
 * (borrowed, valid until the next call or destroy) and *ret_len; 0 once
 * every result was given; or an error.  An item that failed gives its
 * error once every result before its chunk was given (imap; for
 * imap_unordered, when its chunk arrives); the iterator is then finished
 * (later calls return 0).  Errors: the task's error, TR_EDEAD,
 * TR_ESHUTDOWN, next()'s error, -ETIMEDOUT (-EAGAIN for timeout 0; call
 * again), -EINTR, -ECHILD. */
TR_API int tr_pool_iter_next(
    tr_pool_iter *it, const void **ret_data, size_t *ret_len, int timeout_ms);
/* Input index of the last result given (or of the failing item after an
 * error; -1 if not known). */
TR_API int64_t tr_pool_iter_index(const tr_pool_iter *it);
/* Text of the error that ended the iterator (borrowed; "" if none). */
TR_API const char *tr_pool_iter_error_text(const tr_pool_iter *it);
/* Release; NULL-safe, idempotent, sets *itp to NULL.  Chunks still in
 * flight run to the end; their results are dropped. */
TR_API void tr_pool_iter_destroy(tr_pool_iter **itp);

/* ---- results -------------------------------------------------------------
 */

/* Wait up to timeout_ms until r is ready, then return 0 if it succeeded
 * or its error (the task's, TR_EDEAD, TR_ESHUTDOWN, ...).  Errors of the
 * wait itself: -ETIMEDOUT (-EAGAIN for timeout 0: not ready), -EINTR. */
TR_API int tr_pool_result_get(tr_pool_result *r, int timeout_ms);
/* Wait up to timeout_ms until r is ready: 0 when it is, -ETIMEDOUT. */
TR_API int tr_pool_result_wait(tr_pool_result *r, int timeout_ms);
/* True once ready (takes in answers that have arrived first). */
TR_API bool tr_pool_result_ready(tr_pool_result *r);
/* 1 if ready and succeeded, 0 if ready and failed; -EBUSY if not ready
 * (Python's ValueError). */
TR_API int tr_pool_result_successful(tr_pool_result *r);

/* Number of item results (1 for apply, n for map); 0 until it succeeded. */
TR_API size_t tr_pool_result_count(const tr_pool_result *r);
/* Item i's result bytes (borrowed, valid until destroy; *ret_len its
 * size), or NULL if i is out of range or r did not succeed. */
TR_API const void *tr_pool_result_data(
    const tr_pool_result *r, size_t i, size_t *ret_len);
/* The error once ready (0 if it succeeded), or -EBUSY. */
TR_API int tr_pool_result_error(const tr_pool_result *r);
/* Text of the error (borrowed; "" when none). */
TR_API const char *tr_pool_result_error_text(const tr_pool_result *r);
/* Input index of the first failing item, or -1 (none, or not known: the
 * worker died or the pool stopped). */
TR_API int64_t tr_pool_result_failed_index(const tr_pool_result *r);

/* Release; NULL-safe, idempotent, sets *rp to NULL.  An unfinished
 * result's tasks go on; their callbacks still fire. */
TR_API void tr_pool_result_destroy(tr_pool_result **rp);

/* ---- the pool as an actor in a supervision tree ---------------------------
 * A pool can run as an actor of its own (TR_POOL_ACTOR), a child of the
 * user's supervisor: the actor owns a tr_pool (its supervisor and workers
 * are the actor's subtree), registers a name, and serves maps and applies
 * asked by any actor of the run with tr_pool_call_map() /
 * tr_pool_call_apply().  It answers the calls in the order their results
 * are ready, many at once.  If the actor dies (SIGKILL, a crash), its
 * pool's supervisor and workers die with it (PR_SET_PDEATHSIG down the
 * tree) and the user's supervisor starts a fresh pool per its strategy;
 * if the pool's own supervisor dies, the actor fails the calls in hand
 * with TR_EDEAD and exits with code 1, so it is restarted the same way.
 * SIGTERM (the user's supervisor stopping it) terminates the pool --
 * calls in hand fail with TR_ESHUTDOWN, the workers are stopped and
 * reaped -- then ends the actor with exit code 0 once those answers
 * are delivered.  Wire format:
 * docs/protocol.md, "The pool as an actor". */

#define TR_POOL_ACTOR "troupe.pool"

struct tr_child_spec;

/* Fill *c for a pool actor (tr_child_spec_init() of id and TR_POOL_ACTOR:
 * permanent, a worker, a shutdown of 5 s), which registers name (NULL =
 * none; then reach it through which_children()'s address) and runs a
 * tr_pool with opts (NULL = defaults; the initializer's name and
 * arguments are copied).  The arguments are packed into *ret_args,
 * which c->args points to: the caller frees it with free() once the
 * supervisor has the spec (after tr_supervisor_start(),
 * tr_supervisor_start_child() or tr_supervisor_run() returned).  id is
 * borrowed.  opts->nodes (workers on other nodes) is copied too.  Never
 * blocks.  Errors: -EINVAL (NULL c, id or ret_args, a bad name or option,
 * more than TR_POOL_NODES_MAX nodes), -ENOMEM. */
TR_API int tr_pool_child_spec(struct tr_child_spec *c, const char *id,
    const char *name, const tr_pool_opts *opts, void **ret_args);

/* Ask the pool actor registered as name to map fn over n items (copied;
 * chunksize as tr_pool_map_async()), and wait up to timeout_ms for the
 * whole result (one call: it blocks, watching the actor for death).  On
 * success *ret gets a ready result owned by the caller, read with the
 * tr_pool_result_* calls above (tr_pool_result_destroy()).  If the map
 * failed, the call returns its error and *ret gets the failed result
 * (its text and failed index), for the caller to destroy.  Errors:
 * -EINVAL, -ENOMEM, TR_ENOTFOUND (no actor has the name), the map's
 * error (the task's, TR_EDEAD, TR_ESHUTDOWN, TR_ENOACTOR, TR_ETOOBIG:
 * the results exceed the message size), tr_call()'s (-ETIMEDOUT: the
 * map goes on in the pool and its answer is dropped; TR_EDEAD: the pool
 * actor died), TR_EBADFRAME (an answer that does not decode or match). */
TR_API int tr_pool_call_map(const char *name, const char *fn,
    const tr_pool_item *items, size_t n, size_t chunksize, tr_pool_result **ret,
    int timeout_ms);

/* tr_pool_call_map() of one item: fn on len bytes at arg (may be NULL
 * when len is 0). */
TR_API int tr_pool_call_apply(const char *name, const char *fn, const void *arg,
    size_t len, tr_pool_result **ret, int timeout_ms);

/* tr_pool_call_map() over an array of int64_t, as tr_pool_map_int64():
 * out[i] gets fn(in[i]); out is written only on success. */
TR_API int tr_pool_call_map_int64(const char *name, const char *fn,
    const int64_t *in, int64_t *out, size_t n, size_t chunksize,
    int timeout_ms);

#ifdef __cplusplus
}
#endif

#endif /* TR_POOL_H */
