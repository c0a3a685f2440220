/* SPDX-License-Identifier: MIT */
/* The supervisor's control requests (trwire.SupRequest -> SupReply):
 * start, terminate, restart and delete a child, which/count children,
 * stop.  One at a time, as OTP's supervisor serves its calls, each after
 * the deaths that have already happened are taken in. */
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
	Trwire__SupReply     rep;
	Trwire__ChildInfo   *infos;
	Trwire__ChildInfo  **ptrs;
	Trwire__Addr        *addrs;
	struct tri_sup_child gone; /* a child described, then removed */
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
	ci->state         = (uint32_t) tri_sup_child_state(c);
	ci->significant   = c->significant;
	ci->pid           = c->proc ? (int32_t) tr_process_pid(c->proc) : 0;
	ci->node          = (char *) c->on;
	if (c->rup || c->unknown) {
		ci->pid         = (int32_t) c->raddr.pid;
		ad->node        = c->raddr.node;
		ad->pid         = c->raddr.pid;
		ad->incarnation = c->raddr.incarnation;
		ci->addr        = ad;
	} else if (c->proc && tr_process_addr(c->proc, &addr) == 0) {
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

/* Start child i (just added): kept if it runs, or if it answered ignore
 * and is neither temporary nor an instance; removed otherwise. */
static int
start_new(struct tri_sup *s, size_t i, struct answer *a)
{
	struct tri_sup_child *c = s->children[i];
	int                   r = tri_sup_start_child(s, i);

	if (r == 0 ||
	    (r == TR_EIGNORE && !c->dynamic &&
	        c->restart != TR_RESTART_TEMPORARY)) {
		answer_add(a, c);
		return 0;
	}
	if (r == TR_EIGNORE) {
		a->gone      = *c; /* described as it was, without its args */
		a->gone.args = NULL;
		answer_add(a, &a->gone);
		r = 0;
	}
	tri_sup_remove(s, i);
	return r;
}

static int
instance_of_template(struct tri_sup *s, const ProtobufCBinaryData *extra,
    const char *node, struct tri_sup_child *c)
{
	size_t len = s->tmpl.len + extra->len;

	*c      = s->tmpl;
	c->args = malloc(len ? len : 1); /* the exact size: one copy */
	if (!c->args) {
		return -ENOMEM;
	}
	memcpy(c->args, s->tmpl.args, s->tmpl.len);
	if (extra->len) {
		memcpy(c->args + s->tmpl.len, extra->data, extra->len);
	}
	if (node && node[0]) {
		snprintf(c->node, sizeof(c->node), "%s", node);
	}
	c->len = len;
	snprintf(
	    c->id, sizeof(c->id), "%.50s.%u", s->tmpl.id, ++s->next_instance);
	return 0;
}

static int
op_start(struct tri_sup *s, const Trwire__SupRequest *q, struct answer *a)
{
	struct tri_sup_child c;
	ssize_t              i;
	int                  r;

	if ((s->strategy == TR_SUP_SIMPLE_ONE_FOR_ONE) == (q->spec != NULL)) {
		return -EOPNOTSUPP; /* a spec for the template, or none */
	}
	if (q->spec) {
		i = q->spec->id ? tri_sup_find(s, q->spec->id) : -1;
		if (i >= 0) {
			answer_add(
			    a, s->children[i]); /* OTP: already_started */
			return TR_EEXISTS;
		}
		r = tri_sup_add_pb(s, q->spec);
		return r < 0 ? r : start_new(s, s->n - 1, a);
	}
	if (!tri_sup_node_ok(q->node)) {
		return -EINVAL;
	}
	r = instance_of_template(s, &q->extra_args, q->node, &c);
	if (r == 0) {
		r = tri_sup_add(s, &c);
	}
	if (r < 0) {
		tri_sup_child_free(&c);
		return r;
	}
	return start_new(s, s->n - 1, a);
}

/* Whether id is one this simple_one_for_one supervisor gave out
 * ("<template>.<n>", 1 <= n <= the last one). */
static bool
gave_out(const struct tri_sup *s, const char *id)
{
	size_t        k = strlen(s->tmpl.id);
	char         *end;
	unsigned long n;

	if (strncmp(id, s->tmpl.id, k) != 0 || id[k] != '.' ||
	    id[k + 1] < '1' || id[k + 1] > '9') {
		return false;
	}
	n = strtoul(id + k + 1, &end, 10);
	return *end == '\0' && n <= s->next_instance;
}

static int
op_terminate(struct tri_sup *s, const char *id)
{
	ssize_t i = tri_sup_find(s, id);

	if (i < 0) {
		return s->strategy == TR_SUP_SIMPLE_ONE_FOR_ONE &&
		        gave_out(s, id)
		    ? 0 /* ended already: OTP answers ok */
		    : TR_ENOTFOUND;
	}
	if (s->strategy == TR_SUP_REST_FOR_ONE) {
		/* the children after it depend on it: they go first */
		tri_sup_stop_range(s, (size_t) i + 1, s->n);
		for (size_t j = s->n; j > (size_t) i + 1; j--) {
			if (s->children[j - 1]->restart ==
			    TR_RESTART_TEMPORARY) {
				tri_sup_remove(s, j - 1);
			}
		}
	}
	tri_sup_stop_child(s, (size_t) i);
	if (s->children[i]->restart == TR_RESTART_TEMPORARY ||
	    s->children[i]->dynamic) {
		tri_sup_remove(s, (size_t) i);
	}
	return 0;
}

/* Why child i cannot be restarted or deleted now, or 0. */
static int
busy(const struct tri_sup *s, ssize_t i)
{
	if (s->strategy == TR_SUP_SIMPLE_ONE_FOR_ONE) {
		return -EOPNOTSUPP;
	}
	if (i < 0) {
		return TR_ENOTFOUND;
	}
	if (tri_sup_running(s->children[i]) || s->children[i]->unknown) {
		return TR_ERUNNING; /* unknown: it may run */
	}
	return s->children[i]->restart_at ? TR_ERESTARTING : 0;
}

static int
op_restart(struct tri_sup *s, ssize_t i, struct answer *a)
{
	int r = busy(s, i);

	if (r == 0) {
		r = tri_sup_start_child(s, (size_t) i);
	}
	if (r == 0 || r == TR_EIGNORE) {
		answer_add(a, s->children[i]);
	}
	return r == TR_EIGNORE ? 0 : r;
}

static int
op_delete(struct tri_sup *s, ssize_t i)
{
	int r = busy(s, i);

	if (r == 0) {
		tri_sup_remove(s, (size_t) i);
	}
	return r;
}

static void
op_count(struct tri_sup *s, struct answer *a)
{
	bool simple = s->strategy == TR_SUP_SIMPLE_ONE_FOR_ONE;

	a->rep.specs = simple ? 1 : (uint32_t) s->n;
	for (size_t i = 0; i < s->n; i++) {
		a->rep.active += tri_sup_running(s->children[i]);
		a->rep.unknown += s->children[i]->unknown;
		if (s->children[i]->type == TR_CHILD_SUPERVISOR) {
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
		return op_start(s, q, a);
	case TRWIRE__SUP_REQUEST__OP__TERMINATE_CHILD:
		return op_terminate(s, q->id);
	case TRWIRE__SUP_REQUEST__OP__RESTART_CHILD:
		return op_restart(s, i, a);
	case TRWIRE__SUP_REQUEST__OP__DELETE_CHILD:
		return op_delete(s, i);
	case TRWIRE__SUP_REQUEST__OP__WHICH_CHILD:
		if (i < 0) {
			return TR_ENOTFOUND;
		}
		answer_add(a, s->children[i]);
		return 0;
	case TRWIRE__SUP_REQUEST__OP__WHICH_CHILDREN:
		for (size_t k = 0; k < s->n; k++) {
			answer_add(a, s->children[k]);
		}
		return 0;
	case TRWIRE__SUP_REQUEST__OP__COUNT_CHILDREN:
		op_count(s, a);
		return 0;
	default:
		return -EINVAL;
	}
}

/* A message that is not a request: dropped, and said so -- the first 10,
 * then one in 1000, as the mailbox does, so that a flood does not flood
 * the log. */
static void
junk(struct tri_sup *s, const tr_msg *m, const char *what)
{
	char from[TR_ADDR_STRLEN] = "?";

	if (++s->junk > 10 && s->junk % 1000 != 0) {
		return;
	}
	(void) tr_addr_format(tr_msg_sender(m), from, sizeof(from));
	tr_log(TR_LOG_ERROR,
	    "supervisor %s: dropped a message from %s: %s (%u so far)", s->name,
	    from, what, s->junk);
}

/* A call that is no request gets an answer, so that its caller does not
 * wait out its timeout: err (a one-way message's answer is dropped by
 * its sender's runtime as a late reply). */
static void
answer_junk(const tr_msg *m, int err)
{
	struct answer a = { .rep = TRWIRE__SUP_REPLY__INIT };

	if (tr_msg_correlation(m) != 0) {
		a.rep.error = err;
		send_answer(m, &a);
	}
}

/* Answer request *mp, or keep it if it is STOP (answered once all
 * children stopped).  ending: the deaths just taken in end the supervisor
 * (other requests get TR_ESHUTDOWN). */
static void
handle_request(struct tri_sup *s, tr_msg **mp, bool ending)
{
	ProtobufCMessage   *pb;
	Trwire__SupRequest *q;
	struct answer       a = { .rep = TRWIRE__SUP_REPLY__INIT };
	size_t              n;

	if (tr_msg_unpack(*mp, &trwire__sup_request__descriptor, &pb) < 0) {
		junk(s, *mp, "a trwire.SupRequest that does not unpack");
		answer_junk(*mp, TR_EBADFRAME);
		return;
	}
	q = (Trwire__SupRequest *) pb;
	n = q->op == TRWIRE__SUP_REQUEST__OP__WHICH_CHILDREN ? s->n : 1;
	if (q->op == TRWIRE__SUP_REQUEST__OP__STOP) {
		s->stop_requested = true;
		s->stop_msg = *mp; /* answered once all children stopped */
		*mp         = NULL;
	} else if (ending) {
		a.rep.error = TR_ESHUTDOWN;
		send_answer(*mp, &a);
	} else if (answer_alloc(&a, n) < 0) {
		a.rep.error = -ENOMEM;
		send_answer(*mp, &a);
	} else {
		a.rep.error = dispatch(s, q, &a);
		send_answer(*mp, &a);
	}
	answer_free(&a);
	protobuf_c_message_free_unpacked(pb, NULL);
}

int
tri_sup_handle_mail(struct tri_sup *s)
{
	char    what[200];
	tr_msg *m;
	int     r = 0, r2 = 0;

	while (r == 0 && !s->stop_requested && tr_recv(&m, 0) == 0) {
		r = tri_sup_reap(s); /* deaths before answers */
		if (tri_sup_remote_take(s, m, &r2)) {
			r = r ? r : r2;
			tr_msg_destroy(&m);
			continue; /* a child's DOWN (on another node) */
		}
		if (s->trapping && tr_msg_is_system(m) &&
		    strcmp(tr_msg_type(m), "trwire.Exit") == 0) {
			tr_msg_destroy(&m);
			continue; /* a linked child's end: its DOWN tells */
		}
		if (strcmp(tr_msg_type(m),
		        trwire__sup_request__descriptor.name) == 0) {
			handle_request(s, &m, r != 0);
		} else {
			snprintf(what, sizeof(what),
			    "not a request (type '%.120s')",
			    tr_msg_type(m)[0] ? tr_msg_type(m) : "raw bytes");
			junk(s, m, what);
			answer_junk(m, TR_EBADTYPE);
		}
		tr_msg_destroy(&m);
	}
	return r;
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
