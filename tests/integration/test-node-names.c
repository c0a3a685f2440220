/* SPDX-License-Identifier: MIT */
/* Distribution (issue 13), second increment: cluster-wide names, and
 * messages for a node that is down waiting in a bounded queue.  Node "a" is
 * this test program's run; "b" and "c" are this program run again as
 * separate runs ("--node-child"), each its own node, driven by commands on
 * their stdin (register a name, look one up and call it, wait until one is
 * gone) and cleaned up by pid.  The gap notices are checked by test-node's
 * test_lost_messages_are_detected_and_counted (the fault hook). */
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

#include "node-notice.h" /* a forged notice (bad input) */

extern char **environ;

/* ---- actors -------------------------------------------------------------- */

/* Answers calls with their payload; sends other messages back to their
 * sender; "exit" ends it. */
static int
echo_main(const void *args, size_t len)
{
	(void) args;
	(void) len;
	for (;;) {
		tr_msg *m = NULL;
		int     r = tr_recv(&m, TR_TIMEOUT_INFINITE);

		if (r < 0) {
			return r;
		}
		if (tr_msg_is_system(m)) {
			tr_msg_destroy(&m);
			continue;
		}
		if (tr_msg_size(m) == 4 &&
		    memcmp(tr_msg_data(m), "exit", 4) == 0) {
			tr_msg_destroy(&m);
			return 0;
		}
		if (tr_msg_correlation(m)) {
			tr_msg *rep = NULL;

			if (tr_msg_new_bytes(
			        &rep, tr_msg_data(m), tr_msg_size(m)) == 0 &&
			    tr_reply(m, &rep, TR_TEST_HANG_MS) < 0) {
				tr_msg_destroy(&rep);
			}
		} else {
			(void) tr_send_bytes(tr_msg_sender(m), tr_msg_data(m),
			    tr_msg_size(m), TR_TEST_HANG_MS);
		}
		tr_msg_destroy(&m);
	}
}
TR_ACTOR(echo, echo_main)

/* Counts the user messages it gets and the messages its gap notices say
 * were lost; a call "report" answers "GOT TOLD". */
static int
tally_main(const void *args, size_t len)
{
	unsigned long got = 0, told = 0;

	(void) args;
	(void) len;
	for (;;) {
		tr_msg        *m = NULL;
		tr_node_notice n;

		if (tr_recv(&m, TR_TIMEOUT_INFINITE) < 0) {
			return 1;
		}
		if (tr_msg_is_system(m)) {
			if (tr_msg_node_notice(m, &n) == 0 &&
			    n.kind == TR_NODE_NOTICE_GAP) {
				told += n.count;
			}
		} else if (tr_msg_correlation(m)) {
			char    t[64];
			tr_msg *rep = NULL;

			snprintf(t, sizeof(t), "%lu %lu", got, told);
			if (tr_msg_new_bytes(&rep, t, strlen(t)) == 0 &&
			    tr_reply(m, &rep, TR_TEST_HANG_MS) < 0) {
				tr_msg_destroy(&rep);
			}
		} else {
			got++;
		}
		tr_msg_destroy(&m);
	}
}
TR_ACTOR(tally, tally_main)

/* ---- node children ------------------------------------------------------- */

/* A call "hi" to addr: 0 if the echo answered. */
static int
call_hi(tr_addr to)
{
	tr_msg *q = NULL, *rep = NULL;
	int     r = tr_msg_new_bytes(&q, "hi", 2);

	if (r == 0) {
		r = tr_call(to, &q, &rep, TR_TEST_HANG_MS);
	}
	if (r == 0 && tr_msg_size(rep) != 2) {
		r = -EPROTO;
	}
	tr_msg_destroy(&q);
	tr_msg_destroy(&rep);
	return r;
}

/* Commands, one a line; each answers one line:
 *   reg NAME       start an echo here, register it cluster-wide: "R rc"
 *   find NAME      look it up (retrying while not found, up to the hang
 *                  time) and call it: "F rc ADDR"
 *   gone NAME      wait until it is not found: "G rc" */
static void
child_serve(FILE *in)
{
	tr_process *kids[16];
	int         nkids = 0;
	char        line[256], name[128];

	while (fgets(line, sizeof(line), in)) {
		tr_addr a   = TR_ADDR_NULL;
		int64_t end = tr_test_now_ms() + TR_TEST_HANG_MS;
		int     r   = -EINVAL;
		char    txt[TR_ADDR_STRLEN] = "-";

		if (sscanf(line, "reg %127s", name) == 1 && nkids < 16) {
			tr_process *p = NULL;

			r = tr_process_new(&p, "echo", NULL, 0);
			if (r == 0) {
				r = tr_process_start(p, TR_TEST_HANG_MS);
			}
			if (r == 0) {
				kids[nkids++] = p;
				(void) tr_process_addr(p, &a);
				r = tr_node_register_global(
				    name, a, TR_TEST_HANG_MS);
			} else {
				tr_process_destroy(&p);
			}
			printf("R %d\n", r);
		} else if (sscanf(line, "find %127s", name) == 1) {
			while ((r = tr_node_whereis_global(name, &a,
			            TR_TEST_HANG_MS)) == TR_ENOTFOUND &&
			    tr_test_now_ms() < end) {
				usleep(20000);
			}
			if (r == 0) {
				tr_addr_format(a, txt, sizeof(txt));
				r = call_hi(a);
			}
			printf("F %d %s\n", r, txt);
		} else if (sscanf(line, "gone %127s", name) == 1) {
			while ((r = tr_node_whereis_global(
			            name, &a, TR_TEST_HANG_MS)) == 0 &&
			    tr_test_now_ms() < end) {
				usleep(20000);
			}
			printf("G %d\n", r == TR_ENOTFOUND ? 0 : r ? r : -1);
		} else {
			printf("? %d\n", r);
		}
		fflush(stdout);
	}
	for (int i = 0; i < nkids; i++) {
		(void) tr_process_terminate(kids[i]);
		(void) tr_process_join(kids[i], TR_TEST_HANG_MS);
		tr_process_destroy(&kids[i]);
	}
}

/* argv: --node-child NAME PEER|- DETECT */
static int
node_child(int argc, char **argv)
{
	tr_node_options o        = { 0 };
	const char     *peers[2] = { NULL, NULL };
	tr_node        *n        = NULL;
	int             r;

	if (tr_init(argc, argv) < 0 || argc < 5) {
		return 99;
	}
	o.name      = argv[2];
	peers[0]    = strcmp(argv[3], "-") ? argv[3] : NULL;
	o.peers     = peers;
	o.detect_ms = atoi(argv[4]);
	r           = tr_node_start(&o, &n, TR_TEST_HANG_MS);
	if (r < 0) {
		printf("ERR %d\n", r);
		fflush(stdout);
		return 98;
	}
	printf("EP %s AGENT %d\n", tr_node_endpoint(n),
	    (int) tr_node_agent_pid(n));
	fflush(stdout);
	child_serve(stdin);
	tr_node_stop(&n);
	return 0;
}

/* What a failed test leaves is cleaned up by pid (teardown()): copies,
 * the tests' own structs are gone by then. */
static tr_test_kid live[4];
static tr_node    *node_a;
static tr_process *echoes[2]; /* this run's echo actors */

static void
live_set(const tr_test_kid *k, bool on)
{
	for (int i = 0; i < 4; i++) {
		if (on ? live[i].pid == 0 : live[i].pid == k->pid) {
			live[i] = on ? *k : (tr_test_kid) { 0 };
			return;
		}
	}
}

static void
kid_start(tr_test_kid *k, const char *name, const char *peer, int detect)
{
	char  det[16];
	bool  ok;
	char *argv[] = { (char *) "test-node-names", (char *) "--node-child",
		(char *) name, (char *) (peer ? peer : "-"), det, NULL };

	snprintf(det, sizeof(det), "%d", detect);
	tr_test_kid_spawn(k, argv, 1);
	ok = sscanf(k->line, "EP %255s AGENT %d", k->ep, &k->agent) == 2;
	live_set(k, true);
	if (!ok) {
		print_error("node child %s said: %s\n", name, k->line);
		fail();
	}
}

/* Send a command, return its answer line in buf. */
static void
kid_ask(tr_test_kid *k, const char *cmd, char *buf, size_t n)
{
	size_t len = strlen(cmd);

	assert_int_equal(write(k->in, cmd, len), (ssize_t) len);
	assert_int_equal(write(k->in, "\n", 1), 1);
	if (!fgets(buf, (int) n, k->out)) {
		buf[0] = '\0';
	}
}

static void
kid_stop(tr_test_kid *k)
{
	tr_test_kid_stop(k);
	live_set(k, false);
}

static void
kid_kill(tr_test_kid *k)
{
	tr_test_kid_kill(k);
	live_set(k, false);
}

static int
teardown(void **state)
{
	(void) state;
	for (int i = 0; i < 4; i++) {
		if (live[i].pid) {
			tr_test_kid k = live[i];

			kill(k.agent, SIGCONT); /* may be stopped */
			k.in  = -1;             /* the test's own, gone */
			k.out = NULL;
			kid_kill(&k);
		}
	}
	for (int i = 0; i < 2; i++) {
		if (echoes[i]) {
			(void) tr_process_terminate(echoes[i]);
			(void) tr_test_finish(&echoes[i]);
		}
	}
	tr_node_stop(&node_a);
	return 0;
}

/* ---- helpers ------------------------------------------------------------- */

static tr_node *
start_a(int detect, int queue_max, int queue_ms)
{
	tr_node_options o = { 0 };
	tr_node        *n = NULL;

	o.name      = "a";
	o.detect_ms = detect;
	o.queue_max = queue_max;
	o.queue_ms  = queue_ms;
	TR_ASSERT_OK(tr_node_start(&o, &n, TR_TEST_HANG_MS));
	node_a = n;
	return n;
}

/* Wait until node `node` (NULL: ours) has `want` peers up. */
static void
wait_peers(const char *node, int want)
{
	int64_t       end = tr_test_now_ms() + TR_TEST_HANG_MS;
	tr_node_stats st;

	if (node) {
		tr_test_node_wait_up(node, 1); /* known and up here first */
	}
	do {
		TR_ASSERT_OK(tr_node_stats_get(node, &st, TR_TEST_HANG_MS));
		if (st.peers_up != want) {
			usleep(20000);
		}
	} while (st.peers_up != want && tr_test_now_ms() < end);
	assert_int_equal(st.peers_up, want);
}

/* Wait until whereis(name) gives want (TR_ADDR_NULL: not found). */
static void
wait_name(const char *name, tr_addr want)
{
	int64_t end = tr_test_now_ms() + TR_TEST_HANG_MS;
	tr_addr got = TR_ADDR_NULL;
	int     r;

	for (;;) {
		r = tr_node_whereis_global(name, &got, TR_TEST_HANG_MS);
		if (tr_addr_is_null(want) ? r == TR_ENOTFOUND
		                          : r == 0 && tr_addr_eq(got, want)) {
			return;
		}
		assert_true(r == 0 || r == TR_ENOTFOUND);
		assert_true(tr_test_now_ms() < end);
		usleep(20000);
	}
}

static tr_process *
start_echo(tr_addr *ret)
{
	tr_process *p = NULL;

	TR_ASSERT_OK(tr_process_new(&p, "echo", NULL, 0));
	for (int i = 0; i < 2; i++) {
		if (!echoes[i]) {
			echoes[i] = p;
			break;
		}
	}
	TR_ASSERT_OK(tr_process_start(p, TR_TEST_HANG_MS));
	TR_ASSERT_OK(tr_process_addr(p, ret));
	return p;
}

/* Its exit code, once it ended. */
static int
finish_echo(tr_process **pp)
{
	for (int i = 0; i < 2; i++) {
		if (echoes[i] == *pp) {
			echoes[i] = NULL;
		}
	}
	return tr_test_finish(pp);
}

/* The child's answer "F 0 ADDR": the address it found and called. */
static tr_addr
found(const char *line)
{
	char    txt[TR_ADDR_STRLEN] = "";
	int     r                   = -1;
	tr_addr a                   = TR_ADDR_NULL;

	if (sscanf(line, "F %d %47s", &r, txt) != 2 || r != 0 ||
	    tr_addr_parse(txt, &a) < 0) {
		print_error("child said: %s\n", line);
		fail();
	}
	return a;
}

/* ---- cluster-wide names -------------------------------------------------- */

/* A name registered on a is seen (and called) from b and c; one
 * registered on b is seen on a and c; when the actor ends, its name is
 * gone on every node. */
static void
test_global_name_seen_and_freed_everywhere(void **state)
{
	tr_node      *a = start_a(0, 0, 0);
	tr_test_kid   b, c;
	tr_addr       e, e2, g, bs;
	tr_process   *p, *p2;
	tr_node_stats st;
	char          line[256];
	tr_msg       *q = NULL, *rep = NULL;
	uint64_t      ref;

	(void) state;
	kid_start(&b, "b", tr_node_endpoint(a), 0);
	kid_start(&c, "c", tr_node_endpoint(a), 0);
	wait_peers(NULL, 2);
	wait_peers("b", 2);
	wait_peers("c", 2);
	p  = start_echo(&e);
	p2 = start_echo(&e2);
	TR_ASSERT_OK(tr_node_register_global("svc", e, TR_TEST_HANG_MS));
	TR_ASSERT_OK(tr_node_register_global("svc", e, TR_TEST_HANG_MS));
	TR_ASSERT_ERR(
	    tr_node_register_global("svc", e2, TR_TEST_HANG_MS), TR_EEXISTS);
	TR_ASSERT_ERR(
	    tr_node_register_global("bad name", e2, TR_TEST_HANG_MS), -EINVAL);
	TR_ASSERT_ERR(tr_node_register_global("x",
	                  (tr_addr) { tr_node_id("b"), 1, 1 }, TR_TEST_HANG_MS),
	    TR_EBADADDR);
	TR_ASSERT_ERR(
	    tr_node_unregister_global("nobody", TR_TEST_HANG_MS), TR_ENOTFOUND);
	/* here: the local form */
	TR_ASSERT_OK(tr_node_whereis_global("svc", &g, TR_TEST_HANG_MS));
	assert_true(tr_addr_eq(g, e));
	/* from b and c: a's id in the node field, and it answers calls */
	e.node = tr_node_id("a");
	kid_ask(&b, "find svc", line, sizeof(line));
	assert_true(tr_addr_eq(found(line), e));
	kid_ask(&c, "find svc", line, sizeof(line));
	assert_true(tr_addr_eq(found(line), e));
	/* registered on b: seen here and on c */
	kid_ask(&b, "reg bsvc", line, sizeof(line));
	assert_string_equal(line, "R 0\n");
	kid_ask(&c, "find bsvc", line, sizeof(line));
	bs = found(line);
	assert_int_equal(bs.node, tr_node_id("b"));
	wait_name("bsvc", bs);
	TR_ASSERT_OK(tr_msg_new_bytes(&q, "x", 1));
	TR_ASSERT_OK(tr_call(bs, &q, &rep, TR_TEST_HANG_MS));
	tr_msg_destroy(&q);
	tr_msg_destroy(&rep);
	TR_ASSERT_OK(tr_node_stats_get("c", &st, TR_TEST_HANG_MS));
	assert_int_equal(st.names, 2);
	/* the actors end: their names are gone everywhere.  (A monitor of
	 * this run's actor by its global address works too.) */
	TR_ASSERT_OK(tr_monitor(e, &ref));
	TR_ASSERT_OK(tr_send_bytes(e, "exit", 4, TR_TEST_HANG_MS));
	assert_int_equal(finish_echo(&p), 0);
	for (;;) {
		tr_down d;

		TR_ASSERT_OK(tr_recv(&q, TR_TEST_HANG_MS));
		if (tr_msg_down(q, &d) == 0 && d.ref == ref) {
			assert_int_equal(d.exit_class, TR_EXIT_NORMAL);
			tr_msg_destroy(&q);
			break;
		}
		tr_msg_destroy(&q);
	}
	wait_name("svc", TR_ADDR_NULL);
	kid_ask(&b, "gone svc", line, sizeof(line));
	assert_string_equal(line, "G 0\n");
	kid_ask(&c, "gone svc", line, sizeof(line));
	assert_string_equal(line, "G 0\n");
	TR_ASSERT_OK(tr_send_bytes(bs, "exit", 4, TR_TEST_HANG_MS));
	wait_name("bsvc", TR_ADDR_NULL);
	kid_ask(&c, "gone bsvc", line, sizeof(line));
	assert_string_equal(line, "G 0\n");
	/* a name given up is free again, for another actor */
	TR_ASSERT_OK(tr_node_register_global("svc2", e2, TR_TEST_HANG_MS));
	kid_ask(&b, "find svc2", line, sizeof(line));
	(void) found(line);
	TR_ASSERT_OK(tr_node_unregister_global("svc2", TR_TEST_HANG_MS));
	kid_ask(&b, "gone svc2", line, sizeof(line));
	assert_string_equal(line, "G 0\n");
	TR_ASSERT_OK(tr_send_bytes(e2, "exit", 4, TR_TEST_HANG_MS));
	assert_int_equal(finish_echo(&p2), 0);
	kid_stop(&b);
	kid_stop(&c);
	tr_node_stop(&a);
	node_a = NULL;
}

/* A node killed: the names of its actors are gone on the others. */
static void
test_global_names_of_a_lost_node_are_dropped(void **state)
{
	tr_node    *a = start_a(1000, 0, 0);
	tr_test_kid b, c;
	char        line[256];
	tr_addr     bs;

	(void) state;
	kid_start(&b, "b", tr_node_endpoint(a), 1000);
	kid_start(&c, "c", tr_node_endpoint(a), 1000);
	wait_peers("c", 2);
	wait_peers("b", 2);
	kid_ask(&b, "reg onb", line, sizeof(line));
	assert_string_equal(line, "R 0\n");
	kid_ask(&c, "find onb", line, sizeof(line));
	bs = found(line);
	wait_name("onb", bs);
	kid_kill(&b);
	wait_name("onb", TR_ADDR_NULL);
	kid_ask(&c, "gone onb", line, sizeof(line));
	assert_string_equal(line, "G 0\n");
	kid_stop(&c);
	tr_node_stop(&a);
	node_a = NULL;
}

/* A partition (b's agent frozen until a declares it lost): a's actor and
 * b's register the same name, each side alone.  When it heals, both nodes
 * keep the same one: the older registration, a's. */
static void
test_global_name_conflict_after_partition_heals(void **state)
{
	tr_node      *a = start_a(1000, 0, 0);
	tr_test_kid   b;
	tr_addr       e, ge;
	tr_process   *p;
	tr_node_stats sa, sb;
	char          line[256];
	int64_t       end;

	(void) state;
	kid_start(&b, "b", tr_node_endpoint(a), 1000);
	tr_test_node_wait_up("b", 1);
	wait_peers("b", 1);
	p = start_echo(&e);
	assert_int_equal(kill(b.agent, SIGSTOP), 0);
	tr_test_node_wait_up("b", 0);
	TR_ASSERT_OK(tr_node_register_global("dup", e, TR_TEST_HANG_MS));
	/* b's request waits in its frozen agent's mailbox: b registers it
	 * later, and first (a's claim can only come after it) */
	assert_int_equal(write(b.in, "reg dup\n", 8), 8);
	usleep(100000);
	assert_int_equal(kill(b.agent, SIGCONT), 0);
	if (!fgets(line, sizeof(line), b.out)) {
		line[0] = '\0';
	}
	assert_string_equal(line, "R 0\n");
	tr_test_node_wait_up("b", 1);
	/* both converge on a's (older) */
	ge      = e;
	ge.node = tr_node_id("a");
	end     = tr_test_now_ms() + TR_TEST_HANG_MS;
	for (;;) {
		kid_ask(&b, "find dup", line, sizeof(line));
		if (tr_addr_eq(found(line), ge)) {
			break;
		}
		assert_true(tr_test_now_ms() < end);
		usleep(50000);
	}
	wait_name("dup", e);
	TR_ASSERT_OK(tr_node_stats_get(NULL, &sa, TR_TEST_HANG_MS));
	TR_ASSERT_OK(tr_node_stats_get("b", &sb, TR_TEST_HANG_MS));
	assert_true(sa.name_conflicts + sb.name_conflicts >= 1);
	assert_int_equal(sa.names, 1);
	assert_int_equal(sb.names, 1);
	/* the winner ends: the name is free everywhere (b's lost claim is
	 * not brought back) */
	TR_ASSERT_OK(tr_send_bytes(e, "exit", 4, TR_TEST_HANG_MS));
	assert_int_equal(finish_echo(&p), 0);
	wait_name("dup", TR_ADDR_NULL);
	kid_ask(&b, "gone dup", line, sizeof(line));
	assert_string_equal(line, "G 0\n");
	kid_stop(&b);
	tr_node_stop(&a);
	node_a = NULL;
}

/* ---- queueing for a node that is down ------------------------------------ */

static void
expect_echoes(int from, int to)
{
	for (int i = from; i < to; i++) {
		tr_msg *m = NULL;
		char    t[16], got[16] = "";

		TR_ASSERT_OK(tr_recv(&m, TR_TEST_HANG_MS));
		assert_false(tr_msg_is_system(m));
		snprintf(t, sizeof(t), "%d", i);
		memcpy(got, tr_msg_data(m),
		    tr_msg_size(m) < 15 ? tr_msg_size(m) : 15);
		assert_string_equal(got, t);
		tr_msg_destroy(&m);
	}
}

static void
send_numbers(tr_addr to, int from, int n)
{
	for (int i = from; i < from + n; i++) {
		char t[16];

		snprintf(t, sizeof(t), "%d", i);
		TR_ASSERT_OK(tr_send_bytes(to, t, strlen(t), TR_TEST_HANG_MS));
	}
}

/* b's agent frozen until a declares it lost: what a's actors send to b
 * waits, in order, and is delivered when b is back; past the queue's
 * bound the rest is dropped, counted, and the sender is told. */
static void
test_messages_wait_for_a_node_that_is_down(void **state)
{
	tr_node       *a = start_a(1000, 50, 0);
	tr_test_kid    b;
	tr_addr        e;
	tr_node_stats  st0, st;
	tr_node_notice nt;
	tr_msg        *m = NULL, *q = NULL, *rep = NULL;
	uint64_t       told = 0;

	(void) state;
	kid_start(&b, "b", tr_node_endpoint(a), 1000);
	tr_test_node_wait_up("b", 1);
	TR_ASSERT_OK(tr_node_spawn("b", "echo", NULL, 0, &e, TR_TEST_HANG_MS));
	TR_ASSERT_OK(tr_msg_new_bytes(&q, "hi", 2));
	TR_ASSERT_OK(tr_call(e, &q, &rep, TR_TEST_HANG_MS));
	tr_msg_destroy(&q);
	tr_msg_destroy(&rep);
	TR_ASSERT_OK(tr_node_stats_get(NULL, &st0, TR_TEST_HANG_MS));

	/* 30 wait, all delivered in order when b is back */
	assert_int_equal(kill(b.agent, SIGSTOP), 0);
	tr_test_node_wait_up("b", 0);
	send_numbers(e, 0, 30);
	assert_int_equal(kill(b.agent, SIGCONT), 0);
	tr_test_node_wait_up("b", 1);
	expect_echoes(0, 30);
	TR_ASSERT_OK(tr_node_stats_get(NULL, &st, TR_TEST_HANG_MS));
	assert_int_equal(st.queued - st0.queued, 30);
	assert_int_equal(st.unreachable, st0.unreachable);

	/* 80 for a queue of 50: the first 50 wait, 30 are dropped and the
	 * sender is told */
	assert_int_equal(kill(b.agent, SIGSTOP), 0);
	tr_test_node_wait_up("b", 0);
	send_numbers(e, 0, 80);
	while (told < 30) {
		TR_ASSERT_OK(tr_recv(&m, TR_TEST_HANG_MS));
		TR_ASSERT_OK(tr_msg_node_notice(m, &nt));
		assert_int_equal(nt.kind, TR_NODE_NOTICE_QUEUE_FULL);
		assert_true(tr_addr_eq(nt.peer, e));
		assert_string_equal(nt.node, "b");
		told += nt.count;
		tr_msg_destroy(&m);
	}
	assert_int_equal(told, 30);
	TR_ASSERT_OK(tr_node_stats_get(NULL, &st, TR_TEST_HANG_MS));
	assert_int_equal(st.unreachable - st0.unreachable, 30);
	assert_int_equal(kill(b.agent, SIGCONT), 0);
	tr_test_node_wait_up("b", 1);
	expect_echoes(0, 50);
	TR_ASSERT_ERR(tr_recv(&m, 300), -ETIMEDOUT);
	TR_ASSERT_OK(tr_node_stats_get(NULL, &st, TR_TEST_HANG_MS));
	assert_int_equal(st.queued - st0.queued, 80);
	kid_stop(&b);
	tr_node_stop(&a);
	node_a = NULL;
}

/* A connection torn down with messages in flight (b's agent frozen right
 * after they were sent, until the heartbeats close it): whatever was lost
 * on it is told to the receiving actor on b, exactly: what it got plus
 * what it was told is what was sent. */
static void
test_gap_on_a_torn_connection_told(void **state)
{
	tr_node      *a = start_a(1000, 0, 0);
	tr_test_kid   b;
	tr_addr       t;
	tr_msg       *q = NULL, *rep = NULL;
	tr_node_stats sb;
	unsigned long got = 0, told = 0;
	char          txt[64] = "";

	(void) state;
	kid_start(&b, "b", tr_node_endpoint(a), 1000);
	tr_test_node_wait_up("b", 1);
	TR_ASSERT_OK(tr_node_spawn("b", "tally", NULL, 0, &t, TR_TEST_HANG_MS));
	assert_int_equal(kill(b.agent, SIGSTOP), 0);
	send_numbers(t, 0, 200); /* in flight when the link breaks */
	tr_test_node_wait_up("b", 0);
	send_numbers(t, 200, 1); /* waits for b */
	assert_int_equal(kill(b.agent, SIGCONT), 0);
	tr_test_node_wait_up("b", 1);
	TR_ASSERT_OK(tr_msg_new_bytes(&q, "report", 6));
	TR_ASSERT_OK(tr_call(t, &q, &rep, TR_TEST_HANG_MS));
	memcpy(txt, tr_msg_data(rep),
	    tr_msg_size(rep) < sizeof(txt) - 1 ? tr_msg_size(rep)
	                                       : sizeof(txt) - 1);
	tr_msg_destroy(&q);
	tr_msg_destroy(&rep);
	assert_int_equal(sscanf(txt, "%lu %lu", &got, &told), 2);
	print_message("torn connection: %lu got, %lu told lost\n", got, told);
	assert_int_equal(got + told, 201);
	TR_ASSERT_OK(tr_node_stats_get("b", &sb, TR_TEST_HANG_MS));
	/* the node counts the link's losses: these, and any system
	 * message (a watch's end) lost with them */
	print_message("node b: %llu lost on the link, %llu gap notices\n",
	    (unsigned long long) sb.lost, (unsigned long long) sb.gaps);
	assert_true(sb.lost >= told);
	assert_int_equal(sb.gaps > 0, told > 0);
	kid_stop(&b);
	tr_node_stop(&a);
	node_a = NULL;
}

/* What waits longer than queue_ms is dropped, counted, and told. */
static void
test_queued_messages_expire(void **state)
{
	tr_node       *a = start_a(1000, 0, 300);
	tr_test_kid    b;
	tr_addr        e;
	tr_node_stats  st0, st;
	tr_node_notice nt;
	tr_msg        *m = NULL, *q = NULL, *rep = NULL;
	uint64_t       told = 0;

	(void) state;
	kid_start(&b, "b", tr_node_endpoint(a), 1000);
	tr_test_node_wait_up("b", 1);
	TR_ASSERT_OK(tr_node_spawn("b", "echo", NULL, 0, &e, TR_TEST_HANG_MS));
	TR_ASSERT_OK(tr_node_stats_get(NULL, &st0, TR_TEST_HANG_MS));
	assert_int_equal(kill(b.agent, SIGSTOP), 0);
	tr_test_node_wait_up("b", 0);
	send_numbers(e, 0, 5);
	while (told < 5) { /* one notice, or a few if they expire apart */
		TR_ASSERT_OK(tr_recv(&m, TR_TEST_HANG_MS));
		TR_ASSERT_OK(tr_msg_node_notice(m, &nt));
		assert_int_equal(nt.kind, TR_NODE_NOTICE_QUEUE_EXPIRED);
		assert_true(tr_addr_eq(nt.peer, e));
		told += nt.count;
		tr_msg_destroy(&m);
	}
	assert_int_equal(told, 5);
	TR_ASSERT_OK(tr_node_stats_get(NULL, &st, TR_TEST_HANG_MS));
	assert_int_equal(st.unreachable - st0.unreachable, 5);
	assert_int_equal(kill(b.agent, SIGCONT), 0);
	tr_test_node_wait_up("b", 1);
	TR_ASSERT_OK(tr_msg_new_bytes(&q, "hi", 2));
	TR_ASSERT_OK(tr_call(e, &q, &rep, TR_TEST_HANG_MS));
	tr_msg_destroy(&q);
	tr_msg_destroy(&rep);
	TR_ASSERT_ERR(tr_recv(&m, 300), -ETIMEDOUT); /* none of the 5 */
	kid_stop(&b);
	tr_node_stop(&a);
	node_a = NULL;
}

/* Bad options are refused. */
static void
test_queue_options_checked(void **state)
{
	tr_node_options o = { 0 };
	tr_node        *n = NULL;

	(void) state;
	o.name      = "q";
	o.queue_max = -2;
	TR_ASSERT_ERR(tr_node_start(&o, &n, TR_TEST_HANG_MS), -EINVAL);
	o.queue_max = 0;
	o.queue_ms  = -1;
	TR_ASSERT_ERR(tr_node_start(&o, &n, TR_TEST_HANG_MS), -EINVAL);
	assert_null(n);
	/* no node: the name calls say so */
	TR_ASSERT_ERR(
	    tr_node_whereis_global("x", &(tr_addr) { 0 }, 1000), TR_EBADADDR);
}

/* A node notice sent by a process of the run (sender node 0), not by a
 * node agent, is dropped by the mailbox and counted, never seen by the
 * actor; tr_msg_node_notice() refuses other messages. */
static void
test_forged_notice_dropped(void **state)
{
	tr_mailbox_stats st0, st;
	tr_msg          *m = NULL;
	tr_node_notice   nt;

	(void) state;
	TR_ASSERT_OK(tr_self_bind());
	TR_ASSERT_OK(tr_mailbox_stats_get(&st0));
	TR_ASSERT_OK(tri_node_notice_new(
	    &m, TR_NODE_NOTICE_GAP, tr_self(), tr_self(), "x", 3, 1));
	TR_ASSERT_OK(tr_send(tr_self(), &m, TR_TEST_HANG_MS));
	TR_ASSERT_ERR(tr_recv(&m, 300), -ETIMEDOUT);
	TR_ASSERT_OK(tr_mailbox_stats_get(&st));
	assert_int_equal(st.dropped_badtype, st0.dropped_badtype + 1);
	TR_ASSERT_OK(tr_msg_new_bytes(&m, "x", 1));
	TR_ASSERT_ERR(tr_msg_node_notice(m, &nt), TR_EBADTYPE);
	tr_msg_destroy(&m);
}

/* `troupe node --queue-max/--queue-ms`: a value that is not a number in
 * range is refused (exit 2), before any node starts. */
static void
test_troupe_node_queue_flags_checked(void **state)
{
	const char *tool     = tr_test_build_path("tools/troupe");
	const char *bad[][2] = { { "--queue-max", "abc" },
		{ "--queue-max", "-2" }, { "--queue-ms", "-1" },
		{ "--queue-ms", "10x" } };

	(void) state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		posix_spawn_file_actions_t fa;
		char *argv[] = { (char *) "troupe", (char *) "node",
			(char *) "--name", (char *) "q", (char *) bad[i][0],
			(char *) bad[i][1], NULL };
		pid_t pid;
		int   st;

		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_addopen(
		    &fa, 2, "/dev/null", O_WRONLY, 0);
		assert_int_equal(
		    posix_spawn(&pid, tool, &fa, NULL, argv, environ), 0);
		posix_spawn_file_actions_destroy(&fa);
		assert_int_equal(waitpid(pid, &st, 0), pid);
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 2);
	}
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_queue_options_checked, teardown),
		cmocka_unit_test_teardown(test_forged_notice_dropped, teardown),
		cmocka_unit_test_teardown(
		    test_troupe_node_queue_flags_checked, teardown),
		cmocka_unit_test_teardown(
		    test_global_name_seen_and_freed_everywhere, teardown),
		cmocka_unit_test_teardown(
		    test_global_names_of_a_lost_node_are_dropped, teardown),
		cmocka_unit_test_teardown(
		    test_global_name_conflict_after_partition_heals, teardown),
		cmocka_unit_test_teardown(
		    test_messages_wait_for_a_node_that_is_down, teardown),
		cmocka_unit_test_teardown(
		    test_queued_messages_expire, teardown),
		cmocka_unit_test_teardown(
		    test_gap_on_a_torn_connection_told, teardown),
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
	return cmocka_run_group_tests_name("node-names", tests, NULL, NULL);
}
