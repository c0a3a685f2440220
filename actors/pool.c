/* SPDX-License-Identifier: MIT */
/* tr_pool: the handle -- its life (new, close, terminate, join) and
 * submitting work.  The workers are temporary instances of a
 * simple_one_for_one supervisor; the dispatcher (pool-dispatch.c) gives
 * them the tasks, and on a worker's DOWN sends its tasks again (up to
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
		/* its tasks go back to the queue, for
		 * tri_pool_fail_everything() */
		while (w->nheld > 0) {
			tri_pool_push_front(p, w->held[--w->nheld]);
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
	while (tr_recv_match(&m, tri_pool_is_ours, p, 0) == 0) {
		tr_msg_destroy(&m);
	}
	p->state = TRI_POOL_STOPPED;
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
	for (int i = 0; o.nodes && o.nodes[i]; i++) {
		if (i == TR_POOL_NODES_MAX ||
		    strlen(o.nodes[i]) >= TR_NODE_NAME_MAX) {
			return -EINVAL;
		}
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
	p->adaptive = o.prefetch == 0;
	p->retries  = o.retries;
	p->maxtasks = o.maxtasksperchild;
	p->next_id  = 1;
	for (int i = 0; o.nodes && o.nodes[i]; i++) {
		snprintf(p->nodes[i], sizeof(p->nodes[i]), "%s", o.nodes[i]);
		p->nnodes++;
	}
	p->w = calloc((size_t) p->nproc, sizeof(*p->w));
	r    = p->w ? tr_self_bind() : -ENOMEM;
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
		r = tri_pool_worker_start(p, p->nnodes ? i % p->nnodes : 0);
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
	if (p->state == TRI_POOL_RUNNING) {
		p->state = TRI_POOL_CLOSED;
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
	if (p->state == TRI_POOL_STOPPED) {
		return 0;
	}
	p->state = TRI_POOL_STOPPED;
	/* the workers go first, so that no more answers come */
	stop_tree(p, false, 0);
	tri_pool_fail_everything(p, TR_ESHUTDOWN, "pool terminated");
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
	if (p->state == TRI_POOL_RUNNING) {
		return -EBUSY;
	}
	if (p->state == TRI_POOL_STOPPED) {
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
can_submit(const tr_pool *p, const char *fn, bool iter)
{
	if (!p || !fn || !fn[0] || strlen(fn) >= 64) {
		return -EINVAL;
	}
	if (p->owner != getpid()) {
		return -ECHILD;
	}
	/* an imap iterator made before close still feeds its input */
	if (p->state != TRI_POOL_RUNNING &&
	    !(iter && p->state == TRI_POOL_CLOSED)) {
		return TR_ESHUTDOWN;
	}
	return p->broken;
}

/* Items: items[], or (base not NULL) n of size bytes each at base. */
static int
submit(tr_pool *p, const char *fn, const tr_pool_item *items,
    const uint8_t *base, size_t size, size_t n, size_t chunksize,
    const tr_pool_cb *cb, tr_pool_result **ret, bool iter)
{
	size_t          nchunks, first = 0;
	tr_pool_result *res;
	struct task    *q = NULL, *qt = NULL;
	int             r = can_submit(p, fn, iter);

	if (r < 0) {
		return r;
	}
	if (!items && !base && n) {
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
		struct task *t = base
		    ? tri_pool_task_new_fixed(
		          res, c, first, base + first * size, size, k)
		    : tri_pool_task_new(res, c, first, items + first, k);

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
		tri_pool_push_back(p, t);
		p->unfinished++;
	}
	if (!p->pumping) {
		(void) tri_pool_pump(p, 0);
	}
	return 0;
}

int
tri_pool_submit(tr_pool *p, const char *fn, const tr_pool_item *items, size_t n,
    size_t chunksize, const tr_pool_cb *cb, tr_pool_result **ret, bool iter)
{
	return submit(p, fn, items, NULL, 0, n, chunksize, cb, ret, iter);
}

int
tri_pool_submit_fixed(tr_pool *p, const char *fn, const void *base, size_t size,
    size_t n, size_t chunksize, const tr_pool_cb *cb, tr_pool_result **ret)
{
	if (!base && n) {
		return -EINVAL;
	}
	return submit(p, fn, NULL, base, size, n, chunksize, cb, ret, false);
}

int
tr_pool_apply_async(tr_pool *p, const char *fn, const void *arg, size_t len,
    const tr_pool_cb *cb, tr_pool_result **ret)
{
	tr_pool_item it = { arg, len };

	if (!arg && len) {
		return -EINVAL;
	}
	return tri_pool_submit(p, fn, &it, 1, 1, cb, ret, false);
}

int
tr_pool_map_async(tr_pool *p, const char *fn, const tr_pool_item *items,
    size_t n, size_t chunksize, const tr_pool_cb *cb, tr_pool_result **ret)
{
	return tri_pool_submit(p, fn, items, n, chunksize, cb, ret, false);
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
