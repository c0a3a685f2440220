/* SPDX-License-Identifier: MIT */
/* The supervisor's children: the list in start order, and starting and
 * stopping them by their shutdown spec -- one at a time in reverse order,
 * or all together (simple_one_for_one instances, as OTP stops them). */
#include "supervisor-int.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

const char *
tri_sup_describe(int exitcode, char *buf, size_t n)
{
	const char *abbrev = exitcode < 0 ? sigabbrev_np(-exitcode) : NULL;

	if (exitcode >= 0) {
		snprintf(buf, n, "exit code %d", exitcode);
	} else if (abbrev) {
		snprintf(buf, n, "signal SIG%s (%d)", abbrev, exitcode);
	} else {
		snprintf(buf, n, "signal %d", -exitcode);
	}
	return buf;
}

static int
copy_name(char *dst, size_t n, const char *src)
{
	if (!src || !src[0] || strlen(src) >= n) {
		return -EINVAL;
	}
	memcpy(dst, src, strlen(src) + 1);
	return 0;
}

static int
shutdown_from_wire(int ms, int type)
{
	if (ms == TRI_WIRE_SHUTDOWN_DEFAULT) {
		return type == TR_CHILD_SUPERVISOR ? TRI_WIRE_SHUTDOWN_INFINITY
		                                   : TRI_SUP_WORKER_SHUTDOWN_MS;
	}
	return ms;
}

int
tri_sup_child_from_pb(struct tri_sup_child *c, const Trwire__ChildSpec *pb)
{
	memset(c, 0, sizeof(*c));
	if (copy_name(c->id, sizeof(c->id), pb->id) < 0 ||
	    copy_name(c->actor, sizeof(c->actor), pb->actor) < 0 ||
	    pb->restart > TR_RESTART_TEMPORARY ||
	    pb->type > TR_CHILD_SUPERVISOR ||
	    pb->shutdown_ms < TRI_WIRE_SHUTDOWN_DEFAULT ||
	    pb->start_method > TR_START_FORKSERVER ||
	    (pb->significant && pb->restart == TR_RESTART_PERMANENT)) {
		return -EINVAL;
	}
	c->restart          = (int) pb->restart;
	c->type             = (int) pb->type;
	c->significant      = pb->significant;
	c->start_method     = (int) pb->start_method;
	c->shutdown_ms      = shutdown_from_wire(pb->shutdown_ms, c->type);
	c->start_timeout_ms = pb->start_timeout_ms > 0
	    ? pb->start_timeout_ms
	    : TRI_SUP_START_TIMEOUT_MS;
	if (!tri_sup_node_ok(pb->node) ||
	    pb->on_node_loss > TR_NODE_LOSS_RESTART_ELSEWHERE ||
	    pb->n_elsewhere > TR_SUP_ELSEWHERE_MAX) {
		return -EINVAL;
	}
	for (size_t k = 0; k < pb->n_elsewhere; k++) {
		if (!tri_sup_node_ok(pb->elsewhere[k])) {
			return -EINVAL;
		}
		snprintf(c->elsewhere[k], sizeof(c->elsewhere[k]), "%s",
		    pb->elsewhere[k]);
	}
	c->nelsewhere   = (int) pb->n_elsewhere;
	c->on_node_loss = (int) pb->on_node_loss;
	snprintf(c->node, sizeof(c->node), "%s", pb->node ? pb->node : "");
	c->len  = pb->args.len;
	c->args = malloc(c->len ? c->len : 1);
	if (!c->args) {
		return -ENOMEM;
	}
	if (c->len) {
		memcpy(c->args, pb->args.data, c->len);
	}
	return 0;
}

void
tri_sup_child_free(struct tri_sup_child *c)
{
	tr_process_destroy(&c->proc);
	free(c->args);
	c->args = NULL;
}

/* Add the child pb describes, refusing a duplicate id and a significant
 * child where auto_shutdown is never; on failure nothing is added and
 * nothing leaks. */
int
tri_sup_add_pb(struct tri_sup *s, const Trwire__ChildSpec *pb)
{
	struct tri_sup_child c;
	int                  r = tri_sup_child_from_pb(&c, pb);

	if (r == 0 && c.significant && s->auto_shutdown == TR_SUP_AUTO_NEVER) {
		r = -EINVAL;
	}
	if (r == 0 && tri_sup_find(s, c.id) >= 0) {
		r = TR_EEXISTS;
	}
	if (r == 0) {
		r = tri_sup_add(s, &c);
	}
	if (r < 0) {
		tri_sup_child_free(&c);
	}
	return r;
}

/* Append a copy of *c (which gives up its args to it). */
int
tri_sup_add(struct tri_sup *s, const struct tri_sup_child *c)
{
	struct tri_sup_child *t;

	if (s->n == s->cap) {
		size_t                 ncap = s->cap ? s->cap * 2 : 8;
		struct tri_sup_child **v =
		    realloc(s->children, ncap * sizeof(*v));

		if (!v) {
			return -ENOMEM;
		}
		s->children = v;
		s->cap      = ncap;
	}
	t = malloc(sizeof(*t));
	if (!t) {
		return -ENOMEM;
	}
	*t                  = *c;
	s->children[s->n++] = t;
	return 0;
}

/* Record how the (exited or killed) child ended and drop its handle. */
void
tri_sup_forget_proc(struct tri_sup *s, struct tri_sup_child *c)
{
	int code;

	if (!c->proc) {
		return;
	}
	(void) epoll_ctl(
	    s->epfd, EPOLL_CTL_DEL, tr_process_sentinel(c->proc), NULL);
	if (tr_process_exitcode(c->proc, &code) == 0) {
		c->exited        = true;
		c->last_exitcode = code;
	}
	tr_process_destroy(&c->proc);
}

void
tri_sup_remove(struct tri_sup *s, size_t i)
{
	struct tri_sup_child *c = s->children[i];

	tri_sup_forget_proc(s, c); /* a running child is killed first */
	tri_sup_remote_forget(c);
	tri_sup_child_free(c);
	free(c);
	memmove(&s->children[i], &s->children[i + 1],
	    (s->n - i - 1) * sizeof(s->children[0]));
	s->n--;
}

ssize_t
tri_sup_find(const struct tri_sup *s, const char *id)
{
	for (size_t i = 0; i < s->n; i++) {
		if (strcmp(s->children[i]->id, id) == 0) {
			return (ssize_t) i;
		}
	}
	return -1;
}

ssize_t
tri_sup_index(const struct tri_sup *s, const struct tri_sup_child *c)
{
	for (size_t i = 0; i < s->n; i++) {
		if (s->children[i] == c) {
			return (ssize_t) i;
		}
	}
	return -1;
}

int
tri_sup_child_state(const struct tri_sup_child *c)
{
	if (tri_sup_running(c)) {
		return TR_CHILD_RUNNING;
	}
	if (c->unknown) {
		return TR_CHILD_UNKNOWN;
	}
	if (c->restart_at) {
		return TR_CHILD_RESTARTING;
	}
	return c->ignored ? TR_CHILD_IGNORED : TR_CHILD_STOPPED;
}

/* Watch the new child's sentinel; it dies if that cannot be done. */
static int
watch(struct tri_sup *s, struct tri_sup_child *c, tr_process **pp)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, tr_process_sentinel(*pp), &ev) <
	    0) {
		int r = -errno;

		snprintf(s->reason, sizeof(s->reason),
		    "child %s: cannot watch it: %s", c->id, tr_strerror(r));
		tr_process_destroy(pp);
		return r;
	}
	c->proc = *pp;
	*pp     = NULL;
	return 0;
}

static void
start_failed_log(
    struct tri_sup *s, struct tri_sup_child *c, tr_process *p, int r)
{
	const char *why = tr_process_reason(p);

	tr_log(s->quiet ? TR_LOG_DEBUG : TR_LOG_ERROR,
	    "supervisor %s: child %s (actor %s) failed to start: %s%s%s",
	    s->name, c->id, c->actor, tr_strerror(r), why[0] ? ": " : "", why);
	snprintf(s->reason, sizeof(s->reason), "child %s failed to start: %s",
	    c->id, why[0] ? why : tr_strerror(r));
}

/* Start child i and wait until it runs.  TR_EIGNORE: it had nothing to
 * run (it is marked ignored).  Other errors are logged, and said in
 * s->reason. */
int
tri_sup_start_child(struct tri_sup *s, size_t i)
{
	struct tri_sup_child *c = s->children[i];
	tr_process           *p;
	int                   r;

	if (c->node[0]) {
		r          = tri_sup_remote_start(s, c);
		c->ignored = r == TR_EIGNORE;
		if (r == 0) {
			c->started_at = tr_now_ms();
			c->restart_at = 0;
		}
		if (r != 1) {
			return r;
		}
		/* its node is lost: here, as restart_elsewhere asks */
	}
	c->on[0] = '\0';
	r        = tr_process_new(&p, c->actor, c->args, c->len);
	if (r < 0) {
		return r;
	}
	(void) tr_process_set_name(p, c->id);
	if (c->start_method != TR_START_DEFAULT) {
		(void) tr_process_set_start_method(p, c->start_method);
	}
	r          = tr_process_start(p, c->start_timeout_ms);
	c->ignored = r == TR_EIGNORE;
	if (r == TR_EIGNORE) {
		tri_sup_log(s,
		    "supervisor %s: child %s (actor %s) answered ignore: its "
		    "spec is kept without a process",
		    s->name, c->id, c->actor);
	} else if (r < 0) {
		start_failed_log(s, c, p, r);
	}
	if (r < 0) {
		tr_process_destroy(&p);
		return r;
	}
	r = watch(s, c, &p);
	if (r < 0) {
		return r;
	}
	c->started_at = tr_now_ms();
	c->restart_at = 0;
	return 0;
}

static void
stopped_log(struct tri_sup *s, struct tri_sup_child *c, pid_t pid)
{
	char how[64];

	if (tr_log_level() >= TR_LOG_DEBUG) {
		tr_log(TR_LOG_DEBUG,
		    "supervisor %s: stopped child %s (pid %d): %s", s->name,
		    c->id, (int) pid,
		    tri_sup_describe(c->last_exitcode, how, sizeof(how)));
	}
}

static void
too_slow_log(struct tri_sup *s, struct tri_sup_child *c)
{
	tri_sup_log(s,
	    "supervisor %s: child %s (pid %d) did not stop within %d ms: "
	    "killing it",
	    s->name, c->id, (int) tr_process_pid(c->proc), c->shutdown_ms);
}

/* Stop child i (not running: nothing to do) and call off its restart. */
void
tri_sup_stop_child(struct tri_sup *s, size_t i)
{
	struct tri_sup_child *c = s->children[i];
	pid_t                 pid;

	c->restart_at = 0;
	c->ignored    = false;
	if (c->rup || c->unknown) {
		tri_sup_remote_stop(s, c);
		return;
	}
	if (!c->proc) {
		return;
	}
	pid = tr_process_pid(c->proc);
	if (c->shutdown_ms == TRI_WIRE_SHUTDOWN_BRUTAL) {
		(void) tr_process_kill(c->proc);
	} else {
		(void) tr_process_terminate(c->proc);
		if (tri_sup_wait_stop(s, c->proc, c->shutdown_ms) ==
		    -ETIMEDOUT) {
			too_slow_log(s, c);
			(void) tr_process_kill(c->proc);
		}
	}
	(void) tr_process_join(c->proc, TR_TIMEOUT_INFINITE);
	tri_sup_forget_proc(s, c);
	stopped_log(s, c, pid);
}

/* Children from .. to-1, one after another in reverse order. */
void
tri_sup_stop_range(struct tri_sup *s, size_t from, size_t to)
{
	for (size_t i = to; i > from; i--) {
		tri_sup_stop_child(s, i - 1);
	}
}

/* All children at once: each gets its signal now and its own shutdown
 * time from now, so the whole stop takes the longest of them, not their
 * sum (OTP stops simple_one_for_one children so).  Every SIGTERM goes out
 * before any SIGKILL. */
static void
stop_together(struct tri_sup *s)
{
	int64_t t0 = tr_now_ms();

	for (size_t i = s->n; i > 0; i--) {
		struct tri_sup_child *c = s->children[i - 1];

		c->restart_at = 0;
		tri_sup_remote_signal(c,
		    c->shutdown_ms == TRI_WIRE_SHUTDOWN_BRUTAL ? SIGKILL
		                                               : SIGTERM);
		if (c->proc) {
			(void) tr_process_signal(c->proc,
			    c->shutdown_ms == TRI_WIRE_SHUTDOWN_BRUTAL
			        ? SIGKILL
			        : SIGTERM);
		}
	}
	for (size_t i = s->n; i > 0; i--) {
		struct tri_sup_child *c = s->children[i - 1];
		int64_t               end;

		end = t0 + c->shutdown_ms;
		if (c->rup || c->unknown) {
			tri_sup_remote_wait_end(s, c,
			    c->shutdown_ms > 0 ? end
			        : c->shutdown_ms == TRI_WIRE_SHUTDOWN_BRUTAL
			        ? t0 + 5000
			        : -1);
			continue;
		}
		if (!c->proc || c->shutdown_ms <= 0) {
			continue; /* killed already, or waits for ever */
		}
		if (tri_sup_wait_stop(s, c->proc, tr_deadline_left(end)) ==
		    -ETIMEDOUT) {
			too_slow_log(s, c);
			(void) tr_process_kill(c->proc);
		}
	}
	for (size_t i = s->n; i > 0; i--) {
		struct tri_sup_child *c = s->children[i - 1];
		pid_t                 pid;

		if (c->proc) {
			pid = tr_process_pid(c->proc);
			(void) tr_process_join(c->proc, TR_TIMEOUT_INFINITE);
			tri_sup_forget_proc(s, c);
			stopped_log(s, c, pid);
		}
	}
}

void
tri_sup_stop_all(struct tri_sup *s)
{
	if (s->strategy == TR_SUP_SIMPLE_ONE_FOR_ONE) {
		stop_together(s);
	} else {
		tri_sup_stop_range(s, 0, s->n);
	}
}

/* A child whose sentinel says it ended, or NULL: one at a time, since
 * handling one death may stop or remove others. */
struct tri_sup_child *
tri_sup_next_death(struct tri_sup *s)
{
	struct epoll_event ev;

	if (epoll_wait(s->epfd, &ev, 1, 0) != 1) {
		return NULL;
	}
	return ev.data.ptr;
}
