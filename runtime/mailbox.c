/* SPDX-License-Identifier: MIT */
/* The mailbox: one PULL socket per actor, bound lazily at
 * ipc://<rundir>/<pid>.<incarnation>; one PUSH socket per peer we send to
 * (so one sender's messages to one recipient stay in order); the receive
 * queue that selective receive leaves messages in; monitors and links,
 * watched through pidfds polled beside the mailbox. */
#include "msg.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <protobuf-c/protobuf-c.h>

#include "rt.h"
#include "troupe.pb-c.h"

#define PEER_BUCKETS  64
#define SEND_SLICE_MS 100 /* re-check a silent peer's liveness this often */

enum watch_kind { W_MONITOR, W_LINK };

struct peer {
	tr_addr      addr;
	void        *sock;
	int          pidfd;
	uint64_t     sent;       /* messages handed to this peer's socket */
	bool         fin_ack;    /* exit handshake done */
	uint8_t      prefix[48]; /* envelope fields 1-2: us, then this peer */
	int          prefix_len;
	struct peer *next;
};

struct watch {
	uint64_t        ref;
	tr_addr         who;
	int             pidfd;
	enum watch_kind kind;
};

static struct mb {
	pid_t            owner; /* the process this state belongs to */
	void            *ctx, *sock;
	tr_addr          self;
	char             path[PATH_MAX];
	struct peer     *peers[PEER_BUCKETS];
	tr_msg          *qhead, *qtail;
	struct watch    *watches;
	size_t           nwatch, capwatch;
	uint64_t         next_ref, next_id, next_corr, lamport;
	uint64_t         awaiting; /* correlation id of the call in progress */
	bool             trap_exit;
	unsigned         since_watch_check;
	tr_mailbox_stats st;
} mb;

static int    capacity  = 1000;
static int    linger_ms = 2000;
static size_t max_size  = (size_t) 64 << 20;

/* Names this process registered (names.c removes them at exit). */
void tri_names_release_own(void);
void tri_names_forget(void);
void tri_names_drop_addr(tr_addr a);

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

/* ---- state across fork ----------------------------------------------------
 */

void
tri_msg_forked(void)
{
	/* A child must never use, close or terminate its parent's context:
	 * forget it all.  Descriptors are ours to close. */
	for (size_t i = 0; i < mb.nwatch; i++) {
		close(mb.watches[i].pidfd);
	}
	for (int b = 0; b < PEER_BUCKETS; b++) {
		for (struct peer *p = mb.peers[b]; p; p = p->next) {
			close(p->pidfd);
		}
	}
	tri_names_forget();
	memset(&mb, 0, sizeof(mb));
}

static void
check_owner(void)
{
	if (mb.owner != tri_getpid()) {
		if (mb.owner != 0) {
			tri_msg_forked(); /* raw fork() child */
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

static int
endpoint_of(tr_addr a, char *buf, size_t n, bool with_scheme)
{
	int r = snprintf(buf, n, "%s%s/%" PRIu32 ".%" PRIu64,
	    with_scheme ? "ipc://" : "", tri_rt.rundir, a.pid, a.incarnation);

	return r < 0 || (size_t) r >= n ? -ENAMETOOLONG : 0;
}

static int
ensure_ctx(void)
{
	check_owner();
	tr_assert_return(tri_rt.inited, TR_ENOTINIT);
	if (!mb.ctx) {
		mb.ctx = zmq_ctx_new();
		if (!mb.ctx) {
			return -zmq_errno();
		}
	}
	if (tr_addr_is_null(tr_self())) {
		return -ESRCH;
	}
	return 0;
}

int
tr_self_bind(void)
{
	char ep[PATH_MAX + 8];
	int  zero = 0, r;
	/* payloads over max_size are dropped and counted by ingest_one();
	 * libzmq's own limit, far above, only guards memory against a raw
	 * peer (it closes that connection) */
	int64_t maxmsg = (int64_t) max_size * 2 + ((int64_t) 1 << 20);

	r = ensure_ctx();
	if (r < 0 || mb.sock) {
		return r;
	}
	r = endpoint_of(mb.self, ep, sizeof(ep), true);
	if (r < 0) {
		return r;
	}
	mb.sock = zmq_socket(mb.ctx, ZMQ_PULL);
	if (!mb.sock) {
		return -zmq_errno();
	}
	zmq_setsockopt(mb.sock, ZMQ_RCVHWM, &capacity, sizeof(capacity));
	zmq_setsockopt(mb.sock, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(mb.sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg));
	if (zmq_bind(mb.sock, ep) < 0) {
		r = -zmq_errno();
		zmq_close(mb.sock);
		mb.sock = NULL;
		return r;
	}
	tri_strlcpy(mb.path, ep + 6, sizeof(mb.path));
	tri_debug("mailbox bound at %s", ep);
	return 0;
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

/* ---- peers ----------------------------------------------------------------
 */

static unsigned
bucket(tr_addr a)
{
	return (unsigned) ((a.pid * 2654435761u) ^ a.incarnation) %
	    PEER_BUCKETS;
}

static void
peer_drop(tr_addr a)
{
	struct peer **pp = &mb.peers[bucket(a)];

	for (; *pp; pp = &(*pp)->next) {
		if (tr_addr_eq((*pp)->addr, a)) {
			struct peer *p    = *pp;
			int          zero = 0;

			*pp = p->next;
			zmq_setsockopt(
			    p->sock, ZMQ_LINGER, &zero, sizeof(zero));
			zmq_close(p->sock);
			close(p->pidfd);
			tri_free(p);
			return;
		}
	}
}

/* Close the sockets of peers that died, so that a long-lived actor called
 * by many short-lived ones does not collect descriptors. */
static void
prune_bucket(unsigned b)
{
	struct peer *p = mb.peers[b], *next;

	for (; p; p = next) {
		next = p->next;
		if (tri_poll_fd(p->pidfd, POLLIN, 0) > 0) {
			peer_drop(p->addr);
		}
	}
}

static int
peer_get(tr_addr a, struct peer **ret)
{
	struct peer *p;
	char         ep[PATH_MAX + 8];
	int          one = 1, ivl = 10, r;

	for (p = mb.peers[bucket(a)]; p; p = p->next) {
		if (tr_addr_eq(p->addr, a)) {
			*ret = p;
			return 0;
		}
	}
	if (a.node != 0) {
		return TR_EBADADDR; /* remote nodes come with distribution */
	}
	prune_bucket(bucket(a));
	r = endpoint_of(a, ep, sizeof(ep), true);
	if (r < 0) {
		return r;
	}
	p = tri_calloc(1, sizeof(*p));
	if (!p) {
		return -ENOMEM;
	}
	/* open the pidfd first, then check the incarnation: the pidfd then
	 * surely names the process the address means */
	p->pidfd = tri_pidfd_open((pid_t) a.pid);
	if (p->pidfd < 0 || !tr_addr_is_alive(a)) {
		if (p->pidfd >= 0) {
			close(p->pidfd);
		}
		tri_free(p);
		return -ESRCH;
	}
	p->sock = zmq_socket(mb.ctx, ZMQ_PUSH);
	if (!p->sock) {
		r = -zmq_errno();
		close(p->pidfd);
		tri_free(p);
		return r;
	}
	zmq_setsockopt(p->sock, ZMQ_SNDHWM, &capacity, sizeof(capacity));
	zmq_setsockopt(p->sock, ZMQ_LINGER, &linger_ms, sizeof(linger_ms));
	zmq_setsockopt(p->sock, ZMQ_IMMEDIATE, &one, sizeof(one));
	zmq_setsockopt(p->sock, ZMQ_RECONNECT_IVL, &ivl, sizeof(ivl));
	if (zmq_connect(p->sock, ep) < 0) {
		r = -zmq_errno();
		zmq_close(p->sock);
		close(p->pidfd);
		tri_free(p);
		return r;
	}
	p->addr = a;
	p->prefix_len =
	    tri_env_encode_addrs(mb.self, a, p->prefix, sizeof(p->prefix));
	p->next             = mb.peers[bucket(a)];
	mb.peers[bucket(a)] = p;
	*ret                = p;
	return 0;
}

/* ---- sending --------------------------------------------------------------
 */

static int64_t
realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Why a send that could not go out gave up. */
static int
send_failure(struct peer *p)
{
	char        path[PATH_MAX];
	struct stat st;

	if (!tr_addr_is_alive(p->addr)) {
		peer_drop(p->addr);
		return -ESRCH;
	}
	if (endpoint_of(p->addr, path, sizeof(path), false) == 0 &&
	    stat(path, &st) == 0) {
		return TR_EFULL;
	}
	return -ETIMEDOUT; /* alive, but its mailbox was never bound */
}

static int
send_frames(struct peer *p, const uint8_t *env, size_t envlen, tr_msg *m,
    int timeout_ms)
{
	int64_t deadline = tri_deadline(timeout_ms);

	for (;;) {
		zmq_pollitem_t it[2] = {
			{ .socket = p->sock, .events = ZMQ_POLLOUT },
			{ .fd = p->pidfd, .events = ZMQ_POLLIN },
		};
		int left, slice, r;

		if (zmq_send(p->sock, env, envlen,
		        ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0) {
			/* the high-water mark is checked at the first frame
			 * only: the payload cannot be refused now */
			if (zmq_msg_send(&m->payload, p->sock, 0) < 0) {
				return -zmq_errno();
			}
			return 0;
		}
		if (zmq_errno() != EAGAIN) {
			return -zmq_errno();
		}
		if (timeout_ms == 0) {
			return -EAGAIN;
		}
		left = tri_remaining(deadline, timeout_ms);
		if (left == 0) {
			return send_failure(p);
		}
		slice = left < 0 || left > SEND_SLICE_MS ? SEND_SLICE_MS : left;
		r     = zmq_poll(it, 2, slice);
		if (r < 0 && zmq_errno() != EINTR) {
			return -zmq_errno();
		}
		if (r > 0 && (it[1].revents & ZMQ_POLLIN)) {
			peer_drop(p->addr);
			return -ESRCH;
		}
	}
}

static int
send_msg(tr_addr to, tr_msg **msgp, int timeout_ms, struct peer **ret_peer)
{
	uint8_t      env[TRI_ENV_MAX];
	tr_msg      *m;
	struct peer *p = NULL;
	int          n, r;

	tr_assert_return(msgp && *msgp, -EINVAL);
	tr_assert_return(!tr_addr_is_null(to), -EINVAL);
	if (zmq_msg_size(&(*msgp)->payload) > max_size) {
		return TR_ETOOBIG;
	}
	r = ensure_ctx();
	if (r < 0) {
		return r;
	}
	if (tr_addr_eq(to, mb.self) && !mb.sock) {
		r = tr_self_bind();
		if (r < 0) {
			return r;
		}
	}
	r = peer_get(to, &p);
	if (r < 0) {
		return r;
	}
	m                   = *msgp;
	m->env.sender       = mb.self;
	m->env.recipient    = to;
	m->env.id           = ++mb.next_id;
	m->env.lamport      = ++mb.lamport;
	m->env.send_time_ns = realtime_ns();
	memcpy(env, p->prefix, (size_t) p->prefix_len);
	n = tri_env_encode_rest(
	    &m->env, env + p->prefix_len, sizeof(env) - (size_t) p->prefix_len);
	if (n < 0) {
		return n;
	}
	n += p->prefix_len;
	r = send_frames(p, env, (size_t) n, m, timeout_ms);
	if (r < 0) {
		mb.next_id--;
		return r;
	}
	mb.st.sent++;
	p->sent++;
	tr_msg_destroy(msgp);
	if (ret_peer) {
		*ret_peer = p;
	}
	return 0;
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

static void
send_system(tr_addr to, const ProtobufCMessage *pb)
{
	tr_msg *m;

	if (tri_msg_new_system(&m, pb) == 0) {
		if (send_msg(to, &m, 1000, NULL) < 0) {
			tri_debug("system message %s not delivered",
			    pb->descriptor->name);
		}
		tr_msg_destroy(&m);
	}
}

/* ---- the receive queue ----------------------------------------------------
 */

static void
enqueue(tr_msg *m)
{
	m->next = NULL;
	if (mb.qtail) {
		mb.qtail->next = m;
	} else {
		mb.qhead = m;
	}
	mb.qtail = m;
	mb.st.queued++;
	mb.st.received++;
}

/* Unlink m (whose predecessor is prev, or NULL for the head). */
static void
dequeue(tr_msg *prev, tr_msg *m)
{
	if (prev) {
		prev->next = m->next;
	} else {
		mb.qhead = m->next;
	}
	if (mb.qtail == m) {
		mb.qtail = prev;
	}
	m->next = NULL;
	mb.st.queued--;
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
		"noproc", "unknown" };

	return c >= 0 && c <= TR_EXIT_UNKNOWN ? names[c] : "?";
}

/* A zombie's wait status, from /proc/PID/stat field 52 (Linux >= 3.5). */
static int
zombie_status(tr_addr a, int *ret_code)
{
	char     path[64], buf[1024], *p;
	FILE    *f;
	uint64_t st;
	char     state;
	int      status, field;

	if (tri_proc_starttime((pid_t) a.pid, &st, &state) < 0 ||
	    st != a.incarnation || state != 'Z') {
		return -ESRCH;
	}
	snprintf(path, sizeof(path), "/proc/%" PRIu32 "/stat", a.pid);
	f = fopen(path, "re");
	if (!f) {
		return -ESRCH;
	}
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	p = p ? strrchr(buf, ')') : NULL;
	for (field = 2; p && field < 52; field++) {
		p = strchr(p + 1, ' ');
	}
	if (!p || sscanf(p + 1, "%d", &status) != 1) {
		return -EIO;
	}
	*ret_code = tri_exitcode_from_status(status);
	return 0;
}

/* Learn how `who` ended: our own child tells waitid(WNOWAIT); another's
 * child tells its zombie's /proc entry, or once reaped, the run's exit
 * log, which every troupe reaper writes before it reaps. */
static void
learn_exit(tr_addr who, int pidfd, int *ret_code, int *ret_class)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	if (waitid(P_PIDFD, (id_t) pidfd, &si, WEXITED | WNOHANG | WNOWAIT) ==
	        0 &&
	    si.si_pid != 0) {
		*ret_code =
		    si.si_code == CLD_EXITED ? si.si_status : -si.si_status;
		*ret_class = tri_exit_class(*ret_code);
		return;
	}
	for (int i = 0; i < 50; i++) {
		if (zombie_status(who, ret_code) == 0 ||
		    tri_exitlog_get(
		        (pid_t) who.pid, who.incarnation, ret_code) == 0) {
			*ret_class = tri_exit_class(*ret_code);
			return;
		}
		usleep(2000); /* the reaper is between reap and log */
	}
	*ret_code  = 0;
	*ret_class = TR_EXIT_UNKNOWN;
}

static void
enqueue_notice(bool is_exit, uint64_t ref, tr_addr who, int code, int cls)
{
	Trwire__Addr a = TRWIRE__ADDR__INIT;
	Trwire__Down d = TRWIRE__DOWN__INIT;
	Trwire__Exit e = TRWIRE__EXIT__INIT;
	tr_msg      *m;
	int          r;

	a.node        = who.node;
	a.pid         = who.pid;
	a.incarnation = who.incarnation;
	if (is_exit) {
		e.who        = &a;
		e.exitcode   = code;
		e.exit_class = (Trwire__ExitClass) cls;
		r            = tri_msg_new_system(&m, &e.base);
	} else {
		d.ref        = ref;
		d.who        = &a;
		d.exitcode   = code;
		d.exit_class = (Trwire__ExitClass) cls;
		r            = tri_msg_new_system(&m, &d.base);
	}
	if (r < 0) {
		tr_log(TR_LOG_ERROR, "out of memory: a DOWN notice was lost");
		return;
	}
	m->env.sender      = who;
	m->env.recipient   = mb.self;
	m->env.correlation = ref; /* lets tr_demonitor() find it */
	enqueue(m);
}

static void
watch_remove(size_t i)
{
	close(mb.watches[i].pidfd);
	mb.watches[i] = mb.watches[--mb.nwatch];
}

static int
watch_add(tr_addr who, enum watch_kind kind, uint64_t ref)
{
	int fd;

	if (mb.nwatch == mb.capwatch) {
		size_t        ncap = mb.capwatch ? mb.capwatch * 2 : 8;
		struct watch *w    = tri_realloc(mb.watches, ncap * sizeof(*w));

		if (!w) {
			return -ENOMEM;
		}
		mb.watches  = w;
		mb.capwatch = ncap;
	}
	fd = tri_pidfd_open((pid_t) who.pid);
	if (fd < 0) {
		return fd == -ESRCH ? -ESRCH : fd;
	}
	if (!tr_addr_is_alive(who)) {
		close(fd);
		return -ESRCH;
	}
	mb.watches[mb.nwatch++] = (struct watch) { ref, who, fd, kind };
	return 0;
}

static void
link_exit(tr_addr who, int code, int cls)
{
	char a[TR_ADDR_STRLEN];

	if (mb.trap_exit) {
		enqueue_notice(true, 0, who, code, cls);
		return;
	}
	if (cls == TR_EXIT_NORMAL) {
		return;
	}
	tr_addr_format(who, a, sizeof(a));
	tri_debug("linked actor %s ended (%s, %d): exiting too", a,
	    tr_exit_class_name(cls), code);
	if (cls == TR_EXIT_SHUTDOWN) {
		signal(SIGTERM, SIG_DFL);
		raise(SIGTERM);
	}
	tr_exit(1);
}

static void
watch_fired(size_t i)
{
	struct watch w = mb.watches[i];
	int          code, cls;

	learn_exit(w.who, w.pidfd, &code, &cls);
	watch_remove(i);
	if (w.kind == W_MONITOR) {
		enqueue_notice(false, w.ref, w.who, code, cls);
	} else {
		link_exit(w.who, code, cls);
	}
}

static void
check_watches(void)
{
	for (size_t i = 0; i < mb.nwatch;) {
		if (tri_poll_fd(mb.watches[i].pidfd, POLLIN, 0) > 0) {
			watch_fired(i);
		} else {
			i++;
		}
	}
	mb.since_watch_check = 0;
}

int
tr_monitor(tr_addr who, uint64_t *ret_ref)
{
	uint64_t ref;
	int      r;

	tr_assert_return(!tr_addr_is_null(who), -EINVAL);
	r = ensure_ctx();
	if (r < 0) {
		return r;
	}
	tr_assert_return(!tr_addr_eq(who, mb.self), -EINVAL);
	ref = ++mb.next_ref;
	r   = who.node == 0 ? watch_add(who, W_MONITOR, ref) : TR_EBADADDR;
	if (r == -ESRCH) {
		enqueue_notice(false, ref, who, 0, TR_EXIT_NOPROC);
	} else if (r < 0) {
		return r;
	}
	if (ret_ref) {
		*ret_ref = ref;
	}
	return 0;
}

int
tr_demonitor(uint64_t ref)
{
	tr_msg *prev = NULL;

	for (size_t i = 0; i < mb.nwatch; i++) {
		if (mb.watches[i].kind == W_MONITOR &&
		    mb.watches[i].ref == ref) {
			watch_remove(i);
			return 0;
		}
	}
	for (tr_msg *m = mb.qhead; m; prev = m, m = m->next) {
		if (m->env.correlation == ref &&
		    strcmp(m->env.type, "trwire.Down") == 0) {
			dequeue(prev, m);
			tr_msg_destroy(&m);
			return 0;
		}
	}
	return TR_ENOTFOUND;
}

static void
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
	send_system(to, link ? &l.base : &u.base);
}

static bool
linked(tr_addr who)
{
	for (size_t i = 0; i < mb.nwatch; i++) {
		if (mb.watches[i].kind == W_LINK &&
		    tr_addr_eq(mb.watches[i].who, who)) {
			return true;
		}
	}
	return false;
}

int
tr_link(tr_addr who)
{
	int r;

	tr_assert_return(!tr_addr_is_null(who), -EINVAL);
	r = ensure_ctx();
	if (r < 0) {
		return r;
	}
	tr_assert_return(!tr_addr_eq(who, mb.self), -EINVAL);
	if (linked(who)) {
		return 0;
	}
	r = tr_self_bind();
	if (r == 0) {
		r = watch_add(who, W_LINK, 0);
	}
	if (r == 0) {
		link_msg(who, true);
	}
	return r;
}

int
tr_unlink(tr_addr who)
{
	for (size_t i = 0; i < mb.nwatch; i++) {
		if (mb.watches[i].kind == W_LINK &&
		    tr_addr_eq(mb.watches[i].who, who)) {
			watch_remove(i);
			link_msg(who, false);
			return 0;
		}
	}
	return 0;
}

void
tr_trap_exit(bool on)
{
	check_owner();
	mb.trap_exit = on;
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

/* LINK and UNLINK are the runtime's own business. */
static void
handle_system(tr_msg *m)
{
	ProtobufCMessage *pb;

	if (tr_msg_unpack(m, &trwire__link__descriptor, &pb) == 0) {
		Trwire__Addr *a = ((Trwire__Link *) pb)->from;
		tr_addr who = a ? (tr_addr) { a->node, a->pid, a->incarnation }
		                : TR_ADDR_NULL;

		if (!tr_addr_is_null(who) && !linked(who) &&
		    watch_add(who, W_LINK, 0) == -ESRCH) {
			link_exit(who, 0, TR_EXIT_NOPROC);
		}
		protobuf_c_message_free_unpacked(pb, NULL);
	} else if (tr_msg_unpack(m, &trwire__unlink__descriptor, &pb) == 0) {
		Trwire__Addr *a = ((Trwire__Unlink *) pb)->from;

		for (size_t i = 0; a && i < mb.nwatch; i++) {
			if (mb.watches[i].kind == W_LINK &&
			    mb.watches[i].who.pid == a->pid &&
			    mb.watches[i].who.incarnation == a->incarnation) {
				watch_remove(i);
				break;
			}
		}
		protobuf_c_message_free_unpacked(pb, NULL);
	} else if (strcmp(m->env.type, "trwire.Fin") == 0) {
		/* everything this sender sent before is in our queue now */
		Trwire__FinAck ack = TRWIRE__FIN_ACK__INIT;

		send_system(m->env.sender, &ack.base);
	} else if (strcmp(m->env.type, "trwire.FinAck") == 0) {
		for (struct peer *p = mb.peers[bucket(m->env.sender)]; p;
		     p              = p->next) {
			if (tr_addr_eq(p->addr, m->env.sender)) {
				p->fin_ack = true;
			}
		}
	} else {
		mb.st.dropped_badtype++;
		drop_log("unknown system message", &m->env);
	}
	tr_msg_destroy(&m);
}

/* ---- receiving ------------------------------------------------------------
 */

static void
drain_frames(void)
{
	zmq_msg_t f;
	int       more = 1;
	size_t    l    = sizeof(more);

	while (zmq_getsockopt(mb.sock, ZMQ_RCVMORE, &more, &l) == 0 && more) {
		zmq_msg_init(&f);
		(void) zmq_msg_recv(&f, mb.sock, 0);
		zmq_msg_close(&f);
	}
}

static bool
wire_system_type(const char *type)
{
	static const char *const ok[] = { "trwire.Link", "trwire.Unlink",
		"trwire.Fin", "trwire.FinAck" };

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (strcmp(type, ok[i]) == 0) {
			return true;
		}
	}
	return false;
}

/* Why m must not be delivered, or NULL. */
static const char *
reject(tr_msg *m, uint64_t **counter)
{
	if (!tr_addr_eq(m->env.recipient, mb.self)) {
		*counter = &mb.st.dropped_stale;
		return "addressed to another incarnation";
	}
	if (zmq_msg_size(&m->payload) > max_size) {
		*counter = &mb.st.dropped_toobig;
		return "payload larger than the mailbox maximum";
	}
	if (m->env.flags & TRI_FLAG_SYSTEM) {
		/* DOWN and EXIT are made locally; from the wire only the
		 * runtime-to-runtime requests are accepted */
		if (!wire_system_type(m->env.type)) {
			*counter = &mb.st.dropped_badtype;
			return "system message type not accepted from the wire";
		}
	} else if (m->env.type[0] && !tri_type_known(m->env.type)) {
		*counter = &mb.st.dropped_badtype;
		return "unregistered payload type";
	}
	if ((m->env.flags & TRI_FLAG_REPLY) &&
	    (mb.awaiting == 0 || m->env.correlation != mb.awaiting)) {
		*counter = &mb.st.dropped_late_reply;
		return NULL; /* a late reply is expected traffic, not an error
		              */
	}
	return NULL;
}

/* Take one message off the socket: 1 if one was taken (delivered or
 * dropped), 0 if none was waiting, -errno on failure. */
static int
ingest_one(void)
{
	zmq_msg_t   f;
	tr_msg     *m;
	const char *why     = NULL;
	uint64_t   *counter = NULL;
	int         r, more;

	zmq_msg_init(&f);
	if (zmq_msg_recv(&f, mb.sock, ZMQ_DONTWAIT) < 0) {
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
		return -ENOMEM;
	}
	zmq_msg_init(&m->payload);
	if (!more ||
	    tri_env_decode(zmq_msg_data(&f), zmq_msg_size(&f), &m->env) < 0) {
		why     = more ? "envelope does not decode"
		               : "single frame, no payload";
		counter = &mb.st.dropped_malformed;
		memset(&m->env, 0, sizeof(m->env));
	}
	zmq_msg_close(&f);
	if (more && zmq_msg_recv(&m->payload, mb.sock, 0) < 0) {
		tr_msg_destroy(&m);
		return -zmq_errno();
	}
	if (!why && zmq_msg_more(&m->payload)) {
		why     = "more than two frames";
		counter = &mb.st.dropped_malformed;
	}
	drain_frames();
	if (!why && !counter) {
		why = reject(m, &counter);
	}
	if (counter) {
		(*counter)++;
		if (why) {
			drop_log(why, &m->env);
		}
		tr_msg_destroy(&m);
		return 1;
	}
	if (m->env.lamport > mb.lamport) {
		mb.lamport = m->env.lamport;
	}
	mb.lamport++;
	if (m->env.flags & TRI_FLAG_SYSTEM) {
		handle_system(m);
		return 1;
	}
	enqueue(m);
	return 1;
}

/* Move what the socket holds into the queue (bounded, to stay fair). */
static int
ingest_all(void)
{
	int r = 0;

	for (int i = 0; i < 1024; i++) {
		r = ingest_one();
		if (r <= 0) {
			break;
		}
	}
	return r < 0 ? r : 0;
}

/* Wait up to timeout_ms for the socket, the watches, extra_fd and fds.
 * Returns the number of ready user fds, sets *ret_extra if extra_fd fired;
 * -errno on failure. */
static int
wait_events(int timeout_ms, int extra_fd, bool *ret_extra, struct pollfd *fds,
    size_t nfds)
{
	zmq_pollitem_t stack_items[32], *it = stack_items;
	size_t         n = 1 + mb.nwatch + (extra_fd >= 0) + nfds, k = 0;
	int            r, nuser                                      = 0;

	if (n > 32) {
		it = tri_calloc(n, sizeof(*it));
		if (!it) {
			return -ENOMEM;
		}
	}
	it[k++] = (zmq_pollitem_t) { .socket = mb.sock, .events = ZMQ_POLLIN };
	for (size_t i = 0; i < mb.nwatch; i++) {
		it[k++] = (zmq_pollitem_t) { .fd = mb.watches[i].pidfd,
			.events                  = ZMQ_POLLIN };
	}
	if (extra_fd >= 0) {
		it[k++] =
		    (zmq_pollitem_t) { .fd = extra_fd, .events = ZMQ_POLLIN };
	}
	for (size_t i = 0; i < nfds; i++) {
		it[k++] = (zmq_pollitem_t) { .fd = fds[i].fd,
			.events                  = fds[i].events };
	}
	r = zmq_poll(it, (int) n, timeout_ms);
	if (r < 0) {
		r = -zmq_errno();
		goto out;
	}
	for (size_t i = 0; i < nfds; i++) {
		fds[i].revents = it[n - nfds + i].revents;
		nuser += fds[i].revents != 0;
	}
	if (extra_fd >= 0 && ret_extra) {
		*ret_extra = it[1 + mb.nwatch].revents != 0;
	}
	/* messages first: a DOWN follows the dead actor's last messages */
	r = (it[0].revents & ZMQ_POLLIN) ? ingest_all() : 0;
	if (r == 0 && mb.nwatch) {
		check_watches();
	}
	if (r == 0) {
		r = nuser;
	}
out:
	if (it != stack_items) {
		tri_free(it);
	}
	return r;
}

/* Wait for fd like tri_poll_fd(), taking mail in meanwhile (so that peers
 * exiting get their handshake answered while we block elsewhere). */
int
tri_msg_wait_fd(int fd, int timeout_ms)
{
	int64_t deadline = tri_deadline(timeout_ms);

	if (mb.owner != tri_getpid() || !mb.sock) {
		return tri_poll_fd(fd, POLLIN, timeout_ms);
	}
	for (;;) {
		zmq_pollitem_t it[2] = { { .socket   = mb.sock,
			                     .events = ZMQ_POLLIN },
			{ .fd = fd, .events = ZMQ_POLLIN } };
		int r = zmq_poll(it, 2, tri_remaining(deadline, timeout_ms));

		if (r < 0 && zmq_errno() != EINTR) {
			return -zmq_errno();
		}
		if (it[1].revents) {
			return 1;
		}
		if (it[0].revents && ingest_all() < 0) {
			return tri_poll_fd(
			    fd, POLLIN, tri_remaining(deadline, timeout_ms));
		}
		if (tri_remaining(deadline, timeout_ms) == 0) {
			return 0;
		}
	}
}

static int
recv_match(tr_msg **ret, tr_match_fn match, void *arg, int timeout_ms,
    int extra_fd, bool *ret_extra)
{
	int64_t deadline = tri_deadline(timeout_ms);
	int64_t grace    = 0; /* after the peer died: collect in-flight mail */
	tr_msg *prev     = NULL, *m;
	bool    last     = false;
	int     r, left;

	tr_assert_return(ret, -EINVAL);
	r = tr_self_bind();
	if (r < 0) {
		return r;
	}
	m = mb.qhead;
	for (;;) {
		for (; m; prev = m, m = m->next) {
			if (!match || match(m, arg)) {
				dequeue(prev, m);
				*ret = m;
				return 0;
			}
		}
		/* fast path: a message may be waiting without a poll */
		r = ingest_one();
		if (r < 0) {
			return r;
		}
		if (r > 0) {
			if (++mb.since_watch_check >= 256 && mb.nwatch) {
				check_watches();
			}
			m = prev ? prev->next : mb.qhead;
			continue;
		}
		if (last) {
			return timeout_ms == 0 ? -EAGAIN : -ETIMEDOUT;
		}
		if (grace && tri_now_ms() >= grace) {
			return TR_EDEAD;
		}
		left = tri_remaining(deadline, timeout_ms);
		if (grace && (left < 0 || left > grace - tri_now_ms())) {
			left = (int) (grace - tri_now_ms());
		} else if (left == 0) {
			last =
			    true; /* one look at the watches before giving up */
		}
		r = wait_events(
		    left, grace ? -1 : extra_fd, ret_extra, NULL, 0);
		if (r < 0) {
			return r;
		}
		if (!grace && ret_extra && *ret_extra) {
			grace = tri_now_ms() + 20;
		}
		m = prev ? prev->next : mb.qhead;
	}
}

int
tr_recv(tr_msg **ret, int timeout_ms)
{
	return recv_match(ret, NULL, NULL, timeout_ms, -1, NULL);
}

int
tr_recv_match(tr_msg **ret, tr_match_fn match, void *arg, int timeout_ms)
{
	tr_assert_return(match, -EINVAL);
	return recv_match(ret, match, arg, timeout_ms, -1, NULL);
}

static bool
is_reply_to(const tr_msg *m, void *arg)
{
	return (m->env.flags & TRI_FLAG_REPLY) &&
	    m->env.correlation == *(uint64_t *) arg;
}

int
tr_call(tr_addr to, tr_msg **reqp, tr_msg **ret_reply, int timeout_ms)
{
	int64_t      deadline = tri_deadline(timeout_ms);
	struct peer *p;
	uint64_t     corr;
	bool         died = false;
	int          r;

	tr_assert_return(reqp && *reqp && ret_reply, -EINVAL);
	r = tr_self_bind();
	if (r < 0) {
		return r;
	}
	/* unique across this process's life; replies carry it back */
	corr                     = ++mb.next_corr;
	(*reqp)->env.correlation = corr;
	(*reqp)->env.reply_to    = mb.self;
	(*reqp)->env.flags       = 0;
	mb.awaiting              = corr;
	r                        = send_msg(to, reqp, timeout_ms, &p);
	if (r == 0) {
		r = recv_match(ret_reply, is_reply_to, &corr,
		    tri_remaining(deadline, timeout_ms), p->pidfd, &died);
		if (r == TR_EDEAD) {
			peer_drop(to);
		}
	}
	mb.awaiting = 0;
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

int
tr_poll(struct pollfd *fds, size_t nfds, bool *ret_mailbox, int timeout_ms)
{
	bool dummy;
	int  r;

	tr_assert_return(fds || nfds == 0, -EINVAL);
	if (!ret_mailbox) {
		ret_mailbox = &dummy;
	}
	r = tr_self_bind();
	if (r < 0) {
		return r;
	}
	r = ingest_all();
	if (r < 0) {
		return r;
	}
	r = wait_events(mb.qhead ? 0 : timeout_ms, -1, NULL, fds, nfds);
	if (r < 0) {
		return r;
	}
	*ret_mailbox = mb.qhead != NULL;
	return r + (*ret_mailbox ? 1 : 0);
}

/* ---- limits, stats, exit --------------------------------------------------
 */

int
tr_mailbox_set_capacity(int messages)
{
	tr_assert_return(messages > 0, -EINVAL);
	capacity = messages;
	return 0;
}

int
tr_mailbox_set_max_size(size_t bytes)
{
	tr_assert_return(bytes > 0 && bytes <= ((size_t) 1 << 40), -EINVAL);
	max_size = bytes;
	return 0;
}

int
tr_mailbox_set_linger(int ms)
{
	tr_assert_return(ms >= 0, -EINVAL);
	linger_ms = ms;
	return 0;
}

int
tri_msg_linger_ms(void)
{
	return linger_ms;
}

int
tr_mailbox_stats_get(tr_mailbox_stats *ret)
{
	tr_assert_return(ret, -EINVAL);
	check_owner();
	*ret = mb.st;
	return 0;
}

/* Peers we sent to that have not confirmed our exit handshake. */
static int
unconfirmed(bool send_fin)
{
	int n = 0;

	for (int b = 0; b < PEER_BUCKETS; b++) {
		for (struct peer *p = mb.peers[b]; p; p = p->next) {
			if (!p->sent || p->fin_ack ||
			    tr_addr_eq(p->addr, mb.self)) {
				continue;
			}
			if (tri_poll_fd(p->pidfd, POLLIN, 0) > 0) {
				p->fin_ack =
				    true; /* dead: nobody to deliver to */
				continue;
			}
			if (send_fin) {
				Trwire__Fin fin = TRWIRE__FIN__INIT;

				fin.sent = p->sent;
				send_system(p->addr, &fin.base);
			}
			n++;
		}
	}
	return n;
}

/* Before the sockets close, make sure every peer took in what we sent:
 * wait up to the linger time for each one's FinAck. */
static void
exit_handshake(void)
{
	int64_t deadline = tri_deadline(linger_ms);
	int     left;

	if (unconfirmed(false) == 0 || tr_self_bind() < 0) {
		return;
	}
	(void) unconfirmed(true);
	while (unconfirmed(false) > 0) {
		left = tri_remaining(deadline, linger_ms);
		if (left == 0) {
			tr_log(TR_LOG_ERROR,
			    "exit: %d peer(s) did not confirm receipt within "
			    "%d ms; messages to them may be lost",
			    unconfirmed(false), linger_ms);
			return;
		}
		if (wait_events(left > 50 ? 50 : left, -1, NULL, NULL, 0) < 0) {
			return;
		}
	}
}

void
tri_msg_shutdown(void)
{
	if (mb.owner != tri_getpid()) {
		return;
	}
	if (mb.ctx) {
		exit_handshake();
	}
	tri_names_release_own();
	if (mb.sock) {
		zmq_close(mb.sock);
		mb.sock = NULL;
	}
	for (int b = 0; b < PEER_BUCKETS; b++) {
		while (mb.peers[b]) {
			struct peer *p = mb.peers[b];

			mb.peers[b] = p->next;
			zmq_close(p->sock); /* keeps its linger */
			close(p->pidfd);
			tri_free(p);
		}
	}
	while (mb.qhead) {
		tr_msg *m = mb.qhead;

		dequeue(NULL, m);
		tr_msg_destroy(&m);
	}
	while (mb.nwatch) {
		watch_remove(mb.nwatch - 1);
	}
	tri_free(mb.watches);
	mb.watches  = NULL;
	mb.capwatch = 0;
	if (mb.ctx) {
		zmq_ctx_term(mb.ctx); /* waits up to the linger for sends */
		mb.ctx = NULL;
	}
	if (mb.path[0]) {
		(void) unlink(mb.path);
		mb.path[0] = '\0';
	}
}

void
tri_msg_on_exit(pid_t pid, uint64_t incarnation, int exitcode)
{
	tr_addr a = { 0, (uint32_t) pid, incarnation };
	char    path[PATH_MAX];

	tri_exitlog_put(pid, incarnation, exitcode);
	if (incarnation && endpoint_of(a, path, sizeof(path), false) == 0) {
		(void) unlink(path); /* left behind by a killed actor */
	}
	tri_names_drop_addr(a);
	if (mb.owner == tri_getpid()) {
		peer_drop(a);
	}
}
