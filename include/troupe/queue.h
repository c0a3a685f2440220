/* SPDX-License-Identifier: MIT */
#ifndef TR_QUEUE_H
#define TR_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "troupe/common.h" /* TR_API, TR_TIMEOUT_INFINITE, TR_E* */
#include "troupe/msg.h"    /* tr_msg, tr_addr */

#ifdef __cplusplus
extern "C" {
#endif

/* tr_queue -- a FIFO shared by many processes, like Python's
 * multiprocessing.Queue, JoinableQueue and SimpleQueue.  The items live in
 * a broker actor ("troupe.queue", its own process, run by a supervisor of
 * its own that the creator starts); a tr_queue is a client handle onto
 * it.  Items are tr_msg payloads: raw bytes or packed protobuf messages,
 * whose type name travels with them.
 *
 * Handing a queue to a child: pass tr_queue_addr() (text: the queue's name,
 * or its broker's address) as, or inside, the child's arguments and call
 * tr_queue_open() there.  This works under every start method, and for
 * members on other nodes (the broker's node-global address; they go by
 * message: docs/distribution.md, "Queue, Event and the locks across
 * nodes").  A handle
 * belongs to one thread of the process that made it; from a fork()ed
 * child every call returns -ECHILD.
 *
 * Timeouts: 0 checks once and never waits, TR_TIMEOUT_INFINITE waits for
 * ever, any other negative value is -EINVAL.  No call hangs on a dead
 * broker: a call in progress when it dies, and every later call on the
 * handle, fails with TR_EDEAD.
 *
 * Delivery (docs/guarantees.md, "Queue"):
 *  - tr_queue_put() returns 0 once the broker holds the item (unless a
 *    put window is set: tr_queue_set_put_window()).  A process that puts
 *    and then exits at once loses nothing and does not hang.  On the
 *    broker's host the item goes into a ring of the broker's memory that
 *    the handle maps (no round trip; SIGKILL-safe once put returned);
 *    TROUPE_QUEUE_SHM=0 in the environment makes every put a message.
 *  - Items from one producer are got in the order put; items a consumer
 *    was sent and did not take go back to the front of the queue.
 *  - Consumers take up to their window (tr_queue_set_window()) of items
 *    in advance.  On the broker's host the broker writes them into a ring
 *    of its memory that the handle maps (TROUPE_QUEUE_SHM=0: by message,
 *    below), and a get acknowledges its item on the ring before it
 *    returns, with no message.  The broker monitors consumers: items
 *    written to one that dies or destroys its handle and not got go back
 *    to the front of the queue, in order, for the other consumers.  So
 *    every item put is got exactly once, also when consumers are killed.
 *  - By message (another host, or TROUPE_QUEUE_SHM=0): the broker sends
 *    the items to the handle's mailbox (in batches of up to 64 items per
 *    message), and the handle acknowledges the items it got, one-way (no
 *    round trip), in groups: at the latest when it has got 16 since the
 *    last group, at once when it has got every item it was sent, and
 *    before any other call (qsize, empty, full, destroy).  The group goes
 *    out before get returns its last item.  Every item put is got at
 *    least once, and exactly once unless a consumer is killed: then the
 *    items it got and had not acknowledged yet -- at most 16, the last it
 *    got -- are got again by another consumer.  Items it was sent and did
 *    not get are got once, by another.
 *  - A consumer handle that does not call get holds up to its window of
 *    items until it calls get again, is destroyed or dies; they count in
 *    tr_queue_qsize() meanwhile.
 *
 * The broker's death: its items are lost.  Every call waiting on it
 * returns TR_EDEAD at once, as does every later call on a handle to it.
 * Its supervisor restarts it, empty, at a new address; a named queue is
 * found again by its name: tr_queue_open() the name again to use it. */
typedef struct tr_queue tr_queue;

/* Registered name of the broker actor. */
#define TR_QUEUE_ACTOR "troupe.queue"

enum tr_queue_kind {
	TR_QUEUE_PLAIN    = 0, /* multiprocessing.Queue */
	TR_QUEUE_JOINABLE = 1, /* JoinableQueue: adds task_done and join */
	TR_QUEUE_SIMPLE   = 2, /* SimpleQueue: unbounded, no size queries */
};

/* How to make a queue.  All zeroes means the defaults: a plain, unbounded,
 * anonymous queue, a 10 s start timeout. */
typedef struct tr_queue_opts {
	size_t      maxsize;  /* most items held at once; 0 = unbounded */
	const char *name;     /* register the broker under this name (letters,
	                       * digits, "._-", < 64 bytes); NULL = none */
	int kind;             /* enum tr_queue_kind */
	int start_timeout_ms; /* for the broker to run; 0 = 10000 */
} tr_queue_opts;

/* Default number of items a consumer handle asks for in advance. */
#define TR_QUEUE_WINDOW_DEFAULT 64

/* Start a queue: a supervisor (a daemon child of the caller: it is
 * stopped when the caller exits) running the broker.  Blocks until the
 * broker runs.  opts may be NULL (defaults).  *ret gets the creator's
 * handle, owned by the caller; destroying it stops the broker.  Errors:
 * -EINVAL (a bad option; maxsize with a SimpleQueue), TR_EEXISTS (name
 * taken), -ENOMEM, TR_ENOTINIT, TR_ESTARTFAIL, -ETIMEDOUT. */
TR_API int tr_queue_new(tr_queue **ret, const tr_queue_opts *opts);

/* Attach to a queue by the text tr_queue_addr() gave (a name or an
 * address).  Does not block beyond a name lookup; the broker is first
 * spoken to by the first call.  *ret is the caller's.  Errors: -EINVAL,
 * TR_ENOTFOUND (no such name), -ENOMEM, TR_ENOTINIT. */
TR_API int tr_queue_open(tr_queue **ret, const char *where);

/* Release the handle and set *qp to NULL; NULL-safe, idempotent.  Items
 * sent to this handle and not got go back to the queue.  The creator's
 * handle also stops the broker (its items are lost; other handles then
 * get TR_EDEAD).  Blocks at most a few seconds for that. */
TR_API void tr_queue_destroy(tr_queue **qp);

/* The text to hand to tr_queue_open() in another process: the queue's
 * name if it has one, else its broker's address -- once this run has a
 * node (tr_node_start()), the node-global one, which opens the queue from
 * any node (a name is looked up in the opener's run only).  Borrowed,
 * valid until the next call or destroy.  Never NULL for a valid handle.
 * Does not block (it reads this run's node file). */
TR_API const char *tr_queue_addr(const tr_queue *q);

/* The broker's address now (it changes when the broker is restarted). */
TR_API tr_addr tr_queue_broker(const tr_queue *q);

/* Items this handle asks for in advance when it gets (default
 * TR_QUEUE_WINDOW_DEFAULT, at most 4096).  Takes effect at the next
 * request for credit.  Errors: -EINVAL. */
TR_API int tr_queue_set_window(tr_queue *q, unsigned window);

/* Put window (default 0): how many puts of this handle that go by message
 * (not on the producer's ring: another host, TROUPE_QUEUE_SHM=0, items
 * over 64 KiB, a full ring) may go one-way, without waiting for the
 * broker's answer.  With 0 every put is a round
 * trip and returns once the broker holds the item.  With n > 0, on an
 * unbounded queue, each answered put also grants the handle n one-way
 * puts: those return once the item is handed to this process's runtime
 * (queued for the broker, in order), which delivers it before the process
 * exits however it exits normally (the exit handshake), but loses it if
 * the process is SIGKILLed first or the broker dies.  A put under a grant
 * is taken even if another process closed the queue meanwhile (the
 * producer learns of the close at its next answered put), and dropped if
 * it was shut down.  Bounded queues never grant (every put is answered),
 * so TR_EFULL stays exact.  Errors: -EINVAL (more than 4096). */
TR_API int tr_queue_set_put_window(tr_queue *q, unsigned window);

/* Append *itemp, waiting up to timeout_ms while the queue is full.
 * Returns 0 once the broker holds the item: then the queue owns it and
 * *itemp is NULL.  On failure the caller still owns it, and the failed
 * put took no room in the queue.  Errors: TR_EFULL (still full at the
 * timeout, or at once with timeout 0), TR_ECLOSED (tr_queue_close() was
 * called), TR_EQSHUTDOWN, TR_ETOOBIG (over this process's mailbox maximum,
 * tr_mailbox_set_max_size(), or over 64 MiB less 64 KiB, the most a
 * broker with the default maximum takes in; consumers must keep a maximum
 * at least as large as the largest item),
 * TR_EDEAD (no broker), -EINVAL, -ECHILD. */
TR_API int tr_queue_put(tr_queue *q, tr_msg **itemp, int timeout_ms);

/* tr_queue_put() of a copy of len bytes at data (NULL only with len 0). */
TR_API int tr_queue_put_bytes(
    tr_queue *q, const void *data, size_t len, int timeout_ms);

/* Take the oldest item into *ret (the caller owns it: tr_msg_destroy();
 * tr_msg_type() gives its type, "" for bytes), waiting up to timeout_ms
 * while the queue is empty.  With timeout 0 it asks the broker once (one
 * round trip) unless an item is already here.  Errors: TR_EEMPTY (still
 * empty at the timeout), TR_ECLOSED (closed and drained), TR_EQSHUTDOWN
 * (shut down: at once if immediate, else once drained), TR_EDEAD (the
 * broker died), -EINVAL, -ECHILD, -ENOMEM. */
TR_API int tr_queue_get(tr_queue *q, tr_msg **ret, int timeout_ms);

/* Wait up to timeout_ms until a tr_queue_get() would return at once: an
 * item is here, or get would fail at once (closed and drained, shut down,
 * broker dead).  Returns 1 then, 0 on timeout, negative on error
 * (-EINVAL for a bad timeout, -ECHILD).  It may take an item out of this
 * process's mailbox into the handle (never from another process), and it
 * asks for credit if the handle has none, so the next get finds it.
 *
 * For a generic wait (tr_wait): the readiness of a queue changes only
 * when a message arrives in this process's mailbox, so when tr_poll()
 * reports the mailbox readable, call tr_queue_poll(q, 0) on each queue
 * (after the first tr_queue_poll(q, 0), which asks for credit and may
 * make one round trip to the broker; later ones with credit outstanding
 * do not).  A handle on a ring: a poll that finds the ring empty asks the
 * broker once (one round trip) and leaves a flag on the ring, so the
 * broker's next write to it also puts a wake-up message in the mailbox. */
TR_API int tr_queue_poll(tr_queue *q, int timeout_ms);

/* tr_queue_poll(q, 0) with the signature of tr_wait()'s ready callback
 * (troupe/wait.h): a queue reader among the things tr_wait() waits on,
 *   tr_waitable w[] = { TR_WAITABLE_QUEUE(q), TR_WAITABLE_PIPE(end) };
 * The first call may make one round trip to the broker (it asks for
 * credit); later ones do not block. */
TR_API int tr_queue_ready(void *q);
#define TR_WAITABLE_QUEUE(q) TR_WAITABLE_READY(tr_queue_ready, (void *) (q))

/* Items the broker holds now: queued, plus sent to consumers and not yet
 * acknowledged (stale on return).  One round trip.  Errors: -EOPNOTSUPP
 * (SimpleQueue), TR_EDEAD, -ECHILD. */
TR_API int64_t tr_queue_qsize(tr_queue *q);
/* 1 if the queue holds nothing / is at maxsize, 0 if not; errors as
 * qsize.  A SimpleQueue answers empty() (Python's SimpleQueue has it). */
TR_API int tr_queue_empty(tr_queue *q);
TR_API int tr_queue_full(tr_queue *q);
/* maxsize the queue was made with (0 = unbounded), or -errno. */
TR_API int64_t tr_queue_maxsize(tr_queue *q);

/* Close the queue for every process: later puts fail with TR_ECLOSED,
 * blocked puts too; gets drain what is left, then fail with TR_ECLOSED.
 * 0 also when already closed.  Errors: TR_EDEAD, -ECHILD. */
TR_API int tr_queue_close(tr_queue *q);

/* Python 3.13's Queue.shutdown(immediate): puts, blocked and later, fail
 * with TR_EQSHUTDOWN; gets fail with it once the queue is drained, or at
 * once if immediate (the items are dropped and, for a JoinableQueue, count
 * as done, so join() returns).  0 also when already shut down.  Errors:
 * TR_EDEAD, -ECHILD. */
TR_API int tr_queue_shutdown(tr_queue *q, bool immediate);

/* JoinableQueue: mark one item got as done.  On the broker's host one
 * atomic decrement of a count in the broker's memory (the first call maps
 * it: one round trip), no message; a round trip when the count is 0 (the
 * broker then judges, counting every put that returned) or by message
 * (another host, TROUPE_QUEUE_SHM=0).  Does not block otherwise.  Errors:
 * TR_ETASKDONE (called more times than items were put: returned by this
 * call), -EOPNOTSUPP (not a JoinableQueue), TR_EDEAD, -ECHILD. */
TR_API int tr_queue_task_done(tr_queue *q);

/* JoinableQueue: wait up to timeout_ms until every item ever put has been
 * marked done (returns exactly then: the broker answers when its count
 * reaches zero).  Errors: -ETIMEDOUT, -EOPNOTSUPP, TR_EDEAD, -EINVAL, -ECHILD.
 */
TR_API int tr_queue_join(tr_queue *q, int timeout_ms);

#ifdef __cplusplus
}
#endif

#endif /* TR_QUEUE_H */
