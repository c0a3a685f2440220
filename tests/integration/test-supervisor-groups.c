/* SPDX-License-Identifier: MIT */
/* Group restarts (one_for_all, rest_for_one) as OTP does them: in order,
 * each child once the one before it is up; a restart that fails stops
 * what the round started (one_for_all) and the group is tried again,
 * counting against the intensity; rest_for_one's terminate_child stops the
 * dependants; during a restart loop restart_child and delete_child answer
 * TR_ERESTARTING and which_children tells restarting from stopped. */
#include "tr-test-sup.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- actors (forked children: no cmocka here) ---------------------------- */

/* args "dir|name|b": appends "name " to dir/attempts at each start; with
 * b = '1' its start fails while dir/block exists; then it runs. */
static int
attempt(const void *args, size_t len)
{
	char buf[256], path[300], *name, *flag;
	int  fd;

	snprintf(buf, sizeof(buf), "%s", (const char *) args);
	name = strchr(buf, '|');
	flag = name ? strchr(name + 1, '|') : NULL;
	if (!flag) {
		return 2;
	}
	*name++ = '\0';
	*flag++ = '\0';
	snprintf(path, sizeof(path), "%s/attempts", buf);
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	(void) !write(fd, name, strlen(name));
	(void) !write(fd, " ", 1);
	close(fd);
	snprintf(path, sizeof(path), "%s/block", buf);
	if (flag[0] == '1' && access(path, F_OK) == 0) {
		return tr_fail(-EAGAIN, "blocked");
	}
	(void) tr_ready();
	for (;;) {
		pause();
	}
	return 0;
}
TR_ACTOR_FLAGS(attempt, attempt, TR_ACTOR_MANUAL_READY)

/* ---- helpers ------------------------------------------------------------- */

static char args[3][256];

/* Three attempt children a, b, c; b's start fails while dir/block exists.
 * Backoff 100..200 ms, so a restart loop gives the test time to look. */
static tr_supervisor *
start_abc(int strategy, int intensity)
{
	static const char *ids[3] = { "a", "b", "c" };
	tr_child_spec      cs[3];
	tr_sup_spec        spec = { .strategy = strategy,
		       .intensity             = intensity,
		       .period_ms             = 10000,
		       .backoff_min_ms        = 100,
		       .backoff_max_ms        = 200,
		       .children              = cs,
		       .nchildren             = 3,
		       .quiet                 = getenv("TROUPE_LOG") == NULL };
	tr_supervisor     *s;

	for (int i = 0; i < 3; i++) {
		snprintf(args[i], sizeof(args[i]), "%s|%s|%d", tr_test_sup_dir,
		    ids[i], i == 1);
		cs[i] = (tr_child_spec) { .id = ids[i], .actor = "attempt" };
		cs[i].args = args[i];
		cs[i].len  = strlen(args[i]);
	}
	TR_ASSERT_OK(tr_supervisor_start(&s, &spec, 10000));
	return tr_test_sup_track(s);
}

static void
set_block(bool on)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/block", tr_test_sup_dir);
	if (on) {
		close(open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
	} else {
		unlink(path);
	}
}

/* How many times child name has been started (attempts file). */
static int
attempts(const char *name)
{
	char  path[128], word[16];
	FILE *f;
	int   n = 0;

	snprintf(path, sizeof(path), "%s/attempts", tr_test_sup_dir);
	f = fopen(path, "r");
	while (f && fscanf(f, "%15s", word) == 1) {
		n += strcmp(word, name) == 0;
	}
	if (f) {
		fclose(f);
	}
	return n;
}

static void
wait_attempts(const char *name, int n)
{
	for (int t = 0; t < TR_TEST_HANG_MS && attempts(name) < n; t += 5) {
		usleep(5000);
	}
	assert_true(attempts(name) >= n);
}

static void
reset_attempts(void)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/attempts", tr_test_sup_dir);
	unlink(path);
	set_block(false);
}

/* ---- one_for_all -----------------------------------------------------------
 */

static void
test_one_for_all_failed_restart_restarts_group(void **state)
{
	tr_supervisor *s;
	pid_t          a;

	reset_attempts();
	s = start_abc(TR_SUP_ONE_FOR_ALL, 100);
	a = tr_test_sup_pid(s, "a");
	set_block(true);
	tr_test_sup_kill_wait(a, SIGKILL);
	/* b fails again and again: each round starts a again (it was
	 * stopped when b failed), and never starts c before b is up */
	wait_attempts("b", 4);
	assert_true(attempts("a") >= 3);
	assert_int_equal(attempts("c"), 1);
	set_block(false);
	tr_test_sup_wait_state(s, "c", TR_CHILD_RUNNING);
	tr_test_sup_wait_state(s, "a", TR_CHILD_RUNNING);
	tr_test_sup_wait_state(s, "b", TR_CHILD_RUNNING);
	assert_false(tr_test_pid_alive(a));
	TR_ASSERT_OK(tr_supervisor_stop(s, TR_TEST_HANG_MS));
	tr_test_sup_untrack(&s);
}

/* The failed attempts count against the intensity: the supervisor gives
 * up, as shutdown. */
static void
test_failed_group_restarts_count(void **state)
{
	tr_supervisor *s;
	int            code;

	reset_attempts();
	s = start_abc(TR_SUP_ONE_FOR_ALL, 3);
	set_block(true);
	tr_test_sup_kill_wait(tr_test_sup_pid(s, "c"), SIGKILL);
	TR_ASSERT_OK(tr_supervisor_join(s, TR_TEST_HANG_MS));
	TR_ASSERT_OK(tr_supervisor_exitcode(s, &code));
	assert_int_equal(code, -SIGTERM);
	assert_int_equal(attempts("b"), 1 + 3); /* first start, 3 restarts */
	tr_test_sup_untrack(&s);
	set_block(false);
}

/* ---- rest_for_one ----------------------------------------------------------
 */

static void
test_rest_for_one_waits_for_the_earlier_child(void **state)
{
	tr_supervisor *s;
	tr_child_info *v;
	size_t         n;
	pid_t          a, c;

	reset_attempts();
	s = start_abc(TR_SUP_REST_FOR_ONE, 100);
	a = tr_test_sup_pid(s, "a");
	c = tr_test_sup_pid(s, "c");
	set_block(true);
	tr_test_sup_kill_wait(tr_test_sup_pid(s, "b"), SIGKILL);
	assert_true(tr_test_wait_gone(c, TR_TEST_HANG_MS)); /* dependant */
	wait_attempts("b", 4);
	/* c waits for b; a, before it, is untouched */
	assert_int_equal(attempts("c"), 1);
	assert_int_equal(tr_test_sup_pid(s, "a"), a);
	TR_ASSERT_OK(tr_supervisor_which_children(s, &v, &n, 5000));
	assert_int_equal(n, 3);
	assert_int_equal(v[1].state, TR_CHILD_RESTARTING);
	assert_int_equal(v[2].state, TR_CHILD_RESTARTING);
	assert_int_equal(v[2].pid, 0);
	free(v);
	/* OTP answers "restarting" to these */
	TR_ASSERT_ERR(
	    tr_supervisor_restart_child(s, "b", NULL, 5000), TR_ERESTARTING);
	TR_ASSERT_ERR(tr_supervisor_delete_child(s, "b", 5000), TR_ERESTARTING);
	/* terminating b ends its restart loop, and its dependant's */
	TR_ASSERT_OK(tr_supervisor_terminate_child(s, "b", 5000));
	TR_ASSERT_OK(tr_supervisor_which_children(s, &v, &n, 5000));
	assert_int_equal(v[1].state, TR_CHILD_STOPPED);
	assert_int_equal(v[2].state, TR_CHILD_STOPPED);
	free(v);
	set_block(false);
	usleep(500 * 1000); /* no restart is pending: nothing starts */
	assert_int_equal(attempts("c"), 1);
	assert_int_equal(tr_test_sup_pid(s, "a"), a);
	/* started again in order, by hand */
	TR_ASSERT_OK(tr_supervisor_restart_child(s, "b", NULL, 5000));
	TR_ASSERT_OK(tr_supervisor_restart_child(s, "c", NULL, 5000));
	TR_ASSERT_ERR(tr_supervisor_delete_child(s, "c", 5000), TR_ERUNNING);
	TR_ASSERT_OK(tr_supervisor_stop(s, TR_TEST_HANG_MS));
	tr_test_sup_untrack(&s);
}

static void
test_rest_for_one_terminate_stops_dependants(void **state)
{
	tr_supervisor *s;
	pid_t          a, b, c;

	reset_attempts();
	s = start_abc(TR_SUP_REST_FOR_ONE, 100);
	a = tr_test_sup_pid(s, "a");
	b = tr_test_sup_pid(s, "b");
	c = tr_test_sup_pid(s, "c");
	TR_ASSERT_OK(tr_supervisor_terminate_child(s, "b", TR_TEST_HANG_MS));
	assert_false(tr_test_pid_alive(b));
	assert_false(tr_test_pid_alive(c));
	assert_int_equal(tr_test_sup_pid(s, "c"), 0);
	assert_int_equal(tr_test_sup_pid(s, "a"), a);
	assert_int_equal(tr_test_sup_specs(s), 3); /* specs kept */
	TR_ASSERT_OK(tr_supervisor_stop(s, TR_TEST_HANG_MS));
	tr_test_sup_untrack(&s);
}

int
main(int argc, char **argv)
{
#define T(f) cmocka_unit_test_teardown(f, tr_test_sup_kill_leftovers)
	const struct CMUnitTest tests[] = {
		T(test_one_for_all_failed_restart_restarts_group),
		T(test_failed_group_restarts_count),
		T(test_rest_for_one_waits_for_the_earlier_child),
		T(test_rest_for_one_terminate_stops_dependants),
	};
#undef T

	if (tr_init(argc, argv) < 0) {
		return 99;
	}
	return cmocka_run_group_tests_name("supervisor-groups", tests,
	    tr_test_sup_setup, tr_test_sup_teardown);
}
