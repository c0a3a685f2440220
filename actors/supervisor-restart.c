/* SPDX-License-Identifier: MIT */
/* What a child's death sets off: the restart decision, the intensity
 * check, the strategy (one child, or its group in start order), the
 * backoff, retries of starts that fail, and automatic shutdown when
 * significant children end. */
#include "supervisor-int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Note a restart now; true if that makes more than intensity in period. */
static bool
intensity_exceeded(struct tri_sup *s)
{
	int64_t now = tr_now_ms();

	while (s->rst_n && s->rst[s->rst_head] <= now - s->period_ms) {
		s->rst_head++;
		s->rst_n--;
	}
	if (s->rst_head + s->rst_n == s->rst_cap) {
		if (s->rst_head > 0) {
			memmove(s->rst, s->rst + s->rst_head,
			    s->rst_n * sizeof(*s->rst));
			s->rst_head = 0;
		} else {
			size_t   ncap = s->rst_cap ? s->rst_cap * 2 : 16;
			int64_t *t    = realloc(s->rst, ncap * sizeof(*t));

			if (!t) {
				return true; /* cannot count: be safe */
			}
			s->rst     = t;
			s->rst_cap = ncap;
		}
	}
	s->rst[s->rst_head + s->rst_n++] = now;
	return s->rst_n > (size_t) s->intensity;
}

static int64_t
backoff_delay(struct tri_sup *s, struct tri_sup_child *c)
{
	int64_t d, max = s->backoff_max_ms;

	if (s->backoff_min_ms <= 0) {
		return 0;
	}
	if (tr_now_ms() - c->started_at > s->period_ms) {
		c->backoff_n = 0;
	}
	if (max < s->backoff_min_ms) {
		max = s->backoff_min_ms;
	}
	d = (int64_t) s->backoff_min_ms
	    << (c->backoff_n < 20 ? c->backoff_n : 20);
	d = d > max ? max : d;
	c->backoff_n++;
	if (s->jitter_pct > 0) {
		long span = 2L * s->jitter_pct + 1;

		d += d * (random() % span - s->jitter_pct) / 100;
	}
	return d;
}

/* cls: how it ended (a tr_exit_class); an end not seen (its node lost
 * and restart_elsewhere, or ended while its node was lost) counts as
 * abnormal. */
static bool
should_restart(const struct tri_sup_child *c, int cls)
{
	switch (c->restart) {
	case TR_RESTART_PERMANENT:
		return true;
	case TR_RESTART_TRANSIENT:
		return cls == TR_EXIT_ABNORMAL || cls == TR_EXIT_NOPROC ||
		    cls == TR_EXIT_UNKNOWN || cls == TR_EXIT_NOCONNECTION;
	default:
		return false;
	}
}

static bool
in_groups(const struct tri_sup *s)
{
	return s->strategy == TR_SUP_ONE_FOR_ALL ||
	    s->strategy == TR_SUP_REST_FOR_ONE;
}

static void
schedule(struct tri_sup_child *c, int64_t at)
{
	c->restart_at = at;
	c->ignored    = false;
}

/* one_for_all (from 0) and rest_for_one (from the failed child): stop the
 * running children of the group in reverse order, drop the temporary
 * ones, and mark the rest restarting; tri_sup_start_due() starts them
 * again in start order, each once the one before it is up. */
static void
restart_group(struct tri_sup *s, size_t from, int64_t at)
{
	tri_sup_stop_range(s, from, s->n);
	for (size_t j = s->n; j > from; j--) {
		if (s->children[j - 1]->restart == TR_RESTART_TEMPORARY) {
			tri_sup_remove(s, j - 1);
		} else {
			schedule(s->children[j - 1], at);
		}
	}
}

/* Child c ended by itself and is not restarted: does that end the
 * supervisor (auto_shutdown)? */
static bool
ends_supervisor(const struct tri_sup *s, const struct tri_sup_child *c)
{
	if (!c->significant || s->auto_shutdown == TR_SUP_AUTO_NEVER) {
		return false;
	}
	if (s->auto_shutdown == TR_SUP_AUTO_ANY_SIGNIFICANT) {
		return true;
	}
	for (size_t i = 0; i < s->n; i++) {
		const struct tri_sup_child *d = s->children[i];

		if (d != c && d->significant &&
		    (tri_sup_running(d) || d->unknown || d->restart_at)) {
			return false; /* not the last one */
		}
	}
	return true;
}

static int
not_restarted(struct tri_sup *s, size_t i, pid_t pid, const char *how, int cls)
{
	struct tri_sup_child *c   = s->children[i];
	bool                  end = ends_supervisor(s, c);

	tri_sup_log(s,
	    "supervisor %s: child %s (pid %d) ended with %s (%s); not "
	    "restarted (%s)",
	    s->name, c->id, (int) pid, how, tr_exit_class_name(cls),
	    c->restart == TR_RESTART_TEMPORARY ? "temporary" : "transient");
	if (end) {
		tri_sup_log(s,
		    "supervisor %s: significant child %s ended: shutting "
		    "down (auto_shutdown)",
		    s->name, c->id);
	}
	if (c->restart == TR_RESTART_TEMPORARY || c->dynamic) {
		tri_sup_remove(s, i);
	}
	return end ? TRI_SUP_AUTO_STOP : 0;
}

/* Child i's sentinel fired.  0, TR_ESHUTDOWN (too many restarts) or
 * TRI_SUP_AUTO_STOP. */
int
tri_sup_on_death(struct tri_sup *s, size_t i)
{
	struct tri_sup_child *c   = s->children[i];
	pid_t                 pid = tr_process_pid(c->proc);

	if (tr_process_join(c->proc, 0) < 0) {
		return 0; /* not gone after all */
	}
	tri_sup_forget_proc(s, c);
	return tri_sup_on_end(s, i, pid, tr_exit_classify(c->last_exitcode));
}

int
tri_sup_on_end(struct tri_sup *s, size_t i, pid_t pid, int cls)
{
	struct tri_sup_child *c = s->children[i];
	char                  how[80];
	int64_t               at;

	if (cls == TR_EXIT_NOCONNECTION) {
		snprintf(how, sizeof(how), "its node %s lost", c->on);
	} else if (cls == TR_EXIT_NOPROC) {
		snprintf(how, sizeof(how), "an end not seen");
	} else {
		tri_sup_describe(c->last_exitcode, how, sizeof(how));
	}
	if (!should_restart(c, cls)) {
		return not_restarted(s, i, pid, how, cls);
	}
	if (intensity_exceeded(s)) {
		tr_log(s->quiet ? TR_LOG_DEBUG : TR_LOG_INFO,
		    "supervisor %s: child %s (pid %d) ended with %s after %u "
		    "restarts: more than %d restarts in %d ms, giving up",
		    s->name, c->id, (int) pid, how, c->restarts, s->intensity,
		    s->period_ms);
		return TR_ESHUTDOWN;
	}
	tri_sup_log(s,
	    "supervisor %s: child %s (pid %d) ended with %s (%s); restarting "
	    "it (restart %u)",
	    s->name, c->id, (int) pid, how, tr_exit_class_name(cls),
	    c->restarts + 1);
	(void) tr_trace_mark(TR_TRACE_RESTART,
	    (tr_addr) { 0, (uint32_t) pid, 0 }, (int64_t) c->restarts + 1,
	    c->id);
	at = tr_now_ms() + backoff_delay(s, c);
	if (s->strategy == TR_SUP_ONE_FOR_ALL) {
		restart_group(s, 0, at);
	} else if (s->strategy == TR_SUP_REST_FOR_ONE) {
		restart_group(s, i, at);
	} else {
		schedule(c, at);
	}
	return 0;
}

/* Take in every death that has happened (without waiting): 0, or what
 * tri_sup_on_death() says ends the supervisor. */
int
tri_sup_reap(struct tri_sup *s)
{
	struct tri_sup_child *c;
	size_t                guard = s->n + 1;

	while (guard-- > 0 && (c = tri_sup_next_death(s)) != NULL) {
		ssize_t i = tri_sup_index(s, c);
		int     r = i >= 0 ? tri_sup_on_death(s, (size_t) i) : 0;

		if (r != 0) {
			return r;
		}
	}
	return tri_sup_remote_reap(s);
}

/* Restart of child i failed: it counts as another restart, and is tried
 * again after the backoff (at least 10 ms, not to spin) -- one_for_all
 * stops those it restarted in this round and tries the whole group again,
 * rest_for_one tries again from child i. */
static int
start_failed(struct tri_sup *s, size_t i)
{
	struct tri_sup_child *c = s->children[i];
	int64_t               d, at;

	if (intensity_exceeded(s)) {
		tr_log(s->quiet ? TR_LOG_DEBUG : TR_LOG_INFO,
		    "supervisor %s: child %s could not be restarted: more than "
		    "%d restarts in %d ms, giving up",
		    s->name, c->id, s->intensity, s->period_ms);
		return TR_ESHUTDOWN;
	}
	d  = backoff_delay(s, c);
	at = tr_now_ms() + (d < 10 ? 10 : d);
	if (s->strategy == TR_SUP_ONE_FOR_ALL) {
		tri_sup_log(s,
		    "supervisor %s: child %s could not be restarted: "
		    "restarting the whole group again",
		    s->name, c->id);
		restart_group(s, 0, at);
		return 0;
	}
	for (size_t j = i; j < s->n; j++) {
		if (j == i || (in_groups(s) && s->children[j]->restart_at)) {
			s->children[j]->restart_at = at;
		}
	}
	return 0;
}

/* Start child i, which is due: 0 if it runs or answered ignore, 1 if it
 * failed (and is scheduled again), or TR_ESHUTDOWN. */
static int
restart_one(struct tri_sup *s, size_t i)
{
	struct tri_sup_child *c = s->children[i];
	int                   r = tri_sup_start_child(s, i);

	if (r == TR_EIGNORE) {
		c->restart_at = 0;
		return 0;
	}
	if (r < 0) {
		r = start_failed(s, i);
		return r < 0 ? r : 1;
	}
	c->restarts++;
	tri_sup_log(s,
	    "supervisor %s: restarted child %s as pid %d%s%s (restart %u)",
	    s->name, c->id,
	    c->proc ? (int) tr_process_pid(c->proc) : (int) c->raddr.pid,
	    c->on[0] ? " on node " : "", c->on, c->restarts);
	return 0;
}

/* When the next restart is due: in a group, the first child still to
 * start holds up the ones after it. */
static int64_t
next_due(const struct tri_sup *s)
{
	int64_t next = -1;

	for (size_t i = 0; i < s->n; i++) {
		int64_t at = s->children[i]->restart_at;

		if (at && (next < 0 || at < next)) {
			next = at;
		}
		if (at && in_groups(s)) {
			break;
		}
	}
	return next;
}

int
tri_sup_start_due(struct tri_sup *s, int *ret_timeout)
{
	int64_t now = tr_now_ms();
	int     r;

	for (size_t i = 0; i < s->n; i++) {
		int64_t at = s->children[i]->restart_at;

		if (at == 0) {
			continue;
		}
		if (at > now) {
			if (in_groups(s)) {
				break; /* the later ones wait for it */
			}
			continue;
		}
		r = restart_one(s, i);
		if (r < 0) {
			return r;
		}
		if (r > 0 && in_groups(s)) {
			break;
		}
	}
	*ret_timeout = tr_deadline_left(next_due(s)); /* none due: infinite */
	return 0;
}
