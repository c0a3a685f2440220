/* SPDX-License-Identifier: MIT */
/* The pool actor (TR_POOL_ACTOR): a tr_pool run as an actor of its own,
 * so that a pool can be a child of a user's supervisor.  It registers its
 * name, starts the pool (whose supervisor, and so every worker, is this
 * actor's subtree), reports running, then takes every message from one
 * tr_recv() loop: the pool's own (answers of its workers, DOWNs) go to
 * the dispatcher, trwire.PoolCall requests become map_async calls whose
 * callbacks answer the caller with a trwire.PoolResult.  The request
 * message itself is kept until then: it knows where the answer goes.
 *
 * If the pool's supervisor dies, the calls in hand fail with TR_EDEAD and
 * the actor exits with code 1 (abnormal: its supervisor restarts it).
 * SIGTERM terminates the pool (calls in hand fail with TR_ESHUTDOWN, the
 * workers are stopped and reaped) and ends the actor with exit code 0,
 * which delivers those answers (a death by the signal would not). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <protobuf-c/protobuf-c.h>

#include "pool-int.h"

/* Longest wait for mail before looking at stop_signal again. */
#define STOP_TICK_MS 500

static volatile sig_atomic_t stop_signal;

static void
on_stop_signal(int sig)
{
	stop_signal = sig;
}

/* Answer req with a PoolResult of error (0: r's results) and free req. */
static void
answer(tr_msg **reqp, tr_pool_result *r, int error, const char *text)
{
	Trwire__PoolResult a    = TRWIRE__POOL_RESULT__INIT;
	uint8_t           *data = NULL;
	uint32_t          *lens = NULL;
	size_t             n = 0, total = 0;
	int                rc;

	if (r && !error) {
		n = tr_pool_result_count(r);
		for (size_t i = 0; i < n; i++) {
			size_t len = 0;

			(void) tr_pool_result_data(r, i, &len);
			total += len;
		}
		data = malloc(total ? total : 1);
		lens = calloc(n ? n : 1, sizeof(*lens));
		if (!data || !lens) {
			error = -ENOMEM;
			text  = "pool actor: out of memory for the answer";
		}
	}
	if (!error) {
		size_t off = 0;

		for (size_t i = 0; i < n; i++) {
			size_t      len = 0;
			const void *d   = tr_pool_result_data(r, i, &len);

			memcpy(data + off, d, len);
			lens[i] = (uint32_t) len;
			off += len;
		}
		a.data.data = data;
		a.data.len  = total;
		a.lens      = lens;
		a.n_lens    = n;
	} else {
		int64_t idx = r ? tr_pool_result_failed_index(r) : -1;

		a.error      = error;
		a.error_text = (char *) (text ? text : "");
		a.failed     = idx >= 0 && idx < TRI_POOL_INDEX_UNKNOWN
		        ? (uint32_t) idx
		        : TRI_POOL_INDEX_UNKNOWN;
	}
	rc = tr_reply_pb(*reqp, &a.base, TRI_POOL_REPLY_MS);
	if (rc == TR_ETOOBIG) {
		Trwire__PoolResult e = TRWIRE__POOL_RESULT__INIT;

		e.error      = TR_ETOOBIG;
		e.error_text = "the results exceed the largest message";
		e.failed     = TRI_POOL_INDEX_UNKNOWN;
		rc           = tr_reply_pb(*reqp, &e.base, TRI_POOL_REPLY_MS);
	}
	if (rc < 0) { /* the caller died or gave up */
		tr_log(TR_LOG_DEBUG, "pool actor: answer to %u lost: %s",
		    (unsigned) tr_msg_sender(*reqp).pid, tr_strerror(rc));
	}
	free(data);
	free(lens);
	tr_msg_destroy(reqp);
}

static void
on_result(tr_pool_result *r, void *arg)
{
	tr_msg *req = arg;

	answer(&req, r, tr_pool_result_error(r), tr_pool_result_error_text(r));
}

/* Check a call's items (lengths that add up) and make them items. */
static int
call_items(const Trwire__PoolCall *c, tr_pool_item **ret)
{
	tr_pool_item *items;
	size_t        off = 0;

	if (!c->fn || !c->fn[0] || strlen(c->fn) >= 64) {
		return -EINVAL;
	}
	items = calloc(c->n_lens ? c->n_lens : 1, sizeof(*items));
	if (!items) {
		return -ENOMEM;
	}
	for (size_t i = 0; i < c->n_lens; i++) {
		if (c->lens[i] > c->data.len - off) {
			free(items);
			return TR_EBADFRAME;
		}
		items[i].data = c->data.data + off;
		items[i].len  = c->lens[i];
		off += c->lens[i];
	}
	if (off != c->data.len) {
		free(items);
		return TR_EBADFRAME;
	}
	*ret = items;
	return 0;
}

/* One request; *mp is consumed (kept by the pool until answered). */
static void
serve(tr_pool *p, tr_msg **mp)
{
	Trwire__PoolCall *c     = NULL;
	tr_pool_item     *items = NULL;
	tr_pool_cb        cb    = { on_result, on_result, NULL };
	int               r;

	if (tr_msg_is_system(*mp) || tr_msg_correlation(*mp) == 0) {
		return; /* a DOWN nobody asked for, or a plain send */
	}
	if (strcmp(tr_msg_type(*mp), "trwire.PoolCall") != 0) {
		tr_log(TR_LOG_DEBUG, "pool actor: a \"%s\" from %u is no call",
		    tr_msg_type(*mp), (unsigned) tr_msg_sender(*mp).pid);
		answer(mp, NULL, TR_EBADTYPE, "the pool actor takes PoolCall");
		return;
	}
	r = tr_msg_unpack(
	    *mp, &trwire__pool_call__descriptor, (ProtobufCMessage **) &c);
	if (r == 0) {
		r = call_items(c, &items);
	}
	if (r == 0) {
		cb.arg = *mp;
		r      = tr_pool_map_async(p, c->fn, items, c->n_lens,
		         (size_t) c->chunksize, &cb, NULL);
		if (r == 0) {
			*mp = NULL; /* the callback answers and frees it */
		}
	}
	if (r < 0) {
		answer(mp, NULL, r, "the pool actor refused the call");
	}
	free(items);
	if (c) {
		trwire__pool_call__free_unpacked(c, NULL);
	}
}

static int
start_pool(const Trwire__PoolServerArgs *a, tr_pool **ret)
{
	tr_pool_opts o = { 0 };

	o.processes = a->processes;
	o.initializer =
	    a->initializer && a->initializer[0] ? a->initializer : NULL;
	o.initargs         = a->initargs.len ? a->initargs.data : NULL;
	o.initargs_len     = a->initargs.len;
	o.maxtasksperchild = (int) a->maxtasks;
	o.start_method     = a->start_method;
	o.retries          = a->retries;
	o.prefetch         = a->prefetch;
	o.start_timeout_ms = a->start_timeout_ms;
	if (a->n_nodes > TR_POOL_NODES_MAX) {
		return -EINVAL;
	}
	if (a->n_nodes) {
		/* NULL-terminated: room for TR_POOL_NODES_MAX + 1 */
		const char *nodes[TR_POOL_NODES_MAX + 1] = { NULL };

		for (size_t i = 0; i < a->n_nodes; i++) {
			nodes[i] = a->nodes[i];
		}
		o.nodes = nodes;
		return tr_pool_new(ret, &o);
	}
	return tr_pool_new(ret, &o);
}

int
tri_pool_actor(const void *args, size_t len)
{
	Trwire__PoolServerArgs *a;
	tr_pool                *p = NULL;
	struct sigaction        sa;
	int                     r;

	a = trwire__pool_server_args__unpack(NULL, len, args);
	if (!a) {
		return tr_fail(TR_EBADFRAME, "pool actor: bad arguments");
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal; /* no SA_RESTART: tr_recv -EINTR */
	sigemptyset(&sa.sa_mask);
	(void) sigaction(SIGTERM, &sa, NULL);
	r = a->name && a->name[0] ? tr_register(a->name) : 0;
	if (r < 0) {
		r = tr_fail(
		    r, "cannot register the pool as \"%.64s\"", a->name);
	} else {
		r = start_pool(a, &p);
		if (r < 0) {
			r = tr_fail(r, "pool actor: the pool did not start");
		}
	}
	trwire__pool_server_args__free_unpacked(a, NULL);
	if (r < 0) {
		return r;
	}
	(void) tr_ready();
	while (!stop_signal) {
		tr_msg *m = NULL;

		/* a SIGTERM that lands just before the wait is seen at the
		 * next tick at the latest */
		r = tr_recv(&m, STOP_TICK_MS);
		if (r == -EINTR || r == -ETIMEDOUT) {
			continue;
		}
		if (r < 0) {
			break;
		}
		if (tri_pool_is_ours(m, p)) {
			tri_pool_take(p, m);
		} else {
			serve(p, &m);
		}
		tr_msg_destroy(&m);
		if (p->broken) {
			break;
		}
	}
	r = p->broken;
	tr_pool_destroy(&p); /* fails what is in hand: answered */
	if (stop_signal) {
		/* exit code 0, not death by the signal: the exit handshake
		 * delivers the answers just sent (shutdown and normal ends
		 * are treated alike by a supervisor) */
		tr_log(TR_LOG_DEBUG, "pool actor: stopped by signal %d",
		    (int) stop_signal);
		return 0;
	}
	if (r < 0) {
		tr_log(TR_LOG_ERROR, "pool actor: its pool's supervisor died");
		return 1;
	}
	return r;
}
