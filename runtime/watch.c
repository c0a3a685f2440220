/* SPDX-License-Identifier: MIT */
/* Monitors and links (runtime thread). */
#include "watch.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "conns.h"
#include "event.h"
#include "inbox.h"
#include "liveness.h"
#include "log.h"
#include "mailbox.h"
#include "pidfd.h"
#include "runtime.h"
#include "troupe.pb-c.h"
#include "util.h"

struct watch {
	uint64_t ref;
	tr_addr  who;
	int      fd;    /* liveness descriptor; -1 once fired */
	int      kind;  /* enum tri_watch_kind */
	bool     fired; /* ended; acted on once its mail is in */
	int      code, cls;
};

static struct watch *ws;
static size_t        nws, capws;
static _Atomic bool  trap;

static void
notice(bool is_exit, const struct watch *w)
{
	Trwire__Addr a = TRWIRE__ADDR__INIT;
	Trwire__Down d = TRWIRE__DOWN__INIT;
	Trwire__Exit e = TRWIRE__EXIT__INIT;
	tr_msg      *m;
	int          r;

	a.node        = w->who.node;
	a.pid         = w->who.pid;
	a.incarnation = w->who.incarnation;
	if (is_exit) {
		e.who        = &a;
		e.exitcode   = w->code;
		e.exit_class = (Trwire__ExitClass) w->cls;
		r            = tri_msg_new_system(&m, &e.base);
	} else {
		d.ref        = w->ref;
		d.who        = &a;
		d.exitcode   = w->code;
		d.exit_class = (Trwire__ExitClass) w->cls;
		r            = tri_msg_new_system(&m, &d.base);
	}
	if (r < 0) {
		tr_log(TR_LOG_ERROR, "out of memory: a DOWN notice was lost");
		return;
	}
	m->env.sender      = w->who;
	m->env.recipient   = tri_self_cached();
	m->env.correlation = w->ref; /* lets tr_demonitor() find it */
	tri_event(
	    { TRI_EV_DOWN, w->who, 0, w->code, tr_exit_class_name(w->cls) });
	tri_inbox_put_local(m);
}

/* A linked actor ended.  Not trapping exits, this process ends with it
 * unless it ended normally: as by a crash (exit 1, no atexit handlers,
 * nothing flushed: the actor's thread may hold any lock), or by SIGTERM
 * when the peer was shut down. */
static void
link_fired(const struct watch *w)
{
	char     a[TR_ADDR_STRLEN];
	sigset_t term;

	if (atomic_load(&trap)) {
		notice(true, w);
		return;
	}
	if (w->cls == TR_EXIT_NORMAL) {
		return;
	}
	tr_addr_format(w->who, a, sizeof(a));
	tri_debug("linked actor %s ended (%s, %d): exiting too", a,
	    tr_exit_class_name(w->cls), w->code);
	tri_runtime_abort_cleanup();
	if (w->cls == TR_EXIT_SHUTDOWN) {
		(void) signal(SIGTERM, SIG_DFL);
		sigemptyset(&term);
		sigaddset(&term, SIGTERM);
		(void) pthread_sigmask(SIG_UNBLOCK, &term, NULL);
		(void) raise(SIGTERM);
	}
	_exit(1);
}

static void
fire(struct watch *w)
{
	if (w->fd >= 0) {
		tri_live_learn_exit(w->who, w->fd, &w->code, &w->cls);
		tri_live_close(w->fd);
		w->fd = -1;
	}
	w->fired = true;
}

int
tri_watch_add(tr_addr who, int kind, uint64_t ref, bool noproc)
{
	struct watch *w;
	int           fd;

	if (nws == capws) {
		size_t        ncap = capws ? capws * 2 : 8;
		struct watch *nw   = tri_realloc(ws, ncap * sizeof(*nw));

		if (!nw) {
			return -ENOMEM;
		}
		ws    = nw;
		capws = ncap;
	}
	fd = tri_live_open(who);
	if (fd < 0 && fd != -ESRCH) {
		return fd;
	}
	w  = &ws[nws++];
	*w = (struct watch) { ref, who, fd, kind, false, 0, 0 };
	if (fd < 0 && noproc) {
		w->fired = true;
		w->cls   = TR_EXIT_NOPROC;
	} else if (fd < 0) {
		w->fd = tri_pidfd_open((pid_t) who.pid); /* a zombie tells */
		fire(w);
	}
	return 0;
}

static void
remove_at(size_t i)
{
	if (ws[i].fd >= 0) {
		tri_live_close(ws[i].fd);
	}
	ws[i] = ws[--nws];
}

int
tri_watch_remove_ref(uint64_t ref)
{
	for (size_t i = 0; i < nws; i++) {
		if (ws[i].kind == TRI_W_MONITOR && ws[i].ref == ref) {
			remove_at(i);
			return 0;
		}
	}
	return TR_ENOTFOUND;
}

bool
tri_watch_linked(tr_addr who)
{
	for (size_t i = 0; i < nws; i++) {
		if (ws[i].kind == TRI_W_LINK && tr_addr_eq(ws[i].who, who)) {
			return true;
		}
	}
	return false;
}

void
tri_watch_unlink(tr_addr who)
{
	for (size_t i = 0; i < nws; i++) {
		if (ws[i].kind == TRI_W_LINK && tr_addr_eq(ws[i].who, who)) {
			remove_at(i);
			return;
		}
	}
}

void
tri_watch_link_in(tr_addr from)
{
	/* a link from an actor that has already ended acts on how it ended
	 * (after its earlier mail): a normal exit ends no one */
	if (!tr_addr_is_null(from) && !tri_watch_linked(from)) {
		(void) tri_watch_add(from, TRI_W_LINK, 0, false);
	}
}

void
tri_watch_unlink_in(tr_addr from)
{
	tri_watch_unlink(from);
}

size_t
tri_watch_count(void)
{
	return nws;
}

size_t
tri_watch_pollitems(zmq_pollitem_t *it)
{
	size_t n = 0;

	for (size_t i = 0; i < nws; i++) {
		if (ws[i].fd >= 0 && !ws[i].fired) {
			it[n++] = (zmq_pollitem_t) { .fd = ws[i].fd,
				.events                  = ZMQ_POLLIN };
		}
	}
	return n;
}

bool
tri_watch_pending(void)
{
	for (size_t i = 0; i < nws; i++) {
		if (ws[i].fired) {
			return true;
		}
	}
	return false;
}

void
tri_watch_serve(const zmq_pollitem_t *it, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		if (!(it[k].revents & ZMQ_POLLIN)) {
			continue;
		}
		for (size_t i = 0; i < nws; i++) {
			if (ws[i].fd == it[k].fd && !ws[i].fired) {
				fire(&ws[i]);
				break;
			}
		}
	}
	tri_watch_deliver();
}

void
tri_watch_poll_all(void)
{
	for (size_t i = 0; i < nws; i++) {
		if (ws[i].fd >= 0 && !ws[i].fired &&
		    tri_poll_fd(ws[i].fd, POLLIN, 0) > 0) {
			fire(&ws[i]);
		}
	}
	tri_watch_deliver();
}

void
tri_watch_deliver(void)
{
	if (!tri_watch_pending()) {
		return;
	}
	tri_inbox_drain();
	/* act on a fired watch once its actor's connections are closed and
	 * the socket was drained after: its last messages come first.  Two
	 * exceptions: a link that ends this process acts at once (order no
	 * longer matters), and when the queue is full while the actor waits
	 * for one message (a call waiting for its callee's DOWN), the notice
	 * goes in now rather than never */
	for (size_t i = 0; i < nws;) {
		struct watch w = ws[i];
		bool kills     = w.kind == TRI_W_LINK && !atomic_load(&trap) &&
		    w.cls != TR_EXIT_NORMAL;

		if (!w.fired ||
		    (!kills && !tri_inbox_stuck() &&
		        (!tri_inbox_drained() ||
		            (w.who.node == 0 && tri_conns_live(w.who.pid))))) {
			i++;
			continue;
		}
		remove_at(i);
		if (w.kind == TRI_W_MONITOR) {
			notice(false, &w);
		} else {
			link_fired(&w);
		}
	}
}

void
tri_watch_set_trap(bool on)
{
	atomic_store(&trap, on);
}

void
tri_watch_close_all(bool forked)
{
	for (size_t i = 0; i < nws; i++) {
		if (ws[i].fd >= 0) {
			tri_live_close(ws[i].fd);
		}
	}
	if (!forked) {
		tri_free(ws);
	}
	ws  = NULL;
	nws = capws = 0;
	if (forked) {
		atomic_store(&trap, false);
	}
}
