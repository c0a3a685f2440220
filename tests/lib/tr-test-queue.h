/* SPDX-License-Identifier: MIT */
/* Helpers for the queue tests: child actors there take the arguments
 * "WHERE N", a queue to open and a count. */
#ifndef TR_TEST_QUEUE_H
#define TR_TEST_QUEUE_H

#include "tr-test.h"

/* In a child actor: parse "WHERE N" from args and open the queue WHERE
 * into *q (the caller's).  Returns tr_queue_open()'s result, -EINVAL for
 * args of another shape.  No cmocka (it runs in a forked child). */
int tr_test_queue_open_arg(const void *args, tr_queue **q, int *n);

/* Start actor with args "WHERE N" under start method `method`; asserts
 * (cmocka) that it started, and returns the process. */
tr_process *tr_test_queue_start(
    const char *actor, const char *where, int n, int method);

/* The memfds named "troupe-queue-<kind>..." that the broker of q holds
 * ("ring": producers' rings, "cring": consumers' rings); -1 if its
 * /proc/PID/fd cannot be read. */
int tr_test_queue_memfds(tr_queue *q, const char *kind);

/* Wait (bounded by TR_TEST_HANG_MS) until the broker of q holds n memfds
 * of kind; true if it does. */
bool tr_test_queue_memfds_become(tr_queue *q, const char *kind, int n);

#endif
