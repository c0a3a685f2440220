/* SPDX-License-Identifier: MIT */
/* The manager's client side: starting the actor, connecting (HELLO with
 * the key), and the one call path every proxy call goes through, which
 * follows a restarted manager by its name (manager.h, "Restarts"). */
#include "troupe/manager.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <protobuf-c/protobuf-c.h>

#include "chan-int.h"
#include "manager-int.h"

#define START_MS  10000
#define MARGIN_MS 10000 /* the manager answers a wait by its deadline */
#define STOP_MS   5000
#define RETRIES   3

struct tr_manager {
	pid_t       owner; /* process that made the handle */
	tr_process *proc;  /* the creator's: the actor; NULL when connected */
	tr_addr     server;
	bool        named; /* where is a name: follow restarts */
	uint64_t    epoch; /* bumped at each reconnection */
	int         call_ms;
	char        where[TR_ADDR_STRLEN + 64];
	char        key[TR_MANAGER_KEY_LEN + 1];
	struct tri_chan chan; /* same-host, asked for at the first call */
};

struct tr_mobj {
	tr_manager *m;
	uint64_t    id;
	uint64_t    epoch; /* m->epoch when id was learnt */
	int         kind;
	char       *name; /* NULL: anonymous */
	uint32_t    held; /* lock: acquisitions through this proxy */
	uint64_t    held_tid;
	char        ref[72];
	char        typecode; /* to make a named Array again: NEW's */
	uint64_t    size;     /* Queue maxsize, Array length */
};

__attribute__((constructor)) static void
register_manager_actor(void)
{
	(void) tr_actor_register(
	    TR_MANAGER_ACTOR, tri_manager_server, TR_ACTOR_MANUAL_READY);
	(void) tr_msg_type_register(&trwire__mgr_request__descriptor);
	(void) tr_msg_type_register(&trwire__mgr_reply__descriptor);
}

/* ---- keys --------------------------------------------------------------- */

bool
tri_mgr_key_valid(const char *key)
{
	return key && strlen(key) == TR_MANAGER_KEY_LEN &&
	    strspn(key, "0123456789abcdefABCDEF") == TR_MANAGER_KEY_LEN;
}

bool
tri_mgr_key_eq(const void *a, const void *b, size_t alen)
{
	const volatile unsigned char *x = a, *y = b;
	unsigned char                 d = alen != TR_MANAGER_KEY_LEN;

	for (size_t i = 0; i < TR_MANAGER_KEY_LEN && i < alen; i++) {
		d |= x[i] ^ y[i];
	}
	return d == 0;
}

int
tr_manager_authkey_new(char *buf, size_t n)
{
	unsigned char raw[TR_MANAGER_KEY_LEN / 2];

	tr_assert_return(buf && n > TR_MANAGER_KEY_LEN, -EINVAL);
	if (getrandom(raw, sizeof(raw), 0) != (ssize_t) sizeof(raw)) {
		return -errno;
	}
	for (size_t i = 0; i < sizeof(raw); i++) {
		snprintf(buf + 2 * i, 3, "%02x", raw[i]);
	}
	return 0;
}

/* ---- calls -------------------------------------------------------------- */

static uint64_t
thread_id(void)
{
	static __thread uint64_t tid;

	if (!tid) {
		tid = (uint64_t) syscall(SYS_gettid);
	}
	return tid;
}

/* One request, one answer: *ret is the caller's on success. */
static int
raw_call(tr_addr to, const Trwire__MgrRequest *req, int timeout_ms,
    Trwire__MgrReply **ret)
{
	tr_msg *m = NULL, *rep = NULL;
	int     r;

	r = tr_msg_new_pb(&m, &req->base);
	if (r < 0) {
		return r;
	}
	r = tr_call(to, &m, &rep, timeout_ms);
	tr_msg_destroy(&m);
	if (r < 0) {
		return r;
	}
	r = tr_msg_unpack(
	    rep, &trwire__mgr_reply__descriptor, (ProtobufCMessage **) ret);
	tr_msg_destroy(&rep);
	return r;
}

/* ---- the same-host channel ----------------------------------------------
 * Requests go through the channel (chan-int.h, tri_chan_send()) when the
 * server is on this host, else by mail as before. */

/* The channel's ask(): a channel from the server, by mail. */
static int
chan_ask(void *arg)
{
	tr_manager        *m   = arg;
	Trwire__MgrRequest req = TRWIRE__MGR_REQUEST__INIT;
	Trwire__MgrReply  *rep = NULL;
	int                r;

	req.op = TRI_MGR_CHAN_OPEN;
	r      = raw_call(m->server, &req, m->call_ms, &rep);
	if (r < 0) {
		return r;
	}
	r = (int) rep->result;
	protobuf_c_message_free_unpacked(&rep->base, NULL);
	return r;
}

/* The channel forgotten (at a new server, at the end), the server told
 * if tell. */
static void
chan_drop(tr_manager *m, bool tell)
{
	Trwire__MgrRequest req = TRWIRE__MGR_REQUEST__INIT;

	req.op    = TRI_MGR_CHAN_CLOSE;
	req.index = m->chan.fd;
	tri_chan_drop(&m->chan, tell ? &req.base : NULL, m->call_ms);
}

static int
send_call(tr_manager *m, const Trwire__MgrRequest *req, int timeout_ms,
    Trwire__MgrReply **ret)
{
	return tri_chan_send(&m->chan, m->server, &req->base,
	    &trwire__mgr_reply__descriptor, (ProtobufCMessage **) ret,
	    timeout_ms);
}

static int
send_cast(tr_manager *m, const Trwire__MgrRequest *req)
{
	return tri_chan_send(
	    &m->chan, m->server, &req->base, NULL, NULL, m->call_ms);
}

static int
hello(tr_manager *m, tr_addr to)
{
	Trwire__MgrRequest req = TRWIRE__MGR_REQUEST__INIT;
	Trwire__MgrReply  *rep = NULL;
	int                r;

	req.op        = TRI_MGR_HELLO;
	req.auth.data = (uint8_t *) m->key;
	req.auth.len  = TR_MANAGER_KEY_LEN;
	r             = raw_call(to, &req, m->call_ms, &rep);
	if (r < 0) {
		return r;
	}
	r = (int) rep->result;
	protobuf_c_message_free_unpacked(&rep->base, NULL);
	return r;
}

static void
nap_ms(int ms)
{
	struct timespec ts = { 0, (long) ms * 1000000L };

	(void) nanosleep(&ts, NULL);
}

/* Find the manager again by its name, after it died: the name registry
 * has no notification, so look every 10 ms, until the deadline or
 * TR_MANAGER_RESTART_MS, whichever comes first. */
/* The manager registered as `name`: in this run, else (when this run has
 * a node) anywhere in the cluster (tr_manager_opts.global). */
static int
resolve(const char *name, tr_addr *ret, int timeout_ms)
{
	int r = tr_whereis(name, ret);

	if (r == TR_ENOTFOUND) {
		int g = tr_node_whereis_global(name, ret, timeout_ms);

		r = g == TR_EBADADDR ? r : g;
	}
	return r;
}

static int
reconnect(tr_manager *m, int64_t deadline)
{
	int64_t until = tr_deadline(TR_MANAGER_RESTART_MS);
	tr_addr a;
	int     r;

	if (deadline >= 0 && deadline < until) {
		until = deadline;
	}
	for (;;) {
		r = resolve(m->where, &a, m->call_ms);
		if (r == 0 && !tr_addr_eq(a, m->server) &&
		    tr_addr_is_alive(a)) {
			r = hello(m, a);
			if (r == 0) {
				chan_drop(m, false);
				m->server = a;
				m->epoch++;
				return 0;
			}
			if (r == TR_EAUTH) {
				return r;
			}
		}
		if (tr_now_ms() >= until) {
			return TR_EDEAD;
		}
		nap_ms(10);
	}
}

static bool
is_idempotent(uint32_t op)
{
	switch (op) {
	case TRI_MGR_OPEN:
	case TRI_MGR_NEW: /* made again, empty, if lost: the same thing */
	case TRI_MGR_DROP:
	case TRI_MGR_GET_ALL:
	case TRI_MGR_LEN:
	case TRI_MGR_DICT_GET:
	case TRI_MGR_DICT_SET:
	case TRI_MGR_DICT_DEL:
	case TRI_MGR_DICT_CONTAINS:
	case TRI_MGR_DICT_KEYS:
	case TRI_MGR_LIST_GET:
	case TRI_MGR_LIST_SET:
	case TRI_MGR_LIST_SLICE:
	case TRI_MGR_EVENT_SET:
	case TRI_MGR_EVENT_CLEAR:
	case TRI_MGR_EVENT_IS_SET:
	case TRI_MGR_EVENT_WAIT:
	case TRI_MGR_VALUE_GET:
	case TRI_MGR_VALUE_SET:
	case TRI_MGR_ARRAY_GET:
	case TRI_MGR_ARRAY_SET:
	case TRI_MGR_ARRAY_SLICE:
	case TRI_MGR_ARRAY_SET_SLICE:
	case TRI_MGR_ARRAY_READ:
	case TRI_MGR_ARRAY_WRITE:
		return true;
	default:
		return false;
	}
}

/* How long to wait for the answer to a request with timeout_ms. */
static int
answer_wait(const tr_manager *m, const Trwire__MgrRequest *req)
{
	bool waits = req->op == TRI_MGR_QUEUE_GET ||
	    req->op == TRI_MGR_LOCK_ACQUIRE || req->op == TRI_MGR_EVENT_WAIT ||
	    req->op == TRI_MGR_QUEUE_PUT || req->op == TRI_MGR_RLOCK_ACQUIRE ||
	    req->op == TRI_MGR_SEM_ACQUIRE;

	if (req->op == TRI_MGR_COND_WAIT) {
		/* the lock comes back after the wait, without limit (its
		 * holder's death ends that, as the manager's does) */
		return TR_TIMEOUT_INFINITE;
	}
	if (!waits) {
		return m->call_ms;
	}
	return req->timeout_ms < 0 || req->timeout_ms > INT32_MAX - MARGIN_MS
	    ? TR_TIMEOUT_INFINITE
	    : req->timeout_ms + MARGIN_MS;
}

static int obj_refresh(tr_mobj *o);

/* Send req (for object o, if any) and wait for the answer, following a
 * restarted manager as manager.h says. */
static int
call(tr_manager *m, tr_mobj *o, Trwire__MgrRequest *req, Trwire__MgrReply **ret)
{
	int64_t deadline = tr_deadline(answer_wait(m, req));
	int     r;

	if (m->owner != tr_self_pid()) {
		return -ECHILD;
	}
	for (int attempt = 0;; attempt++) {
		if (o) {
			r = obj_refresh(o);
			if (r < 0) {
				return r;
			}
			req->obj = o->id;
		}
		r = send_call(m, req, answer_wait(m, req), ret);
		if ((r != -ESRCH && r != TR_EDEAD) || !m->named ||
		    attempt == RETRIES) {
			return r;
		}
		if (reconnect(m, deadline) < 0) {
			return r;
		}
		if (r == TR_EDEAD && !is_idempotent(req->op)) {
			return TR_EMGRRESTART; /* it may have been applied */
		}
	}
}

/* A request that needs no answer; resent to a restarted manager only if
 * it was never delivered. */
static int
cast(tr_mobj *o, Trwire__MgrRequest *req)
{
	tr_manager *m = o->m;
	int         r;

	if (m->owner != tr_self_pid()) {
		return -ECHILD;
	}
	for (int attempt = 0;; attempt++) {
		r = obj_refresh(o);
		if (r < 0) {
			return r;
		}
		req->obj = o->id;
		r        = send_cast(m, req);
		if (r != -ESRCH || !m->named || attempt == RETRIES ||
		    reconnect(m, tr_deadline(m->call_ms)) < 0) {
			return r;
		}
	}
}

/* ---- the manager -------------------------------------------------------- */

static int
manager_alloc(tr_manager **ret, const char *key)
{
	tr_manager *m = calloc(1, sizeof(*m));

	if (!m) {
		return -ENOMEM;
	}
	m->owner   = getpid();
	m->call_ms = TR_MANAGER_CALL_MS;
	tri_chan_init(&m->chan);
	m->chan.ask = chan_ask;
	m->chan.arg = m;
	memcpy(m->key, key, TR_MANAGER_KEY_LEN);
	*ret = m;
	return 0;
}

static int
start_actor(tr_manager *m, const tr_manager_opts *opts)
{
	char args[TR_MANAGER_ARGS_MAX];
	int  r;

	tr_assert_return(!opts->global || opts->name, -EINVAL);
	snprintf(args, sizeof(args), "%s %s%s", m->key,
	    opts->name ? opts->name : "-", opts->global ? " g" : "");
	r = tr_process_new(&m->proc, TR_MANAGER_ACTOR, args, strlen(args));
	if (r < 0) {
		return r;
	}
	/* ended at exit like Python's manager, not joined for ever */
	(void) tr_process_set_daemon(m->proc, true);
	(void) tr_process_set_eager_mailbox(m->proc, true);
	(void) tr_process_set_name(m->proc, TR_MANAGER_ACTOR);
	r = tr_process_set_start_method(m->proc, opts->start_method);
	if (r < 0) {
		return r;
	}
	r = tr_process_start(m->proc,
	    opts->start_timeout_ms ? opts->start_timeout_ms : START_MS);
	if (r == TR_ESTARTFAIL && tr_process_start_error(m->proc)) {
		r = tr_process_start_error(m->proc);
	}
	return r < 0 ? r : tr_process_addr(m->proc, &m->server);
}

int
tr_manager_start(tr_manager **ret, const tr_manager_opts *opts)
{
	static const tr_manager_opts none = { 0 };
	char                         key[TR_MANAGER_KEY_LEN + 1];
	tr_manager                  *m;
	int                          r;

	opts = opts ? opts : &none;
	tr_assert_return(ret, -EINVAL);
	tr_assert_return(
	    !opts->authkey || tri_mgr_key_valid(opts->authkey), -EINVAL);
	tr_assert_return(!opts->name || strlen(opts->name) < 64, -EINVAL);
	if (opts->authkey) {
		memcpy(key, opts->authkey, sizeof(key));
	} else if ((r = tr_manager_authkey_new(key, sizeof(key))) < 0) {
		return r;
	}
	r = manager_alloc(&m, key);
	if (r < 0) {
		return r;
	}
	r = start_actor(m, opts);
	if (r == 0) {
		r = hello(m, m->server);
	}
	if (r < 0) {
		tr_manager_destroy(&m);
		return r;
	}
	m->named = opts->name != NULL;
	if (m->named) {
		snprintf(m->where, sizeof(m->where), "%s", opts->name);
	} else {
		tr_addr_format(m->server, m->where, sizeof(m->where));
	}
	*ret = m;
	return 0;
}

int
tr_manager_connect(tr_manager **ret, const char *where, const char *authkey)
{
	tr_manager *m;
	tr_addr     a;
	bool        named = false;
	int         r;

	tr_assert_return(ret && where && strlen(where) < 64, -EINVAL);
	tr_assert_return(tri_mgr_key_valid(authkey), -EINVAL);
	if (tr_addr_parse(where, &a) < 0) {
		r = resolve(where, &a, TR_MANAGER_CALL_MS);
		if (r < 0) {
			return r == -EINVAL ? TR_EBADADDR : r;
		}
		named = true;
	}
	r = manager_alloc(&m, authkey);
	if (r < 0) {
		return r;
	}
	m->server = a;
	m->named  = named;
	snprintf(m->where, sizeof(m->where), "%s", where);
	r = hello(m, a);
	if (r == TR_EDEAD) {
		r = -ESRCH;
	}
	if (r < 0) {
		tr_manager_destroy(&m);
		return r;
	}
	*ret = m;
	return 0;
}

void
tr_manager_destroy(tr_manager **mp)
{
	tr_manager *m = mp ? *mp : NULL;

	if (!m) {
		return;
	}
	if (m->owner == getpid()) {
		chan_drop(m, !m->proc);
	}
	/* a fork child's copy of the creator's handle leaves the actor be */
	if (m->proc && m->owner == getpid() && tr_process_is_alive(m->proc)) {
		Trwire__MgrRequest req = TRWIRE__MGR_REQUEST__INIT;
		tr_msg            *msg = NULL;

		req.op = TRI_MGR_STOP;
		if (tr_msg_new_pb(&msg, &req.base) == 0) {
			(void) tr_send(m->server, &msg, STOP_MS);
			tr_msg_destroy(&msg);
		}
		if (tr_process_join(m->proc, STOP_MS) < 0) {
			(void) tr_process_kill(m->proc);
		}
	}
	if (m->owner == getpid()) {
		tr_process_destroy(&m->proc);
	}
	free(m);
	*mp = NULL;
}

const char *
tr_manager_where(const tr_manager *m)
{
	return m ? m->where : NULL;
}

const char *
tr_manager_authkey(const tr_manager *m)
{
	return m ? m->key : NULL;
}

tr_addr
tr_manager_addr(const tr_manager *m)
{
	return m ? m->server : TR_ADDR_NULL;
}

int
tr_manager_set_timeout(tr_manager *m, int timeout_ms)
{
	tr_assert_return(m, -EINVAL);
	tr_assert_return(
	    timeout_ms > 0 || timeout_ms == TR_TIMEOUT_INFINITE, -EINVAL);
	m->call_ms = timeout_ms;
	return 0;
}

int
tr_manager_errors(tr_manager *m, int *ret_first, uint64_t *ret_count)
{
	Trwire__MgrRequest req = TRWIRE__MGR_REQUEST__INIT;
	Trwire__MgrReply  *rep = NULL;
	tr_mval           *n   = NULL;
	int                r;

	tr_assert_return(m && ret_first, -EINVAL);
	req.op = TRI_MGR_ERRORS;
	r      = call(m, NULL, &req, &rep);
	if (r < 0) {
		return r;
	}
	*ret_first = (int) rep->result;
	if (ret_count) {
		*ret_count = 0;
		if (tri_mval_unpack(rep->value.data, rep->value.len, &n) == 0) {
			*ret_count = (uint64_t) tr_mval_get_int(n);
		}
		tr_mval_destroy(&n);
	}
	protobuf_c_message_free_unpacked(&rep->base, NULL);
	return 0;
}

int
tr_manager_child_spec(tr_child_spec *c, const char *id,
    const tr_manager_opts *opts, char *buf, size_t n)
{
	tr_assert_return(c && id && opts && buf, -EINVAL);
	tr_assert_return(n >= TR_MANAGER_ARGS_MAX, -EINVAL);
	tr_assert_return(tri_mgr_key_valid(opts->authkey), -EINVAL);
	tr_assert_return(
	    opts->name && opts->name[0] && strlen(opts->name) < 64, -EINVAL);
	snprintf(buf, n, "%s %s%s", opts->authkey, opts->name,
	    opts->global ? " g" : "");
	tr_child_spec_init(c, id, TR_MANAGER_ACTOR);
	c->args             = buf;
	c->len              = strlen(buf);
	c->start_method     = opts->start_method;
	c->start_timeout_ms = opts->start_timeout_ms;
	return 0;
}

/* ---- proxies ------------------------------------------------------------ */

static int
obj_alloc(tr_mobj **ret, tr_manager *m, int kind, const char *name, uint64_t id)
{
	tr_mobj *o = calloc(1, sizeof(*o));

	if (!o || (name && !(o->name = strdup(name)))) {
		free(o);
		return -ENOMEM;
	}
	o->m     = m;
	o->kind  = kind;
	o->id    = id;
	o->epoch = m->epoch;
	if (name) {
		snprintf(o->ref, sizeof(o->ref), "%s", name);
	} else {
		snprintf(o->ref, sizeof(o->ref), "#%" PRIu64, id);
	}
	*ret = o;
	return 0;
}

/* NEW or OPEN on the manager; the id, or an error. */
/* What NEW or OPEN said of a Queue or an Array (the server's
 * made_as()) into the proxy's typecode and size. */
static void
made_as(const Trwire__MgrReply *rep, char *typecode, uint64_t *size)
{
	tr_mval *v = NULL;

	if (!typecode || rep->value.len == 0 ||
	    tri_mval_unpack(rep->value.data, rep->value.len, &v) < 0) {
		return;
	}
	if (tr_mval_kind(v) == TR_MVAL_INT) {
		*size = (uint64_t) tr_mval_get_int(v);
	} else if (tr_mval_len(v) == 2) {
		*typecode = (char) tr_mval_get_int(tr_mval_list_at(v, 0));
		*size     = (uint64_t) tr_mval_get_int(tr_mval_list_at(v, 1));
	}
	tr_mval_destroy(&v);
}

static int64_t
new_or_open(tr_manager *m, uint32_t op, int kind, const char *name, uint64_t id,
    const tr_mval *init, int *ret_kind, char *typecode, uint64_t *size)
{
	Trwire__MgrRequest req = TRWIRE__MGR_REQUEST__INIT;
	Trwire__MgrReply  *rep = NULL;
	uint8_t           *buf = NULL;
	size_t             len = 0;
	int64_t            r;

	if (init && tri_mval_pack(init, &buf, &len) < 0) {
		return -ENOMEM;
	}
	req.op         = op;
	req.kind       = (uint32_t) kind;
	req.name       = (char *) (name ? name : "");
	req.obj        = id;
	req.value.data = buf;
	req.value.len  = len;
	req.typecode   = typecode ? (uint32_t) (unsigned char) *typecode : 0;
	req.size       = size ? *size : 0;
	r              = call(m, NULL, &req, &rep);
	free(buf);
	if (r < 0) {
		return r;
	}
	r = rep->result;
	if (ret_kind) {
		*ret_kind = (int) rep->kind;
	}
	if (r >= 0) {
		made_as(rep, typecode, size);
	}
	protobuf_c_message_free_unpacked(&rep->base, NULL);
	return r;
}

/* Before a call: an id learnt from an earlier manager names nothing now.
 * A named object is made again (empty); an anonymous one is lost. */
static int
obj_refresh(tr_mobj *o)
{
	int64_t id;

	if (o->epoch == o->m->epoch) {
		return 0;
	}
	if (!o->name) {
		return TR_EMGRRESTART;
	}
	id = new_or_open(o->m, TRI_MGR_NEW, o->kind, o->name, 0, NULL, NULL,
	    &o->typecode, &o->size);
	if (id < 0) {
		return (int) id;
	}
	o->id    = (uint64_t) id;
	o->epoch = o->m->epoch;
	return 0;
}

int
tri_mobj_new_sized(tr_mobj **ret, tr_manager *m, int kind, const char *name,
    const tr_mval *init, char typecode, uint64_t size)
{
	int64_t id;
	int     r;

	tr_assert_return(ret && m, -EINVAL);
	tr_assert_return(
	    kind >= TR_MOBJ_DICT && kind <= TR_MOBJ_ARRAY, -EINVAL);
	tr_assert_return(!name || (name[0] && name[0] != '#'), -EINVAL);
	/* the manager says what it made (or had: a named object) */
	id = new_or_open(
	    m, TRI_MGR_NEW, kind, name, 0, init, NULL, &typecode, &size);
	if (id < 0) {
		return (int) id;
	}
	r = obj_alloc(ret, m, kind, name, (uint64_t) id);
	if (r == 0) {
		(*ret)->typecode = typecode;
		(*ret)->size     = size;
	}
	return r;
}

int
tr_mobj_new(tr_mobj **ret, tr_manager *m, int kind, const char *name,
    const tr_mval *init)
{
	return tri_mobj_new_sized(ret, m, kind, name, init, 0, 0);
}

int
tr_mobj_open(tr_mobj **ret, tr_manager *m, const char *ref)
{
	const char *name = ref;
	uint64_t    id   = 0;
	int64_t     r;
	int         kind     = 0;
	char        typecode = 0;
	uint64_t    size     = 0;
	char       *end;

	tr_assert_return(ret && m && ref && ref[0], -EINVAL);
	if (ref[0] == '#') {
		errno = 0;
		id    = strtoull(ref + 1, &end, 10);
		if (errno || *end || end == ref + 1) {
			return -EINVAL;
		}
		name = NULL;
	}
	r = new_or_open(
	    m, TRI_MGR_OPEN, 0, name, id, NULL, &kind, &typecode, &size);
	if (r < 0) {
		return (int) r;
	}
	r = obj_alloc(ret, m, kind, name, (uint64_t) r);
	if (r == 0) {
		(*ret)->typecode = typecode;
		(*ret)->size     = size;
	}
	return (int) r;
}

void
tr_mobj_destroy(tr_mobj **op)
{
	if (op && *op) {
		free((*op)->name);
		free(*op);
		*op = NULL;
	}
}

const char *
tr_mobj_ref(const tr_mobj *o)
{
	return o ? o->ref : NULL;
}

int
tr_mobj_kind(const tr_mobj *o)
{
	return o ? o->kind : -EINVAL;
}

/* One call on o: key and val borrowed (may be NULL); the answer's value
 * into *ret if ret is not NULL.  Returns the result. */
static int64_t
ocall(tr_mobj *o, uint32_t op, const tr_mval *key, const tr_mval *val,
    int64_t index, int64_t stop, int timeout_ms, tr_mval **ret)
{
	Trwire__MgrRequest req = TRWIRE__MGR_REQUEST__INIT;
	Trwire__MgrReply  *rep = NULL;
	uint8_t           *kb = NULL, *vb = NULL;
	size_t             kn = 0, vn = 0;
	int64_t            r = 0;

	if ((key && tri_mval_pack(key, &kb, &kn) < 0) ||
	    (val && tri_mval_pack(val, &vb, &vn) < 0)) {
		r = -ENOMEM;
		goto out;
	}
	req.op         = op;
	req.key.data   = kb;
	req.key.len    = kn;
	req.value.data = vb;
	req.value.len  = vn;
	req.index      = index;
	req.stop       = stop;
	req.timeout_ms = timeout_ms;
	req.thread     = thread_id();
	if (op == TRI_MGR_DICT_SET_NOWAIT || op == TRI_MGR_LIST_APPEND_NOWAIT ||
	    op == TRI_MGR_QUEUE_PUT_NOWAIT ||
	    op == TRI_MGR_LOCK_RELEASE_NOWAIT ||
	    op == TRI_MGR_RLOCK_RELEASE_NOWAIT ||
	    op == TRI_MGR_SEM_RELEASE_NOWAIT) {
		r = cast(o, &req);
		goto out;
	}
	r = call(o->m, o, &req, &rep);
	if (r < 0) {
		goto out;
	}
	r = rep->result;
	if (r >= 0 && ret) {
		int e = tri_mval_unpack(rep->value.data, rep->value.len, ret);

		r = e < 0 ? e : r;
	}
	protobuf_c_message_free_unpacked(&rep->base, NULL);
out:
	free(kb);
	free(vb);
	return r;
}

char
tri_mobj_typecode(const tr_mobj *o)
{
	return o->kind == TR_MOBJ_ARRAY ? o->typecode : 0;
}

int64_t
tri_mobj_call(tr_mobj *o, uint32_t op, const tr_mval *key, const tr_mval *val,
    int64_t index, int64_t stop, int timeout_ms, tr_mval **ret)
{
	return ocall(o, op, key, val, index, stop, timeout_ms, ret);
}

#define CHECK_OBJ(o) tr_assert_return(o, -EINVAL)
#define CHECK_TIMEOUT(t) \
	tr_assert_return((t) >= 0 || (t) == TR_TIMEOUT_INFINITE, -EINVAL)

int
tr_mobj_drop(tr_mobj *o)
{
	CHECK_OBJ(o);
	return (int) ocall(o, TRI_MGR_DROP, NULL, NULL, 0, 0, 0, NULL);
}

int
tr_mobj_get_all(tr_mobj *o, tr_mval **ret)
{
	CHECK_OBJ(o);
	tr_assert_return(ret, -EINVAL);
	return (int) ocall(o, TRI_MGR_GET_ALL, NULL, NULL, 0, 0, 0, ret);
}

static char *
namespace_repr(const tr_mval *d)
{
	char  *buf = NULL;
	size_t n   = 0;
	FILE  *f   = open_memstream(&buf, &n);

	if (!f) {
		return NULL;
	}
	fputs("Namespace(", f);
	for (size_t i = 0; i < tr_mval_len(d); i++) {
		fprintf(f, "%s%s=", i ? ", " : "",
		    tr_mval_get_str(tr_mval_dict_key_at(d, i)));
		tri_mval_repr_to(f, tr_mval_dict_value_at(d, i));
	}
	fputc(')', f);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

int
tr_mobj_repr(tr_mobj *o, char **ret)
{
	tr_mval *v = NULL;
	int      r;

	CHECK_OBJ(o);
	tr_assert_return(ret, -EINVAL);
	r = tr_mobj_get_all(o, &v);
	if (r < 0) {
		return r;
	}
	*ret =
	    o->kind == TR_MOBJ_NAMESPACE ? namespace_repr(v) : tr_mval_repr(v);
	tr_mval_destroy(&v);
	return *ret ? 0 : -ENOMEM;
}

int64_t
tr_mobj_len(tr_mobj *o)
{
	CHECK_OBJ(o);
	return ocall(o, TRI_MGR_LEN, NULL, NULL, 0, 0, 0, NULL);
}

int
tr_mdict_get(tr_mobj *o, const tr_mval *key, tr_mval **ret)
{
	CHECK_OBJ(o);
	tr_assert_return(key && ret, -EINVAL);
	return (int) ocall(o, TRI_MGR_DICT_GET, key, NULL, 0, 0, 0, ret);
}

int
tr_mdict_set(tr_mobj *o, const tr_mval *key, const tr_mval *val)
{
	CHECK_OBJ(o);
	tr_assert_return(key && val, -EINVAL);
	return (int) ocall(o, TRI_MGR_DICT_SET, key, val, 0, 0, 0, NULL);
}

int
tr_mdict_set_nowait(tr_mobj *o, const tr_mval *key, const tr_mval *val)
{
	CHECK_OBJ(o);
	tr_assert_return(key && val, -EINVAL);
	return (int) ocall(o, TRI_MGR_DICT_SET_NOWAIT, key, val, 0, 0, 0, NULL);
}

int
tr_mdict_del(tr_mobj *o, const tr_mval *key)
{
	CHECK_OBJ(o);
	tr_assert_return(key, -EINVAL);
	return (int) ocall(o, TRI_MGR_DICT_DEL, key, NULL, 0, 0, 0, NULL);
}

int
tr_mdict_contains(tr_mobj *o, const tr_mval *key)
{
	CHECK_OBJ(o);
	tr_assert_return(key, -EINVAL);
	return (int) ocall(o, TRI_MGR_DICT_CONTAINS, key, NULL, 0, 0, 0, NULL);
}

int
tr_mdict_keys(tr_mobj *o, tr_mval **ret)
{
	CHECK_OBJ(o);
	tr_assert_return(ret, -EINVAL);
	return (int) ocall(o, TRI_MGR_DICT_KEYS, NULL, NULL, 0, 0, 0, ret);
}

int
tr_mdict_update(tr_mobj *o, const tr_mval *dict)
{
	CHECK_OBJ(o);
	tr_assert_return(dict, -EINVAL);
	return (int) ocall(o, TRI_MGR_DICT_UPDATE, NULL, dict, 0, 0, 0, NULL);
}

int
tr_mdict_pop(tr_mobj *o, const tr_mval *key, tr_mval **ret)
{
	CHECK_OBJ(o);
	tr_assert_return(key && ret, -EINVAL);
	return (int) ocall(o, TRI_MGR_DICT_POP, key, NULL, 0, 0, 0, ret);
}

int
tr_mns_get(tr_mobj *o, const char *attr, tr_mval **ret)
{
	tr_mval *k = tr_mval_str(attr);
	int      r;

	CHECK_OBJ(o);
	if (!k) {
		return attr ? -ENOMEM : -EINVAL;
	}
	r = tr_mdict_get(o, k, ret);
	tr_mval_destroy(&k);
	return r;
}

int
tr_mns_set(tr_mobj *o, const char *attr, const tr_mval *val)
{
	tr_mval *k = tr_mval_str(attr);
	int      r;

	CHECK_OBJ(o);
	if (!k) {
		return attr ? -ENOMEM : -EINVAL;
	}
	r = tr_mdict_set(o, k, val);
	tr_mval_destroy(&k);
	return r;
}

int
tr_mlist_append(tr_mobj *o, const tr_mval *val)
{
	CHECK_OBJ(o);
	tr_assert_return(val, -EINVAL);
	return (int) ocall(o, TRI_MGR_LIST_APPEND, NULL, val, 0, 0, 0, NULL);
}

int
tr_mlist_append_nowait(tr_mobj *o, const tr_mval *val)
{
	CHECK_OBJ(o);
	tr_assert_return(val, -EINVAL);
	return (int) ocall(
	    o, TRI_MGR_LIST_APPEND_NOWAIT, NULL, val, 0, 0, 0, NULL);
}

int
tr_mlist_extend(tr_mobj *o, const tr_mval *list)
{
	CHECK_OBJ(o);
	tr_assert_return(list, -EINVAL);
	return (int) ocall(o, TRI_MGR_LIST_EXTEND, NULL, list, 0, 0, 0, NULL);
}

int
tr_mlist_get(tr_mobj *o, int64_t index, tr_mval **ret)
{
	CHECK_OBJ(o);
	tr_assert_return(ret, -EINVAL);
	return (int) ocall(o, TRI_MGR_LIST_GET, NULL, NULL, index, 0, 0, ret);
}

int
tr_mlist_set(tr_mobj *o, int64_t index, const tr_mval *val)
{
	CHECK_OBJ(o);
	tr_assert_return(val, -EINVAL);
	return (int) ocall(o, TRI_MGR_LIST_SET, NULL, val, index, 0, 0, NULL);
}

int
tr_mlist_pop(tr_mobj *o, int64_t index, tr_mval **ret)
{
	CHECK_OBJ(o);
	tr_assert_return(ret, -EINVAL);
	return (int) ocall(o, TRI_MGR_LIST_POP, NULL, NULL, index, 0, 0, ret);
}

int
tr_mlist_slice(tr_mobj *o, int64_t start, int64_t stop, tr_mval **ret)
{
	CHECK_OBJ(o);
	tr_assert_return(ret, -EINVAL);
	return (int) ocall(
	    o, TRI_MGR_LIST_SLICE, NULL, NULL, start, stop, 0, ret);
}

int
tr_mlist_reverse(tr_mobj *o)
{
	CHECK_OBJ(o);
	return (int) ocall(o, TRI_MGR_LIST_REVERSE, NULL, NULL, 0, 0, 0, NULL);
}

int
tr_mqueue_put(tr_mobj *o, const tr_mval *val)
{
	CHECK_OBJ(o);
	tr_assert_return(val, -EINVAL);
	/* an unbounded Queue never waits: the call timeout holds */
	return (int) ocall(o, TRI_MGR_QUEUE_PUT, NULL, val, 0, 0,
	    o->size ? TR_TIMEOUT_INFINITE : 0, NULL);
}

int
tr_mqueue_put_timeout(tr_mobj *o, const tr_mval *val, int timeout_ms)
{
	CHECK_OBJ(o);
	CHECK_TIMEOUT(timeout_ms);
	tr_assert_return(val, -EINVAL);
	return (int) ocall(
	    o, TRI_MGR_QUEUE_PUT, NULL, val, 0, 0, timeout_ms, NULL);
}

int
tr_mqueue_new(tr_mobj **ret, tr_manager *m, const char *name, uint64_t maxsize,
    const tr_mval *init)
{
	return tri_mobj_new_sized(
	    ret, m, TR_MOBJ_QUEUE, name, init, 0, maxsize);
}

int
tr_mqueue_put_nowait(tr_mobj *o, const tr_mval *val)
{
	CHECK_OBJ(o);
	tr_assert_return(val, -EINVAL);
	return (int) ocall(
	    o, TRI_MGR_QUEUE_PUT_NOWAIT, NULL, val, 0, 0, 0, NULL);
}

int
tr_mqueue_get(tr_mobj *o, tr_mval **ret, int timeout_ms)
{
	CHECK_OBJ(o);
	CHECK_TIMEOUT(timeout_ms);
	tr_assert_return(ret, -EINVAL);
	return (int) ocall(
	    o, TRI_MGR_QUEUE_GET, NULL, NULL, 0, 0, timeout_ms, ret);
}

int
tr_mlock_acquire(tr_mobj *o, int timeout_ms)
{
	int r;

	CHECK_OBJ(o);
	CHECK_TIMEOUT(timeout_ms);
	if (o->kind == TR_MOBJ_RLOCK || o->kind == TR_MOBJ_CONDITION) {
		bool again = o->held && o->held_tid == thread_id() &&
		    o->epoch == o->m->epoch;

		r = tri_mrlock_acquire(o, timeout_ms);
		if (r >= 0) { /* the levels this thread holds, as a Lock's */
			o->held     = again ? o->held + 1 : 1;
			o->held_tid = thread_id();
		}
		return r;
	}
	r = (int) ocall(
	    o, TRI_MGR_LOCK_ACQUIRE, NULL, NULL, 0, 0, timeout_ms, NULL);
	if (r >= 0) {
		o->held     = 1;
		o->held_tid = thread_id();
	}
	return r;
}

int
tr_mlock_release(tr_mobj *o)
{
	int r;

	CHECK_OBJ(o);
	if (o->kind == TR_MOBJ_RLOCK || o->kind == TR_MOBJ_CONDITION) {
		if (o->held && o->held_tid == thread_id() &&
		    o->epoch == o->m->epoch) {
			/* a level of ours to give back: no answer needed */
			r = (int) ocall(o, TRI_MGR_RLOCK_RELEASE_NOWAIT, NULL,
			    NULL, 0, 0, 0, NULL);
			if (r == 0 && o->epoch == o->m->epoch) {
				o->held--;
				return 0;
			}
			o->held = 0;
			if (r < 0) {
				return r;
			}
		}
		return tri_mrlock_release(o);
	}
	if (o->held && o->held_tid == thread_id() && o->epoch == o->m->epoch) {
		/* ours to release: the manager need not answer */
		r = (int) ocall(
		    o, TRI_MGR_LOCK_RELEASE_NOWAIT, NULL, NULL, 0, 0, 0, NULL);
		if (r == 0 && o->epoch == o->m->epoch) {
			o->held = 0;
			return 0;
		}
		o->held = 0;
		if (r < 0) {
			return r;
		}
	}
	return (int) ocall(o, TRI_MGR_LOCK_RELEASE, NULL, NULL, 0, 0, 0, NULL);
}

int
tr_mevent_set(tr_mobj *o)
{
	CHECK_OBJ(o);
	return (int) ocall(o, TRI_MGR_EVENT_SET, NULL, NULL, 0, 0, 0, NULL);
}

int
tr_mevent_clear(tr_mobj *o)
{
	CHECK_OBJ(o);
	return (int) ocall(o, TRI_MGR_EVENT_CLEAR, NULL, NULL, 0, 0, 0, NULL);
}

int
tr_mevent_is_set(tr_mobj *o)
{
	CHECK_OBJ(o);
	return (int) ocall(o, TRI_MGR_EVENT_IS_SET, NULL, NULL, 0, 0, 0, NULL);
}

int
tr_mevent_wait(tr_mobj *o, int timeout_ms)
{
	CHECK_OBJ(o);
	CHECK_TIMEOUT(timeout_ms);
	return (int) ocall(
	    o, TRI_MGR_EVENT_WAIT, NULL, NULL, 0, 0, timeout_ms, NULL);
}

int
tr_mvalue_get(tr_mobj *o, tr_mval **ret)
{
	CHECK_OBJ(o);
	tr_assert_return(ret, -EINVAL);
	return (int) ocall(o, TRI_MGR_VALUE_GET, NULL, NULL, 0, 0, 0, ret);
}

int
tr_mvalue_set(tr_mobj *o, const tr_mval *val)
{
	CHECK_OBJ(o);
	tr_assert_return(val, -EINVAL);
	return (int) ocall(o, TRI_MGR_VALUE_SET, NULL, val, 0, 0, 0, NULL);
}

int
tr_mvalue_add(tr_mobj *o, const tr_mval *delta, tr_mval **ret)
{
	tr_mval *v = NULL;
	int      r;

	CHECK_OBJ(o);
	tr_assert_return(delta, -EINVAL);
	r = (int) ocall(o, TRI_MGR_VALUE_ADD, NULL, delta, 0, 0, 0, &v);
	if (r >= 0 && ret) {
		*ret = v;
		v    = NULL;
	}
	tr_mval_destroy(&v);
	return r;
}
