/* SPDX-License-Identifier: MIT */
/* bench-queue: the first seed's table, "number of 256 byte string objects
 * passed between processes per second", for troupe's Queue next to
 * Python's multiprocessing.Queue and Manager().Queue() (tools/bench/
 * mp_queue.py, run with /usr/bin/python3 in the same run), and the ratio.
 *
 * Rows: Queue 1 producer / 1 consumer and 4 / 4; JoinableQueue 1 / 1 with
 * task_done per item; and "a queue managed by a server" -- troupe's Queue
 * is always one (its broker), so that row sets the same 1 / 1 figure
 * against Python's Manager().Queue().  Each figure: items / time from the
 * producers' start to the consumers' end (a Queue is closed when the
 * producers are done; consumers get until TR_ECLOSED and exit) or to
 * join()'s return (JoinableQueue), producers and consumers each their
 * own process, as mp_queue.py times Python.
 *
 * Puts go on the producer's ring and gets come from the consumer's ring
 * (the same-host paths) unless the row says "by message"
 * (TROUPE_QUEUE_SHM=0 in producers and consumers); either way a put
 * returns once the broker holds the item, except under a put window.
 *
 * Usage: bench-queue [--count N] [--python PATH/mp_queue.py] [--no-python]
 *                    [--ring-only]  (only the rows on rings: 1/1, 4/4,
 *                                    JoinableQueue, for profiling)
 */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "troupe.h"

#include "bench-util.h"

extern char **environ;

#define ITEM_SIZE 256

/* "where n window shm": puts n items of 256 B with that put window, on
 * its ring (shm 1) or by message only (shm 0: TROUPE_QUEUE_SHM=0). */
static int
producer(const void *args, size_t len)
{
	char      where[128], item[ITEM_SIZE];
	tr_queue *q;
	int       n, window, shm, r;

	if (sscanf(args, "%127s %d %d %d", where, &n, &window, &shm) != 4) {
		return 2;
	}
	if (!shm) {
		setenv("TROUPE_QUEUE_SHM", "0", 1);
	}
	if (tr_queue_open(&q, where) < 0 ||
	    tr_queue_set_put_window(q, (unsigned) window) < 0) {
		return 2;
	}
	memset(item, 'x', sizeof(item));
	for (int i = 0; i < n; i++) {
		r = tr_queue_put_bytes(
		    q, item, sizeof(item), TR_TIMEOUT_INFINITE);
		if (r < 0) {
			return 3;
		}
	}
	return 0;
}
TR_ACTOR(bench_producer, producer)

/* "where window joinable shm": gets until the queue is closed (window 0:
 * the default; shm 0: by message, TROUPE_QUEUE_SHM=0), then exits with 0
 * (the count is checked by qsize staying 0: every item got). */
static int
consumer(const void *args, size_t len)
{
	char      where[128];
	tr_queue *q;
	tr_msg   *m;
	int       n, joinable, shm, r;

	if (sscanf(args, "%127s %d %d %d", where, &n, &joinable, &shm) != 4) {
		return 2;
	}
	if (!shm) {
		setenv("TROUPE_QUEUE_SHM", "0", 1);
	}
	if (tr_queue_open(&q, where) < 0) {
		return 2;
	}
	if (n > 0 && tr_queue_set_window(q, (unsigned) n) < 0) {
		return 2;
	}
	while ((r = tr_queue_get(q, &m, TR_TIMEOUT_INFINITE)) == 0) {
		if (tr_msg_size(m) != ITEM_SIZE) {
			return 4;
		}
		tr_msg_destroy(&m);
		if (joinable && tr_queue_task_done(q) < 0) {
			return 5;
		}
	}
	return r == TR_ECLOSED ? 0 : 3;
}
TR_ACTOR(bench_consumer, consumer)

static tr_process *
start(const char *actor, const char *where, int n, int arg, int shm)
{
	tr_process *p;
	char        args[192];
	int         r;

	snprintf(args, sizeof(args), "%s %d %d %d", where, n, arg, shm);
	r = tr_process_new(&p, actor, args, strlen(args) + 1);
	if (r == 0) {
		r = tr_process_start(p, 30000);
	}
	if (r < 0) {
		die("start", r);
	}
	return p;
}

static void
finish(tr_process **pp)
{
	int code = -1;

	if (tr_process_join(*pp, TR_TIMEOUT_INFINITE) < 0 ||
	    tr_process_exitcode(*pp, &code) < 0 || code != 0) {
		fprintf(stderr, "bench-queue: a %s exited with %d\n",
		    tr_process_actor(*pp), code);
		exit(1);
	}
	tr_process_destroy(pp);
}

/* Items per second through a fresh queue, nprod producers and ncons
 * consumers sharing count items; producers on rings if shm. */
static double put_rate;    /* the last run's: items / producers' time */
static int    cons_window; /* consumers' window; 0 = the default (64) */

static double
run(int nprod, int ncons, long count, int kind, int window, int shm)
{
	tr_queue_opts o = { .kind = kind };
	tr_process   *prod[8], *cons[8];
	tr_queue     *q;
	int64_t       t0, t1;
	int           r, each = (int) (count / nprod);

	r = tr_queue_new(&q, &o);
	if (r < 0) {
		die("tr_queue_new", r);
	}
	for (int i = 0; i < ncons; i++) {
		cons[i] = start("bench_consumer", tr_queue_addr(q), cons_window,
		    kind == TR_QUEUE_JOINABLE, shm);
	}
	t0 = tr_now_ms();
	for (int i = 0; i < nprod; i++) {
		prod[i] = start(
		    "bench_producer", tr_queue_addr(q), each, window, shm);
	}
	for (int i = 0; i < nprod; i++) {
		finish(&prod[i]);
	}
	t1 = tr_now_ms();
	put_rate =
	    (double) each * nprod * 1000.0 / (double) (t1 - t0 ? t1 - t0 : 1);
	/* the end: a JoinableQueue's join returns; a Queue is closed once
	 * the producers are done and its consumers end when they have got
	 * everything (as mp_queue.py's consumers end at their sentinel) */
	if (kind == TR_QUEUE_JOINABLE) {
		r = tr_queue_join(q, TR_TIMEOUT_INFINITE);
	} else {
		r = tr_queue_close(q);
		for (int i = 0; i < ncons; i++) {
			finish(&cons[i]);
		}
	}
	t1 = tr_now_ms();
	if (r < 0) {
		die("join/close", r);
	}
	if (kind == TR_QUEUE_JOINABLE) {
		(void) tr_queue_close(q);
		for (int i = 0; i < ncons; i++) {
			finish(&cons[i]);
		}
	}
	/* every item got (and acknowledged) */
	if (tr_queue_qsize(q) != 0) {
		die("items left in the queue", -EIO);
	}
	tr_queue_destroy(&q);
	return (double) each * nprod * 1000.0 /
	    (double) (t1 - t0 ? t1 - t0 : 1);
}

struct py {
	double q11, q44, mgr, joinable;
};

static void
run_python(const char *script, long count, struct py *ret)
{
	char   n[32], line[256], name[128], unit[32];
	char  *argv[] = { "/usr/bin/python3", (char *) script, "--count", n,
		 NULL };
	int    fds[2], status;
	pid_t  pid;
	FILE  *f;
	double v;
	posix_spawn_file_actions_t fa;

	snprintf(n, sizeof(n), "%ld", count);
	if (pipe(fds) < 0) {
		die("pipe", -errno);
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
	posix_spawn_file_actions_addclose(&fa, fds[0]);
	if (posix_spawn(&pid, argv[0], &fa, NULL, argv, environ) != 0) {
		die("posix_spawn python3", -errno);
	}
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	f = fdopen(fds[0], "r");
	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%127s %lf %31s", name, &v, unit) != 3) {
			continue;
		}
		if (!strcmp(name, "queue_1x1_items_per_s")) {
			ret->q11 = v;
		} else if (!strcmp(name, "queue_4x4_items_per_s")) {
			ret->q44 = v;
		} else if (!strcmp(name, "manager_1x1_items_per_s")) {
			ret->mgr = v;
		} else if (!strcmp(name, "joinable_1x1_items_per_s")) {
			ret->joinable = v;
		}
	}
	if (f) {
		fclose(f);
	}
	(void) waitpid(pid, &status, 0);
}

static void
row(const char *what, double troupe, double python)
{
	if (python > 0) {
		printf("| %-44s | %12.0f | %12.0f | %6.2fx |\n", what, troupe,
		    python, troupe / python);
	} else {
		printf("| %-44s | %12.0f | %12s | %7s |\n", what, troupe, "-",
		    "-");
	}
}

int
main(int argc, char **argv)
{
	const char *script = TR_BENCH_MP_QUEUE;
	long        count  = 200000;
	bool        python = true, ring_only = false;
	struct py   py = { 0 };
	double      q11, q44, j11, m11 = 0, m44 = 0, w11 = 0, w44 = 0, p11, p44,
	                      c11 = 0, c44 = 0;
	int r;

	r = tr_init(argc, argv);
	if (r < 0) {
		die("tr_init", r);
	}
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--count") && i + 1 < argc) {
			count = atol(argv[++i]);
		} else if (!strcmp(argv[i], "--python") && i + 1 < argc) {
			script = argv[++i];
		} else if (!strcmp(argv[i], "--no-python")) {
			python = false;
		} else if (!strcmp(argv[i], "--ring-only")) {
			ring_only = true;
		}
	}
	if (count < 1000) {
		count = 1000;
	}
	/* every put returns once the broker holds the item: on the
	 * producer's ring (the default on one host) ... */
	q11 = run(1, 1, count, TR_QUEUE_PLAIN, 0, 1);
	p11 = put_rate;
	q44 = run(4, 4, count, TR_QUEUE_PLAIN, 0, 1);
	p44 = put_rate;
	j11 = run(1, 1, count, TR_QUEUE_JOINABLE, 0, 1);
	if (ring_only) {
		goto python;
	}
	/* consumers asking for 1024 items ahead instead of 64 (their
	 * acknowledgements, 16 at a time, then rarely hold up pushes) */
	cons_window = 1024;
	c11         = run(1, 1, count, TR_QUEUE_PLAIN, 0, 1);
	c44         = run(4, 4, count, TR_QUEUE_PLAIN, 0, 1);
	cons_window = 0;
	/* ... or answered by message (TROUPE_QUEUE_SHM=0, another host) */
	m11 = run(1, 1, count / 10, TR_QUEUE_PLAIN, 0, 0);
	m44 = run(4, 4, count / 10, TR_QUEUE_PLAIN, 0, 0);
	/* by message, put window 256: one answered put in 257 */
	w11 = run(1, 1, count, TR_QUEUE_PLAIN, 256, 0);
	w44 = run(4, 4, count, TR_QUEUE_PLAIN, 256, 0);
python:
	if (python) {
		run_python(script, count, &py);
	}
	printf("Number of 256 byte objects passed between processes per "
	       "second (%ld items, %d CPUs)\n",
	    count, tr_cpu_count());
	printf("| %-44s | %12s | %12s | %7s |\n", "connection type", "troupe",
	    "python3 mp", "ratio");
	printf("|%.46s|%.14s|%.14s|%.9s|\n",
	    "----------------------------------------------", "--------------",
	    "--------------", "---------");
	row("Queue 1/1, put on ring (held on return)", q11, py.q11);
	row("Queue 4/4, put on ring (held on return)", q44, py.q44);
	if (!ring_only) {
		row("Queue 1/1, by message (held on return)", m11, py.q11);
		row("Queue 4/4, by message (held on return)", m44, py.q44);
		row("Queue 1/1, on ring, consumer window 1024", c11, py.q11);
		row("Queue 4/4, on ring, consumer window 1024", c44, py.q44);
		row("Queue 1/1, by message, put window 256", w11, py.q11);
		row("Queue 4/4, by message, put window 256", w44, py.q44);
	}
	row("Queue managed by a server (Manager) 1/1", q11, py.mgr);
	row("JoinableQueue + task_done 1/1, on ring", j11, py.joinable);
	/* the producers' side alone (start to last put returned, the items
	 * then held by the broker): what the ring changed */
	row("Queue 1/1, on ring, producer's puts only", p11, 0);
	row("Queue 4/4, on ring, producers' puts only", p44, 0);
	return 0;
}
