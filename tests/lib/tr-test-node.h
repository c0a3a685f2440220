/* SPDX-License-Identifier: MIT */
/* Helpers for the multi-node tests: the other node is this test program
 * run again (its own "--node-child ..." mode, which the test writes) as a
 * separate run on loopback, talked to through its stdin and stdout and
 * cleaned up by pid. */
#ifndef TR_TEST_NODE_H
#define TR_TEST_NODE_H

#include <stdio.h>
#include <sys/types.h>

#include "tr-test.h"

typedef struct tr_test_kid {
	pid_t pid;     /* the program run again */
	pid_t agent;   /* its node agent, once the test parsed it */
	int   in;      /* its stdin: closing it stops the node */
	FILE *out;     /* its stdout after the first line (keep_out), or NULL */
	char  ep[256]; /* its node's endpoint, once the test parsed it */
	char  line[512]; /* the first line it printed ("" if none) */
} tr_test_kid;

/* Start /proc/self/exe with argv (NULL-terminated; argv[0] its name) and
 * read the first line it prints into k->line; with keep_out, its stdout
 * stays open in k->out for later lines.  Asserts (cmocka) that it could be
 * started; the line is the caller's to check. */
void tr_test_kid_spawn(tr_test_kid *k, char *const argv[], int keep_out);
/* Stop it cleanly (close its stdin: its node says goodbye), SIGKILL it if
 * it is not gone within TR_TEST_HANG_MS, and reap it. */
void tr_test_kid_stop(tr_test_kid *k);
/* SIGKILL its agent (if known) and it, and reap it. */
void tr_test_kid_kill(tr_test_kid *k);
/* Close its stdin and stdout (no wait). */
void tr_test_kid_close(tr_test_kid *k);

/* The child side of tr_test_kid_start_node(), for a test's main() to
 * call when argv[1] is "--node-child": argv is "PROG --node-child NAME
 * PEER|- DETECT SECRET|- ALLOW|- COOKIE|-".  Starts this run's node with
 * those options, prints "EP ENDPOINT AGENT PID" (or "ERR CODE"), serves
 * until its stdin closes, stops the node.  Returns the exit code. */
int tr_test_node_child(int argc, char **argv);
/* Start node `name` as tr_test_node_child() in another run of this test
 * program (argv[0] `prog`), joining `peer` (NULL: none), with detection
 * time `detect` ms (0: the default), CURVE secret key `secret` and one
 * allowed key `allow` (NULL: none); fills k->ep and k->agent.  Asserts
 * (cmocka) that it started. */
void tr_test_kid_start_node(tr_test_kid *k, const char *prog, const char *name,
    const char *peer, int detect, const char *secret, const char *allow);

/* Wait up to TR_TEST_HANG_MS until tr_node_is_up(node) is `want` (1 up, 0
 * not); asserts it. */
void tr_test_node_wait_up(const char *node, int want);

#endif /* TR_TEST_NODE_H */
