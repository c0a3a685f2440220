/* SPDX-License-Identifier: MIT */
/* Bad input from outside a process that no other suite tries
 * (docs/bad-input.md lists them all): a spawned child's boot variables
 * (TROUPE_BOOT, TROUPE_FORKSERVER) garbled, unknown values in the
 * environment, and bad command-line arguments of the troupe tool and the
 * examples that take any.  Each program is run with a deadline far above
 * its time and killed, by pid, if it overstays. */
#include "tr-test.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime.h"
#include "supervisor.pb-c.h"
#include "troupe/supervisor.h"

extern char **environ;

/* Run build-dir program rel with argument arg (or none) and the extra
 * environment entry env (or none), descriptors keep_fd kept open for it
 * (or -1); its stdout and stderr into out.  Returns its exit code, or 128
 * + the signal that ended it. */
static int
run(const char *env, int keep_fd, const char *rel, const char *arg, char *out,
    size_t cap)
{
	const char *prog   = tr_test_build_path(rel);
	char       *argv[] = { (char *) prog, (char *) arg, NULL };
	int         pfd[2], st;
	size_t      got = 0;
	int64_t     end = tr_test_now_ms() + TR_TEST_HANG_MS;
	pid_t       pid;

	assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		if (keep_fd >= 0) {
			(void) fcntl(keep_fd, F_SETFD, 0);
		}
		if (env) {
			(void) putenv((char *) env);
		}
		execv(prog, argv);
		_exit(127);
	}
	close(pfd[1]);
	for (;;) {
		struct pollfd p    = { pfd[0], POLLIN, 0 };
		int64_t       left = end - tr_test_now_ms();
		ssize_t       n;

		if (left <= 0) {
			kill(pid, SIGKILL); /* overstayed: a hang */
			break;
		}
		if (poll(&p, 1, (int) left) <= 0) {
			continue;
		}
		n = read(pfd[0], out + got, cap - 1 - got);
		if (n <= 0) {
			break;
		}
		got += (size_t) n;
		if (got == cap - 1) {
			break;
		}
	}
	out[got] = '\0';
	close(pfd[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(tr_test_now_ms() < end); /* no hang */
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* A memfd holding n bytes of data, open without FD_CLOEXEC cleared yet. */
static int
memfd_with(const void *data, size_t n)
{
	int fd = memfd_create("bad-boot", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, n), (ssize_t) n);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	return fd;
}

/* TROUPE_BOOT that is not what a starter writes: no fds, negative ones,
 * ones not open, and a memfd of garbage.  The child says so on stderr and
 * exits 70, at once. */
static void
test_bad_boot_variable(void **state)
{
	static const char *bad[] = { "TROUPE_BOOT=garbage", "TROUPE_BOOT=-1:-1",
		"TROUPE_BOOT=", "TROUPE_BOOT=900:901", "TROUPE_BOOT=0:1:2" };
	char               out[4096], env[64];
	int                fd;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(
		    run(bad[i], -1, "examples/hello", NULL, out, sizeof(out)),
		    70);
		assert_non_null(strstr(out, "bad TROUPE_BOOT"));
	}
	/* a memfd of garbage, with a pipe for the ready report */
	fd = memfd_with("\xff\xff\xff\xff garbage", 13);
	snprintf(env, sizeof(env), "TROUPE_BOOT=%d:1", fd);
	assert_int_equal(
	    run(env, fd, "examples/hello", NULL, out, sizeof(out)), 70);
	assert_non_null(strstr(out, "bad TROUPE_BOOT"));
	close(fd);
}

/* TROUPE_FORKSERVER naming no socket: refused with a message (it used to
 * exit 0 without running anything, or, naming a descriptor not open,
 * spin for ever). */
static void
test_bad_forkserver_variable(void **state)
{
	static const char *bad[] = { "TROUPE_FORKSERVER=garbage",
		"TROUPE_FORKSERVER=900:901", "TROUPE_FORKSERVER=1",
		"TROUPE_FORKSERVER=-5" };
	char               out[4096], env[64];
	int                fd;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(
		    run(bad[i], -1, "examples/hello", NULL, out, sizeof(out)),
		    70);
		assert_non_null(strstr(out, "bad TROUPE_FORKSERVER"));
	}
	/* an open descriptor that is not a socket */
	fd = memfd_with("x", 1);
	snprintf(env, sizeof(env), "TROUPE_FORKSERVER=%d", fd);
	assert_int_equal(
	    run(env, fd, "examples/hello", NULL, out, sizeof(out)), 70);
	assert_non_null(strstr(out, "bad TROUPE_FORKSERVER"));
	close(fd);
}

/* Unknown values of the tuning variables are ignored: the defaults
 * apply, and the program runs as usual. */
static void
test_unknown_environment_values_mean_the_defaults(void **state)
{
	static const char *odd[] = { "TROUPE_START_METHOD=bogus",
		"TROUPE_LOG=loud", "TROUPE_RUNTIME_DIR=/nonexistent/x",
		"TROUPE_EVENTS=zzz", "TROUPE_QUEUE_SHM=maybe" };
	char               out[4096];

	for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
		assert_int_equal(
		    run(odd[i], -1, "examples/hello", NULL, out, sizeof(out)),
		    0);
		assert_non_null(strstr(out, "hello bob"));
	}
}

/* The troupe tool: no command, an unknown one, a bad option, and a
 * runtime directory that is not there. */
static void
test_tool_bad_arguments(void **state)
{
	char out[4096];

	assert_int_equal(
	    run(NULL, -1, "tools/troupe", NULL, out, sizeof(out)), 2);
	assert_non_null(strstr(out, "usage: troupe"));
	assert_int_equal(
	    run(NULL, -1, "tools/troupe", "frobnicate", out, sizeof(out)), 2);
	assert_non_null(strstr(out, "unknown command 'frobnicate'"));
	assert_int_equal(
	    run(NULL, -1, "tools/troupe", "--no-such-option", out, sizeof(out)),
	    2);
	assert_int_equal(run("TROUPE_RUNTIME_DIR=/nonexistent", -1,
	                     "tools/troupe", "ps", out, sizeof(out)),
	    0); /* nothing running there: an empty list */
}

/* Examples that take an argument: a bad one gets a message and a
 * non-zero exit, and starts nothing. */
static void
test_example_bad_arguments(void **state)
{
	char out[4096];

	assert_int_equal(
	    run(NULL, -1, "examples/daemon", "bogus", out, sizeof(out)), 2);
	assert_non_null(strstr(out, "usage: daemon"));
	assert_int_not_equal(
	    run(NULL, -1, "examples/logging", "loud", out, sizeof(out)), 0);
	assert_non_null(strstr(out, "unknown log level"));
	assert_int_not_equal(
	    run(NULL, -1, "examples/demo", "--seconds=0", out, sizeof(out)), 0);
	assert_non_null(strstr(out, "wants a whole number from 1 to 3600"));
	assert_int_not_equal(
	    run(NULL, -1, "examples/demo", "--frobnicate", out, sizeof(out)),
	    0);
	assert_non_null(strstr(out, "usage: demo"));
}

/* A call to a supervisor that is no request (raw bytes), or a SupRequest
 * that does not unpack: answered at once with TR_EBADTYPE / TR_EBADFRAME
 * (the caller used to wait out its timeout), and the supervisor serves
 * on.  Under each start method. */
static int
sup_call(tr_addr a, const char *type, const void *data, size_t n)
{
	Trwire__SupReply *rep = NULL;
	tr_msg           *req, *reply = NULL;
	int               err;
	int64_t           t0 = tr_test_now_ms();

	TR_ASSERT_OK(tr_msg_new_bytes(&req, data, n));
	if (type) {
		TR_ASSERT_OK(tr_msg_set_type(req, type));
	}
	TR_ASSERT_OK(tr_call(a, &req, &reply, TR_TEST_HANG_MS));
	assert_true(tr_test_now_ms() - t0 < TR_TEST_HANG_MS);
	TR_ASSERT_OK(tr_msg_unpack(
	    reply, &trwire__sup_reply__descriptor, (ProtobufCMessage **) &rep));
	err = rep->error;
	protobuf_c_message_free_unpacked(&rep->base, NULL);
	tr_msg_destroy(&reply);
	return err;
}

static void
test_junk_calls_to_a_supervisor_are_answered(void **state)
{
	static const char *methods[] = { "fork", "spawn", "forkserver" };

	for (int m = 0; m < 3; m++) {
		tr_sup_spec     spec = { 0 };
		tr_supervisor  *s;
		tr_child_counts counts;
		tr_addr         a;

		setenv("TROUPE_START_METHOD", methods[m], 1);
		TR_ASSERT_OK(tr_supervisor_start(&s, &spec, TR_TEST_HANG_MS));
		a = tr_supervisor_addr(s);
		assert_int_equal(sup_call(a, NULL, "junk", 4), TR_EBADTYPE);
		assert_int_equal(
		    sup_call(a, "trwire.SupRequest", "\xff\xff\xff", 3),
		    TR_EBADFRAME);
		TR_ASSERT_OK(
		    tr_supervisor_count_children(s, &counts, TR_TEST_HANG_MS));
		assert_int_equal(counts.specs, 0);
		TR_ASSERT_OK(tr_supervisor_stop(s, TR_TEST_HANG_MS));
		tr_supervisor_destroy(&s);
	}
	unsetenv("TROUPE_START_METHOD");
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_boot_variable),
		cmocka_unit_test(test_bad_forkserver_variable),
		cmocka_unit_test(
		    test_unknown_environment_values_mean_the_defaults),
		cmocka_unit_test(test_tool_bad_arguments),
		cmocka_unit_test(test_example_bad_arguments),
		cmocka_unit_test(test_junk_calls_to_a_supervisor_are_answered),
	};

	if (tr_init(argc, argv) < 0) {
		return 99;
	}
	return cmocka_run_group_tests_name("bad-input", tests, NULL, NULL);
}
