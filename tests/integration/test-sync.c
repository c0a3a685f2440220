/* SPDX-License-Identifier: MIT */
/* Lock, RLock, Semaphore, BoundedSemaphore, Condition and Barrier on the
 * local (shared-memory) path: the semantics and errors of every call,
 * holder death, exact counts under contention, and the 3x3 matrix of
 * start methods (created in a child started one way, used by a child
 * started another way).  Children are the "op" actor below: they report
 * through their exit code, never through cmocka. */
#include "tr-test.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <protobuf-c/protobuf-c.h>

#include "sync.pb-c.h"
#include "troupe/shared.h"
#include "troupe/sync.h"

/* exit codes of the op actor */
enum {
	OK       = 0,
	E_OPEN   = 10,
	E_RESULT = 11, /* a call returned something else than expected */
	E_BROKEN = 12, /* barrier wait: -EPIPE */
	E_TIMED  = 13, /* -ETIMEDOUT */
	IDX_BASE = 20, /* barrier wait: index i gives 20 + i */
};

#define COUNT_PROCS 8
/* 8 x 100,000 as the issue asks; the sanitizer build runs the same count
 * (each pair is a few atomic instructions, even under ASan) */
#define COUNT_EACH 100000
/* the actor implementation: one round trip per acquire, so fewer */
#define COUNT_EACH_ACTOR 2000

/* Which implementation the cases run against: the whole group runs once
 * for each (main()). */
static int impl = TR_SYNC_LOCAL;

static const tr_sync_opts *
opts(const char *name)
{
	static tr_sync_opts o[4];
	static int          next;
	tr_sync_opts       *p = &o[next++ % 4];

	p->name = name;
	p->impl = impl;
	return p;
}

static int
arg_word(const char *args, int n, char *buf, size_t len)
{
	const char *p = args;

	for (int i = 0; i < n && p; i++) {
		p = strchr(p, ' ');
		p = p ? p + 1 : NULL;
	}
	if (!p) {
		return -1;
	}
	snprintf(buf, len, "%.*s", (int) strcspn(p, " "), p);
	return 0;
}

/* "hold LOCK": acquire, report ready, wait to be killed. */
static int
op_hold(const char *args)
{
	char     w[128];
	tr_lock *l;

	if (arg_word(args, 1, w, sizeof(w)) < 0 || tr_lock_open(&l, w) < 0) {
		return E_OPEN;
	}
	if (tr_lock_acquire(l, TR_TEST_HANG_MS) != 0) {
		return E_RESULT;
	}
	tr_ready();
	pause();
	return OK;
}

/* "take LOCK": acquire; OK only if the previous holder died. */
static int
op_take(const char *args)
{
	char     w[128];
	tr_lock *l;

	if (arg_word(args, 1, w, sizeof(w)) < 0 || tr_lock_open(&l, w) < 0) {
		return E_OPEN;
	}
	tr_ready();
	if (tr_lock_acquire(l, TR_TEST_HANG_MS) != TR_LOCK_OWNER_DIED) {
		return E_RESULT;
	}
	return tr_lock_release(l) == 0 ? OK : E_RESULT;
}

/* "count LOCK VALUE N": N increments of VALUE ('q', no lock of its own)
 * under LOCK. */
static int
op_count(const char *args)
{
	char      w[128], v[128], n[32];
	tr_lock  *l;
	tr_value *val;
	long      each;

	if (arg_word(args, 1, w, sizeof(w)) < 0 ||
	    arg_word(args, 2, v, sizeof(v)) < 0 ||
	    arg_word(args, 3, n, sizeof(n)) < 0 || tr_lock_open(&l, w) < 0 ||
	    tr_value_open(&val, v) < 0) {
		return E_OPEN;
	}
	tr_ready();
	each = atol(n);
	for (long i = 0; i < each; i++) {
		volatile int64_t *p = tr_value_ptr(val);

		if (tr_lock_acquire(l, TR_TEST_HANG_MS) != 0) {
			return E_RESULT;
		}
		*p = *p + 1;
		(void) tr_lock_release(l);
	}
	return OK;
}

/* "create PARENT NAME IMPL": create a lock (of implementation IMPL) and a
 * Value named NAME-lock and NAME-val, send the lock's address to PARENT,
 * wait for a message, then exit OK if the value is 42. */
static int
op_create(const char *args)
{
	char      w[128], name[96], full[128], im[8];
	tr_addr   parent;
	tr_lock  *l;
	tr_value *v;
	tr_msg   *m = NULL;
	int64_t   x = 0;

	if (arg_word(args, 1, w, sizeof(w)) < 0 || tr_addr_parse(w, &parent) ||
	    arg_word(args, 2, name, sizeof(name)) < 0 ||
	    arg_word(args, 3, im, sizeof(im)) < 0) {
		return E_OPEN;
	}
	snprintf(full, sizeof(full), "%s-lock", name);
	if (tr_lock_new(&l, &(tr_sync_opts) { full, atoi(im) }) < 0) {
		return E_OPEN;
	}
	snprintf(full, sizeof(full), "%s-val", name);
	if (tr_value_new(&v, full, 'q', 0) < 0) {
		return E_OPEN;
	}
	tr_ready();
	if (tr_send_bytes(parent, tr_lock_addr(l), strlen(tr_lock_addr(l)),
	        TR_TEST_HANG_MS) < 0 ||
	    tr_recv(&m, TR_TEST_HANG_MS) < 0) {
		return E_RESULT;
	}
	tr_msg_destroy(&m);
	(void) tr_value_get_i64(v, &x);
	return x == 42 ? OK : E_RESULT;
}

/* "use LOCKADDR VALNAME": set the Value to 42 under the lock. */
static int
op_use(const char *args)
{
	char      w[128], v[128];
	tr_lock  *l;
	tr_value *val;

	if (arg_word(args, 1, w, sizeof(w)) < 0 ||
	    arg_word(args, 2, v, sizeof(v)) < 0 || tr_lock_open(&l, w) < 0 ||
	    tr_value_open(&val, v) < 0) {
		return E_OPEN;
	}
	tr_ready();
	if (tr_lock_acquire(l, TR_TEST_HANG_MS) != 0 ||
	    tr_value_set_i64(val, 42) < 0 || tr_lock_release(l) < 0) {
		return E_RESULT;
	}
	return OK;
}

/* "cwait COND ARRAY": under the lock, count itself in ARRAY[0], wait;
 * when notified count itself in ARRAY[1]. */
static int
op_cwait(const char *args)
{
	char      w[128], a[128];
	tr_cond  *c;
	tr_array *arr;
	int64_t   x;
	int       r;

	if (arg_word(args, 1, w, sizeof(w)) < 0 ||
	    arg_word(args, 2, a, sizeof(a)) < 0 || tr_cond_open(&c, w) < 0 ||
	    tr_array_open(&arr, a) < 0) {
		return E_OPEN;
	}
	tr_ready();
	(void) tr_lock_acquire(tr_cond_lock(c), TR_TEST_HANG_MS);
	(void) tr_array_get_i64(arr, 0, &x);
	(void) tr_array_set_i64(arr, 0, x + 1);
	r = tr_cond_wait(c, TR_TEST_HANG_MS);
	(void) tr_array_get_i64(arr, 1, &x);
	(void) tr_array_set_i64(arr, 1, x + 1);
	(void) tr_lock_release(tr_cond_lock(c));
	return r == 0 ? OK : r == -ETIMEDOUT ? E_TIMED : E_RESULT;
}

/* "cnotify COND ARRAY": notify_all every 10 ms until ARRAY[0] != 0. */
static int
op_cnotify(const char *args)
{
	char      w[128], a[128];
	tr_cond  *c;
	tr_array *arr;
	int64_t   stop = 0;

	if (arg_word(args, 1, w, sizeof(w)) < 0 ||
	    arg_word(args, 2, a, sizeof(a)) < 0 || tr_cond_open(&c, w) < 0 ||
	    tr_array_open(&arr, a) < 0) {
		return E_OPEN;
	}
	tr_ready();
	while (!stop) {
		(void) tr_lock_acquire(tr_cond_lock(c), TR_TEST_HANG_MS);
		(void) tr_cond_notify_all(c);
		(void) tr_lock_release(tr_cond_lock(c));
		usleep(10000);
		(void) tr_array_get_i64(arr, 0, &stop);
	}
	return OK;
}

/* "sacquire SEM": wait for the semaphore (released by the parent). */
static int
op_sacquire(const char *args)
{
	char    w[128];
	tr_sem *sem;

	if (arg_word(args, 1, w, sizeof(w)) < 0 || tr_sem_open(&sem, w) < 0) {
		return E_OPEN;
	}
	tr_ready();
	return tr_sem_acquire(sem, TR_TEST_HANG_MS) == 0 ? OK : E_RESULT;
}

/* "blocked LOCK": wait for LOCK, which is held, until its actor dies:
 * OK if that ends the wait with an error naming the death. */
static int
op_blocked(const char *args)
{
	char     w[128];
	tr_lock *l;
	int      r;

	if (arg_word(args, 1, w, sizeof(w)) < 0 || tr_lock_open(&l, w) < 0) {
		return E_OPEN;
	}
	tr_ready();
	r = tr_lock_acquire(l, TR_TEST_HANG_MS);
	return r == TR_EDEAD || r == -ESRCH ? OK : E_RESULT;
}

static int
count_action(void *arg)
{
	int64_t x = 0;

	(void) tr_value_get_i64(arg, &x);
	return tr_value_set_i64(arg, x + 1);
}

/* "bwait BARRIER [VALUE]": wait (with VALUE, an action that counts);
 * exit IDX_BASE + index, or E_BROKEN/E_TIMED. */
static int
op_bwait(const char *args)
{
	char        w[128], v[128];
	tr_barrier *b;
	tr_value   *val = NULL;
	int         r;

	if (arg_word(args, 1, w, sizeof(w)) < 0 || tr_barrier_open(&b, w) < 0) {
		return E_OPEN;
	}
	if (arg_word(args, 2, v, sizeof(v)) == 0) {
		if (tr_value_open(&val, v) < 0) {
			return E_OPEN;
		}
		(void) tr_barrier_set_action(b, count_action, val);
	}
	tr_ready();
	r = tr_barrier_wait(b, TR_TEST_HANG_MS);
	return r >= 0         ? IDX_BASE + r
	    : r == -EPIPE     ? E_BROKEN
	    : r == -ETIMEDOUT ? E_TIMED
	                      : E_RESULT;
}

static int
op(const void *args, size_t len)
{
	static const struct {
		const char *verb;
		int (*fn)(const char *);
	} ops[] = { { "hold", op_hold }, { "take", op_take },
		{ "count", op_count }, { "create", op_create },
		{ "use", op_use }, { "cwait", op_cwait },
		{ "cnotify", op_cnotify }, { "bwait", op_bwait },
		{ "blocked", op_blocked }, { "sacquire", op_sacquire } };

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		size_t n = strlen(ops[i].verb);

		if (strncmp(args, ops[i].verb, n) == 0 &&
		    ((const char *) args)[n] == ' ') {
			return ops[i].fn(args);
		}
	}
	return E_OPEN;
}
TR_ACTOR_FLAGS(op, op, TR_ACTOR_MANUAL_READY)

/* Start the op actor with args under method m (0..2). */
static tr_process *start_op(int m, const char *fmt, ...) TR_PRINTF(2, 3);

static tr_process *
start_op(int m, const char *fmt, ...)
{
	char        args[512];
	va_list     ap;
	tr_process *p;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	TR_ASSERT_OK(tr_process_new(&p, "op", args, strlen(args)));
	TR_ASSERT_OK(tr_process_set_start_method(p, m + 1));
	TR_ASSERT_OK(tr_process_start(p, TR_TEST_HANG_MS));
	return p;
}

/* ---- Lock and RLock ----------------------------------------------------- */

static void
test_lock_basics(void **state)
{
	tr_lock *l, *o;

	TR_ASSERT_OK(tr_lock_new(&l, opts(NULL)));
	assert_false(tr_lock_is_recursive(l));
	TR_ASSERT_ERR(tr_lock_release(l), -EPERM); /* not held */
	TR_ASSERT_ERR(tr_lock_acquire(l, -2), -EINVAL);
	TR_ASSERT_ERR(tr_lock_acquire(NULL, 0), -EINVAL);
	TR_ASSERT_ERR(tr_lock_acquire(l, 0), 0);
	assert_true(tr_lock_is_mine(l));
	TR_ASSERT_ERR(tr_lock_acquire(l, 0), -EDEADLK);
	TR_ASSERT_ERR(tr_lock_release(l), 0);
	TR_ASSERT_ERR(tr_lock_release(l), -EPERM); /* released too often */
	TR_ASSERT_ERR(tr_lock_acquire(l, TR_TIMEOUT_INFINITE), 0);
	TR_ASSERT_ERR(tr_lock_release(l), 0);
	/* a second handle onto the same lock */
	TR_ASSERT_OK(tr_lock_open(&o, tr_lock_addr(l)));
	TR_ASSERT_ERR(tr_lock_acquire(o, 100), 0);
	TR_ASSERT_ERR(tr_lock_acquire(l, 0), -EDEADLK); /* same thread */
	TR_ASSERT_ERR(tr_lock_release(l), 0);
	tr_lock_destroy(&o);
	tr_lock_destroy(&l);
	tr_lock_destroy(&l); /* idempotent */
	assert_null(l);
}

static void
test_rlock_basics(void **state)
{
	tr_lock *l;

	TR_ASSERT_OK(tr_rlock_new(&l, opts(NULL)));
	assert_true(tr_lock_is_recursive(l));
	for (int i = 0; i < 3; i++) {
		TR_ASSERT_ERR(tr_lock_acquire(l, 0), 0);
	}
	for (int i = 0; i < 3; i++) {
		TR_ASSERT_ERR(tr_lock_release(l), 0);
	}
	TR_ASSERT_ERR(tr_lock_release(l), -EPERM);
	assert_false(tr_lock_is_mine(l));
	tr_lock_destroy(&l);
}

/* Another process holds the lock: timeouts; it dies holding it (SIGKILL):
 * the next acquirer gets it, told TR_LOCK_OWNER_DIED; releasing a lock
 * another process holds is refused. */
static void
test_lock_holder_killed(void **state)
{
	for (int m = 0; m < 3; m++) {
		tr_process *h, *t;
		tr_lock    *l;
		int64_t     t0;

		TR_ASSERT_OK(tr_lock_new(&l, opts(NULL)));
		h = start_op(m, "hold %s", tr_lock_addr(l));
		TR_ASSERT_ERR(tr_lock_acquire(l, 0), -EAGAIN);
		t0 = tr_test_now_ms();
		TR_ASSERT_ERR(tr_lock_acquire(l, 100), -ETIMEDOUT);
		assert_true(tr_test_now_ms() - t0 >= 100);
		TR_ASSERT_ERR(tr_lock_release(l), -EPERM);
		/* a waiter in another process, then the holder dies */
		t = start_op((m + 1) % 3, "take %s", tr_lock_addr(l));
		TR_ASSERT_OK(tr_process_kill(h));
		assert_int_equal(tr_test_finish(&h), -SIGKILL);
		assert_int_equal(tr_test_finish(&t), OK);
		/* released by its taker: free again */
		TR_ASSERT_ERR(tr_lock_acquire(l, 0), 0);
		TR_ASSERT_ERR(tr_lock_release(l), 0);
		/* and the same when nobody was waiting */
		h = start_op(m, "hold %s", tr_lock_addr(l));
		TR_ASSERT_OK(tr_process_kill(h));
		assert_int_equal(tr_test_finish(&h), -SIGKILL);
		TR_ASSERT_ERR(
		    tr_lock_acquire(l, TR_TEST_HANG_MS), TR_LOCK_OWNER_DIED);
		TR_ASSERT_ERR(tr_lock_release(l), 0);
		tr_lock_destroy(&l);
	}
}

/* 8 processes (all three start methods) x 100,000 increments. */
static void
test_lock_exact_count(void **state)
{
	tr_process *p[COUNT_PROCS];
	tr_lock    *l;
	tr_value   *v;
	int64_t     total = 0;
	int each = impl == TR_SYNC_ACTOR ? COUNT_EACH_ACTOR : COUNT_EACH;

	TR_ASSERT_OK(tr_lock_new(&l, opts(NULL)));
	TR_ASSERT_OK(tr_value_new(&v, NULL, 'q', TR_SHARED_NOLOCK));
	for (int i = 0; i < COUNT_PROCS; i++) {
		p[i] = start_op(i % 3, "count %s %s %d", tr_lock_addr(l),
		    tr_value_addr(v), each);
	}
	for (int i = 0; i < COUNT_PROCS; i++) {
		assert_int_equal(tr_test_finish(&p[i]), OK);
	}
	TR_ASSERT_OK(tr_value_get_i64(v, &total));
	assert_int_equal(total, (int64_t) COUNT_PROCS * each);
	tr_value_destroy(&v);
	tr_lock_destroy(&l);
}

/* Created in a child started by method a, used (one by address, one by
 * name) in a child started by method b: all 9 pairs. */
static void
test_matrix(void **state)
{
	for (int a = 0; a < 3; a++) {
		for (int b = 0; b < 3; b++) {
			char        tag[64], addr[TR_ADDR_STRLEN];
			tr_process *c, *u;
			tr_msg     *m = NULL;

			snprintf(tag, sizeof(tag), "mx-%d-%d", a, b);
			tr_addr_format(tr_self(), addr, sizeof(addr));
			c = start_op(a, "create %s %s %d", addr, tag, impl);
			TR_ASSERT_OK(tr_recv(&m, TR_TEST_HANG_MS));
			u = start_op(b, "use %.*s %s-val", (int) tr_msg_size(m),
			    (const char *) tr_msg_data(m), tag);
			tr_msg_destroy(&m);
			assert_int_equal(tr_test_finish(&u), OK);
			{
				tr_addr ca;

				TR_ASSERT_OK(tr_process_addr(c, &ca));
				TR_ASSERT_OK(tr_send_bytes(
				    ca, "go", 2, TR_TEST_HANG_MS));
			}
			assert_int_equal(tr_test_finish(&c), OK);
		}
	}
}

static void
test_names(void **state)
{
	tr_lock *l, *o;
	tr_sem  *s;
	tr_cond *c;

	TR_ASSERT_OK(tr_lock_new(&l, opts("the-lock")));
	TR_ASSERT_ERR(tr_lock_new(&o, opts("the-lock")), TR_EEXISTS);
	TR_ASSERT_ERR(tr_lock_new(&o, opts("bad/name")), -EINVAL);
	TR_ASSERT_OK(tr_lock_open(&o, "the-lock"));
	TR_ASSERT_ERR(tr_lock_acquire(o, 0), 0);
	TR_ASSERT_ERR(tr_lock_acquire(l, 0), -EDEADLK);
	TR_ASSERT_ERR(tr_lock_release(o), 0);
	tr_lock_destroy(&o);
	/* the wrong kind, a malformed address, no such name */
	TR_ASSERT_ERR(tr_sem_open(&s, "the-lock"), TR_EBADTYPE);
	TR_ASSERT_ERR(tr_cond_open(&c, tr_lock_addr(l)), TR_EBADTYPE);
	TR_ASSERT_ERR(tr_lock_open(&o, "shm:12x"), TR_EBADADDR);
	TR_ASSERT_ERR(tr_lock_open(&o, "no-such-lock"), TR_ENOTFOUND);
	tr_lock_destroy(&l);
	/* the name goes with its creator's handle */
	TR_ASSERT_ERR(tr_lock_open(&o, "the-lock"), TR_ENOTFOUND);
	TR_ASSERT_OK(tr_lock_new(&l, opts("the-lock")));
	tr_lock_destroy(&l);
}

/* ---- Semaphore ---------------------------------------------------------- */

static void
test_semaphore(void **state)
{
	tr_sem *s, *b;
	int64_t t0;

	TR_ASSERT_OK(tr_sem_new(&s, opts(NULL), 2, false));
	assert_int_equal(tr_sem_value(s), 2);
	TR_ASSERT_ERR(tr_sem_acquire(s, 0), 0);
	TR_ASSERT_ERR(tr_sem_acquire(s, 0), 0);
	TR_ASSERT_ERR(tr_sem_acquire(s, 0), -EAGAIN);
	t0 = tr_test_now_ms();
	TR_ASSERT_ERR(tr_sem_acquire(s, 50), -ETIMEDOUT);
	assert_true(tr_test_now_ms() - t0 >= 50);
	TR_ASSERT_ERR(tr_sem_acquire(s, -5), -EINVAL);
	for (int i = 0; i < 5; i++) { /* unbounded: above the start */
		TR_ASSERT_ERR(tr_sem_release(s), 0);
	}
	assert_int_equal(tr_sem_value(s), 5);
	tr_sem_destroy(&s);

	/* BoundedSemaphore: a release past the bound is an error and
	 * changes nothing */
	TR_ASSERT_OK(tr_sem_new(&b, opts(NULL), 2, true));
	TR_ASSERT_ERR(tr_sem_release(b), -EOVERFLOW);
	assert_int_equal(tr_sem_value(b), 2);
	TR_ASSERT_ERR(tr_sem_acquire(b, 0), 0);
	TR_ASSERT_ERR(tr_sem_release(b), 0);
	TR_ASSERT_ERR(tr_sem_release(b), -EOVERFLOW);
	assert_int_equal(tr_sem_value(b), 2);
	tr_sem_destroy(&b);
}

/* Waiters in other processes (each start method) are woken one per
 * release; the value never goes below 0. */
static void
test_semaphore_waiters(void **state)
{
	tr_process *p[3];
	tr_sem     *s;

	TR_ASSERT_OK(tr_sem_new(&s, opts(NULL), 0, true));
	for (int m = 0; m < 3; m++) {
		p[m] = start_op(m, "sacquire %s", tr_sem_addr(s));
	}
	usleep(50000); /* room for a wrong acquire */
	for (int m = 0; m < 3; m++) {
		assert_true(tr_process_is_alive(p[m]));
	}
	/* bound 0: a BoundedSemaphore(0) can never be released... */
	TR_ASSERT_ERR(tr_sem_release(s), -EOVERFLOW);
	tr_sem_destroy(&s);
	for (int m = 0; m < 3; m++) {
		tr_process_destroy(&p[m]);
	}
	/* ...an unbounded one wakes a waiter per release */
	TR_ASSERT_OK(tr_sem_new(&s, opts(NULL), 0, false));
	for (int m = 0; m < 3; m++) {
		p[m] = start_op(m, "sacquire %s", tr_sem_addr(s));
	}
	for (int m = 0; m < 3; m++) {
		TR_ASSERT_OK(tr_sem_release(s));
	}
	for (int m = 0; m < 3; m++) {
		assert_int_equal(tr_test_finish(&p[m]), OK);
	}
	assert_int_equal(tr_sem_value(s), 0);
	tr_sem_destroy(&s);
}

/* ---- Condition ---------------------------------------------------------- */

static bool
never(void *arg)
{
	return false;
}

static bool
nonzero(void *arg)
{
	int64_t x = 0;

	(void) tr_array_get_i64(arg, 0, &x);
	return x != 0;
}

static void
test_cond_errors_and_lost_notify(void **state)
{
	tr_cond *c;

	TR_ASSERT_OK(tr_cond_new(&c, opts(NULL)));
	TR_ASSERT_ERR(tr_cond_wait(c, 0), -EPERM);
	TR_ASSERT_ERR(tr_cond_notify(c, 1), -EPERM);
	TR_ASSERT_ERR(tr_cond_wait_for(c, never, NULL, 0), -EPERM);
	TR_ASSERT_OK(tr_lock_acquire(tr_cond_lock(c), 0));
	TR_ASSERT_ERR(tr_cond_wait(c, -3), -EINVAL);
	/* nobody waits: the notify is lost, not saved for the next wait */
	TR_ASSERT_ERR(tr_cond_notify(c, 1), 0);
	TR_ASSERT_ERR(tr_cond_notify_all(c), 0);
	TR_ASSERT_ERR(tr_cond_wait(c, 50), -ETIMEDOUT);
	assert_true(tr_lock_is_mine(tr_cond_lock(c)));
	TR_ASSERT_ERR(tr_cond_wait(c, 0), -EAGAIN);
	/* an RLock held twice is released all the way and back */
	TR_ASSERT_OK(tr_lock_acquire(tr_cond_lock(c), 0));
	TR_ASSERT_ERR(tr_cond_wait(c, 10), -ETIMEDOUT);
	TR_ASSERT_ERR(tr_lock_release(tr_cond_lock(c)), 0);
	TR_ASSERT_ERR(tr_lock_release(tr_cond_lock(c)), 0);
	TR_ASSERT_ERR(tr_lock_release(tr_cond_lock(c)), -EPERM);
	tr_cond_destroy(&c);
}

/* Until ARRAY[0] (waiters counted in) reaches n. */
static void
wait_waiting(tr_cond *c, tr_array *a, int64_t n)
{
	int64_t x = -1;

	for (int i = 0; i < TR_TEST_HANG_MS / 5; i++) {
		TR_ASSERT_OK(tr_lock_acquire(tr_cond_lock(c), TR_TEST_HANG_MS));
		TR_ASSERT_OK(tr_array_get_i64(a, 0, &x));
		TR_ASSERT_OK(tr_lock_release(tr_cond_lock(c)));
		if (x >= n) {
			return;
		}
		usleep(5000);
	}
	fail_msg("waiters never got to %lld", (long long) n);
}

/* notify(2) with 3 waiting wakes exactly the 2 oldest; a later notify(1)
 * the third; under each start method. */
static void
test_cond_notify_n(void **state)
{
	for (int m = 0; m < 3; m++) {
		tr_process *w[3];
		tr_cond    *c;
		tr_array   *a;
		int64_t     woken = -1;

		TR_ASSERT_OK(tr_cond_new(&c, opts(NULL)));
		TR_ASSERT_OK(tr_array_new(&a, NULL, 'q', 2, NULL, 0));
		for (int i = 0; i < 3; i++) {
			w[i] = start_op((m + i) % 3, "cwait %s %s",
			    tr_cond_addr(c), tr_array_addr(a));
			wait_waiting(c, a, i + 1);
		}
		TR_ASSERT_OK(tr_lock_acquire(tr_cond_lock(c), TR_TEST_HANG_MS));
		TR_ASSERT_ERR(tr_cond_notify(c, 2), 2);
		TR_ASSERT_OK(tr_lock_release(tr_cond_lock(c)));
		assert_int_equal(tr_test_finish(&w[0]), OK);
		assert_int_equal(tr_test_finish(&w[1]), OK);
		usleep(100000); /* room for a wrong third wake-up */
		assert_true(tr_process_is_alive(w[2]));
		TR_ASSERT_OK(tr_array_get_i64(a, 1, &woken));
		assert_int_equal(woken, 2);
		TR_ASSERT_OK(tr_lock_acquire(tr_cond_lock(c), TR_TEST_HANG_MS));
		TR_ASSERT_ERR(tr_cond_notify(c, 5), 1);
		TR_ASSERT_OK(tr_lock_release(tr_cond_lock(c)));
		assert_int_equal(tr_test_finish(&w[2]), OK);
		tr_array_destroy(&a);
		tr_cond_destroy(&c);
	}
}

/* A waiter that died is skipped: notify(1) wakes the live one. */
static void
test_cond_dead_waiter_skipped(void **state)
{
	tr_process *w[2];
	tr_cond    *c;
	tr_array   *a;

	TR_ASSERT_OK(tr_cond_new(&c, opts(NULL)));
	TR_ASSERT_OK(tr_array_new(&a, NULL, 'q', 2, NULL, 0));
	for (int i = 0; i < 2; i++) {
		w[i] = start_op(
		    i, "cwait %s %s", tr_cond_addr(c), tr_array_addr(a));
		wait_waiting(c, a, i + 1);
	}
	TR_ASSERT_OK(tr_process_kill(w[0]));
	assert_int_equal(tr_test_finish(&w[0]), -SIGKILL);
	TR_ASSERT_OK(tr_lock_acquire(tr_cond_lock(c), TR_TEST_HANG_MS));
	TR_ASSERT_ERR(tr_cond_notify(c, 1), 1);
	TR_ASSERT_OK(tr_lock_release(tr_cond_lock(c)));
	assert_int_equal(tr_test_finish(&w[1]), OK);
	tr_array_destroy(&a);
	tr_cond_destroy(&c);
}

/* wait_for keeps one deadline however many notifies come: a notifier
 * notifying every 10 ms does not stretch a 300 ms wait_for. */
static void
test_cond_wait_for_deadline(void **state)
{
	tr_process *n;
	tr_cond    *c;
	tr_array   *stop;
	int64_t     t0, took;

	TR_ASSERT_OK(tr_cond_new(&c, opts(NULL)));
	TR_ASSERT_OK(tr_array_new(&stop, NULL, 'q', 1, NULL, 0));
	n = start_op(1, "cnotify %s %s", tr_cond_addr(c), tr_array_addr(stop));
	/* the notifier takes the lock too: wait for our turn */
	TR_ASSERT_OK(tr_lock_acquire(tr_cond_lock(c), TR_TEST_HANG_MS));
	t0 = tr_test_now_ms();
	TR_ASSERT_ERR(tr_cond_wait_for(c, never, NULL, 300), -ETIMEDOUT);
	took = tr_test_now_ms() - t0;
	assert_true(took >= 300);
	assert_true(took < 10000); /* a restarted deadline would never end */
	assert_true(tr_lock_is_mine(tr_cond_lock(c)));
	/* and a true predicate ends it at once */
	TR_ASSERT_OK(tr_array_set_i64(stop, 0, 1));
	TR_ASSERT_ERR(tr_cond_wait_for(c, nonzero, stop, 0), 0);
	TR_ASSERT_OK(tr_lock_release(tr_cond_lock(c)));
	assert_int_equal(tr_test_finish(&n), OK);
	tr_array_destroy(&stop);
	tr_cond_destroy(&c);
}

/* ---- Barrier ------------------------------------------------------------ */

static void
wait_n_waiting(tr_barrier *b, int n)
{
	for (int i = 0; i < TR_TEST_HANG_MS / 5; i++) {
		if (tr_barrier_n_waiting(b) >= n) {
			return;
		}
		usleep(5000);
	}
	fail_msg("barrier never had %d waiting", n);
}

/* 3 parties (2 children of different methods and us): distinct indices,
 * the action run exactly once; the barrier is reusable. */
static void
test_barrier_pass(void **state)
{
	for (int m = 0; m < 3; m++) {
		tr_process *p[2];
		tr_barrier *b;
		tr_value   *count;
		int         seen = 0, r;
		int64_t     n    = 0;

		TR_ASSERT_OK(tr_barrier_new(&b, opts(NULL), 3));
		TR_ASSERT_OK(tr_value_new(&count, NULL, 'i', 0));
		assert_int_equal(tr_barrier_parties(b), 3);
		TR_ASSERT_OK(tr_barrier_set_action(b, count_action, count));
		for (int round = 0; round < 2; round++) {
			for (int i = 0; i < 2; i++) {
				p[i] = start_op((m + i) % 3, "bwait %s %s",
				    tr_barrier_addr(b), tr_value_addr(count));
			}
			r = tr_barrier_wait(b, TR_TEST_HANG_MS);
			assert_true(r >= 0 && r < 3);
			seen = 1 << r;
			for (int i = 0; i < 2; i++) {
				int code = tr_test_finish(&p[i]);

				assert_true(
				    code >= IDX_BASE && code < IDX_BASE + 3);
				assert_false(seen & (1 << (code - IDX_BASE)));
				seen |= 1 << (code - IDX_BASE);
			}
			assert_int_equal(seen, 7);
		}
		TR_ASSERT_OK(tr_value_get_i64(count, &n));
		assert_int_equal(n, 2); /* once per round */
		assert_false(tr_barrier_is_broken(b));
		tr_value_destroy(&count);
		tr_barrier_destroy(&b);
	}
}

/* abort breaks it for the waiters and for a late arriver; reset makes it
 * usable again. */
static void
test_barrier_abort_reset(void **state)
{
	for (int m = 0; m < 3; m++) {
		tr_process *p[2];
		tr_barrier *b;

		TR_ASSERT_OK(tr_barrier_new(&b, opts(NULL), 3));
		for (int i = 0; i < 2; i++) {
			p[i] = start_op(
			    (m + i) % 3, "bwait %s", tr_barrier_addr(b));
		}
		wait_n_waiting(b, 2);
		TR_ASSERT_OK(tr_barrier_abort(b));
		assert_true(tr_barrier_is_broken(b));
		assert_int_equal(tr_barrier_n_waiting(b), 0);
		for (int i = 0; i < 2; i++) {
			assert_int_equal(tr_test_finish(&p[i]), E_BROKEN);
		}
		TR_ASSERT_ERR(tr_barrier_wait(b, TR_TEST_HANG_MS), -EPIPE);
		/* reset: usable again (two children and us) */
		TR_ASSERT_OK(tr_barrier_reset(b));
		assert_false(tr_barrier_is_broken(b));
		for (int i = 0; i < 2; i++) {
			p[i] = start_op(
			    (m + i) % 3, "bwait %s", tr_barrier_addr(b));
		}
		assert_true(tr_barrier_wait(b, TR_TEST_HANG_MS) >= 0);
		for (int i = 0; i < 2; i++) {
			assert_true(tr_test_finish(&p[i]) >= IDX_BASE);
		}
		/* reset with a party waiting releases it with the error */
		p[0] = start_op(m, "bwait %s", tr_barrier_addr(b));
		wait_n_waiting(b, 1);
		TR_ASSERT_OK(tr_barrier_reset(b));
		assert_int_equal(tr_test_finish(&p[0]), E_BROKEN);
		assert_false(tr_barrier_is_broken(b));
		assert_int_equal(tr_barrier_n_waiting(b), 0);
		tr_barrier_destroy(&b);
	}
}

/* A party that dies while it waits breaks the barrier for the others. */
static void
test_barrier_party_killed(void **state)
{
	tr_process *p[2];
	tr_barrier *b;

	TR_ASSERT_OK(tr_barrier_new(&b, opts(NULL), 3));
	for (int i = 0; i < 2; i++) {
		p[i] = start_op(i + 1, "bwait %s", tr_barrier_addr(b));
	}
	wait_n_waiting(b, 2);
	TR_ASSERT_OK(tr_process_kill(p[0]));
	assert_int_equal(tr_test_finish(&p[0]), -SIGKILL);
	assert_int_equal(tr_test_finish(&p[1]), E_BROKEN);
	assert_true(tr_barrier_is_broken(b));
	TR_ASSERT_ERR(tr_barrier_wait(b, 0), -EPIPE);
	tr_barrier_destroy(&b);
}

/* The actor implementation: a client waiting on an actor that dies gets
 * an error, never a hang; so does every later call. */
static void
test_actor_killed(void **state)
{
	tr_process *p;
	tr_lock    *l;
	tr_addr     a;

	if (impl != TR_SYNC_ACTOR) {
		skip();
	}
	TR_ASSERT_OK(tr_lock_new(&l, opts(NULL)));
	TR_ASSERT_OK(tr_lock_acquire(l, 0));
	p = start_op(1, "blocked %s", tr_lock_addr(l));
	TR_ASSERT_OK(tr_addr_parse(tr_lock_addr(l), &a));
	assert_int_equal(kill((pid_t) a.pid, SIGKILL), 0);
	assert_int_equal(tr_test_finish(&p), OK);
	assert_true(tr_lock_release(l) < 0 || tr_lock_acquire(l, 0) < 0);
	tr_lock_destroy(&l);
}

/* The sync actor answers bad requests with an error and keeps serving. */
static int
raw_call(tr_addr to, uint32_t op, int timeout_ms)
{
	Trwire__SyncRequest req = TRWIRE__SYNC_REQUEST__INIT;
	Trwire__SyncReply  *rep = NULL;
	int                 r;

	req.op         = op;
	req.timeout_ms = timeout_ms;
	r = tr_call_pb(to, &req.base, &trwire__sync_reply__descriptor,
	    (ProtobufCMessage **) &rep, TR_TEST_HANG_MS);
	if (r == 0) {
		r = rep->result;
		protobuf_c_message_free_unpacked(&rep->base, NULL);
	}
	return r;
}

static void
test_actor_bad_input(void **state)
{
	Trwire__SyncReply *rep = NULL;
	tr_msg            *req, *reply;
	tr_lock           *l;
	tr_addr            a;

	if (impl != TR_SYNC_ACTOR) {
		skip();
	}
	TR_ASSERT_OK(tr_lock_new(&l, opts(NULL)));
	TR_ASSERT_OK(tr_addr_parse(tr_lock_addr(l), &a));
	TR_ASSERT_ERR(raw_call(a, 99, 0), -EOPNOTSUPP); /* unknown op */
	TR_ASSERT_ERR(raw_call(a, 9, 0), -EOPNOTSUPP);  /* a semaphore op */
	TR_ASSERT_ERR(raw_call(a, 3, -5), -EINVAL);     /* bad timeout */
	/* raw bytes that are no SyncRequest */
	TR_ASSERT_OK(tr_msg_new_bytes(&req, "\xff\xff\xff", 3));
	TR_ASSERT_OK(tr_call(a, &req, &reply, TR_TEST_HANG_MS));
	TR_ASSERT_OK(tr_msg_unpack(reply, &trwire__sync_reply__descriptor,
	    (ProtobufCMessage **) &rep));
	assert_int_equal(rep->result, TR_EBADFRAME);
	protobuf_c_message_free_unpacked(&rep->base, NULL);
	tr_msg_destroy(&reply);
	/* and it still serves */
	TR_ASSERT_ERR(tr_lock_acquire(l, 0), 0);
	TR_ASSERT_ERR(tr_lock_release(l), 0);
	tr_lock_destroy(&l);
}

/* A party's timeout breaks the barrier for every party, the late arriver
 * included; a failing action breaks it too. */
static bool fail_action_ran;

static int
fail_action(void *arg)
{
	fail_action_ran = true;
	return -EIO;
}

static void
test_barrier_timeout(void **state)
{
	tr_process *p;
	tr_barrier *b;
	int64_t     t0;

	TR_ASSERT_OK(tr_barrier_new(&b, opts(NULL), 3));
	p = start_op(2, "bwait %s", tr_barrier_addr(b));
	wait_n_waiting(b, 1);
	t0 = tr_test_now_ms();
	TR_ASSERT_ERR(tr_barrier_wait(b, 100), -ETIMEDOUT);
	assert_true(tr_test_now_ms() - t0 >= 100);
	assert_int_equal(tr_test_finish(&p), E_BROKEN);
	assert_true(tr_barrier_is_broken(b));
	TR_ASSERT_ERR(tr_barrier_wait(b, 0), -EPIPE); /* late arriver */
	TR_ASSERT_OK(tr_barrier_reset(b));
	TR_ASSERT_ERR(tr_barrier_wait(b, 0), -EAGAIN); /* it breaks it */
	assert_true(tr_barrier_is_broken(b));
	tr_barrier_destroy(&b);

	fail_action_ran = false;
	TR_ASSERT_OK(tr_barrier_new(&b, opts(NULL), 2));
	TR_ASSERT_OK(tr_barrier_set_action(b, fail_action, NULL));
	p = start_op(0, "bwait %s", tr_barrier_addr(b));
	wait_n_waiting(b, 1);
	TR_ASSERT_ERR(tr_barrier_wait(b, TR_TEST_HANG_MS), -EPIPE);
	assert_true(fail_action_ran);
	assert_int_equal(tr_test_finish(&p), E_BROKEN);
	tr_barrier_destroy(&b);
	TR_ASSERT_ERR(tr_barrier_new(&b, opts(NULL), 0), -EINVAL);
}

/* ---- no leftovers --------------------------------------------------------
 */

static int dev_shm_before;

static int
setup_all(void **state)
{
	dev_shm_before = tr_test_dir_count("/dev/shm");
	return 0;
}

static int
teardown_all(void **state)
{
	/* no primitive made anything in /dev/shm */
	return tr_test_dir_count("/dev/shm") == dev_shm_before ? 0 : -1;
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lock_basics),
		cmocka_unit_test(test_rlock_basics),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_lock_holder_killed),
		cmocka_unit_test(test_lock_exact_count),
		cmocka_unit_test(test_matrix),
		cmocka_unit_test(test_semaphore),
		cmocka_unit_test(test_semaphore_waiters),
		cmocka_unit_test(test_cond_errors_and_lost_notify),
		cmocka_unit_test(test_cond_notify_n),
		cmocka_unit_test(test_cond_dead_waiter_skipped),
		cmocka_unit_test(test_cond_wait_for_deadline),
		cmocka_unit_test(test_barrier_pass),
		cmocka_unit_test(test_barrier_abort_reset),
		cmocka_unit_test(test_barrier_timeout),
		cmocka_unit_test(test_barrier_party_killed),
		cmocka_unit_test(test_actor_killed),
		cmocka_unit_test(test_actor_bad_input),
	};

	int failed;

	if (tr_init(argc, argv) < 0) {
		return 99;
	}
	/* the same cases against both implementations */
	impl   = TR_SYNC_LOCAL;
	failed = cmocka_run_group_tests_name(
	    "sync-local", tests, setup_all, teardown_all);
	impl = TR_SYNC_ACTOR;
	failed += cmocka_run_group_tests_name(
	    "sync-actor", tests, setup_all, teardown_all);
	return failed;
}
