/* SPDX-License-Identifier: MIT */
/* The pool under fire: workers SIGKILLed at random every few
 * milliseconds while thousands of tasks run -- every task completes
 * exactly once or reports its failure, nothing hangs; and a pool's owner
 * stopped by SIGTERM or SIGINT in the middle of a map leaves no worker
 * behind.  Under fork, spawn and forkserver. */
#include "tr-test-pool.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct hit {
	int  calls;
	int  err;
	long want;
};

static void
on_ok(tr_pool_result *r, void *arg)
{
	struct hit *h   = arg;
	size_t      len = 0;
	const void *d   = tr_pool_result_data(r, 0, &len);
	long        v   = -1;

	if (d && len == sizeof(v)) {
		memcpy(&v, d, sizeof(v));
	}
	h->calls++;
	h->err = v == h->want ? 0 : -EPROTO;
}

static void
on_err(tr_pool_result *r, void *arg)
{
	struct hit *h = arg;

	h->calls++;
	h->err = tr_pool_result_error(r);
}

/* A random live worker's pid, or 0. */
static pid_t
random_worker(tr_pool *p)
{
	tr_child_info *ci  = NULL;
	size_t         n   = 0;
	pid_t          pid = 0;

	if (tr_supervisor_which_children(
	        tr_pool_supervisor(p), &ci, &n, TR_TEST_HANG_MS) == 0 &&
	    n > 0) {
		pid = ci[(size_t) rand() % n].pid;
	}
	free(ci);
	return pid;
}

static void
run_kill_fuzz(int method, int ntasks, int every_ms)
{
	tr_pool_opts o = {
		.processes = 4, .start_method = method, .retries = 3
	};
	tr_pool         *p   = NULL;
	struct hit      *h   = calloc((size_t) ntasks, sizeof(*h));
	tr_pool_result **res = calloc((size_t) ntasks, sizeof(*res));
	int64_t          deadline, next_kill;
	int              k = 0, kills = 0, ok = 0, failed = 0;
	tr_pool_stats    st;

	assert_non_null(h);
	assert_non_null(res);
	TR_ASSERT_OK(tr_pool_new(&p, &o));
	for (long i = 0; i < ntasks; i++) {
		tr_pool_cb cb = { on_ok, on_err, &h[i] };

		h[i].want = i;
		TR_ASSERT_OK(tr_pool_apply_async(
		    p, "echo", &i, sizeof(i), &cb, &res[i]));
	}
	deadline  = tr_test_now_ms() + 4 * TR_TEST_HANG_MS;
	next_kill = tr_test_now_ms();
	while (k < ntasks) {
		int r;

		assert_true(tr_test_now_ms() < deadline); /* no hang */
		r = tr_pool_result_wait(res[k], every_ms);
		assert_true(r == 0 || r == -ETIMEDOUT);
		while (k < ntasks && tr_pool_result_ready(res[k])) {
			k++;
		}
		if (tr_test_now_ms() >= next_kill) {
			pid_t pid = random_worker(p);

			if (pid > 0 && kill(pid, SIGKILL) == 0) {
				kills++;
			}
			next_kill = tr_test_now_ms() + every_ms;
		}
	}
	for (int i = 0; i < ntasks; i++) {
		assert_int_equal(h[i].calls, 1); /* exactly once */
		if (h[i].err == 0) {
			ok++;
		} else {
			assert_int_equal(h[i].err, TR_EDEAD);
			assert_non_null(
			    strstr(tr_pool_result_error_text(res[i]),
			        "killed by signal 9"));
			failed++;
		}
		tr_pool_result_destroy(&res[i]);
	}
	TR_ASSERT_OK(tr_pool_stats_get(p, &st));
	print_message("method %s: %d tasks, %d kills: %d done, %d failed, "
	              "%llu retried, %llu workers started\n",
	    tr_start_method_name(method), ntasks, kills, ok, failed,
	    (unsigned long long) st.tasks_retried,
	    (unsigned long long) st.workers_started);
	assert_int_equal(ok + failed, ntasks);
	assert_true(kills > 0);
	TR_ASSERT_OK(tr_pool_close(p));
	TR_ASSERT_OK(tr_pool_join(p, TR_TEST_HANG_MS));
	tr_pool_destroy(&p);
	free(h);
	free(res);
}

static void
test_kill_fuzz_fork(void **state)
{
	run_kill_fuzz(TR_TEST_POOL_FORK, 10000, 5);
}

static void
test_kill_fuzz_spawn(void **state)
{
	run_kill_fuzz(TR_START_SPAWN, 2000, 20);
}

static void
test_kill_fuzz_forkserver(void **state)
{
	run_kill_fuzz(TR_START_FORKSERVER, 2000, 20);
}

/* ---- a pool's owner stopped by a signal during map -------------------------
 * The owner actor (args: "<method> <path>") starts a pool of 3 workers,
 * writes its supervisor's and workers' pids to path, then maps tasks that
 * sleep for a minute.  */

static int
owner_actor(const void *args, size_t len)
{
	tr_pool_opts    o  = { .processes = 3 };
	tr_pool        *p  = NULL;
	tr_pool_result *r  = NULL;
	tr_child_info  *ci = NULL;
	size_t          n  = 0;
	char            path[400], tmp[420];
	int32_t         ms[30];
	tr_pool_item    items[30];
	FILE           *f;

	if (sscanf(args, "%d %399s", &o.start_method, path) != 2) {
		return 2;
	}
	if (tr_pool_new(&p, &o) < 0 ||
	    tr_supervisor_which_children(
	        tr_pool_supervisor(p), &ci, &n, 10000) < 0) {
		return 3;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f) {
		return 4;
	}
	fprintf(f, "%d\n", (int) tr_supervisor_pid(tr_pool_supervisor(p)));
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "%d\n", (int) ci[i].pid);
	}
	fclose(f);
	free(ci);
	for (int i = 0; i < 30; i++) {
		ms[i]    = 60000;
		items[i] = (tr_pool_item) { &ms[i], sizeof(ms[i]) };
	}
	if (tr_pool_map_async(p, "sleep_ms", items, 30, 1, NULL, &r) < 0 ||
	    rename(tmp, path) < 0) {
		return 5;
	}
	(void) tr_pool_result_get(r, 120000);
	return 6; /* never: the test stops us first */
}
TR_ACTOR(pool_owner, owner_actor)

static void
run_owner_stopped(int method, int sig)
{
	char        args[512], path[400];
	tr_process *proc = NULL;
	pid_t       pids[8];
	int         npids = 0, code;
	FILE       *f     = NULL;
	int64_t     t0;

	snprintf(path, sizeof(path), "%s/owner-%d-%d", tr_runtime_dir(), method,
	    sig);
	snprintf(args, sizeof(args), "%d %s", method, path);
	TR_ASSERT_OK(
	    tr_process_new(&proc, "pool_owner", args, strlen(args) + 1));
	TR_ASSERT_OK(tr_process_start(proc, TR_TEST_HANG_MS));
	t0 = tr_test_now_ms();
	while (!(f = fopen(path, "r"))) {
		assert_true(tr_test_now_ms() - t0 < TR_TEST_HANG_MS);
		assert_true(tr_process_is_alive(proc));
		usleep(5000);
	}
	while (npids < 8 && fscanf(f, "%d", &pids[npids]) == 1) {
		npids++;
	}
	fclose(f);
	(void) unlink(path);
	assert_int_equal(npids, 4); /* the supervisor and 3 workers */
	usleep(100000);             /* the map is running */
	TR_ASSERT_OK(tr_process_signal(proc, sig));
	TR_ASSERT_OK(tr_process_join(proc, TR_TEST_HANG_MS));
	TR_ASSERT_OK(tr_process_exitcode(proc, &code));
	assert_int_equal(code, -sig);
	for (int i = 0; i < npids; i++) {
		assert_true(tr_test_wait_gone(pids[i], TR_TEST_HANG_MS));
	}
	tr_process_destroy(&proc);
}

static void
test_owner_stopped_by_signal(void **state)
{
	for (int mi = 0; mi < 3; mi++) {
		run_owner_stopped(tr_test_pool_methods[mi], SIGTERM);
		run_owner_stopped(tr_test_pool_methods[mi], SIGINT);
	}
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kill_fuzz_fork),
		cmocka_unit_test(test_kill_fuzz_spawn),
		cmocka_unit_test(test_kill_fuzz_forkserver),
		cmocka_unit_test(test_owner_stopped_by_signal),
	};

	TR_ASSERT_OK(tr_init(argc, argv));
	srand((unsigned) getpid());
	return cmocka_run_group_tests(tests, NULL, NULL);
}
