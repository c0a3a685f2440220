/* SPDX-License-Identifier: MIT */
/* The mailbox as the actor sees it: its address, the ZeroMQ context, and
 * the hooks the process layer calls.  Receiving is in mailbox.c over the
 * inbox; sending in peer.c; monitors and links in watch.c. */
#ifndef TRI_MAILBOX_H
#define TRI_MAILBOX_H

#include "troupe/msg.h"

/* This process's address as last computed (no side effects: safe from the
 * runtime thread once the mailbox exists). */
tr_addr tri_self_cached(void);
/* The process's ZeroMQ context (thread-safe); NULL before first use. */
void *tri_mailbox_ctx(void);

#endif /* TRI_MAILBOX_H */
