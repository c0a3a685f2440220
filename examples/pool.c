/* SPDX-License-Identifier: MIT */
/* "Using a pool of workers", the walkthrough of Python's multiprocessing
 * docs, in C:
 *
 *     with Pool(processes=4) as pool:
 *         print(pool.map(f, range(10)))        # [0, 1, 4,..., 81]
 *         for i in pool.imap_unordered(f, range(10)):
 *             print(i)                          # in arbitrary order
 *         res = pool.apply_async(f, (20,))
 *         print(res.get(timeout=1))             # 400
 *         res = pool.apply_async(os.getpid, ())
 *         print(res.get(timeout=1))             # a worker's pid
 *         multiple_results = [pool.apply_async(os.getpid, ())
 *                             for i in range(4)]
 *         print([res.get(timeout=1) for res in multiple_results])
 *         res = pool.apply_async(time.sleep, (10,))
 *         try:
 *             print(res.get(timeout=1))
 *         except TimeoutError:
 *             print("We lacked patience and got a "
 *                   "multiprocessing.TimeoutError")
 *         print("For the moment, the pool remains available for more work")
 *     print("Now the pool is closed and no longer available")
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "troupe.h"

static int
f(const void *item, size_t len, tr_pool_out *out)
{
	int64_t x;

	if (len != sizeof(x)) {
		return -EINVAL;
	}
	memcpy(&x, item, sizeof(x));
	x *= x;
	return tr_pool_out_set(out, &x, sizeof(x));
}
TR_POOL_FN(f, f)

static int
getpid_fn(const void *item, size_t len, tr_pool_out *out)
{
	int64_t pid = getpid();

	return tr_pool_out_set(out, &pid, sizeof(pid));
}
TR_POOL_FN(getpid, getpid_fn)

static int
sleep_fn(const void *item, size_t len, tr_pool_out *out)
{
	int64_t         s = 0;
	struct timespec ts;

	if (len == sizeof(s)) {
		memcpy(&s, item, sizeof(s));
	}
	ts = (struct timespec) { (time_t) s, 0 };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR) { }
	return 0;
}
TR_POOL_FN(sleep, sleep_fn)

static int64_t
value(tr_pool_result *r)
{
	int64_t x = 0;

	memcpy(&x, tr_pool_result_data(r, 0, NULL), sizeof(x));
	return x;
}

/* range(n) as an imap input */
struct range {
	int64_t i, n;
	int64_t item; /* the item handed out, until the next call */
};

static int
range_next(void *arg, tr_pool_item *ret)
{
	struct range *rg = arg;

	if (rg->i >= rg->n) {
		return 0;
	}
	rg->item  = rg->i++;
	ret->data = &rg->item;
	ret->len  = sizeof(rg->item);
	return 1;
}

static int
walkthrough(tr_pool *pool)
{
	int64_t         xs[10], ys[10], twenty = 20, ten = 10;
	tr_pool_result *res = NULL, *many[4];
	tr_pool_iter   *it  = NULL;
	struct range    rg  = { 0, 10, 0 };
	const void     *d;
	size_t          len;
	int             r;

	for (int i = 0; i < 10; i++) {
		xs[i] = i;
	}
	r = tr_pool_map_int64(pool, "f", xs, ys, 10, 0, TR_TIMEOUT_INFINITE);
	if (r < 0) {
		return r;
	}
	printf("[");
	for (int i = 0; i < 10; i++) {
		printf("%s%lld", i ? ", " : "", (long long) ys[i]);
	}
	printf("]\n");

	r = tr_pool_imap_unordered(pool, "f", range_next, &rg, 1, 0, &it);
	while (r >= 0 && (r = tr_pool_iter_next(it, &d, &len, 1000)) == 1) {
		int64_t y;

		memcpy(&y, d, sizeof(y));
		printf("%lld\n", (long long) y);
	}
	tr_pool_iter_destroy(&it);
	if (r < 0) {
		return r;
	}

	r = tr_pool_apply_async(pool, "f", &twenty, sizeof(twenty), NULL, &res);
	if (r < 0 || (r = tr_pool_result_get(res, 1000)) < 0) {
		return r;
	}
	printf("%lld\n", (long long) value(res));
	tr_pool_result_destroy(&res);

	r = tr_pool_apply_async(pool, "getpid", NULL, 0, NULL, &res);
	if (r < 0 || (r = tr_pool_result_get(res, 1000)) < 0) {
		return r;
	}
	printf("%lld\n", (long long) value(res));
	tr_pool_result_destroy(&res);

	for (int i = 0; i < 4; i++) {
		r = tr_pool_apply_async(
		    pool, "getpid", NULL, 0, NULL, &many[i]);
		if (r < 0) {
			return r;
		}
	}
	printf("[");
	for (int i = 0; i < 4; i++) {
		if (r >= 0) {
			r = tr_pool_result_get(many[i], 1000);
		}
		if (r >= 0) {
			printf("%s%lld", i ? ", " : "",
			    (long long) value(many[i]));
		}
		tr_pool_result_destroy(&many[i]);
	}
	printf("]\n");
	if (r < 0) {
		return r;
	}

	r = tr_pool_apply_async(pool, "sleep", &ten, sizeof(ten), NULL, &res);
	if (r < 0) {
		return r;
	}
	r = tr_pool_result_get(res, 1000);
	if (r == -ETIMEDOUT) {
		printf("We lacked patience and got a "
		       "multiprocessing.TimeoutError\n");
	}
	tr_pool_result_destroy(&res);
	printf("For the moment, the pool remains available for more work\n");
	return 0;
}

int
main(int argc, char **argv)
{
	tr_pool_opts o    = { .processes = 4 };
	tr_pool     *pool = NULL;
	int          r;

	r = tr_init(argc, argv);
	if (r == 0) {
		r = tr_pool_new(&pool, &o);
	}
	if (r == 0) {
		r = walkthrough(pool);
	}
	tr_pool_destroy(&pool); /* leaving the with block: terminate */
	if (r < 0) {
		fprintf(stderr, "pool: %s\n", tr_strerror(r));
		return 1;
	}
	printf("Now the pool is closed and no longer available\n");
	return 0;
}
