/* SPDX-License-Identifier: MIT */
/* The troupe command: ps shows a live run's actors and names; clean
 * removes only the runtime directories of runs that are gone. */
#include "tr-test.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int
named_server(const void *args, size_t len)
{
	tr_msg *m;

	if (tr_register(args) < 0) {
		return tr_fail(-EEXIST, "name taken");
	}
	(void) tr_self_bind();
	tr_ready();
	while (tr_recv(&m, TR_TIMEOUT_INFINITE) == 0) {
		tr_msg_destroy(&m);
	}
	return 0;
}
TR_ACTOR_FLAGS(named_server, named_server, TR_ACTOR_MANUAL_READY)

/* Run the troupe command with args (a shell word list, trusted), put its
 * stdout in out, return its exit status. */
static int
run_tool(const char *env, const char *args, char *out, size_t n)
{
	char   cmd[8192];
	FILE  *f;
	size_t got;
	int    st;

	snprintf(cmd, sizeof(cmd), "%s '%s' %s 2>&1", env,
	    tr_test_build_path("tools/troupe"), args);
	f = popen(cmd, "r");
	assert_non_null(f);
	got      = fread(out, 1, n - 1, f);
	out[got] = '\0';
	st       = pclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void
test_ps_lists_actors_and_names(void **state)
{
	tr_process *p;
	char        out[16384], args[4200], line[128];

	TR_ASSERT_OK(tr_process_new(&p, "named_server", "svc-under-test", 14));
	TR_ASSERT_OK(tr_process_start(p, 5000));
	snprintf(args, sizeof(args), "ps '%s'", tr_runtime_dir());
	assert_int_equal(run_tool("", args, out, sizeof(out)), 0);
	snprintf(line, sizeof(line), "pid %-7d", (int) tr_process_pid(p));
	assert_non_null(strstr(out, line));
	assert_non_null(strstr(out, "alive"));
	assert_non_null(strstr(out, "name  svc-under-test"));
	TR_ASSERT_OK(tr_process_kill(p));
	TR_ASSERT_OK(tr_process_join(p, 5000));
	tr_process_destroy(&p);
	assert_int_equal(
	    run_tool("", "ps /nonexistent-dir", out, sizeof(out)), 1);
	assert_non_null(strstr(out, "cannot read /nonexistent-dir"));
}

static pid_t
dead_pid(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	return pid;
}

static void
test_clean_removes_only_dead_runs(void **state)
{
	char        base[64], stale[256], live[256], other[256];
	char        env[512], out[16384], file[300];
	struct stat st;
	FILE       *f;

	snprintf(base, sizeof(base), "%s/tr-tool-XXXXXX", tr_test_tmpdir());
	assert_non_null(mkdtemp(base));
	snprintf(stale, sizeof(stale), "%s/troupe-%d-abcdef", base,
	    (int) dead_pid());
	snprintf(
	    live, sizeof(live), "%s/troupe-%d-ghijkl", base, (int) getpid());
	snprintf(other, sizeof(other), "%s/troupe-notapid", base);
	assert_int_equal(mkdir(stale, 0700), 0);
	assert_int_equal(mkdir(live, 0700), 0);
	assert_int_equal(mkdir(other, 0700), 0);
	snprintf(file, sizeof(file), "%s/exits", stale);
	f = fopen(file, "w");
	assert_non_null(f);
	fclose(f);
	snprintf(env, sizeof(env), "TROUPE_RUNTIME_DIR='%s'", base);
	assert_int_equal(run_tool(env, "clean --dry-run", out, sizeof(out)), 0);
	assert_non_null(strstr(out, "would remove"));
	assert_int_equal(stat(stale, &st), 0); /* dry run: still there */
	assert_int_equal(run_tool(env, "clean", out, sizeof(out)), 0);
	assert_non_null(strstr(out, "removed"));
	assert_int_equal(stat(stale, &st), -1);
	assert_int_equal(stat(live, &st), 0);
	assert_int_equal(stat(other, &st), 0);
	assert_int_equal(run_tool(env, "clean", out, sizeof(out)), 0);
	assert_non_null(strstr(out, "nothing to clean"));
	assert_int_equal(run_tool(env, "clean --force", out, sizeof(out)), 2);
	assert_non_null(strstr(out, "unknown argument"));
	assert_int_equal(run_tool(env, "frobnicate", out, sizeof(out)), 2);
	assert_int_equal(run_tool(env, "--version", out, sizeof(out)), 0);
	assert_non_null(strstr(out, "troupe 0."));
	rmdir(live);
	rmdir(other);
	rmdir(base);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ps_lists_actors_and_names),
		cmocka_unit_test(test_clean_removes_only_dead_runs),
	};

	if (tr_init(argc, argv) < 0) {
		return 99;
	}
	return cmocka_run_group_tests_name("tool", tests, NULL, NULL);
}
