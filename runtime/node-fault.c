/* SPDX-License-Identifier: MIT */
/* The node link's test-only fault hook (node-fault.h). */
#include "node-fault.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "troupe/common.h"

static uint64_t
next(struct tri_node_fault *f)
{
	uint64_t x = f->rng;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return f->rng = x;
}

static bool
pct_ok(int v)
{
	return v >= 0 && v <= 100;
}

void
tri_node_fault_parse(struct tri_node_fault *f, const char *node)
{
	const char *v    = getenv("TROUPE_NODE_FAULT");
	uint64_t    seed = 1;

	memset(f, 0, sizeof(*f));
	zmq_msg_init(&f->held_payload);
	if (!v) {
		return;
	}
	for (const char *p = v; p && *p;
	     p             = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
		if (sscanf(p, "drop=%d", &f->drop_pct) != 1 &&
		    sscanf(p, "dup=%d", &f->dup_pct) != 1 &&
		    sscanf(p, "reorder=%d", &f->reorder_pct) != 1 &&
		    sscanf(p, "delay=%d", &f->delay_ms) != 1 &&
		    sscanf(p, "seed=%" SCNu64, &seed) != 1) {
			tr_log(TR_LOG_ERROR,
			    "node %s: TROUPE_NODE_FAULT: unknown part '%s': "
			    "hook off",
			    node, p);
			f->drop_pct = f->dup_pct = f->reorder_pct = 0;
			f->delay_ms                               = 0;
			return;
		}
	}
	if (!pct_ok(f->drop_pct) || !pct_ok(f->dup_pct) ||
	    !pct_ok(f->reorder_pct) || f->drop_pct + f->dup_pct > 100 ||
	    f->drop_pct + f->dup_pct + f->reorder_pct > 100 ||
	    f->delay_ms < 0 || f->delay_ms > 60000) {
		tr_log(TR_LOG_ERROR,
		    "node %s: TROUPE_NODE_FAULT '%s': shares must be 0..100 "
		    "(at most 100 together), delay 0..60000 ms: hook off",
		    node, v);
		f->drop_pct = f->dup_pct = f->reorder_pct = f->delay_ms = 0;
		return;
	}
	f->rng = seed ? seed : 1;
	f->on  = true;
	tr_log(TR_LOG_WARNING,
	    "node %s: TEST FAULT HOOK: of the user messages sent, dropping "
	    "%d%%, duplicating %d%%, reordering %d%%, delaying each %d ms "
	    "(seed %" PRIu64 ")",
	    node, f->drop_pct, f->dup_pct, f->reorder_pct, f->delay_ms, seed);
}

enum tri_fault_act
tri_node_fault_decide(struct tri_node_fault *f)
{
	int x;

	if (!f->on) {
		return TRI_FAULT_SEND;
	}
	if (f->delay_ms) {
		usleep((useconds_t) f->delay_ms * 1000);
	}
	x = (int) (next(f) % 100);
	if (x < f->drop_pct) {
		return TRI_FAULT_DROP;
	}
	x -= f->drop_pct;
	if (x < f->dup_pct) {
		return TRI_FAULT_DUP;
	}
	x -= f->dup_pct;
	return x < f->reorder_pct ? TRI_FAULT_HOLD : TRI_FAULT_SEND;
}

int
tri_node_fault_resend(void *dealer, const uint64_t seq[2], const void *env,
    size_t envn, zmq_msg_t *payload)
{
	zmq_msg_t copy;

	/* never waits (the link thread must not block): a full or
	 * unconnected socket loses it, as the wire would; once the first
	 * frame is queued the others are too (a message goes whole) */
	if (zmq_send(dealer, seq, 2 * sizeof(*seq),
	        ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
	    zmq_send(dealer, env, envn, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
		return -zmq_errno();
	}
	zmq_msg_init(&copy);
	zmq_msg_copy(&copy, payload);
	if (zmq_msg_send(&copy, dealer, ZMQ_DONTWAIT) < 0) {
		zmq_msg_close(&copy);
		return -zmq_errno();
	}
	return 0;
}

int
tri_node_fault_hold(struct tri_node_fault *f, void *dealer,
    const uint64_t seq[2], const void *env, size_t envn, zmq_msg_t *payload)
{
	if (envn > sizeof(f->held_env)) {
		return -EMSGSIZE;
	}
	if (f->held) {
		tri_node_fault_release(f, f->held_dealer);
	}
	f->held_dealer  = dealer;
	f->held_at      = tr_now_ms();
	f->held_seq[0]  = seq[0];
	f->held_seq[1]  = seq[1];
	f->held_env_len = envn;
	memcpy(f->held_env, env, envn);
	zmq_msg_close(&f->held_payload);
	zmq_msg_init(&f->held_payload);
	zmq_msg_copy(&f->held_payload, payload);
	f->held = true;
	return 0;
}

void
tri_node_fault_release(struct tri_node_fault *f, void *dealer)
{
	if (!f->held || (dealer && dealer != f->held_dealer)) {
		return;
	}
	f->held = false;
	if (dealer) {
		(void) tri_node_fault_resend(dealer, f->held_seq, f->held_env,
		    f->held_env_len, &f->held_payload);
	}
	zmq_msg_close(&f->held_payload);
	zmq_msg_init(&f->held_payload);
}

void
tri_node_fault_tick(struct tri_node_fault *f)
{
	if (f->held && tr_now_ms() - f->held_at >= TRI_FAULT_HOLD_MS) {
		tri_node_fault_release(f, f->held_dealer);
	}
}
