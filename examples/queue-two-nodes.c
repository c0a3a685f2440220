/* SPDX-License-Identifier: MIT */
/* queue-two-nodes -- workers on two nodes drain one JoinableQueue
 * (docs/distribution.md, "Queue, Event and the locks across nodes").
 *
 * This program is node "a".  It runs itself again as a separate run, node
 * "b", which joins a over loopback TCP.  Node a makes two queues (tasks
 * and results), starts two workers here and two on node b (by name, with
 * tr_node_spawn), all given the queues' node-global addresses
 * (tr_queue_addr() once the run has a node).  Workers on a take their
 * tasks from the broker's memory; those on b by message, transparently.
 * Each worker squares the numbers it gets, puts the answer on the results
 * queue and marks the task done; a "stop" task ends it.  join() returns
 * once every task of both nodes is done.
 *
 *   $ ./queue-two-nodes
 *   node b joined node a
 *   4 workers ready: 2 on node a, 2 on node b
 *   1 squared is 1
 *   ...
 *   12 squared is 144
 *   tasks done on node a: yes, on node b: yes
 *   join returned: every task done  */
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "troupe.h"

#define TASKS   12
#define WORKERS 4

extern char **environ;

static void
check(int r, const char *what)
{
	if (r < 0) {
		fprintf(
		    stderr, "queue-two-nodes: %s: %s\n", what, tr_strerror(r));
		exit(1);
	}
}

/* A worker: args "TASKS RESULTS NODE".  Says "ready NODE" once it asked
 * for work, then answers each number with "N N*N NODE" until "stop". */
static int
worker_main(const void *args, size_t len)
{
	char      buf[256], tq[64], rq[64], node[16], out[96];
	tr_queue *tasks = NULL, *results = NULL;

	if (len >= sizeof(buf)) {
		return 10;
	}
	memcpy(buf, args, len);
	buf[len] = '\0';
	if (sscanf(buf, "%63s %63s %15s", tq, rq, node) != 3 ||
	    tr_queue_open(&tasks, tq) < 0 || tr_queue_open(&results, rq) < 0) {
		return 11;
	}
	/* one task at a time, so both nodes get some */
	(void) tr_queue_set_window(tasks, 1);
	snprintf(out, sizeof(out), "ready %s", node);
	if (tr_queue_poll(tasks, 0) < 0 ||
	    tr_queue_put_bytes(results, out, strlen(out), 10000) < 0) {
		return 12;
	}
	for (;;) {
		tr_msg *m      = NULL;
		char    in[32] = "";
		long    n;

		if (tr_queue_get(tasks, &m, 30000) < 0) {
			return 13;
		}
		memcpy(in, tr_msg_data(m),
		    tr_msg_size(m) < sizeof(in) - 1 ? tr_msg_size(m)
		                                    : sizeof(in) - 1);
		tr_msg_destroy(&m);
		if (strcmp(in, "stop") == 0) {
			break;
		}
		n = atol(in);
		snprintf(out, sizeof(out), "%ld %ld %s", n, n * n, node);
		if (tr_queue_put_bytes(results, out, strlen(out), 10000) < 0 ||
		    tr_queue_task_done(tasks) < 0) {
			return 14;
		}
	}
	(void) tr_queue_task_done(tasks); /* the stop */
	tr_queue_destroy(&tasks);
	tr_queue_destroy(&results);
	return 0;
}
TR_ACTOR(worker, worker_main)

/* Node b: join the node at argv[2] and serve until stdin closes. */
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
	printf("up\n");
	fflush(stdout);
	while (read(0, buf, sizeof(buf)) > 0) { }
	tr_node_stop(&n);
	return 0;
}

/* Start node b (this program again); returns its pid, *in its stdin. */
static pid_t
start_b(const char *self, const tr_node *a, int *in_fd)
{
	posix_spawn_file_actions_t fa;
	int                        in[2], out[2];
	char                       line[16] = "",
	     *bargv[] = { (char *) self, (char *) "--node-b",
		     (char *) tr_node_endpoint(a), NULL };
	pid_t b;
	FILE *f;

	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0) {
		return -1;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	if (posix_spawn(&b, "/proc/self/exe", &fa, NULL, bargv, environ) != 0) {
		return -1;
	}
	posix_spawn_file_actions_destroy(&fa);
	close(in[0]);
	close(out[1]);
	f = fdopen(out[0], "r");
	if (!f || !fgets(line, sizeof(line), f)) {
		return -1;
	}
	fclose(f);
	*in_fd = in[1];
	return b;
}

int
main(int argc, char **argv)
{
	tr_node_options o     = { .name = "a" };
	tr_queue_opts   jo    = { .kind = TR_QUEUE_JOINABLE };
	tr_node        *a     = NULL;
	tr_queue       *tasks = NULL, *results = NULL;
	tr_process     *local[2];
	long            square[TASKS + 1] = { 0 };
	int             on[2] = { 0, 0 }, done[2] = { 0, 0 }, in, st;
	char            args[256];
	pid_t           b;

	if (argc == 3 && strcmp(argv[1], "--node-b") == 0) {
		return node_b(argc, argv);
	}
	check(tr_init(argc, argv), "init");
	check(tr_node_start(&o, &a, 10000), "node a");
	b = start_b(argv[0], a, &in);
	if (b < 0) {
		fprintf(stderr, "queue-two-nodes: node b did not start\n");
		return 1;
	}
	while (tr_node_is_up("b", 5000) == 0) {
		usleep(10000);
	}
	printf("node b joined node a\n");

	check(tr_queue_new(&tasks, &jo), "tasks queue");
	check(tr_queue_new(&results, NULL), "results queue");
	for (int i = 0; i < WORKERS; i++) {
		const char *node = i < 2 ? "a" : "b";

		/* node-global addresses: they open the queues on any node */
		snprintf(args, sizeof(args), "%s %s %s", tr_queue_addr(tasks),
		    tr_queue_addr(results), node);
		if (i < 2) {
			check(tr_process_new(
			          &local[i], "worker", args, strlen(args)),
			    "worker");
			check(tr_process_start(local[i], 10000), "worker");
		} else {
			tr_addr w;

			check(tr_node_spawn(
			          "b", "worker", args, strlen(args), &w, 10000),
			    "worker on b");
		}
	}
	for (int i = 0; i < WORKERS; i++) {
		tr_msg *m = NULL;

		check(tr_queue_get(results, &m, 30000), "ready");
		on[((const char *) tr_msg_data(m))[6] == 'b']++;
		tr_msg_destroy(&m);
	}
	printf("%d workers ready: %d on node a, %d on node b\n", WORKERS, on[0],
	    on[1]);

	for (int n = 1; n <= TASKS; n++) {
		char t[16];

		snprintf(t, sizeof(t), "%d", n);
		check(tr_queue_put_bytes(tasks, t, strlen(t), 10000), "put");
	}
	for (int i = 0; i < TASKS; i++) {
		tr_msg *m       = NULL;
		char    txt[96] = "", node[16] = "";
		long    n = 0, sq = 0;

		check(tr_queue_get(results, &m, 30000), "result");
		memcpy(txt, tr_msg_data(m),
		    tr_msg_size(m) < sizeof(txt) - 1 ? tr_msg_size(m)
		                                     : sizeof(txt) - 1);
		tr_msg_destroy(&m);
		if (sscanf(txt, "%ld %ld %15s", &n, &sq, node) != 3 || n < 1 ||
		    n > TASKS) {
			fprintf(
			    stderr, "queue-two-nodes: bad result %s\n", txt);
			return 1;
		}
		square[n] = sq;
		done[node[0] == 'b']++;
	}
	for (int n = 1; n <= TASKS; n++) {
		printf("%d squared is %ld\n", n, square[n]);
	}
	printf("tasks done on node a: %s, on node b: %s\n",
	    done[0] ? "yes" : "no", done[1] ? "yes" : "no");

	for (int i = 0; i < WORKERS; i++) {
		check(tr_queue_put_bytes(tasks, "stop", 4, 10000), "stop");
	}
	check(tr_queue_join(tasks, 30000), "join");
	printf("join returned: every task done\n");
	for (int i = 0; i < 2; i++) {
		check(tr_process_join(local[i], 10000), "worker exit");
		tr_process_destroy(&local[i]);
	}
	tr_queue_destroy(&tasks);
	tr_queue_destroy(&results);
	close(in); /* node b stops */
	(void) waitpid(b, &st, 0);
	tr_node_stop(&a);
	return 0;
}
