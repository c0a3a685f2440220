/* SPDX-License-Identifier: MIT */
/* bench-supervisor: how fast a troupe supervisor restarts a child, next to
 * the bare fork()+_exit()+waitpid() floor (measured here) and Erlang/OTP's
 * supervisor (measured in the same run by erl_sup.escript).
 *
 *   restart latency: a one_for_one supervisor with one permanent child;
 *     SIGKILL the child, and time until its replacement, in its body,
 *     stamps CLOCK_MONOTONIC into a pipe (median, p99 over --n kills);
 *   sustained restarts/s: a child that exits 1 as soon as it runs,
 *     restarted for ~2 s; every incarnation stamps the pipe;
 *   fork floor: fork(), child _exit(0), waitpid(), in this process;
 *   dynamic starts: a simple_one_for_one supervisor starts 100, then
 *     (another one) 1000 instances one request at a time; the time per
 *     start should not grow with the number of children already running.
 *
 * Usage: bench-supervisor [--n N] [--escript PATH] [--no-erlang]
 *                         [--dynamic-only | --no-dynamic] */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "troupe.h"

#ifndef TR_BENCH_ERL_SUP
#define TR_BENCH_ERL_SUP "tools/bench/erl_sup.escript"
#endif

struct stamp {
	pid_t   pid;
	int64_t ns;
};

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
stamp(const void *args, size_t len)
{
	char         buf[16] = "";
	struct stamp s       = { getpid(), now_ns() };

	memcpy(buf, args, len < 15 ? len : 15);
	(void) !write(atoi(buf), &s, sizeof(s));
}

static int
bench_alive(const void *args, size_t len)
{
	stamp(args, len);
	for (;;) {
		pause();
	}
	return 0;
}
TR_ACTOR(bench_alive, bench_alive)

static int
bench_crash(const void *args, size_t len)
{
	stamp(args, len);
	return 1;
}
TR_ACTOR(bench_crash, bench_crash)

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;

	return (x > y) - (x < y);
}

/* Median and p99 of v (sorted in place), in microseconds. */
static void
med_p99(int64_t *v, size_t n, double *med, double *p99)
{
	size_t k = (size_t) (0.99 * (double) n);

	qsort(v, n, sizeof(*v), cmp_i64);
	*med = (double) v[n / 2] / 1000.0;
	*p99 = (double) v[k < n ? k : n - 1] / 1000.0;
}

static int
read_stamp(int fd, struct stamp *s, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	if (poll(&p, 1, timeout_ms) != 1) {
		return -ETIMEDOUT;
	}
	return read(fd, s, sizeof(*s)) == (ssize_t) sizeof(*s) ? 0 : -EIO;
}

static void
fork_floor(size_t n, double *med, double *p99)
{
	int64_t *v = calloc(n, sizeof(*v));

	for (size_t i = 0; i < n; i++) {
		int64_t t0  = now_ns();
		pid_t   pid = fork();

		if (pid == 0) {
			_exit(0);
		}
		(void) waitpid(pid, NULL, 0);
		v[i] = now_ns() - t0;
	}
	med_p99(v, n, med, p99);
	free(v);
}

static int
start_sup(tr_supervisor **ret, const char *actor, int wfd)
{
	tr_child_spec c;
	tr_sup_spec   spec;
	char          arg[16];

	snprintf(arg, sizeof(arg), "%d", wfd);
	tr_child_spec_init(&c, "c", actor);
	c.args        = arg;
	c.len         = strlen(arg);
	c.shutdown_ms = TR_SHUTDOWN_BRUTAL_KILL;
	tr_sup_spec_init(&spec);
	spec.intensity = 1000000000;
	spec.period_ms = 1000;
	spec.children  = &c;
	spec.nchildren = 1;
	spec.quiet     = true;
	return tr_supervisor_start(ret, &spec, 10000);
}

static int
restart_latency(size_t n, double *med, double *p99)
{
	tr_supervisor *sup;
	struct stamp   s;
	int64_t       *v = calloc(n, sizeof(*v));
	int            fds[2], r;

	if (!v || pipe(fds) < 0) {
		return -ENOMEM;
	}
	r = start_sup(&sup, "bench_alive", fds[1]);
	if (r == 0) {
		r = read_stamp(fds[0], &s, 5000);
	}
	for (size_t i = 0; r == 0 && i < n + 10; i++) {
		int64_t t0 = now_ns();

		(void) kill(s.pid, SIGKILL);
		r = read_stamp(fds[0], &s, 5000);
		if (i >= 10) {
			v[i - 10] = s.ns - t0;
		}
	}
	if (r == 0) {
		med_p99(v, n, med, p99);
	}
	tr_supervisor_destroy(&sup);
	close(fds[0]);
	close(fds[1]);
	free(v);
	return r;
}

static int
sustained(double seconds, double *rate)
{
	tr_supervisor *sup;
	struct stamp   s;
	int            fds[2], r;
	long           count = 0;
	int64_t        t0 = 0, end = 0;

	if (pipe(fds) < 0) {
		return -errno;
	}
	r = start_sup(&sup, "bench_crash", fds[1]);
	while (r == 0 && (r = read_stamp(fds[0], &s, 5000)) == 0) {
		if (count == 0 && t0 == 0) {
			t0  = s.ns; /* the first one after a short warm-up */
			end = t0 + (int64_t) (seconds * 1e9);
		}
		if (s.ns >= end) {
			break;
		}
		count++;
	}
	if (r == 0) {
		*rate = (double) count / ((double) (s.ns - t0) / 1e9);
	}
	tr_supervisor_destroy(&sup);
	close(fds[0]);
	close(fds[1]);
	return r;
}

static int
sleep_forever(const void *args, size_t len)
{
	for (;;) {
		pause();
	}
	return 0;
}
TR_ACTOR(bench_sleep, sleep_forever)

/* Start n instances under a fresh simple_one_for_one supervisor, one
 * start_simple() call each; *ret_ms gets the time all of them took. */
static int
dynamic_starts(size_t n, double *ret_ms)
{
	tr_child_spec  tmpl;
	tr_sup_spec    spec;
	tr_supervisor *sup;
	int64_t        t0;
	int            r;

	tr_child_spec_init(&tmpl, "w", "bench_sleep");
	tmpl.restart     = TR_RESTART_TEMPORARY;
	tmpl.shutdown_ms = TR_SHUTDOWN_BRUTAL_KILL;
	tr_sup_spec_init(&spec);
	spec.strategy  = TR_SUP_SIMPLE_ONE_FOR_ONE;
	spec.children  = &tmpl;
	spec.nchildren = 1;
	spec.quiet     = true;
	r              = tr_supervisor_start(&sup, &spec, 10000);
	t0             = now_ns();
	for (size_t i = 0; r == 0 && i < n; i++) {
		r = tr_supervisor_start_simple(sup, NULL, 0, NULL, 30000);
	}
	*ret_ms = (double) (now_ns() - t0) / 1e6;
	if (r == 0) {
		r = tr_supervisor_stop(sup, 60000);
	}
	tr_supervisor_destroy(&sup);
	return r;
}

static int
dynamic_table(void)
{
	static const size_t ns[2] = { 100, 1000 };
	double              ms[2];
	int                 r = 0;

	for (int i = 0; r == 0 && i < 2; i++) {
		r = dynamic_starts(ns[i], &ms[i]);
	}
	if (r < 0) {
		return r;
	}
	printf("\ndynamic children (simple_one_for_one start_simple)\n\n");
	printf("%-30s %12s %14s\n", "children", "total (ms)", "per start (us)");
	for (int i = 0; i < 2; i++) {
		printf("%-30zu %12.1f %14.1f\n", ns[i], ms[i],
		    ms[i] * 1000.0 / (double) ns[i]);
	}
	printf("1000 vs 100: %.1fx the time (linear: 10x)\n", ms[1] / ms[0]);
	return 0;
}

struct erl {
	double med, p99, rate;
	bool   ok;
};

static void
run_erlang(const char *escript, size_t n, struct erl *e)
{
	char   cmd[1024], line[256], name[128];
	FILE  *f;
	double v;

	snprintf(cmd, sizeof(cmd), "escript %s %zu 2>/dev/null", escript, n);
	f = popen(cmd, "r");
	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%127s %lf", name, &v) != 2) {
			continue;
		}
		if (strcmp(name, "erl_sup_restart_kill_us") == 0) {
			e->med = v;
			e->ok  = true;
		} else if (strcmp(name, "erl_sup_restart_kill_p99_us") == 0) {
			e->p99 = v;
		} else if (strcmp(name, "erl_sup_restarts_per_s") == 0) {
			e->rate = v;
		}
	}
	if (f) {
		(void) pclose(f);
	}
}

static void
row(const char *what, double troupe, double floor, double erl, bool lower)
{
	char f[32] = "-", e[32] = "-", rf[32] = "-", re[32] = "-";

	if (floor > 0) {
		snprintf(f, sizeof(f), "%.1f", floor);
		snprintf(rf, sizeof(rf), "%.2fx", troupe / floor);
	}
	if (erl > 0) {
		snprintf(e, sizeof(e), "%.1f", erl);
		snprintf(re, sizeof(re), "%.2fx",
		    lower ? troupe / erl : troupe / erl);
	}
	printf(
	    "%-30s %12.1f %12s %12s %14s %14s\n", what, troupe, f, e, rf, re);
}

int
main(int argc, char **argv)
{
	const char *escript = TR_BENCH_ERL_SUP;
	size_t      n       = 1000;
	bool        erlang = true, dynamic_only = false, dynamic = true;
	double      fmed, fp99, med = 0, p99 = 0, rate = 0;
	struct erl  e = { 0 };
	int         r;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--n") == 0 && i + 1 < argc) {
			n = (size_t) atol(argv[++i]);
		} else if (strcmp(argv[i], "--escript") == 0 && i + 1 < argc) {
			escript = argv[++i];
		} else if (strcmp(argv[i], "--no-erlang") == 0) {
			erlang = false;
		} else if (strcmp(argv[i], "--dynamic-only") == 0) {
			dynamic_only = true;
		} else if (strcmp(argv[i], "--no-dynamic") == 0) {
			dynamic = false;
		}
	}
	if (tr_init(argc, argv) < 0) {
		return 1;
	}
	if (dynamic_only) {
		r = dynamic_table();
		if (r < 0) {
			fprintf(
			    stderr, "bench-supervisor: %s\n", tr_strerror(r));
		}
		return r < 0;
	}
	fork_floor(n * 2, &fmed, &fp99);
	r = restart_latency(n, &med, &p99);
	if (r == 0) {
		r = sustained(2.0, &rate);
	}
	if (r < 0) {
		fprintf(stderr, "bench-supervisor: %s\n", tr_strerror(r));
		return 1;
	}
	if (erlang) {
		run_erlang(escript, n, &e);
	}
	printf("supervisor restart, %zu SIGKILLs (start method %s)\n\n", n,
	    getenv("TROUPE_START_METHOD") ? getenv("TROUPE_START_METHOD")
	                                  : "fork");
	printf("%-30s %12s %12s %12s %14s %14s\n", "metric", "troupe",
	    "fork floor", "Erlang/OTP", "troupe/floor", "troupe/erlang");
	row("restart latency median (us)", med, fmed, e.ok ? e.med : 0, true);
	row("restart latency p99 (us)", p99, fp99, e.ok ? e.p99 : 0, true);
	row("sustained restarts/s", rate, 1e6 / fmed, e.ok ? e.rate : 0, false);
	printf("\ntargets: median <= 1.5x fork floor: %s; >= 1000 restarts/s: "
	       "%s\n",
	    med <= 1.5 * fmed ? "met" : "MISSED",
	    rate >= 1000 ? "met" : "MISSED");
	if (erlang && !e.ok) {
		printf(
		    "(Erlang/OTP column empty: could not run %s)\n", escript);
	}
	r = dynamic ? dynamic_table() : 0;
	if (r < 0) {
		fprintf(stderr, "bench-supervisor: %s\n", tr_strerror(r));
	}
	return r < 0;
}
