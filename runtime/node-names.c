/* SPDX-License-Identifier: MIT */
/* Cluster-wide names (node-names.h): the agent's table, the messages
 * agents exchange about it, and the API (tr_node_register_global(), ...)
 * which asks this run's agent. */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include <protobuf-c/protobuf-c.h>

#include "alloc.h"
#include "log.h"
#include "node-names.h"
#include "node.pb-c.h"
#include "rlive.h"
#include "troupe/node.h"
#include "util.h"

enum { OP_REGISTER = 0, OP_UNREGISTER = 1, OP_WHEREIS = 2 };

#define SEND_MS 200 /* an agent never waits long on another */

static int64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static tr_addr
addr_of(const Trwire__Addr *a)
{
	return a ? (tr_addr) { a->node, a->pid, a->incarnation } : TR_ADDR_NULL;
}

static void
addr_to(Trwire__Addr *pb, tr_addr a)
{
	trwire__addr__init(pb);
	pb->node        = a.node;
	pb->pid         = a.pid;
	pb->incarnation = a.incarnation;
}

void
tri_node_names_init(struct tri_node_names *t, uint32_t id, const char *self)
{
	memset(t, 0, sizeof(*t));
	t->id = id;
	tri_strlcpy(t->self, self, sizeof(t->self));
}

void
tri_node_names_free(struct tri_node_names *t)
{
	tri_free(t->e);
	t->e = NULL;
	t->n = t->cap = 0;
}

void
tri_node_names_register_types(void)
{
	(void) tr_msg_type_register(&trwire__node_name_req__descriptor);
	(void) tr_msg_type_register(&trwire__node_name_rep__descriptor);
	(void) tr_msg_type_register(&trwire__node_name_claim__descriptor);
	(void) tr_msg_type_register(&trwire__node_name_drop__descriptor);
}

/* ---- the table ------------------------------------------------------------
 */

static struct tri_node_name *
find(struct tri_node_names *t, const char *name)
{
	for (size_t i = 0; i < t->n; i++) {
		if (strcmp(t->e[i].name, name) == 0) {
			return &t->e[i];
		}
	}
	return NULL;
}

static struct tri_node_name *
add(struct tri_node_names *t, const char *name, tr_addr addr, int64_t since)
{
	struct tri_node_name *e;

	if (t->n == TRI_NODE_NAMES_MAX) {
		return NULL;
	}
	if (t->n == t->cap) {
		size_t                ncap = t->cap ? t->cap * 2 : 16;
		struct tri_node_name *ne =
		    tri_realloc(t->e, ncap * sizeof(*ne));

		if (!ne) {
			return NULL;
		}
		t->e   = ne;
		t->cap = ncap;
	}
	e = &t->e[t->n++];
	memset(e, 0, sizeof(*e));
	tri_strlcpy(e->name, name, sizeof(e->name));
	e->addr     = addr;
	e->since_ms = since;
	return e;
}

static void
del(struct tri_node_names *t, struct tri_node_name *e)
{
	if (e->ref) {
		(void) tr_demonitor(e->ref);
	}
	*e = t->e[--t->n];
}

/* Whether claim (addr a, since sa) beats claim (b, sb): the older
 * registration, then the lower node id, then the lower pid/incarnation:
 * a total order, so every node picks the same. */
static bool
beats(tr_addr a, int64_t sa, tr_addr b, int64_t sb)
{
	if (sa != sb) {
		return sa < sb;
	}
	if (a.node != b.node) {
		return a.node < b.node;
	}
	if (a.pid != b.pid) {
		return a.pid < b.pid;
	}
	return a.incarnation < b.incarnation;
}

/* ---- telling the peers ----------------------------------------------------
 */

static void
send_to(tr_addr agent, const ProtobufCMessage *pb)
{
	tr_msg *m = NULL;

	if (tr_msg_new_pb(&m, pb) == 0 && tr_send(agent, &m, SEND_MS) < 0) {
		tr_log(
		    TR_LOG_DEBUG, "node names: a message to a peer was lost");
	}
	tr_msg_destroy(&m);
}

static void
broadcast(struct tri_node_names *t, const ProtobufCMessage *pb)
{
	for (int i = 0; i < t->nseen; i++) {
		if (t->seen[i].up) {
			send_to(t->seen[i].agent, pb);
		}
	}
}

static void
tell_drop(struct tri_node_names *t, const struct tri_node_name *e)
{
	Trwire__NodeNameDrop d = TRWIRE__NODE_NAME_DROP__INIT;
	Trwire__Addr         a;

	addr_to(&a, e->addr);
	d.name = (char *) e->name;
	d.addr = &a;
	broadcast(t, &d.base);
}

/* Our names (all, or just `only`) as a claim to `to` (or every peer). */
static void
tell_claim(struct tri_node_names *t, const struct tri_node_name *only,
    const tr_addr *to)
{
	Trwire__NodeNameClaim c  = TRWIRE__NODE_NAME_CLAIM__INIT;
	Trwire__NodeName     *ns = NULL, **pp = NULL;
	Trwire__Addr         *as = NULL;
	size_t                n = 0, cap = only ? 1 : t->n;

	if (cap) {
		ns = tri_calloc(cap, sizeof(*ns));
		pp = tri_calloc(cap, sizeof(*pp));
		as = tri_calloc(cap, sizeof(*as));
		if (!ns || !pp || !as) {
			goto out;
		}
	}
	for (size_t i = 0; i < t->n && n < cap; i++) {
		const struct tri_node_name *e = only ? only : &t->e[i];

		if (e->addr.node != t->id) {
			continue;
		}
		trwire__node_name__init(&ns[n]);
		addr_to(&as[n], e->addr);
		ns[n].name     = (char *) e->name;
		ns[n].addr     = &as[n];
		ns[n].since_ms = e->since_ms;
		pp[n]          = &ns[n];
		n++;
		if (only) {
			break;
		}
	}
	c.names   = pp;
	c.n_names = n;
	c.full    = only == NULL;
	if (to) {
		send_to(*to, &c.base);
	} else {
		broadcast(t, &c.base);
	}
out:
	tri_free(ns);
	tri_free(pp);
	tri_free(as);
}

/* ---- requests of this run -------------------------------------------------
 */

static int
do_register(struct tri_node_names *t, const char *name, tr_addr who)
{
	struct tri_node_name *e;
	tr_addr               local = who, global = who;
	uint64_t              ref;
	int                   r;

	if (who.node != 0 && who.node != t->id) {
		return TR_EBADADDR;
	}
	local.node  = 0;
	global.node = t->id;
	e           = find(t, name);
	if (e) {
		return tr_addr_eq(e->addr, global) ? 0 : TR_EEXISTS;
	}
	if (!tr_addr_is_alive(local)) {
		return -ESRCH;
	}
	if (t->n == TRI_NODE_NAMES_MAX) {
		return -ENOSPC;
	}
	r = tr_monitor(local, &ref);
	if (r < 0) {
		return r;
	}
	e = add(t, name, global, wall_ms());
	if (!e) {
		(void) tr_demonitor(ref);
		return -ENOMEM;
	}
	e->ref = ref;
	tell_claim(t, e, NULL);
	return 0;
}

static int
do_unregister(struct tri_node_names *t, const char *name)
{
	struct tri_node_name *e = find(t, name);

	if (!e || e->addr.node != t->id) {
		return TR_ENOTFOUND;
	}
	tell_drop(t, e);
	del(t, e);
	return 0;
}

static void
do_request(struct tri_node_names *t, const tr_msg *m)
{
	Trwire__NodeNameRep  rep = TRWIRE__NODE_NAME_REP__INIT;
	Trwire__Addr         a;
	Trwire__NodeNameReq *q;
	int                  r;

	r = tr_msg_unpack(
	    m, &trwire__node_name_req__descriptor, (ProtobufCMessage **) &q);
	if (r < 0) {
		rep.error = r;
		(void) tr_reply_pb(m, &rep.base, 1000);
		return;
	}
	if (tr_msg_sender(m).node != 0) {
		r = TR_EBADADDR; /* only this run's processes ask */
	} else if (!tri_node_name_ok(q->name)) {
		r = -EINVAL;
	} else if (q->op == OP_REGISTER) {
		r = q->addr ? do_register(t, q->name, addr_of(q->addr))
		            : -EINVAL;
	} else if (q->op == OP_UNREGISTER) {
		r = do_unregister(t, q->name);
	} else if (q->op == OP_WHEREIS) {
		struct tri_node_name *e = find(t, q->name);
		tr_addr               x;

		r = e ? 0 : TR_ENOTFOUND;
		if (e) {
			x = e->addr;
			if (x.node == t->id) {
				x.node = 0; /* ours: the local form */
			}
			addr_to(&a, x);
			rep.addr = &a;
		}
	} else {
		r = -EINVAL;
	}
	rep.error = r;
	(void) tr_reply_pb(m, &rep.base, 1000);
	protobuf_c_message_free_unpacked(&q->base, NULL);
}

/* ---- what peers say -------------------------------------------------------
 */

/* The sender is the agent of a peer node that is up (not a process of
 * it), as the link thread knows it now. */
static bool
from_peer_agent(struct tri_node_shared *sh, tr_addr s)
{
	bool ok = false;

	pthread_mutex_lock(&sh->lock);
	for (int i = 0; i < sh->npeers && !ok; i++) {
		ok = sh->peers[i].up && tr_addr_eq(sh->peers[i].agent, s);
	}
	pthread_mutex_unlock(&sh->lock);
	return ok;
}

/* A claim of peer node `node`: keep it, or the claim it conflicts with,
 * whichever wins. */
static void
merge(struct tri_node_names *t, uint32_t node, const Trwire__NodeName *c)
{
	tr_addr               a = addr_of(c->addr);
	struct tri_node_name *e;
	char                  x[TR_ADDR_STRLEN], y[TR_ADDR_STRLEN];

	if (!c->addr || a.node != node || !tri_node_name_ok(c->name)) {
		tr_log(TR_LOG_WARNING,
		    "node %s: a bad name claim from node %" PRIu32 " ignored",
		    t->self, node);
		return;
	}
	e = find(t, c->name);
	if (!e) {
		(void) add(t, c->name, a, c->since_ms);
		return;
	}
	if (tr_addr_eq(e->addr, a)) {
		e->since_ms = c->since_ms;
		return;
	}
	t->conflicts++;
	tr_addr_format(a, x, sizeof(x));
	tr_addr_format(e->addr, y, sizeof(y));
	if (!beats(a, c->since_ms, e->addr, e->since_ms)) {
		tr_log(TR_LOG_WARNING,
		    "node %s: name %s: %s keeps it, the claim of %s loses "
		    "(older registration first)",
		    t->self, c->name, y, x);
		return;
	}
	tr_log(TR_LOG_WARNING,
	    "node %s: name %s: %s takes it, %s loses it (older registration "
	    "first)",
	    t->self, c->name, x, y);
	if (e->addr.node == t->id) {
		tell_drop(t, e); /* ours lost: no node keeps it */
	}
	del(t, e);
	(void) add(t, c->name, a, c->since_ms);
}

static void
do_claim(struct tri_node_names *t, struct tri_node_shared *sh, const tr_msg *m)
{
	Trwire__NodeNameClaim *c;
	uint32_t               node = tr_msg_sender(m).node;

	if (!from_peer_agent(sh, tr_msg_sender(m)) ||
	    tr_msg_unpack(m, &trwire__node_name_claim__descriptor,
	        (ProtobufCMessage **) &c) < 0) {
		return;
	}
	if (c->full) { /* every name it holds: the others are gone */
		for (size_t i = 0; i < t->n;) {
			bool keep = t->e[i].addr.node != node;

			for (size_t k = 0; !keep && k < c->n_names; k++) {
				keep = strcmp(c->names[k]->name,
				           t->e[i].name) == 0 &&
				    tr_addr_eq(addr_of(c->names[k]->addr),
				        t->e[i].addr);
			}
			if (keep) {
				i++;
			} else {
				del(t, &t->e[i]);
			}
		}
	}
	for (size_t k = 0; k < c->n_names; k++) {
		merge(t, node, c->names[k]);
	}
	protobuf_c_message_free_unpacked(&c->base, NULL);
}

static void
do_drop(struct tri_node_names *t, struct tri_node_shared *sh, const tr_msg *m)
{
	Trwire__NodeNameDrop *d;
	struct tri_node_name *e;
	uint32_t              node = tr_msg_sender(m).node;

	if (!from_peer_agent(sh, tr_msg_sender(m)) ||
	    tr_msg_unpack(m, &trwire__node_name_drop__descriptor,
	        (ProtobufCMessage **) &d) < 0) {
		return;
	}
	e = find(t, d->name);
	if (e && d->addr && e->addr.node == node &&
	    tr_addr_eq(e->addr, addr_of(d->addr))) {
		del(t, e);
	}
	protobuf_c_message_free_unpacked(&d->base, NULL);
}

bool
tri_node_names_serve(
    struct tri_node_names *t, struct tri_node_shared *sh, const tr_msg *m)
{
	const char *type = tr_msg_type(m);
	tr_down     d;

	if (strcmp(type, "trwire.NodeNameReq") == 0) {
		do_request(t, m);
	} else if (strcmp(type, "trwire.NodeNameClaim") == 0) {
		do_claim(t, sh, m);
	} else if (strcmp(type, "trwire.NodeNameDrop") == 0) {
		do_drop(t, sh, m);
	} else if (tr_msg_down(m, &d) == 0 && d.ref) {
		for (size_t i = 0; i < t->n; i++) {
			if (t->e[i].ref == d.ref) {
				t->e[i].ref = 0; /* fired */
				tell_drop(t, &t->e[i]);
				del(t, &t->e[i]);
				break;
			}
		}
	} else {
		return false;
	}
	return true;
}

void
tri_node_names_tick(struct tri_node_names *t, struct tri_node_shared *sh)
{
	struct tri_node_names_peer now[TRI_NODE_PEERS_MAX];
	int                        n = 0;

	pthread_mutex_lock(&sh->lock);
	for (int i = 0; i < sh->npeers; i++) {
		now[n++] = (struct tri_node_names_peer) { sh->peers[i].id,
			sh->peers[i].up, sh->peers[i].agent };
	}
	pthread_mutex_unlock(&sh->lock);
	for (int i = 0; i < n; i++) {
		struct tri_node_names_peer *was = NULL;

		for (int k = 0; k < t->nseen; k++) {
			if (t->seen[k].id == now[i].id) {
				was = &t->seen[k];
			}
		}
		if (was && was->up &&
		    (!now[i].up || !tr_addr_eq(was->agent, now[i].agent))) {
			size_t before = t->n;

			for (size_t k = 0; k < t->n;) {
				if (t->e[k].addr.node == now[i].id) {
					del(t, &t->e[k]);
				} else {
					k++;
				}
			}
			if (t->n != before) {
				tr_log(TR_LOG_INFO,
				    "node %s: %zu name(s) of a lost node "
				    "dropped",
				    t->self, before - t->n);
			}
		}
		if (now[i].up &&
		    (!was || !was->up ||
		        !tr_addr_eq(was->agent, now[i].agent))) {
			tell_claim(t, NULL, &now[i].agent);
		}
	}
	memcpy(t->seen, now, sizeof(now[0]) * (size_t) n);
	t->nseen = n;
}

/* ---- the API --------------------------------------------------------------
 */

static int
ask(int op, const char *name, tr_addr who, tr_addr *ret, int timeout_ms)
{
	Trwire__NodeNameReq  q = TRWIRE__NODE_NAME_REQ__INIT;
	Trwire__NodeNameRep *rep;
	Trwire__Addr         a;
	tr_addr              agent;
	int                  r;

	tr_assert_return(name, -EINVAL);
	tr_assert_return(timeout_ms >= TR_TIMEOUT_INFINITE, -EINVAL);
	if (!tri_node_name_ok(name)) {
		return -EINVAL;
	}
	r = tri_node_agent(&agent, NULL);
	if (r < 0) {
		return r;
	}
	addr_to(&a, who);
	q.op   = (uint32_t) op;
	q.name = (char *) name;
	q.addr = &a;
	r      = tr_call_pb(agent, &q.base, &trwire__node_name_rep__descriptor,
	         (ProtobufCMessage **) &rep, timeout_ms);
	if (r < 0) {
		return r;
	}
	r = rep->error;
	if (r == 0 && ret) {
		if (rep->addr) {
			*ret = addr_of(rep->addr);
		} else {
			r = TR_EBADFRAME;
		}
	}
	protobuf_c_message_free_unpacked(&rep->base, NULL);
	return r;
}

int
tr_node_register_global(const char *name, tr_addr who, int timeout_ms)
{
	tr_assert_return(!tr_addr_is_null(who), -EINVAL);
	return ask(OP_REGISTER, name, who, NULL, timeout_ms);
}

int
tr_node_unregister_global(const char *name, int timeout_ms)
{
	return ask(OP_UNREGISTER, name, TR_ADDR_NULL, NULL, timeout_ms);
}

int
tr_node_whereis_global(const char *name, tr_addr *ret, int timeout_ms)
{
	tr_assert_return(ret, -EINVAL);
	return ask(OP_WHEREIS, name, TR_ADDR_NULL, ret, timeout_ms);
}
