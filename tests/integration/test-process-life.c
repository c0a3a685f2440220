/* SPDX-License-Identifier: MIT */
/* A child's life around its edges: the forkserver under signals and after
 * its death, the parent pid, inherited signal dispositions and descriptors,
 * atexit handlers, a broken stderr, zombies, and daemon defaults. */
#include "tr-test.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int
sleeper(const void *args, size_t len)
{
	usleep((useconds_t) (len ? atoi(args) : 60000) * 1000);
	return 0;
}
TR_ACTOR(sleeper, sleeper)

static int
exit_ok(const void *args, size_t len)
{
	return 0;
}
TR_ACTOR(exit_ok, exit_ok)

/* 0 if the parent it sees is the pid in args. */
static int
parent_check(const void *args, size_t len)
{
	return tr_self_parent_pid() == (pid_t) atoi(args) ? 0 : 7;
}
TR_ACTOR(parent_check, parent_check)

static bool
disposition_is(int sig, void (*handler)(int))
{
	struct sigaction sa;

	return sigaction(sig, NULL, &sa) == 0 && sa.sa_handler == handler;
}

/* 0 if SIGINT is ignored and SIGTERM, SIGHUP are not. */
static int
sig_check(const void *args, size_t len)
{
	if (!disposition_is(SIGINT, SIG_IGN)) {
		return 5;
	}
	return disposition_is(SIGTERM, SIG_DFL) &&
	        disposition_is(SIGHUP, SIG_DFL)
	    ? 0
	    : 6;
}
TR_ACTOR(sig_check, sig_check)

/* Exit code: how many descriptors above stdio are open. */
static int
fd_count(const void *args, size_t len)
{
	DIR           *d = opendir("/proc/self/fd");
	struct dirent *e;
	int            n = 0;

	while (d && (e = readdir(d))) {
		int fd = atoi(e->d_name);

		if (e->d_name[0] != '.' && fd > 2 && fd != dirfd(d)) {
			n++;
		}
	}
	if (d) {
		closedir(d);
	}
	return n > 250 ? 250 : n;
}
TR_ACTOR(fd_count, fd_count)

static void
mark_path(char *buf, size_t n, const char *what, pid_t pid)
{
	snprintf(buf, n, "%s/atexit-%s-%d", tr_runtime_dir(), what, (int) pid);
}

static void
mark(const char *what)
{
	char path[512];
	int  fd;

	mark_path(path, sizeof(path), what, getpid());
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0) {
		close(fd);
	}
}

static void
child_handler(void)
{
	mark("child");
}

/* Registered in main before tr_init(): a fork child inherits it, a spawn
 * child and the forkserver register it again when they run main. */
static void
inherited_handler(void)
{
	if (tr_self_actor()) {
		mark("inherited");
	}
}

/* Registers an atexit handler, then ends as args says: 'r' return, 't'
 * tr_exit(), 'x' exit(), 'k' wait to be killed. */
static int
atexit_child(const void *args, size_t len)
{
	const char *a = args;

	(void) atexit(child_handler);
	(void) tr_ready();
	if (a[0] == 't') {
		tr_exit(0);
	}
	if (a[0] == 'x') {
		exit(0);
	}
	if (a[0] == 'k') {
		pause();
	}
	return 0;
}
TR_ACTOR_FLAGS(atexit_child, atexit_child, TR_ACTOR_MANUAL_READY)

static volatile sig_atomic_t interrupted;

static void
on_sigint(int sig)
{
	interrupted = 1;
}

/* Takes 100 ms to shut down after SIGINT, then exits 5. */
static int
graceful(const void *args, size_t len)
{
	struct sigaction sa = { .sa_handler = on_sigint };
	sigset_t         none;

	sigemptyset(&none);
	(void) sigaction(SIGINT, &sa, NULL);
	(void) tr_ready();
	while (!interrupted) {
		(void) sigsuspend(&none);
	}
	usleep(100 * 1000);
	return 5;
}
TR_ACTOR_FLAGS(graceful, graceful, TR_ACTOR_MANUAL_READY)

static int
log_exit3(const void *args, size_t len)
{
	tr_log(TR_LOG_ERROR, "an error nobody can read");
	return 3;
}
TR_ACTOR(log_exit3, log_exit3)

/* 0 if a handle it makes is daemon exactly when it is one itself. */
static int
daemon_default(const void *args, size_t len)
{
	tr_process *p;
	int         r;

	if (tr_process_new(&p, "exit_ok", NULL, 0) < 0) {
		return 3;
	}
	r = tr_process_is_daemon(p) == tr_self_is_daemon() ? 0 : 4;
	tr_process_destroy(&p);
	return r;
}
TR_ACTOR(daemon_default, daemon_default)

static tr_process *
start(const char *actor, const char *args, int method)
{
	tr_process *p;

	TR_ASSERT_OK(tr_process_new(&p, actor, args, args ? strlen(args) : 0));
	TR_ASSERT_OK(tr_process_set_start_method(p, method));
	TR_ASSERT_OK(tr_process_start(p, 10000));
	return p;
}

static int
run_code(const char *actor, const char *args, int method)
{
	tr_process *p = start(actor, args, method);
	int         code;

	TR_ASSERT_OK(tr_process_join(p, 10000));
	TR_ASSERT_OK(tr_process_exitcode(p, &code));
	tr_process_destroy(&p);
	return code;
}

/* The live forkserver among this process's children, or 0. */
static pid_t
forkserver_pid(void)
{
	DIR           *d = opendir("/proc");
	struct dirent *e;
	pid_t          found = 0;

	while (d && !found && (e = readdir(d))) {
		char  path[300], buf[512], *p;
		FILE *f;
		int   ppid;

		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		f = e->d_name[0] > '0' && e->d_name[0] <= '9' ? fopen(path, "r")
		                                              : NULL;
		if (f && fgets(buf, sizeof(buf), f) &&
		    strstr(buf, "(troupe-fksrv) ") && (p = strrchr(buf, ')')) &&
		    sscanf(p + 2, "%*c %d", &ppid) == 1 && ppid == getpid() &&
		    p[2] != 'Z') {
			found = (pid_t) atoi(buf);
		}
		if (f) {
			fclose(f);
		}
	}
	if (d) {
		closedir(d);
	}
	return found;
}

static void
test_forkserver_survives_group_signals(void **state)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
	tr_process      *a      = start("sleeper", NULL, TR_START_FORKSERVER);
	pid_t            fs     = forkserver_pid();

	assert_true(fs > 0);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		assert_int_equal(kill(fs, sigs[i]), 0);
		/* a request round trip: a dying server would be dead by now */
		assert_int_equal(
		    run_code("exit_ok", NULL, TR_START_FORKSERVER), 0);
		assert_int_equal(forkserver_pid(), fs);
		TR_ASSERT_ERR(tr_process_join(a, 100), -ETIMEDOUT);
	}
	TR_ASSERT_OK(tr_process_terminate(a));
	TR_ASSERT_OK(tr_process_join(a, 5000));
	tr_process_destroy(&a);
}

/* Ctrl-C reaches the server and the actor: the actor's shutdown ends. */
static void
test_forkserver_child_finishes_graceful_shutdown(void **state)
{
	tr_process *a  = start("graceful", NULL, TR_START_FORKSERVER);
	pid_t       fs = forkserver_pid();
	int         code;

	assert_true(fs > 0);
	assert_int_equal(kill(fs, SIGINT), 0);
	TR_ASSERT_OK(tr_process_signal(a, SIGINT));
	TR_ASSERT_OK(tr_process_join(a, 5000));
	TR_ASSERT_OK(tr_process_exitcode(a, &code));
	assert_int_equal(code, 5);
	assert_int_equal(forkserver_pid(), fs);
	tr_process_destroy(&a);
}

/* Kill the forkserver; the next forkserver start makes a new one. */
static void
kill_forkserver(void)
{
	pid_t fs = forkserver_pid();

	if (fs > 0) {
		assert_int_equal(kill(fs, SIGKILL), 0);
		assert_true(tr_test_wait_gone(fs, 5000));
	}
}

static void
test_forkserver_restarts_after_death(void **state)
{
	tr_process *a  = start("sleeper", NULL, TR_START_FORKSERVER);
	pid_t       fs = forkserver_pid();
	int         code;

	assert_true(fs > 0);
	assert_int_equal(kill(fs, SIGKILL), 0);
	TR_ASSERT_OK(tr_process_join(a, 5000));
	TR_ASSERT_OK(tr_process_exitcode(a, &code));
	assert_int_equal(code, -SIGKILL);
	tr_process_destroy(&a);
	assert_true(tr_test_wait_gone(fs, 5000));
	assert_int_equal(run_code("exit_ok", NULL, TR_START_FORKSERVER), 0);
	assert_true(forkserver_pid() > 0);
	assert_int_not_equal(forkserver_pid(), fs);
	assert_int_equal(tr_test_zombie_count(), 0);
}

static void
test_parent_pid_is_the_starter(void **state)
{
	char me[32];

	snprintf(me, sizeof(me), "%d", (int) getpid());
	for (int m = TR_START_FORK; m <= TR_START_FORKSERVER; m++) {
		assert_int_equal(run_code("parent_check", me, m), 0);
	}
}

static void
test_ignored_signals_stay_ignored(void **state)
{
	struct sigaction ign = { .sa_handler = SIG_IGN }, old;
	struct sigaction dfl = { .sa_handler = SIG_DFL }, old_term, old_hup;

	/* SIGTERM and SIGHUP at their defaults here, whatever the suite
	 * inherited (nohup ignores SIGHUP, and children keep that) */
	assert_int_equal(sigaction(SIGTERM, &dfl, &old_term), 0);
	assert_int_equal(sigaction(SIGHUP, &dfl, &old_hup), 0);
	/* the forkserver exists before the starter ignores SIGINT */
	assert_int_equal(run_code("exit_ok", NULL, TR_START_FORKSERVER), 0);
	assert_int_equal(sigaction(SIGINT, &ign, &old), 0);
	for (int m = TR_START_FORK; m <= TR_START_FORKSERVER; m++) {
		assert_int_equal(run_code("sig_check", NULL, m), 0);
	}
	assert_int_equal(sigaction(SIGINT, &old, NULL), 0);
	assert_int_equal(sigaction(SIGTERM, &old_term, NULL), 0);
	assert_int_equal(sigaction(SIGHUP, &old_hup, NULL), 0);
}

static void
test_spawned_children_inherit_no_stray_fds(void **state)
{
	int         sv[2], pfd[2];
	tr_process *sib;

	/* a sibling first, so that the forkserver holds a status pipe */
	sib = start("sleeper", NULL, TR_START_FORKSERVER);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(pipe(pfd), 0);
	assert_int_equal(dup2(sv[0], 50), 50);
	assert_int_equal(dup2(pfd[0], 51), 51);
	assert_int_equal(dup2(pfd[1], 52), 52);
	/* stdio, and the run's tracker socket (runtime/tracker.c) */
	assert_int_equal(run_code("fd_count", NULL, TR_START_SPAWN), 1);
	assert_int_equal(run_code("fd_count", NULL, TR_START_FORKSERVER), 1);
	for (int fd = 50; fd <= 52; fd++) {
		close(fd);
	}
	close(sv[0]);
	close(sv[1]);
	close(pfd[0]);
	close(pfd[1]);
	tr_process_destroy(&sib);
}

static void
test_forkserver_sibling_sentinel(void **state)
{
	tr_process   *a = start("sleeper", NULL, TR_START_FORKSERVER);
	tr_process   *b = start("sleeper", NULL, TR_START_FORKSERVER);
	struct pollfd pfd;

	TR_ASSERT_OK(tr_process_kill(a));
	pfd =
	    (struct pollfd) { .fd = tr_process_sentinel(a), .events = POLLIN };
	assert_int_equal(poll(&pfd, 1, 5000), 1);
	TR_ASSERT_OK(tr_process_join(a, 5000));
	assert_true(tr_process_is_alive(b));
	tr_process_destroy(&a);
	tr_process_destroy(&b);
}

static void
test_fork_child_fds_do_not_grow_with_siblings(void **state)
{
	tr_process *sib[3];
	int         alone, with;

	alone  = run_code("fd_count", NULL, TR_START_FORK);
	sib[0] = start("sleeper", NULL, TR_START_FORK);
	sib[1] = start("sleeper", NULL, TR_START_SPAWN);
	sib[2] = start("sleeper", NULL, TR_START_FORKSERVER);
	with   = run_code("fd_count", NULL, TR_START_FORK);
	assert_int_equal(with, alone);
	for (int i = 0; i < 3; i++) {
		tr_process_destroy(&sib[i]);
	}
}

static bool
marked(const char *what, pid_t pid)
{
	char path[512];

	mark_path(path, sizeof(path), what, pid);
	return unlink(path) == 0;
}

static void
test_atexit_handlers_run_on_normal_exit(void **state)
{
	for (int m = TR_START_FORK; m <= TR_START_FORKSERVER; m++) {
		for (const char *how = "rtx"; *how; how++) {
			char        arg[2] = { *how, '\0' };
			tr_process *p      = start("atexit_child", arg, m);
			int         code;

			TR_ASSERT_OK(tr_process_join(p, 10000));
			TR_ASSERT_OK(tr_process_exitcode(p, &code));
			assert_int_equal(code, 0);
			assert_true(marked("child", tr_process_pid(p)));
			assert_false(marked("inherited", tr_process_pid(p)));
			tr_process_destroy(&p);
		}
	}
}

static void
test_atexit_handlers_skipped_when_killed(void **state)
{
	for (int m = TR_START_FORK; m <= TR_START_FORKSERVER; m++) {
		tr_process *p = start("atexit_child", "k", m);

		TR_ASSERT_OK(tr_process_terminate(p));
		TR_ASSERT_OK(tr_process_join(p, 10000));
		assert_false(marked("child", tr_process_pid(p)));
		assert_false(marked("inherited", tr_process_pid(p)));
		tr_process_destroy(&p);
	}
}

/* The forkserver's children write to the server's stderr: a new server
 * is started while stderr is broken, and another one afterwards. */
static void
test_log_to_broken_stderr_keeps_exit_code(void **state)
{
	for (int m = TR_START_FORK; m <= TR_START_FORKSERVER; m++) {
		int         pfd[2], saved = dup(STDERR_FILENO), code;
		tr_process *p;

		if (m == TR_START_FORKSERVER) {
			kill_forkserver();
		}
		assert_int_equal(pipe(pfd), 0);
		close(pfd[0]);
		assert_int_equal(dup2(pfd[1], STDERR_FILENO), STDERR_FILENO);
		close(pfd[1]);
		p = start("log_exit3", NULL, m);
		assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
		close(saved);
		TR_ASSERT_OK(tr_process_join(p, 10000));
		TR_ASSERT_OK(tr_process_exitcode(p, &code));
		assert_int_equal(code, 3);
		tr_process_destroy(&p);
	}
	kill_forkserver();
}

static void
test_finished_children_reaped_at_next_start(void **state)
{
	for (int m = TR_START_FORK; m <= TR_START_SPAWN; m++) {
		tr_process   *a   = start("exit_ok", NULL, m), *b;
		struct pollfd pfd = { .fd = tr_process_sentinel(a),
			.events           = POLLIN };
		int           code;

		assert_int_equal(poll(&pfd, 1, 5000), 1);
		assert_int_equal(tr_test_zombie_count(), 1);
		b = start("sleeper", NULL, m);
		assert_int_equal(tr_test_zombie_count(), 0);
		TR_ASSERT_OK(tr_process_exitcode(a, &code));
		assert_int_equal(code, 0);
		tr_process_destroy(&a);
		tr_process_destroy(&b);
	}
}

static void
test_handle_in_daemon_defaults_to_daemon(void **state)
{
	for (int i = 0; i < 6; i++) {
		tr_process *p;
		int         code;

		TR_ASSERT_OK(tr_process_new(&p, "daemon_default", NULL, 0));
		assert_false(tr_process_is_daemon(p));
		TR_ASSERT_OK(tr_process_set_daemon(p, i & 1));
		TR_ASSERT_OK(tr_process_set_start_method(p, 1 + i / 2));
		TR_ASSERT_OK(tr_process_start(p, 10000));
		TR_ASSERT_OK(tr_process_join(p, 10000));
		TR_ASSERT_OK(tr_process_exitcode(p, &code));
		assert_int_equal(code, 0);
		tr_process_destroy(&p);
	}
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forkserver_survives_group_signals),
		cmocka_unit_test(
		    test_forkserver_child_finishes_graceful_shutdown),
		cmocka_unit_test(test_forkserver_restarts_after_death),
		cmocka_unit_test(test_parent_pid_is_the_starter),
		cmocka_unit_test(test_ignored_signals_stay_ignored),
		cmocka_unit_test(test_spawned_children_inherit_no_stray_fds),
		cmocka_unit_test(test_forkserver_sibling_sentinel),
		cmocka_unit_test(test_fork_child_fds_do_not_grow_with_siblings),
		cmocka_unit_test(test_atexit_handlers_run_on_normal_exit),
		cmocka_unit_test(test_atexit_handlers_skipped_when_killed),
		cmocka_unit_test(test_log_to_broken_stderr_keeps_exit_code),
		cmocka_unit_test(test_finished_children_reaped_at_next_start),
		cmocka_unit_test(test_handle_in_daemon_defaults_to_daemon),
	};

	(void) atexit(inherited_handler);
	if (tr_init(argc, argv) < 0) {
		return 99;
	}
	return cmocka_run_group_tests_name("process-life", tests, NULL, NULL);
}
