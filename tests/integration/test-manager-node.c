/* SPDX-License-Identifier: MIT */
/* The Manager across nodes (issue 11 with issue 13's distribution): node
 * "a" is this test program's run, holding the manager; node "b" is this
 * program run again (--node-child), whose actor reaches the manager by
 * its global address, authenticates, and uses a dict, a list and a Lock.
 * Killing node b releases the Lock its client held: the manager's monitor
 * of the client gets DOWN noconnection, and the next acquirer is told
 * TR_LOCK_OWNER_DIED.  A wrong key from the other node is refused. */
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

/* args: "WHERE KEY DICT LIST LOCK PARENT": d['from'] = 'b', append 'b'
 * to the list, take the Lock, report the results to PARENT ("0 0 0" on
 * success), then sleep holding it until killed.  With a wrong KEY it
 * reports the connect's error. */
static int
mclient_main(const void *args, size_t len)
{
	char        where[80], key[80], dr[80], lr[80], kr[80];
	char        ptxt[TR_ADDR_STRLEN], buf[64];
	tr_manager *m = NULL;
	tr_mobj    *d = NULL, *l = NULL, *k = NULL;
	tr_mval    *kf = tr_mval_str("from"), *vb = tr_mval_str("b");
	tr_addr     parent;
	int         r1 = 0, r2 = 0, r3 = 0;

	(void) len;
	if (sscanf(args, "%79s %79s %79s %79s %79s %47s", where, key, dr, lr,
	        kr, ptxt) != 6 ||
	    tr_addr_parse(ptxt, &parent) < 0) {
		return 10;
	}
	r1 = tr_manager_connect(&m, where, key);
	/* a cluster-wide name reaches this node soon after the node is up
	 * (eventually consistent): a name not known yet is asked again */
	for (int i = 0; r1 == TR_ENOTFOUND && i < 60; i++) {
		usleep(50 * 1000);
		r1 = tr_manager_connect(&m, where, key);
	}
	if (r1 == 0) {
		r1 = tr_mobj_open(&d, m, dr);
		r1 = r1 < 0 ? r1 : tr_mobj_open(&l, m, lr);
		r1 = r1 < 0 ? r1 : tr_mobj_open(&k, m, kr);
		r1 = r1 < 0 ? r1 : tr_mdict_set(d, kf, vb);
		r2 = r1 < 0 ? r1 : tr_mlist_append(l, vb);
		r3 = r2 < 0 ? r2 : tr_mlock_acquire(k, TR_TEST_HANG_MS);
	}
	snprintf(buf, sizeof(buf), "%d %d %d", r1, r2, r3);
	(void) tr_send_bytes(parent, buf, strlen(buf) + 1, TR_TEST_HANG_MS);
	tr_mval_destroy(&kf);
	tr_mval_destroy(&vb);
	if (r3 == 0 && r1 == 0) {
		sleep(60); /* holding the lock, until the node is killed */
	}
	tr_mobj_destroy(&d);
	tr_mobj_destroy(&l);
	tr_mobj_destroy(&k);
	tr_manager_destroy(&m);
	return 0;
}
TR_ACTOR(mclient, mclient_main)

/* ---- node children (as test-node.c's) ----------------------------------- */

/* argv: --node-child NAME PEER */
static int
node_child(int argc, char **argv)
{
	tr_node_options o        = { 0 };
	const char     *peers[2] = { NULL, NULL };
	tr_node        *n        = NULL;
	char            buf[16];
	int             r;

	if (tr_init(argc, argv) < 0 || argc < 4) {
		return 99;
	}
	o.name   = argv[2];
	peers[0] = argv[3];
	o.peers  = peers;
	r        = tr_node_start(&o, &n, TR_TEST_HANG_MS);
	if (r < 0) {
		printf("ERR %d\n", r);
		fflush(stdout);
		return 98;
	}
	printf("EP %s AGENT %d\n", tr_node_endpoint(n),
	    (int) tr_node_agent_pid(n));
	fflush(stdout);
	while (read(0, buf, sizeof(buf)) > 0) { }
	tr_node_stop(&n);
	return 0;
}

static void
kid_start(tr_test_kid *k, const char *name, const char *peer)
{
	char *argv[] = { (char *) "test-manager-node", (char *) "--node-child",
		(char *) name, (char *) peer, NULL };

	tr_test_kid_spawn(k, argv, 0);
	if (sscanf(k->line, "EP %255s AGENT %d", k->ep, &k->agent) != 2) {
		print_error("node child %s said: %s\n", name, k->line);
		fail();
	}
}

static tr_node *
start_a(void)
{
	tr_node_options o = { 0 };
	tr_node        *n = NULL;

	o.name = "a";
	TR_ASSERT_OK(tr_node_start(&o, &n, TR_TEST_HANG_MS));
	return n;
}

/* Start mclient on node b with the manager's global address (or, with
 * `name`, that name) and key. */
static void
spawn_client_at(tr_manager *m, const char *name, const char *key, tr_mobj *d,
    tr_mobj *l, tr_mobj *k, char *report, size_t n)
{
	char    args[512], mtxt[TR_ADDR_STRLEN], ptxt[TR_ADDR_STRLEN];
	tr_addr ma, me, c;
	tr_msg *msg = NULL;

	TR_ASSERT_OK(tr_node_global_addr(tr_manager_addr(m), &ma));
	TR_ASSERT_OK(tr_node_global_addr(tr_self(), &me));
	snprintf(args, sizeof(args), "%s %s %s %s %s %s",
	    name ? name : tr_addr_format(ma, mtxt, sizeof(mtxt)), key,
	    tr_mobj_ref(d), tr_mobj_ref(l), tr_mobj_ref(k),
	    tr_addr_format(me, ptxt, sizeof(ptxt)));
	TR_ASSERT_OK(tr_node_spawn(
	    "b", "mclient", args, strlen(args) + 1, &c, TR_TEST_HANG_MS));
	TR_ASSERT_OK(tr_recv(&msg, TR_TEST_HANG_MS));
	snprintf(report, n, "%s", (const char *) tr_msg_data(msg));
	tr_msg_destroy(&msg);
}

static void
spawn_client(tr_manager *m, const char *key, tr_mobj *d, tr_mobj *l, tr_mobj *k,
    char *report, size_t n)
{
	spawn_client_at(m, NULL, key, d, l, k, report, n);
}

/* A manager started with .global and a name is found by that name from
 * another node; its name goes with it. */
static void
test_manager_by_cluster_wide_name(void **state)
{
	tr_manager_opts o = { .name = "gmgr", .global = true };
	tr_node        *a;
	tr_test_kid     b;
	tr_manager     *m;
	tr_mobj        *d, *l, *k;
	tr_mval        *got = NULL, *key = tr_mval_str("from");
	tr_addr         w;
	char            report[64];

	(void) state;
	/* no node in this run yet: the name cannot go cluster-wide */
	TR_ASSERT_ERR(tr_manager_start(&m, &o), TR_EBADADDR);
	a = start_a();
	TR_ASSERT_OK(tr_manager_start(&m, &o));
	TR_ASSERT_OK(tr_node_whereis_global("gmgr", &w, TR_TEST_HANG_MS));
	assert_true(tr_addr_eq(w, tr_manager_addr(m)));
	TR_ASSERT_OK(tr_mobj_new(&d, m, TR_MOBJ_DICT, NULL, NULL));
	TR_ASSERT_OK(tr_mobj_new(&l, m, TR_MOBJ_LIST, NULL, NULL));
	TR_ASSERT_OK(tr_mobj_new(&k, m, TR_MOBJ_LOCK, NULL, NULL));
	kid_start(&b, "b", tr_node_endpoint(a));
	tr_test_node_wait_up("b", 1);
	spawn_client_at(
	    m, "gmgr", tr_manager_authkey(m), d, l, k, report, sizeof(report));
	assert_string_equal(report, "0 0 0");
	TR_ASSERT_OK(tr_mdict_get(d, key, &got));
	assert_string_equal(tr_mval_get_str(got), "b");
	tr_mval_destroy(&got);
	tr_test_kid_kill(&b);
	TR_ASSERT_ERR(tr_mlock_acquire(k, TR_TEST_HANG_MS), TR_LOCK_OWNER_DIED);
	TR_ASSERT_OK(tr_mlock_release(k));
	tr_test_node_wait_up("b", 0);
	tr_mval_destroy(&key);
	tr_mobj_destroy(&d);
	tr_mobj_destroy(&l);
	tr_mobj_destroy(&k);
	tr_manager_destroy(&m);
	/* the manager's end frees the name */
	for (int i = 0; i < 100 &&
	     tr_node_whereis_global("gmgr", &w, TR_TEST_HANG_MS) == 0;
	     i++) {
		usleep(20 * 1000);
	}
	TR_ASSERT_ERR(
	    tr_node_whereis_global("gmgr", &w, TR_TEST_HANG_MS), TR_ENOTFOUND);
	tr_node_stop(&a);
}

static void
test_manager_from_another_node(void **state)
{
	tr_node    *a = start_a();
	tr_test_kid b;
	tr_manager *m;
	tr_mobj    *d, *l, *k;
	tr_mval    *got = NULL, *key = tr_mval_str("from");
	char        report[64], *s, bad[TR_MANAGER_KEY_LEN + 1];

	(void) state;
	TR_ASSERT_OK(tr_manager_start(&m, NULL));
	TR_ASSERT_OK(tr_mobj_new(&d, m, TR_MOBJ_DICT, NULL, NULL));
	TR_ASSERT_OK(tr_mobj_new(&l, m, TR_MOBJ_LIST, NULL, NULL));
	TR_ASSERT_OK(tr_mobj_new(&k, m, TR_MOBJ_LOCK, "k", NULL));
	kid_start(&b, "b", tr_node_endpoint(a));
	tr_test_node_wait_up("b", 1);

	/* a wrong key from node b is refused */
	TR_ASSERT_OK(tr_manager_authkey_new(bad, sizeof(bad)));
	spawn_client(m, bad, d, l, k, report, sizeof(report));
	snprintf(bad, sizeof(bad), "%d 0 0", TR_EAUTH);
	assert_string_equal(report, bad);

	/* the right key: dict, list and Lock from node b */
	spawn_client(m, tr_manager_authkey(m), d, l, k, report, sizeof(report));
	assert_string_equal(report, "0 0 0");
	TR_ASSERT_OK(tr_mdict_get(d, key, &got));
	assert_string_equal(tr_mval_get_str(got), "b");
	tr_mval_destroy(&got);
	TR_ASSERT_OK(tr_mobj_repr(l, &s));
	assert_string_equal(s, "['b']");
	free(s);
	TR_ASSERT_ERR(tr_mlock_acquire(k, 0), -EAGAIN);

	/* node b killed: its client's lock comes back, and says so */
	tr_test_kid_kill(&b);
	TR_ASSERT_ERR(tr_mlock_acquire(k, TR_TEST_HANG_MS), TR_LOCK_OWNER_DIED);
	TR_ASSERT_OK(tr_mlock_release(k));
	tr_test_node_wait_up("b", 0);
	tr_mval_destroy(&key);
	tr_mobj_destroy(&d);
	tr_mobj_destroy(&l);
	tr_mobj_destroy(&k);
	tr_manager_destroy(&m);
	tr_node_stop(&a);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_manager_from_another_node),
		cmocka_unit_test(test_manager_by_cluster_wide_name),
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
	return cmocka_run_group_tests_name("manager-node", tests, NULL, NULL);
}
