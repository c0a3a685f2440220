/* SPDX-License-Identifier: MIT */
/* The one place where runtime events are emitted (send, receive, spawn,
 * exit, DOWN, dead letter).  Off, an event costs one branch; the trace
 * tool will attach a collector behind tri_event_emit(). */
#ifndef TRI_EVENT_H
#define TRI_EVENT_H

#include <stdbool.h>
#include <stdint.h>

#include "troupe/msg.h"

enum tri_event_kind {
	TRI_EV_SEND,
	TRI_EV_RECEIVE,
	TRI_EV_SPAWN,
	TRI_EV_EXIT,
	TRI_EV_DOWN,
	TRI_EV_DEAD_LETTER,
	TRI_EV_COUNT,
};

struct tri_event {
	enum tri_event_kind kind;
	tr_addr             peer;   /* the other party, if any */
	uint64_t            msg_id; /* envelope id, 0 if none */
	int64_t             value;  /* size, exit code or pid */
	const char         *what;   /* payload type or reason; borrowed */
};

extern bool tri_events_on; /* TROUPE_EVENTS set, or a collector attached */

void tri_event_emit(const struct tri_event *ev);
/* Events of each kind emitted in this process (for tests and stats). */
uint64_t tri_event_count(enum tri_event_kind kind);

#define tri_event(...)                                                   \
	do {                                                             \
		if (tri_events_on) {                                     \
			tri_event_emit(&(struct tri_event) __VA_ARGS__); \
		}                                                        \
	} while (0)

#endif /* TRI_EVENT_H */
