/* SPDX-License-Identifier: MIT */
/* Internal: the node link's test-only fault hook ($TROUPE_NODE_FAULT,
 * docs/distribution.md "Test-only fault hook").  It acts on the user
 * messages a node agent sends to other nodes (never system messages or
 * replies): delays each, drops, duplicates or holds back (reorders) a share
 * of them, chosen from a seed so that a run can be repeated. */
#ifndef TRI_NODE_FAULT_H
#define TRI_NODE_FAULT_H

#include <stdbool.h>
#include <stdint.h>

#include <zmq.h>

#include "msg.h"

enum tri_fault_act {
	TRI_FAULT_SEND = 0, /* as usual */
	TRI_FAULT_DROP,     /* take its sequence number, never send it */
	TRI_FAULT_DUP,      /* send it twice, with the same number */
	TRI_FAULT_HOLD,     /* send it after the next message to that node */
};

struct tri_node_fault {
	int      drop_pct, dup_pct, reorder_pct, delay_ms;
	uint64_t rng;
	bool     on;
	/* the message held back (TRI_FAULT_HOLD): its socket and frames */
	void     *held_dealer;
	int64_t   held_at;
	uint64_t  held_seq[2]; /* the link's and the pair's numbers */
	uint8_t   held_env[TRI_ENV_MAX];
	size_t    held_env_len;
	zmq_msg_t held_payload;
	bool      held;
};

/* Read $TROUPE_NODE_FAULT ("drop=P,dup=P,reorder=P,delay=MS,seed=S", P in
 * percent, every part optional) into *f; logs a warning when it is on.
 * Without the variable the hook is off.  Values out of range (a share
 * below 0 or above 100, a negative delay) are refused with an error
 * logged: the hook stays off. */
void tri_node_fault_parse(struct tri_node_fault *f, const char *node);
/* For one user message: sleeps the delay, then says what to do with it. */
enum tri_fault_act tri_node_fault_decide(struct tri_node_fault *f);
/* Keep [seq, pair seq][env][payload] (payload referenced, not moved) to send
 * after the next message on dealer.  One message at most is held: one held for
 * another socket is sent first.  0 or -errno. */
int tri_node_fault_hold(struct tri_node_fault *f, void *dealer,
    const uint64_t seq[2], const void *env, size_t envn, zmq_msg_t *payload);
/* Send [seq, pair seq][env][payload] again (a duplicate).  0 or -errno. */
int tri_node_fault_resend(void *dealer, const uint64_t seq[2], const void *env,
    size_t envn, zmq_msg_t *payload);
/* A held message goes out after the next one to its node, or after this
 * long (the link thread's tick) if none comes. */
#define TRI_FAULT_HOLD_MS 200
void tri_node_fault_tick(struct tri_node_fault *f);
/* After a message went out on dealer: send the one held for it, if any.
 * With dealer NULL, forget what is held (the socket is being closed). */
void tri_node_fault_release(struct tri_node_fault *f, void *dealer);

#endif /* TRI_NODE_FAULT_H */
