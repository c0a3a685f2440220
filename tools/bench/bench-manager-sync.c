/* SPDX-License-Identifier: MIT */
/* bench-manager-sync -- the Manager's RLock, Semaphore, Condition and
 * Array next to Python's multiprocessing.Manager() measured in the same
 * run (tools/bench/mp_manager_sync.py with /usr/bin/python3): the first
 * seed's "RLock managed by server" and "Condition managed by server"
 * rows, and integers read from a managed Array.
 *
 *   RLock, Semaphore     acquire/release pairs per second by one process
 *                        (each call a round trip, in both)
 *   Condition            interleaved waits per second by two processes,
 *                        each notifying the other and waiting in turn
 *   Array, a[i]          integers read one at a time from a managed
 *                        Array('i') of 1000 (each a round trip)
 *   Array, a[:]          integers read by whole-array slices
 *   Array, raw read      the same by tr_marray_read() (raw int32 items;
 *                        Python: a[:] again, its array.array pickled)
 *
 * Each figure doubles its count until one run lasts --time seconds (0.3 by
 * default).  --rounds N measures troupe and Python alternately N times and
 * shows the medians.  --no-python leaves Python out. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "troupe.h"

#include "bench-util.h"

#ifndef TR_BENCH_MP_MANAGER_SYNC
#define TR_BENCH_MP_MANAGER_SYNC "tools/bench/mp_manager_sync.py"
#endif

static double delta = 0.3;

static void
check(int r, const char *what)
{
	if (r < 0) {
		die(what, r);
	}
}

/* Run fn(n, arg), which returns the seconds it measured, with n doubling
 * until one run takes delta seconds; returns runs of one per second. */
static double
timed(double (*fn)(long n, void *arg), void *arg)
{
	long   n = 1;
	double t = 0;

	while (t < delta) {
		n *= 2;
		t = fn(n, arg);
	}
	return (double) n / t;
}

static double
lock_pairs(long n, void *arg)
{
	double t0 = now();

	for (long i = 0; i < n; i++) {
		check(tr_mlock_acquire(arg, TR_TIMEOUT_INFINITE), "acquire");
		check(tr_mlock_release(arg), "release");
	}
	return now() - t0;
}

static double
sem_pairs(long n, void *arg)
{
	double t0 = now();

	for (long i = 0; i < n; i++) {
		check(tr_msem_acquire(arg, TR_TIMEOUT_INFINITE), "acquire");
		check(tr_msem_release(arg), "release");
	}
	return now() - t0;
}

/* ---- Condition: two processes in turn ----------------------------------- */

/* args: "WHERE KEY REF N": take the lock, notify, then N times wait and
 * notify. */
static int
cond_child(const void *args, size_t len)
{
	char        where[80], key[80], ref[80];
	long        n;
	tr_manager *m;
	tr_mobj    *c;

	if (sscanf(args, "%79s %79s %79s %ld", where, key, ref, &n) != 4) {
		return 2;
	}
	check(tr_manager_connect(&m, where, key), "connect");
	check(tr_mobj_open(&c, m, ref), "open");
	check(tr_mlock_acquire(c, TR_TIMEOUT_INFINITE), "acquire");
	check(tr_mcond_notify(c, 1), "notify");
	for (long i = 0; i < n; i++) {
		check(tr_mcond_wait(c, TR_TIMEOUT_INFINITE), "wait");
		check(tr_mcond_notify(c, 1), "notify");
	}
	check(tr_mlock_release(c), "release");
	tr_mobj_destroy(&c);
	tr_manager_destroy(&m);
	return 0;
}
TR_ACTOR(bench_cond_child, cond_child)

static tr_manager *cm;

static double
cond_waits(long n, void *arg)
{
	char        args[400];
	tr_process *p;
	double      t0, t;

	snprintf(args, sizeof(args), "%s %s %s %ld", tr_manager_where(cm),
	    tr_manager_authkey(cm), tr_mobj_ref(arg), n);
	check(tr_mlock_acquire(arg, TR_TIMEOUT_INFINITE), "acquire");
	check(
	    tr_process_new(&p, "bench_cond_child", args, strlen(args)), "new");
	check(tr_process_start(p, 10000), "start");
	check(tr_mcond_wait(arg, TR_TIMEOUT_INFINITE), "wait"); /* it is in */
	t0 = now();
	for (long i = 0; i < n; i++) {
		check(tr_mcond_notify(arg, 1), "notify");
		check(tr_mcond_wait(arg, TR_TIMEOUT_INFINITE), "wait");
	}
	t = now() - t0;
	check(tr_mcond_notify(arg, 1), "notify");
	check(tr_mlock_release(arg), "release");
	check(tr_process_join(p, TR_TIMEOUT_INFINITE), "join");
	tr_process_destroy(&p);
	return t;
}

/* ---- Array -------------------------------------------------------------- */

static double
array_reads(long n, void *arg)
{
	double t0 = now();

	for (long i = 0; i < n; i++) {
		for (int j = 0; j < 1000; j++) {
			tr_mval *v = NULL;

			check(tr_marray_get(arg, j, &v), "get");
			tr_mval_destroy(&v);
		}
	}
	return now() - t0;
}

static double
array_slices(long n, void *arg)
{
	double t0 = now();

	for (long i = 0; i < n; i++) {
		tr_mval *v = NULL;

		check(tr_marray_slice(arg, 0, 1000, &v), "slice");
		tr_mval_destroy(&v);
	}
	return now() - t0;
}

/* ---- table -------------------------------------------------------------- */

static double
array_raw_reads(long n, void *arg)
{
	int32_t buf[1000];
	double  t0 = now();

	for (long i = 0; i < n; i++) {
		check(tr_marray_read(arg, 0, 1000, buf), "read");
	}
	return now() - t0;
}

enum { NROWS = 6 };

/* the raw read is compared with Python's a[:] too */
static const char *const pyname[NROWS] = { "managed_rlock", "managed_semaphore",
	"managed_condition", "managed_array", "managed_array_slice",
	"managed_array_slice" };

static void
run_python(double *py)
{
	char   cmd[1024], name[64];
	double v;
	FILE  *f;

	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 '%s' %g",
	    TR_BENCH_MP_MANAGER_SYNC, delta);
	f = popen(cmd, "r");
	if (!f) {
		return;
	}
	while (fscanf(f, "%63s %lf", name, &v) == 2) {
		for (int i = 0; i < NROWS; i++) {
			if (strcmp(name, pyname[i]) == 0) {
				py[i] = v;
			}
		}
	}
	(void) pclose(f);
}

static void
one_round(bool python, double *tr, double *py)
{
	tr_manager *m;
	tr_mobj    *o;
	tr_mval    *init = tr_mval_list();

	check(tr_manager_start(&m, NULL), "manager");
	check(tr_mobj_new(&o, m, TR_MOBJ_RLOCK, NULL, NULL), "rlock");
	tr[0] = timed(lock_pairs, o);
	tr_mobj_destroy(&o);
	check(tr_mobj_new(&o, m, TR_MOBJ_SEMAPHORE, NULL, NULL), "semaphore");
	tr[1] = timed(sem_pairs, o);
	tr_mobj_destroy(&o);
	check(tr_mobj_new(&o, m, TR_MOBJ_CONDITION, NULL, NULL), "condition");
	cm    = m;
	tr[2] = timed(cond_waits, o) * 2;
	tr_mobj_destroy(&o);
	for (int i = 0; i < 1000; i++) {
		tr_mval *v = tr_mval_int(i);

		check(tr_mval_list_append(init, &v), "init");
	}
	check(tr_marray_new(&o, m, NULL, 'i', 0, init), "array");
	tr_mval_destroy(&init);
	tr[3] = timed(array_reads, o) * 1000;
	tr[4] = timed(array_slices, o) * 1000;
	tr[5] = timed(array_raw_reads, o) * 1000;
	tr_mobj_destroy(&o);
	tr_manager_destroy(&m);
	for (int i = 0; i < NROWS; i++) {
		py[i] = 0;
	}
	if (python) {
		run_python(py);
	}
}

int
main(int argc, char **argv)
{
	static const char *const what[NROWS] = { "RLock managed by a server",
		"Semaphore managed by a server",
		"Condition managed by a server (2 procs)",
		"managed Array('i'), a[i] one by one",
		"managed Array('i'), a[:] slices",
		"managed Array('i'), tr_marray_read()" };
	static const char *const unit[NROWS] = { "pairs/s", "pairs/s",
		"waits/s", "ints/s", "ints/s", "ints/s" };

	check(tr_init(argc, argv), "tr_init");
	return bench_vs_python(
	    argc, argv, NROWS, what, unit, 8, &delta, one_round);
}
