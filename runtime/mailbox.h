/* SPDX-License-Identifier: MIT */
/* The mailbox as the actor sees it: its address, the ZeroMQ context, and
 * the hooks the process layer calls.  Receiving is in mailbox.c over the
 * inbox; sending in peer.c; monitors and links in watch.c. */
#ifndef TRI_MAILBOX_H
#define TRI_MAILBOX_H

#include <stdint.h>
#include <sys/types.h>

#include "troupe/msg.h"

/* This process's address as last computed (no side effects: safe from the
 * runtime thread once the mailbox exists). */
tr_addr tri_self_cached(void);
/* The process's ZeroMQ context (thread-safe); NULL before first use. */
void *tri_mailbox_ctx(void);

/* Hooks the process layer calls. */
void tri_msg_forked(void);         /* in a new child: forget parent's zmq */
int  tri_msg_bind_eager(void);     /* bind the mailbox now */
void tri_msg_exiting(void);        /* at exit: stop bounding the queue */
void tri_msg_exit_handshake(void); /* at exit: peers took our mail */
void tri_msg_shutdown(void);       /* at exit: close, linger, term */
void tri_msg_on_exit(pid_t pid, uint64_t incarnation, int exitcode);
int  tri_msg_wait_fd(int fd, int timeout_ms); /* poll fd, serving mail */
int  tri_msg_linger_ms(void);

#endif /* TRI_MAILBOX_H */
