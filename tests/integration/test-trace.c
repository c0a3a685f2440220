/* SPDX-License-Identifier: MIT */
/* Tracing (issue 12): events for each kind of runtime action, a ping-pong
 * traced end to end with exact counts under each start method, the trace
 * context carried across hops, drops counted when nobody reads, the rate
 * trip, the lease, attach with the tool, `why` on a three-hop chain, the
 * export formats checked by parsers, and the trace file's errors. */
#include "tr-test-sup.h"
#include "tr-test.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "trace.h"

#ifdef __SANITIZE_ADDRESS__
#define FORK TR_START_FORKSERVER
#else
#define FORK TR_START_FORK
#endif

static const int methods[] = { FORK, TR_START_SPAWN, TR_START_FORKSERVER };

/* ---- actors ---------------------------------------------------------------
 * "ponger": "ping" -> "pong" to the sender; "flood N": N messages "f" to
 * the sender; "hop A B ...": "hop B ..." to A ("hop" alone is not
 * forwarded); "nap MS": sleeps; "exit N": returns N; "stop": returns 0;
 * anything else is ignored. */
static int
ponger(const void *args, size_t len)
{
	for (;;) {
		tr_msg *m;
		char    txt[512] = "";
		size_t  n;
		int     r = tr_recv(&m, 20000);
		tr_addr from;

		if (r < 0) {
			return r;
		}
		n = tr_msg_size(m) < 511 ? tr_msg_size(m) : 511;
		memcpy(txt, tr_msg_data(m), n);
		from = tr_msg_sender(m);
		tr_msg_destroy(&m);
		if (strcmp(txt, "stop") == 0) {
			return 0;
		}
		if (strncmp(txt, "exit ", 5) == 0) {
			return atoi(txt + 5);
		}
		if (strncmp(txt, "nap ", 4) == 0) {
			usleep((useconds_t) atoi(txt + 4) * 1000);
		}
		if (strcmp(txt, "ping") == 0) {
			r = tr_send_bytes(from, "pong", 4, 5000);
		} else if (strncmp(txt, "flood ", 6) == 0) {
			for (int i = atoi(txt + 6); i > 0 && r == 0; i--) {
				r = tr_send_bytes(from, "f", 1, 5000);
			}
		} else if (strncmp(txt, "hop ", 4) == 0) {
			char   *sp = strchr(txt + 4, ' ');
			char    next[520];
			tr_addr to;

			if (sp) {
				*sp = '\0';
			}
			if (tr_addr_parse(txt + 4, &to) == 0) {
				snprintf(next, sizeof(next), "hop%s%s",
				    sp ? " " : "", sp ? sp + 1 : "");
				r = tr_send_bytes(to, next, strlen(next), 5000);
			}
		}
		if (r < 0) {
			return 10;
		}
	}
}
TR_ACTOR(ponger, ponger)

/* ---- helpers --------------------------------------------------------------
 */

#define MAXEV 20000
static tr_trace_event evs[MAXEV];
static size_t         nev;

static void
collect(const tr_trace_event *ev, void *arg)
{
	(void) arg;
	if (nev < MAXEV) {
		evs[nev++] = *ev;
	}
}

static tr_trace_session *
session(unsigned slots, unsigned rate_n, int rate_ms, int lease_ms)
{
	tr_trace_session *s;
	tr_trace_opts     o = { .rate_n = rate_n,
		    .rate_ms            = rate_ms,
		    .duration_ms        = -1,
		    .lease_ms           = lease_ms,
		    .ring_slots         = slots };

	nev = 0;
	TR_ASSERT_OK(tr_trace_session_open(&s, tr_runtime_dir(), &o));
	return s;
}

static tr_process *
start(int method, tr_addr *ret)
{
	tr_process *p;

	TR_ASSERT_OK(tr_process_new(&p, "ponger", NULL, 0));
	TR_ASSERT_OK(tr_process_set_start_method(p, method));
	TR_ASSERT_OK(tr_process_set_eager_mailbox(p, true));
	TR_ASSERT_OK(tr_process_start(p, 10000));
	TR_ASSERT_OK(tr_process_addr(p, ret));
	return p;
}

static void
say(tr_addr to, const char *txt)
{
	TR_ASSERT_OK(tr_send_bytes(to, txt, strlen(txt), 5000));
}

static void
expect(const char *txt)
{
	tr_msg *m;

	TR_ASSERT_OK(tr_recv(&m, TR_TEST_HANG_MS));
	assert_int_equal(tr_msg_size(m), strlen(txt));
	assert_memory_equal(tr_msg_data(m), txt, strlen(txt));
	tr_msg_destroy(&m);
}

/* Events of kind recorded by pid (0: any). */
static size_t
count(uint32_t kind, uint32_t pid)
{
	size_t n = 0;

	for (size_t i = 0; i < nev; i++) {
		n += evs[i].kind == kind && (!pid || evs[i].self.pid == pid);
	}
	return n;
}

static const tr_trace_event *
find(uint32_t kind, uint32_t pid, size_t nth)
{
	for (size_t i = 0; i < nev; i++) {
		if (evs[i].kind == kind && (!pid || evs[i].self.pid == pid) &&
		    nth-- == 0) {
			return &evs[i];
		}
	}
	return NULL;
}

static const tr_trace_event *
find_span(uint32_t kind, uint64_t span)
{
	for (size_t i = 0; i < nev; i++) {
		if (evs[i].kind == kind && evs[i].span_id == span) {
			return &evs[i];
		}
	}
	return NULL;
}

static void
poll_all(tr_trace_session *s)
{
	assert_true(tr_trace_session_poll(s, collect, NULL) >= 0);
}

static uint32_t
me(void)
{
	return (uint32_t) getpid();
}

static int
run_tool(const char *args, char *out, size_t n)
{
	char   cmd[8192];
	FILE  *f;
	size_t got;
	int    st;

	snprintf(cmd, sizeof(cmd), "'%s' %s 2>&1",
	    tr_test_build_path("tools/troupe"), args);
	f = popen(cmd, "r");
	assert_non_null(f);
	got      = fread(out, 1, n - 1, f);
	out[got] = '\0';
	st       = pclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char tmpdir[64];

static const char *
tmp(const char *name)
{
	static char path[16][256];
	static int  k;

	k = (k + 1) % 16;
	snprintf(path[k], sizeof(path[k]), "%s/%s", tmpdir, name);
	return path[k];
}

static void
save(const char *path)
{
	tr_trace_file *f;

	TR_ASSERT_OK(tr_trace_file_open(&f, path, true));
	for (size_t i = 0; i < nev; i++) {
		TR_ASSERT_OK(tr_trace_file_write(f, &evs[i]));
	}
	TR_ASSERT_OK(tr_trace_file_close(&f));
}

/* ---- ping-pong ------------------------------------------------------------
 */

#define PINGS 20

static void
pingpong_under(int method)
{
	tr_trace_session *s = session(0, UINT32_MAX, 0, -1);
	tr_process       *p;
	tr_addr           a;
	uint32_t          c;

	p = start(method, &a);
	c = a.pid;
	for (int i = 0; i < PINGS; i++) {
		say(a, "ping");
		expect("pong");
	}
	say(a, "stop");
	assert_int_equal(tr_test_finish(&p), 0);
	poll_all(s);
	/* main: PINGS + stop sent, PINGS pongs received and handled (the
	 * last one's handling ends at the next tr_recv) */
	assert_int_equal(count(TR_TRACE_SPAWN, me()), 1);
	assert_int_equal(find(TR_TRACE_SPAWN, me(), 0)->peer.pid, c);
	assert_int_equal(count(TR_TRACE_SEND, me()), PINGS + 1);
	assert_int_equal(count(TR_TRACE_RECEIVE, me()), PINGS);
	assert_int_equal(count(TR_TRACE_HANDLE_BEGIN, me()), PINGS);
	assert_int_equal(count(TR_TRACE_HANDLE_END, me()), PINGS - 1);
	/* the child: every message received and handled, PINGS sent */
	assert_int_equal(count(TR_TRACE_RECEIVE, c), PINGS + 1);
	assert_int_equal(count(TR_TRACE_HANDLE_BEGIN, c), PINGS + 1);
	assert_int_equal(count(TR_TRACE_HANDLE_END, c), PINGS + 1);
	assert_int_equal(count(TR_TRACE_SEND, c), PINGS);
	assert_int_equal(count(TR_TRACE_EXIT, c), 1);
	assert_int_equal(count(TR_TRACE_DROPPED, 0), 0);
	/* one conversation, one trace: each pong's parent is its ping, and
	 * each ping after the first is sent while main handles the pong
	 * before it, so that pong is its parent */
	for (size_t i = 0; i < PINGS; i++) {
		const tr_trace_event *ping = find(TR_TRACE_SEND, me(), i);
		const tr_trace_event *pong = find(TR_TRACE_SEND, c, i);

		assert_int_equal(pong->parent_span, ping->span_id);
		assert_int_equal(ping->parent_span,
		    i ? find(TR_TRACE_SEND, c, i - 1)->span_id : 0);
		assert_memory_equal(ping->trace_id, pong->trace_id, 16);
		assert_memory_equal(
		    ping->trace_id, find(TR_TRACE_SEND, me(), 0)->trace_id, 16);
		assert_non_null(find_span(TR_TRACE_RECEIVE, pong->span_id));
		assert_non_null(find_span(TR_TRACE_HANDLE_END, ping->span_id));
		assert_true(pong->lamport > ping->lamport);
	}
	if (method == TR_START_FORKSERVER) {
		save(tmp("pingpong.trc"));
	}
	tr_trace_session_close(&s);
}

static void
test_pingpong_traced_end_to_end(void **state)
{
	for (size_t i = 0; i < 3; i++) {
		pingpong_under(methods[i]);
	}
}

/* ---- each kind ------------------------------------------------------------
 */

static void
test_events_for_each_kind(void **state)
{
	tr_trace_session *s = session(0, UINT32_MAX, 0, -1);
	tr_process       *p;
	tr_addr           a;
	tr_msg           *m;
	tr_down           d;
	uint64_t          ref;

	p = start(FORK, &a);
	TR_ASSERT_OK(tr_monitor(a, &ref));
	tr_trap_exit(true);
	TR_ASSERT_OK(tr_link(a));
	/* an unregistered payload type: a dead letter at the child */
	TR_ASSERT_OK(tr_msg_new_bytes(&m, "x", 1));
	TR_ASSERT_OK(tr_msg_set_type(m, "test.Unregistered"));
	TR_ASSERT_OK(tr_send(a, &m, 5000));
	TR_ASSERT_OK(tr_trace_mark(TR_TRACE_MARK, a, 7, "checkpoint"));
	assert_int_equal(tr_trace_mark(TR_TRACE_SEND, a, 0, NULL), -EINVAL);
	say(a, "exit 3");
	/* the DOWN and the EXIT (trapped) arrive as messages */
	for (int got = 0; got < 2;) {
		TR_ASSERT_OK(tr_recv(&m, TR_TEST_HANG_MS));
		got += tr_msg_is_system(m);
		if (tr_msg_down(m, &d) == 0) {
			assert_int_equal(d.exitcode, 3);
		}
		tr_msg_destroy(&m);
	}
	tr_trap_exit(false);
	assert_int_equal(tr_test_finish(&p), 3);
	poll_all(s);
	assert_int_equal(count(TR_TRACE_SPAWN, me()), 1);
	assert_int_equal(count(TR_TRACE_MONITOR, me()), 1);
	assert_int_equal(count(TR_TRACE_LINK, me()), 1);
	assert_int_equal(count(TR_TRACE_DEAD_LETTER, a.pid), 1);
	assert_string_equal(find(TR_TRACE_DEAD_LETTER, a.pid, 0)->what,
	    "unregistered payload type");
	assert_int_equal(count(TR_TRACE_EXIT, a.pid), 1);
	assert_int_equal(find(TR_TRACE_EXIT, a.pid, 0)->value, 3);
	assert_true(count(TR_TRACE_DOWN, me()) >= 1);
	assert_int_equal(find(TR_TRACE_DOWN, me(), 0)->value, 3);
	assert_int_equal(find(TR_TRACE_DOWN, me(), 0)->peer.pid, a.pid);
	assert_int_equal(count(TR_TRACE_MARK, me()), 1);
	assert_int_equal(find(TR_TRACE_MARK, me(), 0)->value, 7);
	assert_string_equal(find(TR_TRACE_MARK, me(), 0)->what, "checkpoint");
	tr_trace_session_close(&s);
}

static void
test_restart_recorded_by_supervisor(void **state)
{
	tr_trace_session     *s = session(0, UINT32_MAX, 0, -1);
	tr_child_spec         cs;
	tr_supervisor        *sup;
	char                  marker[128];
	const tr_trace_event *e;

	snprintf(marker, sizeof(marker), "%s/once", tr_test_sup_dir);
	cs      = tr_test_sup_child("once", "fail_once", TR_RESTART_TRANSIENT);
	cs.args = marker;
	cs.len  = strlen(marker);
	sup     = tr_test_sup_start(TR_SUP_ONE_FOR_ONE, 5, &cs, 1);
	tr_test_sup_wait_new_pid(sup, "once", 0, 5000);
	TR_ASSERT_OK(tr_supervisor_stop(sup, 10000));
	poll_all(s);
	e = find(TR_TRACE_RESTART, (uint32_t) tr_supervisor_pid(sup), 0);
	assert_non_null(e);
	assert_string_equal(e->what, "once");
	assert_int_equal(e->value, 1);
	tr_test_sup_untrack(&sup);
	tr_trace_session_close(&s);
}

/* A send that waits on a full mailbox: message events filtered out by
 * type, so that only the life events (blocked among them) are kept. */
static void
test_blocked_send_recorded(void **state)
{
	tr_trace_session *s;
	tr_trace_opts     o = { .rate_n = UINT32_MAX,
		    .duration_ms        = -1,
		    .lease_ms           = -1,
		    .types              = "no.such.type" };
	tr_process       *p;
	tr_addr           a;
	int               sent = 0;

	nev = 0;
	TR_ASSERT_OK(tr_trace_session_open(&s, tr_runtime_dir(), &o));
	p = start(FORK, &a);
	say(a, "nap 300");
	/* far more than the mailbox and the socket's high-water marks hold */
	for (; sent < 20000; sent++) {
		TR_ASSERT_OK(tr_send_bytes(a, "x", 1, TR_TEST_HANG_MS));
	}
	say(a, "stop");
	assert_int_equal(tr_test_finish(&p), 0);
	poll_all(s);
	assert_true(count(TR_TRACE_BLOCKED, me()) >= 1);
	assert_int_equal(find(TR_TRACE_BLOCKED, me(), 0)->peer.pid, a.pid);
	assert_int_equal(count(TR_TRACE_SEND, 0), 0);
	assert_int_equal(count(TR_TRACE_EXIT, a.pid), 1);
	tr_trace_session_close(&s);
}

/* ---- limits ---------------------------------------------------------------
 */

#define FLOOD 500

static void
test_drops_counted_when_reader_stopped(void **state)
{
	tr_trace_session *s = session(64, UINT32_MAX, 0, -1);
	tr_process       *p;
	tr_addr           a;
	uint64_t          got = 0, dropped = 0;

	p = start(FORK, &a);
	say(a, "flood 500");
	/* nobody reads the rings meanwhile */
	for (int i = 0; i < FLOOD; i++) {
		expect("f");
	}
	say(a, "stop");
	assert_int_equal(tr_test_finish(&p), 0);
	poll_all(s);
	for (size_t i = 0; i < nev; i++) {
		if (evs[i].self.pid != a.pid) {
			continue;
		}
		if (evs[i].kind == TR_TRACE_DROPPED) {
			dropped += (uint64_t) evs[i].value;
		} else {
			got++;
		}
	}
	/* flood and stop: each received, begun, ended; FLOOD sends; exit */
	assert_true(dropped > 0);
	assert_int_equal(got, 64);
	assert_int_equal(got + dropped, 2 * 3 + FLOOD + 1);
	tr_trace_session_close(&s);
}

static void
test_rate_trip_switches_that_process_off(void **state)
{
	tr_trace_session     *s = session(0, 50, 60000, -1);
	tr_process           *p;
	tr_addr               a;
	const tr_trace_event *e;

	p = start(FORK, &a);
	say(a, "flood 200");
	for (int i = 0; i < 200; i++) {
		expect("f");
	}
	say(a, "stop");
	assert_int_equal(tr_test_finish(&p), 0);
	poll_all(s);
	e = find(TR_TRACE_RATE_TRIPPED, a.pid, 0);
	assert_non_null(e);
	assert_int_equal(e->value, 50);
	assert_int_equal(count(TR_TRACE_RATE_TRIPPED, a.pid), 1);
	/* 2 events for the flood request, then 48 sends, then nothing */
	assert_int_equal(count(TR_TRACE_SEND, a.pid), 48);
	assert_int_equal(count(TR_TRACE_EXIT, a.pid), 0);
	/* the rest of the run traces on */
	assert_true(tr_trace_session_active(s));
	tr_trace_session_close(&s);
}

/* 1 root in 4 is sampled; an actor filter keeps the other processes
 * quiet; the event limit and the duration switch tracing off. */
static void
test_sampling_filters_limit_duration(void **state)
{
	tr_trace_session *s;
	tr_trace_opts     o = { .rate_n = UINT32_MAX,
		    .duration_ms        = -1,
		    .lease_ms           = -1,
		    .sample             = 4,
		    .actors             = "MainProcess" };
	tr_process       *p;
	tr_addr           a;

	nev = 0;
	TR_ASSERT_OK(tr_trace_session_open(&s, tr_runtime_dir(), &o));
	p = start(FORK, &a);
	/* 40 roots: main handles nothing in between */
	for (int i = 0; i < 40; i++) {
		say(a, "x");
	}
	say(a, "stop");
	assert_int_equal(tr_test_finish(&p), 0);
	poll_all(s);
	tr_trace_session_close(&s);
	/* roots 0, 4, .. 40 (the stop is the 41st) */
	assert_int_equal(count(TR_TRACE_SEND, me()), 11);
	assert_int_equal(count(TR_TRACE_SPAWN, me()), 1);
	/* the child is filtered out: nothing from it, not even its exit */
	for (size_t i = 0; i < nev; i++) {
		assert_int_equal(evs[i].self.pid, me());
	}

	/* the limit: the 6th event switches tracing off for the run */
	memset(&o, 0, sizeof(o));
	o.rate_n      = UINT32_MAX;
	o.duration_ms = -1;
	o.lease_ms    = -1;
	o.limit       = 5;
	nev           = 0;
	TR_ASSERT_OK(tr_trace_session_open(&s, tr_runtime_dir(), &o));
	for (int i = 0; i < 10; i++) {
		TR_ASSERT_OK(tr_trace_mark(TR_TRACE_MARK, tr_self(), i, NULL));
	}
	assert_false(tr_trace_session_active(s));
	poll_all(s);
	assert_int_equal(count(TR_TRACE_MARK, me()), 5);
	tr_trace_session_close(&s);

	/* the duration */
	o.limit       = 0;
	o.duration_ms = 100;
	nev           = 0;
	TR_ASSERT_OK(tr_trace_session_open(&s, tr_runtime_dir(), &o));
	TR_ASSERT_OK(tr_trace_mark(TR_TRACE_MARK, tr_self(), 1, NULL));
	usleep(200 * 1000);
	TR_ASSERT_OK(tr_trace_mark(TR_TRACE_MARK, tr_self(), 2, NULL));
	assert_false(tr_trace_session_active(s));
	poll_all(s);
	assert_int_equal(count(TR_TRACE_MARK, me()), 1);
	tr_trace_session_close(&s);
}

/* ---- the tool: attach, lease ----------------------------------------------
 */

static pid_t
tool(const char *extra, const char *out)
{
	char  opts[256];
	pid_t pid;

	snprintf(opts, sizeof(opts), "%s", extra);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char *argv[16];
		int   k = 0;

		argv[k++] = (char *) tr_test_build_path("tools/troupe");
		argv[k++] = "trace";
		argv[k++] = "record";
		for (char *t = strtok(opts, " "); t; t = strtok(NULL, " ")) {
			argv[k++] = t;
		}
		argv[k++] = "-o";
		argv[k++] = (char *) out;
		argv[k++] = (char *) tr_runtime_dir();
		argv[k]   = NULL;
		execv(argv[0], argv);
		_exit(127);
	}
	/* tracing is on once the tool has configured the control page */
	for (int i = 0; i < TR_TEST_HANG_MS / 10; i++) {
		if (atomic_load(&tri_trace_ctl->collector) == pid &&
		    tri_trace_on()) {
			return pid;
		}
		usleep(10000);
	}
	fail_msg("the tool did not switch tracing on");
	return -1;
}

static size_t
load(const char *path)
{
	tr_trace_file *f;
	int            r = 1;

	nev = 0;
	TR_ASSERT_OK(tr_trace_file_open(&f, path, false));
	while (nev < MAXEV && (r = tr_trace_file_read(f, &evs[nev])) == 1) {
		nev++;
	}
	assert_int_equal(r, 0);
	assert_false(tr_trace_file_truncated(f));
	TR_ASSERT_OK(tr_trace_file_close(&f));
	return nev;
}

static void
test_attach_with_the_tool(void **state)
{
	const char *out = tmp("attach.trc");
	tr_process *p;
	tr_addr     a;
	pid_t       t;
	int         st;

	p = start(TR_START_SPAWN, &a);
	t = tool("--rate 0 --duration -1", out);
	for (int i = 0; i < 5; i++) {
		say(a, "ping");
		expect("pong");
	}
	say(a, "stop");
	assert_int_equal(tr_test_finish(&p), 0);
	assert_int_equal(kill(t, SIGINT), 0);
	assert_int_equal(waitpid(t, &st, 0), t);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_false(tri_trace_on());
	load(out);
	assert_int_equal(count(TR_TRACE_SEND, me()), 6);
	assert_int_equal(count(TR_TRACE_SEND, a.pid), 5);
	assert_int_equal(count(TR_TRACE_RECEIVE, a.pid), 6);
	assert_int_equal(count(TR_TRACE_EXIT, a.pid), 1);
}

static void
test_lease_expires_when_the_tool_dies(void **state)
{
	tr_trace_session *s;
	pid_t             t = tool("--lease 300 --duration -1", tmp("l.trc"));

	assert_true(tri_trace_on());
	assert_int_equal(kill(t, SIGKILL), 0);
	assert_int_equal(waitpid(t, NULL, 0), t);
	usleep(400 * 1000);
	/* the next event sees the lease over and switches tracing off */
	TR_ASSERT_OK(tr_send_bytes(tr_self(), "x", 1, 1000));
	expect("x");
	assert_false(tri_trace_on());
	/* and the dead collector's place can be taken */
	TR_ASSERT_OK(tr_trace_session_open(&s, tr_runtime_dir(), NULL));
	tr_trace_session_close(&s);
}

/* ---- why, exports ---------------------------------------------------------
 */

static void
test_why_follows_three_hops_to_the_root(void **state)
{
	tr_trace_session     *s = session(0, UINT32_MAX, 0, -1);
	tr_process           *p1, *p2;
	tr_addr               b, c;
	char                  msg[256], tb[64], tc[64], out[8192], args[600];
	const tr_trace_event *last;
	char                 *x, *y, *z;

	p1 = start(FORK, &b);
	p2 = start(TR_START_SPAWN, &c);
	snprintf(msg, sizeof(msg), "hop %s %s",
	    tr_addr_format(c, tc, sizeof(tc)),
	    tr_addr_format(tr_self(), tb, sizeof(tb)));
	say(b, msg);
	expect("hop");
	say(b, "stop");
	say(c, "stop");
	assert_int_equal(tr_test_finish(&p1), 0);
	assert_int_equal(tr_test_finish(&p2), 0);
	poll_all(s);
	tr_trace_session_close(&s);
	save(tmp("hops.trc"));
	last = find(TR_TRACE_SEND, c.pid, 0);
	assert_non_null(last);
	snprintf(args, sizeof(args), "trace why '%s' %016" PRIx64,
	    tmp("hops.trc"), last->span_id);
	assert_int_equal(run_tool(args, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "3 hops"));
	snprintf(tb, sizeof(tb), "(pid %d) -> ", (int) getpid());
	x = strstr(out, tb);
	snprintf(tb, sizeof(tb), "(pid %" PRIu32 ") -> ", b.pid);
	y = strstr(out, tb);
	snprintf(tb, sizeof(tb), "(pid %" PRIu32 ") -> ", c.pid);
	z = strstr(out, tb);
	assert_true(x && y && z && x < y && y < z);
	/* by sender pid and message id too; an unknown one is exit 3 */
	snprintf(args, sizeof(args), "trace why '%s' %" PRIu32 ":%" PRIu64,
	    tmp("hops.trc"), c.pid, last->msg_id);
	assert_int_equal(run_tool(args, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "3 hops"));
	snprintf(
	    args, sizeof(args), "trace why '%s' 1:999999", tmp("hops.trc"));
	assert_int_equal(run_tool(args, out, sizeof(out)), 3);
}

static int
python(const char *script, const char *arg, char *out, size_t n)
{
	char   cmd[8192];
	FILE  *f;
	size_t got;
	int    st;

	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 -c '%s' '%s' 2>&1", script,
	    arg);
	f = popen(cmd, "r");
	assert_non_null(f);
	got      = fread(out, 1, n - 1, f);
	out[got] = '\0';
	st       = pclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Every flow has one s and one f (same name, cat); each s sits on an X
 * slice of the same pid, tid, ts and cat; each f has bp e and sits at the
 * start of an X slice.  Prints the number of flows. */
static const char *chrome_check =
    "import json,sys\n"
    "d=json.load(open(sys.argv[1]))\n"
    "ev=d[\"traceEvents\"]\n"
    "xs={(e[\"pid\"],e[\"tid\"],e[\"ts\"],e[\"cat\"]) for e in ev if "
    "e[\"ph\"]==\"X\"}\n"
    "fl={}\n"
    "for e in ev:\n"
    " if e[\"ph\"] in \"sf\":\n"
    "  assert (e[\"pid\"],e[\"tid\"],e[\"ts\"],e[\"cat\"]) in xs, e\n"
    "  fl.setdefault(e[\"id\"],[]).append(e)\n"
    "for i,p in fl.items():\n"
    " assert [x[\"ph\"] for x in p]==[\"s\",\"f\"], p\n"
    " assert p[1][\"bp\"]==\"e\" and p[0][\"name\"]==p[1][\"name\"]\n"
    " assert p[0][\"pid\"]!=p[1][\"pid\"]\n"
    "print(len(fl))\n";

static const char *otlp_check =
    "import json,sys\n"
    "d=json.load(open(sys.argv[1]))\n"
    "sp=[s for r in d[\"resourceSpans\"] for ss in r[\"scopeSpans\"] for s "
    "in ss[\"spans\"]]\n"
    "ids={s[\"spanId\"] for s in sp}\n"
    "for s in sp:\n"
    " assert len(s[\"traceId\"])==32 and len(s[\"spanId\"])==16\n"
    " assert s[\"kind\"] in (4,5)\n"
    " int(s[\"startTimeUnixNano\"])\n"
    " if s[\"kind\"]==5: assert s[\"parentSpanId\"] in ids\n"
    "print(len(sp))\n";

static const char *xml_check =
    "import sys,xml.etree.ElementTree as E\n"
    "t=E.parse(sys.argv[1]).getroot()\n"
    "print(sum(1 for e in t.iter() if e.get(\"class\")==\"msg\"))\n";

static void
test_exports_parse_and_pair_flows(void **state)
{
	char out[16384], args[1024], py[256];
	char in[256];

	snprintf(in, sizeof(in), "%s", tmp("pingpong.trc"));

	/* ping-pong under the forkserver: PINGS pings, PINGS pongs, a stop */
	snprintf(args, sizeof(args),
	    "trace export --format chrome -o '%s' '%s'", tmp("c.json"), in);
	assert_int_equal(run_tool(args, out, sizeof(out)), 0);
	assert_int_equal(
	    python(chrome_check, tmp("c.json"), py, sizeof(py)), 0);
	assert_int_equal(atoi(py), 2 * PINGS + 1);

	snprintf(args, sizeof(args), "trace export --format otlp -o '%s' '%s'",
	    tmp("o.json"), in);
	assert_int_equal(run_tool(args, out, sizeof(out)), 0);
	assert_int_equal(python(otlp_check, tmp("o.json"), py, sizeof(py)), 0);
	assert_int_equal(atoi(py), 2 * (2 * PINGS + 1));

	snprintf(args, sizeof(args), "trace export --format svg -o '%s' '%s'",
	    tmp("d.svg"), in);
	assert_int_equal(run_tool(args, out, sizeof(out)), 0);
	assert_int_equal(python(xml_check, tmp("d.svg"), py, sizeof(py)), 0);
	assert_int_equal(atoi(py), 2 * PINGS + 1);
	snprintf(args, sizeof(args), "trace export --format html -o '%s' '%s'",
	    tmp("d.html"), in);
	assert_int_equal(run_tool(args, out, sizeof(out)), 0);

	snprintf(args, sizeof(args), "trace export --format mermaid '%s'", in);
	assert_int_equal(run_tool(args, out, sizeof(out)), 0);
	assert_true(strncmp(out, "sequenceDiagram\n", 16) == 0);
	{
		size_t arrows = 0, parts = 0;
		char  *save = NULL;

		for (char *l = strtok_r(out, "\n", &save); l;
		     l       = strtok_r(NULL, "\n", &save)) {
			arrows +=
			    strncmp(l, "    A", 5) == 0 && strstr(l, "-)");
			parts += strncmp(l, "    participant ", 16) == 0;
		}
		assert_int_equal(arrows, 2 * PINGS + 1);
		assert_int_equal(parts, 2);
	}
	snprintf(args, sizeof(args), "trace export --format nope '%s'", in);
	assert_int_equal(run_tool(args, out, sizeof(out)), 2);
}

/* Decodes a PNG (8-bit RGB or RGBA, not interlaced: what Chromium
 * writes) and prints how many pixels differ from the top-left one: the
 * ink a rendered diagram put on the page. */
static const char *png_ink =
    "import sys,zlib,struct\n"
    "b=open(sys.argv[1],\"rb\").read()\n"
    "assert b[1:4]==b\"PNG\", \"not a PNG\"\n"
    "p=8;idat=b\"\";w=h=bd=ct=il=0\n"
    "while p<len(b):\n"
    " n,=struct.unpack(\">I\",b[p:p+4]);t=b[p+4:p+8];c=b[p+8:p+8+n];p+=12+n\n"
    " if t==b\"IHDR\": w,h,bd,ct,_,_,il=struct.unpack(\">IIBBBBB\",c)\n"
    " elif t==b\"IDAT\": idat+=c\n"
    "assert bd==8 and il==0 and ct in (2,6), (bd,ct,il)\n"
    "bpp=3 if ct==2 else 4\n"
    "r=zlib.decompress(idat);s=w*bpp;prev=bytearray(s);q=0;ink=0;bg=None\n"
    "for y in range(h):\n"
    " f=r[q];cur=bytearray(r[q+1:q+1+s]);q+=1+s\n"
    " for i in range(s):\n"
    "  a=cur[i-bpp] if i>=bpp else 0;u=prev[i];c=prev[i-bpp] if i>=bpp else 0\n"
    "  if f==1:cur[i]=(cur[i]+a)&255\n"
    "  elif f==2:cur[i]=(cur[i]+u)&255\n"
    "  elif f==3:cur[i]=(cur[i]+(a+u)//2)&255\n"
    "  elif f==4:\n"
    "   e=a+u-c;pa=abs(e-a);pb=abs(e-u);pc=abs(e-c)\n"
    "   cur[i]=(cur[i]+(a if pa<=pb and pa<=pc else u if pb<=pc else c))&255\n"
    " if bg is None: bg=bytes(cur[:bpp])\n"
    " ink+=sum(1 for x in range(0,s,bpp) if bytes(cur[x:x+bpp])!=bg)\n"
    " prev=cur\n"
    "print(ink)\n";

/* Renders file in headless Chromium to a screenshot; returns the number of
 * pixels the drawing inked (png_ink). */
static long
render_ink(const char *browser, const char *file, const char *shot)
{
	char cmd[2048], py[256];

	(void) unlink(shot);
	snprintf(cmd, sizeof(cmd),
	    "timeout 120 '%s' --headless --no-sandbox --disable-gpu "
	    "--hide-scrollbars --window-size=1200,900 --screenshot='%s' "
	    "'file://%s' </dev/null >/dev/null 2>&1",
	    browser, shot, file);
	/* popen/pclose, not system(): the runtime reaps with SIGCHLD */
	{
		FILE *f = popen(cmd, "r");
		int   st;

		assert_non_null(f);
		st = pclose(f);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			print_error("chromium on %s: status %d\n", file, st);
		}
	}
	assert_int_equal(python(png_ink, shot, py, sizeof(py)), 0);
	return atol(py);
}

/* The standalone HTML and SVG diagrams, opened by a browser with no
 * network, draw something: the participants' columns and the arrows. */
static void
test_html_renders_in_chromium(void **state)
{
	const char *browsers[] = { "/usr/bin/chromium",
		"/usr/bin/chromium-browser", "/usr/bin/google-chrome" };
	const char *b          = NULL;
	long        html, svg;

	for (size_t i = 0; i < 3; i++) {
		if (access(browsers[i], X_OK) == 0) {
			b = browsers[i];
		}
	}
	if (!b) {
		print_message(
		    "chromium not installed (scripts/setup.sh installs "
		    "it): the HTML/SVG render check is skipped\n");
		skip();
	}
	html = render_ink(b, tmp("d.html"), tmp("shot-html.png"));
	svg  = render_ink(b, tmp("d.svg"), tmp("shot-svg.png"));
	print_message("chromium inked %ld pixels for the HTML, %ld for the "
	              "SVG\n",
	    html, svg);
	/* a blank page inks none; a diagram of 2 actors and 2*PINGS+1 arrows
	 * with labels inks thousands */
	assert_true(html > 2000);
	assert_true(svg > 2000);
}

static void
test_tool_stats_filter_merge_tail(void **state)
{
	char out[65536], args[1024];
	char in[256];

	snprintf(in, sizeof(in), "%s", tmp("pingpong.trc"));

	snprintf(args, sizeof(args), "trace stats '%s'", in);
	assert_int_equal(run_tool(args, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "per actor:"));
	assert_non_null(strstr(out, "per pair:"));
	assert_non_null(strstr(out, "handle_us p50"));
	snprintf(args, sizeof(args), "trace filter --kind send -o '%s' '%s'",
	    tmp("sends.trc"), in);
	assert_int_equal(run_tool(args, out, sizeof(out)), 0);
	load(tmp("sends.trc"));
	assert_int_equal(nev, count(TR_TRACE_SEND, 0));
	assert_int_equal(nev, 2 * PINGS + 1);
	snprintf(args, sizeof(args), "trace merge -o '%s' '%s' '%s'",
	    tmp("m.trc"), in, tmp("hops.trc"));
	assert_int_equal(run_tool(args, out, sizeof(out)), 0);
	snprintf(
	    args, sizeof(args), "trace tail --json '%s'", tmp("sends.trc"));
	assert_int_equal(run_tool(args, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "\"ev\":\"send\""));
	assert_int_equal(run_tool("trace --help", out, sizeof(out)), 0);
	assert_int_equal(run_tool("trace stats --help", out, sizeof(out)), 0);
	assert_int_equal(run_tool("trace stats", out, sizeof(out)), 2);
	assert_int_equal(run_tool("trace bogus", out, sizeof(out)), 2);
	assert_int_equal(
	    run_tool("trace stats /nonexistent.trc", out, sizeof(out)), 1);
	assert_int_equal(
	    run_tool("trace record /nonexistent-run", out, sizeof(out)), 1);
}

/* ---- files ----------------------------------------------------------------
 */

static void
test_truncated_file_loses_only_its_last_record(void **state)
{
	const char    *path = tmp("trunc.trc");
	tr_trace_file *f;
	tr_trace_event ev;
	struct stat    st;
	char           out[4096], args[600];
	FILE          *w;
	size_t         n;

	memset(&ev, 0, sizeof(ev));
	ev.kind = TR_TRACE_MARK;
	TR_ASSERT_OK(tr_trace_file_open(&f, path, true));
	for (int i = 0; i < 10; i++) {
		ev.value = i;
		snprintf(ev.what, sizeof(ev.what), "mark %d", i);
		TR_ASSERT_OK(tr_trace_file_write(f, &ev));
	}
	TR_ASSERT_OK(tr_trace_file_close(&f));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(truncate(path, st.st_size - 3), 0);
	TR_ASSERT_OK(tr_trace_file_open(&f, path, false));
	for (n = 0; tr_trace_file_read(f, &ev) == 1; n++) {
		assert_int_equal(ev.value, (int64_t) n);
	}
	assert_int_equal(n, 9);
	assert_true(tr_trace_file_truncated(f));
	TR_ASSERT_OK(tr_trace_file_close(&f));
	snprintf(args, sizeof(args), "trace stats '%s'", path);
	assert_int_equal(run_tool(args, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "9 events"));
	assert_non_null(strstr(out, "truncated"));
	/* a corrupt record: a clear error, exit 1 */
	w = fopen(path, "r+");
	assert_non_null(w);
	fseek(w, 8, SEEK_SET);
	fputs("\xff\xff\xff\x7f", w);
	fclose(w);
	assert_int_equal(run_tool(args, out, sizeof(out)), 1);
	assert_non_null(strstr(out, "corrupt record"));
	/* not a trace file at all */
	w = fopen(path, "w");
	fputs("hello", w);
	fclose(w);
	assert_int_equal(run_tool(args, out, sizeof(out)), 1);
	assert_non_null(strstr(out, "not a troupe trace file"));
	TR_ASSERT_ERR(tr_trace_file_open(&f, path, false), TR_EBADFRAME);
}

static int
setup(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/tr-trace-XXXXXX");
	if (!mkdtemp(tmpdir)) {
		return -1;
	}
	return tr_test_sup_setup(state);
}

static int
teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	(void) system(cmd);
	return tr_test_sup_teardown(state);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pingpong_traced_end_to_end),
		cmocka_unit_test(test_events_for_each_kind),
		cmocka_unit_test_teardown(test_restart_recorded_by_supervisor,
		    tr_test_sup_kill_leftovers),
		cmocka_unit_test(test_blocked_send_recorded),
		cmocka_unit_test(test_drops_counted_when_reader_stopped),
		cmocka_unit_test(test_rate_trip_switches_that_process_off),
		cmocka_unit_test(test_sampling_filters_limit_duration),
		cmocka_unit_test(test_attach_with_the_tool),
		cmocka_unit_test(test_lease_expires_when_the_tool_dies),
		cmocka_unit_test(test_why_follows_three_hops_to_the_root),
		cmocka_unit_test(test_exports_parse_and_pair_flows),
		cmocka_unit_test(test_html_renders_in_chromium),
		cmocka_unit_test(test_tool_stats_filter_merge_tail),
		cmocka_unit_test(
		    test_truncated_file_loses_only_its_last_record),
	};

	if (tr_init(argc, argv) < 0) {
		return 99;
	}
	if (getenv("TR_TEST_FILTER")) {
		cmocka_set_test_filter(getenv("TR_TEST_FILTER"));
	}
	return cmocka_run_group_tests_name("trace", tests, setup, teardown);
}
