/* SPDX-License-Identifier: MIT */
/* A service's whole life (issue 15): the demo and a minimal service
 * (service-prog.c) are stopped by SIGTERM to the main program, SIGINT and
 * SIGHUP to their process group, a second SIGINT, SIGKILL of the main
 * program or of the root supervisor, under fork, spawn and the forkserver.
 * After each, within a generous bound: no process of the run is alive or
 * a zombie, its runtime directory is gone, and after a graceful stop the
 * children stopped in reverse start order and the summary was printed.
 *
 * This process is a child subreaper, so whatever a run leaves behind
 * (orphans, the tracker) becomes its child, to be seen and reaped.  It
 * never calls tr_init(): it has no run, and so no tracker, of its own.
 * Leftovers are killed by pid, never by name. */
#include "tr-test.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define BOUND_MS 20000 /* for the run to be gone: a hang guard only */
#define MAXPIDS  64

static const char *const methods[] = { "fork", "spawn", "forkserver" };

struct svc {
	pid_t  pid; /* the main program, leader of its own process group */
	int    out, err;
	char   dir[64];  /* ours: holds rt/ and the log */
	char   rt[96];   /* the run's TROUPE_RUNTIME_DIR */
	char   log[96];  /* SVC_LOG */
	char   o[32768]; /* its stdout, and stderr */
	char   e[8192];
	size_t no, ne;
	pid_t  pids[MAXPIDS]; /* every pid of the run we learnt */
	int    npids;
	pid_t  tracker; /* service-prog says which */
	int    status;  /* exit code, or 128 + signal */
};

static struct svc S;

/* ---- running a program ---------------------------------------------------
 */

static void
child_exec(
    char *const argv[], const char *method, bool slow, int out[2], int err[2])
{
	sigset_t none;

	(void) setpgid(0, 0);
	/* what a terminal's foreground job gets, whatever we inherited */
	(void) signal(SIGINT, SIG_DFL);
	(void) signal(SIGHUP, SIG_DFL);
	(void) signal(SIGTERM, SIG_DFL);
	sigemptyset(&none);
	(void) sigprocmask(SIG_SETMASK, &none, NULL);
	(void) prctl(PR_SET_CHILD_SUBREAPER, 0);
	setenv("TROUPE_START_METHOD", method, 1);
	setenv("TROUPE_RUNTIME_DIR", S.rt, 1);
	setenv("SVC_LOG", S.log, 1);
	unsetenv("TROUPE_LOG");
	if (slow) {
		setenv("SVC_SLOW", "1", 1);
	} else {
		unsetenv("SVC_SLOW");
	}
	dup2(out[1], 1);
	dup2(err[1], 2);
	execv(argv[0], argv);
	_exit(127);
}

static void
start(const char *program, const char *arg, const char *method, bool slow)
{
	char  path[4096];
	char *argv[] = { path, (char *) arg, NULL };
	int   out[2], err[2];

	memset(&S, 0, sizeof(S));
	snprintf(path, sizeof(path), "%s", tr_test_build_path(program));
	snprintf(S.dir, sizeof(S.dir), "%s/trsvc-XXXXXX", tr_test_tmpdir());
	assert_non_null(mkdtemp(S.dir));
	snprintf(S.rt, sizeof(S.rt), "%s/rt", S.dir);
	snprintf(S.log, sizeof(S.log), "%s/log", S.dir);
	assert_int_equal(mkdir(S.rt, 0700), 0);
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	assert_int_equal(pipe2(err, O_CLOEXEC), 0);
	fflush(NULL);
	S.pid = fork();
	assert_true(S.pid >= 0);
	if (S.pid == 0) {
		child_exec(argv, method, slow, out, err);
	}
	(void) setpgid(S.pid, S.pid); /* either of us may be first */
	close(out[1]);
	close(err[1]);
	S.out             = out[0];
	S.err             = err[0];
	S.pids[S.npids++] = S.pid;
}

/* Read what is there, waiting up to ms; false once both pipes are shut. */
static bool
pump(int ms)
{
	struct pollfd pfd[2] = { { .fd = S.out, .events = POLLIN },
		{ .fd = S.err, .events = POLLIN } };
	char         *buf[2] = { S.o, S.e };
	size_t       *got[2] = { &S.no, &S.ne };
	size_t        cap[2] = { sizeof(S.o), sizeof(S.e) };

	if (S.out < 0 && S.err < 0) {
		return false;
	}
	if (poll(pfd, 2, ms) <= 0) {
		return true;
	}
	for (int i = 0; i < 2; i++) {
		ssize_t n;

		if (pfd[i].fd < 0 || !pfd[i].revents) {
			continue;
		}
		n = read(pfd[i].fd, buf[i] + *got[i], cap[i] - 1 - *got[i]);
		if (n > 0) {
			*got[i] += (size_t) n;
			buf[i][*got[i]] = '\0';
		} else {
			close(pfd[i].fd);
			*(i ? &S.err : &S.out) = -1;
		}
	}
	return true;
}

static char *
slurp_log(void)
{
	static char buf[8192];
	int         fd = open(S.log, O_RDONLY | O_CLOEXEC);
	ssize_t     n  = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : 0;

	buf[n > 0 ? n : 0] = '\0';
	if (fd >= 0) {
		close(fd);
	}
	return buf;
}

static int
count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p++) {
		n++;
	}
	return n;
}

/* Wait until stdout has needle (1) or the bound passed (0). */
static int
wait_output(const char *needle)
{
	int64_t end = tr_test_now_ms() + TR_TEST_HANG_MS;

	while (!strstr(S.o, needle) && tr_test_now_ms() < end && pump(100)) { }
	return strstr(S.o, needle) != NULL;
}

/* Wait until the log holds n times needle. */
static int
wait_log(const char *needle, int n)
{
	int64_t end = tr_test_now_ms() + TR_TEST_HANG_MS;

	while (count(slurp_log(), needle) < n && tr_test_now_ms() < end) {
		(void) pump(20);
	}
	return count(slurp_log(), needle) >= n;
}

static void
learn_pid(pid_t pid)
{
	for (int i = 0; i < S.npids; i++) {
		if (S.pids[i] == pid) {
			return;
		}
	}
	if (pid > 0 && S.npids < MAXPIDS) {
		S.pids[S.npids++] = pid;
	}
}

/* Every pid that follows key in text ("pid ", "start a ", ...). */
static void
learn_pids_after(const char *text, const char *key)
{
	for (const char *p = text; (p = strstr(p, key)); p++) {
		learn_pid((pid_t) atoi(p + strlen(key)));
	}
}

static void
learn_log_pids(void)
{
	static const char *const keys[] = { "start a ", "start b ", "start c ",
		"start d ", "start e " };

	for (size_t i = 0; i < 5; i++) {
		learn_pids_after(slurp_log(), keys[i]);
	}
}

/* Read to the end of its output, and reap the main program. */
static void
finish(void)
{
	int64_t end = tr_test_now_ms() + TR_TEST_HANG_MS;
	int     st;

	while (tr_test_now_ms() < end && pump(100)) { }
	if (S.out >= 0 || S.err >= 0) {
		print_error("output still open after %d ms\n", TR_TEST_HANG_MS);
	}
	assert_int_equal(waitpid(S.pid, &st, 0), S.pid);
	S.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	if (S.ne) {
		print_message("[stderr of %d]\n%s", (int) S.pid, S.e);
	}
}

static bool
pid_gone(pid_t pid)
{
	return kill(pid, 0) < 0 && errno == ESRCH; /* not even a zombie */
}

/* Within the bound: every pid learnt gone (not even a zombie), no child
 * of ours left (orphans and the tracker come to us), the runtime base
 * empty.  What is left is printed, killed by pid, and fails the test. */
static void
expect_nothing_left(void)
{
	int64_t end = tr_test_now_ms() + BOUND_MS;
	pid_t   kids[MAXPIDS];
	int     nkids = 0, left = 0, dirs = 0, tracked = 0;
	char    file[128], shm[64];

	/* service-prog's registered names (the demo has none) */
	snprintf(file, sizeof(file), "%s.tracked", S.log);
	snprintf(shm, sizeof(shm), "/dev/shm/trsvc-%d", (int) S.pid);

	while (tr_test_now_ms() < end) {
		while (waitpid(-1, NULL, WNOHANG) > 0) { }
		left = 0;
		for (int i = 0; i < S.npids; i++) {
			left += !pid_gone(S.pids[i]);
		}
		nkids   = tr_test_children(getpid(),
		      TR_TEST_CHILD_RUNNING | TR_TEST_CHILD_ZOMBIE, kids,
		      MAXPIDS);
		dirs    = tr_test_dir_count(S.rt);
		tracked = (access(file, F_OK) == 0) + (access(shm, F_OK) == 0);
		if (left == 0 && nkids == 0 && dirs == 0 && tracked == 0) {
			break;
		}
		usleep(20000);
	}
	for (int i = 0; i < S.npids; i++) {
		if (!pid_gone(S.pids[i])) {
			print_error(
			    "pid %d of the run is left\n", (int) S.pids[i]);
			(void) kill(S.pids[i], SIGKILL);
		}
	}
	for (int i = 0; i < nkids && i < MAXPIDS; i++) {
		print_error("process %d is left\n", (int) kids[i]);
		(void) kill(kids[i], SIGKILL);
		(void) waitpid(kids[i], NULL, 0);
	}
	if (dirs != 0) {
		print_error("%d entries left in %s\n", dirs, S.rt);
	}
	if (tracked != 0) {
		print_error("a registered name is left: %s.tracked or %s\n",
		    S.log, shm);
		(void) unlink(shm);
	}
	(void) unlink(S.log);
	(void) unlink(file);
	(void) rmdir(S.rt);
	(void) rmdir(S.dir);
	assert_int_equal(left, 0);
	assert_int_equal(nkids, 0);
	assert_int_equal(dirs, 0);
	assert_int_equal(tracked, 0);
}

/* ---- the minimal service ------------------------------------------------ */

static void
start_service(const char *mode, const char *method, bool slow)
{
	char *p;

	start("tests/service-prog", mode, method, slow);
	assert_true(wait_output("tracker "));
	assert_true(wait_log("start ", 5));
	p         = strstr(S.o, "tracker ");
	S.tracker = (pid_t) atoi(p + 8);
	learn_pid(S.tracker);
	learn_log_pids();
	if (strcmp(mode, "start") == 0) {
		assert_true(wait_output("root "));
		learn_pids_after(S.o, "root ");
	}
}

/* The log says: a, b, c, d, e started in that order, and then (if
 * stopped) e, d, c, b, a stopped in that order. */
static void
expect_order(bool stopped)
{
	static const char *const want[] = { "start a", "start b", "start c",
		"start d", "start e", "stop e", "stop d", "stop c", "stop b",
		"stop a" };
	char                    *log = slurp_log(), *at = log;
	int                      n = stopped ? 10 : 5;

	for (int i = 0; i < n; i++) {
		char *p = strstr(at, want[i]);

		if (!p) {
			print_error("log lacks '%s' after offset %d:\n%s\n",
			    want[i], (int) (at - log), log);
		}
		assert_non_null(p);
		at = p + 1;
	}
}

static void
graceful_run(const char *mode, int sig, bool group)
{
	for (int m = 0; m < 3; m++) {
		start_service(mode, methods[m], false);
		assert_int_equal(kill(group ? -S.pid : S.pid, sig), 0);
		finish();
		assert_int_equal(S.status, 0);
		expect_order(true);
		assert_non_null(strstr(S.o,
		    strcmp(mode, "run") == 0 ? "summary: stopped in order"
		                             : "summary: destroyed"));
		expect_nothing_left();
	}
}

static void
test_run_sigterm_to_main(void **state)
{
	graceful_run("run", SIGTERM, false);
}

static void
test_run_sigint_to_group(void **state)
{
	graceful_run("run", SIGINT, true);
}

static void
test_run_sighup_to_group(void **state)
{
	graceful_run("run", SIGHUP, true);
}

static void
test_run_sigkill_main(void **state)
{
	for (int m = 0; m < 3; m++) {
		start_service("run", methods[m], false);
		assert_int_equal(kill(S.pid, SIGKILL), 0);
		finish();
		assert_int_equal(S.status, 128 + SIGKILL);
		expect_nothing_left();
	}
}

/* a takes for ever to stop: the second Ctrl-C kills it, and says so */
static void
test_run_second_sigint_kills_at_once(void **state)
{
	for (int m = 0; m < 3; m++) {
		start_service("run", methods[m], true);
		assert_int_equal(kill(-S.pid, SIGINT), 0);
		assert_true(wait_log("stopping a", 1));
		assert_int_equal(kill(-S.pid, SIGINT), 0);
		finish();
		assert_int_equal(S.status, 1);
		assert_non_null(strstr(S.e, "second SIGINT during shutdown"));
		assert_non_null(strstr(S.o, "summary: Interrupted"));
		assert_null(strstr(slurp_log(), "stop a"));
		expect_nothing_left();
	}
}

static void
test_start_sigterm_to_main_destroys(void **state)
{
	graceful_run("start", SIGTERM, false);
}

/* Ctrl-C reaches the main program and the root: the root's ordered
 * shutdown is not cut short by its parent's SIGTERM (the destroy). */
static void
test_start_sigint_to_group(void **state)
{
	graceful_run("start", SIGINT, true);
}

/* The root supervisor SIGKILLed: its tree dies with it, the program lives
 * on (and keeps its directory), and leaves nothing when it ends. */
static void
test_start_sigkill_root(void **state)
{
	for (int m = 0; m < 3; m++) {
		pid_t root;

		start_service("start", methods[m], false);
		root = (pid_t) atoi(strstr(S.o, "root ") + 5);
		assert_int_equal(kill(root, SIGKILL), 0);
		assert_true(wait_output("root died"));
		for (int i = 0; i < S.npids; i++) {
			if (S.pids[i] != S.pid && S.pids[i] != S.tracker) {
				assert_true(
				    tr_test_wait_gone(S.pids[i], BOUND_MS));
			}
		}
		assert_true(tr_test_pid_alive(S.pid));
		assert_int_equal(tr_test_dir_count(S.rt), 1);
		assert_int_equal(kill(S.pid, SIGTERM), 0);
		finish();
		assert_int_equal(S.status, 0);
		assert_non_null(strstr(S.o, "summary: root had died"));
		expect_nothing_left();
	}
}

static void
test_start_sigkill_main(void **state)
{
	for (int m = 0; m < 3; m++) {
		start_service("start", methods[m], false);
		assert_int_equal(kill(S.pid, SIGKILL), 0);
		finish();
		expect_nothing_left();
	}
}

/* ---- the demo ------------------------------------------------------------
 */

static void
start_demo(const char *method)
{
	start("examples/demo", "--seconds=3600", method, false);
	/* the first printout of the tree ends with the reporter */
	assert_true(wait_output("`- reporter"));
	learn_pids_after(S.o, "pid ");
}

/* The shutdown lines, in reverse start order, then the summary. */
static void
expect_demo_stopped_in_order(void)
{
	static const char *const want[] = { "reporter  stopped first",
		"crashy    stopped", "worker.3  stopped", "worker.2  stopped",
		"worker.1  stopped", "dispatcher stopped last", "Summary: " };
	char                    *at     = S.o;

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		char *p = strstr(at, want[i]);

		/* crashy aborts on one job in eight: a stop that comes while
		 * it is dead or being restarted finds no crashy to stop (on
		 * a busy machine its restart takes long enough to be hit) */
		if (!p && strncmp(want[i], "crashy", 6) == 0 &&
		    !strstr(S.o, want[i])) {
			continue;
		}
		if (!p) {
			print_error("no '%s' in order in:\n%s\n", want[i], S.o);
		}
		assert_non_null(p);
		at = p;
	}
	assert_non_null(strstr(at, " 0 lost, 0 done twice."));
	assert_int_equal(S.status, 0);
}

static void
demo_graceful(int sig, bool group, int nmethods)
{
	for (int m = 0; m < nmethods; m++) {
		start_demo(methods[m]);
		assert_int_equal(kill(group ? -S.pid : S.pid, sig), 0);
		finish();
		expect_demo_stopped_in_order();
		expect_nothing_left();
	}
}

static void
test_demo_ctrl_c(void **state)
{
	demo_graceful(SIGINT, true, 3);
}

static void
test_demo_sigterm(void **state)
{
	demo_graceful(SIGTERM, false, 3);
}

static void
test_demo_sighup(void **state)
{
	demo_graceful(SIGHUP, true, 1);
}

static void
test_demo_sigkill(void **state)
{
	for (int m = 0; m < 3; m++) {
		start_demo(methods[m]);
		assert_int_equal(kill(S.pid, SIGKILL), 0);
		finish();
		assert_int_equal(S.status, 128 + SIGKILL);
		expect_nothing_left();
	}
}

/* After a failed assertion too: what the run left is killed by pid, and
 * the test's own files go. */
static int
cleanup(void **state)
{
	char path[128];

	for (int i = 0; i < S.npids; i++) {
		if (!pid_gone(S.pids[i])) {
			(void) kill(S.pids[i], SIGKILL);
		}
	}
	while (waitpid(-1, NULL, WNOHANG) > 0) { }
	if (S.dir[0]) {
		snprintf(path, sizeof(path), "%s.tracked", S.log);
		(void) unlink(path);
		(void) unlink(S.log);
		(void) rmdir(S.rt);
		(void) rmdir(S.dir);
	}
	if (S.dir[0] && S.out >= 0) {
		close(S.out);
	}
	if (S.dir[0] && S.err >= 0) {
		close(S.err);
	}
	memset(&S, 0, sizeof(S));
	return 0;
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_run_sigterm_to_main, cleanup),
		cmocka_unit_test_teardown(test_run_sigint_to_group, cleanup),
		cmocka_unit_test_teardown(test_run_sighup_to_group, cleanup),
		cmocka_unit_test_teardown(test_run_sigkill_main, cleanup),
		cmocka_unit_test_teardown(
		    test_run_second_sigint_kills_at_once, cleanup),
		cmocka_unit_test_teardown(
		    test_start_sigterm_to_main_destroys, cleanup),
		cmocka_unit_test_teardown(test_start_sigint_to_group, cleanup),
		cmocka_unit_test_teardown(test_start_sigkill_root, cleanup),
		cmocka_unit_test_teardown(test_start_sigkill_main, cleanup),
		cmocka_unit_test_teardown(test_demo_ctrl_c, cleanup),
		cmocka_unit_test_teardown(test_demo_sigterm, cleanup),
		cmocka_unit_test_teardown(test_demo_sighup, cleanup),
		cmocka_unit_test_teardown(test_demo_sigkill, cleanup),
	};

	(void) argc;
	(void) argv;
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
		return 99;
	}
	return cmocka_run_group_tests_name("service", tests, NULL, NULL);
}
