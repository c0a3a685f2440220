/* SPDX-License-Identifier: MIT */
/* pool-two-nodes -- a Pool whose workers live on two nodes
 * (docs/distribution.md, "Supervision and pools across nodes").
 *
 * This program is node "a".  It runs itself again as a separate run, node
 * "b", which joins a over loopback TCP.  Its pool has four workers: two
 * here and two on b (tr_pool_opts.nodes).  It maps square() over 1..10;
 * then, in the middle of a longer map, it kills node b: the tasks b's
 * workers held are sent again to the others (retries), the map's results
 * are still exact, and the lost workers are replaced here.
 *
 *   $ ./pool-two-nodes
 *   node b joined node a
 *   workers: 2 here, 2 on node b
 *   [1, 4, 9, 16, 25, 36, 49, 64, 81, 100]
 *   killing node b in the middle of a map of 80 items
 *   80 results, all exact
 *   workers lost with node b: 2 (tasks sent again: 5)
 *   workers: 4 here, 0 on node b  */
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

/* The task: "N" -> "N*N", a little slowly.  Registered in both nodes'
 * programs (this one): a node starts only what its program knows. */
static int
square(const void *item, size_t len, tr_pool_out *out)
{
	char txt[32] = "";
	long n;

	memcpy(txt, item, len < sizeof(txt) - 1 ? len : sizeof(txt) - 1);
	n = atol(txt);
	usleep(20000);
	snprintf(txt, sizeof(txt), "%ld", n * n);
	return tr_pool_out_set(out, txt, strlen(txt));
}
TR_POOL_FN(square, square)

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

/* Start node b; its agent's pid in *agent, its stdin in *in. */
static int
start_b(const char *self, const char *ep, pid_t *pid, pid_t *agent, int *in)
{
	posix_spawn_file_actions_t fa;
	int                        pin[2], pout[2];
	char                       line[32] = "";
	char *argv[] = { (char *) self, (char *) "--node-b", (char *) ep,
		NULL };
	FILE *f;

	if (pipe2(pin, O_CLOEXEC) < 0 || pipe2(pout, O_CLOEXEC) < 0) {
		return -1;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pin[0], 0);
	posix_spawn_file_actions_adddup2(&fa, pout[1], 1);
	if (posix_spawn(pid, "/proc/self/exe", &fa, NULL, argv, environ) != 0) {
		return -1;
	}
	posix_spawn_file_actions_destroy(&fa);
	close(pin[0]);
	close(pout[1]);
	f = fdopen(pout[0], "r");
	if (!f || !fgets(line, sizeof(line), f)) {
		return -1;
	}
	fclose(f);
	*agent = (pid_t) atoi(line);
	*in    = pin[1];
	return 0;
}

/* Where the pool's workers run now, from its supervisor. */
static void
print_workers(tr_pool *p)
{
	tr_child_info *v    = NULL;
	size_t         n    = 0;
	int            here = 0, on_b = 0;

	if (tr_supervisor_which_children(
	        tr_pool_supervisor(p), &v, &n, 10000) == 0) {
		for (size_t i = 0; i < n; i++) {
			if (v[i].state == TR_CHILD_RUNNING) {
				here += v[i].node[0] == '\0';
				on_b += strcmp(v[i].node, "b") == 0;
			}
		}
	}
	free(v);
	printf("workers: %d here, %d on node b\n", here, on_b);
}

/* Map square() over 1..n (kill_b: killing node b's agent meanwhile); 0
 * if every result is exact.  print: print them. */
static int
map_squares(tr_pool *p, int n, bool kill_b, pid_t agent, bool print)
{
	char(*txt)[12]        = calloc((size_t) n, sizeof(*txt));
	tr_pool_item   *items = calloc((size_t) n, sizeof(*items));
	tr_pool_result *res   = NULL;
	int             r     = -1;

	for (int i = 0; txt && items && i < n; i++) {
		snprintf(txt[i], sizeof(txt[i]), "%d", i + 1);
		items[i] = (tr_pool_item) { txt[i], strlen(txt[i]) };
	}
	if (txt && items &&
	    tr_pool_map_async(p, "square", items, (size_t) n, 1, NULL, &res) ==
	        0) {
		if (kill_b) {
			(void) tr_pool_result_wait(res, 200);
			printf("killing node b in the middle of a map of %d "
			       "items\n",
			    n);
			fflush(stdout);
			kill(agent, SIGKILL); /* b's node agent: "host" down */
		}
		r = tr_pool_result_get(res, 60000);
	}
	for (int i = 0; r == 0 && i < n; i++) {
		size_t      len = 0;
		const char *d   = tr_pool_result_data(res, (size_t) i, &len);
		char        want[24];

		/* a result is len bytes, not a C string */
		snprintf(want, sizeof(want), "%ld", (long) (i + 1) * (i + 1));
		if (len != strlen(want) || memcmp(d, want, len) != 0) {
			fprintf(stderr, "pool-two-nodes: item %d is %.*s\n",
			    i + 1, (int) len, d);
			r = -1;
		}
		if (print) {
			printf("%s%.*s%s", i ? ", " : "[", (int) len, d,
			    i == n - 1 ? "]\n" : "");
		}
	}
	if (r < 0 && res) {
		fprintf(stderr, "pool-two-nodes: map failed: %s\n",
		    tr_pool_result_error_text(res));
	}
	tr_pool_result_destroy(&res);
	free(txt);
	free(items);
	return r;
}

int
main(int argc, char **argv)
{
	tr_node_options o       = { .name = "a" };
	const char     *nodes[] = { "", "b", NULL };
	tr_pool_opts    po = { .processes = 4, .nodes = nodes, .retries = 3 };
	tr_node        *a;
	tr_pool        *p;
	tr_pool_stats   st;
	pid_t           b, agent;
	int             in, status;

	if (argc == 3 && strcmp(argv[1], "--node-b") == 0) {
		return node_b(argc, argv);
	}
	if (tr_init(argc, argv) < 0 || tr_node_start(&o, &a, 10000) < 0) {
		fprintf(stderr, "pool-two-nodes: cannot start node a\n");
		return 1;
	}
	if (start_b(argv[0], tr_node_endpoint(a), &b, &agent, &in) < 0) {
		fprintf(stderr, "pool-two-nodes: node b did not start\n");
		return 1;
	}
	while (tr_node_is_up("b", 5000) == 0) {
		usleep(10000);
	}
	printf("node b joined node a\n");
	if (tr_pool_new(&p, &po) < 0) {
		fprintf(stderr, "pool-two-nodes: cannot start the pool\n");
		return 1;
	}
	print_workers(p);
	if (map_squares(p, 10, false, agent, true) < 0 ||
	    map_squares(p, 80, true, agent, false) < 0) {
		return 1;
	}
	printf("80 results, all exact\n");
	(void) tr_pool_stats_get(p, &st);
	printf("workers lost with node b: %llu (tasks sent again: %llu)\n",
	    (unsigned long long) st.workers_died,
	    (unsigned long long) st.tasks_retried);
	print_workers(p);
	(void) tr_pool_close(p);
	(void) tr_pool_join(p, 30000);
	tr_pool_destroy(&p);
	close(in); /* b's main program ends */
	(void) waitpid(b, &status, 0);
	tr_node_stop(&a);
	return 0;
}
