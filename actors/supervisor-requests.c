/* SPDX-License-Identifier: MIT */
/* The supervisor's control requests (trwire.SupRequest -> SupReply):
 * start, terminate, restart and delete a child, which/count children,
 * stop.  One at a time, as OTP's supervisor serves its calls. */
#include "supervisor-int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <protobuf-c/protobuf-c.h>

#define REPLY_TIMEOUT_MS 1000

/* What a reply carries besides the error: children to describe. */
struct answer {
	Trwire__SupReply    rep;
	Trwire__ChildInfo  *infos;
	Trwire__ChildInfo **ptrs;
	Trwire__Addr       *addrs;
};

static int
answer_alloc(struct answer *a, size_t n)
{
	a->infos = calloc(n ? n : 1, sizeof(*a->infos));
	a->ptrs  = calloc(n ? n : 1, sizeof(*a->ptrs));
	a->addrs = calloc(n ? n : 1, sizeof(*a->addrs));
	return a->infos && a->ptrs && a->addrs ? 0 : -ENOMEM;
}

static void
answer_free(struct answer *a)
{
	free(a->infos);
	free(a->ptrs);
	free(a->addrs);
}

/* Append child c to the answer (room was made by answer_alloc()). */
static void
answer_add(struct answer *a, const struct tri_sup_child *c)
{
	size_t             k  = a->rep.n_children++;
	Trwire__ChildInfo *ci = &a->infos[k];
	Trwire__Addr      *ad = &a->addrs[k];
	tr_addr            addr;

	trwire__child_info__init(ci);
	trwire__addr__init(ad);
	ci->id            = (char *) c->id;
	ci->actor         = (char *) c->actor;
	ci->type          = (uint32_t) c->type;
	ci->restart       = (uint32_t) c->restart;
	ci->restarts      = c->restarts;
	ci->exited        = c->exited;
	ci->last_exitcode = c->last_exitcode;
	ci->pid           = c->proc ? (int32_t) tr_process_pid(c->proc) : 0;
	if (c->proc && tr_process_addr(c->proc, &addr) == 0) {
		ad->node        = addr.node;
		ad->pid         = addr.pid;
		ad->incarnation = addr.incarnation;
		ci->addr        = ad;
	}
	a->ptrs[k]      = ci;
	a->rep.children = a->ptrs;
}

static void
send_answer(const tr_msg *req, struct answer *a)
{
	a->rep.pid = (int32_t) getpid();
	if (tr_reply_pb(req, &a->rep.base, REPLY_TIMEOUT_MS) < 0) {
		tr_log(TR_LOG_DEBUG, "supervisor: could not answer a request");
	}
}

/* Start child i (just added) or remove it again if it fails. */
static int
start_new(struct tri_sup *s, size_t i, struct answer *a)
{
	int r = tri_sup_start_child(s, i);

	if (r < 0) {
		tri_sup_remove(s, i);
		return r;
	}
	answer_add(a, &s->children[i]);
	return 0;
}

static int
instance_of_template(struct tri_sup *s, const ProtobufCBinaryData *extra,
    struct tri_sup_child *c)
{
	*c      = s->tmpl;
	c->args = malloc(s->tmpl.len + extra->len + 1);
	if (!c->args) {
		return -ENOMEM;
	}
	memcpy(c->args, s->tmpl.args, s->tmpl.len);
	if (extra->len) {
		memcpy(c->args + s->tmpl.len, extra->data, extra->len);
	}
	c->len = s->tmpl.len + extra->len;
	snprintf(
	    c->id, sizeof(c->id), "%.50s.%u", s->tmpl.id, ++s->next_instance);
	return 0;
}

static int
op_start(struct tri_sup *s, const Trwire__SupRequest *q, struct answer *a)
{
	struct tri_sup_child c;
	int                  r;

	if (s->strategy == TR_SUP_SIMPLE_ONE_FOR_ONE) {
		r = instance_of_template(s, &q->extra_args, &c);
		if (r == 0) {
			r = tri_sup_add(s, &c);
		}
		if (r < 0) {
			tri_sup_child_free(&c);
			return r;
		}
	} else if (!q->spec) {
		return -EINVAL;
	} else if ((r = tri_sup_add_pb(s, q->spec)) < 0) {
		return r;
	}
	return start_new(s, s->n - 1, a);
}

static int
op_terminate(struct tri_sup *s, ssize_t i)
{
	if (i < 0) {
		return TR_ENOTFOUND;
	}
	tri_sup_stop_child(s, (size_t) i);
	if (s->children[i].restart == TR_RESTART_TEMPORARY ||
	    s->children[i].dynamic) {
		tri_sup_remove(s, (size_t) i);
	}
	return 0;
}

static int
op_restart(struct tri_sup *s, ssize_t i, struct answer *a)
{
	int r;

	if (i < 0) {
		return TR_ENOTFOUND;
	}
	if (s->children[i].proc) {
		return TR_ERUNNING;
	}
	r = tri_sup_start_child(s, (size_t) i);
	if (r == 0) {
		answer_add(a, &s->children[i]);
	}
	return r;
}

static int
op_delete(struct tri_sup *s, ssize_t i)
{
	if (s->strategy == TR_SUP_SIMPLE_ONE_FOR_ONE) {
		return -EOPNOTSUPP;
	}
	if (i < 0) {
		return TR_ENOTFOUND;
	}
	if (s->children[i].proc) {
		return TR_ERUNNING;
	}
	tri_sup_remove(s, (size_t) i);
	return 0;
}

static void
op_count(struct tri_sup *s, struct answer *a)
{
	a->rep.specs = (uint32_t) s->n;
	for (size_t i = 0; i < s->n; i++) {
		a->rep.active += s->children[i].proc != NULL;
		if (s->children[i].type == TR_CHILD_SUPERVISOR) {
			a->rep.supervisors++;
		} else {
			a->rep.workers++;
		}
	}
}

static int
dispatch(struct tri_sup *s, const Trwire__SupRequest *q, struct answer *a)
{
	ssize_t i = q->id[0] ? tri_sup_find(s, q->id) : -1;

	switch (q->op) {
	case TRWIRE__SUP_REQUEST__OP__START_CHILD:
		if (s->strategy != TR_SUP_SIMPLE_ONE_FOR_ONE &&
		    q->extra_args.len) {
			return -EOPNOTSUPP;
		}
		return op_start(s, q, a);
	case TRWIRE__SUP_REQUEST__OP__TERMINATE_CHILD:
		return op_terminate(s, i);
	case TRWIRE__SUP_REQUEST__OP__RESTART_CHILD:
		return op_restart(s, i, a);
	case TRWIRE__SUP_REQUEST__OP__DELETE_CHILD:
		return op_delete(s, i);
	case TRWIRE__SUP_REQUEST__OP__WHICH_CHILDREN:
		for (size_t k = 0; k < s->n; k++) {
			answer_add(a, &s->children[k]);
		}
		return 0;
	case TRWIRE__SUP_REQUEST__OP__COUNT_CHILDREN:
		op_count(s, a);
		return 0;
	default:
		return -EINVAL;
	}
}

static void
handle_request(struct tri_sup *s, tr_msg **mp)
{
	ProtobufCMessage   *pb;
	Trwire__SupRequest *q;
	struct answer       a = { .rep = TRWIRE__SUP_REPLY__INIT };

	if (tr_msg_unpack(*mp, &trwire__sup_request__descriptor, &pb) < 0) {
		return;
	}
	q = (Trwire__SupRequest *) pb;
	if (q->op == TRWIRE__SUP_REQUEST__OP__STOP) {
		s->stop_requested = true;
		s->stop_msg = *mp; /* answered once all children stopped */
		*mp         = NULL;
	} else if (answer_alloc(&a, s->n + 1) < 0) {
		a.rep.error = -ENOMEM;
		send_answer(*mp, &a);
	} else {
		a.rep.error = dispatch(s, q, &a);
		send_answer(*mp, &a);
	}
	answer_free(&a);
	protobuf_c_message_free_unpacked(pb, NULL);
}

void
tri_sup_handle_mail(struct tri_sup *s)
{
	tr_msg *m;

	while (!s->stop_requested && tr_recv(&m, 0) == 0) {
		if (strcmp(tr_msg_type(m),
		        trwire__sup_request__descriptor.name) == 0) {
			handle_request(s, &m);
		}
		tr_msg_destroy(&m);
	}
}

void
tri_sup_answer_stop(struct tri_sup *s)
{
	struct answer a = { .rep = TRWIRE__SUP_REPLY__INIT };

	if (s->stop_msg) {
		send_answer(s->stop_msg, &a);
		tr_msg_destroy(&s->stop_msg);
	}
}
