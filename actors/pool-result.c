/* SPDX-License-Identifier: MIT */
/* tr_pool_result: an asynchronous result.  The pool holds a reference
 * until the result is ready, the caller one until it destroys it; the
 * callbacks fire once, when the last of its chunks ends. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <protobuf-c/protobuf-c.h>

#include "pool-int.h"

tr_pool_result *
tri_pool_result_new(tr_pool *p, size_t n, size_t nchunks, const tr_pool_cb *cb)
{
	tr_pool_result *r = calloc(1, sizeof(*r));

	if (!r) {
		return NULL;
	}
	r->slots  = calloc(n ? n : 1, sizeof(*r->slots));
	r->chunks = calloc(nchunks ? nchunks : 1, sizeof(*r->chunks));
	if (!r->slots || !r->chunks) {
		free(r->slots);
		free(r->chunks);
		free(r);
		return NULL;
	}
	r->refs         = 1;
	r->pool         = p;
	r->n            = n;
	r->nchunks      = nchunks;
	r->tasks_left   = nchunks;
	r->failed_index = -1;
	if (cb) {
		r->cb = *cb;
	}
	return r;
}

static void
result_free(tr_pool_result *r)
{
	for (size_t i = 0; i < r->nchunks; i++) {
		if (r->chunks[i]) {
			trwire__pool_result__free_unpacked(r->chunks[i], NULL);
		}
	}
	free(r->chunks);
	free(r->slots);
	free(r);
}

void
tri_pool_result_unref(tr_pool_result *r)
{
	if (r && --r->refs == 0) {
		result_free(r);
	}
}

/* The last chunk ended: ready, callbacks, the pool's reference goes. */
static void
chunk_ended(tr_pool_result *r)
{
	if (--r->tasks_left > 0) {
		return;
	}
	r->ready = true;
	r->pool  = NULL;
	if (r->error) {
		/* the results of the chunks that did succeed are of no use */
		for (size_t i = 0; i < r->nchunks; i++) {
			if (r->chunks[i]) {
				trwire__pool_result__free_unpacked(
				    r->chunks[i], NULL);
				r->chunks[i] = NULL;
			}
		}
		memset(r->slots, 0, r->n * sizeof(*r->slots));
	}
	r->refs++; /* the callback may destroy the caller's reference */
	if (r->error && r->cb.error_callback) {
		r->cb.error_callback(r, r->cb.arg);
	} else if (!r->error && r->cb.callback) {
		r->cb.callback(r, r->cb.arg);
	}
	tri_pool_result_unref(r); /* the callback's */
	tri_pool_result_unref(r); /* the pool's */
}

static void
record_error(tr_pool_result *r, int err, int64_t index, const char *text)
{
	/* the first failing item in input order wins; an unknown index
	 * (-1) only if nothing better is known */
	if (r->error &&
	    (index < 0 || (r->failed_index >= 0 && r->failed_index <= index))) {
		return;
	}
	r->error        = err;
	r->failed_index = index;
	snprintf(r->text, sizeof(r->text), "%s", text ? text : "");
}

void
tri_pool_result_answer(tr_pool_result *r, size_t chunk, size_t first, size_t k,
    Trwire__PoolResult *ans)
{
	size_t off = 0;

	if (ans->error) {
		int64_t idx = (int64_t) (first + ans->failed);

		record_error(r, ans->error < 0 ? ans->error : -EPROTO, idx,
		    ans->error_text);
		trwire__pool_result__free_unpacked(ans, NULL);
		chunk_ended(r);
		return;
	}
	for (size_t i = 0; i < k; i++) {
		size_t len = ans->count ? ans->fixed_len : ans->lens[i];

		r->slots[first + i].data = ans->data.data + off;
		r->slots[first + i].len  = len;
		off += len;
	}
	r->chunks[chunk] = ans;
	chunk_ended(r);
}

void
tri_pool_result_fail(
    tr_pool_result *r, int err, int64_t index, const char *text)
{
	record_error(r, err, index, text);
	chunk_ended(r);
}

/* ---- the public calls ------------------------------------------------------
 */

int
tr_pool_result_wait(tr_pool_result *r, int timeout_ms)
{
	int64_t deadline;
	int     rc;

	if (!r || timeout_ms < TR_TIMEOUT_INFINITE) {
		return -EINVAL;
	}
	deadline = tr_deadline(timeout_ms);
	while (!r->ready) {
		int left = tr_deadline_left(deadline);

		if (!r->pool) {
			return -EINVAL; /* cannot happen: ready first */
		}
		rc = tri_pool_pump(r->pool, left);
		if (rc < 0 && rc != -ETIMEDOUT && rc != -EAGAIN) {
			return rc;
		}
		if (!r->ready && (rc == -ETIMEDOUT || rc == -EAGAIN) &&
		    tr_deadline_left(deadline) == 0) {
			return timeout_ms == 0 ? -EAGAIN : -ETIMEDOUT;
		}
	}
	return 0;
}

int
tr_pool_result_get(tr_pool_result *r, int timeout_ms)
{
	int rc = tr_pool_result_wait(r, timeout_ms);

	return rc < 0 ? rc : r->error;
}

bool
tr_pool_result_ready(tr_pool_result *r)
{
	if (r && !r->ready && r->pool) {
		(void) tri_pool_pump(r->pool, 0);
	}
	return r && r->ready;
}

int
tr_pool_result_successful(tr_pool_result *r)
{
	if (!r) {
		return -EINVAL;
	}
	if (!tr_pool_result_ready(r)) {
		return -EBUSY;
	}
	return r->error == 0;
}

size_t
tr_pool_result_count(const tr_pool_result *r)
{
	return r && r->ready && !r->error ? r->n : 0;
}

const void *
tr_pool_result_data(const tr_pool_result *r, size_t i, size_t *ret_len)
{
	if (!r || !r->ready || r->error || i >= r->n) {
		return NULL;
	}
	if (ret_len) {
		*ret_len = r->slots[i].len;
	}
	/* an empty result still gets a non-NULL pointer */
	return r->slots[i].data ? (const void *) r->slots[i].data : "";
}

int
tr_pool_result_error(const tr_pool_result *r)
{
	if (!r) {
		return -EINVAL;
	}
	return r->ready ? r->error : -EBUSY;
}

const char *
tr_pool_result_error_text(const tr_pool_result *r)
{
	return r && r->ready ? r->text : "";
}

int64_t
tr_pool_result_failed_index(const tr_pool_result *r)
{
	return r && r->ready && r->error ? r->failed_index : -1;
}

void
tr_pool_result_destroy(tr_pool_result **rp)
{
	if (rp && *rp) {
		tri_pool_result_unref(*rp);
		*rp = NULL;
	}
}
