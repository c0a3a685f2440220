/* SPDX-License-Identifier: MIT */
/* The inbox: socket, validation, protocol answers and the bounded queue. */
#include "inbox.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <protobuf-c/protobuf-c.h>

#include "alloc.h"
#include "conns.h"
#include "event.h"
#include "fds.h"
#include "log.h"
#include "loop.h"
#include "mailbox.h"
#include "node-direct.h"
#include "node-notice.h"
#include "protocol.h"
#include "transport.h"
#include "troupe.pb-c.h"
#include "util.h"
#include "watch.h"

#define BATCH    256 /* messages taken per lock of the queue */
#define MAX_ACKS 64

_Atomic int    tri_inbox_capacity = 1000;
_Atomic size_t tri_inbox_max_size = (size_t) 64 << 20;

static struct inbox {
	pthread_mutex_t  lock; /* queue, stats, acks, waiting */
	tr_msg          *head, *tail;
	_Atomic size_t   queued; /* shared queue + what the actor holds */
	_Atomic uint64_t awaiting;
	_Atomic uint64_t lamport;
	_Atomic uint64_t received; /* delivered into a queue */
	int              wake_fd;
	bool             waiting, signaled;
	tr_mailbox_stats st;
	/* The socket: whoever holds sock_lock reads it, the actor's thread
	 * while it waits for mail (no hand-off on the hot path), else the
	 * runtime thread, which polls its ZMQ_FD to learn of new mail. */
	pthread_mutex_t sock_lock;
	void           *sock;
	int             sock_fd;
	bool            drained; /* the last read came up empty */
	_Atomic bool    a_reading, t_wants_sock;
	_Atomic bool    exiting;   /* no bound: senders must not wait on us */
	_Atomic bool    selective; /* the actor waits for one message */
	bool            t_saw_reader; /* runtime thread only */
	_Atomic int64_t a_seen_ms;    /* the actor last waited for mail */
	/* runtime thread only */
	void *mon;
	char  path[PATH_MAX];
	pid_t owner;
} in = { .lock     = PTHREAD_MUTEX_INITIALIZER,
	.sock_lock = PTHREAD_MUTEX_INITIALIZER,
	.wake_fd   = -1 };

#define ACTOR_ACTIVE_MS 2  /* the runtime thread keeps off this long */
#define ACTOR_AWAY_MS   20 /* and looks again this often meanwhile */

int
tri_inbox_init(void)
{
	if (in.owner == tri_getpid() && in.wake_fd >= 0) {
		return 0;
	}
	in.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (in.wake_fd < 0) {
		return -errno;
	}
	in.owner   = tri_getpid();
	in.drained = true;
	return 0;
}

uint64_t
tri_lamport_next(void)
{
	return atomic_fetch_add(&in.lamport, 1) + 1;
}

/* n messages were received, the largest clock among them v. */
static void
lamport_seen(uint64_t v, size_t n)
{
	uint64_t cur = atomic_load(&in.lamport);

	while (v > cur && !atomic_compare_exchange_weak(&in.lamport, &cur, v)) {
	}
	atomic_fetch_add(&in.lamport, n);
}

static void
drop_log(const char *what, const struct tri_env *e)
{
	static unsigned n;
	char            a[TR_ADDR_STRLEN] = "?";

	/* hostile peers must not flood the log: the first 10, then 1/1000 */
	if (++n > 10 && n % 1000 != 0) {
		return;
	}
	if (e) {
		tr_addr_format(e->sender, a, sizeof(a));
	}
	tr_log(TR_LOG_ERROR,
	    "mailbox: dropped a message from %s: %s (%u so far)", a, what, n);
}

/* ---- binding ------------------------------------------------------------ */

static int
monitor_open(void *ctx, void *sock, void **ret_mon)
{
	char  ep[64];
	void *mon;

	snprintf(
	    ep, sizeof(ep), "inproc://troupe-conns-%d", (int) tri_getpid());
	if (zmq_socket_monitor(
	        sock, ep, ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED) < 0) {
		return -zmq_errno();
	}
	mon = zmq_socket(ctx, ZMQ_PAIR);
	if (!mon) {
		return -zmq_errno();
	}
	if (zmq_connect(mon, ep) < 0) {
		zmq_close(mon);
		return -zmq_errno();
	}
	*ret_mon = mon;
	return 0;
}

/* The sockets are made in the calling thread (the actor's): an idle
 * runtime thread then never allocates, which would cost it an arena. */
int
tri_inbox_open(struct tri_inbox_sockets *ret)
{
	char  ep[PATH_MAX + 8];
	int   zero = 0, hwm = atomic_load(&tri_inbox_capacity), r;
	void *ctx = tri_mailbox_ctx(), *sock, *mon = NULL;
	/* payloads over the maximum are dropped and counted by ingest_one();
	 * libzmq's own limit, far above, only guards memory against a raw
	 * peer (it closes that connection) */
	int64_t maxmsg = (int64_t) atomic_load(&tri_inbox_max_size) * 2 +
	    ((int64_t) 1 << 20);

	r = tri_transport_endpoint(tri_self_cached(), ep, sizeof(ep), true);
	if (r < 0) {
		return r;
	}
	sock = zmq_socket(ctx, ZMQ_PULL);
	if (!sock) {
		return -zmq_errno();
	}
	zmq_setsockopt(sock, ZMQ_RCVHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg));
	r = monitor_open(ctx, sock, &mon);
	if (r == 0 && zmq_bind(sock, ep) < 0) {
		r = -zmq_errno();
	}
	if (r < 0) {
		if (mon) {
			zmq_close(mon);
		}
		zmq_close(sock);
		return r;
	}
	tri_strlcpy(in.path, ep + 6, sizeof(in.path));
	tri_fds_note_socket(sock);
	tri_fds_note_socket(mon);
	ret->sock = sock;
	ret->mon  = mon;
	tri_debug("mailbox bound at %s", ep);
	return 0;
}

int
tri_inbox_adopt(const struct tri_inbox_sockets *s)
{
	size_t len = sizeof(in.sock_fd);

	zmq_getsockopt(s->sock, ZMQ_FD, &in.sock_fd, &len);
	in.mon     = s->mon;
	in.drained = true;
	in.sock    = s->sock;
	return 0;
}

int
tri_inbox_listen_tcp(const char *host, const char *secret, char *ret, size_t n)
{
	char ep[PATH_MAX];
	int  r = snprintf(ep, sizeof(ep), "%s:*", host);

	if (!in.sock) {
		return -ENOTCONN;
	}
	if (r < 0 || (size_t) r >= sizeof(ep)) {
		return -ENAMETOOLONG;
	}
	/* the socket's options as they are now go with this endpoint only:
	 * the ipc one keeps its own */
	{
		int on = secret != NULL;

		if (zmq_setsockopt(in.sock, ZMQ_CURVE_SERVER, &on, sizeof(on)) <
		        0 ||
		    (secret &&
		        zmq_setsockopt(in.sock, ZMQ_CURVE_SECRETKEY, secret,
		            strlen(secret)) < 0)) {
			return -zmq_errno();
		}
	}
	if (zmq_bind(in.sock, ep) < 0) {
		return -zmq_errno();
	}
	if (zmq_getsockopt(in.sock, ZMQ_LAST_ENDPOINT, ret, &n) < 0) {
		return -zmq_errno();
	}
	tri_debug("mailbox also listens at %s", ret);
	return 0;
}

int
tri_inbox_unlisten_tcp(const char *ep)
{
	if (!in.sock) {
		return -ENOTCONN;
	}
	return zmq_unbind(in.sock, ep) < 0 ? -zmq_errno() : 0;
}

bool
tri_inbox_bound(void)
{
	return in.sock != NULL;
}

/* ---- taking messages off the socket ------------------------------------- */

static void
drain_frames(void)
{
	zmq_msg_t f;
	int       more = 1;
	size_t    l    = sizeof(more);

	while (zmq_getsockopt(in.sock, ZMQ_RCVMORE, &more, &l) == 0 && more) {
		zmq_msg_init(&f);
		(void) zmq_msg_recv(&f, in.sock, 0);
		zmq_msg_close(&f);
	}
}

/* Why m must not be delivered (and which counter says so), or NULL. */
static const char *
reject(tr_msg *m, uint64_t **counter, tr_mailbox_stats *st)
{
	if (!tr_addr_eq(m->env.recipient, tri_self_cached())) {
		*counter = &st->dropped_stale;
		return "addressed to another incarnation";
	}
	if (zmq_msg_size(&m->payload) > atomic_load(&tri_inbox_max_size)) {
		*counter = &st->dropped_toobig;
		return "payload larger than the mailbox maximum";
	}
	if (m->env.flags & TRI_FLAG_SYSTEM) {
		/* DOWN and EXIT are made locally; from the wire only the
		 * runtime-to-runtime requests are accepted */
		if (!tri_proto_accepts(m->env.type) && !tri_node_notice_is(m)) {
			*counter = &st->dropped_badtype;
			return "system message type not accepted from the wire";
		}
	} else if (m->env.type[0] && !tri_type_known(m->env.type)) {
		*counter = &st->dropped_badtype;
		return "unregistered payload type";
	}
	return NULL;
}

/* One message off the socket into *ret (NULL if it was dropped): 1 if one
 * was taken, 0 if none was waiting, -errno on failure. */
static int
ingest_one(tr_msg **ret, tr_mailbox_stats *st)
{
	zmq_msg_t   f;
	tr_msg     *m;
	const char *why     = NULL;
	uint64_t   *counter = NULL;
	int         r, more;

	*ret = NULL;
	zmq_msg_init(&f);
	if (zmq_msg_recv(&f, in.sock, ZMQ_DONTWAIT) < 0) {
		r = zmq_errno();
		zmq_msg_close(&f);
		return r == EAGAIN ? 0 : -r;
	}
	more = zmq_msg_more(&f);
	m    = tri_msg_alloc();
	if (!m) {
		zmq_msg_close(&f);
		drain_frames();
		tr_log(
		    TR_LOG_ERROR, "mailbox: out of memory, a message was lost");
		return 1;
	}
	zmq_msg_init(&m->payload);
	if (!more ||
	    tri_env_decode(zmq_msg_data(&f), zmq_msg_size(&f), &m->env) < 0) {
		why     = more ? "envelope does not decode"
		               : "single frame, no payload";
		counter = &st->dropped_malformed;
		memset(&m->env, 0, sizeof(m->env));
	}
	zmq_msg_close(&f);
	if (more && zmq_msg_recv(&m->payload, in.sock, 0) < 0) {
		tr_msg_destroy(&m);
		return -zmq_errno();
	}
	if (!why && zmq_msg_more(&m->payload)) {
		why     = "more than two frames";
		counter = &st->dropped_malformed;
	}
	drain_frames();
	if (!why) {
		why = reject(m, &counter, st);
	}
	if (counter) {
		(*counter)++;
		drop_log(why, &m->env);
		tri_event(
		    { TRI_EV_DEAD_LETTER, m->env.sender, m->env.id, 0, why });
		tr_msg_destroy(&m);
		return 1;
	}
	*ret = m;
	return 1;
}

/* Append the list h..t of n messages (caller holds the lock). */
static void
append_locked(tr_msg *h, tr_msg *t, size_t n)
{
	if (!h) {
		return;
	}
	if (in.tail) {
		in.tail->next = h;
	} else {
		in.head = h;
	}
	in.tail = t;
	atomic_fetch_add(&in.queued, n);
	if (in.waiting && !in.signaled) {
		uint64_t one = 1;

		in.signaled = true;
		(void) write(in.wake_fd, &one, sizeof(one));
	}
}

static int64_t
mono_ms(void)
{
	return tri_now_ms();
}

static size_t
room(void)
{
	size_t cap = (size_t) atomic_load(&tri_inbox_capacity);
	size_t q   = atomic_load(&in.queued);

	if (atomic_load(&in.exiting)) {
		return SIZE_MAX / 2; /* exiting: take everything, answer Fins */
	}
	if (atomic_load(&in.awaiting)) {
		cap *= 2; /* a reply must not be stuck behind a flood */
	}
	return q >= cap ? 0 : cap - q;
}

/* Take up to one batch off the socket (sock_lock held) onto the shared
 * queue, or with dh the actor's own list dh..dt; in.drained tells whether
 * the socket came up empty.  Returns how many were queued. */
static size_t
ingest_to(tr_msg **dh, tr_msg **dt)
{
	tr_mailbox_stats st;
	tr_msg          *h = NULL, *t = NULL, *m;
	tr_addr          fins[MAX_ACKS];
	size_t           n = 0, nfin = 0, left = room();
	uint64_t         maxl = 0, ndirect = 0;
	int              r = 1;

	memset(&st, 0, sizeof(st));
	while (n < BATCH && n < left && nfin < MAX_ACKS) {
		r = ingest_one(&m, &st);
		if (r <= 0) {
			break;
		}
		if (!m) {
			continue;
		}
		maxl = m->env.lamport > maxl ? m->env.lamport : maxl;
		/* a node's notice stays in order with the user messages */
		if ((m->env.flags & TRI_FLAG_SYSTEM) &&
		    !tri_node_notice_is(m)) {
			struct tri_env env = m->env;

			if (tri_proto_handle(m, fins, &nfin) < 0) {
				st.dropped_malformed++;
				drop_log(
				    "system message does not decode", &env);
			}
			continue;
		}
		if (tri_trace_on()) {
			tri_trace_receive(&m->env, &m->payload);
		}
		if (m->env.flags & TRI_FLAG_DIRECT) {
			ndirect++;
			tri_direct_from(m->env.sender);
		}
		m->next = NULL;
		if (t) {
			t->next = m;
		} else {
			h = m;
		}
		t = m;
		n++;
	}
	in.drained = r == 0;
	/* a sender's direct connection broke: once everything that came is
	 * counted, what it said it sent and never came is told */
	while (in.drained && n < left && tri_direct_settle(&m) == 0 && m) {
		m->next = NULL;
		if (t) {
			t->next = m;
		} else {
			h = m;
		}
		t = m;
		n++;
	}
	if (ndirect) {
		tri_direct_received(ndirect);
	}
	if (maxl) {
		lamport_seen(maxl, n);
	}
	if (dh && h) {
		if (*dt) {
			(*dt)->next = h;
		} else {
			*dh = h;
		}
		*dt = t;
		atomic_fetch_add(&in.queued, n);
		h = NULL;
	}
	atomic_fetch_add(&in.received, n);
	if (h || st.dropped_malformed || st.dropped_badtype ||
	    st.dropped_toobig || st.dropped_stale) {
		pthread_mutex_lock(&in.lock);
		append_locked(h, t, h ? n : 0);
		in.st.dropped_malformed += st.dropped_malformed;
		in.st.dropped_badtype += st.dropped_badtype;
		in.st.dropped_toobig += st.dropped_toobig;
		in.st.dropped_stale += st.dropped_stale;
		pthread_mutex_unlock(&in.lock);
	}
	for (size_t i = 0; i < nfin; i++) {
		tri_proto_send_finack(
		    fins[i]); /* what each sent before is queued */
	}
	return n;
}

static void
ingest_batch(void)
{
	(void) ingest_to(NULL, NULL);
}

int
tri_inbox_read(tr_msg **head, tr_msg **tail, bool will_wait)
{
	tr_msg *before;
	int     n;

	if (!in.sock || atomic_load(&in.t_wants_sock) || room() == 0 ||
	    pthread_mutex_trylock(&in.sock_lock) != 0) {
		tri_inbox_take(head, tail);
		return -1;
	}
	atomic_store(&in.a_seen_ms, mono_ms());
	/* what the runtime thread read is queued: it reads and queues
	 * under sock_lock; ours comes after.  A socket read to the end is
	 * not looked at again before what was taken is used, nor before a
	 * wait (its poll looks): each look at an empty socket costs libzmq
	 * a system call */
	before = *tail;
	tri_inbox_take(head, tail);
	n = (*tail != before || will_wait) && in.drained
	    ? 0
	    : (int) ingest_to(head, tail);
	pthread_mutex_unlock(&in.sock_lock);
	return n;
}

size_t
tri_inbox_nitems(void)
{
	return 2;
}

static void
lower(int *timeout_ms, int v)
{
	if (*timeout_ms < 0 || *timeout_ms > v) {
		*timeout_ms = v;
	}
}

size_t
tri_inbox_pollitems(zmq_pollitem_t *it, int *timeout_ms)
{
	size_t  n = 0;
	int64_t now;

	if (!in.sock) {
		return 0;
	}
	it[n++] = (zmq_pollitem_t) { .socket = in.mon, .events = ZMQ_POLLIN };
	if (room() == 0) {
		return n; /* the actor's taking a message kicks us */
	}
	now = mono_ms();
	if (in.t_saw_reader || atomic_load(&in.a_reading) ||
	    now - atomic_load(&in.a_seen_ms) < ACTOR_ACTIVE_MS) {
		/* the actor reads (or did a moment ago): mail is taken there,
		 * with no hand-off; look again later rather than wake for
		 * each message, and take over if it stays away (busy in its
		 * own code) */
		in.t_saw_reader = false;
		lower(timeout_ms, ACTOR_AWAY_MS);
		return n;
	}
	if (!in.drained) {
		lower(timeout_ms, 0);
	}
	/* the signaler: new mail wakes us, and the actor handing the socket
	 * back needs no wake-up call */
	it[n++] = (zmq_pollitem_t) { .fd = in.sock_fd, .events = ZMQ_POLLIN };
	return n;
}

void
tri_inbox_serve(void)
{
	if (!in.sock) {
		return;
	}
	/* connections first: a DISCONNECTED seen here means its last
	 * messages are readable below */
	tri_conns_serve(in.mon);
	tri_proto_apply_deferred();
	if (atomic_load(&in.a_reading)) {
		in.t_saw_reader = true;
		return;
	}
	if (room() > 0 &&
	    mono_ms() - atomic_load(&in.a_seen_ms) >= ACTOR_ACTIVE_MS &&
	    pthread_mutex_trylock(&in.sock_lock) == 0) {
		ingest_batch();
		pthread_mutex_unlock(&in.sock_lock);
	}
}

void
tri_inbox_drain(void)
{
	uint64_t one = 1;

	if (!in.sock) {
		return;
	}
	tri_conns_serve(in.mon);
	if (room() == 0) {
		in.drained = false;
		return;
	}
	/* take the socket from the actor's thread if it waits on it */
	atomic_store(&in.t_wants_sock, true);
	pthread_mutex_lock(&in.lock);
	if (in.waiting && !in.signaled) {
		in.signaled = true;
		(void) write(in.wake_fd, &one, sizeof(one));
	}
	pthread_mutex_unlock(&in.lock);
	pthread_mutex_lock(&in.sock_lock);
	atomic_store(&in.t_wants_sock, false);
	ingest_batch();
	pthread_mutex_unlock(&in.sock_lock);
}

void
tri_inbox_wake(void)
{
	uint64_t one = 1;

	pthread_mutex_lock(&in.lock);
	if (in.waiting && !in.signaled) {
		in.signaled = true;
		(void) write(in.wake_fd, &one, sizeof(one));
	}
	pthread_mutex_unlock(&in.lock);
}

void
tri_inbox_exiting(void)
{
	atomic_store(&in.exiting, true);
	tri_loop_kick();
}

bool
tri_inbox_stuck(void)
{
	return in.sock && room() == 0 &&
	    (atomic_load(&in.awaiting) || atomic_load(&in.selective));
}

void
tri_inbox_set_selective(bool on)
{
	atomic_store(&in.selective, on);
}

bool
tri_inbox_full(void)
{
	return in.sock && room() == 0;
}

bool
tri_inbox_drained(void)
{
	return !in.sock || in.drained;
}

void
tri_inbox_put_local(tr_msg *m)
{
	m->next = NULL;
	pthread_mutex_lock(&in.lock);
	append_locked(m, m, 1);
	pthread_mutex_unlock(&in.lock);
}

void
tri_inbox_thread_exit(void)
{
	/* the actor's thread takes the sockets over after the join */
}

/* ---- the actor's side ---------------------------------------------------- */

void
tri_inbox_take(tr_msg **head, tr_msg **tail)
{
	pthread_mutex_lock(&in.lock);
	if (in.head) {
		if (*tail) {
			(*tail)->next = in.head;
		} else {
			*head = in.head;
		}
		*tail   = in.tail;
		in.head = in.tail = NULL;
	}
	pthread_mutex_unlock(&in.lock);
}

void
tri_inbox_consumed(size_t n)
{
	size_t cap    = (size_t) atomic_load(&tri_inbox_capacity);
	size_t before = atomic_fetch_sub(&in.queued, n);

	/* the runtime thread stopped reading at a bound: wake it */
	if ((before >= cap && before - n < cap) ||
	    (before >= 2 * cap && before - n < 2 * cap)) {
		tri_loop_kick();
	}
}

bool
tri_inbox_has_mail(void)
{
	bool r;

	pthread_mutex_lock(&in.lock);
	r = in.head != NULL;
	pthread_mutex_unlock(&in.lock);
	return r;
}

/* Poll for up to timeout_ms; -EINTR when a signal handler ran (tr_recv()
 * and tr_poll() report it, as poll(2) does). */
static int
poll_fds(struct pollfd *pf, size_t n, int64_t deadline, int timeout_ms)
{
	int r = poll(pf, (nfds_t) n, tri_remaining(deadline, timeout_ms));

	return r < 0 ? -errno : r;
}

/* The actor's thread reads the socket itself while it waits (sock_lock
 * held): returns like tri_inbox_wait().  One poll(2) per wait, on
 * libzmq's descriptor, as a blocking zmq_recv() makes: a read that came
 * up empty left that descriptor to signal the next message (zmq_poll()
 * would look at the socket twice more). */
static int
wait_reading(struct pollfd *pf, size_t n, int64_t deadline, int timeout_ms)
{
	bool has;
	int  r = 0;

	atomic_store(&in.a_reading, true);
	atomic_store(&in.a_seen_ms, mono_ms());
	/* to the end first, or libzmq's descriptor never signals */
	if (!in.drained && room() > 0) {
		ingest_batch();
	}
	pthread_mutex_lock(&in.lock);
	has = in.head != NULL;
	pthread_mutex_unlock(&in.lock);
	if (!has) {
		pf[0] = (struct pollfd) { .fd = in.sock_fd, .events = POLLIN };
		if (room() == 0 || atomic_load(&in.t_wants_sock) ||
		    !in.drained) {
			pf[0].fd = -1; /* not ours to read now */
		}
		r = poll_fds(pf, n, deadline, timeout_ms);
		if (r > 0 && pf[0].revents && room() > 0) {
			ingest_batch();
			r--; /* libzmq's signal is not one of the caller's */
			pthread_mutex_lock(&in.lock);
			r += in.head != NULL;
			pthread_mutex_unlock(&in.lock);
		}
	}
	atomic_store(&in.a_seen_ms, mono_ms());
	atomic_store(&in.a_reading, false);
	pthread_mutex_unlock(&in.sock_lock);
	/* more to read than one batch: the signaler will not say so */
	if (!in.drained) {
		tri_loop_kick();
	}
	return has ? 1 : r;
}

int
tri_inbox_wait(struct pollfd *fds, size_t nfds, int timeout_ms)
{
	struct pollfd stack[8], *pf = stack;
	int64_t       deadline = tri_deadline(timeout_ms);
	uint64_t      v;
	int           r;

	if (nfds + 2 > sizeof(stack) / sizeof(stack[0])) {
		pf = tri_calloc(nfds + 2, sizeof(*pf));
		if (!pf) {
			return -ENOMEM;
		}
	}
	pthread_mutex_lock(&in.lock);
	if (in.head) {
		pthread_mutex_unlock(&in.lock);
		r = 1;
		goto out;
	}
	in.waiting = true;
	pthread_mutex_unlock(&in.lock);
	pf[1] = (struct pollfd) { .fd = in.wake_fd, .events = POLLIN };
	for (size_t i = 0; i < nfds; i++) {
		pf[i + 2] = (struct pollfd) { .fd = fds[i].fd,
			.events                   = fds[i].events };
	}
	if (in.sock && !atomic_load(&in.t_wants_sock) &&
	    pthread_mutex_trylock(&in.sock_lock) == 0) {
		r = wait_reading(pf, nfds + 2, deadline, timeout_ms);
	} else {
		r = poll_fds(pf + 1, nfds + 1, deadline, timeout_ms);
	}
	pthread_mutex_lock(&in.lock);
	in.waiting = false;
	if (in.signaled) {
		(void) read(in.wake_fd, &v, sizeof(v));
		in.signaled = false;
	}
	pthread_mutex_unlock(&in.lock);
	for (size_t i = 0; r > 0 && i < nfds; i++) {
		fds[i].revents = pf[i + 2].revents;
	}
out:
	if (pf != stack) {
		tri_free(pf);
	}
	return r;
}

void
tri_inbox_set_awaiting(uint64_t corr)
{
	bool was = atomic_exchange(&in.awaiting, corr) != 0;

	/* it stopped at the plain bound: it may read on now */
	if (corr && !was &&
	    atomic_load(&in.queued) >=
	        (size_t) atomic_load(&tri_inbox_capacity)) {
		tri_loop_kick();
	}
}

void
tri_inbox_stats(tr_mailbox_stats *ret)
{
	pthread_mutex_lock(&in.lock);
	*ret = in.st;
	pthread_mutex_unlock(&in.lock);
	ret->received = atomic_load(&in.received);
	ret->queued   = atomic_load(&in.queued);
}

void
tri_inbox_count_late_reply(void)
{
	pthread_mutex_lock(&in.lock);
	in.st.dropped_late_reply++;
	pthread_mutex_unlock(&in.lock);
}

void
tri_inbox_close(void)
{
	if (in.owner != tri_getpid()) {
		return;
	}
	if (in.mon) {
		tri_fds_forget_socket(in.mon);
		zmq_close(in.mon);
		in.mon = NULL;
	}
	if (in.sock) {
		tri_fds_forget_socket(in.sock);
		zmq_close(in.sock);
		in.sock = NULL;
	}
	while (in.head) {
		tr_msg *m = in.head;

		in.head = m->next;
		tr_msg_destroy(&m);
	}
	in.tail = NULL;
	atomic_store(&in.queued, 0);
	if (in.path[0]) {
		(void) unlink(in.path);
		in.path[0] = '\0';
	}
	tri_conns_forget();
	tri_proto_forget();
}

void
tri_inbox_forked(void)
{
	if (in.wake_fd >= 0) {
		close(in.wake_fd);
	}
	/* the parent's queue and sockets are not ours: forget them */
	memset(&in, 0, sizeof(in));
	pthread_mutex_init(&in.lock, NULL);
	pthread_mutex_init(&in.sock_lock, NULL);
	tri_conns_forget();
	tri_proto_forget();
	in.wake_fd = -1;
	in.drained = true;
}
