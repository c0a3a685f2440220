/* SPDX-License-Identifier: MIT */
/* The supervisor actor: read the spec, start the children in order,
 * report running, then wait in one tr_poll() on the mailbox, a signalfd
 * and an epoll set of the children's sentinels (one descriptor however
 * many children there are) until a signal, a STOP request, too many
 * restarts or its significant children end it; then stop the children in
 * reverse order. */
#include "supervisor-int.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <protobuf-c/protobuf-c.h>

static int
init_children(struct tri_sup *s, const Trwire__SupSpec *pb)
{
	int r;

	if (s->strategy == TR_SUP_SIMPLE_ONE_FOR_ONE) {
		if (pb->n_children != 1) {
			return tr_fail(-EINVAL,
			    "simple_one_for_one takes exactly one child spec");
		}
		r = tri_sup_child_from_pb(&s->tmpl, pb->children[0]);
		s->tmpl.dynamic = true;
		if (r == 0 && s->tmpl.significant &&
		    s->auto_shutdown == TR_SUP_AUTO_NEVER) {
			r = -EINVAL;
		}
		return r < 0 ? tr_fail(r, "bad child spec") : 0;
	}
	for (size_t i = 0; i < pb->n_children; i++) {
		r = tri_sup_add_pb(s, pb->children[i]);
		if (r < 0) {
			return tr_fail(r, "bad child spec %zu (%s)", i,
			    pb->children[i]->id);
		}
	}
	return 0;
}

static int
init_spec(struct tri_sup *s, const void *args, size_t len)
{
	Trwire__SupSpec *pb;
	int              r;

	pb = trwire__sup_spec__unpack(NULL, len, args);
	if (!pb) {
		return tr_fail(
		    TR_EBADFRAME, "argument is not a trwire.SupSpec");
	}
	/* the intensity as it is (the client filled in the default); a
	 * period of 0 is the default */
	s->strategy  = (int) pb->strategy;
	s->intensity = (int) pb->intensity;
	s->period_ms = pb->period_ms ? (int) pb->period_ms : TRI_SUP_PERIOD_MS;
	s->auto_shutdown  = (int) pb->auto_shutdown;
	s->backoff_min_ms = (int) pb->backoff_min_ms;
	s->backoff_max_ms = (int) pb->backoff_max_ms;
	s->jitter_pct =
	    pb->backoff_jitter_pct > 100 ? 100 : (int) pb->backoff_jitter_pct;
	s->quiet = pb->quiet;
	snprintf(s->name, sizeof(s->name), "%s",
	    pb->name[0] ? pb->name : tr_self_name());
	r = pb->strategy > TR_SUP_SIMPLE_ONE_FOR_ONE ||
	        pb->intensity > INT32_MAX || pb->period_ms > INT32_MAX ||
	        pb->auto_shutdown > TR_SUP_AUTO_ALL_SIGNIFICANT
	    ? tr_fail(
	          -EINVAL, "bad strategy, intensity, period or auto_shutdown")
	    : init_children(s, pb);
	trwire__sup_spec__free_unpacked(pb, NULL);
	return r;
}

static void
free_sup(struct tri_sup *s)
{
	while (s->n) {
		tri_sup_remove(s, s->n - 1);
	}
	tri_sup_child_free(&s->tmpl);
	free(s->children);
	free(s->rst);
	tr_msg_destroy(&s->stop_msg);
	if (s->sigfd >= 0) {
		close(s->sigfd);
	}
	if (s->epfd >= 0) {
		close(s->epfd);
	}
}

/* The signals that stop a supervisor: SIGTERM, and SIGINT and SIGHUP
 * unless they were ignored when it started (as nohup and a shell's
 * background jobs leave them, and as a supervisor leaves them for its
 * children).  Its children start with SIGINT and SIGHUP ignored: a Ctrl-C
 * or a hangup reaches the whole process group, and the tree's shutdown is
 * its root's to order (each child in turn gets SIGTERM).  old[] keeps the
 * dispositions to put back. */
static void
stop_signals(sigset_t *set, struct sigaction old[2])
{
	static const int group[2] = { SIGINT, SIGHUP };

	sigemptyset(set);
	sigaddset(set, SIGTERM);
	for (int i = 0; i < 2; i++) {
		(void) sigaction(group[i], NULL, &old[i]);
		if (old[i].sa_handler != SIG_IGN) {
			sigaddset(set, group[i]);
		}
		(void) signal(group[i], SIG_IGN); /* blocked: still queued */
	}
}

static void
restore_signals(
    struct tri_sup *s, const sigset_t *mask, const struct sigaction old[2])
{
	struct signalfd_siginfo si;

	while (s->sigfd >= 0 &&
	    read(s->sigfd, &si, sizeof(si)) == (ssize_t) sizeof(si)) { }
	(void) sigprocmask(SIG_SETMASK, mask, NULL);
	(void) sigaction(SIGINT, &old[0], NULL);
	(void) sigaction(SIGHUP, &old[1], NULL);
}

/* The first stop signal starts the ordered shutdown; one more while it
 * runs (a second Ctrl-C) ends it at once -- but not a SIGTERM from our
 * parent, which asks for the same ordered shutdown (tr_supervisor_destroy()
 * after a Ctrl-C that reached us too). */
void
tri_sup_read_signals(struct tri_sup *s, bool stopping)
{
	struct signalfd_siginfo si;

	while (read(s->sigfd, &si, sizeof(si)) == (ssize_t) sizeof(si)) {
		if (!s->stop_signal) {
			s->stop_signal = (int) si.ssi_signo;
		} else if (stopping && !s->hurry &&
		    !(si.ssi_signo == SIGTERM &&
		        (pid_t) si.ssi_pid == tr_self_parent_pid())) {
			s->hurry = true;
			tr_log(TR_LOG_ERROR,
			    "supervisor %s: second SIG%s during shutdown: "
			    "killing the remaining children at once",
			    s->name, sigabbrev_np((int) si.ssi_signo));
		}
	}
}

int
tri_sup_wait_stop(struct tri_sup *s, tr_process *p, int timeout_ms)
{
	int64_t       deadline = tr_deadline(timeout_ms);
	struct pollfd pfd[2]   = {
		  { .fd = tr_process_sentinel(p), .events = POLLIN },
		  { .fd = s->sigfd, .events = POLLIN },
	};
	int r;

	while (!s->hurry) {
		r = poll(
		    pfd, s->sigfd >= 0 ? 2 : 1, tr_deadline_left(deadline));
		if (r == 0) {
			return -ETIMEDOUT;
		}
		if (r < 0 && errno != EINTR) {
			return tr_process_join(p, tr_deadline_left(deadline));
		}
		if (r > 0 && pfd[1].revents) {
			tri_sup_read_signals(s, true);
		}
		if (r > 0 && pfd[0].revents && tr_process_join(p, 0) == 0) {
			return 0;
		}
	}
	return -ETIMEDOUT;
}

/* The children in order; one that answers ignore is kept without a
 * process, unless it is temporary (as OTP). */
static int
start_all(struct tri_sup *s)
{
	int r;

	for (size_t i = 0; i < s->n; i++) {
		r = tri_sup_start_child(s, i);
		if (r == TR_EIGNORE &&
		    s->children[i]->restart == TR_RESTART_TEMPORARY) {
			tri_sup_remove(s, i--);
		} else if (r < 0 && r != TR_EIGNORE) {
			tri_sup_stop_all(s);
			return tr_fail(
			    r, "supervisor %s: %s", s->name, s->reason);
		}
	}
	return 0;
}

/* Until a stop signal or request (0), or an end: TR_ESHUTDOWN (too many
 * restarts), TRI_SUP_AUTO_STOP (significant children ended), or an error
 * of the wait itself. */
static int
serve(struct tri_sup *s)
{
	struct pollfd pfd[2] = { { .fd = s->sigfd, .events = POLLIN },
		{ .fd = s->epfd, .events = POLLIN } };
	bool          mail;
	int           timeout, r;

	for (;;) {
		r = tri_sup_start_due(s, &timeout);
		if (r < 0 || s->stop_signal || s->stop_requested) {
			return r;
		}
		tri_sup_remote_recheck(s, &timeout);
		r = tr_poll(pfd, 2, &mail, timeout);
		if (r < 0 && r != -EINTR) {
			tr_log(TR_LOG_ERROR, "supervisor %s: wait failed: %s",
			    s->name, tr_strerror(r));
			return r;
		}
		if (r < 0) {
			continue;
		}
		/* a signal first: under Ctrl-C the children die of SIGINT
		 * too, and must not be restarted */
		if (pfd[0].revents) {
			tri_sup_read_signals(s, false);
			if (s->stop_signal) {
				return 0;
			}
		}
		r = tri_sup_reap(s);
		if (r == 0 && mail) {
			r = tri_sup_handle_mail(s);
		}
		if (r != 0) {
			return r;
		}
	}
}

/* Run the supervisor described by the packed spec.  *ret_signal gets the
 * signal that stopped it, if one did. */
static int
run(const void *args, size_t len, int *ret_signal)
{
	struct tri_sup   s = { .sigfd = -1, .epfd = -1 };
	struct sigaction group_old[2];
	sigset_t         set, old;
	int              r;

	stop_signals(&set, group_old);
	(void) sigprocmask(SIG_BLOCK, &set, &old);
	s.sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	r       = s.sigfd < 0 ? tr_fail(-errno, "signalfd failed") : 0;
	if (r == 0) {
		s.epfd = epoll_create1(EPOLL_CLOEXEC);
		r = s.epfd < 0 ? tr_fail(-errno, "epoll_create1 failed") : 0;
	}
	if (r == 0) {
		r = init_spec(&s, args, len);
	}
	if (r == 0) {
		r = start_all(&s);
	}
	if (r == 0) {
		(void) tr_ready();
		tri_sup_log(&s,
		    "supervisor %s (pid %d) running with %zu children", s.name,
		    (int) getpid(), s.n);
		r = serve(&s);
		if (r == TRI_SUP_AUTO_STOP) {
			/* ends as shutdown, as a stop signal would */
			s.stop_signal = SIGTERM;
			r             = 0;
		}
		tri_sup_stop_all(&s);
		if (r == TR_ESHUTDOWN) {
			tri_sup_log(&s,
			    "supervisor %s: all children stopped; exiting as "
			    "shutdown",
			    s.name);
		}
		tri_sup_answer_stop(&s);
		if (r == 0 && s.hurry) {
			r = -EINTR;
		}
	}
	*ret_signal = s.stop_signal;
	if (s.trapping) {
		tr_trap_exit(false);
	}
	restore_signals(&s, &old, group_old);
	free_sup(&s);
	return r;
}

/* The actor.  Giving up, or a stop signal, ends the process *as
 * shutdown*: by the signal it got, else SIGTERM (DESIGN.md). */
int
tri_sup_actor(const void *args, size_t len)
{
	int sig = 0, r;

	r = run(args, len, &sig);
	if (r == TR_ESHUTDOWN || ((r == 0 || r == -EINTR) && sig)) {
		sigset_t set;

		sig = sig ? sig : SIGTERM;
		fflush(NULL);
		(void) signal(sig, SIG_DFL);
		sigemptyset(&set);
		sigaddset(&set, sig);
		(void) sigprocmask(SIG_UNBLOCK, &set, NULL);
		(void) raise(sig);
	}
	return r;
}

int
tr_supervisor_run(const tr_sup_spec *spec)
{
	void  *buf;
	size_t len;
	int    sig = 0, r;

	r = tr_sup_spec_pack(spec, &buf, &len);
	if (r < 0) {
		return r;
	}
	r = run(buf, len, &sig);
	free(buf);
	return r;
}
