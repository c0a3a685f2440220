/* SPDX-License-Identifier: MIT */
/* Peers: sockets to recipients, the send path, the exit handshake. */
#include "peer.h"

#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "event.h"
#include "fds.h"
#include "inbox.h"
#include "liveness.h"
#include "log.h"
#include "loop.h"
#include "mailbox.h"
#include "node-direct.h"
#include "node.pb-c.h"
#include "protocol.h"
#include "rlive.h"
#include "transport.h"
#include "troupe.pb-c.h"
#include "util.h"

#define PEER_BUCKETS  64
#define SEND_SLICE_MS 20 /* a blocked send checks its peer's liveness */
#define DIRECT_MIN_MS 10 /* a send that may wait less never switches */

struct tri_peer {
	tr_addr  addr;
	void    *sock;
	int      live_fd;
	uint64_t sent;       /* messages handed to this peer's socket */
	uint8_t  prefix[48]; /* envelope fields 1-2: us, then peer */
	int      prefix_len;
	int      sndtimeo; /* ZMQ_SNDTIMEO now set */
	/* another node's actor: the direct path (node-direct.h); while it
	 * is taken, sock is the direct socket and agent_sock the one to the
	 * node agent, kept to fall back on */
	struct tri_direct *direct;
	uint64_t           direct_n; /* user messages sent on it */
	void              *agent_sock;
	bool               is_direct;
	struct tri_peer   *next;
};

static struct tri_peer *peers[PEER_BUCKETS];
static uint64_t         next_id, sent_total;
static int              linger_ms = TR_TIMEOUT_INFINITE;

static unsigned
bucket(tr_addr a)
{
	return (unsigned) ((a.pid * 2654435761u) ^ a.incarnation) %
	    PEER_BUCKETS;
}

static void
close_sock(void *sock, int linger)
{
	tri_fds_forget_socket(sock);
	zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_close(sock);
}

static void
peer_free(struct tri_peer *p, int linger)
{
	close_sock(p->sock, linger);
	if (p->agent_sock) {
		close_sock(p->agent_sock, linger);
	}
	tri_direct_free(&p->direct, true);
	if (p->live_fd >= 0) {
		tri_live_close(p->live_fd);
	}
	tri_free(p);
}

/* The peer of address a, or NULL. */
static struct tri_peer *
peer_lookup(tr_addr a)
{
	for (struct tri_peer *p = peers[bucket(a)]; p; p = p->next) {
		if (tr_addr_eq(p->addr, a)) {
			return p;
		}
	}
	return NULL;
}

void
tri_peer_drop(tr_addr a)
{
	struct tri_peer **pp = &peers[bucket(a)];

	for (; *pp; pp = &(*pp)->next) {
		if (tr_addr_eq((*pp)->addr, a)) {
			struct tri_peer *p = *pp;

			*pp = p->next;
			peer_free(p, 0);
			return;
		}
	}
}

/* Close the sockets of peers that died, so that a long-lived actor called
 * by many short-lived ones does not collect descriptors. */
static void
prune_bucket(unsigned b)
{
	struct tri_peer *p = peers[b], *next;

	for (; p; p = next) {
		next = p->next;
		if (tri_poll_fd(p->live_fd, POLLIN, 0) > 0) {
			tri_peer_drop(p->addr);
		}
	}
}

static int
peer_new(tr_addr a, struct tri_peer **ret)
{
	const struct tri_transport *t = tri_transport_for(a.node);
	struct tri_peer            *p;
	char                        ep[PATH_MAX + 8];
	int hwm = atomic_load(&tri_inbox_capacity), one = 1, ivl = 10, r;

	if (!t) {
		return TR_EBADADDR;
	}
	r = t->endpoint(a, ep, sizeof(ep), true);
	if (r < 0) {
		return r;
	}
	p = tri_calloc(1, sizeof(*p));
	if (!p) {
		return -ENOMEM;
	}
	p->live_fd = tri_live_open(a);
	if (p->live_fd < 0) {
		r = p->live_fd;
		tri_free(p);
		return r;
	}
	p->sock = zmq_socket(tri_mailbox_ctx(), ZMQ_PUSH);
	if (!p->sock) {
		r = -zmq_errno();
		tri_live_close(p->live_fd);
		tri_free(p);
		return r;
	}
	tri_fds_note_socket(p->sock);
	zmq_setsockopt(p->sock, ZMQ_SNDHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(p->sock, ZMQ_IMMEDIATE, &one, sizeof(one));
	zmq_setsockopt(p->sock, ZMQ_RECONNECT_IVL, &ivl, sizeof(ivl));
	r = t->setup_sender(p->sock, a);
	if (r == 0 && zmq_connect(p->sock, ep) < 0) {
		r = -zmq_errno();
	}
	if (r < 0) {
		peer_free(p, 0);
		return r;
	}
	p->addr       = a;
	p->sndtimeo   = -1; /* ZeroMQ's default */
	p->prefix_len = tri_env_encode_addrs(
	    tri_self_cached(), a, p->prefix, sizeof(p->prefix));
	*ret = p;
	return 0;
}

static int
peer_get(tr_addr a, struct tri_peer **ret)
{
	struct tri_peer *p;
	unsigned         b = bucket(a);
	int              r;

	for (p = peers[b]; p; p = p->next) {
		if (tr_addr_eq(p->addr, a)) {
			*ret = p;
			return 0;
		}
	}
	prune_bucket(b);
	r = peer_new(a, &p);
	if (r < 0) {
		return r;
	}
	p->next  = peers[b];
	peers[b] = p;
	*ret     = p;
	return 0;
}

static int64_t
realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Why a send that could not go out gave up. */
static int
send_failure(struct tri_peer *p)
{
	char        path[PATH_MAX];
	struct stat st;

	if (p->addr.node != 0) { /* its node agent tells of its death */
		if (tri_poll_fd(p->live_fd, POLLIN, 0) > 0) {
			tri_peer_drop(p->addr);
			return -ESRCH;
		}
		return TR_EFULL;
	}
	if (!tr_addr_is_alive(p->addr)) {
		tri_peer_drop(p->addr);
		return -ESRCH;
	}
	if (tri_transport_endpoint(p->addr, path, sizeof(path), false) == 0 &&
	    stat(path, &st) == 0) {
		return TR_EFULL;
	}
	return -ETIMEDOUT; /* alive, but its mailbox was never bound */
}

/* Wait inside libzmq (on its own signaler, as a blocking zmq_send does)
 * rather than in zmq_poll(): one system call per wake instead of several.
 * The timeout is a socket option: set only when it changes. */
static int
set_sndtimeo(struct tri_peer *p, int ms)
{
	if (p->sndtimeo == ms) {
		return 0;
	}
	if (zmq_setsockopt(p->sock, ZMQ_SNDTIMEO, &ms, sizeof(ms)) < 0) {
		return -zmq_errno();
	}
	p->sndtimeo = ms;
	return 0;
}

static int
send_frames(struct tri_peer *p, const uint8_t *env, size_t envlen, tr_msg *m,
    int timeout_ms)
{
	int64_t deadline = tri_deadline(timeout_ms);
	/* A first try that may wait costs nothing when there is room, and
	 * when there is none saves a failed try, a liveness poll and two
	 * changes of the socket's timeout per message: a sender outrunning
	 * its receiver waits in libzmq as a plain blocking zmq_send does. */
	int  wait    = timeout_ms == 0                         ? 0
	        : timeout_ms < 0 || timeout_ms > SEND_SLICE_MS ? SEND_SLICE_MS
	                                                       : timeout_ms;
	bool blocked = false;

	for (;;) {
		int left, r;

		r = set_sndtimeo(p, wait);
		if (r < 0) {
			return r;
		}
		if (zmq_send(p->sock, env, envlen, ZMQ_SNDMORE) >= 0) {
			/* the high-water mark is checked at the first frame
			 * only: the payload cannot be refused now */
			if (zmq_msg_send(&m->payload, p->sock, 0) < 0) {
				return -zmq_errno();
			}
			return 0;
		}
		if (zmq_errno() != EAGAIN && zmq_errno() != EINTR) {
			return -zmq_errno();
		}
		if (timeout_ms == 0) {
			return -EAGAIN;
		}
		if (!blocked) {
			blocked = true;
			tri_event({ TRI_EV_BLOCKED, p->addr, m->env.id, 0,
			    m->env.type });
		}
		if (wait > 0 && tri_poll_fd(p->live_fd, POLLIN, 0) > 0) {
			tri_peer_drop(p->addr);
			return -ESRCH;
		}
		left = tri_remaining(deadline, timeout_ms);
		if (left == 0) {
			return send_failure(p);
		}
		wait = left < 0 || left > SEND_SLICE_MS ? SEND_SLICE_MS : left;
	}
}

/* ---- the direct path to another node's actor (node-direct.h) ---------- */

static void
set_prefix(struct tri_peer *p)
{
	tr_addr self = tri_self_cached(), to = p->addr;

	if (p->is_direct) { /* nobody rewrites them on the way */
		self.node = tri_direct_node_id();
		to.node   = 0;
	}
	p->prefix_len =
	    tri_env_encode_addrs(self, to, p->prefix, sizeof(p->prefix));
}

/* A DirectEnd through the agent path: `count` user messages went on the
 * direct connection to `to` that broke. */
static int
send_end(tr_addr to, uint64_t count)
{
	Trwire__DirectEnd de = TRWIRE__DIRECT_END__INIT;
	tr_msg           *m  = NULL;
	int               r;

	de.count = count;
	r        = tri_msg_new_system(&m, &de.base);
	if (r == 0) {
		r = tri_peer_send(to, &m, 1000, NULL); /* system: no step */
	}
	tr_msg_destroy(&m);
	return r;
}

/* A DirectSync through p's agent path, behind what we sent before. */
static int
send_sync(tr_addr to, uint64_t token)
{
	Trwire__DirectSync ds = TRWIRE__DIRECT_SYNC__INIT;
	tr_msg            *m  = NULL;
	int                r;

	ds.token = token;
	r        = tri_msg_new_system(&m, &ds.base);
	if (r == 0) {
		r = tri_peer_send(to, &m, 1000, NULL); /* system: no step */
	}
	tr_msg_destroy(&m);
	return r;
}

static void
take_direct(struct tri_peer *p, void *sock)
{
	char a[TR_ADDR_STRLEN];

	p->agent_sock = p->sock;
	p->sock       = sock;
	p->is_direct  = true;
	p->sndtimeo   = -2; /* unknown: set at the next send */
	set_prefix(p);
	tr_log(TR_LOG_DEBUG, "peer %s: direct connection",
	    tr_addr_format(p->addr, a, sizeof(a)));
}

/* The direct connection cannot be used (its actor died, or it broke):
 * back to the agent path, which was idle since the switch. */
static void
leave_direct(struct tri_peer *p, bool dead)
{
	char a[TR_ADDR_STRLEN];

	if (!dead) {
		tr_log(TR_LOG_WARNING,
		    "peer %s: the direct connection broke; messages in flight "
		    "on it may be lost; the node agents carry on",
		    tr_addr_format(p->addr, a, sizeof(a)));
	}
	close_sock(p->sock, 0);
	tri_direct_free(&p->direct, true);
	p->sock       = p->agent_sock;
	p->agent_sock = NULL;
	p->is_direct  = false;
	p->direct_n   = 0;
	p->sndtimeo   = -2;
	set_prefix(p);
}

/* Before a user message to another node on the agent path: maybe switch
 * *pp to the direct path first, blocking up to budget_ms (< 0: up to the
 * direct path's own bounds).  Returns TRI_DIRECT_ASK if a DirectSync is
 * to follow the message.  *pp is NULL if the peer was dropped. */
static int
direct_before(struct tri_peer **pp, tr_addr to, int budget_ms)
{
	struct tri_peer *p        = *pp;
	int              step     = tri_direct_step(&p->direct, to, p->sent);
	int              hwm      = atomic_load(&tri_inbox_capacity);
	int64_t          deadline = tri_deadline(budget_ms);
	void            *sock;

	if ((step == TRI_DIRECT_WAIT || step == TRI_DIRECT_GO) &&
	    budget_ms >= 0 && budget_ms < DIRECT_MIN_MS) {
		return TRI_DIRECT_STAY; /* a send that may not wait: later */
	}
	if (step == TRI_DIRECT_WAIT) {
		uint64_t token = tri_direct_token();

		if (send_sync(to, token) < 0) {
			*pp = peer_lookup(to);
			return TRI_DIRECT_STAY;
		}
		*pp = p = peer_lookup(to);
		if (!p || !p->direct ||
		    !tri_direct_wait(p->direct, token, p->live_fd,
		        tri_remaining(deadline, budget_ms))) {
			return TRI_DIRECT_STAY;
		}
		step = TRI_DIRECT_GO;
	}
	if (step == TRI_DIRECT_GO) {
		if (tri_direct_connect(p->direct, hwm,
		        tri_remaining(deadline, budget_ms), &sock) == 0) {
			take_direct(p, sock);
		}
		return TRI_DIRECT_STAY;
	}
	return step;
}

int
tri_peer_send(tr_addr to, tr_msg **msgp, int timeout_ms, int *ret_live_fd)
{
	uint8_t          env[TRI_ENV_MAX];
	tr_msg          *m = *msgp;
	struct tri_peer *p = NULL;
	int              n, r, step = TRI_DIRECT_STAY;

	/* one of this run's actors in its node-global form is sent to
	 * directly, as node 0: its mailbox, its liveness, its FinAck */
	to = tri_node_localize(to);
	r  = peer_get(to, &p);
	if (r < 0) {
		return r;
	}
	/* the direct path only while the agent has the actor's node up: its
	 * liveness descriptor fires when the actor ends or the node is lost
	 * (then the agents queue for the node, docs/distribution.md) */
	if (p->is_direct && tri_poll_fd(p->live_fd, POLLIN, 0) > 0) {
		leave_direct(p, true);
	}
	if (to.node != 0 && !p->is_direct &&
	    !(m->env.flags & TRI_FLAG_SYSTEM) && !tri_loop_in_thread() &&
	    tri_poll_fd(p->live_fd, POLLIN, 0) <= 0) {
		/* the switch may block: half the send's time, at most */
		int64_t t0 = tri_now_ms();

		step =
		    direct_before(&p, to, timeout_ms < 0 ? -1 : timeout_ms / 2);
		if (!p && (r = peer_get(to, &p)) < 0) {
			return r;
		}
		if (timeout_ms > 0) {
			int64_t left = timeout_ms - (tri_now_ms() - t0);

			timeout_ms = left > 1 ? (int) left : 1;
		}
	}
again:
	m->env.sender       = tri_self_cached();
	m->env.recipient    = to;
	m->env.id           = ++next_id;
	m->env.lamport      = tri_lamport_next();
	m->env.send_time_ns = realtime_ns();
	if (tri_trace_on()) {
		tri_trace_send(&m->env, &m->payload);
	}
	memcpy(env, p->prefix, (size_t) p->prefix_len);
	if (p->is_direct) {
		tri_direct_outgoing(m);
	}
	n = tri_env_encode_rest(
	    &m->env, env + p->prefix_len, sizeof(env) - (size_t) p->prefix_len);
	if (n < 0) {
		next_id--;
		return n;
	}
	n += p->prefix_len;
	if (p->is_direct) {
		/* a direct socket that cannot take it: if its actor died or
		 * the connection broke, the agent path takes it (a dead
		 * letter, counted there, for the dead) */
		r = send_frames(p, env, (size_t) n, m, 0);
		if (r == -EAGAIN) {
			bool dead = tri_poll_fd(p->live_fd, POLLIN, 0) > 0;

			if (dead || tri_direct_broken(p->direct)) {
				uint64_t was = p->direct_n;

				leave_direct(p, dead);
				m->env.flags &= ~(uint32_t) TRI_FLAG_DIRECT;
				next_id--;
				/* the recipient lives: it learns how many it
				 * should have had, ahead of this message */
				if (!dead && was && send_end(to, was) == 0) {
					p = peer_lookup(to);
				}
				if (!p && (r = peer_get(to, &p)) < 0) {
					return r;
				}
				goto again;
			}
			if (timeout_ms != 0) {
				r = send_frames(
				    p, env, (size_t) n, m, timeout_ms);
			}
		}
	} else {
		r = send_frames(p, env, (size_t) n, m, timeout_ms);
	}
	if (r < 0) {
		next_id--;
		return r;
	}
	if (p->is_direct) {
		tri_direct_count_sent();
		if (!(m->env.flags & TRI_FLAG_SYSTEM)) {
			p->direct_n++;
		}
	}
	sent_total++;
	p->sent++;
	if (ret_live_fd) {
		*ret_live_fd = p->live_fd;
	}
	tr_msg_destroy(msgp);
	if (step == TRI_DIRECT_ASK) { /* behind the message: an answer with
		                         nothing sent since switches at once */
		uint64_t token = tri_direct_token();

		if (send_sync(to, token) == 0 && (p = peer_lookup(to)) &&
		    p->direct) {
			tri_direct_asked(p->direct, token, p->sent);
		}
	}
	return 0;
}

int
tri_peer_linger_ms(void)
{
	return linger_ms;
}

void
tri_peer_set_linger(int ms)
{
	linger_ms = ms;
}

uint64_t
tri_peer_sent_total(void)
{
	return sent_total;
}

/* Whether this run still has a node (set by the exit handshake).  Peers on
 * other nodes are reached through it; without it (the node agent itself,
 * once it stopped its link and removed its files; a run whose node
 * stopped) nothing can reach them or confirm: they are not waited for. */
static bool node_up;

static bool
unreachable(const struct tri_peer *p)
{
	return p->addr.node != 0 && !node_up;
}

/* Send Fin to each peer that has our messages and lives. */
static void
send_fins(void)
{
	for (int b = 0; b < PEER_BUCKETS; b++) {
		struct tri_peer *next;

		for (struct tri_peer *p = peers[b]; p; p = next) {
			Trwire__Fin fin = TRWIRE__FIN__INIT;
			tr_addr     to  = p->addr;
			tr_msg     *m;

			/* a send that fails on a dead peer frees it (and only
			 * it): take its successor and address first */
			next = p->next;
			if (!p->sent || unreachable(p) ||
			    tr_addr_eq(p->addr, tri_self_cached()) ||
			    tri_poll_fd(p->live_fd, POLLIN, 0) > 0) {
				p->sent = 0;
				continue;
			}
			fin.sent = p->sent;
			m        = NULL;
			/* behind our messages: waits while the peer's queue
			 * is full, as long as it lives (or the linger) */
			if (tri_msg_new_system(&m, &fin.base) < 0 ||
			    tri_peer_send(to, &m, linger_ms, NULL) < 0) {
				/* cannot ask: do not wait (unless it is
				 * gone: dropped as dead by the send) */
				p = peer_lookup(to);
				if (p) {
					p->sent = 0;
				}
			}
			tr_msg_destroy(&m);
		}
	}
}

/* Peers that have not confirmed; their liveness descriptors in fds. */
static size_t
unconfirmed(struct pollfd *fds, size_t cap)
{
	size_t n = 0;

	for (int b = 0; b < PEER_BUCKETS; b++) {
		for (struct tri_peer *p = peers[b]; p; p = p->next) {
			if (!p->sent || unreachable(p) ||
			    tri_proto_acked(p->addr, TRI_ACK_FIN, false)) {
				continue;
			}
			if (tri_poll_fd(p->live_fd, POLLIN, 0) > 0) {
				p->sent = 0; /* dead: nobody to deliver to */
				continue;
			}
			if (n < cap) {
				fds[n] = (struct pollfd) { .fd = p->live_fd,
					.events                = POLLIN };
			}
			n++;
		}
	}
	return n;
}

int
tri_peer_exit_handshake(void)
{
	int64_t       deadline = tri_deadline(linger_ms);
	struct pollfd fds[32];
	tr_addr       agent;
	size_t        n;
	int           r;

	/* asked only of a process with something unconfirmed (no file read
	 * at every exit) */
	node_up = true;
	if (unconfirmed(fds, 0) == 0) {
		return 0;
	}
	node_up = tri_node_agent(&agent, NULL) == 0;
	if (!node_up && unconfirmed(fds, 0) == 0) {
		return 0;
	}
	/* the FinAcks come to our mailbox */
	if (tr_self_bind() < 0) {
		return (int) unconfirmed(fds, 0);
	}
	send_fins();
	while ((n = unconfirmed(fds, 32)) > 0) {
		int left = tri_remaining(deadline, linger_ms);

		if (left == 0) {
			tr_log(TR_LOG_ERROR,
			    "exit: %zu peer(s) did not confirm receipt within "
			    "%d ms; messages to them may be lost",
			    n, linger_ms);
			return (int) n;
		}
		/* with more peers than fds, look again every 100 ms */
		if (n > 32 && (left < 0 || left > 100)) {
			left = 100;
		}
		r = tri_inbox_wait(fds, n > 32 ? 32 : n, left);
		if (r < 0 && r != -EINTR) {
			return (int) n;
		}
	}
	return 0;
}

void
tri_peer_close_all(void)
{
	for (int b = 0; b < PEER_BUCKETS; b++) {
		while (peers[b]) {
			struct tri_peer *p = peers[b];

			peers[b] = p->next;
			/* after the handshake: what was confirmed is across;
			 * the rest has no live reader */
			peer_free(p, 0);
		}
	}
}

void
tri_peer_forked(void)
{
	/* the parent's sockets are not ours; our copies of its descriptors
	 * are ours to close */
	for (int b = 0; b < PEER_BUCKETS; b++) {
		struct tri_peer *next;

		for (struct tri_peer *p = peers[b]; p; p = next) {
			next = p->next;
			if (p->live_fd >= 0) {
				tri_live_close(p->live_fd);
			}
			tri_direct_free(&p->direct, false);
			tri_free(p);
		}
		peers[b] = NULL;
	}
	next_id = sent_total = 0;
	tri_direct_forked();
}
