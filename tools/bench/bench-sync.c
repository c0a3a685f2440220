/* SPDX-License-Identifier: MIT */
/* bench-sync -- the seed's synchronization tables, troupe next to Python's
 * multiprocessing measured in the same run (tools/bench/mp_sync.py with
 * /usr/bin/python3):
 *
 *   lock, rlock    acquire/release pairs per second, one process
 *   cond           wait/notify pairs per second interleaved by two
 *                  processes on one Condition (the seed's conditionspeed:
 *                  each side notifies, then waits)
 *   list           integers read per second from a plain array (Python: a
 *                  list)
 *   array_nolock   ... from a shared Array without a lock, through
 *                  tr_array_get_i64() (Python: Array(lock=False)[i])
 *   array_lock     ... from a shared Array with its lock, each read taking
 *                  it (Python: Array(lock=True)[i])
 *   managed_lock   the actor implementation's lock (TR_SYNC_ACTOR: every
 *                  acquire a round trip to the sync actor, every release a
 *                  one-way message) next to Python's Manager().Lock()
 *   actor cond     the Condition benchmark on an actor's Condition, next
 *                  to Python's multiprocessing.Condition
 *   managed_list   Python's Manager().list(): troupe's Manager is not built
 *                  yet (n/a)
 *
 * Each figure doubles its count until one run lasts --time seconds (0.3 by
 * default).  --no-python leaves Python out. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "troupe.h"

#ifndef TR_BENCH_MP_SYNC
#define TR_BENCH_MP_SYNC "tools/bench/mp_sync.py"
#endif

static double delta = 0.3;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

static void
check(int r, const char *what)
{
	if (r < 0) {
		fprintf(stderr, "bench-sync: %s: %s\n", what, tr_strerror(r));
		exit(1);
	}
}

static double
lockspeed(tr_lock *l)
{
	double elapsed = 0;
	long   n       = 1;

	while (elapsed < delta) {
		double t;

		n *= 2;
		t = now();
		for (long i = 0; i < n; i++) {
			(void) tr_lock_acquire(l, TR_TIMEOUT_INFINITE);
			(void) tr_lock_release(l);
		}
		elapsed = now() - t;
	}
	return (double) n / elapsed;
}

/* The other side of conditionspeed (the seed's notify_func). */
static int
notify_func(const void *args, size_t len)
{
	char     addr[TR_SHM_ADDRLEN];
	long     n;
	tr_cond *c;

	if (sscanf(args, "%63s %ld", addr, &n) != 2 || tr_cond_open(&c, addr)) {
		return 1;
	}
	(void) tr_lock_acquire(tr_cond_lock(c), TR_TIMEOUT_INFINITE);
	(void) tr_cond_notify(c, 1);
	for (long i = 0; i < n; i++) {
		(void) tr_cond_wait(c, TR_TIMEOUT_INFINITE);
		(void) tr_cond_notify(c, 1);
	}
	(void) tr_lock_release(tr_cond_lock(c));
	return 0;
}
TR_ACTOR(bench_notify, notify_func)

static double
conditionspeed(int impl)
{
	double   elapsed = 0;
	long     n       = 1;
	tr_cond *c;

	check(tr_cond_new(&c, &(tr_sync_opts) { NULL, impl }), "tr_cond_new");
	while (elapsed < delta) {
		char        args[128];
		tr_process *p;
		double      t;

		n *= 2;
		snprintf(args, sizeof(args), "%s %ld", tr_cond_addr(c), n);
		check(tr_lock_acquire(tr_cond_lock(c), -1), "acquire");
		check(tr_process_new(&p, "bench_notify", args, strlen(args)),
		    "tr_process_new");
		check(tr_process_start(p, 30000), "tr_process_start");
		check(tr_cond_wait(c, 30000), "wait");
		t = now();
		for (long i = 0; i < n; i++) {
			(void) tr_cond_notify(c, 1);
			check(tr_cond_wait(c, 30000), "wait");
		}
		elapsed = now() - t;
		check(tr_lock_release(tr_cond_lock(c)), "release");
		check(tr_process_join(p, 30000), "join");
		tr_process_destroy(&p);
	}
	tr_cond_destroy(&c);
	return 2.0 * (double) n / elapsed;
}

enum { SIZE = 1000 };

static double
listspeed(void)
{
	static volatile int32_t list[SIZE];
	double                  elapsed = 0;
	long                    n       = 1;
	int64_t                 sum     = 0;

	while (elapsed < delta) {
		double t;

		n *= 2;
		t = now();
		for (long k = 0; k < n; k++) {
			for (int i = 0; i < SIZE; i++) {
				sum += list[i];
			}
		}
		elapsed = now() - t;
	}
	return sum == -1 ? 0 : (double) n * SIZE / elapsed;
}

static double
arrayspeed(int flags)
{
	int32_t   init[SIZE];
	tr_array *a;
	double    elapsed = 0;
	long      n       = 1;

	for (int i = 0; i < SIZE; i++) {
		init[i] = i;
	}
	check(tr_array_new(&a, NULL, 'i', SIZE, init, flags), "array");
	while (elapsed < delta) {
		double t;

		n *= 2;
		t = now();
		for (long k = 0; k < n; k++) {
			for (size_t i = 0; i < SIZE; i++) {
				int64_t x;

				(void) tr_array_get_i64(a, i, &x);
			}
		}
		elapsed = now() - t;
	}
	tr_array_destroy(&a);
	return (double) n * SIZE / elapsed;
}

/* Python's figures, by row name, from mp_sync.py. */
struct py {
	char   name[32];
	double v;
};

static int
run_python(struct py *rows, int max)
{
	char  cmd[1024];
	FILE *f;
	int   n = 0;

	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 '%s' %g", TR_BENCH_MP_SYNC,
	    delta);
	f = popen(cmd, "r");
	if (!f) {
		return 0;
	}
	while (
	    n < max && fscanf(f, "%31s %lf", rows[n].name, &rows[n].v) == 2) {
		n++;
	}
	(void) pclose(f);
	return n;
}

static double
py_get(const struct py *rows, int n, const char *name)
{
	for (int i = 0; i < n; i++) {
		if (strcmp(rows[i].name, name) == 0) {
			return rows[i].v;
		}
	}
	return 0;
}

static void
row(const char *what, const char *unit, double tr, double py)
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
	printf("| %-36s | %-15s | %10s | %10s | %7s |\n", what, unit, a, b, r);
	fflush(stdout);
}

int
main(int argc, char **argv)
{
	struct py py[16];
	bool      python = true;
	int       npy    = 0;
	tr_lock  *l;
	double    lock, rlock, alock, cond, acond, list, nolock, locked;

	check(tr_init(argc, argv), "tr_init");
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--no-python") == 0) {
			python = false;
		} else if (strcmp(argv[i], "--time") == 0 && i + 1 < argc) {
			delta = atof(argv[++i]);
		} else {
			fprintf(stderr,
			    "usage: bench-sync [--time S] "
			    "[--no-python]\n");
			return 2;
		}
	}
	check(tr_lock_new(&l, NULL), "lock");
	lock = lockspeed(l);
	tr_lock_destroy(&l);
	check(tr_rlock_new(&l, NULL), "rlock");
	rlock = lockspeed(l);
	tr_lock_destroy(&l);
	check(tr_lock_new(&l, &(tr_sync_opts) { NULL, TR_SYNC_ACTOR }),
	    "actor lock");
	alock = lockspeed(l);
	tr_lock_destroy(&l);
	cond   = conditionspeed(TR_SYNC_LOCAL);
	acond  = conditionspeed(TR_SYNC_ACTOR);
	list   = listspeed();
	nolock = arrayspeed(TR_SHARED_NOLOCK);
	locked = arrayspeed(0);
	if (python) {
		npy = run_python(py, 16);
	}
	printf("| %-36s | %-15s | %10s | %10s | %7s |\n", "", "unit", "troupe",
	    "python", "ratio");
	printf("|--------------------------------------|-----------------|----"
	       "--------|------------|---------|\n");
	row("Lock acquire/release", "pairs/s", lock, py_get(py, npy, "lock"));
	row("RLock acquire/release", "pairs/s", rlock,
	    py_get(py, npy, "rlock"));
	row("actor Lock vs Manager().Lock()", "pairs/s", alock,
	    py_get(py, npy, "managed_lock"));
	row("Condition wait/notify, 2 processes", "waits/s", cond,
	    py_get(py, npy, "cond"));
	row("actor Condition wait/notify", "waits/s", acond,
	    py_get(py, npy, "cond"));
	row("read: list / plain array", "ints/s", list,
	    py_get(py, npy, "list"));
	row("read: unsynchronized shared Array", "ints/s", nolock,
	    py_get(py, npy, "array_nolock"));
	row("read: synchronized shared Array", "ints/s", locked,
	    py_get(py, npy, "array_lock"));
	row("read: managed list", "ints/s", 0, py_get(py, npy, "managed_list"));
	return 0;
}
