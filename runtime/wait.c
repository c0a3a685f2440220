/* SPDX-License-Identifier: MIT */
/* tr_wait(): one poll over pipe ends, sentinels and descriptors, with the
 * mailbox (tr_poll()) when something waits on it or on messages. */
#include "troupe/wait.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>

#include "alloc.h"
#include "log.h"
#include "pipe.h"
#include "troupe/msg.h"
#include "util.h"

#define IDLE_MAIL_MS 5 /* re-check for new mail this often (see wait.h) */

struct waiter {
	tr_waitable   *w;
	size_t         n;
	struct pollfd *pf; /* pf[i] for w[i]; fd -1 when not polled */
	bool           mailbox, ready_fns;
	uint64_t       seen; /* mailbox's received count when last asked */
};

/* The descriptor for w, or -1 when none; *now when ready already. */
static int
fd_of(tr_waitable *w, bool *now)
{
	int fd = -1, r;

	*now = false;
	switch (w->kind) {
	case TR_WAIT_FD:
		tr_assert_return(w->u.fd >= 0, -EINVAL);
		return w->u.fd;
	case TR_WAIT_PIPE:
		r = tri_pipe_wait_fd(w->u.pipe, &fd, now);
		return r < 0 ? r : fd;
	case TR_WAIT_PROCESS:
		tr_assert_return(w->u.process, -EINVAL);
		return tr_process_sentinel(w->u.process);
	case TR_WAIT_MAILBOX:
	case TR_WAIT_READY:
		tr_assert_return(
		    w->kind != TR_WAIT_READY || w->u.ready.fn, -EINVAL);
		return -1;
	default:
		tr_assert_return(false, -EINVAL);
	}
}

static uint64_t
mail_received(void)
{
	tr_mailbox_stats st;

	return tr_mailbox_stats_get(&st) == 0 ? st.received : 0;
}

/* Ask the TR_WAIT_READY objects: how many are ready, or an error. */
static int
ask_ready_fns(struct waiter *wt)
{
	int nready = 0;

	wt->seen = mail_received();
	for (size_t i = 0; i < wt->n; i++) {
		tr_waitable *w = &wt->w[i];
		int          r;

		if (w->kind != TR_WAIT_READY) {
			continue;
		}
		r = w->u.ready.fn(w->u.ready.obj);
		if (r < 0) {
			return r;
		}
		w->ready = r > 0;
		nready += w->ready;
	}
	return nready;
}

/* Fill pf for everything and note what is ready without waiting: the
 * count, or an error. */
static int
prepare(struct waiter *wt)
{
	int nready = 0;

	for (size_t i = 0; i < wt->n; i++) {
		tr_waitable *w = &wt->w[i];
		bool         now;
		int          fd = fd_of(w, &now);

		if (fd < -1) {
			return fd;
		}
		w->ready = now;
		nready += now;
		wt->pf[i] =
		    (struct pollfd) { .fd = now ? -1 : fd, .events = POLLIN };
		wt->mailbox |= w->kind == TR_WAIT_MAILBOX;
		wt->ready_fns |= w->kind == TR_WAIT_READY;
	}
	if (wt->ready_fns) {
		int r = ask_ready_fns(wt);

		if (r < 0) {
			return r;
		}
		nready += r;
	}
	return nready;
}

/* One poll of up to timeout_ms: > 0 something is ready, 0 not, < 0. */
static int
poll_once(struct waiter *wt, int timeout_ms, bool idle_mail)
{
	bool mail = false;
	int  r, nready = 0;

	if ((wt->mailbox || wt->ready_fns) && !idle_mail) {
		r = tr_poll(wt->pf, wt->n, &mail, timeout_ms);
	} else {
		if (idle_mail &&
		    (timeout_ms < 0 || timeout_ms > IDLE_MAIL_MS)) {
			timeout_ms = IDLE_MAIL_MS;
		}
		r = poll(wt->pf, (nfds_t) wt->n, timeout_ms);
		r = r < 0 ? -errno : r;
	}
	if (r == -EINTR) {
		return 0;
	}
	if (r < 0) {
		return r;
	}
	for (size_t i = 0; i < wt->n; i++) {
		tr_waitable *w = &wt->w[i];

		if (wt->pf[i].fd >= 0 && wt->pf[i].revents &&
		    (w->kind != TR_WAIT_PIPE || tri_pipe_check(w->u.pipe))) {
			w->ready = true;
			nready++;
		}
		if (w->kind == TR_WAIT_MAILBOX && mail) {
			w->ready = true;
			nready++;
		}
	}
	if (wt->ready_fns && (mail || idle_mail) &&
	    (mail_received() != wt->seen || !idle_mail)) {
		r = ask_ready_fns(wt);
		if (r < 0) {
			return r;
		}
		nready += r;
	}
	return nready;
}

/* Mail sits in the mailbox that none of ours wanted when last asked, and
 * nothing came since: waiting on the mailbox would return at once. */
static bool
mail_idle(const struct waiter *wt)
{
	tr_mailbox_stats st;

	return wt->ready_fns && !wt->mailbox &&
	    tr_mailbox_stats_get(&st) == 0 && st.queued > 0 &&
	    st.received == wt->seen;
}

int
tr_wait(tr_waitable *w, size_t n, int timeout_ms)
{
	struct pollfd stack[16];
	struct waiter wt       = { .w = w, .n = n, .pf = stack };
	int64_t       deadline = tri_deadline(timeout_ms);
	bool          idle     = false;
	int           r;

	tr_assert_return(w || n == 0, -EINVAL);
	tr_assert_return(timeout_ms >= TR_TIMEOUT_INFINITE, -EINVAL);
	if (n > sizeof(stack) / sizeof(stack[0])) {
		wt.pf = tri_calloc(n, sizeof(*wt.pf));
		if (!wt.pf) {
			return -ENOMEM;
		}
	}
	r = prepare(&wt);
	if (r == 0) {
		/* ready ones are not polled: 0 if none came, else how many */
		for (;;) {
			int left = tri_remaining(deadline, timeout_ms);

			r = poll_once(&wt, left, idle);
			if (r != 0 || left == 0) {
				break;
			}
			idle = mail_idle(&wt);
		}
	} else if (r > 0) {
		/* the others that are ready too, without waiting */
		r = poll_once(&wt, 0, false);
	}
	if (r >= 0) {
		r = 0;
		for (size_t i = 0; i < n; i++) {
			r += w[i].ready;
		}
	}
	if (wt.pf != stack) {
		tri_free(wt.pf);
	}
	return r;
}
