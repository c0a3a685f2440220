/* SPDX-License-Identifier: MIT */
/* The queue's same-host get path, the consumers' rings (actors/
 * queue-cring.c), and the JoinableQueue's count in a shared page (actors/
 * queue-page.c): a consumer SIGKILLed while its ring holds items it has
 * not got loses none of them (they go to another consumer, in order) and
 * gets none of them twice (its head is the acknowledgement); items
 * written to a consumer that just died go back too; counts are exact at
 * once; items too big for a ring are fetched in order; task_done is
 * exact (too many is TR_ETASKDONE, at once) and join returns exactly when
 * every item is done.  Consumers are started by fork, spawn and the
 * forkserver.  (The other queue tests run on both paths: test-queue's
 * groups, test-queue-load and test-queue-load-messages.) */
#include "tr-test-queue.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef __SANITIZE_ADDRESS__
#define FORK TR_START_FORKSERVER
#else
#define FORK TR_START_FORK
#endif

static const int methods[] = { FORK, TR_START_SPAWN, TR_START_FORKSERVER };
#define NMETHODS 3

static uint32_t
get_u32(tr_queue *q)
{
	tr_msg  *m;
	uint32_t v = UINT32_MAX;

	TR_ASSERT_OK(tr_queue_get(q, &m, TR_TEST_HANG_MS));
	assert_int_equal(tr_msg_size(m), sizeof(v));
	memcpy(&v, tr_msg_data(m), sizeof(v));
	tr_msg_destroy(&m);
	return v;
}

/* ---- child actors: arguments are "where n" --------------------------- */

/* With a window of 100, gets items 0..n-1 (checking them), checks that
 * it is on a ring, then SIGKILLs itself: its ring still holds the items
 * the broker wrote ahead. */
static int
killed_consumer(const void *args, size_t len)
{
	tr_queue *q;
	tr_msg   *m;
	int       n;

	if (tr_test_queue_open_arg(args, &q, &n) < 0 ||
	    tr_queue_set_window(q, 100) < 0) {
		return 2;
	}
	for (uint32_t i = 0; i < (uint32_t) n; i++) {
		uint32_t v;

		if (tr_queue_get(q, &m, TR_TEST_HANG_MS) < 0 ||
		    tr_msg_size(m) != sizeof(v)) {
			return 3;
		}
		memcpy(&v, tr_msg_data(m), sizeof(v));
		tr_msg_destroy(&m);
		if (v != i) {
			return 4;
		}
	}
	if (tr_test_queue_memfds(q, "cring") < 1) {
		return 5; /* not on a ring: the test would prove nothing */
	}
	raise(SIGKILL);
	return 6;
}
TR_ACTOR(qc_killed_consumer, killed_consumer)

/* Blocks in a get on an empty queue (until killed). */
static int
waiting_consumer(const void *args, size_t len)
{
	tr_queue *q;
	tr_msg   *m;
	int       n;

	if (tr_test_queue_open_arg(args, &q, &n) < 0) {
		return 2;
	}
	(void) tr_queue_get(q, &m, TR_TIMEOUT_INFINITE);
	return 3;
}
TR_ACTOR(qc_waiting_consumer, waiting_consumer)

/* JoinableQueue worker: gets n items, task_done after each. */
static int
done_worker(const void *args, size_t len)
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
		if (tr_queue_task_done(q) < 0) {
			return 4;
		}
	}
	return 0;
}
TR_ACTOR(qc_done_worker, done_worker)

/* ---- tests ------------------------------------------------------------ */

static void
test_consumer_killed_holding_its_ring_loses_nothing(void **state)
{
	for (int k = 0; k < NMETHODS; k++) {
		for (int got = 1; got <= 37; got += 36) {
			tr_queue   *q;
			tr_process *p;
			tr_msg     *m;
			int         code = 0;

			TR_ASSERT_OK(tr_queue_new(&q, NULL));
			for (uint32_t i = 0; i < 300; i++) {
				TR_ASSERT_OK(tr_queue_put_bytes(
				    q, &i, sizeof(i), TR_TIMEOUT_INFINITE));
			}
			p = tr_test_queue_start("qc_killed_consumer",
			    tr_queue_addr(q), got, methods[k]);
			TR_ASSERT_OK(tr_process_join(p, TR_TEST_HANG_MS));
			TR_ASSERT_OK(tr_process_exitcode(p, &code));
			assert_int_equal(code, -SIGKILL);
			tr_process_destroy(&p);
			/* its DOWN in, its ring freed: the items it got are
			 * gone, every other one is back, in order, once */
			assert_true(tr_test_queue_memfds_become(q, "cring", 0));
			assert_int_equal(tr_queue_qsize(q), 300 - got);
			for (uint32_t i = (uint32_t) got; i < 300; i++) {
				assert_int_equal(get_u32(q), i);
			}
			TR_ASSERT_ERR(tr_queue_get(q, &m, 0), TR_EEMPTY);
			assert_int_equal(tr_queue_qsize(q), 0);
			tr_queue_destroy(&q);
		}
	}
}

/* Items the broker writes to a consumer that has just died (before its
 * DOWN is in) go back to the queue too. */
static void
test_consumer_killed_while_waiting(void **state)
{
	for (int k = 0; k < NMETHODS; k++) {
		tr_queue   *q;
		tr_process *p;
		tr_msg     *m;

		TR_ASSERT_OK(tr_queue_new(&q, NULL));
		p = tr_test_queue_start(
		    "qc_waiting_consumer", tr_queue_addr(q), 0, methods[k]);
		assert_true(tr_test_queue_memfds_become(q, "cring", 1));
		TR_ASSERT_OK(tr_process_kill(p));
		for (uint32_t i = 0; i < 50; i++) {
			TR_ASSERT_OK(tr_queue_put_bytes(
			    q, &i, sizeof(i), TR_TIMEOUT_INFINITE));
		}
		TR_ASSERT_OK(tr_process_join(p, TR_TEST_HANG_MS));
		tr_process_destroy(&p);
		for (uint32_t i = 0; i < 50; i++) {
			assert_int_equal(get_u32(q), i);
		}
		TR_ASSERT_ERR(tr_queue_get(q, &m, 0), TR_EEMPTY);
		assert_true(
		    tr_test_queue_memfds_become(q, "cring", 1)); /* ours only */
		tr_queue_destroy(&q);
	}
}

/* A got item is acknowledged before get returns: qsize counts it out at
 * once, and a bounded queue's room is free at once. */
static void
test_counts_exact_at_once(void **state)
{
	tr_queue_opts o = { .maxsize = 20 };
	tr_queue     *q;

	TR_ASSERT_OK(tr_queue_new(&q, &o));
	TR_ASSERT_OK(tr_queue_set_window(q, 10));
	for (uint32_t i = 0; i < 20; i++) {
		TR_ASSERT_OK(tr_queue_put_bytes(q, &i, sizeof(i), 0));
	}
	TR_ASSERT_ERR(tr_queue_put_bytes(q, "x", 1, 0), TR_EFULL);
	for (uint32_t i = 0; i < 3; i++) {
		assert_int_equal(get_u32(q), i);
	}
	assert_true(tr_test_queue_memfds_become(q, "cring", 1));
	assert_int_equal(tr_queue_qsize(q), 17);
	for (uint32_t i = 20; i < 23; i++) {
		TR_ASSERT_OK(tr_queue_put_bytes(q, &i, sizeof(i), 0));
	}
	TR_ASSERT_ERR(tr_queue_put_bytes(q, "x", 1, 0), TR_EFULL);
	for (uint32_t i = 3; i < 23; i++) {
		assert_int_equal(get_u32(q), i);
	}
	assert_int_equal(tr_queue_qsize(q), 0);
	tr_queue_destroy(&q);
}

/* Items over the ring's 64 KiB go as markers the consumer fetches: got
 * in order among the small ones. */
static void
test_big_items_in_order(void **state)
{
	static char big[2][200000];
	tr_queue   *q;
	tr_msg     *m;

	TR_ASSERT_OK(tr_queue_new(&q, NULL));
	for (int i = 0; i < 2; i++) {
		memset(big[i], 'A' + i, sizeof(big[i]));
	}
	TR_ASSERT_OK(tr_queue_put_bytes(q, "a", 1, 0));
	TR_ASSERT_OK(tr_queue_put_bytes(q, big[0], sizeof(big[0]), 0));
	TR_ASSERT_OK(tr_queue_put_bytes(q, "b", 1, 0));
	TR_ASSERT_OK(tr_queue_put_bytes(q, big[1], sizeof(big[1]), 0));
	TR_ASSERT_OK(tr_queue_put_bytes(q, "c", 1, 0));
	for (int i = 0; i < 5; i++) {
		TR_ASSERT_OK(tr_queue_get(q, &m, TR_TEST_HANG_MS));
		if (i % 2 == 0) {
			assert_int_equal(tr_msg_size(m), 1);
			assert_int_equal(
			    ((const char *) tr_msg_data(m))[0], 'a' + i / 2);
		} else {
			assert_int_equal(tr_msg_size(m), sizeof(big[0]));
			assert_memory_equal(
			    tr_msg_data(m), big[i / 2], sizeof(big[0]));
		}
		tr_msg_destroy(&m);
	}
	assert_true(tr_test_queue_memfds_become(q, "cring", 1));
	assert_int_equal(tr_queue_qsize(q), 0);
	tr_queue_destroy(&q);
}

/* task_done on the page: exact at once, also right after a put on a ring
 * the broker has not read yet (a put that returned is counted). */
static void
test_task_done_exact(void **state)
{
	tr_queue_opts o = { .kind = TR_QUEUE_JOINABLE };
	tr_queue     *q;

	TR_ASSERT_OK(tr_queue_new(&q, &o));
	TR_ASSERT_ERR(tr_queue_task_done(q), TR_ETASKDONE);
	for (int i = 0; i < 50; i++) {
		TR_ASSERT_OK(tr_queue_put_bytes(q, "t", 1, 0));
		TR_ASSERT_OK(tr_queue_task_done(q));
		TR_ASSERT_ERR(tr_queue_task_done(q), TR_ETASKDONE);
	}
	TR_ASSERT_OK(tr_queue_join(q, 0));
	for (int i = 0; i < 3; i++) {
		TR_ASSERT_OK(tr_queue_put_bytes(q, "u", 1, 0));
	}
	TR_ASSERT_OK(tr_queue_task_done(q));
	TR_ASSERT_OK(tr_queue_task_done(q));
	TR_ASSERT_ERR(tr_queue_join(q, 0), -ETIMEDOUT);
	TR_ASSERT_OK(tr_queue_task_done(q));
	TR_ASSERT_OK(tr_queue_join(q, 0));
	TR_ASSERT_ERR(tr_queue_task_done(q), TR_ETASKDONE);
	tr_queue_destroy(&q);
}

/* Workers in children of each start method mark 100 items each done; the
 * join waiting meanwhile returns once all are (its last task_done sends
 * the broker a WAKE), and not before. */
static void
test_join_returns_when_workers_are_done(void **state)
{
	tr_queue_opts o = { .kind = TR_QUEUE_JOINABLE };
	tr_process   *w[NMETHODS];
	tr_queue     *q;

	TR_ASSERT_OK(tr_queue_new(&q, &o));
	for (int i = 0; i < 100 * NMETHODS; i++) {
		TR_ASSERT_OK(tr_queue_put_bytes(q, "j", 1, 0));
	}
	TR_ASSERT_ERR(tr_queue_join(q, 0), -ETIMEDOUT);
	for (int k = 0; k < NMETHODS; k++) {
		w[k] = tr_test_queue_start(
		    "qc_done_worker", tr_queue_addr(q), 100, methods[k]);
	}
	TR_ASSERT_OK(tr_queue_join(q, TR_TEST_HANG_MS));
	assert_int_equal(tr_queue_qsize(q), 0);
	for (int k = 0; k < NMETHODS; k++) {
		assert_int_equal(tr_test_finish(&w[k]), 0);
	}
	TR_ASSERT_ERR(tr_queue_task_done(q), TR_ETASKDONE);
	tr_queue_destroy(&q);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_consumer_killed_holding_its_ring_loses_nothing),
		cmocka_unit_test(test_consumer_killed_while_waiting),
		cmocka_unit_test(test_counts_exact_at_once),
		cmocka_unit_test(test_big_items_in_order),
		cmocka_unit_test(test_task_done_exact),
		cmocka_unit_test(test_join_returns_when_workers_are_done),
	};

	TR_ASSERT_OK(tr_init(argc, argv));
	unsetenv("TROUPE_QUEUE_SHM");
	return cmocka_run_group_tests_name(
	    "queue consumer rings", tests, NULL, NULL);
}
