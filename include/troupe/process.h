/* SPDX-License-Identifier: MIT */
#ifndef TR_PROCESS_H
#define TR_PROCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "troupe/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* tr_process -- a child process running a registered actor, like Python's
 * multiprocessing.Process.  The handle belongs to the process (and thread)
 * that created it; calls from a fork()ed child return -ECHILD.
 *
 * Exit codes follow Python: 0 success, n for exit(n) or an actor body
 * returning n, 1 for a body that returned an error, -N when killed by
 * signal N. */
typedef struct tr_process tr_process;

enum tr_start_method {
	TR_START_DEFAULT = 0,    /* TR_START_FORK, or $TROUPE_START_METHOD */
	TR_START_FORK    = 1,    /* fork(); the child never uses the parent's
	                          * ZeroMQ context */
	TR_START_SPAWN      = 2, /* fresh exec of this program's binary */
	TR_START_FORKSERVER = 3, /* forked by a single-threaded zygote that
	                          * this process starts on first use */
};

/* The forkserver ignores SIGINT, SIGTERM and SIGHUP (a Ctrl-C to the
 * process group reaches the actors, not it) and never kills a child: it
 * ends when its starter closes its socket (at exit, once the children are
 * joined; it lets the remaining children finish first) or dies.  If it
 * dies anyway, its children die with it (exit code -SIGKILL) and the next
 * start starts a new server.
 *
 * Whatever the method, a child gets the signals its starter ignores at
 * start() ignored, every other signal at its default, and its
 * tr_self_parent_pid() is the starter (not the forkserver).  A spawn or
 * forkserver child starts with stdio and the runtime's own descriptors
 * only (a forkserver child's stdio is the server's: the starter's when the
 * server started); a fork child inherits the caller's descriptors, as with
 * fork(), except the runtime's (the other children's pidfds and status pipes,
 * the forkserver socket). */

/* Name of a start method ("fork", ...), or NULL if out of range. */
TR_API const char *tr_start_method_name(int method);
/* Parse "fork", "spawn" or "forkserver"; -EINVAL otherwise. */
TR_API int tr_start_method_parse(const char *name);

/* Create a handle that will run actor `actor` with a copy of args (may be
 * NULL when len is 0).  Nothing starts until tr_process_start().  The name
 * defaults to "Process-N" (N counts this process's children, from 1), and
 * in a child to "Process-P:N".  In a daemon process the handle is a daemon
 * by default, as in Python.  Errors: -EINVAL, -ENOMEM, TR_ENOTINIT. */
TR_API int tr_process_new(
    tr_process **ret, const char *actor, const void *args, size_t len);

/* Setters: only before start (-EBUSY after).  set_name copies name. */
TR_API int tr_process_set_name(tr_process *p, const char *name);
TR_API int tr_process_set_daemon(tr_process *p, bool daemon);
TR_API int tr_process_set_start_method(tr_process *p, int method);
/* Bind the child's mailbox before it reports running, so that sends
 * never wait for it (default: the mailbox is bound on first use). */
TR_API int tr_process_set_eager_mailbox(tr_process *p, bool eager);

/* Start the child and wait up to timeout_ms for it to report it is
 * running.  Blocks.  At most once per handle (-EBUSY).  First reaps the
 * children that have exited without being joined, as Python does, so
 * none stays a zombie (their handles still give the exit code); the cost
 * of that does not grow with the number of children running.  Once the
 * child has started (or failed to), the handle no longer holds a copy of
 * its arguments.  Errors:
 * TR_ENOACTOR (the name is not registered), TR_ESTARTFAIL (the child died
 * or its init failed: tr_process_reason() says why -- its exit code or
 * signal when it gave no reason -- and tr_process_start_error() gives the
 * child's own error), TR_EIGNORE (a TR_ACTOR_MANUAL_READY body answered
 * TR_EIGNORE: it had nothing to run and exited with code 0), -ETIMEDOUT (the
 * child was killed and reaped), -EAGAIN/-ENOMEM (fork failed),
 * TR_EFORKSERVER (no forkserver could be started or it failed the
 * request), -ECHILD. */
TR_API int tr_process_start(tr_process *p, int timeout_ms);

/* Wait up to timeout_ms for the child to exit and reap it.  Returns 0
 * once it has exited (again and again), -ETIMEDOUT if still running (the
 * child is untouched), -EINVAL if never started, -EINTR, -ECHILD. */
TR_API int tr_process_join(tr_process *p, int timeout_ms);

/* True from a successful start until the child has exited (reaps it). */
TR_API bool tr_process_is_alive(tr_process *p);

/* Send SIGTERM / SIGKILL / any signal.  0 also when the child has already
 * exited (nothing is sent); -EINVAL if never started. */
TR_API int tr_process_terminate(tr_process *p);
TR_API int tr_process_kill(tr_process *p);
TR_API int tr_process_signal(tr_process *p, int sig);

/* Exit code into *ret once exited.  Returns 0, or TR_ERUNNING while the
 * child runs, -EINVAL if never started. */
TR_API int tr_process_exitcode(tr_process *p, int *ret);

/* Child's pid; 0 before start. */
TR_API pid_t       tr_process_pid(tr_process *p);
TR_API const char *tr_process_name(tr_process *p);  /* borrowed */
TR_API const char *tr_process_actor(tr_process *p); /* borrowed */
TR_API bool        tr_process_is_daemon(tr_process *p);
TR_API int         tr_process_start_method(tr_process *p);
/* Why start failed (child's tr_fail() text or a description); borrowed,
 * "" when there is nothing to say. */
TR_API const char *tr_process_reason(tr_process *p);
/* Error the child reported when its init failed, else 0. */
TR_API int tr_process_start_error(tr_process *p);

/* A file descriptor that becomes readable (POLLIN) when the child exits,
 * for poll()/zmq_poll() beside other sources.  Borrowed: valid until the
 * handle is closed.  -EINVAL if never started. */
TR_API int tr_process_sentinel(tr_process *p);

/* Release the handle's resources.  TR_ERUNNING if the child still runs
 * (the handle stays usable); 0 otherwise, and *pp becomes NULL. */
TR_API int tr_process_close(tr_process **pp);

/* Release the handle; NULL-safe, idempotent, sets *pp to NULL.  A child
 * still running is killed (SIGKILL) and reaped first. */
TR_API void tr_process_destroy(tr_process **pp);

/* Number of children of this process started and not yet reaped
 * (multiprocessing.active_children(); reaps the exited ones first). */
TR_API int tr_active_children(void);

#ifdef __cplusplus
}
#endif

#endif /* TR_PROCESS_H */
