/* SPDX-License-Identifier: MIT */
/* The same-host call channel (chan-int.h): one request/reply slot in an
 * anonymous memfd the server owns, per client.  Made and mapped as the
 * Event's page and the queue's rings are (attach-int.h).
 *
 * The slot's state word moves IDLE -> REQ (client: a request published)
 * -> TAKEN (server: copied out, being served) -> REPLY (server: answered)
 * -> IDLE (client: reply read); a one-way request goes REQ -> IDLE when
 * the server takes it.  Every store and load of the state and of the two
 * sleeping flags is sequentially consistent, so a side that set its flag
 * and looked again is always either seen or woken. */
#include "chan-int.h"

#include "attach-int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <protobuf-c/protobuf-c.h>

#define CHAN_SIZE   TRI_CHAN_SIZE
#define HDR_SIZE    TRI_CHAN_HDR_SIZE
#define CHAN_MAGIC  TRI_CHAN_MAGIC
#define F_ONEWAY    TRI_CHAN_ONEWAY
#define REP_BY_MAIL TRI_CHAN_BY_MAIL
#define ST_IDLE     TRI_CHAN_IDLE
#define ST_REQ      TRI_CHAN_REQ
#define ST_TAKEN    TRI_CHAN_TAKEN
#define ST_REPLY    TRI_CHAN_REPLY
/* correlation id of a reply sent by mail: tag | sequence number */
#define MAIL_TAG     0x43a0000000000000ull
#define MAIL_SEND_MS 5000
/* the server spins only if a channel was busy this recently */
#define BUSY_NS 2000000
/* while channels are busy, the server looks at its mailbox this often
 * (a poll(2) each time) */
#define MAIL_EVERY_NS 20000

_Static_assert(sizeof(struct tri_chan_page) <= HDR_SIZE, "header");

static long
futex(_Atomic uint32_t *word, int op, uint32_t val, const struct timespec *ts)
{
	return syscall(SYS_futex, (uint32_t *) word, op, val, ts, NULL, 0);
}

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* One step of a spin: a pause, and the CPU to others every 8 steps after
 * the first 16 (two cores shared by many processes must not be held by a
 * spinner; on a busy machine the other side often waits for this CPU).
 * Measured on the 2-CPU VM at load 5-11: yielding from the first steps
 * or after 16 did best, after 32 or 64 markedly worse (2x); only on an
 * idle machine does a longer pure spin win. */
static void
relax(unsigned i)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
	if (i >= 16 && (i & 7) == 7) {
		sched_yield();
	}
}

/* How long to spin before sleeping: TRI_CHAN_SPIN_US, or
 * TROUPE_CHAN_SPIN_US (0..1000) from the environment, read once. */
static int64_t
spin_ns(void)
{
	static _Atomic int64_t ns = -1;
	int64_t v = atomic_load_explicit(&ns, memory_order_relaxed);

	if (v < 0) {
		const char *e = getenv("TROUPE_CHAN_SPIN_US");
		char       *end;
		long        us = e ? strtol(e, &end, 10) : -1;

		v = e && *e && !*end && us >= 0 && us <= 1000
		    ? us * 1000
		    : TRI_CHAN_SPIN_US * 1000;
		atomic_store_explicit(&ns, v, memory_order_relaxed);
	}
	return v;
}

static uint8_t *
req_area(struct tri_chan_page *p)
{
	return (uint8_t *) p + HDR_SIZE;
}

static uint8_t *
rep_area(struct tri_chan_page *p)
{
	return (uint8_t *) p + HDR_SIZE + TRI_CHAN_REQ_MAX;
}

/* ---- client ------------------------------------------------------------- */

bool
tri_chan_enabled(void)
{
	const char *e = getenv("TROUPE_CHAN");

	return !e || strcmp(e, "0") != 0;
}

void
tri_chan_init(struct tri_chan *c)
{
	c->page     = NULL;
	c->pidfd    = -1;
	c->wakefd   = -1;
	c->server   = TR_ADDR_NULL;
	c->seq      = 0;
	c->used     = 0;
	c->alive_ns = 0;
	pthread_mutex_init(&c->mu, NULL);
	c->ask        = NULL;
	c->arg        = NULL;
	c->asked      = false;
	c->fd         = -1;
	c->mail_casts = false;
}

void
tri_chan_detach(struct tri_chan *c)
{
	if (c->page) {
		(void) munmap(c->page, CHAN_SIZE);
	}
	if (c->pidfd >= 0) {
		close(c->pidfd);
	}
	if (c->wakefd >= 0) {
		close(c->wakefd);
	}
	c->page     = NULL;
	c->pidfd    = -1;
	c->wakefd   = -1;
	c->server   = TR_ADDR_NULL;
	c->alive_ns = 0;
}

int
tri_chan_attach(struct tri_chan *c, tr_addr a, int fd)
{
	struct tri_chan_page *p;
	void                 *map;
	char                  path[64];
	int                   pidfd, wfd, r;

	r = tri_attach_map(a, fd, CHAN_SIZE, &map, &pidfd);
	if (r < 0) {
		return r;
	}
	p = map;
	if (atomic_load(&p->magic) != CHAN_MAGIC || p->pid != a.pid ||
	    p->incarnation != a.incarnation || p->wake_fd < 0 ||
	    !tr_addr_is_alive(a)) {
		(void) munmap(p, CHAN_SIZE);
		close(pidfd);
		return -ESRCH;
	}
	snprintf(path, sizeof(path), "/proc/%u/fd/%d", (unsigned) a.pid,
	    (int) p->wake_fd);
	wfd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (wfd < 0) {
		r = -errno;
		(void) munmap(p, CHAN_SIZE);
		close(pidfd);
		return r;
	}
	tri_chan_detach(c);
	c->page   = p;
	c->pidfd  = pidfd;
	c->wakefd = wfd;
	c->server = a;
	return 0;
}

static bool
server_alive(const struct tri_chan *c)
{
	struct pollfd pf = { .fd = c->pidfd, .events = POLLIN };

	return poll(&pf, 1, 0) == 0;
}

/* server_alive(), asked at most once a millisecond (a poll(2) each time):
 * a server that died since is seen by the wait for its answer (TR_EDEAD
 * rather than -ESRCH, as a message sent to an actor dying meanwhile). */
static bool
alive_lately(struct tri_chan *c)
{
	int64_t now = now_ns();

	if (now - c->alive_ns < 1000000) {
		return true;
	}
	if (!server_alive(c)) {
		return false;
	}
	c->alive_ns = now;
	return true;
}

/* Wait until the state is one of mask's bits: spin a little, then sleep
 * on the futex in slices, looking at the server's pidfd between them.
 * Returns the state, TR_EDEAD, -ETIMEDOUT. */
static int
wait_state(struct tri_chan *c, unsigned mask, int64_t deadline, bool spin)
{
	struct tri_chan_page *p    = c->page;
	int64_t               stop = now_ns() + (spin ? spin_ns() : 0);
	uint32_t              st;

	for (unsigned i = 0;; i++) {
		st = atomic_load(&p->state);
		if (mask & 1u << st) {
			return (int) st;
		}
		if ((i & 15) == 15 && now_ns() > stop) {
			break;
		}
		relax(i);
	}
	for (;;) {
		struct timespec ts;
		int             left;

		atomic_store(&p->client_waiting, 1);
		st = atomic_load(&p->state);
		if (mask & 1u << st) {
			atomic_store(&p->client_waiting, 0);
			return (int) st;
		}
		if (!server_alive(c)) {
			return TR_EDEAD;
		}
		left = tr_deadline_left(deadline);
		if (left == 0) {
			return -ETIMEDOUT;
		}
		if (left < 0 || left > TRI_CHAN_SLICE_MS) {
			left = TRI_CHAN_SLICE_MS;
		}
		ts.tv_sec  = left / 1000;
		ts.tv_nsec = (long) (left % 1000) * 1000000;
		(void) futex(&p->state, FUTEX_WAIT, st, &ts);
	}
}

int
tri_chan_flush(struct tri_chan *c, int timeout_ms)
{
	int r;

	if (!c->page) {
		return 0;
	}
	r = wait_state(c, ~(1u << ST_REQ), tr_deadline(timeout_ms), true);
	if (r < 0) {
		tri_chan_detach(c);
	}
	return r < 0 ? r : 0;
}

/* Room for a record of rec bytes: at 0 of a free slot, or appended to the
 * one-way requests published and not yet taken (state REQ -> WRITING, so
 * that the server leaves them until the batch is published again).
 * Returns the offset, TR_EDEAD, -ESRCH (dead before), -ETIMEDOUT. */
static int
claim(struct tri_chan *c, size_t rec, int64_t deadline)
{
	struct tri_chan_page *p = c->page;

	for (;;) {
		uint32_t st = atomic_load(&p->state);
		int      r;

		if (st == ST_IDLE) {
			c->used = 0;
			return alive_lately(c) ? 0 : -ESRCH;
		}
		if (st == ST_REQ && c->used + rec <= TRI_CHAN_REQ_MAX) {
			uint32_t want = ST_REQ;

			if (atomic_compare_exchange_strong(
			        &p->state, &want, TRI_CHAN_WRITING)) {
				return (int) c->used;
			}
			continue; /* the server took them meanwhile */
		}
		r = wait_state(c, 1u << ST_IDLE, deadline, true);
		if (r < 0) {
			return r;
		}
	}
}

struct mail_match {
	tr_addr     from;
	uint64_t    corr;
	const char *type;
};

static bool
is_mail_reply(const tr_msg *m, void *arg)
{
	const struct mail_match *x = arg;

	return tr_msg_correlation(m) == x->corr &&
	    tr_addr_eq(tr_msg_sender(m), x->from) &&
	    strcmp(tr_msg_type(m), x->type) == 0;
}

/* The reply the server sent by mail (too big for the slot). */
static int
mail_reply(struct tri_chan *c, uint32_t seq,
    const ProtobufCMessageDescriptor *d, ProtobufCMessage **ret,
    int64_t deadline)
{
	struct mail_match x = { c->server, MAIL_TAG | seq, d->name };
	tr_msg           *m = NULL;
	int               r;

	r = tr_recv_match(&m, is_mail_reply, &x, tr_deadline_left(deadline));
	if (r < 0) {
		return r == -EAGAIN ? -ETIMEDOUT : r;
	}
	r = tr_msg_unpack(m, d, ret);
	tr_msg_destroy(&m);
	return r;
}

int
tri_chan_call(struct tri_chan *c, const ProtobufCMessage *req,
    const ProtobufCMessageDescriptor *rep_desc, ProtobufCMessage **ret,
    int timeout_ms)
{
	struct tri_chan_page *p = c->page;
	int64_t               deadline;
	size_t                size, len;
	size_t                off;
	uint32_t              seq;
	int32_t               status;
	bool                  woke;
	int                   r;

	if (!p) {
		return -ENOTCONN;
	}
	size = protobuf_c_message_get_packed_size(req);
	if (size > TRI_CHAN_REQ_MAX - sizeof(struct tri_chan_rec)) {
		return TR_ETOOBIG;
	}
	deadline = tr_deadline(timeout_ms);
	r        = claim(c, sizeof(struct tri_chan_rec) + size, deadline);
	if (r < 0) {
		tri_chan_detach(c);
		return r == -ETIMEDOUT ? r : -ESRCH;
	}
	off = (size_t) r;
	{
		struct tri_chan_rec h = { (uint32_t) size,
			rep_desc ? 0 : F_ONEWAY };

		memcpy(req_area(p) + off, &h, sizeof(h));
	}
	(void) protobuf_c_message_pack(
	    req, req_area(p) + off + sizeof(struct tri_chan_rec));
	c->used = off + sizeof(struct tri_chan_rec) + size;
	seq     = rep_desc ? ++c->seq : c->seq;
	atomic_store_explicit(&p->req_seq, seq, memory_order_relaxed);
	atomic_store_explicit(
	    &p->req_flags, rep_desc ? 0 : F_ONEWAY, memory_order_relaxed);
	atomic_store_explicit(
	    &p->req_len, (uint32_t) c->used, memory_order_relaxed);
	atomic_store(&p->state, ST_REQ);
	woke = atomic_load(&p->server_sleeping) &&
	    atomic_exchange(&p->server_sleeping, 0);
	if (woke) {
		/* full: wake-ups are pending anyway */
		(void) !write(c->wakefd, "", 1);
	}
	if (!rep_desc) {
		return 0;
	}
	/* a server we woke needs the CPU more than a spinner does */
	r = wait_state(c, 1u << ST_REPLY, deadline, !woke);
	if (r < 0) {
		tri_chan_detach(c);
		return r;
	}
	status = atomic_load_explicit(&p->rep_status, memory_order_relaxed);
	len    = atomic_load_explicit(&p->rep_len, memory_order_relaxed);
	if (atomic_load_explicit(&p->rep_seq, memory_order_relaxed) != seq ||
	    (status == 0 && len > TRI_CHAN_REP_MAX)) {
		tri_chan_detach(c); /* not our reply: the slot is unusable */
		return TR_EBADFRAME;
	}
	if (status == 0) {
		*ret =
		    protobuf_c_message_unpack(rep_desc, NULL, len, rep_area(p));
		r = *ret ? 0 : TR_EBADFRAME;
	} else if (status == REP_BY_MAIL) {
		r = 1;
	} else {
		r = status < 0 ? status : TR_EBADFRAME;
	}
	atomic_store(&p->state, ST_IDLE);
	if (r == 1) {
		r = mail_reply(c, seq, rep_desc, ret, deadline);
	}
	return r;
}

/* ---- routing: the channel or the mailbox -------------------------------- */

/* Ask for a channel once per server; with c->mu held. */
static void
chan_ask(struct tri_chan *c, tr_addr server)
{
	int fd;

	if (c->asked || !c->ask || server.node != 0 || !tri_chan_enabled()) {
		return;
	}
	c->asked = true;
	fd       = c->ask(c->arg);
	if (fd >= 0 && tri_chan_attach(c, server, fd) == 0) {
		c->fd = fd;
	} else if (fd >= 0) {
		tr_log(TR_LOG_DEBUG, "chan: cannot attach: the mailbox then");
	}
}

static int
mail_cast(tr_addr server, const ProtobufCMessage *req, int timeout_ms)
{
	tr_msg *msg = NULL;
	int     r   = tr_msg_new_pb(&msg, req);

	if (r == 0) {
		r = tr_send(server, &msg, timeout_ms);
		tr_msg_destroy(&msg);
	}
	return r;
}

int
tri_chan_send(struct tri_chan *c, tr_addr server, const ProtobufCMessage *req,
    const ProtobufCMessageDescriptor *rep_desc, ProtobufCMessage **ret,
    int timeout_ms)
{
	int r;

	if (pthread_mutex_trylock(&c->mu) != 0) {
		return rep_desc
		    ? tr_call_pb(server, req, rep_desc, ret, timeout_ms)
		    : mail_cast(server, req, timeout_ms);
	}
	chan_ask(c, server);
	if (c->page && !c->mail_casts) {
		r = tri_chan_call(c, req, rep_desc, ret, timeout_ms);
		if (r != TR_ETOOBIG) {
			pthread_mutex_unlock(&c->mu);
			return r;
		}
	}
	/* the channel's last one-way request first */
	r = tri_chan_flush(c, timeout_ms);
	if (r == 0 && rep_desc) {
		r = tr_call_pb(server, req, rep_desc, ret, timeout_ms);
		if (r == 0) {
			c->mail_casts = false;
		}
	} else if (r == 0) {
		r             = mail_cast(server, req, timeout_ms);
		c->mail_casts = c->page != NULL;
	} else if (r == TR_EDEAD) {
		r = -ESRCH; /* this request was not sent */
	}
	pthread_mutex_unlock(&c->mu);
	return r;
}

void
tri_chan_drop(struct tri_chan *c, const ProtobufCMessage *close_pb, int ms)
{
	pthread_mutex_lock(&c->mu);
	if (c->page && close_pb && tri_chan_flush(c, ms) == 0) {
		(void) mail_cast(c->server, close_pb, ms);
	}
	tri_chan_detach(c);
	c->asked      = false;
	c->mail_casts = false;
	c->fd         = -1;
	pthread_mutex_unlock(&c->mu);
}

/* ---- server ------------------------------------------------------------- */

struct chan {
	struct tri_chan_page *page;
	int                   fd;
	tr_addr               who;
	const tr_msg         *inflight; /* taken, not yet answered */
	uint32_t              seq;      /* its sequence number */
	tr_msg              **pend;     /* a batch's requests not served yet */
	size_t                ipend, npend, cappend;
};

struct tri_chan_srv {
	char          type[128];
	struct chan  *chans;
	size_t        n, cap, next;
	int           pipe[2];
	const tr_msg *oneway; /* the one-way request being served */
	tr_addr       oneway_who;
	int64_t       busy_ns; /* when a channel last had a request */
	int64_t       mail_ns; /* when the mailbox was last looked at */
	uint64_t      refused;
};

int
tri_chan_srv_new(struct tri_chan_srv **ret, const char *type)
{
	struct tri_chan_srv *cs = calloc(1, sizeof(*cs));

	if (!cs) {
		return -ENOMEM;
	}
	if (pipe2(cs->pipe, O_NONBLOCK | O_CLOEXEC) < 0) {
		int r = -errno;

		free(cs);
		return r;
	}
	snprintf(cs->type, sizeof(cs->type), "%s", type);
	*ret = cs;
	return 0;
}

static void
chan_free(struct chan *ch)
{
	for (size_t i = ch->ipend; i < ch->npend; i++) {
		tr_msg_destroy(&ch->pend[i]);
	}
	free(ch->pend);
	(void) munmap(ch->page, CHAN_SIZE);
	close(ch->fd);
}

void
tri_chan_srv_free(struct tri_chan_srv **p)
{
	struct tri_chan_srv *cs = p ? *p : NULL;

	if (!cs) {
		return;
	}
	for (size_t i = 0; i < cs->n; i++) {
		chan_free(&cs->chans[i]);
	}
	free(cs->chans);
	close(cs->pipe[0]);
	close(cs->pipe[1]);
	free(cs);
	*p = NULL;
}

uint64_t
tri_chan_srv_refused(const struct tri_chan_srv *cs)
{
	return cs->refused;
}

int
tri_chan_srv_open(struct tri_chan_srv *cs, tr_addr who)
{
	struct tri_chan_page *p;
	tr_addr               self = tr_self();
	int                   fd, r;

	if (cs->n >= TRI_CHAN_SRV_MAX) {
		return -EMFILE;
	}
	if (cs->n == cs->cap) {
		size_t       cap = cs->cap ? 2 * cs->cap : 8;
		struct chan *c   = realloc(cs->chans, cap * sizeof(*c));

		if (!c) {
			return -ENOMEM;
		}
		cs->chans = c;
		cs->cap   = cap;
	}
	fd = (int) syscall(SYS_memfd_create, "troupe-chan", MFD_CLOEXEC);
	if (fd < 0) {
		return -errno;
	}
	if (ftruncate(fd, CHAN_SIZE) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	p = mmap(NULL, CHAN_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		r = -errno;
		close(fd);
		return r;
	}
	p->pid         = self.pid;
	p->incarnation = self.incarnation;
	p->wake_fd     = cs->pipe[1];
	atomic_store(&p->magic, CHAN_MAGIC);
	cs->chans[cs->n++] = (struct chan) { .page = p, .fd = fd, .who = who };
	return fd;
}

void
tri_chan_srv_close(struct tri_chan_srv *cs, tr_addr who, int fd)
{
	for (size_t i = 0; i < cs->n;) {
		if (tr_addr_eq(cs->chans[i].who, who) &&
		    (fd < 0 || cs->chans[i].fd == fd)) {
			chan_free(&cs->chans[i]);
			cs->chans[i] = cs->chans[--cs->n];
		} else {
			i++;
		}
	}
	if (tr_addr_eq(cs->oneway_who, who)) {
		cs->oneway = NULL;
	}
	cs->next = 0;
}

static void
wake_client(struct tri_chan_page *p)
{
	if (atomic_load(&p->client_waiting) &&
	    atomic_exchange(&p->client_waiting, 0)) {
		(void) futex(&p->state, FUTEX_WAKE, INT_MAX, NULL);
	}
}

/* Answer the slot's request with an error and no bytes. */
static void
refuse(struct tri_chan_srv *cs, struct chan *ch, uint32_t seq, int err)
{
	struct tri_chan_page *p = ch->page;

	atomic_store_explicit(&p->rep_status, err, memory_order_relaxed);
	atomic_store_explicit(&p->rep_len, 0, memory_order_relaxed);
	atomic_store_explicit(&p->rep_seq, seq, memory_order_relaxed);
	atomic_store(&p->state, ST_REPLY);
	wake_client(p);
}

/* A batch that breaks the rules: refused as a whole. */
static void
refuse_batch(struct tri_chan_srv *cs, struct chan *ch, uint32_t len,
    uint32_t flags, uint32_t seq)
{
	struct tri_chan_page *p = ch->page;

	tr_log(TR_LOG_DEBUG,
	    "chan: refused malformed requests (%u bytes, flags %#x)", len,
	    flags);
	cs->refused++;
	for (size_t i = ch->ipend; i < ch->npend; i++) {
		tr_msg_destroy(&ch->pend[i]);
	}
	ch->ipend = ch->npend = 0;
	if (flags & F_ONEWAY) {
		atomic_store(&p->state, ST_IDLE);
		wake_client(p);
	} else {
		refuse(cs, ch, seq, TR_EBADFRAME);
	}
}

static int
pend_push(struct chan *ch, tr_msg *m)
{
	if (ch->npend == ch->cappend) {
		size_t   cap = ch->cappend ? 2 * ch->cappend : 8;
		tr_msg **q   = realloc(ch->pend, cap * sizeof(*q));

		if (!q) {
			return -ENOMEM;
		}
		ch->pend    = q;
		ch->cappend = cap;
	}
	ch->pend[ch->npend++] = m;
	return 0;
}

/* Copy the published batch out as messages (ch->pend): every record
 * header read once and checked, as outside input.  Returns false (and
 * answers or drops the batch) when it breaks a rule. */
static bool
copy_batch(struct tri_chan_srv *cs, struct chan *ch)
{
	struct tri_chan_page *p = ch->page;
	uint32_t              len, flags, seq;
	bool                  answered = false;

	/* each field read once: the client may change them meanwhile */
	len   = atomic_load_explicit(&p->req_len, memory_order_relaxed);
	flags = atomic_load_explicit(&p->req_flags, memory_order_relaxed);
	seq   = atomic_load_explicit(&p->req_seq, memory_order_relaxed);
	if (len == 0 || len > TRI_CHAN_REQ_MAX || (flags & ~F_ONEWAY)) {
		refuse_batch(cs, ch, len, flags, seq);
		return false;
	}
	for (uint32_t off = 0; off < len;) {
		struct tri_chan_rec h;
		tr_msg             *m = NULL;

		if (answered || len - off < sizeof(h)) {
			refuse_batch(cs, ch, len, flags, seq);
			return false;
		}
		memcpy(&h, req_area(p) + off, sizeof(h));
		off += sizeof(h);
		if (h.len > len - off || (h.flags & ~F_ONEWAY)) {
			refuse_batch(cs, ch, len, flags, seq);
			return false;
		}
		answered = !(h.flags & F_ONEWAY);
		if (tr_msg_new_bytes(
		        &m, h.len ? req_area(p) + off : NULL, h.len) < 0 ||
		    tr_msg_set_type(m, cs->type) < 0 || pend_push(ch, m) < 0) {
			tr_msg_destroy(&m);
			refuse_batch(cs, ch, len, flags, seq);
			return false;
		}
		off += h.len;
	}
	if (answered != !(flags & F_ONEWAY)) {
		refuse_batch(cs, ch, len, flags, seq);
		return false;
	}
	if (answered) {
		ch->inflight = ch->pend[ch->npend - 1];
		ch->seq      = seq;
	} else {
		atomic_store(&p->state, ST_IDLE);
		wake_client(p);
	}
	return true;
}

/* Take ch's next request, if any: 1 (*ret set), 0.  A dying client's
 * batch is taken even while it was appending to it (what it published
 * before is whole: req_len grows only after a record is written). */
static int
take_from(struct tri_chan_srv *cs, struct chan *ch, tr_msg **ret, bool dying)
{
	struct tri_chan_page *p = ch->page;
	tr_msg               *m;

	if (ch->ipend == ch->npend) {
		uint32_t want = ST_REQ;

		ch->ipend = ch->npend = 0;
		if (ch->inflight) {
			return 0;
		}
		if (!atomic_compare_exchange_strong(
		        &p->state, &want, ST_TAKEN) &&
		    !(dying && want == TRI_CHAN_WRITING &&
		        atomic_compare_exchange_strong(
		            &p->state, &want, ST_TAKEN))) {
			return 0;
		}
		if (!copy_batch(cs, ch)) {
			return 0;
		}
		cs->busy_ns = now_ns();
	}
	m = ch->pend[ch->ipend++];
	if (m != ch->inflight) {
		cs->oneway     = m;
		cs->oneway_who = ch->who;
	}
	*ret = m;
	return 1;
}

bool
tri_chan_srv_pending(const struct tri_chan_srv *cs)
{
	for (size_t i = 0; i < cs->n; i++) {
		if (cs->chans[i].ipend < cs->chans[i].npend) {
			return true;
		}
	}
	return false;
}

int
tri_chan_srv_take(struct tri_chan_srv *cs, tr_addr who, tr_msg **ret)
{
	bool any = tr_addr_is_null(who);

	/* a batch under way first: its requests are served together */
	for (size_t i = 0; i < cs->n; i++) {
		struct chan *ch = &cs->chans[i];

		if (ch->ipend < ch->npend &&
		    (any || tr_addr_eq(ch->who, who))) {
			return take_from(cs, ch, ret, !any);
		}
	}
	for (size_t k = 0; k < cs->n; k++) {
		size_t i = (cs->next + k) % cs->n;

		if ((any || tr_addr_eq(cs->chans[i].who, who)) &&
		    take_from(cs, &cs->chans[i], ret, !any)) {
			cs->next = i + 1;
			return 1;
		}
	}
	return 0;
}

static struct chan *
chan_of(const struct tri_chan_srv *cs, const tr_msg *m)
{
	for (size_t i = 0; m && i < cs->n; i++) {
		if (cs->chans[i].inflight == m) {
			return &cs->chans[i];
		}
	}
	return NULL;
}

tr_addr
tri_chan_srv_sender(const struct tri_chan_srv *cs, const tr_msg *m)
{
	const struct chan *ch;

	if (cs && m && m == cs->oneway) {
		return cs->oneway_who;
	}
	ch = cs ? chan_of(cs, m) : NULL;
	return ch ? ch->who : tr_msg_sender(m);
}

/* Too big for the slot: the whole reply to the client's mailbox. */
static int
reply_by_mail(struct chan *ch, const ProtobufCMessage *rep)
{
	tr_msg *m = NULL;
	int     r = tr_msg_new_pb(&m, rep);

	if (r == 0) {
		tr_msg_set_correlation(m, MAIL_TAG | ch->seq);
		r = tr_send(ch->who, &m, MAIL_SEND_MS);
		tr_msg_destroy(&m);
	}
	return r;
}

int
tri_chan_srv_reply(
    struct tri_chan_srv *cs, const tr_msg *m, const ProtobufCMessage *rep)
{
	struct tri_chan_page *p;
	struct chan          *ch;
	size_t                size;
	int                   r = 0;

	if (!cs || !m) {
		return 0;
	}
	if (m == cs->oneway) {
		return 1;
	}
	ch = chan_of(cs, m);
	if (!ch) {
		return 0;
	}
	p    = ch->page;
	size = protobuf_c_message_get_packed_size(rep);
	if (size <= TRI_CHAN_REP_MAX) {
		(void) protobuf_c_message_pack(rep, rep_area(p));
		atomic_store_explicit(&p->rep_status, 0, memory_order_relaxed);
	} else {
		r = reply_by_mail(ch, rep);
		atomic_store_explicit(&p->rep_status, r < 0 ? r : REP_BY_MAIL,
		    memory_order_relaxed);
	}
	atomic_store_explicit(
	    &p->rep_len, (uint32_t) size, memory_order_relaxed);
	atomic_store_explicit(&p->rep_seq, ch->seq, memory_order_relaxed);
	atomic_store(&p->state, ST_REPLY);
	wake_client(p);
	ch->inflight = NULL;
	return r < 0 ? r : 1;
}

void
tri_chan_srv_forget(struct tri_chan_srv *cs, const tr_msg *m)
{
	struct chan *ch;

	if (!cs || !m) {
		return;
	}
	if (m == cs->oneway) {
		cs->oneway = NULL;
		return;
	}
	ch = chan_of(cs, m);
	if (ch) {
		ch->inflight = NULL;
		refuse(cs, ch, ch->seq, -EPROTO);
	}
}

static bool
any_request(const struct tri_chan_srv *cs)
{
	for (size_t i = 0; i < cs->n; i++) {
		if (cs->chans[i].ipend < cs->chans[i].npend ||
		    (!cs->chans[i].inflight &&
		        atomic_load(&cs->chans[i].page->state) == ST_REQ)) {
			return true;
		}
	}
	return false;
}

static void
set_sleeping(struct tri_chan_srv *cs, uint32_t v)
{
	for (size_t i = 0; i < cs->n; i++) {
		atomic_store(&cs->chans[i].page->server_sleeping, v);
	}
}

bool
tri_chan_srv_mail_due(struct tri_chan_srv *cs, bool busy)
{
	int64_t now;

	if (!busy) {
		return true;
	}
	now = now_ns();
	if (now - cs->mail_ns < MAIL_EVERY_NS) {
		return false;
	}
	cs->mail_ns = now;
	return true;
}

int
tri_chan_srv_wait(struct tri_chan_srv *cs, int timeout_ms)
{
	struct pollfd pf      = { .fd = cs->pipe[0], .events = POLLIN };
	bool          mailbox = false;
	int64_t       t0      = now_ns();
	char          buf[256];
	int           r;

	if (cs->n > 0 && timeout_ms != 0 && t0 - cs->busy_ns < BUSY_NS) {
		int64_t stop = t0 + spin_ns();

		for (unsigned i = 0;; i++) {
			if (any_request(cs)) {
				return 1;
			}
			if ((i & 15) == 15) {
				int64_t now = now_ns();

				if (now - cs->mail_ns >= MAIL_EVERY_NS) {
					cs->mail_ns = now;
					if (tr_poll(NULL, 0, &mailbox, 0) > 0) {
						return 1;
					}
				}
				if (now > stop) {
					break;
				}
			}
			relax(i);
		}
	}
	set_sleeping(cs, 1);
	if (any_request(cs)) {
		set_sleeping(cs, 0);
		return 1;
	}
	r = tr_poll(&pf, 1, &mailbox, timeout_ms);
	set_sleeping(cs, 0);
	while (read(cs->pipe[0], buf, sizeof(buf)) > 0) { }
	return r < 0 ? r : r > 0 || any_request(cs);
}
