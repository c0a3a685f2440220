/* SPDX-License-Identifier: MIT */
/* The direct path between nodes (runtime/node-direct.c): after a
 * DirectSync through the node agents, a sender talks to a remote mailbox
 * over its own TCP connection.  Order across the switch (agent path then
 * direct, both ways), senders of each start method, DOWN noconnection when
 * the remote node is killed, dead letters for an old incarnation once
 * direct, and under CURVE nobody without the mailbox's key gets through
 * its direct listener.  Node "a" is this program's run; the others are
 * this program run again ("--node-child"), cleaned up by pid. */
#include <dirent.h>
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

#include "node-direct.h" /* the answers test */
#include "node.pb-c.h"

#ifdef __SANITIZE_ADDRESS__
#define FORK TR_START_FORKSERVER
#else
#define FORK TR_START_FORK
#endif

#define N 3000 /* messages in a stream */

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

/* args: an echo's address.  A few round trips (the switch to the direct
 * path happens in them), then N/6 numbered messages sent without waiting;
 * checks that the echoes come back in order: 0, or 10 + what went wrong. */
static int
sender_main(const void *args, size_t len)
{
	char    txt[TR_ADDR_STRLEN] = "";
	tr_addr e;

	memcpy(txt, args, len < sizeof(txt) - 1 ? len : sizeof(txt) - 1);
	if (tr_addr_parse(txt, &e) < 0) {
		return 10;
	}
	for (int i = 0; i < 5; i++) {
		tr_msg *m = NULL;

		if (tr_send_bytes(e, "rt", 2, TR_TEST_HANG_MS) < 0 ||
		    tr_recv(&m, TR_TEST_HANG_MS) < 0) {
			return 14;
		}
		tr_msg_destroy(&m);
	}
	for (int i = 0; i < N / 6; i++) {
		char t[16];

		snprintf(t, sizeof(t), "%d", i);
		if (tr_send_bytes(e, t, strlen(t), TR_TEST_HANG_MS) < 0) {
			return 11;
		}
	}
	for (int i = 0; i < N / 6;) {
		tr_msg *m = NULL;
		char    t[16], got[16] = "";

		if (tr_recv(&m, TR_TEST_HANG_MS) < 0) {
			return 12;
		}
		if (tr_msg_is_system(m)) {
			tr_msg_destroy(&m);
			continue;
		}
		snprintf(t, sizeof(t), "%d", i);
		memcpy(got, tr_msg_data(m),
		    tr_msg_size(m) < 15 ? tr_msg_size(m) : 15);
		tr_msg_destroy(&m);
		if (strcmp(got, t) != 0) {
			return 13;
		}
		i++;
	}
	return 0;
}
TR_ACTOR(sender, sender_main)

/* Checks that numbered messages come in order from 0; "end" is answered
 * (to its sender) with "ok COUNT", or "bad AT GOT" for the first one out
 * of order, and starts again. */
static int
checker_main(const void *args, size_t len)
{
	long next = 0, bad_at = -1, bad_got = -1;

	(void) args;
	(void) len;
	for (;;) {
		tr_msg *m     = NULL;
		char    t[32] = "";

		if (tr_recv(&m, TR_TEST_HANG_MS * 4) < 0) {
			return 1;
		}
		if (tr_msg_is_system(m)) {
			tr_msg_destroy(&m);
			continue;
		}
		memcpy(t, tr_msg_data(m),
		    tr_msg_size(m) < sizeof(t) - 1 ? tr_msg_size(m)
		                                   : sizeof(t) - 1);
		if (strcmp(t, "end") == 0) {
			if (bad_at >= 0) {
				snprintf(t, sizeof(t), "bad %ld %ld", bad_at,
				    bad_got);
			} else {
				snprintf(t, sizeof(t), "ok %ld", next);
			}
			(void) tr_send_bytes(
			    tr_msg_sender(m), t, strlen(t), TR_TEST_HANG_MS);
			next   = 0;
			bad_at = bad_got = -1;
		} else {
			if (atol(t) != next && bad_at < 0) {
				bad_at  = next;
				bad_got = atol(t);
			}
			next++;
		}
		tr_msg_destroy(&m);
	}
}
TR_ACTOR(checker, checker_main)

/* ---- node children ------------------------------------------------------- */

static void
kid_start(tr_test_kid *k, const char *name, const char *peer, int detect,
    const char *secret, const char *allow)
{
	tr_test_kid_start_node(
	    k, "test-node-direct", name, peer, detect, secret, allow);
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
	assert_true(tr_addr_eq(tr_msg_sender(rep), to));
	tr_msg_destroy(&rep);
}

static tr_node_stats
stats(const char *node)
{
	tr_node_stats st;

	TR_ASSERT_OK(tr_node_stats_get(node, &st, TR_TEST_HANG_MS));
	return st;
}

/* Send n numbered messages to the echo e without waiting, then check the
 * n echoes come back in order, from e. */
static void
stream(tr_addr e, int first, int n)
{
	for (int i = first; i < first + n; i++) {
		char t[16];

		snprintf(t, sizeof(t), "%d", i);
		TR_ASSERT_OK(tr_send_bytes(e, t, strlen(t), TR_TEST_HANG_MS));
	}
	for (int i = first; i < first + n; i++) {
		tr_msg *m = NULL;
		char    t[16], got[16] = "";

		TR_ASSERT_OK(tr_recv(&m, TR_TEST_HANG_MS));
		snprintf(t, sizeof(t), "%d", i);
		memcpy(got, tr_msg_data(m),
		    tr_msg_size(m) < 15 ? tr_msg_size(m) : 15);
		assert_string_equal(got, t);
		assert_true(tr_addr_eq(tr_msg_sender(m), e));
		tr_msg_destroy(&m);
	}
}

/* A few round trips (the switch happens in them), then a stream of n. */
static void
go_direct(tr_addr e, int n)
{
	for (int i = 0; i < 3; i++) {
		stream(e, i, 1);
	}
	stream(e, 3, n);
}

/* The TCP ports process pid listens on (from /proc): how many. */
static int
listen_ports(pid_t pid, unsigned *ports, int max)
{
	unsigned long  inodes[256];
	int            ni = 0, np = 0;
	char           path[64], line[512];
	struct dirent *d;
	DIR           *dir;
	FILE          *f;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int) pid);
	dir = opendir(path);
	if (!dir) {
		return 0;
	}
	while ((d = readdir(dir)) && ni < 256) {
		char    link[64], fp[320];
		ssize_t k;

		snprintf(fp, sizeof(fp), "%s/%s", path, d->d_name);
		k = readlink(fp, link, sizeof(link) - 1);
		if (k > 0) {
			link[k] = '\0';
			if (sscanf(link, "socket:[%lu]", &inodes[ni]) == 1) {
				ni++;
			}
		}
	}
	closedir(dir);
	f = fopen("/proc/net/tcp", "r");
	if (!f) {
		return 0;
	}
	while (fgets(line, sizeof(line), f) && np < max) {
		unsigned      addr, port, st;
		unsigned long ino;

		if (sscanf(line,
		        " %*d: %8x:%4x %*x:%*x %x %*x:%*x %*x:%*x %*x %*u "
		        "%*u %lu",
		        &addr, &port, &st, &ino) == 4 &&
		    st == 0x0A) {
			for (int i = 0; i < ni; i++) {
				if (inodes[i] == ino) {
					ports[np++] = port;
				}
			}
		}
	}
	fclose(f);
	return np;
}

/* A raw ZeroMQ PUSH to tcp://127.0.0.1:port (CURVE with server key skey
 * and a fresh client key pair, if given) completes no handshake within
 * 1 s, and so can send nothing. */
static void
assert_no_handshake(unsigned port, const char *skey)
{
	void          *ctx = zmq_ctx_new(), *s = zmq_socket(ctx, ZMQ_PUSH);
	void          *mon = zmq_socket(ctx, ZMQ_PAIR);
	char           ep[64], pub[41], sec[41];
	int            one = 1, zero = 0, ok = 0;
	int64_t        end = tr_test_now_ms() + 1000;
	zmq_pollitem_t it;

	assert_int_equal(zmq_curve_keypair(pub, sec), 0);
	zmq_setsockopt(s, ZMQ_IMMEDIATE, &one, sizeof(one));
	zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(mon, ZMQ_LINGER, &zero, sizeof(zero));
	if (skey) {
		zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, skey, 40);
		zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, pub, 40);
		zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, sec, 40);
	}
	assert_int_equal(zmq_socket_monitor(s, "inproc://attacker",
	                     ZMQ_EVENT_HANDSHAKE_SUCCEEDED),
	    0);
	assert_int_equal(zmq_connect(mon, "inproc://attacker"), 0);
	snprintf(ep, sizeof(ep), "tcp://127.0.0.1:%u", port);
	assert_int_equal(zmq_connect(s, ep), 0);
	while (tr_test_now_ms() < end) {
		zmq_msg_t f;

		it = (zmq_pollitem_t) { s, 0, ZMQ_POLLOUT, 0 };
		if (zmq_poll(&it, 1, 50) > 0) {
			ok = 1; /* a connection ready to take messages */
		}
		zmq_msg_init(&f);
		if (zmq_msg_recv(&f, mon, ZMQ_DONTWAIT) >= 0) {
			ok = 1; /* a handshake that succeeded */
		}
		zmq_msg_close(&f);
	}
	/* what it tries to send goes nowhere */
	assert_int_equal(zmq_send(s, "crash", 5, ZMQ_DONTWAIT), -1);
	zmq_socket_monitor(s, NULL, 0);
	zmq_close(mon);
	zmq_close(s);
	zmq_ctx_term(ctx);
	assert_int_equal(ok, 0);
}

/* ---- tests --------------------------------------------------------------- */

/* Order holds across the switch from the agent path to the direct one,
 * both ways.  With e: one round trip, its DirectSync's answer comes in
 * meanwhile, and the next send switches at once.  With e2: two messages
 * and the answer comes in while the second is on its way, so the third
 * sends another DirectSync and waits for its answer before it goes
 * direct; then a stream, not waiting.  Calls work; the counters say the
 * direct path carried them. */
static void
test_order_across_the_switch(void **state)
{
	tr_node      *a = start_a(0, NULL, NULL);
	tr_test_kid   b;
	tr_addr       e, e2;
	tr_node_stats sa, sb;

	(void) state;
	kid_start(&b, "b", tr_node_endpoint(a), 0, NULL, NULL);
	tr_test_node_wait_up("b", 1);
	TR_ASSERT_OK(tr_node_spawn("b", "echo", NULL, 0, &e, TR_TEST_HANG_MS));
	TR_ASSERT_OK(tr_node_spawn("b", "echo", NULL, 0, &e2, TR_TEST_HANG_MS));
	stream(e, 0, 1);
	usleep(50000);
	stream(e, 1, N);
	call_echo(e, "direct");
	for (int i = 0; i < 2; i++) {
		TR_ASSERT_OK(
		    tr_send_bytes(e2, i ? "1" : "0", 1, TR_TEST_HANG_MS));
	}
	usleep(50000); /* not reading: the runtime thread takes it in */
	for (int i = 2; i < N; i++) {
		char t[16];

		snprintf(t, sizeof(t), "%d", i);
		TR_ASSERT_OK(tr_send_bytes(e2, t, strlen(t), TR_TEST_HANG_MS));
	}
	for (int i = 0; i < N; i++) {
		tr_msg *m = NULL;
		char    t[16], got[16] = "";

		TR_ASSERT_OK(tr_recv(&m, TR_TEST_HANG_MS));
		snprintf(t, sizeof(t), "%d", i);
		memcpy(got, tr_msg_data(m),
		    tr_msg_size(m) < 15 ? tr_msg_size(m) : 15);
		assert_string_equal(got, t);
		assert_true(tr_addr_eq(tr_msg_sender(m), e2));
		tr_msg_destroy(&m);
	}
	stream(e, N + 1, N);
	sa = stats(NULL);
	sb = stats("b");
	/* most went direct, both ways; every one is counted as sent */
	assert_true(sa.direct_sent > 2 * N);
	assert_true(sa.sent >= 3 * N + 1);
	assert_true(sb.direct_received > N);
	assert_true(sb.direct_sent > N);
	assert_true(sa.direct_received > N);
	tr_test_kid_stop(&b);
	tr_node_stop(&a);
}

/* A long stream sent without pause, with no answers: the DirectSync's
 * answer is taken in by the runtime thread while messages are still on
 * their way through the agents; the switch waits for a second answer, so
 * none is overtaken by a direct one. */
static void
test_order_when_switching_mid_stream(void **state)
{
	tr_node      *a = start_a(0, NULL, NULL);
	tr_test_kid   b;
	tr_addr       c;
	tr_msg       *m = NULL;
	tr_node_stats before, after;
	char          want[32], got[32] = "";
	enum { M = 20000 };

	(void) state;
	kid_start(&b, "b", tr_node_endpoint(a), 0, NULL, NULL);
	tr_test_node_wait_up("b", 1);
	TR_ASSERT_OK(
	    tr_node_spawn("b", "checker", NULL, 0, &c, TR_TEST_HANG_MS));
	before = stats(NULL);
	for (int i = 0; i < M; i++) {
		char t[16];

		snprintf(t, sizeof(t), "%d", i);
		TR_ASSERT_OK(tr_send_bytes(c, t, strlen(t), TR_TEST_HANG_MS));
	}
	TR_ASSERT_OK(tr_send_bytes(c, "end", 3, TR_TEST_HANG_MS));
	TR_ASSERT_OK(tr_recv(&m, TR_TEST_HANG_MS * 2));
	memcpy(got, tr_msg_data(m),
	    tr_msg_size(m) < sizeof(got) - 1 ? tr_msg_size(m)
	                                     : sizeof(got) - 1);
	tr_msg_destroy(&m);
	snprintf(want, sizeof(want), "ok %d", M);
	assert_string_equal(got, want);
	after = stats(NULL);
	/* it did switch, in the stream */
	assert_true(after.direct_sent > before.direct_sent);
	assert_true(after.direct_sent - before.direct_sent < M);
	tr_test_kid_stop(&b);
	tr_node_stop(&a);
}

/* Senders of each start method on node a: each switches in the middle of
 * its stream, and sees its echoes in order (the echo switches to each of
 * them too, whose mailboxes then listen on TCP). */
static void
test_senders_of_each_start_method(void **state)
{
	static const int methods[] = { FORK, TR_START_SPAWN,
		TR_START_FORKSERVER };
	tr_node         *a         = start_a(0, NULL, NULL);
	tr_test_kid      b;
	tr_addr          e;
	tr_process      *p[3];
	tr_node_stats    before, after;
	char             txt[TR_ADDR_STRLEN];

	(void) state;
	kid_start(&b, "b", tr_node_endpoint(a), 0, NULL, NULL);
	tr_test_node_wait_up("b", 1);
	TR_ASSERT_OK(tr_node_spawn("b", "echo", NULL, 0, &e, TR_TEST_HANG_MS));
	before = stats(NULL);
	tr_addr_format(e, txt, sizeof(txt));
	for (int i = 0; i < 3; i++) {
		TR_ASSERT_OK(tr_process_new(&p[i], "sender", txt, strlen(txt)));
		TR_ASSERT_OK(tr_process_set_start_method(p[i], methods[i]));
		TR_ASSERT_OK(tr_process_start(p[i], TR_TEST_HANG_MS));
	}
	for (int i = 0; i < 3; i++) {
		assert_int_equal(tr_test_finish(&p[i]), 0);
	}
	after = stats(NULL);
	assert_true(after.direct_sent - before.direct_sent > N / 6);
	assert_true(after.direct_received - before.direct_received > N / 6);
	tr_test_kid_stop(&b);
	tr_node_stop(&a);
}

/* With a direct connection up, the remote node is killed: the monitor
 * still gets DOWN noconnection (the agents' liveness), within the
 * detection time and a margin, and a send does not hang. */
static void
test_killed_node_down_noconnection(void **state)
{
	tr_node      *a = start_a(1000, NULL, NULL);
	tr_test_kid   b;
	tr_addr       e;
	uint64_t      ref;
	int64_t       t0;
	tr_node_stats st;

	(void) state;
	kid_start(&b, "b", tr_node_endpoint(a), 1000, NULL, NULL);
	tr_test_node_wait_up("b", 1);
	TR_ASSERT_OK(tr_node_spawn("b", "echo", NULL, 0, &e, TR_TEST_HANG_MS));
	go_direct(e, 100);
	st = stats(NULL);
	assert_true(st.direct_sent > 0);
	TR_ASSERT_OK(tr_monitor(e, &ref));
	t0 = tr_test_now_ms();
	tr_test_kid_kill(&b);
	{
		tr_down d = wait_down(ref);

		assert_int_equal(d.exit_class, TR_EXIT_NOCONNECTION);
	}
	assert_true(tr_test_now_ms() - t0 < 10000);
	t0 = tr_test_now_ms();
	(void) tr_send_bytes(e, "after", 5, 1000);
	assert_true(tr_test_now_ms() - t0 < 5000);
	tr_test_node_wait_up("b", 0);
	tr_node_stop(&a);
}

/* Once direct, the actor ends and another incarnation starts: what is
 * sent to the old address is a dead letter counted on its node (the
 * sender falls back to the agent path), never delivered to the new one. */
static void
test_old_incarnation_dead_letter(void **state)
{
	tr_node      *a = start_a(0, NULL, NULL);
	tr_test_kid   b;
	tr_addr       e, e2;
	uint64_t      ref, before;
	tr_node_stats st;
	tr_msg       *m = NULL;
	int64_t       end;

	(void) state;
	kid_start(&b, "b", tr_node_endpoint(a), 0, NULL, NULL);
	tr_test_node_wait_up("b", 1);
	TR_ASSERT_OK(tr_node_spawn("b", "echo", NULL, 0, &e, TR_TEST_HANG_MS));
	go_direct(e, 100);
	assert_true(stats(NULL).direct_sent > 0);
	TR_ASSERT_OK(tr_monitor(e, &ref));
	TR_ASSERT_OK(tr_send_bytes(e, "exit", 4, TR_TEST_HANG_MS));
	assert_int_equal(wait_down(ref).exit_class, TR_EXIT_NORMAL);
	TR_ASSERT_OK(tr_node_spawn("b", "echo", NULL, 0, &e2, TR_TEST_HANG_MS));
	assert_int_equal(e2.pid == e.pid && e2.incarnation == e.incarnation, 0);
	before = stats("b").dead_letters;
	TR_ASSERT_OK(tr_send_bytes(e, "lost", 4, 0));
	TR_ASSERT_OK(tr_send_bytes(e, "lost", 4, 1000));
	end = tr_test_now_ms() + TR_TEST_HANG_MS;
	do {
		usleep(10000);
		st = stats("b");
	} while (st.dead_letters < before + 2 && tr_test_now_ms() < end);
	assert_true(st.dead_letters >= before + 2);
	call_echo(e2, "still here");
	TR_ASSERT_ERR(tr_recv(&m, 200), -ETIMEDOUT); /* "lost" never came */
	tr_test_kid_stop(&b);
	tr_node_stop(&a);
}

/* CURVE: the direct path is used, and its listener lets nobody in who
 * was not told its key through the agents -- not a plain client, not
 * one that uses the node's public key, not one with an allowed node's
 * key pair. */
static void
test_curve_wrong_key_gets_nothing_direct(void **state)
{
	char        pa[41], sa[41], pb[41], sb[41];
	char        peer[300];
	const char *allow[] = { pb, NULL };
	tr_node    *a;
	tr_test_kid b;
	tr_addr     e;
	tr_msg     *m = NULL;
	unsigned    ports[16];
	int         np;

	(void) state;
	assert_int_equal(zmq_curve_keypair(pa, sa), 0);
	assert_int_equal(zmq_curve_keypair(pb, sb), 0);
	a = start_a(0, sa, allow);
	snprintf(peer, sizeof(peer), "%s#%s", tr_node_endpoint(a), pa);
	kid_start(&b, "b", peer, 0, sb, pa);
	tr_test_node_wait_up("b", 1);
	TR_ASSERT_OK(tr_node_spawn("b", "echo", NULL, 0, &e, TR_TEST_HANG_MS));
	go_direct(e, 200);
	call_echo(e, "secret");
	assert_true(stats(NULL).direct_sent > 100);
	assert_true(stats("b").direct_received > 100);
	/* the echo's own listener (the node's agent is another process) */
	np = listen_ports((pid_t) e.pid, ports, 16);
	assert_int_equal(np, 1);
	assert_no_handshake(ports[0], NULL);
	assert_no_handshake(ports[0], pb);
	assert_no_handshake(ports[0], pa);
	/* nothing reached the echo: it would have echoed it */
	TR_ASSERT_ERR(tr_recv(&m, 300), -ETIMEDOUT);
	call_echo(e, "still secret");
	tr_test_kid_stop(&b);
	tr_node_stop(&a);
}

/* A send that may not wait (timeout 0) never blocks for the switch: with
 * only such sends the pair stays on the agent path; the first send that
 * may wait switches it. */
static void
test_send_that_may_not_wait_does_not_switch(void **state)
{
	tr_node      *a = start_a(0, NULL, NULL);
	tr_test_kid   b;
	tr_addr       e;
	tr_msg       *m = NULL;
	tr_node_stats st;

	(void) state;
	kid_start(&b, "b", tr_node_endpoint(a), 0, NULL, NULL);
	tr_test_node_wait_up("b", 1);
	TR_ASSERT_OK(tr_node_spawn("b", "echo", NULL, 0, &e, TR_TEST_HANG_MS));
	for (int i = 0; i < 20; i++) {
		int r;

		/* the agent's gateway may not be connected yet: retry */
		while ((r = tr_send_bytes(e, "x", 1, 0)) == -EAGAIN) {
			usleep(1000);
		}
		TR_ASSERT_OK(r);
		TR_ASSERT_OK(tr_recv(&m, TR_TEST_HANG_MS));
		tr_msg_destroy(&m);
	}
	st = stats(NULL);
	assert_int_equal(st.direct_sent, 0);
	stream(e, 0, 1);
	stream(e, 1, 10);
	st = stats(NULL);
	assert_true(st.direct_sent > 0);
	tr_test_kid_stop(&b);
	tr_node_stop(&a);
}

/* A direct connection that breaks while both ends live (here: aborted
 * with `ss -K`, which needs root and a kernel with socket destroy; else
 * skipped): the sender falls back to the agents, nothing sent after the
 * break is lost or out of order, and the pair switches again later. */
static void
test_broken_connection_falls_back(void **state)
{
	tr_node      *a = start_a(0, NULL, NULL);
	tr_test_kid   b;
	tr_addr       e;
	unsigned      ports[16];
	char          cmd[160];
	tr_node_stats st;
	uint64_t      before;

	(void) state;
	kid_start(&b, "b", tr_node_endpoint(a), 0, NULL, NULL);
	tr_test_node_wait_up("b", 1);
	TR_ASSERT_OK(tr_node_spawn("b", "echo", NULL, 0, &e, TR_TEST_HANG_MS));
	go_direct(e, 50);
	st = stats(NULL);
	assert_true(st.direct_sent > 0);
	assert_int_equal(listen_ports((pid_t) e.pid, ports, 16), 1);
	/* our connection to the echo's listener (its own to us stays) */
	snprintf(cmd, sizeof(cmd),
	    "ss -K state established dst 127.0.0.1 dport = %u "
	    ">/dev/null 2>&1",
	    ports[0]);
	if (system(cmd) != 0) {
		tr_test_kid_stop(&b);
		tr_node_stop(&a);
		print_message("ss -K not available here: skipped\n");
		skip();
	}
	usleep(200000); /* the sender's libzmq sees the connection gone */
	before = stats(NULL).direct_sent;
	stream(e, 1000, 50); /* all of them, in order, through the agents */
	st = stats(NULL);
	assert_true(st.direct_sent - before < 50);
	/* and the pair goes direct again */
	go_direct(e, 50);
	assert_true(stats(NULL).direct_sent > st.direct_sent);
	/* the DirectEnd the fallback sent matched what came: nothing
	 * counted lost on b */
	assert_int_equal(stats("b").lost, 0);
	tr_test_kid_stop(&b);
	tr_node_stop(&a);
}

/* The receiving side of a broken direct connection: a DirectEnd that says
 * more was sent than came gives one GAP notice for the difference, naming
 * the sender; one that says no more than came gives none. */
static void
test_direct_end_tells_the_difference(void **state)
{
	Trwire__DirectEnd de = TRWIRE__DIRECT_END__INIT;
	tr_addr           x  = { tr_node_id("b"), 4242, 7 };
	tr_addr           y  = { tr_node_id("b"), 4343, 9 };
	tr_msg           *m = NULL, *notice = NULL;
	tr_node_notice    nt;

	(void) state;
	for (int i = 0; i < 3; i++) {
		tri_direct_from(x);
	}
	tri_direct_from(y);
	de.count = 5; /* x sent 5, 3 came */
	TR_ASSERT_OK(tri_msg_new_system(&m, &de.base));
	m->env.sender = x;
	tri_direct_end_in(m);
	tr_msg_destroy(&m);
	de.count = 1; /* y sent 1, 1 came */
	TR_ASSERT_OK(tri_msg_new_system(&m, &de.base));
	m->env.sender = y;
	tri_direct_end_in(m);
	tr_msg_destroy(&m);
	TR_ASSERT_OK(tri_direct_settle(&notice));
	assert_non_null(notice);
	TR_ASSERT_OK(tr_msg_node_notice(notice, &nt));
	assert_int_equal(nt.kind, TR_NODE_NOTICE_GAP);
	assert_true(tr_addr_eq(nt.peer, x));
	assert_int_equal(nt.count, 2);
	tr_msg_destroy(&notice);
	TR_ASSERT_OK(tri_direct_settle(&notice));
	assert_null(notice); /* y: nothing lost; and x is settled */
}

/* Outside input: a DirectSyncAck (from another node, through the agents)
 * whose endpoint is not tcp://, too long, or that brings a CURVE key to a
 * node without CURVE is never connected to: the pair stays on the agent
 * path for good.  A well-formed one is used. */
static int
answer_then_step(const char *ep, const char *key)
{
	Trwire__DirectSyncAck ack = TRWIRE__DIRECT_SYNC_ACK__INIT;
	struct tri_direct    *d   = NULL;
	tr_addr               x   = { tr_node_id("b"), 4242, 1 };
	tr_msg               *m   = NULL;
	uint64_t              token;
	int                   step;

	assert_int_equal(tri_direct_step(&d, x, 0), TRI_DIRECT_ASK);
	token = tri_direct_token();
	tri_direct_asked(d, token, 1);
	ack.token      = token;
	ack.endpoint   = (char *) ep;
	ack.server_key = (char *) key;
	TR_ASSERT_OK(tri_msg_new_system(&m, &ack.base));
	m->env.sender = x;
	tri_direct_ack_in(m);
	tr_msg_destroy(&m);
	step = tri_direct_step(&d, x, 1);
	if (step == TRI_DIRECT_STAY) { /* and for good */
		assert_int_equal(tri_direct_step(&d, x, 1), TRI_DIRECT_STAY);
	}
	tri_direct_free(&d, true);
	return step;
}

static void
test_bad_answers_are_not_used(void **state)
{
	tr_node *a = start_a(0, NULL, NULL);
	char     lng[400];

	(void) state;
	TR_ASSERT_OK(tr_self_bind()); /* as a sender's runtime has it */
	memset(lng, 'x', sizeof(lng) - 1);
	memcpy(lng, "tcp://", 6);
	lng[sizeof(lng) - 1] = '\0';
	assert_int_equal(
	    answer_then_step("ipc:///tmp/evil", ""), TRI_DIRECT_STAY);
	assert_int_equal(answer_then_step("", ""), TRI_DIRECT_STAY);
	assert_int_equal(answer_then_step(lng, ""), TRI_DIRECT_STAY);
	assert_int_equal(answer_then_step("tcp://127.0.0.1:1",
	                     "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"),
	    TRI_DIRECT_STAY);
	/* the control: well formed, and nothing sent since the DirectSync */
	assert_int_equal(
	    answer_then_step("tcp://127.0.0.1:1", ""), TRI_DIRECT_GO);
	tr_node_stop(&a);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order_across_the_switch),
		cmocka_unit_test(test_order_when_switching_mid_stream),
		cmocka_unit_test(test_senders_of_each_start_method),
		cmocka_unit_test(test_killed_node_down_noconnection),
		cmocka_unit_test(test_old_incarnation_dead_letter),
		cmocka_unit_test(test_curve_wrong_key_gets_nothing_direct),
		cmocka_unit_test(test_bad_answers_are_not_used),
		cmocka_unit_test(test_send_that_may_not_wait_does_not_switch),
		cmocka_unit_test(test_broken_connection_falls_back),
		cmocka_unit_test(test_direct_end_tells_the_difference),
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
	return cmocka_run_group_tests_name("node-direct", tests, NULL, NULL);
}
