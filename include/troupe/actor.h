/* SPDX-License-Identifier: MIT */
#ifndef TR_ACTOR_H
#define TR_ACTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "troupe/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Actors are named functions.  Any start method (fork, spawn, forkserver,
 * a supervisor) starts an actor by its registered name with its arguments
 * as bytes; no code travels.  Because every child runs the same program,
 * register actors at load time (TR_ACTOR) or before tr_init().
 *
 * An actor body returns 0 for success (exit code 0), a positive n for exit
 * code n (like main), or a negative error code, which is logged and gives
 * exit code 1.  It may also end with tr_exit(n).  args is borrowed and
 * valid for the whole life of the process; args[len] is always '\0', so
 * text arguments can be read as C strings. */
typedef int (*tr_actor_fn)(const void *args, size_t len);

/* A child starts with the signal handlers it inherited reset to the
 * default and an empty signal mask; signals its starter ignored stay
 * ignored (as across exec), under every start method.  It dies with its
 * parent (PR_SET_PDEATHSIG).
 *
 * atexit() handlers: those the actor registers (in the child) run when it
 * ends normally -- its body returns, it calls tr_exit() or exit() -- before
 * its children are joined and its mailbox closed; none runs when it is
 * killed by a signal.  Handlers registered before the child started do not
 * run in it: the parent's (a fork child inherits the list, as a forked
 * Python child that ends with os._exit() ignores it), nor, for spawn and
 * the forkserver, those that main() registers again before tr_init() as the
 * program runs afresh.  The main program's handlers run as usual. */

enum tr_actor_flags {
	/* The body reports readiness itself with tr_ready(); the starter's
	 * start call waits for that, and if the body returns first, start
	 * fails with the body's error and reason (like OTP's init/1): a
	 * negative error gives exit code 1, a return of n >= 0 exit code n
	 * (reason "returned n before it reported running").  A body that
	 * returns TR_EIGNORE before tr_ready() (OTP's init returning
	 * `ignore`: nothing to run here) exits with code 0 and the start
	 * call returns TR_EIGNORE; a supervisor then keeps the child's spec
	 * without a process (see troupe/supervisor.h). */
	TR_ACTOR_MANUAL_READY = 1 << 0,
};

/* Register fn under name (copied; at most 63 bytes).  Errors: -EINVAL,
 * TR_EEXISTS (another function has that name), -ENOMEM. */
TR_API int tr_actor_register(const char *name, tr_actor_fn fn, int flags);

/* Register at program load: TR_ACTOR(worker, worker_fn) registers
 * worker_fn as "worker". */
#define TR_ACTOR_FLAGS(name, fn, flags)                                     \
	__attribute__((constructor)) static void tr_actor_ctor_##name(void) \
	{                                                                   \
		(void) tr_actor_register(#name, fn, flags);                 \
	}
#define TR_ACTOR(name, fn) TR_ACTOR_FLAGS(name, fn, 0)

/* Report that this actor is running (TR_ACTOR_MANUAL_READY actors).  No-op
 * for other actors, in the main program and when already reported.
 * Returns 0 or -errno from writing to the starter. */
TR_API int tr_ready(void);

/* Record why this actor's initialisation failed; returns err so that a
 * body can `return tr_fail(-ENOENT, "no config %s", path);`.  The reason
 * reaches the starter (tr_process_reason()) if readiness was not yet
 * reported; otherwise it is logged at error level when the body returns
 * its error. */
TR_API int tr_fail(int err, const char *fmt, ...) TR_PRINTF(2, 3);

/* End this process with exit code code (0..255): runs atexit handlers,
 * terminates daemon children, joins the others, waits until every live
 * recipient took in what it sent (up to the linger, if one is set),
 * closes the mailbox, flushes stdio and exits.  In the main program it
 * calls exit(code).  Does not return.  A teardown still wedged 5 s after
 * that is ended by SIGALRM (exit code -14). */
TR_API _Noreturn void tr_exit(int code);

/* ---- the current process (multiprocessing.current_process()) ----------- */

/* Name of this process ("MainProcess", "Process-1", "Process-2:1", or the
 * name it was given); borrowed. */
TR_API const char *tr_self_name(void);
/* getpid(), cached (renewed in fork children): no system call. */
TR_API pid_t tr_self_pid(void);
/* The process that started this one (for a forkserver child, the starter,
 * not the server: Python's parent_process()); getppid() in the main
 * program. */
TR_API pid_t tr_self_parent_pid(void);
/* Registered actor name this process runs, or NULL in the main program. */
TR_API const char *tr_self_actor(void);
TR_API bool        tr_self_is_daemon(void);

#ifdef __cplusplus
}
#endif

#endif /* TR_ACTOR_H */
