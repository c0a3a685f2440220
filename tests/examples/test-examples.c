/* SPDX-License-Identifier: MIT */
/* Runs each example program (from the build tree) and checks its output
 * line by line, under each start method where the example leaves the
 * choice to TROUPE_START_METHOD.  The driver is a child subreaper, so any
 * process an example leaves behind becomes our child: after each run
 * there must be none (they are killed by pid if there are).
 *
 * Usage: test-examples [TEST-NAME-PATTERN]  (cmocka's test filter) */
#include "tr-test.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define MAX_LINES      64
#define RUN_TIMEOUT_MS 30000

struct run {
	char  out[16384], err[16384];
	char *lines[MAX_LINES]; /* stdout split into lines (in out) */
	int   nlines;
	int   status; /* exit code, or 128 + signal */
};

static struct run run_;

static const char *const methods[] = { "fork", "spawn", "forkserver" };

/* One more environment entry for the examples (NULL: none): the sync
 * examples run once with TROUPE_SYNC=actor. */
static const char *extra_env;

/* environ without TROUPE_* (a developer's TROUPE_LOG would change the
 * output), plus TROUPE_START_METHOD=method when method is set. */
static char **
child_env(const char *method)
{
	static char sm[64];
	size_t      n = 0, j = 0;
	char      **env;

	while (environ[n]) {
		n++;
	}
	env = calloc(n + 3, sizeof(*env));
	assert_non_null(env);
	for (size_t i = 0; i < n; i++) {
		if (strncmp(environ[i], "TROUPE_", 7) != 0) {
			env[j++] = environ[i];
		}
	}
	if (method) {
		snprintf(sm, sizeof(sm), "TROUPE_START_METHOD=%s", method);
		env[j++] = sm;
	}
	if (extra_env) {
		env[j++] = (char *) extra_env;
	}
	return env;
}

static pid_t
spawn_example(char *const argv[], const char *method, int out[2], int err[2])
{
	posix_spawn_file_actions_t fa;
	char                     **env = child_env(method);
	pid_t                      pid;

	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	assert_int_equal(pipe2(err, O_CLOEXEC), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&fa, err[1], STDERR_FILENO);
	assert_int_equal(posix_spawn(&pid, argv[0], &fa, NULL, argv, env), 0);
	posix_spawn_file_actions_destroy(&fa);
	free(env);
	close(out[1]);
	close(err[1]);
	return pid;
}

/* Read both pipes until EOF; returns 0 on EOF, -1 at the deadline, which
 * is TR_TEST_HANG_MS after the example exited if something it left holds
 * a pipe. */
static int
collect(pid_t pid, int ofd, int efd, int64_t deadline)
{
	struct pollfd pfd[3] = { { .fd = ofd, .events = POLLIN },
		{ .fd = efd, .events = POLLIN },
		{ .fd       = (int) syscall(SYS_pidfd_open, pid, 0),
		    .events = POLLIN } };
	char         *buf[2] = { run_.out, run_.err };
	size_t        got[2] = { 0, 0 };
	int           r      = 0;

	while (pfd[0].fd >= 0 || pfd[1].fd >= 0) {
		int left = (int) (deadline - tr_test_now_ms());

		if (left <= 0 || poll(pfd, 3, left) < 0) {
			r = -1;
			break;
		}
		if (pfd[2].revents) { /* exited */
			close(pfd[2].fd);
			pfd[2].fd = -1;
			deadline  = tr_test_now_ms() + TR_TEST_HANG_MS;
		}
		for (int i = 0; i < 2; i++) {
			ssize_t n;

			if (pfd[i].fd < 0 || !pfd[i].revents) {
				continue;
			}
			n = read(pfd[i].fd, buf[i] + got[i],
			    sizeof(run_.out) - 1 - got[i]);
			if (n > 0) {
				got[i] += (size_t) n;
				continue;
			}
			close(pfd[i].fd);
			pfd[i].fd = -1;
		}
	}
	for (int i = 0; i < 3; i++) {
		if (pfd[i].fd >= 0) {
			close(pfd[i].fd);
		}
	}
	return r;
}

static void
split_lines(void)
{
	char *save = NULL, *line;

	run_.nlines = 0;
	for (line = strtok_r(run_.out, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		assert_true(run_.nlines < MAX_LINES);
		run_.lines[run_.nlines++] = line;
	}
}

/* Reap whatever the example left behind; kill (by pid) what still runs
 * after a grace period.  Returns how many had to be killed. */
static int
reap_leftovers(void)
{
	pid_t pids[64];
	int   n = 0;

	for (int waited = 0; waited <= TR_TEST_HANG_MS; waited += 10) {
		while (waitpid(-1, NULL, WNOHANG) > 0) { }
		n = tr_test_children(getpid(),
		    TR_TEST_CHILD_RUNNING | TR_TEST_CHILD_ZOMBIE, pids, 64);
		if (n == 0) {
			return 0;
		}
		usleep(10000);
	}
	for (int i = 0; i < n; i++) {
		print_error("leftover process %d: killing it\n", (int) pids[i]);
		(void) kill(pids[i], SIGKILL);
		(void) waitpid(pids[i], NULL, 0);
	}
	return n;
}

/* Run build/examples/<program> [arg] with TROUPE_START_METHOD=method
 * (unless NULL) into run_; asserts it ended in time and left nothing. */
static void
run_example(const char *method, const char *program, const char *arg)
{
	char    path[4096];
	char   *argv[] = { path, (char *) arg, NULL };
	int     out[2], err[2], status = 0, timed_out, leftovers;
	int64_t deadline = tr_test_now_ms() + RUN_TIMEOUT_MS;
	pid_t   pid;

	snprintf(path, sizeof(path), "%s/%s", tr_test_build_path("examples"),
	    program);
	memset(&run_, 0, sizeof(run_));
	pid       = spawn_example(argv, method, out, err);
	timed_out = collect(pid, out[0], err[0], deadline) < 0;
	if (timed_out) {
		print_error("%s %s: no end of output in time\n", program,
		    arg ? arg : "");
		(void) kill(pid, SIGKILL);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	run_.status =
	    WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	split_lines();
	if (run_.status != 0 || run_.err[0]) {
		print_message("[%s %s %s] stderr:\n%s", program, arg ? arg : "",
		    method ? method : "", run_.err);
	}
	leftovers = reap_leftovers();
	assert_false(timed_out);
	assert_int_equal(leftovers, 0);
}

/* Does line match the extended regex re (anchored)?  If cap, *cap is the
 * first group as a number. */
static int
matches(const char *line, const char *re, long *cap)
{
	regex_t    rx;
	regmatch_t m[2];
	char       anchored[512];
	int        ok;

	snprintf(anchored, sizeof(anchored), "^%s$", re);
	assert_int_equal(regcomp(&rx, anchored, REG_EXTENDED), 0);
	ok = regexec(&rx, line, 2, m, 0) == 0;
	if (ok && cap && m[1].rm_so >= 0) {
		*cap = strtol(line + m[1].rm_so, NULL, 10);
	}
	regfree(&rx);
	return ok;
}

static void
expect_lines(const char *const *re, int n)
{
	for (int i = 0; i < run_.nlines && i < n; i++) {
		if (!matches(run_.lines[i], re[i], NULL)) {
			print_error("line %d: '%s' does not match '%s'\n",
			    i + 1, run_.lines[i], re[i]);
		}
		assert_true(matches(run_.lines[i], re[i], NULL));
	}
	assert_int_equal(run_.nlines, n);
}

#define EXPECT_LINES(...)                                         \
	do {                                                      \
		static const char *const re_[] = { __VA_ARGS__ }; \
		expect_lines(re_, sizeof(re_) / sizeof(re_[0]));  \
	} while (0)

static void
expect_clean_exit(void)
{
	assert_int_equal(run_.status, 0);
	assert_string_equal(run_.err, "");
}

static void
test_hello(void **state)
{
	for (int m = 0; m < 3; m++) {
		run_example(methods[m], "hello", NULL);
		expect_clean_exit();
		EXPECT_LINES("hello bob");
	}
}

static void
test_workers(void **state)
{
	for (int m = 0; m < 3; m++) {
		run_example(methods[m], "workers", NULL);
		expect_clean_exit();
		EXPECT_LINES("Worker: 0", "Worker: 1", "Worker: 2", "Worker: 3",
		    "Worker: 4");
	}
}

static void
test_naming(void **state)
{
	for (int m = 0; m < 3; m++) {
		run_example(methods[m], "naming", NULL);
		expect_clean_exit();
		/* the two workers sleep equally long: either may end first */
		EXPECT_LINES("worker 1 Starting", "Process-3 Starting",
		    "my_service Starting", "(worker 1|Process-3) Exiting",
		    "(worker 1|Process-3) Exiting", "my_service Exiting");
		assert_string_not_equal(run_.lines[3], run_.lines[4]);
	}
}

static void
test_daemon_terminated_at_exit(void **state)
{
	for (int m = 0; m < 3; m++) {
		long daemon = 0, non_daemon = 0, again = 0;

		run_example(methods[m], "daemon", NULL);
		expect_clean_exit();
		EXPECT_LINES("Starting: daemon [0-9]+",
		    "Starting: non-daemon [0-9]+",
		    "Exiting : non-daemon [0-9]+");
		assert_true(matches(
		    run_.lines[0], "Starting: daemon ([0-9]+)", &daemon));
		assert_true(matches(run_.lines[1],
		    "Starting: non-daemon ([0-9]+)", &non_daemon));
		assert_true(matches(
		    run_.lines[2], "Exiting : non-daemon ([0-9]+)", &again));
		assert_int_equal(non_daemon, again);
		assert_int_not_equal(daemon, non_daemon);
		/* gone, not merely orphaned */
		assert_false(tr_test_pid_alive((pid_t) daemon));
	}
}

static void
test_daemon_join(void **state)
{
	for (int m = 0; m < 3; m++) {
		run_example(methods[m], "daemon", "join");
		expect_clean_exit();
		EXPECT_LINES("Starting: daemon", "Starting: non-daemon",
		    "Exiting : non-daemon", "Exiting : daemon");
	}
}

static void
test_daemon_join_timeout(void **state)
{
	for (int m = 0; m < 3; m++) {
		run_example(methods[m], "daemon", "timeout");
		expect_clean_exit();
		EXPECT_LINES("Starting: daemon", "Starting: non-daemon",
		    "Exiting : non-daemon", "d\\.is_alive\\(\\) True");
	}
}

static void
test_terminate(void **state)
{
#define PROC "<Process name='Process-1' pid=[0-9]+ parent=[0-9]+ "
	for (int m = 0; m < 3; m++) {
		run_example(methods[m], "terminate", NULL);
		expect_clean_exit();
		/* right after terminate() the child may already be gone */
		EXPECT_LINES("BEFORE: <Process name='Process-1' parent=[0-9]+ "
		             "initial> False",
		    "Starting worker", "DURING: " PROC "started> True",
		    "TERMINATED: " PROC "(started> True|stopped "
		    "exitcode=-SIGTERM> False)",
		    "JOINED: " PROC "stopped exitcode=-SIGTERM> False");
	}
#undef PROC
}

static void
test_exitcode(void **state)
{
	for (int m = 0; m < 3; m++) {
		run_example(methods[m], "exitcode", NULL);
		assert_int_equal(run_.status, 0);
		EXPECT_LINES("Starting process for exit_error",
		    "Starting process for exit_ok",
		    "Starting process for return_value",
		    "Starting process for raises",
		    "Starting process for terminated",
		    "     exit_error\\.exitcode = 1",
		    "        exit_ok\\.exitcode = 0",
		    "   return_value\\.exitcode = 1",
		    "         raises\\.exitcode = 1",
		    "     terminated\\.exitcode = -15");
		/* the error is logged, as Python prints the traceback */
		assert_non_null(strstr(run_.err, "[ERROR/raises] "));
		assert_non_null(strstr(run_.err, "There was an error!\n"));
	}
}

static void
test_subclass(void **state)
{
	for (int m = 0; m < 3; m++) {
		run_example(methods[m], "subclass", NULL);
		expect_clean_exit();
		EXPECT_LINES("In Process-1", "In Process-2", "In Process-3",
		    "In Process-4", "In Process-5");
	}
}

/* Every stderr line is a log line; returns how many are at level. */
static int
count_log_lines(const char *level)
{
	char  re[64];
	char *save = NULL, *line;
	int   n    = 0;

	snprintf(re, sizeof(re), "\\[%s/[^]]+\\] .*", level);
	for (line = strtok_r(run_.err, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		assert_true(matches(line, "\\[(DEBUG|INFO)/[^]]+\\] .+", NULL));
		n += matches(line, re, NULL);
	}
	return n;
}

static void
test_logging(void **state)
{
	static const char done[] =
	    "[INFO/MainProcess] Process-1 exited with exitcode 0\n";

	for (int m = 0; m < 3; m++) {
		run_example(methods[m], "logging", NULL);
		assert_int_equal(run_.status, 0);
		EXPECT_LINES("Doing some work");
		assert_non_null(strstr(run_.err, done));
		assert_true(count_log_lines("DEBUG") >= 1);

		run_example(methods[m], "logging", "info");
		assert_int_equal(run_.status, 0);
		EXPECT_LINES("Doing some work");
		assert_string_equal(run_.err, done);

		run_example(methods[m], "logging", "none");
		expect_clean_exit();
		EXPECT_LINES("Doing some work");
	}
}

static void
test_start_methods(void **state)
{
	run_example(NULL, "start-methods", NULL);
	expect_clean_exit();
	EXPECT_LINES("fork      : Process-1 sees value = 42, its parent is the "
	             "main program",
	    "fork      : Process-1 exited with exitcode 0",
	    "spawn     : Process-2 sees value = 0, its parent is the "
	    "main program",
	    "spawn     : Process-2 exited with exitcode 0",
	    "forkserver: Process-3 sees value = 0, its parent is the "
	    "main program",
	    "forkserver: Process-3 exited with exitcode 0");
}

static void
test_tour(void **state)
{
	const char *want[] = { "== hello: ", "hello bob",
		"== exitcode: ", "terminated.exitcode = -15",
		"== start-methods: ",
		"forkserver: Process-3 exited with exitcode 0" };
	int         at     = 0;

	run_example(NULL, "tour", NULL);
	assert_int_equal(run_.status, 0);
	/* each of these, in this order */
	for (int i = 0; i < run_.nlines && at < 6; i++) {
		at += strstr(run_.lines[i], want[at]) != NULL;
	}
	assert_int_equal(at, 6);
}

/* The main demo: a supervision tree that restarts a crashing worker and
 * loses no job, each job's batch mapped right by the tree's tr_pool; bad
 * arguments get a usage message. */
static void
test_demo(void **state)
{
	long jobs = 0, restarts = 0, batches = 0, bad = -1;
	int  found = 0;

	for (int m = 0; m < 3; m++) {
		run_example(methods[m], "demo", "--seconds=2");
		expect_clean_exit();
		assert_true(run_.nlines > 10);
		for (int i = 0; i < run_.nlines; i++) {
			/* the workers' batches, mapped by the squares pool */
			(void) sscanf(run_.lines[i],
			    "The squares pool mapped %ld batches of 4 numbers: "
			    "%ld wrong sums.",
			    &batches, &bad);
			if (sscanf(run_.lines[i],
			        "Summary: %ld jobs done, %ld restarts", &jobs,
			        &restarts) == 2) {
				found = 1;
				assert_non_null(strstr(
				    run_.lines[i], " 0 lost, 0 done twice."));
			}
		}
		assert_true(found);
		assert_true(jobs > 0);
		assert_true(restarts > 0);
		assert_int_equal(batches, jobs);
		assert_int_equal(bad, 0);
	}
	run_example(NULL, "demo", "--seconds=soon");
	assert_int_equal(run_.status, 2);
	assert_non_null(strstr(run_.err, "--seconds wants a whole number"));
	run_example(NULL, "demo", "--bogus");
	assert_int_equal(run_.status, 2);
	assert_non_null(strstr(run_.err, "usage: demo"));
}

/* The seed's Event example: the timed waiter gives up after 2 s with the
 * event clear; main sets it at 3 s and the blocked waiter wakes (its line
 * and main's may come in either order). */
static void
test_event(void **state)
{
	for (int m = 0; m < 3; m++) {
		run_example(methods[m], "event", NULL);
		expect_clean_exit();
		EXPECT_LINES("wait_for_event: starting",
		    "wait_for_event_timeout: starting",
		    "main: waiting before calling Event.set\\(\\)",
		    "wait_for_event_timeout: e.is_set\\(\\)-> False",
		    "(main: event is set|wait_for_event: e.is_set\\(\\)-> "
		    "True)",
		    "(main: event is set|wait_for_event: e.is_set\\(\\)-> "
		    "True)");
		assert_string_not_equal(run_.lines[4], run_.lines[5]);
	}
}

/* ---- queues (issue 9) ---------------------------------------------------- */

static void
test_queue_worker(void **state)
{
	for (int m = 0; m < 3; m++) {
		run_example(methods[m], "queue-worker", NULL);
		expect_clean_exit();
		EXPECT_LINES("\\[42, None, 'hello'\\]");
	}
}

static void
test_queue_results(void **state)
{
	for (int m = 0; m < 3; m++) {
		int seen[10] = { 0 };

		run_example(methods[m], "queue-results", NULL);
		expect_clean_exit();
		/* the children say hello in any order, each once */
		EXPECT_LINES("\\[[0-9]\\] Hello!", "\\[[0-9]\\] Hello!",
		    "\\[[0-9]\\] Hello!", "\\[[0-9]\\] Hello!",
		    "\\[[0-9]\\] Hello!", "\\[[0-9]\\] Hello!",
		    "\\[[0-9]\\] Hello!", "\\[[0-9]\\] Hello!",
		    "\\[[0-9]\\] Hello!", "\\[[0-9]\\] Hello!", "Done!", "10",
		    "\\[[0-9]+(, [0-9]+){9}\\]");
		for (int i = 0; i < 10; i++) {
			seen[run_.lines[i][1] - '0']++;
		}
		for (int i = 0; i < 10; i++) {
			assert_int_equal(seen[i], 1);
		}
	}
}

static void
test_joinable_queue(void **state)
{
	for (int m = 0; m < 3; m++) {
		long consumers = 0;
		int  tasks = 0, exiting = 0, results[10] = { 0 }, i = 1;

		run_example(methods[m], "joinable-queue", NULL);
		expect_clean_exit();
		assert_true(run_.nlines > 0);
		assert_true(matches(
		    run_.lines[0], "Creating ([0-9]+) consumers", &consumers));
		/* every consumer line comes before the first result: the
		 * results are printed after join() */
		for (; i < run_.nlines && strncmp(run_.lines[i], "Result", 6);
		     i++) {
			if (matches(run_.lines[i],
			        "Process-[0-9]+: [0-9] \\* [0-9]", NULL)) {
				tasks++;
			} else {
				assert_true(matches(run_.lines[i],
				    "Process-[0-9]+: Exiting", NULL));
				exiting++;
			}
		}
		assert_int_equal(tasks, 10);
		assert_int_equal(exiting, consumers);
		assert_int_equal(run_.nlines - i, 10);
		for (; i < run_.nlines; i++) {
			int a, b, p;

			assert_int_equal(
			    sscanf(run_.lines[i], "Result: %d * %d = %d", &a,
			        &b, &p),
			    3);
			assert_true(a >= 0 && a < 10 && b == a && p == a * a);
			results[a]++;
		}
		for (int k = 0; k < 10; k++) {
			assert_int_equal(results[k], 1);
		}
	}
}

static void
test_pipe(void **state)
{
	for (int m = 0; m < 3; m++) {
		run_example(methods[m], "pipe", NULL);
		expect_clean_exit();
		EXPECT_LINES("\\[42, None, 'hello'\\]");
	}
}

static void
test_pool_map(void **state)
{
	for (int m = 0; m < 3; m++) {
		run_example(methods[m], "pool-map", NULL);
		expect_clean_exit();
		EXPECT_LINES("\\[1, 4, 9\\]");
	}
}

static void
test_pool_walkthrough(void **state)
{
	for (int m = 0; m < 3; m++) {
		long seen = 0, v;

		run_example(methods[m], "pool", NULL);
		expect_clean_exit();
		EXPECT_LINES("\\[0, 1, 4, 9, 16, 25, 36, 49, 64, 81\\]",
		    "([0-9]+)", "([0-9]+)", "([0-9]+)", "([0-9]+)", "([0-9]+)",
		    "([0-9]+)", "([0-9]+)", "([0-9]+)", "([0-9]+)", "([0-9]+)",
		    "400", "[0-9]+", "\\[[0-9]+, [0-9]+, [0-9]+, [0-9]+\\]",
		    "We lacked patience and got a "
		    "multiprocessing.TimeoutError",
		    "For the moment, the pool remains available for more work",
		    "Now the pool is closed and no longer available");
		/* imap_unordered: each square once, in any order */
		for (int i = 1; i <= 10; i++) {
			assert_true(matches(run_.lines[i], "([0-9]+)", &v));
			for (long k = 0; k < 10; k++) {
				if (v == k * k) {
					seen |= 1L << k;
				}
			}
		}
		assert_int_equal(seen, 0x3ff);
	}
}

/* processing's intro: apply_async + get(timeout=1), map, imap's next(). */
static void
test_pool_apply(void **state)
{
	for (int m = 0; m < 3; m++) {
		run_example(methods[m], "pool-apply", NULL);
		expect_clean_exit();
		EXPECT_LINES("100", "\\[0, 1, 4, 9, 16, 25, 36, 49, 64, 81\\]",
		    "0", "1", "4");
	}
}

/* Five long_time_task()s: the parent's first line and last line; each
 * task's "Run task" (a worker's pid, not the parent's) before its
 * "runs" line, once each, in any order with "Waiting ...". */
static void
test_pool_tasks(void **state)
{
	for (int m = 0; m < 3; m++) {
		long parent = 0, pid, task, ran = 0, runs = 0;
		int  waiting = 0;

		run_example(methods[m], "pool-tasks", NULL);
		expect_clean_exit();
		assert_int_equal(run_.nlines, 13);
		assert_true(matches(
		    run_.lines[0], "Parent process ([0-9]+)\\.", &parent));
		assert_true(
		    matches(run_.lines[12], "All subprocesses done\\.", NULL));
		for (int i = 1; i < 12; i++) {
			const char *l = run_.lines[i];

			if (strcmp(l, "Waiting for all subprocesses done...") ==
			    0) {
				waiting++;
			} else if (sscanf(l, "Run task %ld (%ld)...", &task,
			               &pid) == 2) {
				assert_true(task >= 0 && task < 5);
				assert_true(pid != parent);
				assert_false(ran & (1L << task));
				ran |= 1L << task;
			} else {
				assert_true(matches(l,
				    "Task ([0-4]) runs [0-9]+\\.[0-9]{2} "
				    "seconds\\.",
				    &task));
				assert_true(ran & (1L << task)); /* ran first */
				assert_false(runs & (1L << task));
				runs |= 1L << task;
			}
		}
		assert_int_equal(waiting, 1);
		assert_int_equal(ran, 0x1f);
		assert_int_equal(runs, 0x1f);
	}
}

/* Each run: Input, Built-in, a "Starting worker.N" line per worker
 * started (at least the pool's size; more with maxtasksperchild, where
 * recycled workers are replaced), then Pool with the doubled list. */
static void
test_pool_init(void **state)
{
	int ncpu = tr_cpu_count();

	for (int m = 0; m < 3; m++) {
		int i = 0;

		run_example(methods[m], "pool-init", NULL);
		expect_clean_exit();
		for (int run = 0; run < 2; run++) {
			int started = 0;

			assert_true(i + 2 < run_.nlines);
			assert_true(matches(run_.lines[i++],
			    "Input   : \\[0, 1, 2, 3, 4, 5, 6, 7, 8, 9\\]",
			    NULL));
			assert_true(matches(run_.lines[i++],
			    "Built-in: \\[0, 2, 4, 6, 8, 10, 12, 14, 16, 18\\]",
			    NULL));
			while (i < run_.nlines &&
			    matches(run_.lines[i], "Starting worker\\.[0-9]+",
			        NULL)) {
				started++;
				i++;
			}
			assert_true(started >= 2 * ncpu);
			if (run == 1) {
				assert_true(
				    started >= 5); /* 10 tasks, 2 each */
			}
			assert_true(i < run_.nlines);
			assert_true(matches(run_.lines[i++],
			    "Pool    : \\[0, 2, 4, 6, 8, 10, 12, 14, 16, 18\\]",
			    NULL));
		}
		assert_int_equal(i, run_.nlines);
	}
}

/* issue 11: Lock around printing -- ten whole lines, each number once */
static void
test_lock(void **state)
{
	for (int k = 0; k < 6; k++) {
		int m = k % 3, seen = 0;

		extra_env = k < 3 ? NULL : "TROUPE_SYNC=actor";

		run_example(methods[m], "lock", NULL);
		expect_clean_exit();
		assert_int_equal(run_.nlines, 10);
		for (int i = 0; i < run_.nlines; i++) {
			long n = -1;

			assert_true(
			    matches(run_.lines[i], "hello world ([0-9])", &n));
			seen |= 1 << n;
		}
		assert_int_equal(seen, 0x3ff);
	}
	extra_env = NULL;
}

static void
test_value_array(void **state)
{
	for (int m = 0; m < 3; m++) {
		run_example(methods[m], "value-array", NULL);
		expect_clean_exit();
		EXPECT_LINES("3\\.1415927",
		    "\\[0, -1, -2, -3, -4, -5, -6, -7, -8, -9\\]");
	}
}

/* issue 11: the Manager's dict and list changed by a child */
static void
test_manager_dict_list(void **state)
{
	for (int m = 0; m < 3; m++) {
		run_example(methods[m], "manager", NULL);
		expect_clean_exit();
		EXPECT_LINES("\\{1: '1', '2': 2, 0\\.25: None\\}",
		    "\\[9, 8, 7, 6, 5, 4, 3, 2, 1, 0\\]");
	}
}

/* a managed Namespace and Event: the value set by the producer is seen
 * after the event; a changed copy of ns.my_list is not */
static void
test_manager_namespace(void **state)
{
	for (int m = 0; m < 3; m++) {
		run_example(methods[m], "manager-namespace", NULL);
		expect_clean_exit();
		EXPECT_LINES("Before event, error: 'Namespace' object has no "
		             "attribute 'value'",
		    "After event: This is the value", "Before event: \\[\\]",
		    "After event : \\[\\]");
	}
}

/* the manager's Value and Array changed by a child */
static void
test_manager_value_array(void **state)
{
	for (int m = 0; m < 3; m++) {
		run_example(methods[m], "manager-value-array", NULL);
		expect_clean_exit();
		EXPECT_LINES("3\\.1415927",
		    "\\[0, -1, -2, -3, -4, -5, -6, -7, -8, -9\\]");
	}
}

/* ten workers' writes into one managed dict, none lost */
static void
test_manager_workers(void **state)
{
	for (int m = 0; m < 3; m++) {
		run_example(methods[m], "manager-workers", NULL);
		expect_clean_exit();
		EXPECT_LINES("Results: \\{0: 0, 1: 2, 2: 4, 3: 6, 4: 8, 5: 10, "
		             "6: 12, 7: 14, 8: 16, 9: 18\\}");
	}
}

/* a managed Condition's stages, as test_condition's */
static void
test_manager_condition(void **state)
{
	for (int m = 0; m < 3; m++) {
		run_example(methods[m], "manager-condition", NULL);
		expect_clean_exit();
		EXPECT_LINES("Starting stage_2\\[1\\]",
		    "Starting stage_2\\[2\\]", "Starting s1",
		    "s1 done and ready for stage 2",
		    "stage_2\\[[12]\\] running", "stage_2\\[[12]\\] running");
		assert_string_not_equal(run_.lines[4], run_.lines[5]);
	}
}

/* a managed Semaphore(2): never more than two workers between acquire
 * and release */
static void
test_manager_semaphore(void **state)
{
	for (int m = 0; m < 3; m++) {
		int held = 0, most = 0, acquired = 0;

		run_example(methods[m], "manager-semaphore", NULL);
		expect_clean_exit();
		assert_int_equal(run_.nlines, 10);
		for (int i = 0; i < run_.nlines; i++) {
			if (matches(run_.lines[i], "Process-[0-9]+ acquire",
			        NULL)) {
				held++;
				acquired++;
			} else {
				assert_true(matches(run_.lines[i],
				    "Process-[0-9]+ release", NULL));
				held--;
			}
			most = held > most ? held : most;
			assert_true(held >= 0);
		}
		assert_int_equal(acquired, 5);
		assert_true(most <= 2);
	}
}

static void
test_condition(void **state)
{
	for (int k = 0; k < 6; k++) {
		int m = k % 3;

		extra_env = k < 3 ? NULL : "TROUPE_SYNC=actor";
		run_example(methods[m], "condition", NULL);
		expect_clean_exit();
		/* the two stage 2 clients may run in either order */
		EXPECT_LINES("Starting stage_2\\[1\\]",
		    "Starting stage_2\\[2\\]", "Starting s1",
		    "s1 done and ready for stage 2",
		    "stage_2\\[[12]\\] running", "stage_2\\[[12]\\] running");
		assert_string_not_equal(run_.lines[4], run_.lines[5]);
	}
	extra_env = NULL;
}

/* never more than two workers between acquire and release (with
 * TROUPE_SYNC=actor the sync actor is Process-1: the workers follow) */
static void
test_semaphore(void **state)
{
	for (int k = 0; k < 6; k++) {
		int m = k % 3, held = 0, most = 0, acquired = 0;

		extra_env = k < 3 ? NULL : "TROUPE_SYNC=actor";

		run_example(methods[m], "semaphore", NULL);
		expect_clean_exit();
		assert_int_equal(run_.nlines, 10);
		for (int i = 0; i < run_.nlines; i++) {
			if (matches(run_.lines[i], "Process-[0-9]+ acquire",
			        NULL)) {
				held++;
				acquired++;
			} else {
				assert_true(matches(run_.lines[i],
				    "Process-[0-9]+ release", NULL));
				held--;
			}
			most = held > most ? held : most;
			assert_true(held >= 0);
		}
		assert_int_equal(acquired, 5);
		assert_true(most <= 2);
	}
	extra_env = NULL;
}

/* issue 12: tracing switched on by the program itself; each pong is in
 * its ping's trace, nothing lost */
static void
test_trace_pingpong(void **state)
{
	for (int m = 0; m < 3; m++) {
		run_example(methods[m], "trace-pingpong", NULL);
		expect_clean_exit();
		EXPECT_LINES(
		    "ping 1 handled by Process-1; pong 1 in its trace: yes",
		    "ping 2 handled by Process-1; pong 2 in its trace: yes",
		    "ping 3 handled by Process-1; pong 3 in its trace: yes",
		    "main sent 4, ponger sent 3, events lost 0");
	}
}

/* issue 13: workers on node b answer node a, then b is killed and each
 * worker's DOWN says noconnection. */
static void
test_two_nodes(void **state)
{
	(void) state;
	for (int m = 0; m < 3; m++) {
		run_example(methods[m], "two-nodes", NULL);
		expect_clean_exit();
		EXPECT_LINES("node b joined node a",
		    "a supervisor on node a started 3 workers on node b",
		    "worker-1 on node b: 7 squared is 49",
		    "worker-2 on node b: 8 squared is 64",
		    "worker-3 on node b: 9 squared is 81", "killing node b",
		    "worker on node b is DOWN: noconnection",
		    "worker on node b is DOWN: noconnection",
		    "worker on node b is DOWN: noconnection",
		    "supervisor: worker-1 on node b is unknown, not restarted",
		    "supervisor: worker-2 on node b is unknown, not restarted",
		    "supervisor: worker-3 on node b is unknown, not restarted",
		    "supervisor: 0 running, 3 unknown");
	}
}

static void
test_pool_two_nodes(void **state)
{
	(void) state;
	for (int m = 0; m < 3; m++) {
		run_example(methods[m], "pool-two-nodes", NULL);
		expect_clean_exit();
		EXPECT_LINES("node b joined node a",
		    "workers: 2 here, 2 on node b",
		    "\\[1, 4, 9, 16, 25, 36, 49, 64, 81, 100\\]",
		    "killing node b in the middle of a map of 80 items",
		    "80 results, all exact",
		    "workers lost with node b: 2 \\(tasks sent again: "
		    "[1-9][0-9]*\\)",
		    "workers: 4 here, 0 on node b");
	}
}

/* issue 13: workers on nodes a and b drain one JoinableQueue; every
 * task is done once, both nodes take some, join returns. */
static void
test_queue_two_nodes(void **state)
{
	(void) state;
	for (int m = 0; m < 3; m++) {
		run_example(methods[m], "queue-two-nodes", NULL);
		expect_clean_exit();
		EXPECT_LINES("node b joined node a",
		    "4 workers ready: 2 on node a, 2 on node b",
		    "1 squared is 1", "2 squared is 4", "3 squared is 9",
		    "4 squared is 16", "5 squared is 25", "6 squared is 36",
		    "7 squared is 49", "8 squared is 64", "9 squared is 81",
		    "10 squared is 100", "11 squared is 121",
		    "12 squared is 144",
		    "tasks done on node a: yes, on node b: yes",
		    "join returned: every task done");
	}
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_demo),
		cmocka_unit_test(test_hello),
		cmocka_unit_test(test_workers),
		cmocka_unit_test(test_naming),
		cmocka_unit_test(test_daemon_terminated_at_exit),
		cmocka_unit_test(test_daemon_join),
		cmocka_unit_test(test_daemon_join_timeout),
		cmocka_unit_test(test_terminate),
		cmocka_unit_test(test_exitcode),
		cmocka_unit_test(test_subclass),
		cmocka_unit_test(test_logging),
		cmocka_unit_test(test_start_methods),
		cmocka_unit_test(test_tour),
		cmocka_unit_test(test_lock),
		cmocka_unit_test(test_value_array),
		cmocka_unit_test(test_manager_value_array),
		cmocka_unit_test(test_manager_workers),
		cmocka_unit_test(test_manager_condition),
		cmocka_unit_test(test_manager_semaphore),
		cmocka_unit_test(test_condition),
		cmocka_unit_test(test_semaphore),
		cmocka_unit_test(test_event),
		cmocka_unit_test(test_queue_worker),
		cmocka_unit_test(test_queue_results),
		cmocka_unit_test(test_joinable_queue),
		cmocka_unit_test(test_pipe),
		cmocka_unit_test(test_pool_map),
		cmocka_unit_test(test_pool_walkthrough),
		cmocka_unit_test(test_pool_init),
		cmocka_unit_test(test_pool_apply),
		cmocka_unit_test(test_pool_tasks),
		cmocka_unit_test(test_manager_dict_list),
		cmocka_unit_test(test_manager_namespace),
		cmocka_unit_test(test_trace_pingpong),
		cmocka_unit_test(test_two_nodes),
		cmocka_unit_test(test_queue_two_nodes),
		cmocka_unit_test(test_pool_two_nodes),
	};

	/* orphans of the examples come to us, to be counted and reaped */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
		return 99;
	}
	if (argc > 1) {
		cmocka_set_test_filter(argv[1]);
	}
	return cmocka_run_group_tests_name("examples", tests, NULL, NULL);
}
