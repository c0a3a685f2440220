/* SPDX-License-Identifier: MIT */
/* Distribution (issue 13): nodes on loopback ports.  Node "a" is this
 * test program's run (tr_node_start()); the others are this program run
 * again as separate runs ("--node-child"), each its own node, cleaned up
 * by pid.  Send, call, remote start, monitor, link, node killed / frozen /
 * stopped, dead letters after a restart, three nodes learning each other,
 * per-pair order, CURVE with a wrong key refused. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <zmq.h>

#include "tr-test-node.h"

#ifdef __SANITIZE_ADDRESS__
#define FORK TR_START_FORKSERVER
#else
#define FORK TR_START_FORK
#endif

extern char **environ;

/* ---- actors -------------------------------------------------------------- */

/* Answers calls with their payload; sends other messages back to their
 * sender; "exit" ends it (code 0), "crash" with code 3. */
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
		if (tr_msg_size(m) == 5 &&
		    memcmp(tr_msg_data(m), "crash", 5) == 0) {
			tr_msg_destroy(&m);
			return 3;
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

/* Links to the address in args, then reports running (so its start
 * returns once the link is confirmed) and sleeps: a link that fires ends
 * it with exit code 1. */
static int
linker_main(const void *args, size_t len)
{
	tr_addr who;
	char    txt[TR_ADDR_STRLEN] = "";

	memcpy(txt, args, len < sizeof(txt) - 1 ? len : sizeof(txt) - 1);
	if (tr_addr_parse(txt, &who) < 0 || tr_link(who) < 0) {
		return 10;
	}
	(void) tr_ready();
	sleep(60);
	return 0;
}
TR_ACTOR_FLAGS(linker, linker_main, TR_ACTOR_MANUAL_READY)

/* Takes calls and never answers them. */
static int
mute_main(const void *args, size_t len)
{
	(void) args;
	(void) len;
	for (;;) {
		tr_msg *m = NULL;

		if (tr_recv(&m, TR_TIMEOUT_INFINITE) < 0) {
			return 1;
		}
		tr_msg_destroy(&m);
	}
}
TR_ACTOR(mute, mute_main)

/* Sleeps args[0..] ms, then SIGKILLs the pid after the space. */
static int
killer_main(const void *args, size_t len)
{
	int ms = 0, pid = 0;

	(void) len;
	if (sscanf(args, "%d %d", &ms, &pid) != 2 || pid <= 0) {
		return 10;
	}
	usleep((useconds_t) ms * 1000);
	return kill(pid, SIGKILL) == 0 ? 0 : 11;
}
TR_ACTOR(killer, killer_main)

/* ---- node children ------------------------------------------------------- */

static void
kid_start(tr_test_kid *k, const char *name, const char *peer, int detect,
    const char *secret, const char *allow)
{
	tr_test_kid_start_node(
	    k, "test-node", name, peer, detect, secret, allow);
}

/* ---- helpers ------------------------------------------------------------- */

static tr_node *
start_a(int detect, const char *secret, const char *const *allow)
{
	tr_node_options o = { 0 };
	tr_node        *n = NULL;

	o.name             = "a";
	o.detect_ms        = detect;
	o.curve_secret_key = secret;
	o.allowed_keys     = allow;
	TR_ASSERT_OK(tr_node_start(&o, &n, TR_TEST_HANG_MS));
	return n;
}

static tr_down
wait_down(uint64_t ref)
{
	for (;;) {
		tr_msg *m = NULL;
		tr_down d;

		TR_ASSERT_OK(tr_recv(&m, TR_TEST_HANG_MS));
		if (tr_msg_down(m, &d) == 0 && d.ref == ref) {
			tr_msg_destroy(&m);
			return d;
		}
		tr_msg_destroy(&m);
	}
}

static void
call_echo(tr_addr to, const char *text)
{
	tr_msg *q = NULL, *rep = NULL;

	TR_ASSERT_OK(tr_msg_new_bytes(&q, text, strlen(text)));
	TR_ASSERT_OK(tr_call(to, &q, &rep, TR_TEST_HANG_MS));
	assert_int_equal(tr_msg_size(rep), strlen(text));
	assert_memory_equal(tr_msg_data(rep), text, strlen(text));
	assert_int_equal(tr_msg_sender(rep).node, to.node);
	tr_msg_destroy(&rep);
}

/* ---- tests --------------------------------------------------------------- */

static void
test_addresses_print_and_parse_with_their_node(void **state)
{
	tr_addr a = { tr_node_id("b"), 4242, 1234567 }, b;
	char    txt[TR_ADDR_STRLEN];

	(void) state;
	assert_int_not_equal(tr_node_id("b"), 0);
	assert_int_not_equal(tr_node_id("b"), tr_node_id("c"));
	tr_addr_format(a, txt, sizeof(txt));
	TR_ASSERT_OK(tr_addr_parse(txt, &b));
	assert_true(tr_addr_eq(a, b));
	/* no node in this run: a remote address cannot be reached */
	TR_ASSERT_ERR(tr_send_bytes(a, "x", 1, 0), TR_EBADADDR);
}

static void
test_non_loopback_without_curve_is_refused(void **state)
{
	tr_node_options o = { 0 };
	tr_node        *n = NULL;

	(void) state;
	o.name   = "open";
	o.listen = "tcp://0.0.0.0:*";
	TR_ASSERT_ERR(tr_node_start(&o, &n, TR_TEST_HANG_MS), -EINVAL);
	o.listen = "tcp://127.0.0.1:*";
	o.name   = "bad name";
	TR_ASSERT_ERR(tr_node_start(&o, &n, TR_TEST_HANG_MS), -EINVAL);
	assert_null(n);
}

static void
test_send_call_spawn_order_dead_letters(void **state)
{
	tr_node      *a = start_a(0, NULL, NULL);
	tr_test_kid   b;
	tr_addr       e, e2;
	tr_node_stats st;
	tr_msg       *m = NULL;
	uint64_t      ref;
	enum { N = 2000 };

	(void) state;
	kid_start(&b, "b", tr_node_endpoint(a), 0, NULL, NULL);
	tr_test_node_wait_up("b", 1);
	TR_ASSERT_OK(tr_node_spawn("b", "echo", NULL, 0, &e, TR_TEST_HANG_MS));
	assert_int_equal(e.node, tr_node_id("b"));
	TR_ASSERT_ERR(
	    tr_node_spawn("b", "no-such-actor", NULL, 0, &e2, TR_TEST_HANG_MS),
	    TR_ENOACTOR);
	call_echo(e, "ping");
	/* per-pair order, both ways */
	for (int i = 0; i < N; i++) {
		char t[16];

		snprintf(t, sizeof(t), "%d", i);
		TR_ASSERT_OK(tr_send_bytes(e, t, strlen(t), TR_TEST_HANG_MS));
	}
	for (int i = 0; i < N; i++) {
		char t[16], got[16] = "";

		TR_ASSERT_OK(tr_recv(&m, TR_TEST_HANG_MS));
		snprintf(t, sizeof(t), "%d", i);
		memcpy(got, tr_msg_data(m),
		    tr_msg_size(m) < 15 ? tr_msg_size(m) : 15);
		assert_string_equal(got, t);
		assert_true(tr_addr_eq(tr_msg_sender(m), e));
		tr_msg_destroy(&m);
	}
	/* monitor across nodes: the real exit code */
	TR_ASSERT_OK(tr_monitor(e, &ref));
	TR_ASSERT_OK(tr_send_bytes(e, "crash", 5, TR_TEST_HANG_MS));
	{
		tr_down d = wait_down(ref);

		assert_true(tr_addr_eq(d.who, e));
		assert_int_equal(d.exitcode, 3);
		assert_int_equal(d.exit_class, TR_EXIT_ABNORMAL);
	}
	/* a call to the dead one fails; a new incarnation; the old address
	 * gives dead letters, counted on its node, not delivered */
	TR_ASSERT_OK(tr_node_spawn("b", "echo", NULL, 0, &e2, TR_TEST_HANG_MS));
	assert_false(tr_addr_eq(e, e2));
	TR_ASSERT_OK(tr_node_stats_get("b", &st, TR_TEST_HANG_MS));
	{
		uint64_t before = st.dead_letters;
		int64_t  end    = tr_test_now_ms() + TR_TEST_HANG_MS;

		(void) tr_send_bytes(e, "lost", 4, 0);
		do {
			usleep(10000);
			TR_ASSERT_OK(
			    tr_node_stats_get("b", &st, TR_TEST_HANG_MS));
		} while (st.dead_letters == before && tr_test_now_ms() < end);
		assert_true(st.dead_letters > before);
	}
	call_echo(e2, "still here");
	TR_ASSERT_ERR(tr_recv(&m, 200), -ETIMEDOUT); /* "lost" never came */
	TR_ASSERT_OK(tr_node_stats_get(NULL, &st, TR_TEST_HANG_MS));
	assert_true(st.sent >= N);
	assert_int_equal(st.peers_up, 1);
	tr_test_kid_stop(&b);
	tr_node_stop(&a);
}

/* The node of a monitored actor is killed: DOWN noconnection; linked
 * local actors (each start method) end. */
static void
test_node_killed_down_noconnection_and_links(void **state)
{
	static const int methods[] = { FORK, TR_START_SPAWN,
		TR_START_FORKSERVER };
	tr_node         *a         = start_a(0, NULL, NULL);
	tr_test_kid      b;
	tr_addr          e;
	tr_process      *l[3];
	uint64_t         ref;
	char             txt[TR_ADDR_STRLEN];

	(void) state;
	kid_start(&b, "b", tr_node_endpoint(a), 0, NULL, NULL);
	tr_test_node_wait_up("b", 1);
	TR_ASSERT_OK(tr_node_spawn("b", "echo", NULL, 0, &e, TR_TEST_HANG_MS));
	TR_ASSERT_OK(tr_monitor(e, &ref));
	tr_addr_format(e, txt, sizeof(txt));
	for (int i = 0; i < 3; i++) {
		TR_ASSERT_OK(tr_process_new(&l[i], "linker", txt, strlen(txt)));
		TR_ASSERT_OK(tr_process_set_start_method(l[i], methods[i]));
		TR_ASSERT_OK(tr_process_start(l[i], TR_TEST_HANG_MS));
	}
	call_echo(e, "before");
	tr_test_kid_kill(&b);
	{
		tr_down d = wait_down(ref);

		assert_int_equal(d.exit_class, TR_EXIT_NOCONNECTION);
		assert_string_equal(
		    tr_exit_class_name(d.exit_class), "noconnection");
	}
	for (int i = 0; i < 3; i++) {
		assert_int_equal(tr_test_finish(&l[i]), 1);
	}
	tr_test_node_wait_up("b", 0);
	tr_node_stop(&a);
}

/* Nothing waits forever on a dead peer, across nodes: a call to an actor
 * whose node is killed while the call waits ends with TR_EDEAD long before
 * its timeout. */
static void
test_call_ends_when_the_callee_node_dies(void **state)
{
	tr_node    *a = start_a(0, NULL, NULL);
	tr_test_kid b;
	tr_addr     e;
	tr_process *k;
	tr_msg     *q = NULL, *rep = NULL;
	char        args[64];
	int64_t     t0;

	(void) state;
	kid_start(&b, "b", tr_node_endpoint(a), 0, NULL, NULL);
	tr_test_node_wait_up("b", 1);
	TR_ASSERT_OK(tr_node_spawn("b", "mute", NULL, 0, &e, TR_TEST_HANG_MS));
	snprintf(args, sizeof(args), "300 %d", (int) b.agent);
	TR_ASSERT_OK(tr_process_new(&k, "killer", args, strlen(args)));
	TR_ASSERT_OK(tr_process_start(k, TR_TEST_HANG_MS));
	TR_ASSERT_OK(tr_msg_new_bytes(&q, "?", 1));
	t0 = tr_test_now_ms();
	TR_ASSERT_ERR(tr_call(e, &q, &rep, 4 * TR_TEST_HANG_MS), TR_EDEAD);
	assert_true(tr_test_now_ms() - t0 < 2 * TR_TEST_HANG_MS);
	tr_msg_destroy(&q);
	assert_int_equal(tr_test_finish(&k), 0);
	tr_test_kid_kill(&b);
	tr_node_stop(&a);
}

/* A frozen node (SIGSTOP: its sockets stay open) is declared lost by the
 * heartbeats, not before the detection time. */
static void
test_frozen_node_lost_by_heartbeat(void **state)
{
	tr_node    *a = start_a(1500, NULL, NULL);
	tr_test_kid b;
	tr_addr     e;
	uint64_t    ref;
	int64_t     t0;

	(void) state;
	kid_start(&b, "b", tr_node_endpoint(a), 1500, NULL, NULL);
	tr_test_node_wait_up("b", 1);
	TR_ASSERT_OK(tr_node_spawn("b", "echo", NULL, 0, &e, TR_TEST_HANG_MS));
	TR_ASSERT_OK(tr_monitor(e, &ref));
	call_echo(e, "hi");
	t0 = tr_test_now_ms();
	kill(b.agent, SIGSTOP);
	{
		tr_down d = wait_down(ref);

		assert_int_equal(d.exit_class, TR_EXIT_NOCONNECTION);
		assert_true(tr_test_now_ms() - t0 >= 1000);
	}
	kill(b.agent, SIGCONT);
	tr_test_kid_kill(&b);
	tr_node_stop(&a);
}

/* A node that stops says goodbye: monitors see it at once (no heartbeat
 * wait: the detection time here is long). */
static void
test_clean_stop_seen_at_once(void **state)
{
	tr_node    *a = start_a(20000, NULL, NULL);
	tr_test_kid b;
	tr_addr     e;
	uint64_t    ref;

	(void) state;
	kid_start(&b, "b", tr_node_endpoint(a), 20000, NULL, NULL);
	tr_test_node_wait_up("b", 1);
	TR_ASSERT_OK(tr_node_spawn("b", "echo", NULL, 0, &e, TR_TEST_HANG_MS));
	TR_ASSERT_OK(tr_monitor(e, &ref));
	call_echo(e, "hi");
	tr_test_kid_stop(&b);
	{
		tr_down d = wait_down(ref);

		assert_true(d.exit_class == TR_EXIT_NOCONNECTION ||
		    d.exit_class == TR_EXIT_SHUTDOWN);
	}
	tr_node_stop(&a);
}

/* Three nodes: b and c each know only a, and learn each other from it. */
static void
test_three_nodes_learn_each_other(void **state)
{
	tr_node      *a = start_a(0, NULL, NULL);
	tr_test_kid   b, c;
	tr_node_stats st;
	tr_addr       eb, ec;
	int64_t       end;

	(void) state;
	kid_start(&b, "b", tr_node_endpoint(a), 0, NULL, NULL);
	kid_start(&c, "c", tr_node_endpoint(a), 0, NULL, NULL);
	tr_test_node_wait_up("b", 1);
	tr_test_node_wait_up("c", 1);
	end = tr_test_now_ms() + TR_TEST_HANG_MS;
	do {
		TR_ASSERT_OK(tr_node_stats_get("b", &st, TR_TEST_HANG_MS));
		if (st.peers_up < 2) {
			usleep(20000);
		}
	} while (st.peers_up < 2 && tr_test_now_ms() < end);
	assert_int_equal(st.peers_up, 2);
	TR_ASSERT_OK(tr_node_spawn("b", "echo", NULL, 0, &eb, TR_TEST_HANG_MS));
	TR_ASSERT_OK(tr_node_spawn("c", "echo", NULL, 0, &ec, TR_TEST_HANG_MS));
	call_echo(eb, "to b");
	call_echo(ec, "to c");
	tr_test_kid_stop(&b);
	tr_test_kid_stop(&c);
	tr_node_stop(&a);
}

/* CURVE: b's key is allowed and works; c's is not: nothing reaches a
 * from c, c never comes up, and a counts (and logs) the refusal. */
static void
test_curve_wrong_key_refused(void **state)
{
	char          pa[41], sa[41], pb[41], sb[41], pc[41], sc[41];
	char          peer[300];
	const char   *allow[] = { pb, NULL };
	tr_node      *a;
	tr_test_kid   b, c;
	tr_addr       e;
	tr_node_stats st;
	int64_t       end;

	(void) state;
	assert_int_equal(zmq_curve_keypair(pa, sa), 0);
	assert_int_equal(zmq_curve_keypair(pb, sb), 0);
	assert_int_equal(zmq_curve_keypair(pc, sc), 0);
	a = start_a(0, sa, allow);
	snprintf(peer, sizeof(peer), "%s#%s", tr_node_endpoint(a), pa);
	kid_start(&b, "b", peer, 0, sb, pa);
	kid_start(&c, "c", peer, 0, sc, pa);
	tr_test_node_wait_up("b", 1);
	TR_ASSERT_OK(tr_node_spawn("b", "echo", NULL, 0, &e, TR_TEST_HANG_MS));
	call_echo(e, "secret");
	end = tr_test_now_ms() + TR_TEST_HANG_MS;
	do {
		TR_ASSERT_OK(tr_node_stats_get(NULL, &st, TR_TEST_HANG_MS));
		if (st.refused == 0) {
			usleep(20000);
		}
	} while (st.refused == 0 && tr_test_now_ms() < end);
	assert_true(st.refused > 0);
	assert_int_equal(tr_node_is_up("c", TR_TEST_HANG_MS), 0);
	TR_ASSERT_ERR(tr_node_spawn("c", "echo", NULL, 0, &e, TR_TEST_HANG_MS),
	    TR_EBADADDR);
	tr_test_kid_stop(&b);
	tr_test_kid_stop(&c);
	tr_node_stop(&a);
}

/* The test-only fault hook drops a fifth of the messages node b sends:
 * node a detects every gap by the link's sequence numbers and counts the
 * lost ones exactly; what does arrive is in order, never repeated; and the
 * receiving actor is told of each gap (which messages, how many). */
static void
test_lost_messages_are_detected_and_counted(void **state)
{
	tr_node      *a = start_a(0, NULL, NULL);
	tr_test_kid   b;
	tr_addr       e;
	tr_node_stats st;
	tr_msg       *m    = NULL;
	long          last = -1;
	int           got  = 0;
	uint64_t      told = 0;
	enum { N = 1000 };

	(void) state;
	setenv("TROUPE_NODE_FAULT", "drop=20,seed=42", 1);
	kid_start(&b, "b", tr_node_endpoint(a), 0, NULL, NULL);
	unsetenv("TROUPE_NODE_FAULT");
	tr_test_node_wait_up("b", 1);
	TR_ASSERT_OK(tr_node_spawn("b", "echo", NULL, 0, &e, TR_TEST_HANG_MS));
	for (int i = 0; i < N; i++) {
		char t[16];

		snprintf(t, sizeof(t), "%d", i);
		TR_ASSERT_OK(tr_send_bytes(e, t, strlen(t), TR_TEST_HANG_MS));
	}
	/* replies are not dropped by the hook: this one comes after every
	 * echo, on the same link */
	call_echo(e, "sync");
	/* each gap is told to this actor (a notice, before the message
	 * after it), with the exact count: echo i has pair number i + 1 */
	while (tr_recv(&m, 0) == 0) {
		char           t[16] = "";
		long           v;
		tr_node_notice nt;

		if (tr_msg_is_system(m)) {
			TR_ASSERT_OK(tr_msg_node_notice(m, &nt));
			assert_int_equal(nt.kind, TR_NODE_NOTICE_GAP);
			assert_true(tr_addr_eq(nt.peer, e));
			assert_string_equal(nt.node, "b");
			assert_int_equal(nt.first, (uint64_t) (last + 2));
			last += (long) nt.count;
			told += nt.count;
			tr_msg_destroy(&m);
			continue;
		}
		memcpy(t, tr_msg_data(m),
		    tr_msg_size(m) < 15 ? tr_msg_size(m) : 15);
		v = atol(t);
		assert_int_equal(v, last + 1);
		last = v;
		got++;
		tr_msg_destroy(&m);
	}
	TR_ASSERT_OK(tr_node_stats_get(NULL, &st, TR_TEST_HANG_MS));
	assert_true(got > 0 && got < N);
	assert_int_equal((uint64_t) got + st.lost, N);
	/* the losses after the last echo were told before the reply */
	assert_int_equal(last, N - 1);
	assert_int_equal(told, st.lost);
	assert_true(st.gaps > 0);
	tr_test_kid_stop(&b);
	tr_node_stop(&a);
}

/* The fault hook with every fault at once on node b's sends (10% dropped,
 * 5% duplicated, 5% held back behind the next message, 1 ms delay each,
 * from a seed) and a short detection time: what node a receives is in
 * order and never repeated, every message not delivered is counted as lost
 * exactly, the repeats and the overtaken ones are dropped and counted, and
 * the monitor of the remote actor never fires (no false DOWN). */
static void
test_fault_hook_order_no_duplicates_no_false_down(void **state)
{
	tr_node      *a = start_a(600, NULL, NULL);
	tr_test_kid   b;
	tr_addr       e;
	tr_node_stats st;
	uint64_t      ref;
	tr_msg       *m    = NULL;
	long          last = -1;
	int           got  = 0;
	uint64_t      told = 0;
	enum { N = 1500 };

	(void) state;
	setenv(
	    "TROUPE_NODE_FAULT", "drop=10,dup=5,reorder=5,delay=1,seed=7", 1);
	kid_start(&b, "b", tr_node_endpoint(a), 600, NULL, NULL);
	unsetenv("TROUPE_NODE_FAULT");
	tr_test_node_wait_up("b", 1);
	TR_ASSERT_OK(tr_node_spawn("b", "echo", NULL, 0, &e, TR_TEST_HANG_MS));
	TR_ASSERT_OK(tr_monitor(e, &ref));
	for (int i = 0; i < N; i++) {
		char t[16];

		snprintf(t, sizeof(t), "%d", i);
		TR_ASSERT_OK(tr_send_bytes(e, t, strlen(t), TR_TEST_HANG_MS));
	}
	/* the reply is never faulted and sends the message held back first:
	 * it comes after every echo */
	call_echo(e, "sync");
	while (tr_recv(&m, 0) == 0) {
		char           t[16] = "";
		long           v;
		tr_node_notice nt;

		if (tr_msg_is_system(m)) {
			/* never a DOWN: only the gaps, told (node-notice.c) */
			TR_ASSERT_OK(tr_msg_node_notice(m, &nt));
			assert_int_equal(nt.kind, TR_NODE_NOTICE_GAP);
			assert_true(tr_addr_eq(nt.peer, e));
			told += nt.count;
			tr_msg_destroy(&m);
			continue;
		}
		memcpy(t, tr_msg_data(m),
		    tr_msg_size(m) < 15 ? tr_msg_size(m) : 15);
		v = atol(t);
		assert_true(v > last);
		last = v;
		got++;
		tr_msg_destroy(&m);
	}
	TR_ASSERT_OK(tr_node_stats_get(NULL, &st, TR_TEST_HANG_MS));
	print_message("fault hook: %d of %d delivered, %llu lost, %llu "
	              "dropped (repeats and overtaken)\n",
	    got, N, (unsigned long long) st.lost,
	    (unsigned long long) st.dropped);
	assert_true(got > N / 2 && got < N);
	assert_int_equal((uint64_t) got + st.lost, N);
	assert_int_equal(told, st.lost); /* every loss told to the receiver */
	assert_true(st.dropped > 0);
	assert_int_equal(tr_node_is_up("b", TR_TEST_HANG_MS), 1);
	TR_ASSERT_OK(tr_demonitor(ref));
	tr_test_kid_stop(&b);
	tr_node_stop(&a);
}

/* A fault hook asked for more than 100% (or anything it does not know) is
 * refused with an error in the node's log and stays off: every message
 * arrives, none is counted lost. */
static void
test_fault_hook_bad_values_leave_it_off(void **state)
{
	tr_node      *a = start_a(0, NULL, NULL);
	tr_test_kid   b;
	tr_addr       e;
	tr_node_stats st;
	tr_msg       *m   = NULL;
	int           got = 0;
	enum { N = 200 };

	(void) state;
	setenv("TROUPE_NODE_FAULT", "drop=150,seed=3", 1);
	kid_start(&b, "b", tr_node_endpoint(a), 0, NULL, NULL);
	unsetenv("TROUPE_NODE_FAULT");
	tr_test_node_wait_up("b", 1);
	TR_ASSERT_OK(tr_node_spawn("b", "echo", NULL, 0, &e, TR_TEST_HANG_MS));
	for (int i = 0; i < N; i++) {
		TR_ASSERT_OK(tr_send_bytes(e, "x", 1, TR_TEST_HANG_MS));
	}
	call_echo(e, "sync");
	while (tr_recv(&m, 0) == 0) {
		got++;
		tr_msg_destroy(&m);
	}
	TR_ASSERT_OK(tr_node_stats_get(NULL, &st, TR_TEST_HANG_MS));
	assert_int_equal(got, N);
	assert_int_equal(st.lost, 0);
	tr_test_kid_stop(&b);
	tr_node_stop(&a);
}

/* `troupe node`: --help; runs in the foreground, says where it listens,
 * serves (b joins it), and stops cleanly on SIGTERM. */
static void
test_troupe_node_command(void **state)
{
	const char *tool = tr_test_build_path("tools/troupe");
	char *argv[] = { (char *) "troupe", (char *) "node", (char *) "--name",
		(char *) "tool", (char *) "--detect-ms", (char *) "2000",
		NULL };
	char *help[] = { (char *) "troupe", (char *) "node", (char *) "--help",
		NULL };
	posix_spawn_file_actions_t fa;
	int                        out[2], st;
	pid_t                      pid;
	char                       line[512] = "", ep[256] = "", peer[300];
	unsigned                   id = 0;
	FILE                      *f;
	tr_test_kid                b;

	(void) state;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	assert_int_equal(posix_spawn(&pid, tool, &fa, NULL, help, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);

	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	assert_int_equal(posix_spawn(&pid, tool, &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(out[1]);
	f = fdopen(out[0], "r");
	assert_non_null(f);
	if (!fgets(line, sizeof(line), f)) {
		line[0] = '\0';
	}
	fclose(f);
	assert_int_equal(
	    sscanf(line, "node tool (id %u) listening on %255s", &id, ep), 2);
	assert_int_equal(id, tr_node_id("tool"));
	/* a node (b) can join it */
	snprintf(peer, sizeof(peer), "%s", ep);
	kid_start(&b, "b", peer, 0, NULL, NULL);
	kill(pid, SIGTERM);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	tr_test_kid_stop(&b);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_addresses_print_and_parse_with_their_node),
		cmocka_unit_test(test_non_loopback_without_curve_is_refused),
		cmocka_unit_test(test_send_call_spawn_order_dead_letters),
		cmocka_unit_test(test_node_killed_down_noconnection_and_links),
		cmocka_unit_test(test_call_ends_when_the_callee_node_dies),
		cmocka_unit_test(test_frozen_node_lost_by_heartbeat),
		cmocka_unit_test(test_clean_stop_seen_at_once),
		cmocka_unit_test(test_three_nodes_learn_each_other),
		cmocka_unit_test(test_curve_wrong_key_refused),
		cmocka_unit_test(test_lost_messages_are_detected_and_counted),
		cmocka_unit_test(test_troupe_node_command),
		cmocka_unit_test(
		    test_fault_hook_order_no_duplicates_no_false_down),
		cmocka_unit_test(test_fault_hook_bad_values_leave_it_off),
	};

	if (argc > 1 && strcmp(argv[1], "--node-child") == 0) {
		return tr_test_node_child(argc, argv);
	}
	if (tr_init(argc, argv) < 0) {
		return 99;
	}
	if (getenv("TR_TEST_FILTER")) {
		cmocka_set_test_filter(getenv("TR_TEST_FILTER"));
	}
	return cmocka_run_group_tests_name("node", tests, NULL, NULL);
}
