/* SPDX-License-Identifier: MIT */
/* The collector's side of trace.h: switch a run's tracing on, drain the
 * rings of its processes, reap the rings of processes that ended. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "log.h"
#include "trace.h"
#include "util.h"

struct src {
	char                   file[80]; /* name in <run>/trace */
	struct tri_trace_ring *g;
	size_t                 bytes;
	uint64_t               dropped_seen;
};

struct tr_trace_session {
	char                  dir[PATH_MAX]; /* <run>/trace */
	struct tri_trace_ctl *ctl;
	bool                  own; /* we configured it: switch off at close */
	int                   lease_ms;
	struct src           *src;
	size_t                n, cap;
};

static int
session_new(tr_trace_session **ret, const char *rundir)
{
	tr_trace_session *s;

	tr_assert_return(ret && rundir, -EINVAL);
	s = tri_alloc(sizeof(*s));
	if (!s) {
		return -ENOMEM;
	}
	memset(s, 0, sizeof(*s));
	snprintf(s->dir, sizeof(s->dir), "%s/%s", rundir, TRI_TRACE_RING_DIR);
	s->ctl = tri_trace_ctl_open(rundir);
	if (!s->ctl) {
		tri_free(s);
		return -ENOENT;
	}
	*ret = s;
	return 0;
}

int
tri_trace_session_adopt(tr_trace_session **ret, const char *rundir)
{
	return session_new(ret, rundir);
}

static bool
pid_alive(pid_t pid)
{
	return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

int
tr_trace_session_open(
    tr_trace_session **ret, const char *rundir, const tr_trace_opts *opts)
{
	static const tr_trace_opts none;
	tr_trace_session          *s;
	int32_t                    other;
	int                        r;

	tr_assert_return(ret && rundir, -EINVAL);
	opts = opts ? opts : &none;
	tr_assert_return(
	    !opts->actors || strlen(opts->actors) < TRI_TRACE_FILTER_MAX,
	    -EINVAL);
	tr_assert_return(
	    !opts->types || strlen(opts->types) < TRI_TRACE_FILTER_MAX,
	    -EINVAL);
	r = session_new(&s, rundir);
	if (r < 0) {
		return r;
	}
	other = atomic_load(&s->ctl->collector);
	if (other && other != getpid() && pid_alive(other)) {
		tr_trace_session_close(&s);
		return -EBUSY;
	}
	if (!atomic_compare_exchange_strong(
	        &s->ctl->collector, &other, (int32_t) getpid())) {
		tr_trace_session_close(&s);
		return -EBUSY;
	}
	s->own      = true;
	s->lease_ms = opts->lease_ms ? opts->lease_ms : 5000;
	tri_trace_ctl_apply(s->ctl, opts, tri_trace_now_ns(), true);
	*ret = s;
	return 0;
}

bool
tr_trace_session_active(tr_trace_session *s)
{
	return s && atomic_load(&s->ctl->on);
}

static bool
known(const tr_trace_session *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++) {
		if (strcmp(s->src[i].file, name) == 0) {
			return true;
		}
	}
	return false;
}

/* Map <dir>/name; false if it is not (yet) a ring. */
static bool
map_ring(const char *dir, const char *name, struct src *out)
{
	char                   path[PATH_MAX + 96];
	struct tri_trace_ring *g;
	struct stat            st;
	int                    fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		return false;
	}
	if (fstat(fd, &st) < 0 ||
	    (size_t) st.st_size < tri_trace_ring_bytes(64, 192)) {
		close(fd);
		return false;
	}
	g = mmap(NULL, (size_t) st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED,
	    fd, 0);
	close(fd);
	if (g == MAP_FAILED) {
		return false;
	}
	if (atomic_load_explicit((_Atomic uint32_t *) &g->magic,
	        memory_order_acquire) != TRI_TRACE_RING_MAGIC ||
	    !g->slots || (g->slots & (g->slots - 1)) ||
	    g->payload_cap > TR_TRACE_PAYLOAD_MAX ||
	    g->stride != tri_trace_stride(g->payload_cap) ||
	    tri_trace_ring_bytes(g->slots, g->stride) > (size_t) st.st_size) {
		(void) munmap(g, (size_t) st.st_size);
		return false;
	}
	memset(out, 0, sizeof(*out));
	tri_strlcpy(out->file, name, sizeof(out->file));
	out->g     = g;
	out->bytes = (size_t) st.st_size;
	return true;
}

static void
discover(tr_trace_session *s)
{
	DIR           *d = opendir(s->dir);
	struct dirent *e;

	while (d && (e = readdir(d))) {
		size_t n = strlen(e->d_name);

		if (n < 6 || n >= sizeof(s->src[0].file) ||
		    strcmp(e->d_name + n - 5, ".ring") != 0 ||
		    known(s, e->d_name)) {
			continue;
		}
		if (s->n == s->cap) {
			size_t      ncap = s->cap ? 2 * s->cap : 16;
			struct src *p = tri_realloc(s->src, ncap * sizeof(*p));

			if (!p) {
				break;
			}
			s->src = p;
			s->cap = ncap;
		}
		if (map_ring(s->dir, e->d_name, &s->src[s->n])) {
			s->n++;
		}
	}
	if (d) {
		closedir(d);
	}
}

/* Take what src's ring holds; true if its process is gone and the ring
 * is empty (the ring may go). */
static bool
drain(const tr_trace_session *s, struct src          *c,
    void (*fn)(const tr_trace_event *, void *), void *arg, int *count)
{
	struct tri_trace_ring *g       = c->g;
	uint64_t               pos     = atomic_load(&g->tail);
	bool                   dead    = !tr_addr_is_alive(g->self);
	bool                   retired = atomic_load(&g->closed) == 2;
	uint64_t               head    = atomic_load(&g->head), d;
	tr_trace_event         ev;

	for (; pos < head; pos++) {
		struct tri_trace_rec *r = tri_trace_slot(g, pos);

		if (atomic_load_explicit(&r->seq, memory_order_acquire) !=
		    pos + 1) {
			if (!dead) {
				break; /* being written */
			}
			continue; /* its writer died half way */
		}
		if (fn) {
			tri_trace_rec_to_event(r, g, &ev);
			if (s->ctl->node[0]) {
				tri_strlcpy(
				    ev.node, s->ctl->node, sizeof(ev.node));
			}
			fn(&ev, arg);
		}
		(*count)++;
	}
	atomic_store_explicit(&g->tail, pos, memory_order_release);
	d = atomic_load(&g->dropped);
	if (d > c->dropped_seen) {
		memset(&ev, 0, sizeof(ev));
		ev.ts_ns = tri_trace_now_ns();
		ev.kind  = TR_TRACE_DROPPED;
		ev.self  = g->self;
		ev.value = (int64_t) (d - c->dropped_seen);
		tri_strlcpy(ev.name, g->name, sizeof(ev.name));
		tri_strlcpy(ev.actor, g->actor, sizeof(ev.actor));
		tri_strlcpy(ev.what, "ring full", sizeof(ev.what));
		tri_strlcpy(ev.node, s->ctl->node, sizeof(ev.node));
		c->dropped_seen = d;
		if (fn) {
			fn(&ev, arg);
		}
		(*count)++;
	}
	return (dead || retired) && pos == head;
}

static void
forget(tr_trace_session *s, size_t i, bool unlink_file)
{
	char path[PATH_MAX + 96];

	if (unlink_file) {
		snprintf(path, sizeof(path), "%s/%s", s->dir, s->src[i].file);
		(void) unlink(path);
	}
	(void) munmap(s->src[i].g, s->src[i].bytes);
	s->src[i] = s->src[--s->n];
}

int
tr_trace_session_poll(tr_trace_session *s,
    void (*fn)(const tr_trace_event *ev, void *arg), void *arg)
{
	struct stat st;
	int         count = 0;
	bool        gone;

	tr_assert_return(s, -EINVAL);
	gone = stat(s->dir, &st) < 0;
	if (s->own && s->lease_ms > 0 && atomic_load(&s->ctl->on)) {
		atomic_store(&s->ctl->lease_until_ns,
		    tri_trace_now_ns() + s->lease_ms * 1000000LL);
	}
	if (!gone) {
		discover(s);
	}
	for (size_t i = 0; i < s->n;) {
		if (drain(s, &s->src[i], fn, arg, &count)) {
			forget(s, i, true);
		} else {
			i++;
		}
	}
	return gone && count == 0 ? -ENOENT : count;
}

void
tr_trace_session_close(tr_trace_session **sp)
{
	tr_trace_session *s;

	if (!sp || !*sp) {
		return;
	}
	s = *sp;
	if (s->own) {
		int32_t me = (int32_t) getpid();

		atomic_store(&s->ctl->on, 0);
		atomic_fetch_add(&s->ctl->gen, 1);
		(void) atomic_compare_exchange_strong(
		    &s->ctl->collector, &me, 0);
	}
	while (s->n) {
		forget(s, s->n - 1, false);
	}
	tri_free(s->src);
	tri_trace_ctl_close(s->ctl);
	tri_free(s);
	*sp = NULL;
}

static const char *const kind_names[TR_TRACE_KIND_MAX] = { "?", "send",
	"receive", "handle_begin", "handle_end", "spawn", "exit", "restart",
	"link", "monitor", "down", "dead_letter", "blocked", "rate_tripped",
	"dropped", "mark", "nodeup", "nodedown", "nodesuspect", "noderesumed" };

const char *
tr_trace_kind_name(uint32_t kind)
{
	return kind < TR_TRACE_KIND_MAX ? kind_names[kind] : "?";
}

uint32_t
tr_trace_kind_parse(const char *name)
{
	for (uint32_t k = 1; name && k < TR_TRACE_KIND_MAX; k++) {
		if (strcmp(kind_names[k], name) == 0) {
			return k;
		}
	}
	return 0;
}
