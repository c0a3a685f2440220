/* SPDX-License-Identifier: MIT */
/* Queue, Event and the actor locks with members on two nodes (issue 13),
 * on loopback ports.  Node "a" is this test program's run; node "b" is
 * this program run again as a separate run ("--node-child"), cleaned up
 * by pid.  The members on b are this program's actors, started there with
 * tr_node_spawn(); they are handed node-global addresses (tr_queue_addr(),
 * tr_lock_addr() and tr_node_global_addr() give them) and report to this
 * process's node-global address.  Same-host fast paths (rings, pages)
 * cannot cross nodes: b's members use messages, a's keep their rings. */
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

#define TXT 64 /* address text (TR_ADDR_STRLEN fits), as %63s reads it */

/* ---- helpers the actors share ------------------------------------------- */

static int
report(tr_addr to, const char *text)
{
	return tr_send_bytes(to, text, strlen(text), TR_TEST_HANG_MS);
}

/* The args as a NUL-terminated string in buf. */
static void
args_text(const void *args, size_t len, char *buf, size_t n)
{
	size_t k = len < n - 1 ? len : n - 1;

	memcpy(buf, args, k);
	buf[k] = '\0';
}

/* ---- actors (on either node) --------------------------------------------- */

/* A queue consumer: "QUEUE REPORT WINDOW HOLD".  Sends "ready" once it
 * asked for credit, then "i N" for each item N it gets.  HOLD 0: marks
 * each item done, until the queue is closed (exit 0).  HOLD n > 0: gets n
 * items, marks none done and acknowledges none (a group of 16 is not
 * reached and more were sent), then sleeps until killed. */
static int
qworker_main(const void *args, size_t len)
{
	char      buf[256], qa[TXT], ra[TXT], t[32];
	unsigned  window, hold;
	tr_addr   rep;
	tr_queue *q = NULL;

	args_text(args, len, buf, sizeof(buf));
	if (sscanf(buf, "%63s %63s %u %u", qa, ra, &window, &hold) != 4 ||
	    tr_addr_parse(ra, &rep) < 0 || tr_queue_open(&q, qa) < 0 ||
	    tr_queue_set_window(q, window) < 0) {
		return 10;
	}
	if (tr_queue_poll(q, 0) < 0 || report(rep, "ready") < 0) {
		return 11;
	}
	for (unsigned got = 0;; got++) {
		tr_msg *m = NULL;
		int     r;

		if (hold && got == hold) {
			sleep(60);
			return 12;
		}
		r = tr_queue_get(q, &m, TR_TEST_HANG_MS);
		if (r == TR_ECLOSED) {
			tr_queue_destroy(&q);
			return 0;
		}
		if (r < 0) {
			return 13;
		}
		snprintf(t, sizeof(t), "i %.*s", (int) tr_msg_size(m),
		    (const char *) tr_msg_data(m));
		tr_msg_destroy(&m);
		if (report(rep, t) < 0 ||
		    (!hold && tr_queue_task_done(q) < 0)) {
			return 14;
		}
	}
}
TR_ACTOR(qworker, qworker_main)

/* A producer: "QUEUE FIRST COUNT": puts the numbers FIRST..FIRST+COUNT-1
 * with a put window of 16 (one-way puts under the broker's grant, which
 * the exit handshake delivers), then exits 0. */
static int
qproducer_main(const void *args, size_t len)
{
	char      buf[128], qa[TXT];
	int       first, count;
	tr_queue *q = NULL;

	args_text(args, len, buf, sizeof(buf));
	if (sscanf(buf, "%63s %d %d", qa, &first, &count) != 3 ||
	    tr_queue_open(&q, qa) < 0 || tr_queue_set_put_window(q, 16) < 0) {
		return 10;
	}
	for (int i = first; i < first + count; i++) {
		char t[16];

		snprintf(t, sizeof(t), "%d", i);
		if (tr_queue_put_bytes(q, t, strlen(t), TR_TEST_HANG_MS) < 0) {
			return 11;
		}
	}
	tr_queue_destroy(&q);
	return 0;
}
TR_ACTOR(qproducer, qproducer_main)

/* Waits on the event at EVENT: "EVENT REPORT": sends "waiting", then
 * "woke R" with tr_event_wait()'s result. */
static int
ewaiter_main(const void *args, size_t len)
{
	char      buf[256], ea[TXT], ra[TXT], t[32];
	tr_addr   ev, rep;
	tr_event *e = NULL;
	int       r;

	args_text(args, len, buf, sizeof(buf));
	if (sscanf(buf, "%63s %63s", ea, ra) != 2 ||
	    tr_addr_parse(ea, &ev) < 0 || tr_addr_parse(ra, &rep) < 0 ||
	    tr_event_open(&e, ev) < 0 || report(rep, "waiting") < 0) {
		return 10;
	}
	r = tr_event_wait(e, TR_TEST_HANG_MS);
	snprintf(t, sizeof(t), "woke %d", r);
	tr_event_destroy(&e);
	return report(rep, t) < 0 ? 11 : 0;
}
TR_ACTOR(ewaiter, ewaiter_main)

/* Sets the event at args. */
static int
esetter_main(const void *args, size_t len)
{
	char      buf[TXT];
	tr_addr   ev;
	tr_event *e = NULL;
	int       r;

	args_text(args, len, buf, sizeof(buf));
	if (tr_addr_parse(buf, &ev) < 0 || tr_event_open(&e, ev) < 0) {
		return 10;
	}
	r = tr_event_set(e);
	tr_event_destroy(&e);
	return r < 0 ? 11 : 0;
}
TR_ACTOR(esetter, esetter_main)

/* Makes an event, sends "event ADDR" (node-global) to args, then sleeps
 * until killed. */
static int
eowner_main(const void *args, size_t len)
{
	char      buf[TXT], t[TXT + 8], ga[TXT];
	tr_addr   rep, g;
	tr_event *e = NULL;

	args_text(args, len, buf, sizeof(buf));
	if (tr_addr_parse(buf, &rep) < 0 || tr_event_new(&e, NULL) < 0 ||
	    tr_node_global_addr(tr_event_addr(e), &g) < 0) {
		return 10;
	}
	tr_addr_format(g, ga, sizeof(ga));
	snprintf(t, sizeof(t), "event %s", ga);
	if (report(rep, t) < 0) {
		return 11;
	}
	sleep(60);
	tr_event_destroy(&e);
	return 0;
}
TR_ACTOR(eowner, eowner_main)

/* A counter that is not safe on its own: calls "get" (its value) and
 * "set N"; a read-modify-write from two clients needs a lock around it. */
static int
counter_main(const void *args, size_t len)
{
	long v = 0;

	(void) args;
	(void) len;
	for (;;) {
		tr_msg *m = NULL, *r = NULL;
		char    in[32], out[32];

		if (tr_recv(&m, TR_TIMEOUT_INFINITE) < 0) {
			return 1;
		}
		if (tr_msg_is_system(m) || !tr_msg_correlation(m)) {
			tr_msg_destroy(&m);
			continue;
		}
		args_text(tr_msg_data(m), tr_msg_size(m), in, sizeof(in));
		if (strncmp(in, "set ", 4) == 0) {
			v = atol(in + 4);
		}
		snprintf(out, sizeof(out), "%ld", v);
		if (tr_msg_new_bytes(&r, out, strlen(out)) == 0 &&
		    tr_reply(m, &r, TR_TEST_HANG_MS) < 0) {
			tr_msg_destroy(&r);
		}
		tr_msg_destroy(&m);
	}
}
TR_ACTOR(counter, counter_main)

static int
counter_call(tr_addr c, const char *text, long *ret)
{
	tr_msg *q = NULL, *rep = NULL;
	char    out[32];
	int     r;

	r = tr_msg_new_bytes(&q, text, strlen(text));
	if (r == 0) {
		r = tr_call(c, &q, &rep, TR_TEST_HANG_MS);
	}
	tr_msg_destroy(&q);
	if (r < 0) {
		return r;
	}
	args_text(tr_msg_data(rep), tr_msg_size(rep), out, sizeof(out));
	tr_msg_destroy(&rep);
	*ret = atol(out);
	return 0;
}

/* "LOCK COUNTER N REPORT": N times, under the lock, reads the counter
 * and writes it back one more; then sends "done". */
static int
lworker_main(const void *args, size_t len)
{
	char     buf[256], la[TXT], ca[TXT], ra[TXT], t[32];
	tr_addr  c, rep;
	tr_lock *l = NULL;
	int      n;

	args_text(args, len, buf, sizeof(buf));
	if (sscanf(buf, "%63s %63s %d %63s", la, ca, &n, ra) != 4 ||
	    tr_addr_parse(ca, &c) < 0 || tr_addr_parse(ra, &rep) < 0 ||
	    tr_lock_open(&l, la) < 0) {
		return 10;
	}
	for (int i = 0; i < n; i++) {
		long v;

		if (tr_lock_acquire(l, TR_TEST_HANG_MS) < 0) {
			return 11;
		}
		if (counter_call(c, "get", &v) < 0) {
			return 12;
		}
		snprintf(t, sizeof(t), "set %ld", v + 1);
		if (counter_call(c, t, &v) < 0 || tr_lock_release(l) < 0) {
			return 13;
		}
	}
	tr_lock_destroy(&l);
	return report(rep, "done") < 0 ? 14 : 0;
}
TR_ACTOR(lworker, lworker_main)

/* "LOCK REPORT": takes the lock, sends "held", sleeps until killed. */
static int
lholder_main(const void *args, size_t len)
{
	char     buf[256], la[TXT], ra[TXT];
	tr_addr  rep;
	tr_lock *l = NULL;

	args_text(args, len, buf, sizeof(buf));
	if (sscanf(buf, "%63s %63s", la, ra) != 2 ||
	    tr_addr_parse(ra, &rep) < 0 || tr_lock_open(&l, la) < 0 ||
	    tr_lock_acquire(l, TR_TEST_HANG_MS) < 0 ||
	    report(rep, "held") < 0) {
		return 10;
	}
	sleep(60);
	return 0;
}
TR_ACTOR(lholder, lholder_main)

/* "COND REPORT": with the condition's lock held sends "waiting", waits
 * for a notify, sends "notified R" and releases. */
static int
cwaiter_main(const void *args, size_t len)
{
	char     buf[256], ca[TXT], ra[TXT], t[32];
	tr_addr  rep;
	tr_cond *c = NULL;
	int      r;

	args_text(args, len, buf, sizeof(buf));
	if (sscanf(buf, "%63s %63s", ca, ra) != 2 ||
	    tr_addr_parse(ra, &rep) < 0 || tr_cond_open(&c, ca) < 0 ||
	    tr_lock_acquire(tr_cond_lock(c), TR_TEST_HANG_MS) < 0 ||
	    report(rep, "waiting") < 0) {
		return 10;
	}
	r = tr_cond_wait(c, TR_TEST_HANG_MS);
	snprintf(t, sizeof(t), "notified %d", r);
	if (tr_lock_release(tr_cond_lock(c)) < 0 || report(rep, t) < 0) {
		return 11;
	}
	tr_cond_destroy(&c);
	return 0;
}
TR_ACTOR(cwaiter, cwaiter_main)

/* "BARRIER REPORT": waits at the barrier, sends "index I". */
static int
bparty_main(const void *args, size_t len)
{
	char        buf[256], ba[TXT], ra[TXT], t[32];
	tr_addr     rep;
	tr_barrier *b = NULL;
	int         r;

	args_text(args, len, buf, sizeof(buf));
	if (sscanf(buf, "%63s %63s", ba, ra) != 2 ||
	    tr_addr_parse(ra, &rep) < 0 || tr_barrier_open(&b, ba) < 0) {
		return 10;
	}
	r = tr_barrier_wait(b, TR_TEST_HANG_MS);
	snprintf(t, sizeof(t), "index %d", r);
	tr_barrier_destroy(&b);
	return report(rep, t) < 0 ? 11 : 0;
}
TR_ACTOR(bparty, bparty_main)

/* Makes a queue and an actor lock, takes the lock, sends "own QUEUE LOCK"
 * (node-global addresses) to args, then sleeps until killed. */
static int
powner_main(const void *args, size_t len)
{
	static const tr_sync_opts ao = { .impl = TR_SYNC_ACTOR };
	char                      buf[TXT], t[3 * TXT];
	tr_addr                   rep;
	tr_queue                 *q = NULL;
	tr_lock                  *l = NULL;

	args_text(args, len, buf, sizeof(buf));
	if (tr_addr_parse(buf, &rep) < 0 || tr_queue_new(&q, NULL) < 0 ||
	    tr_lock_new(&l, &ao) < 0 || tr_lock_acquire(l, 0) < 0) {
		return 10;
	}
	snprintf(t, sizeof(t), "own %s %s", tr_queue_addr(q), tr_lock_addr(l));
	if (report(rep, t) < 0) {
		return 11;
	}
	sleep(60);
	return 0;
}
TR_ACTOR(powner, powner_main)

/* Releases the semaphore at args once. */
static int
sreleaser_main(const void *args, size_t len)
{
	char    buf[TXT];
	tr_sem *sem = NULL;
	int     r;

	args_text(args, len, buf, sizeof(buf));
	if (tr_sem_open(&sem, buf) < 0) {
		return 10;
	}
	r = tr_sem_release(sem);
	tr_sem_destroy(&sem);
	return r < 0 ? 11 : 0;
}
TR_ACTOR(sreleaser, sreleaser_main)

/* Links to the address in args, reports running (its start returns once
 * the link is set up) and sleeps: a link that fires ends it with code 1. */
static int
linker_main(const void *args, size_t len)
{
	char    buf[TXT];
	tr_addr who;

	args_text(args, len, buf, sizeof(buf));
	if (tr_addr_parse(buf, &who) < 0 || tr_link(who) < 0) {
		return 10;
	}
	(void) tr_ready();
	sleep(60);
	return 0;
}
TR_ACTOR_FLAGS(linker, linker_main, TR_ACTOR_MANUAL_READY)

/* Sleeps args[0..] ms, then SIGKILLs the pid after the space. */
static int
killer_main(const void *args, size_t len)
{
	char buf[64];
	int  ms = 0, pid = 0;

	args_text(args, len, buf, sizeof(buf));
	if (sscanf(buf, "%d %d", &ms, &pid) != 2 || pid <= 0) {
		return 10;
	}
	usleep((useconds_t) ms * 1000);
	return kill(pid, SIGKILL) == 0 ? 0 : 11;
}
TR_ACTOR(killer, killer_main)

/* ---- node b -------------------------------------------------------------- */

/* argv: --node-child NAME PEER */
static int
node_child(int argc, char **argv)
{
	const char     *peers[2] = { NULL, NULL };
	tr_node_options o        = { 0 };
	tr_node        *n        = NULL;
	char            buf[16];

	if (tr_init(argc, argv) < 0 || argc < 4) {
		return 99;
	}
	o.name   = argv[2];
	peers[0] = argv[3];
	o.peers  = peers;
	if (tr_node_start(&o, &n, TR_TEST_HANG_MS) < 0) {
		return 98;
	}
	printf("AGENT %d\n", (int) tr_node_agent_pid(n));
	fflush(stdout);
	while (read(0, buf, sizeof(buf)) > 0) { }
	tr_node_stop(&n);
	return 0;
}

/* What a failed test left running, for teardown() (a failed assertion
 * leaves its test's locals behind): node b's pids, and node a. */
static tr_test_kid left_kid;
static bool        kid_running;
static tr_node    *node_a;

static void
kid_start(tr_test_kid *k, const tr_node *a)
{
	char *argv[] = { (char *) "test-node-patterns", (char *) "--node-child",
		(char *) "b", (char *) tr_node_endpoint(a), NULL };

	tr_test_kid_spawn(k, argv, 0);
	left_kid    = *k;
	kid_running = true;
	if (sscanf(k->line, "AGENT %d", &k->agent) != 1) {
		print_error("node b said: %s\n", k->line);
		fail();
	}
	left_kid = *k;
	tr_test_node_wait_up("b", 1);
}

/* Stop b cleanly: its node says goodbye and stops what it started. */
static void
kid_stop(tr_test_kid *k)
{
	kid_running = false;
	tr_test_kid_stop(k);
}

/* Kill the "host" b: its agent and its main process (both SIGKILL). */
static void
kid_kill(tr_test_kid *k)
{
	kid_running = false;
	tr_test_kid_kill(k);
}

/* b's actors are processes of this host: after b was killed, end any of
 * them still there, by pid (the test's cleanup). */
static void
kill_actor(tr_addr a)
{
	if (a.pid && tr_test_pid_alive((pid_t) a.pid)) {
		kill((pid_t) a.pid, SIGKILL);
	}
	(void) tr_test_wait_gone((pid_t) a.pid, TR_TEST_HANG_MS);
}

static tr_node *
start_a(void)
{
	tr_node_options o = { 0 };
	tr_node        *n = NULL;

	o.name = "a";
	TR_ASSERT_OK(tr_node_start(&o, &n, TR_TEST_HANG_MS));
	node_a = n;
	return n;
}

static void
stop_a(tr_node **np)
{
	tr_node_stop(np);
	node_a = NULL;
}

/* After each test: what a failed one left (node b killed by pid, node a
 * stopped), so that the next test starts clean. */
static int
teardown(void **state)
{
	(void) state;
	if (kid_running) {
		kid_kill(&left_kid);
	}
	if (node_a) {
		stop_a(&node_a);
	}
	return 0;
}

/* This process's node-global address as text. */
static void
my_addr(char *buf)
{
	tr_addr g;

	TR_ASSERT_OK(tr_node_global_addr(tr_self(), &g));
	assert_int_equal(g.node, tr_node_id("a"));
	tr_addr_format(g, buf, TXT);
}

/* Start actor on node b ("b") or here (NULL, a process of this run). */
static tr_addr
start_on(
    const char *node, const char *actor, const char *args, tr_process **ret)
{
	tr_addr a;

	if (node) {
		TR_ASSERT_OK(tr_node_spawn(
		    node, actor, args, strlen(args), &a, TR_TEST_HANG_MS));
		assert_int_equal(a.node, tr_node_id(node));
		return a;
	}
	TR_ASSERT_OK(tr_process_new(ret, actor, args, strlen(args)));
	TR_ASSERT_OK(tr_process_start(*ret, TR_TEST_HANG_MS));
	TR_ASSERT_OK(tr_process_addr(*ret, &a));
	return a;
}

static bool
is_user(const tr_msg *m, void *arg)
{
	(void) arg;
	return !tr_msg_is_system(m);
}

/* The next report (a user message) into buf; *from gets its sender.  A
 * selective receive: DOWNs stay for wait_down(). */
static void
next_report(char *buf, size_t n, tr_addr *from)
{
	tr_msg *m = NULL;

	TR_ASSERT_OK(tr_recv_match(&m, is_user, NULL, TR_TEST_HANG_MS));
	args_text(tr_msg_data(m), tr_msg_size(m), buf, n);
	if (from) {
		*from = tr_msg_sender(m);
	}
	tr_msg_destroy(&m);
}

static void
expect_report(const char *want, tr_addr *from)
{
	char got[128];

	next_report(got, sizeof(got), from);
	assert_string_equal(got, want);
}

static bool
is_down_of(const tr_msg *m, void *arg)
{
	tr_down d;

	return tr_msg_down(m, &d) == 0 && d.ref == *(const uint64_t *) arg;
}

/* Wait for the DOWN of ref (a selective receive: other messages stay). */
static tr_down
wait_down(uint64_t ref)
{
	tr_msg *m = NULL;
	tr_down d;

	TR_ASSERT_OK(tr_recv_match(&m, is_down_of, &ref, TR_TEST_HANG_MS));
	TR_ASSERT_OK(tr_msg_down(m, &d));
	tr_msg_destroy(&m);
	return d;
}

/* ---- Queue --------------------------------------------------------------- */

/* A JoinableQueue whose broker and first producer (this process) are on
 * a, a second producer on b (one-way puts by message), one consumer on a
 * (on rings) and one on b (by message): every item is got exactly once,
 * each consumer gets some, join() returns once both marked every item
 * done, close() ends both. */
static void
test_queue_consumers_on_two_nodes_exactly_once(void **state)
{
	tr_node      *a = start_a();
	tr_test_kid   b;
	tr_queue     *q  = NULL;
	tr_queue_opts qo = { .kind = TR_QUEUE_JOINABLE };
	tr_process   *la = NULL;
	tr_addr       wb, from;
	char          me[TXT], args[256];
	uint64_t      ref;
	int           seen[800] = { 0 }, on_a = 0, on_b = 0;
	enum { N = 600, M = 200 };

	(void) state;
	kid_start(&b, a);
	my_addr(me);
	TR_ASSERT_OK(tr_queue_new(&q, &qo));
	/* the text to open it by is the broker's node-global address */
	{
		tr_addr qa;

		TR_ASSERT_OK(tr_addr_parse(tr_queue_addr(q), &qa));
		assert_int_equal(qa.node, tr_node_id("a"));
		assert_int_equal(qa.pid, tr_queue_broker(q).pid);
	}
	snprintf(args, sizeof(args), "%s %s 4 0", tr_queue_addr(q), me);
	(void) start_on(NULL, "qworker", args, &la);
	expect_report("ready", NULL);
	wb = start_on("b", "qworker", args, NULL);
	TR_ASSERT_OK(tr_monitor(wb, &ref));
	expect_report("ready", &from);
	assert_true(tr_addr_eq(from, wb));
	for (int i = 0; i < N; i++) {
		char t[16];

		snprintf(t, sizeof(t), "%d", i);
		TR_ASSERT_OK(tr_queue_put_bytes(q, t, strlen(t), 0));
	}
	/* a producer on b too: its puts are messages, most of them one-way */
	{
		tr_addr  p;
		uint64_t pref;

		snprintf(
		    args, sizeof(args), "%s %d %d", tr_queue_addr(q), N, M);
		p = start_on("b", "qproducer", args, NULL);
		TR_ASSERT_OK(tr_monitor(p, &pref));
		assert_int_equal(wait_down(pref).exitcode, 0);
	}
	/* join waits for the task_done of both nodes' consumers */
	TR_ASSERT_OK(tr_queue_join(q, TR_TEST_HANG_MS));
	for (int k = 0; k < N + M; k++) {
		char got[32];
		int  i;

		next_report(got, sizeof(got), &from);
		assert_int_equal(sscanf(got, "i %d", &i), 1);
		assert_true(i >= 0 && i < N + M);
		assert_int_equal(seen[i], 0);
		seen[i] = 1;
		if (from.node == tr_node_id("b")) {
			on_b++;
		} else {
			assert_int_equal(from.node, 0);
			on_a++;
		}
	}
	/* both were primed (credit asked for) before the first put */
	assert_true(on_a > 0 && on_b > 0);
	assert_int_equal(tr_queue_qsize(q), 0);
	TR_ASSERT_OK(tr_queue_close(q));
	assert_int_equal(tr_test_finish(&la), 0);
	{
		tr_down d = wait_down(ref);

		assert_int_equal(d.exit_class, TR_EXIT_NORMAL);
		assert_int_equal(d.exitcode, 0);
	}
	tr_queue_destroy(&q);
	kid_stop(&b);
	stop_a(&a);
}

/* A consumer on b got 5 of the 8 items it was sent and acknowledged
 * none; node b is killed: the broker's monitor of it fires
 * (noconnection) and all 8 go back to the front of the queue, so the
 * consumer on a gets every item once, the 8 in their order (the 5 again);
 * nothing hangs.  A JoinableQueue: join() returns once a marked all 20 done
 * (the lost consumer marked none). */
static void
test_queue_consumer_node_killed_items_requeued(void **state)
{
	tr_node      *a = start_a();
	tr_test_kid   b;
	tr_queue     *q  = NULL;
	tr_queue_opts jo = { .kind = TR_QUEUE_JOINABLE };
	tr_addr       wb, from;
	char          me[TXT], args[256];
	int64_t       t0;
	int           seen[20] = { 0 };
	enum { N = 20, HOLD = 5 };

	(void) state;
	kid_start(&b, a);
	my_addr(me);
	TR_ASSERT_OK(tr_queue_new(&q, &jo));
	for (int i = 0; i < N; i++) {
		char t[16];

		snprintf(t, sizeof(t), "%d", i);
		TR_ASSERT_OK(tr_queue_put_bytes(q, t, strlen(t), 0));
	}
	snprintf(args, sizeof(args), "%s %s 8 %d", tr_queue_addr(q), me, HOLD);
	wb = start_on("b", "qworker", args, NULL);
	expect_report("ready", &from);
	for (int i = 0; i < HOLD; i++) {
		char want[16];

		snprintf(want, sizeof(want), "i %d", i);
		expect_report(want, &from);
		assert_true(tr_addr_eq(from, wb));
	}
	/* sent to b and not acknowledged: counted as held meanwhile */
	assert_int_equal(tr_queue_qsize(q), N);
	t0 = tr_test_now_ms();
	kid_kill(&b);
	/* the items still queued (8..19) may come first: the broker hears
	 * of the loss when it hears; the 8 come back in their order */
	for (int i = 0, last_back = -1; i < N; i++) {
		tr_msg *m = NULL;
		char    t[16];
		int     v = -1;

		TR_ASSERT_OK(tr_queue_get(q, &m, TR_TEST_HANG_MS));
		args_text(tr_msg_data(m), tr_msg_size(m), t, sizeof(t));
		tr_msg_destroy(&m);
		assert_int_equal(sscanf(t, "%d", &v), 1);
		assert_true(v >= 0 && v < N);
		assert_int_equal(seen[v], 0);
		seen[v] = 1;
		if (v < 8) {
			assert_true(v > last_back);
			last_back = v;
		}
	}
	assert_true(tr_test_now_ms() - t0 < TR_TEST_HANG_MS);
	assert_int_equal(tr_queue_qsize(q), 0);
	/* JoinableQueue: the lost consumer marked nothing done; the items it
	 * had count until done here, once each */
	TR_ASSERT_ERR(tr_queue_join(q, 0), -ETIMEDOUT);
	for (int i = 0; i < N; i++) {
		TR_ASSERT_OK(tr_queue_task_done(q));
	}
	TR_ASSERT_OK(tr_queue_join(q, TR_TEST_HANG_MS));
	TR_ASSERT_ERR(tr_queue_task_done(q), TR_ETASKDONE);
	kill_actor(wb);
	tr_queue_destroy(&q);
	stop_a(&a);
}

/* ---- Event --------------------------------------------------------------- */

/* An event on a: set() here wakes two waiters on b; an actor on b sets
 * it again after a clear() and wakes a waiter here (on the page). */
static void
test_event_set_on_one_node_wakes_the_other(void **state)
{
	tr_node    *a = start_a();
	tr_test_kid b;
	tr_event   *e = NULL;
	tr_addr     g, w1, w2;
	char        me[TXT], ga[TXT], args[256];
	uint64_t    r1, r2;

	(void) state;
	kid_start(&b, a);
	my_addr(me);
	TR_ASSERT_OK(tr_event_new(&e, NULL));
	TR_ASSERT_OK(tr_node_global_addr(tr_event_addr(e), &g));
	tr_addr_format(g, ga, sizeof(ga));
	snprintf(args, sizeof(args), "%s %s", ga, me);
	w1 = start_on("b", "ewaiter", args, NULL);
	w2 = start_on("b", "ewaiter", args, NULL);
	TR_ASSERT_OK(tr_monitor(w1, &r1));
	TR_ASSERT_OK(tr_monitor(w2, &r2));
	expect_report("waiting", NULL);
	expect_report("waiting", NULL);
	/* not woken before the set */
	{
		tr_msg *m = NULL;

		TR_ASSERT_ERR(
		    tr_recv_match(&m, is_user, NULL, 300), -ETIMEDOUT);
	}
	TR_ASSERT_OK(tr_event_set(e));
	expect_report("woke 1", &g);
	assert_int_equal(g.node, tr_node_id("b"));
	expect_report("woke 1", NULL);
	assert_int_equal(wait_down(r1).exitcode, 0);
	assert_int_equal(wait_down(r2).exitcode, 0);

	/* the other way: set on b, waiter here (the local page) */
	TR_ASSERT_OK(tr_event_clear(e));
	assert_int_equal(tr_event_is_set(e), 0);
	w1 = start_on("b", "esetter", ga, NULL);
	TR_ASSERT_OK(tr_monitor(w1, &r1));
	assert_int_equal(tr_event_wait(e, TR_TEST_HANG_MS), 1);
	assert_int_equal(wait_down(r1).exitcode, 0);
	tr_event_destroy(&e);
	kid_stop(&b);
	stop_a(&a);
}

/* The event lives on b; a wait here by message is parked there; node b
 * is killed while it waits: the wait fails (TR_EDEAD) long before its
 * timeout, and so does every later call. */
static void
test_event_node_killed_waiter_gets_error(void **state)
{
	tr_node    *a = start_a();
	tr_test_kid b;
	tr_event   *e = NULL;
	tr_process *k = NULL;
	tr_addr     owner, ev;
	char        me[TXT], got[128], args[64];
	int64_t     t0;
	int         r;

	(void) state;
	kid_start(&b, a);
	my_addr(me);
	owner = start_on("b", "eowner", me, NULL);
	next_report(got, sizeof(got), NULL);
	assert_int_equal(strncmp(got, "event ", 6), 0);
	TR_ASSERT_OK(tr_addr_parse(got + 6, &ev));
	assert_int_equal(ev.node, tr_node_id("b"));
	TR_ASSERT_OK(tr_event_open(&e, ev));
	assert_int_equal(tr_event_is_set(e), 0);
	snprintf(args, sizeof(args), "300 %d", (int) b.agent);
	(void) start_on(NULL, "killer", args, &k);
	t0 = tr_test_now_ms();
	r  = tr_event_wait(e, 4 * TR_TEST_HANG_MS);
	assert_true(r == TR_EDEAD || r == -ESRCH);
	assert_true(tr_test_now_ms() - t0 < 2 * TR_TEST_HANG_MS);
	r = tr_event_set(e);
	assert_true(r == TR_EDEAD || r == -ESRCH);
	assert_int_equal(tr_test_finish(&k), 0);
	tr_event_destroy(&e);
	kid_kill(&b);
	kill_actor(owner);
	stop_a(&a);
}

/* ---- the actor locks ------------------------------------------------------
 */

static tr_sync_opts actor_opts = { .impl = TR_SYNC_ACTOR };

/* A lock on a; a counter (read, then write back one more: not safe on its
 * own) incremented under it by a worker on a and one on b: the exact
 * total. */
static void
test_lock_mutual_exclusion_across_nodes(void **state)
{
	tr_node    *a = start_a();
	tr_test_kid b;
	tr_lock    *l  = NULL;
	tr_process *cp = NULL, *la = NULL;
	tr_addr     c, wb, g;
	char        me[TXT], ca[TXT], args[256];
	uint64_t    ref;
	long        v = 0;
	enum { K = 150 };

	(void) state;
	kid_start(&b, a);
	my_addr(me);
	TR_ASSERT_OK(tr_lock_new(&l, &actor_opts));
	{
		tr_addr la_;

		TR_ASSERT_OK(tr_addr_parse(tr_lock_addr(l), &la_));
		assert_int_equal(la_.node, tr_node_id("a"));
	}
	c = start_on(NULL, "counter", "", &cp);
	TR_ASSERT_OK(tr_node_global_addr(c, &g));
	tr_addr_format(g, ca, sizeof(ca));
	snprintf(args, sizeof(args), "%s %s %d %s", tr_lock_addr(l), ca, K, me);
	wb = start_on("b", "lworker", args, NULL);
	TR_ASSERT_OK(tr_monitor(wb, &ref));
	(void) start_on(NULL, "lworker", args, &la);
	expect_report("done", NULL);
	expect_report("done", NULL);
	assert_int_equal(tr_test_finish(&la), 0);
	assert_int_equal(wait_down(ref).exitcode, 0);
	TR_ASSERT_OK(counter_call(c, "get", &v));
	assert_int_equal(v, 2 * K);
	TR_ASSERT_OK(tr_process_kill(cp));
	(void) tr_test_finish(&cp);
	tr_lock_destroy(&l);
	kid_stop(&b);
	stop_a(&a);
}

/* The lock's holder is on b; b is killed: the lock actor's monitor of it
 * fires (noconnection), the lock is released, and the acquire waiting
 * here gets it with TR_LOCK_OWNER_DIED. */
static void
test_lock_holder_node_killed_owner_died(void **state)
{
	tr_node    *a = start_a();
	tr_test_kid b;
	tr_lock    *l = NULL;
	tr_process *k = NULL;
	tr_addr     h;
	char        me[TXT], args[256];
	int64_t     t0;

	(void) state;
	kid_start(&b, a);
	my_addr(me);
	TR_ASSERT_OK(tr_lock_new(&l, &actor_opts));
	snprintf(args, sizeof(args), "%s %s", tr_lock_addr(l), me);
	h = start_on("b", "lholder", args, NULL);
	expect_report("held", NULL);
	TR_ASSERT_ERR(tr_lock_acquire(l, 0), -EAGAIN);
	snprintf(args, sizeof(args), "300 %d", (int) b.agent);
	(void) start_on(NULL, "killer", args, &k);
	t0 = tr_test_now_ms();
	TR_ASSERT_ERR(tr_lock_acquire(l, TR_TEST_HANG_MS), TR_LOCK_OWNER_DIED);
	assert_true(tr_test_now_ms() - t0 < TR_TEST_HANG_MS);
	assert_true(tr_lock_is_mine(l));
	TR_ASSERT_OK(tr_lock_release(l));
	assert_int_equal(tr_test_finish(&k), 0);
	tr_lock_destroy(&l);
	kid_kill(&b);
	kill_actor(h);
	stop_a(&a);
}

/* A Condition on a: a waiter on b is notified from here; a Barrier of
 * two parties, one on each node, releases both; a Semaphore released on b
 * ends an acquire waiting here. */
static void
test_condition_barrier_semaphore_across_nodes(void **state)
{
	tr_node    *a = start_a();
	tr_test_kid b;
	tr_cond    *c   = NULL;
	tr_barrier *br  = NULL;
	tr_sem     *sem = NULL;
	tr_addr     w;
	char        me[TXT], args[256], got[64];
	uint64_t    ref;
	int         mine, theirs;

	(void) state;
	kid_start(&b, a);
	my_addr(me);
	TR_ASSERT_OK(tr_cond_new(&c, &actor_opts));
	snprintf(args, sizeof(args), "%s %s", tr_cond_addr(c), me);
	w = start_on("b", "cwaiter", args, NULL);
	TR_ASSERT_OK(tr_monitor(w, &ref));
	expect_report("waiting", NULL);
	/* the waiter released the lock inside cond_wait */
	TR_ASSERT_OK(tr_lock_acquire(tr_cond_lock(c), TR_TEST_HANG_MS));
	assert_int_equal(tr_cond_notify(c, 1), 1);
	TR_ASSERT_OK(tr_lock_release(tr_cond_lock(c)));
	expect_report("notified 0", NULL);
	assert_int_equal(wait_down(ref).exitcode, 0);
	tr_cond_destroy(&c);

	TR_ASSERT_OK(tr_barrier_new(&br, &actor_opts, 2));
	snprintf(args, sizeof(args), "%s %s", tr_barrier_addr(br), me);
	w = start_on("b", "bparty", args, NULL);
	TR_ASSERT_OK(tr_monitor(w, &ref));
	mine = tr_barrier_wait(br, TR_TEST_HANG_MS);
	TR_ASSERT_OK(mine);
	next_report(got, sizeof(got), NULL);
	assert_int_equal(sscanf(got, "index %d", &theirs), 1);
	assert_true((mine == 0 && theirs == 1) || (mine == 1 && theirs == 0));
	assert_int_equal(wait_down(ref).exitcode, 0);
	tr_barrier_destroy(&br);

	/* a Semaphore at 0 here, released on b: the acquire waiting here
	 * returns */
	TR_ASSERT_OK(tr_sem_new(&sem, &actor_opts, 0, false));
	TR_ASSERT_ERR(tr_sem_acquire(sem, 0), -EAGAIN);
	w = start_on("b", "sreleaser", tr_sem_addr(sem), NULL);
	TR_ASSERT_OK(tr_monitor(w, &ref));
	TR_ASSERT_OK(tr_sem_acquire(sem, TR_TEST_HANG_MS));
	assert_int_equal(tr_sem_value(sem), 0);
	assert_int_equal(wait_down(ref).exitcode, 0);
	tr_sem_destroy(&sem);
	kid_stop(&b);
	stop_a(&a);
}

/* ---- the actor's node lost ------------------------------------------------
 */

/* A queue and a held actor lock live on b; a get waiting here on the
 * empty queue ends with TR_EDEAD when b is killed (300 ms in), long before
 * its timeout; then a put and an acquire fail at once, never hang. */
static void
test_actor_node_killed_members_fail_not_hang(void **state)
{
	tr_node    *a = start_a();
	tr_test_kid b;
	tr_process *k = NULL;
	tr_queue   *q = NULL;
	tr_lock    *l = NULL;
	tr_msg     *m = NULL;
	tr_addr     owner;
	char        me[TXT], got[3 * TXT], qa[TXT], la[TXT], args[64];
	int64_t     t0;
	int         r;

	(void) state;
	kid_start(&b, a);
	my_addr(me);
	owner = start_on("b", "powner", me, NULL);
	next_report(got, sizeof(got), NULL);
	assert_int_equal(sscanf(got, "own %63s %63s", qa, la), 2);
	TR_ASSERT_OK(tr_queue_open(&q, qa));
	TR_ASSERT_OK(tr_lock_open(&l, la));
	assert_int_equal(tr_queue_broker(q).node, tr_node_id("b"));
	TR_ASSERT_OK(tr_queue_put_bytes(q, "x", 1, TR_TEST_HANG_MS));
	TR_ASSERT_OK(tr_queue_get(q, &m, TR_TEST_HANG_MS)); /* by message */
	tr_msg_destroy(&m);
	TR_ASSERT_ERR(tr_lock_acquire(l, 0), -EAGAIN);
	snprintf(args, sizeof(args), "300 %d", (int) b.agent);
	(void) start_on(NULL, "killer", args, &k);
	t0 = tr_test_now_ms();
	TR_ASSERT_ERR(tr_queue_get(q, &m, 4 * TR_TEST_HANG_MS), TR_EDEAD);
	assert_true(tr_test_now_ms() - t0 < 2 * TR_TEST_HANG_MS);
	TR_ASSERT_ERR(tr_queue_put_bytes(q, "y", 1, TR_TEST_HANG_MS), TR_EDEAD);
	r = tr_lock_acquire(l, 4 * TR_TEST_HANG_MS);
	assert_true(r == TR_EDEAD || r == -ESRCH);
	assert_true(tr_test_now_ms() - t0 < 2 * TR_TEST_HANG_MS);
	assert_int_equal(tr_test_finish(&k), 0);
	tr_queue_destroy(&q);
	tr_lock_destroy(&l);
	kid_kill(&b);
	kill_actor(owner);
	stop_a(&a);
}

/* ---- this run's actor by its node-global address ---------------------------
 */

/* A process of this run calls, monitors and links with another by its
 * node-global address: all of it goes straight to the actor (the node
 * agent forwards nothing), and the DOWN carries the real exit code. */
static void
test_own_global_address_is_local(void **state)
{
	tr_node      *a  = start_a();
	tr_process   *cp = NULL, *lk = NULL;
	tr_addr       c, g;
	tr_node_stats before, after;
	uint64_t      ref;
	long          v = 0;
	char          ga[TXT];

	(void) state;
	c = start_on(NULL, "counter", "", &cp);
	TR_ASSERT_OK(tr_node_global_addr(c, &g));
	assert_int_equal(g.node, tr_node_id("a"));
	TR_ASSERT_OK(tr_node_stats_get(NULL, &before, TR_TEST_HANG_MS));
	TR_ASSERT_OK(counter_call(g, "set 41", &v));
	TR_ASSERT_OK(counter_call(g, "get", &v));
	assert_int_equal(v, 41);
	TR_ASSERT_OK(tr_monitor(g, &ref));
	/* a linker of the global address ends with the counter */
	tr_addr_format(g, ga, sizeof(ga));
	TR_ASSERT_OK(tr_process_new(&lk, "linker", ga, strlen(ga)));
	TR_ASSERT_OK(tr_process_start(lk, TR_TEST_HANG_MS));
	TR_ASSERT_OK(tr_process_kill(cp));
	{
		tr_down d = wait_down(ref);

		assert_true(tr_addr_eq(d.who, g));
		assert_int_equal(d.exitcode, -9); /* not noconnection */
		assert_int_equal(d.exit_class, TR_EXIT_ABNORMAL);
	}
	assert_int_equal(tr_test_finish(&lk), 1);
	(void) tr_test_finish(&cp);
	TR_ASSERT_OK(tr_node_stats_get(NULL, &after, TR_TEST_HANG_MS));
	assert_int_equal(after.sent, before.sent);
	assert_int_equal(after.unreachable, before.unreachable);
	assert_int_equal(after.dropped, before.dropped);
	stop_a(&a);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(
		    test_queue_consumers_on_two_nodes_exactly_once, teardown),
		cmocka_unit_test_teardown(
		    test_queue_consumer_node_killed_items_requeued, teardown),
		cmocka_unit_test_teardown(
		    test_event_set_on_one_node_wakes_the_other, teardown),
		cmocka_unit_test_teardown(
		    test_event_node_killed_waiter_gets_error, teardown),
		cmocka_unit_test_teardown(
		    test_lock_mutual_exclusion_across_nodes, teardown),
		cmocka_unit_test_teardown(
		    test_lock_holder_node_killed_owner_died, teardown),
		cmocka_unit_test_teardown(
		    test_condition_barrier_semaphore_across_nodes, teardown),
		cmocka_unit_test_teardown(
		    test_actor_node_killed_members_fail_not_hang, teardown),
		cmocka_unit_test_teardown(
		    test_own_global_address_is_local, teardown),
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
	return cmocka_run_group_tests_name("node-patterns", tests, NULL, NULL);
}
