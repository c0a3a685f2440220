/* SPDX-License-Identifier: MIT */
/* The manager actor: a table of objects (dict, list, Namespace, Queue,
 * Lock, Event, Value) served over the mailbox, one request at a time.
 * Only authenticated clients are served: a HELLO with the key puts the
 * sender (its address, incarnation included) on the list and monitors it;
 * its DOWN takes it off, releases the locks it held (the next holder is
 * told TR_LOCK_OWNER_DIED) and drops its parked waits.  Waits (Queue get,
 * Lock acquire, Event wait) are parked requests, answered when the wait
 * ends or at their deadline (the loop's receive timeout is the nearest).
 * A client on this host may also call through a same-host channel
 * (chan-int.h, TRI_MGR_CHAN_OPEN): the same request bytes, served by the
 * same dispatch, answered in shared memory. */
#include "manager-int.h"

#include "chan-int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <protobuf-c/protobuf-c.h>

#define REPLY_MS 5000
/* An operation's result meaning "answered (or parked) already". */
#define DONE TRI_MGR_DONE
/* struct waiter and struct object: manager-int.h */

struct server {
	char     key[TR_MANAGER_KEY_LEN + 1];
	uint64_t base; /* ids are base + slot: never one of an
	                * earlier incarnation's */
	struct object **objs;
	size_t          nobjs, cap;
	struct waiter  *waiters; /* every parked wait, in arrival order */
	tr_addr        *clients;
	size_t          nclients, ccap;
	tr_addr         last; /* the last client found, a fast path */
	uint64_t        refused, nowait_failed;
	bool            stop;

	struct tri_mgr_errs errs; /* one-way writes' failures per client */
};

/* The same-host channels: one server per process, so file-wide, for
 * answer() and the sender of a request to find them. */
static struct tri_chan_srv *chans;

tr_addr
tri_mgr_sender(const tr_msg *m)
{
	return tri_chan_srv_sender(chans, m);
}

static tr_addr
sender(const tr_msg *m)
{
	return tri_mgr_sender(m);
}

/* ---- replies ------------------------------------------------------------ */

static void
answer(const tr_msg *req, int64_t result, const tr_mval *v, uint32_t kind)
{
	Trwire__MgrReply rep = TRWIRE__MGR_REPLY__INIT;
	uint8_t         *buf = NULL;
	size_t           len = 0;

	rep.result = result;
	rep.kind   = kind;
	if (v && tri_mval_pack(v, &buf, &len) < 0) {
		rep.result = -ENOMEM;
	}
	rep.value.data = buf;
	rep.value.len  = len;
	if (tri_chan_srv_reply(chans, req, &rep.base) != 0) {
		free(buf); /* answered through its channel */
		return;
	}
	/* a client that died meanwhile gets nothing: its DOWN follows */
	if (tr_reply_pb(req, &rep.base, REPLY_MS) == TR_ETOOBIG) {
		rep.result    = TR_ETOOBIG; /* say so rather than fall silent */
		rep.value.len = 0;
		(void) tr_reply_pb(req, &rep.base, REPLY_MS);
	}
	free(buf);
}

static void
finish(struct waiter *w, int64_t result, const tr_mval *v)
{
	answer(w->req, result, v, 0);
	tr_msg_destroy(&w->req);
	free(w);
}

/* ---- objects ------------------------------------------------------------ */

static struct object *
find(struct server *s, uint64_t id)
{
	uint64_t slot = id - s->base;

	return id > s->base && slot <= s->nobjs ? s->objs[slot - 1] : NULL;
}

static struct object *
find_name(struct server *s, const char *name)
{
	for (size_t i = 0; i < s->nobjs; i++) {
		if (s->objs[i] && s->objs[i]->name &&
		    strcmp(s->objs[i]->name, name) == 0) {
			return s->objs[i];
		}
	}
	return NULL;
}

static bool
name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > 63) {
		return false;
	}
	return strspn(name,
	           "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	           "0123456789._-") == n;
}

static bool
all_str_keys(const tr_mval *d)
{
	for (size_t i = 0; i < d->u.m.n; i++) {
		if (d->u.m.keys[i]->kind != TR_MVAL_STR) {
			return false;
		}
	}
	return true;
}

/* The first contents of a new object of kind from init (may be NULL). */
static int
first_contents(int kind, const ProtobufCBinaryData *init, tr_mval **ret)
{
	tr_mval *v = NULL;
	int      r;

	if (init->len > 0) {
		r = tri_mval_unpack(init->data, init->len, &v);
		if (r < 0) {
			return r;
		}
	}
	switch (kind) {
	case TR_MOBJ_DICT:
	case TR_MOBJ_NAMESPACE:
		if (!v) {
			v = tr_mval_dict();
		} else if (v->kind != TR_MVAL_DICT ||
		    (kind == TR_MOBJ_NAMESPACE && !all_str_keys(v))) {
			goto out_inval;
		}
		break;
	case TR_MOBJ_LIST:
	case TR_MOBJ_QUEUE:
		if (!v) {
			v = tr_mval_list();
		} else if (v->kind != TR_MVAL_LIST) {
			goto out_inval;
		}
		break;
	case TR_MOBJ_VALUE:
		v = v ? v : tr_mval_none();
		break;
	case TR_MOBJ_LOCK:
	case TR_MOBJ_EVENT:
		if (v) {
			goto out_inval;
		}
		break;
	default:
		goto out_inval;
	}
	if (!v && kind != TR_MOBJ_LOCK && kind != TR_MOBJ_EVENT) {
		return -ENOMEM;
	}
	*ret = v;
	return 0;
out_inval:
	tr_mval_destroy(&v);
	return -EINVAL;
}

/* The first state of a kind added later, from the request. */
static int
new_ext(struct object *o, const Trwire__MgrRequest *req)
{
	tr_mval *init = NULL;
	int      r    = 0;

	if (req->value.len > 0) {
		r = tri_mval_unpack(req->value.data, req->value.len, &init);
	}
	if (r == 0) {
		o->kind = (int) req->kind;
		r       = tri_mgr_ext_new(o, req, init);
	}
	tr_mval_destroy(&init);
	return r;
}

static int64_t
do_new(struct server *s, const Trwire__MgrRequest *req, uint32_t *ret_kind)
{
	struct object *o;
	bool           named = req->name && req->name[0];
	int            r;

	if (named && !name_ok(req->name)) {
		return -EINVAL;
	}
	if (named && (o = find_name(s, req->name))) {
		*ret_kind = (uint32_t) o->kind;
		return o->kind == (int) req->kind ? (int64_t) o->id
		                                  : TR_EBADTYPE;
	}
	if (s->nobjs == s->cap) {
		size_t          cap  = s->cap ? 2 * s->cap : 16;
		struct object **objs = realloc(s->objs, cap * sizeof(*objs));

		if (!objs) {
			return -ENOMEM;
		}
		s->objs = objs;
		s->cap  = cap;
	}
	o = calloc(1, sizeof(*o));
	if (!o || (named && !(o->name = strdup(req->name)))) {
		free(o);
		return -ENOMEM;
	}
	if (req->kind > TR_MOBJ_VALUE) { /* the kinds added later */
		r = new_ext(o, req);
	} else {
		r = first_contents((int) req->kind, &req->value, &o->v);
	}
	if (r == 0 && req->kind == TR_MOBJ_QUEUE) {
		o->maxsize = req->size;
		if (o->maxsize > 0 && o->v->u.l.n > o->maxsize) {
			tr_mval_destroy(&o->v);
			r = -EINVAL; /* more first items than room */
		}
	}
	if (r < 0) {
		free(o->name);
		free(o);
		return r;
	}
	o->kind             = (int) req->kind;
	o->id               = s->base + s->nobjs + 1;
	s->objs[s->nobjs++] = o;
	*ret_kind           = req->kind;
	return (int64_t) o->id;
}

static void
object_free(struct object *o)
{
	tri_mgr_ext_free(o);
	tr_mval_destroy(&o->v);
	free(o->name);
	free(o);
}

/* Answer (with err) and drop the waits on object id (or all, id 0). */
static void
drop_waits_on(struct server *s, uint64_t id, int64_t err)
{
	struct waiter **q = &s->waiters;

	while (*q) {
		struct waiter *w = *q;

		if (id == 0 || w->obj == id) {
			*q = w->next;
			finish(w, err, NULL);
		} else {
			q = &w->next;
		}
	}
}

static int64_t
do_drop(struct server *s, struct object *o)
{
	s->objs[o->id - s->base - 1] = NULL;
	drop_waits_on(s, o->id, TR_ENOTFOUND);
	object_free(o);
	return 0;
}

/* ---- waits -------------------------------------------------------------- */

static int
park(struct server *s, tr_msg **mp, const Trwire__MgrRequest *req)
{
	struct waiter  *w = calloc(1, sizeof(*w));
	struct waiter **q = &s->waiters;

	if (!w) {
		return -ENOMEM;
	}
	w->req      = *mp;
	*mp         = NULL;
	w->op       = req->op;
	w->obj      = req->obj;
	w->who      = sender(w->req);
	w->thread   = req->thread;
	w->deadline = tr_deadline(req->timeout_ms);
	w->poll     = req->timeout_ms == 0;
	while (*q) {
		q = &(*q)->next;
	}
	*q = w;
	return 0;
}

/* The first wait for op on object id, taken off the list. */
static struct waiter *
take_waiter(struct server *s, uint64_t id, uint32_t op)
{
	for (struct waiter **q = &s->waiters; *q; q = &(*q)->next) {
		struct waiter *w = *q;

		if (w->obj == id && w->op == op) {
			*q = w->next;
			return w;
		}
	}
	return NULL;
}

static tr_mval *
queue_take(struct object *o)
{
	tr_mval *l = o->v;
	tr_mval *v = l->u.l.items[o->head++];

	if (o->head == l->u.l.n) {
		l->u.l.n = o->head = 0;
	} else if (o->head > 1024 && o->head * 2 > l->u.l.n) {
		memmove(l->u.l.items, l->u.l.items + o->head,
		    (l->u.l.n - o->head) * sizeof(tr_mval *));
		l->u.l.n -= o->head;
		o->head = 0;
	}
	return v;
}

static int value_arg(const Trwire__MgrRequest *req, tr_mval **ret);

static bool
queue_full(const struct object *o)
{
	return o->maxsize > 0 && o->v->u.l.n - o->head >= o->maxsize;
}

/* Append the value of a parked put to o; answer it. */
static void
queue_unpark_put(struct object *o, struct waiter *w)
{
	Trwire__MgrRequest *req = NULL;
	tr_mval            *v   = NULL;
	int                 r;

	r = tr_msg_unpack(w->req, &trwire__mgr_request__descriptor,
	    (ProtobufCMessage **) &req);
	r = r < 0 ? r : value_arg(req, &v);
	r = r < 0 ? r : tr_mval_list_append(o->v, &v);
	tr_mval_destroy(&v);
	if (req) {
		protobuf_c_message_free_unpacked(&req->base, NULL);
	}
	finish(w, r, NULL);
}

/* Hand items to parked gets and room to parked puts while they last. */
static void
queue_serve(struct server *s, struct object *o)
{
	struct waiter *w;
	bool           more = true;

	while (more) {
		more = false;
		while (o->head < o->v->u.l.n &&
		    (w = take_waiter(s, o->id, TRI_MGR_QUEUE_GET))) {
			tr_mval *v = queue_take(o);

			finish(w, 0, v);
			tr_mval_destroy(&v);
		}
		while (!queue_full(o) &&
		    (w = take_waiter(s, o->id, TRI_MGR_QUEUE_PUT))) {
			queue_unpark_put(o, w);
			more = true;
		}
	}
}

static void
lock_grant_next(struct server *s, struct object *o)
{
	struct waiter *w;

	if (o->held || !(w = take_waiter(s, o->id, TRI_MGR_LOCK_ACQUIRE))) {
		return;
	}
	o->held         = true;
	o->owner        = w->who;
	o->owner_thread = w->thread;
	finish(w, o->owner_died ? TR_LOCK_OWNER_DIED : 0, NULL);
	o->owner_died = false;
}

static void
event_wake(struct server *s, struct object *o)
{
	struct waiter *w;

	while ((w = take_waiter(s, o->id, TRI_MGR_EVENT_WAIT))) {
		finish(w, 1, NULL);
	}
}

/* The answer to a wait whose time ran out. */
static int64_t
timed_out(struct server *s, const struct waiter *w)
{
	struct object *o = find(s, w->obj);

	if (w->op == TRI_MGR_EVENT_WAIT) {
		return o && o->flag; /* the flag then, as Python's wait() */
	}
	if (w->op == TRI_MGR_QUEUE_PUT) {
		return TR_EFULL; /* as tr_queue_put() */
	}
	return w->poll ? -EAGAIN : -ETIMEDOUT;
}

static void
expire(struct server *s)
{
	int64_t         now       = tr_now_ms();
	struct waiter **q         = &s->waiters;
	bool            reacquire = false;

	while (*q) {
		struct waiter *w = *q;

		if (w->deadline >= 0 && w->deadline <= now &&
		    w->op == TRI_MGR_COND_WAIT) {
			tri_msync_wait_expired(w); /* stays, for its lock */
			reacquire = true;
			q         = &w->next;
		} else if (w->deadline >= 0 && w->deadline <= now) {
			*q = w->next;
			finish(w, timed_out(s, w), NULL);
		} else {
			q = &w->next;
		}
	}
	if (reacquire) {
		tri_msync_grant_all(s);
	}
}

static int64_t
nearest(const struct server *s)
{
	int64_t best = -1;

	for (const struct waiter *w = s->waiters; w; w = w->next) {
		if (w->deadline >= 0 && (best < 0 || w->deadline < best)) {
			best = w->deadline;
		}
	}
	return best;
}

/* ---- clients ------------------------------------------------------------ */

static bool
is_client(struct server *s, tr_addr who)
{
	if (tr_addr_eq(s->last, who)) {
		return true;
	}
	for (size_t i = 0; i < s->nclients; i++) {
		if (tr_addr_eq(s->clients[i], who)) {
			s->last = who;
			return true;
		}
	}
	return false;
}

static int
add_client(struct server *s, tr_addr who)
{
	uint64_t ref;
	int      r;

	if (is_client(s, who)) {
		return 0;
	}
	if (s->nclients == s->ccap) {
		size_t   cap = s->ccap ? 2 * s->ccap : 16;
		tr_addr *c   = realloc(s->clients, cap * sizeof(*c));

		if (!c) {
			return -ENOMEM;
		}
		s->clients = c;
		s->ccap    = cap;
	}
	r = tr_monitor(who, &ref);
	if (r < 0) {
		return r;
	}
	s->clients[s->nclients++] = who;
	return 0;
}

static void
client_died(struct server *s, tr_addr who, bool normal)
{
	struct waiter **q = &s->waiters;

	for (size_t i = 0; i < s->nclients; i++) {
		if (tr_addr_eq(s->clients[i], who)) {
			s->clients[i] = s->clients[--s->nclients];
			break;
		}
	}
	if (tr_addr_eq(s->last, who)) {
		s->last = TR_ADDR_NULL;
	}
	tri_mgr_errs_forget(&s->errs, who);
	while (*q) {
		struct waiter *w = *q;

		if (tr_addr_eq(w->who, who)) {
			*q = w->next;
			tr_msg_destroy(&w->req);
			free(w);
		} else {
			q = &w->next;
		}
	}
	for (size_t i = 0; i < s->nobjs; i++) {
		struct object *o = s->objs[i];

		if (o && o->kind == TR_MOBJ_LOCK && o->held &&
		    tr_addr_eq(o->owner, who)) {
			o->held       = false;
			o->owner_died = true;
			lock_grant_next(s, o);
		} else if (o && o->ext) {
			tri_msync_client_died(s, o, who, normal);
		}
	}
}

static void
hello(struct server *s, const tr_msg *m, const Trwire__MgrRequest *req)
{
	char    text[TR_ADDR_STRLEN];
	tr_addr who = sender(m);
	int     r;

	if (req->auth.len != TR_MANAGER_KEY_LEN ||
	    !tri_mgr_key_eq(req->auth.data, s->key, req->auth.len)) {
		s->refused++;
		tr_log(TR_LOG_WARNING,
		    "manager: refused %s: wrong authentication key",
		    tr_addr_format(who, text, sizeof(text)));
		answer(m, TR_EAUTH, NULL, 0);
		return;
	}
	r = add_client(s, who);
	answer(m, r, NULL, 0);
}

/* ---- object operations -------------------------------------------------- */

static int
value_arg(const Trwire__MgrRequest *req, tr_mval **ret)
{
	return req->value.len > 0
	    ? tri_mval_unpack(req->value.data, req->value.len, ret)
	    : -EINVAL;
}

static int
key_arg(const struct object *o, const Trwire__MgrRequest *req, tr_mval **ret)
{
	int r = req->key.len > 0
	    ? tri_mval_unpack(req->key.data, req->key.len, ret)
	    : -EINVAL;

	if (r == 0 &&
	    (!tri_mval_is_key(*ret) ||
	        (o->kind == TR_MOBJ_NAMESPACE &&
	            (*ret)->kind != TR_MVAL_STR))) {
		tr_mval_destroy(ret);
		return -EINVAL;
	}
	return r;
}

/* A Python index into n items, or -1 when out of range. */
static int64_t
py_index(int64_t i, size_t n)
{
	if (i < 0) {
		i += (int64_t) n;
	}
	return i >= 0 && (uint64_t) i < n ? i : -1;
}

static int64_t
clamp(int64_t i, size_t n)
{
	if (i < 0) {
		i += (int64_t) n;
	}
	if (i < 0) {
		return 0;
	}
	return (uint64_t) i > n ? (int64_t) n : i;
}

static int64_t
dict_op(struct server *s, struct object *o, const tr_msg *m,
    const Trwire__MgrRequest *req)
{
	tr_mval *k = NULL, *v = NULL;
	ssize_t  i;
	int64_t  r;

	(void) s;
	if (req->op == TRI_MGR_DICT_KEYS) {
		tr_mval *keys = tr_mval_list();

		for (size_t j = 0; keys && j < o->v->u.m.n; j++) {
			tr_mval *c = tr_mval_copy(o->v->u.m.keys[j]);

			if (tr_mval_list_append(keys, &c) < 0) {
				tr_mval_destroy(&c);
				tr_mval_destroy(&keys);
			}
		}
		if (!keys) {
			return -ENOMEM;
		}
		answer(m, 0, keys, 0);
		tr_mval_destroy(&keys);
		return DONE;
	}
	if (req->op == TRI_MGR_DICT_UPDATE) {
		r = value_arg(req, &v);
		if (r == 0 &&
		    (v->kind != TR_MVAL_DICT ||
		        (o->kind == TR_MOBJ_NAMESPACE && !all_str_keys(v)))) {
			r = -EINVAL;
		}
		while (r == 0 && v->u.m.n > 0) {
			k              = v->u.m.keys[0];
			v->u.m.keys[0] = NULL;
			tr_mval *val   = tri_mval_dict_take(v, 0);

			r = tr_mval_dict_set(o->v, &k, &val);
			tr_mval_destroy(&k);
			tr_mval_destroy(&val);
		}
		tr_mval_destroy(&v);
		return r;
	}
	r = key_arg(o, req, &k);
	if (r < 0) {
		return r;
	}
	i = tri_mval_dict_find(o->v, k);
	switch (req->op) {
	case TRI_MGR_DICT_GET:
		if (i >= 0) {
			answer(m, 0, o->v->u.m.vals[i], 0);
			r = DONE;
		} else {
			r = TR_ENOTFOUND;
		}
		break;
	case TRI_MGR_DICT_SET:
	case TRI_MGR_DICT_SET_NOWAIT:
		r = value_arg(req, &v);
		if (r == 0) {
			r = tr_mval_dict_set(o->v, &k, &v);
		}
		break;
	case TRI_MGR_DICT_CONTAINS:
		r = i >= 0;
		break;
	case TRI_MGR_DICT_DEL:
	case TRI_MGR_DICT_POP:
		if (i < 0) {
			r = TR_ENOTFOUND;
			break;
		}
		/* the key k was matched, so the stored key goes; keep k */
		v = tri_mval_dict_take(o->v, (size_t) i);
		if (req->op == TRI_MGR_DICT_POP) {
			answer(m, 0, v, 0);
			r = DONE;
		}
		break;
	}
	tr_mval_destroy(&k);
	tr_mval_destroy(&v);
	return r;
}

static int64_t
list_extend(struct object *o, const Trwire__MgrRequest *req)
{
	tr_mval *v = NULL;
	int      r = value_arg(req, &v);

	if (r == 0 && v->kind != TR_MVAL_LIST) {
		r = -EINVAL;
	}
	if (r == 0) {
		r = tri_mval_list_reserve(o->v, v->u.l.n);
	}
	for (size_t i = 0; r == 0 && i < v->u.l.n; i++) {
		r = tr_mval_list_append(o->v, &v->u.l.items[i]);
	}
	tr_mval_destroy(&v);
	return r;
}

static int64_t
list_op(struct object *o, const tr_msg *m, const Trwire__MgrRequest *req)
{
	tr_mval *l = o->v, *v = NULL;
	int64_t  i = py_index(req->index, l->u.l.n);
	int      r = 0;

	switch (req->op) {
	case TRI_MGR_LIST_APPEND:
	case TRI_MGR_LIST_APPEND_NOWAIT:
		r = value_arg(req, &v);
		if (r == 0) {
			r = tr_mval_list_append(l, &v);
		}
		break;
	case TRI_MGR_LIST_EXTEND:
		return list_extend(o, req);
	case TRI_MGR_LIST_GET:
		if (i < 0) {
			return TR_ENOTFOUND;
		}
		answer(m, 0, l->u.l.items[i], 0);
		return DONE;
	case TRI_MGR_LIST_SET:
		r = i < 0 ? TR_ENOTFOUND : value_arg(req, &v);
		if (r == 0) {
			if (v->depth >= TR_MVAL_MAX_DEPTH) { /* as append */
				r = -EINVAL;
				break;
			}
			tr_mval_destroy(&l->u.l.items[i]);
			l->u.l.items[i] = v;
			v               = NULL;
			if (l->u.l.items[i]->depth + 1 > l->depth) {
				l->depth = l->u.l.items[i]->depth + 1;
			}
		}
		break;
	case TRI_MGR_LIST_POP:
		if (i < 0) {
			return TR_ENOTFOUND;
		}
		v = l->u.l.items[i];
		memmove(&l->u.l.items[i], &l->u.l.items[i + 1],
		    (l->u.l.n - (size_t) i - 1) * sizeof(tr_mval *));
		l->u.l.n--;
		answer(m, 0, v, 0);
		tr_mval_destroy(&v);
		return DONE;
	case TRI_MGR_LIST_SLICE: {
		int64_t a = clamp(req->index, l->u.l.n);
		int64_t b = clamp(req->stop, l->u.l.n);
		/* a borrowed view: items are not copied to be sent */
		tr_mval view = { .kind = TR_MVAL_LIST, .depth = l->depth };

		view.u.l.items = l->u.l.items + a;
		view.u.l.n     = b > a ? (size_t) (b - a) : 0;
		answer(m, 0, &view, 0);
		return DONE;
	}
	case TRI_MGR_LIST_REVERSE:
		for (size_t x = 0, y = l->u.l.n; x + 1 < y; x++, y--) {
			tr_mval *t          = l->u.l.items[x];
			l->u.l.items[x]     = l->u.l.items[y - 1];
			l->u.l.items[y - 1] = t;
		}
		break;
	}
	tr_mval_destroy(&v);
	return r;
}

static int64_t
lock_acquire(struct server *s, struct object *o, tr_msg **mp,
    const Trwire__MgrRequest *req)
{
	tr_addr who = sender(*mp);
	int     r;

	if (o->held && tr_addr_eq(o->owner, who) &&
	    o->owner_thread == req->thread) {
		return -EDEADLK;
	}
	if (!o->held) {
		o->held         = true;
		o->owner        = who;
		o->owner_thread = req->thread;
		r               = o->owner_died ? TR_LOCK_OWNER_DIED : 0;
		o->owner_died   = false;
		return r;
	}
	if (req->timeout_ms == 0) {
		return -EAGAIN;
	}
	r = park(s, mp, req);
	return r < 0 ? r : DONE;
}

static int64_t
value_add(struct object *o, const tr_msg *m, const Trwire__MgrRequest *req)
{
	tr_mval *d = NULL;
	tr_mval *v = o->v;
	int      r = value_arg(req, &d);

	if (r < 0) {
		return r;
	}
	if (v->kind == TR_MVAL_INT && d->kind == TR_MVAL_INT) {
		if (__builtin_add_overflow(v->u.i, d->u.i, &v->u.i)) {
			r = -EOVERFLOW;
		}
	} else if (v->kind == TR_MVAL_DOUBLE &&
	    (d->kind == TR_MVAL_DOUBLE || d->kind == TR_MVAL_INT)) {
		v->u.d += d->kind == TR_MVAL_INT ? (double) d->u.i : d->u.d;
	} else {
		r = TR_EBADTYPE;
	}
	tr_mval_destroy(&d);
	if (r < 0) {
		return r;
	}
	answer(m, 0, v, 0);
	return DONE;
}

/* Which kinds op applies to, as a bit set of 1 << kind. */
static unsigned
kinds_of(uint32_t op)
{
	const unsigned dict = 1u << TR_MOBJ_DICT | 1u << TR_MOBJ_NAMESPACE;

	switch (op) {
	case TRI_MGR_DROP:
	case TRI_MGR_GET_ALL:
		return ~0u;
	case TRI_MGR_LEN:
		return dict | 1u << TR_MOBJ_LIST | 1u << TR_MOBJ_QUEUE |
		    1u << TR_MOBJ_ARRAY;
	case TRI_MGR_QUEUE_PUT:
	case TRI_MGR_QUEUE_GET:
	case TRI_MGR_QUEUE_PUT_NOWAIT:
		return 1u << TR_MOBJ_QUEUE;
	case TRI_MGR_LOCK_ACQUIRE:
	case TRI_MGR_LOCK_RELEASE:
	case TRI_MGR_LOCK_RELEASE_NOWAIT:
		return 1u << TR_MOBJ_LOCK;
	case TRI_MGR_EVENT_SET:
	case TRI_MGR_EVENT_CLEAR:
	case TRI_MGR_EVENT_IS_SET:
	case TRI_MGR_EVENT_WAIT:
		return 1u << TR_MOBJ_EVENT;
	case TRI_MGR_VALUE_GET:
	case TRI_MGR_VALUE_SET:
	case TRI_MGR_VALUE_ADD:
		return 1u << TR_MOBJ_VALUE;
	default:
		if (op >= TRI_MGR_DICT_GET && op <= TRI_MGR_DICT_POP) {
			return dict;
		}
		if (op >= TRI_MGR_LIST_APPEND && op <= TRI_MGR_LIST_REVERSE) {
			return 1u << TR_MOBJ_LIST;
		}
		return tri_mgr_ext_kinds(op);
	}
}

static int64_t
get_all(struct object *o, const tr_msg *m)
{
	tr_mval view = { .kind = TR_MVAL_LIST };
	tr_mval flag = { .kind = TR_MVAL_BOOL };

	switch (o->kind) {
	case TR_MOBJ_QUEUE:
		view.depth     = o->v->depth;
		view.u.l.items = o->v->u.l.items + o->head;
		view.u.l.n     = o->v->u.l.n - o->head;
		answer(m, 0, &view, 0);
		return DONE;
	case TR_MOBJ_LOCK:
	case TR_MOBJ_EVENT:
		flag.u.b = o->kind == TR_MOBJ_LOCK ? o->held : o->flag;
		answer(m, 0, &flag, 0);
		return DONE;
	default:
		if (o->ext) {
			tr_mval *v = tri_mgr_ext_get_all(o);

			if (!v) {
				return -ENOMEM;
			}
			answer(m, 0, v, 0);
			tr_mval_destroy(&v);
			return DONE;
		}
		answer(m, 0, o->v, 0);
		return DONE;
	}
}

/* Serve op on o.  Returns the result to answer, or DONE. */
static int64_t
object_op(struct server *s, struct object *o, tr_msg **mp,
    const Trwire__MgrRequest *req)
{
	tr_mval *v = NULL;
	int64_t  r;

	switch (req->op) {
	case TRI_MGR_DROP:
		return do_drop(s, o);
	case TRI_MGR_GET_ALL:
		return get_all(o, *mp);
	case TRI_MGR_LEN:
		if (o->kind == TR_MOBJ_QUEUE) {
			return (int64_t) (o->v->u.l.n - o->head);
		}
		if (o->ext) {
			return tri_mgr_ext_len(o);
		}
		return (int64_t) tr_mval_len(o->v);
	case TRI_MGR_QUEUE_PUT:
	case TRI_MGR_QUEUE_PUT_NOWAIT:
		if (queue_full(o)) {
			if (req->op == TRI_MGR_QUEUE_PUT_NOWAIT ||
			    req->timeout_ms == 0) {
				return TR_EFULL;
			}
			r = park(s, mp, req);
			return r < 0 ? r : DONE;
		}
		r = value_arg(req, &v);
		if (r == 0) {
			r = tr_mval_list_append(o->v, &v);
		}
		tr_mval_destroy(&v);
		if (r == 0) {
			if (req->op == TRI_MGR_QUEUE_PUT) {
				answer(*mp, 0, NULL, 0);
			}
			queue_serve(s, o);
			return DONE;
		}
		return r;
	case TRI_MGR_QUEUE_GET:
		if (o->head < o->v->u.l.n) {
			v = queue_take(o);
			answer(*mp, 0, v, 0);
			tr_mval_destroy(&v);
			queue_serve(s, o); /* room for a parked put */
			return DONE;
		}
		if (req->timeout_ms == 0) {
			return -EAGAIN;
		}
		r = park(s, mp, req);
		return r < 0 ? r : DONE;
	case TRI_MGR_LOCK_ACQUIRE:
		r = lock_acquire(s, o, mp, req);
		if (r == TR_LOCK_OWNER_DIED) {
			answer(*mp, r, NULL, 0);
			return DONE;
		}
		return r;
	case TRI_MGR_LOCK_RELEASE:
	case TRI_MGR_LOCK_RELEASE_NOWAIT:
		if (!o->held || !tr_addr_eq(o->owner, sender(*mp)) ||
		    o->owner_thread != req->thread) {
			return -EPERM;
		}
		o->held = false;
		if (req->op == TRI_MGR_LOCK_RELEASE) {
			answer(*mp, 0, NULL, 0);
		}
		lock_grant_next(s, o);
		return DONE;
	case TRI_MGR_EVENT_SET:
		o->flag = true;
		event_wake(s, o);
		return 0;
	case TRI_MGR_EVENT_CLEAR:
		o->flag = false;
		return 0;
	case TRI_MGR_EVENT_IS_SET:
	case TRI_MGR_EVENT_WAIT:
		if (o->flag || req->op == TRI_MGR_EVENT_IS_SET ||
		    req->timeout_ms == 0) {
			answer(*mp, o->flag, NULL, 0);
			return DONE;
		}
		r = park(s, mp, req);
		return r < 0 ? r : DONE;
	case TRI_MGR_VALUE_GET:
		answer(*mp, 0, o->v, 0);
		return DONE;
	case TRI_MGR_VALUE_SET:
		r = value_arg(req, &v);
		if (r == 0) {
			tr_mval_destroy(&o->v);
			o->v = v;
		}
		return r;
	case TRI_MGR_VALUE_ADD:
		return value_add(o, *mp, req);
	default:
		if (req->op >= TRI_MGR_RLOCK_ACQUIRE &&
		    req->op <= TRI_MGR_COND_NOTIFY) {
			return tri_msync_op(s, o, mp, req);
		}
		if (req->op >= TRI_MGR_ARRAY_GET) {
			return tri_marray_op(o, *mp, req);
		}
		if (req->op <= TRI_MGR_DICT_POP) {
			return dict_op(s, o, *mp, req);
		}
		return list_op(o, *mp, req);
	}
}

/* ---- the loop ----------------------------------------------------------- */

static bool
is_nowait(uint32_t op)
{
	return op == TRI_MGR_DICT_SET_NOWAIT ||
	    op == TRI_MGR_LIST_APPEND_NOWAIT ||
	    op == TRI_MGR_QUEUE_PUT_NOWAIT ||
	    op == TRI_MGR_LOCK_RELEASE_NOWAIT || op == TRI_MGR_STOP ||
	    op == TRI_MGR_RLOCK_RELEASE_NOWAIT ||
	    op == TRI_MGR_SEM_RELEASE_NOWAIT || op == TRI_MGR_CHAN_CLOSE;
}

/* What NEW and OPEN say of a Queue (its maxsize) or an Array (its type
 * code and length, a list), for its proxy to make it again after a
 * restart; NULL for the other kinds. */
static tr_mval *
made_as(struct server *s, const Trwire__MgrRequest *req, int64_t r)
{
	struct object *o;
	tr_mval       *l, *t, *n;

	if ((req->op != TRI_MGR_NEW && req->op != TRI_MGR_OPEN) || r < 0 ||
	    !(o = find(s, (uint64_t) r))) {
		return NULL;
	}
	if (o->kind == TR_MOBJ_QUEUE) {
		return tr_mval_int((int64_t) o->maxsize);
	}
	if (o->kind != TR_MOBJ_ARRAY || !(l = tr_mval_list())) {
		return NULL;
	}
	t = tr_mval_int(o->ext->typecode);
	n = tr_mval_int((int64_t) o->ext->len);
	if (tr_mval_list_append(l, &t) < 0 || tr_mval_list_append(l, &n) < 0) {
		tr_mval_destroy(&l);
	}
	tr_mval_destroy(&t);
	tr_mval_destroy(&n);
	return l;
}

static void
serve(struct server *s, tr_msg **mp, const Trwire__MgrRequest *req)
{
	struct object *o    = NULL;
	uint32_t       kind = 0;
	tr_mval       *made = NULL;
	int64_t        r;

	switch (req->op) {
	case TRI_MGR_NEW:
		r = do_new(s, req, &kind);
		break;
	case TRI_MGR_OPEN:
		o    = req->name && req->name[0] ? find_name(s, req->name)
		                                 : find(s, req->obj);
		kind = o ? (uint32_t) o->kind : 0;
		r    = o ? (int64_t) o->id : TR_ENOTFOUND;
		break;
	case TRI_MGR_STOP:
		if (sender(*mp).pid == (uint32_t) tr_self_parent_pid()) {
			s->stop = true;
		}
		return;
	case TRI_MGR_ERRORS: {
		uint64_t n   = 0;
		tr_mval *cnt = NULL;

		r = tri_mgr_errs_take(&s->errs, sender(*mp), &n);
		if (!(cnt = tr_mval_int((int64_t) n))) {
			r = -ENOMEM;
		}
		answer(*mp, r, cnt, 0);
		tr_mval_destroy(&cnt);
		return;
	}
	case TRI_MGR_CHAN_OPEN: /* answered with the memfd's number */
		r = tri_chan_srv_open(chans, sender(*mp));
		break;
	case TRI_MGR_CHAN_CLOSE:
		if (req->index >= 0 && req->index <= INT32_MAX) {
			tri_chan_srv_close(
			    chans, sender(*mp), (int) req->index);
		}
		return;
	default:
		o = find(s, req->obj);
		if (!o) {
			r = TR_ENOTFOUND;
		} else if (!(kinds_of(req->op) & 1u << o->kind)) {
			r = -EOPNOTSUPP;
		} else if (req->timeout_ms < TR_TIMEOUT_INFINITE) {
			r = -EINVAL;
		} else {
			r = object_op(s, o, mp, req);
			if (r == DONE) {
				return; /* answered or parked */
			}
		}
		break;
	}
	if (is_nowait(req->op)) {
		if (r < 0) {
			s->nowait_failed++;
			tr_log(TR_LOG_DEBUG,
			    "manager: a nowait write failed: %s",
			    tr_strerror((int) r));
			tri_mgr_errs_note(&s->errs, sender(*mp), r);
		}
		return;
	}
	made = made_as(s, req, r);
	answer(*mp, r, made, kind);
	tr_mval_destroy(&made);
}

static void dispatch(struct server *s, tr_msg **mp);

/* Serve m, taken from a channel, and let it go. */
static void
dispatch_chan(struct server *s, tr_msg *m)
{
	dispatch(s, &m);
	if (m) { /* not parked */
		tri_chan_srv_forget(chans, m);
		tr_msg_destroy(&m);
	}
}

static void
dispatch(struct server *s, tr_msg **mp)
{
	Trwire__MgrRequest *req = NULL;
	tr_down             d;
	tr_msg             *cm;

	if (tr_msg_is_system(*mp)) {
		if (tr_msg_down(*mp, &d) == 0) {
			/* what it published on its channels before it died */
			while (tri_chan_srv_take(chans, d.who, &cm) == 1) {
				dispatch_chan(s, cm);
			}
			tri_chan_srv_close(chans, d.who, -1);
			client_died(s, d.who, d.exit_class == TR_EXIT_NORMAL);
		}
		return;
	}
	if (tr_msg_unpack(*mp, &trwire__mgr_request__descriptor,
	        (ProtobufCMessage **) &req) < 0) {
		answer(*mp, TR_EBADFRAME, NULL, 0); /* the sender learns why */
		return;
	}
	if (req->op == TRI_MGR_HELLO) {
		hello(s, *mp, req);
	} else if (!is_client(s, sender(*mp))) {
		s->refused++;
		tr_log(TR_LOG_WARNING,
		    "manager: refused a request from a "
		    "client that did not authenticate");
		if (!is_nowait(req->op)) {
			answer(*mp, TR_EAUTH, NULL, 0);
		}
	} else {
		serve(s, mp, req);
	}
	protobuf_c_message_free_unpacked(&req->base, NULL);
}

static int
parse_args(struct server *s, const char *args, size_t len, char *name, size_t n,
    bool *global)
{
	const char *p, *sp;

	if (len < TR_MANAGER_KEY_LEN + 2 || args[TR_MANAGER_KEY_LEN] != ' ') {
		return -EINVAL;
	}
	memcpy(s->key, args, TR_MANAGER_KEY_LEN);
	s->key[TR_MANAGER_KEY_LEN] = '\0';
	if (!tri_mgr_key_valid(s->key)) {
		return -EINVAL;
	}
	/* "<name>" or "<name> g" (also registered cluster-wide) */
	p       = args + TR_MANAGER_KEY_LEN + 1;
	sp      = strchr(p, ' ');
	*global = sp && strcmp(sp, " g") == 0;
	if ((sp && !*global) ||
	    (size_t) (sp ? sp - p : (ptrdiff_t) strlen(p)) >= n || p == sp ||
	    !*p) {
		return -EINVAL;
	}
	snprintf(
	    name, n, "%.*s", (int) (sp ? sp - p : (ptrdiff_t) strlen(p)), p);
	return 0;
}

static void
server_free(struct server *s)
{
	drop_waits_on(s, 0, TR_EDEAD);
	for (size_t i = 0; i < s->nobjs; i++) {
		if (s->objs[i]) {
			object_free(s->objs[i]);
		}
	}
	free(s->objs);
	free(s->clients);
	tri_mgr_errs_free(&s->errs);
}

int
tri_manager_server(const void *args, size_t len)
{
	struct server s = { 0 };
	char          name[64];
	bool          global = false;
	uint32_t      rnd    = 0;
	int           r;

	r = parse_args(&s, args, len, name, sizeof(name), &global);
	if (r < 0) {
		return tr_fail(r, "bad arguments (\"<key> <name> [g]\")");
	}
	if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t) sizeof(rnd)) {
		rnd = (uint32_t) tr_self_pid();
	}
	s.base = (uint64_t) rnd << 24;
	if (strcmp(name, "-") != 0 && (r = tr_register(name)) < 0) {
		return tr_fail(r, "cannot register %s", name);
	}
	r = tr_self_bind();
	if (r < 0) {
		return tr_fail(r, "cannot bind the mailbox");
	}
	/* the node agent monitors us and frees the name when we end */
	if (global && strcmp(name, "-") != 0 &&
	    (r = tr_node_register_global(name, tr_self(), TR_MANAGER_CALL_MS)) <
	        0) {
		return tr_fail(r, "cannot register %s on every node%s", name,
		    r == TR_EBADADDR ? " (this run has no node)" : "");
	}
	r = tri_chan_srv_new(&chans, trwire__mgr_request__descriptor.name);
	if (r < 0) {
		return tr_fail(r, "cannot make the channels' wake-up pipe");
	}
	tr_ready();
	while (!s.stop) {
		tr_msg *m    = NULL;
		bool    idle = true;

		/* one batch from the channels, one message from the mailbox */
		while (tri_chan_srv_take(chans, TR_ADDR_NULL, &m) == 1) {
			dispatch_chan(&s, m);
			m    = NULL;
			idle = false;
			if (!tri_chan_srv_pending(chans)) {
				break;
			}
		}
		if (tri_chan_srv_mail_due(chans, !idle) &&
		    tr_recv(&m, 0) == 0) {
			dispatch(&s, &m);
			tr_msg_destroy(&m);
			idle = false;
		}
		if (idle) {
			(void) tri_chan_srv_wait(
			    chans, tr_deadline_left(nearest(&s)));
		}
		expire(&s);
	}
	server_free(&s);
	tri_chan_srv_free(&chans);
	return 0;
}

/* ---- for the other server files (manager-int.h) ------------------------ */

void
tri_mgr_answer(
    const tr_msg *req, int64_t result, const tr_mval *v, uint32_t kind)
{
	answer(req, result, v, kind);
}

void
tri_mgr_finish(struct waiter *w, int64_t result, const tr_mval *v)
{
	finish(w, result, v);
}

int
tri_mgr_park(struct server *s, tr_msg **mp, const Trwire__MgrRequest *req)
{
	return park(s, mp, req);
}

struct waiter **
tri_mgr_waiters(struct server *s)
{
	return &s->waiters;
}

struct object *
tri_mgr_find(struct server *s, uint64_t id)
{
	return find(s, id);
}

size_t
tri_mgr_nobjs(struct server *s)
{
	return s->nobjs;
}

struct object *
tri_mgr_obj_at(struct server *s, size_t i)
{
	return s->objs[i];
}

int
tri_mgr_value_arg(const Trwire__MgrRequest *req, tr_mval **ret)
{
	return value_arg(req, ret);
}
