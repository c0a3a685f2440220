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
 *                   [--prefetch P] [--rounds R] [--no-python]
 * --prefetch: tasks in flight per worker (tr_pool_opts.prefetch).
 * --rounds R: troupe and Python measured alternately R times (each round
 * in the other order), the table showing each figure's median and each
 * round's map and apply_async ratios going to stderr: on a busy machine
 * one run's figures swing by 2x or more, the medians much less. */
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

#define MAX_ROUNDS 31

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
	t = now();
	r = tr_pool_map_int64(p, "f", in, out, (size_t) n, chunksize, 600000);
	t = now() - t;
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
	double           t  = now();
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
	t = now() - t;
	free(rs);
	return (double) n / t;
}

static double
apply_rt_us(tr_pool *p)
{
	double s[2000];

	for (int i = 0; i < 2000; i++) {
		int64_t         x = i;
		tr_pool_result *r = NULL;
		double          t = now();
		int rc = tr_pool_apply(p, "f", &x, sizeof(x), &r, 60000);

		if (rc < 0) {
			die("apply", rc);
		}
		s[i] = (now() - t) * 1e6;
		tr_pool_result_destroy(&r);
	}
	qsort(s, 2000, sizeof(s[0]), cmp_double);
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
	double        t   = now();
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
	return (double) n / (now() - t);
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
	t = now();
	r = tr_pool_map_int64(p, "burn", in, out, 16, 1, 600000);
	t = now() - t;
	if (r < 0) {
		die("burn", r);
	}
	tr_pool_destroy(&p);
	return t;
}

/* ---- Python ---- */

/* One round's figures, troupe's or Python's. */
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

static void
measure_troupe(struct py *t, int workers)
{
	tr_pool *p = pool_new(workers);

	(void) map_rate(p, 1000, 0); /* warm up */
	t->map_default = map_rate(p, items_n, 0);
	t->map_chunk   = map_rate(p, items_n, (size_t) chunk_n);
	t->apply_async = apply_async_rate(p, calls_n);
	t->apply_rt    = apply_rt_us(p);
	t->imap        = imap_rate(p, imap_n);
	tr_pool_destroy(&p);
	t->burn1 = burn_s(1);
	t->burn2 = burn_s(2);
}

/* The median of each figure over n rounds (NAN stays NAN). */
static struct py
median_of(const struct py *f, int n)
{
	struct py m     = { 0 };
	double   *out[] = { &m.map_default, &m.map_chunk, &m.apply_async,
		  &m.apply_rt, &m.imap, &m.burn1, &m.burn2 };

	for (size_t k = 0; k < sizeof(out) / sizeof(out[0]); k++) {
		double v[MAX_ROUNDS] = { 0 };
		size_t off           = (size_t) ((char *) out[k] - (char *) &m);

		for (int i = 0; i < n; i++) {
			memcpy(&v[i], (const char *) &f[i] + off, sizeof(v[i]));
		}
		qsort(v, (size_t) n, sizeof(v[0]), cmp_double);
		*out[k] = v[n / 2];
	}
	/* the speedup's median, not the quotient of two medians */
	{
		double v[MAX_ROUNDS] = { 0 };

		for (int i = 0; i < n; i++) {
			v[i] = f[i].burn1 / f[i].burn2;
		}
		qsort(v, (size_t) n, sizeof(v[0]), cmp_double);
		m.burn1 = v[n / 2];
		m.burn2 = 1;
	}
	return m;
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: bench-pool [--items N] [--calls C] "
	    "[--imap M] [--chunksize K] [--prefetch P] "
	    "[--rounds R] [--no-python]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static struct py t[MAX_ROUNDS], py[MAX_ROUNDS];
	struct py        tm, pm;
	int              workers;
	long             rounds = 1;
	char             label[64];
	int              r = tr_init(argc, argv);

	if (r < 0) {
		die("tr_init", r);
	}
	for (int i = 1; i < argc; i++) {
		long *v = !strcmp(argv[i], "--items") ? &items_n
		    : !strcmp(argv[i], "--calls")     ? &calls_n
		    : !strcmp(argv[i], "--imap")      ? &imap_n
		    : !strcmp(argv[i], "--chunksize") ? &chunk_n
		    : !strcmp(argv[i], "--prefetch")  ? &prefetch_n
		    : !strcmp(argv[i], "--rounds")    ? &rounds
		                                      : NULL;

		if (v && i + 1 < argc) {
			*v = atol(argv[++i]);
		} else if (!strcmp(argv[i], "--no-python")) {
			use_python = 0;
		} else {
			usage();
		}
	}
	if (rounds < 1 || rounds > MAX_ROUNDS || items_n < 1 || calls_n < 1 ||
	    imap_n < 1 || chunk_n < 1 || prefetch_n < 0) {
		usage();
	}
	workers = tr_cpu_count();
	for (int i = 0; i < rounds; i++) {
		py[i] = (struct py) { NAN, NAN, NAN, NAN, NAN, NAN, NAN };
		if (i % 2 && use_python) {
			measure_python(&py[i], workers);
		}
		measure_troupe(&t[i], workers);
		if (i % 2 == 0 && use_python) {
			measure_python(&py[i], workers);
		}
		if (rounds > 1) {
			fprintf(stderr,
			    "round %d: map (default chunks) %.2fx, "
			    "apply_async %.2fx\n",
			    i + 1, t[i].map_default / py[i].map_default,
			    t[i].apply_async / py[i].apply_async);
		}
	}
	tm = median_of(t, (int) rounds);
	pm = median_of(py, (int) rounds);
	printf("bench-pool: %d workers (fork), N = %ld, chunksize %ld, "
	       "%ld calls, imap over %ld%s\n\n",
	    workers, items_n, chunk_n, calls_n, imap_n,
	    rounds > 1 ? ", medians of the rounds" : "");
	if (rounds > 1) {
		printf(
		    "(%ld rounds, troupe and Python alternately)\n\n", rounds);
	}
	printf("| %-30s | %14s | %14s | %-7s | %6s |\n", "figure", "troupe",
	    "Python mp", "unit", "ratio");
	printf("|%s|%s|%s|%s|%s|\n", "--------------------------------",
	    "----------------", "----------------", "---------", "--------");
	row("map, default chunks", tm.map_default, pm.map_default, "items/s",
	    0);
	snprintf(label, sizeof(label), "map, chunksize %ld", chunk_n);
	row(label, tm.map_chunk, pm.map_chunk, "items/s", 0);
	row("apply_async + get", tm.apply_async, pm.apply_async, "calls/s", 0);
	row("apply round trip (median)", tm.apply_rt, pm.apply_rt, "us", 1);
	row("imap_unordered", tm.imap, pm.imap, "items/s", 0);
	row("CPU-bound map: 2 vs 1 workers", tm.burn1, pm.burn1, "speedup", 0);
	return 0;
}
