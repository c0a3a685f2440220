/* SPDX-License-Identifier: MIT */
/* The event actor and its client, shared by actors/event*.c (tri_event_*).
 * Built only on the public API.  Not installed. */
#ifndef TRI_EVENT_INT_H
#define TRI_EVENT_INT_H

#include <stdatomic.h>
#include <stdint.h>

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

/* The shared page (event-shm.c): the flag and a futex word.  The actor
 * makes it and keeps it for its whole life; clients on this host map it. */
#define TRI_EVENT_SHM_SIZE 4096
/* A waiter on the page looks at the actor's pidfd this often. */
#define TRI_EVENT_SLICE_MS 50

struct tri_event_shm {
	_Atomic uint32_t seq;    /* futex word: every set() adds 1 */
	_Atomic uint32_t flag;   /* 1: set */
	_Atomic uint32_t remote; /* WAITs parked in the actor (message
	                          * clients): a set() made on the page
	                          * must tell the actor to answer them */
	_Atomic uint32_t magic;
	uint32_t         pid; /* the actor's address, to check the mapping */
	uint64_t         incarnation;
};

/* A client's view of the page; page NULL: messages only. */
struct tri_event_local {
	struct tri_event_shm *page;
	int                   pidfd; /* the actor's: readable once it died */
};

/* Actor side: a new page (flag clear) and its descriptor. */
int tri_event_shm_create(struct tri_event_shm **ret, int *ret_fd);
/* Set the flag and wake the waiters on the page; clear it. */
void tri_event_shm_set(struct tri_event_shm *p);
void tri_event_shm_clear(struct tri_event_shm *p);

/* Client side.  init: no page.  attach: map the page of the actor at a,
 * descriptor fd in its process; -errno (the caller then uses messages
 * only).  detach: unmap; idempotent. */
void tri_event_local_init(struct tri_event_local *l);
int  tri_event_local_attach(struct tri_event_local *l, tr_addr a, int fd);
void tri_event_local_detach(struct tri_event_local *l);
/* 0 while the actor lives, TR_EDEAD once it has died. */
int tri_event_local_alive(const struct tri_event_local *l);
/* Wait on the page as tr_event_wait(): 1 set, 0 timed out, TR_EDEAD,
 * -EINTR. */
int tri_event_local_wait(struct tri_event_local *l, int timeout_ms);

/* The event actor's body (TR_EVENT_ACTOR): args is the name to register
 * under (may be empty). */
int tri_event_actor(const void *args, size_t len);

#endif /* TRI_EVENT_INT_H */
