/* SPDX-License-Identifier: MIT */
/* The same-host call channel (chan.c): a second way for a server actor's
 * requests and replies, the same protobuf bytes as its mailbox carries,
 * through one request/reply slot in shared memory per client.
 *
 * The server owns the memory: for each client that asks (over the
 * mailbox, so only after it authenticated), it makes an anonymous memfd
 * and answers with its descriptor number; the client maps it through
 * /proc/SERVERPID/fd/N (attach-int.h) and holds a pidfd of the server.
 * A call is: the client packs its request into the slot as a record,
 * behind the one-way records the server has not taken yet (a batch),
 * publishes the batch (state REQ), and waits for state REPLY; the server
 * copies the batch out (state TAKEN, or IDLE at once when all of it is
 * one-way), hands each record to its usual dispatch as a tr_msg, in
 * order, and the answer to the last is packed into the slot.
 * Each side spins a little (bounded, yielding the CPU) and then sleeps:
 * the client on a futex on the state word, the server in tr_poll() on its
 * mailbox and a pipe whose write end the client opened through /proc;
 * each side sets a "sleeping" flag before it sleeps and looks again, and
 * the other wakes it only when the flag was set.  A reply larger than the
 * slot goes through the client's mailbox (correlation id = the call's
 * sequence number).
 *
 * The server trusts nothing in the slot: lengths, state and flags are
 * read once and checked, the bytes copied before they are decoded.  A
 * client that breaks the protocol gets an error reply, or is ignored.
 * The client sees the server's death through its pidfd within a slice. */
#ifndef TRI_CHAN_INT_H
#define TRI_CHAN_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "troupe.h"

struct ProtobufCMessage;
struct ProtobufCMessageDescriptor;

#define TRI_CHAN_REQ_MAX  (64u << 10)  /* request bytes in the slot */
#define TRI_CHAN_REP_MAX  (256u << 10) /* reply bytes in the slot */
#define TRI_CHAN_SPIN_US  50           /* spin before sleeping */
#define TRI_CHAN_SLICE_MS 100          /* a sleeper checks liveness */

/* ---- the shared memory ---------------------------------------------------
 * A header page, then the request bytes, then the reply bytes. */
#define TRI_CHAN_MAGIC    0x7472636eu /* "trcn" */
#define TRI_CHAN_HDR_SIZE 4096u
#define TRI_CHAN_SIZE     (TRI_CHAN_HDR_SIZE + TRI_CHAN_REQ_MAX + TRI_CHAN_REP_MAX)
#define TRI_CHAN_ONEWAY   1u /* req_flags: no reply wanted */
#define TRI_CHAN_BY_MAIL  1  /* rep_status: the reply went by mail */

enum {
	TRI_CHAN_IDLE    = 0, /* free for the client's next request */
	TRI_CHAN_REQ     = 1, /* client: requests published */
	TRI_CHAN_TAKEN   = 2, /* server: copied out, being served */
	TRI_CHAN_REPLY   = 3, /* server: answered (rep_*) */
	TRI_CHAN_WRITING = 4, /* client: appending to published requests */
};

/* The request area holds records, each this header and len bytes: any
 * number of one-way requests, the last one perhaps answered. */
struct tri_chan_rec {
	uint32_t len;
	uint32_t flags; /* TRI_CHAN_ONEWAY */
};

struct tri_chan_page {
	_Atomic uint32_t magic;
	uint32_t         pid; /* the server's address */
	uint64_t         incarnation;
	int32_t          wake_fd; /* its pipe's write end */
	char             pad0[64 - 20];
	_Atomic uint32_t state; /* the futex word */
	_Atomic uint32_t client_waiting;
	_Atomic uint32_t server_sleeping;
	/* written before state is published, by its writer */
	_Atomic uint32_t req_len, req_flags, req_seq;
	_Atomic uint32_t rep_len, rep_seq;
	_Atomic int32_t  rep_status; /* 0: rep_len bytes; BY_MAIL; <0 */
};
/* req_len: the records' total size; req_flags: TRI_CHAN_ONEWAY when no
 * record wants an answer; req_seq: the answered record's number. */

/* ---- client --------------------------------------------------------------
 * One per client handle (a manager, a sync proxy); one call at a time:
 * callers serialise with mu (pthread_mutex_trylock, and the message path
 * when it is busy). */
struct tri_chan {
	struct tri_chan_page *page; /* NULL: no channel */
	int                   pidfd, wakefd;
	tr_addr               server;
	uint32_t              seq;
	size_t                used;     /* bytes published while state is REQ */
	int64_t               alive_ns; /* the server was alive then */
	pthread_mutex_t       mu;
	/* for tri_chan_send(): ask(arg) asks the server for a channel (by
	 * mail) and returns its fd; asked once per server */
	int (*ask)(void *arg);
	void *arg;
	bool  asked;
	int   fd;         /* the channel's number in the server */
	bool  mail_casts; /* one-way requests went by mail since the last
	                   * answered call by mail */
};

/* Off by TROUPE_CHAN=0 in the environment (tests, benchmarks). */
bool tri_chan_enabled(void);
void tri_chan_init(struct tri_chan *c);
/* Attach to the channel the server at address a made, descriptor fd
 * (what it answered).  Errors: -EOPNOTSUPP (another node), -ESRCH (not
 * a's channel, or a died), -errno from open/mmap/pidfd_open. */
int  tri_chan_attach(struct tri_chan *c, tr_addr a, int fd);
void tri_chan_detach(struct tri_chan *c);
/* Wait until the last one-way request was taken by the server (so that a
 * message sent now is served after it).  Errors: TR_EDEAD, -ETIMEDOUT. */
int tri_chan_flush(struct tri_chan *c, int timeout_ms);
/* One request through the channel.  rep_desc NULL: one-way, returns once
 * it is written.  Else waits up to timeout_ms for the reply and unpacks
 * it with rep_desc into *ret (the caller frees it).  Errors: TR_ETOOBIG
 * (the request does not fit: nothing was sent, use the mailbox), -ESRCH
 * (the server was dead before the request was written), TR_EDEAD (it died
 * with the request in flight), -ETIMEDOUT, TR_EBADFRAME (a reply that
 * does not decode), -ENOMEM, or the server's error for a request it
 * refused (TR_EBADFRAME).  After TR_EDEAD or -ETIMEDOUT the channel is
 * detached (the slot's state is unknown): later calls take the mailbox. */
int tri_chan_call(struct tri_chan *c, const struct ProtobufCMessage *req,
    const struct ProtobufCMessageDescriptor *rep_desc,
    struct ProtobufCMessage **ret, int timeout_ms);

/* The way every client sends (the channel when it can, else the mailbox):
 * rep_desc NULL sends a one-way request, else a call as tri_chan_call().
 * A channel is asked for (c->ask) at the first request to a server on
 * this host unless TROUPE_CHAN=0.  One thread uses the channel at a
 * time: a thread finding another thread's call in it takes the mailbox.
 * A one-way request waits only while the slot is full of one-way requests
 * the server has not taken.  Order for one thread: a request by mail
 * waits until the channel's one-way batch was taken; after a one-way
 * request by mail (too big for the slot), everything goes by mail until
 * an answered call by mail came back.  Errors: tr_send()'s and tr_call_pb()'s,
 * and as tri_chan_call(): -ESRCH means nothing was sent. */
int tri_chan_send(struct tri_chan *c, tr_addr server,
    const struct ProtobufCMessage           *req,
    const struct ProtobufCMessageDescriptor *rep_desc,
    struct ProtobufCMessage **ret, int timeout_ms);
/* Forget the channel (at a new server address, at the end); with close_pb
 * (a one-way request saying so), tell the server first. */
void tri_chan_drop(
    struct tri_chan *c, const struct ProtobufCMessage *close_pb, int ms);

/* ---- server --------------------------------------------------------------
 * One per server actor, used from its loop's thread only. */
struct tri_chan_srv;

/* type: the full name of the request's protobuf type, given to the
 * tr_msg made from each request.  Errors: -ENOMEM, -errno (pipe). */
int  tri_chan_srv_new(struct tri_chan_srv **ret, const char *type);
void tri_chan_srv_free(struct tri_chan_srv **p);
/* A new channel for client who (its earlier ones stay usable until
 * closed); returns the memfd's number to send it, or -errno, -ENOMEM,
 * -EMFILE past TRI_CHAN_SRV_MAX channels. */
#define TRI_CHAN_SRV_MAX 4096
int tri_chan_srv_open(struct tri_chan_srv *cs, tr_addr who);
/* Forget who's channel fd, or all of them for fd -1 (at its DOWN, after
 * tri_chan_srv_take() with who has served what it had published). */
void tri_chan_srv_close(struct tri_chan_srv *cs, tr_addr who, int fd);
/* Take the next published request (of client who only, unless who is
 * TR_ADDR_NULL) as a new tr_msg of the type given (*ret, the caller's;
 * give it to tri_chan_srv_forget() before destroying it).  Returns 1, or
 * 0 when none is waiting.  A malformed slot is answered with
 * TR_EBADFRAME (or skipped) and counted, never taken. */
int tri_chan_srv_take(struct tri_chan_srv *cs, tr_addr who, tr_msg **ret);
/* True while a batch taken from a channel has requests not yet taken:
 * serve them before the mailbox, so that one client's order holds. */
bool tri_chan_srv_pending(const struct tri_chan_srv *cs);
/* The client a request came from: its channel's client for one taken
 * here, tr_msg_sender() for the others. */
tr_addr tri_chan_srv_sender(const struct tri_chan_srv *cs, const tr_msg *m);
/* If m was taken from a channel: pack rep into its slot (or, too big,
 * send it to the client's mailbox) and return 1 (one-way requests: drop
 * it); 0 if m came by the mailbox (reply as usual); <0 on failure. */
int tri_chan_srv_reply(struct tri_chan_srv *cs, const tr_msg *m,
    const struct ProtobufCMessage *rep);
/* m is about to be destroyed: an answered request still unanswered is
 * answered with -EPROTO so that its client does not wait for ever. */
void tri_chan_srv_forget(struct tri_chan_srv *cs, const tr_msg *m);
/* Whether the loop should look at its mailbox now: always when the
 * channels had nothing (busy false), else every 20 us (a poll(2) each
 * time: not after every request). */
bool tri_chan_srv_mail_due(struct tri_chan_srv *cs, bool busy);
/* Wait up to timeout_ms for a request on a channel or a message in the
 * mailbox: spins first when a channel was busy lately, then sleeps in
 * tr_poll().  Returns >0 if something may be waiting, 0 on timeout. */
int tri_chan_srv_wait(struct tri_chan_srv *cs, int timeout_ms);
/* Requests refused as malformed (tests). */
uint64_t tri_chan_srv_refused(const struct tri_chan_srv *cs);

#endif /* TRI_CHAN_INT_H */
