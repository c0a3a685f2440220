/* SPDX-License-Identifier: MIT */
/* tr_pool_iter: imap and imap_unordered.  The iterator pulls items from
 * its input only when fewer than `buffersize` of its chunks are in
 * flight, each chunk an ordinary one-task result; so an endless input
 * costs no more memory than a short one. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pool-int.h"

struct chunk {
	tr_pool_result *r;
	int64_t         first; /* input index of its first item */
};

struct tr_pool_iter {
	tr_pool        *p;
	char            fn[64];
	tr_pool_next_fn next;
	void           *arg;
	bool            ordered;
	size_t          chunksize, buffersize;
	struct chunk   *ring; /* in flight, oldest first */
	size_t          count;
	struct chunk    cur; /* the chunk being given out */
	size_t          pos;
	int64_t         fed;   /* items taken from the input */
	bool            ended; /* the input said end (or failed) */
	int             input_err;
	bool            finished;
	int64_t         index;
	char            text[TRI_POOL_TEXT_MAX];
	uint8_t        *buf; /* one chunk's items, copied */
	size_t          cap;
	size_t         *offs;  /* chunksize + 1 */
	tr_pool_item   *items; /* chunksize */
};

static int
iter_new(tr_pool *p, const char *fn, tr_pool_next_fn next, void *arg,
    size_t chunksize, size_t buffersize, bool ordered, tr_pool_iter **ret)
{
	tr_pool_iter *it;

	if (!p || !fn || !fn[0] || strlen(fn) >= 64 || !next || !ret) {
		return -EINVAL;
	}
	if (p->owner != getpid()) {
		return -ECHILD;
	}
	if (p->state == TRI_POOL_STOPPED || p->state == TRI_POOL_CLOSED) {
		return TR_ESHUTDOWN;
	}
	if (p->broken) {
		return p->broken;
	}
	it = calloc(1, sizeof(*it));
	if (!it) {
		return -ENOMEM;
	}
	it->p          = p;
	it->next       = next;
	it->arg        = arg;
	it->ordered    = ordered;
	it->chunksize  = chunksize ? chunksize : 1;
	it->buffersize = buffersize ? buffersize : 2 * (size_t) p->nproc;
	it->index      = -1;
	snprintf(it->fn, sizeof(it->fn), "%s", fn);
	it->ring  = calloc(it->buffersize, sizeof(*it->ring));
	it->offs  = calloc(it->chunksize + 1, sizeof(*it->offs));
	it->items = calloc(it->chunksize, sizeof(*it->items));
	if (!it->ring || !it->offs || !it->items) {
		tr_pool_iter_destroy(&it);
		return -ENOMEM;
	}
	*ret = it;
	return 0;
}

int
tr_pool_imap(tr_pool *p, const char *fn, tr_pool_next_fn next, void *arg,
    size_t chunksize, size_t buffersize, tr_pool_iter **ret)
{
	return iter_new(p, fn, next, arg, chunksize, buffersize, true, ret);
}

int
tr_pool_imap_unordered(tr_pool *p, const char *fn, tr_pool_next_fn next,
    void *arg, size_t chunksize, size_t buffersize, tr_pool_iter **ret)
{
	return iter_new(p, fn, next, arg, chunksize, buffersize, false, ret);
}

/* Copy one input item into the chunk being gathered. */
static int
gather(tr_pool_iter *it, size_t k, const tr_pool_item *item)
{
	size_t need = it->offs[k] + item->len;

	if (!item->data && item->len) {
		return -EINVAL;
	}
	if (need > it->cap) {
		size_t   cap = it->cap ? it->cap : 256;
		uint8_t *nb;

		while (cap < need) {
			cap *= 2;
		}
		nb = realloc(it->buf, cap);
		if (!nb) {
			return -ENOMEM;
		}
		it->buf = nb;
		it->cap = cap;
	}
	if (item->len) {
		memcpy(it->buf + it->offs[k], item->data, item->len);
	}
	it->offs[k + 1] = need;
	return 0;
}

/* Submit chunks while fewer than buffersize are in flight. */
static int
feed(tr_pool_iter *it)
{
	while (!it->ended && it->count < it->buffersize) {
		tr_pool_item item;
		size_t       k = 0;
		int          r = 0;

		while (k < it->chunksize) {
			r = it->next(it->arg, &item);
			if (r <= 0) {
				it->ended     = true;
				it->input_err = r;
				break;
			}
			r = gather(it, k, &item);
			if (r < 0) {
				it->ended     = true;
				it->input_err = r;
				break;
			}
			k++;
		}
		if (k == 0) {
			break;
		}
		for (size_t i = 0; i < k; i++) {
			it->items[i].data = it->buf + it->offs[i];
			it->items[i].len  = it->offs[i + 1] - it->offs[i];
		}
		r = tri_pool_submit(it->p, it->fn, it->items, k, k, NULL,
		    &it->ring[it->count].r, true);
		if (r < 0) {
			return r;
		}
		it->ring[it->count++].first = it->fed;
		it->fed += (int64_t) k;
	}
	return 0;
}

static int
finish(tr_pool_iter *it, int err, int64_t index, const char *text)
{
	it->finished = true;
	it->index    = index;
	snprintf(it->text, sizeof(it->text), "%s", text);
	return err;
}

/* Index in the ring of the chunk to give out next, waiting up to the
 * deadline: the oldest (imap) or any ready one (imap_unordered). */
static int
pick(tr_pool_iter *it, int64_t deadline, int timeout_ms, size_t *ret)
{
	for (;;) {
		int r;

		if (it->ordered) {
			r = tr_pool_result_wait(
			    it->ring[0].r, tr_deadline_left(deadline));
			if (r == 0) {
				*ret = 0;
			}
			return r == -EAGAIN && timeout_ms != 0 ? -ETIMEDOUT : r;
		}
		for (size_t i = 0; i < it->count; i++) {
			if (it->ring[i].r->ready) {
				*ret = i;
				return 0;
			}
		}
		r = tri_pool_pump(it->p, tr_deadline_left(deadline));
		if (r < 0 && r != -ETIMEDOUT && r != -EAGAIN) {
			return r;
		}
		if (r < 0 && tr_deadline_left(deadline) == 0) {
			return timeout_ms == 0 ? -EAGAIN : -ETIMEDOUT;
		}
	}
}

int
tr_pool_iter_next(
    tr_pool_iter *it, const void **ret_data, size_t *ret_len, int timeout_ms)
{
	int64_t deadline;
	size_t  i = 0;
	int     r;

	if (!it || !ret_data || !ret_len || timeout_ms < TR_TIMEOUT_INFINITE) {
		return -EINVAL;
	}
	if (it->p->owner != getpid()) {
		return -ECHILD;
	}
	deadline = tr_deadline(timeout_ms);
	while (!it->finished) {
		if (it->cur.r && it->pos < it->cur.r->n) {
			*ret_data =
			    tr_pool_result_data(it->cur.r, it->pos, ret_len);
			it->index = it->cur.first + (int64_t) it->pos++;
			return 1;
		}
		tr_pool_result_destroy(&it->cur.r);
		r = feed(it);
		if (r < 0) {
			return finish(it, r, it->fed, tr_strerror(r));
		}
		if (it->count == 0) {
			return it->input_err
			    ? finish(it, it->input_err, it->fed,
			          "the input of the map failed")
			    : finish(it, 0, it->index, "");
		}
		r = pick(it, deadline, timeout_ms, &i);
		if (r < 0) {
			return r;
		}
		it->cur = it->ring[i];
		it->pos = 0;
		memmove(&it->ring[i], &it->ring[i + 1],
		    (it->count - i - 1) * sizeof(*it->ring));
		it->count--;
		r = tr_pool_result_error(it->cur.r);
		if (r != 0) {
			int64_t at = tr_pool_result_failed_index(it->cur.r);

			return finish(it, r, at < 0 ? -1 : it->cur.first + at,
			    tr_pool_result_error_text(it->cur.r));
		}
	}
	return 0;
}

int64_t
tr_pool_iter_index(const tr_pool_iter *it)
{
	return it ? it->index : -1;
}

const char *
tr_pool_iter_error_text(const tr_pool_iter *it)
{
	return it ? it->text : "";
}

void
tr_pool_iter_destroy(tr_pool_iter **itp)
{
	tr_pool_iter *it;

	if (!itp || !*itp) {
		return;
	}
	it = *itp;
	tr_pool_result_destroy(&it->cur.r);
	for (size_t i = 0; it->ring && i < it->count; i++) {
		tr_pool_result_destroy(&it->ring[i].r);
	}
	free(it->ring);
	free(it->offs);
	free(it->items);
	free(it->buf);
	free(it);
	*itp = NULL;
}
