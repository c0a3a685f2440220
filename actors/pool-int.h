/* SPDX-License-Identifier: MIT */
/* The pool's internals, shared by pool.c (the handle and its dispatcher),
 * pool-result.c (async results) and pool-worker.c (the worker actor and
 * the registry of task functions). */
#ifndef TRI_POOL_INT_H
#define TRI_POOL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "troupe.h"
#include "troupe/pool.h"

#include "pool.pb-c.h"

/* The worker actor, started by the pool's supervisor. */
#define TRI_POOL_WORKER_ACTOR "troupe.pool.worker"
#define TRI_POOL_TEXT_MAX     256
/* Defaults of tr_pool_opts' zero fields. */
#define TRI_POOL_PREFETCH 2
/* Adaptive credit (prefetch 0): a worker whose tasks take less than
 * SHORT_NS each gets up to PREFETCH_MAX in flight, one whose tasks take
 * more than LONG_NS goes back to PREFETCH (a deep FIFO of long tasks on
 * one worker would leave the others idle at the end). */
#define TRI_POOL_PREFETCH_MAX     32
#define TRI_POOL_SHORT_NS         1000000.0
#define TRI_POOL_LONG_NS          4000000.0
#define TRI_POOL_START_TIMEOUT_MS 10000
/* Tasks sent to one worker in one message (a batch), when its credit is
 * up (its tasks are short) and each task's items are at most
 * BATCH_ITEM_MAX bytes: one message instead of many for apply_async. */
#define TRI_POOL_BATCH_MAX      16
#define TRI_POOL_BATCH_ITEM_MAX 4096
/* A worker's shutdown when the pool stops: SIGTERM, then SIGKILL. */
#define TRI_POOL_WORKER_SHUTDOWN_MS 1000

/* ---- registry (pool-worker.c) ---- */
tr_pool_fn      tri_pool_fn_find(const char *name);
tr_pool_init_fn tri_pool_init_find(const char *name);

/* ---- results (pool-result.c) ---- */

/* One item's result: a slice of a chunk's unpacked answer. */
struct tri_pool_slot {
	const uint8_t *data;
	size_t         len;
};

struct tr_pool_result {
	int        refs; /* the caller's (if any) + the pool's until ready */
	tr_pool   *pool; /* NULL once ready */
	tr_pool_cb cb;
	bool       ready;
	char       fn[64]; /* the task function */
	int        error;
	int64_t    failed_index;
	char       text[TRI_POOL_TEXT_MAX];
	size_t     n;          /* items */
	size_t     tasks_left; /* chunks not yet ended */
	size_t     nchunks;
	struct tri_pool_slot *slots;  /* n */
	Trwire__PoolResult  **chunks; /* nchunks answers, owning the data */
};

/* A new result for n items in nchunks tasks, with one reference for the
 * pool (and one more for the caller if caller_ref).  NULL on ENOMEM. */
tr_pool_result *tri_pool_result_new(
    tr_pool *p, size_t n, size_t nchunks, const tr_pool_cb *cb);
void tri_pool_result_unref(tr_pool_result *r);
/* Chunk `chunk` (items first .. first + k - 1) answered with ans (taken
 * over in every case). */
void tri_pool_result_answer(tr_pool_result *r, size_t chunk, size_t first,
    size_t k, Trwire__PoolResult *ans);
/* Chunk `chunk` failed without an answer (worker died, pool stopped):
 * err, the text, and the input index to report (-1 = none). */
void tri_pool_result_fail(
    tr_pool_result *r, int err, int64_t index, const char *text);
/* ---- the pool and its dispatcher (pool.c, pool-dispatch.c) ---- */

struct task {
	struct task    *next;
	uint64_t        id;
	tr_pool_result *res;
	size_t          chunk, first; /* chunk number; its first item */
	uint32_t        n;            /* items */
	bool            fixed;        /* all items fixed_len bytes: no lens */
	uint32_t        fixed_len;
	uint32_t       *lens; /* n (unless fixed), then the items */
	uint8_t        *data;
	size_t          len;
	int             deaths; /* workers that died holding it */
};

struct worker {
	tr_addr       addr;
	uint64_t      ref;  /* monitor */
	unsigned      sent; /* tasks given, for maxtasksperchild */
	bool          gone; /* a send failed: its DOWN is coming */
	struct task **held; /* FIFO of at most credit tasks */
	int           nheld;
	int           credit;  /* tasks it may hold now */
	int64_t       last_ns; /* its last answer, if it was busy since */
	double        gap_ns;  /* mean time between answers while busy */
	int           node;    /* index in tr_pool.nodes (0 without) */
};

enum { TRI_POOL_RUNNING, TRI_POOL_CLOSED, TRI_POOL_STOPPED };

struct tr_pool {
	pid_t          owner;
	uint64_t       token; /* correlation id of our tasks and answers */
	tr_supervisor *sup;
	uint64_t       sup_ref;
	int            state;
	int            broken; /* error for new tasks once the tree died */
	int            nproc, prefetch, retries, maxtasks;
	bool           adaptive; /* prefetch 0: credit by task length */
	struct worker *w;
	int            nw;
	int            rr;          /* round-robin start of the next dispatch */
	struct task   *head, *tail; /* not yet sent */
	size_t         unfinished;  /* tasks not ended: queued or held */
	uint64_t       next_id;
	bool           pumping;
	tr_pool_stats  st;
	/* tr_pool_opts.nodes; none: every worker in this run */
	char nodes[TR_POOL_NODES_MAX][TR_NODE_NAME_MAX];
	int  nnodes;
};

/* A task for items (copied) as chunk `chunk` of res, starting at input
 * index first.  NULL on ENOMEM (or an item over 4 GiB). */
struct task *tri_pool_task_new(tr_pool_result *res, size_t chunk, size_t first,
    const tr_pool_item *items, size_t n);
/* The same for n items of size bytes each, contiguous at data. */
struct task *tri_pool_task_new_fixed(tr_pool_result *res, size_t chunk,
    size_t first, const uint8_t *data, size_t size, size_t n);
/* An answer's results agree with the k items of its task: their lengths
 * (lens, or count of fixed_len) add up to its data. */
bool tri_pool_answer_fits(const Trwire__PoolResult *a, size_t k);
void tri_pool_push_back(tr_pool *p, struct task *t);
void tri_pool_push_front(tr_pool *p, struct task *t);
/* Start one more worker and monitor it: on node `node` (an index in
 * p->nodes) if it can, else the next ones in the list. */
int tri_pool_worker_start(tr_pool *p, int node);
/* Fail every task, queued or held (the pool stopped or its tree died). */
void tri_pool_fail_everything(tr_pool *p, int err, const char *text);
/* A tr_recv_match() filter: the pool's answers and its DOWNs. */
bool tri_pool_is_ours(const tr_msg *m, void *arg);
/* Queue n items (copied) in chunks of chunksize (0 = Python's default)
 * as one result, *ret (if not NULL) a reference for the caller.  iter:
 * an imap iterator's feed, allowed after close. */
int tri_pool_submit(tr_pool *p, const char *fn, const tr_pool_item *items,
    size_t n, size_t chunksize, const tr_pool_cb *cb, tr_pool_result **ret,
    bool iter);
/* The same for n items of size bytes each, contiguous at base (typed
 * maps: no item array, and the tasks and answers carry no lengths). */
int tri_pool_submit_fixed(tr_pool *p, const char *fn, const void *base,
    size_t size, size_t n, size_t chunksize, const tr_pool_cb *cb,
    tr_pool_result **ret);
/* Send what can be sent, then wait up to timeout_ms for an answer or a
 * DOWN and take in all that have arrived.  0 if something came, else
 * tr_recv_match()'s error (-ETIMEDOUT, -EAGAIN, -EINTR), -ECHILD, or
 * -EDEADLK from inside a callback that waits. */
int tri_pool_pump(tr_pool *p, int timeout_ms);

/* Take in m, one of ours (tri_pool_is_ours()) that the caller received
 * itself (the pool actor's loop), and send what can be sent.  m stays
 * the caller's. */
void tri_pool_take(tr_pool *p, const tr_msg *m);

/* ---- the pool as an actor (pool-server.c, pool-remote.c) ---- */
/* PoolResult.failed of a call's answer when the index is not known. */
#define TRI_POOL_INDEX_UNKNOWN 0xffffffffu
/* How long the pool actor waits for a caller's mailbox to take its
 * answer. */
#define TRI_POOL_REPLY_MS 1000
/* The pool actor's body (pool-server.c), registered by pool-remote.c. */
int tri_pool_actor(const void *args, size_t len);

#endif /* TRI_POOL_INT_H */
