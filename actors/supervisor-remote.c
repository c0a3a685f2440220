/* SPDX-License-Identifier: MIT */
/* A supervisor's children on other nodes (issue 13): started there with
 * tr_node_spawn(), watched with a monitor (their DOWN comes to the
 * supervisor's mailbox), stopped through their node (tr_node_signal()).
 * When a child's node is lost the DOWN says noconnection: the child's
 * state is unknown.  By default it is reported, not restarted (no
 * duplicate on the far side of a partition), and its node is asked again
 * once connected; on request (TR_NODE_LOSS_RESTART_ELSEWHERE) it is
 * restarted elsewhere at once.  Built on the public API only. */
#include "supervisor-int.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

/* How often the node of an unknown child is asked whether it is back. */
#define RECHECK_MS 500
/* Each question to this run's node agent. */
#define NODE_ASK_MS 2000
/* After SIGKILL, how long to wait for the DOWN. */
#define KILL_WAIT_MS 5000

bool
tri_sup_running(const struct tri_sup_child *c)
{
	return c->proc != NULL || c->rup;
}

void
tri_sup_remote_forget(struct tri_sup_child *c)
{
	if (c->rref) {
		(void) tr_demonitor(c->rref);
	}
	c->rref    = 0;
	c->rup     = false;
	c->unknown = false;
}

/* Start c on node `node` (not ""): 0, or the error (reason set). */
static int
start_on(struct tri_sup *s, struct tri_sup_child *c, const char *node)
{
	char    txt[TR_ADDR_STRLEN];
	tr_addr a;
	int     r;

	r = tr_node_is_up(node, NODE_ASK_MS);
	if (r != 1) {
		r = r == 0 ? TR_EBADADDR : r;
		snprintf(s->reason, sizeof(s->reason),
		    "child %s: node %s is not connected", c->id, node);
		return r;
	}
	r = tr_node_spawn(
	    node, c->actor, c->args, c->len, &a, c->start_timeout_ms);
	if (r == 0) {
		r = tr_monitor(a, &c->rref);
		if (r < 0) {
			(void) tr_node_signal(a, SIGKILL, NODE_ASK_MS);
		}
	}
	if (r < 0) {
		snprintf(s->reason, sizeof(s->reason),
		    "child %s failed to start on node %s: %s", c->id, node,
		    tr_strerror(r));
		if (r != TR_EIGNORE) {
			tr_log(s->quiet ? TR_LOG_DEBUG : TR_LOG_ERROR,
			    "supervisor %s: %s", s->name, s->reason);
		}
		return r;
	}
	/* linked, so that it ends if we are killed outright, or if its node
	 * loses ours (a local child has PR_SET_PDEATHSIG for that); trapping
	 * exits, so that its end does not end us */
	if (!s->trapping) {
		tr_trap_exit(true);
		s->trapping = true;
	}
	if (tr_link(a) < 0) {
		tr_log(s->quiet ? TR_LOG_DEBUG : TR_LOG_WARNING,
		    "supervisor %s: cannot link to child %s on node %s: it "
		    "would outlive us",
		    s->name, c->id, node);
	}
	c->raddr   = a;
	c->rup     = true;
	c->unknown = false;
	snprintf(c->on, sizeof(c->on), "%s", node);
	tri_sup_log(s,
	    "supervisor %s: child %s (actor %s) runs on node %s as %s", s->name,
	    c->id, c->actor, node, tr_addr_format(a, txt, sizeof(txt)));
	return 0;
}

int
tri_sup_remote_start(struct tri_sup *s, struct tri_sup_child *c)
{
	int r = start_on(s, c, c->node);

	if (r == 0 || r == TR_EIGNORE ||
	    c->on_node_loss != TR_NODE_LOSS_RESTART_ELSEWHERE) {
		return r;
	}
	/* its node cannot take it: the others, in order; none listed means
	 * this run */
	if (c->nelsewhere == 0) {
		c->on[0] = '\0';
		return 1;
	}
	for (int k = 0; k < c->nelsewhere; k++) {
		if (!c->elsewhere[k][0]) {
			c->on[0] = '\0';
			return 1;
		}
		r = start_on(s, c, c->elsewhere[k]);
		if (r == 0 || r == TR_EIGNORE) {
			return r;
		}
	}
	return r;
}

/* The DOWN of c, taken in: its end, or its node lost. */
static bool
is_down_of(const tr_msg *m, void *arg)
{
	const struct tri_sup_child *c = arg;
	tr_down                     d;

	return tr_msg_is_system(m) && tr_msg_down(m, &d) == 0 &&
	    d.ref == c->rref;
}

/* Wait for c's DOWN until end_ms: 1 and *d if it came, 0 if not. */
static int
wait_down(
    struct tri_sup *s, struct tri_sup_child *c, int64_t end_ms, tr_down *d)
{
	for (;;) {
		tr_msg *m    = NULL;
		int     left = tr_deadline_left(end_ms);
		int     r;

		/* in slices, to see a second stop signal (hurry) */
		r = tr_recv_match(
		    &m, is_down_of, c, left < 0 || left > 100 ? 100 : left);
		if (r == 0) {
			(void) tr_msg_down(m, d);
			tr_msg_destroy(&m);
			return 1;
		}
		if (s->sigfd >= 0) {
			tri_sup_read_signals(s, true);
		}
		if (s->hurry || (left >= 0 && tr_deadline_left(end_ms) == 0)) {
			return 0;
		}
	}
}

/* c ended (d), or was given up on: record it. */
static void
ended(struct tri_sup *s, struct tri_sup_child *c, const tr_down *d)
{
	char how[64];

	c->rref = 0;
	c->rup  = false;
	if (!d || d->exit_class == TR_EXIT_NOCONNECTION) {
		tr_log(s->quiet ? TR_LOG_DEBUG : TR_LOG_WARNING,
		    "supervisor %s: child %s (pid %u on node %s) could not be "
		    "stopped: %s; its state is unknown, it is forgotten",
		    s->name, c->id, c->raddr.pid, c->on,
		    d ? "its node was lost" : "no answer from its node");
		c->unknown = false;
		return;
	}
	c->unknown       = false;
	c->exited        = true;
	c->last_exitcode = d->exitcode;
	if (tr_log_level() >= TR_LOG_DEBUG) {
		tr_log(TR_LOG_DEBUG,
		    "supervisor %s: stopped child %s (pid %u on node %s): %s",
		    s->name, c->id, c->raddr.pid, c->on,
		    tri_sup_describe(d->exitcode, how, sizeof(how)));
	}
}

void
tri_sup_remote_signal(struct tri_sup_child *c, int sig)
{
	if (c->rup) {
		(void) tr_node_signal(c->raddr, sig, NODE_ASK_MS);
	}
}

void
tri_sup_remote_wait_end(
    struct tri_sup *s, struct tri_sup_child *c, int64_t end_ms)
{
	tr_down d;

	if (!c->rup && !c->unknown) {
		return;
	}
	if (c->unknown) {
		/* its node is lost: nothing reaches it */
		tri_sup_remote_forget(c);
		ended(s, c, NULL);
		return;
	}
	if (wait_down(s, c, end_ms, &d)) {
		ended(s, c, &d);
		return;
	}
	tri_sup_log(s,
	    "supervisor %s: child %s (pid %u on node %s) did not stop in "
	    "time: killing it through its node",
	    s->name, c->id, c->raddr.pid, c->on);
	(void) tr_node_signal(c->raddr, SIGKILL, NODE_ASK_MS);
	if (wait_down(s, c, tr_deadline(KILL_WAIT_MS), &d)) {
		ended(s, c, &d);
		return;
	}
	tri_sup_remote_forget(c);
	ended(s, c, NULL);
}

void
tri_sup_remote_stop(struct tri_sup *s, struct tri_sup_child *c)
{
	bool brutal = c->shutdown_ms == TRI_WIRE_SHUTDOWN_BRUTAL;

	tri_sup_remote_signal(c, brutal ? SIGKILL : SIGTERM);
	tri_sup_remote_wait_end(s, c,
	    brutal ? tr_deadline(KILL_WAIT_MS)
	        : c->shutdown_ms == TRI_WIRE_SHUTDOWN_INFINITY
	        ? -1
	        : tr_deadline(c->shutdown_ms));
}

/* A DOWN for child i. */
static int
on_down(struct tri_sup *s, size_t i, const tr_down *d)
{
	struct tri_sup_child *c   = s->children[i];
	pid_t                 pid = (pid_t) c->raddr.pid;

	c->rref = 0;
	c->rup  = false;
	if (d->exit_class == TR_EXIT_NOCONNECTION) {
		if (c->on_node_loss == TR_NODE_LOSS_RESTART_ELSEWHERE) {
			tr_log(s->quiet ? TR_LOG_DEBUG : TR_LOG_WARNING,
			    "supervisor %s: node %s of child %s (pid %u) was "
			    "lost: its state is unknown; restarting it "
			    "elsewhere (restart_elsewhere)",
			    s->name, c->on, c->id, (unsigned) pid);
			c->unknown       = false;
			c->exited        = true;
			c->last_exitcode = d->exitcode;
			return tri_sup_on_end(s, i, pid, TR_EXIT_NOCONNECTION);
		}
		tr_log(s->quiet ? TR_LOG_DEBUG : TR_LOG_WARNING,
		    "supervisor %s: node %s of child %s (pid %u) was lost: "
		    "its state is unknown; not restarted (it may still run); "
		    "asking again when the node is back",
		    s->name, c->on, c->id, (unsigned) pid);
		c->unknown    = true;
		c->recheck_at = tr_now_ms() + RECHECK_MS;
		return 0;
	}
	c->unknown       = false;
	c->exited        = true;
	c->last_exitcode = d->exitcode;
	return tri_sup_on_end(s, i, pid, d->exit_class);
}

int
tri_sup_remote_take(struct tri_sup *s, const tr_msg *m, int *ret)
{
	tr_down d;

	if (!tr_msg_is_system(m) || tr_msg_down(m, &d) < 0 || d.ref == 0) {
		return 0;
	}
	for (size_t i = 0; i < s->n; i++) {
		if (s->children[i]->rref == d.ref) {
			*ret = on_down(s, i, &d);
			return 1;
		}
	}
	return 0;
}

static bool
is_ours(const tr_msg *m, void *arg)
{
	const struct tri_sup *s = arg;
	tr_down               d;

	if (!tr_msg_is_system(m) || tr_msg_down(m, &d) < 0 || d.ref == 0) {
		return false;
	}
	for (size_t i = 0; i < s->n; i++) {
		if (s->children[i]->rref == d.ref) {
			return true;
		}
	}
	return false;
}

int
tri_sup_remote_reap(struct tri_sup *s)
{
	tr_msg *m = NULL;
	int     r = 0;

	while (r == 0 && tr_recv_match(&m, is_ours, s, 0) == 0) {
		(void) tri_sup_remote_take(s, m, &r);
		tr_msg_destroy(&m);
	}
	return r;
}

void
tri_sup_remote_recheck(struct tri_sup *s, int *ret_timeout)
{
	int64_t now = tr_now_ms(), next = -1;

	for (size_t i = 0; i < s->n; i++) {
		struct tri_sup_child *c = s->children[i];

		if (!c->unknown || c->rref) {
			continue;
		}
		if (c->recheck_at <= now) {
			c->recheck_at = now + RECHECK_MS;
			if (tr_node_is_up(c->on, NODE_ASK_MS) == 1 &&
			    tr_monitor(c->raddr, &c->rref) == 0) {
				/* its node answers the watch: noproc if that
				 * incarnation ended (then restarted by its
				 * type), nothing if it still runs */
				c->unknown = false;
				c->rup     = true;
				tri_sup_log(s,
				    "supervisor %s: node %s of child %s is "
				    "back: watching pid %u again",
				    s->name, c->on, c->id, c->raddr.pid);
				continue;
			}
		}
		if (next < 0 || c->recheck_at < next) {
			next = c->recheck_at;
		}
	}
	if (next >= 0) {
		int left = tr_deadline_left(next);

		if (*ret_timeout < 0 || left < *ret_timeout) {
			*ret_timeout = left;
		}
	}
}
