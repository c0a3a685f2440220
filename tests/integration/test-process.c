/* SPDX-License-Identifier: MIT */
/* Process API: exit codes, join/terminate/kill, start failures, the
 * three start methods, daemons, PDEATHSIG, zombies and descriptors. */
#include "tr-test.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Arguments arrive NUL-terminated (args[len] == 0) by every method. */
static int
args_terminated(const void *args, size_t len)
{
	return ((const char *) args)[len] == '\0' && len == 5 &&
	        strcmp(args, "hello") == 0
	    ? 0
	    : 9;
}
TR_ACTOR(args_terminated, args_terminated)

static int
sleeper(const void *args, size_t len)
{
	int ms = len ? atoi(args) : 60000;

	usleep((useconds_t) ms * 1000);
	return 0;
}
TR_ACTOR(sleeper, sleeper)

static int
exit_error(const void *args, size_t len)
{
	tr_exit(1);
}
TR_ACTOR(exit_error, exit_error)

static int
exit_ok(const void *args, size_t len)
{
	return 0;
}
TR_ACTOR(exit_ok, exit_ok)

static int
return_value(const void *args, size_t len)
{
	return 3;
}
TR_ACTOR(return_value, return_value)

static int
raises(const void *args, size_t len)
{
	return tr_fail(-EIO, "There was an error!");
}
TR_ACTOR(raises, raises)

static int
segfaults(const void *args, size_t len)
{
	raise(SIGSEGV);
	return 0;
}
TR_ACTOR(segfaults, segfaults)

static int
ignores_term(const void *args, size_t len)
{
	signal(SIGTERM, SIG_IGN);
	tr_ready();
	pause();
	return 0;
}
TR_ACTOR_FLAGS(ignores_term, ignores_term, TR_ACTOR_MANUAL_READY)

static int
init_fails(const void *args, size_t len)
{
	return tr_fail(-ENOENT, "config file %s not found", "/nonexistent");
}
TR_ACTOR_FLAGS(init_fails, init_fails, TR_ACTOR_MANUAL_READY)

/* Manual-ready actors that end before they report running: args "r"
 * returns 3, "x" calls exit(4), "k" is killed by SIGKILL, "i" answers
 * TR_EIGNORE. */
static int
ends_early(const void *args, size_t len)
{
	switch (len ? ((const char *) args)[0] : 'r') {
	case 'x':
		exit(4);
	case 'k':
		raise(SIGKILL);
		return 0;
	case 'i':
		return TR_EIGNORE;
	default:
		return 3;
	}
}
TR_ACTOR_FLAGS(ends_early, ends_early, TR_ACTOR_MANUAL_READY)

/* Exit code = args as a number + 1 if its name is what it was given. */
static int
echo_code(const void *args, size_t len)
{
	char buf[64] = "";

	memcpy(buf, args, len < 63 ? len : 63);
	if (strcmp(tr_self_name(), "named") != 0 || tr_self_parent_pid() <= 1 ||
	    strcmp(tr_self_actor(), "echo_code")) {
		return 99;
	}
	return atoi(buf) + 1;
}
TR_ACTOR(echo_code, echo_code)

/* Starts a child (daemon if args[0]=='d') and writes its pid to the file
 * named by args+1, then waits or exits. */
static int
parent_of(const void *args, size_t len)
{
	const char *a = args;
	tr_process *c;
	char        buf[32];
	int         fd, r;

	if (tr_process_new(&c, "sleeper", NULL, 0) < 0) {
		return 10;
	}
	(void) tr_process_set_daemon(c, a[0] == 'd');
	if ((r = tr_process_start(c, 5000)) < 0) {
		return 11;
	}
	fd = open(a + 1, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	snprintf(buf, sizeof(buf), "%d", (int) tr_process_pid(c));
	(void) !write(fd, buf, strlen(buf));
	close(fd);
	if (a[0] == 'w') {
		pause(); /* waits to be SIGKILLed */
	}
	return 0; /* daemon child is terminated at exit */
}
TR_ACTOR(parent_of, parent_of)

static int
run_code(const char *actor, int method, int *code)
{
	tr_process *p;
	int         r;

	TR_ASSERT_OK(tr_process_new(&p, actor, NULL, 0));
	TR_ASSERT_OK(tr_process_set_start_method(p, method));
	r = tr_process_start(p, 10000);
	if (r == 0) {
		TR_ASSERT_OK(tr_process_join(p, 10000));
		TR_ASSERT_OK(tr_process_exitcode(p, code));
	}
	tr_process_destroy(&p);
	return r;
}

static void
test_exitcode_table(void **state)
{
	static const struct {
		const char *actor;
		int         code;
	} table[] = { { "exit_error", 1 }, { "exit_ok", 0 },
		{ "return_value", 3 }, { "raises", 1 },
		{ "segfaults", -SIGSEGV } };
	int code;

	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		TR_ASSERT_OK(run_code(table[i].actor, TR_START_FORK, &code));
		assert_int_equal(code, table[i].code);
	}
}

static void
test_terminate_and_kill(void **state)
{
	tr_process *p;
	int         code, sig[2] = { SIGTERM, SIGKILL };

	for (int i = 0; i < 2; i++) {
		TR_ASSERT_OK(tr_process_new(&p, "sleeper", NULL, 0));
		TR_ASSERT_OK(tr_process_start(p, 5000));
		assert_true(tr_process_is_alive(p));
		TR_ASSERT_ERR(tr_process_exitcode(p, &code), TR_ERUNNING);
		TR_ASSERT_OK(
		    i == 0 ? tr_process_terminate(p) : tr_process_kill(p));
		TR_ASSERT_OK(tr_process_join(p, 5000));
		assert_false(tr_process_is_alive(p));
		TR_ASSERT_OK(tr_process_exitcode(p, &code));
		assert_int_equal(code, -sig[i]);
		/* join again, signal again: still fine */
		TR_ASSERT_OK(tr_process_join(p, 0));
		TR_ASSERT_OK(tr_process_terminate(p));
		TR_ASSERT_OK(tr_process_close(&p));
		assert_null(p);
	}
}

static void
test_join_timeout_leaves_child_alive(void **state)
{
	tr_process   *p;
	struct pollfd pfd;

	TR_ASSERT_OK(tr_process_new(&p, "sleeper", "300", 3));
	TR_ASSERT_OK(tr_process_start(p, 5000));
	TR_ASSERT_ERR(tr_process_join(p, 0), -ETIMEDOUT);
	TR_ASSERT_ERR(tr_process_join(p, 50), -ETIMEDOUT);
	assert_true(tr_process_is_alive(p));
	assert_true(tr_test_pid_alive(tr_process_pid(p)));
	TR_ASSERT_ERR(tr_process_close(&p), TR_ERUNNING);
	assert_non_null(p);
	/* the sentinel becomes readable when it exits */
	pfd =
	    (struct pollfd) { .fd = tr_process_sentinel(p), .events = POLLIN };
	assert_int_equal(poll(&pfd, 1, 5000), 1);
	TR_ASSERT_OK(tr_process_join(p, TR_TIMEOUT_INFINITE));
	tr_process_destroy(&p);
	tr_process_destroy(&p); /* idempotent */
}

static void
test_shutdown_ignoring_child_needs_kill(void **state)
{
	tr_process *p;
	int         code;

	TR_ASSERT_OK(tr_process_new(&p, "ignores_term", NULL, 0));
	TR_ASSERT_OK(tr_process_start(p, 5000));
	TR_ASSERT_OK(tr_process_terminate(p));
	TR_ASSERT_ERR(tr_process_join(p, 200), -ETIMEDOUT);
	TR_ASSERT_OK(tr_process_kill(p));
	TR_ASSERT_OK(tr_process_join(p, 5000));
	TR_ASSERT_OK(tr_process_exitcode(p, &code));
	assert_int_equal(code, -SIGKILL);
	tr_process_destroy(&p);
}

static void
test_start_failures(void **state)
{
	tr_process *p;

	for (int m = TR_START_FORK; m <= TR_START_FORKSERVER; m++) {
		TR_ASSERT_OK(tr_process_new(&p, "init_fails", NULL, 0));
		TR_ASSERT_OK(tr_process_set_start_method(p, m));
		TR_ASSERT_ERR(tr_process_start(p, 5000), TR_ESTARTFAIL);
		assert_int_equal(tr_process_start_error(p), -ENOENT);
		assert_string_equal(
		    tr_process_reason(p), "config file /nonexistent not found");
		assert_false(tr_process_is_alive(p));
		TR_ASSERT_ERR(tr_process_start(p, 5000), -EBUSY);
		tr_process_destroy(&p);
	}
	TR_ASSERT_OK(tr_process_new(&p, "no_such_actor", NULL, 0));
	TR_ASSERT_ERR(tr_process_start(p, 5000), TR_ENOACTOR);
	assert_non_null(strstr(tr_process_reason(p), "no_such_actor"));
	tr_process_destroy(&p);
	TR_ASSERT_ERR(tr_process_new(&p, "", NULL, 0), -EINVAL);
	TR_ASSERT_ERR(tr_process_new(&p, "x", NULL, 5), -EINVAL);
}

/* A child that ends before it reports running: the reason names its exit
 * code or signal (not the text of errno 3), and its exit code is its own;
 * one that answers TR_EIGNORE exits cleanly and start says so. */
static void
test_early_end_reason_and_ignore(void **state)
{
	static const struct {
		const char *arg, *reason;
		int         err, code;
	} cases[] = {
		{ "r", "returned 3 before it reported running", TR_ESTARTFAIL,
		    3 },
		{ "x", "exited with code 4 before it reported running",
		    TR_ESTARTFAIL, 4 },
		{ "k",
		    "killed by signal SIGKILL (9) before it reported running",
		    TR_ESTARTFAIL, -SIGKILL },
		{ "i", NULL, TR_EIGNORE, 0 },
	};

	for (int m = TR_START_FORK; m <= TR_START_FORKSERVER; m++) {
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			tr_process *p;
			int         code;

			TR_ASSERT_OK(
			    tr_process_new(&p, "ends_early", cases[i].arg, 1));
			TR_ASSERT_OK(tr_process_set_start_method(p, m));
			TR_ASSERT_ERR(tr_process_start(p, 10000), cases[i].err);
			if (cases[i].reason) {
				assert_string_equal(
				    tr_process_reason(p), cases[i].reason);
			}
			TR_ASSERT_OK(tr_process_exitcode(p, &code));
			assert_int_equal(code, cases[i].code);
			tr_process_destroy(&p);
		}
	}
}

static void
test_all_start_methods_run_the_same_actor(void **state)
{
	for (int m = TR_START_FORK; m <= TR_START_FORKSERVER; m++) {
		tr_process *p;
		int         code;

		TR_ASSERT_OK(tr_process_new(&p, "echo_code", "41", 2));
		TR_ASSERT_OK(tr_process_set_name(p, "named"));
		TR_ASSERT_OK(tr_process_set_start_method(p, m));
		TR_ASSERT_OK(tr_process_start(p, 10000));
		TR_ASSERT_ERR(tr_process_set_name(p, "late"), -EBUSY);
		assert_int_equal(tr_process_start_method(p), m);
		TR_ASSERT_OK(tr_process_join(p, 10000));
		TR_ASSERT_OK(tr_process_exitcode(p, &code));
		assert_int_equal(code, 42);
		tr_process_destroy(&p);
		/* signals and exit codes work the same way for each method */
		TR_ASSERT_OK(tr_process_new(&p, "sleeper", NULL, 0));
		TR_ASSERT_OK(tr_process_set_start_method(p, m));
		TR_ASSERT_OK(tr_process_start(p, 10000));
		TR_ASSERT_OK(tr_process_kill(p));
		TR_ASSERT_OK(tr_process_join(p, 5000));
		TR_ASSERT_OK(tr_process_exitcode(p, &code));
		assert_int_equal(code, -SIGKILL);
		tr_process_destroy(&p);
		assert_int_equal(run_code("segfaults", m, &code), 0);
		assert_int_equal(code, -SIGSEGV);
		TR_ASSERT_OK(tr_process_new(&p, "args_terminated", "hello", 5));
		TR_ASSERT_OK(tr_process_set_start_method(p, m));
		TR_ASSERT_OK(tr_process_start(p, 10000));
		TR_ASSERT_OK(tr_process_join(p, 10000));
		TR_ASSERT_OK(tr_process_exitcode(p, &code));
		assert_int_equal(code, 0);
		tr_process_destroy(&p);
	}
}

static void
test_default_names_count_up(void **state)
{
	tr_process *a, *b;
	int         na, nb;

	TR_ASSERT_OK(tr_process_new(&a, "exit_ok", NULL, 0));
	TR_ASSERT_OK(tr_process_new(&b, "exit_ok", NULL, 0));
	assert_int_equal(sscanf(tr_process_name(a), "Process-%d", &na), 1);
	assert_int_equal(sscanf(tr_process_name(b), "Process-%d", &nb), 1);
	assert_int_equal(nb, na + 1);
	assert_string_equal(tr_self_name(), "MainProcess");
	assert_null(tr_self_actor());
	tr_process_destroy(&a);
	tr_process_destroy(&b);
}

static void
test_cycles_leave_no_zombie_fd_or_file(void **state)
{
	int fds   = tr_test_fd_count();
	int files = tr_test_rundir_count();

	for (int i = 0; i < 1000; i++) {
		tr_process *p;

		TR_ASSERT_OK(tr_process_new(&p, "exit_ok", NULL, 0));
		TR_ASSERT_OK(tr_process_start(p, 5000));
		TR_ASSERT_OK(tr_process_join(p, 5000));
		tr_process_destroy(&p);
	}
	assert_int_equal(tr_test_zombie_count(), 0);
	assert_int_equal(tr_test_fd_count(), fds);
	assert_int_equal(tr_test_rundir_count(), files);
	assert_int_equal(tr_active_children(), 0);
}

static pid_t
read_pid_file(const char *path)
{
	char buf[32] = "";

	for (int i = 0; i < TR_TEST_HANG_MS / 10; i++) {
		int fd = open(path, O_RDONLY);

		if (fd >= 0) {
			ssize_t n = read(fd, buf, sizeof(buf) - 1);

			close(fd);
			if (n > 0) {
				return (pid_t) atoi(buf);
			}
		}
		usleep(10000);
	}
	return 0;
}

static void
test_daemon_child_gone_after_parent_exits(void **state)
{
	char        arg[256], *path = arg + 1;
	tr_process *p;
	pid_t       grandchild;
	int         code;

	arg[0] = 'd';
	snprintf(path, sizeof(arg) - 1, "%s/daemon-pid", tr_runtime_dir());
	TR_ASSERT_OK(tr_process_new(&p, "parent_of", arg, strlen(arg) + 1));
	TR_ASSERT_OK(tr_process_start(p, 5000));
	TR_ASSERT_OK(tr_process_join(p, 10000));
	TR_ASSERT_OK(tr_process_exitcode(p, &code));
	assert_int_equal(code, 0);
	grandchild = read_pid_file(path);
	assert_true(grandchild > 0);
	assert_true(tr_test_wait_gone(grandchild, 5000));
	unlink(path);
	tr_process_destroy(&p);
}

static void
test_no_child_outlives_sigkilled_parent(void **state)
{
	for (int m = TR_START_FORK; m <= TR_START_FORKSERVER; m++) {
		char        arg[256], *path = arg + 1;
		tr_process *p;
		pid_t       grandchild;

		arg[0] = 'w';
		snprintf(path, sizeof(arg) - 1, "%s/child-pid-%d",
		    tr_runtime_dir(), m);
		TR_ASSERT_OK(
		    tr_process_new(&p, "parent_of", arg, strlen(arg) + 1));
		TR_ASSERT_OK(tr_process_set_start_method(p, m));
		TR_ASSERT_OK(tr_process_start(p, 10000));
		grandchild = read_pid_file(path);
		assert_true(grandchild > 0);
		assert_true(tr_test_pid_alive(grandchild));
		TR_ASSERT_OK(tr_process_kill(p));
		TR_ASSERT_OK(tr_process_join(p, 5000));
		assert_true(tr_test_wait_gone(grandchild, 5000));
		unlink(path);
		tr_process_destroy(&p);
	}
}

static void
test_active_children_and_destroy_running(void **state)
{
	tr_process *p[3];
	pid_t       pid;

	for (int i = 0; i < 3; i++) {
		TR_ASSERT_OK(tr_process_new(&p[i], "sleeper", NULL, 0));
		TR_ASSERT_OK(tr_process_start(p[i], 5000));
	}
	assert_int_equal(tr_active_children(), 3);
	pid = tr_process_pid(p[0]);
	tr_process_destroy(&p[0]); /* kills and reaps */
	assert_false(tr_test_pid_alive(pid));
	assert_int_equal(tr_active_children(), 2);
	tr_process_destroy(&p[1]);
	tr_process_destroy(&p[2]);
	assert_int_equal(tr_active_children(), 0);
	assert_int_equal(tr_test_zombie_count(), 0);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exitcode_table),
		cmocka_unit_test(test_terminate_and_kill),
		cmocka_unit_test(test_join_timeout_leaves_child_alive),
		cmocka_unit_test(test_shutdown_ignoring_child_needs_kill),
		cmocka_unit_test(test_start_failures),
		cmocka_unit_test(test_all_start_methods_run_the_same_actor),
		cmocka_unit_test(test_early_end_reason_and_ignore),
		cmocka_unit_test(test_default_names_count_up),
		cmocka_unit_test(test_cycles_leave_no_zombie_fd_or_file),
		cmocka_unit_test(test_daemon_child_gone_after_parent_exits),
		cmocka_unit_test(test_no_child_outlives_sigkilled_parent),
		cmocka_unit_test(test_active_children_and_destroy_running),
	};

	if (tr_init(argc, argv) < 0) {
		return 99;
	}
	return cmocka_run_group_tests_name("process", tests, NULL, NULL);
}
