/* SPDX-License-Identifier: MIT */
/* The mailbox as the actor's code uses it: its address, receiving
 * (plain, selective, request/reply, poll) over the inbox that the runtime
 * thread fills, the monitor and link calls, limits and counters, and the
 * hooks the process layer calls at fork and exit. */
#include "mailbox.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include <protobuf-c/protobuf-c.h>

#include "event.h"
#include "exitlog.h"
#include "fds.h"
#include "inbox.h"
#include "liveness.h"
#include "log.h"
#include "loop.h"
#include "names.h"
#include "peer.h"
#include "process.h"
#include "protocol.h"
#include "rlive.h"
#include "runtime.h"
#include "transport.h"
#include "troupe.pb-c.h"
#include "util.h"
#include "watch.h"

#ifndef ZMQ_ZERO_COPY_RECV
#define ZMQ_ZERO_COPY_RECV 10 /* a context option of libzmq 4.3's draft API */
#endif

static struct mb {
	pid_t    owner; /* the process this state belongs to */
	void    *ctx;
	tr_addr  self;
	tr_msg  *head, *tail; /* taken from the inbox, not yet received */
	uint64_t next_ref, next_corr;
	bool     handshake_done;
} mb;

/* ---- state across fork ----------------------------------------------------
 */

void
tri_msg_forked(void)
{
	/* A child must never use, close or terminate its parent's context:
	 * forget it all.  Descriptors are ours to close (ZeroMQ's are closed
	 * by tri_fds_close_inherited(), before the child's own exist). */
	tri_loop_forked();
	tri_inbox_forked();
	tri_rlive_forked(false);
	tri_watch_close_all(true);
	tri_peer_forked();
	tri_rlive_forked(true);
	tri_names_forget();
	memset(&mb, 0, sizeof(mb));
}

static void
check_owner(void)
{
	if (mb.owner != tri_getpid()) {
		if (mb.owner != 0) {
			/* a raw fork() child: ZeroMQ's descriptors too */
			tri_fds_close_inherited();
			tri_msg_forked();
		}
		mb.owner = tri_getpid();
	}
}

tr_addr
tr_self(void)
{
	check_owner();
	if (mb.self.pid == 0 && tri_rt.inited) {
		uint64_t st = 0;

		if (tri_proc_starttime(tri_getpid(), &st, NULL) == 0) {
			mb.self = (tr_addr) { 0, (uint32_t) tri_getpid(), st };
		}
	}
	return mb.self;
}

tr_addr
tri_self_cached(void)
{
	return mb.self;
}

void *
tri_mailbox_ctx(void)
{
	return mb.ctx;
}

static int
ensure_ctx(void)
{
	int r;

	check_owner();
	tr_assert_return(tri_rt.inited, TR_ENOTINIT);
	if (tr_addr_is_null(tr_self())) {
		return -ESRCH;
	}
	if (!mb.ctx) {
		r = tri_inbox_init();
		if (r < 0) {
			return r;
		}
		mb.ctx = zmq_ctx_new();
		if (!mb.ctx) {
			return -zmq_errno();
		}
		/* Every message is two frames, and with libzmq's zero-copy
		 * receive the small envelope frame keeps the whole 8 KiB
		 * read buffer it was decoded in alive, so next to a large
		 * payload (read into its own buffer) each message cost a
		 * fresh read buffer: a malloc and a free of 8 KiB, a third
		 * of the receiver's instructions at 64 KiB (callgrind).
		 * Copying small frames out instead costs nothing measurable
		 * at 256 B.  A libzmq without the option refuses it. */
		(void) zmq_ctx_set(mb.ctx, ZMQ_ZERO_COPY_RECV, 0);
	}
	return 0;
}

static int
adopt_in_loop(void *arg)
{
	return tri_inbox_adopt(arg);
}

int
tr_self_bind(void)
{
	struct tri_inbox_sockets s;
	int                      r = ensure_ctx();

	if (r < 0 || tri_inbox_bound()) {
		return r;
	}
	r = tri_inbox_open(&s);
	if (r == 0) {
		r = tri_loop_run(adopt_in_loop, &s);
	}
	return r;
}

int
tri_msg_bind_eager(void)
{
	return tr_self_bind();
}

int
tr_process_addr(tr_process *p, tr_addr *ret)
{
	tr_assert_return(p && ret, -EINVAL);
	tr_assert_return(tr_process_pid(p) > 0, -EINVAL);
	if (tri_process_incarnation(p) == 0) {
		return -ESRCH;
	}
	*ret = (tr_addr) { 0, (uint32_t) tr_process_pid(p),
		tri_process_incarnation(p) };
	return 0;
}

/* ---- sending --------------------------------------------------------------
 */

static int
send_msg(tr_addr to, tr_msg **msgp, int timeout_ms, int *ret_live_fd)
{
	int r;

	tr_assert_return(msgp && *msgp, -EINVAL);
	tr_assert_return(!tr_addr_is_null(to), -EINVAL);
	if (zmq_msg_size(&(*msgp)->payload) >
	    atomic_load(&tri_inbox_max_size)) {
		return TR_ETOOBIG;
	}
	r = ensure_ctx();
	if (r < 0) {
		return r;
	}
	if (tr_addr_eq(to, mb.self)) {
		r = tr_self_bind();
		if (r < 0) {
			return r;
		}
	}
	return tri_peer_send(to, msgp, timeout_ms, ret_live_fd);
}

int
tr_send(tr_addr to, tr_msg **msgp, int timeout_ms)
{
	if (msgp && *msgp) {
		(*msgp)->env.flags &=
		    ~(uint32_t) (TRI_FLAG_REPLY | TRI_FLAG_SYSTEM);
	}
	return send_msg(to, msgp, timeout_ms, NULL);
}

int
tr_send_bytes(tr_addr to, const void *data, size_t len, int timeout_ms)
{
	tr_msg *m;
	int     r = tr_msg_new_bytes(&m, data, len);

	if (r < 0) {
		return r;
	}
	r = tr_send(to, &m, timeout_ms);
	tr_msg_destroy(&m);
	return r;
}

static int
send_system(tr_addr to, const ProtobufCMessage *pb)
{
	tr_msg *m;
	int     r = tri_msg_new_system(&m, pb);

	if (r == 0) {
		r = send_msg(to, &m, 1000, NULL);
		if (r < 0) {
			tri_debug("system message %s not delivered",
			    pb->descriptor->name);
		}
		tr_msg_destroy(&m);
	}
	return r;
}

/* ---- the actor's queue -----------------------------------------------------
 */

/* Unlink m (whose predecessor is prev, or NULL for the head). */
static void
unqueue(tr_msg *prev, tr_msg *m)
{
	if (prev) {
		prev->next = m->next;
	} else {
		mb.head = m->next;
	}
	if (mb.tail == m) {
		mb.tail = prev;
	}
	m->next = NULL;
	tri_inbox_consumed(1);
}

static uint64_t awaiting; /* correlation id of the call in progress */

/* A reply no call waits for: discarded, counted. */
static bool
late_reply(const tr_msg *m)
{
	return (m->env.flags & TRI_FLAG_REPLY) &&
	    (awaiting == 0 || m->env.correlation != awaiting);
}

/* Find the first message after prev (NULL: from the head) for which
 * match holds, dropping late replies on the way.  *prevp is left at the
 * last message looked at, so that a later scan starts after it. */
static tr_msg *
scan(tr_msg **prevp, tr_match_fn match, void *arg)
{
	tr_msg *prev = *prevp, *m = prev ? prev->next : mb.head, *next;

	for (; m; m = next) {
		next = m->next;
		if (late_reply(m)) {
			unqueue(prev, m);
			tri_inbox_count_late_reply();
			tr_msg_destroy(&m);
			continue;
		}
		if (!match || match(m, arg)) {
			unqueue(prev, m);
			*prevp = prev;
			return m;
		}
		prev = m;
	}
	*prevp = prev;
	return NULL;
}

/* Take the first matching message, waiting up to timeout_ms; fds (may be
 * NULL) are polled too and end the wait when ready (-EINTR-like 1). */
static int
recv_match(tr_msg **ret, tr_match_fn match, void *arg, int timeout_ms,
    struct pollfd *fds, size_t nfds)
{
	int64_t deadline = tri_deadline(timeout_ms);
	tr_msg *prev     = NULL, *m;
	int     r, left;

	tr_assert_return(ret, -EINVAL);
	if (mb.owner != tri_getpid() || !tri_inbox_bound()) {
		r = tr_self_bind();
		if (r < 0) {
			return r;
		}
	}
	/* what was taken already first: no lock while it lasts */
	m = scan(&prev, match, arg);
	for (;;) {
		if (!m) {
			(void) tri_inbox_read(&mb.head, &mb.tail,
			    tri_remaining(deadline, timeout_ms) != 0);
			m = scan(&prev, match, arg);
		}
		if (m) {
			*ret = m;
			return 0;
		}
		left = tri_remaining(deadline, timeout_ms);
		if (left == 0) {
			return timeout_ms == 0 ? -EAGAIN : -ETIMEDOUT;
		}
		tri_inbox_set_selective(match != NULL);
		r = tri_inbox_wait(fds, nfds, left);
		tri_inbox_set_selective(false);
		if (r < 0) {
			return r;
		}
		for (size_t i = 0; i < nfds; i++) {
			if (fds[i].revents) {
				return 1;
			}
		}
	}
}

/* The actor's own receive: the message it handled before is done, the
 * one returned is being handled (for the trace). */
static int
recv_handled(tr_msg **ret, tr_match_fn match, void *arg, int timeout_ms)
{
	int r;

	if (tri_trace_on()) {
		tri_trace_handle_end();
	}
	r = recv_match(ret, match, arg, timeout_ms, NULL, 0);
	if (r == 0 && tri_trace_on()) {
		tri_trace_handle_begin(*ret);
	}
	return r;
}

int
tr_recv(tr_msg **ret, int timeout_ms)
{
	return recv_handled(ret, NULL, NULL, timeout_ms);
}

int
tr_recv_match(tr_msg **ret, tr_match_fn match, void *arg, int timeout_ms)
{
	tr_assert_return(match, -EINVAL);
	return recv_handled(ret, match, arg, timeout_ms);
}

struct call_match {
	uint64_t corr;    /* the reply's correlation id */
	uint64_t barrier; /* the DOWN ref after the callee died, or 0 */
};

static bool
is_reply_or_barrier(const tr_msg *m, void *arg)
{
	const struct call_match *c = arg;

	if (m->env.flags & TRI_FLAG_REPLY) {
		return m->env.correlation == c->corr;
	}
	return c->barrier && m->env.correlation == c->barrier &&
	    strcmp(m->env.type, "trwire.Down") == 0;
}

struct watch_req {
	tr_addr  who;
	int      kind;
	uint64_t ref;
	bool     noproc;
};

static int
watch_in_loop(void *arg)
{
	struct watch_req *w = arg;
	int               r;

	if (w->kind == TRI_W_LINK) {
		if (tri_watch_linked(w->who)) {
			return 0;
		}
		if (w->who.node == 0 && !tr_addr_is_alive(w->who)) {
			return -ESRCH;
		}
	}
	r = tri_watch_add(w->who, w->kind, w->ref, w->noproc);
	if (r == 0) {
		tri_watch_deliver(); /* one that fired at once, now */
	}
	return r;
}

/* The callee died: a DOWN queued after everything it sent that reached
 * us marks where to stop looking for its reply. */
static int
call_barrier(tr_addr to, uint64_t *ret_ref)
{
	struct watch_req w = { to, TRI_W_MONITOR, ++mb.next_ref, false };
	int              r = tri_loop_run(watch_in_loop, &w);

	*ret_ref = w.ref;
	return r;
}

int
tr_call(tr_addr to, tr_msg **reqp, tr_msg **ret_reply, int timeout_ms)
{
	int64_t           deadline = tri_deadline(timeout_ms);
	struct call_match c        = { 0, 0 };
	struct pollfd     live     = { .fd = -1, .events = POLLIN };
	tr_msg           *m        = NULL;
	int               r;

	tr_assert_return(reqp && *reqp && ret_reply, -EINVAL);
	r = tr_self_bind();
	if (r < 0) {
		return r;
	}
	/* unique across this process's life; replies carry it back */
	c.corr                   = ++mb.next_corr;
	(*reqp)->env.correlation = c.corr;
	(*reqp)->env.reply_to    = mb.self;
	(*reqp)->env.flags       = 0;
	awaiting                 = c.corr;
	tri_inbox_set_awaiting(c.corr);
	r = send_msg(to, reqp, timeout_ms, &live.fd);
	while (r == 0) {
		r = recv_match(&m, is_reply_or_barrier, &c,
		    tri_remaining(deadline, timeout_ms),
		    c.barrier ? NULL : &live, c.barrier ? 0 : 1);
		if (r == 1) { /* died: look up to its DOWN, no further */
			r = call_barrier(to, &c.barrier);
			continue;
		}
		if (r == 0 && (m->env.flags & TRI_FLAG_REPLY) == 0) {
			tr_msg_destroy(&m); /* the barrier: no reply came */
			tri_peer_drop(to);
			r = TR_EDEAD;
		}
		break;
	}
	if (c.barrier && r != TR_EDEAD) {
		(void) tr_demonitor(c.barrier);
	}
	awaiting = 0;
	tri_inbox_set_awaiting(0);
	if (r == 0) {
		*ret_reply = m;
	}
	return r;
}

int
tr_reply(const tr_msg *req, tr_msg **replyp, int timeout_ms)
{
	tr_addr to;

	tr_assert_return(req && replyp && *replyp, -EINVAL);
	to = tr_addr_is_null(req->env.reply_to) ? req->env.sender
	                                        : req->env.reply_to;
	(*replyp)->env.flags       = TRI_FLAG_REPLY;
	(*replyp)->env.correlation = req->env.correlation;
	return send_msg(to, replyp, timeout_ms, NULL);
}

static bool
has_mail(void)
{
	tr_msg *prev = NULL;

	tri_inbox_take(&mb.head, &mb.tail);
	/* late replies do not count: drop those at the front */
	while (mb.head && late_reply(mb.head)) {
		tr_msg *m = mb.head;

		unqueue(NULL, m);
		tri_inbox_count_late_reply();
		tr_msg_destroy(&m);
	}
	(void) prev;
	return mb.head != NULL;
}

int
tr_poll(struct pollfd *fds, size_t nfds, bool *ret_mailbox, int timeout_ms)
{
	int64_t deadline = tri_deadline(timeout_ms);
	bool    dummy;
	int     r, nuser;

	tr_assert_return(fds || nfds == 0, -EINVAL);
	if (!ret_mailbox) {
		ret_mailbox = &dummy;
	}
	r = tr_self_bind();
	if (r < 0) {
		return r;
	}
	for (;;) {
		nuser = 0;
		for (size_t i = 0; i < nfds; i++) {
			fds[i].revents = 0;
		}
		r = tri_inbox_wait(fds, nfds,
		    has_mail() ? 0 : tri_remaining(deadline, timeout_ms));
		if (r < 0) {
			return r;
		}
		for (size_t i = 0; i < nfds; i++) {
			nuser += fds[i].revents != 0;
		}
		*ret_mailbox = has_mail();
		if (nuser || *ret_mailbox ||
		    tri_remaining(deadline, timeout_ms) == 0) {
			return nuser + (*ret_mailbox ? 1 : 0);
		}
	}
}

/* ---- monitors and links ---------------------------------------------------
 */

int
tr_exit_classify(int exitcode)
{
	return tri_exit_class(exitcode);
}

const char *
tr_exit_class_name(int c)
{
	static const char *const names[] = { "normal", "shutdown", "abnormal",
		"noproc", "unknown", "noconnection" };

	return c >= 0 && c <= TR_EXIT_NOCONNECTION ? names[c] : "?";
}

/* who can be monitored or linked: another actor, with our runtime up. */
static int
check_watch_target(tr_addr who)
{
	int r;

	tr_assert_return(!tr_addr_is_null(who), -EINVAL);
	r = ensure_ctx();
	if (r < 0) {
		return r;
	}
	tr_assert_return(!tr_addr_eq(who, mb.self), -EINVAL);
	return 0;
}

int
tr_monitor(tr_addr who, uint64_t *ret_ref)
{
	struct watch_req w = { who, TRI_W_MONITOR, 0, true };
	int              r = check_watch_target(who);

	if (r < 0) {
		return r;
	}
	w.ref = ++mb.next_ref;
	r     = tri_loop_run(watch_in_loop, &w);
	if (r < 0) {
		return r;
	}
	tri_event({ TRI_EV_MONITOR, who, 0, (int64_t) w.ref, NULL });
	if (ret_ref) {
		*ret_ref = w.ref;
	}
	return 0;
}

static int
demonitor_in_loop(void *arg)
{
	return tri_watch_remove_ref(*(uint64_t *) arg);
}

int
tr_demonitor(uint64_t ref)
{
	tr_msg *prev = NULL;

	check_owner();
	if (!tri_loop_running()) {
		return TR_ENOTFOUND;
	}
	if (tri_loop_run(demonitor_in_loop, &ref) == 0) {
		return 0;
	}
	/* fired already: its DOWN is queued (or on its way: the runtime
	 * thread queues it before it forgets the watch) */
	tri_inbox_take(&mb.head, &mb.tail);
	for (tr_msg *m = mb.head; m; prev = m, m = m->next) {
		if (m->env.correlation == ref && tr_msg_is_system(m) &&
		    strcmp(m->env.type, "trwire.Down") == 0) {
			unqueue(prev, m);
			tr_msg_destroy(&m);
			return 0;
		}
	}
	return TR_ENOTFOUND;
}

static int
link_msg(tr_addr to, bool link)
{
	Trwire__Addr   a = TRWIRE__ADDR__INIT;
	Trwire__Link   l = TRWIRE__LINK__INIT;
	Trwire__Unlink u = TRWIRE__UNLINK__INIT;

	a.node        = mb.self.node;
	a.pid         = mb.self.pid;
	a.incarnation = mb.self.incarnation;
	l.from        = &a;
	u.from        = &a;
	return send_system(to, link ? &l.base : &u.base);
}

/* Wait until the peer's runtime confirmed the link (or it died: then our
 * own watch acts), so that a crash right after tr_link() reaches it. */
static void
link_wait_ack(tr_addr who)
{
	int64_t       deadline = tri_deadline(5000);
	struct pollfd live     = { .fd = tri_live_open(who), .events = POLLIN };

	while (live.fd >= 0 && !tri_proto_acked(who, TRI_ACK_LINK, true)) {
		int left = tri_remaining(deadline, 5000);
		int r = left == 0 ? -ETIMEDOUT : tri_inbox_wait(&live, 1, left);

		if ((r < 0 && r != -EINTR) || live.revents) {
			break;
		}
	}
	if (live.fd >= 0) {
		tri_live_close(live.fd);
	}
}

int
tr_link(tr_addr who)
{
	struct watch_req w = { who, TRI_W_LINK, 0, false };
	int              r = check_watch_target(who);

	if (r < 0) {
		return r;
	}
	r = tr_self_bind();
	if (r == 0) {
		r = tri_loop_run(watch_in_loop, &w);
	}
	/* a peer without a mailbox cannot learn of the link: it stays one
	 * way (we still act on its end) */
	if (r == 0 && link_msg(who, true) == 0) {
		link_wait_ack(who);
	}
	if (r == 0) {
		tri_event({ TRI_EV_LINK, who, 0, 0, NULL });
	}
	return r;
}

static int
unlink_in_loop(void *arg)
{
	tri_watch_unlink(*(tr_addr *) arg);
	return 0;
}

int
tr_unlink(tr_addr who)
{
	check_owner();
	if (!tri_loop_running()) {
		return 0;
	}
	(void) tri_loop_run(unlink_in_loop, &who);
	(void) link_msg(who, false);
	return 0;
}

void
tr_trap_exit(bool on)
{
	check_owner();
	tri_watch_set_trap(on);
}

int
tr_msg_down(const tr_msg *m, tr_down *ret)
{
	ProtobufCMessage   *pb;
	const Trwire__Addr *a;
	int                 r;

	tr_assert_return(m && ret, -EINVAL);
	if (!tr_msg_is_system(m)) {
		return TR_EBADTYPE;
	}
	if (tr_msg_unpack(m, &trwire__down__descriptor, &pb) == 0) {
		Trwire__Down *d = (Trwire__Down *) pb;

		a               = d->who;
		ret->ref        = d->ref;
		ret->exitcode   = d->exitcode;
		ret->exit_class = d->exit_class;
	} else if ((r = tr_msg_unpack(m, &trwire__exit__descriptor, &pb)) ==
	    0) {
		Trwire__Exit *e = (Trwire__Exit *) pb;

		a               = e->who;
		ret->ref        = 0;
		ret->exitcode   = e->exitcode;
		ret->exit_class = e->exit_class;
	} else {
		return r;
	}
	ret->who =
	    a ? (tr_addr) { a->node, a->pid, a->incarnation } : TR_ADDR_NULL;
	protobuf_c_message_free_unpacked(pb, NULL);
	return 0;
}

/* ---- limits, stats, exit --------------------------------------------------
 */

int
tr_mailbox_set_capacity(int messages)
{
	tr_assert_return(messages > 0, -EINVAL);
	atomic_store(&tri_inbox_capacity, messages);
	tri_loop_kick();
	return 0;
}

int
tr_mailbox_set_max_size(size_t bytes)
{
	tr_assert_return(bytes > 0 && bytes <= ((size_t) 1 << 40), -EINVAL);
	atomic_store(&tri_inbox_max_size, bytes);
	return 0;
}

int
tr_mailbox_set_linger(int ms)
{
	tr_assert_return(ms >= 0 || ms == TR_TIMEOUT_INFINITE, -EINVAL);
	tri_peer_set_linger(ms);
	return 0;
}

int
tri_msg_linger_ms(void)
{
	return tri_peer_linger_ms();
}

int
tr_mailbox_stats_get(tr_mailbox_stats *ret)
{
	tr_assert_return(ret, -EINVAL);
	check_owner();
	tri_inbox_stats(ret);
	ret->sent = tri_peer_sent_total();
	return 0;
}

void
tri_msg_exiting(void)
{
	if (mb.owner == tri_getpid()) {
		tri_inbox_exiting();
	}
}

void
tri_msg_exit_handshake(void)
{
	if (mb.owner != tri_getpid() || !mb.ctx || mb.handshake_done) {
		return;
	}
	mb.handshake_done = true;
	(void) tri_peer_exit_handshake();
}

void
tri_msg_shutdown(void)
{
	if (mb.owner != tri_getpid()) {
		return;
	}
	tri_msg_exit_handshake();
	tri_names_release_own();
	tri_loop_stop();
	tri_watch_close_all(false);
	tri_inbox_close();
	tri_peer_close_all();
	while (mb.head) {
		tr_msg *m = mb.head;

		mb.head = m->next;
		tr_msg_destroy(&m);
	}
	mb.tail = NULL;
	if (mb.ctx) {
		zmq_ctx_term(mb.ctx);
		mb.ctx = NULL;
	}
}

void
tri_msg_on_exit(pid_t pid, uint64_t incarnation, int exitcode)
{
	tr_addr a = { 0, (uint32_t) pid, incarnation };
	char    path[PATH_MAX];

	tri_exitlog_put(pid, incarnation, exitcode);
	if (incarnation &&
	    tri_transport_endpoint(a, path, sizeof(path), false) == 0) {
		(void) unlink(path); /* left behind by a killed actor */
	}
	tri_names_drop_addr(a);
	if (mb.owner == tri_getpid()) {
		tri_peer_drop(a);
	}
}

/* Joins no longer need to serve the mailbox: the runtime thread does. */
int
tri_msg_wait_fd(int fd, int timeout_ms)
{
	return tri_poll_fd(fd, POLLIN, timeout_ms);
}
