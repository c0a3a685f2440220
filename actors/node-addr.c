/* SPDX-License-Identifier: MIT */
/* Addresses of the patterns' actors across nodes (node-addr-int.h). */
#include "node-addr-int.h"

#include "troupe/node.h"

tr_addr
tri_addr_localize(tr_addr a)
{
	tr_addr self;

	if (a.node != 0 && tr_node_global_addr(tr_self(), &self) == 0 &&
	    self.node == a.node) {
		a.node = 0;
	}
	return a;
}

void
tri_addr_format_global(tr_addr a, char *buf, size_t n)
{
	tr_addr g;

	if (tr_node_global_addr(a, &g) == 0) {
		a = g;
	}
	tr_addr_format(a, buf, n);
}
