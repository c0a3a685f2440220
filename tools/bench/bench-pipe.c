/* SPDX-License-Identifier: MIT */
/* bench-pipe -- tr_pipe between two processes next to Python's
 * multiprocessing.Pipe, measured in the same run (tools/bench/mp_pipe.py
 * with /usr/bin/python3), and the ratios:
 *
 *   256 B objects/s  one way: a child sends N messages, the parent times
 *                    its first to its last receive, (N-1)/time.  troupe's
 *                    tr_pipe_send()/tr_pipe_recv() of tr_msg objects
 *                    against Python's send()/recv() (pickled: the seed's
 *                    "256 byte string objects" row), and the raw forms,
 *                    tr_pipe_send_bytes()/tr_pipe_recv_bytes() against
 *                    send_bytes()/recv_bytes().
 *   64 KiB MB/s      the same with 65536-byte messages (raw forms).
 *   round trip 64 B  duplex, to an echo child: median and 99th percentile
 *                    (raw forms), sampled for --time s after 1000
 *                    warm-ups.
 *
 * Throughput runs are calibrated, then sized to about --time seconds
 * (default 1.5).  --count N fixes the count instead; --no-python skips
 * Python.  Not a test: numbers depend on the machine and its load. */
#include <errno.h>
#include <math.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "troupe.h"

#include "bench-util.h"

#ifndef TR_BENCH_MP_PIPE
#define TR_BENCH_MP_PIPE "tools/bench/mp_pipe.py"
#endif

#define SMALL   256
#define LARGE   65536
#define RT_SIZE 64
#define WARMUP  1000
#define HANG_MS 300000

extern char **environ;

static double target_s = 1.5;
static long   fixed_count;
static bool   python = true;

struct job {
	long   n;
	size_t size;
	bool   objects; /* tr_msg send, else send_bytes */
};

#define CHECK(expr)                     \
	do {                            \
		int r_ = (expr);        \
		if (r_ < 0) {           \
			die(#expr, r_); \
		}                       \
	} while (0)

/* ---- children ------------------------------------------------------------ */

/* args: slot (one byte) then a struct job. */
static int
source_main(const void *args, size_t len)
{
	struct job j;
	tr_pipe   *p;
	char      *buf;
	int        r = 0;

	if (len != 1 + sizeof(j)) {
		return -EINVAL;
	}
	memcpy(&j, (const char *) args + 1, sizeof(j));
	r   = tr_pipe_inherit(((const char *) args)[0], &p);
	buf = calloc(1, j.size);
	if (r < 0 || !buf) {
		return r < 0 ? r : -ENOMEM;
	}
	for (long i = 0; i < j.n && r == 0; i++) {
		tr_msg *m;

		if (!j.objects) {
			r = tr_pipe_send_bytes(p, buf, j.size, HANG_MS);
			continue;
		}
		r = tr_msg_new_bytes(&m, buf, j.size);
		if (r == 0) {
			r = tr_pipe_send(p, &m, HANG_MS);
			tr_msg_destroy(&m);
		}
	}
	tr_pipe_destroy(&p);
	free(buf);
	return r;
}
TR_ACTOR(bench_pipe_source, source_main)

static int
echo_main(const void *args, size_t len)
{
	char     buf[RT_SIZE];
	tr_pipe *p;
	size_t   n;
	int      r;

	(void) len;
	r = tr_pipe_inherit(((const char *) args)[0], &p);
	while (r == 0) {
		r = tr_pipe_recv_bytes(p, buf, sizeof(buf), &n, HANG_MS);
		if (r == 0) {
			r = tr_pipe_send_bytes(p, buf, n, HANG_MS);
		}
	}
	tr_pipe_destroy(&p);
	return r == -EPIPE ? 0 : r;
}
TR_ACTOR(bench_pipe_echo, echo_main)

/* Start actor with end handed over (slot 0) and args after the slot. */
static tr_process *
start(const char *actor, tr_pipe **endp, const void *args, size_t len)
{
	char        buf[1 + sizeof(struct job)] = { 0 };
	tr_process *p;

	if (len) {
		memcpy(buf + 1, args, len);
	}
	CHECK(tr_process_new(&p, actor, buf, 1 + len));
	CHECK(tr_process_pass_pipe(p, *endp));
	CHECK(tr_process_start(p, 30000));
	tr_pipe_destroy(endp);
	return p;
}

static void
finish(tr_process **pp)
{
	int code = -1;

	CHECK(tr_process_join(*pp, HANG_MS));
	CHECK(tr_process_exitcode(*pp, &code));
	if (code != 0) {
		fprintf(stderr, "bench-pipe: child exit code %d\n", code);
		exit(1);
	}
	tr_process_destroy(pp);
}

/* ---- troupe -------------------------------------------------------------- */

/* Seconds from the first message received to the last of n. */
static double
oneway(long n, size_t size, bool objects)
{
	struct job  j = { n, size, objects };
	tr_pipe    *r, *w;
	tr_process *p;
	char       *buf = malloc(size);
	double      t0  = 0;
	size_t      got;

	CHECK(tr_pipe_new(false, &r, &w));
	p = start("bench_pipe_source", &w, &j, sizeof(j));
	for (long i = 0; i < n; i++) {
		if (objects) {
			tr_msg *m;

			CHECK(tr_pipe_recv(r, &m, HANG_MS));
			got = tr_msg_size(m);
			tr_msg_destroy(&m);
		} else {
			CHECK(tr_pipe_recv_bytes(r, buf, size, &got, HANG_MS));
		}
		if (got != size) {
			die("size", -EBADMSG);
		}
		if (i == 0) {
			t0 = now();
		}
	}
	t0 = now() - t0;
	finish(&p);
	tr_pipe_destroy(&r);
	free(buf);
	return t0;
}

/* Messages per second, calibrated to about target_s. */
static double
throughput(size_t size, long n0, bool objects)
{
	long n = fixed_count;

	if (!n) {
		double t = oneway(n0, size, objects);

		n = (long) ((double) n0 * target_s / (t > 1e-6 ? t : 1e-6));
		n = n < n0 ? n0 : n;
	}
	return (double) (n - 1) / oneway(n, size, objects);
}

static void
roundtrip(double *ret_med_us, double *ret_p99_us)
{
	char        buf[RT_SIZE] = { 0 };
	tr_pipe    *a, *b;
	tr_process *p;
	size_t      n, cap = 1 << 16, count = 0;
	double     *s = malloc(cap * sizeof(*s)), end;

	CHECK(tr_pipe_new(true, &a, &b));
	p = start("bench_pipe_echo", &b, NULL, 0);
	for (int i = 0; i < (fixed_count ? 0 : WARMUP); i++) {
		CHECK(tr_pipe_send_bytes(a, buf, sizeof(buf), HANG_MS));
		CHECK(tr_pipe_recv_bytes(a, buf, sizeof(buf), &n, HANG_MS));
	}
	end = now() + target_s;
	while (fixed_count ? (long) count < fixed_count : now() < end) {
		double t = now();

		CHECK(tr_pipe_send_bytes(a, buf, sizeof(buf), HANG_MS));
		CHECK(tr_pipe_recv_bytes(a, buf, sizeof(buf), &n, HANG_MS));
		if (count == cap) {
			double *grown = realloc(s, 2 * cap * sizeof(*s));

			if (!grown) {
				die("realloc", -ENOMEM);
			}
			s = grown;
			cap *= 2;
		}
		s[count++] = (now() - t) * 1e6;
	}
	tr_pipe_destroy(&a);
	finish(&p);
	qsort(s, count, sizeof(*s), cmp_double);
	*ret_med_us = s[count / 2];
	*ret_p99_us = s[(size_t) ((double) count * 0.99)];
	free(s);
}

/* ---- Python -------------------------------------------------------------- */

struct py {
	double bytes_256, pickle_256, mb_64k, rt_us, rt_p99_us;
};

static void
run_python(struct py *py)
{
	char  t[32], c[32], line[256];
	char *argv[] = { "/usr/bin/python3", TR_BENCH_MP_PIPE, "--time", t,
		fixed_count ? "--count" : NULL, c, NULL };
	int   fds[2];
	pid_t pid;
	FILE *f;
	posix_spawn_file_actions_t fa;

	snprintf(t, sizeof(t), "%g", target_s);
	snprintf(c, sizeof(c), "%ld", fixed_count);
	if (pipe(fds) < 0) {
		die("pipe", -errno);
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
	posix_spawn_file_actions_addclose(&fa, fds[0]);
	if (posix_spawn(&pid, argv[0], &fa, NULL, argv, environ) != 0) {
		fprintf(stderr, "bench-pipe: no /usr/bin/python3\n");
		return;
	}
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	f = fdopen(fds[0], "r");
	while (f && fgets(line, sizeof(line), f)) {
		char   name[128];
		double v;

		if (sscanf(line, "%127s %lf", name, &v) != 2) {
			continue;
		}
		if (strcmp(name, "pipe_send_bytes_256B_msgs_per_s") == 0) {
			py->bytes_256 = v;
		} else if (strcmp(name, "pipe_pickle_256B_msgs_per_s") == 0) {
			py->pickle_256 = v;
		} else if (strcmp(name, "pipe_send_bytes_64KiB_MB_per_s") ==
		    0) {
			py->mb_64k = v;
		} else if (strcmp(name, "pipe_send_bytes_64B_rt_us") == 0) {
			py->rt_us = v;
		} else if (strcmp(name, "pipe_send_bytes_64B_rt_p99_us") == 0) {
			py->rt_p99_us = v;
		}
	}
	if (f) {
		fclose(f);
	}
	(void) waitpid(pid, NULL, 0);
}

static void
row(const char *name, const char *unit, double ours, double theirs,
    const char *aim)
{
	printf("%-34s %12.1f %12.1f %8.2fx  %s %s\n", name, ours, theirs,
	    ours / theirs, aim, unit);
}

int
main(int argc, char **argv)
{
	struct py py = { NAN, NAN, NAN, NAN, NAN };
	double    obj256, bytes256, mb64k, rt, rt99;

	CHECK(tr_init(argc, argv));
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--time") == 0 && i + 1 < argc) {
			target_s = atof(argv[++i]);
		} else if (strcmp(argv[i], "--count") == 0 && i + 1 < argc) {
			fixed_count = atol(argv[++i]);
		} else if (strcmp(argv[i], "--no-python") == 0) {
			python = false;
		} else {
			fprintf(stderr,
			    "usage: bench-pipe [--time S] [--count N] "
			    "[--no-python]\n");
			return 2;
		}
	}
	obj256   = throughput(SMALL, 20000, true);
	bytes256 = throughput(SMALL, 20000, false);
	mb64k    = throughput(LARGE, 2000, false) * LARGE / 1e6;
	roundtrip(&rt, &rt99);
	if (python) {
		run_python(&py);
	}
	printf("%-34s %12s %12s %9s  %s\n", "pipe (one run)", "troupe",
	    "python", "ratio", "aim");
	row("256 B objects/s (msg vs pickle)", "msg/s", obj256, py.pickle_256,
	    ">= 5x");
	row("256 B bytes/s (send_bytes)", "msg/s", bytes256, py.bytes_256,
	    ">= 5x");
	row("64 KiB throughput", "MB/s", mb64k, py.mb_64k, ">= 1.0x");
	row("round trip 64 B, median", "us", rt, py.rt_us, "<= 0.5x");
	row("round trip 64 B, p99", "us", rt99, py.rt_p99_us, "");
	return 0;
}
