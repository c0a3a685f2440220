/* SPDX-License-Identifier: MIT */
/* Helpers for the multi-node tests (tr-test-node.h). */
#include "tr-test-node.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

void
tr_test_kid_spawn(tr_test_kid *k, char *const argv[], int keep_out)
{
	posix_spawn_file_actions_t fa;
	int                        in[2], out[2];
	FILE                      *f;

	memset(k, 0, sizeof(*k));
	k->in = -1;
	assert_int_equal(pipe2(in, O_CLOEXEC), 0);
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	assert_int_equal(
	    posix_spawn(&k->pid, "/proc/self/exe", &fa, NULL, argv, environ),
	    0);
	posix_spawn_file_actions_destroy(&fa);
	close(in[0]);
	close(out[1]);
	k->in = in[1];
	f     = fdopen(out[0], "r");
	assert_non_null(f);
	if (!fgets(k->line, sizeof(k->line), f)) {
		k->line[0] = '\0';
	}
	if (keep_out) {
		k->out = f;
	} else {
		fclose(f);
	}
}

void
tr_test_kid_close(tr_test_kid *k)
{
	if (k->in >= 0) {
		close(k->in);
		k->in = -1;
	}
	if (k->out) {
		fclose(k->out);
		k->out = NULL;
	}
}

void
tr_test_kid_stop(tr_test_kid *k)
{
	int st;

	tr_test_kid_close(k);
	if (tr_test_wait_gone(k->pid, TR_TEST_HANG_MS) != 1) {
		kill(k->pid, SIGKILL);
	}
	(void) waitpid(k->pid, &st, 0);
}

void
tr_test_kid_kill(tr_test_kid *k)
{
	int st;

	if (k->agent > 0) {
		kill(k->agent, SIGKILL);
	}
	kill(k->pid, SIGKILL);
	(void) waitpid(k->pid, &st, 0);
	tr_test_kid_close(k);
}

void
tr_test_node_wait_up(const char *node, int want)
{
	int64_t end = tr_test_now_ms() + TR_TEST_HANG_MS;
	int     r;

	while ((r = tr_node_is_up(node, TR_TEST_HANG_MS)) != want &&
	    tr_test_now_ms() < end) {
		usleep(20000);
	}
	assert_int_equal(r, want);
}

int
tr_test_node_child(int argc, char **argv)
{
	tr_node_options o        = { 0 };
	const char     *peers[2] = { NULL, NULL }, *allow[2] = { NULL, NULL };
	tr_node        *n = NULL;
	char            buf[16];
	int             r;

	if (tr_init(argc, argv) < 0 || argc < 8) {
		return 99;
	}
	o.name      = argv[2];
	peers[0]    = strcmp(argv[3], "-") ? argv[3] : NULL;
	o.peers     = peers;
	o.detect_ms = atoi(argv[4]);
	if (strcmp(argv[5], "-") != 0) {
		o.curve_secret_key = argv[5];
	}
	allow[0]       = strcmp(argv[6], "-") ? argv[6] : NULL;
	o.allowed_keys = allow;
	o.cookie       = strcmp(argv[7], "-") ? argv[7] : NULL;
	r              = tr_node_start(&o, &n, TR_TEST_HANG_MS);
	if (r < 0) {
		printf("ERR %d\n", r);
		fflush(stdout);
		return 98;
	}
	printf("EP %s AGENT %d\n", tr_node_endpoint(n),
	    (int) tr_node_agent_pid(n));
	fflush(stdout);
	while (read(0, buf, sizeof(buf)) > 0) { }
	tr_node_stop(&n);
	return 0;
}

void
tr_test_kid_start_node(tr_test_kid *k, const char *prog, const char *name,
    const char *peer, int detect, const char *secret, const char *allow)
{
	char  det[16];
	char *argv[] = { (char *) prog, (char *) "--node-child", (char *) name,
		(char *) (peer ? peer : "-"), det,
		(char *) (secret ? secret : "-"),
		(char *) (allow ? allow : "-"), (char *) "-", NULL };

	snprintf(det, sizeof(det), "%d", detect);
	tr_test_kid_spawn(k, argv, 0);
	if (sscanf(k->line, "EP %255s AGENT %d", k->ep, &k->agent) != 2) {
		print_error("node child %s said: %s\n", name, k->line);
		fail();
	}
}
