/* SPDX-License-Identifier: MIT */
/* The inbox: the mailbox socket, served by the runtime thread, and the
 * bounded queue between that thread and the actor's code.  The runtime
 * thread takes messages off the socket as they arrive (while the queue
 * holds fewer than the capacity; then ZeroMQ's high-water marks push back
 * on the senders), validates them, answers the protocol (Fin, Link,
 * Unlink) and appends the rest; the actor takes them with tr_recv() and
 * friends.  It also tracks which processes have connections open to the
 * mailbox, so that a DOWN is queued only after everything its actor sent
 * that reached this process. */
#ifndef TRI_INBOX_H
#define TRI_INBOX_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <zmq.h>

#include "msg.h"

extern _Atomic int    tri_inbox_capacity; /* messages, default 1000 */
extern _Atomic size_t tri_inbox_max_size; /* payload bytes */

/* Once per process, any thread: the actor's wake descriptor. */
int tri_inbox_init(void);
/* Make and bind the mailbox socket at self's endpoint, and its connection
 * monitor (any thread; the runtime thread then adopts them). */
struct tri_inbox_sockets {
	void *sock, *mon;
};
int  tri_inbox_open(struct tri_inbox_sockets *ret);
int  tri_inbox_adopt(const struct tri_inbox_sockets *s); /* runtime thread */
bool tri_inbox_bound(void);
/* The direct path (node-direct.h): make the mailbox socket accept TCP
 * connections too, at host ("tcp://127.0.0.1"), as a CURVE server with
 * the Z85 secret key if given; the endpoint made goes in ret.  The caller holds
 * the socket (it reads it).  -errno on failure. */
int tri_inbox_listen_tcp(
    const char *host, const char *secret, char *ret, size_t n);
/* Stop accepting at that endpoint (the caller holds the socket). */
int tri_inbox_unlisten_tcp(const char *ep);
/* n messages came on the direct path (node-direct.c counts them). */
void tri_direct_received(uint64_t n);

/* ---- runtime thread ---- */
size_t tri_inbox_nitems(void);
/* Poll items for the runtime thread; may lower *timeout_ms. */
size_t tri_inbox_pollitems(zmq_pollitem_t *it, int *timeout_ms);
/* Read connection events, then take what the socket holds (up to the
 * room in the queue). */
void tri_inbox_serve(void);
/* Read connection events, then take the socket (from the actor's thread
 * if it waits on it) and read it empty, up to the room in the queue. */
void tri_inbox_drain(void);
/* The queue is at its bound: nothing more is read off the socket. */
bool tri_inbox_full(void);
/* The socket held nothing at the last look (or there is no socket). */
bool tri_inbox_drained(void);
/* The queue is at its bound while the actor waits for one particular
 * message (a call's reply, a selective receive): nothing more is read
 * until it takes one, which it may never do. */
bool tri_inbox_stuck(void);
void tri_inbox_set_selective(bool on);

/* Append a locally made notice (DOWN, EXIT); not bounded. */
void tri_inbox_put_local(tr_msg *m);
void tri_inbox_thread_exit(void);

/* ---- the actor's side ---- */
/* Move every queued message onto the list head..tail (in order). */
void tri_inbox_take(tr_msg **head, tr_msg **tail);
/* Move what is queued onto head..tail, then, if the socket is free, read
 * what it holds straight after (the actor's fast path); with will_wait
 * (a tri_inbox_wait() follows if nothing matched), a socket the last read
 * emptied is left to that wait's poll.  Returns how many were read, or -1
 * if the socket was not free (only the move was done). */
int tri_inbox_read(tr_msg **head, tr_msg **tail, bool will_wait);
/* The actor has disposed of n messages it took. */
void tri_inbox_consumed(size_t n);
/* Wait up to timeout_ms for mail, a FinAck, or one of fds (revents
 * set).  Returns > 0 when something came, 0 on timeout, -errno. */
int  tri_inbox_wait(struct pollfd *fds, size_t nfds, int timeout_ms);
bool tri_inbox_has_mail(void);
/* A call waits for this correlation id (0: none): while it does, the
 * runtime thread reads past a full queue, up to twice the capacity, so
 * that a reply is not stuck behind a flood. */
void tri_inbox_set_awaiting(uint64_t corr);
/* Wake the actor's thread if it waits (an answer came). */
void tri_inbox_wake(void);
void tri_inbox_stats(tr_mailbox_stats *ret);
void tri_inbox_count_late_reply(void);
/* Lamport clock: the next value for a message we send. */
uint64_t tri_lamport_next(void);
/* This process is exiting: what is still sent to it can never be read,
 * so the queue takes everything (answering each sender's Fin) rather
 * than hold the senders' exits, and ours, at the bound. */
void tri_inbox_exiting(void);
/* After the runtime thread stopped: close the socket, free the queue. */
void tri_inbox_close(void);
/* In a fork child: forget the parent's (never touching its sockets). */
void tri_inbox_forked(void);

#endif /* TRI_INBOX_H */
