/* SPDX-License-Identifier: MIT */
/* Typed maps: an array of 8-byte values in, an array of results out. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pool-int.h"

static int
map8(tr_pool *p, const char *fn, const void *in, void *out, size_t n,
    size_t chunksize, int timeout_ms)
{
	tr_pool_item   *items;
	tr_pool_result *r = NULL;
	int             rc;

	if (!p || (!in && n) || (!out && n)) {
		return -EINVAL;
	}
	items = calloc(n ? n : 1, sizeof(*items));
	if (!items) {
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		items[i].data = (const uint8_t *) in + 8 * i;
		items[i].len  = 8;
	}
	rc = tr_pool_map(p, fn, items, n, chunksize, &r, timeout_ms);
	free(items);
	if (rc < 0) {
		return rc;
	}
	for (size_t i = 0; i < n; i++) {
		size_t len = 0;

		(void) tr_pool_result_data(r, i, &len);
		if (len != 8) {
			tr_pool_result_destroy(&r);
			return TR_EBADTYPE;
		}
	}
	for (size_t i = 0; i < n; i++) {
		memcpy((uint8_t *) out + 8 * i, tr_pool_result_data(r, i, NULL),
		    8);
	}
	tr_pool_result_destroy(&r);
	return 0;
}

int
tr_pool_map_int64(tr_pool *p, const char *fn, const int64_t *in, int64_t *out,
    size_t n, size_t chunksize, int timeout_ms)
{
	return map8(p, fn, in, out, n, chunksize, timeout_ms);
}

int
tr_pool_map_double(tr_pool *p, const char *fn, const double *in, double *out,
    size_t n, size_t chunksize, int timeout_ms)
{
	return map8(p, fn, in, out, n, chunksize, timeout_ms);
}
