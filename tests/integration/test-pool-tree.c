/* SPDX-License-Identifier: MIT */
/* The pool as a child of a user's supervisor (tr_pool_child_spec()):
 * reached by name from the test and from another actor; a failing map's
 * error and index come back; bad calls are refused and the pool serves
 * on; killing the pool actor, or its pool's own supervisor, gets it
 * restarted by the user's supervisor with none of the old workers left;
 * stopping the tree stops the pool, failing a call in hand with
 * TR_ESHUTDOWN -- under fork, spawn and forkserver. */
#include "tr-test-pool.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <protobuf-c/protobuf-c.h>

#include "pool.pb-c.h"
#include "troupe/supervisor.h"

#define MAXD 64

/* Every live descendant of pid (forkservers included), breadth first. */
static int
descendants(pid_t pid, pid_t *out, int max)
{
	int n = 0;

	n = tr_test_children(pid, TR_TEST_CHILD_RUNNING, out, max);
	for (int i = 0; i < n && n < max; i++) {
		n += tr_test_children(
		    out[i], TR_TEST_CHILD_RUNNING, out + n, max - n);
	}
	return n;
}

/* The pool's own supervisor: the first descendant of the pool actor
 * (breadth first) that is not a forkserver -- its child, or its
 * forkserver's child when the actor starts it by the forkserver. */
static pid_t
inner_supervisor(pid_t actor)
{
	pid_t q[MAXD];
	int   n = 1;

	q[0] = actor;
	for (int i = 0; i < n; i++) {
		pid_t all[8], real[8];
		int na = tr_test_children(q[i], TR_TEST_CHILD_RUNNING, all, 8);
		int nr = tr_test_children(q[i],
		    TR_TEST_CHILD_RUNNING | TR_TEST_CHILD_NO_FORKSERVER, real,
		    8);

		if (nr > 0) {
			assert_int_equal(nr, 1);
			return real[0];
		}
		for (int k = 0; k < na && n < MAXD; k++) {
			q[n++] = all[k]; /* forkservers: look below them */
		}
	}
	fail_msg("no supervisor below the pool actor %d", (int) actor);
	return 0;
}

static void
expect_all_gone(const pid_t *pids, int n)
{
	for (int i = 0; i < n; i++) {
		assert_true(tr_test_wait_gone(pids[i], TR_TEST_HANG_MS));
	}
}

/* Wait until the user's supervisor runs child "pool" under a pid other
 * than old; its info in *ret. */
static void
wait_restarted(tr_supervisor *s, pid_t old, tr_child_info *ret)
{
	int64_t t0 = tr_test_now_ms();

	for (;;) {
		assert_int_equal(tr_test_child_info(s, "pool", ret), 1);
		if (ret->state == TR_CHILD_RUNNING && ret->pid != old &&
		    ret->pid != 0) {
			return;
		}
		assert_true(tr_test_now_ms() - t0 < TR_TEST_HANG_MS);
		usleep(10000);
	}
}

static void
expect_squares(const char *name, int n)
{
	int64_t in[200], out[200];

	for (int i = 0; i < n; i++) {
		in[i] = i - 50;
	}
	TR_ASSERT_OK(tr_pool_call_map_int64(
	    name, "sq", in, out, (size_t) n, 0, TR_TEST_HANG_MS));
	for (int i = 0; i < n; i++) {
		assert_int_equal(out[i], in[i] * in[i]);
	}
}

/* An actor that maps through the pool named by its argument: exit 0 if
 * the squares are right.  With a second word "slow", a map of 20 tasks
 * of 200 ms on the pool (stopped under it): exit 0 if it failed with
 * TR_ESHUTDOWN. */
static int
client_actor(const void *args, size_t len)
{
	char    name[64], mode[16] = "";
	int64_t in[10], out[10];
	int     r;

	(void) len;
	if (sscanf(args, "%63s %15s", name, mode) < 1) {
		return 3;
	}
	if (strcmp(mode, "slow") == 0) {
		int32_t         ms[20];
		tr_pool_item    items[20];
		tr_pool_result *res = NULL;

		for (int i = 0; i < 20; i++) {
			ms[i]    = 200;
			items[i] = (tr_pool_item) { &ms[i], sizeof(ms[i]) };
		}
		r = tr_pool_call_map(
		    name, "sleep_ms", items, 20, 1, &res, TR_TEST_HANG_MS);
		tr_pool_result_destroy(&res);
		return r == TR_ESHUTDOWN ? 0 : 4;
	}
	for (int i = 0; i < 10; i++) {
		in[i] = i + 1;
	}
	r = tr_pool_call_map_int64(name, "sq", in, out, 10, 3, TR_TEST_HANG_MS);
	if (r < 0) {
		return 2;
	}
	for (int i = 0; i < 10; i++) {
		if (out[i] != in[i] * in[i]) {
			return 5;
		}
	}
	return 0;
}
TR_ACTOR(pool_tree_client, client_actor)

static tr_process *
start_client(const char *name, const char *mode)
{
	char        args[128];
	tr_process *p = NULL;

	snprintf(args, sizeof(args), "%s %s", name, mode);
	TR_ASSERT_OK(
	    tr_process_new(&p, "pool_tree_client", args, strlen(args) + 1));
	TR_ASSERT_OK(tr_process_start(p, TR_TEST_HANG_MS));
	return p;
}

/* A failing map comes back with its error, text and index. */
static void
expect_failure(const char *name)
{
	int64_t         v[6] = { 1, 2, -3, 4, -5, 6 };
	tr_pool_item    items[6];
	tr_pool_result *r = NULL;

	tr_test_pool_items(items, v, 6);
	TR_ASSERT_ERR(tr_pool_call_map(
	                  name, "neg_fails", items, 6, 2, &r, TR_TEST_HANG_MS),
	    -EDOM);
	assert_non_null(r);
	assert_int_equal(tr_pool_result_error(r), -EDOM);
	assert_int_equal(tr_pool_result_failed_index(r), 2);
	assert_non_null(strstr(tr_pool_result_error_text(r), "item -3"));
	assert_int_equal(tr_pool_result_count(r), 0);
	tr_pool_result_destroy(&r);

	/* apply, and an unknown function */
	TR_ASSERT_OK(tr_pool_call_apply(
	    name, "sq", &v[2], sizeof(v[2]), &r, TR_TEST_HANG_MS));
	assert_int_equal(tr_test_pool_i64(r, 0), 9);
	tr_pool_result_destroy(&r);
	TR_ASSERT_ERR(tr_pool_call_apply(
	                  name, "no_such_fn", NULL, 0, &r, TR_TEST_HANG_MS),
	    TR_ENOACTOR);
	tr_pool_result_destroy(&r);
	/* no such pool */
	TR_ASSERT_ERR(tr_pool_call_apply(
	                  "no-such-pool", "sq", NULL, 0, &r, TR_TEST_HANG_MS),
	    TR_ENOTFOUND);
	assert_null(r);
}

/* Raw bad calls: refused with an answer, and the pool serves on. */
static void
expect_bad_calls_refused(const char *name)
{
	Trwire__PoolCall    c       = TRWIRE__POOL_CALL__INIT;
	Trwire__PoolResult *a       = NULL;
	uint32_t            lens[2] = { 4, 9 };
	tr_msg             *req = NULL, *rep = NULL;
	tr_addr             to;

	TR_ASSERT_OK(tr_whereis(name, &to));
	TR_ASSERT_OK(tr_msg_new_bytes(&req, "hello", 5));
	TR_ASSERT_OK(tr_call(to, &req, &rep, TR_TEST_HANG_MS));
	TR_ASSERT_OK(tr_msg_unpack(
	    rep, &trwire__pool_result__descriptor, (ProtobufCMessage **) &a));
	assert_int_equal(a->error, TR_EBADTYPE);
	trwire__pool_result__free_unpacked(a, NULL);
	tr_msg_destroy(&rep);

	/* lengths that do not add up to the data */
	c.fn        = "sq";
	c.data.data = (uint8_t *) "0123456789";
	c.data.len  = 10;
	c.lens      = lens;
	c.n_lens    = 2;
	TR_ASSERT_OK(tr_call_pb(to, &c.base, &trwire__pool_result__descriptor,
	    (ProtobufCMessage **) &a, TR_TEST_HANG_MS));
	assert_int_equal(a->error, TR_EBADFRAME);
	trwire__pool_result__free_unpacked(a, NULL);
	expect_squares(name, 100);
}

/* What a failed assertion leaves running, for the teardown to stop (the
 * process would otherwise wait for these children at exit). */
static tr_supervisor *S;
static tr_process    *CL;

static int
teardown(void **state)
{
	(void) state;
	tr_supervisor_destroy(&S);
	if (CL) {
		(void) tr_process_kill(CL);
		(void) tr_test_finish(&CL);
	}
	return 0;
}

static void
run_tree(int method)
{
	char          name[64];
	tr_child_spec c;
	tr_sup_spec   spec;
	void         *args = NULL;
	tr_child_info info;
	tr_pool_opts  o = { .processes = 2, .start_method = method };
	pid_t         d[MAXD], inner;
	int           nd, code;

	snprintf(name, sizeof(name), "tpool-%d-%d", (int) getpid(), method);
	TR_ASSERT_OK(tr_pool_child_spec(&c, "pool", name, &o, &args));
	c.start_method = method;
	tr_sup_spec_init(&spec);
	spec.strategy  = TR_SUP_ONE_FOR_ONE;
	spec.intensity = 10;
	spec.children  = &c;
	spec.nchildren = 1;
	TR_ASSERT_OK(tr_supervisor_start(&S, &spec, TR_TEST_HANG_MS));
	free(args);

	/* reached by name, from here and from another actor */
	expect_squares(name, 200);
	CL = start_client(name, "");
	assert_int_equal(tr_test_finish(&CL), 0);
	expect_failure(name);
	expect_bad_calls_refused(name);

	/* kill the pool actor: restarted, none of its subtree left */
	assert_int_equal(tr_test_child_info(S, "pool", &info), 1);
	nd = descendants(info.pid, d, MAXD);
	assert_true(nd >= 3); /* its pool's supervisor and 2 workers */
	TR_ASSERT_OK(kill(info.pid, SIGKILL));
	expect_all_gone(d, nd);
	wait_restarted(S, info.pid, &info);
	assert_int_equal(info.restarts, 1);
	expect_squares(name, 50);

	/* kill its pool's own supervisor: the actor exits 1, restarted */
	inner = inner_supervisor(info.pid);
	nd    = descendants(info.pid, d, MAXD);
	TR_ASSERT_OK(kill(inner, SIGKILL));
	expect_all_gone(d, nd);
	wait_restarted(S, info.pid, &info);
	assert_int_equal(info.restarts, 2);
	assert_int_equal(info.last_exitcode, 1);
	expect_squares(name, 50);

	/* stop the tree under a call in hand: it fails with TR_ESHUTDOWN
	 * and the pool's subtree is gone */
	nd      = descendants(info.pid, d, MAXD);
	d[nd++] = info.pid;
	CL      = start_client(name, "slow");
	usleep(300000);
	TR_ASSERT_OK(tr_supervisor_stop(S, TR_TEST_HANG_MS));
	expect_all_gone(d, nd);
	code = tr_test_finish(&CL);
	assert_int_equal(code, 0);
	tr_supervisor_destroy(&S);
}

static void
test_pool_in_a_tree(void **state)
{
	(void) state;
	for (int m = 0; m < 3; m++) {
		run_tree(tr_test_pool_methods[m]);
	}
}

static void
test_child_spec_bad_args(void **state)
{
	tr_child_spec c;
	void         *args = NULL;
	tr_pool_opts  o    = { .processes = -1 };
	char          longname[80];

	(void) state;
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	TR_ASSERT_ERR(tr_pool_child_spec(NULL, "p", "n", NULL, &args), -EINVAL);
	TR_ASSERT_ERR(tr_pool_child_spec(&c, NULL, "n", NULL, &args), -EINVAL);
	TR_ASSERT_ERR(tr_pool_child_spec(&c, "p", "n", NULL, NULL), -EINVAL);
	TR_ASSERT_ERR(
	    tr_pool_child_spec(&c, "p", longname, NULL, &args), -EINVAL);
	TR_ASSERT_ERR(tr_pool_child_spec(&c, "p", "n", &o, &args), -EINVAL);
	TR_ASSERT_ERR(
	    tr_pool_call_map(NULL, "sq", NULL, 0, 0, NULL, 0), -EINVAL);
	TR_ASSERT_ERR(
	    tr_pool_call_map_int64("n", "sq", NULL, NULL, 3, 0, 0), -EINVAL);
	TR_ASSERT_OK(tr_pool_child_spec(&c, "p", NULL, NULL, &args));
	assert_string_equal(c.actor, TR_POOL_ACTOR);
	assert_ptr_equal(c.args, args);
	free(args);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_child_spec_bad_args),
		cmocka_unit_test_teardown(test_pool_in_a_tree, teardown),
	};

	TR_ASSERT_OK(tr_init(argc, argv));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
