/* SPDX-License-Identifier: MIT */
/* The runtime thread's loop: a control eventfd, the mailbox sources and
 * the watches, polled together. */
#include "loop.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <zmq.h>

#include "alloc.h"
#include "inbox.h"
#include "util.h"
#include "watch.h"

static struct loop {
	pthread_mutex_t call_lock; /* one caller at a time */
	pthread_mutex_t lock;      /* the fields below */
	pthread_cond_t  done_cv;
	int (*fn)(void *);
	void     *arg;
	int       result;
	bool      pending, done, stop;
	bool      running;
	pthread_t tid;
	int       ctl_fd; /* eventfd: a call, a stop or a kick */
	pid_t     owner;
} L = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
	PTHREAD_COND_INITIALIZER, NULL, NULL, 0, false, false, false, false, 0,
	-1, 0 };

/* The poll set: a static one while it fits, so that an idle runtime
 * thread never allocates (a thread's first allocation costs it an arena
 * and a cache: ~170 KiB of an idle actor's PSS). */
static zmq_pollitem_t  fixed_items[32];
static zmq_pollitem_t *items    = fixed_items;
static size_t          capitems = 32;

static int
ensure_items(size_t n)
{
	zmq_pollitem_t *it;
	size_t          ncap = capitems;

	if (n <= capitems) {
		return 0;
	}
	while (ncap < n) {
		ncap *= 2;
	}
	it = tri_realloc(
	    items == fixed_items ? NULL : items, ncap * sizeof(*it));
	if (!it) {
		return -ENOMEM;
	}
	items    = it;
	capitems = ncap;
	return 0;
}

/* Run the pending call, if any; true if asked to stop. */
static bool
serve_control(void)
{
	uint64_t v;
	bool     stop;

	(void) read(L.ctl_fd, &v, sizeof(v));
	pthread_mutex_lock(&L.lock);
	if (L.pending) {
		int (*fn)(void *) = L.fn;
		void *arg         = L.arg;

		pthread_mutex_unlock(&L.lock);
		/* may fork: a fork child never comes back here */
		int r = fn(arg);

		pthread_mutex_lock(&L.lock);
		L.result  = r;
		L.pending = false;
		L.done    = true;
		pthread_cond_broadcast(&L.done_cv);
	}
	stop = L.stop;
	pthread_mutex_unlock(&L.lock);
	return stop;
}

static void *
loop_main(void *unused)
{
	(void) unused;
	for (;;) {
		zmq_pollitem_t few[4], *it;
		size_t         n = 1, nin, nw = 0;
		int            r, timeout = tri_watch_pending() ? 50 : -1;

		if (ensure_items(2 + tri_inbox_nitems() + tri_watch_count()) ==
		    0) {
			it = items;
		} else {
			/* out of memory: serve calls and mail, and look at
			 * the watches again shortly */
			it      = few;
			timeout = 50;
		}
		it[0] =
		    (zmq_pollitem_t) { .fd = L.ctl_fd, .events = ZMQ_POLLIN };
		nin = tri_inbox_pollitems(it + n, &timeout);
		n += nin;
		if (it == items) {
			nw = tri_watch_pollitems(it + n);
			n += nw;
		}
		r = zmq_poll(it, (int) n, timeout);
		if (r < 0 && zmq_errno() != EINTR) {
			tr_log(TR_LOG_ERROR, "runtime thread: poll failed: %s",
			    zmq_strerror(zmq_errno()));
			usleep(10000);
			continue;
		}
		if ((it[0].revents & ZMQ_POLLIN) && serve_control()) {
			break;
		}
		tri_inbox_serve();
		if (it == items) {
			tri_watch_serve(it + 1 + nin, nw);
		} else {
			tri_watch_poll_all();
		}
	}
	tri_inbox_thread_exit();
	return NULL;
}

static int
start_thread(void)
{
	sigset_t all, old;
	int      r;

	if (L.running && L.owner == tri_getpid()) {
		return 0;
	}
	if (L.ctl_fd < 0) {
		L.ctl_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (L.ctl_fd < 0) {
			return -errno;
		}
	}
	/* the thread inherits this mask: it takes no signal */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = -pthread_create(&L.tid, NULL, loop_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r < 0) {
		return r;
	}
	L.running = true;
	L.stop    = false;
	L.owner   = tri_getpid();
	return 0;
}

bool
tri_loop_in_thread(void)
{
	return L.running && L.owner == tri_getpid() &&
	    pthread_equal(pthread_self(), L.tid);
}

bool
tri_loop_running(void)
{
	return L.running && L.owner == tri_getpid();
}

void
tri_loop_kick(void)
{
	uint64_t one = 1;

	if (tri_loop_running()) {
		(void) write(L.ctl_fd, &one, sizeof(one));
	}
}

int
tri_loop_run(int (*fn)(void *), void *arg)
{
	int r;

	if (tri_loop_in_thread()) {
		return fn(arg);
	}
	pthread_mutex_lock(&L.call_lock);
	r = start_thread();
	if (r < 0) {
		pthread_mutex_unlock(&L.call_lock);
		return r;
	}
	pthread_mutex_lock(&L.lock);
	L.fn      = fn;
	L.arg     = arg;
	L.pending = true;
	L.done    = false;
	pthread_mutex_unlock(&L.lock);
	tri_loop_kick();
	pthread_mutex_lock(&L.lock);
	while (!L.done) {
		pthread_cond_wait(&L.done_cv, &L.lock);
	}
	L.done = false;
	r      = L.result;
	pthread_mutex_unlock(&L.lock);
	pthread_mutex_unlock(&L.call_lock);
	return r;
}

int
tri_loop_run_for_children(int (*fn)(void *), void *arg)
{
	if (gettid() == tri_getpid()) {
		return fn(arg);
	}
	return tri_loop_run(fn, arg);
}

void
tri_loop_stop(void)
{
	if (!tri_loop_running() || tri_loop_in_thread()) {
		return;
	}
	pthread_mutex_lock(&L.lock);
	L.stop = true;
	pthread_mutex_unlock(&L.lock);
	tri_loop_kick();
	pthread_join(L.tid, NULL);
	L.running = false;
}

void
tri_loop_forked(void)
{
	/* the thread (and any caller waiting on it) stayed in the parent;
	 * its locks may have been held at the fork: make them anew */
	if (L.ctl_fd >= 0) {
		close(L.ctl_fd);
	}
	memset(&L, 0, sizeof(L));
	pthread_mutex_init(&L.call_lock, NULL);
	pthread_mutex_init(&L.lock, NULL);
	pthread_cond_init(&L.done_cv, NULL);
	L.ctl_fd = -1;
	if (items != fixed_items) {
		tri_free(items);
	}
	items    = fixed_items;
	capitems = sizeof(fixed_items) / sizeof(fixed_items[0]);
}
