/* SPDX-License-Identifier: MIT */
/* `troupe ps` and `troupe tree` through a node (issue 13): tr_node_ps() on
 * this run's node and on another node's, with mailbox depths, starters
 * and names; tr_node_peers(); the troupe command's `tree` and `ps
 * --endpoint/--node`, its help, errors and exit codes.  Node "a" is this
 * test program's run; node "b" is this program run again
 * ("--node-child"), cleaned up by pid. */
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

#include "actor-info.h"
#include "tr-test-node.h"

extern char **environ;

/* ---- actors -------------------------------------------------------------- */

/* Binds its mailbox, registers the name in args (if any), says it is
 * ready, and never receives: what is sent to it stays queued. */
static int
stuck_main(const void *args, size_t len)
{
	char name[64] = "";

	memcpy(name, args, len < sizeof(name) - 1 ? len : sizeof(name) - 1);
	if (tr_self_bind() < 0 || (name[0] && tr_register(name) < 0)) {
		return 10;
	}
	(void) tr_ready();
	sleep(120);
	return 0;
}
TR_ACTOR_FLAGS(stuck, stuck_main, TR_ACTOR_MANUAL_READY)

/* Starts a "stuck" child (named "ps-stuck"), then waits for its end. */
static int
parent_main(const void *args, size_t len)
{
	tr_process *c = NULL;

	(void) args;
	(void) len;
	if (tr_self_bind() < 0 ||
	    tr_process_new(&c, "stuck", "ps-stuck", 8) < 0 ||
	    tr_process_start(c, TR_TEST_HANG_MS) < 0) {
		return 10;
	}
	(void) tr_ready();
	(void) tr_process_join(c, TR_TIMEOUT_INFINITE);
	tr_process_destroy(&c);
	return 0;
}
TR_ACTOR_FLAGS(parent, parent_main, TR_ACTOR_MANUAL_READY)

/* ---- node b, another run ----------------------------------------------- */

/* argv: --node-child NAME PEER */
static int
node_child(int argc, char **argv)
{
	tr_node_options o        = { 0 };
	const char     *peers[2] = { NULL, NULL };
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

static void
kid_start(tr_test_kid *k, const char *name, const char *peer)
{
	char *argv[] = { (char *) "test-node-ps", (char *) "--node-child",
		(char *) name, (char *) peer, NULL };

	tr_test_kid_spawn(k, argv, 0);
	assert_int_equal(sscanf(k->line, "AGENT %d", &k->agent), 1);
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

static const tr_ps_actor *
find(const tr_ps *p, const char *actor, uint32_t parent)
{
	for (size_t i = 0; i < p->nactors; i++) {
		if (strcmp(p->actors[i].actor, actor) == 0 &&
		    (!parent || p->actors[i].parent_pid == parent)) {
			return &p->actors[i];
		}
	}
	return NULL;
}

/* tr_node_ps(node) until actor (started by parent) shows `queued`
 * messages waiting; returns the listing (the caller frees it). */
static tr_ps *
wait_queued(const char *node, const char *actor, uint32_t parent, int queued)
{
	int64_t            end = tr_test_now_ms() + TR_TEST_HANG_MS;
	tr_ps             *p   = NULL;
	const tr_ps_actor *a   = NULL;

	for (;;) {
		TR_ASSERT_OK(tr_node_ps(node, &p, TR_TEST_HANG_MS));
		a = find(p, actor, parent);
		if ((a && a->answered && a->queued == (uint64_t) queued) ||
		    tr_test_now_ms() > end) {
			break;
		}
		tr_ps_free(&p);
		usleep(50000);
	}
	assert_non_null(a);
	assert_true(a->answered);
	assert_int_equal(a->queued, queued);
	return p;
}

static void
send_n(tr_addr to, int n)
{
	for (int i = 0; i < n; i++) {
		TR_ASSERT_OK(tr_send_bytes(to, "x", 1, TR_TEST_HANG_MS));
	}
}

/* parent -> stuck ("ps-stuck") in this run; *cp is the stuck one's pid */
static tr_process *
start_tree(pid_t *cp)
{
	tr_process *p;
	tr_ps      *ps = NULL;

	TR_ASSERT_OK(tr_process_new(&p, "parent", NULL, 0));
	TR_ASSERT_OK(tr_process_start(p, TR_TEST_HANG_MS));
	ps  = wait_queued(NULL, "stuck", (uint32_t) tr_process_pid(p), 0);
	*cp = (pid_t) find(ps, "stuck", (uint32_t) tr_process_pid(p))->addr.pid;
	tr_ps_free(&ps);
	return p;
}

static void
stop_tree(tr_process **p, pid_t c)
{
	kill(c, SIGKILL);
	TR_ASSERT_OK(tr_process_join(*p, TR_TEST_HANG_MS));
	tr_process_destroy(p);
}

/* Run the troupe command with args, its stdout and stderr in out; returns
 * its exit status. */
static int
run_tool(const char *args, char *out, size_t n)
{
	char   cmd[4096];
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
	print_message("troupe %s -> %d\n%s", args, WEXITSTATUS(st), out);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Run a shell command line (trusted), as run_tool(). */
static int
run_sh(const char *line, char *out, size_t n)
{
	char   cmd[4096];
	FILE  *f;
	size_t got;
	int    st;

	snprintf(cmd, sizeof(cmd), "%s 2>&1", line);
	f = popen(cmd, "r");
	assert_non_null(f);
	got      = fread(out, 1, n - 1, f);
	out[got] = '\0';
	st       = pclose(f);
	print_message("%s -> %d\n%s", line, WEXITSTATUS(st), out);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* ---- tests --------------------------------------------------------------- */

/* This run's node: every actor is listed with its starter (the tree:
 * this program -> parent -> stuck), the messages waiting in the stuck
 * actor's mailbox are counted, the agent is there as a daemon, and the
 * run's names are listed. */
static void
test_node_ps_local_depths_and_tree(void **state)
{
	tr_node           *a = start_a();
	tr_ps             *ps;
	tr_process        *p;
	pid_t              c;
	const tr_ps_actor *x;
	bool               named = false;

	(void) state;
	p = start_tree(&c);
	{
		tr_ps  *p0 = wait_queued(NULL, "stuck", 0, 0);
		tr_addr to = find(p0, "stuck", 0)->addr;

		tr_ps_free(&p0);
		to.node = 0;
		send_n(to, 5);
	}
	ps = wait_queued(NULL, "stuck", (uint32_t) tr_process_pid(p), 5);
	assert_string_equal(ps->node, "a");
	assert_int_equal(ps->id, tr_node_id("a"));
	assert_int_equal(ps->run_pid, (uint32_t) getpid());
	x = find(ps, "parent", (uint32_t) getpid());
	assert_non_null(x);
	assert_int_equal(x->addr.pid, (uint32_t) tr_process_pid(p));
	assert_int_equal(x->addr.node, tr_node_id("a"));
	assert_int_equal(x->queued, 0);
	x = find(ps, "troupe.node", (uint32_t) getpid());
	assert_non_null(x);
	assert_true(x->daemon);
	assert_int_equal(x->addr.pid, (uint32_t) tr_node_agent_pid(a));
	for (size_t i = 0; i < ps->nnames; i++) {
		named |= strcmp(ps->names[i].name, "ps-stuck") == 0 &&
		    ps->names[i].addr.pid == (uint32_t) c;
	}
	assert_true(named);
	tr_ps_free(&ps);
	stop_tree(&p, c);
	tr_node_stop(&a);
}

/* Another node's run, through this one: the actor started there by this
 * node is listed under b's agent (its starter) with its mailbox depth and
 * b's id in its address; tr_node_peers() names b; an unknown node is
 * TR_EBADADDR, and so is any node without a node here. */
static void
test_node_ps_remote(void **state)
{
	tr_node           *a = start_a();
	tr_test_kid        b;
	tr_addr            s;
	tr_ps             *ps = NULL;
	tr_node_peer       pl[4];
	const tr_ps_actor *x;
	int64_t            end = tr_test_now_ms() + TR_TEST_HANG_MS;

	(void) state;
	kid_start(&b, "b", tr_node_endpoint(a));
	while (tr_node_is_up("b", TR_TEST_HANG_MS) != 1 &&
	    tr_test_now_ms() < end) {
		usleep(20000);
	}
	assert_int_equal(tr_node_peers(pl, 4, TR_TEST_HANG_MS), 1);
	assert_string_equal(pl[0].name, "b");
	assert_int_equal(pl[0].id, tr_node_id("b"));
	assert_true(pl[0].up);
	TR_ASSERT_OK(tr_node_spawn("b", "stuck", NULL, 0, &s, TR_TEST_HANG_MS));
	send_n(s, 3);
	ps = wait_queued("b", "stuck", (uint32_t) b.agent, 3);
	assert_string_equal(ps->node, "b");
	assert_int_equal(ps->run_pid, (uint32_t) b.pid);
	x = find(ps, "stuck", (uint32_t) b.agent);
	assert_int_equal(x->addr.pid, s.pid);
	assert_int_equal(x->addr.incarnation, s.incarnation);
	assert_int_equal(x->addr.node, tr_node_id("b"));
	tr_ps_free(&ps);
	{
		/* asked straight from this node, b's actor does not say: an
		 * actor's account of itself is for its own run only (and its
		 * own agent still gets it: the listing above) */
		struct tri_ainfo in;
		int64_t          until = tr_test_now_ms() + 1500;

		TR_ASSERT_OK(tri_ainfo_ask(s));
		while (tr_test_now_ms() < until) {
			assert_int_equal(tri_ainfo_take(s, &in), 0);
			usleep(50000);
		}
	}
	TR_ASSERT_ERR(tr_node_ps("nosuch", &ps, TR_TEST_HANG_MS), TR_EBADADDR);
	assert_null(ps);
	tr_test_kid_stop(&b);
	tr_node_stop(&a);
	TR_ASSERT_ERR(tr_node_ps(NULL, &ps, 1000), TR_EBADADDR);
	TR_ASSERT_ERR(tr_node_peers(pl, 4, 1000), TR_EBADADDR);
}

/* The troupe command: `tree --endpoint` draws parent under this program's
 * run and stuck under parent with its depth; `ps --endpoint --node b`
 * reaches b through a; `tree --node b` alone finds b's node among this
 * host's runs; --help, bad options (2) and an endpoint where no node
 * listens (1, said why). */
static void
test_troupe_tree_and_ps_commands(void **state)
{
	tr_node    *a = start_a();
	tr_test_kid b;
	tr_process *p;
	pid_t       c;
	tr_ps      *ps;
	tr_addr     to;
	char        out[16384], args[1200], want[128], *pl, *sl;
	char        base[256];
	char        old_base[512] = "";
	bool        had_base      = getenv("TROUPE_RUNTIME_DIR") != NULL;

	(void) state;
	if (had_base) {
		snprintf(old_base, sizeof(old_base), "%s",
		    getenv("TROUPE_RUNTIME_DIR"));
	}
	p  = start_tree(&c);
	ps = wait_queued(NULL, "stuck", 0, 0);
	to = find(ps, "stuck", 0)->addr;
	tr_ps_free(&ps);
	to.node = 0;
	send_n(to, 2);
	ps = wait_queued(NULL, "stuck", 0, 2);
	tr_ps_free(&ps);

	snprintf(args, sizeof(args), "tree --endpoint %s", tr_node_endpoint(a));
	assert_int_equal(run_tool(args, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "node a (id "));
	snprintf(want, sizeof(want), "+-- %u.%d.", (unsigned) tr_node_id("a"),
	    (int) tr_process_pid(p));
	pl = strstr(out, want);
	assert_non_null(pl);
	assert_non_null(strstr(pl, "parent"));
	snprintf(want, sizeof(want), "    +-- %u.%d.",
	    (unsigned) tr_node_id("a"), (int) c);
	sl = strstr(out, want); /* one level deeper, after its parent */
	assert_non_null(sl);
	assert_true(sl > pl);
	assert_non_null(strstr(sl, "stuck queued 2 "));

	/* b's run in a runtime base of its own, so that `--node b` alone
	 * finds b's node on this host (and no other run's) */
	snprintf(base, sizeof(base), "%s/tr-ps-XXXXXX", tr_test_tmpdir());
	assert_non_null(mkdtemp(base));
	setenv("TROUPE_RUNTIME_DIR", base, 1);
	kid_start(&b, "b", tr_node_endpoint(a));
	if (had_base) {
		setenv("TROUPE_RUNTIME_DIR", old_base, 1);
	} else {
		unsetenv("TROUPE_RUNTIME_DIR");
	}
	snprintf(args, sizeof(args), "ps --endpoint %s --node b",
	    tr_node_endpoint(a));
	assert_int_equal(run_tool(args, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "node b (id "));
	assert_non_null(strstr(out, "QUEUED"));
	assert_non_null(strstr(out, "troupe.node (daemon)"));
	snprintf(args, sizeof(args),
	    "TROUPE_RUNTIME_DIR='%s' '%s' tree --node b", base,
	    tr_test_build_path("tools/troupe"));
	assert_int_equal(run_sh(args, out, sizeof(out)), 0);
	snprintf(want, sizeof(want), "node b (id %u): run of pid %d",
	    (unsigned) tr_node_id("b"), (int) b.pid);
	assert_non_null(strstr(out, want));
	snprintf(want, sizeof(want), "pid %d troupe.node (daemon) queued ",
	    (int) b.agent);
	assert_non_null(strstr(out, want));
	tr_test_kid_stop(&b);
	{
		/* b's run leaves nothing there once its tracker is done */
		int64_t end = tr_test_now_ms() + TR_TEST_HANG_MS;

		while (rmdir(base) < 0 && tr_test_now_ms() < end) {
			usleep(20000);
		}
		assert_int_equal(access(base, F_OK), -1);
	}

	assert_int_equal(run_tool("tree --help", out, sizeof(out)), 0);
	assert_non_null(strstr(out, "usage: troupe tree"));
	assert_int_equal(run_tool("ps --help", out, sizeof(out)), 0);
	assert_non_null(strstr(out, "usage: troupe ps"));
	assert_int_equal(run_tool("tree --frob 1", out, sizeof(out)), 2);
	assert_non_null(strstr(out, "unknown option '--frob'"));
	assert_int_equal(
	    run_tool("tree --node 'bad name'", out, sizeof(out)), 2);
	assert_int_equal(
	    run_tool("ps --endpoint ipc:///x", out, sizeof(out)), 2);
	assert_int_equal(
	    run_tool("tree --timeout x --node a", out, sizeof(out)), 2);
	assert_int_equal(run_tool("tree --endpoint tcp://127.0.0.1:1 "
	                          "--timeout 1500",
	                     out, sizeof(out)),
	    1);
	assert_non_null(strstr(out, "not connected"));
	stop_tree(&p, c);
	tr_node_stop(&a);
}

/* With CURVE: the tool joins a node that has its public key on the
 * allowlist (--secret-file, the node's key after #); without the key on
 * the list it is refused and says so (exit 1). */
static void
test_troupe_ps_with_curve(void **state)
{
	char            pa[41], sa[41], pt[41], st[41], px[41], sx[41];
	const char     *allow[] = { pt, NULL };
	tr_node_options o       = { .name = "a" };
	tr_node        *a       = NULL;
	char            dir[128], key[200], bad[200], args[1200];
	char            out[16384];
	FILE           *f;

	(void) state;
	assert_int_equal(zmq_curve_keypair(pa, sa), 0);
	assert_int_equal(zmq_curve_keypair(pt, st), 0);
	assert_int_equal(zmq_curve_keypair(px, sx), 0);
	o.curve_secret_key = sa;
	o.curve_public_key = pa;
	o.allowed_keys     = allow;
	TR_ASSERT_OK(tr_node_start(&o, &a, TR_TEST_HANG_MS));
	snprintf(dir, sizeof(dir), "%s/tr-ps-key-XXXXXX", tr_test_tmpdir());
	assert_non_null(mkdtemp(dir));
	snprintf(key, sizeof(key), "%s/tool.key", dir);
	snprintf(bad, sizeof(bad), "%s/other.key", dir);
	f = fopen(key, "w");
	assert_non_null(f);
	fprintf(f, "%s\n", st);
	fclose(f);
	f = fopen(bad, "w");
	assert_non_null(f);
	fprintf(f, "%s\n", sx);
	fclose(f);

	snprintf(args, sizeof(args), "ps --endpoint '%s#%s' --secret-file '%s'",
	    tr_node_endpoint(a), pa, key);
	assert_int_equal(run_tool(args, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "node a (id "));
	assert_non_null(strstr(out, "troupe.node (daemon)"));
	snprintf(args, sizeof(args),
	    "ps --endpoint '%s#%s' --secret-file '%s' --timeout 2000",
	    tr_node_endpoint(a), pa, bad);
	assert_int_equal(run_tool(args, out, sizeof(out)), 1);
	assert_non_null(strstr(out, "not connected"));
	snprintf(args, sizeof(args), "ps --endpoint '%s#%s' --secret-file '%s'",
	    tr_node_endpoint(a), pa, dir); /* a directory: no key in it */
	assert_int_equal(run_tool(args, out, sizeof(out)), 1);
	assert_non_null(strstr(out, "cannot read a Z85 secret key"));
	tr_node_stop(&a);
	assert_int_equal(unlink(key), 0);
	assert_int_equal(unlink(bad), 0);
	assert_int_equal(rmdir(dir), 0);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_node_ps_local_depths_and_tree),
		cmocka_unit_test(test_node_ps_remote),
		cmocka_unit_test(test_troupe_tree_and_ps_commands),
		cmocka_unit_test(test_troupe_ps_with_curve),
	};

	if (argc > 1 && strcmp(argv[1], "--node-child") == 0) {
		return node_child(argc, argv);
	}
	if (tr_init(argc, argv) < 0) {
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
