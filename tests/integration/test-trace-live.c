/* SPDX-License-Identifier: MIT */
/* Tracing (issue 12), the second part: node events (nodeup, nodedown)
 * from the node agent with two nodes on loopback, filtered by node;
 * payload capture; merge of files whose clocks differ; `tail -f` on a
 * file being written and rotated; and TROUPE_TRACE draining while a run
 * many times longer than its rings goes on.  The node and the traced run
 * are this program run again (--node-child, --traced-child), cleaned up
 * by pid. */
#include "tr-test-node.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "trace.h"

extern char **environ;

/* ---- actors -------------------------------------------------------------- */

/* "ping" -> "pong" to the sender; "stop" ends it; the rest is ignored. */
static int
ponger(const void *args, size_t len)
{
	(void) args;
	(void) len;
	for (;;) {
		tr_msg *m;
		tr_addr from;
		bool    ping, stop;
		int     r = tr_recv(&m, TR_TEST_HANG_MS);

		if (r < 0) {
			return r;
		}
		ping =
		    tr_msg_size(m) == 4 && !memcmp(tr_msg_data(m), "ping", 4);
		stop =
		    tr_msg_size(m) == 4 && !memcmp(tr_msg_data(m), "stop", 4);
		from = tr_msg_sender(m);
		tr_msg_destroy(&m);
		if (stop) {
			return 0;
		}
		if (ping && tr_send_bytes(from, "pong", 4, 5000) < 0) {
			return 10;
		}
	}
}
TR_ACTOR(ponger, ponger)

/* ---- helpers ------------------------------------------------------------- */

#define MAXEV 50000
static tr_trace_event evs[MAXEV];
static size_t         nev;
static char           tmpdir[64];

static void
collect(const tr_trace_event *ev, void *arg)
{
	(void) arg;
	if (nev < MAXEV) {
		evs[nev++] = *ev;
	}
}

static const char *
tmp(const char *name)
{
	static char path[16][256];
	static int  k;

	k = (k + 1) % 16;
	snprintf(path[k], sizeof(path[k]), "%s/%s", tmpdir, name);
	return path[k];
}

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
	TR_ASSERT_OK(tr_trace_file_close(&f));
	return nev;
}

static void
save(const char *path, const tr_trace_event *ev, size_t n)
{
	tr_trace_file *f;

	TR_ASSERT_OK(tr_trace_file_open(&f, path, true));
	for (size_t i = 0; i < n; i++) {
		TR_ASSERT_OK(tr_trace_file_write(f, &ev[i]));
	}
	TR_ASSERT_OK(tr_trace_file_close(&f));
}

/* Run the tool; its stdout and stderr in out; its exit code. */
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

/* Processes a test started (tools, node children, traced runs): a test
 * that fails half way leaves none behind (left_kill, its teardown). */
static pid_t left[16];

static void
left_add(pid_t pid)
{
	for (size_t i = 0; i < 16; i++) {
		if (left[i] <= 0) {
			left[i] = pid;
			return;
		}
	}
}

static void
left_del(pid_t pid)
{
	for (size_t i = 0; i < 16; i++) {
		left[i] = left[i] == pid ? 0 : left[i];
	}
}

static int
left_kill(void **state)
{
	(void) state;
	for (size_t i = 0; i < 16; i++) {
		if (left[i] > 0) {
			(void) kill(left[i], SIGKILL);
			(void) waitpid(left[i], NULL, 0);
			left[i] = 0;
		}
	}
	return 0;
}

/* Start the tool with argv (NULL-terminated after "trace"), its stdout to
 * the file out (NULL: inherited). */
static pid_t
tool_start(const char *const *args, const char *out)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		char *argv[32];
		int   k = 0;

		argv[k++] = (char *) tr_test_build_path("tools/troupe");
		argv[k++] = (char *) "trace";
		while (*args && k < 31) {
			argv[k++] = (char *) *args++;
		}
		argv[k] = NULL;
		if (out) {
			int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);

			if (fd < 0 || dup2(fd, 1) < 0) {
				_exit(126);
			}
		}
		execv(argv[0], argv);
		_exit(127);
	}
	left_add(pid);
	return pid;
}

static int
tool_end(pid_t pid, int sig)
{
	int st;

	if (sig) {
		assert_int_equal(kill(pid, sig), 0);
	}
	if (tr_test_wait_gone(pid, TR_TEST_HANG_MS) != 1) {
		kill(pid, SIGKILL);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	left_del(pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static size_t
occurrences(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p++) {
		n++;
	}
	return n;
}

static char *
slurp(const char *path)
{
	FILE  *f = fopen(path, "r");
	char  *buf;
	long   n;
	size_t got;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t) n + 1);
	assert_non_null(buf);
	got      = fread(buf, 1, (size_t) n, f);
	buf[got] = '\0';
	fclose(f);
	return buf;
}

static tr_process *
start_ponger(tr_addr *ret)
{
	tr_process *p;

	TR_ASSERT_OK(tr_process_new(&p, "ponger", NULL, 0));
	TR_ASSERT_OK(tr_process_set_eager_mailbox(p, true));
	TR_ASSERT_OK(tr_process_start(p, 10000));
	TR_ASSERT_OK(tr_process_addr(p, ret));
	return p;
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

/* ---- node events --------------------------------------------------------- */

/* argv: --node-child NAME PEER: a node of its own run, until its stdin
 * ends. */
static int
node_child(int argc, char **argv)
{
	tr_node_options o        = { 0 };
	const char     *peers[2] = { argv[3], NULL };
	tr_node        *n        = NULL;
	char            buf[16];

	if (tr_init(argc, argv) < 0 || argc < 4) {
		return 99;
	}
	o.name  = argv[2];
	o.peers = peers;
	if (tr_node_start(&o, &n, TR_TEST_HANG_MS) < 0) {
		return 98;
	}
	printf("AGENT %d\n", (int) tr_node_agent_pid(n));
	fflush(stdout);
	while (read(0, buf, sizeof(buf)) > 0) { }
	tr_node_stop(&n);
	return 0;
}

/* Node a in this run, node b in another (this program again): returns a;
 * *b is b's launcher (its stdin keeps it running) and agent. */
static tr_node *
start_a_and_b(tr_test_kid *b)
{
	tr_node_options no = { 0 };
	tr_node        *a  = NULL;
	char *argv[] = { (char *) "test-trace-live", (char *) "--node-child",
		(char *) "b", NULL, NULL };

	no.name = "a";
	TR_ASSERT_OK(tr_node_start(&no, &a, TR_TEST_HANG_MS));
	argv[3] = (char *) tr_node_endpoint(a);
	tr_test_kid_spawn(b, argv, 0);
	left_add(b->pid);
	assert_int_equal(sscanf(b->line, "AGENT %d", &b->agent), 1);
	left_add(b->agent);
	tr_test_node_wait_up("b", 1);
	return a;
}

/* b's agent frozen for a little more than half the detection time (3 s by
 * default), then thawed: a's agent records nodesuspect b, then
 * noderesumed b, and no nodedown. */
static void
test_node_suspect_then_resumed(void **state)
{
	tr_trace_opts o = {
		.rate_n = UINT32_MAX, .duration_ms = -1, .lease_ms = -1
	};
	tr_trace_session     *s;
	tr_node              *a;
	tr_test_kid           b;
	char                  args[1024], txt[65536];
	const tr_trace_event *sus, *res;

	(void) state;
	nev = 0;
	TR_ASSERT_OK(tr_trace_session_open(&s, tr_runtime_dir(), &o));
	a = start_a_and_b(&b);
	usleep(300 * 1000); /* pings both ways */
	assert_int_equal(kill(b.agent, SIGSTOP), 0);
	usleep(1900 * 1000);
	assert_int_equal(kill(b.agent, SIGCONT), 0);
	usleep(1000 * 1000); /* heard again: pings, heartbeats */
	assert_int_equal(tr_node_is_up("b", TR_TEST_HANG_MS), 1);
	assert_true(tr_trace_session_poll(s, collect, NULL) >= 0);
	tr_test_kid_kill(&b);
	left_del(b.agent);
	left_del(b.pid);
	tr_node_stop(&a);
	/* what the stop sent, drained here, not by the next test's session */
	assert_true(tr_trace_session_poll(s, collect, NULL) >= 0);
	tr_trace_session_close(&s);

	sus = find(TR_TRACE_NODESUSPECT, 0, 0);
	res = find(TR_TRACE_NODERESUMED, 0, 0);
	assert_non_null(sus);
	assert_non_null(res);
	assert_true(sus < res && sus->ts_ns <= res->ts_ns);
	assert_int_equal(count(TR_TRACE_NODESUSPECT, 0), 1);
	assert_true(strncmp(sus->what, "b: silent ", 10) == 0);
	assert_string_equal(res->what, "b");
	assert_int_equal(sus->value, (int64_t) tr_node_id("b"));
	/* it was never lost before the kill at the end */
	assert_true(!find(TR_TRACE_NODEDOWN, 0, 0) ||
	    find(TR_TRACE_NODEDOWN, 0, 0) > res);
	save(tmp("suspect.trc"), evs, nev);
	snprintf(args, sizeof(args), "trace stats '%s'", tmp("suspect.trc"));
	assert_int_equal(run_tool(args, txt, sizeof(txt)), 0);
	assert_non_null(strstr(txt, ", 1 nodesuspect"));
	snprintf(
	    args, sizeof(args), "trace tail --json '%s'", tmp("suspect.trc"));
	assert_int_equal(run_tool(args, txt, sizeof(txt)), 0);
	assert_non_null(strstr(txt, "\"ev\":\"nodesuspect\""));
	assert_non_null(strstr(txt, "\"ev\":\"noderesumed\""));
}

/* Node a (this run) and node b (another run); b is killed: the trace of
 * a's agent holds nodeup b, then nodedown b; the node filter keeps them. */
static void
test_node_events_up_then_down(void **state)
{
	tr_trace_opts o = {
		.rate_n = UINT32_MAX, .duration_ms = -1, .lease_ms = -1
	};
	tr_trace_session     *s;
	tr_node              *a = NULL;
	tr_test_kid           b;
	char                  args[1024], txt[65536];
	const tr_trace_event *up, *down;

	(void) state;
	nev = 0;
	TR_ASSERT_OK(tr_trace_session_open(&s, tr_runtime_dir(), &o));
	a = start_a_and_b(&b);
	assert_true(tr_trace_session_poll(s, collect, NULL) >= 0);
	/* b dies without a goodbye */
	tr_test_kid_kill(&b);
	left_del(b.agent);
	left_del(b.pid);
	tr_test_node_wait_up("b", 0);
	usleep(100 * 1000);
	assert_true(tr_trace_session_poll(s, collect, NULL) >= 0);
	tr_node_stop(&a);
	assert_true(tr_trace_session_poll(s, collect, NULL) >= 0);
	tr_trace_session_close(&s);

	assert_int_equal(count(TR_TRACE_DROPPED, 0), 0);
	up   = find(TR_TRACE_NODEUP, 0, 0);
	down = find(TR_TRACE_NODEDOWN, 0, 0);
	assert_non_null(up);
	assert_non_null(down);
	assert_int_equal(count(TR_TRACE_NODEUP, 0), 1);
	assert_int_equal(count(TR_TRACE_NODEDOWN, 0), 1);
	assert_true(up < down && up->ts_ns <= down->ts_ns);
	assert_string_equal(up->what, "b");
	assert_true(strncmp(down->what, "b: ", 3) == 0);
	assert_int_equal(up->self.pid, down->self.pid); /* a's agent */
	assert_int_equal(up->value, (int64_t) tr_node_id("b"));
	assert_int_equal(up->peer.node, tr_node_id("b"));
	assert_int_equal(up->peer.pid, (uint32_t) b.agent);
	assert_string_equal(up->node, "a"); /* the recording run's node */

	/* the tool shows them: stats, tail, the exports, the node filter */
	save(tmp("nodes.trc"), evs, nev);
	snprintf(args, sizeof(args), "trace stats '%s'", tmp("nodes.trc"));
	assert_int_equal(run_tool(args, txt, sizeof(txt)), 0);
	assert_non_null(strstr(txt, "nodes: 1 nodeup, 1 nodedown"));
	assert_non_null(strstr(txt, "nodeup   b (node id"));
	snprintf(
	    args, sizeof(args), "trace tail --json '%s'", tmp("nodes.trc"));
	assert_int_equal(run_tool(args, txt, sizeof(txt)), 0);
	assert_non_null(strstr(txt, "\"ev\":\"nodeup\""));
	assert_non_null(strstr(txt, "\"ev\":\"nodedown\""));
	assert_non_null(strstr(txt, "\"node\":\"a\""));
	snprintf(args, sizeof(args), "trace export --format chrome '%s'",
	    tmp("nodes.trc"));
	assert_int_equal(run_tool(args, txt, sizeof(txt)), 0);
	assert_non_null(strstr(txt, "\"name\":\"nodeup b\""));
	snprintf(args, sizeof(args), "trace export --format mermaid '%s'",
	    tmp("nodes.trc"));
	assert_int_equal(run_tool(args, txt, sizeof(txt)), 0);
	assert_non_null(strstr(txt, ": nodedown b: "));
	/* --node a: every event of this run; --node b: those about b;
	 * --node c: none */
	snprintf(args, sizeof(args), "trace filter --node a -o '%s' '%s'",
	    tmp("na.trc"), tmp("nodes.trc"));
	assert_int_equal(run_tool(args, txt, sizeof(txt)), 0);
	{
		size_t all = nev;

		assert_int_equal(load(tmp("na.trc")), all);
	}
	snprintf(args, sizeof(args), "trace filter --node b -o '%s' '%s'",
	    tmp("nb.trc"), tmp("nodes.trc"));
	assert_int_equal(run_tool(args, txt, sizeof(txt)), 0);
	load(tmp("nb.trc"));
	assert_int_equal(count(TR_TRACE_NODEUP, 0), 1);
	assert_int_equal(count(TR_TRACE_NODEDOWN, 0), 1);
	for (size_t i = 0; i < nev; i++) {
		assert_true(evs[i].kind == TR_TRACE_NODEUP ||
		    evs[i].kind == TR_TRACE_NODEDOWN ||
		    evs[i].peer.node == tr_node_id("b"));
	}
	snprintf(args, sizeof(args), "trace filter --node c -o '%s' '%s'",
	    tmp("nc.trc"), tmp("nodes.trc"));
	assert_int_equal(run_tool(args, txt, sizeof(txt)), 0);
	assert_int_equal(load(tmp("nc.trc")), 0);
}

/* ---- payload capture ----------------------------------------------------- */

static void
pings_traced(unsigned payload, const char *big)
{
	tr_trace_opts     o = { .rate_n = UINT32_MAX,
		    .duration_ms        = -1,
		    .lease_ms           = -1,
		    .payload            = payload };
	tr_trace_session *s;
	tr_process       *p;
	tr_addr           a;

	nev = 0;
	TR_ASSERT_OK(tr_trace_session_open(&s, tr_runtime_dir(), &o));
	p = start_ponger(&a);
	TR_ASSERT_OK(tr_send_bytes(a, "ping", 4, 5000));
	expect("pong");
	TR_ASSERT_OK(tr_send_bytes(a, big, strlen(big), 5000));
	TR_ASSERT_OK(tr_send_bytes(a, "stop", 4, 5000));
	assert_int_equal(tr_test_finish(&p), 0);
	assert_true(tr_trace_session_poll(s, collect, NULL) >= 0);
	tr_trace_session_close(&s);
}

static void
test_payload_capture_bounded_and_off_by_default(void **state)
{
	const char           *big = "a \"quoted\"\n line\x01 longer than 8";
	const tr_trace_event *e;
	char                  args[1024], txt[65536];

	(void) state;
	/* off by default: no bytes */
	pings_traced(0, big);
	assert_int_equal(count(TR_TRACE_SEND, (uint32_t) getpid()), 3);
	for (size_t i = 0; i < nev; i++) {
		assert_int_equal(evs[i].payload_len, 0);
	}
	/* on: the first 8 bytes of each, at send and receive */
	pings_traced(8, big);
	e = find(TR_TRACE_SEND, (uint32_t) getpid(), 0);
	assert_int_equal(e->payload_len, 4);
	assert_memory_equal(e->payload, "ping", 4);
	e = find(TR_TRACE_SEND, (uint32_t) getpid(), 1);
	assert_int_equal(e->value, (int64_t) strlen(big));
	assert_int_equal(e->payload_len, 8);
	assert_memory_equal(e->payload, big, 8);
	e = find(TR_TRACE_RECEIVE, (uint32_t) getpid(), 0); /* the pong */
	assert_int_equal(e->payload_len, 4);
	assert_memory_equal(e->payload, "pong", 4);
	save(tmp("payload.trc"), evs, nev);
	/* shown escaped in tail, why; hex in jsonl and the Chrome args */
	snprintf(args, sizeof(args), "trace tail '%s'", tmp("payload.trc"));
	assert_int_equal(run_tool(args, txt, sizeof(txt)), 0);
	assert_non_null(strstr(txt, "payload \"ping\""));
	assert_non_null(strstr(txt, "payload \"a \\x22quote\""));
	snprintf(args, sizeof(args), "trace why '%s' %016" PRIx64,
	    tmp("payload.trc"),
	    find(TR_TRACE_SEND, (uint32_t) getpid(), 0)->span_id);
	assert_int_equal(run_tool(args, txt, sizeof(txt)), 0);
	assert_non_null(strstr(txt, "payload \"ping\""));
	snprintf(args, sizeof(args), "trace export --format jsonl '%s'",
	    tmp("payload.trc"));
	assert_int_equal(run_tool(args, txt, sizeof(txt)), 0);
	assert_non_null(strstr(txt, "\"payload\":\"70696e67\"")); /* ping */
	snprintf(args, sizeof(args), "trace export --format chrome '%s'",
	    tmp("payload.trc"));
	assert_int_equal(run_tool(args, txt, sizeof(txt)), 0);
	assert_non_null(strstr(txt, "\"payload\":\"706f6e67\"")); /* pong */
	/* bad input: more than the most */
	snprintf(args, sizeof(args), "trace record --payload 257 x");
	assert_int_equal(run_tool(args, txt, sizeof(txt)), 2);
	assert_non_null(strstr(txt, "--payload: 0 to 256 bytes"));
}

/* ---- merge with clock offsets -------------------------------------------- */

#define PAIRS 20
#define SEC   1000000000LL

/* Host a (pid 100) and host b (pid 200), b's clock skew ns ahead: a sends
 * PAIRS messages to b; with both, b answers each.  The true one-way delays
 * are 100..290 us. */
static void
skewed_files(int64_t skew, bool both, const char *fa, const char *fb)
{
	static tr_trace_event ea[2 * PAIRS], eb[2 * PAIRS];
	size_t                na = 0, nb = 0;
	int64_t               t0 = 1700000000 * SEC;

	memset(ea, 0, sizeof(ea));
	memset(eb, 0, sizeof(eb));
	for (int k = 0; k < PAIRS; k++) {
		int64_t         t  = t0 + k * 10000000LL; /* every 10 ms */
		int64_t         d1 = 100000 + 10000 * k;  /* a -> b */
		int64_t         d2 = 290000 - 10000 * k;  /* b -> a */
		tr_trace_event *s = &ea[na++], *r = &eb[nb++];
		tr_addr         pa = { 0, 100, 1 }, pb = { 0, 200, 2 };

		*s = (tr_trace_event) { .ts_ns = t,
			.kind                  = TR_TRACE_SEND,
			.self                  = pa,
			.peer                  = pb,
			.msg_id                = (uint64_t) k + 1,
			.span_id               = 1000 + (uint64_t) k,
			.trace_id              = { 1 } };
		strcpy(s->name, "A");
		strcpy(s->what, "m");
		*r       = *s;
		r->kind  = TR_TRACE_RECEIVE;
		r->self  = pb;
		r->peer  = pa;
		r->ts_ns = t + d1 + skew;
		strcpy(r->name, "B");
		if (!both) {
			continue;
		}
		s        = &eb[nb++];
		*s       = *r;
		s->kind  = TR_TRACE_SEND;
		s->ts_ns = t + d1 + 50000 + skew;
		s->span_id += 5000;
		s->peer  = pa;
		r        = &ea[na++];
		*r       = *s;
		r->kind  = TR_TRACE_RECEIVE;
		r->self  = pa;
		r->peer  = pb;
		r->ts_ns = t + d1 + 50000 + d2;
		strcpy(r->name, "A");
	}
	save(fa, ea, na);
	save(fb, eb, nb);
}

/* Every receive after its send; b's events within bound of true time. */
static void
check_merged(const char *path, int64_t skew, int64_t bound)
{
	int64_t prev = INT64_MIN;

	load(path);
	for (size_t i = 0; i < nev; i++) {
		const tr_trace_event *e = &evs[i];

		assert_true(e->ts_ns >= prev); /* in time order */
		prev = e->ts_ns;
		if (e->kind != TR_TRACE_RECEIVE) {
			continue;
		}
		for (size_t j = 0; j < nev; j++) {
			if (evs[j].kind == TR_TRACE_SEND &&
			    evs[j].span_id == e->span_id) {
				assert_true(e->ts_ns > evs[j].ts_ns);
			}
		}
		if (e->self.pid == 200) {
			/* the true receive time: send + 100 us + 10 us k */
			int64_t k    = (int64_t) e->span_id - 1000;
			int64_t real = 1700000000 * SEC + k * 10000000LL +
			    100000 + 10000 * k;
			int64_t err = e->ts_ns - real;

			(void) skew;
			assert_true(err <= bound && err >= -bound);
		}
	}
}

static void
test_merge_estimates_clock_offsets(void **state)
{
	char   args[1024], txt[8192];
	double off = 0, bnd = 0;

	(void) state;
	/* both ways, b 5 s ahead: the minimum delays are 100 us out and
	 * 100 us back, so the offset is found to within +-100 us */
	for (int sign = -1; sign <= 1; sign += 2) {
		int64_t skew = sign * 5 * SEC;

		skewed_files(skew, true, tmp("a.trc"), tmp("b.trc"));
		snprintf(args, sizeof(args), "trace merge -o '%s' '%s' '%s'",
		    tmp("m.trc"), tmp("a.trc"), tmp("b.trc"));
		assert_int_equal(run_tool(args, txt, sizeof(txt)), 0);
		{
			const char *p = strstr(txt, "b.trc: clock offset ");

			assert_non_null(p);
			assert_int_equal(sscanf(p,
			                     "b.trc: clock offset %lf s "
			                     "(+-%lf s",
			                     &off, &bnd),
			    2);
		}
		assert_true(off > (double) skew / 1e9 - bnd - 1e-6);
		assert_true(off < (double) skew / 1e9 + bnd + 1e-6);
		assert_true(bnd <= 0.000100001);
		check_merged(tmp("m.trc"), skew, 100000 + 1000);
	}
	/* one way only, b 5 s behind: every receive put after its send */
	skewed_files(-5 * SEC, false, tmp("a.trc"), tmp("b.trc"));
	snprintf(args, sizeof(args), "trace merge -o '%s' '%s' '%s'",
	    tmp("m.trc"), tmp("a.trc"), tmp("b.trc"));
	assert_int_equal(run_tool(args, txt, sizeof(txt)), 0);
	assert_non_null(strstr(txt, "one-way bound"));
	/* the least delay (100 us) becomes 1 us: within 100 us of true */
	check_merged(tmp("m.trc"), -5 * SEC, 100000);
	/* b 5 s ahead, one way: already after its send, left as it is */
	skewed_files(5 * SEC, false, tmp("a.trc"), tmp("b.trc"));
	assert_int_equal(run_tool(args, txt, sizeof(txt)), 0);
	assert_non_null(strstr(txt, "clock offset +0.000000 s (one-way"));
	/* both ways, each receive 1 s before its send (messages that
	 * disagree): said, and still no receive before its send */
	{
		tr_trace_event e[2][2];
		tr_addr        pa = { 0, 100, 1 }, pb = { 0, 200, 2 };

		memset(e, 0, sizeof(e));
		e[0][0] = (tr_trace_event) { .ts_ns = 10 * SEC,
			.kind                       = TR_TRACE_SEND,
			.self                       = pa,
			.peer                       = pb,
			.span_id                    = 1 };
		e[1][0] = (tr_trace_event) { .ts_ns = 9 * SEC,
			.kind                       = TR_TRACE_RECEIVE,
			.self                       = pb,
			.peer                       = pa,
			.span_id                    = 1 };
		e[1][1] = (tr_trace_event) { .ts_ns = 20 * SEC,
			.kind                       = TR_TRACE_SEND,
			.self                       = pb,
			.peer                       = pa,
			.span_id                    = 2 };
		e[0][1] = (tr_trace_event) { .ts_ns = 19 * SEC,
			.kind                       = TR_TRACE_RECEIVE,
			.self                       = pa,
			.peer                       = pb,
			.span_id                    = 2 };
		save(tmp("a.trc"), e[0], 2);
		save(tmp("b.trc"), e[1], 2);
		assert_int_equal(run_tool(args, txt, sizeof(txt)), 0);
		assert_non_null(strstr(txt, "disagree: no bound"));
		load(tmp("m.trc"));
		assert_int_equal(nev, 4);
		for (size_t i = 0; i < nev; i++) {
			if (evs[i].kind == TR_TRACE_RECEIVE) {
				const tr_trace_event *snd = NULL;

				for (size_t j = 0; j < nev; j++) {
					if (evs[j].kind == TR_TRACE_SEND &&
					    evs[j].span_id == evs[i].span_id) {
						snd = &evs[j];
					}
				}
				assert_non_null(snd);
				assert_true(evs[i].ts_ns > snd->ts_ns);
			}
		}
	}
}

/* ---- tail -f ------------------------------------------------------------- */

#define FOLLOW_PINGS 150

static void
test_tail_follows_a_file_being_written_and_rotated(void **state)
{
	const char *trc    = tmp("live.trc");
	const char *outp   = tmp("tail.out");
	const char *rec[]  = { "record", "--rate", "0", "--duration", "-1",
		 "--rotate-size", "16000", "-o", trc, tr_runtime_dir(), NULL };
	const char *tail[] = { "tail", "-f", "--json", trc, NULL };
	char        needle[128];
	char       *got;
	pid_t       r, t;
	tr_process *p;
	tr_addr     a;
	struct stat st;

	(void) state;
	unlink(trc);
	r = tool_start(rec, NULL);
	for (int i = 0; i < TR_TEST_HANG_MS / 10; i++) {
		if (atomic_load(&tri_trace_ctl->collector) == r &&
		    tri_trace_on()) {
			break;
		}
		usleep(10000);
	}
	assert_true(tri_trace_on());
	t = tool_start(tail, outp);
	p = start_ponger(&a);
	for (int i = 0; i < FOLLOW_PINGS; i++) {
		/* stopped while the file is rotated several times: it
		 * reads each kept file in turn once it goes on */
		if (i == 30 || i == 120) {
			assert_int_equal(
			    kill(t, i == 30 ? SIGSTOP : SIGCONT), 0);
		}
		TR_ASSERT_OK(tr_send_bytes(a, "ping", 4, 5000));
		expect("pong");
		usleep(5000);
	}
	TR_ASSERT_OK(tr_send_bytes(a, "stop", 4, 5000));
	assert_int_equal(tr_test_finish(&p), 0);
	assert_int_equal(tool_end(r, SIGINT), 0);
	/* it was rotated at least three times */
	snprintf(needle, sizeof(needle), "%s.3", trc);
	assert_int_equal(stat(needle, &st), 0);
	/* tail -f has seen everything within a while: the 151 sends of
	 * this process */
	snprintf(needle, sizeof(needle), "\"pid\":%d,", (int) getpid());
	for (int i = 0; i < TR_TEST_HANG_MS / 50; i++) {
		size_t n;

		got = slurp(outp);
		n   = 0;
		for (char *l = strtok(got, "\n"); l; l = strtok(NULL, "\n")) {
			n += strstr(l, needle) && strstr(l, "\"ev\":\"send\"");
		}
		free(got);
		if (n >= FOLLOW_PINGS + 1) {
			assert_int_equal(n, FOLLOW_PINGS + 1);
			break;
		}
		usleep(50000);
		assert_true(i + 1 < TR_TEST_HANG_MS / 50);
	}
	/* until SIGTERM: exit 0 */
	assert_true(tr_test_pid_alive(t));
	assert_int_equal(tool_end(t, SIGTERM), 0);
	/* --duration ends it by itself */
	{
		const char *d[] = { "tail", "-f", "--duration", "300", trc,
			NULL };

		t = tool_start(d, tmp("tail2.out"));
		assert_int_equal(tool_end(t, 0), 0);
		got = slurp(tmp("tail2.out"));
		assert_true(occurrences(got, " send ") > 0);
		free(got);
	}
}

/* ---- long runs under TROUPE_TRACE ---------------------------------------- */

#define LONG_PINGS 2500
#define LONG_SLOTS 1024

/* --traced-child: a run of its own, traced by TROUPE_TRACE; LONG_PINGS
 * round trips about 1 ms apart: 4 events each per process, about 10 times
 * what a ring of LONG_SLOTS holds. */
static int
traced_child(int argc, char **argv)
{
	tr_process *p;
	tr_addr     a;
	tr_msg     *m;

	if (tr_init(argc, argv) < 0) {
		return 99;
	}
	if (tr_process_new(&p, "ponger", NULL, 0) < 0 ||
	    tr_process_start(p, 10000) < 0 || tr_process_addr(p, &a) < 0) {
		return 98;
	}
	for (int i = 0; i < LONG_PINGS; i++) {
		if (i == 200 && getenv("TR_TEST_KILL_AT_200")) {
			raise(SIGKILL); /* the collector must notice */
		}
		if (tr_send_bytes(a, "ping", 4, 5000) < 0 ||
		    tr_recv(&m, TR_TEST_HANG_MS) < 0) {
			return 97;
		}
		tr_msg_destroy(&m);
		usleep(1000);
	}
	if (tr_send_bytes(a, "stop", 4, 5000) < 0 || tr_test_finish(&p) != 0) {
		return 96;
	}
	return 0;
}

/* Processes still running as "test-trace-live --traced-child" (the
 * traced run's collector, or a fork of it), waiting a while for none. */
static int
traced_left(void)
{
	const char *cmd =
	    "pgrep -f -- '^test-trace-live --traced-child' | wc -l";
	char out[64] = "";

	for (int i = 0; i < TR_TEST_HANG_MS / 50; i++) {
		FILE *f = popen(cmd, "r");

		assert_non_null(f);
		out[0] = '\0';
		assert_non_null(fgets(out, sizeof(out), f));
		pclose(f);
		if (atoi(out) == 0) {
			break;
		}
		usleep(50000);
	}
	return atoi(out);
}

static void
test_long_run_drained_while_it_runs(void **state)
{
	char  env[512];
	char *argv[] = { (char *) "test-trace-live", (char *) "--traced-child",
		NULL };
	char *envp[256];
	int   k = 0, st;
	pid_t kid, main_pid;

	(void) state;
	snprintf(env, sizeof(env), "TROUPE_TRACE=file=%s:slots=%d",
	    tmp("long.trc"), LONG_SLOTS);
	for (char **e = environ; *e && k < 250; e++) {
		if (strncmp(*e, "TROUPE_TRACE=", 13) != 0) {
			envp[k++] = *e;
		}
	}
	envp[k++] = env;
	envp[k]   = NULL;
	assert_int_equal(
	    posix_spawn(&kid, "/proc/self/exe", NULL, NULL, argv, envp), 0);
	left_add(kid);
	assert_int_equal(waitpid(kid, &st, 0), kid);
	left_del(kid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	main_pid = kid;
	load(tmp("long.trc"));
	assert_int_equal(count(TR_TRACE_DROPPED, 0), 0);
	assert_int_equal(
	    count(TR_TRACE_SEND, (uint32_t) main_pid), LONG_PINGS + 1);
	assert_int_equal(
	    count(TR_TRACE_RECEIVE, (uint32_t) main_pid), LONG_PINGS);
	assert_int_equal(
	    count(TR_TRACE_HANDLE_BEGIN, (uint32_t) main_pid), LONG_PINGS);
	{
		uint32_t c =
		    find(TR_TRACE_SPAWN, (uint32_t) main_pid, 0)->peer.pid;

		assert_int_equal(count(TR_TRACE_RECEIVE, c), LONG_PINGS + 1);
		assert_int_equal(count(TR_TRACE_SEND, c), LONG_PINGS);
		assert_int_equal(count(TR_TRACE_HANDLE_END, c), LONG_PINGS + 1);
		assert_int_equal(count(TR_TRACE_EXIT, c), 1);
	}
	/* far more than one ring of events per process */
	{
		size_t mine = 0;

		for (size_t i = 0; i < nev; i++) {
			mine += evs[i].self.pid == (uint32_t) main_pid;
		}
		assert_true(mine > 9 * LONG_SLOTS);
	}
	/* its collector process is gone with the run */
	assert_int_equal(traced_left(), 0);
}

/* The traced main program SIGKILLed (its parent, this test, not reaping
 * it yet): the collector still drains what it wrote, ends the file whole
 * and goes. */
static void
test_collector_survives_a_killed_main(void **state)
{
	char  env[512], kill_env[] = "TR_TEST_KILL_AT_200=1";
	char *argv[] = { (char *) "test-trace-live", (char *) "--traced-child",
		NULL };
	char *envp[256];
	char  pat[PATH_MAX];
	struct tri_trace_ctl *c = NULL;
	int                   k = 0, st;
	pid_t                 kid, col = 0;

	(void) state;
	snprintf(env, sizeof(env), "TROUPE_TRACE=file=%s:slots=%d",
	    tmp("killed.trc"), LONG_SLOTS);
	for (char **e = environ; *e && k < 250; e++) {
		if (strncmp(*e, "TROUPE_TRACE=", 13) != 0) {
			envp[k++] = *e;
		}
	}
	envp[k++] = env;
	envp[k++] = kill_env;
	envp[k]   = NULL;
	assert_int_equal(
	    posix_spawn(&kid, "/proc/self/exe", NULL, NULL, argv, envp), 0);
	left_add(kid);
	/* its run's control page (mapped: it outlives the directory), and
	 * the collector's pid there */
	snprintf(pat, sizeof(pat), "%s", tr_runtime_dir());
	snprintf(strrchr(pat, '/') + 1, 64, "troupe-%d-*", (int) kid);
	for (int i = 0; i < TR_TEST_HANG_MS / 10 && !c; i++) {
		glob_t g;

		if (glob(pat, 0, NULL, &g) == 0) {
			c = tri_trace_ctl_open(g.gl_pathv[0]);
			globfree(&g);
		}
		col = c ? (pid_t) atomic_load(&c->collector) : 0;
		if (!c || col == kid || col == 0) {
			tri_trace_ctl_close(c);
			c = NULL;
			usleep(10000);
		}
	}
	assert_non_null(c);
	/* a zombie until we reap it: the collector must not wait for that */
	for (int i = 0; i < TR_TEST_HANG_MS / 20; i++) {
		siginfo_t si = { 0 };

		if (waitid(P_PID, (id_t) kid, &si,
		        WEXITED | WNOWAIT | WNOHANG) == 0 &&
		    si.si_pid == kid) {
			break;
		}
		usleep(20000);
	}
	/* the file is complete once the collector has closed it: wait for
	 * its last record (the collector's flush), at most a while */
	for (int i = 0; i < TR_TEST_HANG_MS / 50; i++) {
		tr_trace_file *f;
		tr_trace_event ev;
		size_t         sends = 0;

		if (tr_trace_file_open(&f, tmp("killed.trc"), false) == 0) {
			while (tr_trace_file_read(f, &ev) == 1) {
				sends += ev.kind == TR_TRACE_SEND &&
				    ev.self.pid == (uint32_t) kid;
			}
			tr_trace_file_close(&f);
		}
		if (sends == 200) {
			break;
		}
		usleep(50000);
	}
	/* its collector has ended by itself, after a last drain */
	assert_true(col > 0 && col != kid);
	assert_int_equal(tr_test_wait_gone(col, TR_TEST_HANG_MS), 1);
	assert_int_equal(atomic_load(&c->finished), 1);
	tri_trace_ctl_close(c);
	load(tmp("killed.trc"));
	assert_int_equal(count(TR_TRACE_SEND, (uint32_t) kid), 200);
	assert_int_equal(count(TR_TRACE_DROPPED, 0), 0);
	/* the ponger it left: ended by pid */
	{
		const tr_trace_event *sp =
		    find(TR_TRACE_SPAWN, (uint32_t) kid, 0);

		assert_non_null(sp);
		(void) kill((pid_t) sp->peer.pid, SIGKILL);
		(void) tr_test_wait_gone((pid_t) sp->peer.pid, TR_TEST_HANG_MS);
	}
	assert_int_equal(waitpid(kid, &st, 0), kid);
	left_del(kid);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
}

/* ---- bad input ----------------------------------------------------------- */

/* tail -f on a file that is no trace, or turns corrupt; TROUPE_TRACE with
 * a bad number; merge with an option missing. */
static void
test_bad_input_to_the_new_commands(void **state)
{
	char  args[1024], txt[8192];
	FILE *w;

	(void) state;
	w = fopen(tmp("junk.trc"), "w");
	assert_non_null(w);
	fputs("hello, not a trace", w);
	fclose(w);
	snprintf(args, sizeof(args), "trace tail -f --duration 5000 '%s'",
	    tmp("junk.trc"));
	assert_int_equal(run_tool(args, txt, sizeof(txt)), 1);
	assert_non_null(strstr(txt, "not a troupe trace file"));
	/* a good record, then a length over the bound */
	skewed_files(0, false, tmp("good.trc"), tmp("good-b.trc"));
	w = fopen(tmp("good.trc"), "a");
	assert_non_null(w);
	fputs("\xff\xff\x7f", w);
	fclose(w);
	snprintf(args, sizeof(args), "trace tail -f --duration 5000 '%s'",
	    tmp("good.trc"));
	assert_int_equal(run_tool(args, txt, sizeof(txt)), 1);
	assert_non_null(strstr(txt, "corrupt record"));
	assert_non_null(strstr(txt, " send ")); /* what came before */
	assert_int_equal(
	    run_tool("trace record --payload -1 x", txt, sizeof(txt)), 2);
	snprintf(args, sizeof(args), "trace merge '%s'", tmp("good-b.trc"));
	assert_int_equal(run_tool(args, txt, sizeof(txt)), 2); /* no -o */
	/* TROUPE_TRACE=...:payload=abc is not understood: said, no file */
	snprintf(args, sizeof(args),
	    "TROUPE_TRACE='file=%s:payload=abc' '%s' 2>&1", tmp("never.trc"),
	    tr_test_build_path("examples/hello"));
	{
		FILE  *f = popen(args, "r");
		size_t n;

		assert_non_null(f);
		n      = fread(txt, 1, sizeof(txt) - 1, f);
		txt[n] = '\0';
		assert_int_equal(pclose(f), 0);
	}
	assert_non_null(strstr(txt, "not understood"));
	assert_int_not_equal(access(tmp("never.trc"), F_OK), 0);
}

/* ---- main ---------------------------------------------------------------- */

static int
setup(void **state)
{
	(void) state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/tr-trace2-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void) state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	(void) system(cmd);
	return 0;
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(
		    test_node_events_up_then_down, left_kill),
		cmocka_unit_test_teardown(
		    test_node_suspect_then_resumed, left_kill),
		cmocka_unit_test_teardown(
		    test_payload_capture_bounded_and_off_by_default, left_kill),
		cmocka_unit_test_teardown(
		    test_merge_estimates_clock_offsets, left_kill),
		cmocka_unit_test_teardown(
		    test_tail_follows_a_file_being_written_and_rotated,
		    left_kill),
		cmocka_unit_test_teardown(
		    test_long_run_drained_while_it_runs, left_kill),
		cmocka_unit_test_teardown(
		    test_collector_survives_a_killed_main, left_kill),
		cmocka_unit_test_teardown(
		    test_bad_input_to_the_new_commands, left_kill),
	};

	if (argc > 1 && strcmp(argv[1], "--node-child") == 0) {
		return node_child(argc, argv);
	}
	if (argc > 1 && strcmp(argv[1], "--traced-child") == 0) {
		return traced_child(argc, argv);
	}
	if (tr_init(argc, argv) < 0) {
		return 99;
	}
	if (getenv("TR_TEST_FILTER")) {
		cmocka_set_test_filter(getenv("TR_TEST_FILTER"));
	}
	return cmocka_run_group_tests_name(
	    "trace-live", tests, setup, teardown);
}
