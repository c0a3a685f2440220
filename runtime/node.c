/* SPDX-License-Identifier: MIT */
/* The node API (troupe/node.h): the caller's side.  The node itself is an
 * actor, "troupe.node" (node-agent.c), started as a daemon child. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <protobuf-c/protobuf-c.h>
#include <zmq.h>

#include "alloc.h"
#include "log.h"
#include "node-int.h"
#include "node.pb-c.h"
#include "rlive.h"
#include "runtime.h"
#include "troupe/actor.h"
#include "troupe/process.h"
#include "util.h"

struct tr_node {
	tr_process *proc;
	char        ep[TRI_NODE_EP_MAX];
};

__attribute__((constructor)) static void
tri_node_ctor(void)
{
	(void) tr_actor_register(
	    "troupe.node", tri_node_agent_main, TR_ACTOR_MANUAL_READY);
}

uint32_t
tr_node_id(const char *name)
{
	uint32_t h = 2166136261u;

	for (const char *p = name ? name : ""; *p; p++) {
		h = (h ^ (uint8_t) *p) * 16777619u;
	}
	return h ? h : 1;
}

bool
tri_node_name_ok(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n >= TR_NODE_NAME_MAX) {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		        (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		        c == '-')) {
			return false;
		}
	}
	return true;
}

bool
tri_node_endpoint_loopback(const char *ep)
{
	return strncmp(ep, "tcp://127.", 10) == 0 ||
	    strncmp(ep, "tcp://[::1]:", 12) == 0 ||
	    strncmp(ep, "tcp://localhost:", 16) == 0;
}

static bool
text_ok(const char *s, size_t max)
{
	return s && strlen(s) < max && !strchr(s, '\n') && !strchr(s, '\r');
}

static bool
key_ok(const char *k)
{
	uint8_t bin[32];

	return k && strlen(k) == TR_NODE_KEY_LEN && zmq_z85_decode(bin, k);
}

static int
check_conf(struct tri_node_conf *c)
{
	if (!tri_node_name_ok(c->name)) {
		tr_log(TR_LOG_ERROR, "node: bad name \"%s\"", c->name);
		return -EINVAL;
	}
	if (strncmp(c->listen, "tcp://", 6) != 0) {
		tr_log(TR_LOG_ERROR,
		    "node %s: listen endpoint %s is not tcp://", c->name,
		    c->listen);
		return -EINVAL;
	}
	if (!c->secret[0] && !tri_node_endpoint_loopback(c->listen)) {
		tr_log(TR_LOG_ERROR,
		    "node %s: refusing to listen on %s without CURVE (only "
		    "loopback addresses may go without)",
		    c->name, c->listen);
		return -EINVAL;
	}
	if (c->secret[0] && (!key_ok(c->secret) || !key_ok(c->public))) {
		tr_log(TR_LOG_ERROR, "node %s: bad CURVE key", c->name);
		return -EINVAL;
	}
	for (int i = 0; i < c->npeers; i++) {
		const char *h = strchr(c->peers[i], '#');

		if (strncmp(c->peers[i], "tcp://", 6) != 0 ||
		    (h && !key_ok(h + 1)) || (c->secret[0] && !h)) {
			tr_log(TR_LOG_ERROR, "node %s: bad peer \"%s\"%s",
			    c->name, c->peers[i],
			    c->secret[0] && !h ? " (CURVE needs its key)" : "");
			return -EINVAL;
		}
	}
	for (int i = 0; i < c->nallow; i++) {
		if (!key_ok(c->allow[i])) {
			tr_log(
			    TR_LOG_ERROR, "node %s: bad allowed key", c->name);
			return -EINVAL;
		}
	}
	if (c->detect_ms < 30 || c->queue_max < 0 || c->queue_ms < 1) {
		return -EINVAL;
	}
	return 0;
}

int
tri_node_conf_from_opts(const tr_node_options *o, struct tri_node_conf *c)
{
	memset(c, 0, sizeof(*c));
	tr_assert_return(o && text_ok(o->name, sizeof(c->name)), -EINVAL);
	tri_strlcpy(c->name, o->name, sizeof(c->name));
	tr_assert_return(
	    !o->listen || text_ok(o->listen, sizeof(c->listen)), -EINVAL);
	tri_strlcpy(c->listen, o->listen ? o->listen : "tcp://127.0.0.1:*",
	    sizeof(c->listen));
	for (int i = 0; o->peers && o->peers[i]; i++) {
		tr_assert_return(i < TRI_NODE_PEERS_MAX &&
		        text_ok(o->peers[i], TRI_NODE_EP_MAX),
		    -EINVAL);
		tri_strlcpy(c->peers[i], o->peers[i], TRI_NODE_EP_MAX);
		c->npeers = i + 1;
	}
	tr_assert_return(o->detect_ms >= 0, -EINVAL);
	c->detect_ms = o->detect_ms ? o->detect_ms : 3000;
	if (o->curve_secret_key) {
		tr_assert_return(key_ok(o->curve_secret_key), -EINVAL);
		tri_strlcpy(c->secret, o->curve_secret_key, sizeof(c->secret));
		if (o->curve_public_key) {
			tri_strlcpy(
			    c->public, o->curve_public_key, sizeof(c->public));
		} else if (zmq_curve_public(c->public, c->secret) < 0) {
			return -EINVAL;
		}
	}
	for (int i = 0; o->allowed_keys && o->allowed_keys[i]; i++) {
		tr_assert_return(i < TRI_NODE_ALLOW_MAX &&
		        text_ok(o->allowed_keys[i], TR_NODE_KEY_LEN + 1),
		    -EINVAL);
		tri_strlcpy(
		    c->allow[i], o->allowed_keys[i], TR_NODE_KEY_LEN + 1);
		c->nallow = i + 1;
	}
	tr_assert_return(
	    !o->cookie || text_ok(o->cookie, sizeof(c->cookie)), -EINVAL);
	tri_strlcpy(c->cookie, o->cookie ? o->cookie : "", sizeof(c->cookie));
	tr_assert_return(o->queue_max >= -1 && o->queue_ms >= 0, -EINVAL);
	c->queue_max = o->queue_max == 0 ? 10000
	    : o->queue_max < 0           ? 0
	                                 : o->queue_max;
	c->queue_ms  = o->queue_ms ? o->queue_ms : 10000;
	return check_conf(c);
}

int
tri_node_conf_encode(const struct tri_node_conf *c, char **ret)
{
	size_t cap = 1024 + (size_t) (c->npeers + 1) * TRI_NODE_EP_MAX +
	    (size_t) c->nallow * 64;
	char  *buf = tri_alloc(cap);
	size_t n   = 0;

	if (!buf) {
		return -ENOMEM;
	}
#define PUT(...) n += (size_t) snprintf(buf + n, cap - n, __VA_ARGS__)
	PUT("name=%s\nlisten=%s\ndetect=%d\nsecret=%s\npublic=%s\ncookie=%s\n",
	    c->name, c->listen, c->detect_ms, c->secret, c->public, c->cookie);
	PUT("queue_max=%d\nqueue_ms=%d\n", c->queue_max, c->queue_ms);
	for (int i = 0; i < c->npeers; i++) {
		PUT("peer=%s\n", c->peers[i]);
	}
	for (int i = 0; i < c->nallow; i++) {
		PUT("allow=%s\n", c->allow[i]);
	}
#undef PUT
	*ret = buf;
	return 0;
}

int
tri_node_conf_decode(const char *text, struct tri_node_conf *c)
{
	const char *p = text;

	memset(c, 0, sizeof(*c));
	while (*p) {
		const char *nl = strchr(p, '\n'), *eq = strchr(p, '=');
		size_t      kn, vn;
		char        v[TRI_NODE_EP_MAX];

		if (!nl || !eq || eq > nl) {
			return -EINVAL;
		}
		kn = (size_t) (eq - p);
		vn = (size_t) (nl - eq - 1);
		if (vn >= sizeof(v)) {
			return -EINVAL;
		}
		memcpy(v, eq + 1, vn);
		v[vn] = '\0';
#define KEY(k) (kn == strlen(k) && strncmp(p, k, kn) == 0)
		if (KEY("name")) {
			tri_strlcpy(c->name, v, sizeof(c->name));
		} else if (KEY("listen")) {
			tri_strlcpy(c->listen, v, sizeof(c->listen));
		} else if (KEY("detect")) {
			c->detect_ms = atoi(v);
		} else if (KEY("secret")) {
			tri_strlcpy(c->secret, v, sizeof(c->secret));
		} else if (KEY("public")) {
			tri_strlcpy(c->public, v, sizeof(c->public));
		} else if (KEY("queue_max")) {
			c->queue_max = atoi(v);
		} else if (KEY("queue_ms")) {
			c->queue_ms = atoi(v);
		} else if (KEY("cookie")) {
			tri_strlcpy(c->cookie, v, sizeof(c->cookie));
		} else if (KEY("peer") && c->npeers < TRI_NODE_PEERS_MAX) {
			tri_strlcpy(c->peers[c->npeers++], v, TRI_NODE_EP_MAX);
		} else if (KEY("allow") && c->nallow < TRI_NODE_ALLOW_MAX) {
			tri_strlcpy(
			    c->allow[c->nallow++], v, TR_NODE_KEY_LEN + 1);
		} else {
			return -EINVAL;
		}
#undef KEY
		p = nl + 1;
	}
	return check_conf(c);
}

/* ---- the API ------------------------------------------------------------ */

static int
read_file(const char *name, char *buf, size_t n)
{
	char  path[PATH_MAX + 32];
	FILE *f;
	bool  ok;

	snprintf(path, sizeof(path), "%s/%s", tri_rt.rundir, name);
	f = fopen(path, "re");
	if (!f) {
		return -errno;
	}
	ok = fgets(buf, (int) n, f) != NULL;
	fclose(f);
	if (!ok) {
		return -EIO;
	}
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

int
tr_node_start(const tr_node_options *opts, tr_node **ret, int timeout_ms)
{
	struct tri_node_conf *c;
	tr_node              *n;
	tr_addr               a;
	char                 *text = NULL;
	int                   r;

	tr_assert_return(ret && opts, -EINVAL);
	tr_assert_return(timeout_ms >= TR_TIMEOUT_INFINITE, -EINVAL);
	if (!tri_rt.inited) {
		return TR_ENOTINIT;
	}
	if (tri_node_agent(&a, NULL) == 0) {
		return TR_EEXISTS;
	}
	c = tri_alloc(sizeof(*c));
	n = tri_calloc(1, sizeof(*n));
	if (!c || !n) {
		tri_free(c);
		tri_free(n);
		return -ENOMEM;
	}
	r = tri_node_conf_from_opts(opts, c);
	if (r == 0) {
		r = tri_node_conf_encode(c, &text);
	}
	tri_free(c);
	if (r == 0) {
		r = tr_process_new(&n->proc, "troupe.node", text, strlen(text));
	}
	tri_free(text);
	if (r == 0) {
		(void) tr_process_set_name(n->proc, "troupe-node");
		(void) tr_process_set_daemon(n->proc, true);
		r = tr_process_start(n->proc, timeout_ms);
		if (r < 0) {
			tr_log(TR_LOG_ERROR, "node: agent failed to start: %s",
			    tr_process_reason(n->proc));
		}
	}
	if (r == 0) {
		r = read_file("node.ep", n->ep, sizeof(n->ep));
	}
	if (r < 0) {
		tr_process_destroy(&n->proc);
		tri_free(n);
		return r;
	}
	*ret = n;
	return 0;
}

const char *
tr_node_endpoint(const tr_node *n)
{
	return n ? n->ep : "";
}

pid_t
tr_node_agent_pid(const tr_node *n)
{
	return n ? tr_process_pid(n->proc) : 0;
}

static int
lookup(const char *node, int timeout_ms, Trwire__NodeLookupRep **ret)
{
	Trwire__NodeLookupReq q = TRWIRE__NODE_LOOKUP_REQ__INIT;
	tr_addr               a;
	int                   r = tri_node_agent(&a, NULL);

	if (r < 0) {
		return r;
	}
	q.node = (char *) (node ? node : "");
	r      = tr_call_pb(a, &q.base, &trwire__node_lookup_rep__descriptor,
	         (ProtobufCMessage **) ret, timeout_ms);
	if (r == 0 && (*ret)->error < 0) {
		r = (*ret)->error;
		protobuf_c_message_free_unpacked(&(*ret)->base, NULL);
	}
	return r;
}

/* The agent of node (NULL/"" = ours, as a local address). */
static int
agent_of(const char *node, int timeout_ms, tr_addr *ret)
{
	Trwire__NodeLookupRep *rep;
	int                    r;

	if (!node || !node[0]) {
		return tri_node_agent(ret, NULL);
	}
	r = lookup(node, timeout_ms, &rep);
	if (r < 0) {
		return r;
	}
	if (!rep->agent || !rep->up) {
		r = TR_EBADADDR;
	} else {
		*ret = (tr_addr) { rep->agent->node, rep->agent->pid,
			rep->agent->incarnation };
	}
	protobuf_c_message_free_unpacked(&rep->base, NULL);
	return r;
}

void
tr_node_stop(tr_node **np)
{
	Trwire__NodeStopReq q = TRWIRE__NODE_STOP_REQ__INIT;
	ProtobufCMessage   *rep;
	tr_addr             a;
	tr_node            *n;

	if (!np || !*np) {
		return;
	}
	n = *np;
	if (tri_node_agent(&a, NULL) == 0 &&
	    tr_call_pb(a, &q.base, &trwire__node_stop_rep__descriptor, &rep,
	        5000) == 0) {
		protobuf_c_message_free_unpacked(rep, NULL);
		(void) tr_process_join(n->proc, 5000);
	}
	if (tr_process_is_alive(n->proc)) {
		(void) tr_process_terminate(n->proc);
		(void) tr_process_join(n->proc, 2000);
	}
	tr_process_destroy(&n->proc);
	tri_free(n);
	*np = NULL;
}

int
tr_node_spawn(const char *node, const char *actor, const void *args, size_t len,
    tr_addr *ret, int timeout_ms)
{
	Trwire__NodeSpawnReq  q = TRWIRE__NODE_SPAWN_REQ__INIT;
	Trwire__NodeSpawnRep *rep;
	int64_t               deadline = tri_deadline(timeout_ms);
	tr_addr               a;
	int                   r;

	tr_assert_return(actor && ret && (args || len == 0), -EINVAL);
	tr_assert_return(timeout_ms >= TR_TIMEOUT_INFINITE, -EINVAL);
	r = agent_of(node, timeout_ms, &a);
	if (r < 0) {
		return r;
	}
	q.actor     = (char *) actor;
	q.args.data = (uint8_t *) args;
	q.args.len  = len;
	q.name      = (char *) "";
	r = tr_call_pb(a, &q.base, &trwire__node_spawn_rep__descriptor,
	    (ProtobufCMessage **) &rep, tr_deadline_left(deadline));
	if (r < 0) {
		return r == TR_EDEAD ? TR_EDEAD : r;
	}
	r = rep->error;
	if (r == 0 && rep->addr) {
		*ret = (tr_addr) { rep->addr->node, rep->addr->pid,
			rep->addr->incarnation };
	} else if (r == 0) {
		r = TR_EBADFRAME;
	} else if (rep->reason[0]) {
		tr_log(TR_LOG_INFO, "node spawn of %s on %s failed: %s", actor,
		    node ? node : "this node", rep->reason);
	}
	protobuf_c_message_free_unpacked(&rep->base, NULL);
	return r;
}

int
tr_node_global_addr(tr_addr a, tr_addr *ret)
{
	tr_addr  ag;
	uint32_t id;
	int      r;

	tr_assert_return(ret, -EINVAL);
	if (a.node != 0) {
		*ret = a;
		return 0;
	}
	r = tri_node_agent(&ag, &id);
	if (r < 0) {
		return r;
	}
	*ret      = a;
	ret->node = id;
	return 0;
}

int
tr_node_stats_get(const char *node, tr_node_stats *ret, int timeout_ms)
{
	Trwire__NodeStatsReq  q = TRWIRE__NODE_STATS_REQ__INIT;
	Trwire__NodeStatsRep *rep;
	int64_t               deadline = tri_deadline(timeout_ms);
	tr_addr               a;
	int                   r;

	tr_assert_return(ret, -EINVAL);
	r = agent_of(node, timeout_ms, &a);
	if (r < 0) {
		return r;
	}
	r = tr_call_pb(a, &q.base, &trwire__node_stats_rep__descriptor,
	    (ProtobufCMessage **) &rep, tr_deadline_left(deadline));
	if (r < 0) {
		return r;
	}
	memset(ret, 0, sizeof(*ret));
	ret->sent         = rep->sent;
	ret->received     = rep->received;
	ret->dead_letters = rep->dead_letters;
	ret->unreachable  = rep->unreachable;
	ret->refused      = rep->refused;
	ret->dropped      = rep->dropped;
	ret->lost         = rep->lost;
	ret->peers_known  = (int) rep->n_peers;

	ret->gaps           = rep->gaps; /* names, gaps, queues */
	ret->queued         = rep->queued;
	ret->names          = rep->names;
	ret->name_conflicts = rep->name_conflicts;
	for (size_t i = 0; i < rep->n_peers; i++) {
		ret->peers_up += rep->peers[i]->up;
	}

	ret->direct_sent     = rep->direct_sent;
	ret->direct_received = rep->direct_received;
	protobuf_c_message_free_unpacked(&rep->base, NULL);
	return 0;
}

int
tr_node_is_up(const char *node, int timeout_ms)
{
	Trwire__NodeLookupRep *rep;
	int                    r;

	tr_assert_return(node, -EINVAL);
	r = lookup(node, timeout_ms, &rep);
	if (r == TR_EBADADDR && tri_node_agent(&(tr_addr) { 0 }, NULL) == 0) {
		return 0; /* not known (yet) */
	}
	if (r < 0) {
		return r;
	}
	r = rep->up ? 1 : 0;
	protobuf_c_message_free_unpacked(&rep->base, NULL);
	return r;
}

int
tri_node_agent_of(const char *node, int timeout_ms, tr_addr *ret)
{
	return agent_of(node, timeout_ms, ret);
}

int
tr_node_signal(tr_addr who, int signo, int timeout_ms)
{
	Trwire__NodeSignalReq  q = TRWIRE__NODE_SIGNAL_REQ__INIT;
	Trwire__NodeSignalRep *rep;
	Trwire__Addr           w = TRWIRE__ADDR__INIT;
	tr_addr                a;
	uint32_t               id;
	int                    r;

	tr_assert_return(timeout_ms >= TR_TIMEOUT_INFINITE, -EINVAL);
	if (signo != SIGTERM && signo != SIGKILL) {
		return -EINVAL;
	}
	r = tri_node_agent(&a, &id);
	if (r < 0) {
		return r;
	}
	if (who.node == 0 || who.node == id) {
		return TR_EBADADDR; /* one of ours: tr_process_*() */
	}
	w.node        = who.node;
	w.pid         = who.pid;
	w.incarnation = who.incarnation;
	q.who         = &w;
	q.signo       = signo;
	{
		Trwire__NodeLookupReq  lq = TRWIRE__NODE_LOOKUP_REQ__INIT;
		Trwire__NodeLookupRep *lr;

		lq.node = (char *) "";
		lq.id   = who.node;
		r       = tr_call_pb(a, &lq.base,
		          &trwire__node_lookup_rep__descriptor,
		          (ProtobufCMessage **) &lr, timeout_ms);
		if (r < 0) {
			return r;
		}
		r = lr->error < 0           ? lr->error
		    : !lr->agent || !lr->up ? TR_EBADADDR
		                            : 0;
		if (r == 0) {
			a = (tr_addr) { lr->agent->node, lr->agent->pid,
				lr->agent->incarnation };
		}
		protobuf_c_message_free_unpacked(&lr->base, NULL);
		if (r < 0) {
			return r;
		}
	}
	r = tr_call_pb(a, &q.base, &trwire__node_signal_rep__descriptor,
	    (ProtobufCMessage **) &rep, timeout_ms);
	if (r < 0) {
		return r;
	}
	r = rep->error;
	protobuf_c_message_free_unpacked(&rep->base, NULL);
	return r;
}
