/* SPDX-License-Identifier: MIT */
/* The chaos suite (issue 14): a mixed workload -- a supervision tree of
 * queue producers and consumers, lock users, sleepers waiting on an Event
 * and Manager clients, and a Pool running tasks -- while the driver (this
 * process, which also holds the Pool's tally; the queue and lock tallies live
 * in a file it maps) SIGKILLs random actors at a given rate for a given time,
 * then checks: no hang, no item or task lost, duplicates only where the
 * guarantees allow them, the supervisors' restart counts equal the kills
 * of their children, and nothing left behind (fds, /dev/shm, runtime
 * directory).  The brokers (queue, event, manager, lock owner) and
 * supervisors are
 * never killed: their deaths lose state by design (docs/guarantees.md).
 * Parameters from the environment (scripts/chaos.sh sets them):
 *   CHAOS_SECONDS  chaos time per start method (default 4)
 *   CHAOS_RATE     kills per second (default 20)
 *   CHAOS_SEED     random seed (default: the pid; printed)
 *   CHAOS_METHODS  comma-separated start methods (default all three) */
#include "tr-test-pool.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <dirent.h>

#define NPROD    3
#define NCONS    3
#define NLOCK    2
#define NSLEEP   2
#define NMGR     2
#define MAXSEQ   (1u << 19)
#define POOL_WIN 32
#define HANG_MS  (4 * TR_TEST_HANG_MS)
/* The runtime keeps a socket (a ZeroMQ socket: an eventfd) and a pidfd
 * for each actor it sent to, and closes a dead one's when it next makes
 * a socket in the same one of its 64 buckets (runtime/peer.c): after a
 * run up to about one per bucket, plus the actors alive at once in a
 * bucket, may stay.  A leak per kill (hundreds in the long run) or per
 * item would exceed it; every other kind of descriptor is counted
 * exactly. */
#define PEER_SLACK (64 + 16)

/* Shared by the driver and every actor of the workload (a mapped file). */
struct tally {
	_Atomic uint32_t got[NPROD][MAXSEQ]; /* times item (p, seq) was got */
	_Atomic uint32_t prod_next[NPROD];   /* next seq producer p puts */
	_Atomic int32_t  lock_holder;        /* pid inside the lock, or 0 */
	_Atomic uint64_t lock_acq;           /* acquisitions */
	_Atomic uint64_t lock_owner_died;    /* TR_LOCK_OWNER_DIED answers */
	_Atomic uint64_t lock_overlap;       /* two holders at once: a bug */
	_Atomic uint32_t mgr_next[NMGR];     /* next value manager client i
	                                      * sets its dict key to */
};

/* ---- the actors -------------------------------------------------------
 * Args: "TALLYPATH EVENTNAME LOCKNAME QUEUENAME INDEX MANAGER AUTHKEY". */
struct ctx {
	struct tally *t;
	tr_event     *ev;
	tr_lock      *lock;
	tr_queue     *q;
	tr_manager   *mgr;
	tr_mobj      *dict;
	int           idx;
};

static void
ctx_close(struct ctx *c)
{
	tr_mobj_destroy(&c->dict);
	tr_manager_destroy(&c->mgr);
	tr_queue_destroy(&c->q);
	tr_lock_destroy(&c->lock);
	tr_event_destroy(&c->ev);
	if (c->t) {
		munmap(c->t, sizeof(*c->t));
	}
}

static int
ctx_open(struct ctx *c, const void *args, bool q, bool lock, bool mgr)
{
	char path[256], ev[64], lk[64], qn[64], mw[64],
	    key[TR_MANAGER_KEY_LEN + 1];
	int fd;

	memset(c, 0, sizeof(*c));
	if (sscanf(args, "%255s %63s %63s %63s %d %63s %64s", path, ev, lk, qn,
	        &c->idx, mw, key) != 7) {
		return -EINVAL;
	}
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		return -errno;
	}
	c->t = mmap(
	    NULL, sizeof(*c->t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (c->t == MAP_FAILED) {
		c->t = NULL;
		return -ENOMEM;
	}
	if (tr_event_open_name(&c->ev, ev) < 0 ||
	    (lock && tr_lock_open(&c->lock, lk) < 0) ||
	    (q && tr_queue_open(&c->q, qn) < 0) ||
	    (mgr &&
	        (tr_manager_connect(&c->mgr, mw, key) < 0 ||
	            tr_mobj_new(&c->dict, c->mgr, TR_MOBJ_DICT, "chaos", NULL) <
	                0))) {
		ctx_close(c);
		return -EIO;
	}
	return 0;
}

/* Puts (idx, seq) for seq from the tally's cursor until the event is set
 * (checked every 32 items) or MAXSEQ; a kill between a put and the
 * cursor's step makes one duplicate, which the check allows per kill. */
static int
producer(const void *args, size_t len)
{
	struct ctx c;
	int        rc = 0;

	(void) len;
	if (ctx_open(&c, args, true, false, false) < 0) {
		return 3;
	}
	for (;;) {
		uint32_t seq     = atomic_load(&c.t->prod_next[c.idx]);
		uint32_t item[2] = { (uint32_t) c.idx, seq };

		if (seq >= MAXSEQ ||
		    (seq % 32 == 0 && tr_event_is_set(c.ev) != 0)) {
			break;
		}
		if (tr_queue_put_bytes(c.q, item, sizeof(item), 10000) < 0) {
			rc = 4;
			break;
		}
		atomic_store(&c.t->prod_next[c.idx], seq + 1);
		if (seq % 8 == 0) {
			usleep(1000);
		}
	}
	ctx_close(&c);
	return rc;
}
TR_ACTOR(chaos_producer, producer)

/* Gets items until the queue is closed and drained; counts each got. */
static int
consumer(const void *args, size_t len)
{
	struct ctx c;
	int        rc = 0;

	(void) len;
	if (ctx_open(&c, args, true, false, false) < 0) {
		return 3;
	}
	for (;;) {
		tr_msg     *m = NULL;
		int         r = tr_queue_get(c.q, &m, 200);
		uint32_t    item[2];
		size_t      n = 0;
		const void *d;

		if (r == TR_EEMPTY) {
			continue;
		}
		if (r == TR_ECLOSED) {
			break;
		}
		if (r < 0) {
			rc = 4;
			break;
		}
		d = tr_msg_data(m);
		n = tr_msg_size(m);
		if (n == sizeof(item)) {
			memcpy(item, d, sizeof(item));
			if (item[0] < NPROD && item[1] < MAXSEQ) {
				atomic_fetch_add(
				    &c.t->got[item[0]][item[1]], 1);
			}
		}
		tr_msg_destroy(&m);
	}
	ctx_close(&c);
	return rc;
}
TR_ACTOR(chaos_consumer, consumer)

/* Takes the lock again and again until the event is set: inside, the
 * holder slot must be empty (or name a dead holder, if acquire said
 * TR_LOCK_OWNER_DIED). */
static int
locker(const void *args, size_t len)
{
	struct ctx c;
	int32_t    me = (int32_t) getpid();
	int        rc = 0;

	(void) len;
	if (ctx_open(&c, args, false, true, false) < 0) {
		return 3;
	}
	while (tr_event_is_set(c.ev) == 0) {
		int     r = tr_lock_acquire(c.lock, 30000);
		int32_t h;

		if (r < 0) {
			rc = 4;
			break;
		}
		h = atomic_exchange(&c.t->lock_holder, me);
		if (r == TR_LOCK_OWNER_DIED) {
			atomic_fetch_add(&c.t->lock_owner_died, 1);
		} else if (h != 0) {
			atomic_fetch_add(&c.t->lock_overlap, 1);
		}
		usleep(300);
		atomic_store(&c.t->lock_holder, 0);
		atomic_fetch_add(&c.t->lock_acq, 1);
		if (tr_lock_release(c.lock) < 0) {
			rc = 5;
			break;
		}
		usleep(200);
	}
	ctx_close(&c);
	return rc;
}
TR_ACTOR(chaos_locker, locker)

/* Waits for the event. */
static int
sleeper(const void *args, size_t len)
{
	struct ctx c;
	int        r;

	(void) len;
	if (ctx_open(&c, args, false, false, false) < 0) {
		return 3;
	}
	while ((r = tr_event_wait(c.ev, 1000)) == 0) { }
	ctx_close(&c);
	return r == 1 ? 0 : 4;
}
TR_ACTOR(chaos_sleeper, sleeper)

/* Sets its key "m<idx>" of the manager's dict "chaos" to 0, 1, 2, ...
 * (the tally's cursor) until the event is set: a kill between a set and
 * the cursor's step only sets the same value again, so at the end the
 * value is exactly the cursor less one -- or the cursor itself, when the
 * last kill came between a set and its step and the event was set before
 * the restarted client set that value again. */
static int
mgr_client(const void *args, size_t len)
{
	struct ctx c;
	int        rc = 0;
	char       kt[16];
	tr_mval   *key;

	(void) len;
	if (ctx_open(&c, args, false, false, true) < 0) {
		return 3;
	}
	snprintf(kt, sizeof(kt), "m%d", c.idx);
	key = tr_mval_str(kt);
	while (key && tr_event_is_set(c.ev) == 0) {
		uint32_t seq = atomic_load(&c.t->mgr_next[c.idx]);
		tr_mval *v   = tr_mval_int(seq);
		int      r   = v ? tr_mdict_set(c.dict, key, v) : -ENOMEM;

		tr_mval_destroy(&v);
		if (r < 0) {
			rc = 4;
			break;
		}
		atomic_store(&c.t->mgr_next[c.idx], seq + 1);
		usleep(1000);
	}
	tr_mval_destroy(&key);
	ctx_close(&c);
	return rc;
}
TR_ACTOR(chaos_mgr_client, mgr_client)

/* ---- the driver ------------------------------------------------------ */
enum kind { K_PROD, K_CONS, K_LOCK, K_SLEEP, K_MGR, K_POOL, NKINDS };
static const char *const kind_name[NKINDS] = { "producer", "consumer", "locker",
	"sleeper", "manager client", "pool worker" };

struct victim {
	char      id[TR_SUP_ID_MAX];
	enum kind kind;
	unsigned  kills;
	pid_t     last_killed;
};

struct run {
	int      method;
	unsigned seed;
	int      seconds, rate;
	char     dir[256], path[300],
	    args[NPROD + NCONS + NLOCK + NSLEEP + NMGR][768];
	char           evname[64], lkname[64], qname[64], mwhere[64];
	char           mkey[TR_MANAGER_KEY_LEN + 1];
	struct tally  *t;
	tr_supervisor *root, *sub[2];
	struct victim  v[NPROD + NCONS + NLOCK + NSLEEP + NMGR];
	unsigned       kills[NKINDS];
	/* the pool's tally */
	tr_pool *pool;
	long     tasks, tasks_ok, tasks_failed, tasks_bad, tasks_calls;
	int      failures;
};

struct task {
	struct run *r;
	long        want;
	int         calls;
};

static void
fail_check(struct run *r, const char *fmt, long a, long b)
{
	print_error("CHAOS CHECK FAILED (%s, seed %u): ",
	    tr_start_method_name(r->method), r->seed);
	print_error(fmt, a, b);
	print_error("\n");
	r->failures++;
}

static void
task_ok(tr_pool_result *res, void *arg)
{
	struct task *tk = arg;
	size_t       n  = 0;
	const void  *d  = tr_pool_result_data(res, 0, &n);
	long         v  = -1;

	if (d && n == sizeof(v)) {
		memcpy(&v, d, sizeof(v));
	}
	tk->calls++;
	tk->r->tasks_calls++;
	if (v == tk->want) {
		tk->r->tasks_ok++;
	} else {
		tk->r->tasks_bad++;
	}
}

static void
task_err(tr_pool_result *res, void *arg)
{
	struct task *tk = arg;

	tk->calls++;
	tk->r->tasks_calls++;
	/* a task whose worker died more often than the retry count */
	if (tr_pool_result_error(res) == TR_EDEAD) {
		tk->r->tasks_failed++;
	} else {
		if (tk->r->tasks_bad == 0) {
			print_error("pool task %ld: %s\n", tk->want,
			    tr_pool_result_error_text(res));
		}
		tk->r->tasks_bad++;
	}
}

static struct victim *
victim_by_id(struct run *r, const char *id)
{
	for (size_t i = 0; i < sizeof(r->v) / sizeof(r->v[0]); i++) {
		if (strcmp(r->v[i].id, id) == 0) {
			return &r->v[i];
		}
	}
	return NULL;
}

/* Retire the tasks at the head of the window that are ready: each must
 * have had exactly one callback by then. */
static void
retire(struct run *r, struct task *tasks, tr_pool_result **res, long *head)
{
	while (
	    *head < r->tasks && tr_pool_result_ready(res[*head % POOL_WIN])) {
		struct task *tk = &tasks[*head % POOL_WIN];

		if (tk->calls != 1) {
			fail_check(r, "pool: task %ld answered %ld times",
			    tk->want, tk->calls);
		}
		tr_pool_result_destroy(&res[*head % POOL_WIN]);
		(*head)++;
	}
}

/* SIGKILL one random running actor of the workload; 1 if one was. */
static int
kill_one(struct run *r)
{
	tr_child_info *ci    = NULL;
	size_t         n     = 0;
	int            which = rand() % 3, done = 0;

	if (which == 2) { /* a pool worker */
		if (tr_supervisor_which_children(tr_pool_supervisor(r->pool),
		        &ci, &n, TR_TEST_HANG_MS) == 0 &&
		    n > 0) {
			tr_child_info *c = &ci[(size_t) rand() % n];

			if (c->pid > 0 && c->state == TR_CHILD_RUNNING &&
			    kill(c->pid, SIGKILL) == 0) {
				r->kills[K_POOL]++;
				done = 1;
			}
		}
		free(ci);
		return done;
	}
	if (tr_supervisor_which_children(
	        r->sub[which], &ci, &n, TR_TEST_HANG_MS) == 0 &&
	    n > 0) {
		tr_child_info *c = &ci[(size_t) rand() % n];
		struct victim *v = victim_by_id(r, c->id);

		if (v && c->pid > 0 && c->state == TR_CHILD_RUNNING &&
		    c->pid != v->last_killed && kill(c->pid, SIGKILL) == 0) {
			v->kills++;
			v->last_killed = c->pid;
			r->kills[v->kind]++;
			done = 1;
		}
	}
	free(ci);
	return done;
}

/* Wait until every child of s with an id starting with prefix has ended
 * by itself (state stopped, exit code 0); 0 on success. */
static int
wait_ended(tr_supervisor *s, const char *prefix)
{
	int64_t deadline = tr_test_now_ms() + HANG_MS;

	while (tr_test_now_ms() < deadline) {
		tr_child_info *ci   = NULL;
		size_t         n    = 0;
		int            left = 0;

		if (tr_supervisor_which_children(s, &ci, &n, TR_TEST_HANG_MS) <
		    0) {
			return -1;
		}
		for (size_t i = 0; i < n; i++) {
			if (strncmp(ci[i].id, prefix, strlen(prefix)) == 0 &&
			    !(ci[i].state == TR_CHILD_STOPPED && ci[i].exited &&
			        ci[i].last_exitcode == 0)) {
				left++;
			}
		}
		free(ci);
		if (left == 0) {
			return 0;
		}
		usleep(20000);
	}
	return -ETIMEDOUT;
}

static void
add_child(struct run *r, tr_child_spec *cs, int *k, const char *pfx,
    const char *actor, enum kind kind, int idx)
{
	struct victim *v = &r->v[*k];

	snprintf(v->id, sizeof(v->id), "%s%d", pfx, idx);
	v->kind = kind;
	snprintf(r->args[*k], sizeof(r->args[*k]), "%s %s %s %s %d %s %s",
	    r->path, r->evname, r->lkname, r->qname, idx, r->mwhere, r->mkey);
	cs[*k] = (tr_child_spec) { .id = v->id,
		.actor                 = actor,
		.args                  = r->args[*k],
		.len                   = strlen(r->args[*k]) + 1,
		.restart               = TR_RESTART_TRANSIENT,
		.shutdown_ms           = 2000,
		.start_method          = r->method };
	(*k)++;
}

/* Files in the runtime directory, including those in its subdirectories
 * (names/, shm/, trace/, like the files exits and trace.ctl, are made on
 * first use and stay for the run: not a leak). */
static int
rundir_files(void)
{
	DIR           *d = opendir(tr_runtime_dir());
	struct dirent *e;
	int            n = 0;
	char           own[32];

	snprintf(own, sizeof(own), "%d.", (int) getpid());
	if (!d) {
		return -1;
	}
	while ((e = readdir(d))) {
		char path[512];
		int  sub;

		if (e->d_name[0] == '.' || strcmp(e->d_name, "exits") == 0 ||
		    strcmp(e->d_name, "trace.ctl") == 0 ||
		    strncmp(e->d_name, own, strlen(own)) == 0) {
			continue; /* the run's own and the driver's mailbox,
			           * made on first use */
		}
		snprintf(
		    path, sizeof(path), "%s/%s", tr_runtime_dir(), e->d_name);
		sub = tr_test_dir_count(path);
		n += sub >= 0 ? sub : 1;
	}
	closedir(d);
	return n;
}

/* This process's descriptors by kind. */
struct fds {
	long pidfd, eventfd, other;
};

static void
fd_kinds(struct fds *f)
{
	DIR           *d = opendir("/proc/self/fd");
	struct dirent *e;

	memset(f, 0, sizeof(*f));
	if (!d) {
		f->other = -1;
		return;
	}
	while ((e = readdir(d))) {
		char    path[300], link[128];
		ssize_t n;

		if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(d)) {
			continue;
		}
		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		n                   = readlink(path, link, sizeof(link) - 1);
		link[n > 0 ? n : 0] = '\0';
		if (strcmp(link, "anon_inode:[pidfd]") == 0) {
			f->pidfd++;
		} else if (strcmp(link, "anon_inode:[eventfd]") == 0) {
			f->eventfd++;
		} else {
			f->other++;
		}
	}
	closedir(d);
}

static bool
fds_ok(const struct fds *a, const struct fds *b)
{
	return b->other <= a->other && b->pidfd <= a->pidfd + PEER_SLACK &&
	    b->eventfd <= a->eventfd + PEER_SLACK;
}

/* Children of the driver, running or zombie, but for the forkserver. */
static int
children(void)
{
	return tr_test_children(getpid(),
	    TR_TEST_CHILD_RUNNING | TR_TEST_CHILD_ZOMBIE |
	        TR_TEST_CHILD_NO_FORKSERVER,
	    NULL, 0);
}

static int
shm_count(void)
{
	return tr_test_dir_count("/dev/shm");
}

static void
run_chaos(int method, unsigned seed, int seconds, int rate)
{
	struct run     *r = calloc(1, sizeof(*r));
	tr_child_spec   cs[NPROD + NCONS + NLOCK + NSLEEP + NMGR], subs[2];
	void           *packed[2] = { NULL, NULL };
	size_t          plen[2]   = { 0, 0 };
	tr_sup_spec     sp[2], rootsp;
	tr_queue       *q    = NULL;
	tr_event       *ev   = NULL;
	tr_lock        *lk   = NULL;
	tr_manager     *mgr  = NULL;
	tr_mobj        *dict = NULL;
	tr_child_info  *ci   = NULL;
	size_t          n    = 0;
	int             k    = 0, fd, shm0, run0, shm1, run1;
	struct fds      fds0, fds1;
	int64_t         t0, chaos_end, next_kill, deadline;
	struct task     tasks[POOL_WIN];
	tr_pool_result *res[POOL_WIN];
	long            head = 0;
	tr_pool_opts    po   = {
		     .processes = 3, .start_method = method, .retries = 3
	};
	uint64_t items = 0, dups = 0, missing = 0, stray = 0;
	unsigned restarts = 0, allkills = 0, pkills;
	uint64_t lock_acq, lock_died, mgr_sets = 0;

	assert_non_null(r);
	memset(tasks, 0, sizeof(tasks));
	memset(res, 0, sizeof(res));
	r->method = method;
	r->seed   = seed;
	srand(seed);

	shm0 = shm_count();
	run0 = rundir_files();
	t0   = tr_test_now_ms();

	/* the tally file */
	snprintf(r->dir, sizeof(r->dir), "%s/chaos-XXXXXX", tr_test_tmpdir());
	assert_non_null(mkdtemp(r->dir));
	snprintf(r->path, sizeof(r->path), "%s/tally", r->dir);
	fd = open(r->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, sizeof(struct tally)), 0);
	r->t = mmap(NULL, sizeof(struct tally), PROT_READ | PROT_WRITE,
	    MAP_SHARED, fd, 0);
	close(fd);
	assert_true(r->t != MAP_FAILED);

	/* the shared objects, by name */
	snprintf(r->evname, sizeof(r->evname), "chaos-ev-%d-%d", (int) getpid(),
	    method);
	snprintf(r->lkname, sizeof(r->lkname), "chaos-lk-%d-%d", (int) getpid(),
	    method);
	snprintf(r->qname, sizeof(r->qname), "chaos-q-%d-%d", (int) getpid(),
	    method);
	TR_ASSERT_OK(tr_event_new(&ev,
	    &(tr_event_options) { .name = r->evname, .start_method = method }));
	TR_ASSERT_OK(tr_lock_new(&lk, &(tr_sync_opts) { .name = r->lkname }));
	TR_ASSERT_OK(tr_queue_new(&q, &(tr_queue_opts) { .name = r->qname }));
	TR_ASSERT_OK(tr_manager_start(
	    &mgr, &(tr_manager_opts) { .start_method = method }));
	snprintf(r->mwhere, sizeof(r->mwhere), "%s", tr_manager_where(mgr));
	snprintf(r->mkey, sizeof(r->mkey), "%s", tr_manager_authkey(mgr));
	TR_ASSERT_OK(tr_mobj_new(&dict, mgr, TR_MOBJ_DICT, "chaos", NULL));
	/* descriptors: from here (the runtime's own, made on first use, are
	 * open by now, with those of the handles above) */
	fd_kinds(&fds0);

	/* the tree: root -> { "qsup": producers, consumers;
	 *                      "lsup": lockers, sleepers } */
	for (int i = 0; i < NPROD; i++) {
		add_child(r, cs, &k, "prod", "chaos_producer", K_PROD, i);
	}
	for (int i = 0; i < NCONS; i++) {
		add_child(r, cs, &k, "cons", "chaos_consumer", K_CONS, i);
	}
	for (int i = 0; i < NLOCK; i++) {
		add_child(r, cs, &k, "lock", "chaos_locker", K_LOCK, i);
	}
	for (int i = 0; i < NSLEEP; i++) {
		add_child(r, cs, &k, "sleep", "chaos_sleeper", K_SLEEP, i);
	}
	for (int i = 0; i < NMGR; i++) {
		add_child(r, cs, &k, "mgr", "chaos_mgr_client", K_MGR, i);
	}
	sp[0] = (tr_sup_spec) { .intensity = 1000000,
		.period_ms                 = 1000,
		.quiet                     = true,
		.children                  = cs,
		.nchildren                 = NPROD + NCONS };
	sp[1] = (tr_sup_spec) { .intensity = 1000000,
		.period_ms                 = 1000,
		.quiet                     = true,
		.children                  = cs + NPROD + NCONS,
		.nchildren                 = NLOCK + NSLEEP + NMGR };
	for (int i = 0; i < 2; i++) {
		TR_ASSERT_OK(tr_sup_spec_pack(&sp[i], &packed[i], &plen[i]));
		subs[i] = (tr_child_spec) { .id = i == 0 ? "qsup" : "lsup",
			.actor                  = TR_SUP_ACTOR,
			.args                   = packed[i],
			.len                    = plen[i],
			.type                   = TR_CHILD_SUPERVISOR,
			.start_timeout_ms       = TR_TEST_HANG_MS,
			.start_method           = method };
	}
	rootsp = (tr_sup_spec) {
		.intensity = 10, .quiet = true, .children = subs, .nchildren = 2
	};
	TR_ASSERT_OK(tr_supervisor_start(&r->root, &rootsp, TR_TEST_HANG_MS));
	free(packed[0]);
	free(packed[1]);
	TR_ASSERT_OK(
	    tr_supervisor_which_children(r->root, &ci, &n, TR_TEST_HANG_MS));
	assert_int_equal(n, 2);
	for (size_t i = 0; i < 2; i++) {
		int j = strcmp(ci[i].id, "qsup") == 0 ? 0 : 1;

		TR_ASSERT_OK(tr_supervisor_open(&r->sub[j], ci[i].addr));
	}
	free(ci);
	ci = NULL;
	TR_ASSERT_OK(tr_pool_new(&r->pool, &po));

	/* chaos, with pool tasks in flight */
	chaos_end = tr_test_now_ms() + (int64_t) seconds * 1000;
	next_kill = tr_test_now_ms();
	while (tr_test_now_ms() < chaos_end) {
		while (r->tasks - head < POOL_WIN) {
			long       i  = r->tasks;
			tr_pool_cb cb = { task_ok, task_err,
				&tasks[i % POOL_WIN] };

			tasks[i % POOL_WIN] =
			    (struct task) { .r = r, .want = i };
			TR_ASSERT_OK(tr_pool_apply_async(r->pool, "echo", &i,
			    sizeof(i), &cb, &res[i % POOL_WIN]));
			r->tasks++;
		}
		{
			int w = tr_pool_result_wait(
			    res[head % POOL_WIN], 1000 / rate);

			assert_true(w == 0 || w == -ETIMEDOUT);
			retire(r, tasks, res, &head);
		}
		if (tr_test_now_ms() >= next_kill) {
			(void) kill_one(r);
			next_kill += 1000 / rate;
		}
	}

	/* the end: no hang, everything finishes */
	deadline = tr_test_now_ms() + HANG_MS;
	while (head < r->tasks) {
		if (tr_test_now_ms() > deadline) {
			fail_check(r, "pool: %ld of %ld tasks never finished",
			    r->tasks - head, r->tasks);
			break;
		}
		(void) tr_pool_result_wait(res[head % POOL_WIN], 1000);
		retire(r, tasks, res, &head);
	}
	TR_ASSERT_OK(tr_event_set(ev));
	if (wait_ended(r->sub[0], "prod") < 0) {
		fail_check(r, "producers did not end (%ld, %ld)", 0, 0);
	}
	TR_ASSERT_OK(tr_queue_close(q));
	if (wait_ended(r->sub[0], "cons") < 0) {
		fail_check(
		    r, "consumers did not drain the queue (%ld, %ld)", 0, 0);
	}
	if (wait_ended(r->sub[1], "lock") < 0 ||
	    wait_ended(r->sub[1], "sleep") < 0 ||
	    wait_ended(r->sub[1], "mgr") < 0) {
		fail_check(
		    r, "lockers or sleepers did not end (%ld, %ld)", 0, 0);
	}

	/* restarts == kills, child by child */
	for (int s = 0; s < 2; s++) {
		TR_ASSERT_OK(tr_supervisor_which_children(
		    r->sub[s], &ci, &n, TR_TEST_HANG_MS));
		for (size_t i = 0; i < n; i++) {
			struct victim *v = victim_by_id(r, ci[i].id);

			assert_non_null(v);
			restarts += ci[i].restarts;
			if (ci[i].restarts != v->kills) {
				fail_check(r, "restarts %ld != kills %ld",
				    (long) ci[i].restarts, (long) v->kills);
				print_error("  (child %s)\n", v->id);
			}
		}
		free(ci);
		ci = NULL;
	}

	/* the queue: every item put was got; duplicates only from producers
	 * killed between a put and the cursor's step, missing ones only from
	 * consumers killed between a get and the tally */
	for (int p = 0; p < NPROD; p++) {
		uint32_t put = atomic_load(&r->t->prod_next[p]);

		for (uint32_t s = 0; s < MAXSEQ; s++) {
			uint32_t g = atomic_load(&r->t->got[p][s]);

			if (s < put) {
				items++;
				missing += g == 0;
				dups += g > 1 ? g - 1 : 0;
			} else if (g > 0) {
				stray++;
			}
		}
	}
	if (items == 0) {
		fail_check(r, "queue: no item went through (%ld, %ld)", 0, 0);
	}
	if (dups > r->kills[K_PROD]) {
		fail_check(r,
		    "queue: %ld duplicates, more than the %ld "
		    "producer kills",
		    (long) dups, (long) r->kills[K_PROD]);
	}
	if (missing > r->kills[K_CONS]) {
		fail_check(r,
		    "queue: %ld items lost, more than the %ld "
		    "consumer kills",
		    (long) missing, (long) r->kills[K_CONS]);
	}
	if (stray > 0) {
		fail_check(r, "queue: %ld items got that were never put (%ld)",
		    (long) stray, 0);
	}
	/* the lock: never two holders */
	if (atomic_load(&r->t->lock_overlap) != 0) {
		fail_check(r, "lock: %ld times two holders at once (%ld)",
		    (long) atomic_load(&r->t->lock_overlap), 0);
	}
	if (atomic_load(&r->t->lock_owner_died) > r->kills[K_LOCK]) {
		fail_check(r, "lock: %ld owner-died answers, %ld locker kills",
		    (long) atomic_load(&r->t->lock_owner_died),
		    (long) r->kills[K_LOCK]);
	}
	/* the manager: each client's last value is in the dict (or the one
	 * after it, set by a client killed before it noted it) */
	for (int i = 0; i < NMGR; i++) {
		uint32_t next = atomic_load(&r->t->mgr_next[i]);
		char     kt[16];
		tr_mval *key, *v = NULL;
		int64_t  got = -1;

		snprintf(kt, sizeof(kt), "m%d", i);
		key = tr_mval_str(kt);
		assert_non_null(key);
		if (tr_mdict_get(dict, key, &v) == 0) {
			got = tr_mval_get_int(v);
		}
		tr_mval_destroy(&v);
		tr_mval_destroy(&key);
		mgr_sets += next;
		if (next == 0 ||
		    (got != (int64_t) next - 1 &&
		        !(got == (int64_t) next && r->kills[K_MGR] > 0))) {
			fail_check(r, "manager: dict value %ld, last set %ld",
			    (long) got, (long) next - 1);
		}
	}
	/* the pool: every task answered exactly once, done or failed */
	if (r->tasks_calls != r->tasks) {
		fail_check(r, "pool: %ld tasks, %ld callbacks", r->tasks,
		    r->tasks_calls);
	}
	if (r->tasks_ok + r->tasks_failed != r->tasks) {
		fail_check(r, "pool: %ld tasks, %ld done or failed", r->tasks,
		    r->tasks_ok + r->tasks_failed);
	}
	if (r->tasks_bad != 0) {
		fail_check(r, "pool: %ld tasks answered wrongly (%ld calls)",
		    r->tasks_bad, r->tasks_calls);
	}

	/* the end of everything: nothing left behind */
	TR_ASSERT_OK(tr_pool_close(r->pool));
	TR_ASSERT_OK(tr_pool_join(r->pool, TR_TEST_HANG_MS));
	tr_pool_destroy(&r->pool);
	tr_supervisor_destroy(&r->sub[0]);
	tr_supervisor_destroy(&r->sub[1]);
	TR_ASSERT_OK(tr_supervisor_stop(r->root, TR_TEST_HANG_MS));
	tr_supervisor_destroy(&r->root);
	tr_queue_destroy(&q);
	tr_mobj_destroy(&dict);
	tr_manager_destroy(&mgr);
	tr_lock_destroy(&lk);
	tr_event_destroy(&ev);
	lock_acq  = atomic_load(&r->t->lock_acq);
	lock_died = atomic_load(&r->t->lock_owner_died);
	munmap(r->t, sizeof(struct tally));
	unlink(r->path);
	rmdir(r->dir);
	deadline = tr_test_now_ms() + TR_TEST_HANG_MS;
	do { /* the brokers' processes end after their handles */
		fd_kinds(&fds1);
		shm1 = shm_count();
		run1 = rundir_files();
		if (fds_ok(&fds0, &fds1) && shm1 <= shm0 && run1 <= run0 &&
		    children() == 0) {
			break;
		}
		usleep(50000);
	} while (tr_test_now_ms() < deadline);
	if (!fds_ok(&fds0, &fds1)) {
		if (getenv("CHAOS_DEBUG")) {
			char cmd[128];

			snprintf(cmd, sizeof(cmd), "ls -l /proc/%d/fd %s >&2",
			    (int) getpid(), tr_runtime_dir());
			(void) !system(cmd);
		}
		fail_check(r, "leak: %ld other fds before, %ld after",
		    fds0.other, fds1.other);
		fail_check(r, "leak? %ld pidfds before, %ld after", fds0.pidfd,
		    fds1.pidfd);
		fail_check(r, "leak? %ld eventfds before, %ld after",
		    fds0.eventfd, fds1.eventfd);
	}
	if (shm1 > shm0) {
		fail_check(r, "leak: %ld /dev/shm entries before, %ld after",
		    shm0, shm1);
	}
	if (run1 > run0) {
		if (getenv("CHAOS_DEBUG")) {
			char cmd[128];

			snprintf(cmd, sizeof(cmd), "ls -lR %s >&2",
			    tr_runtime_dir());
			(void) !system(cmd);
		}
		fail_check(r, "leak: %ld runtime dir entries before, %ld after",
		    run0, run1);
	}
	if (children() != 0) {
		fail_check(r,
		    "leak: %ld children left (running or zombie) (%ld)",
		    children(), 0);
	}

	for (int i = 0; i < NKINDS; i++) {
		allkills += r->kills[i];
	}
	pkills = allkills - r->kills[K_POOL];
	print_message("chaos %s, seed %u, %d s at %d kills/s, %.1f s in all\n",
	    tr_start_method_name(method), seed, seconds, rate,
	    (double) (tr_test_now_ms() - t0) / 1000.0);
	print_message("  %-28s %10s\n", "what", "count");
	for (int i = 0; i < NKINDS; i++) {
		char what[64];

		snprintf(what, sizeof(what), "kills: %s", kind_name[i]);
		print_message("  %-28s %10u\n", what, r->kills[i]);
	}
	print_message("  %-28s %10u\n", "restarts (tree)", restarts);
	print_message("  %-28s %10u\n", "kills (tree)", pkills);
	print_message(
	    "  %-28s %10llu\n", "queue items put", (unsigned long long) items);
	print_message(
	    "  %-28s %10llu\n", "queue duplicates", (unsigned long long) dups);
	print_message("  %-28s %10llu\n", "queue in flight at a kill",
	    (unsigned long long) missing);
	print_message("  %-28s %10llu\n", "lock acquisitions",
	    (unsigned long long) lock_acq);
	print_message("  %-28s %10llu\n", "lock owner-died",
	    (unsigned long long) lock_died);
	print_message("  %-28s %10llu\n", "manager dict sets",
	    (unsigned long long) mgr_sets);
	print_message("  %-28s %4ld -> %3ld\n", "fds: pidfd (peer cache)",
	    fds0.pidfd, fds1.pidfd);
	print_message("  %-28s %4ld -> %3ld\n", "fds: eventfd (peer cache)",
	    fds0.eventfd, fds1.eventfd);
	print_message(
	    "  %-28s %4ld -> %3ld\n", "fds: others", fds0.other, fds1.other);
	print_message("  %-28s %10ld\n", "pool tasks", r->tasks);
	print_message("  %-28s %10ld\n", "pool tasks done", r->tasks_ok);
	print_message(
	    "  %-28s %10ld\n", "pool tasks failed (died)", r->tasks_failed);
	print_message(
	    "  %-28s %10s\n", "checks", r->failures ? "FAILED" : "passed");
	assert_int_equal(r->failures, 0);
	free(r);
}

static int
env_int(const char *name, int def)
{
	const char *s = getenv(name);

	return s && *s ? atoi(s) : def;
}

static void
test_chaos(void **state)
{
	int         seconds = env_int("CHAOS_SECONDS", 4);
	int         rate    = env_int("CHAOS_RATE", 20);
	unsigned    seed    = (unsigned) env_int("CHAOS_SEED", (int) getpid());
	const char *ms      = getenv("CHAOS_METHODS");
	char        buf[128];
	char       *save = NULL;

	(void) state;
	assert_true(seconds > 0 && rate > 0 && rate <= 1000);
	snprintf(
	    buf, sizeof(buf), "%s", ms && *ms ? ms : "fork,spawn,forkserver");
	for (char *m = strtok_r(buf, ",", &save); m;
	     m       = strtok_r(NULL, ",", &save)) {
		int method = tr_start_method_parse(m);

		assert_true(method >= 0);
#ifdef __SANITIZE_ADDRESS__
		if (method == TR_START_FORK) {
			method = TR_TEST_POOL_FORK;
		}
#endif
		run_chaos(method, seed, seconds, rate);
	}
}

static const int *volatile keep_pool_tasks;

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chaos),
	};

	TR_ASSERT_OK(tr_init(argc, argv));
	/* link in the pool's test tasks ("echo") */
	keep_pool_tasks = tr_test_pool_methods;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
