/* SPDX-License-Identifier: MIT */
/* The multi-host suite (issue 13): nodes in network namespaces joined by
 * veths and a bridge (tests/netns/netns-lab.sh, made and removed by
 * run-netns.sh around this program; root only, skipped elsewhere), with
 * CURVE on, as a cluster on three hosts would be.  Each host runs this
 * program as a node ("--host", driven by lines on its stdin); this test
 * process stays in its own namespace and only drives them, cuts links with
 * nftables in the bridge's namespace, and kills hosts by pid.
 *
 * Scenarios: a whole host killed, a host cut off both ways and healed, a
 * one-way cut, 10% random loss both ways for 30 s with messages flowing, a
 * node with a key nobody allows. */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <zmq.h>

#include "tr-test.h"

extern char **environ;

#define NHOSTS    3
#define DETECT_MS 2000 /* the scenarios' detection time ... */

/* ... except the loss test's, which runs at the default (0: 3 s) */
static int detect_ms = DETECT_MS;
#define PORT 7000

/* ---- the host program (in a namespace) ---------------------------------- */

/* Answers calls with their payload, sends other messages back. */
static int
echo_main(const void *args, size_t len)
{
	(void) args;
	(void) len;
	for (;;) {
		tr_msg *m = NULL;

		if (tr_recv(&m, TR_TIMEOUT_INFINITE) < 0) {
			return 1;
		}
		if (tr_msg_is_system(m)) {
			tr_msg_destroy(&m);
			continue;
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

/* DOWNs this host's driver has seen, whatever command read them. */
static struct {
	uint64_t ref;
	int      cls;
	int64_t  at;
} downs[256];
static int ndowns;

static void
note(tr_msg *m)
{
	tr_down d;

	if (tr_msg_down(m, &d) == 0 &&
	    ndowns < (int) (sizeof(downs) / sizeof(downs[0]))) {
		downs[ndowns].ref = d.ref;
		downs[ndowns].cls = d.exit_class;
		downs[ndowns].at  = tr_test_now_ms();
		ndowns++;
	}
	tr_msg_destroy(&m);
}

static int
find_down(uint64_t ref)
{
	for (int i = 0; i < ndowns; i++) {
		if (downs[i].ref == ref) {
			return i;
		}
	}
	return -1;
}

/* Send n numbered messages to the echo at `to`, spread over ms, reading
 * the echoes as they come; then a call (its reply comes after every echo,
 * on the same pair) and the rest. */
static void
flood(tr_addr to, int n, int ms)
{
	int64_t start = tr_test_now_ms();
	int     next = 0, got = 0, gaps = 0, disorder = 0, before = ndowns;
	int     r = 0;
	tr_msg *q = NULL, *rep = NULL;

	for (int i = 0; i <= n; i++) {
		int64_t due = start + (int64_t) ms * i / (n ? n : 1);

		for (;;) {
			tr_msg *m    = NULL;
			int64_t left = due - tr_test_now_ms();

			if (tr_recv(&m, left > 0 ? (int) left : 0) < 0) {
				break;
			}
			if (tr_msg_is_system(m)) {
				note(m);
				continue;
			}
			{
				char t[16] = "";
				int  v;

				memcpy(t, tr_msg_data(m),
				    tr_msg_size(m) < 15 ? tr_msg_size(m) : 15);
				v = atoi(t);
				if (v == next) {
					next++;
				} else if (v > next) {
					gaps += v - next;
					next = v + 1;
				} else {
					disorder++;
				}
				got++;
			}
			tr_msg_destroy(&m);
		}
		if (i < n) {
			char t[16];

			snprintf(t, sizeof(t), "%d", i);
			r = tr_send_bytes(to, t, strlen(t), TR_TEST_HANG_MS);
			if (r < 0) {
				break;
			}
		}
	}
	if (r == 0 && tr_msg_new_bytes(&q, "sync", 4) == 0) {
		r = tr_call(to, &q, &rep, TR_TEST_HANG_MS);
		tr_msg_destroy(&q);
		tr_msg_destroy(&rep);
	}
	for (;;) {
		tr_msg *m     = NULL;
		char    t[16] = "";
		int     v;

		if (tr_recv(&m, 0) < 0) {
			break;
		}
		if (tr_msg_is_system(m)) {
			note(m);
			continue;
		}
		memcpy(t, tr_msg_data(m),
		    tr_msg_size(m) < 15 ? tr_msg_size(m) : 15);
		v = atoi(t);
		if (v == next) {
			next++;
		} else if (v > next) {
			gaps += v - next;
			next = v + 1;
		} else {
			disorder++;
		}
		got++;
		tr_msg_destroy(&m);
	}
	printf("FLOOD err=%d got=%d gaps=%d disorder=%d downs=%d\n", r, got,
	    gaps, disorder, ndowns - before);
}

/* One command line, one answer line (see the driver below). */
static bool
host_do(char *line)
{
	char    cmd[32] = "", a1[256] = "", a2[256] = "";
	int     n = sscanf(line, "%31s %255s %255s", cmd, a1, a2);
	tr_addr addr;

	if (n < 1) {
		printf("ERR empty\n");
	} else if (strcmp(cmd, "quit") == 0) {
		return false;
	} else if (strcmp(cmd, "up") == 0 || strcmp(cmd, "gone") == 0) {
		/* up|gone NODE MS: wait until it is (not) connected */
		int     want = strcmp(cmd, "up") == 0;
		int64_t t0 = tr_test_now_ms(), end = t0 + atoi(a2);
		int     r;

		while ((r = tr_node_is_up(a1, 5000)) != want &&
		    tr_test_now_ms() < end) {
			usleep(20000);
		}
		printf("%s %d %" PRId64 "\n", r == want ? "YES" : "NO", r,
		    tr_test_now_ms() - t0);
	} else if (strcmp(cmd, "spawn") == 0) {
		int  r = tr_node_spawn(a1, a2, NULL, 0, &addr, 10000);
		char txt[TR_ADDR_STRLEN];

		if (r == 0) {
			printf("ADDR %s\n",
			    tr_addr_format(addr, txt, sizeof(txt)));
		} else {
			printf("ERR %d\n", r);
		}
	} else if (strcmp(cmd, "monitor") == 0) {
		uint64_t ref = 0;

		if (tr_addr_parse(a1, &addr) < 0 ||
		    tr_monitor(addr, &ref) < 0) {
			printf("ERR monitor\n");
		} else {
			printf("REF %" PRIu64 "\n", ref);
		}
	} else if (strcmp(cmd, "waitdown") == 0) {
		/* waitdown REF MS: the DOWN of that monitor, and how long
		 * after this command it came (0 if it came before) */
		uint64_t ref = strtoull(a1, NULL, 10);
		int64_t  t0 = tr_test_now_ms(), end = t0 + atoi(a2);
		int      i;

		while ((i = find_down(ref)) < 0 && tr_test_now_ms() < end) {
			tr_msg *m = NULL;

			if (tr_recv(&m, (int) (end - tr_test_now_ms())) == 0) {
				if (tr_msg_is_system(m)) {
					note(m);
				} else {
					tr_msg_destroy(&m);
				}
			}
		}
		if (i < 0) {
			printf("NONE\n");
		} else {
			printf("DOWN %s %" PRId64 "\n",
			    tr_exit_class_name(downs[i].cls),
			    downs[i].at > t0 ? downs[i].at - t0 : 0);
		}
	} else if (strcmp(cmd, "call") == 0) {
		tr_msg *q = NULL, *rep = NULL;
		int     r = tr_addr_parse(a1, &addr);

		if (r == 0) {
			r = tr_msg_new_bytes(&q, a2, strlen(a2));
		}
		if (r == 0) {
			r = tr_call(addr, &q, &rep, 10000);
		}
		if (r == 0) {
			printf("REP %.*s\n", (int) tr_msg_size(rep),
			    (const char *) tr_msg_data(rep));
		} else {
			printf("ERR %d\n", r);
		}
		tr_msg_destroy(&q);
		tr_msg_destroy(&rep);
	} else if (strcmp(cmd, "flood") == 0) {
		/* flood ADDR N,MS */
		int cnt = 0, ms = 0;

		if (tr_addr_parse(a1, &addr) < 0 ||
		    sscanf(a2, "%d,%d", &cnt, &ms) != 2) {
			printf("ERR flood\n");
		} else {
			flood(addr, cnt, ms);
		}
	} else if (strcmp(cmd, "stats") == 0) {
		tr_node_stats st;
		int           r = tr_node_stats_get(NULL, &st, 5000);

		printf("STATS %d received=%" PRIu64 " refused=%" PRIu64
		       " lost=%" PRIu64 " dropped=%" PRIu64 " peers_up=%d\n",
		    r, st.received, st.refused, st.lost, st.dropped,
		    st.peers_up);
	} else {
		printf("ERR unknown command %s\n", cmd);
	}
	fflush(stdout);
	return true;
}

/* argv: --host NAME LISTEN SECRET PUBLIC ALLOW1,ALLOW2,... PEER|- DETECT_MS
 * (0: the default) */
static int
host_main(int argc, char **argv)
{
	tr_node_options o        = { 0 };
	const char     *peers[2] = { NULL, NULL }, *allow[NHOSTS + 2] = { 0 };
	char            line[1024], *save                             = NULL;
	tr_node        *n  = NULL;
	int             na = 0, r;

	if (argc != 9 || tr_init(argc, argv) < 0) {
		return 99;
	}
	tr_log_set_level(TR_LOG_INFO);
	o.name             = argv[2];
	o.listen           = argv[3];
	o.curve_secret_key = argv[4];
	o.curve_public_key = argv[5];
	for (char *k = strtok_r(argv[6], ",", &save); k && na < NHOSTS + 1;
	     k       = strtok_r(NULL, ",", &save)) {
		allow[na++] = k;
	}
	o.allowed_keys = allow;
	peers[0]       = strcmp(argv[7], "-") ? argv[7] : NULL;
	o.peers        = peers;
	o.detect_ms    = atoi(argv[8]);
	o.cookie       = "netns";
	r              = tr_node_start(&o, &n, TR_TEST_HANG_MS);
	if (r < 0) {
		printf("ERR %d\n", r);
		return 98;
	}
	printf("EP %s\n", tr_node_endpoint(n));
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin) && host_do(line)) { }
	tr_node_stop(&n);
	return 0;
}

/* ---- the driver (in the test's own namespace) -----------------------------
 */

struct host {
	pid_t pid;
	int   in, out;
	char  ns[64], ep[256], log[256];
	char  pub[41], sec[41];
};

static const char *prefix;
static char        exe[4096];
static struct host hosts[NHOSTS + 1]; /* 1..NHOSTS, plus the stranger */

static void
sh(const char *fmt, ...)
{
	char    cmd[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd) != 0) {
		print_error("command failed: %s\n", cmd);
		fail();
	}
}

/* nft in the bridge's namespace, on the lab's chain */
#define NFT(...) sh("ip netns exec %ssw nft " __VA_ARGS__)

/* The packets the lab's counting rule dropped so far (-1: none). */
static long
nft_dropped(void)
{
	char  c[256], line[512];
	FILE *f;
	long  n = -1;

	snprintf(c, sizeof(c),
	    "ip netns exec %ssw nft list chain bridge "
	    "trlab xfwd",
	    prefix);
	f = popen(c, "r");
	while (f && fgets(line, sizeof(line), f)) {
		char *p = strstr(line, "counter packets ");

		if (p) {
			n = atol(p + 16);
		}
	}
	if (f) {
		pclose(f);
	}
	return n;
}

static void
heal(void)
{
	NFT("flush chain bridge trlab xfwd", prefix);
}

/* One line from the host, waiting up to ms. */
static void
host_line(struct host *h, char *buf, size_t n, int ms)
{
	size_t len = 0;

	buf[0] = '\0';
	while (len + 1 < n) {
		struct pollfd p = { h->out, POLLIN, 0 };
		ssize_t       k;

		if (poll(&p, 1, ms) <= 0) {
			break;
		}
		k = read(h->out, buf + len, 1);
		if (k <= 0 || buf[len] == '\n') {
			break;
		}
		len++;
	}
	buf[len] = '\0';
}

static void
host_start(int i, const char *name, const char *peer)
{
	struct host               *h = &hosts[i];
	char                       listen[64], allow[4 * 41 + 8] = "", det[16];
	int                        in[2], out[2], logfd;
	posix_spawn_file_actions_t fa;
	char *argv[] = { (char *) "ip", (char *) "netns", (char *) "exec",
		h->ns, exe, (char *) "--host", (char *) name, listen, h->sec,
		h->pub, allow, (char *) (peer ? peer : "-"), det, NULL };

	snprintf(listen, sizeof(listen), "tcp://10.77.0.%d:%d", i, PORT);
	snprintf(det, sizeof(det), "%d", detect_ms);
	for (int k = 1; k <= NHOSTS; k++) { /* the stranger is not allowed */
		strcat(allow, hosts[k].pub);
		strcat(allow, k < NHOSTS ? "," : "");
	}
	snprintf(h->log, sizeof(h->log), "%s/netns-%s-%d.log", tr_test_tmpdir(),
	    name, (int) getpid());
	logfd = open(h->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(logfd >= 0);
	assert_int_equal(pipe2(in, O_CLOEXEC), 0);
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_adddup2(&fa, logfd, 2);
	assert_int_equal(
	    posix_spawnp(&h->pid, "ip", &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(in[0]);
	close(out[1]);
	close(logfd);
	h->in  = in[1];
	h->out = out[0];
	{
		char line[512];

		host_line(h, line, sizeof(line), TR_TEST_HANG_MS);
		if (sscanf(line, "EP %255s", h->ep) != 1) {
			print_error("host %s said: '%s' (log %s)\n", name, line,
			    h->log);
			fail();
		}
	}
}

/* The peer spec to join host i: its endpoint and public key. */
static const char *
peer_of(int i, char *buf, size_t n)
{
	snprintf(buf, n, "%s#%s", hosts[i].ep, hosts[i].pub);
	return buf;
}

static void
cmd(int i, char *reply, size_t n, int ms, const char *fmt, ...)
{
	char    line[600];
	va_list ap;
	int     len;

	va_start(ap, fmt);
	len = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	line[len++] = '\n';
	assert_int_equal(write(hosts[i].in, line, (size_t) len), len);
	host_line(&hosts[i], reply, n, ms);
	print_message("h%d: %.*s-> %s\n", i, len - 1, line, reply);
}

/* The runtime directory of the run of pid (gone), which its tracker,
 * killed with it, could not remove: troupe-PID-XXXXXX in the base the
 * runtime uses. */
static void
rundir_remove(pid_t pid)
{
	const char *bases[] = { getenv("TROUPE_RUNTIME_DIR"),
		getenv("XDG_RUNTIME_DIR"), "/tmp" };
	char        pat[512];
	glob_t      g;

	for (size_t b = 0; b < sizeof(bases) / sizeof(bases[0]); b++) {
		if (!bases[b] || !bases[b][0]) {
			continue;
		}
		snprintf(pat, sizeof(pat), "%s/troupe-%d-??????", bases[b],
		    (int) pid);
		if (glob(pat, 0, NULL, &g) == 0) {
			for (size_t k = 0; k < g.gl_pathc; k++) {
				char c[600];

				snprintf(
				    c, sizeof(c), "rm -rf '%s'", g.gl_pathv[k]);
				(void) system(c);
			}
			globfree(&g);
		}
		if (b == 0) {
			break; /* the runtime uses this one alone */
		}
	}
}

/* Every process of host i's namespace, SIGKILLed by pid. */
static void
host_kill(int i)
{
	char  path[128], line[64];
	FILE *f;
	int   st;

	snprintf(path, sizeof(path), "ip netns pids %s", hosts[i].ns);
	f = popen(path, "r");
	while (f && fgets(line, sizeof(line), f)) {
		pid_t p = (pid_t) atoi(line);

		if (p > 1) {
			kill(p, SIGKILL);
		}
	}
	if (f) {
		pclose(f);
	}
	if (hosts[i].pid > 0) {
		kill(hosts[i].pid, SIGKILL);
		(void) waitpid(hosts[i].pid, &st, 0);
		rundir_remove(hosts[i].pid);
		hosts[i].pid = 0;
	}
	if (hosts[i].in >= 0) {
		close(hosts[i].in);
		close(hosts[i].out);
		hosts[i].in = hosts[i].out = -1;
	}
}

/* Stop host i cleanly ("quit"), else kill it; its log is removed. */
static void
host_stop(int i)
{
	int st;

	if (hosts[i].pid > 0) {
		(void) write(hosts[i].in, "quit\n", 5);
		if (tr_test_wait_gone(hosts[i].pid, 10000) == 1) {
			(void) waitpid(hosts[i].pid, &st, 0);
			hosts[i].pid = 0;
		}
	}
	host_kill(i); /* what is left in the namespace */
	(void) unlink(hosts[i].log);
}

static int
setup(void **state)
{
	(void) state;
	detect_ms = DETECT_MS;
	for (int i = 1; i <= NHOSTS; i++) {
		hosts[i].pid = 0;
		hosts[i].in = hosts[i].out = -1;
		snprintf(hosts[i].ns, sizeof(hosts[i].ns), "%sh%d", prefix, i);
		assert_int_equal(
		    zmq_curve_keypair(hosts[i].pub, hosts[i].sec), 0);
	}
	return 0;
}

static int
teardown(void **state)
{
	char c[256];

	(void) state;
	/* the cut is healed whatever happened (a failed test may leave it) */
	snprintf(c, sizeof(c),
	    "ip netns exec %ssw nft flush chain bridge trlab xfwd", prefix);
	if (system(c) != 0) {
		print_error("could not flush the lab's chain\n");
	}
	for (int i = 1; i <= NHOSTS; i++) {
		host_stop(i);
	}
	return 0;
}

/* a on h1 and b on h2 (CURVE, allowlists), an echo started on b by a and
 * watched by a; *ref and addr are set. */
static void
pair(char *addr, uint64_t *ref)
{
	char r[512], peer[512];

	host_start(1, "a", NULL);
	host_start(2, "b", peer_of(1, peer, sizeof(peer)));
	cmd(1, r, sizeof(r), TR_TEST_HANG_MS, "up b %d", TR_TEST_HANG_MS);
	assert_true(strncmp(r, "YES", 3) == 0);
	cmd(1, r, sizeof(r), TR_TEST_HANG_MS, "spawn b echo");
	assert_int_equal(sscanf(r, "ADDR %63s", addr), 1);
	cmd(1, r, sizeof(r), TR_TEST_HANG_MS, "call %s hello", addr);
	assert_string_equal(r, "REP hello");
	cmd(1, r, sizeof(r), TR_TEST_HANG_MS, "monitor %s", addr);
	assert_int_equal(sscanf(r, "REF %" SCNu64, ref), 1);
}

static void
expect_down(int i, uint64_t ref, int within_ms)
{
	char    r[512], cls[32] = "";
	int64_t ms = -1;

	cmd(i, r, sizeof(r), TR_TEST_HANG_MS, "waitdown %" PRIu64 " %d", ref,
	    TR_TEST_HANG_MS);
	assert_int_equal(sscanf(r, "DOWN %31s %" SCNd64, cls, &ms), 2);
	assert_string_equal(cls, "noconnection");
	/* a bound on a failure detector (twice its time plus room), not a
	 * latency measurement */
	assert_true(ms <= within_ms);
}

/* ---- tests -----------------------------------------------------------------
 */

/* Every process of host h2 SIGKILLed: its sockets are closed by the
 * kernel, a's monitor of the echo on b gets DOWN noconnection within the
 * detection time, and b is no longer up on a. */
static void
test_host_killed_down_noconnection(void **state)
{
	char     addr[64], r[512];
	uint64_t ref;

	(void) state;
	pair(addr, &ref);
	host_kill(2);
	expect_down(1, ref, 2 * DETECT_MS + 1000);
	cmd(1, r, sizeof(r), TR_TEST_HANG_MS, "gone b %d", TR_TEST_HANG_MS);
	assert_true(strncmp(r, "YES", 3) == 0);
}

/* h2 cut off both ways (nftables drop in the bridge): no FIN, no RST, only
 * the heartbeats tell; DOWN noconnection within the detection time.  Healed:
 * b rejoins by itself, a new actor started there answers. */
static void
test_partition_and_heal(void **state)
{
	char     addr[64], addr2[64], r[512];
	uint64_t ref;

	(void) state;
	pair(addr, &ref);
	NFT("add rule bridge trlab xfwd iifname p2 drop", prefix);
	NFT("add rule bridge trlab xfwd oifname p2 drop", prefix);
	expect_down(1, ref, 2 * DETECT_MS + 1000);
	cmd(2, r, sizeof(r), TR_TEST_HANG_MS, "gone a %d", TR_TEST_HANG_MS);
	assert_true(strncmp(r, "YES", 3) == 0);
	heal();
	cmd(1, r, sizeof(r), TR_TEST_HANG_MS, "up b %d", TR_TEST_HANG_MS);
	assert_true(strncmp(r, "YES", 3) == 0);
	cmd(1, r, sizeof(r), TR_TEST_HANG_MS, "spawn b echo");
	assert_int_equal(sscanf(r, "ADDR %63s", addr2), 1);
	cmd(1, r, sizeof(r), TR_TEST_HANG_MS, "call %s again", addr2);
	assert_string_equal(r, "REP again");
	/* the first echo was never stopped: its state was unknown, not
	 * dead; it answers again across the healed link */
	cmd(1, r, sizeof(r), TR_TEST_HANG_MS, "call %s old", addr);
	assert_string_equal(r, "REP old");
}

/* Only h1 -> h2 dropped.  TCP needs both ways: a's heartbeats to b go
 * unanswered and b's answers to a's... never come back acknowledged, so
 * BOTH nodes see the other lost (documented outcome): a's monitor gets
 * DOWN noconnection, b sees a gone.  Healed, they rejoin. */
static void
test_one_way_partition(void **state)
{
	char     addr[64], r[512];
	uint64_t ref;

	(void) state;
	pair(addr, &ref);
	NFT("add rule bridge trlab xfwd iifname p1 oifname p2 drop", prefix);
	expect_down(1, ref, 2 * DETECT_MS + 1000);
	cmd(2, r, sizeof(r), TR_TEST_HANG_MS, "gone a %d", TR_TEST_HANG_MS);
	assert_true(strncmp(r, "YES", 3) == 0);
	heal();
	cmd(1, r, sizeof(r), TR_TEST_HANG_MS, "up b %d", TR_TEST_HANG_MS);
	assert_true(strncmp(r, "YES", 3) == 0);
	cmd(2, r, sizeof(r), TR_TEST_HANG_MS, "up a %d", TR_TEST_HANG_MS);
	assert_true(strncmp(r, "YES", 3) == 0);
	cmd(1, r, sizeof(r), TR_TEST_HANG_MS, "call %s back", addr);
	assert_string_equal(r, "REP back");
}

/* 10% of the packets between h1 and h2 dropped at random, both ways
 * (nftables numgen), for 30 s while a sends 6000 numbered messages to the
 * echo on b and reads them back: TCP resends what is lost, so every one
 * comes back exactly once and in order, and no DOWN fires (at the default
 * detection time, 3 s: the heartbeats cross the lossy link too). */
static void
test_ten_percent_loss_no_false_down(void **state)
{
	char     addr[64], r[512];
	uint64_t ref;
	int      err = -1, got = 0, gaps = -1, disorder = -1, nd = -1;
	long     dropped;

	(void) state;
	detect_ms = 0; /* the default detection time (3 s) */
	pair(addr, &ref);
	NFT("add rule bridge trlab xfwd iifname '{ \"p1\", \"p2\" }' oifname "
	    "'{ \"p1\", \"p2\" }' numgen random mod 10 == 0 counter drop",
	    prefix);
	cmd(1, r, sizeof(r), 120000, "flood %s 6000,30000", addr);
	assert_int_equal(
	    sscanf(r, "FLOOD err=%d got=%d gaps=%d disorder=%d downs=%d", &err,
	        &got, &gaps, &disorder, &nd),
	    5);
	dropped = nft_dropped();
	heal();
	print_message("10%% loss: %ld packets dropped by nftables\n", dropped);
	assert_true(dropped > 0);
	assert_int_equal(err, 0);
	assert_int_equal(got, 6000);
	assert_int_equal(gaps, 0);
	assert_int_equal(disorder, 0);
	assert_int_equal(nd, 0);
	cmd(1, r, sizeof(r), TR_TEST_HANG_MS, "waitdown %" PRIu64 " 0", ref);
	assert_string_equal(r, "NONE");
	cmd(1, r, sizeof(r), TR_TEST_HANG_MS, "stats");
	assert_non_null(strstr(r, " lost=0 "));
}

/* Node c on h3 has a key pair nobody allows (it allows a and b): a refuses
 * its connection (ZAP 400), counts and logs it; c never sees a up, cannot
 * start anything on a, and a received nothing from it. */
static void
test_wrong_curve_key_refused(void **state)
{
	char               addr[64], r[512], peer[512], line[1024], before[512];
	uint64_t           ref;
	FILE              *f;
	bool               logged = false;
	int                err    = 0;
	unsigned long long got = 0, had = 0;

	(void) state;
	pair(addr, &ref);
	cmd(1, before, sizeof(before), TR_TEST_HANG_MS, "stats");
	/* a and b allow the key h3 had when they started; c gets another */
	assert_int_equal(zmq_curve_keypair(hosts[3].pub, hosts[3].sec), 0);
	host_start(3, "c", peer_of(1, peer, sizeof(peer)));
	cmd(1, r, sizeof(r), TR_TEST_HANG_MS, "up c 3000");
	assert_true(strncmp(r, "NO", 2) == 0);
	cmd(3, r, sizeof(r), TR_TEST_HANG_MS, "up a 1000");
	assert_true(strncmp(r, "NO", 2) == 0);
	cmd(3, r, sizeof(r), TR_TEST_HANG_MS, "spawn a echo");
	assert_int_equal(sscanf(r, "ERR %d", &err), 1);
	assert_int_equal(err, TR_EBADADDR);
	cmd(1, r, sizeof(r), TR_TEST_HANG_MS, "stats");
	assert_null(strstr(r, " refused=0 "));
	/* nothing from c was received: the same count as before it came */
	assert_int_equal(
	    sscanf(strstr(r, "received="), "received=%llu", &got), 1);
	assert_int_equal(
	    sscanf(strstr(before, "received="), "received=%llu", &had), 1);
	assert_int_equal(got, had);
	f = fopen(hosts[1].log, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		logged |= strstr(line, "refused a connection") != NULL &&
		    strstr(line, hosts[3].pub) != NULL;
	}
	fclose(f);
	assert_true(logged);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_host_killed_down_noconnection, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_partition_and_heal, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_one_way_partition, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_ten_percent_loss_no_false_down, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_wrong_curve_key_refused, setup, teardown),
	};
	ssize_t n;

	if (argc > 1 && strcmp(argv[1], "--host") == 0) {
		return host_main(argc, argv);
	}
	prefix = getenv("TR_NETNS_PREFIX");
	if (!prefix || !prefix[0]) {
		printf(
		    "netns suite SKIPPED: run through tests/netns/run-netns.sh "
		    "(it makes the lab; TR_NETNS_PREFIX is not set)\n");
		return 77;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0) {
		return 1;
	}
	exe[n] = '\0';
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
