/* SPDX-License-Identifier: MIT */
/* The supervisor's children: start, stop by their shutdown spec, and what
 * a death sets off -- the restart decision, the intensity check, the
 * strategy and the backoff. */
#include "supervisor-int.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int
tri_sup_child_from_pb(struct tri_sup_child *c, const Trwire__ChildSpec *pb)
{
	memset(c, 0, sizeof(*c));
	if (copy_name(c->id, sizeof(c->id), pb->id) < 0 ||
	    copy_name(c->actor, sizeof(c->actor), pb->actor) < 0 ||
	    pb->restart > TR_RESTART_TEMPORARY ||
	    pb->type > TR_CHILD_SUPERVISOR ||
	    pb->shutdown_ms < TR_SHUTDOWN_DEFAULT) {
		return -EINVAL;
	}
	c->restart          = (int) pb->restart;
	c->type             = (int) pb->type;
	c->shutdown_ms      = pb->shutdown_ms;
	c->start_timeout_ms = pb->start_timeout_ms > 0
	    ? pb->start_timeout_ms
	    : TRI_SUP_START_TIMEOUT_MS;
	if (c->shutdown_ms == TR_SHUTDOWN_DEFAULT) {
		c->shutdown_ms = c->type == TR_CHILD_SUPERVISOR
		    ? TR_SHUTDOWN_INFINITY
		    : TRI_SUP_WORKER_SHUTDOWN_MS;
	}
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

/* Add the child pb describes, refusing a duplicate id; on failure nothing
 * is added and nothing leaks. */
int
tri_sup_add_pb(struct tri_sup *s, const Trwire__ChildSpec *pb)
{
	struct tri_sup_child c;
	int                  r = tri_sup_child_from_pb(&c, pb);

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

int
tri_sup_add(struct tri_sup *s, struct tri_sup_child *c)
{
	if (s->n == s->cap) {
		size_t                ncap = s->cap ? s->cap * 2 : 8;
		struct tri_sup_child *t =
		    realloc(s->children, ncap * sizeof(*t));

		if (!t) {
			return -ENOMEM;
		}
		s->children = t;
		s->cap      = ncap;
	}
	s->children[s->n++] = *c;
	return 0;
}

void
tri_sup_remove(struct tri_sup *s, size_t i)
{
	tri_sup_child_free(&s->children[i]);
	memmove(&s->children[i], &s->children[i + 1],
	    (s->n - i - 1) * sizeof(s->children[0]));
	s->n--;
}

ssize_t
tri_sup_find(const struct tri_sup *s, const char *id)
{
	for (size_t i = 0; i < s->n; i++) {
		if (strcmp(s->children[i].id, id) == 0) {
			return (ssize_t) i;
		}
	}
	return -1;
}

int
tri_sup_start_child(struct tri_sup *s, size_t i)
{
	struct tri_sup_child *c = &s->children[i];
	tr_process           *p;
	int                   r;

	r = tr_process_new(&p, c->actor, c->args, c->len);
	if (r < 0) {
		return r;
	}
	(void) tr_process_set_name(p, c->id);
	r = tr_process_start(p, c->start_timeout_ms);
	if (r < 0) {
		tr_log(s->quiet ? TR_LOG_DEBUG : TR_LOG_ERROR,
		    "supervisor %s: child %s (actor %s) failed to start: "
		    "%s%s%s",
		    s->name, c->id, c->actor, tr_strerror(r),
		    tr_process_reason(p)[0] ? ": " : "", tr_process_reason(p));
		snprintf(s->reason, sizeof(s->reason),
		    "child %s failed to start: %s", c->id,
		    tr_process_reason(p)[0] ? tr_process_reason(p)
		                            : tr_strerror(r));
		tr_process_destroy(&p);
		return r;
	}
	c->proc       = p;
	c->started_at = tr_now_ms();
	c->restart_at = 0;
	return 0;
}

/* Record how the (exited) child ended and drop its handle. */
static void
forget_proc(struct tri_sup_child *c)
{
	int code;

	if (tr_process_exitcode(c->proc, &code) == 0) {
		c->exited        = true;
		c->last_exitcode = code;
	}
	tr_process_destroy(&c->proc);
}

void
tri_sup_stop_child(struct tri_sup *s, size_t i)
{
	struct tri_sup_child *c = &s->children[i];
	pid_t                 pid;
	char                  how[64];

	c->restart_at = 0;
	if (!c->proc) {
		return;
	}
	pid = tr_process_pid(c->proc);
	if (c->shutdown_ms == TR_SHUTDOWN_BRUTAL_KILL) {
		(void) tr_process_kill(c->proc);
	} else {
		(void) tr_process_terminate(c->proc);
		if (tri_sup_wait_stop(s, c->proc, c->shutdown_ms) ==
		    -ETIMEDOUT) {
			tri_sup_log(s,
			    "supervisor %s: child %s (pid %d) did not stop "
			    "within %d ms: killing it",
			    s->name, c->id, (int) pid, c->shutdown_ms);
			(void) tr_process_kill(c->proc);
		}
	}
	(void) tr_process_join(c->proc, TR_TIMEOUT_INFINITE);
	forget_proc(c);
	if (tr_log_level() >= TR_LOG_DEBUG) {
		tr_log(TR_LOG_DEBUG,
		    "supervisor %s: stopped child %s (pid %d): %s", s->name,
		    c->id, (int) pid,
		    tri_sup_describe(c->last_exitcode, how, sizeof(how)));
	}
}

void
tri_sup_stop_all(struct tri_sup *s)
{
	/* simple_one_for_one instances stop together (OTP: asynchronously) */
	if (s->strategy == TR_SUP_SIMPLE_ONE_FOR_ONE) {
		for (size_t i = 0; i < s->n; i++) {
			if (s->children[i].proc) {
				(void) tr_process_signal(s->children[i].proc,
				    s->children[i].shutdown_ms ? SIGTERM
				                               : SIGKILL);
			}
		}
	}
	for (size_t i = s->n; i > 0; i--) {
		tri_sup_stop_child(s, i - 1);
	}
}

/* ---- restarts ---------------------------------------------------------------
 */

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

static bool
should_restart(const struct tri_sup_child *c, int exitcode)
{
	switch (c->restart) {
	case TR_RESTART_PERMANENT:
		return true;
	case TR_RESTART_TRANSIENT:
		return tr_exit_classify(exitcode) == TR_EXIT_ABNORMAL;
	default:
		return false;
	}
}

static void
schedule(struct tri_sup_child *c, int64_t at)
{
	c->restart_at = at;
	c->restarts++;
}

/* one_for_all (from 0) and rest_for_one (from the failed child): stop the
 * running siblings in reverse order, drop the temporary ones, schedule
 * the rest in start order. */
static void
restart_group(struct tri_sup *s, size_t from, size_t failed, int64_t at)
{
	for (size_t j = s->n; j > from; j--) {
		if (j - 1 != failed && s->children[j - 1].proc) {
			tri_sup_stop_child(s, j - 1);
		}
	}
	for (size_t j = s->n; j > from; j--) {
		if (s->children[j - 1].restart == TR_RESTART_TEMPORARY) {
			tri_sup_remove(s, j - 1);
		} else {
			schedule(&s->children[j - 1], at);
		}
	}
}

int
tri_sup_on_death(struct tri_sup *s, size_t i)
{
	struct tri_sup_child *c   = &s->children[i];
	pid_t                 pid = tr_process_pid(c->proc);
	char                  how[64];
	int64_t               at;

	if (tr_process_join(c->proc, 0) < 0) {
		return 0; /* not gone after all */
	}
	forget_proc(c);
	tri_sup_describe(c->last_exitcode, how, sizeof(how));
	if (!should_restart(c, c->last_exitcode)) {
		tri_sup_log(s,
		    "supervisor %s: child %s (pid %d) ended with %s (%s); not "
		    "restarted (%s)",
		    s->name, c->id, (int) pid, how,
		    tr_exit_class_name(tr_exit_classify(c->last_exitcode)),
		    c->restart == TR_RESTART_TEMPORARY ? "temporary"
		                                       : "transient");
		if (c->restart == TR_RESTART_TEMPORARY || c->dynamic) {
			tri_sup_remove(s, i);
		}
		return 0;
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
	    s->name, c->id, (int) pid, how,
	    tr_exit_class_name(tr_exit_classify(c->last_exitcode)),
	    c->restarts + 1);
	at = tr_now_ms() + backoff_delay(s, c);
	if (s->strategy == TR_SUP_ONE_FOR_ALL) {
		restart_group(s, 0, i, at);
	} else if (s->strategy == TR_SUP_REST_FOR_ONE) {
		restart_group(s, i, i, at);
	} else {
		schedule(c, at);
	}
	return 0;
}

/* A restart that failed to start counts as another restart and is tried
 * again after the backoff (at least 10 ms, not to spin). */
static int
start_failed(struct tri_sup *s, struct tri_sup_child *c)
{
	int64_t d;

	if (intensity_exceeded(s)) {
		tr_log(s->quiet ? TR_LOG_DEBUG : TR_LOG_INFO,
		    "supervisor %s: child %s could not be restarted: more than "
		    "%d restarts in %d ms, giving up",
		    s->name, c->id, s->intensity, s->period_ms);
		return TR_ESHUTDOWN;
	}
	d             = backoff_delay(s, c);
	c->restart_at = tr_now_ms() + (d < 10 ? 10 : d);
	return 0;
}

int
tri_sup_start_due(struct tri_sup *s, int *ret_timeout)
{
	int64_t now = tr_now_ms(), next = -1;
	int     r;

	for (size_t i = 0; i < s->n; i++) {
		struct tri_sup_child *c = &s->children[i];

		if (c->restart_at == 0 || c->restart_at > now) {
			continue;
		}
		if (tri_sup_start_child(s, i) < 0) {
			r = start_failed(s, c);
			if (r < 0) {
				return r;
			}
			continue;
		}
		tri_sup_log(s,
		    "supervisor %s: restarted child %s as pid %d (restart %u)",
		    s->name, c->id, (int) tr_process_pid(c->proc), c->restarts);
	}
	for (size_t i = 0; i < s->n; i++) {
		int64_t at = s->children[i].restart_at;

		if (at && (next < 0 || at < next)) {
			next = at;
		}
	}
	*ret_timeout = tr_deadline_left(next); /* none due: infinite */
	return 0;
}
