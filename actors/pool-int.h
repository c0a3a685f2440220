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
#define TRI_POOL_PREFETCH         2
#define TRI_POOL_START_TIMEOUT_MS 10000
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
/* Wait helpers: the pool's pump (pool.c). */
int tri_pool_pump(tr_pool *p, int timeout_ms);

#endif /* TRI_POOL_INT_H */
