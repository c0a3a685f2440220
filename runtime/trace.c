/* SPDX-License-Identifier: MIT */
/* Trace events into this process's ring (the writer side of trace.h).
 * Everything after tri_trace_on() is lock-free: a slot is reserved by CAS
 * on the ring's head and published by its seq; a full ring counts a drop.
 * The ring is made on the first event (its only system calls). */
#include "trace.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "msg.h"
#include "runtime.h"
#include "util.h"

static struct tri_trace_ctl off_page; /* all zero: off */
struct tri_trace_ctl       *tri_trace_ctl = &off_page;

enum { RING_NONE, RING_MAKING, RING_READY, RING_FAILED };

static struct writer {
	struct tri_trace_ring *ring;
	size_t                 bytes;
	_Atomic int            state;
	_Atomic uint32_t       gen; /* the settings seen */
	_Atomic bool     active;    /* passes the actor filter, not tripped */
	_Atomic int64_t  win_start;
	_Atomic uint32_t win_count;
	_Atomic uint64_t rng;
	_Atomic uint32_t roots;
	_Atomic uint64_t lost;    /* while another thread made the ring */
	uint32_t         remakes; /* rings made again for more payload */
} W;

/* The message this thread handles (tr_recv() returned it). */
static _Thread_local struct cur {
	uint32_t gen; /* W.gen when it began; 0: none */
	uint8_t  trace_id[16];
	uint64_t span_id; /* 0: not sampled */
	uint64_t msg_id, lamport;
	tr_addr  from;
	int64_t  t0;
	char     type[72];
} cur;

int64_t
tri_trace_now_ns(void)
{
	struct timespec ts;

	(void) clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint64_t
rand64(void)
{
	uint64_t z = atomic_fetch_add_explicit(
	    &W.rng, 0x9e3779b97f4a7c15ull, memory_order_relaxed);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	return z ? z : 1;
}

static void
seed_rng(void)
{
	uint64_t seed = 0;

	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != sizeof(seed)) {
		seed =
		    (uint64_t) tri_trace_now_ns() ^ ((uint64_t) getpid() << 32);
	}
	atomic_store(&W.rng, seed | 1);
}

bool
tri_trace_glob_list(const char *list, const char *s)
{
	char pat[TRI_TRACE_FILTER_MAX];

	if (!list[0]) {
		return true;
	}
	while (*list) {
		size_t n = strcspn(list, ",");

		if (n < sizeof(pat)) {
			memcpy(pat, list, n);
			pat[n] = '\0';
			if (n && fnmatch(pat, s, 0) == 0) {
				return true;
			}
		}
		list += n + (list[n] == ',');
	}
	return false;
}

static bool
type_ok(const char *type)
{
	return tri_trace_glob_list(tri_trace_ctl->types, type);
}

static void ring_remake(uint32_t want);

/* This process traces under the current settings. */
static bool
refresh(void)
{
	uint32_t g =
	    atomic_load_explicit(&tri_trace_ctl->gen, memory_order_acquire);

	if (g != atomic_load_explicit(&W.gen, memory_order_relaxed)) {
		const char *a = tri_trace_ctl->actors;

		atomic_store(&W.active,
		    tri_trace_glob_list(a, tri_rt.name) ||
		        (tri_rt.actor[0] &&
		            tri_trace_glob_list(a, tri_rt.actor)));
		atomic_store(&W.win_start, 0);
		atomic_store(&W.win_count, 0);
		if (!atomic_load(&W.rng)) {
			seed_rng();
		}
		if (tri_trace_ctl->payload) {
			ring_remake(tri_trace_ctl->payload);
		}
		atomic_store(&W.gen, g);
	}
	return atomic_load_explicit(&W.active, memory_order_relaxed);
}

static bool
ring_make(void)
{
	struct tri_trace_ring *g;
	char                   path[PATH_MAX + 64];
	uint64_t               inc   = 0;
	uint32_t               slots = tri_trace_ctl->ring_slots;
	uint32_t               pcap  = tri_trace_ctl->payload;
	size_t                 bytes;
	int                    fd;

	if (slots < 64 || (slots & (slots - 1)) || slots > (1u << 22)) {
		slots = 16384;
	}
	if (pcap > TR_TRACE_PAYLOAD_MAX) {
		pcap = TR_TRACE_PAYLOAD_MAX;
	}
	bytes = tri_trace_ring_bytes(slots, tri_trace_stride(pcap));
	(void) tri_proc_starttime(getpid(), &inc, NULL);
	if (W.remakes) {
		snprintf(path, sizeof(path), "%s/%s/%d.%llu.%u.ring",
		    tri_rt.rundir, TRI_TRACE_RING_DIR, (int) getpid(),
		    (unsigned long long) inc, W.remakes);
	} else {
		snprintf(path, sizeof(path), "%s/%s/%d.%llu.ring",
		    tri_rt.rundir, TRI_TRACE_RING_DIR, (int) getpid(),
		    (unsigned long long) inc);
	}
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		goto out_failed;
	}
	if (ftruncate(fd, (off_t) bytes) < 0) {
		close(fd);
		goto out_failed;
	}
	g = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (g == MAP_FAILED) {
		goto out_failed;
	}
	g->slots       = slots;
	g->stride      = tri_trace_stride(pcap);
	g->payload_cap = pcap;
	g->self        = (tr_addr) { 0, (uint32_t) getpid(), inc };
	tri_strlcpy(g->name, tri_rt.name, sizeof(g->name));
	tri_strlcpy(g->actor, tri_rt.actor, sizeof(g->actor));
	atomic_store_explicit((_Atomic uint32_t *) &g->magic,
	    TRI_TRACE_RING_MAGIC, memory_order_release);
	W.ring  = g;
	W.bytes = bytes;
	atomic_store_explicit(&W.state, RING_READY, memory_order_release);
	return true;
out_failed:
	tri_debug("no trace ring %s: %s", path, strerror(errno));
	atomic_store(&W.state, RING_FAILED);
	return false;
}

/* A collector asks for more payload than the ring has room for: a new
 * ring.  The old one stays mapped (a thread may still be writing in it),
 * marked retired: the collector drains it and then removes it.  Writers
 * meanwhile drop and count (as while the first ring is made). */
static void
ring_remake(uint32_t want)
{
	struct tri_trace_ring *old = W.ring;
	int                    st  = RING_READY;

	if (want > TR_TRACE_PAYLOAD_MAX) {
		want = TR_TRACE_PAYLOAD_MAX;
	}
	if (!old || old->payload_cap >= want ||
	    !atomic_compare_exchange_strong(&W.state, &st, RING_MAKING)) {
		return;
	}
	W.remakes++;
	if (ring_make()) {
		atomic_store(&old->closed, 2);
	} else {
		W.ring = old; /* keep writing there, without payload */
		atomic_store(&W.state, RING_READY);
	}
}

/* The ring, made on first use.  A thread that finds another making it
 * waits for that (an open, ftruncate and mmap: microseconds; at most
 * 2 ms), so that the first events of two threads are not
 * lost (the node agent's link thread and its main thread); NULL if it is
 * still not made then. */
static struct tri_trace_ring *
ring(void)
{
	int st = atomic_load_explicit(&W.state, memory_order_acquire);

	if (st == RING_READY) {
		return W.ring;
	}
	if (st == RING_NONE &&
	    atomic_compare_exchange_strong(&W.state, &st, RING_MAKING)) {
		return ring_make() ? W.ring : NULL;
	}
	if (st == RING_MAKING) {
		int64_t end = tri_trace_now_ns() + 2000000;

		do {
			(void) sched_yield();
			st = atomic_load_explicit(
			    &W.state, memory_order_acquire);
		} while (st == RING_MAKING && tri_trace_now_ns() < end);
	}
	return st == RING_READY ? W.ring : NULL;
}

static void
put(struct tri_trace_rec *in, const void *data, size_t len)
{
	struct tri_trace_ring *g = ring();
	struct tri_trace_rec  *r;
	uint64_t               pos;

	if (!g) {
		atomic_fetch_add_explicit(&W.lost, 1, memory_order_relaxed);
		return;
	}
	if (atomic_load_explicit(&W.lost, memory_order_relaxed)) {
		atomic_fetch_add(&g->dropped, atomic_exchange(&W.lost, 0));
	}
	pos = atomic_load_explicit(&g->head, memory_order_relaxed);
	do {
		if (pos -
		        atomic_load_explicit(&g->tail, memory_order_acquire) >=
		    g->slots) {
			atomic_fetch_add_explicit(
			    &g->dropped, 1, memory_order_relaxed);
			return;
		}
	} while (!atomic_compare_exchange_weak_explicit(&g->head, &pos, pos + 1,
	    memory_order_acq_rel, memory_order_relaxed));
	r = tri_trace_slot(g, pos);
	if (data && g->payload_cap && len) { /* in->plen is 0 till here */
		in->plen =
		    (uint32_t) (len < g->payload_cap ? len : g->payload_cap);
		memcpy(r + 1, data, in->plen);
	}
	memcpy((char *) r + sizeof(r->seq), (char *) in + sizeof(in->seq),
	    sizeof(*r) - sizeof(r->seq));
	atomic_store_explicit(&r->seq, pos + 1, memory_order_release);
}

static void
switch_off(void)
{
	atomic_store_explicit(&tri_trace_ctl->on, 0, memory_order_relaxed);
}

/* The limits: false when this event must not be written. */
static bool
allowed(int64_t now)
{
	struct tri_trace_ctl *c     = tri_trace_ctl;
	int64_t               lease = atomic_load(&c->lease_until_ns);
	int64_t               w;

	if ((lease && now > lease) || (c->until_ns && now > c->until_ns)) {
		switch_off();
		return false;
	}
	if (c->limit && atomic_fetch_add(&c->total, 1) >= c->limit) {
		switch_off();
		return false;
	}
	if (!c->rate_n) {
		return true;
	}
	w = atomic_load_explicit(&W.win_start, memory_order_relaxed);
	if (now - w > (int64_t) c->rate_ms * 1000000) {
		atomic_store(&W.win_start, now);
		atomic_store(&W.win_count, 0);
	}
	if (atomic_fetch_add(&W.win_count, 1) < c->rate_n) {
		return true;
	}
	if (atomic_exchange(&W.active, false)) {
		struct tri_trace_rec r = { .ts_ns = now,
			.kind                     = TR_TRACE_RATE_TRIPPED,
			.value                    = c->rate_n };

		snprintf(r.what, sizeof(r.what), "more than %u events in %u ms",
		    c->rate_n, c->rate_ms);
		put(&r, NULL, 0);
	}
	return false;
}

static void
record_data(
    struct tri_trace_rec *r, const char *what, const void *data, size_t len)
{
	if (!r->ts_ns) {
		r->ts_ns = tri_trace_now_ns();
	}
	if (!allowed(r->ts_ns)) {
		return;
	}
	if (what) {
		tri_strlcpy(r->what, what, sizeof(r->what));
	}
	put(r, data, len);
}

static void
record(struct tri_trace_rec *r, const char *what)
{
	record_data(r, what, NULL, 0);
}

void
tri_trace_emit(uint32_t kind, tr_addr peer, uint64_t msg_id, int64_t value,
    const char *what)
{
	struct tri_trace_rec r;

	if (!refresh()) {
		return;
	}
	memset(&r, 0, sizeof(r));
	r.kind   = kind;
	r.peer   = peer;
	r.msg_id = msg_id;
	r.value  = value;
	record(&r, what);
}

static bool
cur_valid(void)
{
	return cur.gen && cur.gen == atomic_load(&W.gen);
}

/* The payload's bytes, only with payload capture (zmq_msg_data() is a
 * call into libzmq: not paid for every message). */
static const void *
payload_data(zmq_msg_t *payload)
{
	return tri_trace_ctl->payload ? zmq_msg_data(payload) : NULL;
}

void
tri_trace_send(struct tri_env *e, zmq_msg_t *payload)
{
	struct tri_trace_rec r;
	uint32_t             n = tri_trace_ctl->sample;

	memset(e->trace_id, 0, sizeof(e->trace_id));
	e->span_id = 0;
	if ((e->flags & TRI_FLAG_SYSTEM) || !refresh()) {
		return;
	}
	memset(&r, 0, sizeof(r));
	if (cur_valid() && cur.span_id) {
		memcpy(e->trace_id, cur.trace_id, 16);
		r.parent_span = cur.span_id;
	} else if (n > 1 && atomic_fetch_add(&W.roots, 1) % n != 0) {
		return;
	} else {
		uint64_t a = rand64(), b = rand64();

		memcpy(e->trace_id, &a, 8);
		memcpy(e->trace_id + 8, &b, 8);
	}
	e->span_id = rand64();
	if (!type_ok(e->type)) {
		return;
	}
	r.kind    = TR_TRACE_SEND;
	r.peer    = e->recipient;
	r.msg_id  = e->id;
	r.value   = (int64_t) zmq_msg_size(payload);
	r.lamport = e->lamport;
	r.span_id = e->span_id;
	memcpy(r.trace_id, e->trace_id, 16);
	record_data(&r, e->type, payload_data(payload), (size_t) r.value);
}

static void
msg_rec(struct tri_trace_rec *r, uint32_t kind, const struct tri_env *e)
{
	memset(r, 0, sizeof(*r));
	r->kind    = kind;
	r->peer    = e->sender;
	r->msg_id  = e->id;
	r->lamport = e->lamport;
	r->span_id = e->span_id;
	memcpy(r->trace_id, e->trace_id, 16);
}

void
tri_trace_receive(const struct tri_env *e, zmq_msg_t *payload)
{
	struct tri_trace_rec r;

	if (!e->span_id || !refresh() || !type_ok(e->type)) {
		return;
	}
	msg_rec(&r, TR_TRACE_RECEIVE, e);
	r.value = (int64_t) zmq_msg_size(payload);
	record_data(&r, e->type, payload_data(payload), (size_t) r.value);
}

void
tri_trace_handle_end(void)
{
	struct tri_trace_rec r;
	bool                 act   = refresh();
	bool                 valid = cur_valid();

	cur.gen = 0;
	if (!valid || !act || !cur.span_id || !type_ok(cur.type)) {
		return;
	}
	memset(&r, 0, sizeof(r));
	r.kind    = TR_TRACE_HANDLE_END;
	r.peer    = cur.from;
	r.msg_id  = cur.msg_id;
	r.lamport = cur.lamport;
	r.span_id = cur.span_id;
	memcpy(r.trace_id, cur.trace_id, 16);
	r.ts_ns  = tri_trace_now_ns();
	r.dur_ns = r.ts_ns - cur.t0;
	record(&r, cur.type);
}

void
tri_trace_handle_begin(const struct tr_msg *m)
{
	const struct tri_env *e = &m->env;
	struct tri_trace_rec  r;

	tri_trace_handle_end();
	if (!refresh()) {
		return;
	}
	cur.gen     = atomic_load(&W.gen);
	cur.span_id = e->span_id;
	cur.msg_id  = e->id;
	cur.lamport = e->lamport;
	cur.from    = e->sender;
	cur.t0      = tri_trace_now_ns();
	memcpy(cur.trace_id, e->trace_id, 16);
	tri_strlcpy(cur.type, e->type, sizeof(cur.type));
	if (!e->span_id || !type_ok(e->type)) {
		return;
	}
	msg_rec(&r, TR_TRACE_HANDLE_BEGIN, e);
	record(&r, e->type);
}

int
tr_trace_mark(uint32_t kind, tr_addr peer, int64_t value, const char *what)
{
	tr_assert_return(
	    kind == TR_TRACE_RESTART || kind == TR_TRACE_MARK, -EINVAL);
	if (tri_trace_on()) {
		tri_trace_emit(kind, peer, 0, value, what);
	}
	return 0;
}

void
tri_trace_exit(int code)
{
	if (tri_trace_on()) {
		tri_trace_handle_end();
		tri_trace_emit(TR_TRACE_EXIT, TR_ADDR_NULL, 0, code, NULL);
	}
	if (atomic_load(&W.state) == RING_READY) {
		atomic_store(&W.ring->closed, 1);
	}
}

void
tri_trace_forked(void)
{
	if (atomic_load(&W.state) == RING_READY) {
		(void) munmap(W.ring, W.bytes);
	}
	W.ring = NULL;
	atomic_store(&W.state, RING_NONE);
	atomic_store(&W.gen, 0);
	atomic_store(&W.active, false);
	atomic_store(&W.rng, 0);
	atomic_store(&W.lost, 0);
	W.remakes = 0;
	cur.gen   = 0;
}

uint32_t
tri_trace_stride(uint32_t payload_cap)
{
	return (uint32_t) ((sizeof(struct tri_trace_rec) + payload_cap + 63) &
	    ~(size_t) 63);
}

size_t
tri_trace_ring_bytes(uint32_t slots, uint32_t stride)
{
	return sizeof(struct tri_trace_ring) + (size_t) slots * stride;
}

void
tri_trace_rec_to_event(const struct tri_trace_rec *r,
    const struct tri_trace_ring *g, tr_trace_event *ev)
{
	/* all but the payload's bytes (payload_len says how many count):
	 * the collector's cost per event stays that of the fields */
	memset(ev, 0, offsetof(tr_trace_event, payload));
	ev->ts_ns       = r->ts_ns;
	ev->kind        = r->kind;
	ev->self        = g->self;
	ev->peer        = r->peer;
	ev->msg_id      = r->msg_id;
	ev->value       = r->value;
	ev->lamport     = r->lamport;
	ev->span_id     = r->span_id;
	ev->parent_span = r->parent_span;
	ev->dur_ns      = r->dur_ns;
	memcpy(ev->trace_id, r->trace_id, 16);
	memcpy(ev->what, r->what, sizeof(r->what));
	ev->what[sizeof(r->what) - 1] = '\0';
	tri_strlcpy(ev->name, g->name, sizeof(ev->name));
	tri_strlcpy(ev->actor, g->actor, sizeof(ev->actor));
	if (r->plen && r->plen <= g->payload_cap &&
	    r->plen <= TR_TRACE_PAYLOAD_MAX) {
		ev->payload_len = r->plen;
		memcpy(ev->payload, r + 1, r->plen);
	}
}
