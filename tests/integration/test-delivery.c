/* SPDX-License-Identifier: MIT */
/* What a send reported as sent becomes, with the receiver busy in its own
 * code, the sender exiting or SIGKILLed, links and floods; and children
 * that outlive the thread that started them.  Each runs under fork, spawn
 * and the forkserver. */
#include "tr-test.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zmq.h>

#include "msg.h"
#include "troupe.pb-c.h"

/* GCC 12's ASan allocator is not fork-safe while other threads run (the
 * runtime thread, ZeroMQ's): there, "fork" means the forkserver (as the
 * sanitizer run's default does; README, Sanitizers). */
#ifdef __SANITIZE_ADDRESS__
#define FORK TR_START_FORKSERVER
#else
#define FORK TR_START_FORK
#endif

static const int methods[] = { FORK, TR_START_SPAWN, TR_START_FORKSERVER };
#define NMETHODS 3

static int
parse_addr(const void *args, size_t len, tr_addr *ret, int *ret_n)
{
	char txt[128] = "";

	memcpy(txt, args, len < 127 ? len : 127);
	*ret_n = atoi(txt);
	return tr_addr_parse(
	    strchr(txt, ' ') ? strchr(txt, ' ') + 1 : txt, ret);
}

/* "index count addr": sends count numbered messages, then returns. */
static int
sender(const void *args, size_t len)
{
	char    txt[128] = "";
	tr_addr to;
	int     index, count;

	memcpy(txt, args, len < 127 ? len : 127);
	if (sscanf(txt, "%d %d", &index, &count) != 2 ||
	    tr_addr_parse(strrchr(txt, ' ') + 1, &to) < 0) {
		return 2;
	}
	for (uint32_t seq = 0; seq < (uint32_t) count; seq++) {
		uint32_t pl[2] = { (uint32_t) index, seq };

		if (tr_send_bytes(to, pl, sizeof(pl), TR_TEST_HANG_MS) < 0) {
			return 4;
		}
	}
	return 0;
}
TR_ACTOR(sender, sender)

/* "n addr": waits for "go", sends n numbered messages, then SIGKILLs
 * itself. */
static int
spray_and_die(const void *args, size_t len)
{
	tr_addr to;
	tr_msg *m;
	int     n;

	if (parse_addr(args, len, &to, &n) < 0) {
		return 2;
	}
	TR_ASSERT_OK(tr_self_bind());
	tr_ready();
	if (tr_recv(&m, TR_TEST_HANG_MS) < 0) {
		return 3;
	}
	tr_msg_destroy(&m);
	for (uint32_t seq = 0; seq < (uint32_t) n; seq++) {
		if (tr_send_bytes(to, &seq, sizeof(seq), TR_TEST_HANG_MS) < 0) {
			return 4;
		}
	}
	raise(SIGKILL);
	return 5;
}
TR_ACTOR_FLAGS(spray_and_die, spray_and_die, TR_ACTOR_MANUAL_READY)

/* "ms": binds, reports ready, is busy outside troupe for ms, then looks
 * at its mailbox once and returns 7 (ended by a link: 1). */
static int
busy(const void *args, size_t len)
{
	tr_msg *m;
	int     ms = atoi(args);

	TR_ASSERT_OK(tr_self_bind());
	tr_ready();
	usleep((useconds_t) ms * 1000);
	if (tr_recv(&m, 200) == 0) {
		tr_msg_destroy(&m);
	}
	return 7;
}
TR_ACTOR_FLAGS(busy, busy, TR_ACTOR_MANUAL_READY)

/* "c addr" links to addr then returns 0 (c = 'n') or aborts (c = 'a'). */
static int
link_then(const void *args, size_t len)
{
	const char *t = args;
	tr_addr     peer;

	if (len < 3 || tr_addr_parse(t + 2, &peer) < 0 || tr_link(peer) < 0) {
		return 2;
	}
	if (t[0] == 'a') {
		abort();
	}
	return 0;
}
TR_ACTOR(link_then, link_then)

/* Sends its parent one message and returns. */
static int
hello_parent(const void *args, size_t len)
{
	tr_addr to;
	int     n;

	if (parse_addr(args, len, &to, &n) < 0) {
		return 2;
	}
	return tr_send_bytes(to, "hi", 2, TR_TEST_HANG_MS) < 0 ? 3 : 0;
}
TR_ACTOR(hello_parent, hello_parent)

/* Waits for one message and returns 0; 3 if none came. */
static int
waiter(const void *args, size_t len)
{
	tr_msg *m;

	TR_ASSERT_OK(tr_self_bind());
	if (tr_recv(&m, TR_TEST_HANG_MS) < 0) {
		return 3;
	}
	tr_msg_destroy(&m);
	return 0;
}
TR_ACTOR(waiter, waiter)

/* "ms addr": sleeps ms, then floods addr with 1 KiB messages (100 ms
 * timeout each) until one fails: 9 for TR_EFULL, 0 if all 200,000 went. */
static int
flooder(const void *args, size_t len)
{
	static char kb[1024];
	tr_addr     to;
	int         ms, r;

	if (parse_addr(args, len, &to, &ms) < 0) {
		return 2;
	}
	usleep((useconds_t) ms * 1000);
	for (int i = 0; i < 200000; i++) {
		r = tr_send_bytes(to, kb, sizeof(kb), 100);
		if (r == TR_EFULL) {
			return 9;
		}
		if (r < 0) {
			return 4;
		}
	}
	return 0;
}
TR_ACTOR(flooder, flooder)

/* Answers each request after sleeping the ms it names. */
static int
slow_echo(const void *args, size_t len)
{
	tr_msg *m, *rep;

	while (tr_recv(&m, TR_TEST_HANG_MS) == 0) {
		char txt[32] = "";

		memcpy(txt, tr_msg_data(m),
		    tr_msg_size(m) < 31 ? tr_msg_size(m) : 31);
		if (strcmp(txt, "stop") == 0) {
			tr_msg_destroy(&m);
			return 0;
		}
		usleep((useconds_t) atoi(txt) * 1000);
		if (tr_msg_new_bytes(&rep, "ok", 2) == 0) {
			(void) tr_reply(m, &rep, TR_TEST_HANG_MS);
		}
		tr_msg_destroy(&rep);
		tr_msg_destroy(&m);
	}
	return 3;
}
TR_ACTOR(slow_echo, slow_echo)

/* Exit code: descriptors open above stdio (the directory's excepted). */
static int
fd_census(const void *args, size_t len)
{
	DIR           *d = opendir("/proc/self/fd");
	struct dirent *e;
	int            n = 0;

	while (d && (e = readdir(d))) {
		if (e->d_name[0] != '.' && atoi(e->d_name) > 2 &&
		    atoi(e->d_name) != dirfd(d)) {
			n++;
		}
	}
	if (d) {
		closedir(d);
	}
	return n;
}
TR_ACTOR(fd_census, fd_census)

#define ARGS_TEXT "the arguments, intact, 0123456789abcdef0123456789abcdef"

/* Exit code 0 if its arguments are ARGS_TEXT, 3 if not. */
static int
args_check(const void *args, size_t len)
{
	return len == strlen(ARGS_TEXT) && memcmp(args, ARGS_TEXT, len) == 0
	    ? 0
	    : 3;
}
TR_ACTOR(args_check, args_check)

/* "n": starts a sender of n messages to itself, reads none, returns 0:
 * its exit must not wait for ever on the sender's. */
static int
hoarder(const void *args, size_t len)
{
	char        a[TR_ADDR_STRLEN], txt[128];
	tr_process *p;

	tr_addr_format(tr_self(), a, sizeof(a));
	TR_ASSERT_OK(tr_self_bind());
	snprintf(txt, sizeof(txt), "0 %d %s", atoi(args), a);
	if (tr_process_new(&p, "sender", txt, strlen(txt)) < 0 ||
	    tr_process_start(p, TR_TEST_HANG_MS) < 0) {
		return 2;
	}
	return 0; /* the exit joins the sender */
}
TR_ACTOR(hoarder, hoarder)

/* "addr": links to addr, then is busy for a minute: 7 (a link: 1). */
static int
link_and_sleep(const void *args, size_t len)
{
	tr_addr peer;

	if (tr_addr_parse(args, &peer) < 0 || tr_link(peer) < 0) {
		return 2;
	}
	tr_ready();
	sleep(60);
	return 7;
}
TR_ACTOR_FLAGS(link_and_sleep, link_and_sleep, TR_ACTOR_MANUAL_READY)

/* Dies by SIGKILL when it gets a request. */
static int
die_on_request(const void *args, size_t len)
{
	tr_msg *m;

	if (tr_recv(&m, TR_TEST_HANG_MS) < 0) {
		return 3;
	}
	raise(SIGKILL);
	return 4;
}
TR_ACTOR(die_on_request, die_on_request)

static tr_process *
start_m(const char *actor, const char *args, int method, tr_addr *ret)
{
	tr_process *p;

	TR_ASSERT_OK(tr_process_new(&p, actor, args, args ? strlen(args) : 0));
	TR_ASSERT_OK(tr_process_set_start_method(p, method));
	TR_ASSERT_OK(tr_process_start(p, TR_TEST_HANG_MS));
	if (ret) {
		TR_ASSERT_OK(tr_process_addr(p, ret));
	}
	return p;
}

static void
self_text(char *buf, size_t n)
{
	tr_addr_format(tr_self(), buf, n);
}

/* 4 senders x 3,000 messages exit while the receiver is busy outside
 * troupe for 3.5 s: all 12,000 arrive, each sender's in order. */
static void
test_busy_receiver_exiting_senders_lose_nothing(void **state)
{
	enum { SENDERS = 4, COUNT = 3000 };
	char self[TR_ADDR_STRLEN], args[128];

	self_text(self, sizeof(self));
	TR_ASSERT_OK(tr_self_bind());
	for (int k = 0; k < NMETHODS; k++) {
		tr_process *s[SENDERS];
		uint32_t    next[SENDERS] = { 0 };
		long        total         = 0;

		for (int i = 0; i < SENDERS; i++) {
			snprintf(
			    args, sizeof(args), "%d %d %s", i, COUNT, self);
			s[i] = start_m("sender", args, methods[k], NULL);
		}
		usleep(3500 * 1000);
		while (total < (long) SENDERS * COUNT) {
			tr_msg         *m;
			const uint32_t *pl;

			TR_ASSERT_OK(tr_recv(&m, TR_TEST_HANG_MS));
			assert_int_equal(tr_msg_size(m), 8);
			pl = tr_msg_data(m);
			assert_true(pl[0] < SENDERS);
			assert_int_equal(pl[1], next[pl[0]]);
			next[pl[0]]++;
			total++;
			tr_msg_destroy(&m);
		}
		for (int i = 0; i < SENDERS; i++) {
			assert_int_equal(tr_test_finish(&s[i]), 0);
		}
	}
}

/* A child that sent its parent one message exits at once while the
 * parent waits outside troupe, in poll() on the sentinel (a child waiting
 * for a FinAck that never came would hang here). */
static void
test_child_exit_while_parent_polls_sentinel(void **state)
{
	char self[TR_ADDR_STRLEN];

	self_text(self, sizeof(self));
	TR_ASSERT_OK(tr_self_bind());
	for (int k = 0; k < NMETHODS; k++) {
		char          args[64];
		tr_process   *p;
		tr_msg       *m;
		struct pollfd pfd = { .events = POLLIN };

		snprintf(args, sizeof(args), "0 %s", self);
		p      = start_m("hello_parent", args, methods[k], NULL);
		pfd.fd = tr_process_sentinel(p);
		assert_int_equal(poll(&pfd, 1, TR_TEST_HANG_MS), 1);
		assert_int_equal(tr_test_finish(&p), 0);
		TR_ASSERT_OK(tr_recv(&m, 0));
		assert_memory_equal(tr_msg_data(m), "hi", 2);
		tr_msg_destroy(&m);
	}
}

/* An actor sends 2,000 messages and is SIGKILLed; its monitor, reading a
 * second later, gets what arrived in order, then the DOWN, then nothing. */
static void
test_down_comes_after_the_dead_actors_messages(void **state)
{
	char self[TR_ADDR_STRLEN];

	self_text(self, sizeof(self));
	for (int k = 0; k < NMETHODS; k++) {
		char        args[64];
		tr_process *p;
		tr_addr     a;
		uint64_t    ref;
		uint32_t    next = 0;
		tr_msg     *m;
		tr_down     d;

		snprintf(args, sizeof(args), "2000 %s", self);
		p = start_m("spray_and_die", args, methods[k], &a);
		TR_ASSERT_OK(tr_monitor(a, &ref));
		TR_ASSERT_OK(tr_send_bytes(a, "go", 2, TR_TEST_HANG_MS));
		usleep(1000 * 1000);
		for (;;) {
			TR_ASSERT_OK(tr_recv(&m, TR_TEST_HANG_MS));
			if (tr_msg_is_system(m)) {
				break;
			}
			assert_int_equal(tr_msg_size(m), 4);
			assert_int_equal(
			    *(const uint32_t *) tr_msg_data(m), next);
			next++;
			tr_msg_destroy(&m);
		}
		TR_ASSERT_OK(tr_msg_down(m, &d));
		tr_msg_destroy(&m);
		assert_int_equal(d.ref, ref);
		assert_int_equal(d.exitcode, -SIGKILL);
		assert_true(next > 0);
		TR_ASSERT_ERR(tr_recv(&m, 300), -ETIMEDOUT);
		assert_int_equal(tr_test_finish(&p), -SIGKILL);
	}
}

/* A links to B while B is busy, then returns 0: a normal exit ends no
 * one, even when B sees the link only after A has gone. */
static void
test_normal_exit_does_not_kill_a_linked_peer(void **state)
{
	for (int k = 0; k < NMETHODS; k++) {
		char        args[64];
		tr_process *b, *a;
		tr_addr     ab;

		b       = start_m("busy", "2000", methods[k], &ab);
		args[0] = 'n';
		args[1] = ' ';
		tr_addr_format(ab, args + 2, sizeof(args) - 2);
		a = start_m("link_then", args, methods[k], NULL);
		assert_int_equal(tr_test_finish(&a), 0);
		assert_int_equal(tr_test_finish(&b), 7);
	}
}

/* B is busy in its own code for a minute; A links to it and crashes: B
 * ends at once (exit 1), not at its next troupe call. */
static void
test_link_acts_while_the_peer_is_busy(void **state)
{
	for (int k = 0; k < NMETHODS; k++) {
		char        args[64];
		tr_process *b, *a;
		tr_addr     ab;

		b       = start_m("busy", "60000", methods[k], &ab);
		args[0] = 'a';
		args[1] = ' ';
		tr_addr_format(ab, args + 2, sizeof(args) - 2);
		a = start_m("link_then", args, methods[k], NULL);
		assert_int_equal(tr_test_finish(&a), -SIGABRT);
		TR_ASSERT_OK(tr_process_join(b, TR_TEST_HANG_MS));
		assert_int_equal(tr_test_finish(&b), 1);
	}
}

/* While this process waits in a call, a flood into its mailbox meets
 * back-pressure (TR_EFULL) instead of piling up in memory. */
static void
test_flood_during_a_call_gets_backpressure(void **state)
{
	char             self[TR_ADDR_STRLEN], args[64];
	tr_process      *echo, *fl;
	tr_addr          e;
	tr_msg          *m, *rep = NULL;
	tr_mailbox_stats st;
	int              r;

	self_text(self, sizeof(self));
	TR_ASSERT_OK(tr_self_bind());
	echo = start_m("slow_echo", NULL, FORK, &e);
	snprintf(args, sizeof(args), "200 %s", self);
	fl = start_m("flooder", args, FORK, NULL);
	TR_ASSERT_OK(tr_msg_new_bytes(&m, "4000", 4));
	r = tr_call(e, &m, &rep, 10000);
	/* the reply can be stuck behind twice the capacity of flood
	 * (docs/guarantees.md); the flood itself must be pushed back */
	assert_true(r == 0 || r == -ETIMEDOUT);
	tr_msg_destroy(&rep);
	tr_msg_destroy(&m);
	TR_ASSERT_OK(tr_mailbox_stats_get(&st));
	assert_true(st.queued <= 2000);
	/* read while the flooder exits: its exit waits until what it sent
	 * is in our queue */
	while (tr_process_join(fl, 0) == -ETIMEDOUT) {
		if (tr_recv(&m, 50) == 0) {
			tr_msg_destroy(&m);
		}
	}
	assert_int_equal(tr_test_finish(&fl), 9);
	TR_ASSERT_OK(tr_send_bytes(e, "stop", 4, TR_TEST_HANG_MS));
	assert_int_equal(tr_test_finish(&echo), 0);
	while (tr_recv(&m, 100) == 0) {
		tr_msg_destroy(&m);
	}
}

/* A sender exits while its Fin waits behind a full queue to a receiver
 * that is SIGKILLed during that wait: the exit handshake forgets the dead
 * peer (the send that fails frees it: once a use after free, seen by
 * AddressSanitizer) and the sender ends promptly with its own code. */
static void
test_receiver_killed_during_the_exit_handshake(void **state)
{
	for (int m = 0; m < 3; m++) {
		char        args[64], b_txt[TR_ADDR_STRLEN];
		tr_process *b, *fl;
		tr_addr     ba;
		int64_t     t0;

		b = start_m("busy", "60000", methods[m], &ba);
		tr_addr_format(ba, b_txt, sizeof(b_txt));
		snprintf(args, sizeof(args), "0 %s", b_txt);
		fl = start_m("flooder", args, methods[m], NULL);
		/* the flood fills b's queue within a second; the flooder
		 * then fails a send (TR_EFULL), returns 9 and waits in its
		 * exit handshake for b */
		assert_int_equal(tr_process_join(fl, 1500), -ETIMEDOUT);
		assert_int_equal(kill((pid_t) ba.pid, SIGKILL), 0);
		t0 = tr_test_now_ms();
		assert_int_equal(tr_test_finish(&fl), 9);
		assert_true(tr_test_now_ms() - t0 < TR_TEST_HANG_MS);
		assert_int_equal(tr_test_finish(&b), -SIGKILL);
	}
}

/* Forged Fins cost the actor nothing: 50 of them (1 s each before: past
 * the hang guard), then a call is answered. */
static void
test_forged_fin_does_not_stall_the_actor(void **state)
{
	Trwire__Fin    fin = TRWIRE__FIN__INIT;
	struct tri_env env;
	tr_process    *echo, *idle;
	tr_addr        e, i;
	uint8_t        buf[TRI_ENV_MAX], pl[16];
	char           ep[PATH_MAX + 8];
	tr_msg        *m, *rep;
	void          *ctx = zmq_ctx_new(), *s = zmq_socket(ctx, ZMQ_PUSH);
	int            n, pn, zero = 0;

	echo = start_m("slow_echo", NULL, FORK, &e);
	idle = start_m("waiter", NULL, FORK, &i);
	memset(&env, 0, sizeof(env));
	env.sender    = (tr_addr) { 0, i.pid, i.incarnation + 0 };
	env.recipient = e;
	env.flags     = TRI_FLAG_SYSTEM;
	snprintf(env.type, sizeof(env.type), "trwire.Fin");
	n  = tri_env_encode(&env, buf, sizeof(buf));
	pn = (int) trwire__fin__pack(&fin, pl);
	assert_true(n > 0);
	snprintf(ep, sizeof(ep), "ipc://%s/%u.%llu", tr_runtime_dir(), e.pid,
	    (unsigned long long) e.incarnation);
	zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
	assert_int_equal(zmq_connect(s, ep), 0);
	for (int k = 0; k < 50; k++) {
		assert_int_equal(zmq_send(s, buf, (size_t) n, ZMQ_SNDMORE), n);
		assert_int_equal(zmq_send(s, pl, (size_t) pn, 0), pn);
	}
	TR_ASSERT_OK(tr_msg_new_bytes(&m, "0", 1));
	TR_ASSERT_OK(tr_call(e, &m, &rep, TR_TEST_HANG_MS));
	tr_msg_destroy(&rep);
	TR_ASSERT_OK(tr_send_bytes(e, "stop", 4, TR_TEST_HANG_MS));
	TR_ASSERT_OK(tr_send_bytes(i, "bye", 3, TR_TEST_HANG_MS));
	assert_int_equal(tr_test_finish(&echo), 0);
	assert_int_equal(tr_test_finish(&idle), 0);
	zmq_close(s);
	zmq_ctx_term(ctx);
}

/* A busy actor whose mailbox is full still dies with its linked peer. */
static void
test_link_acts_on_a_busy_actor_with_a_full_mailbox(void **state)
{
	char        args[128], txt[TR_ADDR_STRLEN];
	tr_process *b, *peer, *fl;
	tr_addr     ab, ap;

	peer = start_m("waiter", NULL, FORK, &ap);
	tr_addr_format(ap, txt, sizeof(txt));
	b = start_m("link_and_sleep", txt, FORK, &ab);
	tr_addr_format(ab, txt, sizeof(txt));
	snprintf(args, sizeof(args), "0 1500 %s", txt);
	fl = start_m("sender", args, FORK, NULL);
	usleep(300 * 1000); /* let the flood fill its queue */
	TR_ASSERT_OK(tr_process_kill(peer));
	assert_int_equal(tr_test_finish(&peer), -SIGKILL);
	TR_ASSERT_OK(tr_process_join(b, TR_TEST_HANG_MS));
	assert_int_equal(tr_test_finish(&b), 1);
	(void) tr_test_finish(
	    &fl); /* its receiver died: it fails or finishes */
}

/* A call to a callee that dies fails with TR_EDEAD even when more than
 * twice the capacity of other mail waits in the caller's mailbox. */
static void
test_call_to_dying_callee_behind_a_full_mailbox(void **state)
{
	char        self[TR_ADDR_STRLEN], args[128];
	tr_process *fl, *callee;
	tr_addr     c;
	tr_msg     *m, *rep = NULL;

	self_text(self, sizeof(self));
	TR_ASSERT_OK(tr_self_bind());
	snprintf(args, sizeof(args), "0 2100 %s", self);
	fl = start_m("sender", args, FORK, NULL);
	usleep(500 * 1000);
	callee = start_m("die_on_request", NULL, FORK, &c);
	TR_ASSERT_OK(tr_msg_new_bytes(&m, "x", 1));
	TR_ASSERT_ERR(tr_call(c, &m, &rep, TR_TEST_HANG_MS), TR_EDEAD);
	tr_msg_destroy(&m);
	assert_int_equal(tr_test_finish(&callee), -SIGKILL);
	while (tr_process_join(fl, 0) == -ETIMEDOUT) {
		if (tr_recv(&m, 50) == 0) {
			tr_msg_destroy(&m);
		}
	}
	assert_int_equal(tr_test_finish(&fl), 0);
	while (tr_recv(&m, 100) == 0) {
		tr_msg_destroy(&m);
	}
}

static void
on_alarm(int sig)
{
	(void) sig;
}

/* A signal handler that ran ends tr_recv() and tr_poll() with -EINTR. */
static void
test_recv_and_poll_report_eintr(void **state)
{
	struct sigaction sa, old;
	tr_msg          *m;
	bool             mail;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm; /* no SA_RESTART */
	assert_int_equal(sigaction(SIGALRM, &sa, &old), 0);
	TR_ASSERT_OK(tr_self_bind());
	alarm(1);
	TR_ASSERT_ERR(tr_recv(&m, TR_TEST_HANG_MS), -EINTR);
	alarm(1);
	TR_ASSERT_ERR(tr_poll(NULL, 0, &mail, TR_TEST_HANG_MS), -EINTR);
	alarm(0);
	assert_int_equal(sigaction(SIGALRM, &old, NULL), 0);
}

/* Two threads start children through one forkserver at once. */
static void *
start_ten(void *arg)
{
	intptr_t bad = 0;

	(void) arg;
	for (int i = 0; i < 10; i++) {
		tr_process *p;
		int         code = -1;

		if (tr_process_new(&p, "fd_census", NULL, 0) < 0 ||
		    tr_process_set_start_method(p, TR_START_FORKSERVER) < 0 ||
		    tr_process_start(p, TR_TEST_HANG_MS) < 0 ||
		    tr_process_join(p, TR_TEST_HANG_MS) < 0 ||
		    tr_process_exitcode(p, &code) < 0 || code < 0) {
			bad++;
		}
		tr_process_destroy(&p);
	}
	return (void *) bad;
}

static void
test_forkserver_starts_from_two_threads(void **state)
{
	pthread_t t[2];
	void     *bad[2];

	for (int i = 0; i < 2; i++) {
		assert_int_equal(
		    pthread_create(&t[i], NULL, start_ten, NULL), 0);
	}
	for (int i = 0; i < 2; i++) {
		assert_int_equal(pthread_join(t[i], &bad[i]), 0);
		assert_null(bad[i]);
	}
}

/* An actor that returns with 1,500 unread messages from a child it
 * joins at exit still exits (its queue takes all while it exits). */
static void
test_exit_with_a_full_unread_mailbox(void **state)
{
	for (int k = 0; k < NMETHODS; k++) {
		tr_process *h = start_m("hoarder", "1500", methods[k], NULL);

		TR_ASSERT_OK(tr_process_join(h, TR_TEST_HANG_MS));
		assert_int_equal(tr_test_finish(&h), 0);
	}
}

/* A fork child keeps none of its parent's ZeroMQ descriptors: its count
 * does not grow with the connections its parent has to live siblings. */
static void
test_fork_child_keeps_no_zeromq_fds_of_the_parent(void **state)
{
	tr_process *sib[4], *p;
	tr_addr     a[4];
	int         before, after, code;

#ifdef __SANITIZE_ADDRESS__
	skip(); /* about fork children; see FORK */
#endif
	TR_ASSERT_OK(tr_self_bind());
	p = start_m("fd_census", NULL, FORK, NULL);
	TR_ASSERT_OK(tr_process_join(p, TR_TEST_HANG_MS));
	TR_ASSERT_OK(tr_process_exitcode(p, &before));
	tr_process_destroy(&p);
	for (int i = 0; i < 4; i++) {
		tr_msg *m, *rep;

		sib[i] = start_m("slow_echo", NULL, FORK, &a[i]);
		/* a connection from us to each, and one from each to us */
		TR_ASSERT_OK(tr_msg_new_bytes(&m, "0", 1));
		TR_ASSERT_OK(tr_call(a[i], &m, &rep, TR_TEST_HANG_MS));
		tr_msg_destroy(&rep);
	}
	p = start_m("fd_census", NULL, FORK, NULL);
	TR_ASSERT_OK(tr_process_join(p, TR_TEST_HANG_MS));
	TR_ASSERT_OK(tr_process_exitcode(p, &after));
	tr_process_destroy(&p);
	/* A census counts what the child's runtime holds at that instant,
	 * which varies by one or two with timing (its ZeroMQ context and
	 * connections open asynchronously; seen 7 against 8 and 9 on a
	 * loaded machine).  Inherited connections of the parent would add
	 * at least one per sibling: four. */
	print_message("fds in a fork child: %d before the siblings, %d after\n",
	    before, after);
	assert_true(after < before + 4);
	for (int i = 0; i < 4; i++) {
		TR_ASSERT_OK(tr_send_bytes(a[i], "stop", 4, TR_TEST_HANG_MS));
		code = tr_test_finish(&sib[i]);
		assert_int_equal(code, 0);
	}
}

/* Children started from a thread that then ends live on, under every
 * method; the forkserver first started from such a thread too. */
struct thread_start {
	int         method;
	tr_process *p;
	int         r;
};

static void *
start_in_thread(void *arg)
{
	struct thread_start *t = arg;

	t->r = tr_process_new(&t->p, "waiter", NULL, 0);
	if (t->r == 0) {
		t->r = tr_process_set_start_method(t->p, t->method);
	}
	if (t->r == 0) {
		t->r = tr_process_start(t->p, TR_TEST_HANG_MS);
	}
	return NULL;
}

static void
test_children_outlive_their_starting_thread(void **state)
{
	/* the forkserver first: this is its first start in this binary */
	const int order[NMETHODS] = { TR_START_FORKSERVER, FORK,
		TR_START_SPAWN };

	for (int k = 0; k < NMETHODS; k++) {
		struct thread_start t = { order[k], NULL, 0 };
		pthread_t           th;
		tr_process         *again;
		tr_addr             a;

		assert_int_equal(
		    pthread_create(&th, NULL, start_in_thread, &t), 0);
		assert_int_equal(pthread_join(th, NULL), 0);
		TR_ASSERT_OK(t.r);
		usleep(1500 * 1000); /* PR_SET_PDEATHSIG fired ~0.5 s after */
		assert_true(tr_process_is_alive(t.p));
		/* and the next start (the forkserver's, too) works */
		again = start_m("waiter", NULL, order[k], &a);
		TR_ASSERT_OK(tr_send_bytes(a, "bye", 3, TR_TEST_HANG_MS));
		assert_int_equal(tr_test_finish(&again), 0);
		TR_ASSERT_OK(tr_process_addr(t.p, &a));
		TR_ASSERT_OK(tr_send_bytes(a, "bye", 3, TR_TEST_HANG_MS));
		assert_int_equal(tr_test_finish(&t.p), 0);
	}
}

/* A child that binds its mailbox at once (the Manager's and the node
 * agent's do), started from a thread other than main, gets its arguments
 * intact under every method: the boot record it reads lives on that
 * thread's stack, which a fork child's first new thread may reuse. */
struct eager_start {
	int method, r, code;
};

static void *
eager_start_in_thread(void *arg)
{
	struct eager_start *e = arg;
	tr_process         *p;

	e->r = tr_process_new(&p, "args_check", ARGS_TEXT, strlen(ARGS_TEXT));
	if (e->r < 0) {
		return NULL;
	}
	(void) tr_process_set_eager_mailbox(p, true);
	e->r = tr_process_set_start_method(p, e->method);
	if (e->r == 0) {
		e->r = tr_process_start(p, TR_TEST_HANG_MS);
	}
	if (e->r == 0) {
		e->r = tr_process_join(p, TR_TEST_HANG_MS);
	}
	if (e->r == 0) {
		e->r = tr_process_exitcode(p, &e->code);
	}
	tr_process_destroy(&p);
	return NULL;
}

static void
test_eager_child_started_from_a_thread_gets_its_arguments(void **state)
{
	for (int k = 0; k < NMETHODS; k++) {
		struct eager_start e = { methods[k], -1, -1 };
		pthread_t          th;

		assert_int_equal(
		    pthread_create(&th, NULL, eager_start_in_thread, &e), 0);
		assert_int_equal(pthread_join(th, NULL), 0);
		TR_ASSERT_OK(e.r);
		assert_int_equal(e.code, 0);
	}
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_children_outlive_their_starting_thread),
		cmocka_unit_test(test_child_exit_while_parent_polls_sentinel),
		cmocka_unit_test(
		    test_busy_receiver_exiting_senders_lose_nothing),
		cmocka_unit_test(
		    test_down_comes_after_the_dead_actors_messages),
		cmocka_unit_test(test_normal_exit_does_not_kill_a_linked_peer),
		cmocka_unit_test(test_link_acts_while_the_peer_is_busy),
		cmocka_unit_test(test_flood_during_a_call_gets_backpressure),
		cmocka_unit_test(
		    test_receiver_killed_during_the_exit_handshake),
		cmocka_unit_test(test_forged_fin_does_not_stall_the_actor),
		cmocka_unit_test(
		    test_fork_child_keeps_no_zeromq_fds_of_the_parent),
		cmocka_unit_test(
		    test_link_acts_on_a_busy_actor_with_a_full_mailbox),
		cmocka_unit_test(
		    test_call_to_dying_callee_behind_a_full_mailbox),
		cmocka_unit_test(test_recv_and_poll_report_eintr),
		cmocka_unit_test(test_forkserver_starts_from_two_threads),
		cmocka_unit_test(test_exit_with_a_full_unread_mailbox),
		cmocka_unit_test(
		    test_eager_child_started_from_a_thread_gets_its_arguments),
	};

	TR_ASSERT_OK(tr_init(argc, argv));
	return cmocka_run_group_tests_name("delivery", tests, NULL, NULL);
}
