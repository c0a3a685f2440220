/* SPDX-License-Identifier: MIT */
/* Internal: per-pair sequence numbers across nodes (issue 13).  The node
 * agent numbers every user message it sends to another node per (sender,
 * recipient) pair, 1, 2, 3, ...; the receiving agent keeps the last number
 * per pair and so knows exactly how many of that pair's messages were
 * lost (docs/distribution.md "Gaps").  One table per direction, in the
 * link thread only.  The table is bounded (TRI_NODE_PAIRS_MAX pairs):
 * when full it is cleared; a sender then starts its pairs again at 1 (the
 * receiver reads 1 as a new start), a receiver that forgot reports no gap
 * for a pair it no longer knows (it cannot tell). */
#ifndef TRI_NODE_PAIRS_H
#define TRI_NODE_PAIRS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "troupe/msg.h"

#define TRI_NODE_PAIRS_MAX 65536

struct tri_node_pair {
	tr_addr  from, to;
	uint64_t seq; /* the last number sent or received */
	bool     used;
};

struct tri_node_pairs {
	struct tri_node_pair *slot;
	size_t                cap, n;
	bool                  forgot; /* was cleared: unknown pairs vary */
};

/* Sender: the number of the next message from -> to (>= 1), or 0 when
 * out of memory (the message goes unnumbered). */
uint64_t tri_node_pairs_next(
    struct tri_node_pairs *t, tr_addr from, tr_addr to);
/* Sender: the message numbered seq (by the last next()) was not sent
 * after all: its number is given to the next one. */
void tri_node_pairs_undo(
    struct tri_node_pairs *t, tr_addr from, tr_addr to, uint64_t seq);
/* Receiver: message number seq of from -> to came.  Returns how many of
 * that pair's messages before it never came (0 if none, or unknown), and
 * the first of them in *ret_first.  seq 0 (unnumbered) is not checked; a
 * seq not above the last is a new start. */
uint64_t tri_node_pairs_check(struct tri_node_pairs *t, tr_addr from,
    tr_addr to, uint64_t seq, uint64_t *ret_first);
/* Forget every pair with an end on node `node` (its agent restarted: its
 * numbers start again). */
void tri_node_pairs_forget_node(struct tri_node_pairs *t, uint32_t node);
void tri_node_pairs_free(struct tri_node_pairs *t);

#endif /* TRI_NODE_PAIRS_H */
