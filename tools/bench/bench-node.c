/* SPDX-License-Identifier: MIT */
/* bench-node -- node to node over TCP on this machine (issue 13), next to
 * raw libzmq over TCP and Erlang distribution, measured in the same run:
 *
 *   troupe  node "a" is this program's run, node "b" this program run
 *           again (another run, its own node) on loopback; the main
 *           program tr_send()s N 256 B messages to a sink actor started on
 *           b with tr_node_spawn(), which answers once it has them all:
 *           N / time.  Round trip: 64 B tr_send() to an echo actor on b
 *           and tr_recv() of its answer (median); and tr_call().  After
 *           the first messages of a pair each goes on the direct path
 *           (runtime/node-direct.c: the sender's socket to the remote
 *           mailbox over TCP).  Then the same with CURVE on both nodes,
 *           and without the direct path (TROUPE_NODE_DIRECT=0: every
 *           message crosses a's node agent, TCP, and b's node agent).
 *   zmq     raw libzmq PAIR sockets over tcp://127.0.0.1 between two
 *           processes, the same counts and sizes, without and with CURVE.
 *   erlang  two Erlang nodes (erl_dist.escript, run with escript if it is
 *           installed): a process on one sends N 256 B binaries to one on
 *           the other, and 64 B ping-pongs.
 *
 * --rounds N (1..9) measures troupe and raw zmq without CURVE N times,
 * alternately, and shows the medians: a busy machine's drift then weighs
 * on both.
 *
 * usage: bench-node [--time S] [--rounds N] [--no-erlang] */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <zmq.h>

#include "troupe.h"

#include "bench-util.h"

#ifndef TR_BENCH_ERL_DIST
#define TR_BENCH_ERL_DIST "tools/bench/erl_dist.escript"
#endif

#define SMALL 256
#define RT    64
#define HANG  60000

extern char **environ;

static double target_s = 1.0;

/* ---- actors on node b ---------------------------------------------------- */

/* Counts messages; the one of 8 bytes says how many to expect and is
 * answered (to its sender) once that many arrived. */
static int
sink_main(const void *args, size_t len)
{
	uint64_t want = 0, got = 0;
	tr_addr  from = TR_ADDR_NULL;

	(void) args;
	(void) len;
	for (;;) {
		tr_msg *m = NULL;

		if (tr_recv(&m, TR_TIMEOUT_INFINITE) < 0) {
			return 1;
		}
		if (tr_msg_size(m) == 8) {
			memcpy(&want, tr_msg_data(m), 8);
			from = tr_msg_sender(m);
			got  = 0;
		} else if (!tr_msg_is_system(m)) {
			got++;
		}
		tr_msg_destroy(&m);
		if (want && got == want) {
			(void) tr_send_bytes(from, &got, 8, HANG);
			want = 0;
		}
	}
}
TR_ACTOR(sink, sink_main)

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
		if (tr_msg_correlation(m)) {
			tr_msg *r = NULL;

			(void) tr_msg_new_bytes(
			    &r, tr_msg_data(m), tr_msg_size(m));
			if (tr_reply(m, &r, HANG) < 0) {
				tr_msg_destroy(&r);
			}
		} else if (!tr_msg_is_system(m)) {
			(void) tr_send_bytes(tr_msg_sender(m), tr_msg_data(m),
			    tr_msg_size(m), HANG);
		}
		tr_msg_destroy(&m);
	}
}
TR_ACTOR(echo, echo_main)

/* ---- helper processes ---------------------------------------------------- */

struct kid {
	pid_t pid;
	int   in;
	char  line[512];
};

static void
kid_start(struct kid *k, char **argv)
{
	posix_spawn_file_actions_t fa;
	int                        in[2], out[2];
	FILE                      *f;

	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0) {
		die("pipe", -errno);
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	if (posix_spawn(&k->pid, argv[0], &fa, NULL, argv, environ) != 0) {
		die("posix_spawn", -errno);
	}
	posix_spawn_file_actions_destroy(&fa);
	close(in[0]);
	close(out[1]);
	k->in = in[1];
	f     = fdopen(out[0], "r");
	if (!f || !fgets(k->line, sizeof(k->line), f)) {
		die("helper said nothing", -EIO);
	}
	fclose(f);
}

static void
kid_stop(struct kid *k)
{
	int st;

	close(k->in);
	(void) waitpid(k->pid, &st, 0);
}

/* --node-b PEER SECRET|- ALLOW|- */
static int
node_b(int argc, char **argv)
{
	tr_node_options o    = { 0 };
	const char     *p[2] = { argv[2], NULL }, *al[2] = { NULL, NULL };
	tr_node        *n = NULL;
	char            b[16];
	int             r;

	if (tr_init(argc, argv) < 0 || argc < 5) {
		return 99;
	}
	o.name  = "b";
	o.peers = p;
	if (strcmp(argv[3], "-") != 0) {
		o.curve_secret_key = argv[3];
		al[0]              = argv[4];
		o.allowed_keys     = al;
	}
	r = tr_node_start(&o, &n, HANG);
	if (r < 0) {
		die("node b", r);
	}
	printf("%s\n", tr_node_endpoint(n));
	fflush(stdout);
	while (read(0, b, sizeof(b)) > 0) { }
	tr_node_stop(&n);
	return 0;
}

/* --zmq-peer SECRET|-: a PAIR on tcp; throughput counts then answers,
 * round trips echo; a 1-byte "q" ends it. */
static int
zmq_peer(const char *secret)
{
	void  *ctx = zmq_ctx_new(), *s = zmq_socket(ctx, ZMQ_PAIR);
	char   ep[256], buf[70000];
	size_t n   = sizeof(ep);
	int    one = 1;

	if (strcmp(secret, "-") != 0) {
		zmq_setsockopt(s, ZMQ_CURVE_SERVER, &one, sizeof(one));
		zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, secret, 41);
	}
	if (zmq_bind(s, "tcp://127.0.0.1:*") < 0) {
		return 1;
	}
	zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, ep, &n);
	printf("%s\n", ep);
	fflush(stdout);
	for (;;) {
		int k = zmq_recv(s, buf, sizeof(buf), 0);

		if (k == 1 && buf[0] == 'q') {
			break;
		}
		if (k == 8) { /* count that many, then answer */
			uint64_t want, got = 0;

			memcpy(&want, buf, 8);
			while (got < want) {
				if (zmq_recv(s, buf, sizeof(buf), 0) >= 0) {
					got++;
				}
			}
			zmq_send(s, &got, 8, 0);
		} else if (k > 0) {
			zmq_send(s, buf, (size_t) k, 0);
		}
	}
	zmq_close(s);
	zmq_ctx_term(ctx);
	return 0;
}

/* ---- measurements -------------------------------------------------------- */

struct figures {
	double msgs, rt_us, call_us;
};

static int
cmp_d(const void *a, const void *b)
{
	return cmp_double(a, b);
}

static double
median(double *v, int n)
{
	qsort(v, (size_t) n, sizeof(*v), cmp_d);
	return v[n / 2];
}

static void
expect8(void)
{
	tr_msg *m = NULL;
	int     r;

	while ((r = tr_recv(&m, HANG)) == 0 && tr_msg_size(m) != 8) {
		tr_msg_destroy(&m);
	}
	if (r < 0) {
		die("sink answer", r);
	}
	tr_msg_destroy(&m);
}

static double
troupe_thr(tr_addr sink, uint64_t count)
{
	char   p[SMALL] = { 0 };
	double t0;

	if (tr_send_bytes(sink, &count, 8, HANG) < 0) {
		die("send", -EIO);
	}
	t0 = now();
	for (uint64_t i = 0; i < count; i++) {
		int r = tr_send_bytes(sink, p, sizeof(p), HANG);

		if (r < 0) {
			die("send", r);
		}
	}
	expect8();
	return (double) count / (now() - t0);
}

static void
troupe_run(const char *secret, const char *pub, const char *bsec,
    const char *bpub, struct figures *f)
{
	tr_node_options o     = { 0 };
	const char     *al[2] = { bpub, NULL };
	tr_node        *a     = NULL;
	struct kid      b;
	char            peer[400], self[256], ka[64], kb[64];
	tr_addr         sink, echo;
	uint64_t        n = 2000;
	double          v[4000], secs;
	int             r, k = 0;

	(void) pub;
	o.name = "a";
	if (secret) {
		o.curve_secret_key = secret;
		o.allowed_keys     = al;
	}
	r = tr_node_start(&o, &a, HANG);
	if (r < 0) {
		die("node a", r);
	}
	snprintf(self, sizeof(self), "/proc/self/exe");
	snprintf(peer, sizeof(peer), "%s%s%s", tr_node_endpoint(a),
	    secret ? "#" : "", secret ? pub : "");
	snprintf(ka, sizeof(ka), "%s", bsec ? bsec : "-");
	snprintf(kb, sizeof(kb), "%s", secret ? pub : "-");
	{
		char *argv[] = { self, (char *) "--node-b", peer, ka, kb,
			NULL };

		kid_start(&b, argv);
	}
	while ((r = tr_node_is_up("b", HANG)) == 0) {
		usleep(10000);
	}
	if (r < 0 ||
	    (r = tr_node_spawn("b", "sink", NULL, 0, &sink, HANG)) < 0 ||
	    (r = tr_node_spawn("b", "echo", NULL, 0, &echo, HANG)) < 0) {
		die("start on b", r);
	}
	/* calibrate, then about target_s */
	while ((secs = (double) n / troupe_thr(sink, n)) < 0.2) {
		n *= 4;
	}
	f->msgs = troupe_thr(sink, (uint64_t) ((double) n * target_s / secs));
	/* round trips */
	for (int i = 0; i < 1000 + 4000; i++) {
		char    p[RT] = { 0 };
		tr_msg *m     = NULL;
		double  t0    = now();

		if (tr_send_bytes(echo, p, sizeof(p), HANG) < 0 ||
		    tr_recv(&m, HANG) < 0) {
			die("round trip", -EIO);
		}
		tr_msg_destroy(&m);
		if (i >= 1000 && k < 4000) {
			v[k++] = (now() - t0) * 1e6;
		}
		if (i >= 1000 && now() - t0 > target_s) {
			break;
		}
	}
	f->rt_us = median(v, k);
	k        = 0;
	for (int i = 0; i < 200 + 2000; i++) {
		char    p[RT] = { 0 };
		tr_msg *q = NULL, *rep = NULL;
		double  t0 = now();

		(void) tr_msg_new_bytes(&q, p, sizeof(p));
		if (tr_call(echo, &q, &rep, HANG) < 0) {
			die("call", -EIO);
		}
		tr_msg_destroy(&rep);
		if (i >= 200) {
			v[k++] = (now() - t0) * 1e6;
		}
	}
	f->call_us = median(v, k);
	kid_stop(&b);
	tr_node_stop(&a);
}

static double
zmq_thr(void *s, uint64_t count)
{
	char     p[SMALL] = { 0 };
	uint64_t got;
	double   t0;

	zmq_send(s, &count, 8, 0);
	t0 = now();
	for (uint64_t i = 0; i < count; i++) {
		zmq_send(s, p, sizeof(p), 0);
	}
	zmq_recv(s, &got, 8, 0);
	return (double) count / (now() - t0);
}

static void
zmq_run(bool curve, struct figures *f)
{
	char pub[41], sec[41], cpub[41], csec[41], self[] = "/proc/self/exe";
	struct kid k;
	void      *ctx = zmq_ctx_new(), *s = zmq_socket(ctx, ZMQ_PAIR);
	uint64_t   n = 2000;
	double     v[4000], secs;
	int        m      = 0;
	char      *argv[] = { self, (char *) "--zmq-peer", sec, NULL };

	zmq_curve_keypair(pub, sec);
	zmq_curve_keypair(cpub, csec);
	if (!curve) {
		strcpy(sec, "-");
	}
	kid_start(&k, argv);
	k.line[strcspn(k.line, "\n")] = '\0';
	if (curve) {
		zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, pub, 41);
		zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, cpub, 41);
		zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, csec, 41);
	}
	zmq_connect(s, k.line);
	while ((secs = (double) n / zmq_thr(s, n)) < 0.2) {
		n *= 4;
	}
	f->msgs = zmq_thr(s, (uint64_t) ((double) n * target_s / secs));
	for (int i = 0; i < 1000 + 4000; i++) {
		char   p[RT] = { 0 };
		double t0    = now();

		zmq_send(s, p, sizeof(p), 0);
		zmq_recv(s, p, sizeof(p), 0);
		if (i >= 1000 && m < 4000) {
			v[m++] = (now() - t0) * 1e6;
		}
	}
	f->rt_us   = median(v, m);
	f->call_us = f->rt_us;
	zmq_send(s, "q", 1, 0);
	zmq_close(s);
	zmq_ctx_term(ctx);
	kid_stop(&k);
}

static struct figures
median_figures(struct figures *f, int n)
{
	double         a[9] = { 0 }, b[9] = { 0 }, c[9] = { 0 };
	struct figures m;

	for (int i = 0; i < n; i++) {
		a[i] = f[i].msgs;
		b[i] = f[i].rt_us;
		c[i] = f[i].call_us;
	}
	m.msgs    = median(a, n);
	m.rt_us   = median(b, n);
	m.call_us = median(c, n);
	return m;
}

/* erl_dist.escript prints "msgs_per_s X" and "rt_us Y". */
static bool
erl_run(struct figures *f)
{
	char  cmd[1024], line[256];
	FILE *p;
	int   got = 0;

	if (access("/usr/bin/escript", X_OK) != 0) {
		return false;
	}
	snprintf(cmd, sizeof(cmd), "/usr/bin/escript %s %g 2>/dev/null",
	    TR_BENCH_ERL_DIST, target_s);
	p = popen(cmd, "r");
	if (!p) {
		return false;
	}
	while (fgets(line, sizeof(line), p)) {
		got += sscanf(line, "msgs_per_s %lf", &f->msgs) == 1;
		got += sscanf(line, "rt_us %lf", &f->rt_us) == 1;
	}
	pclose(p);
	f->call_us = f->rt_us;
	return got == 2;
}

int
main(int argc, char **argv)
{
	struct figures tr, trc, tra, zq, zqc, erl = { 0 };
	char           pa[41], sa[41], pb[41], sb[41];
	bool           use_erl = true, have_erl;
	struct figures rt[9], rz[9];
	int            rounds = 1;

	if (argc > 1 && strcmp(argv[1], "--node-b") == 0) {
		return node_b(argc, argv);
	}
	if (argc > 2 && strcmp(argv[1], "--zmq-peer") == 0) {
		return zmq_peer(argv[2]);
	}
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--time") == 0 && i + 1 < argc) {
			target_s = atof(argv[++i]);
		} else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
			rounds = atoi(argv[++i]);
			if (rounds < 1 || rounds > 9) {
				fprintf(stderr, "bench-node: --rounds 1..9\n");
				return 2;
			}
		} else if (strcmp(argv[i], "--no-erlang") == 0) {
			use_erl = false;
		} else {
			fprintf(stderr,
			    "usage: bench-node [--time S] [--rounds N] "
			    "[--no-erlang]\n");
			return 2;
		}
	}
	if (tr_init(argc, argv) < 0) {
		return 1;
	}
	zmq_curve_keypair(pa, sa);
	zmq_curve_keypair(pb, sb);
	for (int i = 0; i < rounds; i++) {
		troupe_run(NULL, NULL, NULL, NULL, &rt[i]);
		zmq_run(false, &rz[i]);
	}
	tr = median_figures(rt, rounds);
	zq = median_figures(rz, rounds);
	troupe_run(sa, pa, sb, pb, &trc);
	zmq_run(true, &zqc);
	setenv("TROUPE_NODE_DIRECT", "0", 1); /* both nodes' agents see it */
	troupe_run(NULL, NULL, NULL, NULL, &tra);
	unsetenv("TROUPE_NODE_DIRECT");
	have_erl = use_erl && erl_run(&erl);

	printf("\nbench-node: node to node over TCP loopback, --time %g s, "
	       "%d round(s) (medians)\n",
	    target_s, rounds);
	printf(
	    "| figure                    |     troupe |   raw zmq |   erlang "
	    "| troupe/zmq | troupe/erlang |\n");
	printf(
	    "|---------------------------|------------|-----------|----------"
	    "|------------|---------------|\n");
#define ROW(name, t, z, e, inv)                                             \
	do {                                                                \
		printf("| %-25s | %10.1f | %9.1f | ", name, t, z);          \
		if (have_erl) {                                             \
			printf("%8.1f | ", e);                              \
		} else {                                                    \
			printf("%8s | ", "-");                              \
		}                                                           \
		printf("%9.2fx | ", inv ? (t) / (z) : (t) / (z));           \
		if (have_erl) {                                             \
			printf("%12.2fx |\n", inv ? (e) / (t) : (t) / (e)); \
		} else {                                                    \
			printf("%13s |\n", "-");                            \
		}                                                           \
	} while (0)
	ROW("256 B msg/s", tr.msgs, zq.msgs, erl.msgs, false);
	ROW("64 B round trip us", tr.rt_us, zq.rt_us, erl.rt_us, true);
	ROW("64 B tr_call us", tr.call_us, zq.rt_us, erl.rt_us, true);
	ROW("CURVE 256 B msg/s", trc.msgs, zqc.msgs, erl.msgs, false);
	ROW("CURVE 64 B round trip us", trc.rt_us, zqc.rt_us, erl.rt_us, true);
	ROW("agents 256 B msg/s", tra.msgs, zq.msgs, erl.msgs, false);
	ROW("agents 64 B round trip us", tra.rt_us, zq.rt_us, erl.rt_us, true);
	printf("(msg/s: higher is better, troupe/erlang = troupe's rate over "
	       "Erlang's; round trips: troupe/zmq = troupe's time over zmq's, "
	       "troupe/erlang = Erlang's time over troupe's, > 1 = troupe "
	       "faster; Erlang has no CURVE: its rows repeat its plain "
	       "figures)\n");
	printf("CURVE cost: msg/s x%.2f, round trip x%.2f\n",
	    trc.msgs / tr.msgs, trc.rt_us / tr.rt_us);
	printf("(agents rows: TROUPE_NODE_DIRECT=0, every message through "
	       "both node agents, as before the direct path)\n");
	return 0;
}
