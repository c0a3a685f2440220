/* SPDX-License-Identifier: MIT */
/* simple_one_for_one as OTP has it: count_children's specs is 1, a spec
 * is refused, restart_child is not supported, terminating an instance
 * that already ended is fine; its instances stop together (one shutdown
 * wait, not one each); and the supervisor keeps one copy of each
 * instance's arguments. */
#include "tr-test-sup.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void
test_simple_counts_and_calls(void **state)
{
	tr_child_spec tmpl =
	    tr_test_sup_child("w", "sleeper", TR_RESTART_PERMANENT);
	tr_child_spec other =
	    tr_test_sup_child("x", "sleeper", TR_RESTART_PERMANENT);
	tr_supervisor *s =
	    tr_test_sup_start(TR_SUP_SIMPLE_ONE_FOR_ONE, 5, &tmpl, 1);
	tr_child_counts cnt;
	tr_child_info   ci;

	for (int i = 0; i < 3; i++) {
		TR_ASSERT_OK(tr_supervisor_start_simple(s, NULL, 0, &ci, 5000));
	}
	TR_ASSERT_OK(tr_supervisor_count_children(s, &cnt, 5000));
	assert_int_equal(cnt.specs, 1); /* the template */
	assert_int_equal(cnt.active, 3);
	assert_int_equal(cnt.workers, 3);
	assert_int_equal(cnt.supervisors, 0);
	/* a spec has no place here; nor has restart_child */
	TR_ASSERT_ERR(
	    tr_supervisor_start_child(s, &other, NULL, 5000), -EOPNOTSUPP);
	TR_ASSERT_ERR(
	    tr_supervisor_restart_child(s, "w.1", NULL, 5000), -EOPNOTSUPP);
	/* terminating an instance that is gone is fine (OTP: ok) */
	TR_ASSERT_OK(tr_supervisor_terminate_child(s, "w.1", 5000));
	TR_ASSERT_OK(tr_supervisor_terminate_child(s, "w.1", 5000));
	TR_ASSERT_ERR(
	    tr_supervisor_terminate_child(s, "w.9", 5000), TR_ENOTFOUND);
	TR_ASSERT_ERR(
	    tr_supervisor_terminate_child(s, "w.01", 5000), TR_ENOTFOUND);
	TR_ASSERT_ERR(
	    tr_supervisor_terminate_child(s, "x", 5000), TR_ENOTFOUND);
	TR_ASSERT_OK(tr_supervisor_count_children(s, &cnt, 5000));
	assert_int_equal(cnt.specs, 1);
	assert_int_equal(cnt.active, 2);
	TR_ASSERT_OK(tr_supervisor_stop(s, TR_TEST_HANG_MS));
	tr_test_sup_untrack(&s);
}

/* Six instances that ignore SIGTERM, 2000 ms shutdown each: they all get
 * SIGTERM at once and share one wait, so the stop takes about 2 s, not 12
 * (the bound below only tells the two apart). */
static void
test_simple_instances_stop_together(void **state)
{
	char          mark[128];
	tr_child_spec tmpl =
	    tr_test_sup_child("w", "stubborn", TR_RESTART_PERMANENT);
	tr_supervisor *s;
	pid_t          pids[6];
	int64_t        t0, dt;

	snprintf(mark, sizeof(mark), "%s/terms", tr_test_sup_dir);
	tmpl.args        = mark;
	tmpl.len         = strlen(mark);
	tmpl.shutdown_ms = 2000;
	s = tr_test_sup_start(TR_SUP_SIMPLE_ONE_FOR_ONE, 5, &tmpl, 1);
	for (int i = 0; i < 6; i++) {
		tr_child_info ci;

		TR_ASSERT_OK(tr_supervisor_start_simple(s, NULL, 0, &ci, 5000));
		pids[i] = ci.pid;
	}
	t0 = tr_test_now_ms();
	TR_ASSERT_OK(tr_supervisor_stop(s, TR_TEST_HANG_MS));
	dt = tr_test_now_ms() - t0;
	print_message(
	    "6 x 2000 ms shutdown: stopped in %lld ms\n", (long long) dt);
	assert_true(dt >= 1990); /* each got its time */
	assert_true(dt < 8000);  /* one wait, not six in turn (12 s) */
	for (int i = 0; i < 6; i++) {
		assert_false(tr_test_pid_alive(pids[i]));
	}
	assert_int_equal(tr_test_sup_file_size(mark), 6); /* one SIGTERM each */
	tr_test_sup_untrack(&s);
}

#define NARGS   300
#define ARGS_KB 32

/* 300 running temporary instances with 32 KiB of arguments each: the
 * supervisor's memory grows by about one copy of the arguments (the
 * process handles keep none), not 2.3 copies. */
static void
test_one_copy_of_the_args(void **state)
{
#if defined(__SANITIZE_ADDRESS__)
	skip(); /* ASan's quarantine and redzones make RSS meaningless */
#else
	tr_child_spec tmpl =
	    tr_test_sup_child("w", "sleeper", TR_RESTART_TEMPORARY);
	tr_supervisor *s;
	char          *extra = malloc(ARGS_KB * 1024);
	long           rss0, rss1, args_kb = (long) NARGS * ARGS_KB;

	assert_non_null(extra);
	memset(extra, 'a', ARGS_KB * 1024);
	tmpl.shutdown_ms = TR_SHUTDOWN_BRUTAL_KILL;
	s = tr_test_sup_start(TR_SUP_SIMPLE_ONE_FOR_ONE, 5, &tmpl, 1);
	/* warm up: the allocator's and the mailbox's first buffers */
	for (int i = 0; i < 10; i++) {
		TR_ASSERT_OK(tr_supervisor_start_simple(
		    s, extra, ARGS_KB * 1024, NULL, 10000));
	}
	for (int i = 1; i <= 10; i++) {
		char id[16];

		snprintf(id, sizeof(id), "w.%d", i);
		TR_ASSERT_OK(tr_supervisor_terminate_child(s, id, 10000));
	}
	rss0 = tr_test_rss_kb(tr_supervisor_pid(s));
	for (int i = 0; i < NARGS; i++) {
		TR_ASSERT_OK(tr_supervisor_start_simple(
		    s, extra, ARGS_KB * 1024, NULL, 10000));
	}
	rss1 = tr_test_rss_kb(tr_supervisor_pid(s));
	print_message("supervisor RSS %ld -> %ld kB for %ld kB of args "
	              "(%.2fx)\n",
	    rss0, rss1, args_kb, (double) (rss1 - rss0) / (double) args_kb);
	assert_true(rss0 > 0 && rss1 > 0);
	assert_true(rss1 - rss0 < args_kb * 16 / 10);
	TR_ASSERT_OK(tr_supervisor_stop(s, TR_TEST_HANG_MS));
	tr_test_sup_untrack(&s);
	free(extra);
#endif
}

int
main(int argc, char **argv)
{
#define T(f) cmocka_unit_test_teardown(f, tr_test_sup_kill_leftovers)
	const struct CMUnitTest tests[] = {
		T(test_simple_counts_and_calls),
		T(test_simple_instances_stop_together),
		T(test_one_copy_of_the_args),
	};
#undef T

	if (tr_init(argc, argv) < 0) {
		return 99;
	}
	return cmocka_run_group_tests_name("supervisor-dynamic", tests,
	    tr_test_sup_setup, tr_test_sup_teardown);
}
