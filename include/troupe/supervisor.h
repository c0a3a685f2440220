/* SPDX-License-Identifier: MIT */
#ifndef TR_SUPERVISOR_H
#define TR_SUPERVISOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "troupe/common.h" /* TR_API, TR_TIMEOUT_INFINITE */
#include "troupe/msg.h"    /* tr_addr */

#ifdef __cplusplus
extern "C" {
#endif

/* tr_supervisor -- Erlang/OTP supervision for OS processes.  A supervisor
 * is an ordinary actor, registered as "troupe.supervisor" (TR_SUP_ACTOR),
 * whose argument is a packed trwire.SupSpec.  It starts its children in
 * list order, each one waiting for the child to report running, and only
 * then reports running itself; it watches every child's exit, restarts
 * children according to its strategy and their restart types, and stops
 * them in reverse order.
 *
 * How deaths are classified (DESIGN.md, tr_exit_classify()): exit code 0
 * is *normal*; death by SIGTERM, SIGINT, SIGHUP or SIGPIPE is *shutdown*;
 * anything else (exit(n > 0), SIGKILL, SIGSEGV, abort) is *abnormal*.
 * Permanent children are always restarted, transient ones only after an
 * abnormal death, temporary ones never -- not even when a sibling's death
 * terminates them under one_for_all / rest_for_one (they are then removed).
 *
 * Restart intensity: when more than `intensity` restarts happen within
 * `period_ms`, the supervisor gives up: it stops all children in reverse
 * start order, logs why, and ends itself *as shutdown*, by SIGTERM (exit
 * code -SIGTERM).  Its own supervisor then treats that like any other
 * shutdown death: a permanent supervisor child is restarted (and counts
 * against the parent's intensity), a transient or temporary one is not.
 * The same ending follows SIGTERM, SIGINT or SIGHUP sent to the supervisor
 * (it re-raises the signal it got, after the ordered shutdown, which is
 * bounded by the children's shutdown timeouts; one more such signal during
 * it, unless a SIGTERM from its parent, kills the remaining children at
 * once, and says so at error level).
 * SIGINT and SIGHUP count only if they were not ignored when the
 * supervisor started: its children start with both ignored, since a
 * Ctrl-C or a terminal hangup reaches the whole process group and the
 * tree's shutdown is its root's to order (each child gets SIGTERM in
 * turn); an actor that wants them installs its own handler.
 * tr_supervisor_stop()
 * instead ends it with exit code 0 (normal).  If the supervisor is killed
 * outright (SIGKILL), its children die with it (the runtime sets
 * PR_SET_PDEATHSIG in every child), and their children with them.
 *
 * Every restart and every give-up is logged with tr_log() at info level
 * (set TROUPE_LOG=info to see them) with the child's id, pid, exit code or
 * signal and restart count, unless the spec sets `quiet`.
 *
 * The supervisor serves requests one at a time and blocks while it starts
 * or stops a child (as OTP's does): keep actors' start and stop short. */

/* Name under which the supervisor actor is registered. */
#define TR_SUP_ACTOR "troupe.supervisor"
/* Longest child id, plus NUL. */
#define TR_SUP_ID_MAX 64

enum tr_sup_strategy {
	TR_SUP_ONE_FOR_ONE  = 0,       /* restart only the child that died */
	TR_SUP_ONE_FOR_ALL  = 1,       /* stop all others, restart all */
	TR_SUP_REST_FOR_ONE = 2,       /* stop those started after it, restart
	                                * it and them */
	TR_SUP_SIMPLE_ONE_FOR_ONE = 3, /* one spec, started on demand with
	                                * extra args; as one_for_one */
};

enum tr_restart {
	TR_RESTART_PERMANENT = 0, /* always restarted */
	TR_RESTART_TRANSIENT = 1, /* restarted after an abnormal death only */
	TR_RESTART_TEMPORARY = 2, /* never restarted; removed when it ends */
};

enum tr_child_type {
	TR_CHILD_WORKER     = 0,
	TR_CHILD_SUPERVISOR = 1, /* actor TR_SUP_ACTOR, args a packed SupSpec */
};

/* Shutdown of a child: SIGKILL at once (OTP's brutal_kill), or SIGTERM and
 * up to shutdown_ms for it to exit, then SIGKILL, or SIGTERM and wait for
 * ever.  TR_SHUTDOWN_DEFAULT is 5000 ms for a worker and infinity for a
 * supervisor (whose own shutdown is bounded by its children's). */
#define TR_SHUTDOWN_BRUTAL_KILL 0
#define TR_SHUTDOWN_INFINITY    (-1)
#define TR_SHUTDOWN_DEFAULT     (-2)

/* A child: which actor to start with which arguments, and how to treat
 * its death.  The pointers are borrowed; the supervisor copies them. */
typedef struct tr_child_spec {
	const char *id;    /* unique in its supervisor, < 64 bytes */
	const char *actor; /* a registered actor name */
	const void *args;  /* may be NULL when len is 0 */
	size_t      len;
	int         restart;          /* enum tr_restart */
	int         shutdown_ms;      /* as above */
	int         type;             /* enum tr_child_type */
	int         start_timeout_ms; /* wait for READY; 0 = 10000 */
} tr_child_spec;

/* A supervisor: its strategy, its restart intensity, optional restart
 * backoff (the n-th quick restart of one child waits min(max, min * 2^n)
 * ms, plus or minus jitter_pct percent; a child that ran for longer than
 * period_ms starts again from min), and its children in start order.
 * For simple_one_for_one, children holds exactly one spec, the template;
 * no child starts until tr_supervisor_start_simple(). */
typedef struct tr_sup_spec {
	int                  strategy;  /* enum tr_sup_strategy */
	int                  intensity; /* max restarts in period; default 1 */
	int                  period_ms; /* default 5000 */
	int                  backoff_min_ms; /* 0 = restart at once */
	int                  backoff_max_ms;
	int                  backoff_jitter_pct;
	bool                 quiet;    /* no info-level restart log */
	const char          *name;     /* process name; NULL = default */
	const tr_child_spec *children; /* borrowed */
	size_t               nchildren;
} tr_sup_spec;

/* Fill with the defaults: one_for_one, intensity 1 in 5000 ms, no
 * backoff, no children.  Never fails. */
TR_API void tr_sup_spec_init(tr_sup_spec *spec);

/* Fill with the defaults for a worker: permanent, TR_SHUTDOWN_DEFAULT,
 * no arguments.  id and actor are borrowed.  Never fails. */
TR_API void tr_child_spec_init(
    tr_child_spec *c, const char *id, const char *actor);

/* Pack spec as a trwire.SupSpec, the argument of a TR_SUP_ACTOR child
 * (nested supervisors).  *ret is the caller's, to release with free().
 * Errors: -EINVAL (a NULL or over-long id/actor), -ENOMEM. */
TR_API int tr_sup_spec_pack(
    const tr_sup_spec *spec, void **ret, size_t *ret_len);

/* What which_children() reports about one child. */
typedef struct tr_child_info {
	char     id[TR_SUP_ID_MAX];
	char     actor[64];
	pid_t    pid;           /* 0 = not running now */
	tr_addr  addr;          /* TR_ADDR_NULL when not running */
	int      type;          /* enum tr_child_type */
	int      restart;       /* enum tr_restart */
	unsigned restarts;      /* times the supervisor restarted it */
	bool     exited;        /* it ended at least once: */
	int      last_exitcode; /* then its exit code (Python's: -N = signal) */
} tr_child_info;

/* count_children(): like OTP's, specs counts every child known (running
 * or not), supervisors + workers == specs. */
typedef struct tr_child_counts {
	int specs;
	int active; /* running now */
	int supervisors;
	int workers;
} tr_child_counts;

/* A client handle onto a supervisor (its own process).  It belongs to the
 * process and thread that made it: from another process every call
 * returns -ECHILD. */
typedef struct tr_supervisor tr_supervisor;

/* Start a supervisor for spec as a child process of the caller and wait
 * up to timeout_ms until it and all its children run.  Blocks.  *ret gets
 * a handle owned by the caller (tr_supervisor_destroy()).  If a child
 * fails to start, the supervisor stops those already started and the
 * call fails with TR_ESTARTFAIL; the supervisor logs which child and why
 * at error level.  Errors: -EINVAL (a bad spec), -ENOMEM, TR_ENOTINIT,
 * TR_ESTARTFAIL, -ETIMEDOUT (the supervisor was killed), -EAGAIN. */
TR_API int tr_supervisor_start(
    tr_supervisor **ret, const tr_sup_spec *spec, int timeout_ms);

/* A handle onto a supervisor that is already running, for instance a
 * nested one (its address from which_children()).  Nothing is checked
 * until the first call; destroying the handle leaves the supervisor
 * alone.  Errors: -EINVAL, -ENOMEM. */
TR_API int tr_supervisor_open(tr_supervisor **ret, tr_addr addr);

/* Run a supervisor in the calling process (usually main()) until it is
 * stopped: the service pattern.  Its children become this process's
 * children.  Blocks.  SIGTERM (a service manager's stop), SIGINT (Ctrl-C)
 * and SIGHUP start the ordered shutdown: every child in reverse start
 * order, each by its shutdown spec; then the call returns and the program
 * can print its summary.  Returns 0 after tr_supervisor_stop() or such a
 * signal (consumed), -EINTR when a second signal during the shutdown cut
 * it short (the remaining children were killed at once), TR_ESHUTDOWN when
 * it gave up (restart intensity exceeded), or the error that kept a child
 * from starting (TR_ESTARTFAIL, ...).  While it runs, the calling thread
 * blocks SIGTERM, SIGINT and SIGHUP and the process ignores SIGINT and
 * SIGHUP (other threads should block them too); both are put back on
 * return.  SIGINT or SIGHUP ignored at the call (nohup, a background job)
 * stay ignored. */
TR_API int tr_supervisor_run(const tr_sup_spec *spec);

/* The supervisor's address, and its pid (the address's pid). */
TR_API tr_addr tr_supervisor_addr(const tr_supervisor *s);
TR_API pid_t   tr_supervisor_pid(const tr_supervisor *s);

/* ---- runtime calls --------------------------------------------------------
 * Each is one request to the supervisor (tr_call) and blocks up to
 * timeout_ms for the answer; the supervisor may itself block while it
 * starts or stops a child, so allow for that.  If the supervisor is dead
 * or dies meanwhile, the call fails at once with -ESRCH or TR_EDEAD; it
 * never hangs.  Common errors: -ETIMEDOUT, -ESRCH, TR_EDEAD, TR_EFULL,
 * -ECHILD (handle from another process), -EINVAL, -ENOMEM. */

/* Add a child and start it (OTP start_child/2), waiting for it to report
 * running; it is appended after the existing children.  Not for
 * simple_one_for_one (-EOPNOTSUPP).  If ret is not NULL it gets the new
 * child's info.  Errors: TR_EEXISTS (id in use), TR_ESTARTFAIL (the
 * child failed to start; it is not kept), TR_ENOACTOR. */
TR_API int tr_supervisor_start_child(tr_supervisor *s, const tr_child_spec *c,
    tr_child_info *ret, int timeout_ms);

/* simple_one_for_one: start one more instance of the template with
 * extra (len bytes, may be NULL when 0) appended to its args.  The child
 * gets the id "<template id>.<n>" (n counts from 1), in ret->id.  Errors
 * as tr_supervisor_start_child(); -EOPNOTSUPP for other strategies. */
TR_API int tr_supervisor_start_simple(tr_supervisor *s, const void *extra,
    size_t len, tr_child_info *ret, int timeout_ms);

/* Stop a child by its shutdown spec; it is not restarted.  Its spec stays
 * (restart_child() starts it again), except for temporary children and
 * simple_one_for_one instances, which are removed.  0 also when it was
 * not running.  Errors: TR_ENOTFOUND. */
TR_API int tr_supervisor_terminate_child(
    tr_supervisor *s, const char *id, int timeout_ms);

/* Start a stopped child again from its spec (its restart count is kept).
 * Errors: TR_ENOTFOUND, TR_ERUNNING (it runs), TR_ESTARTFAIL. */
TR_API int tr_supervisor_restart_child(
    tr_supervisor *s, const char *id, tr_child_info *ret, int timeout_ms);

/* Forget a stopped child's spec.  Errors: TR_ENOTFOUND, TR_ERUNNING,
 * -EOPNOTSUPP (simple_one_for_one: use terminate_child). */
TR_API int tr_supervisor_delete_child(
    tr_supervisor *s, const char *id, int timeout_ms);

/* All children in start order: *ret gets an array of *ret_n entries that
 * the caller releases with free() (NULL when there are none). */
TR_API int tr_supervisor_which_children(
    tr_supervisor *s, tr_child_info **ret, size_t *ret_n, int timeout_ms);

TR_API int tr_supervisor_count_children(
    tr_supervisor *s, tr_child_counts *ret, int timeout_ms);

/* Stop the supervisor: it stops its children in reverse order, answers,
 * and exits with code 0.  If this handle started it, the call also waits
 * (within timeout_ms) for the process to end and reaps it.  0 also when
 * it had already ended.  Errors: -ETIMEDOUT. */
TR_API int tr_supervisor_stop(tr_supervisor *s, int timeout_ms);

/* For a supervisor this handle started: wait up to timeout_ms for its
 * process to end, and reap it (tr_process_join()).  Returns 0 once ended,
 * -ETIMEDOUT, -EINVAL for tr_supervisor_open() handles, -ECHILD. */
TR_API int tr_supervisor_join(tr_supervisor *s, int timeout_ms);

/* Its exit code once ended (Python's: 0 after tr_supervisor_stop(),
 * -SIGTERM after a shutdown by signal or giving up).  Errors: TR_ERUNNING,
 * -EINVAL (an opened handle), -ECHILD. */
TR_API int tr_supervisor_exitcode(tr_supervisor *s, int *ret);

/* Release the handle; NULL-safe, idempotent, sets *sp to NULL.  If this
 * handle started the supervisor and it still runs, it is sent SIGTERM and
 * waited for (its ordered shutdown is bounded by its children's shutdown
 * timeouts), and reaped. */
TR_API void tr_supervisor_destroy(tr_supervisor **sp);

#ifdef __cplusplus
}
#endif

#endif /* TR_SUPERVISOR_H */
