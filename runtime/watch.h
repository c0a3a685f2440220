/* SPDX-License-Identifier: MIT */
/* Monitors and links, kept by the runtime thread: each watch holds a
 * liveness descriptor of the watched actor.  When the actor ends, the
 * watch fires, and it is acted on (a DOWN or EXIT queued, or this process
 * ended by the link) once every message that actor sent and that reached
 * this process is in the queue. */
#ifndef TRI_WATCH_H
#define TRI_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <zmq.h>

#include "troupe/msg.h"

enum tri_watch_kind { TRI_W_MONITOR, TRI_W_LINK };

/* ---- runtime thread ---- */
/* Watch who.  A dead `who` fires at once: a monitor with class
 * TR_EXIT_NOPROC if noproc, else with how it ended.  Errors: -ENOMEM,
 * TR_EBADADDR. */
int    tri_watch_add(tr_addr who, int kind, uint64_t ref, bool noproc);
int    tri_watch_remove_ref(uint64_t ref); /* TR_ENOTFOUND */
bool   tri_watch_linked(tr_addr who);
void   tri_watch_unlink(tr_addr who);
void   tri_watch_link_in(tr_addr from);   /* a Link arrived */
void   tri_watch_unlink_in(tr_addr from); /* an Unlink arrived */
size_t tri_watch_count(void);
size_t tri_watch_pollitems(zmq_pollitem_t *it);
void   tri_watch_serve(const zmq_pollitem_t *it, size_t n);
bool   tri_watch_pending(void);
/* Look at every watch without a poll set (out of memory), then deliver. */
void tri_watch_poll_all(void);
/* Act on the fired watches whose actors' mail is all in. */
void tri_watch_deliver(void);

/* ---- any thread ---- */
void tri_watch_set_trap(bool on);
/* After the runtime thread stopped, or in a fork child: drop them all. */
void tri_watch_close_all(bool forked);

#endif /* TRI_WATCH_H */
