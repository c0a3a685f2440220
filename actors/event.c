/* SPDX-License-Identifier: MIT */
/* tr_event: the client side.  Starts the event actor (event-server.c) as a
 * daemon child, or finds one by address or name, and turns each call into
 * a tr_call() carrying a trwire.EventRequest.  A wait is a call the actor
 * answers only once the flag is set: tr_call() watches the actor's death
 * meanwhile, and drops an answer that comes after it gave up. */
#include "troupe/event.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <protobuf-c/protobuf-c.h>

#include "event-int.h"

struct tr_event {
	pid_t       owner; /* creating process: others get -ECHILD */
	tr_process *proc;  /* the actor, for tr_event_new() handles */
	tr_addr     addr;  /* TR_ADDR_NULL: look the name up first */
	uint64_t    next_token;
	char        name[64]; /* "" for none */
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
		(*ret)->addr = addr;
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
	}
	free(e);
}

/* One request and its answer: the flag (0/1) or an error.  A handle with
 * a name looks it up again after a call found the actor gone. */
static int
call(tr_event *e, Trwire__EventRequest *q, int timeout_ms)
{
	ProtobufCMessage   *pb;
	Trwire__EventReply *rep;
	int                 r;

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
	r = tr_call_pb(e->addr, &q->base, &trwire__event_reply__descriptor, &pb,
	    timeout_ms);
	if ((r == -ESRCH || r == TR_EDEAD) && e->name[0]) {
		e->addr = TR_ADDR_NULL; /* the next call looks again */
	}
	if (r < 0) {
		return r;
	}
	rep = (Trwire__EventReply *) pb;
	r   = rep->error < 0 ? rep->error : rep->set ? 1 : 0;
	protobuf_c_message_free_unpacked(pb, NULL);
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
	int r = call_op(e, TRWIRE__EVENT_REQUEST__OP__SET);

	return r < 0 ? r : 0;
}

int
tr_event_clear(tr_event *e)
{
	int r = call_op(e, TRWIRE__EVENT_REQUEST__OP__CLEAR);

	return r < 0 ? r : 0;
}

int
tr_event_is_set(tr_event *e)
{
	return call_op(e, TRWIRE__EVENT_REQUEST__OP__IS_SET);
}

int
tr_event_wait(tr_event *e, int timeout_ms)
{
	Trwire__EventRequest q = TRWIRE__EVENT_REQUEST__INIT;
	int                  r, c;

	if (!e || timeout_ms < TR_TIMEOUT_INFINITE) {
		return -EINVAL;
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
