/* SPDX-License-Identifier: MIT */
/* The one way runtime events other than messages are emitted (spawn,
 * exit, DOWN, dead letter, link, monitor, a blocked send).  Off, an event
 * costs one load and one branch; on, it goes into this process's trace
 * ring (trace.h).  Messages are traced by tri_trace_send()/_receive(),
 * which also carry the trace context. */
#ifndef TRI_EVENT_H
#define TRI_EVENT_H

#include <stdint.h>

#include "trace.h"
#include "troupe/msg.h"

enum tri_event_kind {
	TRI_EV_SPAWN       = TR_TRACE_SPAWN,
	TRI_EV_EXIT        = TR_TRACE_EXIT,
	TRI_EV_LINK        = TR_TRACE_LINK,
	TRI_EV_MONITOR     = TR_TRACE_MONITOR,
	TRI_EV_DOWN        = TR_TRACE_DOWN,
	TRI_EV_DEAD_LETTER = TR_TRACE_DEAD_LETTER,
	TRI_EV_BLOCKED     = TR_TRACE_BLOCKED,
};

struct tri_event {
	enum tri_event_kind kind;
	tr_addr             peer;   /* the other party, if any */
	uint64_t            msg_id; /* envelope id, 0 if none */
	int64_t             value;  /* size, exit code or pid */
	const char         *what;   /* payload type or reason; borrowed */
};

#define tri_event(...)                                                \
	do {                                                          \
		if (tri_trace_on()) {                                 \
			const struct tri_event ev_ = __VA_ARGS__;     \
			tri_trace_emit((uint32_t) ev_.kind, ev_.peer, \
			    ev_.msg_id, ev_.value, ev_.what);         \
		}                                                     \
	} while (0)

#endif /* TRI_EVENT_H */
