/* SPDX-License-Identifier: MIT */
/* What every benchmark here needs: failing loudly, a clock in seconds and
 * a comparison for qsort.  Header-only: each benchmark is one program. */
#ifndef TR_BENCH_UTIL_H
#define TR_BENCH_UTIL_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
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

#endif
