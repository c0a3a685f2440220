/* SPDX-License-Identifier: MIT */
/* bench-process -- what an actor process costs, next to Python's
 * multiprocessing and next to the bare system.  For each start method
 * (fork, spawn, forkserver):
 *
 *   start+join	  tr_process_new() + start + join + destroy of an actor
 *		  that returns at once: median and p99 (the sample at
 *		  index 0.99 * N of the sorted N) over N runs, after two
 *		  untimed warm-ups (the first starts the forkserver).
 *   idle memory  Rss and Pss (/proc/PID/smaps_rollup) of an actor that
 *		  waits in pause(), with its mailbox bound at start
 *		  (eager mailbox), read 300 ms after it reported running.
 *
 * The python column comes from mp_process.py, which this program runs with
 * /usr/bin/python3 in the same run and which measures Process start+join
 * and an idle child the same way.  The floor column is measured here:
 *
 *   fork	  fork(); child _exit(0); waitpid() of this very process,
 *		  interleaved sample by sample with troupe's fork runs.
 *   spawn	  posix_spawn() of this binary, which exits in main() at
 *		  once, and waitpid(): exec and dynamic loading alone.
 *   memory	  an idle fork()ed child of this process holding a ZeroMQ
 *		  context and a bound PULL socket (what an idle actor's
 *		  mailbox needs at least; a context alone starts no threads).
 *
 * Usage: bench-process [--fork-runs N] [--spawn-runs N]
 *	  [--forkserver-runs N] [--python SCRIPT | --no-python]
 *	  [--python-bin PATH] [--tsv] [--breakdown]
 * --python-bin picks the interpreter (default /usr/bin/python3; how fast
 * Python spawns depends a lot on the build: the anchors' pyenv 3.11.7
 * took about twice as long as Debian's 3.11.2 here).  --tsv prints
 * name<TAB>value<TAB>unit lines instead of the table; --breakdown adds
 * the biggest Pss mappings of each idle process. */
#include <errno.h>
#include <signal.h>
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

#ifndef MP_PROCESS_PY
#define MP_PROCESS_PY "mp_process.py"
#endif
#define PYTHON       "/usr/bin/python3"
#define EXIT_AT_ONCE "--exit-at-once"
#define NMETHODS     3

extern char **environ;

struct stats {
	double med, p99;
};

struct mem {
	long rss, pss; /* KiB */
};

struct results {
	struct stats troupe[NMETHODS], python[NMETHODS];
	struct stats fork_floor, spawn_floor;
	struct mem   troupe_idle[NMETHODS], python_idle[NMETHODS], zmq_idle;
	bool         have_python;
};

static const char *const mnames[NMETHODS] = {
	"fork",
	"spawn",
	"forkserver",
};
static const int mcodes[NMETHODS] = {
	TR_START_FORK,
	TR_START_SPAWN,
	TR_START_FORKSERVER,
};

static int
noop(const void *args, size_t len)
{
	return 0;
}
TR_ACTOR(noop, noop)

/* Idle as an actor is idle: mailbox bound, blocked in tr_recv(). */
static int
idle(const void *args, size_t len)
{
	tr_msg *m;

	while (tr_recv(&m, TR_TIMEOUT_INFINITE) == 0) {
		tr_msg_destroy(&m);
	}
	return 0;
}
TR_ACTOR(idle, idle)

static void
check(int r, const char *what)
{
	if (r < 0) {
		fprintf(
		    stderr, "bench-process: %s: %s\n", what, tr_strerror(r));
		exit(1);
	}
}

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec * 1e6 + (double) ts.tv_nsec / 1e3;
}

/* As mp_process.py: statistics.median, and s[min(n - 1, int(0.99 n))]. */
static struct stats
stats_of(double *s, int n)
{
	struct stats st;
	int          i = (int) (0.99 * n);

	qsort(s, (size_t) n, sizeof(*s), cmp_double);
	st.med = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
	st.p99 = s[i < n - 1 ? i : n - 1];
	return st;
}

/* ---- start+join ---------------------------------------------------------- */

static double
troupe_start_join(int method)
{
	tr_process *p;
	double      t = now_us();
	int         code;

	check(tr_process_new(&p, "noop", NULL, 0), "tr_process_new");
	check(tr_process_set_start_method(p, method), "set_start_method");
	check(tr_process_start(p, 10000), "tr_process_start");
	check(tr_process_join(p, TR_TIMEOUT_INFINITE), "tr_process_join");
	t = now_us() - t;
	check(tr_process_exitcode(p, &code), "tr_process_exitcode");
	if (code != 0) {
		fprintf(stderr, "bench-process: noop exited with %d\n", code);
		exit(1);
	}
	tr_process_destroy(&p);
	return t;
}

static double
fork_floor_once(void)
{
	double t = now_us();
	pid_t  pid;

	pid = fork();
	if (pid == 0) {
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, NULL, 0) != pid) {
		perror("bench-process: fork floor");
		exit(1);
	}
	return now_us() - t;
}

static double
spawn_floor_once(void)
{
	char  *argv[] = { "bench-process", EXIT_AT_ONCE, NULL };
	double t      = now_us();
	pid_t  pid;
	int    status;

	if (posix_spawn(&pid, "/proc/self/exe", NULL, NULL, argv, environ) !=
	        0 ||
	    waitpid(pid, &status, 0) != pid || status != 0) {
		fprintf(stderr, "bench-process: spawn floor failed\n");
		exit(1);
	}
	return now_us() - t;
}

/* troupe's start+join with method, interleaved sample by sample with
 * floor_once(), so that both see the same machine. */
static void
measure_pair(int method, double (*floor_once)(void), int n, struct stats *tr,
    struct stats *fl)
{
	double *ts = calloc((size_t) n, sizeof(double));
	double *fs = calloc((size_t) n, sizeof(double));

	if (!ts || !fs) {
		exit(1);
	}
	for (int i = 0; i < 2; i++) {
		(void) troupe_start_join(method);
		(void) floor_once();
	}
	for (int i = 0; i < n; i++) {
		fs[i] = floor_once();
		ts[i] = troupe_start_join(method);
	}
	*tr = stats_of(ts, n);
	*fl = stats_of(fs, n);
	free(ts);
	free(fs);
}

static struct stats
measure(int method, int n)
{
	double      *s = calloc((size_t) n, sizeof(double));
	struct stats st;

	if (!s) {
		exit(1);
	}
	for (int i = 0; i < 2; i++) {
		(void) troupe_start_join(method);
	}
	for (int i = 0; i < n; i++) {
		s[i] = troupe_start_join(method);
	}
	st = stats_of(s, n);
	free(s);
	return st;
}

/* ---- idle memory --------------------------------------------------------- */

static struct mem
smaps_rollup(pid_t pid)
{
	struct mem m = { -1, -1 };
	char       path[64], line[256];
	FILE      *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int) pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "Rss:", 4) == 0) {
			m.rss = atol(line + 4);
		} else if (strncmp(line, "Pss:", 4) == 0) {
			m.pss = atol(line + 4);
		}
	}
	if (f) {
		fclose(f);
	}
	return m;
}

/* The n biggest Pss contributors of pid, by mapped file ("[anon]" for
 * anonymous memory), from /proc/PID/smaps. */
static void
print_breakdown(pid_t pid, const char *label, int n)
{
	struct {
		char name[128];
		long pss;
	} top[64];
	char  path[64], line[512], cur[128] = "[anon]";
	int   count = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps", (int) pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f)) {
		char *name = NULL;
		int   i;

		if (strchr(line, '-') &&
		    strchr(line, '-') < strchr(line, ' ')) {
			/* a mapping header: the pathname is the 6th field */
			name = line;
			for (i = 0; i < 5 && name; i++) {
				name = strchr(name, ' ');
				name = name ? name + strspn(name, " ") : NULL;
			}
			snprintf(cur, sizeof(cur), "%s",
			    name && *name != '\n' ? name : "[anon]\n");
			cur[strcspn(cur, "\n")] = '\0';
			continue;
		}
		if (strncmp(line, "Pss:", 4) != 0) {
			continue;
		}
		/* top[0..count) are all written */
		/* cppcheck-suppress legacyUninitvar */
		for (i = 0; i < count && strcmp(top[i].name, cur); i++) { }
		if (i == count && count < 64) {
			snprintf(
			    top[count].name, sizeof(top[0].name), "%s", cur);
			top[count++].pss = 0;
		}
		if (i < count) {
			top[i].pss += atol(line + 4);
		}
	}
	if (f) {
		fclose(f);
	}
	printf("  Pss of the idle %s process by mapping (KiB):\n", label);
	for (int k = 0; k < n && k < count; k++) {
		int best = k;

		for (int j = k + 1; j < count; j++) {
			best = top[j].pss > top[best].pss ? j : best;
		}
		if (best != k) {
			__typeof__(top[0]) tmp = top[k];

			top[k]    = top[best];
			top[best] = tmp;
		}
		printf("    %6ld  %s\n", top[k].pss, top[k].name);
	}
}

static struct mem
troupe_idle(int method, const char *label, bool breakdown)
{
	tr_process *p;
	struct mem  m;

	check(tr_process_new(&p, "idle", NULL, 0), "tr_process_new");
	check(tr_process_set_start_method(p, method), "set_start_method");
	check(tr_process_set_eager_mailbox(p, true), "set_eager_mailbox");
	check(tr_process_start(p, 10000), "tr_process_start");
	usleep(300000);
	m = smaps_rollup(tr_process_pid(p));
	if (breakdown) {
		print_breakdown(tr_process_pid(p), label, 8);
	}
	check(tr_process_kill(p), "tr_process_kill");
	check(tr_process_join(p, TR_TIMEOUT_INFINITE), "tr_process_join");
	tr_process_destroy(&p);
	return m;
}

static _Noreturn void
zmq_idle_child(const char *endpoint, int ready_fd)
{
	void *ctx = zmq_ctx_new();
	void *s   = ctx ? zmq_socket(ctx, ZMQ_PULL) : NULL;
	char  c   = 1;

	if (!s || zmq_bind(s, endpoint) < 0 || write(ready_fd, &c, 1) != 1) {
		_exit(1);
	}
	for (;;) {
		pause();
	}
}

static struct mem
zmq_idle(bool breakdown)
{
	char       endpoint[256];
	struct mem m;
	int        fds[2];
	pid_t      pid;
	char       c;

	snprintf(endpoint, sizeof(endpoint), "ipc://%s/bench-floor",
	    tr_runtime_dir());
	if (pipe(fds) < 0) {
		exit(1);
	}
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		close(fds[0]);
		zmq_idle_child(endpoint, fds[1]);
	}
	close(fds[1]);
	if (pid < 0 || read(fds[0], &c, 1) != 1) {
		fprintf(stderr, "bench-process: idle zmq child failed\n");
		exit(1);
	}
	close(fds[0]);
	usleep(300000);
	m = smaps_rollup(pid);
	if (breakdown) {
		print_breakdown(pid, "ZeroMQ floor", 8);
	}
	(void) kill(pid, SIGKILL);
	(void) waitpid(pid, NULL, 0);
	return m;
}

/* ---- Python ----------------------------------------------------------------
 */

static void
python_figure(struct results *res, const char *name, double v)
{
	for (int m = 0; m < NMETHODS; m++) {
		char key[64];

		snprintf(key, sizeof(key), "start_join_%s_us", mnames[m]);
		res->python[m].med = strcmp(name, key) ? res->python[m].med : v;
		snprintf(key, sizeof(key), "start_join_%s_p99_us", mnames[m]);
		res->python[m].p99 = strcmp(name, key) ? res->python[m].p99 : v;
		snprintf(key, sizeof(key), "idle_%s_rss_kib", mnames[m]);
		if (strcmp(name, key) == 0) {
			res->python_idle[m].rss = (long) v;
		}
		snprintf(key, sizeof(key), "idle_%s_pss_kib", mnames[m]);
		if (strcmp(name, key) == 0) {
			res->python_idle[m].pss = (long) v;
		}
	}
}

static void
run_python(struct results *res, const char *python, const char *script,
    const int runs[])
{
	char   cmd[4096], name[64], unit[16];
	FILE  *f;
	double v;

	snprintf(cmd, sizeof(cmd),
	    "'%s' '%s' --fork-runs %d --spawn-runs %d "
	    "--forkserver-runs %d",
	    python, script, runs[0], runs[1], runs[2]);
	fflush(NULL);
	f = popen(cmd, "r");
	if (!f) {
		perror("bench-process: popen");
		return;
	}
	while (fscanf(f, "%63s %lf %15s", name, &v, unit) == 3) {
		python_figure(res, name, v);
	}
	res->have_python = pclose(f) == 0;
	if (!res->have_python) {
		fprintf(stderr, "bench-process: %s failed\n", cmd);
	}
}

/* ---- output ----------------------------------------------------------------
 */

static void
cell(double v, const char *fmt)
{
	if (v > 0) {
		printf(fmt, v);
	} else {
		printf("%10s", "-");
	}
}

/* fmt: the numbers' format; than: "faster" or "smaller" */
static void
row(const char *figure, double t, double py, double floor, const char *fmt,
    const char *than)
{
	printf("%-31s", figure);
	cell(t, fmt);
	cell(py, fmt);
	cell(floor, fmt);
	printf("  ");
	if (floor > 0) {
		printf("%.2fx floor%s", t / floor, py > 0 ? ", " : "");
	}
	if (py > 0) {
		printf("%.1fx %s than python", py / t, than);
	}
	printf("\n");
}

static void
print_table(const struct results *r)
{
	const struct stats *floors[NMETHODS] = { &r->fork_floor,
		&r->spawn_floor, NULL };
	char                fig[64];

	printf("%-31s%10s%10s%10s  %s\n", "figure", "troupe", "python", "floor",
	    "ratio");
	for (int m = 0; m < NMETHODS; m++) {
		snprintf(fig, sizeof(fig), "%s start+join med (us)", mnames[m]);
		row(fig, r->troupe[m].med, r->python[m].med,
		    floors[m] ? floors[m]->med : 0, "%10.1f", "faster");
		snprintf(fig, sizeof(fig), "%s start+join p99 (us)", mnames[m]);
		row(fig, r->troupe[m].p99, r->python[m].p99,
		    floors[m] ? floors[m]->p99 : 0, "%10.1f", "faster");
	}
	for (int m = 0; m < NMETHODS; m++) {
		snprintf(fig, sizeof(fig), "idle %s RSS (KiB)", mnames[m]);
		row(fig, (double) r->troupe_idle[m].rss,
		    (double) r->python_idle[m].rss, (double) r->zmq_idle.rss,
		    "%10.0f", "smaller");
		snprintf(fig, sizeof(fig), "idle %s PSS (KiB)", mnames[m]);
		row(fig, (double) r->troupe_idle[m].pss,
		    (double) r->python_idle[m].pss, (double) r->zmq_idle.pss,
		    "%10.0f", "smaller");
	}
	printf("floors: fork = fork()+_exit()+waitpid(); spawn = exec of this "
	       "binary, exiting at once;\n        memory = idle child with a "
	       "ZeroMQ context and a bound socket\n");
}

static void
target(const char *what, bool met, double ratio, const char *unit)
{
	printf("  %-60s %6.2f%-8s %s\n", what, ratio, unit,
	    met ? "met" : "MISSED");
}

static void
print_targets(const struct results *r)
{
	double fork_ratio = r->troupe[0].med / r->fork_floor.med;

	printf("\ntargets:\n");
	target("fork start+join median <= 1.3x bare fork floor",
	    fork_ratio <= 1.3, fork_ratio, "x floor");
	for (int m = 1; m < NMETHODS && r->have_python; m++) {
		char   what[96];
		double speedup = r->python[m].med / r->troupe[m].med;

		snprintf(what, sizeof(what),
		    "%s start+join median >= 20x faster than python",
		    mnames[m]);
		target(what, speedup >= 20, speedup, "x");
	}
	for (int m = 0; m < NMETHODS; m++) {
		char   what[96];
		double ratio =
		    (double) r->troupe_idle[m].pss / (double) r->zmq_idle.pss;

		snprintf(what, sizeof(what),
		    "idle %s actor PSS <= idle ZeroMQ child PSS (%+ld KiB)",
		    mnames[m], r->troupe_idle[m].pss - r->zmq_idle.pss);
		target(what, ratio <= 1.0, ratio, "x floor");
	}
}

static void
print_tsv(const struct results *r)
{
	for (int m = 0; m < NMETHODS; m++) {
		printf("troupe_start_join_%s_us\t%.1f\tus\n", mnames[m],
		    r->troupe[m].med);
		printf("troupe_start_join_%s_p99_us\t%.1f\tus\n", mnames[m],
		    r->troupe[m].p99);
		printf("troupe_idle_%s_rss_kib\t%ld\tKiB\n", mnames[m],
		    r->troupe_idle[m].rss);
		printf("troupe_idle_%s_pss_kib\t%ld\tKiB\n", mnames[m],
		    r->troupe_idle[m].pss);
		if (r->have_python) {
			printf("python_start_join_%s_us\t%.1f\tus\n", mnames[m],
			    r->python[m].med);
			printf("python_start_join_%s_p99_us\t%.1f\tus\n",
			    mnames[m], r->python[m].p99);
			printf("python_idle_%s_rss_kib\t%ld\tKiB\n", mnames[m],
			    r->python_idle[m].rss);
			printf("python_idle_%s_pss_kib\t%ld\tKiB\n", mnames[m],
			    r->python_idle[m].pss);
		}
	}
	printf("floor_fork_exit_waitpid_us\t%.1f\tus\n", r->fork_floor.med);
	printf("floor_fork_exit_waitpid_p99_us\t%.1f\tus\n", r->fork_floor.p99);
	printf("floor_spawn_exit_waitpid_us\t%.1f\tus\n", r->spawn_floor.med);
	printf(
	    "floor_spawn_exit_waitpid_p99_us\t%.1f\tus\n", r->spawn_floor.p99);
	printf("floor_zmq_idle_child_rss_kib\t%ld\tKiB\n", r->zmq_idle.rss);
	printf("floor_zmq_idle_child_pss_kib\t%ld\tKiB\n", r->zmq_idle.pss);
}

/* ---- main ------------------------------------------------------------------
 */

struct options {
	int         runs[NMETHODS];
	const char *script; /* NULL: no Python */
	const char *python; /* interpreter */
	bool        tsv, breakdown;
};

static void
parse_options(int argc, char **argv, struct options *o)
{
	*o = (struct options) { { 300, 50, 100 }, MP_PROCESS_PY, PYTHON, false,
		false };
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		int         m = -1;

		m = strcmp(a, "--fork-runs") == 0         ? 0
		    : strcmp(a, "--spawn-runs") == 0      ? 1
		    : strcmp(a, "--forkserver-runs") == 0 ? 2
		                                          : -1;
		if (m >= 0 && v && atoi(v) > 0) {
			o->runs[m] = atoi(argv[++i]);
		} else if (strcmp(a, "--python") == 0 && v) {
			o->script = argv[++i];
		} else if (strcmp(a, "--python-bin") == 0 && v) {
			o->python = argv[++i];
		} else if (strcmp(a, "--no-python") == 0) {
			o->script = NULL;
		} else if (strcmp(a, "--tsv") == 0) {
			o->tsv = true;
		} else if (strcmp(a, "--breakdown") == 0) {
			o->breakdown = true;
		} else {
			fprintf(stderr,
			    "usage: bench-process [--fork-runs N] "
			    "[--spawn-runs N] [--forkserver-runs N] "
			    "[--python SCRIPT | --no-python] "
			    "[--python-bin PATH] [--tsv] "
			    "[--breakdown]\n");
			exit(2);
		}
	}
}

int
main(int argc, char **argv)
{
	static struct results res;
	struct options        o;

	/* The spawn floor: this binary exec'd and gone, without tr_init().
	 * Nothing else may come before tr_init(). */
	if (argc == 2 && strcmp(argv[1], EXIT_AT_ONCE) == 0) {
		_exit(0);
	}
	check(tr_init(argc, argv), "tr_init");
	parse_options(argc, argv, &o);

	measure_pair(TR_START_FORK, fork_floor_once, o.runs[0], &res.troupe[0],
	    &res.fork_floor);
	measure_pair(TR_START_SPAWN, spawn_floor_once, o.runs[1],
	    &res.troupe[1], &res.spawn_floor);
	res.troupe[2] = measure(TR_START_FORKSERVER, o.runs[2]);
	for (int m = 0; m < NMETHODS; m++) {
		res.troupe_idle[m] =
		    troupe_idle(mcodes[m], mnames[m], o.breakdown);
	}
	res.zmq_idle = zmq_idle(o.breakdown);
	if (o.script) {
		run_python(&res, o.python, o.script, o.runs);
	}
	if (o.tsv) {
		print_tsv(&res);
	} else {
		print_table(&res);
		print_targets(&res);
	}
	return 0;
}
