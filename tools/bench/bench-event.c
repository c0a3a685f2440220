/* SPDX-License-Identifier: MIT */
/* bench-event -- Event set-to-wake latency, troupe next to Python's
 * multiprocessing.Event measured in the same run:
 *
 *   troupe  N waiter actors (fork()ed children) each tr_event_wait() for
 *           ever on one tr_event.  Each round the main program
 *           tr_event_clear()s it, sends every waiter a "go" message, sleeps
 *           2 ms (so that the waits are parked in the event actor), reads
 *           CLOCK_MONOTONIC and calls tr_event_set(); each waiter reads
 *           CLOCK_MONOTONIC as its wait returns and sends it back.  One
 *           sample: the last waiter's wake time minus the time read just
 *           before set().  Median and 99th percentile over --time s after
 *           20 warm-up rounds.  Two paths: "page", the default on one
 *           host, where set() wakes the waiters' futex on the event's
 *           shared page itself; and "messages" (TROUPE_EVENT_SHM=0, what
 *           a client without the page uses): setter -> event actor (one
 *           ZeroMQ message) -> each waiter (one message each, the answer
 *           to its parked wait), whose floor is about one troupe round
 *           trip, shown as "is_set() messages".
 *   python  the same with multiprocessing.Event and a Pipe per waiter
 *           (tools/bench/mp_event.py, run with /usr/bin/python3).
 *
 * Rows for 1 and 4 waiters; --waiters N (repeatable) picks others, --time S
 * the sampling time per row (default 1.5), --gap-us the sleep before each
 * set() (default 2000). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "troupe.h"

#include "bench-util.h"

#ifndef TR_BENCH_MP_EVENT
#define TR_BENCH_MP_EVENT "tools/bench/mp_event.py"
#endif

#define MAX_ROWS    8
#define MAX_WAITERS 64
#define WARMUP      20
#define START_MS    30000
#define RECV_MS     30000

static double      target_s = 1.5;
static unsigned    gap_us   = 2000; /* --gap-us: sleep before set() */
static const char *mp_event = TR_BENCH_MP_EVENT;

struct job {
	tr_addr main, event;
};

static int64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A waiter: for each non-empty "go", wait for the event and send back
 * the time the wait returned. */
static int
waiter(const void *args, size_t len)
{
	struct job j;
	tr_event  *e;
	int        r;

	if (len != sizeof(j)) {
		return tr_fail(-EINVAL, "bad arguments");
	}
	memcpy(&j, args, sizeof(j));
	r = tr_event_open(&e, j.event);
	while (r == 0) {
		tr_msg *go;
		int64_t t1;

		r = tr_recv(&go, TR_TIMEOUT_INFINITE);
		if (r < 0 || tr_msg_size(go) == 0) {
			tr_msg_destroy(&go);
			break;
		}
		tr_msg_destroy(&go);
		r  = tr_event_wait(e, TR_TIMEOUT_INFINITE);
		t1 = mono_ns();
		r  = r == 1 ? tr_send_bytes(j.main, &t1, sizeof(t1), RECV_MS)
		            : (r < 0 ? r : -EPROTO);
	}
	tr_event_destroy(&e);
	return r;
}
TR_ACTOR(bench_event_waiter, waiter)

struct stat2 {
	double med, p99;
};

static struct stat2
stats(double *v, size_t n)
{
	size_t i99;

	qsort(v, n, sizeof(*v), cmp_double);
	i99 = (size_t) (0.99 * (double) n);
	return (
	    struct stat2) { n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2,
		v[i99 < n ? i99 : n - 1] };
}

static double
now_s(void)
{
	return (double) mono_ns() * 1e-9;
}

static struct stat2
troupe_wake(int nwaiters)
{
	tr_process *w[MAX_WAITERS];
	tr_event   *e;
	struct job  j;
	double     *out = NULL;
	size_t      n = 0, cap = 0;
	double      end   = 0;
	int         round = 0, r;

	r = tr_event_new(&e, NULL);
	if (r < 0) {
		die("tr_event_new", r);
	}
	j.main  = tr_self();
	j.event = tr_event_addr(e);
	for (int i = 0; i < nwaiters; i++) {
		r = tr_process_new(&w[i], "bench_event_waiter", &j, sizeof(j));
		r = r < 0 ? r : tr_process_start(w[i], START_MS);
		if (r < 0) {
			die("start a waiter", r);
		}
	}
	for (;; round++) {
		int64_t t0, last = 0;

		if (round == WARMUP) {
			end = now_s() + target_s;
		}
		if (round >= WARMUP && now_s() >= end) {
			break;
		}
		if ((r = tr_event_clear(e)) < 0) {
			die("tr_event_clear", r);
		}
		for (int i = 0; i < nwaiters; i++) {
			tr_addr a;

			r = tr_process_addr(w[i], &a);
			r = r < 0 ? r : tr_send_bytes(a, "g", 1, RECV_MS);
			if (r < 0) {
				die("send go", r);
			}
		}
		usleep(gap_us);
		t0 = mono_ns();
		if ((r = tr_event_set(e)) < 0) {
			die("tr_event_set", r);
		}
		for (int i = 0; i < nwaiters; i++) {
			tr_msg *m;
			int64_t t1;

			if ((r = tr_recv(&m, RECV_MS)) < 0) {
				die("tr_recv", r);
			}
			if (tr_msg_size(m) == sizeof(t1)) {
				memcpy(&t1, tr_msg_data(m), sizeof(t1));
				last = t1 > last ? t1 : last;
			}
			tr_msg_destroy(&m);
		}
		if (round < WARMUP) {
			continue;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 1024;
			out = realloc(out, cap * sizeof(*out));
			if (!out) {
				die("realloc", -ENOMEM);
			}
		}
		out[n++] = (double) (last - t0) / 1e3;
	}
	for (int i = 0; i < nwaiters; i++) {
		tr_addr a;

		if (tr_process_addr(w[i], &a) == 0) {
			(void) tr_send_bytes(a, NULL, 0, RECV_MS);
		}
		(void) tr_process_join(w[i], RECV_MS);
		tr_process_destroy(&w[i]);
	}
	tr_event_destroy(&e);
	struct stat2 s = stats(out, n);
	free(out);
	return s;
}

/* Median and p99 of tr_event_is_set(): one round trip to the actor. */
static struct stat2
troupe_is_set_rt(void)
{
	tr_event *e;
	double   *out = NULL;
	size_t    n = 0, cap = 0;
	double    end;
	int       r = tr_event_new(&e, NULL);

	if (r < 0) {
		die("tr_event_new", r);
	}
	for (int i = 0; i < 1000; i++) {
		(void) tr_event_is_set(e);
	}
	for (end = now_s() + target_s; now_s() < end;) {
		int64_t t0 = mono_ns();

		if ((r = tr_event_is_set(e)) < 0) {
			die("tr_event_is_set", r);
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 4096;
			out = realloc(out, cap * sizeof(*out));
			if (!out) {
				die("realloc", -ENOMEM);
			}
		}
		out[n++] = (double) (mono_ns() - t0) / 1e3;
	}
	tr_event_destroy(&e);
	struct stat2 s = stats(out, n);
	free(out);
	return s;
}

/* Python's figures: name -> value, from mp_event.py's output. */
static double
py_figure(const char *text, const char *name)
{
	size_t      len = strlen(name);
	const char *p   = text;

	while ((p = strstr(p, name)) != NULL) {
		if ((p == text || p[-1] == '\n') && p[len] == '\t') {
			return strtod(p + len + 1, NULL);
		}
		p += len;
	}
	return -1;
}

static char *
run_python(const int *rows, int nrows)
{
	static char text[4096];
	char        cmd[1024];
	size_t      got = 0, k;
	FILE       *f;

	k = (size_t) snprintf(cmd, sizeof(cmd),
	    "/usr/bin/python3 '%s' --time %g", mp_event, target_s);
	for (int i = 0; i < nrows && k < sizeof(cmd); i++) {
		k += (size_t) snprintf(
		    cmd + k, sizeof(cmd) - k, " --waiters %d", rows[i]);
	}
	f = popen(cmd, "r");
	if (!f) {
		return NULL;
	}
	while (got < sizeof(text) - 1) {
		size_t r = fread(text + got, 1, sizeof(text) - 1 - got, f);

		if (r == 0) {
			break;
		}
		got += r;
	}
	text[got] = 0;
	return pclose(f) == 0 ? text : NULL;
}

int
main(int argc, char **argv)
{
	int          rows[MAX_ROWS], nrows = 0;
	struct stat2 tw[2][MAX_ROWS], rt[2];
	const char  *py;
	int          r = tr_init(argc, argv);

	if (r < 0) {
		die("tr_init", r);
	}
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--time") == 0 && i + 1 < argc) {
			target_s = atof(argv[++i]);
		} else if (strcmp(argv[i], "--waiters") == 0 && i + 1 < argc &&
		    nrows < MAX_ROWS) {
			rows[nrows++] = atoi(argv[++i]);
		} else if (strcmp(argv[i], "--gap-us") == 0 && i + 1 < argc) {
			gap_us = (unsigned) atoi(argv[++i]);
		} else if (strcmp(argv[i], "--python") == 0 && i + 1 < argc) {
			mp_event = argv[++i];
		} else {
			fprintf(stderr,
			    "usage: bench-event [--time S] [--waiters N]... "
			    "[--gap-us US] [--python mp_event.py]\n");
			return 2;
		}
	}
	if (nrows == 0) {
		rows[nrows++] = 1;
		rows[nrows++] = 4;
	}
	for (int i = 0; i < nrows; i++) {
		if (rows[i] < 1 || rows[i] > MAX_WAITERS) {
			fprintf(stderr, "bench-event: 1..%d waiters\n",
			    MAX_WAITERS);
			return 2;
		}
	}
	/* the shared page (the default), then messages only: the waiters
	 * are fork()ed after the switch, so they inherit it */
	for (int path = 0; path < 2; path++) {
		if (path == 1) {
			setenv("TROUPE_EVENT_SHM", "0", 1);
		}
		for (int i = 0; i < nrows; i++) {
			tw[path][i] = troupe_wake(rows[i]);
		}
		rt[path] = troupe_is_set_rt();
	}
	unsetenv("TROUPE_EVENT_SHM");
	py = run_python(rows, nrows);
	if (!py) {
		fprintf(stderr, "bench-event: %s failed; Python not measured\n",
		    mp_event);
	}
	printf("\nbench-event: %d CPU(s) usable, --time %g s\n", tr_cpu_count(),
	    target_s);
	printf("| figure                          |   troupe |  py Event | "
	       "troupe/py | target |\n");
	printf("|---------------------------------|----------|-----------|--"
	       "---------|--------|\n");
	for (int path = 0; path < 2; path++) {
		const char *how = path ? "messages" : "page";

		for (int i = 0; i < nrows; i++) {
			char   name[64];
			double pm, pp, med = tw[path][i].med;

			snprintf(
			    name, sizeof(name), "event_wake_%dw_us", rows[i]);
			pm = py ? py_figure(py, name) : -1;
			snprintf(name, sizeof(name), "event_wake_%dw_p99_us",
			    rows[i]);
			pp = py ? py_figure(py, name) : -1;
			printf(
			    "| set-to-wake %-8s %2dw us     | %8.1f | %9.1f | "
			    "%8.2fx | %s |\n",
			    how, rows[i], med, pm, pm > 0 ? med / pm : 0,
			    rows[i] != 1 || path ? "-"
			        : pm <= 0        ? "<=1.00x py: not measured"
			        : med <= pm      ? "<=1.00x py: met"
			                         : "<=1.00x py: MISSED");
			printf(
			    "| set-to-wake %-8s %2dw p99 us | %8.1f | %9.1f | "
			    "%8.2fx | |\n",
			    how, rows[i], tw[path][i].p99, pp,
			    pp > 0 ? tw[path][i].p99 / pp : 0);
		}
		printf("| is_set() %-8s us            | %8.1f |         - | "
		       "        - | |\n",
		    how, rt[path].med);
	}
	printf("(troupe/py: times, so below 1.00x troupe is faster.  page: "
	       "the default on one host, set() wakes the waiters' futex on "
	       "the event's shared page; messages: TROUPE_EVENT_SHM=0, "
	       "setter -> event actor -> each waiter, two ZeroMQ hops)\n");
	return 0;
}
