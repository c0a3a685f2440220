/* SPDX-License-Identifier: MIT */
/* The Pool example of the original `processing` package's introduction,
 * with the imap lines that Python's own docs later added to it:
 *
 *     pool = Pool(processes=4)              # start 4 worker processes
 *     result = pool.apply_async(f, [10])    # evaluate "f(10)" async
 *     print(result.get(timeout=1))          # prints "100"
 *     print(pool.map(f, range(10)))         # prints "[0, 1, 4,..., 81]"
 *     it = pool.imap(f, range(10))
 *     print(next(it))                       # prints "0"
 *     print(next(it))                       # prints "1"
 *     print(it.next(timeout=1))             # prints "4"
 *
 * f squares an int64; imap's input is range(10) handed out lazily. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "troupe.h"

static int
f(const void *item, size_t len, tr_pool_out *out)
{
	int64_t x;

	if (len != sizeof(x)) {
		return tr_pool_out_fail(out, -EINVAL, "f wants an int64");
	}
	memcpy(&x, item, sizeof(x));
	x *= x;
	return tr_pool_out_set(out, &x, sizeof(x));
}
TR_POOL_FN(f, f)

/* range(n), one item at a time */
struct range {
	int64_t i, n, item;
};

static int
range_next(void *arg, tr_pool_item *ret)
{
	struct range *rg = arg;

	if (rg->i >= rg->n) {
		return 0;
	}
	rg->item = rg->i++;
	*ret     = (tr_pool_item) { &rg->item, sizeof(rg->item) };
	return 1;
}

/* print(it.next(timeout)) */
static int
print_next(tr_pool_iter *it, int timeout_ms)
{
	const void *d;
	size_t      len;
	int64_t     y;
	int         r = tr_pool_iter_next(it, &d, &len, timeout_ms);

	if (r != 1) {
		return r < 0 ? r : -ENODATA; /* StopIteration */
	}
	memcpy(&y, d, sizeof(y));
	printf("%lld\n", (long long) y);
	return 0;
}

static int
run(tr_pool *pool)
{
	int64_t         ten    = 10, xs[10], ys[10];
	tr_pool_result *result = NULL;
	tr_pool_iter   *it     = NULL;
	struct range    rg     = { 0, 10, 0 };
	int             r;

	r = tr_pool_apply_async(pool, "f", &ten, sizeof(ten), NULL, &result);
	if (r == 0) {
		r = tr_pool_result_get(result, 1000);
	}
	if (r == 0) {
		int64_t y;

		memcpy(&y, tr_pool_result_data(result, 0, NULL), sizeof(y));
		printf("%lld\n", (long long) y);
	}
	tr_pool_result_destroy(&result);
	if (r < 0) {
		return r;
	}

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

	r = tr_pool_imap(pool, "f", range_next, &rg, 1, 0, &it);
	if (r == 0) {
		r = print_next(it, TR_TIMEOUT_INFINITE);
	}
	if (r == 0) {
		r = print_next(it, TR_TIMEOUT_INFINITE);
	}
	if (r == 0) {
		r = print_next(it, 1000);
	}
	tr_pool_iter_destroy(&it);
	return r;
}

int
main(int argc, char **argv)
{
	tr_pool_opts o    = { .processes = 4 };
	tr_pool     *pool = NULL;
	int          r;

	r = tr_init(argc, argv);
	if (r == 0) {
		r = tr_pool_new(&pool, &o); /* start 4 worker processes */
	}
	if (r == 0) {
		r = run(pool);
	}
	tr_pool_destroy(&pool);
	if (r < 0) {
		fprintf(stderr, "pool-apply: %s\n", tr_strerror(r));
		return 1;
	}
	return 0;
}
