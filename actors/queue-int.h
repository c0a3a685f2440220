/* SPDX-License-Identifier: MIT */
/* The queue broker and its client handle, shared by their files
 * (tri_queue_*).  Built only on the public API.  Not installed. */
#ifndef TRI_QUEUE_INT_H
#define TRI_QUEUE_INT_H

#include <stdbool.h>
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

/* queue-broker.c: the actor's body. */
int tri_queue_broker_main(const void *args, size_t len);

#endif /* TRI_QUEUE_INT_H */
