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
 * or stops a child (as OTP's does): keep actors' start and stop short.
 * Before it answers a request it takes in the deaths that have already
 * happened, so an answer never lists a dead child as running.
 *
 * Group restarts (one_for_all, rest_for_one) start the children again in
 * order, each only once the one before it is up.  If one of them fails to
 * start (or a restart with backoff is still waiting), one_for_all stops
 * those it already started in that round and tries the whole group again;
 * rest_for_one keeps the ones before the failed child and tries again from
 * it; either way the failed attempt counts as a restart against the
 * intensity, and the next try waits for the backoff.  Until then the
 * children not yet started are *restarting* (tr_child_info.state).
 *
 * Ignore (OTP's init returning `ignore`): a TR_ACTOR_MANUAL_READY child
 * whose body returns TR_EIGNORE before tr_ready() has nothing to run.  The
 * supervisor keeps its spec without a process (state TR_CHILD_IGNORED, pid
 * 0) and goes on; restart_child() starts it again and delete_child()
 * forgets it.  A temporary child, or a simple_one_for_one instance, that
 * answers ignore is not kept.
 *
 * Automatic shutdown (OTP's auto_shutdown, for a supervisor that runs one
 * unit of work): children marked `significant` (transient or temporary
 * only) end the supervisor when they end by themselves and are not
 * restarted -- any of them (TR_SUP_AUTO_ANY_SIGNIFICANT) or the last one
 * running (TR_SUP_AUTO_ALL_SIGNIFICANT).  It then stops its other
 * children in reverse order and ends *as shutdown* (exit code -SIGTERM;
 * tr_supervisor_run() returns 0), so a transient parent spec does not
 * restart it.  A child stopped by the supervisor itself (terminate_child,
 * a sibling's group restart, its own shutdown) sets off nothing. */

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

enum tr_sup_auto_shutdown {
	TR_SUP_AUTO_NEVER           = 0, /* significant children not allowed */
	TR_SUP_AUTO_ANY_SIGNIFICANT = 1, /* end when any of them ends */
	TR_SUP_AUTO_ALL_SIGNIFICANT = 2, /* end when the last of them ends */
};

/* Shutdown of a child: SIGTERM and up to shutdown_ms (> 0) for it to exit,
 * then SIGKILL; or SIGKILL at once (OTP's brutal_kill); or SIGTERM and wait
 * for ever.  TR_SHUTDOWN_DEFAULT (0, so a zeroed spec gets it) is 5000 ms
 * for a worker and infinity for a supervisor (whose own shutdown is bounded
 * by its children's).  Children stopped together (simple_one_for_one
 * instances) get SIGTERM all at once and share one wait.  A child on
 * another node is stopped through that node (tr_node_signal()): SIGTERM,
 * its shutdown time for its DOWN, then SIGKILL and up to 5 s more; one
 * whose node is lost cannot be reached: the supervisor forgets it and
 * says so at warning level (it ends with its node if that node was
 * killed; a node that stops ends the actors it started).  The supervisor
 * links to each child on another node (and, while it has any, its process
 * traps exits: tr_trap_exit()), so that such a child ends too (exit code
 * 1) if the supervisor is killed outright or its node loses the
 * supervisor's, as a local child does by PR_SET_PDEATHSIG. */
#define TR_SHUTDOWN_DEFAULT     0
#define TR_SHUTDOWN_INFINITY    (-1)
#define TR_SHUTDOWN_BRUTAL_KILL (-2)

/* tr_sup_spec.intensity: 0 means the default (1); ask for no restarts at
 * all (the first death that calls for one ends the supervisor) with this. */
#define TR_SUP_INTENSITY_ZERO (-1)

/* A child: which actor to start with which arguments, and how to treat
 * its death.  The pointers are borrowed; the supervisor copies them (one
 * copy of the arguments per child, kept for restarts).  Every field left
 * zero -- as in a designated initialiser, (tr_child_spec){ .id = "db",
 * .actor = "db" } -- means its default: permanent, TR_SHUTDOWN_DEFAULT,
 * worker, a 10 s start timeout, not significant, no arguments. */
typedef struct tr_child_spec {
	const char *id;    /* unique in its supervisor, < 64 bytes */
	const char *actor; /* a registered actor name */
	const void *args;  /* may be NULL when len is 0 */
	size_t      len;
	int         restart;          /* enum tr_restart */
	int         shutdown_ms;      /* as above; 0 = TR_SHUTDOWN_DEFAULT */
	int         type;             /* enum tr_child_type */
	int         start_timeout_ms; /* wait for READY; 0 = 10000 */
	bool        significant;      /* its end may end the supervisor
	                               * (auto_shutdown); transient or
	                               * temporary children only */
	int start_method; /* enum tr_start_method the supervisor starts
	                   * it with; 0 = its default (the pool's workers) */
	/* Children on other nodes (troupe/node.h, docs/distribution.md):
	 * the node to start it on (a name; NULL or "" = the supervisor's
	 * own run).  The supervisor's run must have a node; the actor must
	 * be registered in that node's program; start_method does not apply
	 * there (a node starts actors by spawn). */
	const char *node;
	int         on_node_loss; /* enum tr_node_loss; 0 = report */
	/* With TR_NODE_LOSS_RESTART_ELSEWHERE: where to start it when its
	 * node is not connected, tried in order ("" = the supervisor's own
	 * run); NULL-terminated, at most TR_SUP_ELSEWHERE_MAX; NULL: the
	 * supervisor's own run. */
	const char *const *elsewhere;
} tr_child_spec;

/* What a supervisor does when the node of a child is lost (the DOWN says
 * noconnection): the child's state is *unknown* -- it may still run, cut
 * off.  REPORT (the default) does not start another (no duplicates on
 * both sides of a partition): it logs the loss at warning level and
 * reports the child as TR_CHILD_UNKNOWN (which_children(),
 * count_children().unknown) until its node is connected again; then it
 * asks that node: if that incarnation still runs, the child is running
 * again (nothing restarted); if it ended, that counts as an abnormal
 * death and the child is restarted there by its restart type.
 * RESTART_ELSEWHERE takes the loss as an abnormal death at once: the
 * child is restarted (unless temporary, and by the strategy, counting
 * against the intensity) on the first of `elsewhere` that is connected
 * -- its own node first when it is, which a lost node is not. */
enum tr_node_loss {
	TR_NODE_LOSS_REPORT            = 0,
	TR_NODE_LOSS_RESTART_ELSEWHERE = 1,
};

/* Most entries in tr_child_spec.elsewhere. */
#define TR_SUP_ELSEWHERE_MAX 4

/* A supervisor: its strategy, its restart intensity, optional restart
 * backoff (the n-th quick restart of one child waits min(max, min * 2^n)
 * ms, plus or minus jitter_pct percent; a child that ran for longer than
 * period_ms starts again from min), automatic shutdown, and its children
 * in start order.  For simple_one_for_one, children holds exactly one
 * spec, the template; no child starts until tr_supervisor_start_simple().
 *
 * Every field left zero means its default, so a designated initialiser
 * (tr_sup_spec){ .strategy = ..., .children = ..., .nchildren = ... } is a
 * complete spec: one_for_one, intensity 1 (OTP's; TR_SUP_INTENSITY_ZERO
 * for none), period 5000 ms, no backoff, auto_shutdown never, logging on,
 * the default process name.  A negative intensity (other than
 * TR_SUP_INTENSITY_ZERO), period or backoff field is -EINVAL. */
typedef struct tr_sup_spec {
	int         strategy;           /* enum tr_sup_strategy */
	int         intensity;          /* max restarts in period; 0 = 1 */
	int         period_ms;          /* 0 = 5000 */
	int         backoff_min_ms;     /* 0 = restart at once */
	int         backoff_max_ms;     /* 0 = backoff_min_ms */
	int         backoff_jitter_pct; /* 0 = none, at most 100 */
	int         auto_shutdown; /* enum tr_sup_auto_shutdown; 0 = never */
	bool        quiet;         /* no info-level restart log */
	const char *name;          /* process name; NULL = default */
	const tr_child_spec *children; /* borrowed */
	size_t               nchildren;
} tr_sup_spec;

/* Fill with the defaults (the same as all zeroes): one_for_one,
 * intensity 1 in 5000 ms, no backoff, auto_shutdown never, no children.
 * Never fails. */
TR_API void tr_sup_spec_init(tr_sup_spec *spec);

/* Fill with the defaults for a worker (the same as all zeroes but id and
 * actor): permanent, TR_SHUTDOWN_DEFAULT, no arguments.  id and actor are
 * borrowed.  Never fails. */
TR_API void tr_child_spec_init(
    tr_child_spec *c, const char *id, const char *actor);

/* Pack spec as a trwire.SupSpec, the argument of a TR_SUP_ACTOR child
 * (nested supervisors), with the defaults filled in.  *ret is the
 * caller's, to release with free().  Errors: -EINVAL (a NULL or over-long
 * id/actor, a field out of range, a period that is not positive, a
 * significant child that is permanent or under auto_shutdown never; the
 * reason is logged at error level unless quiet), -ENOMEM. */
TR_API int tr_sup_spec_pack(
    const tr_sup_spec *spec, void **ret, size_t *ret_len);

/* Where a child stands. */
enum tr_child_state {
	TR_CHILD_STOPPED = 0, /* not running: terminated, or ended and
	                       * not to be restarted */
	TR_CHILD_RUNNING    = 1,
	TR_CHILD_RESTARTING = 2, /* to be started again: waiting for its
	                          * backoff, or for an earlier child of its
	                          * group restart */
	TR_CHILD_IGNORED = 3,    /* its last start answered TR_EIGNORE */
	TR_CHILD_UNKNOWN = 4,    /* on another node, which was lost: it may
	                          * still run there (enum tr_node_loss) */
};

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
	int      state;         /* enum tr_child_state */
	bool     significant;
	/* the node it runs (or last ran) on; "" = the supervisor's run.
	 * pid and addr are then that node's (addr.node its id). */
	char node[64];
} tr_child_info;

/* count_children(): like OTP's, specs counts every child known (running
 * or not), supervisors + workers == specs; active counts the running
 * ones.  For simple_one_for_one, as OTP, specs is 1 (the template) and
 * supervisors or workers (by the template's type) count the instances. */
typedef struct tr_child_counts {
	int specs;
	int active; /* running now */
	int supervisors;
	int workers;
	int unknown; /* on a lost node (TR_CHILD_UNKNOWN); not in active */
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
 * signal (consumed) or an automatic shutdown (auto_shutdown), -EINTR when a
 * second signal during the shutdown cut it short (the remaining children were
 * killed at once), TR_ESHUTDOWN when it gave up (restart intensity exceeded),
 * or the error that kept a child from starting (TR_ESTARTFAIL, ...).  While it
 * runs, the calling thread blocks SIGTERM, SIGINT and SIGHUP and the process
 * ignores SIGINT and SIGHUP (other threads should block them too); both are put
 * back on return.  SIGINT or SIGHUP ignored at the call (nohup, a background
 * job) stay ignored. */
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
 * child's info (a child that answered ignore: 0, state TR_CHILD_IGNORED,
 * kept unless temporary).  On TR_EEXISTS, ret (if not NULL) gets the info
 * of the child that has the id -- running or not, its pid says -- as OTP
 * answers {already_started, Pid}; that is the one error on which ret is
 * written.  Errors: TR_EEXISTS (id in use), TR_ESTARTFAIL (the child
 * failed to start; it is not kept), TR_ENOACTOR, -EINVAL (a bad spec:
 * significant under auto_shutdown never, or permanent and significant). */
TR_API int tr_supervisor_start_child(tr_supervisor *s, const tr_child_spec *c,
    tr_child_info *ret, int timeout_ms);

/* simple_one_for_one: start one more instance of the template with
 * extra (len bytes, may be NULL when 0) appended to its args.  The child
 * gets the id "<template id>.<n>" (n counts from 1), in ret->id; an
 * instance that answers ignore is not kept (ret->state TR_CHILD_IGNORED,
 * returns 0).  Errors as tr_supervisor_start_child(); -EOPNOTSUPP for
 * other strategies. */
TR_API int tr_supervisor_start_simple(tr_supervisor *s, const void *extra,
    size_t len, tr_child_info *ret, int timeout_ms);

/* tr_supervisor_start_simple() on node `node` (NULL or "": where the
 * template says): how a pool puts workers on other nodes.  Errors as
 * tr_supervisor_start_simple(), and TR_EBADADDR (that node is not
 * connected, or the supervisor's run has no node), -EINVAL (a bad node
 * name). */
TR_API int tr_supervisor_start_simple_on(tr_supervisor *s, const char *node,
    const void *extra, size_t len, tr_child_info *ret, int timeout_ms);

/* Stop a child by its shutdown spec; it is not restarted (a pending
 * restart is called off).  Its spec stays (restart_child() starts it
 * again), except for temporary children and simple_one_for_one instances,
 * which are removed.  Under rest_for_one the children after it, which
 * depend on it, are stopped first, in reverse order (their specs stay
 * too; restart them with restart_child()).  0 also when it was not
 * running, and for a simple_one_for_one instance that already ended (an
 * id this supervisor gave out).  Errors: TR_ENOTFOUND. */
TR_API int tr_supervisor_terminate_child(
    tr_supervisor *s, const char *id, int timeout_ms);

/* Start a stopped or ignored child again from its spec (its restart
 * count is kept); ret as for start_child().  Errors: TR_ENOTFOUND,
 * TR_ERUNNING (it runs), TR_ERESTARTING (the supervisor is restarting it:
 * wait, or terminate_child() first), TR_ESTARTFAIL, -EOPNOTSUPP
 * (simple_one_for_one, as OTP). */
TR_API int tr_supervisor_restart_child(
    tr_supervisor *s, const char *id, tr_child_info *ret, int timeout_ms);

/* Forget a stopped or ignored child's spec.  Errors: TR_ENOTFOUND,
 * TR_ERUNNING, TR_ERESTARTING (being restarted), -EOPNOTSUPP
 * (simple_one_for_one: use terminate_child). */
TR_API int tr_supervisor_delete_child(
    tr_supervisor *s, const char *id, int timeout_ms);

/* All children in start order: *ret gets an array of *ret_n entries that
 * the caller releases with free() (NULL when there are none). */
TR_API int tr_supervisor_which_children(
    tr_supervisor *s, tr_child_info **ret, size_t *ret_n, int timeout_ms);

/* One child's info into *ret, without listing them all.  Errors:
 * TR_ENOTFOUND. */
TR_API int tr_supervisor_which_child(
    tr_supervisor *s, const char *id, tr_child_info *ret, int timeout_ms);

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
