/* SPDX-License-Identifier: MIT */
/* Queue, JoinableQueue and SimpleQueue: every call's semantics, each
 * timeout case and each error; ordering for one producer; handing a queue
 * to children by address and by name under fork, spawn and forkserver;
 * put-and-exit; close and shutdown; join; and the broker's death. */
#include "tr-test-queue.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "queue.pb-c.h"

/* GCC 12's ASan allocator is not fork-safe while other threads run: there
 * "fork" means the forkserver (as in test-delivery). */
#ifdef __SANITIZE_ADDRESS__
#define FORK TR_START_FORKSERVER
#else
#define FORK TR_START_FORK
#endif

static const int methods[] = { FORK, TR_START_SPAWN, TR_START_FORKSERVER };
#define NMETHODS 3

/* ---- child actors: arguments are "where n" --------------------------- */

/* Puts n numbered items and returns at once: nothing may be lost. */
static int
producer(const void *args, size_t len)
{
	static tr_queue *q; /* never destroyed: still reachable at exit */
	int              n;

	if (tr_test_queue_open_arg(args, &q, &n) < 0) {
		return 2;
	}
	for (uint32_t i = 0; i < (uint32_t) n; i++) {
		if (tr_queue_put_bytes(q, &i, sizeof(i), TR_TIMEOUT_INFINITE) <
		    0) {
			return 3;
		}
	}
	return 0; /* no destroy, no wait: exit at once */
}
TR_ACTOR(q_producer, producer)

/* Blocks in one call (n: 0 get, 1 put) and exits with 10 + the error
 * code's distance from TR_EDEAD etc.: 0 if it got what is expected. */
static int
blocked(const void *args, size_t len)
{
	tr_queue *q;
	tr_msg   *m = NULL;
	int       n, r;

	if (tr_test_queue_open_arg(args, &q, &n) < 0) {
		return 2;
	}
	r = n == 0   ? tr_queue_get(q, &m, TR_TIMEOUT_INFINITE)
	    : n == 1 ? tr_queue_put_bytes(q, "x", 1, TR_TIMEOUT_INFINITE)
	             : tr_queue_join(q, TR_TIMEOUT_INFINITE);
	tr_msg_destroy(&m);
	tr_queue_destroy(&q);
	/* report the error as an exit code */
	return r == 0            ? 0
	    : r == TR_EDEAD      ? 20
	    : r == TR_ECLOSED    ? 21
	    : r == TR_EQSHUTDOWN ? 22
	    : r == -ESRCH        ? 23
	                         : 30;
}
TR_ACTOR(q_blocked, blocked)

/* Gets n items, marking each done after a short pause. */
static int
worker(const void *args, size_t len)
{
	tr_queue *q;
	tr_msg   *m;
	int       n;

	if (tr_test_queue_open_arg(args, &q, &n) < 0) {
		return 2;
	}
	for (int i = 0; i < n; i++) {
		if (tr_queue_get(q, &m, TR_TEST_HANG_MS) < 0) {
			return 3;
		}
		tr_msg_destroy(&m);
		usleep(2000);
		if (tr_queue_task_done(q) < 0) {
			return 4;
		}
	}
	tr_queue_destroy(&q);
	return 0;
}
TR_ACTOR(q_worker, worker)

static tr_queue *
new_queue(size_t maxsize, int kind, const char *name)
{
	tr_queue_opts o = { .maxsize = maxsize, .kind = kind, .name = name };
	tr_queue     *q;

	TR_ASSERT_OK(tr_queue_new(&q, &o));
	return q;
}

static uint32_t
get_u32(tr_queue *q, int timeout_ms)
{
	tr_msg  *m;
	uint32_t v;

	TR_ASSERT_OK(tr_queue_get(q, &m, timeout_ms));
	assert_int_equal(tr_msg_size(m), sizeof(v));
	memcpy(&v, tr_msg_data(m), sizeof(v));
	tr_msg_destroy(&m);
	return v;
}

/* Wait (bounded) until the queue holds n items. */
static void
wait_qsize(tr_queue *q, int64_t n)
{
	int64_t end = tr_test_now_ms() + TR_TEST_HANG_MS;

	while (tr_queue_qsize(q) != n && tr_test_now_ms() < end) {
		usleep(2000);
	}
	assert_int_equal(tr_queue_qsize(q), n);
}

/* ---- tests ------------------------------------------------------------ */

static void
test_put_get_bytes_and_protobuf(void **state)
{
	tr_queue         *q    = new_queue(0, TR_QUEUE_PLAIN, NULL);
	Trwire__QueueSpec spec = TRWIRE__QUEUE_SPEC__INIT, *back = NULL;
	tr_msg           *m;

	TR_ASSERT_OK(tr_queue_put_bytes(q, "hello", 5, 0));
	TR_ASSERT_OK(tr_queue_put_bytes(q, NULL, 0, 0)); /* empty item */
	spec.maxsize = 77;
	TR_ASSERT_OK(tr_msg_new_pb(&m, &spec.base));
	TR_ASSERT_OK(tr_queue_put(q, &m, TR_TIMEOUT_INFINITE));
	assert_null(m);
	assert_int_equal(tr_queue_qsize(q), 3);
	assert_int_equal(tr_queue_empty(q), 0);
	assert_int_equal(tr_queue_full(q), 0);
	assert_int_equal(tr_queue_maxsize(q), 0);

	TR_ASSERT_OK(tr_queue_get(q, &m, TR_TIMEOUT_INFINITE));
	assert_int_equal(tr_msg_size(m), 5);
	assert_memory_equal(tr_msg_data(m), "hello", 5);
	assert_string_equal(tr_msg_type(m), "");
	tr_msg_destroy(&m);
	TR_ASSERT_OK(tr_queue_get(q, &m, 0));
	assert_int_equal(tr_msg_size(m), 0);
	tr_msg_destroy(&m);
	TR_ASSERT_OK(tr_queue_get(q, &m, 1000));
	assert_string_equal(tr_msg_type(m), "trwire.QueueSpec");
	TR_ASSERT_OK(tr_msg_unpack(
	    m, &trwire__queue_spec__descriptor, (ProtobufCMessage **) &back));
	assert_int_equal(back->maxsize, 77);
	protobuf_c_message_free_unpacked(&back->base, NULL);
	tr_msg_destroy(&m);
	/* items bigger than one push's byte budget, one by one */
	{
		static char big[3][700000];

		for (int i = 0; i < 3; i++) {
			memset(big[i], 'a' + i, sizeof(big[i]));
			TR_ASSERT_OK(tr_queue_put_bytes(
			    q, big[i], sizeof(big[i]), TR_TIMEOUT_INFINITE));
		}
		for (int i = 0; i < 3; i++) {
			TR_ASSERT_OK(tr_queue_get(q, &m, TR_TEST_HANG_MS));
			assert_int_equal(tr_msg_size(m), sizeof(big[i]));
			assert_memory_equal(
			    tr_msg_data(m), big[i], sizeof(big[i]));
			tr_msg_destroy(&m);
		}
	}
	/* got items are acknowledged: the queue holds none */
	assert_int_equal(tr_queue_qsize(q), 0);
	assert_int_equal(tr_queue_empty(q), 1);
	tr_queue_destroy(&q);
	assert_null(q);
	tr_queue_destroy(&q); /* NULL-safe */
}

static void
test_timeouts_and_bad_arguments(void **state)
{
	tr_queue *q = new_queue(2, TR_QUEUE_PLAIN, NULL);
	tr_msg   *m = NULL;
	int64_t   t0;

	/* one item per push, so a get acknowledges at once and frees its
	 * place below whether "a" and "b" reach the broker together (on a
	 * ring) or one by one */
	TR_ASSERT_OK(tr_queue_set_window(q, 1));

	/* bad timeouts, bad arguments */
	TR_ASSERT_ERR(tr_queue_get(q, &m, -2), -EINVAL);
	TR_ASSERT_ERR(tr_queue_put_bytes(q, "x", 1, -7), -EINVAL);
	TR_ASSERT_ERR(tr_queue_poll(q, -3), -EINVAL);
	TR_ASSERT_ERR(tr_queue_join(q, -2), -EINVAL);
	TR_ASSERT_ERR(tr_queue_get(NULL, &m, 0), -EINVAL);
	TR_ASSERT_ERR(tr_queue_put(q, NULL, 0), -EINVAL);
	TR_ASSERT_ERR(tr_queue_put(q, &m, 0), -EINVAL);
	TR_ASSERT_ERR(tr_queue_set_window(q, 0), -EINVAL);
	TR_ASSERT_ERR(tr_queue_open(&q, ""), -EINVAL);
	TR_ASSERT_ERR(tr_queue_open(&q, "no-such-queue"), TR_ENOTFOUND);

	/* empty: 0 checks once, a timeout waits that long, then TR_EEMPTY */
	TR_ASSERT_ERR(tr_queue_get(q, &m, 0), TR_EEMPTY);
	t0 = tr_test_now_ms();
	TR_ASSERT_ERR(tr_queue_get(q, &m, 150), TR_EEMPTY);
	assert_true(tr_test_now_ms() - t0 >= 150);
	assert_int_equal(tr_queue_poll(q, 0), 0);
	assert_int_equal(tr_queue_poll(q, 50), 0);

	/* full: TR_EFULL at once with 0, after the timeout otherwise */
	TR_ASSERT_OK(tr_queue_put_bytes(q, "a", 1, 0));
	TR_ASSERT_OK(tr_queue_put_bytes(q, "b", 1, 0));
	assert_int_equal(tr_queue_full(q), 1);
	TR_ASSERT_ERR(tr_queue_put_bytes(q, "c", 1, 0), TR_EFULL);
	t0 = tr_test_now_ms();
	TR_ASSERT_ERR(tr_queue_put_bytes(q, "c", 1, 150), TR_EFULL);
	assert_true(tr_test_now_ms() - t0 >= 150);
	/* the failed puts took no room */
	assert_int_equal(tr_queue_qsize(q), 2);
	assert_int_equal(tr_queue_poll(q, TR_TIMEOUT_INFINITE), 1);
	TR_ASSERT_OK(tr_queue_get(q, &m, 0));
	assert_memory_equal(tr_msg_data(m), "a", 1);
	tr_msg_destroy(&m);
	TR_ASSERT_OK(tr_queue_put_bytes(q, "d", 1, 0));
	assert_int_equal(tr_queue_qsize(q), 2);
	TR_ASSERT_OK(tr_queue_get(q, &m, 0));
	assert_memory_equal(tr_msg_data(m), "b", 1);
	tr_msg_destroy(&m);
	TR_ASSERT_OK(tr_queue_get(q, &m, 0));
	assert_memory_equal(tr_msg_data(m), "d", 1);
	tr_msg_destroy(&m);
	TR_ASSERT_ERR(tr_queue_get(q, &m, 0), TR_EEMPTY);

	/* too big for the mailbox: refused, no room taken, still working */
	{
		static char big[8192];

		TR_ASSERT_OK(tr_mailbox_set_max_size(4096));
		TR_ASSERT_ERR(
		    tr_queue_put_bytes(q, big, sizeof(big), 0), TR_ETOOBIG);
		TR_ASSERT_OK(tr_mailbox_set_max_size(64u << 20));
		assert_int_equal(tr_queue_qsize(q), 0);
		TR_ASSERT_OK(tr_queue_put_bytes(q, big, sizeof(big), 0));
		TR_ASSERT_OK(tr_queue_get(q, &m, TR_TEST_HANG_MS));
		assert_int_equal(tr_msg_size(m), sizeof(big));
		tr_msg_destroy(&m);
	}

	/* not a JoinableQueue */
	TR_ASSERT_ERR(tr_queue_task_done(q), -EOPNOTSUPP);
	TR_ASSERT_ERR(tr_queue_join(q, 0), -EOPNOTSUPP);
	tr_queue_destroy(&q);
}

static void
test_blocked_put_resumes_when_a_get_frees_room(void **state)
{
	tr_queue   *q = new_queue(1, TR_QUEUE_PLAIN, NULL);
	tr_process *p;

	TR_ASSERT_OK(tr_queue_put_bytes(q, "a", 1, 0));
	p = tr_test_queue_start(
	    "q_blocked", tr_queue_addr(q), 1, FORK); /* a put */
	wait_qsize(q, 1);
	assert_int_equal(tr_queue_full(q), 1);
	assert_true(tr_process_is_alive(p));
	/* taking one item lets the blocked put in */
	{
		tr_msg *m;

		TR_ASSERT_OK(tr_queue_get(q, &m, TR_TEST_HANG_MS));
		assert_memory_equal(tr_msg_data(m), "a", 1);
		tr_msg_destroy(&m);
		TR_ASSERT_OK(tr_queue_get(q, &m, TR_TEST_HANG_MS));
		assert_memory_equal(tr_msg_data(m), "x", 1);
		tr_msg_destroy(&m);
	}
	assert_int_equal(tr_test_finish(&p), 0);
	tr_queue_destroy(&q);
}

static void
test_one_producer_order_and_put_then_exit(void **state)
{
	for (int k = 0; k < NMETHODS; k++) {
		const char *name = k == 1 ? "q-order-named" : NULL;
		tr_queue   *q    = new_queue(0, TR_QUEUE_PLAIN, name);
		tr_process *p    = tr_test_queue_start(
		       "q_producer", tr_queue_addr(q), 2000, methods[k]);
		tr_msg *m;

		/* the producer exits as soon as its last put returns */
		assert_int_equal(tr_test_finish(&p), 0);
		for (uint32_t i = 0; i < 2000; i++) {
			assert_int_equal(get_u32(q, TR_TEST_HANG_MS), i);
		}
		TR_ASSERT_ERR(tr_queue_get(q, &m, 0), TR_EEMPTY);
		tr_queue_destroy(&q);
	}
}

/* tr_wait() over a queue reader, a pipe end and a child's sentinel: the
 * queue is reported ready only once an item is there, and the wait takes
 * nothing (the item is still got afterwards). */
static void
test_wait_on_a_queue(void **state)
{
	for (int k = 0; k < NMETHODS; k++) {
		tr_queue   *q = new_queue(0, TR_QUEUE_PLAIN, NULL);
		tr_pipe    *a, *b;
		tr_process *p;
		tr_waitable w[3];

		TR_ASSERT_OK(tr_pipe_new(true, &a, &b));
		w[0] = TR_WAITABLE_QUEUE(q);
		w[1] = TR_WAITABLE_PIPE(a);
		assert_int_equal(tr_wait(w, 2, 0), 0); /* nothing yet */
		assert_int_equal(tr_wait(w, 2, 50), 0);
		p = tr_test_queue_start(
		    "q_producer", tr_queue_addr(q), 1, methods[k]);
		w[2] = TR_WAITABLE_PROCESS(p);
		assert_int_equal(tr_wait(w, 2, TR_TEST_HANG_MS), 1);
		assert_true(w[0].ready);
		assert_false(w[1].ready);
		assert_int_equal(get_u32(q, 0), 0);
		assert_int_equal(tr_wait(w, 2, 0), 0);
		/* the producer exits after its put: its sentinel wakes */
		assert_true(tr_wait(&w[2], 1, TR_TEST_HANG_MS) == 1);
		assert_int_equal(tr_test_finish(&p), 0);
		tr_pipe_destroy(&a);
		tr_pipe_destroy(&b);
		tr_queue_destroy(&q);
	}
}

static tr_queue *thread_q;

static void *
make_queue(void *arg)
{
	*(int *) arg = tr_queue_new(&thread_q, NULL);
	return NULL;
}

/* A queue made by a thread that has ended: the broker is the process's
 * child, not the thread's (it outlives the thread by far more than the
 * ~0.5 s in which a thread-bound death signal killed children). */
static void
test_made_by_a_thread_that_ended(void **state)
{
	pthread_t t;
	int       r = -1;
	tr_msg   *m;

	assert_int_equal(pthread_create(&t, NULL, make_queue, &r), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	TR_ASSERT_OK(r);
	usleep(1500 * 1000);
	TR_ASSERT_OK(tr_queue_put_bytes(thread_q, "x", 1, TR_TEST_HANG_MS));
	TR_ASSERT_OK(tr_queue_get(thread_q, &m, TR_TEST_HANG_MS));
	assert_int_equal(tr_msg_size(m), 1);
	tr_msg_destroy(&m);
	tr_queue_destroy(&thread_q);
}

static void
test_close_refuses_puts_and_drains(void **state)
{
	tr_queue   *q = new_queue(1, TR_QUEUE_PLAIN, NULL);
	tr_process *putter, *getter;
	tr_msg     *m;

	TR_ASSERT_OK(tr_queue_put_bytes(q, "a", 1, 0));
	putter = tr_test_queue_start("q_blocked", tr_queue_addr(q), 1, FORK);
	wait_qsize(q, 1);
	TR_ASSERT_OK(tr_queue_close(q));
	TR_ASSERT_OK(tr_queue_close(q));               /* again: 0 */
	assert_int_equal(tr_test_finish(&putter), 21); /* TR_ECLOSED */
	TR_ASSERT_ERR(tr_queue_put_bytes(q, "b", 1, 0), TR_ECLOSED);
	assert_int_equal(tr_queue_qsize(q), 1); /* nothing taken room */
	TR_ASSERT_OK(tr_queue_get(q, &m, 0));   /* drains */
	tr_msg_destroy(&m);
	TR_ASSERT_ERR(tr_queue_get(q, &m, TR_TIMEOUT_INFINITE), TR_ECLOSED);
	TR_ASSERT_ERR(tr_queue_get(q, &m, 0), TR_ECLOSED);
	assert_int_equal(tr_queue_poll(q, 0), 1);
	/* a getter in another process: fails at once, never hangs */
	getter = tr_test_queue_start("q_blocked", tr_queue_addr(q), 0, FORK);
	assert_int_equal(tr_test_finish(&getter), 21);
	/* a fresh handle: poll is ready (a get would fail at once) */
	{
		tr_queue *q2;

		TR_ASSERT_OK(tr_queue_open(&q2, tr_queue_addr(q)));
		assert_int_equal(tr_queue_poll(q2, TR_TEST_HANG_MS), 1);
		TR_ASSERT_ERR(tr_queue_get(q2, &m, 0), TR_ECLOSED);
		tr_queue_destroy(&q2);
	}
	tr_queue_destroy(&q);
}

static void
test_shutdown_like_python_3_13(void **state)
{
	tr_queue   *q = new_queue(0, TR_QUEUE_JOINABLE, NULL);
	tr_process *getter, *joiner;
	tr_msg     *m;

	/* not immediate: puts fail, gets drain first; a blocked get ends */
	getter = tr_test_queue_start("q_blocked", tr_queue_addr(q), 0, FORK);
	TR_ASSERT_OK(tr_queue_put_bytes(q, "a", 1, 0)); /* the getter's */
	assert_int_equal(tr_test_finish(&getter), 0);
	getter = tr_test_queue_start("q_blocked", tr_queue_addr(q), 0, FORK);
	TR_ASSERT_OK(tr_queue_put_bytes(q, "b", 1, 0));
	assert_int_equal(tr_test_finish(&getter), 0);
	TR_ASSERT_OK(tr_queue_put_bytes(q, "c", 1, 0));
	getter = tr_test_queue_start("q_blocked", tr_queue_addr(q), 0, FORK);
	assert_int_equal(tr_test_finish(&getter), 0); /* takes c */
	getter = tr_test_queue_start("q_blocked", tr_queue_addr(q), 0, FORK);
	TR_ASSERT_OK(tr_queue_put_bytes(q, "d", 1, 0));
	TR_ASSERT_OK(tr_queue_shutdown(q, false));
	TR_ASSERT_ERR(tr_queue_put_bytes(q, "e", 1, 0), TR_EQSHUTDOWN);
	assert_int_equal(tr_test_finish(&getter), 0); /* d, after shutdown? */
	TR_ASSERT_ERR(tr_queue_get(q, &m, TR_TIMEOUT_INFINITE), TR_EQSHUTDOWN);
	tr_queue_destroy(&q);

	/* immediate: queued items dropped and counted done; join returns;
	 * gets fail at once */
	q = new_queue(0, TR_QUEUE_JOINABLE, NULL);
	for (int i = 0; i < 5; i++) {
		TR_ASSERT_OK(tr_queue_put_bytes(q, "x", 1, 0));
	}
	joiner = tr_test_queue_start("q_blocked", tr_queue_addr(q), 2, FORK);
	TR_ASSERT_ERR(tr_queue_join(q, 0), -ETIMEDOUT);
	TR_ASSERT_OK(tr_queue_shutdown(q, true));
	assert_int_equal(tr_test_finish(&joiner), 0);
	TR_ASSERT_OK(tr_queue_join(q, 0));
	assert_int_equal(tr_queue_qsize(q), 0);
	TR_ASSERT_ERR(tr_queue_get(q, &m, TR_TIMEOUT_INFINITE), TR_EQSHUTDOWN);
	assert_int_equal(tr_queue_poll(q, 0), 1);
	TR_ASSERT_ERR(tr_queue_put_bytes(q, "e", 1, 0), TR_EQSHUTDOWN);
	TR_ASSERT_OK(tr_queue_shutdown(q, true)); /* again: 0 */
	tr_queue_destroy(&q);
}

static void
test_joinable_join_exact(void **state)
{
	for (int k = 0; k < NMETHODS; k++) {
		tr_queue   *q = new_queue(0, TR_QUEUE_JOINABLE, NULL);
		tr_process *w[2];
		tr_msg     *m;
		tr_queue   *g; /* this process's getting handle */

		TR_ASSERT_ERR(tr_queue_task_done(q), TR_ETASKDONE);
		TR_ASSERT_OK(tr_queue_join(q, 0)); /* nothing put */
		TR_ASSERT_OK(tr_queue_open(&g, tr_queue_addr(q)));
		for (int i = 0; i < 3; i++) {
			TR_ASSERT_OK(tr_queue_put_bytes(q, "t", 1, 0));
		}
		TR_ASSERT_OK(tr_queue_get(g, &m, TR_TEST_HANG_MS));
		tr_msg_destroy(&m);
		TR_ASSERT_ERR(tr_queue_join(q, 0), -ETIMEDOUT);
		TR_ASSERT_ERR(tr_queue_join(q, 50), -ETIMEDOUT);
		TR_ASSERT_OK(tr_queue_task_done(q));
		TR_ASSERT_ERR(tr_queue_join(q, 0), -ETIMEDOUT);
		TR_ASSERT_OK(tr_queue_get(g, &m, 0));
		tr_msg_destroy(&m);
		TR_ASSERT_OK(tr_queue_get(g, &m, 0));
		tr_msg_destroy(&m);
		TR_ASSERT_OK(tr_queue_task_done(q));
		TR_ASSERT_ERR(tr_queue_join(q, 0), -ETIMEDOUT);
		TR_ASSERT_OK(tr_queue_task_done(q));
		TR_ASSERT_OK(tr_queue_join(q, 0));
		TR_ASSERT_ERR(tr_queue_task_done(q), TR_ETASKDONE);

		/* its window would take the next items: give it back */
		tr_queue_destroy(&g);

		/* workers in children: join returns once all 40 are done,
		 * and then not one is unfinished */
		for (int i = 0; i < 40; i++) {
			TR_ASSERT_OK(tr_queue_put_bytes(q, "t", 1, 0));
		}
		w[0] = tr_test_queue_start(
		    "q_worker", tr_queue_addr(q), 20, methods[k]);
		w[1] = tr_test_queue_start(
		    "q_worker", tr_queue_addr(q), 20, methods[k]);
		TR_ASSERT_OK(tr_queue_join(q, TR_TEST_HANG_MS));
		TR_ASSERT_ERR(tr_queue_task_done(q), TR_ETASKDONE);
		assert_int_equal(tr_test_finish(&w[0]), 0);
		assert_int_equal(tr_test_finish(&w[1]), 0);
		tr_queue_destroy(&q);
	}
}

static void
test_simple_queue(void **state)
{
	tr_queue_opts bad = { .kind = TR_QUEUE_SIMPLE, .maxsize = 3 };
	tr_queue     *q   = NULL;
	tr_msg       *m;

	TR_ASSERT_ERR(tr_queue_new(&q, &bad), -EINVAL);
	bad.kind    = 7;
	bad.maxsize = 0;
	TR_ASSERT_ERR(tr_queue_new(&q, &bad), -EINVAL);
	q = new_queue(0, TR_QUEUE_SIMPLE, NULL);
	assert_int_equal(tr_queue_empty(q), 1);
	TR_ASSERT_OK(tr_queue_put_bytes(q, "s", 1, TR_TIMEOUT_INFINITE));
	assert_int_equal(tr_queue_empty(q), 0);
	TR_ASSERT_ERR(tr_queue_qsize(q), -EOPNOTSUPP);
	TR_ASSERT_ERR(tr_queue_full(q), -EOPNOTSUPP);
	TR_ASSERT_ERR(tr_queue_task_done(q), -EOPNOTSUPP);
	TR_ASSERT_OK(tr_queue_get(q, &m, TR_TIMEOUT_INFINITE));
	tr_msg_destroy(&m);
	tr_queue_destroy(&q);
}

static void
test_named_queue_and_second_handle(void **state)
{
	tr_queue *q = new_queue(0, TR_QUEUE_PLAIN, "q-named"), *q2, *q3;
	tr_msg   *m;
	char      addr[TR_ADDR_STRLEN];

	assert_string_equal(tr_queue_addr(q), "q-named");
	TR_ASSERT_ERR(tr_queue_new(&q2, &(tr_queue_opts) { .name = "q-named" }),
	    TR_EEXISTS);
	TR_ASSERT_OK(tr_queue_open(&q2, "q-named"));
	tr_addr_format(tr_queue_broker(q), addr, sizeof(addr));
	TR_ASSERT_OK(tr_queue_open(&q3, addr));
	TR_ASSERT_OK(tr_queue_put_bytes(q2, "n", 1, 0));
	/* a second consumer handle in the same process: what the first
	 * was sent and did not get goes back when it is destroyed */
	assert_int_equal(tr_queue_poll(q3, TR_TEST_HANG_MS), 1);
	tr_queue_destroy(&q3);
	TR_ASSERT_OK(tr_queue_get(q2, &m, TR_TEST_HANG_MS));
	assert_memory_equal(tr_msg_data(m), "n", 1);
	tr_msg_destroy(&m);
	tr_queue_destroy(&q2);
	tr_queue_destroy(&q);
	/* the name is free again once the broker is gone */
	q = new_queue(0, TR_QUEUE_PLAIN, "q-named");
	tr_queue_destroy(&q);
}

static void
test_handle_in_fork_child_is_echild(void **state)
{
	tr_queue *q = new_queue(0, TR_QUEUE_PLAIN, NULL);
	pid_t     pid;
	int       status;

	pid = fork();
	if (pid == 0) {
		tr_msg *m;

		_exit(tr_queue_get(q, &m, 0) == -ECHILD &&
		            tr_queue_put_bytes(q, "x", 1, 0) == -ECHILD
		        ? 0
		        : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(WEXITSTATUS(status), 0);
	tr_queue_destroy(&q);
}

static void
test_junk_to_the_broker_loses_nothing(void **state)
{
	tr_queue *q = new_queue(0, TR_QUEUE_PLAIN, NULL);
	tr_msg   *req, *rep = NULL;

	TR_ASSERT_OK(tr_queue_put_bytes(q, "k", 1, 0));
	TR_ASSERT_OK(tr_send_bytes(tr_queue_broker(q), "junk", 4, 1000));
	TR_ASSERT_OK(tr_msg_new_bytes(&req, "\xff\xff\xff", 3));
	TR_ASSERT_ERR(
	    tr_call(tr_queue_broker(q), &req, &rep, TR_TEST_HANG_MS), 0);
	assert_non_null(rep);
	tr_msg_destroy(&rep);
	assert_int_equal(tr_queue_qsize(q), 1);
	{
		tr_msg *m;

		TR_ASSERT_OK(tr_queue_get(q, &m, TR_TEST_HANG_MS));
		assert_memory_equal(tr_msg_data(m), "k", 1);
		tr_msg_destroy(&m);
	}
	tr_queue_destroy(&q);
}

/* Wait (bounded) until name names a broker other than old's. */
static tr_addr
wait_restarted(const char *name, pid_t old)
{
	int64_t end = tr_test_now_ms() + TR_TEST_HANG_MS;
	tr_addr a   = TR_ADDR_NULL;

	while ((tr_whereis(name, &a) < 0 || (pid_t) a.pid == old ||
	           !tr_addr_is_alive(a)) &&
	    tr_test_now_ms() < end) {
		usleep(5000);
	}
	assert_int_not_equal(a.pid, old);
	return a;
}

/* The broker dies: blocked gets, puts and joins elsewhere end with
 * TR_EDEAD; later calls on the handles too; the supervisor restarts it
 * empty, and a named queue is found again by its name. */
static void
test_broker_death(void **state)
{
	for (int k = 0; k < NMETHODS; k++) {
		tr_queue   *q = new_queue(1, TR_QUEUE_JOINABLE, "q-dies"), *q2;
		tr_process *getter, *putter, *joiner;
		tr_msg     *m;
		pid_t       bpid = (pid_t) tr_queue_broker(q).pid;

		/* full, and one item not done: a put and a join block */
		TR_ASSERT_OK(tr_queue_put_bytes(q, "a", 1, 0));
		putter =
		    tr_test_queue_start("q_blocked", "q-dies", 1, methods[k]);
		joiner =
		    tr_test_queue_start("q_blocked", "q-dies", 2, methods[k]);
		usleep(300000); /* let them block (a sleep only adds cover) */
		assert_int_equal(kill(bpid, SIGKILL), 0);
		assert_int_equal(tr_test_finish(&putter), 20);
		assert_int_equal(tr_test_finish(&joiner), 20);
		TR_ASSERT_ERR(
		    tr_queue_get(q, &m, TR_TIMEOUT_INFINITE), TR_EDEAD);
		TR_ASSERT_ERR(tr_queue_put_bytes(q, "d", 1, 0), TR_EDEAD);
		TR_ASSERT_ERR(tr_queue_qsize(q), TR_EDEAD);
		assert_int_equal(tr_queue_poll(q, 0), 1);

		/* restarted, empty, under the same name; a blocked get */
		bpid = (pid_t) wait_restarted("q-dies", bpid).pid;
		TR_ASSERT_OK(tr_queue_open(&q2, "q-dies"));
		assert_int_equal(tr_queue_qsize(q2), 0);
		TR_ASSERT_OK(tr_queue_put_bytes(q2, "e", 1, 0));
		TR_ASSERT_OK(tr_queue_get(q2, &m, TR_TEST_HANG_MS));
		tr_msg_destroy(&m);
		getter =
		    tr_test_queue_start("q_blocked", "q-dies", 0, methods[k]);
		usleep(300000);
		assert_int_equal(kill(bpid, SIGKILL), 0);
		assert_int_equal(tr_test_finish(&getter), 20);
		TR_ASSERT_ERR(tr_queue_get(q2, &m, 0), TR_EDEAD);
		tr_queue_destroy(&q2);
		bpid = (pid_t) wait_restarted("q-dies", bpid).pid;
		tr_queue_destroy(&q); /* the creator's: stops the new broker */
		assert_true(tr_test_wait_gone(bpid, TR_TEST_HANG_MS));
	}
}

static void
test_creator_exit_stops_the_broker(void **state)
{
	/* a child creates a queue and exits without destroying it: it must
	 * not hang, and the broker goes with it */
	tr_process *p = tr_test_queue_start("q_creator", "x", 0, FORK);

	assert_int_equal(tr_test_finish(&p), 0);
}

static int
creator(const void *args, size_t len)
{
	static tr_queue *q; /* never destroyed: still reachable at exit */

	if (tr_queue_new(&q, NULL) < 0 ||
	    tr_queue_put_bytes(q, "z", 1, 0) < 0) {
		return 2;
	}
	return 0;
}
TR_ACTOR(q_creator, creator)

static int
messages_only(void **state)
{
	return setenv("TROUPE_QUEUE_SHM", "0", 1);
}

static int
rings_again(void **state)
{
	return unsetenv("TROUPE_QUEUE_SHM");
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_get_bytes_and_protobuf),
		cmocka_unit_test(test_timeouts_and_bad_arguments),
		cmocka_unit_test(
		    test_blocked_put_resumes_when_a_get_frees_room),
		cmocka_unit_test(test_one_producer_order_and_put_then_exit),
		cmocka_unit_test(test_wait_on_a_queue),
		cmocka_unit_test(test_made_by_a_thread_that_ended),
		cmocka_unit_test(test_close_refuses_puts_and_drains),
		cmocka_unit_test(test_shutdown_like_python_3_13),
		cmocka_unit_test(test_joinable_join_exact),
		cmocka_unit_test(test_simple_queue),
		cmocka_unit_test(test_named_queue_and_second_handle),
		cmocka_unit_test(test_handle_in_fork_child_is_echild),
		cmocka_unit_test(test_junk_to_the_broker_loses_nothing),
		cmocka_unit_test(test_broker_death),
		cmocka_unit_test(test_creator_exit_stops_the_broker),
	};

	TR_ASSERT_OK(tr_init(argc, argv));
	/* twice: puts on the producers' rings (the default), then every put
	 * by message (TROUPE_QUEUE_SHM=0, as for another host; children
	 * started by fork and spawn inherit it) */
	unsetenv("TROUPE_QUEUE_SHM");
	return cmocka_run_group_tests_name("queue", tests, NULL, NULL) +
	    cmocka_run_group_tests_name(
	        "queue, messages", tests, messages_only, rings_again);
}
