/* SPDX-License-Identifier: MIT */
#ifndef TR_WAIT_H
#define TR_WAIT_H

#include <stdbool.h>
#include <stddef.h>

#include "troupe/common.h"
#include "troupe/pipe.h"
#include "troupe/process.h"

#ifdef __cplusplus
extern "C" {
#endif

/* tr_wait -- wait on many things at once with one timeout, like Python's
 * multiprocessing.connection.wait(): pipe ends, children (their
 * sentinels), plain descriptors, this process's mailbox, and any object
 * that can say whether it is ready (a queue reader, through a small
 * adapter).  A tr_waitable names one thing; tr_wait() sets .ready on each
 * that is ready and returns how many are. */

enum tr_wait_kind {
	TR_WAIT_FD = 1,  /* u.fd is readable (or hung up, or in error) */
	TR_WAIT_PIPE,    /* u.pipe: a receive would return at once (a
	                  * message, end of file, or a broken pipe), as
	                  * tr_pipe_poll() says */
	TR_WAIT_PROCESS, /* u.process (started) has exited: its sentinel */
	TR_WAIT_MAILBOX, /* a message waits in this process's mailbox, as
	                  * tr_poll() says (the mailbox is bound if need be) */
	TR_WAIT_READY,   /* u.ready.fn(u.ready.obj) returns 1 */
};

/* The callback of TR_WAIT_READY: 1 if obj is ready, 0 if not, < 0 an
 * error that ends the wait.  It must not block.  tr_wait() calls it at
 * the start, and again each time a message has come into this process's
 * mailbox: it suits objects whose readiness changes only when a message
 * arrives (a queue reader: `int tr_queue_poll(q, 0)` in an adapter).  It
 * may take messages out of the mailbox itself (tr_recv_match()). */
typedef int (*tr_ready_fn)(void *obj);

typedef struct tr_waitable {
	int kind; /* enum tr_wait_kind */
	union {
		int         fd;
		tr_pipe    *pipe;
		tr_process *process;
		struct {
			tr_ready_fn fn;
			void       *obj;
		} ready;
	} u;
	bool ready; /* out: set by tr_wait() */
} tr_waitable;

/* Initialisers, e.g. tr_waitable w[] = { TR_WAITABLE_PIPE(a), ... }. */
#define TR_WAITABLE_FD(f) ((tr_waitable) { .kind = TR_WAIT_FD, .u.fd = (f) })
#define TR_WAITABLE_PIPE(p) \
	((tr_waitable) { .kind = TR_WAIT_PIPE, .u.pipe = (p) })
#define TR_WAITABLE_PROCESS(p) \
	((tr_waitable) { .kind = TR_WAIT_PROCESS, .u.process = (p) })
#define TR_WAITABLE_MAILBOX() ((tr_waitable) { .kind = TR_WAIT_MAILBOX })
#define TR_WAITABLE_READY(f, o) \
	((tr_waitable) { .kind = TR_WAIT_READY, .u.ready = { (f), (o) } })

/* Wait up to timeout_ms until at least one of the n things in w is ready;
 * set each one's .ready, and return how many are ready (all of those
 * ready at the moment it returns, not only the first), or 0 when the
 * timeout passed with none ready.  Takes nothing from any of them: a pipe
 * is not read, a child is not reaped, a message stays in the mailbox.
 * A signal does not end the wait (it goes on with the time left), as in
 * Python.  A dead child counts as ready at once (its exit is what a
 * sentinel waits for); a pipe end whose peer died is ready (end of file).
 *
 * While a message that no TR_WAIT_READY object wants sits in the mailbox
 * (and the mailbox itself is not waited on), those objects are asked again
 * whenever another message comes, seen at most 5 ms late.  The mailbox
 * is used (and bound) only when w holds TR_WAIT_MAILBOX or TR_WAIT_READY;
 * else tr_wait() is one poll(2).
 *
 * Errors: -EINVAL (w NULL with n > 0, an unknown kind, a NULL pipe or
 * process, a process never started, a negative fd, timeout_ms < -1),
 * -EBADF (a send-only pipe end), -ECHILD (a pipe or process of another
 * process), a TR_WAIT_READY callback's error, -ENOMEM, tr_poll()'s. */
TR_API int tr_wait(tr_waitable *w, size_t n, int timeout_ms);

#ifdef __cplusplus
}
#endif

#endif /* TR_WAIT_H */
