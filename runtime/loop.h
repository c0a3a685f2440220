/* SPDX-License-Identifier: MIT */
/* The runtime thread: one per process, started on first need.  It serves
 * the mailbox while the actor's own code runs (takes messages off the
 * socket into the bounded queue, answers the protocol, watches monitored
 * and linked actors and acts on their exits), and it is the thread that
 * forks and spawns children, so that they live as long as the process
 * that started them rather than the thread that asked (PR_SET_PDEATHSIG
 * fires when the forking thread ends).  It blocks every signal: signals
 * meant for the process go to the actor's threads. */
#ifndef TRI_LOOP_H
#define TRI_LOOP_H

#include <stdbool.h>

/* Run fn(arg) in the runtime thread (starting it if needed) and return
 * its result; from the runtime thread itself, call fn directly.  Blocks
 * until fn returns.  Errors: fn's, or -errno if the thread cannot start. */
int tri_loop_run(int (*fn)(void *arg), void *arg);

/* Wake the runtime thread to look at its sources again (room in the
 * queue, a new watch).  Async-signal-unsafe; any thread. */
void tri_loop_kick(void);

bool tri_loop_in_thread(void);

/* Run fn(arg) where a child must be forked or spawned: in the calling
 * thread if it is the main thread (it lives as long as the process, and
 * no hand-off delays the start), else in the runtime thread. */
int  tri_loop_run_for_children(int (*fn)(void *arg), void *arg);
bool tri_loop_running(void);

/* At exit: stop and join the thread; the caller then owns what it owned
 * (the mailbox socket).  Idempotent. */
void tri_loop_stop(void);

/* In a fork child: the thread does not exist here; forget it. */
void tri_loop_forked(void);

#endif /* TRI_LOOP_H */
