/* SPDX-License-Identifier: MIT */
/* The event actor and its client, shared by actors/event*.c (tri_event_*).
 * Built only on the public API.  Not installed. */
#ifndef TRI_EVENT_INT_H
#define TRI_EVENT_INT_H

#include "event.pb-c.h"
#include "troupe.h"

/* The start timeout tr_event_new() uses when the options give none. */
#define TRI_EVENT_START_MS 10000
/* How long the actor lets one answer wait for room in a client's
 * mailbox before it gives that client up (a client waiting in tr_call()
 * has room for twice its capacity, so this is a guard only). */
#define TRI_EVENT_REPLY_MS 1000
/* Most waits one actor parks at once; more get -ENOSPC. */
#define TRI_EVENT_MAX_WAITERS 65536

/* The event actor's body (TR_EVENT_ACTOR): args is the name to register
 * under (may be empty). */
int tri_event_actor(const void *args, size_t len);

#endif /* TRI_EVENT_INT_H */
