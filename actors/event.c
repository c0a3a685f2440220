/* SPDX-License-Identifier: MIT */
/* tr_event: the client side.  Starts the event actor (event-server.c) as a
 * daemon child, or finds one by address or name.  On its first call a
 * handle asks the actor for its shared page (ATTACH) and, on this host,
 * maps it (event-shm.c): then set, clear, is_set and wait work on the page
 * itself.  Without a page (another node, /proc closed to us, or
 * TROUPE_EVENT_SHM=0 in the environment) each call is a tr_call() carrying
 * a trwire.EventRequest; a wait is then a call the actor answers only once
 * the flag is set: tr_call() watches the actor's death meanwhile, and
 * drops an answer that comes after it gave up. */
#include "troupe/event.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <protobuf-c/protobuf-c.h>

#include "event-int.h"
#include "node-addr-int.h"

struct tr_event {
	pid_t                  owner; /* creating process: others get -ECHILD */
	tr_process            *proc; /* the actor, for tr_event_new() handles */
	tr_addr                addr; /* TR_ADDR_NULL: look the name up first */
	uint64_t               next_token;
	char                   name[64]; /* "" for none */
	struct tri_event_local local;    /* the page, if mapped */
	bool                   attached; /* ATTACH tried for addr */
};

/* Registered at load time, so that every child (whatever the start
 * method) can start an event actor and read its requests. */
__attribute__((constructor)) static void
register_event(void)
{
	(void) tr_actor_register(
	    TR_EVENT_ACTOR, tri_event_actor, TR_ACTOR_MANUAL_READY);
	(void) tr_msg_type_register(&trwire__event_request__descriptor);
	(void) tr_msg_type_register(&trwire__event_reply__descriptor);
}

static int
handle_new(tr_event **ret, const char *name)
{
	tr_event *e;

	if (name && strlen(name) >= sizeof(e->name)) {
		return -EINVAL;
	}
	e = calloc(1, sizeof(*e));
	if (!e) {
		return -ENOMEM;
	}
	e->owner = getpid();
	tri_event_local_init(&e->local);
	snprintf(e->name, sizeof(e->name), "%s", name ? name : "");
	*ret = e;
	return 0;
}

int
tr_event_new(tr_event **ret, const tr_event_options *opts)
{
	tr_event_options o = opts ? *opts : (tr_event_options) { 0 };
	tr_event        *e = NULL;
	int              r;

	if (!ret || o.start_timeout_ms < TR_TIMEOUT_INFINITE ||
	    (o.start_method && !tr_start_method_name(o.start_method))) {
		return -EINVAL;
	}
	r = handle_new(&e, o.name);
	if (r < 0) {
		return r;
	}
	r = tr_process_new(&e->proc, TR_EVENT_ACTOR, e->name, strlen(e->name));
	if (r == 0) {
		r = tr_process_set_daemon(e->proc, true);
	}
	if (r == 0 && o.start_method) {
		r = tr_process_set_start_method(e->proc, o.start_method);
	}
	if (r == 0) {
		r = tr_process_start(e->proc,
		    o.start_timeout_ms ? o.start_timeout_ms
		                       : TRI_EVENT_START_MS);
		if (r == TR_ESTARTFAIL) {
			int why = tr_process_start_error(e->proc);

			tr_log(TR_LOG_DEBUG, "event start failed: %s",
			    tr_process_reason(e->proc));
			/* a taken or malformed name says so */
			r = why == TR_EEXISTS || why == -EINVAL ? why : r;
		}
	}
	if (r == 0) {
		r = tr_process_addr(e->proc, &e->addr);
	}
	if (r < 0) {
		tr_event_destroy(&e);
		return r;
	}
	*ret = e;
	return 0;
}

int
tr_event_open(tr_event **ret, tr_addr addr)
{
	int r;

	if (!ret || tr_addr_is_null(addr)) {
		return -EINVAL;
	}
	r = handle_new(ret, NULL);
	if (r == 0) {
		/* this run's actor in its node-global form: node 0 */
		(*ret)->addr = tri_addr_localize(addr);
	}
	return r;
}

int
tr_event_open_name(tr_event **ret, const char *name)
{
	tr_event *e;
	int       r;

	if (!ret || !name || !name[0]) {
		return -EINVAL;
	}
	r = handle_new(&e, name);
	if (r < 0) {
		return r;
	}
	r = tr_whereis(name, &e->addr);
	if (r < 0) {
		free(e);
		return r;
	}
	*ret = e;
	return 0;
}

void
tr_event_destroy(tr_event **ep)
{
	tr_event *e;

	if (!ep || !*ep) {
		return;
	}
	e   = *ep;
	*ep = NULL;
	if (e->proc && e->owner == getpid() && tr_process_is_alive(e->proc)) {
		(void) tr_process_terminate(e->proc);
		if (tr_process_join(e->proc, 5000) < 0) {
			(void) tr_process_kill(e->proc);
			(void) tr_process_join(e->proc, TR_TIMEOUT_INFINITE);
		}
	}
	if (e->owner == getpid()) {
		tr_process_destroy(&e->proc);
		tri_event_local_detach(&e->local);
	}
	free(e);
}

/* The actor was found dead: a handle with a name looks it up again at its
 * next call; the page goes either way. */
static void
forget_actor(tr_event *e)
{
	tri_event_local_detach(&e->local);
	if (e->name[0]) {
		e->addr     = TR_ADDR_NULL;
		e->attached = false;
	}
}

/* One request and its answer (*ret_rep, if wanted, else freed): the flag
 * (0/1) or an error.  The caller checked the handle. */
static int
call_raw(tr_event *e, Trwire__EventRequest *q, int timeout_ms,
    Trwire__EventReply **ret_rep)
{
	ProtobufCMessage   *pb;
	Trwire__EventReply *rep;
	int                 r;

	r = tr_call_pb(e->addr, &q->base, &trwire__event_reply__descriptor, &pb,
	    timeout_ms);
	if (r == -ESRCH || r == TR_EDEAD) {
		forget_actor(e);
	}
	if (r < 0) {
		return r;
	}
	rep = (Trwire__EventReply *) pb;
	r   = rep->error < 0 ? rep->error : rep->set ? 1 : 0;
	if (ret_rep && r >= 0) {
		*ret_rep = rep;
	} else {
		protobuf_c_message_free_unpacked(pb, NULL);
	}
	return r;
}

static bool
shm_wanted(void)
{
	const char *v = getenv("TROUPE_EVENT_SHM");

	return !v || strcmp(v, "0") != 0;
}

/* Check the handle, find the actor (a name is looked up again after a
 * death), and on the first call to it map its page if we can. */
static int
prepare(tr_event *e)
{
	Trwire__EventRequest q = TRWIRE__EVENT_REQUEST__INIT;
	Trwire__EventReply  *rep;
	int                  r;

	if (!e) {
		return -EINVAL;
	}
	if (e->owner != getpid()) {
		return -ECHILD;
	}
	if (tr_addr_is_null(e->addr)) {
		r = e->name[0] ? tr_whereis(e->name, &e->addr) : -ESRCH;
		if (r < 0) {
			return r;
		}
	}
	if (e->attached) {
		return 0;
	}
	e->attached = true;
	if (!shm_wanted() || e->addr.node != 0) {
		return 0;
	}
	q.op = TRWIRE__EVENT_REQUEST__OP__ATTACH;
	r    = call_raw(e, &q, TR_EVENT_CALL_MS, &rep);
	if (r < 0) {
		return r;
	}
	if (rep->shm_fd > 0) {
		r = tri_event_local_attach(&e->local, e->addr, rep->shm_fd - 1);
		if (r < 0) {
			tr_log(TR_LOG_DEBUG, "event: no shared page (%s)",
			    tr_strerror(r));
		}
	}
	protobuf_c_message_free_unpacked(&rep->base, NULL);
	return 0;
}

static int
call(tr_event *e, Trwire__EventRequest *q, int timeout_ms)
{
	int r = prepare(e);

	return r < 0 ? r : call_raw(e, q, timeout_ms, NULL);
}

/* The page's actor is alive: 0, else TR_EDEAD (and the page goes). */
static int
page_alive(tr_event *e)
{
	int r = tri_event_local_alive(&e->local);

	if (r < 0) {
		forget_actor(e);
	}
	return r;
}

static int
call_op(tr_event *e, Trwire__EventRequest__Op op)
{
	Trwire__EventRequest q = TRWIRE__EVENT_REQUEST__INIT;

	q.op = op;
	return call(e, &q, TR_EVENT_CALL_MS);
}

int
tr_event_set(tr_event *e)
{
	int r = prepare(e);

	if (r == 0 && e->local.page) {
		r = page_alive(e);
		if (r < 0) {
			return r;
		}
		/* the flag, then the count of waits kept in the actor (the
		 * actor counts first, then reads the flag) */
		tri_event_shm_set(e->local.page);
		if (atomic_load(&e->local.page->remote) == 0) {
			return 0;
		}
	}
	r = r < 0 ? r : call_op(e, TRWIRE__EVENT_REQUEST__OP__SET);
	return r < 0 ? r : 0;
}

int
tr_event_clear(tr_event *e)
{
	int r = prepare(e);

	if (r == 0 && e->local.page) {
		r = page_alive(e);
		if (r == 0) {
			tri_event_shm_clear(e->local.page);
		}
		return r;
	}
	r = r < 0 ? r : call_op(e, TRWIRE__EVENT_REQUEST__OP__CLEAR);
	return r < 0 ? r : 0;
}

int
tr_event_is_set(tr_event *e)
{
	int r = prepare(e);

	if (r == 0 && e->local.page) {
		r = page_alive(e);
		return r < 0 ? r : atomic_load(&e->local.page->flag) != 0;
	}
	return r < 0 ? r : call_op(e, TRWIRE__EVENT_REQUEST__OP__IS_SET);
}

int
tr_event_wait(tr_event *e, int timeout_ms)
{
	Trwire__EventRequest q = TRWIRE__EVENT_REQUEST__INIT;
	int                  r, c;

	if (!e || timeout_ms < TR_TIMEOUT_INFINITE) {
		return -EINVAL;
	}
	r = prepare(e);
	if (r < 0) {
		return r;
	}
	if (e->local.page) {
		r = tri_event_local_wait(&e->local, timeout_ms);
		if (r == TR_EDEAD) {
			forget_actor(e);
		}
		return r;
	}
	q.op    = TRWIRE__EVENT_REQUEST__OP__WAIT;
	q.token = ++e->next_token;
	q.poll  = timeout_ms == 0;
	r       = call(e, &q, q.poll ? TR_EVENT_CALL_MS : timeout_ms);
	/* a call whose time ran out ends in -EAGAIN when it had none left
	 * to wait with (a short timeout) */
	if (r != -ETIMEDOUT && r != -EAGAIN && r != -EINTR) {
		return r;
	}
	if (q.poll) {
		return r; /* the actor did not answer a poll: stopped */
	}
	/* Gave up: the actor forgets the wait and says what the flag is
	 * now; an answer to the wait still on its way is dropped as late
	 * (tr_call()). */
	q.op = TRWIRE__EVENT_REQUEST__OP__CANCEL;
	c    = call(e, &q, TR_EVENT_CALL_MS);
	return r == -EINTR ? r : c;
}

tr_addr
tr_event_addr(const tr_event *e)
{
	return e ? e->addr : TR_ADDR_NULL;
}

const char *
tr_event_name(const tr_event *e)
{
	return e ? e->name : "";
}

void
tr_event_child_spec(tr_child_spec *c, const char *id, const char *name)
{
	tr_child_spec_init(c, id, TR_EVENT_ACTOR);
	c->args = name ? name : "";
	c->len  = name ? strlen(name) : 0;
}
