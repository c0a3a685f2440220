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
	tr_pool_result *r = NULL;
	int             rc;

	if (!p || (!in && n) || (!out && n) ||
	    timeout_ms < TR_TIMEOUT_INFINITE) {
		return -EINVAL;
	}
	/* no item array: the tasks are cut from in itself */
	rc = tri_pool_submit_fixed(p, fn, in, 8, n, chunksize, NULL, &r);
	if (rc == 0) {
		rc = tr_pool_result_get(r, timeout_ms);
	}
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (r->slots[i].len != 8) {
			rc = TR_EBADTYPE;
		}
	}
	for (size_t i = 0; rc == 0 && i < n; i++) {
		memcpy((uint8_t *) out + 8 * i, r->slots[i].data, 8);
	}
	tr_pool_result_destroy(&r);
	return rc;
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
