/* SPDX-License-Identifier: MIT */
/* starmap: tuples of arguments packed into one item each (pool.h gives
 * the layout), and their parsing in the task function. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pool-int.h"

static void
put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t) v;
	p[1] = (uint8_t) (v >> 8);
	p[2] = (uint8_t) (v >> 16);
	p[3] = (uint8_t) (v >> 24);
}

static uint32_t
get_u32(const uint8_t *p)
{
	return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 |
	    (uint32_t) p[3] << 24;
}

int
tr_pool_args_parse(const void *item, size_t len, tr_pool_item *ret, size_t max)
{
	const uint8_t *p   = item;
	size_t         off = 4;
	uint32_t       n;

	if ((!item && len) || len < 4 || (!ret && max)) {
		return TR_EBADFRAME;
	}
	n = get_u32(p);
	if (n > max) {
		return TR_EBADFRAME;
	}
	for (uint32_t i = 0; i < n; i++) {
		uint32_t k;

		if (len - off < 4) {
			return TR_EBADFRAME;
		}
		k = get_u32(p + off);
		off += 4;
		if (k > len - off) {
			return TR_EBADFRAME;
		}
		ret[i].data = p + off;
		ret[i].len  = k;
		off += k;
	}
	return off == len ? (int) n : TR_EBADFRAME;
}

int
tr_pool_starmap_async(tr_pool *p, const char *fn, const tr_pool_item *args,
    size_t n, size_t nargs, size_t chunksize, const tr_pool_cb *cb,
    tr_pool_result **ret)
{
	tr_pool_item *items;
	uint8_t      *buf, *w;
	size_t        total = 0;
	int           r;

	if (!p || nargs == 0 || nargs > UINT32_MAX || (!args && n)) {
		return -EINVAL;
	}
	for (size_t i = 0; i < n * nargs; i++) {
		if (args[i].len > UINT32_MAX ||
		    (!args[i].data && args[i].len)) {
			return -EINVAL;
		}
		total += 4 + args[i].len;
	}
	items = calloc(n ? n : 1, sizeof(*items));
	buf   = malloc(total + 4 * n + 1);
	if (!items || !buf) {
		free(items);
		free(buf);
		return -ENOMEM;
	}
	w = buf;
	for (size_t i = 0; i < n; i++) {
		items[i].data = w;
		put_u32(w, (uint32_t) nargs);
		w += 4;
		for (size_t j = 0; j < nargs; j++) {
			const tr_pool_item *a = &args[i * nargs + j];

			put_u32(w, (uint32_t) a->len);
			w += 4;
			if (a->len) {
				memcpy(w, a->data, a->len);
			}
			w += a->len;
		}
		items[i].len = (size_t) (w - (const uint8_t *) items[i].data);
	}
	r = tr_pool_map_async(p, fn, items, n, chunksize, cb, ret);
	free(items);
	free(buf);
	return r;
}

int
tr_pool_starmap(tr_pool *p, const char *fn, const tr_pool_item *args, size_t n,
    size_t nargs, size_t chunksize, tr_pool_result **ret, int timeout_ms)
{
	tr_pool_result *res = NULL;
	int             r;

	if (!ret || timeout_ms < TR_TIMEOUT_INFINITE) {
		return -EINVAL;
	}
	r = tr_pool_starmap_async(p, fn, args, n, nargs, chunksize, NULL, &res);
	if (r < 0) {
		return r;
	}
	r = tr_pool_result_get(res, timeout_ms);
	if (r == 0) {
		*ret = res;
	} else {
		tr_pool_result_destroy(&res);
	}
	return r;
}
