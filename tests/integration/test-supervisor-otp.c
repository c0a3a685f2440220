/* SPDX-License-Identifier: MIT */
/* Supervisor against OTP's semantics, second pass: a supervisor started
 * from a thread that ends lives on; zero specs mean the defaults; ignore;
 * significant children and auto_shutdown; which_child; start_child on an
 * id in use; answers that take in the deaths before them; a child that
 * ends before it reports running is logged with its exit code or signal;
 * junk mail is logged, rate-limited. */
#include "tr-test-sup.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- actors (forked children: no cmocka here) ---------------------------- */

/* Answers ignore unless the file its args name exists; then runs. */
static int
ignorer(const void *args, size_t len)
{
	if (access(args, F_OK) != 0) {
		return TR_EIGNORE;
	}
	(void) tr_ready();
	for (;;) {
		pause();
	}
	return 0;
}
TR_ACTOR_FLAGS(ignorer, ignorer, TR_ACTOR_MANUAL_READY)

/* Ends before it reports running: returns 3 (args "r") or is killed by
 * SIGKILL (args "k"). */
static int
ends_early(const void *args, size_t len)
{
	if (((const char *) args)[0] == 'k') {
		raise(SIGKILL);
	}
	return 3;
}
TR_ACTOR_FLAGS(ends_early, ends_early, TR_ACTOR_MANUAL_READY)

/* Creates the file its args name, takes 1.5 s to start, then runs. */
static int
slow_start(const void *args, size_t len)
{
	close(open(args, O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
	usleep(1500 * 1000);
	(void) tr_ready();
	for (;;) {
		pause();
	}
	return 0;
}
TR_ACTOR_FLAGS(slow_start, slow_start, TR_ACTOR_MANUAL_READY)

/* args "addr|marker": asks the supervisor at addr to start a slow_start
 * child that creates marker.  Exit 0 if that worked. */
static int
caller(const void *args, size_t len)
{
	char           buf[256];
	char          *bar;
	tr_addr        a;
	tr_supervisor *s;
	tr_child_spec  c;
	int            r;

	snprintf(buf, sizeof(buf), "%s", (const char *) args);
	bar = strchr(buf, '|');
	if (!bar) {
		return 2;
	}
	*bar = '\0';
	if (tr_addr_parse(buf, &a) < 0 || tr_supervisor_open(&s, a) < 0) {
		return 3;
	}
	tr_child_spec_init(&c, "slow", "slow_start");
	c.args = bar + 1;
	c.len  = strlen(bar + 1);
	r      = tr_supervisor_start_child(s, &c, NULL, 20000);
	tr_supervisor_destroy(&s);
	return r < 0 ? 4 : 0;
}
TR_ACTOR(caller, caller)

/* args "log|recipe": stderr to file log, then runs a supervisor in this
 * process (tr_supervisor_run) with the children of recipe: "junk" one
 * sleeper, "early" a child that returns 3 before it is ready, "killed"
 * one killed before it is ready.  Exit 0 once stopped. */
static int
host(const void *args, size_t len)
{
	char          buf[256];
	char         *bar;
	tr_child_spec c;
	tr_sup_spec   spec = { .children = &c, .nchildren = 1 };
	int           fd;

	snprintf(buf, sizeof(buf), "%s", (const char *) args);
	bar = strchr(buf, '|');
	if (!bar) {
		return 2;
	}
	*bar = '\0';
	fd   = open(buf, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0 || dup2(fd, 2) < 0) {
		return 3;
	}
	if (strcmp(bar + 1, "junk") == 0) {
		tr_child_spec_init(&c, "w", "sleeper");
	} else {
		tr_child_spec_init(&c, "early", "ends_early");
		c.args = strcmp(bar + 1, "killed") == 0 ? "k" : "r";
		c.len  = 1;
	}
	return tr_supervisor_run(&spec) < 0 ? 4 : 0;
}
TR_ACTOR_FLAGS(host, host, TR_ACTOR_MANUAL_READY)

/* ---- helpers ----------------------------------------------------------- */

static void
path_in_dir(char *buf, size_t n, const char *name)
{
	snprintf(buf, n, "%s/%s", tr_test_sup_dir, name);
}

/* Wait (hang guard only) until path exists. */
static void
wait_file(const char *path)
{
	for (int t = 0; t < TR_TEST_HANG_MS && access(path, F_OK) != 0;
	     t += 5) {
		usleep(5000);
	}
	assert_int_equal(access(path, F_OK), 0);
}

/* The text of file path (up to n - 1 bytes). */
static void
read_file(const char *path, char *buf, size_t n)
{
	int     fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t k  = fd >= 0 ? read(fd, buf, n - 1) : -1;

	buf[k > 0 ? k : 0] = '\0';
	if (fd >= 0) {
		close(fd);
	}
}

/* Start a host actor (see host()) logging to log; *ret_addr its address
 * (the supervisor's).  The start result is returned. */
static int
start_host(
    tr_process **ret, const char *log, const char *recipe, tr_addr *ret_addr)
{
	char args[256];
	int  r;

	snprintf(args, sizeof(args), "%s|%s", log, recipe);
	TR_ASSERT_OK(tr_process_new(ret, "host", args, strlen(args)));
	r = tr_process_start(*ret, 20000);
	if (r == 0) {
		TR_ASSERT_OK(tr_process_addr(*ret, ret_addr));
	}
	return r;
}

/* The supervisor is gone with exit code -SIGTERM (it ended as shutdown). */
static void
assert_ended_as_shutdown(tr_supervisor **sp)
{
	int code;

	TR_ASSERT_OK(tr_supervisor_join(*sp, TR_TEST_HANG_MS));
	TR_ASSERT_OK(tr_supervisor_exitcode(*sp, &code));
	assert_int_equal(code, -SIGTERM);
	tr_test_sup_untrack(sp);
}

/* ---- a supervisor started from a thread that ends ----------------------- */

struct thread_start {
	tr_supervisor *s;
	int            r;
};

static void *
start_in_thread(void *arg)
{
	struct thread_start *t = arg;
	tr_child_spec        c;
	tr_sup_spec          spec = { .children = &c, .nchildren = 1 };

	tr_child_spec_init(&c, "w", "sleeper");
	spec.quiet = true;
	t->r       = tr_supervisor_start(&t->s, &spec, TR_TEST_HANG_MS);
	return NULL;
}

static void
test_started_from_an_ending_thread(void **state)
{
	struct thread_start t = { NULL, 0 };
	pthread_t           th;
	pid_t               w;
	int                 code;

	assert_int_equal(pthread_create(&th, NULL, start_in_thread, &t), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	TR_ASSERT_OK(t.r);
	tr_test_sup_track(t.s);
	w = tr_test_sup_pid(t.s, "w");
	/* PR_SET_PDEATHSIG would have fired by now, had it been armed for
	 * the ended thread */
	usleep(1000 * 1000);
	assert_true(tr_test_pid_alive(tr_supervisor_pid(t.s)));
	assert_true(tr_test_pid_alive(w));
	assert_int_equal(tr_test_sup_pid(t.s, "w"), w);
	TR_ASSERT_OK(tr_supervisor_stop(t.s, TR_TEST_HANG_MS));
	TR_ASSERT_OK(tr_supervisor_exitcode(t.s, &code));
	assert_int_equal(code, 0); /* a graceful stop, not -SIGKILL */
	assert_false(tr_test_pid_alive(w));
	tr_test_sup_untrack(&t.s);
}

/* ---- zero specs ---------------------------------------------------------- */

static void
test_zero_spec_means_defaults(void **state)
{
	tr_child_spec  c    = { .id = "a", .actor = "sleeper" };
	tr_sup_spec    spec = { .children = &c, .nchildren = 1, .quiet = true };
	tr_supervisor *s    = NULL;
	void          *buf;
	size_t         len;
	pid_t          p;

	/* intensity 1 (not 0): the first restart is allowed... */
	TR_ASSERT_OK(tr_supervisor_start(&s, &spec, 10000));
	tr_test_sup_track(s);
	p = tr_test_sup_pid(s, "a");
	tr_test_sup_kill_wait(p, SIGKILL);
	p = tr_test_sup_wait_new_pid(s, "a", p, TR_TEST_HANG_MS);
	/* ...the second within the period (5000 ms, not 0) is not */
	tr_test_sup_kill_wait(p, SIGKILL);
	assert_ended_as_shutdown(&s);

	/* none at all, asked for explicitly */
	spec.intensity = TR_SUP_INTENSITY_ZERO;
	TR_ASSERT_OK(tr_supervisor_start(&s, &spec, 10000));
	tr_test_sup_track(s);
	tr_test_sup_kill_wait(tr_test_sup_pid(s, "a"), SIGKILL);
	assert_ended_as_shutdown(&s);

	/* what is not positive after defaults is refused */
	spec.intensity = 0;
	spec.period_ms = -1;
	TR_ASSERT_ERR(tr_supervisor_start(&s, &spec, 10000), -EINVAL);
	TR_ASSERT_ERR(tr_sup_spec_pack(&spec, &buf, &len), -EINVAL);
	spec.period_ms = 0;
	spec.intensity = -5;
	TR_ASSERT_ERR(tr_supervisor_start(&s, &spec, 10000), -EINVAL);
	spec.intensity     = 0;
	spec.auto_shutdown = 7;
	TR_ASSERT_ERR(tr_sup_spec_pack(&spec, &buf, &len), -EINVAL);
	assert_null(s);
}

/* A zeroed child spec's shutdown is the default (SIGTERM, then a wait),
 * not brutal kill. */
static void
test_zero_child_spec_shutdown(void **state)
{
	char           path[128], args[200], got[64];
	tr_child_spec  c = { .id = "r", .actor = "recorder" };
	tr_supervisor *s;
	tr_child_info  ci;

	path_in_dir(path, sizeof(path), "zero-child");
	snprintf(args, sizeof(args), "%s|r", path);
	c.args = args;
	c.len  = strlen(args);
	s      = tr_test_sup_start(TR_SUP_ONE_FOR_ONE, 5, &c, 1);
	TR_ASSERT_OK(tr_supervisor_terminate_child(s, "r", TR_TEST_HANG_MS));
	assert_true(tr_test_sup_info(s, "r", &ci));
	assert_int_equal(ci.last_exitcode, 0); /* it handled SIGTERM */
	assert_int_equal(ci.state, TR_CHILD_STOPPED);
	read_file(path, got, sizeof(got));
	assert_string_equal(got, "r ");
	TR_ASSERT_OK(tr_supervisor_stop(s, TR_TEST_HANG_MS));
	tr_test_sup_untrack(&s);
}

/* ---- ignore -------------------------------------------------------------- */

static void
test_ignore(void **state)
{
	char           go[128];
	tr_child_spec  cs[3];
	tr_supervisor *s;
	tr_child_info  ci, *v;
	size_t         n;

	path_in_dir(go, sizeof(go), "ignorer-go");
	cs[0]      = tr_test_sup_child("a", "sleeper", TR_RESTART_PERMANENT);
	cs[1]      = tr_test_sup_child("ig", "ignorer", TR_RESTART_PERMANENT);
	cs[2]      = tr_test_sup_child("tmp", "ignorer", TR_RESTART_TEMPORARY);
	cs[1].args = cs[2].args = go;
	cs[1].len = cs[2].len = strlen(go);
	s                     = tr_test_sup_start(TR_SUP_ONE_FOR_ALL, 5, cs, 3);
	/* kept without a process; a temporary one is not kept */
	TR_ASSERT_OK(tr_supervisor_which_children(s, &v, &n, 5000));
	assert_int_equal(n, 2);
	assert_string_equal(v[1].id, "ig");
	assert_int_equal(v[1].pid, 0);
	assert_int_equal(v[1].state, TR_CHILD_IGNORED);
	assert_int_equal(v[0].state, TR_CHILD_RUNNING);
	free(v);
	assert_int_equal(tr_test_sup_active(s), 1);
	/* restart works on it: ignored again, then running */
	TR_ASSERT_OK(tr_supervisor_restart_child(s, "ig", &ci, 5000));
	assert_int_equal(ci.state, TR_CHILD_IGNORED);
	close(open(go, O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
	TR_ASSERT_OK(tr_supervisor_restart_child(s, "ig", &ci, 5000));
	assert_int_equal(ci.state, TR_CHILD_RUNNING);
	assert_true(ci.pid > 0 && tr_test_pid_alive(ci.pid));
	TR_ASSERT_OK(tr_supervisor_terminate_child(s, "ig", 5000));
	unlink(go);
	/* start_child: kept, ignored; delete works on it */
	cs[1].id = "ig2";
	TR_ASSERT_OK(tr_supervisor_start_child(s, &cs[1], &ci, 5000));
	assert_int_equal(ci.state, TR_CHILD_IGNORED);
	assert_int_equal(ci.pid, 0);
	TR_ASSERT_OK(tr_supervisor_delete_child(s, "ig2", 5000));
	assert_int_equal(tr_test_sup_pid(s, "ig2"), -1);
	TR_ASSERT_OK(tr_supervisor_stop(s, TR_TEST_HANG_MS));
	tr_test_sup_untrack(&s);

	/* simple_one_for_one: an instance that ignores is not kept */
	s = tr_test_sup_start(TR_SUP_SIMPLE_ONE_FOR_ONE, 5, &cs[1], 1);
	TR_ASSERT_OK(tr_supervisor_start_simple(s, NULL, 0, &ci, 5000));
	assert_int_equal(ci.state, TR_CHILD_IGNORED);
	assert_string_equal(ci.id, "ig2.1");
	assert_int_equal(tr_test_sup_pid(s, "ig2.1"), -1);
	TR_ASSERT_OK(tr_supervisor_stop(s, TR_TEST_HANG_MS));
	tr_test_sup_untrack(&s);
}

/* ---- significant children and auto_shutdown ------------------------------ */

static tr_supervisor *
start_auto(int mode, tr_child_spec *cs, size_t n)
{
	tr_sup_spec    spec = { .intensity = 10,
		   .auto_shutdown          = mode,
		   .children               = cs,
		   .nchildren              = n,
		   .quiet                  = getenv("TROUPE_LOG") == NULL };
	tr_supervisor *s;

	TR_ASSERT_OK(tr_supervisor_start(&s, &spec, 10000));
	return tr_test_sup_track(s);
}

static void
test_auto_shutdown_any(void **state)
{
	tr_child_spec cs[2] = {
		tr_test_sup_child("w", "sleeper", TR_RESTART_PERMANENT),
		tr_test_sup_child("task", "sleeper", TR_RESTART_TRANSIENT),
	};
	tr_supervisor *s;
	pid_t          w, t;

	cs[1].significant = true;
	s                 = start_auto(TR_SUP_AUTO_ANY_SIGNIFICANT, cs, 2);
	/* stopped by the supervisor: nothing happens */
	TR_ASSERT_OK(tr_supervisor_terminate_child(s, "task", 5000));
	TR_ASSERT_OK(tr_supervisor_restart_child(s, "task", NULL, 5000));
	/* a crash: restarted (transient), nothing else */
	t = tr_test_sup_pid(s, "task");
	tr_test_sup_kill_wait(t, SIGKILL);
	t = tr_test_sup_wait_new_pid(s, "task", t, TR_TEST_HANG_MS);
	/* ending by itself (shutdown class): the supervisor ends */
	w = tr_test_sup_pid(s, "w");
	tr_test_sup_kill_wait(t, SIGTERM);
	assert_ended_as_shutdown(&s);
	assert_true(tr_test_wait_gone(w, TR_TEST_HANG_MS));
}

static void
test_auto_shutdown_all(void **state)
{
	tr_child_spec cs[3] = {
		tr_test_sup_child("w", "sleeper", TR_RESTART_PERMANENT),
		tr_test_sup_child("t1", "sleeper", TR_RESTART_TEMPORARY),
		tr_test_sup_child("t2", "sleeper", TR_RESTART_TEMPORARY),
	};
	tr_supervisor *s;

	cs[1].significant = cs[2].significant = true;
	s = start_auto(TR_SUP_AUTO_ALL_SIGNIFICANT, cs, 3);
	tr_test_sup_kill_wait(tr_test_sup_pid(s, "t1"), SIGKILL);
	tr_test_sup_wait_state(s, "t1", -1);
	assert_true(tr_test_pid_alive(tr_supervisor_pid(s)));
	tr_test_sup_kill_wait(tr_test_sup_pid(s, "t2"), SIGKILL);
	assert_ended_as_shutdown(&s);
}

static void
test_significant_rules(void **state)
{
	tr_child_spec c =
	    tr_test_sup_child("x", "sleeper", TR_RESTART_PERMANENT);
	tr_sup_spec    spec = { .children = &c, .nchildren = 1, .quiet = true };
	tr_supervisor *s;
	void          *buf;
	size_t         len;

	c.significant      = true;
	spec.auto_shutdown = TR_SUP_AUTO_ANY_SIGNIFICANT;
	/* permanent and significant: refused */
	TR_ASSERT_ERR(tr_sup_spec_pack(&spec, &buf, &len), -EINVAL);
	/* significant under auto_shutdown never: refused, by the client... */
	c.restart          = TR_RESTART_TRANSIENT;
	spec.auto_shutdown = TR_SUP_AUTO_NEVER;
	TR_ASSERT_ERR(tr_sup_spec_pack(&spec, &buf, &len), -EINVAL);
	/* ...and by the supervisor */
	s = tr_test_sup_start(TR_SUP_ONE_FOR_ONE, 5, NULL, 0);
	TR_ASSERT_ERR(tr_supervisor_start_child(s, &c, NULL, 5000), -EINVAL);
	c.significant = false;
	TR_ASSERT_OK(tr_supervisor_start_child(s, &c, NULL, 5000));
	TR_ASSERT_OK(tr_supervisor_stop(s, TR_TEST_HANG_MS));
	tr_test_sup_untrack(&s);
}

/* ---- which_child, start_child on an id in use ---------------------------- */

static void
test_which_child_and_exists(void **state)
{
	tr_child_spec a =
	    tr_test_sup_child("a", "sleeper", TR_RESTART_PERMANENT);
	tr_supervisor *s = tr_test_sup_start(TR_SUP_ONE_FOR_ONE, 5, &a, 1);
	tr_child_info  ci, again;

	TR_ASSERT_OK(tr_supervisor_which_child(s, "a", &ci, 5000));
	assert_string_equal(ci.id, "a");
	assert_string_equal(ci.actor, "sleeper");
	assert_int_equal(ci.state, TR_CHILD_RUNNING);
	assert_true(ci.pid > 0);
	assert_false(tr_addr_is_null(ci.addr));
	TR_ASSERT_ERR(
	    tr_supervisor_which_child(s, "nope", &ci, 5000), TR_ENOTFOUND);
	/* OTP: {error, {already_started, Pid}} */
	memset(&again, 0, sizeof(again));
	TR_ASSERT_ERR(
	    tr_supervisor_start_child(s, &a, &again, 5000), TR_EEXISTS);
	assert_string_equal(again.id, "a");
	assert_int_equal(again.pid, ci.pid);
	assert_true(tr_addr_eq(again.addr, ci.addr));
	TR_ASSERT_OK(tr_supervisor_stop(s, TR_TEST_HANG_MS));
	tr_test_sup_untrack(&s);
}

/* ---- answers take in the deaths that came before them -------------------- */

static void
test_answers_after_deaths(void **state)
{
	tr_child_spec a =
	    tr_test_sup_child("a", "sleeper", TR_RESTART_PERMANENT);
	tr_supervisor  *s = tr_test_sup_start(TR_SUP_ONE_FOR_ONE, 5, &a, 1);
	char            marker[128], args[256], addr[TR_ADDR_STRLEN];
	tr_process     *c;
	tr_child_counts cnt;
	tr_child_info   ci;
	pid_t           old = tr_test_sup_pid(s, "a");

	/* another process keeps the supervisor busy starting a slow child */
	path_in_dir(marker, sizeof(marker), "slow-started");
	tr_addr_format(tr_supervisor_addr(s), addr, sizeof(addr));
	snprintf(args, sizeof(args), "%s|%s", addr, marker);
	TR_ASSERT_OK(tr_process_new(&c, "caller", args, strlen(args)));
	TR_ASSERT_OK(tr_process_start(c, 10000));
	wait_file(marker);
	/* a dies meanwhile; then these requests queue behind that start */
	tr_test_sup_kill_wait(old, SIGKILL);
	TR_ASSERT_OK(tr_supervisor_count_children(s, &cnt, TR_TEST_HANG_MS));
	assert_int_equal(cnt.active, 1); /* slow, not the dead a */
	assert_true(tr_test_sup_info(s, "a", &ci));
	assert_true(ci.pid != old);
	assert_int_equal(tr_test_finish(&c), 0);
	TR_ASSERT_OK(tr_supervisor_stop(s, TR_TEST_HANG_MS));
	tr_test_sup_untrack(&s);
}

/* ---- what the supervisor logs ---------------------------------------------
 */

static void
test_early_end_is_logged_with_its_code(void **state)
{
	static const char *const recipes[2] = { "early", "killed" };
	static const char *const says[2]    = {
		   "returned 3 before it reported running",
		   "killed by signal SIGKILL (9) before it reported running",
	};
	char        log[128], got[4096];
	tr_process *h;
	tr_addr     a;

	for (int i = 0; i < 2; i++) {
		path_in_dir(log, sizeof(log), recipes[i]);
		TR_ASSERT_ERR(
		    start_host(&h, log, recipes[i], &a), TR_ESTARTFAIL);
		tr_process_destroy(&h);
		read_file(log, got, sizeof(got));
		assert_non_null(strstr(got, says[i]));
		assert_null(strstr(got, "No such process"));
	}
}

static void
test_junk_is_logged_rate_limited(void **state)
{
	char           log[128], got[8192], *p;
	tr_process    *h;
	tr_supervisor *s;
	tr_addr        a;
	int            lines = 0;

	path_in_dir(log, sizeof(log), "junk");
	TR_ASSERT_OK(start_host(&h, log, "junk", &a));
	for (int i = 0; i < 25; i++) {
		TR_ASSERT_OK(tr_send_bytes(a, "junk", 4, TR_TEST_HANG_MS));
	}
	/* answered after the junk (one sender's messages stay in order) */
	TR_ASSERT_OK(tr_supervisor_open(&s, a));
	assert_true(tr_test_sup_pid(s, "w") > 0);
	TR_ASSERT_OK(tr_supervisor_stop(s, TR_TEST_HANG_MS));
	tr_supervisor_destroy(&s);
	assert_int_equal(tr_test_finish(&h), 0);
	read_file(log, got, sizeof(got));
	for (p = got; (p = strstr(p, "dropped a message")) != NULL; p++) {
		lines++;
	}
	assert_int_equal(lines, 10); /* the first 10, then one in 1000 */
	assert_non_null(strstr(got, "not a request (type 'raw bytes')"));
	assert_non_null(strstr(got, "(10 so far)"));
}

int
main(int argc, char **argv)
{
#define T(f) cmocka_unit_test_teardown(f, tr_test_sup_kill_leftovers)
	const struct CMUnitTest tests[] = {
		T(test_started_from_an_ending_thread),
		T(test_zero_spec_means_defaults),
		T(test_zero_child_spec_shutdown),
		T(test_ignore),
		T(test_auto_shutdown_any),
		T(test_auto_shutdown_all),
		T(test_significant_rules),
		T(test_which_child_and_exists),
		T(test_answers_after_deaths),
		T(test_early_end_is_logged_with_its_code),
		T(test_junk_is_logged_rate_limited),
	};
#undef T

	if (tr_init(argc, argv) < 0) {
		return 99;
	}
	return cmocka_run_group_tests_name(
	    "supervisor-otp", tests, tr_test_sup_setup, tr_test_sup_teardown);
}
