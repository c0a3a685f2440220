/* SPDX-License-Identifier: MIT */
/* demo -- a supervised worker service, run as a service: the main program
 * is the root supervisor (tr_supervisor_run()).
 *
 *   root (rest_for_one)    the main program
 *   |- dispatcher          hands out jobs, takes results back
 *   |- squares             a tr_pool of 2 processes, as an actor
 *   |- pool (one_for_one)  a supervisor of workers
 *   |  |- worker.1..3      take a job (tr_call), work, report it done
 *   |  `- crashy           the same, but now and then dies mid-job
 *   `- reporter            prints the tree every second
 *
 * The dispatcher monitors every worker it gives a job to; when one dies
 * holding a job, the job goes back in the queue, so none is lost.  The
 * pool supervisor restarts the crashy worker each time.  Job n's work is
 * a batch: the squares of 4n .. 4n+3, which a worker has the "squares"
 * pool map (tr_pool_call_map_int64(), by name); it reports their sum with
 * the job, and the dispatcher checks it.
 *
 * Stop it with Ctrl-C, SIGTERM or SIGHUP, or let the reporter do so after
 * --seconds N (default 5) the way a service manager would: SIGTERM to the
 * main program.  The root then stops its children in reverse start order:
 * the reporter, the pool (which stops crashy, worker.3, .2 and .1, each
 * finishing the job in hand), the squares pool (its tr_pool's processes
 * with it), and last the dispatcher, which leaves its
 * final counts in the run's directory.  tr_supervisor_run() returns and
 * main prints the summary.  A second Ctrl-C during the shutdown kills the
 * rest at once.  Set TROUPE_LOG=info to also see the supervisors' own
 * restart log. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "troupe.h"

#define NWORKERS 3
#define MAXW     64
#define CALL_MS  1000
#define BATCH    4 /* numbers a job's batch squares through the pool */

/* ---- the dispatcher --------------------------------------------------------
 */

struct dispatcher {
	struct {
		tr_addr  addr;
		uint64_t job; /* 0 = idle */
	} w[MAXW];
	uint64_t *requeued; /* jobs whose worker died */
	size_t    nrequeued;
	uint8_t  *done; /* done[id]: times reported done */
	uint64_t  next, ndone, nrequeues, dups, crashes;
	uint64_t  summed, badsums; /* batches whose sum was checked; wrong */
	tr_msg   *parked[MAXW];    /* "get"s waiting for a job */
	size_t    nparked;
};

/* The sum of the squares of job's batch, 4n .. 4n+3. */
static unsigned long long
batch_sum(uint64_t job)
{
	unsigned long long sum = 0;

	for (uint64_t k = BATCH * job; k < BATCH * job + BATCH; k++) {
		sum += k * k;
	}
	return sum;
}

static void
answer(const tr_msg *req, const char *fmt, unsigned long long v)
{
	char    text[64];
	int     n;
	tr_msg *m;

	/* fmt is a literal at every call, with one %llu or none (an unused
	 * argument is ignored, C11 7.21.6.1p2): cppcheck only guesses */
	/* cppcheck-suppress wrongPrintfScanfArgNum */
	n = snprintf(text, sizeof(text), fmt, v);

	if (tr_msg_new_bytes(&m, text, (size_t) n) == 0) {
		(void) tr_reply(req, &m, CALL_MS);
		tr_msg_destroy(&m);
	}
}

static int
worker_slot(struct dispatcher *d, tr_addr a)
{
	int free_slot = -1;

	for (int i = 0; i < MAXW; i++) {
		if (tr_addr_eq(d->w[i].addr, a)) {
			return i;
		}
		if (free_slot < 0 && tr_addr_is_null(d->w[i].addr)) {
			free_slot = i;
		}
	}
	if (free_slot >= 0 && tr_monitor(a, NULL) == 0) {
		d->w[free_slot].addr = a;
		d->w[free_slot].job  = 0;
	}
	return free_slot;
}

/* Give the requester a job; false if there is none to give now. */
static bool
give_job(struct dispatcher *d, const tr_msg *req)
{
	int      i = worker_slot(d, tr_msg_sender(req));
	uint64_t job;

	if (i < 0) {
		return false;
	}
	if (d->nrequeued) {
		job = d->requeued[--d->nrequeued];
	} else {
		job          = d->next++;
		d->done      = realloc(d->done, d->next);
		d->done[job] = 0;
	}
	d->w[i].job = job;
	answer(req, "job %llu", (unsigned long long) job);
	return true;
}

static void
serve_parked(struct dispatcher *d)
{
	while (d->nparked && give_job(d, d->parked[d->nparked - 1])) {
		tr_msg_destroy(&d->parked[--d->nparked]);
	}
}

static void
on_down(struct dispatcher *d, const tr_msg *m)
{
	tr_down down;

	if (tr_msg_down(m, &down) < 0) {
		return;
	}
	if (down.exit_class == TR_EXIT_ABNORMAL) {
		d->crashes++; /* and the pool restarts it */
	}
	for (int i = 0; i < MAXW; i++) {
		if (tr_addr_eq(d->w[i].addr, down.who)) {
			if (d->w[i].job) {
				d->requeued[d->nrequeued++] = d->w[i].job;
				d->nrequeues++;
			}
			d->w[i].addr = TR_ADDR_NULL;
		}
	}
	serve_parked(d);
}

static void
on_request(struct dispatcher *d, tr_msg **mp)
{
	const char        *text = tr_msg_data(*mp);
	size_t             len  = tr_msg_size(*mp);
	unsigned long long job;
	int                i;

	if (len == 3 && memcmp(text, "get", 3) == 0) {
		if (!give_job(d, *mp) && d->nparked < MAXW) {
			d->parked[d->nparked++] = *mp;
			*mp                     = NULL;
		}
	} else if (len > 5 && len < 64 && memcmp(text, "done ", 5) == 0) {
		char line[64], *end; /* the payload has no '\0' of its own */

		memcpy(line, text, len);
		line[len] = '\0';
		job       = strtoull(line + 5, &end, 10);
		i         = worker_slot(d, tr_msg_sender(*mp));
		if (job < d->next && d->done[job]++ == 0) {
			unsigned long long sum = strtoull(end, NULL, 10);

			d->ndone++;
			d->summed++;
			d->badsums += sum != batch_sum(job);
		} else {
			d->dups++;
		}
		if (i >= 0) {
			d->w[i].job = 0;
		}
		answer(*mp, "ok", 0);
	} else if (len == 5 && memcmp(text, "stats", 5) == 0) {
		char s[128];
		int  n = snprintf(s, sizeof(s), "%llu %llu %llu %llu %llu %llu",
		     (unsigned long long) d->next - 1,
		     (unsigned long long) d->ndone,
		     (unsigned long long) d->nrequeues,
		     (unsigned long long) d->dups,
		     (unsigned long long) d->summed,
		     (unsigned long long) d->badsums);
		tr_msg *m;

		if (tr_msg_new_bytes(&m, s, (size_t) n) == 0) {
			(void) tr_reply(*mp, &m, CALL_MS);
			tr_msg_destroy(&m);
		}
	}
}

static volatile sig_atomic_t stopping;

static void
on_sigterm(int sig)
{
	(void) sig;
	stopping = 1;
}

/* SIGTERM, the supervisor's stop, sets `stopping`; a wait for mail or a
 * sleep ends with -EINTR. */
static void
catch_sigterm(void)
{
	struct sigaction sa = { .sa_handler = on_sigterm };

	(void) sigaction(SIGTERM, &sa, NULL);
}

/* A worker keeps SIGTERM blocked and looks for it between jobs: no call
 * is cut short, so a job is neither dropped as it is handed out nor
 * reported done twice. */
static void
block_sigterm(void)
{
	sigset_t term;

	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	(void) sigprocmask(SIG_BLOCK, &term, NULL);
}

static bool
sigterm_pending(void)
{
	sigset_t set;

	return sigpending(&set) == 0 && sigismember(&set, SIGTERM);
}

/* The final counts, for main to print once the tree has stopped. */
static void
leave_counts(const struct dispatcher *d)
{
	char  path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/demo-counts", tr_runtime_dir());
	f = fopen(path, "w");
	if (f) {
		fprintf(f, "%llu %llu %llu %llu %llu %llu %llu\n",
		    (unsigned long long) d->next - 1,
		    (unsigned long long) d->ndone,
		    (unsigned long long) d->nrequeues,
		    (unsigned long long) d->dups,
		    (unsigned long long) d->crashes,
		    (unsigned long long) d->summed,
		    (unsigned long long) d->badsums);
		fclose(f);
	}
	printf("   dispatcher stopped last: %llu jobs handed out, %llu done\n",
	    (unsigned long long) d->next - 1, (unsigned long long) d->ndone);
	fflush(stdout);
}

static int
dispatcher(const void *args, size_t len)
{
	static struct dispatcher d = { .next = 1 };
	tr_msg                  *m;

	catch_sigterm();
	d.requeued = calloc(MAXW * 4, sizeof(*d.requeued));
	d.done     = calloc(1, 1);
	if (!d.requeued || !d.done || tr_register("dispatcher") < 0) {
		return tr_fail(-ENOMEM, "dispatcher: cannot start");
	}
	(void) tr_ready();
	while (!stopping) {
		if (tr_recv(&m, TR_TIMEOUT_INFINITE) < 0) {
			continue;
		}
		if (tr_msg_is_system(m)) {
			on_down(&d, m);
		} else {
			on_request(&d, &m);
		}
		tr_msg_destroy(&m);
	}
	leave_counts(&d);
	return 0;
}
TR_ACTOR_FLAGS(dispatcher, dispatcher, TR_ACTOR_MANUAL_READY)

/* ---- workers ---------------------------------------------------------------
 */

/* tr_call the dispatcher (found by name, again after a failure) with
 * text; the reply's text into buf. */
static int
call_dispatcher(const char *text, char *buf, size_t n, int timeout_ms)
{
	tr_addr to;
	tr_msg *req, *rep;
	size_t  len;
	int     r = tr_whereis("dispatcher", &to);

	if (r == 0) {
		r = tr_msg_new_bytes(&req, text, strlen(text));
	}
	if (r < 0) {
		return r;
	}
	r = tr_call(to, &req, &rep, timeout_ms);
	tr_msg_destroy(&req);
	if (r < 0) {
		return r;
	}
	len = tr_msg_size(rep) < n - 1 ? tr_msg_size(rep) : n - 1;
	memcpy(buf, tr_msg_data(rep), len);
	buf[len] = '\0';
	tr_msg_destroy(&rep);
	return 0;
}

/* The pool's task function: int64 x -> x * x. */
static int
square(const void *item, size_t len, tr_pool_out *out)
{
	int64_t x;

	if (len != sizeof(x)) {
		return tr_pool_out_fail(out, -EINVAL, "not an int64");
	}
	memcpy(&x, item, sizeof(x));
	x *= x;
	return tr_pool_out_set(out, &x, sizeof(x));
}
TR_POOL_FN(square, square)

/* The job's work: the squares of its batch, mapped by the "squares"
 * pool, summed.  Tried again while the pool restarts. */
static unsigned long long
map_batch(uint64_t job)
{
	int64_t            in[BATCH], out[BATCH];
	unsigned long long sum = 0;

	for (int i = 0; i < BATCH; i++) {
		in[i] = (int64_t) (BATCH * job + (uint64_t) i);
	}
	for (int tries = 0;; tries++) {
		int r = tr_pool_call_map_int64(
		    "squares", "square", in, out, BATCH, 0, CALL_MS);

		if (r == 0) {
			break;
		}
		if (tries == 100) {
			return 0; /* the dispatcher counts a wrong sum */
		}
		usleep(10000);
	}
	for (int i = 0; i < BATCH; i++) {
		sum += (unsigned long long) out[i];
	}
	return sum;
}

/* Work until stopped; a stop lets the job in hand finish. */
static int
work(const char *id, bool crashy)
{
	struct rlimit      no_core = { 0, 0 };
	char               buf[64], done[96], last[64] = "none";
	unsigned long long sum;

	block_sigterm();
	srand((unsigned) getpid());
	(void) setrlimit(RLIMIT_CORE, &no_core);
	while (!sigterm_pending()) {
		if (call_dispatcher("get", buf, sizeof(buf), CALL_MS) < 0 ||
		    strncmp(buf, "job ", 4) != 0) {
			continue; /* no job yet, or the dispatcher restarts */
		}
		sum = map_batch(strtoull(buf + 4, NULL, 10)); /* the work */
		usleep((useconds_t) (10000 + rand() % 30000));
		if (crashy && !sigterm_pending() && rand() % 8 == 0) {
			abort(); /* dies holding the job */
		}
		snprintf(done, sizeof(done), "done %s %llu", buf + 4, sum);
		snprintf(last, sizeof(last), "%s", buf + 4);
		for (int tries = 0;
		     call_dispatcher(done, buf, sizeof(buf), CALL_MS) < 0 &&
		     tries < 100;
		     tries++) {
			usleep(10000);
		}
	}
	printf("   %-9s stopped after finishing job %s\n", id, last);
	fflush(stdout);
	return 0;
}

static int
worker(const void *args, size_t len)
{
	return work(args, false);
}
TR_ACTOR(worker, worker)

static int
crashy(const void *args, size_t len)
{
	return work("crashy", true);
}
TR_ACTOR(crashy, crashy)

/* ---- the reporter ----------------------------------------------------- */

static void
print_child(const tr_child_info *c, const char *indent, bool last)
{
	const char *sig =
	    c->last_exitcode < 0 ? sigabbrev_np(-c->last_exitcode) : NULL;
	char how[64] = "";

	if (c->exited && sig) {
		snprintf(how, sizeof(how), "  last death: SIG%s", sig);
	} else if (c->exited) {
		snprintf(how, sizeof(how), "  last exit: %d", c->last_exitcode);
	}
	printf("%s%s %-*s pid %-7d restarts %-3u%s%s\n", indent,
	    last ? "`-" : "|-", 14 - (int) strlen(indent), c->id, (int) c->pid,
	    c->restarts,
	    c->type == TR_CHILD_SUPERVISOR             ? " (supervisor)"
	        : strcmp(c->actor, TR_POOL_ACTOR) == 0 ? " (tr_pool)"
	                                               : "",
	    how);
}

/* Print the tree; the pool's restart total into *ret_restarts. */
static void
print_tree(tr_supervisor *root, unsigned *ret_restarts)
{
	tr_child_info *top = NULL, *ws = NULL;
	size_t         ntop = 0, nws = 0;
	tr_supervisor *pool = NULL;

	*ret_restarts = 0;
	if (tr_supervisor_which_children(root, &top, &ntop, CALL_MS) < 0) {
		printf("root: not answering\n");
		return;
	}
	printf("root              pid %d (supervisor)\n",
	    (int) tr_supervisor_pid(root));
	for (size_t i = 0; i < ntop; i++) {
		print_child(&top[i], "", i + 1 == ntop);
		*ret_restarts += top[i].restarts;
		if (top[i].type != TR_CHILD_SUPERVISOR || top[i].pid == 0 ||
		    tr_supervisor_open(&pool, top[i].addr) < 0) {
			continue;
		}
		if (tr_supervisor_which_children(pool, &ws, &nws, CALL_MS) ==
		    0) {
			for (size_t k = 0; k < nws; k++) {
				print_child(&ws[k],
				    i + 1 == ntop ? "   " : "|  ",
				    k + 1 == nws);
				*ret_restarts += ws[k].restarts;
			}
		}
		free(ws);
		tr_supervisor_destroy(&pool);
	}
	free(top);
}

static int
stats(unsigned long long v[6])
{
	char buf[128];
	int  r = call_dispatcher("stats", buf, sizeof(buf), CALL_MS);

	if (r == 0 &&
	    sscanf(buf, "%llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
	        &v[3], &v[4], &v[5]) != 6) {
		r = -EPROTO;
	}
	return r;
}

/* Prints the tree every second; after the given number of seconds, stops
 * the service as a service manager would.  Args: "<seconds> <root addr>". */
static int
reporter(const void *args, size_t len)
{
	unsigned long long v[6] = { 0 };
	tr_supervisor     *root;
	tr_addr            addr;
	unsigned           restarts;
	char               text[128];
	int                seconds;

	catch_sigterm();
	if (sscanf(args, "%d %127s", &seconds, text) != 2 ||
	    tr_addr_parse(text, &addr) < 0 ||
	    tr_supervisor_open(&root, addr) < 0) {
		return tr_fail(-EINVAL, "reporter: bad arguments");
	}
	for (int t = 1; t <= seconds && !stopping; t++) {
		sleep(1);
		if (stopping) {
			break;
		}
		(void) stats(v);
		printf("\n-- t=%ds  jobs handed out %llu, done %llu, requeued "
		       "after a crash %llu\n",
		    t, v[0], v[1], v[2]);
		printf("   squares: the pool mapped %llu batches, %llu wrong "
		       "sums\n",
		    v[4], v[5]);
		print_tree(root, &restarts);
		fflush(stdout);
	}
	if (!stopping) {
		printf("\n-- %d s are up: SIGTERM to the main program, as a "
		       "service manager stops a service\n",
		    seconds);
		fflush(stdout);
		(void) kill(tr_self_parent_pid(), SIGTERM);
	}
	while (!stopping) {
		sleep(1); /* until the root's SIGTERM */
	}
	printf("\n-- stopping: the root stops its children in reverse start "
	       "order\n   reporter  stopped first\n");
	fflush(stdout);
	tr_supervisor_destroy(&root);
	return 0;
}
TR_ACTOR(reporter, reporter)

/* ---- the main program: the root of the tree ------------------------------ */

/* --seconds N or --seconds=N, 1..3600; anything else is refused. */
static int
parse_seconds(int argc, char **argv)
{
	const char *v = NULL;
	char       *end;
	long        n;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
			v = argv[++i];
		} else if (strncmp(argv[i], "--seconds=", 10) == 0) {
			v = argv[i] + 10;
		} else {
			fprintf(stderr,
			    "demo: unknown argument '%s'\n"
			    "usage: demo [--seconds N]  (1..3600, default 5)\n",
			    argv[i]);
			return -1;
		}
	}
	if (!v) {
		return 5;
	}
	n = strtol(v, &end, 10);
	if (*v == '\0' || *end != '\0' || n < 1 || n > 3600) {
		fprintf(stderr,
		    "demo: --seconds wants a whole number from 1 to "
		    "3600, not '%s'\n",
		    v);
		return -1;
	}
	return (int) n;
}

/* The pool's spec, packed as the argument of its child spec. */
static int
pool_spec(void **ret, size_t *ret_len)
{
	static char          ids[NWORKERS][16];
	static tr_child_spec ws[NWORKERS + 1];
	tr_sup_spec          pool;

	for (int i = 0; i < NWORKERS; i++) {
		snprintf(ids[i], sizeof(ids[i]), "worker.%d", i + 1);
		tr_child_spec_init(&ws[i], ids[i], "worker");
		ws[i].args = ids[i];
		ws[i].len  = strlen(ids[i]);
	}
	tr_child_spec_init(&ws[NWORKERS], "crashy", "crashy");
	tr_sup_spec_init(&pool);
	pool.intensity = 50;
	pool.period_ms = 5000;
	pool.name      = "pool";
	pool.children  = ws;
	pool.nchildren = NWORKERS + 1;
	return tr_sup_spec_pack(&pool, ret, ret_len);
}

/* Run the tree here until a stop signal; then the final counts. */
static int
run_tree(int seconds, unsigned long long v[7])
{
	tr_child_spec top[4];
	tr_sup_spec   root;
	tr_pool_opts  squares = { .processes = 2 };
	char          rep[128], path[4096];
	void         *pool, *sq;
	FILE         *f;
	int           r;

	tr_child_spec_init(&top[0], "dispatcher", "dispatcher");
	/* the workers' pool of processes, registered as "squares" */
	r = tr_pool_child_spec(&top[1], "squares", "squares", &squares, &sq);
	if (r < 0) {
		return r;
	}
	tr_child_spec_init(&top[2], "pool", TR_SUP_ACTOR);
	r = pool_spec(&pool, &top[2].len);
	if (r < 0) {
		free(sq);
		return r;
	}
	top[2].type = TR_CHILD_SUPERVISOR;
	top[2].args = pool;
	snprintf(rep, sizeof(rep), "%d ", seconds);
	(void) tr_addr_format(
	    tr_self(), rep + strlen(rep), sizeof(rep) - strlen(rep));
	tr_child_spec_init(&top[3], "reporter", "reporter");
	top[3].args = rep;
	top[3].len  = strlen(rep);
	tr_sup_spec_init(&root);
	root.strategy  = TR_SUP_REST_FOR_ONE;
	root.intensity = 5;
	root.name      = "root";
	root.children  = top;
	root.nchildren = 4;
	r              = tr_supervisor_run(&root); /* until stopped */
	free(pool);
	free(sq);
	snprintf(path, sizeof(path), "%s/demo-counts", tr_runtime_dir());
	f = fopen(path, "r");
	if (f &&
	    fscanf(f, "%llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
	        &v[3], &v[4], &v[5], &v[6]) != 7 &&
	    r == 0) {
		r = -EPROTO;
	}
	if (f) {
		fclose(f);
	}
	return r;
}

int
main(int argc, char **argv)
{
	unsigned long long v[7] = { 0 };
	int                seconds, r;

	/* first: in a spawned or forkserver child this runs the actor */
	if (tr_init(argc, argv) < 0) {
		return 1;
	}
	seconds = parse_seconds(argc, argv);
	if (seconds < 0) {
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("A supervised worker service: %d workers and a crashy one, for "
	       "%d s (Ctrl-C stops it sooner).\n",
	    NWORKERS, seconds);
	r = run_tree(seconds, v);
	if (r == -EINTR) {
		printf(
		    "\nStopped at once by a second signal: the children were "
		    "killed, the counts went with the dispatcher.\n");
		return 1;
	}
	if (r < 0) {
		fprintf(stderr, "demo: the tree failed: %s\n", tr_strerror(r));
		return 1;
	}
	printf("\nSummary: %llu jobs done, %llu restarts after a crash, %llu "
	       "jobs requeued, %llu lost, %llu done twice.\n",
	    v[1], v[4], v[2], v[0] - v[1], v[3]);
	printf("The squares pool mapped %llu batches of %d numbers: %llu "
	       "wrong sums.\n",
	    v[5], BATCH, v[6]);
	return v[0] == v[1] && v[3] == 0 && v[6] == 0 ? 0 : 1;
}
