/* SPDX-License-Identifier: MIT */
/* The pool's dispatcher: the FIFO of tasks not yet sent, the workers and
 * the tasks each holds (at most `prefetch`), the answers and DOWNs that
 * come back, and the pump that takes them in -- in the caller's process,
 * inside its tr_pool_* calls. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <protobuf-c/protobuf-c.h>

#include "pool-int.h"

/* ---- tasks ----------------------------------------------------------------
 */

struct task *
tri_pool_task_new(tr_pool_result *res, size_t chunk, size_t first,
    const tr_pool_item *items, size_t n)
{
	size_t       len = 0;
	struct task *t;
	uint8_t     *d;
	bool         fixed = n > 0;

	for (size_t i = 0; i < n; i++) {
		if (items[i].len > UINT32_MAX ||
		    (!items[i].data && items[i].len)) {
			return NULL;
		}
		len += items[i].len;
		fixed = fixed && items[i].len == items[0].len;
	}
	/* items all of one size travel without their lengths */
	t = malloc(sizeof(*t) + (fixed ? 0 : n * sizeof(uint32_t)) + len);
	if (!t) {
		return NULL;
	}
	memset(t, 0, sizeof(*t));
	t->res       = res;
	t->chunk     = chunk;
	t->first     = first;
	t->n         = (uint32_t) n;
	t->fixed     = fixed;
	t->fixed_len = fixed ? (uint32_t) items[0].len : 0;
	t->lens      = fixed ? NULL : (uint32_t *) (t + 1);
	t->data      = fixed ? (uint8_t *) (t + 1) : (uint8_t *) (t->lens + n);
	t->len       = len;
	d            = t->data;
	for (size_t i = 0; i < n; i++) {
		if (!fixed) {
			t->lens[i] = (uint32_t) items[i].len;
		}
		if (items[i].len) {
			memcpy(d, items[i].data, items[i].len);
		}
		d += items[i].len;
	}
	return t;
}

struct task *
tri_pool_task_new_fixed(tr_pool_result *res, size_t chunk, size_t first,
    const uint8_t *data, size_t size, size_t n)
{
	struct task *t;

	if (n == 0 || size > UINT32_MAX) {
		return NULL;
	}
	t = malloc(sizeof(*t) + n * size);
	if (!t) {
		return NULL;
	}
	memset(t, 0, sizeof(*t));
	t->res       = res;
	t->chunk     = chunk;
	t->first     = first;
	t->n         = (uint32_t) n;
	t->fixed     = true;
	t->fixed_len = (uint32_t) size;
	t->data      = (uint8_t *) (t + 1);
	t->len       = n * size;
	if (t->len) {
		memcpy(t->data, data, t->len);
	}
	return t;
}

void
tri_pool_push_back(tr_pool *p, struct task *t)
{
	t->next = NULL;
	if (p->tail) {
		p->tail->next = t;
	} else {
		p->head = t;
	}
	p->tail = t;
}

void
tri_pool_push_front(tr_pool *p, struct task *t)
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

int
tri_pool_worker_start(tr_pool *p, int node)
{
	tr_child_info ci;
	struct worker w = { 0 };
	int           r = TR_EBADADDR;

	w.credit = p->prefetch;
	w.held =
	    calloc((size_t) (p->adaptive ? TRI_POOL_PREFETCH_MAX : p->prefetch),
	        sizeof(*w.held));
	if (!w.held) {
		return -ENOMEM;
	}
	/* its node, else the next ones in the list */
	for (int k = 0; k < (p->nnodes ? p->nnodes : 1); k++) {
		w.node = p->nnodes ? (node + k) % p->nnodes : 0;
		r      = tr_supervisor_start_simple_on(p->sup,
                    p->nnodes ? p->nodes[w.node] : NULL, NULL, 0, &ci,
		         TR_TIMEOUT_INFINITE);
		if (r == 0 && ci.state != TR_CHILD_RUNNING) {
			r = TR_ESTARTFAIL;
		}
		if (r == 0 || p->nnodes == 0) {
			break;
		}
		tr_log(TR_LOG_DEBUG, "pool: no worker on node '%s': %s",
		    p->nodes[w.node], tr_strerror(r));
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
	if (d->exit_class == TR_EXIT_NOCONNECTION) {
		snprintf(buf, n, "was lost with its node (noconnection)");
	} else if (d->exitcode < 0) {
		snprintf(buf, n, "killed by signal %d (%s)", -d->exitcode,
		    strsignal(-d->exitcode));
	} else {
		snprintf(buf, n, "exited with code %d", d->exitcode);
	}
}

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
	if (p->nnodes && p->nodes[w.node][0]) {
		snprintf(text, sizeof(text), "pool worker %u on node %s %s",
		    d->who.pid, p->nodes[w.node], how);
	} else {
		snprintf(
		    text, sizeof(text), "pool worker %u %s", d->who.pid, how);
	}
	for (int k = w.nheld - 1; k >= 0; k--) {
		struct task *t = w.held[k];

		if (++t->deaths > p->retries) {
			task_fail(p, t, TR_EDEAD, text);
		} else {
			p->st.tasks_retried++;
			tri_pool_push_front(p, t);
		}
	}
	free(w.held);
	tr_log(TR_LOG_DEBUG, "pool: %s; %d worker(s) left", text, p->nw);
	if (p->state == TRI_POOL_STOPPED) {
		return;
	}
	/* on its node again if it is there, else on another */
	r = tri_pool_worker_start(p, w.node);
	if (r < 0 && p->nw == 0) {
		snprintf(text, sizeof(text),
		    "no pool worker could be started: %s", tr_strerror(r));
		p->broken = r;
		tri_pool_fail_everything(p, r, text);
	}
}

/* ---- dispatch ------------------------------------------------------------
 */

static void
task_pb(const struct task *t, Trwire__PoolTask *pb)
{
	pb->id        = t->id;
	pb->fn        = t->res->fn;
	pb->data.data = t->data;
	pb->data.len  = t->len;
	if (t->fixed) {
		pb->fixed_len = t->fixed_len;
		pb->count     = t->n;
	} else {
		pb->lens   = t->lens;
		pb->n_lens = t->n;
	}
}

/* Send ts[0..n-1] to w, as one task or (n > 1) one batch.  0, or the
 * send's error (the tasks are then still the caller's). */
static int
send_tasks(tr_pool *p, struct worker *w, struct task **ts, int n)
{
	Trwire__PoolTask    pb = TRWIRE__POOL_TASK__INIT;
	ProtobufCBinaryData packed[TRI_POOL_BATCH_MAX];
	tr_msg             *m = NULL;
	int                 r = 0, np = 0;

	if (n == 1) {
		task_pb(ts[0], &pb);
	}
	for (int i = 0; n > 1 && i < n; i++) {
		Trwire__PoolTask sub = TRWIRE__POOL_TASK__INIT;
		size_t           len;

		task_pb(ts[i], &sub);
		len            = trwire__pool_task__get_packed_size(&sub);
		packed[i].data = malloc(len ? len : 1);
		if (!packed[i].data) {
			r = -ENOMEM;
			break;
		}
		packed[i].len = trwire__pool_task__pack(&sub, packed[i].data);
		np++;
	}
	pb.batch   = n > 1 ? packed : NULL;
	pb.n_batch = n > 1 ? (size_t) np : 0;
	if (r == 0) {
		r = tr_msg_new_pb(&m, &pb.base);
	}
	for (int i = 0; i < np; i++) {
		free(packed[i].data);
	}
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
	return !w->gone && w->nheld < w->credit &&
	    (!p->maxtasks || w->sent < (unsigned) p->maxtasks);
}

/* How many queued tasks w takes in one message: 1, or (adaptive
 * credit, its tasks short, the queue's next tasks small) a batch of up
 * to TRI_POOL_BATCH_MAX, within its credit and maxtasksperchild. */
static int
batch_size(const tr_pool *p, const struct worker *w)
{
	int          room = w->credit - w->nheld, n = 0;
	struct task *t;

	if (!p->adaptive || w->credit <= p->prefetch) {
		return 1;
	}
	if (p->maxtasks && room > p->maxtasks - (int) w->sent) {
		room = p->maxtasks - (int) w->sent;
	}
	room = room < TRI_POOL_BATCH_MAX ? room : TRI_POOL_BATCH_MAX;
	for (t = p->head; t && n < room && t->len <= TRI_POOL_BATCH_ITEM_MAX;
	     t = t->next) {
		n++;
	}
	return n > 1 ? n : 1;
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
			struct task   *ts[TRI_POOL_BATCH_MAX];
			int            n, r;

			if (!has_credit(p, w)) {
				continue;
			}
			n = batch_size(p, w);
			for (int i = 0; i < n; i++) {
				ts[i] = pop_front(p);
			}
			r = send_tasks(p, w, ts, n);
			if (r < 0) {
				tr_log(TR_LOG_DEBUG,
				    "pool: send to worker %u: %s", w->addr.pid,
				    tr_strerror(r));
				while (n > 0) {
					tri_pool_push_front(p, ts[--n]);
				}
				w->gone = true;
				continue;
			}
			for (int i = 0; i < n; i++) {
				w->held[w->nheld++] = ts[i];
				w->sent++;
			}
			progress = true;
		}
		p->rr = p->nw ? (p->rr + 1) % p->nw : 0;
	}
}

/* Fail every task, queued or held (the pool stopped or its tree died). */
void
tri_pool_fail_everything(tr_pool *p, int err, const char *text)
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

bool
tri_pool_answer_fits(const Trwire__PoolResult *a, size_t k)
{
	uint64_t sum = 0;

	if (a->count > 0) {
		return a->n_lens == 0 && a->count == k &&
		    (uint64_t) a->count * a->fixed_len == a->data.len;
	}
	if (a->n_lens != k) {
		return false;
	}
	for (size_t i = 0; i < a->n_lens; i++) {
		sum += a->lens[i];
	}
	return sum == a->data.len;
}

static bool
answer_valid(const Trwire__PoolResult *a, const struct task *t)
{
	if (a->error) {
		return a->failed < t->n || t->n == 0;
	}
	return tri_pool_answer_fits(a, t->n);
}

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A worker answered (its FIFO already one shorter): the gap since its
 * previous answer, if it stayed busy in between, is one task's time;
 * short tasks earn more credit (fewer round trips idle), long ones less
 * (no deep FIFO on one worker while others idle). */
static void
adapt(struct worker *w, int base)
{
	int64_t t = now_ns();

	if (w->last_ns) {
		double gap = (double) (t - w->last_ns);

		w->gap_ns = w->gap_ns > 0 ? 0.8 * w->gap_ns + 0.2 * gap : gap;
		if (w->gap_ns < TRI_POOL_SHORT_NS) {
			w->credit = TRI_POOL_PREFETCH_MAX;
		} else if (w->gap_ns > TRI_POOL_LONG_NS) {
			w->credit = base;
		}
	}
	w->last_ns = w->nheld > 0 ? t : 0;
}

/* One answer of worker wi: a (taken over; NULL if it did not decode,
 * with r its error). */
static void
answer_one(tr_pool *p, int wi, Trwire__PoolResult *a, int r)
{
	struct task    *t;
	tr_pool_result *res;
	char            text[TRI_POOL_TEXT_MAX];

	t = take_held(&p->w[wi], r == 0 ? a->id : 0);
	if (!t) {
		if (a) {
			trwire__pool_result__free_unpacked(a, NULL);
		}
		return;
	}
	p->st.tasks_done++;
	if (p->adaptive) {
		adapt(&p->w[wi], p->prefetch);
	}
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
on_answer(tr_pool *p, const tr_msg *m)
{
	Trwire__PoolResult *a  = NULL;
	int                 wi = worker_by_addr(p, tr_msg_sender(m));
	int                 r;

	if (wi < 0) {
		/* from a worker already taken for dead: its tasks were sent
		 * again or failed, so this answer is one too many */
		return;
	}
	r = tr_msg_unpack(
	    m, &trwire__pool_result__descriptor, (ProtobufCMessage **) &a);
	if (r < 0 || a->n_batch == 0) {
		answer_one(p, wi, a, r);
		return;
	}
	/* a batch's answers, each on its own */
	for (size_t i = 0;
	     i < a->n_batch && worker_by_addr(p, tr_msg_sender(m)) == wi; i++) {
		Trwire__PoolResult *sub = trwire__pool_result__unpack(
		    NULL, a->batch[i].len, a->batch[i].data);

		answer_one(p, wi, sub, sub ? 0 : TR_EBADFRAME);
	}
	trwire__pool_result__free_unpacked(a, NULL);
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
		tri_pool_fail_everything(p, TR_EDEAD, text);
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

bool
tri_pool_is_ours(const tr_msg *m, void *arg)
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
handle(tr_pool *p, const tr_msg *m)
{
	if (tr_msg_is_system(m)) {
		on_down(p, m);
	} else {
		on_answer(p, m);
	}
}

void
tri_pool_take(tr_pool *p, const tr_msg *m)
{
	if (p->pumping) {
		return; /* cannot happen: the actor's loop is not a callback */
	}
	p->pumping = true;
	handle(p, m);
	dispatch(p);
	p->pumping = false;
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
	r = tr_recv_match(&m, tri_pool_is_ours, p, timeout_ms);
	while (r == 0) {
		handle(p, m);
		tr_msg_destroy(&m);
		n++;
		/* the credit freed by all the answers at hand goes out at
		 * once, in batches, rather than a task per answer */
		if (n % 32 == 0) {
			dispatch(p);
		}
		if (n >= 256) {
			break;
		}
		r = tr_recv_match(&m, tri_pool_is_ours, p, 0);
	}
	dispatch(p);
	p->pumping = false;
	return n > 0 ? 0 : r;
}
