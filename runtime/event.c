/* SPDX-License-Identifier: MIT */
/* Runtime events: for now counted and, at debug level, logged; the trace
 * tool's collector attaches here. */
#include "event.h"

#include <stdatomic.h>
#include <stdlib.h>

#include "log.h"

bool tri_events_on;

static _Atomic uint64_t counts[TRI_EV_COUNT];

static const char *const kind_names[TRI_EV_COUNT] = { "send", "receive",
	"spawn", "exit", "down", "dead-letter" };

__attribute__((constructor)) static void
events_init(void)
{
	const char *v = getenv("TROUPE_EVENTS");

	tri_events_on = v && v[0] && v[0] != '0';
}

void
tri_event_emit(const struct tri_event *ev)
{
	char a[TR_ADDR_STRLEN];

	if (ev->kind >= TRI_EV_COUNT) {
		return;
	}
	atomic_fetch_add_explicit(&counts[ev->kind], 1, memory_order_relaxed);
	tri_debug("event %s peer %s id %llu value %lld %s",
	    kind_names[ev->kind], tr_addr_format(ev->peer, a, sizeof(a)),
	    (unsigned long long) ev->msg_id, (long long) ev->value,
	    ev->what ? ev->what : "");
}

uint64_t
tri_event_count(enum tri_event_kind kind)
{
	return kind < TRI_EV_COUNT ? atomic_load(&counts[kind]) : 0;
}
