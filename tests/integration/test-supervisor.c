/* SPDX-License-Identifier: MIT */
/* Supervisor: strategies x restart types, transient exit codes, restart
 * intensity and escalation to the parent supervisor, brutal kill and
 * timeout shutdown, runtime calls, simple_one_for_one, backoff, start
 * failure, ordered shutdown on SIGTERM. */
#include "tr-test-sup.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- strategies x restart types ------------------------------------------ */

static tr_supervisor *
start_four(int strategy, pid_t pids[4])
{
	static const char *ids[4] = { "a", "b", "c", "d" };
	tr_child_spec      cs[4]  = {
		      tr_test_sup_child("a", "sleeper", TR_RESTART_PERMANENT),
		      tr_test_sup_child("b", "sleeper", TR_RESTART_TRANSIENT),
		      tr_test_sup_child("c", "sleeper", TR_RESTART_TEMPORARY),
		      tr_test_sup_child("d", "sleeper", TR_RESTART_PERMANENT),
	};
	tr_supervisor *s = tr_test_sup_start(strategy, 20, cs, 4);

	for (int i = 0; i < 4; i++) {
		pids[i] = tr_test_sup_pid(s, ids[i]);
		assert_true(pids[i] > 0);
	}
	return s;
}

static void
test_one_for_one(void **state)
{
	pid_t          p[4];
	tr_supervisor *s = start_four(TR_SUP_ONE_FOR_ONE, p);
	tr_child_info  ci;

	/* transient, abnormal death: restarted alone */
	tr_test_sup_kill_wait(p[1], SIGKILL);
	tr_test_sup_wait_new_pid(s, "b", p[1], 5000);
	assert_int_equal(tr_test_sup_pid(s, "a"), p[0]);
	assert_int_equal(tr_test_sup_pid(s, "c"), p[2]);
	assert_int_equal(tr_test_sup_pid(s, "d"), p[3]);
	assert_true(tr_test_sup_info(s, "b", &ci));
	assert_int_equal(ci.restarts, 1);
	assert_true(ci.exited);
	assert_int_equal(ci.last_exitcode, -SIGKILL);
	/* temporary: never restarted, removed */
	tr_test_sup_kill_wait(p[2], SIGKILL);
	for (int t = 0;
	     t < TR_TEST_HANG_MS / 10 && tr_test_sup_pid(s, "c") != -1; t++) {
		usleep(10000);
	}
	assert_int_equal(tr_test_sup_pid(s, "c"), -1);
	/* permanent, even after a shutdown-class death */
	tr_test_sup_kill_wait(p[0], SIGTERM);
	tr_test_sup_wait_new_pid(s, "a", p[0], 5000);
	assert_int_equal(tr_test_sup_pid(s, "d"), p[3]);
	assert_int_equal(tr_test_sup_specs(s), 3);
	TR_ASSERT_OK(tr_supervisor_stop(s, 10000));
	tr_test_sup_untrack(&s);
}

static void
test_one_for_all(void **state)
{
	pid_t          p[4], q;
	tr_supervisor *s = start_four(TR_SUP_ONE_FOR_ALL, p);

	tr_test_sup_kill_wait(p[1], SIGKILL);
	q = tr_test_sup_wait_new_pid(s, "d", p[3], 5000);
	assert_true(tr_test_wait_gone(p[0], TR_TEST_HANG_MS));
	assert_true(tr_test_wait_gone(p[2], TR_TEST_HANG_MS));
	assert_true(
	    tr_test_sup_pid(s, "a") > 0 && tr_test_sup_pid(s, "a") != p[0]);
	assert_true(
	    tr_test_sup_pid(s, "b") > 0 && tr_test_sup_pid(s, "b") != p[1]);
	assert_int_equal(
	    tr_test_sup_pid(s, "c"), -1); /* temporary: gone for good */
	assert_int_equal(tr_test_sup_specs(s), 3);
	/* a transient tr_test_sup_child ending normally sets off nothing */
	p[0] = tr_test_sup_pid(s, "a");
	tr_test_sup_kill_wait(tr_test_sup_pid(s, "b"), SIGTERM);
	/* once the supervisor has seen b end, a and d are still the same */
	for (int t = 0;
	     t < TR_TEST_HANG_MS / 10 && tr_test_sup_pid(s, "b") != 0; t++) {
		usleep(10000);
	}
	assert_int_equal(tr_test_sup_pid(s, "b"), 0);
	assert_int_equal(tr_test_sup_pid(s, "a"), p[0]);
	assert_int_equal(tr_test_sup_pid(s, "d"), q);
	TR_ASSERT_OK(tr_supervisor_stop(s, 10000));
	tr_test_sup_untrack(&s);
}

static void
test_rest_for_one(void **state)
{
	pid_t          p[4];
	tr_supervisor *s = start_four(TR_SUP_REST_FOR_ONE, p);

	tr_test_sup_kill_wait(p[1], SIGKILL);
	tr_test_sup_wait_new_pid(s, "d", p[3], 5000);
	assert_true(
	    tr_test_sup_pid(s, "b") > 0 && tr_test_sup_pid(s, "b") != p[1]);
	assert_int_equal(
	    tr_test_sup_pid(s, "a"), p[0]); /* before it: untouched */
	assert_int_equal(tr_test_sup_pid(s, "c"), -1);
	assert_true(tr_test_wait_gone(p[2], TR_TEST_HANG_MS));
	/* the last one dies: only it is restarted */
	p[0] = tr_test_sup_pid(s, "a");
	p[1] = tr_test_sup_pid(s, "b");
	p[3] = tr_test_sup_pid(s, "d");
	tr_test_sup_kill_wait(p[3], SIGKILL);
	tr_test_sup_wait_new_pid(s, "d", p[3], 5000);
	assert_int_equal(tr_test_sup_pid(s, "a"), p[0]);
	assert_int_equal(tr_test_sup_pid(s, "b"), p[1]);
	TR_ASSERT_OK(tr_supervisor_stop(s, 10000));
	tr_test_sup_untrack(&s);
}

static void
test_simple_one_for_one(void **state)
{
	static const int restarts[3] = { TR_RESTART_PERMANENT,
		TR_RESTART_TRANSIENT, TR_RESTART_TEMPORARY };

	for (int k = 0; k < 3; k++) {
		tr_child_spec  tmpl;
		tr_supervisor *s;
		tr_child_info  ci[3];
		pid_t          old;

		tmpl = tr_test_sup_child("w", "sleeper", restarts[k]);
		s = tr_test_sup_start(TR_SUP_SIMPLE_ONE_FOR_ONE, 20, &tmpl, 1);
		assert_int_equal(tr_test_sup_active(s), 0);
		for (int i = 0; i < 3; i++) {
			TR_ASSERT_OK(tr_supervisor_start_simple(
			    s, "x", 1, &ci[i], 5000));
			assert_true(ci[i].pid > 0);
		}
		assert_string_equal(ci[0].id, "w.1");
		assert_string_equal(ci[2].id, "w.3");
		TR_ASSERT_ERR(
		    tr_supervisor_delete_child(s, "w.1", 5000), -EOPNOTSUPP);
		/* killed: permanent and transient come back, temporary not */
		old = ci[1].pid;
		tr_test_sup_kill_wait(old, SIGKILL);
		if (restarts[k] == TR_RESTART_TEMPORARY) {
			for (int t = 0; t < TR_TEST_HANG_MS / 10 &&
			     tr_test_sup_active(s) != 2;
			     t++) {
				usleep(10000);
			}
			assert_int_equal(tr_test_sup_active(s), 2);
		} else {
			tr_test_sup_wait_new_pid(s, "w.2", old, 5000);
		}
		/* terminate_child removes an instance */
		TR_ASSERT_OK(tr_supervisor_terminate_child(s, "w.1", 5000));
		assert_true(tr_test_wait_gone(ci[0].pid, TR_TEST_HANG_MS));
		assert_int_equal(tr_test_sup_pid(s, "w.1"), -1);
		TR_ASSERT_OK(tr_supervisor_stop(s, 10000));
		assert_true(tr_test_wait_gone(ci[2].pid, TR_TEST_HANG_MS));
		tr_test_sup_untrack(&s);
	}
}

/* ---- transient exit codes
 * ----------------------------------------------------- */

static void
test_transient_exit_codes(void **state)
{
	char           marker[128];
	tr_child_spec  cs[2];
	tr_supervisor *s;
	tr_child_info  ci;

	snprintf(marker, sizeof(marker), "%s/fail-once", tr_test_sup_dir);
	cs[0]      = tr_test_sup_child("ok", "exit_code", TR_RESTART_TRANSIENT);
	cs[0].args = "0";
	cs[0].len  = 1;
	cs[1] = tr_test_sup_child("once", "fail_once", TR_RESTART_TRANSIENT);
	cs[1].args = marker;
	cs[1].len  = strlen(marker);
	s          = tr_test_sup_start(TR_SUP_ONE_FOR_ONE, 5, cs, 2);
	/* exit 1: restarted (and then it runs) */
	tr_test_sup_wait_new_pid(s, "once", 0, 5000);
	assert_true(tr_test_sup_info(s, "once", &ci));
	assert_int_equal(ci.restarts, 1);
	assert_int_equal(ci.last_exitcode, 1);
	/* exit 0: not restarted, its spec kept */
	for (int t = 0;
	     t < TR_TEST_HANG_MS / 10 && tr_test_sup_pid(s, "ok") != 0; t++) {
		usleep(10000);
	}
	assert_true(tr_test_sup_info(s, "ok", &ci));
	assert_int_equal(ci.pid, 0);
	assert_true(ci.exited);
	assert_int_equal(ci.last_exitcode, 0);
	assert_int_equal(ci.restarts, 0);
	TR_ASSERT_OK(tr_supervisor_stop(s, 10000));
	tr_test_sup_untrack(&s);
}

/* ---- intensity and escalation
 * ------------------------------------------------- */

static void
test_intensity_escalates_to_parent(void **state)
{
	tr_child_spec leaf =
	    tr_test_sup_child("crasher", "sleeper", TR_RESTART_PERMANENT);
	tr_child_spec  mid;
	tr_sup_spec    inner;
	tr_supervisor *s, *in;
	tr_child_info  ci;
	void          *buf;
	size_t         len;
	pid_t          inner_pid, p;
	int            code;

	tr_sup_spec_init(&inner);
	inner.intensity = 2;
	inner.children  = &leaf;
	inner.nchildren = 1;
	inner.quiet     = true;
	TR_ASSERT_OK(tr_sup_spec_pack(&inner, &buf, &len));
	mid = tr_test_sup_child("inner", TR_SUP_ACTOR, TR_RESTART_PERMANENT);
	mid.type = TR_CHILD_SUPERVISOR;
	mid.args = buf;
	mid.len  = len;
	s        = tr_test_sup_start(TR_SUP_ONE_FOR_ONE, 3, &mid, 1);
	free(buf);
	assert_true(tr_test_sup_info(s, "inner", &ci));
	inner_pid = ci.pid;
	assert_int_equal(ci.type, TR_CHILD_SUPERVISOR);
	TR_ASSERT_OK(tr_supervisor_open(&in, ci.addr));
	/* two restarts are within the inner intensity... */
	p = tr_test_sup_pid(in, "crasher");
	for (int i = 0; i < 2; i++) {
		tr_test_sup_kill_wait(p, SIGKILL);
		p = tr_test_sup_wait_new_pid(in, "crasher", p, 5000);
	}
	assert_int_equal(tr_test_sup_pid(s, "inner"), inner_pid);
	/* ...the third is not: the inner one gives up as shutdown, and the
	 * outer one restarts it */
	tr_test_sup_kill_wait(p, SIGKILL);
	assert_true(tr_test_wait_gone(inner_pid, 5000));
	tr_test_sup_wait_new_pid(s, "inner", inner_pid, 5000);
	assert_true(tr_test_sup_info(s, "inner", &ci));
	assert_int_equal(ci.restarts, 1);
	assert_int_equal(ci.last_exitcode, -SIGTERM);
	/* calls to the dead inner supervisor fail, at once */
	assert_true(tr_supervisor_count_children(
	                in, &(tr_child_counts) { 0 }, 5000) < 0);
	tr_supervisor_destroy(&in);
	/* the new inner one has a fresh crasher */
	TR_ASSERT_OK(tr_supervisor_open(&in, ci.addr));
	assert_true(tr_test_sup_pid(in, "crasher") > 0);
	tr_supervisor_destroy(&in);
	TR_ASSERT_OK(tr_supervisor_stop(s, 10000));
	TR_ASSERT_OK(tr_supervisor_exitcode(s, &code));
	assert_int_equal(code, 0);
	tr_test_sup_untrack(&s);
}

/* ---- shutdown
 * ----------------------------------------------------------------- */

static void
test_brutal_kill_and_timeout(void **state)
{
	tr_child_spec  cs[2] = { tr_test_sup_child("stubborn", "stubborn",
		                     TR_RESTART_PERMANENT),
		 tr_test_sup_child("brutal", "stubborn", TR_RESTART_PERMANENT) };
	tr_supervisor *s;
	tr_child_info  ci;
	pid_t          pid;
	int64_t        t0;
	char           mark[128];
	struct stat    st;

	snprintf(mark, sizeof(mark), "%s/brutal-sigterms", tr_test_sup_dir);
	cs[0].shutdown_ms = 300;
	cs[1].shutdown_ms = TR_SHUTDOWN_BRUTAL_KILL;
	cs[1].args        = mark;
	cs[1].len         = strlen(mark);
	s                 = tr_test_sup_start(TR_SUP_ONE_FOR_ONE, 5, cs, 2);
	/* ignores SIGTERM: killed after its 300 ms, not before */
	pid = tr_test_sup_pid(s, "stubborn");
	t0  = tr_test_now_ms();
	TR_ASSERT_OK(
	    tr_supervisor_terminate_child(s, "stubborn", TR_TEST_HANG_MS));
	assert_true(tr_test_now_ms() - t0 >= 290);
	assert_false(tr_test_pid_alive(pid));
	assert_true(tr_test_sup_info(s, "stubborn", &ci));
	assert_int_equal(ci.pid, 0);
	assert_int_equal(ci.last_exitcode, -SIGKILL);
	assert_int_equal(ci.restarts, 0); /* terminated, not restarted */
	/* brutal kill: SIGKILL at once, no SIGTERM and no wait for it */
	pid = tr_test_sup_pid(s, "brutal");
	TR_ASSERT_OK(
	    tr_supervisor_terminate_child(s, "brutal", TR_TEST_HANG_MS));
	assert_false(tr_test_pid_alive(pid));
	assert_int_equal(stat(mark, &st), 0);
	assert_int_equal(st.st_size, 0); /* it never got a SIGTERM */
	assert_true(tr_test_sup_info(s, "brutal", &ci));
	assert_int_equal(ci.last_exitcode, -SIGKILL);
	TR_ASSERT_OK(tr_supervisor_stop(s, 10000));
	tr_test_sup_untrack(&s);
}

static void
test_sigterm_ordered_shutdown(void **state)
{
	static const char *ids[3] = { "first", "second", "third" };
	char               path[128], args[3][200], got[128] = "";
	tr_child_spec      cs[4];
	tr_supervisor     *s;
	pid_t              pids[4];
	int64_t            t0;
	int                fd, code;

	snprintf(path, sizeof(path), "%s/order", tr_test_sup_dir);
	for (int i = 0; i < 3; i++) {
		snprintf(args[i], sizeof(args[i]), "%s|%s", path, ids[i]);
		cs[i] =
		    tr_test_sup_child(ids[i], "recorder", TR_RESTART_PERMANENT);
		cs[i].args = args[i];
		cs[i].len  = strlen(args[i]);
	}
	/* and one that must be killed after its timeout */
	cs[3] = tr_test_sup_child("wedged", "stubborn", TR_RESTART_PERMANENT);
	cs[3].shutdown_ms = 200;
	s                 = tr_test_sup_start(TR_SUP_ONE_FOR_ONE, 5, cs, 4);
	for (int i = 0; i < 4; i++) {
		pids[i] = tr_test_sup_pid(s, i < 3 ? ids[i] : "wedged");
	}
	t0 = tr_test_now_ms();
	assert_int_equal(kill(tr_supervisor_pid(s), SIGTERM), 0);
	TR_ASSERT_OK(tr_supervisor_join(s, TR_TEST_HANG_MS));
	assert_true(tr_test_now_ms() - t0 >= 190); /* wedged got its 200 ms */
	TR_ASSERT_OK(tr_supervisor_exitcode(s, &code));
	assert_int_equal(code, -SIGTERM);
	for (int i = 0; i < 4; i++) {
		assert_false(tr_test_pid_alive(pids[i]));
	}
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_true(read(fd, got, sizeof(got) - 1) > 0);
	close(fd);
	assert_string_equal(got, "third second first ");
	tr_test_sup_untrack(&s);
}

/* ---- runtime calls ---------------------------------------------------------
 */

static void
test_runtime_calls(void **state)
{
	tr_child_spec a =
	    tr_test_sup_child("a", "sleeper", TR_RESTART_PERMANENT);
	tr_child_spec b =
	    tr_test_sup_child("b", "sleeper", TR_RESTART_TRANSIENT);
	tr_child_spec t =
	    tr_test_sup_child("t", "sleeper", TR_RESTART_TEMPORARY);
	tr_child_spec sup =
	    tr_test_sup_child("sub", TR_SUP_ACTOR, TR_RESTART_PERMANENT);
	tr_child_spec bad =
	    tr_test_sup_child("bad", "init_fails", TR_RESTART_PERMANENT);
	tr_supervisor  *s = tr_test_sup_start(TR_SUP_ONE_FOR_ONE, 5, &a, 1);
	tr_child_info   ci, *v;
	tr_child_counts cnt;
	tr_sup_spec     empty;
	size_t          n;
	pid_t           pid;

	TR_ASSERT_OK(tr_supervisor_start_child(s, &b, &ci, 5000));
	assert_string_equal(ci.id, "b");
	assert_true(ci.pid > 0 && tr_test_pid_alive(ci.pid));
	assert_false(tr_addr_is_null(ci.addr));
	TR_ASSERT_ERR(tr_supervisor_start_child(s, &b, NULL, 5000), TR_EEXISTS);
	TR_ASSERT_ERR(
	    tr_supervisor_start_child(s, &bad, NULL, 5000), TR_ESTARTFAIL);
	TR_ASSERT_OK(tr_supervisor_start_child(s, &t, NULL, 5000));
	/* a nested supervisor with no children */
	tr_sup_spec_init(&empty);
	TR_ASSERT_OK(tr_sup_spec_pack(&empty, (void **) &sup.args, &sup.len));
	sup.type = TR_CHILD_SUPERVISOR;
	TR_ASSERT_OK(tr_supervisor_start_child(s, &sup, NULL, 5000));
	free((void *) sup.args);

	TR_ASSERT_OK(tr_supervisor_which_children(s, &v, &n, 5000));
	assert_int_equal(n, 4);
	assert_string_equal(v[0].id, "a");
	assert_string_equal(v[1].id, "b");
	assert_string_equal(v[2].id, "t");
	assert_string_equal(v[3].id, "sub");
	assert_string_equal(v[0].actor, "sleeper");
	assert_int_equal(v[3].type, TR_CHILD_SUPERVISOR);
	assert_int_equal(v[1].restart, TR_RESTART_TRANSIENT);
	free(v);
	TR_ASSERT_OK(tr_supervisor_count_children(s, &cnt, 5000));
	assert_int_equal(cnt.specs, 4);
	assert_int_equal(cnt.active, 4);
	assert_int_equal(cnt.supervisors, 1);
	assert_int_equal(cnt.workers, 3);

	/* terminate keeps the spec; restart starts it again */
	pid = tr_test_sup_pid(s, "b");
	TR_ASSERT_ERR(tr_supervisor_delete_child(s, "b", 5000), TR_ERUNNING);
	TR_ASSERT_ERR(
	    tr_supervisor_restart_child(s, "b", NULL, 5000), TR_ERUNNING);
	TR_ASSERT_OK(tr_supervisor_terminate_child(s, "b", 5000));
	assert_false(tr_test_pid_alive(pid));
	assert_int_equal(tr_test_sup_pid(s, "b"), 0);
	TR_ASSERT_OK(tr_supervisor_restart_child(s, "b", &ci, 5000));
	assert_true(ci.pid > 0 && ci.pid != pid);
	TR_ASSERT_OK(tr_supervisor_terminate_child(s, "b", 5000));
	TR_ASSERT_OK(tr_supervisor_delete_child(s, "b", 5000));
	assert_int_equal(tr_test_sup_pid(s, "b"), -1);
	/* a temporary child's spec goes with it */
	TR_ASSERT_OK(tr_supervisor_terminate_child(s, "t", 5000));
	assert_int_equal(tr_test_sup_pid(s, "t"), -1);
	TR_ASSERT_ERR(
	    tr_supervisor_terminate_child(s, "nope", 5000), TR_ENOTFOUND);
	TR_ASSERT_ERR(
	    tr_supervisor_restart_child(s, "nope", NULL, 5000), TR_ENOTFOUND);
	TR_ASSERT_ERR(
	    tr_supervisor_delete_child(s, "nope", 5000), TR_ENOTFOUND);
	TR_ASSERT_ERR(
	    tr_supervisor_start_simple(s, "x", 1, NULL, 5000), -EOPNOTSUPP);
	TR_ASSERT_OK(tr_supervisor_count_children(s, &cnt, 5000));
	assert_int_equal(cnt.specs, 2);
	TR_ASSERT_OK(tr_supervisor_stop(s, 10000));
	tr_test_sup_untrack(&s);
}

static bool
is_dead_error(int r)
{
	return r == -ESRCH || r == TR_EDEAD;
}

static void
test_dead_supervisor_fails_fast(void **state)
{
	tr_child_spec a =
	    tr_test_sup_child("a", "sleeper", TR_RESTART_PERMANENT);
	tr_supervisor  *s = tr_test_sup_start(TR_SUP_ONE_FOR_ONE, 5, &a, 1);
	tr_child_counts cnt;
	tr_child_info  *v;
	size_t          n;
	pid_t           child_pid = tr_test_sup_pid(s, "a");

	tr_test_sup_kill_wait(tr_supervisor_pid(s), SIGKILL);
	/* PDEATHSIG */
	assert_true(tr_test_wait_gone(child_pid, TR_TEST_HANG_MS));
	/* each call sees the death (-ESRCH or TR_EDEAD), none times out */
	assert_true(is_dead_error(
	    tr_supervisor_count_children(s, &cnt, TR_TEST_HANG_MS)));
	assert_true(is_dead_error(
	    tr_supervisor_which_children(s, &v, &n, TR_TEST_HANG_MS)));
	assert_true(is_dead_error(
	    tr_supervisor_terminate_child(s, "a", TR_TEST_HANG_MS)));
	/* already ended: fine */
	TR_ASSERT_OK(tr_supervisor_stop(s, TR_TEST_HANG_MS));
	tr_test_sup_untrack(&s);
}

static void
test_start_failure(void **state)
{
	tr_child_spec  cs[2] = { tr_test_sup_child(
		                     "good", "sleeper", TR_RESTART_PERMANENT),
		 tr_test_sup_child("bad", "init_fails", TR_RESTART_PERMANENT) };
	tr_sup_spec    spec;
	tr_supervisor *s      = NULL;
	int            before = tr_test_child_count();

	tr_sup_spec_init(&spec);
	spec.children  = cs;
	spec.nchildren = 2;
	spec.quiet     = true;
	TR_ASSERT_ERR(tr_supervisor_start(&s, &spec, 10000), TR_ESTARTFAIL);
	assert_null(s);
	assert_int_equal(tr_test_child_count(), before);
	/* a bad spec is refused before anything starts */
	cs[1] = tr_test_sup_child("good", "sleeper", TR_RESTART_PERMANENT);
	TR_ASSERT_ERR(tr_supervisor_start(&s, &spec, 10000), TR_ESTARTFAIL);
	cs[1].id = "";
	TR_ASSERT_ERR(tr_supervisor_start(&s, &spec, 10000), -EINVAL);
}

static void
test_backoff(void **state)
{
	tr_child_spec a =
	    tr_test_sup_child("a", "sleeper", TR_RESTART_PERMANENT);
	tr_sup_spec    spec;
	tr_supervisor *s;
	pid_t          p;
	int64_t        t0, dt;

	tr_sup_spec_init(&spec);
	spec.intensity      = 100;
	spec.backoff_min_ms = 200;
	spec.backoff_max_ms = 400;
	spec.children       = &a;
	spec.nchildren      = 1;
	spec.quiet          = true;
	TR_ASSERT_OK(tr_supervisor_start(&s, &spec, 10000));
	tr_test_sup_track(s);
	p = tr_test_sup_pid(s, "a");
	/* 200, then 400, then 400 (the max) ...: each restart waits at least
	 * that long.  The max is what keeps restarts coming: without it the
	 * delay doubles, and the ninth (200 ms << 8 = 51 s) would outlast the
	 * hang guard. */
	for (int i = 0; i < 10; i++) {
		t0 = tr_test_now_ms();
		tr_test_sup_kill_wait(p, SIGKILL);
		p  = tr_test_sup_wait_new_pid(s, "a", p, TR_TEST_HANG_MS);
		dt = tr_test_now_ms() - t0;
		assert_true(dt >= (i == 0 ? 190 : 390));
		/* calls are answered while a restart waits */
	}
	TR_ASSERT_OK(tr_supervisor_stop(s, 10000));
	tr_test_sup_untrack(&s);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(
		    test_one_for_one, tr_test_sup_kill_leftovers),
		cmocka_unit_test_teardown(
		    test_one_for_all, tr_test_sup_kill_leftovers),
		cmocka_unit_test_teardown(
		    test_rest_for_one, tr_test_sup_kill_leftovers),
		cmocka_unit_test_teardown(
		    test_simple_one_for_one, tr_test_sup_kill_leftovers),
		cmocka_unit_test_teardown(
		    test_transient_exit_codes, tr_test_sup_kill_leftovers),
		cmocka_unit_test_teardown(test_intensity_escalates_to_parent,
		    tr_test_sup_kill_leftovers),
		cmocka_unit_test_teardown(
		    test_brutal_kill_and_timeout, tr_test_sup_kill_leftovers),
		cmocka_unit_test_teardown(
		    test_sigterm_ordered_shutdown, tr_test_sup_kill_leftovers),
		cmocka_unit_test_teardown(
		    test_runtime_calls, tr_test_sup_kill_leftovers),
		cmocka_unit_test_teardown(test_dead_supervisor_fails_fast,
		    tr_test_sup_kill_leftovers),
		cmocka_unit_test_teardown(
		    test_start_failure, tr_test_sup_kill_leftovers),
		cmocka_unit_test_teardown(
		    test_backoff, tr_test_sup_kill_leftovers),
	};

	if (tr_init(argc, argv) < 0) {
		return 99;
	}
	return cmocka_run_group_tests_name(
	    "supervisor", tests, tr_test_sup_setup, tr_test_sup_teardown);
}
