/* SPDX-License-Identifier: MIT */
/* What every benchmark here needs: failing loudly, a clock in seconds and
 * a comparison for qsort.  Header-only: each benchmark is one program. */
#ifndef TR_BENCH_UTIL_H
#define TR_BENCH_UTIL_H

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "troupe.h"

/* Print "PROGRAM: what: error" and exit 1. */
static _Noreturn inline void
die(const char *what, int err)
{
	fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name, what,
	    tr_strerror(err));
	exit(1);
}

/* Seconds on the monotonic clock, to the nanosecond (tr_now_ms() is too
 * coarse for a round trip). */
static inline double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

static inline int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *) a, y = *(const double *) b;

	return (x > y) - (x < y);
}

/* ---- troupe against Python, row by row, medians of rounds ------------ */

#define BENCH_MAXROUNDS 15

static inline double
bench_median(double *v, int n)
{
	qsort(v, (size_t) n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static inline void
bench_row(const char *what, int unit_w, const char *unit, double tr, double py)
{
	char a[32] = "n/a", b[32] = "n/a", r[32] = "";

	if (tr > 0) {
		snprintf(a, sizeof(a), "%.3g", tr);
	}
	if (py > 0) {
		snprintf(b, sizeof(b), "%.3g", py);
	}
	if (tr > 0 && py > 0) {
		snprintf(r, sizeof(r), "%.1fx", tr / py);
	}
	printf("| %-40s | %-*s | %10s | %10s | %7s |\n", what, unit_w, unit, a,
	    b, r);
	fflush(stdout);
}

/* The main of a benchmark whose one_round(python, tr, py) measures nrows
 * rows of troupe and (unless --no-python) Python: reads --time S (into
 * *delta), --rounds N (1..BENCH_MAXROUNDS) and --no-python, runs the
 * rounds and prints the table of medians with the ratios.  Returns the
 * exit code (2 after a usage line). */
static inline int
bench_vs_python(int argc, char **argv, int nrows, const char *const *what,
    const char *const *unit, int unit_w, double *delta,
    void (*one_round)(bool, double *, double *))
{
	double(*tr)[BENCH_MAXROUNDS] = calloc((size_t) nrows, sizeof(*tr));
	double(*py)[BENCH_MAXROUNDS] = calloc((size_t) nrows, sizeof(*py));
	double *t1                   = calloc((size_t) nrows, sizeof(*t1));
	double *p1                   = calloc((size_t) nrows, sizeof(*p1));
	bool    python               = true;
	int     rounds               = 1;
	char    dash[64];

	if (!tr || !py || !t1 || !p1) {
		die("calloc", -ENOMEM);
	}
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--no-python") == 0) {
			python = false;
		} else if (strcmp(argv[i], "--time") == 0 && i + 1 < argc) {
			*delta = atof(argv[++i]);
		} else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
			rounds = atoi(argv[++i]);
		} else {
			rounds = 0;
		}
		if (rounds < 1 || rounds > BENCH_MAXROUNDS || *delta <= 0) {
			fprintf(stderr,
			    "usage: %s [--time S] [--rounds N (1..%d)] "
			    "[--no-python]\n",
			    program_invocation_short_name, BENCH_MAXROUNDS);
			return 2;
		}
	}
	for (int r = 0; r < rounds; r++) {
		one_round(python, t1, p1);
		for (int i = 0; i < nrows; i++) {
			tr[i][r] = t1[i];
			py[i][r] = p1[i];
		}
	}
	if (rounds > 1) {
		printf("medians of %d rounds, troupe and Python alternating\n",
		    rounds);
	}
	printf("| %-40s | %-*s | %10s | %10s | %7s |\n", "", unit_w, "unit",
	    "troupe", "python", "ratio");
	memset(dash, '-', sizeof(dash));
	printf("|%.42s|%.*s|%.12s|%.12s|%.9s|\n", dash, unit_w + 2, dash, dash,
	    dash, dash);
	for (int i = 0; i < nrows; i++) {
		bench_row(what[i], unit_w, unit[i], bench_median(tr[i], rounds),
		    bench_median(py[i], rounds));
	}
	free(tr);
	free(py);
	free(t1);
	free(p1);
	return 0;
}

#endif
