/* SPDX-License-Identifier: MIT */
/* tr_pool: the handle and its dispatcher.  The workers are temporary
 * instances of a simple_one_for_one supervisor; the dispatcher, in the
 * caller's process, keeps the tasks not yet sent in a FIFO, gives each
 * worker at most `prefetch` of them, monitors the workers and the
 * supervisor, and on a worker's DOWN sends its tasks again (up to
 * `retries` times) or fails them, and starts a replacement. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <protobuf-c/protobuf-c.h>

#include "pool-int.h"

struct task {
	struct task    *next;
	uint64_t        id;
	tr_pool_result *res;
	size_t          chunk, first; /* chunk number; its first item */
	uint32_t        n;            /* items */
	uint32_t       *lens;         /* n, then the items' bytes */
	uint8_t        *data;
	size_t          len;
	int             deaths; /* workers that died holding it */
};

struct worker {
	tr_addr       addr;
	uint64_t      ref;  /* monitor */
	unsigned      sent; /* tasks given, for maxtasksperchild */
	bool          gone; /* a send failed: its DOWN is coming */
	struct task **held; /* FIFO of at most prefetch tasks */
	int           nheld;
};

enum { RUNNING, CLOSED, STOPPED };

struct tr_pool {
	pid_t          owner;
	uint64_t       token; /* correlation id of our tasks and answers */
	tr_supervisor *sup;
	uint64_t       sup_ref;
	int            state;
	int            broken; /* error for new tasks once the tree died */
	int            nproc, prefetch, retries, maxtasks;
	struct worker *w;
	int            nw;
	int            rr;          /* round-robin start of the next dispatch */
	struct task   *head, *tail; /* not yet sent */
	size_t         unfinished;  /* tasks not ended: queued or held */
	uint64_t       next_id;
	bool           pumping;
	tr_pool_stats  st;
};

/* ---- tasks ----------------------------------------------------------------
 */

static struct task *
task_new(tr_pool_result *res, size_t chunk, size_t first,
    const tr_pool_item *items, size_t n)
{
	size_t       len = 0;
	struct task *t;
	uint8_t     *d;

	for (size_t i = 0; i < n; i++) {
		if (items[i].len > UINT32_MAX ||
		    (!items[i].data && items[i].len)) {
			return NULL;
		}
		len += items[i].len;
	}
	t = malloc(sizeof(*t) + n * sizeof(uint32_t) + len);
	if (!t) {
		return NULL;
	}
	memset(t, 0, sizeof(*t));
	t->res   = res;
	t->chunk = chunk;
	t->first = first;
	t->n     = (uint32_t) n;
	t->lens  = (uint32_t *) (t + 1);
	t->data  = (uint8_t *) (t->lens + n);
	t->len   = len;
	d        = t->data;
	for (size_t i = 0; i < n; i++) {
		t->lens[i] = (uint32_t) items[i].len;
		if (items[i].len) {
			memcpy(d, items[i].data, items[i].len);
		}
		d += items[i].len;
	}
	return t;
}

static void
push_back(tr_pool *p, struct task *t)
{
	t->next = NULL;
	if (p->tail) {
		p->tail->next = t;
	} else {
		p->head = t;
	}
	p->tail = t;
}

static void
push_front(tr_pool *p, struct task *t)
{
	t->next = p->head;
	p->head = t;
	if (!p->tail) {
		p->tail = t;
	}
}

static struct task *
pop_front(tr_pool *p)
{
	struct task *t = p->head;

	if (t) {
		p->head = t->next;
		if (!p->head) {
			p->tail = NULL;
		}
		t->next = NULL;
	}
	return t;
}

/* The task ended without an answer: fail its chunk. */
static void
task_fail(tr_pool *p, struct task *t, int err, const char *text)
{
	tr_pool_result *res   = t->res;
	int64_t         first = (int64_t) t->first;

	p->unfinished--;
	free(t);
	tri_pool_result_fail(res, err, first, text);
}

/* ---- workers ----------------------------------------------------------------
 */

static int
worker_start(tr_pool *p)
{
	tr_child_info ci;
	struct worker w = { 0 };
	int           r;

	w.held = calloc((size_t) p->prefetch, sizeof(*w.held));
	if (!w.held) {
		return -ENOMEM;
	}
	r = tr_supervisor_start_simple(
	    p->sup, NULL, 0, &ci, TR_TIMEOUT_INFINITE);
	if (r == 0 && ci.state != TR_CHILD_RUNNING) {
		r = TR_ESTARTFAIL;
	}
	if (r == 0) {
		w.addr = ci.addr;
		r      = tr_monitor(w.addr, &w.ref);
	}
	if (r < 0) {
		free(w.held);
		return r;
	}
	p->w[p->nw++] = w;
	p->st.workers_started++;
	return 0;
}

static void
describe_death(char *buf, size_t n, const tr_down *d)
{
	if (d->exitcode < 0) {
		snprintf(buf, n, "killed by signal %d (%s)", -d->exitcode,
		    strsignal(-d->exitcode));
	} else {
		snprintf(buf, n, "exited with code %d", d->exitcode);
	}
}

static void fail_everything(tr_pool *p, int err, const char *text);

/* Worker i is down: its tasks go back to the front of the queue (in
 * order) or fail, and another takes its place. */
static void
worker_down(tr_pool *p, int i, const tr_down *d)
{
	struct worker w = p->w[i];
	char          how[96], text[TRI_POOL_TEXT_MAX];
	bool          recycled;
	int           r;

	p->w[i] = p->w[--p->nw];
	describe_death(how, sizeof(how), d);
	recycled =
	    d->exitcode == 0 && p->maxtasks && w.sent >= (unsigned) p->maxtasks;
	if (recycled) {
		p->st.workers_recycled++;
	} else {
		p->st.workers_died++;
	}
	snprintf(text, sizeof(text), "pool worker %u %s", d->who.pid, how);
	for (int k = w.nheld - 1; k >= 0; k--) {
		struct task *t = w.held[k];

		if (++t->deaths > p->retries) {
			task_fail(p, t, TR_EDEAD, text);
		} else {
			p->st.tasks_retried++;
			push_front(p, t);
		}
	}
	free(w.held);
	tr_log(TR_LOG_DEBUG, "pool: %s; %d worker(s) left", text, p->nw);
	if (p->state == STOPPED) {
		return;
	}
	r = worker_start(p);
	if (r < 0 && p->nw == 0) {
		snprintf(text, sizeof(text),
		    "no pool worker could be started: %s", tr_strerror(r));
		p->broken = r;
		fail_everything(p, r, text);
	}
}

/* ---- dispatch ------------------------------------------------------------
 */

/* Send t to w.  0, or the send's error (t is then still the caller's). */
static int
send_task(tr_pool *p, struct worker *w, struct task *t)
{
	Trwire__PoolTask pb = TRWIRE__POOL_TASK__INIT;
	tr_msg          *m  = NULL;
	int              r;

	pb.id        = t->id;
	pb.fn        = t->res->fn;
	pb.data.data = t->data;
	pb.data.len  = t->len;
	pb.lens      = t->lens;
	pb.n_lens    = t->n;
	r            = tr_msg_new_pb(&m, &pb.base);
	if (r < 0) {
		return r;
	}
	tr_msg_set_correlation(m, p->token);
	/* credit keeps the worker's mailbox far from full: a wait here
	 * means it is dying (its DOWN follows) */
	r = tr_send(w->addr, &m, 1000);
	tr_msg_destroy(&m);
	return r;
}

static bool
has_credit(const tr_pool *p, const struct worker *w)
{
	return !w->gone && w->nheld < p->prefetch &&
	    (!p->maxtasks || w->sent < (unsigned) p->maxtasks);
}

/* Give queued tasks to the workers with credit, round robin. */
static void
dispatch(tr_pool *p)
{
	bool progress = true;

	while (p->head && progress) {
		progress = false;
		for (int k = 0; k < p->nw && p->head; k++) {
			struct worker *w = &p->w[(p->rr + k) % p->nw];
			struct task   *t;
			int            r;

			if (!has_credit(p, w)) {
				continue;
			}
			t = pop_front(p);
			r = send_task(p, w, t);
			if (r < 0) {
				tr_log(TR_LOG_DEBUG,
				    "pool: send to worker %u: %s", w->addr.pid,
				    tr_strerror(r));
				push_front(p, t);
				w->gone = true;
				continue;
			}
			w->held[w->nheld++] = t;
			w->sent++;
			progress = true;
		}
		p->rr = p->nw ? (p->rr + 1) % p->nw : 0;
	}
}

/* Fail every task, queued or held (the pool stopped or its tree died). */
static void
fail_everything(tr_pool *p, int err, const char *text)
{
	struct task *t;

	for (int i = 0; i < p->nw; i++) {
		struct worker *w = &p->w[i];

		while (w->nheld > 0) {
			t = w->held[--w->nheld];
			task_fail(p, t, err, text);
		}
	}
	while ((t = pop_front(p))) {
		task_fail(p, t, err, text);
	}
}

/* ---- answers
 * ------------------------------------------------------------------
 */

static int
worker_by_addr(const tr_pool *p, tr_addr a)
{
	for (int i = 0; i < p->nw; i++) {
		if (tr_addr_eq(p->w[i].addr, a)) {
			return i;
		}
	}
	return -1;
}

static int
worker_by_ref(const tr_pool *p, uint64_t ref)
{
	for (int i = 0; i < p->nw; i++) {
		if (p->w[i].ref == ref) {
			return i;
		}
	}
	return -1;
}

/* Take task id (0: the oldest) out of w's FIFO. */
static struct task *
take_held(struct worker *w, uint64_t id)
{
	for (int k = 0; k < w->nheld; k++) {
		struct task *t = w->held[k];

		if (id == 0 || t->id == id) {
			memmove(&w->held[k], &w->held[k + 1],
			    (size_t) (w->nheld - k - 1) * sizeof(*w->held));
			w->nheld--;
			return t;
		}
	}
	return NULL;
}

static bool
answer_valid(const Trwire__PoolResult *a, const struct task *t)
{
	uint64_t sum = 0;

	if (a->error) {
		return a->failed < t->n || t->n == 0;
	}
	if (a->n_lens != t->n) {
		return false;
	}
	for (size_t i = 0; i < a->n_lens; i++) {
		sum += a->lens[i];
	}
	return sum == a->data.len;
}

static void
on_answer(tr_pool *p, const tr_msg *m)
{
	Trwire__PoolResult *a  = NULL;
	int                 wi = worker_by_addr(p, tr_msg_sender(m));
	struct task        *t;
	tr_pool_result     *res;
	char                text[TRI_POOL_TEXT_MAX];
	int                 r;

	if (wi < 0) {
		/* from a worker already taken for dead: its tasks were sent
		 * again or failed, so this answer is one too many */
		return;
	}
	r = tr_msg_unpack(
	    m, &trwire__pool_result__descriptor, (ProtobufCMessage **) &a);
	t = take_held(&p->w[wi], r == 0 ? a->id : 0);
	if (!t) {
		if (a) {
			trwire__pool_result__free_unpacked(a, NULL);
		}
		return;
	}
	p->st.tasks_done++;
	if (r < 0 || !answer_valid(a, t)) {
		snprintf(text, sizeof(text),
		    "the answer of pool worker %u to a task of %.64s could "
		    "not be decoded",
		    p->w[wi].addr.pid, t->res->fn);
		if (a) {
			trwire__pool_result__free_unpacked(a, NULL);
		}
		task_fail(p, t, TR_EBADFRAME, text);
		return;
	}
	res = t->res;
	p->unfinished--;
	tri_pool_result_answer(res, t->chunk, t->first, t->n, a);
	free(t);
}

static void
on_down(tr_pool *p, const tr_msg *m)
{
	tr_down d;
	char    how[96], text[TRI_POOL_TEXT_MAX];
	int     wi;

	if (tr_msg_down(m, &d) < 0) {
		return;
	}
	if (d.ref == p->sup_ref) {
		describe_death(how, sizeof(how), &d);
		snprintf(text, sizeof(text), "the pool's supervisor %u %s",
		    d.who.pid, how);
		p->sup_ref = 0;
		p->broken  = TR_EDEAD;
		fail_everything(p, TR_EDEAD, text);
		for (int i = 0; i < p->nw; i++) {
			(void) tr_demonitor(p->w[i].ref);
			free(p->w[i].held);
		}
		p->nw = 0;
		return;
	}
	wi = worker_by_ref(p, d.ref);
	if (wi >= 0) {
		worker_down(p, wi, &d);
	}
}

static bool
is_ours(const tr_msg *m, void *arg)
{
	tr_pool *p = arg;
	tr_down  d;

	if (tr_msg_correlation(m) == p->token) {
		return strcmp(tr_msg_type(m), "trwire.PoolResult") == 0;
	}
	if (!tr_msg_is_system(m) || tr_msg_down(m, &d) < 0) {
		return false;
	}
	return d.ref != 0 &&
	    (d.ref == p->sup_ref || worker_by_ref(p, d.ref) >= 0);
}

static void
handle(tr_pool *p, tr_msg *m)
{
	if (tr_msg_is_system(m)) {
		on_down(p, m);
	} else {
		on_answer(p, m);
	}
}

int
tri_pool_pump(tr_pool *p, int timeout_ms)
{
	tr_msg *m = NULL;
	int     r, n = 0;

	if (p->owner != getpid()) {
		return -ECHILD;
	}
	if (p->pumping) {
		/* a callback's call: the outer pump goes on after it */
		return timeout_ms == 0 ? -EAGAIN : -EDEADLK;
	}
	p->pumping = true;
	dispatch(p);
	if (p->unfinished == 0) {
		p->pumping = false;
		return timeout_ms == 0 ? -EAGAIN : -ETIMEDOUT;
	}
	r = tr_recv_match(&m, is_ours, p, timeout_ms);
	while (r == 0) {
		handle(p, m);
		tr_msg_destroy(&m);
		n++;
		dispatch(p);
		if (n >= 256) {
			break;
		}
		r = tr_recv_match(&m, is_ours, p, 0);
	}
	p->pumping = false;
	return n > 0 ? 0 : r;
}

/* ---- the pool's life --------------------------------------------------------
 */

static uint64_t
new_token(void)
{
	uint64_t t = 0;

	while (t == 0) {
		if (getrandom(&t, sizeof(t), 0) != (ssize_t) sizeof(t)) {
			t = ((uint64_t) getpid() << 32) ^
			    (uint64_t) tr_now_ms();
		}
	}
	return t;
}

static int
pack_worker_args(const tr_pool_opts *o, void **ret, size_t *ret_len)
{
	Trwire__PoolWorkerArgs a = TRWIRE__POOL_WORKER_ARGS__INIT;
	size_t                 len;
	void                  *buf;

	a.initializer   = (char *) (o->initializer ? o->initializer : "");
	a.initargs.data = (uint8_t *) o->initargs;
	a.initargs.len  = o->initargs_len;
	a.maxtasks      = (uint32_t) o->maxtasksperchild;
	len             = trwire__pool_worker_args__get_packed_size(&a);
	buf             = malloc(len ? len : 1);
	if (!buf) {
		return -ENOMEM;
	}
	*ret_len = trwire__pool_worker_args__pack(&a, buf);
	*ret     = buf;
	return 0;
}

/* Stop the tree: no DOWN of ours stays behind in the mailbox, nor any
 * answer that was still on its way. */
static void
stop_tree(tr_pool *p, bool orderly, int timeout_ms)
{
	tr_msg *m = NULL;

	for (int i = 0; i < p->nw; i++) {
		struct worker *w = &p->w[i];

		(void) tr_demonitor(w->ref);
		/* its tasks go back to the queue, for fail_everything() */
		while (w->nheld > 0) {
			push_front(p, w->held[--w->nheld]);
		}
	}
	if (p->sup_ref) {
		(void) tr_demonitor(p->sup_ref);
		p->sup_ref = 0;
	}
	if (p->sup && orderly) {
		(void) tr_supervisor_stop(p->sup, timeout_ms);
	}
	tr_supervisor_destroy(&p->sup); /* SIGTERM and wait, if still up */
	for (int i = 0; i < p->nw; i++) {
		free(p->w[i].held);
	}
	p->nw = 0;
	while (tr_recv_match(&m, is_ours, p, 0) == 0) {
		tr_msg_destroy(&m);
	}
	p->state = STOPPED;
}

int
tr_pool_new(tr_pool **ret, const tr_pool_opts *opts)
{
	tr_pool_opts  o = opts ? *opts : (tr_pool_opts) { 0 };
	tr_child_spec tmpl;
	tr_sup_spec   spec;
	tr_pool      *p;
	void         *args = NULL;
	size_t        len  = 0;
	int           r;

	if (!ret || o.processes < 0 || o.maxtasksperchild < 0 ||
	    o.retries < 0 || o.prefetch < 0 || o.start_timeout_ms < 0 ||
	    o.start_method < TR_START_DEFAULT ||
	    o.start_method > TR_START_FORKSERVER ||
	    (!o.initargs && o.initargs_len)) {
		return -EINVAL;
	}
	if (o.initializer && !tri_pool_init_find(o.initializer)) {
		return TR_ENOACTOR;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		return -ENOMEM;
	}
	p->owner    = getpid();
	p->token    = new_token();
	p->nproc    = o.processes ? o.processes : tr_cpu_count();
	p->prefetch = o.prefetch ? o.prefetch : TRI_POOL_PREFETCH;
	p->retries  = o.retries;
	p->maxtasks = o.maxtasksperchild;
	p->next_id  = 1;
	p->w        = calloc((size_t) p->nproc, sizeof(*p->w));
	r           = p->w ? tr_self_bind() : -ENOMEM;
	if (r == 0) {
		r = pack_worker_args(&o, &args, &len);
	}
	if (r == 0) {
		tr_child_spec_init(&tmpl, "worker", TRI_POOL_WORKER_ACTOR);
		tmpl.args             = args;
		tmpl.len              = len;
		tmpl.restart          = TR_RESTART_TEMPORARY;
		tmpl.shutdown_ms      = TRI_POOL_WORKER_SHUTDOWN_MS;
		tmpl.start_method     = o.start_method;
		tmpl.start_timeout_ms = o.start_timeout_ms
		    ? o.start_timeout_ms
		    : TRI_POOL_START_TIMEOUT_MS;
		tr_sup_spec_init(&spec);
		spec.strategy  = TR_SUP_SIMPLE_ONE_FOR_ONE;
		spec.quiet     = true;
		spec.children  = &tmpl;
		spec.nchildren = 1;
		r              = tr_supervisor_start(&p->sup, &spec, 30000);
	}
	free(args);
	if (r == 0) {
		r = tr_monitor(tr_supervisor_addr(p->sup), &p->sup_ref);
	}
	for (int i = 0; r == 0 && i < p->nproc; i++) {
		r = worker_start(p);
	}
	if (r < 0) {
		stop_tree(p, false, 0);
		free(p->w);
		free(p);
		return r;
	}
	*ret = p;
	return 0;
}

int
tr_pool_close(tr_pool *p)
{
	if (!p) {
		return -EINVAL;
	}
	if (p->owner != getpid()) {
		return -ECHILD;
	}
	if (p->state == RUNNING) {
		p->state = CLOSED;
	}
	return 0;
}

int
tr_pool_terminate(tr_pool *p)
{
	if (!p) {
		return -EINVAL;
	}
	if (p->owner != getpid()) {
		return -ECHILD;
	}
	if (p->state == STOPPED) {
		return 0;
	}
	p->state = STOPPED;
	/* the workers go first, so that no more answers come */
	stop_tree(p, false, 0);
	fail_everything(p, TR_ESHUTDOWN, "pool terminated");
	return 0;
}

int
tr_pool_join(tr_pool *p, int timeout_ms)
{
	int64_t deadline;
	int     r;

	if (!p || timeout_ms < TR_TIMEOUT_INFINITE) {
		return -EINVAL;
	}
	if (p->owner != getpid()) {
		return -ECHILD;
	}
	if (p->state == RUNNING) {
		return -EBUSY;
	}
	if (p->state == STOPPED) {
		return 0;
	}
	deadline = tr_deadline(timeout_ms);
	while (p->unfinished > 0) {
		r = tri_pool_pump(p, tr_deadline_left(deadline));
		if (r < 0 && r != -ETIMEDOUT && r != -EAGAIN) {
			return r;
		}
		if (p->unfinished > 0 && r < 0 &&
		    tr_deadline_left(deadline) == 0) {
			return -ETIMEDOUT;
		}
	}
	stop_tree(p, true, 10000);
	return 0;
}

void
tr_pool_destroy(tr_pool **pp)
{
	tr_pool *p;

	if (!pp || !*pp) {
		return;
	}
	p = *pp;
	if (p->owner == getpid()) {
		(void) tr_pool_terminate(p);
	} else {
		/* a fork child's copy: the tree is not ours to stop */
		tr_supervisor_destroy(&p->sup);
	}
	free(p->w);
	free(p);
	*pp = NULL;
}

int
tr_pool_processes(const tr_pool *p)
{
	return p ? p->nproc : -EINVAL;
}

tr_supervisor *
tr_pool_supervisor(tr_pool *p)
{
	return p ? p->sup : NULL;
}

int
tr_pool_stats_get(const tr_pool *p, tr_pool_stats *ret)
{
	if (!p || !ret) {
		return -EINVAL;
	}
	*ret = p->st;
	return 0;
}

/* ---- submitting
 * ---------------------------------------------------------------
 */

static int
can_submit(const tr_pool *p, const char *fn)
{
	if (!p || !fn || !fn[0] || strlen(fn) >= 64) {
		return -EINVAL;
	}
	if (p->owner != getpid()) {
		return -ECHILD;
	}
	if (p->state != RUNNING) {
		return TR_ESHUTDOWN;
	}
	return p->broken;
}

/* Queue n items in chunks of chunksize as one result. */
static int
submit(tr_pool *p, const char *fn, const tr_pool_item *items, size_t n,
    size_t chunksize, const tr_pool_cb *cb, tr_pool_result **ret)
{
	size_t          nchunks, first = 0;
	tr_pool_result *res;
	struct task    *q = NULL, *qt = NULL;
	int             r = can_submit(p, fn);

	if (r < 0) {
		return r;
	}
	if (!items && n) {
		return -EINVAL;
	}
	if (chunksize == 0) {
		size_t d = 4 * (size_t) p->nproc;

		chunksize = n ? (n + d - 1) / d : 1;
	}
	nchunks = (n + chunksize - 1) / chunksize;
	res     = tri_pool_result_new(p, n, nchunks, cb);
	if (!res) {
		return -ENOMEM;
	}
	snprintf(res->fn, sizeof(res->fn), "%s", fn);
	for (size_t c = 0; c < nchunks; c++, first += chunksize) {
		size_t       k = n - first < chunksize ? n - first : chunksize;
		struct task *t = task_new(res, c, first, items + first, k);

		if (!t) {
			while (q) {
				t = q->next;
				free(q);
				q = t;
			}
			tri_pool_result_unref(res);
			return -ENOMEM; /* or an item over 4 GiB */
		}
		t->id = p->next_id++;
		if (qt) {
			qt->next = t;
		} else {
			q = t;
		}
		qt = t;
	}
	if (ret) {
		res->refs++;
		*ret = res;
	}
	if (nchunks == 0) {
		res->tasks_left = 1;
		tri_pool_result_fail(res, 0, -1, NULL); /* ready: no items */
		return 0;
	}
	while (q) {
		struct task *t = q;

		q = q->next;
		push_back(p, t);
		p->unfinished++;
	}
	if (!p->pumping) {
		(void) tri_pool_pump(p, 0);
	}
	return 0;
}

int
tr_pool_apply_async(tr_pool *p, const char *fn, const void *arg, size_t len,
    const tr_pool_cb *cb, tr_pool_result **ret)
{
	tr_pool_item it = { arg, len };

	if (!arg && len) {
		return -EINVAL;
	}
	return submit(p, fn, &it, 1, 1, cb, ret);
}

int
tr_pool_map_async(tr_pool *p, const char *fn, const tr_pool_item *items,
    size_t n, size_t chunksize, const tr_pool_cb *cb, tr_pool_result **ret)
{
	return submit(p, fn, items, n, chunksize, cb, ret);
}

static int
get_or_drop(tr_pool_result **resp, tr_pool_result **ret, int timeout_ms)
{
	int r = tr_pool_result_get(*resp, timeout_ms);

	if (r == 0) {
		*ret = *resp;
	} else {
		tr_pool_result_destroy(resp);
	}
	return r;
}

int
tr_pool_apply(tr_pool *p, const char *fn, const void *arg, size_t len,
    tr_pool_result **ret, int timeout_ms)
{
	tr_pool_result *res = NULL;
	int             r;

	if (!ret || timeout_ms < TR_TIMEOUT_INFINITE) {
		return -EINVAL;
	}
	r = tr_pool_apply_async(p, fn, arg, len, NULL, &res);
	return r < 0 ? r : get_or_drop(&res, ret, timeout_ms);
}

int
tr_pool_map(tr_pool *p, const char *fn, const tr_pool_item *items, size_t n,
    size_t chunksize, tr_pool_result **ret, int timeout_ms)
{
	tr_pool_result *res = NULL;
	int             r;

	if (!ret || timeout_ms < TR_TIMEOUT_INFINITE) {
		return -EINVAL;
	}
	r = tr_pool_map_async(p, fn, items, n, chunksize, NULL, &res);
	return r < 0 ? r : get_or_drop(&res, ret, timeout_ms);
}
