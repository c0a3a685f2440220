/* SPDX-License-Identifier: MIT */
/* bench-msg -- actor-to-actor messaging on this machine, next to the two
 * floors it is judged against, measured in the same run:
 *
 *   troupe  tr_send() of N raw-byte messages from one actor (child process)
 *           to another; the receiver times its first to its last message
 *           and reports (N-1)/time, as libzmq's local_thr does.  tr_call()
 *           from the main program to an echo actor that tr_reply()s: median
 *           and 99th percentile of one round trip.
 *   zmq     raw libzmq between two fork()ed processes over ipc:// (each
 *           with its own context): PUSH/PULL timed the same way, REQ/REP
 *           round trip.
 *   pipe    Python's multiprocessing.Pipe with send_bytes()/recv_bytes()
 *           (tools/bench/mp_pipe.py run with /usr/bin/python3).
 *
 * Payloads: 256 B and 64 KiB one way, 64 B round trips.  Throughput runs
 * are calibrated, then sized to about --time seconds; latency runs sample
 * for --time seconds after 1000 warm-ups.  --pin puts every process on
 * CPU 0 (like `taskset -c 0`); --both runs this program unpinned and then
 * pinned.  --only SUBSTR runs a subset (troupe_256, troupe_64k, troupe_rt,
 * zmq_256, zmq_64k, zmq_rt, pipe) and --count N fixes the message count
 * (no calibration), for profilers.  --rounds N alternates troupe and raw
 * zmq N times and shows the medians (a busy machine's drift then weighs
 * on both):
 *
 *   valgrind --tool=callgrind bench-msg --only troupe_256 --count 20000
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sched.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "troupe.h"

#include "bench-util.h"

#ifndef TR_BENCH_MP_PIPE
#define TR_BENCH_MP_PIPE "tools/bench/mp_pipe.py"
#endif

#define START_MS  30000
#define RESULT_MS 300000
#define SMALL     256
#define LARGE     65536
#define RT_SIZE   64
#define WARMUP    1000

extern char **environ;

static double      target_s = 1.5;
static long        fixed_count;  /* --count: no calibration */
static const char *only    = ""; /* --only */
static const char *mp_pipe = TR_BENCH_MP_PIPE;

/* What an actor of this benchmark is given. */
struct job {
	tr_addr peer; /* where to send (source) or report (sink) */
	long    n;
	size_t  size;
};

/* Figures of one system: NaN when not measured. */
struct figures {
	double small_msgs_s, large_mb_s, rt_us, rt_p99_us;
	double small_pickle_s; /* Python only: Pipe.send() of 256 B, pickled */
};

static bool
wanted(const char *name)
{
	return strstr(name, only) != NULL;
}

#define CHECK_TR(expr)                  \
	do {                            \
		int r_ = (expr);        \
		if (r_ < 0) {           \
			die(#expr, r_); \
		}                       \
	} while (0)
#define CHECK_ZMQ(expr)                                               \
	do {                                                          \
		if ((expr) < 0) {                                     \
			fprintf(stderr, "bench-msg: %s: %s\n", #expr, \
			    zmq_strerror(zmq_errno()));               \
			_exit(1);                                     \
		}                                                     \
	} while (0)

/* ---- troupe actors --------------------------------------------------------
 */

static int
source_main(const void *args, size_t len)
{
	struct job j;
	char      *buf;
	int        r = 0;

	if (len != sizeof(j)) {
		return -EINVAL;
	}
	memcpy(&j, args, sizeof(j));
	buf = calloc(1, j.size);
	if (!buf) {
		return -ENOMEM;
	}
	for (long i = 0; i < j.n && r == 0; i++) {
		tr_msg *m;

		r = tr_msg_new_bytes(&m, buf, j.size);
		if (r == 0) {
			r = tr_send(j.peer, &m, TR_TIMEOUT_INFINITE);
			tr_msg_destroy(&m);
		}
	}
	free(buf);
	return r;
}
TR_ACTOR(bench_source, source_main)

static int
sink_main(const void *args, size_t len)
{
	struct job j;
	double     t0 = 0, el;
	tr_msg    *m;

	if (len != sizeof(j)) {
		return -EINVAL;
	}
	memcpy(&j, args, sizeof(j));
	for (long i = 0; i < j.n; i++) {
		int r = tr_recv(&m, RESULT_MS);

		if (r < 0) {
			return r;
		}
		if (i == 0) {
			t0 = now();
		}
		r = tr_msg_size(m) == j.size ? 0 : -EBADMSG;
		tr_msg_destroy(&m);
		if (r < 0) {
			return r;
		}
	}
	el = now() - t0;
	return tr_send_bytes(j.peer, &el, sizeof(el), START_MS);
}
TR_ACTOR(bench_sink, sink_main)

static int
echo_main(const void *args, size_t len)
{
	for (;;) {
		tr_msg *m, *rep;
		size_t  n;
		int     r = tr_recv(&m, TR_TIMEOUT_INFINITE);

		if (r < 0) {
			return r;
		}
		n = tr_msg_size(m);
		r = tr_msg_new_bytes(&rep, tr_msg_data(m), n);
		if (r == 0) {
			r = tr_reply(m, &rep, TR_TIMEOUT_INFINITE);
			tr_msg_destroy(&rep);
		}
		tr_msg_destroy(&m);
		if (r < 0 || n == 0) {
			return r;
		}
	}
}
TR_ACTOR(bench_echo, echo_main)

static tr_process *
start_actor(const char *name, const struct job *j, tr_addr *ret_addr)
{
	tr_process *p;

	CHECK_TR(tr_process_new(&p, name, j, sizeof(*j)));
	CHECK_TR(tr_process_set_eager_mailbox(p, true));
	CHECK_TR(tr_process_start(p, START_MS));
	CHECK_TR(tr_process_addr(p, ret_addr));
	return p;
}

static void
finish_actor(tr_process **pp)
{
	int code = -1;

	CHECK_TR(tr_process_join(*pp, START_MS));
	CHECK_TR(tr_process_exitcode(*pp, &code));
	if (code != 0) {
		fprintf(stderr, "bench-msg: actor %s exited with %d\n",
		    tr_process_actor(*pp), code);
		exit(1);
	}
	tr_process_destroy(pp);
}

/* One-way run of n messages; seconds from the first received to the last. */
static double
troupe_oneway(size_t size, long n)
{
	struct job  j = { tr_self(), n, size };
	tr_process *sink, *source;
	tr_addr     sink_addr, dummy;
	uint64_t    ref;
	tr_msg     *m;
	double      el;

	sink = start_actor("bench_sink", &j, &sink_addr);
	CHECK_TR(tr_monitor(sink_addr, &ref));
	j.peer = sink_addr;
	source = start_actor("bench_source", &j, &dummy);
	CHECK_TR(tr_recv(&m, RESULT_MS));
	if (tr_msg_is_system(m) || tr_msg_size(m) != sizeof(el)) {
		fprintf(stderr, "bench-msg: the sink died before reporting\n");
		exit(1);
	}
	memcpy(&el, tr_msg_data(m), sizeof(el));
	tr_msg_destroy(&m);
	finish_actor(&source);
	finish_actor(&sink);
	(void) tr_demonitor(ref);
	return el;
}

static void
troupe_rt(double *ret_med, double *ret_p99)
{
	struct job  j            = { tr_self(), 0, 0 };
	char        buf[RT_SIZE] = { 0 };
	tr_addr     echo;
	tr_process *p   = start_actor("bench_echo", &j, &echo);
	size_t      cap = fixed_count ? (size_t) fixed_count : 1 << 22, k = 0;
	double     *lat = malloc(cap * sizeof(*lat)), end = 0;
	tr_msg     *req, *rep;

	if (!lat) {
		die("malloc", -ENOMEM);
	}
	for (long i = fixed_count ? 0 : -WARMUP; k < cap; i++) {
		double t;

		if (i == 0) {
			end = now() + target_s;
		}
		t = now();
		if (i >= 0 && !fixed_count && t >= end) {
			break;
		}
		CHECK_TR(tr_msg_new_bytes(&req, buf, sizeof(buf)));
		CHECK_TR(tr_call(echo, &req, &rep, START_MS));
		if (i >= 0) {
			lat[k++] = now() - t;
		}
		tr_msg_destroy(&rep);
	}
	CHECK_TR(tr_msg_new_bytes(&req, NULL, 0));
	CHECK_TR(tr_call(echo, &req, &rep, START_MS));
	tr_msg_destroy(&rep);
	finish_actor(&p);
	qsort(lat, k, sizeof(*lat), cmp_double);
	*ret_med = lat[k / 2] * 1e6;
	*ret_p99 = lat[(size_t) ((double) k * 0.99)] * 1e6;
	free(lat);
}

/* ---- raw libzmq -----------------------------------------------------------
 */

static void
zmq_endpoint(char *buf, size_t n)
{
	snprintf(buf, n, "ipc://%s/raw-zmq", tr_runtime_dir());
}

static double
zmq_oneway(size_t size, long n)
{
	char      ep[300];
	pid_t     pid;
	void     *ctx, *s;
	zmq_msg_t m;
	double    t0 = 0, el;

	zmq_endpoint(ep, sizeof(ep));
	pid = fork();
	if (pid == 0) { /* a fresh context: never the parent's */
		char *buf = calloc(1, size);

		ctx = zmq_ctx_new();
		s   = zmq_socket(ctx, ZMQ_PUSH);
		CHECK_ZMQ(zmq_connect(s, ep));
		for (long i = 0; i < n; i++) {
			CHECK_ZMQ(zmq_send(s, buf, size, 0));
		}
		zmq_close(s);
		zmq_ctx_term(ctx);
		_exit(0);
	}
	ctx = zmq_ctx_new();
	s   = zmq_socket(ctx, ZMQ_PULL);
	CHECK_ZMQ(zmq_bind(s, ep));
	zmq_msg_init(&m);
	for (long i = 0; i < n; i++) {
		CHECK_ZMQ(zmq_msg_recv(&m, s, 0));
		if (i == 0) {
			t0 = now();
		}
	}
	el = now() - t0;
	zmq_msg_close(&m);
	zmq_close(s);
	zmq_ctx_term(ctx);
	(void) waitpid(pid, NULL, 0);
	return el;
}

static void
zmq_rt(double *ret_med, double *ret_p99)
{
	char    ep[300], buf[RT_SIZE] = { 0 };
	size_t  cap = fixed_count ? (size_t) fixed_count : 1 << 22, k = 0;
	double *lat = malloc(cap * sizeof(*lat)), end = 0;
	void   *ctx, *s;
	pid_t   pid;

	zmq_endpoint(ep, sizeof(ep));
	pid = fork();
	if (pid == 0) {
		ctx = zmq_ctx_new();
		s   = zmq_socket(ctx, ZMQ_REP);
		CHECK_ZMQ(zmq_bind(s, ep));
		for (int r = 1; r > 0;) {
			r = zmq_recv(s, buf, sizeof(buf), 0);
			CHECK_ZMQ(r);
			CHECK_ZMQ(zmq_send(s, buf, (size_t) r, 0));
		}
		zmq_close(s);
		zmq_ctx_term(ctx);
		_exit(0);
	}
	ctx = zmq_ctx_new();
	s   = zmq_socket(ctx, ZMQ_REQ);
	CHECK_ZMQ(zmq_connect(s, ep));
	for (long i = fixed_count ? 0 : -WARMUP; k < cap; i++) {
		double t;

		if (i == 0) {
			end = now() + target_s;
		}
		t = now();
		if (i >= 0 && !fixed_count && t >= end) {
			break;
		}
		CHECK_ZMQ(zmq_send(s, buf, sizeof(buf), 0));
		CHECK_ZMQ(zmq_recv(s, buf, sizeof(buf), 0));
		if (i >= 0) {
			lat[k++] = now() - t;
		}
	}
	CHECK_ZMQ(zmq_send(s, "", 0, 0));
	CHECK_ZMQ(zmq_recv(s, buf, sizeof(buf), 0));
	zmq_close(s);
	zmq_ctx_term(ctx);
	(void) waitpid(pid, NULL, 0);
	qsort(lat, k, sizeof(*lat), cmp_double);
	*ret_med = lat[k / 2] * 1e6;
	*ret_p99 = lat[(size_t) ((double) k * 0.99)] * 1e6;
	free(lat);
}

/* ---- measuring ------------------------------------------------------------
 */

/* Messages per second of run(size, n): calibrate with n0, then run sized
 * to about target_s (or exactly --count). */
static double
throughput(double (*run)(size_t, long), size_t size, long n0)
{
	long n = fixed_count;

	if (!n) {
		n = (long) ((double) n0 * target_s / run(size, n0));
		n = n < n0 ? n0 : n;
	}
	return (double) (n - 1) / run(size, n);
}

static void
measure(const char *sys, double (*oneway)(size_t, long),
    void (*rt)(double *, double *), struct figures *f)
{
	char name[32];

	snprintf(name, sizeof(name), "%s_256", sys);
	if (wanted(name)) {
		f->small_msgs_s = throughput(oneway, SMALL, 100000);
	}
	snprintf(name, sizeof(name), "%s_64k", sys);
	if (wanted(name)) {
		f->large_mb_s = throughput(oneway, LARGE, 5000) * LARGE / 1e6;
	}
	snprintf(name, sizeof(name), "%s_rt", sys);
	if (wanted(name)) {
		rt(&f->rt_us, &f->rt_p99_us);
	}
}

/* Run mp_pipe.py and read its name<TAB>value<TAB>unit lines. */
static void
measure_pipe(struct figures *f)
{
	char   t[32], line[256], name[128];
	char  *argv[] = { "/usr/bin/python3", (char *) mp_pipe, "--time", t,
		 NULL };
	int    fds[2], status;
	pid_t  pid;
	FILE  *in;
	double v;
	posix_spawn_file_actions_t fa;

	snprintf(t, sizeof(t), "%g", target_s);
	if (pipe2(fds, O_CLOEXEC) < 0) {
		die("pipe2", -errno);
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
	if (posix_spawn(&pid, argv[0], &fa, NULL, argv, environ) != 0) {
		die("posix_spawn python3", -errno);
	}
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	in = fdopen(fds[0], "r");
	while (in && fgets(line, sizeof(line), in)) {
		if (sscanf(line, "%127s %lf", name, &v) != 2) {
			continue;
		}
		if (strcmp(name, "pipe_send_bytes_256B_msgs_per_s") == 0) {
			f->small_msgs_s = v;
		} else if (strcmp(name, "pipe_pickle_256B_msgs_per_s") == 0) {
			f->small_pickle_s = v;
		} else if (strcmp(name, "pipe_send_bytes_64KiB_MB_per_s") ==
		    0) {
			f->large_mb_s = v;
		} else if (strcmp(name, "pipe_send_bytes_64B_rt_us") == 0) {
			f->rt_us = v;
		} else if (strcmp(name, "pipe_send_bytes_64B_rt_p99_us") == 0) {
			f->rt_p99_us = v;
		}
		fputs(line, stderr); /* the script's own figures, for the log */
	}
	if (in) {
		fclose(in);
	}
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		fprintf(stderr, "bench-msg: %s failed\n", mp_pipe);
	}
}

/* ---- report ---------------------------------------------------------------
 */

static void
cell(double v, const char *fmt)
{
	if (isnan(v)) {
		printf(" %12s |", "-");
	} else {
		printf(fmt, v);
	}
}

static void
row(const char *what, double tr, double zq, double py, bool higher_better,
    const char *target)
{
	printf("| %-22s |", what);
	cell(tr, " %12.1f |");
	cell(zq, " %12.1f |");
	cell(py, " %12.1f |");
	cell(tr / zq, " %11.2fx |");
	cell(higher_better ? tr / py : py / tr, " %11.2fx |");
	printf(" %s |\n", target);
}

static const char *
verdict(double a, double b, bool ok, char *buf, size_t n, const char *text)
{
	const char *v = isnan(a) || isnan(b) ? "not measured"
	    : ok                             ? "met"
	                                     : "MISSED";

	snprintf(buf, n, "%s %s", text, v);
	return buf;
}

static void
report(bool pinned, const struct figures *tr, const struct figures *zq,
    const struct figures *py)
{
	char a[64], b[64], c[64], d[64];

	printf("\nbench-msg: %s, %d CPU(s) usable, --time %g s\n",
	    pinned ? "pinned to CPU 0" : "unpinned", tr_cpu_count(), target_s);
	printf("| %-22s | %12s | %12s | %12s | %12s | %12s | %s |\n", "figure",
	    "troupe", "raw zmq", "py Pipe", "troupe/zmq", "vs py Pipe",
	    "target");
	printf("|%.24s|%.14s|%.14s|%.14s|%.14s|%.14s|---|\n",
	    "--------------------------", "--------------:", "--------------:",
	    "--------------:", "--------------:", "--------------:");
	/* the Python anchor (0.28 M msg/s) is Pipe.send(), pickled;
	 * send_bytes() is shown too, as the harder comparison */
	row("256 B msg/s", tr->small_msgs_s, zq->small_msgs_s, py->small_msgs_s,
	    true,
	    verdict(tr->small_msgs_s, zq->small_msgs_s,
	        tr->small_msgs_s >= 0.6 * zq->small_msgs_s, a, sizeof(a),
	        ">=0.60 zmq:"));
	row("256 B, py send() msg/s", tr->small_msgs_s, zq->small_msgs_s,
	    py->small_pickle_s, true,
	    verdict(tr->small_msgs_s, py->small_pickle_s,
	        tr->small_msgs_s >= 5 * py->small_pickle_s, d, sizeof(d),
	        ">=5x py send():"));
	row("64 KiB MB/s", tr->large_mb_s, zq->large_mb_s, py->large_mb_s, true,
	    verdict(tr->large_mb_s, zq->large_mb_s,
	        tr->large_mb_s >= 0.9 * zq->large_mb_s, b, sizeof(b),
	        ">=0.90 zmq:"));
	row("64 B round trip us", tr->rt_us, zq->rt_us, py->rt_us, false,
	    verdict(tr->rt_us, zq->rt_us, tr->rt_us <= 1.15 * zq->rt_us, c,
	        sizeof(c), "<=1.15 zmq:"));
	row("64 B round trip p99 us", tr->rt_p99_us, zq->rt_p99_us,
	    py->rt_p99_us, false, "");
	printf("(\"vs py Pipe\": how many times better troupe is; "
	       "round trips: py time / troupe time; py Pipe is send_bytes() "
	       "unless the row says send())\n");
	fflush(stdout);
}

/* ---- main -----------------------------------------------------------------
 */

#define MAX_ROUNDS 31

/* The median of each figure over n rounds (NAN stays NAN). */
static struct figures
median_figures(const struct figures *f, int n)
{
	struct figures m;
	/* only the addresses: each is written below */
	/* cppcheck-suppress uninitvar */
	double *out[] = { &m.small_msgs_s, &m.large_mb_s, &m.rt_us,
		&m.rt_p99_us, &m.small_pickle_s };

	for (size_t k = 0; k < sizeof(out) / sizeof(out[0]); k++) {
		double v[MAX_ROUNDS];
		size_t off = (size_t) ((char *) out[k] - (char *) &m);

		for (int i = 0; i < n; i++) {
			memcpy(&v[i], (const char *) &f[i] + off, sizeof(v[i]));
		}
		/* n >= 1 (main checks --rounds), so v[0..n) are written */
		/* cppcheck-suppress uninitvar */
		qsort(v, (size_t) n, sizeof(v[0]), cmp_double);
		*out[k] = v[n / 2];
	}
	return m;
}

/* --rounds N: troupe and raw zmq measured alternately, each round in the
 * other order, so that a machine whose load changes during the run
 * weighs on both alike; the table shows the medians, and each round's
 * 64 KiB ratio goes to stderr. */
static void
measure_rounds(int rounds, struct figures *tr, struct figures *zq)
{
	struct figures t[MAX_ROUNDS], z[MAX_ROUNDS];

	for (int i = 0; i < rounds; i++) {
		t[i] = z[i] = *tr;
		if (i % 2) {
			measure("zmq", zmq_oneway, zmq_rt, &z[i]);
			measure("troupe", troupe_oneway, troupe_rt, &t[i]);
		} else {
			measure("troupe", troupe_oneway, troupe_rt, &t[i]);
			measure("zmq", zmq_oneway, zmq_rt, &z[i]);
		}
		fprintf(stderr,
		    "round %d: 64 KiB troupe/zmq %.2f, 256 B troupe/zmq %.2f\n",
		    i + 1, t[i].large_mb_s / z[i].large_mb_s,
		    t[i].small_msgs_s / z[i].small_msgs_s);
	}
	*tr = median_figures(t, rounds);
	*zq = median_figures(z, rounds);
}

static int
run_self_twice(char **argv)
{
	char *args[16];
	int   n = 0, status, fail = 0;

	for (int i = 0; argv[i] && n < 14; i++) {
		if (strcmp(argv[i], "--both") != 0) {
			args[n++] = argv[i];
		}
	}
	for (int pass = 0; pass < 2; pass++) {
		pid_t pid;

		args[n]     = pass ? "--pin" : NULL;
		args[n + 1] = NULL;
		if (posix_spawn(&pid, "/proc/self/exe", NULL, NULL, args,
		        environ) != 0 ||
		    waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0) {
			fail = 1;
		}
	}
	return fail;
}

static void
pin_cpu0(void)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(0, &set);
	if (sched_setaffinity(0, sizeof(set), &set) < 0) {
		die("sched_setaffinity", -errno);
	}
}

int
main(int argc, char **argv)
{
	struct figures tr = { NAN, NAN, NAN, NAN, NAN }, zq = tr, py = tr;
	bool           pin    = false;
	int            rounds = 1;

	/* before tr_init(): its children and every zmq thread inherit it */
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--both") == 0) {
			return run_self_twice(argv);
		} else if (strcmp(argv[i], "--pin") == 0) {
			pin = true;
			pin_cpu0();
		} else if (strcmp(argv[i], "--time") == 0 && i + 1 < argc) {
			target_s = atof(argv[++i]);
		} else if (strcmp(argv[i], "--count") == 0 && i + 1 < argc) {
			fixed_count = atol(argv[++i]);
		} else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
			rounds = atoi(argv[++i]);
			if (rounds < 1 || rounds > MAX_ROUNDS) {
				fprintf(stderr, "bench-msg: --rounds 1..%d\n",
				    MAX_ROUNDS);
				return 2;
			}
		} else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
			only = argv[++i];
		} else if (strcmp(argv[i], "--mp-pipe") == 0 && i + 1 < argc) {
			mp_pipe = argv[++i];
		} else {
			fprintf(stderr,
			    "usage: %s [--pin | --both] [--time S] "
			    "[--count N] [--rounds N] [--only SUBSTR] "
			    "[--mp-pipe PATH]\n",
			    argv[0]);
			return 2;
		}
	}
	CHECK_TR(tr_init(argc, argv));
	measure_rounds(rounds, &tr, &zq);
	if (wanted("pipe")) {
		measure_pipe(&py);
	}
	report(pin, &tr, &zq, &py);
	return 0;
}
