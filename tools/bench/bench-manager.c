/* SPDX-License-Identifier: MIT */
/* bench-manager -- troupe's Manager next to Python's
 * multiprocessing.Manager() measured in the same run
 * (tools/bench/mp_manager.py with /usr/bin/python3):
 *
 *   dict sets from a child   a child process sets d[i % 1000] = i on a
 *                            managed dict (troupe: tr_mdict_set_nowait(),
 *                            then one answered call so that every set has
 *                            landed before the clock stops; Python: each
 *                            d[k] = v a round trip, there is no other kind)
 *   ... waiting for each     the same with tr_mdict_set() (a round trip
 *                            each), next to the same Python figure
 *   managed dict, d[k]       values read one at a time from a managed
 *                            dict of 1000 integers (each a round trip)
 *   managed Lock             acquire/release pairs per second (troupe: the
 *                            acquire a round trip, the holder's release
 *                            one-way; Python: m.Lock(), both round trips)
 *   managed list, l[i]       integers read one at a time from a managed
 *                            list of 1000 (each a round trip)
 *   managed list, l[:]       integers read by whole-list slices
 *   managed Queue, 256 B     256-byte strings from a producer child to
 *                            the main process through a managed Queue
 *                            (troupe: puts one-way, gets round trips;
 *                            Python: m.Queue(), both round trips): the
 *                            seed's "Queue managed by server" row
 *
 * troupe's clients on the manager's host call through the same-host
 * channel (actors/chan.c); TROUPE_CHAN=0 measures the mailbox path.
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

#ifndef TR_BENCH_MP_MANAGER
#define TR_BENCH_MP_MANAGER "tools/bench/mp_manager.py"
#endif

static double delta = 0.3;

static void
check(int r, const char *what)
{
	if (r < 0) {
		die(what, r);
	}
}

/* Run fn(n, arg) with n doubling until one run takes delta seconds;
 * returns runs of one per second. */
static double
timed(void (*fn)(long n, void *arg), void *arg)
{
	long   n = 1;
	double t = 0;

	while (t < delta) {
		double t0;

		n *= 2;
		t0 = now();
		fn(n, arg);
		t = now() - t0;
	}
	return (double) n / t;
}

/* ---- dict sets from a child --------------------------------------------- */

struct sets {
	tr_mobj *d;
	bool     nowait;
};

static void
dict_sets(long n, void *arg)
{
	struct sets *s = arg;

	for (long i = 0; i < n; i++) {
		tr_mval *k = tr_mval_int(i % 1000), *v = tr_mval_int(i);

		check(s->nowait ? tr_mdict_set_nowait(s->d, k, v)
		                : tr_mdict_set(s->d, k, v),
		    "set");
		tr_mval_destroy(&k);
		tr_mval_destroy(&v);
	}
	/* answered after every set before it: they have all landed */
	check((int) tr_mobj_len(s->d), "len");
}

/* args: "WHERE KEY REF NOWAIT PARENT": measure, send the rate. */
static int
setter(const void *args, size_t len)
{
	char        where[80], key[80], ref[80], ptxt[TR_ADDR_STRLEN], out[64];
	int         nowait;
	tr_manager *m;
	tr_addr     parent;
	struct sets s;

	if (sscanf(args, "%79s %79s %79s %d %47s", where, key, ref, &nowait,
	        ptxt) != 5 ||
	    tr_addr_parse(ptxt, &parent) < 0) {
		return 2;
	}
	check(tr_manager_connect(&m, where, key), "connect");
	check(tr_mobj_open(&s.d, m, ref), "open");
	s.nowait = nowait;
	snprintf(out, sizeof(out), "%f", timed(dict_sets, &s));
	check(tr_send_bytes(parent, out, strlen(out), 10000), "send");
	tr_mobj_destroy(&s.d);
	tr_manager_destroy(&m);
	return 0;
}
TR_ACTOR(bench_setter, setter)

static double
sets_from_child(tr_manager *m, bool nowait)
{
	char        args[400], ptxt[TR_ADDR_STRLEN];
	tr_mobj    *d;
	tr_process *p;
	tr_msg     *msg;
	double      rate;

	check(tr_mobj_new(&d, m, TR_MOBJ_DICT, NULL, NULL), "dict");
	snprintf(args, sizeof(args), "%s %s %s %d %s", tr_manager_where(m),
	    tr_manager_authkey(m), tr_mobj_ref(d), nowait,
	    tr_addr_format(tr_self(), ptxt, sizeof(ptxt)));
	check(tr_process_new(&p, "bench_setter", args, strlen(args)), "new");
	check(tr_process_start(p, 10000), "start");
	check(tr_recv(&msg, TR_TIMEOUT_INFINITE), "recv");
	rate = strtod(tr_msg_data(msg), NULL);
	tr_msg_destroy(&msg);
	check(tr_process_join(p, TR_TIMEOUT_INFINITE), "join");
	tr_process_destroy(&p);
	check(tr_mobj_drop(d), "drop");
	tr_mobj_destroy(&d);
	return rate;
}

/* ---- lock, list --------------------------------------------------------- */

static void
lock_pairs(long n, void *arg)
{
	for (long i = 0; i < n; i++) {
		check(tr_mlock_acquire(arg, TR_TIMEOUT_INFINITE), "acquire");
		check(tr_mlock_release(arg), "release");
	}
}

static void
dict_reads(long n, void *arg)
{
	for (long i = 0; i < n; i++) {
		for (int j = 0; j < 1000; j++) {
			tr_mval *k = tr_mval_int(j), *v = NULL;

			check(tr_mdict_get(arg, k, &v), "get");
			tr_mval_destroy(&k);
			tr_mval_destroy(&v);
		}
	}
}

static void
list_reads(long n, void *arg)
{
	for (long i = 0; i < n; i++) {
		for (int j = 0; j < 1000; j++) {
			tr_mval *v = NULL;

			check(tr_mlist_get(arg, j, &v), "get");
			tr_mval_destroy(&v);
		}
	}
}

static void
slice_reads(long n, void *arg)
{
	for (long i = 0; i < n; i++) {
		tr_mval *v = NULL;

		check(tr_mlist_slice(arg, 0, 1000, &v), "slice");
		tr_mval_destroy(&v);
	}
}

/* ---- queue -------------------------------------------------------------- */

/* args: "WHERE KEY REF N": put N 256-byte strings. */
static int
producer(const void *args, size_t len)
{
	char        where[80], key[80], ref[80], s[257];
	long        n;
	tr_manager *m;
	tr_mobj    *q;
	tr_mval    *v;

	if (sscanf(args, "%79s %79s %79s %ld", where, key, ref, &n) != 4) {
		return 2;
	}
	check(tr_manager_connect(&m, where, key), "connect");
	check(tr_mobj_open(&q, m, ref), "open");
	memset(s, 'x', 256);
	s[256] = '\0';
	v      = tr_mval_str(s);
	for (long i = 0; i < n; i++) {
		check(tr_mqueue_put_nowait(q, v), "put");
	}
	tr_mval_destroy(&v);
	tr_mobj_destroy(&q);
	tr_manager_destroy(&m);
	return 0;
}
TR_ACTOR(bench_producer, producer)

static tr_manager *qm;

static void
queue_items(long n, void *arg)
{
	char        args[400];
	tr_process *p;

	snprintf(args, sizeof(args), "%s %s %s %ld", tr_manager_where(qm),
	    tr_manager_authkey(qm), tr_mobj_ref(arg), n);
	check(tr_process_new(&p, "bench_producer", args, strlen(args)), "new");
	check(tr_process_start(p, 10000), "start");
	for (long i = 0; i < n; i++) {
		tr_mval *v = NULL;

		check(tr_mqueue_get(arg, &v, TR_TIMEOUT_INFINITE), "get");
		tr_mval_destroy(&v);
	}
	check(tr_process_join(p, TR_TIMEOUT_INFINITE), "join");
	tr_process_destroy(&p);
}

/* ---- table -------------------------------------------------------------- */

enum { NROWS = 7 };

/* Python's row for each of ours: the answered dict set is Python's only
 * kind, so both set rows are measured against it */
static const char *const pyname[NROWS] = { "dict_set_child", "dict_set_child",
	"managed_dict_get", "managed_lock", "managed_list",
	"managed_list_slice", "managed_queue" };

static void
run_python(double *py)
{
	char   cmd[1024], name[64];
	double v;
	FILE  *f;

	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 '%s' %g",
	    TR_BENCH_MP_MANAGER, delta);
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
	tr_mval    *init  = tr_mval_list();
	tr_mval    *dinit = tr_mval_dict();

	check(tr_manager_start(&m, NULL), "manager");
	tr[0] = sets_from_child(m, true);
	tr[1] = sets_from_child(m, false);
	for (int i = 0; i < 1000; i++) {
		tr_mval *k = tr_mval_int(i), *v = tr_mval_int(i);

		check(tr_mval_dict_set(dinit, &k, &v), "init");
	}
	check(tr_mobj_new(&o, m, TR_MOBJ_DICT, NULL, dinit), "dict");
	tr_mval_destroy(&dinit);
	tr[2] = timed(dict_reads, o) * 1000;
	tr_mobj_destroy(&o);
	check(tr_mobj_new(&o, m, TR_MOBJ_LOCK, NULL, NULL), "lock");
	tr[3] = timed(lock_pairs, o);
	tr_mobj_destroy(&o);
	for (int i = 0; i < 1000; i++) {
		tr_mval *v = tr_mval_int(i);

		check(tr_mval_list_append(init, &v), "init");
	}
	check(tr_mobj_new(&o, m, TR_MOBJ_LIST, NULL, init), "list");
	tr_mval_destroy(&init);
	tr[4] = timed(list_reads, o) * 1000;
	tr[5] = timed(slice_reads, o) * 1000;
	tr_mobj_destroy(&o);
	check(tr_mobj_new(&o, m, TR_MOBJ_QUEUE, NULL, NULL), "queue");
	qm    = m;
	tr[6] = timed(queue_items, o);
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
	static const char *const what[NROWS] = {
		"Manager dict sets from a child, one-way",
		"... each set waiting for its answer",
		"managed dict, d[k] one by one", "Lock managed by a server",
		"managed list, l[i] one by one", "managed list, l[:] slices",
		"managed Queue, 256 B strings"
	};
	static const char *const unit[NROWS] = { "sets/s", "sets/s", "gets/s",
		"pairs/s", "ints/s", "ints/s", "items/s" };

	check(tr_init(argc, argv), "tr_init");
	return bench_vs_python(
	    argc, argv, NROWS, what, unit, 8, &delta, one_round);
}
