/* SPDX-License-Identifier: MIT */
/* bench-pool: tr_pool next to Python's multiprocessing.Pool, measured in
 * the same run (tools/bench/mp_pool.py under /usr/bin/python3), with the
 * same number of workers (the CPU count) and the fork start method:
 *
 *   map, default chunks   map of f(x) = x * x over N int64s (N = 1,000,000)
 *                         with Python's default chunking: items/s
 *   map, chunksize K      the same with chunksize K (1000)
 *   apply_async + get     C (20,000) apply_async calls, then get of each:
 *                         calls/s
 *   apply round trip      median of one apply at a time: us
 *   imap_unordered        over M (100,000) items, chunksize K: items/s
 *   CPU-bound map 1 -> 2  16 items of a busy loop on 1 worker, then on 2:
 *                         the speedup (troupe and Python each their own)
 *
 * Not a test: it prints a table and the ratios, troupe / Python.
 * Usage: bench-pool [--items N] [--calls C] [--imap M] [--chunksize K]
 *                   [--prefetch P] [--no-python]
 * --prefetch: tasks in flight per worker (tr_pool_opts.prefetch). */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "troupe.h"

#include "bench-util.h"

extern char **environ;

static long items_n = 1000000, calls_n = 20000, imap_n = 100000, chunk_n = 1000;
static long prefetch_n = 0; /* 0 = the pool's default */
static int  use_python = 1;

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
burn(const void *item, size_t len, tr_pool_out *out)
{
	int64_t n = 0, s = 0;

	if (len == sizeof(n)) {
		memcpy(&n, item, sizeof(n));
	}
	for (int64_t i = 0; i < n; i++) {
		s += i;
		__asm__ volatile("" : "+r"(s));
	}
	return tr_pool_out_set(out, &s, sizeof(s));
}
TR_POOL_FN(burn, burn)

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static tr_pool *
pool_new(int n)
{
	tr_pool_opts o = { .processes = n,
		.start_method         = TR_START_FORK,
		.prefetch             = (int) prefetch_n };
	tr_pool     *p = NULL;
	int          r = tr_pool_new(&p, &o);

	if (r < 0) {
		die("tr_pool_new", r);
	}
	return p;
}

static double
map_rate(tr_pool *p, long n, size_t chunksize)
{
	int64_t *in  = malloc((size_t) n * sizeof(*in));
	int64_t *out = malloc((size_t) n * sizeof(*out));
	double   t;
	int      r;

	for (long i = 0; i < n; i++) {
		in[i] = i;
	}
	t = now_s();
	r = tr_pool_map_int64(p, "f", in, out, (size_t) n, chunksize, 600000);
	t = now_s() - t;
	if (r < 0 || out[n - 1] != (int64_t) (n - 1) * (n - 1)) {
		die("map", r < 0 ? r : -EPROTO);
	}
	free(in);
	free(out);
	return (double) n / t;
}

static double
apply_async_rate(tr_pool *p, long n)
{
	tr_pool_result **rs = calloc((size_t) n, sizeof(*rs));
	double           t  = now_s();
	int              r;

	for (long i = 0; i < n; i++) {
		int64_t x = i;

		r = tr_pool_apply_async(p, "f", &x, sizeof(x), NULL, &rs[i]);
		if (r < 0) {
			die("apply_async", r);
		}
	}
	for (long i = 0; i < n; i++) {
		r = tr_pool_result_get(rs[i], 600000);
		if (r < 0) {
			die("get", r);
		}
		tr_pool_result_destroy(&rs[i]);
	}
	t = now_s() - t;
	free(rs);
	return (double) n / t;
}

static int
cmp_d(const void *a, const void *b)
{
	double x = *(const double *) a, y = *(const double *) b;

	return x < y ? -1 : x > y;
}

static double
apply_rt_us(tr_pool *p)
{
	double s[2000];

	for (int i = 0; i < 2000; i++) {
		int64_t         x = i;
		tr_pool_result *r = NULL;
		double          t = now_s();
		int rc = tr_pool_apply(p, "f", &x, sizeof(x), &r, 60000);

		if (rc < 0) {
			die("apply", rc);
		}
		s[i] = (now_s() - t) * 1e6;
		tr_pool_result_destroy(&r);
	}
	qsort(s, 2000, sizeof(s[0]), cmp_d);
	return s[1000];
}

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
	rg->item  = rg->i++;
	ret->data = &rg->item;
	ret->len  = sizeof(rg->item);
	return 1;
}

static double
imap_rate(tr_pool *p, long n)
{
	struct range  rg = { 0, n, 0 };
	tr_pool_iter *it = NULL;
	const void   *d;
	size_t        len;
	long          got = 0;
	double        t   = now_s();
	int           r;

	r = tr_pool_imap_unordered(
	    p, "f", range_next, &rg, (size_t) chunk_n, 0, &it);
	while (r >= 0 && (r = tr_pool_iter_next(it, &d, &len, 600000)) == 1) {
		got++;
	}
	if (r < 0 || got != n) {
		die("imap_unordered", r < 0 ? r : -EPROTO);
	}
	tr_pool_iter_destroy(&it);
	return (double) n / (now_s() - t);
}

static double
burn_s(int workers)
{
	tr_pool *p = pool_new(workers);
	int64_t  in[16], out[16];
	double   t;
	int      r;

	for (int i = 0; i < 16; i++) {
		in[i] = 30000000;
	}
	t = now_s();
	r = tr_pool_map_int64(p, "burn", in, out, 16, 1, 600000);
	t = now_s() - t;
	if (r < 0) {
		die("burn", r);
	}
	tr_pool_destroy(&p);
	return t;
}

/* ---- Python ---- */

struct py {
	double map_default, map_chunk, apply_async, apply_rt, imap, burn1,
	    burn2;
};

static void
measure_python(struct py *py, int workers)
{
	char   w[16], n[32], c[32], k[32], m[32], line[256], name[128];
	char  *argv[] = { "/usr/bin/python3", (char *) TR_BENCH_MP_POOL,
		 "--workers", w, "--items", n, "--calls", c, "--chunksize", k,
		 "--imap", m, NULL };
	int    fds[2], status;
	pid_t  pid;
	FILE  *in;
	double v;
	posix_spawn_file_actions_t fa;

	snprintf(w, sizeof(w), "%d", workers);
	snprintf(n, sizeof(n), "%ld", items_n);
	snprintf(c, sizeof(c), "%ld", calls_n);
	snprintf(k, sizeof(k), "%ld", chunk_n);
	snprintf(m, sizeof(m), "%ld", imap_n);
	if (pipe2(fds, O_CLOEXEC) < 0) {
		die("pipe2", -errno);
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
	if (posix_spawn(&pid, argv[0], &fa, NULL, argv, environ) != 0) {
		die("posix_spawn python3", -errno);
	}
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	in = fdopen(fds[0], "r");
	while (in && fgets(line, sizeof(line), in)) {
		if (sscanf(line, "%127s %lf", name, &v) != 2) {
			continue;
		}
		if (!strcmp(name, "map_default_items_per_s")) {
			py->map_default = v;
		} else if (!strcmp(name, "map_chunk_items_per_s")) {
			py->map_chunk = v;
		} else if (!strcmp(name, "apply_async_calls_per_s")) {
			py->apply_async = v;
		} else if (!strcmp(name, "apply_rt_us")) {
			py->apply_rt = v;
		} else if (!strcmp(name, "imap_unordered_items_per_s")) {
			py->imap = v;
		} else if (!strcmp(name, "burn_1_s")) {
			py->burn1 = v;
		} else if (!strcmp(name, "burn_2_s")) {
			py->burn2 = v;
		}
	}
	if (in) {
		fclose(in);
	}
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		fprintf(stderr, "bench-pool: %s failed\n", TR_BENCH_MP_POOL);
	}
}

static void
row(const char *name, double t, double p, const char *unit, int lower_better)
{
	printf("| %-30s | %14.1f | %14.1f | %-7s |", name, t, p, unit);
	if (isnan(p) || p <= 0 || t <= 0) {
		printf(" %6s |\n", "-");
	} else {
		printf(" %5.2fx |\n", lower_better ? p / t : t / p);
	}
}

int
main(int argc, char **argv)
{
	struct py py = { NAN, NAN, NAN, NAN, NAN, NAN, NAN };
	tr_pool  *p;
	int       workers;
	double    md, mc, aa, rt, im, b1, b2;
	char      label[64];
	int       r = tr_init(argc, argv);

	if (r < 0) {
		die("tr_init", r);
	}
	for (int i = 1; i < argc; i++) {
		long *v = !strcmp(argv[i], "--items") ? &items_n
		    : !strcmp(argv[i], "--calls")     ? &calls_n
		    : !strcmp(argv[i], "--imap")      ? &imap_n
		    : !strcmp(argv[i], "--chunksize") ? &chunk_n
		    : !strcmp(argv[i], "--prefetch")  ? &prefetch_n
		                                      : NULL;

		if (v && i + 1 < argc) {
			*v = atol(argv[++i]);
		} else if (!strcmp(argv[i], "--no-python")) {
			use_python = 0;
		} else {
			fprintf(stderr,
			    "usage: bench-pool [--items N] [--calls C] "
			    "[--imap M] [--chunksize K] [--prefetch P] "
			    "[--no-python]\n");
			return 2;
		}
	}
	workers = tr_cpu_count();
	p       = pool_new(workers);
	(void) map_rate(p, 1000, 0); /* warm up */
	md = map_rate(p, items_n, 0);
	mc = map_rate(p, items_n, (size_t) chunk_n);
	aa = apply_async_rate(p, calls_n);
	rt = apply_rt_us(p);
	im = imap_rate(p, imap_n);
	tr_pool_destroy(&p);
	b1 = burn_s(1);
	b2 = burn_s(2);
	if (use_python) {
		measure_python(&py, workers);
	}
	printf("bench-pool: %d workers (fork), N = %ld, chunksize %ld, "
	       "%ld calls, imap over %ld\n\n",
	    workers, items_n, chunk_n, calls_n, imap_n);
	printf("| %-30s | %14s | %14s | %-7s | %6s |\n", "figure", "troupe",
	    "Python mp", "unit", "ratio");
	printf("|%s|%s|%s|%s|%s|\n", "--------------------------------",
	    "----------------", "----------------", "---------", "--------");
	row("map, default chunks", md, py.map_default, "items/s", 0);
	snprintf(label, sizeof(label), "map, chunksize %ld", chunk_n);
	row(label, mc, py.map_chunk, "items/s", 0);
	row("apply_async + get", aa, py.apply_async, "calls/s", 0);
	row("apply round trip (median)", rt, py.apply_rt, "us", 1);
	row("imap_unordered", im, py.imap, "items/s", 0);
	row("CPU-bound map: 2 vs 1 workers", b1 / b2, py.burn1 / py.burn2,
	    "speedup", 0);
	return 0;
}
