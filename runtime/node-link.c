/* SPDX-License-Identifier: MIT */
/* The node agent's link thread: it owns every socket of the node -- the
 * run's gateway (a PULL bound at <rundir>/node.gw where this run's
 * processes send what is meant for other nodes), the TCP ROUTER other
 * nodes connect to, one DEALER per peer node (with ZMTP heartbeats and a
 * connection monitor), the ZAP handler, and PUSH sockets to the run's
 * mailboxes -- and moves envelopes between them, rewriting the node field
 * of addresses as they cross (docs/distribution.md).  It also keeps the
 * remote watches both ways: watches of this run's processes on remote
 * actors (told DOWN noconnection when a node is lost), and watches of
 * remote processes on this run's actors (a pidfd each).  It numbers each
 * user message per (sender, recipient) pair and tells a recipient of the
 * gaps (node-pairs.c, node-notice.c), and keeps what is sent to a known
 * node that is not up in a bounded queue until it is (node-queue.c). */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <protobuf-c/protobuf-c.h>
#include <zmq.h>

#include "alloc.h"
#include "liveness.h"
#include "log.h"
#include "msg.h"
#include "node-fault.h"
#include "node-int.h"
#include "node-notice.h"
#include "node-pairs.h"
#include "node-queue.h"
#include "node.pb-c.h"
#include "rlive.h"
#include "trace.h"
#include "transport.h"
#include "troupe.pb-c.h"
#include "util.h"

#define LOCAL_MAX   256   /* cached PUSH sockets to local mailboxes */
#define DELIVER_MS  5000  /* a message waits this long for a full mailbox */
#define PENDING_MAX 10000 /* then the link stops reading other nodes */

struct peer {
	char     name[TR_NODE_NAME_MAX];
	char     ep[TRI_NODE_EP_MAX];
	char     key[TR_NODE_KEY_LEN + 1];
	uint32_t id;
	tr_addr  agent;
	bool     hello_in;  /* their Hello came (since their last connect) */
	bool     connected; /* our DEALER's handshake succeeded */
	bool     refused;   /* not allowed: no socket */
	bool     warned;    /* its refusal of us was logged */
	void    *dealer, *mon;
	uint8_t  rid[256]; /* their DEALER's routing id on our ROUTER */
	size_t   rid_len;
	uint64_t seq_out;   /* last link sequence number we sent it */
	uint64_t seq_in;    /* last one we received from it ... */
	tr_addr  seq_agent; /* ... from this incarnation of its agent */

	/* what waits for it while it is not up (node-queue.c) */
	struct tri_node_queue q;

	/* liveness as the trace sees it: the last frame from it and to it
	 * (ms), and whether it has been silent half the detection time */
	int64_t last_in, last_out;
	bool    suspect;
};

struct lwatch { /* a local process watches a remote actor */
	tr_addr  watcher, who;
	uint64_t token;
};

struct rwatch {                /* a remote process watches a local actor */
	tr_addr  watcher, who; /* watcher global, who local */
	uint64_t token;
	int      fd;
};

/* A message for a local mailbox that was full: the link thread never
 * blocks on one (the actor may itself be waiting to send through this
 * node), it keeps them in order and retries. */
struct pending {
	tr_addr         to;
	zmq_msg_t       env, payload;
	int64_t         since;
	struct pending *next;
};

struct local {
	tr_addr to;
	void   *sock;
	int     live; /* liveness descriptor: one poll a message, not /proc */
};

struct tri_node_link {
	struct tri_node_conf    conf;
	uint32_t                id;
	tr_addr                 agent;
	char                    ep[TRI_NODE_EP_MAX];
	struct tri_node_shared *sh;
	void                   *ctx, *gw, *router, *zap;
	struct peer             peers[TRI_NODE_PEERS_MAX];
	int                     npeers, nmon;
	struct lwatch          *lw;
	size_t                  nlw, caplw;
	struct rwatch          *rw;
	size_t                  nrw, caprw;
	struct local            local[LOCAL_MAX];
	int                     nlocal;
	struct pending         *phead, *ptail;
	size_t                  npending;
	pthread_t               thread;
	_Atomic bool            stop;
	tr_node_stats           st;
	/* test-only fault hook ($TROUPE_NODE_FAULT, node-fault.c) */
	struct tri_node_fault fault;
	/* per-pair sequence numbers, out and in (node-pairs.c); what the
	 * queues of down nodes dropped, to tell the senders */
	struct tri_node_pairs pout, pin;
	struct tri_node_drops drops;
};

/* ---- small helpers -------------------------------------------------------
 */

static void
publish(struct tri_node_link *l)
{
	struct tri_node_shared *sh = l->sh;

	pthread_mutex_lock(&sh->lock);
	sh->st             = l->st;
	sh->st.peers_up    = 0;
	sh->st.peers_known = l->npeers;
	sh->npeers         = 0;
	for (int i = 0; i < l->npeers; i++) {
		struct peer *p  = &l->peers[i];
		bool         up = p->connected && p->hello_in;

		sh->st.peers_up += up;
		if (p->id) {
			struct tri_node_peer_info *in =
			    &sh->peers[sh->npeers++];

			tri_strlcpy(in->name, p->name, sizeof(in->name));
			in->id    = p->id;
			in->up    = up;
			in->agent = p->agent;
		}
	}
	pthread_mutex_unlock(&sh->lock);
}

static bool
peer_up(const struct peer *p)
{
	return p->connected && p->hello_in;
}

static struct peer *
peer_by_id(struct tri_node_link *l, uint32_t id)
{
	for (int i = 0; i < l->npeers; i++) {
		if (l->peers[i].id == id) {
			return &l->peers[i];
		}
	}
	return NULL;
}

static struct peer *
peer_by_rid(struct tri_node_link *l, const void *rid, size_t n)
{
	for (int i = 0; i < l->npeers; i++) {
		if (l->peers[i].rid_len == n &&
		    memcmp(l->peers[i].rid, rid, n) == 0) {
			return &l->peers[i];
		}
	}
	return NULL;
}

static void
set_hb(struct tri_node_link *l, void *s)
{
	int ivl = l->conf.detect_ms / 3, to = l->conf.detect_ms;

	zmq_setsockopt(s, ZMQ_HEARTBEAT_IVL, &ivl, sizeof(ivl));
	zmq_setsockopt(s, ZMQ_HEARTBEAT_TIMEOUT, &to, sizeof(to));
	zmq_setsockopt(s, ZMQ_HEARTBEAT_TTL, &to, sizeof(to));
}

/* Split "ep#key". */
static void
split_peer(const char *spec, char *ep, char *key)
{
	const char *h = strchr(spec, '#');
	size_t      n = h ? (size_t) (h - spec) : strlen(spec);

	n = n < TRI_NODE_EP_MAX - 1 ? n : TRI_NODE_EP_MAX - 1;
	memcpy(ep, spec, n);
	ep[n] = '\0';
	tri_strlcpy(key, h ? h + 1 : "", TR_NODE_KEY_LEN + 1);
}

static bool
key_allowed(struct tri_node_link *l, const char *key)
{
	for (int i = 0; i < l->conf.nallow; i++) {
		if (strcmp(l->conf.allow[i], key) == 0) {
			return true;
		}
	}
	return false;
}

/* A peer by endpoint, connecting our DEALER to it if new. */
static struct peer *
peer_add(struct tri_node_link *l, const char *ep, const char *key)
{
	struct peer *p;
	char         monep[64];
	int          one = 1, ivl = 100, zero = 0, hwm = 100000;

	if (strcmp(ep, l->ep) == 0) {
		return NULL; /* ourselves */
	}
	for (int i = 0; i < l->npeers; i++) {
		if (strcmp(l->peers[i].ep, ep) == 0) {
			return &l->peers[i];
		}
	}
	if (l->npeers == TRI_NODE_PEERS_MAX) {
		tr_log(TR_LOG_ERROR, "node %s: too many peers, %s ignored",
		    l->conf.name, ep);
		return NULL;
	}
	p = &l->peers[l->npeers++];
	memset(p, 0, sizeof(*p));
	tri_strlcpy(p->ep, ep, sizeof(p->ep));
	tri_strlcpy(p->key, key, sizeof(p->key));
	if (l->conf.secret[0] && (!key[0] || !key_allowed(l, key))) {
		tr_log(TR_LOG_WARNING,
		    "node %s: not connecting to %s: its public key is %s",
		    l->conf.name, ep,
		    key[0] ? "not on the allowlist" : "unknown");
		p->refused = true;
		return p;
	}
	p->dealer = zmq_socket(l->ctx, ZMQ_DEALER);
	zmq_setsockopt(p->dealer, ZMQ_IMMEDIATE, &one, sizeof(one));
	zmq_setsockopt(p->dealer, ZMQ_RECONNECT_IVL, &ivl, sizeof(ivl));
	zmq_setsockopt(p->dealer, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(p->dealer, ZMQ_SNDHWM, &hwm, sizeof(hwm));
	set_hb(l, p->dealer);
	if (l->conf.secret[0]) {
		zmq_setsockopt(p->dealer, ZMQ_CURVE_SERVERKEY, key, 41);
		zmq_setsockopt(
		    p->dealer, ZMQ_CURVE_PUBLICKEY, l->conf.public, 41);
		zmq_setsockopt(
		    p->dealer, ZMQ_CURVE_SECRETKEY, l->conf.secret, 41);
	}
	snprintf(monep, sizeof(monep), "inproc://node-mon-%d", l->nmon++);
	zmq_socket_monitor(p->dealer, monep,
	    ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED |
	        ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
	        ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL);
	p->mon = zmq_socket(l->ctx, ZMQ_PAIR);
	zmq_setsockopt(p->mon, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_connect(p->mon, monep);
	if (zmq_connect(p->dealer, ep) < 0) {
		tr_log(TR_LOG_ERROR, "node %s: cannot connect to %s: %s",
		    l->conf.name, ep, zmq_strerror(zmq_errno()));
	}
	tr_log(TR_LOG_INFO, "node %s: connecting to %s", l->conf.name, ep);
	return p;
}

/* ---- sending --------------------------------------------------------------
 */

/* Send [seq, pair seq][env][payload] on a peer's DEALER, waiting while
 * its queue is full (up to wait_ms).  The payload is copied by reference.
 * Every message gets the next sequence number of the link, so the
 * receiver sees a gap where messages were lost; a user message also gets
 * the next number of its (sender, recipient) pair (node-pairs.c), so the
 * receiver can tell the recipient how many of its messages were lost. */
static int
dealer_send(struct tri_node_link *l, struct peer *p, const struct tri_env *e,
    zmq_msg_t *payload, int wait_ms)
{
	uint8_t   env[TRI_ENV_MAX];
	zmq_msg_t copy;
	int       n        = tri_env_encode(e, env, sizeof(env));
	int64_t   deadline = tri_deadline(wait_ms);
	uint64_t  seq[2];
	int       act = TRI_FAULT_SEND;

	if (n < 0) {
		return n;
	}
	seq[1] = e->flags & TRI_FLAG_SYSTEM
	    ? 0
	    : tri_node_pairs_next(&l->pout, e->sender, e->recipient);
	if (l->fault.on && !(e->flags & (TRI_FLAG_SYSTEM | TRI_FLAG_REPLY))) {
		act = tri_node_fault_decide(&l->fault);
		if (act == TRI_FAULT_DROP) {
			p->seq_out++; /* lost on the wire */
			return 0;
		}
		if (act == TRI_FAULT_HOLD) {
			seq[0] = ++p->seq_out;
			return tri_node_fault_hold(&l->fault, p->dealer, seq,
			    env, (size_t) n, payload);
		}
	}
	seq[0] = p->seq_out + 1;
	for (;;) {
		zmq_pollitem_t it = { p->dealer, 0, ZMQ_POLLOUT, 0 };
		int            left, err;

		if (zmq_send(p->dealer, seq, sizeof(seq),
		        ZMQ_SNDMORE | ZMQ_DONTWAIT) == sizeof(seq)) {
			break;
		}
		err  = zmq_errno();
		left = err == EAGAIN ? tri_remaining(deadline, wait_ms) : 0;
		if (left == 0) {
			/* not sent: its pair number is given again */
			tri_node_pairs_undo(
			    &l->pout, e->sender, e->recipient, seq[1]);
			return -err;
		}
		(void) zmq_poll(&it, 1, left);
	}
	p->seq_out  = seq[0];
	p->last_out = tri_now_ms();
	/* the high-water mark is checked at the first frame only */
	(void) zmq_send(p->dealer, env, (size_t) n, ZMQ_SNDMORE);
	zmq_msg_init(&copy);
	zmq_msg_copy(&copy, payload);
	if (zmq_msg_send(&copy, p->dealer, 0) < 0) {
		zmq_msg_close(&copy);
		return -zmq_errno();
	}
	if (l->fault.on) {
		if (act == TRI_FAULT_DUP) {
			(void) tri_node_fault_resend(
			    p->dealer, seq, env, (size_t) n, payload);
		}
		tri_node_fault_release(&l->fault, p->dealer);
	}
	return 0;
}

/* To a peer that is up, waiting up to the detection time. */
static int
peer_send(struct tri_node_link *l, struct peer *p, const struct tri_env *e,
    zmq_msg_t *payload)
{
	if (!p || !p->dealer || !peer_up(p)) {
		return -EHOSTUNREACH;
	}
	return dealer_send(l, p, e, payload, l->conf.detect_ms);
}

static void
local_drop(struct tri_node_link *l, int i)
{
	zmq_close(l->local[i].sock);
	tri_live_close(l->local[i].live);
	l->local[i] = l->local[--l->nlocal];
}

/* The PUSH socket to local actor `to`, or NULL (and *dead) if it is not
 * alive. */
static void *
local_sock(struct tri_node_link *l, tr_addr to, bool *dead)
{
	char  ep[PATH_MAX + 8];
	int   hwm = 1000, zero = 0, live;
	void *s;

	*dead = false;
	for (int i = 0; i < l->nlocal; i++) {
		if (tr_addr_eq(l->local[i].to, to)) {
			if (tri_poll_fd(l->local[i].live, POLLIN, 0) > 0) {
				local_drop(l, i);
				*dead = true;
				return NULL;
			}
			return l->local[i].sock;
		}
	}
	/* make room: forget the dead, else the oldest */
	for (int i = 0; i < l->nlocal && l->nlocal == LOCAL_MAX;) {
		if (tri_poll_fd(l->local[i].live, POLLIN, 0) > 0) {
			local_drop(l, i);
		} else {
			i++;
		}
	}
	if (l->nlocal == LOCAL_MAX) {
		local_drop(l, 0);
	}
	live = tri_live_open(to);
	if (live < 0) {
		*dead = live == -ESRCH;
		return NULL;
	}
	if (tri_transport_endpoint(to, ep, sizeof(ep), true) < 0 ||
	    !(s = zmq_socket(l->ctx, ZMQ_PUSH))) {
		tri_live_close(live);
		return NULL;
	}
	zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
	if (zmq_connect(s, ep) < 0) {
		zmq_close(s);
		tri_live_close(live);
		return NULL;
	}
	l->local[l->nlocal++] = (struct local) { to, s, live };
	return s;
}

static void
dead_letter(struct tri_node_link *l, tr_addr to, const char *type)
{
	char a[TR_ADDR_STRLEN];

	l->st.dead_letters++;
	tr_log(TR_LOG_INFO,
	    "node %s: dead letter (%s) for %s: no such incarnation",
	    l->conf.name, type[0] ? type : "bytes",
	    tr_addr_format(to, a, sizeof(a)));
}

/* Send the head of the pending list while mailboxes take them; drop what
 * waited too long (counted). */
static void
flush_pending(struct tri_node_link *l)
{
	while (l->phead) {
		struct pending *p = l->phead;
		bool            dead;
		void           *s    = local_sock(l, p->to, &dead);
		bool            sent = false;

		if (s &&
		    zmq_msg_send(&p->env, s, ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0) {
			(void) zmq_msg_send(&p->payload, s, 0);
			l->st.received++;
			sent = true;
		} else if (dead) {
			dead_letter(l, p->to, "");
		} else if (s && tri_now_ms() - p->since < DELIVER_MS) {
			return; /* still full: later */
		} else {
			char a[TR_ADDR_STRLEN];

			l->st.dropped++;
			tr_log(TR_LOG_WARNING,
			    "node %s: message for %s dropped: its mailbox "
			    "stayed full for %d ms",
			    l->conf.name, tr_addr_format(p->to, a, sizeof(a)),
			    DELIVER_MS);
		}
		(void) sent;
		zmq_msg_close(&p->env);
		zmq_msg_close(&p->payload);
		l->phead = p->next;
		if (!l->phead) {
			l->ptail = NULL;
		}
		l->npending--;
		tri_free(p);
	}
}

/* Deliver to a mailbox of this run (e->recipient is local), now or, if it
 * is full (or messages already wait), after those that wait.  A message
 * for an incarnation not alive is a dead letter, counted. */
static void
deliver(struct tri_node_link *l, const struct tri_env *e, zmq_msg_t *payload,
    bool may_wait)
{
	uint8_t         env[TRI_ENV_MAX];
	void           *s    = NULL;
	bool            dead = false;
	int             n    = tri_env_encode(e, env, sizeof(env));
	struct pending *p;

	(void) may_wait;
	if (n < 0) {
		l->st.dropped++;
		return;
	}
	if (!l->phead) {
		zmq_msg_t copy;

		s = local_sock(l, e->recipient, &dead);
		/* a sender's probe (node-direct.h): not a letter */
		if (dead && strcmp(e->type, "trwire.DirectSync") == 0) {
			return;
		}
		if (dead) {
			dead_letter(l, e->recipient, e->type);
			return;
		}
		if (s &&
		    zmq_send(s, env, (size_t) n, ZMQ_SNDMORE | ZMQ_DONTWAIT) ==
		        n) {
			zmq_msg_init(&copy);
			zmq_msg_copy(&copy, payload);
			if (zmq_msg_send(&copy, s, 0) < 0) {
				zmq_msg_close(&copy);
			}
			l->st.received++;
			return;
		}
	}
	p = tri_calloc(1, sizeof(*p));
	if (!p || zmq_msg_init_size(&p->env, (size_t) n) < 0) {
		tri_free(p);
		l->st.dropped++;
		return;
	}
	memcpy(zmq_msg_data(&p->env), env, (size_t) n);
	zmq_msg_init(&p->payload);
	zmq_msg_copy(&p->payload, payload);
	p->to    = e->recipient;
	p->since = tri_now_ms();
	if (l->ptail) {
		l->ptail->next = p;
	} else {
		l->phead = p;
	}
	l->ptail = p;
	l->npending++;
}

/* A RemoteDown to the local watcher (made here). */
static void
down_local(struct tri_node_link *l, tr_addr watcher, tr_addr who,
    uint64_t token, int code, int cls)
{
	Trwire__RemoteDown d = TRWIRE__REMOTE_DOWN__INIT;
	Trwire__Addr       a = TRWIRE__ADDR__INIT;
	tr_msg            *m = NULL;

	a.node        = who.node;
	a.pid         = who.pid;
	a.incarnation = who.incarnation;
	d.token       = token;
	d.who         = &a;
	d.exitcode    = code;
	d.exit_class  = (Trwire__ExitClass) cls;
	if (tri_msg_new_system(&m, &d.base) < 0) {
		return;
	}
	m->env.sender    = who;
	m->env.recipient = watcher;
	if (tr_addr_is_alive(watcher)) {
		deliver(l, &m->env, &m->payload, false);
	}
	tr_msg_destroy(&m);
}

/* A RemoteDown to a remote watcher, through its node. */
static void
down_remote(struct tri_node_link *l, const struct rwatch *w, int code, int cls)
{
	Trwire__RemoteDown d = TRWIRE__REMOTE_DOWN__INIT;
	Trwire__Addr       a = TRWIRE__ADDR__INIT;
	tr_msg            *m = NULL;

	a.node        = l->id;
	a.pid         = w->who.pid;
	a.incarnation = w->who.incarnation;
	d.token       = w->token;
	d.who         = &a;
	d.exitcode    = code;
	d.exit_class  = (Trwire__ExitClass) cls;
	if (tri_msg_new_system(&m, &d.base) < 0) {
		return;
	}
	m->env.sender    = (tr_addr) { l->id, w->who.pid, w->who.incarnation };
	m->env.recipient = w->watcher;
	if (w->watcher.node == 0) { /* this run's, by our global address */
		if (tr_addr_is_alive(w->watcher)) {
			deliver(l, &m->env, &m->payload, false);
		}
	} else if (peer_send(l, peer_by_id(l, w->watcher.node), &m->env,
	               &m->payload) < 0) {
		l->st.unreachable++;
	}
	tr_msg_destroy(&m);
}

/* ---- node lost ------------------------------------------------------------
 */

static void
node_lost(struct tri_node_link *l, struct peer *p, const char *why)
{
	tr_log(TR_LOG_WARNING, "node %s: lost node %s (%s)", l->conf.name,
	    p->name[0] ? p->name : p->ep, why);
	for (size_t i = 0; i < l->nlw;) {
		if (l->lw[i].who.node == p->id) {
			struct lwatch w = l->lw[i];

			l->lw[i] = l->lw[--l->nlw];
			down_local(l, w.watcher, w.who, w.token, 0,
			    TR_EXIT_NOCONNECTION);
		} else {
			i++;
		}
	}
	for (size_t i = 0; i < l->nrw;) {
		if (l->rw[i].watcher.node == p->id) {
			tri_live_close(l->rw[i].fd);
			l->rw[i] = l->rw[--l->nrw];
		} else {
			i++;
		}
	}
	p->hello_in = false;
	p->rid_len  = 0;
	tri_trace_node_state(p->id, p->agent, p->name, false, why);
	publish(l);
}

/* ---- hello ----------------------------------------------------------------
 */

static void
send_hello(struct tri_node_link *l, struct peer *to)
{
	Trwire__NodeHello h    = TRWIRE__NODE_HELLO__INIT;
	Trwire__NodePeer  self = TRWIRE__NODE_PEER__INIT;
	Trwire__NodePeer  ps[TRI_NODE_PEERS_MAX], *pp[TRI_NODE_PEERS_MAX];
	Trwire__Addr      a = TRWIRE__ADDR__INIT;
	tr_msg           *m = NULL;
	size_t            n = 0;

	self.name       = l->conf.name;
	self.endpoint   = l->ep;
	self.public_key = l->conf.public;
	a.node          = l->id;
	a.pid           = l->agent.pid;
	a.incarnation   = l->agent.incarnation;
	h.self          = &self;
	h.id            = l->id;
	h.agent         = &a;
	h.cookie        = l->conf.cookie;
	for (int i = 0; i < l->npeers; i++) {
		if (&l->peers[i] == to || l->peers[i].refused) {
			continue;
		}
		trwire__node_peer__init(&ps[n]);
		ps[n].name       = l->peers[i].name;
		ps[n].endpoint   = l->peers[i].ep;
		ps[n].public_key = l->peers[i].key;
		pp[n]            = &ps[n];
		n++;
	}
	h.n_peers = n;
	h.peers   = pp;
	if (tri_msg_new_system(&m, &h.base) < 0) {
		return;
	}
	m->env.sender = (tr_addr) { l->id, l->agent.pid, l->agent.incarnation };
	/* sent before the peer counts as up */
	if (dealer_send(l, to, &m->env, &m->payload, 1000) < 0) {
		tr_log(TR_LOG_WARNING, "node %s: hello to %s not sent",
		    l->conf.name, to->ep);
	}
	tr_msg_destroy(&m);
}

static bool seq_check(struct tri_node_link *l, struct peer *p, uint64_t seq);

static void
hello_in(struct tri_node_link *l, const uint8_t *rid, size_t ridn, uint64_t seq,
    const tr_msg *m)
{
	ProtobufCMessage  *pb;
	Trwire__NodeHello *h;
	struct peer       *p;

	if (tr_msg_unpack(m, &trwire__node_hello__descriptor, &pb) < 0) {
		l->st.dropped++;
		return;
	}
	h = (Trwire__NodeHello *) pb;
	if (!h->self || !h->agent || !h->self->endpoint[0] ||
	    !tri_node_name_ok(h->self->name) ||
	    h->id != tr_node_id(h->self->name) ||
	    strncmp(h->self->endpoint, "tcp://", 6) != 0 ||
	    strlen(h->self->endpoint) >= TRI_NODE_EP_MAX ||
	    strlen(h->self->public_key) > TR_NODE_KEY_LEN) {
		l->st.dropped++;
		tr_log(TR_LOG_WARNING, "node %s: malformed hello ignored",
		    l->conf.name);
		goto out;
	}
	if (strcmp(h->cookie, l->conf.cookie) != 0) {
		l->st.refused++;
		tr_log(TR_LOG_WARNING,
		    "node %s: node %s has another cookie: ignored",
		    l->conf.name, h->self->name);
		goto out;
	}
	if (h->id == l->id) {
		tr_log(TR_LOG_ERROR,
		    "node %s: node %s has this node's id %" PRIu32 ": ignored",
		    l->conf.name, h->self->name, h->id);
		goto out;
	}
	p = peer_by_id(l, h->id);
	if (p && strcmp(p->ep, h->self->endpoint) != 0) {
		tri_strlcpy(p->ep, h->self->endpoint, sizeof(p->ep));
	}
	if (!p) {
		p = peer_add(l, h->self->endpoint, h->self->public_key);
	}
	if (!p || p->refused) {
		goto out;
	}
	tri_strlcpy(p->name, h->self->name, sizeof(p->name));
	p->id    = h->id;
	p->agent = (tr_addr) { h->id, h->agent->pid, h->agent->incarnation };
	/* the same agent again (a reconnect): what it sent on the broken
	 * connection after our last is lost; a new agent starts afresh */
	if (!tr_addr_eq(p->seq_agent, p->agent)) {
		p->seq_agent = p->agent;
		p->seq_in    = seq - 1;
		/* its pair numbers start again, and it knows none of ours */
		tri_node_pairs_forget_node(&l->pin, p->id);
		tri_node_pairs_forget_node(&l->pout, p->id);
	}
	(void) seq_check(l, p, seq);
	memcpy(p->rid, rid, ridn);
	p->rid_len  = ridn;
	p->hello_in = true;
	p->last_in  = tri_now_ms();
	p->suspect  = false;
	tri_trace_node_state(p->id, p->agent, p->name, peer_up(p), NULL);
	tr_log(TR_LOG_INFO, "node %s: hello from node %s (%s)%s", l->conf.name,
	    p->name, p->ep, peer_up(p) ? ": up" : "");
	for (size_t i = 0; i < h->n_peers; i++) {
		const Trwire__NodePeer *q = h->peers[i];

		if (strncmp(q->endpoint, "tcp://", 6) == 0 &&
		    strlen(q->endpoint) < TRI_NODE_EP_MAX &&
		    strlen(q->public_key) <= TR_NODE_KEY_LEN) {
			(void) peer_add(l, q->endpoint, q->public_key);
		}
	}
	publish(l);
out:
	protobuf_c_message_free_unpacked(pb, NULL);
}

/* ---- the gateway: this run -> other nodes ---------------------------------
 */

/* Link/Unlink carry the linker's address in the payload: globalise it. */
static void
globalise_link(struct tri_node_link *l, tr_msg *m)
{
	const ProtobufCMessageDescriptor *d =
	    strcmp(m->env.type, "trwire.Link") == 0 ? &trwire__link__descriptor
	    : strcmp(m->env.type, "trwire.Unlink") == 0
	    ? &trwire__unlink__descriptor
	    : NULL;
	ProtobufCMessage *pb;
	Trwire__Addr     *from;
	tr_msg           *nm = NULL;

	if (!d || tr_msg_unpack(m, d, &pb) < 0) {
		return;
	}
	from = d == &trwire__link__descriptor ? ((Trwire__Link *) pb)->from
	                                      : ((Trwire__Unlink *) pb)->from;
	if (from && from->node == 0) {
		from->node = l->id;
		if (tri_msg_new_system(&nm, pb) == 0) {
			zmq_msg_move(&m->payload, &nm->payload);
			tr_msg_destroy(&nm);
		}
	}
	protobuf_c_message_free_unpacked(pb, NULL);
}

static void
lwatch_add(struct tri_node_link *l, struct lwatch w)
{
	if (l->nlw == l->caplw) {
		size_t         ncap = l->caplw ? l->caplw * 2 : 16;
		struct lwatch *n    = tri_realloc(l->lw, ncap * sizeof(*n));

		if (!n) {
			return;
		}
		l->lw    = n;
		l->caplw = ncap;
	}
	l->lw[l->nlw++] = w;
}

static void
lwatch_remove(struct tri_node_link *l, tr_addr watcher, uint64_t token)
{
	for (size_t i = 0; i < l->nlw; i++) {
		if (l->lw[i].token == token &&
		    tr_addr_eq(l->lw[i].watcher, watcher)) {
			l->lw[i] = l->lw[--l->nlw];
			return;
		}
	}
}

static uint64_t
token_of(const tr_msg *m, const ProtobufCMessageDescriptor *d)
{
	ProtobufCMessage *pb;
	uint64_t          t = 0;

	if (tr_msg_unpack(m, d, &pb) == 0) {
		t = d == &trwire__remote_watch__descriptor
		    ? ((Trwire__RemoteWatch *) pb)->token
		    : ((Trwire__RemoteUnwatch *) pb)->token;
		protobuf_c_message_free_unpacked(pb, NULL);
	}
	return t;
}

/* Read one message of a socket: env (decoded) and payload; with a
 * routing id and the sequence numbers (link, pair) first on the ROUTER.
 * 1 read, 0 nothing, < 0 malformed. */
static int
read_msg(
    void *s, bool routed, uint8_t *rid, size_t *ridn, uint64_t *seq, tr_msg *m)
{
	zmq_msg_t f;
	int       r = 0, more;

	zmq_msg_init(&f);
	if (zmq_msg_recv(&f, s, ZMQ_DONTWAIT) < 0) {
		zmq_msg_close(&f);
		return 0;
	}
	if (routed) {
		size_t n = zmq_msg_size(&f);

		*ridn = n <= 256 ? n : 0;
		memcpy(rid, zmq_msg_data(&f), *ridn);
		more = zmq_msg_more(&f);
		zmq_msg_close(&f);
		zmq_msg_init(&f);
		if (!more || zmq_msg_recv(&f, s, 0) < 0) {
			zmq_msg_close(&f);
			return -EPROTO;
		}
		/* the link sequence number and the pair's */
		if (zmq_msg_size(&f) != 2 * sizeof(*seq) || !zmq_msg_more(&f)) {
			r = -EPROTO;
		} else {
			memcpy(seq, zmq_msg_data(&f), 2 * sizeof(*seq));
		}
		zmq_msg_close(&f);
		zmq_msg_init(&f);
		if (r < 0 || zmq_msg_recv(&f, s, 0) < 0) {
			zmq_msg_close(&f);
			/* what is left of it is read as a malformed next one */
			return -EPROTO;
		}
	}
	more = zmq_msg_more(&f);
	if (!more ||
	    tri_env_decode(zmq_msg_data(&f), zmq_msg_size(&f), &m->env) < 0) {
		r = -EPROTO;
	}
	zmq_msg_close(&f);
	if (more && zmq_msg_recv(&m->payload, s, 0) < 0) {
		return -EPROTO;
	}
	while (zmq_msg_more(&m->payload)) { /* more than two frames */
		zmq_msg_t x;

		r = -EPROTO;
		zmq_msg_init(&x);
		(void) zmq_msg_recv(&x, s, 0);
		more = zmq_msg_more(&x);
		zmq_msg_close(&x);
		if (!more) {
			break;
		}
	}
	return r < 0 ? r : 1;
}

/* ---- queues for nodes that are not up (node-queue.c) ---------------------
 */

/* A message that was waiting for its node (or would have) is dropped:
 * counted, and its sender will be told (user messages; the system ones
 * have their monitors). */
static void
queue_drop(struct tri_node_link *l, const struct tri_env *e, int kind)
{
	l->st.unreachable++;
	if (!(e->flags & TRI_FLAG_SYSTEM)) {
		tr_addr s = e->sender;

		s.node = 0;
		tri_node_drops_add(&l->drops, s, e->recipient, kind);
	}
}

static void
queue_for(struct tri_node_link *l, struct peer *p, tr_msg *m)
{
	if (p->q.n >= (size_t) l->conf.queue_max) {
		if (l->drops.n == 0) {
			tr_log(TR_LOG_WARNING,
			    "node %s: the queue for node %s is full (%d): "
			    "messages for it are dropped",
			    l->conf.name, p->name, l->conf.queue_max);
		}
		queue_drop(l, &m->env, TR_NODE_NOTICE_QUEUE_FULL);
		return;
	}
	if (tri_node_queue_push(&p->q, &m->env, &m->payload, tri_now_ms()) <
	    0) {
		queue_drop(l, &m->env, TR_NODE_NOTICE_QUEUE_FULL);
		return;
	}
	if (p->q.n == 1 && !peer_up(p)) {
		tr_log(TR_LOG_INFO,
		    "node %s: node %s is not up: messages for it wait (at "
		    "most %d, %d ms)",
		    l->conf.name, p->name, l->conf.queue_max, l->conf.queue_ms);
	}
}

/* Tell the senders of dropped messages (one notice per pair and kind). */
static void
report_drops(struct tri_node_link *l)
{
	for (size_t i = 0; i < l->drops.n; i++) {
		struct tri_node_drop *d = &l->drops.d[i];
		struct peer          *p = peer_by_id(l, d->to.node);
		tr_msg               *n = NULL;

		if (tr_addr_is_alive(d->sender) &&
		    tri_node_notice_new(&n, d->kind, d->sender, d->to,
		        p ? p->name : "", d->count, 0) == 0) {
			deliver(l, &n->env, &n->payload, true);
			tr_msg_destroy(&n);
		}
	}
	l->drops.n = 0;
}

/* Send what waits for nodes that are up again, in order, as far as their
 * sockets take it; drop what waited too long. */
static void
queue_tick(struct tri_node_link *l)
{
	int64_t now = tri_now_ms();

	for (int i = 0; i < l->npeers; i++) {
		struct peer *p       = &l->peers[i];
		size_t       sent    = 0;
		uint64_t     expired = 0;

		while (p->q.head && peer_up(p) &&
		    dealer_send(
		        l, p, &p->q.head->env, &p->q.head->payload, 0) == 0) {
			l->st.sent++;
			l->st.queued++;
			sent++;
			tri_node_queue_pop(&p->q);
		}
		if (sent) {
			tr_log(TR_LOG_INFO,
			    "node %s: %zu message(s) that waited sent to node "
			    "%s",
			    l->conf.name, sent, p->name);
		}
		while (
		    p->q.head && now - p->q.head->since >= l->conf.queue_ms) {
			queue_drop(
			    l, &p->q.head->env, TR_NODE_NOTICE_QUEUE_EXPIRED);
			tri_node_queue_pop(&p->q);
			expired++;
		}
		if (expired) {
			tr_log(TR_LOG_WARNING,
			    "node %s: %" PRIu64 " message(s) for node %s "
			    "dropped: it stayed down %d ms",
			    l->conf.name, expired, p->name, l->conf.queue_ms);
		}
	}
	report_drops(l);
}

static void rwatch_add(
    struct tri_node_link *l, tr_addr watcher, tr_addr who, uint64_t token);
static void rwatch_remove(
    struct tri_node_link *l, tr_addr watcher, uint64_t token);

/* One message from this run's processes, meant for another node. */
static void
from_gw(struct tri_node_link *l, tr_msg *m)
{
	struct peer *p;
	bool         sys = (m->env.flags & TRI_FLAG_SYSTEM) != 0;
	bool watch = sys && strcmp(m->env.type, "trwire.RemoteWatch") == 0;

	if (m->env.recipient.node == 0 || m->env.sender.node != 0) {
		l->st.dropped++;
		return;
	}
	if (m->env.recipient.node == l->id) { /* one of ours, global form */
		m->env.recipient.node = 0;
		m->env.sender.node    = 0;
		if (watch) { /* watched here, answered here */
			rwatch_add(l, m->env.sender, m->env.recipient,
			    token_of(m, &trwire__remote_watch__descriptor));
		} else if (sys &&
		    strcmp(m->env.type, "trwire.RemoteUnwatch") == 0) {
			rwatch_remove(l, m->env.sender,
			    token_of(m, &trwire__remote_unwatch__descriptor));
		} else {
			deliver(l, &m->env, &m->payload, true);
		}
		return;
	}
	p = peer_by_id(l, m->env.recipient.node);
	if (watch) {
		struct lwatch w = { m->env.sender, m->env.recipient,
			token_of(m, &trwire__remote_watch__descriptor) };

		if (!p || !peer_up(p)) {
			down_local(l, w.watcher, w.who, w.token, 0,
			    TR_EXIT_NOCONNECTION);
			return;
		}
		lwatch_add(l, w);
	} else if (sys && strcmp(m->env.type, "trwire.RemoteUnwatch") == 0) {
		lwatch_remove(l, m->env.sender,
		    token_of(m, &trwire__remote_unwatch__descriptor));
	} else if (sys) {
		globalise_link(l, m);
	}
	m->env.sender.node = l->id;
	if (m->env.reply_to.pid && m->env.reply_to.node == 0) {
		m->env.reply_to.node = l->id;
	}
	/* a probe of the direct path (node-direct.c) for a node that is not
	 * up is not the user's message: not queued, not counted; the sender
	 * stays on this path and asks again later */
	if (sys && p && !peer_up(p) &&
	    strncmp(m->env.type, "trwire.DirectSync", 17) == 0) {
		return;
	}
	/* a known node that is not up (or has messages waiting): wait */
	if (p && p->id && p->dealer && l->conf.queue_max > 0 &&
	    (!peer_up(p) || p->q.head)) {
		queue_for(l, p, m);
		return;
	}
	if (peer_send(l, p, &m->env, &m->payload) < 0) {
		char a[TR_ADDR_STRLEN];

		l->st.unreachable++;
		tr_log(TR_LOG_INFO,
		    "node %s: message for %s dropped: its node is not "
		    "connected",
		    l->conf.name,
		    tr_addr_format(m->env.recipient, a, sizeof(a)));
		return;
	}
	l->st.sent++;
}

/* ---- the router: other nodes -> this run ----------------------------------
 */

static void
rwatch_add(
    struct tri_node_link *l, tr_addr watcher, tr_addr who, uint64_t token)
{
	struct rwatch w = { watcher, who, token, tri_live_open(who) };

	if (w.fd < 0) {
		down_remote(l, &w, 0, TR_EXIT_NOPROC);
		return;
	}
	if (l->nrw == l->caprw) {
		size_t         ncap = l->caprw ? l->caprw * 2 : 16;
		struct rwatch *n    = tri_realloc(l->rw, ncap * sizeof(*n));

		if (!n) {
			tri_live_close(w.fd);
			return;
		}
		l->rw    = n;
		l->caprw = ncap;
	}
	l->rw[l->nrw++] = w;
}

static void
rwatch_remove(struct tri_node_link *l, tr_addr watcher, uint64_t token)
{
	for (size_t i = 0; i < l->nrw; i++) {
		if (l->rw[i].token == token &&
		    tr_addr_eq(l->rw[i].watcher, watcher)) {
			tri_live_close(l->rw[i].fd);
			l->rw[i] = l->rw[--l->nrw];
			return;
		}
	}
}

/* Messages lost between seq_in and seq (a broken connection, a drop):
 * counted and logged, never silent; a repeat is never delivered. */
static bool
seq_check(struct tri_node_link *l, struct peer *p, uint64_t seq)
{
	if (seq <= p->seq_in) {
		l->st.dropped++;
		tr_log(TR_LOG_WARNING,
		    "node %s: message %" PRIu64 " from node %s came again or "
		    "out of order: dropped",
		    l->conf.name, seq, p->name);
		return false;
	}
	if (seq > p->seq_in + 1) {
		l->st.lost += seq - p->seq_in - 1;
		tr_log(TR_LOG_WARNING,
		    "node %s: %" PRIu64 " message(s) from node %s were lost "
		    "(link sequence %" PRIu64 " after %" PRIu64 ")",
		    l->conf.name, seq - p->seq_in - 1, p->name, seq, p->seq_in);
	}
	p->seq_in = seq;
	return true;
}

/* A gap in what m's sender sent its recipient (pair sequence numbers):
 * a notice to the recipient, before m, counted. */
static void
pair_check(struct tri_node_link *l, struct peer *p, uint64_t pseq, tr_msg *m)
{
	uint64_t first, lost;
	tr_msg  *n = NULL;
	char     a[TR_ADDR_STRLEN], b[TR_ADDR_STRLEN];

	lost = tri_node_pairs_check(
	    &l->pin, m->env.sender, m->env.recipient, pseq, &first);
	if (lost == 0) {
		return;
	}
	l->st.gaps++;
	tr_log(TR_LOG_WARNING,
	    "node %s: %" PRIu64 " message(s) from %s to %s were lost "
	    "(pair sequence %" PRIu64 " to %" PRIu64 "): the recipient is told",
	    l->conf.name, lost, tr_addr_format(m->env.sender, a, sizeof(a)),
	    tr_addr_format(m->env.recipient, b, sizeof(b)), first,
	    first + lost - 1);
	if (tri_node_notice_new(&n, TR_NODE_NOTICE_GAP, m->env.recipient,
	        m->env.sender, p->name, lost, first) == 0) {
		deliver(l, &n->env, &n->payload, true);
		tr_msg_destroy(&n);
	}
}

/* Something came from p: it is not silent. */
static void
heard(struct tri_node_link *l, struct peer *p)
{
	p->last_in = tri_now_ms();
	if (p->suspect) {
		p->suspect = false;
		tr_log(TR_LOG_INFO, "node %s: node %s is heard again",
		    l->conf.name, p->name);
		tri_trace_node_suspect(p->id, p->agent, p->name, false, 0);
	}
}

/* Every round of the link thread: a NodePing to each peer that is up and
 * was sent nothing for a quarter of the detection time (ZMTP's own
 * heartbeats are not seen by the application), and a peer silent for half
 * of it is suspect (logged, a trace event); the heartbeat timeout still
 * decides when it is lost. */
static void
ping_tick(struct tri_node_link *l)
{
	int64_t now = tri_now_ms();

	for (int i = 0; i < l->npeers; i++) {
		struct peer     *p = &l->peers[i];
		Trwire__NodePing b = TRWIRE__NODE_PING__INIT;
		tr_msg          *m = NULL;

		if (!p->dealer || !peer_up(p)) {
			p->suspect = false;
			continue;
		}
		if (!p->last_in) {
			p->last_in = now;
		}
		if (now - p->last_out >= l->conf.detect_ms / 4 &&
		    tri_msg_new_system(&m, &b.base) == 0) {
			m->env.sender    = (tr_addr) { l->id, l->agent.pid,
				   l->agent.incarnation };
			m->env.recipient = p->agent;
			(void) dealer_send(l, p, &m->env, &m->payload, 0);
			tr_msg_destroy(&m);
		}
		if (!p->suspect && now - p->last_in > l->conf.detect_ms / 2) {
			p->suspect = true;
			tr_log(TR_LOG_INFO,
			    "node %s: node %s is suspect: nothing heard for "
			    "%" PRId64 " ms",
			    l->conf.name, p->name, now - p->last_in);
			tri_trace_node_suspect(
			    p->id, p->agent, p->name, true, now - p->last_in);
		}
	}
}

static void
from_router(struct tri_node_link *l, const uint8_t *rid, size_t ridn,
    const uint64_t *seqs, tr_msg *m)
{
	uint64_t seq = seqs[0];

	struct peer *p   = peer_by_rid(l, rid, ridn);
	bool         sys = (m->env.flags & TRI_FLAG_SYSTEM) != 0;

	if (sys && strcmp(m->env.type, "trwire.NodeHello") == 0) {
		hello_in(l, rid, ridn, seq, m);
		return;
	}
	if (!p || m->env.sender.node != p->id) {
		l->st.dropped++; /* before its hello, or spoofed */
		return;
	}
	if (!seq_check(l, p, seq)) {
		return;
	}
	heard(l, p);
	if (sys && strcmp(m->env.type, "trwire.NodeBye") == 0) {
		node_lost(l, p, "it stopped");
		return;
	}
	if (sys && strcmp(m->env.type, "trwire.NodePing") == 0) {
		return; /* heard: that was all it said */
	}
	if (m->env.recipient.node != l->id) {
		l->st.dropped++;
		return;
	}
	m->env.recipient.node = 0;
	if (sys && strcmp(m->env.type, "trwire.RemoteWatch") == 0) {
		rwatch_add(l, m->env.sender, m->env.recipient,
		    token_of(m, &trwire__remote_watch__descriptor));
		return;
	}
	if (sys && strcmp(m->env.type, "trwire.RemoteUnwatch") == 0) {
		rwatch_remove(l, m->env.sender,
		    token_of(m, &trwire__remote_unwatch__descriptor));
		return;
	}
	if (sys && strcmp(m->env.type, "trwire.RemoteDown") == 0) {
		ProtobufCMessage *pb;

		if (tr_msg_unpack(m, &trwire__remote_down__descriptor, &pb) ==
		    0) {
			lwatch_remove(l, m->env.recipient,
			    ((Trwire__RemoteDown *) pb)->token);
			protobuf_c_message_free_unpacked(pb, NULL);
		}
		deliver(l, &m->env, &m->payload, false);
		return;
	}
	if (!sys) {
		pair_check(l, p, seqs[1], m);
	}
	deliver(l, &m->env, &m->payload, true);
}

/* ---- the loop -------------------------------------------------------------
 */

static void
drain(struct tri_node_link *l, void *s, bool routed)
{
	for (int k = 0; k < 1000; k++) {
		uint8_t  rid[256];
		size_t   ridn   = 0;
		uint64_t seq[2] = { 0, 0 };
		tr_msg  *m      = tri_msg_alloc();
		int      r;

		if (!m) {
			return;
		}
		zmq_msg_init(&m->payload);
		r = read_msg(s, routed, rid, &ridn, seq, m);
		if (r == 1) {
			if (routed) {
				from_router(l, rid, ridn, seq, m);
			} else {
				from_gw(l, m);
			}
		} else if (r < 0) {
			l->st.dropped++;
		}
		tr_msg_destroy(&m);
		if (r == 0) {
			return;
		}
	}
}

static void
monitor_event(struct tri_node_link *l, struct peer *p)
{
	zmq_msg_t f;
	uint16_t  ev = 0;
	int       more;

	zmq_msg_init(&f);
	if (zmq_msg_recv(&f, p->mon, ZMQ_DONTWAIT) < 0) {
		zmq_msg_close(&f);
		return;
	}
	if (zmq_msg_size(&f) >= 2) {
		memcpy(&ev, zmq_msg_data(&f), 2);
	}
	more = zmq_msg_more(&f);
	zmq_msg_close(&f);
	while (more) {
		zmq_msg_init(&f);
		(void) zmq_msg_recv(&f, p->mon, 0);
		more = zmq_msg_more(&f);
		zmq_msg_close(&f);
	}
	if (ev == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
		p->connected = true;
		p->warned    = false;
		send_hello(l, p);
		tri_trace_node_state(
		    p->id, p->agent, p->name, peer_up(p), NULL);
		publish(l);
	} else if (ev == ZMQ_EVENT_DISCONNECTED) {
		bool was = peer_up(p);

		p->connected = false;
		if (was || p->hello_in) {
			node_lost(
			    l, p, "connection closed or heartbeat timed out");
		}
		publish(l);
	} else if (ev == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH ||
	    ev == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) {
		l->st.refused++;
		if (!p->warned) { /* it retries: say it once */
			tr_log(TR_LOG_WARNING,
			    "node %s: %s refused the connection "
			    "(authentication)",
			    l->conf.name, p->ep);
		}
		p->warned = true;
		publish(l);
	}
}

static void *
link_main(void *arg)
{
	struct tri_node_link *l   = arg;
	zmq_pollitem_t       *it  = NULL;
	size_t                cap = 0;

	while (!atomic_load(&l->stop)) {
		size_t n = 3 + (size_t) l->npeers + l->nrw, k = 0;

		if (n > cap) {
			zmq_pollitem_t *ni = tri_realloc(it, n * sizeof(*ni));

			if (!ni) {
				usleep(10000);
				continue;
			}
			it  = ni;
			cap = n;
		}
		it[k++] = (zmq_pollitem_t) { l->gw, 0, ZMQ_POLLIN, 0 };
		/* too much waits for full mailboxes: other nodes wait (TCP
		 * back-pressure), this run's own sends still go out */
		it[k++] = (zmq_pollitem_t) { l->router, 0,
			l->npending < PENDING_MAX ? ZMQ_POLLIN : 0, 0 };
		it[k++] = (zmq_pollitem_t) { l->zap, 0, ZMQ_POLLIN, 0 };
		for (int i = 0; i < l->npeers; i++) {
			it[k++] = (zmq_pollitem_t) { l->peers[i].mon, 0,
				l->peers[i].mon ? ZMQ_POLLIN : 0, 0 };
		}
		for (size_t i = 0; i < l->nrw; i++) {
			it[k++] = (zmq_pollitem_t) { NULL, l->rw[i].fd,
				ZMQ_POLLIN, 0 };
		}
		if (zmq_poll(it, (int) k, l->phead ? 1 : 100) < 0 &&
		    zmq_errno() != EINTR) {
			break;
		}
		if (it[2].revents &&
		    tri_node_zap_serve(l->zap, &l->conf) == 0) {
			l->st.refused++;
		}
		for (int i = 0; i < l->npeers; i++) {
			if (it[3 + i].revents) {
				monitor_event(l, &l->peers[i]);
			}
		}
		flush_pending(l);
		if (it[1].revents) {
			drain(l, l->router, true);
		}
		queue_tick(l);
		if (it[0].revents) {
			drain(l, l->gw, false);
		}
		/* watched local actors that ended: what they sent first */
		for (size_t i = 0; i < l->nrw;) {
			struct rwatch w = l->rw[i];
			int           code, cls;

			if (tri_poll_fd(w.fd, POLLIN, 0) <= 0) {
				i++;
				continue;
			}
			drain(l, l->gw, false);
			tri_live_learn_exit(w.who, w.fd, &code, &cls);
			tri_live_close(w.fd);
			l->rw[i] = l->rw[--l->nrw];
			down_remote(l, &w, code, cls);
		}
		ping_tick(l);
		tri_node_fault_tick(
		    &l->fault); /* test-only hook, node-fault.c */
		publish(l);
	}
	tri_free(it);
	return NULL;
}

/* ---- start and stop -------------------------------------------------------
 */

static int
bind_sockets(struct tri_node_link *l)
{
	char   gw[PATH_MAX + 8];
	size_t n    = sizeof(l->ep);
	int    zero = 0, one = 1, hwm = 100000;

	l->ctx = zmq_ctx_new();
	if (!l->ctx) {
		return -ENOMEM;
	}
	l->zap = zmq_socket(l->ctx, ZMQ_REP);
	if (!l->zap || zmq_bind(l->zap, "inproc://zeromq.zap.01") < 0) {
		return -zmq_errno();
	}
	zmq_setsockopt(l->zap, ZMQ_LINGER, &zero, sizeof(zero));
	l->router = zmq_socket(l->ctx, ZMQ_ROUTER);
	zmq_setsockopt(l->router, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(l->router, ZMQ_RCVHWM, &hwm, sizeof(hwm));
	set_hb(l, l->router);
	if (l->conf.secret[0]) {
		zmq_setsockopt(l->router, ZMQ_CURVE_SERVER, &one, sizeof(one));
		zmq_setsockopt(
		    l->router, ZMQ_CURVE_SECRETKEY, l->conf.secret, 41);
		zmq_setsockopt(l->router, ZMQ_ZAP_DOMAIN, "troupe", 6);
	}
	if (zmq_bind(l->router, l->conf.listen) < 0) {
		int e = zmq_errno();

		tr_log(TR_LOG_ERROR, "node %s: cannot listen on %s: %s",
		    l->conf.name, l->conf.listen, zmq_strerror(e));
		return -e;
	}
	zmq_getsockopt(l->router, ZMQ_LAST_ENDPOINT, l->ep, &n);
	l->gw = zmq_socket(l->ctx, ZMQ_PULL);
	zmq_setsockopt(l->gw, ZMQ_LINGER, &zero, sizeof(zero));
	if (tri_node_gw_endpoint(gw, sizeof(gw), true) < 0 ||
	    zmq_bind(l->gw, gw) < 0) {
		tr_log(TR_LOG_ERROR, "node %s: cannot bind %s: %s",
		    l->conf.name, gw, zmq_strerror(zmq_errno()));
		return -EADDRINUSE;
	}
	return 0;
}

static void
close_all(struct tri_node_link *l)
{
	tri_node_fault_release(&l->fault, NULL);
	for (int i = 0; i < l->npeers; i++) {
		if (l->peers[i].dealer) {
			zmq_socket_monitor(l->peers[i].dealer, NULL, 0);
			zmq_close(l->peers[i].dealer);
		}
		if (l->peers[i].mon) {
			zmq_close(l->peers[i].mon);
		}
		tri_node_queue_clear(&l->peers[i].q);
	}
	tri_node_pairs_free(&l->pin);
	tri_node_pairs_free(&l->pout);
	tri_node_drops_free(&l->drops);
	while (l->phead) {
		struct pending *p = l->phead;

		l->phead = p->next;
		zmq_msg_close(&p->env);
		zmq_msg_close(&p->payload);
		tri_free(p);
	}
	while (l->nlocal > 0) {
		local_drop(l, l->nlocal - 1);
	}
	for (size_t i = 0; i < l->nrw; i++) {
		tri_live_close(l->rw[i].fd);
	}
	if (l->gw) {
		char path[PATH_MAX];

		zmq_close(l->gw);
		if (tri_node_gw_endpoint(path, sizeof(path), false) == 0) {
			(void) unlink(path);
		}
	}
	if (l->router) {
		zmq_close(l->router);
	}
	if (l->zap) {
		zmq_close(l->zap);
	}
	if (l->ctx) {
		zmq_ctx_term(l->ctx);
	}
	tri_free(l->lw);
	tri_free(l->rw);
	tri_free(l);
}

int
tri_node_link_start(const struct tri_node_conf *c, uint32_t id, tr_addr agent,
    struct tri_node_shared *sh, struct tri_node_link **ret, char *ret_endpoint,
    size_t n)
{
	struct tri_node_link *l = tri_calloc(1, sizeof(*l));
	int                   r;

	if (!l) {
		return -ENOMEM;
	}
	l->conf  = *c;
	l->id    = id;
	l->agent = agent;
	l->sh    = sh;
	r        = bind_sockets(l);
	if (r < 0) {
		close_all(l);
		return r;
	}
	for (int i = 0; i < c->npeers; i++) {
		char ep[TRI_NODE_EP_MAX], key[TR_NODE_KEY_LEN + 1];

		split_peer(c->peers[i], ep, key);
		(void) peer_add(l, ep, key);
	}
	tri_node_fault_parse(&l->fault, l->conf.name);
	publish(l);
	tri_strlcpy(ret_endpoint, l->ep, n);
	r = pthread_create(&l->thread, NULL, link_main, l);
	if (r != 0) {
		close_all(l);
		return -r;
	}
	*ret = l;
	return 0;
}

void
tri_node_link_stop(struct tri_node_link **lp)
{
	struct tri_node_link *l = *lp;

	if (!l) {
		return;
	}
	atomic_store(&l->stop, true);
	pthread_join(l->thread, NULL);
	/* goodbye: the peers see us gone at once */
	for (int i = 0; i < l->npeers; i++) {
		Trwire__NodeBye b      = TRWIRE__NODE_BYE__INIT;
		tr_msg         *m      = NULL;
		struct peer    *p      = &l->peers[i];
		int             linger = 500;

		if (!p->dealer || !peer_up(p) ||
		    tri_msg_new_system(&m, &b.base) < 0) {
			continue;
		}
		m->env.sender =
		    (tr_addr) { l->id, l->agent.pid, l->agent.incarnation };
		m->env.recipient = p->agent;
		(void) peer_send(l, p, &m->env, &m->payload);
		tr_msg_destroy(&m);
		zmq_setsockopt(p->dealer, ZMQ_LINGER, &linger, sizeof(linger));
	}
	close_all(l);
	*lp = NULL;
}
