/* SPDX-License-Identifier: MIT */
/* tr_supervisor: the client side.  Starts the supervisor actor as a child
 * process (its spec packed by supervisor-spec.c), and turns the runtime
 * calls into tr_call()s carrying trwire.SupRequest / SupReply. */
#include "troupe/supervisor.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <protobuf-c/protobuf-c.h>

#include "supervisor-int.h"

struct tr_supervisor {
	pid_t       owner; /* creating process: others get -ECHILD */
	tr_process *proc;  /* NULL for tr_supervisor_open() handles */
	tr_addr     addr;
};

/* Registered at load time, so that every child (whatever the start
 * method) can start a supervisor and read its requests. */
__attribute__((constructor)) static void
register_supervisor(void)
{
	(void) tr_actor_register(
	    TR_SUP_ACTOR, tri_sup_actor, TR_ACTOR_MANUAL_READY);
	(void) tr_msg_type_register(&trwire__sup_request__descriptor);
	(void) tr_msg_type_register(&trwire__sup_reply__descriptor);
}

/* ---- the handle ------------------------------------------------------------
 */

static int
handle_new(tr_supervisor **ret, tr_process *proc, tr_addr addr)
{
	tr_supervisor *s = calloc(1, sizeof(*s));

	if (!s) {
		return -ENOMEM;
	}
	s->owner = getpid();
	s->proc  = proc;
	s->addr  = addr;
	*ret     = s;
	return 0;
}

int
tr_supervisor_start(
    tr_supervisor **ret, const tr_sup_spec *spec, int timeout_ms)
{
	tr_process *p = NULL;
	tr_addr     addr;
	void       *buf;
	size_t      len;
	int         r;

	if (!ret || !spec) {
		return -EINVAL;
	}
	r = tr_sup_spec_pack(spec, &buf, &len);
	if (r < 0) {
		return r;
	}
	r = tr_process_new(&p, TR_SUP_ACTOR, buf, len);
	free(buf);
	if (r == 0 && spec->name) {
		r = tr_process_set_name(p, spec->name);
	}
	if (r == 0) {
		r = tr_process_start(p, timeout_ms);
		if (r < 0) {
			tr_log(TR_LOG_DEBUG, "supervisor start failed: %s",
			    tr_process_reason(p));
		}
	}
	if (r == 0) {
		r = tr_process_addr(p, &addr);
	}
	if (r == 0) {
		r = handle_new(ret, p, addr);
	}
	if (r < 0) {
		tr_process_destroy(&p);
	}
	return r;
}

int
tr_supervisor_open(tr_supervisor **ret, tr_addr addr)
{
	if (!ret || tr_addr_is_null(addr)) {
		return -EINVAL;
	}
	return handle_new(ret, NULL, addr);
}

tr_addr
tr_supervisor_addr(const tr_supervisor *s)
{
	return s ? s->addr : TR_ADDR_NULL;
}

pid_t
tr_supervisor_pid(const tr_supervisor *s)
{
	return s ? (pid_t) s->addr.pid : 0;
}

/* ---- calls ----------------------------------------------------------------
 */

/* One request/answer; *ret_rep (if given) gets the unpacked answer on
 * success (and with TR_EEXISTS, which describes the child that has the
 * id), to free with trwire__sup_reply__free_unpacked(). */
static int
call(tr_supervisor *s, Trwire__SupRequest *q, Trwire__SupReply **ret_rep,
    int timeout_ms)
{
	ProtobufCMessage *pb;
	int               r;

	if (!s) {
		return -EINVAL;
	}
	if (s->owner != getpid()) {
		return -ECHILD;
	}
	r = tr_call_pb(
	    s->addr, &q->base, &trwire__sup_reply__descriptor, &pb, timeout_ms);
	if (r < 0) {
		return r;
	}
	r = ((Trwire__SupReply *) pb)->error;
	if ((r == 0 || r == TR_EEXISTS) && ret_rep) {
		*ret_rep = (Trwire__SupReply *) pb;
	} else {
		protobuf_c_message_free_unpacked(pb, NULL);
	}
	return r;
}

static void
info_from_pb(tr_child_info *ci, const Trwire__ChildInfo *pb)
{
	memset(ci, 0, sizeof(*ci));
	snprintf(ci->id, sizeof(ci->id), "%s", pb->id);
	snprintf(ci->actor, sizeof(ci->actor), "%s", pb->actor);
	ci->pid           = pb->pid;
	ci->type          = (int) pb->type;
	ci->restart       = (int) pb->restart;
	ci->restarts      = pb->restarts;
	ci->exited        = pb->exited;
	ci->last_exitcode = pb->last_exitcode;
	ci->significant   = pb->significant;
	/* a supervisor from before the state field: running or not */
	ci->state = pb->state ? (int) pb->state
	    : pb->pid         ? TR_CHILD_RUNNING
	                      : TR_CHILD_STOPPED;
	snprintf(ci->node, sizeof(ci->node), "%s", pb->node ? pb->node : "");
	ci->addr = pb->addr
	    ? (tr_addr) { pb->addr->node, pb->addr->pid, pb->addr->incarnation }
	    : TR_ADDR_NULL;
}

/* A call whose answer describes one child, copied to *ret if wanted. */
static int
call_one(
    tr_supervisor *s, Trwire__SupRequest *q, tr_child_info *ret, int timeout_ms)
{
	Trwire__SupReply *rep;
	int               r = call(s, q, &rep, timeout_ms);

	if (r < 0 && r != TR_EEXISTS) {
		return r;
	}
	if (ret && rep->n_children == 1) {
		info_from_pb(ret, rep->children[0]);
	}
	trwire__sup_reply__free_unpacked(rep, NULL);
	return r;
}

int
tr_supervisor_start_child(tr_supervisor *s, const tr_child_spec *c,
    tr_child_info *ret, int timeout_ms)
{
	Trwire__SupRequest q = TRWIRE__SUP_REQUEST__INIT;
	Trwire__ChildSpec  cs;
	int                r;

	if (!c) {
		return -EINVAL;
	}
	r = tri_sup_child_to_pb(c, &cs, true);
	if (r < 0) {
		return r;
	}
	q.op   = TRWIRE__SUP_REQUEST__OP__START_CHILD;
	q.spec = &cs;
	return call_one(s, &q, ret, timeout_ms);
}

int
tr_supervisor_start_simple_on(tr_supervisor *s, const char *node,
    const void *extra, size_t len, tr_child_info *ret, int timeout_ms)
{
	Trwire__SupRequest q = TRWIRE__SUP_REQUEST__INIT;

	if ((!extra && len) || !tri_sup_node_ok(node)) {
		return -EINVAL;
	}
	q.op              = TRWIRE__SUP_REQUEST__OP__START_CHILD;
	q.extra_args.data = (uint8_t *) extra;
	q.extra_args.len  = len;
	q.node            = (char *) (node ? node : "");
	return call_one(s, &q, ret, timeout_ms);
}

int
tr_supervisor_start_simple(tr_supervisor *s, const void *extra, size_t len,
    tr_child_info *ret, int timeout_ms)
{
	return tr_supervisor_start_simple_on(
	    s, NULL, extra, len, ret, timeout_ms);
}

static int
call_id(tr_supervisor *s, Trwire__SupRequest__Op op, const char *id,
    tr_child_info *ret, int timeout_ms)
{
	Trwire__SupRequest q = TRWIRE__SUP_REQUEST__INIT;

	if (!tri_sup_name_ok(id, TR_SUP_ID_MAX)) {
		return -EINVAL;
	}
	q.op = op;
	q.id = (char *) id;
	return call_one(s, &q, ret, timeout_ms);
}

int
tr_supervisor_terminate_child(tr_supervisor *s, const char *id, int timeout_ms)
{
	return call_id(
	    s, TRWIRE__SUP_REQUEST__OP__TERMINATE_CHILD, id, NULL, timeout_ms);
}

int
tr_supervisor_restart_child(
    tr_supervisor *s, const char *id, tr_child_info *ret, int timeout_ms)
{
	return call_id(
	    s, TRWIRE__SUP_REQUEST__OP__RESTART_CHILD, id, ret, timeout_ms);
}

int
tr_supervisor_delete_child(tr_supervisor *s, const char *id, int timeout_ms)
{
	return call_id(
	    s, TRWIRE__SUP_REQUEST__OP__DELETE_CHILD, id, NULL, timeout_ms);
}

int
tr_supervisor_which_child(
    tr_supervisor *s, const char *id, tr_child_info *ret, int timeout_ms)
{
	if (!ret) {
		return -EINVAL;
	}
	return call_id(
	    s, TRWIRE__SUP_REQUEST__OP__WHICH_CHILD, id, ret, timeout_ms);
}

int
tr_supervisor_which_children(
    tr_supervisor *s, tr_child_info **ret, size_t *ret_n, int timeout_ms)
{
	Trwire__SupRequest q = TRWIRE__SUP_REQUEST__INIT;
	Trwire__SupReply  *rep;
	tr_child_info     *v = NULL;
	int                r;

	if (!ret || !ret_n) {
		return -EINVAL;
	}
	q.op = TRWIRE__SUP_REQUEST__OP__WHICH_CHILDREN;
	r    = call(s, &q, &rep, timeout_ms);
	if (r < 0) {
		return r;
	}
	if (rep->n_children) {
		v = calloc(rep->n_children, sizeof(*v));
		r = v ? 0 : -ENOMEM;
	}
	for (size_t i = 0; v && i < rep->n_children; i++) {
		info_from_pb(&v[i], rep->children[i]);
	}
	if (r == 0) {
		*ret   = v;
		*ret_n = rep->n_children;
	}
	trwire__sup_reply__free_unpacked(rep, NULL);
	return r;
}

int
tr_supervisor_count_children(
    tr_supervisor *s, tr_child_counts *ret, int timeout_ms)
{
	Trwire__SupRequest q = TRWIRE__SUP_REQUEST__INIT;
	Trwire__SupReply  *rep;
	int                r;

	if (!ret) {
		return -EINVAL;
	}
	q.op = TRWIRE__SUP_REQUEST__OP__COUNT_CHILDREN;
	r    = call(s, &q, &rep, timeout_ms);
	if (r < 0) {
		return r;
	}
	ret->specs       = (int) rep->specs;
	ret->active      = (int) rep->active;
	ret->supervisors = (int) rep->supervisors;
	ret->workers     = (int) rep->workers;
	ret->unknown     = (int) rep->unknown;
	trwire__sup_reply__free_unpacked(rep, NULL);
	return 0;
}

int
tr_supervisor_stop(tr_supervisor *s, int timeout_ms)
{
	Trwire__SupRequest q        = TRWIRE__SUP_REQUEST__INIT;
	int64_t            deadline = tr_deadline(timeout_ms);
	int                r;

	q.op = TRWIRE__SUP_REQUEST__OP__STOP;
	r    = call(s, &q, NULL, timeout_ms);
	if (r == -ESRCH || r == TR_EDEAD) {
		r = 0; /* it had ended already */
	}
	if (r < 0 || !s->proc) {
		return r;
	}
	return tr_process_join(s->proc, tr_deadline_left(deadline));
}

int
tr_supervisor_join(tr_supervisor *s, int timeout_ms)
{
	if (!s || !s->proc) {
		return -EINVAL;
	}
	return s->owner == getpid() ? tr_process_join(s->proc, timeout_ms)
	                            : -ECHILD;
}

int
tr_supervisor_exitcode(tr_supervisor *s, int *ret)
{
	if (!s || !s->proc || !ret) {
		return -EINVAL;
	}
	return s->owner == getpid() ? tr_process_exitcode(s->proc, ret)
	                            : -ECHILD;
}

void
tr_supervisor_destroy(tr_supervisor **sp)
{
	tr_supervisor *s;

	if (!sp || !*sp) {
		return;
	}
	s   = *sp;
	*sp = NULL;
	if (s->proc && s->owner == getpid() && tr_process_is_alive(s->proc)) {
		(void) tr_process_terminate(s->proc);
		(void) tr_process_join(s->proc, TR_TIMEOUT_INFINITE);
	}
	tr_process_destroy(&s->proc);
	free(s);
}
