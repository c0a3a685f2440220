/* SPDX-License-Identifier: MIT */
/* Queues for nodes that are down, and the tally of drops (node-queue.h). */
#include <errno.h>
#include <string.h>

#include "alloc.h"
#include "node-queue.h"

int
tri_node_queue_push(struct tri_node_queue *q, const struct tri_env *e,
    zmq_msg_t *payload, int64_t now)
{
	struct tri_node_qitem *it = tri_alloc(sizeof(*it));

	if (!it) {
		return -ENOMEM;
	}
	it->env = *e;
	zmq_msg_init(&it->payload);
	zmq_msg_copy(&it->payload, payload);
	it->since = now;
	it->next  = NULL;
	if (q->tail) {
		q->tail->next = it;
	} else {
		q->head = it;
	}
	q->tail = it;
	q->n++;
	return 0;
}

void
tri_node_queue_pop(struct tri_node_queue *q)
{
	struct tri_node_qitem *it = q->head;

	if (!it) {
		return;
	}
	q->head = it->next;
	if (!q->head) {
		q->tail = NULL;
	}
	q->n--;
	zmq_msg_close(&it->payload);
	tri_free(it);
}

void
tri_node_queue_clear(struct tri_node_queue *q)
{
	while (q->head) {
		tri_node_queue_pop(q);
	}
}

void
tri_node_drops_add(
    struct tri_node_drops *t, tr_addr sender, tr_addr to, int kind)
{
	for (size_t i = t->n; i-- > 0;) {
		struct tri_node_drop *d = &t->d[i];

		if (d->kind == kind && tr_addr_eq(d->sender, sender) &&
		    tr_addr_eq(d->to, to)) {
			d->count++;
			return;
		}
	}
	if (t->n == t->cap) {
		size_t                ncap = t->cap ? t->cap * 2 : 16;
		struct tri_node_drop *nd =
		    tri_realloc(t->d, ncap * sizeof(*nd));

		if (!nd) {
			return;
		}
		t->d   = nd;
		t->cap = ncap;
	}
	t->d[t->n++] = (struct tri_node_drop) { sender, to, kind, 1 };
}

void
tri_node_drops_free(struct tri_node_drops *t)
{
	tri_free(t->d);
	memset(t, 0, sizeof(*t));
}
