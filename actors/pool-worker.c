/* SPDX-License-Identifier: MIT */
/* The pool's worker actor ("troupe.pool.worker") and the registry of task
 * functions and initializers it runs by name.  A worker runs its
 * initializer, reports running, then answers PoolTask messages one at a
 * time, in order, until it has run maxtasks of them (then it exits with
 * code 0 after its last answer was taken in) or is stopped. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <protobuf-c/protobuf-c.h>

#include "pool-int.h"

/* ---- registry ------------------------------------------------------------
 */

#define REG_MAX   256
#define NAME_MAX_ 64

enum { KIND_FN, KIND_INIT };

struct reg {
	char name[NAME_MAX_];
	int  kind;
	union {
		tr_pool_fn      fn;
		tr_pool_init_fn init;
	} u;
};

static struct reg reg[REG_MAX];
static size_t     nreg;

static struct reg *
reg_find(const char *name, int kind)
{
	for (size_t i = 0; i < nreg; i++) {
		if (reg[i].kind == kind && strcmp(reg[i].name, name) == 0) {
			return &reg[i];
		}
	}
	return NULL;
}

static int
reg_add(const char *name, int kind, tr_pool_fn fn, tr_pool_init_fn init)
{
	struct reg *e;

	if (!name || !name[0] || strlen(name) >= NAME_MAX_ || (!fn && !init)) {
		return -EINVAL;
	}
	e = reg_find(name, kind);
	if (e) {
		return (kind == KIND_FN ? e->u.fn == fn : e->u.init == init)
		    ? 0
		    : TR_EEXISTS;
	}
	if (nreg == REG_MAX) {
		return -ENOMEM;
	}
	e = &reg[nreg++];
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->kind = kind;
	if (kind == KIND_FN) {
		e->u.fn = fn;
	} else {
		e->u.init = init;
	}
	return 0;
}

int
tr_pool_fn_register(const char *name, tr_pool_fn fn)
{
	return reg_add(name, KIND_FN, fn, NULL);
}

int
tr_pool_initializer_register(const char *name, tr_pool_init_fn fn)
{
	return reg_add(name, KIND_INIT, NULL, fn);
}

tr_pool_fn
tri_pool_fn_find(const char *name)
{
	struct reg *e = reg_find(name, KIND_FN);

	return e ? e->u.fn : NULL;
}

tr_pool_init_fn
tri_pool_init_find(const char *name)
{
	struct reg *e = reg_find(name, KIND_INIT);

	return e ? e->u.init : NULL;
}

/* ---- tr_pool_out -----------------------------------------------------------
 * One growing buffer holds the results of a whole chunk; an out is the
 * current item's tail of it. */

struct tr_pool_out {
	uint8_t *buf;
	size_t   len, cap;
	size_t   start; /* where the current item's result begins */
	char     text[TRI_POOL_TEXT_MAX];
};

static int
out_reserve(tr_pool_out *o, size_t more)
{
	size_t   cap;
	uint8_t *nb;

	if (o->len + more <= o->cap) {
		return 0;
	}
	cap = o->cap ? o->cap : 256;
	while (cap < o->len + more) {
		cap *= 2;
	}
	nb = realloc(o->buf, cap);
	if (!nb) {
		return -ENOMEM;
	}
	o->buf = nb;
	o->cap = cap;
	return 0;
}

int
tr_pool_out_set(tr_pool_out *o, const void *data, size_t len)
{
	if (!o || (!data && len)) {
		return -EINVAL;
	}
	o->len = o->start;
	if (out_reserve(o, len) < 0) {
		return -ENOMEM;
	}
	if (len) {
		memcpy(o->buf + o->len, data, len);
	}
	o->len += len;
	return 0;
}

int
tr_pool_out_set_pb(tr_pool_out *o, const struct ProtobufCMessage *pb)
{
	size_t len;

	if (!o || !pb) {
		return -EINVAL;
	}
	len    = protobuf_c_message_get_packed_size(pb);
	o->len = o->start;
	if (out_reserve(o, len) < 0) {
		return -ENOMEM;
	}
	o->len += protobuf_c_message_pack(pb, o->buf + o->len);
	return 0;
}

int
tr_pool_out_fail(tr_pool_out *o, int err, const char *fmt, ...)
{
	va_list ap;

	if (o && fmt) {
		va_start(ap, fmt);
		vsnprintf(o->text, sizeof(o->text), fmt, ap);
		va_end(ap);
	}
	return err;
}

/* ---- the worker ------------------------------------------------------------
 */

/* Where a task's answer goes: sent at once, or (a batch) packed and
 * kept until the batch's answer is sent. */
struct sink {
	const tr_msg        *req;
	bool                 batching;
	ProtobufCBinaryData *out; /* the batch's packed answers */
	size_t               n, cap;
};

static int
answer(struct sink *k, Trwire__PoolResult *res)
{
	tr_msg *m = NULL;
	int     r;

	if (k->batching) {
		size_t   len = trwire__pool_result__get_packed_size(res);
		uint8_t *buf;

		if (k->n == k->cap) {
			size_t               cap = k->cap ? 2 * k->cap : 16;
			ProtobufCBinaryData *o =
			    realloc(k->out, cap * sizeof(*o));

			if (!o) {
				return -ENOMEM;
			}
			k->out = o;
			k->cap = cap;
		}
		buf = malloc(len ? len : 1);
		if (!buf) {
			return -ENOMEM;
		}
		k->out[k->n].len  = trwire__pool_result__pack(res, buf);
		k->out[k->n].data = buf;
		k->n++;
		return 0;
	}
	r = tr_msg_new_pb(&m, &res->base);
	if (r == 0) {
		tr_msg_set_correlation(m, tr_msg_correlation(k->req));
		r = tr_send(tr_msg_sender(k->req), &m, TR_TIMEOUT_INFINITE);
		tr_msg_destroy(&m);
	}
	return r;
}

static int
answer_error(
    struct sink *k, uint64_t id, int err, uint32_t failed, const char *text)
{
	Trwire__PoolResult res = TRWIRE__POOL_RESULT__INIT;

	res.id         = id;
	res.error      = err;
	res.failed     = failed;
	res.error_text = (char *) text;
	return answer(k, &res);
}

/* Run task t (taken over) and answer it.  Returns the send's error (the
 * owner is gone: -ESRCH) or 0. */
static int
run_task(struct sink *k, Trwire__PoolTask *t, tr_pool_out *o, uint32_t **lensp,
    size_t *lcap)
{
	Trwire__PoolResult res = TRWIRE__POOL_RESULT__INIT;
	tr_pool_fn         fn;
	size_t             off  = 0, n;
	size_t             same = SIZE_MAX; /* the results' one size, if so */
	char               text[TRI_POOL_TEXT_MAX];
	int                r;

	fn = tri_pool_fn_find(t->fn);
	if (!fn) {
		snprintf(text, sizeof(text),
		    "no task function registered as \"%.64s\"", t->fn);
		r = answer_error(k, t->id, TR_ENOACTOR, 0, text);
		trwire__pool_task__free_unpacked(t, NULL);
		return r;
	}
	/* items of one size (count of fixed_len), or each its own (lens) */
	n = t->count ? t->count : t->n_lens;
	if (t->count &&
	    (t->n_lens || (uint64_t) t->count * t->fixed_len != t->data.len)) {
		r = answer_error(k, t->id, TR_EBADFRAME, 0,
		    "the task's items do not fill its data");
		trwire__pool_task__free_unpacked(t, NULL);
		return r;
	}
	if (*lcap < n) {
		uint32_t *nl = realloc(*lensp, n * sizeof(**lensp));

		if (!nl) {
			r = answer_error(k, t->id, -ENOMEM, 0, "out of memory");
			trwire__pool_task__free_unpacked(t, NULL);
			return r;
		}
		*lensp = nl;
		*lcap  = n;
	}
	o->len = 0;
	for (size_t i = 0; i < n; i++) {
		size_t ilen = t->count ? t->fixed_len : t->lens[i];
		size_t rlen;

		if (ilen > t->data.len - off) {
			r = answer_error(k, t->id, TR_EBADFRAME, (uint32_t) i,
			    "the task's items overrun its data");
			trwire__pool_task__free_unpacked(t, NULL);
			return r;
		}
		o->start   = o->len;
		o->text[0] = '\0';
		r          = fn(t->data.data + off, ilen, o);
		if (r < 0) {
			if (!o->text[0]) {
				snprintf(o->text, sizeof(o->text),
				    "%.64s failed on item %zu: %s", t->fn, i,
				    tr_strerror(r));
			}
			r = answer_error(k, t->id, r, (uint32_t) i, o->text);
			trwire__pool_task__free_unpacked(t, NULL);
			return r;
		}
		rlen        = o->len - o->start;
		(*lensp)[i] = (uint32_t) rlen;
		same        = i == 0 || same == rlen ? rlen : SIZE_MAX - 1;
		off += ilen;
	}
	res.id        = t->id;
	res.data.data = o->buf;
	res.data.len  = o->len;
	if (n > 0 && same < UINT32_MAX) {
		/* results of one size travel without their lengths */
		res.fixed_len = (uint32_t) same;
		res.count     = (uint32_t) n;
	} else {
		res.lens   = *lensp;
		res.n_lens = n;
	}
	r = answer(k, &res);
	if (r == TR_ETOOBIG) {
		snprintf(text, sizeof(text),
		    "the results of %.64s (%zu bytes) are over the mailbox's "
		    "maximum message size",
		    t->fn, o->len);
		r = answer_error(k, t->id, TR_ETOOBIG, 0, text);
	}
	trwire__pool_task__free_unpacked(t, NULL);
	return r;
}

/* A batch: its tasks run in turn, their answers sent as one message
 * (one by one if that is too big).  Returns the send's error, or
 * TR_EBADFRAME if a task of it does not decode (its id is unknown, so
 * the worker ends: its DOWN settles the batch's tasks). */
static int
run_batch(const tr_msg *req, const Trwire__PoolTask *b, tr_pool_out *o,
    uint32_t **lensp, size_t *lcap, uint64_t *ran)
{
	struct sink        k   = { req, true, NULL, 0, 0 };
	Trwire__PoolResult res = TRWIRE__POOL_RESULT__INIT;
	int                r   = 0;

	for (size_t i = 0; r == 0 && i < b->n_batch; i++) {
		Trwire__PoolTask *t = trwire__pool_task__unpack(
		    NULL, b->batch[i].len, b->batch[i].data);

		if (!t || t->n_batch) {
			if (t) {
				trwire__pool_task__free_unpacked(t, NULL);
			}
			r = TR_EBADFRAME;
			break;
		}
		r = run_task(&k, t, o, lensp, lcap);
		(*ran)++;
	}
	if (r == 0) {
		struct sink now = { req, false, NULL, 0, 0 };

		res.batch   = k.out;
		res.n_batch = k.n;
		r           = answer(&now, &res);
		for (size_t i = 0; r == TR_ETOOBIG && i < k.n; i++) {
			tr_msg *m = NULL;

			r = tr_msg_new_bytes(&m, k.out[i].data, k.out[i].len);
			if (r == 0) {
				(void) tr_msg_set_type(m, "trwire.PoolResult");
				tr_msg_set_correlation(
				    m, tr_msg_correlation(req));
				r = tr_send(tr_msg_sender(req), &m,
				    TR_TIMEOUT_INFINITE);
				tr_msg_destroy(&m);
			}
			if (r == TR_ETOOBIG) { /* this one is: fail its task */
				Trwire__PoolResult *a =
				    trwire__pool_result__unpack(
				        NULL, k.out[i].len, k.out[i].data);

				r = answer_error(&now, a ? a->id : 0,
				    TR_ETOOBIG, 0,
				    "a result is over the mailbox's maximum "
				    "message size");
				if (a) {
					trwire__pool_result__free_unpacked(
					    a, NULL);
				}
			}
		}
	}
	for (size_t i = 0; i < k.n; i++) {
		free(k.out[i].data);
	}
	free(k.out);
	return r;
}

/* One PoolTask message: a task or a batch.  *ran counts the tasks. */
static int
run_message(const tr_msg *req, tr_pool_out *o, uint32_t **lensp, size_t *lcap,
    uint64_t *ran)
{
	struct sink       k = { req, false, NULL, 0, 0 };
	Trwire__PoolTask *t = NULL;
	int               r;

	r = tr_msg_unpack(
	    req, &trwire__pool_task__descriptor, (ProtobufCMessage **) &t);
	if (r < 0) {
		(*ran)++;
		return answer_error(
		    &k, 0, r, 0, "the task could not be decoded");
	}
	if (t->n_batch) {
		r = run_batch(req, t, o, lensp, lcap, ran);
		trwire__pool_task__free_unpacked(t, NULL);
		return r;
	}
	(*ran)++;
	return run_task(&k, t, o, lensp, lcap);
}

static int
worker_actor(const void *args, size_t len)
{
	Trwire__PoolWorkerArgs *a;
	tr_pool_out             o    = { 0 };
	uint32_t               *lens = NULL;
	size_t                  lcap = 0;
	uint64_t                done = 0;
	int                     r;

	a = trwire__pool_worker_args__unpack(NULL, len, args);
	if (!a) {
		return tr_fail(TR_EBADFRAME, "pool worker: bad arguments");
	}
	if (a->initializer && a->initializer[0]) {
		tr_pool_init_fn init = tri_pool_init_find(a->initializer);

		if (!init) {
			r = tr_fail(TR_ENOACTOR,
			    "no pool initializer registered as \"%.64s\"",
			    a->initializer);
			trwire__pool_worker_args__free_unpacked(a, NULL);
			return r;
		}
		r = init(a->initargs.data, a->initargs.len);
		if (r < 0) {
			trwire__pool_worker_args__free_unpacked(a, NULL);
			return r;
		}
	}
	r = tr_self_bind();
	if (r < 0) {
		trwire__pool_worker_args__free_unpacked(a, NULL);
		return r;
	}
	(void) tr_ready();
	for (;;) {
		tr_msg *m = NULL;

		r = tr_recv(&m, TR_TIMEOUT_INFINITE);
		if (r == -EINTR) {
			continue;
		}
		if (r < 0) {
			break;
		}
		if (strcmp(tr_msg_type(m), "trwire.PoolTask") != 0) {
			/* DOWN/EXIT or a stray message: not ours */
			tr_msg_destroy(&m);
			continue;
		}
		r = run_message(m, &o, &lens, &lcap, &done);
		tr_msg_destroy(&m);
		if (r < 0) {
			break; /* the owner is gone, or a batch was bad */
		}
		if (a->maxtasks && done >= a->maxtasks) {
			break; /* recycled: the pool starts another */
		}
	}
	free(o.buf);
	free(lens);
	trwire__pool_worker_args__free_unpacked(a, NULL);
	return r == TR_EBADFRAME ? 1 : 0; /* abnormal: its tasks are settled */
}

__attribute__((constructor)) static void
register_pool_worker(void)
{
	(void) tr_actor_register(
	    TRI_POOL_WORKER_ACTOR, worker_actor, TR_ACTOR_MANUAL_READY);
	(void) tr_msg_type_register(&trwire__pool_task__descriptor);
	(void) tr_msg_type_register(&trwire__pool_result__descriptor);
}
