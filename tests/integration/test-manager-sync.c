/* SPDX-License-Identifier: MIT */
/* The Manager's RLock, Semaphore, BoundedSemaphore, Condition and Array,
 * the bounded Queue and the report of one-way writes' failures: each
 * call's semantics and errors, Python's easy-to-get-wrong ones included
 * (notify(n) wakes at most n current waiters and is not kept; wait_for
 * keeps one deadline; a BoundedSemaphore released past its bound is an
 * error and keeps its value; releasing what this thread does not hold is
 * an error), and a holder's death handing an RLock, a Condition's lock or
 * a Semaphore's units on with TR_LOCK_OWNER_DIED; named objects made
 * again after a supervised manager's restart.  The children that use
 * the proxies are started by fork, spawn and forkserver in turn. */
#include "tr-test.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <protobuf-c/protobuf-c.h>

#include "manager.pb-c.h"

/* The value codec (actors/manager-codec.c), internal. */
int tri_mval_pack(const tr_mval *v, uint8_t **ret, size_t *ret_len);

static const int methods[] = { TR_START_FORK, TR_START_SPAWN,
	TR_START_FORKSERVER };

static void
report(tr_addr parent, int r)
{
	char buf[16];

	snprintf(buf, sizeof(buf), "%d", r);
	(void) tr_send_bytes(parent, buf, strlen(buf) + 1, TR_TEST_HANG_MS);
}

/* The next number a child reported. */
static int
reported(void)
{
	tr_msg *m = NULL;
	int     r;

	TR_ASSERT_OK(tr_recv(&m, TR_TEST_HANG_MS));
	assert_true(tr_msg_size(m) > 1);
	r = atoi(tr_msg_data(m));
	tr_msg_destroy(&m);
	return r;
}

static void
nap_ms(int ms)
{
	usleep((useconds_t) ms * 1000);
}

/* args: "WHERE KEY REF OP ARG PARENT".  Reports to the parent each
 * result named below, in order.
 *   a  acquire the lock with timeout 0 (and exit, holding it if got)
 *   h  acquire it without limit; then wait for SIGKILL
 *   s  acquire a semaphore unit without limit; then wait for SIGKILL
 *   S  acquire a semaphore unit without limit, and exit normally
 *   B  report 0, then acquire a semaphore unit without limit (reported)
 *   R  sleep ARG ms, release a semaphore unit
 *   w  acquire the Condition's lock (reported), wait ARG ms (-1: no
 *      limit) (reported), release
 *   W  as w, with the lock taken twice; then release it twice (the
 *      second release reported: 0 when the wait gave both levels back)
 *   N  report 0, then ARG times: sleep 50 ms, take the lock,
 *      notify_all, release
 *   P  report 0, put 99 in the Queue without limit (reported)
 *   n  negate every item of the Array (the seed's f); report 0 */
static int
cli(const void *args, size_t len)
{
	char        where[80], key[80], ref[80], ptxt[TR_ADDR_STRLEN], op;
	tr_manager *m = NULL;
	tr_mobj    *o = NULL;
	tr_mval    *v = NULL;
	tr_addr     parent;
	int         arg, r;

	if (sscanf(args, "%79s %79s %79s %c %d %47s", where, key, ref, &op,
	        &arg, ptxt) != 6 ||
	    tr_addr_parse(ptxt, &parent) < 0) {
		return 10;
	}
	r = tr_manager_connect(&m, where, key);
	r = r < 0 ? r : tr_mobj_open(&o, m, ref);
	if (r < 0) {
		return 11;
	}
	switch (op) {
	case 'a':
		report(parent, tr_mlock_acquire(o, 0));
		break;
	case 'h':
		report(parent, tr_mlock_acquire(o, TR_TIMEOUT_INFINITE));
		pause();
		break;
	case 's':
		report(parent, tr_msem_acquire(o, TR_TIMEOUT_INFINITE));
		pause();
		break;
	case 'S':
		report(parent, tr_msem_acquire(o, TR_TIMEOUT_INFINITE));
		break;
	case 'B':
		report(parent, 0);
		report(parent, tr_msem_acquire(o, TR_TIMEOUT_INFINITE));
		break;
	case 'R':
		nap_ms(arg);
		report(parent, tr_msem_release(o));
		break;
	case 'w':
		report(parent, tr_mlock_acquire(o, TR_TIMEOUT_INFINITE));
		report(parent, tr_mcond_wait(o, arg));
		(void) tr_mlock_release(o);
		break;
	case 'W':
		r = tr_mlock_acquire(o, TR_TIMEOUT_INFINITE);
		report(parent, r < 0 ? r : tr_mlock_acquire(o, 0));
		report(parent, tr_mcond_wait(o, arg));
		(void) tr_mlock_release(o);
		report(parent, tr_mlock_release(o));
		break;
	case 'N':
		report(parent, 0);
		for (int i = 0; i < arg; i++) {
			nap_ms(50);
			r = tr_mlock_acquire(o, TR_TIMEOUT_INFINITE);
			r = r < 0 ? r : tr_mcond_notify_all(o);
			r = r < 0 ? r : tr_mlock_release(o);
			if (r < 0) {
				return 12;
			}
		}
		break;
	case 'n':
		r = 0;
		for (int64_t i = 0; r == 0 && i < tr_mobj_len(o); i++) {
			tr_mval *item = NULL;

			r = tr_marray_get(o, i, &item);
			v = r < 0 ? NULL : tr_mval_int(-tr_mval_get_int(item));
			r = r < 0 ? r : tr_marray_set(o, i, v);
			tr_mval_destroy(&item);
			tr_mval_destroy(&v);
		}
		report(parent, r);
		break;
	case 'P':
		report(parent, 0);
		v = tr_mval_int(99);
		report(parent, tr_mqueue_put(o, v));
		tr_mval_destroy(&v);
		break;
	default:
		return 13;
	}
	tr_mobj_destroy(&o);
	tr_manager_destroy(&m);
	return 0;
}
TR_ACTOR(cli, cli)

static int next_method;

static tr_process *
start_cli_by(tr_manager *m, tr_mobj *o, char op, int arg, int method)
{
	char        args[512], ptxt[TR_ADDR_STRLEN];
	tr_process *p;

	snprintf(args, sizeof(args), "%s %s %s %c %d %s", tr_manager_where(m),
	    tr_manager_authkey(m), tr_mobj_ref(o), op, arg,
	    tr_addr_format(tr_self(), ptxt, sizeof(ptxt)));
	TR_ASSERT_OK(tr_process_new(&p, "cli", args, strlen(args)));
	TR_ASSERT_OK(tr_process_set_start_method(p, method));
	TR_ASSERT_OK(tr_process_start(p, TR_TEST_HANG_MS));
	return p;
}

/* Each child started by the next start method in turn. */
static tr_process *
start_cli(tr_manager *m, tr_mobj *o, char op, int arg)
{
	return start_cli_by(m, o, op, arg, methods[next_method++ % 3]);
}

static void
assert_obj_repr(tr_mobj *o, const char *want)
{
	char *s = NULL;

	TR_ASSERT_OK(tr_mobj_repr(o, &s));
	assert_string_equal(s, want);
	free(s);
}

/* ---- RLock -------------------------------------------------------------- */

static void
test_rlock(void **state)
{
	tr_manager *m;
	tr_mobj    *l, *k;
	tr_mval    *v;
	tr_process *p;

	TR_ASSERT_OK(tr_manager_start(&m, NULL));
	TR_ASSERT_OK(tr_mobj_new(&l, m, TR_MOBJ_RLOCK, NULL, NULL));
	assert_int_equal(tr_mobj_kind(l), TR_MOBJ_RLOCK);
	TR_ASSERT_ERR(tr_mlock_release(l), -EPERM);
	assert_obj_repr(l, "False");
	TR_ASSERT_ERR(tr_mlock_acquire(l, 0), 0);
	TR_ASSERT_ERR(tr_mlock_acquire(l, 0), 0); /* again: depth 2 */
	assert_obj_repr(l, "True");
	/* another process cannot have it */
	p = start_cli(m, l, 'a', 0);
	assert_int_equal(reported(), -EAGAIN);
	assert_int_equal(tr_test_finish(&p), 0);
	TR_ASSERT_OK(tr_mlock_release(l));
	p = start_cli(m, l, 'a', 0); /* still held once */
	assert_int_equal(reported(), -EAGAIN);
	assert_int_equal(tr_test_finish(&p), 0);
	TR_ASSERT_OK(tr_mlock_release(l));
	TR_ASSERT_ERR(tr_mlock_release(l), -EPERM);
	/* now free: the child takes it and exits holding it */
	p = start_cli(m, l, 'a', 0);
	assert_int_equal(reported(), 0);
	assert_int_equal(tr_test_finish(&p), 0);
	TR_ASSERT_ERR(tr_mlock_acquire(l, TR_TEST_HANG_MS), TR_LOCK_OWNER_DIED);
	TR_ASSERT_OK(tr_mlock_release(l));
	TR_ASSERT_ERR(tr_mlock_acquire(l, -2), -EINVAL);
	/* a level released through another proxy of this thread: the first
	 * proxy's one-way release then fails at the manager, and says so */
	{
		tr_mobj *l2;
		int      first = 0;

		TR_ASSERT_OK(tr_mobj_open(&l2, m, tr_mobj_ref(l)));
		TR_ASSERT_OK(tr_mlock_acquire(l, 0));
		TR_ASSERT_OK(tr_mlock_release(l2)); /* answered: same thread */
		TR_ASSERT_OK(tr_mlock_release(l));  /* one-way: -EPERM there */
		TR_ASSERT_OK(tr_manager_errors(m, &first, NULL));
		assert_int_equal(first, -EPERM);
		TR_ASSERT_ERR(tr_mlock_release(l), -EPERM); /* answered now */
		tr_mobj_destroy(&l2);
	}
	/* the RLock's calls are its own; no init */
	TR_ASSERT_ERR(tr_msem_acquire(l, 0), -EOPNOTSUPP);
	TR_ASSERT_ERR(tr_mobj_len(l), -EOPNOTSUPP);
	TR_ASSERT_ERR(
	    tr_mobj_new(&k, m, TR_MOBJ_RLOCK, NULL, (v = tr_mval_int(1))),
	    -EINVAL);
	tr_mval_destroy(&v);
	/* a plain Lock is still not recursive */
	TR_ASSERT_OK(tr_mobj_new(&k, m, TR_MOBJ_LOCK, NULL, NULL));
	TR_ASSERT_OK(tr_mlock_acquire(k, 0));
	TR_ASSERT_ERR(tr_mlock_acquire(k, 0), -EDEADLK);
	TR_ASSERT_OK(tr_mlock_release(k));
	tr_mobj_destroy(&k);
	tr_mobj_destroy(&l);
	tr_manager_destroy(&m);
}

/* A holder SIGKILLed while another process waits for the RLock: the
 * waiter gets it, told TR_LOCK_OWNER_DIED; the same for a Condition. */
static void
test_rlock_holder_killed(void **state)
{
	tr_manager *m;
	tr_mobj    *l;
	tr_process *p;

	TR_ASSERT_OK(tr_manager_start(&m, NULL));
	for (int kind = TR_MOBJ_RLOCK; kind <= TR_MOBJ_CONDITION;
	     kind += TR_MOBJ_CONDITION - TR_MOBJ_RLOCK) {
		TR_ASSERT_OK(tr_mobj_new(&l, m, kind, NULL, NULL));
		for (int c = 0; c < 3; c++) {
			p = start_cli(m, l, 'h', 0);
			assert_int_equal(reported(), 0);
			TR_ASSERT_ERR(tr_mlock_acquire(l, 0), -EAGAIN);
			TR_ASSERT_OK(tr_process_kill(p));
			TR_ASSERT_ERR(tr_mlock_acquire(l, TR_TEST_HANG_MS),
			    TR_LOCK_OWNER_DIED);
			TR_ASSERT_OK(tr_mlock_release(l));
			assert_int_equal(tr_test_finish(&p), -SIGKILL);
		}
		TR_ASSERT_ERR(tr_mlock_acquire(l, 0), 0); /* told once */
		TR_ASSERT_OK(tr_mlock_release(l));
		tr_mobj_destroy(&l);
	}
	tr_manager_destroy(&m);
}

/* ---- Semaphore ---------------------------------------------------------- */

static void
test_semaphore(void **state)
{
	tr_manager *m;
	tr_mobj    *s, *b, *x;
	tr_mval    *v;
	tr_process *p;
	int64_t     t0;
	int         first = 0;

	TR_ASSERT_OK(tr_manager_start(&m, NULL));
	TR_ASSERT_OK(
	    tr_mobj_new(&s, m, TR_MOBJ_SEMAPHORE, NULL, (v = tr_mval_int(2))));
	tr_mval_destroy(&v);
	assert_int_equal(tr_msem_value(s), 2);
	TR_ASSERT_OK(tr_msem_acquire(s, 0));
	TR_ASSERT_OK(tr_msem_acquire(s, 0));
	TR_ASSERT_ERR(tr_msem_acquire(s, 0), -EAGAIN);
	t0 = tr_test_now_ms();
	TR_ASSERT_ERR(tr_msem_acquire(s, 100), -ETIMEDOUT);
	assert_true(tr_test_now_ms() - t0 >= 100);
	TR_ASSERT_ERR(tr_msem_acquire(s, -2), -EINVAL);
	assert_obj_repr(s, "0");
	/* a release by another process wakes a waiter */
	p = start_cli(m, s, 'R', 100);
	TR_ASSERT_OK(tr_msem_acquire(s, TR_TEST_HANG_MS));
	assert_int_equal(reported(), 0);
	assert_int_equal(tr_test_finish(&p), 0);
	assert_int_equal(tr_msem_value(s), 0);
	/* a plain Semaphore goes past its first value */
	for (int i = 0; i < 5; i++) {
		TR_ASSERT_OK(tr_msem_release(s));
	}
	assert_int_equal(tr_msem_value(s), 5);
	/* bad first values */
	TR_ASSERT_ERR(
	    tr_mobj_new(&x, m, TR_MOBJ_SEMAPHORE, NULL, (v = tr_mval_int(-1))),
	    -EINVAL);
	tr_mval_destroy(&v);
	TR_ASSERT_ERR(
	    tr_mobj_new(&x, m, TR_MOBJ_SEMAPHORE, NULL, (v = tr_mval_str("1"))),
	    -EINVAL);
	tr_mval_destroy(&v);
	TR_ASSERT_OK(tr_mobj_new(&x, m, TR_MOBJ_SEMAPHORE, NULL, NULL));
	assert_int_equal(tr_msem_value(x), 1); /* Python's default */
	tr_mobj_destroy(&x);
	/* a plain Semaphore's release is one-way: its failure is kept */
	TR_ASSERT_OK(tr_mobj_new(
	    &x, m, TR_MOBJ_SEMAPHORE, NULL, (v = tr_mval_int(UINT32_MAX))));
	tr_mval_destroy(&v);
	TR_ASSERT_OK(tr_msem_release(x));
	TR_ASSERT_OK(tr_manager_errors(m, &first, NULL));
	assert_int_equal(first, -EOVERFLOW);
	assert_int_equal(tr_msem_value(x), UINT32_MAX);
	tr_mobj_destroy(&x);

	/* BoundedSemaphore: releasing past the bound is an error and leaves
	 * the value as it was */
	TR_ASSERT_OK(tr_mobj_new(
	    &b, m, TR_MOBJ_BOUNDED_SEMAPHORE, "bsem", (v = tr_mval_int(1))));
	tr_mval_destroy(&v);
	TR_ASSERT_ERR(tr_msem_release(b), -EOVERFLOW);
	assert_int_equal(tr_msem_value(b), 1);
	TR_ASSERT_OK(tr_msem_acquire(b, 0));
	assert_int_equal(tr_msem_value(b), 0);
	TR_ASSERT_OK(tr_msem_release(b));
	TR_ASSERT_ERR(tr_msem_release(b), -EOVERFLOW);
	assert_int_equal(tr_msem_value(b), 1);
	TR_ASSERT_ERR(tr_mlock_acquire(b, 0), -EOPNOTSUPP);
	tr_mobj_destroy(&s);
	tr_mobj_destroy(&b);
	tr_manager_destroy(&m);
}

/* A process that dies holding units gives them back; the next acquirer
 * is told.  A bounded semaphore's value never passes its bound that way.
 * A process that exits normally keeps what it took (Python's: a consumer
 * of a counting semaphore). */
static void
test_semaphore_holder_killed(void **state)
{
	tr_manager *m;
	tr_mobj    *s;
	tr_mval    *v;
	tr_process *p, *q;

	TR_ASSERT_OK(tr_manager_start(&m, NULL));
	TR_ASSERT_OK(tr_mobj_new(
	    &s, m, TR_MOBJ_BOUNDED_SEMAPHORE, NULL, (v = tr_mval_int(2))));
	tr_mval_destroy(&v);
	p = start_cli(m, s, 's', 0);
	assert_int_equal(reported(), 0);
	q = start_cli(m, s, 's', 0);
	assert_int_equal(reported(), 0);
	TR_ASSERT_ERR(tr_msem_acquire(s, 0), -EAGAIN);
	TR_ASSERT_OK(tr_process_kill(p));
	TR_ASSERT_ERR(tr_msem_acquire(s, TR_TEST_HANG_MS), TR_LOCK_OWNER_DIED);
	assert_int_equal(tr_test_finish(&p), -SIGKILL);
	/* our unit back, then q's released for it: q holds none now, and
	 * its death gives nothing back, never past the bound */
	TR_ASSERT_OK(tr_msem_release(s));
	TR_ASSERT_OK(tr_msem_release(s));
	TR_ASSERT_ERR(tr_msem_release(s), -EOVERFLOW);
	assert_int_equal(tr_msem_value(s), 2);
	TR_ASSERT_OK(tr_process_kill(q));
	assert_int_equal(tr_test_finish(&q), -SIGKILL);
	for (int i = 0; i < 20; i++) { /* its DOWN comes in meanwhile */
		TR_ASSERT_OK(tr_msem_acquire(s, 0));
		TR_ASSERT_OK(tr_msem_acquire(s, 0)); /* not told: none came */
		TR_ASSERT_ERR(tr_msem_acquire(s, 0), -EAGAIN);
		TR_ASSERT_OK(tr_msem_release(s));
		TR_ASSERT_OK(tr_msem_release(s));
		nap_ms(10);
	}
	assert_int_equal(tr_msem_value(s), 2);
	/* a normal exit: the unit stays taken, nobody is told anything */
	p = start_cli(m, s, 'S', 0);
	assert_int_equal(reported(), 0);
	assert_int_equal(tr_test_finish(&p), 0);
	TR_ASSERT_OK(tr_msem_acquire(s, 0));
	/* (a unit given back on its DOWN would end this wait) */
	TR_ASSERT_ERR(tr_msem_acquire(s, 300), -ETIMEDOUT);
	assert_int_equal(tr_msem_value(s), 0);
	tr_mobj_destroy(&s);
	tr_manager_destroy(&m);
}

/* ---- Condition ---------------------------------------------------------- */

static void
test_condition_basics(void **state)
{
	tr_manager *m;
	tr_mobj    *c;
	int64_t     t0;

	TR_ASSERT_OK(tr_manager_start(&m, NULL));
	TR_ASSERT_OK(tr_mobj_new(&c, m, TR_MOBJ_CONDITION, NULL, NULL));
	TR_ASSERT_ERR(tr_mcond_wait(c, 0), -EPERM);
	TR_ASSERT_ERR(tr_mcond_notify(c, 1), -EPERM);
	TR_ASSERT_ERR(tr_mcond_notify_all(c), -EPERM);
	TR_ASSERT_ERR(tr_mcond_notify(c, -1), -EINVAL);
	TR_ASSERT_OK(tr_mlock_acquire(c, 0));
	TR_ASSERT_OK(tr_mlock_acquire(c, 0)); /* an RLock: depth 2 */
	TR_ASSERT_ERR(tr_mcond_notify_all(c), 0);
	TR_ASSERT_ERR(tr_mcond_wait(c, 0), -EAGAIN);
	t0 = tr_test_now_ms();
	TR_ASSERT_ERR(tr_mcond_wait(c, 100), -ETIMEDOUT);
	assert_true(tr_test_now_ms() - t0 >= 100);
	/* held again, at depth 2 */
	assert_obj_repr(c, "True");
	TR_ASSERT_OK(tr_mlock_release(c));
	TR_ASSERT_OK(tr_mlock_release(c));
	TR_ASSERT_ERR(tr_mlock_release(c), -EPERM);
	assert_obj_repr(c, "False");
	tr_mobj_destroy(&c);
	tr_manager_destroy(&m);
}

/* notify(n) wakes at most n of the current waiters, the others keep
 * waiting; a notify is not kept for a later waiter. */
static void
test_condition_notify_n(void **state)
{
	tr_manager *m;
	tr_mobj    *c;
	tr_process *p[4];
	tr_msg     *msg = NULL;

	TR_ASSERT_OK(tr_manager_start(&m, NULL));
	TR_ASSERT_OK(tr_mobj_new(&c, m, TR_MOBJ_CONDITION, "stages", NULL));
	for (int i = 0; i < 3; i++) {
		p[i] = start_cli(m, c, 'w', -1);
		assert_int_equal(reported(), 0); /* holds the lock */
	}
	/* once we hold the lock, every child has given it up to wait */
	TR_ASSERT_OK(tr_mlock_acquire(c, TR_TEST_HANG_MS));
	TR_ASSERT_ERR(tr_mcond_notify(c, 2), 2);
	TR_ASSERT_OK(tr_mlock_release(c));
	assert_int_equal(reported(), 0);
	assert_int_equal(reported(), 0);
	/* the third is still waiting */
	TR_ASSERT_ERR(tr_recv(&msg, 300), -ETIMEDOUT);
	TR_ASSERT_OK(tr_mlock_acquire(c, TR_TEST_HANG_MS));
	TR_ASSERT_ERR(tr_mcond_notify(c, 5), 1); /* at most the waiters */
	TR_ASSERT_ERR(tr_mcond_notify(c, 5), 0); /* none left */
	TR_ASSERT_OK(tr_mlock_release(c));
	assert_int_equal(reported(), 0);
	/* a waiter holding the lock twice gets both levels back */
	p[3] = start_cli(m, c, 'W', -1);
	assert_int_equal(reported(), 0);
	TR_ASSERT_OK(tr_mlock_acquire(c, TR_TEST_HANG_MS));
	TR_ASSERT_ERR(tr_mcond_notify_all(c), 1);
	TR_ASSERT_OK(tr_mlock_release(c));
	assert_int_equal(reported(), 0); /* notified */
	assert_int_equal(reported(), 0); /* the second release */
	assert_int_equal(tr_test_finish(&p[3]), 0);
	/* a later waiter does not see the notifies that came before it */
	p[3] = start_cli(m, c, 'w', 300);
	assert_int_equal(reported(), 0);
	assert_int_equal(reported(), -ETIMEDOUT);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(tr_test_finish(&p[i]), 0);
	}
	tr_mobj_destroy(&c);
	tr_manager_destroy(&m);
}

struct count {
	int calls, until;
};

static bool
count_pred(void *arg)
{
	struct count *c = arg;

	return ++c->calls >= c->until;
}

/* wait_for: the predicate first, then after each wake-up; one deadline
 * for the whole call however many notifies come. */
static void
test_condition_wait_for(void **state)
{
	tr_manager  *m;
	tr_mobj     *c;
	tr_process  *p;
	struct count n = { 0, 1 };
	int64_t      t0;

	TR_ASSERT_OK(tr_manager_start(&m, NULL));
	TR_ASSERT_OK(tr_mobj_new(&c, m, TR_MOBJ_CONDITION, NULL, NULL));
	/* true at once: no wait (so no lock needed, as Python's) */
	TR_ASSERT_ERR(tr_mcond_wait_for(c, count_pred, &n, 0), 0);
	assert_int_equal(n.calls, 1);
	n = (struct count) { 0, 2 };
	TR_ASSERT_ERR(tr_mcond_wait_for(c, count_pred, &n, 0), -EPERM);
	TR_ASSERT_OK(tr_mlock_acquire(c, 0));
	n = (struct count) { 0, 1000 };
	TR_ASSERT_ERR(tr_mcond_wait_for(c, count_pred, &n, 0), -EAGAIN);
	/* notified every 50 ms for 2 s: still one deadline of 400 ms */
	/* notified every 50 ms for 10 s: wait_for(1 s) still ends at its
	 * one deadline, long before the notifies stop (a deadline per
	 * wake-up would end 1 s after the last, past 11 s) */
	p = start_cli(m, c, 'N', 200);
	assert_int_equal(reported(), 0); /* it runs */
	n  = (struct count) { 0, 1000 };
	t0 = tr_test_now_ms();
	TR_ASSERT_ERR(tr_mcond_wait_for(c, count_pred, &n, 1000), -ETIMEDOUT);
	assert_true(tr_test_now_ms() - t0 >= 1000);
	assert_true(tr_test_now_ms() - t0 < 8000);
	assert_true(n.calls >= 2); /* it was woken */
	/* true on the third check: returns after two wake-ups */
	n = (struct count) { 0, 3 };
	TR_ASSERT_ERR(
	    tr_mcond_wait_for(c, count_pred, &n, TR_TIMEOUT_INFINITE), 0);
	assert_int_equal(n.calls, 3);
	TR_ASSERT_OK(tr_mlock_release(c));
	TR_ASSERT_OK(tr_process_kill(p)); /* rather than wait out its 10 s */
	assert_int_equal(tr_test_finish(&p), -SIGKILL);
	tr_mobj_destroy(&c);
	tr_manager_destroy(&m);
}

/* ---- Array -------------------------------------------------------------- */

static tr_mval *
list_of(int n, const int64_t *items)
{
	tr_mval *l = tr_mval_list();

	for (int i = 0; i < n; i++) {
		tr_mval *v = tr_mval_int(items[i]);

		TR_ASSERT_OK(tr_mval_list_append(l, &v));
	}
	return l;
}

static void
test_array(void **state)
{
	static const int64_t ten[] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 };
	tr_manager          *m;
	tr_mobj             *a, *b, *d;
	tr_mval             *init = list_of(10, ten), *v, *got = NULL;

	TR_ASSERT_OK(tr_manager_start(&m, NULL));
	TR_ASSERT_OK(tr_marray_new(&a, m, "arr", 'i', 0, init));
	assert_int_equal(tr_mobj_kind(a), TR_MOBJ_ARRAY);
	assert_int_equal(tr_mobj_len(a), 10);
	for (int i = 0; i < 10; i++) { /* the seed's a[i] = -a[i] */
		TR_ASSERT_OK(tr_marray_get(a, i, &got));
		v = tr_mval_int(-tr_mval_get_int(got));
		TR_ASSERT_OK(tr_marray_set(a, i, v));
		tr_mval_destroy(&v);
		tr_mval_destroy(&got);
	}
	assert_obj_repr(a, "[0, -1, -2, -3, -4, -5, -6, -7, -8, -9]");
	TR_ASSERT_OK(tr_marray_get(a, -1, &got)); /* from the end */
	assert_int_equal(tr_mval_get_int(got), -9);
	tr_mval_destroy(&got);
	TR_ASSERT_ERR(tr_marray_get(a, 10, &got), TR_ENOTFOUND);
	TR_ASSERT_ERR(tr_marray_get(a, -11, &got), TR_ENOTFOUND);
	/* out of range for 'i', a double, a string: nothing changes */
	TR_ASSERT_ERR(
	    tr_marray_set(a, 0, (v = tr_mval_int(1LL << 31))), -EOVERFLOW);
	tr_mval_destroy(&v);
	TR_ASSERT_ERR(
	    tr_marray_set(a, 0, (v = tr_mval_double(1.5))), TR_EBADTYPE);
	tr_mval_destroy(&v);
	TR_ASSERT_ERR(tr_marray_set(a, 0, (v = tr_mval_str("x"))), TR_EBADTYPE);
	tr_mval_destroy(&v);
	TR_ASSERT_ERR(tr_marray_set(a, 10, (v = tr_mval_int(1))), TR_ENOTFOUND);
	tr_mval_destroy(&v);
	/* slices: Python's rules */
	TR_ASSERT_OK(tr_marray_slice(a, 2, 5, &got));
	{
		char *t = tr_mval_repr(got);

		assert_string_equal(t, "[-2, -3, -4]");
		free(t);
	}
	tr_mval_destroy(&got);
	TR_ASSERT_OK(tr_marray_slice(a, -2, 100, &got));
	assert_int_equal(tr_mval_len(got), 2);
	tr_mval_destroy(&got);
	TR_ASSERT_OK(tr_marray_slice(a, 5, 2, &got));
	assert_int_equal(tr_mval_len(got), 0);
	tr_mval_destroy(&got);
	/* slice assignment: the same number of items, all fitting */
	v = list_of(3, ten);
	TR_ASSERT_OK(tr_marray_set_slice(a, 7, 10, v));
	TR_ASSERT_ERR(tr_marray_set_slice(a, 0, 2, v), -EINVAL);
	tr_mval_destroy(&v);
	{
		const int64_t bad[] = { 5, 6, 1LL << 40 };

		v = list_of(3, bad);
		TR_ASSERT_ERR(tr_marray_set_slice(a, 0, 3, v), -EOVERFLOW);
		tr_mval_destroy(&v);
	}
	assert_obj_repr(a, "[0, -1, -2, -3, -4, -5, -6, 0, 1, 2]");
	/* other kinds' calls, a proxy opened by name */
	TR_ASSERT_ERR(tr_mlist_append(a, init), -EOPNOTSUPP);
	TR_ASSERT_OK(tr_mobj_open(&b, m, "arr"));
	assert_int_equal(tr_mobj_len(b), 10);
	tr_mobj_destroy(&b);
	/* bad arrays */
	TR_ASSERT_ERR(tr_marray_new(&b, m, NULL, 'x', 3, NULL), -EINVAL);
	TR_ASSERT_ERR(tr_marray_new(&b, m, NULL, 'i', 0, NULL), -EINVAL);
	TR_ASSERT_ERR(tr_marray_new(&b, m, NULL, 'i', 3, init), -EINVAL);
	TR_ASSERT_ERR(tr_marray_new(&b, m, NULL, 'B', 0,
	                  (v = list_of(1, (int64_t[]) { -1 }))),
	    -EOVERFLOW);
	tr_mval_destroy(&v);
	TR_ASSERT_ERR(tr_mobj_new(&b, m, TR_MOBJ_ARRAY, NULL, init), -EINVAL);
	/* 'd' takes ints and doubles; zeros by default */
	TR_ASSERT_OK(tr_marray_new(&d, m, NULL, 'd', 3, NULL));
	assert_obj_repr(d, "[0.0, 0.0, 0.0]");
	TR_ASSERT_OK(tr_marray_set(d, 0, (v = tr_mval_int(2))));
	tr_mval_destroy(&v);
	TR_ASSERT_OK(tr_marray_set(d, 1, (v = tr_mval_double(3.1415927))));
	tr_mval_destroy(&v);
	assert_obj_repr(d, "[2.0, 3.1415927, 0.0]");
	tr_mobj_destroy(&d);
	tr_mval_destroy(&init);
	tr_mobj_destroy(&a);
	tr_manager_destroy(&m);
}

/* Raw reads and writes: the items as their C type lays them out. */
static void
test_array_read_write(void **state)
{
	static const double in[4] = { 0.5, -1.25, 3.1415927, 1e300 };
	tr_manager         *m;
	tr_mobj            *a, *b, *d;
	tr_mval            *got     = NULL;
	double              out[4]  = { 0 };
	int32_t             ints[3] = { -7, 0, INT32_MAX }, back[3];

	TR_ASSERT_OK(tr_manager_start(&m, NULL));
	TR_ASSERT_OK(tr_marray_new(&d, m, "dd", 'd', 4, NULL));
	assert_int_equal(tr_marray_typecode(d), 'd');
	TR_ASSERT_OK(tr_marray_write(d, 0, 4, in));
	TR_ASSERT_OK(tr_marray_read(d, 0, 4, out));
	assert_memory_equal(in, out, sizeof(in));
	TR_ASSERT_OK(tr_marray_get(d, 2, &got)); /* the same items */
	assert_true(tr_mval_get_double(got) == 3.1415927);
	tr_mval_destroy(&got);
	TR_ASSERT_OK(tr_marray_read(d, 4, 0, NULL)); /* nothing, at the end */
	TR_ASSERT_ERR(tr_marray_read(d, 3, 2, out), TR_ENOTFOUND);
	TR_ASSERT_ERR(tr_marray_write(d, 2, 3, in), TR_ENOTFOUND);
	TR_ASSERT_OK(tr_marray_read(d, 0, 4, out)); /* nothing written */
	assert_memory_equal(in, out, sizeof(in));
	TR_ASSERT_ERR(tr_marray_read(d, 0, 1, NULL), -EINVAL);
	/* a proxy that only opened it knows its type code */
	TR_ASSERT_OK(tr_mobj_open(&b, m, "dd"));
	assert_int_equal(tr_marray_typecode(b), 'd');
	TR_ASSERT_OK(tr_marray_read(b, 1, 2, out));
	assert_true(out[0] == -1.25 && out[1] == 3.1415927);
	tr_mobj_destroy(&b);
	TR_ASSERT_OK(tr_marray_new(&a, m, NULL, 'i', 3, NULL));
	TR_ASSERT_OK(tr_marray_write(a, 0, 3, ints));
	assert_obj_repr(a, "[-7, 0, 2147483647]");
	TR_ASSERT_OK(tr_marray_read(a, 0, 3, back));
	assert_memory_equal(ints, back, sizeof(ints));
	/* 'Q' items past INT64_MAX would not come back as values */
	{
		uint64_t q[2] = { 1, (uint64_t) INT64_MAX + 1 };

		TR_ASSERT_OK(tr_marray_new(&b, m, NULL, 'Q', 2, NULL));
		TR_ASSERT_ERR(tr_marray_write(b, 0, 2, q), -EOVERFLOW);
		assert_obj_repr(b, "[0, 0]");
		TR_ASSERT_OK(tr_marray_write(b, 0, 1, q));
		assert_obj_repr(b, "[1, 0]");
		tr_mobj_destroy(&b);
	}
	/* not an Array proxy */
	TR_ASSERT_OK(tr_mobj_new(&b, m, TR_MOBJ_LIST, NULL, NULL));
	assert_int_equal(tr_marray_typecode(b), 0);
	TR_ASSERT_ERR(tr_marray_read(b, 0, 1, back), -EINVAL);
	tr_mobj_destroy(&b);
	tr_mobj_destroy(&a);
	tr_mobj_destroy(&d);
	tr_manager_destroy(&m);
}

/* Every type code keeps its extremes and refuses one past them. */
static void
test_array_type_codes(void **state)
{
	static const struct {
		char    t;
		int64_t lo, hi;
	} codes[] = {
		{ 'b', INT8_MIN, INT8_MAX },
		{ 'B', 0, UINT8_MAX },
		{ 'h', INT16_MIN, INT16_MAX },
		{ 'H', 0, UINT16_MAX },
		{ 'i', INT32_MIN, INT32_MAX },
		{ 'I', 0, UINT32_MAX },
		{ 'l', INT64_MIN, INT64_MAX },
		{ 'L', 0, INT64_MAX },
		{ 'q', INT64_MIN, INT64_MAX },
		{ 'Q', 0, INT64_MAX },
	};
	tr_manager *m;
	tr_mobj    *a;
	tr_mval    *v, *got = NULL;

	TR_ASSERT_OK(tr_manager_start(&m, NULL));
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		int64_t ends[] = { codes[i].lo, codes[i].hi };

		v = list_of(2, ends);
		TR_ASSERT_OK(tr_marray_new(&a, m, NULL, codes[i].t, 0, v));
		tr_mval_destroy(&v);
		TR_ASSERT_OK(tr_mobj_get_all(a, &got));
		assert_int_equal(
		    tr_mval_get_int(tr_mval_list_at(got, 0)), codes[i].lo);
		assert_int_equal(
		    tr_mval_get_int(tr_mval_list_at(got, 1)), codes[i].hi);
		tr_mval_destroy(&got);
		if (codes[i].lo != INT64_MIN) {
			v = tr_mval_int(codes[i].lo - 1);
			TR_ASSERT_ERR(tr_marray_set(a, 0, v), -EOVERFLOW);
			tr_mval_destroy(&v);
		}
		if (codes[i].hi != INT64_MAX) {
			v = tr_mval_int(codes[i].hi + 1);
			TR_ASSERT_ERR(tr_marray_set(a, 1, v), -EOVERFLOW);
			tr_mval_destroy(&v);
		}
		TR_ASSERT_OK(tr_marray_set(a, 0, (v = tr_mval_bool(true))));
		tr_mval_destroy(&v);
		TR_ASSERT_OK(tr_marray_get(a, 0, &got));
		assert_int_equal(tr_mval_get_int(got), 1);
		tr_mval_destroy(&got);
		tr_mobj_destroy(&a);
	}
	TR_ASSERT_OK(tr_marray_new(&a, m, NULL, 'f', 1, NULL));
	TR_ASSERT_OK(tr_marray_set(a, 0, (v = tr_mval_double(0.5))));
	tr_mval_destroy(&v);
	assert_obj_repr(a, "[0.5]");
	tr_mobj_destroy(&a);
	tr_manager_destroy(&m);
}

/* ---- bounded Queue ------------------------------------------------------ */

static void
test_queue_maxsize(void **state)
{
	tr_manager *m;
	tr_mobj    *q;
	tr_mval *v, *got = NULL, *three = list_of(3, (int64_t[]) { 1, 2, 3 });
	tr_process *p;
	int64_t     t0;
	int         first = 0;
	uint64_t    n     = 0;

	TR_ASSERT_OK(tr_manager_start(&m, NULL));
	TR_ASSERT_ERR(tr_mqueue_new(&q, m, NULL, 2, three), -EINVAL);
	TR_ASSERT_OK(tr_mqueue_new(&q, m, NULL, 2, NULL));
	v = tr_mval_int(1);
	TR_ASSERT_OK(tr_mqueue_put(q, v));
	TR_ASSERT_OK(tr_mqueue_put_timeout(q, v, 0));
	/* full: put_nowait's error at once, a timed put's at its timeout */
	TR_ASSERT_ERR(tr_mqueue_put_timeout(q, v, 0), TR_EFULL);
	t0 = tr_test_now_ms();
	TR_ASSERT_ERR(tr_mqueue_put_timeout(q, v, 100), TR_EFULL);
	assert_true(tr_test_now_ms() - t0 >= 100);
	TR_ASSERT_ERR(tr_mqueue_put_timeout(q, v, -2), -EINVAL);
	assert_int_equal(tr_mobj_len(q), 2);
	/* the one-way put fails at the manager, and that is reported */
	TR_ASSERT_OK(tr_mqueue_put_nowait(q, v));
	TR_ASSERT_OK(tr_manager_errors(m, &first, &n));
	assert_int_equal(first, TR_EFULL);
	assert_int_equal(n, 1);
	tr_mval_destroy(&v);
	/* a get lets a waiting put in */
	p = start_cli(m, q, 'P', 0);
	assert_int_equal(reported(), 0);
	nap_ms(100); /* likely parked; the result holds either way */
	TR_ASSERT_OK(tr_mqueue_get(q, &got, 0));
	assert_int_equal(tr_mval_get_int(got), 1);
	tr_mval_destroy(&got);
	assert_int_equal(reported(), 0);
	assert_int_equal(tr_test_finish(&p), 0);
	assert_obj_repr(q, "[1, 99]");
	tr_mval_destroy(&three);
	tr_mobj_destroy(&q);
	tr_manager_destroy(&m);
}

/* ---- one-way writes' failures ------------------------------------------- */

static void
test_nowait_errors(void **state)
{
	tr_manager *m;
	tr_mobj    *ns, *l;
	tr_mval    *k = tr_mval_int(1), *v = tr_mval_int(2);
	int         first = 1;
	uint64_t    n     = 7;

	TR_ASSERT_OK(tr_manager_start(&m, NULL));
	TR_ASSERT_OK(tr_manager_errors(m, &first, &n));
	assert_int_equal(first, 0);
	assert_int_equal(n, 0);
	TR_ASSERT_ERR(tr_manager_errors(m, NULL, NULL), -EINVAL);
	TR_ASSERT_OK(tr_mobj_new(&ns, m, TR_MOBJ_NAMESPACE, NULL, NULL));
	TR_ASSERT_OK(tr_mobj_new(&l, m, TR_MOBJ_LIST, NULL, NULL));
	/* a Namespace takes string keys only: the first error */
	TR_ASSERT_OK(tr_mdict_set_nowait(ns, k, v));
	TR_ASSERT_OK(tr_mlist_append_nowait(l, v)); /* fine */
	TR_ASSERT_OK(tr_mobj_drop(l));
	TR_ASSERT_OK(tr_mlist_append_nowait(l, v)); /* gone */
	TR_ASSERT_OK(tr_manager_errors(m, &first, &n));
	assert_int_equal(first, -EINVAL);
	assert_int_equal(n, 2);
	TR_ASSERT_OK(tr_manager_errors(m, &first, &n)); /* cleared */
	assert_int_equal(first, 0);
	assert_int_equal(n, 0);
	TR_ASSERT_OK(tr_mlist_append_nowait(l, v));
	TR_ASSERT_OK(tr_manager_errors(m, &first, NULL));
	assert_int_equal(first, TR_ENOTFOUND);
	tr_mval_destroy(&k);
	tr_mval_destroy(&v);
	tr_mobj_destroy(&ns);
	tr_mobj_destroy(&l);
	tr_manager_destroy(&m);
}

/* ---- raw requests ------------------------------------------------------- */

struct raw {
	uint32_t       op, kind, typecode;
	uint64_t       obj, size;
	const tr_mval *value; /* packed into the request, or */
	const char    *bytes; /* these bytes as its packed value */
	size_t         nbytes;
	int64_t        index, stop;
};

/* One request as any client could send it; the answer's result. */
static int64_t
raw_call(tr_manager *m, const struct raw *a)
{
	Trwire__MgrRequest req = TRWIRE__MGR_REQUEST__INIT;
	Trwire__MgrReply  *rep = NULL;
	tr_msg            *q = NULL, *r = NULL;
	uint8_t           *buf = NULL;
	size_t             n   = 0;
	int64_t            res;

	req.op       = a->op;
	req.obj      = a->obj;
	req.kind     = a->kind;
	req.typecode = a->typecode;
	req.size     = a->size;
	req.index    = a->index;
	req.stop     = a->stop;
	if (a->value) {
		TR_ASSERT_OK(tri_mval_pack(a->value, &buf, &n));
		req.value.data = buf;
		req.value.len  = n;
	} else if (a->bytes) {
		req.value.data = (uint8_t *) a->bytes;
		req.value.len  = a->nbytes;
	}
	TR_ASSERT_OK(tr_msg_new_pb(&q, &req.base));
	free(buf);
	TR_ASSERT_OK(tr_call(tr_manager_addr(m), &q, &r, TR_TEST_HANG_MS));
	tr_msg_destroy(&q);
	TR_ASSERT_OK(tr_msg_unpack(
	    r, &trwire__mgr_reply__descriptor, (ProtobufCMessage **) &rep));
	res = rep->result;
	protobuf_c_message_free_unpacked(&rep->base, NULL);
	tr_msg_destroy(&r);
	return res;
}

static uint64_t
id_of(tr_mobj *o)
{
	return strtoull(tr_mobj_ref(o) + 1, NULL, 10);
}

/* Requests no proxy sends (bad kinds, type codes, lengths, indexes, ops
 * of another kind, the internal op): each a clear error, the manager
 * serves on. */
static void
test_raw_requests(void **state)
{
	tr_manager *m;
	tr_mobj    *a, *c;
	tr_mval    *list = tr_mval_list(), *d = tr_mval_double(1.0);

	TR_ASSERT_OK(tr_manager_start(&m, NULL));
	TR_ASSERT_OK(tr_marray_new(&a, m, NULL, 'i', 4, NULL));
	TR_ASSERT_OK(tr_mobj_new(&c, m, TR_MOBJ_CONDITION, NULL, NULL));
	assert_int_equal(
	    raw_call(m, &(struct raw) { .op = 2, .kind = 13 }), -EINVAL);
	assert_int_equal(raw_call(m,
	                     &(struct raw) { .op = 2,
	                         .kind           = TR_MOBJ_ARRAY,
	                         .typecode       = 300,
	                         .size           = 2 }),
	    -EINVAL);
	assert_int_equal(
	    raw_call(m,
	        &(struct raw) {
	            .op = 2, .kind = TR_MOBJ_ARRAY, .typecode = 'i' }),
	    -EINVAL);
	assert_int_equal(raw_call(m,
	                     &(struct raw) { .op = 2,
	                         .kind           = TR_MOBJ_ARRAY,
	                         .typecode       = 'i',
	                         .size           = TR_MARRAY_MAX_LEN + 1 }),
	    -EINVAL);
	assert_int_equal(
	    raw_call(m,
	        &(struct raw) {
	            .op = 2, .kind = TR_MOBJ_SEMAPHORE, .value = d }),
	    -EINVAL);
	/* ARRAY_WRITE of a list, of 3 bytes for 4-byte items; ARRAY_READ
	 * backwards or from a negative index */
	assert_int_equal(
	    raw_call(
	        m, &(struct raw) { .op = 105, .obj = id_of(a), .value = list }),
	    -EINVAL);
	{
		tr_mval *b3 = tr_mval_bytes("abc", 3);

		assert_int_equal(
		    raw_call(m,
		        &(struct raw) {
		            .op = 105, .obj = id_of(a), .value = b3 }),
		    -EINVAL);
		tr_mval_destroy(&b3);
	}
	assert_int_equal(
	    raw_call(m,
	        &(struct raw) {
	            .op = 104, .obj = id_of(a), .index = 3, .stop = 1 }),
	    TR_ENOTFOUND);
	assert_int_equal(
	    raw_call(m,
	        &(struct raw) {
	            .op = 104, .obj = id_of(a), .index = -1, .stop = 1 }),
	    TR_ENOTFOUND);
	/* another kind's op; the internal reacquire op; a bad notify */
	assert_int_equal(
	    raw_call(m, &(struct raw) { .op = 70, .obj = id_of(a) }),
	    -EOPNOTSUPP);
	assert_int_equal(
	    raw_call(m, &(struct raw) { .op = 1000, .obj = id_of(c) }),
	    -EOPNOTSUPP);
	assert_int_equal(
	    raw_call(
	        m, &(struct raw) { .op = 91, .obj = id_of(c), .index = -5 }),
	    -EINVAL);
	/* garbage as the packed value of a write */
	assert_int_equal(raw_call(m,
	                     &(struct raw) { .op = 101,
	                         .obj            = id_of(a),
	                         .bytes          = "\xff\x01",
	                         .nbytes         = 2 }),
	    TR_EBADFRAME);
	assert_int_equal(tr_mobj_len(a), 4); /* still serving */
	assert_obj_repr(a, "[0, 0, 0, 0]");
	tr_mval_destroy(&list);
	tr_mval_destroy(&d);
	tr_mobj_destroy(&a);
	tr_mobj_destroy(&c);
	tr_manager_destroy(&m);
}

/* ---- a dead manager ----------------------------------------------------- */

/* Clients blocked without a timeout in a Condition wait and a Semaphore
 * acquire when the (unsupervised) manager is SIGKILLed: each call ends
 * with TR_EDEAD or -ESRCH, none hangs. */
static void
test_manager_killed_under_waiters(void **state)
{
	tr_manager *m;
	tr_mobj    *c, *s;
	tr_mval    *zero = tr_mval_int(0);
	tr_process *pc, *ps;
	int         r;

	TR_ASSERT_OK(tr_manager_start(&m, NULL));
	TR_ASSERT_OK(tr_mobj_new(&c, m, TR_MOBJ_CONDITION, NULL, NULL));
	TR_ASSERT_OK(tr_mobj_new(&s, m, TR_MOBJ_SEMAPHORE, NULL, zero));
	pc = start_cli(m, c, 'w', -1);
	assert_int_equal(reported(), 0); /* holds the lock, then waits */
	ps = start_cli(m, s, 'B', 0);
	assert_int_equal(reported(), 0);
	/* both are parked once we get the Condition's lock and the
	 * Semaphore's value is still 0 with a waiter */
	TR_ASSERT_OK(tr_mlock_acquire(c, TR_TEST_HANG_MS));
	TR_ASSERT_OK(tr_mlock_release(c));
	nap_ms(100); /* the acquire likely parked; the result holds anyway */
	assert_int_equal(kill((pid_t) tr_manager_addr(m).pid, SIGKILL), 0);
	for (int i = 0; i < 2; i++) {
		r = reported();
		assert_true(r == TR_EDEAD || r == -ESRCH);
	}
	assert_int_equal(tr_test_finish(&pc), 0);
	assert_int_equal(tr_test_finish(&ps), 0);
	r = tr_msem_value(s);
	assert_true(r == TR_EDEAD || r == -ESRCH);
	tr_mval_destroy(&zero);
	tr_mobj_destroy(&c);
	tr_mobj_destroy(&s);
	tr_manager_destroy(&m);
}

/* ---- start methods ------------------------------------------------------ */

/* The 3x3 matrix: a manager started by each method, its RLock, Semaphore
 * and Array used by children of each method. */
static void
test_start_method_matrix(void **state)
{
	for (int mm = 0; mm < 3; mm++) {
		tr_manager_opts o = { .start_method = methods[mm] };
		tr_manager     *m;
		tr_mobj        *l, *s, *a;
		tr_mval        *init = tr_mval_list();
		tr_process     *p;

		for (int i = 0; i < 3; i++) {
			tr_mval *v = tr_mval_int(i);

			TR_ASSERT_OK(tr_mval_list_append(init, &v));
		}
		TR_ASSERT_OK(tr_manager_start(&m, &o));
		TR_ASSERT_OK(tr_mobj_new(&l, m, TR_MOBJ_RLOCK, NULL, NULL));
		TR_ASSERT_OK(tr_mobj_new(&s, m, TR_MOBJ_SEMAPHORE, "s", NULL));
		TR_ASSERT_OK(tr_marray_new(&a, m, "a", 'q', 0, init));
		for (int c = 0; c < 3; c++) {
			/* exits holding the RLock: it comes back, told */
			p = start_cli_by(m, l, 'a', 0, methods[c]);
			assert_int_equal(reported(), 0);
			assert_int_equal(tr_test_finish(&p), 0);
			TR_ASSERT_ERR(tr_mlock_acquire(l, TR_TEST_HANG_MS),
			    TR_LOCK_OWNER_DIED);
			TR_ASSERT_OK(tr_mlock_release(l));
			/* takes the unit for good (a normal exit) */
			p = start_cli_by(m, s, 'S', 0, methods[c]);
			assert_int_equal(reported(), 0);
			assert_int_equal(tr_test_finish(&p), 0);
			assert_int_equal(tr_msem_value(s), 0);
			TR_ASSERT_OK(tr_msem_release(s));
			p = start_cli_by(m, a, 'n', 0, methods[c]);
			assert_int_equal(reported(), 0);
			assert_int_equal(tr_test_finish(&p), 0);
		}
		assert_obj_repr(a, "[0, -1, -2]"); /* negated three times */
		tr_mval_destroy(&init);
		tr_mobj_destroy(&l);
		tr_mobj_destroy(&s);
		tr_mobj_destroy(&a);
		tr_manager_destroy(&m);
	}
}

/* ---- a supervised manager's restart ------------------------------------- */

/* Named later kinds come back empty after a restart, made as they were
 * (an Array's type code and length, a Queue's maxsize, learnt by a proxy
 * that only opened them too); their idempotent calls are retried, the
 * others fail with TR_EMGRRESTART. */
static void
test_restart_remakes_named_objects(void **state)
{
	static char     buf[TR_MANAGER_ARGS_MAX];
	char            key[TR_MANAGER_KEY_LEN + 1];
	tr_manager_opts o = { .name = "mgr-sync-sup", .authkey = key };
	tr_child_spec   c;
	tr_sup_spec     spec = { 0 };
	tr_supervisor  *s;
	tr_manager     *m;
	tr_mobj        *a, *q, *q2, *l;
	tr_mval        *v = tr_mval_int(5);
	tr_addr         old;

	TR_ASSERT_OK(tr_manager_authkey_new(key, sizeof(key)));
	TR_ASSERT_OK(tr_manager_child_spec(&c, "mgr", &o, buf, sizeof(buf)));
	spec.children  = &c;
	spec.nchildren = 1;
	spec.intensity = 5;
	spec.quiet     = true;
	TR_ASSERT_OK(tr_supervisor_start(&s, &spec, TR_TEST_HANG_MS));
	TR_ASSERT_OK(tr_manager_connect(&m, "mgr-sync-sup", key));
	TR_ASSERT_OK(tr_marray_new(&a, m, "a", 'h', 4, NULL));
	TR_ASSERT_OK(tr_marray_set(a, 1, v));
	TR_ASSERT_OK(tr_mqueue_new(&q, m, "q", 1, NULL));
	TR_ASSERT_OK(tr_mobj_open(&q2, m, "q")); /* learns the maxsize */
	TR_ASSERT_OK(tr_mobj_new(&l, m, TR_MOBJ_RLOCK, "l", NULL));
	TR_ASSERT_OK(tr_mlock_acquire(l, 0));
	old = tr_manager_addr(m);
	assert_int_equal(kill((pid_t) old.pid, SIGKILL), 0);
	assert_obj_repr(a, "[0, 0, 0, 0]"); /* retried: made again, zeros */
	assert_false(tr_addr_eq(old, tr_manager_addr(m)));
	TR_ASSERT_ERR(tr_marray_set(a, 0, (v)), 0);
	TR_ASSERT_OK(tr_mqueue_put_timeout(q2, v, 0));
	TR_ASSERT_ERR(tr_mqueue_put_timeout(q, v, 0), TR_EFULL); /* still 1 */
	TR_ASSERT_ERR(tr_mlock_release(l), -EPERM); /* the new one is free */
	TR_ASSERT_OK(tr_mlock_acquire(l, 0));
	TR_ASSERT_OK(tr_mlock_release(l));
	tr_mval_destroy(&v);
	tr_mobj_destroy(&a);
	tr_mobj_destroy(&q);
	tr_mobj_destroy(&q2);
	tr_mobj_destroy(&l);
	tr_manager_destroy(&m);
	TR_ASSERT_OK(tr_supervisor_stop(s, TR_TEST_HANG_MS));
	tr_supervisor_destroy(&s);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rlock),
		cmocka_unit_test(test_rlock_holder_killed),
		cmocka_unit_test(test_semaphore),
		cmocka_unit_test(test_semaphore_holder_killed),
		cmocka_unit_test(test_condition_basics),
		cmocka_unit_test(test_condition_notify_n),
		cmocka_unit_test(test_condition_wait_for),
		cmocka_unit_test(test_array),
		cmocka_unit_test(test_array_type_codes),
		cmocka_unit_test(test_array_read_write),
		cmocka_unit_test(test_queue_maxsize),
		cmocka_unit_test(test_nowait_errors),
		cmocka_unit_test(test_raw_requests),
		cmocka_unit_test(test_manager_killed_under_waiters),
		cmocka_unit_test(test_start_method_matrix),
		cmocka_unit_test(test_restart_remakes_named_objects),
	};

	if (tr_init(argc, argv) < 0) {
		return 99;
	}
	if (getenv("TR_TEST_FILTER")) {
		cmocka_set_test_filter(getenv("TR_TEST_FILTER"));
	}
	return cmocka_run_group_tests_name("manager-sync", tests, NULL, NULL);
}
