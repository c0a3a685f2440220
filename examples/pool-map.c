/* SPDX-License-Identifier: MIT */
/* The first Pool example of Python's multiprocessing docs:
 *
 *     from multiprocessing import Pool
 *
 *     def f(x):
 *         return x*x
 *
 *     if __name__ == '__main__':
 *         with Pool(5) as p:
 *             print(p.map(f, [1, 2, 3]))
 *
 * prints [1, 4, 9].  The task function is registered by name, so the
 * workers may be started by any method (TROUPE_START_METHOD). */
#include <stdio.h>
#include <string.h>

#include "troupe.h"

static int
f(const void *item, size_t len, tr_pool_out *out)
{
	int64_t x;

	if (len != sizeof(x)) {
		return -22; /* -EINVAL: not an int64 */
	}
	memcpy(&x, item, sizeof(x));
	x *= x;
	return tr_pool_out_set(out, &x, sizeof(x));
}
TR_POOL_FN(f, f)

int
main(int argc, char **argv)
{
	tr_pool_opts o    = { .processes = 5 };
	tr_pool     *p    = NULL;
	int64_t      xs[] = { 1, 2, 3 }, ys[3];
	int          r;

	r = tr_init(argc, argv);
	if (r == 0) {
		r = tr_pool_new(&p, &o);
	}
	if (r == 0) {
		r = tr_pool_map_int64(
		    p, "f", xs, ys, 3, 0, TR_TIMEOUT_INFINITE);
	}
	if (r < 0) {
		fprintf(stderr, "pool-map: %s\n", tr_strerror(r));
		tr_pool_destroy(&p);
		return 1;
	}
	printf("[%lld, %lld, %lld]\n", (long long) ys[0], (long long) ys[1],
	    (long long) ys[2]);
	tr_pool_destroy(&p); /* leaving `with Pool(5)`: terminate */
	return 0;
}
