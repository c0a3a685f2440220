/* SPDX-License-Identifier: MIT */
/* Per-pair sequence numbers (node-pairs.h): an open-addressing table keyed
 * by (sender, recipient), linear probing, rebuilt to grow or to forget. */
#include <string.h>

#include "alloc.h"
#include "node-pairs.h"

static uint64_t
mix(uint64_t h, uint64_t v)
{
	h ^= v;
	h *= 0x100000001b3ull;
	return h ^ (h >> 29);
}

static size_t
hash(tr_addr from, tr_addr to, size_t cap)
{
	uint64_t h = 0xcbf29ce484222325ull;

	h = mix(h, ((uint64_t) from.node << 32) | from.pid);
	h = mix(h, from.incarnation);
	h = mix(h, ((uint64_t) to.node << 32) | to.pid);
	h = mix(h, to.incarnation);
	return (size_t) (h & (cap - 1));
}

static struct tri_node_pair *
find(struct tri_node_pairs *t, tr_addr from, tr_addr to, bool *found)
{
	size_t i = hash(from, to, t->cap);

	for (;;) {
		struct tri_node_pair *p = &t->slot[i];

		if (!p->used) {
			*found = false;
			return p;
		}
		if (tr_addr_eq(p->from, from) && tr_addr_eq(p->to, to)) {
			*found = true;
			return p;
		}
		i = (i + 1) & (t->cap - 1);
	}
}

/* Rebuild at cap, without the pairs with an end on drop_node (if not 0). */
static int
rebuild(struct tri_node_pairs *t, size_t cap, uint32_t drop_node)
{
	struct tri_node_pair *old  = t->slot;
	size_t                ocap = t->cap;
	struct tri_node_pairs nt   = { tri_calloc(cap, sizeof(*old)), cap, 0,
		  t->forgot };

	if (!nt.slot) {
		return -1;
	}
	for (size_t i = 0; i < ocap; i++) {
		struct tri_node_pair *p = &old[i], *q;
		bool                  found;

		if (!p->used ||
		    (drop_node &&
		        (p->from.node == drop_node ||
		            p->to.node == drop_node))) {
			continue;
		}
		q  = find(&nt, p->from, p->to, &found);
		*q = *p;
		nt.n++;
	}
	tri_free(old);
	*t = nt;
	return 0;
}

/* The slot of from -> to, made if new (seq 0 then); NULL if no memory. */
static struct tri_node_pair *
slot_of(struct tri_node_pairs *t, tr_addr from, tr_addr to, bool *found)
{
	struct tri_node_pair *p;

	if (!t->slot && rebuild(t, 256, 0) < 0) {
		return NULL;
	}
	p = find(t, from, to, found);
	if (*found) {
		return p;
	}
	if (t->n >= TRI_NODE_PAIRS_MAX) { /* full: forget everything */
		memset(t->slot, 0, t->cap * sizeof(*t->slot));
		t->n      = 0;
		t->forgot = true;
		p         = find(t, from, to, found);
	} else if ((t->n + 1) * 4 > t->cap * 3) {
		if (rebuild(t, t->cap * 2, 0) < 0) {
			return NULL;
		}
		p = find(t, from, to, found);
	}
	p->from = from;
	p->to   = to;
	p->seq  = 0;
	p->used = true;
	t->n++;
	return p;
}

uint64_t
tri_node_pairs_next(struct tri_node_pairs *t, tr_addr from, tr_addr to)
{
	bool                  found;
	struct tri_node_pair *p = slot_of(t, from, to, &found);

	if (!p) {
		return 0;
	}
	return ++p->seq;
}

void
tri_node_pairs_undo(
    struct tri_node_pairs *t, tr_addr from, tr_addr to, uint64_t seq)
{
	bool                  found;
	struct tri_node_pair *p;

	if (seq == 0 || !t->slot) {
		return;
	}
	p = find(t, from, to, &found);
	if (found && p->seq == seq) {
		p->seq--;
	}
}

uint64_t
tri_node_pairs_check(struct tri_node_pairs *t, tr_addr from, tr_addr to,
    uint64_t seq, uint64_t *ret_first)
{
	bool                  found;
	struct tri_node_pair *p;
	uint64_t              lost = 0;

	*ret_first = 0;
	if (seq == 0) {
		return 0;
	}
	p = slot_of(t, from, to, &found);
	if (!p) {
		return 0;
	}
	if (found && seq > p->seq + 1) {
		lost       = seq - p->seq - 1;
		*ret_first = p->seq + 1;
	} else if (!found && seq > 1 && !t->forgot) {
		lost       = seq - 1; /* the first ones of a new pair */
		*ret_first = 1;
	}
	p->seq = seq;
	return lost;
}

void
tri_node_pairs_forget_node(struct tri_node_pairs *t, uint32_t node)
{
	if (t->slot && node) {
		(void) rebuild(t, t->cap, node);
	}
}

void
tri_node_pairs_free(struct tri_node_pairs *t)
{
	tri_free(t->slot);
	memset(t, 0, sizeof(*t));
}
