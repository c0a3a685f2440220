/* SPDX-License-Identifier: MIT */
/* bench-trace -- what tracing costs a message, measured in one run: the
 * one-way throughput of 256 B messages from one actor to another (as
 * bench-msg's troupe_256) with tracing
 *
 *   off       compiled in, not switched on (one load and branch a point);
 *   filtered  switched on with an actor filter that matches nothing;
 *   on        recording every send, receive, handle begin and end, the
 *             rings drained by this program as `troupe trace record` does;
 *
 * alternated --rounds times (default 3; medians shown), next to Python's
 * multiprocessing.Pipe send_bytes() of 256 B (mp_pipe.py, run by
 * /usr/bin/python3 in the same run).  For instruction counts:
 *
 *   valgrind --tool=callgrind bench-trace --mode off --count 20000
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "troupe.h"

#include "bench-util.h"

#ifndef TR_BENCH_MP_PIPE
#define TR_BENCH_MP_PIPE "tools/bench/mp_pipe.py"
#endif

#define START_MS 30000
#define SIZE     256

#define CHECK_TR(x)                  \
	do {                         \
		int r_ = (x);        \
		if (r_ < 0) {        \
			die(#x, r_); \
		}                    \
	} while (0)

extern char **environ;

struct job {
	tr_addr peer;
	long    n;
};

static int
source_main(const void *args, size_t len)
{
	struct job j;
	char       buf[SIZE] = { 0 };
	int        r         = 0;

	if (len != sizeof(j)) {
		return -EINVAL;
	}
	memcpy(&j, args, sizeof(j));
	for (long i = 0; i < j.n && r == 0; i++) {
		r = tr_send_bytes(j.peer, buf, SIZE, TR_TIMEOUT_INFINITE);
	}
	return r;
}
TR_ACTOR(trace_source, source_main)

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
		int r = tr_recv(&m, 300000);

		if (r < 0) {
			return r;
		}
		if (i == 0) {
			t0 = now();
		}
		tr_msg_destroy(&m);
	}
	el = now() - t0;
	return tr_send_bytes(j.peer, &el, sizeof(el), START_MS);
}
TR_ACTOR(trace_sink, sink_main)

enum { OFF, FILTERED, ON, NMODES };
static const char *const mode_names[NMODES] = { "off", "filtered", "on" };

struct result {
	double   msgs_s;
	uint64_t events, dropped;
};

static void
count_ev(const tr_trace_event *ev, void *arg)
{
	struct result *r = arg;

	if (ev->kind == TR_TRACE_DROPPED) {
		r->dropped += (uint64_t) ev->value;
	} else {
		r->events++;
	}
}

static tr_process *
start_actor(const char *name, const struct job *j, tr_addr *ret)
{
	tr_process *p;

	CHECK_TR(tr_process_new(&p, name, j, sizeof(*j)));
	CHECK_TR(tr_process_set_eager_mailbox(p, true));
	CHECK_TR(tr_process_start(p, START_MS));
	CHECK_TR(tr_process_addr(p, ret));
	return p;
}

static struct result
run(int mode, long n)
{
	struct result     res = { 0 };
	tr_trace_session *s   = NULL;
	tr_trace_opts     o   = { .rate_n = UINT32_MAX,
		      .duration_ms        = -1,
		      .limit              = UINT64_MAX,
		      .ring_slots         = 65536,
		      .lease_ms           = -1 };
	struct job        j   = { tr_self(), n };
	tr_process       *sink, *source;
	tr_addr           a, dummy;
	tr_msg           *m = NULL;
	double            el;
	int               r;

	if (mode == FILTERED) {
		o.actors = "no-such-actor";
	}
	if (mode != OFF) {
		CHECK_TR(tr_trace_session_open(&s, tr_runtime_dir(), &o));
	}
	sink   = start_actor("trace_sink", &j, &a);
	j.peer = a;
	source = start_actor("trace_source", &j, &dummy);
	/* the collector's loop, in every mode (the same wake-ups in all):
	 * drain every 10 ms until the sink reports */
	do {
		r = tr_recv(&m, 10);
		if (s) {
			(void) tr_trace_session_poll(s, count_ev, &res);
		}
	} while (r == -ETIMEDOUT);
	CHECK_TR(r);
	if (tr_msg_size(m) != sizeof(el)) {
		die("the sink's report", -EBADMSG);
	}
	memcpy(&el, tr_msg_data(m), sizeof(el));
	tr_msg_destroy(&m);
	CHECK_TR(tr_process_join(source, START_MS));
	CHECK_TR(tr_process_join(sink, START_MS));
	tr_process_destroy(&source);
	tr_process_destroy(&sink);
	if (s) {
		(void) tr_trace_session_poll(s, count_ev, &res);
		tr_trace_session_close(&s);
	}
	res.msgs_s = (double) (n - 1) / el;
	return res;
}

/* Python's Pipe.send_bytes() of 256 B, msgs/s, from mp_pipe.py. */
static double
python_pipe(const char *script, double secs)
{
	char   t[32], line[256], name[128];
	char  *argv[] = { "/usr/bin/python3", (char *) script, "--time", t,
		 NULL };
	int    fds[2], status;
	pid_t  pid;
	FILE  *in;
	double v, got = 0;
	posix_spawn_file_actions_t fa;

	snprintf(t, sizeof(t), "%g", secs);
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
		if (sscanf(line, "%127s %lf", name, &v) == 2 &&
		    strcmp(name, "pipe_send_bytes_256B_msgs_per_s") == 0) {
			got = v;
		}
	}
	if (in) {
		fclose(in);
	}
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		fprintf(stderr, "bench-trace: %s failed\n", script);
	}
	return got;
}

static int
cmp_res(const void *a, const void *b)
{
	return cmp_double(&((const struct result *) a)->msgs_s,
	    &((const struct result *) b)->msgs_s);
}

int
main(int argc, char **argv)
{
	struct result res[NMODES][15];
	const char   *script = TR_BENCH_MP_PIPE;
	long          n      = 200000;
	int           rounds = 3, only = -1;
	double        py, off;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--rounds") && i + 1 < argc) {
			rounds = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--count") && i + 1 < argc) {
			n = atol(argv[++i]);
		} else if (!strcmp(argv[i], "--mode") && i + 1 < argc) {
			i++;
			for (int k = 0; k < NMODES; k++) {
				only =
				    strcmp(argv[i], mode_names[k]) ? only : k;
			}
		} else if (!strcmp(argv[i], "--python") && i + 1 < argc) {
			script = argv[++i];
		} else {
			fprintf(stderr,
			    "usage: bench-trace [--rounds N (1-15)] [--count "
			    "N] "
			    "[--mode off|filtered|on] [--python mp_pipe.py]\n");
			return 2;
		}
	}
	if (rounds < 1 || rounds > 15 || n < 2) {
		return 2;
	}
	CHECK_TR(tr_init(argc, argv));
	if (only >= 0) { /* one run, for a profiler */
		struct result r = run(only, n);

		printf("%s %.0f msgs/s\n", mode_names[only], r.msgs_s);
		return 0;
	}
	for (int k = 0; k < rounds; k++) {
		for (int m = 0; m < NMODES; m++) {
			res[m][k] = run(m, n);
		}
	}
	py = python_pipe(script, 1.5);
	printf("bench-trace: %ld one-way 256 B messages, source -> sink actor, "
	       "median of %d rounds\n",
	    n, rounds);
	printf("%-34s %12s %9s %10s %10s %9s\n", "tracing", "msgs/s", "vs off",
	    "events", "dropped", "vs Pipe");
	for (int m = 0; m < NMODES; m++) {
		struct result *r = &res[m][rounds / 2];

		qsort(res[m], (size_t) rounds, sizeof(res[m][0]), cmp_res);
		off = res[OFF][rounds / 2].msgs_s;
		printf("%-34s %12.0f %8.1f%% %10llu %10llu %8.2fx\n",
		    m == OFF            ? "off (compiled in)"
		        : m == FILTERED ? "on, every actor filtered out"
		                        : "on, recording every message",
		    r->msgs_s, 100.0 * r->msgs_s / off,
		    (unsigned long long) r->events,
		    (unsigned long long) r->dropped,
		    py > 0 ? r->msgs_s / py : 0);
	}
	printf("%-34s %12.0f   (Python multiprocessing.Pipe send_bytes, "
	       "same run)\n",
	    "python Pipe 256 B", py);
	return 0;
}
