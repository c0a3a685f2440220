/* SPDX-License-Identifier: MIT */
/* Supervision across nodes (issue 13): a supervisor in this run (node
 * "a") with children on other nodes -- this program run again as separate
 * runs ("--node-child"), each its own node on a loopback port, cleaned up
 * by pid.  A remote child's crash restarts it on its node; a lost node
 * leaves its child unknown (not restarted) until the node is back; the
 * restart-elsewhere option; the supervisor's stop ends the remote
 * children (checked by pid); a Pool whose workers live on two nodes. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tr-test-node.h"

extern char **environ;

/* ---- actors and task functions ------------------------------------------- */

/* Answers calls with their payload; "crash" ends it with code 3. */
static int
echo_main(const void *args, size_t len)
{
	(void) args;
	(void) len;
	for (;;) {
		tr_msg *m = NULL, *rep = NULL;

		if (tr_recv(&m, TR_TIMEOUT_INFINITE) < 0) {
			return 1;
		}
		if (tr_msg_size(m) == 5 &&
		    memcmp(tr_msg_data(m), "crash", 5) == 0) {
			tr_msg_destroy(&m);
			return 3;
		}
		if (!tr_msg_is_system(m) && tr_msg_correlation(m) &&
		    tr_msg_new_bytes(&rep, tr_msg_data(m), tr_msg_size(m)) ==
		        0 &&
		    tr_reply(m, &rep, TR_TEST_HANG_MS) < 0) {
			tr_msg_destroy(&rep);
		}
		tr_msg_destroy(&m);
	}
}
TR_ACTOR(echo, echo_main)

/* Ignores SIGTERM: only a SIGKILL ends it. */
static int
stubborn_main(const void *args, size_t len)
{
	(void) args;
	(void) len;
	(void) signal(SIGTERM, SIG_IGN);
	for (int i = 0; i < 600; i++) {
		sleep(1);
	}
	return 0;
}
TR_ACTOR(stubborn, stubborn_main)

/* Squares a decimal number; slow enough that a map spans a node kill. */
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

/* ---- node children (as in test-node.c) ----------------------------------- */

/* argv: --node-child NAME PEER LISTEN|- */
static int
node_child(int argc, char **argv)
{
	const char     *peers[2] = { argv[3], NULL };
	tr_node_options o        = { .name = argv[2], .peers = peers };
	tr_node        *n        = NULL;
	char            buf[16];

	if (argc >= 5 && strcmp(argv[4], "-") != 0) {
		o.listen = argv[4];
	}
	if (tr_init(argc, argv) < 0 || argc < 5 ||
	    tr_node_start(&o, &n, TR_TEST_HANG_MS) < 0) {
		printf("ERR\n");
		fflush(stdout);
		return 98;
	}
	printf(
	    "AGENT %d %s\n", (int) tr_node_agent_pid(n), tr_node_endpoint(n));
	fflush(stdout);
	while (read(0, buf, sizeof(buf)) > 0) { }
	tr_node_stop(&n);
	return 0;
}

/* Start node `name` joining peer; listen: its endpoint (NULL: any
 * port), so that a node restarted on the same port is found again. */
static void
kid_start_on(
    tr_test_kid *k, const char *name, const char *peer, const char *listen)
{
	char *argv[] = { (char *) "test-node-sup", (char *) "--node-child",
		(char *) name, (char *) peer, (char *) (listen ? listen : "-"),
		NULL };

	tr_test_kid_spawn(k, argv, 0);
	if (sscanf(k->line, "AGENT %d %255s", &k->agent, k->ep) != 2) {
		print_error("node child %s said: %s\n", name, k->line);
		fail();
	}
}

static void
kid_start(tr_test_kid *k, const char *name, const char *peer)
{
	kid_start_on(k, name, peer, NULL);
}

/* ---- helpers ------------------------------------------------------------- */

static tr_node *
start_a(void)
{
	tr_node_options o = { .name = "a" };
	tr_node        *n = NULL;

	TR_ASSERT_OK(tr_node_start(&o, &n, TR_TEST_HANG_MS));
	return n;
}

static tr_child_info
info(tr_supervisor *s, const char *id)
{
	tr_child_info ci;

	assert_int_equal(tr_test_child_info(s, id, &ci), 1);
	return ci;
}

/* Wait until child id is in state `state` with at least `restarts`
 * restarts; its info. */
static tr_child_info
wait_state(tr_supervisor *s, const char *id, int state, unsigned restarts)
{
	int64_t       end = tr_test_now_ms() + TR_TEST_HANG_MS;
	tr_child_info ci  = info(s, id);

	while ((ci.state != state || ci.restarts < restarts) &&
	    tr_test_now_ms() < end) {
		usleep(20000);
		ci = info(s, id);
	}
	assert_int_equal(ci.state, state);
	assert_true(ci.restarts >= restarts);
	return ci;
}

static void
call_echo(tr_addr to, const char *text)
{
	tr_msg *q = NULL, *rep = NULL;

	TR_ASSERT_OK(tr_msg_new_bytes(&q, text, strlen(text)));
	TR_ASSERT_OK(tr_call(to, &q, &rep, TR_TEST_HANG_MS));
	assert_int_equal(tr_msg_size(rep), strlen(text));
	assert_memory_equal(tr_msg_data(rep), text, strlen(text));
	tr_msg_destroy(&rep);
}

static tr_supervisor *
sup_start(const tr_child_spec *c, size_t n)
{
	tr_sup_spec spec = { .intensity = 10, .children = c, .nchildren = n };
	tr_supervisor *s = NULL;

	TR_ASSERT_OK(tr_supervisor_start(&s, &spec, TR_TEST_HANG_MS));
	return s;
}

/* ---- tests --------------------------------------------------------------- */

static void
test_bad_node_specs_are_refused(void **state)
{
	tr_child_spec  c    = { .id = "w", .actor = "echo", .node = "b d" };
	tr_sup_spec    spec = { .children = &c, .nchildren = 1, .quiet = true };
	const char    *many[] = { "b", "c", "d", "e", "f", NULL };
	tr_supervisor *s      = NULL;
	void          *buf;
	size_t         len;

	(void) state;
	TR_ASSERT_ERR(tr_sup_spec_pack(&spec, &buf, &len), -EINVAL);
	c.node         = "b";
	c.on_node_loss = 7;
	TR_ASSERT_ERR(tr_sup_spec_pack(&spec, &buf, &len), -EINVAL);
	c.on_node_loss = TR_NODE_LOSS_RESTART_ELSEWHERE;
	c.elsewhere    = many;
	TR_ASSERT_ERR(tr_sup_spec_pack(&spec, &buf, &len), -EINVAL);
	/* a run without a node cannot start a child on another */
	c.elsewhere    = NULL;
	c.on_node_loss = 0;
	TR_ASSERT_ERR(
	    tr_supervisor_start(&s, &spec, TR_TEST_HANG_MS), TR_ESTARTFAIL);
	assert_null(s);
	/* tr_node_signal: only SIGTERM and SIGKILL, only with a node */
	TR_ASSERT_ERR(
	    tr_node_signal((tr_addr) { 5, 1, 1 }, SIGINT, 1000), -EINVAL);
	TR_ASSERT_ERR(
	    tr_node_signal((tr_addr) { 5, 1, 1 }, SIGTERM, 1000), TR_EBADADDR);
}

/* A remote child that crashes is restarted on its node; the supervisor
 * reports where it runs. */
static void
test_remote_child_crash_restarted_on_its_node(void **state)
{
	tr_node      *a = start_a();
	tr_test_kid   b;
	tr_child_spec c[] = {
		{ .id = "remote", .actor = "echo", .node = "b" },
		{ .id = "local", .actor = "echo" },
	};
	tr_supervisor  *s;
	tr_child_info   ci, ci2;
	tr_child_counts cnt;

	(void) state;
	kid_start(&b, "b", tr_node_endpoint(a));
	tr_test_node_wait_up("b", 1);
	s  = sup_start(c, 2);
	ci = info(s, "remote");
	assert_int_equal(ci.state, TR_CHILD_RUNNING);
	assert_string_equal(ci.node, "b");
	assert_int_equal(ci.addr.node, tr_node_id("b"));
	assert_int_equal((pid_t) ci.addr.pid, ci.pid);
	assert_true(tr_test_pid_alive(ci.pid)); /* same host: by pid */
	assert_string_equal(info(s, "local").node, "");
	call_echo(ci.addr, "hello b");
	/* a node signals only what it started for another node: not its
	 * own agent, not a stale incarnation */
	TR_ASSERT_ERR(
	    tr_node_signal((tr_addr) { tr_node_id("b"), (uint32_t) b.agent, 1 },
	        SIGKILL, TR_TEST_HANG_MS),
	    -ESRCH);
	TR_ASSERT_ERR(tr_node_signal((tr_addr) { ci.addr.node, ci.addr.pid,
	                                 ci.addr.incarnation + 1 },
	                  SIGKILL, TR_TEST_HANG_MS),
	    -ESRCH);
	TR_ASSERT_ERR(tr_node_signal((tr_addr) { tr_node_id("nowhere"), 1, 1 },
	                  SIGKILL, TR_TEST_HANG_MS),
	    TR_EBADADDR);
	assert_true(tr_test_pid_alive(b.agent));
	call_echo(ci.addr, "still here");
	/* crash: restarted on b, a new incarnation */
	TR_ASSERT_OK(tr_send_bytes(ci.addr, "crash", 5, TR_TEST_HANG_MS));
	ci2 = wait_state(s, "remote", TR_CHILD_RUNNING, 1);
	assert_string_equal(ci2.node, "b");
	assert_int_equal(ci2.addr.node, tr_node_id("b"));
	assert_false(tr_addr_eq(ci.addr, ci2.addr));
	assert_true(ci2.exited);
	assert_int_equal(ci2.last_exitcode, 3);
	assert_int_equal(tr_test_wait_gone(ci.pid, TR_TEST_HANG_MS), 1);
	call_echo(ci2.addr, "hello again");
	TR_ASSERT_OK(tr_supervisor_count_children(s, &cnt, TR_TEST_HANG_MS));
	assert_int_equal(cnt.active, 2);
	assert_int_equal(cnt.unknown, 0);
	/* terminate_child and restart_child reach it on its node */
	TR_ASSERT_OK(
	    tr_supervisor_terminate_child(s, "remote", TR_TEST_HANG_MS));
	assert_int_equal(tr_test_wait_gone(ci2.pid, TR_TEST_HANG_MS), 1);
	assert_int_equal(info(s, "remote").state, TR_CHILD_STOPPED);
	TR_ASSERT_OK(
	    tr_supervisor_restart_child(s, "remote", &ci, TR_TEST_HANG_MS));
	assert_int_equal(ci.state, TR_CHILD_RUNNING);
	assert_string_equal(ci.node, "b");
	call_echo(ci.addr, "back");
	TR_ASSERT_OK(tr_supervisor_stop(s, TR_TEST_HANG_MS));
	assert_int_equal(tr_test_wait_gone(ci.pid, TR_TEST_HANG_MS), 1);
	tr_supervisor_destroy(&s);
	tr_test_kid_stop(&b);
	tr_node_stop(&a);
}

/* The node of a child is killed: the child is unknown, reported, not
 * restarted anywhere; when the node is back its node is asked: that
 * incarnation is gone, so the child is restarted there. */
static void
test_node_killed_child_unknown_not_restarted(void **state)
{
	tr_node      *a = start_a();
	tr_test_kid   b;
	tr_child_spec c[] = {
		{ .id = "remote", .actor = "echo", .node = "b" },
		{ .id = "local", .actor = "echo" },
	};
	tr_supervisor  *s;
	tr_child_info   ci, ci2;
	tr_child_counts cnt;

	(void) state;
	kid_start(&b, "b", tr_node_endpoint(a));
	tr_test_node_wait_up("b", 1);
	s  = sup_start(c, 2);
	ci = info(s, "remote");
	tr_test_kid_kill(&b);
	ci2 = wait_state(s, "remote", TR_CHILD_UNKNOWN, 0);
	assert_string_equal(ci2.node, "b");
	assert_true(tr_addr_eq(ci2.addr, ci.addr)); /* the one it had */
	assert_int_equal(ci2.restarts, 0);
	TR_ASSERT_OK(tr_supervisor_count_children(s, &cnt, TR_TEST_HANG_MS));
	assert_int_equal(cnt.specs, 2);
	assert_int_equal(cnt.active, 1);
	assert_int_equal(cnt.unknown, 1);
	/* still unknown a while later: not restarted anywhere */
	usleep(1500 * 1000);
	ci2 = info(s, "remote");
	assert_int_equal(ci2.state, TR_CHILD_UNKNOWN);
	assert_int_equal(ci2.restarts, 0);
	/* it may run: it cannot be restarted or deleted by hand */
	TR_ASSERT_ERR(
	    tr_supervisor_restart_child(s, "remote", NULL, TR_TEST_HANG_MS),
	    TR_ERUNNING);
	/* the node comes back (a new run named b, on the same port): the
	 * old incarnation is not there, so the child is restarted on b */
	{
		char ep[sizeof(b.ep)];

		snprintf(ep, sizeof(ep), "%s", b.ep);
		kid_start_on(&b, "b", tr_node_endpoint(a), ep);
	}
	tr_test_node_wait_up("b", 1);
	ci2 = wait_state(s, "remote", TR_CHILD_RUNNING, 1);
	assert_string_equal(ci2.node, "b");
	assert_false(tr_addr_eq(ci2.addr, ci.addr));
	call_echo(ci2.addr, "after the loss");
	TR_ASSERT_OK(tr_supervisor_count_children(s, &cnt, TR_TEST_HANG_MS));
	assert_int_equal(cnt.active, 2);
	assert_int_equal(cnt.unknown, 0);
	TR_ASSERT_OK(tr_supervisor_stop(s, TR_TEST_HANG_MS));
	assert_int_equal(tr_test_wait_gone(ci2.pid, TR_TEST_HANG_MS), 1);
	tr_supervisor_destroy(&s);
	tr_test_kid_stop(&b);
	tr_node_stop(&a);
}

/* on_node_loss = restart elsewhere: on the first of `elsewhere` that is
 * connected, or (none listed) in the supervisor's own run. */
static void
test_restart_elsewhere_option(void **state)
{
	tr_node      *a = start_a();
	tr_test_kid   b, cn;
	const char   *to_c[] = { "gone", "c", NULL };
	tr_child_spec c[]    = {
		   { .id             = "to-c",
		       .actor        = "echo",
		       .node         = "b",
		       .on_node_loss = TR_NODE_LOSS_RESTART_ELSEWHERE,
		       .elsewhere    = to_c },
		   { .id             = "to-here",
		       .actor        = "echo",
		       .node         = "b",
		       .on_node_loss = TR_NODE_LOSS_RESTART_ELSEWHERE },
	};
	tr_supervisor *s;
	tr_child_info  x, y;

	(void) state;
	kid_start(&b, "b", tr_node_endpoint(a));
	kid_start(&cn, "c", tr_node_endpoint(a));
	tr_test_node_wait_up("b", 1);
	tr_test_node_wait_up("c", 1);
	s = sup_start(c, 2);
	assert_string_equal(info(s, "to-c").node, "b");
	assert_string_equal(info(s, "to-here").node, "b");
	tr_test_kid_kill(&b);
	x = wait_state(s, "to-c", TR_CHILD_RUNNING, 1);
	y = wait_state(s, "to-here", TR_CHILD_RUNNING, 1);
	assert_string_equal(x.node, "c");
	assert_int_equal(x.addr.node, tr_node_id("c"));
	assert_true(tr_test_pid_alive(x.pid));
	call_echo(x.addr, "on c");
	assert_string_equal(y.node, "");
	assert_int_equal(y.addr.node, 0);
	assert_true(tr_test_pid_alive(y.pid));
	call_echo(y.addr, "here");
	TR_ASSERT_OK(tr_supervisor_stop(s, TR_TEST_HANG_MS));
	assert_int_equal(tr_test_wait_gone(x.pid, TR_TEST_HANG_MS), 1);
	assert_int_equal(tr_test_wait_gone(y.pid, TR_TEST_HANG_MS), 1);
	tr_supervisor_destroy(&s);
	tr_test_kid_stop(&cn);
	tr_node_stop(&a);
}

/* Stopping the supervisor ends its children on other nodes: SIGTERM
 * through their node, and SIGKILL for one that outlives its shutdown
 * time; checked on that node by pid. */
static void
test_supervisor_stop_ends_remote_children(void **state)
{
	tr_node      *a = start_a();
	tr_test_kid   b;
	tr_child_spec c[] = {
		{ .id = "polite", .actor = "echo", .node = "b" },
		{ .id            = "stubborn",
		    .actor       = "stubborn",
		    .node        = "b",
		    .shutdown_ms = 300 },
		{ .id            = "brutal",
		    .actor       = "stubborn",
		    .node        = "b",
		    .shutdown_ms = TR_SHUTDOWN_BRUTAL_KILL },
	};
	tr_supervisor *s;
	pid_t          pids[3];
	int64_t        t0;

	(void) state;
	kid_start(&b, "b", tr_node_endpoint(a));
	tr_test_node_wait_up("b", 1);
	s       = sup_start(c, 3);
	pids[0] = info(s, "polite").pid;
	pids[1] = info(s, "stubborn").pid;
	pids[2] = info(s, "brutal").pid;
	for (int i = 0; i < 3; i++) {
		assert_true(pids[i] > 0 && tr_test_pid_alive(pids[i]));
	}
	t0 = tr_test_now_ms();
	TR_ASSERT_OK(tr_supervisor_stop(s, TR_TEST_HANG_MS));
	/* the stubborn one waited out its 300 ms, then was killed */
	assert_true(tr_test_now_ms() - t0 >= 300);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(
		    tr_test_wait_gone(pids[i], TR_TEST_HANG_MS), 1);
	}
	tr_supervisor_destroy(&s);
	tr_test_kid_stop(&b);
	tr_node_stop(&a);
}

/* A supervisor killed outright (SIGKILL: no ordered shutdown) does not
 * leave its children on other nodes running: they are linked to it. */
static void
test_supervisor_killed_remote_children_end(void **state)
{
	tr_node      *a = start_a();
	tr_test_kid   b;
	tr_child_spec c[] = {
		{ .id = "one", .actor = "echo", .node = "b" },
		{ .id = "two", .actor = "echo", .node = "b" },
	};
	tr_supervisor *s;
	pid_t          pids[2];

	(void) state;
	kid_start(&b, "b", tr_node_endpoint(a));
	tr_test_node_wait_up("b", 1);
	s       = sup_start(c, 2);
	pids[0] = info(s, "one").pid;
	pids[1] = info(s, "two").pid;
	/* a child's crash does not end the supervisor (it traps exits) */
	TR_ASSERT_OK(
	    tr_send_bytes(info(s, "one").addr, "crash", 5, TR_TEST_HANG_MS));
	assert_int_equal(tr_test_wait_gone(pids[0], TR_TEST_HANG_MS), 1);
	pids[0] = wait_state(s, "one", TR_CHILD_RUNNING, 1).pid;
	assert_true(tr_test_pid_alive(tr_supervisor_pid(s)));
	kill(tr_supervisor_pid(s), SIGKILL);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(
		    tr_test_wait_gone(pids[i], TR_TEST_HANG_MS), 1);
	}
	tr_supervisor_destroy(&s);
	tr_test_kid_stop(&b);
	tr_node_stop(&a);
}

/* map over n numbers from 1; checks every result when ok. */
static tr_pool_item *
numbers(size_t n, char (*buf)[16])
{
	tr_pool_item *items = calloc(n, sizeof(*items));

	assert_non_null(items);
	for (size_t i = 0; i < n; i++) {
		snprintf(buf[i], sizeof(buf[i]), "%zu", i + 1);
		items[i].data = buf[i];
		items[i].len  = strlen(buf[i]);
	}
	return items;
}

static void
check_squares(tr_pool_result *r, size_t n)
{
	assert_int_equal(tr_pool_result_count(r), n);
	for (size_t i = 0; i < n; i++) {
		char        want[32];
		size_t      len = 0;
		const char *got = tr_pool_result_data(r, i, &len);

		snprintf(want, sizeof(want), "%zu", (i + 1) * (i + 1));
		assert_int_equal(len, strlen(want));
		assert_memory_equal(got, want, len);
	}
}

/* Pool workers of both nodes, as which_children says. */
static void
count_nodes(tr_pool *p, int *here, int *on_b)
{
	tr_child_info *v = NULL;
	size_t         n = 0;

	*here = *on_b = 0;
	TR_ASSERT_OK(tr_supervisor_which_children(
	    tr_pool_supervisor(p), &v, &n, TR_TEST_HANG_MS));
	for (size_t i = 0; i < n; i++) {
		if (v[i].state != TR_CHILD_RUNNING) {
			continue;
		}
		if (strcmp(v[i].node, "b") == 0) {
			assert_int_equal(v[i].addr.node, tr_node_id("b"));
			(*on_b)++;
		} else if (v[i].node[0] == '\0') {
			(*here)++;
		}
	}
	free(v);
}

/* A pool whose workers live on two nodes: exact results; the node of half
 * of them killed in the middle of a map: their tasks go to the others
 * (retries), the result is still exact, nothing hangs. */
static void
test_pool_on_two_nodes_survives_a_node_kill(void **state)
{
	enum { N = 150 };
	static char     buf[N][16];
	tr_node        *a       = start_a();
	const char     *nodes[] = { "", "b", NULL };
	tr_pool_opts    o = { .processes = 4, .nodes = nodes, .retries = 2 };
	tr_test_kid     b;
	tr_pool        *p   = NULL;
	tr_pool_result *res = NULL;
	tr_pool_item   *items;
	tr_pool_stats   st;
	int             here, on_b;

	(void) state;
	items = numbers(N, buf);
	kid_start(&b, "b", tr_node_endpoint(a));
	tr_test_node_wait_up("b", 1);
	TR_ASSERT_OK(tr_pool_new(&p, &o));
	count_nodes(p, &here, &on_b);
	assert_int_equal(here, 2);
	assert_int_equal(on_b, 2);
	TR_ASSERT_OK(
	    tr_pool_map(p, "square", items, 40, 1, &res, TR_TEST_HANG_MS));
	check_squares(res, 40);
	tr_pool_result_destroy(&res);
	TR_ASSERT_OK(tr_pool_stats_get(p, &st));
	assert_int_equal(st.workers_died, 0);
	/* N tasks of 20 ms on 4 workers: about 0.75 s; b dies after 0.2 s */
	TR_ASSERT_OK(tr_pool_map_async(p, "square", items, N, 1, NULL, &res));
	TR_ASSERT_ERR(tr_pool_result_wait(res, 200), -ETIMEDOUT);
	tr_test_kid_kill(&b);
	TR_ASSERT_OK(tr_pool_result_get(res, TR_TEST_HANG_MS));
	check_squares(res, N);
	tr_pool_result_destroy(&res);
	TR_ASSERT_OK(tr_pool_stats_get(p, &st));
	assert_int_equal(st.workers_died, 2);
	assert_true(st.tasks_retried >= 1);
	/* the replacements run here: b is gone */
	count_nodes(p, &here, &on_b);
	assert_int_equal(here, 4);
	assert_int_equal(on_b, 0);
	TR_ASSERT_OK(tr_pool_close(p));
	TR_ASSERT_OK(tr_pool_join(p, TR_TEST_HANG_MS));
	tr_pool_destroy(&p);
	free(items);
	tr_node_stop(&a);
}

/* Without retries, the tasks the lost node's workers held fail with
 * TR_EDEAD, saying so; the map ends (no hang) and the pool goes on. */
static void
test_pool_node_lost_without_retries_fails_its_tasks(void **state)
{
	enum { N = 100 };
	static char     buf[N][16];
	tr_node        *a       = start_a();
	const char     *nodes[] = { "b", "", NULL };
	tr_pool_opts    o       = { .processes = 2, .nodes = nodes };
	tr_test_kid     b;
	tr_pool        *p   = NULL;
	tr_pool_result *res = NULL;
	tr_pool_item   *items;

	(void) state;
	items = numbers(N, buf);
	kid_start(&b, "b", tr_node_endpoint(a));
	tr_test_node_wait_up("b", 1);
	TR_ASSERT_OK(tr_pool_new(&p, &o));
	TR_ASSERT_OK(tr_pool_map_async(p, "square", items, N, 1, NULL, &res));
	TR_ASSERT_ERR(tr_pool_result_wait(res, 200), -ETIMEDOUT);
	tr_test_kid_kill(&b);
	TR_ASSERT_ERR(tr_pool_result_get(res, TR_TEST_HANG_MS), TR_EDEAD);
	assert_non_null(strstr(tr_pool_result_error_text(res), "node b"));
	assert_non_null(strstr(tr_pool_result_error_text(res), "noconnection"));
	tr_pool_result_destroy(&res);
	/* the pool goes on with a worker here in the lost one's place */
	TR_ASSERT_OK(
	    tr_pool_map(p, "square", items, 10, 1, &res, TR_TEST_HANG_MS));
	check_squares(res, 10);
	tr_pool_result_destroy(&res);
	tr_pool_destroy(&p);
	free(items);
	tr_node_stop(&a);
}

/* The pool actor (a supervisor's child) with workers on two nodes: its
 * map's tasks reach node b (b's counters grow). */
static void
test_pool_actor_on_two_nodes(void **state)
{
	enum { N = 20 };
	static char     buf[N][16];
	tr_node        *a       = start_a();
	const char     *nodes[] = { "b", "", NULL };
	tr_pool_opts    o       = { .processes = 2, .nodes = nodes };
	tr_test_kid     b;
	tr_child_spec   c;
	tr_sup_spec     spec = { .children = &c, .nchildren = 1 };
	tr_supervisor  *s    = NULL;
	tr_pool_result *res  = NULL;
	tr_node_stats   before, after;
	tr_pool_item   *items;
	void           *args = NULL;

	(void) state;
	items = numbers(N, buf);
	kid_start(&b, "b", tr_node_endpoint(a));
	tr_test_node_wait_up("b", 1);
	TR_ASSERT_OK(tr_pool_child_spec(&c, "pool", "nodepool", &o, &args));
	TR_ASSERT_OK(tr_supervisor_start(&s, &spec, TR_TEST_HANG_MS));
	free(args);
	TR_ASSERT_OK(tr_node_stats_get("b", &before, TR_TEST_HANG_MS));
	TR_ASSERT_OK(tr_pool_call_map(
	    "nodepool", "square", items, N, 1, &res, TR_TEST_HANG_MS));
	check_squares(res, N);
	tr_pool_result_destroy(&res);
	TR_ASSERT_OK(tr_node_stats_get("b", &after, TR_TEST_HANG_MS));
	/* b's worker took some of the 20 tasks of 20 ms (each one message
	 * into b); the stats requests themselves are one or two */
	print_message("node b received %llu messages during the map\n",
	    (unsigned long long) (after.received - before.received));
	assert_true(after.received >= before.received + 4);
	/* too many nodes is refused */
	{
		const char *many[TR_POOL_NODES_MAX + 2];

		for (int i = 0; i <= TR_POOL_NODES_MAX; i++) {
			many[i] = "b";
		}
		many[TR_POOL_NODES_MAX + 1] = NULL;
		o.nodes                     = many;
		TR_ASSERT_ERR(
		    tr_pool_child_spec(&c, "p2", NULL, &o, &args), -EINVAL);
	}
	TR_ASSERT_OK(tr_supervisor_stop(s, TR_TEST_HANG_MS));
	tr_supervisor_destroy(&s);
	tr_test_kid_stop(&b);
	free(items);
	tr_node_stop(&a);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_node_specs_are_refused),
		cmocka_unit_test(test_remote_child_crash_restarted_on_its_node),
		cmocka_unit_test(test_node_killed_child_unknown_not_restarted),
		cmocka_unit_test(test_restart_elsewhere_option),
		cmocka_unit_test(test_supervisor_stop_ends_remote_children),
		cmocka_unit_test(test_supervisor_killed_remote_children_end),
		cmocka_unit_test(test_pool_on_two_nodes_survives_a_node_kill),
		cmocka_unit_test(
		    test_pool_node_lost_without_retries_fails_its_tasks),
		cmocka_unit_test(test_pool_actor_on_two_nodes),
	};

	if (argc > 1 && strcmp(argv[1], "--node-child") == 0) {
		return node_child(argc, argv);
	}
	if (tr_init(argc, argv) < 0) {
		return 99;
	}
	if (getenv("TR_TEST_FILTER")) {
		cmocka_set_test_filter(getenv("TR_TEST_FILTER"));
	}
	return cmocka_run_group_tests_name("node-sup", tests, NULL, NULL);
}
