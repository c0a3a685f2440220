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
 *                  to Python's Manager().Condition()
 *   managed_list   integers read one at a time from a list of 1000 in a
 *                  Manager (troupe/manager.h; through the same-host channel),
 *                  next to Python's Manager().list()
 *
 * Each figure doubles its count until one run lasts --time seconds (0.3 by
 * default).  --rounds N measures troupe and Python alternately N times and
 * shows the medians (a busy machine's drift then weighs on both).
 * --no-python leaves Python out.  On a busy machine the two-process rows
 * depend on the scheduler; `taskset -c 0 bench-sync` puts everything on
 * one CPU. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "troupe.h"

#include "bench-util.h"

#ifndef TR_BENCH_MP_SYNC
#define TR_BENCH_MP_SYNC "tools/bench/mp_sync.py"
#endif

static double delta = 0.3;

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
managedlistspeed(void)
{
	tr_manager *m;
	tr_mobj    *l;
	tr_mval    *init    = tr_mval_list();
	double      elapsed = 0;
	long        n       = 1;

	for (int i = 0; i < SIZE; i++) {
		tr_mval *v = tr_mval_int(i);

		check(tr_mval_list_append(init, &v), "init");
	}
	check(tr_manager_start(&m, NULL), "manager");
	check(tr_mobj_new(&l, m, TR_MOBJ_LIST, NULL, init), "managed list");
	tr_mval_destroy(&init);
	while (elapsed < delta) {
		double t;

		n *= 2;
		t = now();
		for (long k = 0; k < n; k++) {
			for (int i = 0; i < SIZE; i++) {
				tr_mval *v = NULL;

				check(tr_mlist_get(l, i, &v), "l[i]");
				tr_mval_destroy(&v);
			}
		}
		elapsed = now() - t;
	}
	tr_mobj_destroy(&l);
	tr_manager_destroy(&m);
	return (double) n * SIZE / elapsed;
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

enum { NROWS = 9 };

/* One round: troupe's figures, then Python's, into tr[] and py[]. */
static void
one_round(bool python, double *tr, double *pyv)
{
	static const char *const pyname[NROWS] = { "lock", "rlock",
		"managed_lock", "cond", "managed_cond", "list", "array_nolock",
		"array_lock", "managed_list" };
	struct py                py[16];
	int                      npy = 0;
	tr_lock                 *l;

	check(tr_lock_new(&l, NULL), "lock");
	tr[0] = lockspeed(l);
	tr_lock_destroy(&l);
	check(tr_rlock_new(&l, NULL), "rlock");
	tr[1] = lockspeed(l);
	tr_lock_destroy(&l);
	check(tr_lock_new(&l, &(tr_sync_opts) { NULL, TR_SYNC_ACTOR }),
	    "actor lock");
	tr[2] = lockspeed(l);
	tr_lock_destroy(&l);
	tr[3] = conditionspeed(TR_SYNC_LOCAL);
	tr[4] = conditionspeed(TR_SYNC_ACTOR);
	tr[5] = listspeed();
	tr[6] = arrayspeed(TR_SHARED_NOLOCK);
	tr[7] = arrayspeed(0);
	tr[8] = managedlistspeed();
	if (python) {
		npy = run_python(py, 16);
	}
	for (int i = 0; i < NROWS; i++) {
		pyv[i] = py_get(py, npy, pyname[i]);
	}
}

int
main(int argc, char **argv)
{
	static const char *const what[NROWS] = { "Lock acquire/release",
		"RLock acquire/release", "actor Lock vs Manager().Lock()",
		"Condition wait/notify, 2 processes",
		"actor Condition vs Manager().Condition()",
		"read: list / plain array", "read: unsynchronized shared Array",
		"read: synchronized shared Array", "read: managed list" };
	static const char *const unit[NROWS] = { "pairs/s", "pairs/s",
		"pairs/s", "waits/s", "waits/s", "ints/s", "ints/s", "ints/s",
		"ints/s" };

	check(tr_init(argc, argv), "tr_init");
	return bench_vs_python(
	    argc, argv, NROWS, what, unit, 15, &delta, one_round);
}
