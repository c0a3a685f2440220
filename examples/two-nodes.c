/* SPDX-License-Identifier: MIT */
/* two-nodes -- distribution in one program (docs/distribution.md).
 *
 * This program is node "a".  It runs itself again as a separate run, node
 * "b", which joins a over loopback TCP.  A supervisor on node a starts
 * three workers on node b (tr_child_spec.node), and a calls each and
 * monitors them; then it kills node b (SIGKILL to b's node agent), and
 * sees and reports a DOWN with reason "noconnection" for each worker.
 * Their state is unknown, so the supervisor reports them as unknown and
 * does not restart them elsewhere (no duplicates if b is only cut off).
 *
 *   $ ./two-nodes
 *   node b joined node a
 *   a supervisor on node a started 3 workers on node b
 *   worker-1 on node b: 7 squared is 49
 *   worker-2 on node b: 8 squared is 64
 *   worker-3 on node b: 9 squared is 81
 *   killing node b
 *   worker on node b is DOWN: noconnection
 *   (three times)
 *   supervisor: worker-1 on node b is unknown, not restarted
 *   (and worker-2, worker-3)
 *   supervisor: 0 running, 3 unknown  */
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "troupe.h"

extern char **environ;

/* A worker: answers "N" with "N squared is N*N". */
static int
square_main(const void *args, size_t len)
{
	(void) args;
	(void) len;
	for (;;) {
		tr_msg *m      = NULL;
		char    in[32] = "", out[64];
		long    n;

		if (tr_recv(&m, TR_TIMEOUT_INFINITE) < 0) {
			return 1;
		}
		if (!tr_msg_is_system(m) && tr_msg_size(m) < sizeof(in)) {
			memcpy(in, tr_msg_data(m), tr_msg_size(m));
			n = atol(in);
			snprintf(
			    out, sizeof(out), "%ld squared is %ld", n, n * n);
			tr_msg *r = NULL;

			if (tr_msg_new_bytes(&r, out, strlen(out)) == 0 &&
			    tr_reply(m, &r, 5000) < 0) {
				tr_msg_destroy(&r);
			}
		}
		tr_msg_destroy(&m);
	}
}
TR_ACTOR(square, square_main)

/* Node b: join the node at argv[2], say where our agent is, and serve
 * until stdin closes. */
static int
node_b(int argc, char **argv)
{
	const char     *peers[] = { argv[2], NULL };
	tr_node_options o       = { .name = "b", .peers = peers };
	tr_node        *n;
	char            buf[16];

	if (tr_init(argc, argv) < 0 || tr_node_start(&o, &n, 10000) < 0) {
		return 1;
	}
	printf("%d\n", (int) tr_node_agent_pid(n));
	fflush(stdout);
	while (read(0, buf, sizeof(buf)) > 0) { }
	tr_node_stop(&n);
	return 0;
}

/* The supervisor's children: three workers on node b. */
static tr_supervisor *
start_supervisor(tr_child_info ws[3])
{
	static const char *const ids[] = { "worker-1", "worker-2", "worker-3" };
	tr_child_spec            c[3];
	tr_sup_spec              spec = { .children = c, .nchildren = 3 };
	tr_supervisor           *s;

	for (int i = 0; i < 3; i++) {
		c[i] = (tr_child_spec) {
			.id = ids[i], .actor = "square", .node = "b"
		};
	}
	if (tr_supervisor_start(&s, &spec, 30000) < 0) {
		return NULL;
	}
	for (int i = 0; i < 3; i++) {
		if (tr_supervisor_which_child(s, ids[i], &ws[i], 10000) < 0) {
			tr_supervisor_destroy(&s);
			return NULL;
		}
	}
	printf("a supervisor on node a started 3 workers on node b\n");
	return s;
}

/* What the supervisor says once it has seen node b lost. */
static void
report(tr_supervisor *s)
{
	tr_child_counts n   = { 0 };
	int64_t         end = tr_now_ms() + 30000;
	tr_child_info  *v   = NULL;
	size_t          nv  = 0;

	while (tr_supervisor_count_children(s, &n, 10000) == 0 &&
	    n.unknown < 3 && tr_now_ms() < end) {
		usleep(10000);
	}
	if (tr_supervisor_which_children(s, &v, &nv, 10000) == 0) {
		for (size_t i = 0; i < nv; i++) {
			printf("supervisor: %s on node %s is %s, %s\n", v[i].id,
			    v[i].node,
			    v[i].state == TR_CHILD_UNKNOWN ? "unknown"
			                                   : "not unknown",
			    v[i].restarts ? "restarted" : "not restarted");
		}
		free(v);
	}
	printf("supervisor: %d running, %d unknown\n", n.active, n.unknown);
}

int
main(int argc, char **argv)
{
	tr_node_options            o = { .name = "a" };
	tr_node                   *a;
	tr_supervisor             *sup;
	tr_child_info              ws[3];
	uint64_t                   ref[3];
	posix_spawn_file_actions_t fa;
	int                        in[2], out[2], st;
	pid_t                      b;
	char                       line[64] = "";
	FILE                      *f;

	if (argc == 3 && strcmp(argv[1], "--node-b") == 0) {
		return node_b(argc, argv);
	}
	if (tr_init(argc, argv) < 0 || tr_node_start(&o, &a, 10000) < 0) {
		fprintf(stderr, "two-nodes: cannot start node a\n");
		return 1;
	}
	/* node b: this program again, a run of its own */
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0) {
		return 1;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	{
		char *bargv[] = { argv[0], (char *) "--node-b",
			(char *) tr_node_endpoint(a), NULL };

		if (posix_spawn(
		        &b, "/proc/self/exe", &fa, NULL, bargv, environ) != 0) {
			return 1;
		}
	}
	posix_spawn_file_actions_destroy(&fa);
	close(in[0]);
	close(out[1]);
	f = fdopen(out[0], "r");
	if (!f || !fgets(line, sizeof(line), f)) {
		fprintf(stderr, "two-nodes: node b did not start\n");
		return 1;
	}
	fclose(f);
	while (tr_node_is_up("b", 5000) == 0) {
		usleep(10000);
	}
	printf("node b joined node a\n");
	sup = start_supervisor(ws);
	if (!sup) {
		fprintf(stderr, "two-nodes: cannot start the workers on b\n");
		return 1;
	}
	for (int i = 0; i < 3; i++) {
		char    q[8];
		tr_msg *m = NULL, *r = NULL;

		if (tr_monitor(ws[i].addr, &ref[i]) < 0) {
			return 1;
		}
		snprintf(q, sizeof(q), "%d", 7 + i);
		if (tr_msg_new_bytes(&m, q, strlen(q)) == 0 &&
		    tr_call(ws[i].addr, &m, &r, 10000) == 0) {
			printf("%s on node %s: %.*s\n", ws[i].id, ws[i].node,
			    (int) tr_msg_size(r),
			    (const char *) tr_msg_data(r));
		}
		tr_msg_destroy(&m);
		tr_msg_destroy(&r);
	}
	printf("killing node b\n");
	fflush(stdout);
	kill((pid_t) atoi(line), SIGKILL); /* b's node agent: "host" down */
	for (int downs = 0; downs < 3;) {
		tr_msg *m = NULL;
		tr_down d;

		if (tr_recv(&m, 30000) < 0) {
			fprintf(stderr, "two-nodes: no DOWN\n");
			return 1;
		}
		if (tr_msg_down(m, &d) == 0) {
			printf("worker on node b is DOWN: %s\n",
			    tr_exit_class_name(d.exit_class));
			downs++;
		}
		tr_msg_destroy(&m);
	}
	report(sup);
	tr_supervisor_destroy(&sup);
	close(in[1]); /* b's main program ends */
	(void) waitpid(b, &st, 0);
	tr_node_stop(&a);
	return 0;
}
