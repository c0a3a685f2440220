/* SPDX-License-Identifier: MIT */
/* tr_pool: map/apply and their async forms, chunks, callbacks exactly
 * once, map's first failing item reported only after every chunk ended,
 * close/join/terminate, the initializer, and dead workers replaced with
 * their tasks retried or failed by name -- under fork, spawn and
 * forkserver. */
#include "tr-test-pool.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct counts {
	int ok, err;
	int last_err;
};

static void
on_ok(tr_pool_result *r, void *arg)
{
	struct counts *c = arg;

	assert_int_equal(tr_pool_result_successful(r), 1);
	c->ok++;
}

static void
on_err(tr_pool_result *r, void *arg)
{
	struct counts *c = arg;

	assert_int_equal(tr_pool_result_successful(r), 0);
	c->err++;
	c->last_err = tr_pool_result_error(r);
}

static void
no_children_left(void)
{
	/* the forkserver is the only child a pool may leave */
	assert_int_equal(tr_test_children(getpid(),
	                     TR_TEST_CHILD_RUNNING | TR_TEST_CHILD_ZOMBIE |
	                         TR_TEST_CHILD_NO_FORKSERVER,
	                     NULL, 0),
	    0);
}

/* pool.map(f, range(100)) with chunks of 7, apply, apply_async with a
 * callback, map_async's callback with the whole list, an empty map. */
static void
test_map_and_apply(void **state)
{
	for (int mi = 0; mi < 3; mi++) {
		tr_pool *p = tr_test_pool_new(2, tr_test_pool_methods[mi], 0);
		int64_t  vals[100];
		tr_pool_item    items[100];
		tr_pool_result *r = NULL, *ra = NULL, *rm = NULL, *re = NULL;
		struct counts   c     = { 0 };
		tr_pool_cb      cb    = { on_ok, on_err, &c };
		int64_t         seven = 7;

		for (int i = 0; i < 100; i++) {
			vals[i] = i;
		}
		tr_test_pool_items(items, vals, 100);
		assert_int_equal(tr_pool_processes(p), 2);
		TR_ASSERT_OK(
		    tr_pool_map(p, "sq", items, 100, 7, &r, TR_TEST_HANG_MS));
		assert_int_equal(tr_pool_result_count(r), 100);
		for (int i = 0; i < 100; i++) {
			assert_int_equal(
			    tr_test_pool_i64(r, (size_t) i), i * i);
		}
		tr_pool_result_destroy(&r);
		assert_null(r);

		TR_ASSERT_OK(tr_pool_apply(
		    p, "sq", &seven, sizeof(seven), &r, TR_TEST_HANG_MS));
		assert_int_equal(tr_test_pool_i64(r, 0), 49);
		tr_pool_result_destroy(&r);

		TR_ASSERT_OK(tr_pool_apply_async(
		    p, "sq", &seven, sizeof(seven), &cb, &ra));
		/* no result kept: only the callback sees it */
		TR_ASSERT_OK(tr_pool_apply_async(
		    p, "sq", &seven, sizeof(seven), &cb, NULL));
		TR_ASSERT_OK(
		    tr_pool_map_async(p, "sq", items, 100, 0, &cb, &rm));
		TR_ASSERT_OK(tr_pool_map_async(p, "sq", items, 0, 0, &cb, &re));
		assert_true(tr_pool_result_ready(re));
		assert_int_equal(tr_pool_result_count(re), 0);
		TR_ASSERT_OK(tr_pool_result_get(rm, TR_TEST_HANG_MS));
		TR_ASSERT_OK(tr_pool_result_wait(ra, TR_TEST_HANG_MS));
		assert_true(tr_pool_result_ready(ra));
		assert_int_equal(tr_pool_result_successful(ra), 1);
		assert_int_equal(tr_test_pool_i64(ra, 0), 49);
		assert_int_equal(tr_test_pool_i64(rm, 99), 99 * 99);
		TR_ASSERT_OK(tr_pool_close(p));
		TR_ASSERT_OK(tr_pool_join(p, TR_TEST_HANG_MS));
		/* each callback once: 2 applies, 2 maps */
		assert_int_equal(c.ok, 4);
		assert_int_equal(c.err, 0);
		tr_pool_result_destroy(&ra);
		tr_pool_result_destroy(&rm);
		tr_pool_result_destroy(&re);
		tr_pool_destroy(&p);
		assert_null(p);
		no_children_left();
	}
}

/* map fails with its first failing item in input order, only once every
 * chunk has ended, and error_callback fires once; the pool serves on. */
static void
test_map_first_failure(void **state)
{
	for (int mi = 0; mi < 3; mi++) {
		tr_pool *p = tr_test_pool_new(3, tr_test_pool_methods[mi], 0);
		int64_t  vals[60];
		tr_pool_item    items[60];
		tr_pool_result *r  = NULL;
		struct counts   c  = { 0 };
		tr_pool_cb      cb = { on_ok, on_err, &c };
		tr_pool_stats   st;
		int64_t         x = -3;

		for (int i = 0; i < 60; i++) {
			vals[i] = i == 41 || i == 17 || i == 18 ? -i : i;
		}
		tr_test_pool_items(items, vals, 60);
		TR_ASSERT_OK(
		    tr_pool_map_async(p, "neg_fails", items, 60, 4, &cb, &r));
		TR_ASSERT_ERR(tr_pool_result_get(r, TR_TEST_HANG_MS), -EDOM);
		TR_ASSERT_OK(tr_pool_stats_get(p, &st));
		assert_int_equal(st.tasks_done, 15); /* every chunk ended */
		assert_int_equal(tr_pool_result_failed_index(r), 17);
		assert_string_equal(
		    tr_pool_result_error_text(r), "negative item -17");
		assert_int_equal(tr_pool_result_count(r), 0);
		assert_null(tr_pool_result_data(r, 0, NULL));
		assert_int_equal(c.err, 1);
		assert_int_equal(c.last_err, -EDOM);
		assert_int_equal(c.ok, 0);
		tr_pool_result_destroy(&r);

		/* apply's failure, then the pool still serves */
		TR_ASSERT_ERR(tr_pool_apply(p, "neg_fails", &x, sizeof(x), &r,
		                  TR_TEST_HANG_MS),
		    -EDOM);
		assert_null(r);
		TR_ASSERT_ERR(tr_pool_apply(p, "nosuchfn", &x, sizeof(x), &r,
		                  TR_TEST_HANG_MS),
		    TR_ENOACTOR);
		x = 5;
		TR_ASSERT_OK(
		    tr_pool_apply(p, "sq", &x, sizeof(x), &r, TR_TEST_HANG_MS));
		assert_int_equal(tr_test_pool_i64(r, 0), 25);
		tr_pool_result_destroy(&r);
		tr_pool_destroy(&p);
		no_children_left();
	}
}

/* get(timeout) on a task still running times out (Python's
 * TimeoutError) and works later; successful() before ready is an error. */
static void
test_get_timeout(void **state)
{
	tr_pool        *p  = tr_test_pool_new(1, TR_TEST_POOL_FORK, 0);
	int32_t         ms = 400;
	tr_pool_result *r  = NULL;

	TR_ASSERT_OK(
	    tr_pool_apply_async(p, "sleep_ms", &ms, sizeof(ms), NULL, &r));
	TR_ASSERT_ERR(tr_pool_result_get(r, 50), -ETIMEDOUT);
	TR_ASSERT_ERR(tr_pool_result_get(r, 0), -EAGAIN);
	assert_false(tr_pool_result_ready(r));
	TR_ASSERT_ERR(tr_pool_result_successful(r), -EBUSY);
	TR_ASSERT_ERR(tr_pool_result_error(r), -EBUSY);
	TR_ASSERT_ERR(tr_pool_result_wait(r, -5), -EINVAL);
	TR_ASSERT_OK(tr_pool_result_get(r, TR_TEST_HANG_MS));
	assert_int_equal(tr_pool_result_successful(r), 1);
	tr_pool_result_destroy(&r);
	tr_pool_destroy(&p);
	no_children_left();
}

struct reenter {
	tr_pool        *p;
	tr_pool_result *other, *more;
	int             get_rc, submit_rc;
};

static void
reenter_cb(tr_pool_result *r, void *arg)
{
	struct reenter *re = arg;
	int64_t         x  = 2;

	re->get_rc = tr_pool_result_get(re->other, 1000);
	re->submit_rc =
	    tr_pool_apply_async(re->p, "sq", &x, sizeof(x), NULL, &re->more);
}

/* A callback may submit work but not wait on the pool (-EDEADLK); a
 * result the caller holds outlives the pool, failed with TR_ESHUTDOWN. */
static void
test_callback_reentry(void **state)
{
	tr_pool        *p  = tr_test_pool_new(2, TR_TEST_POOL_FORK, 0);
	struct reenter  re = { p, NULL, NULL, 1, 1 };
	tr_pool_cb      cb = { reenter_cb, reenter_cb, &re };
	tr_pool_result *r = NULL, *slow = NULL;
	int64_t         x  = 4;
	int32_t         ms = 60000;

	TR_ASSERT_OK(tr_pool_apply_async(
	    p, "sleep_ms", &ms, sizeof(ms), NULL, &re.other));
	TR_ASSERT_OK(tr_pool_apply_async(p, "sq", &x, sizeof(x), &cb, &r));
	/* one worker sleeps, the other answers */
	TR_ASSERT_OK(tr_pool_result_get(r, TR_TEST_HANG_MS));
	TR_ASSERT_ERR(re.get_rc, -EDEADLK);
	TR_ASSERT_OK(re.submit_rc);
	assert_non_null(re.more); /* queued (maybe behind the sleeper) */
	slow = re.other;
	tr_pool_destroy(&p);
	TR_ASSERT_ERR(tr_pool_result_get(slow, 0), TR_ESHUTDOWN);
	tr_pool_result_destroy(&slow);
	tr_pool_result_destroy(&r);
	tr_pool_result_destroy(&re.more);
	no_children_left();
}
/* join before close is an error; use after close is a clear error;
 * close lets submitted tasks finish. */
static void
test_close_join(void **state)
{
	tr_pool        *p  = tr_test_pool_new(2, TR_TEST_POOL_FORK, 0);
	int32_t         ms = 20;
	tr_pool_result *r[6];

	TR_ASSERT_ERR(tr_pool_join(p, 0), -EBUSY);
	for (int i = 0; i < 6; i++) {
		TR_ASSERT_OK(tr_pool_apply_async(
		    p, "sleep_ms", &ms, sizeof(ms), NULL, &r[i]));
	}
	TR_ASSERT_OK(tr_pool_close(p));
	TR_ASSERT_ERR(
	    tr_pool_apply_async(p, "sleep_ms", &ms, sizeof(ms), NULL, NULL),
	    TR_ESHUTDOWN);
	TR_ASSERT_OK(tr_pool_join(p, TR_TEST_HANG_MS));
	for (int i = 0; i < 6; i++) {
		assert_true(tr_pool_result_ready(r[i]));
		TR_ASSERT_OK(tr_pool_result_get(r[i], 0));
		tr_pool_result_destroy(&r[i]);
	}
	no_children_left();
	TR_ASSERT_OK(tr_pool_join(p, 0)); /* again */
	TR_ASSERT_ERR(tr_pool_map(p, "sq", NULL, 0, 0, &r[0], 0), TR_ESHUTDOWN);
	tr_pool_destroy(&p);
}

/* terminate with thousands of tasks queued and every worker busy: it is
 * prompt, every task fails with TR_ESHUTDOWN (error_callback once
 * each), and no worker stays. */
static void
test_terminate_busy(void **state)
{
	for (int mi = 0; mi < 3; mi++) {
		tr_pool *p  = tr_test_pool_new(2, tr_test_pool_methods[mi], 0);
		int32_t  ms = 100000;
		struct counts   c    = { 0 };
		tr_pool_cb      cb   = { on_ok, on_err, &c };
		tr_pool_result *last = NULL;
		int64_t         t0;

		for (int i = 0; i < 3000; i++) {
			TR_ASSERT_OK(tr_pool_apply_async(p, "sleep_ms", &ms,
			    sizeof(ms), &cb, i == 2999 ? &last : NULL));
		}
		TR_ASSERT_ERR(tr_pool_result_get(last, 100), -ETIMEDOUT);
		t0 = tr_test_now_ms();
		TR_ASSERT_OK(tr_pool_terminate(p));
		TR_ASSERT_OK(tr_pool_join(p, TR_TEST_HANG_MS));
		/* a hang guard, not a speed test: the workers sleep 100 s */
		assert_true(tr_test_now_ms() - t0 < 20000);
		assert_int_equal(c.err, 3000);
		assert_int_equal(c.ok, 0);
		assert_int_equal(c.last_err, TR_ESHUTDOWN);
		TR_ASSERT_ERR(tr_pool_result_get(last, 0), TR_ESHUTDOWN);
		assert_string_equal(
		    tr_pool_result_error_text(last), "pool terminated");
		tr_pool_result_destroy(&last);
		no_children_left();
		tr_pool_destroy(&p);
	}
}

/* The initializer runs in every worker with its arguments; one that
 * fails fails the pool's start and leaves no process behind. */
static void
test_initializer(void **state)
{
	for (int mi = 0; mi < 3; mi++) {
		tr_pool_opts    o = { .processes = 2,
			   .start_method         = tr_test_pool_methods[mi],
			   .initializer          = "set_val",
			   .initargs             = "hello",
			   .initargs_len         = 5 };
		tr_pool        *p = NULL;
		tr_pool_result *r = NULL;
		size_t          len;
		const char     *d;

		TR_ASSERT_OK(tr_pool_new(&p, &o));
		TR_ASSERT_OK(
		    tr_pool_apply(p, "init_val", NULL, 0, &r, TR_TEST_HANG_MS));
		d = tr_pool_result_data(r, 0, &len);
		assert_int_equal(len, 5);
		assert_memory_equal(d, "hello", 5);
		tr_pool_result_destroy(&r);
		tr_pool_destroy(&p);

		o.initializer = "init_fails";
		TR_ASSERT_ERR(tr_pool_new(&p, &o), TR_ESTARTFAIL);
		assert_null(p);
		no_children_left();
		o.initializer = "no_such_initializer";
		TR_ASSERT_ERR(tr_pool_new(&p, &o), TR_ENOACTOR);
	}
}

/* A worker that dies (SIGKILL, SIGSEGV, exit(3)) holding a task: with no
 * retries the task fails with TR_EDEAD naming the pid and how it died;
 * the worker is replaced and the pool serves on.  With retries, a task
 * whose first run killed its worker succeeds on the second. */
static void
test_worker_death(void **state)
{
	static const char *const how[] = { "killed by signal 9",
		"killed by signal 11", "exited with code 3" };

	for (int mi = 0; mi < 3; mi++) {
		tr_pool *p = tr_test_pool_new(2, tr_test_pool_methods[mi], 0);
		tr_pool_result *r = NULL;
		tr_pool_stats   st;
		char            path[256];
		int64_t         x = 6;

		for (int32_t k = 1; k <= 3; k++) {
			TR_ASSERT_OK(tr_pool_apply_async(
			    p, "die", &k, sizeof(k), NULL, &r));
			TR_ASSERT_ERR(
			    tr_pool_result_get(r, TR_TEST_HANG_MS), TR_EDEAD);
			assert_non_null(
			    strstr(tr_pool_result_error_text(r), how[k - 1]));
			assert_non_null(strstr(
			    tr_pool_result_error_text(r), "pool worker "));
			tr_pool_result_destroy(&r);
		}
		TR_ASSERT_OK(
		    tr_pool_apply(p, "sq", &x, sizeof(x), &r, TR_TEST_HANG_MS));
		assert_int_equal(tr_test_pool_i64(r, 0), 36);
		tr_pool_result_destroy(&r);
		TR_ASSERT_OK(tr_pool_stats_get(p, &st));
		assert_int_equal(st.workers_died, 3);
		assert_int_equal(st.workers_started, 5);
		tr_pool_destroy(&p);

		p = tr_test_pool_new(2, tr_test_pool_methods[mi], 1);
		snprintf(
		    path, sizeof(path), "%s/die-once-%d", tr_runtime_dir(), mi);
		TR_ASSERT_OK(tr_pool_apply(
		    p, "die_once", path, strlen(path), &r, TR_TEST_HANG_MS));
		TR_ASSERT_OK(tr_pool_stats_get(p, &st));
		assert_int_equal(st.tasks_retried, 1);
		tr_pool_result_destroy(&r);
		(void) unlink(path);
		tr_pool_destroy(&p);
		no_children_left();
	}
}

/* maxtasksperchild: each worker runs at most that many tasks and is
 * replaced; no task is lost or stranded, with a backlog larger than the
 * pool and the pool closed at once. */
static void
test_maxtasksperchild(void **state)
{
	for (int mi = 0; mi < 3; mi++) {
		int             n = mi == 0 ? 200 : 24;
		tr_pool_opts    o = { .processes = 2,
			   .start_method         = tr_test_pool_methods[mi],
			   .maxtasksperchild     = 2 };
		tr_pool        *p = NULL;
		tr_pool_result *r[200];
		int32_t         pids[200];
		tr_pool_stats   st;

		TR_ASSERT_OK(tr_pool_new(&p, &o));
		for (int i = 0; i < n; i++) {
			TR_ASSERT_OK(tr_pool_apply_async(
			    p, "pid", NULL, 0, NULL, &r[i]));
		}
		TR_ASSERT_OK(tr_pool_close(p));
		TR_ASSERT_OK(tr_pool_join(p, TR_TEST_HANG_MS));
		for (int i = 0; i < n; i++) {
			int same = 0;

			TR_ASSERT_OK(tr_pool_result_get(r[i], 0));
			pids[i] = tr_test_pool_i32(r[i], 0);
			for (int j = 0; j < i; j++) {
				same += pids[j] == pids[i];
			}
			assert_true(same < 2); /* at most 2 tasks per worker */
			tr_pool_result_destroy(&r[i]);
		}
		TR_ASSERT_OK(tr_pool_stats_get(p, &st));
		assert_int_equal(st.tasks_done, n);
		assert_int_equal(st.workers_died, 0);
		assert_true(st.workers_recycled >= (uint64_t) n / 2 - 2);
		tr_pool_destroy(&p);
		no_children_left();
	}
}

/* ---- imap ---- */

struct counter {
	int64_t next, limit; /* limit < 0: endless */
	int64_t fail_at;     /* make this item negative; -1 = none */
	int64_t err_at;      /* the input fails here; -1 = never */
	int64_t v;
};

static int
count_next(void *arg, tr_pool_item *ret)
{
	struct counter *c = arg;

	if (c->limit >= 0 && c->next >= c->limit) {
		return 0;
	}
	if (c->next == c->err_at) {
		return -EIO;
	}
	c->v      = c->next == c->fail_at ? -c->next : c->next;
	ret->data = &c->v;
	ret->len  = sizeof(c->v);
	c->next++;
	return 1;
}

static int64_t
as_i64(const void *d, size_t len)
{
	int64_t x;

	assert_int_equal(len, sizeof(x));
	memcpy(&x, d, sizeof(x));
	return x;
}

/* imap over an endless input keeps at most buffersize chunks in flight,
 * in order; imap_unordered gives every result once. */
static void
test_imap_bounded(void **state)
{
	for (int mi = 0; mi < 3; mi++) {
		tr_pool *p = tr_test_pool_new(2, tr_test_pool_methods[mi], 0);
		struct counter c  = { 0, -1, -1, -1, 0 };
		tr_pool_iter  *it = NULL;
		const void    *d;
		size_t         len;
		bool           seen[300] = { false };

		TR_ASSERT_OK(tr_pool_imap(p, "sq", count_next, &c, 3, 4, &it));
		for (int64_t i = 0; i < 1000; i++) {
			assert_int_equal(
			    tr_pool_iter_next(it, &d, &len, TR_TEST_HANG_MS),
			    1);
			assert_int_equal(as_i64(d, len), i * i);
			assert_int_equal(tr_pool_iter_index(it), i);
			/* the chunk being read and 4 in flight, no more */
			assert_true(c.next - i <= 5 * 3);
		}
		tr_pool_iter_destroy(&it);
		assert_null(it);

		c = (struct counter) { 0, 300, -1, -1, 0 };
		TR_ASSERT_OK(tr_pool_imap_unordered(
		    p, "neg_fails", count_next, &c, 2, 0, &it));
		for (int i = 0; i < 300; i++) {
			int64_t x;

			assert_int_equal(
			    tr_pool_iter_next(it, &d, &len, TR_TEST_HANG_MS),
			    1);
			x = as_i64(d, len);
			assert_int_equal(x, tr_pool_iter_index(it));
			assert_false(seen[x]);
			seen[x] = true;
		}
		assert_int_equal(tr_pool_iter_next(it, &d, &len, 0), 0);
		assert_int_equal(tr_pool_iter_next(it, &d, &len, 0), 0);
		tr_pool_iter_destroy(&it);
		tr_pool_destroy(&p);
		no_children_left();
	}
}

/* imap gives every result before the failing chunk, then the error,
 * then the end; an input that fails ends it after its results; an
 * iterator made before close still runs. */
static void
test_imap_failure(void **state)
{
	tr_pool       *p  = tr_test_pool_new(2, TR_TEST_POOL_FORK, 0);
	struct counter c  = { 0, 50, 23, -1, 0 };
	tr_pool_iter  *it = NULL;
	const void    *d;
	size_t         len;
	int            r;

	TR_ASSERT_OK(tr_pool_imap(p, "neg_fails", count_next, &c, 5, 0, &it));
	for (int64_t i = 0; i < 20; i++) {
		assert_int_equal(
		    tr_pool_iter_next(it, &d, &len, TR_TEST_HANG_MS), 1);
		assert_int_equal(as_i64(d, len), i);
	}
	r = tr_pool_iter_next(it, &d, &len, TR_TEST_HANG_MS);
	TR_ASSERT_ERR(r, -EDOM);
	assert_int_equal(tr_pool_iter_index(it), 23);
	assert_string_equal(tr_pool_iter_error_text(it), "negative item -23");
	assert_int_equal(tr_pool_iter_next(it, &d, &len, 0), 0);
	tr_pool_iter_destroy(&it);

	c = (struct counter) { 0, -1, -1, 10, 0 };
	TR_ASSERT_OK(tr_pool_imap(p, "sq", count_next, &c, 4, 0, &it));
	TR_ASSERT_OK(tr_pool_close(p));
	TR_ASSERT_ERR(
	    tr_pool_imap(p, "sq", count_next, &c, 4, 0, NULL), -EINVAL);
	for (int64_t i = 0; i < 10; i++) {
		assert_int_equal(
		    tr_pool_iter_next(it, &d, &len, TR_TEST_HANG_MS), 1);
		assert_int_equal(as_i64(d, len), i * i);
	}
	TR_ASSERT_ERR(tr_pool_iter_next(it, &d, &len, TR_TEST_HANG_MS), -EIO);
	tr_pool_iter_destroy(&it);
	TR_ASSERT_OK(tr_pool_join(p, TR_TEST_HANG_MS));
	tr_pool_destroy(&p);
	no_children_left();
}

static tr_pool *thread_pool;

static void *
make_pool(void *arg)
{
	*(int *) arg = tr_pool_new(&thread_pool,
	    &(tr_pool_opts) {
	        .processes = 2,
	    });
	return NULL;
}

/* A pool made by a thread that has ended: its workers are the process's
 * children, and the pool serves the main thread. */
static void
test_made_by_a_thread_that_ended(void **state)
{
	pthread_t t;
	int       r     = -1;
	int64_t   in[5] = { 1, 2, 3, 4, 5 }, out[5];

	assert_int_equal(pthread_create(&t, NULL, make_pool, &r), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	TR_ASSERT_OK(r);
	usleep(1500 * 1000);
	TR_ASSERT_OK(tr_pool_map_int64(
	    thread_pool, "sq", in, out, 5, 0, TR_TEST_HANG_MS));
	assert_int_equal(out[4], 25);
	TR_ASSERT_OK(tr_pool_close(thread_pool));
	TR_ASSERT_OK(tr_pool_join(thread_pool, TR_TEST_HANG_MS));
	tr_pool_destroy(&thread_pool);
	no_children_left();
}

/* Typed maps: int64 and double arrays in and out; a function whose
 * results are not 8 bytes is TR_EBADTYPE and leaves out alone. */
static void
test_typed_maps(void **state)
{
	tr_pool *p = tr_test_pool_new(2, TR_TEST_POOL_FORK, 0);
	int64_t  in[1000], out[1000];
	double   din[10], dout[10];

	for (int i = 0; i < 1000; i++) {
		in[i] = i - 500;
	}
	TR_ASSERT_OK(
	    tr_pool_map_int64(p, "sq", in, out, 1000, 0, TR_TEST_HANG_MS));
	for (int i = 0; i < 1000; i++) {
		assert_int_equal(out[i], (int64_t) (i - 500) * (i - 500));
	}
	TR_ASSERT_OK(
	    tr_pool_map_int64(p, "sq", in, in, 10, 3, TR_TEST_HANG_MS));
	assert_int_equal(in[9], 491 * 491);
	for (int i = 0; i < 10; i++) {
		din[i] = i;
	}
	TR_ASSERT_OK(
	    tr_pool_map_double(p, "half", din, dout, 10, 0, TR_TEST_HANG_MS));
	assert_true(dout[3] == 1.5);
	out[0] = 77;
	TR_ASSERT_ERR(
	    tr_pool_map_int64(p, "pid", in, out, 5, 0, TR_TEST_HANG_MS),
	    TR_EBADTYPE);
	assert_int_equal(out[0], 77);
	TR_ASSERT_OK(tr_pool_map_int64(p, "sq", NULL, NULL, 0, 0, 0));
	tr_pool_destroy(&p);
}

/* starmap: tuples of arguments; a result that cannot be sent fails its
 * task with TR_ETOOBIG and the pool serves on. */
static void
test_starmap_and_toobig(void **state)
{
	tr_pool        *p = tr_test_pool_new(2, TR_TEST_POOL_FORK, 0);
	int64_t         v[20];
	tr_pool_item    args[20], bad[2];
	tr_pool_result *r = NULL;
	int64_t         x = 3;

	for (int i = 0; i < 20; i++) {
		v[i]         = i;
		args[i].data = &v[i];
		args[i].len  = sizeof(v[i]);
	}
	TR_ASSERT_OK(
	    tr_pool_starmap(p, "add", args, 10, 2, 3, &r, TR_TEST_HANG_MS));
	for (int i = 0; i < 10; i++) {
		assert_int_equal(tr_test_pool_i64(r, (size_t) i), 4 * i + 1);
	}
	tr_pool_result_destroy(&r);
	bad[0] = args[0];
	bad[1] = (tr_pool_item) { "x", 1 };
	TR_ASSERT_OK(tr_pool_starmap_async(p, "add", bad, 1, 2, 0, NULL, &r));
	TR_ASSERT_ERR(tr_pool_result_get(r, TR_TEST_HANG_MS), -EINVAL);
	assert_string_equal(
	    tr_pool_result_error_text(r), "add takes two int64s");
	tr_pool_result_destroy(&r);
	/* a plain item is no tuple */
	TR_ASSERT_ERR(
	    tr_pool_apply(p, "add", &x, sizeof(x), &r, TR_TEST_HANG_MS),
	    TR_EBADFRAME);
	TR_ASSERT_ERR(tr_pool_starmap(p, "add", args, 1, 0, 0, &r, 0), -EINVAL);

	TR_ASSERT_OK(tr_pool_apply_async(p, "toobig", NULL, 0, NULL, &r));
	TR_ASSERT_ERR(tr_pool_result_get(r, TR_TEST_HANG_MS), TR_ETOOBIG);
	assert_non_null(strstr(tr_pool_result_error_text(r), "maximum"));
	tr_pool_result_destroy(&r);
	TR_ASSERT_OK(
	    tr_pool_apply(p, "sq", &x, sizeof(x), &r, TR_TEST_HANG_MS));
	assert_int_equal(tr_test_pool_i64(r, 0), 9);
	tr_pool_result_destroy(&r);
	tr_pool_destroy(&p);
}

/* Calls from a fork child on its parent's pool: -ECHILD; bad arguments. */
static void
test_bad_calls(void **state)
{
	tr_pool     *p = NULL;
	tr_pool_opts o = { .processes = -1 };
	int64_t      x = 1;

	TR_ASSERT_ERR(tr_pool_new(&p, &o), -EINVAL);
	TR_ASSERT_ERR(tr_pool_new(NULL, NULL), -EINVAL);
	p = tr_test_pool_new(1, TR_TEST_POOL_FORK, 0);
	TR_ASSERT_ERR(tr_pool_apply_async(p, NULL, &x, 1, NULL, NULL), -EINVAL);
	TR_ASSERT_ERR(
	    tr_pool_apply_async(p, "sq", NULL, 1, NULL, NULL), -EINVAL);
	TR_ASSERT_ERR(tr_pool_join(p, -7), -EINVAL);
	tr_pool_destroy(&p);
	tr_pool_destroy(&p); /* idempotent */
	tr_pool_result_destroy(NULL);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_map_and_apply),
		cmocka_unit_test(test_made_by_a_thread_that_ended),
		cmocka_unit_test(test_map_first_failure),
		cmocka_unit_test(test_get_timeout),
		cmocka_unit_test(test_close_join),
		cmocka_unit_test(test_terminate_busy),
		cmocka_unit_test(test_initializer),
		cmocka_unit_test(test_worker_death),
		cmocka_unit_test(test_maxtasksperchild),
		cmocka_unit_test(test_imap_bounded),
		cmocka_unit_test(test_imap_failure),
		cmocka_unit_test(test_typed_maps),
		cmocka_unit_test(test_starmap_and_toobig),
		cmocka_unit_test(test_callback_reentry),
		cmocka_unit_test(test_bad_calls),
	};

	TR_ASSERT_OK(tr_init(argc, argv));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
