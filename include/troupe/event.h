/* SPDX-License-Identifier: MIT */
#ifndef TR_EVENT_H
#define TR_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "troupe/common.h"     /* TR_API, TR_TIMEOUT_INFINITE */
#include "troupe/msg.h"        /* tr_addr */
#include "troupe/supervisor.h" /* tr_child_spec */

#ifdef __cplusplus
extern "C" {
#endif

/* tr_event -- a flag many processes can wait on, like Python's
 * multiprocessing.Event: set(), clear(), is_set() and wait(timeout) that
 * says whether the flag was set.  The flag lives in an event actor (its own
 * process, registered as TR_EVENT_ACTOR); a tr_event is a client handle
 * onto it.  A dead actor is always an error, never a hang: calls on it
 * fail with -ESRCH or TR_EDEAD, and so does a wait in progress when it
 * dies.
 *
 * Two paths, one meaning.  On the actor's host (every process of a run)
 * the flag lives in one page of anonymous shared memory that the actor
 * makes (a memfd: no name in /dev/shm or anywhere, so there is nothing to
 * clean up after a SIGKILL -- the kernel frees it with its last user).  A
 * handle maps it at its first call (one request to the actor) and from
 * then on sets, clears and reads the flag itself, and waits on a futex
 * there; set() wakes the waiters with one system call, no message on the
 * way.  It notices the actor's death through a pidfd it looks at on every
 * call, and every 50 ms while it waits.  Where the page cannot be had
 * (another node, /proc closed to us, or TROUPE_EVENT_SHM=0 in the
 * environment when the handle makes its first call) every call is a
 * message to the actor (tr_call, docs/protocol.md): a wait on a clear flag
 * is parked in the actor and answered by set(), and tr_call() watches the
 * actor's death meanwhile.  Both kinds of client can share an event: a
 * set() on the page sees the waits parked in the actor and has the actor
 * answer them before it returns.
 *
 * Either way, once set() returned every process that was waiting has been
 * woken (or sent its answer), and a wait or is_set() that starts after
 * set() returned sees the flag (until a clear()).
 *
 * Handing an event to another process: its address (tr_event_addr(),
 * a value; tr_addr_format() gives its text) or its name travels, never a
 * pointer; open it there with tr_event_open() or tr_event_open_name().
 * This works the same for children started by fork, spawn or the
 * forkserver and for any other process of the run.  For a process on
 * another node pass tr_node_global_addr(tr_event_addr(e)) (a name is
 * looked up in the opener's run only); it uses messages, and its wait
 * ends with TR_EDEAD if the event's node is lost (docs/distribution.md,
 * "Queue, Event and the locks across nodes").  A handle belongs to
 * one thread of the process that made it: from another process (a fork()ed
 * child included) every call returns -ECHILD.
 *
 * If the event actor dies: waiters get TR_EDEAD (on the page within
 * 50 ms), later calls through a handle opened by address get -ESRCH or
 * TR_EDEAD for ever (a call that overlaps the dying may still succeed).  A
 * supervised event (tr_event_child_spec()) comes back as a new process with a
 * new address and a *clear* flag: the flag is not kept across the death (state
 * lost). A handle made with a name looks the name up again for the call after
 * one that failed with -ESRCH or TR_EDEAD, and so reaches the new actor; while
 * it restarts, calls fail with TR_ENOTFOUND (nobody holds the name yet). */
typedef struct tr_event tr_event;

/* Name under which the event actor is registered; its argument is the
 * name to register it under (may be empty). */
#define TR_EVENT_ACTOR "troupe.event"

/* Longest a call waits for the actor's answer (the first call of a
 * handle, and set(), clear(), is_set() and wait(0) without the page)
 * before -ETIMEDOUT: the actor answers at once, so this only matters for
 * an actor that is alive but stopped (SIGSTOP). */
#define TR_EVENT_CALL_MS 10000

/* How tr_event_new() starts the actor.  All zeroes (or NULL) means the
 * defaults: no name, TR_START_DEFAULT, a 10 s start timeout. */
typedef struct tr_event_options {
	const char *name;     /* register the actor under this name
	                       * (tr_register() rules); NULL: none */
	int start_method;     /* enum tr_start_method; 0 = default */
	int start_timeout_ms; /* 0 = 10000; TR_TIMEOUT_INFINITE ok */
} tr_event_options;

/* Start an event actor (flag clear) as a daemon child of the caller and
 * wait for it to run; *ret gets a handle owned by the caller.  The actor
 * goes when this handle is destroyed, or when the caller exits (it is a
 * daemon child), whichever comes first.  Blocks up to the start timeout.
 * Errors: -EINVAL (bad options or name), TR_EEXISTS (a live actor holds
 * the name), -ENOMEM, TR_ENOTINIT, TR_ESTARTFAIL, -ETIMEDOUT, -EAGAIN. */
TR_API int tr_event_new(tr_event **ret, const tr_event_options *opts);

/* A handle onto the event actor at addr.  Nothing is checked until the
 * first call; destroying the handle leaves the actor alone.  Errors:
 * -EINVAL, -ENOMEM. */
TR_API int tr_event_open(tr_event **ret, tr_addr addr);

/* A handle onto the event actor registered as name; the name is looked
 * up now and again after a call found the actor dead (see above).
 * Destroying the handle leaves the actor alone.  Errors: -EINVAL,
 * -ENOMEM, TR_ENOTFOUND (no live holder of the name), TR_ENOTINIT. */
TR_API int tr_event_open_name(tr_event **ret, const char *name);

/* Release the handle; NULL-safe, idempotent, sets *ep to NULL.  If it
 * was made by tr_event_new() (and in this process), the actor is stopped
 * (SIGTERM, then SIGKILL after 5 s) and reaped: waiters elsewhere then get
 * TR_EDEAD. */
TR_API void tr_event_destroy(tr_event **ep);

/* Set the flag and wake every waiter (Python's set()).  On the page it
 * does not block (unless waits are parked in the actor: then one round
 * trip); without it, one round trip (at most TR_EVENT_CALL_MS).  Returns
 * 0.  Errors: -ESRCH, TR_EDEAD (the actor is dead), -ETIMEDOUT,
 * TR_ENOTFOUND (a name nobody holds), TR_EFULL, -ECHILD, -EINVAL. */
TR_API int tr_event_set(tr_event *e);

/* Clear the flag (Python's clear()); later waits block until the next
 * set().  Blocks and errors as tr_event_set(). */
TR_API int tr_event_clear(tr_event *e);

/* 1 if the flag is set, 0 if not (stale on return), or an error as
 * tr_event_set(). */
TR_API int tr_event_is_set(tr_event *e);

/* Wait up to timeout_ms for the flag to be set (Python's wait()).
 * Returns 1 if it is set (at once if it already was), 0 if the timeout
 * passed with it clear.  timeout 0 asks the actor once and never waits
 * for a set(); TR_TIMEOUT_INFINITE waits for ever (but never on a dead
 * actor).  When the timeout passes the result is the flag then (without
 * the page the actor is told to forget the wait and answers the flag): a
 * set() that raced with the deadline gives 1, as Python returns the flag.
 * A wait that set() woke returns 1 even if a clear() followed at once.
 * Blocks.  Errors: -EINVAL (a
 * negative timeout other than TR_TIMEOUT_INFINITE), TR_EDEAD (the actor
 * died while we waited), -ESRCH, TR_ENOTFOUND, TR_EFULL, -EINTR, -ECHILD,
 * -ENOSPC (the actor already parks 65536 waits, messages only). */
TR_API int tr_event_wait(tr_event *e, int timeout_ms);

/* The actor's address (for tr_event_open() elsewhere): for a handle made
 * with a name, the one it last found (TR_ADDR_NULL while it has none). */
TR_API tr_addr tr_event_addr(const tr_event *e);

/* The name the handle was made with (borrowed), or "" for none. */
TR_API const char *tr_event_name(const tr_event *e);

/* Fill *c (its defaults: permanent worker) to run an event actor under a
 * supervisor, registered as name (NULL or "": none, which leaves it hard
 * to find after a restart).  id and name are borrowed until the spec is
 * handed to the supervisor.  Never fails. */
TR_API void tr_event_child_spec(
    tr_child_spec *c, const char *id, const char *name);

#ifdef __cplusplus
}
#endif

#endif /* TR_EVENT_H */
