/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the envelope decoder (runtime/msg.c), the first thing
 * a mailbox does with every frame from outside the process.  Whatever
 * decodes must re-encode within TRI_ENV_MAX and decode to the same
 * envelope. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
same(const struct tri_env *a, const struct tri_env *b)
{
	return tr_addr_eq(a->sender, b->sender) &&
	    tr_addr_eq(a->recipient, b->recipient) &&
	    tr_addr_eq(a->reply_to, b->reply_to) && a->id == b->id &&
	    a->correlation == b->correlation && a->flags == b->flags &&
	    strcmp(a->type, b->type) == 0 &&
	    memcmp(a->trace_id, b->trace_id, sizeof(a->trace_id)) == 0 &&
	    a->span_id == b->span_id && a->lamport == b->lamport &&
	    a->send_time_ns == b->send_time_ns;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tri_env e, again;
	uint8_t        buf[TRI_ENV_MAX];
	int            n;

	if (tri_env_decode(data, size, &e) < 0) {
		return 0;
	}
	if (memchr(e.type, '\0', sizeof(e.type)) == NULL) {
		abort(); /* the type must be a C string */
	}
	n = tri_env_encode(&e, buf, sizeof(buf));
	if (n < 0 || tri_env_decode(buf, (size_t) n, &again) < 0 ||
	    !same(&e, &again)) {
		abort();
	}
	return 0;
}
