/* SPDX-License-Identifier: MIT */
/* Mailboxes and messages between real actor processes: order, bounds,
 * dead peers, bad input, selective receive, calls, monitors, links,
 * names, poll. */
#include "tr-test.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zmq.h>

#include "msg.h"
#include "supervisor.pb-c.h"
#include "troupe.pb-c.h"

/* Echo: replies to each request with its payload; "stop" ends it,
 * "crash" aborts, "sleep:N" sleeps N ms first, "stats" answers with its
 * drop counters, "max:N" sets its maximum payload size. */
static int
echo(const void *args, size_t len)
{
	TR_ASSERT_OK(tr_msg_type_register(&trwire__child_info__descriptor));
	for (;;) {
		tr_msg     *m, *rep;
		const char *d;
		size_t      n;
		char        buf[256];
		int         r = tr_recv(&m, 20000);

		if (r < 0) {
			return r;
		}
		d = tr_msg_data(m);
		n = tr_msg_size(m);
		if (n == 4 && memcmp(d, "stop", 4) == 0) {
			tr_msg_destroy(&m);
			return 0;
		}
		if (n == 5 && memcmp(d, "crash", 5) == 0) {
			abort();
		}
		if (n > 6 && memcmp(d, "sleep:", 6) == 0) {
			usleep((useconds_t) atoi(d + 6) * 1000);
		}
		if (n > 4 && memcmp(d, "max:", 4) == 0) {
			tr_mailbox_set_max_size((size_t) atoi(d + 4));
		}
		if (n == 5 && memcmp(d, "stats", 5) == 0) {
			tr_mailbox_stats st;

			tr_mailbox_stats_get(&st);
			n = (size_t) snprintf(buf, sizeof(buf),
			    "%" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64,
			    st.dropped_malformed, st.dropped_badtype,
			    st.dropped_toobig, st.dropped_stale);
			d = buf;
		}
		r = tr_msg_new_bytes(&rep, d, n);
		if (r == 0) {
			r = tr_reply(m, &rep, 5000);
		}
		tr_msg_destroy(&rep);
		tr_msg_destroy(&m);
		if (r < 0 && r != -ESRCH) {
			return r;
		}
	}
}
TR_ACTOR(echo, echo)

/* Sends N numbered messages "index seq" to the address in args. */
static int
sender(const void *args, size_t len)
{
	char    txt[128] = "";
	tr_addr to;
	int     index, count;

	memcpy(txt, args, len < 127 ? len : 127);
	if (sscanf(txt, "%d %d", &index, &count) != 2) {
		return 2;
	}
	if (tr_addr_parse(strrchr(txt, ' ') + 1, &to) < 0) {
		return 3;
	}
	for (uint32_t seq = 0; seq < (uint32_t) count; seq++) {
		uint32_t pl[2] = { (uint32_t) index, seq };

		if (tr_send_bytes(to, pl, sizeof(pl), 20000) < 0) {
			return 4;
		}
	}
	return 0;
}
TR_ACTOR(sender, sender)

/* Sleeps, then drains its mailbox: "sleep" the time in args. */
static int
slow_reader(const void *args, size_t len)
{
	tr_msg *m;
	int     n = 0;

	TR_ASSERT_OK(tr_self_bind());
	tr_ready();
	usleep((useconds_t) atoi(args) * 1000);
	while (tr_recv(&m, 500) == 0) {
		n++;
		tr_msg_destroy(&m);
	}
	return n > 250 ? 250 : n;
}
TR_ACTOR_FLAGS(slow_reader, slow_reader, TR_ACTOR_MANUAL_READY)

/* Links to the address in args, traps exits if args starts with 't',
 * then reports what happened through its exit code. */
static int
linker(const void *args, size_t len)
{
	char    txt[64] = "";
	tr_addr peer;
	tr_msg *m;
	tr_down d;

	memcpy(txt, args, len < 63 ? len : 63);
	if (tr_addr_parse(txt + 1, &peer) < 0) {
		return 2;
	}
	tr_trap_exit(txt[0] == 't');
	if (tr_link(peer) < 0) {
		return 3;
	}
	tr_ready();
	if (tr_recv(&m, 20000) < 0) {
		return 4;
	}
	if (tr_msg_down(m, &d) < 0 || !tr_addr_eq(d.who, peer)) {
		return 5;
	}
	tr_msg_destroy(&m);
	return d.exit_class == TR_EXIT_ABNORMAL ? 42 : 6;
}
TR_ACTOR_FLAGS(linker, linker, TR_ACTOR_MANUAL_READY)

/* Registers the name in args, then waits. */
static int
named(const void *args, size_t len)
{
	char name[64] = "";

	memcpy(name, args, len < 63 ? len : 63);
	if (tr_register(name) < 0) {
		return tr_fail(-EEXIST, "name taken");
	}
	tr_ready();
	pause();
	return 0;
}
TR_ACTOR_FLAGS(named, named, TR_ACTOR_MANUAL_READY)

/* Monitors its sibling (args) and exits with the DOWN's exit code+100. */
static int
sibling_watcher(const void *args, size_t len)
{
	char    txt[64] = "";
	tr_addr peer;
	tr_msg *m;
	tr_down d;

	memcpy(txt, args, len < 63 ? len : 63);
	if (tr_addr_parse(txt, &peer) < 0 || tr_monitor(peer, NULL) < 0) {
		return 2;
	}
	tr_ready();
	if (tr_recv(&m, 20000) < 0 || tr_msg_down(m, &d) < 0) {
		return 3;
	}
	tr_msg_destroy(&m);
	return d.exit_class == TR_EXIT_UNKNOWN ? 4 : 100 + d.exitcode;
}
TR_ACTOR_FLAGS(sibling_watcher, sibling_watcher, TR_ACTOR_MANUAL_READY)

static tr_process *
start(const char *actor, const char *args, tr_addr *ret)
{
	tr_process *p;

	TR_ASSERT_OK(tr_process_new(&p, actor, args, args ? strlen(args) : 0));
	TR_ASSERT_OK(tr_process_start(p, 10000));
	if (ret) {
		TR_ASSERT_OK(tr_process_addr(p, ret));
	}
	return p;
}

static void
call_text(tr_addr to, const char *text, char *out, size_t outlen)
{
	tr_msg *m, *rep;
	size_t  n;

	TR_ASSERT_OK(tr_msg_new_bytes(&m, text, strlen(text)));
	TR_ASSERT_OK(tr_call(to, &m, &rep, 10000));
	assert_null(m);
	n = tr_msg_size(rep) < outlen - 1 ? tr_msg_size(rep) : outlen - 1;
	memcpy(out, tr_msg_data(rep), n);
	out[n] = '\0';
	tr_msg_destroy(&rep);
}

static void
test_call_and_protobuf_payload(void **state)
{
	tr_addr           a;
	tr_process       *p = start("echo", NULL, &a);
	char              out[64];
	Trwire__ChildInfo ci = TRWIRE__CHILD_INFO__INIT, *back;
	ProtobufCMessage *pb;
	tr_msg           *m, *rep;

	call_text(a, "hello", out, sizeof(out));
	assert_string_equal(out, "hello");
	TR_ASSERT_OK(tr_msg_type_register(&trwire__child_info__descriptor));
	ci.id       = "worker-7";
	ci.restarts = 3;
	TR_ASSERT_OK(tr_msg_new_pb(&m, &ci.base));
	assert_string_equal(tr_msg_type(m), "trwire.ChildInfo");
	TR_ASSERT_OK(tr_call(a, &m, &rep, 5000));
	/* echo answers with the same bytes as a raw message */
	assert_string_equal(tr_msg_type(rep), "");
	TR_ASSERT_ERR(tr_msg_unpack(rep, &trwire__child_info__descriptor, &pb),
	    TR_EBADTYPE);
	back = trwire__child_info__unpack(
	    NULL, tr_msg_size(rep), tr_msg_data(rep));
	assert_non_null(back);
	assert_string_equal(back->id, "worker-7");
	assert_int_equal(back->restarts, 3);
	trwire__child_info__free_unpacked(back, NULL);
	tr_msg_destroy(&rep);
	TR_ASSERT_OK(tr_send_bytes(a, "stop", 4, 1000));
	assert_int_equal(tr_test_finish(&p), 0);
}

static void
test_ten_senders_in_order(void **state)
{
	enum { SENDERS = 10, COUNT = 100000 };
	tr_process *s[SENDERS];
	uint32_t    next[SENDERS] = { 0 };
	char        self[TR_ADDR_STRLEN], args[128];
	long        total = 0;

	tr_addr_format(tr_self(), self, sizeof(self));
	TR_ASSERT_OK(tr_self_bind());
	for (int i = 0; i < SENDERS; i++) {
		snprintf(args, sizeof(args), "%d %d %s", i, COUNT, self);
		s[i] = start("sender", args, NULL);
	}
	while (total < (long) SENDERS * COUNT) {
		tr_msg         *m;
		const uint32_t *pl;

		if (tr_recv(&m, 20000) < 0) {
			print_error("stalled after %ld messages\n", total);
			for (int i = 0; i < SENDERS; i++) {
				print_error("sender %d: next %u alive %d\n", i,
				    next[i], tr_process_is_alive(s[i]));
			}
			fail();
		}
		assert_int_equal(tr_msg_size(m), 8);
		pl = tr_msg_data(m);
		assert_true(pl[0] < SENDERS);
		assert_int_equal(pl[1], next[pl[0]]);
		next[pl[0]]++;
		total++;
		tr_msg_destroy(&m);
	}
	for (int i = 0; i < SENDERS; i++) {
		assert_int_equal(next[i], COUNT);
		assert_int_equal(tr_test_finish(&s[i]), 0);
	}
}

static void
test_full_mailbox_blocks_then_fails_and_loses_nothing(void **state)
{
	tr_process *p;
	tr_addr     a;
	int         sent     = 0, r, got;
	char        pl[1024] = { 0 };

	TR_ASSERT_OK(tr_mailbox_set_capacity(10));
	p = start("slow_reader", "3000", &a);
	for (;;) {
		r = tr_send_bytes(a, pl, sizeof(pl), 100);
		if (r < 0) {
			break;
		}
		sent++;
		assert_true(sent < 100000);
	}
	TR_ASSERT_ERR(r, TR_EFULL);
	assert_string_equal(tr_strerror(r), "recipient's mailbox is full");
	TR_ASSERT_OK(tr_mailbox_set_capacity(1000));
	/* the reader counts what it got (capped at 250 in its exit code) */
	got = tr_test_finish(&p);
	assert_int_equal(got, sent > 250 ? 250 : sent);
}

struct killer {
	pid_t pid;
	int   after_ms;
};

static void *
kill_later(void *arg)
{
	struct killer *k = arg;

	usleep((useconds_t) k->after_ms * 1000);
	(void) kill(k->pid, SIGKILL);
	return NULL;
}

/* A send waiting without a timeout on a full mailbox ends with -ESRCH
 * when the receiver is SIGKILLed meanwhile (it waits inside libzmq in
 * slices and looks at the receiver's liveness between them). */
static void
test_blocked_send_notices_receiver_death(void **state)
{
	struct killer k;
	tr_process   *p;
	pthread_t     t;
	tr_addr       a;
	char          pl[1024] = { 0 };
	int           r;

	TR_ASSERT_OK(tr_mailbox_set_capacity(10));
	p = start("slow_reader", "60000", &a);
	do {
		r = tr_send_bytes(a, pl, sizeof(pl), 100);
	} while (r == 0);
	TR_ASSERT_ERR(r, TR_EFULL);
	k = (struct killer) { tr_process_pid(p), 300 };
	assert_int_equal(pthread_create(&t, NULL, kill_later, &k), 0);
	r = tr_send_bytes(a, pl, sizeof(pl), TR_TIMEOUT_INFINITE);
	TR_ASSERT_ERR(r, -ESRCH);
	pthread_join(t, NULL);
	TR_ASSERT_OK(tr_mailbox_set_capacity(1000));
	TR_ASSERT_OK(tr_process_join(p, 5000));
	tr_process_destroy(&p);
}

static void
test_send_to_dead_actor_fails(void **state)
{
	tr_addr     a, never = { 0, 1, 1 };
	tr_process *p = start("echo", NULL, &a);

	TR_ASSERT_OK(tr_process_kill(p));
	TR_ASSERT_OK(tr_process_join(p, 5000));
	TR_ASSERT_ERR(tr_send_bytes(a, "x", 1, 1000), -ESRCH);
	TR_ASSERT_ERR(tr_send_bytes(never, "x", 1, 1000), -ESRCH);
	/* the killed actor's mailbox file is gone from the runtime dir */
	{
		char        path[PATH_MAX];
		struct stat st;

		snprintf(path, sizeof(path), "%s/%" PRIu32 ".%" PRIu64,
		    tr_runtime_dir(), a.pid, a.incarnation);
		assert_int_equal(stat(path, &st), -1);
	}
	tr_process_destroy(&p);
}

static void
raw_send(void *sock, const void *f1, size_t n1, const void *f2, size_t n2,
    int frames)
{
	if (frames == 1) {
		assert_true(zmq_send(sock, f1, n1, 0) >= 0);
		return;
	}
	assert_true(zmq_send(sock, f1, n1, ZMQ_SNDMORE) >= 0);
	assert_true(zmq_send(sock, f2, n2, frames > 2 ? ZMQ_SNDMORE : 0) >= 0);
	if (frames > 2) {
		assert_true(zmq_send(sock, "x", 1, 0) >= 0);
	}
}

static void
test_bad_input_is_dropped_counted_and_survived(void **state)
{
	tr_addr        a;
	tr_process    *p   = start("echo", NULL, &a);
	void          *ctx = zmq_ctx_new(), *sock = zmq_socket(ctx, ZMQ_PUSH);
	char           ep[PATH_MAX + 8], out[128];
	uint8_t        env[TRI_ENV_MAX], big[4096] = { 0 };
	struct tri_env e;
	int            n, zero = 0;
	unsigned long  malformed, badtype, toobig, stale;

	call_text(a, "max:1000", out, sizeof(out));
	snprintf(ep, sizeof(ep), "ipc://%s/%" PRIu32 ".%" PRIu64,
	    tr_runtime_dir(), a.pid, a.incarnation);
	zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof(zero));
	assert_int_equal(zmq_connect(sock, ep), 0);
	memset(&e, 0, sizeof(e));
	e.sender    = (tr_addr) { 0, 1, 1 };
	e.recipient = a;
	n           = tri_env_encode(&e, env, sizeof(env));
	raw_send(sock, "garbage", 7, NULL, 0, 1);             /* one frame */
	raw_send(sock, "\xff\xff\xff", 3, "x", 1, 2);         /* bad envelope */
	raw_send(sock, env, (size_t) n - 3, "x", 1, 2);       /* truncated */
	raw_send(sock, env, (size_t) n, "x", 1, 3);           /* three frames */
	raw_send(sock, env, (size_t) n, big, sizeof(big), 2); /* too big */
	strcpy(e.type, "no.such.Type");
	n = tri_env_encode(&e, env, sizeof(env));
	raw_send(sock, env, (size_t) n, "x", 1, 2); /* bad type */
	strcpy(e.type, "");
	e.recipient.incarnation++;
	n = tri_env_encode(&e, env, sizeof(env));
	raw_send(sock, env, (size_t) n, "x", 1, 2); /* stale */
	/* the actor keeps serving, and counted every drop */
	call_text(a, "still there?", out, sizeof(out));
	assert_string_equal(out, "still there?");
	/* the raw socket is another connection: its frames may trail ours */
	for (int i = 0; i < TR_TEST_HANG_MS / 10; i++) {
		call_text(a, "stats", out, sizeof(out));
		assert_int_equal(sscanf(out, "%lu %lu %lu %lu", &malformed,
		                     &badtype, &toobig, &stale),
		    4);
		if (malformed + badtype + toobig + stale >= 7) {
			break;
		}
		usleep(10000);
	}
	assert_int_equal(malformed, 4);
	assert_int_equal(badtype, 1);
	assert_int_equal(toobig, 1);
	assert_int_equal(stale, 1);
	zmq_close(sock);
	zmq_ctx_term(ctx);
	TR_ASSERT_OK(tr_send_bytes(a, "stop", 4, 1000));
	assert_int_equal(tr_test_finish(&p), 0);
}

static bool
starts_with_c(const tr_msg *m, void *arg)
{
	return tr_msg_size(m) > 0 &&
	    *(const char *) tr_msg_data(m) == *(char *) arg;
}

static void
test_selective_receive_keeps_order(void **state)
{
	tr_addr self = tr_self();
	tr_msg *m;
	char    c = 'C';

	TR_ASSERT_OK(tr_send_bytes(self, "A1", 2, 1000));
	TR_ASSERT_OK(tr_send_bytes(self, "B", 1, 1000));
	TR_ASSERT_OK(tr_send_bytes(self, "A2", 2, 1000));
	TR_ASSERT_OK(tr_send_bytes(self, "C", 1, 1000));
	TR_ASSERT_OK(tr_recv_match(&m, starts_with_c, &c, TR_TEST_HANG_MS));
	assert_memory_equal(tr_msg_data(m), "C", 1);
	assert_true(tr_addr_eq(tr_msg_sender(m), self));
	tr_msg_destroy(&m);
	c = 'Z';
	TR_ASSERT_ERR(tr_recv_match(&m, starts_with_c, &c, 0), -EAGAIN);
	TR_ASSERT_ERR(tr_recv_match(&m, starts_with_c, &c, 50), -ETIMEDOUT);
	for (const char *want[] = { "A1", "B", "A2" }, **w = want; w < want + 3;
	     w++) {
		TR_ASSERT_OK(tr_recv(&m, TR_TEST_HANG_MS));
		assert_int_equal(tr_msg_size(m), strlen(*w));
		assert_memory_equal(tr_msg_data(m), *w, strlen(*w));
		tr_msg_destroy(&m);
	}
	TR_ASSERT_ERR(tr_recv(&m, 0), -EAGAIN);
}

static void
test_late_reply_never_reaches_next_call(void **state)
{
	tr_addr          a;
	tr_process      *p = start("echo", NULL, &a);
	tr_msg          *m, *rep;
	char             out[64];
	tr_mailbox_stats st;

	TR_ASSERT_OK(tr_msg_new_bytes(&m, "sleep:300", 9));
	TR_ASSERT_ERR(tr_call(a, &m, &rep, 50), -ETIMEDOUT);
	call_text(a, "second", out, sizeof(out));
	assert_string_equal(out, "second");
	TR_ASSERT_OK(tr_mailbox_stats_get(&st));
	assert_int_equal(st.dropped_late_reply, 1);
	if (tr_recv(&m, 0) == 0) {
		print_error(
		    "unexpected message type '%s' size %zu flags sys %d\n",
		    tr_msg_type(m), tr_msg_size(m), tr_msg_is_system(m));
		fail();
	}
	TR_ASSERT_OK(tr_send_bytes(a, "stop", 4, 1000));
	assert_int_equal(tr_test_finish(&p), 0);
}

static void
test_call_to_dying_actor_returns_dead(void **state)
{
	tr_addr     a;
	tr_process *p = start("echo", NULL, &a);
	tr_msg     *m, *rep = NULL;

	TR_ASSERT_OK(tr_msg_new_bytes(&m, "crash", 5));
	/* TR_EDEAD, not -ETIMEDOUT: the call ended because the callee died */
	TR_ASSERT_ERR(tr_call(a, &m, &rep, TR_TEST_HANG_MS), TR_EDEAD);
	assert_null(rep);
	assert_int_equal(tr_test_finish(&p), -SIGABRT);
}

static void
test_monitor_reports_down_with_reason(void **state)
{
	tr_addr     a;
	tr_process *p = start("echo", NULL, &a);
	uint64_t    ref, ref2;
	tr_msg     *m;
	tr_down     d;

	TR_ASSERT_OK(tr_monitor(a, &ref));
	TR_ASSERT_OK(tr_monitor(a, &ref2));
	TR_ASSERT_OK(tr_demonitor(ref2));
	TR_ASSERT_OK(tr_process_kill(p));
	TR_ASSERT_OK(tr_recv(&m, 5000));
	assert_true(tr_msg_is_system(m));
	assert_string_equal(tr_msg_type(m), "trwire.Down");
	TR_ASSERT_OK(tr_msg_down(m, &d));
	assert_int_equal(d.ref, ref);
	assert_true(tr_addr_eq(d.who, a));
	assert_int_equal(d.exitcode, -SIGKILL);
	assert_int_equal(d.exit_class, TR_EXIT_ABNORMAL);
	tr_msg_destroy(&m);
	TR_ASSERT_ERR(tr_recv(&m, 100), -ETIMEDOUT); /* demonitored: none */
	assert_int_equal(tr_test_finish(&p), -SIGKILL);
	/* monitoring the dead gives DOWN at once */
	TR_ASSERT_OK(tr_monitor(a, &ref));
	TR_ASSERT_OK(tr_recv(&m, 0));
	TR_ASSERT_OK(tr_msg_down(m, &d));
	assert_int_equal(d.exit_class, TR_EXIT_NOPROC);
	tr_msg_destroy(&m);
	/* a queued DOWN goes with demonitor too */
	TR_ASSERT_OK(tr_monitor(a, &ref));
	TR_ASSERT_OK(tr_demonitor(ref));
	TR_ASSERT_ERR(tr_recv(&m, 0), -EAGAIN);
	TR_ASSERT_ERR(tr_demonitor(ref), TR_ENOTFOUND);
}

static void
test_normal_exit_down_and_sibling_monitor(void **state)
{
	tr_addr     a, w;
	tr_process *p = start("echo", NULL, &a), *watcher;
	char        txt[TR_ADDR_STRLEN];
	uint64_t    ref;
	tr_msg     *m;
	tr_down     d;

	/* a sibling (not the parent) learns the exit code too */
	tr_addr_format(a, txt, sizeof(txt));
	watcher = start("sibling_watcher", txt, &w);
	TR_ASSERT_OK(tr_monitor(a, &ref));
	TR_ASSERT_OK(tr_send_bytes(a, "stop", 4, 1000));
	TR_ASSERT_OK(tr_recv(&m, 5000));
	TR_ASSERT_OK(tr_msg_down(m, &d));
	assert_int_equal(d.exitcode, 0);
	assert_int_equal(d.exit_class, TR_EXIT_NORMAL);
	tr_msg_destroy(&m);
	assert_int_equal(tr_test_finish(&p), 0);
	assert_int_equal(tr_test_finish(&watcher), 100);
}

static void
test_links(void **state)
{
	tr_addr     a;
	tr_process *p, *l;
	char        arg[64];

	/* trapping: the linker gets an EXIT message */
	p      = start("echo", NULL, &a);
	arg[0] = 't';
	tr_addr_format(a, arg + 1, sizeof(arg) - 1);
	l = start("linker", arg, NULL);
	TR_ASSERT_OK(tr_send_bytes(a, "crash", 5, 1000));
	assert_int_equal(tr_test_finish(&l), 42);
	assert_int_equal(tr_test_finish(&p), -SIGABRT);
	/* not trapping: the linked actor dies with its peer, both ways */
	p      = start("echo", NULL, &a);
	arg[0] = 'n';
	tr_addr_format(a, arg + 1, sizeof(arg) - 1);
	l = start("linker", arg, NULL);
	TR_ASSERT_OK(tr_send_bytes(a, "crash", 5, 1000));
	assert_int_equal(tr_test_finish(&l), 1);
	assert_int_equal(tr_test_finish(&p), -SIGABRT);
}

static void
test_names_are_freed_when_holder_dies(void **state)
{
	tr_process *p = start("named", "registry", NULL), *q;
	tr_addr     a, b;

	TR_ASSERT_OK(tr_whereis("registry", &a));
	assert_int_equal(a.pid, (uint32_t) tr_process_pid(p));
	TR_ASSERT_OK(tr_process_new(&q, "named", "registry", 8));
	TR_ASSERT_ERR(tr_process_start(q, 5000), TR_ESTARTFAIL);
	tr_process_destroy(&q);
	TR_ASSERT_ERR(tr_register("registry"), TR_EEXISTS);
	TR_ASSERT_ERR(tr_register("bad/name"), -EINVAL);
	TR_ASSERT_OK(tr_process_kill(p));
	assert_int_equal(tr_test_finish(&p), -SIGKILL);
	TR_ASSERT_ERR(tr_whereis("registry", &b), TR_ENOTFOUND);
	TR_ASSERT_OK(tr_register("registry"));
	TR_ASSERT_OK(tr_whereis("registry", &b));
	assert_true(tr_addr_eq(b, tr_self()));
	TR_ASSERT_OK(tr_unregister("registry"));
	TR_ASSERT_ERR(tr_whereis("registry", &b), TR_ENOTFOUND);
}

static void
test_poll_mailbox_with_fds(void **state)
{
	int           fds[2];
	struct pollfd pfd;
	bool          mbx;
	tr_msg       *m;

	assert_int_equal(pipe(fds), 0);
	pfd = (struct pollfd) { .fd = fds[0], .events = POLLIN };
	assert_int_equal(tr_poll(&pfd, 1, &mbx, 50), 0);
	assert_int_equal(write(fds[1], "x", 1), 1);
	assert_int_equal(tr_poll(&pfd, 1, &mbx, TR_TEST_HANG_MS), 1);
	assert_false(mbx);
	assert_true(pfd.revents & POLLIN);
	TR_ASSERT_OK(tr_send_bytes(tr_self(), "m", 1, 1000));
	assert_int_equal(tr_poll(NULL, 0, &mbx, TR_TEST_HANG_MS), 1);
	assert_true(mbx);
	assert_int_equal(tr_poll(&pfd, 1, &mbx, TR_TEST_HANG_MS), 2);
	assert_true(mbx);
	TR_ASSERT_OK(tr_recv(&m, 0));
	tr_msg_destroy(&m);
	close(fds[0]);
	close(fds[1]);
}

static void
test_runtime_dir_is_private(void **state)
{
	struct stat st;

	assert_int_equal(stat(tr_runtime_dir(), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_runtime_dir_is_private),
		cmocka_unit_test(test_call_and_protobuf_payload),
		cmocka_unit_test(test_selective_receive_keeps_order),
		cmocka_unit_test(test_poll_mailbox_with_fds),
		cmocka_unit_test(test_send_to_dead_actor_fails),
		cmocka_unit_test(
		    test_bad_input_is_dropped_counted_and_survived),
		cmocka_unit_test(test_late_reply_never_reaches_next_call),
		cmocka_unit_test(test_call_to_dying_actor_returns_dead),
		cmocka_unit_test(test_monitor_reports_down_with_reason),
		cmocka_unit_test(test_normal_exit_down_and_sibling_monitor),
		cmocka_unit_test(test_links),
		cmocka_unit_test(test_names_are_freed_when_holder_dies),
		cmocka_unit_test(
		    test_full_mailbox_blocks_then_fails_and_loses_nothing),
		cmocka_unit_test(test_ten_senders_in_order),
		cmocka_unit_test(test_blocked_send_notices_receiver_death),
	};

	if (tr_init(argc, argv) < 0) {
		return 99;
	}
	if (getenv("TR_TEST_FILTER")) {
		cmocka_set_test_filter(getenv("TR_TEST_FILTER"));
	}
	return cmocka_run_group_tests_name("msg", tests, NULL, NULL);
}
