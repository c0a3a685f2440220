/* SPDX-License-Identifier: MIT */
/* The queue broker and its client handle, shared by their files
 * (tri_queue_*).  Built only on the public API.  Not installed. */
#ifndef TRI_QUEUE_INT_H
#define TRI_QUEUE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "queue.pb-c.h"
#include "troupe.h"
#include "troupe/queue.h"

/* The payload type of a pushed item (QueueItem), and the broker's state
 * as QueueReply.state gives it. */
#define TRI_QUEUE_ITEM_TYPE "trwire.QueueItem"
#define TRI_QUEUE_OPEN      0
#define TRI_QUEUE_CLOSED    1
#define TRI_QUEUE_SHUTDOWN  2

#define TRI_QUEUE_WINDOW_MAX 4096
/* A consumer acknowledges the items it got in groups of at most this
 * many (docs/guarantees.md: the duplicates a killed consumer may cause). */
#define TRI_QUEUE_ACK_BATCH 16
/* Most items pushed to a consumer in one message. */
#define TRI_QUEUE_BATCH 64
/* ... and at most this many bytes of items (one item may be larger). */
#define TRI_QUEUE_BATCH_BYTES (1 << 20)
/* Largest item: the default mailbox maximum (64 MiB, which the broker
 * and consumers keep) less room for the envelope and the QueueOp. */
#define TRI_QUEUE_ITEM_MAX ((64u << 20) - (64u << 10))
/* The broker and a consumer on a ring look again this long (yielding
 * the CPU) before they sleep and cost the other side a WAKE message. */
#define TRI_QUEUE_SPIN_NS 20000
/* The broker waits at most this long for a client's mailbox to take a
 * reply or an item (a client's own mailbox full of other traffic). */
#define TRI_QUEUE_SEND_MS 5000

/* The actors' form of the runtime's argument check (they cannot include
 * runtime/log.h): log the failed condition at debug level and return. */
#define tr_assert_return(cond, err)                                       \
	do {                                                              \
		if (!(cond)) {                                            \
			tr_log(TR_LOG_DEBUG, "%s: assertion '%s' failed", \
			    __func__, #cond);                             \
			return (err);                                     \
		}                                                         \
	} while (0)

/* ---- the producer's ring (queue-ring.c) ---------------------------------
 * The same-host put path.  The broker makes one ring per producer handle
 * in an anonymous memfd of its own, maps it, and hands its descriptor
 * number to the producer, which maps it through /proc/PID/fd/N.  A record
 * the producer has published (tail moved past it) is in the broker's
 * memory: a SIGKILL of the producer cannot lose it.  Single producer
 * (the handle's thread), single reader (the broker).  See
 * docs/protocol.md, "Queue: producer rings". */
#define TRI_QUEUE_RING_DATA (256u << 10) /* bytes of records */
#define TRI_QUEUE_RING_HDR  4096u        /* the header's page */
#define TRI_QUEUE_RING_MAP  (TRI_QUEUE_RING_HDR + TRI_QUEUE_RING_DATA)
/* Items larger than this go by message (the ring must hold several). */
#define TRI_QUEUE_RING_ITEM_MAX (TRI_QUEUE_RING_DATA / 4)
/* Most bytes of an item's type name on the ring. */
#define TRI_QUEUE_RING_TYPE_MAX 255u
/* Credit the broker grants a producer of a bounded queue at a time. */
#define TRI_QUEUE_RING_GRANT 64
/* ring state: TRI_QUEUE_OPEN/_CLOSED/_SHUTDOWN, or this (the broker
 * stopped reading it: a bad record, or the producer said goodbye) */
#define TRI_QUEUE_RING_DEAD 3

struct tri_queue_ring {
	_Atomic uint32_t magic;
	uint32_t         pid; /* the broker's address, to check the mapping */
	uint64_t         incarnation;
	uint32_t         size;     /* TRI_QUEUE_RING_DATA */
	uint32_t         bounded;  /* 1: each record needs one credit */
	_Atomic uint32_t state;    /* the queue's, set by the broker */
	_Atomic uint32_t sleeping; /* 1: the broker waits for mail; the
	                            * producer that clears it sends WAKE */
	_Atomic int64_t credit;    /* bounded: records the producer may add;
	                            * the broker grants (add) and takes back
	                            * (exchange with 0) */
	_Alignas(64) _Atomic uint64_t tail; /* producer: bytes published */
	_Alignas(64) _Atomic uint64_t head; /* broker: bytes taken */
	/* consumer rings only (the broker writes, the consumer reads:
	 * tail is the broker's, head the consumer's acknowledgement
	 * cursor, sleeping the consumer's) */
	_Alignas(64) _Atomic uint32_t window; /* consumer: items it wants
	                                       * ahead (1..4096) */
	_Atomic uint64_t wake_head; /* broker: send WAKE once head reaches
	                             * this (0: no need) */
};

/* A record: this header, the type name (no NUL), the item, padded to 8;
 * stored modulo size (it may wrap). */
struct tri_queue_rec {
	uint32_t len;     /* item bytes */
	uint32_t typelen; /* type name bytes, <= TRI_QUEUE_RING_TYPE_MAX */
};

static inline size_t
tri_queue_rec_size(size_t len, size_t typelen)
{
	return (sizeof(struct tri_queue_rec) + typelen + len + 7) & ~(size_t) 7;
}

static inline uint8_t *
tri_queue_ring_data(struct tri_queue_ring *r)
{
	return (uint8_t *) r + TRI_QUEUE_RING_HDR;
}

/* Copy n bytes in or out at stream offset off (wrapping). */
void tri_queue_ring_write(
    struct tri_queue_ring *r, uint64_t off, const void *src, size_t n);
void tri_queue_ring_read(
    struct tri_queue_ring *r, uint64_t off, void *dst, size_t n);

/* Broker: a new ring (memfd, mapped) and its descriptor; a consumer's
 * (its memfd named "troupe-queue-cring") or a producer's.  -errno. */
int  tri_queue_ring_create(struct tri_queue_ring **ret, int *ret_fd,
     bool bounded, int state, bool consumer);
void tri_queue_ring_unmap(struct tri_queue_ring *r);
/* Map the ring (descriptor fd) of the broker at a and check its header
 * names it.  -errno (-EOPNOTSUPP for another host, -ESRCH). */
int tri_queue_ring_attach(
    struct tri_queue_ring **ret, int *ret_pidfd, tr_addr a, int fd);

struct tri_queue_page;

/* Producer's view.  ring NULL: messages only. */
struct tri_queue_local {
	struct tri_queue_ring *ring;
	struct tri_queue_page *page;  /* if mapped: its liveness lock */
	int                    pidfd; /* the broker's: readable once dead */
	uint64_t               tail;  /* our copy */
};
void tri_queue_local_init(struct tri_queue_local *l);
/* Map the ring of the broker at a, descriptor fd in its process.
 * -errno (-EOPNOTSUPP for another host); the caller then uses messages. */
int  tri_queue_local_attach(struct tri_queue_local *l, tr_addr a, int fd);
void tri_queue_local_detach(struct tri_queue_local *l);
/* Put on the ring: 0 published (then *wake says whether to send WAKE),
 * 1 no room or credit or too big (use a message), TR_ECLOSED,
 * TR_EQSHUTDOWN, TR_EDEAD (the broker died; the item may be lost). */
int tri_queue_local_put(struct tri_queue_local *l, const void *data, size_t len,
    const char *type, bool *wake);
/* 0 while the broker lives, TR_EDEAD once it died. */
int tri_queue_local_alive(const struct tri_queue_local *l);

/* ---- the consumer's ring (queue-cring.c) -------------------------------
 * The same-host get path: the same layout, the other way round.  The
 * broker makes one ring per consumer handle and writes the items it
 * hands that consumer; the consumer maps it, copies an item out and moves
 * head past it before get returns: head is the acknowledgement, one
 * store, no message.  A record of length TRI_QUEUE_REC_FETCH is a marker
 * for an item too big for the ring: the consumer fetches it with a call.
 * See docs/protocol.md, "Queue: consumer rings". */
#define TRI_QUEUE_REC_FETCH UINT32_MAX

/* Broker: write one record (the item, or a marker if fetch) at *tail,
 * which the caller checked has room; *tail moves past it (not published:
 * tri_queue_cring_publish). */
void tri_queue_cring_write(struct tri_queue_ring *r, uint64_t *tail,
    const void *data, size_t len, const char *type, bool fetch);
/* Broker: publish tail; true if the consumer slept (send it a WAKE). */
bool tri_queue_cring_publish(struct tri_queue_ring *r, uint64_t tail);

/* Consumer's view. */
struct tri_queue_creader {
	struct tri_queue_ring *ring;
	int                    pidfd; /* the broker's */
	uint64_t               head;  /* our copy */
};
void tri_queue_creader_init(struct tri_queue_creader *c);
int  tri_queue_creader_attach(struct tri_queue_creader *c, tr_addr a, int fd);
void tri_queue_creader_detach(struct tri_queue_creader *c);
/* Is a record there?  1 yes (*fetch: a marker), 0 no, TR_EBADFRAME (a
 * record out of bounds: the broker's memory is bad). */
int tri_queue_creader_peek(struct tri_queue_creader *c, bool *fetch);
/* Copy the record at head into a new message (not for a marker). */
int tri_queue_creader_copy(struct tri_queue_creader *c, tr_msg **ret);
/* Move head past the record at head (acknowledge it); true if the broker
 * asked to be woken (send it a WAKE). */
bool tri_queue_creader_advance(struct tri_queue_creader *c);
/* About to wait: set sleeping; true if a record came meanwhile (then it
 * cleared sleeping again: do not wait). */
bool tri_queue_creader_sleep(struct tri_queue_creader *c);
void tri_queue_creader_awake(struct tri_queue_creader *c);

/* ---- the broker's page (queue-page.c) -----------------------------------
 * One page of the broker's memory that handles on its host map: a
 * JoinableQueue's count of items not yet marked done, so task_done is one
 * atomic decrement, no message; and a robust mutex the broker's thread
 * holds for its life, so a handle learns of its death without a system
 * call (docs/protocol.md, "Queue: the broker's page"). */
struct tri_queue_page {
	_Atomic uint32_t magic;
	uint32_t         pid;
	uint64_t         incarnation;
	_Alignas(64) _Atomic int64_t unfinished;
	_Atomic uint32_t joiners; /* 1: joins wait; the task_done that takes
	                           * unfinished to 0 clears it, sends WAKE */
	_Alignas(64) pthread_mutex_t alive; /* robust, shared; the broker
	                                     * holds it */
};
#define TRI_QUEUE_PAGE_SIZE 4096u

int  tri_queue_page_create(struct tri_queue_page **ret, int *ret_fd);
void tri_queue_page_unmap(struct tri_queue_page *p);
/* Broker, at its end: let go of the liveness mutex (before the unmap). */
void tri_queue_page_release(struct tri_queue_page *p);
/* Client: map the page of the broker at a (descriptor fd there). */
int tri_queue_page_attach(
    struct tri_queue_page **ret, int *ret_pidfd, tr_addr a, int fd);
/* 0 while the broker's thread lives, TR_EDEAD once it ended (a trylock
 * of the mutex it holds: EBUSY, or EOWNERDEAD; no system call while it
 * lives). */
int tri_queue_page_alive(struct tri_queue_page *p);
/* One item done: 0 (then *wake: send the broker a WAKE), or TR_ETASKDONE
 * if the count is 0 (the caller asks the broker, which knows exactly). */
int tri_queue_page_done(struct tri_queue_page *p, bool *wake);
/* Broker: the count, n more, up to n fewer (not below 0). */
uint64_t tri_queue_page_count(struct tri_queue_page *p);
void     tri_queue_page_add(struct tri_queue_page *p, uint64_t n);
void     tri_queue_page_sub(struct tri_queue_page *p, uint64_t n);

/* queue-broker.c: the actor's body. */
int tri_queue_broker_main(const void *args, size_t len);

#endif /* TRI_QUEUE_INT_H */
